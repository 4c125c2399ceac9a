/*
 * elem_family.h -- per-element arithmetic of BCE on probabilities, the sigmoid focal loss
 * and the elementwise helpers, each from one body in two precisions (as elem.h does for
 * BCE with logits):
 *   "D" path: R = double (float32 data), rounded once to float: <= 0.5 ulp + 2^-29;
 *   "X" path: R = long double (float64 data, 64-bit significand on x86-64).
 * Every NAME_d / NAME_x pair below is one macro body instantiated twice.
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
                     const cbce__consts *k0, double *restrict l, double *restrict g,       \
                     double *restrict h)                                                   \
    {                                                                                      \
        size_t i;                                                                          \
        const cbce__consts kc = *k0, *k = &kc;                                             \
        (void)p;                                                                           \
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

#ifdef CBCE__HAVE_ELEMENTWISE
/*
 * The "x" path (float64 data) in double-double on fastmath.h's primitives, branch-free:
 *   log x as cbce__log_dd(x); log(1 - x) as cbce__log1p_dd(-x) for x <= 1/4 (its k = 0
 *   range: its polynomial is accurate only for arguments above ~ -0.646, not on all of
 *   (-1, 0]), else as log_dd(h) + l/h with h + l = 1 - x exactly (two_sum; the dropped
 *   -(l/h)^2/2 is below 2^-106), x = 1 selecting the clamp value directly; relative error
 *   <= 2^-57 each.  The clamp at -100 is applied to the double-double value.  y*log x + q*log(1 - x) is a sum of
 *   two non-positive terms (no cancellation), times -w, rounded once.
 *   x - y and 1 - x by two_sum (exact), x(1 - x) by an exact product (relative u^2), the
 *   quotient by one corrected division, times m, rounded once.  y and q are the smoothed
 *   targets rounded to double (exact for hard labels without smoothing).
 */
CBCE__INLINE cbce__f2 cbce__probs_clamp(cbce__f2 v)
{
    cbce__f2 c = {-100.0, 0.0};
    return cbce__sel_f2(v.hi < -100.0 || (v.hi == -100.0 && v.lo < 0.0), c, v);
}

CBCE__INLINE cbce__f2 cbce__probs_add(cbce__f2 a, cbce__f2 b)
{
    cbce__f2 s = cbce__two_sum(a.hi, b.hi);
    return cbce__fast_two_sum(s.hi, s.lo + (a.lo + b.lo));
}

/* w * (s.hi + s.lo) rounded once; where that is not finite (an infinite or huge w makes
 * two_prod's low part inf - inf = NaN) the plain product, which is then the right inf. */
CBCE__INLINE double cbce__probs_scale(double w, cbce__f2 s)
{
    cbce__f2 v = cbce__mul_d_f2(w, s);
    double r = v.hi + v.lo;
    return r == r ? r : w * (s.hi + s.lo);
}

CBCE__INLINE void cbce__probs_x(int want, double x, double tr, double w, double m, double keep,
                                double half, double *l, double *g, double *h)
{
    const double eps = (double)1e-12f; /* PyTorch's EPSILON, see CBCE__ELEM_PROBS */
    double y = tr * keep + half;
    double q = (1.0 - tr) * keep + half;
    if (want & CBCE__LOSS) {
        cbce__f2 mx = {-x, 0.0}, lo = {-100.0, 0.0};
        cbce__f2 omx = cbce__two_sum(1.0, -x);
        cbce__f2 lb = cbce__log_dd(omx.hi);
        cbce__f2 lx = cbce__probs_clamp(cbce__log_dd(x));
        cbce__f2 l1;
        lb = cbce__fast_two_sum(lb.hi, lb.lo + omx.lo / (x == 1.0 ? 1.0 : omx.hi));
        l1 = cbce__sel_f2(x <= 0.25, cbce__log1p_dd(mx, 1.0), lb);
        l1 = cbce__probs_clamp(cbce__sel_f2(x == 1.0, lo, l1));
        cbce__f2 s = cbce__probs_add(cbce__mul_d_f2(y, lx), cbce__mul_d_f2(q, l1));
        *l = cbce__probs_scale(-w, s);
    }
    if (want & (CBCE__GRAD | CBCE__HESS)) {
        cbce__f2 r = cbce__two_sum(x, -y);
        cbce__f2 den = cbce__mul_d_f2(x, cbce__two_sum(1.0, -x));
        cbce__f2 ce = {eps, 0.0};
        den = cbce__sel_f2(den.hi < eps, ce, den);
        if (want & CBCE__GRAD) {
            /* For x - y below 2^-900 the division's exact-product correction would fall
             * into the subnormals and lose its low bits: divide 2^600 (x - y) instead and
             * scale the quotient back (both exact, powers of two). */
            double up = fabs(r.hi) < 0x1p-900 ? 0x1p600 : 1.0;
            cbce__f2 rs = {r.hi * up, r.lo * up}, qd = cbce__div_f2(rs, den, 1.0 / den.hi);
            qd.hi /= up;
            qd.lo /= up;
            *g = cbce__probs_scale(m, qd);
        }
        if (want & CBCE__HESS) {
            cbce__f2 num = cbce__probs_add(cbce__mul_f2(r, r), cbce__two_prod(y, q));
            cbce__f2 d2 = cbce__mul_f2(den, den);
            *h = cbce__probs_scale(m, cbce__div_f2(num, d2, 1.0 / d2.hi));
        }
    }
}
#else
CBCE__ELEM_PROBS(cbce__probs_x, long double, logl, log1pl, (double)1e-12f)
#endif

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

#ifdef CBCE__HAVE_ELEMENTWISE
/* The "d" path on fastmath.h's branch-free double primitives (relative errors ~4-5u, far
 * below a float32 ulp), so the float32 focal loops vectorise.  Every EXP argument in the
 * focal element is <= 0 (-|x|, gamma * log(1 - p_t)); a rounding above 0 is taken as 0. */
CBCE__INLINE double cbce__fam_exp_d(double v)
{
    double a = -v;
    return cbce__exp_neg_d(a < 0 ? 0.0 : a);
}
CBCE__ELEM_FOCAL(cbce__focal_d, double, cbce__fam_exp_d, cbce__log_d, cbce__log1p_d)
#else
CBCE__ELEM_FOCAL(cbce__focal_d, double, exp, log, log1p)
#endif
CBCE__ELEM_FOCAL(cbce__focal_x, long double, expl, logl, log1pl)

/*
 * The elementwise helpers cbce__sigmoid_{d,x}, cbce__log_sigmoid_{d,x}, cbce__softplus_{d,x}
 * come from elem.h when it provides them (CBCE__HAVE_ELEMENTWISE: branch-free, the "x" ones
 * in double-double, vectorisable); otherwise from this fallback, with the "x" path in long
 * double.  The formulas (NUMERICS.md), with a, e, d, t as above,
 *   sigmoid(x)     = x >= 0 ? 1/d : e/d       (no 1 - sigmoid is ever formed)
 *   log_sigmoid(x) = min(x, 0) - t            (two terms <= 0: no cancellation)
 *   softplus(x)    = max(x, 0) + t            (two terms >= 0)
 * The comparisons are written so that NaN falls into the branch that propagates it, and
 * x = -inf, +inf give the limits (0, 1; -inf, 0; 0, inf).
 */
#define CBCE__ELEM_HELPERS(SIG, LSIG, SOFTP, R, EXP, LOG1P)                                 \
    CBCE__INLINE double SIG(R x)                                                          \
    {                                                                                      \
        R e = EXP(-(x < 0 ? -x : x));                                                      \
        R d = (R)1 + e;                                                                    \
        return (double)(x >= 0 ? (R)1 / d : e / d);                                        \
    }                                                                                      \
    CBCE__INLINE double LSIG(R x)                                                         \
    {                                                                                      \
        R e = EXP(-(x < 0 ? -x : x));                                                      \
        return (double)((x < 0 ? x : (R)0) - LOG1P(e));                                    \
    }                                                                                      \
    CBCE__INLINE double SOFTP(R x)                                                        \
    {                                                                                      \
        R e = EXP(-(x < 0 ? -x : x));                                                      \
        return (double)((x > 0 ? x : (R)0) + LOG1P(e));                                    \
    }

#ifndef CBCE__HAVE_ELEMENTWISE
CBCE__ELEM_HELPERS(cbce__sigmoid_d, cbce__log_sigmoid_d, cbce__softplus_d, double, exp, log1p)
CBCE__ELEM_HELPERS(cbce__sigmoid_x, cbce__log_sigmoid_x, cbce__softplus_x, long double, expl,
                   log1pl)
#endif

#endif
