"""Filters on Recordings: band/high/low-pass, notch, rectification, envelope, resampling, DC removal.

All IIR filters are Butterworth (or ``iirnotch``) designs in second-order
sections, applied along the time axis of (n_channels, n_samples) arrays:
zero-phase (``sosfiltfilt``, offline) or causal (``sosfilt``,
what a streaming device can do; see :class:`StreamingFilter` for chunk-wise use).
Every function takes a :class:`~myoflow.containers.Recording` (``fs`` comes
from it) and returns a new one; the input is never modified.

Cut-offs at or above the Nyquist frequency are refused with a
:class:`~myoflow.errors.DataError` naming the recording and its rate.

Large arrays (more than :data:`BLOCKWISE_MIN_SAMPLES` samples in all) are filtered
in blocks of channels (small float64 working copies instead of several copies of the
whole array), on a thread pool: SciPy's ``sosfilt`` releases the GIL, so the blocks
run truly in parallel. Each channel is filtered independently, so the output is
bit-identical to filtering the whole array in one call. The number
of threads is ``min(n_channels, usable CPUs)``; the environment variable
``MYOFLOW_FILTER_THREADS`` caps it (``1`` disables threading).
"""
from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
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
    "BLOCKWISE_MIN_SAMPLES",
    "filter_threads",
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


#: Arrays with more samples than this (all channels together) are filtered in blocks of
#: channels (on a thread pool when more than one thread is used); smaller ones in one call,
#: where per-block calls and thread start-up would cost more than they save.
BLOCKWISE_MIN_SAMPLES = 1_000_000

#: Upper bound on samples per block (unless one channel is longer). SciPy makes several
#: float64 working copies of what it filters; for a whole long recording these are fresh
#: multi-hundred-MB allocations whose pages the kernel must zero on every call (on a 16 ch
#: x 1 h array that page zeroing cost more system time than the filtering itself), while
#: block-sized copies (a few to ~30 MB) mostly fall under glibc's dynamic mmap threshold
#: (at most 32 MB) and are served from reused heap memory.
_BLOCK_MAX_SAMPLES = 1 << 21

_THREADS_ENV = "MYOFLOW_FILTER_THREADS"


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))  # honours taskset / container CPU masks
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def filter_threads(n_channels: int, n_samples_total: int) -> int:
    """Number of threads :func:`apply_sos` uses for an array of this size.

    Parameters
    ----------
    n_channels : int
        Independent signals (rows) in the array.
    n_samples_total : int
        Samples over all channels.

    Returns
    -------
    int
        1 when the array holds at most :data:`BLOCKWISE_MIN_SAMPLES` samples or has one
        channel; otherwise ``min(n_channels, usable CPUs, $MYOFLOW_FILTER_THREADS)``.

    Raises
    ------
    ConfigError
        If ``MYOFLOW_FILTER_THREADS`` is set but is not a positive integer.
    """
    cap = _threads_from_env()
    if n_channels < 2 or n_samples_total <= BLOCKWISE_MIN_SAMPLES:
        return 1
    n = min(int(n_channels), _usable_cpus())
    return max(1, min(n, cap) if cap is not None else n)


def _threads_from_env() -> int | None:
    raw = os.environ.get(_THREADS_ENV, "").strip()
    if not raw:
        return None
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if n < 1:
        raise ConfigError(f"environment variable {_THREADS_ENV} must be a positive integer "
                          f"(1 disables threaded filtering), got {raw!r}")
    return n


def _filter_rows(sos: np.ndarray, x: np.ndarray, zero_phase: bool, rectify_first: bool) -> np.ndarray:
    """Filter rows of a 2-D block (float64 result, as SciPy returns it)."""
    if rectify_first:
        x = np.abs(x)
    return signal.sosfiltfilt(sos, x, axis=-1) if zero_phase else signal.sosfilt(sos, x, axis=-1)


def _apply_rows(sos: np.ndarray, data: np.ndarray, zero_phase: bool, threads: int | None,
                rectify_first: bool = False) -> np.ndarray:
    """Filter along the last axis, in channel blocks (threaded when worthwhile); float32 out.

    Every row is filtered on its own by SciPy, so splitting rows into blocks changes
    neither the arithmetic nor its order: the result is bit-identical to one call.
    """
    n_samples = data.shape[-1]
    n_rows = int(np.prod(data.shape[:-1], dtype=np.int64)) if data.ndim > 1 else 1
    if threads is None:
        threads = filter_threads(n_rows, n_rows * n_samples)
    else:
        if isinstance(threads, bool) or int(threads) != threads or int(threads) < 1:
            raise ConfigError(f"threads must be a positive integer, got {threads!r}")
        threads = min(int(threads), n_rows)
    blockwise = n_rows > 1 and (threads > 1 or n_rows * n_samples > BLOCKWISE_MIN_SAMPLES)
    if not blockwise:
        return _filter_rows(sos, data, zero_phase, rectify_first).astype(np.float32, copy=False)

    rows = data.reshape(n_rows, n_samples)
    out = np.empty((n_rows, n_samples), dtype=np.float32)
    # Blocks: no more rows than a fair share per thread, and few enough samples that the
    # float64 working copies stay small (more blocks than threads also balances the load
    # when other processes share the CPUs).
    per_block = max(1, min(-(-n_rows // threads), _BLOCK_MAX_SAMPLES // max(n_samples, 1)))
    starts = range(0, n_rows, per_block)

    def run(lo: int) -> None:
        hi = min(lo + per_block, n_rows)
        out[lo:hi] = _filter_rows(sos, rows[lo:hi], zero_phase, rectify_first)

    if threads == 1:
        for lo in starts:
            run(lo)
    else:
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="myoflow-filter") as pool:
            for fut in [pool.submit(run, lo) for lo in starts]:
                fut.result()  # re-raise a worker's exception here
    return out.reshape(data.shape)


def apply_sos(sos: np.ndarray, data: np.ndarray, zero_phase: bool = True, source: str = "recording",
              threads: int | None = None) -> np.ndarray:
    """Apply second-order sections along the last axis (``sosfiltfilt`` or ``sosfilt``).

    Parameters
    ----------
    sos : ndarray, shape (n_sections, 6)
    data : ndarray, shape (..., n_samples)
    zero_phase : bool
        Forward-backward (no phase shift, squared magnitude response) or causal.
    source : str
        Name used in error messages.
    threads : int, optional
        Threads to filter channel blocks on. ``None`` (default) chooses with
        :func:`filter_threads` (threaded only above :data:`BLOCKWISE_MIN_SAMPLES`
        samples, capped by ``MYOFLOW_FILTER_THREADS``); an explicit number is used
        as given (at most one thread per channel). The result does not depend on it.

    Returns
    -------
    ndarray of float32, same shape.
    """
    return _apply(sos, data, zero_phase, source, threads, rectify_first=False)


def _apply(sos: np.ndarray, data: np.ndarray, zero_phase: bool, source: str, threads: int | None,
           rectify_first: bool) -> np.ndarray:
    data = np.asarray(data)
    if zero_phase:
        # sosfiltfilt pads by 3 * (2 * n_sections + 1) samples on each side.
        padlen = 3 * (2 * len(sos) + 1)
        if data.shape[-1] <= padlen:
            raise DataError(
                f"recording has {data.shape[-1]} samples; zero-phase filtering with {len(sos)} sections "
                f"needs more than {padlen} (use a lower order or zero_phase=False)",
                source,
            )
    return _apply_rows(sos, data, zero_phase, threads, rectify_first)


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
    # rectify inside each channel block: no full-size rectified copy of the recording
    return rec.with_data(_apply(sos, rec.data, zero_phase, rec.source, None, rectify_first=True))


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
