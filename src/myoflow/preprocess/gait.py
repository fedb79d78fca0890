"""Gait cycles: heel strikes, cycle segmentation with time normalisation, ensemble averages.

Heel strikes are returned as TIMES in seconds on the session clock (not
sample indices), because the force plates, the kinematics and the EMG of one
:class:`~myoflow.containers.Trial` run at different rates; a time can be used
to segment any stream.
"""
from __future__ import annotations

import logging
import re
from typing import Any

import numpy as np
from scipy import signal

from ..containers import Epochs, Recording, Trial
from ..errors import ConfigError, DataError
from ._common import metadata_frame

__all__ = ["detect_heel_strikes", "segment_cycles", "ensemble_average"]

logger = logging.getLogger(__name__)

_VERTICAL = re.compile(r"(force_vy|_fy$|^fy|fz|vertical|grf_?v|grf_?z)", re.IGNORECASE)


def _side_of(name: str) -> str | None:
    n = name.lower()
    if re.match(r"^(l|left)[_\s]", n) or re.search(r"[_\s](l|left)$", n) or "left" in n:
        return "l"
    if re.match(r"^(r|right)[_\s]", n) or re.search(r"[_\s](r|right)$", n) or "right" in n:
        return "r"
    return None


def _find_force_channel(rec: Recording, side: str) -> str | None:
    cands = [c for c in rec.ch_names if _VERTICAL.search(c)]
    if not cands:
        return None
    same = [c for c in cands if _side_of(c) == side]
    if same:
        return same[0]
    # OpenSim convention: the right plate is unprefixed ("ground_force_vy"), the left "l_...".
    unsided = [c for c in cands if _side_of(c) is None]
    if side == "r" and unsided:
        return unsided[0]
    return None


def _find_angle(rec: Recording, joint: str, side: str) -> str | None:
    pats = [rf"^{joint}[_a-z]*_{side}$", rf"^{side}_{joint}", rf"^{'left' if side == 'l' else 'right'}.*{joint}"]
    for c in rec.ch_names:
        if any(re.search(p, c, re.IGNORECASE) for p in pats):
            return c
    return None


def _from_grf(rec: Recording, ch: str, threshold: float | None, min_interval_s: float,
              min_stance_ms: float, search_ms: float = 150.0) -> np.ndarray:
    f = rec.data[rec.channel_index(ch)[0]].astype(np.float64)
    ref = float(np.percentile(f, 95))  # a typical stance force, robust to spikes
    low = float(threshold) if threshold is not None else max(20.0, 0.05 * ref)
    # Hysteresis: a stance is found where the force clearly exceeds the contact level
    # (robust to plates that never return to zero in swing), and its heel strike is
    # dated back to where the force left the contact level (or, when it never dropped
    # below it, to the valley before the rise).
    high = max(low, 0.2 * ref)
    loaded = f >= high
    d = np.diff(np.concatenate([[False], loaded, [False]]).astype(np.int8))
    on, off = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    keep = on > 0  # the first sample may already be in stance: not a heel strike
    stance = (off - on) >= max(1, int(round(min_stance_ms * rec.fs / 1000.0)))
    on = on[keep & stance]
    back = max(1, int(round(search_ms * rec.fs / 1000.0)))
    strikes = []
    for s in on:
        lo = max(0, s - back)
        below = np.flatnonzero(f[lo:s] < low)
        strikes.append(lo + below[-1] + 1 if below.size else lo + int(np.argmin(f[lo:s])))
    kept: list[int] = []
    gap = int(round(min_interval_s * rec.fs))
    for s in strikes:
        if not kept or s - kept[-1] >= gap:
            kept.append(int(s))
    return np.asarray(kept, dtype=np.int64)


def _radians(rec: Recording, name: str) -> np.ndarray:
    """One angle channel in radians: stated in rad (OpenSim ``inDegrees=no``) it is taken as it is, otherwise
    read as degrees (an IK ``.mot`` in radians was converted again and gave no heel strike at all)."""
    i = rec.channel_index(name)[0]
    x = rec.data[i].astype(np.float64)
    return x if str(rec.units[i]).strip().lower() in ("rad", "radian", "radians") else np.deg2rad(x)


def _from_kinematics(rec: Recording, hip: str, knee: str, min_interval_s: float, prominence: float,
                     knee_flexion_negative: bool | None) -> np.ndarray:
    h, k = (_radians(rec, name) for name in (hip, knee))
    if knee_flexion_negative is None:
        # The knee is flexed for most of a gait cycle, so the sign of its median reveals the convention.
        knee_flexion_negative = bool(np.median(k) < 0)
    flex = -k if knee_flexion_negative else k
    # Ankle position ahead of the hip in the sagittal plane, thigh and shank of equal length
    # (0.245 H and 0.246 H; Winter 2009, Biomechanics and Motor Control of Human Movement, Table 4.1).
    # Its maximum marks heel strike (Zeni, Richards & Higginson 2008, Gait Posture 27:710,
    # who use the heel marker relative to the sacrum).
    x = np.sin(h) + np.sin(h - flex)
    peaks, _ = signal.find_peaks(x, distance=max(1, int(round(min_interval_s * rec.fs))), prominence=prominence)
    return peaks.astype(np.int64)


def detect_heel_strikes(
    rec_or_trial: Recording | Trial,
    side: str = "r",
    method: str = "auto",
    force_channel: str | None = None,
    threshold: float | None = None,
    hip_channel: str | None = None,
    knee_channel: str | None = None,
    min_interval_s: float = 0.4,
    min_stance_ms: float = 100.0,
    prominence: float = 0.2,
    knee_flexion_negative: bool | None = None,
) -> np.ndarray:
    """Heel-strike times of one leg, from vertical GRF when present, else from kinematics.

    Parameters
    ----------
    rec_or_trial : Recording or Trial
        A force or kinematics Recording, or a Trial whose streams are searched
        (force first, then joint angles).
    side : {"r", "l"}
        Leg.
    method : {"auto", "grf", "kinematics"}
    force_channel : str, optional
        Vertical force channel (N); default: guessed from names (``ground_force_vy``,
        ``l_ground_force_vy``, ``Fz`` ...).
    threshold : float, optional
        Force level marking contact, N (default ``max(20 N, 5 %`` of the 95th
        percentile of the force)). A stance must also exceed 20 % of that percentile.
    hip_channel, knee_channel : str, optional
        Sagittal hip flexion and knee angles in degrees, or in radians when their unit says ``rad``
        (default: guessed, e.g. ``hip_flexion_r``, ``knee_angle_r``).
    min_interval_s : float
        Minimum time between heel strikes of one leg.
    min_stance_ms : float
        GRF: contacts shorter than this are ignored.
    prominence : float
        Kinematics: peak prominence of the ankle-ahead-of-hip curve (in thigh lengths).
    knee_flexion_negative : bool, optional
        Kinematic sign convention of knee flexion (OpenSim: negative); default inferred.

    Returns
    -------
    ndarray of float64
        Heel-strike times in seconds on the session clock.

    Notes
    -----
    GRF: a stance is a run of at least ``min_stance_ms`` above 20 % of the
    typical stance force; its strike is the last sample below ``threshold`` in
    the 150 ms before (or the force minimum there, for plates whose swing-phase
    force never drops below the threshold, as in ``ceinms-gait/walk36`` at 33 s). Kinematics: the maximum forward position of
    the ankle relative to the hip (a two-segment leg from hip and knee angles);
    on the real ``ceinms-gait`` walking trials it falls 2-3 samples (20-30 ms,
    ~2 % of the cycle) before the GRF heel strike.
    """
    if side not in ("r", "l"):
        raise ConfigError(f"side must be 'r' or 'l', got {side!r}")
    if method not in ("auto", "grf", "kinematics"):
        raise ConfigError(f"method must be 'auto', 'grf' or 'kinematics', got {method!r}")
    recs = list(rec_or_trial.streams.values()) if isinstance(rec_or_trial, Trial) else [rec_or_trial]
    for r in recs:
        if not isinstance(r, Recording):
            raise DataError(f"detect_heel_strikes expects a Recording or Trial, got {type(r).__name__}")
    if method in ("auto", "grf"):
        for r in recs:
            ch = force_channel if force_channel in r.ch_names else (
                None if force_channel is not None else _find_force_channel(r, side))
            if ch is not None:
                idx = _from_grf(r, ch, threshold, min_interval_s, min_stance_ms)
                logger.debug("%s: %d heel strike(s) from GRF channel %s", r.source, idx.size, ch)
                return r.t0 + idx / r.fs
        if method == "grf":
            names = [c for r in recs for c in r.ch_names]
            raise DataError(f"no vertical ground-reaction-force channel for side {side!r} among {names}")
    for r in recs:
        hip = hip_channel if hip_channel in r.ch_names else (
            None if hip_channel is not None else _find_angle(r, "hip_flexion", side))
        knee = knee_channel if knee_channel in r.ch_names else (
            None if knee_channel is not None else _find_angle(r, "knee", side))
        if hip is not None and knee is not None:
            idx = _from_kinematics(r, hip, knee, min_interval_s, prominence, knee_flexion_negative)
            logger.debug("%s: %d heel strike(s) from kinematics (%s, %s)", r.source, idx.size, hip, knee)
            return r.t0 + idx / r.fs
    names = [c for r in recs for c in r.ch_names]
    raise DataError(
        f"cannot find heel strikes for side {side!r}: no vertical GRF channel and no hip flexion + knee "
        f"angle channels among {names}; name them with force_channel= or hip_channel=/knee_channel="
    )


def segment_cycles(
    rec: Recording,
    heel_strikes: Any,
    n_points: int = 101,
    max_duration_ratio: float | None = 1.5,
    y: Any = None,
) -> Epochs:
    """Cut a recording into gait cycles (heel strike to next heel strike), each resampled to 0-100 %.

    Parameters
    ----------
    rec : Recording
        Any stream of the trial (EMG envelopes, angles, moments).
    heel_strikes : array of float
        Heel-strike times in seconds on the session clock (from :func:`detect_heel_strikes`).
    n_points : int
        Points per cycle (101 = every 1 % from 0 to 100 % inclusive).
    max_duration_ratio : float or None
        Cycles longer than ``ratio`` × or shorter than 1/``ratio`` × the median
        cycle are dropped (a missed or spurious strike); None keeps all.
    y : scalar, optional
        Target given to every cycle.

    Returns
    -------
    Epochs
        Shape (n_cycles, n_channels, n_points), linear interpolation. ``fs`` is
        ``(n_points - 1) / 100`` so that ``epochs.times`` is in percent of the
        cycle. Metadata: the recording's metadata plus ``cycle``, ``start_s``,
        ``stop_s``, ``duration_s``.
    """
    if not isinstance(rec, Recording):
        raise DataError(f"segment_cycles expects a Recording, got {type(rec).__name__}")
    if int(n_points) < 2:
        raise ConfigError(f"n_points must be >= 2, got {n_points}")
    hs = np.sort(np.asarray(heel_strikes, dtype=np.float64).ravel())
    if hs.size < 2:
        raise DataError(f"need at least 2 heel strikes to form a cycle, got {hs.size}", rec.source)
    start, stop = hs[:-1], hs[1:]
    dur = stop - start
    t_first, t_last = rec.t0, rec.t0 + (rec.n_samples - 1) / rec.fs
    ok = (start >= t_first - 1e-9) & (stop <= t_last + 1e-9) & (dur > 0)
    if max_duration_ratio is not None and ok.any():
        med = np.median(dur[ok])
        ratio = float(max_duration_ratio)
        odd = (dur > ratio * med) | (dur < med / ratio)
        if (odd & ok).any():
            logger.info("%s: %d cycle(s) of unusual duration dropped", rec.source, int((odd & ok).sum()))
        ok &= ~odd
    if not ok.any():
        raise DataError("no complete gait cycle inside the recording", rec.source)
    frac = np.linspace(0.0, 1.0, int(n_points))
    t = start[ok, None] + dur[ok, None] * frac[None, :]
    pos = np.clip((t - rec.t0) * rec.fs, 0, rec.n_samples - 1)
    i0 = np.minimum(np.floor(pos).astype(np.int64), rec.n_samples - 2) if rec.n_samples > 1 else np.zeros_like(pos, dtype=np.int64)
    w = (pos - i0).astype(np.float32)
    i1 = np.minimum(i0 + 1, rec.n_samples - 1)
    data = rec.data
    X = data[:, i0] * (1.0 - w) + data[:, i1] * w  # (channels, cycles, points)
    X = np.ascontiguousarray(np.moveaxis(X, 0, 1))
    n = X.shape[0]
    md = metadata_frame(rec, n, cycle=np.flatnonzero(ok), start_s=start[ok], stop_s=stop[ok], duration_s=dur[ok])
    yy = None if y is None else np.repeat(np.asarray([y]), n)
    return Epochs(X=X, fs=(int(n_points) - 1) / 100.0, ch_names=rec.ch_names, metadata=md, y=yy, tmin=0.0,
                  meta={"source": rec.source, "epoching": "gait_cycles", "time_unit": "percent_cycle"})


def ensemble_average(epochs: Epochs | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Point-by-point mean and standard deviation over cycles.

    Parameters
    ----------
    epochs : Epochs or array, shape (n_cycles, n_channels, n_points)

    Returns
    -------
    mean, sd : ndarray, shape (n_channels, n_points)
        ``sd`` uses ddof=1 (0 for a single cycle).
    """
    X = epochs.X if isinstance(epochs, Epochs) else np.asarray(epochs, dtype=float)
    if X.ndim != 3 or X.shape[0] == 0:
        raise DataError(f"ensemble_average expects (n_cycles, n_channels, n_points) with >= 1 cycle, got {X.shape}")
    mean = X.mean(axis=0, dtype=np.float64)
    sd = X.std(axis=0, ddof=1 if X.shape[0] > 1 else 0, dtype=np.float64)
    return mean, sd
