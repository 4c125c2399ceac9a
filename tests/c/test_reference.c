/*
 * test_reference.c -- accuracy of the C core against the 80-digit reference CSVs.
 *
 * For every row of ../shared/reference/logits_float{32,64}.csv (or the folder named by
 * CBCE_REFERENCE_DIR, or argv[1]) it calls the PUBLIC API with reduction NONE --
 * cbce_bce_logits_fwd_, _bwd_, _fwd_bwd_ and _grad_hess_ in both dtypes, at every SIMD level
 * this CPU runs -- and measures the error of each result in ulps of its dtype.  It prints
 * the maximum per (quantity, hard/soft labels, pos_weight 1 / not 1) with the worst row, and
 * exits 1 if any exceeds API.md's bars:
 *     loss: hard <= 1, soft <= 2;  grad: <= 1 (soft labels: in ulps of max(c*sigmoid(x), p*y),
 *     c = 1+(p-1)y);  hess <= 2;  sigmoid, log_sigmoid, softplus <= 1.
 * It also exits 1 if the SIMD levels do not give bitwise identical results, or if the fused
 * entry points differ from the separate ones.
 * sigmoid / log_sigmoid / softplus are not public entry points yet: they are computed from
 * the core's scalar primitives in elem.h (cbce__sigmoid_x etc.), compiled into this file.
 *
 * Parsing the exact values.  A reference value is a decimal string with ~25 significant
 * digits and an exponent that can be astronomically large.  It is turned, without long
 * double, into v = (hi + lo) * 2^e with hi + lo in [0.5, 1) (a double-double mantissa and a
 * separate int exponent, so values far below the double range keep their precision):
 *   - the digits (<= 31 of them) are accumulated exactly into a double-double integer M
 *     (M*10 + d is exact while M < 2^106);
 *   - 10^E = 5^E * 2^E; 5^|E| is formed by binary powering in double-double with the binary
 *     exponent kept apart (frexp after every step), then v = M * 5^E or M / 5^E in
 *     double-double, then the 2^E goes to the exponent.  Each double-double operation is
 *     accurate to a few 2^-104 relative; with <= 2*11 steps (|E| <= 2000) the mantissa is
 *     accurate to ~2^-98, i.e. errors in ulps of double are measured to ~2^-45 ulp.
 *   - exponents beyond +-2000 are "tiny" (below every binary format: counted as 0) or
 *     "huge" (above every format: must come out as inf of the same sign).
 *   Where long double has >= 64 bits (x86-64), every parsed value is cross-checked against
 *   strtold (agreement to 2^-62 relative is required; reported as "parse check").
 * Error of a computed value c against v, as in tests/reference.py: |c - v| / 2^q with
 * 2^q = ulp(v) in the target format (precision p, minimum normal exponent emin), so
 * subnormal results count in ulps of the subnormal spacing; v infinite: c must be the
 * same infinity; v finite but rounding to inf: c = inf of the same sign is exact; c = inf
 * for a finite in-range v counts as 2^(emax+1); c NaN for a non-NaN v is an infinite error.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cbce.h"
#include "elem.h"

/* ---- double-double arithmetic for the parser (Dekker 1971; no FMA, no long double) ---- */

typedef struct { double hi, lo; } hdd;

static hdd h_two_sum(double a, double b)
{
    hdd r;
    double bb;
    r.hi = a + b;
    bb = r.hi - a;
    r.lo = (a - (r.hi - bb)) + (b - bb);
    return r;
}

static hdd h_two_prod(double a, double b)
{
    const double split = 134217729.0;
    double ca = split * a, cb = split * b;
    double ah = ca - (ca - a), al = a - ah, bh = cb - (cb - b), bl = b - bh;
    hdd r;
    r.hi = a * b;
    r.lo = ((ah * bh - r.hi) + ah * bl + al * bh) + al * bl;
    return r;
}

static hdd h_mul(hdd a, hdd b)
{
    hdd p = h_two_prod(a.hi, b.hi);
    p.lo += a.hi * b.lo + a.lo * b.hi;
    return h_two_sum(p.hi, p.lo);
}

static hdd h_add(hdd a, hdd b)
{
    hdd s = h_two_sum(a.hi, b.hi);
    s.lo += a.lo + b.lo;
    return h_two_sum(s.hi, s.lo);
}

static hdd h_div(hdd a, hdd b)
{
    double q1 = a.hi / b.hi, q2, q3;
    hdd r = h_add(a, h_mul(b, (hdd){-q1, 0.0}));
    q2 = r.hi / b.hi;
    r = h_add(r, h_mul(b, (hdd){-q2, 0.0}));
    q3 = r.hi / b.hi;
    r = h_two_sum(q1, q2);
    return h_add(r, (hdd){q3, 0.0});
}

/* m * 2^e with m normalised into [0.5, 1) (m > 0) */
static hdd h_norm(hdd m, int *e)
{
    int k;
    m.hi = frexp(m.hi, &k);
    m.lo = ldexp(m.lo, -k);
    *e += k;
    return m;
}

/* ---- exact values --------------------------------------------------------------------- */

enum { V_FIN, V_ZERO, V_INF, V_NAN, V_HUGE };

typedef struct {
    int kind;       /* V_*; a "tiny" value (exponent < -2000) is V_ZERO */
    double sign;    /* +-1 */
    double hi, lo;  /* |v| = (hi + lo) * 2^e, hi + lo in [0.5, 1) (V_FIN) */
    int e;
} exact_t;

static double parse_max_rel_diff; /* vs strtold, where long double is wide enough */

static int parse_exact(const char *s, exact_t *v)
{
    const char *p = s;
    hdd m = {0.0, 0.0}, f = {1.0, 0.0}, b = {5.0, 0.0};
    int nd = 0, frac = 0, seen_point = 0, fe = 0, be = 0, k;
    long ex = 0, edigits = 0, E, aE;
    memset(v, 0, sizeof *v);
    v->sign = 1.0;
    if (*p == '-' || *p == '+')
        v->sign = *p++ == '-' ? -1.0 : 1.0;
    if (strncmp(p, "inf", 3) == 0) {
        v->kind = V_INF;
        return 0;
    }
    if (strncmp(p, "nan", 3) == 0) {
        v->kind = V_NAN;
        return 0;
    }
    for (; (*p >= '0' && *p <= '9') || (*p == '.' && !seen_point); p++) {
        if (*p == '.') {
            seen_point = 1;
            continue;
        }
        if (nd == 0 && *p == '0') { /* leading zeros */
            if (seen_point)
                frac++;
            continue;
        }
        if (nd >= 31) { /* would not stay exact: drop (and count) */
            if (!seen_point)
                frac--;
            continue;
        }
        m = h_add(h_two_prod(m.hi, 10.0), h_add(h_two_prod(m.lo, 10.0), (hdd){*p - '0', 0}));
        nd++;
        if (seen_point)
            frac++;
    }
    if (*p == 'e' || *p == 'E') {
        int neg = 0;
        p++;
        if (*p == '-' || *p == '+')
            neg = *p++ == '-';
        for (; *p >= '0' && *p <= '9'; p++, edigits++)
            if (edigits < 9)
                ex = ex * 10 + (*p - '0');
        if (neg)
            ex = -ex;
    }
    if (*p != '\0' && *p != '\n' && *p != '\r')
        return -1;
    if (nd == 0) {
        v->kind = V_ZERO;
        return 0;
    }
    if (edigits > 6 || ex > 2000 || ex < -2000) {
        v->kind = ex < 0 ? V_ZERO : V_HUGE;
        return 0;
    }
    E = ex - frac;
    aE = E < 0 ? -E : E;
    /* f * 2^fe = 5^|E| by binary powering, normalised at every step */
    f.hi = 1.0; f.lo = 0.0; fe = 0;
    b.hi = 5.0; b.lo = 0.0; be = 0;
    aE = E < 0 ? -E : E;
    while (aE) {
        if (aE & 1) {
            f = h_mul(f, b);
            fe += be;
            f = h_norm(f, &fe);
        }
        aE >>= 1;
        if (aE) {
            b = h_mul(b, b);
            be *= 2;
            b = h_norm(b, &be);
        }
    }
    k = 0;
    m = h_norm(m, &k);
    if (E >= 0) {
        m = h_mul(m, f);
        k += fe;
    } else {
        m = h_div(m, f);
        k -= fe;
    }
    m = h_norm(m, &k);
    if (m.hi == 1.0) { /* normalisation rounded up into the next binade */
        m.hi = 0.5;
        m.lo *= 0.5;
        k++;
    }
    v->kind = V_FIN;
    v->hi = m.hi;
    v->lo = m.lo;
    v->e = (int)(k + E);
#if LDBL_MANT_DIG >= 64 && LDBL_MAX_EXP >= 16384
    {
        long double ref = strtold(s, NULL);
        long double me = ldexpl((long double)v->hi + (long double)v->lo, v->e) * v->sign;
        if (ref != 0 && isfinite(ref)) {
            double d = (double)fabsl((me - ref) / ref);
            if (d > parse_max_rel_diff)
                parse_max_rel_diff = d;
        }
    }
#endif
    return 0;
}

/* nearest double of an exact value (to choose scales only) */
static double exact_approx(const exact_t *v)
{
    switch (v->kind) {
    case V_ZERO: return 0.0 * v->sign;
    case V_INF:
    case V_HUGE: return v->sign * HUGE_VAL;
    case V_NAN: return NAN;
    default: return v->sign * ldexp(v->hi + v->lo, v->e);
    }
}

/* Error of c in ulps of a format (prec, emin, emax); scale > 0: in ulps of scale. */
static double ulp_err(double c, const exact_t *v, int prec, int emin, int emax, double scale)
{
    int big_e, q, se;
    double cs, vh, vl;
    if (v->kind == V_NAN)
        return isnan(c) ? 0.0 : HUGE_VAL;
    if (isnan(c))
        return HUGE_VAL;
    if (v->kind == V_INF || v->kind == V_HUGE)
        return (isinf(c) && (c > 0) == (v->sign > 0)) ? 0.0 : HUGE_VAL;
    if (scale > 0 && isfinite(scale)) {
        frexp(scale, &se);
        big_e = se - 1;
    } else {
        big_e = v->kind == V_FIN ? v->e - 1 : emin;
    }
    if (big_e < emin)
        big_e = emin;
    if (big_e > emax)
        big_e = emax;
    q = big_e - prec + 1;
    if (isinf(c)) {
        /* v rounds to inf in the format: inf of the same sign is exact */
        if (v->kind == V_FIN && (c > 0) == (v->sign > 0) &&
            (v->e > emax + 1 || (v->e == emax + 1 && v->hi + v->lo >= 1.0 - ldexp(1.0, -prec - 1))))
            return 0.0;
        cs = (c > 0 ? 1.0 : -1.0) * ldexp(1.0, emax + 1 - q);
    } else {
        cs = ldexp(c, -q);
    }
    if (v->kind == V_ZERO)
        return fabs(cs);
    vh = v->sign * ldexp(v->hi, v->e - q);
    vl = v->sign * ldexp(v->lo, v->e - q);
    return fabs((cs - vh) - vl);
}

/* ---- the CSV ---------------------------------------------------------------------------- */

enum { C_LOSS, C_GRAD, C_HESS, C_SIG, C_LSIG, C_SP, NCOL };
static const char *col_name[NCOL] = {"loss", "grad", "hess", "sigmoid", "log_sigmoid",
                                     "softplus"};

typedef struct {
    size_t n;
    double *x, *y, *p;
    exact_t *v[NCOL];
} table_t;

static int load_csv(const char *path, table_t *t)
{
    FILE *fp = fopen(path, "r");
    char *line;
    size_t cap = 1024, len;
    const size_t maxline = 1 << 16;
    int c, k;
    if (!fp) {
        fprintf(stderr, "cannot open %s\n", path);
        return -1;
    }
    line = malloc(maxline);
    memset(t, 0, sizeof *t);
    t->x = malloc(cap * sizeof(double));
    t->y = malloc(cap * sizeof(double));
    t->p = malloc(cap * sizeof(double));
    for (k = 0; k < NCOL; k++)
        t->v[k] = malloc(cap * sizeof(exact_t));
    if (!fgets(line, (int)maxline, fp)) { /* header */
        fclose(fp);
        return -1;
    }
    if (strncmp(line, "x,y,pos_weight,loss,grad,hess,sigmoid,log_sigmoid,softplus", 58) != 0) {
        fprintf(stderr, "%s: unexpected header %s", path, line);
        return -1;
    }
    for (;;) {
        char *fld[9], *s;
        int nf = 0;
        len = 0;
        while ((c = fgetc(fp)) != EOF && c != '\n')
            if (len < maxline - 1)
                line[len++] = (char)c;
        line[len] = '\0';
        if (len == 0 && c == EOF)
            break;
        if (len == 0)
            continue;
        for (s = line; nf < 9; nf++) {
            fld[nf] = s;
            s = strchr(s, ',');
            if (!s)
                break;
            *s++ = '\0';
        }
        if (nf != 8) {
            fprintf(stderr, "%s: row %zu has %d fields\n", path, t->n + 2, nf + 1);
            return -1;
        }
        if (t->n == cap) {
            cap *= 2;
            t->x = realloc(t->x, cap * sizeof(double));
            t->y = realloc(t->y, cap * sizeof(double));
            t->p = realloc(t->p, cap * sizeof(double));
            for (k = 0; k < NCOL; k++)
                t->v[k] = realloc(t->v[k], cap * sizeof(exact_t));
        }
        t->x[t->n] = strtod(fld[0], NULL); /* hex floats, inf, nan: exact */
        t->y[t->n] = strtod(fld[1], NULL);
        t->p[t->n] = strtod(fld[2], NULL);
        for (k = 0; k < NCOL; k++)
            if (parse_exact(fld[3 + k], &t->v[k][t->n]) != 0) {
                fprintf(stderr, "%s: row %zu: cannot parse %s\n", path, t->n + 2, fld[3 + k]);
                return -1;
            }
        t->n++;
    }
    free(line);
    fclose(fp);
    return 0;
}

/* ---- measuring ------------------------------------------------------------------------- */

typedef struct {
    double worst;
    size_t row;
    double got;
} stat_t;

static int n_fail;

static void upd(stat_t *s, double err, size_t row, double got)
{
    if (!(err <= s->worst)) {
        if (s->worst == s->worst || err != err) { /* keep the first NaN */
            s->worst = err;
            s->row = row;
            s->got = got;
        }
    }
}

static void report(const char *dt, const char *what, const char *cls, const stat_t *s,
                   double bar, const table_t *t, int col)
{
    int bad = !(s->worst <= bar);
    printf("%-7s %-11s %-22s max %9.4g ulp (bar %g)%s", dt, what, cls, s->worst, bar,
           bad ? "  FAIL" : "");
    if (s->worst > 0)
        printf("  worst x=%a y=%a p=%g got %.17g exact %.17g", t->x[s->row], t->y[s->row],
               t->p[s->row], s->got, exact_approx(&t->v[col][s->row]));
    printf("\n");
    n_fail += bad;
}

#define NCLS 4 /* hard p=1, hard p!=1, soft p=1, soft p!=1 */
static const char *cls_name[NCLS] = {"hard, pos_weight=1", "hard, pos_weight!=1",
                                     "soft, pos_weight=1", "soft, pos_weight!=1"};

static int row_class(const table_t *t, size_t i)
{
    int hard = t->y[i] == 0.0 || t->y[i] == 1.0;
    return (hard ? 0 : 2) + (t->p[i] != 1.0);
}

/* scale for soft-label gradients: max(c*sigmoid(x), p*y), c = (1-y) + p*y */
static double grad_scale(const table_t *t, size_t i)
{
    double y = t->y[i], p = t->p[i], c = (1.0 - y) + p * y;
    double a = c * exact_approx(&t->v[C_SIG][i]), b = p * y;
    return a > b ? a : b;
}

/* the outputs of one run of every entry point, as doubles */
typedef struct {
    double *loss, *grad, *fb_loss, *fb_grad, *gh_grad, *hess;
} outs_t;

static int run_api(const table_t *t, int f64, int simd, outs_t *o)
{
    size_t n = t->n, i;
    cbce_args_t a;
    void *xb, *yb, *pb, *b1, *b2;
    int rc = 0, dt = f64 ? CBCE_F64 : CBCE_F32;
    size_t es = f64 ? sizeof(double) : sizeof(float);
    xb = calloc(n, es);
    yb = calloc(n, es);
    pb = calloc(n, es);
    b1 = calloc(n, es);
    b2 = calloc(n, es);
    for (i = 0; i < n; i++) {
        if (f64) {
            ((double *)xb)[i] = t->x[i];
            ((double *)yb)[i] = t->y[i];
            ((double *)pb)[i] = t->p[i];
        } else {
            ((float *)xb)[i] = (float)t->x[i];
            ((float *)yb)[i] = (float)t->y[i];
            ((float *)pb)[i] = (float)t->p[i];
        }
    }
    memset(&a, 0, sizeof a);
    a.n = n;
    a.input = cbce_vector(xb, dt, n, 1);
    a.target = cbce_vector(yb, dt, n, 1);
    a.pos_weight = cbce_vector(pb, dt, n, 1);
    a.reduction = CBCE_REDUCTION_NONE;
    a.alpha = NAN;
    a.num_threads = 1;
    a.simd = simd;
#define CBCE__COPY(dst, src)                                                           \
    for (i = 0; i < n; i++)                                                            \
        dst[i] = f64 ? ((double *)src)[i] : (double)((float *)src)[i];
    rc |= f64 ? cbce_bce_logits_fwd_f64(&a, b1, 1, NULL) : cbce_bce_logits_fwd_f32(&a, b1, 1, NULL);
    CBCE__COPY(o->loss, b1)
    rc |= f64 ? cbce_bce_logits_bwd_f64(&a, b1, 1) : cbce_bce_logits_bwd_f32(&a, b1, 1);
    CBCE__COPY(o->grad, b1)
    rc |= f64 ? cbce_bce_logits_fwd_bwd_f64(&a, b1, 1, NULL, b2, 1)
              : cbce_bce_logits_fwd_bwd_f32(&a, b1, 1, NULL, b2, 1);
    CBCE__COPY(o->fb_loss, b1)
    CBCE__COPY(o->fb_grad, b2)
    rc |= f64 ? cbce_bce_logits_grad_hess_f64(&a, b1, 1, b2, 1)
              : cbce_bce_logits_grad_hess_f32(&a, b1, 1, b2, 1);
    CBCE__COPY(o->gh_grad, b1)
    CBCE__COPY(o->hess, b2)
#undef CBCE__COPY
    free(xb);
    free(yb);
    free(pb);
    free(b1);
    free(b2);
    return rc;
}

static void outs_alloc(outs_t *o, size_t n)
{
    o->loss = malloc(n * sizeof(double));
    o->grad = malloc(n * sizeof(double));
    o->fb_loss = malloc(n * sizeof(double));
    o->fb_grad = malloc(n * sizeof(double));
    o->gh_grad = malloc(n * sizeof(double));
    o->hess = malloc(n * sizeof(double));
}

static int same_bits(const double *a, const double *b, size_t n, size_t *where)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof(double)) != 0) {
            *where = i;
            return 0;
        }
    return 1;
}

static void check_same(const char *dt, const char *what, const double *a, const double *b,
                       const table_t *t)
{
    size_t w;
    if (!same_bits(a, b, t->n, &w)) {
        printf("%-7s FAIL: %s differ at row %zu (x=%a y=%a p=%g): %.17g vs %.17g\n", dt, what,
               w + 2, t->x[w], t->y[w], t->p[w], a[w], b[w]);
        n_fail++;
    }
}

static void measure(const table_t *t, int f64, const outs_t *o)
{
    const char *dt = f64 ? "float64" : "float32";
    int prec = f64 ? 53 : 24, emin = f64 ? -1022 : -126, emax = f64 ? 1023 : 127, c;
    static const double bar[3][2] = {{1, 2}, {1, 1}, {2, 2}}; /* [quantity][soft] */
    stat_t st[3][NCLS];
    size_t i;
    memset(st, 0, sizeof st);
    for (i = 0; i < t->n; i++) {
        int k = row_class(t, i), soft = k >= 2;
        double gs = soft ? grad_scale(t, i) : 0.0;
        upd(&st[0][k], ulp_err(o->loss[i], &t->v[C_LOSS][i], prec, emin, emax, 0), i, o->loss[i]);
        upd(&st[1][k], ulp_err(o->grad[i], &t->v[C_GRAD][i], prec, emin, emax, gs), i, o->grad[i]);
        upd(&st[2][k], ulp_err(o->hess[i], &t->v[C_HESS][i], prec, emin, emax, 0), i, o->hess[i]);
    }
    for (c = 0; c < 3; c++) {
        int k;
        for (k = 0; k < NCLS; k++)
            report(dt, col_name[c], cls_name[k], &st[c][k], bar[c][k >= 2], t, c);
    }
}

#ifdef CBCE__HAVE_ELEMENTWISE
/* sigmoid, log_sigmoid, softplus from elem.h's primitives (no public entry points yet) */
static void measure_elementwise(const table_t *t, int f64)
{
    const char *dt = f64 ? "float64" : "float32";
    int prec = f64 ? 53 : 24, emin = f64 ? -1022 : -126, emax = f64 ? 1023 : 127, c;
    stat_t st[3];
    size_t i;
    memset(st, 0, sizeof st);
    for (i = 0; i < t->n; i++) {
        double x = t->x[i], r[3];
        if (f64) {
            r[0] = cbce__sigmoid_x(x);
            r[1] = cbce__log_sigmoid_x(x);
            r[2] = cbce__softplus_x(x);
        } else {
            /* through a volatile float: GCC 12.2's SLP vectoriser at -O2 dropped these
             * three (float) conversions when they were assigned to r[] directly */
            volatile float rf;
            rf = (float)cbce__sigmoid_d(x);
            r[0] = rf;
            rf = (float)cbce__log_sigmoid_d(x);
            r[1] = rf;
            rf = (float)cbce__softplus_d(x);
            r[2] = rf;
        }
        for (c = 0; c < 3; c++)
            upd(&st[c], ulp_err(r[c], &t->v[C_SIG + c][i], prec, emin, emax, 0), i, r[c]);
    }
    for (c = 0; c < 3; c++)
        report(dt, col_name[C_SIG + c], "(elem.h primitive)", &st[c], 1.0, t, C_SIG + c);
}
#endif

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : getenv("CBCE_REFERENCE_DIR");
    char path[4096];
    int f64;
    if (!dir)
        dir = "../shared/reference";
    for (f64 = 0; f64 < 2; f64++) {
        table_t t;
        outs_t base, other;
        int lv;
        const char *dt = f64 ? "float64" : "float32";
        snprintf(path, sizeof path, "%s/logits_float%s.csv", dir, f64 ? "64" : "32");
        if (load_csv(path, &t) != 0)
            return 2;
        printf("%s: %zu rows from %s\n", dt, t.n, path);
        outs_alloc(&base, t.n);
        outs_alloc(&other, t.n);
        if (run_api(&t, f64, CBCE_SIMD_AUTO, &base) != 0) {
            printf("FAIL: %s API call returned an error\n", dt);
            return 1;
        }
        printf("%s: measured at SIMD level %s\n", dt, cbce_simd_name(cbce_simd_level(0)));
        measure(&t, f64, &base);
        check_same(dt, "fwd and fwd_bwd losses", base.loss, base.fb_loss, &t);
        check_same(dt, "bwd and fwd_bwd gradients", base.grad, base.fb_grad, &t);
        check_same(dt, "bwd and grad_hess gradients", base.grad, base.gh_grad, &t);
        for (lv = CBCE_SIMD_SCALAR; lv <= CBCE_SIMD_AVX512; lv++) {
            char what[64];
            if (cbce_simd_level(lv) != lv || lv == cbce_simd_level(0))
                continue;
            run_api(&t, f64, lv, &other);
            snprintf(what, sizeof what, "%s vs %s: loss", cbce_simd_name(lv),
                     cbce_simd_name(cbce_simd_level(0)));
            check_same(dt, what, base.loss, other.loss, &t);
            snprintf(what, sizeof what, "%s vs %s: grad", cbce_simd_name(lv),
                     cbce_simd_name(cbce_simd_level(0)));
            check_same(dt, what, base.grad, other.grad, &t);
            snprintf(what, sizeof what, "%s vs %s: hess", cbce_simd_name(lv),
                     cbce_simd_name(cbce_simd_level(0)));
            check_same(dt, what, base.hess, other.hess, &t);
            printf("%s: level %s checked bitwise against %s\n", dt, cbce_simd_name(lv),
                   cbce_simd_name(cbce_simd_level(0)));
        }
#ifdef CBCE__HAVE_ELEMENTWISE
        measure_elementwise(&t, f64);
#endif
    }
#if LDBL_MANT_DIG >= 64 && LDBL_MAX_EXP >= 16384
    printf("parse check: max relative difference to strtold %.3g%s\n", parse_max_rel_diff,
           parse_max_rel_diff > ldexp(1.0, -62) ? "  FAIL" : "");
    if (parse_max_rel_diff > ldexp(1.0, -62))
        n_fail++;
#endif
    printf("%s: %d check(s) failed\n", n_fail ? "FAIL" : "OK", n_fail);
    return n_fail ? 1 : 0;
}
