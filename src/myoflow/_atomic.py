"""Atomic file writes: write to a temporary file in the same folder, fsync, rename.

A run killed at any moment leaves either the old file or the complete new one,
never a truncated one. Everything that persists results or checkpoints uses these.
"""
from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_text", "atomic_write_json", "read_run_json"]


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    Use for writers that want a file name (h5py, pyarrow, safetensors, savefig).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or path.suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        # mkstemp creates 0600 files; give results the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def _json_default(obj: Any):
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _nan_to_null(obj: Any) -> Any:
    """``obj`` with every non-finite float (Python or NumPy, in arrays too) replaced by ``None``."""
    import math

    import numpy as np

    if isinstance(obj, dict):
        return {k: _nan_to_null(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_nan_to_null(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _nan_to_null(obj.tolist())
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    return obj


def atomic_write_json(path: str | os.PathLike, obj: Any, indent: int = 2, strict: bool = False) -> None:
    """Write ``obj`` as JSON atomically (NumPy scalars/arrays converted).

    ``strict=True`` writes standard JSON: NaN and infinities become ``null`` (for files users read
    with other tools: jq, JavaScript, R). The default keeps ``NaN`` so that internal files round-trip
    through Python unchanged (a resumed run aggregates the same floats as a fresh one).
    """
    if strict:
        text = json.dumps(_nan_to_null(obj), indent=indent, default=_json_default, allow_nan=False)
    else:
        text = json.dumps(obj, indent=indent, default=_json_default, allow_nan=True)
    atomic_write_text(path, text + "\n")


def read_run_json(path: Path, default=None, what: str = "run file",
                  hint: str = "'myoflow run ... --resume' on the run rewrites it"):
    """A JSON file the runner wrote (``default`` when absent, or an error if ``default`` is None); damage is a
    one-line error naming the file (the runner writes them atomically, so it came from outside)."""
    from .errors import DataError

    path = Path(path)
    if not path.is_file():
        if default is None:
            raise DataError("file not found", str(path))
        return default
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
        raise DataError(f"damaged {what} ({exc}); {hint}", str(path)) from None
