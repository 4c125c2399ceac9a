/*
 * bce_logits.c -- binary cross-entropy with logits: the compute step (one body, two
 * precisions, see elem.h) and the public entry points.
 */
#include "elem.h"
#include "logits64.h"

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

/* float64: the vector kernel of logits64.h, one instance per output set and smoothing;
 * 0 < label_smoothing < 2^-500 takes the careful element throughout (see there). */
#define CBCE__X64_CASE(WANT)                                                              \
    case WANT:                                                                           \
        if (kx.smooth)                                                                   \
            cbce__x64_run(WANT, 1, c, x, t, p, w, m, &kx, l, g, h);                      \
        else                                                                             \
            cbce__x64_run(WANT, 0, c, x, t, p, w, m, &kx, l, g, h);                      \
        break;

static void logits_step_x(int want, size_t c, const double *x, const double *t,
                          const double *p, const double *w, const double *m,
                          const cbce__consts *k, double *l, double *g, double *h)
{
    cbce__x64k kx;
    size_t i;
    kx.eps = k->eps;
    kx.kh = 1.0 - k->eps; /* kh + kl = 1 - eps exactly (two_sum) */
    kx.kl = (1.0 - (kx.kh - (kx.kh - 1.0))) + (-k->eps - (kx.kh - 1.0));
    kx.smooth = k->eps != 0;
    if (CBCE__TINY_EPS(k->eps)) {
        for (i = 0; i < c; i++)
            cbce__x64_careful(want, x[i], t[i], p[i], w[i], m[i], &kx, l + i, g + i, h + i);
        return;
    }
    switch (want) {
        CBCE__X64_CASE(CBCE__LOSS)
        CBCE__X64_CASE(CBCE__GRAD)
        CBCE__X64_CASE(CBCE__LOSS | CBCE__GRAD)
        CBCE__X64_CASE(CBCE__GRAD | CBCE__HESS)
    default: break;
    }
}
#undef CBCE__X64_CASE

const cbce__steps CBCE__ISA_NAME(cbce__logits_steps) = {logits_step_d, logits_step_x};

#ifndef CBCE__ISA_VARIANT
const cbce__family cbce__bce_logits = {CBCE__STEP_TABLES(cbce__logits_steps), 1, 0};

CBCE__LOSS_API(cbce_bce_logits, cbce__bce_logits, f32, float, CBCE_F32)
CBCE__LOSS_API(cbce_bce_logits, cbce__bce_logits, f64, double, CBCE_F64)

#endif /* CBCE__ISA_VARIANT */
