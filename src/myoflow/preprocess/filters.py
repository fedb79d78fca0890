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

For float32/float64 data the forward-backward pass runs SciPy's own in-place
second-order-section kernel (the one ``sosfilt`` wraps) on one padded float64 work
buffer per thread, instead of ``sosfiltfilt``'s padded copy, two float64 copies and
the rectified copy per block: the same operations in the same order, so the output
is bit-identical to ``sosfiltfilt`` (checked against it once per process; any
mismatch, or a SciPy without that kernel, falls back to ``sosfiltfilt``).
"""
from __future__ import annotations

import itertools
import logging
import os
import threading
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


try:  # the in-place kernel behind signal.sosfilt (private: guarded by _fast_path_ok)
    from scipy.signal._sosfilt import _sosfilt as _sos_kernel
except ImportError:  # pragma: no cover - depends on the SciPy build
    _sos_kernel = None

_FAST_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_fast_checked: bool | None = None  # None: not checked yet in this process
_fast_lock = threading.Lock()

#: Samples per kernel call in the fast path. The kernel carries its state between calls
#: exactly (as ``sosfilt(..., zi=...)`` does), so chunking changes no arithmetic; it keeps
#: each chunk in the core's cache from the copy that fills it to the copy that stores it,
#: instead of streaming every intermediate through main memory (512 KB of float64, half a core's L2).
_CHUNK = 1 << 16


class _SosPlan:
    """One filter application: the sections, their steady-state ``zi`` and the padding.

    ``fast`` says whether the in-place kernel path applies (float32/float64 data,
    sections SciPy would accept as given); otherwise :func:`_filter_rows` calls
    ``sosfiltfilt`` / ``sosfilt`` exactly as before.
    """

    def __init__(self, sos: np.ndarray, dtype: np.dtype, zero_phase: bool, rectify_first: bool,
                 chunk: int | None = None):
        self.sos = sos
        self.zero_phase = zero_phase
        self.rectify_first = rectify_first
        self.chunk = int(chunk or _CHUNK)
        sos64 = np.asarray(sos)
        self.fast = (_sos_kernel is not None and np.dtype(dtype) in _FAST_DTYPES and sos64.ndim == 2
                     and sos64.shape[1] == 6 and sos64.shape[0] > 0 and sos64.dtype == np.float64
                     and bool(np.all(sos64[:, 3] == 1.0)) and bool(np.isfinite(sos64).all()))
        if self.fast:
            self.sos = np.ascontiguousarray(sos64)
            n_sections = len(sos64)
            # sosfiltfilt's default padding: 3 * ntaps, with ntaps reduced for first-order sections
            ntaps = 2 * n_sections + 1 - min(int((sos64[:, 2] == 0).sum()), int((sos64[:, 5] == 0).sum()))
            self.pad = 3 * ntaps if zero_phase else 0
            self.zi = signal.sosfilt_zi(self.sos) if zero_phase else None

    def workspace(self, n_samples: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Work buffers for one row at a time (reused row after row, block after block, on one thread):
        the forward pass of a whole padded row (zero-phase only) and one chunk."""
        if not self.fast:
            return None
        whole = np.empty(n_samples + 2 * self.pad) if self.zero_phase else np.empty(0)
        return whole, np.empty(min(self.chunk, n_samples + 2 * self.pad))


def _filtfilt_into(plan: _SosPlan, x: np.ndarray, out: np.ndarray, work: tuple[np.ndarray, np.ndarray]) -> None:
    """``sosfiltfilt`` (odd padding) of one row ``x`` into ``out``, with the same arithmetic.

    Follows SciPy's ``sosfiltfilt`` step by step: the odd extension is computed in the
    input dtype, each pass starts from ``zi * its first sample`` and runs the kernel
    ``sosfilt`` runs, and the result is the reversed backward pass without the padding.
    Only the memory traffic differs: the forward pass is filtered chunk by chunk as it
    is filled, the backward pass chunk by chunk as it is read back reversed and stored.
    """
    n, p, c = x.shape[0], plan.pad, plan.chunk
    m = n + 2 * p
    a, buf = work
    xa = np.abs if plan.rectify_first else None
    left, right = x[:p + 1], x[n - p - 1:]
    if xa is not None:
        left, right = xa(left), xa(right)
    a[:p] = 2 * left[:1] - left[p:0:-1]  # scipy odd_ext, in the input dtype
    a[p + n:] = 2 * right[-1:] - right[-2::-1]
    zi = np.ascontiguousarray(plan.zi[np.newaxis] * a[:1, np.newaxis])  # zi * first (extended) sample
    for lo in range(0, m, c):
        hi = min(lo + c, m)
        dl, dh = max(lo, p), min(hi, p + n)
        if dl < dh:
            if xa is not None:
                xa(x[dl - p:dh - p], out=a[dl:dh])
            else:
                a[dl:dh] = x[dl - p:dh - p]
        _sos_kernel(plan.sos, a[np.newaxis, lo:hi], zi)
    zi = np.ascontiguousarray(plan.zi[np.newaxis] * a[-1:, np.newaxis])
    # backward pass over r = a[::-1]; out[k] = (filtered r)[m - 1 - p - k]
    for lo in range(0, m, c):
        hi = min(lo + c, m)
        chunk = buf[np.newaxis, :hi - lo]
        chunk[0] = a[m - 1 - lo:(m - 1 - hi if hi < m else None):-1]
        _sos_kernel(plan.sos, chunk, zi)
        jl, jh = max(lo, p), min(hi, p + n)
        if jl < jh:
            out[m - p - jh:m - p - jl] = chunk[0, jh - 1 - lo:(jl - 1 - lo if jl > lo else None):-1]


def _sosfilt_into(plan: _SosPlan, x: np.ndarray, out: np.ndarray, work: tuple[np.ndarray, np.ndarray]) -> None:
    """Causal ``sosfilt`` (zero initial state) of one row ``x`` into ``out``, chunk by chunk."""
    n, c = x.shape[0], plan.chunk
    buf = work[1]
    zi = np.zeros((1, len(plan.sos), 2))
    for lo in range(0, n, c):
        hi = min(lo + c, n)
        chunk = buf[np.newaxis, :hi - lo]
        if plan.rectify_first:
            np.abs(x[lo:hi], out=chunk[0])
        else:
            chunk[0] = x[lo:hi]
        _sos_kernel(plan.sos, chunk, zi)
        out[lo:hi] = chunk[0]


def _fast_path_ok() -> bool:
    """Once per process: does the kernel path reproduce ``sosfiltfilt`` / ``sosfilt`` bit for bit?

    The kernel is SciPy-private; if a SciPy release changes it, this check turns the
    fast path off (with a warning) rather than let the outputs drift.
    """
    global _fast_checked
    if _fast_checked is not None:
        return _fast_checked
    with _fast_lock:
        if _fast_checked is None:
            _fast_checked = _self_check()
    return _fast_checked


def _self_check() -> bool:
    if _sos_kernel is None:
        return False
    x = np.random.default_rng(0).normal(size=(2, 300)).astype(np.float32)
    x[1, :40] = 0.0  # exact zeros: signs of zero must match too
    try:
        for sos in (signal.butter(4, (20, 450), "bandpass", fs=1000, output="sos"),
                    signal.butter(3, 30, "lowpass", fs=1000, output="sos")):
            for dtype in _FAST_DTYPES:
                xd = x.astype(dtype)
                for zero_phase in (True, False):
                    for rect in (False, True):
                        for chunk in (37, 1000):  # several chunks (boundaries inside the padding too), one
                            plan = _SosPlan(sos, xd.dtype, zero_phase, rect, chunk=chunk)
                            got = np.empty(x.shape)  # compared in float64, before the float32 cast
                            _filter_rows(plan, xd, got, plan.workspace(x.shape[1]))
                            ref_fn = signal.sosfiltfilt if zero_phase else signal.sosfilt
                            ref = ref_fn(sos, np.abs(xd) if rect else xd, axis=-1)
                            if got.tobytes() != ref.tobytes():
                                raise ValueError(f"differs from {ref_fn.__name__} (dtype {dtype}, "
                                                 f"rectify {rect}, chunk {chunk})")
    except Exception as exc:  # noqa: BLE001 - any surprise means: use the public functions
        logger.warning("in-place SOS kernel disabled, using scipy.signal.sosfiltfilt (%s)", exc)
        return False
    return True


def _filter_rows(plan: _SosPlan, x: np.ndarray, out: np.ndarray, work: tuple[np.ndarray, np.ndarray] | None) -> None:
    """Filter the rows of a 2-D block into ``out`` (float32; float64 in the self-check)."""
    if work is not None:
        one_row = _filtfilt_into if plan.zero_phase else _sosfilt_into
        for i in range(x.shape[0]):
            one_row(plan, x[i], out[i], work)
        return
    if plan.rectify_first:
        x = np.abs(x)
    fn = signal.sosfiltfilt if plan.zero_phase else signal.sosfilt
    out[...] = fn(plan.sos, x, axis=-1)


def _apply_rows(sos: np.ndarray, data: np.ndarray, zero_phase: bool, threads: int | None,
                rectify_first: bool = False) -> np.ndarray:
    """Filter along the last axis, in channel blocks (threaded when worthwhile); float32 out.

    Every row is filtered on its own by SciPy's kernel, so splitting rows into blocks
    changes neither the arithmetic nor its order: the result is bit-identical to one call.
    """
    n_samples = data.shape[-1]
    n_rows = int(np.prod(data.shape[:-1], dtype=np.int64)) if data.ndim > 1 else 1
    if threads is None:
        threads = filter_threads(n_rows, n_rows * n_samples)
    else:
        if isinstance(threads, bool) or int(threads) != threads or int(threads) < 1:
            raise ConfigError(f"threads must be a positive integer, got {threads!r}")
        threads = min(int(threads), n_rows)
    plan = _SosPlan(sos, data.dtype, zero_phase, rectify_first)
    plan.fast = plan.fast and _fast_path_ok()
    rows = data.reshape(n_rows, n_samples)
    out = np.empty((n_rows, n_samples), dtype=np.float32)
    blockwise = n_rows > 1 and (threads > 1 or n_rows * n_samples > BLOCKWISE_MIN_SAMPLES)
    if not blockwise:
        _filter_rows(plan, rows, out, plan.workspace(n_samples))
        return out.reshape(data.shape)

    # Blocks: no more rows than a fair share per thread, and few enough samples that the
    # float64 work buffers stay small (more blocks than threads also balances the load
    # when other processes share the CPUs).
    per_block = max(1, min(-(-n_rows // threads), _BLOCK_MAX_SAMPLES // max(n_samples, 1)))
    n_blocks = -(-n_rows // per_block)
    next_block = itertools.count()  # shared by the workers; next() on it is atomic under the GIL

    def work_through() -> None:
        # one set of work buffers per thread, reused for every block it takes: fresh
        # buffers per block would be page-faulted (and zeroed by the kernel) each time
        work = None
        while (k := next(next_block)) < n_blocks:
            lo, hi = k * per_block, min((k + 1) * per_block, n_rows)
            if work is None:
                work = plan.workspace(n_samples)
            _filter_rows(plan, rows[lo:hi], out[lo:hi], work)

    if threads == 1:
        work_through()
    else:
        n_workers = min(threads, n_blocks)
        with ThreadPoolExecutor(max_workers=n_workers, thread_name_prefix="myoflow-filter") as pool:
            for fut in [pool.submit(work_through) for _ in range(n_workers)]:
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


def _handed_over(rec: Recording, data: np.ndarray) -> Recording:
    """``rec.with_data(data)`` for an array computed here that nothing else references.

    Marking it (and the array it is a view of) read-only lets the Recording keep it
    instead of copying it: on a 16 ch x 1 h recording that copy cost more than a tenth
    of each filter call.
    """
    a = data
    while isinstance(a, np.ndarray):
        a.setflags(write=False)
        a = a.base
    return rec.with_data(data)


def _filtered(rec: Recording, sos: np.ndarray, zero_phase: bool) -> Recording:
    return _handed_over(rec, apply_sos(sos, rec.data, zero_phase, rec.source))


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
    return _handed_over(rec, np.abs(rec.data))


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
    return _handed_over(rec, _apply(sos, rec.data, zero_phase, rec.source, None, rectify_first=True))


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
