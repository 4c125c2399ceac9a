/*
 * test_vec.c -- the vector layer (src/cbce/core/simd/vec.h) against plain C at the level
 * this file is compiled for (compile it once per level: no flags, -mavx2 -mfma,
 * -mavx512f -mavx512dq -mavx512bw -mavx512vl).  Prints the failures; exit status 1 if any.
 */
#include <float.h>
#include <stdio.h>

#include "simd/vec.h"

#define W CBCE__VW
static int fails;
#define CHECK(cond, ...)                                                                  \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            printf("FAIL %s:%d ", CBCE__VEC_NAME, __LINE__);                              \
            printf(__VA_ARGS__);                                                          \
            printf("\n");                                                                 \
            fails++;                                                                      \
        }                                                                                 \
    } while (0)

static void lanes(vd_t v, double *out) { vd_store(out, v); }

int main(void)
{
    double d[16], o[16], t[16];
    float f[16], fo[16];
    uint8_t u[16];
    int8_t s8[16];
    size_t i, n;
    for (i = 0; i < 16; i++) {
        d[i] = 1.5 * (double)i - 7.25;
        f[i] = (float)d[i] + 0.125f;
        u[i] = (uint8_t)(250 - i);
        s8[i] = (int8_t)(i * 17 - 128);
        t[i] = 100.0 + (double)i;
    }
    lanes(vd_load_u8(u), o);
    for (i = 0; i < W; i++)
        CHECK(o[i] == (double)u[i], "load_u8 lane %zu", i);
    lanes(vd_load_i8(s8), o);
    for (i = 0; i < W; i++)
        CHECK(o[i] == (double)s8[i], "load_i8 lane %zu", i);
    for (n = 1; n <= W; n++) {
        lanes(vd_loadn(d, n), o);
        for (i = 0; i < W; i++)
            CHECK(o[i] == (i < n ? d[i] : 0.0), "loadn n=%zu lane %zu", n, i);
        lanes(vd_loadn_f32(f, n), o);
        for (i = 0; i < W; i++)
            CHECK(o[i] == (i < n ? (double)f[i] : 0.0), "loadn_f32 n=%zu lane %zu", n, i);
        lanes(vd_loadn_u8(u, n), o);
        for (i = 0; i < W; i++)
            CHECK(o[i] == (i < n ? (double)u[i] : 0.0), "loadn_u8 n=%zu lane %zu", n, i);
        lanes(vd_loadn_i8(s8, n), o);
        for (i = 0; i < W; i++)
            CHECK(o[i] == (i < n ? (double)s8[i] : 0.0), "loadn_i8 n=%zu lane %zu", n, i);
        for (i = 0; i < 16; i++)
            fo[i] = -1.0f, o[i] = -1.0;
        vd_storen_f32(fo, vd_set1(1.0 / 3.0), n);
        vd_storen(o, vd_set1(0.25), n);
        for (i = 0; i < 16; i++) {
            CHECK(fo[i] == (i < n ? (float)(1.0 / 3.0) : -1.0f), "storen_f32 n=%zu %zu", n, i);
            CHECK(o[i] == (i < n ? 0.25 : -1.0), "storen n=%zu lane %zu", n, i);
        }
        CHECK(vm_all(vm_first(n)) == (n == W), "vm_first(%zu)", n);
    }
    /* scalef: exact scaling, one rounding into the subnormals, clamping */
    {
        double v[4] = {1.2345678901234567, 0.7, 1.9999999999999998, 1.0};
        double k[4] = {-1074.0, -1060.5 + 0.5, 1023.0, -3000.0};
        for (i = 0; i < 4; i++) {
            double want = ldexp(v[i], k[i] < -2000 ? -2000 : (int)k[i]);
            lanes(vd_scalef(vd_set1(v[i]), vd_set1(k[i])), o);
            CHECK(o[0] == want, "scalef(%a, %g) = %a, want %a", v[i], k[i], o[0], want);
            if (k[i] >= -2000) {
                lanes(vd_ldexp(vd_set1(v[i]), vd_set1(k[i])), o);
                CHECK(o[0] == want, "ldexp(%a, %g) = %a, want %a", v[i], k[i], o[0], want);
                /* floor: k - 0.75 scales by 2^(k-1) */
                lanes(vd_ldexp_floor(vd_set1(v[i]), vd_set1(k[i] - 0.75)), o);
                want = ldexp(v[i], (int)k[i] - 1);
                CHECK(o[0] == want, "ldexp_floor(%a, %g) = %a, want %a", v[i], k[i] - 0.75,
                      o[0], want);
            }
        }
    }
    /* round: ties to even, negatives, large */
    {
        double v[6] = {2.5, -2.5, 3.5, -0.4999999999999999, 1e300, -4503599627370497.0};
        double w[6] = {2.0, -2.0, 4.0, -0.0, 1e300, -4503599627370497.0};
        for (i = 0; i < 6; i++) {
            lanes(vd_round(vd_set1(v[i])), o);
            CHECK(o[0] == w[i], "round(%a) = %a", v[i], o[0]);
        }
    }
    /* getexp / getmant against frexp, over the float range and a few doubles */
    {
        double v[8] = {1.0, 0x1.fffffffffffffp-1, 0x1p-149, 0x1.8p-126, 3.0e38, 0.75,
                       0x1p-1022, 0x1.fffffffffffffp+1023};
        for (i = 0; i < 8; i++) {
            int e;
            double fr = frexp(v[i], &e);
            lanes(vd_getexp(vd_set1(v[i])), o);
            CHECK(o[0] == (double)(e - 1), "getexp(%a) = %g", v[i], o[0]);
            lanes(vd_getmant(vd_set1(v[i])), o);
            CHECK(o[0] == 2.0 * fr, "getmant(%a) = %a", v[i], o[0]);
        }
    }
    /* reciprocals */
    for (i = 0; i < 1000; i++) {
        double x = 1.0 + (double)i * 0.002137, r27, r50;
        lanes(vd_rcp27(vd_set1(x)), o);
        r27 = o[0];
        lanes(vd_rcp50(vd_set1(x)), o);
        r50 = o[0];
        CHECK(fabs(r27 * x - 1.0) < 0x1p-27, "rcp27(%a) rel %g", x, r27 * x - 1.0);
        CHECK(fabs(r50 * x - 1.0) < 0x1p-50, "rcp50(%a) rel %g", x, r50 * x - 1.0);
    }
    /* two_prod exact: (1+2^-30)^2 = 1 + 2^-29 + 2^-60 */
    {
        vd_t lo, hi = vd_two_prod(vd_set1(1.0 + 0x1p-30), vd_set1(1.0 + 0x1p-30), &lo);
        lanes(hi, o);
        lanes(lo, t);
        CHECK(o[0] == 1.0 + 0x1p-29 && t[0] == 0x1p-60, "two_prod %a %a", o[0], t[0]);
        hi = vd_two_sum(vd_set1(1.0), vd_set1(0x1p-60), &lo);
        lanes(hi, o);
        lanes(lo, t);
        CHECK(o[0] == 1.0 && t[0] == 0x1p-60, "two_sum %a %a", o[0], t[0]);
    }
    /* min/max NaN rule, select, compares, bits, table, hsum */
    {
        vd_t nan = vd_set1(NAN), one = vd_set1(1.0);
        lanes(vd_min(nan, one), o);
        CHECK(o[0] == 1.0, "min(NaN, 1)");
        lanes(vd_min(one, nan), o);
        CHECK(o[0] != o[0], "min(1, NaN)");
        lanes(vd_max(one, nan), o);
        CHECK(o[0] != o[0], "max(1, NaN)");
        CHECK(vm_all(vd_ne(nan, nan)) && !vm_any(vd_eq(nan, nan)), "ne/eq NaN");
        CHECK(!vm_any(vd_lt(nan, one)) && vm_all(vd_le(one, one)) && vm_all(vd_ge(one, one)),
              "lt/le/ge");
        lanes(vd_select(vd_gt(vd_load(d), vd_zero()), vd_load(d), vd_neg(vd_load(d))), o);
        for (i = 0; i < W; i++)
            CHECK(o[i] == fabs(d[i]), "select lane %zu", i);
        lanes(vd_abs(vd_load(d)), o);
        for (i = 0; i < W; i++)
            CHECK(o[i] == fabs(d[i]), "abs lane %zu", i);
        lanes(vd_xor(vd_set1(2.0), vd_set1(-0.0)), o);
        CHECK(o[0] == -2.0, "xor");
        lanes(vd_andnot(vd_set1(-0.0), vd_set1(-3.0)), o);
        CHECK(o[0] == 3.0, "andnot");
        {
            vd_tab16_t tb = vd_tab16_load(t);
            /* a shifter of k picks t[k mod 16], negative k included */
            double v[8] = {15.2, 0.4, -7.0, 8.5, 3.49, -12.6, 1.0, -1.5}, s[8];
            int k[8] = {15, 0, 9, 8, 3, 3, 1, 14};
            for (i = 0; i < 8; i++)
                s[i] = (v[i] + CBCE__VD_SHIFTER) - CBCE__VD_SHIFTER;
            CHECK(s[3] == 8.0 && s[7] == -2.0 && s[5] == -13.0, "shifter rounding");
            lanes(vd_tab16_get(tb, vd_mla(vd_load(v), vd_set1(1.0), vd_set1(CBCE__VD_SHIFTER))),
                  o);
            for (i = 0; i < W; i++)
                CHECK(o[i] == t[k[i]], "tab16 lane %zu: %a, want t[%d]", i, o[i], k[i]);
        }
        {
            double h[8] = {1e16, 1.0, -1e16, 1.0, 3.0, 5.0, 7.0, 11.0}, want;
            want = W == 8 ? ((h[0] + h[4]) + (h[2] + h[6])) + ((h[1] + h[5]) + (h[3] + h[7]))
                 : W == 4 ? (h[0] + h[2]) + (h[1] + h[3]) : h[0];
            CHECK(vd_hsum(vd_load(h)) == want, "hsum %a want %a", vd_hsum(vd_load(h)), want);
        }
        lanes(vd_round_f32(vd_set1(1.0 / 3.0)), o);
        CHECK(o[0] == (double)(float)(1.0 / 3.0), "round_f32");
    }
    printf("%s (%d lanes): %s\n", CBCE__VEC_NAME, W, fails ? "FAILED" : "ok");
    return fails != 0;
}
