/*
 * asymmetric.c -- the asymmetric loss (Ridnik et al., "Asymmetric Loss For Multi-Label
 * Classification", ICCV 2021) on logits, with p = sigmoid(x), the probability margin
 * pm = max(p - clip, 0) and the raw target y (soft labels: the y-weighted sum of the terms):
 *   l = w * (y (1 - p)^gamma_pos (-log p) + (1 - y) pm^gamma_neg (-log(1 - pm)))
 *
 * In log space, with a = |x|, e = exp(-a), t = log1p(e), d = 1 + e, s = e/d, r = 1/d:
 *   p = r or s and 1 - p = s or r (x >= 0 or x < 0), p' = p (1 - p) = r s,
 *   -log p = softplus(-x) = t or a + t,  log(1 - p) = -a - t or -t,
 *   (1 - p)^gamma_pos = exp(gamma_pos log(1 - p)),  pm^gamma_neg = exp(gamma_neg log pm),
 *   1 - pm = V = (1 - p) + clip (a sum of terms >= 0), -log(1 - pm) = -log1p(-pm) for
 *   pm <= 1/4 (no cancellation near the margin) and -log V above.
 * Derivatives (Fp = (1 - p)^gamma_pos, Ps = p (-log p), Fm = pm^gamma_neg,
 * Q = -log(1 - pm)/pm (1 at pm = 0), R1 = (1 - p)/V (1 for clip = 0)):
 *   positive:  l'  = -Fp (gamma_pos Ps + (1 - p))
 *              l'' = Fp (gamma_pos (gamma_pos p Ps - (1 - p) Ps + 2 p') + p')
 *   negative:  l'  = Fm (gamma_neg Q p' + p R1)
 *              l'' = p' Fm (R1^2 + clip (1 - 2p)/V^2)
 *                    + gamma_neg p' pm^(gamma_neg - 1) ((1 - 2p)(-log V) + (gamma_neg - 1) Q p'
 *                                                       + 2 p R1)
 * (the first line is p' Fm ((1 - 2p) V + p')/V^2 with (1 - 2p) V + p' = (1 - p)^2 + clip (1 - 2p):
 * written so, it does not cancel where p -> 1 and the true value is p' for clip = 0)
 * where the margin is active (p >= clip; at p = clip the one-sided derivative from above),
 * 0 elsewhere.  1 - 2p = -+(1 - e)/d with 1 - e = -expm1(-a).  Products of a 0 factor
 * and an infinite one are taken as 0 (p Ps at p = 0, Q p' at p' = 0), so infinite logits
 * give the limits; the second derivative is +inf at the margin for 0 < gamma_neg < 1 (true).
 * A NaN input reaches every output through z = 0 * e.
 *
 * Precision as in poly1.c: float32 data in double on math/scalar.h's primitives, float64 data
 * in long double.  pm = p - clip is a cancelling difference near the margin: its absolute
 * error is a few units of the working precision times clip, so the negative term there is
 * accurate to that error of pm (tests/test_asymmetric.py states and checks the bound).
 */
#include "losses/focal_elem.h"
#include "losses/step.h"

#define CBCE__ELEM_ASYMMETRIC(NAME, R, EXP, EXPM1, LOG, LOG1P, INF)                        \
    CBCE__INLINE void NAME(int want, R x, R tr, R w, R m, R gp, R gn, R clip, double *l,   \
                           double *g, double *h)                                           \
    {                                                                                      \
        R y = tr, q = (R)1 - tr;                                                           \
        R a = x < 0 ? -x : x;                                                              \
        R e = EXP(-a), t = LOG1P(e), d = (R)1 + e, s = e / d, r = (R)1 / d;                \
        R z = (R)0 * e;                                                                    \
        int pos = x >= 0, act;                                                             \
        R p = pos ? r : s, p1 = pos ? s : r, pd = r * s;                                   \
        R sp = pos ? t : a + t;                                                            \
        R Fp = gp == 0 ? (R)1 : EXP(gp * (pos ? -a - t : -t));                             \
        R pm, V, nlV, Fm;                                                                  \
        act = p >= clip;                                                                   \
        pm = act ? p - clip : (R)0;                                                        \
        V = p1 + clip;                                                                     \
        nlV = pm <= (R)0.25 ? -LOG1P(-pm) : -LOG(V);                                       \
        Fm = gn == 0 ? (R)1 : EXP(gn * LOG(pm));                                           \
        if (want & CBCE__LOSS) {                                                           \
            R lp = Fp * sp, lm = act ? Fm * nlV : (R)0;                                    \
            *l = (double)(w * ((y == 0 ? (R)0 : y * lp) + (q == 0 ? (R)0 : q * lm) + z));  \
        }                                                                                  \
        if (want & (CBCE__GRAD | CBCE__HESS)) {                                            \
            R Ps = p == 0 ? (R)0 : p * sp;                                                 \
            R Qd = (gn == 0 || pd == 0) ? (R)0 : (pm == 0 ? (R)1 : nlV / pm) * pd;         \
            R R1 = clip == 0 ? (R)1 : p1 / V, pR = p * R1;                                 \
            if (want & CBCE__GRAD) {                                                       \
                R gpos = -Fp * ((gp == 0 ? (R)0 : gp * Ps) + p1);                          \
                R gneg = act ? Fm * (gn * Qd + pR) : (R)0;                                 \
                *g = (double)(m * ((y == 0 ? (R)0 : y * gpos) +                            \
                                   (q == 0 ? (R)0 : q * gneg) + z));                       \
            }                                                                              \
            if (want & CBCE__HESS) {                                                       \
                R om = -EXPM1(-a) / d;                                                     \
                R o2p = pos ? -om : om;                                                    \
                R hpos = Fp * ((gp == 0 ? (R)0 : gp * (gp * p * Ps - p1 * Ps + 2 * pd)) + pd); \
                R Fm1 = gn == 1 ? (R)1 : (pm == 0 ? (gn > 1 ? (R)0 : (R)(INF)) : Fm / pm); \
                R hm1 = pd * Fm * (R1 * R1 + (clip == 0 ? (R)0 : clip * o2p / (V * V)));   \
                R hm2 = (gn == 0 || pd == 0)                                               \
                            ? (R)0                                                         \
                            : gn * pd * Fm1 * (o2p * nlV + (gn - 1) * Qd + 2 * pR);        \
                R hneg = act ? hm1 + hm2 : (R)0;                                           \
                *h = (double)(m * ((y == 0 ? (R)0 : y * hpos) +                            \
                                   (q == 0 ? (R)0 : q * hneg) + z));                       \
            }                                                                              \
        }                                                                                  \
    }

CBCE__ELEM_ASYMMETRIC(cbce__asymmetric_d, double, cbce__fam_exp_d, expm1, cbce__log_d,
                      cbce__log1p_d, HUGE_VAL)
CBCE__ELEM_ASYMMETRIC(cbce__asymmetric_x, long double, expl, expm1l, logl, log1pl, HUGE_VALL)

#define CBCE__ASYMMETRIC_CALL(ELEM, W, i)                                                  \
    ELEM(W, x[i], t[i], w[i], m[i], k->par[CBCE__PARAM_gamma_pos],                         \
         k->par[CBCE__PARAM_gamma_neg], k->par[CBCE__PARAM_clip], &l[i], &g[i], &h[i])
#define CBCE__ASYMMETRIC_D(W, i) CBCE__ASYMMETRIC_CALL(cbce__asymmetric_d, W, i)
#define CBCE__ASYMMETRIC_X(W, i) CBCE__ASYMMETRIC_CALL(cbce__asymmetric_x, W, i)

CBCE__FAMILY_STEP(asymmetric_step_d, CBCE__ASYMMETRIC_D)
CBCE__FAMILY_STEP(asymmetric_step_x, CBCE__ASYMMETRIC_X)

CBCE__STEPS(cbce__asymmetric_steps, asymmetric_step_d, asymmetric_step_x, NULL, NULL);
