"""The loss registry (src/cbce/core/registry.h): the generated files are up to date, and
every family it lists has its functions, class and parameter checks, in every binding.

Generic over the registry: a family added there is tested here without an edit.
"""
import inspect
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import cbce
from cbce._registry import FAMILIES, PARAMS

ROOT = Path(__file__).resolve().parent.parent
SUFFIXES = ("", "_backward", "_forward_backward", "_grad_hess")


def _bad_values(name):
    """Values outside a parameter's range (and non-numbers), from its registry entry."""
    _, lo, hi, kind, _ = PARAMS[name]
    bad = [float("inf"), float("-inf"), "x", 1j]
    bad.append(float("nan"))  # for an or_nan parameter NaN is the core's "none": Python's None
    if lo > -1.7e308:
        bad.append(math.nextafter(lo, -math.inf))
    if hi < 1.7e308:
        bad.append(hi if kind == "half_open" else math.nextafter(hi, math.inf))
    return bad


def _inputs(fam):
    x = np.array([0.25, 0.5, 0.75]) if fam["probs"] else np.array([-1.0, 0.5, 3.0])
    return x, np.array([0.0, 1.0, 1.0])


@pytest.mark.skipif(not (ROOT / "tools/gen_registry.py").exists(), reason="needs the source tree")
def test_generated_files_are_up_to_date():
    r = subprocess.run([sys.executable, str(ROOT / "tools/gen_registry.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("fam", FAMILIES, ids=[f["name"] for f in FAMILIES])
def test_functions_and_class_exist_with_the_registry_signature(fam):
    for sfx in SUFFIXES:
        fn = getattr(cbce, fam["python"] + sfx)
        assert fam["python"] + sfx in cbce.__all__
        sig = inspect.signature(fn)
        for name, default in fam["params"]:
            p = sig.parameters[name]
            assert p.kind is p.KEYWORD_ONLY, f"{fn.__name__}: {name} is not keyword-only"
            want = None if default is None else default
            assert p.default == want, f"{fn.__name__}: {name} defaults to {p.default!r}"
        assert ("pos_weight" in sig.parameters) == fam["pos_weight"], fn.__name__
    cls = getattr(cbce, fam["cls"])
    obj = cls()
    text = repr(obj)
    for name, default in fam["params"]:
        assert f"{name}={default!r}" in text, text
    x, y = _inputs(fam)
    assert obj(x, y) == getattr(cbce, fam["python"])(x, y)


@pytest.mark.parametrize("fam", FAMILIES, ids=[f["name"] for f in FAMILIES])
def test_parameters_out_of_range_raise_naming_the_value(fam):
    x, y = _inputs(fam)
    for name, default in fam["params"]:
        for bad in _bad_values(name):
            for sfx in SUFFIXES:
                fn = getattr(cbce, fam["python"] + sfx)
                out = np.full(3, 7.0)
                where = {"": None, "_backward": out, "_forward_backward": (None, out),
                         "_grad_hess": (out, None)}[sfx]
                # a non-number is a TypeError, a number out of range a ValueError
                exc = TypeError if isinstance(bad, (str, complex)) else ValueError
                with pytest.raises(exc, match=name) as e:
                    fn(x, y, **{name: bad}, out=where)
                assert repr(bad) in str(e.value), str(e.value)
                assert np.all(out == 7.0), f"{fn.__name__}({name}={bad!r}) wrote its output"
            with pytest.raises(exc, match=name):
                getattr(cbce, fam["cls"])(**{name: bad})(x, y)


@pytest.mark.parametrize("fam", FAMILIES, ids=[f["name"] for f in FAMILIES])
def test_parameters_at_the_ends_of_their_range_are_taken(fam):
    x, y = _inputs(fam)
    for name, _ in fam["params"]:
        _, lo, hi, kind, _ = PARAMS[name]
        ends = [v for v in (lo, hi if kind != "half_open" else math.nextafter(hi, -math.inf))
                if abs(v) < 1e300] + ([None] if kind == "or_nan" else [])
        for v in ends:
            r = getattr(cbce, fam["python"])(x, y, **{name: v}, reduction="none")
            assert r.shape == x.shape


def test_focal_label_smoothing_is_the_smoothed_target():
    """sigmoid_focal_loss(label_smoothing=eps) is the focal loss of y*(1-eps) + eps/2 (the
    Keras convention API.md states), against a float64 NumPy formula of torchvision's loss."""
    rng = np.random.default_rng(3)
    x = rng.normal(0, 4, 2000)
    t = (rng.random(2000) < 0.4).astype(np.float64)
    for eps in (0.0, 0.1, 1.0):
        for alpha, gamma in ((0.25, 2.0), (None, 0.5)):
            y = t * (1 - eps) + eps / 2
            p = 1 / (1 + np.exp(-x))
            ce = np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x)))
            p_t = p * y + (1 - p) * (1 - y)
            ref = ce * (1 - p_t) ** gamma
            if alpha is not None:
                ref = ref * (alpha * y + (1 - alpha) * (1 - y))
            got = cbce.sigmoid_focal_loss(x, t, alpha=alpha, gamma=gamma, label_smoothing=eps,
                                          reduction="none")
            np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-300,
                                       err_msg=f"eps={eps} alpha={alpha} gamma={gamma}")
            same = cbce.sigmoid_focal_loss(x, y, alpha=alpha, gamma=gamma, reduction="none")
            # y rounded to double moves the loss by ~|x| u: a loose bound
            np.testing.assert_allclose(got, same, rtol=1e-13, atol=0,
                                       err_msg=f"eps={eps} alpha={alpha} gamma={gamma}")


@pytest.mark.parametrize("fam", FAMILIES, ids=[f["name"] for f in FAMILIES])
def test_functions_made_from_the_registry_match_the_written_ones(fam):
    """The functions _core makes for a family without written wrappers (a new loss) have the
    written ones' signatures and results."""
    from cbce import _core
    x, y = _inputs(fam)
    w = np.array([1.0, 0.5, 2.0])
    for sfx, op in _core._SUFFIX_OPS:
        written = getattr(cbce, fam["python"] + sfx)
        made = _core._family_function(fam, sfx, op)
        assert inspect.signature(made) == inspect.signature(written), fam["python"] + sfx
        kw = {} if sfx == "_grad_hess" else {"reduction": "sum"}
        a, b = made(x, y, w, **kw), written(x, y, w, **kw)
        for u, v in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,)):
            np.testing.assert_array_equal(u, v, err_msg=fam["python"] + sfx)


# a setting other than the default for each parameter (a parameter not listed keeps it)
SETTINGS = {"label_smoothing": 0.1, "alpha": 0.3, "gamma": 1.5, "epsilon": -0.5,
            "gamma_pos": 1.0, "gamma_neg": 2.0, "clip": 0.1}


@pytest.mark.parametrize("fam", FAMILIES, ids=[f["name"] for f in FAMILIES])
def test_weights_reductions_grad_output_layouts(fam, rng):
    """The options every family shares, against the family's own unreduced results: weights,
    the four reductions, grad_output, forward_backward = forward and backward, layouts and
    target dtypes, in place, thread counts (bitwise), float16."""
    FL, FB, FFB = (getattr(cbce, fam["python"] + s) for s in SUFFIXES[:3])
    kw = {n: SETTINGS.get(n, d) for n, d in fam["params"]}
    x = rng.normal(0, 3, (20, 5))
    if fam["probs"]:
        x = 1 / (1 + np.exp(-x))
    y = (rng.random((20, 5)) < 0.3).astype(np.float64)
    w = rng.random(5)
    ln = FL(x, y, w, **kw, reduction="none")
    np.testing.assert_allclose(ln, w * FL(x, y, **kw, reduction="none"), rtol=1e-15)
    np.testing.assert_allclose(FL(x, y, w, **kw, reduction="sum"), ln.sum(), rtol=1e-14)
    np.testing.assert_allclose(FL(x, y, w, **kw, reduction="mean"), ln.mean(), rtol=1e-14)
    np.testing.assert_allclose(FL(x, y, w, **kw, reduction="weighted_mean"),
                               ln.sum() / np.broadcast_to(w, x.shape).sum(), rtol=1e-14)
    gn = FB(x, y, w, **kw, reduction="none")
    np.testing.assert_allclose(FB(x, y, w, **kw, reduction="mean", grad_output=2.0),
                               2 * gn / x.size, rtol=1e-14)
    go = rng.random(x.shape)
    np.testing.assert_allclose(FB(x, y, w, **kw, reduction="none", grad_output=go), gn * go,
                               rtol=1e-14)
    for red in ("none", "sum", "mean", "weighted_mean"):
        a, b = FFB(x, y, w, **kw, reduction=red)
        np.testing.assert_array_equal(a, FL(x, y, w, **kw, reduction=red), err_msg=red)
        np.testing.assert_array_equal(b, FB(x, y, w, **kw, reduction=red), err_msg=red)
    np.testing.assert_array_equal(FL(x.T, y.astype(bool).T, **kw, reduction="none"),
                                  FL(np.ascontiguousarray(x.T), y.T.copy(), **kw,
                                     reduction="none"))
    for tdt in (np.int8, np.int64):   # read as is; converted
        np.testing.assert_array_equal(FL(x[::-2], y[::-2].astype(tdt), **kw, reduction="none"),
                                      FL(x[::-2].copy(), y[::-2].copy(), **kw, reduction="none"),
                                      err_msg=np.dtype(tdt).name)
    g = x.copy()
    assert FB(g, y, **kw, reduction="none", out=g) is g
    np.testing.assert_array_equal(g, FB(x, y, **kw, reduction="none"))
    xl = rng.normal(0, 4, 3001)  # several chunks and spans
    if fam["probs"]:
        xl = 1 / (1 + np.exp(-xl))
    yl = (rng.random(3001) < 0.5).astype(np.float64)
    for red in ("none", "mean"):
        want = FFB(xl, yl, **kw, reduction=red)
        gl = xl.copy()
        got = FFB(gl, yl, **kw, reduction=red, out=(None, gl))
        assert got[1] is gl
        np.testing.assert_array_equal(got[0], want[0], err_msg=f"in place, {red}: loss")
        np.testing.assert_array_equal(got[1], want[1], err_msg=f"in place, {red}: gradient")
    big = rng.normal(0, 4, 300_000)
    if fam["probs"]:
        big = 1 / (1 + np.exp(-big))
    tb = (rng.random(300_000) < 0.5).astype(np.uint8)
    assert FL(big, tb, **kw, num_threads=1) == FL(big, tb, **kw, num_threads=2)
    h16 = FL(x.astype(np.float16), y, **kw, reduction="none")
    assert h16.dtype == np.float16
    np.testing.assert_array_equal(
        h16, FL(x.astype(np.float16).astype(np.float32), y, **kw, reduction="none")
        .astype(np.float16))
