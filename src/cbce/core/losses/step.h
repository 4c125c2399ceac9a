/*
 * step.h -- the compute step of the chunk driver (internal.h's cbce__step_fn) made from a
 * family's element function.
 */
#ifndef CBCE_STEP_H
#define CBCE_STEP_H

#include "internal.h"
#include "simd/vec.h"

/* A step the baseline level may leave unused (CBCE__STEPS below); a function kept out of
 * line (one copy of a large body for its callers). */
#if defined(__GNUC__)
#define CBCE__MAYBE_UNUSED __attribute__((unused))
#define CBCE__NOINLINE __attribute__((noinline))
#else
#define CBCE__MAYBE_UNUSED
#define CBCE__NOINLINE
#endif

/* One loop over i < N of CALL(WANT, i) per output set, WANT a constant in each. */
#define CBCE__WANT_LOOPS(N, CALL)                                                          \
    switch (want) {                                                                        \
    case CBCE__LOSS:                                                                       \
        for (i = 0; i < (N); i++)                                                          \
            CALL(CBCE__LOSS, i);                                                           \
        break;                                                                             \
    case CBCE__GRAD:                                                                       \
        for (i = 0; i < (N); i++)                                                          \
            CALL(CBCE__GRAD, i);                                                           \
        break;                                                                             \
    case CBCE__LOSS | CBCE__GRAD:                                                          \
        for (i = 0; i < (N); i++)                                                          \
            CALL(CBCE__LOSS | CBCE__GRAD, i);                                              \
        break;                                                                             \
    default:                                                                               \
        for (i = 0; i < (N); i++)                                                          \
            CALL(CBCE__GRAD | CBCE__HESS, i);                                              \
        break;                                                                             \
    }

/*
 * A compute step (internal.h's cbce__step_fn) from an element macro CALL(WANT, i): `want`
 * is tested once per chunk, so each loop is a plain elementwise loop with a constant WANT
 * and the branch-free element function inlined.  The driver always passes the l, g, h
 * buffers, so CALL may hand all three to the element function; it writes only what WANT
 * asks for.  The buffers are distinct (the driver's chunk buffers): `restrict` and the
 * constants copied once spare GCC the run-time alias checks that stop it vectorising.
 */
#define CBCE__FAMILY_STEP(NAME, CALL) CBCE__FAMILY_STEP_OF(NAME, CALL, CBCE__WANT_LOOPS)

/*
 * The float32 step of a family that has a float32 span kernel: the driver asks it only for
 * the loss (the exact reduced sums of driver.c's dual_sums and span_dual), so it has only
 * that loop; `want` is CBCE__LOSS.
 */
#define CBCE__LOSS_LOOP(N, CALL)                                                           \
    for (i = 0; i < (N); i++)                                                              \
        CALL(CBCE__LOSS, i);
#define CBCE__FAMILY_LOSS_STEP(NAME, CALL) CBCE__FAMILY_STEP_OF(NAME, CALL, CBCE__LOSS_LOOP)

/* The step of both: LOOPS(c, CALL) over the chunk. */
#define CBCE__FAMILY_STEP_OF(NAME, CALL, LOOPS)                                            \
    CBCE__MAYBE_UNUSED static void NAME(CBCE__STEP_PARAMS(restrict, k0))                  \
    {                                                                                      \
        size_t i;                                                                          \
        const cbce__consts kc = *k0, *k = &kc;                                             \
        (void)want;                                                                        \
        (void)p;                                                                           \
        (void)ml;                                                                          \
        (void)t;                                                                           \
        (void)w;                                                                           \
        (void)m;                                                                           \
        (void)k;                                                                           \
        (void)g;                                                                           \
        (void)h;                                                                           \
        LOOPS(c, CALL)                                                                     \
    }

/* The first r results of sl, sg, sh to l, g, h: only the outputs `want` asks for (the
 * others are the caller's, and a fused call's loss must not be overwritten by a padded
 * copy's). */
CBCE__MAYBE_UNUSED static void cbce__copy_wanted(int want, size_t r, const double *sl,
                                                 const double *sg, const double *sh,
                                                 double *l, double *g, double *h)
{
    size_t j;
    for (j = 0; j < r; j++) {
        if (want & CBCE__LOSS)
            l[j] = sl[j];
        if (want & CBCE__GRAD)
            g[j] = sg[j];
        if (want & CBCE__HESS)
            h[j] = sh[j];
    }
}

/*
 * The same step for elements whose bodies are large (double-double, or many exp and log).
 * On the vectorising levels: the elements in blocks of CBCE__VBLOCK (a multiple of every
 * vector width), each block a loop of constant trip count in a function of its own, so
 * that each `want` gets one vectorised copy of the body (a loop over c gets up to three:
 * full vectors, a narrower epilogue, a scalar remainder).  The last, partial block runs on
 * padded copies (x = 0, t = 0, p = w = m = 1, ml = 0: finite values, results dropped).
 * At the scalar level (which the baseline's float64 steps forward to) and in builds
 * without levels: one loop with `want` tested per element, one copy of the body.  The
 * elements are branch-free and the same for every `want`, so the results are those of
 * CBCE__FAMILY_STEP.
 */
#define CBCE__SCALAR_LEVEL_scalar 1 /* CBCE__SCALAR_LEVEL: 1 at the scalar level, else 0 */
#define CBCE__SCALAR_LEVEL CBCE__CAT(CBCE__SCALAR_LEVEL, CBCE__ISA_SUFFIX)
#if defined(__GNUC__) && !CBCE__SCALAR_LEVEL
#define CBCE__VBLOCK 16
#define CBCE__FAMILY_STEP_BLOCKED(NAME, CALL)                                              \
    CBCE__MAYBE_UNUSED CBCE__NOINLINE static void NAME##_block(                             \
        int want, const double *restrict x, const double *restrict t,                      \
        const double *restrict p, const double *restrict w, const double *restrict m,      \
        const double *restrict ml, const cbce__consts *k0, double *restrict l,             \
        double *restrict g, double *restrict h)                                            \
    {                                                                                      \
        size_t i;                                                                          \
        const cbce__consts kc = *k0, *k = &kc;                                             \
        (void)p;                                                                           \
        (void)ml;                                                                          \
        (void)k;                                                                           \
        CBCE__WANT_LOOPS(CBCE__VBLOCK, CALL)                                               \
    }                                                                                      \
    CBCE__MAYBE_UNUSED static void NAME(CBCE__STEP_PARAMS(, k))                           \
    {                                                                                      \
        size_t i, j, r;                                                                    \
        double b[9][CBCE__VBLOCK];                                                         \
        for (i = 0; i + CBCE__VBLOCK <= c; i += CBCE__VBLOCK)                              \
            NAME##_block(want, x + i, t + i, p + i, w + i, m + i, ml + i, k, l + i, g + i, \
                         h + i);                                                           \
        if (i == c)                                                                        \
            return;                                                                        \
        r = c - i;                                                                         \
        for (j = 0; j < CBCE__VBLOCK; j++) {                                               \
            b[0][j] = j < r ? x[i + j] : 0.0;                                              \
            b[1][j] = j < r ? t[i + j] : 0.0;                                              \
            b[2][j] = j < r ? p[i + j] : 1.0;                                              \
            b[3][j] = j < r ? w[i + j] : 1.0;                                              \
            b[4][j] = j < r ? m[i + j] : 1.0;                                              \
            b[5][j] = j < r ? ml[i + j] : 0.0;                                             \
            b[6][j] = b[7][j] = b[8][j] = 0.0;                                             \
        }                                                                                  \
        NAME##_block(want, b[0], b[1], b[2], b[3], b[4], b[5], k, b[6], b[7], b[8]);       \
        cbce__copy_wanted(want, r, b[6], b[7], b[8], l + i, g + i, h + i);                 \
    }

#else
#define CBCE__FAMILY_STEP_BLOCKED(NAME, CALL)                                              \
    CBCE__MAYBE_UNUSED static void NAME(CBCE__STEP_PARAMS(, k))                           \
    {                                                                                      \
        size_t i;                                                                          \
        (void)p;                                                                           \
        (void)ml;                                                                          \
        for (i = 0; i < c; i++)                                                            \
            CALL(want, i);                                                                 \
    }
#endif

/*
 * For a chunk step on the vector layer: the outputs its vector element flagged for the VW
 * elements from i (in badl the loss, in badg the gradient and hessian), computed again
 * element by element by the chunk step `careful` (rare lanes: out of line).
 */
CBCE__MAYBE_UNUSED CBCE__NOINLINE static void cbce__step_redo(cbce__step_fn careful, vm_t badl,
                                                              vm_t badg, size_t i,
                                                              CBCE__STEP_PARAMS(, k))
{
    double fl[CBCE__VW], fg[CBCE__VW];
    size_t j;
    (void)c;
    vd_store(fl, vd_select(badl, vd_set1(1.0), vd_zero()));
    vd_store(fg, vd_select(badg, vd_set1(1.0), vd_zero()));
    for (j = 0; j < CBCE__VW; j++) { /* the outputs flagged, on one call */
        int redo = want & ((fl[j] != 0 ? CBCE__LOSS : 0) |
                           (fg[j] != 0 ? CBCE__GRAD | CBCE__HESS : 0));
        if (redo)
            careful(redo, 1, x + i + j, t + i + j, p, w + i + j, m + i + j, ml + i + j, k,
                    l + i + j, g + i + j, h + i + j);
    }
}

/*
 * For a chunk step on the vector layer: its last r < VW elements in one vector padded with
 * x = px, t = pt, weights 1 (cbce__tail_in), so that they take the same element as every
 * other (an element's result must not depend on its place in a chunk: a shard or another
 * length moves it), and the wanted outputs of the r copied back (cbce__copy_wanted).
 */
typedef struct cbce__tail {
    double x[CBCE__VW], t[CBCE__VW], w[CBCE__VW], m[CBCE__VW], ml[CBCE__VW];
    double l[CBCE__VW], g[CBCE__VW], h[CBCE__VW];
} cbce__tail;

CBCE__MAYBE_UNUSED static void cbce__tail_in(cbce__tail *B, size_t r, const double *x,
                                             const double *t, const double *w,
                                             const double *m, const double *ml, double px,
                                             double pt)
{
    size_t j;
    for (j = 0; j < CBCE__VW; j++) {
        B->x[j] = j < r ? x[j] : px;
        B->t[j] = j < r ? t[j] : pt;
        B->w[j] = j < r ? w[j] : 1.0;
        B->m[j] = j < r ? m[j] : 1.0;
        B->ml[j] = j < r ? ml[j] : 0.0;
        B->l[j] = B->g[j] = B->h[j] = 0.0;
    }
}

/*
 * A vector element of a chunk step on the vector layer: the VW elements from x, t, w, m,
 * ml written to l, g, h (ctx: its per-call constants), and the lanes it leaves to the
 * careful step, in *badl for the loss and in *badg for the derivatives.
 */
typedef void (*cbce__vec_elem_fn)(int want, const void *ctx, const double *x,
                                  const double *t, const double *w, const double *m,
                                  const double *ml, double *l, double *g, double *h,
                                  vm_t *badl, vm_t *badg);

/*
 * The chunk step of a vector element `vec` (inlined: `vec` is a constant where this is):
 * the elements in vectors, the last c % VW in one vector padded with x = px, t = pt
 * (cbce__tail_in), the flagged outputs computed again by the chunk step `careful`.
 */
CBCE__VI void cbce__vec_chunk_step(cbce__vec_elem_fn vec, const void *ctx,
                                   cbce__step_fn careful, double px, double pt,
                                   CBCE__STEP_PARAMS(, k))
{
    size_t i;
    vm_t badl, badg;
    for (i = 0; i + CBCE__VW <= c; i += CBCE__VW) {
        vec(want, ctx, x + i, t + i, w + i, m + i, ml + i, l + i, g + i, h + i, &badl, &badg);
        if (vm_any(vm_or(badl, badg)))
            cbce__step_redo(careful, badl, badg, i, want, c, x, t, p, w, m, ml, k, l, g, h);
    }
    if (i < c) {
        cbce__tail B;
        cbce__tail_in(&B, c - i, x + i, t + i, w + i, m + i, ml + i, px, pt);
        vec(want, ctx, B.x, B.t, B.w, B.m, B.ml, B.l, B.g, B.h, &badl, &badg);
        if (vm_any(vm_or(badl, badg)))
            cbce__step_redo(careful, badl, badg, 0, want, CBCE__VW, B.x, B.t, p, B.w, B.m,
                            B.ml, k, B.l, B.g, B.h);
        cbce__copy_wanted(want, c - i, B.l, B.g, B.h, l + i, g + i, h + i);
    }
}

/*
 * The family's table of steps at this level, CBCE__ISA_NAME(NAME).  At the baseline level
 * of a build that has the scalar level too, the float64 chunk step is the scalar level's:
 * both compile the same double-double C without FMA (the same IEEE operations in the same
 * order, so the same results), and its copy is among the largest code of the library.  The
 * float32 steps stay per level (SSE2 vectorises them).
 */
#if !defined(CBCE__ISA_VARIANT) && CBCE__HAVE_VARIANTS
#define CBCE__STEPS(NAME, D, X, D_SPAN, X_SPAN)                                           \
    extern const cbce__steps NAME##_scalar;                                               \
    static void NAME##_x_scalar(CBCE__STEP_PARAMS(, k))                                   \
    {                                                                                     \
        NAME##_scalar.x(want, c, x, t, p, w, m, ml, k, l, g, h);                          \
    }                                                                                     \
    const cbce__steps CBCE__ISA_NAME(NAME) = {D, NAME##_x_scalar, D_SPAN, X_SPAN}
#else
#define CBCE__STEPS(NAME, D, X, D_SPAN, X_SPAN)                                           \
    const cbce__steps CBCE__ISA_NAME(NAME) = {D, X, D_SPAN, X_SPAN}
#endif

#endif
