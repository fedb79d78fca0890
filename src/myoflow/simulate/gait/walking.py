"""Synthetic overground walking of one person: kinematics, ground reaction forces, joint moments.

One right limb is simulated over consecutive strides. The recipe (spec §4):

1. Stride durations: the person's mean stride time (1.0–1.2 s) × (1 + N(0, 2 %)) per
   stride; stance fraction 0.60–0.62 [A].
2. Joint angles: normative templates (:mod:`.templates`) at a phase warped so
   toe-off lands at the person's stance fraction; person-specific offsets, range
   scaling and low-harmonic shape changes (between-subject SD ≈ 3–5°), and
   stride-specific harmonic perturbations blended smoothly from stride to stride
   (SD ≈ 1–2°) [A: spec].
3. Hip trajectory: constant mean speed (stride length 0.8 H per stride [A]) with
   a ±2 cm vertical oscillation twice per stride (lowest in double support) [A].
4. Ground reaction force and centre of pressure from the stance templates,
   scaled by body weight and, per stride, by N(1, 3 %) (vertical peaks rise with
   cadence: × (T_mean/T_k)^0.5 [A]). Frontal-plane geometry: hip centre 9 cm,
   knee 7 cm, ankle 5.5 cm lateral of the body midline (× H/1.75) [A]; the COP
   moves from 1 cm lateral to 1.5 cm medial of the foot axis.
5. Moments: sagittal hip/knee/ankle by 2-D Newton–Euler inverse dynamics
   (:func:`myoflow.biomech.inverse_dynamics.sagittal_inverse_dynamics`, Winter's anthropometry);
   frontal and transverse planes by the quasi-static lever-arm estimate
   (:func:`myoflow.biomech.inverse_dynamics.quasi_static_moments_3d`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...errors import ConfigError
from ...biomech.anthropometry import GRAVITY, foot_geometry, winter_segments
from .templates import (
    ANGLE_KEYPOINTS,
    PELVIS_TILT_DEG,
    angle_template,
    cop_fraction,
    grf_template,
    stance_warp,
)
from ...biomech.inverse_dynamics import joint_positions, quasi_static_moments_3d, sagittal_inverse_dynamics, segment_angles

__all__ = ["WalkingParams", "WalkingResult", "draw_walking_params", "simulate_walking", "ANGLE_NAMES",
           "MOMENT_NAMES"]

ANGLE_NAMES = ("hip_flexion", "knee_flexion", "ankle_dorsiflexion")
MOMENT_NAMES = tuple(f"{j}_{p}" for j in ("hip", "knee", "ankle") for p in ("sagittal", "frontal", "transverse"))
_N_SUBJ_HARM = 3
_N_STRIDE_HARM = 4


@dataclass
class WalkingParams:
    """Person-level walking parameters (ground truth of the simulator).

    Attributes
    ----------
    stride_time_s : mean stride duration.
    stance_fraction : toe-off as a fraction of the cycle.
    stride_cv : stride-to-stride CV of the duration.
    angle_offset_deg : (3,) additive offsets of hip/knee/ankle.
    angle_scale : (3,) range-of-motion scaling about the template mean.
    shape_coef_deg : (3, 2·_N_SUBJ_HARM) harmonic shape changes (cos, sin per harmonic).
    stride_sd_deg : SD of each stride-harmonic coefficient.
    grf_peaks : (peak1, valley, peak2) in BW.
    grf_cv : stride-to-stride CV of the GRF amplitude.
    pelvis_tilt_deg : pelvis tilt (CCW/posterior +).
    """

    stride_time_s: float = 1.1
    stance_fraction: float = 0.61
    stride_cv: float = 0.02
    angle_offset_deg: np.ndarray = field(default_factory=lambda: np.zeros(3))
    angle_scale: np.ndarray = field(default_factory=lambda: np.ones(3))
    shape_coef_deg: np.ndarray = field(default_factory=lambda: np.zeros((3, 2 * _N_SUBJ_HARM)))
    stride_sd_deg: float = 0.5
    grf_peaks: tuple[float, float, float] = (1.15, 0.75, 1.12)
    grf_cv: float = 0.03
    pelvis_tilt_deg: float = PELVIS_TILT_DEG

    def summary(self) -> dict[str, float]:
        """Scalar ground-truth values for the participants table."""
        return {
            "stride_time_s": float(self.stride_time_s),
            "stance_fraction": float(self.stance_fraction),
            "hip_offset_deg": float(self.angle_offset_deg[0]),
            "knee_offset_deg": float(self.angle_offset_deg[1]),
            "ankle_offset_deg": float(self.angle_offset_deg[2]),
            "grf_peak1_bw": float(self.grf_peaks[0]),
            "grf_peak2_bw": float(self.grf_peaks[2]),
        }


@dataclass
class WalkingResult:
    """Time series of one simulated walk (all at ``fs``).

    ``angles`` (n, 3) deg; ``pelvis_tilt`` (n,) deg; ``hip_xy`` (n, 2) m; ``grf`` (n, 3)
    N (anterior, vertical, lateral); ``grf_vertical_total`` (n,) N (both feet);
    ``cop`` (n, 3) m; ``moments`` (n, 9) N·m in :data:`MOMENT_NAMES` order;
    ``heel_strikes``/``toe_offs`` sample indices; ``phase`` (n,) continuous stride phase.
    """

    fs: float
    angles: np.ndarray
    pelvis_tilt: np.ndarray
    hip_xy: np.ndarray
    grf: np.ndarray
    grf_vertical_total: np.ndarray
    cop: np.ndarray
    moments: np.ndarray
    heel_strikes: np.ndarray
    toe_offs: np.ndarray
    phase: np.ndarray
    stride_times: np.ndarray
    speed_m_s: float


def draw_walking_params(rng: np.random.Generator) -> WalkingParams:
    """Random person-level walking parameters (spec §4 ranges)."""
    return WalkingParams(
        stride_time_s=float(rng.uniform(1.0, 1.2)),
        stance_fraction=float(rng.uniform(0.60, 0.62)),
        stride_cv=0.02,
        angle_offset_deg=rng.normal(0.0, 2.5, 3),
        angle_scale=np.clip(rng.normal(1.0, 0.08, 3), 0.8, 1.2),
        shape_coef_deg=rng.normal(0.0, 0.8, (3, 2 * _N_SUBJ_HARM)),
        stride_sd_deg=0.5,
        grf_peaks=(float(rng.normal(1.15, 0.03)), float(rng.normal(0.75, 0.04)), float(rng.normal(1.12, 0.03))),
        grf_cv=0.03,
    )


def _harmonics(phase: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """Σ_h a_h cos(2πhφ) + b_h sin(2πhφ); coef (..., 2H) broadcast over phase (n,)."""
    out = 0.0
    n_h = coef.shape[-1] // 2
    for h in range(1, n_h + 1):
        w = 2 * np.pi * h * phase
        out = out + coef[..., 2 * h - 2] * np.cos(w) + coef[..., 2 * h - 1] * np.sin(w)
    return out


def _smoothstep(x: np.ndarray) -> np.ndarray:
    return x * x * (3 - 2 * x)


_TEMPLATE_MEAN = {name: float(np.mean(angle_template(name, np.linspace(0, 1, 400, endpoint=False))))
                  for name in ANGLE_NAMES}


def simulate_walking(height_m: float, body_mass_kg: float, n_strides: int, rng: np.random.Generator,
                     params: WalkingParams | None = None, fs: float = 200.0) -> WalkingResult:
    """Simulate ``n_strides`` right-leg strides of steady walking.

    Parameters
    ----------
    height_m, body_mass_kg : float
    n_strides : int
        Complete cycles in the output (it starts at a heel strike and holds
        ``n_strides + 1`` heel strikes, the last one near the end).
    rng : numpy.random.Generator
    params : WalkingParams, optional
        Person-level parameters (default: drawn with :func:`draw_walking_params`).
    fs : float
        Sampling rate of kinematics, forces and moments, Hz.
    """
    if n_strides < 1:
        raise ConfigError(f"n_strides must be >= 1, got {n_strides}")
    p = params if params is not None else draw_walking_params(rng)
    n_all = n_strides + 2  # one stride of margin each side (filter edges), cropped below
    T = p.stride_time_s * (1 + p.stride_cv * rng.standard_normal(n_all))
    T = np.clip(T, 0.8 * p.stride_time_s, 1.2 * p.stride_time_s)
    hs_times = np.concatenate([[0.0], np.cumsum(T)])
    n = int(np.floor(hs_times[-1] * fs))
    t = np.arange(n) / fs
    k = np.clip(np.searchsorted(hs_times, t, side="right") - 1, 0, n_all - 1)
    frac = (t - hs_times[k]) / T[k]
    phase = k + frac

    # --- joint angles: template at a toe-off-warped phase + person + stride variation
    warped = stance_warp(frac, p.stance_fraction)
    stride_coef = rng.normal(0.0, p.stride_sd_deg, (n_all + 1, 3, 2 * _N_STRIDE_HARM))
    s = _smoothstep(frac)[:, None, None]
    coef_t = (1 - s) * stride_coef[k] + s * stride_coef[k + 1]
    angles = np.empty((n, 3))
    for j, name in enumerate(ANGLE_NAMES):
        base = angle_template(name, warped)
        mean = _TEMPLATE_MEAN[name]
        angles[:, j] = (mean + p.angle_scale[j] * (base - mean) + p.angle_offset_deg[j]
                        + _harmonics(warped, p.shape_coef_deg[j]) + _harmonics(warped, coef_t[:, j]))
    # People who walk with more hip flexion mostly tilt the pelvis forward more: 80 % of the
    # person's hip offset is pelvic tilt, so the thigh's orientation in space changes little [A].
    tilt = np.full(n, p.pelvis_tilt_deg - 0.8 * p.angle_offset_deg[0])

    # --- hip trajectory
    segs = winter_segments(body_mass_kg, height_m)
    foot = foot_geometry(height_m)
    leg = segs["thigh"].length_m + segs["shank"].length_m + foot.ankle_height_m
    speed = 0.8 * height_m / p.stride_time_s
    hip_xy = np.column_stack([speed * t, 0.97 * leg - 0.02 * np.cos(4 * np.pi * (phase - 0.05))])

    # --- ground reaction force and centre of pressure (right foot)
    bw = body_mass_kg * GRAVITY
    amp = 1 + p.grf_cv * rng.standard_normal(n_all)
    cadence = np.sqrt(p.stride_time_s / T)
    u = frac / p.stance_fraction
    grf = np.zeros((n, 3))
    p1, valley, p2 = p.grf_peaks
    for kk in range(n_all):
        sel = k == kk
        g = grf_template(u[sel], peak1=p1 * cadence[kk], valley=valley, peak2=p2 * cadence[kk])
        grf[sel] = g * amp[kk] * bw
    # left foot: the same pattern half a cycle later (for the total vertical force / body weight)
    u_left = np.mod(frac - 0.5, 1.0) / p.stance_fraction
    grf_left_v = grf_template(u_left, peak1=p1, valley=valley, peak2=p2)[:, 1] * bw
    seg = segment_angles(angles, tilt)
    pos = joint_positions(seg, hip_xy, body_mass_kg, height_m)
    cf = cop_fraction(u)
    sole = foot.point(cf)
    c, sn = np.cos(seg[:, 2]), np.sin(seg[:, 2])
    cop_x = pos["ankle"][:, 0] + c * sole[:, 0] - sn * sole[:, 1]
    cop_y = pos["ankle"][:, 1] + sn * sole[:, 0] + c * sole[:, 1]
    stance = (u >= 0) & (u <= 1)
    scale = height_m / 1.75
    z_hip, z_knee, z_ankle = 0.09 * scale, 0.07 * scale, 0.055 * scale
    cop_z = z_ankle + np.interp(np.clip(u, 0, 1), [0, 0.3, 1.0], [0.01, 0.0, -0.015]) * scale
    cop = np.column_stack([cop_x, cop_y, cop_z])

    # --- moments
    sag = sagittal_inverse_dynamics(angles, fs, grf[:, :2], cop[:, :2], body_mass_kg, height_m,
                                    hip_xy=hip_xy, pelvis_tilt_deg=tilt)
    pos = sag.positions
    joints3 = {
        "hip": np.column_stack([pos["hip"], np.full(n, z_hip)]),
        "knee": np.column_stack([pos["knee"], np.full(n, z_knee)]),
        "ankle": np.column_stack([pos["ankle"], np.full(n, z_ankle)]),
    }
    qs = quasi_static_moments_3d(grf, cop, joints3)
    moments = np.empty((n, 9))
    for j, name in enumerate(("hip", "knee", "ankle")):
        moments[:, 3 * j] = sag.moments[:, j]
        moments[:, 3 * j + 1] = np.where(stance, qs[name][:, 1], 0.0)
        moments[:, 3 * j + 2] = np.where(stance, qs[name][:, 2], 0.0)

    # --- crop the margin strides
    i0 = int(np.ceil(hs_times[1] * fs))
    i1 = min(n, int(np.floor(hs_times[-2] * fs)) + int(0.05 * fs))
    sl = slice(i0, i1)
    hs = np.array([int(np.ceil(h * fs)) - i0 for h in hs_times[1:-1]])
    hs = hs[(hs >= 0) & (hs < i1 - i0)]
    to = np.array([int(np.round((hs_times[kk] + p.stance_fraction * T[kk]) * fs)) - i0 for kk in range(1, n_all - 1)])
    to = to[(to >= 0) & (to < i1 - i0)]
    return WalkingResult(
        fs=fs, angles=angles[sl], pelvis_tilt=tilt[sl], hip_xy=hip_xy[sl] - [hip_xy[i0, 0], 0.0], grf=grf[sl],
        grf_vertical_total=(grf[:, 1] + grf_left_v)[sl], cop=cop[sl] - [hip_xy[i0, 0], 0.0, 0.0],
        moments=moments[sl], heel_strikes=hs, toe_offs=to, phase=phase[sl] - 1.0, stride_times=T[1:-1],
        speed_m_s=float(speed),
    )
