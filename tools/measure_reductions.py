"""Measure the error of cbce's float64 reductions (sum, mean, weighted_mean) in ulp over
many random distributions, against the exact sum of long-double per-element losses.

    python tools/measure_reductions.py [TRIALS] [N]        (defaults: 60 trials, 10**6)

Distributions: logits normal, uniform, log-uniform in scale, clustered, and arrays of a
few distinct values (where the per-element roundings add up rather than cancel); hard or
soft labels; pos_weight and weight of shape (C,) or none.

The reference: each loss in NumPy long double (64-bit significand on x86-64) from the
cancellation-free form loss = w * (c*|x| + L*log1p(exp(-|x|))) (every term >= 0), split
into float64 hi + lo and added exactly with math.fsum; its relative error is ~2^-62, a few
thousandths of a float64 ulp.  Prints the largest error of each reduction, with and
without weights, and the distribution that produced it.
"""
import math
import sys

import numpy as np

import cbce

LD = np.longdouble


def ulps(got, exact):
    """|got - exact| in ulps of the float64 nearest exact (both Python floats; exact carried
    as a (hi, lo) pair so the comparison keeps its extra bits)."""
    hi, lo = exact
    return abs((got - hi) - lo) / math.ulp(hi) if hi else abs(got)


def exact_pair(v):
    """The exact sum of v as hi + lo (two floats)."""
    hi = v.astype(np.float64)
    lo = (v - hi.astype(LD)).astype(np.float64)
    parts = np.concatenate([hi, lo]).tolist()
    s = math.fsum(parts)
    return s, math.fsum(parts + [-s])


def trial(rng, n):
    kind = rng.integers(0, 6)
    if kind >= 4:   # few distinct values: their rounding errors add up instead of cancelling
        pool = rng.choice([-1, 1], 12) * np.exp(rng.uniform(-8, 4, 12))
        x = rng.choice(pool[:int(rng.choice([1, 2, 3, 5, 12]))], n)
    elif kind == 0:
        x = rng.normal(0, 3, n)
    elif kind == 1:
        x = rng.uniform(-40, 40, n)
    elif kind == 2:
        x = rng.choice([-1, 1], n) * np.exp(rng.uniform(-20, 6, n))
    else:
        x = rng.normal(rng.uniform(-30, 30), rng.uniform(0.1, 10), n)
    soft = rng.uniform() < 0.5
    y = rng.uniform(0, 1, n) if soft else rng.integers(0, 2, n).astype(np.float64)
    if kind == 5:
        y = rng.choice(y[:3], n)
    c = int(rng.choice([1, 4, 7, 64]))
    n -= n % c
    x, y = x[:n].reshape(-1, c), y[:n].reshape(-1, c)
    pw = rng.uniform(0.2, 4, c) if rng.uniform() < 0.5 else np.ones(c)
    w = rng.uniform(0, 3, c)
    if kind >= 4:
        pw, w = np.full(c, pw[0]), np.full(c, w[0])
    X, Y, P = x.astype(LD), y.astype(LD), pw.astype(LD)
    a = np.abs(X)
    q = 1 - Y
    L = q + P * Y
    lin = np.where(X >= 0, q, P * Y) * a
    loss = lin + L * np.log1p(np.exp(-a))
    desc = f"x kind {kind}, {'soft' if soft else 'hard'}, C={c}, pos_weight " \
           f"{'random' if pw[0] != 1 else 'none'}"
    out = {}
    s = exact_pair(loss.ravel())
    out["sum"] = ulps(float(cbce.binary_cross_entropy_with_logits(x, y, pos_weight=pw,
                                                                  reduction="sum")), s)
    m = float(cbce.binary_cross_entropy_with_logits(x, y, pos_weight=pw, reduction="mean"))
    out["mean"] = ulps(m, exact_pair(loss.ravel() / LD(x.size)))
    wl = (loss * w.astype(LD)).ravel()
    sw = exact_pair(wl)
    out["weighted sum"] = ulps(float(cbce.binary_cross_entropy_with_logits(
        x, y, w, pos_weight=pw, reduction="sum")), sw)
    wsum = np.sum(w.astype(LD)) * LD(x.size // c)
    out["weighted_mean"] = ulps(float(cbce.binary_cross_entropy_with_logits(
        x, y, w, pos_weight=pw, reduction="weighted_mean")), exact_pair(wl / wsum))
    return desc, out


def main():
    trials = int(sys.argv[1]) if len(sys.argv) > 1 else 60
    n = int(float(sys.argv[2])) if len(sys.argv) > 2 else 10**6
    rng = np.random.default_rng(2026)
    worst = {}
    for _ in range(trials):
        desc, out = trial(rng, n)
        for k, v in out.items():
            if v > worst.get(k, (-1, ""))[0]:
                worst[k] = (v, desc)
    print(f"float64 reductions, {trials} distributions of {n} elements (max ulp):")
    for k, (v, desc) in worst.items():
        print(f"  {k:14s} {v:.3f}   ({desc})")


if __name__ == "__main__":
    main()
