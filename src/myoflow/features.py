"""Classic sEMG features: pure functions over windows ``(..., n_times)``, with LibEMG's names.

Every function takes an array whose LAST axis is time (one window per leading
index: ``(n_times,)``, ``(n_windows, n_times)`` or ``(n_windows, n_channels,
n_times)``) and returns one value per window (``x.shape[:-1]``), except :func:`ar`
(``(..., order)``). Nothing is fitted. :func:`extract` computes several by name;
:class:`FeatureExtractor` wraps it as a stateless scikit-learn transformer that
takes :class:`~myoflow.containers.Epochs`; :func:`classic_features` is the fixed
22-feature set of the muscle-id baselines (Velásquez et al. 2023).

Notation: ``x_i`` the samples of a window, ``N`` their number, ``Δx_i = x_{i+1} − x_i``,
``thr`` a threshold in the signal's unit. Units: amplitude features are in the
signal's unit (V for myoflow EMG), counts are counts (per window), spectral ones in Hz.

==========  =================================================  ====================================================
name        formula (unit)                                     difference from LibEMG (``libemg.feature_extractor``)
==========  =================================================  ====================================================
MAV         ``mean |x_i|`` (V)                                 same
IAV         ``Σ |x_i|`` (V·samples)                            same
RMS         ``sqrt(mean x_i²)`` (V)                            same
VAR         ``mean (x_i − x̄)²`` (V²; ``np.var``, ddof 0)        same
WL          ``Σ |Δx_i|`` (V)                                   same (myoflow's baselines divide by N)
DASDV       ``sqrt(mean Δx_i²)`` (V)                           same
ZC          ``#{i: x_i·x_{i+1} < 0 and |Δx_i| ≥ thr}``          same rule; ``rel_threshold`` (a fraction of the
                                                               window's RMS) is ours
SSC         ``#{i: (x_i − x_{i−1})(x_i − x_{i+1}) > 0 and      LibEMG counts ``(x_i − x_{i−1})(x_i − x_{i+1}) ≥ thr``:
            (|x_i − x_{i−1}| ≥ thr or |x_i − x_{i+1}| ≥ thr)}``  with thr = 0 every FLAT step (a zero difference)
                                                               counts as a slope change, and thr applies to the
                                                               product (V²); ours needs a strict local extremum and
                                                               applies thr to the step (V), as Hudgins et al. 1993
WAMP        ``#{i: |Δx_i| ≥ thr}``                              LibEMG: ``> thr`` with an ABSOLUTE default (2e-3 in the
                                                               signal's unit, i.e. 2 mV for volts); ours defaults to
                                                               thr = 0 and offers ``rel_threshold`` (× window RMS),
                                                               which counts shape whatever the unit or gain
LD          ``exp(mean log |x_i|)`` (V; geometric mean of |x|)  LibEMG: ``exp(mean log(|x_i| + 1))`` — the ``+1`` makes
                                                               it ≈ 1 for signals in volts (|x| ≪ 1); ours has no
                                                               ``+1`` (a 1e-20 floor keeps exact zeros finite)
HMOB        Hjorth mobility ``sqrt(var Δx / var x)`` (1/sample)  not in LibEMG
HCOMP       Hjorth complexity ``HMOB(Δx) / HMOB(x)`` (1)        not in LibEMG
AR          Yule-Walker AR coefficients ``a_1..a_p`` of         LibEMG fits by Burg's method (``librosa.lpc``); same
            ``x_t + Σ a_k x_{t−k} = e_t`` (1; order p = 4)     sign convention, close but not identical values
MNF         ``Σ f_j P_j / Σ P_j`` (Hz)                          LibEMG: P from one zero-padded FFT of the window;
MDF         ``f`` where the cumulative power first reaches      ours: Welch periodogram (Hann, ``nperseg = min(N,
            half of ``Σ P_j`` (Hz)                              256)``), smoother for long windows
PKF         ``argmax_f P`` (Hz)                                 as MNF/MDF (Welch)
TP          ``Σ P_j`` (V²/Hz summed over bins)                  as MNF/MDF (Welch)
==========  =================================================  ====================================================
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy import signal
from sklearn.base import BaseEstimator, TransformerMixin

from .containers import Epochs
from .errors import ConfigError, DataError

__all__ = [
    "mav", "iav", "rms", "var", "wl", "dasdv", "zc", "ssc", "wamp", "ld",
    "hjorth_mobility", "hjorth_complexity", "ar", "welch_psd", "mnf", "mdf", "pkf", "tp", "band_power_ratio",
    "FEATURES", "extract", "column_names", "FeatureExtractor",
    "CLASSIC_FEATURE_NAMES", "classic_features", "classic_feature_names",
]

logger = logging.getLogger(__name__)

_TINY = 1e-20


def _x(x: Any) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 0 or a.shape[-1] < 2:
        raise DataError(f"features need windows (..., n_times) with n_times >= 2, got shape {a.shape}")
    return a


def _thr(x: np.ndarray, threshold: Any, rel_threshold: float | None) -> np.ndarray:
    """Threshold broadcastable against x[..., :1]: absolute, or ``rel_threshold`` × the window's RMS."""
    if rel_threshold is not None:
        return (float(rel_threshold) * rms(x))[..., None]
    t = np.asarray(threshold, dtype=np.float64)
    return t[..., None] if t.ndim else t


# ---------------------------------------------------------------- amplitude
def mav(x: Any) -> np.ndarray:
    """Mean absolute value ``mean |x|`` per window (signal unit)."""
    return np.abs(_x(x)).mean(-1)


def iav(x: Any) -> np.ndarray:
    """Integrated absolute value ``Σ |x|`` per window (signal unit × samples)."""
    return np.abs(_x(x)).sum(-1)


def rms(x: Any) -> np.ndarray:
    """Root mean square ``sqrt(mean x²)`` per window (signal unit)."""
    a = _x(x)
    return np.sqrt((a**2).mean(-1))


def var(x: Any) -> np.ndarray:
    """Variance about the window mean, ddof 0 (signal unit²)."""
    return _x(x).var(-1)


def wl(x: Any) -> np.ndarray:
    """Waveform length ``Σ |Δx|`` per window (signal unit)."""
    return np.abs(np.diff(_x(x), axis=-1)).sum(-1)


def dasdv(x: Any) -> np.ndarray:
    """Difference absolute standard deviation value ``sqrt(mean Δx²)`` (signal unit)."""
    return np.sqrt((np.diff(_x(x), axis=-1) ** 2).mean(-1))


def _mean_log_abs(a: np.ndarray) -> np.ndarray:
    return np.log(np.abs(a) + _TINY).mean(-1)


def ld(x: Any) -> np.ndarray:
    """Log detector ``exp(mean log |x|)``: the geometric mean of |x| (signal unit; no LibEMG ``+1``)."""
    return np.exp(_mean_log_abs(_x(x)))


# ------------------------------------------------------------------- counts
def zc(x: Any, threshold: Any = 0.0, rel_threshold: float | None = None) -> np.ndarray:
    """Zero crossings with a step of at least ``thr`` (count per window).

    Parameters
    ----------
    threshold : float or array (...,)
        Absolute threshold on ``|Δx|`` (signal unit).
    rel_threshold : float, optional
        Threshold as a fraction of each window's RMS instead (overrides ``threshold``).
    """
    a = _x(x)
    d = np.diff(a, axis=-1)
    thr = _thr(a, threshold, rel_threshold)
    return ((a[..., :-1] * a[..., 1:] < 0) & (np.abs(d) >= thr)).sum(-1)


def ssc(x: Any, threshold: Any = 0.0, rel_threshold: float | None = None) -> np.ndarray:
    """Slope sign changes: strict local extrema with a step of at least ``thr`` on one side (count)."""
    a = _x(x)
    d = np.diff(a, axis=-1)
    thr = _thr(a, threshold, rel_threshold)
    big = np.abs(d) >= thr
    return (((d[..., :-1] * d[..., 1:]) < 0) & (big[..., :-1] | big[..., 1:])).sum(-1)


def wamp(x: Any, threshold: Any = 0.0, rel_threshold: float | None = None) -> np.ndarray:
    """Willison amplitude: steps ``|Δx| ≥ thr`` (count per window)."""
    a = _x(x)
    return (np.abs(np.diff(a, axis=-1)) >= _thr(a, threshold, rel_threshold)).sum(-1)


# ------------------------------------------------------------------- shape
def _hjorth(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d = np.diff(a, axis=-1)
    dd = np.diff(d, axis=-1)
    v, vd, vdd = a.var(-1), d.var(-1), dd.var(-1)
    mobility = np.sqrt(vd / np.maximum(v, _TINY))
    complexity = np.sqrt(vdd / np.maximum(vd, _TINY)) / np.maximum(mobility, _TINY)
    return mobility, complexity


def hjorth_mobility(x: Any) -> np.ndarray:
    """Hjorth mobility ``sqrt(var Δx / var x)`` (1/sample; ×fs for rad/s-like units)."""
    return _hjorth(_x(x))[0]


def hjorth_complexity(x: Any) -> np.ndarray:
    """Hjorth complexity: mobility of Δx over mobility of x (unitless; 1 for a sine)."""
    return _hjorth(_x(x))[1]


def ar(x: Any, order: int = 4) -> np.ndarray:
    """Yule-Walker AR coefficients ``a_1..a_p`` (``x_t + Σ a_k x_{t−k} = e_t``), shape (..., order).

    Biased autocorrelation of the mean-removed window, vectorised Levinson-Durbin;
    an all-zero (constant) window gives zeros.
    """
    a = _x(x)
    order = int(order)
    if order < 1:
        raise ConfigError(f"AR order must be >= 1, got {order}")
    lead = a.shape[:-1]
    flat = a.reshape(-1, a.shape[-1])
    n, t = flat.shape
    xc = flat - flat.mean(axis=1, keepdims=True)
    nfft = 1 << int(np.ceil(np.log2(2 * t)))
    spec = np.fft.rfft(xc, nfft, axis=1)
    r = np.fft.irfft(np.abs(spec) ** 2, nfft, axis=1)[:, : order + 1] / t
    c = np.zeros((n, order + 1))
    c[:, 0] = 1.0
    err = r[:, 0].copy()
    ok = err > _TINY
    err[~ok] = 1.0
    for k in range(1, order + 1):
        acc = r[:, k] + np.einsum("ij,ij->i", c[:, 1:k], r[:, k - 1:0:-1]) if k > 1 else r[:, k].copy()
        refl = -acc / err
        prev = c.copy()
        for j in range(1, k):
            c[:, j] = prev[:, j] + refl * prev[:, k - j]
        c[:, k] = refl
        err = err * (1.0 - refl**2)
        err = np.where(err > _TINY, err, _TINY)
    c[~ok] = 0.0
    return c[:, 1:].reshape(lead + (order,))


# ---------------------------------------------------------------- spectral
def welch_psd(x: Any, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """Welch power spectral density of each window: ``(f, P)`` with P (..., n_freqs) in unit²/Hz.

    Hann window, ``nperseg = min(N, 256)``, constant detrend (SciPy's defaults otherwise).
    """
    a = _x(x)
    if fs is None or not float(fs) > 0:
        raise DataError(f"spectral features need fs > 0 Hz, got {fs!r}")
    return signal.welch(a, fs=float(fs), nperseg=int(min(a.shape[-1], 256)), axis=-1)


def _psd(x: Any, fs: float | None, psd: tuple[np.ndarray, np.ndarray] | None) -> tuple[np.ndarray, np.ndarray]:
    return psd if psd is not None else welch_psd(x, fs)  # type: ignore[arg-type]


def mnf(x: Any, fs: float | None = None, psd: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Mean frequency ``Σ f P / Σ P`` (Hz). ``psd`` (from :func:`welch_psd`) skips recomputing the spectrum."""
    f, p = _psd(x, fs, psd)
    return (p * f).sum(-1) / np.maximum(p.sum(-1), _TINY)


def mdf(x: Any, fs: float | None = None, psd: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Median frequency: the first bin where the cumulative power reaches half the total (Hz)."""
    f, p = _psd(x, fs, psd)
    cum = np.cumsum(p, axis=-1)
    return f[np.minimum((cum < 0.5 * cum[..., -1:]).sum(-1), f.size - 1)]


def pkf(x: Any, fs: float | None = None, psd: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Peak frequency ``argmax_f P`` (Hz)."""
    f, p = _psd(x, fs, psd)
    return f[np.argmax(p, axis=-1)]


def tp(x: Any, fs: float | None = None, psd: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Total power: the PSD summed over its bins (unit²/Hz)."""
    return _psd(x, fs, psd)[1].sum(-1)


def band_power_ratio(x: Any, lo: float, hi: float, fs: float | None = None,
                     psd: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Fraction of the total power in ``lo <= f < min(hi, fs/2)`` Hz (0 when the band holds no bin)."""
    f, p = _psd(x, fs, psd)
    nyq = f[-1] if fs is None else float(fs) / 2
    sel = (f >= lo) & (f < min(hi, nyq))
    if not sel.any():
        return np.zeros(p.shape[:-1])
    return p[..., sel].sum(-1) / np.maximum(p.sum(-1), _TINY)


# ---------------------------------------------------------------- by name
_THRESHOLDED = {"ZC": zc, "SSC": ssc, "WAMP": wamp}
_SPECTRAL = {"MNF": mnf, "MDF": mdf, "PKF": pkf, "TP": tp}
_PLAIN: dict[str, Callable[[Any], np.ndarray]] = {
    "MAV": mav, "IAV": iav, "RMS": rms, "VAR": var, "WL": wl, "DASDV": dasdv, "LD": ld,
    "HMOB": hjorth_mobility, "HCOMP": hjorth_complexity,
}
#: Every feature :func:`extract` knows, by (LibEMG-style) name.
FEATURES: dict[str, Callable[..., np.ndarray]] = {**_PLAIN, **_THRESHOLDED, "AR": ar, **_SPECTRAL}


def _check_names(names: Sequence[str]) -> list[str]:
    if isinstance(names, str):
        names = [names]
    out = [str(n).upper() for n in names]
    unknown = [n for n in out if n not in FEATURES]
    if unknown or not out:
        raise ConfigError(f"unknown feature name(s) {unknown or list(names)}; known: {sorted(FEATURES)}")
    return out


def column_names(names: Sequence[str], ar_order: int = 4) -> list[str]:
    """Output column names of :func:`extract` (``AR`` expands to ``AR1..AR<order>``)."""
    cols = []
    for n in _check_names(names):
        cols.extend([f"AR{k + 1}" for k in range(ar_order)] if n == "AR" else [n])
    return cols


def extract(X: Epochs | np.ndarray, names: Sequence[str] = ("MAV", "RMS", "WL", "ZC", "SSC"), fs: float | None = None,
            *, threshold: float = 0.0, rel_threshold: float | None = None, ar_order: int = 4) -> np.ndarray:
    """Several features of every window, by name (see the module table).

    Parameters
    ----------
    X : Epochs or array (..., n_times)
        Windows; for Epochs the array is ``X.X`` (n_epochs, n_channels, n_times) and ``fs`` is taken from it.
    names : sequence of str
        Feature names (case-insensitive), in output order.
    fs : float, optional
        Sampling rate in Hz; needed for MNF/MDF/PKF/TP on a bare array.
    threshold, rel_threshold
        Threshold of ZC/SSC/WAMP: absolute (signal unit), or a fraction of each window's RMS.
    ar_order : int
        Order of ``AR``.

    Returns
    -------
    ndarray (..., n_columns), float64
        One column per name (``AR`` gives ``ar_order``), see :func:`column_names`.
        Non-finite values are kept as they are (and logged with their count).
    """
    names = _check_names(names)
    if isinstance(X, Epochs):
        X, fs = X.X, X.fs if fs is None else fs
    a = _x(X)
    psd = welch_psd(a, fs) if any(n in _SPECTRAL for n in names) else None  # type: ignore[arg-type]
    cols = []
    for n in names:
        if n in _PLAIN:
            cols.append(_PLAIN[n](a))
        elif n in _THRESHOLDED:
            cols.append(_THRESHOLDED[n](a, threshold, rel_threshold))
        elif n == "AR":
            cols.extend(np.moveaxis(ar(a, ar_order), -1, 0))
        else:
            cols.append(_SPECTRAL[n](a, psd=psd))
    out = np.stack([np.asarray(c, dtype=np.float64) for c in cols], axis=-1)
    bad = int((~np.isfinite(out)).sum())
    if bad:
        logger.warning("extract: %d of %d feature value(s) are NaN/inf", bad, out.size)
    return out


class FeatureExtractor(TransformerMixin, BaseEstimator):
    """Stateless scikit-learn transformer: Epochs or (n, n_channels, n_times) → (n, n_channels × n_columns).

    Columns are channel-major (all features of channel 0, then channel 1, ...).
    ``fit`` learns nothing, so it is safe anywhere in a cross-validated Pipeline.

    Parameters
    ----------
    names, fs, threshold, rel_threshold, ar_order
        As :func:`extract`.
    """

    def __init__(self, names: Sequence[str] = ("MAV", "RMS", "WL", "ZC", "SSC"), fs: float | None = None,
                 threshold: float = 0.0, rel_threshold: float | None = None, ar_order: int = 4):
        self.names = names
        self.fs = fs
        self.threshold = threshold
        self.rel_threshold = rel_threshold
        self.ar_order = ar_order

    def fit(self, X: Any, y: Any = None) -> "FeatureExtractor":
        _check_names(self.names)
        self.n_columns_ = len(column_names(self.names, self.ar_order))
        return self

    def transform(self, X: Any) -> np.ndarray:
        F = extract(X, self.names, self.fs, threshold=self.threshold, rel_threshold=self.rel_threshold,
                    ar_order=self.ar_order)
        if F.ndim != 3:
            raise DataError(f"FeatureExtractor needs windows (n, n_channels, n_times), got {F.ndim - 1 + 1}-D input")
        return F.reshape(F.shape[0], -1)


# ------------------------------------------------- the muscle-id baseline set
#: Per-channel column names of :func:`classic_features`, in order.
CLASSIC_FEATURE_NAMES: tuple[str, ...] = (
    "log_mav", "log_rms", "log_var", "log_wl", "zc", "ssc", "wamp", "log_detector",
    "hjorth_mobility", "hjorth_complexity", "ar1", "ar2", "ar3", "ar4",
    "mnf", "mdf", "peak_freq", "log_total_power",
    "rel_power_20_50", "rel_power_50_100", "rel_power_100_200", "rel_power_200_450",
)

_BANDS = ((20.0, 50.0), (50.0, 100.0), (100.0, 200.0), (200.0, 450.0))


def classic_feature_names(ch_names: Sequence[str]) -> list[str]:
    """Column names ``<channel>:<feature>`` of :func:`classic_features` (bare names for one channel)."""
    if len(ch_names) == 1:
        return list(CLASSIC_FEATURE_NAMES)
    return [f"{c}:{f}" for c in ch_names for f in CLASSIC_FEATURE_NAMES]


def _classic_one_channel(x: np.ndarray, fs: float, rel_threshold: float) -> np.ndarray:
    """(n_windows, n_times) float64 → (n_windows, len(CLASSIC_FEATURE_NAMES))."""
    n, t = x.shape
    mobility, complexity = _hjorth(x)
    coef = ar(x, 4)
    psd = welch_psd(x, fs)
    cols = [
        np.log(mav(x) + _TINY), np.log(rms(x) + _TINY), np.log(var(x) + _TINY), np.log(wl(x) / t + _TINY),
        zc(x, rel_threshold=rel_threshold) / t, ssc(x, rel_threshold=rel_threshold) / t,
        wamp(x, rel_threshold=rel_threshold) / t, _mean_log_abs(x), mobility, complexity,
        coef[:, 0], coef[:, 1], coef[:, 2], coef[:, 3],
        mnf(x, psd=psd), mdf(x, psd=psd), pkf(x, psd=psd), np.log(tp(x, psd=psd) + _TINY),
        *[band_power_ratio(x, lo, hi, fs=fs, psd=psd) for lo, hi in _BANDS],
    ]
    return np.stack(cols, axis=1)


def classic_features(epochs: Epochs | np.ndarray, fs: float | None = None, rel_threshold: float = 0.05) -> np.ndarray:
    """The 22 classic features of every window and channel (the muscle-id LDA/RF baselines).

    Hudgins et al. 1993 (IEEE TBME 40:82) time-domain set (MAV, WL, ZC, SSC) plus
    the extensions reviewed by Phinyomark et al. 2012 (Expert Syst Appl 39:7420):
    log amplitude features (MAV, RMS, VAR, WL / N), per-sample counts ZC/N, SSC/N,
    WAMP/N with a threshold of ``rel_threshold × RMS`` (shape, not amplitude, so any
    unit works), log LD, Hjorth mobility/complexity, AR(4), and Welch-spectrum MNF,
    MDF, peak frequency, log total power and relative power in 20–50, 50–100,
    100–200 and 200–450 Hz.

    Parameters
    ----------
    epochs : Epochs or array (n_windows, n_channels, n_times)
    fs : float, optional
        Sampling rate in Hz (required for a bare array; taken from Epochs).
    rel_threshold : float
        Threshold of ZC/SSC/WAMP as a fraction of the window's RMS.

    Returns
    -------
    ndarray (n_windows, n_channels * 22)
        Channel-major columns (:func:`classic_feature_names`), float64. Non-finite
        values (none are expected: every log and ratio has a floor) are replaced
        by 0 so the baselines can fit, with a warning giving their count.
    """
    if isinstance(epochs, Epochs):
        X, fs = epochs.X, epochs.fs
    else:
        X = np.asarray(epochs)
        if fs is None:
            raise DataError("classic_features needs fs for a bare array")
    if X.ndim != 3:
        raise DataError(f"classic_features needs windows (n, channels, times), got shape {X.shape}")
    if X.shape[2] < 16:
        raise DataError(f"windows of {X.shape[2]} samples are too short for spectral features (need >= 16)")
    X = X.astype(np.float64, copy=False)
    out = np.concatenate([_classic_one_channel(X[:, c], float(fs), rel_threshold) for c in range(X.shape[1])], axis=1)
    bad = ~np.isfinite(out)
    if bad.any():
        cols = np.flatnonzero(bad.any(0))
        names = classic_feature_names([f"ch{c}" for c in range(X.shape[1])])
        logger.warning("classic_features: %d of %d value(s) are NaN/inf (columns %s); replaced by 0",
                       int(bad.sum()), out.size, [names[c] for c in cols[:5]])
        out = np.where(bad, 0.0, out)
    return out
