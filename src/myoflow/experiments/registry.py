"""Pipelines by name. Entries are imported lazily (torch only when needed)."""
from __future__ import annotations

import importlib

from ..errors import ConfigError

__all__ = ["PIPELINES", "get_pipeline", "load_config"]

PIPELINES: dict[str, str] = {
    "stimulated-mass": "myoflow.pipelines.stimulated_mass.pipeline:StimulatedMassPipeline",
    "muscle-id": "myoflow.pipelines.muscle_id.pipeline:MuscleIdPipeline",
    "gait-emg": "myoflow.pipelines.gait_emg.pipeline:GaitEmgPipeline",
    "muap-generator": "myoflow.pipelines.muap_generator.pipeline:MuapGeneratorPipeline",
    "toy": "myoflow.experiments.toy:ToyPipeline",
}


def get_pipeline(name: str):
    """Return an instance of the pipeline registered as ``name``."""
    if name not in PIPELINES:
        raise ConfigError(f"unknown pipeline {name!r}; known pipelines: {sorted(PIPELINES)}")
    module, attr = PIPELINES[name].split(":")
    return getattr(importlib.import_module(module), attr)()


def load_config(source, quick: bool = False, overrides=None):
    """:func:`myoflow.config.load_config` with the pipeline registry as resolver."""
    from .. import config

    return config.load_config(source, quick=quick, overrides=overrides,
                              resolve=lambda name: get_pipeline(name).config_class)
