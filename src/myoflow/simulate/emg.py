"""Interference EMG: spike trains ⊛ MUAPs, and a one-call voluntary-contraction simulator.

Pipeline (spec §0): subject → muscle/tissue → Fuglevand pool → spikes → fast MUAPs →
Σ conv(spikes, MUAP) at a high rate (default 4096 Hz) → anti-aliased decimation to the
output rate → noise → front end → :class:`~myoflow.containers.Recording`.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Sequence

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import as_strided
from scipy import signal

from ..containers import Recording
from ..errors import ConfigError, DataError
from .motor_units import MotorUnitPool, MuscleParams, muscle_fibre_count, muscle_params, place_motor_units
from .noise import add_noise, front_end as _front_end
from .subjects import SubjectParams, pcsa_reference
from .volume_conductor import ElectrodeArray, MotorUnitGeometry, Tissue, fast_muaps

__all__ = [
    "synthesize_emg",
    "simulate_voluntary",
    "MuscleModel",
    "VoluntaryTruth",
    "resample",
    "estimate_conduction_velocity",
    "median_frequency",
]

log = logging.getLogger(__name__)


def synthesize_emg(spike_trains: Sequence[np.ndarray], muaps: np.ndarray, n_samples: int) -> np.ndarray:
    """Sum of every unit's spike train convolved with its MUAP.

    Parameters
    ----------
    spike_trains : sequence of n_units integer arrays
        Discharge sample indices (in ``[0, n_samples)``) of each unit.
    muaps : array (n_units, n_channels, L)
        MUAPs at the same sampling rate; sample 0 is aligned with the discharge.
    n_samples : int

    Returns
    -------
    emg : array (n_channels, n_samples), float64, same units as ``muaps``.

    Notes
    -----
    Each MUAP is added into a strided window view of the output at the unit's spike
    times; spikes of one unit are split into groups whose windows cannot overlap, so
    the vectorised in-place addition is exact. Cost ∝ spikes × channels × L.
    """
    m = np.asarray(muaps, dtype=float)
    if m.ndim != 3:
        raise DataError(f"muaps must be (n_units, n_channels, n_times), got shape {m.shape}")
    n_u, n_c, L = m.shape
    if len(spike_trains) != n_u:
        raise DataError(f"{len(spike_trains)} spike train(s) for {n_u} MUAP(s); they must match")
    n_samples = int(n_samples)
    if n_samples < 1:
        raise DataError(f"n_samples must be >= 1, got {n_samples}")
    out = np.zeros((n_samples + L, n_c))
    win = as_strided(out, shape=(n_samples, L, n_c), strides=(out.strides[0], out.strides[0], out.strides[1]),
                     writeable=True)
    for u, idx in enumerate(spike_trains):
        idx = np.asarray(idx)
        if idx.size == 0:
            continue
        if not np.issubdtype(idx.dtype, np.integer):
            raise DataError(f"spike train {u} must hold integer sample indices, got dtype {idx.dtype}")
        if idx.min() < 0 or idx.max() >= n_samples:
            raise DataError(f"spike train {u} has indices outside [0, {n_samples - 1}]")
        idx = np.unique(idx)
        g = 1
        while g < idx.size and np.min(idx[g:] - idx[:-g]) < L:
            g += 1
        mu = m[u].T
        for r in range(g):
            win[idx[r::g]] += mu
    return np.ascontiguousarray(out[:n_samples].T)


def resample(x: np.ndarray, fs_in: float, fs_out: float, axis: int = -1) -> np.ndarray:
    """Anti-aliased polyphase resampling (scipy ``resample_poly``) between rates."""
    if fs_in == fs_out:
        return np.asarray(x)
    frac = Fraction(float(fs_out) / float(fs_in)).limit_denominator(2000)
    if abs(frac.numerator / frac.denominator - fs_out / fs_in) > 1e-9 * fs_out / fs_in:
        raise ConfigError(f"cannot resample {fs_in} Hz → {fs_out} Hz with a small rational ratio")
    return signal.resample_poly(x, frac.numerator, frac.denominator, axis=axis)


@dataclass
class VoluntaryTruth:
    """Ground truth of :func:`simulate_voluntary` (kept out of ``meta`` because it is big).

    ``spike_times_s``: list of per-unit discharge times (s); ``excitation`` at the output
    rate; ``force`` (arbitrary units) at the output rate when requested; the pool,
    geometry, tissue and the MUAPs (n_units, n_channels, L) at ``fs_sim``.
    """

    spike_times_s: list[np.ndarray]
    excitation: np.ndarray
    pool: MotorUnitPool
    geometry: MotorUnitGeometry
    tissue: Tissue
    muaps: np.ndarray
    fs_sim: float
    force: np.ndarray | None = None
    noise_info: dict = field(default_factory=dict)


@dataclass
class MuscleModel:
    """One subject's muscle under one electrode array: pool, geometry, tissue and MUAPs.

    Build once with :meth:`build` and call :meth:`record` for each trial, so that the
    same motor units (and MUAPs) serve every contraction of a session.
    """

    subject: SubjectParams
    muscle: MuscleParams
    side: str | None
    electrodes: ElectrodeArray
    tissue: Tissue
    csa_cm2: float
    pool: MotorUnitPool
    geometry: MotorUnitGeometry
    muaps: np.ndarray
    fs_sim: float
    iz_mm: float = 0.0

    @classmethod
    def build(
        cls, subject: SubjectParams, muscle: str | MuscleParams, electrodes: ElectrodeArray, rng: np.random.Generator,
        *, side: str | None = None, n_units: int | None = None, iz_mm: float = 0.0, y_offset_mm: float = 0.0,
        fs_sim: float = 4096.0, muap_duration_ms: float | None = None, tissue: Tissue | None = None,
    ) -> "MuscleModel":
        """Pool (Fuglevand, age-scaled unit count), placement and fast MUAPs for a subject's muscle.

        Fibre count = modelled cross-section × :data:`EFFECTIVE_FIBRE_DENSITY_PER_MM2`
        (scaled by the subject's CSA); CV shifted by the subject's age/mass offset; fibre
        length scaled by height. ``iz_mm``/``y_offset_mm`` place the innervation-zone band
        and the muscle relative to the electrodes.
        """
        mp = muscle if isinstance(muscle, MuscleParams) else muscle_params(muscle)
        if tissue is None:
            tissue = Tissue(fat_mm=subject.fat_at(mp.name, side), skin_mm=subject.skin_mm)
        csa = subject.csa_at(mp.name, side)
        csa_scale = csa / pcsa_reference(mp.name)
        pool = MotorUnitPool.for_muscle(mp, rng, n_units=n_units, mu_count_scale=subject.mu_count_scale,
                                        fibres_total=muscle_fibre_count(mp, csa_scale))
        geom = place_motor_units(pool, mp, rng, csa_scale=csa_scale, cv_offset_m_s=subject.cv_offset_m_s,
                                 iz_mm=iz_mm, y_offset_mm=y_offset_mm, fibre_length_scale=subject.height_m / 1.75)
        muaps = fast_muaps(geom, tissue, electrodes, float(fs_sim), duration_ms=muap_duration_ms)
        return cls(subject, mp, side, electrodes, tissue, csa, pool, geom, muaps, float(fs_sim), float(iz_mm))

    def clean_emg(self, excitation: np.ndarray, rng: np.random.Generator, *, fs_excitation: float,
                  common_noise_sd: float = 0.03, lead_in_s: float = 0.0,
                  ) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
        """Noise-free EMG at ``fs_sim`` for an excitation (0–1) sampled at ``fs_excitation``.

        ``lead_in_s`` > 0 runs the pool that long at the first excitation value before t = 0 and cuts it:
        a drive that starts above threshold otherwise makes every recruited unit discharge at t = 0
        together (a synchronous volley, several times the plateau RMS), which a held contraction, reached
        by a ramp before the recording, does not have. The potentials of discharges in the lead-in that
        reach past t = 0 are kept.

        Returns ``(emg (n_channels, n_sim), spikes (sample indices at fs_sim), excitation at fs_sim)``.
        """
        exc = np.asarray(excitation, dtype=float)
        if exc.ndim != 1 or exc.size < 2:
            raise DataError(f"excitation must be a 1-D time course, got shape {exc.shape}")
        if not np.isfinite(lead_in_s) or lead_in_s < 0:
            raise ConfigError(f"lead_in_s must be >= 0, got {lead_in_s}")
        n_sim = int(round(exc.size / float(fs_excitation) * self.fs_sim))
        t_sim = np.arange(n_sim) / self.fs_sim
        exc_sim = np.interp(t_sim, np.arange(exc.size) / float(fs_excitation), exc)
        lead = int(round(float(lead_in_s) * self.fs_sim))
        if lead == 0:
            spikes = self.pool.spike_trains(exc_sim, self.fs_sim, rng, common_noise_sd=common_noise_sd)
            return synthesize_emg(spikes, self.muaps, n_sim), spikes, exc_sim
        full = self.pool.spike_trains(np.concatenate([np.full(lead, exc_sim[0]), exc_sim]), self.fs_sim, rng,
                                      common_noise_sd=common_noise_sd)
        emg = synthesize_emg(full, self.muaps, lead + n_sim)[:, lead:]
        spikes = [s[s >= lead] - lead for s in full]
        return np.ascontiguousarray(emg), spikes, exc_sim

    def record(
        self, excitation: np.ndarray, rng: np.random.Generator, *, fs: float = 1000.0,
        fs_excitation: float | None = None, session: str | None = None, noise: dict | bool | None = True,
        front_end: dict | bool | None = True, onsets_s: Sequence[tuple[float, float]] | None = None,
        with_force: bool = False, return_truth: bool = False,
        crosstalk: Sequence[tuple["MuscleModel", float]] = (), lead_in_s: float = 0.0,
    ) -> Recording | tuple[Recording, VoluntaryTruth]:
        """One recording of a contraction (see :func:`simulate_voluntary` for the parameters).

        ``lead_in_s``: see :meth:`clean_emg` (the recording of a hold that was reached before it starts).

        ``crosstalk``: (neighbouring muscle model under the same electrodes, drive ratio)
        pairs; each neighbour contracts with ``ratio × excitation`` and its EMG, seen
        through the same volume conductor, adds to this muscle's before the noise.
        """
        fs = float(fs)
        if self.fs_sim < fs:
            raise ConfigError(f"fs_sim ({self.fs_sim} Hz) must be >= the output rate fs ({fs} Hz)")
        fs_exc = float(fs_excitation or fs)
        exc = np.asarray(excitation, dtype=float)
        duration = exc.size / fs_exc
        clean, spikes, exc_sim = self.clean_emg(exc, rng, fs_excitation=fs_exc, lead_in_s=lead_in_s)
        n_sim = clean.shape[1]
        xt_ratio = 0.0
        if crosstalk:
            own_rms = float(np.sqrt(np.mean(clean ** 2)))
            extra = np.zeros_like(clean)
            for nb, ratio in crosstalk:
                if nb.fs_sim != self.fs_sim or nb.electrodes.n_channels != self.electrodes.n_channels:
                    raise ConfigError("a crosstalk muscle must share the electrodes and fs_sim of the recorded one")
                extra += nb.clean_emg(exc * float(ratio), rng, fs_excitation=fs_exc,
                                      lead_in_s=lead_in_s)[0][:, :n_sim]
            xt_ratio = float(np.sqrt(np.mean(extra ** 2)) / own_rms) if own_rms > 0 else float("inf")
            clean = clean + extra
        n_out = int(round(duration * fs))
        data = resample(clean, self.fs_sim, fs, axis=1)[:, :n_out]
        noise_info: dict = {}
        if noise:
            kw = noise if isinstance(noise, dict) else {}
            data, noise_info = add_noise(data, fs, rng, return_info=True, **kw)
        if front_end:
            kw = front_end if isinstance(front_end, dict) else {}
            data = _front_end(data, fs, **kw)
        events = None
        if onsets_s:
            rows = []
            for on, off in onsets_s:
                for t, kind in ((on, "onset"), (off, "offset")):
                    smp = int(round(t * fs))
                    if 0 <= smp < n_out:
                        rows.append({"sample": smp, "kind": kind})
            events = pd.DataFrame(rows, columns=["sample", "kind"])
        n_spk = np.array([len(x) for x in spikes])
        active = n_spk > 0
        truth: dict[str, Any] = {
            "fat_mm": self.tissue.fat_mm, "skin_mm": self.tissue.skin_mm, "csa_cm2": self.csa_cm2,
            "n_units": self.pool.n_units, "n_recruited": int(active.sum()),
            "mean_rate_hz": float(n_spk[active].mean() / duration) if active.any() else 0.0,
            "cv_mean_m_s": float(self.geometry.cv_m_s.mean()), "iz_mm": self.iz_mm, "fs_sim": self.fs_sim,
            "noise": noise_info,
            **({"crosstalk_rms_ratio": xt_ratio, "crosstalk_muscles": [nb.muscle.name for nb, _ in crosstalk]}
               if crosstalk else {}),
        }
        subject, mp, side = self.subject, self.muscle, self.side
        meta = {
            "subject": subject.subject, "session": session, "muscle": mp.name, "side": side,
            "covariates": subject.covariates(),
            "source": f"simulated voluntary {subject.subject}/{mp.name}" + (f"/{side}" if side else ""),
            "truth": truth,
        }
        el = self.electrodes
        rec = Recording(
            data=data, fs=fs, ch_names=el.channel_names(), units="V", layout=el.channel_positions(),
            grid_shape=el.channel_grid_shape if el.n_channels > 1 else None, events=events, meta=meta,
        )
        if not return_truth:
            return rec
        force = None
        if with_force:
            force = resample(self.pool.force(spikes, self.fs_sim, n_sim), self.fs_sim, fs)[:n_out]
        t_sim = np.arange(n_sim) / self.fs_sim
        vt = VoluntaryTruth(
            spike_times_s=[np.asarray(x) / self.fs_sim for x in spikes],
            excitation=np.interp(np.arange(n_out) / fs, t_sim, exc_sim), pool=self.pool, geometry=self.geometry,
            tissue=self.tissue, muaps=self.muaps, fs_sim=self.fs_sim, force=force, noise_info=noise_info,
        )
        return rec, vt


def simulate_voluntary(
    subject: SubjectParams,
    muscle: str,
    excitation: np.ndarray,
    electrodes: ElectrodeArray,
    rng: np.random.Generator,
    *,
    fs: float = 1000.0,
    fs_excitation: float | None = None,
    fs_sim: float = 4096.0,
    side: str | None = None,
    session: str | None = None,
    n_units: int | None = None,
    iz_mm: float = 0.0,
    y_offset_mm: float = 0.0,
    noise: dict | bool | None = True,
    front_end: dict | bool | None = True,
    onsets_s: Sequence[tuple[float, float]] | None = None,
    muap_duration_ms: float | None = None,
    with_force: bool = False,
    return_truth: bool = False,
    tissue: Tissue | None = None,
) -> Recording | tuple[Recording, VoluntaryTruth]:
    """Simulate a voluntary contraction of one muscle recorded by an electrode array.

    Equivalent to ``MuscleModel.build(...).record(...)``; build a :class:`MuscleModel`
    yourself to reuse the same motor units for several trials.

    Parameters
    ----------
    subject : SubjectParams
    muscle : muscle code in :data:`~myoflow.simulate.motor_units.MUSCLES`.
    excitation : array (n,), 0–1
        Neural drive as a fraction of maximal excitation (≈ fraction of MVC),
        sampled at ``fs_excitation`` (default ``fs``).
    electrodes : ElectrodeArray (positions, radius, montage).
    rng : numpy.random.Generator — the only source of randomness.
    fs : output sampling rate, Hz.   fs_sim : simulation rate, Hz (spec: ≥ 4096).
    side : ``"L"``/``"R"`` (selects side-specific fat and CSA).
    n_units : override the muscle's simulated unit count (before the age scaling).
    iz_mm : innervation-zone band position along the fibres relative to the electrodes.
    y_offset_mm : medio-lateral offset of the muscle relative to the electrodes.
    noise : ``True`` (defaults), ``False``/``None`` (clean) or kwargs for :func:`add_noise`.
    front_end : ``True`` (defaults), ``False``/``None`` or kwargs for :func:`front_end`.
    onsets_s : (onset, offset) times of activations, added as ``onset``/``offset`` events.
    muap_duration_ms : MUAP window (default: long enough for the slowest, longest unit).
    with_force : also compute the twitch force (slower).
    return_truth : also return a :class:`VoluntaryTruth`.
    tissue : override the subject's tissue.

    Returns
    -------
    Recording (volts; ``meta``: subject, session, muscle, side, covariates, truth) —
    and :class:`VoluntaryTruth` when ``return_truth``.
    """
    exc = np.asarray(excitation, dtype=float)
    if exc.ndim != 1 or exc.size < 2:
        raise DataError(f"excitation must be a 1-D time course, got shape {exc.shape}")
    if float(fs_sim) < float(fs):
        raise ConfigError(f"fs_sim ({fs_sim} Hz) must be >= the output rate fs ({fs} Hz)")
    model = MuscleModel.build(subject, muscle, electrodes, rng, side=side, n_units=n_units, iz_mm=iz_mm,
                              y_offset_mm=y_offset_mm, fs_sim=fs_sim, muap_duration_ms=muap_duration_ms,
                              tissue=tissue)
    return model.record(exc, rng, fs=fs, fs_excitation=fs_excitation, session=session, noise=noise,
                        front_end=front_end, onsets_s=onsets_s, with_force=with_force, return_truth=return_truth)


# ------------------------------------------------------------------ validation aids
def median_frequency(x: np.ndarray, fs: float, *, nperseg: int | None = None) -> np.ndarray:
    """Median frequency (Hz) per channel from Welch's PSD; ``x`` (n_channels, n) or (n,)."""
    x = np.atleast_2d(np.asarray(x, dtype=float))
    f, p = signal.welch(x, fs=fs, nperseg=nperseg or min(x.shape[1], int(fs)), axis=1)
    c = np.cumsum(p, axis=1)
    return np.array([f[np.searchsorted(ci, ci[-1] / 2)] for ci in c])


def estimate_conduction_velocity(
    signals: np.ndarray, ied_mm: float, fs: float, *, max_delay_ms: float = 5.0, upsample: int = 1,
) -> float:
    """Conduction velocity (m/s) from channels aligned along the fibres.

    Each pair of neighbouring channels gives a delay by cross-correlation refined to a
    sub-sample by parabolic interpolation of the peak (after optional FFT up-sampling);
    the velocity is ``ied / median(delay)``. ``signals`` (n_channels ≥ 2, n), ordered
    along the propagation direction.
    """
    x = np.asarray(signals, dtype=float)
    if x.ndim != 2 or x.shape[0] < 2:
        raise DataError(f"need >= 2 channels along the fibres, got shape {x.shape}")
    if upsample > 1:
        x = signal.resample(x, x.shape[1] * upsample, axis=1)
    fs_u = fs * upsample
    maxlag = max(2, int(max_delay_ms * 1e-3 * fs_u))
    delays = []
    for a, b in zip(x[:-1], x[1:]):
        c = signal.correlate(b, a, mode="full")
        lags = np.arange(-a.size + 1, a.size)
        sel = (lags >= 0) & (lags <= maxlag)
        cs, ls = c[sel], lags[sel]
        k = int(np.argmax(cs))
        if 0 < k < cs.size - 1:
            y0, y1, y2 = cs[k - 1], cs[k], cs[k + 1]
            den = y0 - 2 * y1 + y2
            frac = 0.5 * (y0 - y2) / den if den != 0 else 0.0
        else:
            frac = 0.0
        delays.append((ls[k] + frac) / fs_u)
    d = float(np.median(delays))
    if d <= 0:
        raise DataError("no positive delay between channels: no propagation along the given order")
    return ied_mm * 1e-3 / d
