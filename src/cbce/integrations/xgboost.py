"""XGBoost custom objectives computed by cbce: logistic (pos_weight, label smoothing) and
focal loss, ``(grad, hess)`` from one pass of the C core.

Nothing from XGBoost is imported: the objective only calls ``dtrain.get_label()`` and
``dtrain.get_weight()``, so it works with ``xgboost.train`` and with ``xgboost.dask.train``.

Example
-------
>>> import numpy as np, xgboost as xgb
>>> from cbce.integrations.xgboost import objective
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(200, 3)); y = (X[:, 0] + rng.normal(size=200) > 0).astype(float)
>>> dtrain = xgb.DMatrix(X, label=y, base_margin=np.zeros(200))
>>> booster = xgb.train({"max_depth": 2}, dtrain, num_boost_round=5,
...                     obj=objective(pos_weight=2.0, label_smoothing=0.05))
>>> margins = booster.predict(dtrain, output_margin=True)   # logits: apply a sigmoid
>>> margins.shape
(200,)
"""
from __future__ import annotations

from ._objective import objective_function

__all__ = ["objective"]

objective = objective_function(
    "cbce_xgboost_objective", __name__,
    summary="""\
        A custom objective ``f(predt, dtrain) -> (grad, hess)`` for ``xgboost.train(obj=f)``.
        """,
    pos_weight="""\
        Weight of the positive class in the logistic loss (XGBoost's ``scale_pos_weight``
        for hard labels); an array broadcasts over the outputs of a multi-output model.
        """,
    min_hessian="""\
        The hessian is floored at ``min_hessian * sample_weight`` (default 1e-16, as
        ``binary:logistic``); the focal hessian is negative in places, the floor keeps every
        Newton step defined.
        """,
    returns="""\
        ``f(predt, dtrain)``: ``predt`` are the raw margins (logits), the sample weights of
        ``dtrain`` are applied.  Predict with ``output_margin=True`` and apply a sigmoid
        (``cbce.sigmoid``) for probabilities.
        """,
    notes="""\
        With a custom objective XGBoost does not estimate an intercept: give
        ``base_margin`` (e.g. zeros) or ``base_score`` yourself.  The plain objective
        (defaults) reproduces ``objective="binary:logistic"`` started from the same margin.
        """)
