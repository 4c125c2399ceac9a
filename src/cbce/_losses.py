"""Loss objects holding their settings, in the manner of ``torch.nn`` modules: one class per
registry family (cbce._registry), all made by the same base."""
import inspect
from typing import Any

from . import _core
from ._registry import FAMILIES


def _array_repr(a):
    return None if a is None else f"<array shape {getattr(a, 'shape', '?')}>"


class _Loss:
    """A registry family's functions with fixed settings.  Subclasses name their family; the
    constructor's parameters are the family's (see _settings)."""

    _family: Any = None
    _fn: str = ""
    __signature__: inspect.Signature

    def __init_subclass__(cls, family=None, **kwargs):
        super().__init_subclass__(**kwargs)
        fam = next(f for f in FAMILIES if f["name"] == family)
        cls._family = fam
        cls._fn = str(fam["python"])
        P = inspect.Parameter
        cls.__signature__ = inspect.Signature(
            [P(n, P.POSITIONAL_OR_KEYWORD, default=d) for n, d in _settings(fam)])

    def __init__(self, *args, **kwargs):
        b = self.__signature__.bind(*args, **kwargs)
        b.apply_defaults()
        for name, value in b.arguments.items():
            setattr(self, name, value)

    def _kw(self):
        return {n: getattr(self, n) for n, _ in _settings(self._family)}

    def __call__(self, input, target, *, num_threads=None, out=None):
        """The loss, with the object's settings.

        Parameters
        ----------
        input, target, num_threads, out
            As for the family's loss function (e.g.
            :func:`cbce.binary_cross_entropy_with_logits`).
        """
        return getattr(_core, self._fn)(input, target, **self._kw(), num_threads=num_threads,
                                        out=out)

    def backward(self, input, target, grad_output=1.0, *, num_threads=None, out=None):
        """The gradient d loss / d input, with the object's settings.

        Parameters
        ----------
        input, target, grad_output, num_threads, out
            As for the family's ``*_backward`` function.
        """
        return getattr(_core, self._fn + "_backward")(
            input, target, **self._kw(), grad_output=grad_output, num_threads=num_threads,
            out=out)

    def forward_backward(self, input, target, *, num_threads=None, out=None):
        """``(loss, grad)`` from one pass over memory, with the object's settings.

        Parameters
        ----------
        input, target, num_threads, out
            As for the family's ``*_forward_backward`` function.
        """
        return getattr(_core, self._fn + "_forward_backward")(
            input, target, **self._kw(), num_threads=num_threads, out=out)

    def __repr__(self):
        shown = ", ".join(
            f"{n}={_array_repr(v) if n in ('weight', 'pos_weight') else repr(v)}"
            for n, v in self._kw().items())
        return f"{type(self).__name__}({shown})"


def _settings(fam):
    """(name, default) of a family's constructor parameters, in API.md's order: the scalar
    parameters but label_smoothing, weight (if the class holds one), pos_weight, reduction,
    label_smoothing."""
    out = [(n, d) for n, d in fam["params"] if n != "label_smoothing"]
    if fam["cls_weight"]:
        out.append(("weight", None))
    if fam["pos_weight"]:
        out.append(("pos_weight", None))
    out.append(("reduction", "mean"))
    out += [(n, d) for n, d in fam["params"] if n == "label_smoothing"]
    return out


class BCEWithLogitsLoss(_Loss, family="bce_logits"):
    """Binary cross-entropy with logits, with fixed weight, pos_weight, reduction and
    label smoothing (``torch.nn.BCEWithLogitsLoss``).

    Parameters
    ----------
    weight : array_like, optional
        Multiplies each element's loss; broadcastable to the inputs' shape.
    pos_weight : array_like, optional
        Multiplies the positive term; broadcastable to the inputs' shape (e.g. ``(C,)``).
    reduction : {'mean', 'sum', 'none', 'weighted_mean'}, default 'mean'
        How the losses are reduced (see :func:`cbce.binary_cross_entropy_with_logits`).
    label_smoothing : float in [0, 1], default 0.0
        The target becomes ``y * (1 - eps) + eps / 2``.

    Examples
    --------
    >>> import numpy as np, cbce
    >>> loss = cbce.BCEWithLogitsLoss(reduction="sum", label_smoothing=0.1)
    >>> loss
    BCEWithLogitsLoss(weight=None, pos_weight=None, reduction='sum', label_smoothing=0.1)
    """


class BCELoss(_Loss, family="bce"):
    """Binary cross-entropy on probabilities, with fixed weight, reduction and label
    smoothing (``torch.nn.BCELoss``).

    Parameters
    ----------
    weight : array_like, optional
        Multiplies each element's loss; broadcastable to the inputs' shape.
    reduction : {'mean', 'sum', 'none', 'weighted_mean'}, default 'mean'
        How the losses are reduced (see :func:`cbce.binary_cross_entropy`).
    label_smoothing : float in [0, 1], default 0.0
        The target becomes ``y * (1 - eps) + eps / 2``.

    Examples
    --------
    >>> import numpy as np, cbce
    >>> loss = cbce.BCELoss(reduction="sum")
    >>> loss
    BCELoss(weight=None, reduction='sum', label_smoothing=0.0)
    >>> float(loss(np.array([0.5, 0.5]), np.array([0.0, 1.0])))
    1.3862943611198906
    """


class SigmoidFocalLoss(_Loss, family="focal"):
    """Sigmoid focal loss on logits with fixed alpha, gamma and reduction
    (torchvision's ``sigmoid_focal_loss``).

    Parameters
    ----------
    alpha : float or None, default 0.25
        Weight of the positive class (``1 - alpha`` for the negative); None drops it.
    gamma : float >= 0, default 2.0
        Focusing exponent.
    reduction : {'mean', 'sum', 'none', 'weighted_mean'}, default 'mean'
        How the losses are reduced (see :func:`cbce.sigmoid_focal_loss`).

    Examples
    --------
    >>> import numpy as np, cbce
    >>> loss = cbce.SigmoidFocalLoss(alpha=None, gamma=0.5)
    >>> loss
    SigmoidFocalLoss(alpha=None, gamma=0.5, reduction='mean', label_smoothing=0.0)
    """


for _fam in FAMILIES:  # families without a written class get the plain one
    if _fam["cls"] not in globals():
        _name = str(_fam["cls"])
        globals()[_name] = type(_name, (_Loss,),
                                {"__doc__": f"The {_fam['python']} loss with fixed settings."},
                                family=_fam["name"])
