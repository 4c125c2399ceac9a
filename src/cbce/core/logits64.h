/*
 * logits64.h -- the float64 BCE-with-logits compute step, on the vector layer (simd/vec.h):
 * a fast element for every lane, and a careful scalar element for the rare lanes it flags.
 *
 * Per element, with a = |x|, y the smoothed target, q = 1 - y, p pos_weight, w the loss
 * multiplier (weight), m the gradient multiplier (weight * grad_output / denominator),
 * L = q + p*y, c = q (x >= 0) or p*y (x < 0), e = exp(-a), t = log1p(e), s = e/(1+e):
 *     loss = w * (c*a + L*t)
 *     grad = m * (x >= 0 ? q - L*s : L*s - p*y)
 *     hess = m * L * s/(1+e)
 * Each is formed as a double-double and rounded once, weights included.
 *
 * Fast element (every lane; the error budget, relative, before the one rounding):
 *  - y, q, p*y, L as double-double pairs (two_sum/two_prod: exact for hard labels; for soft
 *    labels and label smoothing within 2^-100);
 *  - e = 2^-K (Eh + El): n = round(a 16/ln2) = 16K + i, r = n ln2/16 - a by a three-part
 *    Cody-Waite step (n*C1, n*C2 exact: r within 2^-60 of the truth), expm1(r) = r EP(r)
 *    (2^-65), E = T[i] + T[i] expm1(r) with T[i] = 2^(-i/16) as hi + lo from a 16-entry
 *    table: E within 2^-58.5 (the rounding of T[i]*expm1(r) and of Eh + El);
 *  - t = log1p(e) = -log(LOGC[b]) + log1p(z), b = round(15.49 e), z = LOGC[b] (1 + e) - 1
 *    formed exactly (two_prod and Sterbenz), log1p(z) = z + z^2 LQ(z) (2^-61 relative to z,
 *    |z| <= 0.0323), one Fast2Sum: t within 2^-57.5;
 *  - s = e/(1+e) and s/(1+e) by a reciprocal good to 2^-50 and one residual step: 2^-100
 *    beyond the operands' own errors;
 *  - the final combination by exact products (two_prod) and two_sum; the loss is a sum of
 *    two terms >= 0 (for targets in [0, 1]), so their relative errors carry over: within
 *    2^-57.5 before the rounding, <= 0.5 + 0.09 ulp.  Hard-label gradients do not cancel
 *    (|result| >= half the larger term); soft-label gradients are within 2^-57 of
 *    max(L*s, p*y) (the scale API.md measures them in).
 * The fast element assumes every value it forms is a normal double: it flags ("rare") the
 * lanes with a > 665 (e < 2^-959, or infinite, or NaN), a loss sum or gradient scale or
 * hessian outside [2^-960, 2^960], or a result that overflowed.  Those lanes are computed
 * again by the careful element, which carries every exponent separately (cbce__xd below),
 * so weights, pos_weight, label smoothing (a subnormal one included) and exp(-a) down to
 * a = 2400 enter before the one rounding whatever their range, and subnormal results are
 * rounded once.  A call with 0 < label_smoothing < 2^-500 (eps/2 and p*eps/2 would round on
 * the subnormal grid) takes the careful element for every element.
 */
#ifndef CBCE_LOGITS64_H
#define CBCE_LOGITS64_H

#include <float.h>
#include <math.h>

#include "internal.h"
#include "logits64_tables.h"
#include "simd/vec.h"

/* Per-call constants of the float64 step. */
typedef struct cbce__x64k {
    double eps, kh, kl; /* label_smoothing, 1 - eps = kh + kl exactly */
    int smooth;         /* eps != 0 */
} cbce__x64k;

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
    double n = nearbyint(a * CBCE__X64_INVC), k = floor(n * 0.0625), r, P, lo, s, th;
    int i = (int)(n - 16.0 * k), j;
    r = fma(n, CBCE__X64_C1, -a);
    r = fma(n, CBCE__X64_C2, r);
    r = fma(n, CBCE__X64_C3, r);
    P = CBCE__X64_EP[6];
    for (j = 5; j >= 0; j--)
        P = fma(P, r, CBCE__X64_EP[j]);
    th = CBCE__X64_EXP_HI[i];
    lo = fma(th, P * r, CBCE__X64_EXP_LO[i]);
    s = th + lo;
    *El = (th - s) + lo;
    *K = (int)k;
    return s;
}

/* log1p(eh + el) = th + tl for a normal e in (0, 1], as in the fast element (scalar). */
static double cbce__x64_log1p_s(double eh, double el, double *tl)
{
    int b = (int)nearbyint(eh * CBCE__X64_LOGM), j;
    double c = CBCE__X64_LOGC[b], ph = c * eh, pl = fma(c, eh, -ph);
    double zh = ph + (c - 1.0), zl = fma(c, el, pl), Q = CBCE__X64_LQ[8], th;
    for (j = 7; j >= 0; j--)
        Q = fma(Q, zh, CBCE__X64_LQ[j]);
    zl = fma(zh * zh, Q, (zl + CBCE__X64_LOGL[b]) - zl * zh);
    th = CBCE__X64_LOGH[b] + zh;
    *tl = ((CBCE__X64_LOGH[b] - th) + zh) + zl;
    return th;
}

static void cbce__x64_careful(int want, double x, double tr, double p, double w, double m,
                              const cbce__x64k *k, double *lp, double *gp, double *hp)
{
    const cbce__xd zero = {0.0, 0.0, 0}, one = {1.0, 0.0, 0};
    double a = fabs(x), d0 = 1.0 - tr, bb = d0 - 1.0;
    int pos = x >= 0;
    cbce__xd y = cbce__xd_of(tr), q, py, L, c, e = zero, t = zero;
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
    if (want & CBCE__LOSS) {
        cbce__xd ca = c.h == 0 ? zero : cbce__xd_mul(c, cbce__xd_of(a)); /* 0 at a = inf */
        *lp = cbce__xd_round(cbce__xd_mul(cbce__xd_of(w),
                                          cbce__xd_add(ca, cbce__xd_mul(L, t))));
    }
    if (want & (CBCE__GRAD | CBCE__HESS)) {
        cbce__xd d = cbce__xd_add(one, e), s = cbce__xd_div(e, d), Ls = cbce__xd_mul(L, s);
        if (want & CBCE__GRAD)
            *gp = cbce__xd_round(cbce__xd_mul(
                cbce__xd_of(m), pos ? cbce__xd_add(q, cbce__xd_neg(Ls))
                                    : cbce__xd_add(Ls, cbce__xd_neg(py))));
        if (want & CBCE__HESS)
            *hp = cbce__xd_round(
                cbce__xd_mul(cbce__xd_of(m), cbce__xd_mul(L, cbce__xd_div(s, d))));
    }
}

/* ---- the fast element, VW lanes --------------------------------------------------------- */

/* n - q*d to within 2^-106 relative of n, for q*d close to n */
CBCE__VI vd_t cbce__x64_resid(vd_t n, vd_t q, vd_t d)
{
#if CBCE__VEC_FMA
    return vd_fma(vd_neg(q), d, n);
#else
    vd_t pl, ph = vd_two_prod(q, d, &pl);
    return vd_sub(vd_sub(n, ph), pl);
#endif
}

/* RN(f * (vh + vl)) by an exact product; a zero product keeps its sign (f * v for zero v).
 * Adds to *bad the lanes where the result overflowed or is below 2^-1021 with f != 0 (a
 * subnormal product's low part is rounded on the subnormal grid: two roundings). */
CBCE__VI vd_t cbce__x64_scale(vd_t f, vd_t vh, vd_t vl, vm_t *bad)
{
    vd_t rl, rh = vd_two_prod(f, vh, &rl), r, ar;
    r = vd_select(vd_eq(rh, vd_zero()), rh, vd_add(rh, vd_mla(f, vl, rl)));
    ar = vd_abs(r);
    *bad = vm_or(*bad, vm_not(vm_and(vd_le(ar, vd_set1(DBL_MAX)),
                                     vm_or(vd_ge(ar, vd_set1(0x1p-1021)),
                                           vd_eq(f, vd_zero())))));
    return r;
}

typedef struct cbce__x64tab {
    vd_tab16_t eh, el, lc, lh, ll;
} cbce__x64tab;

/* The element on one vector; `rare` gets the lanes the careful element must redo. */
CBCE__VI void cbce__x64_elem(int want, int smooth, const cbce__x64k *k,
                             const cbce__x64tab *T, vd_t x, vd_t tr, vd_t p, vd_t w, vd_t m,
                             vd_t *lv, vd_t *gv, vd_t *hv, vm_t *rare)
{
    const vd_t one = vd_set1(1.0), lo_b = vd_set1(0x1p-960), hi_b = vd_set1(0x1p960);
    vd_t a = vd_abs(x), yh = tr, yl = vd_zero(), ql, qh, pyl, pyh, Ll, Lh, ch, cl;
    vd_t n, kf, i, r, P, Th, Tl, lo, Eh, El, sc, eh, el;
    vm_t pos = vd_ge(x, vd_zero()), bad = vm_not(vd_le(a, vd_set1(665.0)));
    int j;
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
    pyh = vd_two_prod(p, yh, &pyl);
    pyl = vd_mla(p, yl, pyl);
    Lh = vd_two_sum(qh, pyh, &Ll);
    Ll = vd_add(Ll, vd_add(ql, pyl));
    ch = vd_select(pos, qh, pyh);
    cl = vd_select(pos, ql, pyl);
    /* e = exp(-a) = 2^-K (Eh + El), scaled: eh + el (normal for a <= 665) */
    a = vd_min(a, vd_set1(708.0)); /* NaN -> 708; such lanes are rare */
    n = vd_round(vd_mul(a, vd_set1(CBCE__X64_INVC)));
    kf = vd_round(vd_mla(n, vd_set1(0.0625), vd_set1(-7.5 / 16))); /* floor(n/16) */
    i = vd_nmla(kf, vd_set1(16.0), n);
    r = vd_mla(n, vd_set1(CBCE__X64_C1), vd_neg(a));
    r = vd_mla(n, vd_set1(CBCE__X64_C2), r);
    r = vd_mla(n, vd_set1(CBCE__X64_C3), r);
    P = vd_mla(vd_set1(CBCE__X64_EP[6]), r, vd_set1(CBCE__X64_EP[5]));
    for (j = 4; j >= 0; j--)
        P = vd_mla(P, r, vd_set1(CBCE__X64_EP[j]));
    Th = vd_tab16_get(T->eh, i);
    Tl = vd_tab16_get(T->el, i);
    lo = vd_mla(Th, vd_mul(P, r), Tl);
    Eh = vd_fast_two_sum(Th, lo, &El);
    sc = vd_scalef(one, vd_neg(kf));
    eh = vd_mul(Eh, sc);
    el = vd_mul(El, sc);
    if (want & CBCE__LOSS) {
        /* t = log1p(e) */
        vd_t b = vd_round(vd_mul(eh, vd_set1(CBCE__X64_LOGM)));
        vd_t cc = vd_tab16_get(T->lc, b), lh = vd_tab16_get(T->lh, b);
        vd_t ll = vd_tab16_get(T->ll, b), ph, pl, zh, zl, Q, th, tl;
        vd_t Ah, Al, Bh, Bl, Sh, Sl;
        ph = vd_two_prod(cc, eh, &pl);
        zh = vd_add(ph, vd_sub(cc, one));
        zl = vd_mla(cc, el, pl);
        Q = vd_mla(vd_set1(CBCE__X64_LQ[8]), zh, vd_set1(CBCE__X64_LQ[7]));
        for (j = 6; j >= 0; j--)
            Q = vd_mla(Q, zh, vd_set1(CBCE__X64_LQ[j]));
        zl = vd_mla(vd_mul(zh, zh), Q, vd_nmla(zl, zh, vd_add(zl, ll)));
        th = vd_fast_two_sum(lh, zh, &tl);
        tl = vd_add(tl, zl);
        /* w (c a + L t) */
        Ah = vd_two_prod(ch, a, &Al);
        Al = vd_mla(cl, a, Al);
        Bh = vd_two_prod(Lh, th, &Bl);
        Bl = vd_mla(Lh, tl, vd_mla(Ll, th, Bl));
        Sh = vd_two_sum(Ah, Bh, &Sl);
        Sl = vd_add(Sl, vd_add(Al, Bl));
        *lv = cbce__x64_scale(w, Sh, Sl, &bad);
        Sh = vd_abs(Sh);
        bad = vm_or(bad, vm_not(vm_and(vd_ge(Sh, lo_b), vd_le(Sh, hi_b))));
    }
    if (want & (CBCE__GRAD | CBCE__HESS)) {
        /* s = e/(1+e) = sh + sl */
        vd_t dl, dh = vd_fast_two_sum(one, eh, &dl), rc, sh, sl, Lsh, Lsl;
        dl = vd_add(dl, el);
        rc = vd_rcp50(dh);
        sh = vd_mul(eh, rc);
        sl = vd_mul(vd_nmla(sh, dl, vd_add(cbce__x64_resid(eh, sh, dh), el)), rc);
        Lsh = vd_two_prod(Lh, sh, &Lsl);
        Lsl = vd_mla(Lh, sl, vd_mla(Ll, sh, Lsl));
        if (want & CBCE__GRAD) {
            /* x >= 0: q - L s; x < 0: L s - p y */
            vd_t bh = vd_select(pos, qh, vd_neg(pyh)), bl = vd_select(pos, ql, vd_neg(pyl));
            vd_t sLh = vd_select(pos, vd_neg(Lsh), Lsh), sLl = vd_select(pos, vd_neg(Lsl), Lsl);
            vd_t Gl, Gh = vd_two_sum(bh, sLh, &Gl), sz;
            Gl = vd_add(Gl, vd_add(bl, sLl));
            *gv = cbce__x64_scale(m, Gh, Gl, &bad);
            sz = vd_max(vd_abs(bh), vd_abs(Lsh));
            bad = vm_or(bad, vm_not(vm_and(vd_ge(sz, lo_b), vd_le(sz, hi_b))));
        }
        if (want & CBCE__HESS) {
            /* L s/(1+e) */
            vd_t uh = vd_mul(sh, rc), ul, Hh, Hl;
            ul = vd_mul(vd_nmla(uh, dl, vd_add(cbce__x64_resid(sh, uh, dh), sl)), rc);
            Hh = vd_two_prod(Lh, uh, &Hl);
            Hl = vd_mla(Lh, ul, vd_mla(Ll, uh, Hl));
            *hv = cbce__x64_scale(m, Hh, Hl, &bad);
            Hh = vd_abs(Hh);
            bad = vm_or(bad, vm_not(vm_and(vd_ge(Hh, lo_b), vd_le(Hh, hi_b))));
        }
    }
    *rare = bad;
}

/* The step over c elements (internal.h): vectors of VW lanes, two in flight; then the
 * lanes flagged rare again by the careful element. */
CBCE__VI void cbce__x64_run(int want, int smooth, size_t c, const double *x, const double *t,
                            const double *p, const double *w, const double *m,
                            const cbce__x64k *k, double *l, double *g, double *h)
{
    cbce__x64tab T;
    double rare[CBCE__CHUNK];
    vd_t L0 = vd_zero(), G0 = L0, H0 = L0, L1 = L0, G1 = L0, H1 = L0;
    vm_t r0, r1;
    size_t i, any = 0;
    T.eh = vd_tab16_load(CBCE__X64_EXP_HI);
    T.el = vd_tab16_load(CBCE__X64_EXP_LO);
    T.lc = vd_tab16_load(CBCE__X64_LOGC);
    T.lh = vd_tab16_load(CBCE__X64_LOGH);
    T.ll = vd_tab16_load(CBCE__X64_LOGL);
    for (i = 0; i + 2 * CBCE__VW <= c; i += 2 * CBCE__VW) {
        size_t i1 = i + CBCE__VW;
        cbce__x64_elem(want, smooth, k, &T, vd_load(x + i), vd_load(t + i), vd_load(p + i),
                       vd_load(w + i), vd_load(m + i), &L0, &G0, &H0, &r0);
        cbce__x64_elem(want, smooth, k, &T, vd_load(x + i1), vd_load(t + i1),
                       vd_load(p + i1), vd_load(w + i1), vd_load(m + i1), &L1, &G1, &H1,
                       &r1);
        if (want & CBCE__LOSS) {
            vd_store(l + i, L0);
            vd_store(l + i1, L1);
        }
        if (want & CBCE__GRAD) {
            vd_store(g + i, G0);
            vd_store(g + i1, G1);
        }
        if (want & CBCE__HESS) {
            vd_store(h + i, H0);
            vd_store(h + i1, H1);
        }
        vd_store(rare + i, vd_select(r0, vd_set1(1.0), vd_zero()));
        vd_store(rare + i1, vd_select(r1, vd_set1(1.0), vd_zero()));
        any |= (size_t)(vm_any(r0) | vm_any(r1));
    }
    for (; i < c; i += CBCE__VW) {
        size_t nl = c - i;
        cbce__x64_elem(want, smooth, k, &T, vd_loadn(x + i, nl), vd_loadn(t + i, nl),
                       vd_loadn(p + i, nl), vd_loadn(w + i, nl), vd_loadn(m + i, nl), &L0,
                       &G0, &H0, &r0);
        if (want & CBCE__LOSS)
            vd_storen(l + i, L0, nl);
        if (want & CBCE__GRAD)
            vd_storen(g + i, G0, nl);
        if (want & CBCE__HESS)
            vd_storen(h + i, H0, nl);
        r0 = vm_and(r0, vm_first(nl));
        vd_storen(rare + i, vd_select(r0, vd_set1(1.0), vd_zero()), nl);
        any |= (size_t)vm_any(r0);
    }
    if (any)
        for (i = 0; i < c; i++)
            if (rare[i] != 0)
                cbce__x64_careful(want, x[i], t[i], p[i], w[i], m[i], k, l + i, g + i, h + i);
}

#endif
