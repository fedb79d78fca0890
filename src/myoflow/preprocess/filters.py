"""Filters on Recordings: band/high/low-pass, notch, rectification, envelope, resampling, DC removal.

All IIR filters are Butterworth (or ``iirnotch``) designs in second-order
sections, applied along the time axis of the whole (n_channels, n_samples)
array at once: zero-phase (``sosfiltfilt``, offline) or causal (``sosfilt``,
what a streaming device can do; see :class:`StreamingFilter` for chunk-wise use).
Every function takes a :class:`~myoflow.containers.Recording` (``fs`` comes
from it) and returns a new one; the input is never modified.

Cut-offs at or above the Nyquist frequency are refused with a
:class:`~myoflow.errors.DataError` naming the recording and its rate.
"""
from __future__ import annotations

import logging
from fractions import Fraction
from typing import Sequence

import numpy as np
from scipy import signal

from ..containers import Recording
from ..errors import ConfigError, DataError

__all__ = [
    "bandpass",
    "highpass",
    "lowpass",
    "notch",
    "rectify",
    "envelope",
    "resample",
    "remove_dc",
    "design_sos",
    "notch_sos",
    "apply_sos",
    "StreamingFilter",
]

logger = logging.getLogger(__name__)


def _check_rec(rec: Recording, who: str) -> None:
    if not isinstance(rec, Recording):
        raise DataError(f"{who} expects a Recording, got {type(rec).__name__}")


def _check_freq(rec_fs: float, freq: float, what: str, source: str) -> float:
    try:
        f = float(freq)
    except (TypeError, ValueError):
        raise ConfigError(f"{what} must be a frequency in Hz, got {freq!r}") from None
    nyq = rec_fs / 2.0
    if not np.isfinite(f) or f <= 0:
        raise DataError(f"{what} must be > 0 Hz, got {freq}", source)
    if f >= nyq:
        raise DataError(
            f"{what} {f:g} Hz is at or above the Nyquist frequency {nyq:g} Hz (fs={rec_fs:g} Hz); "
            f"use a cut-off below {nyq:g} Hz or a recording sampled faster",
            source,
        )
    return f


def _check_order(order: int) -> int:
    if int(order) != order or int(order) < 1:
        raise ConfigError(f"filter order must be a positive integer, got {order}")
    return int(order)


def design_sos(
    kind: str, fs: float, cutoff: float | Sequence[float], order: int = 4, source: str = "recording"
) -> np.ndarray:
    """Butterworth second-order sections, with cut-offs checked against Nyquist.

    Parameters
    ----------
    kind : {"lowpass", "highpass", "bandpass", "bandstop"}
    fs : float
        Sampling rate, Hz.
    cutoff : float or (low, high)
        Cut-off frequency/frequencies, Hz (-3 dB points).
    order : int
        Butterworth order (of each of the low/high edges for band filters).
    source : str
        Name used in error messages.

    Returns
    -------
    sos : ndarray, shape (n_sections, 6)
    """
    order = _check_order(order)
    if kind in ("bandpass", "bandstop"):
        try:
            low, high = cutoff  # type: ignore[misc]
        except (TypeError, ValueError):
            raise ConfigError(f"{kind} needs (low, high) cut-offs, got {cutoff!r}") from None
        low = _check_freq(fs, low, f"{kind} low cut-off", source)
        high = _check_freq(fs, high, f"{kind} high cut-off", source)
        if low >= high:
            raise ConfigError(f"{kind} low cut-off ({low:g} Hz) must be below the high cut-off ({high:g} Hz)")
        wn: float | list[float] = [low, high]
    elif kind in ("lowpass", "highpass"):
        wn = _check_freq(fs, cutoff, f"{kind} cut-off", source)  # type: ignore[arg-type]
    else:
        raise ConfigError(f"unknown filter kind {kind!r}; expected lowpass, highpass, bandpass or bandstop")
    return signal.butter(order, wn, btype=kind, fs=fs, output="sos")


def apply_sos(sos: np.ndarray, data: np.ndarray, zero_phase: bool = True, source: str = "recording") -> np.ndarray:
    """Apply second-order sections along the last axis (``sosfiltfilt`` or ``sosfilt``).

    Parameters
    ----------
    sos : ndarray, shape (n_sections, 6)
    data : ndarray, shape (..., n_samples)
    zero_phase : bool
        Forward-backward (no phase shift, squared magnitude response) or causal.
    source : str
        Name used in error messages.

    Returns
    -------
    ndarray of float32, same shape.
    """
    if zero_phase:
        # sosfiltfilt pads by 3 * (2 * n_sections + 1) samples on each side.
        padlen = 3 * (2 * len(sos) + 1)
        if data.shape[-1] <= padlen:
            raise DataError(
                f"recording has {data.shape[-1]} samples; zero-phase filtering with {len(sos)} sections "
                f"needs more than {padlen} (use a lower order or zero_phase=False)",
                source,
            )
        out = signal.sosfiltfilt(sos, data, axis=-1)
    else:
        out = signal.sosfilt(sos, data, axis=-1)
    return out.astype(np.float32, copy=False)


def _filtered(rec: Recording, sos: np.ndarray, zero_phase: bool) -> Recording:
    return rec.with_data(apply_sos(sos, rec.data, zero_phase, rec.source))


def bandpass(rec: Recording, low: float, high: float, order: int = 4, zero_phase: bool = True) -> Recording:
    """Butterworth band-pass filter.

    Parameters
    ----------
    rec : Recording
    low, high : float
        Pass-band edges, Hz (0 < low < high < fs/2). Typical surface EMG: 20-450 Hz
        (De Luca et al. 2010, J Biomech 43:1573).
    order : int
        Order of each edge (the band-pass has ``2 * order`` poles).
    zero_phase : bool
        ``True``: forward-backward (offline, no delay); ``False``: causal.

    Returns
    -------
    Recording
        Same shape, float32.
    """
    _check_rec(rec, "bandpass")
    return _filtered(rec, design_sos("bandpass", rec.fs, (low, high), order, rec.source), zero_phase)


def highpass(rec: Recording, cutoff: float, order: int = 4, zero_phase: bool = True) -> Recording:
    """Butterworth high-pass filter (cut-off in Hz, below fs/2). See :func:`bandpass`."""
    _check_rec(rec, "highpass")
    return _filtered(rec, design_sos("highpass", rec.fs, cutoff, order, rec.source), zero_phase)


def lowpass(rec: Recording, cutoff: float, order: int = 4, zero_phase: bool = True) -> Recording:
    """Butterworth low-pass filter (cut-off in Hz, below fs/2). See :func:`bandpass`."""
    _check_rec(rec, "lowpass")
    return _filtered(rec, design_sos("lowpass", rec.fs, cutoff, order, rec.source), zero_phase)


def notch_sos(fs: float, freq: float = 50.0, harmonics: Sequence[int] = (1, 3, 5), q: float = 30.0,
              source: str = "recording") -> np.ndarray:
    """Cascade of ``iirnotch`` sections at ``freq * h`` for each harmonic ``h`` below Nyquist."""
    if float(q) <= 0:
        raise ConfigError(f"notch quality factor q must be > 0, got {q}")
    hs = sorted({int(h) for h in harmonics})
    if not hs or hs[0] < 1:
        raise ConfigError(f"notch harmonics must be positive integers, got {tuple(harmonics)}")
    _check_freq(fs, freq * hs[0], "notch frequency", source)
    sections = []
    for h in hs:
        f0 = freq * h
        if f0 >= fs / 2.0:
            logger.debug("%s: notch harmonic %d (%g Hz) skipped, above Nyquist %g Hz", source, h, f0, fs / 2)
            continue
        b, a = signal.iirnotch(f0, q, fs=fs)
        sections.append(signal.tf2sos(b, a))
    return np.vstack(sections)


def notch(rec: Recording, freq: float = 50.0, harmonics: Sequence[int] = (1, 3, 5), q: float = 30.0,
          zero_phase: bool = True) -> Recording:
    """Remove power-line interference: notches at ``freq`` and its harmonics.

    Parameters
    ----------
    rec : Recording
    freq : float
        Mains frequency, Hz (50 in Europe/Asia, 60 in the Americas).
    harmonics : sequence of int
        Multiples of ``freq`` to notch (default 1, 3, 5: mains distortion is
        mostly odd harmonics). Harmonics at or above Nyquist are skipped; the
        lowest one must lie below it.
    q : float
        Quality factor of each notch (bandwidth = f0 / q).
    zero_phase : bool
        Forward-backward or causal.
    """
    _check_rec(rec, "notch")
    return _filtered(rec, notch_sos(rec.fs, freq, harmonics, q, rec.source), zero_phase)


def rectify(rec: Recording) -> Recording:
    """Full-wave rectification (absolute value)."""
    _check_rec(rec, "rectify")
    return rec.with_data(np.abs(rec.data))


def envelope(rec: Recording, cutoff: float = 6.0, order: int = 4, zero_phase: bool = True) -> Recording:
    """Linear envelope: full-wave rectification followed by a Butterworth low-pass.

    Parameters
    ----------
    rec : Recording
        Band-passed EMG, preferably.
    cutoff : float
        Low-pass cut-off, Hz; 3-10 Hz is usual for gait envelopes (Winter 2009,
        Biomechanics and Motor Control of Human Movement, 4th ed., §10.2).
    order, zero_phase
        As in :func:`lowpass`.
    """
    _check_rec(rec, "envelope")
    sos = design_sos("lowpass", rec.fs, cutoff, order, rec.source)
    return rec.with_data(apply_sos(sos, np.abs(rec.data), zero_phase, rec.source))


def resample(rec: Recording, fs: float, max_denominator: int = 1000) -> Recording:
    """Resample to a new rate with polyphase anti-aliasing (``scipy.signal.resample_poly``).

    Parameters
    ----------
    rec : Recording
    fs : float
        Target rate, Hz. The ratio ``fs / rec.fs`` is approximated by a fraction
        ``up/down`` with ``down <= max_denominator``; the output rate is exactly
        ``rec.fs * up / down`` (a warning is logged if that differs from ``fs``).
    max_denominator : int
        Bound on the fraction's denominator.

    Returns
    -------
    Recording
        Events are moved to the nearest sample at the new rate.
    """
    _check_rec(rec, "resample")
    try:
        target = float(fs)
    except (TypeError, ValueError):
        raise ConfigError(f"target fs must be a number in Hz, got {fs!r}") from None
    if not np.isfinite(target) or target <= 0:
        raise DataError(f"target fs must be > 0 Hz, got {fs}", rec.source)
    if target == rec.fs:
        return rec.replace()
    ratio = Fraction(target / rec.fs).limit_denominator(int(max_denominator))
    up, down = ratio.numerator, ratio.denominator
    if up == 0:
        raise DataError(f"target fs {target:g} Hz is too low for fs={rec.fs:g} Hz", rec.source)
    new_fs = rec.fs * up / down
    if abs(new_fs - target) > 1e-9 * target:
        logger.warning("%s: resampling to %.6g Hz instead of %.6g Hz (ratio %d/%d)", rec.source, new_fs, target, up, down)
    out = signal.resample_poly(rec.data, up, down, axis=-1).astype(np.float32, copy=False)
    return rec.with_data(out, fs=new_fs)


def remove_dc(rec: Recording, method: str = "mean") -> Recording:
    """Remove the per-channel offset or baseline drift.

    Parameters
    ----------
    rec : Recording
    method : {"mean", "median", "detrend"}
        Subtract the channel mean, the channel median (robust to bursts), or a
        least-squares straight line (``scipy.signal.detrend``).
    """
    _check_rec(rec, "remove_dc")
    x = rec.data
    if method == "mean":
        out = x - x.mean(axis=-1, dtype=np.float64, keepdims=True).astype(np.float32)
    elif method == "median":
        out = x - np.median(x, axis=-1, keepdims=True)
    elif method == "detrend":
        out = signal.detrend(x, axis=-1, type="linear")
    else:
        raise ConfigError(f"remove_dc method must be 'mean', 'median' or 'detrend', got {method!r}")
    return rec.with_data(np.asarray(out, dtype=np.float32))


class StreamingFilter:
    """Causal filter that keeps its state between chunks (for streaming / online use).

    Processing a recording chunk by chunk gives exactly the output of
    ``sosfilt`` on the whole recording (zero initial state).

    Parameters
    ----------
    sos : ndarray, shape (n_sections, 6)
        E.g. from :func:`design_sos` or :func:`notch_sos`.
    n_channels : int

    Examples
    --------
    >>> f = StreamingFilter(design_sos("bandpass", 1000.0, (20, 450)), n_channels=16)
    >>> # for chunk in stream: out = f.process(chunk)   # chunk (16, n)
    """

    def __init__(self, sos: np.ndarray, n_channels: int):
        self.sos = np.asarray(sos, dtype=np.float64)
        if self.sos.ndim != 2 or self.sos.shape[1] != 6:
            raise ConfigError(f"sos must have shape (n_sections, 6), got {self.sos.shape}")
        self.n_channels = int(n_channels)
        self.reset()

    def reset(self) -> None:
        """Forget the filter state (zero initial conditions)."""
        self.zi_ = np.zeros((self.sos.shape[0], self.n_channels, 2))

    def process(self, chunk: np.ndarray) -> np.ndarray:
        """Filter one chunk, shape (n_channels, n_samples); returns float32 of the same shape."""
        x = np.asarray(chunk)
        if x.ndim != 2 or x.shape[0] != self.n_channels:
            raise DataError(f"chunk must have shape ({self.n_channels}, n_samples), got {x.shape}")
        y, self.zi_ = signal.sosfilt(self.sos, x, axis=-1, zi=self.zi_)
        return y.astype(np.float32, copy=False)
