"""BCE with logits: the four entry points, across sizes, threads, layouts, options and dtypes."""
import numpy as np

import cbce

from .common import (ALL_CORES, DTYPES, LOGITS, Benchmark, WallClock, logits, lowmem_inputs,
                     reduction_kwargs, require, targets, threads_kwargs)

FWD, BWD, FB, GH = LOGITS


class Functions(Benchmark):
    """Each entry point at 10^3 (call overhead) and 10^6 elements, reduced and unreduced,
    one thread."""
    params = [LOGITS, DTYPES, [10**3, 10**6], ["mean", "none"]]
    param_names = ["function", "dtype", "n", "reduction"]

    def setup(self, name, dtype, n, reduction):
        if name == GH and reduction != "none":
            raise NotImplementedError("grad_hess is unreduced")
        self.fn = require(name)
        self.x = logits(n, dtype)
        self.y = targets(n, dtype)
        self.kw = dict(reduction_kwargs(name, reduction), **threads_kwargs(self.fn, "1"))

    def time_call(self, name, dtype, n, reduction):
        self.fn(self.x, self.y, **self.kw)


class Sizes(WallClock):
    """Forward (mean) 10^3..10^6 and fused forward-backward 10^3..10^7, 1 thread or all cores."""
    params = [["forward", "forward_backward"], DTYPES,
              [10**3, 10**4, 10**5, 10**6, 10**7], ["1", "all"]]
    param_names = ["pass", "dtype", "n", "threads"]

    def setup(self, which, dtype, n, threads):
        if n == 10**7 and which == "forward":
            raise NotImplementedError("10^7 only for the fused pass (keeps quick runs short)")
        self.fn = require(FWD if which == "forward" else FB)
        self.kw = threads_kwargs(self.fn, threads)
        self.x = logits(n, dtype)
        self.y = targets(n, dtype)

    def time_pass(self, which, dtype, n, threads):
        self.fn(self.x, self.y, **self.kw)


class Layout(Benchmark):
    """Contiguous, strided (every 2nd), reversed, Fortran-ordered 2-D, and out= given."""
    params = [["forward_none", "backward"], DTYPES,
              ["contiguous", "strided", "reversed", "fortran", "out"]]
    param_names = ["pass", "dtype", "layout"]
    n = 10**6

    def setup(self, which, dtype, layout):
        self.fn = require(FWD if which == "forward_none" else BWD)
        n = self.n
        x, y = logits(2 * n, dtype), targets(2 * n, dtype)
        self.kw = dict(threads_kwargs(self.fn, "1"), reduction="none")
        if layout in ("contiguous", "out"):
            self.x, self.y = x[:n].copy(), y[:n].copy()
            if layout == "out":
                self.kw["out"] = np.empty(n, dtype=dtype)
        elif layout == "strided":
            self.x, self.y = x[::2], y[::2]
        elif layout == "reversed":
            self.x, self.y = x[:n][::-1], y[:n][::-1]
        else:
            self.x = np.asfortranarray(x[:n].reshape(1000, n // 1000))
            self.y = np.asfortranarray(y[:n].reshape(1000, n // 1000))

    def time_pass(self, which, dtype, layout):
        self.fn(self.x, self.y, **self.kw)


class Options(Benchmark):
    """weight (per element, per row), pos_weight (per class), label smoothing, all together."""
    params = [[FWD, FB], DTYPES,
              ["plain", "weight", "weight_row", "pos_weight", "label_smoothing", "all"]]
    param_names = ["function", "dtype", "option"]
    rows, cols = 10**4, 100

    def setup(self, name, dtype, option):
        self.fn = require(name)
        shape = (self.rows, self.cols)
        self.x = logits(self.rows * self.cols, dtype).reshape(shape)
        self.y = targets(self.rows * self.cols, dtype).reshape(shape)
        r = np.random.default_rng(7)
        kw = {}
        if option in ("weight", "all"):
            kw["weight"] = r.random(shape).astype(dtype)
        if option == "weight_row":
            kw["weight"] = r.random((self.rows, 1)).astype(dtype)
        if option in ("pos_weight", "all"):
            kw["pos_weight"] = (1.0 + 3.0 * r.random(self.cols)).astype(dtype)
        if option in ("label_smoothing", "all"):
            kw["label_smoothing"] = 0.1
        try:
            self.fn(self.x, self.y, **kw)
        except TypeError as exc:  # keyword not supported by this commit
            raise NotImplementedError(str(exc))
        self.kw = dict(kw, **threads_kwargs(self.fn, "1"))

    def time_call(self, name, dtype, option):
        self.fn(self.x, self.y, **self.kw)


class TargetDtype(Benchmark):
    """Targets as float32, float64, uint8, int8 and bool (read as they are, no copy)."""
    params = [DTYPES, ["float32", "float64", "uint8", "int8", "bool"]]
    param_names = ["dtype", "target"]
    n = 10**6

    def setup(self, dtype, target):
        self.fn = require(FB)
        self.x = logits(self.n, dtype)
        self.y = targets(self.n, target)
        self.kw = threads_kwargs(self.fn, "1")

    def time_forward_backward(self, dtype, target):
        self.fn(self.x, self.y, **self.kw)


class Classes(Benchmark):
    """The loss object: BCEWithLogitsLoss()(x, y) and .forward_backward, small and large."""
    params = [DTYPES, [10**3, 10**6]]
    param_names = ["dtype", "n"]

    def setup(self, dtype, n):
        cls = getattr(cbce, "BCEWithLogitsLoss", None)
        if cls is None:
            raise NotImplementedError("no BCEWithLogitsLoss in this version")
        self.loss = cls(reduction="mean")
        self.x = logits(n, dtype)
        self.y = targets(n, dtype)

    def time_call(self, dtype, n):
        self.loss(self.x, self.y)

    def time_forward_backward(self, dtype, n):
        self.loss.forward_backward(self.x, self.y)


class PeakMemory(Benchmark):
    """Peak memory (whole process) of the passes at 10^7 float32, reduction "mean".

    "inputs_only" is the floor (interpreter, NumPy, cbce, the two 40 MB inputs, made
    without temporaries).  The passes should add only their outputs (40 MB per array out:
    0 for the reduced forward, 40 MB for forward_backward's gradient, 80 MB for grad_hess);
    compare with bench_baselines.NumPyPeakMemory, whose temporaries cost several times more.
    """
    params = [["inputs_only", FWD, FB, GH]]
    param_names = ["function"]
    n = 10**7

    def setup(self, name):
        self.fn = (lambda x, y: None) if name == "inputs_only" else require(name)
        self.x, self.y = lowmem_inputs(self.n, "float32")

    def peakmem_call(self, name):
        self.fn(self.x, self.y)


class ThreadsScaling(WallClock):
    """Forward-backward at 10^6 with 1..all threads, and num_threads=None (library default)."""
    params = [[str(t) for t in sorted({1, 2, ALL_CORES})] + ["default"]]
    param_names = ["num_threads"]

    def setup(self, threads):
        self.fn = require(FB)
        self.x = logits(10**6, "float32")
        self.y = targets(10**6, "float32")
        self.kw = {}
        if threads != "default":
            try:
                self.fn(self.x[:4], self.y[:4], num_threads=int(threads))
            except TypeError as exc:
                raise NotImplementedError(str(exc))
            self.kw = {"num_threads": int(threads)}

    def time_forward_backward(self, threads):
        self.fn(self.x, self.y, **self.kw)
