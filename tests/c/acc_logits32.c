/*
 * acc_logits32.c -- maximum error of float32 BCE with logits (loss, gradient, hessian) on
 * every SIMD level against a long double reference (the cancellation-free formulas with
 * expl/log1pl: ~2^-62 relative on x86-64), over N points (default 10^7) per case:
 * edge values (+-0, subnormals, 15.9-17, 87-104, FLT_MAX, inf) and random ones (random bit
 * patterns over the whole range, uniform on [-30, 30] and [-110, 110], small |x|).
 *     ./acc_logits32 [N]        (tests/c/run_acc.sh builds and runs it)
 * Cases: hard labels; soft labels; hard labels with pos_weight, weight and grad_output
 * arrays; label_smoothing 0.1; a uint8 target.  Bounds (API.md): loss and gradient 0.6 ulp
 * (the kernel's design margin; the contract is 1), soft-label loss 2, hessian 2;
 * soft-label and smoothed gradients in ulps of max(L*sigmoid(x), p*y) times the
 * multiplier.  Exit status 1 if a bound is exceeded.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cbce.h"

static uint64_t rs = 88172645463325252ull;
static uint64_t rnd(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return rs;
}
static double unif(void) { return (double)(rnd() >> 11) * 0x1p-53; }

/* error of got against r in float32 ulps of |scale| (subnormal spacing below FLT_MIN) */
static double ulps(double got, long double r, long double scale)
{
    int ex;
    if (isnan(r) || isnan(got))
        return (isnan(r) && isnan(got)) ? 0 : 1e30;
    if (isinf(got) || isinf(r)) {
        if (isinf(got) && isinf(r))
            return got == r ? 0 : 1e30;
        if (isinf(got) && fabsl(r) > FLT_MAX && (got > 0) == (r > 0))
            return 0;
        return 1e30;
    }
    scale = fabsl(scale);
    ex = (scale == 0 || isinf(scale)) ? -100000 : ilogbl(scale);
    if (ex < -126)
        ex = -126;
    return (double)(fabsl((long double)got - r) / ldexpl(1.0L, ex - 23));
}

static void gen_x(float *x, size_t n)
{
    static const double ef[] = {0.0, 1e-45, 1.4e-45, 1e-40, 1.17549435e-38, 1e-30, 1e-8,
        0.5, 1, 2, 15.9, 16, 17, 20, 30, 87.3, 88.7, 89, 100, 103, 103.9, 103.97, 104, 110,
        200, 700, 1e10, 1e30, 1e38, 3.4028234e38, INFINITY};
    size_t ne = sizeof ef / sizeof ef[0], i = 0, k;
    for (k = 0; k < ne && i + 4 <= n; k++) {
        x[i++] = (float)ef[k];
        x[i++] = (float)-ef[k];
        x[i++] = (float)ef[k];
        x[i++] = (float)-ef[k];
    }
    for (; i < n; i++) {
        double v;
        switch (i % 4) {
        case 0: {
            uint32_t b = (uint32_t)rnd() & 0x7f7fffffu;
            float f;
            memcpy(&f, &b, 4);
            v = f;
            break;
        }
        case 1: v = (unif() - 0.5) * 60; break;
        case 2: v = (unif() - 0.5) * 220; break;
        default: v = ldexp(unif(), -(int)(rnd() % 60)); break;
        }
        x[i] = (float)((rnd() & 1) ? -v : v);
    }
}

typedef struct { const char *name; int soft, weights, smooth, u8; } acc_case;

int main(int argc, char **argv)
{
    static const acc_case cases[] = {{"hard labels", 0, 0, 0, 0},
                                     {"soft labels", 1, 0, 0, 0},
                                     {"hard, pos_weight+weight+grad_output", 0, 1, 0, 0},
                                     {"soft, pos_weight+weight+grad_output", 1, 1, 0, 0},
                                     {"label_smoothing 0.1", 0, 0, 1, 0},
                                     {"uint8 target", 0, 0, 0, 1}};
    size_t n = argc > 1 ? strtoull(argv[1], 0, 10) : 10000000, i;
    float *x = malloc(n * 4), *y = malloc(n * 4), *p = malloc(n * 4), *w = malloc(n * 4);
    float *go = malloc(n * 4), *l = malloc(n * 4), *g = malloc(n * 4), *h = malloc(n * 4);
    float *g2 = malloc(n * 4);
    uint8_t *yb = malloc(n);
    int fails = 0, level, ci;
    if (!x || !y || !p || !w || !go || !l || !g || !h || !g2 || !yb)
        return 2;
    gen_x(x, n);
    for (ci = 0; ci < (int)(sizeof cases / sizeof cases[0]); ci++) {
        const acc_case *C = &cases[ci];
        double eps = C->smooth ? 0.1 : 0.0;
        for (i = 0; i < n; i++) {
            y[i] = C->soft ? (float)unif() : (float)(rnd() & 1);
            yb[i] = (uint8_t)y[i];
            p[i] = C->weights ? (float)(0.1 + 9.9 * unif()) : 1.0f;
            w[i] = C->weights ? (float)(2 * unif()) : 1.0f;
            go[i] = C->weights ? (float)(unif() - 0.5) : 1.0f;
        }
        for (level = CBCE_SIMD_SCALAR; level <= CBCE_SIMD_AVX512; level++) {
            cbce_args_t a;
            double ml = 0, mg = 0, mh = 0;
            size_t il = 0, ig = 0, ih = 0;
            int st;
            if (cbce_simd_level(level) != level)
                continue;
            memset(&a, 0, sizeof a);
            a.size = sizeof a;
            a.n = n;
            a.input = cbce_vector(x, CBCE_F32, n, 1);
            a.target = C->u8 ? cbce_vector(yb, CBCE_U8, n, 1) : cbce_vector(y, CBCE_F32, n, 1);
            if (C->weights) {
                a.pos_weight = cbce_vector(p, CBCE_F32, n, 1);
                a.weight = cbce_vector(w, CBCE_F32, n, 1);
            }
            a.reduction = CBCE_REDUCTION_NONE;
            a.label_smoothing = eps;
            a.simd = level;
            a.alpha = NAN;
            st = cbce_bce_logits_fwd_bwd_f32(&a, l, 1, NULL, g2, 1);
            if (C->weights)
                a.grad_output = cbce_vector(go, CBCE_F32, n, 1);
            st |= cbce_bce_logits_bwd_f32(&a, g, 1);
            a.grad_output.data = NULL;
            st |= cbce_bce_logits_grad_hess_f32(&a, g2, 1, h, 1);
            if (st != CBCE_OK) {
                printf("%s: status %d\n", C->name, st);
                return 2;
            }
            for (i = 0; i < n; i++) {
                long double tr = y[i], K = 1.0L - (long double)eps, half = (long double)eps / 2;
                long double yy = tr * K + half, q = (1.0L - tr) * K + half, P = p[i];
                long double L = q + P * yy, ax = fabsl((long double)x[i]), e = expl(-ax);
                long double t = log1pl(e), s = e / (1.0L + e), c = x[i] >= 0 ? q : P * yy;
                long double sig = x[i] >= 0 ? 1.0L / (1.0L + e) : s, m = (long double)w[i] * go[i];
                long double rl = w[i] * ((c == 0 ? 0.0L : c * ax) + L * t);
                long double rg = m * (x[i] >= 0 ? q - L * s : L * s - P * yy);
                long double rh = (long double)w[i] * L * s / (1.0L + e);
                long double gs = (C->soft || C->smooth) ? m * fmaxl(L * sig, P * yy) : rg;
                double el = ulps(l[i], rl, rl), eg = ulps(g[i], rg, gs), eh = ulps(h[i], rh, rh);
                if (isnan(x[i]))
                    continue;
                if (el > ml) ml = el, il = i;
                if (eg > mg) mg = eg, ig = i;
                if (eh > mh) mh = eh, ih = i;
            }
            {
                double bl = C->soft ? 2.0 : 0.6, bh = 2.0;
                int bad = ml > bl || mg > 0.6 || mh > bh;
                fails += bad;
                printf("%-8s %-38s loss %.4f (x=%a y=%g)  grad %.4f (x=%a y=%g)  hess %.4f "
                       "(x=%a)%s\n",
                       cbce_simd_name(level), C->name, ml, x[il], y[il], mg, x[ig], y[ig], mh,
                       x[ih], bad ? "  EXCEEDS" : "");
            }
        }
    }
    printf("%zu points per case: %s\n", n, fails ? "FAILED" : "ok");
    return fails != 0;
}
