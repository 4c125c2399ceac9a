"""sigmoid, log_sigmoid, softplus: elementwise, accurate, dtype kept."""

from .common import DTYPES, ELEMENTWISE, Benchmark, logits, require


class Elementwise(Benchmark):
    """Each function, 10^3 .. 10^6, contiguous."""
    params = [ELEMENTWISE, DTYPES, [10**3, 10**5, 10**6]]
    param_names = ["function", "dtype", "n"]

    def setup(self, name, dtype, n):
        self.fn = require(name)
        self.x = logits(n, dtype)

    def time_call(self, name, dtype, n):
        self.fn(self.x)


class Layout(Benchmark):
    """10^6 elements: strided input, reversed input, and in place (out=x)."""
    params = [ELEMENTWISE, DTYPES, ["strided", "reversed", "inplace"]]
    param_names = ["function", "dtype", "layout"]
    n = 10**6

    def setup(self, name, dtype, layout):
        self.fn = require(name)
        self.kw = {}
        if layout == "strided":
            self.x = logits(2 * self.n, dtype)[::2]
        elif layout == "reversed":
            self.x = logits(self.n, dtype)[::-1]
        else:
            self.x = logits(self.n, dtype)
            self.kw = {"out": self.x}

    def time_call(self, name, dtype, layout):
        self.fn(self.x, **self.kw)
