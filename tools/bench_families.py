"""Speed of the Poly-1 and asymmetric losses relative to BCE with logits: each call timed
alternately with binary_cross_entropy_with_logits on the same inputs (size, dtype, one
thread) in one process, best of R runs each; prints time(loss) / time(BCE with logits).

    python tools/bench_families.py [--n 1000000] [--repeat 7] [--threads 1]
"""
import argparse
import time

import numpy as np

import cbce

LOSSES = ("poly1_loss", "poly1_focal_loss", "asymmetric_loss")
OPS = (("forward", ""), ("fused", "_forward_backward"))


def best_pair(f, g, repeat):
    bf = bg = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        t1 = time.perf_counter()
        g()
        t2 = time.perf_counter()
        bf, bg = min(bf, t1 - t0), min(bg, t2 - t1)
    return bf, bg


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10**6)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    print(f"cbce {cbce.__version__}, n = {args.n}, threads = {args.threads}; "
          "time / time(binary_cross_entropy_with_logits)")
    print(f"{'dtype':8} {'op':8} " + " ".join(f"{name:>17}" for name in LOSSES))
    for dtype in (np.float32, np.float64):
        x = (rng.standard_normal(args.n) * 4).astype(dtype)
        y = (rng.random(args.n) < 0.5).astype(dtype)
        for op, suffix in OPS:
            ref = getattr(cbce, "binary_cross_entropy_with_logits" + suffix)
            ratios = []
            for name in LOSSES:
                fn = getattr(cbce, name + suffix)
                tf, tr = best_pair(lambda: fn(x, y, num_threads=args.threads),
                                   lambda: ref(x, y, num_threads=args.threads), args.repeat)
                ratios.append(tf / tr)
            print(f"{np.dtype(dtype).name:8} {op:8} " + " ".join(f"{r:17.2f}" for r in ratios))


if __name__ == "__main__":
    main()
