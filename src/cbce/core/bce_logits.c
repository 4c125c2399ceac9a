/*
 * bce_logits.c -- binary cross-entropy with logits: the compute step (one body, two
 * precisions, see elem.h) and the public entry points.
 */
#include "elem.h"
#include "simd/vec.h"

/* One body for both precisions.  `want` is tested once per chunk, so each loop is a
 * plain elementwise loop with the branch-free element function inlined.  The buffers are
 * distinct (the driver's chunk buffers): `restrict` and the constants read once spare GCC
 * the run-time alias checks it would otherwise need (more than 10 for the two-output
 * loops, so it gave up vectorising them).  S: the smoothing constant the element takes,
 * keep = 1 - eps for the "d" element, eps itself for the "x" one (see elem.h). */
#define CBCE__LOGITS_STEP(NAME, ELEM, S)                                                   \
    static void NAME(int want, size_t c, const double *restrict x,                      \
                     const double *restrict t, const double *restrict p,                \
                     const double *restrict w, const double *restrict m,                \
                     const cbce__consts *k0, double *restrict l, double *restrict g,    \
                     double *restrict h)                                                \
    {                                                                                   \
        size_t i;                                                                       \
        const cbce__consts kc = *k0, *k = &kc;                                          \
        switch (want) {                                                                 \
        case CBCE__LOSS:                                                                \
            for (i = 0; i < c; i++)                                                     \
                ELEM(CBCE__LOSS, x[i], t[i], p[i], w[i], m[i], k->S, k->half, &l[i], \
                     0, 0);                                                             \
            break;                                                                      \
        case CBCE__GRAD:                                                                \
            for (i = 0; i < c; i++)                                                     \
                ELEM(CBCE__GRAD, x[i], t[i], p[i], w[i], m[i], k->S, k->half, 0,     \
                     &g[i], 0);                                                         \
            break;                                                                      \
        case CBCE__LOSS | CBCE__GRAD:                                                   \
            for (i = 0; i < c; i++)                                                     \
                ELEM(CBCE__LOSS | CBCE__GRAD, x[i], t[i], p[i], w[i], m[i], k->S,    \
                     k->half, &l[i], &g[i], 0);                                         \
            break;                                                                      \
        default:                                                                        \
            for (i = 0; i < c; i++)                                                     \
                ELEM(CBCE__GRAD | CBCE__HESS, x[i], t[i], p[i], w[i], m[i], k->S,    \
                     k->half, 0, &g[i], &h[i]);                                         \
            break;                                                                      \
        }                                                                               \
    }

CBCE__LOGITS_STEP(logits_step_d_general, cbce__logits_d, keep)
CBCE__LOGITS_STEP(logits_step_d_unit, cbce__logits_d_unit, keep)

/* float32: no label_smoothing and every pos_weight 1 (absent, or all ones in this chunk)
 * takes the element without the smoothing and pos_weight arithmetic (elem.h `unit`). */
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
                          const cbce__consts *k, double *l, double *g, double *h)
{
    cbce__consts kd = *k;
    /* The smallest subnormal label_smoothing halves to 0 (a tie, to even), which would make
     * q = 0 for a hard label and the loss at an infinite logit 0 instead of inf.  Any
     * positive half this small gives the same float32 results otherwise (it moves y and q
     * by < 2^-1073), so take eps itself. */
    if (kd.eps > 0 && kd.half == 0)
        kd.half = kd.eps;
    (kd.eps == 0 && unit_pos_weight(c, p) ? logits_step_d_unit : logits_step_d_general)(
        want, c, x, t, p, w, m, &kd, l, g, h);
}

/*
 * float32 data: the span kernel on the vector layer (simd/vec.h).  Double arithmetic to
 * about 2^-27 relative before the one rounding to float, which gives <= 0.5 + 2^-27 * 2^24
 * ~ 0.6 ulp (measured maxima: tests/c/acc_logits32.c); weight, pos_weight and grad_output
 * are multiplied in before that rounding.  No division instruction, no table:
 *   e = exp(-a) = 2^(-a/ln2): n = round(-a/ln2), g = -a/ln2 - n in [-1/2, 1/2],
 *       2^g by a degree-6 polynomial (2^-28.9), scaled by 2^n (vd_scalef).  The rounding
 *       of a/ln2 moves e by <= 2^-53 * a/ln2 * ln2 relative: 2^-43 at a = 1000, where
 *       a is clamped (e = 2^-1443 = 0; results there are far below float's range even
 *       times the largest weight and pos_weight, 2^256).
 *   t = log1p(e) = u Q(u^2), u = e/(2+e) in [0, 1/3], Q of degree 4 (2^-27.8);
 *   s = e/(1+e), r = 1/(1+e): reciprocals by vd_rcp27 (2^-28 on AVX-512).
 * The formulas are elem.h's.  c*a uses min(a, 1e300): 0 for c = 0 at an infinite logit (the
 * limit), inf after the float rounding for any other c; NaN stays NaN.
 * K = 4 independent vectors are in flight per step (the chain is long and latency-bound
 * otherwise); lane sums: vector v of a span goes to accumulator v % K.
 */
#define L32_K 4
#define INV_LN2 0x1.71547652b82fep+0
#define E2_0 0x1.0000000000000p+0
#define E2_1 0x1.62e430d03518cp-1
#define E2_2 0x1.ebfbe045f50e2p-3
#define E2_3 0x1.c6aecc65ba9afp-5
#define E2_4 0x1.3b2a1b7104e43p-7
#define E2_5 0x1.5f48c0bfcf4abp-10
#define E2_6 0x1.44400016ea23dp-13
#define Q4_0 0x1.000000107f483p+1
#define Q4_1 0x1.5554e18ece036p-1
#define Q4_2 0x1.99da13a3ae642p-2
#define Q4_3 0x1.1e5cf3ec558b3p-2
#define Q4_4 0x1.20561536e608bp-2

/* nk (a constant 1 or K) vectors of elements: raw loss lo, d/dx gr, d2/dx2 he (no
 * weights), from the input x, the raw target tr and the pos_weight pw. */
CBCE__VI void logits32_vec(const int want, const int nk, const vd_t *x, const vd_t *tr,
                           const vd_t *pw, vd_t keep, vd_t half, vd_t *lo, vd_t *gr,
                           vd_t *he)
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
        vd_t p = vd_mla(vd_set1(E2_6), g[j], vd_set1(E2_5));
        p = vd_mla(p, g[j], vd_set1(E2_4));
        p = vd_mla(p, g[j], vd_set1(E2_3));
        p = vd_mla(p, g[j], vd_set1(E2_2));
        p = vd_mla(p, g[j], vd_set1(E2_1));
        p = vd_mla(p, g[j], vd_set1(E2_0));
        e[j] = vd_scalef(p, n[j]);
    }
    for (j = 0; j < nk; j++) {
        pos[j] = vd_ge(x[j], vd_zero());
        y[j] = vd_mla(tr[j], keep, half);
        q[j] = vd_mla(vd_sub(one, tr[j]), keep, half);
        py[j] = vd_mul(pw[j], y[j]);
        L[j] = vd_add(q[j], py[j]);
    }
    if (want & CBCE__LOSS) {
        vd_t u[L32_K], w[L32_K], Q[L32_K];
        for (j = 0; j < nk; j++)
            u[j] = vd_mul(e[j], vd_rcp27(vd_add(vd_set1(2.0), e[j])));
        for (j = 0; j < nk; j++) {
            w[j] = vd_mul(u[j], u[j]);
            Q[j] = vd_mla(vd_set1(Q4_4), w[j], vd_set1(Q4_3));
            Q[j] = vd_mla(Q[j], w[j], vd_set1(Q4_2));
            Q[j] = vd_mla(Q[j], w[j], vd_set1(Q4_1));
            Q[j] = vd_mla(Q[j], w[j], vd_set1(Q4_0));
        }
        for (j = 0; j < nk; j++)
            lo[j] = vd_mla(vd_select(pos[j], q[j], py[j]), vd_min(vd_set1(1e300), a[j]),
                           vd_mul(L[j], vd_mul(u[j], Q[j])));
    }
    if (want & (CBCE__GRAD | CBCE__HESS)) {
        vd_t r[L32_K], Ls[L32_K];
        for (j = 0; j < nk; j++) {
            r[j] = vd_rcp27(vd_add(one, e[j]));
            Ls[j] = vd_mul(L[j], vd_mul(e[j], r[j]));
        }
        for (j = 0; j < nk; j++) {
            if (want & CBCE__GRAD)
                gr[j] = vd_select(pos[j], vd_sub(q[j], Ls[j]), vd_sub(Ls[j], py[j]));
            if (want & CBCE__HESS)
                he[j] = vd_mul(Ls[j], r[j]);
        }
    }
}

/* Element i of an operand of dtype dt as double: a full vector, or the first m lanes. */
CBCE__VI vd_t load_any(const void *p, int dt, size_t i, size_t m)
{
    if (m >= CBCE__VW) {
        switch (dt) {
        case CBCE_F32: return vd_load_f32((const float *)p + i);
        case CBCE_F64: return vd_load((const double *)p + i);
        case CBCE_I8: return vd_load_i8((const int8_t *)p + i);
        default: return vd_load_u8((const uint8_t *)p + i);
        }
    }
    switch (dt) {
    case CBCE_F32: return vd_loadn_f32((const float *)p + i, m);
    case CBCE_F64: return vd_loadn((const double *)p + i, m);
    case CBCE_I8: return vd_loadn_i8((const int8_t *)p + i, m);
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
CBCE__VI void logits32_step(const int want, const int reduced, const int nk,
                            const cbce__span *S, const cbce__span_consts *k, size_t i,
                            size_t m, vd_t *acc, int j0)
{
    vd_t X[L32_K], T[L32_K], P[L32_K], W[L32_K], lo[L32_K], gr[L32_K], he[L32_K];
    int j;
    for (j = 0; j < nk; j++) {
        size_t ij = i + (size_t)j * CBCE__VW;
        X[j] = load_f32((const float *)S->x, ij, m);
        T[j] = load_any(S->t, S->tdtype, ij, m);
        P[j] = S->p ? load_f32((const float *)S->p, ij, m) : vd_set1(k->pk);
        W[j] = S->w ? load_f32((const float *)S->w, ij, m) : vd_set1(k->wk);
    }
    logits32_vec(want, nk, X, T, P, vd_set1(k->keep), vd_set1(k->half), lo, gr, he);
    for (j = 0; j < nk; j++) {
        size_t ij = i + (size_t)j * CBCE__VW;
        if (want & CBCE__LOSS) {
            vd_t l = vd_mul(vd_mul(W[j], vd_set1(k->lscale)), lo[j]);
            if (reduced)
                acc[j0 + j] = vd_add(acc[j0 + j], m >= CBCE__VW ? l : vd_select(vm_first(m), l, vd_zero()));
            else
                store_f32(S->l, ij, l, m);
        }
        if (want & (CBCE__GRAD | CBCE__HESS)) {
            vd_t mu = S->go ? vd_mul(load_f32((const float *)S->go, ij, m), W[j])
                            : vd_mul(vd_mul(W[j], vd_set1(k->wpre)), vd_set1(k->gscale));
            if (want & CBCE__GRAD)
                store_f32(S->g, ij, vd_mul(mu, gr[j]), m);
            if (want & CBCE__HESS)
                store_f32(S->h, ij, vd_mul(mu, he[j]), m);
        }
    }
}

CBCE__VI void logits32_span_body(const int want, const int reduced, const cbce__span *S,
                                 const cbce__span_consts *k)
{
    vd_t acc[L32_K];
    size_t i = 0, c = S->c;
    int j;
    for (j = 0; j < L32_K; j++)
        acc[j] = reduced ? vd_load(S->lanes + j * CBCE__VW) : vd_zero();
    for (; i + L32_K * CBCE__VW <= c; i += L32_K * CBCE__VW)
        logits32_step(want, reduced, L32_K, S, k, i, CBCE__VW, acc, 0);
    for (j = 0; i < c; i += CBCE__VW, j++)
        logits32_step(want, reduced, 1, S, k, i, c - i, acc, j);
    if (reduced)
        for (j = 0; j < L32_K; j++)
            vd_store(S->lanes + j * CBCE__VW, acc[j]);
}

static void logits32_span(int want, int reduced, const cbce__span *S,
                          const cbce__span_consts *k)
{
    switch (want) {
    case CBCE__LOSS:
        if (reduced)
            logits32_span_body(CBCE__LOSS, 1, S, k);
        else
            logits32_span_body(CBCE__LOSS, 0, S, k);
        break;
    case CBCE__GRAD: logits32_span_body(CBCE__GRAD, 0, S, k); break;
    case CBCE__LOSS | CBCE__GRAD:
        if (reduced)
            logits32_span_body(CBCE__LOSS | CBCE__GRAD, 1, S, k);
        else
            logits32_span_body(CBCE__LOSS | CBCE__GRAD, 0, S, k);
        break;
    default: logits32_span_body(CBCE__GRAD | CBCE__HESS, 0, S, k); break;
    }
}

/* float64 data: the span kernel of logits64.h (it uses load_any above). */
#include "logits64.h"

const cbce__steps CBCE__ISA_NAME(cbce__logits_steps) = {logits_step_d, NULL, logits32_span,
                                                        cbce__x64_span};

#ifndef CBCE__ISA_VARIANT
const cbce__family cbce__bce_logits = {CBCE__STEP_TABLES(cbce__logits_steps), 1, 0};

CBCE__LOSS_API(cbce_bce_logits, cbce__bce_logits, f32, float, CBCE_F32)
CBCE__LOSS_API(cbce_bce_logits, cbce__bce_logits, f64, double, CBCE_F64)

#endif /* CBCE__ISA_VARIANT */
