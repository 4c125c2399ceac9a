"""Integrations of cbce with other frameworks, one submodule each.

Nothing is imported here: ``import cbce`` and ``import cbce.integrations`` need only NumPy.
Each submodule imports its framework when it is itself imported (or, for the boosting
objectives, not at all: they use the data set's ``get_label``/``get_weight`` methods).

==============================  ===========================================================
``cbce.integrations.torch``     ``BCEWithLogitsLoss``, ``BCELoss``, ``SigmoidFocalLoss`` as
                                ``torch.nn.Module``\\ s (and functional forms), CPU tensors
                                handed to the C core without copying; ``torch.library``
                                custom ops (torch.compile, torch.export), second order.
``cbce.integrations.xgboost``   ``objective(...)`` for ``xgboost.train(obj=...)``.
``cbce.integrations.lightgbm``  ``objective(...)`` for ``params["objective"]``.
``cbce.integrations.dask``      the losses over ``dask.array`` inputs, chunk by chunk, lazy.
==============================  ===========================================================
"""
import importlib
from types import ModuleType

# No __all__ of submodules: `from cbce.integrations import *` must not import every framework.
__all__: list[str] = []

_SUBMODULES = ("torch", "xgboost", "lightgbm", "dask")


def __getattr__(name: str) -> ModuleType:
    """``cbce.integrations.lightgbm`` & co. import their submodule on first use."""
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
