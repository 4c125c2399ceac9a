"""Edges of the bindings and the driver: what every array really is (ndarray subclasses,
foreign buffers, zero-stride and overlapping views, masked arrays), the in-place fused pass
that must not re-read what it overwrote, subnormal weight sums, byte order and bool bytes
of targets, argument types, and argument checks made before any data is read.

Each test compares with an independent result: the same call on plain arrays (bit for
bit), mpmath, or NumPy's own reading of the data.
"""
import array
import math
import time

import mpmath
import numpy as np
import pytest

import cbce
from reference import mp_grad, mp_loss

LOGITS = cbce.binary_cross_entropy_with_logits
pytestmark = pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")


# ---- helpers ---------------------------------------------------------------------------

def _bits_equal(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


# Every function with out=: (name, call(x, t, out), number of outputs, probabilities?)
def _with_out():
    c = cbce
    return [
        ("logits fwd", lambda x, t, o: c.binary_cross_entropy_with_logits(
            x, t, reduction="none", out=o), 1, False),
        ("logits bwd", lambda x, t, o: c.binary_cross_entropy_with_logits_backward(
            x, t, out=o), 1, False),
        ("logits fwd_bwd", lambda x, t, o: c.binary_cross_entropy_with_logits_forward_backward(
            x, t, reduction="none", out=o), 2, False),
        ("logits grad_hess", lambda x, t, o: c.binary_cross_entropy_with_logits_grad_hess(
            x, t, out=o), 2, False),
        ("probs fwd", lambda x, t, o: c.binary_cross_entropy(x, t, reduction="none", out=o),
         1, True),
        ("probs bwd", lambda x, t, o: c.binary_cross_entropy_backward(x, t, out=o), 1, True),
        ("probs fwd_bwd", lambda x, t, o: c.binary_cross_entropy_forward_backward(
            x, t, reduction="none", out=o), 2, True),
        ("focal fwd", lambda x, t, o: c.sigmoid_focal_loss(x, t, reduction="none", out=o),
         1, False),
        ("focal bwd", lambda x, t, o: c.sigmoid_focal_loss_backward(x, t, out=o), 1, False),
        ("focal fwd_bwd", lambda x, t, o: c.sigmoid_focal_loss_forward_backward(
            x, t, reduction="none", out=o), 2, False),
        ("focal grad_hess", lambda x, t, o: c.sigmoid_focal_loss_grad_hess(x, t, out=o), 2,
         False),
        ("sigmoid", lambda x, t, o: c.sigmoid(x, out=o), 1, False),
        ("log_sigmoid", lambda x, t, o: c.log_sigmoid(x, out=o), 1, False),
        ("softplus", lambda x, t, o: c.softplus(x, out=o), 1, False),
    ]


WITH_OUT = _with_out()
WITH_OUT_IDS = [w[0] for w in WITH_OUT]


def _data(rng, shape, dtype, probs):
    x = rng.uniform(0, 1, shape) if probs else rng.normal(0, 4, shape)
    return x.astype(dtype), (rng.uniform(size=shape) < 0.5).astype(dtype)


def _pack(outs, k):
    return outs[0] if k == 1 else tuple(outs)


class Sub(np.ndarray):
    """A user subclass that changes reshape and indexing, as np.matrix does."""

    def reshape(self, *a, **k):
        raise AssertionError("the bindings must not call a subclass's reshape")


# ---- out= and inputs of every kind -----------------------------------------------------

@pytest.mark.parametrize("name,f,k,probs", WITH_OUT, ids=WITH_OUT_IDS)
def test_out_as_matrix_writes_its_own_elements_only(name, f, k, probs, rng):
    """np.matrix out: results in the matrix's elements, nothing written beside them."""
    x, t = _data(rng, (2, 3), np.float64, probs)
    want = f(x, t, None)
    want = want if k == 2 else (want,)
    bufs = [np.full(40, -1.0) for _ in range(k)]
    outs = [np.asmatrix(b[:6].reshape(2, 3)) for b in bufs]
    got = f(x, t, _pack(outs, k))
    got = got if k == 2 else (got,)
    for j in range(k):
        assert got[j] is outs[j], f"{name}: out[{j}] not returned"
        assert type(got[j]) is np.matrix
        assert _bits_equal(np.asarray(outs[j]), want[j]), f"{name}: out[{j}] values"
        assert (bufs[j][6:] == -1.0).all(), f"{name}: wrote outside out[{j}]"


def test_large_matrix_out_no_crash():
    x = np.linspace(-30, 30, 400 * 400, dtype=np.float32).reshape(400, 400)
    out = np.asmatrix(np.empty((400, 400), np.float32))
    assert cbce.sigmoid(x, out=out) is out
    assert _bits_equal(np.asarray(out), cbce.sigmoid(x))


@pytest.mark.parametrize("name,f,k,probs", WITH_OUT, ids=WITH_OUT_IDS)
def test_out_subclasses_and_memmap(name, f, k, probs, rng, tmp_path):
    x, t = _data(rng, (3, 5), np.float32, probs)
    want = f(x, t, None)
    want = want if k == 2 else (want,)
    for kind in ("sub", "memmap"):
        if kind == "sub":
            outs = [np.zeros((3, 5), np.float32).view(Sub) for _ in range(k)]
        else:
            outs = [np.memmap(tmp_path / f"o{j}.bin", np.float32, "w+", shape=(3, 5))
                    for j in range(k)]
        got = f(x, t, _pack(outs, k))
        got = got if k == 2 else (got,)
        for j in range(k):
            assert got[j] is outs[j]
            assert _bits_equal(outs[j].view(np.ndarray), want[j]), f"{name}: {kind} out[{j}]"


def test_inputs_of_every_kind_same_bits(rng, tmp_path):
    """Subclasses, memmaps, foreign objects with only the array interface or only the
    buffer protocol, and zero-stride views: the plain-array bits."""
    x = rng.normal(0, 3, 12)
    t = (rng.uniform(size=12) < 0.5).astype(np.float64)
    w = rng.uniform(0, 2, 12)

    class Iface:
        def __init__(self, a):
            self.__array_interface__ = a.__array_interface__
            self._a = a

    mm = np.memmap(tmp_path / "x.bin", np.float64, "w+", shape=(12,))
    mm[:] = x
    kinds = {
        "matrix": lambda a: np.asmatrix(a.reshape(3, 4)),
        "subclass": lambda a: a.view(Sub),
        "memmap": lambda a: mm if a is x else a,
        "array interface": Iface,
        "buffer protocol": lambda a: array.array("d", a.tolist()),
        "memoryview": lambda a: memoryview(a.copy()),
    }
    for red in ("none", "sum", "mean", "weighted_mean"):
        plain = LOGITS(x, t, w, reduction=red)
        for kind, make in kinds.items():
            if kind == "matrix":
                got = LOGITS(make(x), make(t), make(w), reduction=red)
                ref = LOGITS(x.reshape(3, 4), t.reshape(3, 4), w.reshape(3, 4), reduction=red)
            else:
                got = LOGITS(make(x), make(t), make(w), reduction=red)
                ref = plain
            assert _bits_equal(got, ref), f"{kind}, reduction {red}"
    # zero-stride views: one value broadcast
    xb = np.broadcast_to(np.float64(1.5), (7,))
    assert _bits_equal(LOGITS(xb, np.zeros(7), reduction="none"),
                       LOGITS(np.full(7, 1.5), np.zeros(7), reduction="none"))
    xb2 = np.broadcast_to(np.arange(3.0), (4, 3))
    assert _bits_equal(LOGITS(xb2, np.ones((4, 3)), reduction="sum"),
                       LOGITS(np.ascontiguousarray(xb2), np.ones((4, 3)), reduction="sum"))


@pytest.mark.parametrize("name,f,k,probs", WITH_OUT, ids=WITH_OUT_IDS)
def test_out_overlapping_input_same_bits(name, f, k, probs, rng):
    """out= a shifted view of the buffer that holds the input (overlapping, not the same
    array): the result is computed as from the original input.  3000 elements: several
    chunks and spans, each of which would read what the one before it wrote if the input
    were read in place."""
    n = 3000
    for shift in (1, -1, 3):
        buf = np.empty(n + 20)
        x, t = _data(rng, (n,), np.float64, probs)
        want = f(x, t, None)
        want = want if k == 2 else (want,)
        buf[10:10 + n] = x
        xv = buf[10:10 + n]
        outs = [buf[10 + shift:10 + n + shift]] + ([np.empty(n)] if k == 2 else [])
        got = f(xv, t, _pack(outs, k))
        got = got if k == 2 else (got,)
        assert _bits_equal(got[0], want[0]), f"{name}: shift {shift}"
        if k == 2:
            assert _bits_equal(got[1], want[1]), f"{name}: shift {shift}, out[1]"


@pytest.mark.parametrize("name,f,k,probs", WITH_OUT, ids=WITH_OUT_IDS)
def test_out_with_shared_elements_refused(name, f, k, probs, rng):
    x, t = _data(rng, (6,), np.float64, probs)
    base = np.zeros(6)
    zero = np.lib.stride_tricks.as_strided(base, (6,), (0,), writeable=True)
    overl = np.lib.stride_tricks.as_strided(base, (3, 2), (8, 8), writeable=True)
    for bad, xs in ((zero, x), (overl, x.reshape(3, 2))):
        outs = [bad] + ([np.empty(bad.shape)] if k == 2 else [])
        with pytest.raises(ValueError, match="share memory"):
            f(xs, t.reshape(xs.shape), _pack(outs, k))
        assert (base == 0).all(), f"{name}: written before the error"


def test_interleaved_out_accepted(rng):
    """Strides that interleave without sharing memory are a valid out."""
    buf = np.zeros(8)
    out = np.lib.stride_tricks.as_strided(buf, (2, 2), (16, 24), writeable=True)
    x = rng.normal(size=(2, 2))
    got = cbce.sigmoid(x, out=out)
    assert _bits_equal(np.array(got), cbce.sigmoid(x))


# ---- masked arrays: refused, with a message that says what to do -----------------------

def test_masked_arrays_refused():
    m = np.ma.array([0.5, 100.0], mask=[0, 1])
    y = np.zeros(2)
    for call in (lambda: LOGITS(m, y),
                 lambda: LOGITS(np.zeros(2), np.ma.array(y, mask=[1, 0])),
                 lambda: LOGITS(np.zeros(2), y, np.ma.array([1.0, 2.0], mask=[0, 1])),
                 lambda: LOGITS(np.zeros(2), y, pos_weight=np.ma.array([1.0, 2.0])),
                 lambda: cbce.binary_cross_entropy_with_logits_backward(
                     np.zeros(2), y, reduction="none", grad_output=np.ma.array([1.0, 2.0])),
                 lambda: cbce.sigmoid(m),
                 lambda: cbce.sigmoid(np.zeros(2), out=np.ma.zeros(2)),
                 lambda: LOGITS(np.zeros(2), y, reduction="none", out=np.ma.zeros(2))):
        with pytest.raises(TypeError, match="MaskedArray"):
            call()
    # the documented way to leave masked elements out
    got = LOGITS(np.ma.getdata(m), y, weight=~np.ma.getmaskarray(m),
                 reduction="weighted_mean")
    assert got == LOGITS(np.array([0.5]), np.zeros(1))


# ---- the in-place fused pass when the float64 sum overflows ----------------------------

@pytest.mark.parametrize("red", ["mean", "sum", "weighted_mean"])
def test_in_place_fused_overflow(red):
    x = np.array([1e308, 1e308])
    plain = cbce.binary_cross_entropy_with_logits_forward_backward(x.copy(), np.zeros(2),
                                                                   reduction=red)
    got = cbce.binary_cross_entropy_with_logits_forward_backward(x, np.zeros(2), reduction=red,
                                                                 out=(None, x))
    exact = {"mean": 1e308, "weighted_mean": 1e308, "sum": math.inf}[red]
    assert got[0] == exact, f"{red}: {got[0]!r}, exact {exact!r}"
    assert got[1] is x
    assert _bits_equal(got[0], plain[0]) and _bits_equal(got[1], plain[1])


def test_in_place_fused_overflow_probs():
    """BCE on probabilities with w = 1.7e308: the in-place mean is the mpmath one."""
    p = np.array([0.25, 0.75, 0.5])
    y = np.array([1.0, 0.0, 1.0])
    w = np.full(3, 1.7e308)
    plain = cbce.binary_cross_entropy_forward_backward(p.copy(), y, w)
    got = cbce.binary_cross_entropy_forward_backward(p, y, w, out=(None, p))
    exact = 1.7e308 * (2 * mpmath.log(4) + mpmath.log(2)) / 3
    assert float(got[0]) == float(exact), (got[0], exact)
    assert _bits_equal(got[0], plain[0]) and _bits_equal(got[1], plain[1])


@pytest.mark.parametrize("name", ["binary_cross_entropy", "sigmoid_focal_loss",
                                  "asymmetric_loss"])
def test_in_place_fused_overflow_several_chunks(name, rng):
    """float64 weights of 1.7e308 on 3000 elements: the weighted sum overflows and is formed
    again as split sums in the one pass of an in-place call, chunk by chunk, from the input
    as it was (the gradient overwrites it): the same bits as out of place."""
    fn = getattr(cbce, name + "_forward_backward")
    x = 0.05 + 0.9 * rng.random(3000)
    y = (rng.random(3000) < 0.5).astype(np.float64)
    w = np.full(3000, 1.7e308)
    xi = x.copy()
    got = fn(xi, y, w, out=(None, xi))
    plain = fn(x, y, w)
    assert math.isfinite(got[0]) and got[1] is xi
    assert _bits_equal(got[0], plain[0]), f"{name}: {got[0]!r} vs {plain[0]!r}"
    assert _bits_equal(got[1], plain[1]), f"{name}: gradient"


@pytest.mark.parametrize("in_place", [False, True])
def test_overflowing_element_in_a_finite_mean(in_place):
    """pos_weight * |x| overflows for one element; the mean is finite (the rescaled sum
    recomputes that element's loss at the lower scale, in place too)."""
    x = np.full(100, 50.0)
    x[0] = -1e308
    y = np.ones(100)
    pw = np.array([10.0])
    exact = (10 * mpmath.mpf(1e308) + 99 * mp_loss(50.0, 1.0)) / 100
    plain = cbce.binary_cross_entropy_with_logits_forward_backward(x.copy(), y, pos_weight=pw)
    out = (None, x) if in_place else None
    got = cbce.binary_cross_entropy_with_logits_forward_backward(x, y, pos_weight=pw, out=out)
    assert got[0] == float(exact), (got[0], exact)
    assert _bits_equal(got[0], plain[0]) and _bits_equal(got[1], plain[1])


def test_in_place_fused_overflow_float32_and_focal():
    x = np.array([3e38, 3e38, -1.0], np.float32)
    plain = cbce.binary_cross_entropy_with_logits_forward_backward(x.copy(), np.zeros(3,
                                                                   np.float32))
    got = cbce.binary_cross_entropy_with_logits_forward_backward(
        x, np.zeros(3, np.float32), out=(None, x))
    assert _bits_equal(got[0], plain[0]) and _bits_equal(got[1], plain[1])
    assert got[0] == np.float32((2 * float(np.float32(3e38)) + 0.31326168751822286) / 3)
    xf = np.array([1e308, 1e308, 1e308])
    plain = cbce.sigmoid_focal_loss_forward_backward(xf.copy(), np.zeros(3), alpha=None,
                                                     gamma=0.0, reduction="sum")
    got = cbce.sigmoid_focal_loss_forward_backward(xf, np.zeros(3), alpha=None, gamma=0.0,
                                                   reduction="sum", out=(None, xf))
    assert got[0] == math.inf and _bits_equal(got[1], plain[1])


# ---- weighted_mean with subnormal weights ----------------------------------------------

@pytest.mark.parametrize("w", [5e-324, 1e-310, 2.5e-308, 1e-300])
def test_weighted_mean_subnormal_weights(w):
    x, y = np.zeros(1), np.ones(1)
    loss, grad = cbce.binary_cross_entropy_with_logits_forward_backward(
        x, y, np.array([w]), reduction="weighted_mean")
    assert loss == float(mpmath.log(2)), f"w={w}: loss {loss!r}"
    # within 1 ulp: the multiplier is w * (1 / sum(w)), two roundings
    assert abs(grad[0] + 0.5) <= np.spacing(0.5), f"w={w}: grad {grad[0]!r}"


def test_weighted_mean_tiny_weights_many_elements(rng):
    """Weights of both scales in one call, against mpmath."""
    x = rng.normal(0, 3, 50)
    y = (rng.uniform(size=50) < 0.5).astype(float)
    w = rng.uniform(0.5, 1, 50) * 1e-315
    got = LOGITS(x, y, w, reduction="weighted_mean")
    with mpmath.workdps(60):
        num = sum(mpmath.mpf(float(wi)) * mp_loss(xi, yi) for xi, yi, wi in zip(x, y, w))
        exact = num / sum(mpmath.mpf(float(wi)) for wi in w)
    assert abs(got - float(exact)) <= 2 * np.spacing(float(exact)), (got, exact)
    g = cbce.binary_cross_entropy_with_logits_backward(x, y, w, reduction="weighted_mean")
    with mpmath.workdps(60):
        ref = [float(mpmath.mpf(float(wi)) * mp_grad(xi, yi)
                     / sum(mpmath.mpf(float(v)) for v in w)) for xi, yi, wi in zip(x, y, w)]
    assert np.all(np.abs(g - ref) <= 2 * np.spacing(np.abs(ref))), "gradient"


# ---- targets: byte order, dtypes converted, bool bytes ---------------------------------

@pytest.mark.parametrize("family", ["logits", "probs", "focal"])
def test_byte_swapped_float64_target_float32_input(family, rng):
    x = rng.uniform(0, 1, 64) if family == "probs" else rng.normal(0, 3, 64)
    x = x.astype(np.float32)
    t = rng.uniform(0, 1, 64)
    t[0] = 0.9
    fb = {"logits": cbce.binary_cross_entropy_with_logits_forward_backward,
          "probs": cbce.binary_cross_entropy_forward_backward,
          "focal": cbce.sigmoid_focal_loss_forward_backward}[family]
    for red in ("none", "sum"):
        native = fb(x, t, reduction=red)
        swapped = fb(x, t.astype(">f8"), reduction=red)
        assert _bits_equal(native[0], swapped[0]) and _bits_equal(native[1], swapped[1]), red
    if family == "logits":
        got = LOGITS(np.float32([3.0]), np.array([0.9], ">f8"), reduction="none")[0]
        assert got == np.float32(float(mp_loss(3.0, 0.9))), got


def test_wide_integer_target_not_rounded_to_float32():
    """An int32 target is converted to float64, not to the float32 input's dtype."""
    x = np.float32([0.5])
    t = np.array([16777217], np.int32)
    got = cbce.binary_cross_entropy_with_logits_backward(x, t, reduction="none")
    assert _bits_equal(got, cbce.binary_cross_entropy_with_logits_backward(
        x, t.astype(np.float64), reduction="none"))


@pytest.mark.parametrize("byte", [2, 3, 128, 255])
def test_non_canonical_bool_targets_are_true(byte):
    t = np.array([byte, 0, 1], np.uint8).view(bool)
    canon = np.array([True, False, True])
    assert list(t) == list(canon)   # NumPy reads them so
    cases = [(LOGITS, np.array([5.0, 1.0, -2.0]), {}),
             (cbce.binary_cross_entropy, np.array([0.5, 0.25, 1.0]), {}),
             (cbce.sigmoid_focal_loss, np.array([5.0, 1.0, -2.0]), {}),
             (cbce.binary_cross_entropy_with_logits_backward, np.array([5.0, 1.0, -2.0]), {})]
    for f, x, kw in cases:
        assert _bits_equal(f(x, t, reduction="none"), f(x, canon, reduction="none")), f
    assert LOGITS(np.array([5.0]), t[:1], reduction="none")[0] == float(mp_loss(5.0, 1.0))


# ---- argument types --------------------------------------------------------------------

def test_argument_types():
    x, y = np.zeros(3), np.ones(3)
    bwd = cbce.binary_cross_entropy_with_logits_backward
    for red in ("mean", "sum", "weighted_mean", "none"):
        for go in (None, "3", b"3", object()):
            with pytest.raises(TypeError, match="grad_output"):
                bwd(x, y, reduction=red, grad_output=go)
    for ls in ("0.5", True, np.bool_(False), None, [0.1]):
        with pytest.raises(TypeError, match="label_smoothing"):
            LOGITS(x, y, label_smoothing=ls)
    for g in ("2", True, None):
        with pytest.raises(TypeError, match="gamma"):
            cbce.sigmoid_focal_loss(x, y, gamma=g)
    for al in ("0.25", True):
        with pytest.raises(TypeError, match="alpha"):
            cbce.sigmoid_focal_loss(x, y, alpha=al)
    # real numbers of every kind are still taken
    assert LOGITS(x, y, label_smoothing=np.float32(0.5)) == LOGITS(x, y, label_smoothing=0.5)
    assert LOGITS(x, y, label_smoothing=np.array(0.5)) == LOGITS(x, y, label_smoothing=0.5)
    assert cbce.sigmoid_focal_loss(x, y, gamma=2) == cbce.sigmoid_focal_loss(x, y, gamma=2.0)


def test_num_threads_too_large_is_value_error():
    x, y = np.zeros(3), np.ones(3)
    for n in (2**31, 2**63, 10**30):
        with pytest.raises(ValueError, match="num_threads"):
            LOGITS(x, y, num_threads=n)
        before = cbce.get_num_threads()
        with pytest.raises(ValueError, match="num_threads"):
            cbce.set_num_threads(n)
        assert cbce.get_num_threads() == before
    assert LOGITS(x, y, num_threads=2**31 - 1) == LOGITS(x, y)


# ---- argument checks before any data is read -------------------------------------------

HUGE = 2**40   # elements: reading them would take an hour, so a quick error read none


def _quick(call, exc, match):
    t0 = time.perf_counter()
    with pytest.raises(exc, match=match):
        call()
    return time.perf_counter() - t0


def test_bad_arguments_refused_before_the_data_is_read():
    x = np.broadcast_to(np.float64(2.0), (HUGE,))   # outside [0, 1] for BCE on probs
    t16 = np.broadcast_to(np.float16(1.0), (HUGE,))  # a target that would be converted
    wf = np.lib.stride_tricks.as_strided(np.zeros(2), (HUGE // 2, 2), (0, 8))  # copied
    t = np.broadcast_to(np.float64(0.5), (HUGE,))
    cases = [
        (lambda: cbce.binary_cross_entropy(x, t, reduction="avg"), ValueError, "reduction"),
        (lambda: cbce.binary_cross_entropy(x, t, label_smoothing=2.0), ValueError,
         "label_smoothing"),
        (lambda: cbce.binary_cross_entropy(x, t, num_threads=0), ValueError, "num_threads"),
        (lambda: cbce.binary_cross_entropy_backward(x, t, grad_output="1"), TypeError,
         "grad_output"),
        (lambda: LOGITS(x, t16, reduction="avg"), ValueError, "reduction"),
        (lambda: LOGITS(x, t16, reduction="none", out=np.empty(3)), ValueError, "shape"),
        (lambda: LOGITS(x, t16, reduction="none", out=t), ValueError, "read-only"),
        (lambda: cbce.sigmoid_focal_loss(wf, wf, gamma=-1.0),
         ValueError, "gamma"),
        (lambda: LOGITS(wf, wf, reduction="none", out=np.empty((2, 2))), ValueError, "shape"),
        (lambda: cbce.sigmoid(t16, out=np.empty(2)), ValueError, "shape"),
    ]
    for call, exc, match in cases:
        took = _quick(call, exc, match)
        assert took < 0.5, f"{match}: {took:.3f} s for a refused call"
