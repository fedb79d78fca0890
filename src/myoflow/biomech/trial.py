"""Sagittal joint moments for a :class:`~myoflow.containers.Trial` that has kinematics and GRF but no moments.

Channel naming
--------------
Two conventions are recognised (per side ``r``/``l``):

* myoflow (what ``myoflow simulate gait`` writes): stream ``angles`` with
  ``hip_flexion``, ``knee_flexion``, ``ankle_dorsiflexion`` (deg, flexion +) and
  optionally ``pelvis_tilt`` (deg, posterior +); stream ``grf`` with ``grf_ap``,
  ``grf_vertical`` (N) and ``cop_ap`` (m); optional stream ``hip_position`` with
  ``x``, ``y`` (m).
* OpenSim (``ik.sto`` / ``*.mot`` as read by :mod:`myoflow.io`): ``hip_flexion_r``,
  ``knee_angle_r`` (extension +, negated here), ``ankle_angle_r``, ``pelvis_tilt``,
  ``pelvis_tx``, ``pelvis_ty``; GRF ``ground_force_vx``/``vy``/``px`` for the right
  foot and ``l_ground_force_*`` for the left one.

Body mass and height come from ``trial.meta['covariates']`` (``weight``/``mass``,
``height``; height in m or cm) or the arguments. When the body mass is missing it
is estimated from the summed vertical GRF of both feet (mean over the trial,
which for steady walking equals body weight). When the height is missing and
OpenSim pelvis translations are present, it is estimated from the mean pelvis
height (leg length ≈ 0.53 H, Winter 2009) — a rough estimate that the result's
metadata flags.
"""
from __future__ import annotations

import logging

import numpy as np

from ..containers import Recording, Trial
from ..errors import DataError
from .anthropometry import WINTER_LENGTHS, estimate_body_mass
from .inverse_dynamics import MOMENT_SIGNS, sagittal_inverse_dynamics

__all__ = ["moments_from_trial", "sagittal_angles", "grf_sagittal"]

log = logging.getLogger(__name__)

# gait2392 generic model (1.80 m): hip joint centre in the pelvis frame, m.
_OSIM_HIP_OFFSET = np.array([-0.0707, -0.0661])
_OSIM_MODEL_HEIGHT = 1.80


def _has(rec: Recording, names) -> bool:
    return all(n in rec.ch_names for n in names)


def _col(rec: Recording, name: str) -> np.ndarray:
    return rec.data[rec.ch_names.index(name)].astype(float)


def sagittal_angles(rec: Recording, side: str = "r") -> tuple[np.ndarray, np.ndarray, str]:
    """(angles (n, 3) hip/knee/ankle deg flexion +, pelvis tilt (n,), convention name)."""
    if _has(rec, ["hip_flexion", "knee_flexion", "ankle_dorsiflexion"]):
        ang = np.column_stack([_col(rec, c) for c in ("hip_flexion", "knee_flexion", "ankle_dorsiflexion")])
        tilt = _col(rec, "pelvis_tilt") if "pelvis_tilt" in rec.ch_names else np.zeros(rec.n_samples)
        return ang, tilt, "myoflow"
    names = [f"hip_flexion_{side}", f"knee_angle_{side}", f"ankle_angle_{side}"]
    if _has(rec, names):
        ang = np.column_stack([_col(rec, names[0]), -_col(rec, names[1]), _col(rec, names[2])])
        tilt = _col(rec, "pelvis_tilt") if "pelvis_tilt" in rec.ch_names else np.zeros(rec.n_samples)
        return ang, tilt, "opensim"
    raise DataError(
        "angles stream needs hip_flexion/knee_flexion/ankle_dorsiflexion (myoflow) or "
        f"{names} (OpenSim); it has {list(rec.ch_names)}",
        rec.source,
    )


def grf_sagittal(rec: Recording, side: str = "r") -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(force (n, 2) anterior/vertical N, COP (n, 2) x/y m, total vertical of both feet or None).

    The COP height is 0 (the floor) unless the stream has ``cop_vertical``.
    """
    if _has(rec, ["grf_ap", "grf_vertical", "cop_ap"]):
        f = np.column_stack([_col(rec, "grf_ap"), _col(rec, "grf_vertical")])
        total = _col(rec, "grf_vertical_total") if "grf_vertical_total" in rec.ch_names else None
        cy = _col(rec, "cop_vertical") if "cop_vertical" in rec.ch_names else np.zeros(rec.n_samples)
        return f, np.column_stack([_col(rec, "cop_ap"), cy]), total
    prefix = "ground_force" if side == "r" else "l_ground_force"
    other = "l_ground_force" if side == "r" else "ground_force"
    names = [f"{prefix}_vx", f"{prefix}_vy", f"{prefix}_px"]
    if _has(rec, names):
        f = np.column_stack([_col(rec, names[0]), _col(rec, names[1])])
        total = _col(rec, names[1]) + (_col(rec, f"{other}_vy") if f"{other}_vy" in rec.ch_names else 0.0)
        cy = _col(rec, f"{prefix}_py") if f"{prefix}_py" in rec.ch_names else np.zeros(rec.n_samples)
        return f, np.column_stack([_col(rec, names[2]), cy]), total
    raise DataError(
        f"grf stream needs grf_ap/grf_vertical/cop_ap (myoflow) or {names} (OpenSim); it has {list(rec.ch_names)}",
        rec.source,
    )


def _resample_to(rec: Recording, x: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Linear interpolation of columns of x (n_rec, k) onto ``times`` (session clock)."""
    t = rec.times
    return np.column_stack([np.interp(times, t, x[:, j]) for j in range(x.shape[1])])


def _height_from_meta(cov: dict) -> float | None:
    h = cov.get("height", cov.get("height_m"))
    if h is None:
        return None
    h = float(h)
    return h / 100.0 if h > 3.0 else h


def moments_from_trial(trial: Trial, *, body_mass_kg: float | None = None, height_m: float | None = None,
                       side: str = "r", lowpass_hz: float | None = 6.0,
                       angles_stream: str = "angles", grf_stream: str = "grf") -> Recording:
    """Sagittal hip/knee/ankle moments of one limb by 2-D inverse dynamics.

    Parameters
    ----------
    trial : Trial
        Needs an angles stream and a GRF stream (see module docstring for names).
    body_mass_kg, height_m : float, optional
        Override the trial's covariates.
    side : {"r", "l"}
        Limb (OpenSim naming only; myoflow streams describe one limb).
    lowpass_hz : float or None
        Kinematic low-pass before differentiation.

    Returns
    -------
    Recording
        Channels ``hip_sagittal``, ``knee_sagittal``, ``ankle_sagittal`` (N·m,
        extensor/plantarflexor +) at the angles' rate; meta records the body
        mass and height used and how they were obtained.
    """
    if side not in ("r", "l"):
        raise DataError(f"side must be 'r' or 'l', got {side!r}")
    ang_rec, grf_rec = trial[angles_stream], trial[grf_stream]
    angles, tilt, convention = sagittal_angles(ang_rec, side)
    force, cop, total_vertical = grf_sagittal(grf_rec, side)
    times = ang_rec.times
    fgrid = _resample_to(grf_rec, np.column_stack([force, cop]), times)
    cov = dict(trial.meta.get("covariates") or {})
    provenance = {}
    if body_mass_kg is None:
        w = cov.get("weight", cov.get("mass", cov.get("weight_kg")))
        if w is not None:
            body_mass_kg, provenance["body_mass"] = float(w), "covariates"
        elif total_vertical is not None:
            body_mass_kg, provenance["body_mass"] = estimate_body_mass(total_vertical), "mean total vertical GRF"
        else:
            raise DataError("body mass unknown: give body_mass_kg or a 'weight' covariate", trial.source)
    else:
        provenance["body_mass"] = "argument"
    hip_xy = None
    if "hip_position" in trial and _has(trial["hip_position"], ["x", "y"]):
        hp = trial["hip_position"]
        hip_xy = _resample_to(hp, np.column_stack([_col(hp, "x"), _col(hp, "y")]), times)
    if height_m is None:
        height_m = _height_from_meta(cov)
        provenance["height"] = "covariates"
    else:
        provenance["height"] = "argument"
    if convention == "opensim" and _has(ang_rec, ["pelvis_tx", "pelvis_ty"]):
        ptx, pty = _col(ang_rec, "pelvis_tx"), _col(ang_rec, "pelvis_ty")
        if height_m is None:
            leg = WINTER_LENGTHS["thigh"] + WINTER_LENGTHS["shank"] + WINTER_LENGTHS["ankle_height"]
            # pelvis origin sits ~0.066 m (generic model) above the hip centre.
            height_m = float((np.mean(pty) + _OSIM_HIP_OFFSET[1]) / leg)
            provenance["height"] = "estimated from mean pelvis height (leg length 0.53 H)"
        scale = height_m / _OSIM_MODEL_HEIGHT
        tr = np.radians(tilt)
        off = _OSIM_HIP_OFFSET * scale
        hip_xy = np.column_stack([
            ptx + np.cos(tr) * off[0] - np.sin(tr) * off[1],
            pty + np.sin(tr) * off[0] + np.cos(tr) * off[1],
        ])
    if height_m is None:
        raise DataError("height unknown: give height_m or a 'height' covariate", trial.source)
    res = sagittal_inverse_dynamics(
        angles, ang_rec.fs, fgrid[:, :2], fgrid[:, 2:4], body_mass_kg, height_m,
        hip_xy=hip_xy, pelvis_tilt_deg=tilt, lowpass_hz=lowpass_hz,
    )
    meta = {
        "subject": trial.meta.get("subject"),
        "session": trial.meta.get("session"),
        "source": f"inverse dynamics of {trial!r}"[:200],
        "body_mass_kg": float(body_mass_kg),
        "height_m": float(height_m),
        "provenance": provenance,
        "signs": {k: MOMENT_SIGNS[k] for k in ("hip", "knee", "ankle")},
    }
    log.info("2-D inverse dynamics: mass %.1f kg (%s), height %.2f m (%s)", body_mass_kg,
             provenance["body_mass"], height_m, provenance["height"])
    return Recording(res.moments.T, ang_rec.fs, ["hip_sagittal", "knee_sagittal", "ankle_sagittal"],
                     units="N·m", events=ang_rec.events, meta=meta, t0=ang_rec.t0)
