/*
 * driver.c -- the one driver behind every loss: validation, loads, stores and the
 * deterministic reduction (see the design note in internal.h).
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"

/* ---- double-double arithmetic (Dekker 1971, Knuth TAOCP 4.2.2) ---------------------- */

typedef struct { double hi, lo; } cbce__dd;

static inline cbce__dd dd_two_sum(double a, double b)
{
    cbce__dd r;
    double bb;
    r.hi = a + b;
    bb = r.hi - a;
    r.lo = (a - (r.hi - bb)) + (b - bb);
    return r;
}

static inline cbce__dd dd_add(cbce__dd a, cbce__dd b)
{
    cbce__dd s = dd_two_sum(a.hi, b.hi);
    s.lo += a.lo + b.lo;
    return dd_two_sum(s.hi, s.lo);
}

/* Exact product a*b = hi + lo by Dekker's split (no FMA needed, same bits everywhere). */
static inline cbce__dd dd_two_prod(double a, double b)
{
    const double split = 134217729.0; /* 2^27 + 1 */
    double ca = split * a, cb = split * b;
    double ah = ca - (ca - a), al = a - ah;
    double bh = cb - (cb - b), bl = b - bh;
    cbce__dd r;
    r.hi = a * b;
    r.lo = ((ah * bh - r.hi) + ah * bl + al * bh) + al * bl;
    return r;
}

/* (a.hi + a.lo) / (b.hi + b.lo), one correction step: error well below 2^-100 relative. */
static inline double dd_div(cbce__dd a, cbce__dd b)
{
    double q = a.hi / b.hi;
    cbce__dd p;
    double r;
    if (!isfinite(q) || q == 0)
        return (a.hi + a.lo) / (b.hi + b.lo);
    p = dd_two_prod(q, b.hi);
    r = ((a.hi - p.hi) - p.lo + a.lo - q * b.lo) / b.hi;
    return q + r;
}

/* ---- loads and stores ----------------------------------------------------------------- */

/* dst[k] = element i0 + k of op, as double; fill with dflt where op is absent. */
static void load(const cbce_operand_t *op, size_t i0, size_t c, double *dst, double dflt)
{
    size_t k;
    if (op->data == NULL) {
        for (k = 0; k < c; k++)
            dst[k] = dflt;
        return;
    }
#define CBCE__LOAD(CT)                                                                   \
    {                                                                                    \
        const CT *base = (const CT *)op->data;                                           \
        if (op->repeat == 1 && op->period >= i0 + c) {                                   \
            const CT *src = base + (ptrdiff_t)i0 * op->stride;                           \
            if (op->stride == 1)                                                         \
                for (k = 0; k < c; k++)                                                  \
                    dst[k] = (double)src[k];                                             \
            else                                                                         \
                for (k = 0; k < c; k++)                                                  \
                    dst[k] = (double)src[(ptrdiff_t)k * op->stride];                     \
        } else {                                                                         \
            size_t j = (i0 / op->repeat) % op->period, r = i0 % op->repeat;              \
            for (k = 0; k < c; k++) {                                                    \
                dst[k] = (double)base[(ptrdiff_t)j * op->stride];                        \
                if (++r == op->repeat) {                                                 \
                    r = 0;                                                               \
                    if (++j == op->period)                                               \
                        j = 0;                                                           \
                }                                                                        \
            }                                                                            \
        }                                                                                \
    }                                                                                    \
    break;
    switch (op->dtype) {
    case CBCE_F32: CBCE__LOAD(float)
    case CBCE_F64: CBCE__LOAD(double)
    case CBCE_U8:
    case CBCE_BOOL: CBCE__LOAD(uint8_t)
    case CBCE_I8: CBCE__LOAD(int8_t)
    default: break;
    }
#undef CBCE__LOAD
}

static void store(void *dst, int dtype, ptrdiff_t stride, size_t i0, size_t c,
                  const double *src)
{
    size_t k;
    if (dtype == CBCE_F32) {
        float *d = (float *)dst + (ptrdiff_t)i0 * stride;
        for (k = 0; k < c; k++)
            d[(ptrdiff_t)k * stride] = (float)src[k];
    } else {
        double *d = (double *)dst + (ptrdiff_t)i0 * stride;
        for (k = 0; k < c; k++)
            d[(ptrdiff_t)k * stride] = src[k];
    }
}

static void store_result(void *dst, int dtype, double v)
{
    if (dtype == CBCE_F32)
        *(float *)dst = (float)v;
    else
        *(double *)dst = v;
}

/* ---- validation ----------------------------------------------------------------------- */

static int check_operand(const cbce_operand_t *op, int dtype, int required, size_t n)
{
    if (op->data == NULL)
        return (required && n > 0) ? CBCE_ERR_NULL : CBCE_OK;
    if (op->period < 1 || op->repeat < 1)
        return CBCE_ERR_SHAPE;
    if (dtype >= 0 && op->dtype != dtype)
        return CBCE_ERR_DTYPE;
    if (op->dtype < CBCE_F32 || op->dtype > CBCE_BOOL)
        return CBCE_ERR_DTYPE;
    return CBCE_OK;
}

/* Sum of the n broadcast weights, in double-double.  When n is a whole number of cycles
 * each of the `period` values appears n / period times, so one cycle is summed. */
static cbce__dd weight_sum(const cbce_operand_t *op, size_t n)
{
    double buf[CBCE__CHUNK];
    cbce__dd s = {0.0, 0.0};
    cbce_operand_t one = *op;
    size_t i0, k, count = n;
    if (op->data == NULL) {
        s.hi = (double)n;
        s.lo = (double)(n - (size_t)s.hi);
        return s;
    }
    if (op->period <= n && n / op->period >= op->repeat && n % (op->period * op->repeat) == 0) {
        count = op->period;
        one.repeat = 1;
    }
    for (i0 = 0; i0 < count; i0 += CBCE__CHUNK) {
        size_t c = count - i0 < CBCE__CHUNK ? count - i0 : CBCE__CHUNK;
        load(&one, i0, c, buf, 1.0);
        for (k = 0; k < c; k++)
            s = dd_add(s, dd_two_sum(buf[k], 0.0));
    }
    if (count != n) {
        double f = (double)(n / count);
        s = dd_add(dd_two_prod(s.hi, f), dd_two_prod(s.lo, f));
    }
    return s;
}

/* ---- the driver ------------------------------------------------------------------------ */

int cbce__run(const cbce__family *f, const cbce_args_t *a, int dtype, int want,
              const cbce__outputs *o)
{
    double xb[CBCE__CHUNK], tb[CBCE__CHUNK], pb[CBCE__CHUNK], wb[CBCE__CHUNK];
    double mb[CBCE__CHUNK], lb[CBCE__CHUNK], gb[CBCE__CHUNK], hb[CBCE__CHUNK];
    cbce__dd stack[66]; /* pairwise tree over blocks: one entry per level */
    int top = 0, st, reduced;
    size_t n, b0, nblock = 0;
    cbce__consts k;
    cbce__step_fn step;
    cbce__dd wsum = {0.0, 0.0}, total = {0.0, 0.0};
    double gscale = 1.0, go = 1.0;

    if (a == NULL || o == NULL)
        return CBCE_ERR_NULL;
    n = a->n;
    if (a->reduction < CBCE_REDUCTION_NONE || a->reduction > CBCE_REDUCTION_WEIGHTED_MEAN)
        return CBCE_ERR_REDUCTION;
    reduced = (want & CBCE__LOSS) && a->reduction != CBCE_REDUCTION_NONE;
    if (!(a->label_smoothing >= 0.0 && a->label_smoothing <= 1.0))
        return CBCE_ERR_SMOOTHING;
    if (f->takes_focal) {
        if (!(a->gamma >= 0.0) || isinf(a->gamma))
            return CBCE_ERR_GAMMA;
        if (isinf(a->alpha))
            return CBCE_ERR_ALPHA;
    }
    if ((st = check_operand(&a->input, dtype, 1, n)) != CBCE_OK ||
        (st = check_operand(&a->target, -1, 1, n)) != CBCE_OK ||
        (st = check_operand(&a->weight, dtype, 0, n)) != CBCE_OK ||
        (st = check_operand(&a->pos_weight, dtype, 0, n)) != CBCE_OK ||
        (st = check_operand(&a->grad_output, dtype, 0, n)) != CBCE_OK)
        return st;
    if (a->pos_weight.data != NULL && !f->takes_pos_weight)
        return CBCE_ERR_NULL;
    if ((want & CBCE__LOSS) && (reduced ? o->result == NULL : (o->loss == NULL && n > 0)))
        return CBCE_ERR_NULL;
    if (((want & CBCE__GRAD) && o->grad == NULL && n > 0) ||
        ((want & CBCE__HESS) && o->hess == NULL && n > 0))
        return CBCE_ERR_NULL;

    k.keep = 1.0 - a->label_smoothing;
    k.half = 0.5 * a->label_smoothing;
    k.alpha = a->alpha;
    k.has_alpha = !isnan(a->alpha);
    k.gamma = a->gamma;
    step = dtype == CBCE_F32 ? f->step_d : f->step_x;

    if (a->reduction == CBCE_REDUCTION_WEIGHTED_MEAN)
        wsum = weight_sum(&a->weight, n);
    if (want & (CBCE__GRAD | CBCE__HESS)) {
        /* A reduced loss's gradient is scaled by grad_output (element 0) / denominator. */
        if (a->reduction != CBCE_REDUCTION_NONE && a->grad_output.data != NULL)
            load(&a->grad_output, 0, 1, &go, 1.0);
        if (a->reduction == CBCE_REDUCTION_MEAN)
            gscale = go / (double)n;
        else if (a->reduction == CBCE_REDUCTION_WEIGHTED_MEAN)
            gscale = go / (wsum.hi + wsum.lo);
        else if (a->reduction == CBCE_REDUCTION_SUM)
            gscale = go;
    }

    for (b0 = 0; b0 < n; b0 += CBCE_BLOCK) {
        size_t bend = n - b0 < CBCE_BLOCK ? n : b0 + CBCE_BLOCK, c0, j, lev;
        cbce__dd lane[CBCE__LANES], bsum;
        memset(lane, 0, sizeof lane);
        for (c0 = b0; c0 < bend; c0 += CBCE__CHUNK) {
            size_t c = bend - c0 < CBCE__CHUNK ? bend - c0 : CBCE__CHUNK;
            load(&a->input, c0, c, xb, 0.0);
            load(&a->target, c0, c, tb, 0.0);
            load(&a->pos_weight, c0, c, pb, 1.0);
            load(&a->weight, c0, c, wb, 1.0);
            if (want & (CBCE__GRAD | CBCE__HESS)) {
                if (a->reduction == CBCE_REDUCTION_NONE && a->grad_output.data != NULL) {
                    load(&a->grad_output, c0, c, mb, 1.0);
                    for (j = 0; j < c; j++)
                        mb[j] *= wb[j];
                } else {
                    for (j = 0; j < c; j++)
                        mb[j] = wb[j] * gscale;
                }
            }
            step(want, c, xb, tb, pb, wb, mb, &k, lb, gb, hb);
            if (reduced) {
                for (j = 0; j < c; j++) {
                    cbce__dd *ln = &lane[j % CBCE__LANES];
                    cbce__dd s = dd_two_sum(ln->hi, lb[j]);
                    ln->hi = s.hi;
                    ln->lo += s.lo;
                }
            } else if (want & CBCE__LOSS) {
                store(o->loss, dtype, o->loss_stride, c0, c, lb);
            }
            if (want & CBCE__GRAD)
                store(o->grad, dtype, o->grad_stride, c0, c, gb);
            if (want & CBCE__HESS)
                store(o->hess, dtype, o->hess_stride, c0, c, hb);
        }
        if (!reduced)
            continue;
        /* Block sum: lanes combined pairwise, then pushed onto the block tree. */
        for (lev = 1; lev < CBCE__LANES; lev *= 2)
            for (j = 0; j + lev < CBCE__LANES; j += 2 * lev)
                lane[j] = dd_add(lane[j], lane[j + lev]);
        bsum = lane[0];
        stack[top++] = bsum;
        for (j = ++nblock; (j & 1) == 0; j >>= 1) {
            stack[top - 2] = dd_add(stack[top - 2], stack[top - 1]);
            top--;
        }
    }
    if (!reduced)
        return CBCE_OK;
    while (top > 0)
        total = dd_add(stack[--top], total);
    {
        cbce__dd den = {1.0, 0.0};
        double r;
        if (a->reduction == CBCE_REDUCTION_MEAN) {
            den.hi = (double)n;
            den.lo = (double)(n - (size_t)den.hi);
        } else if (a->reduction == CBCE_REDUCTION_WEIGHTED_MEAN) {
            den = wsum;
        }
        if (a->reduction == CBCE_REDUCTION_SUM)
            r = total.hi + total.lo;
        else if (n == 0)
            r = NAN;
        else
            r = dd_div(total, den);
        store_result(o->result, dtype, r);
    }
    return CBCE_OK;
}
