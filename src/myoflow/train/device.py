"""Pick the compute device: CUDA when present (and asked for), else CPU."""
from __future__ import annotations

from ..errors import ConfigError

__all__ = ["get_device"]


def get_device(name: str = "auto") -> str:
    """Resolve ``"auto"``/``"cpu"``/``"cuda"``/``"cuda:N"`` to a usable torch device string."""
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} requested but no CUDA GPU is available; use 'auto' or 'cpu'")
    if name != "cpu" and not name.startswith("cuda"):
        raise ConfigError(f"unknown device {name!r}; expected 'auto', 'cpu' or 'cuda[:N]'")
    return name
