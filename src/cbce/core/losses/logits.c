/*
 * logits.c -- binary cross-entropy with logits: the compute step (one body, two
 * precisions, see logits_elem.h) and the float32 span kernel; the entry points are families.c's.
 */
#include "losses/logits_elem.h"
#include "losses/step.h"
#include "simd/vec.h"

#define CBCE__LOGITS_CALL_D(W, i)                                                         \
    cbce__logits_d(W, x[i], t[i], p[i], w[i], m[i], k->keep, k->half, &l[i], &g[i], &h[i])
#define CBCE__LOGITS_CALL_D_UNIT(W, i)                                                    \
    cbce__logits_d_unit(W, x[i], t[i], p[i], w[i], m[i], k->keep, k->half, &l[i], &g[i],  \
                        &h[i])

CBCE__FAMILY_STEP(logits_step_d_general, CBCE__LOGITS_CALL_D)
CBCE__FAMILY_STEP(logits_step_d_unit, CBCE__LOGITS_CALL_D_UNIT)

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

static void logits_step_d(int want, size_t c, const double *x, const double *t,
                          const double *p, const double *w, const double *m,
                          const double *ml, const cbce__consts *k, double *l, double *g,
                          double *h)
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
 *   e = exp(-a) = 2^(-a/ln2): n = round(-a/ln2), g = -a/ln2 - n in [-1/2, 1/2],
 *       2^g by a degree-7 polynomial (2^-34.5), scaled by 2^n (vd_scalef).  The rounding
 *       of a/ln2 moves e by <= 2^-53 * a/ln2 * ln2 relative: 2^-43 at a = 1000, where
 *       a is clamped (e = 2^-1443 = 0; results there are far below float's range even
 *       times the largest weight and pos_weight, 2^256).
 *   t = log1p(e) = u Q(u^2), u = e/(2+e) in [0, 1/3], Q of degree 5 (2^-33);
 *   s = e/(1+e), r = 1/(1+e): reciprocals by vd_rcp27 (2^-28 on AVX-512, the largest
 *   term of the budget there; 2^-45 on AVX2, exact on the scalar level).
 * The formulas are logits_elem.h's.  c*a is 0 where c = 0 (the limit at an infinite logit; NaN
 * still comes through t).
 * K = 4 independent vectors are in flight per step (the chain is long and latency-bound
 * otherwise); lane sums: vector v of a span goes to accumulator v % K.
 */
#define L32_K 4
#define INV_LN2 0x1.71547652b82fep+0
/* 2^g on [-1/2, 1/2], degree 7 (Chebyshev fit, 2^-34.5 relative) */
#define E2_0 0x1.ffffffffa712fp-1
#define E2_1 0x1.62e42fef9cc68p-1
#define E2_2 0x1.ebfbe0aa04648p-3
#define E2_3 0x1.c6b08da70cf75p-5
#define E2_4 0x1.3b29d8ba9c555p-7
#define E2_5 0x1.5d877597f08c6p-10
#define E2_6 0x1.446c7a48d8078p-13
#define E2_7 0x1.00c0e51820450p-16
/* Q(w) = 2 atanh(sqrt w) / sqrt w on [0, 1/9], degree 5 (2^-33 relative) */
#define Q5_0 0x1.ffffffff2dfd1p+0
#define Q5_1 0x1.5555597b13e25p-1
#define Q5_2 0x1.999638b350993p-2
#define Q5_3 0x1.251228fdab135p-2
#define Q5_4 0x1.b63e00431a586p-3
#define Q5_5 0x1.f396ab57dbd64p-3

/* nk (a constant 1 or K) vectors of elements: raw loss lo, d/dx gr, d2/dx2 he (no
 * weights), from the input x, the raw target tr and the pos_weight pw.  `poly` (a
 * constant; 0 for BCE with logits, whose operations it leaves as they are): Poly-1, the
 * terms of eps (1 - p_t) added (poly1.c's formulas: v = (A + B e) r, v' = (q - y) r s,
 * v'' = v' (1 - 2 sigmoid(x)), 1 - 2 sigmoid(x) = -+(1 - e) r), each a few 2^-50 relative
 * (1 - e: absolute), added in double before the one rounding. */
CBCE__VI void logits32_vec(const int want, const int plain, const int poly, const int nk,
                           const vd_t *x, const vd_t *tr, const vd_t *pw, vd_t keep,
                           vd_t half, vd_t eps, vd_t *lo, vd_t *gr, vd_t *he)
{
    vd_t a[L32_K], g[L32_K], n[L32_K], e[L32_K], y[L32_K], q[L32_K], py[L32_K], L[L32_K];
    vm_t pos[L32_K];
    const vd_t one = vd_set1(1.0);
    int j;
    for (j = 0; j < nk; j++) {
        a[j] = vd_abs(x[j]);
        g[j] = vd_mul(vd_min(vd_set1(1000.0), a[j]), vd_set1(-INV_LN2));
        n[j] = vd_round(g[j]);
        g[j] = vd_sub(g[j], n[j]);
    }
    for (j = 0; j < nk; j++) {
        vd_t p = vd_mla(vd_set1(E2_7), g[j], vd_set1(E2_6));
        p = vd_mla(p, g[j], vd_set1(E2_5));
        p = vd_mla(p, g[j], vd_set1(E2_4));
        p = vd_mla(p, g[j], vd_set1(E2_3));
        p = vd_mla(p, g[j], vd_set1(E2_2));
        p = vd_mla(p, g[j], vd_set1(E2_1));
        p = vd_mla(p, g[j], vd_set1(E2_0));
        e[j] = vd_ldexp(p, n[j]); /* n in [-1443, 0] */
    }
    for (j = 0; j < nk; j++) {
        pos[j] = vd_ge(x[j], vd_zero());
        y[j] = plain ? tr[j] : vd_mla(tr[j], keep, half);
        q[j] = plain ? vd_sub(one, tr[j]) : vd_mla(vd_sub(one, tr[j]), keep, half);
        py[j] = plain ? y[j] : vd_mul(pw[j], y[j]);
        L[j] = vd_add(q[j], py[j]);
    }
    vd_t r[L32_K], vp[L32_K];
    if (poly || (want & (CBCE__GRAD | CBCE__HESS)))
        for (j = 0; j < nk; j++)
            r[j] = vd_rcp27(vd_add(one, e[j]));
    if (want & CBCE__LOSS) {
        vd_t u[L32_K], w[L32_K], Q[L32_K];
        for (j = 0; j < nk; j++)
            u[j] = vd_mul(e[j], vd_rcp27(vd_add(vd_set1(2.0), e[j])));
        for (j = 0; j < nk; j++) {
            w[j] = vd_mul(u[j], u[j]);
            Q[j] = vd_mla(vd_set1(Q5_5), w[j], vd_set1(Q5_4));
            Q[j] = vd_mla(Q[j], w[j], vd_set1(Q5_3));
            Q[j] = vd_mla(Q[j], w[j], vd_set1(Q5_2));
            Q[j] = vd_mla(Q[j], w[j], vd_set1(Q5_1));
            Q[j] = vd_mla(Q[j], w[j], vd_set1(Q5_0));
        }
        for (j = 0; j < nk; j++) {
            vd_t c = vd_select(pos[j], q[j], py[j]);
            vd_t ca = vd_select(vd_eq(c, vd_zero()), vd_zero(), vd_mul(c, a[j]));
            lo[j] = vd_mla(L[j], vd_mul(u[j], Q[j]), ca);
            if (poly) { /* + eps (A + B e) r */
                vd_t A = vd_select(pos[j], q[j], y[j]), B = vd_select(pos[j], y[j], q[j]);
                lo[j] = vd_mla(eps, vd_mul(vd_mla(B, e[j], A), r[j]), lo[j]);
            }
        }
    }
    if (want & (CBCE__GRAD | CBCE__HESS)) {
        vd_t Ls[L32_K];
        for (j = 0; j < nk; j++) {
            Ls[j] = vd_mul(L[j], vd_mul(e[j], r[j]));
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

/* Element i of an operand of dtype dt as double: a full vector, or the first m lanes (a
 * bool byte other than 0 is 1). */
CBCE__VI vd_t load_any(const void *p, int dt, size_t i, size_t m)
{
    if (m >= CBCE__VW) {
        switch (dt) {
        case CBCE_F32: return vd_load_f32((const float *)p + i);
        case CBCE_F64: return vd_load((const double *)p + i);
        case CBCE_I8: return vd_load_i8((const int8_t *)p + i);
        case CBCE_BOOL: return vd_min(vd_load_u8((const uint8_t *)p + i), vd_set1(1.0));
        default: return vd_load_u8((const uint8_t *)p + i);
        }
    }
    switch (dt) {
    case CBCE_F32: return vd_loadn_f32((const float *)p + i, m);
    case CBCE_F64: return vd_loadn((const double *)p + i, m);
    case CBCE_I8: return vd_loadn_i8((const int8_t *)p + i, m);
    case CBCE_BOOL: return vd_min(vd_loadn_u8((const uint8_t *)p + i, m), vd_set1(1.0));
    default: return vd_loadn_u8((const uint8_t *)p + i, m);
    }
}

CBCE__VI vd_t load_f32(const float *p, size_t i, size_t m)
{
    return m >= CBCE__VW ? vd_load_f32(p + i) : vd_loadn_f32(p + i, m);
}

CBCE__VI void store_f32(void *p, size_t i, vd_t v, size_t m)
{
    if (m >= CBCE__VW)
        vd_store_f32((float *)p + i, v);
    else
        vd_storen_f32((float *)p + i, v, m);
}

/* nk vectors from element i (the last one with m lanes, m < VW only when nk is 1):
 * loads, logits32_vec, the weights, the stores or lane sums into acc[j0 + j]. */
CBCE__VI void logits32_step(const int want, const int reduced, const int plain,
                            const int poly, const int nk, const cbce__span *S,
                            const cbce__span_consts *k, size_t i, size_t m, vd_t *acc, int j0)
{
    vd_t X[L32_K], T[L32_K], P[L32_K], W[L32_K], lo[L32_K], gr[L32_K], he[L32_K];
    int j;
    for (j = 0; j < nk; j++) {
        size_t ij = i + (size_t)j * CBCE__VW;
        lo[j] = gr[j] = he[j] = vd_zero(); /* (outputs not wanted: -Wmaybe-uninitialized) */
        X[j] = load_f32((const float *)S->x, ij, m);
        T[j] = plain ? load_f32((const float *)S->t, ij, m) : load_any(S->t, S->tdtype, ij, m);
        P[j] = !plain && S->p ? load_f32((const float *)S->p, ij, m) : vd_set1(k->pk);
        W[j] = !plain && S->w ? load_f32((const float *)S->w, ij, m) : vd_set1(k->wk);
    }
    logits32_vec(want, plain, poly, nk, X, T, P, vd_set1(k->keep), vd_set1(k->half),
                 vd_set1(poly ? k->poly : 0.0), lo, gr, he);
    for (j = 0; j < nk; j++) {
        size_t ij = i + (size_t)j * CBCE__VW;
        if (want & CBCE__LOSS) {
            vd_t l = plain ? lo[j] : vd_mul(vd_mul(W[j], vd_set1(k->lscale)), lo[j]);
            if (reduced)
                acc[j0 + j] = vd_add(acc[j0 + j], m >= CBCE__VW ? l : vd_select(vm_first(m), l, vd_zero()));
            else
                store_f32(S->l, ij, l, m);
        }
        if (want & (CBCE__GRAD | CBCE__HESS)) {
            vd_t mu = plain ? vd_set1(k->gscale)
                      : S->go ? vd_mul(load_f32((const float *)S->go, ij, m), W[j])
                              : vd_mul(vd_mul(W[j], vd_set1(k->wpre)), vd_set1(k->gscale));
            if (want & CBCE__GRAD)
                store_f32(S->g, ij, vd_mul(mu, gr[j]), m);
            if (want & CBCE__HESS)
                store_f32(S->h, ij, vd_mul(mu, he[j]), m);
        }
    }
}

CBCE__VI void logits32_span_body(const int want, const int reduced, const int plain,
                                 const int poly, const cbce__span *S,
                                 const cbce__span_consts *k)
{
    vd_t acc[L32_K];
    size_t i = 0, c = S->c;
    int j;
    for (j = 0; j < L32_K; j++)
        acc[j] = reduced ? vd_load(S->lanes + j * CBCE__VW) : vd_zero();
    for (; i + L32_K * CBCE__VW <= c; i += L32_K * CBCE__VW)
        logits32_step(want, reduced, plain, poly, L32_K, S, k, i, CBCE__VW, acc, 0);
    for (j = 0; i < c; i += CBCE__VW, j++)
        logits32_step(want, reduced, plain, poly, 1, S, k, i, c - i, acc, j);
    if (reduced)
        for (j = 0; j < L32_K; j++)
            vd_store(S->lanes + j * CBCE__VW, acc[j]);
}

/* `plain`: the common case (float32 target, no smoothing, no weight or pos_weight other
 * than 1, unit multipliers) without the arithmetic by those ones; its results are bitwise
 * those of the general body (every skipped operation is exact: t*1 + 0, 1*y, 1*l). */
#define L32_BODIES(PLAIN, POLY)                                                                \
    switch (want) {                                                                      \
    case CBCE__LOSS:                                                                     \
        if (reduced)                                                                     \
            logits32_span_body(CBCE__LOSS, 1, PLAIN, POLY, S, k);                              \
        else                                                                             \
            logits32_span_body(CBCE__LOSS, 0, PLAIN, POLY, S, k);                              \
        break;                                                                           \
    case CBCE__GRAD: logits32_span_body(CBCE__GRAD, 0, PLAIN, POLY, S, k); break;              \
    case CBCE__LOSS | CBCE__GRAD:                                                        \
        if (reduced)                                                                     \
            logits32_span_body(CBCE__LOSS | CBCE__GRAD, 1, PLAIN, POLY, S, k);                 \
        else                                                                             \
            logits32_span_body(CBCE__LOSS | CBCE__GRAD, 0, PLAIN, POLY, S, k);                 \
        break;                                                                           \
    default: logits32_span_body(CBCE__GRAD | CBCE__HESS, 0, PLAIN, POLY, S, k); break;         \
    }

static void logits32_span(int want, int reduced, const cbce__span *S,
                          const cbce__span_consts *k0)
{
    cbce__span_consts kc = *k0, *k = &kc;
    if (kc.eps > 0 && kc.half == 0) /* as in logits_step_d */
        kc.half = kc.eps;
    if (S->tdtype == CBCE_F32 && !S->p && !S->w && !S->go && kc.eps == 0 && kc.pk == 1 &&
        kc.wk == 1 && kc.lscale == 1 && kc.wpre == 1)
        L32_BODIES(1, 0)
    else
        L32_BODIES(0, 0)
}

/* Poly-1 on float32 data (poly1.c's table): the general body with the poly terms, one
 * instance with `want` and `reduced` as run-time values (their tests are per vector and
 * predictable; one instance keeps the extension's size in bounds). */
void CBCE__ISA_NAME(cbce__poly1_span32)(int want, int reduced, const cbce__span *S,
                                        const cbce__span_consts *k0)
{
    cbce__span_consts kc = *k0, *k = &kc;
    if (kc.eps > 0 && kc.half == 0) /* as in logits_step_d */
        kc.half = kc.eps;
    logits32_span_body(want, reduced, 0, 1, S, k);
}
#undef L32_BODIES

/* float64 data: the span kernel of logits64.h (it uses load_any above). */
#include "losses/logits64.h"

/* The chunk step for float64 data (the focal loss's gamma = 0 delegates to it; this
 * family itself runs cbce__x64_span): the careful element on every element. */
CBCE__MAYBE_UNUSED static void logits_step_x(int want, size_t c, const double *x,
                                              const double *t, const double *p,
                                              const double *w, const double *m,
                                              const double *ml, const cbce__consts *k,
                                              double *l, double *g, double *h)
{
    cbce__x64k kx = cbce__x64_consts(k->eps);
    size_t i;
    for (i = 0; i < c; i++)
        cbce__x64_careful(want, x[i], t[i], p[i], w[i], 1.0, 1.0, m[i], ml[i], &kx, l + i,
                          g + i, h + i);
}

/* The baseline level's vector layer is the scalar one (CBCE__VW 1) on x86-64, as at the
 * scalar level, which compiles the same C with auto-vectorisation off: the same IEEE
 * operations in the same order, the same results.  Where the scalar level is built, the
 * baseline runs its float64 span kernel instead of carrying a second copy (~90 KB). */
#if !defined(CBCE__ISA_VARIANT) && CBCE__HAVE_VARIANTS && CBCE__VW == 1
extern const cbce__steps cbce__logits_steps_scalar;
static void x64_span(int want, int reduced, const cbce__span *S, const cbce__span_consts *k)
{
    cbce__logits_steps_scalar.x_span(want, reduced, S, k);
}
#else
#define x64_span cbce__x64_span
#endif

CBCE__STEPS(cbce__logits_steps, logits_step_d, logits_step_x, logits32_span, x64_span);
