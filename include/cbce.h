/*
 * cbce.h -- binary cross-entropy, exact to the last bit.  The public C99 interface.
 *
 * This header is the manual of the C core.  It compiles as C99 and as C++, includes
 * nothing but <stddef.h>, defines no macro outside the CBCE_ prefix, and the library
 * behind it has no global mutable state but its thread pool (workers started on first use
 * of num_threads > 1, reset in a fork() child), never allocates in a kernel, never prints
 * and never aborts: every entry point returns a status code (cbce_status_t).
 *
 * Data model
 * ----------
 * Every function works on n elements addressed by a flat index i = 0 .. n-1 (the C-order
 * index of the caller's array).  Inputs are described by a cbce_operand_t:
 *
 *     element i  =  data[((i / repeat) % period) * stride]        (strides in elements)
 *
 * which covers contiguous (stride 1, period n, repeat 1), strided and negative-stride
 * views, a scalar (stride 0), and the broadcasts used for weights without a copy: for an
 * (N, C) input, a weight of shape (C,) is {stride 1, period C, repeat 1} and one of shape
 * (N, 1) is {stride 1, period N, repeat C}.  cbce_vector() and cbce_scalar() build the
 * common cases.  Targets may be float32, float64, uint8, int8 or bool; the input and the
 * weights have the dtype of the function (_f32 or _f64); grad_output may be float32 or
 * float64 in either (a float64 scale such as 1/n is then not rounded to float32).
 *
 * Accuracy: float32 is computed in double and rounded once (<= 1 ulp); float64 with
 * extended precision in the transcendental parts (see README.md for measured figures).
 * Reductions are summed in fixed blocks of CBCE_BLOCK elements with compensated
 * arithmetic and combined in a fixed pairwise tree, so a result is bitwise the same for
 * every num_threads and operand layout at one SIMD level (see cbce_simd_t).
 *
 * Thread safety: every function is reentrant; distinct calls may run concurrently.
 */
#ifndef CBCE_H
#define CBCE_H

#include <stddef.h>

#define CBCE_VERSION_MAJOR 0
#define CBCE_VERSION_MINOR 2
#define CBCE_VERSION_PATCH 0
#define CBCE_VERSION_NUMBER \
    (CBCE_VERSION_MAJOR * 10000 + CBCE_VERSION_MINOR * 100 + CBCE_VERSION_PATCH)

/* Elements per reduction block: part of the definition of every reduced result. */
#define CBCE_BLOCK 4096

#if defined(CBCE_STATIC_DEFINE)
#  define CBCE_API
#elif defined(_WIN32)
#  if defined(CBCE_BUILDING)
#    define CBCE_API __declspec(dllexport)
#  else
#    define CBCE_API __declspec(dllimport)
#  endif
#elif defined(__GNUC__) && __GNUC__ >= 4
#  define CBCE_API __attribute__((visibility("default")))
#else
#  define CBCE_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes.  Frozen: a code keeps its number forever. */
typedef enum cbce_status {
    CBCE_OK = 0,
    CBCE_ERR_NULL = 1,          /* a required pointer is NULL */
    CBCE_ERR_DTYPE = 2,         /* an operand has a dtype this function does not take */
    CBCE_ERR_SHAPE = 3,         /* an operand's period/repeat does not fit n */
    CBCE_ERR_REDUCTION = 4,     /* unknown reduction, or one this function does not take */
    CBCE_ERR_SMOOTHING = 5,     /* label_smoothing outside [0, 1] or NaN */
    CBCE_ERR_GAMMA = 6,         /* focal gamma < 0 or NaN */
    CBCE_ERR_ALPHA = 7,         /* focal alpha NaN or infinite */
    CBCE_ERR_DOMAIN = 8,        /* BCE on probabilities: an input or target outside [0, 1] */
    CBCE_ERR_THREADS = 9,       /* reserved, never returned: a pool that cannot start
                                   leaves the work to the calling thread */
    CBCE_ERR_OPERAND = 10,      /* an operand this function does not take (pos_weight) */
    CBCE_ERR_ARGS_SIZE = 11,    /* cbce_args_t.size is not that of a layout this library
                                   knows (see "ABI" at cbce_args_t) */
    CBCE_ERR_EPSILON = 12,      /* Poly-1 epsilon NaN or infinite */
    CBCE_ERR_GAMMA_POS = 13,    /* asymmetric gamma_pos < 0, infinite or NaN */
    CBCE_ERR_GAMMA_NEG = 14,    /* asymmetric gamma_neg < 0, infinite or NaN */
    CBCE_ERR_CLIP = 15,         /* asymmetric clip outside [0, 1) or NaN */
    CBCE_STATUS_COUNT = 16
} cbce_status_t;

typedef enum cbce_dtype {
    CBCE_F32 = 0,
    CBCE_F64 = 1,
    CBCE_U8 = 2,
    CBCE_I8 = 3,
    CBCE_BOOL = 4               /* one byte: 0 is false, any other value true */
} cbce_dtype_t;

/* Instruction-set level of the kernels.  Every level meets the accuracy bounds; levels may
 * differ in the last bit (FMA, reciprocal estimates).  At one level, results are bitwise
 * the same for every thread count and operand layout. */
typedef enum cbce_simd {
    CBCE_SIMD_AUTO = 0,     /* the best level this CPU supports */
    CBCE_SIMD_SCALAR = 1,   /* portable C, loops not vectorised */
    CBCE_SIMD_BASELINE = 2, /* portable C, vectorised for the compiler's default target
                               (SSE2 on x86-64, NEON on arm64) */
    CBCE_SIMD_AVX2 = 3,     /* x86-64 AVX2 + FMA */
    CBCE_SIMD_AVX512 = 4    /* x86-64 AVX-512 F/BW/DQ/VL */
} cbce_simd_t;

typedef enum cbce_reduction {
    CBCE_REDUCTION_NONE = 0,
    CBCE_REDUCTION_SUM = 1,
    CBCE_REDUCTION_MEAN = 2,          /* divides by n */
    CBCE_REDUCTION_WEIGHTED_MEAN = 3  /* divides by the sum of the broadcast weights */
} cbce_reduction_t;

/* A read-only operand: element i is data[((i / repeat) % period) * stride]. */
typedef struct cbce_operand {
    const void *data;   /* NULL: absent (weight, pos_weight, grad_output default to 1) */
    int dtype;          /* a cbce_dtype_t */
    ptrdiff_t stride;   /* in elements; 0 broadcasts one value */
    size_t period;      /* >= 1 */
    size_t repeat;      /* >= 1 */
} cbce_operand_t;

/*
 * Everything a loss call reads.  Zero-initialise, set size = sizeof(cbce_args_t), then fill
 * what you use; a zero field is that option's default.
 *
 * ABI.  The struct only ever grows at its end, and every field added later has zero as its
 * default ("as before").  The library reads the first `size` bytes: the fields a smaller
 * (older) caller's struct lacks take their zero default; a larger (newer) caller's struct
 * is accepted when every byte past the fields this library knows is zero, and refused with
 * CBCE_ERR_ARGS_SIZE otherwise (an option this library cannot honour), as is a size below
 * this first sized layout (version 0.2).  So a program keeps working with later libraries
 * of the same soname.
 *
 * Versions and sonames.  CBCE_VERSION_MAJOR/MINOR/PATCH are the header's version,
 * cbce_version_number() the linked library's.  The shared library's soname is
 * libcbce.so.MAJOR from 1.0 on, where a MAJOR change is the only one that may break the
 * ABI (remove or change a function or a field); MINOR adds functions, fields or families;
 * PATCH changes neither.  Before 1.0 it is libcbce.so.0.MINOR: each 0.x minor may break the
 * ABI (0.2 put `size` first).
 */
typedef struct cbce_args {
    size_t size;                  /* sizeof(cbce_args_t) as the caller was compiled */
    size_t n;                     /* number of elements */
    cbce_operand_t input;         /* logits (or probabilities for cbce_bce_*) */
    cbce_operand_t target;        /* labels: float32, float64, uint8, int8 or bool */
    cbce_operand_t weight;        /* optional, multiplies each element's loss */
    cbce_operand_t pos_weight;    /* optional, logits losses only: weight of the positive term */
    cbce_operand_t grad_output;   /* optional, backward only: upstream gradient (a scalar
                                     unless reduction is NONE) */
    int reduction;                /* a cbce_reduction_t */
    double label_smoothing;       /* eps in [0, 1]: y -> y * (1 - eps) + eps / 2 */
    double alpha;                 /* focal: class balance in ...; NaN means none */
    double gamma;                 /* focal: exponent >= 0 */
    int num_threads;              /* <= 0 or 1: the calling thread only */
    int simd;                     /* a cbce_simd_t; AUTO (0) picks the best available, a
                                     level above what the CPU supports is lowered */
    /* appended after the first sized layout (a zero field: no poly term, no focusing, no
       margin) */
    double epsilon;               /* Poly-1: coefficient of the poly term, any finite real */
    double gamma_pos;             /* asymmetric: exponent of the positive term, >= 0 */
    double gamma_neg;             /* asymmetric: exponent of the negative term, >= 0 */
    double clip;                  /* asymmetric: probability margin in [0, 1); 0: none */
    /* appended after clip (zero: the call's own denominator) */
    double mean_denominator;      /* MEAN / WEIGHTED_MEAN over one shard of a larger array:
                                     that array's n or weight sum, as the double-double
                                     mean_denominator + mean_denominator_lo, replaces this
                                     call's own n or weight sum (0: this call's own) */
    double mean_denominator_lo;   /* read only when mean_denominator is not 0 */
} cbce_args_t;

/* Version of the library actually linked (may differ from the header's macros). */
CBCE_API unsigned cbce_version_number(void);
CBCE_API const char *cbce_version_string(void);
/* A static, human-readable name for a status code ("unknown status" if out of range). */
CBCE_API const char *cbce_status_string(int status);

/* The level a call asking for `requested` runs at on this CPU (AUTO: the best one);
 * cbce_simd_name() names a level ("scalar", "baseline", "avx2", "avx512"). */
CBCE_API int cbce_simd_level(int requested);
CBCE_API const char *cbce_simd_name(int level);

/* Operand builders. */
CBCE_API cbce_operand_t cbce_vector(const void *data, int dtype, size_t n, ptrdiff_t stride);
CBCE_API cbce_operand_t cbce_scalar(const void *data, int dtype);

/*
 * Binary cross-entropy with logits, per element, with y the smoothed target, w the weight
 * and p the pos_weight:   l = w * ((1 - y) * x + (1 + (p - 1) * y) * softplus(-x)).
 *
 * _fwd: reduction NONE writes l into out[i * out_stride]; any other reduction writes the
 *       reduced value into *result (out may then be NULL).  Empty input: sum 0, mean NaN.
 * _bwd: writes d loss / d x into grad[i * grad_stride], scaled by grad_output and, for MEAN
 *       and WEIGHTED_MEAN, divided by n or by the sum of the weights.
 * _fwd_bwd: both from one pass over memory.
 * _grad_hess: elementwise gradient and second derivative (reduction ignored).
 * grad may alias input when both have the same stride (in-place gradient; a reduced
 * _fwd_bwd then forms the rescaled sum of an overflowing total in its one pass, with the
 * same bits).  Any other overlap of an output with an operand is not allowed.
 * Shards: a MEAN or WEIGHTED_MEAN call on part of a larger array, with a->mean_denominator
 * set to that array's n or weight sum (the latter as the double-double rounded from the
 * exact sum), divides by it instead of its own (the loss too).  Its gradient is then
 * bitwise the whole array's call's, element for element, when that call's own weight sum
 * is exact as a double-double (weights spanning less than ~50 binades, sum below 2^996).
 */
/*
 * Binary cross-entropy on probabilities, torch.nn.functional.binary_cross_entropy's
 * definition: with x the probability, y the smoothed target and w the weight,
 *     l = -w * (y * max(log x, -100) + (1 - y) * max(log(1 - x), -100))
 *     dl/dx = w * (x - y) / max(x * (1 - x), 1e-12)   (1e-12 rounded to float, as PyTorch's
 *                                                       EPSILON, for both dtypes)
 *     d2l/dx2 = w * ((x - y)^2 + y * (1 - y)) / max(x * (1 - x), 1e-12)^2
 * (the clamps keep x in {0, 1} finite).  pos_weight must be absent; the rest of the
 * arguments, the outputs and the reductions are as for cbce_bce_logits_*.
 *
 * Domain: every input and every (raw) target must lie in [0, 1]; NaN is outside.  The check
 * runs before anything is written: on a violation the call returns CBCE_ERR_DOMAIN, writes
 * no output, and stores into *bad_index (when bad_index is not NULL) the flat index i of
 * the first element whose input or target is outside [0, 1].  *bad_index is not written
 * on any other return.
 */
/*
 * Sigmoid focal loss on logits (Lin et al. 2017; torchvision.ops.sigmoid_focal_loss), with
 * p = sigmoid(x), y the smoothed target, p_t = p*y + (1-p)*(1-y) and
 * a_t = alpha*y + (1-alpha)*(1-y):
 *     l = w * a_t * (1 - p_t)^gamma * bce_with_logits(x, y)
 * a->alpha = NaN drops a_t (no class balance); an infinite alpha is CBCE_ERR_ALPHA.
 * a->gamma must be >= 0 and finite (CBCE_ERR_GAMMA).  pos_weight must be absent.
 * Computed in log space, (1 - p_t)^gamma = exp(gamma * log(1 - p_t)), so the loss and its
 * gradient are finite for every gamma >= 0 (0 < gamma < 1 included) and infinite logits
 * give the limits.  gamma = 0 with alpha = NaN is cbce_bce_logits_* within 1 ulp (both
 * faithful; a mean's gradient within 2: its multiplier is rounded in another order).
 * Outputs, reductions and grad_output as for cbce_bce_logits_*; _grad_hess returns the
 * true second derivative, negative where the loss is locally concave.
 */

/*
 * Poly-1 (Leng et al., "PolyLoss", ICLR 2022) on logits, with p_t = y sigmoid(x) +
 * (1 - y) sigmoid(-x) and 1 - p_t formed as y sigmoid(-x) + (1 - y) sigmoid(x):
 *     cbce_poly1_*:        l = w * (bce_with_logits(x, y; pos_weight) + epsilon * (1 - p_t))
 *     cbce_poly1_focal_*:  l = w * (a_t (1 - p_t)^gamma bce_with_logits(x, y)
 *                                   + epsilon * (1 - p_t)^(gamma + 1))
 * a->epsilon any finite real (CBCE_ERR_EPSILON otherwise; 0: the base loss).  pos_weight
 * weighs the BCE term only (poly1; poly1_focal takes none); alpha, gamma and
 * label_smoothing as for the focal loss.
 *
 * Asymmetric loss (Ridnik et al., ICCV 2021) on logits, with p = sigmoid(x) and the margin
 * pm = max(p - clip, 0):
 *     l = w * (y (1 - p)^gamma_pos (-log p) + (1 - y) pm^gamma_neg (-log(1 - pm)))
 * a->gamma_pos, a->gamma_neg >= 0 and finite, 0 <= a->clip < 1 (CBCE_ERR_GAMMA_POS,
 * CBCE_ERR_GAMMA_NEG, CBCE_ERR_CLIP); zero fields give BCE with logits (the paper's
 * defaults are 0, 4, 0.05).  No pos_weight, label_smoothing is not read.  At p = clip the
 * derivatives are the one-sided ones from p > clip.
 * Both: computed in log space, infinite logits give the limits; outputs, reductions and
 * grad_output as for cbce_bce_logits_*; _grad_hess returns the true second derivative.
 */

/* BEGIN generated by tools/gen_registry.py from src/cbce/core/registry.h; do not edit */
/* binary_cross_entropy_with_logits */
CBCE_API int cbce_bce_logits_fwd_f32(const cbce_args_t *a, float *out, ptrdiff_t out_stride,
                                     float *result);
CBCE_API int cbce_bce_logits_bwd_f32(const cbce_args_t *a, float *grad,
                                     ptrdiff_t grad_stride);
CBCE_API int cbce_bce_logits_fwd_bwd_f32(const cbce_args_t *a, float *out,
                                         ptrdiff_t out_stride, float *result, float *grad,
                                         ptrdiff_t grad_stride);
CBCE_API int cbce_bce_logits_grad_hess_f32(const cbce_args_t *a, float *grad,
                                           ptrdiff_t grad_stride, float *hess,
                                           ptrdiff_t hess_stride);
CBCE_API int cbce_bce_logits_fwd_f64(const cbce_args_t *a, double *out,
                                     ptrdiff_t out_stride, double *result);
CBCE_API int cbce_bce_logits_bwd_f64(const cbce_args_t *a, double *grad,
                                     ptrdiff_t grad_stride);
CBCE_API int cbce_bce_logits_fwd_bwd_f64(const cbce_args_t *a, double *out,
                                         ptrdiff_t out_stride, double *result, double *grad,
                                         ptrdiff_t grad_stride);
CBCE_API int cbce_bce_logits_grad_hess_f64(const cbce_args_t *a, double *grad,
                                           ptrdiff_t grad_stride, double *hess,
                                           ptrdiff_t hess_stride);
/* binary_cross_entropy */
CBCE_API int cbce_bce_fwd_f32(const cbce_args_t *a, float *out, ptrdiff_t out_stride,
                              float *result, size_t *bad_index);
CBCE_API int cbce_bce_bwd_f32(const cbce_args_t *a, float *grad, ptrdiff_t grad_stride,
                              size_t *bad_index);
CBCE_API int cbce_bce_fwd_bwd_f32(const cbce_args_t *a, float *out, ptrdiff_t out_stride,
                                  float *result, float *grad, ptrdiff_t grad_stride,
                                  size_t *bad_index);
CBCE_API int cbce_bce_grad_hess_f32(const cbce_args_t *a, float *grad,
                                    ptrdiff_t grad_stride, float *hess,
                                    ptrdiff_t hess_stride, size_t *bad_index);
CBCE_API int cbce_bce_fwd_f64(const cbce_args_t *a, double *out, ptrdiff_t out_stride,
                              double *result, size_t *bad_index);
CBCE_API int cbce_bce_bwd_f64(const cbce_args_t *a, double *grad, ptrdiff_t grad_stride,
                              size_t *bad_index);
CBCE_API int cbce_bce_fwd_bwd_f64(const cbce_args_t *a, double *out, ptrdiff_t out_stride,
                                  double *result, double *grad, ptrdiff_t grad_stride,
                                  size_t *bad_index);
CBCE_API int cbce_bce_grad_hess_f64(const cbce_args_t *a, double *grad,
                                    ptrdiff_t grad_stride, double *hess,
                                    ptrdiff_t hess_stride, size_t *bad_index);
/* sigmoid_focal_loss */
CBCE_API int cbce_focal_fwd_f32(const cbce_args_t *a, float *out, ptrdiff_t out_stride,
                                float *result);
CBCE_API int cbce_focal_bwd_f32(const cbce_args_t *a, float *grad, ptrdiff_t grad_stride);
CBCE_API int cbce_focal_fwd_bwd_f32(const cbce_args_t *a, float *out, ptrdiff_t out_stride,
                                    float *result, float *grad, ptrdiff_t grad_stride);
CBCE_API int cbce_focal_grad_hess_f32(const cbce_args_t *a, float *grad,
                                      ptrdiff_t grad_stride, float *hess,
                                      ptrdiff_t hess_stride);
CBCE_API int cbce_focal_fwd_f64(const cbce_args_t *a, double *out, ptrdiff_t out_stride,
                                double *result);
CBCE_API int cbce_focal_bwd_f64(const cbce_args_t *a, double *grad, ptrdiff_t grad_stride);
CBCE_API int cbce_focal_fwd_bwd_f64(const cbce_args_t *a, double *out, ptrdiff_t out_stride,
                                    double *result, double *grad, ptrdiff_t grad_stride);
CBCE_API int cbce_focal_grad_hess_f64(const cbce_args_t *a, double *grad,
                                      ptrdiff_t grad_stride, double *hess,
                                      ptrdiff_t hess_stride);
/* poly1_loss */
CBCE_API int cbce_poly1_fwd_f32(const cbce_args_t *a, float *out, ptrdiff_t out_stride,
                                float *result);
CBCE_API int cbce_poly1_bwd_f32(const cbce_args_t *a, float *grad, ptrdiff_t grad_stride);
CBCE_API int cbce_poly1_fwd_bwd_f32(const cbce_args_t *a, float *out, ptrdiff_t out_stride,
                                    float *result, float *grad, ptrdiff_t grad_stride);
CBCE_API int cbce_poly1_grad_hess_f32(const cbce_args_t *a, float *grad,
                                      ptrdiff_t grad_stride, float *hess,
                                      ptrdiff_t hess_stride);
CBCE_API int cbce_poly1_fwd_f64(const cbce_args_t *a, double *out, ptrdiff_t out_stride,
                                double *result);
CBCE_API int cbce_poly1_bwd_f64(const cbce_args_t *a, double *grad, ptrdiff_t grad_stride);
CBCE_API int cbce_poly1_fwd_bwd_f64(const cbce_args_t *a, double *out, ptrdiff_t out_stride,
                                    double *result, double *grad, ptrdiff_t grad_stride);
CBCE_API int cbce_poly1_grad_hess_f64(const cbce_args_t *a, double *grad,
                                      ptrdiff_t grad_stride, double *hess,
                                      ptrdiff_t hess_stride);
/* poly1_focal_loss */
CBCE_API int cbce_poly1_focal_fwd_f32(const cbce_args_t *a, float *out,
                                      ptrdiff_t out_stride, float *result);
CBCE_API int cbce_poly1_focal_bwd_f32(const cbce_args_t *a, float *grad,
                                      ptrdiff_t grad_stride);
CBCE_API int cbce_poly1_focal_fwd_bwd_f32(const cbce_args_t *a, float *out,
                                          ptrdiff_t out_stride, float *result, float *grad,
                                          ptrdiff_t grad_stride);
CBCE_API int cbce_poly1_focal_grad_hess_f32(const cbce_args_t *a, float *grad,
                                            ptrdiff_t grad_stride, float *hess,
                                            ptrdiff_t hess_stride);
CBCE_API int cbce_poly1_focal_fwd_f64(const cbce_args_t *a, double *out,
                                      ptrdiff_t out_stride, double *result);
CBCE_API int cbce_poly1_focal_bwd_f64(const cbce_args_t *a, double *grad,
                                      ptrdiff_t grad_stride);
CBCE_API int cbce_poly1_focal_fwd_bwd_f64(const cbce_args_t *a, double *out,
                                          ptrdiff_t out_stride, double *result,
                                          double *grad, ptrdiff_t grad_stride);
CBCE_API int cbce_poly1_focal_grad_hess_f64(const cbce_args_t *a, double *grad,
                                            ptrdiff_t grad_stride, double *hess,
                                            ptrdiff_t hess_stride);
/* asymmetric_loss */
CBCE_API int cbce_asymmetric_fwd_f32(const cbce_args_t *a, float *out, ptrdiff_t out_stride,
                                     float *result);
CBCE_API int cbce_asymmetric_bwd_f32(const cbce_args_t *a, float *grad,
                                     ptrdiff_t grad_stride);
CBCE_API int cbce_asymmetric_fwd_bwd_f32(const cbce_args_t *a, float *out,
                                         ptrdiff_t out_stride, float *result, float *grad,
                                         ptrdiff_t grad_stride);
CBCE_API int cbce_asymmetric_grad_hess_f32(const cbce_args_t *a, float *grad,
                                           ptrdiff_t grad_stride, float *hess,
                                           ptrdiff_t hess_stride);
CBCE_API int cbce_asymmetric_fwd_f64(const cbce_args_t *a, double *out,
                                     ptrdiff_t out_stride, double *result);
CBCE_API int cbce_asymmetric_bwd_f64(const cbce_args_t *a, double *grad,
                                     ptrdiff_t grad_stride);
CBCE_API int cbce_asymmetric_fwd_bwd_f64(const cbce_args_t *a, double *out,
                                         ptrdiff_t out_stride, double *result, double *grad,
                                         ptrdiff_t grad_stride);
CBCE_API int cbce_asymmetric_grad_hess_f64(const cbce_args_t *a, double *grad,
                                           ptrdiff_t grad_stride, double *hess,
                                           ptrdiff_t hess_stride);
/* END generated */

/*
 * Elementwise helpers: out[i * out_stride] = f(x[i * x_stride]) for i < n, with
 *     sigmoid(x) = 1 / (1 + exp(-x)),  log_sigmoid(x) = -softplus(-x),
 *     softplus(x) = log(1 + exp(x)),
 * each within 1 ulp over the whole range (subnormal results in subnormal ulps), infinite
 * arguments giving the limits and NaN giving NaN.  out may be x (same stride: in place).
 * Strides are in elements and may be negative or 0 for x.  Run on the calling thread.
 * Returns CBCE_OK, or CBCE_ERR_NULL if n > 0 and x or out is NULL.
 */
CBCE_API int cbce_sigmoid_f32(size_t n, const float *x, ptrdiff_t x_stride, float *out,
                              ptrdiff_t out_stride);
CBCE_API int cbce_sigmoid_f64(size_t n, const double *x, ptrdiff_t x_stride, double *out,
                              ptrdiff_t out_stride);
CBCE_API int cbce_log_sigmoid_f32(size_t n, const float *x, ptrdiff_t x_stride, float *out,
                                  ptrdiff_t out_stride);
CBCE_API int cbce_log_sigmoid_f64(size_t n, const double *x, ptrdiff_t x_stride,
                                  double *out, ptrdiff_t out_stride);
CBCE_API int cbce_softplus_f32(size_t n, const float *x, ptrdiff_t x_stride, float *out,
                               ptrdiff_t out_stride);
CBCE_API int cbce_softplus_f64(size_t n, const double *x, ptrdiff_t x_stride, double *out,
                               ptrdiff_t out_stride);

/* Number of threads a call with num_threads <= 0 would use by default in bindings. */
CBCE_API int cbce_cpu_count(void);

#ifdef __cplusplus
}
#endif

#endif /* CBCE_H */
