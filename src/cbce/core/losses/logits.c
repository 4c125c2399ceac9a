/*
 * logits.c -- binary cross-entropy with logits: the compute step (one body, two
 * precisions, see logits_elem.h) and the float32 span kernel; the entry points are
 * families.c's.
 */
#include "losses/logits_elem.h"
#include "losses/step.h"
#include "losses/span32.h"
#include "math/vec_math.h"

#define CBCE__LOGITS_CALL_D(W, i)                                                         \
    cbce__logits_d(W, x[i], t[i], p[i], w[i], m[i], k->keep, k->half, &l[i], &g[i], &h[i])
#define CBCE__LOGITS_CALL_D_UNIT(W, i)                                                    \
    cbce__logits_d_unit(W, x[i], t[i], p[i], w[i], m[i], k->keep, k->half, &l[i], &g[i],  \
                        &h[i])

CBCE__FAMILY_LOSS_STEP(logits_step_d_general, CBCE__LOGITS_CALL_D)
CBCE__FAMILY_LOSS_STEP(logits_step_d_unit, CBCE__LOGITS_CALL_D_UNIT)

/* float32: no label_smoothing and every pos_weight 1 (absent, or all ones in this chunk)
 * takes the element without the smoothing and pos_weight arithmetic (logits_elem.h `unit`). */
static int unit_pos_weight(size_t c, const double *p)
{
    int unit = 1;
    size_t i;
    for (i = 0; i < c; i++)
        unit &= p[i] == 1.0;
    return unit;
}

static void logits_step_d(CBCE__STEP_PARAMS(, k))
{
    cbce__consts kd = *k;
    /* The smallest subnormal label_smoothing halves to 0 (a tie, to even), which would make
     * q = 0 for a hard label and the loss at an infinite logit 0 instead of inf.  Any
     * positive half this small gives the same float32 results otherwise (it moves y and q
     * by < 2^-1073), so take eps itself. */
    if (kd.eps > 0 && kd.half == 0)
        kd.half = kd.eps;
    (kd.eps == 0 && unit_pos_weight(c, p) ? logits_step_d_unit : logits_step_d_general)(
        want, c, x, t, p, w, m, ml, &kd, l, g, h);
}

/*
 * float32 data: the span kernel on the vector layer (simd/vec.h).  Double arithmetic to
 * about 2^-28 relative before the one rounding to float, which gives <= 0.5 + 2^-28 * 2^24
 * ~ 0.56 ulp (measured maxima: tests/c/acc_logits32.c); weight, pos_weight and grad_output
 * are multiplied in before that rounding.  No division instruction, no table:
 *   e = exp(-a) by vd_exp_neg (math/vec_math.h: 2^-34.5; a clamped at 1000, where e = 0
 *       and results are far below float's range even times the largest weight and
 *       pos_weight, 2^256);
 *   t = log1p(e) by vd_log1p_u from u = e/(2+e) in [0, 1/3] (2^-33);
 *   s = e/(1+e), r = 1/(1+e): reciprocals by vd_rcp27 (2^-28 on AVX-512, the largest
 *   term of the budget there; 2^-45 on AVX2, exact on the scalar level).
 * The formulas are logits_elem.h's.  c*a is 0 where c = 0 (the limit at an infinite logit; NaN
 * still comes through t).
 * Independent vectors in flight per step (the frame is span32.h): L32_K in the plain body,
 * 4 in the general one.  The chains are long and latency-bound: on AVX-512 and AVX2, 8
 * vectors run the forward 1.03-1.2x and the fused pass 1.13-1.17x as fast as 4; on the
 * baseline level's one-lane vectors 8 gains nothing.
 */
#define L32_K CBCE__S32_K_WIDE
/* The plain body's clamp on a = |x| in c*a: finite float32 logits are below 2^128, and
 * c = 0 gives c*2^400 = 0 where c*inf is NaN; c >= 2^-149 (a float32 target) gives >=
 * 2^251, and sums of up to 2^64 such terms stay finite in double and round to inf in float. */
#define CBCE__L32_ABIG 0x1p400

/* nk (a constant 1 or K) vectors of elements: raw loss lo, d/dx gr, d2/dx2 he (no
 * weights), from the input x, the raw target tr and the pos_weight pw.  `plain`: L = q + y
 * rounds to 1 in double for every float32 target below 2^53 in magnitude, and the body
 * takes L = 1 (the exact value for any finite target), with 0*tr added to the terms it
 * multiplies (+-0 for a finite target, NaN for an infinite or NaN one, as L is; the scalar
 * element's `unit` does the same).  `poly` (a
 * constant; 0 for BCE with logits, whose operations it leaves as they are): Poly-1, the
 * terms of eps (1 - p_t) added (poly1.c's formulas: v = (A + B e) r, v' = (q - y) r s,
 * v'' = v' (1 - 2 sigmoid(x)), 1 - 2 sigmoid(x) = -+(1 - e) r), each a few 2^-50 relative
 * (1 - e: absolute), added in double before the one rounding. */
CBCE__VI void logits32_vec(const int want, const int plain, const int poly, const int nk,
                           const vd_t *x, const vd_t *tr, const vd_t *pw, vd_t keep,
                           vd_t half, vd_t eps, vd_t *lo, vd_t *gr, vd_t *he)
{
    vd_t a[L32_K], e[L32_K], y[L32_K], q[L32_K], py[L32_K], L[L32_K];
    vm_t pos[L32_K];
    const vd_t one = vd_set1(1.0);
    int j;
    for (j = 0; j < nk; j++)
        a[j] = vd_abs(x[j]);
    for (j = 0; j < nk; j++)
        e[j] = vd_exp_neg(a[j]);
    for (j = 0; j < nk; j++) {
        pos[j] = vd_ge(x[j], vd_zero());
        y[j] = plain ? tr[j] : vd_mla(tr[j], keep, half);
        q[j] = plain ? vd_sub(one, tr[j]) : vd_mla(vd_sub(one, tr[j]), keep, half);
        py[j] = plain ? y[j] : vd_mul(pw[j], y[j]);
        if (!plain)
            L[j] = vd_add(q[j], py[j]);
    }
    vd_t r[L32_K], vp[L32_K];
    if (poly || (want & (CBCE__GRAD | CBCE__HESS)))
        for (j = 0; j < nk; j++)
            r[j] = vd_rcp27(vd_add(one, e[j]));
    if (want & CBCE__LOSS) {
        vd_t t[L32_K];
        for (j = 0; j < nk; j++)
            t[j] = vd_log1p_u(vd_mul(e[j], vd_rcp27(vd_add(vd_set1(2.0), e[j]))));
        for (j = 0; j < nk; j++) {
            vd_t c = vd_select(pos[j], q[j], py[j]);
            if (plain) { /* c*a exact, with a clamped and 0*tr added (see L = 1 above) */
                vd_t ab = vd_mla(tr[j], vd_zero(), vd_min(vd_set1(CBCE__L32_ABIG), a[j]));
                lo[j] = vd_mla(c, ab, t[j]);
            } else {
                vd_t ca = vd_select(vd_eq(c, vd_zero()), vd_zero(), vd_mul(c, a[j]));
                lo[j] = vd_mla(L[j], t[j], ca);
            }
            if (poly) { /* + eps (A + B e) r */
                vd_t A = vd_select(pos[j], q[j], y[j]), B = vd_select(pos[j], y[j], q[j]);
                lo[j] = vd_mla(eps, vd_mul(vd_mla(B, e[j], A), r[j]), lo[j]);
            }
        }
    }
    if (want & (CBCE__GRAD | CBCE__HESS)) {
        vd_t Ls[L32_K];
        for (j = 0; j < nk; j++) {
            Ls[j] = plain ? vd_mla(tr[j], vd_zero(), vd_mul(e[j], r[j]))
                          : vd_mul(L[j], vd_mul(e[j], r[j]));
            if (poly) /* v' = (q - y) r s */
                vp[j] = vd_mul(vd_sub(q[j], y[j]), vd_mul(r[j], vd_mul(e[j], r[j])));
        }
        for (j = 0; j < nk; j++) {
            if (want & CBCE__GRAD)
                gr[j] = vd_select(pos[j], vd_sub(q[j], Ls[j]), vd_sub(Ls[j], py[j]));
            if ((want & CBCE__GRAD) && poly)
                gr[j] = vd_mla(eps, vp[j], gr[j]);
            if (want & CBCE__HESS)
                he[j] = vd_mul(Ls[j], r[j]);
            if ((want & CBCE__HESS) && poly) { /* + eps v' (1 - 2 sigmoid(x)) */
                vd_t om = vd_mul(vd_sub(one, e[j]), r[j]);
                he[j] = vd_mla(eps, vd_mul(vp[j], vd_select(pos[j], vd_neg(om), om)), he[j]);
            }
        }
    }
}

#define CBCE__S32_VEC(want, plain, nk, x, tr, pw, keep, half, lo, gr, he)               \
    logits32_vec(want, plain, 0, nk, x, tr, pw, keep, half, vd_zero(), lo, gr, he)
#define CBCE__S32_NAME logits32
#define CBCE__S32_STEP L32_K
#define CBCE__S32_PLAIN 1
#include "losses/span32.h"

/* Poly-1 on float32 data (poly1.c's table): the body with the poly terms (eps from the
 * frame's span constants k, in scope where span32.h expands the macro), two instances
 * (plain and general) with `want` and `reduced` as run-time values (their tests are per
 * vector and predictable; an instance per `want` would double the extension's share of
 * this kernel). */
#define CBCE__S32_VEC(want, plain, nk, x, tr, pw, keep, half, lo, gr, he)               \
    logits32_vec(want, plain, 1, nk, x, tr, pw, keep, half,                               \
                 vd_set1(k->par[CBCE__PARAM_epsilon]), lo, gr, he)
#define CBCE__S32_NAME poly1_32
#define CBCE__S32_STEP L32_K
#define CBCE__S32_PLAIN 0
#include "losses/span32.h"

void CBCE__ISA_NAME(cbce__poly1_span32)(int want, int reduced, const cbce__span *S,
                                        const cbce__span_consts *k0)
{
    cbce__span_consts k = *k0;
    if (k.eps > 0 && k.half == 0) /* as in logits_step_d */
        k.half = k.eps;
    if (s32_plain(S, &k))
        poly1_32_body(want, reduced, 1, S, &k);
    else
        poly1_32_body(want, reduced, 0, S, &k);
}

CBCE__MAYBE_UNUSED static void logits32_span(int want, int reduced, const cbce__span *S,
                                             const cbce__span_consts *k0)
{
    cbce__span_consts k = *k0;
    if (k.eps > 0 && k.half == 0) /* as in logits_step_d */
        k.half = k.eps;
    logits32_run(want, reduced, s32_plain(S, &k), S, &k);
}

/* float64 data: the span kernel of logits64.h (it uses load_any above). */
#include "losses/logits64.h"

/* The chunk steps for float64 data of BCE with logits and of Poly-1 (the focal loss's gamma
 * = 0 delegates to the first; the families run the span kernels below, and the driver's
 * pass over an overflowing reduced sum the chunk step): the careful element on every
 * element, pe the Poly-1 epsilon. */
static void x64_careful_step(double pe, CBCE__STEP_PARAMS(, k))
{
    cbce__x64k kx = cbce__x64_consts(k->eps, pe);
    size_t i;
    for (i = 0; i < c; i++)
        cbce__x64_careful(want, x[i], t[i], p[i], w[i], 1.0, 1.0, m[i], ml[i], &kx, l + i,
                          g + i, h + i);
}

CBCE__MAYBE_UNUSED static void logits_step_x(CBCE__STEP_PARAMS(, k))
{
    x64_careful_step(0.0, want, c, x, t, p, w, m, ml, k, l, g, h);
}

void CBCE__ISA_NAME(cbce__poly1_step64)(CBCE__STEP_PARAMS(, k))
{
    x64_careful_step(k->par[CBCE__PARAM_epsilon], want, c, x, t, p, w, m, ml, k, l, g, h);
}

/* The baseline level's vector layer is the scalar one (CBCE__VW 1) on x86-64, as at the
 * scalar level, which compiles the same C with auto-vectorisation off: the same IEEE
 * operations in the same order, the same results.  Where the scalar level is built, the
 * baseline runs its float64 span kernel instead of carrying a second copy (~90 KB). */
#if !defined(CBCE__ISA_VARIANT) && CBCE__HAVE_VARIANTS && CBCE__VW == 1
extern const cbce__steps cbce__logits_steps_scalar, cbce__poly1_steps_scalar;
static void x64_span(int want, int reduced, const cbce__span *S, const cbce__span_consts *k)
{
    cbce__logits_steps_scalar.x_span(want, reduced, S, k);
}
void CBCE__ISA_NAME(cbce__poly1_span64)(int want, int reduced, const cbce__span *S,
                                        const cbce__span_consts *k)
{
    cbce__poly1_steps_scalar.x_span(want, reduced, S, k);
}
#else
#define x64_span cbce__x64_span
/* Poly-1 on float64 data (poly1.c's table): the kernel above with the poly terms. */
void CBCE__ISA_NAME(cbce__poly1_span64)(int want, int reduced, const cbce__span *S,
                                        const cbce__span_consts *k)
{
    cbce__x64_poly1_span(want, reduced, S, k);
}
#endif

CBCE__S32_FORWARD(cbce__logits_steps, logits32_span)
CBCE__STEPS(cbce__logits_steps, logits_step_d, logits_step_x,
            CBCE__S32_SPAN(cbce__logits_steps, logits32_span), x64_span);
