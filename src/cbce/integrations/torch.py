"""PyTorch modules backed by cbce: drop-in ``torch.nn`` losses computed by the C core.

Design notes
------------
(a) Two ``torch.library`` custom ops carry the computation, so ``torch.compile`` (with
    ``fullgraph=True``) and ``torch.export`` see them as single nodes with fake
    (shape-only) implementations:
    ``cbce::loss(input, target, weight, pos_weight, ...) -> (loss, grad)`` and
    ``cbce::grad_hess(...) -> (grad, hess)``.  Both hand the tensors to cbce as NumPy views
    (``tensor.detach().numpy()`` shares memory; strided views are read as they are) and
    have cbce write into tensors they allocate.  Nothing is copied on the way in or out for
    float32/float64 CPU tensors with a bool/uint8/int8/float target.  Eager calls on plain
    tensors take a ``torch.autograd.Function`` with the same implementation and derivatives
    (the custom op's Python dispatch costs tens of microseconds a call); traced code (fake
    or functional tensors) calls the op.
(b) First order.  When the input requires a gradient, ``cbce::loss`` calls the fused
    ``*_forward_backward``: one pass over memory gives the loss and ``grad`` = d loss /
    d input (for an upstream gradient of 1, reduction and weights applied).  Backward
    returns ``grad * grad_output`` (``grad`` itself for ``loss.backward()`` of a reduced
    loss).  Without a graph to record (evaluation,
    ``torch.no_grad()``) the loss alone is computed.
(c) Higher order.  ``grad`` is itself an output of ``cbce::loss``, so the backward
    ``grad * grad_output`` is an ordinary differentiable expression; the registered
    derivative of ``grad`` with respect to the input is cbce's own second derivative
    (``cbce::grad_hess``, gradient and hessian from one pass), scaled as the reduction
    scales ``grad``.  ``create_graph=True``, gradient penalties, double backward and
    Hessian-vector products therefore work.  The hessian's own derivatives are written in
    torch operations on the gradient and hessian (BCE with logits and on probabilities),
    so those two are differentiable to any order; the focal loss to the second.
(d) Target.  Every loss is differentiable with respect to the target, as PyTorch's are
    (soft targets from another network), with the derivatives written without
    cancellation: d l / d y = w * ((p - 1) * softplus(-x) - x) (exactly ``-w * x`` without
    pos_weight; PyTorch's ``log_sigmoid(-x) - p * log_sigmoid(x)`` cancels for small
    ``|x|``); w * (log(1 - x) - log(x)) with PyTorch's -100 clamps (``-log1p((2x - 1) /
    (1 - x))`` on [1/4, 3/4], where both logs are close); for the focal loss from
    1 - p_t, the cross-entropy and sigmoid(-x) - sigmoid(x) = -tanh(x/2) each formed
    without a cancelling difference; times ``1 - label_smoothing``.  These and the mixed
    second derivatives are torch expressions, so they differentiate further.
    ``weight`` and ``pos_weight`` are not differentiable (nor are they in PyTorch): one
    that requires grad raises an error naming ``.detach()``.
(e) Results follow cbce's dtype rules: float16 is computed in float32 and returned as
    float16; a reduced loss is a 0-d tensor of the input's dtype.  ``reduction`` may also be
    ``"weighted_mean"`` (divide by the sum of the broadcast weights).
(f) Tensors cbce cannot read raise errors that say what to do instead: another device
    (``.cpu()`` or torch's own loss there), bfloat16 (``.float()``), sparse
    (``.to_dense()``) and nested tensors (one call per component or ``.values()``).

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

import inspect
import math
from typing import Any, Optional

import numpy as np
import torch
from torch import Tensor

import cbce as _cbce
from cbce._registry import FAMILIES as _REGISTRY_ENTRIES
from cbce._registry import PARAMS as _PARAMS_ENTRIES
from cbce._losses import _settings as _class_settings

__all__ = [
    "BCEWithLogitsLoss",
    "BCELoss",
    "SigmoidFocalLoss",
    "binary_cross_entropy_with_logits",
    "binary_cross_entropy",
    "sigmoid_focal_loss",
]

_REDUCTIONS = ("none", "sum", "mean", "weighted_mean")

# The registry's families by name (cbce._registry); their functions are looked up by name
# at call time (_fn).  _TORCH_LOSS: the alternative named in error messages.
_REGISTRY: tuple[dict[str, Any], ...] = _REGISTRY_ENTRIES
_PARAMS: dict[str, Any] = _PARAMS_ENTRIES
_FAMILIES = {f["name"]: f for f in _REGISTRY}
_TORCH_LOSS = {"bce_logits": "torch.nn.functional.binary_cross_entropy_with_logits",
               "bce": "torch.nn.functional.binary_cross_entropy",
               "focal": "torchvision.ops.sigmoid_focal_loss"}
# families whose target derivatives are written below (the others are not differentiable
# with respect to the target), and those differentiable to any order (the others: second)
_TARGET_DERIVATIVES = ("bce_logits", "bce", "focal")
_ANY_ORDER = ("bce_logits", "bce")


# ---- validation (plain Python on tensor metadata: traced by torch.compile) ---------------

def _check_tensor(t, name, family):
    """Raise an error saying what to do for a tensor cbce cannot read."""
    if t.is_nested:
        raise TypeError(f"cbce: {name} is a nested tensor; cbce takes dense CPU tensors: "
                        f"call the loss on each component (or on {name}.values() with the "
                        f"target's values), or use {_alternative(family)}")
    if t.layout != torch.strided:
        raise TypeError(f"cbce: {name} has layout {t.layout}; cbce takes dense tensors: "
                        f"pass {name}.to_dense()")
    if t.device.type != "cpu":
        raise ValueError(f"cbce: {name} is on device '{t.device}'; cbce computes on CPU "
                         f"tensors only: move it with {name}.cpu(), or use "
                         f"{_alternative(family)} on '{t.device}'")
    if t.dtype == torch.bfloat16 or t.is_complex() or (
            t.dtype.is_floating_point and t.element_size() == 1):
        raise TypeError(f"cbce: {name} has dtype {t.dtype}, which cbce cannot read; convert "
                        f"it with {name}.float() (cbce computes float16, float32 and "
                        f"float64)")


def _alternative(family):
    return _TORCH_LOSS.get(family, "the loss written in torch operations")


def _no_grad_through(t, name, family):
    if t is not None and t.requires_grad and torch.is_grad_enabled():
        raise ValueError(f"cbce: {name} requires grad, but {_FAMILIES[family]['python']} is "
                         f"not differentiable with respect to {name}; pass {name}.detach()")


def _param_list(family, settings):
    """The family's registry parameters in its order, as the ops take them: floats, NaN for
    None (the core's "none"); a parameter not in ``settings`` takes its default."""
    out = []
    for name, default in _FAMILIES[family]["params"]:
        v = settings.get(name, default)
        out.append(math.nan if v is None else float(v))
    return out


def _loss(input, target, weight, pos_weight, family, reduction, settings):
    if not isinstance(input, Tensor):
        raise TypeError(f"cbce: input must be a torch.Tensor, got {type(input).__name__}")
    _check_reduction(reduction)
    if "label_smoothing" in settings:
        settings = dict(settings, label_smoothing=_check_smoothing(settings["label_smoothing"]))
    if not isinstance(target, Tensor):
        target = torch.as_tensor(np.asarray(target))
    for name, t in (("input", input), ("target", target), ("weight", weight),
                    ("pos_weight", pos_weight)):
        if t is not None:
            _check_tensor(t, name, family)
    if not input.dtype.is_floating_point:
        raise TypeError(f"cbce: input must be a float16, float32 or float64 tensor, got "
                        f"{input.dtype}")
    _no_grad_through(weight, "weight", family)
    _no_grad_through(pos_weight, "pos_weight", family)
    if family not in _TARGET_DERIVATIVES:
        _no_grad_through(target, "target", family)
    want_grad = input.requires_grad and torch.is_grad_enabled()
    args = (input, target, weight, pos_weight, family, reduction,
            _param_list(family, settings), want_grad)
    if _eager(input):
        return _LossFunction.apply(*args)[0]
    return torch.ops.cbce.loss(*args)[0]


def _eager(t):
    """True for a plain tensor outside torch.compile: the call can skip the custom op's
    Python dispatch (tens of microseconds); fake and functional tensors (torch.compile,
    torch.export) are subclasses and take the op."""
    return type(t) is Tensor and not torch.compiler.is_compiling()


# ---- the custom ops (opaque to torch: NumPy views handed to cbce) -------------------------

def _fn(name):
    return getattr(_cbce, name)


def _np(t):
    """A NumPy view of tensor ``t`` sharing its memory (None passes through)."""
    if t is None:
        return None
    t = t.detach()
    if t.is_neg():
        t = t.resolve_neg()
    return t.numpy()


def _settings(family, params):
    """The ops' parameter list as keywords of the family's cbce functions (NaN: None)."""
    return {name: (None if v != v and _PARAMS[name][3] == "or_nan" else v)
            for (name, _), v in zip(_FAMILIES[family]["params"], params)}


def _options(family, weight, pos_weight, params):
    kw = _settings(family, params)
    if weight is not None:
        kw["weight"] = _np(weight)
    if pos_weight is not None:
        kw["pos_weight"] = _np(pos_weight)
    return kw


def _loss_impl(input: Tensor, target: Tensor, weight: Optional[Tensor],
               pos_weight: Optional[Tensor], family: str, reduction: str,
               params: list[float], want_grad: bool) -> tuple[Tensor, Tensor]:
    """(loss, d loss / d input) by one fused cbce call; the gradient is empty (shape (0,))
    unless ``want_grad``.  ``params``: the family's registry parameters (_param_list)."""
    loss_name = _FAMILIES[family]["python"]
    fused_name = loss_name + "_forward_backward"
    kw = _options(family, weight, pos_weight, params)
    x, t = _np(input), _np(target)
    reduced = reduction != "none"
    loss = torch.empty(() if reduced else input.shape, dtype=input.dtype)
    lo = None if reduced else loss.numpy()   # a reduced loss is returned as a scalar
    if want_grad:
        grad = torch.empty(input.shape, dtype=input.dtype)
        value, _ = _fn(fused_name)(x, t, out=(lo, grad.numpy()), reduction=reduction, **kw)
    else:
        grad = input.new_empty((0,))
        value = _fn(loss_name)(x, t, out=lo, reduction=reduction, **kw)
    if reduced:
        loss.fill_(float(value))
    return loss, grad


_loss_op = torch.library.custom_op("cbce::loss", mutates_args=())(_loss_impl)


@_loss_op.register_fake
def _(input, target, weight, pos_weight, family, reduction, params, want_grad):
    return (input.new_empty(() if reduction != "none" else input.shape),
            input.new_empty(input.shape if want_grad else (0,)))


@torch.library.custom_op("cbce::grad_hess", mutates_args=())
def _grad_hess_op(input: Tensor, target: Tensor, weight: Optional[Tensor],
                  pos_weight: Optional[Tensor], family: str,
                  params: list[float]) -> tuple[Tensor, Tensor]:
    """Elementwise (d l / d x, d^2 l / d x^2), weighted, unreduced, from one cbce pass."""
    kw = _options(family, weight, pos_weight, params)
    g = torch.empty(input.shape, dtype=input.dtype)
    h = torch.empty(input.shape, dtype=input.dtype)
    _fn(_FAMILIES[family]["python"] + "_grad_hess")(_np(input), _np(target),
                                                    out=(g.numpy(), h.numpy()), **kw)
    return g, h


@_grad_hess_op.register_fake
def _(input, target, weight, pos_weight, family, params):
    return input.new_empty(input.shape), input.new_empty(input.shape)


# ---- derivatives --------------------------------------------------------------------------

def _scale(x, weight, reduction):
    """What the reduction multiplies each element's derivative by: 1, 1/n or 1/sum(w)."""
    if reduction in ("none", "sum"):
        return 1.0
    if reduction == "mean" or weight is None:
        return 1.0 / x.numel()
    # the sum of the weights broadcast to x (each repeats x.numel() / weight.numel() times),
    # read in the dtype cbce computes x in, as the core reads them
    cdt = torch.float32 if x.dtype == torch.float16 else x.dtype
    total = weight.to(cdt).to(torch.float64).sum() * (x.numel() // weight.numel())
    return 1.0 / total


def _neg_logit(x):
    """log(1 - x) - log(x), each log clamped at -100 (the loss's rule); on [1/4, 3/4], where
    the logs are close, as -log1p((2x - 1) / (1 - x)) (2x - 1 is exact there, so no
    cancellation), elsewhere the difference of the logs (they differ in sign or size)."""
    mid = (x >= 0.25) & (x <= 0.75)
    xm = torch.where(mid, x, 0.5)
    near = -torch.log1p((2 * xm - 1) / (1 - xm))
    far = torch.log1p(-x).clamp_min(-100) - torch.log(x).clamp_min(-100)
    return torch.where(mid, near, far)


def _focal_target_derivatives(x, y, alpha, gamma):
    """(d l / d y, d^2 l / d x d y) of the unweighted focal loss l = a_t F ce, with
    u = 1 - p_t = y sigmoid(-x) + (1 - y) sigmoid(x), F = u^gamma, ce = bce_with_logits:
    u, ce and sigmoid(-x) - sigmoid(x) = -tanh(x/2) are formed as sums of terms >= 0 or
    directly, never as cancelling differences."""
    s, sn = torch.sigmoid(x), torch.sigmoid(-x)
    u = y * sn + (1 - y) * s
    u_x, u_y, u_xy = (1 - 2 * y) * s * sn, -torch.tanh(x / 2), -2 * s * sn
    sp = torch.nn.functional.softplus
    ce = torch.where(x >= 0, (1 - y) * x + sp(-x), sp(x) - x * y)
    ce_x, ce_y = s - y, -x                               # and d^2 ce / dx dy = -1
    f = u ** gamma
    f_x = f_y = f_xy = torch.zeros_like(x)
    if gamma != 0:
        g1 = gamma * u ** (gamma - 1)
        f_x, f_y, f_xy = g1 * u_x, g1 * u_y, g1 * u_xy
        if gamma != 1:
            f_xy = f_xy + gamma * (gamma - 1) * u ** (gamma - 2) * u_x * u_y
    e_x = f_x * ce + f * ce_x
    e_y = f_y * ce + f * ce_y
    e_xy = f_xy * ce + f_x * ce_y + f_y * ce_x - f
    if alpha is None:
        return e_y, e_xy
    a_t = (1 - alpha) + (2 * alpha - 1) * y
    return (2 * alpha - 1) * f * ce + a_t * e_y, (2 * alpha - 1) * e_x + a_t * e_xy


def _target_derivatives(x, t, weight, pos_weight, family, params):
    """(d l / d t, d^2 l / d x d t), elementwise, weighted, unreduced, as torch expressions
    (so that they differentiate further); families of _TARGET_DERIVATIVES."""
    kw = _settings(family, params)
    k = 1.0 - kw.get("label_smoothing", 0.0)   # d y / d t for y = t (1 - eps) + eps / 2
    if family == "bce_logits":
        if pos_weight is None:
            dt, dxt = -x, torch.full_like(x, -1.0)
        else:
            p = pos_weight.to(x.dtype)
            dt = (p - 1) * torch.nn.functional.softplus(-x) - x
            dxt = -(torch.sigmoid(x) + p * torch.sigmoid(-x))
    elif family == "bce":
        dt = _neg_logit(x)
        dxt = -1.0 / (x * (1 - x)).clamp_min(1e-12)
    else:
        dt, dxt = _focal_target_derivatives(x, t.to(x.dtype), kw["alpha"], kw["gamma"])
    if weight is not None:
        w = weight.to(x.dtype)
        dt, dxt = dt * w, dxt * w
    return dt * k, dxt * k


def _setup(ctx, inputs, output):
    input, target, weight, pos_weight, family, reduction, params, want_grad = inputs
    ctx.set_materialize_grads(False)
    ctx.options = (family, reduction, params, want_grad)
    ctx.save_for_backward(input, target, weight, pos_weight, output[1])


def _backward(ctx, d_loss, d_grad):
    """d_loss: upstream gradient of the loss; d_grad: of the `grad` output, which is not
    None only when a backward pass is itself differentiated (second order)."""
    x, t, w, pw, grad = ctx.saved_tensors
    family, reduction, params, want_grad = ctx.options
    if not want_grad and ctx.needs_input_grad[0]:
        # called without the fused gradient (only a direct call of the op does that)
        d_grad = None
        grad = torch.ops.cbce.loss(x, t, w, pw, family, reduction, params, True)[1]
    scale = _scale(x, w, reduction)
    dx = dt = None
    if ctx.needs_input_grad[0]:
        if d_loss is not None and _eager(d_loss) and d_loss.dim() == 0 and \
                not torch.is_grad_enabled() and float(d_loss) == 1.0:
            dx = grad   # loss.backward() of a reduced loss: the fused gradient as it is
        elif d_loss is not None:
            dx = grad * d_loss
        if d_grad is not None:
            h = torch.ops.cbce.grad_hess(x, t, w, pw, family, params)[1]
            term = d_grad * h * scale
            dx = term if dx is None else dx + term
    if ctx.needs_input_grad[1]:
        d_t, d_xt = _target_derivatives(x, t, w, pw, family, params)
        if d_loss is not None:
            dt = d_t * (d_loss * scale)
        if d_grad is not None:
            term = d_grad * d_xt * scale
            dt = term if dt is None else dt + term
        dt = None if dt is None else dt.to(t.dtype)
    return dx, dt, None, None, None, None, None, None


def _hess_derivatives(family, x, weight, pos_weight, label_smoothing, g, h):
    """(d h / d x, d h / d t) of the elementwise hessian h (g: the elementwise gradient),
    as torch expressions of x, g and h, so that every further order follows from the
    registered derivatives of g and h."""
    k = 1.0 - label_smoothing
    if family == "bce_logits":
        # h = w c s (1 - s), c = 1 + (p - 1) y, s = sigmoid(x): h' = h (1 - 2 s)
        d_x = -h * torch.tanh(x / 2)
        if pos_weight is None:
            return d_x, torch.zeros_like(x)
        p = pos_weight.to(x.dtype)
        d_t = (p - 1) * torch.sigmoid(x) * torch.sigmoid(-x) * k
    else:
        # h = w ((x - y)^2 + y (1 - y)) / D^2, g = w (x - y) / D, D = x (1 - x)
        den = (x * (1 - x)).clamp_min(1e-12)
        d_x = 2 * (g - h * (1 - 2 * x)) / den
        d_t = (1 - 2 * x) / den ** 2 * k
    if weight is not None:
        d_t = d_t * weight.to(x.dtype)
    return d_x, d_t


def _setup_grad_hess(ctx, inputs, output):
    input, target, weight, pos_weight, family, params = inputs
    ctx.set_materialize_grads(False)
    ctx.options = (family, params)
    ctx.save_for_backward(input, target, weight, pos_weight, *output)


def _grad_hess_backward(ctx, d_g, d_h):
    """Third and higher derivatives (BCE with logits and on probabilities)."""
    x, t, w, pw, g, h = ctx.saved_tensors
    family, params = ctx.options
    if family not in _ANY_ORDER:
        raise RuntimeError(f"cbce: {_FAMILIES[family]['python']} gives derivatives up to the "
                           f"second order; for the third and higher, write the loss in torch "
                           f"operations")
    need_x, need_t = ctx.needs_input_grad[:2]
    hx, ht = _hess_derivatives(family, x, w, pw, _settings(family, params)["label_smoothing"],
                               g, h)
    gt = _target_derivatives(x, t, w, pw, family, params)[1] if need_t else None
    dx = dt = None
    for d, dfx, dft in ((d_g, h, gt), (d_h, hx, ht)):
        if d is None:
            continue
        if need_x:
            dx = d * dfx if dx is None else dx + d * dfx
        if need_t:
            dt = d * dft if dt is None else dt + d * dft
    return dx, None if dt is None else dt.to(t.dtype), None, None, None, None


_loss_op.register_autograd(_backward, setup_context=_setup)
_grad_hess_op.register_autograd(_grad_hess_backward, setup_context=_setup_grad_hess)


class _LossFunction(torch.autograd.Function):
    """cbce::loss for eager calls: the same implementation and derivatives, without the
    custom op's dispatch."""

    @staticmethod
    def forward(ctx, *args):   # (a separate setup_context would bind a signature per call)
        output = _loss_impl(*args)
        _setup(ctx, args, output)
        return output

    backward = staticmethod(_backward)


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

    Differentiable to second order with respect to ``input`` (a CPU tensor), to first and
    mixed second order with respect to ``target``.

    >>> import torch
    >>> from cbce.integrations.torch import binary_cross_entropy_with_logits
    >>> float(binary_cross_entropy_with_logits(torch.zeros(2), torch.tensor([0.0, 1.0])))
    0.6931471824645996
    """
    return _loss(input, target, weight, pos_weight, "bce_logits", reduction,
                 {"label_smoothing": label_smoothing})


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
    return _loss(input, target, weight, None, "bce", reduction,
                 {"label_smoothing": label_smoothing})


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
    return _loss(input, target, weight, None, "focal", reduction,
                 {"alpha": None if alpha is None else float(alpha), "gamma": float(gamma)})


def _buffer(value):
    if value is None or isinstance(value, torch.Tensor):
        return value
    return torch.as_tensor(np.asarray(value))


def _shape_repr(t):
    return None if t is None else f"shape {tuple(t.shape)}"


class _SettingsModule(torch.nn.Module):
    """A loss module holding its settings (checked by the subclass): ``weight`` and
    ``pos_weight`` as buffers (they follow ``.to()`` and are saved in the ``state_dict``),
    the others as attributes; its repr shows the names in ``_shown``."""

    _BUFFERS = ("weight", "pos_weight")
    _shown: tuple[str, ...] = ()

    def _hold(self, **settings: Any) -> None:
        for n, v in settings.items():
            if n in self._BUFFERS:
                self.register_buffer(n, _buffer(v))
            else:
                setattr(self, n, v)

    def extra_repr(self) -> str:
        return ", ".join(
            f"{n}={_shape_repr(v) if n in self._BUFFERS else repr(v)}"
            for n, v in ((n, getattr(self, n)) for n in self._shown))


class BCEWithLogitsLoss(_SettingsModule):
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
    _shown = ("weight", "pos_weight", "reduction", "label_smoothing")

    def __init__(self, weight: Any = None, pos_weight: Any = None, reduction: str = "mean",
                 label_smoothing: float = 0.0) -> None:
        super().__init__()
        _check_reduction(reduction)
        self._hold(weight=weight, pos_weight=pos_weight, reduction=reduction,
                   label_smoothing=_check_smoothing(label_smoothing))

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return binary_cross_entropy_with_logits(
            input, target, self.weight, pos_weight=self.pos_weight, reduction=self.reduction,
            label_smoothing=self.label_smoothing)


class BCELoss(_SettingsModule):
    """``torch.nn.BCELoss`` (on probabilities) computed by cbce, plus ``label_smoothing``.

    >>> import torch
    >>> from cbce.integrations.torch import BCELoss
    >>> BCELoss(reduction="none")(torch.tensor([0.9, 0.0]), torch.tensor([1.0, 1.0]))
    tensor([  0.1054, 100.0000])
    """

    weight: torch.Tensor | None
    _shown = ("weight", "reduction", "label_smoothing")

    def __init__(self, weight: Any = None, reduction: str = "mean",
                 label_smoothing: float = 0.0) -> None:
        super().__init__()
        _check_reduction(reduction)
        self._hold(weight=weight, reduction=reduction,
                   label_smoothing=_check_smoothing(label_smoothing))

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return binary_cross_entropy(input, target, self.weight, reduction=self.reduction,
                                    label_smoothing=self.label_smoothing)


class SigmoidFocalLoss(_SettingsModule):
    """Sigmoid focal loss (torchvision's formula) computed by cbce in log space;
    ``alpha=None`` drops the class balance.

    >>> import torch
    >>> from cbce.integrations.torch import SigmoidFocalLoss
    >>> SigmoidFocalLoss(alpha=None, gamma=0.5)
    SigmoidFocalLoss(alpha=None, gamma=0.5, reduction='mean')
    """

    _shown = ("alpha", "gamma", "reduction")

    def __init__(self, alpha: float | None = 0.25, gamma: float = 2.0,
                 reduction: str = "mean") -> None:
        super().__init__()
        _check_reduction(reduction)
        if not float(gamma) >= 0.0:
            raise ValueError(f"gamma must be >= 0, got {gamma!r}")
        self._hold(alpha=None if alpha is None else float(alpha), gamma=float(gamma),
                   reduction=reduction)

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return sigmoid_focal_loss(input, target, alpha=self.alpha, gamma=self.gamma,
                                  reduction=self.reduction)


# ---- every other family of the registry: its function and module, made from the registry ---

def _family_function(fam):
    """``cbce.<python name>`` on tensors with its keywords (but ``num_threads`` and ``out``):
    differentiable to the second order with respect to the input, not the target."""
    sig = inspect.signature(getattr(_cbce, fam["python"]))
    sig = sig.replace(parameters=[p for p in sig.parameters.values()
                                  if p.name not in ("num_threads", "out")])
    names = [n for n, _ in fam["params"]]

    def f(*args: Any, **kwargs: Any) -> torch.Tensor:
        a = sig.bind(*args, **kwargs)
        a.apply_defaults()
        v = a.arguments
        return _loss(v["input"], v["target"], v["weight"], v.get("pos_weight"), fam["name"],
                     v["reduction"], {n: v[n] for n in names})

    f.__name__ = f.__qualname__ = fam["python"]
    f.__signature__ = sig  # type: ignore[attr-defined]
    f.__doc__ = (f":func:`cbce.{fam['python']}` computed by cbce on CPU tensors, "
                 f"differentiable to the second order with respect to ``input``.")
    return f


def _family_module(fam, fn):
    """A ``torch.nn.Module`` holding ``fn``'s settings, with the constructor of the cbce
    class ``cbce.<cls>``; ``weight`` and ``pos_weight`` are buffers."""
    P = inspect.Parameter
    settings = _class_settings(fam)
    sig = inspect.Signature([P(n, P.POSITIONAL_OR_KEYWORD, default=d) for n, d in settings])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        torch.nn.Module.__init__(self)
        b = sig.bind(*args, **kwargs)
        b.apply_defaults()
        _check_reduction(b.arguments["reduction"])
        # the scalar settings, checked by the core (its messages) on an empty input
        getattr(_cbce, fam["python"])(np.zeros(0), np.zeros(0),
                                      **{n: b.arguments[n] for n, _ in fam["params"]})
        self._hold(**b.arguments)

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return fn(input, target, **{n: getattr(self, n) for n in self._shown})

    doc = (f"``cbce.{fam['cls']}`` as a ``torch.nn.Module`` (see :func:`{fam['python']}`).")
    cls = type(fam["cls"], (_SettingsModule,),
               {"__init__": __init__, "forward": forward, "_shown": tuple(sig.parameters),
                "__doc__": doc, "__module__": __name__})
    init: Any = __init__
    init.__signature__ = sig.replace(
        parameters=[P("self", P.POSITIONAL_OR_KEYWORD)] + list(sig.parameters.values()))
    return cls


for _fam in _REGISTRY:
    if _fam["python"] not in globals():
        _f = _family_function(_fam)
        globals()[_fam["python"]] = _f
        globals()[_fam["cls"]] = _family_module(_fam, _f)
        __all__ += [_fam["python"], _fam["cls"]]


def __getattr__(name: str) -> Any:
    """Only names not made above reach this: the registry's functions and modules are module
    globals, which type checkers cannot see (they type them as Any through this function)."""
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
