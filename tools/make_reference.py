#!/usr/bin/env python3
"""Write the reference tables the tests measure cbce against: tests/data/logits_float{32,64}.csv.xz.

    python tools/make_reference.py                 # regenerate into tests/data/
    python tools/make_reference.py --check         # recompute and compare with the stored files
    python tools/make_reference.py --compare DIR   # the rows of other tables, recomputed and compared

Each row holds an input x, a label y and a pos_weight p (hex floats, exact in the table's
dtype) and the exact values, to 30 significant digits, of the BCE-with-logits loss, its
gradient and hessian, and sigmoid(x), log_sigmoid(x), softplus(x).  Nothing here imports
cbce: the values come from mpmath at 400 bits (120 digits) or more, through forms in which
every term is non-negative, split on the sign of x (a = |x|, e = exp(-a), t = log1p(e),
q = 1 - y, L = q + p*y):

    loss        = k*a + L*t,  k = q for x >= 0, p*y for x < 0   (k*a left out when k = 0)
    sigmoid(x)  = 1/(1 + e) for x >= 0, e/(1 + e) for x < 0
    log_sigmoid = -t for x >= 0, -(a + t) for x < 0
    softplus    = a + t for x >= 0, t for x < 0
    hess        = L * sigmoid(a) * sigmoid(-a)
    grad        = q*sigmoid(x) - p*y*sigmoid(-x)

The gradient is the one difference; it is recomputed at doubled precision until at least
160 bits survive the cancellation (an exact 0 only at x = 0, where e = 1 is exact).
x = +-inf gives the limits: e = t = 0 and loss = inf wherever k > 0.

The case set (fixed, from a seeded splitmix64 stream, so every run writes the same bytes):
x over the whole range of the dtype (0, +-inf, subnormals, the largest values, the exp and
sigmoid thresholds and their neighbours, log-uniform exponents, dense runs where |x| < 50
and up to where exp(-|x|) underflows), mirrored in sign; y in {0, 1, 1/2, 1/4, 0.9} and two
random soft labels; pos_weight in {1, 3, 1/2}.  Runs on all cores (multiprocessing); about
two minutes with gmpy2 installed (mpmath uses it), several without.
"""
import argparse
import hashlib
import io
import lzma
import math
import multiprocessing
import os
import struct
import sys
import time

import mpmath

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, os.pardir, "tests", "data")
HEADER = "x,y,pos_weight,loss,grad,hess,sigmoid,log_sigmoid,softplus"
DIGITS = 30                 # significant digits written (the C parser reads <= 31 exactly)
PREC = 400                  # working precision in bits
GOOD_BITS = 160             # bits the gradient must keep after its cancellation
MAX_PREC = 1 << 16

# dtype name -> (precision in bits, minimum normal exponent, maximum exponent, seed)
FORMATS = {"float32": (24, -126, 127, 32), "float64": (53, -1022, 1023, 64)}
LABELS = [0.0, 1.0, 0.5, 0.25, 0.9]        # plus two random soft labels per dtype
POS_WEIGHTS = [1.0, 3.0, 0.5]


# ---- the case set -----------------------------------------------------------------------------

def splitmix64(seed):
    """A deterministic stream of 64-bit integers (Steele, Lea and Flood's SplitMix64)."""
    state = seed & 0xFFFFFFFFFFFFFFFF
    while True:
        state = (state + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
        yield z ^ (z >> 31)


def to_dtype(v, dtype):
    """v rounded to the nearest value of the dtype (float64 passes through)."""
    if dtype == "float32":
        try:
            return struct.unpack("f", struct.pack("f", v))[0]
        except OverflowError:
            return math.copysign(math.inf, v)
    return v


def next_up(v, dtype):
    if dtype == "float32":
        bits = struct.unpack("I", struct.pack("f", v))[0]
        return struct.unpack("f", struct.pack("I", bits + 1))[0]
    return math.nextafter(v, math.inf)


def next_down(v, dtype):
    if dtype == "float32":
        bits = struct.unpack("I", struct.pack("f", v))[0]
        return struct.unpack("f", struct.pack("I", bits - 1))[0]
    return math.nextafter(v, -math.inf)


def logits(dtype):
    """The sorted x values: positive cases mirrored, 0 and +-inf."""
    prec, emin, emax, seed = FORMATS[dtype]
    rnd = splitmix64(seed)
    unit = lambda: next(rnd) / 2.0**64                       # noqa: E731 (uniform in [0, 1))
    tiny = math.ldexp(1.0, emin)
    sub = math.ldexp(1.0, emin - prec + 1)
    big = math.ldexp(2.0 - math.ldexp(1.0, 1 - prec), emax)
    pos = {sub * k for k in (1, 2, 3, 4, 5, 7, 8, 12, 25, 125)}
    pos |= {tiny, next_down(tiny, dtype), next_up(tiny, dtype), big, next_down(big, dtype),
            0.5, 1.0, 2.0}
    # thresholds of the formulas: sigmoid saturating, e = exp(-a) leaving the normal and the
    # subnormal range, log1p(e) = e, a = asinh(1), ln 2 -- each with its neighbours
    for t in (math.log(2.0) * (prec + 1), math.log(2.0) * (prec + 2), -math.log(tiny),
              -math.log(sub), -math.log(sub) + 0.7, math.log(2.0) * prec / 2,
              math.asinh(1.0), math.log(2.0), 15.0, 30.0, 36.0, 40.0):
        v = to_dtype(t, dtype)
        pos |= {next_down(v, dtype), v, next_up(v, dtype)}
    # log-uniform over every binade, subnormals included
    lo_exp, hi_exp = emin - prec + 1, emax + 1
    while len(pos) < 720:
        e = lo_exp + unit() * (hi_exp - lo_exp)
        v = to_dtype(math.ldexp(1.0, int(math.floor(e))) * (1.0 + unit()), dtype)
        if 0 < v < math.inf:
            pos.add(v)
    # dense runs where the loss changes shape, and up to where e underflows
    top = -math.log(sub) + 5.0
    for count, lo, hi in ((140, 0.0, 2.0), (260, 2.0, 50.0), (80, 50.0, top)):
        for _ in range(count):
            pos.add(to_dtype(lo + (hi - lo) * unit(), dtype))
    pos.discard(0.0)
    xs = sorted(pos)
    return [-math.inf] + [-v for v in reversed(xs)] + [0.0] + xs + [math.inf]


def labels(dtype):
    rnd = splitmix64(FORMATS[dtype][3] + 1)
    soft = [to_dtype(next(rnd) / 2.0**64, dtype) for _ in range(2)]
    return [to_dtype(v, dtype) for v in LABELS] + soft


def cases(dtype):
    """(x, y, pos_weight) rows in table order: pos_weight, then label, then x."""
    xs = logits(dtype)
    return [(x, y, p) for p in POS_WEIGHTS for y in labels(dtype) for x in xs]


# ---- the exact values ---------------------------------------------------------------------------

def _parts(x, prec):
    """a, e, t, sigmoid(a), sigmoid(-a) at prec bits."""
    with mpmath.workprec(prec):
        if math.isinf(x):
            return mpmath.inf, mpmath.mpf(0), mpmath.mpf(0), mpmath.mpf(1), mpmath.mpf(0)
        a = mpmath.mpf(abs(x))
        e = mpmath.exp(-a)
        one_e = 1 + e
        return a, e, mpmath.log1p(e), 1 / one_e, e / one_e


def _grad(x, y, p, prec):
    """q*sigmoid(x) - p*y*sigmoid(-x), with at least GOOD_BITS bits after cancellation."""
    if math.isinf(x):
        with mpmath.workprec(prec):         # exact: 1 - y and p*y need <= 106 bits
            return 1 - mpmath.mpf(y) if x > 0 else -mpmath.mpf(p) * mpmath.mpf(y)
    while True:
        a, e, t, s_pos, s_neg = _parts(x, prec)
        with mpmath.workprec(prec):
            q, py = 1 - mpmath.mpf(y), mpmath.mpf(p) * mpmath.mpf(y)    # exact
            s, s_minus = (s_pos, s_neg) if x >= 0 else (s_neg, s_pos)
            t1, t2 = q * s, py * s_minus
            g = t1 - t2
            big = max(t1, t2)
        if x == 0 or big == 0:          # exact: e = 1, or both terms 0
            return g
        if g != 0 and mpmath.mag(big) - mpmath.mag(g) < prec - GOOD_BITS:
            return g
        prec *= 2
        if prec > MAX_PREC:
            raise ArithmeticError(f"gradient at x={x!r} y={y!r} p={p!r} did not converge")


def row_values(x, y, p, parts):
    """loss, grad, hess, sigmoid, log_sigmoid, softplus for one row."""
    a, e, t, s_pos, s_neg = parts
    with mpmath.workprec(PREC):
        q, py = 1 - mpmath.mpf(y), mpmath.mpf(p) * mpmath.mpf(y)
        L = q + py
        k = q if x >= 0 else py
        loss = L * t if k == 0 else k * a + L * t
        hess = L * s_pos * s_neg
        if x >= 0:
            sig, lsig, sp = s_pos, -t, a + t
        else:
            sig, lsig, sp = s_neg, -(a + t), t
    return loss, _grad(x, y, p, PREC), hess, sig, lsig, sp


def decimal(v):
    """v to DIGITS significant digits, any exponent; 'inf', '-inf', '0.0' as they are."""
    if mpmath.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v == 0:
        return "0.0"
    if abs(mpmath.mag(v)) < 3000:
        return mpmath.nstr(v, DIGITS, min_fixed=-4, max_fixed=DIGITS)
    # far outside every binary format: the decimal exponent from log10 at enough precision
    sign, man, exp, bc = v._mpf_
    wp = exp.bit_length() + 160
    with mpmath.workprec(wp):
        lg = mpmath.log10(mpmath.mpf(man)) + exp * mpmath.log10(2)
        d = int(mpmath.floor(lg))
        with mpmath.workprec(200):
            m = mpmath.power(10, lg - d)
    with mpmath.workprec(200):
        digits = mpmath.nstr(m, DIGITS, min_fixed=-4, max_fixed=DIGITS)
        if digits.startswith("10"):               # rounded up to 10.000...
            d += 1
            digits = mpmath.nstr(m / 10, DIGITS, min_fixed=-4, max_fixed=DIGITS)
    return f"{'-' if sign else ''}{digits}e{d:+d}"


def _lines_for_x(task):
    """Every row of one x (all labels and pos_weights), as {row index: CSV line}."""
    x, rows = task
    parts = _parts(x, PREC)
    out = {}
    for idx, y, p in rows:
        vals = row_values(x, y, p, parts)
        out[idx] = ",".join([x.hex() if math.isfinite(x) else repr(x), y.hex(), p.hex()]
                            + [decimal(v) for v in vals])
    return out


def table(rows, jobs):
    """The CSV text of the rows [(x, y, pos_weight), ...]."""
    by_x = {}
    for i, (x, y, p) in enumerate(rows):
        by_x.setdefault(x, []).append((i, y, p))
    # the costliest first (exp of a huge |x|), for an even spread over the workers
    tasks = sorted(by_x.items(), key=lambda kv: -abs(kv[0]) if math.isfinite(kv[0]) else 0)
    lines = [None] * len(rows)
    with multiprocessing.Pool(jobs) as pool:
        for out in pool.imap_unordered(_lines_for_x, tasks, chunksize=4):
            for i, line in out.items():
                lines[i] = line
    return HEADER + "\n" + "\n".join(lines) + "\n"


def compress(text):
    return lzma.compress(text.encode(), preset=9 | lzma.PRESET_EXTREME)


def path_of(folder, dtype):
    return os.path.join(folder, f"logits_{dtype}.csv.xz")


# ---- checks ---------------------------------------------------------------------------------------

def read_table(path):
    opener = lzma.open if path.endswith(".xz") else open
    with opener(path, "rt") as f:
        return f.read()


def parse_rows(text):
    """(x, y, pos_weight) and the value strings of each row of a table."""
    rows, values = [], []
    for line in text.splitlines()[1:]:
        f = line.split(",")
        rows.append(tuple(float(v) if "inf" in v or "nan" in v else float.fromhex(v)
                          for v in f[:3]))
        values.append(f[3:])
    return rows, values


def compare(text, other_text, name, tol=1e-23):
    """Max relative difference between two tables of the same rows; returns the count of
    values that differ by more than tol relatively (or in kind: zero, inf), which it lists."""
    cols = HEADER.split(",")[3:]
    _, mine = parse_rows(text)
    rows, theirs = parse_rows(other_text)
    worst, where, bad = 0.0, None, 0
    with mpmath.workprec(200):
        for row, u_row, v_row in zip(rows, mine, theirs):
            for c, u, v in zip(cols, u_row, v_row):
                a, b = mpmath.mpf(u), mpmath.mpf(v)
                if a == b:
                    continue
                if not (mpmath.isfinite(a) and mpmath.isfinite(b)) or a == 0 or b == 0:
                    d = math.inf
                else:
                    d = float(abs(a - b) / abs(b))
                if d > tol:
                    bad += 1
                    if bad <= 20:
                        print(f"  x={row[0]!r} y={row[1]!r} pos_weight={row[2]!r} {c}: "
                              f"{u} here, {v} there")
                if d > worst:
                    worst, where = d, (row, c, u, v)
    print(f"{name}: {len(rows)} rows, max relative difference {worst:.3g}, "
          f"{bad} values differ by more than {tol:g}" + (f"; worst {where}" if where else ""))
    return bad


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT, help="folder of the .csv.xz files")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--dtype", choices=list(FORMATS), action="append")
    ap.add_argument("--check", action="store_true",
                    help="recompute and require the stored tables to be identical")
    ap.add_argument("--compare", metavar="DIR",
                    help="evaluate the rows of DIR/logits_<dtype>.csv[.xz] and compare")
    args = ap.parse_args()
    status = 0
    if args.compare:
        for dtype in args.dtype or list(FORMATS):
            for name in (f"logits_{dtype}.csv", f"logits_{dtype}.csv.xz"):
                path = os.path.join(args.compare, name)
                if os.path.exists(path):
                    other = read_table(path)
                    rows, _ = parse_rows(other)
                    t0 = time.time()
                    text = table(rows, args.jobs)
                    print(f"{dtype}: {len(rows)} rows of {path} in {time.time() - t0:.0f} s")
                    status |= compare(text, other, path) > 0
                    break
        return status
    for dtype in args.dtype or list(FORMATS):
        t0 = time.time()
        text = table(cases(dtype), args.jobs)
        digest = hashlib.sha256(text.encode()).hexdigest()
        path = path_of(args.out, dtype)
        print(f"{dtype}: {text.count(chr(10)) - 1} rows in {time.time() - t0:.0f} s, "
              f"sha256 of the CSV {digest}")
        if args.check:
            same = read_table(path) == text
            print(f"{dtype}: {path} {'is identical' if same else 'DIFFERS'}")
            status |= not same
        else:
            os.makedirs(args.out, exist_ok=True)
            with open(path, "wb") as f:
                f.write(compress(text))
            print(f"{dtype}: wrote {path} ({os.path.getsize(path)} bytes)")
    return status


if __name__ == "__main__":
    sys.exit(main())
