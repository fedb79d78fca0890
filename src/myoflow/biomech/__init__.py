"""Biomechanics analysis: Winter's anthropometry, 2-D inverse dynamics of the leg, Trial helpers.

Analysis only (it uses the core and nothing above it): the gait-EMG pipeline uses it
when a user's Trial has kinematics and ground reaction forces but no joint moments,
and the gait simulator (:mod:`myoflow.simulate.gait`, which holds the walking and
muscle-activation models) uses it to compute moments from simulated kinematics.
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
