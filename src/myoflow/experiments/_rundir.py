"""Run-directory safety: an exclusive lock, leftover temporary files, safe folder names, and workers that die with their parent.

* :func:`lock_run_dir` — one run at a time per ``--out``: an ``flock`` on
  ``RUN_DIR/.myoflow.lock`` (the kernel drops it when the owner dies, so a stale
  lock from a killed run is simply taken over). The file records the owner's pid
  and host so a refused second run can say who holds it.
* :func:`remove_partial_writes` — temporary files left by an atomic write that was
  killed half-way (``.<name>.<random><suffix>``, see :mod:`myoflow._atomic`).
* :func:`check_fold_id` — fold ids become folder names; ids built from subject ids
  in the data must not be able to name a path outside the run directory.
* :func:`die_with_parent` (from :mod:`myoflow._worker`) — called first in each pool worker:
  ``PR_SET_PDEATHSIG`` on Linux, plus a watchdog thread polling the parent pid.
"""
from __future__ import annotations

import json
import logging
import os
import re
import socket
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .._worker import die_with_parent  # re-exported; lives in a light module for spawned workers
from ..errors import DataError

__all__ = ["lock_run_dir", "remove_partial_writes", "check_fold_id", "check_run_dir", "config_pipeline",
           "die_with_parent", "LOCK_NAME"]

log = logging.getLogger(__name__)

LOCK_NAME = ".myoflow.lock"
# myoflow._atomic's temporary names: mkstemp(prefix=".<name>.", suffix=<name's suffix>), i.e.
# ".metrics.json.k3j4h5g6.json". The suffix must repeat, so a user's ".env.template" is never taken for one.
_TEMP = re.compile(r"^\..+(\.[A-Za-z0-9]+)\.[a-z0-9_]{8}\1$")
_UNSAFE = re.compile(r"[/\\\x00-\x1f\x7f]")


def check_fold_id(fold_id: object, run_dir: Path) -> str:
    """Return ``fold_id`` if it is a safe single folder name, else raise :class:`DataError`.

    Fold ids often embed subject ids read from a dataset, so a hostile
    ``participants.csv`` could otherwise make the runner write outside ``--out``.
    """
    if not isinstance(fold_id, str) or not fold_id or len(fold_id) > 200 or _UNSAFE.search(fold_id) \
            or fold_id.startswith(".") or fold_id.strip() != fold_id:
        raise DataError(
            f"fold id {fold_id!r} is not a safe folder name (it usually holds a subject id from the data: "
            "use ids without '/', '\\', control characters or a leading '.')", str(run_dir))
    return fold_id


def prediction_out_dir(out: Path | None, run_dir: Path, inputs) -> Path:
    """The folder ``myoflow predict`` writes into: ``out``, else ``run_dir/predict``; never the folder of
    one of the user's ``inputs`` (predictions are not written beside the recordings) nor an existing file."""
    out_dir = Path(out) if out is not None else Path(run_dir) / "predict"
    if out_dir.exists() and not out_dir.is_dir():
        raise DataError("--out names an existing file, not a folder", str(out_dir))
    here = os.path.realpath(out_dir)  # realpath: a symlink loop among the inputs is not an error here
    if any(os.path.dirname(os.path.realpath(f)) == here for f in inputs):
        raise DataError("--out is the folder of the recordings; predictions are never written beside them",
                        str(out_dir))
    return out_dir


def check_run_dir(run_dir: Path) -> None:
    """Refuse an ``--out`` that is a non-empty folder but not a myoflow run (no ``config.yaml``).

    A run writes config, folds, figures and reports into its folder and, on start, removes the
    temporary files of interrupted writes anywhere under it: pointed at a project folder, a home
    folder or a dataset folder it would mix its files into the user's and could delete theirs.
    A folder holding only a lock and temporary files is a run killed before it wrote its config.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return
    cfg = run_dir / "config.yaml"
    if cfg.is_file():
        # a run's own folds or run_info.json beside it: an earlier run (its config is compared later)
        if _is_run_config(cfg) or (run_dir / "folds").is_dir() or (run_dir / "run_info.json").is_file():
            return
        # another tool's config.yaml (or the user's own) is not a run's: the run would overwrite it and its
        # neighbours (report.html, metrics.json) without a word
        raise DataError("--out holds a config.yaml that is not a myoflow run's (no 'pipeline' key naming a myoflow "
                        "pipeline, no folds/); give a new or empty folder", str(cfg))
    other = sorted(p.name for p in run_dir.iterdir() if p.name != LOCK_NAME and not _TEMP.match(p.name))
    if other:
        shown = ", ".join(other[:3]) + (" ..." if len(other) > 3 else "")
        raise DataError(f"--out is a non-empty folder that is not a myoflow run (no config.yaml; holds {shown}); "
                        "give a new or empty folder", str(run_dir))


def _is_run_config(path: Path) -> bool:
    """Whether ``path`` is the resolved config a run writes: a YAML mapping whose ``pipeline`` is a myoflow one."""
    from .registry import PIPELINES

    return config_pipeline(path) in PIPELINES


def config_pipeline(path: Path) -> str | None:
    """The ``pipeline`` named by the YAML file ``path``; None when it is missing, unreadable or names none.

    For choosing a route before the config is validated (the validating read then reports damage).
    """
    import yaml

    try:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    return doc.get("pipeline") if isinstance(doc, dict) else None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _owner(path: Path) -> str:
    try:
        doc = json.loads(path.read_text("utf-8"))
        return f"pid {doc.get('pid')} on host {doc.get('host')} since {doc.get('started')}"
    except (OSError, ValueError, AttributeError):
        return "an unknown process"


@contextmanager
def lock_run_dir(run_dir: Path) -> Iterator[Path]:
    """Hold an exclusive lock on ``run_dir`` for the block; a second holder gets :class:`DataError`.

    Raises
    ------
    DataError
        Naming the lock file and its owner (pid, host) when another live run holds it.
    """
    path = run_dir / LOCK_NAME
    me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: pid file, stale when its pid is gone
        fcntl = None
    if fcntl is None:  # pragma: no cover
        yield from _pidfile_lock(path, me)
        return
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise DataError(f"another run is writing to this folder ({_owner(path)}); wait for it or choose "
                            f"another --out (lock file {path})", str(run_dir)) from None
        # The previous owner may have unlinked the file between our open and flock: lock the new one instead.
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        previous = os.read(fd, 4096)
        if previous:
            log.info("%s: taking over a stale lock (%s)", run_dir, previous.decode("utf-8", "replace").strip())
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, (json.dumps(me) + "\n").encode())
        yield path
    finally:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        os.close(fd)  # releases the flock


def _pidfile_lock(path: Path, me: dict) -> Iterator[Path]:  # pragma: no cover - non-POSIX fallback
    for _ in range(2):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            break
        except FileExistsError:
            try:
                doc = json.loads(path.read_text("utf-8"))
                stale = doc.get("host") == me["host"] and not _pid_alive(int(doc.get("pid")))
            except (OSError, ValueError, TypeError, AttributeError):
                stale = True
            if not stale:
                raise DataError(f"another run is writing to this folder ({_owner(path)}); lock file {path}",
                                str(path.parent)) from None
            path.unlink(missing_ok=True)
    else:
        raise DataError(f"cannot take the lock file {path}", str(path.parent))
    os.write(fd, (json.dumps(me) + "\n").encode())
    os.close(fd)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def partial_writes(run_dir: Path) -> list[Path]:
    """Temporary files of interrupted atomic writes anywhere under ``run_dir`` (symlinks not followed)."""
    out = []
    for root, dirs, files in os.walk(run_dir):
        out += [Path(root) / f for f in files if f != LOCK_NAME and _TEMP.match(f)]
    return sorted(out)


def remove_partial_writes(run_dir: Path) -> list[Path]:
    """Delete :func:`partial_writes` (call only while holding the run's lock); return what was removed."""
    removed = partial_writes(run_dir)
    for p in removed:
        p.unlink(missing_ok=True)
        log.info("removed %s (left by an interrupted write)", p)
    return removed


def read_run_config(run_dir: Path, pipeline: str | None = None, command: str = ""):
    """The validated config of a finished run folder, for commands that use a run (predict, export, check-placement).

    Raises
    ------
    DataError
        ``run_dir`` is not a run folder (no ``config.yaml``), or its config is not
        for ``pipeline``.
    ConfigError
        ``config.yaml`` is corrupt (not UTF-8, invalid YAML, invalid values); the message names it.
    """
    from ..config import load_yaml
    from .registry import load_config

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise DataError("run directory not found" if not run_dir.exists() else "expected a run directory, got a file",
                        str(run_dir))
    path = run_dir / "config.yaml"
    if not path.is_file():
        raise DataError("not a run directory (no config.yaml); pass the --out folder of a run", str(run_dir))
    raw = load_yaml(path)
    if pipeline is not None and raw.get("pipeline") != pipeline:
        what = f"{command} needs" if command else "expected"
        raise DataError(f"this is a {raw.get('pipeline')!r} run; {what} a {pipeline!r} run", str(run_dir))
    return load_config(path)


def read_fold_json(path: Path, default: dict | None = None) -> dict:
    """A fold's ``extras.json`` / ``result.json`` as a dict (``default`` when absent); damage is a one-line
    error naming the file."""
    from .._atomic import read_run_json

    doc = read_run_json(path, default, "fold file", "delete the fold folder and rerun with --resume")
    if not isinstance(doc, dict):
        raise DataError(f"damaged fold file: expected a JSON object, got {type(doc).__name__}", str(path))
    return doc
