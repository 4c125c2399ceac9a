"""The memory target: a fused call allocates its outputs and nothing else.

tracemalloc sees NumPy's data buffers, so the peak of one call, minus the bytes of the
arrays it returns, is every temporary the call made (PyTorch's forward+backward makes four
input-sized ones).  Deterministic: no timing involved.
"""
import tracemalloc

import numpy as np
import pytest

import cbce

MiB = 1 << 20
N = 10**7


def _peak_beyond_outputs(fn):
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        res = fn()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    arrays = [r for r in (res if isinstance(res, tuple) else (res,)) if isinstance(r, np.ndarray)]
    return peak - sum(a.nbytes for a in arrays)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(4)
    x = (rng.standard_normal(N) * 4).astype(np.float32)
    y = (rng.random(N) < 0.5).astype(np.float32)
    return x, y, y.astype(np.uint8)


F = cbce.binary_cross_entropy_with_logits
FB = cbce.binary_cross_entropy_with_logits_forward_backward
CALLS = {
    "logits forward_backward mean": lambda x, y, y8: FB(x, y),
    "logits forward_backward pos_weight+smoothing":
        lambda x, y, y8: FB(x, y, pos_weight=np.float32(3.0), label_smoothing=0.1),
    "logits forward_backward uint8 target": lambda x, y, y8: FB(x, y8),
    "logits grad_hess": lambda x, y, y8: cbce.binary_cross_entropy_with_logits_grad_hess(x, y),
    "logits forward mean": lambda x, y, y8: F(x, y),
    "logits forward none": lambda x, y, y8: F(x, y, reduction="none"),
}


@pytest.mark.parametrize("name", list(CALLS))
def test_fused_call_allocates_only_its_outputs(name, data):
    extra = _peak_beyond_outputs(lambda: CALLS[name](*data))
    assert extra < MiB, f"{name}: peak {extra} bytes beyond the returned arrays (limit 1 MiB)"


def test_the_check_sees_a_temporary(data):
    """The measurement itself: an int32 target is converted to the input's dtype (one
    input-sized temporary, documented in _core.pyx), which the check must see."""
    x, y, _ = data
    y32 = y.astype(np.int32)
    extra = _peak_beyond_outputs(lambda: F(x, y32))
    assert extra >= x.nbytes, f"the conversion copy was not seen: {extra} bytes"
