"""cbce.integrations.dask: chunk by chunk, equal to cbce on the whole NumPy array.

The reference is cbce's own NumPy result on the computed arrays (itself tested against the
80-digit references elsewhere): the point here is that chunking changes nothing.
* elementwise losses and every gradient: bitwise equal, uneven chunks, broadcast weights;
* reduced losses: float16/float32 bitwise equal except BCE with logits (within 1 ulp: the
  float64 block sums against cbce's float32 kernel), float64 within 1 ulp (the measured
  maximum is reported), over several chunkings;
* laziness, validation when the graph is built, empty and 0-d inputs;
* a ``dask.distributed`` LocalCluster of 2 worker processes computes the same numbers,
  with the blocks spread over both workers, and XGBoost's Dask interface trains with the
  cbce objective to the model of the built-in ``binary:logistic``.
"""
import importlib
import os
from fractions import Fraction

import numpy as np
import pytest

import cbce
from cbce._registry import FAMILIES as REGISTRY
from reference import report_ulp


def _need(name):
    """The framework, or a skip; a failure under CBCE_REQUIRE_INTEGRATIONS=1 (CI)."""
    if os.environ.get("CBCE_REQUIRE_INTEGRATIONS"):
        return importlib.import_module(name)
    return pytest.importorskip(name)


da = _need("dask.array")
cd = _need("cbce.integrations.dask")

# every registry family: (dask loss, cbce loss, dask backward, cbce backward), and settings
# other than the defaults (per parameter; a parameter not listed keeps its default)
SETTINGS = {"label_smoothing": 0.1, "alpha": 0.3, "gamma": 1.5, "epsilon": -0.5,
            "gamma_pos": 1.0, "gamma_neg": 2.0, "clip": 0.1}
BY_NAME = {f["name"]: f for f in REGISTRY}
FAMILIES = {f["name"]: tuple(getattr(m, f["python"] + s) for s in ("", "_backward")
                             for m in (cd, cbce))
            for f in REGISTRY}
KW = {f["name"]: {p: SETTINGS.get(p, d) for p, d in f["params"]} for f in REGISTRY}
DTYPES = [np.float16, np.float32, np.float64]


def _case(family, dtype, seed, n=6000, c=5):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, c)) * 4
    if BY_NAME[family]["probs"]:
        x = 1 / (1 + np.exp(-x))
    x = x.astype(dtype)
    y = (rng.random((n, c)) < 0.3).astype(np.float32)
    w = rng.uniform(0.0, 2.0, size=(c,))
    w[1] = 0.0
    pw = rng.uniform(0.5, 3.0, size=(n, 1)) if BY_NAME[family]["pos_weight"] else None
    return x, y, w, pw


def _chunked(x, y, w, pw, chunks):
    X = da.from_array(x, chunks=chunks)
    Y = da.from_array(y, chunks=(x.shape[0] // 2 + 1, x.shape[1]))   # chunked differently
    W = da.from_array(w, chunks=2)
    PW = None if pw is None else da.from_array(pw, chunks=(977, 1))
    return X, Y, W, PW


def _ulps(a, b):
    a, b = np.float64(a), np.asarray(b)
    return abs(a - np.float64(b)) / np.spacing(np.abs(b).astype(b.dtype)).astype(np.float64)


def assert_gradient_matches(got, want, what):
    """Bitwise, for every reduction and dtype."""
    np.testing.assert_array_equal(got, want, err_msg=what)


@pytest.mark.parametrize("family", list(FAMILIES))
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_elementwise_and_gradients_are_bitwise(family, dtype):
    fwd_d, fwd_n, bwd_d, bwd_n = FAMILIES[family]
    x, y, w, pw = _case(family, dtype, 1)
    X, Y, W, PW = _chunked(x, y, w, pw, (1300, 3))
    kw = dict(KW[family])
    if pw is not None:
        kw_d, kw_n = dict(kw, pos_weight=PW), dict(kw, pos_weight=pw)
    else:
        kw_d = kw_n = kw
    got = fwd_d(X, Y, W, reduction="none", **kw_d)
    assert isinstance(got, da.Array) and got.chunks == X.chunks
    want = fwd_n(x, y, w, reduction="none", **kw_n)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got.compute(), want, err_msg=f"{family} none")
    go = np.random.default_rng(2).normal(size=(x.shape[0], 1))
    for reduction, g_d, g_n in [("none", 0.5, 0.5), ("none", da.from_array(go, chunks=500), go),
                                ("sum", 1.5, 1.5), ("mean", 1.5, 1.5),
                                ("weighted_mean", 2.0, 2.0)]:
        got = bwd_d(X, Y, W, reduction=reduction, grad_output=g_d, **kw_d).compute()
        want = bwd_n(x, y, w, reduction=reduction, grad_output=g_n, **kw_n)
        assert got.dtype == want.dtype
        assert_gradient_matches(got, want, f"{family} backward {reduction}")


@pytest.mark.parametrize("family", list(FAMILIES))
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_reduced_losses_equal_numpy(family, dtype):
    fwd_d, fwd_n = FAMILIES[family][:2]
    worst = 0.0
    for seed, chunks in [(3, (1000, 5)), (4, (777, 2)), (5, (6000, 1)), (6, (50, 5))]:
        x, y, w, pw = _case(family, dtype, seed, n=3000 if dtype == np.float16 else 6000)
        X, Y, W, PW = _chunked(x, y, w, pw, chunks)
        kw_d, kw_n = dict(KW[family]), dict(KW[family])
        if pw is not None:
            kw_d["pos_weight"], kw_n["pos_weight"] = PW, pw
        for reduction in ("sum", "mean", "weighted_mean"):
            if dtype == np.float16 and reduction == "sum":
                continue   # overflows float16 (both give inf)
            lazy = fwd_d(X, Y, W, reduction=reduction, **kw_d)
            assert isinstance(lazy, da.Array) and lazy.shape == ()
            got = lazy.compute()
            want = fwd_n(x, y, w, reduction=reduction, **kw_n)
            assert got.dtype == want.dtype == np.dtype(dtype)
            case = f"{family} {np.dtype(dtype)} {reduction} chunks={chunks}: {got!r} vs {want!r}"
            if dtype == np.float64 or family == "bce_logits":
                err = _ulps(got, want)
                worst = max(worst, err)
                assert err <= 1, case
            else:
                assert got == want, case
    report_ulp(f"dask reduced {family} {np.dtype(dtype)} vs numpy", worst,
               1 if dtype == np.float64 or family == "bce_logits" else 0)


def test_lazy_until_computed():
    def boom(b):
        raise RuntimeError("computed too early")

    X = da.zeros((100, 4), chunks=25).map_blocks(boom, dtype=np.float64)
    Y = da.zeros((100, 4), chunks=50)
    results = [cd.binary_cross_entropy_with_logits(X, Y),
               cd.binary_cross_entropy_with_logits(X, Y, np.ones(4), reduction="weighted_mean"),
               cd.sigmoid_focal_loss(X, Y, reduction="none"),
               cd.binary_cross_entropy_backward(X, Y, np.ones(4), reduction="weighted_mean")]
    for r in results:
        assert isinstance(r, da.Array)
        with pytest.raises(RuntimeError, match="too early"):
            r.compute()


def test_errors_when_building_the_graph():
    X = da.zeros((10, 4), chunks=5)
    with pytest.raises(ValueError, match=r"\(10, 3\)"):
        cd.binary_cross_entropy_with_logits(X, da.zeros((10, 3)))
    with pytest.raises(ValueError, match="does not broadcast"):
        cd.binary_cross_entropy_with_logits(X, X, np.ones(3))
    with pytest.raises(ValueError, match="pos_weight"):
        cd.binary_cross_entropy_with_logits(X, X, pos_weight=np.ones((3, 1)))
    with pytest.raises(ValueError, match="reduction"):
        cd.binary_cross_entropy(X, X, reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing"):
        cd.binary_cross_entropy_with_logits(X, X, label_smoothing=-0.1)
    with pytest.raises(ValueError, match="gamma"):
        cd.sigmoid_focal_loss(X, X, gamma=-1.0)
    with pytest.raises(TypeError, match="int64"):
        cd.binary_cross_entropy_with_logits(da.zeros((3,), dtype=np.int64), np.zeros(3))
    with pytest.raises(ValueError, match="scalar"):
        cd.binary_cross_entropy_with_logits_backward(X, X, reduction="sum",
                                                     grad_output=np.ones(4))
    bad = cd.binary_cross_entropy(da.full((10,), 1.5, chunks=5), np.zeros(10))
    with pytest.raises(ValueError):
        bad.compute()   # values are checked when their block is computed


def test_empty_and_zero_dimensional():
    e = da.zeros((0, 3), chunks=1)
    assert np.isnan(cd.binary_cross_entropy_with_logits(e, e).compute())
    assert cd.binary_cross_entropy_with_logits(e, e, reduction="sum").compute() == 0
    x = np.float64(0.3)
    for reduction in ("none", "sum", "mean", "weighted_mean"):
        got = cd.sigmoid_focal_loss(da.from_array(np.array(x)), 1.0, reduction=reduction)
        assert got.compute() == cbce.sigmoid_focal_loss(x, 1.0, reduction=reduction), reduction


# ---- on a cluster of worker processes ---------------------------------------------------

@pytest.fixture(scope="module")
def client():
    distributed = _need("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=40)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


def test_distributed_local_cluster(client):
    from distributed import get_task_stream
    x, y, w, pw = _case("bce_logits", np.float64, 7, n=20000)
    X, Y, W, PW = _chunked(x, y, w, pw, (2500, 5))
    kw = dict(pos_weight=PW, label_smoothing=0.1, num_threads=1)
    with get_task_stream(client) as ts:
        mean, wmean = client.compute([
            cd.binary_cross_entropy_with_logits(X, Y, W, **kw),
            cd.binary_cross_entropy_with_logits(X, Y, W, reduction="weighted_mean", **kw)],
            sync=True)
        grad = client.compute(cd.binary_cross_entropy_with_logits_backward(X, Y, W, **kw),
                              sync=True)
    kn = dict(pos_weight=pw, label_smoothing=0.1)
    assert _ulps(mean, cbce.binary_cross_entropy_with_logits(x, y, w, **kn)) <= 1
    assert _ulps(wmean, cbce.binary_cross_entropy_with_logits(
        x, y, w, reduction="weighted_mean", **kn)) <= 1
    assert_gradient_matches(grad, cbce.binary_cross_entropy_with_logits_backward(
        x, y, w, **kn), "backward mean")
    workers = {t["worker"] for t in ts.data if "block" in str(t["key"])}
    assert len(workers) == 2, f"blocks ran on {workers}"
    pids = client.run(lambda: __import__("os").getpid())
    assert len(set(pids.values())) == 2 and __import__("os").getpid() not in pids.values()


def test_xgboost_dask_trains_with_the_cbce_objective(client):
    xgb = _need("xgboost")
    _need("xgboost.dask")
    from cbce.integrations.xgboost import objective
    rng = np.random.default_rng(9)
    X = rng.normal(size=(4000, 5))
    y = (X[:, 0] - X[:, 1] * X[:, 2] + rng.normal(size=4000) > 0).astype(np.float32)
    dX, dy = da.from_array(X, chunks=(1000, 5)), da.from_array(y, chunks=1000)
    dtrain = xgb.dask.DaskDMatrix(client, dX, dy, base_margin=da.zeros(4000, chunks=1000))
    params = {"max_depth": 3, "eta": 0.3, "nthread": 1, "tree_method": "hist"}
    ours = xgb.dask.train(client, params, dtrain, num_boost_round=10, obj=objective())
    ref = xgb.dask.train(client, {**params, "objective": "binary:logistic"}, dtrain,
                         num_boost_round=10)
    m1 = xgb.dask.predict(client, ours["booster"], dtrain, output_margin=True).compute()
    m2 = xgb.dask.predict(client, ref["booster"], dtrain, output_margin=True).compute()
    err = float(np.abs(m1 - m2).max() / np.abs(m2).max())
    report_ulp("xgboost.dask vs binary:logistic: max |margin diff| / max|margin| (x 1e-5)",
               err / 1e-5, 1.0)
    assert err <= 1e-5
    assert cbce.binary_cross_entropy_with_logits(m1, y) < 0.8 * np.log(2)  # it learned


# ---- near-ties: gradients that a second rounding would change ---------------------------

def _shard_backward(family, x, y, w, reduction, den, kw, go=0.7):
    """cbce's gradient of x's elements as part of an array whose mean denominator is
    ``den`` (hi, lo): the core's shard call (cbce_args_t.mean_denominator)."""
    return cbce._core._loss(family, cd._BWD, x, y, w, None, reduction, go, None, None, kw,
                            den)


def _near_ties(family, rows=2000, n_search=1 << 20, seed=11):
    """``rows`` rows of 4 columns (column weights, so the weight sum is fixed by the row
    count) chosen from 2^20 candidates for their 'mean'/'weighted_mean' gradients at
    grad_output 0.7: the float32 ones nearest a float32 rounding midpoint (measured on the
    float64 gradient), and the float64 ones a multiplier rounded to a double
    (grad_output / denominator) or a denominator without its low part would change; the
    rest at random.  The candidates' gradients are computed as they are in an array of
    that many rows.  Returns (x, y, w, kw, old) where ``old`` counts the elements of the
    returned array that the rounded-multiplier path gets wrong in float32 and float64."""
    rng = np.random.default_rng(seed)
    c = 4
    x = (rng.normal(size=(n_search // c, c)) * 3).astype(np.float32)
    if BY_NAME[family]["probs"]:
        x = (1 / (1 + np.exp(-x.astype(np.float64)))).astype(np.float32)
    y = (rng.random(x.shape) < 0.4).astype(np.float32)
    w = rng.uniform(0.1, 2.0, size=c).astype(np.float32)
    kw = dict(KW[family])
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    picked = []
    for reduction, total in (("mean", Fraction(rows * c)),
                             ("weighted_mean", rows * sum(map(Fraction, w64.tolist())))):
        den = cd._dd_pair(total)
        g64 = _shard_backward(family, x64, y, w64, reduction, den, kw)
        ulp = np.spacing(np.abs(g64).astype(np.float32)).astype(np.float64)
        dist = np.abs(np.abs(g64 - g64.astype(np.float32)) / ulp - 0.5)
        picked.append(np.argsort(dist, axis=None)[:rows // 5] // c)
        for variant in (_shard_backward(family, x64, y, w64, reduction, (den[0], 0.0), kw),
                        _shard_backward(family, x64, y, w64, "sum", None, kw,
                                        go=0.7 / float(total))):
            picked.append(np.nonzero((variant != g64).any(axis=1))[0][:rows // 10])
    chosen = np.unique(np.concatenate(picked))[:rows]
    rest = np.setdiff1d(np.arange(x.shape[0]), chosen)
    chosen = np.concatenate([chosen, rng.choice(rest, rows - chosen.size, replace=False)])
    x, y = x[chosen], y[chosen]
    bwd = FAMILIES[family][3]
    old = 0
    for dt in (np.float32, np.float64):
        xd, wd = x.astype(dt), w.astype(dt)
        for reduction, total in (("mean", x.size), ("weighted_mean", rows * np.sum(w64))):
            ref = bwd(xd, y, wd, reduction=reduction, grad_output=0.7, **kw)
            twice = bwd(xd, y, wd, reduction="sum", grad_output=0.7 / total, **kw)
            old += int((ref != twice).sum())
    return x, y, w, kw, old


def test_gradients_bitwise_on_near_ties_on_a_cluster(client):
    """Every reduction, dtype and weight on a 2-process LocalCluster: the unreduced loss and
    every gradient equal cbce on the whole array bit for bit, on inputs searched for
    gradients near a rounding midpoint (see _near_ties)."""
    for family, (fwd_d, fwd_n, bwd_d, bwd_n) in FAMILIES.items():
        x32, y, w, kw, old = _near_ties(family)
        report_ulp(f"dask near-ties {family}: elements a rounded multiplier changes "
                   f"(float32 + float64, mean + weighted_mean, of {x32.size} each)", old,
                   4 * x32.size)
        for dtype in DTYPES:
            x = x32.astype(dtype)
            X = da.from_array(x, chunks=(x.shape[0] // 3 + 1, 2))
            Y = da.from_array(y, chunks=(x.shape[0] // 2 + 1, 4))
            lazy = [fwd_d(X, Y, W, reduction="none", **kw) for W in (None, w)]
            want = [fwd_n(x, y, W, reduction="none", **kw) for W in (None, w)]
            for reduction in ("none", "sum", "mean", "weighted_mean"):
                for W in (None, w):
                    lazy.append(bwd_d(X, Y, W, reduction=reduction, grad_output=0.7, **kw))
                    want.append(bwd_n(x, y, W, reduction=reduction, grad_output=0.7, **kw))
            got = client.compute(lazy, sync=True)
            for k, (g, v) in enumerate(zip(got, want)):
                assert g.dtype == v.dtype, f"{family} {np.dtype(dtype)} result {k}"
                diff = int((g != v).sum())
                assert diff == 0, (f"{family} {np.dtype(dtype)} result {k} (0-1: losses, "
                                   f"then none/sum/mean/weighted_mean x no weight/weight): "
                                   f"{diff} of {g.size} elements differ")
