"""Cut a Recording into Epochs: sliding windows and event-locked windows.

Metadata of every epoch carries the recording's scalar metadata (subject,
muscle, session, side, source ...) and its covariates as columns, so
splitters and covariate encoders can read them per epoch.
"""
from __future__ import annotations

import logging
from typing import Any

import numpy as np

from ..containers import Epochs, Recording
from ..errors import ConfigError, DataError
from ._common import check_recording, keep_inside, metadata_frame, ms_to_samples, take_windows

__all__ = ["sliding_windows", "event_locked", "n_sliding_windows"]

logger = logging.getLogger(__name__)


def n_sliding_windows(n_samples: int, length: int, step: int) -> int:
    """Number of full windows: ``floor((n_samples - length) / step) + 1`` (0 if too short)."""
    if n_samples < length:
        return 0
    return (n_samples - length) // step + 1


def sliding_windows(rec: Recording, length_ms: float, step_ms: float, y: Any = None) -> Epochs:
    """Cut a recording into equal, possibly overlapping windows.

    Parameters
    ----------
    rec : Recording
    length_ms : float
        Window length, ms (rounded to whole samples: ``L = round(length_ms * fs / 1000)``).
    step_ms : float
        Hop between window starts, ms (``S`` samples, > 0). ``step_ms == length_ms`` gives
        non-overlapping windows.
    y : scalar, optional
        One target value given to every window (e.g. the muscle label of the recording).

    Returns
    -------
    Epochs
        ``floor((n_samples - L) / S) + 1`` windows, shape (n, n_channels, L); metadata
        ``window`` (index), ``start`` (sample), ``start_s`` (time of the first sample on the
        recording clock) plus the recording's metadata.
    """
    check_recording(rec, "sliding_windows")
    length = ms_to_samples(length_ms, rec.fs, "window length", allow_zero=False)
    step = ms_to_samples(step_ms, rec.fs, "window step", allow_zero=False)
    if length < 1 or step < 1:
        raise ConfigError(
            f"window length {length_ms} ms / step {step_ms} ms are below one sample at fs={rec.fs:g} Hz"
        )
    n = n_sliding_windows(rec.n_samples, length, step)
    if n == 0:
        raise DataError(
            f"recording has {rec.n_samples} samples ({rec.duration:.3f} s), shorter than one "
            f"{length_ms} ms window ({length} samples)",
            rec.source,
        )
    view = np.lib.stride_tricks.sliding_window_view(rec.data, length, axis=-1)[:, ::step][:, :n]
    X = np.ascontiguousarray(np.moveaxis(view, 0, 1))
    starts = np.arange(n, dtype=np.int64) * step
    md = metadata_frame(rec, n, window=np.arange(n), start=starts, start_s=rec.t0 + starts / rec.fs)
    yy = None if y is None else np.repeat(np.asarray([y]), n)
    return Epochs(X=X, fs=rec.fs, ch_names=rec.ch_names, metadata=md, y=yy, tmin=0.0,
                  meta={"source": rec.source, "epoching": "sliding", "length_ms": length_ms, "step_ms": step_ms})


def event_locked(rec: Recording, samples: Any, pre_ms: float, post_ms: float, y: Any = None) -> Epochs:
    """Windows around events: ``[s - pre, s + post)`` for each event sample ``s``.

    Parameters
    ----------
    rec : Recording
    samples : array of int, or str
        Event sample indices, or an event ``kind`` looked up in ``rec.events``.
    pre_ms, post_ms : float
        Time kept before and after each event, ms (rounded to whole samples).
    y : array, optional
        One target per event (same length as ``samples``).

    Returns
    -------
    Epochs
        ``tmin = -pre / fs``; metadata ``event`` (index of the event in ``samples``),
        ``sample``, ``time_s`` plus the recording's metadata. Windows running past the
        recording's edges are dropped (logged).
    """
    check_recording(rec, "event_locked")
    if isinstance(samples, str):
        kind = samples
        samples = rec.events_of(kind)
        if samples.size == 0:
            raise DataError(f"no events of kind {kind!r}; kinds present: {sorted(set(rec.events['kind']))}", rec.source)
    s = np.asarray(samples)
    if s.ndim != 1:
        raise DataError(f"event samples must be 1-D, got shape {s.shape}", rec.source)
    if s.size and not np.issubdtype(s.dtype, np.integer):
        if not np.all(np.mod(s, 1) == 0):
            raise DataError("event samples must be integer sample indices (got fractional values)", rec.source)
    s = s.astype(np.int64)
    pre = ms_to_samples(pre_ms, rec.fs, "pre_ms")
    post = ms_to_samples(post_ms, rec.fs, "post_ms")
    length = pre + post
    if length < 1:
        raise ConfigError("pre_ms + post_ms must cover at least one sample")
    yy = None
    if y is not None:
        yy = np.asarray(y)
        if yy.shape[0] != s.size:
            raise DataError(f"{yy.shape[0]} target(s) for {s.size} event(s)", rec.source)
    starts = s - pre
    ok = keep_inside(starts, length, rec.n_samples, rec.source, "event")
    if not ok.any():
        raise DataError(f"no event window of {pre_ms}+{post_ms} ms fits inside the recording", rec.source)
    X = take_windows(rec.data, starts[ok], length)
    idx = np.flatnonzero(ok)
    md = metadata_frame(rec, idx.size, event=idx, sample=s[ok], time_s=rec.t0 + s[ok] / rec.fs)
    return Epochs(X=X, fs=rec.fs, ch_names=rec.ch_names, metadata=md, y=None if yy is None else yy[ok],
                  tmin=-pre / rec.fs, meta={"source": rec.source, "epoching": "event_locked"})
