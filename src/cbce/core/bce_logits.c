/*
 * bce_logits.c -- binary cross-entropy with logits: the compute step (one body, two
 * precisions, see elem.h) and the public entry points.
 */
#include "elem.h"

/* One body for both precisions.  `want` is tested once per chunk, so each loop is a
 * plain elementwise loop with the branch-free element function inlined.  The buffers are
 * distinct (the driver's chunk buffers): `restrict` and the constants read once spare GCC
 * the run-time alias checks it would otherwise need (more than 10 for the two-output
 * loops, so it gave up vectorising them). */
#define CBCE__LOGITS_STEP(NAME, ELEM)                                                   \
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
                ELEM(CBCE__LOSS, x[i], t[i], p[i], w[i], m[i], k->keep, k->half, &l[i], \
                     0, 0);                                                             \
            break;                                                                      \
        case CBCE__GRAD:                                                                \
            for (i = 0; i < c; i++)                                                     \
                ELEM(CBCE__GRAD, x[i], t[i], p[i], w[i], m[i], k->keep, k->half, 0,     \
                     &g[i], 0);                                                         \
            break;                                                                      \
        case CBCE__LOSS | CBCE__GRAD:                                                   \
            for (i = 0; i < c; i++)                                                     \
                ELEM(CBCE__LOSS | CBCE__GRAD, x[i], t[i], p[i], w[i], m[i], k->keep,    \
                     k->half, &l[i], &g[i], 0);                                         \
            break;                                                                      \
        default:                                                                        \
            for (i = 0; i < c; i++)                                                     \
                ELEM(CBCE__GRAD | CBCE__HESS, x[i], t[i], p[i], w[i], m[i], k->keep,    \
                     k->half, 0, &g[i], &h[i]);                                         \
            break;                                                                      \
        }                                                                               \
    }

CBCE__LOGITS_STEP(logits_step_d, cbce__logits_d)
CBCE__LOGITS_STEP(logits_step_x, cbce__logits_x)

const cbce__steps CBCE__ISA_NAME(cbce__logits_steps) = {logits_step_d, logits_step_x};

#ifndef CBCE__ISA_VARIANT
const cbce__family cbce__bce_logits = {CBCE__STEP_TABLES(cbce__logits_steps), 1, 0};

/* The public entry points: float and double from one definition each. */
#define CBCE__LOGITS_API(SFX, T, DT)                                                    \
    int cbce_bce_logits_fwd_##SFX(const cbce_args_t *a, T *out, ptrdiff_t out_stride,   \
                                  T *result)                                            \
    {                                                                                   \
        cbce__outputs o = {0};                                                          \
        o.loss = out;                                                                   \
        o.loss_stride = out_stride;                                                     \
        o.result = result;                                                              \
        return cbce__run(&cbce__bce_logits, a, DT, CBCE__LOSS, &o);                     \
    }                                                                                   \
    int cbce_bce_logits_bwd_##SFX(const cbce_args_t *a, T *grad, ptrdiff_t grad_stride) \
    {                                                                                   \
        cbce__outputs o = {0};                                                          \
        o.grad = grad;                                                                  \
        o.grad_stride = grad_stride;                                                    \
        return cbce__run(&cbce__bce_logits, a, DT, CBCE__GRAD, &o);                     \
    }                                                                                   \
    int cbce_bce_logits_fwd_bwd_##SFX(const cbce_args_t *a, T *out, ptrdiff_t out_stride, \
                                      T *result, T *grad, ptrdiff_t grad_stride)        \
    {                                                                                   \
        cbce__outputs o = {0};                                                          \
        o.loss = out;                                                                   \
        o.loss_stride = out_stride;                                                     \
        o.result = result;                                                              \
        o.grad = grad;                                                                  \
        o.grad_stride = grad_stride;                                                    \
        return cbce__run(&cbce__bce_logits, a, DT, CBCE__LOSS | CBCE__GRAD, &o);        \
    }                                                                                   \
    int cbce_bce_logits_grad_hess_##SFX(const cbce_args_t *a, T *grad,                  \
                                        ptrdiff_t grad_stride, T *hess,                 \
                                        ptrdiff_t hess_stride)                          \
    {                                                                                   \
        cbce__outputs o = {0};                                                          \
        cbce_args_t b;                                                                  \
        if (a == NULL)                                                                  \
            return CBCE_ERR_NULL;                                                       \
        b = *a;                                                                         \
        b.reduction = CBCE_REDUCTION_NONE;                                              \
        o.grad = grad;                                                                  \
        o.grad_stride = grad_stride;                                                    \
        o.hess = hess;                                                                  \
        o.hess_stride = hess_stride;                                                    \
        return cbce__run(&cbce__bce_logits, &b, DT, CBCE__GRAD | CBCE__HESS, &o);       \
    }

CBCE__LOGITS_API(f32, float, CBCE_F32)
CBCE__LOGITS_API(f64, double, CBCE_F64)

#endif /* CBCE__ISA_VARIANT */
