"""cbce: binary cross-entropy, exact to the last bit, fast on the CPU.

A C99 core (``include/cbce.h``) with NumPy bindings.  See README.md for the accuracy and
speed figures, and ``python -m cbce`` for a demonstration.
"""
import os as _os

from . import _core
from ._core import (
    __version__,
    binary_cross_entropy_with_logits,
    binary_cross_entropy_with_logits_backward,
    binary_cross_entropy_with_logits_forward_backward,
    binary_cross_entropy_with_logits_grad_hess,
    binary_cross_entropy,
    binary_cross_entropy_backward,
    binary_cross_entropy_forward_backward,
    binary_cross_entropy_grad_hess,
    sigmoid_focal_loss,
    sigmoid_focal_loss_backward,
    sigmoid_focal_loss_forward_backward,
    sigmoid_focal_loss_grad_hess,
    sigmoid,
    log_sigmoid,
    softplus,
    get_num_threads,
    set_num_threads,
)
from ._losses import BCELoss, BCEWithLogitsLoss, SigmoidFocalLoss

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


def get_include():
    """The folder holding ``cbce.h`` and ``cbce.pxd`` (for C and Cython extensions)."""
    return _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), "include")


def get_library_dir():
    """The folder holding libcbce.a: the C core, to link into extensions that cimport cbce."""
    return _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), "lib")


def show_config():
    """Print the build and the SIMD level chosen at run time."""
    for key, value in _core._config().items():
        print(f"{key}: {value}")
    print(f"include: {get_include()}")
