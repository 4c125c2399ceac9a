"""cbce.poly1_loss and cbce.poly1_focal_loss (Leng et al., "PolyLoss", ICLR 2022) and their
backward / forward_backward / grad_hess.

References, independent of cbce's log-space forms:
* mpmath at 384 bits, the paper's formula with v = 1 - p_t = y sigmoid(-x) + (1-y) sigmoid(x)
  and ce = (1-y) softplus(x) + p y softplus(-x):
      poly1:        l = ce + eps v
      poly1_focal:  l = a_t v^gamma ce + eps v^(gamma+1)
  and their derivatives by the product rule (checked against mpmath.diff below);
* the paper's formula written in PyTorch (float64, autograd for the derivatives), where it
  is finite;
* epsilon = 0 against cbce's BCE with logits and focal loss.
Bounds: API.md's (loss 1 ulp for hard labels, 2 for soft; gradient 1 ulp for hard labels,
2 ulp of its largest term for soft ones; hessian 4 ulp of its largest term, as the focal
tests use).  With a negative epsilon the loss is a difference: its error is measured in ulps
of the larger of its two terms, and the gradient's and hessian's in ulps of their largest.
"""
import math

import mpmath
import numpy as np
import pytest

import cbce
from reference import (check_mp_derivatives, exact_value, report_ulp, ulp_error,
                       unreduced_all_ops, worst_element)

DTYPES = [np.float32, np.float64]
DT_IDS = ["float32", "float64"]
PREC = 384
EPSILONS = [1.0, 2.5, 0.0, -1.0]

FAMILY_FUNCS = {
    "poly1": (cbce.poly1_loss, cbce.poly1_loss_backward, cbce.poly1_loss_forward_backward,
              cbce.poly1_loss_grad_hess),
    "poly1_focal": (cbce.poly1_focal_loss, cbce.poly1_focal_loss_backward,
                    cbce.poly1_focal_loss_forward_backward, cbce.poly1_focal_loss_grad_hess),
}


def _mp(v):
    return v if isinstance(v, mpmath.mpf) else mpmath.mpf(float(v))


def mp_poly1(x, t, eps, *, ls=0.0, pw=1.0, alpha=None, gamma=0.0):
    """(loss, grad, hess, loss_scale, grad_scale, hess_scale) at 384 bits; each scale is the
    largest term of its sum (ce' split into its two terms, as API.md measures BCE's soft-label
    gradient in ulps of max(sigmoid(x), y))."""
    with mpmath.workprec(max(PREC, mpmath.mp.prec)):  # (mpmath.diff raises mp.prec)
        x, t, g = _mp(x), _mp(t), _mp(gamma)
        ls, pw, eps = mpmath.mpf(float(ls)), mpmath.mpf(float(pw)), mpmath.mpf(float(eps))
        y = t * (1 - ls) + ls / 2
        q = (1 - t) * (1 - ls) + ls / 2
        s, sb = 1 / (1 + mpmath.exp(-x)), 1 / (1 + mpmath.exp(x))
        sp = lambda z: mpmath.log1p(mpmath.exp(z))  # noqa: E731
        v = y * sb + q * s
        ce = q * sp(x) + pw * y * sp(-x)
        c1a, c1b = q * s, -pw * y * sb            # ce' = c1a + c1b
        c2 = (q + pw * y) * s * sb
        v1 = (q - y) * s * sb
        v2 = v1 * (sb - s)
        at = mpmath.mpf(1) if alpha is None else alpha * y + (1 - mpmath.mpf(alpha)) * q
        F = v ** g if g != 0 else mpmath.mpf(1)
        lterms = [at * F * ce, eps * F * v]
        if g == 0:
            gterms = [at * c1a, at * c1b, eps * v1]
            hterms = [at * c2, eps * v2]
        else:
            F1 = v ** (g - 1)
            gterms = [at * g * F1 * v1 * ce, at * F * c1a, at * F * c1b, eps * (g + 1) * F * v1]
            hterms = [at * g * (g - 1) * v ** (g - 2) * v1 ** 2 * ce, at * g * F1 * v2 * ce,
                      2 * at * g * F1 * v1 * c1a, 2 * at * g * F1 * v1 * c1b, at * F * c2,
                      eps * (g + 1) * g * F1 * v1 ** 2, eps * (g + 1) * F * v2]
        big = lambda ts: max(abs(u) for u in ts)  # noqa: E731
        return (mpmath.fsum(lterms), mpmath.fsum(gterms), mpmath.fsum(hterms), big(lterms),
                big(gterms), big(hterms))


def _points(dtype, rng):
    """Logits over the range where the results are representable, plus special points."""
    big = 100.0 if dtype == np.float32 else 740.0
    mag = 10.0 ** rng.uniform(-8, math.log10(big), 40)
    x = np.concatenate([mag, -mag, rng.uniform(-8, 8, 30), [0.0, 1e-30, -1e-30, 30.0, -30.0,
                                                              16.5, -16.5, big, -big]])
    return x.astype(dtype)


def _configs(family):
    if family == "poly1":
        return [dict(eps=e, ls=ls, pw=pw) for e in EPSILONS for ls in (0.0, 0.1)
                for pw in (1.0, 3.0)]
    return [dict(eps=e, ls=ls, alpha=a, gamma=g) for e in EPSILONS for ls in (0.0, 0.1)
            for a in (None, 0.25) for g in (0.0, 0.5, 2.0)
            if ls == 0.0 or (a is not None and g == 2.0)]


def _call_kw(family, cfg):
    kw = dict(epsilon=cfg["eps"], label_smoothing=cfg["ls"])
    if family == "poly1":
        kw["pos_weight"] = None if cfg["pw"] == 1.0 else np.array(cfg["pw"])
    else:
        kw.update(alpha=cfg["alpha"], gamma=cfg["gamma"])
    return kw


@pytest.fixture(scope="module", params=[(f, d) for f in FAMILY_FUNCS for d in DTYPES],
                ids=[f"{f}-{n}" for f in FAMILY_FUNCS for n in DT_IDS])
def mp_cases(request):
    family, dtype = request.param
    dt = np.dtype(dtype)
    rng = np.random.default_rng(2022)
    x = _points(dt.type, rng)
    n = len(x)
    labels = {"hard": np.where(np.arange(n) % 2 == 0, 1.0, 0.0).astype(dt),
              "soft": rng.choice(np.array([0.1, 0.3, 0.5, 0.7, 0.95]), n).astype(dt)}
    res = []
    for cfg in _configs(family):
        kw = _call_kw(family, cfg)
        for kind, y in labels.items():
            loss, grad, hh = unreduced_all_ops(FAMILY_FUNCS[family], x, y, kw)
            mpkw = {k: v for k, v in cfg.items() if k != "eps"}
            refs = [mp_poly1(a, b, cfg["eps"], **mpkw) for a, b in zip(x, y)]
            res.append(dict(cfg=cfg, kind=kind, x=x, y=y, loss=loss, grad=grad, hess=hh,
                            refs=refs))
    return family, dt, res


@pytest.mark.parametrize("quantity", ["loss", "grad", "hess"])
def test_vs_mpmath(mp_cases, quantity):
    family, dt, cases = mp_cases
    col = {"loss": 0, "grad": 1, "hess": 2}[quantity]
    failures = []
    for c in cases:
        hard = c["kind"] == "hard" and c["cfg"]["ls"] == 0.0
        neg = c["cfg"]["eps"] < 0
        exact = exact_value([r[col] for r in c["refs"]])
        scale = None
        if quantity == "loss":
            bound = 1.0 if hard else 2.0
            if neg:
                scale = exact_value([r[3] for r in c["refs"]])
        elif quantity == "grad":
            bound = 1.0 if hard else 2.0
            if neg or not hard:
                scale = exact_value([r[4] for r in c["refs"]])
        else:
            bound = 4.0
            scale = exact_value([r[5] for r in c["refs"]])
        err = ulp_error(c[quantity], exact, dt, scale=scale)
        worst = float(np.max(err))
        kind = "hard" if hard else "soft"
        key = f"{dt.name} {family} {quantity} {kind}{' eps<0 (largest term)' if neg else ''}"
        report_ulp(key, worst, bound)
        if not worst <= bound:
            failures.append(worst_element(f"{c['cfg']} {c['kind']}", err, c["x"], c["y"],
                                          c[quantity], [r[col] for r in c["refs"]], bound))
    assert not failures, f"{dt.name} {family} {quantity}:\n" + "\n".join(failures)


def test_mpmath_reference_derivatives_agree_with_numerical_diff():
    """The product-rule derivatives used as the reference match mpmath.diff of the loss."""
    def ref(x, y, gamma, alpha, pw):
        return mp_poly1(x, y, -1.5, pw=pw, alpha=alpha, gamma=gamma)
    check_mp_derivatives(ref, [(x, y, *cfg) for x in (-7.5, -0.3, 0.0, 1.7, 12.0)
                               for y in (0.0, 1.0, 0.3)
                               for cfg in ((0.0, None, 2.0), (0.5, 0.25, 1.0), (2.0, None, 1.0))],
                         PREC)


# ---- the paper's formula in PyTorch -------------------------------------------------------

def torch_poly1(x, y, eps, pos_weight=None):
    """Poly-1 as the paper writes it: BCE with logits + eps (1 - p_t)."""
    import torch
    ce = torch.nn.functional.binary_cross_entropy_with_logits(x, y, pos_weight=pos_weight,
                                                              reduction="none")
    p = torch.sigmoid(x)
    pt = y * p + (1 - y) * (1 - p)
    return ce + eps * (1 - pt)


def torch_poly1_focal(x, y, eps, alpha, gamma):
    """Poly-1 with the focal base: torchvision's focal loss + eps (1 - p_t)^(gamma + 1)."""
    import torch
    ce = torch.nn.functional.binary_cross_entropy_with_logits(x, y, reduction="none")
    p = torch.sigmoid(x)
    pt = y * p + (1 - y) * (1 - p)
    fl = ce * (1 - pt) ** gamma
    if alpha is not None:
        fl = (alpha * y + (1 - alpha) * (1 - y)) * fl
    return fl + eps * (1 - pt) ** (gamma + 1)


@pytest.mark.parametrize("family", list(FAMILY_FUNCS))
@pytest.mark.parametrize("eps", [1.0, -0.7, 3.0])
def test_vs_paper_formula_in_torch(family, eps, rng):
    torch = pytest.importorskip("torch")
    FL, FB, _, FGH = FAMILY_FUNCS[family]
    x = rng.uniform(-12, 12, 400)
    y = np.concatenate([rng.integers(0, 2, 200).astype(np.float64), rng.random(200)])
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.tensor(y)
    if family == "poly1":
        pw = rng.uniform(0.5, 3.0, 400)
        kw = dict(epsilon=eps, pos_weight=pw)
        lt = torch_poly1(xt, yt, eps, torch.tensor(pw))
    else:
        kw = dict(epsilon=eps, alpha=0.25, gamma=1.5)
        lt = torch_poly1_focal(xt, yt, eps, 0.25, 1.5)
    (gt,) = torch.autograd.grad(lt.sum(), xt, create_graph=True)
    (ht,) = torch.autograd.grad(gt.sum(), xt)
    want_l, want_g, want_h = (v.detach().numpy() for v in (lt, gt, ht))
    got_l = FL(x, y, **kw, reduction="none")
    got_g, got_h = FGH(x, y, **kw)
    # torch's ce cancels for x < 0, y = 0 (about 1e-16 absolute): rtol and atol
    np.testing.assert_allclose(got_l, want_l, rtol=1e-12, atol=1e-14, err_msg="loss")
    np.testing.assert_allclose(got_g, want_g, rtol=1e-9, atol=1e-13, err_msg="gradient")
    np.testing.assert_allclose(got_h, want_h, rtol=1e-8, atol=1e-12, err_msg="hessian")
    np.testing.assert_array_equal(FB(x, y, **kw, reduction="none"), got_g)
    for red, ref in (("sum", want_l.sum()), ("mean", want_l.mean())):
        np.testing.assert_allclose(FL(x, y, **kw, reduction=red), ref, rtol=1e-12, err_msg=red)


def test_vs_paper_formula_in_numpy_float32(rng):
    """float32 results against the paper's formula evaluated in float64 NumPy (where it does
    not cancel: |x| <= 10), within 1 ulp of float32 plus the float64 formula's error."""
    x = rng.uniform(-10, 10, 2000).astype(np.float32).astype(np.float64)
    y = rng.integers(0, 2, 2000).astype(np.float64)
    s = 1 / (1 + np.exp(-x))
    ce = np.logaddexp(0, x) - x * y
    v = y * (1 - s) + (1 - y) * s
    want = ce + 2.0 * v
    got = cbce.poly1_loss(x.astype(np.float32), y.astype(np.float32), epsilon=2.0,
                          reduction="none")
    err = np.abs(got - want) / np.spacing(np.abs(want).astype(np.float32))
    assert err.max() <= 1.0 + 1e-6, err.max()


# ---- epsilon = 0 is the base loss -----------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_epsilon0_is_the_base_loss(dtype, rng):
    """Two faithful computations of one value: within 1 ulp (of the largest term for the
    soft-label gradient)."""
    x = np.concatenate([rng.normal(0, 6, 300), [0.0, 50.0, -50.0]]).astype(dtype)
    y = rng.random(x.size).astype(dtype)
    y[::2] = np.round(y[::2])
    pairs = [
        (cbce.poly1_loss(x, y, epsilon=0.0, reduction="none"),
         cbce.binary_cross_entropy_with_logits(x, y, reduction="none")),
        (cbce.poly1_focal_loss(x, y, epsilon=0.0, gamma=2.0, reduction="none"),
         cbce.sigmoid_focal_loss(x, y, gamma=2.0, reduction="none")),
        (cbce.poly1_loss_grad_hess(x, y, epsilon=0.0)[1],
         cbce.binary_cross_entropy_with_logits_grad_hess(x, y)[1]),
    ]
    for i, (a, b) in enumerate(pairs):
        d = np.abs(a.astype(np.float64) - b) / np.spacing(np.maximum(np.abs(a), np.abs(b)))
        assert d.max() <= 1.0, (i, d.max())
    g = cbce.poly1_loss_backward(x, y, epsilon=0.0, reduction="none")
    gb = cbce.binary_cross_entropy_with_logits_backward(x, y, reduction="none")
    sc = np.maximum(1 / (1 + np.exp(-x.astype(np.float64))), y).astype(dtype)
    assert (np.abs(g.astype(np.float64) - gb) / np.spacing(sc)).max() <= 1.0


# ---- limits, weights, reductions, layouts ----------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("family", list(FAMILY_FUNCS))
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
def test_infinite_logits_give_limits(dtype, family, gamma):
    FL, _, _, FGH = FAMILY_FUNCS[family]
    kw = dict(epsilon=1.5) if family == "poly1" else dict(epsilon=1.5, alpha=None, gamma=gamma)
    x = np.array([np.inf, -np.inf, np.inf, -np.inf], dtype=dtype)
    y = np.array([1, 0, 0, 1], dtype=dtype)
    loss = FL(x, y, **kw, reduction="none")
    g, h = FGH(x, y, **kw)
    np.testing.assert_array_equal(loss, np.array([0, 0, np.inf, np.inf], dtype=dtype))
    np.testing.assert_array_equal(g, np.array([0, 0, 1, -1], dtype=dtype))
    np.testing.assert_array_equal(h, np.zeros(4, dtype=dtype))
    r = FL(np.array([np.nan, 0.0], dtype=dtype), np.array([1.0, np.nan], dtype=dtype), **kw,
           reduction="none")
    assert np.isnan(r).all()
    gr = FGH(np.array([np.nan, 0.0], dtype=dtype), np.array([1.0, np.nan], dtype=dtype), **kw)
    assert np.isnan(gr[0]).all() and np.isnan(gr[1]).all()


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_poly_term_alone_at_tiny_logits(dtype):
    """With a_t = 0 and gamma 0 the Poly-1 focal hessian is eps v'' alone, a multiple of
    1 - 2 sigmoid(x) = -tanh(x/2): at tiny logits it must not be 1 - 2 sigmoid(x) rounded
    (0, or a few ulps of 1 where the exact value is about x/2)."""
    fi = np.finfo(dtype)
    x = np.array([fi.tiny, -fi.tiny, fi.smallest_subnormal * 64, 1e-30, 3e-8, 2.0**-11,
                  2.0**-10, 2.0**-9, 1e-3, 0.3], dtype)
    for alpha, t in ((0.0, 1.0), (1.0, 0.0)):   # a_t = alpha y + (1 - alpha) (1 - y) = 0
        y = np.full_like(x, t)
        g, h = cbce.poly1_focal_loss_grad_hess(x, y, epsilon=2.0, alpha=alpha, gamma=0.0)
        with mpmath.workprec(2400):   # 1 - 2 sigmoid(x) for x down to 2^-1074
            refs = [mp_poly1(a, t, 2.0, alpha=alpha, gamma=0.0) for a in x]
        for k, got in ((1, g), (2, h)):
            err = ulp_error(got, exact_value([r[k] for r in refs]), dtype)
            assert err.max() <= 1.0, (
                f"{np.dtype(dtype)} alpha {alpha} y {t} {'grad' if k == 1 else 'hess'}: "
                f"{err.max():.3g} ulp at x = {x[np.argmax(err)]!r} "
                f"(got {got[np.argmax(err)]!r})")


def _kernel_points(rng, kind):
    """1,200 float64 logits (|x| uniform to 8, to 40 and to 700, and 2^-40..2), hard or
    soft targets, and weights (0.5..1) 2^(-3..3)."""
    x = np.concatenate([rng.uniform(-8, 8, 400), rng.uniform(-40, 40, 300),
                        rng.uniform(-700, 700, 200),
                        np.ldexp(rng.uniform(-1, 1, 300), rng.integers(-40, 2, 300))])
    t = rng.random(x.size)
    if kind == "hard":
        t = (t < 0.5).astype(np.float64)
    w = np.ldexp(rng.uniform(0.5, 1.0, x.size), rng.integers(-3, 4, x.size))
    return x, t, w


def _kernel_outputs(funcs, x, t, w, kw, name):
    """loss, gradient and hessian unreduced; forward_backward must give the bits of
    forward and backward."""
    fwd, bwd, fb, gh = funcs
    loss = fwd(x, t, w, reduction="none", **kw)
    grad, hess = gh(x, t, w, **kw)
    fl, fg = fb(x, t, w, reduction="none", **kw)
    np.testing.assert_array_equal(fl, loss, err_msg=f"{name}: forward_backward's loss")
    np.testing.assert_array_equal(fg, bwd(x, t, w, reduction="none", **kw),
                                  err_msg=f"{name}: forward_backward's gradient")
    return loss, grad, hess


F64_CASES = [  # (name, targets, epsilon, label_smoothing, pos_weight, weighted)
    ("hard", "hard", 1.0, 0.0, None, False),
    ("hard weighted eps 2.5", "hard", 2.5, 0.0, None, True),
    ("soft smoothed pos_weight", "soft", 1.0, 0.1, 3.0, False),
    ("hard eps 50", "hard", 50.0, 0.0, None, False),
    ("hard eps -1", "hard", -1.0, 0.0, None, False),
    ("hard smoothed pos_weight weighted", "hard", 1.0, 0.05, 0.5, True),
]


@pytest.mark.parametrize("case", F64_CASES, ids=[c[0] for c in F64_CASES])
def test_float64_kernel_many_points(case, rng):
    """The float64 kernel (double-double, the hard-target element where targets are 0 or 1
    without smoothing, pos_weight or weight, the careful element for the rare lanes) on 1,200
    points a case against mpmath: |x| uniform to 8, to 40 and to 700, and 2^-40..2 (where
    eps 50's hessian takes the careful element below 1/4).  Loss, gradient and hessian,
    weights included, within 0.6 ulp of the larger of the result and its largest term
    (0.5 + the kernel's ~2^-57 before its one rounding); forward_backward gives the bits
    of forward and backward."""
    name, kind, eps, ls, pw, weighted = case
    x, t, w = _kernel_points(rng, kind)
    w = w if weighted else None
    kw = dict(epsilon=eps, label_smoothing=ls, pos_weight=None if pw is None else np.array(pw))
    loss, grad, hess = _kernel_outputs(FAMILY_FUNCS["poly1"], x, t, w, kw, name)
    refs = [mp_poly1(a, b, eps, ls=ls, pw=1.0 if pw is None else pw) for a, b in zip(x, t)]
    ws = np.ones(x.size) if w is None else w
    for k, got in (("loss", loss), ("grad", grad), ("hess", hess)):
        col = {"loss": 0, "grad": 1, "hess": 2}[k]
        with mpmath.workprec(PREC):  # the products exact
            exact = exact_value([r[col] * mpmath.mpf(float(v)) for r, v in zip(refs, ws)])
            scale = exact_value([max(abs(r[col]), r[col + 3]) * mpmath.mpf(float(v))
                                 for r, v in zip(refs, ws)])
        err = ulp_error(got, exact, np.float64, scale=scale)
        report_ulp(f"float64 poly1 kernel {k} {name}", float(err.max()), 0.6)
        i = int(np.argmax(err))
        assert err.max() <= 0.6, (
            f"float64 poly1 {name} {k}: {err.max():.4g} ulp at x = {x[i]!r}, target "
            f"{t[i]!r}, weight {ws[i]!r} (got {got[i]!r}, "
            f"exact {float(exact[i:i + 1].approx[0])!r})")


FOCAL64_CASES = [  # (name, targets, epsilon (None: the focal loss), gamma, alpha, smoothing)
    ("focal hard gamma 2 alpha", "hard", None, 2.0, 0.25, 0.0),
    ("focal soft gamma 2", "soft", None, 2.0, None, 0.0),
    ("focal hard gamma 0.5", "hard", None, 0.5, None, 0.0),
    ("focal hard gamma 8 alpha", "hard", None, 8.0, 0.25, 0.0),
    ("focal smoothed gamma 3", "hard", None, 3.0, 0.25, 0.1),
    ("focal soft gamma 1.5 (scalar lanes)", "soft", None, 1.5, 0.25, 0.0),
    ("poly1_focal hard gamma 2", "hard", 1.0, 2.0, 0.25, 0.0),
    ("poly1_focal soft gamma 2 eps -1", "soft", -1.0, 2.0, None, 0.0),
    ("poly1_focal hard gamma 0.5 eps 20", "hard", 20.0, 0.5, None, 0.0),
]


@pytest.mark.parametrize("case", FOCAL64_CASES, ids=[c[0] for c in FOCAL64_CASES])
def test_float64_focal_kernel_many_points(case, rng):
    """The float64 focal-type kernel (double-double on the vector layer; F = v^gamma by
    binary powering for an integer gamma <= 8, else exp(gamma log v) for hard targets; the
    scalar element for the rare lanes) on 1,200 weighted points a case against mpmath: |x|
    uniform to 8, to 40 and to 700, and 2^-40..2 (where eps 20's hessian takes the scalar
    element below 1/4).  The loss within 0.75 ulp (0.69 measured at gamma 8; the worst case
    0.5 + (gamma + 2) 2^-56.5 / 2^-53, where the roundings in exp(-|x|) add up, is not
    reached) where it is a sum of terms >= 0, else of the larger term; gradients within
    0.8 ulp (0.75 measured at gamma 8 without FMA), hessians (more terms carrying F's
    error) within 1 ulp, of the larger of the result and its largest term
    (hard-label gradients are single-signed);
    forward_backward gives the bits of forward and backward."""
    name, kind, eps, gamma, alpha, ls = case
    x, t, w = _kernel_points(rng, kind)
    kw = dict(gamma=gamma, alpha=alpha, label_smoothing=ls)
    if eps is None:
        funcs = (cbce.sigmoid_focal_loss, cbce.sigmoid_focal_loss_backward,
                 cbce.sigmoid_focal_loss_forward_backward, cbce.sigmoid_focal_loss_grad_hess)
    else:
        funcs = FAMILY_FUNCS["poly1_focal"]
        kw["epsilon"] = eps
    loss, grad, hess = _kernel_outputs(funcs, x, t, w, kw, name)
    refs = [mp_poly1(a, b, eps or 0.0, ls=ls, alpha=alpha, gamma=gamma) for a, b in zip(x, t)]
    for k, got in (("loss", loss), ("grad", grad), ("hess", hess)):
        col = {"loss": 0, "grad": 1, "hess": 2}[k]
        with mpmath.workprec(PREC):  # the products exact
            exact = exact_value([r[col] * mpmath.mpf(float(v)) for r, v in zip(refs, w)])
            scale = exact_value([(abs(r[col]) if k == "loss" and (eps or 0) >= 0
                                  else max(abs(r[col]), r[col + 3])) * mpmath.mpf(float(v))
                                 for r, v in zip(refs, w)])
        err = ulp_error(got, exact, np.float64, scale=scale)
        bound = {"loss": 0.75, "grad": 0.8, "hess": 1.0}[k]
        report_ulp(f"float64 focal kernel {k} {name}", float(err.max()), bound)
        i = int(np.argmax(err))
        assert err.max() <= bound, (
            f"float64 {name} {k}: {err.max():.4g} ulp at x = {x[i]!r}, target {t[i]!r}, "
            f"weight {w[i]!r} (got {got[i]!r}, exact {float(exact[i:i + 1].approx[0])!r})")


def test_pos_weight_weights_the_bce_term_only(rng):
    x = rng.normal(0, 3, 50)
    y = rng.random(50)
    pw = rng.uniform(0.5, 4, 50)
    got = cbce.poly1_loss(x, y, epsilon=2.0, pos_weight=pw, reduction="none")
    bce = cbce.binary_cross_entropy_with_logits(x, y, pos_weight=pw, reduction="none")
    s = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(got, bce + 2.0 * (y * (1 - s) + (1 - y) * s), rtol=1e-13)
    with pytest.raises(TypeError):
        cbce.poly1_focal_loss(x, y, pos_weight=pw)


def test_classes():
    x = np.array([-1.0, 0.5, 3.0])
    y = np.array([0.0, 1.0, 1.0])
    m = cbce.Poly1Loss(epsilon=-0.5, reduction="sum", label_smoothing=0.1)
    assert repr(m) == ("Poly1Loss(epsilon=-0.5, weight=None, pos_weight=None, "
                       "reduction='sum', label_smoothing=0.1)")
    assert m(x, y) == cbce.poly1_loss(x, y, epsilon=-0.5, reduction="sum", label_smoothing=0.1)
    m = cbce.Poly1FocalLoss(epsilon=2.0, alpha=None, gamma=0.5)
    assert repr(m) == ("Poly1FocalLoss(epsilon=2.0, alpha=None, gamma=0.5, reduction='mean', "
                       "label_smoothing=0.0)")
    np.testing.assert_array_equal(m.backward(x, y, 3.0),
                                  cbce.poly1_focal_loss_backward(x, y, epsilon=2.0, alpha=None,
                                                                 gamma=0.5, grad_output=3.0))
    lo, go = m.forward_backward(x, y)
    assert lo == m(x, y)
