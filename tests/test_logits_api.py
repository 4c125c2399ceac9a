"""API behaviour of the BCE-with-logits functions (docs/contract.md): dtypes, layouts, out=, errors,
non-finite values, reductions, determinism, threads.

References are cbce itself on a canonical input (a contiguous copy in the input's dtype),
compared bitwise, or plain NumPy float64 formulas.
"""
import array
import concurrent.futures
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cbce
from reference import stable_grad_f64, stable_hess_f64, stable_loss_f64

F = cbce.binary_cross_entropy_with_logits
B = cbce.binary_cross_entropy_with_logits_backward
FB = cbce.binary_cross_entropy_with_logits_forward_backward
GH = cbce.binary_cross_entropy_with_logits_grad_hess

REDUCTIONS = ["none", "sum", "mean", "weighted_mean"]
FUNCS = {"forward": F, "backward": B, "forward_backward": FB, "grad_hess": GH}


def _call(name, *args, **kw):
    if name == "grad_hess":
        kw.pop("reduction", None)
    return FUNCS[name](*args, **kw)


def _as_tuple(r):
    return r if isinstance(r, tuple) else (r,)


def _bitwise_equal(a, b):
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    return a.tobytes() == b.tobytes() or np.array_equal(a, b, equal_nan=True) and np.array_equal(
        np.signbit(a), np.signbit(b))


def _assert_same(got, want, what):
    got, want = _as_tuple(got), _as_tuple(want)
    assert len(got) == len(want), f"{what}: {len(got)} results, expected {len(want)}"
    for k, (g, w) in enumerate(zip(got, want)):
        g, w = np.asarray(g), np.asarray(w)
        assert g.dtype == w.dtype, f"{what} [result {k}]: dtype {g.dtype}, expected {w.dtype}"
        assert g.shape == w.shape, f"{what} [result {k}]: shape {g.shape}, expected {w.shape}"
        if not _bitwise_equal(g, w):
            diff = np.nonzero(~((g == w) | (np.isnan(g) & np.isnan(w))))
            i = tuple(d[0] for d in diff) if diff[0].size else ()
            raise AssertionError(f"{what} [result {k}]: differs from the reference, e.g. at "
                                 f"{i}: {g[i]!r} vs {w[i]!r}")


def _contig(a):
    """A C-contiguous copy that keeps 0-d arrays 0-d (np.ascontiguousarray makes them 1-d)."""
    return np.array(a, order="C", copy=True)


def _data(rng, shape=(40, 7), dtype=np.float64, scale=3.0):
    x = rng.normal(0, scale, shape).astype(dtype)
    y = rng.uniform(0, 1, shape)
    y = np.where(rng.uniform(0, 1, shape) < 0.5, np.round(y), y).astype(dtype)
    return x, y


# ---------------------------------------------------------------------------------------
# module-level things


def test_version_include_config(capsys):
    version = cbce.__version__
    assert isinstance(version, str) and re.fullmatch(r"\d+\.\d+\.\d+.*", version), (
        f"__version__ = {cbce.__version__!r}")
    inc = cbce.get_include()
    assert os.path.isfile(os.path.join(inc, "cbce.h")), f"cbce.h not found in get_include() = {inc}"
    cbce.show_config()
    out = capsys.readouterr().out
    assert out.strip(), "show_config() printed nothing"


# ---------------------------------------------------------------------------------------
# dtypes


@pytest.mark.parametrize("name,reduction", [(n, r) for n in FUNCS for r in REDUCTIONS
                                             if n != "grad_hess" or r == "none"])
def test_float16_input_computed_in_float32(name, reduction, rng):
    x, y = _data(rng, (30, 4), np.float16)
    w = rng.uniform(0.5, 2, (4,)).astype(np.float16)
    got = _as_tuple(_call(name, x, y, w, reduction=reduction))
    ref = _as_tuple(_call(name, x.astype(np.float32), y.astype(np.float32), w.astype(np.float32),
                          reduction=reduction))
    for k, (g, r) in enumerate(zip(got, ref)):
        what = f"{name} reduction={reduction} [result {k}]"
        assert np.asarray(g).dtype == np.float16, (
            f"{what}: dtype {np.asarray(g).dtype}, expected float16")
        if np.ndim(r) == 0 and reduction != "none" and (name == "forward" or k == 0):
            assert isinstance(g, np.generic), f"{what}: reduced result should be a NumPy scalar"
        # float32 result rounded to float16; allow 1 float16 ulp for a direct (more accurate)
        # rounding of the internal value
        r16 = np.asarray(r).astype(np.float16)
        g = np.asarray(g)
        ok = (g == r16) | (g == np.nextafter(r16, np.float16(np.inf))) | (
            g == np.nextafter(r16, np.float16(-np.inf)))
        assert ok.all(), f"{what}: float16 result differs from the float32 computation rounded"


TARGET_DTYPES = [np.bool_, np.uint8, np.int8, np.int16, np.int32, np.int64, np.uint16,
                 np.float16, np.float32, np.float64]


@pytest.mark.parametrize("tdtype", TARGET_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", list(FUNCS))
def test_target_dtypes(tdtype, name, float_dtype, rng):
    x, _ = _data(rng, (25, 3), float_dtype)
    if np.dtype(tdtype).kind in "biu":
        t = rng.integers(0, 2, (25, 3)).astype(tdtype)
    else:
        # soft labels exact in float16, so converting them to the input's dtype is exact
        # (a float64 target is read at full precision, not rounded to a float32 input's dtype)
        t = rng.uniform(0, 1, (25, 3)).astype(np.float16).astype(tdtype)
    pw = np.array([0.5, 1, 3], dtype=float_dtype)
    for red in ("none", "mean"):
        got = _call(name, x, t, pos_weight=pw, reduction=red)
        want = _call(name, x, t.astype(float_dtype), pos_weight=pw, reduction=red)
        _assert_same(got, want,
                     f"{name} input {float_dtype} target {np.dtype(tdtype)} reduction={red}")


@pytest.mark.parametrize("wdtype", [np.float16, np.float32, np.float64, np.int32])
def test_weight_pos_weight_converted_to_input_dtype(wdtype, float_dtype, rng):
    x, y = _data(rng, (20, 3), float_dtype)
    w = rng.uniform(0.5, 4, (20, 1)).astype(wdtype)
    pw = rng.uniform(0.5, 4, (3,)).astype(wdtype)
    for red in REDUCTIONS:
        got = FB(x, y, w, pos_weight=pw, reduction=red)
        want = FB(x, y, w.astype(float_dtype), pos_weight=pw.astype(float_dtype), reduction=red)
        _assert_same(got, want,
                     f"weight/pos_weight {np.dtype(wdtype)} with {float_dtype} input, {red}")
    # python scalars and lists as weight / pos_weight
    got = F(x, y, 2.0, pos_weight=[1.0, 2.0, 0.5], reduction="none")
    want = F(x, y, np.full((20, 3), 2, float_dtype),
             pos_weight=np.array([1.0, 2.0, 0.5], float_dtype), reduction="none")
    _assert_same(got, want, "scalar weight and list pos_weight")


@pytest.mark.parametrize("bad", [np.int32, np.int64, np.uint8, np.bool_, np.complex64,
                                 np.complex128], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", list(FUNCS))
def test_bad_input_dtype_raises_type_error(bad, name):
    x = np.zeros((4, 2), dtype=bad)
    y = np.zeros((4, 2))
    with pytest.raises(TypeError):
        _call(name, x, y)


def test_integer_list_input_raises_type_error():
    with pytest.raises(TypeError):
        F([1, 2, 3], [0, 1, 0])


@pytest.mark.parametrize("name", list(FUNCS))
def test_complex_or_object_target_rejected(name):
    x = np.zeros(4)
    with pytest.raises((TypeError, ValueError)):
        _call(name, x, np.zeros(4, dtype=np.complex128))
    with pytest.raises((TypeError, ValueError)):
        _call(name, x, np.array(["a", "b", "c", "d"]))


@pytest.mark.parametrize("order", [">", "<"])
def test_byte_order_works_or_raises_type_error(order, rng):
    x, y = _data(rng, (10, 3))
    xs = x.astype(order + "f8")
    ys = y.astype(order + "f8")
    try:
        got = F(xs, ys, reduction="none")
    except TypeError:
        return
    _assert_same(got, F(x, y, reduction="none"), f"byte order {order}")


# ---------------------------------------------------------------------------------------
# argument errors


@pytest.mark.parametrize("name", list(FUNCS))
@pytest.mark.parametrize("tshape", [(3, 5), (5,), (1, 3), (5, 3, 1), ()])
def test_shape_mismatch_names_both_shapes(name, tshape):
    x = np.zeros((5, 3))
    y = np.zeros(tshape)
    with pytest.raises(ValueError) as ei:
        _call(name, x, y)
    msg = str(ei.value)
    assert "(5, 3)" in msg and str(tshape) in msg, (
        f"{name}: message should name input shape (5, 3) and target shape {tshape}: {msg!r}")


@pytest.mark.parametrize("name", list(FUNCS))
@pytest.mark.parametrize("arg", ["weight", "pos_weight"])
@pytest.mark.parametrize("wshape", [(5,), (3, 3), (2, 5, 3), (4, 1)])
def test_non_broadcastable_weight_raises(name, arg, wshape):
    x = np.zeros((5, 3))
    y = np.zeros((5, 3))
    with pytest.raises(ValueError):
        _call(name, x, y, **{arg: np.ones(wshape)})


@pytest.mark.parametrize("name", ["forward", "backward", "forward_backward"])
@pytest.mark.parametrize("red", ["avg", "Mean", "", "elementwise_mean", "batchmean"])
def test_bad_reduction_lists_the_four(name, red):
    x = np.zeros(3)
    with pytest.raises(ValueError) as ei:
        _call(name, x, x, reduction=red)
    msg = str(ei.value)
    for r in REDUCTIONS:
        assert repr(r) in msg or f'"{r}"' in msg or r in msg, (
            f"{name}: reduction={red!r}: message should list {r!r}: {msg!r}")


@pytest.mark.parametrize("name", list(FUNCS))
@pytest.mark.parametrize("eps", [-0.1, 1.1, -1e-300, float("nan"), float("inf")])
def test_label_smoothing_out_of_range(name, eps):
    x = np.zeros(3)
    with pytest.raises(ValueError):
        _call(name, x, x, label_smoothing=eps)


@pytest.mark.parametrize("eps", [0.0, 1.0])
def test_label_smoothing_bounds_accepted(eps, rng):
    x, y = _data(rng, (10,))
    got = F(x, y, reduction="none", label_smoothing=eps)
    want = F(x, y * (1 - eps) + eps / 2, reduction="none")
    assert np.allclose(got, want, rtol=1e-15, atol=0), f"label_smoothing={eps}"


def test_num_threads_argument_errors():
    x = np.zeros(10)
    for bad in (0, -1):
        with pytest.raises(ValueError):
            F(x, x, num_threads=bad)
        with pytest.raises(ValueError):
            cbce.set_num_threads(bad)
    with pytest.raises((TypeError, ValueError)):
        F(x, x, num_threads=1.5)


# ---------------------------------------------------------------------------------------
# layouts


def _layouts(rng, dtype):
    """(name, x, y) views whose contiguous copies are the reference."""
    base_x = rng.normal(0, 3, (24, 18)).astype(dtype)
    base_y = rng.uniform(0, 1, (24, 18)).astype(dtype)
    ro_x = base_x.copy()
    ro_x.flags.writeable = False
    ro_y = base_y.copy()
    ro_y.flags.writeable = False
    return [
        ("C", base_x, base_y),
        ("Fortran", np.asfortranarray(base_x), np.asfortranarray(base_y)),
        ("mixed C/F", base_x, np.asfortranarray(base_y)),
        ("strided", base_x[::2, ::3], base_y[1::2, ::3]),
        ("negative strides", base_x[::-1, ::-2], base_y[::-1, ::-2]),
        ("transposed", base_x.T, base_y.T),
        ("read-only", ro_x, ro_y),
        ("0-d", base_x[3, 4][()], base_y[3, 4][()]),
        ("column", base_x[:, 5], base_y[:, 7]),
        ("broadcast view target", base_x[:6], np.broadcast_to(base_y[0], (6, 18))),
    ]


@pytest.mark.parametrize("name", list(FUNCS))
def test_layouts_same_as_contiguous_copy(name, float_dtype, rng):
    for lname, x, y in _layouts(rng, float_dtype):
        xa, ya = np.asarray(x), np.asarray(y)
        shape = xa.shape
        w = rng.uniform(0.5, 2, shape[-1:]).astype(float_dtype)
        w_nc = np.repeat(w, 2)[::2] if w.ndim else w      # a strided weight
        pw = rng.uniform(0.5, 3, shape[-1:]).astype(float_dtype)
        pw = pw[::-1] if pw.ndim else pw                   # a negative-stride pos_weight
        for red in REDUCTIONS:
            got = _call(name, x, y, w_nc, pos_weight=pw, reduction=red, label_smoothing=0.1)
            want = _call(name, _contig(xa), _contig(ya),
                         _contig(w), pos_weight=_contig(pw),
                         reduction=red, label_smoothing=0.1)
            _assert_same(got, want, f"{name} {float_dtype} layout={lname} reduction={red}")
            if name == "grad_hess":
                break


@pytest.mark.parametrize("name", list(FUNCS))
def test_buffer_protocol_and_lists(name, rng):
    x, y = _data(rng, (12,))
    x32 = x.astype(np.float32)
    cases = [
        ("array.array d", array.array("d", x), array.array("d", y), x, y),
        ("array.array f", array.array("f", x32), array.array("f", y.astype(np.float32)),
         x32, y.astype(np.float32)),
        ("memoryview", memoryview(x), memoryview(y), x, y),
        ("memoryview of bytes target", x, memoryview(np.round(y).astype(np.uint8)), x,
         np.round(y).astype(np.uint8)),
        ("list", x.tolist(), y.tolist(), x, y),
        ("nested list", x.reshape(3, 4).tolist(), y.reshape(3, 4).tolist(),
         x.reshape(3, 4), y.reshape(3, 4)),
        ("python scalars", float(x[0]), float(y[0]), x[0:1].reshape(()), y[0:1].reshape(())),
    ]
    for lname, xi, yi, xr, yr in cases:
        for red in ("none", "sum"):
            got = _call(name, xi, yi, reduction=red)
            want = _call(name, _contig(xr), _contig(yr), reduction=red)
            _assert_same(got, want, f"{name} {lname} reduction={red}")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shape=st.lists(st.integers(1, 6), min_size=1, max_size=3),
       steps=st.lists(st.sampled_from([1, 2, -1, -2]), min_size=3, max_size=3),
       order=st.sampled_from("CF"), dtype=st.sampled_from([np.float32, np.float64]),
       reduction=st.sampled_from(REDUCTIONS), seed=st.integers(0, 2**32 - 1))
def test_layouts_hypothesis(shape, steps, order, dtype, reduction, seed):
    rng = np.random.default_rng(seed)
    big = [2 * s for s in shape]
    xb = np.asarray(rng.normal(0, 4, big).astype(dtype), order=order)
    yb = np.asarray(rng.uniform(0, 1, big).astype(dtype), order=order)
    sl = tuple(slice(None, None, steps[i]) for i in range(len(shape)))
    x, y = xb[sl], yb[sl]
    for name in FUNCS:
        if name == "grad_hess" and reduction != "none":
            continue
        got = _call(name, x, y, reduction=reduction)
        want = _call(name, x.copy(), y.copy(), reduction=reduction)
        _assert_same(got, want, f"{name} shape={x.shape} strides={x.strides} {reduction}")


# ---------------------------------------------------------------------------------------
# out=


def test_out_forward_and_backward(float_dtype, rng):
    dt = float_dtype
    x, y = _data(rng, (9, 4), dt)
    ref_l = F(x, y, reduction="none")
    ref_g = B(x, y, reduction="mean")
    out = np.empty((9, 4), dt)
    r = F(x, y, reduction="none", out=out)
    assert r is out, "forward(out=...) must return out"
    _assert_same(out, ref_l, "forward out")
    out = np.empty((9, 4), dt)
    r = B(x, y, reduction="mean", out=out)
    assert r is out, "backward(out=...) must return out"
    _assert_same(out, ref_g, "backward out")
    # Fortran-ordered and strided out
    outF = np.empty((9, 4), dt, order="F")
    assert B(x, y, reduction="mean", out=outF) is outF
    _assert_same(outF, ref_g, "backward Fortran out")
    buf = np.full((18, 12), -7.0, dt)
    view = buf[::2, ::3]
    r = F(x, y, reduction="none", out=view)
    assert r is view, "strided out must be returned as is"
    _assert_same(view, ref_l, "forward strided out")
    untouched = np.ones(buf.shape, bool)
    untouched[::2, ::3] = False
    assert (buf[untouched] == -7.0).all(), "writing a strided out touched other elements"
    # negative-stride out
    buf = np.zeros((9, 4), dt)
    r = B(x, y, reduction="mean", out=buf[::-1])
    _assert_same(buf[::-1], ref_g, "backward negative-stride out")


def test_out_in_place_gradient(float_dtype, rng):
    dt = float_dtype
    x, y = _data(rng, (50, 3), dt)
    pw = np.array([1, 2, 0.5], dt)
    for red in ("none", "sum", "mean", "weighted_mean"):
        want = B(x, y, pos_weight=pw, reduction=red)
        xx = x.copy()
        r = B(xx, y, pos_weight=pw, reduction=red, out=xx)
        assert r is xx, f"in-place backward ({red}) must return out"
        _assert_same(xx, want, f"in-place backward out=input, reduction={red}")
        # also fused and grad_hess, with the gradient written over the input
        xx = x.copy()
        loss, g = FB(xx, y, pos_weight=pw, reduction=red, out=(None if red != "none" else None, xx))
        assert g is xx
        _assert_same((loss, g), FB(x, y, pos_weight=pw, reduction=red),
                     f"in-place forward_backward ({red})")
    xx = x.copy()
    g, h = GH(xx, y, pos_weight=pw, out=(xx, None))
    assert g is xx
    _assert_same((g, h), GH(x, y, pos_weight=pw), "in-place grad_hess grad")
    # in-place forward (loss written over the logits)
    xx = x.copy()
    r = F(xx, y, pos_weight=pw, reduction="none", out=xx)
    assert r is xx
    _assert_same(xx, F(x, y, pos_weight=pw, reduction="none"), "in-place forward")


def test_out_pairs(float_dtype, rng):
    dt = float_dtype
    x, y = _data(rng, (6, 5), dt)
    o1, o2 = np.empty((6, 5), dt), np.empty((6, 5), dt)
    r = FB(x, y, reduction="none", out=(o1, o2))
    assert r[0] is o1 and r[1] is o2, "forward_backward must return the out pair"
    _assert_same(r, FB(x, y, reduction="none"), "forward_backward out pair")
    o1, o2 = np.empty((6, 5), dt), np.empty((6, 5), dt)
    r = GH(x, y, out=(o1, o2))
    assert r[0] is o1 and r[1] is o2, "grad_hess must return the out pair"
    _assert_same(r, GH(x, y), "grad_hess out pair")
    # reduced loss with an out for the gradient only
    o2 = np.empty((6, 5), dt)
    loss, g = FB(x, y, reduction="mean", out=(None, o2))
    assert g is o2
    _assert_same((loss, g), FB(x, y, reduction="mean"), "forward_backward mean, out=(None, g)")
    with pytest.raises((TypeError, ValueError)):
        GH(x, y, out=np.empty((6, 5), dt))        # not a pair


@pytest.mark.parametrize("name", ["forward", "backward"])
def test_out_errors(name, rng):
    x, y = _data(rng, (6, 5))
    kw = {"reduction": "none"} if name == "forward" else {"reduction": "mean"}
    with pytest.raises(ValueError):
        _call(name, x, y, out=np.empty((5, 6)), **kw)
    with pytest.raises(ValueError):
        _call(name, x, y, out=np.empty((30,)), **kw)
    with pytest.raises(TypeError):
        _call(name, x, y, out=np.empty((6, 5), np.float32), **kw)
    with pytest.raises(TypeError):
        _call(name, x, y, out=np.empty((6, 5), np.int64), **kw)
    ro = np.empty((6, 5))
    ro.flags.writeable = False
    with pytest.raises((ValueError, TypeError)):
        _call(name, x, y, out=ro, **kw)
    with pytest.raises((TypeError, ValueError)):
        _call(name, x, y, out=[0.0] * 30, **kw)
    # float16 input: out must be float16
    with pytest.raises(TypeError):
        _call(name, x.astype(np.float16), y, out=np.empty((6, 5), np.float32), **kw)


def test_out_errors_pairs(rng):
    x, y = _data(rng, (6, 5))
    good = np.empty((6, 5))
    with pytest.raises(ValueError):
        GH(x, y, out=(good, np.empty((5, 6))))
    with pytest.raises(TypeError):
        GH(x, y, out=(np.empty((6, 5), np.float32), good))
    with pytest.raises(ValueError):
        FB(x, y, reduction="none", out=(np.empty(3), good))


# ---------------------------------------------------------------------------------------
# grad_output


def test_grad_output_scalar_and_array(float_dtype, rng):
    dt = float_dtype
    x, y = _data(rng, (8, 3), dt)
    g1 = B(x, y, reduction="none").astype(np.float64)
    for go in (0.5, 2.0, dt.type(3.0), np.array(4.0, dt)):
        g = B(x, y, reduction="none", grad_output=go)
        assert np.allclose(g, g1 * float(go), rtol=4 * np.finfo(dt).eps, atol=0), f"none, go={go!r}"
    for shape in ((8, 3), (3,), (8, 1), (1, 3)):
        go = rng.normal(0, 1, shape).astype(dt)
        g = B(x, y, reduction="none", grad_output=go)
        assert g.shape == (8, 3) and g.dtype == dt
        want = g1 * np.broadcast_to(go.astype(np.float64), (8, 3))
        assert np.allclose(g, want, rtol=4 * np.finfo(dt).eps, atol=0), (
            f"reduction='none' grad_output of shape {shape}")
    with pytest.raises(ValueError):
        B(x, y, reduction="none", grad_output=np.ones((2, 3), dt))
    for red in ("sum", "mean", "weighted_mean"):
        gbase = B(x, y, reduction=red).astype(np.float64)
        g = B(x, y, reduction=red, grad_output=-2.5)
        assert np.allclose(g, -2.5 * gbase, rtol=4 * np.finfo(dt).eps, atol=0), f"{red} go=-2.5"
        with pytest.raises(ValueError):
            B(x, y, reduction=red, grad_output=np.ones((8, 3), dt))


# ---------------------------------------------------------------------------------------
# empty inputs, NaN, infinities


@pytest.mark.parametrize("shape", [(0,), (0, 3), (4, 0)])
def test_empty(shape, float_dtype):
    dt = float_dtype
    x = np.zeros(shape, dt)
    m = F(x, x, reduction="mean")
    assert isinstance(m, np.generic) and m.dtype == dt and np.isnan(m), f"mean of empty: {m!r}"
    s = F(x, x, reduction="sum")
    assert isinstance(s, np.generic) and s.dtype == dt and s == 0, f"sum of empty: {s!r}"
    wm = F(x, x, reduction="weighted_mean")
    assert np.isnan(wm), f"weighted_mean of empty: {wm!r}"
    n = F(x, x, reduction="none")
    assert n.shape == shape and n.dtype == dt
    for red in REDUCTIONS:
        g = B(x, x, reduction=red)
        assert g.shape == shape and g.dtype == dt, f"backward of empty, {red}"
        loss, g = FB(x, x, reduction=red)
        assert g.shape == shape
        if red in ("mean", "weighted_mean"):
            assert np.isnan(loss), f"forward_backward {red} of empty: {loss!r}"
        elif red == "sum":
            assert loss == 0
    g, h = GH(x, x)
    assert g.shape == shape and h.shape == shape


@pytest.mark.parametrize("where", ["input", "target", "weight", "pos_weight"])
def test_nan_propagation(where, float_dtype, rng):
    dt = float_dtype
    x, y = _data(rng, (6, 4), dt)
    w = rng.uniform(0.5, 2, (6, 4)).astype(dt)
    pw = np.array([0.5, 1, 2, 3], dt)
    touched = np.zeros((6, 4), bool)
    if where == "input":
        x[2, 1] = np.nan
        touched[2, 1] = True
    elif where == "target":
        y[4, 3] = np.nan
        touched[4, 3] = True
    elif where == "weight":
        w[0, 0] = np.nan
        touched[0, 0] = True
    else:
        pw[2] = np.nan
        touched[:, 2] = True
    what = f"{dt.name} NaN in {where}"
    loss = F(x, y, w, pos_weight=pw, reduction="none")
    grad = B(x, y, w, pos_weight=pw, reduction="none")
    fl, fg = FB(x, y, w, pos_weight=pw, reduction="none")
    gg, hh = GH(x, y, w, pos_weight=pw)
    for name, arr in (("loss", loss), ("grad", grad), ("fb loss", fl), ("fb grad", fg),
                      ("gh grad", gg), ("hess", hh)):
        assert np.isnan(arr[touched]).all(), f"{what}: {name} not NaN where touched"
        assert np.isfinite(arr[~touched]).all(), f"{what}: {name} not finite elsewhere"
    for red in ("sum", "mean", "weighted_mean"):
        r = F(x, y, w, pos_weight=pw, reduction=red)
        assert np.isnan(r), f"{what}: {red} should be NaN, got {r!r}"
        r = FB(x, y, w, pos_weight=pw, reduction=red)[0]
        assert np.isnan(r), f"{what}: forward_backward {red} should be NaN, got {r!r}"


def test_infinite_logits_finite_limits(float_dtype):
    dt = float_dtype
    x = np.array([np.inf, -np.inf], dt)
    y = np.array([1, 0], dt)
    for red in REDUCTIONS:
        loss, grad = FB(x, y, reduction=red)
        assert np.all(np.asarray(loss) == 0) and np.all(grad == 0), (
            f"{dt.name} {red}: x=+inf,y=1 / x=-inf,y=0 must give loss 0 and grad 0, got "
            f"{loss!r}, {grad!r}")


def test_large_logits_no_overflow(float_dtype):
    dt = float_dtype
    big = np.finfo(dt).max
    x = np.array([big, -big, big, -big], dt)
    y = np.array([1, 0, 0.5, 0.5], dt)
    loss = F(x, y, reduction="none")
    assert loss[0] == 0 and loss[1] == 0, f"{dt.name}: loss at +-max with matching label {loss!r}"
    assert np.isclose(loss[2], big / 2, rtol=1e-6) and np.isclose(loss[3], big / 2, rtol=1e-6), (
        f"{dt.name}: loss at +-max, y=0.5 should be max/2, got {loss!r}")
    g = B(x, y, reduction="none")
    assert np.array_equal(g, np.array([0, 0, 0.5, -0.5], dt)), f"{dt.name}: grad {g!r}"


def test_huge_and_infinite_targets_same_on_every_path(float_dtype):
    """Targets beyond 2^53, where 1 - y rounds: at x = 0 the loss is ln 2 for any target
    (q + y = 1, where the rounded sum would give 0), contiguous and strided operands agree,
    and an infinite target gives NaN on both."""
    dt = float_dtype
    ys = np.array([1e16, -1e20, 3e38, 2.0 ** 60, np.inf, -np.inf], dt)
    n = 40  # whole vectors and a tail at every level
    x = np.zeros(n, dt)
    y = np.resize(ys, n)
    strided_x, strided_y = np.repeat(x, 2)[::2], np.repeat(y, 2)[::2]
    finite = np.isfinite(y)
    for what, (xx, yy) in (("contiguous", (x, y)), ("strided", (strided_x, strided_y))):
        loss, grad = FB(xx, yy, reduction="none")
        g2, h = GH(xx, yy)
        assert np.all(loss[finite] == dt.type(np.log(2))), (
            f"{dt.name} {what}: loss at x=0 should be ln 2 for targets {y[finite]}, got "
            f"{loss[finite]}")
        want_g = (dt.type(0.5) - y[finite].astype(np.float64)).astype(dt)
        assert np.array_equal(grad[finite], want_g), (
            f"{dt.name} {what}: grad at x=0 should be 1/2 - y, got {grad[finite]}")
        assert np.all(h[finite] == dt.type(0.25)), f"{dt.name} {what}: hess {h[finite]}"
        for name, arr in (("loss", loss), ("grad", grad), ("gh grad", g2), ("hess", h)):
            assert np.isnan(arr[~finite]).all(), (
                f"{dt.name} {what}: {name} at an infinite target should be NaN, got "
                f"{arr[~finite]}")


# ---------------------------------------------------------------------------------------
# inputs never modified


def test_inputs_not_modified(rng):
    x, y = _data(rng, (30, 5))
    w = rng.uniform(0.5, 2, (30, 1))
    pw = rng.uniform(0.5, 3, (5,))
    go = rng.normal(0, 1, (30, 5))
    arrays = {"x": x, "y": y, "w": w, "pw": pw, "go": go}
    copies = {k: v.copy() for k, v in arrays.items()}

    def check(what):
        for k in arrays:
            assert np.array_equal(arrays[k], copies[k]), f"{what}: {k} was modified"

    for red in REDUCTIONS:
        F(x, y, w, pos_weight=pw, reduction=red, label_smoothing=0.2)
        check(f"forward {red}")
        B(x, y, w, pos_weight=pw, reduction=red, label_smoothing=0.2,
          grad_output=go if red == "none" else 2.0)
        check(f"backward {red}")
        FB(x, y, w, pos_weight=pw, reduction=red, label_smoothing=0.2)
        check(f"forward_backward {red}")
    GH(x, y, w, pos_weight=pw, label_smoothing=0.2)
    check("grad_hess")
    # error paths: validation failing after some arguments were already converted
    bad_calls = [
        lambda: F(x, y, w, pos_weight=pw, reduction="bogus"),
        lambda: B(x, y, w, pos_weight=np.ones(4), reduction="mean"),
        lambda: B(x, y, w, pos_weight=pw, reduction="mean", grad_output=go),
        lambda: F(x, y, w, pos_weight=pw, reduction="none", out=np.empty((5, 30))),
        lambda: FB(x, y, w, pos_weight=pw, label_smoothing=2.0),
        lambda: GH(x, y[:, :4], w, pos_weight=pw),
    ]
    for k, call in enumerate(bad_calls):
        with pytest.raises((ValueError, TypeError)):
            call()
        check(f"error path {k}")


# ---------------------------------------------------------------------------------------
# reduced results, fused = separate, grad_hess formula


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_reduced_results_are_numpy_scalars(dtype, rng):
    x, y = _data(rng, (10, 2), dtype)
    for red in ("sum", "mean", "weighted_mean"):
        for r in (F(x, y, reduction=red), FB(x, y, reduction=red)[0],
                  F(x.reshape(-1)[0], y.reshape(-1)[0], reduction=red)):
            assert isinstance(r, np.generic) and not isinstance(r, np.ndarray), (
                f"{np.dtype(dtype)} {red}: {type(r)} is not a NumPy scalar")
            assert r.dtype == np.dtype(dtype), f"{np.dtype(dtype)} {red}: dtype {r.dtype}"
    r = F(x[0, 0], y[0, 0], reduction="none")
    assert np.asarray(r).shape == () and np.asarray(r).dtype == np.dtype(dtype)


@pytest.mark.parametrize("red", REDUCTIONS)
@pytest.mark.parametrize("opts", ["plain", "weight", "pos_weight", "smoothing", "all"])
def test_forward_backward_equals_separate(red, opts, float_dtype, rng):
    dt = float_dtype
    x, y = _data(rng, (3001, 4), dt, scale=6)
    kw = {"reduction": red}
    if opts in ("weight", "all"):
        kw["weight"] = rng.uniform(0, 2, (3001, 1)).astype(dt)
    if opts in ("pos_weight", "all"):
        kw["pos_weight"] = np.array([0.3, 1, 2.5, 7], dt)
    if opts in ("smoothing", "all"):
        kw["label_smoothing"] = 0.15
    loss, grad = FB(x, y, **kw)
    _assert_same(loss, F(x, y, **kw), f"{dt.name} {red} {opts}: fused loss vs forward")
    _assert_same(grad, B(x, y, **kw), f"{dt.name} {red} {opts}: fused grad vs backward")
    if red == "none":
        g, h = GH(x, y, **{k: v for k, v in kw.items() if k != "reduction"})
        _assert_same(g, B(x, y, **kw), f"{dt.name} {opts}: grad_hess grad vs backward")


@pytest.mark.parametrize("opts", ["plain", "weight", "pos_weight", "smoothing", "all"])
def test_grad_hess_formula(opts, float_dtype, rng):
    dt = float_dtype
    x, y = _data(rng, (500, 3), dt, scale=5)
    w = rng.uniform(0, 2, (500, 3)).astype(dt) if opts in ("weight", "all") else None
    pw = np.array([0.5, 1, 4], dt) if opts in ("pos_weight", "all") else None
    eps = 0.2 if opts in ("smoothing", "all") else 0.0
    g, h = GH(x, y, w, pos_weight=pw, label_smoothing=eps)
    ys = y.astype(np.float64) * (1 - eps) + eps / 2
    p = 1.0 if pw is None else pw.astype(np.float64)
    wf = 1.0 if w is None else w.astype(np.float64)
    want_g = stable_grad_f64(x, ys, p, wf)
    want_h = stable_hess_f64(x, ys, p, wf)
    tol = 8 * np.finfo(dt).eps
    # the gradient cancels near its root: judge it against the size of its terms
    c = (1 - ys) + p * ys
    scale_g = wf * np.maximum(c, p * ys) + np.finfo(dt).tiny
    assert (np.abs(g - want_g) <= tol * scale_g).all(), f"{dt.name} {opts}: grad_hess gradient"
    assert np.allclose(h, want_h, rtol=tol, atol=np.finfo(dt).tiny), f"{dt.name} {opts}: hessian"
    assert (h >= 0).all(), f"{dt.name} {opts}: the BCE hessian is never negative"
    assert g.dtype == dt and h.dtype == dt


def test_weight_scales_exactly(float_dtype, rng):
    """A power-of-two weight scales each element's loss and gradient exactly."""
    dt = float_dtype
    x, y = _data(rng, (100, 3), dt)
    for w in (2.0, 0.5, 0.0):
        _assert_same(F(x, y, dt.type(w), reduction="none"),
                     (F(x, y, reduction="none") * dt.type(w)).astype(dt), f"weight {w} loss")
        _assert_same(B(x, y, dt.type(w), reduction="none"),
                     (B(x, y, reduction="none") * dt.type(w)).astype(dt), f"weight {w} grad")


def test_loss_matches_formula_moderate(float_dtype, rng):
    dt = float_dtype
    x, y = _data(rng, (2000,), dt, scale=10)
    w = rng.uniform(0, 3, 2000).astype(dt)
    pw = dt.type(2.5)
    got = F(x, y, w, pos_weight=pw, reduction="none")
    want = stable_loss_f64(x, y, 2.5, w)
    assert np.allclose(got, want, rtol=8 * np.finfo(dt).eps, atol=0), f"{dt.name} loss formula"
    m = F(x, y, w, pos_weight=pw, reduction="mean")
    assert np.isclose(m, want.mean(), rtol=8 * np.finfo(dt).eps), f"{dt.name} mean"
    s = F(x, y, w, pos_weight=pw, reduction="sum")
    assert np.isclose(s, want.sum(), rtol=8 * np.finfo(dt).eps), f"{dt.name} sum"


# ---------------------------------------------------------------------------------------
# determinism and threads


@pytest.fixture
def restore_threads():
    n = cbce.get_num_threads()
    yield
    cbce.set_num_threads(n)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_bitwise_determinism_across_threads(dtype, rng, restore_threads):
    n = 400_003      # several 4096-element blocks per thread even with 8 threads
    x = rng.normal(0, 4, n).astype(dtype)
    y = rng.uniform(0, 1, n).astype(dtype)
    # float16: small weights keep the sum of 4e5 losses below 65504
    w = rng.uniform(0, 2e-3 if dtype == np.float16 else 2, n).astype(dtype)
    pw = dtype(1.7)
    results = {}
    for nt in (1, 2, 3, 8):
        r = []
        for red in ("sum", "mean", "weighted_mean"):
            r.append(F(x, y, w, pos_weight=pw, reduction=red, num_threads=nt))
            r.extend(FB(x, y, w, pos_weight=pw, reduction=red, num_threads=nt))
        r.append(B(x, y, w, pos_weight=pw, reduction="mean", num_threads=nt))
        r.extend(GH(x, y, w, pos_weight=pw, num_threads=nt))
        cbce.set_num_threads(nt)
        r.append(F(x, y, w, pos_weight=pw, reduction="mean"))
        results[nt] = r
    for nt in (2, 3, 8):
        for k, (a, b) in enumerate(zip(results[1], results[nt])):
            assert _bitwise_equal(a, b), (
                f"{np.dtype(dtype)}: result {k} with num_threads={nt} differs from 1 thread: "
                f"{a if np.ndim(a) == 0 else '(array)'} vs {b if np.ndim(b) == 0 else '(array)'}")


def test_set_get_num_threads(restore_threads):
    default = cbce.get_num_threads()
    assert isinstance(default, int) and default >= 1
    for n in (1, 3, 8):
        cbce.set_num_threads(n)
        assert cbce.get_num_threads() == n, f"set_num_threads({n}) then get_num_threads()"


def _subprocess_threads(env_value):
    env = dict(os.environ)
    env.pop("CBCE_NUM_THREADS", None)
    if env_value is not None:
        env["CBCE_NUM_THREADS"] = env_value
    code = ("import cbce, numpy as np; x = np.linspace(-5, 5, 100001); "
            "print(cbce.get_num_threads()); print(repr(float(cbce.binary_cross_entropy_with_logits("
            "x, (x > 0.3).astype(float), reduction='mean'))))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120)
    return out


def test_env_num_threads():
    r = _subprocess_threads("3")
    assert r.returncode == 0, r.stderr
    n, val3 = r.stdout.split()
    assert n == "3", f"CBCE_NUM_THREADS=3: get_num_threads() = {n}"
    r = _subprocess_threads(None)
    assert r.returncode == 0, r.stderr
    n, val = r.stdout.split()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert int(n) == cores, f"default get_num_threads() = {n}, cores available = {cores}"
    assert val == val3, "mean differs between CBCE_NUM_THREADS=3 and the default"


_SIMD_SCRIPT = """
import sys, numpy as np, cbce
d = np.load(sys.argv[1])


def strided(v):
    # the same values in a non-contiguous view (every other element of a buffer, reversed)
    buf = np.full(2 * v.size, np.nan, v.dtype)
    view = buf[::-2][::-1] if v.ndim == 1 else None
    view[...] = v
    assert not view.flags.c_contiguous
    return view


def run(x, y, p, xr, yr, wr, nt):
    out = {}
    kw = dict(pos_weight=p, num_threads=nt)
    out["loss"], out["grad"] = cbce.binary_cross_entropy_with_logits_forward_backward(
        x, y, reduction="none", **kw)
    out["gh"] = np.stack(cbce.binary_cross_entropy_with_logits_grad_hess(x, y, **kw))
    out["sums"] = np.array(
        [cbce.binary_cross_entropy_with_logits(xr, yr, wr, reduction=r, num_threads=nt)
         for r in ("sum", "mean", "weighted_mean")]
        + list(cbce.binary_cross_entropy_with_logits_forward_backward(
            xr, yr, wr, reduction="mean", num_threads=nt)[1][::997]))
    for j, (alpha, gamma) in enumerate(((0.25, 0.0), (0.25, 0.5), (None, 2.0), (0.25, 3.7))):
        fk = dict(alpha=alpha, gamma=gamma, num_threads=nt)
        out["focal%d" % j] = np.stack(
            [cbce.sigmoid_focal_loss(x, y, **fk, reduction="none")]
            + list(cbce.sigmoid_focal_loss_grad_hess(x, y, **fk)))
    return out


res = {}
for dt in ("float32", "float64"):
    x, y, p = d["x_" + dt], d["y_" + dt], d["p_" + dt]
    xr, yr, wr = d["xr_" + dt], d["yr_" + dt], d["wr_" + dt]
    layouts = {
        "contiguous, 1 thread": (x, y, p, xr, yr, wr, 1),
        "contiguous, 2 threads": (x, y, p, xr, yr, wr, 2),
        "strided, 2 threads": tuple(strided(v) for v in (x, y, p, xr, yr, wr)) + (2,),
        "target float64": (x, y.astype(np.float64), p, xr, yr.astype(np.float64), wr, 1),
    }
    for name, args in layouts.items():
        for key, v in run(*args).items():
            res["%s|%s|%s" % (dt, name, key)] = v
np.savez(sys.argv[2], **res)
cbce.show_config()
"""


def test_same_bits_across_threads_and_layouts_on_every_simd_level(tmp_path):
    """At each level CBCE_SIMD (run-time dispatch with an override, docs/numerics.md) selects,
    every result is bitwise the same for 1 and 2 threads and for contiguous and strided
    operands (the reference inputs: whole range, inf, subnormals; BCE with logits and the
    focal loss; reductions and reduced gradients of 100k elements), and float32 data gives
    the same bits with a float32 target as with the same values in float64.  Different
    levels may differ in the last bit; each level's accuracy is tested by running the
    accuracy tests under CBCE_SIMD (.ci/run)."""
    from reference import load_logits_reference
    rng = np.random.default_rng(11)
    inputs = {}
    for dt in (np.float32, np.float64):
        ref = load_logits_reference(dt)
        name = np.dtype(dt).name
        inputs["x_" + name], inputs["y_" + name] = ref["x"], ref["y"]
        inputs["p_" + name] = ref["pos_weight"]
        inputs["xr_" + name] = rng.normal(0, 5, 100_001).astype(dt)
        inputs["yr_" + name] = rng.uniform(0, 1, 100_001).astype(dt)
        inputs["wr_" + name] = rng.uniform(0, 2, 100_001).astype(dt)
    np.savez(tmp_path / "in.npz", **inputs)
    script = tmp_path / "run.py"
    script.write_text(_SIMD_SCRIPT)
    msgs = []
    for level in ("scalar", "baseline", "avx2", "avx512"):
        env = dict(os.environ, CBCE_SIMD=level)
        outp = tmp_path / f"out_{level}.npz"
        r = subprocess.run([sys.executable, str(script), str(tmp_path / "in.npz"), str(outp)],
                           env=env, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, f"CBCE_SIMD={level}: {r.stderr[-2000:]}"
        used = re.search(r"^simd: (\S+)", r.stdout, re.M)
        used = used.group(1) if used else "?"
        res = dict(np.load(outp))
        for key, got in res.items():
            dt, layout, what = key.split("|")
            if layout == "contiguous, 1 thread":
                continue
            if layout == "target float64" and dt == "float64":
                continue  # the same operands as the first layout
            want = res["|".join((dt, "contiguous, 1 thread", what))]
            if not _bitwise_equal(got, want):
                bad = np.nonzero((got != want) & ~(np.isnan(got) & np.isnan(want)))
                msgs.append(f"CBCE_SIMD={level} (running {used}) {dt} {what}: {layout} differs "
                            f"from contiguous, 1 thread in {bad[0].size} elements")
    assert not msgs, "\n".join(msgs)


def test_thread_safe_from_many_python_threads(rng):
    x, y = _data(rng, (200_000,))
    want = FB(x, y, reduction="mean")

    def work(_):
        return FB(x, y, reduction="mean", num_threads=2)

    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        for got in ex.map(work, range(8)):
            _assert_same(got, want, "forward_backward from a Python thread")


def test_loss_class_matches_function(rng):
    x, y = _data(rng, (20, 3))
    w = rng.uniform(0, 1, (3,))
    pw = np.array([1, 2, 3.0])
    obj = cbce.BCEWithLogitsLoss(weight=w, pos_weight=pw, reduction="sum", label_smoothing=0.1)
    kw = dict(pos_weight=pw, reduction="sum", label_smoothing=0.1)
    _assert_same(obj(x, y), F(x, y, w, **kw), "BCEWithLogitsLoss()(x, y)")
    _assert_same(obj.backward(x, y, grad_output=2.0), B(x, y, w, grad_output=2.0, **kw),
                 "BCEWithLogitsLoss.backward")
    _assert_same(obj.forward_backward(x, y), FB(x, y, w, **kw),
                 "BCEWithLogitsLoss.forward_backward")
    text = repr(obj)
    assert "sum" in text and "0.1" in text, f"repr should show the settings: {text}"


# ---------------------------------------------------------------------------------------
# broadcasting paths give the same bits as the materialised arrays


@pytest.mark.parametrize("name", list(FUNCS))
def test_broadcast_weights_same_as_full(name, float_dtype, rng):
    dt = float_dtype
    x, y = _data(rng, (333, 7), dt)
    variants = {
        "weight (C,)": dict(weight=rng.uniform(0, 2, (7,)).astype(dt)),
        "weight (N,1)": dict(weight=rng.uniform(0, 2, (333, 1)).astype(dt)),
        "weight ()": dict(weight=np.array(1.3, dt)),
        "pos_weight (C,)": dict(pos_weight=rng.uniform(0.2, 4, (7,)).astype(dt)),
        "pos_weight (N,1)": dict(pos_weight=rng.uniform(0.2, 4, (333, 1)).astype(dt)),
        "pos_weight ()": dict(pos_weight=np.array(2.5, dt)),
        "both": dict(weight=rng.uniform(0, 2, (333, 1)).astype(dt),
                     pos_weight=rng.uniform(0.2, 4, (7,)).astype(dt)),
    }
    for vname, kw in variants.items():
        full = {k: np.ascontiguousarray(np.broadcast_to(v, x.shape)) for k, v in kw.items()}
        for red in REDUCTIONS:
            got = _call(name, x, y, reduction=red, **kw)
            want = _call(name, x, y, reduction=red, **full)
            _assert_same(got, want, f"{name} {dt.name} {vname} vs materialised, {red}")
            if name == "grad_hess":
                break


@pytest.mark.parametrize("name", list(FUNCS))
def test_one_value_target_same_as_full(name, float_dtype, rng):
    """A target broadcast from one value (a span buffer filled with it, or gathered) gives
    the bits of the materialised array, hard and soft, with rare lanes among the logits."""
    dt = float_dtype
    x, _ = _data(rng, (257, 9), dt)
    x[::17, 3] = np.array([700.0, -750.0, 0.0, np.inf, -np.inf, 1e-300] * 3, dt)[:16]
    for tval in (0.0, 1.0, 0.3):
        for tdt in (dt, np.dtype(np.uint8)) if tval != 0.3 else (dt,):
            t1 = np.broadcast_to(np.array(tval, tdt), x.shape)
            for red in REDUCTIONS:
                got = _call(name, x, t1, reduction=red)
                want = _call(name, x, np.ascontiguousarray(t1), reduction=red)
                _assert_same(got, want, f"{name} {dt.name} target {tval} ({tdt.name}) "
                             f"broadcast vs materialised, {red}")
                if name == "grad_hess":
                    break


@pytest.mark.parametrize("tdtype", [np.uint8, np.int8, np.int32, np.float32])
def test_integer_targets_read_as_they_are(tdtype, rng):
    """Integer targets are values, not classes: 2 or -1 is used as such (no clipping)."""
    x, _ = _data(rng, (50,))
    vals = np.array([0, 1, 2, 3] if np.dtype(tdtype).kind == "u" else [0, 1, -1, 2])
    t = rng.choice(vals, 50).astype(tdtype)
    for red in ("none", "mean"):
        _assert_same(FB(x, t, reduction=red), FB(x, t.astype(np.float64), reduction=red),
                     f"target {np.dtype(tdtype)} with values {vals.tolist()}, {red}")


def test_grad_output_non_finite(rng):
    x, y = _data(rng, (5, 2))
    g = B(x, y, reduction="none", grad_output=np.array([np.nan, 1.0]))
    assert np.isnan(g[:, 0]).all() and np.isfinite(g[:, 1]).all(), "NaN grad_output column"
    g = B(x, y, reduction="mean", grad_output=np.nan)
    assert np.isnan(g).all(), "NaN scalar grad_output"


def test_float16_extremes():
    x = np.array([65504, -65504, np.inf, -np.inf, 6e-8, -6e-8, 0, 11.0], np.float16)
    y = np.array([0, 1, 0, 1, 0.5, 0.5, 1, 0], np.float16)
    loss = F(x, y, pos_weight=np.float16(2.0), reduction="none")
    want = stable_loss_f64(x.astype(np.float32), y.astype(np.float32), 2.0)
    with np.errstate(over="ignore"):
        want16 = want.astype(np.float32).astype(np.float16)
    # x=-65504, y=1, pos_weight 2: loss 131008 overflows float16 -> inf
    assert loss.dtype == np.float16
    ok = (loss == want16) | (np.isnan(loss) & np.isnan(want16))
    assert ok.all(), f"float16 extremes: {loss!r} vs {want16!r}"
    g, h = GH(x, y)
    assert np.isfinite(g).all() and np.isfinite(h).all() and (h >= 0).all(), (g, h)


def test_weighted_mean_all_masked_is_nan():
    """All weights 0: every element masked out, like the mean of an empty input -> nan."""
    x = np.linspace(-3, 3, 10)
    r = F(x, np.zeros(10), np.zeros(10), reduction="weighted_mean")
    assert np.isnan(r), f"weighted_mean with all weights 0: {r!r}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_threads_on_strided_and_small_inputs(dtype, rng):
    """Thread splitting of non-contiguous inputs (and of inputs smaller than the thread
    count) gives the bits of the contiguous single-threaded computation."""
    xb = rng.normal(0, 4, (1200, 700)).astype(dtype)
    yb = rng.uniform(0, 1, (1200, 700)).astype(dtype)
    x, y = xb[::-3, 1::2], yb[::3, ::2].T.T
    w = rng.uniform(0, 2, (400, 1)).astype(dtype)
    pw = rng.uniform(0.5, 3, 700).astype(dtype)[::2]
    xc, yc = _contig(x), _contig(y)
    for red in REDUCTIONS:
        want = FB(xc, yc, w, pos_weight=pw, reduction=red, num_threads=1)
        for nt in (2, 3, 8):
            got = FB(x, y, w, pos_weight=pw, reduction=red, num_threads=nt)
            _assert_same(got, want, f"{np.dtype(dtype)} strided {x.strides}, {red}, {nt} threads")
    want = GH(xc, yc, w, pos_weight=pw, num_threads=1)
    _assert_same(GH(x, y, w, pos_weight=pw, num_threads=8), want, "grad_hess strided, 8 threads")
    for n in (0, 1, 2, 5):
        xs, ys = xc.ravel()[:n], yc.ravel()[:n]
        for red in REDUCTIONS:
            _assert_same(FB(xs, ys, reduction=red, num_threads=8),
                         FB(xs, ys, reduction=red, num_threads=1),
                         f"{n} elements, 8 threads, {red}")


def test_out_aliasing_target_or_partial_overlap(rng):
    """out may alias the target, or overlap an input partially: the result is as if the
    inputs had been read first (NumPy's ufunc rule), or a clear ValueError."""
    x, y = _data(rng, (300,))
    want = B(x, y, reduction="none")
    yy = y.copy()
    r = B(x, yy, reduction="none", out=yy)
    assert r is yy
    _assert_same(yy, want, "backward with out=target")
    buf = np.concatenate([x, [0.0]])
    try:
        r = B(buf[:-1], y, reduction="none", out=buf[1:])
    except ValueError:
        return
    _assert_same(r, want, "backward with out overlapping the input shifted by one element")


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_smallest_label_smoothing_keeps_infinite_losses(dtype):
    """label_smoothing = 5e-324 (whose half rounds to 0 in double) still moves a hard label
    off 0 and 1, so an infinite logit on the wrong side of the smoothed label costs inf
    (eps/2 * |x|), as for any other positive label_smoothing; found by the fuzz test."""
    x = np.array([np.inf, -np.inf, np.inf, -np.inf], dtype)
    y = np.array([1, 0, 0, 1], dtype)
    for eps in (5e-324, 1e-323, 1e-300, 0.1):
        got = F(x, y, reduction="none", label_smoothing=eps)
        assert np.all(got == np.inf), f"{np.dtype(dtype).name} label_smoothing={eps}: {got}"
    got = F(x, y, reduction="none", label_smoothing=0.0)
    want = np.array([0, 0, np.inf, np.inf])
    assert np.array_equal(got, want), f"{np.dtype(dtype).name} no smoothing: {got}"
