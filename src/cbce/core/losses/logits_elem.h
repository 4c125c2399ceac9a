/*
 * logits_elem.h -- per-element arithmetic of BCE with logits and of the elementwise helpers
 * (sigmoid, log_sigmoid, softplus), in two precisions:
 *   "d" (cbce__logits_d, cbce__sigmoid_d, ...): double arithmetic, used for float32 data.
 *       Each result is within 2^-37 (relative) of the truth, so the single rounding to
 *       float gives <= 0.5 + 2^-13 ulp (see "The "d" path" below).
 *   "x" (cbce__sigmoid_x, ...; float64 BCE with logits is the vector kernel of logits64.h):
 *       double-double arithmetic in portable C99 (no long double; FMA used only for exact
 *       products), used for float64 data.  Each result is formed as a double-double with
 *       relative error <= ~2^-56 and rounded once: <= 0.5 + ~0.1 ulp.
 * Both are branch-free (selects only) and built on math/scalar.h, so the loops that inline
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
 * The "x" path in double-double: e = exp(-a) comes as hi + lo times a power-of-two scale
 * sc (sc < 1 only when e < 2^-900, to keep products of e out of the subnormal range; see
 * cbce__exp_neg_dd), t = log1p(e) in the same scale; p*y, L, c*a, L*t, s = e/(1+e),
 * s/(1+e) by exact products / one-correction divisions; each output is big + small*sc
 * (big: the terms without e, small: those with e) rounded once by cbce__round_f2s.
 * Why each part is needed: libm exp/log1p in double plus the formula's roundings give
 * 1.5 ulp (docs/numerics.md); with p = 3, p*y is inexact; a subnormal e times L rounds twice.
 * Error budget (relative, before the final rounding): exp 2^-57, log1p 2^-57 (measured
 * against mpmath: 2^-57.3 and 2^-57.1), divisions and products a few 2^-106 each.  The
 * loss is a sum of two terms >= 0, so their relative errors carry over: <= ~2^-56, i.e.
 * <= 0.5 + 0.07 ulp.  Hard-label gradients do not cancel: for y = 0 they are 1 - s (x >= 0)
 * or s (x < 0); for y = 1, -p*s or p*(s - 1), with s = sigmoid(-|x|) <= 1/2, so the result
 * is >= half the larger term.  Soft-label gradients cancel near the root; their error is
 * <= ~2^-56 of max(L*sigmoid, p*y), the scale the contract measures them in.  The hessian is
 * one product of quotients: <= 0.5 + 0.02 ulp.  Measured (tests/c/test_reference.c, every
 * row of the reference CSVs): float64 <= 0.5 ulp for loss and gradient, 0.5125 for the
 * hessian; float32 <= 0.5 everywhere (and <= 0.50005 on 4*10^6 random elements against
 * long double).
 * Limits (documented, not in the reference): pos_weight and |x| * pos_weight below 2^995
 * (Dekker's split); weights w, m multiply the rounded result (a second rounding unless 1);
 * with label smoothing, y and q are rounded doubles (relative 2^-53 each).
 *
 * Also here, for the other loss families, scalar primitives of the same accuracy:
 *   cbce__sigmoid_{d,x}, cbce__log_sigmoid_{d,x}, cbce__softplus_{d,x}   (<= 1 ulp; tested
 *   by tests/c/test_reference.c on the reference columns), and in math/scalar.h
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

/* ---- float64 data: double-double arithmetic ------------------------------------------------ */

/* The float64 BCE-with-logits element is the vector kernel of logits64.h. */

CBCE__INLINE double cbce__sigmoid_x(double x)
{
    const cbce__f2 zero = {0.0, 0.0}, one = {1.0, 0.0};
    double sc, isc;
    cbce__f2 e = cbce__exp_neg_sdd(x < 0 ? -x : x, &sc, &isc);
    cbce__f2 d = cbce__two_sum(1.0, e.hi * sc), s;
    d = cbce__fast_two_sum(d.hi, d.lo + e.lo * sc);
    s = cbce__div_f2(e, d, 1.0 / d.hi);
    return cbce__round_f2s(cbce__sel_f2(x >= 0, one, zero), cbce__sel_f2(x >= 0, cbce__neg_f2(s), s),
                           sc, isc);
}

/* log1p(exp(-|x|)) in the scale *sc (1/sc in *isc): softplus(x) = max(x, 0) + it,
 * log_sigmoid(x) = min(x, 0) - it. */
CBCE__INLINE cbce__f2 cbce__log1p_exp_neg_x(double x, double *sc, double *isc)
{
    cbce__f2 e = cbce__exp_neg_sdd(x < 0 ? -x : x, sc, isc);
    return cbce__log1p_pos_dd(e, *sc, x < 0 ? -x : x);
}

CBCE__INLINE double cbce__log_sigmoid_x(double x)
{
    const cbce__f2 zero = {0.0, 0.0}, xd = {x, 0.0};
    double sc, isc;
    cbce__f2 t = cbce__log1p_exp_neg_x(x, &sc, &isc);
    return cbce__round_f2s(cbce__sel_f2(x < 0, xd, zero), cbce__neg_f2(t), sc, isc);
}

CBCE__INLINE double cbce__softplus_x(double x)
{
    const cbce__f2 zero = {0.0, 0.0}, xd = {x, 0.0};
    double sc, isc;
    cbce__f2 t = cbce__log1p_exp_neg_x(x, &sc, &isc);
    return cbce__round_f2s(cbce__sel_f2(x > 0, xd, zero), t, sc, isc);
}

#endif
