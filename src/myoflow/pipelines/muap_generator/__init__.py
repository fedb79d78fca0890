"""Seed 003: BioMime-style conditional MUAP generator (pipeline, estimator, export, real templates).

Public entry points: :class:`MuapGeneratorPipeline` (the ``muap-generator`` pipeline),
:class:`MuapGeneratorEstimator` (train a generator on your own (conditions, MUAPs)),
:func:`load_generator` / :func:`save_generator` / :func:`export_generator_onnx`.
Importing this package does not import torch; the submodules do.
"""
from __future__ import annotations

import importlib
from typing import Any

__all__ = ["MuapGeneratorPipeline", "MuapGeneratorEstimator", "load_generator", "save_generator",
           "export_generator_onnx", "nrmse"]

_LAZY = {
    "MuapGeneratorPipeline": ".pipeline",
    "MuapGeneratorEstimator": ".estimator",
    "nrmse": ".estimator",
    "load_generator": ".export",
    "save_generator": ".export",
    "export_generator_onnx": ".export",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
