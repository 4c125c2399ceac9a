"""cbce.integrations.xgboost / .lightgbm: custom objectives.

* the objective's (grad, hess) against the textbook formulas written in NumPy (logistic with
  pos_weight, label smoothing and sample weights) and against central finite differences
  of an independent NumPy focal loss;
* the hessian floor (underflow at large margins, negative focal hessians, weight 0);
* the plain logistic objective trains the same model as the built-in ``binary:logistic``
  (XGBoost) / ``binary`` (LightGBM): margins compared after 20 rounds;
* the focal objective trains and lowers its loss.

Both frameworks run with one thread: their OpenMP pools spin, which on a busy 2-core CI
machine costs 50x; one thread also makes them deterministic.
"""
import importlib
import os

import numpy as np
import pytest

import cbce
from reference import report_ulp


def _need(name):
    """The framework, or a skip; a failure under CBCE_REQUIRE_INTEGRATIONS=1 (CI)."""
    if os.environ.get("CBCE_REQUIRE_INTEGRATIONS"):
        return importlib.import_module(name)
    return pytest.importorskip(name)


xgb = _need("xgboost")
lgb = _need("lightgbm")
from cbce.integrations import lightgbm as clgb  # noqa: E402
from cbce.integrations import xgboost as cxgb  # noqa: E402

N = 1500
XGB_PARAMS = {"max_depth": 3, "eta": 0.3, "nthread": 1, "tree_method": "hist"}
LGB_PARAMS = {"num_leaves": 8, "learning_rate": 0.3, "verbose": -1, "num_threads": 1,
              "deterministic": True, "seed": 1}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(8)
    X = rng.normal(size=(N, 5))
    y = (X[:, 0] - X[:, 1] * X[:, 2] + rng.normal(size=N) > 0.5).astype(np.float32)
    w = rng.uniform(0.2, 2.0, size=N)
    return X, y, w


class _Data:
    """Stands in for a DMatrix / lightgbm.Dataset: the two methods the objectives call."""

    def __init__(self, label, weight):
        self.label, self.weight = label, weight

    def get_label(self):
        return self.label

    def get_weight(self):
        return self.weight


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _np_focal(x, y, alpha, gamma):
    """torchvision's formula in float64 NumPy (independent of cbce)."""
    p = _sigmoid(x)
    ce = np.logaddexp(0.0, x) - x * y
    p_t = p * y + (1 - p) * (1 - y)
    a_t = 1.0 if alpha is None else alpha * y + (1 - alpha) * (1 - y)
    return a_t * (1 - p_t) ** gamma * ce


@pytest.mark.parametrize("module", [cxgb, clgb], ids=["xgboost", "lightgbm"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("pw,eps,weighted", [(1.0, 0.0, False), (3.0, 0.0, True),
                                             (0.5, 0.2, True), (1.0, 0.1, False)])
def test_logistic_grad_hess_formula(module, dtype, pw, eps, weighted):
    rng = np.random.default_rng(1)
    x = (rng.normal(size=400) * 4).astype(dtype)
    y = (rng.random(400) < 0.3).astype(np.float32)
    w = rng.uniform(0, 2, size=400).astype(np.float32) if weighted else np.array([])
    g, h = module.objective(pos_weight=pw, label_smoothing=eps)(
        x, _Data(y, w if weighted or module is cxgb else None))
    assert g.dtype == dtype and h.dtype == dtype and g.shape == x.shape
    x64, ys = x.astype(np.float64), y.astype(np.float64) * (1 - eps) + eps / 2
    c = 1 + (pw - 1) * ys
    ww = w if weighted else 1.0
    g_ref = ww * (c * _sigmoid(x64) - pw * ys)
    h_ref = np.maximum(ww * c * _sigmoid(x64) * _sigmoid(-x64), 1e-16 * ww)
    tol = 4 * np.finfo(dtype).eps
    case = f"{module.__name__} {np.dtype(dtype)} pos_weight={pw} eps={eps} weighted={weighted}"
    np.testing.assert_allclose(g, g_ref, rtol=tol, atol=tol * np.abs(g_ref).max(), err_msg=case)
    np.testing.assert_allclose(h, h_ref, rtol=tol, atol=tol * np.abs(h_ref).max(), err_msg=case)


@pytest.mark.parametrize("alpha,gamma,eps", [(None, 2.0, 0.0), (0.25, 2.0, 0.0),
                                             (0.7, 0.5, 0.1), (None, 1.0, 0.0)])
def test_focal_grad_hess_finite_differences(alpha, gamma, eps):
    rng = np.random.default_rng(2)
    x = rng.normal(size=300) * 3
    y = (rng.random(300) < 0.5).astype(np.float64)
    w = rng.uniform(0.1, 2, size=300)
    g, h_floored = clgb.objective(gamma=gamma, alpha=alpha, label_smoothing=eps)(
        x, _Data(y, w))
    ys = y * (1 - eps) + eps / 2
    d = 1e-5
    f = lambda t: w * _np_focal(t, ys, alpha, gamma)  # noqa: E731
    g_fd = (f(x + d) - f(x - d)) / (2 * d)
    h_fd = (f(x + d) - 2 * f(x) + f(x - d)) / d**2
    case = f"alpha={alpha} gamma={gamma} eps={eps}"
    np.testing.assert_allclose(g, g_fd, rtol=1e-6, atol=1e-8, err_msg=case)
    np.testing.assert_allclose(h_floored, np.maximum(h_fd, 1e-16 * w), rtol=1e-3, atol=2e-5,
                               err_msg=case)
    if gamma == 2.0:
        assert (h_fd < -1e-3).any(), "no negative hessian in the sample: the floor is untested"


def test_hessian_floor():
    x = np.array([-60.0, 60.0, 0.0, 60.0], dtype=np.float32)
    y = np.array([0.0, 1.0, 1.0, 1.0], dtype=np.float32)
    w = np.array([2.0, 1.0, 1.0, 0.0], dtype=np.float32)
    g, h = cxgb.objective()(x, _Data(y, w))
    assert h[0] == np.float32(2e-16) and h[1] == np.float32(1e-16), h  # underflowed, floored
    assert h[2] == np.float32(0.25) and h[3] == 0.0, h                  # weight 0 stays 0
    g, h = cxgb.objective(min_hessian=1e-3)(x, _Data(y, np.array([])))
    assert (h[[0, 1, 3]] == np.float32(1e-3)).all(), h
    # focal: the true hessian is negative at x=-3, y=1 (cbce.sigmoid_focal_loss_grad_hess)
    xf, yf = np.array([-3.0, 0.0]), np.array([1.0, 1.0])
    assert cbce.sigmoid_focal_loss_grad_hess(xf, yf, alpha=None, gamma=2.0)[1][0] < 0
    g, h = clgb.objective(gamma=2.0)(xf, _Data(yf, None))
    assert h[0] == 1e-16 and h[1] > 0.3, h


def test_bad_settings():
    with pytest.raises(ValueError, match="alpha"):
        cxgb.objective(alpha=0.25)
    with pytest.raises(ValueError, match="pos_weight"):
        clgb.objective(gamma=2.0, pos_weight=2.0)
    with pytest.raises(ValueError, match="gamma"):
        clgb.objective(gamma=-1.0)
    with pytest.raises(ValueError, match="label_smoothing"):
        cxgb.objective(label_smoothing=2.0)
    with pytest.raises(ValueError, match="min_hessian"):
        cxgb.objective(min_hessian=0.0)
    with pytest.raises(ValueError, match="labels"):
        cxgb.objective()(np.zeros(3, np.float32), _Data(np.zeros(4, np.float32), np.array([])))


@pytest.mark.parametrize("pw,weighted", [(1.0, False), (1.0, True), (3.0, True)])
def test_xgboost_matches_builtin_binary_logistic(data, pw, weighted):
    X, y, w = data
    d = xgb.DMatrix(X, label=y, weight=w if weighted else None, base_margin=np.zeros(N))
    b1 = xgb.train({**XGB_PARAMS, "objective": "binary:logistic", "scale_pos_weight": pw},
                   d, 20)
    b2 = xgb.train(XGB_PARAMS, d, 20, obj=cxgb.objective(pos_weight=pw))
    m1, m2 = b1.predict(d, output_margin=True), b2.predict(d, output_margin=True)
    err = float(np.abs(m1 - m2).max() / np.abs(m1).max())
    report_ulp("xgboost vs binary:logistic: max |margin diff| / max|margin| (x 1e-5)",
               err / 1e-5, 1.0)
    assert err <= 1e-5, f"pos_weight={pw} weighted={weighted}: margins differ by {err:.3g}"
    # the models are the same, not just close: same predicted class everywhere
    assert np.array_equal(m1 > 0, m2 > 0)


def test_xgboost_multi_output(data):
    X, y, w = data
    Y = np.stack([y, 1 - y, (X[:, 3] > 0).astype(np.float32)], axis=1)
    d = xgb.DMatrix(X, label=Y, weight=w, base_margin=np.zeros((N, 3)))
    b1 = xgb.train({**XGB_PARAMS, "objective": "binary:logistic"}, d, 10)
    b2 = xgb.train(XGB_PARAMS, d, 10, obj=cxgb.objective())
    m1, m2 = b1.predict(d, output_margin=True), b2.predict(d, output_margin=True)
    assert m2.shape == (N, 3)
    assert np.abs(m1 - m2).max() <= 1e-5 * np.abs(m1).max()


@pytest.mark.parametrize("pw,weighted", [(1.0, False), (1.0, True), (3.0, True)])
def test_lightgbm_matches_builtin_binary(data, pw, weighted):
    X, y, w = data
    ww = w if weighted else None
    l1 = lgb.train({**LGB_PARAMS, "objective": "binary", "boost_from_average": False,
                    "scale_pos_weight": pw}, lgb.Dataset(X, label=y, weight=ww), 20)
    l2 = lgb.train({**LGB_PARAMS, "objective": clgb.objective(pos_weight=pw)},
                   lgb.Dataset(X, label=y, weight=ww), 20)
    r1, r2 = l1.predict(X, raw_score=True), l2.predict(X)
    err = float(np.abs(r1 - r2).max() / np.abs(r1).max())
    report_ulp("lightgbm vs binary: max |score diff| / max|score| (x 1e-9)", err / 1e-9, 1.0)
    assert err <= 1e-9, f"pos_weight={pw} weighted={weighted}: scores differ by {err:.3g}"


def _focal_mean(margins, y):
    return float(cbce.sigmoid_focal_loss(np.asarray(margins, np.float64), y, alpha=0.25,
                                         gamma=2.0))


def test_focal_objectives_train(data):
    X, y, _ = data
    start = _focal_mean(np.zeros(N), y)
    d = xgb.DMatrix(X, label=y, base_margin=np.zeros(N))
    curve = []
    booster = None
    for _ in range(6):
        booster = xgb.train(XGB_PARAMS, d, 5, obj=cxgb.objective(gamma=2.0, alpha=0.25),
                            xgb_model=booster)
        curve.append(_focal_mean(booster.predict(d, output_margin=True), y))
    assert all(b < a for a, b in zip([start] + curve, curve)), f"xgboost: {start} {curve}"
    assert curve[-1] < 0.6 * start, f"xgboost focal loss {start} -> {curve[-1]}"
    booster = lgb.train({**LGB_PARAMS, "objective": clgb.objective(gamma=2.0, alpha=0.25)},
                        lgb.Dataset(X, label=y), 30)
    curve = [_focal_mean(booster.predict(X, num_iteration=k), y) for k in (5, 10, 20, 30)]
    assert all(b < a for a, b in zip([start] + curve, curve)), f"lightgbm: {start} {curve}"
    assert curve[-1] < 0.6 * start, f"lightgbm focal loss {start} -> {curve[-1]}"


# ---- any registry family on logits by name (loss=) ---------------------------------------------

def _np_asymmetric(x, y, gp, gn, clip):
    """The ASL paper's formula in float64 NumPy (soft labels: the y-weighted sum)."""
    p = _sigmoid(x)
    pm = np.maximum(p - clip, 0)
    return y * (1 - p) ** gp * -np.log(p) + (1 - y) * pm ** gn * -np.log1p(-pm)


def _np_poly1(x, y, eps):
    p = _sigmoid(x)
    return np.logaddexp(0.0, x) - x * y + eps * (y * (1 - p) + (1 - y) * p)


@pytest.mark.parametrize("module", [cxgb, clgb], ids=["xgboost", "lightgbm"])
@pytest.mark.parametrize("loss,settings,ref", [
    ("asymmetric_loss", dict(gamma_pos=1.0, gamma_neg=3.0, clip=0.05),
     lambda x, y: _np_asymmetric(x, y, 1.0, 3.0, 0.05)),
    ("poly1_loss", dict(epsilon=2.0), lambda x, y: _np_poly1(x, y, 2.0)),
    ("poly1_focal_loss", dict(epsilon=1.0, gamma=2.0, alpha=0.25),
     lambda x, y: _np_focal(x, y, 0.25, 2.0) + (y * (1 - _sigmoid(x)) +
                                                (1 - y) * _sigmoid(x)) ** 3)])
def test_registry_losses_grad_hess_finite_differences(module, loss, settings, ref):
    rng = np.random.default_rng(3)
    x = rng.uniform(-5, 5, 400)
    y = (rng.random(400) < 0.4).astype(np.float64)
    w = rng.uniform(0.5, 2, 400)
    obj = module.objective(loss=loss, **settings)
    g, h = obj(x, _Data(y, w))
    d = 1e-5
    fd_g = (ref(x + d, y) - ref(x - d, y)) / (2 * d)
    fd_h = (ref(x + d, y) - 2 * ref(x, y) + ref(x - d, y)) / d ** 2
    np.testing.assert_allclose(g, w * fd_g, rtol=1e-6, atol=1e-8, err_msg=f"{loss} gradient")
    want_h = np.maximum(w * fd_h, 1e-16 * w)
    np.testing.assert_allclose(h, want_h, rtol=1e-3, atol=1e-5, err_msg=f"{loss} hessian")
    gg, hh = getattr(cbce, loss + "_grad_hess")(x, y, w[:, None][:, 0], **settings)
    np.testing.assert_array_equal(g, gg)
    np.testing.assert_array_equal(h, np.maximum(hh, 1e-16 * w))


def test_registry_loss_selection_errors():
    with pytest.raises(ValueError, match="loss must be one of"):
        cxgb.objective(loss="binary_cross_entropy")  # on probabilities
    with pytest.raises(ValueError, match="loss must be one of"):
        clgb.objective(loss="hinge")
    with pytest.raises(TypeError, match="need loss="):
        cxgb.objective(clip=0.1)
    with pytest.raises(ValueError, match="clip"):
        cxgb.objective(loss="asymmetric_loss", clip=1.5)
    with pytest.raises(TypeError):
        clgb.objective(loss="asymmetric_loss", epsilon=1.0)  # not an asymmetric setting
    with pytest.raises(TypeError):
        cxgb.objective(loss="asymmetric_loss", pos_weight=2.0)


def test_asymmetric_objective_trains(data):
    X, y, _ = data

    def mean_loss(m):
        return float(cbce.asymmetric_loss(np.asarray(m, np.float64), y))

    start = mean_loss(np.zeros(N))
    d = xgb.DMatrix(X, label=y, base_margin=np.zeros(N))
    booster = xgb.train(XGB_PARAMS, d, 20, obj=cxgb.objective(loss="asymmetric_loss"))
    assert mean_loss(booster.predict(d, output_margin=True)) < 0.7 * start
    booster = lgb.train({**LGB_PARAMS, "objective": clgb.objective(loss="asymmetric_loss")},
                        lgb.Dataset(X, label=y), 20)
    assert mean_loss(booster.predict(X)) < 0.7 * start
