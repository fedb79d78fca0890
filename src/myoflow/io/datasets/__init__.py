"""Loaders for the public datasets in ``../shared/data`` and a registry to recognise their folders.

``DATASETS`` maps a dataset name to a :class:`DatasetLoader`; ``detect_dataset(folder)``
returns the loader whose ``detect`` accepts the folder, so ``myoflow.io.read(folder)``
and ``myoflow inspect folder`` work on any of them.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .elderly import default_cache_dir, detect_elderly_lowerlimb, load_elderly_lowerlimb
from .openhdemg import detect_openhdemg_otb, load_openhdemg_otb, otb_grid_layout, read_otb_mat
from .small import (
    detect_biosignalsnotebooks,
    detect_ceinms_gait,
    detect_pyomeca,
    detect_stim_artefact_tscs,
    load_biosignalsnotebooks,
    load_ceinms_gait,
    load_pyomeca,
    load_stim_artefact_tscs,
)

__all__ = [
    "DatasetLoader", "DATASETS", "detect_dataset", "default_cache_dir",
    "load_elderly_lowerlimb", "load_ceinms_gait", "load_pyomeca", "load_openhdemg_otb",
    "load_stim_artefact_tscs", "load_biosignalsnotebooks", "read_otb_mat", "otb_grid_layout",
]


@dataclass(frozen=True)
class DatasetLoader:
    """A dataset folder format: how to recognise it and how to load it."""

    name: str
    load: Callable[..., Any]
    detect: Callable[[Path], bool]
    description: str


DATASETS: dict[str, DatasetLoader] = {
    d.name: d
    for d in (
        DatasetLoader("elderly-lowerlimb-emg", load_elderly_lowerlimb, detect_elderly_lowerlimb,
                      "30 elderly subjects × 4 isometric tasks, 4-channel sEMG + force, 2000 Hz (xlsx)"),
        DatasetLoader("ceinms-gait", load_ceinms_gait, detect_ceinms_gait,
                      "gait trials: joint angles, moments, EMG envelopes, GRF at 100 Hz (OpenSim)"),
        DatasetLoader("pyomeca", load_pyomeca, detect_pyomeca,
                      "C3D analog EMG (13 muscles, 2000 Hz) + OpenSim kinematics/dynamics"),
        DatasetLoader("openhdemg-otb", load_openhdemg_otb, detect_openhdemg_otb,
                      "64-channel HD-sEMG grid with motor-unit firings and force, 2048 Hz (OTBiolab+ .mat)"),
        DatasetLoader("stim-artefact-tscs", load_stim_artefact_tscs, detect_stim_artefact_tscs,
                      "one EMG channel with spinal stimulation ON and OFF, 4000 Hz (MATLAB)"),
        DatasetLoader("biosignalsnotebooks", load_biosignalsnotebooks, detect_biosignalsnotebooks,
                      "single-channel EMG recordings, 10-1000 Hz (OpenSignals HDF5)"),
    )
}


def detect_dataset(path: str | Path) -> DatasetLoader | None:
    """The registered loader that recognises ``path`` (a folder), or None."""
    p = Path(path)
    if not p.is_dir():
        return None
    for loader in DATASETS.values():
        try:
            if loader.detect(p):
                return loader
        except OSError:
            continue
    return None
