"""float64 reductions and reduced gradients at the edges of the format, against mpmath.

- A sum whose large terms overflow and cancel keeps the terms 10^500 times smaller
  (each family, each reduction, fused in place, every thread count).
- A reduced gradient's multiplier weight * grad_output / denominator enters the one
  rounding: the gradient is the exact value rounded once (<= 0.5 ulp plus the kernel's
  error budget, below 0.6), also where the weights are tiny (weighted_mean) and where
  1/n is not a double (mean).
"""
import mpmath
import numpy as np
import pytest

import cbce
from reference import exact_value, mp_grad, mp_loss, ulp_error

mpmath.mp.prec = 300


def ulps(got, exact):
    return float(ulp_error(np.array([got]), exact_value([exact]), np.float64)[0])


def mp_probs_loss(x, y, w):
    x, y, w = (mpmath.mpf(float(v)) for v in (x, y, w))
    lx = max(mpmath.log(x), -100) if x > 0 else mpmath.mpf(-100)
    l1 = max(mpmath.log(1 - x), -100) if x < 1 else mpmath.mpf(-100)
    return -w * (y * lx + (1 - y) * l1)


def mp_probs_grad(x, y, m):
    x, y = mpmath.mpf(float(x)), mpmath.mpf(float(y))
    return m * (x - y) / max(x * (1 - x), mpmath.mpf(float(np.float32(1e-12))))


def mp_focal_loss(x, y, w, gamma):
    """torchvision's sigmoid focal loss (no alpha), in mpmath."""
    x, y, w = (mpmath.mpf(float(v)) for v in (x, y, w))
    p = 1 / (1 + mpmath.exp(-x))
    ce = -(y * mpmath.log(p) + (1 - y) * mpmath.log(1 - p))
    pt = p * y + (1 - p) * (1 - y)
    return w * (1 - pt) ** gamma * ce


def mp_focal_grad(x, y, m, gamma):
    """d/dx of the focal loss (no alpha) times m, by mpmath's differentiation at 400 bits."""
    x = mpmath.mpf(float(x))
    with mpmath.workprec(400):
        return m * mpmath.diff(lambda v: mp_focal_loss_mp(v, y, gamma), x)


def mp_focal_loss_mp(x, y, gamma):
    p = 1 / (1 + mpmath.exp(-x))
    y = mpmath.mpf(float(y))
    ce = -(y * mpmath.log(p) + (1 - y) * mpmath.log(1 - p))
    return (1 - (p * y + (1 - p) * (1 - y))) ** gamma * ce


# Two terms that overflow float64 (+-1e308 times a loss of 1000 or 100) and cancel
# exactly, and one of 1e-200 times ln 2: the exact sum is 1e-200 ln 2 = 6.93e-201.
W = np.array([1e308, -1e308, 1e-200])
FAMILIES = {
    "logits": (cbce.binary_cross_entropy_with_logits,
               cbce.binary_cross_entropy_with_logits_forward_backward,
               np.array([-1000.0, -1000.0, 0.0]), np.array([1.0, 1.0, 0.0]),
               lambda x, y, w: mp_loss(x, y, 1, w), {}),
    "probs": (cbce.binary_cross_entropy, cbce.binary_cross_entropy_forward_backward,
              np.array([0.0, 0.0, 0.5]), np.array([1.0, 1.0, 0.0]), mp_probs_loss, {}),
    "focal": (cbce.sigmoid_focal_loss, cbce.sigmoid_focal_loss_forward_backward,
              np.array([-1000.0, -1000.0, 0.0]), np.array([1.0, 1.0, 0.0]),
              lambda x, y, w: mp_focal_loss(x, y, w, 2.0), dict(gamma=2.0, alpha=None)),
}


def exact_sum(terms):
    with mpmath.workprec(4000):   # +-1e311 and 1e-251 terms: exact at 4000 bits
        return +mpmath.fsum(terms)


def exact_reduced(mp_one, x, y, w, reduction):
    total = exact_sum([mp_one(a, b, c) for a, b, c in zip(x, y, w)])
    if reduction == "sum":
        return total
    if reduction == "mean":
        return total / len(x)
    return total / mpmath.fsum(mpmath.mpf(float(v)) for v in w)


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("reduction", ["sum", "mean", "weighted_mean"])
@pytest.mark.parametrize("threads", [1, 2])
def test_cancelling_overflowed_terms_keep_the_tiny_term(family, reduction, threads):
    fwd, fused, x, y, mp_one, kw = FAMILIES[family]
    exact = exact_reduced(mp_one, x, y, W, reduction)
    name = f"{family} {reduction} w={list(W)} x={list(x)} y={list(y)} threads={threads}"
    got = fwd(x, y, W, reduction=reduction, num_threads=threads, **kw)
    assert ulps(got, exact) <= 1, f"{name}: {got!r}, exact {mpmath.nstr(exact, 17)}"
    # fused, the gradient written over a copy of x (one pass: both sums from copies)
    xi = x.copy()
    got2 = fused(xi, y, W, reduction=reduction, out=(None, xi), num_threads=threads, **kw)[0]
    assert got2 == got, f"{name}: fused in place {got2!r}, forward {got!r}"


@pytest.mark.parametrize("n_big", [1, 3, 4096 + 17])
def test_cancelling_terms_across_blocks(n_big):
    # pairs of +-1e308 weights spread over blocks and lanes, tiny terms in between
    n = 2 * n_big + 5
    x = np.full(n, -1000.0)
    y = np.ones(n)
    w = np.full(n, 1e-250)
    w[:n_big] = 1e308
    w[n - n_big:] = -1e308
    x[n_big:n - n_big] = 3.0
    exact = exact_sum([mp_loss(a, b, 1, c) for a, b, c in zip(x, y, w)])
    for threads in (1, 2):
        got = cbce.binary_cross_entropy_with_logits(x, y, w, reduction="sum",
                                                     num_threads=threads)
        assert ulps(got, exact) <= 1, f"n={n} threads={threads}: {got!r}, exact " \
                                      f"{mpmath.nstr(exact, 17)}"


def test_overflowing_sum_stays_inf_or_nan():
    x = np.array([-1000.0, -1000.0])
    y = np.ones(2)
    F = cbce.binary_cross_entropy_with_logits
    assert F(x, y, np.array([1e308, 1e308]), reduction="sum") == np.inf
    assert F(x, y, np.array([-1e308, -1e308]), reduction="sum") == -np.inf
    assert F(x, y, np.array([1e308, 1e308]), reduction="mean") == pytest.approx(1e311 / 1)
    # an infinite element loss with a weight that vanishes at 2^-600 is still infinite
    assert F(np.array([-np.inf]), np.ones(1), np.array([1e-200]), reduction="sum") == np.inf
    assert np.isnan(F(np.array([-np.inf, -np.inf]), np.ones(2), np.array([1.0, -1.0]),
                      reduction="sum"))
    assert np.isnan(F(np.array([np.nan, -1000.0]), np.ones(2), np.array([1.0, 1e308]),
                      reduction="sum"))


# weighted_mean: the multiplier w / sum(w) is one exact quotient, whatever the weights' range
WMEAN_CASES = [
    ([1e-300], [0.0], [1.0]),
    ([1e-300, 3e-300], [0.5, -2.0], [1.0, 0.0]),
    ([5e-324, 5e-324, 1e-323], [1.0, -1.0, 0.0], [0.0, 1.0, 1.0]),
    ([3.0, 7.0, 11.0], [0.3, -1.2, 2.5], [1.0, 0.0, 1.0]),
    ([1e300, 3e300, 1.0], [0.3, -1.2, 2.5], [1.0, 0.0, 1.0]),
]


@pytest.mark.parametrize("w, x, y", WMEAN_CASES)
@pytest.mark.parametrize("op", ["backward", "forward_backward"])
def test_weighted_mean_gradient_rounds_once(w, x, y, op):
    w, x, y = (np.array(v) for v in (w, x, y))
    ws = mpmath.fsum(mpmath.mpf(float(v)) for v in w)
    for go in (1.0, 3.0, 1e-3):
        if op == "backward":
            g = cbce.binary_cross_entropy_with_logits_backward(
                x, y, w, grad_output=go, reduction="weighted_mean")
        elif go == 1.0:   # the fused call's grad_output is 1
            g = cbce.binary_cross_entropy_with_logits_forward_backward(
                x, y, w, reduction="weighted_mean")[1]
        else:
            continue
        for i in range(len(x)):
            exact = mp_grad(x[i], y[i], 1, mpmath.mpf(float(w[i])) * go / ws)
            err = ulps(g[i], exact)
            assert err < 0.6, (f"{op} weighted_mean w={list(w)} x={list(x)} y={list(y)} "
                               f"go={go} element {i}: {g[i]!r}, exact "
                               f"{mpmath.nstr(exact, 17)} ({err:.3f} ulp)")


# mean: grad_output / n is not a double for n = 3, 7, 10, 1000
@pytest.mark.parametrize("n", [3, 7, 10, 1000])
@pytest.mark.parametrize("go", [1.0, 0.1, 2.5e-300])
def test_mean_gradient_rounds_once(n, go):
    rng = np.random.default_rng(n)
    x = rng.normal(0, 4, n)
    y = (rng.random(n) < 0.5).astype(float)
    w = rng.uniform(0.1, 10, n)
    p = rng.uniform(0.02, 0.98, n)
    name = f"n={n} go={go}"
    for weighted in (False, True):
        wk = w if weighted else None
        wv = w if weighted else np.ones(n)
        g = cbce.binary_cross_entropy_with_logits_backward(x, y, wk, grad_output=go,
                                                           reduction="mean")
        gp = cbce.binary_cross_entropy_backward(p, y, wk, grad_output=go, reduction="mean")
        # the focal loss at gamma 0 without alpha is BCE with logits (its own chunk step)
        gf = cbce.sigmoid_focal_loss_backward(x, y, wk, grad_output=go, reduction="mean",
                                              gamma=0.0, alpha=None)
        gf2 = cbce.sigmoid_focal_loss_backward(x, y, wk, grad_output=go, reduction="mean",
                                               gamma=2.0, alpha=None)
        worst = {"logits": 0.0, "probs": 0.0, "focal gamma 0": 0.0, "focal gamma 2": 0.0}
        for i in range(n):
            m = mpmath.mpf(float(wv[i])) * mpmath.mpf(go) / n
            ex = mp_grad(x[i], y[i], 1, m)
            worst["logits"] = max(worst["logits"], ulps(g[i], ex))
            worst["focal gamma 0"] = max(worst["focal gamma 0"], ulps(gf[i], ex))
            worst["probs"] = max(worst["probs"], ulps(gp[i], mp_probs_grad(p[i], y[i], m)))
            if i < 20:
                worst["focal gamma 2"] = max(worst["focal gamma 2"],
                                             ulps(gf2[i], mp_focal_grad(x[i], y[i], m, 2)))
        # the focal element itself is within 0.5 + ~0.3 ulp (focal_elem.h): the contract's 1
        bad = {k: v for k, v in worst.items() if v >= (1.0 if "gamma 2" in k else 0.6)}
        assert not bad, f"mean gradient {name} weighted={weighted}: ulp {bad}"


_LEVEL_SCRIPT = r"""
import sys
import numpy as np
import cbce
sys.path.insert(0, sys.argv[1])
from test_reduction_edges import FAMILIES, W
M = np.finfo(np.float64).max
out = []
for name in sorted(FAMILIES):
    fwd, fused, x, y, mp_one, kw = FAMILIES[name]
    for red in ("sum", "mean", "weighted_mean"):
        out.append(fwd(x, y, W, reduction=red, **kw))
# the focal loss with a negative class weight (alpha = 2, target 0) at |x| = DBL_MAX
out += list(cbce.sigmoid_focal_loss(np.array([M, -M]), np.array([0.0, 1.0]), alpha=2.0,
                                    gamma=2.0, reduction="none"))
g = cbce.binary_cross_entropy_backward(np.array([0.3, 0.77, 0.12]), np.array([1.0, 0.0, 1.0]),
                                       grad_output=2.5e-300, reduction="mean")
out += list(g)
print(" ".join(float(v).hex() for v in out))
"""


@pytest.mark.parametrize("level", ["scalar", "baseline", "avx2", "avx512"])
def test_reproducers_on_every_simd_level(level, tmp_path):
    """The reproducers above at each SIMD level (levels without FMA form the exact products
    by Dekker's split, whose range limits differ)."""
    import os
    import subprocess
    import sys
    here = os.path.dirname(os.path.abspath(__file__))
    script = tmp_path / "run.py"
    script.write_text(_LEVEL_SCRIPT)
    r = subprocess.run([sys.executable, str(script), here], capture_output=True, text=True,
                       env=dict(os.environ, CBCE_SIMD=level), timeout=300)
    assert r.returncode == 0, f"CBCE_SIMD={level}: {r.stderr[-2000:]}"
    got = [float.fromhex(v) for v in r.stdout.split()]
    exact = []
    for name in sorted(FAMILIES):
        fwd, fused, x, y, mp_one, kw = FAMILIES[name]
        for red in ("sum", "mean", "weighted_mean"):
            exact.append((f"{name} {red}", exact_reduced(mp_one, x, y, W, red)))
    M = np.finfo(np.float64).max
    exact.append(("focal alpha=2 x=DBL_MAX t=0", -mpmath.mpf(M)))
    exact.append(("focal alpha=2 x=-DBL_MAX t=1", mpmath.inf))
    for xv, yv in ((0.3, 1.0), (0.77, 0.0), (0.12, 1.0)):
        exact.append((f"probs mean gradient go=2.5e-300 x={xv}",
                      mp_probs_grad(xv, yv, mpmath.mpf(2.5e-300) / 3)))
    assert len(got) == len(exact)
    bad = [f"{what}: {g!r}, exact {mpmath.nstr(e, 17)}" for g, (what, e) in zip(got, exact)
           if ulps(g, e) > (0.6 if "gradient" in what else 1)]
    assert not bad, f"CBCE_SIMD={level}:\n" + "\n".join(bad)
