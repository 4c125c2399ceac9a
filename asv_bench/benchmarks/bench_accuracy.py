"""Accuracy across history: ``track_`` benchmarks of the max error in ulps.

* ``Reference``: max ulp error of every quantity over the reference tables of the test
  suite (``tests/data/logits_float{32,64}.csv.xz``, exact values from mpmath written by
  ``tools/make_reference.py``).
  The measures are those of the accuracy contract (docs/contract.md): errors in ulps of the exact result in
  the input's dtype (subnormal results in ulps of the subnormal spacing); soft-label
  gradients in ulps of max(c*sigmoid(x), p*y), c = 1 + (p-1)y.  A NaN or infinity where a
  finite value is due is reported as 1e9 ulps (JSON has no inf).
* ``Reduction``: the ulp error of the ``sum`` of 10^7 losses against an independent
  extended-precision (long double) evaluation of the stable formula.
* ``Config``: the SIMD level the kernels ran at (0 unknown, 1 scalar, 2 baseline,
  3 avx2, 4 avx512), so a change of code path is visible next to the timings.

The reference parsing uses only the standard library (``decimal``): some exact values have
exponents such as e-147782745434202637294112003802236491331 (exp(-3.4e38)); these are far
outside every binary format and are kept as "tiny"/"huge" with their sign.
"""
import csv
import decimal
import lzma
import math
import re
from pathlib import Path

import numpy as np

from .common import require, simd_level

HUGE_ERROR = 1e9  # reported for NaN/inf where a number is due

# precision p (bits), minimum and maximum normal exponent
FORMATS = {"float32": (24, -126, 127), "float64": (53, -1022, 1023)}
_DEC_RE = re.compile(r"^([+-]?)(\d+(?:\.\d*)?|\.\d+)(?:[eE]([+-]?\d+))?$")
_EXP_LIMIT = 2000
_CTX = decimal.Context(prec=90, Emax=10**6, Emin=-10**6)

# kinds of exact values
FINITE, POS_INF, NEG_INF, NAN, ROUNDS_POS_INF, ROUNDS_NEG_INF = range(6)


def reference_dir():
    """<repository>/tests/data, where the reference tables live."""
    return Path(__file__).resolve().parents[2] / "tests" / "data"


def open_reference(name):
    """The table `name` in reference_dir(), xz-compressed or plain; None if absent."""
    folder = reference_dir()
    if (folder / (name + ".xz")).exists():
        return lzma.open(folder / (name + ".xz"), "rt", newline="")
    if (folder / name).exists():
        return open(folder / name, newline="")
    return None


def parse_column(strings, dtype):
    """Exact decimal strings -> arrays (kind, sign, q, hi, lo, approx) for ``dtype``.

    For finite values, |v| = (hi + lo) * 2**q where 2**q is the ulp of v in ``dtype``
    (q = max(floor(log2|v|), emin) - p + 1) and hi + lo is a double-double.
    """
    prec, emin, emax = FORMATS[dtype]
    n = len(strings)
    kind = np.zeros(n, dtype=np.int8)
    sign = np.ones(n)
    q = np.full(n, emin - prec + 1, dtype=np.int64)
    hi = np.zeros(n)
    lo = np.zeros(n)
    approx = np.zeros(n)
    two = decimal.Decimal(2)
    threshold = _CTX.multiply(_CTX.power(two, emax), _CTX.subtract(two, _CTX.power(two, -prec)))
    for i, s in enumerate(strings):
        t = s.strip().lower()
        if t in ("nan", "+nan", "-nan"):
            kind[i], approx[i] = NAN, np.nan
            continue
        if t in ("inf", "+inf", "infinity", "-inf", "-infinity"):
            neg = t.startswith("-")
            kind[i], sign[i], approx[i] = (NEG_INF if neg else POS_INF), (-1.0 if neg else 1.0), \
                (-np.inf if neg else np.inf)
            continue
        m = _DEC_RE.match(t)
        if m is None:
            raise ValueError(f"cannot parse reference value {s!r}")
        sgn, mant, exps = m.groups()
        sign[i] = -1.0 if sgn == "-" else 1.0
        if float(mant) == 0.0:
            continue                                  # exact zero: hi = lo = 0
        if exps is not None and (len(exps.lstrip("+-")) > 6 or abs(int(exps)) > _EXP_LIMIT):
            if exps.startswith("-"):
                continue                              # tiny: 0 to all formats' precision
            kind[i] = ROUNDS_NEG_INF if sgn == "-" else ROUNDS_POS_INF
            hi[i], approx[i] = np.inf, sign[i] * np.inf
            continue
        v = abs(decimal.Decimal(t))
        approx[i] = sign[i] * float(v)
        # E = floor(log2 v)
        e = int(math.floor(v.adjusted() * 3.321928094887362))
        m2 = _CTX.multiply(v, _CTX.power(two, -e))
        while m2 >= 2:
            m2, e = _CTX.divide(m2, two), e + 1
        while m2 < 1:
            m2, e = _CTX.multiply(m2, two), e - 1
        if v >= threshold:
            kind[i] = ROUNDS_NEG_INF if sgn == "-" else ROUNDS_POS_INF
        qi = max(min(e, emax), emin) - prec + 1
        scaled = _CTX.multiply(m2, _CTX.power(two, e - qi))
        q[i] = qi
        hi[i] = float(scaled)
        lo[i] = float(_CTX.subtract(scaled, decimal.Decimal(hi[i])))
    return {"kind": kind, "sign": sign, "q": q, "hi": hi, "lo": lo, "approx": approx}


def ulp_errors(computed, exact, dtype, scale=None):
    """|computed - exact| in ulps of the exact value (or of ``scale``, floats), per element."""
    prec, emin, emax = FORMATS[dtype]
    c = np.asarray(computed, dtype=np.float64).ravel()
    kind, s, q = exact["kind"], exact["sign"], exact["q"]
    hi, lo = s * exact["hi"], s * exact["lo"]
    if scale is not None:
        sc = np.abs(np.asarray(scale, dtype=np.float64))
        _, se = np.frexp(sc)
        bad = (sc == 0) | ~np.isfinite(sc)
        q_new = np.clip(np.where(bad, emin, se.astype(np.int64) - 1), emin, emax) - prec + 1
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            hi, lo = np.ldexp(hi, q - q_new), np.ldexp(lo, q - q_new)
        q = q_new
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        cs = np.where(np.isinf(c), np.sign(c) * np.ldexp(1.0, emax + 1 - q),
                      np.ldexp(np.where(np.isfinite(c), c, 0.0), -q))
        err = np.abs((cs - hi) - lo)
    err = np.where(np.isnan(c), np.inf, err)
    same_inf = np.isinf(c) & (np.sign(c) == s)
    err = np.where((kind == POS_INF) | (kind == NEG_INF), np.where(same_inf, 0.0, np.inf), err)
    err = np.where(kind == NAN, np.where(np.isnan(c), 0.0, np.inf), err)
    err = np.where(((kind == ROUNDS_POS_INF) | (kind == ROUNDS_NEG_INF)) & same_inf, 0.0, err)
    return np.where(np.isnan(err), np.inf, err)


def load_reference(dtype):
    f = open_reference(f"logits_{dtype}.csv")
    if f is None:
        return None
    with f:
        rows = list(csv.DictReader(f))
    cols = {k: [r[k] for r in rows] for k in rows[0]}
    data = {}
    for k in ("x", "y", "pos_weight"):
        data[k] = np.array([float.fromhex(v) if v.lower().lstrip("+-") not in ("inf", "nan")
                            else float(v) for v in cols[k]]).astype(dtype)
    for k in ("loss", "grad", "hess", "sigmoid", "log_sigmoid", "softplus"):
        if k in cols:
            data[k] = parse_column(cols[k], dtype)
    return data


def _max(err, mask=None):
    if mask is not None:
        err = err[mask]
    if err.size == 0:
        return 0.0
    m = float(np.max(err))
    return HUGE_ERROR if not math.isfinite(m) else m


QUANTITIES = ["loss_hard", "loss_soft", "grad_hard", "grad_soft", "hess",
              "sigmoid", "log_sigmoid", "softplus"]


class Reference:
    """Max ulp error over the reference CSVs, per quantity and dtype.

    loss: forward and fused forward-backward (reduction "none"), hard (0/1) or soft labels;
    grad: backward, fused and grad_hess gradients; hess: grad_hess; and the elementwise
    helpers.  Rows carry their own pos_weight.
    """
    params = [QUANTITIES, ["float32", "float64"]]
    param_names = ["quantity", "dtype"]
    unit = "ulp"
    timeout = 600

    def setup_cache(self):
        return {dt: load_reference(dt) for dt in ("float32", "float64")}

    def setup(self, cache, quantity, dtype):
        ref = cache[dtype]
        if ref is None:
            raise NotImplementedError(
                f"reference tables not found in {reference_dir()}")
        self.ref = ref
        x, y, p = ref["x"], ref["y"], ref["pos_weight"]
        hard = (y == 0) | (y == 1)
        self.mask = hard if quantity.endswith("_hard") else (~hard if quantity.endswith("_soft") else None)
        self.scale = None
        if quantity.startswith("loss"):
            self.exact = ref["loss"]
            fwd = require("binary_cross_entropy_with_logits")
            fb = require("binary_cross_entropy_with_logits_forward_backward")
            self.calls = [lambda: fwd(x, y, pos_weight=p, reduction="none"),
                          lambda: fb(x, y, pos_weight=p, reduction="none")[0]]
        elif quantity.startswith("grad"):
            self.exact = ref["grad"]
            bwd = require("binary_cross_entropy_with_logits_backward")
            fb = require("binary_cross_entropy_with_logits_forward_backward")
            gh = require("binary_cross_entropy_with_logits_grad_hess")
            self.calls = [lambda: bwd(x, y, pos_weight=p, reduction="none"),
                          lambda: fb(x, y, pos_weight=p, reduction="none")[1],
                          lambda: gh(x, y, pos_weight=p)[0]]
            if quantity == "grad_soft":
                y64, p64 = y.astype(np.float64), p.astype(np.float64)
                c = 1.0 + (p64 - 1.0) * y64
                self.scale = np.maximum(c * ref["sigmoid"]["approx"], p64 * y64)
        elif quantity == "hess":
            self.exact = ref["hess"]
            gh = require("binary_cross_entropy_with_logits_grad_hess")
            self.calls = [lambda: gh(x, y, pos_weight=p)[1]]
        else:
            if quantity not in ref:
                raise NotImplementedError(f"no {quantity} column in the reference")
            self.exact = ref[quantity]
            fn = require(quantity)
            self.calls = [lambda: fn(x)]

    def track_max_ulp(self, cache, quantity, dtype):
        worst = 0.0
        for call in self.calls:
            err = ulp_errors(call(), self.exact, dtype, self.scale)
            worst = max(worst, _max(err, self.mask))
        return worst


class Reduction:
    """ulp error of sum(loss) over 10^7 elements (hard labels, logits ~ N(0, 4^2)).

    The reference evaluates max(x,0) - x*y + log1p(exp(-|x|)) in long double (64-bit
    mantissa on x86-64) and sums it in long double, far more accurately than float64's ulp.
    """
    params = [["float32", "float64"]]
    param_names = ["dtype"]
    unit = "ulp"
    timeout = 600

    def setup(self, dtype):
        if np.finfo(np.longdouble).nmant < 60:
            raise NotImplementedError("long double is not extended precision here")
        self.fn = require("binary_cross_entropy_with_logits")
        r = np.random.default_rng(2024)
        self.x = (r.standard_normal(10**7) * 4.0).astype(dtype)
        self.y = (r.random(10**7) < 0.3).astype(dtype)

    def track_sum_ulp(self, dtype):
        xl, yl = self.x.astype(np.longdouble), self.y.astype(np.longdouble)
        ref = np.sum(np.maximum(xl, 0) - xl * yl + np.log1p(np.exp(-np.abs(xl))))
        got = self.fn(self.x, self.y, reduction="sum")
        ulp = np.spacing(np.abs(ref.astype(dtype))).astype(np.longdouble)
        return float(abs(np.longdouble(got) - ref) / ulp)


class Config:
    """The SIMD level the kernels ran at: 0 unknown, 1 scalar, 2 baseline, 3 avx2, 4 avx512."""
    unit = "level"
    LEVELS = {"scalar": 1, "baseline": 2, "sse2": 2, "neon": 2, "avx2": 3, "avx512": 4}

    def track_simd_level(self):
        return self.LEVELS.get(simd_level(), 0)
