#!/usr/bin/env python3
"""Recompute the coefficients of the float32-only exp and log1p in src/cbce/core/math/scalar.h.

    python3 tools/fit_float32.py           # print them as C #defines, with each fit's error
    python3 tools/fit_float32.py --check   # also compare with math/scalar.h; exit 1 on a difference

cbce__exp_neg_f32_nd(a) = 2^-n 2^f, f in [-1/2, 1/2]; 2^f = exp(x), x = f ln2, by the [4/4]
Pade approximant of exp at 0, P(x)/P(-x) with P(x) = 1 + x/2 + 3x^2/28 + x^3/84 + x^4/1680
(p_k = (8-k)! 4! / (8! k! (4-k)!)).  In powers of f, EPk = p_k ln2^k (k = 1..4), each
rounded to the nearest double.  It also uses INV_LN2 = 1/ln2 rounded and SHIFT = 1.5 * 2^52.

cbce__log1p_f32_u(u) = u Q(u^2), Q(w) = 2 atanh(sqrt w)/sqrt w = 2 sum_k w^k/(2k+1), w in
[0, 1/9] (u in [0, 1/3]).  LQ0..LQ6 are the degree-6 polynomial minimising the relative
error max |p(w)/Q(w) - 1| over a 3000-point Chebyshev grid of [0, W], W = (1/9)(1 + 2^-20)
(the margin covers the roundings of u and u^2), by the Remez exchange at 60 digits; each
coefficient is rounded to the nearest double.  The minimax on a finite grid is unique (the
powers of w are a Haar system), and the exchange reaches it exactly -- the reference set
stops changing and the levelled error equals the largest error on the grid -- so the fit
does not depend on the exchange's path, and the doubles are reproducible to the last bit
(the same at 30 to 120 digits; the closest of the 12 unrounded values to a rounding tie,
LQ2, is 0.004 ulp away, far beyond the fit's precision).  The grid is part of the
definition: the continuous minimax differs (its error by ~6e-6 relative), so would the
last bits.

The error of each fit is then measured with the double coefficients, in exact (60-digit)
arithmetic, on the whole interval (not only the grid): the largest sampled error is refined
by golden-section search.  --check requires every coefficient bit-identical, and the
measured errors equal to the values math/scalar.h states (to the stated 2 decimals of log2)
and below each function's stated total bound.
"""
import argparse
import math
import os
import re
import sys
from fractions import Fraction

import mpmath as mp

DPS = 60  # working precision (digits); every entry point below sets it with mp.workdps

HEADER = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir,
                                      "src", "cbce", "core", "math/scalar.h"))

LQ_DEGREE = 6
LQ_GRID = 3000


def lq_interval_end():
    """W = (1/9)(1 + 2^-20), at the working precision."""
    return mp.mpf(1) / 9 * (1 + mp.mpf(2) ** -20)


def nearest_double(x):
    """x (an mpf) rounded to the nearest double, ties to even (Fraction -> float is exact)."""
    man, exp = mp.mpf(x).man_exp
    return float(Fraction(man) * Fraction(2) ** exp)


# ---- exp: the [4/4] Pade approximant -------------------------------------------------------

@mp.workdps(DPS)
def exp_coefficients():
    """{name: double} for cbce__exp_neg_f32_nd."""
    ln2 = mp.log(2)
    out = {"SHIFT": 1.5 * 2.0 ** 52, "INV_LN2": nearest_double(1 / ln2)}
    for k in range(1, 5):
        p = Fraction(math.factorial(8 - k) * math.factorial(4),
                     math.factorial(8) * math.factorial(k) * math.factorial(4 - k))
        out[f"EP{k}"] = nearest_double(mp.mpf(p.numerator) / p.denominator * ln2 ** k)
    return out


@mp.workdps(DPS)
def exp_error(c):
    """Relative error of (E + fO)/(E - fO) against 2^f on [-1/2, 1/2], double coefficients c."""
    ep = [mp.mpf(c[f"EP{k}"]) for k in range(1, 5)]

    def err(f):
        f2 = f * f
        e = 1 + f2 * (ep[1] + ep[3] * f2)
        xo = f * (ep[0] + ep[2] * f2)
        return (e + xo) / (e - xo) / mp.power(2, f) - 1

    return max_abs(err, [mp.mpf(i) / 400 - mp.mpf(1) / 2 for i in range(401)])


# ---- log1p: the minimax Q --------------------------------------------------------------------

def q_exact(w):
    return 2 * mp.atanh(mp.sqrt(w)) / mp.sqrt(w) if w != 0 else mp.mpf(2)


def chebyshev_points(lo, hi, n):
    """n Chebyshev-Lobatto points of [lo, hi], increasing, endpoints included."""
    return [lo + (hi - lo) * (1 - mp.cos(mp.pi * i / (n - 1))) / 2 for i in range(n)]


def polyval(c, x):
    r = mp.mpf(0)
    for cj in reversed(c):
        r = r * x + cj
    return r


def remez(f, lo, hi, deg, ngrid):
    """Degree-deg polynomial minimising max |p/f - 1| on ngrid Chebyshev points of [lo, hi].

    Returns (coefficients as mpf, levelled error).  Each step solves p(x_i) - f(x_i) =
    (-1)^i E f(x_i) on the n = deg + 2 reference points, then takes as the new reference one
    extremum of the error per sign run on the grid (the largest), dropping the smaller end
    while there are more than n.  It stops when the reference no longer changes; then |E| is
    the largest error on the grid (checked), i.e. the discrete minimax.
    """
    n = deg + 2
    grid = chebyshev_points(mp.mpf(lo), mp.mpf(hi), ngrid)
    fg = [f(x) for x in grid]
    ref = [round((ngrid - 1) * (1 - math.cos(math.pi * i / (n - 1))) / 2) for i in range(n)]
    for _ in range(50):
        a = mp.matrix(n, n)
        b = mp.matrix(n, 1)
        for i, k in enumerate(ref):
            for j in range(deg + 1):
                a[i, j] = grid[k] ** j
            a[i, deg + 1] = -(-1) ** i * fg[k]
            b[i] = fg[k]
        sol = mp.lu_solve(a, b)
        c, lev = [sol[j] for j in range(deg + 1)], abs(sol[deg + 1])
        es = [polyval(c, x) / fk - 1 for x, fk in zip(grid, fg)]
        runs = []  # the largest |error| of each run of one sign
        for k, e in enumerate(es):
            if runs and mp.sign(es[runs[-1]]) == mp.sign(e):
                if abs(e) > abs(es[runs[-1]]):
                    runs[-1] = k
            else:
                runs.append(k)
        while len(runs) > n:
            runs.pop(0 if abs(es[runs[0]]) < abs(es[runs[-1]]) else -1)
        if len(runs) < n:
            raise RuntimeError("Remez: the error alternates fewer than deg + 2 times")
        if runs == ref:
            worst = max(abs(e) for e in es)
            if worst > lev * (1 + mp.mpf(10) ** (25 - mp.mp.dps)):  # 1e-35 at 60 digits
                raise RuntimeError("Remez: converged reference but the grid error exceeds E")
            return c, lev
        ref = runs
    raise RuntimeError("Remez: no convergence in 50 exchanges")


@mp.workdps(DPS)
def lq_coefficients():
    """({name: double} for cbce__log1p_f32_u, levelled relative error of the unrounded fit)."""
    c, lev = remez(q_exact, 0, lq_interval_end(), LQ_DEGREE, LQ_GRID)
    return {f"LQ{j}": nearest_double(cj) for j, cj in enumerate(c)}, lev


@mp.workdps(DPS)
def lq_error(c, hi=None):
    """Relative error of the double-coefficient polynomial against Q on [0, hi] (default W)."""
    hi = lq_interval_end() if hi is None else hi
    cs = [mp.mpf(c[f"LQ{j}"]) for j in range(LQ_DEGREE + 1)]
    return max_abs(lambda w: polyval(cs, w) / q_exact(w) - 1,
                   chebyshev_points(mp.mpf(0), mp.mpf(hi), 600))


# ---- measuring an error on an interval -------------------------------------------------------

def max_abs(err, xs):
    """max |err| on [xs[0], xs[-1]], xs increasing: sampled on xs, then each sampled local
    maximum refined by golden-section search between its neighbours (err is smooth and the
    samples are dense enough that |err| is unimodal there).  Returns (max, argmax)."""
    es = [abs(err(x)) for x in xs]
    best = max(zip(es, xs))
    g = (mp.sqrt(5) - 1) / 2
    for k in range(len(xs)):
        if (k > 0 and es[k] < es[k - 1]) or (k + 1 < len(xs) and es[k] < es[k + 1]):
            continue
        lo, hi = xs[max(k - 1, 0)], xs[min(k + 1, len(xs) - 1)]
        for _ in range(120):  # the bracket shrinks by 0.618^120 ~ 1e-25
            m1, m2 = hi - g * (hi - lo), lo + g * (hi - lo)
            if abs(err(m1)) < abs(err(m2)):
                lo = m1
            else:
                hi = m2
        x = (lo + hi) / 2
        best = max(best, (abs(err(x)), x))
    return best


def log2(e):
    return float(mp.log(e, 2))


# ---- math/scalar.h ------------------------------------------------------------------------------

def parse_header(text):
    """({name: double} of the CBCE__ hex-float #defines, {key: stated log2 error, as text}).

    The stated errors are read from the comments: the Pade fit's 'error 2^-x at |f| = 1/2'
    and exp's 'relative error <= 2^-x' (in the comment above CBCE__EP1), the LQ fit's
    'relative error 2^-x' (above CBCE__LQ0) and log1p's 'Relative error <= 2^-x' (above
    cbce__log1p_f32_u)."""
    defines = {m.group(1): float.fromhex(m.group(2)) for m in re.finditer(
        r"^#define CBCE__(\w+)\s+\(?(-?0x[0-9a-fA-F.]+p[-+]?\d+)\)?", text, re.M)}

    def comment_before(anchor):
        end = text.index(anchor)
        start = text.rindex("/*", 0, end)
        body = text[start:text.index("*/", start)]
        return " ".join(line.strip().lstrip("/*").strip() for line in body.splitlines())

    stated = {}
    for key, anchor, pattern in [
            ("exp fit", "#define CBCE__EP1", r"error 2\^(-[\d.]+) at \|f\| = 1/2"),
            ("exp bound", "#define CBCE__EP1", r"relative error <= 2\^(-[\d.]+)"),
            ("log1p fit", "#define CBCE__LQ0", r"relative error 2\^(-[\d.]+)"),
            ("log1p bound", "CBCE__INLINE double cbce__log1p_f32_u",
             r"Relative error <= 2\^(-[\d.]+)")]:
        m = re.search(pattern, comment_before(anchor)) if anchor in text else None
        stated[key] = m.group(1) if m else None  # text: its decimals are the precision
    return defines, stated


@mp.workdps(DPS)
def compare(fitted, errors, text):
    """Problems (strings naming the coefficient or the error) between the fit and the header."""
    have, stated = parse_header(text)
    problems = []
    for name, d in fitted.items():
        if name not in have:
            problems.append(f"CBCE__{name}: not defined as a hex float in math/scalar.h")
        elif have[name] != d:
            ulps = (have[name] - d) / (math.ulp(d) if d else 1.0)
            problems.append(f"CBCE__{name}: math/scalar.h has {have[name].hex()}, the fit gives "
                            f"{d.hex()} ({ulps:+.0f} ulp)")
    for fit, bound in [("exp fit", "exp bound"), ("log1p fit", "log1p bound")]:
        e = log2(errors[fit])
        s, b = stated[fit], stated[bound]
        if s is None or b is None:
            problems.append(f"{fit}: the stated error or bound was not found in the comments")
            continue
        if round(e, len(s.partition(".")[2])) != float(s):
            problems.append(f"{fit}: measured 2^{e:.3f} with the fitted coefficients, "
                            f"the comment states 2^{s}")
        if e >= float(b):
            problems.append(f"{fit}: 2^{e:.3f} is not below the function's stated bound 2^{b}")
    return problems


@mp.workdps(DPS)
def fit_all():
    """({name: double} for every coefficient, {key: measured error of the rounded fit}, info)."""
    ce = exp_coefficients()
    cq, lev = lq_coefficients()
    e_exp, f_at = exp_error(ce)
    e_lq, w_at = lq_error(cq)
    e_lq9, _ = lq_error(cq, mp.mpf(1) / 9)
    info = {"exp argmax": f_at, "log1p levelled": lev, "log1p argmax": w_at,
            "log1p on [0,1/9]": e_lq9}
    return {**ce, **cq}, {"exp fit": e_exp, "log1p fit": e_lq}, info


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="compare with math/scalar.h")
    ap.add_argument("--header", default=HEADER, help="the math/scalar.h to check")
    args = ap.parse_args(argv)
    coeffs, errors, info = fit_all()
    for name, d in coeffs.items():
        print(f"#define CBCE__{name} {d.hex()}")
    print(f"/* exp [4/4] Pade, double coefficients: relative error 2^{log2(errors['exp fit']):.3f}"
          f" on f in [-1/2, 1/2] (at f = {mp.nstr(info['exp argmax'], 6)}) */")
    print(f"/* log1p Q, degree {LQ_DEGREE}: levelled error on the {LQ_GRID}-point grid "
          f"2^{log2(info['log1p levelled']):.3f}; double coefficients: relative error "
          f"2^{log2(errors['log1p fit']):.3f} on [0, (1/9)(1 + 2^-20)] (at w = "
          f"{mp.nstr(info['log1p argmax'], 6)}), 2^{log2(info['log1p on [0,1/9]']):.3f} "
          f"on [0, 1/9] */")
    if not args.check:
        return 0
    with open(args.header) as fh:
        problems = compare(coeffs, errors, fh.read())
    for p in problems:
        print("MISMATCH " + p, file=sys.stderr)
    print(f"{args.header}: " + (f"{len(problems)} problem(s)" if problems else
                                f"all {len(coeffs)} coefficients identical, errors as stated"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
