"""One cohort cache for every pipeline: simulate (or read) once, load afterwards.

A pipeline's ``prepare`` names its cache entry by :func:`cache_key` — a hash of
everything the data depend on (settings, myoflow version, and the SOURCE of the
modules that produce the data, so an edited simulator never serves stale
cohorts) — and calls :func:`cached` with a loader, a saver and a builder. The
cache holds only deterministic data preparation, never anything fitted, so it
cannot leak between folds. An unreadable entry is rebuilt with a warning; a
cache folder that cannot be written is a warning, not a failed run.
"""
from __future__ import annotations

import hashlib
import importlib
import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from .errors import DataError

__all__ = ["cache_key", "cached", "default_cache_dir"]

log = logging.getLogger(__name__)

T = TypeVar("T")


def default_cache_dir() -> Path:
    """``$MYOFLOW_CACHE`` or the user's cache dir (platformdirs)."""
    import os

    env = os.environ.get("MYOFLOW_CACHE")
    if env:
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("myoflow"))


def cache_key(params: Any, modules: Sequence[str] = (), length: int = 16) -> str:
    """Hex digest of ``params`` (JSON, sorted keys) and the source files of ``modules``.

    Parameters
    ----------
    params : JSON-serialisable (non-JSON values are converted with ``str``)
        Every setting the cached data depend on.
    modules : sequence of str
        Dotted module names whose source code produces the data.
    length : int
        Digest characters kept.
    """
    h = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode())
    for name in modules:
        try:
            h.update(Path(importlib.import_module(name).__file__).read_bytes())  # type: ignore[arg-type]
        except (ImportError, OSError, TypeError):
            h.update(name.encode())
    return h.hexdigest()[:length]


def cached(path: Path | None, load: Callable[[Path], T | None], save: Callable[[T, Path], None],
           build: Callable[[], T], what: str = "cohort") -> T:
    """``load(path)`` if the entry is there and readable, else ``build()`` and ``save`` it.

    Parameters
    ----------
    path : Path or None
        The cache entry (file or folder); None disables caching.
    load : callable(path) -> object or None
        Returns None when the entry is absent or incomplete; may raise
        ``OSError``/``ValueError``/``KeyError``/:class:`DataError` for a corrupt one.
    save : callable(object, path)
        Writes the entry (atomically: a killed run must not leave a half entry).
    build : callable() -> object
        Simulates or reads the data.
    what : str
        Used in log messages.
    """
    if path is None:
        return build()
    path = Path(path)
    try:
        obj = load(path)
    except (OSError, ValueError, KeyError, DataError) as exc:
        log.warning("ignoring unreadable %s cache %s (%s); rebuilding", what, path, exc)
        obj = None
    if obj is not None:
        log.info("loaded %s from cache %s", what, path)
        return obj
    obj = build()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        save(obj, path)
        log.info("cached %s at %s", what, path)
    except OSError as exc:  # a read-only cache must not break the run
        log.warning("could not write the %s cache %s: %s", what, path, exc)
    return obj
