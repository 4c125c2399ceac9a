"""BCE on probabilities (torch.nn.functional.binary_cross_entropy semantics)."""
import numpy as np

from .common import DTYPES, PROBS, Benchmark, probabilities, require, targets, threads_kwargs


class Functions(Benchmark):
    """Forward and backward, reduced and unreduced, 10^3 and 10^6."""
    params = [PROBS, DTYPES, [10**3, 10**6], ["mean", "none"]]
    param_names = ["function", "dtype", "n", "reduction"]

    def setup(self, name, dtype, n, reduction):
        self.fn = require(name)
        self.x = probabilities(n, dtype)
        self.y = targets(n, dtype)
        self.kw = {"reduction": reduction}

    def time_call(self, name, dtype, n, reduction):
        self.fn(self.x, self.y, **self.kw)


class Variants(Benchmark):
    """Forward (mean) at 10^6: weight, label smoothing, uint8 target, strided, 1 thread/all."""
    params = [DTYPES, ["plain", "weight", "label_smoothing", "uint8_target", "strided",
                       "threads_1", "threads_all"]]
    param_names = ["dtype", "variant"]
    n = 10**6

    def setup(self, dtype, variant):
        self.fn = require("binary_cross_entropy")
        n = self.n
        self.x, self.y = probabilities(n, dtype), targets(n, dtype)
        self.kw = {}
        if variant == "weight":
            self.kw["weight"] = np.random.default_rng(5).random(n).astype(dtype)
        elif variant == "label_smoothing":
            self.kw["label_smoothing"] = 0.1
        elif variant == "uint8_target":
            self.y = targets(n, "uint8")
        elif variant == "strided":
            self.x, self.y = probabilities(2 * n, dtype)[::2], targets(2 * n, dtype)[::2]
        elif variant.startswith("threads_"):
            self.kw = threads_kwargs(self.fn, variant[len("threads_"):])

    def time_forward(self, dtype, variant):
        self.fn(self.x, self.y, **self.kw)
