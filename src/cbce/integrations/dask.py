"""cbce over ``dask.array``: the losses and their gradients chunk by chunk, lazily.

Every function takes the arguments of its ``cbce`` namesake (``input``/``target`` may be
dask arrays, NumPy arrays or array-likes; ``weight``/``pos_weight``/``grad_output`` may be
dask arrays too) and returns a lazy dask array: of the input's shape and chunks for
``reduction="none"`` and for the gradients, 0-d for a reduced loss.  Nothing is computed
until ``.compute()`` (or ``dask.compute``, or a ``distributed`` client), so the same code
runs on a laptop's threads and on a cluster's worker processes.

Design notes
------------
(a) Alignment.  ``target`` is rechunked to the input's chunks; ``weight``, ``pos_weight``
    and ``grad_output`` (NumPy broadcasting to the input's shape) to the input's chunks
    along the dimensions they span, one chunk along their broadcast (size-1) dimensions.
    Each block then calls the C core on NumPy blocks; a block never copies what the core
    can read as it is.
(b) Reduced losses, summed exactly.  Each block gives its loss sum as a float64 partial:
    the block is computed in float64 (a float32/float16 block is converted, exactly), with
    reduction ``"sum"`` (cbce's own double-double block sum, rounded once).  The partials
    are added exactly (as ``fractions.Fraction``), divided exactly by the element count
    (``"mean"``) or the exactly added weight sums (``"weighted_mean"``), and rounded once to
    float64, then to the input's dtype (as the core stores its result).  Consequences,
    measured in tests/test_integrations_dask.py: float32/float16 results equal the NumPy
    result of ``cbce`` on the whole array for the families whose float32 kernels round a
    result good to ~2^-37 (BCE with logits rounds one good to ~2^-28: within 1 ulp of it);
    float64 results differ from it by at most one rounding per chunk, in practice <= 1 ulp;
    and the result does not depend on how the partials are scheduled.
(c) Gradients, bitwise the NumPy result for every reduction, weight and dtype.  Each block
    calls the core's backward with the same arguments; for ``"mean"`` and
    ``"weighted_mean"`` it also passes the whole array's denominator (the element count, or
    the weights' sum added exactly here and handed over as a double-double), which the core
    then uses in place of the block's own (``cbce_args_t.mean_denominator``): each element's
    multiplier ``weight * grad_output / denominator``, and with it its one rounding, is the
    one the call on the whole array forms.  This holds while the core's own double-double
    weight sum is exact (weights spanning fewer than ~50 binades, sum below 2^996); a float64
    weight sum above the double range raises a ValueError when the block is computed.
    tests/test_integrations_dask.py checks it on a 2-process cluster for every family, on
    gradients searched for near a rounding midpoint.
(d) Errors.  Dtypes, shapes, the reduction, label_smoothing and gamma are checked when the
    graph is built; values (e.g. probabilities outside [0, 1]) when a block is computed:
    the index in that message is then within the block.
(e) ``num_threads`` is passed to each block's core call; with several worker threads per
    process, 1 avoids oversubscription.

Example
-------
>>> import numpy as np, dask.array as da, cbce
>>> from cbce.integrations import dask as cdask
>>> x = da.from_array(np.linspace(-4, 4, 1000), chunks=250)
>>> y = (x > 0.5).astype(np.float64)
>>> loss = cdask.binary_cross_entropy_with_logits(x, y, label_smoothing=0.1)
>>> loss  # doctest: +ELLIPSIS
dask.array<..., shape=(), dtype=float64, chunksize=(), chunktype=numpy.ndarray>
>>> float(loss.compute()) == float(cbce.binary_cross_entropy_with_logits(
...     x.compute(), y.compute(), label_smoothing=0.1))
True
"""
from __future__ import annotations

import inspect
import math
from fractions import Fraction
from typing import Any

import dask
import dask.array as da
import numpy as np

import cbce
from cbce import _core
from cbce._registry import FAMILIES


_REDUCTIONS = ("none", "sum", "mean", "weighted_mean")


# ---- building the graph -----------------------------------------------------------------

def _input(input):
    x = da.asarray(input)
    if x.dtype.kind != "f" or x.dtype.itemsize not in (2, 4, 8):
        raise TypeError(f"input must be float16, float32 or float64, got dtype {x.dtype}")
    return x


def _align(a, x, name):
    """``a`` (broadcastable to x's shape) as a dask array chunked to match ``x``."""
    if a is None:
        return None
    a = da.asarray(a)
    try:
        shape = np.broadcast_shapes(a.shape, x.shape)
    except ValueError:
        shape = None
    if shape != x.shape:
        raise ValueError(f"{name} of shape {a.shape} does not broadcast to the input's "
                         f"shape {x.shape}")
    off = x.ndim - a.ndim
    return a.rechunk(tuple((1,) if a.shape[i] == 1 else x.chunks[off + i]
                           for i in range(a.ndim)))


def _target(target, x):
    t = da.asarray(target)
    if t.shape != x.shape:
        raise ValueError(f"target of shape {t.shape} must have the input's shape {x.shape}")
    return t.rechunk(x.chunks)


def _check(name, reduction, allowed=_REDUCTIONS, **params):
    """The reduction, then the loss's parameters, checked by cbce's own function `name` on
    an empty input (the core's checks and messages), before any block is built."""
    if reduction not in allowed:
        raise ValueError(f"reduction must be one of {', '.join(map(repr, allowed))}; got "
                         f"{reduction!r}")
    getattr(cbce, name)(np.zeros(0), np.zeros(0), **params)


def _operands(x, target, weight, pos_weight):
    """The dask arrays handed to each block, and which optional ones are there."""
    arrays = [x, _target(target, x)]
    present = []
    for name, a in (("weight", weight), ("pos_weight", pos_weight)):
        if a is not None:
            arrays.append(_align(a, x, name))
            present.append(name)
    return arrays, tuple(present)


def _unpack(blocks, present):
    x, t = blocks[0], blocks[1]
    return x, t, dict(zip(present, blocks[2:]))


# ---- block functions (run on the workers) -----------------------------------------------

def _block_loss(*blocks, fn, present, kw):
    x, t, opt = _unpack(blocks, present)
    return getattr(cbce, fn)(x, t, reduction="none", **opt, **kw)


def _compute_dtype(dtype):
    """The dtype the core computes a ``dtype`` input in (float16 in float32)."""
    return np.dtype(np.float64 if np.dtype(dtype) == np.float64 else np.float32)


def _as_float64(x, opt):
    """Upcast a block for a float64 computation, converting weight/pos_weight to the
    input's compute dtype first, as the core does for the input's own dtype."""
    cd = _compute_dtype(x.dtype)
    opt = {k: (np.asarray(v, dtype=cd).astype(np.float64) if k in ("weight", "pos_weight")
               else v) for k, v in opt.items()}
    return x.astype(np.float64), opt


def _block_partial(*blocks, fn, present, kw):
    """Loss sum of the block as a float64, shaped (1, ..., 1) for the partials array."""
    x, t, opt = _unpack(blocks, present)
    if x.dtype != np.float64:
        x, opt = _as_float64(x, opt)
    s = getattr(cbce, fn)(x, t, reduction="sum", **opt, **kw)
    return np.full((1,) * x.ndim, s, dtype=np.float64)


def _block_weight_sum(w, *, input_dtype):
    """The exact sum of a block of the (unbroadcast) weights (see _exact_sum), in an object
    array shaped (1, ..., 1)."""
    w = np.asarray(w, dtype=_compute_dtype(input_dtype)).astype(np.float64)
    out = np.empty((1,) * w.ndim, dtype=object)
    out.reshape(-1)[0] = _exact_sum(w)
    return out


_BWD = dict(_core._SUFFIX_OPS)["_backward"]


def _block_grad(*blocks, family, present, reduction, grad_output, mean_denominator,
                num_threads, params):
    """The core's backward of the block.  A reduced "mean"/"weighted_mean" passes the whole
    array's denominator (see (c)); a zero one (weights summing to 0) gives the core's
    grad_output / 0 as a "sum" with that multiplier (the same bits: the core scales nothing
    then)."""
    x, t, opt = _unpack(blocks, present)
    go = opt.pop("grad_output", grad_output)
    if "den_hi" in opt:
        mean_denominator = (float(opt.pop("den_hi")), float(opt.pop("den_lo")))
    if mean_denominator is not None and mean_denominator[0] == 0.0:
        with np.errstate(divide="ignore", invalid="ignore"):
            go = np.float64(np.asarray(go, dtype=np.float64)) / np.float64(0.0)
        reduction, mean_denominator = "sum", None
    return _core._loss(family, _BWD, x, t, opt.get("weight"), opt.get("pos_weight"),
                       reduction, go, num_threads, None, params, mean_denominator)


# ---- combining the partials (exact) ------------------------------------------------------

def _exact_sum(values):
    """The exact sum of floats or Fractions (a Fraction), or their float sum (inf or nan)
    if one is not finite: no exactness to keep."""
    v = np.asarray(values, dtype=object).ravel().tolist()
    if not all(isinstance(f, Fraction) or math.isfinite(f) for f in v):
        with np.errstate(invalid="ignore"):
            return float(np.sum(np.array([float(f) for f in v], dtype=np.float64)))
    return sum((Fraction(f) for f in v), Fraction(0))


def _dd_pair(total):
    """A denominator (a Fraction, or a float) as the core's double-double (hi, lo), both
    rounded to nearest."""
    if isinstance(total, float):
        return total, 0.0
    try:
        hi = float(total)
    except OverflowError:
        raise ValueError("cbce.integrations.dask: the sum of the weights overflows float64; "
                         "a 'weighted_mean' gradient needs it as a double-double (compute "
                         "this gradient with cbce on the whole array)") from None
    return hi, float(total - Fraction(hi))


def _finish(partials, weight_total, n, reduction, dtype):
    s = _exact_sum(partials)
    if reduction == "sum":
        r = float(s)
    elif reduction == "mean":
        r = float(s / n) if n else math.nan
    else:
        w = weight_total
        if isinstance(s, float) or isinstance(w, float) or w == 0:
            with np.errstate(divide="ignore", invalid="ignore"):
                r = float(np.float64(float(s)) / np.float64(float(w)))
        else:
            r = float(s / w)
    # the core rounds its double result to the input's dtype (float16 via float32)
    if dtype == np.float64:
        return np.asarray(r, dtype=np.float64)
    return np.asarray(np.float32(r), dtype=dtype)


def _weight_total(x, w):
    """The sum of the weights broadcast to ``x``, lazily (a delayed Fraction, or a float
    if a weight is not finite).  Broadcasting repeats each weight ``x.size // w.size``
    times, so it is the exact sum of the weight array's own block partials times that
    count: the weights are read once, never broadcast."""
    partials = w.map_blocks(_block_weight_sum, dtype=object, chunks=(1,) * w.ndim,
                            input_dtype=x.dtype)
    repeat = x.size // w.size if w.size else 0
    return dask.delayed(_exact_weight_total, pure=True)(partials, repeat)


def _exact_weight_total(partials, repeat):
    return _exact_sum(partials) * repeat


def _loss(fn, input, target, weight, pos_weight, reduction, kw):
    x = _input(input)
    arrays, present = _operands(x, target, weight, pos_weight)
    if reduction == "none":
        return da.map_blocks(_block_loss, *arrays, fn=fn, present=present, kw=kw,
                             dtype=x.dtype)
    partials = da.map_blocks(_block_partial, *arrays, fn=fn, present=present, kw=kw,
                             chunks=(1,) * x.ndim, dtype=np.float64)
    wp = None
    if reduction == "weighted_mean":
        if weight is None:
            reduction = "mean"   # all weights 1: the weight sum is the element count
        else:
            wp = _weight_total(x, arrays[2])
    total = dask.delayed(_finish, pure=True)(partials, wp, x.size, reduction, x.dtype)
    return da.from_delayed(total, shape=(), dtype=x.dtype)


def _is_scalar(v):
    return not isinstance(v, da.Array) and np.ndim(v) == 0


def _backward(family, input, target, weight, pos_weight, reduction, grad_output,
              num_threads, params):
    x = _input(input)
    arrays, present = _operands(x, target, weight, pos_weight)
    go = float(grad_output) if _is_scalar(grad_output) else grad_output
    den = None
    if not isinstance(go, float):
        if reduction == "none":
            go = _align(go, x, "grad_output")
        else:
            go = da.asarray(go)
            if go.size != 1:
                raise ValueError(f"grad_output must be a scalar for reduction={reduction!r}")
            go = go.reshape(())
        arrays.append(go)
        present = present + ("grad_output",)
        go = 1.0
    if reduction in ("mean", "weighted_mean"):
        if reduction == "weighted_mean" and weight is not None:
            pair = dask.delayed(_dd_pair, pure=True)(_weight_total(x, arrays[2]))
            arrays += [da.from_delayed(pair[k], shape=(), dtype=np.float64) for k in (0, 1)]
            present = present + ("den_hi", "den_lo")
        else:
            den = _dd_pair(Fraction(x.size))
    return da.map_blocks(_block_grad, *arrays, family=family, present=present,
                         reduction=reduction, grad_output=go, mean_denominator=den,
                         num_threads=num_threads, params=params, dtype=x.dtype)


# ---- the public functions: for every family of the registry, the loss and its gradient ----

def _public(fam: dict, backward: bool) -> Any:
    """``cbce.<name>`` (or its ``_backward``) over dask arrays, with cbce's signature but
    ``out``: settings checked when the graph is built, by the core (see (d))."""
    name = fam["python"] + ("_backward" if backward else "")
    sig = inspect.signature(getattr(cbce, name))
    sig = sig.replace(parameters=[p for p in sig.parameters.values() if p.name != "out"])
    settings = [n for n, _ in fam["params"]]

    def f(*args: Any, **kwargs: Any) -> da.Array:
        bound = sig.bind(*args, **kwargs)
        bound.apply_defaults()
        a = bound.arguments
        given = {n: a[n] for n in settings}
        _check(fam["python"], a["reduction"], **given)
        if backward:
            return _backward(fam["name"], a["input"], a["target"], a["weight"],
                             a.get("pos_weight"), a["reduction"], a["grad_output"],
                             a["num_threads"], given)
        return _loss(name, a["input"], a["target"], a["weight"], a.get("pos_weight"),
                     a["reduction"], dict(given, num_threads=a["num_threads"]))

    f.__name__ = f.__qualname__ = name
    f.__signature__ = sig  # type: ignore[attr-defined]
    f.__doc__ = (f":func:`cbce.{name}` over dask arrays, lazily"
                 + (": a dask array of the input's shape and chunks." if backward else
                    " (see the module's notes for how a reduced loss is summed exactly)."))
    return f


__all__ = []
for _fam in FAMILIES:
    for _backward_op in (False, True):
        _f = _public(_fam, _backward_op)
        globals()[_f.__name__] = _f
        __all__.append(_f.__name__)


def __getattr__(name: str) -> Any:
    """Only names not made above reach this: the registry's functions are module globals,
    which type checkers cannot see (they type them as Any through this function)."""
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
