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

from ._atomic import atomic_write_json
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
    with _Warnings() as on_load:
        try:
            obj = load(path)
        except (OSError, ValueError, KeyError, DataError) as exc:
            log.warning("ignoring unreadable %s cache %s (%s); rebuilding", what, path, exc)
            obj = None
    if obj is not None:
        log.info("loaded %s from cache %s", what, path)
        _replay(_warnings_file(path), {m for _, _, m in on_load.records})
        return obj
    with _Warnings() as on_build:
        obj = build()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # before the entry itself: an entry is never served without the warnings its data raised
        atomic_write_json(_warnings_file(path), on_build.records)
        save(obj, path)
        log.info("cached %s at %s", what, path)
    except OSError as exc:  # a read-only cache must not break the run
        log.warning("could not write the %s cache %s: %s", what, path, exc)
    return obj


def _warnings_file(path: Path) -> Path:
    """Where the warnings raised while building the entry ``path`` are kept (beside it)."""
    return path.with_name(path.name + ".warnings")  # JSON, but not "*.json": globs count entries by it


class _Warnings(logging.Handler):
    """Collect, as ``[logger name, level, message]``, the warnings myoflow logs inside a ``with`` block
    (they still reach the console as usual)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[list[Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.records.append([record.name, record.levelno, record.getMessage()])
        except Exception:  # a malformed message must not break the build it describes
            pass

    def __enter__(self) -> "_Warnings":
        logging.getLogger("myoflow").addHandler(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        logging.getLogger("myoflow").removeHandler(self)


def _replay(file: Path, already: set[str]) -> None:
    """Log again the warnings stored in ``file`` when the entry was built: a re-run served from the cache
    says what the first run said about the same data (a flat channel, a class left out), except what the
    loader itself has just said again (``already``). An absent or damaged file (an entry from an older
    myoflow) replays nothing."""
    try:
        rows = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return
    if not isinstance(rows, list):
        return
    for row in rows:
        if isinstance(row, list) and len(row) == 3 and isinstance(row[2], str) and row[2] not in already:
            try:
                level = int(row[1])
            except (TypeError, ValueError):
                continue
            logging.getLogger(str(row[0])).log(level, "%s", row[2])
