"""Parity with PyTorch's binary_cross_entropy_with_logits (CPU) at moderate logits.

At moderate logits PyTorch is accurate to a few ulps of the largest value involved (its
formula cancels, so its *relative* error on tiny losses is large; docs/contract.md, docs/numerics.md), so the
comparisons are normwise: max|cbce - torch| <= rtol * max|torch| per array, with rtol 1e-6
for float32 (about 8 ulp) and 1e-13 for float64 (about 450 ulp).  Gradients come from torch
autograd, with a random upstream gradient for reduction='none'.
"""
import itertools

import numpy as np
import pytest

import cbce
from reference import stable_grad_f64, stable_loss_f64

torch = pytest.importorskip("torch")
tF = torch.nn.functional

F = cbce.binary_cross_entropy_with_logits
B = cbce.binary_cross_entropy_with_logits_backward
FB = cbce.binary_cross_entropy_with_logits_forward_backward

RTOL = {np.dtype(np.float32): 1e-6, np.dtype(np.float64): 1e-13}
SHAPES = [(), (7,), (5, 3), (4, 3, 2), (1500, 40)]
WEIGHTS = [None, "C", "N1", "full"]
POS_WEIGHTS = [None, "C"]
REDUCTIONS = ["none", "sum", "mean"]


def _weight_shape(kind, shape):
    if kind is None:
        return None
    if kind == "full":
        return shape
    if len(shape) < 1 or (kind == "N1" and len(shape) < 2):
        return "skip"
    return shape[-1:] if kind == "C" else shape[:-1] + (1,)


def _cases():
    for shape, w, pw in itertools.product(SHAPES, WEIGHTS, POS_WEIGHTS):
        if _weight_shape(w, shape) == "skip" or _weight_shape(pw, shape) == "skip":
            continue
        yield shape, w, pw


CASES = list(_cases())


def _data(rng, shape, dtype, w, pw):
    x = rng.normal(0, 2, shape).astype(dtype)
    y = rng.uniform(0, 1, shape)
    hard = rng.uniform(0, 1, shape) < 0.5
    y = np.where(hard, np.round(y), y).astype(dtype)
    ws = _weight_shape(w, shape)
    weight = None if ws is None else rng.uniform(0.25, 2, ws).astype(dtype)
    ps = _weight_shape(pw, shape)
    pos_weight = None if ps is None else rng.uniform(0.5, 3, ps).astype(dtype)
    return x, y, weight, pos_weight


def _t(a):
    return None if a is None else torch.from_numpy(np.array(a, copy=True, order="C"))


def _torch_loss_grad(x, y, weight, pos_weight, reduction, grad_output):
    xt = torch.from_numpy(np.array(x, copy=True)).requires_grad_(True)
    loss = tF.binary_cross_entropy_with_logits(xt, _t(y), weight=_t(weight),
                                               pos_weight=_t(pos_weight), reduction=reduction)
    go = torch.from_numpy(np.asarray(grad_output, dtype=x.dtype).copy())
    loss.backward(go.expand_as(loss) if reduction == "none" else go)
    return loss.detach().numpy(), xt.grad.numpy()


def _assert_close(got, want, rtol, what):
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, expected {want.shape}"
    if want.size == 0:
        return
    scale = float(np.max(np.abs(want)))
    err = float(np.max(np.abs(got - want)))
    assert err <= rtol * scale, (
        f"{what}: max|cbce - torch| = {err:.3g} > {rtol:g} * max|torch| = {rtol * scale:.3g}; "
        f"worst at index {np.unravel_index(np.argmax(np.abs(got - want)), want.shape)}")


def _case_id(c):
    shape, w, pw = c
    return f"shape{shape}-w_{w}-pw_{pw}".replace(" ", "")


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_matches_torch(case, reduction, float_dtype, rng):
    shape, w, pw = case
    dt = float_dtype
    x, y, weight, pos_weight = _data(rng, shape, dt, w, pw)
    go = rng.normal(0, 1, shape).astype(dt) if reduction == "none" else dt.type(0.75)
    t_loss, t_grad = _torch_loss_grad(x, y, weight, pos_weight, reduction, go)
    what = f"{dt.name} shape={shape} weight={w} pos_weight={pw} reduction={reduction}"

    loss = F(x, y, weight, pos_weight=pos_weight, reduction=reduction)
    grad = B(x, y, weight, pos_weight=pos_weight, reduction=reduction, grad_output=go)
    fb_loss, fb_grad = FB(x, y, weight, pos_weight=pos_weight, reduction=reduction)
    if reduction == "none":
        assert isinstance(loss, np.ndarray) and loss.shape == shape and loss.dtype == dt, (
            f"{what}: loss should be a {dt} array of shape {shape}, got {type(loss)} "
            f"{getattr(loss, 'dtype', None)} {getattr(loss, 'shape', None)}")
    else:
        assert isinstance(loss, np.generic) and loss.dtype == dt, (
            f"{what}: reduced loss should be a NumPy {dt} scalar, got {type(loss)}")
    assert grad.shape == shape and grad.dtype == dt, f"{what}: grad {grad.dtype} {grad.shape}"
    rtol = RTOL[dt]
    _assert_close(loss, t_loss, rtol, f"{what}: loss")
    _assert_close(fb_loss, t_loss, rtol, f"{what}: forward_backward loss")
    go_text = "array" if reduction == "none" else go
    _assert_close(grad, t_grad, rtol, f"{what}: grad (grad_output={go_text})")
    # forward_backward has grad_output 1: compare with torch's gradient of the plain loss
    _, t_grad1 = _torch_loss_grad(x, y, weight, pos_weight, reduction, np.ones((), dt))
    _assert_close(fb_grad, t_grad1, rtol, f"{what}: forward_backward grad")


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.25, 1.0])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("with_pw", [False, True], ids=["no_pw", "pw"])
def test_label_smoothing_matches_torch_with_smoothed_target(eps, reduction, with_pw,
                                                             float_dtype, rng):
    """Keras convention: y_s = y * (1 - eps) + eps / 2, passed to torch directly."""
    dt = float_dtype
    shape = (300, 5)
    x, y, _, pos_weight = _data(rng, shape, dt, None, "C" if with_pw else None)
    ys = (y.astype(np.float64) * (1 - eps) + eps / 2).astype(dt)
    go = rng.normal(0, 1, shape).astype(dt) if reduction == "none" else dt.type(1.5)
    t_loss, t_grad = _torch_loss_grad(x, ys, None, pos_weight, reduction, go)
    what = f"{dt.name} label_smoothing={eps} reduction={reduction} pos_weight={with_pw}"
    loss = F(x, y, pos_weight=pos_weight, reduction=reduction, label_smoothing=eps)
    grad = B(x, y, pos_weight=pos_weight, reduction=reduction, label_smoothing=eps,
             grad_output=go)
    rtol = RTOL[dt]
    _assert_close(loss, t_loss, rtol, f"{what}: loss")
    _assert_close(grad, t_grad, rtol, f"{what}: grad")


@pytest.mark.parametrize("shape,wshape", [((5, 3), (3,)), ((5, 3), (5, 1)), ((5, 3), (5, 3)),
                                          ((4, 3, 2), (3, 1)), ((2000, 30), (2000, 1)),
                                          ((7,), ())])
@pytest.mark.parametrize("with_pw", [False, True], ids=["no_pw", "pw"])
def test_weighted_mean_matches_numpy(shape, wshape, with_pw, float_dtype, rng):
    """'weighted_mean' = sum(w * l) / sum(broadcast w); a weight of 0 masks an element."""
    dt = float_dtype
    x = rng.normal(0, 2, shape).astype(dt)
    y = rng.uniform(0, 1, shape).astype(dt)
    w = rng.uniform(0, 2, wshape).astype(dt)
    if w.ndim:
        w.flat[:: 3] = 0      # masked elements
    pw = rng.uniform(0.5, 3, shape[-1:]).astype(dt) if with_pw else None
    p = 1.0 if pw is None else pw.astype(np.float64)
    wb = np.broadcast_to(w.astype(np.float64), shape)
    ref_l = stable_loss_f64(x, y, p, wb)
    ref_g = stable_grad_f64(x, y, p, wb)
    den = wb.sum()
    want_loss = ref_l.sum() / den
    want_grad = ref_g / den
    what = f"{dt.name} shape={shape} weight{wshape} pos_weight={with_pw}"
    loss = F(x, y, w, pos_weight=pw, reduction="weighted_mean")
    assert isinstance(loss, np.generic) and loss.dtype == dt, f"{what}: {type(loss)}"
    rtol = RTOL[dt]
    _assert_close(loss, want_loss, rtol, f"{what}: weighted_mean loss")
    grad = B(x, y, w, pos_weight=pw, reduction="weighted_mean", grad_output=2.0)
    _assert_close(grad, 2 * want_grad, rtol, f"{what}: weighted_mean grad (grad_output=2)")
    fl, fg = FB(x, y, w, pos_weight=pw, reduction="weighted_mean")
    _assert_close(fl, want_loss, rtol, f"{what}: forward_backward weighted_mean loss")
    _assert_close(fg, want_grad, rtol, f"{what}: forward_backward weighted_mean grad")
    # masked elements contribute nothing, whatever their logits
    if w.ndim == len(shape) and w.shape == shape:
        x2 = x.copy()
        x2[w == 0] = dt.type(1e3)
        l2 = F(x2, y, w, pos_weight=pw, reduction="weighted_mean")
        _assert_close(l2, want_loss, rtol, f"{what}: masked elements changed the result")


def test_weighted_mean_without_weight_is_mean(float_dtype, rng):
    dt = float_dtype
    x = rng.normal(0, 2, (50, 4)).astype(dt)
    y = rng.uniform(0, 1, (50, 4)).astype(dt)
    a = F(x, y, reduction="weighted_mean")
    b = F(x, y, reduction="mean")
    assert a == b, f"{dt.name}: weighted_mean without weight {a!r} != mean {b!r}"
