/*
 * vec_math.h -- elementary functions on the vector layer (simd/vec.h), in double, to the
 * precision float32 results need (about 2^-28 relative before the one rounding to float,
 * which gives <= 0.5 + 2^-28 * 2^24 ~ 0.56 ulp).  No division instruction, no table.
 *
 *   vd_exp_neg(a)   exp(-a) for a >= 0 (NaN gives NaN): 2^(-a/ln2) with n = round(-a/ln2),
 *                   g = -a/ln2 - n in [-1/2, 1/2], 2^g by a degree-7 polynomial (2^-34.5
 *                   relative), scaled by 2^n (vd_ldexp).  The rounding of a/ln2 moves the
 *                   result by <= 2^-53 * a relative: 2^-43 at a = 1000, where a is clamped
 *                   (exp(-1000) = 2^-1443 is 0 in double).
 *   vd_exp_neg_full(a)  exp(-a) for a >= 0 to about 2^-51 relative, for the few quantities
 *                   that cancel later (the asymmetric loss's margin p - clip): n =
 *                   round(-a/ln2), g = -a - n ln2 in Cody-Waite form (ln2 in 32 + 53 bits,
 *                   so n ln2_hi is exact and -a - n ln2_hi too, by Sterbenz), exp(g) by its
 *                   Taylor polynomial of degree 12 (|g| <= ln2/2: the rest is below
 *                   2^-52.4), scaled by 2^n; a clamped at 1000 as above.
 *   vd_log1p_u(u)   log1p(z) given u = z/(2+z), |u| <= 1/3 (z in [-1/2, 1]):
 *                   2 atanh(u) = u Q(u^2), Q of degree 5 (2^-33 relative).
 *   vd_log_pos(x)   log x for a positive normal finite double x: x = 2^k m with m in
 *                   [sqrt(1/2), sqrt 2) (vd_getexp, vd_getmant), log m = vd_log1p_u(f/(2+f)),
 *                   f = m - 1 exact, 1/(2+f) by vd_rcp50; plus k ln2.  Relative error
 *                   <= 2^-32.9 (Q's 2^-33 and vd_rcp50's 2^-50; for k != 0, |k ln2| >=
 *                   2 |log m|, so the sum does not amplify them), absolute error <= 2^-34.4
 *                   + 2^-53 |k ln2| (|log m| <= 0.35: what exp(gamma log x) needs).
 *                   log 1 = 0 exactly.
 *   vd_log_split(x, &f) k with x = 2^k (1 + f), 1 + f in [sqrt(1/2), sqrt 2), for a positive
 *                   normal finite x (f exact): log x = k ln2 + vd_log1p_u(f/(2 + f)), as
 *                   vd_log_pos forms it; for callers that choose f (and k) lane by lane.
 *   vd_powi(w, n)   w^n for an integer n >= 1 by binary powering: at most 2 log2(n)
 *                   products, each rounded once (so within 2 log2(n) 2^-53 relative for n
 *                   <= 8), where exp(n log w) would bring the log's absolute error.
 *   vd_one_minus_exp_neg(a, e)  1 - exp(-a) for a >= 0 from e = exp(-a) (2^-34.5 relative,
 *                   vd_exp_neg): below 1/4 by the Taylor series to a^8 (the rest is below
 *                   a^9/9!, 2^-34.5 of the sum), else 1 - e (>= 0.22, so within 2^-32.3).
 */
#ifndef CBCE_MATH_VEC_MATH_H
#define CBCE_MATH_VEC_MATH_H

#include "simd/vec.h"

#define CBCE__VM_INV_LN2 0x1.71547652b82fep+0
#define CBCE__VM_LN2 0x1.62e42fefa39efp-1

CBCE__VI vd_t vd_exp_neg(vd_t a)
{
    /* 2^g on [-1/2, 1/2], degree 7 (Chebyshev fit) */
    vd_t g = vd_mul(vd_min(vd_set1(1000.0), a), vd_set1(-CBCE__VM_INV_LN2));
    vd_t n = vd_round(g), p;
    g = vd_sub(g, n);
    p = vd_mla(vd_set1(0x1.00c0e51820450p-16), g, vd_set1(0x1.446c7a48d8078p-13));
    p = vd_mla(p, g, vd_set1(0x1.5d877597f08c6p-10));
    p = vd_mla(p, g, vd_set1(0x1.3b29d8ba9c555p-7));
    p = vd_mla(p, g, vd_set1(0x1.c6b08da70cf75p-5));
    p = vd_mla(p, g, vd_set1(0x1.ebfbe0aa04648p-3));
    p = vd_mla(p, g, vd_set1(0x1.62e42fef9cc68p-1));
    p = vd_mla(p, g, vd_set1(0x1.ffffffffa712fp-1));
    return vd_ldexp(p, n); /* n in [-1443, 0] */
}

CBCE__VI vd_t vd_exp_neg_full(vd_t a)
{
    static const double inv_fact[13] = {
        1.0 / 479001600, 1.0 / 39916800, 1.0 / 3628800, 1.0 / 362880, 1.0 / 40320,
        1.0 / 5040,      1.0 / 720,      1.0 / 120,     1.0 / 24,     1.0 / 6,
        0.5,             1.0,            1.0};
    vd_t b = vd_min(vd_set1(1000.0), a), n, g, p;
    int i;
    n = vd_round(vd_mul(b, vd_set1(-CBCE__VM_INV_LN2)));
    g = vd_neg(vd_mla(n, vd_set1(0x1.62e42feep-1), b));   /* -(b + n ln2_hi), exact */
    g = vd_nmla(n, vd_set1(0x1.a39ef35793c76p-33), g);   /* - n ln2_lo */
    p = vd_set1(inv_fact[0]);
    for (i = 1; i < 13; i++)
        p = vd_mla(p, g, vd_set1(inv_fact[i]));
    return vd_ldexp(p, n); /* n in [-1443, 0] */
}

CBCE__VI vd_t vd_log1p_u(vd_t u)
{
    /* Q(w) = 2 atanh(sqrt w) / sqrt w on [0, 1/9] */
    vd_t w = vd_mul(u, u);
    vd_t q = vd_mla(vd_set1(0x1.f396ab57dbd64p-3), w, vd_set1(0x1.b63e00431a586p-3));
    q = vd_mla(q, w, vd_set1(0x1.251228fdab135p-2));
    q = vd_mla(q, w, vd_set1(0x1.999638b350993p-2));
    q = vd_mla(q, w, vd_set1(0x1.5555597b13e25p-1));
    q = vd_mla(q, w, vd_set1(0x1.ffffffff2dfd1p+0));
    return vd_mul(u, q);
}

CBCE__VI vd_t vd_log_split(vd_t x, vd_t *f)
{
    vd_t k = vd_getexp(x), m = vd_getmant(x);
    vm_t big = vd_gt(m, vd_set1(0x1.6a09e667f3bcdp+0));
    *f = vd_sub(vd_select(big, vd_mul(m, vd_set1(0.5)), m), vd_set1(1.0));
    return vd_select(big, vd_add(k, vd_set1(1.0)), k);
}

CBCE__VI vd_t vd_log_pos(vd_t x)
{
    vd_t f, k = vd_log_split(x, &f);
    f = vd_log1p_u(vd_mul(f, vd_rcp50(vd_add(vd_set1(2.0), f))));
    return vd_mla(k, vd_set1(CBCE__VM_LN2), f);
}

CBCE__VI vd_t vd_powi(vd_t w, int n)
{
    vd_t r = w;
    for (n--; n > 0; n >>= 1) { /* r w^n is the result, n counting down */
        if (n & 1)
            r = vd_mul(r, w);
        if (n > 1)
            w = vd_mul(w, w);
    }
    return r;
}

CBCE__VI vd_t vd_one_minus_exp_neg(vd_t a, vd_t e)
{
    vd_t p = vd_mla(a, vd_set1(-1.0 / 40320), vd_set1(1.0 / 5040));
    p = vd_mla(p, a, vd_set1(-1.0 / 720));
    p = vd_mla(p, a, vd_set1(1.0 / 120));
    p = vd_mla(p, a, vd_set1(-1.0 / 24));
    p = vd_mla(p, a, vd_set1(1.0 / 6));
    p = vd_mla(p, a, vd_set1(-0.5));
    p = vd_mul(vd_mla(p, a, vd_set1(1.0)), a);
    return vd_select(vd_lt(a, vd_set1(0.25)), p, vd_sub(vd_set1(1.0), e));
}

#endif
