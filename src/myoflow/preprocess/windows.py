"""Recording → channel-wise burst windows, the samples of seed 001.

Filtering → TKEO single-threshold burst detection (one decision per burst
across a grid, :func:`myoflow.preprocess.detect_bursts`) → windows from each
onset (500 ms in the paper) → every grid channel as a separate sample
(:func:`myoflow.preprocess.bursts.channels_as_samples`) keeping its subject,
recording and burst id.

Split units: ``burst_key`` names one burst of one recording; ``unit`` names the
group of windows an intra-subject split must keep together (the burst, or for a
sustained contraction cut into several windows, a block of consecutive
windows). Channels of one burst always share both.
"""
from __future__ import annotations

import logging
from typing import Protocol

import numpy as np
import pandas as pd

from ..containers import Epochs, Recording
from ..errors import DataError
from .bursts import channels_as_samples, detect_bursts, refine_onsets
from .epoching import event_locked
from .filters import bandpass, notch, resample

__all__ = ["filter_recording", "find_bursts", "burst_windows", "pick_channels", "onset_errors_ms"]

log = logging.getLogger(__name__)


class BurstWindowSettings(Protocol):
    """Filter, detector and window settings these functions read (e.g. the muscle-ID ``preprocess`` section)."""

    band_hz: tuple[float, float]
    resample_hz: float | None
    notch_hz: float | None
    detector_k: float
    detector_refine_k: float | None
    detector_refine_max_ms: float
    detector_smooth_ms: float
    detector_min_burst_ms: float
    detector_min_gap_ms: float
    window_ms: float
    pre_ms: float



def _who(rec: Recording) -> str:
    """``subject S01, L-BB`` — a file may hold several muscles, so warnings name the recording's own."""
    m = rec.meta
    side = f"{m['side']}-" if m.get("side") not in (None, "") else ""
    return f"subject {m.get('subject', '?')}, {side}{m.get('muscle', '?')}"

def _below_nyquist(fs: float) -> float:
    """A round band edge under 0.45 fs, for the hint in an error message."""
    return float(np.floor(0.45 * fs / 5.0) * 5.0)


def filter_recording(rec: Recording, pp: BurstWindowSettings) -> Recording:
    """Resample, notch and band-pass a recording as the pipeline does (zero-phase filters)."""
    lo, hi = pp.band_hz
    if hi >= 0.5 * rec.fs:
        # Content above the recording's own Nyquist frequency does not exist (resampling up does not
        # create it): cutting the band silently would change the method without a word.
        raise DataError(f"recording has fs={rec.fs:g} Hz; preprocess.band_hz upper edge {hi:g} Hz needs "
                        f"fs > {2 * hi:g} Hz (lower it for this data, e.g. --set 'preprocess.band_hz=[{lo:g},{_below_nyquist(rec.fs):g}]')",
                        rec.source)
    if pp.resample_hz is not None and abs(rec.fs - pp.resample_hz) > 1e-6:
        rec = resample(rec, pp.resample_hz)
    if pp.notch_hz is not None:
        rec = notch(rec, pp.notch_hz, zero_phase=False)
    if hi >= 0.5 * rec.fs:  # resampled below the band (the config check covers resample_hz)
        raise DataError(f"preprocess.band_hz upper edge {hi:g} Hz is above the Nyquist frequency after "
                        f"resampling to {rec.fs:g} Hz", rec.source)
    return bandpass(rec, lo, hi, order=4)


def find_bursts(rec: Recording, pp: BurstWindowSettings) -> pd.DataFrame:
    """TKEO single-threshold bursts of an already filtered recording (one decision per grid).

    The decision is :func:`myoflow.preprocess.detect_bursts` (threshold ``detector_k``
    on the channel mean of the standardised smoothed TKEO). With
    ``detector_refine_k`` set, onsets are then moved back by
    :func:`myoflow.preprocess.bursts.refine_onsets` (at most ``detector_refine_max_ms``).
    """
    bursts = detect_bursts(
        rec, k=pp.detector_k, min_burst_ms=pp.detector_min_burst_ms, min_gap_ms=pp.detector_min_gap_ms,
        smooth_ms=pp.detector_smooth_ms, channels="mean", highpass_hz=None,
    )
    # A burst already active in the first 100 ms has no observable onset (and filters are still
    # settling there): drop it rather than report the recording start as an onset.
    bursts = bursts[bursts["onset"] >= int(round(0.1 * rec.fs))].reset_index(drop=True)
    if pp.detector_refine_k is None or len(bursts) == 0:
        return bursts
    return refine_onsets(rec, bursts, k=pp.detector_refine_k, max_back_ms=pp.detector_refine_max_ms,
                         smooth_ms=pp.detector_smooth_ms)


def pick_channels(n_channels: int, keep: int | None) -> list[int]:
    """Indices of ``keep`` channels spread evenly over a grid (all when ``keep`` is None)."""
    if keep is None or keep >= n_channels:
        return list(range(n_channels))
    return sorted({int(round(v)) for v in np.linspace(0, n_channels - 1, keep)})


def onset_errors_ms(detected: np.ndarray, true: np.ndarray, fs: float) -> np.ndarray:
    """For every TRUE onset, the signed error (ms) of the nearest detected onset (NaN if none)."""
    detected = np.sort(np.asarray(detected, dtype=np.int64))
    true = np.asarray(true, dtype=np.int64)
    if detected.size == 0:
        return np.full(true.size, np.nan)
    pos = np.clip(np.searchsorted(detected, true), 1, max(detected.size - 1, 1))
    cand = np.stack([detected[pos - 1], detected[np.minimum(pos, detected.size - 1)]], axis=1)
    best = cand[np.arange(true.size), np.argmin(np.abs(cand - true[:, None]), axis=1)]
    return (best - true) * 1000.0 / fs


def burst_windows(
    rec: Recording,
    pp: BurstWindowSettings,
    *,
    recording_id: str,
    channels: list[int] | None = None,
    windows_per_burst: int | None = 1,
    block_windows: int = 1,
    whole_if_none: bool = False,
    whole: bool = False,
) -> tuple[Epochs | None, pd.DataFrame]:
    """Channel-wise windows of every burst of one recording.

    Parameters
    ----------
    rec : Recording
        Raw recording (filtered here).
    pp : BurstWindowSettings
        Filter, detector and window settings.
    recording_id : str
        Unique name of the recording (prefixes ``burst_key`` and ``unit``).
    channels : list of int, optional
        Channels to keep as samples (default all).
    windows_per_burst : int or None
        Consecutive windows from each onset (1: the paper's onset window; None:
        as many as fit). Windows after the first are kept only while they end
        inside the burst.
    block_windows : int
        Consecutive windows of a burst grouped into one split ``unit``.
    whole_if_none : bool
        Treat the whole recording as one burst when the detector finds none
        (a contraction sustained over the entire recording has no rest to
        threshold against).
    whole : bool
        Skip detection: the whole recording is one burst (a recording of one
        sustained contraction, e.g. the real lower-limb set).

    Returns
    -------
    epochs : Epochs or None
        Shape (n_windows × n_channels, 1, n_times); metadata = recording meta +
        ``recording``, ``burst_id``, ``window``, ``onset``, ``offset``, ``burst_key``,
        ``unit``, ``channel``. None when no window fits.
    bursts : DataFrame
        The detected bursts (``burst_id``, ``onset``, ``offset``, ...).
    """
    filt = filter_recording(rec, pp)
    whole_frame = pd.DataFrame({"burst_id": [0], "onset": [0], "offset": [filt.n_samples]})
    if whole:
        bursts = whole_frame
    else:
        try:
            bursts = find_bursts(filt, pp)
        except DataError:
            if not whole_if_none:
                raise
            bursts = whole_frame.iloc[:0]
        if len(bursts) == 0 and whole_if_none:
            bursts = whole_frame
    if len(bursts) == 0:
        log.warning("%s: no bursts detected (%s)", _who(rec), rec.source)
        return None, bursts
    length = int(round(pp.window_ms * filt.fs / 1000.0))
    starts, burst_id, window, onset, offset = [], [], [], [], []
    for b in bursts.itertuples(index=False):
        n_max = windows_per_burst if windows_per_burst is not None else max(1, (int(b.offset) - int(b.onset)) // length)
        for j in range(n_max):
            s = int(b.onset) + j * length
            if j > 0 and s + length > int(b.offset):
                break
            starts.append(s)
            burst_id.append(int(b.burst_id))
            window.append(j)
            onset.append(int(b.onset))
            offset.append(int(b.offset))
    if channels is not None:
        filt = filt.pick(channels)
    try:
        # window = [onset - pre, onset - pre + window_ms), as in onset_windows
        ep = event_locked(filt, np.asarray(starts, dtype=np.int64), pre_ms=pp.pre_ms,
                          post_ms=pp.window_ms - pp.pre_ms)
    except DataError:
        log.warning("%s: no %g ms window fits inside the recording (%s)", _who(rec), pp.window_ms, rec.source)
        return None, bursts
    kept = ep.metadata["event"].to_numpy()
    md = ep.metadata.drop(columns=["event", "sample", "time_s"], errors="ignore")
    bid = np.asarray(burst_id)[kept]
    win = np.asarray(window)[kept]
    md["recording"] = recording_id
    md["burst_id"] = bid
    md["window"] = win
    md["onset"] = np.asarray(onset)[kept]
    md["offset"] = np.asarray(offset)[kept]
    md["burst_key"] = [f"{recording_id}#{b}" for b in bid]
    md["unit"] = [f"{recording_id}#{b}:{w // block_windows}" for b, w in zip(bid, win)]
    ep = ep.replace(metadata=md)
    return channels_as_samples(ep), bursts
