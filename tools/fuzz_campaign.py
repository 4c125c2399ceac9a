"""A time-boxed hypothesis campaign over the whole Python API against the independent
long-double reference of tests/test_hardening_fuzz.py (run_case / run_elementwise_case).

Each hypothesis example is one 64-bit genome, decoded here into a call: family (BCE with
logits, on probabilities, focal, and the sigmoid / log_sigmoid / softplus helpers),
operation, dtypes, shape, what every operand is (contiguous, Fortran, strided, reversed,
byte-swapped, read-only, np.matrix, a user ndarray subclass, an object with only the
array interface, a memoryview, a zero-stride broadcast, a masked array that must be
refused), weights, pos_weight, grad_output, out= (given, in place, overlapping the input,
np.matrix or subclass), reduction, smoothing, alpha, gamma, threads.  One draw per example
keeps hypothesis's own cost small, so the campaign reaches millions of calls.

    python tools/fuzz_campaign.py SECONDS [--findings FILE] [--seed N]

Prints the number of examples per family and the failures; failing cases (at most three
of a kind) are appended to FILE as they are found (default tests/fuzz_findings.jsonl, replayed by test_saved_findings in
tests/test_hardening_fuzz.py).  Exit status 1 if any example failed.
"""
import argparse
import json
import os
import random
import sys
import time
import traceback
import warnings

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
import test_hardening_fuzz as F  # noqa: E402

FAMILIES = list(F.REG) + ["elementwise"]


def _bshape(r, shape):
    nd = r.randint(0, len(shape))
    return tuple(1 if r.random() < 0.5 else s for s in shape[len(shape) - nd:])


def _shape(r):
    k = r.random()
    if k < 0.04:    # crosses the chunk (256) and block (4096) boundaries
        n = r.choice([255, 256, 257, 4095, 4096, 4097, 8193, 12289])
        return (n // 3, 3) if n % 3 == 0 and r.random() < 0.5 else (n,)
    if k < 0.07:
        return r.choice([(0,), (0, 3), (2, 0, 3)])
    return tuple(r.randint(1, 7) for _ in range(r.randint(0, 3)))


def decode(genome):
    """The call a genome stands for: ('elementwise', args) or (family, case dict)."""
    r = random.Random(genome)
    fam = r.choice(FAMILIES)
    if fam == "elementwise":
        return fam, dict(name=r.choice(F.ELEM), dtype=r.choice(["float16", "float32",
                                                                "float64"]),
                         shape=_shape(r), seed=r.getrandbits(32),
                         special=r.choice([0.0, 0.1, 0.5]), layout=r.choice(F.LAYOUTS),
                         out=r.choice([None, "given", "inplace"]),
                         olayout=r.choice(F.OUT_LAYOUTS))
    op, name = r.choice(F.available(fam))
    dtype = r.choice(["float16", "float32", "float64", "float64"])
    tdtype = r.choice(["same", "bool", "uint8", "int8", "int32", "float16", "float32",
                       "float64", ">f8", ">f4"])
    shape = _shape(r)
    c = dict(family=fam, op=op, name=name, dtype=dtype, shape=shape,
             tdtype=dtype if tdtype == "same" else tdtype, seed=r.getrandbits(32),
             special=r.choice([0.0, 0.0, 0.05, 0.3]), nan=r.choice([0.0, 0.0, 0.0, 0.01]),
             soft=r.random() < 0.5, xlayout=r.choice(F.LAYOUTS + ["masked"]),
             tlayout=r.choice(F.LAYOUTS), flag=r.randint(0, 5),
             reduction=r.choice(["none", "sum", "mean", "weighted_mean"]),
             num_threads=r.choice([None, 1, 2, 3]))
    if r.random() < 0.5:
        c["weight"] = _bshape(r, shape)
        c["wlayout"] = r.choice(F.LAYOUTS)
        c["wdtype"] = r.choice(["float32", "float64", "int64"])
    if F.REG[fam]["pos_weight"] and r.random() < 0.5:
        c["pos_weight"] = _bshape(r, shape)
        c["pwlayout"] = r.choice(F.LAYOUTS)
    c.update(F.draw_params(lambda seq: r.choice(list(seq)), fam))
    if op == "bwd":
        if c["reduction"] == "none" and r.random() < 0.5:
            c["go"] = _bshape(r, shape)
        else:
            c["go"] = r.choice([1.0, 1.0, -2.5, 0.0, 1e-3])
    c["out"] = r.choice([None, None, "given", "given", "inplace", "overlap"])
    c["olayout"] = r.choice(F.OUT_LAYOUTS)
    return fam, c


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("seconds", type=float)
    ap.add_argument("--findings", default=os.path.join(HERE, "..", "tests",
                                                       "fuzz_findings.jsonl"))
    ap.add_argument("--chunk", type=int, default=500)
    args = ap.parse_args()
    deadline = time.monotonic() + args.seconds
    counts = {f: 0 for f in FAMILIES}
    failures = []

    @settings(max_examples=args.chunk, deadline=None, database=None,
              phases=[Phase.generate],   # a genome's value means nothing: no shrinking
              suppress_health_check=list(HealthCheck))
    @given(st.integers(0, 2**64 - 1))
    def inner(genome):
        fam, c = decode(genome)
        counts[fam] += 1
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                F.run_saved(fam, c)
        except Exception as e:
            f = {"genome": genome, "family": fam, "case": c,
                 "error": f"{type(e).__name__}: {e}"[:600]}
            failures.append(f)
            if sum(g["case"].get("name") == c.get("name") and g["error"][:60] == f["error"][:60]
                   for g in failures) <= 3:   # saved at once; at most 3 of a kind
                with open(args.findings, "a") as fh:
                    fh.write(json.dumps(f, default=str) + "\n")
            raise

    t0 = time.monotonic()
    while time.monotonic() < deadline:
        try:
            inner()
        except Exception:
            traceback.print_exc(limit=1)
    total = sum(counts.values())
    took = time.monotonic() - t0
    print(f"fuzz_campaign: {total} examples in {took:.0f} s ({total / max(took, 1):.0f}/s) "
          f"at SIMD level {F.cbce._core.SIMD_LEVEL}; "
          + ", ".join(f"{k} {v}" for k, v in counts.items())
          + f"; {len(failures)} failing cases" + (f" (appended to {args.findings})"
                                                  if failures else ""))
    for f in failures[:20]:
        print(f"  FAIL {f['family']} genome {f['genome']}: {f['error']}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
