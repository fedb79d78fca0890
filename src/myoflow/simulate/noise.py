"""Measurement noise and the acquisition front end (spec §1.4).

All values [A] unless marked:

* Thermal/electrode noise: white, gel 1–3 µV RMS, dry 5–15 µV RMS, plus a 1/f part
  below 20 Hz (PSD ∝ 1/f under the corner, flat above).
* Powerline: 50/60 Hz plus 3rd and 5th harmonics (relative 0.3 and 0.1), amplitude
  log-normal with median 10 µV for gel (dry: median 15 µV, 2–100 µV), common to all
  channels (common-mode leakage) with per-channel gain N(1, 0.15) and small phase
  differences; its amplitude drifts slowly (±10 % at ≈0.1 Hz).
* Baseline wander 0.1–1 Hz (gel ≈10 µV, dry ≈50 µV RMS), partly shared by channels.
* Motion artefacts: damped 1–10 Hz transients of 0.05–1 mV, shared by channels with
  gains 0.5–1.5, at given times (e.g. heel strikes) or as a Poisson process.
* Dry-contact faults: each channel of a dry array fails with probability 1–5 %; a
  faulty channel has 10× noise and powerline pickup and a drifting baseline.
* Front end: causal Butterworth high-pass (10–20 Hz, 2nd order) and low-pass (450 Hz,
  4th order), saturation at ±``range_v`` and 16–24-bit quantisation.
* [S] Fat low-pass filters the signal and reduces selectivity (de la Barrera & Milner
  1994) — that part is the volume conductor's job, not this module's.
"""
from __future__ import annotations

import logging
from typing import Sequence

import numpy as np
from scipy import signal

from ..errors import ConfigError, DataError

__all__ = ["add_noise", "front_end", "pink_noise", "powerline"]

log = logging.getLogger(__name__)

_ELECTRODES = ("gel", "dry")


def _check(data: np.ndarray, fs: float) -> tuple[np.ndarray, float]:
    x = np.asarray(data, dtype=float)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] < 2:
        raise DataError(f"data must be (n_channels, n_samples) with >= 2 samples, got shape {np.shape(data)}")
    if not np.isfinite(x).all():
        raise DataError("data contains NaN/inf")
    fs = float(fs)
    if not np.isfinite(fs) or fs <= 0:
        raise ConfigError(f"fs must be > 0 Hz, got {fs}")
    return x, fs


def pink_noise(n_channels: int, n_samples: int, fs: float, rng: np.random.Generator,
               corner_hz: float = 20.0, floor_hz: float = 0.1) -> np.ndarray:
    """Unit-RMS-white noise with a 1/f PSD below ``corner_hz`` (flat above), shape (n_ch, n)."""
    w = rng.standard_normal((n_channels, n_samples))
    if corner_hz <= 0:
        return w
    spec = np.fft.rfft(w, axis=1)
    f = np.fft.rfftfreq(n_samples, 1.0 / fs)
    shape = np.sqrt(np.maximum(corner_hz / np.maximum(f, floor_hz), 1.0))
    shape[0] = 0.0
    return np.fft.irfft(spec * shape, n=n_samples, axis=1)


def powerline(n_channels: int, n_samples: int, fs: float, rng: np.random.Generator, amplitude_v: float,
              freq_hz: float = 50.0, harmonics: Sequence[float] = (1.0, 0.3, 0.1)) -> np.ndarray:
    """Common-mode mains interference with odd harmonics, shape (n_ch, n), volts.

    ``harmonics`` are the relative amplitudes of the 1st, 3rd, 5th, ... harmonics;
    components at or above Nyquist are skipped.
    """
    t = np.arange(n_samples) / fs
    f0 = freq_hz * (1.0 + 2e-4 * rng.standard_normal())  # mains frequency tolerance
    drift = 1.0 + 0.1 * np.sin(2 * np.pi * rng.uniform(0.05, 0.2) * t + rng.uniform(0, 2 * np.pi))
    gains = np.clip(rng.normal(1.0, 0.15, n_channels), 0.3, None)[:, None]
    dphi = rng.normal(0.0, 0.05, n_channels)[:, None]
    phi0 = rng.uniform(0, 2 * np.pi)
    out = np.zeros((n_channels, n_samples))
    for k, rel in enumerate(harmonics):
        order = 2 * k + 1
        if order * f0 >= fs / 2 or rel == 0:
            continue
        out += rel * np.sin(2 * np.pi * order * f0 * t[None, :] + order * (phi0 + dphi) + k)
    return amplitude_v * gains * drift[None, :] * out


def add_noise(
    data: np.ndarray,
    fs: float,
    rng: np.random.Generator,
    electrode: str = "gel",
    powerline_hz: float | None = 50.0,
    *,
    thermal_uv: float | None = None,
    powerline_uv: float | None = None,
    wander_uv: float | None = None,
    motion_times_s: Sequence[float] | None = None,
    motion_rate_hz: float | None = None,
    motion_mv: tuple[float, float] = (0.05, 1.0),
    fault_fraction: float | None = None,
    channel_noise_gain: Sequence[float] | np.ndarray | None = None,
    channel_powerline_gain: Sequence[float] | np.ndarray | None = None,
    faulty_channels: Sequence[int] | None = None,
    powerline_harmonics: Sequence[float] | None = None,
    return_info: bool = False,
):
    """Add realistic measurement noise to clean EMG (volts).

    Parameters
    ----------
    data : array (n_channels, n_samples), V
    fs : float, Hz
    rng : numpy.random.Generator
    electrode : ``"gel"`` or ``"dry"`` — sets the default levels (module docstring).
    powerline_hz : mains frequency (50 or 60 Hz); ``None`` for no powerline.
    thermal_uv, powerline_uv, wander_uv : override the RMS / amplitude, µV.
    motion_times_s : times of motion artefacts (e.g. heel strikes), s.
    motion_rate_hz : Poisson rate of random motion artefacts (default 0 gel, 0.05/s dry).
    motion_mv : (min, max) artefact amplitude, mV.
    fault_fraction : probability that a channel has a contact fault (default 0 for gel,
        U(1 %, 5 %) for dry).
    channel_noise_gain : per-channel factor on the thermal/electrode noise (n_channels,),
        e.g. √(contact impedance) of each electrode; default N(1, 0.2) per channel.
    channel_powerline_gain : per-channel factor on the powerline pickup (n_channels,),
        e.g. ∝ each electrode's contact impedance; default 1.
    faulty_channels : indices of channels with a contact fault, instead of drawing them
        with ``fault_fraction``.
    powerline_harmonics : relative amplitudes of the 1st, 3rd, 5th, ... mains harmonics
        (default ``(1.0, 0.3, 0.1)``; see :func:`powerline`).
    return_info : also return a dict describing what was added.

    Returns
    -------
    noisy : array (n_channels, n_samples), V; and ``info`` when ``return_info``.
    """
    x, fs = _check(data, fs)
    if electrode not in _ELECTRODES:
        raise ConfigError(f"electrode must be one of {_ELECTRODES}, got {electrode!r}")
    n_ch, n = x.shape
    dry = electrode == "dry"
    th = thermal_uv if thermal_uv is not None else rng.uniform(5, 15) if dry else rng.uniform(1, 3)
    pl = powerline_uv if powerline_uv is not None else (
        float(np.clip(rng.lognormal(np.log(15.0), 0.9), 2.0, 100.0)) if dry else float(rng.lognormal(np.log(10.0), 0.5))
    )
    wd = wander_uv if wander_uv is not None else (50.0 if dry else 10.0) * rng.uniform(0.5, 1.5)
    ff = fault_fraction if fault_fraction is not None else (rng.uniform(0.01, 0.05) if dry else 0.0)
    rate = motion_rate_hz if motion_rate_hz is not None else (0.05 if dry else 0.0)
    ch_gain = np.clip(rng.normal(1.0, 0.2, n_ch), 0.3, None)[:, None]
    faulty = np.flatnonzero(rng.random(n_ch) < ff)
    # Caller-supplied contact model (drawn after the defaults, so default callers keep their numbers).
    if channel_noise_gain is not None:
        ch_gain = _per_channel(channel_noise_gain, n_ch, "channel_noise_gain")
    pl_gain = 1.0 if channel_powerline_gain is None else _per_channel(channel_powerline_gain, n_ch,
                                                                       "channel_powerline_gain")
    if faulty_channels is not None:
        faulty = np.unique(np.asarray(faulty_channels, dtype=np.int64))
        if faulty.size and (faulty.min() < 0 or faulty.max() >= n_ch):
            raise ConfigError(f"faulty_channels must index {n_ch} channels, got {faulty.tolist()}")
    boost = np.ones((n_ch, 1))
    boost[faulty] = 10.0
    out = x.copy()
    out += th * 1e-6 * ch_gain * boost * pink_noise(n_ch, n, fs, rng)
    if powerline_hz:
        harm = (1.0, 0.3, 0.1) if powerline_harmonics is None else tuple(float(h) for h in powerline_harmonics)
        out += powerline(n_ch, n, fs, rng, pl * 1e-6, powerline_hz, harmonics=harm) * boost * pl_gain
    # Baseline wander: shared + individual slow sinusoids.
    t = np.arange(n) / fs
    wander = np.zeros((n_ch, n))
    for _ in range(3):
        f = rng.uniform(0.1, 1.0)
        common = np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
        own = np.sin(2 * np.pi * f * t[None, :] + rng.uniform(0, 2 * np.pi, (n_ch, 1)))
        wander += 0.7 * common[None, :] + 0.3 * own
    wander *= wd * 1e-6 / np.sqrt(3 * 0.5)
    wander[faulty] *= 10.0
    out += wander
    # Motion artefacts.
    times = [] if motion_times_s is None else [float(v) for v in motion_times_s]
    if rate > 0:
        k = rng.poisson(rate * n / fs)
        times += list(rng.uniform(0, n / fs, k))
    for t0 in times:
        i0 = int(round(t0 * fs))
        if i0 >= n or i0 < 0:
            continue
        f = rng.uniform(1.0, 10.0)
        tau = rng.uniform(0.5, 1.5) / f
        amp = rng.uniform(*motion_mv) * 1e-3
        tt = np.arange(min(int(5 * tau * fs) + 1, n - i0)) / fs
        wave = np.sin(2 * np.pi * f * tt) * np.exp(-tt / tau)
        gains = rng.uniform(0.5, 1.5, n_ch)[:, None] * rng.choice([-1.0, 1.0])
        out[:, i0:i0 + tt.size] += amp * gains * wave[None, :]
    if return_info:
        info = {"electrode": electrode, "thermal_uv": float(th), "powerline_uv": float(pl),
                "powerline_hz": powerline_hz, "wander_uv": float(wd),
                "motion_times_s": sorted(times), "faulty_channels": faulty.tolist()}
        return out, info
    return out


def _per_channel(v, n_ch: int, name: str) -> np.ndarray:
    a = np.asarray(v, dtype=float).reshape(-1)
    if a.shape != (n_ch,) or not np.isfinite(a).all() or (a < 0).any():
        raise ConfigError(f"{name} must be {n_ch} finite values >= 0, got shape {a.shape}")
    return a[:, None]


def front_end(
    data: np.ndarray,
    fs: float,
    hp_hz: float | None = 10.0,
    lp_hz: float | None = 450.0,
    bits: int | None = 16,
    range_v: float = 0.01,
    *,
    hp_order: int = 2,
    lp_order: int = 4,
) -> np.ndarray:
    """Amplifier band-limiting (causal Butterworth), saturation and quantisation.

    Parameters
    ----------
    data : array (n_channels, n_samples), V
    fs : Hz
    hp_hz, lp_hz : corner frequencies, Hz (``None`` skips; a low-pass at or above
        Nyquist is skipped with a debug message — the ADC's own anti-aliasing is assumed).
    bits : ADC resolution (``None``: no quantisation).
    range_v : input range ±range_v, V (default ±10 mV); samples beyond saturate.

    Returns
    -------
    array (n_channels, n_samples), V (multiples of the LSB when quantised).
    """
    x, fs = _check(data, fs)
    def causal(sos: np.ndarray, y: np.ndarray) -> np.ndarray:
        # Start in the steady state for the first sample (a recording does not begin with
        # the amplifier's switch-on transient).
        zi = signal.sosfilt_zi(sos)[:, None, :] * y[None, :, :1]
        return signal.sosfilt(sos, y, axis=1, zi=zi)[0]

    if hp_hz:
        if not (0 < hp_hz < fs / 2):
            raise ConfigError(f"high-pass corner must be in (0, fs/2 = {fs / 2:g}) Hz, got {hp_hz}")
        x = causal(signal.butter(hp_order, hp_hz, "highpass", fs=fs, output="sos"), x)
    if lp_hz:
        if lp_hz >= fs / 2:
            log.debug("low-pass %.0f Hz >= Nyquist %.0f Hz: skipped", lp_hz, fs / 2)
        else:
            x = causal(signal.butter(lp_order, lp_hz, "lowpass", fs=fs, output="sos"), x)
    if range_v <= 0:
        raise ConfigError(f"range_v must be > 0 V, got {range_v}")
    x = np.clip(x, -range_v, range_v)
    if bits:
        if not (4 <= int(bits) <= 32):
            raise ConfigError(f"bits must be in [4, 32], got {bits}")
        lsb = 2.0 * range_v / 2 ** int(bits)
        x = np.round(x / lsb) * lsb
    return x
