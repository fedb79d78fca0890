"""Seed 003: BioMime-style conditional MUAP generator (pipeline, data, real templates).

Public entry point: :class:`MuapGeneratorPipeline` (the ``muap-generator`` pipeline). The
estimator and its files live in :mod:`myoflow.models.muap_generator`
(:class:`~myoflow.models.muap_generator.MuapGeneratorEstimator`, ``load_generator``,
``save_generator``, ``export_generator_onnx``). Importing this package does not import torch.
"""
from __future__ import annotations

import importlib
from typing import Any

__all__ = ["MuapGeneratorPipeline"]


def __getattr__(name: str) -> Any:
    if name == "MuapGeneratorPipeline":
        return getattr(importlib.import_module(".pipeline", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
