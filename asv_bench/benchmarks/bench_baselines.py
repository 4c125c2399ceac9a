"""The same work done by plain NumPy, and by PyTorch where it is installed.

Put next to bench_logits on the dashboard, these say what cbce buys: the NumPy versions
are the numerically stable textbook formulas, the PyTorch ones the torch.nn.functional
calls (forward, and forward + autograd backward), one thread or all cores.
"""

import numpy as np

from .common import ALL_CORES, DTYPES, Benchmark, logits, lowmem_inputs, targets

try:  # imported once here, so that asv's forked benchmark processes do not each import it
    import torch
except Exception:  # not installed, or broken: the PyTorch benchmarks are skipped
    torch = None


def np_bce_with_logits(x, y, reduction="mean"):
    loss = np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x)))
    return loss.mean() if reduction == "mean" else loss


def np_sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def np_backward(x, y, reduction="mean"):
    g = np_sigmoid(x) - y
    return g / x.size if reduction == "mean" else g


def np_forward_backward(x, y):
    e = np.exp(-np.abs(x))
    loss = (np.maximum(x, 0) - x * y + np.log1p(e)).mean()
    g = (np.where(x >= 0, 1 / (1 + e), e / (1 + e)) - y) / x.size
    return loss, g


def np_grad_hess(x, y):
    s = np_sigmoid(x)
    return s - y, s * (1 - s)


NUMPY = {
    "forward_mean": lambda x, y: np_bce_with_logits(x, y),
    "forward_none": lambda x, y: np_bce_with_logits(x, y, "none"),
    "backward_mean": lambda x, y: np_backward(x, y),
    "forward_backward": np_forward_backward,
    "grad_hess": np_grad_hess,
    "sigmoid": lambda x, y: np_sigmoid(x),
}


class NumPy(Benchmark):
    """Plain NumPy, stable formulas, 10^3 and 10^6 (10^7 for the fused pass)."""
    params = [list(NUMPY), DTYPES, [10**3, 10**6, 10**7]]
    param_names = ["pass", "dtype", "n"]

    def setup(self, which, dtype, n):
        if n == 10**7 and which != "forward_backward":
            raise NotImplementedError("10^7 only for the fused pass")
        self.fn = NUMPY[which]
        self.x, self.y = logits(n, dtype), targets(n, dtype)

    def time_numpy(self, which, dtype, n):
        self.fn(self.x, self.y)


class NumPyPeakMemory(Benchmark):
    """Peak memory of the NumPy forward-backward at 10^7 float32 (cf. bench_logits.PeakMemory)."""
    n = 10**7

    def setup(self):
        self.x, self.y = lowmem_inputs(self.n, "float32")

    def peakmem_numpy_forward_backward(self):
        np_forward_backward(self.x, self.y)


def _torch():
    if torch is None:
        raise NotImplementedError("PyTorch is not installed in this environment")
    return torch


class PyTorch(Benchmark):
    """torch.nn.functional.binary_cross_entropy_with_logits on CPU tensors (no copies)."""
    params = [["forward_mean", "forward_none", "forward_backward"], DTYPES,
              [10**3, 10**6, 10**7], ["1", "all"]]
    param_names = ["pass", "dtype", "n", "threads"]

    def setup(self, which, dtype, n, threads):
        if n == 10**7 and which != "forward_backward":
            raise NotImplementedError("10^7 only for the fused pass")
        torch = _torch()
        self.torch = torch
        self.old_threads = torch.get_num_threads()
        torch.set_num_threads(1 if threads == "1" else ALL_CORES)
        F = torch.nn.functional
        x = torch.from_numpy(logits(n, dtype))
        y = torch.from_numpy(targets(n, dtype))
        if which == "forward_mean":
            self.fn = lambda: F.binary_cross_entropy_with_logits(x, y)
        elif which == "forward_none":
            self.fn = lambda: F.binary_cross_entropy_with_logits(x, y, reduction="none")
        else:
            xg = x.clone().requires_grad_(True)

            def fb():
                xg.grad = None
                F.binary_cross_entropy_with_logits(xg, y).backward()
            self.fn = fb

    def teardown(self, which, dtype, n, threads):
        if hasattr(self, "old_threads"):
            self.torch.set_num_threads(self.old_threads)

    def time_torch(self, which, dtype, n, threads):
        self.fn()


class PyTorchPeakMemory(Benchmark):
    """Peak memory of torch forward + backward at 10^7 float32 (cf. bench_logits.PeakMemory)."""
    n = 10**7

    def setup(self):
        torch = _torch()
        self.F = torch.nn.functional
        x, y = lowmem_inputs(self.n, "float32")
        self.x = torch.from_numpy(x).requires_grad_(True)
        self.y = torch.from_numpy(y)

    def peakmem_torch_forward_backward(self):
        self.F.binary_cross_entropy_with_logits(self.x, self.y).backward()
