"""float64 BCE with logits at the edges of the format, against mpmath.

Weights, pos_weight, grad_output and label smoothing enter before the one final rounding;
exp(-|x|) covers what a large pos_weight or weight brings back into range; results that
overflow are infinite, not NaN; subnormal results are rounded once.  Each case names the
inputs; the bound is API.md's (1 ulp for hard labels, subnormal results in ulps of the
subnormal spacing).
"""
import itertools
import os
import subprocess
import sys

import mpmath
import numpy as np
import pytest

import cbce
from reference import exact_value, mp_grad, mp_hess, mp_loss, ulp_error

F = cbce.binary_cross_entropy_with_logits
B = cbce.binary_cross_entropy_with_logits_backward
GH = cbce.binary_cross_entropy_with_logits_grad_hess


def smoothed(t, eps):
    with mpmath.workprec(2200):
        return mpmath.mpf(t) * (1 - mpmath.mpf(eps)) + mpmath.mpf(eps) / 2


def check(got, exact, what, bound=1.0):
    err = float(ulp_error(np.array([got]), exact_value([exact]), np.float64)[0])
    assert err <= bound, f"{what}: got {got!r}, exact {mpmath.nstr(exact, 17)}: {err:.3g} ulp"


# (x, target, weight, pos_weight, label_smoothing): weights and pos_weight that bring a
# tiny or huge term into range, subnormal results, overflow to inf
CASES = [
    (-745.0, 0.0, 2.0**60, 1.0, 0.0),        # exact 3.25e-306 (w times a subnormal)
    (-740.0, 0.0, 1e300, 1.0, 0.0),
    (-740.0, 0.0, 1.0, 1.0, 0.0),            # subnormal result
    (-720.0, 0.0, 0.75, 1.0, 0.0),
    (2000.0, 1.0, 1.0, 1e200, 0.0),          # exact 2.6e-669: rounds to 0
    (1200.0, 1.0, 1e250, 1e200, 0.0),        # e = 2^-1731 brought back to 1e-71 scale
    (900.0, 1.0, 1.0, 1e300, 0.0),
    (-1e200, 1.0, 1.0, 1e200, 0.0),          # exact +inf
    (-1e300, 0.0, 1.0, 1e100, 5e-324),       # exact 2.47e76
    (-1e300, 0.0, 1.0, 1.0, 5e-324),
    (1e300, 1.0, 1.0, 1.0, 5e-324),
    (30.0, 1.0, 1e-300, 1.0, 0.0),           # subnormal weighted loss
    (3.0, 0.0, 5e-324, 1.0, 0.0),
    (-2.5, 1.0, 1e308, 1e10, 0.0),           # overflow of the weighted loss
    (700.0, 0.0, 1e-10, 7.0, 0.0),
    (0.0, 1.0, 1.0, 1e-320, 0.0),
]


@pytest.mark.parametrize("x, t, w, p, eps", CASES)
def test_loss_grad_hess_at_the_edges(x, t, w, p, eps):
    y = smoothed(t, eps)
    xs, ts = np.array([x]), np.array([t])
    kw = dict(pos_weight=np.array([p]), label_smoothing=eps)
    name = f"x={x!r} t={t} w={w!r} pos_weight={p!r} label_smoothing={eps!r}"
    check(F(xs, ts, np.array([w]), reduction="none", **kw)[0], mp_loss(x, y, p, w),
          "loss " + name)
    check(B(xs, ts, np.array([w]), reduction="none", **kw)[0], mp_grad(x, y, p, w),
          "gradient " + name)
    g, h = GH(xs, ts, np.array([w]), **kw)
    check(g[0], mp_grad(x, y, p, w), "grad_hess gradient " + name)
    check(h[0], mp_hess(x, y, p, w), "hessian " + name, bound=2.0)


@pytest.mark.parametrize("x, go", [(-740.0, 1e300), (-745.0, 2.0**60), (30.0, 1e-300),
                                   (-3.0, 1.0 / 3.0), (800.0, 1e308)])
def test_grad_output_enters_before_the_rounding(x, go):
    for t in (0.0, 1.0):
        got = B(np.array([x]), np.array([t]), reduction="none", grad_output=go)[0]
        check(got, mp_grad(x, t) * mpmath.mpf(go), f"gradient x={x!r} t={t} grad_output={go!r}")


def test_weighted_hard_labels_random(rng):
    """Weights and pos_weight over many binades: within 1 ulp (the weight was multiplied
    into a rounded result before, reaching 1.25 ulp)."""
    n = 600
    x = rng.normal(0, 8, n)
    t = (rng.random(n) < 0.5).astype(np.float64)
    w = np.ldexp(rng.uniform(0.5, 1, n), rng.integers(-40, 40, n))
    p = np.ldexp(rng.uniform(0.5, 1, n), rng.integers(-20, 20, n))
    loss = F(x, t, w, pos_weight=p, reduction="none")
    grad = B(x, t, w, pos_weight=p, reduction="none")
    exact_l = exact_value([mp_loss(x[i], t[i], p[i], w[i]) for i in range(n)])
    exact_g = exact_value([mp_grad(x[i], t[i], p[i], w[i]) for i in range(n)])
    for what, got, ex in (("loss", loss, exact_l), ("gradient", grad, exact_g)):
        err = ulp_error(got, ex, np.float64)
        i = int(np.argmax(err))
        assert err[i] <= 1.0, (f"{what}: {err[i]:.3g} ulp at x={x[i]!r} t={t[i]} w={w[i]!r} "
                               f"pos_weight={p[i]!r}")


def test_hard_targets_do_not_depend_on_their_neighbours(rng):
    """Hard targets (0 or 1) of an unweighted call take their own fast element, lane by
    lane: an element's loss and gradient are the same bits whether the other elements of
    its vector have hard or soft targets, and within 1 ulp of mpmath."""
    n = 4099
    x = np.concatenate([rng.normal(0, 8, n - 19), [0.0, -0.0, 665.0, -665.0, 665.1, -700.0,
                                                   700.0, 37.0, -37.0, 1e-300, -1e-300,
                                                   5e-324, 708.0, -708.5, 744.0, -744.0,
                                                   1e-17, 36.7, -36.7]])
    t = (rng.random(n) < 0.5).astype(np.float64)
    soft = t.copy()
    mixed = rng.random(n) < 0.3
    soft[mixed] = rng.random(int(mixed.sum()))
    go = np.ldexp(rng.uniform(0.5, 1, n), rng.integers(-30, 30, n))
    calls = {
        "loss": lambda y: F(x, y, reduction="none"),
        "gradient of the mean": lambda y: B(x, y),
        "gradient with grad_output": lambda y: B(x, y, reduction="none", grad_output=go),
        "fused loss": lambda y: cbce.binary_cross_entropy_with_logits_forward_backward(
            x, y, reduction="none")[0],
        "fused gradient": lambda y: cbce.binary_cross_entropy_with_logits_forward_backward(
            x, y)[1],
    }
    for what, call in calls.items():
        alone, among = call(t)[~mixed], call(soft)[~mixed]
        diff = np.flatnonzero(alone.view(np.int64) != among.view(np.int64))
        assert diff.size == 0, (f"{what}: {diff.size} hard-target elements changed with "
                                f"their neighbours' targets, first at x={x[~mixed][diff[0]]!r}")
    sample = rng.choice(n, 300, replace=False)
    sample = np.union1d(sample, np.arange(n - 19, n))
    got_l, got_g = F(x, t, reduction="none"), B(x, t, reduction="none", grad_output=go)
    exact_l = exact_value([mp_loss(x[i], t[i]) for i in sample])
    exact_g = exact_value([mp_grad(x[i], t[i]) * mpmath.mpf(go[i]) for i in sample])
    for what, got, ex in (("loss", got_l[sample], exact_l), ("gradient", got_g[sample], exact_g)):
        err = ulp_error(got, ex, np.float64)
        i = int(np.argmax(err))
        assert err[i] <= 1.0, (f"hard-target {what}: {err[i]:.3g} ulp at x={x[sample][i]!r} "
                               f"t={t[sample][i]} grad_output={go[sample][i]!r}")


def test_infinite_and_nan_propagation():
    x = np.array([-np.inf, np.inf, -np.inf, np.inf, np.nan, 1.0])
    t = np.array([1.0, 0.0, 0.0, 1.0, 1.0, np.nan])
    w = np.full(6, 1e-200)
    loss = F(x, t, w, reduction="none")
    assert loss[0] == np.inf and loss[1] == np.inf, f"infinite losses: {loss}"
    assert loss[2] == 0 and loss[3] == 0, f"limits at infinite logits: {loss}"
    assert np.isnan(loss[4]) and np.isnan(loss[5]), f"NaN input or target: {loss}"
    assert F(x[:1], t[:1], w[:1], reduction="sum") == np.inf, "sum of an infinite loss"
    g = B(x, t, w, reduction="none")
    assert list(g[:4]) == [-1e-200, 1e-200, 0.0, 0.0], f"gradient limits: {g}"
    assert np.isnan(g[4]) and np.isnan(g[5]), f"gradient NaN propagation: {g}"


# Targets far outside [0, 1] (q = 1 - t or p*y beyond 2^996, where two_prod without FMA
# splits into NaN; q and p*y cancelling in L = q + p*y) with NaN operands among them: run
# at every SIMD level the CPU has (CBCE_SIMD is read at import: one process per level).
_EXTREME_SCRIPT = r"""
import sys, numpy as np, cbce, cbce._core
d = np.load(sys.argv[1])
x, t, p, w = d["x"], d["t"], d["p"], d["w"]
kw = dict(pos_weight=p, reduction="none")
res = {"loss": cbce.binary_cross_entropy_with_logits(x, t, w, **kw),
       "grad": cbce.binary_cross_entropy_with_logits_backward(x, t, w, **kw)}
res["fused loss"], res["fused grad"] = cbce.binary_cross_entropy_with_logits_forward_backward(
    x, t, w, **kw)
res["gh grad"], res["hess"] = cbce.binary_cross_entropy_with_logits_grad_hess(x, t, w, pos_weight=p)
# pos_weight and weight absent: the kernel's instance for unit multipliers
u = (p == 1) & (w == 1)
res["unit loss"] = cbce.binary_cross_entropy_with_logits(x[u], t[u], reduction="none")
res["unit fused loss"], res["unit fused grad"] = (
    cbce.binary_cross_entropy_with_logits_forward_backward(x[u], t[u], reduction="none"))
res["level"] = np.array(cbce._core.SIMD_LEVEL)
np.savez(sys.argv[2], **res)
"""


def _extreme_grid():
    big = np.finfo(np.float64).max
    xs = [float.fromhex("0x1.5c7225ef508acp-836"), -float.fromhex("0x1.5c7225ef508acp-836"),
          1e-300, -1e-300, 0.5, -3.0, 20.0, -20.0, 700.0, np.nan]
    ts = [-big, big, -2.0**1000, 2.0**997, -2.0**997, 0.0, 1.0, 0.25, np.nan]
    grid = itertools.product(xs, ts, [1.0, 0.5, np.nan], [1.0, 2.0, np.nan])
    return {k: np.array(v) for k, v in zip("xtpw", zip(*grid))}


def test_extreme_targets_fused_matches_forward_and_nan_only_from_nan(tmp_path):
    """Fused loss and gradient equal the forward and backward calls' (within one ulp), a
    result is NaN exactly where an operand is NaN, and the finite losses are within 1 ulp of
    mpmath's, at every SIMD level.  (Without FMA the fast element's loss was NaN for a
    target of -DBL_MAX; with pos_weight != 1 it dropped a term where q and p*y cancel.)"""
    g = _extreme_grid()
    np.savez(tmp_path / "in.npz", **g)
    (tmp_path / "run.py").write_text(_EXTREME_SCRIPT)
    operand_nan = np.isnan(g["x"]) | np.isnan(g["t"]) | np.isnan(g["p"]) | np.isnan(g["w"])
    unit = np.nonzero((g["p"] == 1) & (g["w"] == 1))[0]  # grid indices of the unit calls
    finite = np.nonzero(~operand_nan)[0]
    with mpmath.workprec(2200):  # (1 - t) x and L log1p(e^-x) exactly enough at 2^1024
        exact = exact_value([w * ((1 - t) * x + (1 + (p - 1) * t) * mpmath.log1p(mpmath.exp(-x)))
                             for x, t, p, w in zip(*(map(mpmath.mpf, g[k][finite])
                                                     for k in "xtpw"))])
    msgs = []

    def case(i):
        return ", ".join(f"{k}={g[k][i]!r}" for k in "xtpw")

    for level in ("scalar", "baseline", "avx2", "avx512"):
        out = tmp_path / f"out_{level}.npz"
        r = subprocess.run([sys.executable, str(tmp_path / "run.py"), str(tmp_path / "in.npz"),
                            str(out)], env=dict(os.environ, CBCE_SIMD=level),
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, f"CBCE_SIMD={level}: {r.stderr[-2000:]}"
        res = dict(np.load(out))
        tag = f"CBCE_SIMD={level} (running {res.pop('level')})"
        # every result on the full grid's indices (NaN where the unit call had no element)
        full = {}
        for key, v in res.items():
            full[key] = np.full(len(g["x"]), np.nan)
            full[key][unit if key.startswith("unit") else slice(None)] = v
        for key, v in full.items():
            idx = unit if key.startswith("unit") else np.arange(len(v))
            bad = idx[np.isnan(v[idx]) != operand_nan[idx]]
            msgs += [f"{tag} {key}: {v[i]!r} for {case(i)}" for i in bad[:3]]
        for a, b in (("fused loss", "loss"), ("fused grad", "grad"), ("gh grad", "grad"),
                     ("unit fused loss", "unit loss"), ("unit loss", "loss")):
            idx = unit if a.startswith("unit") else np.arange(len(g["x"]))
            va, vb = full[a][idx], full[b][idx]
            both = ~np.isnan(va) & ~np.isnan(vb)
            far = np.isnan(va) != np.isnan(vb)
            with np.errstate(invalid="ignore", over="ignore"):  # infinities: inf - inf
                # equal values agree (an infinity with itself), else within one spacing
                far[both] = (va[both] != vb[both]) & ~(
                    np.abs(va[both] - vb[both]) <= np.spacing(np.abs(vb[both])))
            msgs += [f"{tag} {a} {va[i]!r} vs {b} {vb[i]!r} for {case(idx[i])}"
                     for i in np.nonzero(far)[0][:3]]
        for key in ("loss", "fused loss"):
            err = ulp_error(full[key][finite], exact, np.float64)
            msgs += [f"{tag} {key} {full[key][finite[j]]!r}, {err[j]:.3g} ulp from mpmath "
                     f"for {case(finite[j])}" for j in np.nonzero(~(err <= 1.0))[0][:3]]
    assert not msgs, "\n".join(msgs)
