/*
 * elem_family.h -- per-element arithmetic of BCE on probabilities, the sigmoid focal loss
 * and the elementwise helpers, in two precisions (as elem.h does for BCE with logits):
 *   "D" path: R = double (float32 data), rounded once to float: <= 0.5 ulp + 2^-29;
 *   "X" path: float64 data; BCE on probabilities and the focal loss in double-double on
 *   fastmath.h's primitives (long double only in the fallbacks without elem.h's helpers).
 * The "D" paths are macro bodies (instantiated with libm in the fallbacks); the "X" paths
 * of BCE on probabilities and of the focal loss are their own functions (double-double
 * arithmetic cannot share a body with double), with the same formulas.
 *
 * Notation shared with elem.h: a = |x|, e = exp(-a) in (0, 1], t = log1p(e) in [0, ln 2],
 * d = 1 + e, s = e/d = sigmoid(-|x|), y the smoothed target, q = 1 - y computed from the raw
 * target (never as 1 - y, which cancels), L = q + y (1 up to rounding).
 */
#ifndef CBCE_ELEM_FAMILY_H
#define CBCE_ELEM_FAMILY_H

#include <math.h>
#include "elem.h"
#include "internal.h"

#ifndef CBCE__INLINE /* fastmath.h's (always_inline: GCC gives up inlining by size) */
#define CBCE__INLINE static inline
#endif

/*
 * A compute step (internal.h's cbce__step_fn) from an element macro CALL(WANT, i): `want`
 * is tested once per chunk, so each loop is a plain elementwise loop with a constant WANT
 * and the branch-free element function inlined.  The driver always passes the l, g, h
 * buffers, so CALL may hand all three to the element function; it writes only what WANT
 * asks for.  The buffers are distinct (the driver's chunk buffers): `restrict` and the
 * constants copied once spare GCC the run-time alias checks that stop it vectorising.
 */
#define CBCE__FAMILY_STEP(NAME, CALL)                                                      \
    static void NAME(int want, size_t c, const double *restrict x,                         \
                     const double *restrict t, const double *restrict p,                   \
                     const double *restrict w, const double *restrict m,                   \
                     const double *restrict ml, const cbce__consts *k0,                    \
                     double *restrict l, double *restrict g, double *restrict h)           \
    {                                                                                      \
        size_t i;                                                                          \
        const cbce__consts kc = *k0, *k = &kc;                                             \
        (void)p;                                                                           \
        (void)ml;                                                                          \
        (void)t;                                                                           \
        (void)w;                                                                           \
        (void)m;                                                                           \
        (void)k;                                                                           \
        (void)g;                                                                           \
        (void)h;                                                                           \
        switch (want) {                                                                    \
        case CBCE__LOSS:                                                                   \
            for (i = 0; i < c; i++)                                                        \
                CALL(CBCE__LOSS, i);                                                       \
            break;                                                                         \
        case CBCE__GRAD:                                                                   \
            for (i = 0; i < c; i++)                                                        \
                CALL(CBCE__GRAD, i);                                                       \
            break;                                                                         \
        case CBCE__LOSS | CBCE__GRAD:                                                      \
            for (i = 0; i < c; i++)                                                        \
                CALL(CBCE__LOSS | CBCE__GRAD, i);                                          \
            break;                                                                         \
        default:                                                                           \
            for (i = 0; i < c; i++)                                                        \
                CALL(CBCE__GRAD | CBCE__HESS, i);                                          \
            break;                                                                         \
        }                                                                                  \
    }

/*
 * BCE on probabilities, PyTorch's definition (aten/src/ATen/native/Loss.cpp):
 *   loss = -w * (y * max(log x, -100) + (1 - y) * max(log(1 - x), -100))
 * written as the sum of two non-negative terms, log(1 - x) as log1p(-x) (exact for small x).
 * The clamp makes x in {0, 1} finite (loss 100 for a wrong hard label) and 0 * log 0 = 0.
 *   grad = (x - y) / max(x * (1 - x), EPS)                      (PyTorch's backward)
 *   hess = ((x - y)^2 + y * (1 - y)) / max(x * (1 - x), EPS)^2
 * The hessian is the derivative of the unclamped gradient, y/x^2 + (1-y)/(1-x)^2, over one
 * denominator: x^2 - 2xy + y = (x - y)^2 + y(1 - y), a sum of non-negative terms.
 * EPS is PyTorch's EPSILON, `constexpr float EPSILON = 1e-12` in Loss.cpp: 1e-12 rounded
 * to float, 0x1.19799812dea11p-40 = 9.99999996e-13, for float32 and float64 data alike (so
 * the results match PyTorch's bits at the clamp; float16 data is computed as float32 by the
 * bindings, so the denominator never underflows).
 * Inputs were checked to lie in [0, 1] before any step runs (see bce_probs.c).
 */
#define CBCE__ELEM_PROBS(NAME, R, LOG, LOG1P, EPS)                                         \
    CBCE__INLINE void NAME(int want, R x, R tr, R w, R m, R keep, R half, double *l,      \
                            double *g, double *h)                                          \
    {                                                                                      \
        R y = tr * keep + half;                                                            \
        R q = ((R)1 - tr) * keep + half;                                                   \
        if (want & CBCE__LOSS) {                                                           \
            R lx = LOG(x), l1 = LOG1P(-x);                                                 \
            lx = lx < (R)-100 ? (R)-100 : lx;                                              \
            l1 = l1 < (R)-100 ? (R)-100 : l1;                                              \
            *l = (double)(w * (-(y * lx) - q * l1));                                       \
        }                                                                                  \
        if (want & (CBCE__GRAD | CBCE__HESS)) {                                            \
            R den = x * ((R)1 - x), r = x - y;                                             \
            den = den < (R)(EPS) ? (R)(EPS) : den;                                         \
            if (want & CBCE__GRAD)                                                         \
                *g = (double)(m * (r / den));                                              \
            if (want & CBCE__HESS)                                                         \
                *h = (double)(m * ((r * r + y * q) / (den * den)));                        \
        }                                                                                  \
    }

CBCE__ELEM_PROBS(cbce__probs_d, double, log, log1p, (double)1e-12f)

/*
 * The "x" path (float64 data) in double-double on fastmath.h's primitives, branch-free:
 *   log x as cbce__log_dd(x); log(1 - x) as cbce__log1p_dd(-x) for x <= 1/4 (its k = 0
 *   range: its polynomial is accurate only for arguments above ~ -0.646, not on all of
 *   (-1, 0]), else as log_dd(h) + l/h with h + l = 1 - x exactly (two_sum; the dropped
 *   -(l/h)^2/2 is below 2^-106), x = 1 selecting the clamp value directly; relative error
 *   <= 2^-57 each.  The clamp at -100 is applied to the double-double value.  y*log x + q*log(1 - x) is a sum of
 *   two non-positive terms (no cancellation), times -w, rounded once.
 *   x - y and 1 - x by two_sum (exact), x(1 - x) by an exact product (relative u^2), the
 *   quotient by one corrected division, times m + ml (the multiplier as a double-double),
 *   rounded once.  y and q are the smoothed
 *   targets rounded to double (exact for hard labels without smoothing).
 */
CBCE__INLINE cbce__f2 cbce__probs_clamp(cbce__f2 v)
{
    cbce__f2 c = {-100.0, 0.0};
    return cbce__sel_f2(v.hi < -100.0 || (v.hi == -100.0 && v.lo < 0.0), c, v);
}

/* (w + wl) * (s.hi + s.lo) rounded once (wl: the low part of a multiplier, or 0); where
 * that is not finite (an infinite or huge w makes two_prod's low part inf - inf = NaN)
 * the plain product, which is then the right inf. */
CBCE__INLINE double cbce__probs_scale(double w, double wl, cbce__f2 s)
{
    cbce__f2 ww = {w, wl}, v = cbce__mul_f2(ww, s);
    double r = v.hi + v.lo;
    return r == r ? r : w * (s.hi + s.lo);
}

/* ls: label_smoothing.  A subnormal one (`sub`) is lost in keep = 1 - ls (1 in double) and
 * halves inexactly on the subnormal grid (to 0 for the smallest), and the terms it brings
 * are subnormal too (or, in the hessian, divided by den^2 up to 10^24).  There y = tr + dy,
 * q = (1 - tr) - dy with dy = ls (1/2 - tr), and the loss, gradient and hessian are linear
 * in dy (up to dy^2 terms): y and q are taken as tr and 1 - tr, and the dy terms are added
 * from ds = dy * 2^600 (ls * 2^600 exact, one rounding) and scaled back last.  A normal ls
 * takes the plain path. */
CBCE__INLINE void cbce__probs_x(int want, double x, double tr, double w, double m, double ml,
                                double keep, double half, double ls, double *l, double *g,
                                double *h)
{
    const double eps = (double)1e-12f; /* PyTorch's EPSILON, see CBCE__ELEM_PROBS */
    int sub = ls > 0 && ls < 0x1p-1022;
    double ds = sub ? (ls * 0x1p600) * (0.5 - tr) : 0.0;
    double y = tr * keep + (sub ? 0.0 : half);
    double q = (1.0 - tr) * keep + (sub ? 0.0 : half);
    if (want & CBCE__LOSS) {
        cbce__f2 mx = {-x, 0.0}, lo = {-100.0, 0.0};
        cbce__f2 omx = cbce__two_sum(1.0, -x);
        cbce__f2 lb = cbce__log_dd(omx.hi);
        cbce__f2 lx = cbce__probs_clamp(cbce__log_dd(x));
        cbce__f2 l1;
        lb = cbce__fast_two_sum(lb.hi, lb.lo + omx.lo / (x == 1.0 ? 1.0 : omx.hi));
        l1 = cbce__sel_f2(x <= 0.25, cbce__log1p_dd(mx, 1.0), lb);
        l1 = cbce__probs_clamp(cbce__sel_f2(x == 1.0, lo, l1));
        cbce__f2 s = cbce__add_f2(cbce__mul_d_f2(y, lx), cbce__mul_d_f2(q, l1));
        /* sub: -w dy (log x - log(1 - x)), one more rounding (<= 1 ulp in all) */
        *l = cbce__probs_scale(-w, 0.0, s) + (sub ? (-w * (ds * (lx.hi - l1.hi))) * 0x1p-600 : 0.0);
    }
    if (want & (CBCE__GRAD | CBCE__HESS)) {
        cbce__f2 r = cbce__two_sum(x, -y);
        cbce__f2 den = cbce__mul_d_f2(x, cbce__two_sum(1.0, -x));
        cbce__f2 ce = {eps, 0.0};
        den = cbce__sel_f2(den.hi < eps, ce, den);
        if (want & CBCE__GRAD) {
            /* For x - y below 2^-900 the division's exact-product correction would fall
             * into the subnormals and lose its low bits: divide 2^600 (x - y) instead,
             * multiply by m and round at that scale, and scale back last (exact unless the
             * result is subnormal, then one rounding onto its grid; scaling the quotient
             * back before the product would lose its low part, up to 3 subnormal ulps). */
            double up = fabs(r.hi) < 0x1p-900 ? 0x1p600 : 1.0;
            cbce__f2 rs = cbce__two_sum(r.hi * up, -(ds * (up * 0x1p-600))), qd; /* - dy */
            rs = cbce__fast_two_sum(rs.hi, rs.lo + r.lo * up);
            qd = cbce__div_f2(rs, den, 1.0 / den.hi);
            *g = cbce__probs_scale(m, ml, qd) / up;
        }
        if (want & CBCE__HESS) {
            /* For |x - y| below 2^-450 with y q below 2^-900, (x - y)^2 would fall into or
             * below the subnormals (0 for a true 3.8e-313): form the
             * numerator at 2^600 (r times 2^300, q times 2^600: exact) and scale back last,
             * like the gradient above. */
            double up = fabs(r.hi) < 0x1p-450 && y * q < 0x1p-900 ? 0x1p300 : 1.0;
            cbce__f2 ru = {r.hi * up, r.lo * up};
            cbce__f2 num = cbce__add_f2(cbce__mul_f2(ru, ru), cbce__two_prod(y, q * up * up));
            cbce__f2 d2 = cbce__mul_f2(den, den);
            /* sub: y q gains dy (1 - 2 tr), (x - y)^2 gains -2 (x - tr) dy */
            *h = cbce__probs_scale(m, ml, cbce__div_f2(num, d2, 1.0 / d2.hi)) / (up * up) +
                 (sub ? (m * ((ds * ((1.0 - 2.0 * tr) - 2.0 * r.hi)) / d2.hi)) * 0x1p-600
                      : 0.0);
        }
    }
}

/*
 * Sigmoid focal loss (Lin et al. 2017; torchvision.ops.sigmoid_focal_loss):
 *   p = sigmoid(x), p_t = p*y + (1-p)*(1-y), a_t = alpha*y + (1-alpha)*(1-y) (1 if no alpha)
 *   loss = w * a_t * (1 - p_t)^gamma * ce,   ce = bce_with_logits(x, y)
 * In log space, with A, B the coefficients of sigmoid(|x|) and sigmoid(-|x|) in 1 - p_t
 * (x >= 0: A = q, B = y; x < 0: A = y, B = q):
 *   1 - p_t = (A + B e) / d,   u = log(1 - p_t) = log(A + B e) - t
 *   (A == 0, a hard label on the right side: u = log B - a - t, exact even where e
 *   underflows), and (1 - p_t)^gamma = F = exp(gamma * u), which is finite with a finite
 *   derivative for every gamma >= 0 (the naive power has an infinite derivative at 0 for
 *   0 < gamma < 1).  ce = A*a + L*t is elem.h's loss with pos_weight 1 (note c = A).
 *   gamma = 0 without alpha is not computed here: focal.c hands it to elem.h's
 *   BCE-with-logits element, so it is bitwise the BCE-with-logits loss, gradient and
 *   hessian, whatever arithmetic elem.h uses.
 * Derivatives, with D = q - y, rho = e / (A + B e) (1/B if A == 0),
 * kappa = (A - B e^2) / (A + B e) (-e if A == 0), sg = +1 for x >= 0, -1 for x < 0:
 *   u'  = D * rho / d                       (= -sigmoid(x) for y = 1, sigmoid(-x) for y = 0)
 *   u'' = -sg * D * rho * kappa / d^2       (= -sigmoid(x) sigmoid(-x) for hard labels)
 *   ce' = g0 = sigmoid(x) - y               (elem.h: q - L s for x >= 0, L s - y for x < 0)
 *   ce'' = L s / d
 *   dloss/dx   = w a_t F (gamma u' ce + g0)
 *   d2loss/dx2 = w a_t F (gamma u' (gamma u' ce + 2 g0) + gamma u'' ce + ce'')
 * u'' was brought to this form because u'' = v''/v - u'^2 (v = 1 - p_t) cancels
 * catastrophically for hard labels at large |x|.  A product gamma * u' * ce is taken as 0
 * where gamma or u' is 0 (x = +inf, y = 0: u' = 0, ce = inf; the limit is 0), which keeps
 * infinite logits at their limits; NaN still propagates through e.  The hessian can be
 * negative (the focal loss is not convex); it is returned as it is.
 */
#define CBCE__ELEM_FOCAL(NAME, R, EXP, LOG, LOG1P)                                         \
    CBCE__INLINE void NAME(int want, R x, R tr, R w, R m, R keep, R half, R alpha,        \
                            int has_alpha, R gamma, double *l, double *g, double *h)       \
    {                                                                                      \
        R y = tr * keep + half;                                                            \
        R q = ((R)1 - tr) * keep + half;                                                   \
        R L = q + y;                                                                       \
        R at = has_alpha ? alpha * y + ((R)1 - alpha) * q : (R)1;                          \
        R a = x < 0 ? -x : x;                                                              \
        R e = EXP(-a);                                                                     \
        R t = LOG1P(e);                                                                    \
        int pos = x >= 0;                                                                  \
        R A = pos ? q : y, B = pos ? y : q;                                                \
        R Be = B * e;                                                                      \
        R u = (A == 0 ? LOG(B) - a : LOG(A + Be)) - t;                                     \
        R F = gamma == 0 ? (R)1 : EXP(gamma * u);                                          \
        R ce = (A == 0 ? (R)0 : A * a) + L * t;                                            \
        if (want & CBCE__LOSS)                                                             \
            *l = (double)(w * (at * F * ce));                                              \
        if (want & (CBCE__GRAD | CBCE__HESS)) {                                            \
            R d = (R)1 + e;                                                                \
            R s = e / d;                                                                   \
            R g0 = pos ? q - L * s : L * s - y;                                            \
            R D = keep * (((R)1 - tr) - tr);                                               \
            R rho = A == 0 ? (R)1 / B : e / (A + Be);                                      \
            R u1 = D * rho / d;                                                            \
            R gu = (gamma == 0 || u1 == 0) ? (R)0 : gamma * u1 * ce;                       \
            if (want & CBCE__GRAD)                                                         \
                *g = (double)(m * (at * F * (gu + g0)));                                   \
            if (want & CBCE__HESS) {                                                       \
                R kappa = A == 0 ? -e : (A - Be * e) / (A + Be);                           \
                R u2 = (pos ? -D : D) * rho * kappa / (d * d);                             \
                R h1 = (gamma == 0 || u1 == 0) ? (R)0 : gamma * u1 * (gu + 2 * g0);        \
                R h2 = (gamma == 0 || u2 == 0) ? (R)0 : gamma * u2 * ce;                   \
                *h = (double)(m * (at * F * (h1 + h2 + L * s / d)));                       \
            }                                                                              \
        }                                                                                  \
    }

/* The "d" path on fastmath.h's branch-free double primitives (relative errors ~4-5u, far
 * below a float32 ulp), so the float32 focal loops vectorise.  Every EXP argument in the
 * focal element is <= 0 (-|x|, gamma * log(1 - p_t)); a rounding above 0 is taken as 0. */
CBCE__INLINE double cbce__fam_exp_d(double v)
{
    double a = -v;
    return cbce__exp_neg_d(a < 0 ? 0.0 : a);
}
CBCE__ELEM_FOCAL(cbce__focal_d, double, cbce__fam_exp_d, cbce__log_d, cbce__log1p_d)

/*
 * The float64 focal element in double-double (the formulas above; elem.h's "x" path is the
 * model: exp(-a) = E*sc with sc = 1 unless e < 2^-900, t = T*sc, each output rounded once
 * by cbce__round_f2s).  Each output is at*F*(X + Y*sc): X the terms without e (true scale),
 * Y those proportional to e (scaled like E; they are all small where sc < 1):
 *   loss      X = A*a    Y = L*T
 *   gradient  X = q or -y (g0's constant)     Y = gu1*C -+ L*s
 *   hessian   X = 0      Y = gu1*(2 g0 + gu1 C) + gu2*C + L*s/d   (sr folded in, see below)
 * with gu1 = gamma u'/sr, gu2 = gamma u''/sr: sr = sc for A > 0 (there rho = e/(A + B e)
 * is proportional to e: rho/sc = (E/sc)/S, S = A/sc + B E), sr = 1 for A == 0 (rho = 1/B,
 * u'' proportional to e); C is ce in the matching scale: A*a + L*T*sc for A > 0, L*T for
 * A == 0 (where A*a = 0).
 * u = log(S) + log(sc) - t, or for A == 0 u = log(B) - a - t (exact for any a); the log of a
 * double-double v is log_dd(v.hi) + v.lo/v.hi (the dropped (lo/hi)^2/2 < 2^-106).
 * F = exp(g), g = gamma*u = h + l (double-double, h <= 0): exp(h) by cbce__exp_neg_dd(-h)
 * (scaled by scF when F < 2^-900), times 1 + l (|l| <= 2^-53 |h|: l^2/2 is below 2^-106
 * wherever F is not 0).  F = 0 where -h > 1100 (exp_neg_dd's clamp: true F < e^-1100, so a
 * result is lost only if below e^-1100 * |X + Y sc|); F = 1 where gamma = 0.  Beyond
 * a = 1100 the Y terms (<= e^-1100 * a * O(gamma^2)) are taken as 0: this also gives the
 * limits at infinite x (gamma * u' * ce = 0 there, not 0 * inf).
 * Final: w or m times the rounding of at*F*(X + Y*sc) (cbce__focal_round).
 * Error budget (relative, before the final rounding): exp, log1p, log 2^-57 each.  u's
 * error is absolute: log's 2^-58.5 (+ 2^-104 |u|) and t's 2^-57.5, so ~2^-57; F = exp(g)
 * has gamma times that, relative, plus exp's own 2^-57: ~2^-56 at gamma = 1, ~2^-54.7 at
 * gamma = 3.7 (it grows with gamma); ce, u', u'', at and the products and quotients a few
 * 2^-104 each.  So the loss and the hard-label gradient (its two terms have the same sign)
 * are within 0.5 + ~0.3 ulp for gamma <= 4, soft-label gradients and hessians within
 * ~0.3 ulp of their largest term plus the rounding (measured: tests/test_focal.py).  |x| > 2^995 (beyond Dekker's split): the loss is (2^100 at F) times
 * 2^-100 A a, both exact (or that at 2^-100 when it is above 2^1000).  The weight w and
 * the gradient multiplier m + ml enter the one rounding: their significands (in [1, 2)) are
 * factors of P, their powers of two scale the rounded result (exact unless it is subnormal:
 * then one more rounding, on the subnormal grid, far below its ulp).
 */
/* v = vm 2^k with 1 <= |vm| < 2: returns 2^k and sets *vm (k = 0 for a zero, subnormal,
 * infinite or NaN v: vm = v). */
CBCE__INLINE double cbce__focal_pow2(double v, double *vm)
{
    uint64_t b = cbce__to_bits(v) & 0x7ff0000000000000u;
    double p = (b == 0 || b == 0x7ff0000000000000u) ? 1.0 : cbce__from_bits(b);
    *vm = v / p;
    return p;
}

CBCE__INLINE cbce__f2 cbce__focal_log_f2(cbce__f2 v)
{
    cbce__f2 r = cbce__log_dd(v.hi);
    return cbce__fast_two_sum(r.hi, r.lo + v.lo / v.hi);
}

/* The rounding of P*(X + Y*sce)*scF, P = at*F (scF < 1: F < 2^-900 or a_t < 2^-800 were
 * scaled up): by cbce__round_f2s with sce where scF = 1; else, or where P*X < 2^-900 (P is
 * then scaled by 2^200 more, so that no product falls below 2^-969, where two_prod's low
 * part would differ between FMA and Dekker), as P*(X + Y*sce) in the scale scF (2^-200 scF):
 * the rounding of Y*sce is then below 2^-1275 of the true scale.  fb (the plain value) where
 * that is not finite (an infinite part gives NaN in two_prod). */
CBCE__INLINE double cbce__focal_round(cbce__f2 P, cbce__f2 X, cbce__f2 Y, double sce,
                                      double isce, double scF, double iscF, double fb)
{
    const cbce__f2 zero = {0.0, 0.0};
    int up = fabs(P.hi * X.hi) < (scF >= 0x1p-800 ? 0x1p-900 : 0.0);
    double s1 = up ? scF * 0x1p-200 : scF, is1 = up ? iscF * 0x1p200 : iscF;
    int one = s1 == 1.0; /* (int flags combined by && or || stop GCC's vectoriser) */
    cbce__f2 Pu = up ? cbce__mul_pow2_f2(P, 0x1p200) : P;
    cbce__f2 PX = cbce__mul_f2(Pu, X), PY = cbce__mul_f2(Pu, Y);
    cbce__f2 small = cbce__sel_f2(one, PY, cbce__add_f2(PX, cbce__mul_pow2_f2(PY, sce)));
    double r = cbce__round_f2s(cbce__sel_f2(one, PX, zero), small, one ? sce : s1,
                               one ? isce : is1);
    return r == r ? r : fb;
}

CBCE__INLINE void cbce__focal_x(int want, double x, double tr, double w, double m, double ml,
                                double keep, double half, double alpha, int has_alpha,
                                double gamma, double *l, double *g, double *h)
{
    const cbce__f2 zero = {0.0, 0.0}, one = {1.0, 0.0};
    cbce__f2 y = cbce__add_d_f2(half, cbce__two_prod(tr, keep));
    cbce__f2 q = cbce__add_d_f2(half, cbce__mul_d_f2(keep, cbce__two_sum(1.0, -tr)));
    cbce__f2 L = cbce__add_f2(q, y);
    cbce__f2 P = has_alpha ? cbce__add_f2(cbce__mul_d_f2(alpha, y),
                                          cbce__mul_f2(cbce__two_sum(1.0, -alpha), q))
                           : one; /* a_t, then a_t * F */
    double a = x < 0 ? -x : x, sce, isce, scF, iscF, mm, sr, ath, Fd;
    int pos = x >= 0, huge = a > 0x1p995, far = a > 1100.0;
    cbce__f2 E = cbce__exp_neg_dd(a, &sce, &isce), T = cbce__log1p_dd(E, sce);
    cbce__f2 A = cbce__sel_f2(pos, q, y), B = cbce__sel_f2(pos, y, q);
    cbce__f2 BE = cbce__mul_f2(B, E), As = cbce__mul_pow2_f2(A, isce);
    cbce__f2 S = cbce__add_f2(As, BE); /* (A + B e)/sc */
    cbce__f2 ma = {-a, 0.0}, tt = {T.hi * sce, T.lo * sce}, lsc, u, gu, F, Aa, LT, C;
    int A0 = A.hi == 0;
    /* u = log(S) - m ln2 - t (sc = 2^-m, m from the bits of 1/sc), or log(B) - a - t */
    mm = cbce__from_bits((cbce__to_bits(isce) >> 52) | 0x4330000000000000u) - (0x1p52 + 1023.0);
    lsc = cbce__two_sum(-mm * CBCE__LN2_C1, -mm * CBCE__LN2_C2); /* both exact */
    lsc = cbce__sel_f2(A0, ma, cbce__fast_two_sum(lsc.hi, lsc.lo - mm * CBCE__LN2_C3));
    u = cbce__add_f2(cbce__add_f2(cbce__focal_log_f2(cbce__sel_f2(A0, B, S)), lsc),
                     cbce__neg_f2(tt));
    /* F = exp(gamma u) = exp(h) (1 + l); A == 0 at infinite x: u = -inf (the sums gave NaN) */
    gu = cbce__mul_d_f2(gamma, u);
    F = cbce__exp_neg_dd(-gu.hi, &scF, &iscF);
    F = cbce__fast_two_sum(F.hi, F.lo + F.hi * gu.lo);
    F = cbce__sel_f2(gamma * u.hi < -1100.0, zero, F);
    F = cbce__sel_f2((A0 ? a : 0.0) > DBL_MAX, zero, F);
    F = cbce__sel_f2(gamma == 0, one, F);
    scF = gamma == 0 ? 1.0 : scF;
    iscF = gamma == 0 ? 1.0 : iscF;
    /* P = a_t F; a_t < 2^-800 (a tiny label) is scaled by 2^200 first, like F.  For the
     * fallbacks (infinite parts), plain a_t and F, a flushed F as 1 (its sign) */
    ath = P.hi;
    Fd = F.hi * scF;
    Fd = Fd == 0 ? 1.0 : Fd;
    scF = fabs(P.hi) < 0x1p-800 ? scF * 0x1p-200 : scF;
    iscF = fabs(P.hi) < 0x1p-800 ? iscF * 0x1p200 : iscF;
    P = cbce__mul_f2(fabs(P.hi) < 0x1p-800 ? cbce__mul_pow2_f2(P, 0x1p200) : P, F);
    /* A*a exactly (2^-100 A*a for |x| > 2^995, beyond Dekker's split: the loss is then
     * (2^100 at F) (2^-100 A a), and the Y terms using it are 0); 0 where A == 0 */
    Aa = cbce__mul_d_f2(huge ? a * 0x1p-100 : a, A);
    Aa.hi = a > DBL_MAX ? A.hi * a : Aa.hi;
    Aa.lo = a > DBL_MAX ? 0.0 : Aa.lo;
    Aa = cbce__sel_f2(A0, zero, Aa);
    LT = cbce__mul_f2(L, T);
    if (want & CBCE__LOSS) {
        /* |x| > 2^995: rounded as (2^100 P)(2^-100 A a) if that is below 2^900 (no overflow
         * in two_prod), else at 2^-100 and scaled back (exact) */
        int down = fabs(huge ? P.hi * Aa.hi * scF : 0.0) > 0x1p900; /* a_t < 0 too */
        double wm, wp = cbce__focal_pow2(w, &wm);
        double fb = wm * (ath * (Fd * ((A0 ? 0.0 : A.hi * a) + LT.hi * sce)));
        cbce__f2 Pw = cbce__mul_d_f2(wm, huge && !down ? cbce__mul_pow2_f2(P, 0x1p100) : P);
        double r = cbce__focal_round(Pw, Aa, LT, sce, isce, scF, iscF,
                                     down ? fb * 0x1p-100 : fb);
        *l = down ? (r * wp) * 0x1p100 : r * wp; /* (r * wp: no overflow in between) */
    }
    if (want & (CBCE__GRAD | CBCE__HESS)) {
        cbce__f2 d = cbce__two_sum(1.0, E.hi * sce); /* 1 + e, true scale */
        double inv, iS = 1.0 / S.hi;
        cbce__f2 s, Ls, rho, gu1, g0X, G, D, Pm;
        double mm, mp = cbce__focal_pow2(m, &mm);
        cbce__f2 M = {mm, ml / mp};
        Pm = cbce__mul_f2(P, M);
        d = cbce__fast_two_sum(d.hi, d.lo + E.lo * sce);
        inv = 1.0 / d.hi;
        s = cbce__div_f2(E, d, inv); /* e/(1+e), scaled like E */
        Ls = cbce__mul_f2(L, s);
        sr = A0 ? 1.0 : isce; /* rho / sr */
        rho = cbce__div_f2(cbce__mul_pow2_f2(E, sr), S, iS);
        D = cbce__mul_d_f2(keep, cbce__two_sum(1.0, -2.0 * tr)); /* q - y */
        gu1 = cbce__mul_d_f2(gamma, cbce__div_f2(cbce__mul_f2(D, rho), d, inv));
        C = cbce__sel_f2(A0, LT, cbce__add_f2(Aa, cbce__mul_pow2_f2(LT, sce)));
        g0X = cbce__sel_f2(pos, q, cbce__neg_f2(y));
        G = cbce__add_f2(cbce__mul_f2(gu1, C), cbce__sel_f2(pos, cbce__neg_f2(Ls), Ls));
        G = cbce__sel_f2(far, zero, G);
        if (want & CBCE__GRAD) {
            *g = mp * cbce__focal_round(Pm, g0X, G, sce, isce, scF, iscF,
                                        mm * (ath * (Fd * (g0X.hi + G.hi * sce))));
        }
        if (want & CBCE__HESS) {
            /* gu2 = -sg gamma D rho kappa / d^2, kappa = (A/sc - B E e)/S; gu1's bracket
             * 2 g0 + gu1 C = 2 g0X + (G + g0Y)*sr (g0X = 0 where A == 0) */
            cbce__f2 et = {E.hi * sce, E.lo * sce}, gu2, Y;
            cbce__f2 kap = cbce__div_f2(cbce__add_f2(As, cbce__neg_f2(cbce__mul_f2(BE, et))),
                                        S, iS);
            cbce__f2 G2 = cbce__add_f2(G, cbce__sel_f2(pos, cbce__neg_f2(Ls), Ls));
            gu2 = cbce__mul_f2(cbce__mul_d_f2(pos ? -gamma : gamma, D), cbce__mul_f2(rho, kap));
            gu2 = cbce__div_f2(cbce__div_f2(gu2, d, inv), d, inv);
            G2 = cbce__sel_f2(A0, G2, cbce__add_f2(cbce__mul_pow2_f2(g0X, 2.0),
                                                   cbce__mul_pow2_f2(G2, sce)));
            Y = cbce__add_f2(cbce__add_f2(cbce__mul_f2(gu1, G2), cbce__mul_f2(gu2, C)),
                             cbce__div_f2(Ls, d, inv));
            Y = cbce__sel_f2(far, zero, Y);
            *h = mp * cbce__focal_round(Pm, zero, Y, sce, isce, scF, iscF,
                                        mm * (ath * (Fd * (Y.hi * sce))));
        }
    }
}

#endif
