/*
 * logits64.h -- the float64 compute step of BCE with logits and of Poly-1 (BCE with logits
 * + pe (1 - p_t), poly1.c), on the vector layer (simd/vec.h): a fast element for every
 * lane, and a careful scalar element for the rare lanes it flags.
 *
 * Per element, with a = |x|, y the smoothed target, q = 1 - y, p pos_weight, w the loss
 * multiplier (weight), m the gradient multiplier (weight * grad_output / denominator),
 * L = q + p*y, c = q (x >= 0) or p*y (x < 0), e = exp(-a), t = log1p(e), s = e/(1+e):
 *     loss = w * (c*a + L*t + pe v)
 *     grad = m * ((x >= 0 ? q - L*s : L*s - p*y) + pe v')
 *     hess = m * (L * s/(1+e) + pe v'')
 * with the Poly-1 terms (pe = 0 for BCE with logits) v = 1 - p_t = (A + B e)/(1+e) (A, B
 * = q, y for x >= 0, y, q for x < 0), v' = (q - y) s/(1+e), v'' = v' (1 - 2 sigmoid(x)),
 * 1 - 2 sigmoid(x) = -+(1 - e)/(1+e).  Each is formed as a double-double and rounded once,
 * weights included; for pe < 0 the loss is a difference, and its error is bounded in ulps
 * of the larger term (as for soft-label gradients).
 *
 * Fast element (every lane; the error budget, relative, before the one rounding):
 *  - y, q, p*y, L as double-double pairs (two_sum/two_prod: exact for hard labels; for soft
 *    labels and label smoothing within 2^-100);
 *  - e = exp(-a) within 2^-56.5 and t = log1p(e) within 2^-57.5, as pairs, from 16-entry
 *    tables (cbce__x64_exp, cbce__x64_log1p: math/vec_math64.h, with their derivations);
 *  - s = e/(1+e) and s/(1+e) by a reciprocal good to 2^-50 and one residual step
 *    (cbce__x64_quot): 2^-100 beyond the operands' own errors;
 *  - the final combination by exact products (two_prod) and two_sum; the loss is a sum of
 *    terms >= 0 (for targets in [0, 1] and pe >= 0), so their relative errors carry
 *    over: t within 2^-56 (e's error carried into t, and t's own), the loss within that
 *    before the rounding, <= 0.5 + 0.12 ulp.  Hard-label gradients
 *    do not cancel (|result| >= half the larger term); soft-label gradients are within
 *    2^-57 of max(L*s, p*y) (the scale API.md measures them in).
 *  - the Poly-1 terms: A + B e and q - y as pairs, the quotients by 1 + e as above; 1 - e
 *    as a pair carries e's absolute error (see vec_math64.h's CBCE__X64_ONEM_E_COEF).
 * The fast element assumes every value it forms is a normal double: it flags ("rare") the
 * lanes with a > 665 (e < 2^-959, or infinite, or NaN), a loss sum (hi + lo) or gradient
 * scale or hessian outside [2^-960, 2^960] or NaN, a result that overflowed or is NaN
 * (a NaN low part: without FMA, two_prod of an operand beyond 2^996 gives one), or an L
 * whose terms cancel (|Ll| > 2^-40 |Lh|), and with the Poly-1 term a target outside
 * [0, 1] (where A + B e can cancel).  Those lanes are computed again by the careful
 * element, which carries every exponent separately (cbce__xd below), so weights,
 * pos_weight, label smoothing (a subnormal one included) and exp(-a) down to a = 2400 enter
 * before the one rounding whatever their range, and subnormal results are
 * rounded once.  A call with 0 < label_smoothing < 2^-500 (eps/2 and p*eps/2 would round on
 * the subnormal grid) takes the careful element for every element.
 *
 * Hard targets (0 or 1) of a call with no smoothing, pos_weight 1 and weight 1 take a
 * shorter fast element for the loss and the gradient (cbce__x64_hard: c a exact, the
 * gradient M num/(1+e) with num 1 or e), lane by lane, with the same error budget, at the
 * levels with more than one lane a vector.
 */
#ifndef CBCE_LOGITS64_H
#define CBCE_LOGITS64_H

#include <float.h>
#include <math.h>

#include "internal.h"
#include "math/vec_math64.h"
#include "simd/vec.h"

/* Per-call constants of the float64 step. */
typedef struct cbce__x64k {
    double eps, kh, kl; /* label_smoothing, 1 - eps = kh + kl exactly */
    int smooth;         /* eps != 0 */
    double pe;          /* the Poly-1 term's epsilon (0: BCE with logits) */
    int poly;           /* pe != 0 */
} cbce__x64k;

static cbce__x64k cbce__x64_consts(double eps, double pe)
{
    cbce__x64k kx;
    kx.pe = pe;
    kx.poly = pe != 0;
    kx.eps = eps;
    kx.kh = 1.0 - eps; /* kh + kl = 1 - eps exactly (two_sum) */
    kx.kl = (1.0 - (kx.kh - (kx.kh - 1.0))) + (-eps - (kx.kh - 1.0));
    kx.smooth = eps == 0 ? 0 : eps < 0x1p-500 ? 2 : 1;
    return kx;
}

/* ---- the careful element: double-double with a separate exponent ------------------------ */

/* (h + l) * 2^e with 1 <= |h| < 2 and |l| <= ulp(h); or h = 0, inf or NaN (l = 0, e = 0). */
typedef struct cbce__xd {
    double h, l;
    int e;
} cbce__xd;

static cbce__xd cbce__xd_norm(double h, double l, int e)
{
    cbce__xd r = {0.0, 0.0, 0};
    double s = h + l, bb = s - h;
    int k;
    l = (h - (s - bb)) + (l - bb);
    r.h = l == 0 ? h : s; /* a zero keeps its sign */
    if (s == 0 || !isfinite(s))
        return r;
    (void)frexp(s, &k);
    r.h = ldexp(s, 1 - k);
    r.l = ldexp(l, 1 - k);
    r.e = e + k - 1;
    return r;
}

static cbce__xd cbce__xd_of(double v) { return cbce__xd_norm(v, 0.0, 0); }

static cbce__xd cbce__xd_neg(cbce__xd a)
{
    a.h = -a.h;
    a.l = -a.l;
    return a;
}

static cbce__xd cbce__xd_mul(cbce__xd a, cbce__xd b)
{
    double p;
    if (a.h == 0 || b.h == 0 || !isfinite(a.h) || !isfinite(b.h))
        return cbce__xd_norm(a.h * b.h, 0.0, 0);
    p = a.h * b.h;
    return cbce__xd_norm(p, fma(a.h, b.h, -p) + (a.h * b.l + a.l * b.h), a.e + b.e);
}

static cbce__xd cbce__xd_add(cbce__xd a, cbce__xd b)
{
    double bh, bl, s, bb, lo;
    if (!isfinite(a.h) || !isfinite(b.h))
        return cbce__xd_norm(a.h + b.h, 0.0, 0);
    if (b.h == 0)
        return a;
    if (a.h == 0 || a.e < b.e) {
        cbce__xd t = a;
        a = b;
        b = t;
    }
    if (b.h == 0 || a.e - b.e > 120) /* |b| < 2^-118 |a|: below a's last bit */
        return a;
    bh = ldexp(b.h, b.e - a.e);
    bl = ldexp(b.l, b.e - a.e);
    s = a.h + bh;
    bb = s - a.h;
    lo = (a.h - (s - bb)) + (bh - bb) + a.l + bl;
    return cbce__xd_norm(s, lo, a.e);
}

/* a / b for b finite and nonzero: one residual step, within 2^-100. */
static cbce__xd cbce__xd_div(cbce__xd a, cbce__xd b)
{
    double q, r;
    if (a.h == 0 || !isfinite(a.h))
        return cbce__xd_norm(a.h / b.h, 0.0, 0);
    q = a.h / b.h;
    r = fma(-q, b.h, a.h) + (a.l - q * b.l);
    return cbce__xd_norm(q, r / b.h, a.e - b.e);
}

/* RN((h + l) 2^e), subnormal results rounded once. */
static double cbce__xd_round(cbce__xd a)
{
    double sg, u, v, n, f;
    if (a.h == 0 || !isfinite(a.h))
        return a.h;
    if (a.e > 1023)
        return copysign(HUGE_VAL, a.h);
    if (a.e >= -1022)
        return ldexp(a.h + a.l, a.e);
    sg = a.h < 0 ? -1.0 : 1.0;
    if (a.e < -1076) /* |value| < 2^-1075, half the smallest subnormal */
        return sg * 0.0;
    u = ldexp(sg * a.h, a.e + 1074); /* the value in units of 2^-1074: u < 2^52, exact */
    v = ldexp(sg * a.l, a.e + 1074);
    n = floor(u);
    f = (u - n) + v;
    if (f > 0.5 || (f == 0.5 && fmod(n, 2.0) != 0))
        n += 1.0;
    return sg * ldexp(n, -1074);
}

/* exp(-a) = 2^-K (Eh + El) for 0 <= a <= 2400, as in the fast element (scalar). */
static double cbce__x64_exp_s(double a, double *El, int *K)
{
    double m = fma(a, -CBCE__X64_INVC, CBCE__VD_SHIFTER) - CBCE__VD_SHIFTER;
    double k = floor(m * 0.0625), r, P, lo, s, th;
    int i = (int)(m - 16.0 * k), j;
    r = fma(m, -CBCE__X64_C1, -a);
    r = fma(m, -CBCE__X64_C2, r);
    r = fma(m, -CBCE__X64_C3, r);
    P = CBCE__X64_EP[6];
    for (j = 5; j >= 0; j--)
        P = fma(P, r, CBCE__X64_EP[j]);
    th = CBCE__X64_EXP_HI[i];
    lo = fma(th, P * r, CBCE__X64_EXP_LO[i]);
    s = th + lo;
    *El = (th - s) + lo;
    *K = -(int)k;
    return s;
}

/* log1p(eh + el) = th + tl for a normal e in (0, 1], as in the fast element (scalar). */
static double cbce__x64_log1p_s(double eh, double el, double *tl)
{
    int b = (int)(fma(eh, CBCE__X64_LOGM, CBCE__VD_SHIFTER) - CBCE__VD_SHIFTER), j;
    double c = CBCE__X64_LOGC[b], ph = c * eh, pl = fma(c, eh, -ph);
    double zh = ph + (c - 1.0), zl = fma(c, el, pl), Q = CBCE__X64_LQ[8], th;
    for (j = 7; j >= 0; j--)
        Q = fma(Q, zh, CBCE__X64_LQ[j]);
    zl = fma(zh * zh, Q, (zl + CBCE__X64_LOGL[b]) - zl * zh);
    th = CBCE__X64_LOGH[b] + zh;
    *tl = ((CBCE__X64_LOGH[b] - th) + zh) + zl;
    return th;
}

/* 1 - e for e = exp(-a) (the careful element's pair): for a < 1/4, -expm1(-a) in long
 * double as a pair (2^-64 relative where long double has 64 bits; 1 - e would lose e's
 * absolute error over 1 - e >= a/2), else 1 - e (>= 0.22: within 2^-56). */
static cbce__xd cbce__x64_one_minus_exp_neg(double a, cbce__xd e)
{
    const cbce__xd one = {1.0, 0.0, 0};
    if (a < 0.25) {
        long double v = -expm1l(-(long double)a);
        double h = (double)v;
        return cbce__xd_norm(h, (double)(v - h), 0);
    }
    return cbce__xd_add(one, cbce__xd_neg(e));
}

/* One element: loss * w * ls, gradient and hessian * m1 * (m2 + m2l) (every product
 * exact; m2 + m2l a double-double), with the Poly-1 terms where k->poly. */
#if defined(__GNUC__)
__attribute__((cold)) /* rare lanes only: compiled for size */
#endif
static void cbce__x64_careful(int want, double x, double tr, double p, double w, double ls,
                              double m1, double m2, double m2l, const cbce__x64k *k,
                              double *lp, double *gp, double *hp)
{
    const cbce__xd zero = {0.0, 0.0, 0}, one = {1.0, 0.0, 0};
    double a = fabs(x), d0 = 1.0 - tr, bb = d0 - 1.0;
    int pos = x >= 0;
    cbce__xd y = cbce__xd_of(tr), q, py, L, c, d, e = zero, t = zero;
    q = cbce__xd_norm(d0, (1.0 - (d0 - bb)) + (-tr - bb), 0); /* 1 - tr exactly */
    if (x != x) {
        *lp = *gp = *hp = x;
        return;
    }
    if (k->smooth) { /* y = tr (1 - eps) + eps/2, q = (1 - tr)(1 - eps) + eps/2 */
        cbce__xd K = cbce__xd_norm(k->kh, k->kl, 0), half = cbce__xd_of(k->eps);
        half.e -= half.h != 0;
        y = cbce__xd_add(cbce__xd_mul(y, K), half);
        q = cbce__xd_add(cbce__xd_mul(q, K), half);
    }
    py = cbce__xd_mul(cbce__xd_of(p), y);
    L = cbce__xd_add(q, py);
    c = pos ? q : py;
    if (a <= 2400) { /* beyond, e < 2^-3462: below half a subnormal times any w*L */
        int K;
        double El, Eh = cbce__x64_exp_s(a, &El, &K);
        e = cbce__xd_norm(Eh, El, -K);
        if (K >= 60) { /* e < 2^-59: t = e - e^2/2, within e^3/3 */
            cbce__xd h2 = cbce__xd_mul(e, e);
            h2.e -= 1;
            t = cbce__xd_add(e, cbce__xd_neg(h2));
        } else {
            double tl, th = cbce__x64_log1p_s(ldexp(Eh, -K), ldexp(El, -K), &tl);
            t = cbce__xd_norm(th, tl, 0);
        }
    }
    d = cbce__xd_add(one, e);
    if (want & CBCE__LOSS) {
        cbce__xd ca = c.h == 0 ? zero : cbce__xd_mul(c, cbce__xd_of(a)); /* 0 at a = inf */
        cbce__xd ce = cbce__xd_add(ca, cbce__xd_mul(L, t));
        if (k->poly) { /* + pe v, v = 1 - p_t = (A + B e)/d: A, B = q, y (x >= 0) or y, q */
            cbce__xd v = cbce__xd_add(pos ? q : y, cbce__xd_mul(pos ? y : q, e));
            ce = cbce__xd_add(ce, cbce__xd_mul(cbce__xd_of(k->pe), cbce__xd_div(v, d)));
        }
        *lp = cbce__xd_round(cbce__xd_mul(cbce__xd_mul(cbce__xd_of(w), cbce__xd_of(ls)), ce));
    }
    if (want & (CBCE__GRAD | CBCE__HESS)) {
        cbce__xd s = cbce__xd_div(e, d), Ls = cbce__xd_mul(L, s), sr = cbce__xd_div(s, d);
        cbce__xd M = cbce__xd_mul(cbce__xd_of(m1), cbce__xd_norm(m2, m2l, 0)), vp = zero;
        if (k->poly) /* pe v' = pe (q - y) s/d */
            vp = cbce__xd_mul(cbce__xd_of(k->pe),
                              cbce__xd_mul(cbce__xd_add(q, cbce__xd_neg(y)), sr));
        if (want & CBCE__GRAD) {
            cbce__xd G = pos ? cbce__xd_add(q, cbce__xd_neg(Ls))
                             : cbce__xd_add(Ls, cbce__xd_neg(py));
            *gp = cbce__xd_round(cbce__xd_mul(M, k->poly ? cbce__xd_add(G, vp) : G));
        }
        if (want & CBCE__HESS) {
            cbce__xd H = cbce__xd_mul(L, sr);
            if (k->poly) { /* + pe v' (1 - 2 sigmoid(x)), that factor -+(1 - e)/d */
                cbce__xd om = cbce__x64_one_minus_exp_neg(a, e);
                om = cbce__xd_div(pos ? cbce__xd_neg(om) : om, d);
                H = cbce__xd_add(H, cbce__xd_mul(vp, om));
            }
            *hp = cbce__xd_round(cbce__xd_mul(M, H));
        }
    }
}

/* ---- the fast element, VW lanes --------------------------------------------------------- */

/* *bad |= lanes where v is outside [2^-960, 2^960] (or NaN) */
CBCE__VI void cbce__x64_range(vd_t v, vm_t *bad)
{
    *bad = vm_or(*bad, cbce__x64_outside(v, 0x1p-960, 0x1p960));
}

/* (fh + fl)(vh + vl) = rh + rl by exact products; *bad |= lanes where the rounded result
 * overflowed or is below 2^-1021 with f != 0 (a subnormal product's low part is rounded on
 * the subnormal grid: two roundings).  That is cbce__x64_not_normal but for the exact zero
 * of a zero multiplier, which passes; written as one test (cbce__x64_not_normal and the
 * exemption took more operations: 0.6-1.2 KB more code over the levels).  Returns
 * RN(rh + rl), a zero keeping its sign. */
CBCE__VI vd_t cbce__x64_mul(vd_t fh, vd_t fl, vd_t vh, vd_t vl, vd_t *rh, vd_t *rl,
                            vm_t *bad)
{
    vd_t r, ar;
    *rh = cbce__x64_prod(fh, fl, vh, vl, rl);
    r = vd_select(vd_eq(*rh, vd_zero()), *rh, vd_add(*rh, *rl));
    ar = vd_abs(r);
    *bad = vm_or(*bad, vm_not(vm_and(vd_le(ar, vd_set1(DBL_MAX)),
                                     vm_or(vd_ge(ar, vd_set1(0x1p-1021)),
                                           vd_eq(fh, vd_zero())))));
    return r;
}

/* The unweighted loss S, gradient G and hessian H as pairs, on one vector.  `unit`: no
 * label smoothing, pos_weight 1 and loss weight 1 (L = 1 exactly; 0*tr, NaN for a NaN or
 * infinite target as L would be, is added to each e-term).  The lanes the careful element
 * must redo: in *bad those where every output needs it (a > 665, inf, NaN; q and p*y
 * cancelling), in *badl those where only the loss does (outside [2^-960, 2^960]), in *badg
 * those where only the gradient and hessian do (their scales outside that range). */
CBCE__VI void cbce__x64_elem(int want, int smooth, int unit, const cbce__x64k *k,
                             const cbce__x64tab *T, vd_t x, vd_t tr, vd_t p, vd_t *Sh,
                             vd_t *Sl, vd_t *Gh, vd_t *Gl, vd_t *Hh, vd_t *Hl, vm_t *bad,
                             vm_t *badl, vm_t *badg)
{
    const vd_t one = vd_set1(1.0), X0 = x;
    const int poly = k->poly;
    vd_t a = vd_abs(x), yh = tr, yl = vd_zero(), ql, qh, pyl = vd_zero(), pyh = tr;
    vd_t Ll = vd_zero(), Lh = one, nan0 = vd_mul(vd_zero(), tr), ch, cl, eh, el;
    vd_t dh = X0, dl = X0, rc = X0;
    vm_t pos = vd_ge(x, vd_zero());
    *bad = vm_or(*bad, vm_not(vd_le(a, vd_set1(665.0))));
    /* targets: q = 1 - tr exactly; with smoothing y = tr K + eps/2, q = (1 - tr) K + eps/2 */
    qh = vd_two_sum(one, vd_neg(tr), &ql);
    if (smooth) {
        vd_t kh = vd_set1(k->kh), kl = vd_set1(k->kl), half = vd_set1(0.5 * k->eps), ul, u;
        u = vd_two_prod(tr, kh, &ul);
        ul = vd_mla(tr, kl, ul);
        yh = vd_two_sum(half, u, &yl);
        yl = vd_add(yl, ul);
        u = vd_two_prod(qh, kh, &ul);
        ul = vd_mla(qh, kl, vd_mla(ql, kh, ul));
        qh = vd_two_sum(half, u, &ql);
        ql = vd_add(ql, ul);
    }
    if (!unit) {
        pyh = vd_two_prod(p, yh, &pyl);
        pyl = vd_mla(p, yl, pyl);
        Lh = vd_two_sum(qh, pyh, &Ll);
        Ll = vd_add(Ll, vd_add(ql, pyl));
        /* the products by L drop Ll * (low part): flag the lanes where q and p*y cancel
         * (a target outside [0, 1] or a negative pos_weight); otherwise |Ll| <= 2^-52 |Lh| */
        *bad = vm_or(*bad, vd_gt(vd_abs(Ll), vd_mul(vd_abs(Lh), vd_set1(0x1p-40))));
    }
    if (poly) { /* A + B e and q - y need a target in [0, 1]; 1 - e, |x| >= 1/4 */
        *bad = vm_or(*bad, vm_not(vm_and(vd_ge(tr, vd_zero()), vd_le(tr, one))));
        if ((want & CBCE__HESS) && fabs(k->pe) > CBCE__X64_ONEM_E_COEF)
            *bad = vm_or(*bad, vd_lt(a, vd_set1(0.25)));
    }
    ch = vd_select(pos, qh, pyh);
    cl = vd_select(pos, ql, pyl);
    cbce__x64_exp(1, T, &a, &eh, &el);
    if (poly || (want & (CBCE__GRAD | CBCE__HESS))) { /* d = 1 + e, rc = 1/dh */
        dh = cbce__x64_one_plus(eh, el, &dl, &rc);
    }
    if (want & CBCE__LOSS) {
        vd_t th, tl, Ah, Al, Bh, Bl;
        cbce__x64_log1p(1, T, &eh, &el, &th, &tl);
        /* c a + L t */
        Ah = vd_two_prod(ch, a, &Al);
        Al = vd_mla(cl, a, Al);
        if (unit) {
            Bh = vd_add(th, nan0);
            Bl = tl;
        } else {
            Bh = cbce__x64_prod(Lh, Ll, th, tl, &Bl);
        }
        *Sh = vd_two_sum(Ah, Bh, Sl);
        *Sl = vd_add(*Sl, vd_add(Al, Bl));
        if (poly) { /* + pe v, v = (A + B e)/d: A, B = q, y (x >= 0) or y, q */
            vd_t Nl, Nh = cbce__x64_prod(vd_select(pos, yh, qh), vd_select(pos, yl, ql), eh,
                                         el, &Nl);
            vd_t vl, vh, ul, uh;
            Nh = vd_two_sum(vd_select(pos, qh, yh), Nh, &ul);
            Nl = vd_add(ul, vd_add(Nl, vd_select(pos, ql, yl)));
            vh = cbce__x64_quot(Nh, Nl, dh, dl, rc, &vl);
            vh = vd_two_prod(vd_set1(k->pe), vh, &ul);
            vl = vd_mla(vd_set1(k->pe), vl, ul);
            uh = vd_two_sum(*Sh, vh, &ul);
            *Sl = vd_add(vd_add(ul, vl), *Sl);
            *Sh = uh;
        }
        /* the rounded sum, not Sh alone: a low part is NaN where Dekker's two_prod split
         * overflowed (levels without FMA, an operand beyond 2^996: c = 1 - t for a target
         * of -DBL_MAX), with Sh finite */
        cbce__x64_range(vd_add(*Sh, *Sl), badl);
    }
    if (want & (CBCE__GRAD | CBCE__HESS)) {
        /* s = e/(1+e) = sh + sl, s/(1+e) = uh + ul, pe v' = pe (q - y) s/(1+e) = vh + vl */
        vd_t sh, sl, Lsh, Lsl, uh = X0, ul = X0, vh = X0, vl = X0;
        sh = cbce__x64_quot(eh, el, dh, dl, rc, &sl);
        if (poly || (want & CBCE__HESS))
            uh = cbce__x64_quot(sh, sl, dh, dl, rc, &ul);
        if (poly) {
            vd_t wl, wh = vd_two_sum(qh, vd_neg(yh), &wl);
            wl = vd_add(wl, vd_sub(ql, yl));
            vh = cbce__x64_prod(wh, wl, uh, ul, &vl);
            vh = cbce__x64_prod(vd_set1(k->pe), vd_zero(), vh, vl, &vl);
        }
        if (unit) {
            Lsh = vd_add(sh, nan0);
            Lsl = sl;
        } else {
            Lsh = cbce__x64_prod(Lh, Ll, sh, sl, &Lsl);
        }
        if (want & CBCE__GRAD) {
            /* x >= 0: q - L s; x < 0: L s - p y */
            vd_t bh = vd_select(pos, qh, vd_neg(pyh)), bl = vd_select(pos, ql, vd_neg(pyl));
            vd_t sLh = vd_select(pos, vd_neg(Lsh), Lsh), sLl = vd_select(pos, vd_neg(Lsl), Lsl);
            vd_t mx = vd_max(vd_abs(bh), vd_abs(Lsh));
            *Gh = vd_two_sum(bh, sLh, Gl);
            *Gl = vd_add(*Gl, vd_add(bl, sLl));
            if (poly) {
                vd_t gl, gh = vd_two_sum(*Gh, vh, &gl);
                *Gl = vd_add(vd_add(gl, vl), *Gl);
                *Gh = gh;
                mx = vd_max(mx, vd_abs(vh));
            }
            cbce__x64_range(mx, badg);
        }
        if (want & CBCE__HESS) {
            /* L s/(1+e), + pe v' (1 - 2 sigmoid(x)) with that factor -+(1 - e)/(1+e) */
            vd_t mx;
            if (unit) {
                *Hh = vd_add(uh, nan0);
                *Hl = ul;
            } else {
                *Hh = cbce__x64_prod(Lh, Ll, uh, ul, Hl);
            }
            mx = *Hh;
            if (poly) {
                vd_t ol, oh = cbce__x64_tanh_half(eh, el, dh, dl, rc, &ol), hl, hh;
                oh = vd_select(pos, vd_neg(oh), oh);
                ol = vd_select(pos, vd_neg(ol), ol);
                vh = cbce__x64_prod(vh, vl, oh, ol, &vl);
                hh = vd_two_sum(*Hh, vh, &hl);
                *Hl = vd_add(vd_add(hl, vl), *Hl);
                *Hh = hh;
                mx = vd_max(vd_abs(mx), vd_abs(vh));
            }
            cbce__x64_range(mx, badg);
        }
    }
}

/* The gradient multiplier M1 (M2 + m2l) (cbce__x64_mult) as the pair Mh + *Ml, by an exact
 * product. */
CBCE__VI vd_t cbce__x64_mpair(vd_t M1, vd_t M2, double m2l, vd_t *Ml)
{
    vd_t Mh = vd_two_prod(M1, M2, Ml);
    *Ml = vd_mla(M1, vd_set1(m2l), *Ml);
    return Mh;
}

/* The element for hard targets (every lane's target 0 or 1) of a `unit` call (no label
 * smoothing, pos_weight 1, weight 1), loss and gradient only.  With c = 1 where x >= 0 and
 * the target is 0 or x < 0 and it is 1, else 0, v = 1 - p_t = num/(1+e), num = 1 (c = 1)
 * or e (c = 0), and pe the Poly-1 epsilon (0 for BCE with logits):
 *     loss = c a + t + pe v                  (c a exact; for pe >= 0 terms >= 0: their
 *                                             2^-56 relative errors carry over,
 *                                             <= 0.5 + 0.12 ulp)
 *     grad = -+ M (v + pe e/(1+e)^2), - for target 1
 * with M = M1 (M2 + m2l) the gradient multiplier, as the pair Mh + Ml (cbce__x64_mpair, in
 * the gradient's branch): the quotients by a reciprocal good to 2^-50 and one residual step
 * each (2^-100 beyond e's own 2^-56.5), times M by an exact product, one rounding.
 * Rare lanes: in *bad those with a > 665 (or NaN) and, with pe, a loss outside
 * [2^-960, 2^960]; in *badg those whose gradient is not a normal double (below 2^-1021 it
 * was rounded twice; a multiplier of 0, inf or NaN). */
CBCE__VI void cbce__x64_hard(int K, int want, double pe, const cbce__x64tab *T,
                             const vd_t *x, const vd_t *tr, const vd_t *M1, const vd_t *M2,
                             double m2l, vd_t *Sh, vd_t *Sl, vd_t *G, vm_t *bad, vm_t *badg)
{
    const vd_t one = vd_set1(1.0), P = vd_set1(pe);
    vd_t a[CBCE__X64_KMAX], eh[CBCE__X64_KMAX], el[CBCE__X64_KMAX], dh[CBCE__X64_KMAX];
    vd_t dl[CBCE__X64_KMAX], rc[CBCE__X64_KMAX], v[CBCE__X64_KMAX], vl[CBCE__X64_KMAX];
    vd_t ul, uh;
    vm_t ynz[CBCE__X64_KMAX], c1[CBCE__X64_KMAX];
    const int poly = pe != 0;
    int j;
    CBCE__X64_FOR {
        vm_t pos = vd_ge(x[j], vd_zero());
        a[j] = vd_abs(x[j]);
        ynz[j] = vd_ne(tr[j], vd_zero());
        c1[j] = vm_or(vm_andnot(pos, ynz[j]), vm_andnot(ynz[j], pos)); /* x >= 0 xor 1 */
        bad[j] = vm_or(bad[j], vm_not(vd_le(a[j], vd_set1(665.0))));
        v[j] = vl[j] = x[j]; /* (set below wherever read) */
    }
    cbce__x64_exp(K, T, a, eh, el);
    if (poly || (want & CBCE__GRAD)) {
        CBCE__X64_FOR dh[j] = cbce__x64_one_plus(eh[j], el[j], &dl[j], &rc[j]);
        CBCE__X64_FOR v[j] = cbce__x64_quot(vd_select(c1[j], one, eh[j]),
                                            vd_select(c1[j], vd_zero(), el[j]), dh[j], dl[j],
                                            rc[j], &vl[j]);
    }
    if (want & CBCE__LOSS) {
        vd_t th[CBCE__X64_KMAX], tl[CBCE__X64_KMAX];
        cbce__x64_log1p(K, T, eh, el, th, tl);
        CBCE__X64_FOR {
            vd_t ca = vd_select(c1[j], a[j], vd_zero());
            Sh[j] = vd_fast_two_sum(vd_max(ca, th[j]), vd_min(ca, th[j]), &Sl[j]);
            Sl[j] = vd_add(Sl[j], tl[j]);
        }
        if (poly)
            CBCE__X64_FOR {
                vd_t pl, ph = cbce__x64_prod(P, vd_zero(), v[j], vl[j], &pl);
                uh = vd_two_sum(Sh[j], ph, &ul);
                Sl[j] = vd_add(vd_add(ul, pl), Sl[j]);
                Sh[j] = uh;
                cbce__x64_range(vd_add(uh, Sl[j]), &bad[j]);
            }
    }
    if (want & CBCE__GRAD) {
        if (poly) /* v + pe s/(1+e), s = e/(1+e) */
            CBCE__X64_FOR {
                vd_t sl, sh = cbce__x64_quot(eh[j], el[j], dh[j], dl[j], rc[j], &sl), pl, ph;
                uh = cbce__x64_quot(sh, sl, dh[j], dl[j], rc[j], &ul);
                ph = cbce__x64_prod(P, vd_zero(), uh, ul, &pl);
                uh = vd_two_sum(v[j], ph, &ul);
                vl[j] = vd_add(vd_add(ul, pl), vl[j]);
                v[j] = uh;
            }
        CBCE__X64_FOR {
            vd_t ml, mh = cbce__x64_mpair(M1[j], M2[j], m2l, &ml), g;
            mh = vd_select(ynz[j], vd_neg(mh), mh);
            ml = vd_select(ynz[j], vd_neg(ml), ml);
            g = cbce__x64_prod_rn(mh, ml, v[j], vl[j]);
            badg[j] = vm_or(badg[j], cbce__x64_not_normal(g));
            G[j] = g;
        }
    }
}

/* The careful element for the lanes j with f[j] != 0 of one vector, in place in l, g, h
 * (rare: not inlined; the vectors are stored to these arrays only on this path). */
static void cbce__x64_fix(int want, const double *f, const double *x, const double *t,
                          const double *p, const double *w, double ls, const double *m1,
                          const double *m2, double m2l, const cbce__x64k *k, double *l,
                          double *g, double *h)
{
    int j;
    for (j = 0; j < CBCE__VW; j++)
        if (f[j] != 0)
            cbce__x64_careful(want, x[j], t[j], p[j], w[j], ls, m1[j], m2[j], m2l, k, l + j,
                              g + j, h + j);
}

/* Hard targets take cbce__x64_hard in a unit call without the hessian, at the levels with
 * more than one lane a vector (the scalar level's build keeps one element, for size). */
#define CBCE__X64_MAY_HARD(want, smooth, unit)                                              \
    (CBCE__VW > 1 && (unit) && !(smooth) && !((want) & CBCE__HESS))
/* Vectors in flight in cbce__x64_hard: on AVX-512, 8 for the loss alone (1.09-1.10x as
 * fast as 4) or the gradient alone (1.04x); 4 for both at once and on AVX2, which are
 * slower at 8 (0.91-0.97x).  Vector j's loss goes to accumulator j % 2, so the sums do
 * not depend on it. */
#define CBCE__X64_HARD_K(want)                                                              \
    (CBCE__VW == 8 && (want) != (CBCE__LOSS | CBCE__GRAD) ? 8 : 4)

/* The low part m2l of cbce__x64_mult's multiplier M1 (M2 + m2l), the same for every lane:
 * gscale_lo without a grad_output array, else 0 (M2 the weights). */
CBCE__VI double cbce__x64_m2l(const cbce__span *S, const cbce__span_consts *k)
{
    return S->go ? 0.0 : k->gscale_lo;
}

/* The gradient multiplier of the m lanes from i as M1 (M2 + m2l) (m2l: cbce__x64_m2l;
 * cbce__x64_mpair makes it a pair); W the weights of the lanes. */
CBCE__VI void cbce__x64_mult(const cbce__span *S, const cbce__span_consts *k, size_t i,
                             size_t m, vd_t W, vd_t *M1, vd_t *M2)
{
    if (S->go) {
        *M1 = load_f64(S->go, i, m);
        *M2 = W;
    } else {
        *M1 = vd_mul(W, vd_set1(k->wpre));
        *M2 = vd_set1(k->gscale);
    }
}

/* The outputs of the m lanes from i: the loss L (= Lh + Ll) stored, or Lh + Ll added to
 * the lane sums acc_h/acc_l (double-double lanes), the gradient G and hessian H stored. */
CBCE__VI void cbce__x64_out(int want, int reduced, const cbce__span *S, size_t i, size_t m,
                            vd_t Lh, vd_t Ll, vd_t L, vd_t G, vd_t H, vd_t *acc_h,
                            vd_t *acc_l)
{
    if (want & CBCE__LOSS) {
        if (reduced) {
            vd_t e, s;
            if (m < CBCE__VW) {
                Lh = vd_select(vm_first(m), Lh, vd_zero());
                Ll = vd_select(vm_first(m), Ll, vd_zero());
            }
            s = vd_two_sum(*acc_h, Lh, &e);
            *acc_l = vd_add(*acc_l, vd_add(e, Ll));
            *acc_h = s;
        } else {
            store_f64(S->l, i, L, m);
        }
    }
    if (want & CBCE__GRAD)
        store_f64(S->g, i, G, m);
    if (want & CBCE__HESS)
        store_f64(S->h, i, H, m);
}

/* One vector of elements from i (m lanes, m < VW only for the last): loads, the element,
 * the weights, the rare lanes, then the stores or the lane sums acc_h/acc_l (double-double
 * lanes: the loss enters as its exact weighted pair).  `fast`: return 0 at once when a lane
 * is rare or the targets are of both kinds, so that the main loop holds no call (every
 * vector register is call-clobbered: a call inside the loop made the compiler keep its
 * tables and constants on the stack). */
CBCE__VI int cbce__x64_vec(const int fast, const int want, const int reduced,
                           const int smooth, const int unit, const cbce__span *S,
                           const cbce__span_consts *k, const cbce__x64k *kx,
                           const cbce__x64tab *T, size_t i, size_t m, vd_t *acc_h,
                           vd_t *acc_l)
{
    vd_t X = load_f64(S->x, i, m);
    vd_t Tr = S->t ? load_any(S->t, S->tdtype, i, m) : vd_set1(k->tk);
    vd_t P = vd_set1(k->pk), W = vd_set1(k->wk);
    vd_t M1, M2, Sh = X, Sl = X, Gh = X, Gl = X, Hh = X, Hl = X, L = X, Lh = X, Ll = X;
    vd_t G = X, H = X;
    vm_t bad = vm_first(smooth == 2 ? CBCE__VW : 0); /* tiny eps: every lane careful */
    vm_t badl = vm_first(0), badg = vm_first(0), fix, hard = vm_first(0);
    vd_t Mh, Ml, rh, rl;
    double m2l;
    const int may_hard = CBCE__X64_MAY_HARD(want, smooth, unit);
    /* hard targets take cbce__x64_hard, lane by lane (the lanes past m read as 0: hard):
     * in the fast loop four vectors at a time (cbce__x64_hard_run), here only out of line,
     * where a vector with targets of both kinds computes both elements */
    if (may_hard)
        hard = vm_or(vd_eq(Tr, vd_zero()), vd_eq(Tr, vd_set1(1.0)));
    if (may_hard && fast && vm_any(hard))
        return 0;
    if (S->p)
        P = load_f64(S->p, i, m);
    if (S->w)
        W = load_f64(S->w, i, m);
    cbce__x64_mult(S, k, i, m, W, &M1, &M2);
    m2l = cbce__x64_m2l(S, k);
    Mh = cbce__x64_mpair(M1, M2, m2l, &Ml); /* read only with a derivative */
    if (may_hard && vm_all(hard)) {
        cbce__x64_hard(1, want, kx->pe, T, &X, &Tr, &M1, &M2, m2l, &Lh, &Ll, &G, &bad,
                       &badg);
        L = vd_add(Lh, Ll);
    } else {
        cbce__x64_elem(want, smooth, unit, kx, T, X, Tr, P, &Sh, &Sl, &Gh, &Gl, &Hh, &Hl,
                       &bad, &badl, &badg);
        if ((want & CBCE__LOSS) && unit) { /* weight 1: the loss is S, in range */
            Lh = Sh;
            Ll = Sl;
            L = vd_add(Sh, Sl);
        } else if (want & CBCE__LOSS) {
            L = cbce__x64_mul(vd_mul(W, vd_set1(k->lscale)), vd_zero(), Sh, Sl, &Lh, &Ll,
                              &badl);
        }
        if (want & CBCE__GRAD)
            G = cbce__x64_mul(Mh, Ml, Gh, Gl, &rh, &rl, &badg);
        if (want & CBCE__HESS)
            H = cbce__x64_mul(Mh, Ml, Hh, Hl, &rh, &rl, &badg);
        if (may_hard && vm_any(hard)) {
            vd_t hLh = X, hLl = X, hG = X;
            vm_t hbad = vm_first(0), hbadg = vm_first(0);
            cbce__x64_hard(1, want, kx->pe, T, &X, &Tr, &M1, &M2, m2l, &hLh, &hLl, &hG,
                           &hbad, &hbadg);
            Lh = vd_select(hard, hLh, Lh);
            Ll = vd_select(hard, hLl, Ll);
            L = vd_select(hard, vd_add(hLh, hLl), L);
            G = vd_select(hard, hG, G);
            bad = vm_or(vm_and(hard, hbad), vm_andnot(bad, hard));
            badl = vm_andnot(badl, hard);
            badg = vm_or(vm_and(hard, hbadg), vm_andnot(badg, hard));
        }
    }
    /* a lane redone for one output keeps the fast value of the other, so that the fused call
     * gives the bits of the separate ones */
    badl = vm_or(bad, badl);
    badg = vm_or(bad, badg);
    fix = vm_or(badl, badg);
    if (m < CBCE__VW)
        fix = vm_and(fix, vm_first(m));
    if (fast && vm_any(fix))
        return 0; /* nothing written: the caller takes the vector again with fast = 0 */
    if (!fast && vm_any(fix)) {
        double f[CBCE__VW], x[CBCE__VW], t[CBCE__VW], p[CBCE__VW], w[CBCE__VW], m1[CBCE__VW];
        double m2[CBCE__VW], l[CBCE__VW], g[CBCE__VW], h[CBCE__VW];
        vd_store(f, vd_select(fix, vd_set1(1.0), vd_zero()));
        vd_store(x, X);
        vd_store(t, Tr);
        vd_store(p, P);
        vd_store(w, W);
        vd_store(m1, M1);
        vd_store(m2, M2);
        vd_store(l, L);
        vd_store(g, G);
        vd_store(h, H);
        cbce__x64_fix(want, f, x, t, p, w, k->lscale, m1, m2, m2l, kx, l, g, h);
        L = vd_select(badl, vd_load(l), L);
        Lh = vd_select(badl, L, Lh);
        Ll = vd_select(badl, vd_zero(), Ll);
        G = vd_select(badg, vd_load(g), G);
        H = vd_select(badg, vd_load(h), H);
    }
    cbce__x64_out(want, reduced, S, i, m, Lh, Ll, L, G, H, acc_h, acc_l);
    return 1;
}

/* K vectors from i (K even), in a call that may take the hard element, whose targets are
 * all 0 or 1 and whose lanes are not rare: their outputs as cbce__x64_vec gives them
 * (vector j into lane sums j % 2), from one hard element on all K (the chains
 * interleave).  Returns 0, with nothing written, for any other K vectors. */
CBCE__VI int cbce__x64_hard_run(const int K, const int want, const int reduced, double pe,
                                const cbce__span *S, const cbce__span_consts *k,
                                const cbce__x64tab *T, size_t i, vd_t *acc_h, vd_t *acc_l)
{
    const double *xp = (const double *)S->x;
    const vd_t W = vd_set1(k->wk), one = vd_set1(1.0);
    vd_t X[CBCE__X64_KMAX], Tr[CBCE__X64_KMAX], M1[CBCE__X64_KMAX], M2[CBCE__X64_KMAX];
    vd_t Lh[CBCE__X64_KMAX], Ll[CBCE__X64_KMAX], G[CBCE__X64_KMAX];
    vm_t bad[CBCE__X64_KMAX], badg[CBCE__X64_KMAX], hard = vm_first(CBCE__VW), any;
    const double m2l = cbce__x64_m2l(S, k);
    int j;
    CBCE__X64_FOR {
        X[j] = vd_load(xp + i + j * CBCE__VW);
        Tr[j] = S->t ? load_any(S->t, S->tdtype, i + j * CBCE__VW, CBCE__VW) : vd_set1(k->tk);
        hard = vm_and(hard, vm_or(vd_eq(Tr[j], vd_zero()), vd_eq(Tr[j], one)));
        bad[j] = badg[j] = vm_first(0);
        cbce__x64_mult(S, k, i + j * CBCE__VW, CBCE__VW, W, &M1[j], &M2[j]);
    }
    if (!vm_all(hard))
        return 0;
    cbce__x64_hard(K, want, pe, T, X, Tr, M1, M2, m2l, Lh, Ll, G, bad, badg);
    any = vm_first(0);
    CBCE__X64_FOR any = vm_or(any, vm_or(bad[j], badg[j]));
    if (vm_any(any))
        return 0;
    CBCE__X64_FOR cbce__x64_out(want, reduced, S, i + j * CBCE__VW, CBCE__VW, Lh[j], Ll[j],
                                vd_add(Lh[j], Ll[j]), G[j], G[j], &acc_h[j % 2],
                                &acc_l[j % 2]);
    return 1;
}

/* A vector that has a rare lane, or the last, partial one: cbce__x64_vec with the flags
 * as run-time values, out of line (one copy per level instead of one per instance of the
 * body: these vectors are rare, and the operations are the same, so are the results).  Its
 * accumulator `slot` passes through S's lane sums and it loads its own tables, so that the
 * body takes the address of neither its accumulators nor its tables. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void cbce__x64_vec_rare(int want, int reduced, int smooth, int unit,
                               const cbce__span *S, const cbce__span_consts *k,
                               const cbce__x64k *kx, size_t i, size_t m, int slot)
{
    cbce__x64tab T;
    vd_t h = vd_zero(), l = h;
    cbce__x64_tables(&T);
    if (reduced) {
        h = vd_load(S->lanes + slot * CBCE__VW);
        l = vd_load(S->lanes_lo + slot * CBCE__VW);
    }
    (void)cbce__x64_vec(0, want, reduced, smooth, unit, S, k, kx, &T, i, m, &h, &l);
    if (reduced) {
        vd_store(S->lanes + slot * CBCE__VW, h);
        vd_store(S->lanes_lo + slot * CBCE__VW, l);
    }
}

/* cbce__x64_vec_rare on accumulators h, l of `slot` */
#define CBCE__X64_RARE(I, M, H, L, SLOT)                                                   \
    do {                                                                                   \
        if (reduced) {                                                                     \
            vd_store(S->lanes + (SLOT) * CBCE__VW, H);                                     \
            vd_store(S->lanes_lo + (SLOT) * CBCE__VW, L);                                  \
        }                                                                                  \
        cbce__x64_vec_rare(want, reduced, smooth, unit, S, k, kx, I, M, SLOT);             \
        if (reduced) {                                                                     \
            H = vd_load(S->lanes + (SLOT) * CBCE__VW);                                     \
            L = vd_load(S->lanes_lo + (SLOT) * CBCE__VW);                                  \
        }                                                                                  \
    } while (0)

/* A span: vectors two at a time (four where they all have hard targets); vector v of the
 * span sums into accumulator v % 2 (the lanes of the block sum beyond 2 VW stay 0).
 * smooth == 2 (every lane careful) skips the fast loop. */
CBCE__VI void cbce__x64_body(const int want, const int reduced, const int smooth,
                             const int unit, const cbce__span *S, const cbce__span_consts *k,
                             const cbce__x64k *kx)
{
    cbce__x64tab T;
    vd_t ah[2], al[2];
    size_t i = 0, c = S->c;
    /* copies no store can reach: the loop's stores of doubles could alias *k and *kx,
     * which made the compiler reload them (and redo what it derives from them) per vector */
    const cbce__span_consts kc = *k;
    const cbce__x64k kxc = *kx;
    const int kh = CBCE__X64_HARD_K(want);
    cbce__x64_tables(&T);
    ah[0] = al[0] = ah[1] = al[1] = vd_zero();
    if (reduced) {
        ah[0] = vd_load(S->lanes);
        al[0] = vd_load(S->lanes_lo);
        ah[1] = vd_load(S->lanes + CBCE__VW);
        al[1] = vd_load(S->lanes_lo + CBCE__VW);
    }
    while (i + 2 * CBCE__VW <= c) {
        int odd = 0;
        for (; smooth != 2 && i + 2 * CBCE__VW <= c; i += 2 * CBCE__VW) {
            if (CBCE__X64_MAY_HARD(want, smooth, unit) && i + kh * CBCE__VW <= c &&
                cbce__x64_hard_run(kh, want, reduced, kxc.pe, S, &kc, &T, i, ah, al)) {
                i += (size_t)(kh - 2) * CBCE__VW; /* kh vectors, with the loop's own step */
                continue;
            }
            if (!cbce__x64_vec(1, want, reduced, smooth, unit, S, &kc, &kxc, &T, i, CBCE__VW,
                               &ah[0], &al[0]))
                break;
            if (!cbce__x64_vec(1, want, reduced, smooth, unit, S, &kc, &kxc, &T, i + CBCE__VW,
                               CBCE__VW, &ah[1], &al[1])) {
                odd = 1;
                break;
            }
        }
        if (i + 2 * CBCE__VW > c)
            break;
        if (!odd)
            CBCE__X64_RARE(i, CBCE__VW, ah[0], al[0], 0);
        CBCE__X64_RARE(i + CBCE__VW, CBCE__VW, ah[1], al[1], 1);
        i += 2 * CBCE__VW;
    }
    if (i < c)
        CBCE__X64_RARE(i, c - i, ah[0], al[0], 0);
    if (i + CBCE__VW < c)
        CBCE__X64_RARE(i + CBCE__VW, c - i - CBCE__VW, ah[1], al[1], 1);
    if (reduced) {
        vd_store(S->lanes, ah[0]);
        vd_store(S->lanes_lo, al[0]);
        vd_store(S->lanes + CBCE__VW, ah[1]);
        vd_store(S->lanes_lo + CBCE__VW, al[1]);
    }
}
#undef CBCE__X64_RARE

#define CBCE__X64_BODY(WANT, RED)                                                          \
    do {                                                                                   \
        if (kx.smooth == 0 && unit)                                                        \
            cbce__x64_body(WANT, RED, 0, 1, S, k, &kx);                                    \
        else if (kx.smooth == 2)                                                           \
            cbce__x64_body(WANT, RED, 2, 0, S, k, &kx);                                    \
        else /* smooth 0 or 1 tested per vector: one predictable branch */                 \
            cbce__x64_body(WANT, RED, kx.smooth, 0, S, k, &kx);                            \
    } while (0)

/* The span kernel (internal.h (e)) of BCE with logits (pe 0) or Poly-1 (pe its epsilon):
 * one instance per output set (and reduction for the loss alone), for `unit` (no
 * smoothing, every pos_weight 1, loss weight 1), for the rest (smoothing none or
 * >= 2^-500 a run-time flag), and for tiny smoothing (every vector careful, no fast loop);
 * the Poly-1 term is a run-time flag in each (cbce__x64k.poly). */
#if defined(__GNUC__)
__attribute__((noinline, unused)) /* one copy for both kernels below */
#endif
static void cbce__x64_run(double pe, int want, int reduced, const cbce__span *S,
                          const cbce__span_consts *k)
{
    cbce__x64k kx;
    int unit = 1;
    size_t i;
    if (S->p) {
        for (i = 0; i < S->c; i++)
            unit &= ((const double *)S->p)[i] == 1.0;
    } else {
        unit = k->pk == 1.0;
    }
    unit &= S->w == NULL && k->wk == 1.0 && k->lscale == 1.0;
    kx = cbce__x64_consts(k->eps, pe);
    switch (want) {
    case CBCE__LOSS:
        if (reduced)
            CBCE__X64_BODY(CBCE__LOSS, 1);
        else
            CBCE__X64_BODY(CBCE__LOSS, 0);
        break;
    case CBCE__GRAD: CBCE__X64_BODY(CBCE__GRAD, 0); break;
    case CBCE__LOSS | CBCE__GRAD: /* lane sums or loss stores: a branch per vector (measured:
                                   * no slower; the loss-only body is, by 6-10%) */
        CBCE__X64_BODY(CBCE__LOSS | CBCE__GRAD, reduced);
        break;
    default: CBCE__X64_BODY(CBCE__GRAD | CBCE__HESS, 0); break;
    }
    /* k->lneg (log_sigmoid): the span's losses negated while in L1 (1024 at the most;
     * vectorised above the scalar level); the body has no operation for it (an xor per
     * stored vector made the loss-only calls 2% slower at AVX-512) */
    if (k->lneg && (want & CBCE__LOSS) && !reduced)
        for (i = 0; i < S->c; i++)
            ((double *)S->l)[i] = -((double *)S->l)[i];
}
#undef CBCE__X64_BODY

#if defined(__GNUC__)
__attribute__((unused)) /* the baseline may take the scalar level's (logits.c) */
#endif
static void cbce__x64_span(int want, int reduced, const cbce__span *S,
                           const cbce__span_consts *k)
{
    cbce__x64_run(0.0, want, reduced, S, k);
}

#if defined(__GNUC__)
__attribute__((unused))
#endif
static void cbce__x64_poly1_span(int want, int reduced, const cbce__span *S,
                                 const cbce__span_consts *k)
{
    cbce__x64_run(k->par[CBCE__PARAM_epsilon], want, reduced, S, k);
}

#endif
