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
#include "losses/span32.h"
#include "losses/step.h"
#include "math/vec_math.h"

#define CBCE__PROBS_CALL_D(W, i)                                                          \
    cbce__probs_d(W, x[i], t[i], w[i], m[i], k->keep, k->half, &l[i], &g[i], &h[i])
#define CBCE__PROBS_CALL_X(W, i)                                                          \
    cbce__probs_x(W, x[i], t[i], w[i], m[i], ml[i], k->keep, k->half, k->eps, &l[i],    \
                  &g[i], &h[i])

CBCE__FAMILY_STEP(probs_step_d, CBCE__PROBS_CALL_D)
CBCE__FAMILY_STEP(probs_step_x, CBCE__PROBS_CALL_X)

/*
 * float32 data: the span kernel on the vector layer (frame: span32.h), in double to about
 * 2^-32 relative before the one rounding to float (<= 0.5 + 2^-32 * 2^24 ~ 0.504 ulp),
 * with the formulas of probs_elem.h:
 *   log x by vd_log_pos (math/vec_math.h, 2^-32.9); log(1 - x) as vd_log_pos(m) + c with
 *   m + c = 1 - x exactly (fast_two_sum; c = 0 for x >= 2^-29, where 1 - x is exact in
 *   double; below, c/m = c (1 + O(x)) is taken as c); x = 0 and x = 1 select the clamp
 *   value -100 directly (vd_log_pos needs a positive argument);
 *   the quotients by vd_rcp50 of den = max(x (1 - x), EPS) and of den^2 (den in
 *   [2^-40, 1/4]), no division.
 * Inputs were checked to lie in [0, 1] (cbce__domain), so no NaN reaches it.
 */
CBCE__VI void probs32_vec(const int want, const int plain, const int nk, const vd_t *x,
                          const vd_t *tr, const vd_t *pw, vd_t keep, vd_t half, vd_t *lo,
                          vd_t *gr, vd_t *he)
{
    const vd_t one = vd_set1(1.0), clamp = vd_set1(-100.0);
    vd_t y[CBCE__S32_K], q[CBCE__S32_K], m[CBCE__S32_K];
    int j;
    (void)pw;
    for (j = 0; j < nk; j++) {
        y[j] = plain ? tr[j] : vd_mla(tr[j], keep, half);
        q[j] = plain ? vd_sub(one, tr[j]) : vd_mla(vd_sub(one, tr[j]), keep, half);
        m[j] = vd_sub(one, x[j]);
    }
    if (want & CBCE__LOSS) {
        for (j = 0; j < nk; j++) {
            vd_t c, lx, l1;
            vd_fast_two_sum(one, vd_neg(x[j]), &c);
            lx = vd_select(vd_eq(x[j], vd_zero()), clamp, vd_log_pos(x[j]));
            l1 = vd_select(vd_eq(m[j], vd_zero()), clamp, vd_add(vd_log_pos(m[j]), c));
            lx = vd_max(lx, clamp);
            l1 = vd_max(l1, clamp);
            lo[j] = vd_nmla(q[j], l1, vd_neg(vd_mul(y[j], lx)));
        }
    }
    if (want & (CBCE__GRAD | CBCE__HESS)) {
        for (j = 0; j < nk; j++) {
            vd_t den = vd_max(vd_mul(x[j], m[j]), vd_set1((double)1e-12f));
            vd_t r = vd_sub(x[j], y[j]);
            if (want & CBCE__GRAD)
                gr[j] = vd_mul(r, vd_rcp50(den));
            if (want & CBCE__HESS)
                he[j] = vd_mul(vd_mla(r, r, vd_mul(y[j], q[j])), vd_rcp50(vd_mul(den, den)));
        }
    }
}

#define CBCE__S32_VEC probs32_vec
#define CBCE__S32_NAME probs32
#define CBCE__S32_PLAIN 0
#include "losses/span32.h"

CBCE__MAYBE_UNUSED static void probs32_span(int want, int reduced, const cbce__span *S,
                                            const cbce__span_consts *k0)
{
    cbce__span_consts k = *k0;
    probs32_run(want, reduced, 0, S, &k);
}

CBCE__S32_FORWARD(cbce__probs_steps, probs32_span)
CBCE__STEPS(cbce__probs_steps, probs_step_d, probs_step_x,
            CBCE__S32_SPAN(cbce__probs_steps, probs32_span), NULL);

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
