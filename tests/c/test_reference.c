/*
 * test_reference.c -- accuracy of the C core against the 80-digit reference CSVs.
 *
 * For every row of DIR/logits_float{32,64}.csv (DIR = argv[1]; run_reference.sh passes the
 * decompressed tables of tests/data) it calls the PUBLIC API with reduction NONE --
 * cbce_bce_logits_fwd_, _bwd_, _fwd_bwd_ and _grad_hess_ in both dtypes, at every SIMD level
 * this CPU runs -- and measures the error of each result in ulps of its dtype.  It prints
 * the maximum per (quantity, hard/soft labels, pos_weight 1 / not 1) with the worst row, and
 * exits 1 if any exceeds the contract's bars (docs/contract.md):
 *     loss: hard <= 1, soft <= 2;  grad: <= 1 (soft labels: in ulps of max(c*sigmoid(x), p*y),
 *     c = 1+(p-1)y);  hess <= 2;  sigmoid, log_sigmoid, softplus <= 1.
 * Every other SIMD level is measured against the same bars (levels may differ in the last
 * bit).  It also exits 1 if the fused entry points differ from the separate ones.
 * sigmoid / log_sigmoid / softplus: the public cbce_sigmoid_f32/_f64 & co. on the x column,
 * and the core's float32 primitives in logits_elem.h (cbce__sigmoid_d etc., compiled into
 * this file); log(p) and log1p(-p) primitives against a
 * small mpmath table (bar 1 ulp for all of these).
 *
 * Parsing the exact values.  A reference value is a decimal string with <= 30 significant
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
#include "losses/logits_elem.h"

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
    printf("%-7s %-16s %-22s max %9.4g ulp (bar %g)%s", dt, what, cls, s->worst, bar,
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
    a.size = sizeof a;
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


/* the public elementwise entry points (cbce_sigmoid_f32 ...) on the x column */
static void measure_public_elementwise(const table_t *t, int f64)
{
    const char *dt = f64 ? "float64" : "float32";
    int prec = f64 ? 53 : 24, emin = f64 ? -1022 : -126, emax = f64 ? 1023 : 127, c, rc = 0;
    size_t i, n = t->n;
    float *xf = calloc(n, sizeof(float)), *of = calloc(n, sizeof(float));
    double *od = calloc(n, sizeof(double)), *xd = t->x;
    static const char *names[3] = {"cbce_sigmoid", "cbce_log_sigmoid", "cbce_softplus"};
    for (i = 0; i < n; i++)
        xf[i] = (float)t->x[i];
    for (c = 0; c < 3; c++) {
        stat_t st;
        char what[40];
        memset(&st, 0, sizeof st);
        if (f64)
            rc = c == 0 ? cbce_sigmoid_f64(n, xd, 1, od, 1)
                        : c == 1 ? cbce_log_sigmoid_f64(n, xd, 1, od, 1)
                                 : cbce_softplus_f64(n, xd, 1, od, 1);
        else
            rc = c == 0 ? cbce_sigmoid_f32(n, xf, 1, of, 1)
                        : c == 1 ? cbce_log_sigmoid_f32(n, xf, 1, of, 1)
                                 : cbce_softplus_f32(n, xf, 1, of, 1);
        if (rc != CBCE_OK) {
            printf("%-7s FAIL: %s returned %d\n", dt, names[c], rc);
            n_fail++;
            continue;
        }
        for (i = 0; i < n; i++) {
            double r = f64 ? od[i] : (double)of[i];
            upd(&st, ulp_err(r, &t->v[C_SIG + c][i], prec, emin, emax, 0), i, r);
        }
        snprintf(what, sizeof what, "%s_%s", names[c] + 5, f64 ? "f64" : "f32");
        report(dt, what, "(public API)", &st, 1.0, t, C_SIG + c);
    }
    free(xf);
    free(of);
    free(od);
}

/* sigmoid, log_sigmoid, softplus from logits_elem.h's float32 primitives (the float64
 * helpers are the BCE-with-logits kernel: measured through the public API) */
static void measure_elementwise32(const table_t *t)
{
    int c;
    stat_t st[3];
    size_t i;
    memset(st, 0, sizeof st);
    for (i = 0; i < t->n; i++) {
        double r[3];
        /* through a volatile float: GCC 12.2's SLP vectoriser at -O2 dropped these
         * three (float) conversions when they were assigned to r[] directly */
        volatile float rf;
        rf = (float)cbce__sigmoid_d(t->x[i]);
        r[0] = rf;
        rf = (float)cbce__log_sigmoid_d(t->x[i]);
        r[1] = rf;
        rf = (float)cbce__softplus_d(t->x[i]);
        r[2] = rf;
        for (c = 0; c < 3; c++)
            upd(&st[c], ulp_err(r[c], &t->v[C_SIG + c][i], 24, -126, 127, 0), i, r[c]);
    }
    for (c = 0; c < 3; c++)
        report("float32", col_name[C_SIG + c], "(logits_elem.h primitive)", &st[c], 1.0, t,
               C_SIG + c);
}

/* log(p) and log1p(-p) for probabilities p (BCE on probabilities): cbce__log_dd /
 * cbce__log1p_dd (float64) and cbce__log_d / cbce__log1p_d (float32) against a table */
/* generated with mpmath (300 bits): x (a float32 value, so exact in both dtypes), log(x), log1p(-x) */
static const char *const log_table[][3] = {
    {"0x1.0000000000000p-149", "-1.03278929903431851103167586097e+2", "-1.40129846432481707092372958329e-45"},
    {"0x1.4000000000000p-146", "-1.00976344810437805419149594643e+2", "-1.40129846432481707092372958329e-44"},
    {"0x1.b900000000000p-141", "-9.71898850279850051101663901365e+1", "-6.17972622767244328277364746231e-43"},
    {"0x1.0700000000000p-140", "-9.70136286906941412426644277116e+1", "-7.3708299223485377930588176081e-43"},
    {"0x1.0130000000000p-137", "-9.49565357903206809166569537986e+1", "-5.76634318069662224685114723524e-42"},
    {"0x1.5d0c000000000p-132", "-9.11853990528880914503794889532e+1", "-2.50428851156416708378921561289e-40"},
    {"0x1.350ca00000000p-130", "-8.99208100530892089711127954871e+1", "-8.8692804092049944315096893634e-40"},
    {"0x1.66d8300000000p-127", "-8.76919802775575385493107197257e+1", "-8.23866527169261160361845072887e-39"},
    {"0x1.0000000000000p-126", "-8.73365447505531089865712473037e+1", "-1.17549435082228750796873653722e-38"},
    {"0x1.070d820000000p-124", "-8.5923073194889937351235267906e+1", "-4.83151623592826477154527755903e-38"},
    {"0x1.dbee780000000p-113", "-7.77055348724546289616657342441e+1", "-1.79025539660578516678955353209e-34"},
    {"0x1.663aa40000000p-108", "-7.45239003169622167784806761613e+1", "-4.31202551950308774934862981417e-33"},
    {"0x1.52e7820000000p-107", "-7.3886207916925732196337606614e+1", "-8.15882490509726950773878028855e-33"},
    {"0x1.ae0e3c0000000p-103", "-7.08754225324601409432830957518e+1", "-1.65651392724374265441209293442e-31"},
    {"0x1.5f623c0000000p-96", "-6.62254279096794197690829765649e+1", "-1.73245553607240129684200499844e-29"},
    {"0x1.65c76c0000000p-92", "-6.34348026018499254296486913373e+1", "-2.82237859260906571811800934008e-28"},
    {"0x1.30c1440000000p-91", "-6.29020628845709715232344725111e+1", "-4.80818521748481463703653437366e-28"},
    {"0x1.d6de640000000p-88", "-6.03875500187657678298671350679e+1", "-5.94319871162139418785481712221e-27"},
    {"0x1.e762f80000000p-83", "-5.68873357897733737333215741498e+1", "-1.9685387870685515163281575078e-25"},
    {"0x1.f7100c0000000p-82", "-5.61625314695596409931364651654e+1", "-4.06370799183350866332289803473e-25"},
    {"0x1.bb70d80000000p-81", "-5.55955347698973988009904674193e+1", "-7.16417244496624323032402199642e-25"},
    {"0x1.8f1cd80000000p-79", "-5.43145609484839072507044753529e+1", "-2.57920518430815994915961763393e-24"},
    {"0x1.d2c3560000000p-68", "-4.65333640219252079851193787701e+1", "-6.17755727847255371444370755309e-21"},
    {"0x1.52d2880000000p-63", "-4.33879737797773247084365078243e+1", "-1.43496862822649866528192719957e-19"},
    {"0x1.79b4300000000p-61", "-4.18930450160446953627596386927e+1", "-6.39855223082737645255549654395e-19"},
    {"0x1.5708300000000p-53", "-3.64441543281251385283915232314e+1", "-1.48766408229522508579596876817e-16"},
    {"0x1.f18b1e0000000p-51", "-3.46860008107729129717344705195e+1", "-8.63100262291208331277369702001e-16"},
    {"0x1.8bf8d60000000p-50", "-3.42211929319496175156853116883e+1", "-1.37380390182205313826645881354e-15"},
    {"0x1.83c1d40000000p-46", "-3.14695685315523550794761709738e+1", "-2.15248453013397690995044662427e-14"},
    {"0x1.6fae5c0000000p-45", "-3.08295846069276814909459459006e+1", "-4.08208013290113641023271608019e-14"},
    {"0x1.61c8180000000p-35", "-2.39366489446659790805716838256e+1", "-4.02203131918727312612205769886e-11"},
    {"0x1.0d3ae80000000p-27", "-1.86645849058686656557751425741e+1", "-7.83562728884443264088552872135e-9"},
    {"0x1.61ccfc0000000p-27", "-1.83914175022191768004729108564e+1", "-1.02969562296167428766961569688e-8"},
    {"0x1.1d13480000000p-24", "-1.65279563610445258346042744395e+1", "-6.63742718388433358434096862188e-8"},
    {"0x1.a9b2a60000000p-21", "-1.40475384245893387725385918358e+1", "-7.929243412466692168164421855e-7"},
    {"0x1.cad9380000000p-20", "-1.32794009420497749307159284515e+1", "-1.70934536646152696305815273322e-6"},
    {"0x1.5cc8f20000000p-19", "-1.28605183530896123665373512022e+1", "-2.59865370253317562068942013089e-6"},
    {"0x1.8a959c0000000p-18", "-1.20439936060050808245020434365e+1", "-5.87978320803685999188075729878e-6"},
    {"0x1.acf8300000000p-18", "-1.19604409147066310641347111873e+1", "-6.39216383464547223303075468226e-6"},
    {"0x1.b0c7280000000p-9", "-5.71327728112714466881182120063", "-3.30729683811842927104807187129e-3"},
    {"0x1.a06f800000000p-7", "-4.36547600816696595131403183082", "-1.27900494192034751353520789067e-2"},
    {"0x1.332a180000000p-5", "-3.28353014466676173366303793704", "-3.82167014554421535198978588481e-2"},
    {"0x1.412f940000000p-5", "-3.23889341334122918564517862136", "-3.99965616695550032609168139344e-2"},
    {"0x1.7d9af60000000p-5", "-3.06652647655977143086311236704", "-4.77025700197681207884587155255e-2"},
    {"0x1.db20900000000p-5", "-2.84733079537520265308572740282", "-5.97488636924797977691351563777e-2"},
    {"0x1.e840b60000000p-5", "-2.82008008967465324717891644473", "-6.14512054896263119857094215234e-2"},
    {"0x1.012f040000000p-4", "-2.76797572697734081112216895268", "-6.48468120879775406360822778707e-2"},
    {"0x1.1e20b80000000p-4", "-2.66132757594014674385909977862", "-7.24152444676018617698942589607e-2"},
    {"0x1.28b2f40000000p-4", "-2.62504788969906223848596406325", "-7.51937946755454250353345383294e-2"},
    {"0x1.738f7e0000000p-4", "-2.40005441849967085399219788066", "-9.50945214179724816106063138747e-2"},
    {"0x1.e27a1e0000000p-4", "-2.13883287347101090470125541253", "-1.25327696604233903684200768352e-1"},
    {"0x1.e398f20000000p-4", "-2.13651333619171033901706397101", "-1.25637808400018792731290603185e-1"},
    {"0x1.fb17c40000000p-4", "-2.08907207442117081048823311758", "-1.32163142295983668203747237295e-1"},
    {"0x1.276f360000000p-3", "-1.93617211057897243496665966737", "-1.55782945825085681737988068994e-1"},
    {"0x1.34f06a0000000p-3", "-1.89147475964036799384723517987", "-1.63518462315390376562790631427e-1"},
    {"0x1.3743aa0000000p-3", "-1.88397655471761534171137725215", "-1.64856397728263521726143689142e-1"},
    {"0x1.7220ac0000000p-3", "-1.71077110888343503006793870714", "-1.99337159540689421094616712267e-1"},
    {"0x1.a5cdae0000000p-3", "-1.58007957144497601336169717242", "-2.30619815460884116529795069516e-1"},
    {"0x1.c931820000000p-3", "-1.49951251214601785719353642298", "-2.52622517624901865825233646606e-1"},
    {"0x1.f3e8e00000000p-3", "-1.41019156812142426192639372556", "-2.79841579686900586257375189951e-1"},
    {"0x1.0000000000000p-2", "-1.38629436111989061883446424292", "-2.87682072451780927439219005994e-1"},
    {"0x1.26d9280000000p-2", "-1.24501093208640704553261033645", "-3.39589956156223811941313714664e-1"},
    {"0x1.288f560000000p-2", "-1.23922256370516725755733315461", "-3.41940154969579490905470066373e-1"},
    {"0x1.32f61e0000000p-2", "-1.20474981424604136431437254813", "-3.56342124418121828850508073531e-1"},
    {"0x1.3be2a80000000p-2", "-1.17609239206790742509695027968", "-3.6886582667166639018456009441e-1"},
    {"0x1.41afcc0000000p-2", "-1.15789369473556797682905975601", "-3.7709221415422699425962432183e-1"},
    {"0x1.4b9ad00000000p-2", "-1.12752809918300490545166321344", "-3.91314822771582013935574105075e-1"},
    {"0x1.7677280000000p-2", "-1.00597225228673279598760028526", "-4.55215782453004138119762683918e-1"},
    {"0x1.7d55c80000000p-2", "-9.87793334031145214597489347753e-1", "-4.65848341623307756690186137527e-1"},
    {"0x1.9633680000000p-2", "-9.24624173037945945434309922549e-1", "-5.05308329201387800086844318171e-1"},
    {"0x1.ac28640000000p-2", "-8.71980042715840163542236548881e-1", "-5.41495898208890394563182274369e-1"},
    {"0x1.b2b5280000000p-2", "-8.56798088735607697292278435262e-1", "-5.52549381091591227752873566949e-1"},
    {"0x1.b5dac20000000p-2", "-8.49585090336438351597138423858e-1", "-5.57903792063065445403847388962e-1"},
    {"0x1.bc0d9e0000000p-2", "-8.35527448228802665844943334012e-1", "-5.68535416848577839050567237248e-1"},
    {"0x1.d00f900000000p-2", "-7.91456246835047633062625671639e-1", "-6.03643583147865080851177429593e-1"},
    {"0x1.f4b2be0000000p-2", "-7.15468257929764887163128170272e-1", "-6.71313474818228849756946803839e-1"},
    {"0x1.f5e9dc0000000p-2", "-7.13043985245235445869240291141e-1", "-6.73638547884485108571724440796e-1"},
    {"0x1.0000000000000p-1", "-6.93147180559945309417232121458e-1", "-6.93147180559945309417232121458e-1"},
    {"0x1.03ce9e0000000p-1", "-6.78385198664052748451173134232e-1", "-7.08130347775813563425789646744e-1"},
    {"0x1.0ce68e0000000p-1", "-6.43982814656589245979659085806e-1", "-7.44854229315117620070372697022e-1"},
    {"0x1.125f200000000p-1", "-6.2384129857695851074337500243e-1", "-7.67616440457454625914349158246e-1"},
    {"0x1.1871f60000000p-1", "-6.01946427525728558125611619079e-1", "-7.93507889338809568761933587142e-1"},
    {"0x1.2563a80000000p-1", "-5.56824289559665471464397895204e-1", "-8.51032021343252598059016071331e-1"},
    {"0x1.261ade0000000p-1", "-5.54387948777360499343609035745e-1", "-8.54311099965463206377698886859e-1"},
    {"0x1.277a0a0000000p-1", "-5.497345896470397889644467404e-1", "-8.60626531823130119339961054935e-1"},
    {"0x1.29c7800000000p-1", "-5.41972027437941613493014196986e-1", "-8.71317818451852102725209351432e-1"},
    {"0x1.2bcec40000000p-1", "-5.35183428549349767828633906352e-1", "-8.80831583409924763835863116673e-1"},
    {"0x1.413eee0000000p-1", "-4.66118003415010764382264206205e-1", "-9.87339036854576119968839010498e-1"},
    {"0x1.471faa0000000p-1", "-4.47986275678663433121949003541e-1", "-1.01863760596282570204828789031"},
    {"0x1.4d47480000000p-1", "-4.29346321137105614849514660609e-1", "-1.05249557435156311578758930258"},
    {"0x1.5620640000000p-1", "-4.03143997684500085817018508965e-1", "-1.10327073497149236412834258175"},
    {"0x1.5c5d620000000p-1", "-3.8507448559888022190364184976e-1", "-1.14068492215823869163704919338"},
    {"0x1.65e29a0000000p-1", "-3.58112465647127805086145410453e-1", "-1.20062660151809269976619390081"},
    {"0x1.6a09e60000000p-1", "-3.46573607394243836958137114907e-1", "-1.22794713598201128875100013543"},
    {"0x1.7579da0000000p-1", "-3.15470925971899642919202618381e-1", "-1.30728090409227418753920748063"},
    {"0x1.8000000000000p-1", "-2.87682072451780927439219005994e-1", "-1.38629436111989061883446424292"},
    {"0x1.83a7fa0000000p-1", "-2.78205867883252012388194006116e-1", "-1.41527398112519298875867397829"},
    {"0x1.86ccaa0000000p-1", "-2.70130063638075943139761819006e-1", "-1.44087817017742780600181112169"},
    {"0x1.8775d60000000p-1", "-2.68440528210194677216075463924e-1", "-1.44634543783764074523799607439"},
    {"0x1.96b8e80000000p-1", "-2.30194006549100386627459693739e-1", "-1.58172290958986774433315071579"},
    {"0x1.a1db500000000p-1", "-2.03186099498897354534868331992e-1", "-1.69350642347625583752210133085"},
    {"0x1.a7592a0000000p-1", "-1.90129387354160542928485620079e-1", "-1.75360938366983531810135290727"},
    {"0x1.b7892e0000000p-1", "-1.52605322722991509715195806328e-1", "-1.95523278076312632160060573017"},
    {"0x1.c012060000000p-1", "-1.33374253068164494229501684034e-1", "-2.08054221051757863952868875687"},
    {"0x1.cc66c40000000p-1", "-1.06225846062238535094534540421e-1", "-2.29483063166870220755616024138"},
    {"0x1.dd5fa00000000p-1", "-7.00253480374200017511307234276e-2", "-2.69370635547019825917849983726"},
    {"0x1.e53a1c0000000p-1", "-5.37078234942304532058694327772e-2", "-2.95093032504668468864339384959"},
    {"0x1.f3d7b60000000p-1", "-2.40313344648883627327984120943e-2", "-3.74038830212700825195961489511"},
    {"0x1.f5cbbe0000000p-1", "-2.01312256569886971653136329348e-2", "-3.91553188089250717687474151048"},
    {"0x1.f5d97a0000000p-1", "-2.0024315580666915807056785478e-2", "-3.92080341548454258536514035875"},
    {"0x1.f854620000000p-1", "-1.50945620851696535405783904816e-2", "-4.20095851431786845994491911792"},
    {"0x1.fe286c0000000p-1", "-3.60434341651206500825628972721e-3", "-5.62741728657966223633530841968"},
    {"0x1.fe88840000000p-1", "-2.86882959647679569002624250743e-3", "-5.85528521036573675588313292792"},
    {"0x1.ff6c7e0000000p-1", "-1.12602903080376133836971306015e-3", "-6.78962092904015526487746177925"},
    {"0x1.ffa2500000000p-1", "-7.15034476378787501539001833887e-4", "-7.24353729365625379378567961632"},
    {"0x1.ffbed80000000p-1", "-4.97226333954348433818228465708e-4", "-7.60671383808589498399431718306"},
    {"0x1.ffe3080000000p-1", "-2.21038450025526773855597880758e-4", "-8.41728440675294165362001388318"},
    {"0x1.ffee320000000p-1", "-1.35848212393694204851449772602e-4", "-8.90404030419300316839625926262"},
    {"0x1.fff9c80000000p-1", "-4.74464228049280351085846958585e-5", "-9.95593314759430441176898538021"},
    {"0x1.fffd300000000p-1", "-2.14579023382803283716306794773e-5", "-1.07494283019885317403706247436e+1"},
    {"0x1.ffff7c0000000p-1", "-3.93391429300646695271524076391e-6", "-1.24458775914122618811391499787e+1"},
    {"0x1.ffffae0000000p-1", "-2.44379342185172752888405421327e-6", "-1.2921960266734379622146807542e+1"},
    {"0x1.ffffb00000000p-1", "-2.38418863319108555753071749657e-6", "-1.29466528793247511231611152174e+1"},
    {"0x1.ffffde0000000p-1", "-1.01327947454911400134175201031e-6", "-1.38023189893824713457640362971e+1"},
    {"0x1.fffffc0000000p-1", "-1.19209296656209172289683848681e-7", "-1.59423851528787421165963387935e+1"},
    {"0x1.fffffe0000000p-1", "-5.96046465517475349863325579799e-8", "-1.6635532333438687426013570915e+1"},
    {"0x1.0000000000000p+0", "0.0", "-inf"},
};

static void measure_log(void)
{
    size_t i, n = sizeof log_table / sizeof log_table[0];
    stat_t st[2][2];
    table_t t; /* for report(): x column only */
    double xs[sizeof log_table / sizeof log_table[0]];
    exact_t ex[2][sizeof log_table / sizeof log_table[0]];
    int f64, c;
    memset(st, 0, sizeof st);
    memset(&t, 0, sizeof t);
    for (i = 0; i < n; i++) {
        xs[i] = strtod(log_table[i][0], NULL);
        for (c = 0; c < 2; c++)
            if (parse_exact(log_table[i][1 + c], &ex[c][i]) != 0) {
                printf("FAIL: cannot parse log table entry %s\n", log_table[i][1 + c]);
                n_fail++;
            }
    }
    for (f64 = 0; f64 < 2; f64++) {
        int prec = f64 ? 53 : 24, emin = f64 ? -1022 : -126, emax = f64 ? 1023 : 127;
        for (i = 0; i < n; i++) {
            double x = xs[i], r[2];
            if (f64) {
                cbce__f2 a = cbce__log_dd(x), b, mx = {-x, 0.0};
                b = x <= 0.5 ? cbce__log1p_dd(mx, 1.0) : cbce__log_dd(1.0 - x);
                r[0] = a.hi + a.lo;
                r[1] = b.hi + b.lo;
            } else {
                volatile float rf;
                rf = (float)cbce__log_d(x);
                r[0] = rf;
                rf = (float)(x <= 0.25 ? cbce__log1p_d(-x) : cbce__log_d(1.0 - x));
                r[1] = rf;
            }
            for (c = 0; c < 2; c++)
                upd(&st[f64][c], ulp_err(r[c], &ex[c][i], prec, emin, emax, 0), i, r[c]);
        }
    }
    t.n = n;
    t.x = xs;
    t.y = xs;
    t.p = xs;
    for (f64 = 0; f64 < 2; f64++)
        for (c = 0; c < 2; c++) {
            t.v[0] = ex[c];
            report(f64 ? "float64" : "float32", c ? "log1p(-p)" : "log(p)", "(logits_elem.h primitive)",
                   &st[f64][c], 1.0, &t, 0);
        }
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : NULL;
    char path[4096];
    int f64;
    if (!dir) {
        fprintf(stderr, "usage: %s DIR (holding logits_float32.csv and logits_float64.csv;\n"
                        "tests/c/run_reference.sh decompresses them from tests/data)\n", argv[0]);
        return 2;
    }
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
            if (cbce_simd_level(lv) != lv || lv == cbce_simd_level(0))
                continue;
            if (run_api(&t, f64, lv, &other) != 0) {
                printf("FAIL: %s API call at level %s returned an error\n", dt,
                       cbce_simd_name(lv));
                return 1;
            }
            printf("%s: measured at SIMD level %s\n", dt, cbce_simd_name(lv));
            measure(&t, f64, &other);
        }
        measure_public_elementwise(&t, f64);
        if (!f64)
            measure_elementwise32(&t);
    }
    measure_log();
#if LDBL_MANT_DIG >= 64 && LDBL_MAX_EXP >= 16384
    printf("parse check: max relative difference to strtold %.3g%s\n", parse_max_rel_diff,
           parse_max_rel_diff > ldexp(1.0, -62) ? "  FAIL" : "");
    if (parse_max_rel_diff > ldexp(1.0, -62))
        n_fail++;
#endif
    printf("%s: %d check(s) failed\n", n_fail ? "FAIL" : "OK", n_fail);
    return n_fail ? 1 : 0;
}
