"""Loss objects holding their settings, in the manner of ``torch.nn`` modules."""
from . import _core


class BCEWithLogitsLoss:
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

    def __init__(self, weight=None, pos_weight=None, reduction="mean", label_smoothing=0.0):
        self.weight = weight
        self.pos_weight = pos_weight
        self.reduction = reduction
        self.label_smoothing = label_smoothing

    def _kw(self):
        return dict(pos_weight=self.pos_weight, reduction=self.reduction,
                    label_smoothing=self.label_smoothing)

    def __call__(self, input, target, *, num_threads=None, out=None):
        """The loss, with the object's settings.

        Parameters
        ----------
        input, target, num_threads, out
            As for :func:`cbce.binary_cross_entropy_with_logits`.

        Examples
        --------
        >>> import numpy as np, cbce
        >>> crit = cbce.BCEWithLogitsLoss(reduction="sum", label_smoothing=0.1)
        >>> crit(np.array([-1.0, 2.0]), np.array([0.0, 1.0]))
        np.float64(0.5901896985611954)
        """
        return _core.binary_cross_entropy_with_logits(input, target, self.weight, **self._kw(),
                                                      num_threads=num_threads, out=out)

    def backward(self, input, target, grad_output=1.0, *, num_threads=None, out=None):
        """The gradient d loss / d input, with the object's settings.

        Parameters
        ----------
        input, target, grad_output, num_threads, out
            As for :func:`cbce.binary_cross_entropy_with_logits_backward`.

        Examples
        --------
        >>> import numpy as np, cbce
        >>> crit = cbce.BCEWithLogitsLoss(reduction="sum", label_smoothing=0.1)
        >>> crit.backward(np.array([-1.0, 2.0]), np.array([0.0, 1.0]))
        array([ 0.21894142, -0.06920292])
        """
        return _core.binary_cross_entropy_with_logits_backward(
            input, target, self.weight, **self._kw(), grad_output=grad_output,
            num_threads=num_threads, out=out)

    def forward_backward(self, input, target, *, num_threads=None, out=None):
        """``(loss, grad)`` from one pass over memory, with the object's settings.

        Parameters
        ----------
        input, target, num_threads, out
            As for :func:`cbce.binary_cross_entropy_with_logits_forward_backward`.

        Examples
        --------
        >>> import numpy as np, cbce
        >>> crit = cbce.BCEWithLogitsLoss(reduction="sum", label_smoothing=0.1)
        >>> crit.forward_backward(np.array([-1.0, 2.0]), np.array([0.0, 1.0]))
        (np.float64(0.5901896985611954), array([ 0.21894142, -0.06920292]))
        """
        return _core.binary_cross_entropy_with_logits_forward_backward(
            input, target, self.weight, **self._kw(), num_threads=num_threads, out=out)

    def __repr__(self):
        w = None if self.weight is None else f"<array shape {getattr(self.weight, 'shape', '?')}>"
        pw = (None if self.pos_weight is None
              else f"<array shape {getattr(self.pos_weight, 'shape', '?')}>")
        return (f"BCEWithLogitsLoss(weight={w}, pos_weight={pw}, "
                f"reduction={self.reduction!r}, label_smoothing={self.label_smoothing!r})")


def _array_repr(a):
    return None if a is None else f"<array shape {getattr(a, 'shape', '?')}>"


class BCELoss:
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

    def __init__(self, weight=None, reduction="mean", label_smoothing=0.0):
        self.weight = weight
        self.reduction = reduction
        self.label_smoothing = label_smoothing

    def _kw(self):
        return dict(reduction=self.reduction, label_smoothing=self.label_smoothing)

    def __call__(self, input, target, *, num_threads=None, out=None):
        """The loss, with the object's settings.

        Parameters
        ----------
        input, target, num_threads, out
            As for :func:`cbce.binary_cross_entropy`.

        Examples
        --------
        >>> import numpy as np, cbce
        >>> cbce.BCELoss(reduction="sum")(np.array([0.5, 0.5]), np.array([0.0, 1.0]))
        np.float64(1.3862943611198906)
        """
        return _core.binary_cross_entropy(input, target, self.weight, **self._kw(),
                                          num_threads=num_threads, out=out)

    def backward(self, input, target, grad_output=1.0, *, num_threads=None, out=None):
        """The gradient d loss / d input, with the object's settings.

        Parameters
        ----------
        input, target, grad_output, num_threads, out
            As for :func:`cbce.binary_cross_entropy_backward`.

        Examples
        --------
        >>> import numpy as np, cbce
        >>> cbce.BCELoss(reduction="sum").backward(np.array([0.5, 0.5]), np.array([0.0, 1.0]))
        array([ 2., -2.])
        """
        return _core.binary_cross_entropy_backward(
            input, target, self.weight, **self._kw(), grad_output=grad_output,
            num_threads=num_threads, out=out)

    def forward_backward(self, input, target, *, num_threads=None, out=None):
        """``(loss, grad)`` from one pass over memory, with the object's settings.

        Parameters
        ----------
        input, target, num_threads, out
            As for :func:`cbce.binary_cross_entropy_forward_backward`.

        Examples
        --------
        >>> import numpy as np, cbce
        >>> cbce.BCELoss(reduction="sum").forward_backward(np.array([0.5, 0.5]),
        ...                                                np.array([0.0, 1.0]))
        (np.float64(1.3862943611198906), array([ 2., -2.]))
        """
        return _core.binary_cross_entropy_forward_backward(
            input, target, self.weight, **self._kw(), num_threads=num_threads, out=out)

    def __repr__(self):
        return (f"BCELoss(weight={_array_repr(self.weight)}, reduction={self.reduction!r}, "
                f"label_smoothing={self.label_smoothing!r})")


class SigmoidFocalLoss:
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
    SigmoidFocalLoss(alpha=None, gamma=0.5, reduction='mean')
    """

    def __init__(self, alpha=0.25, gamma=2.0, reduction="mean"):
        self.alpha = alpha
        self.gamma = gamma
        self.reduction = reduction

    def _kw(self):
        return dict(alpha=self.alpha, gamma=self.gamma, reduction=self.reduction)

    def __call__(self, input, target, *, num_threads=None, out=None):
        """The loss, with the object's settings.

        Parameters
        ----------
        input, target, num_threads, out
            As for :func:`cbce.sigmoid_focal_loss`.

        Examples
        --------
        >>> import numpy as np, cbce
        >>> crit = cbce.SigmoidFocalLoss(alpha=None, gamma=0.5)
        >>> crit(np.array([0.0, 2.0]), np.array([1.0, 1.0]))
        np.float64(0.266975976362739)
        """
        return _core.sigmoid_focal_loss(input, target, **self._kw(), num_threads=num_threads,
                                        out=out)

    def backward(self, input, target, grad_output=1.0, *, num_threads=None, out=None):
        """The gradient d loss / d input, with the object's settings.

        Parameters
        ----------
        input, target, grad_output, num_threads, out
            As for :func:`cbce.sigmoid_focal_loss_backward`.

        Examples
        --------
        >>> import numpy as np, cbce
        >>> crit = cbce.SigmoidFocalLoss(alpha=None, gamma=0.5)
        >>> crit.backward(np.array([0.0, 2.0]), np.array([1.0, 1.0]))
        array([-0.23804283, -0.03022763])
        """
        return _core.sigmoid_focal_loss_backward(input, target, **self._kw(),
                                                 grad_output=grad_output,
                                                 num_threads=num_threads, out=out)

    def forward_backward(self, input, target, *, num_threads=None, out=None):
        """``(loss, grad)`` from one pass over memory, with the object's settings.

        Parameters
        ----------
        input, target, num_threads, out
            As for :func:`cbce.sigmoid_focal_loss_forward_backward`.

        Examples
        --------
        >>> import numpy as np, cbce
        >>> crit = cbce.SigmoidFocalLoss(alpha=None, gamma=0.5)
        >>> crit.forward_backward(np.array([0.0, 2.0]), np.array([1.0, 1.0]))
        (np.float64(0.266975976362739), array([-0.23804283, -0.03022763]))
        """
        return _core.sigmoid_focal_loss_forward_backward(input, target, **self._kw(),
                                                         num_threads=num_threads, out=out)

    def __repr__(self):
        return (f"SigmoidFocalLoss(alpha={self.alpha!r}, gamma={self.gamma!r}, "
                f"reduction={self.reduction!r})")
