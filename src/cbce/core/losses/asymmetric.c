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
 *   pm <= 1/4 (no cancellation near the margin) and -log V above; for clip = 0,
 *   -log(1 - p) = a + t or t itself (V = 1 - p underflows for large x).
 * Derivatives (Fp = (1 - p)^gamma_pos, Ps = p (-log p), Fm = pm^gamma_neg,
 * Q = -log(1 - pm)/pm (1 at pm = 0), R1 = (1 - p)/V (1 for clip = 0)):
 *   positive:  l'  = -Fp (gamma_pos Ps + (1 - p))
 *              l'' = Fp (gamma_pos (gamma_pos p Ps - (1 - p) Ps + 2 p') + p')
 *   negative:  l'  = Fm (gamma_neg Q p' + p R1)
 *              l'' = p' Fm (R1^2 + clip (1 - 2p)/V^2)
 *                    + gamma_neg p' pm^(gamma_neg - 1) ((1 - 2p)(-log V) + (gamma_neg - 1) Q p'
 *                                                       + 2 p R1)
 * (the first line is p' Fm ((1 - 2p) V + p')/V^2 with (1 - 2p) V + p' = (1 - p)^2
 * + clip (1 - 2p): written so, it does not cancel where p -> 1 and the true value is p' for
 * clip = 0)
 * where the margin is active (p >= clip; at p = clip the one-sided derivative from above),
 * 0 elsewhere.  1 - 2p = -+(1 - e)/d (1 - e: focal_elem.h's CBCE__ONEM_D, _X).  Products
 * of a 0 factor and an infinite one are taken as 0 (p Ps at p = 0, Q p' at p' = 0), so
 * infinite logits give the limits; the second derivative is +inf at the margin for
 * 0 < gamma_neg < 1 (true).  A NaN input reaches every output through z = 0 * e.
 *
 * Precision: float32 data in double on math/scalar.h's primitives; float64 data in
 * double-double (cbce__asymmetric_dd below; the rare lanes it flags in long double).
 * pm = p - clip is a cancelling difference near the margin: its absolute error is a few
 * units of the working precision times clip, so the negative term there is accurate to
 * that error of pm (tests/test_asymmetric.py states and checks the bound).
 */
#include "losses/focal_elem.h"
#include "losses/step.h"
#include "losses/span32.h"
#include "math/vec_math.h"
#include "math/vec_math64.h"

#define CBCE__ELEM_ASYMMETRIC(NAME, R, EXP, ONEM, LOG, LOG1P, INF)                        \
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
        /* (exp of exactly 0 where gp = 0: a select of exp's result let GCC's masked     \
         * vector code raise underflows, slow on x86) */                                \
        R Fp = EXP(gp == 0 ? (R)0 : gp * (pos ? -a - t : -t));                             \
        R pm, V, nlV, Fm;                                                                  \
        act = p >= clip;                                                                   \
        pm = act ? p - clip : (R)0;                                                        \
        V = p1 + clip;                                                                     \
        nlV = clip == 0 ? (pos ? a + t : t) : pm <= (R)0.25 ? -LOG1P(-pm) : -LOG(V);       \
        /* pm = 0: exp of a finite argument, then 0 (exp(-inf) went through subnormal       \
         * products, slow on x86) */                                                     \
        Fm = EXP(gn * LOG(pm > 0 ? pm : (R)1));                                            \
        Fm = pm > 0 ? Fm : (R)0;                                                           \
        Fm = gn == 0 ? (R)1 : Fm;                                                          \
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
                R om = ONEM(a, e) / d;                                                     \
                R o2p = pos ? -om : om;                                                    \
                R hpos = Fp * ((gp == 0 ? (R)0 : gp * (gp * p * Ps - p1 * Ps + 2 * pd)) + pd); \
                R Fm1 = gn == 1 ? (R)1 : (pm == 0 ? (gn > 1 ? (R)0 : (R)(INF)) : Fm / pm); \
                R hm1 = pd * Fm * (R1 * R1 + (clip == 0 ? (R)0 : clip * o2p / (V * V)));   \
                /* pd pm^(gn - 1) = (1 - p) pm^gn for clip 0 (pm = p: no inf * 0 where p \
                 * underflows) */                                                        \
                R pdFm1 = clip == 0 ? p1 * Fm : pd * Fm1;                                  \
                R hm2 = (gn == 0 || pd == 0)                                               \
                            ? (R)0                                                         \
                            : gn * pdFm1 * (o2p * nlV + (gn - 1) * Qd + 2 * pR);           \
                R hneg = act ? hm1 + hm2 : (R)0;                                           \
                *h = (double)(m * ((y == 0 ? (R)0 : y * hpos) +                            \
                                   (q == 0 ? (R)0 : q * hneg) + z));                       \
            }                                                                              \
        }                                                                                  \
    }

CBCE__ELEM_ASYMMETRIC(cbce__asymmetric_d, double, cbce__fam_exp_d, CBCE__ONEM_D, cbce__log_d,
                      cbce__log1p_d, HUGE_VAL)
CBCE__ELEM_ASYMMETRIC(cbce__asymmetric_x, long double, expl, CBCE__ONEM_X, logl, log1pl,
                      HUGE_VALL)

/*
 * The float64 element in double-double (the formulas above, every quantity a pair in its
 * true scale; math/scalar.h's primitives, relative errors <= 2^-57 each, the products,
 * quotients and sums a few 2^-104; one rounding at the end, weight and gradient multiplier
 * m + ml included).  pm = p - clip is formed from the pair p (absolute error ~2^-104 p).
 * It assumes every quantity it forms is a normal double and E unscaled (cbce__exp_neg_dd
 * scales e below 2^-900): for a = |x| <= 600 (e >= 2^-866)
 * and results that are finite and zero or of magnitude >= 2^-960 it is the result; the
 * others (larger |x|, infinite or NaN inputs, subnormal or infinite results, the
 * hessian at the margin for gamma_neg < 1) are flagged by cbce__asymmetric_rare and redone
 * by the long double element (rare: not in the vectorised loop).
 */
CBCE__INLINE cbce__f2 cbce__asym_exp_neg(cbce__f2 g) /* exp(-g) for g >= 0 (pairs) */
{
    double sc, isc;
    cbce__f2 F = cbce__exp_neg_dd(g.hi, &sc, &isc);
    F = cbce__fast_two_sum(F.hi, F.lo - F.hi * g.lo);
    return cbce__mul_pow2_f2(F, sc);
}

CBCE__INLINE double cbce__asym_round(double w, double wl, cbce__f2 v)
{
    cbce__f2 r = cbce__two_prod(w, v.hi);
    return r.hi + (r.lo + (w * v.lo + wl * v.hi));
}

CBCE__INLINE void cbce__asymmetric_dd(int want, double x, double tr, double w, double m,
                                      double ml, double gp, double gn, double clip,
                                      double *l, double *g, double *h)
{
    const cbce__f2 zero = {0.0, 0.0}, one = {1.0, 0.0};
    double a = x < 0 ? -x : x, sce, isce, inv;
    int pos = x >= 0;
    double act; /* 1 where the margin is active (an int flag stopped the vectoriser) */
    cbce__f2 y = {tr, 0.0}, q = cbce__two_sum(1.0, -tr);
    cbce__f2 E = cbce__exp_neg_dd(a > 600.0 ? 600.0 : a, &sce, &isce); /* (a NaN: flagged) */
    cbce__f2 T = cbce__log1p_dd(E, 1.0), d = cbce__two_sum(1.0, E.hi), s, r, p, p1, pd;
    cbce__f2 sp, nlp1, Fp, pm, V, nlV, Fm, lpm, lp, lm;
    d = cbce__fast_two_sum(d.hi, d.lo + E.lo);
    inv = 1.0 / d.hi;
    s = cbce__div_f2(E, d, inv);
    r = cbce__div_f2(one, d, inv);
    p = cbce__sel_f2(pos, r, s);
    p1 = cbce__sel_f2(pos, s, r);
    pd = cbce__mul_f2(r, s);
    sp = cbce__sel_f2(pos, T, cbce__add_d_f2(a, T));   /* -log p */
    nlp1 = cbce__sel_f2(pos, cbce__add_d_f2(a, T), T); /* -log(1 - p) */
    Fp = cbce__sel_f2(gp == 0, one, cbce__asym_exp_neg(cbce__mul_d_f2(gp, nlp1)));
    pm = cbce__two_sum(p.hi, -clip);
    pm = cbce__fast_two_sum(pm.hi, pm.lo + p.lo);
    act = pm.hi >= 0 ? 1.0 : 0.0;
    pm = cbce__sel_f2(act != 0, pm, zero);
    V = cbce__add_d_f2(clip, p1); /* 1 - pm */
    /* -log(1 - pm) = -log V, V = (1 - p) + clip a pair: its log is log_dd(V.hi) + V.lo/V.hi,
     * within 2^-104 absolute near V = 1 (pm -> 0, where log1p(-pm) would be the textbook
     * choice: the same accuracy, one log less); for clip 0 it is -log(1 - p) */
    nlV = cbce__sel_f2(clip == 0, nlp1, cbce__neg_f2(cbce__focal_log_f2(V)));
    lpm = cbce__focal_log_f2(cbce__sel_f2(pm.hi > 0, pm, one));
    Fm = cbce__asym_exp_neg(cbce__neg_f2(cbce__mul_d_f2(gn, lpm)));
    Fm = cbce__sel_f2(pm.hi > 0, Fm, zero);
    Fm = cbce__sel_f2(gn == 0, one, Fm);
    if (want & CBCE__LOSS) {
        lp = cbce__mul_f2(Fp, sp);
        lm = cbce__sel_f2(act != 0, cbce__mul_f2(Fm, nlV), zero);
        *l = cbce__asym_round(w, 0.0, cbce__add_f2(cbce__mul_f2(y, lp), cbce__mul_f2(q, lm)));
    }
    if (want & (CBCE__GRAD | CBCE__HESS)) {
        cbce__f2 Ps = cbce__mul_f2(p, sp), Qd, R1, pR, gpos, gneg;
        double iV = 1.0 / V.hi;
        Qd = cbce__sel_f2(pm.hi > 0, cbce__div_f2(nlV, pm, 1.0 / pm.hi), one);
        Qd = cbce__sel_f2(gn == 0, zero, cbce__mul_f2(Qd, pd));
        R1 = cbce__sel_f2(clip == 0, one, cbce__div_f2(p1, V, iV));
        pR = cbce__mul_f2(p, R1);
        if (want & CBCE__GRAD) {
            gpos = cbce__add_f2(cbce__mul_d_f2(gp, Ps), p1);
            gpos = cbce__neg_f2(cbce__mul_f2(Fp, gpos));
            gneg = cbce__add_f2(cbce__mul_d_f2(gn, Qd), pR);
            gneg = cbce__sel_f2(act != 0, cbce__mul_f2(Fm, gneg), zero);
            *g = cbce__asym_round(m, ml, cbce__add_f2(cbce__mul_f2(y, gpos),
                                                      cbce__mul_f2(q, gneg)));
        }
        if (want & CBCE__HESS) {
            const cbce__f2 inf = {HUGE_VAL, 0.0};
            cbce__f2 om = cbce__two_sum(1.0, -E.hi), o2p, hpos, Fm1, hm1, hm2, hneg, c, gm1;
            om = cbce__div_f2(cbce__fast_two_sum(om.hi, om.lo - E.lo), d, inv); /* (1-e)/d */
            o2p = cbce__sel_f2(pos, cbce__neg_f2(om), om);                      /* 1 - 2p */
            /* gp (gp p Ps - p1 Ps + 2 pd) + pd */
            hpos = cbce__add_f2(cbce__mul_d_f2(gp, cbce__mul_f2(p, Ps)),
                                cbce__neg_f2(cbce__mul_f2(p1, Ps)));
            hpos = cbce__add_f2(
                cbce__mul_d_f2(gp, cbce__add_f2(hpos, cbce__mul_pow2_f2(pd, 2.0))), pd);
            hpos = cbce__mul_f2(Fp, hpos);
            /* pm^(gn - 1): 1 for gn = 1; at pm = 0, 0 for gn > 1 (inf below: flagged) */
            Fm1 = cbce__div_f2(Fm, pm, 1.0 / pm.hi);
            Fm1 = cbce__sel_f2(pm.hi > 0, Fm1, cbce__sel_f2(gn > 1, zero, inf));
            Fm1 = cbce__sel_f2(gn == 1, one, Fm1);
            c = cbce__div_f2(cbce__div_f2(cbce__mul_d_f2(clip, o2p), V, iV), V, iV);
            c = cbce__sel_f2(clip == 0, zero, c);
            hm1 = cbce__mul_f2(cbce__mul_f2(pd, Fm), cbce__add_f2(cbce__mul_f2(R1, R1), c));
            gm1 = cbce__two_sum(gn, -1.0);
            hm2 = cbce__add_f2(cbce__add_f2(cbce__mul_f2(o2p, nlV), cbce__mul_f2(gm1, Qd)),
                               cbce__mul_pow2_f2(pR, 2.0));
            hm2 = cbce__mul_f2(cbce__mul_d_f2(gn, cbce__mul_f2(pd, Fm1)), hm2);
            hm2 = cbce__sel_f2(gn == 0, zero, hm2);
            hneg = cbce__sel_f2(act != 0, cbce__add_f2(hm1, hm2), zero);
            *h = cbce__asym_round(m, ml, cbce__add_f2(cbce__mul_f2(y, hpos),
                                                      cbce__mul_f2(q, hneg)));
        }
    }
}

/* The lanes the double-double element leaves to the long double one (see above). */
CBCE__INLINE int cbce__asymmetric_bad(double v)
{
    double av = v < 0 ? -v : v;
    return !(av <= DBL_MAX) || (av != 0 && av < 0x1p-960);
}

#define CBCE__ASYMMETRIC_ARGS(i)                                                           \
    x[i], t[i], w[i], m[i], k->par[CBCE__PARAM_gamma_pos], k->par[CBCE__PARAM_gamma_neg],   \
        k->par[CBCE__PARAM_clip]
#define CBCE__ASYMMETRIC_D(W, i)                                                           \
    cbce__asymmetric_d(W, CBCE__ASYMMETRIC_ARGS(i), &l[i], &g[i], &h[i])
#define CBCE__ASYMMETRIC_DD(W, i)                                                          \
    cbce__asymmetric_dd(W, x[i], t[i], w[i], m[i], ml[i], k->par[CBCE__PARAM_gamma_pos],    \
                        k->par[CBCE__PARAM_gamma_neg], k->par[CBCE__PARAM_clip], &l[i],    \
                        &g[i], &h[i])

CBCE__FAMILY_LOSS_STEP(asymmetric_step_d, CBCE__ASYMMETRIC_D)
CBCE__FAMILY_STEP_BLOCKED(asymmetric_step_dd, CBCE__ASYMMETRIC_DD)

/* The float64 careful step: the double-double element, its rare lanes redone in long
 * double. */
CBCE__MAYBE_UNUSED static void asymmetric_step_careful(CBCE__STEP_PARAMS(, k))
{
    size_t i;
    asymmetric_step_dd(want, c, x, t, p, w, m, ml, k, l, g, h);
    for (i = 0; i < c; i++) {
        /* each output redone on its own flag, so that a fused call's gradient is the
         * backward's (a loss flagged alone leaves the gradient of the double-double) */
        int far = !(fabs(x[i]) <= 600.0);
        int bl = (want & CBCE__LOSS) && (far || cbce__asymmetric_bad(l[i]));
        int bg = (want & CBCE__GRAD) && (far || cbce__asymmetric_bad(g[i]));
        int bh = (want & CBCE__HESS) && (far || cbce__asymmetric_bad(h[i]));
        if (bl || bg || bh) {
            double ld = 0, gd = 0, hd = 0;
            cbce__asymmetric_x(want, x[i], t[i], w[i], (long double)m[i] + ml[i],
                               k->par[CBCE__PARAM_gamma_pos], k->par[CBCE__PARAM_gamma_neg],
                               k->par[CBCE__PARAM_clip], &ld, &gd, &hd);
            if (bl)
                l[i] = ld;
            if (bg)
                g[i] = gd;
            if (bh)
                h[i] = hd;
        }
    }
}

/*
 * float64 data: a chunk step on the vector layer in double-double (math/vec_math64.h), the
 * formulas above:
 *   e = exp(-a) within 2^-56.5 and t = log1p(e) within 2^-57.5 (cbce__x64_exp, _log1p); the
 *   quotients r = 1/d, s = e/d, nlV/pm, p1/V and Fm/pm by one residual step (2^-100 beyond
 *   their operands), so p, 1 - p and p' within 2^-56.5 relative;
 *   pm = p - clip from the pair p (absolute error 2^-56.5 p);
 *   -log(1 - pm) and log pm by cbce__x64_logs on the smaller of pm and V = 1 - pm (within
 *   2^-58 absolute); for clip = 0, -log(1 - p) = a + t or t, log p = -(t or a + t), and
 *   Q p' = -log(1 - p) (1 - p), pd pm^(gamma_neg - 1) = (1 - p) Fm without a quotient;
 *   Fp = (1 - p)^gamma_pos, Fm = pm^gamma_neg by vdd_powi for an integer gamma (gamma
 *   times their bases' errors), else exp(-gamma z) for z = -log(1 - p) or -log pm (z's
 *   absolute error about 2^-57 beyond pm's own: gamma 2^-57 relative, and exp's 2^-56.5).
 * The loss is a sum of terms >= 0: within 0.5 + (gamma + 3) 2^-56.5 / 2^-53 ulp where the
 * errors of exp(-a) add up (0.72 measured at gamma 8, tests/test_asymmetric.py); the
 * derivatives are sums of both signs, bounded in ulps of their largest term.  The rare lanes
 * are computed again, per output, by the careful step: |x| > 665 or NaN, a target outside
 * [0, 1] or NaN, V < 2^-120, where the negative term counts an active margin with
 * pm < 2^-120 (vd_rcp50's domain; p = clip, where the one-sided hessian may be infinite) for
 * clip > 0 and Fm < 2^-900, where the positive term counts Fp < 2^-900, gamma z > 600 on the
 * exp path, and a result whose sum before the weights is below 2^-960 but not 0, or that is
 * not a normal double but not an exact 0.  A call with gamma_pos or gamma_neg above
 * ASYM64_GAMMA_MAX takes the careful step for every element.
 */
#define ASYM64_GAMMA_MAX 8.0

typedef struct asym64k {
    cbce__x64tab T;
    double gp, gn, clip;
    int gp_powi, gn_powi; /* the gamma an integer >= 1 */
} asym64k;

/* F = u^gamma for u = exp(-z), z >= 0: vdd_powi for an integer gamma, else exp(-gamma z),
 * *bad set where gamma z > 600 */
CBCE__VI vdd_t asym64_pow(const cbce__x64tab *T, double gamma, int powi, vdd_t u, vdd_t z,
                          vm_t *bad)
{
    vdd_t gz;
    vd_t zh;
    *bad = vm_first(0);
    if (gamma == 0)
        return vdd_of(vd_set1(1.0), vd_zero());
    if (powi)
        return vdd_powi(u, (int)gamma);
    gz = vdd_mul_d(z, vd_set1(gamma));
    *bad = vm_not(vd_le(gz.h, vd_set1(600.0)));
    zh = vd_min(gz.h, vd_set1(600.0));
    return vdd_exp_neg(T, zh, gz.l);
}

/* F v, for F = u^gamma (v where gamma = 0, F = 1) */
CBCE__VI vdd_t asym64_times(double gamma, vdd_t F, vdd_t v)
{
    return gamma == 0 ? v : vdd_mul(F, v);
}

/* The lanes of a result r = RN(w P) the careful step takes: P below 2^-960 but not 0, or r
 * not a normal double but not an exact 0 (P or w 0, w finite). */
CBCE__VI vm_t asym64_redo(vd_t w, vdd_t P, vd_t r)
{
    const vd_t zero = vd_zero();
    vm_t exact0 = vm_and(vd_eq(r, zero), vm_or(vd_eq(P.h, zero), vd_eq(w, zero)));
    return vm_or(vm_and(vd_lt(vd_abs(P.h), vd_set1(0x1p-960)), vd_ne(P.h, zero)),
                 vm_andnot(cbce__x64_not_normal(r), exact0));
}

/* One vector of elements, written to l, g, h; the lanes the careful step must redo for the
 * loss in *badl, for the derivatives in *badg (step.h's cbce__vec_elem_fn). */
CBCE__VI void asym64_vec(int want, const void *ctx, const double *x0, const double *t0,
                         const double *w0, const double *m0, const double *ml0, double *l,
                         double *g, double *h, vm_t *badl, vm_t *badg)
{
    const asym64k *K = (const asym64k *)ctx;
    const vd_t one = vd_set1(1.0), zero = vd_zero(), tiny = vd_set1(0x1p-900);
    const vd_t x = vd_load(x0), tr = vd_load(t0), a = vd_abs(x), rmin = vd_set1(0x1p-120);
    const vdd_t One = vdd_of(one, zero), Zero = vdd_of(zero, zero);
    const vm_t pos = vd_ge(x, zero), hasy = vd_ne(tr, zero), hasq = vd_ne(tr, one);
    vdd_t q = vdd_one_minus(tr), E, Tt, d, r, s, p, p1, aT, sp, nlp1;
    vdd_t pm, V, Vd, pmd, nlV, lpm, Fp, Fm;
    vd_t rc, rV = one, rpm = one;
    vm_t act, okV, okpm, bp, bm, bad;
    bad = vm_not(vm_and(vd_le(a, vd_set1(665.0)), vm_and(vd_ge(tr, zero), vd_le(tr, one))));
    cbce__x64_exp(1, &K->T, &a, &E.h, &E.l);
    cbce__x64_log1p(1, &K->T, &E.h, &E.l, &Tt.h, &Tt.l);
    Tt.h = vd_fast_two_sum(Tt.h, Tt.l, &Tt.l); /* (normalized, as in focal64.c) */
    d.h = cbce__x64_one_plus(E.h, E.l, &d.l, &rc);
    r = vdd_quot(One, d, rc);
    s = vdd_quot(E, d, rc);
    p = vdd_sel(pos, r, s);
    p1 = vdd_sel(pos, s, r);
    aT = vdd_add(vdd_of(a, zero), Tt);
    sp = vdd_sel(pos, Tt, aT);   /* -log p */
    nlp1 = vdd_sel(pos, aT, Tt); /* -log(1 - p) */
    pm.h = vd_two_sum(p.h, vd_set1(-K->clip), &pm.l);
    pm.h = vd_two_sum(pm.h, vd_add(pm.l, p.l), &pm.l);
    act = vd_ge(pm.h, zero);
    pm = vdd_sel(act, pm, Zero);
    V = vdd_add(vdd_of(vd_set1(K->clip), zero), p1); /* 1 - pm where the margin is active */
    okV = vd_ge(V.h, rmin);
    okpm = vd_ge(pm.h, rmin);
    bad = vm_or(bad, vm_not(okV));
    Vd = vdd_sel(okV, V, One); /* the divisors, 1 where flagged or unused */
    pmd = vdd_sel(okpm, pm, One);
    if (K->clip == 0) {
        nlV = nlp1;
        lpm = vdd_neg(sp);
    } else { /* the logs by the smaller of pm and V (>= 2^-120 where they count) */
        vm_t small = vd_le(pm.h, vd_set1(0.5));
        vdd_t S = vdd_sel(small, pm, V), G = vdd_sel(small, V, pm), ls, nlg;
        if (K->gn != 0 && !K->gn_powi) { /* log pm too */
            cbce__x64_logs(&K->T, S.h, S.l, G.h, G.l, &ls.h, &ls.l, &nlg.h, &nlg.l);
            ls.h = vd_fast_two_sum(ls.h, ls.l, &ls.l); /* normalized (see cbce__x64_logs) */
            nlg.h = vd_fast_two_sum(nlg.h, nlg.l, &nlg.l);
            lpm = vdd_sel(small, ls, vdd_neg(nlg));
        } else { /* -log V only: -log g for small, else log s */
            nlg.h = cbce__x64_log_either(&K->T, small, S.h, S.l, G.h, G.l, &nlg.l);
            nlg.h = vd_fast_two_sum(nlg.h, nlg.l, &nlg.l);
            ls = nlg;
            lpm = Zero;
        }
        nlV = vdd_sel(small, nlg, vdd_neg(ls));
        bad = vm_or(bad, vm_andnot(vm_and(act, hasq), okpm));
        rV = vd_rcp50(Vd.h);
        rpm = vd_rcp50(pmd.h);
    }
    Fp = asym64_pow(&K->T, K->gp, K->gp_powi, p1, nlp1, &bp);
    lpm = vdd_sel(vd_gt(pm.h, zero), vdd_neg(lpm), Zero); /* -log pm, 0 off the margin */
    Fm = asym64_pow(&K->T, K->gn, K->gn_powi, pm, lpm, &bm);
    if (K->gn != 0) {
        Fm = vdd_sel(vd_gt(pm.h, zero), Fm, Zero);
        bm = vm_or(bm, vd_lt(Fm.h, tiny));
    }
    if (K->gp != 0)
        bp = vm_or(bp, vd_lt(Fp.h, tiny));
    bad = vm_or(bad, vm_or(vm_and(bp, hasy), vm_and(bm, vm_and(act, hasq))));
    *badl = *badg = bad;
    if (want & CBCE__LOSS) {
        vdd_t P = vdd_add(vdd_mul_d(asym64_times(K->gp, Fp, sp), tr),
                          vdd_mul(q, vdd_sel(act, asym64_times(K->gn, Fm, nlV), Zero)));
        const vd_t w = vd_load(w0), rr = cbce__x64_prod_rn(w, zero, P.h, P.l);
        *badl = vm_or(*badl, asym64_redo(w, P, rr));
        vd_store(l, rr);
    }
    if (want & (CBCE__GRAD | CBCE__HESS)) {
        const vdd_t M = vdd_of(vd_load(m0), vd_load(ml0));
        vdd_t pd = vdd_mul(r, s), Ps = vdd_mul(p, sp), Qd, R1 = One, pR, G, H;
        vd_t rr;
        if (K->gn == 0)
            Qd = Zero;
        else if (K->clip == 0)
            Qd = vdd_mul(nlp1, p1);
        else
            Qd = vdd_mul(vdd_sel(okpm, vdd_quot(nlV, pmd, rpm), One), pd);
        if (K->clip != 0)
            R1 = vdd_quot(p1, Vd, rV);
        pR = vdd_mul(p, R1);
        if (want & CBCE__GRAD) {
            vdd_t gpos = K->gp == 0 ? p1 : vdd_add(vdd_mul_d(Ps, vd_set1(K->gp)), p1);
            vdd_t gneg = K->gn == 0 ? pR : vdd_add(vdd_mul_d(Qd, vd_set1(K->gn)), pR);
            gpos = vdd_neg(asym64_times(K->gp, Fp, gpos));
            gneg = asym64_times(K->gn, Fm, gneg);
            G = vdd_add(vdd_mul_d(gpos, tr), vdd_mul(q, vdd_sel(act, gneg, Zero)));
            rr = cbce__x64_prod_rn(M.h, M.l, G.h, G.l);
            *badg = vm_or(*badg, asym64_redo(M.h, G, rr));
            vd_store(g, rr);
        }
        if (want & CBCE__HESS) {
            const vd_t gp = vd_set1(K->gp);
            vdd_t o2p, hp, hm1, hm2, c = Zero, pdFm1, gm1;
            o2p.h = cbce__x64_tanh_half(E.h, E.l, d.h, d.l, rc, &o2p.l);
            o2p = vdd_sel(pos, vdd_neg(o2p), o2p); /* 1 - 2p */
            /* gp (gp p Ps - p1 Ps + 2 pd) + pd */
            hp = vdd_add(vdd_mul_d(vdd_mul(p, Ps), gp), vdd_neg(vdd_mul(p1, Ps)));
            hp = vdd_add(vdd_mul_d(vdd_add(hp, vdd_add(pd, pd)), gp), pd);
            if (K->clip != 0) {
                c = vdd_quot(vdd_quot(vdd_mul_d(o2p, vd_set1(K->clip)), Vd, rV), Vd, rV);
                pdFm1 = vdd_mul(pd, K->gn == 1 ? One : vdd_quot(Fm, pmd, rpm));
            } else {
                pdFm1 = vdd_mul(p1, Fm);
            }
            hm1 = vdd_mul(vdd_mul(pd, Fm), vdd_add(vdd_mul(R1, R1), c));
            gm1.h = vd_two_sum(vd_set1(K->gn), vd_set1(-1.0), &gm1.l);
            hm2 = vdd_add(vdd_add(vdd_mul(o2p, nlV), vdd_mul(gm1, Qd)), vdd_add(pR, pR));
            hm2 = K->gn == 0 ? Zero : vdd_mul_d(vdd_mul(pdFm1, hm2), vd_set1(K->gn));
            H = vdd_add(vdd_mul_d(asym64_times(K->gp, Fp, hp), tr),
                        vdd_mul(q, vdd_sel(act, vdd_add(hm1, hm2), Zero)));
            rr = cbce__x64_prod_rn(M.h, M.l, H.h, H.l);
            *badg = vm_or(*badg, asym64_redo(M.h, H, rr));
            vd_store(h, rr);
        }
    }
}

CBCE__MAYBE_UNUSED static void asymmetric_step_x(CBCE__STEP_PARAMS(, k))
{
    asym64k K;
    K.gp = k->par[CBCE__PARAM_gamma_pos];
    K.gn = k->par[CBCE__PARAM_gamma_neg];
    K.clip = k->par[CBCE__PARAM_clip];
    if (K.gp > ASYM64_GAMMA_MAX || K.gn > ASYM64_GAMMA_MAX) {
        asymmetric_step_careful(want, c, x, t, p, w, m, ml, k, l, g, h);
        return;
    }
    K.gp_powi = K.gp >= 1 && K.gp == (int)K.gp;
    K.gn_powi = K.gn >= 1 && K.gn == (int)K.gn;
    cbce__x64_tables(&K.T);
    cbce__vec_chunk_step(asym64_vec, &K, asymmetric_step_careful, 0.0, 0.0, want, c, x, t, p,
                         w, m, ml, k, l, g, h);
}

/*
 * float32 data: the span kernel on the vector layer (simd/vec.h, frame span32.h), the
 * formulas above in double on math/vec_math.h's primitives:
 *   e = exp(-a) by vd_exp_neg_full (2^-51: pm = p - clip cancels near the margin, where a
 *   result is accurate to its sensitivity to p times p's error), t = log1p(e) (2^-33),
 *   r = 1/d by vd_rcp50, so p, 1 - p and p' within 2^-49.5 relative;
 *   Fp = (1 - p)^gamma_pos, Fm = pm^gamma_neg: for integer powers by vd_powi (a few 2^-53
 *   relative beyond their bases'), else exp(-gamma_pos (-log(1 - p))) and
 *   exp(gamma_neg log pm) (vd_log_pos): within gamma 2^-32.5 + 2^-34.5 relative, 2^-29.4 at
 *   gamma = ASYM32_GAMMA_MAX;
 *   -log(1 - pm) = -log1p(-pm) for pm <= 1/4, -log V above: one vd_log1p_u on the argument
 *   chosen lane by lane (-pm, or V's from vd_log_split), 2^-33 relative; a + t or t for
 *   clip = 0;
 *   the quotients nlV/pm, p1/V and Fm/pm by vd_rcp50.
 * Rare lanes take the "D" element cbce__asymmetric_d lane by lane: |x| > 700 or NaN, an
 * active margin with pm < 2^-120 (vd_rcp50's domain; p = clip, where the one-sided hessian
 * may be infinite, or x < -83), V < 2^-120 (clip that small); where gamma_pos or
 * gamma_neg > ASYM32_GAMMA_MAX, every lane (the span function hands the element to
 * span32.h's frame as `every`).
 */
#define A32_K CBCE__S32_K
#define ASYM32_GAMMA_MAX 8.0

/* The "D" element for the rare lanes (span32.h's s32_elem_fn). */
CBCE__MAYBE_UNUSED static void asym32_elem(int want, double x, double tr,
                                           const cbce__span_consts *k, double *l, double *g,
                                           double *h)
{
    cbce__asymmetric_d(want, x, tr, 1, 1, k->par[CBCE__PARAM_gamma_pos],
                       k->par[CBCE__PARAM_gamma_neg], k->par[CBCE__PARAM_clip], l, g, h);
}

/* nk vectors: raw loss lo, d/dx gr, d2/dx2 he from the input x and the target tr. */
CBCE__VI void asym32_vec(const int want, const int nk, const vd_t *x, const vd_t *tr,
                         const cbce__span_consts *k, vd_t *lo, vd_t *gr, vd_t *he)
{
    const double gpd = k->par[CBCE__PARAM_gamma_pos], gnd = k->par[CBCE__PARAM_gamma_neg];
    const double cl = k->par[CBCE__PARAM_clip];
    const vd_t one = vd_set1(1.0), zero = vd_zero(), clip = vd_set1(cl);
    const vd_t gp = vd_set1(gpd), gn = vd_set1(gnd), tiny = vd_set1(0x1p-120);
    vd_t a[A32_K], e[A32_K], t[A32_K], r[A32_K], p[A32_K], p1[A32_K], sp[A32_K];
    vd_t nlp1[A32_K], pm[A32_K], V[A32_K], nlV[A32_K], Fp[A32_K], Fm[A32_K];
    vm_t pos[A32_K], act[A32_K];
    int j;
    for (j = 0; j < nk; j++)
        a[j] = vd_abs(x[j]);
    for (j = 0; j < nk; j++)
        e[j] = vd_exp_neg_full(a[j]);
    /* each stage for all nk vectors before the next (their chains interleave) */
    for (j = 0; j < nk; j++)
        t[j] = vd_mul(e[j], vd_rcp50(vd_add(vd_set1(2.0), e[j]))); /* u = e/(2 + e) */
    for (j = 0; j < nk; j++)
        t[j] = vd_log1p_u(t[j]);
    for (j = 0; j < nk; j++)
        r[j] = vd_rcp50(vd_add(one, e[j]));
    for (j = 0; j < nk; j++) {
        vd_t s = vd_mul(e[j], r[j]);
        pos[j] = vd_ge(x[j], zero);
        p[j] = vd_select(pos[j], r[j], s);
        p1[j] = vd_select(pos[j], s, r[j]);
        sp[j] = vd_select(pos[j], t[j], vd_add(a[j], t[j]));   /* -log p */
        nlp1[j] = vd_select(pos[j], vd_add(a[j], t[j]), t[j]); /* -log(1 - p) */
        act[j] = vd_ge(p[j], clip);
        pm[j] = vd_select(act[j], vd_sub(p[j], clip), zero);
        V[j] = vd_add(p1[j], clip); /* 1 - pm */
    }
    for (j = 0; j < nk; j++) {
        vm_t mpos = vd_gt(pm[j], zero);
        Fp[j] = gpd == 0 ? one
                : gpd == (int)gpd ? vd_powi(p1[j], (int)gpd)
                                  : vd_exp_neg(vd_mul(gp, nlp1[j]));
        Fm[j] = one;
        if (gnd == (int)gnd && gnd != 0) { /* pm^gamma_neg, 0 where pm = 0 */
            Fm[j] = vd_powi(pm[j], (int)gnd);
        } else if (gnd != 0) {
            vd_t lpm = vd_log_pos(vd_select(mpos, pm[j], one));
            Fm[j] = vd_select(mpos, vd_exp_neg(vd_mul(vd_neg(gn), lpm)), zero);
        }
    }
    if (cl == 0) {
        for (j = 0; j < nk; j++)
            nlV[j] = nlp1[j];
    } else { /* -log1p(-pm) or -log V: k ln2 + log1p(f), f and k lane by lane */
        vd_t f[A32_K], kv[A32_K];
        for (j = 0; j < nk; j++) {
            vm_t small = vd_le(pm[j], vd_set1(0.25));
            kv[j] = vd_log_split(V[j], &f[j]);
            f[j] = vd_select(small, vd_neg(pm[j]), f[j]);
            kv[j] = vd_select(small, zero, kv[j]);
        }
        for (j = 0; j < nk; j++)
            f[j] = vd_mul(f[j], vd_rcp50(vd_add(vd_set1(2.0), f[j])));
        for (j = 0; j < nk; j++)
            nlV[j] = vd_neg(vd_mla(kv[j], vd_set1(CBCE__VM_LN2), vd_log1p_u(f[j])));
    }
    if (want & CBCE__LOSS)
        for (j = 0; j < nk; j++) {
            vd_t lm = vd_select(act[j], vd_mul(Fm[j], nlV[j]), zero);
            lo[j] = vd_mla(tr[j], vd_mul(Fp[j], sp[j]), vd_mul(vd_sub(one, tr[j]), lm));
        }
    if (want & (CBCE__GRAD | CBCE__HESS))
        for (j = 0; j < nk; j++) {
            vd_t pd = vd_mul(r[j], vd_mul(e[j], r[j])); /* p' */
            vd_t Ps = vd_mul(p[j], sp[j]);
            vd_t ipm = vd_rcp50(vd_select(vd_gt(pm[j], zero), pm[j], one));
            vd_t Qd = vd_select(vd_gt(pm[j], zero), vd_mul(nlV[j], ipm), one);
            vd_t iV = cl == 0 ? one : vd_rcp50(V[j]);
            vd_t R1 = cl == 0 ? one : vd_mul(p1[j], iV);
            vd_t pR = vd_mul(p[j], R1), q = vd_sub(one, tr[j]);
            Qd = gnd == 0 ? zero : vd_mul(Qd, pd);
            if (want & CBCE__GRAD) {
                vd_t gpos = vd_neg(vd_mul(Fp[j], vd_mla(gp, Ps, p1[j])));
                vd_t gneg = vd_select(act[j], vd_mul(Fm[j], vd_mla(gn, Qd, pR)), zero);
                gr[j] = vd_mla(tr[j], gpos, vd_mul(q, gneg));
            }
            if (want & CBCE__HESS) {
                vd_t om = vd_mul(vd_one_minus_exp_neg(a[j], e[j]), r[j]);
                vd_t o2p = vd_select(pos[j], vd_neg(om), om); /* 1 - 2p */
                /* gp (gp p Ps - p1 Ps + 2 pd) + pd */
                vd_t hp = vd_nmla(p1[j], Ps, vd_mul(gp, vd_mul(p[j], Ps)));
                vd_t hpos = vd_mul(Fp[j], vd_mla(gp, vd_add(hp, vd_add(pd, pd)), pd));
                vd_t Fm1 = gnd == 1 ? one : vd_mul(Fm[j], ipm); /* pm^(gn - 1) */
                vd_t c = cl == 0 ? zero : vd_mul(vd_mul(clip, o2p), vd_mul(iV, iV));
                vd_t hm1 = vd_mul(vd_mul(pd, Fm[j]), vd_mla(R1, R1, c));
                vd_t pdFm1 = cl == 0 ? vd_mul(p1[j], Fm[j]) : vd_mul(pd, Fm1);
                vd_t hm2 = vd_mla(o2p, nlV[j], vd_mla(vd_set1(gnd - 1), Qd, vd_add(pR, pR)));
                hm2 = gnd == 0 ? zero : vd_mul(vd_mul(gn, pdFm1), hm2);
                he[j] = vd_mla(tr[j], hpos,
                               vd_mul(q, vd_select(act[j], vd_add(hm1, hm2), zero)));
            }
        }
    for (j = 0; j < nk; j++) {
        vm_t rare = vm_or(vm_not(vd_le(a[j], vd_set1(700.0))),
                          vm_and(act[j], vd_lt(pm[j], tiny)));
        if (cl != 0)
            rare = vm_or(rare, vd_lt(V[j], tiny));
        if (vm_any(rare))
            s32_redo_lanes(asym32_elem, want, k, rare, x[j], tr[j], lo + j, gr + j, he + j);
    }
}

/* One instance with `want` and `reduced` as run-time values, as focal.c's kernel. */
#define CBCE__S32_VEC(want, plain, nk, x, tr, pw, keep, half, lo, gr, he)               \
    ((void)(pw), asym32_vec(want, nk, x, tr, k, lo, gr, he)) /* no pos_weight, smoothing */
#define CBCE__S32_NAME asym32
#define CBCE__S32_PLAIN 0
#include "losses/span32.h"

CBCE__MAYBE_UNUSED static void asymmetric_span_d(int want, int reduced, const cbce__span *S,
                                                 const cbce__span_consts *k)
{
    int beyond = k->par[CBCE__PARAM_gamma_pos] > ASYM32_GAMMA_MAX ||
                 k->par[CBCE__PARAM_gamma_neg] > ASYM32_GAMMA_MAX;
    asym32_body_fam(want, reduced, 0, beyond ? asym32_elem : NULL, S, k);
}

CBCE__S32_FORWARD(cbce__asymmetric_steps, asymmetric_span_d)
CBCE__STEPS(cbce__asymmetric_steps, asymmetric_step_d, asymmetric_step_x,
            CBCE__S32_SPAN(cbce__asymmetric_steps, asymmetric_span_d), NULL);
