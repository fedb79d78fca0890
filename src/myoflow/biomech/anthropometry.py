"""Segment parameters of the lower limb from body mass and height (Winter's tables).

Sources
-------
* Winter DA (2009) *Biomechanics and Motor Control of Human Movement*, 4th ed.,
  Wiley, Table 4.1 (after Dempster 1955): segment mass fractions of body mass,
  centre-of-mass position as a fraction of segment length from the proximal
  end, radius of gyration about the centre of mass as a fraction of segment
  length. [S] in ``../shared/simulator-spec.md`` §4 for the mass fractions;
  COM and radius of gyration fractions [R].
* Winter (2009) Fig. 4.1 (after Drillis & Contini 1966): segment lengths as
  fractions of standing height H: thigh 0.245 H, leg (shank) 0.246 H,
  foot length 0.152 H, ankle height 0.039 H, foot breadth 0.055 H. [R]

Foot geometry
-------------
Winter's foot *segment* runs from the lateral malleolus to the head of the
second metatarsal (COM at 0.50 of that line). The positions of the heel, the
metatarsal heads and the toe tip along the sole are assumptions [A]: the ankle
lies 0.19 foot lengths in front of the heel and the metatarsal heads 0.72 foot
lengths from the heel (typical adult foot proportions; they only place the
centre of pressure path and the foot COM).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import DataError

__all__ = [
    "SegmentParameters",
    "FootGeometry",
    "WINTER_TABLE",
    "WINTER_LENGTHS",
    "winter_segments",
    "foot_geometry",
    "estimate_body_mass",
]

#: Winter (2009) Table 4.1: mass fraction, COM from proximal end, radius of gyration about COM.
WINTER_TABLE: dict[str, tuple[float, float, float]] = {
    "foot": (0.0145, 0.50, 0.475),
    "shank": (0.0465, 0.433, 0.302),
    "thigh": (0.100, 0.433, 0.323),
}

#: Winter (2009) Fig. 4.1: segment lengths as fractions of height.
WINTER_LENGTHS: dict[str, float] = {
    "thigh": 0.245,
    "shank": 0.246,
    "foot_length": 0.152,
    "ankle_height": 0.039,
    "foot_breadth": 0.055,
}

#: Assumed [A] positions along the sole as fractions of foot length from the heel.
ANKLE_FROM_HEEL = 0.19
MT_HEAD_FROM_HEEL = 0.72

GRAVITY = 9.81


@dataclass(frozen=True)
class SegmentParameters:
    """Mass and inertia of one rigid segment.

    Attributes
    ----------
    name : str
    mass_kg : float
    length_m : float
        Proximal joint to distal reference point (for the foot: ankle to
        metatarsal II head).
    com_fraction : float
        Distance of the COM from the proximal end as a fraction of ``length_m``.
    gyration_fraction : float
        Radius of gyration about the COM as a fraction of ``length_m``.
    """

    name: str
    mass_kg: float
    length_m: float
    com_fraction: float
    gyration_fraction: float

    @property
    def inertia_kgm2(self) -> float:
        """Moment of inertia about the COM (kg·m²), I = m (ρ L)²."""
        return self.mass_kg * (self.gyration_fraction * self.length_m) ** 2


@dataclass(frozen=True)
class FootGeometry:
    """Points of the foot in a foot-fixed frame (x forward along the sole, y up; origin at the ankle joint), m."""

    heel: tuple[float, float]
    mt_head: tuple[float, float]
    toe: tuple[float, float]
    length_m: float
    ankle_height_m: float

    def point(self, fraction_from_heel: np.ndarray | float) -> np.ndarray:
        """Sole points at a fraction of foot length from the heel, shape (..., 2)."""
        f = np.asarray(fraction_from_heel, dtype=float)
        x = self.heel[0] + f * self.length_m
        return np.stack([x, np.full_like(x, self.heel[1])], axis=-1)


def _check_body(body_mass_kg: float, height_m: float) -> None:
    if not (np.isfinite(body_mass_kg) and 20.0 <= body_mass_kg <= 300.0):
        raise DataError(f"body mass must be 20–300 kg, got {body_mass_kg!r}")
    if not (np.isfinite(height_m) and 1.0 <= height_m <= 2.5):
        raise DataError(f"height must be 1.0–2.5 m, got {height_m!r}")


def foot_geometry(height_m: float) -> FootGeometry:
    """Foot landmarks from height (Winter's foot length and ankle height; [A] heel/MT fractions)."""
    _check_body(70.0, height_m)
    L = WINTER_LENGTHS["foot_length"] * height_m
    h = WINTER_LENGTHS["ankle_height"] * height_m
    heel_x = -ANKLE_FROM_HEEL * L
    return FootGeometry(
        heel=(heel_x, -h),
        mt_head=(heel_x + MT_HEAD_FROM_HEEL * L, -h),
        toe=(heel_x + L, -h),
        length_m=L,
        ankle_height_m=h,
    )


def winter_segments(body_mass_kg: float, height_m: float) -> dict[str, SegmentParameters]:
    """Foot, shank and thigh parameters for one person.

    Parameters
    ----------
    body_mass_kg : float
        Body mass, kg.
    height_m : float
        Standing height, m.

    Returns
    -------
    dict
        ``{"foot", "shank", "thigh"}`` → :class:`SegmentParameters`.
    """
    _check_body(body_mass_kg, height_m)
    foot = foot_geometry(height_m)
    foot_len = float(np.hypot(*foot.mt_head))
    lengths = {
        "foot": foot_len,
        "shank": WINTER_LENGTHS["shank"] * height_m,
        "thigh": WINTER_LENGTHS["thigh"] * height_m,
    }
    return {
        name: SegmentParameters(name, frac * body_mass_kg, lengths[name], com, gyr)
        for name, (frac, com, gyr) in WINTER_TABLE.items()
    }


def estimate_body_mass(vertical_grf_total: np.ndarray) -> float:
    """Body mass (kg) from the total vertical ground reaction force of whole gait cycles.

    Over whole strides the mean vertical acceleration of the body's centre of
    mass is zero, so the mean of the summed (left + right) vertical force equals
    body weight. Pass whole cycles of a steady gait.
    """
    f = np.asarray(vertical_grf_total, dtype=float)
    if f.size == 0 or not np.isfinite(f).all():
        raise DataError("vertical GRF for body-mass estimation is empty or non-finite")
    return float(np.mean(f) / GRAVITY)
