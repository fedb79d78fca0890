"""Training: one engine (:func:`fit`, :func:`fit_module`), seeding, device choice, checkpoints."""
from .device import get_device
from .seeding import derive_seed, torch_seed
from .engine import (AlternateStep, EpochState, FitResult, LogisticWeight, fit, fit_module, make_optimizer,
                     predict_module)
from .checkpoint import load_state_dict, save_state_dict

__all__ = ["get_device", "derive_seed", "torch_seed", "AlternateStep", "FitResult", "EpochState", "LogisticWeight",
           "fit", "fit_module", "predict_module", "make_optimizer", "load_state_dict", "save_state_dict"]
