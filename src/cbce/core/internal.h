/*
 * internal.h -- what the C core's files share; not installed, not part of the API.
 *
 * Design, in brief:
 *  (a) Every kernel is load -> compute -> store over chunks of CBCE__CHUNK elements.  The
 *      loads turn any operand (strided, broadcast by period/repeat, any target dtype) into
 *      contiguous double buffers that live in L1; the compute step is a plain loop over
 *      those buffers that compilers vectorise; the stores round once to the output dtype.
 *      So one driver serves every layout and dtype, and a loss family only supplies its
 *      compute step.  Memory is read and written once per call.
 *  (b) The compute step exists in two precisions from one body: "D" (double arithmetic,
 *      used for float32 data: rounding a double result once gives <= 1 ulp) and "X"
 *      (extended arithmetic, used for float64 data).  See elem.h.
 *  (c) Reductions: lanes and blocks fixed by the flat index (CBCE_BLOCK elements a block,
 *      CBCE__LANES lanes a block, a pairwise tree over blocks), all in double-double, so
 *      the result does not depend on how blocks are shared among threads.
 */
#ifndef CBCE_INTERNAL_H
#define CBCE_INTERNAL_H

#include "cbce.h"

#define CBCE__CHUNK 256
#define CBCE__LANES 8

/* What a compute step is asked for. */
enum { CBCE__LOSS = 1, CBCE__GRAD = 2, CBCE__HESS = 4 };

/* Per-call constants of a compute step. */
typedef struct cbce__consts {
    double keep;   /* 1 - label_smoothing */
    double half;   /* label_smoothing / 2 */
    double alpha;  /* focal class balance (has_alpha != 0) */
    double gamma;  /* focal exponent */
    int has_alpha;
} cbce__consts;

/*
 * A compute step over c <= CBCE__CHUNK elements: x input, t raw target, p pos_weight,
 * w loss multiplier (weight), m gradient multiplier (weight * grad_output * 1/n ...).
 * Writes l = w*loss, g = m*dloss/dx, h = m*d2loss/dx2 for the parts asked for in `want`.
 */
typedef void (*cbce__step_fn)(int want, size_t c, const double *x, const double *t,
                              const double *p, const double *w, const double *m,
                              const cbce__consts *k, double *l, double *g, double *h);

/* A loss family: its compute step for float32 data (D) and for float64 data (X). */
typedef struct cbce__family {
    cbce__step_fn step_d;
    cbce__step_fn step_x;
    int takes_pos_weight;
    int takes_focal;
} cbce__family;

/* Outputs of one call; NULL where not wanted. */
typedef struct cbce__outputs {
    void *loss;  ptrdiff_t loss_stride;   /* reduction NONE */
    void *result;                         /* reduced loss, one element of the data dtype */
    void *grad;  ptrdiff_t grad_stride;
    void *hess;  ptrdiff_t hess_stride;
} cbce__outputs;

/* The one driver: validates, then runs load -> step -> store over all elements. */
int cbce__run(const cbce__family *f, const cbce_args_t *a, int dtype, int want,
              const cbce__outputs *o);

/* Elementwise helpers (sigmoid & co.) go through the same driver with no target. */

extern const cbce__family cbce__bce_logits;

#endif
