"""Deterministic seeds without touching global state.

``derive_seed(base, *keys)`` gives a stable 31-bit seed from a base seed and any
labels (fold id, model name), independent of process, executor and order.
``torch_seed(seed)`` seeds torch inside a forked RNG scope, so module initialisation
is reproducible while the caller's global RNG state is restored afterwards.
"""
from __future__ import annotations

import hashlib
from contextlib import contextmanager
from typing import Iterator

__all__ = ["derive_seed", "torch_seed"]


def derive_seed(base: int, *keys: object) -> int:
    """Stable seed from ``base`` and labels (SHA-256; not Python's salted ``hash``)."""
    text = "|".join([str(int(base))] + [str(k) for k in keys])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little") & 0x7FFFFFFF


@contextmanager
def torch_seed(seed: int) -> Iterator[None]:
    """Within the block, torch's CPU (and CUDA) RNG is seeded with ``seed``; restored on exit."""
    import torch

    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield
