"""Hardening, part 1: the table of bad input and what each row gets.

Every row of the "bad input" table (docs/guide/errors.md) has a test here.  For every error row the test
also checks that nothing the caller passed was modified: input, target, weight, pos_weight,
grad_output and `out` arrays are compared byte for byte before and after the call (each is
a view into an owning buffer, and the whole owning buffer is compared, so a stray write
next to a strided view is caught as well).

Each test is parametrised over the functions it applies to (`loss_params` filters by kind,
pos_weight, label_smoothing, focal parameters and output arity), so nothing is skipped.  A
function of the contract (docs/contract.md) missing from `cbce` fails
test_every_api_function_exists; the two functions that the contract does not list (BCE on
probabilities: forward_backward, grad_hess) are tested where `cbce` has them.
"""
import re
import sys

import numpy as np
import pytest

import cbce
from cbce._registry import FAMILIES

# ---- the functions under test -----------------------------------------------------------

# name -> (kind, takes_pos_weight, takes_smoothing, takes_focal, op), for every family of
# the registry (cbce._registry, generated from src/cbce/core/registry.h).
# kind: probs (inputs in [0, 1]), focal (takes gamma), logits; op: fwd (one output, reduced
# or not), bwd (one output, grad_output), fwd_bwd (pair out, reduced loss), grad_hess (pair
# out, no reduction argument)
LOSS_FUNCTIONS = {
    f["python"] + sfx: ("probs" if f["probs"] else "focal" if "gamma" in dict(f["params"])
                        else "logits", f["pos_weight"], "label_smoothing" in dict(f["params"]),
                        "gamma" in dict(f["params"]), op)
    for f in FAMILIES
    for sfx, op in (("", "fwd"), ("_backward", "bwd"), ("_forward_backward", "fwd_bwd"),
                    ("_grad_hess", "grad_hess"))
}
ELEMENTWISE = ["sigmoid", "log_sigmoid", "softplus"]
# Functions the contract (docs/contract.md) lists; binary_cross_entropy_{forward_backward,
# grad_hess} are not in it, so their absence is not reported as missing.
REQUIRED = set(LOSS_FUNCTIONS) - {"binary_cross_entropy_forward_backward",
                                  "binary_cross_entropy_grad_hess"}
REQUIRED |= set(ELEMENTWISE)


def missing_functions():
    return sorted(n for n in REQUIRED if not hasattr(cbce, n))


def test_every_api_function_exists():
    """Reports (fails) while a function of the contract is missing from cbce."""
    assert missing_functions() == [], f"not in cbce yet: {missing_functions()}"


def info(name):
    kind, pw, ls, focal, op = LOSS_FUNCTIONS[name]
    return dict(kind=kind, pos_weight=pw, smoothing=ls, focal=focal, op=op)


def loss_params(*, ops=None, each=None, **props):
    """pytest.param(name) for every loss function in cbce whose info() matches `props`
    (e.g. kind="probs", pos_weight=True) and whose op is in `ops`; with `each`, a function
    of info() giving the values that apply to it, pytest.param(name, value) for each."""
    out = []
    for name in LOSS_FUNCTIONS:
        i = info(name)
        if not hasattr(cbce, name) or any(i[k] != v for k, v in props.items()):
            continue
        if ops is not None and i["op"] not in ops:
            continue
        if each is None:
            out.append(pytest.param(name, id=name))
        else:
            out.extend(pytest.param(name, v, id=f"{name}-{v}") for v in each(i))
    return out


LOSS_PARAMS = loss_params()
ELEM_PARAMS = [pytest.param(n, id=n) for n in ELEMENTWISE if hasattr(cbce, n)]
# the weights a function takes: weight always, pos_weight for BCE with logits
WEIGHT_PARAMS = loss_params(each=lambda i: ["weight"] + ["pos_weight"] * i["pos_weight"])


# ---- owned buffers and byte snapshots ---------------------------------------------------

class Owned:
    """Arrays handed to cbce, each a view into a buffer the test owns and snapshots."""

    def __init__(self):
        self.buffers = []

    def view(self, arr, *, layout="c", writeable=True):
        """A copy of `arr` laid out as asked, living in a buffer registered here.

        layout: 'c' contiguous, 'f' Fortran order, 'strided' every other element,
        'reversed' negative strides, 'swapped' non-native byte order, 'unaligned' C order
        one byte past an aligned address (not aligned for an itemsize above 1).
        """
        arr = np.asarray(arr)
        if layout == "unaligned":
            raw = np.zeros(arr.nbytes + 1, np.uint8)
            self.buffers.append(raw)
            v = raw[1:].view(arr.dtype).reshape(arr.shape)
            v[...] = arr
        elif layout == "strided":
            big = np.zeros(arr.shape[:-1] + (2 * max(arr.shape[-1], 1),) if arr.ndim else (2,),
                           dtype=arr.dtype)
            self.buffers.append(big)
            if arr.ndim == 0:
                v = big[::2].reshape(())
            else:
                v = big[..., ::2][..., :arr.shape[-1]]
            v[...] = arr
        elif layout == "reversed":
            big = np.array(arr[(slice(None, None, -1),) * arr.ndim], copy=True)
            self.buffers.append(big)
            v = big[(slice(None, None, -1),) * arr.ndim]
        elif layout == "f":
            big = np.asfortranarray(arr).copy(order="F")
            self.buffers.append(big)
            v = big
        elif layout == "swapped":
            big = arr.astype(arr.dtype.newbyteorder("S"))
            self.buffers.append(big)
            v = big
        else:
            big = np.array(arr, copy=True)
            self.buffers.append(big)
            v = big
        if not writeable:
            v.flags.writeable = False
        return v

    def snapshot(self):
        return [b.tobytes() for b in self.buffers]

    def assert_unchanged(self, before, what):
        after = self.snapshot()
        for k, (b, a) in enumerate(zip(before, after)):
            assert a == b, f"{what}: caller's array #{k} was modified on the error path"


def make_case(name, owned, shape=(3, 4), dtype=np.float64, layout="c", rng=None):
    """Valid input and target for `name` (probabilities in [0, 1] for BCE)."""
    rng = rng or np.random.default_rng(1)
    kind = info(name)["kind"]
    if kind == "probs":
        x = rng.uniform(0.05, 0.95, shape).astype(dtype)
    else:
        x = rng.normal(0, 3, shape).astype(dtype)
    y = (rng.uniform(0, 1, shape) < 0.5).astype(dtype)
    return owned.view(x, layout=layout), owned.view(y, layout=layout)


def call(name, x, y, **kw):
    return getattr(cbce, name)(x, y, **kw)


def expect_error(name, exc, pattern, owned, **kw):
    """Call `name`, expect `exc` with a message matching `pattern`, caller's arrays intact."""
    x, y = kw.pop("x"), kw.pop("y")
    before = owned.snapshot()
    with pytest.raises(exc, match=pattern):
        call(name, x, y, **kw)
    owned.assert_unchanged(before, f"{name}({kw})")


def out_kw(name, shape, dtype, owned, bad=None):
    """A valid `out` for name (or one with `bad` substituted); None for reduced fwd."""
    op = info(name)["op"]
    mk = (lambda: owned.view(np.full(shape, 7.0, dtype))) if bad is None else bad
    if op in ("fwd", "bwd"):
        return mk()
    if op == "fwd_bwd":
        return (None, mk())
    return (mk(), owned.view(np.full(shape, 7.0, dtype)))


def reduction_kw(name, reduction):
    if info(name)["op"] == "grad_hess":
        return {}
    return {"reduction": reduction}


# ---- rows: shapes ---------------------------------------------------------------------

@pytest.mark.parametrize("name", LOSS_PARAMS)
@pytest.mark.parametrize("tshape", [(2, 4), (4, 3), (12,), (3, 4, 1), (1, 4), ()])
def test_target_shape_mismatch(name, tshape):
    owned = Owned()
    x, _ = make_case(name, owned)
    y = owned.view(np.zeros(tshape))
    pattern = re.escape(str(tshape)) + ".*" + re.escape(str((3, 4)))
    expect_error(name, ValueError, pattern, owned, x=x, y=y)


@pytest.mark.parametrize("name,which", WEIGHT_PARAMS)
@pytest.mark.parametrize("wshape", [(3,), (2, 3, 4), (4, 3), (2, 4), (3, 2)])
def test_weight_not_broadcastable(name, wshape, which):
    owned = Owned()
    x, y = make_case(name, owned)
    w = owned.view(np.ones(wshape))
    expect_error(name, ValueError, which + ".*" + re.escape(str(wshape)), owned,
                 x=x, y=y, **{which: w})


@pytest.mark.parametrize("name", loss_params(pos_weight=False))
def test_pos_weight_refused_where_not_taken(name):
    owned = Owned()
    x, y = make_case(name, owned)
    with pytest.raises(TypeError):
        call(name, x, y, pos_weight=np.ones(4))


# ---- rows: dtypes ---------------------------------------------------------------------

BAD_INPUT_DTYPES = [np.int64, np.int8, np.uint8, np.bool_, np.complex128, np.complex64,
                    object, "U3", "datetime64[s]"]
if np.dtype(np.longdouble) != np.dtype(np.float64):   # on some platforms it is float64
    BAD_INPUT_DTYPES.append(np.longdouble)


@pytest.mark.parametrize("name", LOSS_PARAMS)
@pytest.mark.parametrize("dtype", BAD_INPUT_DTYPES, ids=str)
def test_input_dtype_refused(name, dtype):
    owned = Owned()
    _, y = make_case(name, owned)
    x = owned.view(np.zeros((3, 4)).astype(dtype))
    expect_error(name, TypeError, "input", owned, x=x, y=y)


@pytest.mark.parametrize("name", LOSS_PARAMS)
@pytest.mark.parametrize("dtype", [np.complex128, "U3", object, "datetime64[s]", "V8"],
                         ids=str)
def test_target_dtype_refused(name, dtype):
    owned = Owned()
    x, _ = make_case(name, owned)
    if np.dtype(dtype).kind == "O":
        y = owned.view(np.array([[None] * 4] * 3, dtype=object))
    else:
        y = owned.view(np.zeros((3, 4)).astype(dtype))
    expect_error(name, TypeError, "target", owned, x=x, y=y)


@pytest.mark.parametrize("name", LOSS_PARAMS)
@pytest.mark.parametrize("tdtype", [np.bool_, np.uint8, np.int8, np.int16, np.int32,
                                    np.int64, np.uint64, np.float16, np.float32, np.float64])
def test_target_dtypes_accepted(name, tdtype):
    """Every real/bool target dtype gives the result of the same values as float64."""
    owned = Owned()
    x, y = make_case(name, owned)
    kw = reduction_kw(name, "none") if info(name)["op"] != "fwd_bwd" else {}
    want = call(name, x, y, **kw)
    got = call(name, x, y.astype(tdtype), **kw)
    for g, w in zip(np.atleast_1d(got) if info(name)["op"] in ("fwd", "bwd") else got,
                    np.atleast_1d(want) if info(name)["op"] in ("fwd", "bwd") else want):
        np.testing.assert_array_equal(np.asarray(g), np.asarray(w), err_msg=str(tdtype))


@pytest.mark.parametrize("name", LOSS_PARAMS)
def test_complex_weight_refused(name):
    """A complex weight must not lose its imaginary part silently (as a complex target or
    input does not: TypeError)."""
    owned = Owned()
    x, y = make_case(name, owned)
    w = owned.view(np.ones(4, np.complex128) * (1 + 1j))
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a ComplexWarning is not a refusal
        expect_error(name, TypeError, "weight", owned, x=x, y=y, weight=w)


# ---- rows: reduction ------------------------------------------------------------------

@pytest.mark.parametrize("name", loss_params(ops=("fwd", "bwd", "fwd_bwd")))
@pytest.mark.parametrize("reduction", ["avg", "", "MEAN", " mean", "elementwise_mean", 1, True,
                                       b"mean", 0.5])
def test_bad_reduction(name, reduction):
    owned = Owned()
    x, y = make_case(name, owned)
    expect_error(name, ValueError, "none.*sum.*mean.*weighted_mean", owned, x=x, y=y,
                 reduction=reduction)


@pytest.mark.parametrize("name", loss_params(ops=("fwd", "bwd", "fwd_bwd")))
def test_reduction_none_object_refused(name):
    """reduction=None is not one of the four strings: ValueError, as in PyTorch."""
    owned = Owned()
    x, y = make_case(name, owned)
    expect_error(name, ValueError, "none.*sum.*mean.*weighted_mean", owned, x=x, y=y,
                 reduction=None)


@pytest.mark.parametrize("name", loss_params(ops=("grad_hess",)))
def test_grad_hess_takes_no_reduction(name):
    owned = Owned()
    x, y = make_case(name, owned)
    with pytest.raises(TypeError):
        call(name, x, y, reduction="sum")


# ---- rows: label smoothing, gamma, alpha ------------------------------------------------

@pytest.mark.parametrize("name", loss_params(smoothing=True))
@pytest.mark.parametrize("eps", [-1e-300, -0.1, 1.0000001, 2, float("nan"), float("inf"),
                                 -float("inf")])
def test_bad_label_smoothing(name, eps):
    owned = Owned()
    x, y = make_case(name, owned)
    expect_error(name, ValueError, "label_smoothing", owned, x=x, y=y, label_smoothing=eps)


@pytest.mark.parametrize("name", loss_params(smoothing=True))
@pytest.mark.parametrize("eps", ["a", None, [0.1, 0.2], 1j])
def test_label_smoothing_not_a_number(name, eps):
    owned = Owned()
    x, y = make_case(name, owned)
    before = owned.snapshot()
    with pytest.raises((TypeError, ValueError)):
        call(name, x, y, label_smoothing=eps)
    owned.assert_unchanged(before, f"label_smoothing={eps!r}")


@pytest.mark.parametrize("name", loss_params(smoothing=True))
@pytest.mark.parametrize("eps", [0.0, 1.0, 0.5])
def test_label_smoothing_bounds_accepted(name, eps):
    owned = Owned()
    x, y = make_case(name, owned)
    r = call(name, x, y, label_smoothing=eps)
    assert all(np.all(np.isfinite(np.asarray(v))) for v in (r if isinstance(r, tuple) else (r,)))


@pytest.mark.parametrize("name", loss_params(focal=True))
@pytest.mark.parametrize("gamma", [-1e-300, -1.0, float("nan"), float("inf"), -float("inf")])
def test_bad_gamma(name, gamma):
    owned = Owned()
    x, y = make_case(name, owned)
    expect_error(name, ValueError, "gamma", owned, x=x, y=y, gamma=gamma)


@pytest.mark.parametrize("name", loss_params(focal=True))
@pytest.mark.parametrize("alpha", [float("inf"), -float("inf")])
def test_bad_alpha(name, alpha):
    owned = Owned()
    x, y = make_case(name, owned)
    expect_error(name, ValueError, "alpha", owned, x=x, y=y, alpha=alpha)


# ---- rows: values outside [0, 1] for BCE on probabilities ---------------------------------

PROB_BAD = [
    ("input", 1.5, (1, 2)), ("input", -0.25, (0, 0)), ("input", float("nan"), (2, 3)),
    ("input", float("inf"), (1, 0)), ("input", -1e-40, (0, 1)),
    ("target", 2.0, (2, 1)), ("target", -1.0, (0, 3)), ("target", float("nan"), (1, 1)),
]


@pytest.mark.parametrize("name", loss_params(kind="probs"))
@pytest.mark.parametrize("which,value,where", PROB_BAD)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("with_out", [False, True])
def test_probabilities_outside_unit_interval(name, which, value, where, dtype, with_out):
    owned = Owned()
    rng = np.random.default_rng(5)
    x = rng.uniform(0, 1, (3, 4)).astype(dtype)
    y = (rng.uniform(0, 1, (3, 4)) < 0.5).astype(dtype)
    (x if which == "input" else y)[where] = value
    # a second bad value later in C order: the message must name the first one
    if where != (2, 3):
        (x if which == "input" else y)[2, 3] = 3.0
    x, y = owned.view(x), owned.view(y)
    kw = {}
    if with_out:
        kw.update(reduction_kw(name, "none"))
        kw["out"] = out_kw(name, (3, 4), dtype, owned)
    flat = where[0] * 4 + where[1]
    pattern = rf"(index\D*({flat}|\({where[0]}, {where[1]}\)))"
    expect_error(name, ValueError, pattern, owned, x=x, y=y, **kw)


@pytest.mark.parametrize("name", loss_params(kind="probs"))
@pytest.mark.parametrize("tdtype,value", [(np.int8, -1), (np.uint8, 2), (np.int64, 5),
                                          (np.int8, 2)])
def test_probabilities_integer_target_outside(name, tdtype, value):
    owned = Owned()
    x = owned.view(np.full((3, 4), 0.5))
    y = np.zeros((3, 4), tdtype)
    y[1, 2] = value
    y = owned.view(y)
    expect_error(name, ValueError, r"index\D*(6|\(1, 2\))", owned, x=x, y=y)


@pytest.mark.parametrize("name", loss_params(kind="probs", ops=("bwd",)))
def test_probabilities_in_place_backward_untouched_on_error(name):
    """out is the input itself (in-place gradient) and a bad value sits at the end."""
    owned = Owned()
    x = owned.view(np.linspace(0, 1, 10000))
    x[-1] = 1.0000001
    y = owned.view(np.zeros(10000))
    expect_error(name, ValueError, r"index\D*9999", owned, x=x, y=y, reduction="none", out=x)


@pytest.mark.parametrize("name", loss_params(kind="probs"))
def test_probabilities_bounds_accepted(name):
    x = np.array([0.0, 1.0, 0.0, 1.0, -0.0])
    y = np.array([0.0, 1.0, 1.0, 0.0, 0.5])
    r = call(name, x, y, **reduction_kw(name, "none"))
    for v in (r if isinstance(r, tuple) else (r,)):
        assert not np.any(np.isnan(np.asarray(v))), v


# ---- rows: out ------------------------------------------------------------------------

def _out_cases():
    return [
        ("shape", lambda o: o.view(np.zeros(12)), ValueError, "shape"),
        ("shape-transposed", lambda o: o.view(np.zeros((4, 3))), ValueError, "shape"),
        ("dtype-f32", lambda o: o.view(np.zeros((3, 4), np.float32)), TypeError, "dtype"),
        ("dtype-int", lambda o: o.view(np.zeros((3, 4), np.int64)), TypeError, "dtype"),
        ("byteswapped", lambda o: o.view(np.zeros((3, 4)), layout="swapped"), TypeError,
         "dtype"),
        ("read-only", lambda o: o.view(np.zeros((3, 4)), writeable=False), ValueError,
         "read-only"),
        ("broadcast-view", lambda o: np.broadcast_to(o.view(np.zeros(4)), (3, 4)), ValueError,
         "read-only"),
        ("list", lambda o: [[0.0] * 4] * 3, TypeError, "NumPy array"),
        ("memoryview", lambda o: memoryview(o.view(np.zeros((3, 4)))), TypeError,
         "NumPy array"),
    ]


OUT_CASES = _out_cases()


# the output slots to test: the one output of fwd and bwd; the gradient of fwd_bwd (out[0]
# must be None for its reduced loss: its own row); both of grad_hess
OUT_SLOTS = {"fwd": [0], "bwd": [0], "fwd_bwd": [1], "grad_hess": [0, 1]}


@pytest.mark.parametrize("name,slot", loss_params(each=lambda i: OUT_SLOTS[i["op"]]))
@pytest.mark.parametrize("case", OUT_CASES, ids=[c[0] for c in OUT_CASES])
def test_bad_out(name, case, slot):
    _, make_bad, exc, pattern = case
    op = info(name)["op"]
    owned = Owned()
    x, y = make_case(name, owned)
    bad = make_bad(owned)
    kw = reduction_kw(name, "none") if op == "fwd" else {}
    if op in ("fwd", "bwd"):
        kw["out"] = bad
    else:
        good = owned.view(np.full((3, 4), 7.0))
        if op == "fwd_bwd":
            kw["out"] = (None, bad)
        else:
            kw["out"] = (bad, good) if slot == 0 else (good, bad)
    expect_error(name, exc, pattern, owned, x=x, y=y, **kw)


@pytest.mark.parametrize("name", loss_params(ops=("fwd_bwd", "grad_hess")))
@pytest.mark.parametrize("out", [np.zeros((3, 4)), (np.zeros((3, 4)),), [None] * 3, "ab"],
                         ids=["array", "1-tuple", "3-list", "str"])
def test_pair_out_not_a_pair(name, out):
    owned = Owned()
    x, y = make_case(name, owned)
    before = owned.snapshot()
    with pytest.raises(TypeError, match="pair"):
        call(name, x, y, out=out)
    owned.assert_unchanged(before, "out not a pair")


@pytest.mark.parametrize("name", loss_params(ops=("fwd_bwd",)))
def test_fwd_bwd_loss_out_with_reduction(name):
    owned = Owned()
    x, y = make_case(name, owned)
    expect_error(name, ValueError, "None", owned, x=x, y=y,
                 out=(owned.view(np.zeros((3, 4))), owned.view(np.zeros((3, 4)))))


@pytest.mark.parametrize("name", loss_params(ops=("fwd",)))
def test_reduced_fwd_with_out(name):
    """A reduced forward returns a scalar; an `out` for it is refused or ignored, but it is
    never half-written."""
    owned = Owned()
    x, y = make_case(name, owned)
    out = owned.view(np.full((3, 4), 7.0))
    try:
        r = call(name, x, y, reduction="sum", out=out)
    except (ValueError, TypeError):
        return
    assert np.ndim(r) == 0
    assert np.all(out == 7.0) or np.array_equal(
        out, call(name, x, y, reduction="none")), "out half-written by a reduced call"


# ---- rows: grad_output ------------------------------------------------------------------

@pytest.mark.parametrize("name", loss_params(ops=("bwd",)))
@pytest.mark.parametrize("reduction,go_shape", [("mean", (3,)), ("sum", (3, 4)),
                                                ("none", (3,)), ("none", (2, 3, 4)),
                                                ("weighted_mean", (2,))])
def test_bad_grad_output(name, reduction, go_shape):
    owned = Owned()
    x, y = make_case(name, owned)
    go = owned.view(np.ones(go_shape))
    expect_error(name, ValueError, "grad_output", owned, x=x, y=y, reduction=reduction,
                 grad_output=go)


# ---- rows: num_threads ------------------------------------------------------------------

@pytest.mark.parametrize("name", LOSS_PARAMS)
@pytest.mark.parametrize("nt", [0, -1, 1.5, True, "2"])
def test_bad_num_threads(name, nt):
    owned = Owned()
    x, y = make_case(name, owned)
    expect_error(name, ValueError, "num_threads", owned, x=x, y=y, num_threads=nt)


@pytest.mark.parametrize("nt", [0, -3, 2.0, None, "4", True])
def test_bad_set_num_threads(nt):
    old = cbce.get_num_threads()
    with pytest.raises(ValueError, match="num_threads"):
        cbce.set_num_threads(nt)
    assert cbce.get_num_threads() == old


# ---- rows: non-native byte order, layouts, 0-d, empty ------------------------------------

@pytest.mark.parametrize("name,which", loss_params(
    each=lambda i: ["input", "target", "weight"] + ["pos_weight"] * i["pos_weight"]))
def test_non_native_byte_order_works(name, which):
    """The contract: non-native byte order works (or raises a clear TypeError); here: works, with
    the bits of the native call."""
    owned = Owned()
    x, y = make_case(name, owned)
    kw = dict(reduction_kw(name, "none")) if info(name)["op"] != "fwd_bwd" else {}
    args = {"input": x, "target": y, "weight": owned.view(np.linspace(0.5, 2, 4)),
            "pos_weight": owned.view(np.linspace(1, 3, 4))}
    extra = {k: args[k] for k in ("weight", "pos_weight") if k == which}
    want = call(name, args["input"], args["target"], **kw, **extra)
    args[which] = owned.view(args[which], layout="swapped")
    extra = {k: args[k] for k in ("weight", "pos_weight") if k == which}
    before = owned.snapshot()
    got = call(name, args["input"], args["target"], **kw, **extra)
    owned.assert_unchanged(before, "byte-swapped call")
    for g, w in zip(got if isinstance(got, tuple) else (got,),
                    want if isinstance(want, tuple) else (want,)):
        assert np.asarray(g).dtype.isnative
        np.testing.assert_array_equal(np.asarray(g), np.asarray(w), err_msg=which)


@pytest.mark.parametrize("name", LOSS_PARAMS)
@pytest.mark.parametrize("layout", ["f", "strided", "reversed", "unaligned"])
def test_layouts_same_as_contiguous(name, layout):
    owned = Owned()
    x, y = make_case(name, owned)
    kw = dict(reduction_kw(name, "none")) if info(name)["op"] != "fwd_bwd" else {}
    want = call(name, x, y, **kw)
    x2, y2 = owned.view(x, layout=layout), owned.view(y, layout=layout)
    assert layout != "unaligned" or not (x2.flags.aligned or y2.flags.aligned)
    before = owned.snapshot()
    got = call(name, x2, y2, **kw)
    owned.assert_unchanged(before, layout)
    for g, w in zip(got if isinstance(got, tuple) else (got,),
                    want if isinstance(want, tuple) else (want,)):
        np.testing.assert_array_equal(np.asarray(g), np.asarray(w), err_msg=layout)


def _unaligned_operands(i):
    """The operands besides input and target that can be passed unaligned to a function."""
    ops = ["weight"] + ["pos_weight"] * i["pos_weight"] + ["out"]
    return ops + ["grad_output"] * (i["op"] == "bwd")


@pytest.mark.parametrize("name,which", loss_params(each=_unaligned_operands))
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_unaligned_operands(name, which, dtype):
    """An operand one byte past an aligned address (as dask's and pickle's buffers can be)
    gives the bits of the aligned call, and an unaligned `out` receives them.  (Reading a
    double through a misaligned pointer is undefined behaviour in C: the sanitizer run
    reports it if the binding hands such a buffer to the core.)"""
    owned = Owned()
    x, y = make_case(name, owned, dtype=dtype)
    op = info(name)["op"]
    kw = dict(reduction_kw(name, "none")) if op != "fwd_bwd" else {"reduction": "none"}
    vals = {"weight": np.linspace(0.5, 2, 4).astype(dtype),
            "pos_weight": np.linspace(1, 3, 4).astype(dtype),
            "grad_output": np.linspace(-1, 1, 12).reshape(3, 4).astype(dtype)}
    if which in vals:
        kw_al = dict(kw, **{which: owned.view(vals[which])})
        kw_un = dict(kw, **{which: owned.view(vals[which], layout="unaligned")})
        assert not kw_un[which].flags.aligned
        want = call(name, x, y, **kw_al)
        got = call(name, x, y, **kw_un)
    else:
        want = call(name, x, y, **kw)
        outs = [owned.view(np.full((3, 4), 7.0, dtype), layout="unaligned") for _ in range(2)]
        kw["out"] = outs[0] if op in ("fwd", "bwd") else tuple(outs)
        got = call(name, x, y, **kw)
        if op in ("fwd", "bwd"):
            assert got is outs[0]
        else:
            assert got[0] is outs[0] and got[1] is outs[1]
    for g, w in zip(got if isinstance(got, tuple) else (got,),
                    want if isinstance(want, tuple) else (want,)):
        np.testing.assert_array_equal(np.asarray(g), np.asarray(w),
                                      err_msg=f"{name}: unaligned {which}")


@pytest.mark.parametrize("name", LOSS_PARAMS)
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_zero_dimensional(name, dtype):
    """0-d input and target work like a 1-element array; 'none' gives a 0-d array."""
    xv = 0.3 if info(name)["kind"] == "probs" else -1.7
    x0, y0 = np.array(xv, dtype), np.array(1.0, dtype)
    x1, y1 = x0.reshape(1), y0.reshape(1)
    op = info(name)["op"]
    if op == "fwd":
        for red in ("none", "sum", "mean", "weighted_mean"):
            a, b = call(name, x0, y0, reduction=red), call(name, x1, y1, reduction=red)
            assert np.shape(a) == () and np.asarray(a).dtype == dtype, (red, a)
            assert np.asarray(a).tobytes() == np.asarray(b).tobytes(), (red, a, b)
    else:
        a, b = call(name, x0, y0), call(name, x1, y1)
        for u, v in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,)):
            if u is None:
                continue
            assert np.asarray(u).dtype == dtype
            assert np.asarray(u).reshape(-1).tobytes() == np.asarray(v).reshape(-1).tobytes()
    # python floats too
    r = call(name, float(xv), 1.0, **reduction_kw(name, "none"))
    assert r is not None


@pytest.mark.parametrize("name", LOSS_PARAMS)
@pytest.mark.parametrize("shape", [(0,), (0, 3), (3, 0), (0, 0, 2)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_empty(name, shape, dtype):
    """Empty arrays: mean and weighted_mean NaN, sum 0, 'none' and gradients empty."""
    x, y = np.zeros(shape, dtype), np.zeros(shape, dtype)
    op = info(name)["op"]
    if op == "fwd":
        assert np.isnan(call(name, x, y, reduction="mean"))
        assert np.isnan(call(name, x, y, reduction="weighted_mean"))
        s = call(name, x, y, reduction="sum")
        assert s == 0 and np.asarray(s).dtype == dtype
        r = call(name, x, y, reduction="none")
        assert r.shape == shape and r.dtype == dtype
        out = np.zeros(shape, dtype)
        assert call(name, x, y, reduction="none", out=out) is out
    elif op == "bwd":
        for red in ("none", "sum", "mean", "weighted_mean"):
            g = call(name, x, y, reduction=red)
            assert g.shape == shape and g.dtype == dtype
    elif op == "fwd_bwd":
        loss, g = call(name, x, y, reduction="sum")
        assert loss == 0 and g.shape == shape
        loss, g = call(name, x, y, reduction="mean")
        assert np.isnan(loss) and g.shape == shape
        loss, g = call(name, x, y, reduction="none")
        assert loss.shape == shape and g.shape == shape
    else:
        g, h = call(name, x, y)
        assert g.shape == shape and h.shape == shape


@pytest.mark.parametrize("name", LOSS_PARAMS)
def test_empty_with_weights(name):
    x, y = np.zeros((0, 4)), np.zeros((0, 4))
    kw = {"weight": np.ones(4)}
    if info(name)["pos_weight"]:
        kw["pos_weight"] = np.ones((0, 1))
    r = call(name, x, y, **kw, **reduction_kw(name, "none"))
    for v in (r if isinstance(r, tuple) else (r,)):
        assert np.asarray(v).shape == (0, 4)


@pytest.mark.parametrize("name", LOSS_PARAMS)
def test_float16_input(name):
    owned = Owned()
    x, y = make_case(name, owned, dtype=np.float16)
    r = call(name, x, y, **reduction_kw(name, "none"))
    for v in (r if isinstance(r, tuple) else (r,)):
        assert np.asarray(v).dtype == np.float16


@pytest.mark.parametrize("name", LOSS_PARAMS)
def test_read_only_inputs(name):
    owned = Owned()
    x, y = make_case(name, owned)
    want = call(name, x, y)
    x.flags.writeable = False
    y.flags.writeable = False
    got = call(name, x, y)
    for g, w in zip(got if isinstance(got, tuple) else (got,),
                    want if isinstance(want, tuple) else (want,)):
        np.testing.assert_array_equal(np.asarray(g), np.asarray(w))


@pytest.mark.parametrize("name", LOSS_PARAMS)
def test_buffer_protocol_and_lists(name):
    import array
    xv = [0.2, 0.7, 0.5] if info(name)["kind"] == "probs" else [-1.0, 0.5, 3.0]
    want = call(name, np.array(xv), np.array([0.0, 1.0, 1.0]))
    got_list = call(name, xv, [0, 1, 1])
    got_arr = call(name, array.array("d", xv), memoryview(array.array("d", [0.0, 1.0, 1.0])))
    for got in (got_list, got_arr):
        for g, w in zip(got if isinstance(got, tuple) else (got,),
                        want if isinstance(want, tuple) else (want,)):
            np.testing.assert_array_equal(np.asarray(g), np.asarray(w))


# ---- the elementwise helpers ------------------------------------------------------------

@pytest.mark.parametrize("name", ELEM_PARAMS)
@pytest.mark.parametrize("dtype", [np.int64, np.int8, np.bool_, np.complex128, object, "U2"],
                         ids=str)
def test_elementwise_refuses_non_float(name, dtype):
    owned = Owned()
    x = owned.view(np.zeros(5).astype(dtype))
    before = owned.snapshot()
    with pytest.raises(TypeError):
        getattr(cbce, name)(x)
    owned.assert_unchanged(before, name)


@pytest.mark.parametrize("name", ELEM_PARAMS)
@pytest.mark.parametrize("case", OUT_CASES, ids=[c[0] for c in OUT_CASES])
def test_elementwise_bad_out(name, case):
    _, make_bad, exc, pattern = case
    owned = Owned()
    x = owned.view(np.linspace(-3, 3, 12).reshape(3, 4))
    bad = make_bad(owned)
    before = owned.snapshot()
    with pytest.raises(exc, match=pattern):
        getattr(cbce, name)(x, out=bad)
    owned.assert_unchanged(before, name)


@pytest.mark.parametrize("name", ELEM_PARAMS)
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_elementwise_0d_empty_swapped(name, dtype):
    f = getattr(cbce, name)
    r = f(np.array(0.5, dtype))
    assert np.shape(r) == () and np.asarray(r).dtype == dtype
    e = f(np.zeros((0, 3), dtype))
    assert e.shape == (0, 3) and e.dtype == dtype
    x = np.linspace(-5, 5, 7).astype(dtype)
    want = f(x)
    got = f(x.astype(x.dtype.newbyteorder("S")))
    assert got.dtype.isnative
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("name", ELEM_PARAMS)
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_elementwise_unaligned(name, dtype):
    """Unaligned input and out give the bits of the aligned call."""
    owned = Owned()
    x = np.linspace(-5, 5, 12).reshape(3, 4).astype(dtype)
    want = getattr(cbce, name)(x)
    xu = owned.view(x, layout="unaligned")
    out = owned.view(np.zeros((3, 4), dtype), layout="unaligned")
    assert not (xu.flags.aligned or out.flags.aligned)
    np.testing.assert_array_equal(getattr(cbce, name)(xu), want)
    assert getattr(cbce, name)(xu, out=out) is out
    np.testing.assert_array_equal(out, want)


@pytest.mark.parametrize("name", ELEM_PARAMS)
def test_elementwise_in_place(name):
    f = getattr(cbce, name)
    x = np.linspace(-5, 5, 11)
    want = f(x)
    assert f(x, out=x) is x
    np.testing.assert_array_equal(x, want)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
