#!/usr/bin/env bash
# Integrations: install the frameworks, then
#   1. check that `import cbce` (and cbce.integrations) imports none of them;
#   2. run the integration tests with CBCE_REQUIRE_INTEGRATIONS=1 (a missing framework is a
#      failure, not a skip);
#   3. run the doctests of the integration modules against the installed package;
#   4. type-check: the public stub (src/cbce/__init__.pyi) strictly, a usage file whose
#      expected types are asserted with assert_type, the integration modules, and mypy's
#      stubtest of the stub against the installed package.
# Run from .ci/run after the README's test command (which installed cbce).
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1
PY=python3

echo "--- installing the frameworks"
$PY -m pip install -q "torch==2.13.0" xgboost lightgbm "dask[array,distributed,dataframe]" \
    mypy typing_extensions

echo "--- import cbce needs only NumPy"
$PY - <<'EOF'
import sys
import cbce, cbce.integrations  # noqa: F401
loaded = [m for m in ("torch", "xgboost", "lightgbm", "dask", "distributed") if m in sys.modules]
assert not loaded, f"import cbce imported {loaded}"
print("ok: no framework imported")
EOF

echo "--- integration tests"
CBCE_REQUIRE_INTEGRATIONS=1 $PY -m pytest -q -p no:cacheprovider \
    tests/test_integrations_torch.py tests/test_integrations_boosting.py \
    tests/test_integrations_dask.py

echo "--- doctests of cbce.integrations (installed package)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && OMP_NUM_THREADS=1 $PY -m pytest -q -p no:cacheprovider --doctest-modules \
    --pyargs cbce.integrations.torch cbce.integrations.xgboost cbce.integrations.lightgbm \
    cbce.integrations.dask)

echo "--- mypy"
cat > "$tmp/mypy.ini" <<'EOF'
[mypy]
python_version = 3.11
warn_unused_ignores = True
warn_redundant_casts = True
check_untyped_defs = True
ignore_missing_imports = True
# The frameworks are typed as Any here: analysing torch's own annotations takes minutes.
[mypy-torch.*,dask.*,distributed.*,xgboost.*,lightgbm.*,sklearn.*,jax.*,optax.*]
follow_imports = skip
# Modules behind the stub that this check does not type.
[mypy-cbce._losses,cbce._bench,cbce.__main__]
follow_imports = skip
# Public signatures of the integrations are annotated; their private helpers are not (they
# are checked with check_untyped_defs below, not with --strict).
[mypy-cbce.integrations.*]
disallow_untyped_defs = False
disallow_untyped_calls = False
disallow_incomplete_defs = False
disallow_any_generics = False
EOF
cat > "$tmp/use_api.py" <<'EOF'
"""What a user's type checker sees: each expected type asserted, each misuse flagged."""
from typing import Any

import numpy as np
from numpy.typing import NDArray
from typing_extensions import assert_type

import cbce

Arr = NDArray[np.floating[Any]]
x = np.zeros(3)
y = np.zeros(3, dtype=np.uint8)
assert_type(cbce.__version__, str)
assert_type(cbce.binary_cross_entropy_with_logits(x, y), np.floating[Any])
assert_type(cbce.binary_cross_entropy_with_logits(x, y, reduction="none"), Arr)
assert_type(cbce.binary_cross_entropy_with_logits(x, [0, 1, 1], pos_weight=[2.0],
                                                  reduction="weighted_mean"), np.floating[Any])
reduction: str = "sum"
assert_type(cbce.binary_cross_entropy_with_logits(x, y, reduction=reduction),
            np.floating[Any] | Arr)
assert_type(cbce.binary_cross_entropy_with_logits_backward(x, y, grad_output=2.0), Arr)
assert_type(cbce.binary_cross_entropy_with_logits_forward_backward(x, y),
            tuple[np.floating[Any], Arr])
assert_type(cbce.binary_cross_entropy_with_logits_forward_backward(x, y, reduction="none"),
            tuple[Arr, Arr])
assert_type(cbce.binary_cross_entropy_with_logits_grad_hess(x, y, label_smoothing=0.1),
            tuple[Arr, Arr])
assert_type(cbce.binary_cross_entropy(x, y, reduction="none"), Arr)
assert_type(cbce.binary_cross_entropy_backward(x, y), Arr)
assert_type(cbce.binary_cross_entropy_grad_hess(x, y, label_smoothing=0.1), tuple[Arr, Arr])
assert_type(cbce.sigmoid_focal_loss(x, y, alpha=None, gamma=0.5), np.floating[Any])
assert_type(cbce.sigmoid_focal_loss_backward(x, y, reduction="none", grad_output=x), Arr)
assert_type(cbce.sigmoid_focal_loss_forward_backward(x, y), tuple[np.floating[Any], Arr])
assert_type(cbce.sigmoid_focal_loss_grad_hess(x, y, gamma=2.0), tuple[Arr, Arr])
assert_type(cbce.sigmoid(1.0), np.floating[Any])
assert_type(cbce.log_sigmoid(x, out=x), Arr)
assert_type(cbce.softplus([1.0, 2.0]), Arr)
assert_type(cbce.get_num_threads(), int)
assert_type(cbce.get_include(), str)
cbce.set_num_threads(2)
cbce.show_config()
loss = cbce.BCEWithLogitsLoss(pos_weight=[2.0], label_smoothing=0.1)
float(loss(x, y))
assert_type(loss.backward(x, y), Arr)
assert_type(cbce.BCELoss(reduction="sum").forward_backward(x, y)[1], Arr)
assert_type(cbce.SigmoidFocalLoss(gamma=1.0).gamma, float)
cbce.binary_cross_entropy(x, y, bogus=1)  # type: ignore[call-overload]
cbce.sigmoid_focal_loss(x, y, pos_weight=x)  # type: ignore[call-overload]
cbce.set_num_threads("2")  # type: ignore[arg-type]

from cbce.integrations import xgboost as cxgb, lightgbm as clgb, dask as cdask  # noqa: E402
f = cxgb.objective(pos_weight=2.0, gamma=None)
g, h = f(np.zeros(3, np.float32), None)
assert_type(g, Arr)
clgb.objective(gamma="2")  # type: ignore[arg-type]
cdask.binary_cross_entropy_with_logits(x, y, reduction="sum")
EOF
MYPYPATH=src $PY -m mypy --strict --no-incremental src/cbce/__init__.pyi
MYPYPATH=src $PY -m mypy --config-file "$tmp/mypy.ini" --strict --no-incremental \
    "$tmp/use_api.py"
MYPYPATH=src $PY -m mypy --config-file "$tmp/mypy.ini" --no-incremental src/cbce/integrations

echo "--- stubtest: the stub against the installed package"
allow="$PWD/.ci/stubtest-allowlist.txt"
(cd "$tmp" && $PY -m mypy.stubtest cbce --mypy-config-file "$tmp/mypy.ini" --allowlist "$allow")
echo "integrations: ok"
