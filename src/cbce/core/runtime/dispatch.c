/*
 * dispatch.c -- which instruction-set level a call runs at.
 *
 * Asked every call (no cached global): __builtin_cpu_supports reads what libgcc found at
 * start-up, which includes the OS's consent (XGETBV) for the AVX and AVX-512 registers.
 */
#include "internal.h"

static int best_level(void)
{
#if CBCE__HAVE_X86_VARIANTS
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        return CBCE_SIMD_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return CBCE_SIMD_AVX2;
#endif
    return CBCE_SIMD_BASELINE;
}

int cbce_simd_level(int requested)
{
    int best = best_level();
    if (requested <= CBCE_SIMD_AUTO || requested > best)
        return best;
    return requested;
}

const char *cbce_simd_name(int level)
{
    switch (level) {
    case CBCE_SIMD_AUTO: return "auto";
    case CBCE_SIMD_SCALAR: return "scalar";
    case CBCE_SIMD_BASELINE: return "baseline";
    case CBCE_SIMD_AVX2: return "avx2";
    case CBCE_SIMD_AVX512: return "avx512";
    default: return "unknown";
    }
}
