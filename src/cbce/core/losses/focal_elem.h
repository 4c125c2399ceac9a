/*
 * focal_elem.h -- per-element arithmetic of the sigmoid focal loss, in two precisions (as
 * logits_elem.h does for BCE with logits):
 *   "D" path: R = double (float32 data), rounded once to float: <= 0.5 ulp + 2^-29;
 *   "X" path: float64 data, in double-double on math/scalar.h's primitives.
 * The "D" path is a macro body; the "X" path is its own function (double-double arithmetic
 * cannot share a body with double), with the same formulas.
 */
#ifndef CBCE_FOCAL_ELEM_H
#define CBCE_FOCAL_ELEM_H

#include <math.h>
#include "losses/logits_elem.h"

#ifndef CBCE__INLINE /* math/scalar.h's (always_inline: GCC gives up inlining by size) */
#define CBCE__INLINE static inline
#endif

/*
 * Notation shared with logits_elem.h: a = |x|, e = exp(-a) in (0, 1], t = log1p(e) in
 * [0, ln 2], d = 1 + e, s = e/d = sigmoid(-|x|), y the smoothed target, q = 1 - y computed
 * from the raw target (never as 1 - y, which cancels), L = q + y (1 up to rounding).
 */

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
 *   0 < gamma < 1).  ce = A*a + L*t is logits_elem.h's loss with pos_weight 1 (note c = A).
 *   gamma = 0 without alpha is not computed here: focal.c hands it to logits_elem.h's
 *   BCE-with-logits element, so it is bitwise the BCE-with-logits loss, gradient and
 *   hessian, whatever arithmetic logits_elem.h uses.
 * Derivatives, with D = q - y, rho = e / (A + B e) (1/B if A == 0),
 * kappa = (A - B e^2) / (A + B e) (-e if A == 0), sg = +1 for x >= 0, -1 for x < 0:
 *   u'  = D * rho / d                       (= -sigmoid(x) for y = 1, sigmoid(-x) for y = 0)
 *   u'' = -sg * D * rho * kappa / d^2       (= -sigmoid(x) sigmoid(-x) for hard labels)
 *   ce' = g0 = sigmoid(x) - y               (logits_elem.h: q - L s for x >= 0,
 *                                            L s - y for x < 0)
 *   ce'' = L s / d
 *   dloss/dx   = w a_t F (gamma u' ce + g0)
 *   d2loss/dx2 = w a_t F (gamma u' (gamma u' ce + 2 g0) + gamma u'' ce + ce'')
 * u'' was brought to this form because u'' = v''/v - u'^2 (v = 1 - p_t) cancels
 * catastrophically for hard labels at large |x|.  Where ce is infinite the loss is
 * a_t * ce (CBCE__LOSS_F).  A product gamma * u' * ce is taken as 0 where gamma or u' is 0
 * (x = +inf, y = 0: u' = 0, ce = inf; the limit is 0), which keeps infinite logits at
 * their limits; NaN still propagates through e.  The hessian can be negative (the focal
 * loss is not convex); it is returned as it is.
 */
/* The focusing terms of the derivatives (the formulas above), as declarations of type R
 * from the names A, B, Be, e, d, D, pos, gamma, ce and g0 in scope (the focal and Poly-1
 * elements share them): rho, u1 = u', gu = gamma u' ce; kappa, u2 = u'', h1, h2. */
#define CBCE__FOCAL_GRAD_TERMS(R)                                                          \
    R rho = A == 0 ? (R)1 / B : e / (A + Be);                                              \
    R u1 = D * rho / d;                                                                    \
    R gu = (gamma == 0 || u1 == 0) ? (R)0 : gamma * u1 * ce;
#define CBCE__FOCAL_HESS_TERMS(R)                                                          \
    R kappa = A == 0 ? -e : (A - Be * e) / (A + Be);                                       \
    R u2 = (pos ? -D : D) * rho * kappa / (d * d);                                         \
    R h1 = (gamma == 0 || u1 == 0) ? (R)0 : gamma * u1 * (gu + 2 * g0);                    \
    R h2 = (gamma == 0 || u2 == 0) ? (R)0 : gamma * u2 * ce;

/* The focusing factor of the loss: 1 where ce is infinite (an infinite logit on the wrong
 * side of a target A > 0), else F.  There u is finite, so the true F > 0, but exp(gamma u)
 * may underflow to 0 in the working precision (0 * inf = NaN). */
#define CBCE__LOSS_F(R, F, ce) ((ce) == (R)HUGE_VAL ? (R)1 : (F))

/* The "d" path's exp on math/scalar.h's branch-free double primitives (relative errors
 * ~4-5u, far below a float32 ulp), so the float32 loops vectorise.  Every EXP argument in
 * the focal-type elements is <= 0 (-|x|, gamma * log(1 - p_t)); a rounding above 0 is taken
 * as 0. */
CBCE__INLINE double cbce__fam_exp_d(double v)
{
    double a = -v;
    return cbce__exp_neg_d(a < 0 ? 0.0 : a);
}

/* 1 - e for e = exp(-a), the factor of 1 - 2 sigmoid(x) in the Poly-1 and asymmetric
 * hessians (the whole hessian of Poly-1 focal with alpha 0 and gamma 0, so its relative
 * error counts): in double for float32 results, branch-free unlike a call of expm1.  For
 * a >= 2^-10, 1 - e is within 2^-40 relative (e's few-ulp error over 1 - e >= 2^-10.5);
 * below, a (1 - a (1/2 - a/6)) is within a^3/24 <= 2^-34 relative.  By expm1 in long
 * double. */
#define CBCE__ONEM_D(a, e) \
    ((a) < 0x1p-10 ? (a) * (1.0 - (a) * (0.5 - (a) * (1.0 / 6.0))) : 1.0 - (e))
#define CBCE__ONEM_X(a, e) (-expm1l(-(a)))

/* The focal, Poly-1 and Poly-1 focal element on the "D" path (the formulas above and
 * poly1.c's; the focal loss is p = 1, eps = 0): their float32 chunk steps (the loss of the
 * driver's exact sums) and the rare lanes of their span kernels, so that both compute the
 * same arithmetic. */
#define CBCE__ELEM_POLY1(NAME, R, EXP, ONEM, LOG, LOG1P)                                  \
    CBCE__INLINE void NAME(int want, R x, R tr, R p, R w, R m, R keep, R half, R eps,      \
                           R alpha, int has_alpha, R gamma, double *l, double *g,          \
                           double *h)                                                      \
    {                                                                                      \
        R y = tr * keep + half;                                                            \
        R q = ((R)1 - tr) * keep + half;                                                   \
        R py = p * y, L = q + py;                                                          \
        R at = has_alpha ? alpha * y + ((R)1 - alpha) * q : (R)1;                          \
        R a = x < 0 ? -x : x;                                                              \
        R e = EXP(-a), t = LOG1P(e), d = (R)1 + e, s = e / d, r = (R)1 / d;                \
        int pos = x >= 0;                                                                  \
        R A = pos ? q : y, B = pos ? y : q, Be = B * e;                                    \
        R v = (A + Be) / d;                                                                \
        R F = EXP(gamma == 0 ? (R)0 : gamma * ((A == 0 ? LOG(B) - a : LOG(A + Be)) - t)); \
        R c = pos ? q : py;                                                                \
        R ce = (c == 0 ? (R)0 : c * a) + L * t;                                            \
        if (want & CBCE__LOSS)                                                             \
            *l = (double)(w * (CBCE__LOSS_F(R, F, ce) * (at * ce + eps * v)));             \
        if (want & (CBCE__GRAD | CBCE__HESS)) {                                            \
            R g0 = pos ? q - L * s : L * s - py;                                           \
            R D = keep * (((R)1 - tr) - tr);                                               \
            R vp = D * (r * s);                                                            \
            CBCE__FOCAL_GRAD_TERMS(R)                                                      \
            R G1 = gamma + 1;                                                              \
            if (want & CBCE__GRAD)                                                         \
                *g = (double)(m * (F * (at * (gu + g0) + eps * G1 * vp)));                 \
            if (want & CBCE__HESS) {                                                       \
                CBCE__FOCAL_HESS_TERMS(R)                                                  \
                R om = ONEM(a, e) / d;                                                     \
                R vpp = vp * (pos ? -om : om);                                             \
                R hv = (gamma == 0 || u1 == 0) ? vpp : gamma * u1 * vp + vpp;              \
                *h = (double)(m * (F * (at * (h1 + h2 + L * s * r) + eps * G1 * hv)));     \
            }                                                                              \
        }                                                                                  \
    }

CBCE__ELEM_POLY1(cbce__poly1_d, double, cbce__fam_exp_d, CBCE__ONEM_D, cbce__log_d,
                 cbce__log1p_d)

/*
 * The float64 focal element in double-double (the formulas above; logits_elem.h's "x" path
 * is the model: exp(-a) = E*sc with sc = 1 unless e < 2^-900, t = T*sc, each output
 * rounded once by cbce__round_f2s).  Each output is at*F*(X + Y*sc): X the terms without
 * e (true scale), Y those proportional to e (scaled like E; they are all small where
 * sc < 1):
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
 * ~0.3 ulp of their largest term plus the rounding (measured: tests/test_focal.py).
 * |x| > 2^995 (beyond Dekker's split): the loss is (2^100 at F) times 2^-100 A a, both
 * exact (or that at 2^-100 when it is above 2^1000).  The weight w and
 * the gradient multiplier m + ml enter the one rounding: their significands (in [1, 2)) are
 * factors of P, their powers of two p scale the rounded result r (exact unless r p is
 * subnormal; where r is, the rounding is done again with p in P: cbce__focal_round_pow2).
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

/* cbce__focal_round(P, ...) times the power of two p: r p, where that is exact or a
 * rounding of a normal r (r's error is 2^-53 of its ulp, far below r p's); where r is below
 * 2^-1021 (rounded on the subnormal grid: p would scale that rounding, or round again), P p
 * is rounded instead, if it stays within [2^-969, 2^1000] (exact, its low part normal). */
#if defined(__GNUC__)
__attribute__((unused, noinline)) /* one copy of cbce__focal_round's two calls */
#endif
static double cbce__focal_round_pow2(cbce__f2 P, double p, cbce__f2 X, cbce__f2 Y,
                                     double sce, double isce, double scF, double iscF,
                                     double fb)
{
    double r = cbce__focal_round(P, X, Y, sce, isce, scF, iscF, fb), Pp = fabs(P.hi * p);
    if (p != 1.0 && fabs(r) < 0x1p-1021 && Pp >= 0x1p-969 && Pp <= 0x1p1000)
        return cbce__focal_round(cbce__mul_pow2_f2(P, p), X, Y, sce, isce, scF, iscF, fb * p);
    return r * p;
}

/* The focusing factor F = (1 - p_t)^gamma = exp(gamma u) (the notes above), in the scale
 * *scF (1/scF in *iscF, both 1 unless F < 2^-900): u = log(S) - m ln2 - t (sc = 2^-m, m
 * from the bits of isce = 1/sc; tt = t), or log(B) - a - t where A == 0 (A0). */
CBCE__INLINE cbce__f2 cbce__focal_factor_x(double gamma, double a, int A0, cbce__f2 B,
                                           cbce__f2 S, double isce, cbce__f2 tt, double *scF,
                                           double *iscF)
{
    const cbce__f2 zero = {0.0, 0.0}, one = {1.0, 0.0}, ma = {-a, 0.0};
    double mm = cbce__from_bits((cbce__to_bits(isce) >> 52) | 0x4330000000000000u) -
                (0x1p52 + 1023.0);
    cbce__f2 lsc = cbce__two_sum(-mm * CBCE__LN2_C1, -mm * CBCE__LN2_C2); /* both exact */
    cbce__f2 u, gu, F;
    lsc = cbce__sel_f2(A0, ma, cbce__fast_two_sum(lsc.hi, lsc.lo - mm * CBCE__LN2_C3));
    u = cbce__add_f2(cbce__add_f2(cbce__focal_log_f2(cbce__sel_f2(A0, B, S)), lsc),
                     cbce__neg_f2(tt));
    /* F = exp(gamma u) = exp(h) (1 + l); A == 0 at infinite x: u = -inf (the sums gave NaN) */
    gu = cbce__mul_d_f2(gamma, u);
    F = cbce__exp_neg_dd(-gu.hi, scF, iscF);
    F = cbce__fast_two_sum(F.hi, F.lo + F.hi * gu.lo);
    F = cbce__sel_f2(gamma * u.hi < -1100.0, zero, F);
    F = cbce__sel_f2((A0 ? a : 0.0) > DBL_MAX, zero, F);
    F = cbce__sel_f2(gamma == 0, one, F);
    *scF = gamma == 0 ? 1.0 : *scF;
    *iscF = gamma == 0 ? 1.0 : *iscF;
    return F;
}

/* The modes of cbce__focal_poly_x: the focal loss; Poly-1 with the focal base (the poly term
 * eps v^(gamma+1) added).  (Poly-1 on BCE with logits is logits64.h's.) */
#define CBCE__MODE_FOCAL 0
#define CBCE__MODE_POLY1_FOCAL 1

/* ls: label_smoothing; K = 1 - ls is exact as a pair, so y = tr K + ls/2 and
 * q = (1 - tr) K + ls/2 carry no rounding of K (a rounded 1 - ls cost up to 2.7 ulp).
 * The Poly-1 mode (poly1.c's formulas; mode a constant where inlined): P = F alone, a_t
 * and the poly terms enter X and Y, all in the same scales as above:
 *   v = 1 - p_t: X A/d (0 where |x| > 2^995), Y B E/d;   v' = D s/d: Y only;
 *   gamma u' v' + v'' = v' (gamma u' + (1 - 2 sigmoid(x))), 1 - 2 sigmoid(x) = -+(1 - e)/d
 *   with 1 - e exact as a pair (two_sum), gamma u' = gu1 sr' (sr' = sce for A > 0, 1 for
 *   A == 0: the true scale of gu1 times v' in the scale of Y);
 *   eps (gamma + 1) as an exact pair product.  The extra roundings are a few 2^-104 of
 *   the largest term;
 *   a_t < 2^-800 or > 2^900 (an extreme alpha) is not rescaled as in the focal mode. */
CBCE__INLINE void cbce__focal_poly_x(int mode, int want, double x, double tr, double w,
                                     double m, double ml, double ls, double half, double eps,
                                     double alpha, int has_alpha, double gamma, double *l,
                                     double *g, double *h)
{
    const cbce__f2 zero = {0.0, 0.0}, one = {1.0, 0.0}, K = cbce__two_sum(1.0, -ls);
    const int poly = mode != CBCE__MODE_FOCAL;
    cbce__f2 y = cbce__add_d_f2(half, cbce__mul_d_f2(tr, K));
    cbce__f2 q = cbce__add_d_f2(half, cbce__mul_f2(K, cbce__two_sum(1.0, -tr)));
    cbce__f2 L = cbce__add_f2(q, y);
    cbce__f2 P = has_alpha ? cbce__add_f2(cbce__mul_d_f2(alpha, y),
                                          cbce__mul_f2(cbce__two_sum(1.0, -alpha), q))
                           : one; /* a_t, then a_t * F (F alone in the Poly-1 modes) */
    cbce__f2 AT = P;
    double a = x < 0 ? -x : x, sce, isce, scF = 1.0, iscF = 1.0, sr, ath, Fd;
    int pos = x >= 0, huge = a > 0x1p995, far = a > 1100.0;
    cbce__f2 E = cbce__exp_neg_dd(a, &sce, &isce), T = cbce__log1p_dd(E, sce);
    cbce__f2 A = cbce__sel_f2(pos, q, y), B = cbce__sel_f2(pos, y, q);
    cbce__f2 BE = cbce__mul_f2(B, E), As = cbce__mul_pow2_f2(A, isce);
    cbce__f2 S = cbce__add_f2(As, BE); /* (A + B e)/sc */
    cbce__f2 tt = {T.hi * sce, T.lo * sce}, F = one, Aa, LT, C;
    cbce__f2 d = cbce__two_sum(1.0, E.hi * sce), vX = zero, vY = zero; /* d = 1 + e */
    cbce__f2 eG1 = {eps, 0.0}; /* eps (gamma + 1) */
    int A0 = A.hi == 0;
    double inv;
    F = cbce__focal_factor_x(gamma, a, A0, B, S, isce, tt, &scF, &iscF);
    if (mode == CBCE__MODE_POLY1_FOCAL)
        eG1 = cbce__mul_d_f2(eps, cbce__two_sum(gamma, 1.0));
    /* P = a_t F; a_t < 2^-800 (a tiny label) is scaled by 2^200 first, like F.  For the
     * fallbacks (infinite parts), plain a_t and F, a flushed F as 1 (its sign) */
    ath = poly ? 1.0 : P.hi;
    Fd = F.hi * scF;
    Fd = Fd == 0 ? 1.0 : Fd;
    if (poly) {
        P = F;
    } else {
        scF = fabs(P.hi) < 0x1p-800 ? scF * 0x1p-200 : scF;
        iscF = fabs(P.hi) < 0x1p-800 ? iscF * 0x1p200 : iscF;
        P = cbce__mul_f2(fabs(P.hi) < 0x1p-800 ? cbce__mul_pow2_f2(P, 0x1p200) : P, F);
    }
    /* A*a exactly (2^-100 A*a for |x| > 2^995, beyond Dekker's split: the loss is then
     * (2^100 at F) (2^-100 A a), and the Y terms using it are 0); 0 where A == 0 */
    Aa = cbce__mul_d_f2(huge ? a * 0x1p-100 : a, A);
    Aa.hi = a > DBL_MAX ? A.hi * a : Aa.hi;
    Aa.lo = a > DBL_MAX ? 0.0 : Aa.lo;
    Aa = cbce__sel_f2(A0, zero, Aa);
    LT = cbce__mul_f2(L, T);
    d = cbce__fast_two_sum(d.hi, d.lo + E.lo * sce);
    inv = 1.0 / d.hi;
    if (poly) {
        vX = cbce__div_f2(A, d, inv);
        vY = cbce__div_f2(BE, d, inv);
    }
    if (want & CBCE__LOSS) {
        /* |x| > 2^995: rounded as (2^100 P)(2^-100 A a) if that is below 2^900 (no overflow
         * in two_prod), else at 2^-100 and scaled back (exact) */
        double dn = fabs(huge ? P.hi * Aa.hi * scF : 0.0) > 0x1p900 ? 0x1p-100 : 1.0;
        double wm, wp = cbce__focal_pow2(w, &wm);
        double fbc = (A0 ? 0.0 : A.hi * a) + LT.hi * sce;
        double fbp = poly ? AT.hi * fbc + eps * (vX.hi + vY.hi * sce) : fbc;
        double fb = wm * (ath * (Fd * fbp));
        cbce__f2 Pw = cbce__mul_d_f2(wm, cbce__mul_pow2_f2(P, huge ? 0x1p100 * dn : 1.0));
        cbce__f2 X = Aa, Y = LT;
        double r;
        if (poly) {
            /* the poly term's X part at X's scale (2^-100 A a for |x| > 2^995): where a_t
             * or c is 0 it is the whole loss */
            X = cbce__add_f2(cbce__mul_f2(AT, Aa),
                             cbce__mul_d_f2(eps, huge ? cbce__mul_pow2_f2(vX, 0x1p-100) : vX));
            Y = cbce__add_f2(cbce__mul_f2(AT, LT), cbce__mul_d_f2(eps, vY));
        }
        r = cbce__focal_round_pow2(Pw, wp, X, Y, sce, isce, scF, iscF, fb * dn);
        *l = r * (1.0 / dn); /* (r * wp: no overflow in between) */
    }
    if (want & (CBCE__GRAD | CBCE__HESS)) {
        double iS = 1.0 / S.hi;
        cbce__f2 s, Ls, rho = zero, gu1 = zero, g0X, G, D, Pm, vp = zero, gX, gY;
        double mm, mp = cbce__focal_pow2(m, &mm);
        cbce__f2 M = {mm, ml / mp};
        Pm = cbce__mul_f2(P, M);
        s = cbce__div_f2(E, d, inv); /* e/(1+e), scaled like E */
        Ls = cbce__mul_f2(L, s);
        sr = A0 ? 1.0 : isce; /* rho / sr */
        D = cbce__mul_f2(K, cbce__two_sum(1.0, -2.0 * tr)); /* q - y */
        rho = cbce__div_f2(cbce__mul_pow2_f2(E, sr), S, iS);
        gu1 = cbce__mul_d_f2(gamma, cbce__div_f2(cbce__mul_f2(D, rho), d, inv));
        C = cbce__sel_f2(A0, LT, cbce__add_f2(Aa, cbce__mul_pow2_f2(LT, sce)));
        g0X = cbce__sel_f2(pos, q, cbce__neg_f2(y));
        G = cbce__sel_f2(pos, cbce__neg_f2(Ls), Ls);
        G = cbce__add_f2(cbce__mul_f2(gu1, C), G);
        G = cbce__sel_f2(far, zero, G);
        gX = g0X;
        gY = G;
        if (poly) {
            vp = cbce__div_f2(cbce__mul_f2(D, s), d, inv); /* v' = D s/d, scaled like E */
            gX = cbce__mul_f2(AT, g0X);
            gY = cbce__add_f2(cbce__mul_f2(AT, G), cbce__mul_f2(eG1, vp));
            gY = cbce__sel_f2(far, zero, gY);
        }
        if (want & CBCE__GRAD) {
            *g = cbce__focal_round_pow2(Pm, mp, gX, gY, sce, isce, scF, iscF,
                                        mm * (ath * (Fd * (gX.hi + gY.hi * sce))));
        }
        if (want & CBCE__HESS) {
            /* gu2 = -sg gamma D rho kappa / d^2, kappa = (A/sc - B E e)/S; gu1's bracket
             * 2 g0 + gu1 C = 2 g0X + (G + g0Y)*sr (g0X = 0 where A == 0) */
            cbce__f2 Y = cbce__div_f2(Ls, d, inv);
            {
                cbce__f2 et = {E.hi * sce, E.lo * sce}, gu2;
                cbce__f2 kap = cbce__div_f2(
                    cbce__add_f2(As, cbce__neg_f2(cbce__mul_f2(BE, et))), S, iS);
                cbce__f2 G2 = cbce__add_f2(G, cbce__sel_f2(pos, cbce__neg_f2(Ls), Ls));
                gu2 = cbce__mul_f2(cbce__mul_d_f2(pos ? -gamma : gamma, D),
                                   cbce__mul_f2(rho, kap));
                gu2 = cbce__div_f2(cbce__div_f2(gu2, d, inv), d, inv);
                G2 = cbce__sel_f2(A0, G2, cbce__add_f2(cbce__mul_pow2_f2(g0X, 2.0),
                                                       cbce__mul_pow2_f2(G2, sce)));
                Y = cbce__add_f2(cbce__add_f2(cbce__mul_f2(gu1, G2), cbce__mul_f2(gu2, C)),
                                 Y);
            }
            if (poly) {
                /* eps (gamma + 1) v' (gu1 + (1 - e)/d), the product by 1 - e last (for a
                 * subnormal x, 1 - e is subnormal and (1 - e)/d would round on the
                 * subnormal grid before the one rounding) */
                cbce__f2 ev = cbce__mul_f2(eG1, vp), om = cbce__two_sum(1.0, -E.hi * sce);
                om = cbce__fast_two_sum(om.hi, om.lo - E.lo * sce); /* 1 - e */
                om = cbce__mul_f2(cbce__div_f2(ev, d, inv), om);
                om = cbce__sel_f2(pos, cbce__neg_f2(om), om);
                om = cbce__add_f2(cbce__mul_f2(ev, cbce__mul_pow2_f2(gu1, A0 ? 1.0 : sce)), om);
                Y = cbce__add_f2(cbce__mul_f2(AT, Y), om);
            }
            Y = cbce__sel_f2(far, zero, Y);
            *h = cbce__focal_round_pow2(Pm, mp, zero, Y, sce, isce, scF, iscF,
                                        mm * (ath * (Fd * (Y.hi * sce))));
        }
    }
}

#endif
