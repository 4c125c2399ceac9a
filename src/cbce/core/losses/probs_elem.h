/*
 * probs_elem.h -- per-element arithmetic of BCE on probabilities, in two precisions (as
 * logits_elem.h does for BCE with logits):
 *   "D" path: R = double (float32 data), rounded once to float: <= 0.5 ulp + 2^-29;
 *   "X" path: float64 data, in double-double on math/scalar.h's primitives: the careful
 *       element of probs.c's vector step (its rare lanes, a subnormal label_smoothing).
 * The "D" path is a macro body; the "X" path is its own function (double-double arithmetic
 * cannot share a body with double), with the same formulas.
 */
#ifndef CBCE_PROBS_ELEM_H
#define CBCE_PROBS_ELEM_H

#include <math.h>
#include "losses/logits_elem.h"

#ifndef CBCE__INLINE /* math/scalar.h's (always_inline: GCC gives up inlining by size) */
#define CBCE__INLINE static inline
#endif


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
 * Inputs were checked to lie in [0, 1] before any step runs (see probs.c).
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
 * The "x" path (float64 data) in double-double on math/scalar.h's primitives, branch-free:
 *   log x as cbce__log_dd(x); log(1 - x) as cbce__log1p_dd(-x) for x <= 1/4 (its k = 0
 *   range: its polynomial is accurate only for arguments above ~ -0.646, not on all of
 *   (-1, 0]), else as log_dd(h) + l/h with h + l = 1 - x exactly (two_sum; the dropped
 *   -(l/h)^2/2 is below 2^-106), x = 1 selecting the clamp value directly; relative error
 *   <= 2^-57 each.  The clamp at -100 is applied to the double-double value.
 *   y*log x + q*log(1 - x) is a sum of two non-positive terms (no cancellation), times
 *   -w, rounded once.
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
 * the plain product, which is then the right inf.  A subnormal result is formed again
 * with s scaled by 2^600 (exact: |s| < 2^400 here), where the products are exact (a
 * subnormal operand or product loses two_prod's low part: 1.46 ulp was measured without
 * FMA), and rounded once onto the subnormal grid by cbce__round_f2s. */
CBCE__INLINE double cbce__probs_scale(double w, double wl, cbce__f2 s)
{
    cbce__f2 ww = {w, wl}, v = cbce__mul_f2(ww, s);
    double r = v.hi + v.lo;
    if (r != 0 && r > -0x1p-1021 && r < 0x1p-1021) {
        const cbce__f2 zero = {0.0, 0.0};
        cbce__f2 su = {s.hi * 0x1p600, s.lo * 0x1p600};
        double ru = cbce__round_f2s(zero, cbce__mul_f2(ww, su), 0x1p-600, 0x1p600);
        return ru == ru ? ru : r;
    }
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

#endif
