/*
 * focal.c -- the sigmoid focal loss (Lin et al. 2017, torchvision's formula) on logits:
 * float32 data on the span kernel below (which also serves the Poly-1 focal loss; the
 * chunk step, focal_elem.h's cbce__poly1_d at eps 0, gives the driver's exact sums), float64
 * data on focal64.c's chunk step in double-double; the log-space formulas are in
 * focal_elem.h.
 * alpha = NaN in cbce_args_t drops the class balance a_t (Python's alpha=None); the
 * ranges of gamma and alpha are registry.h's, checked by the driver.
 */
#include "losses/focal_elem.h"
#include "losses/step.h"
#include "losses/span32.h"
#include "math/vec_math.h"

#define CBCE__FOCAL_CALL_D(W, i)                                                          \
    cbce__poly1_d(W, x[i], t[i], 1, w[i], m[i], k->keep, k->half, 0, k->alpha,            \
                  k->has_alpha, k->gamma, &l[i], &g[i], &h[i])

CBCE__FAMILY_LOSS_STEP(focal_gamma_step_d, CBCE__FOCAL_CALL_D)
/* float64 data: focal64.c's chunk step */
void CBCE__ISA_NAME(cbce__focal_step64)(CBCE__STEP_PARAMS(, k));
#define focal_gamma_step_x CBCE__ISA_NAME(cbce__focal_step64)

/*
 * gamma = 0 without alpha: the loss is bce_with_logits, so its steps (logits.c, same SIMD
 * level; pos_weight 1) compute it: for float32 data its span kernel (focal_span_d below),
 * so the bits of cbce_bce_logits_*; for float64 data its chunk step, the careful element,
 * within 1 ulp of cbce_bce_logits_*'s span kernel (two faithful roundings).  (With alpha,
 * a_t times that rounded result would round twice, so gamma = 0 with alpha stays on the
 * focal element, where F = 1 exactly.)
 */
extern const cbce__steps CBCE__ISA_NAME(cbce__logits_steps);
#define focal_bce_step_d (*CBCE__ISA_NAME(cbce__logits_steps).d)
#define focal_bce_step_x (*CBCE__ISA_NAME(cbce__logits_steps).x)

/* The step: gamma and alpha are per-call constants, tested once per chunk. */
#define CBCE__FOCAL_STEP(NAME, BCE, GAMMA)                                                \
    CBCE__MAYBE_UNUSED static void NAME(CBCE__STEP_PARAMS(, k))                          \
    {                                                                                     \
        (k->gamma == 0 && !k->has_alpha ? BCE : GAMMA)(want, c, x, t, p, w, m, ml, k, l, g, \
                                                       h);                                \
    }

CBCE__FOCAL_STEP(focal_step_d, focal_bce_step_d, focal_gamma_step_d)
CBCE__FOCAL_STEP(focal_step_x, focal_bce_step_x, focal_gamma_step_x)

/*
 * float32 data: the span kernel of the focal and Poly-1 focal losses on the vector layer
 * (simd/vec.h, frame span32.h), the formulas of focal_elem.h and poly1.c in double:
 *   e = exp(-a) (vd_exp_neg, 2^-34.5), t = log1p(e) (2^-33), r = 1/d (vd_rcp50, 2^-50: the
 *   hessian has r to the third power, and the terms of soft-label derivatives cancel);
 *   F = (1 - p_t)^gamma: for an integer gamma, (v r)^gamma by vd_powi, v = A + B e (e's
 *   2^-34.5 times gamma, relative); else exp(gamma u) with u = -a - t where A = 0, else
 *   log(A + B e) - t (vd_log_pos: 2^-34.4 absolute + 2^-53 of k ln2), so u is within
 *   ~2^-32.5 absolute and F within gamma 2^-32.5 + 2^-34.5 relative: 2^-29.4 at gamma =
 *   FOCAL32_GAMMA_MAX, below the 2^-28 that keeps a float32 result within 0.56 ulp;
 *   rho = e/(A + B e) and kappa's quotient by vd_rcp50;
 *   1 - e by vd_one_minus_exp_neg.  Measured: 0.51 ulp (tests/test_focal.py, long double).
 * A vector whose elements are all A = 0 or A + B e = 1 (hard labels without smoothing)
 * skips the log (non-integer gamma) and the reciprocal of A + B e.  Rare lanes take the
 * "D" element cbce__poly1_d (p = 1; eps = 0 for the focal loss) lane by lane: A + B e
 * not a double >= 2^-120 where A > 0 (vd_rcp50's domain: a target or smoothing that
 * small, NaN or out of range, a NaN input); for gamma > FOCAL32_GAMMA_MAX, every lane
 * (the span function hands the element to span32.h's frame as `every`).
 */
#define F32_K CBCE__S32_K
#define FOCAL32_GAMMA_MAX 8.0

/* The "D" element for the rare lanes at epsilon eps (one copy for both losses). */
CBCE__MAYBE_UNUSED CBCE__NOINLINE static void focal32_elem_eps(int want, double x, double tr,
                                                               const cbce__span_consts *k,
                                                               double eps, double *l,
                                                               double *g, double *h)
{
    const double *par = k->par, alpha = par[CBCE__PARAM_alpha];
    cbce__poly1_d(want, x, tr, 1, 1, 1, k->keep, k->half, eps, alpha, alpha == alpha,
                  par[CBCE__PARAM_gamma], l, g, h);
}

/* It as span32.h's s32_elem_fn: the focal loss (epsilon 0) and the Poly-1 focal loss
 * (epsilon from k->par); FOCAL32_ELEM(poly) picks one. */
CBCE__MAYBE_UNUSED static void focal32_elem(int want, double x, double tr,
                                            const cbce__span_consts *k, double *l, double *g,
                                            double *h)
{
    focal32_elem_eps(want, x, tr, k, 0, l, g, h);
}

CBCE__MAYBE_UNUSED static void poly1_focal32_elem(int want, double x, double tr,
                                                  const cbce__span_consts *k, double *l,
                                                  double *g, double *h)
{
    focal32_elem_eps(want, x, tr, k, k->par[CBCE__PARAM_epsilon], l, g, h);
}

#define FOCAL32_ELEM(poly) ((poly) ? poly1_focal32_elem : focal32_elem)

/* nk vectors: raw loss lo, d/dx gr, d2/dx2 he of the focal loss (poly 0) or the Poly-1
 * focal loss (poly 1, epsilon from k->par), gamma and alpha (NaN: none) from k->par, from
 * the input x and the raw target tr.  The terms of epsilon are left out where it is 0 (they
 * would add zeros, which can turn a -0 result into +0: Poly-1 at epsilon 0 has the focal
 * loss's bits). */
CBCE__VI void focal32_vec(const int want, const int poly, const int nk, const vd_t *x,
                          const vd_t *tr, const cbce__span_consts *k, vd_t *lo, vd_t *gr,
                          vd_t *he)
{
    const vd_t one = vd_set1(1.0), zero = vd_zero(), keep = vd_set1(k->keep);
    const double gm = k->par[CBCE__PARAM_gamma], al = k->par[CBCE__PARAM_alpha];
    const double eps = poly ? k->par[CBCE__PARAM_epsilon] : 0;
    const vd_t half = vd_set1(k->half), gamma = vd_set1(gm);
    const int has_alpha = al == al, terms = eps != 0;
    /* `hard` is read by the log of a non-integer gamma and by the derivatives */
    const int hard_read = gm != (int)gm || (want & (CBCE__GRAD | CBCE__HESS));
    vd_t a[F32_K], e[F32_K], y[F32_K], q[F32_K], A[F32_K], B[F32_K], v[F32_K], r[F32_K];
    vd_t t[F32_K], F[F32_K], ce[F32_K], at[F32_K];
    vm_t pos[F32_K], A0[F32_K];
    int j, hard = 1;
    for (j = 0; j < nk; j++)
        a[j] = vd_abs(x[j]);
    for (j = 0; j < nk; j++)
        e[j] = vd_exp_neg(a[j]);
    for (j = 0; j < nk; j++) {
        pos[j] = vd_ge(x[j], zero);
        y[j] = vd_mla(tr[j], keep, half);
        q[j] = vd_mla(vd_sub(one, tr[j]), keep, half);
        A[j] = vd_select(pos[j], q[j], y[j]);
        B[j] = vd_select(pos[j], y[j], q[j]);
        v[j] = vd_mla(B[j], e[j], A[j]);
        A0[j] = vd_eq(A[j], zero);
        if (hard_read)
            hard &= vm_all(vm_or(A0[j], vd_eq(v[j], one)));
        r[j] = vd_rcp50(vd_add(one, e[j]));
        t[j] = vd_log1p_u(vd_mul(e[j], vd_rcp50(vd_add(vd_set1(2.0), e[j]))));
        at[j] = has_alpha ? vd_mla(vd_set1(al), y[j], vd_mul(vd_set1(1 - al), q[j]))
                          : one;
        ce[j] = vd_mla(vd_add(q[j], y[j]), t[j], vd_select(A0[j], zero, vd_mul(A[j], a[j])));
    }
    for (j = 0; j < nk; j++) {
        if (gm == 0) {
            F[j] = one;
        } else if (gm == (int)gm) { /* (1 - p_t)^gamma, 1 - p_t = v r */
            F[j] = vd_powi(vd_mul(v[j], r[j]), (int)gm);
        } else { /* exp(gamma u), u = log(1 - p_t) <= 0 */
            vd_t lg = hard ? zero : vd_log_pos(v[j]);
            vd_t u = vd_sub(vd_select(A0[j], vd_neg(a[j]), lg), t[j]);
            F[j] = vd_exp_neg(vd_mul(vd_set1(-gm), u));
        }
    }
    if (want & CBCE__LOSS)
        for (j = 0; j < nk; j++) { /* F is taken as 1 where ce is infinite */
            vd_t l = vd_mul(at[j], ce[j]);
            if (terms)
                l = vd_mla(vd_set1(eps), vd_mul(v[j], r[j]), l);
            lo[j] = vd_mul(vd_select(vd_eq(ce[j], vd_set1(HUGE_VAL)), one, F[j]), l);
        }
    if (want & (CBCE__GRAD | CBCE__HESS)) {
        const vd_t eg1 = vd_set1(eps * (gm + 1));
        for (j = 0; j < nk; j++) {
            vd_t L = vd_add(q[j], y[j]), s = vd_mul(e[j], r[j]), Ls = vd_mul(L, s);
            vd_t g0 = vd_select(pos[j], vd_sub(q[j], Ls), vd_sub(Ls, y[j]));
            vd_t D = vd_mul(keep, vd_sub(vd_sub(one, tr[j]), tr[j]));
            vd_t iv = hard ? one : vd_rcp50(v[j]);
            vd_t rho = vd_select(A0[j], one, vd_mul(e[j], iv));
            vd_t gu1 = vd_mul(gamma, vd_mul(vd_mul(D, rho), r[j])); /* gamma u' */
            vm_t zg = vd_eq(gu1, zero);
            vd_t gu = vd_select(zg, zero, vd_mul(gu1, ce[j]));
            vd_t vp = vd_mul(D, vd_mul(r[j], s)); /* v' */
            if (want & CBCE__GRAD) {
                vd_t g = vd_mul(at[j], vd_add(gu, g0));
                if (terms)
                    g = vd_mla(eg1, vp, g);
                gr[j] = vd_mul(F[j], g);
            }
            if (want & CBCE__HESS) {
                vd_t kappa = vd_select(A0[j], vd_neg(e[j]),
                                       vd_mul(vd_nmla(vd_mul(B[j], e[j]), e[j], A[j]), iv));
                vd_t gu2 = vd_mul(vd_mul(gamma, vd_select(pos[j], vd_neg(D), D)),
                                  vd_mul(vd_mul(rho, kappa), vd_mul(r[j], r[j])));
                vd_t h1 = vd_select(zg, zero, vd_mul(gu1, vd_add(gu, vd_add(g0, g0))));
                vd_t h2 = vd_select(vd_eq(gu2, zero), zero, vd_mul(gu2, ce[j]));
                vd_t h = vd_mul(at[j], vd_add(vd_add(h1, h2), vd_mul(Ls, r[j])));
                if (terms) { /* + eps (gamma + 1) (gamma u' v' + v''), v'' = v' (1 - 2p) */
                    vd_t om = vd_mul(vd_one_minus_exp_neg(a[j], e[j]), r[j]);
                    vd_t vpp = vd_mul(vp, vd_select(pos[j], vd_neg(om), om));
                    h = vd_mla(eg1, vd_select(zg, vpp, vd_mla(gu1, vp, vpp)), h);
                }
                he[j] = vd_mul(F[j], h);
            }
        }
    }
    for (j = 0; j < nk; j++) {
        vm_t rare = vm_andnot(vm_not(A0[j]), vd_ge(v[j], vd_set1(0x1p-120)));
        if (vm_any(rare))
            s32_redo_lanes(FOCAL32_ELEM(poly), want, k, rare, x[j], tr[j], lo + j, gr + j,
                           he + j);
    }
}

/* One instance with `want`, `reduced` and `poly` (the frame's `fam`) as run-time values
 * (their tests are per vector and predictable), as logits.c's Poly-1 kernel. */
#define CBCE__S32_VEC(want, plain, nk, x, tr, pw, keep, half, lo, gr, he)               \
    ((void)(pw), focal32_vec(want, fam, nk, x, tr, k, lo, gr, he)) /* no pos_weight */
#define CBCE__S32_NAME focal32
#define CBCE__S32_PLAIN 0
#include "losses/span32.h"

/* The focal loss (poly 0) or the Poly-1 focal loss (poly 1): span32.h's `fam`. */
CBCE__MAYBE_UNUSED CBCE__NOINLINE static void focal32_span(int poly, int want, int reduced,
                                                           const cbce__span *S,
                                                           const cbce__span_consts *k0)
{
    cbce__span_consts k = *k0;
    if (k.eps > 0 && k.half == 0) /* as in logits.c's logits_step_d */
        k.half = k.eps;
    focal32_body_fam(want, reduced, poly,
                     k.par[CBCE__PARAM_gamma] > FOCAL32_GAMMA_MAX ? FOCAL32_ELEM(poly) : NULL,
                     S, &k);
}

/* The span functions (gamma = 0 without alpha is BCE with logits: its span kernel). */
CBCE__MAYBE_UNUSED static void focal_span_d(int want, int reduced, const cbce__span *S,
                                            const cbce__span_consts *k)
{
    double alpha = k->par[CBCE__PARAM_alpha];
    if (k->par[CBCE__PARAM_gamma] == 0 && alpha != alpha)
        CBCE__ISA_NAME(cbce__logits_steps).d_span(want, reduced, S, k);
    else
        focal32_span(0, want, reduced, S, k);
}

CBCE__MAYBE_UNUSED static void poly1_focal_span_d(int want, int reduced, const cbce__span *S,
                                                  const cbce__span_consts *k)
{
    focal32_span(1, want, reduced, S, k);
}

/* poly1.c's table lists this one. */
CBCE__S32_FORWARD(cbce__poly1_focal_steps, poly1_focal_span_d)
void CBCE__ISA_NAME(cbce__poly1_focal_span32)(int want, int reduced, const cbce__span *S,
                                              const cbce__span_consts *k)
{
    CBCE__S32_SPAN(cbce__poly1_focal_steps, poly1_focal_span_d)(want, reduced, S, k);
}

CBCE__S32_FORWARD(cbce__focal_steps, focal_span_d)
CBCE__STEPS(cbce__focal_steps, focal_step_d, focal_step_x,
            CBCE__S32_SPAN(cbce__focal_steps, focal_span_d), NULL);
