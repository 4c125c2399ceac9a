"""Loss objects holding their settings, in the manner of ``torch.nn`` modules."""
from . import _core


class BCEWithLogitsLoss:
    """Binary cross-entropy with logits, with fixed weight, pos_weight, reduction and
    label smoothing.

    >>> import numpy as np, cbce
    >>> loss = cbce.BCEWithLogitsLoss(reduction="sum", label_smoothing=0.1)
    >>> loss
    BCEWithLogitsLoss(weight=None, pos_weight=None, reduction='sum', label_smoothing=0.1)
    """

    def __init__(self, weight=None, pos_weight=None, reduction="mean", label_smoothing=0.0):
        self.weight = weight
        self.pos_weight = pos_weight
        self.reduction = reduction
        self.label_smoothing = label_smoothing

    def _kw(self):
        return dict(pos_weight=self.pos_weight, reduction=self.reduction,
                    label_smoothing=self.label_smoothing)

    def __call__(self, input, target, *, num_threads=None, out=None):
        return _core.binary_cross_entropy_with_logits(input, target, self.weight, **self._kw(),
                                                      num_threads=num_threads, out=out)

    def backward(self, input, target, grad_output=1.0, *, num_threads=None, out=None):
        return _core.binary_cross_entropy_with_logits_backward(
            input, target, self.weight, **self._kw(), grad_output=grad_output,
            num_threads=num_threads, out=out)

    def forward_backward(self, input, target, *, num_threads=None, out=None):
        return _core.binary_cross_entropy_with_logits_forward_backward(
            input, target, self.weight, **self._kw(), num_threads=num_threads, out=out)

    def __repr__(self):
        w = None if self.weight is None else f"<array shape {getattr(self.weight, 'shape', '?')}>"
        pw = (None if self.pos_weight is None
              else f"<array shape {getattr(self.pos_weight, 'shape', '?')}>")
        return (f"BCEWithLogitsLoss(weight={w}, pos_weight={pw}, "
                f"reduction={self.reduction!r}, label_smoothing={self.label_smoothing!r})")
