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


def _conditions(md, names: tuple[str, ...], stem: str, path: Path) -> np.ndarray:
    """The condition columns as floats; a text or missing cell is named (it was a ValueError traceback)."""
    import pandas as pd

    out = np.empty((len(md), len(names)))
    for j, c in enumerate(names):
        col = pd.to_numeric(md[c], errors="coerce").to_numpy(float)
        bad = ~np.isfinite(col)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(f"item {stem!r}: condition {c!r} of MUAP {i} is {md[c].iloc[i]!r}, not a finite number "
                            f"({int(bad.sum())} such MUAP(s))", str(path))
        out[:, j] = col
    return out


def _condition_ranges(conditions: np.ndarray, names: tuple[str, ...], default: dict,
                      path: Path) -> dict[str, tuple[float, float]]:
    """The simulator's condition ranges, over which the held-out slab and extrapolation band are placed, after
    checking the folder's MUAPs lie inside them.

    The numerical model is the generator's reference and speed baseline and is only valid inside these
    ranges; a lab's templates beyond them (deeper than 23 mm, say) all fell into the extrapolation band and
    the run stopped with "only 0 training MUAPs left ... increase data.n_train_pool", a setting of simulated
    sets only.
    """
    for j, k in enumerate(names):
        lo, hi = (float(v) for v in default[k])
        col = conditions[:, j]
        tol = 1e-9 * (hi - lo)
        out = (col < lo - tol) | (col > hi + tol)
        if out.any():
            i = int(np.flatnonzero(out)[0])
            raise DataError(f"condition {k!r} of {int(out.sum())} of {len(col)} MUAP(s) lies outside [{lo:g}, {hi:g}], "
                            f"the range the numerical model (the generator's reference) covers, e.g. MUAP {i}: "
                            f"{col[i]:g}; keep the MUAPs inside it (or rescale the condition)", str(path))
    return {k: tuple(map(float, v)) for k, v in default.items()}


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
            try:
                pos = np.asarray(obj.meta["positions_mm"], float)
            except (TypeError, ValueError):
                pos = None
            if pos is None or pos.shape != (obj.n_channels, 2) or not np.isfinite(pos).all():
                raise DataError(f"item {stem!r}: meta['positions_mm'] must be {obj.n_channels} finite (x, y) pairs "
                                f"in mm, one per channel, got shape {getattr(pos, 'shape', None)}", str(path))
        conds.append(_conditions(obj.metadata, names, stem, path))
        xs.append(obj.X.reshape(len(obj), grid[0], grid[1], obj.n_times))
    if not xs:
        raise DataError("dataset folder holds no MUAP items", str(path))
    if pos is None:
        from ...preprocess.muap_templates import grid_positions

        pos = grid_positions(grid[0], grid[1], 5.0)
        log.warning("%s: no positions_mm in the items; assuming a %dx%d grid with 5 mm spacing", path, *grid)
    conditions = np.concatenate(conds)
    return {"conditions": conditions, "muaps": np.concatenate(xs).astype(np.float32), "fs": float(fs),
            "positions_mm": pos, "names": names,
            "ranges": _condition_ranges(conditions, names, MUAP_CONDITION_RANGES, path),
            "ms_per_muap": None, "cache_key": None, "cache_path": None}
