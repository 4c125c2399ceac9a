/*
 * vec.h -- the explicit vector layer of the kernels: VW doubles per vector, one
 * implementation per instruction-set level, chosen from the compile's target macros
 *     __AVX512F__ (with DQ, BW, VL)  -> vec_avx512.h  CBCE__VW 8
 *     __AVX2__ and __FMA__           -> vec_avx2.h    CBCE__VW 4
 *     anything else                  -> vec_scalar.h  CBCE__VW 1 (portable C99)
 * The build compiles each kernel file once per level with that level's flags (internal.h
 * (d)); intrinsics appear only in these headers.  Names are short (vd_ vectors of double,
 * vm_ lane masks) as they are static inline and seen only by kernel files.
 *
 * Macros: CBCE__VW (lanes), CBCE__VEC_FMA (1 when vd_fma is a fused multiply-add),
 *         CBCE__VEC_NAME ("avx512", "avx2", "scalar").
 * Types:  vd_t (VW doubles), vm_t (VW lane flags), vd_tab16_t (a 16-entry table).
 * Lane counts n below are >= 1; n >= VW means every lane.  Lanes past n read as 0 and are
 * not written.  Nothing reads or writes memory past the n elements asked for.
 *
 * Constants  vd_set1(d), vd_zero()
 * Loads      vd_load(const double *), vd_load_f32(const float *) (exact),
 *            vd_load_u8(const uint8_t *), vd_load_i8(const int8_t *)  (bool is u8);
 *            vd_loadn, vd_loadn_f32, vd_loadn_u8, vd_loadn_i8 (p, n): first n lanes
 * Stores     vd_store(double *, v), vd_store_f32(float *, v) (one rounding to nearest);
 *            vd_storen(p, v, n), vd_storen_f32(p, v, n): first n lanes
 * Arithmetic vd_add, vd_sub, vd_mul, vd_div (IEEE, correctly rounded), vd_neg, vd_abs,
 *            vd_min(a, b) = a < b ? a : b, vd_max(a, b) = a > b ? a : b (so b when either
 *            is NaN: put the operand that must propagate NaN second),
 *            vd_mla(a, b, c) = a*b + c, fused where the level has FMA, else two roundings
 *            (polynomials and Newton steps whose error analysis allows either),
 *            vd_nmla(a, b, c) = c - a*b, same rule,
 *            vd_fma(a, b, c) = a*b + c with one rounding: only #if CBCE__VEC_FMA
 * Exact      vd_two_prod(a, b, &lo): hi = a*b, lo = a*b - hi exactly (FMA or Dekker;
 *            Dekker needs |a|, |b| < 2^996 and no underflow), vd_two_sum(a, b, &lo)
 *            (Knuth, any order), vd_fast_two_sum(a, b, &lo) (needs |a| >= |b| or a == 0)
 * Reciprocal vd_rcp27(d): 1/d within 2^-27 relative, for |d| in [2^-120, 2^120] (AVX-512
 *            rcp14 + one Newton step; AVX2 rcpps + two; scalar division);
 *            vd_rcp50(d): within 2^-50 relative, same domain (one Newton step more).
 *            A residual step q += (num - q*d) * r makes num/d faithful.
 * Exponent   vd_scalef(v, n): v * 2^n, n integer-valued, one rounding (subnormal results
 *            rounded once); |n| > 2000 is clamped to 2000; exact on AVX-512 for every v,
 *            elsewhere for |v| in [2^-20, 2^20]; vd_ldexp(v, n): the same for n known
 *            to be in [-2000, 2000] (no clamping); vd_ldexp_floor(v, n): v * 2^floor(n),
 *            n in [-2000, 2000], the same rounding; vd_round(v): nearest integer, ties even;
 *            vd_getexp(v) = floor(log2 v) (integer-valued), vd_getmant(v) = v 2^-getexp(v)
 *            in [1, 2): both exact, for positive normal finite v only
 * Compare    vd_lt, vd_le, vd_gt, vd_ge, vd_eq (false with NaN), vd_ne (true with NaN)
 * Masks      vm_and, vm_or, vm_andnot(a, b) = a & ~b, vm_not, vm_first(n) (lanes < n),
 *            vm_any(m) (int), vm_all(m) (int)
 * Select     vd_select(m, a, b) = m ? a : b lane by lane
 * Bits       vd_and, vd_or, vd_xor, vd_andnot(a, b) = ~a & b (on the bit patterns)
 * Shifter    s = vd_mla(v, c, vd_set1(CBCE__VD_SHIFTER)) for |v c| < 2^50 holds the integer
 *            k nearest v c (v c rounded once where the level has FMA) in its low bits:
 *            s - CBCE__VD_SHIFTER = k exactly, and its last 4 bits are k mod 16
 * Table      vd_tab16_load(const double t[16]) (t must outlive the table),
 *            vd_tab16_get(tab, s): t[k mod 16] for a shifter s of k
 * Reduction  vd_hsum(v): the lanes summed in a fixed order, halves folded:
 *            VW 8: ((v0+v4)+(v2+v6)) + ((v1+v5)+(v3+v7)); VW 4: (v0+v2) + (v1+v3)
 * Rounding   vd_round_f32(v): v rounded to float (to nearest), back in double
 */
#ifndef CBCE_SIMD_VEC_H
#define CBCE_SIMD_VEC_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__)
#define CBCE__VI static inline __attribute__((always_inline))
#else
#define CBCE__VI static inline
#endif

/* 1.5 * 2^52: the doubles in [2^52, 2^53) are the integers, so adding it rounds to one */
#define CBCE__VD_SHIFTER 0x1.8p52

#if defined(__AVX512F__) && defined(__AVX512DQ__) && defined(__AVX512BW__) && \
    defined(__AVX512VL__)
#include "vec_avx512.h"
#elif defined(__AVX2__) && defined(__FMA__)
#include "vec_avx2.h"
#else
#include "vec_scalar.h"
#endif

/* ---- level-independent operations, written on the ones above ------------------------ */

CBCE__VI vd_t vd_two_prod(vd_t a, vd_t b, vd_t *lo)
{
    vd_t hi = vd_mul(a, b);
#if CBCE__VEC_FMA
    *lo = vd_fma(a, b, vd_neg(hi));
#else /* Dekker: split each factor into 26 + 27 bits (Veltkamp), products exact */
    const vd_t split = vd_set1(134217729.0); /* 2^27 + 1 */
    vd_t ta = vd_mul(split, a), tb = vd_mul(split, b);
    vd_t ah = vd_sub(ta, vd_sub(ta, a)), bh = vd_sub(tb, vd_sub(tb, b));
    vd_t al = vd_sub(a, ah), bl = vd_sub(b, bh);
    *lo = vd_add(vd_add(vd_add(vd_sub(vd_mul(ah, bh), hi), vd_mul(ah, bl)), vd_mul(al, bh)),
                 vd_mul(al, bl));
#endif
    return hi;
}

CBCE__VI vd_t vd_two_sum(vd_t a, vd_t b, vd_t *lo)
{
    vd_t s = vd_add(a, b), bb = vd_sub(s, a);
    *lo = vd_add(vd_sub(a, vd_sub(s, bb)), vd_sub(b, bb));
    return s;
}

CBCE__VI vd_t vd_fast_two_sum(vd_t a, vd_t b, vd_t *lo)
{
    vd_t s = vd_add(a, b);
    *lo = vd_sub(b, vd_sub(s, a));
    return s;
}

#ifndef CBCE__VEC_RCP_EXACT /* the scalar level divides */
CBCE__VI vd_t vd_rcp50(vd_t d)
{
    vd_t r = vd_rcp27(d);
    return vd_mla(r, vd_nmla(d, r, vd_set1(1.0)), r);
}
#endif

#endif
