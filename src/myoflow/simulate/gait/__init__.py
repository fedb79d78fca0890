"""Gait simulation internals: normative templates, synthetic walking, muscle excitations.

Used by the ``gait`` protocol (:mod:`myoflow.simulate.protocols.gait`):
:mod:`.templates` (normative angles, GRF, COP), :mod:`.walking` (kinematics, GRF and
joint moments of one person; the moments come from :mod:`myoflow.biomech`'s inverse
dynamics, the analysis layer) and :mod:`.muscles` (excitations consistent with the
moments). Analysis of real Trials stays in :mod:`myoflow.biomech`.
"""
from .muscles import LEG_MUSCLES, PERRY_ON_OFF, RECORDED_MUSCLES, MuscleModel
from .walking import ANGLE_NAMES, MOMENT_NAMES, WalkingParams, WalkingResult, draw_walking_params, simulate_walking

__all__ = ["LEG_MUSCLES", "PERRY_ON_OFF", "RECORDED_MUSCLES", "MuscleModel", "ANGLE_NAMES", "MOMENT_NAMES",
           "WalkingParams", "WalkingResult", "draw_walking_params", "simulate_walking"]
