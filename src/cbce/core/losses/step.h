/*
 * step.h -- the compute step of the chunk driver (internal.h's cbce__step_fn) made from a
 * family's element function.
 */
#ifndef CBCE_STEP_H
#define CBCE_STEP_H

#include "internal.h"


/*
 * A compute step (internal.h's cbce__step_fn) from an element macro CALL(WANT, i): `want`
 * is tested once per chunk, so each loop is a plain elementwise loop with a constant WANT
 * and the branch-free element function inlined.  The driver always passes the l, g, h
 * buffers, so CALL may hand all three to the element function; it writes only what WANT
 * asks for.  The buffers are distinct (the driver's chunk buffers): `restrict` and the
 * constants copied once spare GCC the run-time alias checks that stop it vectorising.
 */
#define CBCE__FAMILY_STEP(NAME, CALL)                                                      \
    static void NAME(int want, size_t c, const double *restrict x,                         \
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

#endif
