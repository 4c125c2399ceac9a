"""cbce's time relative to NumPy and PyTorch, both measured alternately in one process.

A timing of its own swings with the load of a shared machine; a ratio of two timings
taken call by call in turn, in CPU time of one thread, does much less: each track_ value
is cbce's best time divided by the peer's best time (below 1: cbce is faster; a
regression of cbce raises it).  The peers are the NumPy formulas of bench_baselines and
torch.nn.functional (one thread, its forward a plain call on tensors that do not require
grad, the fused pass with autograd's backward).
"""
import time

from .bench_baselines import np_bce_with_logits, np_forward_backward, torch
from .common import logits, require, targets

CASES = ["forward float32 1e3", "forward float32 1e6", "fused float32 1e6",
         "forward float64 1e6", "fused float64 1e6", "fused float32 1e7"]


def best_alternating(fns, rounds, calls):
    """Best CPU time per call of each function, the functions run in turn in each round."""
    best = [float("inf")] * len(fns)
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            t0 = time.process_time()
            for _ in range(calls):
                fn()
            best[i] = min(best[i], (time.process_time() - t0) / calls)
    return best


class Relative:
    params = [CASES, ["numpy", "torch"]]
    param_names = ["case", "peer"]
    unit = "cbce time / peer time"
    timeout = 300

    def setup(self, case, peer):
        which, dtype, n = case.split()
        n = int(float(n))
        x, y = logits(n, dtype), targets(n, dtype)
        fused = which == "fused"
        fn = require("binary_cross_entropy_with_logits_forward_backward" if fused
                     else "binary_cross_entropy_with_logits")
        try:
            fn(x[:4], y[:4], num_threads=1)
            kw = {"num_threads": 1}
        except TypeError:  # a commit without num_threads
            kw = {}
        self.mine = lambda: fn(x, y, **kw)
        if peer == "numpy":
            self.peer = (lambda: np_forward_backward(x, y)) if fused else \
                (lambda: np_bce_with_logits(x, y))
        else:
            if torch is None:
                raise NotImplementedError("PyTorch is not installed")
            torch.set_num_threads(1)
            F = torch.nn.functional
            tx, ty = torch.from_numpy(x), torch.from_numpy(y)

            def torch_fused():
                xr = tx.detach().requires_grad_(True)
                F.binary_cross_entropy_with_logits(xr, ty).backward()
                return xr.grad
            self.peer = torch_fused if fused else \
                (lambda: F.binary_cross_entropy_with_logits(tx, ty))
        self.calls = max(1, int(2e6 / n))   # ~2 ms of cbce work a batch at least
        self.rounds = 40 if n <= 10**6 else 12

    def track_relative_time(self, case, peer):
        mine, theirs = best_alternating([self.mine, self.peer], self.rounds, self.calls)
        return mine / theirs
