# Type stubs for the public API of cbce (docs/contract.md).  The compiled functions live in
# cbce._core; this file is what type checkers see for `import cbce`.  .ci/integrations.sh
# checks it with mypy (the stub itself, a usage file with assert_type, and mypy's stubtest
# against the installed package).
#
# Return types follow the reduction: "none" gives an array of the input's shape, the other
# reductions a NumPy scalar of the input's dtype; a `reduction` that is a plain `str`
# (not a literal) gives the union.
from typing import Any, Literal, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

__version__: str
_core: Any  # the compiled bindings (no stub of their own; use the names below)

_Float = np.floating[Any]
_Array = NDArray[np.floating[Any]]
_Reduced = Literal["sum", "mean", "weighted_mean"]
_Scalar = float | np.floating[Any]
_Out = NDArray[Any] | None
_OutPair = tuple[NDArray[Any] | None, NDArray[Any] | None] | None

__all__ = [
    "__version__",
    "binary_cross_entropy_with_logits",
    "binary_cross_entropy_with_logits_backward",
    "binary_cross_entropy_with_logits_forward_backward",
    "binary_cross_entropy_with_logits_grad_hess",
    "binary_cross_entropy",
    "binary_cross_entropy_backward",
    "binary_cross_entropy_forward_backward",
    "binary_cross_entropy_grad_hess",
    "get_library_dir",
    "sigmoid_focal_loss",
    "sigmoid_focal_loss_backward",
    "sigmoid_focal_loss_forward_backward",
    "sigmoid_focal_loss_grad_hess",
    "sigmoid",
    "log_sigmoid",
    "softplus",
    "get_num_threads",
    "set_num_threads",
    "get_include",
    "show_config",
    "BCEWithLogitsLoss",
    "BCELoss",
    "SigmoidFocalLoss",
]

# ---- BCE with logits -----------------------------------------------------------------

@overload
def binary_cross_entropy_with_logits(
    input: ArrayLike, target: ArrayLike, weight: ArrayLike | None = ..., *,
    pos_weight: ArrayLike | None = ..., reduction: Literal["none"],
    label_smoothing: float = ..., num_threads: int | None = ..., out: _Out = ...,
) -> _Array: ...
@overload
def binary_cross_entropy_with_logits(
    input: ArrayLike, target: ArrayLike, weight: ArrayLike | None = ..., *,
    pos_weight: ArrayLike | None = ..., reduction: _Reduced = ...,
    label_smoothing: float = ..., num_threads: int | None = ..., out: None = ...,
) -> _Float: ...
@overload
def binary_cross_entropy_with_logits(
    input: ArrayLike, target: ArrayLike, weight: ArrayLike | None = ..., *,
    pos_weight: ArrayLike | None = ..., reduction: str = ...,
    label_smoothing: float = ..., num_threads: int | None = ..., out: _Out = ...,
) -> _Float | _Array: ...

def binary_cross_entropy_with_logits_backward(
    input: ArrayLike, target: ArrayLike, weight: ArrayLike | None = ..., *,
    pos_weight: ArrayLike | None = ..., reduction: str = ..., label_smoothing: float = ...,
    grad_output: ArrayLike = ..., num_threads: int | None = ..., out: _Out = ...,
) -> _Array: ...

@overload
def binary_cross_entropy_with_logits_forward_backward(
    input: ArrayLike, target: ArrayLike, weight: ArrayLike | None = ..., *,
    pos_weight: ArrayLike | None = ..., reduction: Literal["none"],
    label_smoothing: float = ..., num_threads: int | None = ..., out: _OutPair = ...,
) -> tuple[_Array, _Array]: ...
@overload
def binary_cross_entropy_with_logits_forward_backward(
    input: ArrayLike, target: ArrayLike, weight: ArrayLike | None = ..., *,
    pos_weight: ArrayLike | None = ..., reduction: _Reduced = ...,
    label_smoothing: float = ..., num_threads: int | None = ..., out: _OutPair = ...,
) -> tuple[_Float, _Array]: ...
@overload
def binary_cross_entropy_with_logits_forward_backward(
    input: ArrayLike, target: ArrayLike, weight: ArrayLike | None = ..., *,
    pos_weight: ArrayLike | None = ..., reduction: str = ...,
    label_smoothing: float = ..., num_threads: int | None = ..., out: _OutPair = ...,
) -> tuple[_Float | _Array, _Array]: ...

def binary_cross_entropy_with_logits_grad_hess(
    input: ArrayLike, target: ArrayLike, weight: ArrayLike | None = ..., *,
    pos_weight: ArrayLike | None = ..., label_smoothing: float = ...,
    num_threads: int | None = ..., out: _OutPair = ...,
) -> tuple[_Array, _Array]: ...

# ---- BCE on probabilities ------------------------------------------------------------

@overload
def binary_cross_entropy(
    input: ArrayLike, target: ArrayLike, weight: ArrayLike | None = ..., *,
    reduction: Literal["none"], label_smoothing: float = ..., num_threads: int | None = ...,
    out: _Out = ...,
) -> _Array: ...
@overload
def binary_cross_entropy(
    input: ArrayLike, target: ArrayLike, weight: ArrayLike | None = ..., *,
    reduction: _Reduced = ..., label_smoothing: float = ..., num_threads: int | None = ...,
    out: None = ...,
) -> _Float: ...
@overload
def binary_cross_entropy(
    input: ArrayLike, target: ArrayLike, weight: ArrayLike | None = ..., *,
    reduction: str = ..., label_smoothing: float = ..., num_threads: int | None = ...,
    out: _Out = ...,
) -> _Float | _Array: ...

def binary_cross_entropy_backward(
    input: ArrayLike, target: ArrayLike, weight: ArrayLike | None = ..., *,
    reduction: str = ..., label_smoothing: float = ..., grad_output: ArrayLike = ...,
    num_threads: int | None = ..., out: _Out = ...,
) -> _Array: ...

def binary_cross_entropy_forward_backward(
    input: ArrayLike, target: ArrayLike, weight: ArrayLike | None = ..., *,
    reduction: str = ..., label_smoothing: float = ..., num_threads: int | None = ...,
    out: _OutPair = ...,
) -> tuple[Any, _Array]: ...

def binary_cross_entropy_grad_hess(
    input: ArrayLike, target: ArrayLike, weight: ArrayLike | None = ..., *,
    label_smoothing: float = ..., num_threads: int | None = ..., out: _OutPair = ...,
) -> tuple[_Array, _Array]: ...

# ---- sigmoid focal loss --------------------------------------------------------------

@overload
def sigmoid_focal_loss(
    input: ArrayLike, target: ArrayLike, weight: ArrayLike | None = ..., *,
    alpha: float | None = ..., gamma: float = ..., reduction: Literal["none"],
    num_threads: int | None = ..., out: _Out = ...,
) -> _Array: ...
@overload
def sigmoid_focal_loss(
    input: ArrayLike, target: ArrayLike, weight: ArrayLike | None = ..., *,
    alpha: float | None = ..., gamma: float = ..., reduction: _Reduced = ...,
    num_threads: int | None = ..., out: None = ...,
) -> _Float: ...
@overload
def sigmoid_focal_loss(
    input: ArrayLike, target: ArrayLike, weight: ArrayLike | None = ..., *,
    alpha: float | None = ..., gamma: float = ..., reduction: str = ...,
    num_threads: int | None = ..., out: _Out = ...,
) -> _Float | _Array: ...

def sigmoid_focal_loss_backward(
    input: ArrayLike, target: ArrayLike, weight: ArrayLike | None = ..., *,
    alpha: float | None = ..., gamma: float = ..., reduction: str = ...,
    grad_output: ArrayLike = ..., num_threads: int | None = ..., out: _Out = ...,
) -> _Array: ...

@overload
def sigmoid_focal_loss_forward_backward(
    input: ArrayLike, target: ArrayLike, weight: ArrayLike | None = ..., *,
    alpha: float | None = ..., gamma: float = ..., reduction: Literal["none"],
    num_threads: int | None = ..., out: _OutPair = ...,
) -> tuple[_Array, _Array]: ...
@overload
def sigmoid_focal_loss_forward_backward(
    input: ArrayLike, target: ArrayLike, weight: ArrayLike | None = ..., *,
    alpha: float | None = ..., gamma: float = ..., reduction: _Reduced = ...,
    num_threads: int | None = ..., out: _OutPair = ...,
) -> tuple[_Float, _Array]: ...
@overload
def sigmoid_focal_loss_forward_backward(
    input: ArrayLike, target: ArrayLike, weight: ArrayLike | None = ..., *,
    alpha: float | None = ..., gamma: float = ..., reduction: str = ...,
    num_threads: int | None = ..., out: _OutPair = ...,
) -> tuple[_Float | _Array, _Array]: ...

def sigmoid_focal_loss_grad_hess(
    input: ArrayLike, target: ArrayLike, weight: ArrayLike | None = ..., *,
    alpha: float | None = ..., gamma: float = ..., num_threads: int | None = ...,
    out: _OutPair = ...,
) -> tuple[_Array, _Array]: ...

# ---- elementwise helpers (float input only; a scalar in gives a scalar out) ------------

@overload
def sigmoid(x: _Scalar, *, out: None = ...) -> _Float: ...
@overload
def sigmoid(x: ArrayLike, *, out: _Out = ...) -> _Array: ...
@overload
def log_sigmoid(x: _Scalar, *, out: None = ...) -> _Float: ...
@overload
def log_sigmoid(x: ArrayLike, *, out: _Out = ...) -> _Array: ...
@overload
def softplus(x: _Scalar, *, out: None = ...) -> _Float: ...
@overload
def softplus(x: ArrayLike, *, out: _Out = ...) -> _Array: ...

# ---- threads and build ---------------------------------------------------------------

def get_num_threads() -> int: ...
def set_num_threads(n: int) -> None: ...
def get_include() -> str: ...
def get_library_dir() -> str: ...
def show_config() -> None: ...

# ---- loss objects (the reduction is a run-time setting: calls return Any) ---------------

class BCEWithLogitsLoss:
    weight: ArrayLike | None
    pos_weight: ArrayLike | None
    reduction: str
    label_smoothing: float
    def __init__(self, weight: ArrayLike | None = ..., pos_weight: ArrayLike | None = ...,
                 reduction: str = ..., label_smoothing: float = ...) -> None: ...
    def __call__(self, input: ArrayLike, target: ArrayLike, *, num_threads: int | None = ...,
                 out: _Out = ...) -> Any: ...
    def backward(self, input: ArrayLike, target: ArrayLike, grad_output: ArrayLike = ..., *,
                 num_threads: int | None = ..., out: _Out = ...) -> _Array: ...
    def forward_backward(self, input: ArrayLike, target: ArrayLike, *,
                         num_threads: int | None = ..., out: _OutPair = ...
                         ) -> tuple[Any, _Array]: ...

class BCELoss:
    weight: ArrayLike | None
    reduction: str
    label_smoothing: float
    def __init__(self, weight: ArrayLike | None = ..., reduction: str = ...,
                 label_smoothing: float = ...) -> None: ...
    def __call__(self, input: ArrayLike, target: ArrayLike, *, num_threads: int | None = ...,
                 out: _Out = ...) -> Any: ...
    def backward(self, input: ArrayLike, target: ArrayLike, grad_output: ArrayLike = ..., *,
                 num_threads: int | None = ..., out: _Out = ...) -> _Array: ...
    def forward_backward(self, input: ArrayLike, target: ArrayLike, *,
                         num_threads: int | None = ..., out: _OutPair = ...
                         ) -> tuple[Any, _Array]: ...

class SigmoidFocalLoss:
    alpha: float | None
    gamma: float
    reduction: str
    def __init__(self, alpha: float | None = ..., gamma: float = ...,
                 reduction: str = ...) -> None: ...
    def __call__(self, input: ArrayLike, target: ArrayLike, *, num_threads: int | None = ...,
                 out: _Out = ...) -> Any: ...
    def backward(self, input: ArrayLike, target: ArrayLike, grad_output: ArrayLike = ..., *,
                 num_threads: int | None = ..., out: _Out = ...) -> _Array: ...
    def forward_backward(self, input: ArrayLike, target: ArrayLike, *,
                         num_threads: int | None = ..., out: _OutPair = ...
                         ) -> tuple[Any, _Array]: ...
