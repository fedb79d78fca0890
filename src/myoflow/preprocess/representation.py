"""Input representations for deep models on sEMG windows (stateless, nothing fitted).

Amplitude separates muscles but varies about ten-fold between people (skin,
fat, electrode placement), so a network fed raw microvolts learns the people of
its training fold. The representation used here splits a window into

* its **shape**: each channel standardised per window (zero mean, unit standard
  deviation), and
* its **log-amplitude**: ``log(RMS)`` per channel, a side input the model can
  weigh (and the training fold's scaler can centre) on its own.

Optionally a **spectral** view is added: the log Welch power spectrum per
channel, or a log-magnitude STFT (channels × frequencies × frames).

For grids, :func:`bursts_as_samples` regroups the paper's channels-as-samples
windows (one 1-channel sample per grid channel and burst) into one multichannel
sample per burst, the other representation a grid model can choose.

All functions work on arrays of shape ``(n_windows, n_channels, n_times)``;
none holds state, so applying them to a whole cohort before splitting leaks
nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import signal

from ..containers import Epochs
from ..errors import ConfigError, DataError

__all__ = [
    "standardize_windows", "log_rms", "log_power_spectrum", "log_stft",
    "bursts_as_samples", "WindowRepresentation",
]

# Floor of the RMS / power before the log: a flat (dead) channel gives a finite, very low value.
_TINY = 1e-12


def _check(X: np.ndarray, who: str) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 3:
        raise DataError(f"{who} needs windows (n_windows, n_channels, n_times), got shape {X.shape}")
    if X.size and not np.isfinite(X).all():
        raise DataError(f"{who}: {int((~np.isfinite(X)).sum())} non-finite value(s) in the windows")
    return X


def log_rms(X: np.ndarray) -> np.ndarray:
    """Natural log of the RMS of every window and channel.

    Parameters
    ----------
    X : array (n_windows, n_channels, n_times)
        Windows in any amplitude unit (the log shifts by a constant with the unit).

    Returns
    -------
    ndarray (n_windows, n_channels), float32
    """
    X = _check(X, "log_rms").astype(np.float64, copy=False)
    rms = np.sqrt(np.mean(X**2, axis=2))
    return np.log(np.maximum(rms, _TINY)).astype(np.float32)


def standardize_windows(X: np.ndarray, eps: float = 1e-8) -> tuple[np.ndarray, np.ndarray]:
    """Per-window, per-channel standardisation plus the log-RMS side input.

    Parameters
    ----------
    X : array (n_windows, n_channels, n_times)
    eps : float
        Added to the standard deviation (relative to the largest one in the
        batch) so a flat channel becomes zeros, not NaN.

    Returns
    -------
    Z : ndarray (n_windows, n_channels, n_times), float32
        ``(x - mean) / std`` along time, per window and channel.
    amp : ndarray (n_windows, n_channels), float32
        :func:`log_rms` of the raw windows.
    """
    X = _check(X, "standardize_windows").astype(np.float64, copy=False)
    mu = X.mean(axis=2, keepdims=True)
    sd = X.std(axis=2, keepdims=True)
    floor = eps * max(float(sd.max()) if sd.size else 0.0, _TINY)
    Z = (X - mu) / (sd + floor)
    return Z.astype(np.float32), log_rms(X)


def _spectral_input(X: np.ndarray, fs: float, nperseg: int, who: str, what: str) -> tuple[np.ndarray, int]:
    """Checked windows (float64) and the segment length for a spectral view: ``nperseg`` capped at the window.

    ``what`` names the view in the too-short error ("a spectrum", "an STFT").
    """
    X = _check(X, who)
    if not fs or fs <= 0:
        raise DataError(f"{who} needs fs > 0 Hz, got {fs}")
    nper = int(min(nperseg, X.shape[2]))
    if nper < 8:
        raise DataError(f"windows of {X.shape[2]} samples are too short for {what} (need >= 8)")
    return X.astype(np.float64, copy=False), nper


def log_power_spectrum(X: np.ndarray, fs: float, nperseg: int = 128,
                       fmax: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Log10 Welch power spectral density of every window and channel.

    Parameters
    ----------
    X : array (n_windows, n_channels, n_times)
    fs : float
        Sampling rate, Hz.
    nperseg : int
        Welch segment length (samples; clipped to the window length).
    fmax : float, optional
        Drop frequencies above this (Hz), e.g. the band-pass corner.

    Returns
    -------
    P : ndarray (n_windows, n_channels, n_freqs), float32
        ``log10(PSD)``, PSD in unit²/Hz.
    f : ndarray (n_freqs,)
        Frequencies, Hz.
    """
    X, nper = _spectral_input(X, fs, nperseg, "log_power_spectrum", "a spectrum")
    f, p = signal.welch(X, fs=float(fs), nperseg=nper, axis=-1)
    if fmax is not None:
        keep = f <= fmax
        f, p = f[keep], p[..., keep]
    return np.log10(np.maximum(p, _TINY)).astype(np.float32), f


def log_stft(X: np.ndarray, fs: float, nperseg: int = 64, noverlap: int | None = None,
             fmax: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log10 STFT magnitude of every window and channel (a time-frequency image).

    Returns
    -------
    S : ndarray (n_windows, n_channels, n_freqs, n_frames), float32
    f : ndarray (n_freqs,), Hz
    t : ndarray (n_frames,), s from the window start
    """
    X, nper = _spectral_input(X, fs, nperseg, "log_stft", "an STFT")
    f, t, Z = signal.stft(X, fs=float(fs), nperseg=nper, noverlap=noverlap, axis=-1, boundary=None, padded=False)
    mag = np.abs(Z)
    if fmax is not None:
        keep = f <= fmax
        f, mag = f[keep], mag[..., keep, :]
    return np.log10(np.maximum(mag, _TINY)).astype(np.float32), f, t


def bursts_as_samples(epochs: Epochs, key: str = "burst_key", channel: str = "channel") -> Epochs:
    """Regroup channels-as-samples windows into one multichannel sample per burst.

    The inverse of :func:`myoflow.preprocess.channels_as_samples`: every window
    of a burst (rows sharing ``key``) becomes one channel of a single sample,
    channels ordered by name so every burst has the same layout.

    Parameters
    ----------
    epochs : Epochs
        Shape (n_bursts × n_channels, 1, n_times), metadata with ``key`` and
        ``channel`` columns (what the muscle-id windowing writes).

    Returns
    -------
    Epochs
        Shape (n_bursts, n_channels, n_times); metadata is the first row of each
        burst without ``channel``; ``y`` must agree within a burst.
    """
    if not isinstance(epochs, Epochs):
        raise DataError(f"bursts_as_samples expects Epochs, got {type(epochs).__name__}")
    if epochs.n_channels != 1:
        raise DataError(f"bursts_as_samples expects 1-channel samples, got {epochs.n_channels} channels")
    md = epochs.metadata
    for col in (key, channel):
        if col not in md.columns:
            raise DataError(f"bursts_as_samples: metadata has no column {col!r}; it has {list(md.columns)}")
    keys = md[key].astype(str).to_numpy()
    chans = md[channel].astype(str).to_numpy()
    layout = sorted(set(chans))
    table = pd.DataFrame({"k": keys, "c": chans, "i": np.arange(len(md))})
    if table.duplicated(["k", "c"]).any():
        raise DataError(f"bursts_as_samples: a channel occurs twice within one {key}")
    wide = table.pivot(index="k", columns="c", values="i")
    incomplete = wide.isna().any(axis=1)
    if incomplete.any():
        raise DataError(f"bursts_as_samples: {int(incomplete.sum())} burst(s) lack some of the channels {layout}")
    order = wide.loc[pd.unique(keys), layout].to_numpy(dtype=np.int64)  # bursts in first-seen order
    X = epochs.X[order, 0, :]                                            # (n_bursts, n_channels, n_times)
    y = None
    if epochs.y is not None:
        yy = np.asarray(epochs.y)[order]
        if not (yy == yy[:, :1]).all():
            raise DataError(f"bursts_as_samples: labels differ between the channels of one {key}")
        y = yy[:, 0]
    first = md.iloc[order[:, 0]].drop(columns=[channel]).reset_index(drop=True)
    return epochs.replace(X=X, ch_names=layout, metadata=first, y=y)


@dataclass(frozen=True)
class WindowRepresentation:
    """Which representation a model is fed (recorded in its config and the report).

    Parameters
    ----------
    standardize : bool
        Per-window standardisation with log-RMS side input (True) or raw windows.
    spectrum : {None, "welch", "stft"}
        Optional spectral input.
    nperseg : int
        Segment length of the spectrum / STFT, samples.
    fmax : float, optional
        Highest frequency kept, Hz.

    Calling it on ``(X, fs)`` returns a dict of arrays: ``"x"`` (the time-domain
    input), ``"amp"`` (log-RMS, when standardising), ``"spec"`` (when a spectrum
    is asked for).
    """

    standardize: bool = True
    spectrum: Literal["welch", "stft"] | None = None
    nperseg: int = 128
    fmax: float | None = None

    def __post_init__(self) -> None:
        if self.spectrum not in (None, "welch", "stft"):
            raise ConfigError(f"representation.spectrum must be null, 'welch' or 'stft', got {self.spectrum!r}")
        if self.nperseg < 8:
            raise ConfigError(f"representation.nperseg must be >= 8, got {self.nperseg}")

    def __call__(self, X: np.ndarray, fs: float) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        if self.standardize:
            out["x"], out["amp"] = standardize_windows(X)
        else:
            out["x"] = _check(X, "WindowRepresentation").astype(np.float32)
        if self.spectrum == "welch":
            out["spec"] = log_power_spectrum(X, fs, self.nperseg, self.fmax)[0]
        elif self.spectrum == "stft":
            out["spec"] = log_stft(X, fs, self.nperseg, fmax=self.fmax)[0]
        return out
