/*
 * probs.c -- binary cross-entropy on probabilities (PyTorch's binary_cross_entropy):
 * the compute steps (float32: a span kernel; float64: a chunk step on the vector layer with
 * probs_elem.h's scalar element for its rare lanes) and the domain check (the entry points
 * are families.c's).
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
#include "math/vec_math64.h"

#define CBCE__PROBS_CALL_D(W, i)                                                          \
    cbce__probs_d(W, x[i], t[i], w[i], m[i], k->keep, k->half, &l[i], &g[i], &h[i])
#define CBCE__PROBS_CALL_X(W, i)                                                          \
    cbce__probs_x(W, x[i], t[i], w[i], m[i], ml[i], k->keep, k->half, k->eps, &l[i],    \
                  &g[i], &h[i])

CBCE__FAMILY_LOSS_STEP(probs_step_d, CBCE__PROBS_CALL_D)
CBCE__FAMILY_STEP(probs_step_x_careful, CBCE__PROBS_CALL_X)

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
    if (want & CBCE__LOSS) { /* one stage for all nk vectors before the next */
        vd_t c[CBCE__S32_K], lx[CBCE__S32_K], l1[CBCE__S32_K];
        vm_t y0[CBCE__S32_K];
        int one_log = 1;
        for (j = 0; j < nk; j++) {
            vd_fast_two_sum(one, vd_neg(x[j]), &c[j]);
            y0[j] = vd_eq(y[j], vd_zero());
            one_log &= vm_all(vm_or(y0[j], vd_eq(q[j], vd_zero())));
        }
        if (one_log) { /* y or q is 0 in every lane: the log it multiplies is taken as the
                        * clamp, as a log <= 0 times 0 it gives -0, which only decides the
                        * sign of a zero loss where that log is the clamp already */
            for (j = 0; j < nk; j++)
                lx[j] = vd_log_pos(vd_select(y0[j], m[j], x[j]));
            for (j = 0; j < nk; j++) {
                l1[j] = vd_select(y0[j], lx[j], clamp);
                lx[j] = vd_select(y0[j], clamp, lx[j]);
            }
        } else {
            for (j = 0; j < nk; j++)
                lx[j] = vd_log_pos(x[j]);
            for (j = 0; j < nk; j++)
                l1[j] = vd_log_pos(m[j]);
        }
        for (j = 0; j < nk; j++) {
            lx[j] = vd_select(vd_eq(x[j], vd_zero()), clamp, lx[j]);
            l1[j] = vd_select(vd_eq(m[j], vd_zero()), clamp, vd_add(l1[j], c[j]));
            lx[j] = vd_max(lx[j], clamp);
            l1[j] = vd_max(l1[j], clamp);
            lo[j] = vd_nmla(q[j], l1[j], vd_neg(vd_mul(y[j], lx[j])));
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

/*
 * float64 data: a chunk step on the vector layer, on math/vec_math64.h's log1p (a table, no
 * division: 2^-57.5 relative) and quotient (a reciprocal good to 2^-50 and one residual
 * step).  With s = min(x, 1 - x) (exact: x itself, or 1 - x for x >= 1/2 by Sterbenz) and
 * g = max(x, 1 - x) = gh + gl (two_sum), s + g = 1:
 *   log g = -log1p(s/g), s/g in [0, 1];
 *   log s = k ln2 + log1p(f), s = 2^k (1 + f), f in [0, 1) exact; s <= 1/2, so k <= -1 and
 *           |k ln2| >= log1p(f) (equal only at f = 0): the sum does not cancel;
 * both within 2^-57 relative, clamped at -100 as pairs (s < 2^-145 gives -100 at once).
 * log x and log(1 - x) are these two, by x < 1/2.  The loss -w (y log x + q log(1 - x)) is
 * a sum of two terms <= 0 (exact products, two_sum), rounded once: <= 0.5 + 0.02 ulp.
 * The gradient (x - y)/den and hessian ((x - y)^2 + y q)/den^2, den = max(x (1 - x), EPS),
 * as pairs (x - y by two_sum, the products exact), the quotients by one residual step,
 * times m + ml by exact products, rounded once.  The lanes whose result is 0, subnormal,
 * beyond DBL_MAX or NaN, or whose x - y is below 2^-900 (below 2^-450 with y q below 2^-900
 * for the hessian: probs_elem.h rescales those), are computed again, per output, by the
 * scalar element cbce__probs_x; so is every element of a call with a subnormal
 * label_smoothing.  The last c % VW take the vector element in a padded vector.
 */

/* log s = lsh + lsl and log g = -(lgh + lgl) for s, g = gh + gl as above (cbce__x64_logs),
 * log s clamped at -100 */
CBCE__VI void probs64_logs(const cbce__x64tab *T, vd_t s, vd_t gh, vd_t gl, vd_t *lsh,
                           vd_t *lsl, vd_t *lgh, vd_t *lgl)
{
    const vd_t clamp = vd_set1(-100.0);
    vm_t tiny = vd_lt(s, vd_set1(0x1p-145));
    cbce__x64_logs(T, s, vd_zero(), gh, gl, lsh, lsl, lgh, lgl);
    tiny = vm_or(tiny, vm_or(vd_lt(*lsh, clamp), vm_and(vd_eq(*lsh, clamp),
                                                        vd_lt(*lsl, vd_zero()))));
    *lsh = vd_select(tiny, clamp, *lsh);
    *lsl = vd_select(tiny, vd_zero(), *lsl);
}

typedef struct probs64k {
    cbce__x64tab T;
    const cbce__consts *k;
} probs64k;

/* One vector of elements, written to l, g, h; the lanes the scalar element must redo for
 * the loss in *badl, for the derivatives in *badg (step.h's cbce__vec_elem_fn). */
CBCE__VI void probs64_vec(int want, const void *ctx, const double *x0, const double *t0,
                          const double *w0, const double *m0, const double *ml0, double *l,
                          double *g, double *h, vm_t *badl, vm_t *badg)
{
    const cbce__x64tab *T = &((const probs64k *)ctx)->T;
    const cbce__consts *k = ((const probs64k *)ctx)->k;
    const vd_t one = vd_set1(1.0), x = vd_load(x0), tr = vd_load(t0);
    const vd_t keep = vd_set1(k->keep), half = vd_set1(k->half);
    vd_t y = vd_add(vd_mul(tr, keep), half), q = vd_add(vd_mul(vd_sub(one, tr), keep), half);
    vd_t hl, hh = vd_two_sum(one, vd_neg(x), &hl); /* 1 - x */
    vm_t small = vd_lt(x, vd_set1(0.5));
    *badl = *badg = vm_first(0);
    if (want & CBCE__LOSS) {
        vd_t lsh, lsl, lgh, lgl, lxh, lxl, l1h, l1l, p1l, p2l, sl, sh;
        probs64_logs(T, vd_select(small, x, hh), vd_select(small, hh, x),
                     vd_select(small, hl, vd_zero()), &lsh, &lsl, &lgh, &lgl);
        /* -log x and -log(1 - x), >= 0; the loss w (y (-log x) + q (-log(1 - x))) */
        lxh = vd_select(small, vd_neg(lsh), lgh);
        lxl = vd_select(small, vd_neg(lsl), lgl);
        l1h = vd_select(small, lgh, vd_neg(lsh));
        l1l = vd_select(small, lgl, vd_neg(lsl));
        lxh = vd_two_prod(y, lxh, &p1l);
        l1h = vd_two_prod(q, l1h, &p2l);
        sh = vd_two_sum(lxh, l1h, &sl);
        sl = vd_add(sl, vd_add(vd_mla(y, lxl, p1l), vd_mla(q, l1l, p2l)));
        sh = cbce__x64_prod_rn(vd_load(w0), vd_zero(), sh, sl);
        *badl = vm_or(*badl, cbce__x64_not_normal(sh));
        vd_store(l, sh);
    }
    if (want & (CBCE__GRAD | CBCE__HESS)) {
        const vd_t eps = vd_set1((double)1e-12f), mh = vd_load(m0), ml = vd_load(ml0);
        vd_t rl, rh = vd_two_sum(x, vd_neg(y), &rl), dl, dh = vd_two_prod(x, hh, &dl), ql, qv;
        vm_t clamp;
        dl = vd_mla(x, hl, dl);
        clamp = vd_lt(dh, eps);
        dh = vd_select(clamp, eps, dh);
        dl = vd_select(clamp, vd_zero(), dl);
        if (want & CBCE__GRAD) {
            qv = cbce__x64_quot(rh, rl, dh, dl, vd_rcp50(dh), &ql);
            qv = cbce__x64_prod_rn(mh, ml, qv, ql);
            *badg = vm_or(*badg, cbce__x64_not_normal(qv));
            *badg = vm_or(*badg, vd_lt(vd_abs(rh), vd_set1(0x1p-900)));
            vd_store(g, qv);
        }
        if (want & CBCE__HESS) {
            vd_t nl, nh = vd_two_prod(rh, rh, &nl), yl, yh = vd_two_prod(y, q, &yl), el;
            vd_t sh, sl, d2l, d2h = vd_two_prod(dh, dh, &d2l);
            nl = vd_mla(vd_add(rh, rh), rl, nl);
            sh = vd_two_sum(nh, yh, &sl);
            sl = vd_add(sl, vd_add(nl, yl));
            d2l = vd_mla(vd_add(dh, dh), dl, d2l);
            qv = cbce__x64_quot(sh, sl, d2h, d2l, vd_rcp50(d2h), &el);
            qv = cbce__x64_prod_rn(mh, ml, qv, el);
            *badg = vm_or(*badg, cbce__x64_not_normal(qv));
            *badg = vm_or(*badg, vm_and(vd_lt(vd_abs(rh), vd_set1(0x1p-450)),
                                        vd_lt(yh, vd_set1(0x1p-900))));
            vd_store(h, qv);
        }
    }
}

CBCE__MAYBE_UNUSED static void probs_step_x(CBCE__STEP_PARAMS(, k))
{
    probs64k K;
    if (k->eps > 0 && k->eps < 0x1p-1022) { /* a subnormal label_smoothing: careful */
        probs_step_x_careful(want, c, x, t, p, w, m, ml, k, l, g, h);
        return;
    }
    cbce__x64_tables(&K.T);
    K.k = k;
    cbce__vec_chunk_step(probs64_vec, &K, probs_step_x_careful, 0.5, 0.5, want, c, x, t, p, w,
                         m, ml, k, l, g, h);
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
