"""The MUAP generator's training set from a user's dataset folder (the simulated one: :mod:`myoflow.simulate.protocols.muap_training`).

Bring your own data
-------------------
``data.source: folder`` reads a standard dataset folder written by
``myoflow simulate muaps --out DIR`` (or any folder of the same form): Epochs items with
``X`` (n, rows·cols, times) in volts, row-major grid channels with rows along the
fibres, ``metadata`` holding the six condition columns
(:data:`myoflow.simulate.numerical.MUAP_CONDITIONS`), ``meta['grid_shape']`` = [rows, cols]
and ``meta['positions_mm']``. The same region split is then applied to its conditions.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import DataError

__all__ = ["load_folder_set"]

log = logging.getLogger(__name__)


def load_folder_set(path: Path) -> dict[str, Any]:
    """MUAPs and conditions from a standard dataset folder (see module docstring)."""
    from ...containers import Epochs
    from ...io.dataset import load_dataset
    from ...simulate.numerical import MUAP_CONDITION_RANGES, MUAP_CONDITIONS

    ds = load_dataset(path)
    names = tuple(MUAP_CONDITIONS)
    conds, xs, fs, grid, pos = [], [], None, None, None
    for stem, obj in ds:
        if not isinstance(obj, Epochs):
            raise DataError(f"item {stem!r} is a {type(obj).__name__}; expected Epochs of MUAPs", str(path))
        missing = [c for c in names if c not in obj.metadata.columns]
        if missing:
            raise DataError(f"item {stem!r} lacks condition column(s) {missing} in its metadata", str(path))
        g = obj.meta.get("grid_shape")
        if not g or int(g[0]) * int(g[1]) != obj.n_channels:
            raise DataError(f"item {stem!r} needs meta['grid_shape'] = [rows, cols] matching "
                            f"{obj.n_channels} channels, got {g!r}", str(path))
        if fs is not None and (obj.fs != fs or tuple(g) != grid or obj.n_times != xs[0].shape[-1]):
            raise DataError(f"item {stem!r} differs from the first in fs, grid or window length", str(path))
        fs, grid = obj.fs, tuple(int(v) for v in g)
        if pos is None and obj.meta.get("positions_mm") is not None:
            pos = np.asarray(obj.meta["positions_mm"], float)
        conds.append(obj.metadata[list(names)].to_numpy(float))
        xs.append(obj.X.reshape(len(obj), grid[0], grid[1], obj.n_times))
    if not xs:
        raise DataError("dataset folder holds no MUAP items", str(path))
    if pos is None:
        from ...preprocess.muap_templates import grid_positions

        pos = grid_positions(grid[0], grid[1], 5.0)
        log.warning("%s: no positions_mm in the items; assuming a %dx%d grid with 5 mm spacing", path, *grid)
    return {"conditions": np.concatenate(conds), "muaps": np.concatenate(xs).astype(np.float32), "fs": float(fs),
            "positions_mm": pos, "names": names,
            "ranges": {k: tuple(map(float, v)) for k, v in MUAP_CONDITION_RANGES.items()},
            "ms_per_muap": None, "cache_key": None, "cache_path": None}
