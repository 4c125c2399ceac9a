/*
 * poly1.c -- the Poly-1 losses (Leng et al., "PolyLoss", ICLR 2022), binary form, on logits:
 *   poly1:        l = w * (bce_with_logits(x, y; pos_weight) + eps * (1 - p_t))
 *   poly1_focal:  l = w * (a_t (1 - p_t)^gamma bce_with_logits(x, y) + eps (1 - p_t)^(gamma+1))
 * with p_t = y sigmoid(x) + (1 - y) sigmoid(-x), a_t as for the focal loss (1 without alpha),
 * y the smoothed target; the poly term is not weighted by pos_weight.  Label smoothing ls:
 * y = t (1 - ls) + ls/2, q = (1 - t)(1 - ls) + ls/2.
 *
 * Notation as in the focal element: a = |x|, e = exp(-a), t = log1p(e), d = 1 + e,
 * s = e/d = sigmoid(-|x|), r = 1/d = sigmoid(|x|), q = 1 - y from the raw target, and A, B
 * the coefficients of r and s in
 *   v = 1 - p_t = (A + B e)/d       (x >= 0: A = q, B = y; x < 0: A = y, B = q),
 * a sum of terms >= 0, never formed as 1 - p_t.  u = log v = log(A + B e) - t (log B - a - t
 * where A == 0, exact for any a), F = (1 - p_t)^gamma = exp(gamma u), so v^(gamma+1) = F v.
 * ce = c a + L t (c = q for x >= 0, p y for x < 0; L = q + p y) is BCE with logits.
 *   l   = F (a_t ce + eps v)
 *   l'  = F (a_t (gamma u' ce + g0) + eps (gamma + 1) v')
 *   l'' = F (a_t (gamma u' (gamma u' ce + 2 g0) + gamma u'' ce + L s r)
 *            + eps (gamma + 1) (gamma u' v' + v''))
 * with g0 = sigmoid(x) L - p y (q - L s for x >= 0, L s - p y for x < 0), v' = (q - y) r s,
 * v'' = v' (1 - 2 sigmoid(x)), 1 - 2 sigmoid(x) = -+(1 - e)/d (1 - e: CBCE__ONEM_D), and
 * u', u'' as derived for the focal element (u' = v'/v in the form D rho/d, u'' without the
 * cancelling v''/v - u'^2).  Products gamma u' ce are taken as 0 where gamma or u' is 0,
 * which keeps infinite logits at their limits; where ce is infinite the loss is
 * a_t ce + eps v (focal_elem.h's CBCE__LOSS_F).
 *
 * Precision: float32 data in double (the chunk step on math/scalar.h's primitives, relative
 * errors a few 2^-53; the span kernels to ~2^-28), rounded once to float; float64 data in
 * double-double, poly1 by logits64.h's kernel (measured 0.52 ulp, tests/test_poly1.py) and
 * poly1_focal by focal_elem.h's cbce__focal_poly_x (the focal element with the poly terms;
 * 1 - ls an exact pair; relative errors ~2^-56, rounded once), each <= 0.5 + ~0.1 ulp
 * where the result is not a cancelling difference.  Cancelling differences: a negative eps
 * (the bound is then in ulps of the larger of the two terms) and soft-label gradients and
 * hessians (ulps of their largest term), as for the other families.
 */
#include "losses/focal_elem.h"
#include "losses/step.h"

/* poly1: pos_weight from its buffer, no focusing (gamma 0 and no a_t: the focal part is
 * compiled away). */
#define CBCE__POLY1_CALL(ELEM, W, i)                                                       \
    ELEM(W, x[i], t[i], p[i], w[i], m[i], k->keep, k->half, k->par[CBCE__PARAM_epsilon],     \
         0, 0, 0, &l[i], &g[i], &h[i])
#define CBCE__POLY1_D(W, i) CBCE__POLY1_CALL(cbce__poly1_d, W, i)

/* poly1_focal: no pos_weight; alpha NaN drops a_t (Python's alpha=None). */
#define CBCE__POLY1_FOCAL_CALL(ELEM, W, i)                                                 \
    ELEM(W, x[i], t[i], 1, w[i], m[i], k->keep, k->half, k->par[CBCE__PARAM_epsilon],        \
         k->alpha, k->has_alpha, k->gamma, &l[i], &g[i], &h[i])
#define CBCE__POLY1_FOCAL_D(W, i) CBCE__POLY1_FOCAL_CALL(cbce__poly1_d, W, i)

CBCE__FAMILY_LOSS_STEP(poly1_step_d, CBCE__POLY1_D)
CBCE__FAMILY_LOSS_STEP(poly1_focal_step_d, CBCE__POLY1_FOCAL_D)

/* poly1: logits.c's span kernels with the poly terms, on float32 data (BCE with logits'
 * float32 arithmetic, 0.5 + ~2^-4 ulp; the chunk step above serves the driver's exact
 * reduced sums) and on float64 data (logits64.h's, with its careful element as the chunk
 * step). */
void CBCE__ISA_NAME(cbce__poly1_span32)(int want, int reduced, const cbce__span *S,
                                        const cbce__span_consts *k);
void CBCE__ISA_NAME(cbce__poly1_span64)(int want, int reduced, const cbce__span *S,
                                        const cbce__span_consts *k);
void CBCE__ISA_NAME(cbce__poly1_step64)(CBCE__STEP_PARAMS(, k));
CBCE__STEPS(cbce__poly1_steps, poly1_step_d, CBCE__ISA_NAME(cbce__poly1_step64),
            CBCE__ISA_NAME(cbce__poly1_span32), CBCE__ISA_NAME(cbce__poly1_span64));
/* poly1_focal: focal.c's focal-type span kernel on float32 data, focal64.c's chunk step on
 * float64 data. */
void CBCE__ISA_NAME(cbce__poly1_focal_span32)(int want, int reduced, const cbce__span *S,
                                              const cbce__span_consts *k);
void CBCE__ISA_NAME(cbce__poly1_focal_step64)(CBCE__STEP_PARAMS(, k));
CBCE__STEPS(cbce__poly1_focal_steps, poly1_focal_step_d,
            CBCE__ISA_NAME(cbce__poly1_focal_step64), CBCE__ISA_NAME(cbce__poly1_focal_span32),
            NULL);
