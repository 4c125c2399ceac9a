"""Hardening, part 2: the Python API fuzzed with hypothesis against an independent reference.

Hypothesis draws the structure of a call (function, dtypes, shape, memory layout of every
operand, broadcast pattern of weight / pos_weight / grad_output, out= arrays including the
in-place gradient, reduction, the family's parameters of the registry -- mostly inside their
ranges, some outside, which must raise the registry's message --, thread count) and a seed; NumPy
fills the arrays from the seed with a mix of ordinary values and special ones (0, -0, +-inf,
NaN, subnormals, the largest finite values, the branch thresholds of softplus).  The result
is compared with a reference written here, in NumPy long double (80-bit on x86-64) from the
textbook formulas -- nothing is shared with cbce or with tests/reference.py.

What is checked, for every call:
  * NaN exactly where the reference is NaN, the same infinities, and elsewhere an error
    within a few units of the dtype's epsilon relative to the magnitude of the terms;
  * the result's dtype and shape, `out` returned when given, the caller's arrays untouched;
  * the fused forward_backward equals forward and backward, bit for bit.

The number of examples is bounded (CBCE_FUZZ_EXAMPLES, default 150 per test) so the file
runs in well under a minute; set it to e.g. 5000 for a longer run.
"""
import json
import os
import re
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

import cbce
from cbce._registry import FAMILIES as REGISTRY
from cbce._registry import PARAMS

pytestmark = pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
EXAMPLES = int(os.environ.get("CBCE_FUZZ_EXAMPLES", "150"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])
LD = np.longdouble
# Every loss family of the registry, by the key the saved findings use ("logits" and
# "probs" for the first two), with its four functions.
REG = {{"bce_logits": "logits", "bce": "probs"}.get(f["name"], f["name"]): f for f in REGISTRY}
FAMILIES = {k: [f["python"] + s for s in ("", "_backward", "_forward_backward", "_grad_hess")]
            for k, f in REG.items()}
OPS = ["fwd", "bwd", "fwd_bwd", "grad_hess"]
# a parameter's case key ("eps" for label_smoothing, as the saved findings have it)
PKEY = {"label_smoothing": "eps"}


def _valid(name, v):
    code, lo, hi, kind, msg = PARAMS[name]
    if v is None:
        return kind == "or_nan"
    return lo <= v and (v < hi if kind == "half_open" else v <= hi)


def param_values(name):
    """Values of a registry parameter inside its range, and outside it."""
    code, lo, hi, kind, msg = PARAMS[name]
    cand = [0.0, 0.0, 1.0, 0.5, 0.25, 2.0, 0.1, 3.7, 1.5, 0.05, 2.0**-30, -0.5, -2.5,
            1 - 2.0**-53, 40.0, None]
    bad = [np.inf, -np.inf] + ([np.nan] if kind != "or_nan" else [])
    bad += [lo - 0.5] if lo > -1e308 else []
    bad += [hi] if kind == "half_open" else [float(np.nextafter(hi, np.inf))] \
        if hi < 1e308 else []
    return [v for v in cand if _valid(name, v)], [v for v in bad if not _valid(name, v)]


def draw_params(pick, family):
    """The case entries of a family's parameters; pick(seq) chooses one element (hypothesis
    or random.Random).  One case in ten has one value outside its range ("invalid")."""
    names = [p for p, _ in REG[family]["params"]]
    c = {PKEY.get(p, p): pick(param_values(p)[0]) for p in names}
    if names and pick(range(10)) == 0:
        p = pick(names)
        c[PKEY.get(p, p)] = pick(param_values(p)[1])
        c["invalid"] = p
    return c
CASES_TRIED = {}  # test name -> calls checked (printed by the last test)


def available(family):
    return [(op, name) for op, name in zip(OPS, FAMILIES[family]) if hasattr(cbce, name)]


# ---- the reference (long double, textbook formulas) --------------------------------------

def _sig(x):
    """sigmoid(x) and sigmoid(-x) without cancellation."""
    e = np.exp(-np.abs(x))
    d = 1 + e
    pos = x >= 0
    return np.where(pos, 1 / d, e / d), np.where(pos, e / d, 1 / d), e, d


def _one_minus_2s(x):
    """s(-x) - s(x) = -tanh(x/2), without the cancellation of the difference near x = 0."""
    return -np.tanh(x / 2)


def _mul0(c, a):
    """c * a, with 0 where the coefficient c is exactly 0 (the limit for a = inf)."""
    return np.where(c == 0, LD(0), c * a)


def ref_logits(x, y, p, w, m, eps):
    """Loss, gradient, hessian of BCE with logits and a scale for each (magnitude of terms)."""
    ys = y * (1 - eps) + eps / 2
    q = (1 - y) * (1 - eps) + eps / 2
    a = np.abs(x)
    s, sm, e, d = _sig(x)
    t = np.log1p(e)
    L = q + p * ys
    lin = np.where(x >= 0, _mul0(q, a), _mul0(p * ys, a))
    loss = w * (lin + L * t)
    grad = m * (L * s - p * ys)
    gscale = np.abs(m) * np.maximum(np.abs(L * s), np.abs(p * ys))
    hess = m * L * e / (d * d)
    return loss, np.abs(loss), grad, gscale, hess, np.abs(hess)


def ref_probs(x, y, w, m, eps, tiny):
    ys = y * (1 - eps) + eps / 2
    q = (1 - y) * (1 - eps) + eps / 2
    with np.errstate(divide="ignore"):
        lx = np.maximum(np.log(x), LD(-100))
        l1x = np.maximum(np.log1p(-x), LD(-100))
    loss = -w * (_mul0(ys, lx) + _mul0(q, l1x))
    den = np.maximum(x * (1 - x), tiny)
    grad = m * (x - ys) / den
    gscale = np.abs(m) * np.maximum(np.abs(x), np.abs(ys)) / den
    hess = m * ((x - ys) ** 2 + ys * q) / (den * den)
    hscale = np.abs(m) * ((np.abs(x) + np.abs(ys)) ** 2 + np.abs(ys * q)) / (den * den)
    return loss, np.abs(loss), grad, gscale, hess, hscale


def _u_r(x, y):
    """u = 1 - p_t = s(-x) y + s(x) (1 - y), u' and r = u'/u (finite everywhere)."""
    s, sm, e, d = _sig(x)
    u = sm * y + s * (1 - y)
    with np.errstate(divide="ignore", invalid="ignore"):
        r_soft = np.where(x >= 0, (1 - 2 * y) * s * e / (e * y + (1 - y)),
                          (1 - 2 * y) * sm * e / (y + e * (1 - y)))
    r = np.where(y == 1, -s, np.where(y == 0, sm, r_soft))
    return s, sm, e, u, (1 - 2 * y) * s * sm, r


def ref_poly(x, y, w, m, ep, gamma):
    """The poly term w ep u^(g+1) of Poly-1 (g = 0) and Poly-1 focal, u = 1 - p_t:
    d/dx = (g+1) u^g u',  d2/dx2 = (g+1) u^g (g u' r + u''),  u'' = u' (s(-x) - s(x))."""
    s, sm, e, u, u1, r = _u_r(x, y)
    g = LD(gamma)
    ug = np.power(u, g)
    loss = w * ep * ug * u
    grad = m * ep * (g + 1) * ug * u1
    h = [g * _mul0(u1, r), u1 * _one_minus_2s(x)]
    hess = m * ep * (g + 1) * ug * (h[0] + h[1])
    return (loss, np.abs(loss), grad, np.abs(grad),
            hess, np.abs(m * ep * (g + 1) * ug) * (np.abs(h[0]) + np.abs(h[1])))


def ref_asymmetric(x, y, w, m, gp, gn, clip):
    """l = w (y A + (1 - y) B), A = s(-x)^gp softplus(-x), B = pm^gn (-log(1 - pm)) with
    pm = s(x) - clip where positive (else B = 0).  With T = softplus(-x), D = s s(-x) = pm',
    q = 1 - pm = s(-x) + clip, V = -log q, K = dB/dpm = gn pm^(gn-1) V + pm^gn / q:
        A'  = -s(-x)^gp (gp s T + s(-x))
        A'' = s(-x)^gp (gp^2 s sT - gp s(-x) sT + (2 gp + 1) D),  sT = s T
        B'  = D K,  B'' = D (s(-x) - s) K + D^2 (gn (gn-1) pm^(gn-2) V + 2 gn pm^(gn-1)/q
                                                 + pm^gn / q^2).
    B's terms are scaled by the condition of pm = s - clip (a relative error of s is
    s / pm times larger in pm)."""
    s, sm, e, d = _sig(x)
    a, b, c = LD(gp), LD(gn), LD(clip)
    T = np.maximum(-x, 0) + np.log1p(e)
    sT = _mul0(s, T)
    sma = np.power(sm, a)
    A = sma * T
    A1 = -sma * (a * sT + sm)
    A2 = sma * (a * a * s * sT - a * sm * sT + (2 * a + 1) * s * sm)
    A2s = sma * (a * a * s * np.abs(sT) + a * sm * np.abs(sT) + (2 * a + 1) * s * sm)
    # s - clip; for clip >= 1/2 as (1 - clip) - s(-x) (1 - clip exact), which keeps the
    # sign where s itself rounds to clip in long double
    pmx = np.where(c >= 0.5, (1 - c) - sm, s - c)
    on = pmx >= 0   # (at s = clip: the one-sided derivatives from above)
    pm = np.where(on, pmx, LD(1))
    q = sm + c
    with np.errstate(divide="ignore", invalid="ignore"):
        V = np.where(c == 0, np.maximum(x, 0) + np.log1p(e),
                     np.where(pm < 0.5, -np.log1p(-pm), -np.log(q)))
        D = s * sm
        DQ = np.where(q == 0, s, D / q)            # D / q, its limit s where both vanish
        pb = np.power(pm, b)
        Vp = np.where(pm == 0, LD(1), V / pm)     # V / pm, 1 at pm = 0
        K1 = _mul0(b, pb * Vp)                    # gn pm^(gn-1) V
        B = pb * V
        B1 = _mul0(D, K1) + DQ * pb
        # D^2 (gn (gn-1) pm^(gn-2) V + 2 gn pm^(gn-1) / q) = D gn pm^(gn-1) ((gn-1) D V/pm
        # + 2 D/q): +inf at pm = 0 for 0 < gn < 1
        # pm^(gn-1) D, for clip 0 as pm^gn s(-x) (pm = s: s^(gn-1) overflows where s is
        # tiny; where s underflows the limit 0)
        PD = np.where(c == 0, pb * sm, np.power(pm, b - 1) * D)
        B2t = [_one_minus_2s(x) * B1, _mul0(b, PD * (_mul0((b - 1) * D, Vp) + 2 * DQ)), DQ * DQ * pb]
        cond = 1 + (b + 2) * s / pm
    B, B1 = np.where(on, B, 0), np.where(on, B1, 0)
    B2 = np.where(on, sum(B2t), 0)
    B2s = np.where(on, sum(np.abs(t) for t in B2t) * cond, 0)
    loss = w * (_mul0(y, A) + _mul0(1 - y, B))
    lscale = np.abs(w) * (np.abs(_mul0(y, A)) + np.abs(_mul0(1 - y, B)) * np.where(on, cond, 1))
    grad = m * (_mul0(y, A1) + _mul0(1 - y, B1))
    gscale = np.abs(m) * (np.abs(_mul0(y, A1)) +
                          np.abs(_mul0(1 - y, B1)) * np.where(on, cond, 1))
    hess = m * (_mul0(y, A2) + _mul0(1 - y, B2))
    hscale = np.abs(m) * (np.abs(_mul0(y, A2s)) + np.abs(_mul0(1 - y, B2s)))
    nan = np.where(np.isnan(x), LD(np.nan), LD(0))   # (the margin's test drops a NaN)
    return loss + nan, lscale, grad + nan, gscale, hess + nan, hscale


def ref_focal(x, y, w, m, alpha, gamma):
    """l = w a_t u^g B with u = 1 - p_t = s(-x) y + s(x) (1 - y), B the BCE with logits.

    With f = u^g B and r = u'/u (finite everywhere, unlike u^(g-1) or u^(g-2)):
        f'  = u^g (g r B + B')
        f'' = u^g (g (g-1) r^2 B + 2 g r B' + g r (s(-x) - s(x)) B + B'')
    using u' = s'(1 - 2y), s' = s(x) s(-x), u''/u = r (s(-x) - s(x)), B' = s(x) - y, B'' = s'.
    """
    s, sm, e, u, u1, r = _u_r(x, y)
    a = np.abs(x)
    t = np.log1p(e)
    B = np.where(x >= 0, _mul0(1 - y, a), _mul0(y, a)) + t
    at = LD(1) if alpha is None else alpha * y + (1 - alpha) * (1 - y)
    # a_t's terms (they cancel for alpha outside [0, 1]: the bound is in their ulps)
    at_terms = LD(1) if alpha is None else np.abs(alpha) * y + np.abs(1 - alpha) * (1 - y)
    g = LD(gamma)
    ug = np.power(u, g)              # 0**0 = 1
    dB, d2B = s - y, s * sm
    rB = _mul0(r, B)
    loss = w * at * ug * B
    grad = m * at * ug * (g * rB + dB)
    gscale = np.abs(m) * at_terms * ug * (g * np.abs(rB) + np.maximum(s, np.abs(y)))
    h_terms = [g * (g - 1) * _mul0(r, rB), 2 * g * r * dB, g * _mul0(_one_minus_2s(x), rB), d2B]
    hess = m * at * ug * sum(h_terms)
    hscale = np.abs(m) * at_terms * ug * (np.abs(h_terms[0]) + 2 * g * np.abs(r) *
                                         np.maximum(s, np.abs(y)) + np.abs(h_terms[2]) + d2B)
    return loss, np.abs(w) * at_terms * ug * B, grad, gscale, hess, hscale


# ---- comparison -------------------------------------------------------------------------

# (relative to the magnitude of the terms, absolute: two subnormal spacings, as a weight
# multiplies an already rounded subnormal loss)
TOL = {np.dtype(np.float16): (8 * 2.0**-11, 2 * 2.0**-24),
       np.dtype(np.float32): (8 * 2.0**-24, 2 * 2.0**-149),
       np.dtype(np.float64): (64 * 2.0**-53, 2 * 2.0**-1074)}


def check_close(got, ref, scale, dtype, what, rel_extra=1.0, overflow_ok=False):
    """got within tolerance of ref.  overflow_ok: an infinity of the reference's sign is
    accepted (a reduction whose intermediate sum overflows)."""
    got = np.asarray(got)
    assert got.dtype == dtype, f"{what}: dtype {got.dtype}, expected {dtype}"
    ref = np.asarray(ref, dtype=LD)
    scale = np.asarray(scale, dtype=LD)
    g = got.astype(LD)
    rtol, atol = TOL[np.dtype(dtype)]
    rtol *= rel_extra
    big = LD(np.finfo(dtype).max)
    nan_ref = np.isnan(ref)
    bad = np.isnan(g) != nan_ref
    fin = ~nan_ref & ~np.isnan(g)
    ref_inf = fin & np.isinf(ref)
    bad |= ref_inf & (g != ref)
    # overflow of a finite value past the dtype's range is the correct rounding
    over = fin & ~np.isinf(ref) & np.isinf(g)
    bad |= over & ~(((np.abs(ref) >= big * (1 - rtol)) | overflow_ok) &
                    (np.sign(g) == np.sign(ref)))
    ok_fin = fin & ~np.isinf(ref) & ~np.isinf(g)
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(g - ref)
        lim = rtol * np.where(np.isfinite(scale), scale, np.abs(ref)) + atol
        bad |= ok_fin & ~(err <= lim)
    if np.any(bad):
        idx = np.argwhere(np.reshape(bad, np.shape(bad) or (1,)))[:5]
        rows = []
        for i in idx:
            i = tuple(i) if np.ndim(bad) else ()
            rows.append(f"at {i}: got {np.asarray(got)[i]!r}, reference {float(ref[i])!r} "
                        f"(scale {float(scale[i]) if np.ndim(scale) else float(scale)!r})")
        raise AssertionError(f"{what}: {int(np.sum(bad))} element(s) wrong; " + "; ".join(rows))


# ---- value generation -----------------------------------------------------------------

def special_values(dtype):
    fi = np.finfo(dtype)
    v = [0.0, -0.0, np.inf, -np.inf, float(fi.max), -float(fi.max), float(fi.smallest_subnormal),
         -float(fi.smallest_subnormal), float(fi.tiny), 1.0, -1.0, 15.9, -15.9, 17.0, 36.0,
         -36.0, 33.3, 19.4, -9.6, 88.7, -88.7, 103.9, -104.0, 709.78, -745.2, 1e-8, -1e-8]
    return np.array([x for x in v if abs(x) <= float(fi.max) or np.isinf(x)], dtype)


def logits_values(rng, shape, dtype, special, nan):
    n = int(np.prod(shape))
    fi = np.finfo(dtype)
    top = np.log10(float(fi.max))
    kind = rng.integers(0, 3, n)
    mag = 10.0 ** rng.uniform(-6, top, n)
    x = np.where(kind == 0, rng.normal(0, 3, n),
                 np.where(kind == 1, rng.normal(0, 30, n), mag * rng.choice([-1, 1], n)))
    x = x.astype(dtype)
    if special > 0:
        pick = rng.uniform(size=n) < special
        x[pick] = rng.choice(special_values(dtype), int(pick.sum()))
    if nan > 0:
        x[rng.uniform(size=n) < nan] = np.nan
    return x.reshape(shape)


def prob_values(rng, shape, dtype, special):
    n = int(np.prod(shape))
    fi = np.finfo(dtype)
    kind = rng.integers(0, 4, n)
    k = rng.uniform(1, -np.log2(float(fi.smallest_subnormal)), n)
    x = np.where(kind == 0, rng.uniform(0, 1, n),
                 np.where(kind == 1, 2.0 ** -k, np.where(kind == 2, 1 - 2.0 ** -np.minimum(k, 60),
                                                          np.round(rng.uniform(0, 1, n)))))
    x = np.clip(x.astype(dtype), 0, 1)
    if special > 0:
        pick = rng.uniform(size=n) < special
        sv = np.array([0.0, 1.0, -0.0, float(fi.smallest_subnormal), float(fi.tiny),
                       1 - float(fi.epsneg), 0.5], dtype)
        x[pick] = rng.choice(sv, int(pick.sum()))
    return x.reshape(shape)


def target_values(rng, shape, dtype, soft):
    if np.dtype(dtype).kind in "biu":
        return (rng.uniform(size=shape) < 0.5).astype(dtype)
    y = (rng.uniform(size=shape) < 0.5).astype(np.float64)
    if soft:
        y = np.where(rng.uniform(size=shape) < 0.5, rng.uniform(size=shape), y)
    return y.astype(dtype)


def lay_out(arr, layout, rng_flag=0):
    """A view with the values of `arr` in the given memory layout (the owner is kept by the
    view's .base chain)."""
    arr = np.asarray(arr)
    if arr.ndim == 0 or layout == "c":
        return np.array(arr, copy=True)
    if layout == "f":
        return np.asfortranarray(arr).copy(order="F")
    if layout == "strided":
        ax = rng_flag % arr.ndim
        big_shape = list(arr.shape)
        big_shape[ax] = 3 * max(arr.shape[ax], 1)
        big = np.zeros(big_shape, arr.dtype)
        idx = [slice(None)] * arr.ndim
        idx[ax] = slice(1, None, 3) if arr.shape[ax] else slice(0, 0)
        v = big[tuple(idx)][tuple(slice(0, s) for s in arr.shape)]
        v[...] = arr
        return v
    if layout == "reversed":
        rev = tuple(slice(None, None, -1) for _ in range(arr.ndim))
        return np.array(arr[rev], copy=True)[rev]
    if layout == "transposed":
        return np.array(arr.T, copy=True).T
    if layout == "swapped":
        return arr.astype(arr.dtype.newbyteorder("S"))
    if layout == "readonly":
        v = np.array(arr, copy=True)
        v.flags.writeable = False
        return v
    # what the array is rather than how it is laid out
    if layout == "matrix":
        return np.asmatrix(np.array(arr, copy=True)) if arr.ndim == 2 else \
            np.array(arr, copy=True).view(Sub)
    if layout == "subclass":
        return lay_out(arr, ("f", "strided", "reversed")[rng_flag % 3], rng_flag).view(Sub)
    if layout == "interface":
        return Interface(np.array(arr, copy=True))
    if layout == "buffer":
        return memoryview(np.ascontiguousarray(arr))
    if layout == "broadcast":   # zero strides; the caller made every value the same
        return np.broadcast_to(arr.reshape(-1)[:1].reshape((1,) * arr.ndim), arr.shape) \
            if arr.size else arr
    raise ValueError(layout)


class Sub(np.ndarray):
    """A user subclass whose reshape must not be used by the bindings."""

    def reshape(self, *a, **k):
        raise AssertionError("the bindings called a subclass's reshape")


class Interface:
    """An object with only the array interface (no buffer protocol, not an ndarray)."""

    def __init__(self, a):
        self._keep = a
        self.__array_interface__ = a.__array_interface__


def constant_if_broadcast(arr, layout):
    """The values a "broadcast" layout can hold: all equal to the first."""
    if layout != "broadcast" or np.size(arr) == 0:
        return arr
    return np.full(np.shape(arr), np.asarray(arr).reshape(-1)[0], np.asarray(arr).dtype)


LAYOUTS = ["c", "c", "f", "strided", "reversed", "transposed", "swapped", "readonly",
           "matrix", "subclass", "interface", "buffer", "broadcast"]
OUT_LAYOUTS = ["c", "f", "strided", "reversed", "transposed", "matrix", "subclass"]


@st.composite
def shapes(draw):
    kind = draw(st.sampled_from(["small", "small", "small", "long", "zero"]))
    if kind == "long":   # crosses the chunk (256) and block (4096) boundaries
        n = draw(st.sampled_from([255, 256, 257, 4095, 4096, 4097, 8193, 12289]))
        return draw(st.sampled_from([(n,), (n // 3, 3) if n % 3 == 0 else (n,)]))
    if kind == "zero":
        return draw(st.sampled_from([(0,), (0, 3), (2, 0, 3)]))
    return tuple(draw(st.lists(st.integers(1, 7), min_size=0, max_size=3)))


@st.composite
def bshape(draw, shape):
    """A shape broadcastable to `shape`: drop leading dims, set some dims to 1."""
    nd = draw(st.integers(0, len(shape)))
    tail = shape[len(shape) - nd:]
    return tuple(1 if draw(st.booleans()) else s for s in tail)


@st.composite
def calls(draw, family):
    ops = available(family)
    assume(ops)
    op, name = draw(st.sampled_from(ops))
    dtype = np.dtype(draw(st.sampled_from([np.float16, np.float32, np.float64, np.float64])))
    tdtype = draw(st.sampled_from(["same", np.bool_, np.uint8, np.int8, np.int32, np.float16,
                                   np.float32, np.float64]))
    shape = draw(shapes())
    c = dict(family=family, op=op, name=name, dtype=dtype, shape=shape,
             tdtype=dtype if tdtype == "same" else np.dtype(tdtype),
             seed=draw(st.integers(0, 2**32 - 1)),
             special=draw(st.sampled_from([0.0, 0.0, 0.05, 0.3])),
             nan=draw(st.sampled_from([0.0, 0.0, 0.0, 0.01])),
             soft=draw(st.booleans()),
             xlayout=draw(st.sampled_from(LAYOUTS + ["masked"])),
             tlayout=draw(st.sampled_from(LAYOUTS)),
             flag=draw(st.integers(0, 5)),
             reduction=draw(st.sampled_from(["none", "sum", "mean", "weighted_mean"])),
             num_threads=draw(st.sampled_from([None, 1, 2, 3])))
    if draw(st.booleans()):
        c["weight"] = draw(bshape(shape))
        c["wlayout"] = draw(st.sampled_from(LAYOUTS))
        c["wdtype"] = np.dtype(draw(st.sampled_from([np.float32, np.float64, np.int64])))
    if REG[family]["pos_weight"] and draw(st.booleans()):
        c["pos_weight"] = draw(bshape(shape))
        c["pwlayout"] = draw(st.sampled_from(LAYOUTS))
    c.update(draw_params(lambda seq: draw(st.sampled_from(list(seq))), family))
    if op == "bwd":
        if c["reduction"] == "none" and draw(st.booleans()):
            c["go"] = draw(bshape(shape))
        else:
            c["go"] = draw(st.sampled_from([1.0, 1.0, -2.5, 0.0, 1e-3]))
    c["out"] = draw(st.sampled_from([None, None, "given", "given", "inplace", "overlap"]))
    c["olayout"] = draw(st.sampled_from(OUT_LAYOUTS))
    return c


def run_case(c):
    """Build the arrays of case c, call cbce, compare with the reference."""
    rng = np.random.default_rng(c["seed"])
    dtype, shape, fam, op = c["dtype"], c["shape"], c["family"], c["op"]
    cdt = np.dtype(np.float64) if dtype == np.float64 else np.dtype(np.float32)
    if REG[fam]["probs"]:
        x = prob_values(rng, shape, dtype, c["special"])
    else:
        x = logits_values(rng, shape, dtype, c["special"], c["nan"])
    y = target_values(rng, shape, c["tdtype"], c["soft"])
    x = constant_if_broadcast(x, c["xlayout"])
    y = constant_if_broadcast(y, c["tlayout"])
    kw = {"num_threads": c["num_threads"]}
    w = pw = go = None
    if "weight" in c:
        w = np.where(rng.uniform(size=c["weight"]) < 0.2, 0.0,
                     rng.uniform(0, 3, c["weight"])).astype(c["wdtype"])
        if c["wdtype"].kind == "i":
            w = rng.integers(0, 4, c["weight"])
        w = constant_if_broadcast(w, c["wlayout"])
        kw["weight"] = lay_out(w, c["wlayout"], c["flag"])
    if "pos_weight" in c:
        pw = constant_if_broadcast(rng.uniform(0, 4, c["pos_weight"]), c["pwlayout"])
        kw["pos_weight"] = lay_out(pw, c["pwlayout"], c["flag"] + 1)
    for p, _ in REG[fam]["params"]:
        if PKEY.get(p, p) in c:
            kw[p] = c[PKEY.get(p, p)]
    if op != "grad_hess":
        kw["reduction"] = c["reduction"]
    if "go" in c:
        go = c["go"] if np.isscalar(c["go"]) else rng.uniform(-2, 2, c["go"])
        kw["grad_output"] = go
    if "invalid" in c:   # a parameter outside its range: the registry's message
        with pytest.raises(ValueError, match=re.escape(PARAMS[c["invalid"]][4])):
            getattr(cbce, c["name"])(x, y, **kw)
        return
    if c["xlayout"] == "masked":   # refused: the core would read masked data as values
        with pytest.raises(TypeError, match="MaskedArray"):
            getattr(cbce, c["name"])(np.ma.array(x, mask=rng.uniform(size=shape) < 0.5), y,
                                     **kw)
        return
    xin = lay_out(x, c["xlayout"], c["flag"])
    yin = lay_out(y, c["tlayout"], c["flag"] + 2)
    reduced = c["reduction"] != "none" and op in ("fwd", "fwd_bwd")
    n = int(np.prod(shape))

    # out= arrays
    out_given = None
    x_written = False   # out is or overlaps the input's memory
    if c["out"] == "inplace" and op == "bwd" and isinstance(xin, np.ndarray) and \
            xin.flags.writeable and xin.dtype.isnative:
        out_given = xin
        kw["out"] = xin
        x_written = True
    elif c["out"] == "overlap" and op in ("fwd", "bwd") and not reduced and n and \
            dtype != np.float16:
        # out is the input's buffer shifted by one element, either way
        buf = np.empty(n + 2, dtype)
        buf[1:n + 1] = x.reshape(-1)
        xin = buf[1:n + 1].reshape(shape)
        s0 = 2 * (c["flag"] % 2)
        out_given = kw["out"] = buf[s0:s0 + n].reshape(shape)
        x_written = True
    elif c["out"] is not None:
        def mk():
            return lay_out(np.full(shape, 7, dtype), c["olayout"], c["flag"])
        if op in ("fwd",) and not reduced:
            out_given = kw["out"] = mk()
        elif op == "bwd":
            out_given = kw["out"] = mk()
        elif op == "fwd_bwd":
            out_given = kw["out"] = (None if reduced else mk(), mk())
        elif op == "grad_hess":
            out_given = kw["out"] = (mk(), mk())

    keep = {k: np.array(v, copy=True) for k, v in
            (("x", xin), ("y", yin)) if k == "y" or not x_written}
    if currently_in_test_context():   # (a saved finding is replayed outside hypothesis)
        note(f"case {c}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        got = getattr(cbce, c["name"])(xin, yin, **kw)
    for k, v in keep.items():
        now = xin if k == "x" else yin
        assert np.array_equal(np.asarray(now), v, equal_nan=True) and \
            np.asarray(now).tobytes() == np.asarray(v).tobytes(), f"{k} was modified"

    # the returned objects
    if op in ("fwd", "bwd"):
        outs = (got,)
        if out_given is not None:
            assert got is out_given, "out= not returned"
    else:
        assert isinstance(got, tuple) and len(got) == 2
        outs = got
        if out_given is not None:
            for g, o in zip(got, out_given):
                if o is not None:
                    assert g is o, "out= pair not returned"
    for v in outs:
        v = np.asarray(v)
        assert v.dtype == dtype.newbyteorder("="), f"result dtype {v.dtype}"

    # the reference, on the values the core sees (float16 input computed in float32)
    X = x.astype(LD)
    # targets are read at their own precision (a float64 target of float32 input is not
    # rounded to float32); weights, pos_weight and grad_output are converted to the input's
    Y = y.astype(LD)
    W = np.ones(shape, LD) if w is None else np.broadcast_to(
        np.asarray(w).astype(cdt).astype(LD), shape)
    P = np.ones(shape, LD) if pw is None else np.broadcast_to(pw.astype(cdt).astype(LD), shape)
    red = c["reduction"] if op != "grad_hess" else "none"
    if op in ("bwd", "fwd_bwd", "grad_hess") and red != "none":
        g0 = LD(1.0) if op != "bwd" else LD(np.asarray(go, dtype=cdt).reshape(-1)[0])
        den = LD(n) if red == "mean" else (np.sum(W) if red == "weighted_mean" else LD(1))
        with np.errstate(all="ignore"):
            M = W * (g0 / den) if n else W
    elif op == "bwd" and go is not None:
        M = W * np.broadcast_to(np.asarray(go, dtype=cdt).astype(LD), shape)
    else:
        M = W
    eps = LD(c.get("eps", 0.0))
    Ys = Y * (1 - eps) + eps / 2
    with np.errstate(all="ignore"):
        if fam == "logits":
            ref = ref_logits(X, Y, P, W, M, eps)
        elif fam == "probs":
            # PyTorch's EPSILON is `constexpr float 1e-12`, for float64 data too
            tiny = LD(np.float32(1e-12))
            ref = ref_probs(X, Y, W, M, eps, tiny)
        elif fam in ("focal", "poly1_focal"):
            alpha = None if c["alpha"] is None else LD(c["alpha"])
            ref = ref_focal(X, Ys, W, M, alpha, c["gamma"])
        elif fam == "poly1":
            ref = ref_logits(X, Y, P, W, M, eps)
        elif fam == "asymmetric":
            ref = ref_asymmetric(X, Y, W, M, c["gamma_pos"], c["gamma_neg"], c["clip"])
        else:
            raise AssertionError(f"no reference for the family {fam}: add one here")
        if fam.startswith("poly1"):
            poly = ref_poly(X, Ys, W, M, LD(c["epsilon"]), c.get("gamma", 0.0))
            ref = tuple(a + b for a, b in zip(ref, poly))
    loss, lscale, grad, gscale, hess, hscale = ref
    extra = 1.0 if fam in ("logits", "probs") else 4.0
    what = c["name"]

    def check_loss(v):
        if red == "none" or op == "grad_hess":
            check_close(v, loss, lscale, dtype, what + " loss", extra)
            return
        assert np.ndim(v) == 0, f"reduced loss has shape {np.shape(v)}"
        with np.errstate(all="ignore"):
            tot, sc = np.sum(loss), np.sum(lscale)
            if red == "mean":
                tot, sc = tot / LD(n), sc / LD(n)
            elif red == "weighted_mean":
                ws = np.sum(W)
                tot, sc = tot / ws, sc / abs(ws)
        if n == 0:
            tot = LD(0) if red == "sum" else LD(np.nan)
            sc = LD(0)
        # the sum is accumulated in double: it may overflow where the mean would not
        ovf = bool(np.sum(lscale) > LD(np.finfo(np.float64).max)) or dtype != cdt
        check_close(v, tot, sc, dtype, what + f" {red}", extra * 2, overflow_ok=ovf)

    if op == "fwd":
        check_loss(got)
    elif op == "bwd":
        check_close(got, grad, gscale, dtype, what + " grad", extra)
    elif op == "fwd_bwd":
        check_loss(got[0])
        check_close(got[1], grad, gscale, dtype, what + " grad", extra)
    else:
        check_close(got[0], grad, gscale, dtype, what + " grad", extra)
        check_close(got[1], hess, hscale, dtype, what + " hess", extra * 2)

    # the fused call is forward and backward, bit for bit
    if op == "fwd_bwd" and dtype != np.float16:
        kw2 = {k: v for k, v in kw.items() if k != "out"}
        f = getattr(cbce, c["name"].replace("_forward_backward", ""))(xin, yin, **kw2)
        b_name = c["name"].replace("_forward_backward", "_backward")
        if hasattr(cbce, b_name):
            b = getattr(cbce, b_name)(xin, yin, **kw2)
            assert same_bits(b, got[1]), "fused gradient != backward"
        assert same_bits(f, got[0]), "fused loss != forward"


def same_bits(a, b):
    """Bitwise equal, except that any NaN equals any NaN (sign and payload of a NaN are not
    specified)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    na, nb = np.isnan(a), np.isnan(b)
    if not np.array_equal(na, nb):
        return False
    return a[~na].tobytes() == b[~nb].tobytes()


def _count(key):
    CASES_TRIED[key] = CASES_TRIED.get(key, 0) + 1


@pytest.mark.parametrize("family", list(REG))
def test_fuzz_losses(family):
    assert available(family), f"no {family} functions in cbce"

    @SETTINGS
    @given(calls(family))
    def inner(c):
        _count(family)
        run_case(c)

    inner()


# ---- the elementwise helpers ------------------------------------------------------------

ELEM = ["sigmoid", "log_sigmoid", "softplus"]


def ref_elem(name, x):
    s, sm, e, d = _sig(x)
    t = np.log1p(e)
    if name == "sigmoid":
        return s
    if name == "log_sigmoid":
        return np.minimum(x, 0) - t
    return np.maximum(x, 0) + t


@SETTINGS
@given(name=st.sampled_from(ELEM), dtype=st.sampled_from([np.float16, np.float32, np.float64]),
       shape=shapes(), seed=st.integers(0, 2**32 - 1), special=st.sampled_from([0.0, 0.1, 0.5]),
       layout=st.sampled_from(LAYOUTS), out=st.sampled_from([None, "given", "inplace"]),
       olayout=st.sampled_from(OUT_LAYOUTS))
def test_fuzz_elementwise(name, dtype, shape, seed, special, layout, out, olayout):
    _count("elementwise")
    run_elementwise_case(name, dtype, shape, seed, special, layout, out, olayout)


def run_elementwise_case(name, dtype, shape, seed, special, layout, out, olayout):
    """One call of sigmoid / log_sigmoid / softplus checked against the reference."""
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    x = constant_if_broadcast(logits_values(rng, shape, dtype, special, 0.01), layout)
    xin = lay_out(x, layout, seed % 5)
    kw = {}
    if out == "inplace" and isinstance(xin, np.ndarray) and xin.flags.writeable and \
            xin.dtype.isnative:
        kw["out"] = xin
    elif out is not None:
        kw["out"] = lay_out(np.zeros(shape, dtype), olayout, seed % 3)
    before = np.array(xin, copy=True)
    got = getattr(cbce, name)(xin, **kw)
    if "out" in kw:
        assert got is kw["out"]
    if kw.get("out") is not xin:
        assert np.asarray(xin).tobytes() == before.tobytes(), "input modified"
    with np.errstate(all="ignore"):
        r = ref_elem(name, x.astype(LD))
    check_close(got, r, np.abs(r), dtype.newbyteorder("="), name)


def run_saved(family, c):
    """Replay a call saved as JSON by tools/fuzz_campaign.py (family 'elementwise' for the
    helpers)."""
    if family == "elementwise":
        run_elementwise_case(c["name"], np.dtype(c["dtype"]), tuple(c["shape"]), c["seed"],
                             c["special"], c["layout"], c["out"], c["olayout"])
        return
    c = dict(c, shape=tuple(c["shape"]), dtype=np.dtype(c["dtype"]),
             tdtype=np.dtype(c["tdtype"]))
    for k in ("weight", "pos_weight"):
        if k in c:
            c[k] = tuple(c[k])
    if "wdtype" in c:
        c["wdtype"] = np.dtype(c["wdtype"])
    if isinstance(c.get("go"), list):
        c["go"] = tuple(c["go"])
    run_case(c)


FINDINGS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fuzz_findings.jsonl")


def _saved_findings():
    """The saved findings: every one must now pass."""
    with open(FINDINGS) as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _replay(rows):
    failed = []
    for r in rows:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                run_saved(r["family"], r["case"])
        except AssertionError as e:
            failed.append(f"genome {r['genome']} ({r['family']}): {str(e)[:300]}")
    assert not failed, f"{len(failed)} of {len(rows)} saved findings fail:\n" + "\n".join(failed)


def test_saved_findings():
    """Every failing call the campaign found (tests/fuzz_findings.jsonl, one JSON object a
    line: family, genome, case, error), replayed against the reference."""
    rows = _saved_findings()
    assert rows, f"no findings in {FINDINGS}"
    _replay(rows)


def test_zz_report_cases(capsys):
    """Prints the number of fuzz cases run in this session (for the closing note)."""
    with capsys.disabled():
        print(f"\ncbce hypothesis cases tried: {CASES_TRIED} (CBCE_FUZZ_EXAMPLES={EXAMPLES})")


# ---- regression tests for what the fuzzing found ------------------------------------------

def _loss_fns():
    """The forward losses in cbce (binary_cross_entropy_forward_backward is not in the
    contract; test_hardening_errors.py fails while a function the contract lists is missing)."""
    out = []
    for fam, names in FAMILIES.items():
        for op, name in zip(OPS, names):
            if op in ("fwd", "fwd_bwd") and hasattr(cbce, name):
                out.append(pytest.param(fam, op, name, id=name))
    return out


@pytest.mark.parametrize("family,op,name", _loss_fns())
@pytest.mark.parametrize("reduction", ["sum", "mean", "weighted_mean"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_reduction_of_infinite_loss_is_inf(family, op, name, reduction, dtype):
    """Found by test_fuzz_losses: one infinite element loss (x=+inf, y=0 with logits;
    x=0, y=1 gives 100 for BCE, so there an infinite weight is used) must make sum/mean +inf,
    as NumPy and PyTorch do, not NaN.  (For BCE on probabilities the elementwise loss with
    an infinite weight was NaN as well: see test_probs_infinite_weight.)
    The weighted mean with an infinite weight is inf / inf: NaN, as in NumPy."""
    x = np.array([np.inf, 0.0, 1.0], dtype)
    y = np.array([0.0, 0.0, 1.0], dtype)
    w = None
    if family == "probs":
        x = np.array([0.5, 0.25, 0.75], dtype)
        w = np.array([np.inf, 1.0, 1.0], dtype)
    kw = {"reduction": reduction}
    if w is not None:
        kw["weight"] = w
    if family == "focal":
        kw["gamma"] = 0.0
    if family == "asymmetric":
        kw["clip"] = 0.0    # (with a margin the negative term is finite at x = +inf)
    r = getattr(cbce, name)(x, y, **kw)
    loss = r[0] if op == "fwd_bwd" else r
    if w is not None and reduction == "weighted_mean":
        with np.errstate(invalid="ignore"):
            want = np.sum(w * -np.log(np.where(y == 1, x, 1 - x))) / np.sum(w)  # inf / inf
        assert np.isnan(want) and np.isnan(loss), \
            f"{name}({x}, {y}, {kw}) = {loss}, expected NaN (inf / inf)"
    else:
        assert np.isposinf(loss), f"{name}({x}, {y}, {kw}) = {loss}, expected inf"


@pytest.mark.parametrize("fn", ["sigmoid_focal_loss", "poly1_focal_loss"])
def test_focal_infinite_logit_smoothed(fn):
    """Found by test_fuzz_losses[poly1_focal]: x = -inf, y = 0, label_smoothing 2^-30,
    gamma 40: the loss is a_t u^40 * inf with u = 2^-31 > 0, so +inf (float64 gives it)."""
    x, y = np.array([-np.inf], np.float32), np.array([0.0], np.float32)
    r = getattr(cbce, fn)(x, y, gamma=40.0, label_smoothing=2.0**-30, reduction="none")
    assert np.isposinf(r[0]), f"{fn}(-inf, 0, gamma=40, label_smoothing=2^-30) = {r[0]}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_asymmetric_clip0_large_logit(dtype):
    """Found by test_fuzz_losses[asymmetric]: x = 1.03e6, y = 0, clip = 0 gave inf; the
    negative term is -log(1 - sigmoid(x)) = softplus(x) = x + log1p(exp(-x)), x in both
    dtypes, and its derivative 1 (gamma_neg = 0)."""
    x = np.array([1.03299594e6, 1e5, 3e38], dtype)
    y = np.zeros(3, dtype)
    loss = cbce.asymmetric_loss(x, y, gamma_neg=0.0, clip=0.0, reduction="none")
    assert np.array_equal(loss, x), f"asymmetric_loss({x}, 0, clip=0) = {loss}, expected {x}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_reduction_of_overflowing_sum_is_inf(dtype):
    """A sum of losses that overflows the result dtype is +inf, not NaN."""
    big = np.finfo(dtype).max
    x = np.array([-big, -big, -big], dtype)
    y = np.ones(3, dtype)
    r = cbce.binary_cross_entropy_with_logits(x, y, reduction="sum")
    assert np.isposinf(r), f"sum of three losses of {big} gave {r}"


@pytest.mark.parametrize("reduction", ["mean", "weighted_mean"])
@pytest.mark.parametrize("value", [1.4e300, 1e305, 1e308, np.finfo(np.float64).max])
def test_mean_of_huge_float64_losses_is_finite(reduction, value):
    """Found by test_fuzz_losses: mean/weighted_mean of float64 losses above ~2^996 was NaN.
    The exact mean of one loss is that loss."""
    x, y = np.array([-value]), np.array([1.0])
    kw = {"weight": np.array([2.0])} if reduction == "weighted_mean" else {}
    r = cbce.binary_cross_entropy_with_logits(x, y, reduction=reduction, **kw)
    assert r == value, f"mean of one loss {value!r} gave {r!r}"
    r2 = cbce.binary_cross_entropy_with_logits(np.array([-value] * 2), np.ones(2),
                                               reduction=reduction)
    assert r2 == value, f"mean of two losses {value!r} gave {r2!r}"


@pytest.mark.parametrize("w", [np.int64(0), 0.0, 1e-300, 0.25], ids=repr)
@pytest.mark.parametrize("p", [3.1206676686536636, 2.0])
@pytest.mark.parametrize("reduction", ["none", "sum"])
def test_small_weight_times_overflowing_pos_weight_loss(w, p, reduction):
    """Bug found by test_fuzz_losses under ASan (fixed: such losses are formed again at
    2^-128 with the weight applied, logits.c).
    x = -DBL_MAX, y = 1: the loss is pos_weight * softplus(DBL_MAX) = pos_weight * DBL_MAX
    (+ e^-DBL_MAX), above DBL_MAX; times the weight it is finite (0 for a weight of 0, which
    "masks an element out", the contract).  Reference: exact products (Fraction)."""
    from fractions import Fraction
    big = np.finfo(np.float64).max
    want = float(Fraction(float(w)) * Fraction(p) * Fraction(big))
    got = cbce.binary_cross_entropy_with_logits(np.array([-big]), np.array([1.0]),
                                                weight=w, pos_weight=p, reduction=reduction)
    got = float(np.asarray(got).reshape(-1)[0])
    assert abs(got - want) <= np.spacing(want), f"w={w!r} p={p!r}: got {got!r}, want {want!r}"


def test_weighted_mean_with_huge_weights():
    """The weight sum is formed with the same double-double products (weight_sum)."""
    x, y = np.zeros(4), np.zeros(4)
    w = np.full(4, 1e300)
    r = cbce.binary_cross_entropy_with_logits(x, y, weight=w, reduction="weighted_mean")
    assert r == cbce.binary_cross_entropy_with_logits(x, y, reduction="mean"), r
    # a (C,) weight broadcast over many rows goes through the one-cycle path of weight_sum
    x2, y2 = np.zeros((1000, 4)), np.zeros((1000, 4))
    r2 = cbce.binary_cross_entropy_with_logits(x2, y2, weight=w, reduction="weighted_mean")
    assert abs(r2 - np.log(2)) <= 2e-16, r2


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op", ["none", "sum", "grad"])
def test_probs_infinite_weight(dtype, op):
    """Found by fuzzing: BCE on probabilities with an infinite weight gave NaN; PyTorch and
    the logits loss give inf (the loss is positive) and an infinite gradient of the sign of
    x - y."""
    x = np.array([0.5, 0.25], dtype)
    y = np.array([0.0, 1.0], dtype)
    w = np.array([np.inf, np.inf], dtype)
    if op == "grad":
        g = cbce.binary_cross_entropy_backward(x, y, weight=w, reduction="none")
        assert np.isposinf(g[0]) and np.isneginf(g[1]), g
        return
    r = cbce.binary_cross_entropy(x, y, weight=w, reduction=op)
    assert np.all(np.isposinf(r)), r


@pytest.mark.parametrize("n", [2, 3, 7, 54, 4097])
@pytest.mark.parametrize("reduction", ["mean", "weighted_mean"])
def test_mean_when_sum_is_near_float64_max(n, reduction):
    """Found by fuzz/fuzz_cbce.c: one loss of DBL_MAX (x = DBL_MAX, y = 0) and n - 1 small
    ones: the sum rounds to DBL_MAX (finite) and the mean is DBL_MAX / n; the core returned
    -inf for n not a power of two (dd_div: q * n rounds up to inf)."""
    big = np.finfo(np.float64).max
    x = np.array([big] + [1.0] * (n - 1))
    kw = {"weight": np.ones(n)} if reduction == "weighted_mean" else {}
    r = cbce.binary_cross_entropy_with_logits(x, np.zeros(n), reduction=reduction, **kw)
    want = big / n
    assert abs(r - want) <= 4 * np.spacing(want), f"n={n}: got {r!r}, expected {want!r}"


@pytest.mark.parametrize("reduction,exact", [("sum", 0.0), ("mean", 0.0),
                                             ("weighted_mean", None)])
def test_weights_of_both_signs_near_float64_max(reduction, exact):
    """Found by fuzz/fuzz_cbce.c: losses of 1.5e308 with weights +1 and -1 in different
    reduction lanes: the lanes overflow to +inf and -inf and the result was NaN, while the
    exact sum is 0 (and the weighted mean, with one more weight of 1, is 1.5e308)."""
    x, y = np.full(16, -1.5e308), np.ones(16)
    w = np.array([1.0, -1.0, 0, 0, 0, 0, 0, 0] * 2)
    if exact is None:
        w[2] = 1.0
        exact = 1.5e308
    r = cbce.binary_cross_entropy_with_logits(x, y, weight=w, reduction=reduction)
    assert r == exact, f"{reduction}: got {r!r}, exact {exact!r}"


@pytest.mark.parametrize("xhex", ["0x0.0165eebe2b040p-1022", "0x0.0000000000001p-1022",
                                  "0x1.0p-1030", "0x1.3456789abcdefp-1000"])
@pytest.mark.parametrize("y", [0.0, 1.0])
def test_probs_gradient_at_subnormal_input(xhex, y):
    """Found by test_fuzz_losses under tools/asan_pytest.sh: for a float64 probability
    x near or below the subnormal range the gradient (x - y) / max(x (1 - x), EPS) was
    ~180 ulp off (1.2152503213415115e-298 for 1.2152503213415608e-298)."""
    from fractions import Fraction
    x = float.fromhex(xhex)
    eps = Fraction(float(np.float32(1e-12)))
    fx = Fraction(x)
    den = max(fx * (1 - fx), eps)
    want = float((fx - Fraction(y)) / den)
    g = cbce.binary_cross_entropy_backward(np.array([x]), np.array([y]), reduction="sum")[0]
    assert abs(g - want) <= np.spacing(abs(want)), f"x={xhex} y={y}: got {g!r}, want {want!r}"


@pytest.mark.parametrize("eps", [2.225073858507203e-309, 5e-324, 1e-310])
def test_subnormal_label_smoothing(eps):
    """Bug 7, found by test_fuzz_losses (CBCE_FUZZ_EXAMPLES=2000): a subnormal
    label_smoothing with a huge negative logit, y = 0: the loss is pos_weight * eps/2 * |x|
    (+ a negligible softplus), ~1e-55 here, but came out ~100 ulp off (eps/2 and
    pos_weight * eps/2 were rounded on the subnormal grid)."""
    from fractions import Fraction
    x, p = -float.fromhex("0x1.4120ec7f11aafp+846"), 0.10875328917070215
    want = float(Fraction(p) * Fraction(eps) / 2 * Fraction(-x))
    got = cbce.binary_cross_entropy_with_logits(np.array([x]), np.array([0.0]),
                                                pos_weight=np.array([p]), reduction="none",
                                                label_smoothing=eps)[0]
    assert abs(got - want) <= 2 * np.spacing(want), f"eps={eps!r}: got {got!r}, want {want!r}"


def _logits_loss_mp(x, t, p, eps):
    """The exact BCE-with-logits loss (mpmath, 400 digits) with smoothing eps."""
    import mpmath
    with mpmath.workdps(400):
        x, t, p, eps = (mpmath.mpf(v) for v in (x, t, p, eps))
        y = t * (1 - eps) + eps / 2
        q = (1 - t) * (1 - eps) + eps / 2
        a = abs(x)
        c = q if x >= 0 else p * y
        return float(c * a + (q + p * y) * mpmath.log1p(mpmath.exp(-a)))


@pytest.mark.parametrize("eps", [5e-324, 1e-310, 2.225073858507203e-309, 3e-200, 2.0**-501])
@pytest.mark.parametrize("t", [0.0, 1.0, 0.25])
@pytest.mark.parametrize("p", [1.0, 0.10875328917070215, 3.0])
def test_tiny_label_smoothing_loss(eps, t, p):
    """Bug 7's neighbourhood: tiny (subnormal and normal) label_smoothing, hard and soft
    targets, logits from 0.5 to 2^1000 of both signs, against mpmath; bar 1 ulp."""
    xs = np.array([s * m for s in (1.0, -1.0) for m in
                   (0.5, 3.0, 40.0, 800.0, 2.0**60, float.fromhex("0x1.4120ec7f11aafp+846"),
                    2.0**1000)])
    got = cbce.binary_cross_entropy_with_logits(xs, np.full(xs.shape, t),
                                                pos_weight=np.full(xs.shape, p),
                                                reduction="none", label_smoothing=eps)
    for xi, gi in zip(xs, got):
        want = _logits_loss_mp(xi, t, p, eps)
        assert abs(gi - want) <= np.spacing(want), \
            f"x={xi!r} t={t} p={p} eps={eps!r}: got {gi!r}, want {want!r} " \
            f"({abs(gi - want) / np.spacing(want):.2f} ulp)"


def _logits_grad_mp(x, t, p, eps):
    """The exact BCE-with-logits gradient (mpmath, 400 digits) with smoothing eps."""
    import mpmath
    with mpmath.workdps(400):
        x, t, p, eps = (mpmath.mpf(v) for v in (x, t, p, eps))
        y = t * (1 - eps) + eps / 2
        q = (1 - t) * (1 - eps) + eps / 2
        return float((q + p * y) / (1 + mpmath.exp(-x)) - p * y)


@pytest.mark.parametrize("eps", [5e-324, 1e-310, 2.225073858507203e-309, 3e-200, 2.0**-501])
@pytest.mark.parametrize("t", [0.0, 1.0, 0.25])
@pytest.mark.parametrize("p", [1.0, 0.10875328917070215, 8.0])
def test_tiny_label_smoothing_gradient(eps, t, p):
    """The gradient side of bug 7 (found by the hardening fuzz: eps = 5e-324, x = -7.86e183,
    y = 0 gave 0 for -2e-323): tiny label_smoothing, against mpmath, bar 1 ulp."""
    xs = np.array([s * m for s in (1.0, -1.0) for m in
                   (0.5, 3.0, 40.0, 800.0, 2.0**60, 7.86e183, 2.0**1000)])
    got = cbce.binary_cross_entropy_with_logits_backward(
        xs, np.full(xs.shape, t), pos_weight=np.full(xs.shape, p), reduction="none",
        label_smoothing=eps)
    for xi, gi in zip(xs, got):
        want = _logits_grad_mp(xi, t, p, eps)
        assert abs(gi - want) <= np.spacing(abs(want)), \
            f"x={xi!r} t={t} p={p} eps={eps!r}: got {gi!r}, want {want!r}"
