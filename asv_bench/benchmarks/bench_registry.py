"""Every loss family of the registry (cbce._registry, made from src/cbce/core/registry.h):
its four operations, and its speed relative to BCE with logits in the same process.

A family added to the registry is benchmarked here without an edit.  Commits without a
registry fall back to the three families they have.
"""
import time

from .common import DTYPES, Benchmark, logits, probabilities, require, targets

try:
    from cbce._registry import FAMILIES
except ImportError:  # commits before the registry
    FAMILIES = (dict(name="bce_logits", python="binary_cross_entropy_with_logits", probs=False),
                dict(name="bce", python="binary_cross_entropy", probs=True),
                dict(name="focal", python="sigmoid_focal_loss", probs=False))

BY_NAME = {f["name"]: f for f in FAMILIES}
OPS = ["", "_backward", "_forward_backward", "_grad_hess"]
N = 10**6


def _inputs(fam, dtype):
    x = probabilities(N, dtype) if fam["probs"] else logits(N, dtype)
    return x, targets(N, dtype)


class Operations(Benchmark):
    """The four operations of every family at 10^6 elements, one thread (mean reduction;
    grad_hess unreduced)."""
    params = [sorted(BY_NAME), OPS, DTYPES]
    param_names = ["family", "operation", "dtype"]

    def setup(self, family, op, dtype):
        self.fn = require(BY_NAME[family]["python"] + op)
        self.x, self.y = _inputs(BY_NAME[family], dtype)
        self.kw = {"num_threads": 1}

    def time_call(self, family, op, dtype):
        self.fn(self.x, self.y, **self.kw)


class RatioToLogits(Benchmark):
    """Time of a family's fused forward+backward over that of BCE with logits (same size,
    dtype and thread count), measured alternately in one process, best of 7 each: the
    figure to keep within 1.5 for a new loss."""
    params = [sorted(BY_NAME), DTYPES]
    param_names = ["family", "dtype"]
    unit = "ratio"

    def setup(self, family, dtype):
        self.fn = require(BY_NAME[family]["python"] + "_forward_backward")
        self.ref = require("binary_cross_entropy_with_logits_forward_backward")
        self.x, self.y = _inputs(BY_NAME[family], dtype)
        self.xr = logits(N, dtype)

    def track_ratio(self, family, dtype):
        best, best_ref = float("inf"), float("inf")
        for _ in range(7):
            t0 = time.perf_counter()
            self.fn(self.x, self.y, num_threads=1)
            t1 = time.perf_counter()
            self.ref(self.xr, self.y, num_threads=1)
            t2 = time.perf_counter()
            best, best_ref = min(best, t1 - t0), min(best_ref, t2 - t1)
        return best / best_ref
