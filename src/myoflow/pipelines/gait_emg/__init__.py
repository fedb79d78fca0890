"""Seed 002 (Park & Park): sEMG of 7 lower-limb muscles from gait kinematics via joint torques."""
from ...biomech.gait_cycles import MUSCLES, GaitCycles, normalise_emg, trial_to_cycles

# The estimators live in myoflow.models.gait_mlp (TorqueBasedEmgRegressor, KinematicsEmgRegressor).
__all__ = ["MUSCLES", "GaitCycles", "normalise_emg", "trial_to_cycles", "GaitEmgPipeline", "GaitEmgConfig"]


def __getattr__(name):  # the pipeline module imports experiments; load it on use
    if name in ("GaitEmgPipeline", "GaitEmgConfig"):
        from . import pipeline

        return getattr(pipeline, name)
    raise AttributeError(name)
