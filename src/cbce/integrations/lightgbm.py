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

from ._objective import objective_function

__all__ = ["objective"]

objective = objective_function(
    "cbce_lightgbm_objective", __name__,
    summary="""\
        A custom objective ``f(preds, train_data) -> (grad, hess)`` for
        ``params["objective"] = f`` in ``lightgbm.train``.
        """,
    pos_weight="""\
        Weight of the positive class in the logistic loss (``scale_pos_weight`` of the
        built-in ``binary`` objective, for hard labels).
        """,
    min_hessian="""\
        The hessian is floored at ``min_hessian * sample_weight`` (default 1e-16).
        """,
    returns="""\
        ``f(preds, train_data)``: ``preds`` are raw scores (logits), the weights of
        ``train_data`` are applied.  ``Booster.predict`` then returns raw scores: apply a
        sigmoid (``cbce.sigmoid``) for probabilities.
        """,
    notes="""\
        With a custom objective LightGBM starts from a score of 0 (or the Dataset's
        ``init_score``); the plain objective reproduces ``objective="binary"`` with
        ``boost_from_average=False``.
        """)
