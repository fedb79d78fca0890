"""A digest of the simulator's own source, for cache keys of simulated cohorts."""
from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

__all__ = ["simulator_digest"]


@lru_cache(maxsize=1)
def simulator_digest() -> str:
    """SHA-256 (16 hex) over every ``.py`` file of ``simulate/`` and ``biomech/``.

    Any edit to the simulator (or to the inverse dynamics the gait protocol uses)
    changes the digest, so a cohort cache keyed with it is never served stale;
    a hand-bumped version constant is easy to forget.
    """
    return digest_of(Path(__file__).resolve().parent.parent)


def digest_of(root: Path) -> str:
    """The digest of ``root/simulate`` and ``root/biomech`` (``root``: the package folder)."""
    h = hashlib.sha256()
    for pkg in ("simulate", "biomech"):
        for f in sorted((root / pkg).rglob("*.py")):
            h.update(str(f.relative_to(root)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]
