# cbce.pxd -- the cbce C API for Cython: `cimport cbce` from another extension.
#
# A line-by-line mirror of include/cbce.h (the manual: read it for the semantics);
# tests/c/check_header.sh fails if a function or constant of the header is missing here.
# Build with include_dirs=[cbce.get_include()] (the folder holding cbce.h and this file) and
# link the C core; see examples/cython/ for a complete extension.  Every function is
# declared nogil: the core takes no lock and touches no Python object.
from libc.stddef cimport ptrdiff_t

cdef extern from "cbce.h" nogil:
    # version (of the header; cbce_version_number() gives the library's)
    enum:
        CBCE_VERSION_MAJOR
        CBCE_VERSION_MINOR
        CBCE_VERSION_PATCH
        CBCE_VERSION_NUMBER
        CBCE_BLOCK

    # status codes (frozen numbers)
    ctypedef enum cbce_status_t:
        CBCE_OK
        CBCE_ERR_NULL
        CBCE_ERR_DTYPE
        CBCE_ERR_SHAPE
        CBCE_ERR_REDUCTION
        CBCE_ERR_SMOOTHING
        CBCE_ERR_GAMMA
        CBCE_ERR_ALPHA
        CBCE_ERR_DOMAIN
        CBCE_ERR_THREADS
        CBCE_STATUS_COUNT

    ctypedef enum cbce_dtype_t:
        CBCE_F32
        CBCE_F64
        CBCE_U8
        CBCE_I8
        CBCE_BOOL

    # instruction-set level of the kernels (same bits on every level)
    ctypedef enum cbce_simd_t:
        CBCE_SIMD_AUTO
        CBCE_SIMD_SCALAR
        CBCE_SIMD_BASELINE
        CBCE_SIMD_AVX2
        CBCE_SIMD_AVX512

    ctypedef enum cbce_reduction_t:
        CBCE_REDUCTION_NONE
        CBCE_REDUCTION_SUM
        CBCE_REDUCTION_MEAN
        CBCE_REDUCTION_WEIGHTED_MEAN

    # element i is data[((i / repeat) % period) * stride]
    ctypedef struct cbce_operand_t:
        const void *data
        int dtype
        ptrdiff_t stride
        size_t period
        size_t repeat

    # zero-initialise (e.g. memset), then fill what you use
    ctypedef struct cbce_args_t:
        size_t n
        cbce_operand_t input
        cbce_operand_t target
        cbce_operand_t weight
        cbce_operand_t pos_weight
        cbce_operand_t grad_output
        int reduction
        double label_smoothing
        double alpha
        double gamma
        int num_threads
        int simd

    unsigned cbce_version_number()
    const char *cbce_version_string()
    const char *cbce_status_string(int status)

    int cbce_simd_level(int requested)
    const char *cbce_simd_name(int level)

    cbce_operand_t cbce_vector(const void *data, int dtype, size_t n, ptrdiff_t stride)
    cbce_operand_t cbce_scalar(const void *data, int dtype)

    # binary cross-entropy with logits
    int cbce_bce_logits_fwd_f32(const cbce_args_t *a, float *out, ptrdiff_t out_stride,
                                float *result)
    int cbce_bce_logits_fwd_f64(const cbce_args_t *a, double *out, ptrdiff_t out_stride,
                                double *result)
    int cbce_bce_logits_bwd_f32(const cbce_args_t *a, float *grad, ptrdiff_t grad_stride)
    int cbce_bce_logits_bwd_f64(const cbce_args_t *a, double *grad, ptrdiff_t grad_stride)
    int cbce_bce_logits_fwd_bwd_f32(const cbce_args_t *a, float *out, ptrdiff_t out_stride,
                                    float *result, float *grad, ptrdiff_t grad_stride)
    int cbce_bce_logits_fwd_bwd_f64(const cbce_args_t *a, double *out, ptrdiff_t out_stride,
                                    double *result, double *grad, ptrdiff_t grad_stride)
    int cbce_bce_logits_grad_hess_f32(const cbce_args_t *a, float *grad, ptrdiff_t grad_stride,
                                      float *hess, ptrdiff_t hess_stride)
    int cbce_bce_logits_grad_hess_f64(const cbce_args_t *a, double *grad,
                                      ptrdiff_t grad_stride, double *hess,
                                      ptrdiff_t hess_stride)

    # binary cross-entropy on probabilities; *bad_index: first element outside [0, 1]
    int cbce_bce_fwd_f32(const cbce_args_t *a, float *out, ptrdiff_t out_stride,
                         float *result, size_t *bad_index)
    int cbce_bce_fwd_f64(const cbce_args_t *a, double *out, ptrdiff_t out_stride,
                         double *result, size_t *bad_index)
    int cbce_bce_bwd_f32(const cbce_args_t *a, float *grad, ptrdiff_t grad_stride,
                         size_t *bad_index)
    int cbce_bce_bwd_f64(const cbce_args_t *a, double *grad, ptrdiff_t grad_stride,
                         size_t *bad_index)
    int cbce_bce_fwd_bwd_f32(const cbce_args_t *a, float *out, ptrdiff_t out_stride,
                             float *result, float *grad, ptrdiff_t grad_stride,
                             size_t *bad_index)
    int cbce_bce_fwd_bwd_f64(const cbce_args_t *a, double *out, ptrdiff_t out_stride,
                             double *result, double *grad, ptrdiff_t grad_stride,
                             size_t *bad_index)
    int cbce_bce_grad_hess_f32(const cbce_args_t *a, float *grad, ptrdiff_t grad_stride,
                               float *hess, ptrdiff_t hess_stride, size_t *bad_index)
    int cbce_bce_grad_hess_f64(const cbce_args_t *a, double *grad, ptrdiff_t grad_stride,
                               double *hess, ptrdiff_t hess_stride, size_t *bad_index)

    # sigmoid focal loss on logits (alpha NaN: no class balance; gamma >= 0)
    int cbce_focal_fwd_f32(const cbce_args_t *a, float *out, ptrdiff_t out_stride,
                           float *result)
    int cbce_focal_fwd_f64(const cbce_args_t *a, double *out, ptrdiff_t out_stride,
                           double *result)
    int cbce_focal_bwd_f32(const cbce_args_t *a, float *grad, ptrdiff_t grad_stride)
    int cbce_focal_bwd_f64(const cbce_args_t *a, double *grad, ptrdiff_t grad_stride)
    int cbce_focal_fwd_bwd_f32(const cbce_args_t *a, float *out, ptrdiff_t out_stride,
                               float *result, float *grad, ptrdiff_t grad_stride)
    int cbce_focal_fwd_bwd_f64(const cbce_args_t *a, double *out, ptrdiff_t out_stride,
                               double *result, double *grad, ptrdiff_t grad_stride)
    int cbce_focal_grad_hess_f32(const cbce_args_t *a, float *grad, ptrdiff_t grad_stride,
                                 float *hess, ptrdiff_t hess_stride)
    int cbce_focal_grad_hess_f64(const cbce_args_t *a, double *grad, ptrdiff_t grad_stride,
                                 double *hess, ptrdiff_t hess_stride)

    # elementwise helpers: out[i*out_stride] = f(x[i*x_stride]); out may be x
    int cbce_sigmoid_f32(size_t n, const float *x, ptrdiff_t x_stride, float *out,
                         ptrdiff_t out_stride)
    int cbce_sigmoid_f64(size_t n, const double *x, ptrdiff_t x_stride, double *out,
                         ptrdiff_t out_stride)
    int cbce_log_sigmoid_f32(size_t n, const float *x, ptrdiff_t x_stride, float *out,
                             ptrdiff_t out_stride)
    int cbce_log_sigmoid_f64(size_t n, const double *x, ptrdiff_t x_stride, double *out,
                             ptrdiff_t out_stride)
    int cbce_softplus_f32(size_t n, const float *x, ptrdiff_t x_stride, float *out,
                          ptrdiff_t out_stride)
    int cbce_softplus_f64(size_t n, const double *x, ptrdiff_t x_stride, double *out,
                          ptrdiff_t out_stride)

    int cbce_cpu_count()
