/* vec_scalar.h -- the vector layer in portable C99: one double per vector; see vec.h. */

#define CBCE__VW 1
#if defined(FP_FAST_FMA)
#define CBCE__VEC_FMA 1
#else
#define CBCE__VEC_FMA 0
#endif
#define CBCE__VEC_NAME "scalar"

typedef double vd_t;
typedef int vm_t;
typedef struct { const double *t; } vd_tab16_t;

CBCE__VI vd_t vd_set1(double d) { return d; }
CBCE__VI vd_t vd_zero(void) { return 0.0; }
CBCE__VI vm_t vm_first(size_t n) { return n >= 1; }

CBCE__VI vd_t vd_load(const double *p) { return *p; }
CBCE__VI vd_t vd_load_f32(const float *p) { return (double)*p; }
CBCE__VI vd_t vd_load_u8(const uint8_t *p) { return (double)*p; }
CBCE__VI vd_t vd_load_i8(const int8_t *p) { return (double)*p; }
CBCE__VI vd_t vd_loadn(const double *p, size_t n) { return n ? *p : 0.0; }
CBCE__VI vd_t vd_loadn_f32(const float *p, size_t n) { return n ? (double)*p : 0.0; }
CBCE__VI vd_t vd_loadn_u8(const uint8_t *p, size_t n) { return n ? (double)*p : 0.0; }
CBCE__VI vd_t vd_loadn_i8(const int8_t *p, size_t n) { return n ? (double)*p : 0.0; }

CBCE__VI void vd_store(double *p, vd_t v) { *p = v; }
CBCE__VI void vd_store_f32(float *p, vd_t v) { *p = (float)v; }
CBCE__VI void vd_storen(double *p, vd_t v, size_t n) { if (n) *p = v; }
CBCE__VI void vd_storen_f32(float *p, vd_t v, size_t n) { if (n) *p = (float)v; }

CBCE__VI vd_t vd_add(vd_t a, vd_t b) { return a + b; }
CBCE__VI vd_t vd_sub(vd_t a, vd_t b) { return a - b; }
CBCE__VI vd_t vd_mul(vd_t a, vd_t b) { return a * b; }
CBCE__VI vd_t vd_div(vd_t a, vd_t b) { return a / b; }
CBCE__VI vd_t vd_neg(vd_t a) { return -a; }
CBCE__VI vd_t vd_abs(vd_t a) { return fabs(a); }
CBCE__VI vd_t vd_min(vd_t a, vd_t b) { return a < b ? a : b; }
CBCE__VI vd_t vd_max(vd_t a, vd_t b) { return a > b ? a : b; }
#if CBCE__VEC_FMA
CBCE__VI vd_t vd_fma(vd_t a, vd_t b, vd_t c) { return fma(a, b, c); }
CBCE__VI vd_t vd_mla(vd_t a, vd_t b, vd_t c) { return fma(a, b, c); }
CBCE__VI vd_t vd_nmla(vd_t a, vd_t b, vd_t c) { return fma(-a, b, c); }
#else
CBCE__VI vd_t vd_mla(vd_t a, vd_t b, vd_t c) { return a * b + c; }
CBCE__VI vd_t vd_nmla(vd_t a, vd_t b, vd_t c) { return c - a * b; }
#endif

#define CBCE__VEC_RCP_EXACT 1
CBCE__VI vd_t vd_rcp27(vd_t d) { return 1.0 / d; }
CBCE__VI vd_t vd_rcp50(vd_t d) { return 1.0 / d; }

/* nearest integer, ties to even, without the rounding-mode dependence of rint: adding and
 * subtracting 2^52 (same sign) rounds away the fraction when |v| < 2^52 */
CBCE__VI vd_t vd_round(vd_t v)
{
    double s = v < 0 ? -0x1p52 : 0x1p52;
    return fabs(v) < 0x1p52 ? (v + s) - s : v;
}
CBCE__VI vd_t vd_round_f32(vd_t v) { return (double)(float)v; }

CBCE__VI vd_t vd_scalef(vd_t v, vd_t n)
{
    if (n != n)
        return v + n;
    return ldexp(v, n < -2000.0 ? -2000 : n > 2000.0 ? 2000 : (int)n);
}
CBCE__VI vd_t vd_ldexp(vd_t v, vd_t n) { return n != n ? v + n : ldexp(v, (int)n); }
CBCE__VI vd_t vd_ldexp_floor(vd_t v, vd_t n) { return vd_ldexp(v, floor(n)); }

CBCE__VI vm_t vd_lt(vd_t a, vd_t b) { return a < b; }
CBCE__VI vm_t vd_le(vd_t a, vd_t b) { return a <= b; }
CBCE__VI vm_t vd_gt(vd_t a, vd_t b) { return a > b; }
CBCE__VI vm_t vd_ge(vd_t a, vd_t b) { return a >= b; }
CBCE__VI vm_t vd_eq(vd_t a, vd_t b) { return a == b; }
CBCE__VI vm_t vd_ne(vd_t a, vd_t b) { return !(a == b); }

CBCE__VI vm_t vm_and(vm_t a, vm_t b) { return a & b; }
CBCE__VI vm_t vm_or(vm_t a, vm_t b) { return a | b; }
CBCE__VI vm_t vm_andnot(vm_t a, vm_t b) { return a & !b; }
CBCE__VI vm_t vm_not(vm_t a) { return !a; }
CBCE__VI int vm_any(vm_t m) { return m; }
CBCE__VI int vm_all(vm_t m) { return m; }

CBCE__VI vd_t vd_select(vm_t m, vd_t a, vd_t b) { return m ? a : b; }

CBCE__VI uint64_t vd_bits_(vd_t a) { uint64_t u; memcpy(&u, &a, 8); return u; }
CBCE__VI vd_t vd_from_bits_(uint64_t u) { double a; memcpy(&a, &u, 8); return a; }
CBCE__VI vd_t vd_and(vd_t a, vd_t b) { return vd_from_bits_(vd_bits_(a) & vd_bits_(b)); }
CBCE__VI vd_t vd_or(vd_t a, vd_t b) { return vd_from_bits_(vd_bits_(a) | vd_bits_(b)); }
CBCE__VI vd_t vd_xor(vd_t a, vd_t b) { return vd_from_bits_(vd_bits_(a) ^ vd_bits_(b)); }
CBCE__VI vd_t vd_andnot(vd_t a, vd_t b) { return vd_from_bits_(~vd_bits_(a) & vd_bits_(b)); }

CBCE__VI vd_t vd_getexp(vd_t v) { return (double)(int)(vd_bits_(v) >> 52) - 1023.0; }
CBCE__VI vd_t vd_getmant(vd_t v)
{
    return vd_from_bits_((vd_bits_(v) & 0x000fffffffffffffu) | 0x3ff0000000000000u);
}

CBCE__VI vd_tab16_t vd_tab16_load(const double *t)
{
    vd_tab16_t r;
    r.t = t;
    return r;
}
CBCE__VI vd_t vd_tab16_get(vd_tab16_t t, vd_t s)
{
    uint64_t u;
    memcpy(&u, &s, sizeof u);
    return t.t[u & 15];
}

CBCE__VI double vd_hsum(vd_t v) { return v; }
