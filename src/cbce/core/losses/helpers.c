/*
 * helpers.c -- the elementwise helpers sigmoid, log_sigmoid and softplus: their float32
 * compute steps (logits_elem.h's "d" elements, and span kernels) and the public entry
 * points.
 *
 * They run through the one driver like the losses (strided loads and stores, rounding
 * once, the SIMD level).  float32 data: three families whose step writes f(x) as the
 * "loss" of a reduction-NONE call (the driver requires a target operand; they pass the
 * input again, read from cache and ignored).  float64 data: the BCE-with-logits family at
 * a constant target, whose float64 kernel (logits64.h) is faithful and fast:
 *     softplus(x)    = its loss at target 0        (max(x, 0) + log1p(exp(-|x|)))
 *     log_sigmoid(x) = minus its loss at target 1   (-softplus(-x); the kernel negates
 *                                                   each span's losses, CBCE__NEG_LOSS, and
 *                                                   keeps its unit path)
 *     sigmoid(x)     = its gradient at target 0    (sigmoid(x) - 0, grad_output 1)
 */
#include <string.h>

#include "losses/logits_elem.h"
#include "losses/span32.h"
#include "losses/step.h"
#include "math/vec_math.h"

/* The "want" argument W is always CBCE__LOSS for the helpers. */
#define CBCE__SIGMOID_D(W, i) l[i] = cbce__sigmoid_d(x[i])
#define CBCE__LOG_SIGMOID_D(W, i) l[i] = cbce__log_sigmoid_d(x[i])
#define CBCE__SOFTPLUS_D(W, i) l[i] = cbce__softplus_d(x[i])

CBCE__FAMILY_LOSS_STEP(sigmoid_step_d, CBCE__SIGMOID_D)
CBCE__FAMILY_LOSS_STEP(log_sigmoid_step_d, CBCE__LOG_SIGMOID_D)
CBCE__FAMILY_LOSS_STEP(softplus_step_d, CBCE__SOFTPLUS_D)

/*
 * float32 data: span kernels on the vector layer, in double to about 2^-32.5 relative
 * before the one rounding to float (<= 0.5 + 2^-32.5 * 2^24 ~ 0.503 ulp), with
 * math/vec_math.h's e = exp(-|x|) (2^-34.5) and log1p(e) from u = e/(2+e) (2^-33) and
 * vd_rcp50 for the reciprocals; the formulas are logits_elem.h's
 * (two terms of one sign, never 1 - sigmoid).  NaN propagates through e; x = +-inf gives
 * e = 0 and the limits.  The driver asks them only for an unreduced loss (helper_run).
 * Each function maps nk vectors (a constant 1 or H32_K) in place, one stage for all of
 * them before the next: the chains of the nk vectors interleave (as span32.h's).  H32_K is
 * span32.h's CBCE__S32_K_WIDE (8 ran 1.04-1.08x as fast as 4 here).
 */
#define H32_K CBCE__S32_K_WIDE

/* e = exp(-|x|) and r = 1/(d + e) (d 1 or 2) of nk vectors x */
CBCE__VI void exp_neg_abs_rcp32(const int nk, const vd_t *x, double d, vd_t *e, vd_t *r)
{
    int j;
    for (j = 0; j < nk; j++)
        e[j] = vd_exp_neg(vd_abs(x[j]));
    for (j = 0; j < nk; j++)
        r[j] = vd_rcp50(vd_add(vd_set1(d), e[j]));
}

CBCE__VI void sigmoid32(const int nk, vd_t *v)
{
    vd_t e[H32_K], r[H32_K];
    int j;
    exp_neg_abs_rcp32(nk, v, 1.0, e, r);
    for (j = 0; j < nk; j++)
        v[j] = vd_select(vd_ge(v[j], vd_zero()), r[j], vd_mul(e[j], r[j]));
}

/* log_sigmoid(x) = min(x, 0) - t (neg 1) or softplus(x) = max(x, 0) + t (neg 0), t =
 * log1p(exp(-|x|)) from u = e/(2+e) */
CBCE__VI void softplus_or_log_sigmoid32(const int neg, const int nk, vd_t *v)
{
    vd_t e[H32_K], r[H32_K], t[H32_K];
    int j;
    exp_neg_abs_rcp32(nk, v, 2.0, e, r);
    for (j = 0; j < nk; j++)
        t[j] = vd_log1p_u(vd_mul(e[j], r[j]));
    for (j = 0; j < nk; j++)
        v[j] = neg ? vd_sub(vd_select(vd_lt(v[j], vd_zero()), v[j], vd_zero()), t[j])
                   : vd_add(vd_select(vd_gt(v[j], vd_zero()), v[j], vd_zero()), t[j]);
}

CBCE__VI void log_sigmoid32(const int nk, vd_t *v)
{
    softplus_or_log_sigmoid32(1, nk, v);
}

CBCE__VI void softplus32(const int nk, vd_t *v)
{
    softplus_or_log_sigmoid32(0, nk, v);
}

/* out = F(x) over the span, H32_K vectors per step */
#define CBCE__HELPER_SPAN(NAME, F)                                                        \
    CBCE__MAYBE_UNUSED static void NAME(int want, int reduced, const cbce__span *S,        \
                                        const cbce__span_consts *k)                        \
    {                                                                                      \
        const float *x = (const float *)S->x;                                              \
        float *out = (float *)S->l;                                                        \
        vd_t v[H32_K];                                                                     \
        size_t i = 0, c = S->c;                                                            \
        int j;                                                                             \
        (void)want;                                                                        \
        (void)reduced;                                                                     \
        (void)k;                                                                           \
        for (; i + H32_K * CBCE__VW <= c; i += H32_K * CBCE__VW) {                         \
            for (j = 0; j < H32_K; j++)                                                    \
                v[j] = vd_load_f32(x + i + j * CBCE__VW);                                  \
            F(H32_K, v);                                                                   \
            for (j = 0; j < H32_K; j++)                                                    \
                vd_store_f32(out + i + j * CBCE__VW, v[j]);                                \
        }                                                                                  \
        for (; i < c; i += CBCE__VW) {                                                     \
            v[0] = load_f32(x, i, c - i);                                                  \
            F(1, v);                                                                       \
            store_f32(out, i, v[0], c - i);                                                \
        }                                                                                  \
    }

CBCE__HELPER_SPAN(sigmoid_span_d, sigmoid32)
CBCE__HELPER_SPAN(log_sigmoid_span_d, log_sigmoid32)
CBCE__HELPER_SPAN(softplus_span_d, softplus32)

CBCE__S32_FORWARD(cbce__sigmoid_steps, sigmoid_span_d)
CBCE__S32_FORWARD(cbce__log_sigmoid_steps, log_sigmoid_span_d)
CBCE__S32_FORWARD(cbce__softplus_steps, softplus_span_d)
/* no float64 steps: cbce__helper sends float64 data to the BCE-with-logits family */
CBCE__STEPS(cbce__sigmoid_steps, sigmoid_step_d, NULL,
            CBCE__S32_SPAN(cbce__sigmoid_steps, sigmoid_span_d), NULL);
CBCE__STEPS(cbce__log_sigmoid_steps, log_sigmoid_step_d, NULL,
            CBCE__S32_SPAN(cbce__log_sigmoid_steps, log_sigmoid_span_d), NULL);
CBCE__STEPS(cbce__softplus_steps, softplus_step_d, NULL,
            CBCE__S32_SPAN(cbce__softplus_steps, softplus_span_d), NULL);

#ifndef CBCE__ISA_VARIANT
CBCE__DECLARE_STEPS(cbce__sigmoid_steps);
CBCE__DECLARE_STEPS(cbce__log_sigmoid_steps);
CBCE__DECLARE_STEPS(cbce__softplus_steps);
static const cbce__family cbce__sigmoid = {CBCE__STEP_TABLES(cbce__sigmoid_steps), 0, 0};
static const cbce__family cbce__log_sigmoid = {CBCE__STEP_TABLES(cbce__log_sigmoid_steps), 0,
                                               0};
static const cbce__family cbce__softplus = {CBCE__STEP_TABLES(cbce__softplus_steps), 0, 0};

static const cbce__family *const helper_families[] = {&cbce__sigmoid, &cbce__log_sigmoid,
                                                      &cbce__softplus};

int cbce__helper(int which, int simd, int dtype, size_t n, const void *x, ptrdiff_t x_stride,
                 void *out, ptrdiff_t out_stride)
{
    cbce_args_t a;
    cbce__outputs o = {0};
    if (n > 0 && (x == NULL || out == NULL))
        return CBCE_ERR_NULL;
    if (n == 0)
        return CBCE_OK;
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.n = n;
    a.input = cbce_vector(x, dtype, n, x_stride);
    a.target = a.input;
    a.reduction = CBCE_REDUCTION_NONE;
    a.num_threads = 1;
    a.simd = simd;
    o.loss = out;
    o.loss_stride = out_stride;
    if (dtype == CBCE_F64) {
        static const double zero = 0.0, one = 1.0;
        a.target = cbce_scalar(which == CBCE__HELPER_LOG_SIGMOID ? &one : &zero, CBCE_F64);
        if (which == CBCE__HELPER_SIGMOID)
            return cbce__call(CBCE__FAMILY_bce_logits, CBCE__OP_BWD, dtype, &a, NULL, 0, NULL,
                              out, out_stride, NULL);
        return cbce__run(&cbce__families[CBCE__FAMILY_bce_logits], &a, dtype,
                         which == CBCE__HELPER_LOG_SIGMOID ? CBCE__LOSS | CBCE__NEG_LOSS
                                                           : CBCE__LOSS,
                         &o);
    }
    return cbce__run(helper_families[which], &a, dtype, CBCE__LOSS, &o);
}

#define CBCE__HELPER_API(WHICH, NAME, SFX, T, DT)                                        \
    int cbce_##NAME##_##SFX(size_t n, const T *x, ptrdiff_t x_stride, T *out,            \
                            ptrdiff_t out_stride)                                        \
    {                                                                                    \
        return cbce__helper(CBCE__HELPER_##WHICH, CBCE_SIMD_AUTO, DT, n, x, x_stride,   \
                            out, out_stride);                                            \
    }

CBCE__HELPER_API(SIGMOID, sigmoid, f32, float, CBCE_F32)
CBCE__HELPER_API(SIGMOID, sigmoid, f64, double, CBCE_F64)
CBCE__HELPER_API(LOG_SIGMOID, log_sigmoid, f32, float, CBCE_F32)
CBCE__HELPER_API(LOG_SIGMOID, log_sigmoid, f64, double, CBCE_F64)
CBCE__HELPER_API(SOFTPLUS, softplus, f32, float, CBCE_F32)
CBCE__HELPER_API(SOFTPLUS, softplus, f64, double, CBCE_F64)

#endif /* CBCE__ISA_VARIANT */
