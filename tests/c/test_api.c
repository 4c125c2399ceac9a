/*
 * test_api.c -- the contract of the C API apart from accuracy (tests/c/test_reference.c
 * checks the values against the 80-digit reference):
 *
 *  (a) every public function returns the documented status code for each bad argument, and
 *      then writes nothing (outputs keep a sentinel); n = 0 is valid with NULL buffers;
 *  (b) the version, status-name and operand-builder functions agree with the header;
 *  (c) every layout the operand model allows gives bitwise the result of the plain
 *      contiguous call: strided and negative-stride inputs and outputs, broadcast weights
 *      (period/repeat, scalars), every target dtype, in-place gradients, the fused calls,
 *      and every num_threads; plus sanity of reductions, smoothing and infinite logits.
 *
 * Built with -std=c99 -pedantic -Wall -Wextra -Werror by GCC and Clang and run under
 * ASan+UBSan and valgrind by .ci/embed.sh.  Every failed check prints the function and the
 * case; the exit status is 1 if any failed.  A new loss family with the usual signature
 * is covered by adding one row to `families`; tests/c/check_header.sh fails until every
 * public function is named in this file.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <time.h>

#include "cbce.h"

/* ---- reporting ----------------------------------------------------------------------- */

static long n_checks, n_failed;

static void check(int ok, const char *fmt, ...)
{
    va_list ap;
    n_checks++;
    if (ok)
        return;
    n_failed++;
    if (n_failed > 200)
        return; /* counted, not printed */
    fputs("FAIL: ", stdout);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
}

/* ---- the loss families: one row each, same signatures -------------------------------- */

typedef int (*fwd32_fn)(const cbce_args_t *, float *, ptrdiff_t, float *);
typedef int (*fwd64_fn)(const cbce_args_t *, double *, ptrdiff_t, double *);
typedef int (*bwd32_fn)(const cbce_args_t *, float *, ptrdiff_t);
typedef int (*bwd64_fn)(const cbce_args_t *, double *, ptrdiff_t);
typedef int (*fb32_fn)(const cbce_args_t *, float *, ptrdiff_t, float *, float *, ptrdiff_t);
typedef int (*fb64_fn)(const cbce_args_t *, double *, ptrdiff_t, double *, double *,
                       ptrdiff_t);
typedef int (*gh32_fn)(const cbce_args_t *, float *, ptrdiff_t, float *, ptrdiff_t);
typedef int (*gh64_fn)(const cbce_args_t *, double *, ptrdiff_t, double *, ptrdiff_t);

/* BCE on probabilities reports the first element outside [0, 1] through a last argument,
 * bad_index; these wrappers give it the common signature and keep what it reported. */
#define NO_INDEX ((size_t)-1)
static size_t bad_index = NO_INDEX;
static int bce_fwd32(const cbce_args_t *a, float *o, ptrdiff_t os, float *r)
{
    return cbce_bce_fwd_f32(a, o, os, r, &bad_index);
}
static int bce_fwd64(const cbce_args_t *a, double *o, ptrdiff_t os, double *r)
{
    return cbce_bce_fwd_f64(a, o, os, r, &bad_index);
}
static int bce_bwd32(const cbce_args_t *a, float *g, ptrdiff_t gs)
{
    return cbce_bce_bwd_f32(a, g, gs, &bad_index);
}
static int bce_bwd64(const cbce_args_t *a, double *g, ptrdiff_t gs)
{
    return cbce_bce_bwd_f64(a, g, gs, &bad_index);
}
static int bce_fb32(const cbce_args_t *a, float *o, ptrdiff_t os, float *r, float *g,
                    ptrdiff_t gs)
{
    return cbce_bce_fwd_bwd_f32(a, o, os, r, g, gs, &bad_index);
}
static int bce_fb64(const cbce_args_t *a, double *o, ptrdiff_t os, double *r, double *g,
                    ptrdiff_t gs)
{
    return cbce_bce_fwd_bwd_f64(a, o, os, r, g, gs, &bad_index);
}
static int bce_gh32(const cbce_args_t *a, float *g, ptrdiff_t gs, float *h, ptrdiff_t hs)
{
    return cbce_bce_grad_hess_f32(a, g, gs, h, hs, &bad_index);
}
static int bce_gh64(const cbce_args_t *a, double *g, ptrdiff_t gs, double *h, ptrdiff_t hs)
{
    return cbce_bce_grad_hess_f64(a, g, gs, h, hs, &bad_index);
}

/* F_FOCAL: the focal loss's semantics; F_GAMMA_ALPHA, F_EPSILON, F_ASYM: the family reads
 * gamma and alpha, epsilon, gamma_pos / gamma_neg / clip (their status codes are tested). */
enum { F_POS_WEIGHT = 1, F_FOCAL = 2, F_PROB = 4, F_LOGITS = 8, F_NO_SMOOTHING = 16,
       F_GAMMA_ALPHA = 32, F_EPSILON = 64, F_ASYM = 128 };

typedef struct family {
    const char *name;
    unsigned flags;
    fwd32_fn fwd32;
    fwd64_fn fwd64;
    bwd32_fn bwd32;
    bwd64_fn bwd64;
    fb32_fn fb32; /* NULL: the family has no such function */
    fb64_fn fb64;
    gh32_fn gh32;
    gh64_fn gh64;
} family;

static const family families[] = {
    {"bce_logits", F_POS_WEIGHT | F_LOGITS, cbce_bce_logits_fwd_f32, cbce_bce_logits_fwd_f64,
     cbce_bce_logits_bwd_f32, cbce_bce_logits_bwd_f64, cbce_bce_logits_fwd_bwd_f32,
     cbce_bce_logits_fwd_bwd_f64, cbce_bce_logits_grad_hess_f32,
     cbce_bce_logits_grad_hess_f64},
    {"bce", F_PROB, bce_fwd32, bce_fwd64, bce_bwd32, bce_bwd64, bce_fb32, bce_fb64, bce_gh32,
     bce_gh64},
    {"focal", F_FOCAL | F_GAMMA_ALPHA, cbce_focal_fwd_f32, cbce_focal_fwd_f64, cbce_focal_bwd_f32,
     cbce_focal_bwd_f64, cbce_focal_fwd_bwd_f32, cbce_focal_fwd_bwd_f64,
     cbce_focal_grad_hess_f32, cbce_focal_grad_hess_f64},
    {"poly1", F_POS_WEIGHT | F_EPSILON, cbce_poly1_fwd_f32, cbce_poly1_fwd_f64, cbce_poly1_bwd_f32,
     cbce_poly1_bwd_f64, cbce_poly1_fwd_bwd_f32, cbce_poly1_fwd_bwd_f64,
     cbce_poly1_grad_hess_f32, cbce_poly1_grad_hess_f64},
    {"poly1_focal", F_GAMMA_ALPHA | F_EPSILON, cbce_poly1_focal_fwd_f32, cbce_poly1_focal_fwd_f64,
     cbce_poly1_focal_bwd_f32, cbce_poly1_focal_bwd_f64, cbce_poly1_focal_fwd_bwd_f32,
     cbce_poly1_focal_fwd_bwd_f64, cbce_poly1_focal_grad_hess_f32,
     cbce_poly1_focal_grad_hess_f64},
    {"asymmetric", F_NO_SMOOTHING | F_ASYM, cbce_asymmetric_fwd_f32, cbce_asymmetric_fwd_f64,
     cbce_asymmetric_bwd_f32, cbce_asymmetric_bwd_f64, cbce_asymmetric_fwd_bwd_f32,
     cbce_asymmetric_fwd_bwd_f64, cbce_asymmetric_grad_hess_f32,
     cbce_asymmetric_grad_hess_f64},
};
#define N_FAMILIES (sizeof families / sizeof families[0])

enum { OP_FWD, OP_BWD, OP_FWD_BWD, OP_GRAD_HESS, N_OPS };
static const char *const op_names[N_OPS] = {"fwd", "bwd", "fwd_bwd", "grad_hess"};

static int has_op(const family *f, int op)
{
    return op == OP_FWD_BWD ? f->fb32 != NULL : op == OP_GRAD_HESS ? f->gh32 != NULL : 1;
}

/* One entry point for all: out/res for the loss, g/h for the derivatives. */
static int call(const family *f, int op, int dt, const cbce_args_t *a, void *out,
                ptrdiff_t os, void *res, void *g, ptrdiff_t gs, void *h, ptrdiff_t hs)
{
    int f32 = dt == CBCE_F32;
    switch (op) {
    case OP_FWD:
        return f32 ? f->fwd32(a, (float *)out, os, (float *)res)
                   : f->fwd64(a, (double *)out, os, (double *)res);
    case OP_BWD:
        return f32 ? f->bwd32(a, (float *)g, gs) : f->bwd64(a, (double *)g, gs);
    case OP_FWD_BWD:
        return f32 ? f->fb32(a, (float *)out, os, (float *)res, (float *)g, gs)
                   : f->fb64(a, (double *)out, os, (double *)res, (double *)g, gs);
    default:
        return f32 ? f->gh32(a, (float *)g, gs, (float *)h, hs)
                   : f->gh64(a, (double *)g, gs, (double *)h, hs);
    }
}

/* ---- typed buffers ------------------------------------------------------------------- */

static size_t dsize(int dt) { return dt == CBCE_F64 ? 8 : dt == CBCE_F32 ? 4 : 1; }
static const char *dname(int dt)
{
    static const char *const names[] = {"f32", "f64", "u8", "i8", "bool"};
    return dt >= 0 && dt <= CBCE_BOOL ? names[dt] : "?";
}

static void *xalloc(size_t n, int dt)
{
    void *p = calloc(n ? n : 1, dsize(dt));
    if (p == NULL) {
        puts("out of memory");
        exit(2);
    }
    return p;
}

static double get(const void *p, int dt, ptrdiff_t i)
{
    switch (dt) {
    case CBCE_F32: return ((const float *)p)[i];
    case CBCE_F64: return ((const double *)p)[i];
    case CBCE_I8: return ((const signed char *)p)[i];
    default: return ((const unsigned char *)p)[i];
    }
}

static void put(void *p, int dt, ptrdiff_t i, double v)
{
    switch (dt) {
    case CBCE_F32: ((float *)p)[i] = (float)v; break;
    case CBCE_F64: ((double *)p)[i] = v; break;
    case CBCE_I8: ((signed char *)p)[i] = (signed char)v; break;
    default: ((unsigned char *)p)[i] = (unsigned char)v; break;
    }
}

/* A typed copy of n doubles. */
static void *typed(const double *v, size_t n, int dt)
{
    void *p = xalloc(n, dt);
    size_t i;
    for (i = 0; i < n; i++)
        put(p, dt, (ptrdiff_t)i, v[i]);
    return p;
}

/* Bitwise equality of two values of a float dtype (NaN equal to the same NaN). */
static int same(double a, double b, int dt)
{
    if (dt == CBCE_F32) {
        float fa = (float)a, fb = (float)b;
        return memcmp(&fa, &fb, sizeof fa) == 0;
    }
    return memcmp(&a, &b, sizeof a) == 0;
}

/* |a - b| <= tol * max(|a|, |b|, tiny), NaN only equal to NaN. */
static int close_rel(double a, double b, double tol)
{
    double m = fabs(a) > fabs(b) ? fabs(a) : fabs(b);
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    if (a == b)
        return 1;
    return fabs(a - b) <= tol * (m > 1e-300 ? m : 1e-300);
}

/* same(), or b within `ulps` steps of a in dtype dt. */
static int agree(double a, double b, int dt, int ulps)
{
    int k;
    if (same(a, b, dt))
        return 1;
    for (k = 0; k < ulps; k++) {
        a = dt == CBCE_F32 ? nextafterf((float)a, (float)b) : nextafter(a, b);
        if (same(a, b, dt))
            return 1;
    }
    return 0;
}

/* First index where n elements of a (stride sa) and b (stride sb) do not agree(), or -1. */
static long first_diff(const void *a, ptrdiff_t sa, const void *b, ptrdiff_t sb, size_t n,
                       int dt, int ulps)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (!agree(get(a, dt, (ptrdiff_t)i * sa), get(b, dt, (ptrdiff_t)i * sb), dt, ulps))
            return (long)i;
    return -1;
}

static unsigned long long lcg_state = 0x9E3779B97F4A7C15ULL;
static double urand(void) /* uniform in [0, 1) */
{
    lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(lcg_state >> 11) * (1.0 / 9007199254740992.0);
}

/* The SIMD level every call asks for: CBCE_SIMD (a level name, as for the Python package),
 * else AUTO.  Each supported level is also compared with AUTO in test_layouts. */
static int requested_simd = CBCE_SIMD_AUTO;

static cbce_args_t zero_args(void)
{
    cbce_args_t a;
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.alpha = NAN;
    a.simd = requested_simd;
    return a;
}

/* ---- (b) version, status names, operand builders ------------------------------------ */

static void test_helpers(void)
{
    char buf[64];
    int s, t;
    cbce_operand_t op;
    double d = 1.0;

    check(cbce_version_number() == CBCE_VERSION_NUMBER,
          "cbce_version_number() = %u, header says %d", cbce_version_number(),
          CBCE_VERSION_NUMBER);
    check(CBCE_VERSION_NUMBER ==
              CBCE_VERSION_MAJOR * 10000 + CBCE_VERSION_MINOR * 100 + CBCE_VERSION_PATCH,
          "CBCE_VERSION_NUMBER is not MAJOR*10000+MINOR*100+PATCH");
    sprintf(buf, "%d.%d.%d", CBCE_VERSION_MAJOR, CBCE_VERSION_MINOR, CBCE_VERSION_PATCH);
    check(cbce_version_string() != NULL && strcmp(cbce_version_string(), buf) == 0,
          "cbce_version_string() = \"%s\", header says %s",
          cbce_version_string() ? cbce_version_string() : "(null)", buf);

    for (s = 0; s < CBCE_STATUS_COUNT; s++) {
        const char *name = cbce_status_string(s);
        check(name != NULL && name[0] != '\0' && strcmp(name, "unknown status") != 0,
              "cbce_status_string(%d) is empty or unknown", s);
        for (t = 0; t < s && name != NULL; t++)
            check(strcmp(name, cbce_status_string(t)) != 0,
                  "cbce_status_string(%d) == cbce_status_string(%d)", s, t);
    }
    check(CBCE_OK == 0 && CBCE_ERR_NULL == 1 && CBCE_ERR_DTYPE == 2 && CBCE_ERR_SHAPE == 3 &&
              CBCE_ERR_REDUCTION == 4 && CBCE_ERR_SMOOTHING == 5 && CBCE_ERR_GAMMA == 6 &&
              CBCE_ERR_ALPHA == 7 && CBCE_ERR_DOMAIN == 8 && CBCE_ERR_THREADS == 9 &&
              CBCE_ERR_OPERAND == 10 && CBCE_ERR_ARGS_SIZE == 11,
          "a frozen status code changed its number");
    {
        static const int out_of_range[] = {-1, CBCE_STATUS_COUNT, 1000, INT_MAX, INT_MIN};
        size_t i;
        for (i = 0; i < sizeof out_of_range / sizeof out_of_range[0]; i++) {
            const char *name = cbce_status_string(out_of_range[i]);
            check(name != NULL && strcmp(name, "unknown status") == 0,
                  "cbce_status_string(%d) = \"%s\", want \"unknown status\"",
                  out_of_range[i], name ? name : "(null)");
        }
    }

    op = cbce_vector(&d, CBCE_F64, 17, -3);
    check(op.data == &d && op.dtype == CBCE_F64 && op.stride == -3 && op.period == 17 &&
              op.repeat == 1,
          "cbce_vector(&d, F64, 17, -3) = {%p, %d, %ld, %lu, %lu}", op.data, op.dtype,
          (long)op.stride, (unsigned long)op.period, (unsigned long)op.repeat);
    op = cbce_vector(NULL, CBCE_U8, 0, 1);
    check(op.data == NULL && op.period == 1 && op.repeat == 1,
          "cbce_vector(NULL, U8, 0, 1): period %lu (want 1: period >= 1 always)",
          (unsigned long)op.period);
    op = cbce_scalar(&d, CBCE_F64);
    check(op.data == &d && op.dtype == CBCE_F64 && op.stride == 0 && op.period == 1 &&
              op.repeat == 1,
          "cbce_scalar(&d, F64) = {%p, %d, %ld, %lu, %lu}", op.data, op.dtype,
          (long)op.stride, (unsigned long)op.period, (unsigned long)op.repeat);

    check(cbce_cpu_count() >= 1, "cbce_cpu_count() = %d", cbce_cpu_count());

    {
        static const char *const names[] = {"auto", "scalar", "baseline", "avx2", "avx512"};
        int best = cbce_simd_level(CBCE_SIMD_AUTO), l;
        check(best >= CBCE_SIMD_BASELINE && best <= CBCE_SIMD_AVX512,
              "cbce_simd_level(AUTO) = %d", best);
        check(cbce_simd_level(-7) == best && cbce_simd_level(99) == best,
              "cbce_simd_level(-7) = %d, (99) = %d, want the best level %d",
              cbce_simd_level(-7), cbce_simd_level(99), best);
        for (l = CBCE_SIMD_SCALAR; l <= CBCE_SIMD_AVX512; l++)
            check(cbce_simd_level(l) == (l <= best ? l : best),
                  "cbce_simd_level(%d) = %d (best %d)", l, cbce_simd_level(l), best);
        for (l = CBCE_SIMD_AUTO; l <= CBCE_SIMD_AVX512; l++)
            check(cbce_simd_name(l) != NULL && strcmp(cbce_simd_name(l), names[l]) == 0,
                  "cbce_simd_name(%d) = \"%s\", want \"%s\"", l,
                  cbce_simd_name(l) ? cbce_simd_name(l) : "(null)", names[l]);
        check(cbce_simd_name(-1) != NULL && cbce_simd_name(5) != NULL,
              "cbce_simd_name of an unknown level returned NULL");
    }
}

/* ---- (a) status codes ---------------------------------------------------------------- */

#define NB 5
#define SENTINEL 12345.0

typedef struct call_bufs {
    void *out, *res, *g, *h;
} call_bufs;

#define ANY_ERROR 1000 /* any status but CBCE_OK: the header names none */

/* Mutation k of valid arguments; returns the status it must produce, or -1 when the
 * mutation does not apply to this family/op/reduction, or -2 past the last mutation.
 * Sets *what to a description of the case. */
static int mutate(int k, const family *f, int op, int dt, cbce_args_t *a, const cbce_args_t **pa,
                  call_bufs *b, const char **what, const void *other_float,
                  const void *bad_input, const void *bad_target)
{
    int other = dt == CBCE_F32 ? CBCE_F64 : CBCE_F32;
    int reduced = a->reduction != CBCE_REDUCTION_NONE;
    int takes_reduction = op != OP_GRAD_HESS;
    int loss = op == OP_FWD || op == OP_FWD_BWD;
    int deriv = op != OP_FWD;
    switch (k) {
    case 0: *what = "args NULL"; *pa = NULL; return CBCE_ERR_NULL;
    case 1: *what = "input.data NULL"; a->input.data = NULL; return CBCE_ERR_NULL;
    case 2: *what = "target.data NULL"; a->target.data = NULL; return CBCE_ERR_NULL;
    case 3:
        *what = "out NULL";
        if (!loss || reduced) return -1;
        b->out = NULL; return CBCE_ERR_NULL;
    case 4:
        *what = "result NULL";
        if (!loss || !reduced) return -1;
        b->res = NULL; return CBCE_ERR_NULL;
    case 5: *what = "grad NULL"; if (!deriv) return -1; b->g = NULL; return CBCE_ERR_NULL;
    case 6:
        *what = "hess NULL";
        if (op != OP_GRAD_HESS) return -1;
        b->h = NULL; return CBCE_ERR_NULL;
    case 7: *what = "input of the other float dtype"; a->input.dtype = other; return CBCE_ERR_DTYPE;
    case 8: *what = "input dtype U8"; a->input.dtype = CBCE_U8; return CBCE_ERR_DTYPE;
    case 9: *what = "input dtype 99"; a->input.dtype = 99; return CBCE_ERR_DTYPE;
    case 10: *what = "input dtype -1"; a->input.dtype = -1; return CBCE_ERR_DTYPE;
    case 11: *what = "target dtype 99"; a->target.dtype = 99; return CBCE_ERR_DTYPE;
    case 12: *what = "target dtype -1"; a->target.dtype = -1; return CBCE_ERR_DTYPE;
    case 13:
        *what = "weight of the other float dtype";
        a->weight = cbce_scalar(other_float, other); return CBCE_ERR_DTYPE;
    case 14:
        *what = "weight dtype BOOL";
        a->weight = cbce_scalar(other_float, CBCE_BOOL); return CBCE_ERR_DTYPE;
    case 15:
        if (!(f->flags & F_POS_WEIGHT)) {
            *what = "pos_weight given (this loss takes none)";
            a->pos_weight = cbce_scalar(other_float, dt); return CBCE_ERR_OPERAND;
        }
        *what = "pos_weight of the other float dtype";
        a->pos_weight = cbce_scalar(other_float, other); return CBCE_ERR_DTYPE;
    case 16:
        *what = "grad_output dtype BOOL";
        if (op != OP_BWD) return -1;
        a->grad_output = cbce_scalar(other_float, CBCE_BOOL); return CBCE_ERR_DTYPE;
    case 17: *what = "input.period 0"; a->input.period = 0; return CBCE_ERR_SHAPE;
    case 18: *what = "input.repeat 0"; a->input.repeat = 0; return CBCE_ERR_SHAPE;
    case 19: *what = "target.period 0"; a->target.period = 0; return CBCE_ERR_SHAPE;
    case 20: *what = "weight.repeat 0"; a->weight.repeat = 0; return CBCE_ERR_SHAPE;
    case 21:
        *what = "reduction -1";
        a->reduction = -1; return takes_reduction ? CBCE_ERR_REDUCTION : CBCE_OK;
    case 22:
        *what = "reduction 4";
        a->reduction = 4; return takes_reduction ? CBCE_ERR_REDUCTION : CBCE_OK;
    case 23:
        *what = "reduction INT_MAX";
        a->reduction = INT_MAX; return takes_reduction ? CBCE_ERR_REDUCTION : CBCE_OK;
    case 24: *what = "label_smoothing -0.25"; if (f->flags & F_NO_SMOOTHING) return -1; a->label_smoothing = -0.25; return CBCE_ERR_SMOOTHING;
    case 25: *what = "label_smoothing 1+2^-52"; if (f->flags & F_NO_SMOOTHING) return -1; a->label_smoothing = 1.0 + 0x1p-52; return CBCE_ERR_SMOOTHING;
    case 26: *what = "label_smoothing NaN"; if (f->flags & F_NO_SMOOTHING) return -1; a->label_smoothing = NAN; return CBCE_ERR_SMOOTHING;
    case 27: *what = "label_smoothing +inf"; if (f->flags & F_NO_SMOOTHING) return -1; a->label_smoothing = INFINITY; return CBCE_ERR_SMOOTHING;
    case 28: *what = "label_smoothing 1 (valid)"; if (f->flags & F_NO_SMOOTHING) return -1; a->label_smoothing = 1.0; return CBCE_OK;
    case 29:
        *what = "gamma -1";
        if (!(f->flags & F_GAMMA_ALPHA)) return -1;
        a->gamma = -1.0; return CBCE_ERR_GAMMA;
    case 30:
        *what = "gamma NaN";
        if (!(f->flags & F_GAMMA_ALPHA)) return -1;
        a->gamma = NAN; return CBCE_ERR_GAMMA;
    case 31:
        *what = "gamma +inf";
        if (!(f->flags & F_GAMMA_ALPHA)) return -1;
        a->gamma = INFINITY; return CBCE_ERR_GAMMA;
    case 32:
        *what = "alpha +inf";
        if (!(f->flags & F_GAMMA_ALPHA)) return -1;
        a->alpha = INFINITY; return CBCE_ERR_ALPHA;
    case 33:
        *what = "alpha -inf";
        if (!(f->flags & F_GAMMA_ALPHA)) return -1;
        a->alpha = -INFINITY; return CBCE_ERR_ALPHA;
    case 34:
        *what = "an input outside [0, 1]";
        if (!(f->flags & F_PROB)) return -1;
        a->input.data = bad_input; return CBCE_ERR_DOMAIN;
    case 35:
        *what = "a target outside [0, 1]";
        if (!(f->flags & F_PROB)) return -1;
        a->target.data = bad_target; return CBCE_ERR_DOMAIN;
    case 36:
        *what = "an input NaN";
        if (!(f->flags & F_PROB)) return -1;
        a->input.data = (const char *)bad_input + NB * dsize(dt); return CBCE_ERR_DOMAIN;
    case 37:
        *what = "a target NaN";
        if (!(f->flags & F_PROB)) return -1;
        a->target.data = (const char *)bad_target + NB * dsize(dt); return CBCE_ERR_DOMAIN;
    case 38: *what = "epsilon NaN"; if (!(f->flags & F_EPSILON)) return -1; a->epsilon = NAN; return CBCE_ERR_EPSILON;
    case 39: *what = "epsilon -inf"; if (!(f->flags & F_EPSILON)) return -1; a->epsilon = -INFINITY; return CBCE_ERR_EPSILON;
    case 40: *what = "epsilon -1e300 (valid)"; if (!(f->flags & F_EPSILON)) return -1; a->epsilon = -1e300; return CBCE_OK;
    case 41: *what = "gamma_pos -2^-1074"; if (!(f->flags & F_ASYM)) return -1; a->gamma_pos = -0x1p-1074; return CBCE_ERR_GAMMA_POS;
    case 42: *what = "gamma_pos +inf"; if (!(f->flags & F_ASYM)) return -1; a->gamma_pos = INFINITY; return CBCE_ERR_GAMMA_POS;
    case 43: *what = "gamma_neg NaN"; if (!(f->flags & F_ASYM)) return -1; a->gamma_neg = NAN; return CBCE_ERR_GAMMA_NEG;
    case 44: *what = "clip 1"; if (!(f->flags & F_ASYM)) return -1; a->clip = 1.0; return CBCE_ERR_CLIP;
    case 45: *what = "clip -0.5"; if (!(f->flags & F_ASYM)) return -1; a->clip = -0.5; return CBCE_ERR_CLIP;
    case 46: *what = "clip 1-2^-53 (valid)"; if (!(f->flags & F_ASYM)) return -1; a->clip = 1.0 - 0x1p-53; return CBCE_OK;
    default:
        return -2;
    }
}

static void test_status_codes(const family *f)
{
    static const int dts[2] = {CBCE_F32, CBCE_F64};
    static const int reds[4] = {CBCE_REDUCTION_NONE, CBCE_REDUCTION_SUM, CBCE_REDUCTION_MEAN,
                                CBCE_REDUCTION_WEIGHTED_MEAN};
    double xs[NB] = {-2.0, -0.5, 0.0, 0.75, 3.0}, ys[NB] = {0.0, 1.0, 0.25, 1.0, 0.0};
    double ws[NB] = {1.0, 0.5, 2.0, 1.0, 0.25};
    /* outside [0, 1] at index 2; the second halves (mutations 36, 37): NaN at index 3 */
    double bad_x[2 * NB] = {0.5, 0.5, 1.5, 0.5, 0.5, 0.5, 0.5, 0.5, NAN, 0.5};
    double bad_y[2 * NB] = {0.0, 1.0, -0.5, 1.0, 0.0, 0.0, 1.0, 0.0, NAN, 0.0};
    int di, op, ri, k;
    if (f->flags & F_PROB) {
        for (k = 0; k < NB; k++)
            xs[k] = 1.0 / (1.0 + exp(-xs[k]));
    }
    for (di = 0; di < 2; di++) {
        int dt = dts[di];
        void *x = typed(xs, NB, dt), *y = typed(ys, NB, dt), *w = typed(ws, NB, dt);
        void *bx = typed(bad_x, 2 * NB, dt), *by = typed(bad_y, 2 * NB, dt);
        double one = 1.0;
        void *other_one = typed(&one, 1, dt == CBCE_F32 ? CBCE_F64 : CBCE_F32);
        void *out = xalloc(NB, dt), *res = xalloc(1, dt), *g = xalloc(NB, dt);
        void *h = xalloc(NB, dt);
        for (op = 0; op < N_OPS; op++) {
            if (!has_op(f, op))
                continue;
            for (ri = 0; ri < 4; ri++) {
                cbce_args_t base = zero_args();
                const char *fn_fmt = "cbce_%s_%s_%s (reduction %d): %s";
                int st;
                base.n = NB;
                base.input = cbce_vector(x, dt, NB, 1);
                base.target = cbce_vector(y, dt, NB, 1);
                base.weight = cbce_vector(w, dt, NB, 1);
                base.reduction = reds[ri];
                if (f->flags & F_FOCAL) {
                    base.alpha = 0.25;
                    base.gamma = 2.0;
                }
                if (op == OP_GRAD_HESS && ri > 0)
                    break; /* reduction ignored: one pass is enough */
                st = call(f, op, dt, &base, out, 1, res, g, 1, h, 1);
                check(st == CBCE_OK, fn_fmt, f->name, op_names[op], dname(dt), reds[ri],
                      "valid arguments rejected");
                for (k = 0;; k++) {
                    cbce_args_t a = base;
                    const cbce_args_t *pa = &a;
                    call_bufs b;
                    const char *what = "";
                    int want, j, written = 0;
                    b.out = out; b.res = res; b.g = g; b.h = h;
                    want = mutate(k, f, op, dt, &a, &pa, &b, &what, other_one, bx, by);
                    if (want == -2)
                        break;
                    if (want == -1)
                        continue;
                    for (j = 0; j < NB; j++) {
                        put(out, dt, j, SENTINEL); put(g, dt, j, SENTINEL);
                        put(h, dt, j, SENTINEL);
                    }
                    put(res, dt, 0, SENTINEL);
                    bad_index = NO_INDEX;
                    st = call(f, op, dt, pa, b.out, 1, b.res, b.g, 1, b.h, 1);
                    if (want == ANY_ERROR)
                        check(st != CBCE_OK && st > 0 && st < CBCE_STATUS_COUNT,
                              "cbce_%s_%s_%s (reduction %d): %s: status %d (%s), want an error",
                              f->name, op_names[op], dname(dt), reds[ri], what, st,
                              cbce_status_string(st));
                    else
                        check(st == want,
                              "cbce_%s_%s_%s (reduction %d): %s: status %d (%s), want %d (%s)",
                              f->name, op_names[op], dname(dt), reds[ri], what, st,
                              cbce_status_string(st), want, cbce_status_string(want));
                    if (f->flags & F_PROB) {
                        size_t want_index = want != CBCE_ERR_DOMAIN ? NO_INDEX : k >= 36 ? 3 : 2;
                        check(bad_index == want_index,
                              "cbce_%s_%s_%s (reduction %d): %s: *bad_index = %ld, want %ld",
                              f->name, op_names[op], dname(dt), reds[ri], what,
                              (long)bad_index, (long)want_index);
                    }
                    if (want == CBCE_OK)
                        continue;
                    for (j = 0; j < NB; j++)
                        written |= get(out, dt, j) != SENTINEL || get(g, dt, j) != SENTINEL ||
                                   get(h, dt, j) != SENTINEL;
                    written |= get(res, dt, 0) != SENTINEL;
                    check(!written, fn_fmt, f->name, op_names[op], dname(dt), reds[ri],
                          "an output was written although the call failed");
                }
            }
        }
        /* n = 0: valid with every data pointer NULL; sum 0, means NaN */
        for (op = 0; op < N_OPS; op++) {
            if (!has_op(f, op))
                continue;
            for (ri = 0; ri < 4; ri++) {
                cbce_args_t a = zero_args();
                int st;
                a.input.dtype = dt; a.target.dtype = dt;
                a.input.period = a.input.repeat = a.target.period = a.target.repeat = 1;
                a.reduction = reds[ri];
                if (f->flags & F_FOCAL) {
                    a.alpha = 0.25;
                    a.gamma = 2.0;
                }
                put(res, dt, 0, SENTINEL);
                st = call(f, op, dt, &a, NULL, 1, res, NULL, 1, NULL, 1);
                check(st == CBCE_OK, "cbce_%s_%s_%s, n = 0, reduction %d: status %d (%s)",
                      f->name, op_names[op], dname(dt), reds[ri], st, cbce_status_string(st));
                if (st == CBCE_OK && (op == OP_FWD || op == OP_FWD_BWD) && ri > 0) {
                    double r = get(res, dt, 0);
                    if (reds[ri] == CBCE_REDUCTION_SUM)
                        check(r == 0.0, "cbce_%s_%s_%s: sum of nothing = %g, want 0",
                              f->name, op_names[op], dname(dt), r);
                    else
                        check(isnan(r), "cbce_%s_%s_%s: mean of nothing = %g, want NaN",
                              f->name, op_names[op], dname(dt), r);
                }
            }
        }
        free(x); free(y); free(w); free(bx); free(by); free(other_one);
        free(out); free(res); free(g); free(h);
    }
}

/* ---- (c) layouts, fused calls, threads ------------------------------------------------ */

/* R rows x C columns: by default a little over three reduction blocks; CBCE_TEST_ROWS
 * changes R (valgrind runs use fewer rows, still more than one block). */
static size_t R = 1777;
#define C 7
#define N (R * C)

typedef struct data {
    double *x, *ysoft, *yhard, *w, *pw, *go;
} data;

static void make_data(data *d, unsigned flags)
{
    size_t i;
    double **arrays[6];
    arrays[0] = &d->x; arrays[1] = &d->ysoft; arrays[2] = &d->yhard;
    arrays[3] = &d->w; arrays[4] = &d->pw; arrays[5] = &d->go;
    for (i = 0; i < 6; i++) {
        free(*arrays[i]);
        *arrays[i] = (double *)xalloc(N, CBCE_F64);
    }
    for (i = 0; i < N; i++) {
        double u = urand();
        d->x[i] = i % 97 == 0 ? 0.0 : (u - 0.5) * 80.0;
        if (flags & F_PROB)
            d->x[i] = 1.0 / (1.0 + exp(-d->x[i] / 8.0));
        d->ysoft[i] = urand();
        d->yhard[i] = urand() < 0.5 ? 0.0 : 1.0;
        d->w[i] = i % 13 == 0 ? 0.0 : 2.0 * urand();
        d->pw[i] = 0.5 + 2.5 * urand();
        d->go[i] = urand() - 0.25;
    }
}

/* Results of one call with reduction NONE (out, grad, hess) or reduced (res). */
typedef struct result {
    void *out, *g, *h;
    double res;
    int st;
} result;

static void run(const family *f, int op, int dt, const cbce_args_t *a, result *r)
{
    unsigned char rbuf[8];
    memset(rbuf, 0, sizeof rbuf);
    r->out = xalloc(N, dt);
    r->g = xalloc(N, dt);
    r->h = xalloc(N, dt);
    r->st = call(f, op, dt, a, r->out, 1, rbuf, r->g, 1, r->h, 1);
    r->res = get(rbuf, dt, 0);
}

static void drop(result *r)
{
    free(r->out);
    free(r->g);
    free(r->h);
}

/* Compare the outputs `op` produces, bitwise (ulps 0) or within `ulps`; name the case on
 * failure. */
static void compare_result(const family *f, int op, int dt, int red, const result *a,
                           const result *b, const char *what, int ulps)
{
    long i;
    int loss = op == OP_FWD || op == OP_FWD_BWD;
    check(a->st == CBCE_OK && b->st == CBCE_OK, "cbce_%s_%s_%s, %s: status %d / %d", f->name,
          op_names[op], dname(dt), what, a->st, b->st);
    if (loss && red != CBCE_REDUCTION_NONE)
        check(agree(a->res, b->res, dt, ulps), "cbce_%s_%s_%s, %s: reduced %.17g != %.17g", f->name,
              op_names[op], dname(dt), what, b->res, a->res);
    if (loss && red == CBCE_REDUCTION_NONE && (i = first_diff(a->out, 1, b->out, 1, N, dt, ulps)) >= 0)
        check(0, "cbce_%s_%s_%s, %s: loss[%ld] = %.17g, reference call gives %.17g", f->name,
              op_names[op], dname(dt), what, i, get(b->out, dt, i), get(a->out, dt, i));
    if (op != OP_FWD && (i = first_diff(a->g, 1, b->g, 1, N, dt, ulps)) >= 0)
        check(0, "cbce_%s_%s_%s, %s: grad[%ld] = %.17g, reference call gives %.17g", f->name,
              op_names[op], dname(dt), what, i, get(b->g, dt, i), get(a->g, dt, i));
    if (op == OP_GRAD_HESS && (i = first_diff(a->h, 1, b->h, 1, N, dt, ulps)) >= 0)
        check(0, "cbce_%s_%s_%s, %s: hess[%ld] = %.17g, reference call gives %.17g", f->name,
              op_names[op], dname(dt), what, i, get(b->h, dt, i), get(a->h, dt, i));
}

static void same_result(const family *f, int op, int dt, int red, const result *a,
                        const result *b, const char *what)
{
    compare_result(f, op, dt, red, a, b, what, 0);
}

static void test_layouts(const family *f, const data *d, int dt)
{
    static const int reds[4] = {CBCE_REDUCTION_NONE, CBCE_REDUCTION_SUM, CBCE_REDUCTION_MEAN,
                                CBCE_REDUCTION_WEIGHTED_MEAN};
    void *x = typed(d->x, N, dt), *ys = typed(d->ysoft, N, dt), *w = typed(d->w, N, dt);
    void *pw = typed(d->pw, N, dt), *go = typed(d->go, N, dt);
    void *x3 = xalloc(3 * N, dt), *xr = xalloc(2 * N, dt);
    void *wc, *wr, *wfull_c, *wfull_r, *pwc, *pwfull;
    double wconst = 0.75, goconst = -1.5;
    void *wk = typed(&wconst, 1, dt), *wkfull = xalloc(N, dt);
    void *gok = typed(&goconst, 1, dt), *gokfull = xalloc(N, dt);
    size_t i;
    int op, ri, tdt;
    char what[160];

    /* strided (stride 3) and reversed (stride -2) copies of x */
    for (i = 0; i < N; i++) {
        put(x3, dt, (ptrdiff_t)(3 * i), d->x[i]);
        put(xr, dt, (ptrdiff_t)(2 * (N - 1 - i)), d->x[i]);
        put(wkfull, dt, (ptrdiff_t)i, wconst);
        put(gokfull, dt, (ptrdiff_t)i, goconst);
    }
    /* weights broadcast over rows (shape (C,)) and over columns (shape (R, 1)) */
    wc = typed(d->w, C, dt);
    wr = typed(d->w, R, dt);
    pwc = typed(d->pw, C, dt);
    wfull_c = xalloc(N, dt);
    wfull_r = xalloc(N, dt);
    pwfull = xalloc(N, dt);
    for (i = 0; i < N; i++) {
        put(wfull_c, dt, (ptrdiff_t)i, d->w[i % C]);
        put(wfull_r, dt, (ptrdiff_t)i, d->w[i / C]);
        put(pwfull, dt, (ptrdiff_t)i, d->pw[i % C]);
    }

    for (op = 0; op < N_OPS; op++) {
        if (!has_op(f, op))
            continue;
        for (ri = 0; ri < 4; ri++) {
            int red = reds[ri];
            cbce_args_t base = zero_args(), a;
            result r0, r;
            if (op == OP_GRAD_HESS && ri > 0)
                break;
            base.n = N;
            base.input = cbce_vector(x, dt, N, 1);
            base.target = cbce_vector(ys, dt, N, 1);
            base.weight = cbce_vector(w, dt, N, 1);
            if (f->flags & F_POS_WEIGHT)
                base.pos_weight = cbce_vector(pw, dt, N, 1);
            base.reduction = red;
            if (f->flags & F_FOCAL) {
                base.alpha = 0.25;
                base.gamma = 2.0;
            }
            run(f, op, dt, &base, &r0);
            check(r0.st == CBCE_OK, "cbce_%s_%s_%s reduction %d: status %d", f->name,
                  op_names[op], dname(dt), red, r0.st);

#define CASE(DESC, SETUP)                                                                \
    do {                                                                                 \
        a = base;                                                                        \
        SETUP;                                                                           \
        sprintf(what, "reduction %d, %s", red, DESC);                                    \
        run(f, op, dt, &a, &r);                                                          \
        same_result(f, op, dt, red, &r0, &r, what);                                      \
        drop(&r);                                                                        \
    } while (0)

            CASE("input stride 3", a.input = cbce_vector(x3, dt, N, 3));
            CASE("input stride -2", a.input = cbce_vector((char *)xr + 2 * (N - 1) * dsize(dt), dt, N, -2));
            {
                result rf;
                a = base;
                a.weight = cbce_vector(wfull_c, dt, N, 1);
                run(f, op, dt, &a, &rf);
                a.weight = cbce_vector(wc, dt, C, 1);
                run(f, op, dt, &a, &r);
                sprintf(what, "reduction %d, weight (C,) {period C} vs materialised", red);
                same_result(f, op, dt, red, &rf, &r, what);
                drop(&r);
                a.weight = cbce_vector(wr, dt, R, 1);
                a.weight.repeat = C;
                run(f, op, dt, &a, &r);
                drop(&rf);
                a.weight = cbce_vector(wfull_r, dt, N, 1);
                run(f, op, dt, &a, &rf);
                sprintf(what, "reduction %d, weight (R,1) {period R, repeat C} vs materialised", red);
                same_result(f, op, dt, red, &rf, &r, what);
                drop(&r);
                drop(&rf);
                a = base;
                a.weight = cbce_vector(wkfull, dt, N, 1);
                run(f, op, dt, &a, &rf);
                a.weight = cbce_scalar(wk, dt);
                run(f, op, dt, &a, &r);
                sprintf(what, "reduction %d, scalar weight vs materialised", red);
                same_result(f, op, dt, red, &rf, &r, what);
                drop(&r);
                drop(&rf);
                if (f->flags & F_POS_WEIGHT) {
                    a = base;
                    a.pos_weight = cbce_vector(pwfull, dt, N, 1);
                    run(f, op, dt, &a, &rf);
                    a.pos_weight = cbce_vector(pwc, dt, C, 1);
                    run(f, op, dt, &a, &r);
                    sprintf(what, "reduction %d, pos_weight (C,) vs materialised", red);
                    same_result(f, op, dt, red, &rf, &r, what);
                    drop(&r);
                    drop(&rf);
                }
                if (op == OP_BWD && red == CBCE_REDUCTION_NONE) {
                    a = base;
                    a.grad_output = cbce_vector(gokfull, dt, N, 1);
                    run(f, op, dt, &a, &rf);
                    a.grad_output = cbce_scalar(gok, dt);
                    run(f, op, dt, &a, &r);
                    sprintf(what, "scalar grad_output vs materialised");
                    same_result(f, op, dt, red, &rf, &r, what);
                    drop(&r);
                    drop(&rf);
                }
            }
            /* hard labels give the same bits from every target dtype */
            {
                void *yh64 = typed(d->yhard, N, CBCE_F64);
                result rh;
                a = base;
                a.target = cbce_vector(yh64, CBCE_F64, N, 1);
                run(f, op, dt, &a, &rh);
                for (tdt = CBCE_F32; tdt <= CBCE_BOOL; tdt++) {
                    void *yt = typed(d->yhard, N, tdt);
                    a.target = cbce_vector(yt, tdt, N, 1);
                    run(f, op, dt, &a, &r);
                    sprintf(what, "reduction %d, hard target as %s vs f64", red, dname(tdt));
                    same_result(f, op, dt, red, &rh, &r, what);
                    drop(&r);
                    free(yt);
                }
                drop(&rh);
                free(yh64);
            }
            /* levels may differ in the last bit (cbce.h); each gives the same bits for
             * every thread count */
            {
                static const int threads[] = {3, 8};
                int l;
                size_t t;
                for (l = CBCE_SIMD_SCALAR; l <= CBCE_SIMD_AVX512; l++) {
                    result rl;
                    if (cbce_simd_level(l) != l)
                        continue; /* not on this CPU */
                    a = base;
                    a.simd = l;
                    a.num_threads = 1;
                    run(f, op, dt, &a, &rl);
                    for (t = 0; t < sizeof threads / sizeof threads[0]; t++) {
                        a.num_threads = threads[t];
                        sprintf(what, "reduction %d, simd %s, num_threads %d vs 1", red,
                                cbce_simd_name(l), threads[t]);
                        run(f, op, dt, &a, &r);
                        same_result(f, op, dt, red, &rl, &r, what);
                        drop(&r);
                    }
                    drop(&rl);
                }
            }
            /* every thread count gives the same bits */
            {
                static const int threads[] = {0, 1, 2, 3, 8, -1};
                size_t t;
                for (t = 0; t < sizeof threads / sizeof threads[0]; t++) {
                    a = base;
                    a.num_threads = threads[t];
                    sprintf(what, "reduction %d, num_threads %d", red, threads[t]);
                    run(f, op, dt, &a, &r);
                    same_result(f, op, dt, red, &r0, &r, what);
                    drop(&r);
                }
            }
            drop(&r0);
        }
    }
    free(x); free(ys); free(w); free(pw); free(go); free(x3); free(xr);
    free(wc); free(wr); free(wfull_c); free(wfull_r); free(pwc); free(pwfull);
    free(wk); free(wkfull); free(gok); free(gokfull);
}
#undef CASE

/* Neumaier-compensated sum of n doubles read from a typed buffer. */
static double csum(const void *p, int dt, size_t n)
{
    double s = 0.0, c = 0.0;
    size_t i;
    for (i = 0; i < n; i++) {
        double v = get(p, dt, (ptrdiff_t)i), t = s + v;
        c += fabs(s) >= fabs(v) ? (s - t) + v : (v - t) + s;
        s = t;
    }
    return s + c;
}

/* Output strides, in-place gradients, fused == separate calls, reductions against the
 * elementwise values, label smoothing, infinite logits, float vs double. */
static void test_semantics(const family *f, const data *d, int dt)
{
    static const int reds[4] = {CBCE_REDUCTION_NONE, CBCE_REDUCTION_SUM, CBCE_REDUCTION_MEAN,
                                CBCE_REDUCTION_WEIGHTED_MEAN};
    const double eps = dt == CBCE_F32 ? 0x1p-23 : 0x1p-52;
    void *x = typed(d->x, N, dt), *ys = typed(d->ysoft, N, dt), *w = typed(d->w, N, dt);
    void *pw = typed(d->pw, N, dt);
    void *o2 = xalloc(2 * N, dt), *g2 = xalloc(2 * N, dt), *h2 = xalloc(2 * N, dt);
    void *ip = xalloc(3 * N, dt);
    unsigned char rb[8];
    result none[N_OPS], r;
    cbce_args_t base = zero_args(), a;
    double wsum = csum(w, dt, N), lsum;
    size_t i;
    long k;
    int op, ri, st;
    base.n = N;
    base.input = cbce_vector(x, dt, N, 1);
    base.target = cbce_vector(ys, dt, N, 1);
    base.weight = cbce_vector(w, dt, N, 1);
    if (f->flags & F_POS_WEIGHT)
        base.pos_weight = cbce_vector(pw, dt, N, 1);
    if (f->flags & F_FOCAL) {
        base.alpha = 0.25;
        base.gamma = 2.0;
    }
    for (op = 0; op < N_OPS; op++)
        if (has_op(f, op))
            run(f, op, dt, &base, &none[op]);

    for (op = 0; op < N_OPS; op++) {
        int loss = op == OP_FWD || op == OP_FWD_BWD;
        if (!has_op(f, op))
            continue;
        /* output strides 2 and -1 (pointer at the last element) */
        st = call(f, op, dt, &base, o2, 2, rb, g2, 2, h2, 2);
        check(st == CBCE_OK, "cbce_%s_%s_%s, out stride 2: status %d", f->name, op_names[op],
              dname(dt), st);
        if (loss && (k = first_diff(none[op].out, 1, o2, 2, N, dt, 0)) >= 0)
            check(0, "cbce_%s_%s_%s, out stride 2: loss[%ld] differs", f->name, op_names[op],
                  dname(dt), k);
        if (op != OP_FWD && (k = first_diff(none[op].g, 1, g2, 2, N, dt, 0)) >= 0)
            check(0, "cbce_%s_%s_%s, grad stride 2: grad[%ld] differs", f->name,
                  op_names[op], dname(dt), k);
        if (op == OP_GRAD_HESS && (k = first_diff(none[op].h, 1, h2, 2, N, dt, 0)) >= 0)
            check(0, "cbce_%s_%s_%s, hess stride 2: hess[%ld] differs", f->name,
                  op_names[op], dname(dt), k);
        {
            size_t last = (N - 1) * dsize(dt);
            st = call(f, op, dt, &base, (char *)o2 + last, -1, rb, (char *)g2 + last, -1,
                      (char *)h2 + last, -1);
            check(st == CBCE_OK, "cbce_%s_%s_%s, out stride -1: status %d", f->name,
                  op_names[op], dname(dt), st);
            if (loss && (k = first_diff(none[op].out, 1, (char *)o2 + last, -1, N, dt, 0)) >= 0)
                check(0, "cbce_%s_%s_%s, out stride -1: loss[%ld] differs", f->name,
                      op_names[op], dname(dt), k);
            if (op != OP_FWD &&
                (k = first_diff(none[op].g, 1, (char *)g2 + last, -1, N, dt, 0)) >= 0)
                check(0, "cbce_%s_%s_%s, grad stride -1: grad[%ld] differs", f->name,
                      op_names[op], dname(dt), k);
            if (op == OP_GRAD_HESS &&
                (k = first_diff(none[op].h, 1, (char *)h2 + last, -1, N, dt, 0)) >= 0)
                check(0, "cbce_%s_%s_%s, hess stride -1: hess[%ld] differs", f->name,
                      op_names[op], dname(dt), k);
        }
        /* in place: the gradient overwrites the input (strides 1 and 3) */
        if (op != OP_FWD) {
            ptrdiff_t s;
            for (s = 1; s <= 3; s += 2) {
                for (i = 0; i < N; i++)
                    put(ip, dt, (ptrdiff_t)i * s, d->x[i]);
                a = base;
                a.input = cbce_vector(ip, dt, N, s);
                st = call(f, op, dt, &a, o2, 1, rb, ip, s, h2, 1);
                check(st == CBCE_OK, "cbce_%s_%s_%s, in place: status %d", f->name,
                      op_names[op], dname(dt), st);
                if ((k = first_diff(none[op].g, 1, ip, s, N, dt, 0)) >= 0)
                    check(0, "cbce_%s_%s_%s, in-place gradient (stride %ld): grad[%ld] differs",
                          f->name, op_names[op], dname(dt), (long)s, k);
            }
        }
    }

    /* fused calls give the bits of the separate ones, for every reduction */
    for (ri = 0; ri < 4; ri++) {
        result fw, bw, fb;
        char what[96];
        if (!f->fb32)
            break;
        a = base;
        a.reduction = reds[ri];
        run(f, OP_FWD, dt, &a, &fw);
        run(f, OP_BWD, dt, &a, &bw);
        run(f, OP_FWD_BWD, dt, &a, &fb);
        sprintf(what, "reduction %d: fwd_bwd vs fwd", reds[ri]);
        same_result(f, OP_FWD, dt, reds[ri], &fw, &fb, what);
        sprintf(what, "reduction %d: fwd_bwd vs bwd", reds[ri]);
        same_result(f, OP_BWD, dt, reds[ri], &bw, &fb, what);
        drop(&fw);
        drop(&bw);
        drop(&fb);
    }
    if (f->gh32)
        for (i = 0; i < N; i++) {
            double g0 = get(none[OP_BWD].g, dt, (ptrdiff_t)i);
            double g1 = get(none[OP_GRAD_HESS].g, dt, (ptrdiff_t)i);
            if (!close_rel(g0, g1, 2 * eps)) {
                check(0, "cbce_%s_grad_hess_%s: grad[%lu] = %.17g, bwd gives %.17g", f->name,
                      dname(dt), (unsigned long)i, g1, g0);
                break;
            }
        }

    /* reductions reduce the elementwise values; backward scales by 1/n or 1/sum(w) */
    lsum = csum(none[OP_FWD].out, dt, N);
    for (ri = 1; ri < 4; ri++) {
        double want = reds[ri] == CBCE_REDUCTION_SUM ? lsum
                      : reds[ri] == CBCE_REDUCTION_MEAN ? lsum / N : lsum / wsum;
        double scale = reds[ri] == CBCE_REDUCTION_SUM ? -1.5
                       : reds[ri] == CBCE_REDUCTION_MEAN ? -1.5 / N : -1.5 / wsum;
        double go = -1.5;
        void *gop = typed(&go, 1, dt);
        a = base;
        a.reduction = reds[ri];
        run(f, OP_FWD, dt, &a, &r);
        check(close_rel(r.res, want, dt == CBCE_F32 ? 4 * eps : 1e-14),
              "cbce_%s_fwd_%s, reduction %d: %.17g, sum of the elementwise losses gives %.17g",
              f->name, dname(dt), reds[ri], r.res, want);
        drop(&r);
        a.grad_output = cbce_scalar(gop, dt);
        run(f, OP_BWD, dt, &a, &r);
        for (i = 0; i < N; i++) {
            double g = get(r.g, dt, (ptrdiff_t)i);
            double gw = scale * get(none[OP_BWD].g, dt, (ptrdiff_t)i);
            if (!close_rel(g, gw, 4 * eps)) {
                check(0, "cbce_%s_bwd_%s, reduction %d, grad_output -1.5: grad[%lu] = %.17g, "
                      "want %.17g", f->name, dname(dt), reds[ri], (unsigned long)i, g, gw);
                break;
            }
        }
        drop(&r);
        free(gop);
    }

    if (f->flags & F_LOGITS) {
        /* label smoothing eps on hard labels == the smoothed labels given directly */
        double *ysm = (double *)malloc(N * sizeof(double));
        void *yh = typed(d->yhard, N, dt);
        result r1;
        if (ysm == NULL)
            exit(2);
        for (i = 0; i < N; i++)
            ysm[i] = d->yhard[i] * (1.0 - 0.1) + 0.1 / 2;
        a = base;
        a.target = cbce_vector(yh, dt, N, 1);
        a.label_smoothing = 0.1;
        run(f, OP_FWD, dt, &a, &r);
        a.target = cbce_vector(ysm, CBCE_F64, N, 1);
        a.label_smoothing = 0.0;
        run(f, OP_FWD, dt, &a, &r1);
        for (i = 0; i < N; i++) {
            double l0 = get(r.out, dt, (ptrdiff_t)i), l1 = get(r1.out, dt, (ptrdiff_t)i);
            if (!close_rel(l0, l1, dt == CBCE_F32 ? 2 * eps : 1e-12)) {
                check(0, "cbce_%s_fwd_%s, label_smoothing 0.1: loss[%lu] = %.17g, smoothed "
                      "target gives %.17g", f->name, dname(dt), (unsigned long)i, l0, l1);
                break;
            }
        }
        drop(&r);
        drop(&r1);
        free(ysm);
        free(yh);
    }

    if (f->flags & F_LOGITS) {
        /* limits at infinite logits, NaN propagation, x = 0 */
        static const double sx[6] = {INFINITY, -INFINITY, NAN, 0.0, INFINITY, -INFINITY};
        static const double sy[6] = {1.0, 0.0, 0.5, 0.0, 0.0, 1.0};
        static const double sl[6] = {0.0, 0.0, NAN, 0.69314718055994530942, INFINITY,
                                     INFINITY};
        static const double sg[6] = {0.0, 0.0, NAN, 0.5, 1.0, -1.0};
        static const double sh[6] = {0.0, 0.0, NAN, 0.25, 0.0, 0.0};
        void *px = typed(sx, 6, dt), *py = typed(sy, 6, dt);
        void *l = xalloc(6, dt), *g = xalloc(6, dt), *h = xalloc(6, dt);
        a = zero_args();
        a.n = 6;
        a.input = cbce_vector(px, dt, 6, 1);
        a.target = cbce_vector(py, dt, 6, 1);
        st = call(f, OP_FWD_BWD, dt, &a, l, 1, NULL, g, 1, NULL, 0);
        check(st == CBCE_OK, "cbce_%s_fwd_bwd_%s on special values: status %d", f->name,
              dname(dt), st);
        st = call(f, OP_GRAD_HESS, dt, &a, NULL, 0, NULL, g2, 1, h, 1);
        check(st == CBCE_OK, "cbce_%s_grad_hess_%s on special values: status %d", f->name,
              dname(dt), st);
        for (i = 0; i < 6; i++) {
            double vl = get(l, dt, (ptrdiff_t)i), vg = get(g, dt, (ptrdiff_t)i);
            double vh = get(h, dt, (ptrdiff_t)i);
            check(close_rel(vl, sl[i], eps) && close_rel(vg, sg[i], eps) &&
                      close_rel(vh, sh[i], eps),
                  "cbce_%s_%s at x=%g, y=%g: loss %.17g grad %.17g hess %.17g, want %.17g "
                  "%.17g %.17g", f->name, dname(dt), sx[i], sy[i], vl, vg, vh, sl[i], sg[i],
                  sh[i]);
        }
        free(px); free(py); free(l); free(g); free(h);
    }

    for (op = 0; op < N_OPS; op++)
        if (has_op(f, op))
            drop(&none[op]);
    free(x); free(ys); free(w); free(pw); free(o2); free(g2); free(h2); free(ip);
}

/* float and double agree to float precision (accuracy proper: test_reference.c). */
static void test_f32_vs_f64(const family *f, const data *d)
{
    cbce_args_t a = zero_args();
    void *x32 = typed(d->x, N, CBCE_F32), *y32 = typed(d->ysoft, N, CBCE_F32);
    void *w32 = typed(d->w, N, CBCE_F32), *p32 = typed(d->pw, N, CBCE_F32);
    double *x64 = (double *)malloc(N * sizeof(double)), *y64 = (double *)malloc(N * sizeof(double));
    double *w64 = (double *)malloc(N * sizeof(double)), *p64 = (double *)malloc(N * sizeof(double));
    result r32, r64;
    size_t i;
    if (!x64 || !y64 || !w64 || !p64)
        exit(2);
    for (i = 0; i < N; i++) { /* the float values, exactly, in double */
        x64[i] = get(x32, CBCE_F32, (ptrdiff_t)i);
        y64[i] = get(y32, CBCE_F32, (ptrdiff_t)i);
        w64[i] = get(w32, CBCE_F32, (ptrdiff_t)i);
        p64[i] = get(p32, CBCE_F32, (ptrdiff_t)i);
    }
    a.n = N;
    if (f->flags & F_FOCAL) {
        a.alpha = 0.25;
        a.gamma = 2.0;
    }
    a.input = cbce_vector(x32, CBCE_F32, N, 1);
    a.target = cbce_vector(y32, CBCE_F32, N, 1);
    a.weight = cbce_vector(w32, CBCE_F32, N, 1);
    if (f->flags & F_POS_WEIGHT)
        a.pos_weight = cbce_vector(p32, CBCE_F32, N, 1);
    run(f, OP_FWD, CBCE_F32, &a, &r32);
    a.input = cbce_vector(x64, CBCE_F64, N, 1);
    a.target = cbce_vector(y64, CBCE_F64, N, 1);
    a.weight = cbce_vector(w64, CBCE_F64, N, 1);
    if (f->flags & F_POS_WEIGHT)
        a.pos_weight = cbce_vector(p64, CBCE_F64, N, 1);
    run(f, OP_FWD, CBCE_F64, &a, &r64);
    for (i = 0; i < N; i++) {
        double l32 = get(r32.out, CBCE_F32, (ptrdiff_t)i), l64 = ((double *)r64.out)[i];
        if (!close_rel(l32, l64, 0x1p-23)) {
            check(0, "cbce_%s_fwd: f32 loss[%lu] = %.9g, f64 gives %.17g (x=%a)", f->name,
                  (unsigned long)i, l32, l64, x64[i]);
            break;
        }
    }
    drop(&r32);
    drop(&r64);
    free(x32); free(y32); free(w32); free(p32); free(x64); free(y64); free(w64); free(p64);
}

/* ---- the elementwise helpers ----------------------------------------------------------- */

typedef int (*ew32_fn)(size_t, const float *, ptrdiff_t, float *, ptrdiff_t);
typedef int (*ew64_fn)(size_t, const double *, ptrdiff_t, double *, ptrdiff_t);
static const struct {
    const char *name;
    ew32_fn f32;
    ew64_fn f64;
    double at_minus_inf, at_zero, at_plus_inf;
} helpers[] = {
    {"sigmoid", cbce_sigmoid_f32, cbce_sigmoid_f64, 0.0, 0.5, 1.0},
    {"log_sigmoid", cbce_log_sigmoid_f32, cbce_log_sigmoid_f64, -INFINITY,
     -0.69314718055994530942, 0.0},
    {"softplus", cbce_softplus_f32, cbce_softplus_f64, 0.0, 0.69314718055994530942, INFINITY},
};

static int ew(int hi, int dt, size_t n, const void *x, ptrdiff_t xs, void *o, ptrdiff_t os)
{
    return dt == CBCE_F32 ? helpers[hi].f32(n, (const float *)x, xs, (float *)o, os)
                          : helpers[hi].f64(n, (const double *)x, xs, (double *)o, os);
}

static void test_elementwise(const data *d)
{
    static const int dts[2] = {CBCE_F32, CBCE_F64};
    int di, hi, st;
    size_t i;
    long k;
    for (di = 0; di < 2; di++) {
        int dt = dts[di];
        const double eps = dt == CBCE_F32 ? 0x1p-23 : 0x1p-52;
        void *x = typed(d->x, N, dt), *x3 = xalloc(3 * N, dt), *o = xalloc(N, dt);
        void *o2 = xalloc(2 * N, dt), *ip = xalloc(N, dt), *neg = xalloc(N, dt);
        for (i = 0; i < N; i++)
            put(x3, dt, (ptrdiff_t)(3 * i), d->x[i]);
        for (hi = 0; hi < (int)(sizeof helpers / sizeof helpers[0]); hi++) {
            const char *nm = helpers[hi].name;
            static const double sx[4] = {-INFINITY, 0.0, INFINITY, NAN};
            double want[4];
            void *sxt = typed(sx, 4, dt), *so = xalloc(4, dt);
            /* status codes; nothing written on error */
            put(o, dt, 0, SENTINEL);
            st = ew(hi, dt, 3, NULL, 1, o, 1);
            check(st == CBCE_ERR_NULL && get(o, dt, 0) == SENTINEL,
                  "cbce_%s_%s(x NULL): status %d, out[0] %g", nm, dname(dt), st, get(o, dt, 0));
            st = ew(hi, dt, 3, x, 1, NULL, 1);
            check(st == CBCE_ERR_NULL, "cbce_%s_%s(out NULL): status %d", nm, dname(dt), st);
            st = ew(hi, dt, 0, NULL, 1, NULL, 1);
            check(st == CBCE_OK, "cbce_%s_%s(n = 0, NULL): status %d", nm, dname(dt), st);
            /* limits, zero, NaN */
            want[0] = helpers[hi].at_minus_inf;
            want[1] = helpers[hi].at_zero;
            want[2] = helpers[hi].at_plus_inf;
            want[3] = NAN;
            st = ew(hi, dt, 4, sxt, 1, so, 1);
            check(st == CBCE_OK, "cbce_%s_%s on special values: status %d", nm, dname(dt), st);
            for (i = 0; i < 4; i++)
                check(close_rel(get(so, dt, (ptrdiff_t)i), want[i], eps),
                      "cbce_%s_%s(%g) = %.17g, want %.17g", nm, dname(dt), sx[i],
                      get(so, dt, (ptrdiff_t)i), want[i]);
            free(sxt);
            free(so);
            /* layouts: input strides 3, -1 and 0, output strides 2 and -1, in place */
            st = ew(hi, dt, N, x, 1, o, 1);
            check(st == CBCE_OK, "cbce_%s_%s: status %d", nm, dname(dt), st);
            st = ew(hi, dt, N, x3, 3, o2, 2);
            if (st != CBCE_OK || (k = first_diff(o, 1, o2, 2, N, dt, 0)) >= 0)
                check(0, "cbce_%s_%s, x stride 3, out stride 2: status %d, out[%ld] differs", nm,
                      dname(dt), st, st == CBCE_OK ? k : -1L);
            st = ew(hi, dt, N, x, 1, (char *)o2 + (N - 1) * dsize(dt), -1);
            if (st != CBCE_OK || (k = first_diff(o, 1, (char *)o2 + (N - 1) * dsize(dt), -1, N,
                                                 dt, 0)) >= 0)
                check(0, "cbce_%s_%s, out stride -1: status %d, out[%ld] differs", nm,
                      dname(dt), st, st == CBCE_OK ? k : -1L);
            for (i = 0; i < N; i++)
                put(neg, dt, (ptrdiff_t)(N - 1 - i), d->x[i]);
            st = ew(hi, dt, N, (char *)neg + (N - 1) * dsize(dt), -1, o2, 1);
            if (st != CBCE_OK || (k = first_diff(o, 1, o2, 1, N, dt, 0)) >= 0)
                check(0, "cbce_%s_%s, x stride -1: status %d, out[%ld] differs", nm, dname(dt),
                      st, st == CBCE_OK ? k : -1L);
            st = ew(hi, dt, N, (char *)x + 5 * dsize(dt), 0, o2, 1);
            for (i = 0; i < N; i++)
                if (!same(get(o2, dt, (ptrdiff_t)i), get(o, dt, 5), dt)) {
                    check(0, "cbce_%s_%s, x stride 0: out[%lu] differs", nm, dname(dt),
                          (unsigned long)i);
                    break;
                }
            memcpy(ip, x, N * dsize(dt));
            st = ew(hi, dt, N, ip, 1, ip, 1);
            if (st != CBCE_OK || (k = first_diff(o, 1, ip, 1, N, dt, 0)) >= 0)
                check(0, "cbce_%s_%s in place: status %d, out[%ld] differs", nm, dname(dt), st,
                      st == CBCE_OK ? k : -1L);
        }
        /* log_sigmoid(x) = -softplus(-x), both within 1 ulp */
        for (i = 0; i < N; i++)
            put(neg, dt, (ptrdiff_t)i, -d->x[i]);
        ew(1, dt, N, x, 1, o, 1);
        ew(2, dt, N, neg, 1, o2, 1);
        for (i = 0; i < N; i++)
            if (!close_rel(get(o, dt, (ptrdiff_t)i), -get(o2, dt, (ptrdiff_t)i), 2.01 * eps)) {
                check(0, "cbce_log_sigmoid_%s(%.17g) = %.17g, -softplus(-x) = %.17g", dname(dt),
                      d->x[i], get(o, dt, (ptrdiff_t)i), -get(o2, dt, (ptrdiff_t)i));
                break;
            }
        free(x); free(x3); free(o); free(o2); free(ip); free(neg);
    }
}

/* Focal loss with gamma 0 and no alpha is BCE with logits within 1 ulp (cbce.h); BCE on
 * probabilities takes bad_index NULL. */
static void test_family_links(const data *d)
{
    static const int reds[4] = {CBCE_REDUCTION_NONE, CBCE_REDUCTION_SUM, CBCE_REDUCTION_MEAN,
                                CBCE_REDUCTION_WEIGHTED_MEAN};
    int di, ri, op;
    for (di = 0; di < 2; di++) {
        int dt = di ? CBCE_F64 : CBCE_F32;
        void *x = typed(d->x, N, dt), *ys = typed(d->ysoft, N, dt), *w = typed(d->w, N, dt);
        void *yh = typed(d->yhard, N, dt);
        for (op = 0; op < N_OPS; op++)
            for (ri = 0; ri < 4; ri++) {
                /* soft-label gradients are bounded in ulps of their largest term (cbce.h):
                 * two such results may differ by more than 1 ulp of their own, so the
                 * gradients are compared on hard labels, the losses on soft ones */
                void *y = op == OP_FWD ? ys : yh;
                cbce_args_t a = zero_args();
                result rl, rf;
                char what[96];
                if (op == OP_GRAD_HESS && ri > 0)
                    break;
                a.n = N;
                a.input = cbce_vector(x, dt, N, 1);
                a.target = cbce_vector(y, dt, N, 1);
                a.weight = cbce_vector(w, dt, N, 1);
                a.reduction = reds[ri];
                a.alpha = NAN;
                a.gamma = 0.0;
                run(&families[0], op, dt, &a, &rl);
                run(&families[2], op, dt, &a, &rf);
                sprintf(what, "reduction %d, gamma 0, alpha NaN vs cbce_bce_logits", reds[ri]);
                /* two faithful roundings; a mean's gradient multiplier is also rounded
                 * in a different order: one more */
                compare_result(&families[2], op, dt, reds[ri], &rl, &rf, what,
                               ri >= 2 && op != OP_FWD ? 2 : 1);
                drop(&rl);
                drop(&rf);
            }
        free(x); free(ys); free(yh); free(w);
    }
    {
        double px[3] = {0.25, 2.0, 0.5}, py[3] = {1.0, 0.0, 0.0}, out[3], g[3], h[3], r;
        float fx[3] = {0.25f, 0.5f, -0.5f}, fy[3] = {1.0f, 0.0f, 0.0f}, fo[3], fg[3], fh[3],
              fr;
        cbce_args_t a = zero_args(), b = zero_args();
        a.n = 3;
        a.input = cbce_vector(px, CBCE_F64, 3, 1);
        a.target = cbce_vector(py, CBCE_F64, 3, 1);
        b.n = 3;
        b.input = cbce_vector(fx, CBCE_F32, 3, 1);
        b.target = cbce_vector(fy, CBCE_F32, 3, 1);
        check(cbce_bce_fwd_f64(&a, out, 1, &r, NULL) == CBCE_ERR_DOMAIN &&
                  cbce_bce_bwd_f64(&a, g, 1, NULL) == CBCE_ERR_DOMAIN &&
                  cbce_bce_fwd_bwd_f64(&a, out, 1, &r, g, 1, NULL) == CBCE_ERR_DOMAIN &&
                  cbce_bce_grad_hess_f64(&a, g, 1, h, 1, NULL) == CBCE_ERR_DOMAIN &&
                  cbce_bce_fwd_f32(&b, fo, 1, &fr, NULL) == CBCE_ERR_DOMAIN &&
                  cbce_bce_bwd_f32(&b, fg, 1, NULL) == CBCE_ERR_DOMAIN &&
                  cbce_bce_fwd_bwd_f32(&b, fo, 1, &fr, fg, 1, NULL) == CBCE_ERR_DOMAIN &&
                  cbce_bce_grad_hess_f32(&b, fg, 1, fh, 1, NULL) == CBCE_ERR_DOMAIN,
              "cbce_bce_*: an input outside [0, 1] with bad_index NULL is not CBCE_ERR_DOMAIN");
        px[1] = 1.0;
        fx[2] = 1.0f;
        check(cbce_bce_fwd_f64(&a, out, 1, &r, NULL) == CBCE_OK &&
                  cbce_bce_fwd_f32(&b, fo, 1, &fr, NULL) == CBCE_OK,
              "cbce_bce_fwd_*: valid inputs with bad_index NULL rejected");
    }
}

/* (d) Edges: the checks that need no data come before any scan of it (a bad call on 10^9
 * elements is refused at once); a bool byte other than 0 or 1 is true; the fused in-place
 * call whose float64 sum overflows does not re-read the input it overwrote. */
static void test_edges(void)
{
    static const double two = 2.0, half = 0.5;
    const size_t huge = 1000000000;
    double r = 0, x[2] = {1e308, 1e308}, t[2] = {0, 0}, l1 = 0, l2 = 0, ref[2], g[2];
    unsigned char tb[3] = {2, 0, 255}, tc[3] = {1, 0, 1};
    double xs[3] = {5.0, 1.0, -2.0}, lb[3], lc[3];
    size_t bi = NO_INDEX;
    int k;
    for (k = 0; k < 3; k++) {
        cbce_args_t a = zero_args();
        clock_t c0 = clock();
        int st, want;
        a.n = huge;
        a.input = cbce_vector(&two, CBCE_F64, huge, 0); /* outside [0, 1] */
        a.target = cbce_vector(&half, CBCE_F64, huge, 0);
        a.reduction = k == 0 ? 99 : CBCE_REDUCTION_NONE;
        a.label_smoothing = k == 2 ? 2.0 : 0.0;
        want = k == 0 ? CBCE_ERR_REDUCTION : k == 1 ? CBCE_ERR_NULL : CBCE_ERR_SMOOTHING;
        st = cbce_bce_fwd_f64(&a, NULL, 1, &r, &bi);
        check(st == want, "bce_fwd_f64, 10^9 elements out of [0, 1], case %d: status %d, "
              "expected %d", k, st, want);
        check((double)(clock() - c0) / CLOCKS_PER_SEC < 0.1,
              "bce_fwd_f64, case %d: the refusal read the data (%.3f s)", k,
              (double)(clock() - c0) / CLOCKS_PER_SEC);
        check(bi == NO_INDEX, "bce_fwd_f64, case %d: bad_index written", k);
    }
    {
        cbce_args_t a = zero_args();
        a.n = 3;
        a.input = cbce_vector(xs, CBCE_F64, 3, 1);
        a.target = cbce_vector(tb, CBCE_BOOL, 3, 1);
        check(cbce_bce_logits_fwd_f64(&a, lb, 1, NULL) == CBCE_OK, "bool bytes: status");
        a.target = cbce_vector(tc, CBCE_BOOL, 3, 1);
        check(cbce_bce_logits_fwd_f64(&a, lc, 1, NULL) == CBCE_OK, "bool bytes: status");
        check(memcmp(lb, lc, sizeof lb) == 0, "bool bytes 2 and 255 are not read as true");
    }
    for (k = CBCE_REDUCTION_SUM; k <= CBCE_REDUCTION_WEIGHTED_MEAN; k++) {
        cbce_args_t a = zero_args();
        a.n = 2;
        a.input = cbce_vector(x, CBCE_F64, 2, 1);
        a.target = cbce_vector(t, CBCE_F64, 2, 1);
        a.reduction = k;
        check(cbce_bce_logits_fwd_bwd_f64(&a, NULL, 1, &l1, ref, 1) == CBCE_OK, "fused");
        memcpy(g, x, sizeof g);
        a.input = cbce_vector(g, CBCE_F64, 2, 1);
        check(cbce_bce_logits_fwd_bwd_f64(&a, NULL, 1, &l2, g, 1) == CBCE_OK, "in place");
        check(l2 == (k == CBCE_REDUCTION_SUM ? INFINITY : 1e308) && l1 == l2 &&
              memcmp(g, ref, sizeof g) == 0, "fused in-place overflowing sum, reduction %d: "
              "%.17g (not in place %.17g)", k, l2, l1);
    }
}

/* ---- shards: cbce_args_t.mean_denominator --------------------------------------------- */

/* The sum of n doubles as a double-double: exact for make_data's weights (in [0, 2), float
 * or double, few far below 1), whose two_sum errors are multiples of a small power of two
 * below 2^-38: their sum in e is exact. */
static void exact_sum(const double *v, size_t n, double *hi, double *lo)
{
    double s = 0.0, e = 0.0, t, bv;
    size_t i;
    for (i = 0; i < n; i++) {
        t = s + v[i];
        bv = t - s;
        e += (s - (t - bv)) + (v[i] - bv);
        s = t;
    }
    t = s + e;
    *lo = e - (t - s);
    *hi = t;
}

/* A MEAN / WEIGHTED_MEAN call cut into two shards at an element that is not a block
 * boundary, each given the whole array's denominator: the gradients are the whole call's,
 * bit for bit, and the shards' losses add up to its loss; a zero denominator, or none,
 * means the shard's own. */
static void test_shards(const family *f, const data *d, int dt)
{
    size_t cut = N / 3 + 5, parts[2][2], k;
    void *x = typed(d->x, N, dt), *ys = typed(d->ysoft, N, dt), *w = typed(d->w, N, dt);
    void *g = xalloc(N, dt), *gs = xalloc(N, dt);
    double go = -0.7, whi, wlo, *wv = (double *)xalloc(N, CBCE_F64);
    int red;
    for (k = 0; k < N; k++)
        wv[k] = get(w, dt, (ptrdiff_t)k); /* the weights as the core reads them */
    exact_sum(wv, N, &whi, &wlo);
    free(wv);
    check(dt != CBCE_F64 || wlo != 0.0, "the weight sum %.17g is a double: the test needs a "
          "low part", whi);
    parts[0][0] = 0, parts[0][1] = cut, parts[1][0] = cut, parts[1][1] = N - cut;
    for (red = CBCE_REDUCTION_MEAN; red <= CBCE_REDUCTION_WEIGHTED_MEAN; red++) {
        cbce_args_t a = zero_args();
        unsigned char rb[8];
        double whole, sum = 0.0;
        int st;
        a.reduction = red;
        a.grad_output = cbce_scalar(&go, CBCE_F64);
        if (f->flags & F_FOCAL)
            a.alpha = 0.25, a.gamma = 2.0;
        a.n = N;
        a.input = cbce_vector(x, dt, N, 1);
        a.target = cbce_vector(ys, dt, N, 1);
        a.weight = cbce_vector(w, dt, N, 1);
        st = call(f, OP_BWD, dt, &a, NULL, 0, NULL, g, 1, NULL, 0);
        st |= call(f, OP_FWD, dt, &a, NULL, 0, rb, NULL, 0, NULL, 0);
        whole = get(rb, dt, 0);
        a.mean_denominator = red == CBCE_REDUCTION_MEAN ? (double)N : whi;
        a.mean_denominator_lo = red == CBCE_REDUCTION_MEAN ? 0.0 : wlo;
        for (k = 0; k < 2; k++) {
            size_t o = parts[k][0] * dsize(dt);
            a.n = parts[k][1];
            a.input = cbce_vector((char *)x + o, dt, a.n, 1);
            a.target = cbce_vector((char *)ys + o, dt, a.n, 1);
            a.weight = cbce_vector((char *)w + o, dt, a.n, 1);
            st |= call(f, OP_BWD, dt, &a, NULL, 0, NULL, (char *)gs + o, 1, NULL, 0);
            st |= call(f, OP_FWD, dt, &a, NULL, 0, rb, NULL, 0, NULL, 0);
            sum += get(rb, dt, 0);
        }
        check(st == CBCE_OK, "cbce_%s shards %s reduction %d: a status", f->name, dname(dt),
              red);
        check(first_diff(g, 1, gs, 1, N, dt, 0) < 0, "cbce_%s_bwd_%s reduction %d: shard "
              "gradient differs from the whole call's at element %ld", f->name, dname(dt),
              red, first_diff(g, 1, gs, 1, N, dt, 0));
        check(close_rel(sum, whole, dt == CBCE_F64 ? 1e-15 : 1e-6), "cbce_%s_fwd_%s "
              "reduction %d: shard losses add to %.17g, the whole call gives %.17g",
              f->name, dname(dt), red, sum, whole);
        /* 0, and a caller of the layout before the field: the shard's own denominator */
        {
            unsigned char r0[8], r1[8];
            a.mean_denominator = 0.0;
            a.mean_denominator_lo = 0.0;
            st = call(f, OP_FWD, dt, &a, NULL, 0, r0, NULL, 0, NULL, 0);
            a.mean_denominator_lo = 1.0;
            st |= call(f, OP_FWD, dt, &a, NULL, 0, rb, NULL, 0, NULL, 0);
            a.size = offsetof(cbce_args_t, mean_denominator);
            a.mean_denominator = 3.0;
            st |= call(f, OP_FWD, dt, &a, NULL, 0, r1, NULL, 0, NULL, 0);
            check(st == CBCE_OK && same(get(r0, dt, 0), get(rb, dt, 0), dt) &&
                  same(get(r0, dt, 0), get(r1, dt, 0), dt), "cbce_%s_fwd_%s reduction %d: a "
                  "zero or absent mean_denominator is not the shard's own", f->name,
                  dname(dt), red);
        }
    }
    free(x); free(ys); free(w); free(g); free(gs);
}

/* ---- cbce_args_t's size (cbce.h, "ABI") -------------------------------------------- */

static void test_args_size(void)
{
    /* a caller's struct one field larger than this header's, the extra field last */
    struct { cbce_args_t a; double future; } big;
    double x[3] = {-1.0, 0.5, 2.0}, y[3] = {0.0, 1.0, 1.0}, out[3], ref[3];
    cbce_args_t a = zero_args();
    int st;
    a.n = 3;
    a.input = cbce_vector(x, CBCE_F64, 3, 1);
    a.target = cbce_vector(y, CBCE_F64, 3, 1);
    check(cbce_bce_logits_fwd_f64(&a, ref, 1, NULL) == CBCE_OK, "a sized call fails");
    a.size = 0;
    st = cbce_bce_logits_fwd_f64(&a, out, 1, NULL);
    check(st == CBCE_ERR_ARGS_SIZE, "size 0 gives status %d, want CBCE_ERR_ARGS_SIZE", st);
    a.size = offsetof(cbce_args_t, simd);
    st = cbce_focal_fwd_f64(&a, out, 1, NULL);
    check(st == CBCE_ERR_ARGS_SIZE, "a size below the 0.2 layout gives %d", st);
    /* a caller of the 0.2 layout (up to simd): the later fields read as 0, so Poly-1's
     * epsilon is 0 and it is BCE with logits (within 1 ulp), whatever lies past `size` */
    a.size = offsetof(cbce_args_t, simd) + sizeof a.simd;
    a.epsilon = 1e300;
    st = cbce_poly1_fwd_f64(&a, out, 1, NULL);
    check(st == CBCE_OK && fabs(out[0] - ref[0]) <= 2.3e-16 * ref[0] &&
          fabs(out[2] - ref[2]) <= 2.3e-16 * ref[2], "a 0.2-sized Poly-1 call: status %d, "
          "%.17g vs BCE %.17g", st, out[0], ref[0]);
    a.size = sizeof a;
    a.epsilon = 0.0;
    memset(&big, 0, sizeof big);
    big.a = zero_args();
    big.a.size = sizeof big;
    big.a.n = 3;
    big.a.input = a.input;
    big.a.target = a.target;
    st = cbce_bce_logits_fwd_f64(&big.a, out, 1, NULL);
    check(st == CBCE_OK && memcmp(out, ref, sizeof out) == 0,
          "a larger struct with a zero tail: status %d or results differ", st);
    big.future = 1.0;
    st = cbce_bce_logits_fwd_f64(&big.a, out, 1, NULL);
    check(st == CBCE_ERR_ARGS_SIZE, "a nonzero field this library does not know gives %d",
          st);
}

int main(void)
{
    size_t fi;
    static data d;
    const char *simd = getenv("CBCE_SIMD"), *rows = getenv("CBCE_TEST_ROWS");
    if (rows != NULL && atoi(rows) > 0)
        R = (size_t)atoi(rows);
    if (simd != NULL && simd[0] != '\0') {
        int l;
        for (l = CBCE_SIMD_AUTO; l <= CBCE_SIMD_AVX512; l++)
            if (strcmp(simd, cbce_simd_name(l)) == 0)
                break;
        if (l > CBCE_SIMD_AVX512) {
            printf("CBCE_SIMD=%s is not a level name (auto, scalar, baseline, avx2, avx512)\n",
                   simd);
            return 2;
        }
        requested_simd = l;
    }
    printf("cbce %s, simd %s (asked %s), %d CPUs, %lu elements\n", cbce_version_string(),
           cbce_simd_name(cbce_simd_level(requested_simd)), cbce_simd_name(requested_simd),
           cbce_cpu_count(), (unsigned long)N);
    test_helpers();
    test_edges();
    test_args_size();
    for (fi = 0; fi < N_FAMILIES; fi++) {
        const family *f = &families[fi];
        test_status_codes(f);
        make_data(&d, f->flags);
        test_layouts(f, &d, CBCE_F32);
        test_layouts(f, &d, CBCE_F64);
        test_semantics(f, &d, CBCE_F32);
        test_semantics(f, &d, CBCE_F64);
        test_f32_vs_f64(f, &d);
        test_shards(f, &d, CBCE_F32);
        test_shards(f, &d, CBCE_F64);
    }
    make_data(&d, F_LOGITS);
    test_elementwise(&d);
    test_family_links(&d);
    free(d.x); free(d.ysoft); free(d.yhard); free(d.w); free(d.pw); free(d.go);
    printf("%s: %ld checks, %ld failed (cbce %s)\n", n_failed ? "FAILED" : "ok", n_checks,
           n_failed, cbce_version_string());
    return n_failed ? 1 : 0;
}
