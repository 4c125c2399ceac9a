"""Accuracy of BCE with logits against exact references (docs/contract.md, "Accuracy").

Elementwise: every row of ``tests/data/logits_float{32,64}.csv.xz`` (logits over the whole range including
subnormals and +-inf, hard and soft labels, pos_weight 1, 3 and 1/2) against its exact
value, in ulps of the result's dtype (see ``reference.ulp_error``).

Reductions: sum and mean (and weighted_mean, with a weight of shape (C,)) of 10**7 elements
against the exact sum of the exact per-element values.  Why not simply ``math.fsum`` of
values computed in float64?  fsum adds exactly, but
each float64 term already carries its own rounding error (0.5 ulp if correctly rounded,
1-2 ulp with libm's exp/log1p and a few roundings in the formula).  All terms are positive, so
those errors can add up to a relative error of the same size in the sum: up to ~1-2 ulp of a
float64 result, which is as large as half the 4-ulp bound being tested; the reference must be
far more accurate than the bound.  (For float32 results float64 terms would be exact enough,
2**-29 of an ulp.)  Evaluating 10**7 elements in mpmath would take minutes, so the array is
drawn from a pool of a few thousand distinct (x, y) pairs, each evaluated once with mpmath
(>= 100 correct bits), and the exact sum is sum(count_k * value_k) computed in mpmath.  The
summation under test still sees 10**7 elements of varied size in random order.
"""
import math

import mpmath
import numpy as np
import pytest

import cbce
from reference import (
    ExactArray, exact_value, load_logits_reference, mp_grad, mp_hess, mp_loss, mp_sigmoid,
    report_ulp, ulp_error,
)

F = cbce.binary_cross_entropy_with_logits
B = cbce.binary_cross_entropy_with_logits_backward
FB = cbce.binary_cross_entropy_with_logits_forward_backward
GH = cbce.binary_cross_entropy_with_logits_grad_hess

DTYPES = [np.float32, np.float64]
DT_IDS = ["float32", "float64"]


@pytest.fixture(scope="module", params=DTYPES, ids=DT_IDS)
def computed(request):
    """The CSV rows and cbce's results for them (every entry point), for one dtype."""
    dt = np.dtype(request.param)
    ref = load_logits_reference(dt)
    x, y, p = ref["x"], ref["y"], ref["pos_weight"]
    res = {"dtype": dt, "ref": ref}
    res["loss"] = F(x, y, pos_weight=p, reduction="none")
    res["grad"] = B(x, y, pos_weight=p, reduction="none")
    res["fb_loss"], res["fb_grad"] = FB(x, y, pos_weight=p, reduction="none")
    res["gh_grad"], res["hess"] = GH(x, y, pos_weight=p)
    for k in ("loss", "grad", "fb_loss", "fb_grad", "gh_grad", "hess"):
        assert isinstance(res[k], np.ndarray) and res[k].dtype == dt and res[k].shape == x.shape, (
            f"{k}: expected a {dt} array of shape {x.shape}, got {type(res[k])} "
            f"{getattr(res[k], 'dtype', None)} {getattr(res[k], 'shape', None)}")
    return res


def _worst(err, ref, computed_vals, exact: ExactArray, mask, k=6):
    """Text naming the worst rows (inputs as hex floats, computed, exact, ulps)."""
    idx = np.nonzero(mask)[0]
    order = idx[np.argsort(-np.nan_to_num(err[idx], nan=np.inf, posinf=np.inf))][:k]
    x, y, p = ref["x"], ref["y"], ref["pos_weight"]
    ex = exact.approx
    lines = [f"  x={float(x[i]).hex()} ({float(x[i]):.9g}) y={float(y[i]):.9g} "
             f"pos_weight={float(p[i]):g}: got {float(computed_vals[i])!r}, exact {ex[i]!r}, "
             f"{err[i]:.4g} ulp" for i in order]
    return "\n".join(lines)


# (quantity, label class, bound in ulp, which cbce output(s) to check)
CASES = [
    ("loss", "hard", 1.0, ("loss", "fb_loss")),
    ("loss", "soft", 2.0, ("loss", "fb_loss")),
    ("grad", "hard", 1.0, ("grad", "fb_grad", "gh_grad")),
    ("grad", "soft", 1.0, ("grad", "fb_grad", "gh_grad")),   # in ulps of max(c*s, p*y)
    ("hess", "hard", 2.0, ("hess",)),
    ("hess", "soft", 2.0, ("hess",)),
]


@pytest.mark.parametrize("quantity,labels,bound,outputs", CASES,
                         ids=[f"{q}-{lab}" for q, lab, _, _ in CASES])
def test_elementwise_vs_reference(computed, quantity, labels, bound, outputs):
    dt, ref = computed["dtype"], computed["ref"]
    y = ref["y"]
    hard = (y == 0) | (y == 1)
    mask = hard if labels == "hard" else ~hard
    assert mask.sum() > 1000, "reference file has too few rows of this kind"
    exact = ref[quantity]
    scale = None
    if quantity == "grad" and labels == "soft":
        # the gradient c*s - p*y cancels near its root; the contract bounds it in ulps of the
        # larger of the two terms, max(c*sigmoid(x), p*y)
        y64 = y.astype(np.float64)
        p64 = ref["pos_weight"].astype(np.float64)
        c = (1 - y64) + p64 * y64
        scale = np.maximum(c * ref["sigmoid"].approx, p64 * y64)
    failures = []
    for out_name in outputs:
        vals = computed[out_name]
        err = ulp_error(vals, exact, dt, scale=scale)
        worst = float(np.max(err[mask]))
        pw = ref["pos_weight"]
        for pw_name, pw_mask in (("pos_weight=1", pw == 1), ("pos_weight!=1", pw != 1)):
            m = mask & pw_mask
            report_ulp(f"{dt.name} {quantity} {labels} labels, {pw_name}",
                       float(np.max(err[m])), bound)
        print(f"{dt.name} {quantity} {labels} [{out_name}]: max {worst:.4g} ulp (bound {bound})")
        if not worst <= bound:
            bad = mask & ~(err <= bound)
            failures.append(
                f"{out_name}: {bad.sum()} of {mask.sum()} {labels}-label rows over {bound} ulp "
                f"(max {worst:.4g}); worst:\n{_worst(err, ref, vals, exact, bad)}")
    assert not failures, f"{dt.name} {quantity}, {labels} labels:\n" + "\n".join(failures)


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("p", [1.0, 3.0, 0.5])
def test_infinite_logits_give_limits(dtype, p):
    """x = +-inf gives the limit of the formula, never NaN (docs/contract.md, 'Non-finite values')."""
    x = np.array([np.inf, -np.inf, np.inf, -np.inf, np.inf, -np.inf], dtype=dtype)
    y = np.array([1.0, 0.0, 0.0, 1.0, 0.5, 0.5], dtype=dtype)
    inf = np.inf
    c = (1 - y) + p * y
    exp_loss = np.array([0.0, 0.0, inf, inf, inf, inf])
    exp_grad = np.array([0.0, 0.0, 1.0, -p, c[4] - p * 0.5, -p * 0.5])
    loss = F(x, y, pos_weight=dtype(p), reduction="none")
    grad = B(x, y, pos_weight=dtype(p), reduction="none")
    fl, fg = FB(x, y, pos_weight=dtype(p), reduction="none")
    gg, hh = GH(x, y, pos_weight=dtype(p))
    for name, got, want in (("loss", loss, exp_loss), ("grad", grad, exp_grad),
                            ("fb loss", fl, exp_loss), ("fb grad", fg, exp_grad),
                            ("gh grad", gg, exp_grad), ("hess", hh, np.zeros(6))):
        for i in range(6):
            assert got[i] == want[i].astype(dtype), (
                f"{np.dtype(dtype).name} {name} at x={x[i]}, y={y[i]}, pos_weight={p}: "
                f"got {got[i]!r}, expected {want[i]!r}")
    # and the reductions over the finite-limit ones are 0, not nan
    s = F(x[:2], y[:2], pos_weight=dtype(p), reduction="sum")
    assert s == 0, f"sum of loss at (+inf, 1), (-inf, 0) should be 0, got {s!r}"


# ---------------------------------------------------------------------------------------
# sum / mean of 10**7 elements


N_SUM = 10**7


def _pool(rng, dtype, k, soft):
    """k distinct (x, y) pairs in dtype: logits of every scale, hard or soft labels."""
    parts = [rng.normal(0, 3, k // 2), rng.uniform(-40, 40, k // 4),
             rng.choice([-1, 1], k - k // 2 - k // 4)
             * np.exp(rng.uniform(-20, 6, k - k // 2 - k // 4))]
    x = np.concatenate(parts).astype(dtype)
    if soft:
        y = rng.uniform(0, 1, k).astype(dtype)
    else:
        y = rng.integers(0, 2, k).astype(dtype)
    return x, y


def _exact_sum(values, counts):
    with mpmath.workprec(300):
        return mpmath.fsum(mpmath.mpf(int(n)) * v for v, n in zip(values, counts) if n)


@pytest.mark.parametrize("dtype,bound", [(np.float32, 1.0), (np.float64, 4.0)], ids=DT_IDS)
@pytest.mark.parametrize("variant", ["hard", "soft", "soft+weight+pos_weight"])
def test_sum_mean_1e7(dtype, bound, variant, rng):
    dt = np.dtype(dtype)
    k, ncols = 3000, 4
    x_pool, y_pool = _pool(rng, dt, k, soft=variant != "hard")
    if variant.endswith("pos_weight"):
        pw = np.array([0.5, 1.0, 3.0, 1.7], dtype=dt)
    else:
        pw = np.ones(ncols, dtype=dt)
    w = rng.uniform(0, 3, ncols).astype(dt) if "+weight" in variant else np.ones(ncols, dt)
    # per (pool entry, column) exact values: column j uses pos_weight pw[j] and weight w[j]
    with mpmath.workprec(200):
        vals = [[mp_loss(x_pool[i], y_pool[i], pw[j], w[j]) for j in range(ncols)]
                for i in range(k)]
    idx = rng.integers(0, k, size=(N_SUM // ncols, ncols))
    x = x_pool[idx]
    y = y_pool[idx]
    flat_codes = (idx * ncols + np.arange(ncols)).ravel()
    counts = np.bincount(flat_codes, minlength=k * ncols)
    flat_vals = [v for row in vals for v in row]
    s_exact = _exact_sum(flat_vals, counts)
    with mpmath.workprec(300):
        m_exact = s_exact / N_SUM
        w_total = mpmath.fsum(mpmath.mpf(float(v)) for v in w) * (N_SUM // ncols)
        wm_exact = s_exact / w_total
    kw = {"pos_weight": pw} if variant.endswith("pos_weight") else {}
    if "+weight" in variant:
        kw["weight"] = w
    results = {
        "sum": (F(x, y, reduction="sum", **kw), s_exact),
        "mean": (F(x, y, reduction="mean", **kw), m_exact),
        "fb mean": (FB(x, y, reduction="mean", **kw)[0], m_exact),
    }
    if "+weight" in variant:
        results["weighted_mean"] = (F(x, y, reduction="weighted_mean", **kw), wm_exact)
    msgs = []
    for name, (got, exact) in results.items():
        assert isinstance(got, np.generic) and got.dtype == dt, (
            f"{name} should be a NumPy {dt} scalar, got {type(got)}")
        err = float(ulp_error(np.array([got]), exact_value([exact]), dt)[0])
        report_ulp(f"{dt.name} {name.replace('fb ', '')} of 1e7 ({variant})", err, bound)
        print(f"{dt.name} {name} of 1e7 ({variant}): {err:.4g} ulp")
        if not err <= bound:
            msgs.append(f"{name}: got {float(got)!r}, exact {mpmath.nstr(exact, 25)}, "
                        f"{err:.4g} ulp")
    assert not msgs, f"{dt.name} {variant}, 10**7 elements, bound {bound} ulp:\n" + "\n".join(msgs)


def test_sum_reference_is_exact_enough():
    """Self-check of the method: the pooled exact sum agrees with math.fsum of float64 values
    to float64 accuracy (so both the pooling and the mpmath evaluation are right)."""
    rng = np.random.default_rng(5)
    x_pool, y_pool = _pool(rng, np.float64, 500, soft=True)
    idx = rng.integers(0, 500, 10**5)
    with mpmath.workprec(200):
        vals = [mp_loss(a, b) for a, b in zip(x_pool, y_pool)]
    exact = _exact_sum(vals, np.bincount(idx, minlength=500))
    f64 = np.array([float(v) for v in vals])[idx]
    assert math.isclose(math.fsum(f64), float(exact), rel_tol=1e-15), (math.fsum(f64), exact)


# ---------------------------------------------------------------------------------------
# label smoothing: the same bounds, against the exact smoothed target


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("eps", [0.1, 1e-5, 1.0])
def test_label_smoothing_accuracy(dtype, eps, rng):
    """The contract: the loss is defined with y the smoothed target y*(1-eps) + eps/2, taken exactly
    (y and eps as given); smoothed targets are soft labels, so the soft-label bounds apply:
    loss <= 2 ulp, gradient <= 1 ulp of max(c*sigmoid(x), p*y_s), hessian <= 2 ulp."""
    dt = np.dtype(dtype)
    n = 1500
    x = np.concatenate([rng.normal(0, 3, n // 2),
                        rng.choice([-1, 1], n - n // 2) * np.exp(rng.uniform(-30, 6, n - n // 2))])
    x[:4] = [np.inf, -np.inf, 1e30, -1e30]
    x = x.astype(dt)
    y = rng.choice([0.0, 1.0, 0.3, 0.9], n).astype(dt)
    p = rng.choice([1.0, 3.0, 0.5], n).astype(dt)
    e = float(dt.type(eps))
    with mpmath.workprec(200):
        me = mpmath.mpf(e)
        ys = [mpmath.mpf(float(v)) * (1 - me) + me / 2 for v in y]
        want = {
            "loss": exact_value([mp_loss(x[i], ys[i], p[i]) for i in range(n)]),
            "grad": exact_value([mp_grad(x[i], ys[i], p[i]) for i in range(n)]),
            "hess": exact_value([mp_hess(x[i], ys[i], p[i]) for i in range(n)]),
        }
        scale = np.array([float(max((1 - ys[i] + p[i] * ys[i]) * mp_sigmoid(x[i]), p[i] * ys[i]))
                          for i in range(n)])
    got_l = F(x, y, pos_weight=p, reduction="none", label_smoothing=e)
    got_g, got_h = GH(x, y, pos_weight=p, label_smoothing=e)
    got_b = B(x, y, pos_weight=p, reduction="none", label_smoothing=e)
    msgs = []
    for name, got, bound, sc in (("loss", got_l, 2.0, None), ("grad", got_g, 1.0, scale),
                                 ("backward grad", got_b, 1.0, scale), ("hess", got_h, 2.0, None)):
        key = name.split()[-1]
        err = ulp_error(got, want[key], dt, scale=sc)
        worst = float(err.max())
        report_ulp(f"{dt.name} {key} label_smoothing", worst, bound)
        if not worst <= bound:
            i = int(np.argmax(err))
            msgs.append(f"{name}: max {worst:.4g} ulp > {bound} at x={float(x[i]).hex()} "
                        f"y={float(y[i])} pos_weight={float(p[i])}: got {float(got[i])!r}, "
                        f"exact {want[key].approx[i]!r}")
    assert not msgs, f"{dt.name} label_smoothing={eps}:\n" + "\n".join(msgs)


# ---------------------------------------------------------------------------------------
# self-checks of the ulp measure (so that a broken reference cannot pass everything)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64],
                         ids=["float16", "float32", "float64"])
def test_ulp_error_self_check(dtype):
    dt = np.dtype(dtype)
    fi = np.finfo(dt)
    tiny_sub = fi.smallest_subnormal
    vals = np.array([1.0, 0.75, 3.0, fi.tiny, tiny_sub, 5 * tiny_sub, fi.max / 2, 1e-3],
                    dtype=dt)
    for v in vals:
        for sgn in (1, -1):
            v = dt.type(sgn * v)
            ex = exact_value([mpmath.mpf(float(v))])
            up = np.nextafter(v, dt.type(np.inf))
            assert ulp_error(np.array([v]), ex, dt)[0] == 0, f"{dt} {v!r} vs itself"
            e = ulp_error(np.array([up]), ex, dt)[0]
            # one step up is 1 ulp, except from a negative power of two (toward zero the
            # spacing is half the ulp of the exact value, in its binade): 0.5
            want = 0.5 if v < 0 and -v > fi.tiny and np.frexp(float(v))[0] == -0.5 else 1.0
            assert e == want, f"{dt} one step above {v!r}: {e} ulp, expected {want}"
    # halfway and subnormal spacing
    with mpmath.workprec(200):
        half = mpmath.mpf(1) + mpmath.mpf(2) ** (-fi.nmant - 1)
        assert ulp_error(np.array([1.0], dt), exact_value([half]), dt)[0] == 0.5
        sub = mpmath.mpf(float(tiny_sub)) * mpmath.mpf("2.25")
        assert ulp_error(np.array([2 * tiny_sub], dt), exact_value([sub]), dt)[0] == 0.25
        below = mpmath.mpf(float(tiny_sub)) / 3         # below every subnormal: judged vs 0
        assert abs(ulp_error(np.array([0.0], dt), exact_value([below]), dt)[0] - 1 / 3) < 1e-12
        # overflow: a value beyond the rounding threshold is exactly inf; max is then >= 0.5
        over = mpmath.mpf(float(fi.max)) * 3
        assert ulp_error(np.array([np.inf], dt), exact_value([over]), dt)[0] == 0
        assert ulp_error(np.array([-np.inf], dt), exact_value([over]), dt)[0] > 1000
        just = mpmath.mpf(float(fi.max))
        assert ulp_error(np.array([np.inf], dt), exact_value([just]), dt)[0] == 1
    ex_inf = exact_value([mpmath.inf])
    assert ulp_error(np.array([np.inf], dt), ex_inf, dt)[0] == 0
    assert ulp_error(np.array([fi.max], dt), ex_inf, dt)[0] == np.inf
    assert ulp_error(np.array([np.nan], dt), exact_value([mpmath.mpf(1)]), dt)[0] == np.inf
    # the CSV parser: astronomically small and large exponents, signs, zero, inf
    from reference import parse_exact
    p = parse_exact(["3.0e-147782745434202637294112003802236491331", "-2.5e+9999999999",
                     "0.0", "-inf", "6.931471805599453094172321e-1", "1e-320"])
    got = ulp_error(np.array([0.0, -np.inf, 0.0, -np.inf, np.log(2.0), 1e-320]), p, np.float64)
    assert np.all(got[:4] == 0) and got[4] < 0.5 and got[5] < 0.5, got


# ---------------------------------------------------------------------------------------
# random inputs beyond the CSV grid: random bit patterns, random soft labels and pos_weight


def _random_logits(rng, dt, n):
    bits = {np.float32: np.uint32, np.float64: np.uint64}[dt.type]
    raw = rng.integers(0, np.iinfo(bits).max, n, dtype=bits, endpoint=True).view(dt)
    raw = raw[np.isfinite(raw)]
    mid = rng.normal(0, 8, n).astype(dt)                     # where most logits live
    small = (rng.choice([-1, 1], n) * np.exp(rng.uniform(-60, 6, n))).astype(dt)
    return np.concatenate([raw[: n // 3], mid[: n // 3], small[: n - 2 * (n // 3)]])


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("labels", ["hard", "soft"])
def test_random_inputs_vs_mpmath(dtype, labels, rng):
    dt = np.dtype(dtype)
    n = 1200
    x = _random_logits(rng, dt, n)
    n = len(x)
    if labels == "hard":
        y = rng.integers(0, 2, n).astype(dt)
    else:
        y = rng.uniform(0, 1, n).astype(dt)
    p = np.where(rng.uniform(0, 1, n) < 0.3, 1.0, np.exp(rng.uniform(-3, 3, n))).astype(dt)
    with mpmath.workprec(200):
        want = {
            "loss": exact_value([mp_loss(x[i], y[i], p[i]) for i in range(n)]),
            "grad": exact_value([mp_grad(x[i], y[i], p[i]) for i in range(n)]),
            "hess": exact_value([mp_hess(x[i], y[i], p[i]) for i in range(n)]),
        }
        scale = np.array([float(max((1 - mpmath.mpf(float(y[i])) + mpmath.mpf(float(p[i]))
                                     * float(y[i])) * mp_sigmoid(x[i]),
                                    mpmath.mpf(float(p[i])) * float(y[i]))) for i in range(n)])
    loss, grad = FB(x, y, pos_weight=p, reduction="none")
    _, hess = GH(x, y, pos_weight=p)
    bounds = {"loss": 1.0 if labels == "hard" else 2.0, "grad": 1.0, "hess": 2.0}
    msgs = []
    for name, got in (("loss", loss), ("grad", grad), ("hess", hess)):
        sc = scale if (name == "grad" and labels == "soft") else None
        err = ulp_error(got, want[name], dt, scale=sc)
        worst = float(err.max())
        report_ulp(f"{dt.name} {name} {labels} labels, random inputs", worst, bounds[name])
        if not worst <= bounds[name]:
            i = int(np.argmax(err))
            msgs.append(f"{name}: max {worst:.4g} ulp > {bounds[name]} at x={float(x[i]).hex()} "
                        f"y={float(y[i])!r} pos_weight={float(p[i])!r}: got {float(got[i])!r}, "
                        f"exact {want[name].approx[i]!r}")
    assert not msgs, f"{dt.name}, {labels} labels, random inputs:\n" + "\n".join(msgs)
