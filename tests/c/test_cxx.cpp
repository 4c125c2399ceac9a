// test_cxx.cpp -- cbce.h compiled as C++ (C++98 up to C++20, -pedantic -Werror) and linked
// against the C library: the extern "C" block, the types and the enums work from C++.
#include "cbce.h"
#include "cbce.h" // the include guard holds

#include <cmath>
#include <cstdio>
#include <cstring>

int main()
{
    int failed = 0;
    if (cbce_version_number() != CBCE_VERSION_NUMBER) {
        std::printf("FAIL: library %u, header %d\n", cbce_version_number(), CBCE_VERSION_NUMBER);
        failed = 1;
    }
    const double x[3] = {0.0, 2.0, -1.0}, y[3] = {0.0, 1.0, 1.0};
    double loss[3], mean = 0.0;
    cbce_args_t a;
    std::memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.n = 3;
    a.input = cbce_vector(x, CBCE_F64, 3, 1);
    a.target = cbce_vector(y, CBCE_F64, 3, 1);
    a.reduction = CBCE_REDUCTION_NONE;
    int st = cbce_bce_logits_fwd_f64(&a, loss, 1, NULL);
    a.reduction = CBCE_REDUCTION_MEAN;
    if (st == CBCE_OK)
        st = cbce_bce_logits_fwd_f64(&a, NULL, 0, &mean);
    if (st != CBCE_OK) {
        std::printf("FAIL: status %d (%s)\n", st, cbce_status_string(st));
        return 1;
    }
    // softplus(0) = ln 2, softplus(-2), softplus(1)
    const double want[3] = {std::log(2.0), std::log(1.0 + std::exp(-2.0)),
                             std::log(1.0 + std::exp(1.0))};
    for (int i = 0; i < 3; i++)
        if (std::fabs(loss[i] - want[i]) > 4e-15 * want[i]) {
            std::printf("FAIL: loss[%d] = %.17g, want %.17g\n", i, loss[i], want[i]);
            failed = 1;
        }
    if (std::fabs(mean - (loss[0] + loss[1] + loss[2]) / 3) > 1e-15) {
        std::printf("FAIL: mean %.17g\n", mean);
        failed = 1;
    }
    cbce_status_t ok = CBCE_OK;
    cbce_dtype_t dt = CBCE_F32;
    cbce_reduction_t red = CBCE_REDUCTION_SUM;
    cbce_simd_t simd = CBCE_SIMD_AUTO;
    std::printf("%s: C++ %ld, cbce %s, %s, simd %s\n", failed ? "FAILED" : "ok",
                static_cast<long>(__cplusplus), cbce_version_string(), cbce_status_string(ok),
                cbce_simd_name(cbce_simd_level(simd)));
    return failed + static_cast<int>(dt) * 0 + static_cast<int>(red) * 0;
}
