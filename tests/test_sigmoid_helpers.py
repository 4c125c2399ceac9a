"""cbce.sigmoid, log_sigmoid, softplus: accuracy against the 80-digit reference CSVs (every
x over the whole range, subnormals and +-inf included; subnormal results judged in
subnormal ulps), and the calling conventions (dtype kept, out=, in place, strides, errors).
"""
import numpy as np
import pytest

import cbce
from reference import load_logits_reference, report_ulp, ulp_error

DTYPES = [np.float32, np.float64]
DT_IDS = ["float32", "float64"]
HELPERS = {"sigmoid": cbce.sigmoid, "log_sigmoid": cbce.log_sigmoid,
           "softplus": cbce.softplus}


@pytest.fixture(scope="module", params=DTYPES, ids=DT_IDS)
def ref(request):
    return load_logits_reference(request.param)


@pytest.mark.parametrize("name", list(HELPERS))
def test_within_one_ulp_of_reference(ref, name):
    x = ref["x"]
    dt = x.dtype
    got = HELPERS[name](x)
    assert got.dtype == dt and got.shape == x.shape
    err = ulp_error(got, ref[name], dt)
    worst = float(np.max(err))
    report_ulp(f"{dt.name} {name}", worst, 1.0)
    if not worst <= 1.0:
        bad = np.nonzero(~(err <= 1.0))[0]
        order = bad[np.argsort(-np.nan_to_num(err[bad], nan=np.inf))][:8]
        lines = [f"  x={float(x[i]).hex()} ({float(x[i]):.9g}): got {float(got[i])!r}, "
                 f"exact {ref[name].approx[i]!r}, {err[i]:.4g} ulp" for i in order]
        pytest.fail(f"{dt.name} {name}: {len(bad)} of {len(x)} values over 1 ulp "
                    f"(max {worst:.4g}):\n" + "\n".join(lines))


@pytest.mark.parametrize("name", list(HELPERS))
def test_reference_covers_the_range(ref, name):
    """The CSV does exercise the hard regions (else the test above proves little)."""
    x = ref["x"]
    fin = np.isfinite(x)
    assert np.isinf(x).any() and (np.abs(x[fin]) > 30).any() and (np.abs(x[fin]) < 1e-30).any()
    tiny = np.finfo(x.dtype).tiny
    sub = (ref[name].approx != 0) & (np.abs(ref[name].approx) < tiny)
    if name != "softplus":  # sigmoid(x), log_sigmoid(x) = -e^x near -inf/+inf
        assert sub.any(), f"no subnormal {name} results in the reference"


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_limits_and_nan(dtype):
    x = np.array([-np.inf, np.inf, np.nan, 0.0, -0.0], dtype=dtype)
    s, ls, sp = cbce.sigmoid(x), cbce.log_sigmoid(x), cbce.softplus(x)
    np.testing.assert_array_equal(s, np.array([0, 1, np.nan, 0.5, 0.5], dtype=dtype))
    np.testing.assert_array_equal(ls[:3], np.array([-np.inf, 0, np.nan], dtype=dtype))
    np.testing.assert_array_equal(sp[:3], np.array([0, np.inf, np.nan], dtype=dtype))
    ln2 = dtype(np.log(2.0))
    assert ls[3] == -ln2 and sp[3] == ln2 and ls[4] == -ln2 and sp[4] == ln2


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("name", list(HELPERS))
def test_dtype_kept_and_matches_float64(dtype, name, rng):
    x = (rng.standard_normal(257) * 6).astype(dtype)
    got = HELPERS[name](x)
    assert got.dtype == np.dtype(dtype) and got.shape == x.shape
    want = HELPERS[name](x.astype(np.float64))
    # within 1 ulp of the dtype (float16 is computed in float32 and rounded again; its
    # subnormals are judged in subnormal ulps)
    ulp = np.abs(np.spacing(want.astype(dtype))).astype(np.float64)
    err = np.abs(got.astype(np.float64) - want) / ulp
    assert np.all(err <= 1.0), (
        f"{name} {np.dtype(dtype).name}: max {err.max():.3g} ulp at x={x[np.argmax(err)]!r}")


@pytest.mark.parametrize("name", list(HELPERS))
def test_layouts_out_and_in_place(name, rng):
    f = HELPERS[name]
    base = rng.standard_normal((6, 8)) * 10
    want = f(np.ascontiguousarray(base))
    for view in (base.T, base[::-1, ::2], base[:, ::-3], np.asfortranarray(base)):
        np.testing.assert_array_equal(f(view), f(np.ascontiguousarray(view)))
    ro = base.copy()
    ro.flags.writeable = False
    np.testing.assert_array_equal(f(ro), want)
    out = np.empty_like(base)
    r = f(base, out=out)
    assert r is out
    np.testing.assert_array_equal(out, want)
    # strided out
    big = np.zeros((6, 16))
    r = f(base, out=big[:, ::2])
    np.testing.assert_array_equal(big[:, ::2], want)
    assert np.all(big[:, 1::2] == 0)
    # in place
    inplace = base.copy()
    r = f(inplace, out=inplace)
    assert r is inplace
    np.testing.assert_array_equal(inplace, want)
    # out overlapping the input in another pattern
    buf = base.ravel().copy()
    r = f(buf[:-1], out=buf[1:])
    np.testing.assert_array_equal(r, f(base.ravel()[:-1]))
    # lists, scalars, empty
    assert f([0.0, 1.0]).dtype == np.float64
    s = f(np.float32(0.5))
    assert np.ndim(s) == 0 and np.asarray(s).dtype == np.float32
    assert f(np.empty((0, 3))).shape == (0, 3)


@pytest.mark.parametrize("name", list(HELPERS))
def test_errors(name):
    f = HELPERS[name]
    x = np.zeros(4)
    with pytest.raises(TypeError, match="float"):
        f(np.arange(4))
    with pytest.raises(TypeError, match="float"):
        f(np.zeros(3, dtype=np.complex128))
    with pytest.raises(TypeError, match="float"):
        f([1, 2, 3])
    with pytest.raises(ValueError, match="shape"):
        f(x, out=np.empty(5))
    with pytest.raises(TypeError, match="dtype"):
        f(x, out=np.empty(4, dtype=np.float32))
    ro = np.empty(4)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        f(x, out=ro)
    with pytest.raises(TypeError):
        f(x, out=[0.0] * 4)


def test_non_native_byte_order():
    x = np.linspace(-5, 5, 11)
    xs = x.astype(">f8")
    got = cbce.sigmoid(xs)
    np.testing.assert_array_equal(got, cbce.sigmoid(x))
