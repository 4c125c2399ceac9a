/*
 * acc_logits64.c -- float64 BCE with logits against __float128 (libquadmath), elementwise
 * and reduced, on every SIMD level the machine has: max ulp of the loss, gradient and
 * hessian per case.  Run by tests/c/run_acc64.sh [N] (N points per case, default 2*10^6).
 *
 * Points: fixed edges (+-0, subnormals, 700-746 densely, DBL_MAX, +-inf, both sides of the
 * exp table and log bucket boundaries), then random bit patterns, uniform on [-40, 40],
 * [-750, 750], [-4, 4] and small |x|.  Cases: hard labels; hard labels with pos_weight and
 * weight over many binades (1-ulp bar); grad_output 1/3; soft labels; label smoothing 0.1
 * and 5e-324; the mean of 10^6 elements.  The reference is the cancellation-free formula
 * (NUMERICS.md) in binary128; gradients with soft labels are measured in ulps of
 * max(L*sigmoid, p*y) as API.md states.  Exit status 1 when a bar is exceeded.
 */
#include <float.h>
#include <math.h>
#include <quadmath.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cbce.h"

typedef __float128 q_t;

static uint64_t rs = 88172645463325252ull;
static uint64_t rnd(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return rs;
}
static double unif(void) { return (double)(rnd() >> 11) * 0x1p-53; }

/* loss, grad, hess (weight w, pos_weight p, smoothing eps) and the gradient's scale */
static void ref(double x, double t, double w, double p, double eps, q_t *l, q_t *g, q_t *h,
                q_t *gs)
{
    q_t y = (q_t)t * (1 - (q_t)eps) + (q_t)eps / 2, q = (1 - (q_t)t) * (1 - (q_t)eps) + (q_t)eps / 2;
    q_t py = (q_t)p * y, L = q + py, a = fabsq(x), e = expq(-a), tt = log1pq(e), s = e / (1 + e);
    q_t c = x >= 0 ? q : py;
    if (isnan(x)) {
        *l = *g = *h = *gs = nanq("");
        return;
    }
    *l = (q_t)w * ((c == 0 ? 0 : c * a) + L * tt);
    *g = (q_t)w * (x >= 0 ? q - L * s : L * s - py);
    *h = (q_t)w * L * s / (1 + e);
    *gs = (q_t)w * fmaxq(L * (x >= 0 ? 1 - s : s), py);
}

/* |got - r| in ulps of r (of `scale` when given: soft-label gradients) */
static double ulps(double got, q_t r, q_t scale)
{
    int ex;
    if (isnanq(r) || isnan(got))
        return (isnanq(r) && isnan(got)) ? 0 : 1e30;
    if (isinf(got) || isinfq(r) || fabsq(r) > DBL_MAX) {
        if (isinf(got) && (isinfq(r) || fabsq(r) >= (q_t)DBL_MAX + ldexpq(1, 970)))
            return (got > 0) == (r > 0) ? 0 : 1e30;
        if (isinf(got))
            return 1e30;
        r = r > 0 ? fminq(r, DBL_MAX) : fmaxq(r, -DBL_MAX);
    }
    if (scale < fabsq(r))
        scale = fabsq(r);
    ex = scale == 0 ? -2000 : ilogbq(scale);
    if (ex < -1022)
        ex = -1022;
    return (double)(fabsq((q_t)got - r) / ldexpq(1, ex - 52));
}

static size_t gen_x(double *x, size_t n)
{
    static const double ef[] = {0.0, 4.9e-324, 1e-320, 2.2250738585072009e-308,
        2.2250738585072014e-308, 1e-300, 0x1p-60, 0x1p-54, 0x1p-53, 0x1p-52, 1e-8, 0.5,
        0.6931471805599453, 1, 2, 3.4, 3.5, 15, 36, 37, 38, 40, 600, 664.9, 665, 665.1, 700,
        708, 708.39, 708.4, 709, 709.78, 710, 720, 730, 740, 744, 745, 745.13,
        745.1332191019411, 745.14, 746, 750, 800, 1e10, 1e100, 1e300, DBL_MAX, INFINITY};
    size_t i = 0, k;
    int m, d, b;
    for (k = 0; k < sizeof ef / sizeof ef[0]; k++) {
        x[i++] = ef[k];
        x[i++] = -ef[k];
    }
    for (k = 0; k < 2000; k++) {
        uint64_t u = rnd() & 0x000fffffffffffffull;
        memcpy(&x[i], &u, 8);
        if (k & 1)
            x[i] = -x[i];
        i++;
    }
    for (k = 0; k < n / 20; k++) {
        x[i] = 640 + unif() * 110;
        if (rnd() & 1)
            x[i] = -x[i];
        i++;
    }
    for (m = 0; m < 17300 && i + 5 < n / 2; m++)
        for (d = -2; d <= 2; d++) {
            double v = (m + 0.5) * 0.6931471805599453 / 16;
            v = nextafter(v, d < 0 ? 0 : 1e9);
            if (d == -2 || d == 2)
                v = v + d * 1e-13 * v;
            x[i++] = (m & 1) ? -v : v;
        }
    for (b = 0; b < 16; b++)
        for (d = -20; d <= 20; d++) {
            double e = (b + 0.5) / 15.49, v = -log(e) * (1 + d * 1e-15);
            x[i++] = (d & 1) ? -v : v;
        }
    for (; i < n; i++) {
        int kind = (int)(i % 5);
        double v;
        if (kind == 0) {
            uint64_t u = rnd() & 0x7fefffffffffffffull;
            memcpy(&v, &u, 8);
        } else if (kind == 1) {
            v = (unif() - 0.5) * 80;
        } else if (kind == 2) {
            v = (unif() - 0.5) * 1500;
        } else if (kind == 3) {
            v = (unif() - 0.5) * 8;
        } else {
            v = ldexp(unif(), -(int)(rnd() % 60));
        }
        if ((kind == 0 || kind == 4) && (rnd() & 1))
            v = -v;
        x[i] = v;
    }
    return i;
}

static cbce_operand_t op(const double *d, ptrdiff_t stride)
{
    cbce_operand_t o;
    o.data = d;
    o.dtype = CBCE_F64;
    o.stride = stride;
    o.period = (size_t)-1;
    o.repeat = 1;
    return o;
}

enum { C_HARD, C_PWW, C_GO, C_SOFT, C_LS, C_LSTINY, NCASES };
static const char *case_name[NCASES] = {"hard labels", "hard, pos_weight+weight",
                                        "hard, grad_output 1/3", "soft labels",
                                        "label_smoothing 0.1", "label_smoothing 5e-324"};

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoull(argv[1], 0, 10) : 2000000, i;
    double *x = malloc(n * 8), *t = malloc(n * 8), *w = malloc(n * 8), *p = malloc(n * 8);
    double *l = malloc(n * 8), *g = malloc(n * 8), *h = malloc(n * 8), *g2 = malloc(n * 8);
    q_t *rl = malloc(n * sizeof(q_t)), *rg = malloc(n * sizeof(q_t)),
        *rh = malloc(n * sizeof(q_t)), *rsc = malloc(n * sizeof(q_t));
    int cs, lv, fail = 0;
    static const char *lvname[] = {"", "scalar", "baseline", "avx2", "avx512"};
    int best = cbce_simd_level(CBCE_SIMD_AUTO);
    if (!x || !t || !w || !p || !l || !g || !h || !g2 || !rl || !rg || !rh || !rsc)
        return 2;
    gen_x(x, n);
    printf("%zu points per case, reference binary128\n", n);
    for (cs = 0; cs < NCASES; cs++) {
        double eps = cs == C_LS ? 0.1 : cs == C_LSTINY ? 4.9e-324 : 0.0, go = 1.0 / 3;
        int soft = cs == C_SOFT || cs == C_LS || cs == C_LSTINY;
        double lbar = soft ? 2.0 : 1.0, gbar = 1.0, hbar = 2.0;
        cbce_args_t A;
        rs = 12345 + (uint64_t)cs;
        for (i = 0; i < n; i++) {
            t[i] = cs == C_SOFT ? unif() : (double)(rnd() & 1);
            w[i] = p[i] = 1.0;
            if (cs == C_PWW) { /* over many binades, and the extremes */
                p[i] = ldexp(0.5 + unif(), (int)(rnd() % 120) - 60);
                w[i] = ldexp(0.5 + unif(), (int)(rnd() % 120) - 60);
                if (i % 97 == 0)
                    p[i] = ldexp(1.0, (int)(rnd() % 1900) - 950);
                if (i % 89 == 0)
                    w[i] = ldexp(0.5 + unif(), (int)(rnd() % 1900) - 950);
            }
        }
        for (i = 0; i < n; i++) {
            q_t sc;
            ref(x[i], t[i], w[i], p[i], eps, &rl[i], &rg[i], &rh[i], &sc);
            rsc[i] = soft ? sc : 0;
            if (cs == C_GO) {
                rg[i] *= (q_t)go;
                rh[i] *= (q_t)go;
            }
        }
        memset(&A, 0, sizeof A);
        A.size = sizeof A;
        A.n = n;
        A.input = op(x, 1);
        A.target = op(t, 1);
        A.weight = op(w, 1);
        A.pos_weight = op(p, 1);
        A.label_smoothing = eps;
        A.reduction = CBCE_REDUCTION_NONE;
        A.alpha = NAN;
        for (lv = CBCE_SIMD_SCALAR; lv <= best; lv++) {
            double ml = 0, mg = 0, mh = 0;
            size_t il = 0, ig = 0, ih = 0;
            int st;
            A.simd = lv;
            A.grad_output = op(cs == C_GO ? &go : NULL, 0);
            A.grad_output.period = 1;
            st = cbce_bce_logits_fwd_f64(&A, l, 1, NULL);
            st |= cbce_bce_logits_grad_hess_f64(&A, g, 1, h, 1);
            st |= cbce_bce_logits_bwd_f64(&A, g2, 1);
            if (st != CBCE_OK) {
                printf("status %d\n", st);
                return 2;
            }
            for (i = 0; i < n; i++) {
                double el = ulps(l[i], rl[i], 0), eg = ulps(g2[i], rg[i], rsc[i]);
                double eh = ulps(h[i], rh[i], 0);
                if (memcmp(&g[i], &g2[i], 8) != 0)
                    eg = 1e30; /* grad_hess and backward must agree bitwise */
                if (el > ml) { ml = el; il = i; }
                if (eg > mg) { mg = eg; ig = i; }
                if (eh > mh) { mh = eh; ih = i; }
            }
            printf("%-8s %-26s loss %.4f ulp  grad %.4f  hess %.4f\n", lvname[lv],
                   case_name[cs], ml, mg, mh);
            if (ml > 0.6)
                printf("    loss: x=%a t=%g w=%a p=%a got %a\n", x[il], t[il], w[il], p[il], l[il]);
            if (mg > 0.6)
                printf("    grad: x=%a t=%g w=%a p=%a got %a\n", x[ig], t[ig], w[ig], p[ig], g2[ig]);
            if (mh > 0.6)
                printf("    hess: x=%a t=%g w=%a p=%a got %a\n", x[ih], t[ih], w[ih], p[ih], h[ih]);
            fail |= ml > lbar || mg > gbar || mh > hbar;
        }
    }
    { /* means of 10^6 elements: [-4, 4], [-40, 40], [-750, 750], tiny losses only */
        size_t mn = n < 1000003 ? n : 1000003;
        int set;
        for (set = 0; set < 4; set++) {
            q_t s = 0, a, b, c, d;
            cbce_args_t A;
            rs = 777 + (uint64_t)set;
            for (i = 0; i < mn; i++) {
                double width = set == 0 ? 8 : set == 1 ? 80 : 1500;
                x[i] = set == 3 ? 708 + unif() * 30 : (unif() - 0.5) * width;
                t[i] = set == 3 ? 1.0 : (double)(rnd() & 1);
                ref(x[i], t[i], 1, 1, 0, &a, &b, &c, &d);
                s += a;
            }
            memset(&A, 0, sizeof A);
            A.size = sizeof A;
            A.n = mn;
            A.input = op(x, 1);
            A.target = op(t, 1);
            A.reduction = CBCE_REDUCTION_MEAN;
            A.alpha = NAN;
            for (lv = CBCE_SIMD_SCALAR; lv <= best; lv++) {
                double m1, m2;
                A.simd = lv;
                cbce_bce_logits_fwd_f64(&A, NULL, 0, &m1);
                cbce_bce_logits_fwd_bwd_f64(&A, NULL, 0, &m2, g, 1);
                printf("%-8s mean of %zu, set %d: fwd %.4f ulp, fused %.4f ulp\n", lvname[lv], mn,
                       set, ulps(m1, s / mn, 0), ulps(m2, s / mn, 0));
                fail |= ulps(m1, s / mn, 0) > 4 || memcmp(&m1, &m2, 8) != 0;
            }
        }
    }
    printf(fail ? "FAILED\n" : "all within the bars\n");
    return fail;
}
