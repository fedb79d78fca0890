"""Per-instant model inputs from gait cycles, and row ↔ cycle reshaping.

The MLPs of seed 002 map one instant of the cycle to one output row. Inputs are
the three sagittal angles (deg) and, optionally, their time derivatives
(deg/s, deg/s²) computed on each time-normalised cycle with its real duration
(``np.gradient`` along the cycle, spacing = duration / (P − 1)), and the gait
phase as ``sin``/``cos`` of 2π · (fraction of the cycle) (``"phase"``).

``shifts_ms`` adds copies of the kinematic channels (not the phase) read
``shift`` ms later (positive) or earlier (negative) in the same cycle: muscles
are excited some 50–100 ms before the force and the movement they cause
(electromechanical delay), so the sEMG at instant *t* is better explained by the
kinematics around *t* + delay. The cycle is treated as periodic (heel strike to
heel strike), so a read past the cycle's end wraps to its start; the shift in
points is ``shift_s / duration · (P − 1)``, linear interpolation in between.
"""
from __future__ import annotations

import numpy as np

from ...errors import ConfigError

__all__ = ["INPUT_KINDS", "kinematic_inputs", "to_rows", "from_rows", "input_names"]

INPUT_KINDS = ("angles", "velocity", "acceleration", "phase")
_ANGLE_NAMES = ("hip", "knee", "ankle")


def input_names(kinds, shifts_ms=()) -> list[str]:
    """Feature names for the chosen input kinds, e.g. ``hip_angles``, ``knee_velocity@+60ms``, ``phase_sin``."""
    kin = [f"{j}_{k}" for k in kinds if k != "phase" for j in _ANGLE_NAMES]
    out = list(kin)
    for s in shifts_ms:
        out += [f"{n}@{float(s):+g}ms" for n in kin]
    if "phase" in kinds:
        out += ["phase_sin", "phase_cos"]
    return out


def _shift_cycles(x: np.ndarray, durations: np.ndarray, shift_ms: float) -> np.ndarray:
    """x (n, C, P) read ``shift_ms`` later in each (periodic) cycle, linearly interpolated."""
    n, _, P = x.shape
    period = P - 1  # point P-1 is the next heel strike = point 0 of a periodic cycle
    k = (shift_ms / 1000.0) / np.asarray(durations, dtype=float) * period  # (n,) shift in points
    pos = (np.arange(P)[None, :] + k[:, None]) % period                   # (n, P)
    lo = np.floor(pos).astype(int)
    w = (pos - lo)[:, None, :]
    hi = (lo + 1) % period
    rows = np.arange(n)[:, None]
    return x[rows, :, lo].transpose(0, 2, 1) * (1 - w) + x[rows, :, hi].transpose(0, 2, 1) * w


def kinematic_inputs(angles: np.ndarray, durations: np.ndarray, kinds=("angles", "velocity"),
                     shifts_ms=()) -> np.ndarray:
    """Stack angles, derivatives, shifted copies and phase: (n, 3, P) deg → (n, F, P).

    Parameters
    ----------
    angles : array (n, 3, P)
        Hip flexion, knee flexion, ankle dorsiflexion per cycle, deg.
    durations : array (n,)
        Cycle durations, s.
    kinds : sequence of {"angles", "velocity", "acceleration", "phase"}
        At least one kinematic kind; ``phase`` adds sin/cos of the cycle phase (2 channels).
    shifts_ms : sequence of float
        Extra copies of the kinematic channels read this many ms later (negative: earlier).

    Returns
    -------
    array (n, F, P) with F = 3·n_kinematic_kinds·(1 + len(shifts_ms)) (+ 2 with phase),
    in the order of :func:`input_names`.
    """
    kinds = tuple(kinds)
    bad = [k for k in kinds if k not in INPUT_KINDS]
    kin_kinds = [k for k in kinds if k != "phase"]
    if bad or not kin_kinds or len(set(kinds)) != len(kinds):
        raise ConfigError(f"preprocess.inputs must be a subset of {list(INPUT_KINDS)} with at least one "
                          f"kinematic kind and no repeats, got {list(kinds)}")
    a = np.asarray(angles, dtype=float)
    n, _, P = a.shape
    dt = np.asarray(durations, dtype=float)[:, None, None] / (P - 1)
    out = []
    vel = None
    for k in kin_kinds:
        if k == "angles":
            out.append(a)
        elif k == "velocity":
            vel = np.gradient(a, axis=-1) / dt
            out.append(vel)
        else:
            if vel is None:
                vel = np.gradient(a, axis=-1) / dt
            out.append(np.gradient(vel, axis=-1) / dt)
    kin = np.concatenate(out, axis=1)
    blocks = [kin] + [_shift_cycles(kin, durations, float(s)) for s in shifts_ms]
    if "phase" in kinds:
        ph = 2 * np.pi * np.arange(P) / (P - 1)
        blocks.append(np.broadcast_to(np.stack([np.sin(ph), np.cos(ph)])[None], (n, 2, P)))
    return np.concatenate(blocks, axis=1)


def to_rows(x: np.ndarray) -> np.ndarray:
    """(n_cycles, C, P) → (n_cycles·P, C): one row per instant."""
    x = np.asarray(x)
    return np.ascontiguousarray(np.moveaxis(x, 1, 2).reshape(-1, x.shape[1]))


def from_rows(rows: np.ndarray, n_cycles: int, n_points: int) -> np.ndarray:
    """(n_cycles·P, C) → (n_cycles, C, P)."""
    rows = np.asarray(rows)
    return np.moveaxis(rows.reshape(n_cycles, n_points, -1), 2, 1)
