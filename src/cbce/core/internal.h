/*
 * internal.h -- what the C core's files share; not installed, not part of the API.
 *
 * Design, in brief:
 *  (a) The chunk path is load -> compute -> store over chunks of CBCE__CHUNK elements.  The
 *      loads turn any operand (strided, broadcast by period/repeat, any target dtype) into
 *      contiguous double buffers that live in L1 (a contiguous float64 input and target
 *      are read in place); the compute step is a loop over those buffers; the stores
 *      round once to the output dtype.  So one driver serves every layout and dtype, and
 *      a loss family only supplies its compute step.  The span kernels (cbce__span
 *      below) read contiguous operands in place in their own dtypes and write the
 *      outputs.  Memory is read and written once per call.
 *  (b) The compute step exists in two precisions from one body: "D" (double arithmetic,
 *      used for float32 data: rounding a double result once gives <= 1 ulp) and "X"
 *      (extended arithmetic, used for float64 data).  See logits_elem.h.
 *  (c) Reductions: lanes and blocks fixed by the flat index (CBCE_BLOCK elements a block,
 *      CBCE__LANES lanes a block, a pairwise tree over blocks): lanes in double (float32
 *      data) or double-double (float64), block sums and the tree in double-double, so
 *      the result does not depend on how blocks are shared among threads.
 */
#ifndef CBCE_INTERNAL_H
#define CBCE_INTERNAL_H

#include "cbce.h"
#include "registry.h"

#define CBCE__CHUNK 256
#define CBCE__LANES 32

/* What a compute step is asked for.  CBCE__NEG_LOSS, in cbce__run's `want` only, with
 * reduction NONE: the loss is written negated (float64 log_sigmoid, helpers.c); the span
 * kernel of float64 BCE with logits applies it (cbce__span_consts.lneg), no other does. */
enum { CBCE__LOSS = 1, CBCE__GRAD = 2, CBCE__HESS = 4, CBCE__NEG_LOSS = 8 };

/* Per-call constants of a compute step. */
typedef struct cbce__consts {
    double eps;    /* label_smoothing */
    double keep;   /* 1 - label_smoothing */
    double half;   /* label_smoothing / 2 */
    double alpha;  /* focal class balance (has_alpha != 0) */
    double gamma;  /* focal exponent */
    int has_alpha;
    double par[CBCE__NPARAMS]; /* every registry.h parameter, by CBCE__PARAM_<name> */
} cbce__consts;

/*
 * A compute step over c <= CBCE__CHUNK elements: x input, t raw target, p pos_weight,
 * w loss multiplier (weight), m + ml gradient multiplier (weight * grad_output * 1/n ...)
 * as a double-double: ml is its low part for float64 data (the float64 steps round
 * m*(m + ml) once) and 0 for float32 data.
 * Writes l = w*loss, g = m*dloss/dx, h = m*d2loss/dx2 for the parts asked for in `want`.
 * CBCE__STEP_PARAMS(R, K) is the parameter list of every step: R is `restrict` or empty,
 * K the name of the constants' parameter.
 */
#define CBCE__STEP_PARAMS(R, K)                                                           \
    int want, size_t c, const double *R x, const double *R t, const double *R p,          \
        const double *R w, const double *R m, const double *R ml, const cbce__consts *K,  \
        double *R l, double *R g, double *R h
typedef void (*cbce__step_fn)(CBCE__STEP_PARAMS(, k));

/*
 * (d) SIMD dispatch.  A kernel file (one that defines compute steps) is compiled once per
 *     instruction-set level: the build defines CBCE__ISA_VARIANT and CBCE__ISA_SUFFIX
 *     (_scalar, _avx2, _avx512) and adds the level's flags; the plain compile is the
 *     baseline.  Each compile defines its table of steps, CBCE__ISA_NAME(name); only the
 *     plain compile defines the family and the public entry points (#ifndef
 *     CBCE__ISA_VARIANT).  CBCE__HAVE_X86_VARIANTS says whether the avx2/avx512 objects
 *     exist (x86-64 builds with GCC or Clang).
 */
#ifndef CBCE__ISA_SUFFIX
#define CBCE__ISA_SUFFIX _baseline
#endif
#define CBCE__CAT2(a, b) a##b
#define CBCE__CAT(a, b) CBCE__CAT2(a, b)
#define CBCE__ISA_NAME(name) CBCE__CAT(name, CBCE__ISA_SUFFIX)
#if defined(__GNUC__) && !defined(CBCE_NO_SIMD_VARIANTS)
#define CBCE__HAVE_VARIANTS 1 /* at least the scalar variant */
#else
#define CBCE__HAVE_VARIANTS 0
#endif
#if CBCE__HAVE_VARIANTS && (defined(__x86_64__) || defined(_M_X64))
#define CBCE__HAVE_X86_VARIANTS 1
#else
#define CBCE__HAVE_X86_VARIANTS 0
#endif
#define CBCE__NLEVELS 5 /* indexed by cbce_simd_t; entry 0 unused */

/*
 * (e) Span kernels: a family may also supply, per level and data type, a kernel that reads
 *     its operands in their own dtypes straight from memory (simd/vec.h).  The driver hands
 *     it contiguous runs of user memory where an operand is contiguous there, and chunk
 *     buffers of the same dtype (gathered) where it is strided or broadcast, so the kernel
 *     sees the same values in the same lane positions either way: the results do not
 *     depend on the layout.  An operand that is one value for every element comes as a
 *     constant instead.  Spans start at multiples of CBCE__SPAN within a block and all but
 *     an array's last are whole multiples of it, so a lane of the reduction holds the same
 *     elements for every layout and thread count.
 */
#define CBCE__SPAN 1024

typedef struct cbce__span {
    size_t c;               /* elements */
    const void *x;          /* input, the data dtype */
    const void *t;          /* target, dtype tdtype; NULL: every element the constant tk */
    int tdtype;
    const void *p;          /* pos_weight; NULL: every element the constant pk */
    const void *w;          /* weight; NULL: the constant wk */
    const void *go;         /* grad_output per element (unreduced gradient); NULL: none */
    void *l, *g, *h;        /* unreduced loss, gradient, hessian (contiguous) where wanted */
    double *lanes;          /* reduced loss: CBCE__LANES lane sums, added to */
    double *lanes_lo;       /* and their low parts (for data that needs them) */
} cbce__span;

/* Per-call constants of a span kernel: label smoothing y = t*keep + half (eps itself for
 * kernels that need it), the constant target / pos_weight / weight, and the multipliers:
 * the loss is weight * lscale * loss, the gradient and hessian go * weight * d (with go) or
 * ((weight * wpre) * (gscale + gscale_lo)) * d (without), products in this order;
 * gscale + gscale_lo is grad_output / denominator as a double-double (float64 kernels
 * take the low part into their one rounding). */
typedef struct cbce__span_consts {
    double keep, half, eps;
    double tk, pk, wk;
    double lscale, wpre, gscale, gscale_lo;
    double par[CBCE__NPARAMS]; /* every registry.h parameter, by CBCE__PARAM_<name> */
    int lneg; /* CBCE__NEG_LOSS: the unreduced loss negated (the float64 BCE-with-logits
               * kernel applies it; no other kernel reads it) */
} cbce__span_consts;

typedef void (*cbce__span_fn)(int want, int reduced, const cbce__span *S,
                              const cbce__span_consts *k);

/* A family's compute steps at one level: for float32 data (d) and float64 data (x), and
 * the span kernels where the family has them (NULL: the driver's chunk buffers).  With a
 * d_span, the driver calls d only for the loss (step.h's CBCE__FAMILY_LOSS_STEP). */
typedef struct cbce__steps {
    cbce__step_fn d;
    cbce__step_fn x;
    cbce__span_fn d_span;
    cbce__span_fn x_span;
} cbce__steps;

/* The step tables of a family at every level (NULL where not built). */
#if CBCE__HAVE_X86_VARIANTS
#define CBCE__STEP_TABLES(name)                                                          \
    {NULL, &name##_scalar, &name##_baseline, &name##_avx2, &name##_avx512}
#define CBCE__DECLARE_STEPS(name)                                                        \
    extern const cbce__steps name##_scalar, name##_baseline, name##_avx2, name##_avx512
#elif CBCE__HAVE_VARIANTS
#define CBCE__STEP_TABLES(name) {NULL, &name##_scalar, &name##_baseline, NULL, NULL}
#define CBCE__DECLARE_STEPS(name) extern const cbce__steps name##_scalar, name##_baseline
#else
#define CBCE__STEP_TABLES(name) {NULL, &name##_baseline, &name##_baseline, NULL, NULL}
#define CBCE__DECLARE_STEPS(name) extern const cbce__steps name##_baseline
#endif

/* A loss family (registry.h): its steps, operand bits (CBCE__TAKES_POS_WEIGHT,
 * CBCE__CHECKS_DOMAIN) and the bit set of the parameters it reads. */
typedef struct cbce__family {
    const cbce__steps *steps[CBCE__NLEVELS];
    unsigned operands;
    unsigned params;
} cbce__family;

/* Outputs of one call; NULL where not wanted. */
typedef struct cbce__outputs {
    void *loss;  ptrdiff_t loss_stride;   /* reduction NONE */
    void *result;                         /* reduced loss, one element of the data dtype */
    void *grad;  ptrdiff_t grad_stride;
    void *hess;  ptrdiff_t hess_stride;
} cbce__outputs;

/* The checks that need no data: pointers, operands, reduction and the family's parameters
 * (registry.h ranges).  CBCE_OK or the status of the first failure. */
int cbce__check(const cbce__family *f, const cbce_args_t *a, int dtype, int want,
                const cbce__outputs *o);

/* The part of cbce__check that reads only a's scalars: reduction and the family's
 * parameters.  The bindings run it (cbce__check_family) before converting any operand. */
int cbce__check_params(const cbce__family *f, const cbce_args_t *a);

/* The one driver: checks (cbce__check), then runs load -> step -> store over all
 * elements. */
int cbce__run(const cbce__family *f, const cbce_args_t *a, int dtype, int want,
              const cbce__outputs *o);

/* BCE on probabilities (probs.c): CBCE_ERR_DOMAIN with the flat index of the first
 * input or target outside [0, 1] (NaN included) stored in *bad_index (if not NULL), else
 * CBCE_OK.  `a` must have passed cbce__check. */
int cbce__domain(const cbce_args_t *a, size_t *bad_index);

/* Where each parameter of registry.h lives in cbce_args_t (for the bindings). */
extern const size_t cbce__param_offsets[CBCE__NPARAMS];

/* The families of registry.h, by number. */
extern const cbce__family cbce__families[CBCE__NFAMILIES];

/* What a call computes: forward, backward, both, or grad+hess. */
enum { CBCE__OP_FWD, CBCE__OP_BWD, CBCE__OP_FWD_BWD, CBCE__OP_GRAD_HESS };

/*
 * The dispatch behind every public loss entry point and the bindings: family number,
 * operation, data dtype, the arguments, and the outputs: FWD writes the loss (o1, s1) or
 * *result; BWD the gradient (o2, s2); FWD_BWD both; GRAD_HESS the gradient (o1, s1) and
 * the hessian (o2, s2), elementwise whatever a->reduction says.  bad_index as for
 * cbce__domain (families with CBCE__PROBS operands).  Returns -1 for a family number
 * outside the registry.
 */
int cbce__call(int family, int op, int dtype, const cbce_args_t *a, void *o1, ptrdiff_t s1,
               void *result, void *o2, ptrdiff_t s2, size_t *bad_index);

/* cbce__check_params for family number `family` (-1 for a number outside the registry);
 * `a` must be of this build's layout. */
int cbce__check_family(int family, const cbce_args_t *a);

/* The elementwise helpers (helpers.c) at SIMD level `simd` (a cbce_simd_t; the public
 * cbce_<helper>_f32/_f64 take AUTO): `which` CBCE__HELPER_*, `dtype` CBCE_F32 or CBCE_F64,
 * the arguments and statuses of the public entry points. */
enum { CBCE__HELPER_SIGMOID, CBCE__HELPER_LOG_SIGMOID, CBCE__HELPER_SOFTPLUS };
int cbce__helper(int which, int simd, int dtype, size_t n, const void *x, ptrdiff_t x_stride,
                 void *out, ptrdiff_t out_stride);

#endif
