"""cbce.asymmetric_loss (Ridnik et al., "Asymmetric Loss For Multi-Label Classification",
ICCV 2021) and its backward / forward_backward / grad_hess.

References, independent of cbce's log-space forms:
* mpmath at 384 bits, the paper's formula with p = sigmoid(x), pm = max(p - clip, 0):
      l = y (1 - p)^gamma_pos (-log p) + (1 - y) pm^gamma_neg (-log(1 - pm))
  differentiated in p (textbook power and log rules) and by the chain rule with
  p' = p (1 - p), p'' = p' (1 - 2p) (checked against mpmath.diff below);
* the authors' published implementation (AsymmetricLoss of the ASL repository, hard labels)
  written in PyTorch, float64, autograd for the derivatives; for soft labels the y-weighted
  sum in NumPy;
* gamma_pos = gamma_neg = clip = 0 against cbce's BCE with logits.

Bounds.  Away from the margin API.md's (loss 1 ulp for hard labels, 2 for soft; gradient
1 ulp for hard labels, 2 ulp of its largest term for soft ones; hessian 4 ulp of its largest
term).  pm = p - clip is a cancelling difference: p is computed in double for float32 data
(within a few 2^-53 relative) and from exp(-|x|) good to 2^-56.5 for float64 data, so near
the margin each result is allowed, on top of the bound, its sensitivity to pm times p's
error: |d result / d pm| * p * 2^-50 (float32 data) or 2^-56 (float64 data).  Measured in ulps of max(largest term, that allowance * 2^precision).
"""
import math

import mpmath
import numpy as np
import pytest

import cbce
from reference import (check_mp_derivatives, exact_value, report_ulp, ulp_error,
                       unreduced_all_ops, worst_element)

FL = cbce.asymmetric_loss
FB = cbce.asymmetric_loss_backward
FFB = cbce.asymmetric_loss_forward_backward
FGH = cbce.asymmetric_loss_grad_hess

DTYPES = [np.float32, np.float64]
DT_IDS = ["float32", "float64"]
PREC = 1300  # the textbook derivatives cancel down to e^-740 of their terms: 1070 bits + 200
CONFIGS = [(0.0, 4.0, 0.05), (1.0, 2.0, 0.0), (0.5, 0.5, 0.2), (2.0, 1.0, 0.05),
           (3.0, 0.0, 0.6), (0.0, 0.0, 0.0)]
WORK_EPS = {np.float32: 2.0 ** -50, np.float64: 2.0 ** -56}


def _mp(v):
    return v if isinstance(v, mpmath.mpf) else mpmath.mpf(float(v))


def _pow(b, e):
    return mpmath.mpf(1) if e == 0 else (mpmath.mpf(0) if b == 0 else b ** e)


def mp_asymmetric(x, y, gp, gn, clip):
    """(loss, grad, hess, grad_scale, hess_scale, allowance factors): the scales are the
    largest of the terms l' and l'' are sums of (written in x: p' Fp (gamma_pos p (-log p)),
    p' Fp (1 - p), ... as listed in asymmetric.c); the factors are p times |d result / d pm|
    for loss, gradient and hessian."""
    with mpmath.workprec(max(PREC, mpmath.mp.prec)):  # (mpmath.diff raises mp.prec)
        x, y = _mp(x), _mp(y)
        gp, gn, clip = mpmath.mpf(gp), mpmath.mpf(gn), mpmath.mpf(clip)
        q = 1 - y
        p, p1 = 1 / (1 + mpmath.exp(-x)), 1 / (1 + mpmath.exp(x))
        pd = p * p1
        pdd = pd * (p1 - p)
        nlp = mpmath.log1p(mpmath.exp(-x))           # -log p
        # positive term and its p-derivatives
        Lp = _pow(p1, gp) * nlp
        d1p = [-_pow(p1, gp) / p]
        d2p = [_pow(p1, gp) / p ** 2]
        if gp != 0:
            d1p.append(-gp * _pow(p1, gp - 1) * nlp)
            d2p += [gp * (gp - 1) * _pow(p1, gp - 2) * nlp, 2 * gp * _pow(p1, gp - 1) / p]
        if y == 0:
            Lp, d1p, d2p = 0, [0], [0]
        # negative term (margin active: p >= clip) and its pm-derivatives
        zero = [mpmath.mpf(0)]
        Lm, d1m, d2m, d3m = 0, zero, zero, zero
        if p >= clip and q != 0:
            pm = p - clip
            V = p1 + clip
            nlV = (-mpmath.log1p(-pm) if pm <= 0.5 else -mpmath.log(V)) if V != 0 else mpmath.inf
            Lm = _pow(pm, gn) * nlV
            d1m = [_pow(pm, gn) / V]
            d2m = [_pow(pm, gn) / V ** 2]
            d3m = [2 * _pow(pm, gn) / V ** 3]
            if gn != 0:
                d1m.append(gn * _pow(pm, gn - 1) * nlV)
                d2m += [gn * (gn - 1) * _pow(pm, gn - 2) * nlV, 2 * gn * _pow(pm, gn - 1) / V]
                d3m += [gn * (gn - 1) * (gn - 2) * _pow(pm, gn - 3) * nlV,
                        3 * gn * (gn - 1) * _pow(pm, gn - 2) / V,
                        3 * gn * _pow(pm, gn - 1) / V ** 2]
        loss = y * Lp + q * Lm
        gterms = [y * t * pd for t in d1p] + [q * t * pd for t in d1m]
        hterms = ([y * t * pd ** 2 for t in d2p] + [y * t * pdd for t in d1p] +
                  [q * t * pd ** 2 for t in d2m] + [q * t * pdd for t in d1m])
        sens = (q * abs(mpmath.fsum(d1m)),
                q * abs(mpmath.fsum(d2m) * pd),
                q * abs(mpmath.fsum(d3m) * pd ** 2 + mpmath.fsum(d2m) * pdd))
        # the terms in x (the scales of the gradient and hessian)
        Fp, Ps, o2p = _pow(p1, gp), p * nlp, p1 - p
        gs = [y * Fp * gp * Ps, y * Fp * p1] if y != 0 else []
        hs = [y * Fp * t for t in (gp * gp * p * Ps, gp * p1 * Ps, 2 * gp * pd, pd)] \
            if y != 0 else []
        if p >= clip and q != 0:
            Fm = _pow(pm, gn)
            gs += [q * Fm * pd / V] + ([q * Fm * gn * pd * nlV / pm] if gn != 0 else [])
            hs += [q * pd * Fm * p1 ** 2 / V ** 2, q * pd * Fm * clip * o2p / V ** 2]
            if gn != 0:
                Fm1 = _pow(pm, gn - 1) if pm != 0 or gn >= 1 else mpmath.inf
                hs += [q * gn * pd * Fm1 * t for t in (o2p * nlV, (gn - 1) * pd * nlV / pm,
                                                       2 * pd / V)]
        big = lambda ts: max([abs(t) for t in ts] + [mpmath.mpf(0)])  # noqa: E731
        return (loss, mpmath.fsum(gterms), mpmath.fsum(hterms), big(gs), big(hs),
                tuple(s * p for s in sens))


def _points(dtype, rng, clip):
    big = 100.0 if dtype == np.float32 else 740.0
    mag = 10.0 ** rng.uniform(-8, math.log10(big), 40)
    x = [mag, -mag, rng.uniform(-8, 8, 30), [0.0, 1e-30, -1e-30, 30.0, -30.0, big, -big]]
    if 0 < clip:
        root = math.log(clip / (1 - clip))               # p = clip
        x.append(root + np.array([0.0, 1e-12, -1e-12, 1e-6, -1e-6, 1e-3, -1e-3, 0.1]))
    return np.concatenate(x).astype(dtype)


@pytest.fixture(scope="module", params=DTYPES, ids=DT_IDS)
def mp_cases(request):
    dt = np.dtype(request.param)
    rng = np.random.default_rng(2021)
    res = []
    for gp, gn, clip in CONFIGS:
        x = _points(dt.type, rng, clip)
        n = len(x)
        labels = {"hard": np.where(np.arange(n) % 2 == 0, 1.0, 0.0).astype(dt),
                  "soft": rng.choice(np.array([0.1, 0.3, 0.5, 0.7, 0.95]), n).astype(dt)}
        kw = dict(gamma_pos=gp, gamma_neg=gn, clip=clip)
        for kind, y in labels.items():
            loss, grad, hh = unreduced_all_ops((FL, FB, FFB, FGH), x, y, kw)
            refs = [mp_asymmetric(a, b, gp, gn, clip) for a, b in zip(x, y)]
            res.append(dict(cfg=(gp, gn, clip), kind=kind, x=x, y=y, loss=loss, grad=grad,
                            hess=hh, refs=refs))
    return dt, res


@pytest.mark.parametrize("quantity", ["loss", "grad", "hess"])
def test_vs_mpmath(mp_cases, quantity):
    dt, cases = mp_cases
    col = {"loss": 0, "grad": 1, "hess": 2}[quantity]
    prec = np.finfo(dt).nmant + 1
    failures = []
    for c in cases:
        hard = c["kind"] == "hard"
        exact = exact_value([r[col] for r in c["refs"]])
        allow = [r[5][col] * WORK_EPS[dt.type] * 2 ** prec for r in c["refs"]]
        if quantity == "loss":
            bound, base = (1.0 if hard else 2.0), [abs(r[0]) for r in c["refs"]]
        elif quantity == "grad":
            bound = 1.0 if hard else 2.0
            base = [abs(r[1]) if hard else r[3] for r in c["refs"]]
        else:
            bound, base = 4.0, [r[4] for r in c["refs"]]
        scale = exact_value([max(b, a) for b, a in zip(base, allow)])
        err = ulp_error(c[quantity], exact, dt, scale=scale)
        worst = float(np.max(err))
        report_ulp(f"{dt.name} asymmetric {quantity} {c['kind']}", worst, bound)
        # the figure without the margin allowance, for elements where it is not needed
        far = np.array([a <= b for a, b in zip(allow, base)])
        plain = ulp_error(c[quantity], exact, dt,
                          scale=None if (hard and quantity != "hess")
                          else exact_value(base))[far]
        report_ulp(f"{dt.name} asymmetric {quantity} {c['kind']} (away from the margin)",
                   float(np.max(plain, initial=0)), bound)
        if not worst <= bound:
            failures.append(worst_element(f"{c['cfg']} {c['kind']}", err, c["x"], c["y"],
                                          c[quantity], [r[col] for r in c["refs"]], bound))
    assert not failures, f"{dt.name} asymmetric {quantity}:\n" + "\n".join(failures)


def test_mpmath_reference_derivatives_agree_with_numerical_diff():
    check_mp_derivatives(mp_asymmetric, [(x, y, *cfg) for x in (-7.5, -0.3, 0.0, 1.7, 12.0)
                                         for y in (0.0, 1.0, 0.3)
                                         for cfg in ((0.0, 4.0, 0.05), (1.5, 0.5, 0.2),
                                                     (2.0, 1.0, 0.0))], PREC)


# ---- the authors' implementation and the paper's formula -------------------------------------

def torch_asl(x, y, gp, gn, clip, eps=1e-8):
    """AsymmetricLoss.forward of the ASL repository (losses.py), elementwise, negated sum
    left out: hard labels."""
    import torch
    xs_pos = torch.sigmoid(x)
    xs_neg = 1 - xs_pos
    if clip is not None and clip > 0:
        xs_neg = (xs_neg + clip).clamp(max=1)
    loss = y * torch.log(xs_pos.clamp(min=eps)) + (1 - y) * torch.log(xs_neg.clamp(min=eps))
    pt = xs_pos * y + xs_neg * (1 - y)
    w = torch.pow(1 - pt, gp * y + gn * (1 - y))
    return -(loss * w)


@pytest.mark.parametrize("gp,gn,clip", CONFIGS[:4])
def test_vs_authors_implementation_in_torch(gp, gn, clip, rng):
    torch = pytest.importorskip("torch")
    x = rng.uniform(-12, 12, 600)
    if clip > 0:  # the margin itself: the published code's derivative there is one-sided too
        x = x[np.abs(1 / (1 + np.exp(-x)) - clip) > 1e-6]
    y = rng.integers(0, 2, x.size).astype(np.float64)
    xt = torch.tensor(x, requires_grad=True)
    lt = torch_asl(xt, torch.tensor(y), gp, gn, clip)
    (gt,) = torch.autograd.grad(lt.sum(), xt, create_graph=True)
    (ht,) = torch.autograd.grad(gt.sum(), xt)
    want_l, want_g, want_h = (v.detach().numpy() for v in (lt, gt, ht))
    # where the margin is inactive the published code differentiates pow(0, gamma_neg):
    # NaN for gamma_neg < 1; compare where it is finite
    fin = np.isfinite(want_g) & np.isfinite(want_h)
    assert fin.sum() > 0.5 * x.size
    x, y, want_l, want_g, want_h = x[fin], y[fin], want_l[fin], want_g[fin], want_h[fin]
    kw = dict(gamma_pos=gp, gamma_neg=gn, clip=clip)
    got_l = FL(x, y, **kw, reduction="none")
    got_g, got_h = FGH(x, y, **kw)
    # torch's 1 - sigmoid(x) cancels for large x: rtol and atol
    np.testing.assert_allclose(got_l, want_l, rtol=1e-10, atol=1e-12, err_msg="loss")
    np.testing.assert_allclose(got_g, want_g, rtol=1e-8, atol=1e-12, err_msg="gradient")
    np.testing.assert_allclose(got_h, want_h, rtol=1e-7, atol=1e-11, err_msg="hessian")
    np.testing.assert_allclose(FL(x, y, **kw, reduction="sum"), want_l.sum(), rtol=1e-12)


def numpy_asl(x, y, gp, gn, clip):
    p = 1 / (1 + np.exp(-x))
    pm = np.maximum(p - clip, 0)
    return y * (1 - p) ** gp * -np.log(p) + (1 - y) * pm ** gn * -np.log(1 - pm)


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_soft_labels_vs_numpy_formula(dtype, rng):
    x = rng.uniform(-10, 10, 2000)
    y = rng.random(2000)
    want = numpy_asl(x, y, 1.0, 4.0, 0.05)
    got = FL(x.astype(dtype), y.astype(dtype), gamma_pos=1.0, gamma_neg=4.0, clip=0.05,
             reduction="none")
    if dtype == np.float64:
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-300)
    else:  # the float32-rounded inputs, the float64 formula
        want = numpy_asl(x.astype(np.float32).astype(np.float64),
                         y.astype(np.float32).astype(np.float64), 1.0, 4.0, 0.05)
        np.testing.assert_allclose(got, want, rtol=2 ** -23, atol=1e-40)


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_no_focusing_no_margin_is_bce_with_logits(dtype, rng):
    x = np.concatenate([rng.normal(0, 8, 500), [0.0, 80.0, -80.0]]).astype(dtype)
    y = rng.integers(0, 2, x.size).astype(dtype)
    kw = dict(gamma_pos=0.0, gamma_neg=0.0, clip=0.0)
    a = FL(x, y, **kw, reduction="none")
    b = cbce.binary_cross_entropy_with_logits(x, y, reduction="none")
    assert (np.abs(a.astype(np.float64) - b) / np.spacing(np.abs(b))).max() <= 1.0
    (g1, h1), (g2, h2) = FGH(x, y, **kw), cbce.binary_cross_entropy_with_logits_grad_hess(x, y)
    assert (np.abs(g1.astype(np.float64) - g2) / np.spacing(np.abs(g2))).max() <= 1.0
    assert (np.abs(h1.astype(np.float64) - h2) / np.spacing(np.abs(h2))).max() <= 2.0


# ---- limits, weights, reductions, layouts ----------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("gp,gn,clip", CONFIGS)
def test_infinite_logits_give_limits(dtype, gp, gn, clip):
    kw = dict(gamma_pos=gp, gamma_neg=gn, clip=clip)
    x = np.array([np.inf, -np.inf, np.inf, -np.inf], dtype=dtype)
    y = np.array([1, 0, 0, 1], dtype=dtype)
    loss = FL(x, y, **kw, reduction="none")
    g, h = FGH(x, y, **kw)
    # x = +inf, y = 0: pm = 1 - clip, -log(1 - pm) = -log(clip) (inf for clip = 0); its
    # derivative -> 0 for clip > 0, -> 1 (the logistic limit) for clip = 0
    neg = (1 - clip) ** gn * -math.log(clip) if clip > 0 else math.inf
    np.testing.assert_allclose(loss, np.array([0, 0, neg, np.inf]), rtol=2e-7)
    np.testing.assert_array_equal(g, np.array([0, 0, 0 if clip > 0 else 1, -1], dtype=dtype))
    np.testing.assert_array_equal(h, np.zeros(4, dtype=dtype))
    nan_in = np.array([np.nan, 0.0], dtype=dtype), np.array([0.0, np.nan], dtype=dtype)
    assert np.isnan(FL(*nan_in, **kw, reduction="none")).all()
    assert all(np.isnan(v).all() for v in FGH(*nan_in, **kw))


def test_derivatives_at_the_margin_are_one_sided():
    """At p = clip (x = 0, clip = 1/2: exact in every precision) the derivative from p > clip:
    with gamma_neg = 0, d/dx -log(1 - pm) = p' (not 0); with 0 < gamma_neg < 1 the second
    derivative is +inf there; just below the margin both are 0."""
    for dt in DTYPES:
        x = np.array([0.0, -1e-6], dtype=dt)
        y = np.zeros(2, dtype=dt)
        g, h = FGH(x, y, gamma_pos=0.0, gamma_neg=0.0, clip=0.5)
        np.testing.assert_array_equal(g, np.array([0.25, 0.0], dtype=dt))
        # l'' = p'' / V + (p' / V)^2 = 0 + 1/16 at p = 1/2
        np.testing.assert_array_equal(h, np.array([0.0625, 0.0], dtype=dt))
        g, h = FGH(x, y, gamma_pos=0.0, gamma_neg=0.5, clip=0.5)
        np.testing.assert_array_equal(g, np.zeros(2, dtype=dt))
        np.testing.assert_array_equal(h, np.array([np.inf, 0.0], dtype=dt))


def test_no_pos_weight_no_label_smoothing(rng):
    x = rng.normal(0, 3, (20, 5))
    y = (rng.random((20, 5)) < 0.3).astype(np.float64)
    with pytest.raises(TypeError):
        FL(x, y, pos_weight=np.ones(5))
    with pytest.raises(TypeError):
        FL(x, y, label_smoothing=0.1)


def test_class():
    m = cbce.AsymmetricLoss()
    assert repr(m) == "AsymmetricLoss(gamma_pos=0.0, gamma_neg=4.0, clip=0.05, reduction='mean')"
    m = cbce.AsymmetricLoss(gamma_pos=1.0, gamma_neg=2.0, clip=0.1, reduction="sum")
    x = np.array([-1.0, 0.5, 3.0])
    y = np.array([0.0, 1.0, 1.0])
    assert m(x, y) == FL(x, y, gamma_pos=1.0, gamma_neg=2.0, clip=0.1, reduction="sum")
    lo, go = m.forward_backward(x, y)
    assert lo == m(x, y)
    np.testing.assert_array_equal(go, m.backward(x, y))


@pytest.mark.skipif(np.finfo(np.longdouble).nmant < 63,
                    reason="needs an 80-bit long double for the reference")
@pytest.mark.parametrize("gp,gn,clip", CONFIGS)
def test_float32_many_points_against_long_double(gp, gn, clip, rng):
    """The float32 span kernel (double arithmetic) on 1.8*10^5 points a configuration against
    the paper's formula and its first derivative in long double: |x| uniform to 8 and to 30,
    and 2^-30..2, hard and soft targets.  Loss within 0.6 ulp, allowed on top its sensitivity
    to pm times p 2^-50 (module docstring); the gradient, away from the margin (p - clip
    beyond 2^-8 p), within 0.6 ulp of the sum of its terms' magnitudes (measured 0.50)."""
    L = np.longdouble
    n = 60000
    x = np.concatenate([rng.uniform(-8, 8, n), rng.uniform(-30, 30, n),
                        np.ldexp(rng.uniform(-1, 1, n), rng.integers(-30, 2, n))])
    x = x.astype(np.float32)
    xl = x.astype(L)
    p, p1 = 1 / (1 + np.exp(-xl)), 1 / (1 + np.exp(xl))  # p = sigmoid(x), 1 - p
    nlogp = np.maximum(-xl, 0) + np.log1p(np.exp(-np.abs(xl)))  # -log p
    pm = np.maximum(p - L(clip), 0)
    omp = np.where(p >= L(clip), p1 + L(clip), 1)  # 1 - pm, without cancellation
    nlv = np.where(pm <= 0.25, -np.log1p(-pm), -np.log(omp))  # -log(1 - pm)
    with np.errstate(divide="ignore", invalid="ignore"):
        fm1 = np.where(pm > 0, pm ** L(gn - 1), 0)  # pm^(gn - 1), 0 off the margin
    fp, fm = p1 ** L(gp), pm ** L(gn)
    pd = p * p1
    margin = np.abs(p - L(clip)) <= p * L(2.0**-8)
    for kind in ("hard", "soft"):
        t = rng.random(x.size).astype(np.float32)
        if kind == "hard":
            t = (t < 0.5).astype(np.float32)
        y = t.astype(L)
        lpos, lneg = y * fp * nlogp, (1 - y) * fm * nlv
        gpos = -y * fp * (L(gp) * p * nlogp + p1)
        gneg = np.where(pm > 0, (1 - y) * pd * (L(gn) * fm1 * nlv + fm / omp), 0)
        # d loss / d pm, times p's error
        allow = np.abs((1 - y) * gneg / np.where(pd > 0, pd, 1)) * p * L(2.0**-50)
        got_l = FL(x, t, gamma_pos=gp, gamma_neg=gn, clip=clip, reduction="none")
        got_g = FB(x, t, gamma_pos=gp, gamma_neg=gn, clip=clip, reduction="none")
        for name, got, ref, scale, sel in (
                ("loss", got_l, lpos + lneg, lpos + lneg, np.ones(x.size, bool)),
                ("grad", got_g, gpos + gneg, np.abs(gpos) + np.abs(gneg), ~margin)):
            s = np.maximum(np.abs(scale.astype(np.float64)), np.finfo(np.float32).tiny)
            ulp = np.maximum(np.ldexp(1.0, np.frexp(s)[1] - 24), 2.0**-149).astype(L)
            err = (np.maximum(np.abs(got.astype(L) - ref) - (allow if name == "loss" else 0), 0)
                   / ulp).astype(float)
            err = np.where(sel, err, 0.0)
            i = int(np.argmax(err))
            report_ulp(f"float32 asymmetric {name} {kind} (1.8e5 points, long double)",
                       err[i], 0.6)
            assert err[i] <= 0.6, (f"{kind} gp={gp} gn={gn} clip={clip}: {name} {err[i]:.3g} "
                                   f"ulp at x={x[i]!r} t={t[i]!r}: got {got[i]!r}, exact "
                                   f"{float(ref[i])!r}")


F64_CONFIGS = CONFIGS + [(1.5, 2.5, 0.05), (8.0, 8.0, 0.1), (0.0, 7.5, 0.0)]


@pytest.mark.parametrize("kind", ["hard", "soft"])
@pytest.mark.parametrize("gp,gn,clip", F64_CONFIGS)
def test_float64_kernel_many_points(gp, gn, clip, kind, rng):
    """The float64 kernel (double-double on the vector layer; integer gammas by binary
    powering, others by exp(gamma log); the careful element for the rare lanes) on 1,000
    weighted points a configuration against mpmath: |x| uniform to 8, to 40 and to 700,
    2^-40..2, and around the margin.  The loss (a sum of terms >= 0) within 0.75 ulp, hard-
    label gradients (one term) within 0.8 ulp, soft-label gradients within 0.8 ulp and
    hessians within 1 ulp of the larger of the result and its largest term; each allowed on
    top its sensitivity to pm times p 2^-56 (module docstring); forward_backward gives the
    bits of forward and backward."""
    x = np.concatenate([rng.uniform(-8, 8, 300), rng.uniform(-40, 40, 250),
                        rng.uniform(-700, 700, 150),
                        np.ldexp(rng.uniform(-1, 1, 250), rng.integers(-40, 2, 250))])
    if clip > 0:
        root = math.log(clip / (1 - clip))
        x = np.concatenate([x, root + np.ldexp(rng.uniform(-1, 1, 50),
                                               rng.integers(-50, 0, 50))])
    t = rng.random(x.size)
    if kind == "hard":
        t = (t < 0.5).astype(np.float64)
    w = np.ldexp(rng.uniform(0.5, 1.0, x.size), rng.integers(-3, 4, x.size))
    kw = dict(gamma_pos=gp, gamma_neg=gn, clip=clip)
    loss = FL(x, t, w, reduction="none", **kw)
    grad, hess = FGH(x, t, w, **kw)
    fl, fg = FFB(x, t, w, reduction="none", **kw)
    np.testing.assert_array_equal(fl, loss, err_msg="forward_backward's loss")
    np.testing.assert_array_equal(fg, FB(x, t, w, reduction="none", **kw),
                                  err_msg="forward_backward's gradient")
    refs = [mp_asymmetric(a, b, gp, gn, clip) for a, b in zip(x, t)]
    failures = []
    for name, got, col, bound in (("loss", loss, 0, 0.75), ("grad", grad, 1, 0.8),
                                  ("hess", hess, 2, 1.0)):
        with mpmath.workprec(PREC):  # the products exact
            mw = [mpmath.mpf(float(v)) for v in w]
            exact = exact_value([r[col] * v for r, v in zip(refs, mw)])
            base = [abs(r[col]) if name == "loss" or (name == "grad" and kind == "hard")
                    else max(abs(r[col]), r[col + 2]) for r in refs]
            allow = [r[5][col] * WORK_EPS[np.float64] * 2 ** 53 for r in refs]
            scale = exact_value([max(b, a) * v for b, a, v in zip(base, allow, mw)])
        err = ulp_error(got, exact, np.float64, scale=scale)
        report_ulp(f"float64 asymmetric kernel {name} {kind}", float(err.max()), bound)
        if not err.max() <= bound:
            i = int(np.argmax(err))
            failures.append(f"{name} {err[i]:.4g} ulp at x = {x[i]!r}, target {t[i]!r}, "
                            f"weight {w[i]!r}: got {got[i]!r}, exact "
                            f"{float(exact[i:i + 1].approx[0])!r}")
    assert not failures, f"gp={gp} gn={gn} clip={clip} {kind}:\n" + "\n".join(failures)


@pytest.mark.parametrize("n", [3, 8, 20, 300])
def test_float64_fused_loss_kept_where_only_the_gradient_is_redone(n):
    """At a subnormal logit and target 1/2 (gammas and clip 0) the gradient p - 1/2 is below
    the float64 vector kernel's range, so the careful step computes it again alone; the
    fused call's loss must stay the forward's (ln 2), at every place in a chunk."""
    x = np.full(n, float.fromhex("0x0.c7054a7e9762ap-1022"))
    x[::3] = 1e-300
    t = np.full(n, 0.5)
    kw = dict(gamma_pos=0.0, gamma_neg=0.0, clip=0.0)
    fl, fg = FFB(x, t, reduction="none", **kw)
    np.testing.assert_array_equal(fl, FL(x, t, reduction="none", **kw))
    np.testing.assert_array_equal(fg, FB(x, t, reduction="none", **kw))
    assert fl[0] == math.log(2.0), f"loss {fl[0]!r}, exact ln 2"
