/*
 * step.h -- the compute step of the chunk driver (internal.h's cbce__step_fn) made from a
 * family's element function.
 */
#ifndef CBCE_STEP_H
#define CBCE_STEP_H

#include "internal.h"

/* A step the baseline level may leave unused (CBCE__STEPS below). */
#if defined(__GNUC__)
#define CBCE__MAYBE_UNUSED __attribute__((unused))
#else
#define CBCE__MAYBE_UNUSED
#endif

/*
 * A compute step (internal.h's cbce__step_fn) from an element macro CALL(WANT, i): `want`
 * is tested once per chunk, so each loop is a plain elementwise loop with a constant WANT
 * and the branch-free element function inlined.  The driver always passes the l, g, h
 * buffers, so CALL may hand all three to the element function; it writes only what WANT
 * asks for.  The buffers are distinct (the driver's chunk buffers): `restrict` and the
 * constants copied once spare GCC the run-time alias checks that stop it vectorising.
 */
#define CBCE__FAMILY_STEP(NAME, CALL)                                                      \
    CBCE__MAYBE_UNUSED static void NAME(int want, size_t c, const double *restrict x,      \
                     const double *restrict t, const double *restrict p,                   \
                     const double *restrict w, const double *restrict m,                   \
                     const double *restrict ml, const cbce__consts *k0,                    \
                     double *restrict l, double *restrict g, double *restrict h)           \
    {                                                                                      \
        size_t i;                                                                          \
        const cbce__consts kc = *k0, *k = &kc;                                             \
        (void)p;                                                                           \
        (void)ml;                                                                          \
        (void)t;                                                                           \
        (void)w;                                                                           \
        (void)m;                                                                           \
        (void)k;                                                                           \
        (void)g;                                                                           \
        (void)h;                                                                           \
        switch (want) {                                                                    \
        case CBCE__LOSS:                                                                   \
            for (i = 0; i < c; i++)                                                        \
                CALL(CBCE__LOSS, i);                                                       \
            break;                                                                         \
        case CBCE__GRAD:                                                                   \
            for (i = 0; i < c; i++)                                                        \
                CALL(CBCE__GRAD, i);                                                       \
            break;                                                                         \
        case CBCE__LOSS | CBCE__GRAD:                                                      \
            for (i = 0; i < c; i++)                                                        \
                CALL(CBCE__LOSS | CBCE__GRAD, i);                                          \
            break;                                                                         \
        default:                                                                           \
            for (i = 0; i < c; i++)                                                        \
                CALL(CBCE__GRAD | CBCE__HESS, i);                                          \
            break;                                                                         \
        }                                                                                  \
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
    static void NAME##_x_scalar(int want, size_t c, const double *x, const double *t,     \
                                const double *p, const double *w, const double *m,        \
                                const double *ml, const cbce__consts *k, double *l,       \
                                double *g, double *h)                                     \
    {                                                                                     \
        NAME##_scalar.x(want, c, x, t, p, w, m, ml, k, l, g, h);                          \
    }                                                                                     \
    const cbce__steps CBCE__ISA_NAME(NAME) = {D, NAME##_x_scalar, D_SPAN, X_SPAN}
#else
#define CBCE__STEPS(NAME, D, X, D_SPAN, X_SPAN)                                           \
    const cbce__steps CBCE__ISA_NAME(NAME) = {D, X, D_SPAN, X_SPAN}
#endif

#endif
