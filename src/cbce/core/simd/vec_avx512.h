/* vec_avx512.h -- the vector layer on AVX-512 (F, DQ, BW, VL): 8 doubles; see vec.h. */
#include <immintrin.h>

#define CBCE__VW 8
#define CBCE__VEC_FMA 1
#define CBCE__VEC_NAME "avx512"

typedef __m512d vd_t;
typedef __mmask8 vm_t;
typedef struct { __m512d lo, hi; } vd_tab16_t;

CBCE__VI vd_t vd_set1(double d) { return _mm512_set1_pd(d); }
CBCE__VI vd_t vd_zero(void) { return _mm512_setzero_pd(); }
CBCE__VI vm_t vm_first(size_t n) { return n >= 8 ? (vm_t)0xff : (vm_t)((1u << n) - 1u); }

CBCE__VI vd_t vd_load(const double *p) { return _mm512_loadu_pd(p); }
CBCE__VI vd_t vd_load_f32(const float *p) { return _mm512_cvtps_pd(_mm256_loadu_ps(p)); }
CBCE__VI vd_t vd_load_u8(const uint8_t *p)
{
    return _mm512_cvtepi32_pd(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p)));
}
CBCE__VI vd_t vd_load_i8(const int8_t *p)
{
    return _mm512_cvtepi32_pd(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p)));
}
CBCE__VI vd_t vd_loadn(const double *p, size_t n) { return _mm512_maskz_loadu_pd(vm_first(n), p); }
CBCE__VI vd_t vd_loadn_f32(const float *p, size_t n)
{
    return _mm512_cvtps_pd(_mm256_maskz_loadu_ps(vm_first(n), p));
}
CBCE__VI vd_t vd_loadn_u8(const uint8_t *p, size_t n)
{
    return _mm512_cvtepi32_pd(_mm256_cvtepu8_epi32(_mm_maskz_loadu_epi8(vm_first(n), p)));
}
CBCE__VI vd_t vd_loadn_i8(const int8_t *p, size_t n)
{
    return _mm512_cvtepi32_pd(_mm256_cvtepi8_epi32(_mm_maskz_loadu_epi8(vm_first(n), p)));
}

CBCE__VI void vd_store(double *p, vd_t v) { _mm512_storeu_pd(p, v); }
CBCE__VI void vd_store_f32(float *p, vd_t v) { _mm256_storeu_ps(p, _mm512_cvtpd_ps(v)); }
CBCE__VI void vd_storen(double *p, vd_t v, size_t n) { _mm512_mask_storeu_pd(p, vm_first(n), v); }
CBCE__VI void vd_storen_f32(float *p, vd_t v, size_t n)
{
    _mm256_mask_storeu_ps(p, vm_first(n), _mm512_cvtpd_ps(v));
}

CBCE__VI vd_t vd_add(vd_t a, vd_t b) { return _mm512_add_pd(a, b); }
CBCE__VI vd_t vd_sub(vd_t a, vd_t b) { return _mm512_sub_pd(a, b); }
CBCE__VI vd_t vd_mul(vd_t a, vd_t b) { return _mm512_mul_pd(a, b); }
CBCE__VI vd_t vd_div(vd_t a, vd_t b) { return _mm512_div_pd(a, b); }
CBCE__VI vd_t vd_neg(vd_t a) { return _mm512_xor_pd(a, _mm512_set1_pd(-0.0)); }
CBCE__VI vd_t vd_abs(vd_t a) { return _mm512_abs_pd(a); }
CBCE__VI vd_t vd_min(vd_t a, vd_t b) { return _mm512_min_pd(a, b); }
CBCE__VI vd_t vd_max(vd_t a, vd_t b) { return _mm512_max_pd(a, b); }
CBCE__VI vd_t vd_fma(vd_t a, vd_t b, vd_t c) { return _mm512_fmadd_pd(a, b, c); }
CBCE__VI vd_t vd_mla(vd_t a, vd_t b, vd_t c) { return _mm512_fmadd_pd(a, b, c); }
CBCE__VI vd_t vd_nmla(vd_t a, vd_t b, vd_t c) { return _mm512_fnmadd_pd(a, b, c); }

CBCE__VI vd_t vd_rcp27(vd_t d)
{
    vd_t r = _mm512_rcp14_pd(d); /* 2^-14 relative: one Newton step squares it */
    return _mm512_fmadd_pd(r, _mm512_fnmadd_pd(d, r, _mm512_set1_pd(1.0)), r);
}

CBCE__VI vd_t vd_scalef(vd_t v, vd_t n)
{
    n = _mm512_min_pd(_mm512_max_pd(n, _mm512_set1_pd(-2000.0)), _mm512_set1_pd(2000.0));
    return _mm512_scalef_pd(v, n);
}
CBCE__VI vd_t vd_ldexp(vd_t v, vd_t n) { return _mm512_scalef_pd(v, n); }
CBCE__VI vd_t vd_ldexp_floor(vd_t v, vd_t n) { return _mm512_scalef_pd(v, n); }
CBCE__VI vd_t vd_round(vd_t v)
{
    return _mm512_roundscale_pd(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
CBCE__VI vd_t vd_round_f32(vd_t v) { return _mm512_cvtps_pd(_mm512_cvtpd_ps(v)); }
CBCE__VI vd_t vd_getexp(vd_t v) { return _mm512_getexp_pd(v); }
CBCE__VI vd_t vd_getmant(vd_t v)
{
    return _mm512_getmant_pd(v, _MM_MANT_NORM_1_2, _MM_MANT_SIGN_src);
}

CBCE__VI vm_t vd_lt(vd_t a, vd_t b) { return _mm512_cmp_pd_mask(a, b, _CMP_LT_OQ); }
CBCE__VI vm_t vd_le(vd_t a, vd_t b) { return _mm512_cmp_pd_mask(a, b, _CMP_LE_OQ); }
CBCE__VI vm_t vd_gt(vd_t a, vd_t b) { return _mm512_cmp_pd_mask(a, b, _CMP_GT_OQ); }
CBCE__VI vm_t vd_ge(vd_t a, vd_t b) { return _mm512_cmp_pd_mask(a, b, _CMP_GE_OQ); }
CBCE__VI vm_t vd_eq(vd_t a, vd_t b) { return _mm512_cmp_pd_mask(a, b, _CMP_EQ_OQ); }
CBCE__VI vm_t vd_ne(vd_t a, vd_t b) { return _mm512_cmp_pd_mask(a, b, _CMP_NEQ_UQ); }

CBCE__VI vm_t vm_and(vm_t a, vm_t b) { return (vm_t)(a & b); }
CBCE__VI vm_t vm_or(vm_t a, vm_t b) { return (vm_t)(a | b); }
CBCE__VI vm_t vm_andnot(vm_t a, vm_t b) { return (vm_t)(a & ~b); }
CBCE__VI vm_t vm_not(vm_t a) { return (vm_t)~a; }
CBCE__VI int vm_any(vm_t m) { return m != 0; }
CBCE__VI int vm_all(vm_t m) { return m == 0xff; }

CBCE__VI vd_t vd_select(vm_t m, vd_t a, vd_t b) { return _mm512_mask_blend_pd(m, b, a); }

CBCE__VI vd_t vd_and(vd_t a, vd_t b) { return _mm512_and_pd(a, b); }
CBCE__VI vd_t vd_or(vd_t a, vd_t b) { return _mm512_or_pd(a, b); }
CBCE__VI vd_t vd_xor(vd_t a, vd_t b) { return _mm512_xor_pd(a, b); }
CBCE__VI vd_t vd_andnot(vd_t a, vd_t b) { return _mm512_andnot_pd(a, b); }

CBCE__VI vd_tab16_t vd_tab16_load(const double *t)
{
    vd_tab16_t r;
    r.lo = _mm512_loadu_pd(t);
    r.hi = _mm512_loadu_pd(t + 8);
    return r;
}
CBCE__VI vd_t vd_tab16_get(vd_tab16_t t, vd_t s)
{
    return _mm512_permutex2var_pd(t.lo, _mm512_castpd_si512(s), t.hi); /* reads bits 0-3 */
}

CBCE__VI double vd_hsum(vd_t v)
{
    __m256d h = _mm256_add_pd(_mm512_castpd512_pd256(v), _mm512_extractf64x4_pd(v, 1));
    __m128d q = _mm_add_pd(_mm256_castpd256_pd128(h), _mm256_extractf128_pd(h, 1));
    return _mm_cvtsd_f64(_mm_add_sd(q, _mm_unpackhi_pd(q, q)));
}
