"""Sigmoid focal loss (torchvision's formula, computed in log space)."""
import numpy as np

from .common import (DTYPES, FOCAL, NO_REDUCTION, Benchmark, logits, lowmem_inputs,
                     reduction_kwargs, require, targets, threads_kwargs)


class Functions(Benchmark):
    """The four entry points, reduced (mean) and unreduced, 10^3 and 10^6."""
    params = [FOCAL, DTYPES, [10**3, 10**6], ["mean", "none"]]
    param_names = ["function", "dtype", "n", "reduction"]

    def setup(self, name, dtype, n, reduction):
        if name in NO_REDUCTION and reduction != "none":
            raise NotImplementedError("grad_hess is unreduced")
        self.fn = require(name)
        self.x = logits(n, dtype)
        self.y = targets(n, dtype)
        self.kw = reduction_kwargs(name, reduction)

    def time_call(self, name, dtype, n, reduction):
        self.fn(self.x, self.y, **self.kw)


class Gamma(Benchmark):
    """gamma = 0 (plain BCE), 0.5 (fractional power), 2 (default), 5; alpha None or 0.25."""
    params = [DTYPES, [0.0, 0.5, 2.0, 5.0], ["none", "0.25"]]
    param_names = ["dtype", "gamma", "alpha"]
    n = 10**6

    def setup(self, dtype, gamma, alpha):
        self.fn = require("sigmoid_focal_loss_forward_backward")
        self.x, self.y = logits(self.n, dtype), targets(self.n, dtype)
        self.kw = {"gamma": gamma, "alpha": None if alpha == "none" else float(alpha)}

    def time_forward_backward(self, dtype, gamma, alpha):
        self.fn(self.x, self.y, **self.kw)


class Variants(Benchmark):
    """Forward-backward at 10^6: weight, uint8 target, strided, 1 thread / all cores."""
    params = [DTYPES, ["plain", "weight", "uint8_target", "strided", "threads_1",
                       "threads_all"]]
    param_names = ["dtype", "variant"]
    n = 10**6

    def setup(self, dtype, variant):
        self.fn = require("sigmoid_focal_loss_forward_backward")
        n = self.n
        self.x, self.y = logits(n, dtype), targets(n, dtype)
        self.kw = {}
        if variant == "weight":
            self.kw["weight"] = np.random.default_rng(5).random(n).astype(dtype)
        elif variant == "uint8_target":
            self.y = targets(n, "uint8")
        elif variant == "strided":
            self.x, self.y = logits(2 * n, dtype)[::2], targets(2 * n, dtype)[::2]
        elif variant.startswith("threads_"):
            self.kw = threads_kwargs(self.fn, variant[len("threads_"):])

    def time_forward_backward(self, dtype, variant):
        self.fn(self.x, self.y, **self.kw)


class PeakMemory(Benchmark):
    """Peak memory of the fused focal passes at 10^7 float32 (see bench_logits.PeakMemory)."""
    params = [["sigmoid_focal_loss_forward_backward", "sigmoid_focal_loss_grad_hess"]]
    param_names = ["function"]
    n = 10**7

    def setup(self, name):
        self.fn = require(name)
        self.x, self.y = lowmem_inputs(self.n, "float32")

    def peakmem_call(self, name):
        self.fn(self.x, self.y)
