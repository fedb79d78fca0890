"""Biomechanics: Winter's anthropometry and 2-D inverse dynamics of the leg.

Used by the ``gait`` simulator protocol (moments from simulated kinematics and
ground reaction forces) and by the gait-EMG pipeline when a user's Trial has
kinematics and ground reaction forces but no joint moments.
"""
from .anthropometry import (
    FootGeometry,
    SegmentParameters,
    WINTER_LENGTHS,
    WINTER_TABLE,
    estimate_body_mass,
    foot_geometry,
    winter_segments,
)
from .inverse_dynamics import (
    MOMENT_SIGNS,
    SagittalResult,
    joint_positions,
    quasi_static_moments_3d,
    sagittal_inverse_dynamics,
    segment_angles,
)
from .trial import moments_from_trial

__all__ = [
    "FootGeometry",
    "SegmentParameters",
    "WINTER_LENGTHS",
    "WINTER_TABLE",
    "estimate_body_mass",
    "foot_geometry",
    "winter_segments",
    "MOMENT_SIGNS",
    "SagittalResult",
    "joint_positions",
    "quasi_static_moments_3d",
    "sagittal_inverse_dynamics",
    "segment_angles",
    "moments_from_trial",
]
