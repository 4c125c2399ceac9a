"""Loss objects holding their settings, in the manner of ``torch.nn`` modules: one class per
registry family (cbce._registry), all made by the same base, their docstrings composed by
cbce._docs."""
import inspect
from typing import Any

from . import _core, _docs
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
        cls.__doc__ = _docs.compose_class(fam, cls.__signature__)

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


for _fam in FAMILIES:
    _name = str(_fam["cls"])
    globals()[_name] = type(_name, (_Loss,), {}, family=_fam["name"])
