/*
 * logits_elem.h -- per-element arithmetic of BCE with logits and of the elementwise helpers
 * (sigmoid, log_sigmoid, softplus), in two precisions:
 *   "d" (cbce__logits_d, cbce__sigmoid_d, ...): double arithmetic, used for float32 data.
 *       Each result is within 2^-37 (relative) of the truth, so the single rounding to
 *       float gives <= 0.5 + 2^-13 ulp (see "The "d" path" below).
 *   float64 data: the vector kernel of logits64.h (the helpers too: helpers.c).
 * They are branch-free (selects only) and built on math/scalar.h, so the loops that inline
 * them vectorise (-O3 -fno-trapping-math) and give the same bits at every SIMD level.
 *
 * The formulas (docs/numerics.md, Maechler 2012 "Accurately computing log(1-exp(-|a|))"):
 * with a = |x|, e = exp(-a) in (0, 1] (never overflows), t = log1p(e) in [0, ln 2],
 * y the smoothed target, q = 1 - y computed from the raw target (not as 1 - y, which would
 * cancel), p the pos_weight and L = q + p*y >= 0:
 *   loss = c*a + L*t,  c = q for x >= 0, c = p*y for x < 0.
 * Both terms are >= 0, so the sum never cancels (PyTorch's (1-y)*x - log_sigmoid(x) does:
 * at x = -20, y = 0 it returns 0 for 2e-9).  Where c == 0 the term is 0, which gives the
 * limit for infinite logits (x = +inf, y = 1: loss 0, not NaN); NaN still propagates
 * through t.
 *   grad = L*sigmoid(x) - p*y, written as q - L*s for x >= 0 and L*s - p*y for x < 0 with
 *          s = e/(1+e) = sigmoid(-|x|): no 1 - sigmoid(x) is ever formed, so hard labels
 *          lose nothing at large |x|.
 *   hess = L * e/(1+e)^2 = L * s/(1+e)   (never s*(1-s), which cancels).
 *
 * The "d" path in double, built for speed: e = exp(-a) = 2^hn N/D by
 * cbce__exp_neg_f32_nd (relative 2^-38.3; a rational exp whose division is shared; hn = 1
 * when the loss is wanted), then one division per quantity group: u = e/(2+e) = N/(D+N)
 * for t = log1p(e) = cbce__log1p_f32_u(u) (2^-38.4 given u), and with M = 2^hn N,
 * inv = 1/(D+M), r = D*inv = 1/(1+e), s = M*inv = e/(1+e), hess = L*s*r (only what the
 * loop's `want` needs is compiled; two independent divisions measured faster than one
 * shared one).  Error, relative: e's error carries into t, s, r and the hessian with
 * factors <= 1 (t: e/((1+e) t) <= 1; s: 1/(1+e); hess: (1-e)/(1+e)); t adds 2^-38.4,
 * the other operations a few 2^-53 each;
 * the loss is a sum of two terms >= 0 and the hard-label gradients do not cancel (below),
 * so every result is within ~2^-37 of its scale: <= 0.5 + 2^-13 ulp after the rounding to
 * float (soft-label gradients: ulps of max(L*sigmoid(x), p*y)).
 *
 * float64 data: logits64.h has the kernel, its error budget and its measurements.
 *
 * Also here, for the other loss families, scalar primitives of the same accuracy:
 *   cbce__sigmoid_d, cbce__log_sigmoid_d, cbce__softplus_d (float32 results, <= 1 ulp;
 *   tested by tests/c/test_reference.c on the reference columns), and in math/scalar.h
 *   cbce__exp_neg_dd / _d (exp(-a), a >= 0; for focal loss exp(gamma * log(1 - p_t))),
 *   cbce__exp_neg_f32_nd and cbce__log1p_f32_u (only for float32 results: 2^-38),
 *   cbce__log1p_dd (log1p on [-0.646, 1]: log1p(-p) for p <= 0.5), cbce__log_dd / _d (log
 *   of a double >= 0: log(p), and log1p(-p) = log(1 - p) for p > 0.5, 1 - p exact there),
 *   cbce__log1p_d (on [-0.29, 1]), the double-double helpers and cbce__round_f2s.
 *   log(p) and log1p(-p) are tested by the harness against an mpmath table (<= 0.5 ulp).
 */
#ifndef CBCE_ELEM_H
#define CBCE_ELEM_H

#include "math/scalar.h"
#include "internal.h"

/* ---- float32 data: double arithmetic ----------------------------------------------------- */

/* `unit` (a per-chunk constant): no label smoothing and pos_weight 1, so that y = tr,
 * q = 1 - tr (exact: a float32 tr has 24 bits) and L = 1 (exactly: the truth, which the
 * general q + p*y rounds only for |tr| > 2^53); the products by L are then additions of
 * z = 0*tr, which is +-0 for a finite target and NaN for an infinite or NaN one, as L is. */
CBCE__INLINE void cbce__logits_d_impl(int want, int unit, double x, double tr, double p,
                                       double w, double m, double keep, double half,
                                       double *l, double *g, double *h)
{
    double y = unit ? tr : tr * keep + half;                 /* smoothed target */
    double q = unit ? 1.0 - tr : (1.0 - tr) * keep + half;   /* 1 - y, no cancellation */
    double py = unit ? y : p * y;
    double L = q + py, z = 0.0 * tr;
    double a = fabs(x), D;
    int hn = (want & CBCE__LOSS) ? 1 : 0;
    double N = cbce__exp_neg_f32_nd(a, hn, &D); /* e = exp(-a) = 2^hn N/D */
    if (want & CBCE__LOSS) {
        double c = x >= 0 ? q : py;
        double ca = c == 0 ? 0.0 : c * a;
        double t = cbce__log1p_f32_u(N / (D + N));
        *l = w * (ca + (unit ? t + z : L * t));
    }
    if (want & (CBCE__GRAD | CBCE__HESS)) {
        double M = hn ? N + N : N;
        double inv = 1.0 / (D + M);
        double r = D * inv, s = M * inv; /* 1/(1+e), e/(1+e) */
        double Ls = unit ? s + z : L * s;
        if (want & CBCE__GRAD)
            *g = m * (x >= 0 ? q - Ls : Ls - py);
        if (want & CBCE__HESS)
            *h = m * (Ls * r);
    }
}

CBCE__INLINE void cbce__logits_d(int want, double x, double tr, double p, double w, double m,
                                  double keep, double half, double *l, double *g, double *h)
{
    cbce__logits_d_impl(want, 0, x, tr, p, w, m, keep, half, l, g, h);
}

CBCE__INLINE void cbce__logits_d_unit(int want, double x, double tr, double p, double w,
                                       double m, double keep, double half, double *l,
                                       double *g, double *h)
{
    cbce__logits_d_impl(want, 1, x, tr, p, w, m, keep, half, l, g, h);
}

/* sigmoid(x): 1/(1+e) for x >= 0, e/(1+e) for x < 0 (e = N/D: D/(D+N), N/(D+N)) */
CBCE__INLINE double cbce__sigmoid_d(double x)
{
    double D, N = cbce__exp_neg_f32_nd(fabs(x), 0, &D);
    return (x >= 0 ? D : N) / (D + N);
}

/* log_sigmoid(x) = min(x, 0) - log1p(exp(-|x|)): two terms of the same sign */
CBCE__INLINE double cbce__log_sigmoid_d(double x)
{
    double D, N = cbce__exp_neg_f32_nd(fabs(x), 1, &D);
    return (x < 0 ? x : 0.0) - cbce__log1p_f32_u(N / (D + N));
}

/* softplus(x) = log1p(exp(x)) = max(x, 0) + log1p(exp(-|x|)) */
CBCE__INLINE double cbce__softplus_d(double x)
{
    double D, N = cbce__exp_neg_f32_nd(fabs(x), 1, &D);
    return (x > 0 ? x : 0.0) + cbce__log1p_f32_u(N / (D + N));
}

/* float64 data: BCE with logits, and through it the helpers, is the vector kernel of
 * logits64.h (helpers.c). */

#endif
