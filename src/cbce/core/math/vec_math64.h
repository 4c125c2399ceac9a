/*
 * vec_math64.h -- float64 elementary functions on the vector layer (simd/vec.h), as
 * double-double results good to about 2^-56.5 relative, for results rounded once to double
 * (the float64 kernels: losses/logits64.h, and the chunk steps of probs.c, focal64.c and
 * asymmetric.c).  No division instruction; 16-entry tables of hi + lo
 * pairs (math/vec_math64_tables.h, generated) read by a rounding shifter's last bits
 * (vd_tab16_get).  The functions of K vectors take K <= CBCE__X64_KMAX and apply each step
 * to all K before the next.
 *
 *   cbce__x64_tables(T)       the tables of cbce__x64_exp and cbce__x64_log1p as vectors.
 *   cbce__x64_exp(K, T, a, eh, el)
 *                             e = exp(-a) = eh + el for a in [0, 665] (NaN or larger: finite
 *                             garbage, which the callers flag): m = round(-a 16/ln2) = 16k +
 *                             j (a rounding shifter, simd/vec.h: j = m mod 16 from its
 *                             bits), r = -(a + m ln2/16) by a three-part Cody-Waite step
 *                             (m*C1, m*C2 exact; the second and third steps round r, each
 *                             within 2^-53 |r| <= 2^-58.5), expm1(r) = r EP(r) (2^-65),
 *                             E = T[j] + T[j] expm1(r) with T[j] = 2^(j/16) as hi + lo from
 *                             a 16-entry table (r EP(r) and T[j] r EP(r) + lo rounded, each
 *                             within 2^-58.5 of E): E within 2^-56.5 (2^-56.6 measured on
 *                             10^7 points at every level; 2^-58.2 for a < ln2/32, where
 *                             m = 0 and r = -a exactly); e = 2^k E (vd_ldexp_floor, exact).
 *   cbce__x64_log1p(K, T, eh, el, th, tl)
 *                             t = log1p(e) = th + tl for e = eh + el in [0, 1]:
 *                             -log(LOGC[b]) + log1p(z), b = round(15.49 e) (a shifter),
 *                             z = LOGC[b] (1 + e) - 1 formed exactly (two_prod and
 *                             Sterbenz), log1p(z) = z + z^2 LQ(z) (2^-61 relative to z,
 *                             |z| <= 0.0323), one Fast2Sum: t within 2^-57.5 relative (2^-57.7
 *                             measured with FMA, 2^-57.2 without);
 *                             log1p(0) = 0 exactly.
 *   cbce__x64_logs(T, sh, sl, gh, gl, lsh, lsl, nlgh, nlgl)
 *                             log s = lsh + lsl and -log g = nlgh + nlgl for pairs s, g with
 *                             s + g = 1, s in [0, 1/2]: -log g = log1p(s/g) (s/g in
 *                             [0, 1], the quotient by cbce__x64_quot); log s = k ln2 +
 *                             log1p(f + sl 2^-k), sh = 2^k (1 + f) (f exact, k <= -1, so the
 *                             sum does not cancel); both within 2^-58 absolute and 2^-57
 *                             relative (two cbce__x64_log1p interleaved); log s is that of
 *                             max(s, DBL_MIN) (the callers clamp or flag below); the low
 *                             parts are not normalized (up to 2^-6 of the high ones).
 *   cbce__x64_log_either(T, first, sh, sl, gh, gl, rl)
 *                             -log g where `first`, else log s, as cbce__x64_logs computes
 *                             them, with one log1p.
 *   cbce__x64_resid(n, q, d)  n - q*d within 2^-106 relative of n, for q*d close to n (an
 *                             FMA, or two_prod and two subtractions).
 *   cbce__x64_quot(nh, nl, dh, dl, rc, ql)
 *                             (nh + nl) / (dh + dl) = q + ql, q = nh rc, for rc = 1/dh
 *                             within 2^-50 (vd_rcp50): one residual step, 2^-100 relative
 *                             beyond the operands' own errors.
 *   cbce__x64_prod(fh, fl, vh, vl, rl), cbce__x64_prod_rn(fh, fl, vh, vl)
 *                             (fh + fl)(vh + vl) = rh + rl: fh vh exact (vd_two_prod, within
 *                             its range), the cross terms rounded, fl vl dropped: within
 *                             2^-99 relative for |fl| <= 2^-50 |fh| and |vl| <= 2^-50 |vh|;
 *                             _rn: RN(rh + rl), one rounding.
 *   cbce__x64_outside(v, lo, hi)  the lanes where |v| is outside [lo, hi] or NaN.
 *   cbce__x64_one_plus(eh, el, dl, rc)  1 + e as the pair dh + dl, and rc = 1/dh.
 *   cbce__x64_tanh_half(eh, el, dh, dl, rc, tl)
 *                             (1 - e)/(1 + e) = tanh(a/2) = th + tl, for e = eh + el and
 *                             d = 1 + e from cbce__x64_one_plus (1 - e carries e's absolute
 *                             error: CBCE__X64_ONEM_E_COEF).
 *   cbce__x64_not_normal(v)   the lanes where |v| is outside [2^-1021, DBL_MAX] or NaN: 0,
 *                             subnormal, the lowest binade of the normals (where a product's
 *                             low part was rounded on the subnormal grid), inf, NaN.
 *   vdd_t, vdd_*              double-double pairs hi + lo (|lo| <= 2^-50 |hi|) as values:
 *                             vdd_add (two_sum, 2^-104 of the larger operand), vdd_mul and
 *                             vdd_mul_d (cbce__x64_prod, 2^-99), vdd_quot (cbce__x64_quot),
 *                             vdd_one_minus (1 - v exactly), vdd_powi (binary powering,
 *                             2 log2(n) products), vdd_exp_neg (exp(-z) of a pair, by
 *                             cbce__x64_exp); for operands whose products stay normal
 *                             (callers flag the lanes where not).
 */
#ifndef CBCE_MATH_VEC_MATH64_H
#define CBCE_MATH_VEC_MATH64_H

#include <float.h>

#include "math/scalar.h" /* CBCE__LN2_HI, _LO */
#include "math/vec_math64_tables.h"
#include "simd/vec.h"

/* The tables as vectors (cbce__x64_tables loads them, once per span or chunk). */
typedef struct cbce__x64tab {
    vd_tab16_t eh, el, lc, lh, ll;
} cbce__x64tab;

CBCE__VI void cbce__x64_tables(cbce__x64tab *T)
{
    T->eh = vd_tab16_load(CBCE__X64_EXP_HI);
    T->el = vd_tab16_load(CBCE__X64_EXP_LO);
    T->lc = vd_tab16_load(CBCE__X64_LOGC);
    T->lh = vd_tab16_load(CBCE__X64_LOGH);
    T->ll = vd_tab16_load(CBCE__X64_LOGL);
}

/* The functions below take K <= CBCE__X64_KMAX vectors and apply each step to all K
 * before the next (the K chains interleave: one vector's chain is long, and alone it is
 * latency-bound); K is a constant where they are inlined, so the loops unroll.  Where the
 * fast loop uses them (logits64.h's CBCE__X64_HARD_K), K = 4 measured 1.2x faster than 2;
 * 8 only on AVX-512 (arrays of 8 on AVX2 made its code 10% slower even at K = 4). */
#define CBCE__X64_KMAX (CBCE__VW == 8 ? 8 : 4)
#define CBCE__X64_FOR for (j = 0; j < K; j++)

/* e = exp(-a) = eh + el, for a in [0, 665] (a NaN or larger lanes give finite garbage:
 * the callers flag them); the error budget at the top. */
CBCE__VI void cbce__x64_exp(int K, const cbce__x64tab *T, const vd_t *a, vd_t *eh, vd_t *el)
{
    const vd_t shifter = vd_set1(CBCE__VD_SHIFTER);
    vd_t ac[CBCE__X64_KMAX], sm[CBCE__X64_KMAX], m[CBCE__X64_KMAX], r[CBCE__X64_KMAX];
    vd_t P[CBCE__X64_KMAX], Th[CBCE__X64_KMAX], lo[CBCE__X64_KMAX], El, k;
    int i, j;
    CBCE__X64_FOR ac[j] = vd_min(a[j], vd_set1(708.0)); /* NaN -> 708 */
    CBCE__X64_FOR sm[j] = vd_mla(ac[j], vd_set1(-CBCE__X64_INVC), shifter);
    CBCE__X64_FOR m[j] = vd_sub(sm[j], shifter); /* in [-16342, 0] */
    CBCE__X64_FOR r[j] = vd_nmla(m[j], vd_set1(CBCE__X64_C1), vd_neg(ac[j]));
    CBCE__X64_FOR r[j] = vd_nmla(m[j], vd_set1(CBCE__X64_C2), r[j]);
    CBCE__X64_FOR r[j] = vd_nmla(m[j], vd_set1(CBCE__X64_C3), r[j]);
    CBCE__X64_FOR P[j] = vd_mla(vd_set1(CBCE__X64_EP[6]), r[j], vd_set1(CBCE__X64_EP[5]));
    for (i = 4; i >= 0; i--)
        CBCE__X64_FOR P[j] = vd_mla(P[j], r[j], vd_set1(CBCE__X64_EP[i]));
    CBCE__X64_FOR Th[j] = vd_tab16_get(T->eh, sm[j]);
    CBCE__X64_FOR lo[j] = vd_mla(Th[j], vd_mul(P[j], r[j]), vd_tab16_get(T->el, sm[j]));
    CBCE__X64_FOR {
        eh[j] = vd_fast_two_sum(Th[j], lo[j], &El);
        k = vd_mul(m[j], vd_set1(0.0625)); /* 2^floor(m/16): K */
        eh[j] = vd_ldexp_floor(eh[j], k);
        el[j] = vd_ldexp_floor(El, k);
    }
}

/* t = log1p(e) = th + tl, for e = eh + el in [0, 1] */
CBCE__VI void cbce__x64_log1p(int K, const cbce__x64tab *T, const vd_t *eh, const vd_t *el,
                              vd_t *th, vd_t *tl)
{
    const vd_t one = vd_set1(1.0);
    vd_t b[CBCE__X64_KMAX], cc[CBCE__X64_KMAX], pl[CBCE__X64_KMAX], zh[CBCE__X64_KMAX];
    vd_t zl[CBCE__X64_KMAX], Q[CBCE__X64_KMAX];
    int i, j;
    CBCE__X64_FOR b[j] = vd_mla(eh[j], vd_set1(CBCE__X64_LOGM), vd_set1(CBCE__VD_SHIFTER));
    CBCE__X64_FOR cc[j] = vd_tab16_get(T->lc, b[j]);
    CBCE__X64_FOR zh[j] = vd_add(vd_two_prod(cc[j], eh[j], &pl[j]), vd_sub(cc[j], one));
    CBCE__X64_FOR zl[j] = vd_mla(cc[j], el[j], pl[j]);
    CBCE__X64_FOR Q[j] = vd_mla(vd_set1(CBCE__X64_LQ[8]), zh[j], vd_set1(CBCE__X64_LQ[7]));
    for (i = 6; i >= 0; i--)
        CBCE__X64_FOR Q[j] = vd_mla(Q[j], zh[j], vd_set1(CBCE__X64_LQ[i]));
    CBCE__X64_FOR {
        vd_t ll = vd_tab16_get(T->ll, b[j]);
        zl[j] = vd_mla(vd_mul(zh[j], zh[j]), Q[j], vd_nmla(zl[j], zh[j], vd_add(zl[j], ll)));
    }
    CBCE__X64_FOR {
        th[j] = vd_fast_two_sum(vd_tab16_get(T->lh, b[j]), zh[j], &tl[j]);
        tl[j] = vd_add(tl[j], zl[j]);
    }
}

/* n - q*d to within 2^-106 relative of n, for q*d close to n */
CBCE__VI vd_t cbce__x64_resid(vd_t n, vd_t q, vd_t d)
{
#if CBCE__VEC_FMA
    return vd_fma(vd_neg(q), d, n);
#else
    vd_t pl, ph = vd_two_prod(q, d, &pl);
    return vd_sub(vd_sub(n, ph), pl);
#endif
}

/* (nh + nl) / (dh + dl) = q + *ql, q = nh * rc, for rc = 1/dh within 2^-50 (vd_rcp50): one
 * residual step, 2^-100 relative beyond the operands' own errors */
CBCE__VI vd_t cbce__x64_quot(vd_t nh, vd_t nl, vd_t dh, vd_t dl, vd_t rc, vd_t *ql)
{
    vd_t q = vd_mul(nh, rc);
    *ql = vd_mul(vd_nmla(q, dl, vd_add(cbce__x64_resid(nh, q, dh), nl)), rc);
    return q;
}

/* The arguments of log1p for the logs below: e[0] + el[0] = s/g, e[1] + el[1] = f + sl 2^-k
 * for max(s, DBL_MIN) = 2^k (1 + f) (f exact); returns k. */
CBCE__VI vd_t cbce__x64_log_args(vd_t sh, vd_t sl, vd_t gh, vd_t gl, vd_t *e, vd_t *el)
{
    vd_t sn = vd_max(sh, vd_set1(DBL_MIN)), k = vd_getexp(sn);
    e[0] = cbce__x64_quot(sh, sl, gh, gl, vd_rcp50(gh), &el[0]);
    e[1] = vd_sub(vd_getmant(sn), vd_set1(1.0));
    el[1] = vd_ldexp_floor(sl, vd_neg(k));
    return k;
}

/* k ln2 + (th + tl) = lh + *ll (k ln2 as a pair: kh exact, the rest 2^-106) */
CBCE__VI vd_t cbce__x64_log_join(vd_t k, vd_t th, vd_t tl, vd_t *ll)
{
    vd_t kl, kh = vd_two_prod(k, vd_set1(CBCE__LN2_HI), &kl), lo;
    vd_t lh = vd_fast_two_sum(kh, th, &lo);
    *ll = vd_add(vd_add(lo, tl), vd_mla(k, vd_set1(CBCE__LN2_LO), kl));
    return lh;
}

/* log s = lsh + lsl and -log g = nlgh + nlgl for pairs s = sh + sl, g = gh + gl with
 * s + g = 1 and s in [0, 1/2], log s that of max(s, DBL_MIN) (the error budget at the top) */
CBCE__VI void cbce__x64_logs(const cbce__x64tab *T, vd_t sh, vd_t sl, vd_t gh, vd_t gl,
                             vd_t *lsh, vd_t *lsl, vd_t *nlgh, vd_t *nlgl)
{
    vd_t e[2], el[2], th[2], tl[2], k = cbce__x64_log_args(sh, sl, gh, gl, e, el);
    cbce__x64_log1p(2, T, e, el, th, tl);
    *nlgh = th[0];
    *nlgl = tl[0];
    *lsh = cbce__x64_log_join(k, th[1], tl[1], lsl);
}

/* -log g (lanes of first) or log s (the others) as rh + *rl, for s and g as in
 * cbce__x64_logs: one log1p on the argument each lane needs */
CBCE__VI vd_t cbce__x64_log_either(const cbce__x64tab *T, vm_t first, vd_t sh, vd_t sl,
                                   vd_t gh, vd_t gl, vd_t *rl)
{
    vd_t e[2], el[2], th, tl, lh, ll, k = cbce__x64_log_args(sh, sl, gh, gl, e, el);
    e[0] = vd_select(first, e[0], e[1]);
    el[0] = vd_select(first, el[0], el[1]);
    cbce__x64_log1p(1, T, e, el, &th, &tl);
    lh = cbce__x64_log_join(k, th, tl, &ll);
    *rl = vd_select(first, tl, ll);
    return vd_select(first, th, lh);
}

/* (fh + fl)(vh + vl) = rh + *rl: fh vh exact (vd_two_prod, within its range), the cross
 * terms fh vl + fl vh rounded, fl vl dropped: within 2^-99 relative for |fl| <= 2^-50 |fh|
 * and |vl| <= 2^-50 |vh| */
CBCE__VI vd_t cbce__x64_prod(vd_t fh, vd_t fl, vd_t vh, vd_t vl, vd_t *rl)
{
    vd_t lo, rh = vd_two_prod(fh, vh, &lo);
    *rl = vd_mla(fh, vl, vd_mla(fl, vh, lo));
    return rh;
}

/* RN((fh + fl)(vh + vl)): cbce__x64_prod rounded once */
CBCE__VI vd_t cbce__x64_prod_rn(vd_t fh, vd_t fl, vd_t vh, vd_t vl)
{
    vd_t rl, rh = cbce__x64_prod(fh, fl, vh, vl, &rl);
    return vd_add(rh, rl);
}

/* The lanes where |v| is outside [lo, hi] or NaN. */
CBCE__VI vm_t cbce__x64_outside(vd_t v, double lo, double hi)
{
    v = vd_abs(v);
    return vm_not(vm_and(vd_ge(v, vd_set1(lo)), vd_le(v, vd_set1(hi))));
}

/* The lanes where |v| is outside [2^-1021, DBL_MAX] or NaN: 0, subnormal, the lowest binade
 * of the normals (where a product's low part was rounded on the subnormal grid: two
 * roundings), infinite or NaN. */
CBCE__VI vm_t cbce__x64_not_normal(vd_t v) { return cbce__x64_outside(v, 0x1p-1021, DBL_MAX); }

/* The pair 1 - e for e = exp(-a) from cbce__x64_exp carries e's absolute error (2^-56.5;
 * 2^-52 a for a < ln2/32), so a term c (1 - e)/(1 + e) of a hessian gains up to
 * |c| 2^-57.5 relative to the hessian's s/(1 + e): 2^-54.5 for |c| up to this.  The kernels
 * send the lanes with a < 1/4 to their careful elements where |c| is larger. */
#define CBCE__X64_ONEM_E_COEF 8.0

/* d = 1 + e as a pair for e = eh + el in [0, 1] (exact), and *rc = 1/d.h (vd_rcp50) */
CBCE__VI vd_t cbce__x64_one_plus(vd_t eh, vd_t el, vd_t *dl, vd_t *rc)
{
    vd_t dh = vd_fast_two_sum(vd_set1(1.0), eh, dl);
    *dl = vd_add(*dl, el);
    *rc = vd_rcp50(dh);
    return dh;
}

/* (1 - e)/(1 + e) = th + *tl for e = eh + el, d = dh + dl = 1 + e, rc = 1/dh */
CBCE__VI vd_t cbce__x64_tanh_half(vd_t eh, vd_t el, vd_t dh, vd_t dl, vd_t rc, vd_t *tl)
{
    vd_t ol, oh = vd_fast_two_sum(vd_set1(1.0), vd_neg(eh), &ol);
    return cbce__x64_quot(oh, vd_sub(ol, el), dh, dl, rc, tl);
}

/* ---- double-double pairs as values --------------------------------------------------- */

typedef struct vdd_t {
    vd_t h, l;
} vdd_t;

CBCE__VI vdd_t vdd_of(vd_t h, vd_t l)
{
    vdd_t r;
    r.h = h;
    r.l = l;
    return r;
}

CBCE__VI vdd_t vdd_add(vdd_t a, vdd_t b)
{
    vdd_t r;
    r.h = vd_two_sum(a.h, b.h, &r.l);
    r.l = vd_add(r.l, vd_add(a.l, b.l));
    return r;
}

CBCE__VI vdd_t vdd_neg(vdd_t a) { return vdd_of(vd_neg(a.h), vd_neg(a.l)); }

CBCE__VI vdd_t vdd_sel(vm_t m, vdd_t a, vdd_t b)
{
    return vdd_of(vd_select(m, a.h, b.h), vd_select(m, a.l, b.l));
}

CBCE__VI vdd_t vdd_mul(vdd_t a, vdd_t b)
{
    vdd_t r;
    r.h = cbce__x64_prod(a.h, a.l, b.h, b.l, &r.l);
    return r;
}

/* a times the double v */
CBCE__VI vdd_t vdd_mul_d(vdd_t a, vd_t v)
{
    vdd_t r;
    r.h = vd_two_prod(a.h, v, &r.l);
    r.l = vd_mla(a.l, v, r.l);
    return r;
}

/* a / b, rc = 1/b.h within 2^-50 (vd_rcp50) */
CBCE__VI vdd_t vdd_quot(vdd_t a, vdd_t b, vd_t rc)
{
    vdd_t r;
    r.h = cbce__x64_quot(a.h, a.l, b.h, b.l, rc, &r.l);
    return r;
}

/* 1 - v, exactly */
CBCE__VI vdd_t vdd_one_minus(vd_t v)
{
    vdd_t r;
    r.h = vd_two_sum(vd_set1(1.0), vd_neg(v), &r.l);
    return r;
}

/* w^n for an integer n >= 1 */
CBCE__VI vdd_t vdd_powi(vdd_t w, int n)
{
    vdd_t r = w;
    int first = 1;
    for (;;) {
        if (n & 1) {
            r = first ? w : vdd_mul(r, w);
            first = 0;
        }
        n >>= 1;
        if (!n)
            return r;
        w = vdd_mul(w, w);
    }
}

/* exp(-(zh + zl)) for zh in [0, 665] (cbce__x64_exp) and |zl| <= 2^-50 zh: exp(-zl) taken
 * as 1 - zl (within zl^2) */
CBCE__VI vdd_t vdd_exp_neg(const cbce__x64tab *T, vd_t zh, vd_t zl)
{
    vdd_t F;
    cbce__x64_exp(1, T, &zh, &F.h, &F.l);
    return vdd_mul(F, vdd_of(vd_set1(1.0), vd_neg(zl)));
}

#endif
