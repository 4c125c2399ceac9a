"""PyTorch modules backed by cbce: drop-in ``torch.nn`` losses computed by the C core.

Design notes
------------
(a) One ``torch.autograd.Function`` serves the three losses.  Its forward hands the tensors
    to cbce as NumPy views (``tensor.detach().numpy()`` shares the tensor's memory; strided
    views are read as they are, no ``.contiguous()``), and has cbce write into tensors it
    allocated (``out=``).  Nothing is copied on the way in or out for float32/float64 CPU
    tensors with a bool/uint8/int8/float target of the input's dtype.
(b) When the input requires a gradient, forward calls the fused ``*_forward_backward``: one
    pass over memory gives the loss and d loss / d input (for ``grad_output = 1``), kept on
    the context.  Backward returns it as it is when the upstream gradient is the scalar 1
    (``loss.backward()``), else multiplies by the upstream gradient.  When no gradient is
    needed (evaluation, ``torch.no_grad()``) forward computes the loss only.
(c) cbce computes the gradient with respect to ``input`` only.  A ``target``, ``weight`` or
    ``pos_weight`` that requires a gradient, a tensor on another device than the CPU, or a
    dtype NumPy cannot view (bfloat16) raises a clear error instead of being silently copied
    or detached.
(d) Results follow cbce's dtype rules: float16 is computed in float32 and returned as
    float16; a reduced loss is a 0-d tensor of the input's dtype.  ``reduction`` may also be
    ``"weighted_mean"`` (divide by the sum of the broadcast weights).

Example
-------
>>> import torch
>>> from cbce.integrations.torch import BCEWithLogitsLoss
>>> loss_fn = BCEWithLogitsLoss(pos_weight=torch.tensor([2.0]), label_smoothing=0.1)
>>> loss_fn
BCEWithLogitsLoss(weight=None, pos_weight=shape (1,), reduction='mean', label_smoothing=0.1)
>>> x = torch.tensor([[-1.0], [0.5], [3.0]], requires_grad=True)
>>> y = torch.tensor([[0.0], [1.0], [1.0]])
>>> loss = loss_fn(x, y)
>>> loss.backward()
>>> round(loss.item(), 5), [round(g, 5) for g in x.grad.flatten().tolist()]
(0.54104, [0.0608, -0.22873, -0.01416])
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.autograd.function import once_differentiable

import cbce as _cbce

__all__ = [
    "BCEWithLogitsLoss",
    "BCELoss",
    "SigmoidFocalLoss",
    "binary_cross_entropy_with_logits",
    "binary_cross_entropy",
    "sigmoid_focal_loss",
]

_REDUCTIONS = ("none", "sum", "mean", "weighted_mean")

# family -> (loss, forward_backward) names in the cbce namespace, looked up at call time.
_FAMILIES = {
    "logits": ("binary_cross_entropy_with_logits",
               "binary_cross_entropy_with_logits_forward_backward"),
    "probs": ("binary_cross_entropy", "binary_cross_entropy_forward_backward"),
    "focal": ("sigmoid_focal_loss", "sigmoid_focal_loss_forward_backward"),
}


def _fn(name):
    # binary_cross_entropy_forward_backward is in cbce._core but not in cbce's namespace.
    f = getattr(_cbce, name, None)
    return f if f is not None else getattr(_cbce._core, name)


def _view(t, name, *, grad_ok=False):
    """A NumPy view of tensor ``t`` sharing its memory (non-tensors pass through)."""
    if t is None or not isinstance(t, torch.Tensor):
        return t
    if t.device.type != "cpu":
        raise ValueError(f"cbce: {name} is on device '{t.device}'; cbce computes on CPU "
                         f"tensors only (move it with .cpu(), or use torch's own loss)")
    if t.layout != torch.strided:
        raise TypeError(f"cbce: {name} has layout {t.layout}; only dense (strided) tensors "
                        f"are supported")
    if t.requires_grad and not grad_ok:
        raise ValueError(f"cbce: {name} requires grad, but cbce gives the gradient with "
                         f"respect to input only; pass {name}.detach() (or use torch's "
                         f"own loss to differentiate through {name})")
    if t.dtype in (torch.bfloat16,) or t.is_complex() or t.dtype.is_floating_point and \
            t.element_size() == 1:
        raise TypeError(f"cbce: {name} has dtype {t.dtype}, which cbce cannot read; use "
                        f"float16, float32 or float64")
    t = t.detach()
    if t.is_neg():
        t = t.resolve_neg()
    return t.numpy()


def _compute(input, target, weight, pos_weight, family, kwargs, want_grad):
    """The loss (a tensor) and, if ``want_grad``, d loss / d input for grad_output = 1."""
    if not isinstance(input, torch.Tensor):
        raise TypeError(f"cbce: input must be a torch.Tensor, got {type(input).__name__}")
    x = _view(input, "input", grad_ok=True)
    t = _view(target, "target")
    extra = dict(kwargs)
    if weight is not None:
        extra["weight"] = _view(weight, "weight")
    if pos_weight is not None:
        extra["pos_weight"] = _view(pos_weight, "pos_weight")
    loss_name, fused_name = _FAMILIES[family]
    reduced = extra["reduction"] != "none"
    loss, lo = None, None
    if not reduced:
        loss = torch.empty_like(input, requires_grad=False)
        lo = loss.numpy()
    grad = None
    if want_grad:
        grad = torch.empty_like(input, requires_grad=False)
        value, _ = _fn(fused_name)(x, t, out=(lo, grad.numpy()), **extra)
    else:
        value = _fn(loss_name)(x, t, out=lo, **extra)
    if reduced:
        loss = torch.from_numpy(np.asarray(value))
    return loss, grad


class _LossFunction(torch.autograd.Function):
    """forward(input, target, weight, pos_weight, family, kwargs) -> loss; the gradient is
    computed in forward by the fused call and kept for backward."""

    @staticmethod
    def forward(ctx, input, target, weight, pos_weight, family, kwargs):
        loss, ctx.grad = _compute(input, target, weight, pos_weight, family, kwargs, True)
        ctx.reduced = loss.dim() == 0 and dict(kwargs)["reduction"] != "none"
        return loss

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        grad = ctx.grad
        if not (ctx.reduced and float(grad_output) == 1.0):
            grad = grad * grad_output
        return grad, None, None, None, None, None


def _apply(input, target, weight, pos_weight, family, kwargs):
    if isinstance(input, torch.Tensor) and input.requires_grad and torch.is_grad_enabled():
        return _LossFunction.apply(input, target, weight, pos_weight, family, kwargs)
    # No graph to record: the loss only, no gradient pass.
    return _compute(input, target, weight, pos_weight, family, kwargs, False)[0]


def _check_reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {', '.join(map(repr, _REDUCTIONS))}; "
                         f"got {reduction!r}")


def _check_smoothing(eps):
    eps = float(eps)
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {eps!r}")
    return eps


def binary_cross_entropy_with_logits(input: torch.Tensor, target: torch.Tensor,
                                     weight: torch.Tensor | None = None, *,
                                     pos_weight: torch.Tensor | None = None,
                                     reduction: str = "mean",
                                     label_smoothing: float = 0.0) -> torch.Tensor:
    """``torch.nn.functional.binary_cross_entropy_with_logits`` computed by cbce, with
    label smoothing (``y -> y * (1 - eps) + eps / 2``) and ``reduction="weighted_mean"``.

    Differentiable with respect to ``input`` (a CPU tensor).

    >>> import torch
    >>> from cbce.integrations.torch import binary_cross_entropy_with_logits
    >>> float(binary_cross_entropy_with_logits(torch.zeros(2), torch.tensor([0.0, 1.0])))
    0.6931471824645996
    """
    kw = (("reduction", reduction), ("label_smoothing", float(label_smoothing)))
    return _apply(input, target, weight, pos_weight, "logits", kw)


def binary_cross_entropy(input: torch.Tensor, target: torch.Tensor,
                         weight: torch.Tensor | None = None, *, reduction: str = "mean",
                         label_smoothing: float = 0.0) -> torch.Tensor:
    """``torch.nn.functional.binary_cross_entropy`` (on probabilities) computed by cbce:
    log terms clamped at -100, the gradient divided by ``max(x * (1 - x), 1e-12)``; values
    outside [0, 1] raise ValueError naming the first one.

    >>> import torch
    >>> from cbce.integrations.torch import binary_cross_entropy
    >>> float(binary_cross_entropy(torch.tensor([0.5, 0.5]), torch.tensor([0.0, 1.0])))
    0.6931471824645996
    """
    kw = (("reduction", reduction), ("label_smoothing", float(label_smoothing)))
    return _apply(input, target, weight, None, "probs", kw)


def sigmoid_focal_loss(input: torch.Tensor, target: torch.Tensor,
                       weight: torch.Tensor | None = None, *, alpha: float | None = 0.25,
                       gamma: float = 2.0, reduction: str = "mean") -> torch.Tensor:
    """torchvision's ``sigmoid_focal_loss`` computed by cbce in log space: finite loss and
    gradient for every ``gamma >= 0``.  Note the default ``reduction="mean"`` (torchvision's
    is ``"none"``).

    >>> import torch
    >>> from cbce.integrations.torch import sigmoid_focal_loss
    >>> float(sigmoid_focal_loss(torch.zeros(1), torch.ones(1), alpha=None, gamma=1.0))
    0.3465735912322998
    """
    kw = (("alpha", None if alpha is None else float(alpha)), ("gamma", float(gamma)),
          ("reduction", reduction))
    return _apply(input, target, weight, None, "focal", kw)


def _buffer(value):
    if value is None or isinstance(value, torch.Tensor):
        return value
    return torch.as_tensor(np.asarray(value))


def _shape_repr(t):
    return None if t is None else f"shape {tuple(t.shape)}"


class BCEWithLogitsLoss(torch.nn.Module):
    """``torch.nn.BCEWithLogitsLoss`` computed by cbce, plus ``label_smoothing`` and
    ``reduction="weighted_mean"``.  ``weight`` and ``pos_weight`` are buffers (they follow
    ``.to()`` and are saved in the ``state_dict``), broadcast to the input by NumPy rules.

    >>> import torch
    >>> from cbce.integrations.torch import BCEWithLogitsLoss
    >>> BCEWithLogitsLoss(reduction="sum")(torch.tensor([0.0, 0.0]), torch.tensor([0.0, 1.0]))
    tensor(1.3863)
    """

    weight: torch.Tensor | None
    pos_weight: torch.Tensor | None

    def __init__(self, weight: Any = None, pos_weight: Any = None, reduction: str = "mean",
                 label_smoothing: float = 0.0) -> None:
        super().__init__()
        _check_reduction(reduction)
        self.reduction = reduction
        self.label_smoothing = _check_smoothing(label_smoothing)
        self.register_buffer("weight", _buffer(weight))
        self.register_buffer("pos_weight", _buffer(pos_weight))

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return binary_cross_entropy_with_logits(
            input, target, self.weight, pos_weight=self.pos_weight, reduction=self.reduction,
            label_smoothing=self.label_smoothing)

    def extra_repr(self):
        return (f"weight={_shape_repr(self.weight)}, pos_weight={_shape_repr(self.pos_weight)}, "
                f"reduction={self.reduction!r}, label_smoothing={self.label_smoothing!r}")


class BCELoss(torch.nn.Module):
    """``torch.nn.BCELoss`` (on probabilities) computed by cbce, plus ``label_smoothing``.

    >>> import torch
    >>> from cbce.integrations.torch import BCELoss
    >>> BCELoss(reduction="none")(torch.tensor([0.9, 0.0]), torch.tensor([1.0, 1.0]))
    tensor([  0.1054, 100.0000])
    """

    weight: torch.Tensor | None

    def __init__(self, weight: Any = None, reduction: str = "mean",
                 label_smoothing: float = 0.0) -> None:
        super().__init__()
        _check_reduction(reduction)
        self.reduction = reduction
        self.label_smoothing = _check_smoothing(label_smoothing)
        self.register_buffer("weight", _buffer(weight))

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return binary_cross_entropy(input, target, self.weight, reduction=self.reduction,
                                    label_smoothing=self.label_smoothing)

    def extra_repr(self):
        return (f"weight={_shape_repr(self.weight)}, reduction={self.reduction!r}, "
                f"label_smoothing={self.label_smoothing!r}")


class SigmoidFocalLoss(torch.nn.Module):
    """Sigmoid focal loss (torchvision's formula) computed by cbce in log space;
    ``alpha=None`` drops the class balance.

    >>> import torch
    >>> from cbce.integrations.torch import SigmoidFocalLoss
    >>> SigmoidFocalLoss(alpha=None, gamma=0.5)
    SigmoidFocalLoss(alpha=None, gamma=0.5, reduction='mean')
    """

    def __init__(self, alpha: float | None = 0.25, gamma: float = 2.0,
                 reduction: str = "mean") -> None:
        super().__init__()
        _check_reduction(reduction)
        if not float(gamma) >= 0.0:
            raise ValueError(f"gamma must be >= 0, got {gamma!r}")
        self.alpha = None if alpha is None else float(alpha)
        self.gamma = float(gamma)
        self.reduction = reduction

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return sigmoid_focal_loss(input, target, alpha=self.alpha, gamma=self.gamma,
                                  reduction=self.reduction)

    def extra_repr(self):
        return f"alpha={self.alpha!r}, gamma={self.gamma!r}, reduction={self.reduction!r}"
