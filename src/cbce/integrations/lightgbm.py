"""LightGBM custom objectives computed by cbce: logistic (pos_weight, label smoothing) and
focal loss, ``(grad, hess)`` from one pass of the C core.

Nothing from LightGBM is imported: the objective only calls ``train_data.get_label()`` and
``train_data.get_weight()``.

Example
-------
>>> import numpy as np, lightgbm as lgb
>>> from cbce.integrations.lightgbm import objective
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(200, 3)); y = (X[:, 0] + rng.normal(size=200) > 0).astype(float)
>>> params = {"objective": objective(gamma=2.0, alpha=0.25), "verbose": -1}
>>> booster = lgb.train(params, lgb.Dataset(X, label=y), num_boost_round=5)
>>> booster.predict(X).shape        # raw scores (logits): apply a sigmoid
(200,)
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._objective import framework_objective

__all__ = ["objective"]


def objective(*, pos_weight: ArrayLike = 1.0, label_smoothing: float = 0.0,
              gamma: float | None = None, alpha: float | None = None,
              min_hessian: float = 1e-16, loss: str | None = None, **settings: float
              ) -> Callable[[NDArray[np.floating[Any]], Any],
                            tuple[NDArray[np.floating[Any]], NDArray[np.floating[Any]]]]:
    """A custom objective ``f(preds, train_data) -> (grad, hess)`` for
    ``params["objective"] = f`` in ``lightgbm.train``.

    Parameters
    ----------
    pos_weight : float or array_like
        Weight of the positive class in the logistic loss (``scale_pos_weight`` of the
        built-in ``binary`` objective, for hard labels).
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
        The hessian is floored at ``min_hessian * sample_weight`` (default 1e-16).

    Returns
    -------
    callable
        ``f(preds, train_data)``: ``preds`` are raw scores (logits), the weights of
        ``train_data`` are applied.  ``Booster.predict`` then returns raw scores: apply a
        sigmoid (``cbce.sigmoid``) for probabilities.

    Notes
    -----
    With a custom objective LightGBM starts from a score of 0 (or the Dataset's
    ``init_score``); the plain objective reproduces ``objective="binary"`` with
    ``boost_from_average=False``.
    """
    return framework_objective("cbce_lightgbm_objective", pos_weight, label_smoothing, gamma,
                               alpha, min_hessian, loss, settings)
