"""Physiological sEMG simulator: the embedded default data source.

Core (``../shared/simulator-spec.md`` §1): simulated participants
(:mod:`~myoflow.simulate.subjects`), Fuglevand motor-unit pools
(:mod:`~myoflow.simulate.motor_units`), MUAPs from the planar skin–fat–muscle volume
conductor — a fast vectorised path (:mod:`~myoflow.simulate.volume_conductor`) and a
slower per-fibre numerical model (:mod:`~myoflow.simulate.numerical`) — measurement
noise and front end (:mod:`~myoflow.simulate.noise`) and interference EMG
(:mod:`~myoflow.simulate.emg`). Protocols (evoked, grid, gait, muaps, dynamic, lowerlimb) live in
:mod:`myoflow.simulate.protocols`; ``myoflow simulate <protocol>`` writes a dataset folder.
"""
from ._digest import simulator_digest
from .emg import MuscleModel, VoluntaryTruth, estimate_conduction_velocity, median_frequency, simulate_voluntary, synthesize_emg
from .motor_units import MUSCLES, MotorUnitPool, MuscleParams, muscle_params, place_motor_units
from .noise import add_noise, front_end
from .subjects import SubjectParams, generate_subjects, participants_table
from .volume_conductor import ElectrodeArray, MotorUnitGeometry, Tissue, fast_muaps

__all__ = [
    "simulator_digest",
    "SubjectParams", "generate_subjects", "participants_table",
    "MotorUnitPool", "MuscleParams", "MUSCLES", "muscle_params", "place_motor_units",
    "ElectrodeArray", "MotorUnitGeometry", "Tissue", "fast_muaps",
    "add_noise", "front_end",
    "synthesize_emg", "simulate_voluntary", "MuscleModel", "VoluntaryTruth", "median_frequency", "estimate_conduction_velocity",
]
