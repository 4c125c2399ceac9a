/*
 * probs.c -- binary cross-entropy on probabilities (PyTorch's binary_cross_entropy):
 * the compute step (one body, two precisions, see probs_elem.h) and the domain check
 * (the entry points are families.c's).
 *
 * The domain check (input and raw target in [0, 1], NaN rejected) is a separate read-only
 * pass made before the driver runs, so that a rejected call writes nothing: the outputs
 * may alias the input (in-place gradient), and a caller's arrays must come back untouched.
 * It reads input and target once more (8-16 bytes an element, far below the cost of the
 * logarithms), and reports the flat index of the first offending element.
 */
#include <stdint.h>

#include "losses/probs_elem.h"
#include "losses/step.h"

#define CBCE__PROBS_CALL_D(W, i)                                                          \
    cbce__probs_d(W, x[i], t[i], w[i], m[i], k->keep, k->half, &l[i], &g[i], &h[i])
#define CBCE__PROBS_CALL_X(W, i)                                                          \
    cbce__probs_x(W, x[i], t[i], w[i], m[i], ml[i], k->keep, k->half, k->eps, &l[i],    \
                  &g[i], &h[i])

CBCE__FAMILY_STEP(probs_step_d, CBCE__PROBS_CALL_D)
CBCE__FAMILY_STEP(probs_step_x, CBCE__PROBS_CALL_X)

CBCE__STEPS(cbce__probs_steps, probs_step_d, probs_step_x, NULL, NULL);

#ifndef CBCE__ISA_VARIANT
/*
 * Index of the first of the elements 0 .. n-1 of `op` that is outside [0, 1] or NaN, or n.
 * Contiguous runs are scanned in chunks with a branch-free test (vectorised); only a chunk
 * that holds a bad value is searched again for its position.
 */
static size_t first_bad(const cbce_operand_t *op, size_t n)
{
    size_t i0, k;
#define CBCE__BAD_FLOAT(v) (!((v) >= 0 && (v) <= 1))
#define CBCE__BAD_U8(v) ((v) > 1)
#define CBCE__BAD_I8(v) ((v) < 0 || (v) > 1)
#define CBCE__SCAN(CT, BAD)                                                              \
    {                                                                                    \
        const CT *base = (const CT *)op->data;                                           \
        if (op->repeat == 1 && op->period >= n && op->stride == 1) {                     \
            for (i0 = 0; i0 < n; i0 += CBCE__CHUNK) {                                    \
                size_t c = n - i0 < CBCE__CHUNK ? n - i0 : CBCE__CHUNK;                  \
                int bad = 0;                                                             \
                for (k = 0; k < c; k++)                                                  \
                    bad |= BAD(base[i0 + k]);                                            \
                if (bad)                                                                 \
                    for (k = 0; k < c; k++)                                              \
                        if (BAD(base[i0 + k]))                                           \
                            return i0 + k;                                               \
            }                                                                            \
        } else {                                                                         \
            size_t j = 0, r = 0;                                                         \
            for (k = 0; k < n; k++) {                                                    \
                if (BAD(base[(ptrdiff_t)j * op->stride]))                                \
                    return k;                                                            \
                if (++r == op->repeat) {                                                 \
                    r = 0;                                                               \
                    if (++j == op->period)                                               \
                        j = 0;                                                           \
                }                                                                        \
            }                                                                            \
        }                                                                                \
        return n;                                                                        \
    }
    switch (op->dtype) {
    case CBCE_F32: CBCE__SCAN(float, CBCE__BAD_FLOAT)
    case CBCE_F64: CBCE__SCAN(double, CBCE__BAD_FLOAT)
    case CBCE_U8: CBCE__SCAN(uint8_t, CBCE__BAD_U8)
    case CBCE_BOOL: return n; /* every byte is a bool: 0 false, else true */
    case CBCE_I8: CBCE__SCAN(int8_t, CBCE__BAD_I8)
    default: return n;
    }
#undef CBCE__SCAN
#undef CBCE__BAD_FLOAT
#undef CBCE__BAD_U8
#undef CBCE__BAD_I8
}

int cbce__domain(const cbce_args_t *a, size_t *bad_index)
{
    size_t bad = first_bad(&a->input, a->n);
    bad = first_bad(&a->target, bad);
    if (bad == a->n)
        return CBCE_OK;
    if (bad_index != NULL)
        *bad_index = bad;
    return CBCE_ERR_DOMAIN;
}

#endif /* CBCE__ISA_VARIANT */
