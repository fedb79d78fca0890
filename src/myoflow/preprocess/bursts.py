"""Contraction bursts: Teager-Kaiser energy operator, burst detection, onset windows.

Burst detection follows the single-threshold TKEO method (Li, Zhou & Aruin
2007, Ann Biomed Eng 35:1532; Solnik et al. 2010, Eur J Appl Physiol
110:489), as used in seed 001: high-pass the EMG, apply TKEO, rectify, smooth
with a moving average, and threshold at ``mean + k × SD`` of the same signal
at rest. The rest statistics come from a given rest segment, or, when none
is given, from the quietest 10 % of 250 ms segments of the recording. On a
grid, channels are combined into one decision per burst, so a burst has one
onset and offset shared by all its channels.
"""
from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from scipy import ndimage, signal

from ..containers import Epochs, Recording
from ..errors import ConfigError, DataError
from ._common import check_recording, keep_inside, metadata_frame, ms_to_samples, take_windows

__all__ = ["tkeo", "detect_bursts", "burst_statistic", "refine_onsets", "onset_windows", "channels_as_samples",
           "RestTooShortError"]


class RestTooShortError(DataError):
    """A recording too short (< 1 s) to estimate its rest level from: a caller may tile it instead."""

logger = logging.getLogger(__name__)


def tkeo(x: Any) -> Any:
    """Teager-Kaiser energy operator ``ψ[n] = x[n]² - x[n-1]·x[n+1]`` along the last axis.

    Parameters
    ----------
    x : ndarray (..., n_samples) or Recording
        At least 3 samples.

    Returns
    -------
    Same type and shape. The first and last samples, where the operator is
    undefined, repeat their neighbours ``ψ[1]`` and ``ψ[n-2]``. Not rectified.
    """
    if isinstance(x, Recording):
        return x.with_data(tkeo(x.data))
    a = np.asarray(x)
    if a.shape[-1] < 3:
        raise DataError(f"TKEO needs at least 3 samples along the last axis, got shape {a.shape}")
    if not np.issubdtype(a.dtype, np.floating):
        a = a.astype(np.float64)
    out = np.empty_like(a)
    out[..., 1:-1] = a[..., 1:-1] ** 2 - a[..., :-2] * a[..., 2:]
    out[..., 0] = out[..., 1]
    out[..., -1] = out[..., -2]
    return out


def _rest_stats(stat: np.ndarray, fs: float, rest: Any, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and SD of the detection statistic at rest."""
    n = stat.shape[-1]
    if rest is not None:
        try:
            t0, t1 = (float(v) for v in rest)
        except (TypeError, ValueError):
            raise ConfigError(f"rest must be (t0, t1) in seconds, got {rest!r}") from None
        a, b = int(round(t0 * fs)), int(round(t1 * fs))
        a, b = max(a, 0), min(b, n)
        if b - a < 2:
            raise DataError(f"rest segment {rest} s selects fewer than 2 samples of a {n / fs:.2f} s recording", source)
        seg = stat[:, a:b]
        return seg.mean(axis=1), seg.std(axis=1)
    seg_len = max(2, int(round(0.25 * fs)))
    n_seg = n // seg_len
    if n_seg < 4:
        raise RestTooShortError(
            f"recording is {n / fs:.2f} s long; automatic rest estimation needs >= 1 s (give rest=(t0, t1))", source
        )
    blocks = stat[:, : n_seg * seg_len].reshape(stat.shape[0], n_seg, seg_len)
    # Quietest 10 % of segments, chosen on the channel mean so all channels use the same times.
    level = blocks.mean(axis=2).mean(axis=0)
    quiet = np.argsort(level)[: max(1, n_seg // 10)]
    rest_samples = blocks[:, quiet, :].reshape(stat.shape[0], -1)
    return rest_samples.mean(axis=1), rest_samples.std(axis=1)


def burst_statistic(rec: Recording, smooth_ms: float = 50.0, highpass_hz: float | None = 20.0) -> np.ndarray:
    """Smoothed rectified TKEO of each channel, shape (n_channels, n_samples), float64.

    Parameters
    ----------
    rec : Recording
    smooth_ms : float
        Moving-average length, ms (0 = no smoothing).
    highpass_hz : float or None
        Zero-phase 4th-order Butterworth high-pass before TKEO (removes offset and
        motion artefact, which TKEO would otherwise scale into the output).
    """
    x = rec.data.astype(np.float64)
    if highpass_hz is not None:
        from .filters import design_sos

        x = signal.sosfiltfilt(design_sos("highpass", rec.fs, highpass_hz, 4, rec.source), x, axis=-1)
    stat = np.abs(tkeo(x))
    w = ms_to_samples(smooth_ms, rec.fs, "smooth_ms")
    if w > 1:
        stat = ndimage.uniform_filter1d(stat, w, axis=-1, mode="nearest")
    return stat


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1)


def detect_bursts(
    rec: Recording,
    k: float = 50.0,
    rest: tuple[float, float] | None = None,
    min_burst_ms: float = 100.0,
    min_gap_ms: float = 200.0,
    smooth_ms: float = 50.0,
    channels: str = "any",
    highpass_hz: float | None = 20.0,
) -> pd.DataFrame:
    """Detect contraction bursts with a single threshold in the TKEO domain.

    Parameters
    ----------
    rec : Recording
        One channel or a grid.
    k : float
        Threshold = rest mean + ``k`` × rest SD of the smoothed rectified TKEO
        (:func:`burst_statistic`). The default 50 sits inside the range of k
        (30-400) that finds exactly the 9 contractions of the real
        ``biosignalsnotebooks/emg_bursts.h5`` recording; smoothing the TKEO
        shrinks its rest SD, hence a larger k than the 3-15 used on raw envelopes.
    rest : (t0, t1), optional
        A rest segment in seconds from the start of the recording. Default: the
        quietest 10 % of 250 ms segments.
    min_burst_ms : float
        Shorter supra-threshold runs (after merging) are discarded.
    min_gap_ms : float
        Runs separated by a shorter gap are merged into one burst.
    smooth_ms : float
        Moving-average length of the TKEO, ms.
    channels : {"any", "mean"}
        Grid decision: a sample is active if any channel exceeds its own
        threshold, or if the mean over channels of the standardised statistic
        ``(stat - rest mean) / rest SD`` exceeds ``k``.
    highpass_hz : float or None
        High-pass applied before TKEO.

    Returns
    -------
    DataFrame
        One row per burst: ``burst_id`` (0, 1, ...), ``onset`` and ``offset``
        (samples; offset exclusive), ``onset_s``, ``offset_s``, ``duration_ms``.
    """
    check_recording(rec, "detect_bursts")
    if channels not in ("any", "mean"):
        raise ConfigError(f"channels must be 'any' or 'mean', got {channels!r}")
    if float(k) <= 0:
        raise ConfigError(f"k must be > 0, got {k}")
    stat = burst_statistic(rec, smooth_ms, highpass_hz)
    mu, sd = _rest_stats(stat, rec.fs, rest, rec.source)
    sd = np.where(sd > 0, sd, np.finfo(float).tiny)
    z = (stat - mu[:, None]) / sd[:, None]
    active = (z > k).any(axis=0) if channels == "any" else z.mean(axis=0) > k
    table = burst_table(rec, active, min_burst_ms, min_gap_ms)
    logger.debug("%s: %d burst(s) at k=%g", rec.source, len(table), k)
    return table


def burst_table(rec: Recording, active: np.ndarray, min_burst_ms: float, min_gap_ms: float) -> pd.DataFrame:
    """Bursts of a per-sample activity mask: runs closer than ``min_gap_ms`` merged, shorter than ``min_burst_ms``
    dropped (every detector here ends in this).

    Parameters
    ----------
    rec : Recording
        Gives the rate and start time.
    active : bool array, shape (n_samples,)
    min_burst_ms, min_gap_ms : float

    Returns
    -------
    DataFrame
        ``burst_id``, ``onset``, ``offset`` (samples, offset exclusive), ``onset_s``, ``offset_s``, ``duration_ms``.
    """
    on, off = _runs(active)
    gap = ms_to_samples(min_gap_ms, rec.fs, "min_gap_ms")
    if on.size > 1:
        keep = np.concatenate([[True], (on[1:] - off[:-1]) >= gap])
        on, off = on[keep], off[np.concatenate([keep[1:], [True]])]
    long_enough = (off - on) >= max(ms_to_samples(min_burst_ms, rec.fs, "min_burst_ms"), 1)
    on, off = on[long_enough], off[long_enough]
    return pd.DataFrame({
        "burst_id": np.arange(on.size, dtype=np.int64),
        "onset": on.astype(np.int64),
        "offset": off.astype(np.int64),
        "onset_s": rec.t0 + on / rec.fs,
        "offset_s": rec.t0 + off / rec.fs,
        "duration_ms": (off - on) * 1000.0 / rec.fs,
    })


def refine_onsets(rec: Recording, bursts: pd.DataFrame, k: float = 1.0, max_back_ms: float = 200.0,
                  smooth_ms: float = 50.0) -> pd.DataFrame:
    """Move each burst onset back to where the burst statistic last rose above ``k`` (backward search).

    The threshold that decides *whether* there is a burst (``detect_bursts(k=...)``)
    must sit well above the noise, but the first, small motor units are recruited
    before the signal reaches it; so each onset moves back to the last sample at or
    below ``k`` rest-SDs, at most ``max_back_ms`` earlier and never before the
    previous burst's offset (Hodges & Bui 1996, Electroencephalogr Clin
    Neurophysiol 101:511).

    Parameters
    ----------
    rec : Recording
        The (already filtered) recording the bursts were detected on, >= 1 s long.
    bursts : DataFrame
        Output of :func:`detect_bursts` (``onset``, ``offset`` in samples).
    k : float
        Refinement threshold on the channel mean of the smoothed TKEO, in SDs of its
        rest level (the quietest 10 % of 250 ms blocks).
    max_back_ms : float
        Largest backward move, ms.
    smooth_ms : float
        Smoothing of the TKEO statistic, ms (as used for detection).

    Returns
    -------
    DataFrame
        A copy with ``onset``, ``onset_s`` and ``duration_ms`` updated.
    """
    if len(bursts) == 0:
        return bursts.copy()
    z = _standardised_statistic(rec, smooth_ms)
    max_back = int(round(max_back_ms * rec.fs / 1000.0))
    onsets = bursts["onset"].to_numpy().copy()
    prev_end = np.concatenate([[0], bursts["offset"].to_numpy()[:-1]])
    for i, on in enumerate(onsets):
        lo = max(int(prev_end[i]), int(on) - max_back, 0)
        below = np.flatnonzero(z[lo:on] <= k)
        onsets[i] = lo + below[-1] + 1 if below.size else lo
    out = bursts.copy()
    out["onset"] = onsets.astype(np.int64)
    out["onset_s"] = rec.t0 + onsets / rec.fs
    out["duration_ms"] = (out["offset"] - out["onset"]) * 1000.0 / rec.fs
    return out


def _standardised_statistic(rec: Recording, smooth_ms: float) -> np.ndarray:
    """Channel mean of the smoothed TKEO standardised by its rest level (quietest 10 % of 250 ms blocks)."""
    stat = burst_statistic(rec, smooth_ms, highpass_hz=None)
    seg = max(2, int(round(0.25 * rec.fs)))
    n_seg = stat.shape[1] // seg
    if n_seg < 4:
        raise DataError(f"recording is {rec.duration:.2f} s long; onset refinement needs >= 1 s", rec.source)
    blocks = stat[:, : n_seg * seg].reshape(stat.shape[0], n_seg, seg)
    quiet = np.argsort(blocks.mean(axis=2).mean(axis=0))[: max(1, n_seg // 10)]
    rest = blocks[:, quiet, :].reshape(stat.shape[0], -1)
    sd = rest.std(axis=1)
    sd = np.where(sd > 0, sd, np.finfo(float).tiny)
    return ((stat - rest.mean(axis=1)[:, None]) / sd[:, None]).mean(axis=0)


def onset_windows(rec: Recording, bursts: pd.DataFrame, length_ms: float = 500.0, pre_ms: float = 0.0,
                  y: Any = None) -> Epochs:
    """Fixed-length windows from each burst onset (seed 001: 500 ms from onset).

    Parameters
    ----------
    rec : Recording
    bursts : DataFrame
        From :func:`detect_bursts` (columns ``burst_id``, ``onset``).
    length_ms : float
        Window length, ms.
    pre_ms : float
        Time kept before the onset, ms (the window is ``[onset - pre, onset - pre + length)``).
    y : scalar, optional
        Target given to every window (e.g. the muscle of this recording).

    Returns
    -------
    Epochs
        Metadata: the recording's metadata plus ``burst_id``, ``onset``, ``offset``
        (where given); windows running past the end are dropped (logged).
    """
    check_recording(rec, "onset_windows")
    if not isinstance(bursts, pd.DataFrame) or not {"burst_id", "onset"} <= set(bursts.columns):
        raise DataError("bursts must be a DataFrame with columns burst_id and onset (from detect_bursts)", rec.source)
    if len(bursts) == 0:
        raise DataError("no bursts to cut windows from", rec.source)
    length = ms_to_samples(length_ms, rec.fs, "length_ms", allow_zero=False)
    pre = ms_to_samples(pre_ms, rec.fs, "pre_ms")
    if length < 1:
        raise ConfigError(f"window length {length_ms} ms is below one sample at fs={rec.fs:g} Hz")
    onsets = bursts["onset"].to_numpy(dtype=np.int64)
    starts = onsets - pre
    ok = keep_inside(starts, length, rec.n_samples, rec.source, "onset")
    if not ok.any():
        raise DataError(f"no {length_ms} ms onset window fits inside the recording", rec.source)
    cols: dict[str, Any] = {"burst_id": bursts["burst_id"].to_numpy()[ok], "onset": onsets[ok]}
    if "offset" in bursts.columns:
        cols["offset"] = bursts["offset"].to_numpy()[ok]
    md = metadata_frame(rec, int(ok.sum()), **cols)
    yy = None if y is None else np.repeat(np.asarray([y]), int(ok.sum()))
    return Epochs(X=take_windows(rec.data, starts[ok], length), fs=rec.fs, ch_names=rec.ch_names, metadata=md,
                  y=yy, tmin=-pre / rec.fs, meta={"source": rec.source, "epoching": "onset_windows"})


def channels_as_samples(epochs: Epochs, name: str = "emg") -> Epochs:
    """Make each channel of each epoch a separate single-channel sample (seed 001).

    Parameters
    ----------
    epochs : Epochs
        Shape (n, n_channels, n_times).
    name : str
        Name of the single output channel.

    Returns
    -------
    Epochs
        Shape (n × n_channels, 1, n_times), epoch-major (all channels of epoch 0,
        then epoch 1, ...). Metadata rows are repeated (so ``subject`` and
        ``burst_id`` stay, and splitters keep a burst's channels together) and
        gain ``channel`` (name) and ``source_epoch`` (row in the input).
    """
    if not isinstance(epochs, Epochs):
        raise DataError(f"channels_as_samples expects Epochs, got {type(epochs).__name__}")
    n, c, t = epochs.X.shape
    X = epochs.X.reshape(n * c, 1, t)
    rows = np.repeat(np.arange(n), c)
    md = epochs.metadata.iloc[rows].reset_index(drop=True)
    if "channel" in md.columns:
        md = md.rename(columns={"channel": "source_channel"})
    md["channel"] = np.tile(np.asarray(epochs.ch_names, dtype=object), n)
    md["source_epoch"] = rows
    y = None if epochs.y is None else epochs.y[rows]
    return epochs.replace(X=X, ch_names=[name], metadata=md, y=y)
