"""Training utilities: seeding, device choice, one small fit loop, checkpoints."""
from .device import get_device
from .seeding import derive_seed, torch_seed
from .loop import FitResult, fit_module, predict_module
from .checkpoint import load_state_dict, save_state_dict

__all__ = ["get_device", "derive_seed", "torch_seed", "FitResult", "fit_module", "predict_module",
           "load_state_dict", "save_state_dict"]
