"""Gradients and hessians against finite differences.

* float64, moderate logits: the 5-point central difference
  f'(x) ~ (-f(x+2h) + 8 f(x+h) - 8 f(x-h) + f(x-2h)) / (12 h) of cbce's own loss (for the
  gradient) and of cbce's own gradient (for the hessian).  With h = 1e-3 * max(1, |x|) the
  truncation error is O(h**4) ~ 1e-12 and the rounding error ~ eps * |f| / h ~ 1e-13 * |f|,
  so a tolerance of 1e-8 relative to the size of the terms catches any wrong factor or sign.
* reduced losses ('sum', 'mean', 'weighted_mean', with grad_output): directional derivatives,
  d/dt loss(x + t v) = <grad, v> for random directions v.
* extreme logits (|x| up to 700, where float64 differences of the loss are useless because
  the loss is ~|x| and its derivative ~exp(-|x|)): mpmath.diff of the exact mpmath loss, at
  80 + |x|/2.3 digits, independent of cbce.
* float32: its gradient against differences of the float64 loss at the same (exact) inputs.
"""
import mpmath
import numpy as np
import pytest

import cbce
from reference import mp_loss

F = cbce.binary_cross_entropy_with_logits
B = cbce.binary_cross_entropy_with_logits_backward
FB = cbce.binary_cross_entropy_with_logits_forward_backward
GH = cbce.binary_cross_entropy_with_logits_grad_hess

OPTS = ["plain", "pos_weight", "weight", "smoothing", "all"]


def _setup(rng, opts, n=400, scale=4.0):
    x = rng.normal(0, scale, n)
    y = rng.uniform(0, 1, n)
    y = np.where(rng.uniform(0, 1, n) < 0.4, np.round(y), y)
    kw = {}
    if opts in ("pos_weight", "all"):
        kw["pos_weight"] = rng.uniform(0.2, 5, n)
    if opts in ("weight", "all"):
        kw["weight"] = rng.uniform(0, 3, n)
    if opts in ("smoothing", "all"):
        kw["label_smoothing"] = 0.3
    return x, y, kw


def _five_point(f, x, h):
    return (-f(x + 2 * h) + 8 * f(x + h) - 8 * f(x - h) + f(x - 2 * h)) / (12 * h)


def _scale(y, kw):
    """Size of the terms of the gradient (and hessian): w * max(1 - y, p * y), at least w."""
    eps = kw.get("label_smoothing", 0.0)
    ys = y * (1 - eps) + eps / 2
    p = kw.get("pos_weight", 1.0)
    w = kw.get("weight", 1.0)
    return w * np.maximum((1 - ys) + p * ys, 1.0)


@pytest.mark.parametrize("opts", OPTS)
def test_gradient_vs_central_differences(opts, rng):
    x, y, kw = _setup(rng, opts)
    h = 1e-3 * np.maximum(1, np.abs(x))
    fd = _five_point(lambda v: F(v, y, reduction="none", **kw), x, h)
    for name, g in (("backward", B(x, y, reduction="none", **kw)),
                    ("forward_backward", FB(x, y, reduction="none", **kw)[1]),
                    ("grad_hess", GH(x, y, **kw)[0])):
        err = np.abs(g - fd)
        tol = 1e-8 * _scale(y, kw)
        bad = np.nonzero(err > tol)[0]
        assert bad.size == 0, (
            f"{name} ({opts}): {bad.size} gradients differ from finite differences, e.g. "
            f"x={x[bad[0]]!r} y={y[bad[0]]!r} "
            f"{({k: (v[bad[0]] if np.ndim(v) else v) for k, v in kw.items()})}: "
            f"{g[bad[0]]!r} vs {fd[bad[0]]!r}")


@pytest.mark.parametrize("opts", OPTS)
def test_hessian_vs_differences_of_gradient(opts, rng):
    x, y, kw = _setup(rng, opts)
    h = 1e-3 * np.maximum(1, np.abs(x))
    fd = _five_point(lambda v: B(v, y, reduction="none", **kw), x, h)
    _, hess = GH(x, y, **kw)
    err = np.abs(hess - fd)
    tol = 1e-8 * _scale(y, kw)
    bad = np.nonzero(err > tol)[0]
    assert bad.size == 0, (
        f"hessian ({opts}): {bad.size} values differ from differences of the gradient, e.g. "
        f"x={x[bad[0]]!r} y={y[bad[0]]!r}: {hess[bad[0]]!r} vs {fd[bad[0]]!r}")


@pytest.mark.parametrize("reduction", ["sum", "mean", "weighted_mean"])
@pytest.mark.parametrize("opts", OPTS)
def test_reduced_gradient_directional_derivative(reduction, opts, rng):
    x, y, kw = _setup(rng, opts, n=300, scale=3.0)
    x = x.reshape(60, 5)
    y = y.reshape(60, 5)
    kw = {k: (v.reshape(60, 5) if np.ndim(v) else v) for k, v in kw.items()}
    if "pos_weight" in kw:
        kw["pos_weight"] = kw["pos_weight"][0]          # shape (C,), broadcast
    if "weight" in kw:
        kw["weight"] = kw["weight"][:, :1]              # shape (N, 1), broadcast
    go = 1.75
    g = B(x, y, reduction=reduction, grad_output=go, **kw)
    for trial in range(3):
        v = rng.normal(0, 1, x.shape)
        h = 1e-3

        def f(t):
            return float(F(x + t * v, y, reduction=reduction, **kw))

        fd = go * (-f(2 * h) + 8 * f(h) - 8 * f(-h) + f(-2 * h)) / (12 * h)
        dot = float(np.sum(g * v))
        scale = float(np.sum(np.abs(g * v))) + 1e-300
        assert abs(dot - fd) <= 1e-8 * max(scale, abs(fd)) + 1e-12, (
            f"{reduction} ({opts}), direction {trial}: <grad, v> = {dot!r} but the directional "
            f"derivative of the loss is {fd!r}")


@pytest.mark.parametrize("eps", [0.05, 0.5, 1.0])
def test_label_smoothing_derivative_wrt_logits(eps, rng):
    """Smoothing changes the target only: the gradient equals the one of the smoothed target
    and matches differences of the smoothed loss."""
    x, y, _ = _setup(rng, "plain", n=200)
    h = 1e-3 * np.maximum(1, np.abs(x))
    fd = _five_point(lambda v: F(v, y, reduction="none", label_smoothing=eps), x, h)
    g = B(x, y, reduction="none", label_smoothing=eps)
    assert np.all(np.abs(g - fd) <= 1e-8), f"label_smoothing={eps}: gradient vs differences"
    g2 = B(x, y * (1 - eps) + eps / 2, reduction="none")
    assert np.allclose(g, g2, rtol=0, atol=4e-16), f"label_smoothing={eps}: vs smoothed target"


# extreme logits: mpmath.diff of the exact loss
EXTREME = [(-700.0, 0.0, 1.0, 1.0), (-700.0, 1.0, 3.0, 1.0), (700.0, 1.0, 0.5, 2.0),
           (700.0, 0.0, 1.0, 1.0), (-37.5, 0.0, 1.0, 1.0), (36.0, 1.0, 1.0, 0.5),
           (-40.0, 0.25, 3.0, 1.0), (45.0, 0.9, 0.5, 1.0), (1e-300, 0.5, 1.0, 1.0),
           (-1e-20, 0.25, 3.0, 1.0), (20.0, 1.0, 1.0, 1.0), (-19.0, 0.0, 2.0, 3.0),
           (5e-8, 0.0, 1.0, 1.0), (0.0, 1.0, 0.5, 1.0), (-3.5, 0.7, 1.3, 0.25)]


@pytest.mark.parametrize("x,y,p,w", EXTREME)
def test_extreme_logits_vs_mpmath_diff(x, y, p, w):
    # the loss is ~|x| while its second derivative is ~exp(-|x|): the differences need
    # ~|x|/2.3 digits more than the answer
    with mpmath.workdps(80 + int(abs(x) / 2.3)):
        d1 = mpmath.diff(lambda t: mp_loss(t, y, p, w), mpmath.mpf(x), 1)
        d2 = mpmath.diff(lambda t: mp_loss(t, y, p, w), mpmath.mpf(x), 2)
        c = (1 - y) + p * y
        scale1 = w * max(c * float(1 / (1 + mpmath.exp(-mpmath.mpf(x)))), p * y)
    g = B(np.array([x]), np.array([y]), np.array([w]), pos_weight=np.array([p]),
          reduction="none")[0]
    gg, hh = GH(np.array([x]), np.array([y]), np.array([w]), pos_weight=np.array([p]))
    eps = np.finfo(np.float64).eps
    # the gradient within 2 ulp of the size of its terms; where it is not cancelling (hard
    # labels) within a few ulps of itself, however tiny (e.g. exp(-700))
    tol1 = 2 * eps * scale1
    if y in (0.0, 1.0):
        tol1 = min(tol1, 4 * eps * abs(float(d1))) if d1 != 0 else 0.0
    for name, val in (("backward", g), ("grad_hess", gg)):
        assert abs(val - float(d1)) <= tol1, (
            f"{name} at x={x}, y={y}, pos_weight={p}, weight={w}: {val!r}, mpmath.diff "
            f"gives {mpmath.nstr(d1, 20)}")
    assert abs(hh - float(d2)) <= 4 * eps * abs(float(d2)), (
        f"hessian at x={x}, y={y}, pos_weight={p}, weight={w}: {hh!r}, mpmath.diff gives "
        f"{mpmath.nstr(d2, 20)}")


def test_float32_gradient_vs_float64_differences(rng):
    x, y, kw = _setup(rng, "all", n=500)
    x32 = x.astype(np.float32)
    y32 = y.astype(np.float32)
    kw32 = {k: (np.asarray(v, np.float32) if np.ndim(v) else v) for k, v in kw.items()}
    kw64 = {k: (np.asarray(v, np.float32).astype(np.float64) if np.ndim(v) else v)
            for k, v in kw.items()}
    x64, y64 = x32.astype(np.float64), y32.astype(np.float64)
    h = 1e-3 * np.maximum(1, np.abs(x64))
    fd = _five_point(lambda v: F(v, y64, reduction="none", **kw64), x64, h)
    fdh = _five_point(lambda v: B(v, y64, reduction="none", **kw64), x64, h)
    g, hs = GH(x32, y32, **kw32)
    assert g.dtype == np.float32
    tol = 2 * np.finfo(np.float32).eps * _scale(y64, kw64)
    assert np.all(np.abs(g - fd) <= tol), "float32 gradient vs float64 finite differences"
    assert np.all(np.abs(hs - fdh) <= tol), "float32 hessian vs float64 differences of the gradient"
