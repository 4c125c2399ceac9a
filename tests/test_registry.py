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
                with pytest.raises(ValueError, match=name) as e:
                    fn(x, y, **{name: bad}, out=where)
                assert repr(bad) in str(e.value), str(e.value)
                assert np.all(out == 7.0), f"{fn.__name__}({name}={bad!r}) wrote its output"
            with pytest.raises(ValueError, match=name):
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
