"""Electrical stimulation: find stimulus pulses, blank their artefact, cut stimulus-locked epochs.

Detection methods
-----------------
``"artefact"``
    From the artefact itself. A stimulation artefact is a deflection of
    sub-millisecond rise time, far steeper than any physiological EMG, whose
    power lies mostly below 500 Hz (Merletti & Farina 2016, Surface
    Electromyography, ch. 4). The signal is therefore high-passed (causal
    4th-order Butterworth) at a quarter of the sampling rate; samples whose magnitude exceeds ``k`` robust standard
    deviations (1.4826 × median absolute deviation) of that high-passed signal
    are artefact, one pulse per ``min_interval_ms``. On the real tSCS recording
    in ``stim-artefact-tscs`` pulses reach 72-1400 robust SDs, voluntary
    contractions without stimulation at most 15, so the default ``k = 30``
    separates them with a wide margin. Below 4 kHz the anti-aliased artefact keeps
    little power above fs/4: the same recording resampled (``resample_poly``) loses
    10 % of its pulses at 2 kHz, 15 % at 1.5 kHz and 77 % at 1 kHz — a contiguous
    stretch of the weakest pulses, which the pulse times alone cannot tell from a
    pause (``preprocess.evoked.extract_responses`` checks them against the train's
    stated frequency). At such rates prefer ``"trigger"`` or ``"events"``.
``"trigger"``
    Rising edges of a trigger channel through half its range (or ``threshold``).
``"events"``
    Events of kind ``kind`` already in ``rec.events`` (e.g. from the simulator or a reader).

The returned sample of a pulse is its artefact's onset (the first sample,
at most 2 ms before the artefact's peak, reaching 10 % of that peak), so
epochs are aligned to the stimulus rather than to the artefact's peak.
"""
from __future__ import annotations

import logging
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import signal

from ..containers import Epochs, Recording
from ..errors import ConfigError, DataError
from ._common import check_recording, keep_inside, metadata_frame, ms_to_samples, take_windows

__all__ = ["detect_stimuli", "blank_artefact", "epoch_stimulus_locked", "mwave_descriptors", "group_trains",
           "pulse_rate"]

logger = logging.getLogger(__name__)

_MIN_FS_ARTEFACT = 1000.0


def _robust_sd(x: np.ndarray, axis: int = -1) -> np.ndarray:
    med = np.median(x, axis=axis, keepdims=True)
    return 1.4826 * np.median(np.abs(x - med), axis=axis)


def _enforce_interval(samples: np.ndarray, min_gap: int) -> np.ndarray:
    """Keep the first of any samples closer than ``min_gap`` to the previously kept one."""
    if samples.size == 0 or min_gap <= 1:
        return samples
    kept = [int(samples[0])]
    for s in samples[1:]:
        if s - kept[-1] >= min_gap:
            kept.append(int(s))
    return np.asarray(kept, dtype=np.int64)


def detect_stimuli(
    rec: Recording,
    method: str = "artefact",
    channel: Any = None,
    threshold: float | None = None,
    min_interval_ms: float = 20.0,
    kind: str = "stimulus",
    k: float = 30.0,
) -> np.ndarray:
    """Find stimulus pulses; return their sample indices (sorted, int64).

    Parameters
    ----------
    rec : Recording
    method : {"artefact", "trigger", "events"}
        See the module docstring.
    channel : str or int, optional
        Channel to use: required for ``"trigger"``; for ``"artefact"`` the default
        uses all channels (a pulse is where any channel shows an artefact).
    threshold : float, optional
        ``"artefact"``: absolute threshold on the magnitude of the high-passed
        signal, in the recording's units (default: ``k`` robust SDs per channel).
        ``"trigger"``: level of the rising edge (default: half-way between the
        channel's minimum and maximum).
    min_interval_ms : float
        Minimum time between two pulses, ms (20 ms allows trains up to 50 Hz).
    kind : str
        Event kind read by ``"events"``.
    k : float
        Automatic artefact threshold in robust standard deviations.

    Returns
    -------
    ndarray of int64
        Pulse onsets; empty when none are found.
    """
    check_recording(rec, "detect_stimuli")
    gap = max(1, ms_to_samples(min_interval_ms, rec.fs, "min_interval_ms"))
    if method == "events":
        return np.sort(rec.events_of(kind).astype(np.int64))
    if method == "trigger":
        if channel is None:
            raise ConfigError("detect_stimuli(method='trigger') needs channel= naming the trigger channel")
        x = rec.data[rec.channel_index(channel)[0]].astype(np.float64)
        lo, hi = float(x.min()), float(x.max())
        if threshold is None:
            if hi == lo:
                logger.info("%s: trigger channel is constant; no pulses", rec.source)
                return np.empty(0, dtype=np.int64)
            threshold = (lo + hi) / 2.0
        thr = float(threshold)
        edges = np.flatnonzero((x[:-1] < thr) & (x[1:] >= thr)) + 1
        return _enforce_interval(edges.astype(np.int64), gap)
    if method != "artefact":
        raise ConfigError(f"detect_stimuli method must be 'artefact', 'trigger' or 'events', got {method!r}")
    if rec.fs < _MIN_FS_ARTEFACT:
        raise DataError(
            f"artefact-based stimulus detection needs fs >= {_MIN_FS_ARTEFACT:g} Hz (artefacts last ~1 ms), "
            f"got fs={rec.fs:g} Hz; use method='trigger' or 'events'",
            rec.source,
        )
    idx = rec.channel_index(channel) if channel is not None else list(range(rec.n_channels))
    sos = signal.butter(4, rec.fs / 4.0, btype="highpass", fs=rec.fs, output="sos")
    # Causal high-pass: a zero-phase filter would ring BEFORE each artefact and bias onsets early.
    # Steady-state initial conditions scaled by the first sample avoid a start-up step from any DC offset.
    x = rec.data[idx].astype(np.float64)
    zi = signal.sosfilt_zi(sos)[:, None, :] * x[:, 0][None, :, None]
    hp = np.abs(signal.sosfilt(sos, x, axis=-1, zi=zi)[0])
    if threshold is None:
        sd = _robust_sd(hp)
        # Quantised, mostly flat channels can have MAD 0: fall back to the plain SD.
        sd = np.where(sd > 0, sd, hp.std(axis=-1))
        sd = np.where(sd > 0, sd, np.finfo(float).tiny)
        stat = (hp / sd[:, None]).max(axis=0)
        thr = float(k)
    else:
        stat = hp.max(axis=0)
        thr = float(threshold)
    peaks, props = signal.find_peaks(stat, height=thr, distance=gap)
    if peaks.size == 0:
        return np.empty(0, dtype=np.int64)
    # Onset = earliest sample within 2 ms before the peak reaching 10 % of that pulse's
    # peak: amplitude-invariant, so pulse times do not jitter with artefact size
    # (on the real tSCS data the inter-pulse interval SD is 0.16 ms).
    search = max(1, min(gap // 2, int(round(0.002 * rec.fs))))
    onsets = np.empty_like(peaks)
    for i, (p, h) in enumerate(zip(peaks, props["peak_heights"])):
        lo = max(0, p - search)
        onsets[i] = lo + int(np.argmax(stat[lo:p + 1] >= 0.1 * h))
    return _enforce_interval(onsets.astype(np.int64), gap)


def blank_artefact(
    rec: Recording, stimuli: Any, pre_ms: float = 0.5, post_ms: float = 3.0, method: str = "interp"
) -> Recording:
    """Remove the stimulation artefact window around each pulse.

    Parameters
    ----------
    rec : Recording
    stimuli : array of int
        Pulse samples (e.g. from :func:`detect_stimuli`).
    pre_ms, post_ms : float
        Blanked span ``[s - pre, s + post]`` around each pulse, ms.
    method : {"interp", "zero"}
        ``"interp"``: straight line between the last sample before and the first
        after the window (per channel); ``"zero"``: set to 0 (remove any DC offset
        first, or the blank is a step).

    Returns
    -------
    Recording
    """
    check_recording(rec, "blank_artefact")
    if method not in ("interp", "zero"):
        raise ConfigError(f"blank_artefact method must be 'interp' or 'zero', got {method!r}")
    s = np.asarray(stimuli, dtype=np.int64).ravel()
    pre = ms_to_samples(pre_ms, rec.fs, "pre_ms")
    post = ms_to_samples(post_ms, rec.fs, "post_ms")
    mask = np.zeros(rec.n_samples, dtype=bool)
    if s.size:
        if s.min() < 0 or s.max() >= rec.n_samples:
            raise DataError(f"stimulus samples must lie in [0, {rec.n_samples - 1}]", rec.source)
        # Difference array: +1 at each window start, -1 after its end.
        d = np.zeros(rec.n_samples + 1, dtype=np.int64)
        np.add.at(d, np.clip(s - pre, 0, rec.n_samples), 1)
        np.add.at(d, np.clip(s + post + 1, 0, rec.n_samples), -1)
        mask = np.cumsum(d[:-1]) > 0
    out = rec.data.copy()
    if mask.any():
        if method == "zero":
            out[:, mask] = 0.0
        else:
            if mask.all():
                raise DataError("blanking would remove every sample; nothing to interpolate from", rec.source)
            t = np.arange(rec.n_samples)
            good, bad = t[~mask], t[mask]
            for c in range(out.shape[0]):
                out[c, mask] = np.interp(bad, good, out[c, ~mask])
    return rec.with_data(out)


def group_trains(stimuli: np.ndarray, fs: float, gap_factor: float = 2.5) -> tuple[np.ndarray, np.ndarray, float]:
    """Group pulses into trains: a new train starts after a gap > ``gap_factor`` × median interval.

    Returns
    -------
    train : ndarray of int
        Train number of each pulse.
    time_in_train_s : ndarray of float
        Time since the first pulse of its train, s.
    frequency : float
        Pulse rate within trains, Hz (1 / median interval; NaN for fewer than 2 pulses).
    """
    s = np.asarray(stimuli, dtype=np.int64)
    if s.size < 2:
        return np.zeros(s.size, dtype=np.int64), np.zeros(s.size), float("nan")
    isi = np.diff(s)
    med = float(np.median(isi))
    new = np.concatenate([[True], isi > gap_factor * med])
    train = np.cumsum(new) - 1
    first = s[new][train]
    return train.astype(np.int64), (s - first) / fs, fs / med


def pulse_rate(rec: Recording, choices: Sequence[float] | None = None) -> tuple[float, int]:
    """A recording's stimulation rate read off its pulses, rounded to 1 Hz, and the number of pulses it rests on.

    The pulses are its ``stimulus`` events, else those detected from the artefact; the rate is
    :func:`group_trains`' within-train rate (NaN with fewer than 2 pulses). What a recording whose
    ``frequency`` nobody stated is taken to be stimulated at (a folder cohort, a new person in ``predict``).
    ``choices`` (Hz, e.g. the frequencies a run was trained on): the rate is the one of them within 10 % of
    the pulses' rate (the tolerance the pipeline checks a stated frequency with), so a 2.5 or 12.5 Hz protocol
    is not read as 2 or 12 Hz; rounded to 1 Hz when none is.
    """
    stim = rec.events_of("stimulus")
    if stim.size < 2:
        stim = np.asarray(detect_stimuli(rec, method="artefact"))
    _, _, est = group_trains(np.sort(stim), rec.fs)
    if choices is not None and np.isfinite(est):
        near = [float(c) for c in choices if abs(est / float(c) - 1.0) <= 0.10]
        if near:
            return min(near, key=lambda c: abs(est - c)), int(stim.size)
    return float(np.round(est)), int(stim.size)


def _blank_spec(blank: Any) -> dict[str, Any] | None:
    if blank is None or blank is False:
        return None
    if blank is True:
        return {}
    if isinstance(blank, Mapping):
        return dict(blank)
    try:
        pre, post = blank
    except (TypeError, ValueError):
        raise ConfigError(f"blank must be None, True, (pre_ms, post_ms) or a dict, got {blank!r}") from None
    return {"pre_ms": float(pre), "post_ms": float(post)}


def epoch_stimulus_locked(
    rec: Recording,
    stimuli: Any = None,
    pre_ms: float = 5.0,
    post_ms: float = 40.0,
    train_frequency: float | None = None,
    blank: Any = None,
    y: Any = None,
) -> Epochs:
    """Cut one epoch per stimulus: ``[s - pre, s + post)``.

    Parameters
    ----------
    rec : Recording
    stimuli : array of int, optional
        Pulse samples. Default: events of kind ``"stimulus"`` in ``rec.events``,
        else :func:`detect_stimuli` on the artefact.
    pre_ms, post_ms : float
        Window around each pulse, ms.
    train_frequency : float, optional
        Stimulation frequency in Hz recorded in the metadata. Default:
        ``rec.meta["train_frequency"]`` (or ``"frequency"``), else estimated
        from the pulse intervals.
    blank : None, True, (pre_ms, post_ms) or dict
        Blank the artefact (:func:`blank_artefact`) before cutting; the
        span is stored in ``epochs.meta["blank_ms"]`` for :func:`mwave_descriptors`.
    y : scalar, optional
        Target given to every epoch of this recording (e.g. its muscle-mass class).

    Returns
    -------
    Epochs
        Metadata: every scalar of ``rec.meta`` and covariates as columns, and
        ``stim_index`` (pulse number in the recording), ``train``, ``pulse_in_train``,
        ``time_in_train_s``, ``train_frequency``, ``sample``.
    """
    check_recording(rec, "epoch_stimulus_locked")
    if stimuli is None:
        stimuli = rec.events_of("stimulus")
        if stimuli.size == 0:
            logger.info("%s: no 'stimulus' events; detecting pulses from the artefact", rec.source)
            stimuli = detect_stimuli(rec)
    s = np.sort(np.asarray(stimuli, dtype=np.int64).ravel())
    if s.size == 0:
        raise DataError("no stimulus pulses to epoch around", rec.source)
    train, t_in_train, est_freq = group_trains(s, rec.fs)
    if train_frequency is None:
        train_frequency = rec.meta.get("train_frequency", rec.meta.get("frequency"))
    freq = float(train_frequency) if train_frequency is not None else est_freq
    spec = _blank_spec(blank)
    src = rec
    meta: dict[str, Any] = {"source": rec.source, "epoching": "stimulus_locked"}
    if spec is not None:
        src = blank_artefact(rec, s, **spec)
        meta["blank_ms"] = (float(spec.get("pre_ms", 0.5)), float(spec.get("post_ms", 3.0)))
    pre = ms_to_samples(pre_ms, rec.fs, "pre_ms")
    post = ms_to_samples(post_ms, rec.fs, "post_ms")
    if pre + post < 1:
        raise ConfigError("pre_ms + post_ms must cover at least one sample")
    ok = keep_inside(s - pre, pre + post, rec.n_samples, rec.source, "stimulus")
    if not ok.any():
        raise DataError(f"no stimulus window of {pre_ms}+{post_ms} ms fits inside the recording", rec.source)
    X = take_windows(src.data, (s - pre)[ok], pre + post)
    pulse_in_train = pd.Series(train).groupby(train).cumcount().to_numpy()
    md = metadata_frame(
        rec, int(ok.sum()),
        stim_index=np.flatnonzero(ok), train=train[ok], pulse_in_train=pulse_in_train[ok],
        time_in_train_s=t_in_train[ok], train_frequency=freq, sample=s[ok],
    )
    yy = None if y is None else np.repeat(np.asarray([y]), int(ok.sum()))
    return Epochs(X=X, fs=rec.fs, ch_names=rec.ch_names, metadata=md, y=yy, tmin=-pre / rec.fs, meta=meta)


def mwave_descriptors(
    epochs: Epochs,
    channel: Any = 0,
    window_ms: tuple[float, float] | None = None,
    onset_fraction: float = 0.1,
    noise_k: float = 3.0,
) -> pd.DataFrame:
    """M-wave descriptors per stimulus-locked epoch.

    The response is measured in ``window_ms`` after the stimulus (default: from
    the end of the blanked span, or 0, to the end of the epoch), relative to the
    mean of the pre-stimulus samples. A sample is "active" when its deviation
    exceeds ``max(onset_fraction × peak, noise_k × pre-stimulus SD)``.

    Parameters
    ----------
    epochs : Epochs
        From :func:`epoch_stimulus_locked` (``tmin < 0`` gives a baseline).
    channel : int or str
        Channel analysed.
    window_ms : (start, stop), optional
        Analysis window after the stimulus, ms.
    onset_fraction : float
        Fraction of the peak deviation defining onset/offset.
    noise_k : float
        Multiple of the baseline SD that onset must also exceed.

    Returns
    -------
    DataFrame
        One row per epoch (same order as ``epochs.metadata``): ``ptp_amplitude``
        (units of the channel), ``area`` (rectified integral, units·s),
        ``latency_ms`` (onset after the stimulus), ``duration_ms`` (onset to last
        active sample), ``peak_latency_ms``. Latency/duration are NaN for a flat response.
    """
    if not isinstance(epochs, Epochs):
        raise DataError(f"mwave_descriptors expects Epochs, got {type(epochs).__name__}")
    ci = channel if isinstance(channel, (int, np.integer)) else None
    if ci is None:
        if channel not in epochs.ch_names:
            raise DataError(f"no channel {channel!r}; channels are {list(epochs.ch_names)}")
        ci = epochs.ch_names.index(channel)
    if not -epochs.n_channels <= int(ci) < epochs.n_channels:
        raise DataError(f"channel index {ci} out of range for {epochs.n_channels} channel(s)")
    t = epochs.times
    x = epochs.X[:, int(ci), :].astype(np.float64)
    blank_pre, blank_post = epochs.meta.get("blank_ms", (0.0, 0.0))
    if window_ms is None:
        start, stop = blank_post / 1000.0, t[-1] + 1.0 / epochs.fs
    else:
        start, stop = window_ms[0] / 1000.0, window_ms[1] / 1000.0
    win = (t >= start - 1e-12) & (t < stop - 1e-12)
    if not win.any():
        raise DataError(f"analysis window {window_ms} ms selects no samples of epochs spanning "
                        f"[{t[0] * 1000:.2f}, {t[-1] * 1000:.2f}] ms")
    base_mask = t < -blank_pre / 1000.0 - 1e-12
    if base_mask.sum() >= 2:
        base = x[:, base_mask].mean(axis=1)
        noise = x[:, base_mask].std(axis=1)
    else:
        base = np.zeros(len(x))
        noise = np.zeros(len(x))
    seg = x[:, win] - base[:, None]
    tw = t[win]
    dev = np.abs(seg)
    peak = dev.max(axis=1)
    thr = np.maximum(onset_fraction * peak, noise_k * noise)
    active = (dev >= thr[:, None]) & (peak[:, None] > 0)
    any_active = active.any(axis=1)
    first = np.argmax(active, axis=1)
    last = active.shape[1] - 1 - np.argmax(active[:, ::-1], axis=1)
    dt = 1.0 / epochs.fs
    latency = np.where(any_active, tw[first] * 1000.0, np.nan)
    duration = np.where(any_active, (last - first + 1) * dt * 1000.0, np.nan)
    return pd.DataFrame({
        "ptp_amplitude": seg.max(axis=1) - seg.min(axis=1),
        "area": dev.sum(axis=1) * dt,
        "latency_ms": latency,
        "duration_ms": duration,
        "peak_latency_ms": tw[np.argmax(dev, axis=1)] * 1000.0,
    })
