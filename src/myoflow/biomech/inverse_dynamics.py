"""Two-dimensional (sagittal) inverse dynamics of the leg, and a quasi-static 3-D lever-arm estimate.

The sagittal routine is the textbook link-segment model (Winter 2009, ch. 5):
three rigid segments (foot, shank, thigh) joined by hinges, Newton–Euler
equations solved from the ground reaction force upward (distal → proximal),
segment parameters from :func:`myoflow.biomech.anthropometry.winter_segments`.

Frames and signs
----------------
* Ground frame: x forward (direction of progression), y up; angles are
  counter-clockwise (CCW) positive seen from the subject's right side.
* Inputs are *joint* angles with flexion positive: hip flexion, knee flexion,
  ankle dorsiflexion (degrees), plus the pelvis tilt (CCW/posterior positive).
  Segment angles: thigh θt = tilt + hip; shank θs = θt − knee; foot θf = θs + ankle
  (θf = 0: sole horizontal when the shank is vertical and the ankle neutral).
* Output moments are the *internal* (muscle) net joint moments with the
  extensor convention used in gait analysis: hip extensor +, knee extensor +,
  ankle plantarflexor +.

Assumptions (documented, as the issue asks)
-------------------------------------------
1. Planar motion: out-of-plane motion and moments are ignored in the sagittal
   routine; segments are rigid; joints are frictionless hinges with fixed centres.
2. Segment masses, COM positions and radii of gyration from Winter's Table 4.1
   (Dempster's cadaver data) scaled by body mass and height; lengths from
   height (Drillis & Contini). Individual anatomy can differ by 10–20 %.
3. The ground reaction force acts at the centre of pressure on the foot; the
   free vertical moment is ignored unless given.
4. Kinematics are low-pass filtered (4th-order zero-phase Butterworth, 6 Hz
   by default, Winter 2009 §2.2) before double differentiation.
5. The hip joint centre trajectory is taken as given (default: fixed in space,
   which makes the thigh's linear acceleration come from rotation only).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from scipy.signal import butter, sosfiltfilt

from ..errors import DataError
from .anthropometry import GRAVITY, foot_geometry, winter_segments

__all__ = [
    "SagittalResult",
    "sagittal_inverse_dynamics",
    "segment_angles",
    "joint_positions",
    "quasi_static_moments_3d",
    "MOMENT_SIGNS",
]

log = logging.getLogger(__name__)

#: Sign conventions of the returned moments, for metadata.
MOMENT_SIGNS = {
    "hip": "extensor +",
    "knee": "extensor +",
    "ankle": "plantarflexor +",
    "frontal": "abductor (hip, knee) / evertor (ankle) +",
    "transverse": "internal rotator +",
}


@dataclass
class SagittalResult:
    """Output of :func:`sagittal_inverse_dynamics`.

    Attributes
    ----------
    moments : array, shape (n, 3)
        Net internal joint moments (N·m), columns hip, knee, ankle; hip and knee
        extensor +, ankle plantarflexor +.
    joint_forces : dict of arrays (n, 2)
        Force exerted on the distal segment by the proximal one at ``hip``,
        ``knee``, ``ankle`` (N, ground frame).
    positions : dict of arrays (n, 2)
        Ground-frame positions (m) of hip, knee, ankle and the segment COMs.
    segment_angles : array, shape (n, 3)
        Thigh, shank and foot angles (rad).
    """

    moments: np.ndarray
    joint_forces: dict[str, np.ndarray]
    positions: dict[str, np.ndarray]
    segment_angles: np.ndarray
    names: tuple[str, ...] = ("hip", "knee", "ankle")
    signs: dict[str, str] = field(default_factory=lambda: dict(MOMENT_SIGNS))


def _cross(r: np.ndarray, f: np.ndarray) -> np.ndarray:
    """z-component of the 2-D cross product r × f for arrays (..., 2)."""
    return r[..., 0] * f[..., 1] - r[..., 1] * f[..., 0]


def _as_series(x, n: int, what: str) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if a.ndim == 0:
        return np.full(n, float(a))
    if a.shape != (n,):
        raise DataError(f"{what} must be a scalar or have shape ({n},), got {a.shape}")
    return a


def _lowpass(x: np.ndarray, fs: float, cutoff: float | None) -> np.ndarray:
    if cutoff is None or x.shape[0] < 16:
        return x
    if cutoff >= fs / 2:
        raise DataError(f"kinematic low-pass cut-off {cutoff} Hz must be below Nyquist ({fs / 2} Hz)")
    sos = butter(4, cutoff, btype="low", fs=fs, output="sos")
    padlen = min(x.shape[0] - 1, 3 * (2 * len(sos) + 1) * 4)
    return sosfiltfilt(sos, x, axis=0, padlen=padlen)


def segment_angles(angles_deg: np.ndarray, pelvis_tilt_deg=0.0) -> np.ndarray:
    """Thigh, shank and foot angles (rad, CCW +) from hip/knee/ankle joint angles (deg, flexion +).

    Parameters
    ----------
    angles_deg : array, shape (n, 3)
        Hip flexion, knee flexion, ankle dorsiflexion in degrees.
    pelvis_tilt_deg : float or array (n,)
        Pelvis tilt (CCW, i.e. posterior, positive), degrees.
    """
    a = np.radians(np.asarray(angles_deg, dtype=float))
    tilt = np.radians(_as_series(pelvis_tilt_deg, a.shape[0], "pelvis_tilt_deg"))
    thigh = tilt + a[:, 0]
    shank = thigh - a[:, 1]
    foot = shank + a[:, 2]
    return np.stack([thigh, shank, foot], axis=1)


def joint_positions(seg_angles: np.ndarray, hip_xy: np.ndarray, body_mass_kg: float,
                    height_m: float) -> dict[str, np.ndarray]:
    """Ground-frame positions (m) of joints, COMs and foot landmarks for segment angles (rad)."""
    segs = winter_segments(body_mass_kg, height_m)
    foot = foot_geometry(height_m)
    th, sh, ft = seg_angles[:, 0], seg_angles[:, 1], seg_angles[:, 2]
    hip = np.asarray(hip_xy, dtype=float)
    knee = hip + segs["thigh"].length_m * np.stack([np.sin(th), -np.cos(th)], 1)
    ankle = knee + segs["shank"].length_m * np.stack([np.sin(sh), -np.cos(sh)], 1)
    c, s = np.cos(ft), np.sin(ft)

    def foot_point(p):
        return ankle + np.stack([c * p[0] - s * p[1], s * p[0] + c * p[1]], 1)

    mt = foot_point(foot.mt_head)
    return {
        "hip": hip,
        "knee": knee,
        "ankle": ankle,
        "heel": foot_point(foot.heel),
        "mt_head": mt,
        "toe": foot_point(foot.toe),
        "thigh_com": hip + segs["thigh"].com_fraction * (knee - hip),
        "shank_com": knee + segs["shank"].com_fraction * (ankle - knee),
        "foot_com": ankle + segs["foot"].com_fraction * (mt - ankle),
    }


def _derivative(x: np.ndarray, fs: float, order: int) -> np.ndarray:
    dt = 1.0 / fs
    for _ in range(order):
        x = np.gradient(x, dt, axis=0)
    return x


def sagittal_inverse_dynamics(
    angles_deg: np.ndarray,
    fs: float,
    grf: np.ndarray,
    cop: np.ndarray,
    body_mass_kg: float,
    height_m: float,
    *,
    hip_xy: np.ndarray | None = None,
    pelvis_tilt_deg=0.0,
    free_moment: np.ndarray | None = None,
    lowpass_hz: float | None = 6.0,
) -> SagittalResult:
    """Net hip, knee and ankle moments by 2-D Newton–Euler inverse dynamics.

    Parameters
    ----------
    angles_deg : array, shape (n, 3)
        Hip flexion, knee flexion, ankle dorsiflexion (deg), sampled at ``fs``.
    fs : float
        Sampling rate, Hz.
    grf : array, shape (n, 2)
        Ground reaction force on the foot (N): anterior (x) and vertical (y).
        Zero during swing.
    cop : array, shape (n, 2) or (n,)
        Centre of pressure in the ground frame (m); a 1-D array is the x
        coordinate with the COP on the floor (y = 0).
    body_mass_kg, height_m : float
        Scale Winter's segment parameters.
    hip_xy : array (n, 2), optional
        Hip joint centre trajectory in the ground frame (m). Default: fixed at
        (0, leg length).
    pelvis_tilt_deg : float or array (n,)
        Pelvis tilt, CCW (posterior) positive.
    free_moment : array (n,), optional
        Vertical-axis free moment of the force plate about z (N·m).
    lowpass_hz : float or None
        Cut-off of the zero-phase low-pass applied to the kinematics before
        differentiation (None: no filtering).

    Returns
    -------
    SagittalResult
    """
    angles = np.asarray(angles_deg, dtype=float)
    if angles.ndim != 2 or angles.shape[1] != 3:
        raise DataError(f"angles must have shape (n, 3) [hip, knee, ankle], got {angles.shape}")
    n = angles.shape[0]
    if n < 3:
        raise DataError(f"inverse dynamics needs at least 3 samples, got {n}")
    if not np.isfinite(angles).all():
        raise DataError("joint angles contain NaN/inf")
    if not (np.isfinite(fs) and fs > 0):
        raise DataError(f"fs must be > 0 Hz, got {fs}")
    grf = np.asarray(grf, dtype=float)
    if grf.shape != (n, 2):
        raise DataError(f"grf must have shape ({n}, 2) [anterior, vertical], got {grf.shape}")
    cop = np.asarray(cop, dtype=float)
    if cop.ndim == 1:
        cop = np.stack([cop, np.zeros_like(cop)], 1)
    if cop.shape != (n, 2):
        raise DataError(f"cop must have shape ({n},) or ({n}, 2), got {cop.shape}")
    if not (np.isfinite(grf).all() and np.isfinite(cop).all()):
        raise DataError("ground reaction force or centre of pressure contains NaN/inf")
    segs = winter_segments(body_mass_kg, height_m)
    if hip_xy is None:
        leg = segs["thigh"].length_m + segs["shank"].length_m + foot_geometry(height_m).ankle_height_m
        hip_xy = np.tile([0.0, leg], (n, 1))
    hip_xy = np.asarray(hip_xy, dtype=float)
    if hip_xy.shape != (n, 2):
        raise DataError(f"hip_xy must have shape ({n}, 2), got {hip_xy.shape}")
    tilt = _as_series(pelvis_tilt_deg, n, "pelvis_tilt_deg")

    # Filter the kinematics (not the forces) before differentiating, as Winter does.
    kin = _lowpass(np.column_stack([angles, tilt, hip_xy]), fs, lowpass_hz)
    seg = segment_angles(kin[:, :3], kin[:, 3])
    pos = joint_positions(seg, kin[:, 4:6], body_mass_kg, height_m)
    alpha = _derivative(np.unwrap(seg, axis=0), fs, 2)
    g = np.array([0.0, -GRAVITY])

    # Distal load on the foot: the ground reaction at the COP (+ free moment).
    f_dist = grf
    p_dist = cop
    m_dist = np.zeros(n) if free_moment is None else _as_series(free_moment, n, "free_moment")
    forces: dict[str, np.ndarray] = {}
    moments_ccw: dict[str, np.ndarray] = {}
    order = [("foot", "ankle", 2), ("shank", "knee", 1), ("thigh", "hip", 0)]
    for name, joint, k in order:
        sp = segs[name]
        com = pos[f"{name}_com"]
        acc = _derivative(com, fs, 2)
        # Newton: m a = F_prox + F_dist + m g
        f_prox = sp.mass_kg * (acc - g) - f_dist
        # Euler about the COM: I α = M_prox + M_dist + (P − c) × F_prox + (D − c) × F_dist
        r_prox = pos[joint] - com
        r_dist = p_dist - com
        m_prox = sp.inertia_kgm2 * alpha[:, k] - m_dist - _cross(r_prox, f_prox) - _cross(r_dist, f_dist)
        forces[joint] = f_prox
        moments_ccw[joint] = m_prox
        # The proximal segment feels the reaction at this joint.
        f_dist, p_dist, m_dist = -f_prox, pos[joint], -m_prox

    # CCW moment on the foot = dorsiflexor; on the shank = knee extensor; on the thigh = hip flexor.
    moments = np.column_stack([-moments_ccw["hip"], moments_ccw["knee"], -moments_ccw["ankle"]])
    return SagittalResult(moments=moments, joint_forces=forces, positions=pos, segment_angles=seg)


def quasi_static_moments_3d(grf: np.ndarray, cop: np.ndarray, joints: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Internal 3-D joint moments from the ground reaction force lever arms only.

    A quasi-static estimate for the frontal and transverse planes: the moment
    of the ground reaction force about each joint centre, with segment weights
    and inertia neglected (they change stance-phase frontal moments by roughly
    10 %, and swing-phase moments are near zero in these planes anyway).

    Parameters
    ----------
    grf : array (n, 3)
        Ground reaction force on the foot, ground frame x forward, y up, z to the
        subject's right (N).
    cop : array (n, 3)
        Centre of pressure (m), same frame.
    joints : dict name -> array (n, 3)
        Joint centres (m), same frame.

    Returns
    -------
    dict name -> array (n, 3)
        Columns sagittal (extensor/plantarflexor +), frontal (abductor/evertor +
        for a right limb), transverse (internal rotator + for a right limb), N·m.
    """
    grf = np.asarray(grf, dtype=float)
    cop = np.asarray(cop, dtype=float)
    out = {}
    for name, centre in joints.items():
        r = cop - np.asarray(centre, dtype=float)
        m_int = -np.cross(r, grf)  # internal = − external moment
        sag = m_int[:, 2] if name == "knee" else -m_int[:, 2]
        out[name] = np.column_stack([sag, -m_int[:, 0], m_int[:, 1]])
    return out
