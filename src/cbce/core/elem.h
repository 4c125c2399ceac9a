/*
 * elem.h -- per-element arithmetic of the losses, from one body in two precisions.
 *
 * CBCE__ELEM_LOGITS(NAME, R, EXP, LOG1P) defines NAME(...) computing in the real type R:
 *   "D" path: R = double (float32 data): each result is within a few 2^-53 of the truth,
 *             and the single rounding to float gives <= 0.5 ulp + 2^-29.
 *   "X" path: R = long double (float64 data): on x86-64 a 64-bit significand, so the
 *             final rounding to double gives <= 0.5 ulp + 2^-11.
 *
 * The formulas (../shared/NUMERICS.md, Maechler 2012 "Accurately computing log(1-exp(-|a|))"):
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
 */
#ifndef CBCE_ELEM_H
#define CBCE_ELEM_H

#include <math.h>
#include "internal.h"

#define CBCE__ELEM_LOGITS(NAME, R, EXP, LOG1P)                                          \
    static inline void NAME(int want, R x, R tr, R p, R w, R m, R keep, R half, double *l,  \
                            double *g, double *h)                                           \
    {                                                                                       \
        R y = tr * keep + half;                 /* smoothed target */                       \
        R q = ((R)1 - tr) * keep + half;        /* 1 - y without cancellation */            \
        R py = p * y;                                                                       \
        R L = q + py;                                                                       \
        R a = x < 0 ? -x : x;                                                               \
        R e = EXP(-a);                                                                      \
        if (want & CBCE__LOSS) {                                                            \
            R c = x >= 0 ? q : py;                                                          \
            R ca = c == 0 ? (R)0 : c * a;                                                   \
            *l = (double)(w * (ca + L * LOG1P(e)));                                         \
        }                                                                                   \
        if (want & (CBCE__GRAD | CBCE__HESS)) {                                             \
            R d = (R)1 + e;                                                                 \
            R s = e / d;                                                                    \
            if (want & CBCE__GRAD)                                                          \
                *g = (double)(m * (x >= 0 ? q - L * s : L * s - py));                      \
            if (want & CBCE__HESS)                                                          \
                *h = (double)(m * (L * s / d));                                             \
        }                                                                                   \
    }

CBCE__ELEM_LOGITS(cbce__logits_d, double, exp, log1p)
CBCE__ELEM_LOGITS(cbce__logits_x, long double, expl, log1pl)

#endif
