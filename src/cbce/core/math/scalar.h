/*
 * math/scalar.h -- branch-free exp and log1p for the element kernels, in double ("_d", for
 * float32 data) and double-double ("_dd", for float64 data), in portable C99.
 *
 * Why not libm: exp/log1p are function calls the vectoriser cannot see through (glibc's
 * vector variants need -ffast-math and are 4-ulp), and a double result is not accurate
 * enough for float64 losses (one more rounding on top of the formula's own ones: 1.5 ulp,
 * see docs/numerics.md).  Why not long double: 80-bit only on x86-64 (on arm64/ppc/MSVC it is
 * double or a slow software binary128), x87 code is not vectorised.
 *
 * Rules kept everywhere below, so that GCC/Clang vectorise the loops that inline these and
 * every SIMD level gives the same bits:
 *  - no branches: every choice is a select `c ? a : b` of two computed values (needs
 *    -fno-trapping-math for GCC to if-convert them);
 *  - FMA only where it is exact: the low part of an exact product (two_prod) is fma(a, b,
 *    -a*b) where the target has FMA, Dekker's split elsewhere, the same value either way;
 *    every other product and sum is rounded on its own (-ffp-contract=off);
 *  - no tables (they would need gathers), no integer<->double conversions (SSE2/AVX2 have no
 *    int64<->double): integers live in doubles and meet the bits only through the
 *    "add 0x1.8p52" trick and 64-bit shifts;
 *  - bit casts through memcpy (well defined; compiled to register moves).
 * Requires IEEE binary64 double with round-to-nearest (checked once by the static assert
 * on DBL_MANT_DIG below; rounding mode is the caller's default).
 *
 * Double-double (Dekker 1971; Knuth TAOCP vol. 2, 4.2.2; Shewchuk 1997): a value hi + lo
 * with |lo| <= ulp(hi)/2 roughly; two_sum/two_prod are error-free transformations.
 *
 * Error bounds (relative, |.| <= ; u = 2^-53) -- see each function:
 *   cbce__exp_neg_dd:  2^-57.5   cbce__log1p_dd: 2^-57   (both: a few u^2 from the
 *   double-double parts plus the double-evaluated tails, dominated by the tails)
 *   cbce__exp_neg_d:   ~4u       cbce__log1p_d:  ~5u
 * so a float64 result built from them and rounded once is within 0.5 + ~0.1 ulp, a float32
 * result within 0.5 + 2^-27 ulp.  Measured by tests/c/test_reference.c.
 * For float32 results only (the BCE-with-logits "d" element and the elementwise helpers):
 *   cbce__exp_neg_f32_nd: 2^-38.3   cbce__log1p_f32_u: 2^-38.4
 * enough for 0.5 + 2^-13 ulp after the rounding to float, at about half the cost (see the
 * section at the end).
 */
#ifndef CBCE_MATH_SCALAR_H
#define CBCE_MATH_SCALAR_H

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* Everything here must be inlined into the kernel loops, or they are not vectorised
 * (GCC's inliner gives up on the double-double element functions by size). */
#if defined(__GNUC__)
#define CBCE__INLINE static inline __attribute__((always_inline))
#else
#define CBCE__INLINE static inline
#endif

/* Dekker's algorithms need every operation rounded to double: no x87 excess precision. */
#if defined(FLT_EVAL_METHOD) && (FLT_EVAL_METHOD == 1 || FLT_EVAL_METHOD == 2)
#error "cbce needs double arithmetic without excess precision (x86-32: -msse2 -mfpmath=sse)"
#endif

typedef char cbce__assert_binary64[(DBL_MANT_DIG == 53 && DBL_MAX_EXP == 1024) ? 1 : -1];

/* A double-double: hi + lo. */
typedef struct cbce__f2 {
    double hi, lo;
} cbce__f2;

/* ---- bits ----------------------------------------------------------------------------- */

CBCE__INLINE double cbce__from_bits(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

CBCE__INLINE uint64_t cbce__to_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

#define CBCE__SHIFT 0x1.8p52 /* x + SHIFT rounds x to an integer held in the low bits */

/* 2^(j - 1023) for an integer-valued double j in [1, 2046] (the biased exponent). */
CBCE__INLINE double cbce__pow2_biased(double j)
{
    return cbce__from_bits(cbce__to_bits(j + CBCE__SHIFT) << 52);
}

/* ---- error-free transformations ------------------------------------------------------- */

/* a + b = s.hi + s.lo exactly (Knuth; any magnitudes; finite inputs). */
CBCE__INLINE cbce__f2 cbce__two_sum(double a, double b)
{
    cbce__f2 s;
    double bb;
    s.hi = a + b;
    bb = s.hi - a;
    s.lo = (a - (s.hi - bb)) + (b - bb);
    return s;
}

/* a + b = s.hi + s.lo exactly when |a| >= |b| or a == 0 (Dekker). */
CBCE__INLINE cbce__f2 cbce__fast_two_sum(double a, double b)
{
    cbce__f2 s;
    s.hi = a + b;
    s.lo = b - (s.hi - a);
    return s;
}

/* a * b = p.hi + p.lo exactly, for |a|, |b| < 2^995 and a product whose low part does not
 * underflow (|a*b| > 2^-969): the conditions of Dekker's split, used where the target has
 * no fused multiply-add.  Where it has one (FP_FAST_FMA: the AVX2 and AVX-512 variants,
 * arm64), p.lo = fma(a, b, -p.hi), the same exact value in two operations instead of 17;
 * within those conditions both give the same bits, so every SIMD level still agrees.
 * Outside them the callers discard p.lo (selects) or scale first. */
CBCE__INLINE cbce__f2 cbce__two_prod(double a, double b)
{
#if defined(FP_FAST_FMA)
    cbce__f2 p;
    p.hi = a * b;
    p.lo = fma(a, b, -p.hi);
    return p;
#else
    const double split = 134217729.0; /* 2^27 + 1 */
    double ca = split * a, cb = split * b;
    double ah = ca - (ca - a), al = a - ah;
    double bh = cb - (cb - b), bl = b - bh;
    cbce__f2 p;
    p.hi = a * b;
    p.lo = ((ah * bh - p.hi) + ah * bl + al * bh) + al * bl;
    return p;
#endif
}

/* (a.hi + a.lo) * (b.hi + b.lo), relative error <= ~4 u^2 (the lo*lo term is dropped). */
CBCE__INLINE cbce__f2 cbce__mul_f2(cbce__f2 a, cbce__f2 b)
{
    cbce__f2 p = cbce__two_prod(a.hi, b.hi);
    return cbce__fast_two_sum(p.hi, p.lo + (a.hi * b.lo + a.lo * b.hi));
}

/* a * (b.hi + b.lo) for a double a. */
CBCE__INLINE cbce__f2 cbce__mul_d_f2(double a, cbce__f2 b)
{
    cbce__f2 p = cbce__two_prod(a, b.hi);
    return cbce__fast_two_sum(p.hi, p.lo + a * b.lo);
}

/* a + b for double-doubles of the same sign (no cancellation): relative error ~2u^2. */
CBCE__INLINE cbce__f2 cbce__add_f2(cbce__f2 a, cbce__f2 b)
{
    cbce__f2 s = cbce__two_sum(a.hi, b.hi);
    return cbce__fast_two_sum(s.hi, s.lo + (a.lo + b.lo));
}

/* a + b for a double a and a double-double b */
CBCE__INLINE cbce__f2 cbce__add_d_f2(double a, cbce__f2 b)
{
    cbce__f2 s = cbce__two_sum(a, b.hi);
    return cbce__fast_two_sum(s.hi, s.lo + b.lo);
}

/* a * s for a power of two s (exact unless a part leaves the normal range) */
CBCE__INLINE cbce__f2 cbce__mul_pow2_f2(cbce__f2 a, double s)
{
    a.hi *= s;
    a.lo *= s;
    return a;
}

CBCE__INLINE cbce__f2 cbce__neg_f2(cbce__f2 a)
{
    a.hi = -a.hi;
    a.lo = -a.lo;
    return a;
}

CBCE__INLINE cbce__f2 cbce__sel_f2(int c, cbce__f2 a, cbce__f2 b)
{
    cbce__f2 r;
    r.hi = c ? a.hi : b.hi;
    r.lo = c ? a.lo : b.lo;
    return r;
}

/* ---- the same, where values may be infinite (the driver's sums and quotients) ------ */

/* cbce__two_sum with lo = 0 where the sum is infinite (inf - inf would make it NaN). */
CBCE__INLINE cbce__f2 cbce__two_sum_inf(double a, double b)
{
    cbce__f2 r = cbce__two_sum(a, b);
    if (isinf(r.hi))
        r.lo = 0.0;
    return r;
}

/* a + b for double-doubles of any signs: the high parts' two_sum, the low parts added,
 * renormalised by a second two_sum; an infinite sum keeps lo = 0. */
CBCE__INLINE cbce__f2 cbce__add_f2_inf(cbce__f2 a, cbce__f2 b)
{
    cbce__f2 s = cbce__two_sum_inf(a.hi, b.hi);
    s.lo += a.lo + b.lo;
    return cbce__two_sum_inf(s.hi, s.lo);
}

/* cbce__two_prod with lo = 0 where lo is not finite (Dekker's split overflows above
 * 2^996): the rounded product is kept. */
CBCE__INLINE cbce__f2 cbce__two_prod_inf(double a, double b)
{
    cbce__f2 r = cbce__two_prod(a, b);
    if (!isfinite(r.lo))
        r.lo = 0.0;
    return r;
}

/* (a.hi + a.lo) / (b.hi + b.lo) as a double, one correction step: error well below
 * 2^-100 relative; a zero, infinite or NaN first quotient gives the plain quotient, and
 * a correction that overflows (q * b.hi rounding to inf near DBL_MAX) is dropped. */
CBCE__INLINE double cbce__div_f2_inf(cbce__f2 a, cbce__f2 b)
{
    double q = a.hi / b.hi, r;
    cbce__f2 p;
    if (!isfinite(q) || q == 0)
        return (a.hi + a.lo) / (b.hi + b.lo);
    p = cbce__two_prod_inf(q, b.hi);
    r = ((a.hi - p.hi) - p.lo + a.lo - q * b.lo) / b.hi;
    return isfinite(r) ? q + r : q;
}

/*
 * n / d for double-doubles with d.hi > 0 given its reciprocal inv = 1/d.hi (so that one
 * division serves several quotients): q1 = n.hi*inv, then one correction from the exact
 * remainder n - q1*d.  Relative error <= ~3 u^2 (the remainder is exact up to the d.lo
 * term; the correction has relative error 2u and is itself <= 2u of the quotient).  inv may
 * also be the reciprocal of a value within ~2u of d.hi (the high part of d before its last
 * normalisation, ready earlier): q1 and the correction then carry ~4u each, <= ~16 u^2.
 */
CBCE__INLINE cbce__f2 cbce__div_f2(cbce__f2 n, cbce__f2 d, double inv)
{
    double q1 = n.hi * inv;
    cbce__f2 p = cbce__two_prod(q1, d.hi);
    double r = ((n.hi - p.hi) - p.lo) + (n.lo - q1 * d.lo);
    return cbce__fast_two_sum(q1, r * inv);
}

/*
 * The one final rounding of big + small * sc, for double-doubles big and small and a power
 * of two sc: sc is 1, or < 2^-80 when small carries a factor exp(-a) that would be
 * subnormal (see cbce__exp_neg_dd); isc = 1/sc.  small.hi * sc is rounded onto the
 * (possibly subnormal) grid, what that rounding dropped is recovered exactly (se) and goes
 * with the low parts, so the result is big + small*sc rounded once (up to a double rounding
 * in ties, <= 2^-50 ulp off).  Infinite or NaN parts give the plain sum (inf, NaN).
 */
CBCE__INLINE double cbce__round_f2s(cbce__f2 big, cbce__f2 small, double sc, double isc)
{
    double sh = small.hi * sc;
    double se = small.hi - sh * isc; /* exact */
    cbce__f2 t = cbce__two_sum(big.hi, sh);
    double r = t.hi + ((t.lo + big.lo) + (se + small.lo) * sc);
    /* big == 0 and a normal result: round in the scaled range, then scale exactly (above,
     * (se + small.lo) * sc would be rounded to the subnormal grid first: up to 0.5 ulp more
     * for results in the lowest normal binades) */
    double rv = (small.hi + small.lo) * sc;
    r = (big.hi == 0 && fabs(rv) >= 0x1p-1022) ? rv : r;
    return r == r ? r : big.hi + sh;
}

/* ---- exp(-a) ---------------------------------------------------------------------------- */

/* ln 2 = C1 + C2 + C3 with C1, C2 of 42 bits: n*C1 and n*C2 are exact for n < 2^11. */
#define CBCE__LN2_C1 0x1.62e42fefa3800p-1
#define CBCE__LN2_C2 0x1.ef35793c76000p-45
#define CBCE__LN2_C3 0x1.cc01f97b57a08p-87
#define CBCE__INV_LN2 0x1.71547652b82fep+0
/* Minimax-like (Chebyshev-fitted, mpmath.chebyfit at 160 bits, rounded to double)
 * polynomials; the fitted functions and intervals (with a 2^-20 margin) are:
 *   EG, EX: g(z) = (exp(z) - 1 - z - z^2/2) / z^3 on [-ln2/2, ln2/2] (degree 8 / 9);
 *   LP, LX: P(w) = (atanh(u)/u - 1) / w, w = u^2 in [0, ((sqrt2-1)/(sqrt2+1))^2] (6 / 7).
 * The stated errors are of the fits; rounding the coefficients adds < 2^-53 relative. */
/* CBCE__EG: degree 8, max abs error 6.05e-16 (2^-50.6) on [-0.346574, 0.346574] */
#define CBCE__EG0 0x1.5555555555555p-3
#define CBCE__EG1 0x1.5555555554cb8p-5
#define CBCE__EG2 0x1.1111111110e6bp-7
#define CBCE__EG3 0x1.6c16c1738ed23p-10
#define CBCE__EG4 0x1.a01a01a4b26fep-13
#define CBCE__EG5 0x1.a019c9ab133b1p-16
#define CBCE__EG6 0x1.71de17e78d71bp-19
#define CBCE__EG7 0x1.2880393a358c4p-22
#define CBCE__EG8 0x1.af2360f9f048ap-26
/* CBCE__EX: degree 9, max abs error 8.05e-18 (2^-56.8) on [-0.346574, 0.346574] */
#define CBCE__EX0 0x1.5555555555556p-3
#define CBCE__EX1 0x1.5555555555555p-5
#define CBCE__EX2 0x1.11111111109b5p-7
#define CBCE__EX3 0x1.6c16c16c167e2p-10
#define CBCE__EX4 0x1.a01a01a7c2f2cp-13
#define CBCE__EX5 0x1.a01a01a47a5abp-16
#define CBCE__EX6 0x1.71de0db2eb873p-19
#define CBCE__EX7 0x1.27e4e1f71bcbbp-22
#define CBCE__EX8 0x1.af389eea54156p-26
#define CBCE__EX9 0x1.1f66d957d0ef0p-29
/* CBCE__LP: degree 6, max abs error 1.55e-16 (2^-52.5) on [0, 0.0294373] */
#define CBCE__LP0 0x1.5555555555558p-2
#define CBCE__LP1 0x1.99999999952e2p-3
#define CBCE__LP2 0x1.2492492df14bcp-3
#define CBCE__LP3 0x1.c71c62e57c3c4p-4
#define CBCE__LP4 0x1.7462b4ac441afp-4
#define CBCE__LP5 0x1.39fe604146b74p-4
#define CBCE__LP6 0x1.2b584c6b42d60p-4
/* CBCE__LX: degree 7, max abs error 1.04e-18 (2^-59.7) on [0, 0.0294373] */
#define CBCE__LX0 0x1.5555555555555p-2
#define CBCE__LX1 0x1.9999999999a38p-3
#define CBCE__LX2 0x1.2492492476ccbp-3
#define CBCE__LX3 0x1.c71c7201592a1p-4
#define CBCE__LX4 0x1.745cf9048617ap-4
#define CBCE__LX5 0x1.3b1c355c3560fp-4
#define CBCE__LX6 0x1.0fbe95aaf31a8p-4
#define CBCE__LX7 0x1.0c039e172b8dfp-4

/* ln 2 as a double-double */
#define CBCE__LN2_HI 0x1.62e42fefa39efp-1
#define CBCE__LN2_LO 0x1.abc9e3b39803fp-56

/*
 * exp(-a) for a >= 0 (or NaN), as (hi + lo) * sc: returns hi + lo, stores sc and isc = 1/sc.
 * sc = 1 unless exp(-a) < 2^-900, where the result is scaled up by 1/sc to stay far from
 * the subnormal range: callers form products with it and round once at the end with
 * cbce__round_f2s (a subnormal hi + lo would lose lo and give up to 1.5 ulp after a
 * product).  a = +inf gives a tiny nonzero hi*sc (the value for a = 1100, 2^-1587) that
 * rounds to 0 in any final rounding; NaN gives NaN.
 *
 * Method: n = round(a/ln2) by the shift trick (a clamped to 1100 so that n <= 1587),
 * r = a - n*ln2 by Cody-Waite with ln2 in three parts (r.hi exact by Sterbenz, |r| <=
 * 0.3466), then exp(-a) = 2^-n exp(z), z = -r = zh + zl:
 *     exp(z) = (1 + zh) + zh^2/2 + [zl*(1 + zh) + zh^3 R(zh)],
 * 1 + zh by two_sum, zh^2/2 by two_prod (exact), R = g(zh) = (exp(zh) - 1 - zh - zh^2/2)/zh^3
 * by the fit EX (degree 9, Estrin) in double.  Fit error 2^-56.8 * |zh|^3 <= 2^-61.4
 * absolute; the bracket is < 0.0076 and carries
 * ~5u relative error: <= 2^-57.7 absolute; zl's second-order terms <= 2^-59; relative to
 * exp(z) >= 0.707: <= 2^-57 in all.  2^-(n - m) and sc = 2^-m (m = max(n - 900, 0)) are
 * built from bits; multiplying by them is exact.
 */
CBCE__INLINE cbce__f2 cbce__exp_neg_dd(double a, double *sc, double *isc)
{
    double ac = a > 1100.0 ? 1100.0 : a;
    double n = (ac * CBCE__INV_LN2 + CBCE__SHIFT) - CBCE__SHIFT;
    double r1 = ac - n * CBCE__LN2_C1; /* exact */
    cbce__f2 z = cbce__two_sum(-r1, n * CBCE__LN2_C2); /* z = -r = n*ln2 - a */
    double zh, zl, R, m, s1, z2, z4;
    cbce__f2 one_z, zz, e;
    z = cbce__fast_two_sum(z.hi, z.lo + n * CBCE__LN2_C3);
    zh = z.hi;
    zl = z.lo;
    /* R(zh) = g(zh) by the degree-9 fit EX, Estrin's scheme (depth 4) */
    z2 = zh * zh;
    z4 = z2 * z2;
    R = ((CBCE__EX0 + CBCE__EX1 * zh) + (CBCE__EX2 + CBCE__EX3 * zh) * z2) +
        ((CBCE__EX4 + CBCE__EX5 * zh) + (CBCE__EX6 + CBCE__EX7 * zh) * z2) * z4 +
        (CBCE__EX8 + CBCE__EX9 * zh) * (z4 * z4);
    one_z = cbce__two_sum(1.0, zh);
    zz = cbce__two_prod(zh, zh);
    e = cbce__two_sum(one_z.hi, 0.5 * zz.hi);
    e = cbce__fast_two_sum(
        e.hi, e.lo + (one_z.lo + (0.5 * zz.lo + (zl + zl * zh + (zh * zz.hi) * R))));
    m = n > 900.0 ? n - 900.0 : 0.0;
    s1 = cbce__pow2_biased(1023.0 - (n - m));
    *sc = cbce__pow2_biased(1023.0 - m);
    *isc = cbce__pow2_biased(1023.0 + m);
    e.hi *= s1;
    e.lo *= s1;
    return e;
}

/*
 * exp(-a) for a >= 0 (or NaN) in double, for the float32 kernels: relative error ~4u
 * (1 + z + z^2/2 + z^3 g(z), g the fit EG: fit error 2^-55.2 absolute; evaluation and
 * reduction roundings ~3u), subnormal
 * results rounded once (2^-n in two factors).  a = +inf gives 0.
 */
CBCE__INLINE double cbce__exp_neg_d(double a)
{
    double ac = a > 746.0 ? 746.0 : a;
    double n = (ac * CBCE__INV_LN2 + CBCE__SHIFT) - CBCE__SHIFT;
    double z = (n * CBCE__LN2_C1 - ac) + n * (CBCE__LN2_C2 + CBCE__LN2_C3);
    double P, m, z2, z4;
    /* exp(z) = (1 + z) + z^2 (1/2 + z g(z)), g the degree-8 fit EG (Estrin) */
    z2 = z * z;
    z4 = z2 * z2;
    P = ((CBCE__EG0 + CBCE__EG1 * z) + (CBCE__EG2 + CBCE__EG3 * z) * z2) +
        ((CBCE__EG4 + CBCE__EG5 * z) + (CBCE__EG6 + CBCE__EG7 * z) * z2) * z4 +
        CBCE__EG8 * (z4 * z4);
    P = (1.0 + z) + z2 * (0.5 + z * P);
    m = n > 1000.0 ? n - 1000.0 : 0.0;
    return (P * cbce__pow2_biased(1023.0 - (n - m))) * cbce__pow2_biased(1023.0 - m);
}

/* ---- log1p ------------------------------------------------------------------------------ */

#define CBCE__SQRT2_M1 0x1.a827999fcef32p-2     /* sqrt(2) - 1 */
#define CBCE__SQRTH_M1 (-0x1.2bec333018867p-2)  /* sqrt(1/2) - 1 */

/* P(w) ~ (2 atanh(sqrt w)/sqrt w - 2)/(2w) by the degree-7 fit LX, Estrin's scheme (Horner
 * has fewer operations but a longer dependency chain, which bounds the logits loops'
 * throughput). */
CBCE__INLINE double cbce__lx_poly(double w)
{
    double w2 = w * w, w4 = w2 * w2;
    return ((CBCE__LX0 + CBCE__LX1 * w) + (CBCE__LX2 + CBCE__LX3 * w) * w2) +
           ((CBCE__LX4 + CBCE__LX5 * w) + (CBCE__LX6 + CBCE__LX7 * w) * w2) * w4;
}

/*
 * log1p(e * sc) / sc for e = e.hi + e.lo with e*sc in [sqrt(1/8) - 1, 1] = [-0.6464, 1] (or
 * NaN; below that the one-step reduction is not enough: for log1p(-p) with p > 0.5 use
 * cbce__log_dd(1 - p), 1 - p being exact there), sc and isc as
 * returned by cbce__exp_neg_dd (sc = 1 for a plain argument; sc < 1 only for tiny e*sc).
 * The result is scaled like the argument, so that the caller can multiply it and round
 * once with cbce__round_f2s.
 *
 * Method: with g = 1 + e reduced to [sqrt(1/2), sqrt(2)) by k in {-1, 0, 1}
 * (g/2^k), log g = k ln2 + 2 atanh(u), u = (g/2^k - 1)/(g/2^k + 1) in [-0.1716, 0.1716]:
 *     k =  1 (e > sqrt2 - 1):    u = (e - 1) / (e + 3)
 *     k =  0:                    u =  e      / (e + 2)
 *     k = -1 (e < sqrt(1/2) - 1): u = (2e + 1) / (2e + 3)
 * numerator and denominator formed by two_sum (exact), u by a double-double division
 * (cbce__div_f2, ~3u^2), then 2 atanh(u) = 2u + 2u w P(w), w = u^2 <= 0.0295,
 * P(w) (series 1/3 + w/5 + w^2/7 + ...) by the fit LX (degree 7) in double.  Fit error
 * 2^-59.7 * w <= 2^-64.8 of |2u|;
 * the tail 2u w P(w) is <= w/3 <= 2^-6.7 of 2u and carries ~5u relative error: <= 2^-57.7
 * of |2u|; |2u| <= |log g| for k = 0 and <= 1.0 * |log g| for k = +-1 (|log g| >= 0.34
 * there).  Total relative error <= 2^-57.  The k=0 numerator is e itself, so a tiny or
 * scaled e keeps its full relative precision (log1p(e) ~ e).
 */
CBCE__INLINE cbce__f2 cbce__log1p_dd(cbce__f2 e, double sc)
{
    int kp = e.hi > CBCE__SQRT2_M1, kn = e.hi < CBCE__SQRTH_M1;
    double mul = kn ? 2.0 : 1.0;
    double c1 = kp ? -1.0 : (kn ? 1.0 : 0.0);
    double c2 = kp ? 3.0 : (kn ? 3.0 : 2.0);
    double k = kp ? 1.0 : (kn ? -1.0 : 0.0);
    cbce__f2 num = cbce__two_sum(mul * e.hi, c1);
    cbce__f2 den = cbce__two_sum(mul * e.hi * sc, c2);
    cbce__f2 u, t;
    double w, P, uh;
    num.lo += mul * e.lo;
    den = cbce__fast_two_sum(den.hi, den.lo + mul * e.lo * sc);
    u = cbce__div_f2(num, den, 1.0 / den.hi);
    uh = u.hi * sc;
    w = uh * uh;
    P = cbce__lx_poly(w);
    t = cbce__two_sum(k * CBCE__LN2_HI, 2.0 * u.hi);
    t = cbce__fast_two_sum(t.hi, t.lo + (k * CBCE__LN2_LO + (2.0 * u.lo + 2.0 * u.hi * (w * P))));
    /* |e| < 2^-500: log1p(e) = e to 2^-501 (and u = e/2 could underflow for subnormal e) */
    return cbce__sel_f2(e.hi > -0x1p-500 && e.hi < 0x1p-500, e, t);
}

/*
 * log1p(e) for e in [sqrt(1/2) - 1, 1] (or NaN) in double, for the float32 kernels: the same
 * reduction (k in {0, 1}) in plain double, P by the fit LP (degree 6: <= 2^-57.6 of 2u).
 * Relative error ~5u.
 */
CBCE__INLINE double cbce__log1p_d(double e)
{
    int kp = e > CBCE__SQRT2_M1;
    double u = (kp ? e - 1.0 : e) / (kp ? e + 3.0 : e + 2.0);
    double w = u * u, P;
    double w2 = w * w, w4 = w2 * w2;
    /* P(w) by the degree-6 fit LP (Estrin) */
    P = ((CBCE__LP0 + CBCE__LP1 * w) + (CBCE__LP2 + CBCE__LP3 * w) * w2) +
        ((CBCE__LP4 + CBCE__LP5 * w) + CBCE__LP6 * w2) * w4;
    return (kp ? CBCE__LN2_HI : 0.0) + (2.0 * u + 2.0 * u * (w * P));
}

/* ---- log ---------------------------------------------------------------------------------- */

/*
 * x = 2^k * f with f in [sqrt(1/2), sqrt(2)) (subnormal x pre-scaled by 2^60), from the bits;
 * k returned as a double.  For positive finite x; log(x) = k ln2 + log1p(f - 1), f - 1 exact.
 */
CBCE__INLINE double cbce__frexp_sqrt2(double x, double *k)
{
    int sub = x < 0x1p-1000;
    double xs = sub ? x * 0x1p60 : x;
    uint64_t b = cbce__to_bits(xs);
    double E = cbce__from_bits((b >> 52) | 0x4330000000000000u) - 0x1p52; /* biased exp */
    double f = cbce__from_bits((b & 0x000FFFFFFFFFFFFFu) | 0x3FF0000000000000u);
    int big = f > 0x1.6a09e667f3bcdp+0; /* sqrt(2) */
    *k = (E - 1023.0) + (sub ? -60.0 : 0.0) + (big ? 1.0 : 0.0);
    return big ? 0.5 * f : f;
}

/*
 * log(x) for a double x >= 0 (or NaN, +inf), as a double-double, relative error <= 2^-57
 * (log1p_dd's bound; k ln2 is added exactly up to k*C3: k*C1, k*C2 are exact for
 * |k| < 2^11, and |k ln2| >= 2|log f| when k != 0, so nothing cancels).  For BCE on
 * probabilities: log(p), and log1p(-p) = log(1 - p) for p > 0.5.  log(0) = -inf,
 * log(+inf) = +inf (hi; lo = 0), NaN stays NaN; negative x is outside the domain.
 */
CBCE__INLINE cbce__f2 cbce__log_dd(double x)
{
    double k, f = cbce__frexp_sqrt2(x, &k);
    cbce__f2 e = {f - 1.0, 0.0}; /* exact (Sterbenz) */
    cbce__f2 t = cbce__log1p_dd(e, 1.0);
    cbce__f2 r = cbce__two_sum(k * CBCE__LN2_C1, t.hi);
    r = cbce__fast_two_sum(r.hi, r.lo + (k * CBCE__LN2_C2 + (k * CBCE__LN2_C3 + t.lo)));
    r.hi = x == 0 ? -HUGE_VAL : (x > DBL_MAX || x != x ? x : r.hi);
    r.lo = (x == 0 || x > DBL_MAX || x != x) ? 0.0 : r.lo;
    return r;
}

/* log(x) in double for the float32 kernels (relative error ~5u); same special values. */
CBCE__INLINE double cbce__log_d(double x)
{
    double k, f = cbce__frexp_sqrt2(x, &k);
    double r = k * CBCE__LN2_HI + (cbce__log1p_d(f - 1.0) + k * CBCE__LN2_LO);
    return x == 0 ? -HUGE_VAL : (x > DBL_MAX || x != x ? x : r);
}

/* ---- exp(-a) and log1p(e) for float32 results ---------------------------------------- */

/*
 * A float32 result is rounded once from a double; if that double has a relative error eps,
 * the result is within 0.5 + eps * 2^24 ulp (a float32 ulp is >= 2^-24 of the value).  The
 * functions below stop at eps ~2^-38 (0.5 + 2^-13 ulp) instead of the ~2^-51 of
 * cbce__exp_neg_d / cbce__log1p_d above (which the probability and focal families keep):
 * a rational exp whose division is left to the caller (who needs one anyway for
 * e/(1+e) or 2e/(2+e)), no Cody-Waite reduction, a log1p fit on all of [0, 1] without the
 * reduction selects.  Fewer operations matter more than shorter dependency chains here
 * (measured on AVX-512, AVX2 and SSE2: the element loops are throughput-bound).
 */

/*
 * exp(-a) for a >= 0 (or NaN) as a quotient 2^h N/D of doubles, relative error <= 2^-38.3,
 * for float32 results: returns N, stores D in [0.84, 1.19] (D = 1 and N = 0 for a > 708).
 * h is 0 or 1, a constant where it is inlined: with h = 1, e/(2 + e) = N/(D + N) and
 * e/(1 + e) = 2N/(D + 2N), so the caller of log1p pays no doubling.
 * Method: exp(-a) = 2^-t, t = a/ln2 rounded (t = a * INV_LN2: the product's rounding is
 * <= 2^-44 for t < 1024, INV_LN2's relative error 2^-55.98 adds <= 2^-46: <= 2^-43.6
 * absolute, which moves the result by <= 2^-44 relative);
 * n = round(t) by the shift trick (k = t + SHIFT holds n in its low bits, k - SHIFT = n
 * exactly); f = n - t in [-1/2, 1/2] is exact (both are multiples of ulp(t), and f is
 * small); 2^f = exp(x), x = f ln2 in [-0.347, 0.347], by the [4/4] Pade approximant of exp
 * at 0, (E + xO)/(E - xO) with E = 1 + 3x^2/28 + x^4/1680, O = 1/2 + x^2/84 (the EP
 * coefficients are these with the powers of ln2 folded in, rounded to double): relative
 * error 2^-38.35 at |f| = 1/2 (checked in mpmath with the rounded coefficients), E and xO
 * carry a few roundings (2^-51); N = (E + xO) * 2^-(n+h), 2^-(n+h) from the bits
 * (1023 - h - n) << 52, formed as (1023 - h - bits(k)) << 52 (the high bits of k shift
 * out).
 * Range: for a > 708, N = 0, D = 1 (exp(-708) = 2^-1021.4: in a float32 result e is
 * multiplied by less than 2^850, so the terms it enters round to nothing; the selects also
 * discard the garbage of a huge or infinite a).  a = +inf gives 0 exactly, the limits; NaN
 * fails the comparisons and propagates.  For a <= 708, 2^-(n+h) is normal (n <= 1021).
 */
#define CBCE__EP1 0x1.62e42fefa39efp-2  /* ln2 / 2 */
#define CBCE__EP2 0x1.a5b352426f27ap-5  /* 3 ln2^2 / 28 */
#define CBCE__EP3 0x1.03d299f705bdbp-8  /* ln2^3 / 84 */
#define CBCE__EP4 0x1.20270db2dfe99p-13 /* ln2^4 / 1680 */

CBCE__INLINE double cbce__exp_neg_f32_nd(double a, int h, double *den)
{
    double t = a * CBCE__INV_LN2;
    double k = t + CBCE__SHIFT;
    double f = (k - CBCE__SHIFT) - t;
    double f2 = f * f;
    double E = 1.0 + f2 * (CBCE__EP2 + CBCE__EP4 * f2);
    double xO = f * (CBCE__EP1 + CBCE__EP3 * f2);
    double sc = cbce__from_bits(((uint64_t)(1023 - h) - cbce__to_bits(k)) << 52);
    *den = a > 708.0 ? 1.0 : E - xO;
    return a > 708.0 ? 0.0 : (E + xO) * sc;
}

/*
 * LQ: Q(w) ~ 2 atanh(sqrt(w))/sqrt(w) on [0, 1/9], degree 6, weighted minimax (Remez
 * exchange in mpmath at 60 digits on a 3000-point Chebyshev grid, the interval widened by
 * 2^-20, weight 1/Q: relative error 2^-38.53), coefficients rounded to double.  (Degree 5
 * reaches only 2^-33.2.)
 */
#define CBCE__LQ0 0x1.0000000002c3bp+1
#define CBCE__LQ1 0x1.5555552f97ceap-1
#define CBCE__LQ2 0x1.9999c3920ed2dp-2
#define CBCE__LQ3 0x1.2489911deea8bp-2
#define CBCE__LQ4 0x1.c8d30bcfb2e3fp-3
#define CBCE__LQ5 0x1.5e8bcf4931021p-3
#define CBCE__LQ6 0x1.c0134fb00c0b5p-3

/*
 * log1p(e) for e in [0, 1] (or NaN), given u = e/(2 + e) in [0, 1/3] formed by the caller
 * (from e = 2N/D: u = N/(D + N), two roundings): log1p(e) = 2 atanh(u) = u Q(u^2), Q the
 * fit LQ (Horner in w^2 on pairs in w: fewer operations than Estrin, which measured slower
 * on AVX-512).  Relative error <= 2^-38.4: the fit's 2^-38.5, u's and the product's
 * roundings (2^-52).  No division here, and none of the reduction selects of
 * cbce__log1p_d (the fit covers all of [0, 1]).  A tiny u keeps its relative precision
 * (w underflows harmlessly).
 */
CBCE__INLINE double cbce__log1p_f32_u(double u)
{
    double w = u * u, w2 = w * w;
    double Q = (CBCE__LQ4 + CBCE__LQ5 * w) + CBCE__LQ6 * w2;
    Q = (CBCE__LQ0 + CBCE__LQ1 * w) + w2 * ((CBCE__LQ2 + CBCE__LQ3 * w) + w2 * Q);
    return u * Q;
}

#endif
