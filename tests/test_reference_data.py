"""The reference tables in tests/data: complete, covering the hard regions, and right.

The values are recomputed for a sample of rows with the mpmath formulas of reference.py
(written separately from tools/make_reference.py: rising precision until two results agree
to 100 bits), so a damaged, truncated or wrongly generated table fails here rather than
silently weakening the accuracy tests.
"""
import mpmath
import numpy as np
import pytest

from reference import (
    exact_value, load_logits_reference, mp_grad, mp_hess, mp_loss, mp_sigmoid, mp_softplus,
)

DTYPES = [np.float32, np.float64]
DT_IDS = ["float32", "float64"]


@pytest.fixture(scope="module", params=DTYPES, ids=DT_IDS)
def ref(request):
    return load_logits_reference(request.param)


def test_tables_are_complete(ref):
    x, y, p = ref["x"], ref["y"], ref["pos_weight"]
    n = len(x)
    assert n == 2403 * 7 * 3, f"{ref['path']}: {n} rows, expected 2403 logits x 7 labels x 3"
    assert sorted(set(p.tolist())) == [0.5, 1.0, 3.0]
    assert len(set(y.tolist())) == 7 and {0.0, 1.0, 0.5, 0.25} <= set(y.tolist())
    for col in ("loss", "grad", "hess", "sigmoid", "log_sigmoid", "softplus"):
        assert len(ref[col]) == n and not ref[col].is_nan.any(), f"{col}: NaN in the table"
    fin = np.isfinite(x)
    fi = np.finfo(x.dtype)
    assert np.isinf(x).sum() == 2 * 21 and (x == 0).sum() == 21
    assert (np.abs(x[fin]) == fi.max).any() and (np.abs(x) == fi.smallest_subnormal).any()
    assert ((np.abs(x[fin]) > 0) & (np.abs(x[fin]) < fi.tiny)).sum() >= 21 * 10
    assert (np.abs(x[fin]) > 1e30).sum() >= 21 * 100, "too few logits far out"
    assert ((np.abs(x) > 0.5) & (np.abs(x) < 50)).sum() >= 21 * 400, "too few moderate logits"


def test_sample_matches_independent_mpmath(ref):
    """200 rows spread over the table (the infinite logits included), every column: the same
    zeros and infinities, and finite values within 1e-25 relative (the table has 30 digits)."""
    x, y, p = ref["x"], ref["y"], ref["pos_weight"]
    dt = x.dtype
    rows = np.unique(np.concatenate([np.linspace(0, len(x) - 1, 190).astype(int),
                                     np.nonzero(np.isinf(x))[0][:10]]))
    funcs = {
        "loss": lambda i: mp_loss(x[i], y[i], p[i]),
        "grad": lambda i: mp_grad(x[i], y[i], p[i]),
        "hess": lambda i: mp_hess(x[i], y[i], p[i]),
        "sigmoid": lambda i: mp_sigmoid(x[i]),
        "softplus": lambda i: mp_softplus(x[i]),
        "log_sigmoid": lambda i: -mp_softplus(-x[i]),
    }
    msgs = []
    for col, f in funcs.items():
        with mpmath.workprec(200):
            want = exact_value([f(i) for i in rows])
        table = ref[col][rows]
        same_kind = ((table.is_zero == want.is_zero) & (table.is_inf == want.is_inf)
                     & (table.sign == want.sign))
        fin = ~table.is_zero & ~table.is_inf
        far = np.abs(want.exp) > 5000       # kept as tiny/huge: the exponents must agree
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            shift = np.exp2(np.clip(table.exp - want.exp, -60, 60).astype(float))
            # double-double difference: hi parts first (exact when close), then the lo parts
            rel = np.abs((table.hi * shift - want.hi) + (table.lo * shift - want.lo)) / np.abs(
                want.hi)
        close = np.where(fin & ~far, rel < 1e-25, True) & np.where(fin & far,
                                                                    table.exp == want.exp, True)
        for k in np.nonzero(~same_kind | ~close)[0]:
            i = rows[k]
            msgs.append(f"{col} at x={float(x[i]).hex()} y={float(y[i])!r} p={float(p[i])!r}: "
                        f"table {table.approx[k]!r}, mpmath {want.approx[k]!r} "
                        f"(relative difference {rel[k]:.3g})")
    assert not msgs, f"{dt.name}: {len(msgs)} table values disagree:\n" + "\n".join(msgs[:20])
