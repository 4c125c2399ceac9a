/*
 * bench_logits.c -- elements per second of the BCE-with-logits kernels (not a test).
 * Build and run: tests/c/run_bench.sh.  10^6 elements, x ~ N(0, 4) clipped to +-30 plus a
 * few large values, y soft in [0, 1]; one thread; best of several repetitions.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cbce.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts); /* CPU time: the machine is shared */
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

#define N 1000000

int main(int argc, char **argv)
{
    static float xf[N], yf[N], of[N], gf[N], hf[N];
    static double xd[N], yd[N], od[N], gd[N], hd[N];
    int simd = argc > 1 ? atoi(argv[1]) : 0, k, r;
    size_t i;
    unsigned s = 12345;
    float rf;
    double rd;
    srand(1);
    for (i = 0; i < N; i++) {
        double u = 0;
        for (k = 0; k < 4; k++) {
            s = s * 1103515245u + 12345u;
            u += (s >> 8) / 16777216.0 - 0.5;
        }
        xd[i] = u * 8.0;
        s = s * 1103515245u + 12345u;
        yd[i] = (s >> 8) / 16777216.0;
        if (i % 97 == 0)
            xd[i] *= 30;
        xf[i] = (float)xd[i];
        yf[i] = (float)yd[i];
    }
    printf("SIMD level %s\n", cbce_simd_name(cbce_simd_level(simd)));
    for (k = 0; k < 2; k++) {
        const char *names[4] = {"fwd mean", "fwd none", "fwd_bwd mean", "grad_hess"};
        int f;
        for (f = 0; f < 4; f++) {
            double best = 1e30;
            cbce_args_t a;
            memset(&a, 0, sizeof a);
            a.size = sizeof a;
            a.n = N;
            a.input = cbce_vector(k ? (void *)xd : (void *)xf, k ? CBCE_F64 : CBCE_F32, N, 1);
            a.target = cbce_vector(k ? (void *)yd : (void *)yf, k ? CBCE_F64 : CBCE_F32, N, 1);
            a.reduction = (f == 0 || f == 2) ? CBCE_REDUCTION_MEAN : CBCE_REDUCTION_NONE;
            a.num_threads = 1;
            a.simd = simd;
            a.alpha = 0.0 / 0.0;
            for (r = 0; r < 7; r++) {
                double t0 = now(), t;
                if (k == 0) {
                    if (f == 0) cbce_bce_logits_fwd_f32(&a, NULL, 0, &rf);
                    if (f == 1) cbce_bce_logits_fwd_f32(&a, of, 1, NULL);
                    if (f == 2) cbce_bce_logits_fwd_bwd_f32(&a, NULL, 0, &rf, gf, 1);
                    if (f == 3) cbce_bce_logits_grad_hess_f32(&a, gf, 1, hf, 1);
                } else {
                    if (f == 0) cbce_bce_logits_fwd_f64(&a, NULL, 0, &rd);
                    if (f == 1) cbce_bce_logits_fwd_f64(&a, od, 1, NULL);
                    if (f == 2) cbce_bce_logits_fwd_bwd_f64(&a, NULL, 0, &rd, gd, 1);
                    if (f == 3) cbce_bce_logits_grad_hess_f64(&a, gd, 1, hd, 1);
                }
                t = now() - t0;
                if (t < best)
                    best = t;
            }
            printf("%s %-13s %8.1f Melem/s\n", k ? "f64" : "f32", names[f], N / best / 1e6);
        }
    }
    return 0;
}
