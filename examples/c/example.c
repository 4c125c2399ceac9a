/*
 * example.c -- using the installed cbce C library: the mean BCE-with-logits loss of a small
 * batch, its gradient, and a per-class pos_weight broadcast without a copy.
 *
 * Build and run, after `make install` or `cmake --install` (PKG_CONFIG_PATH=<prefix>/lib/pkgconfig
 * when pkg-config does not search that prefix; -lm for the check against libm below):
 *     cc example.c $(pkg-config --cflags --libs cbce) -lm -o example
 *     LD_LIBRARY_PATH=$(pkg-config --variable=libdir cbce) ./example
 * or with the static library, nothing to find at run time:
 *     cc example.c $(pkg-config --cflags cbce) $(pkg-config --variable=libdir cbce)/libcbce.a -lm -pthread -o example-static
 *     ./example-static
 * The Makefile here does the same (`make`, `make example-static`); with CMake:
 * find_package(cbce) + target_link_libraries(example PRIVATE cbce::cbce), see CMakeLists.txt.
 * CI (.ci/embed.sh) runs the four commands above as they are written here.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cbce.h>

#define ROWS 2
#define COLS 3

int main(void)
{
    /* a (2, 3) batch of logits and 0/1 labels (uint8: read as they are, no converted copy) */
    const float logits[ROWS * COLS] = {1.5f, -0.5f, 3.0f, -2.0f, 0.25f, 40.0f};
    const unsigned char labels[ROWS * COLS] = {1, 0, 1, 0, 1, 1};
    const float pos_weight[COLS] = {1.0f, 2.0f, 0.5f}; /* shape (C,): one per column */
    float loss = 0.0f, grad[ROWS * COLS];
    cbce_args_t a;
    int st, i;

    memset(&a, 0, sizeof a); /* every option at its default */

    a.size = sizeof a;
    a.n = ROWS * COLS;
    a.input = cbce_vector(logits, CBCE_F32, ROWS * COLS, 1);
    a.target = cbce_vector(labels, CBCE_U8, ROWS * COLS, 1);
    a.pos_weight = cbce_vector(pos_weight, CBCE_F32, COLS, 1); /* period COLS: broadcast */
    a.reduction = CBCE_REDUCTION_MEAN;

    st = cbce_bce_logits_fwd_bwd_f32(&a, NULL, 0, &loss, grad, 1);
    if (st != CBCE_OK) {
        fprintf(stderr, "cbce: %s\n", cbce_status_string(st));
        return 1;
    }
    printf("cbce %s (header %d.%d.%d), kernels: %s\n", cbce_version_string(),
           CBCE_VERSION_MAJOR, CBCE_VERSION_MINOR, CBCE_VERSION_PATCH,
           cbce_simd_name(cbce_simd_level(CBCE_SIMD_AUTO)));
    printf("mean loss %.9g\ngrad", loss);
    for (i = 0; i < ROWS * COLS; i++)
        printf(" %.6g", grad[i]);
    printf("\n");

    /* errors are status codes, never aborts or prints */
    a.reduction = 42;
    st = cbce_bce_logits_fwd_f32(&a, NULL, 0, &loss);
    printf("reduction 42 -> status %d: %s\n", st, cbce_status_string(st));

    /* check the mean against the plain formula, in double */
    {
        double s = 0.0;
        for (i = 0; i < ROWS * COLS; i++) {
            double x = logits[i], y = labels[i], p = pos_weight[i % COLS];
            double sp = x > 0 ? log1p(exp(-x)) : -x + log1p(exp(x)); /* softplus(-x) */
            s += (1 - y) * x + (1 + (p - 1) * y) * sp;
        }
        s /= ROWS * COLS;
        if (fabs(loss - s) > 1e-6 * s || st != CBCE_ERR_REDUCTION) {
            fprintf(stderr, "unexpected: loss %.9g, formula %.9g, status %d\n", loss, s, st);
            return 1;
        }
    }
    return 0;
}
