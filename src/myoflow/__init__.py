"""myoflow: deep learning on surface EMG — containers, readers, simulator, pipelines.

The root namespace is deliberately small: the three containers, :func:`read`,
the error types, and the sub-packages people reach for (``myoflow.models`` is
the estimators' registry, ``myoflow.features`` the classic EMG features).
Sub-packages and :func:`read` are imported on first use, so ``import myoflow``
stays cheap (no torch, no SciPy signal stack).
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

from .containers import Epochs, Recording, Trial  # noqa: E402  (after __version__: submodules import it)
from .errors import ConfigError, DataError, LeakageError, MissingExtraError, MyoflowError  # noqa: E402

#: Sub-packages exposed as lazy attributes (``myoflow.models`` is the estimator registry, owned by models/).
_SUBMODULES = ("models", "features", "evaluate", "preprocess", "simulate", "io")
#: Functions exposed lazily: name -> module that defines it.
_LAZY = {"read": "myoflow.io"}

__all__ = [
    "__version__",
    "Recording",
    "Trial",
    "Epochs",
    "read",
    "MyoflowError",
    "DataError",
    "ConfigError",
    "LeakageError",
    "MissingExtraError",
    *_SUBMODULES,
]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        mod = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = mod
        return mod
    if name in _LAZY:
        obj = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = obj
        return obj
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
