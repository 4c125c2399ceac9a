"""float64 BCE with logits at the edges of the format, against mpmath.

Weights, pos_weight, grad_output and label smoothing enter before the one final rounding;
exp(-|x|) covers what a large pos_weight or weight brings back into range; results that
overflow are infinite, not NaN; subnormal results are rounded once.  Each case names the
inputs; the bound is API.md's (1 ulp for hard labels, subnormal results in ulps of the
subnormal spacing).
"""
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
