"""Validation of the simulator against the public real recordings (``myoflow validate-simulator``).

This layer sits above :mod:`myoflow.simulate`, :mod:`myoflow.io` and
:mod:`myoflow.preprocess` (it reads real data, simulates the counterpart and applies
the same statistics to both) and below the CLI.
"""
from .simulator import Check, Section, validate_simulator

__all__ = ["Check", "Section", "validate_simulator"]
