/*
 * span32.h -- the frame of a float32 span kernel (internal.h's cbce__span_fn) on the
 * vector layer (simd/vec.h): operands read straight from memory (float32 data, a target
 * of any dtype), several vectors of elements in flight per step, the weights multiplied
 * in before the one rounding to float, then the stores or the lane sums (vector v of a
 * span goes to accumulator v % K, K = CBCE__S32_K, whatever the step: a lane's terms and
 * their order are fixed by the flat index).  Vectors per step: K, or in the `plain` body
 * CBCE__S32_STEP where the kernel defines it (a multiple of K; the general body, which
 * has more instances, keeps K, which bounds the code size).  A family's kernel supplies
 * the element math as
 *     CBCE__S32_VEC(want, plain, nk, x, tr, pw, keep, half, lo, gr, he)
 * (nk, a constant 1, K or CBCE__S32_STEP, vectors: raw loss lo, d/dx gr, d2/dx2 he,
 * without weights, from the input x, the raw target tr and the pos_weight pw; `plain` as
 * below) and names the functions made by CBCE__S32_NAME; this header then defines (inline,
 * for the family's span function, which passes a local copy of k)
 *     NAME_run(want, reduced, plain, S, k)   (both instances of `plain`)
 *     NAME_body(want, reduced, plain, S, k)  (one)
 *     NAME_body_fam(want, reduced, fam, every, S, k)   (plain 0)
 * The expansion of CBCE__S32_VEC may read the span constants `k` and `fam` by those names:
 * `fam` is a per-call flag of the family's own (focal.c's poly; 0 from the first two).
 * `every`: NULL, or the family's s32_elem_fn, which then computes every lane instead of
 * CBCE__S32_VEC (for a parameter beyond the range of the vector math; the element takes no
 * pos_weight, so only families without one pass it); the weights, stores and lane sums
 * after it are the vector path's.
 * `plain` (by NAME_run #if CBCE__S32_PLAIN; s32_plain below says when): the common case
 * (float32 target, no smoothing, no weight or pos_weight other than 1, unit multipliers)
 * without the arithmetic by those ones; its results are bitwise those of the general body
 * for finite targets below 2^53 in magnitude (every skipped operation is exact there: t*1
 * + 0, 1*y, 1*l).
 * The first part (loads, stores, the rare lanes' hook) is included once; the rest once per
 * kernel.
 */
#ifndef CBCE_SPAN32_H
#define CBCE_SPAN32_H

#include "internal.h"
#include "losses/step.h"
#include "simd/vec.h"

#define CBCE__S32_K 4
/* Vectors a step for a kernel whose chain is long and whose values for 8 vectors fit the
 * registers (BCE with logits, Poly-1, the helpers): 8 on AVX2 and AVX-512, where 8 ran
 * 1.04-1.2x as fast as 4 (1.15x the fused BCE pass); K on the one-lane levels, where 8
 * gained nothing. */
#define CBCE__S32_K_WIDE (CBCE__VW >= 4 ? 8 : CBCE__S32_K)

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

/* The same for float64 operands and outputs (logits64.h's kernel). */
CBCE__VI vd_t load_f64(const void *p, size_t i, size_t m)
{
    return m >= CBCE__VW ? vd_load((const double *)p + i) : vd_loadn((const double *)p + i, m);
}

CBCE__VI void store_f64(void *p, size_t i, vd_t v, size_t m)
{
    if (m >= CBCE__VW)
        vd_store((double *)p + i, v);
    else
        vd_storen((double *)p + i, v, m);
}

/* A span that the `plain` body serves: a float32 target, no smoothing, no weight or
 * pos_weight other than 1, unit multipliers. */
CBCE__VI int s32_plain(const cbce__span *S, const cbce__span_consts *k)
{
    return S->tdtype == CBCE_F32 && !S->p && !S->w && !S->go && k->eps == 0 && k->pk == 1 &&
           k->wk == 1 && k->lscale == 1 && k->wpre == 1;
}

/* A family's scalar element for the lanes its vector math leaves out: raw (unweighted)
 * loss, gradient and hessian of one element, as `want` asks. */
typedef void (*s32_elem_fn)(int want, double x, double tr, const cbce__span_consts *k,
                            double *l, double *g, double *h);

/* The lanes of lo, gr, he flagged in `rare` computed again by elem from x and tr; of the
 * three, only those `want` asks for are read and written. */
CBCE__MAYBE_UNUSED CBCE__NOINLINE static void s32_redo_lanes(s32_elem_fn elem, int want,
                                                             const cbce__span_consts *k,
                                                             vm_t rare, vd_t x, vd_t tr,
                                                             vd_t *lo, vd_t *gr, vd_t *he)
{
    double xs[CBCE__VW], ts[CBCE__VW], fl[CBCE__VW], ls[CBCE__VW], gs[CBCE__VW],
        hs[CBCE__VW];
    int i;
    vd_store(xs, x);
    vd_store(ts, tr);
    vd_store(fl, vd_select(rare, vd_set1(1.0), vd_zero()));
    if (want & CBCE__LOSS)
        vd_store(ls, *lo);
    if (want & CBCE__GRAD)
        vd_store(gs, *gr);
    if (want & CBCE__HESS)
        vd_store(hs, *he);
    for (i = 0; i < CBCE__VW; i++)
        if (fl[i] != 0)
            elem(want, xs[i], ts[i], k, ls + i, gs + i, hs + i);
    if (want & CBCE__LOSS)
        *lo = vd_load(ls);
    if (want & CBCE__GRAD)
        *gr = vd_load(gs);
    if (want & CBCE__HESS)
        *he = vd_load(hs);
}

/*
 * CBCE__S32_SPAN(STEPS, FN): the span function a family's table STEPS lists for float32
 * data, FN (defined CBCE__MAYBE_UNUSED) or, at the baseline level of a build with the
 * scalar level, a forwarder to the scalar level's: both have VW 1 and compile the same C
 * without FMA (the same IEEE operations in the same order, so the same results), which
 * saves the baseline's copy.  CBCE__S32_FORWARD(STEPS, FN) defines that forwarder.
 */
#if !defined(CBCE__ISA_VARIANT) && CBCE__HAVE_VARIANTS && CBCE__VW == 1
#define CBCE__S32_FORWARD(STEPS, FN)                                                      \
    extern const cbce__steps STEPS##_scalar;                                              \
    static void FN##_fwd(int want, int reduced, const cbce__span *S,                      \
                         const cbce__span_consts *k)                                      \
    {                                                                                     \
        STEPS##_scalar.d_span(want, reduced, S, k);                                       \
    }
#define CBCE__S32_SPAN(STEPS, FN) FN##_fwd
#else
#define CBCE__S32_FORWARD(STEPS, FN)
#define CBCE__S32_SPAN(STEPS, FN) FN
#endif

#define CBCE__S32_CAT2(a, b) a##b
#define CBCE__S32_CAT(a, b) CBCE__S32_CAT2(a, b)
#define CBCE__S32_FN(SUFFIX) CBCE__S32_CAT(CBCE__S32_NAME, SUFFIX)

#endif /* CBCE_SPAN32_H */

/* ---- once per kernel (where CBCE__S32_NAME is defined) -------------------------------- */
#ifdef CBCE__S32_NAME
#ifndef CBCE__S32_STEP
#define CBCE__S32_STEP CBCE__S32_K
#endif
/* the lane sums' order needs whole rounds of the K accumulators a step */
typedef char CBCE__S32_FN(_step_multiple_of_k)[CBCE__S32_STEP % CBCE__S32_K == 0 ? 1 : -1];

/* nk vectors from element i (the last one with m lanes, m < VW only when nk is 1):
 * loads, the element math (CBCE__S32_VEC, or `every` on each lane), the weights, the
 * stores or lane sums into acc[(j0 + j) % K]. */
CBCE__VI void CBCE__S32_FN(_step)(const int want, const int reduced, const int plain,
                                  const int fam, s32_elem_fn every, const int nk,
                                  const cbce__span *S, const cbce__span_consts *k, size_t i,
                                  size_t m, vd_t *acc, int j0)
{
    vd_t X[CBCE__S32_STEP], T[CBCE__S32_STEP], P[CBCE__S32_STEP], W[CBCE__S32_STEP];
    vd_t lo[CBCE__S32_STEP], gr[CBCE__S32_STEP], he[CBCE__S32_STEP];
    int j;
    for (j = 0; j < nk; j++) {
        size_t ij = i + (size_t)j * CBCE__VW;
        lo[j] = gr[j] = he[j] = vd_zero(); /* (outputs not wanted: -Wmaybe-uninitialized) */
        X[j] = load_f32((const float *)S->x, ij, m);
        T[j] = !S->t  ? vd_set1(k->tk)
               : plain ? load_f32((const float *)S->t, ij, m)
                       : load_any(S->t, S->tdtype, ij, m);
        P[j] = !plain && S->p ? load_f32((const float *)S->p, ij, m) : vd_set1(k->pk);
        W[j] = !plain && S->w ? load_f32((const float *)S->w, ij, m) : vd_set1(k->wk);
    }
    if (every)
        for (j = 0; j < nk; j++)
            s32_redo_lanes(every, want, k, vm_first(CBCE__VW), X[j], T[j], lo + j, gr + j,
                           he + j);
    else
        CBCE__S32_VEC(want, plain, nk, X, T, P, vd_set1(k->keep), vd_set1(k->half), lo, gr,
                      he);
    (void)fam;
    for (j = 0; j < nk; j++) {
        size_t ij = i + (size_t)j * CBCE__VW;
        if (want & CBCE__LOSS) {
            vd_t l = plain ? lo[j] : vd_mul(vd_mul(W[j], vd_set1(k->lscale)), lo[j]);
            if (reduced)
                acc[(j0 + j) % CBCE__S32_K] =
                    vd_add(acc[(j0 + j) % CBCE__S32_K],
                           m >= CBCE__VW ? l : vd_select(vm_first(m), l, vd_zero()));
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

CBCE__VI void CBCE__S32_FN(_walk)(const int want, const int reduced, const int plain,
                                  const int fam, s32_elem_fn every, const cbce__span *S,
                                  const cbce__span_consts *k)
{
    const int ks = plain ? CBCE__S32_STEP : CBCE__S32_K; /* a constant in each instance */
    vd_t acc[CBCE__S32_K];
    size_t i = 0, c = S->c;
    int j;
    for (j = 0; j < CBCE__S32_K; j++)
        acc[j] = reduced ? vd_load(S->lanes + j * CBCE__VW) : vd_zero();
    for (; i + ks * CBCE__VW <= c; i += ks * CBCE__VW)
        CBCE__S32_FN(_step)(want, reduced, plain, fam, every, ks, S, k, i, CBCE__VW, acc, 0);
    for (j = 0; i < c; i += CBCE__VW, j++)
        CBCE__S32_FN(_step)(want, reduced, plain, fam, every, 1, S, k, i, c - i, acc, j);
    if (reduced)
        for (j = 0; j < CBCE__S32_K; j++)
            vd_store(S->lanes + j * CBCE__VW, acc[j]);
}

CBCE__VI void CBCE__S32_FN(_body)(const int want, const int reduced, const int plain,
                                  const cbce__span *S, const cbce__span_consts *k)
{
    CBCE__S32_FN(_walk)(want, reduced, plain, 0, NULL, S, k);
}

CBCE__VI void CBCE__S32_FN(_body_fam)(const int want, const int reduced, const int fam,
                                      s32_elem_fn every, const cbce__span *S,
                                      const cbce__span_consts *k)
{
    CBCE__S32_FN(_walk)(want, reduced, 0, fam, every, S, k);
}

/* The bodies for each `want` the driver asks (a reduced loss only with LOSS). */
CBCE__VI void CBCE__S32_FN(_bodies)(const int plain, int want, int reduced,
                                    const cbce__span *S, const cbce__span_consts *k)
{
    switch (want) {
    case CBCE__LOSS:
        if (reduced)
            CBCE__S32_FN(_body)(CBCE__LOSS, 1, plain, S, k);
        else
            CBCE__S32_FN(_body)(CBCE__LOSS, 0, plain, S, k);
        break;
    case CBCE__GRAD: CBCE__S32_FN(_body)(CBCE__GRAD, 0, plain, S, k); break;
    case CBCE__LOSS | CBCE__GRAD:
        if (reduced)
            CBCE__S32_FN(_body)(CBCE__LOSS | CBCE__GRAD, 1, plain, S, k);
        else
            CBCE__S32_FN(_body)(CBCE__LOSS | CBCE__GRAD, 0, plain, S, k);
        break;
    default: CBCE__S32_FN(_body)(CBCE__GRAD | CBCE__HESS, 0, plain, S, k); break;
    }
}

CBCE__VI void CBCE__S32_FN(_run)(int want, int reduced, int plain, const cbce__span *S,
                                 const cbce__span_consts *k)
{
#if CBCE__S32_PLAIN
    if (plain)
        CBCE__S32_FN(_bodies)(1, want, reduced, S, k);
    else
#endif
        CBCE__S32_FN(_bodies)(0, want, reduced, S, k);
    (void)plain;
}

#undef CBCE__S32_VEC
#undef CBCE__S32_STEP
#undef CBCE__S32_NAME
#undef CBCE__S32_PLAIN
#endif /* CBCE__S32_NAME */
