/*
 * focal64.c -- the float64 chunk steps of the focal and Poly-1 focal losses on the vector
 * layer (simd/vec.h), in double-double on math/vec_math64.h; the formulas are focal_elem.h's
 * and poly1.c's, with L = q + y = 1 (no pos_weight):
 *   v = (A + B e)/d,  F = v^gamma,  ce = A a + t,  a_t = alpha y + (1 - alpha) q (or 1)
 *   l   = F (a_t ce + eps v)
 *   l'  = F (a_t (gu1 ce + g0) + eps (gamma + 1) v')
 *   l'' = F (a_t (gu1 (gu1 ce + 2 g0) + gu2 ce + s/d) + eps (gamma + 1) v' (gu1 + om))
 * with gu1 = gamma u' = gamma D rho/d, gu2 = gamma u'' = -+gamma D rho kappa/d^2 (- for
 * x >= 0), D = q - y, rho = e/(A + B e), kappa = (A - B e^2)/(A + B e), g0 = q - s (x >= 0)
 * or s - y, v' = D s/d, om = 1 - 2 sigmoid(x) = -+(1 - e)/d; eps = 0 for the focal loss.
 *
 * Error budget (relative, before the one rounding, weights included): e within 2^-56.5 and
 * t within 2^-57.5 (cbce__x64_exp, cbce__x64_log1p); the quotients 2^-100 beyond their
 * operands; F = v^gamma by vdd_powi for an integer gamma <= 8 (gamma 2^-56.5 from e, at
 * most: v's error is e's times e/(1 + e) or 1/(1 + e)), else exp(-gamma (a' + t)) on lanes
 * with a hard target (A + B e is 1 or e: a' = 0 or a; t's error times gamma, and exp's
 * 2^-56.5).  The loss is a product of terms >= 0 (plus eps v, >= 0 for eps >= 0): within
 * 0.5 + (gamma + 2) 2^-56.5 / 2^-53 ulp in the worst case, where the errors of e add up
 * (0.69 measured at gamma 8, where they do not);
 * hard-label gradients are sums of terms of one sign; soft-label gradients, hessians and
 * eps < 0 are sums of both signs, bounded in ulps of their largest term (hessians carry F's
 * error in more terms: 0.79 ulp measured at gamma 8, tests/test_poly1.py).
 *
 * Rare lanes, computed again by the scalar element cbce__focal_poly_x (per output: the
 * loss, or the gradient and hessian): |x| > 665 or NaN; a target outside [0, 1] or NaN;
 * A + B e, F or a_t below 2^-900 (their products would leave the normal range), or the
 * divisor of rho and kappa (B where A = 0, else A + B e) below vd_rcp50's 2^-120; a
 * non-integer gamma (or one above 8) where the target is not 0 or 1; with the hessian and
 * |eps (gamma + 1)| > 8, |x| < 1/4 (1 - e as a pair carries e's absolute error, see
 * vec_math64.h's CBCE__X64_ONEM_E_COEF); and a result whose product before the weights is
 * below 2^-960, or that is not a normal double (cbce__x64_not_normal).  A call whose alpha
 * is outside [0, 1] (a_t a difference), whose label smoothing is below 2^-1000, or with a
 * non-integer gamma and label smoothing takes the scalar element for every element.
 */
#include "losses/focal_elem.h"
#include "losses/step.h"
#include "math/vec_math64.h"

#if !defined(CBCE__ISA_VARIANT) && CBCE__HAVE_VARIANTS && CBCE__VW == 1
/* The baseline level takes the scalar level's steps (the same C without FMA, so the same
 * results: see step.h's CBCE__STEPS) instead of a copy of its own. */
void cbce__focal_step64_scalar(CBCE__STEP_PARAMS(, k));
void cbce__poly1_focal_step64_scalar(CBCE__STEP_PARAMS(, k));
void CBCE__ISA_NAME(cbce__focal_step64)(CBCE__STEP_PARAMS(, k))
{
    cbce__focal_step64_scalar(want, c, x, t, p, w, m, ml, k, l, g, h);
}
void CBCE__ISA_NAME(cbce__poly1_focal_step64)(CBCE__STEP_PARAMS(, k))
{
    cbce__poly1_focal_step64_scalar(want, c, x, t, p, w, m, ml, k, l, g, h);
}
#else

#define FOCAL64_POWI_MAX 8

/* Per-call constants. */
typedef struct focal64k {
    cbce__x64tab T;
    const cbce__consts *k; /* half, alpha, has_alpha, gamma */
    vdd_t K;               /* 1 - label_smoothing, exactly */
    double eps, eg1;       /* eps: the Poly-1 epsilon (0 for the focal loss); eps (gamma + 1) */
    int smooth, powi;      /* powi: gamma an integer in 1..FOCAL64_POWI_MAX */
} focal64k;

/* One vector of elements, written to l, g, h; the lanes the scalar element must redo for
 * the loss in *badl, for the derivatives in *badg (step.h's cbce__vec_elem_fn). */
CBCE__VI void focal64_vec(int want, const void *ctx, const double *x0, const double *t0,
                          const double *w0, const double *m0, const double *ml0, double *l,
                          double *g, double *h, vm_t *badl, vm_t *badg)
{
    const focal64k *kk = (const focal64k *)ctx;
    const cbce__x64tab *T = &kk->T;
    const vd_t one = vd_set1(1.0), zero = vd_zero(), tiny = vd_set1(0x1p-900);
    const vd_t x = vd_load(x0), tr = vd_load(t0), a = vd_abs(x);
    const vm_t pos = vd_ge(x, zero);
    vdd_t y = vdd_of(tr, zero), q = vdd_one_minus(tr), A, B, E, Tt, d, N, Nd, v, ce, at;
    vdd_t F;
    vd_t rc, rcN;
    vm_t A0;
    vm_t bad = vm_not(vm_and(vd_le(a, vd_set1(665.0)), vm_and(vd_ge(tr, zero),
                                                               vd_le(tr, one))));
    if (kk->smooth) { /* y = tr K + eps/2, q = (1 - tr) K + eps/2 */
        const vdd_t half = vdd_of(vd_set1(kk->k->half), zero);
        y = vdd_add(half, vdd_mul_d(kk->K, tr));
        q = vdd_add(half, vdd_mul(kk->K, q));
    }
    A = vdd_sel(pos, q, y);
    B = vdd_sel(pos, y, q);
    cbce__x64_exp(1, T, &a, &E.h, &E.l);
    cbce__x64_log1p(1, T, &E.h, &E.l, &Tt.h, &Tt.l);
    /* normalized: cbce__x64_log1p leaves z^2 LQ(z) in the low part (up to 2^-6 of th) */
    Tt.h = vd_fast_two_sum(Tt.h, Tt.l, &Tt.l);
    d.h = cbce__x64_one_plus(E.h, E.l, &d.l, &rc);
    N = vdd_add(A, vdd_mul(B, E));
    /* rho = e/N and kappa = (A - B e^2)/N as 1/B and -e where A = 0 (N = B e) */
    A0 = vd_eq(A.h, zero);
    Nd = vdd_sel(A0, B, N);
    bad = vm_or(bad, vm_not(vm_and(vd_ge(N.h, tiny), vd_ge(Nd.h, vd_set1(0x1p-120)))));
    rcN = vd_rcp50(vd_select(bad, one, Nd.h));
    v = vdd_quot(N, d, rc);
    ce = vdd_add(vdd_mul_d(A, a), Tt);
    at = vdd_of(one, zero);
    if (kk->k->has_alpha) {
        at = vdd_add(vdd_mul_d(y, vd_set1(kk->k->alpha)),
                     vdd_mul(vdd_one_minus(vd_set1(kk->k->alpha)), q));
        bad = vm_or(bad, vm_not(vd_ge(at.h, tiny)));
    }
    if (kk->k->gamma == 0) {
        F = vdd_of(one, zero);
    } else if (kk->powi) {
        F = vdd_powi(v, (int)kk->k->gamma);
    } else { /* hard targets: A + B e = e (A = 0) or 1; F = exp(-gamma (a' + t)) */
        vdd_t z = vdd_mul_d(vdd_add(vdd_of(vd_select(A0, a, zero), zero), Tt),
                            vd_set1(kk->k->gamma));
        vd_t zh = vd_select(bad, zero, z.h);
        bad = vm_or(bad, vm_not(vm_or(A0, vd_eq(B.h, zero))));
        bad = vm_or(bad, vm_not(vd_le(zh, vd_set1(600.0))));
        F = vdd_exp_neg(T, zh, z.l);
    }
    bad = vm_or(bad, vm_not(vd_ge(F.h, tiny)));
    if ((want & CBCE__HESS) && fabs(kk->eg1) > CBCE__X64_ONEM_E_COEF)
        bad = vm_or(bad, vd_lt(a, vd_set1(0.25)));
    *badl = *badg = bad;
    if (want & CBCE__LOSS) {
        vdd_t P = vdd_mul(at, ce);
        vd_t r;
        if (kk->eps != 0)
            P = vdd_add(P, vdd_mul_d(v, vd_set1(kk->eps)));
        P = vdd_mul(F, P);
        r = cbce__x64_prod_rn(vd_load(w0), zero, P.h, P.l);
        *badl = vm_or(*badl, vm_or(vd_lt(vd_abs(P.h), vd_set1(0x1p-960)),
                                   cbce__x64_not_normal(r)));
        vd_store(l, r);
    }
    if (want & (CBCE__GRAD | CBCE__HESS)) {
        const vdd_t M = vdd_of(vd_load(m0), vd_load(ml0));
        vdd_t s = vdd_quot(E, d, rc), D = vdd_add(q, vdd_neg(y)), rho, gu1, g0, Gb, vp;
        vd_t r;
        rho = vdd_quot(vdd_sel(A0, vdd_of(one, zero), E), Nd, rcN);
        gu1 = vdd_mul_d(vdd_quot(vdd_mul(D, rho), d, rc), vd_set1(kk->k->gamma));
        g0 = vdd_sel(pos, vdd_add(q, vdd_neg(s)), vdd_add(s, vdd_neg(y)));
        vp = vdd_quot(vdd_mul(D, s), d, rc);
        if (want & CBCE__GRAD) {
            Gb = vdd_mul(at, vdd_add(vdd_mul(gu1, ce), g0));
            if (kk->eps != 0)
                Gb = vdd_add(Gb, vdd_mul_d(vp, vd_set1(kk->eg1)));
            Gb = vdd_mul(F, Gb);
            r = cbce__x64_prod_rn(M.h, M.l, Gb.h, Gb.l);
            *badg = vm_or(*badg, vm_or(vd_lt(vd_abs(Gb.h), vd_set1(0x1p-960)),
                                       cbce__x64_not_normal(r)));
            vd_store(g, r);
        }
        if (want & CBCE__HESS) {
            vdd_t E2 = vdd_mul(E, E), kap, gu2, Hb;
            kap = vdd_quot(vdd_add(A, vdd_neg(vdd_mul(B, E2))), Nd, rcN);
            kap = vdd_sel(A0, vdd_neg(E), kap);
            gu2 = vdd_quot(vdd_quot(vdd_mul(vdd_mul(D, rho), kap), d, rc), d, rc);
            gu2 = vdd_mul_d(gu2, vd_select(pos, vd_set1(-kk->k->gamma), vd_set1(kk->k->gamma)));
            Hb = vdd_add(vdd_mul(gu1, vdd_add(vdd_mul(gu1, ce), vdd_add(g0, g0))),
                         vdd_add(vdd_mul(gu2, ce), vdd_quot(s, d, rc)));
            Hb = vdd_mul(at, Hb);
            if (kk->eps != 0) {
                vdd_t om;
                om.h = cbce__x64_tanh_half(E.h, E.l, d.h, d.l, rc, &om.l);
                om = vdd_sel(pos, vdd_neg(om), om);
                Hb = vdd_add(Hb, vdd_mul_d(vdd_mul(vp, vdd_add(gu1, om)),
                                           vd_set1(kk->eg1)));
            }
            Hb = vdd_mul(F, Hb);
            r = cbce__x64_prod_rn(M.h, M.l, Hb.h, Hb.l);
            *badg = vm_or(*badg, vm_or(vd_lt(vd_abs(Hb.h), vd_set1(0x1p-960)),
                                       cbce__x64_not_normal(r)));
            vd_store(h, r);
        }
    }
}

/* The scalar element on the elements of a chunk (the rare lanes, and every element of the
 * calls the vector element does not take): one copy of the large double-double element,
 * mode and want run-time values. */
#define FOCAL64_CAREFUL(NAME, MODE, EPS)                                                   \
    CBCE__NOINLINE static void NAME(CBCE__STEP_PARAMS(, k))                                \
    {                                                                                      \
        (void)p;                                                                           \
        focal64_careful(MODE, EPS, want, c, x, t, w, m, ml, k, l, g, h);                    \
    }
CBCE__NOINLINE static void focal64_careful(int mode, double eps, int want, size_t c,
                                           const double *x, const double *t,
                                           const double *w, const double *m,
                                           const double *ml, const cbce__consts *k,
                                           double *l, double *g, double *h)
{
    size_t i;
    for (i = 0; i < c; i++)
        cbce__focal_poly_x(mode, want, x[i], t[i], w[i], m[i], ml[i], k->eps, k->half, eps,
                           k->alpha, k->has_alpha, k->gamma, l + i, g + i, h + i);
}
FOCAL64_CAREFUL(focal64_careful_focal, CBCE__MODE_FOCAL, 0.0)
FOCAL64_CAREFUL(focal64_careful_poly1, CBCE__MODE_POLY1_FOCAL, k->par[CBCE__PARAM_epsilon])

/* The chunk step of mode CBCE__MODE_FOCAL or CBCE__MODE_POLY1_FOCAL. */
CBCE__NOINLINE static void focal64_step(int mode, CBCE__STEP_PARAMS(, k))
{
    const cbce__step_fn careful =
        mode == CBCE__MODE_FOCAL ? focal64_careful_focal : focal64_careful_poly1;
    focal64k kk;
    int vec;
    kk.K.h = vd_two_sum(vd_set1(1.0), vd_set1(-k->eps), &kk.K.l);
    kk.k = k;
    kk.eps = mode == CBCE__MODE_FOCAL ? 0.0 : k->par[CBCE__PARAM_epsilon];
    kk.eg1 = kk.eps * (k->gamma + 1.0);
    kk.smooth = k->eps != 0;
    kk.powi = k->gamma >= 1 && k->gamma <= FOCAL64_POWI_MAX && k->gamma == (int)k->gamma;
    vec = !(k->has_alpha && !(k->alpha >= 0 && k->alpha <= 1)) &&
          !(k->eps > 0 && k->eps < 0x1p-1000) && !(kk.smooth && !kk.powi && k->gamma != 0) &&
          isfinite(kk.eg1);
    if (!vec) {
        careful(want, c, x, t, p, w, m, ml, k, l, g, h);
        return;
    }
    cbce__x64_tables(&kk.T);
    cbce__vec_chunk_step(focal64_vec, &kk, careful, 0.0, 0.0, want, c, x, t, p, w, m, ml, k,
                         l, g, h);
}

void CBCE__ISA_NAME(cbce__focal_step64)(CBCE__STEP_PARAMS(, k))
{
    focal64_step(CBCE__MODE_FOCAL, want, c, x, t, p, w, m, ml, k, l, g, h);
}

void CBCE__ISA_NAME(cbce__poly1_focal_step64)(CBCE__STEP_PARAMS(, k))
{
    focal64_step(CBCE__MODE_POLY1_FOCAL, want, c, x, t, p, w, m, ml, k, l, g, h);
}
#endif
