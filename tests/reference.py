"""Independent references for the cbce tests: the 80-digit CSVs, ulp errors, mpmath formulas.

Nothing here imports cbce.  Everything that decides whether cbce is right lives in this file,
so it is written to be obviously correct rather than fast:

* The tables (``tests/data/logits_float{32,64}.csv.xz``, written by
  ``tools/make_reference.py``; see ``tests/data/README.md``) hold x, y, pos_weight as hex
  floats and the exact results as decimal strings with 30 significant digits.  Some
  exponents are astronomically large (``3.0e-147782745434202637294112003802236491331``:
  exp(-3.4e38)); ``float()`` would give 0 silently and ``decimal`` overflows, so each string
  is parsed by hand: values whose decimal exponent is beyond +-2000 are far outside every
  binary format and are kept only as "tiny"/"huge" with the right sign, the rest are parsed
  exactly with mpmath (128 bits).

* An exact value v is stored as v = (hi + lo) * 2**e with hi + lo in [0.5, 1) (a double-double
  mantissa, 106 bits) and an integer exponent e, so that values below the float64 subnormal
  range (or above its overflow threshold) keep their full precision.  The error of a computed
  value c is |c - v| / ulp(v), where ulp(v) = 2**(max(floor(log2|v|), emin) - p + 1) in the
  target format (precision p, minimum normal exponent emin): subnormal results are judged in
  ulps of the subnormal spacing (docs/contract.md).  Rules for the non-finite cases:
    - v infinite: c must be the same infinity (error 0), else the error is inf;
    - v finite but beyond the overflow threshold (rounds to inf): c = inf of the same sign is
      exact (error 0); a finite c is measured against v with the ulp of the top binade;
    - c infinite and v finite within range: c counts as 2**(emax+1) (the "next" value after
      the largest finite one), so an overflow just past the maximum costs ~1 ulp and any
      other spurious inf costs a huge number of ulps;
    - c NaN: error inf (a NaN where a number is due is always wrong).
"""
from __future__ import annotations

import csv
import functools
import math
import os
import re
from pathlib import Path

import mpmath
import numpy as np

__all__ = [
    "FORMATS", "ExactArray", "reference_dir", "load_logits_reference", "ulp_error",
    "mp_softplus", "mp_loss", "mp_grad", "mp_hess", "mp_sigmoid", "exact_value",
    "stable_loss_f64", "stable_grad_f64", "stable_hess_f64", "ULP_REPORT", "report_ulp",
]

# precision p (bits, implicit one included), minimum and maximum normal exponent
FORMATS = {
    np.dtype(np.float16): (11, -14, 15),
    np.dtype(np.float32): (24, -126, 127),
    np.dtype(np.float64): (53, -1022, 1023),
}

_EXP_LIMIT = 2000          # |decimal exponent| beyond which a value is tiny/huge for all formats
_FAR = 100_000             # binary exponent used for tiny (-_FAR) and huge (+_FAR) values


def reference_dir() -> Path:
    """tests/data, where the reference tables live."""
    return Path(__file__).resolve().parent / "data"


def _open_reference(name):
    """The table ``name`` in reference_dir(), xz-compressed (``name.xz``) or plain."""
    folder = reference_dir()
    packed = folder / (name + ".xz")
    if packed.exists():
        import lzma
        return packed, lzma.open(packed, "rt", newline="")
    path = folder / name
    if path.exists():
        return path, open(path, newline="")
    raise FileNotFoundError(
        f"reference table {packed} not found: it is part of the repository and the sdist "
        f"(tools/make_reference.py writes it)")


class ExactArray:
    """Exact values as sign * (hi + lo) * 2**exp, plus masks for 0, inf and NaN."""

    def __init__(self, n):
        self.hi = np.zeros(n)          # in [0.5, 1), sign folded in
        self.lo = np.zeros(n)
        self.exp = np.zeros(n, dtype=np.int64)
        self.is_zero = np.zeros(n, dtype=bool)
        self.is_inf = np.zeros(n, dtype=bool)
        self.is_nan = np.zeros(n, dtype=bool)
        self.sign = np.ones(n)

    def __len__(self):
        return len(self.hi)

    def __getitem__(self, idx):
        r = ExactArray(0)
        for k in ("hi", "lo", "exp", "is_zero", "is_inf", "is_nan", "sign"):
            setattr(r, k, getattr(self, k)[idx])
        return r

    @property
    def approx(self) -> np.ndarray:
        """Nearest float64 (0 / inf outside its range; good enough for choosing scales)."""
        with np.errstate(over="ignore", under="ignore"):
            e = np.clip(self.exp, -3000, 3000)
            v = np.ldexp(self.hi, e) + np.ldexp(self.lo, e)
        v = np.where(self.is_zero, 0.0, v)
        v = np.where(self.is_inf, self.sign * np.inf, v)
        return np.where(self.is_nan, np.nan, v)

    def set_mpf(self, i, v):
        """Store one mpmath value (finite or not) at index i."""
        if mpmath.isnan(v):
            self.is_nan[i] = True
            return
        if mpmath.isinf(v):
            self.is_inf[i] = True
            self.sign[i] = 1.0 if v > 0 else -1.0
            return
        if v == 0:
            self.is_zero[i] = True
            return
        sign, man, exp, bc = v._mpf_          # |v| = man * 2**exp, man has bc bits
        if bc > 256:                          # keep 256 bits (far beyond the 106 stored)
            man, exp, bc = man >> (bc - 256), exp + (bc - 256), 256
        s = -1.0 if sign else 1.0
        if abs(exp + bc) > _FAR:              # far outside every format
            self.set_far(i, bool(sign), exp + bc < 0)
            return
        hi = math.ldexp(float(man), -bc)      # man rounded to 53 bits, scaled into [0.5, 1]
        # exact remainder: man - hi*2**bc is an integer
        rem = man - int(math.ldexp(hi, bc)) if bc <= 1000 else man - (int(hi * 2**53) << (bc - 53))
        lo = math.ldexp(float(rem), -bc)
        e = exp + bc
        if hi == 1.0:                          # rounding carried into the next binade
            hi, lo, e = 0.5, lo / 2, e + 1
        self.hi[i], self.lo[i], self.exp[i], self.sign[i] = s * hi, s * lo, e, s

    def set_far(self, i, negative, tiny):
        """A value with |decimal exponent| > _EXP_LIMIT: tiny (~0) or huge (~inf)."""
        s = -1.0 if negative else 1.0
        self.hi[i], self.lo[i], self.sign[i] = 0.5 * s, 0.0, s
        self.exp[i] = -_FAR if tiny else _FAR


_DEC_RE = re.compile(r"^([+-]?)(\d+(?:\.\d*)?|\.\d+)(?:[eE]([+-]?\d+))?$")


def parse_exact(strings) -> ExactArray:
    """Parse decimal strings (inf/nan allowed, any exponent size) into an ExactArray."""
    out = ExactArray(len(strings))
    with mpmath.workprec(128):
        for i, s in enumerate(strings):
            s = s.strip()
            low = s.lower()
            if low in ("nan", "+nan", "-nan"):
                out.is_nan[i] = True
                continue
            if low in ("inf", "+inf", "infinity", "-inf", "-infinity"):
                out.set_mpf(i, mpmath.mpf(low.replace("infinity", "inf")))
                continue
            m = _DEC_RE.match(s)
            if m is None:
                raise ValueError(f"cannot parse reference value {s!r}")
            sign, mant, exps = m.groups()
            if float(mant) == 0.0:
                out.is_zero[i] = True
                continue
            if exps is not None and len(exps.lstrip("+-")) > 6 or (
                    exps is not None and abs(int(exps)) > _EXP_LIMIT):
                out.set_far(i, sign == "-", exps.startswith("-"))
                continue
            out.set_mpf(i, mpmath.mpf(s))
    return out


def _exact_from_float(values) -> ExactArray:
    """Floats (exactly) as an ExactArray."""
    values = np.asarray(values, dtype=np.float64).ravel()
    out = ExactArray(len(values))
    with mpmath.workprec(128):
        for i, v in enumerate(values):
            out.set_mpf(i, mpmath.mpf(float(v)))
    return out


def exact_value(values) -> ExactArray:
    """mpmath numbers (or floats) into an ExactArray."""
    out = ExactArray(len(values))
    for i, v in enumerate(values):
        if not isinstance(v, mpmath.mpf):       # mpmath.mpf(v) would round v to mp.prec
            with mpmath.workprec(128):
                v = mpmath.mpf(v)
        out.set_mpf(i, v)
    return out


def ulp_error(computed, exact: ExactArray, dtype, scale=None) -> np.ndarray:
    """Error of ``computed`` against ``exact`` in ulps of ``dtype`` (float64 array).

    ``scale``: measure in ulps of this value instead of the exact result (an ExactArray or
    an array of floats, e.g. max(sigmoid(x), y) for soft-label gradients).  See the module
    docstring for the treatment of subnormals, overflow, infinities and NaN.
    """
    dtype = np.dtype(dtype)
    prec, emin, emax = FORMATS[dtype]
    c = np.asarray(computed).astype(np.float64).ravel()
    n = len(c)
    if len(exact) != n:
        raise ValueError(f"{n} computed values for {len(exact)} exact ones")

    # unit exponent q: ulp = 2**q, from the exponent of the scale value
    if scale is None:
        s_exp = exact.exp.copy()
        s_zero = exact.is_zero | exact.is_inf | exact.is_nan
    elif isinstance(scale, ExactArray):
        s_exp = scale.exp.copy()
        s_zero = scale.is_zero | scale.is_inf | scale.is_nan
    else:
        sc = np.abs(np.asarray(scale, dtype=np.float64).ravel())
        _, s_exp = np.frexp(sc)
        s_exp = s_exp.astype(np.int64)
        s_zero = (sc == 0) | ~np.isfinite(sc)
    big_e = np.where(s_zero, emin, s_exp - 1)       # floor(log2 |scale|)
    q = np.clip(big_e, emin, emax) - prec + 1

    # overflow threshold of the format: values >= this round to inf
    ovf_threshold_exp = emax + 1        # |v| >= 2**emax * (2 - 2**-p) rounds to inf
    v_rounds_to_inf = ~exact.is_zero & ~exact.is_inf & ~exact.is_nan & (
        (exact.exp > ovf_threshold_exp) | (
            (exact.exp == ovf_threshold_exp)
            & (np.abs(exact.hi) + np.sign(exact.hi) * exact.lo
               >= 1.0 - math.ldexp(1.0, -prec - 1))))

    # c scaled by 2**-q (exact in float64 unless absurdly far; then the error is huge anyway)
    c_fin = np.where(np.isfinite(c), c, 0.0)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        # an infinite c counts as 2**(emax+1), i.e. 2**(emax+1-q) once scaled
        cs = np.where(np.isinf(c), np.sign(c) * np.ldexp(1.0, emax + 1 - q), np.ldexp(c_fin, -q))
        sh = np.clip(exact.exp - q, -3000, 3000)
        vh = np.where(exact.is_zero | exact.is_inf | exact.is_nan, 0.0, np.ldexp(exact.hi, sh))
        vl = np.where(exact.is_zero | exact.is_inf | exact.is_nan, 0.0, np.ldexp(exact.lo, sh))
        err = np.abs((cs - vh) - vl)

    # special cases
    err = np.where(np.isnan(c), np.inf, err)
    same_inf = np.isinf(c) & (np.sign(c) == exact.sign)
    err = np.where(exact.is_inf, np.where(same_inf, 0.0, np.inf), err)
    err = np.where(exact.is_nan, np.where(np.isnan(c), 0.0, np.inf), err)
    err = np.where(v_rounds_to_inf & same_inf, 0.0, err)
    return err


# ---------------------------------------------------------------------------------------
# The CSVs


@functools.lru_cache(maxsize=None)
def load_logits_reference(dtype):
    """Rows of logits_float{32,64}.csv: dict of input arrays (in ``dtype``) and ExactArrays."""
    dtype = np.dtype(dtype)
    name = {np.float32: "logits_float32.csv", np.float64: "logits_float64.csv"}[dtype.type]
    path, f = _open_reference(name)
    cached = _cache_load(path, dtype)
    if cached is not None:
        f.close()
        return cached
    with f:
        rows = list(csv.DictReader(f))
    cols = {k: [r[k] for r in rows] for k in rows[0]}
    data = {}
    for k in ("x", "y", "pos_weight"):
        v64 = np.array([float.fromhex(s) if s.lower().lstrip("+-") not in ("inf", "nan")
                        else float(s) for s in cols[k]])
        v = v64.astype(dtype)
        if not np.array_equal(v.astype(np.float64), v64, equal_nan=True):
            raise ValueError(f"{path}: column {k} is not exactly representable in {dtype}")
        data[k] = v
    for k in ("loss", "grad", "hess", "sigmoid", "log_sigmoid", "softplus"):
        if k in cols:
            data[k] = parse_exact(cols[k])
    data["path"] = str(path)
    _cache_store(path, dtype, data)
    return data


# Parsing the CSVs takes seconds; the parsed arrays are cached in a temporary folder, keyed
# by the file's path, size and modification time (CBCE_REFERENCE_CACHE=0 disables this).
_CACHE_VERSION = 1
_EXACT_FIELDS = ("hi", "lo", "exp", "is_zero", "is_inf", "is_nan", "sign")


def _cache_file(path, dtype):
    if os.environ.get("CBCE_REFERENCE_CACHE", "1") == "0":
        return None
    import hashlib
    import tempfile
    st = os.stat(path)
    key = f"{_CACHE_VERSION}|{os.path.abspath(path)}|{st.st_size}|{st.st_mtime_ns}|{dtype.name}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]
    return Path(tempfile.gettempdir()) / "cbce-reference-cache" / f"{digest}.npz"


def _cache_load(path, dtype):
    cf = _cache_file(path, dtype)
    if cf is None or not cf.exists():
        return None
    try:
        with np.load(cf) as z:
            data = {k: z[k] for k in ("x", "y", "pos_weight")}
            for col in ("loss", "grad", "hess", "sigmoid", "log_sigmoid", "softplus"):
                if f"{col}.hi" in z:
                    ea = ExactArray(0)
                    for fld in _EXACT_FIELDS:
                        setattr(ea, fld, z[f"{col}.{fld}"])
                    data[col] = ea
        data["path"] = str(path)
        return data
    except Exception:          # a damaged cache is ignored and rewritten
        return None


def _cache_store(path, dtype, data):
    cf = _cache_file(path, dtype)
    if cf is None:
        return
    try:
        cf.parent.mkdir(parents=True, exist_ok=True)
        arrays = {k: data[k] for k in ("x", "y", "pos_weight")}
        for col, ea in data.items():
            if isinstance(ea, ExactArray):
                for fld in _EXACT_FIELDS:
                    arrays[f"{col}.{fld}"] = getattr(ea, fld)
        tmp = cf.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(tmp, **arrays)
        os.replace(tmp, cf)
    except OSError:
        pass


# ---------------------------------------------------------------------------------------
# mpmath formulas (the definitions of docs/contract.md, evaluated with many digits)

def _mp(v):
    if isinstance(v, mpmath.mpf):
        return v
    with mpmath.workprec(64):
        return mpmath.mpf(float(v))          # exact: floats have <= 53 bits


def _converged(f, *args):
    """Evaluate f(*args) at rising precision until two results agree to 100 bits.

    The gradient is a difference (c*sigmoid(x) - p*y) that cancels near its root, and
    sigmoid(x) for tiny x or y near 1 needs as many bits as the exponent of x is large; rather
    than reason about each case, raise the precision until the answer stops moving.
    """
    prev = None
    prec = max(160, mpmath.mp.prec + 64)   # callers (e.g. mpmath.diff) may raise mp.prec
    while prec <= 40000:
        with mpmath.workprec(prec):
            cur = f(*args)
        if prev is not None:
            # two zeros prove nothing: at x = 2^-700 the gradient's terms agree to 700 bits
            if cur == prev and cur != 0:
                return cur
            close = abs(cur - prev) <= abs(cur) * mpmath.mpf(2) ** -100
            if mpmath.isfinite(cur) and cur != 0 and close:
                return cur
        prev = cur
        prec *= 2
    if prev == 0:
        return prev                 # 0 at every precision up to 40000 bits: exactly 0
    raise ArithmeticError(f"{f.__name__}{args} did not converge")


def _softplus_neg_abs(a):
    """log1p(exp(-a)) for a >= 0 (a may be inf)."""
    if mpmath.isinf(a):
        return mpmath.mpf(0)
    return mpmath.log1p(mpmath.exp(-a))


def _loss(x, y, p, w):
    # cancellation-free: both terms are >= 0; a zero coefficient of |x| gives 0, not nan
    c = (1 - y) + p * y
    a = abs(x)
    k = (1 - y) if x >= 0 else p * y
    lin = k * a if k != 0 else mpmath.mpf(0)
    return w * (lin + c * _softplus_neg_abs(a))


def _sigmoid(x):
    if mpmath.isinf(x):
        return mpmath.mpf(1) if x > 0 else mpmath.mpf(0)
    return 1 / (1 + mpmath.exp(-x))


def _grad(x, y, p, w):
    # c*s - p*y == (1 - y)*s - p*y*(1 - s), with 1 - s = sigmoid(-x) computed directly
    return w * ((1 - y) * _sigmoid(x) - p * y * _sigmoid(-x))


def _hess(x, y, p, w):
    if mpmath.isinf(x):
        return mpmath.mpf(0)
    e = mpmath.exp(-abs(x))
    return w * ((1 - y) + p * y) * e / (1 + e) ** 2


def mp_sigmoid(x):
    return _converged(_sigmoid, _mp(x))


def mp_softplus(x):
    x = _mp(x)
    if mpmath.isinf(x):
        return x if x > 0 else mpmath.mpf(0)
    return _converged(lambda v: max(v, 0) + _softplus_neg_abs(abs(v)), x)


def mp_loss(x, y, p=1, w=1):
    """w * ((1 - y) * x + (1 + (p - 1) * y) * softplus(-x)), exact to >= 100 bits."""
    return _converged(_loss, _mp(x), _mp(y), _mp(p), _mp(w))


def mp_grad(x, y, p=1, w=1):
    """d loss / dx = w * ((1 + (p - 1) * y) * sigmoid(x) - p * y)."""
    return _converged(_grad, _mp(x), _mp(y), _mp(p), _mp(w))


def mp_hess(x, y, p=1, w=1):
    """d2 loss / dx2 = w * (1 + (p - 1) * y) * sigmoid(x) * sigmoid(-x)."""
    return _converged(_hess, _mp(x), _mp(y), _mp(p), _mp(w))


# ---------------------------------------------------------------------------------------
# Cancellation-free float64 formulas (NumPy), for moderately accurate vectorised references


def stable_loss_f64(x, y, p=1.0, w=1.0):
    x, y, p, w = (np.asarray(v, dtype=np.float64) for v in (x, y, p, w))
    a = np.abs(x)
    t = np.log1p(np.exp(-a))
    c = (1 - y) + p * y
    with np.errstate(invalid="ignore"):
        lin = np.where(x >= 0, (1 - y) * a, p * y * a)
    return w * (lin + c * t)


def stable_grad_f64(x, y, p=1.0, w=1.0):
    x, y, p, w = (np.asarray(v, dtype=np.float64) for v in (x, y, p, w))
    e = np.exp(-np.abs(x))
    s = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
    c = (1 - y) + p * y
    return w * (c * s - p * y)


def stable_hess_f64(x, y, p=1.0, w=1.0):
    x, y, p, w = (np.asarray(v, dtype=np.float64) for v in (x, y, p, w))
    e = np.exp(-np.abs(x))
    c = (1 - y) + p * y
    return w * c * e / (1 + e) ** 2


# ---------------------------------------------------------------------------------------
# max-ulp figures, collected by the tests and printed by conftest at the end of the run

ULP_REPORT: dict = {}


def report_ulp(key, value, bound):
    """Record the max ulp error measured for ``key`` (kept as the max over calls)."""
    old = ULP_REPORT.get(key)
    if old is None or not (value <= old[0]):
        ULP_REPORT[key] = (float(value), bound)


# ---------------------------------------------------------------------------------------
# shared by the mpmath comparisons of the loss families

def worst_element(label, err, x, y, got, exact_refs, bound):
    """The failure line of a comparison: the case `label`, its worst element (NaN counted as
    worst), its input, label, result and the exact value (an mpmath number)."""
    worst = float(np.max(err))
    i = int(np.argmax(np.nan_to_num(err, nan=np.inf)))
    return (f"{label}: max {worst:.3g} ulp (bound {bound}) at x={float(x[i])!r} "
            f"y={float(y[i])}: got {float(got[i])!r}, exact {mpmath.nstr(exact_refs[i], 17)}")


def check_mp_derivatives(ref, points, prec, rel=1e-40):
    """ref(x) -> (loss, grad, hess, ...) in mpmath: its grad and hess equal mpmath.diff of its
    loss at each x of `points` ((x, *args) tuples; ref is called as ref(x, *args)) to `rel`
    relative (plus `rel` absolute), mpmath.diff working at `prec` bits."""
    for x, *args in points:
        _, g, h = ref(x, *args)[:3]
        with mpmath.workprec(prec):
            dg = mpmath.diff(lambda z: ref(z, *args)[0], mpmath.mpf(x), 1)
            dh = mpmath.diff(lambda z: ref(z, *args)[0], mpmath.mpf(x), 2)
        assert abs(dg - g) <= rel * (1 + abs(g)), f"grad at x={x} {args}: diff {dg}, rule {g}"
        assert abs(dh - h) <= rel * (1 + abs(h)), f"hess at x={x} {args}: diff {dh}, rule {h}"


def unreduced_all_ops(funcs, x, y, kw):
    """(loss, grad, hess) of a family's four functions `funcs` (loss, _backward,
    _forward_backward, _grad_hess) unreduced, after checking that the fused call and
    grad_hess give the same bits as the loss and the backward."""
    fl, fb, ffb, fgh = funcs
    loss = fl(x, y, **kw, reduction="none")
    grad = fb(x, y, **kw, reduction="none")
    l2, g2 = ffb(x, y, **kw, reduction="none")
    g3, hess = fgh(x, y, **kw)
    np.testing.assert_array_equal(l2, loss, err_msg=f"forward_backward's loss {kw}")
    np.testing.assert_array_equal(g2, grad, err_msg=f"forward_backward's gradient {kw}")
    np.testing.assert_array_equal(g3, grad, err_msg=f"grad_hess's gradient {kw}")
    return loss, grad, hess
