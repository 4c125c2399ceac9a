"""cbce: binary cross-entropy, exact to the last bit, fast on the CPU.

A C99 core (``include/cbce.h``) with NumPy bindings.  The documentation (``docs/``) has the
guide, the accuracy and speed figures; ``python -m cbce`` gives a demonstration.
"""
import os as _os

from . import _core, _losses
from ._core import (
    __version__,
    sigmoid,
    log_sigmoid,
    softplus,
    get_num_threads,
    set_num_threads,
)
from ._registry import FAMILIES as _FAMILIES

# every registry family's four functions and its class
_LOSS_NAMES = [f["python"] + s for f in _FAMILIES
               for s in ("", "_backward", "_forward_backward", "_grad_hess")]
globals().update({n: getattr(_core, n) for n in _LOSS_NAMES})
globals().update({f["cls"]: getattr(_losses, f["cls"]) for f in _FAMILIES})

__all__ = [
    "__version__",
    "get_library_dir",
    "sigmoid",
    "log_sigmoid",
    "softplus",
    "get_num_threads",
    "set_num_threads",
    "get_include",
    "show_config",
] + _LOSS_NAMES + [f["cls"] for f in _FAMILIES]


def get_include():
    """The folder holding ``cbce.h`` and ``cbce.pxd``, for C and Cython extensions.

    Returns
    -------
    str
        Give it to ``include_dirs`` of an extension that includes ``cbce.h`` or does
        ``cimport cbce``.

    Examples
    --------
    >>> import os, cbce
    >>> sorted(f for f in os.listdir(cbce.get_include()) if f.startswith("cbce"))
    ['cbce.h', 'cbce.pxd']
    """
    return _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), "include")


def get_library_dir():
    """The folder holding ``libcbce.a``, the C core to link into extensions that
    ``cimport cbce``.

    Returns
    -------
    str

    Examples
    --------
    >>> import os, cbce
    >>> os.path.exists(os.path.join(cbce.get_library_dir(), "libcbce.a"))
    True
    """
    return _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), "lib")


def show_config():
    """Print the version, the build and the SIMD level chosen at run time.

    The level is the best the CPU supports, lowered by the ``CBCE_SIMD`` environment
    variable (``scalar``, ``baseline``, ``avx2``, ``avx512``) if set; every level meets the
    accuracy bars (BCE with logits may differ in the last bit between levels).

    Examples
    --------
    >>> import cbce
    >>> cbce.show_config()  # doctest: +ELLIPSIS
    version: ...
    simd: ...
    include: ...
    """
    for key, value in _core._config().items():
        print(f"{key}: {value}")
    print(f"include: {get_include()}")
