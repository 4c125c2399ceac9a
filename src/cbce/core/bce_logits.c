/*
 * bce_logits.c -- binary cross-entropy with logits: the compute step (one body, two
 * precisions, see elem.h) and the public entry points.
 */
#include "elem.h"

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
CBCE__LOGITS_STEP(logits_step_x_nosmooth, cbce__logits_x_nosmooth, eps)
CBCE__LOGITS_STEP(logits_step_x_unitp, cbce__logits_x_unitp, eps)
CBCE__LOGITS_STEP(logits_step_x_plain, cbce__logits_x, eps)
CBCE__LOGITS_STEP(logits_step_x_tiny, cbce__logits_x_tiny, eps)

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
 * float64: no label_smoothing (with every pos_weight 1, as when it is absent: a step without
 * the products by L = 1, ~30 operations fewer), one below 2^-500 (with extra terms) and the
 * others each take their element (elem.h).
 * Then the rare losses that came out inf or NaN from finite input are formed again at
 * 2^-128: pos_weight * |x| can pass DBL_MAX where weight * pos_weight * |x| does not
 * (a weight of 0 would give 0 * inf = NaN).  Losses that are truly infinite stay so.
 */
static void logits_step_x(int want, size_t c, const double *x, const double *t,
                          const double *p, const double *w, const double *m,
                          const cbce__consts *k, double *l, double *g, double *h)
{
    int tiny = CBCE__TINY_EPS(k->eps), unitp = k->eps == 0 && unit_pos_weight(c, p);
    size_t i;
    (tiny ? logits_step_x_tiny
          : k->eps != 0 ? logits_step_x_plain
                        : unitp ? logits_step_x_unitp : logits_step_x_nosmooth)(
        want, c, x, t, p, w, m, k, l, g, h);
    if (want & CBCE__LOSS)
        for (i = 0; i < c; i++)
            if (!isfinite(l[i]) && isfinite(x[i]))
                l[i] = cbce__logits_x_loss_scaled(tiny, x[i], t[i], p[i], w[i], k->eps,
                                                  k->half);
}

const cbce__steps CBCE__ISA_NAME(cbce__logits_steps) = {logits_step_d, logits_step_x};

#ifndef CBCE__ISA_VARIANT
const cbce__family cbce__bce_logits = {CBCE__STEP_TABLES(cbce__logits_steps), 1, 0};

CBCE__LOSS_API(cbce_bce_logits, cbce__bce_logits, f32, float, CBCE_F32)
CBCE__LOSS_API(cbce_bce_logits, cbce__bce_logits, f64, double, CBCE_F64)

#endif /* CBCE__ISA_VARIANT */
