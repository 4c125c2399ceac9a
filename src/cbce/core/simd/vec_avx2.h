/* vec_avx2.h -- the vector layer on AVX2 + FMA: 4 doubles; see vec.h.  Lane masks are
 * vectors of all-ones / all-zeros lanes. */
#include <immintrin.h>

#define CBCE__VW 4
#define CBCE__VEC_FMA 1
#define CBCE__VEC_NAME "avx2"

typedef __m256d vd_t;
typedef __m256d vm_t;
typedef struct { const double *t; } vd_tab16_t;

CBCE__VI vd_t vd_set1(double d) { return _mm256_set1_pd(d); }
CBCE__VI vd_t vd_zero(void) { return _mm256_setzero_pd(); }
CBCE__VI vm_t vm_first(size_t n)
{
    return _mm256_cmp_pd(_mm256_set_pd(3.0, 2.0, 1.0, 0.0),
                         _mm256_set1_pd(n >= 4 ? 4.0 : (double)n), _CMP_LT_OQ);
}

CBCE__VI vd_t vd_load(const double *p) { return _mm256_loadu_pd(p); }
CBCE__VI vd_t vd_load_f32(const float *p) { return _mm256_cvtps_pd(_mm_loadu_ps(p)); }
CBCE__VI vd_t vd_load_u8(const uint8_t *p)
{
    int32_t b;
    memcpy(&b, p, 4);
    return _mm256_cvtepi32_pd(_mm_cvtepu8_epi32(_mm_cvtsi32_si128(b)));
}
CBCE__VI vd_t vd_load_i8(const int8_t *p)
{
    int32_t b;
    memcpy(&b, p, 4);
    return _mm256_cvtepi32_pd(_mm_cvtepi8_epi32(_mm_cvtsi32_si128(b)));
}
/* Partial loads and stores go through a small zeroed buffer: no access past n. */
#define CBCE__VPART(T, p, n) T b_[4] = {0}; memcpy(b_, p, (n < 4 ? n : 4) * sizeof(T))
CBCE__VI vd_t vd_loadn(const double *p, size_t n) { CBCE__VPART(double, p, n); return vd_load(b_); }
CBCE__VI vd_t vd_loadn_f32(const float *p, size_t n) { CBCE__VPART(float, p, n); return vd_load_f32(b_); }
CBCE__VI vd_t vd_loadn_u8(const uint8_t *p, size_t n) { CBCE__VPART(uint8_t, p, n); return vd_load_u8(b_); }
CBCE__VI vd_t vd_loadn_i8(const int8_t *p, size_t n) { CBCE__VPART(int8_t, p, n); return vd_load_i8(b_); }
#undef CBCE__VPART

CBCE__VI void vd_store(double *p, vd_t v) { _mm256_storeu_pd(p, v); }
CBCE__VI void vd_store_f32(float *p, vd_t v) { _mm_storeu_ps(p, _mm256_cvtpd_ps(v)); }
CBCE__VI void vd_storen(double *p, vd_t v, size_t n)
{
    double b[4];
    _mm256_storeu_pd(b, v);
    memcpy(p, b, (n < 4 ? n : 4) * sizeof(double));
}
CBCE__VI void vd_storen_f32(float *p, vd_t v, size_t n)
{
    float b[4];
    _mm_storeu_ps(b, _mm256_cvtpd_ps(v));
    memcpy(p, b, (n < 4 ? n : 4) * sizeof(float));
}

CBCE__VI vd_t vd_add(vd_t a, vd_t b) { return _mm256_add_pd(a, b); }
CBCE__VI vd_t vd_sub(vd_t a, vd_t b) { return _mm256_sub_pd(a, b); }
CBCE__VI vd_t vd_mul(vd_t a, vd_t b) { return _mm256_mul_pd(a, b); }
CBCE__VI vd_t vd_div(vd_t a, vd_t b) { return _mm256_div_pd(a, b); }
CBCE__VI vd_t vd_neg(vd_t a) { return _mm256_xor_pd(a, _mm256_set1_pd(-0.0)); }
CBCE__VI vd_t vd_abs(vd_t a) { return _mm256_andnot_pd(_mm256_set1_pd(-0.0), a); }
CBCE__VI vd_t vd_min(vd_t a, vd_t b) { return _mm256_min_pd(a, b); }
CBCE__VI vd_t vd_max(vd_t a, vd_t b) { return _mm256_max_pd(a, b); }
CBCE__VI vd_t vd_fma(vd_t a, vd_t b, vd_t c) { return _mm256_fmadd_pd(a, b, c); }
CBCE__VI vd_t vd_mla(vd_t a, vd_t b, vd_t c) { return _mm256_fmadd_pd(a, b, c); }
CBCE__VI vd_t vd_nmla(vd_t a, vd_t b, vd_t c) { return _mm256_fnmadd_pd(a, b, c); }

CBCE__VI vd_t vd_rcp27(vd_t d)
{
    /* rcpps: 1.5 * 2^-12 relative; two Newton steps in double reach ~2^-45 */
    vd_t r = _mm256_cvtps_pd(_mm_rcp_ps(_mm256_cvtpd_ps(d))), one = _mm256_set1_pd(1.0);
    r = _mm256_fmadd_pd(r, _mm256_fnmadd_pd(d, r, one), r);
    return _mm256_fmadd_pd(r, _mm256_fnmadd_pd(d, r, one), r);
}

CBCE__VI vd_t vd_round(vd_t v)
{
    return _mm256_round_pd(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
CBCE__VI vd_t vd_round_f32(vd_t v) { return _mm256_cvtps_pd(_mm256_cvtpd_ps(v)); }
/* the exponent field as 2^52 + field (or'd into 2^52's mantissa), minus 2^52 + bias */
CBCE__VI vd_t vd_getexp(vd_t v)
{
    __m256i e = _mm256_srli_epi64(_mm256_castpd_si256(v), 52);
    __m256d b = _mm256_castsi256_pd(_mm256_or_si256(e, _mm256_set1_epi64x(0x4330000000000000)));
    return _mm256_sub_pd(b, _mm256_set1_pd(0x1p52 + 1023.0));
}
CBCE__VI vd_t vd_getmant(vd_t v)
{
    __m256i m = _mm256_and_si256(_mm256_castpd_si256(v), _mm256_set1_epi64x(0x000fffffffffffff));
    return _mm256_castsi256_pd(_mm256_or_si256(m, _mm256_set1_epi64x(0x3ff0000000000000)));
}

/* 2^k for integer-valued k in [-1022, 1023]: k + 1023 into the exponent field */
CBCE__VI vd_t vd_pow2i_(vd_t k)
{
    __m256d b = _mm256_add_pd(k, _mm256_set1_pd(1023.0 + 0x1.8p52));
    return _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_castpd_si256(b), 52));
}
CBCE__VI vd_t vd_ldexp(vd_t v, vd_t n)
{
    /* n = n1 + n2 with |n1|, |n2| <= 1000: v * 2^n1 is exact for |v| in [2^-20, 2^20],
     * the second product rounds once */
    vd_t n1 = _mm256_min_pd(_mm256_max_pd(n, _mm256_set1_pd(-1000.0)), _mm256_set1_pd(1000.0));
    return _mm256_mul_pd(_mm256_mul_pd(v, vd_pow2i_(n1)), vd_pow2i_(_mm256_sub_pd(n, n1)));
}
CBCE__VI vd_t vd_ldexp_floor(vd_t v, vd_t n) { return vd_ldexp(v, _mm256_floor_pd(n)); }
CBCE__VI vd_t vd_scalef(vd_t v, vd_t n)
{
    return vd_ldexp(v, _mm256_min_pd(_mm256_max_pd(n, _mm256_set1_pd(-2000.0)),
                                     _mm256_set1_pd(2000.0)));
}

CBCE__VI vm_t vd_lt(vd_t a, vd_t b) { return _mm256_cmp_pd(a, b, _CMP_LT_OQ); }
CBCE__VI vm_t vd_le(vd_t a, vd_t b) { return _mm256_cmp_pd(a, b, _CMP_LE_OQ); }
CBCE__VI vm_t vd_gt(vd_t a, vd_t b) { return _mm256_cmp_pd(a, b, _CMP_GT_OQ); }
CBCE__VI vm_t vd_ge(vd_t a, vd_t b) { return _mm256_cmp_pd(a, b, _CMP_GE_OQ); }
CBCE__VI vm_t vd_eq(vd_t a, vd_t b) { return _mm256_cmp_pd(a, b, _CMP_EQ_OQ); }
CBCE__VI vm_t vd_ne(vd_t a, vd_t b) { return _mm256_cmp_pd(a, b, _CMP_NEQ_UQ); }

CBCE__VI vm_t vm_and(vm_t a, vm_t b) { return _mm256_and_pd(a, b); }
CBCE__VI vm_t vm_or(vm_t a, vm_t b) { return _mm256_or_pd(a, b); }
CBCE__VI vm_t vm_andnot(vm_t a, vm_t b) { return _mm256_andnot_pd(b, a); }
CBCE__VI vm_t vm_not(vm_t a)
{
    return _mm256_xor_pd(a, _mm256_castsi256_pd(_mm256_set1_epi64x(-1)));
}
CBCE__VI int vm_any(vm_t m) { return _mm256_movemask_pd(m) != 0; }
CBCE__VI int vm_all(vm_t m) { return _mm256_movemask_pd(m) == 0xf; }

CBCE__VI vd_t vd_select(vm_t m, vd_t a, vd_t b) { return _mm256_blendv_pd(b, a, m); }

CBCE__VI vd_t vd_and(vd_t a, vd_t b) { return _mm256_and_pd(a, b); }
CBCE__VI vd_t vd_or(vd_t a, vd_t b) { return _mm256_or_pd(a, b); }
CBCE__VI vd_t vd_xor(vd_t a, vd_t b) { return _mm256_xor_pd(a, b); }
CBCE__VI vd_t vd_andnot(vd_t a, vd_t b) { return _mm256_andnot_pd(a, b); }

CBCE__VI vd_tab16_t vd_tab16_load(const double *t)
{
    vd_tab16_t r;
    r.t = t;
    return r;
}
CBCE__VI vd_t vd_tab16_get(vd_tab16_t t, vd_t s)
{
    __m256i k = _mm256_and_si256(_mm256_castpd_si256(s), _mm256_set1_epi64x(15));
    return _mm256_i64gather_pd(t.t, k, 8);
}

CBCE__VI double vd_hsum(vd_t v)
{
    __m128d q = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(q, _mm_unpackhi_pd(q, q)));
}
