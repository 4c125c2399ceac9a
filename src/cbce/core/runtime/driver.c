/*
 * driver.c -- the one driver behind every loss: validation, loads, stores and the
 * deterministic reduction (see the design note in internal.h).
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "math/scalar.h"
#include "internal.h"
#include "runtime/pool.h"

typedef cbce__f2 cbce__dd;

#ifndef CBCE__ISA_VARIANT
/* a / (b.hi + b.lo) as a double-double (q + r, |r| <= ulp(q)) for 1 <= b.hi < 2^900,
 * formed at a * 2^s in [2^-800, 2^990] (where the product below is exact) and scaled back
 * (a low part on the subnormal grid keeps fewer bits); a zero, infinite or NaN a gives
 * a / b.hi. */
static cbce__dd dd_quot(double a, cbce__dd b)
{
    cbce__dd r, p;
    int s = fabs(a) < 0x1p-800 ? 600 : fabs(a) > 0x1p990 ? -100 : 0;
    double as = ldexp(a, s);
    r.hi = as / b.hi;
    r.lo = 0.0;
    if (a == 0 || !isfinite(a) || !(b.hi >= 1.0 && b.hi < 0x1p900)) {
        r.hi = a / (b.hi + b.lo);
        return r;
    }
    p = cbce__two_prod_inf(r.hi, b.hi);
    r.lo = ldexp(((as - p.hi) - p.lo - r.hi * b.lo) / b.hi, -s);
    r.hi = ldexp(r.hi, -s);
    return r;
}
#endif

/* ---- loads and stores ----------------------------------------------------------------- */

/* For k = 0 .. c-1: STMT with `at` the offset (in elements) of element i0 + k of op,
 * stepping through the period/repeat broadcast (cbce.h) without a division per element. */
#define CBCE__PERIODIC(op, i0, c, STMT)                                                  \
    {                                                                                    \
        size_t j_ = ((i0) / (op)->repeat) % (op)->period, r_ = (i0) % (op)->repeat;      \
        for (k = 0; k < (c); k++) {                                                      \
            ptrdiff_t at = (ptrdiff_t)j_ * (op)->stride;                                 \
            STMT;                                                                        \
            if (++r_ == (op)->repeat) {                                                  \
                r_ = 0;                                                                  \
                if (++j_ == (op)->period)                                                \
                    j_ = 0;                                                              \
            }                                                                            \
        }                                                                                \
    }

/* dst[k] = element i0 + k of op, as double; fill with dflt where op is absent. */
static void load(const cbce_operand_t *op, size_t i0, size_t c, double *dst, double dflt)
{
    size_t k;
    if (op->data == NULL) {
        for (k = 0; k < c; k++)
            dst[k] = dflt;
        return;
    }
/* A bool byte is true when it is not 0 (as NumPy and C read it), whatever its bits. */
#define CBCE__NUM(v) ((double)(v))
#define CBCE__TRUTH(v) ((double)((v) != 0))
#define CBCE__LOAD(CT, CV)                                                               \
    {                                                                                    \
        const CT *base = (const CT *)op->data;                                           \
        if (op->repeat == 1 && op->period >= i0 + c) {                                   \
            const CT *src = base + (ptrdiff_t)i0 * op->stride;                           \
            if (op->stride == 1)                                                         \
                for (k = 0; k < c; k++)                                                  \
                    dst[k] = CV(src[k]);                                                 \
            else                                                                         \
                for (k = 0; k < c; k++)                                                  \
                    dst[k] = CV(src[(ptrdiff_t)k * op->stride]);                         \
        } else {                                                                         \
            CBCE__PERIODIC(op, i0, c, dst[k] = CV(base[at]))                             \
        }                                                                                \
    }                                                                                    \
    break;
    switch (op->dtype) {
    case CBCE_F32: CBCE__LOAD(float, CBCE__NUM)
    case CBCE_F64: CBCE__LOAD(double, CBCE__NUM)
    case CBCE_U8: CBCE__LOAD(uint8_t, CBCE__NUM)
    case CBCE_BOOL: CBCE__LOAD(uint8_t, CBCE__TRUTH)
    case CBCE_I8: CBCE__LOAD(int8_t, CBCE__NUM)
    default: break;
    }
#undef CBCE__LOAD
#undef CBCE__NUM
#undef CBCE__TRUTH
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

#ifndef CBCE__ISA_VARIANT
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

/* Sum of the n broadcast weights times `scale` (a power of two), in double-double.  When n
 * is a whole number of cycles each of the `period` values appears n / period times, so one
 * cycle is summed. */
static cbce__dd weight_sum(const cbce_operand_t *op, size_t n, double scale)
{
    double buf[CBCE__CHUNK];
    cbce__dd s = {0.0, 0.0};
    cbce_operand_t one = *op;
    size_t i0, k, count = n;
    if (op->data == NULL) {
        s.hi = (double)n;
        s.lo = (double)(n - (size_t)s.hi);
        s.hi *= scale;
        s.lo *= scale;
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
            s = cbce__add_f2_inf(s, cbce__two_sum_inf(buf[k] * scale, 0.0));
    }
    if (count != n) {
        double f = (double)(n / count);
        s = cbce__add_f2_inf(cbce__two_prod_inf(s.hi, f), cbce__two_prod_inf(s.lo, f));
    }
    return s;
}

#endif /* CBCE__ISA_VARIANT */

/* ---- the driver ------------------------------------------------------------------------ */

/*
 * Work is cut into segments of whole blocks; threads take whole segments.  The reduced
 * loss is defined by one tree that depends on n only: block sums combined by a binary
 * counter (block 2k with 2k+1, then pairs of pairs, ...), the leftover partial subtrees
 * folded right to left at the end.  A segment is G blocks with G a power of two, so a
 * full segment is one complete subtree of that tree and its sum is the same whichever
 * thread computes it; the segment sums are then fed to the same binary counter.  The
 * result is bitwise identical for every thread count (and equal to a serial run).
 */
#define CBCE__MAX_SEGMENTS 256
#define CBCE__DOWN 0x1p-600 /* the scale of a sum's large terms (see cbce__run) */
#define CBCE__BIG 0x1p900   /* terms from here up are large (see cbce__run) */
#define CBCE__MIN_PER_THREAD 32768 /* below this many elements a thread does not pay */

struct cbce__job;
typedef void (*cbce__segment_fn)(struct cbce__job *J, size_t s);

typedef struct cbce__job {
    cbce__segment_fn segment; /* run_segment compiled for the chosen SIMD level */
    const cbce_args_t *a;
    const cbce__outputs *o;
    cbce__step_fn step;
    cbce__span_fn span;     /* the family's span kernel for this dtype and level, or NULL */
    cbce__consts k;
    int dtype, want, reduced;
    int neg;        /* the unreduced loss negated (CBCE__NEG_LOSS) */
    double gscale, gscale_lo; /* gradient multiplier grad_output / denominator, a pair */
    double wpre;    /* weights are multiplied by wpre before gscale (see cbce__run) */
    double lscale;  /* loss multiplier, a power of two (see cbce__run) */
    int dual;       /* also form the split sums (see cbce__run) */
    int second;     /* the second pass: only the split sums */
    size_t n, seg_blocks, nseg;
    cbce__dd seg_sum[CBCE__MAX_SEGMENTS]; /* sum of each full segment */
    cbce__dd tail[66];                    /* the last segment's partial subtrees */
    /* the split sums (dual): the small terms, and the large ones times CBCE__DOWN */
    cbce__dd seg_small[CBCE__MAX_SEGMENTS], tail_small[66];
    cbce__dd seg_big[CBCE__MAX_SEGMENTS], tail_big[66];
    int ntail;
} cbce__job;

/* Binary-counter push of the sum of block number `index` (0-based within its run). */
static void tree_push(cbce__dd *stack, int *top, cbce__dd v, size_t index)
{
    size_t j;
    stack[(*top)++] = v;
    for (j = index + 1; (j & 1) == 0; j >>= 1) {
        stack[*top - 2] = cbce__add_f2_inf(stack[*top - 2], stack[*top - 1]);
        (*top)--;
    }
}

/* The same value for every element: absent, or broadcast from one value. */
static int is_const(const cbce_operand_t *op)
{
    return op->data == NULL || op->period == 1;
}

/* The low part of a*b (a*b = RN(a*b) + lo): exact for products above 2^-969, within a few
 * 2^-1075 below (math/scalar.h's two_prod); 0 where an operand or the product reaches 2^995
 * (Dekker's split would overflow). */
static inline double prod_lo(double a, double b)
{
    cbce__f2 r = cbce__two_prod(a, b);
    return fabs(a) < 0x1p995 && fabs(b) < 0x1p995 && fabs(r.hi) < 0x1p995 ? r.lo : 0.0;
}

/* The gradient multipliers m + ml = weight * grad_output (unreduced, with a grad_output
 * array) or (weight * wpre) * (gscale + gscale_lo) (see cbce__run), for c elements from
 * i0; w the weights.  ml (the low part, which the float64 steps take into their one
 * rounding) is 0 for float32 data. */
static void multipliers(const struct cbce__job *J, size_t i0, size_t c, const double *w,
                        double *m, double *ml)
{
    size_t j;
    const cbce_args_t *a = J->a;
    int x = J->dtype == CBCE_F64;
    if (a->reduction == CBCE_REDUCTION_NONE && a->grad_output.data != NULL) {
        load(&a->grad_output, i0, c, m, 1.0);
        for (j = 0; j < c; j++) {
            ml[j] = x ? prod_lo(m[j], w[j]) : 0.0;
            m[j] *= w[j];
        }
    } else {
        for (j = 0; j < c; j++) {
            double u = w[j] * J->wpre;
            m[j] = u * J->gscale;
            ml[j] = x ? prod_lo(u, J->gscale) + u * J->gscale_lo : 0.0;
        }
    }
}

/*
 * Lane sums of a chunk: element j goes to lane j % LANES (chunks are whole multiples of
 * LANES, but the last).  float64 data: a two-sum per element (the lane keeps hi + lo).
 * float32 data (`plain`): plain double sums, 128 terms a lane per block, relative error
 * <= 2^-46, far below float32's 2^-24, at a sixth of the additions.  The lanes are
 * LANES/8 vectors of 8 doubles where the compiler has vector types (GCC, Clang): its loop
 * vectoriser does not see through the loop-carried lane accumulators and left them scalar
 * (1.2 ns/element); 32 lanes rather than 8 hide the latency of each vector's additions.
 */
#define CBCE__TWO_SUM_INTO(H, LO, V)                                                     \
    do {                                                                                 \
        h = (H) + (V);                                                                   \
        bb = h - (H);                                                                    \
        (LO) += ((H) - (h - bb)) + ((V) - bb);                                           \
        (H) = h;                                                                         \
    } while (0)

static void lane_sums(double *lhi, double *llo, const double *lb, size_t c, int plain)
{
    size_t j, l, cf = c - c % CBCE__LANES;
#if defined(__GNUC__) && CBCE__LANES % 8 == 0
    typedef double v8 __attribute__((vector_size(64)));
    enum { NV = CBCE__LANES / 8 };
    v8 H[NV], Lo[NV], v, h, bb;
    memcpy(H, lhi, sizeof H);
    memcpy(Lo, llo, sizeof Lo);
    for (j = 0; j < cf; j += CBCE__LANES)
        for (l = 0; l < NV; l++) {
            memcpy(&v, lb + j + 8 * l, sizeof v);
            if (plain)
                H[l] += v;
            else
                CBCE__TWO_SUM_INTO(H[l], Lo[l], v);
        }
    memcpy(lhi, H, sizeof H);
    memcpy(llo, Lo, sizeof Lo);
#else
    {
        double h, bb;
        for (j = 0; j < cf; j += CBCE__LANES)
            for (l = 0; l < CBCE__LANES; l++) {
                if (plain)
                    lhi[l] += lb[j + l];
                else
                    CBCE__TWO_SUM_INTO(lhi[l], llo[l], lb[j + l]);
            }
    }
#endif
    {
        double h, bb;
        for (l = 0; l < c - cf; l++) {
            if (plain)
                lhi[l] += lb[cf + l];
            else
                CBCE__TWO_SUM_INTO(lhi[l], llo[l], lb[cf + l]);
        }
    }
}
#undef CBCE__TWO_SUM_INTO

/* Block sum: lane j + h added into lane j for h = LANES/2, ..., 1 (dd_add on the hi/lo
 * arrays, so each level is one vectorised loop).  A lane that overflowed to inf has a NaN
 * low part (inf - inf), which must not turn the sum into NaN. */
static cbce__dd block_sum(double *lhi, double *llo)
{
    cbce__dd sum;
    size_t j, lev;
    for (j = 0; j < CBCE__LANES; j++)
        llo[j] = isinf(lhi[j]) ? 0.0 : llo[j];
    for (lev = CBCE__LANES / 2; lev >= 1; lev /= 2)
        for (j = 0; j < lev; j++) {
            double a = lhi[j], b = lhi[j + lev], h = a + b, bb = h - a;
            double lo = (a - (h - bb)) + (b - bb), h2, lo2;
            lo = (isinf(h) ? 0.0 : lo) + (llo[j] + llo[j + lev]);
            h2 = h + lo;
            bb = h2 - h;
            lo2 = (h - (h2 - bb)) + (lo - bb);
            lhi[j] = h2;
            llo[j] = isinf(h2) ? 0.0 : lo2;
        }
    sum.hi = lhi[0];
    sum.lo = llo[0];
    return sum;
}

/* Scratch of dual_sums. */
typedef struct cbce__dualbuf {
    double ws[CBCE__CHUNK], r[CBCE__CHUNK], small[CBCE__CHUNK], big[CBCE__CHUNK];
} cbce__dualbuf;

/*
 * The split sums of a chunk (see cbce__run): each loss l (the chunk's weighted losses,
 * weights w * lscale with w the raw weights) goes to the lanes sm (hi, lo) where |l| <
 * CBCE__BIG, else to the lanes bg at the scale min(lscale, 1) * CBCE__DOWN: l times
 * DOWN / max(lscale, 1) (exact: >= 2^300 / lscale, lscale <= 2^1000) where l is finite,
 * else the loss recomputed with the weights w * min(lscale, 1) * DOWN (finite there where
 * the weighted loss is), or l itself where that is NaN (an infinite loss times a weight
 * that vanishes at that scale: l is the limit).
 */
static void dual_sums(const cbce__job *J, size_t c, const double *x, const double *t,
                      const double *p, const double *w, const double *l, cbce__dualbuf *B,
                      double *sm_hi, double *sm_lo, double *bg_hi, double *bg_lo)
{
    size_t j;
    int over = 0, plain = J->dtype == CBCE_F32;
    double ls = J->lscale;
    for (j = 0; j < c; j++)
        over |= !isfinite(l[j]);
    if (over) {
        for (j = 0; j < c; j++)
            B->ws[j] = (ls > 1.0 ? w[j] : w[j] * ls) * CBCE__DOWN;
        J->step(CBCE__LOSS, c, x, t, p, B->ws, B->ws, B->ws, &J->k, B->r, B->big, B->big);
    }
    for (j = 0; j < c; j++) {
        double v = l[j], b = isfinite(v) ? (v * CBCE__DOWN) / (ls > 1.0 ? ls : 1.0)
                                         : (over && B->r[j] == B->r[j]) ? B->r[j] : v;
        int small = fabs(v) < CBCE__BIG;
        B->small[j] = small ? v : 0.0;
        B->big[j] = small ? 0.0 : b;
    }
    lane_sums(sm_hi, sm_lo, B->small, c, plain);
    lane_sums(bg_hi, bg_lo, B->big, c, plain);
}

/* The lane sums of a block: the reduced loss (l), and the split sums (s, b) when dual. */
typedef struct cbce__block_lanes {
    double lhi[CBCE__LANES], llo[CBCE__LANES];
    double shi[CBCE__LANES], slo[CBCE__LANES], bhi[CBCE__LANES], blo[CBCE__LANES];
} cbce__block_lanes;

/* A block's lane sums pushed on the segment's trees (st: the loss, the small and the big
 * sums). */
typedef struct cbce__trees {
    cbce__dd loss[66], small[66], big[66];
    int top, top_small, top_big;
} cbce__trees;

static void trees_push(const cbce__job *J, cbce__trees *T, cbce__block_lanes *b, size_t nb)
{
    if (J->dual) {
        tree_push(T->small, &T->top_small, block_sum(b->shi, b->slo), nb);
        tree_push(T->big, &T->top_big, block_sum(b->bhi, b->blo), nb);
    }
    tree_push(T->loss, &T->top, block_sum(b->lhi, b->llo), nb);
}

/* A segment's reduced blocks (nb of them, on the trees T) into the job. */
static void segment_done(cbce__job *J, size_t s, const cbce__trees *T, size_t nb)
{
    if (nb == J->seg_blocks) { /* a full segment is one complete subtree */
        J->seg_sum[s] = T->loss[0];
        J->seg_small[s] = T->small[0];
        J->seg_big[s] = T->big[0];
    } else {
        memcpy(J->tail, T->loss, (size_t)T->top * sizeof T->loss[0]);
        memcpy(J->tail_small, T->small, (size_t)T->top_small * sizeof T->small[0]);
        memcpy(J->tail_big, T->big, (size_t)T->top_big * sizeof T->big[0]);
        J->ntail = T->top;
    }
}

/* First and one-past-last element of segment s. */
static void segment_range(const cbce__job *J, size_t s, size_t *first, size_t *last)
{
    *first = s * J->seg_blocks * CBCE_BLOCK;
    *last = *first + J->seg_blocks * CBCE_BLOCK;
    if (*last > J->n || *last < *first)
        *last = J->n;
}

/* Elements i0 .. i0+c-1 of op lie contiguous in its memory, from element i0 % period. */
static int contiguous_run(const cbce_operand_t *op, size_t i0, size_t c)
{
    return op->stride == 1 && op->repeat == 1 && i0 % op->period + c <= op->period;
}

/* Elements i0 .. i0+c-1 of op as doubles: a float64 operand's own memory where they are
 * contiguous there and `copy` is 0, else loaded into buf (dflt where op is absent). */
static const double *chunk_operand(const cbce_operand_t *op, size_t i0, size_t c,
                                   double *buf, double dflt, int copy)
{
    if (!copy && op->data != NULL && op->dtype == CBCE_F64 && contiguous_run(op, i0, c))
        return (const double *)op->data + i0 % op->period;
    load(op, i0, c, buf, dflt);
    return buf;
}

/*
 * run_segment, one segment: load -> step -> store (and the lane sums) over its blocks (a
 * contiguous float64 input and target read in place, chunk_operand).  This
 * function is compiled once per SIMD level like the compute steps (internal.h (d)), so its
 * loads, conversions, lane sums and stores use the same vector width as the step.
 */
static void run_segment(cbce__job *J, size_t s)
{
    const cbce_args_t *a = J->a;
    const cbce__outputs *o = J->o;
    double xb[CBCE__CHUNK], tb[CBCE__CHUNK], pb[CBCE__CHUNK], wb[CBCE__CHUNK];
    double wl[CBCE__CHUNK], mb[CBCE__CHUNK], mlb[CBCE__CHUNK], lb[CBCE__CHUNK];
    double gb[CBCE__CHUNK], hb[CBCE__CHUNK];
    cbce__dualbuf dbuf;
    cbce__trees T;
    int want = J->want;
    int pconst = is_const(&a->pos_weight), wconst = is_const(&a->weight);
    int mconst = !(a->reduction == CBCE_REDUCTION_NONE && a->grad_output.data != NULL) ||
                 is_const(&a->grad_output);
    size_t j, nfill, b0, nb = 0, first, last;
    T.top = T.top_small = T.top_big = 0;
    segment_range(J, s, &first, &last);
    /* Operands that are the same for every element (absent, or broadcast from one value)
     * are loaded once per segment, not once per chunk.  wb holds the raw weights, wl the
     * loss multipliers weight * lscale. */
    nfill = last - first < CBCE__CHUNK ? last - first : CBCE__CHUNK;
    if (pconst)
        load(&a->pos_weight, 0, nfill, pb, 1.0);
    if (wconst) {
        load(&a->weight, 0, nfill, wb, 1.0);
        if (mconst && (want & (CBCE__GRAD | CBCE__HESS)))
            multipliers(J, 0, nfill, wb, mb, mlb);
        for (j = 0; j < nfill; j++)
            wl[j] = wb[j] * J->lscale;
    }
    for (b0 = first; b0 < last; b0 += CBCE_BLOCK) {
        size_t bend = last - b0 < CBCE_BLOCK ? last : b0 + CBCE_BLOCK, c0;
        cbce__block_lanes L;
        memset(&L, 0, sizeof L);
        for (c0 = b0; c0 < bend; c0 += CBCE__CHUNK) {
            size_t c = bend - c0 < CBCE__CHUNK ? bend - c0 : CBCE__CHUNK;
            /* in place, the kernel reads operands the outputs may overwrite (store
             * below, after it); dual_sums reads them after that, so takes copies */
            const double *xs = chunk_operand(&a->input, c0, c, xb, 0.0, J->dual);
            const double *ts = chunk_operand(&a->target, c0, c, tb, 0.0, J->dual);
            if (!pconst)
                load(&a->pos_weight, c0, c, pb, 1.0);
            if (!wconst) {
                load(&a->weight, c0, c, wb, 1.0);
                if (want & (CBCE__GRAD | CBCE__HESS))
                    multipliers(J, c0, c, wb, mb, mlb);
                for (j = 0; j < c; j++)
                    wl[j] = wb[j] * J->lscale;
            } else if (!mconst) {
                multipliers(J, c0, c, wb, mb, mlb); /* lscale is 1 when reduction is none */
            }
            J->step(want, c, xs, ts, pb, wl, mb, mlb, &J->k, lb, gb, hb);
            if (J->reduced && !J->second) {
                lane_sums(L.lhi, L.llo, lb, c, J->dtype == CBCE_F32);
            } else if ((want & CBCE__LOSS) && !J->reduced) {
                store(o->loss, J->dtype, o->loss_stride, c0, c, lb);
            }
            if (want & CBCE__GRAD)
                store(o->grad, J->dtype, o->grad_stride, c0, c, gb);
            if (want & CBCE__HESS)
                store(o->hess, J->dtype, o->hess_stride, c0, c, hb);
            if (J->dual) /* from the chunk's copies, not the (maybe overwritten) input */
                dual_sums(J, c, xs, ts, pb, wb, lb, &dbuf, L.shi, L.slo, L.bhi, L.blo);
        }
        if (J->reduced)
            trees_push(J, &T, &L, nb++);
    }
    if (J->reduced)
        segment_done(J, s, &T, nb);
}

/* run_segment under this level's name (cbce__run_segment_avx2, ...) for segment_table. */
void CBCE__ISA_NAME(cbce__run_segment)(cbce__job *J, size_t s);
void CBCE__ISA_NAME(cbce__run_segment)(cbce__job *J, size_t s)
{
    run_segment(J, s);
}

#ifndef CBCE__ISA_VARIANT

#if CBCE__HAVE_X86_VARIANTS
void cbce__run_segment_scalar(cbce__job *, size_t), cbce__run_segment_avx2(cbce__job *, size_t),
    cbce__run_segment_avx512(cbce__job *, size_t);
static const cbce__segment_fn segment_table[CBCE__NLEVELS] = {
    NULL, cbce__run_segment_scalar, cbce__run_segment_baseline, cbce__run_segment_avx2,
    cbce__run_segment_avx512};
#elif CBCE__HAVE_VARIANTS
void cbce__run_segment_scalar(cbce__job *, size_t);
static const cbce__segment_fn segment_table[CBCE__NLEVELS] = {
    NULL, cbce__run_segment_scalar, cbce__run_segment_baseline, NULL, NULL};
#else
static const cbce__segment_fn segment_table[CBCE__NLEVELS] = {
    NULL, cbce__run_segment_baseline, cbce__run_segment_baseline, NULL, NULL};
#endif

/* ---- the span path (internal.h (e)) ---------------------------------------------------- */

static size_t dtype_size(int dtype)
{
    return dtype == CBCE_F64 ? 8 : dtype == CBCE_F32 ? 4 : 1;
}

/* Elements i0 .. i0+c-1 of op in its own dtype: op's own memory where they are
 * contiguous there and `copy` is 0, else copied bit for bit into buf. */
static const void *span_operand(const cbce_operand_t *op, size_t i0, size_t c, void *buf,
                                int copy)
{
    size_t sz = dtype_size(op->dtype), k;
    if (!copy && contiguous_run(op, i0, c))
        return (const char *)op->data + (i0 % op->period) * sz;
#define CBCE__GATHER(CT)                                                                 \
    {                                                                                    \
        const CT *base = (const CT *)op->data;                                           \
        CT *dst = (CT *)buf;                                                             \
        CBCE__PERIODIC(op, i0, c, dst[k] = base[at])                                     \
    }
    if (sz == 8)
        CBCE__GATHER(uint64_t)
    else if (sz == 4)
        CBCE__GATHER(uint32_t)
    else
        CBCE__GATHER(uint8_t)
#undef CBCE__GATHER
    return buf;
}

/* Where the kernel writes elements i0.. of an output: the output itself when contiguous. */
static void *span_out(void *dst, int dtype, ptrdiff_t stride, size_t i0, void *buf)
{
    return stride == 1 ? (char *)dst + i0 * dtype_size(dtype) : buf;
}

/* Copy c elements written into buf out to dst (nothing when the kernel wrote dst). */
static void span_scatter(void *dst, int dtype, ptrdiff_t stride, size_t i0, size_t c,
                         const void *buf)
{
    size_t k;
    if (stride == 1)
        return;
    if (dtype == CBCE_F32) {
        float *d = (float *)dst + (ptrdiff_t)i0 * stride;
        for (k = 0; k < c; k++)
            d[(ptrdiff_t)k * stride] = ((const float *)buf)[k];
    } else {
        double *d = (double *)dst + (ptrdiff_t)i0 * stride;
        for (k = 0; k < c; k++)
            d[(ptrdiff_t)k * stride] = ((const double *)buf)[k];
    }
}

/* The value of an operand that is one value for every element (is_const). */
static double const_value(const cbce_operand_t *op, double dflt)
{
    double v;
    load(op, 0, 1, &v, dflt);
    return v;
}

/* c elements from element i of a contiguous buffer of dtype `dtype`, as doubles. */
static void load_buffer(const void *buf, int dtype, size_t i, size_t c, double *dst)
{
    cbce_operand_t op;
    op.data = (const char *)buf + i * dtype_size(dtype);
    op.dtype = dtype;
    op.stride = 1;
    op.period = c;
    op.repeat = 1;
    load(&op, 0, c, dst, 0.0);
}

/* The split sums (dual_sums) of a span whose operands S holds as copies: the weighted
 * losses at scale 1 from the span kernel (float64 data: the same terms as its reduced
 * sums) or the chunk step (float32 data: in double, not rounded to float), in chunks. */
static void span_dual(const cbce__job *J, const cbce__span *S, const cbce__span_consts *k,
                      cbce__block_lanes *L)
{
    double x[CBCE__CHUNK], t[CBCE__CHUNK], p[CBCE__CHUNK], w[CBCE__CHUNK], wl[CBCE__CHUNK];
    double l64[CBCE__SPAN];
    cbce__dualbuf B;
    size_t i, j;
    if (J->dtype == CBCE_F64) {
        cbce__span S1 = *S;
        S1.l = l64;
        S1.g = S1.h = NULL;
        S1.go = NULL;
        J->span(CBCE__LOSS, 0, &S1, k);
    }
    for (i = 0; i < S->c; i += CBCE__CHUNK) {
        size_t c = S->c - i < CBCE__CHUNK ? S->c - i : CBCE__CHUNK;
        load_buffer(S->x, J->dtype, i, c, x);
        for (j = 0; j < c; j++) {
            t[j] = k->tk;
            p[j] = k->pk;
            w[j] = k->wk;
        }
        if (S->t)
            load_buffer(S->t, S->tdtype, i, c, t);
        if (S->p)
            load_buffer(S->p, J->dtype, i, c, p);
        if (S->w)
            load_buffer(S->w, J->dtype, i, c, w);
        if (J->dtype != CBCE_F64) {
            for (j = 0; j < c; j++)
                wl[j] = w[j] * J->lscale;
            J->step(CBCE__LOSS, c, x, t, p, wl, wl, wl, &J->k, l64 + i, B.r, B.r);
        }
        dual_sums(J, c, x, t, p, w, l64 + i, &B, L->shi, L->slo, L->bhi, L->blo);
    }
}

/* One segment on the span kernel: spans of CBCE__SPAN within each block. */
static void run_span_segment(cbce__job *J, size_t s)
{
    typedef union { double d[CBCE__SPAN]; uint64_t u; } buf_t; /* aligned for any dtype */
    buf_t xb, tb, pb, wb, gob, lb, gb, hb;
    const cbce_args_t *a = J->a;
    const cbce__outputs *o = J->o;
    cbce__span_consts k;
    cbce__trees T;
    int want = J->want;
    int tconst = is_const(&a->target), pconst = is_const(&a->pos_weight);
    int wconst = is_const(&a->weight);
    int goarr = a->reduction == CBCE_REDUCTION_NONE && !is_const(&a->grad_output);
    size_t b0, nb = 0, first, last;
    T.top = T.top_small = T.top_big = 0;
    segment_range(J, s, &first, &last);
    k.keep = J->k.keep;
    k.half = J->k.half;
    k.eps = J->k.eps;
    k.tk = const_value(&a->target, 0.0);
    k.pk = const_value(&a->pos_weight, 1.0);
    k.wk = const_value(&a->weight, 1.0);
    k.lscale = J->lscale;
    k.wpre = J->wpre;
    k.gscale = J->gscale;
    k.gscale_lo = J->gscale_lo;
    memcpy(k.par, J->k.par, sizeof k.par);
    k.lneg = J->neg;
    if (a->reduction == CBCE_REDUCTION_NONE && !goarr)
        k.gscale = const_value(&a->grad_output, 1.0);
    for (b0 = first; b0 < last; b0 += CBCE_BLOCK) {
        size_t bend = last - b0 < CBCE_BLOCK ? last : b0 + CBCE_BLOCK, c0;
        cbce__block_lanes L;
        memset(&L, 0, sizeof L);
        for (c0 = b0; c0 < bend; c0 += CBCE__SPAN) {
            cbce__span S;
            S.c = bend - c0 < CBCE__SPAN ? bend - c0 : CBCE__SPAN;
            S.x = span_operand(&a->input, c0, S.c, &xb, J->dual);
            S.t = tconst ? NULL : span_operand(&a->target, c0, S.c, &tb, J->dual);
            S.tdtype = a->target.dtype;
            S.p = pconst ? NULL : span_operand(&a->pos_weight, c0, S.c, &pb, J->dual);
            S.w = wconst ? NULL : span_operand(&a->weight, c0, S.c, &wb, J->dual);
            S.go = goarr && (want & (CBCE__GRAD | CBCE__HESS))
                       ? span_operand(&a->grad_output, c0, S.c, &gob, J->dual)
                       : NULL;
            S.l = (want & CBCE__LOSS) && !J->reduced
                      ? span_out(o->loss, J->dtype, o->loss_stride, c0, &lb)
                      : NULL;
            S.g = want & CBCE__GRAD ? span_out(o->grad, J->dtype, o->grad_stride, c0, &gb)
                                    : NULL;
            S.h = want & CBCE__HESS ? span_out(o->hess, J->dtype, o->hess_stride, c0, &hb)
                                    : NULL;
            S.lanes = L.lhi;
            S.lanes_lo = L.llo;
            if (!J->second)
                J->span(want, J->reduced, &S, &k);
            if (S.l)
                span_scatter(o->loss, J->dtype, o->loss_stride, c0, S.c, S.l);
            if (S.g)
                span_scatter(o->grad, J->dtype, o->grad_stride, c0, S.c, S.g);
            if (S.h)
                span_scatter(o->hess, J->dtype, o->hess_stride, c0, S.c, S.h);
            if (J->dual) /* from the copied operands, not the (maybe overwritten) input */
                span_dual(J, &S, &k, &L);
        }
        if (J->reduced)
            trees_push(J, &T, &L, nb++);
    }
    if (J->reduced)
        segment_done(J, s, &T, nb);
}

/* One pool task: segment s of the job. */
static void segment_task(void *ctx, size_t s)
{
    cbce__job *J = (cbce__job *)ctx;
    J->segment(J, s);
}

/*
 * The segments run on the persistent pool (pool.c: workers started on first use, asleep
 * between calls, reset after fork(); a busy pool or a failed thread start leaves the work
 * to the calling thread).  Threads are used only where each gets CBCE__MIN_PER_THREAD
 * elements or more; which thread runs a segment does not change any bit of the result.
 */
static void run_all(cbce__job *J, int nthreads)
{
    size_t nt = (size_t)(nthreads > 1 ? nthreads : 1);
    if (nt > CBCE__POOL_MAX_THREADS)
        nt = CBCE__POOL_MAX_THREADS;
    if (nt > J->nseg)
        nt = J->nseg;
    if (nt > J->n / CBCE__MIN_PER_THREAD)
        nt = J->n / CBCE__MIN_PER_THREAD;
    if (nt < 1)
        nt = 1;
    cbce__pool_run(segment_task, J, J->nseg, (int)nt);
}

/* The reduced sum of the segments (seg_sum and tail: J's sums or their dual), by the
 * tree described above. */
static cbce__dd combine(const cbce__job *J, const cbce__dd *seg_sum, const cbce__dd *tail)
{
    cbce__dd stack[66 + 66], total = {0.0, 0.0};
    int top = 0, i;
    size_t s, nfull = J->ntail > 0 ? J->nseg - 1 : J->nseg;
    for (s = 0; s < nfull; s++)
        tree_push(stack, &top, seg_sum[s], s);
    for (i = 0; i < J->ntail; i++)
        stack[top++] = tail[i];
    while (top > 0)
        total = cbce__add_f2_inf(stack[--top], total);
    return total;
}

/* The bytes an operand of n elements spans: [*lo, *hi). */
static void span(const void *data, size_t size, ptrdiff_t stride, size_t count, uintptr_t *lo,
                 uintptr_t *hi)
{
    uintptr_t p = (uintptr_t)data, ext = count > 1 ? (count - 1) * size : 0;
    ext *= (uintptr_t)(stride < 0 ? -stride : stride);
    *lo = stride < 0 ? p - ext : p;
    *hi = (stride < 0 ? p : p + ext) + size;
}

/* Whether the n-element output at `out` (dtype size `size`) may share a byte with an
 * operand the loss reads. */
static int output_overlaps_operands(const cbce_args_t *a, const void *out, ptrdiff_t stride,
                                    size_t size)
{
    const cbce_operand_t *ops[5];
    uintptr_t olo, ohi, lo, hi;
    int i;
    ops[0] = &a->input, ops[1] = &a->target, ops[2] = &a->weight, ops[3] = &a->pos_weight;
    ops[4] = &a->grad_output;
    span(out, size, stride, a->n, &olo, &ohi);
    for (i = 0; i < 5; i++) {
        const cbce_operand_t *op = ops[i];
        size_t count = op->period < a->n ? op->period : a->n;
        if (op->data == NULL)
            continue;
        span(op->data, op->dtype == CBCE_F64 ? 8 : op->dtype == CBCE_F32 ? 4 : 1, op->stride,
             count, &lo, &hi);
        if (lo < ohi && olo < hi)
            return 1;
    }
    return 0;
}

/*
 * Overflow.  A mean of finite losses is finite even where their sum (or the sum of the
 * weights) overflows, and a sum with weights of both signs can be finite even where some
 * lanes overflow to +inf and others to -inf (NaN), or where such terms cancel exactly and
 * leave terms 10^500 times smaller: whenever the total is not finite, the sum is formed
 * once more as two sums (dual_sums): the terms below CBCE__BIG = 2^900 at their own scale
 * (their sum cannot overflow), and the larger ones (overflowed ones recomputed) times
 * CBCE__DOWN = 2^-600, where they are >= 2^300 and finite.  The result is the small sum if
 * the large one is 0 (its terms cancelled), else the large sum plus the small one times
 * DOWN, scaled back (the small sum is then below the large one's last bit, or its terms
 * are).  Only such calls (and those with NaN data, which stay NaN) pay the second pass.
 * A call whose gradient output overlaps an operand cannot read its data twice (the
 * gradient has overwritten it): it forms the two sums in its one pass (`dual`), with the
 * same bits as the second pass.
 *
 * Reduced gradients: grad_output / denominator (n or the weight sum) is carried as a
 * double-double (gscale + gscale_lo), so that the float64 kernels round weight *
 * grad_output / denominator * d once.
 *
 * A shard (a->mean_denominator set): the given denominator takes the place of n or of the
 * weight sum everywhere above and below, so each element's multiplier, and with it its
 * gradient, is the one the call on the whole array forms.
 *
 * weighted_mean: the weights are scaled by a power of two S that brings their sum into
 * [1, 2) (or above 2^-75 for a subnormal sum; exact, bit for bit the unscaled result wherever
 * that neither under- nor
 * overflows), so that neither 1 / sum for the gradient nor weight * loss is lost to the
 * ends of the exponent range (a subnormal weight sum gave infinite gradients).
 */

/* Whether parameter v is in its registry.h range. */
static int param_ok(double v, double lo, double hi, int kind)
{
    if (kind == CBCE__OR_NAN && isnan(v))
        return 1;
    return v >= lo && (kind == CBCE__HALF_OPEN ? v < hi : v <= hi);
}

int cbce__check_params(const cbce__family *f, const cbce_args_t *a)
{
    if (a->reduction < CBCE_REDUCTION_NONE || a->reduction > CBCE_REDUCTION_WEIGHTED_MEAN)
        return CBCE_ERR_REDUCTION;
#define CBCE__CHECK_PARAM(name, status, lo, hi, kind, message)                           \
    if ((f->params >> CBCE__PARAM_##name & 1u) && !param_ok(a->name, lo, hi, kind))      \
        return status;
    CBCE__PARAMS(CBCE__CHECK_PARAM)
#undef CBCE__CHECK_PARAM
    return CBCE_OK;
}

int cbce__check(const cbce__family *f, const cbce_args_t *a, int dtype, int want,
                const cbce__outputs *o)
{
    int st, reduced;
    size_t n;
    if (a == NULL || o == NULL)
        return CBCE_ERR_NULL;
    n = a->n;
    if ((st = cbce__check_params(f, a)) != CBCE_OK)
        return st;
    if ((st = check_operand(&a->input, dtype, 1, n)) != CBCE_OK ||
        (st = check_operand(&a->target, -1, 1, n)) != CBCE_OK ||
        (st = check_operand(&a->weight, dtype, 0, n)) != CBCE_OK ||
        (st = check_operand(&a->pos_weight, dtype, 0, n)) != CBCE_OK ||
        (st = check_operand(&a->grad_output, -1, 0, n)) != CBCE_OK)
        return st;
    /* grad_output may be float32 or float64 for either precision (read as a double) */
    if (a->grad_output.data != NULL && a->grad_output.dtype != CBCE_F32 &&
        a->grad_output.dtype != CBCE_F64)
        return CBCE_ERR_DTYPE;
    if (a->pos_weight.data != NULL && !(f->operands & CBCE__TAKES_POS_WEIGHT))
        return CBCE_ERR_OPERAND;
    reduced = (want & CBCE__LOSS) && a->reduction != CBCE_REDUCTION_NONE;
    if ((want & CBCE__LOSS) && (reduced ? o->result == NULL : (o->loss == NULL && n > 0)))
        return CBCE_ERR_NULL;
    if (((want & CBCE__GRAD) && o->grad == NULL && n > 0) ||
        ((want & CBCE__HESS) && o->hess == NULL && n > 0))
        return CBCE_ERR_NULL;
    return CBCE_OK;
}

int cbce__run(const cbce__family *f, const cbce_args_t *a, int dtype, int want,
              const cbce__outputs *o)
{
    cbce__job J;
    int st, down = 0; /* whether the losses are already scaled by CBCE__DOWN */
    size_t n, nblocks;
    cbce__dd wsum = {0.0, 0.0}, count, given;
    int shard; /* a->mean_denominator replaces n or the weight sum */

    if ((st = cbce__check(f, a, dtype, want, o)) != CBCE_OK)
        return st;
    n = a->n;
    shard = a->mean_denominator != 0.0;
    given.hi = a->mean_denominator;
    given.lo = a->mean_denominator_lo;
    count.hi = (double)n;
    count.lo = (double)(n - (size_t)count.hi);
    if (shard)
        count = given;
    J.reduced = (want & CBCE__LOSS) && a->reduction != CBCE_REDUCTION_NONE;
    J.dual = J.reduced && (want & CBCE__GRAD) && n > 0 &&
             output_overlaps_operands(a, o->grad, o->grad_stride, dtype == CBCE_F64 ? 8 : 4);
    J.a = a;
    J.o = o;
    J.n = n;
    J.dtype = dtype;
    J.want = want & ~CBCE__NEG_LOSS;
    J.neg = (want & CBCE__NEG_LOSS) != 0;
    J.k.eps = a->label_smoothing;
    J.k.keep = 1.0 - a->label_smoothing;
    J.k.half = 0.5 * a->label_smoothing;
    J.k.alpha = a->alpha;
    J.k.has_alpha = !isnan(a->alpha);
    J.k.gamma = a->gamma;
    {
        int i;
        for (i = 0; i < CBCE__NPARAMS; i++)
            J.k.par[i] = *(const double *)((const char *)a + cbce__param_offsets[i]);
    }
    {
        int level = cbce_simd_level(a->simd);
        while (level > CBCE_SIMD_SCALAR && f->steps[level] == NULL)
            level--;
        J.step = dtype == CBCE_F32 ? f->steps[level]->d : f->steps[level]->x;
        J.span = dtype == CBCE_F32 ? f->steps[level]->d_span : f->steps[level]->x_span;
        J.segment = J.span ? run_span_segment : segment_table[level];
    }
    J.ntail = 0;
    J.second = 0;
    J.gscale = J.wpre = J.lscale = 1.0;
    J.gscale_lo = 0.0;

    if (a->reduction == CBCE_REDUCTION_WEIGHTED_MEAN) {
        wsum = shard ? given : weight_sum(&a->weight, n, 1.0);
        if (isinf(wsum.hi) && !shard) {
            J.wpre = J.lscale = CBCE__DOWN;
            down = 1;
            wsum = weight_sum(&a->weight, n, CBCE__DOWN);
        }
        if (isfinite(wsum.hi) && wsum.hi != 0.0) { /* S = 2^-e, wsum*S in [1, 2) */
            int e = ilogb(wsum.hi);
            double s = ldexp(1.0, e < -1000 ? 1000 : -e);
            J.wpre = J.lscale = J.lscale * s;
            wsum.hi *= s;
            wsum.lo *= s;
        }
    }
    if ((want & (CBCE__GRAD | CBCE__HESS)) && a->reduction != CBCE_REDUCTION_NONE) {
        /* A reduced loss's gradient: grad_output (element 0) / denominator. */
        double go = 1.0;
        cbce__dd g = {1.0, 0.0}, den = {1.0, 0.0};
        if (a->grad_output.data != NULL)
            load(&a->grad_output, 0, 1, &go, 1.0);
        if (a->reduction == CBCE_REDUCTION_MEAN)
            den = count;
        else if (a->reduction == CBCE_REDUCTION_WEIGHTED_MEAN)
            den = wsum;
        g = dd_quot(go, den);
        J.gscale = g.hi;
        J.gscale_lo = g.lo;
    }

    nblocks = n / CBCE_BLOCK + (n % CBCE_BLOCK != 0);
    J.seg_blocks = 1;
    while (nblocks / J.seg_blocks > CBCE__MAX_SEGMENTS - 1)
        J.seg_blocks *= 2;
    J.nseg = nblocks / J.seg_blocks + (nblocks % J.seg_blocks != 0);
    run_all(&J, a->num_threads);

    if (J.reduced) {
        cbce__dd total = combine(&J, J.seg_sum, J.tail), den = {1.0, 0.0};
        double r;
        int mean = a->reduction == CBCE_REDUCTION_MEAN;
        int wmean = a->reduction == CBCE_REDUCTION_WEIGHTED_MEAN;
        int e = 0; /* the result is 2^e times the one formed below */
        if (!isfinite(total.hi) && !down) {
            cbce__dd big, small;
            if (!J.dual) { /* the second pass */
                J.dual = J.second = 1;
                J.want = CBCE__LOSS;
                J.ntail = 0;
                run_all(&J, a->num_threads);
            }
            big = combine(&J, J.seg_big, J.tail_big);
            small = combine(&J, J.seg_small, J.tail_small);
            total = small;
            if (big.hi != 0.0) { /* in big's scale, lscale 2^-e of small's */
                e = 600 + (J.lscale > 1.0 ? ilogb(J.lscale) : 0);
                small.hi = ldexp(small.hi, -e);
                small.lo = ldexp(small.lo, -e);
                total = cbce__add_f2_inf(big, small);
            }
        }
        if (mean)
            den = count;
        else if (wmean)
            den = wsum; /* scaled as the weights in the numerator were */
        if (!mean && !wmean)
            r = total.hi + total.lo;
        else if (n == 0 && !shard)
            r = NAN;
        else
            r = cbce__div_f2_inf(total, den);
        if (!wmean)
            r /= J.lscale;
        store_result(o->result, dtype, ldexp(r, e));
    }
    return CBCE_OK;
}

#endif /* CBCE__ISA_VARIANT */
