"""cbce.sigmoid_focal_loss and its backward / forward_backward / grad_hess.

References, all independent of cbce's log-space formulas:
* mpmath, 384 bits, the textbook formula l = a_t (1 - p_t)^gamma ce written with
  v = 1 - p_t = y sigmoid(-x) + (1-y) sigmoid(x) and ce = y softplus(-x) + (1-y) softplus(x)
  (both sums of non-negative terms), and its derivatives by the product rule:
      l'  = a_t (gamma v^(gamma-1) v' ce + v^gamma ce')
      l'' = a_t (gamma (gamma-1) v^(gamma-2) v'^2 ce + gamma v^(gamma-1) v'' ce
                 + 2 gamma v^(gamma-1) v' ce' + v^gamma ce'')
  with v' = (1-2y) s (1-s), v'' = v' (1 - 2s), ce' = (1-y) s - y (1-s), ce'' = s (1-s); these
  are themselves checked against mpmath.diff;
* torchvision's formula written out in torch (float64), where it is finite;
* finite differences of cbce's own loss and gradient;
* gamma = 0, alpha = None against cbce.binary_cross_entropy_with_logits (bitwise) and the
  80-digit CSV.
"""
import math

import mpmath
import numpy as np
import pytest

import cbce
from reference import exact_value, load_logits_reference, report_ulp, ulp_error

FL = cbce.sigmoid_focal_loss
FB_ = cbce.sigmoid_focal_loss_backward
FFB = cbce.sigmoid_focal_loss_forward_backward
FGH = cbce.sigmoid_focal_loss_grad_hess

DTYPES = [np.float32, np.float64]
DT_IDS = ["float32", "float64"]
GAMMAS = [0.0, 0.5, 1.0, 2.0, 3.0]
ALPHAS = [None, 0.25]
PREC = 384


def mp_focal(x, y, alpha, gamma, ls=0.0):
    """(loss, grad, hess, grad_scale, hess_scale) at 384 bits; the scales are the largest
    term of each sum (soft-label gradients and all hessians are measured in their ulps).
    ls: label smoothing, applied exactly (y -> y (1 - ls) + ls / 2)."""
    with mpmath.workprec(PREC):
        x, y, g = mpmath.mpf(float(x)), mpmath.mpf(float(y)), mpmath.mpf(float(gamma))
        ls = mpmath.mpf(float(ls))
        y = y * (1 - ls) + ls / 2
        q = 1 - y
        s = 1 / (1 + mpmath.exp(-x))
        sb = 1 / (1 + mpmath.exp(x))
        sp = lambda z: mpmath.log1p(mpmath.exp(z))  # noqa: E731
        v = y * sb + q * s
        ce = y * sp(-x) + q * sp(x)
        at = mpmath.mpf(1) if alpha is None else mpmath.mpf(alpha) * y + (1 - mpmath.mpf(alpha)) * q
        v1 = (q - y) * s * sb
        v2 = v1 * (sb - s)
        c1 = q * s - y * sb
        c2 = s * sb
        F = v ** g if g != 0 else mpmath.mpf(1)
        loss = at * F * ce
        if g == 0:
            gterms = [c1]
            hterms = [c2]
        else:
            Fm1 = v ** (g - 1)
            gterms = [g * Fm1 * v1 * ce, F * c1]
            hterms = [g * (g - 1) * v ** (g - 2) * v1 ** 2 * ce, g * Fm1 * v2 * ce,
                      2 * g * Fm1 * v1 * c1, F * c2]
        grad = at * mpmath.fsum(gterms)
        hess = at * mpmath.fsum(hterms)
        # scales: the largest term before cancellation, with ce' = (1-y)s - y(1-s) split in
        # its two terms (as the contract measures BCE's soft-label gradient in ulps of
        # max(sigmoid(x), y)) and v'' = v' (1 - 2s) bounded by |v'|
        split = [F * q * s, F * y * sb] + gterms[:-1]
        gscale = at * max(abs(t) for t in split)
        hsplit = hterms[:-1] + [F * c2]
        if g != 0:
            hsplit += [g * Fm1 * v1 * ce, 2 * g * Fm1 * v1 * q * s, 2 * g * Fm1 * v1 * y * sb]
        hscale = at * max(abs(t) for t in hsplit)
        return loss, grad, hess, gscale, hscale


def _points(dtype, rng):
    """Logits over the range where the results are representable, plus special points."""
    big = 100.0 if dtype == np.float32 else 740.0
    mag = 10.0 ** rng.uniform(-8, math.log10(big), 60)
    x = np.concatenate([mag, -mag, rng.uniform(-8, 8, 40), [0.0, 1e-30, -1e-30, 30.0, -30.0,
                                                              16.5, -16.5, big, -big]])
    return x.astype(dtype)


@pytest.fixture(scope="module", params=DTYPES, ids=DT_IDS)
def mp_cases(request):
    """cbce's results and the mpmath references over gammas x alphas x hard/soft labels."""
    dt = np.dtype(request.param)
    rng = np.random.default_rng(2017)
    x = _points(dt.type, rng)
    n = len(x)
    ys = {"hard": np.where(np.arange(n) % 2 == 0, 1.0, 0.0).astype(dt),
          "soft": rng.choice(np.array([0.1, 0.3, 0.5, 0.7, 0.95]), n).astype(dt)}
    res = []
    for gamma in GAMMAS:
        for alpha in ALPHAS:
            for kind, y in ys.items():
                loss = FL(x, y, alpha=alpha, gamma=gamma, reduction="none")
                grad = FB_(x, y, alpha=alpha, gamma=gamma, reduction="none")
                fl, fg = FFB(x, y, alpha=alpha, gamma=gamma, reduction="none")
                gg, hh = FGH(x, y, alpha=alpha, gamma=gamma)
                np.testing.assert_array_equal(fl, loss)
                np.testing.assert_array_equal(fg, grad)
                np.testing.assert_array_equal(gg, grad)
                refs = [mp_focal(a, b, alpha, gamma) for a, b in zip(x, y)]
                res.append(dict(gamma=gamma, alpha=alpha, kind=kind, x=x, y=y, loss=loss,
                                grad=grad, hess=hh, refs=refs))
    return dt, res


def _worst_lines(err, c, key, k=5):
    order = np.argsort(-np.nan_to_num(err, nan=np.inf))[:k]
    col = {"loss": 0, "grad": 1, "hess": 2}[key]
    return "\n".join(f"  x={float(c['x'][i])!r} y={float(c['y'][i])}: got {float(c[key][i])!r}"
                     f", exact {mpmath.nstr(c['refs'][i][col], 17)}, {err[i]:.3g} ulp"
                     for i in order)


@pytest.mark.parametrize("quantity", ["loss", "grad", "hess"])
def test_vs_mpmath(mp_cases, quantity):
    """Loss within 1 ulp (2 for soft labels), gradient within 1 ulp for hard labels (2 ulp of
    its largest term for soft ones); the hessian within 4 ulp of its largest term."""
    dt, cases = mp_cases
    col = {"loss": 0, "grad": 1, "hess": 2}[quantity]
    failures = []
    for c in cases:
        exact = exact_value([r[col] for r in c["refs"]])
        if quantity == "loss":
            err = ulp_error(c["loss"], exact, dt)
            bound = 1.0 if c["kind"] == "hard" else 2.0
        elif quantity == "grad":
            if c["kind"] == "hard":
                err = ulp_error(c["grad"], exact, dt)
                bound = 1.0
            else:
                scale = exact_value([r[3] for r in c["refs"]])
                err = ulp_error(c["grad"], exact, dt, scale=scale)
                bound = 2.0
        else:
            scale = exact_value([r[4] for r in c["refs"]])
            err = ulp_error(c["hess"], exact, dt, scale=scale)
            bound = 4.0
        worst = float(np.max(err))
        a = "None" if c["alpha"] is None else c["alpha"]
        key = f"{dt.name} focal {quantity} {c['kind']}"
        report_ulp(key, worst, bound)
        if not worst <= bound:
            failures.append(f"gamma={c['gamma']} alpha={a} {c['kind']}: max {worst:.3g} ulp "
                            f"(bound {bound})\n" + _worst_lines(err, c, quantity))
    assert not failures, f"{dt.name} focal {quantity}:\n" + "\n".join(failures)


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("ls", [0.1, 0.3, 1e-3, 5e-324])
def test_label_smoothing_vs_mpmath(dtype, ls):
    """Label smoothing enters exactly: the loss within 1 ulp (hard labels; 2 soft); the
    gradient, whose smoothed target is soft, within 2 ulp of its largest term."""
    rng = np.random.default_rng(11)
    n = 120
    x = (rng.standard_normal(n) * rng.choice([1.0, 5.0, 20.0], n)).astype(dtype)
    for kind, y in (("hard", (rng.random(n) > 0.5).astype(dtype)),
                    ("soft", rng.random(n).astype(dtype))):
        loss, grad = FFB(x, y, reduction="none", label_smoothing=ls)
        refs = [mp_focal(x[i], y[i], 0.25, 2.0, ls) for i in range(n)]
        lerr = ulp_error(loss, exact_value([r[0] for r in refs]), dtype)
        gerr = ulp_error(grad, exact_value([r[1] for r in refs]), dtype,
                         scale=exact_value([r[3] for r in refs]))
        bound = 1.0 if kind == "hard" else 2.0
        report_ulp(f"{np.dtype(dtype).name} focal loss label_smoothing {kind}", float(lerr.max()),
                   bound)
        assert lerr.max() <= bound, (f"label_smoothing={ls} {kind}: loss {lerr.max():.3g} ulp "
                                     f"at x={x[lerr.argmax()]!r}, y={y[lerr.argmax()]!r}")
        assert gerr.max() <= 2.0, (f"label_smoothing={ls} {kind}: gradient {gerr.max():.3g} "
                                     f"ulp at x={x[gerr.argmax()]!r}, y={y[gerr.argmax()]!r}")


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 3.7])
@pytest.mark.parametrize("alpha", ALPHAS, ids=["alpha=None", "alpha=0.25"])
def test_float64_extreme_inputs_vs_mpmath(gamma, alpha):
    """float64 beyond _points' range, where the double-double element scales its parts:
    e = exp(-|x|) subnormal or 0, |x| beyond Dekker's split (2^995) up to DBL_MAX, subnormal
    x, labels 1e-300 (a tiny A, F and a_t) and 1 - 2^-53; the same bounds as above."""
    big = np.finfo(np.float64).max
    xs = np.array([0.0, 5e-324, 1e-310, 1e-300, 1e-20, 36.0, 709.5, 745.1, 800.0, 1100.5,
                   1e10, 2.0 ** 996, 1e300, big])
    xs = np.concatenate([xs, -xs])
    failures = []
    for kind, labels in (("hard", [0.0, 1.0]), ("soft", [1e-300, 0.3, 1 - 2.0 ** -53])):
        x = np.repeat(xs, len(labels))
        y = np.tile(np.array(labels), len(xs))
        loss = FL(x, y, alpha=alpha, gamma=gamma, reduction="none")
        grad, hess = FGH(x, y, alpha=alpha, gamma=gamma)
        refs = [mp_focal(a, b, alpha, gamma) for a, b in zip(x, y)]
        checks = (("loss", loss, 0, None, 1.0 if kind == "hard" else 2.0),
                  ("grad", grad, 1, None if kind == "hard" else 3, 1.0 if kind == "hard" else 2.0),
                  ("hess", hess, 2, 4, 4.0))
        for name, got, col, sc, bound in checks:
            exact = exact_value([r[col] for r in refs])
            scale = None if sc is None else exact_value([r[sc] for r in refs])
            err = ulp_error(got, exact, np.float64, scale=scale)
            report_ulp(f"float64 focal {name} {kind} (extreme x)", float(np.max(err)), bound)
            for i in np.nonzero(~(err <= bound))[0]:
                failures.append(f"{name} x={x[i]!r} y={y[i]!r}: got {got[i]!r}, exact "
                                f"{mpmath.nstr(refs[i][col], 17)}, {err[i]:.3g} ulp")
    assert not failures, f"gamma={gamma} alpha={alpha}:\n" + "\n".join(failures)


def test_mpmath_reference_derivatives_agree_with_numerical_diff():
    """The closed-form derivatives used as the reference match mpmath.diff of the loss."""
    for x in (-7.5, -0.3, 0.0, 1.7, 12.0):
        for y in (0.0, 1.0, 0.3):
            for gamma in (0.5, 2.0, 3.0):
                def loss(t):  # at the precision mpmath.diff asks for
                    q = 1 - mpmath.mpf(y)
                    v = y / (1 + mpmath.exp(t)) + q / (1 + mpmath.exp(-t))
                    ce = y * mpmath.log1p(mpmath.exp(-t)) + q * mpmath.log1p(mpmath.exp(t))
                    return (0.25 * y + 0.75 * q) * v ** gamma * ce
                _, g, h, _, _ = mp_focal(x, y, 0.25, gamma)
                with mpmath.workprec(PREC):
                    dg = mpmath.diff(loss, mpmath.mpf(x), 1)
                    dh = mpmath.diff(loss, mpmath.mpf(x), 2)
                    assert abs(dg - g) <= 1e-40 * (1 + abs(g)), (x, y, gamma, dg, g)
                    assert abs(dh - h) <= 1e-40 * (1 + abs(h)), (x, y, gamma, dh, h)


# ---- torchvision's formula ------------------------------------------------------------------

def _torch():
    return pytest.importorskip("torch")


def torchvision_focal(x, y, alpha, gamma):
    """torchvision.ops.sigmoid_focal_loss (reduction='none'), written out."""
    torch = _torch()
    p = torch.sigmoid(x)
    ce = torch.nn.functional.binary_cross_entropy_with_logits(x, y, reduction="none")
    p_t = p * y + (1 - p) * (1 - y)
    loss = ce * ((1 - p_t) ** gamma)
    if alpha is not None and alpha >= 0:
        loss = (alpha * y + (1 - alpha) * (1 - y)) * loss
    return loss


@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("alpha", ALPHAS, ids=["alpha=None", "alpha=0.25"])
def test_vs_torchvision_formula(gamma, alpha, rng):
    torch = _torch()
    x = rng.uniform(-12, 12, 400)
    y = np.concatenate([rng.integers(0, 2, 200).astype(np.float64), rng.random(200)])
    xt = torch.tensor(x, requires_grad=True)
    lt = torchvision_focal(xt, torch.tensor(y), alpha, gamma)
    lt.sum().backward()
    want_l = lt.detach().numpy()
    want_g = xt.grad.numpy()
    fin = np.isfinite(want_l) & np.isfinite(want_g)
    assert fin.sum() > 350
    got_l = FL(x, y, alpha=alpha, gamma=gamma, reduction="none")
    got_g = FB_(x, y, alpha=alpha, gamma=gamma, reduction="none")
    # torch's ce cancels for x < 0, y = 0 (docs/numerics.md), about 1e-16 absolute: rtol + atol
    np.testing.assert_allclose(got_l[fin], want_l[fin], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(got_g[fin], want_g[fin], rtol=1e-10, atol=1e-14)
    # reductions against torch's sum / mean
    np.testing.assert_allclose(FL(x, y, alpha=alpha, gamma=gamma, reduction="sum"),
                               want_l.sum(), rtol=1e-12)
    np.testing.assert_allclose(FL(x, y, alpha=alpha, gamma=gamma, reduction="mean"),
                               want_l.mean(), rtol=1e-12)


@pytest.mark.parametrize("gamma", [0.25, 0.5, 0.75])
def test_finite_gradient_where_torchvision_gives_nan(gamma):
    """0 < gamma < 1: at a confident right prediction torchvision's (1 - p_t)**gamma has an
    infinite derivative (NaN gradient); the log-space formula gives the finite limit."""
    torch = _torch()
    x = np.array([40.0, -40.0, 800.0, -800.0])
    y = np.array([1.0, 0.0, 1.0, 0.0])
    xt = torch.tensor(x, requires_grad=True)
    torchvision_focal(xt, torch.tensor(y), None, gamma).sum().backward()
    assert np.isnan(xt.grad.numpy()[:2]).all(), "torchvision no longer gives NaN here?"
    for dt in DTYPES:
        g = FB_(x.astype(dt), y.astype(dt), alpha=None, gamma=gamma, reduction="none")
        gg, hh = FGH(x.astype(dt), y.astype(dt), alpha=None, gamma=gamma)
        assert np.isfinite(g).all() and np.isfinite(hh).all(), (dt, g, hh)
        # -(1 - p_t)^gamma * sigmoid(-|x|) (gamma + 1 + ...) : tiny, with the right sign
        assert g[0] <= 0 and g[1] >= 0


# ---- gamma = 0 is BCE with logits ----------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_gamma0_alpha_none_is_bce_with_logits(dtype, rng):
    """BCE with logits has its own span kernels (faithful, <= 0.6 ulp), the focal loss its
    element, so per element the two agree within 1 ulp of the quantity's scale (two faithful
    roundings of one value) and a reduction within 2 (the sum of those differences); the
    focal loss meets the logits loss's bounds."""
    ref = load_logits_reference(dtype)
    m = ref["pos_weight"] == 1
    x, y = ref["x"][m], ref["y"][m]
    L = cbce.binary_cross_entropy_with_logits
    hard = (y == 0) | (y == 1)
    sig = np.where(x >= 0, 1 / (1 + np.exp(-np.abs(x.astype(np.float64)))),
                   np.exp(-np.abs(x.astype(np.float64))) / (1 + np.exp(-np.abs(x.astype(np.float64)))))
    g0, h0 = FGH(x, y, alpha=None, gamma=0.0)
    g1, h1 = cbce.binary_cross_entropy_with_logits_grad_hess(x, y)
    w = rng.random(len(x)).astype(dtype)
    pairs = [("loss", FL(x, y, alpha=None, gamma=0.0, reduction="none"),
              L(x, y, reduction="none"), None),
             ("grad", FB_(x, y, alpha=None, gamma=0.0, reduction="none"),
              cbce.binary_cross_entropy_with_logits_backward(x, y, reduction="none"),
              np.maximum(sig, y)),
             ("grad_hess grad", g0, g1, np.maximum(sig, y)), ("hess", h0, h1, None)]
    pairs += [(red, FL(x, y, w, alpha=None, gamma=0.0, reduction=red), L(x, y, w, reduction=red),
               None) for red in ("sum", "mean", "weighted_mean")]
    for what, a, b, scale in pairs:
        a, b = np.atleast_1d(a), np.atleast_1d(b)
        both = np.isfinite(a) & np.isfinite(b)
        assert np.array_equal(both, np.isfinite(a)) and np.array_equal(both, np.isfinite(b)), what
        sc = np.maximum(np.abs(a), np.abs(b)) if scale is None else scale.astype(dtype)
        # the spacing of the scale's binade (at the largest finite value, that of the value
        # below it: np.spacing would step to inf)
        top = np.nextafter(np.finfo(dtype).max, dtype(0))
        ulp = np.spacing(np.minimum(np.abs(sc[both]).astype(dtype), top))
        d = np.abs(a[both].astype(np.float64) - b[both]) / ulp
        bound = 2.0 if what in ("sum", "mean", "weighted_mean") else 1.0
        assert d.max(initial=0) <= bound, \
            f"{np.dtype(dtype).name} {what}: focal(gamma=0) and BCE differ by {d.max()} ulp"
    for what, got, bound_hard, bound in [("loss", FL(x, y, alpha=None, gamma=0.0, reduction="none"), 1, 2)]:
        err = ulp_error(got, ref["loss"][m], dtype)
        assert err[hard].max() <= bound_hard and err.max() <= bound, what


# ---- finite differences -------------------------------------------------------------------

@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("alpha", ALPHAS, ids=["alpha=None", "alpha=0.25"])
def test_gradient_and_hessian_vs_finite_differences(gamma, alpha, rng):
    x = rng.uniform(-6, 6, 200)
    y = np.concatenate([rng.integers(0, 2, 100).astype(np.float64), rng.random(100)])
    kw = dict(alpha=alpha, gamma=gamma)
    h = 1e-5
    fd_g = (FL(x + h, y, **kw, reduction="none") - FL(x - h, y, **kw, reduction="none")) / (2 * h)
    g, hs = FGH(x, y, **kw)
    np.testing.assert_allclose(g, fd_g, rtol=1e-6, atol=1e-9, err_msg="gradient")
    fd_h = (FGH(x + h, y, **kw)[0] - FGH(x - h, y, **kw)[0]) / (2 * h)
    np.testing.assert_allclose(hs, fd_h, rtol=1e-6, atol=1e-9, err_msg="hessian")
    if gamma >= 2:
        assert (hs < 0).any(), "the focal loss's hessian is negative somewhere: not returned"


# ---- limits, reductions, layouts -------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
def test_infinite_logits_give_limits(dtype, gamma):
    x = np.array([np.inf, -np.inf, np.inf, -np.inf], dtype=dtype)
    y = np.array([1, 0, 0, 1], dtype=dtype)
    loss = FL(x, y, alpha=0.25, gamma=gamma, reduction="none")
    g, h = FGH(x, y, alpha=0.25, gamma=gamma)
    np.testing.assert_array_equal(loss, np.array([0, 0, np.inf, np.inf], dtype=dtype))
    np.testing.assert_array_equal(g, np.array([0, 0, 0.75, -0.25], dtype=dtype))
    np.testing.assert_array_equal(h, np.zeros(4, dtype=dtype))
    n = np.array([np.nan, 0.0], dtype=dtype)
    r = FL(n, np.array([1.0, np.nan], dtype=dtype), gamma=gamma, reduction="none")
    assert np.isnan(r).all()


@pytest.mark.parametrize("alpha", [np.finfo(np.float64).max, -np.finfo(np.float64).max],
                         ids=["alpha=DBL_MAX", "alpha=-DBL_MAX"])
def test_float32_reduced_loss_agrees_with_elements_at_largest_gamma_and_alpha(alpha):
    """gamma = DBL_MAX and |alpha| = DBL_MAX, the largest values registry.h accepts, on
    float32 data: F = (1 - p_t)^gamma is 0 for these logits (|x| <= 12: 1 - p_t < 1), and
    a_t ce overflows to +-inf where ce > 1, so those element losses are F (a_t ce) =
    0 * inf = NaN, the others +-0.  A reduced loss is NaN where an element is, else the sum (mean) of the elements.
    The driver recomputes a NaN or overflowing reduced sum with the float32 chunk step, so
    this holds only while the chunk step forms the loss in the span kernel's order: one
    that formed (a_t F) ce gave 0 for these sums (the libFuzzer input
    fuzz/findings/focal-float32-reduced-loss-zero-where-element-nan-gamma-alpha-dblmax.bin)."""
    big = np.finfo(np.float64).max
    x = np.linspace(-12, 12, 97, dtype=np.float32)
    mixed = (x, (np.arange(x.size) % 2).astype(np.float32))  # ce > 1 for many elements
    xc = np.where(np.abs(x) < 1, np.float32(1), x)
    right = (xc, (xc > 0).astype(np.float32))  # ce < 1 everywhere: no NaN element
    for (xs, ys), nan in ((mixed, True), (right, False)):
        kw = dict(alpha=alpha, gamma=big)
        el = FL(xs, ys, reduction="none", **kw)
        assert el.dtype == np.float32 and bool(np.isnan(el).any()) == nan
        for red, want in (("sum", el.astype(np.float64).sum()),
                          ("mean", el.astype(np.float64).mean())):
            got = FL(xs, ys, reduction=red, **kw)
            if nan:
                assert np.isnan(got), f"{red}: {got!r}, {np.isnan(el).sum()} NaN elements"
            else:
                assert got == pytest.approx(want, rel=1e-6, abs=0), (red, got, want)


def test_errors():
    x = np.zeros(3)
    y = np.ones(3)
    for bad in (-0.5, -1e-300, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="gamma"):
            FL(x, y, gamma=bad)
        with pytest.raises(ValueError, match="gamma"):
            FB_(x, y, gamma=bad)
        with pytest.raises(ValueError, match="gamma"):
            FGH(x, y, gamma=bad)
        with pytest.raises(ValueError, match="gamma"):
            cbce.SigmoidFocalLoss(gamma=bad)(x, y)
    for bad in (float("inf"), float("-inf"), float("nan")):
        with pytest.raises(ValueError, match="alpha"):
            FL(x, y, alpha=bad)
    with pytest.raises(ValueError, match="reduction"):
        FL(x, y, reduction="batchmean")
    with pytest.raises(ValueError, match="shape"):
        FL(x, np.ones(4))
    with pytest.raises(TypeError):
        FL(np.arange(3), y)
    with pytest.raises(TypeError):
        FL(x, y, pos_weight=np.ones(3))
    with pytest.raises(TypeError):
        FL(x, np.array(["a", "b", "c"]))
    with pytest.raises(ValueError, match="out"):
        FFB(x, y, out=(np.empty(3), None))
    with pytest.raises(TypeError):
        FGH(x, y, out=np.empty(3))


def test_class():
    m = cbce.SigmoidFocalLoss()
    assert repr(m) == "SigmoidFocalLoss(alpha=0.25, gamma=2.0, reduction='mean', label_smoothing=0.0)"
    m = cbce.SigmoidFocalLoss(alpha=None, gamma=0.5, reduction="sum")
    assert repr(m) == "SigmoidFocalLoss(alpha=None, gamma=0.5, reduction='sum', label_smoothing=0.0)"
    x = np.array([-1.0, 0.5, 3.0])
    y = np.array([0.0, 1.0, 1.0])
    assert m(x, y) == FL(x, y, alpha=None, gamma=0.5, reduction="sum")
    np.testing.assert_array_equal(m.backward(x, y, 3.0),
                                  FB_(x, y, alpha=None, gamma=0.5, reduction="sum",
                                      grad_output=3.0))
    lo, go = m.forward_backward(x, y)
    assert lo == m(x, y)
    np.testing.assert_array_equal(go, m.backward(x, y))


@pytest.mark.skipif(np.finfo(np.longdouble).nmant < 63,
                    reason="needs an 80-bit long double for the reference")
@pytest.mark.parametrize("poly", [False, True], ids=["focal", "poly1_focal"])
def test_float32_many_points_against_long_double(poly, rng):
    """The float32 span kernel (double arithmetic to ~2^-29) on 2.4*10^5 points a case
    against the textbook formula in long double: |x| uniform to 8, to 80 and to 300, and
    2^-40..2 (the 1 - e series below 1/4); gamma 0.5 to 8, alpha None and 0.25, label
    smoothing 0 and 0.1, hard and soft targets.  Loss and hard-label gradient within 0.6 ulp
    (measured 0.51); hessians and soft (or smoothed) gradients, sums of terms of both signs,
    within 0.6 ulp of the sum of their terms' magnitudes (measured 0.51)."""
    fl = cbce.poly1_focal_loss if poly else FL
    fgh = cbce.poly1_focal_loss_grad_hess if poly else FGH
    L = np.longdouble
    n = 60000
    x = np.concatenate([rng.uniform(-8, 8, n), rng.uniform(-80, 80, n),
                        rng.uniform(-300, 300, n),
                        np.ldexp(rng.uniform(-1, 1, n), rng.integers(-40, 2, n))])
    x = x.astype(np.float32)
    xl = x.astype(L)
    sp, sm = 1 / (1 + np.exp(-xl)), 1 / (1 + np.exp(xl))  # sigmoid(x), sigmoid(-x)
    lg = np.log1p(np.exp(-np.abs(xl)))
    spp, spm = np.maximum(xl, 0) + lg, np.maximum(-xl, 0) + lg  # softplus(x), softplus(-x)
    e32 = 2.0**-149  # the smallest float32 subnormal

    def ulps(got, ref, scale):
        s = np.maximum(np.abs(scale.astype(np.float64)), np.finfo(np.float32).tiny)
        ulp = np.ldexp(1.0, np.frexp(s)[1] - 24)
        return (np.abs(got.astype(L) - ref) / np.maximum(ulp, e32).astype(L)).astype(float)

    for kind in ("hard", "soft"):
        t = rng.random(x.size).astype(np.float32)
        if kind == "hard":
            t = (t < 0.5).astype(np.float32)
        for gamma, alpha, ls in [(0.5, None, 0.0), (2.0, 0.25, 0.0), (2.0, None, 0.1),
                                 (3.7, 0.25, 0.1), (8.0, None, 0.0)]:
            tl = t.astype(L)
            y = tl * (1 - L(ls)) + L(ls) / 2
            q = (1 - tl) * (1 - L(ls)) + L(ls) / 2
            at = L(1) if alpha is None else L(alpha) * y + (1 - L(alpha)) * q
            v = y * sm + q * sp  # 1 - p_t
            ce = y * spm + q * spp
            vp = (q - y) * sp * sm  # v'
            cep = q * sp - y * sm  # ce', itself a difference
            vg = v ** L(gamma)
            dvg = L(gamma) * v ** L(gamma - 1) * vp  # (v^gamma)'
            loss, g1, g2 = at * vg * ce, at * dvg * ce, at * vg * cep
            vpp, cepp = vp * (sm - sp), (q + y) * sp * sm  # v'', ce''
            vg1 = L(gamma) * v ** L(gamma - 1)
            hterms = [at * L(gamma) * L(gamma - 1) * v ** L(gamma - 2) * vp * vp * ce,
                      at * vg1 * vpp * ce, 2 * at * vg1 * vp * cep, at * vg * cepp]
            grad_scale = np.abs(g1) + np.abs(at * vg) * (q * sp + y * sm)
            grad = g1 + g2
            kw = dict(gamma=gamma, alpha=alpha, label_smoothing=ls)
            if poly:
                kw["epsilon"] = 1.0
                loss = loss + vg * v
                g3 = L(gamma + 1) * vg * vp
                grad_scale = grad_scale + np.abs(g3)
                grad = grad + g3
                hterms += [L(gamma + 1) * vg1 * vp * vp, L(gamma + 1) * vg * vpp]
            got_l = fl(x, t, reduction="none", **kw)
            got_g, got_h = fgh(x, t, **kw)
            exact_g = kind == "hard" and ls == 0
            checks = [("loss", got_l, loss, loss), ("grad", got_g, grad,
                                                   grad if exact_g else grad_scale),
                      ("hess", got_h, sum(hterms), sum(np.abs(h) for h in hterms))]
            for name, got, ref, scale in checks:
                err = ulps(got, ref, scale)
                i = int(np.argmax(err))
                report_ulp(f"float32 {'poly1_focal' if poly else 'focal'} {name} {kind} "
                           "(2.4e5 points, long double)", err[i], 0.6)
                assert err[i] <= 0.6, (f"{kind} gamma={gamma} alpha={alpha} ls={ls}: {name} "
                                       f"{err[i]:.3g} ulp at x={x[i]!r} t={t[i]!r}: got "
                                       f"{got[i]!r}, exact {float(ref[i])!r}")


@pytest.mark.parametrize("family", ["focal", "poly1_focal", "probs"])
def test_float64_element_results_do_not_depend_on_position(family, rng):
    """The float64 chunk steps on the vector layer give an element the same bits wherever it
    sits in a chunk: the last n % VW elements take the vector element in a padded vector
    (the scalar element there made a shard's gradient differ from the whole call's)."""
    n = 600
    x = rng.normal(0, 4, n)
    t = (rng.random(n) < 0.5).astype(np.float64)
    w = rng.uniform(0.5, 2.0, n)
    if family == "probs":
        x = 1 / (1 + np.exp(-x))
        f, gh = cbce.binary_cross_entropy, cbce.binary_cross_entropy_grad_hess
        kw = {}
    elif family == "focal":
        f, gh, kw = FL, FGH, dict(gamma=2.0, alpha=0.25)
    else:
        f, gh = cbce.poly1_focal_loss, cbce.poly1_focal_loss_grad_hess
        kw = dict(gamma=2.0, alpha=0.25, epsilon=1.0)
    whole = [f(x, t, w, reduction="none", **kw), *gh(x, t, w, **kw)]
    for s in range(1, 9):
        for e in (n, n - 3):
            part = [f(x[s:e], t[s:e], w[s:e], reduction="none", **kw),
                    *gh(x[s:e], t[s:e], w[s:e], **kw)]
            for name, a, b in zip(("loss", "grad", "hess"), whole, part):
                np.testing.assert_array_equal(
                    b, a[s:e], err_msg=f"{family} {name}: elements {s}..{e} of {n} alone")
