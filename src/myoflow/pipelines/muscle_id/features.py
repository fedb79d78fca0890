"""Classic time- and frequency-domain sEMG features for the LDA / random-forest baselines.

Hudgins et al. 1993 (IEEE TBME 40:82) time-domain set — mean absolute value
(MAV), waveform length (WL), zero crossings (ZC), slope sign changes (SSC) — plus
the usual extensions reviewed by Phinyomark et al. 2012 (Expert Syst Appl
39:7420): RMS, variance, Willison amplitude (WAMP), log detector, Hjorth
mobility/complexity, autoregressive coefficients (order 4, Yule-Walker), and
spectral features from a Welch periodogram: mean (MNF), median (MDF) and peak
frequency, total power and relative power in four bands.

Count features (ZC, SSC, WAMP) use a threshold relative to the window's own RMS
(``rel_threshold × RMS``) instead of Hudgins' absolute 10 µV, so they count
shape, not amplitude, and work whatever the recording's units.
"""
from __future__ import annotations

import numpy as np
from scipy import signal

from ...containers import Epochs
from ...errors import DataError

__all__ = ["FEATURE_NAMES", "classic_features", "feature_names"]

#: Per-channel feature names, in column order.
FEATURE_NAMES: tuple[str, ...] = (
    "log_mav", "log_rms", "log_var", "log_wl", "zc", "ssc", "wamp", "log_detector",
    "hjorth_mobility", "hjorth_complexity", "ar1", "ar2", "ar3", "ar4",
    "mnf", "mdf", "peak_freq", "log_total_power",
    "rel_power_20_50", "rel_power_50_100", "rel_power_100_200", "rel_power_200_450",
)

_BANDS = ((20.0, 50.0), (50.0, 100.0), (100.0, 200.0), (200.0, 450.0))
_TINY = 1e-20


def feature_names(ch_names: tuple[str, ...] | list[str]) -> list[str]:
    """Column names ``<channel>:<feature>`` for :func:`classic_features` output."""
    if len(ch_names) == 1:
        return list(FEATURE_NAMES)
    return [f"{c}:{f}" for c in ch_names for f in FEATURE_NAMES]


def _ar_coefficients(x: np.ndarray, order: int) -> np.ndarray:
    """Yule-Walker AR coefficients per row via vectorised Levinson-Durbin, shape (n, order)."""
    n, t = x.shape
    xc = x - x.mean(axis=1, keepdims=True)
    nfft = 1 << int(np.ceil(np.log2(2 * t)))
    spec = np.fft.rfft(xc, nfft, axis=1)
    r = np.fft.irfft(np.abs(spec) ** 2, nfft, axis=1)[:, : order + 1] / t
    a = np.zeros((n, order + 1))
    a[:, 0] = 1.0
    err = r[:, 0].copy()
    ok = err > _TINY
    err[~ok] = 1.0
    for k in range(1, order + 1):
        acc = r[:, k] + np.einsum("ij,ij->i", a[:, 1:k], r[:, k - 1:0:-1]) if k > 1 else r[:, k].copy()
        refl = -acc / err
        a_prev = a.copy()
        for j in range(1, k):
            a[:, j] = a_prev[:, j] + refl * a_prev[:, k - j]
        a[:, k] = refl
        err = err * (1.0 - refl**2)
        err = np.where(err > _TINY, err, _TINY)
    a[~ok] = 0.0
    return a[:, 1:]


def _one_channel(x: np.ndarray, fs: float, rel_threshold: float) -> np.ndarray:
    """Features of (n_windows, n_times) float64 windows → (n_windows, len(FEATURE_NAMES))."""
    n, t = x.shape
    d = np.diff(x, axis=1)
    mav = np.abs(x).mean(1)
    var = x.var(1)
    rms = np.sqrt((x**2).mean(1))
    wl = np.abs(d).sum(1) / t
    thr = (rel_threshold * rms)[:, None]
    zc = ((x[:, :-1] * x[:, 1:] < 0) & (np.abs(d) >= thr)).sum(1) / t
    ssc = (((d[:, :-1] * d[:, 1:]) < 0) & ((np.abs(d[:, :-1]) >= thr) | (np.abs(d[:, 1:]) >= thr))).sum(1) / t
    wamp = (np.abs(d) >= thr).sum(1) / t
    log_det = np.log(np.abs(x) + _TINY).mean(1)
    dd = np.diff(d, axis=1)
    var_d, var_dd = d.var(1), dd.var(1)
    mobility = np.sqrt(var_d / np.maximum(var, _TINY))
    complexity = np.sqrt(var_dd / np.maximum(var_d, _TINY)) / np.maximum(mobility, _TINY)
    ar = _ar_coefficients(x, 4)
    nper = int(min(t, 256))
    f, pxx = signal.welch(x, fs=fs, nperseg=nper, axis=1)
    total = pxx.sum(1)
    safe = np.maximum(total, _TINY)
    mnf = (pxx * f).sum(1) / safe
    cum = np.cumsum(pxx, axis=1)
    mdf = f[np.minimum((cum < 0.5 * cum[:, -1:]).sum(1), f.size - 1)]
    peak = f[np.argmax(pxx, axis=1)]
    bands = []
    for lo, hi in _BANDS:
        sel = (f >= lo) & (f < min(hi, fs / 2))
        bands.append(pxx[:, sel].sum(1) / safe if sel.any() else np.zeros(n))
    cols = [
        np.log(mav + _TINY), np.log(rms + _TINY), np.log(var + _TINY), np.log(wl + _TINY), zc, ssc, wamp,
        log_det, mobility, complexity, ar[:, 0], ar[:, 1], ar[:, 2], ar[:, 3],
        mnf, mdf, peak, np.log(total + _TINY), *bands,
    ]
    return np.stack(cols, axis=1)


def classic_features(epochs: Epochs | np.ndarray, fs: float | None = None,
                     rel_threshold: float = 0.05) -> np.ndarray:
    """Classic feature matrix of every window and channel.

    Parameters
    ----------
    epochs : Epochs or array (n_windows, n_channels, n_times)
        Windows in any amplitude unit (log-amplitude features shift by a
        constant with the unit; the baselines standardise features).
    fs : float, optional
        Sampling rate in Hz (required for a bare array; taken from Epochs).
    rel_threshold : float
        Threshold of ZC/SSC/WAMP as a fraction of the window's RMS.

    Returns
    -------
    ndarray, shape (n_windows, n_channels * len(FEATURE_NAMES))
        Channel-major columns (see :func:`feature_names`); float64, finite.
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
    out = np.concatenate([_one_channel(X[:, c], float(fs), rel_threshold) for c in range(X.shape[1])], axis=1)
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)
