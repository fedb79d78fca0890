"""Checkpoints as safetensors: loading never executes code."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .._atomic import atomic_path
from ..errors import DataError

__all__ = ["save_state_dict", "load_state_dict"]


def save_state_dict(state: dict[str, Any], path: str | Path, metadata: dict[str, Any] | None = None) -> None:
    """Write a torch ``state_dict`` atomically; ``metadata`` (JSON-able) is stored in the header."""
    import torch
    from safetensors.torch import save_file

    tensors = {k: v.detach().cpu().contiguous() for k, v in state.items() if isinstance(v, torch.Tensor)}
    meta = {"myoflow": json.dumps(metadata or {}, default=str)}
    with atomic_path(path, suffix=".safetensors") as tmp:
        save_file(tensors, str(tmp), metadata=meta)


def load_state_dict(path: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read a checkpoint written by :func:`save_state_dict`: (state_dict, metadata)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file, safe_open

    path = Path(path)
    if not path.is_file():
        raise DataError("checkpoint not found", str(path))
    try:
        state = load_file(str(path))
        with safe_open(str(path), framework="pt") as fh:
            meta = json.loads((fh.metadata() or {}).get("myoflow", "{}"))
    except (SafetensorError, OSError, ValueError) as exc:
        raise DataError(f"corrupt or truncated checkpoint ({exc})", str(path)) from None
    return state, meta
