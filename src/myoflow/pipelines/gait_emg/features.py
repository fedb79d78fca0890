"""Per-instant model inputs from gait cycles, and row ↔ cycle reshaping.

The MLPs of seed 002 map one instant of the cycle to one output row. Inputs are
the three sagittal angles (deg) and, optionally, their time derivatives
(deg/s, deg/s²) computed on each time-normalised cycle with its real duration
(``np.gradient`` along the cycle, spacing = duration / (P − 1)).
"""
from __future__ import annotations

import numpy as np

from ...errors import ConfigError

__all__ = ["INPUT_KINDS", "kinematic_inputs", "to_rows", "from_rows", "input_names"]

INPUT_KINDS = ("angles", "velocity", "acceleration")
_ANGLE_NAMES = ("hip", "knee", "ankle")


def input_names(kinds) -> list[str]:
    """Feature names for the chosen input kinds, e.g. ``hip_angles``, ``knee_velocity``."""
    return [f"{j}_{k}" for k in kinds for j in _ANGLE_NAMES]


def kinematic_inputs(angles: np.ndarray, durations: np.ndarray, kinds=("angles", "velocity")) -> np.ndarray:
    """Stack angles and derivatives: (n, 3, P) deg → (n, 3·len(kinds), P).

    Parameters
    ----------
    angles : array (n, 3, P)
        Hip flexion, knee flexion, ankle dorsiflexion per cycle, deg.
    durations : array (n,)
        Cycle durations, s.
    kinds : sequence of {"angles", "velocity", "acceleration"}
    """
    kinds = tuple(kinds)
    bad = [k for k in kinds if k not in INPUT_KINDS]
    if bad or not kinds:
        raise ConfigError(f"preprocess.inputs must be a non-empty subset of {list(INPUT_KINDS)}, got {list(kinds)}")
    a = np.asarray(angles, dtype=float)
    n, _, P = a.shape
    dt = np.asarray(durations, dtype=float)[:, None, None] / (P - 1)
    out = []
    vel = None
    for k in kinds:
        if k == "angles":
            out.append(a)
        elif k == "velocity":
            vel = np.gradient(a, axis=-1) / dt
            out.append(vel)
        else:
            if vel is None:
                vel = np.gradient(a, axis=-1) / dt
            out.append(np.gradient(vel, axis=-1) / dt)
    return np.concatenate(out, axis=1)


def to_rows(x: np.ndarray) -> np.ndarray:
    """(n_cycles, C, P) → (n_cycles·P, C): one row per instant."""
    x = np.asarray(x)
    return np.ascontiguousarray(np.moveaxis(x, 1, 2).reshape(-1, x.shape[1]))


def from_rows(rows: np.ndarray, n_cycles: int, n_points: int) -> np.ndarray:
    """(n_cycles·P, C) → (n_cycles, C, P)."""
    rows = np.asarray(rows)
    return np.moveaxis(rows.reshape(n_cycles, n_points, -1), 2, 1)
