"""Shared by the XGBoost and LightGBM objectives: (grad, hess) from one pass of the core.

Design notes
------------
(a) Logistic: ``cbce.binary_cross_entropy_with_logits_grad_hess`` gives the gradient and the
    hessian of the per-row loss in one pass, sample weights and pos_weight applied inside.
    Focal (``gamma`` given): ``cbce.sigmoid_focal_loss_grad_hess``, label smoothing applied
    inside as well.  Any other family of the registry on logits (``loss=`` its function
    name, e.g. ``"poly1_loss"``, ``"asymmetric_loss"``) with its settings as keywords: its
    ``_grad_hess``.  The settings are checked once, by the core, with an empty call.
(b) The hessian is floored at ``min_hessian`` (times the sample weight, so a weight of 0
    still gives 0): a Newton step divides by it.  For the logistic loss the true hessian is
    positive but underflows to 0 at large margins; XGBoost's built-in ``binary:logistic``
    floors ``p * (1 - p)`` at 1e-16 the same way, so the plain objective reproduces it.  The
    focal hessian is negative where the loss is locally concave (misclassified points far
    from the boundary); there the floor turns Newton into a (large) gradient step.
(c) The margins are used as the framework hands them over (float32 from XGBoost, float64
    from LightGBM); results have their dtype, as both frameworks expect.  Labels arrive flat
    and are reshaped to the margins' shape (multi-output models); per-row weights are
    broadcast across the outputs.
"""
from __future__ import annotations

import textwrap
from typing import Any, Callable, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

import cbce as _cbce
from cbce._registry import FAMILIES as _FAMILIES

_GradHess = tuple[NDArray[np.floating[Any]], NDArray[np.floating[Any]]]


def _family_grad_hess(loss: str, pos_weight: ArrayLike, label_smoothing: float,
                      gamma: float | None, alpha: float | None, settings: dict[str, Any]
                      ) -> tuple[Any, dict[str, Any]]:
    """The ``_grad_hess`` function of registry family ``loss`` (its Python name) and its
    keywords: ``settings``, and those of pos_weight, label_smoothing, gamma, alpha given
    other than their defaults (a family that does not take one raises TypeError)."""
    families: tuple[dict[str, Any], ...] = _FAMILIES
    fam = next((f for f in families if loss in (f["python"], f["name"])), None)
    if fam is None or fam["probs"]:
        names = ", ".join(repr(f["python"]) for f in families if not f["probs"])
        raise ValueError(f"loss must be one of {names} (a loss on logits), got {loss!r}")
    kw = dict(settings)
    given = dict(label_smoothing=label_smoothing != 0.0, gamma=gamma is not None,
                 alpha=alpha is not None)
    for name, value in (("label_smoothing", label_smoothing), ("gamma", gamma),
                        ("alpha", alpha)):
        if given[name]:
            kw[name] = value
    if np.any(np.asarray(pos_weight) != 1.0):
        kw["pos_weight"] = pos_weight
    return getattr(_cbce, fam["python"] + "_grad_hess"), kw


def make_grad_hess(pos_weight: ArrayLike = 1.0, label_smoothing: float = 0.0,
                   gamma: float | None = None, alpha: float | None = None,
                   min_hessian: float = 1e-16, loss: str | None = None,
                   settings: dict[str, Any] | None = None
                   ) -> Callable[[ArrayLike, ArrayLike, ArrayLike | None], _GradHess]:
    """Validate the settings once; return ``grad_hess(preds, labels, weights)``."""
    if not (float(min_hessian) > 0.0 and np.isfinite(min_hessian)):
        raise ValueError(f"min_hessian must be positive and finite, got {min_hessian!r}")
    focal = gamma is not None
    fn: Any
    kw: dict[str, Any]
    if settings and loss is None:
        raise TypeError(f"settings {sorted(settings)} need loss= (the loss they belong to)")
    if loss is not None:
        fn, kw = _family_grad_hess(loss, pos_weight, label_smoothing, gamma, alpha,
                                   settings or {})
        fn(np.zeros(0), np.zeros(0), **kw)  # the core's checks, before any data
    elif focal:
        if np.any(np.asarray(pos_weight) != 1.0):
            raise ValueError("pos_weight applies to the logistic loss only; for the focal "
                             "loss (gamma given) balance the classes with alpha")
        fn = _cbce.sigmoid_focal_loss_grad_hess
        kw = dict(alpha=alpha, gamma=gamma, label_smoothing=label_smoothing)
    else:
        if alpha is not None:
            raise ValueError("alpha applies to the focal loss only: give gamma as well "
                             "(gamma=0 with alpha is the alpha-balanced logistic loss)")
        fn = _cbce.binary_cross_entropy_with_logits_grad_hess
        kw = dict(label_smoothing=label_smoothing)
    if loss is None:
        fn(np.zeros(0), np.zeros(0), **kw)  # the core's checks of the settings, before any data
        if not focal and np.any(np.asarray(pos_weight) != 1.0):
            kw["pos_weight"] = pos_weight
    floor = float(min_hessian)

    def grad_hess(preds: ArrayLike, labels: ArrayLike, weights: ArrayLike | None) -> _GradHess:
        x = np.asarray(preds)
        if x.dtype not in (np.float32, np.float64):
            x = x.astype(np.float64)
        y = np.asarray(labels)
        if y.shape != x.shape:
            if y.size != x.size:
                raise ValueError(f"{y.size} labels for predictions of shape {x.shape}")
            y = y.reshape(x.shape)
        w = None
        if weights is not None and np.size(weights) > 0:
            w = np.asarray(weights, dtype=x.dtype)
            if x.ndim == 2 and w.ndim == 1 and w.shape[0] == x.shape[0]:
                w = w[:, None]
        g, h = fn(x, y, w, **kw)
        np.maximum(h, floor if w is None else floor * w, out=h)
        return g, h

    return grad_hess


def framework_objective(name: str, pos_weight: ArrayLike, label_smoothing: float,
                        gamma: float | None, alpha: float | None, min_hessian: float,
                        loss: str | None = None, settings: dict[str, Any] | None = None
                        ) -> Callable[[ArrayLike, Any], _GradHess]:
    """``f(preds, data) -> (grad, hess)`` for XGBoost and LightGBM alike: both data sets
    give ``get_label()`` and ``get_weight()``."""
    grad_hess = make_grad_hess(pos_weight, label_smoothing, gamma, alpha, min_hessian, loss,
                               settings)

    def objective(preds: ArrayLike, data: Any) -> _GradHess:
        return grad_hess(preds, data.get_label(), data.get_weight())

    objective.__qualname__ = objective.__name__ = name
    return objective


_OBJECTIVE_DOC = """{summary}

    Parameters
    ----------
    pos_weight : float or array_like
        {pos_weight}
    label_smoothing : float in [0, 1]
        ``y -> y * (1 - eps) + eps / 2``.
    gamma : float >= 0, optional
        Selects the sigmoid focal loss with this focusing exponent; otherwise logistic.
    alpha : float, optional
        Focal loss only: weight of the positive class (``1 - alpha`` for the negative).
    loss : str, optional
        Another loss on logits, by its function name (``"poly1_loss"``,
        ``"poly1_focal_loss"``, ``"asymmetric_loss"``, ...); its settings as further
        keywords (``epsilon=``, ``gamma_neg=``, ``clip=``, ...), the defaults its function's.
    min_hessian : float > 0
        {min_hessian}

    Returns
    -------
    callable
        {returns}

    Notes
    -----
    {notes}
    """


Objective = Callable[[ArrayLike, Any], _GradHess]


class ObjectiveFunction(Protocol):
    """The type of a framework's ``objective(...)`` (made by objective_function)."""

    def __call__(self, *, pos_weight: ArrayLike = ..., label_smoothing: float = ...,
                 gamma: float | None = ..., alpha: float | None = ...,
                 min_hessian: float = ..., loss: str | None = ..., **settings: float
                 ) -> Objective: ...


def objective_function(name: str, module: str, **doc_parts: str) -> ObjectiveFunction:
    """A framework's public ``objective(...)``, in module `module`, making objectives named
    `name`; its docstring is the text above with the framework's own parts (summary,
    pos_weight, min_hessian, returns, notes)."""
    def objective(*, pos_weight: ArrayLike = 1.0, label_smoothing: float = 0.0,
                  gamma: float | None = None, alpha: float | None = None,
                  min_hessian: float = 1e-16, loss: str | None = None, **settings: float
                  ) -> Objective:
        return framework_objective(name, pos_weight, label_smoothing, gamma, alpha,
                                   min_hessian, loss, settings)

    indent = dict(summary=4, pos_weight=8, min_hessian=8, returns=8, notes=4)
    objective.__doc__ = _OBJECTIVE_DOC.format(**{
        k: textwrap.indent(textwrap.dedent(v).strip(), " " * indent[k]).lstrip()
        for k, v in doc_parts.items()})
    objective.__module__ = module
    return objective
