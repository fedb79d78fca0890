"""Small helpers shared by the epoching functions (private)."""
from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from ..containers import Recording
from ..errors import ConfigError, DataError

logger = logging.getLogger(__name__)

_SCALARS = (str, int, float, bool, np.integer, np.floating, np.bool_)
# meta keys that are not per-epoch descriptors
_SKIP = {"truth", "covariates"}


def check_recording(rec: Any, who: str) -> Recording:
    if not isinstance(rec, Recording):
        raise DataError(f"{who} expects a Recording, got {type(rec).__name__}")
    return rec


def meta_columns(rec: Recording) -> dict[str, Any]:
    """Every scalar of ``rec.meta`` (subject, muscle, ...) plus covariates flattened.

    A covariate whose name collides with a meta key is prefixed ``covariate_``.
    """
    cols: dict[str, Any] = {}
    for k, v in rec.meta.items():
        if k in _SKIP:
            continue
        if v is None or isinstance(v, _SCALARS):
            cols[str(k)] = v.item() if isinstance(v, np.generic) else v
    for k, v in (rec.meta.get("covariates") or {}).items():
        if v is None or isinstance(v, _SCALARS):
            name = str(k) if str(k) not in cols else f"covariate_{k}"
            cols[name] = v.item() if isinstance(v, np.generic) else v
    return cols


def ms_to_samples(ms: float, fs: float, what: str, allow_zero: bool = True) -> int:
    try:
        v = float(ms)
    except (TypeError, ValueError):
        raise ConfigError(f"{what} must be a duration in ms, got {ms!r}") from None
    if not np.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise ConfigError(f"{what} must be {'>=' if allow_zero else '>'} 0 ms, got {ms}")
    return int(round(v * fs / 1000.0))


def metadata_frame(rec: Recording, n: int, **columns: Any) -> pd.DataFrame:
    """One row per epoch: the recording's meta scalars, then the per-epoch columns."""
    base = meta_columns(rec)
    df = pd.DataFrame({k: [v] * n for k, v in base.items()}, index=range(n))
    for k, v in columns.items():
        df[k] = v
    return df


def take_windows(data: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """Gather windows ``data[:, s:s+length]`` for each start; shape (n, n_channels, length)."""
    starts = np.asarray(starts, dtype=np.int64)
    if starts.size == 0:
        return np.empty((0, data.shape[0], length), dtype=np.float32)
    idx = starts[:, None] + np.arange(length)[None, :]
    return np.ascontiguousarray(np.moveaxis(data[:, idx], 0, 1))


def keep_inside(starts: np.ndarray, length: int, n_samples: int, source: str, what: str) -> np.ndarray:
    """Boolean mask of windows lying fully inside the recording; logs how many are dropped."""
    ok = (starts >= 0) & (starts + length <= n_samples)
    dropped = int((~ok).sum())
    if dropped:
        logger.warning("%s: %d %s window(s) run past the recording edges and are dropped", source, dropped, what)
    return ok
