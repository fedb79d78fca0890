"""Motor-unit pools (Fuglevand et al. 1993) and their placement in a muscle.

Recruitment and rate coding follow Fuglevand, Winter & Patla 1993 (J Neurophysiol
70:2470) [S], spec §1.2:

* recruitment threshold excitation ``RTE_i = e^(a i)``, ``a = ln RR / n`` (i = 1..n);
* firing rate ``FR_i = g_e (E − RTE_i) + MFR`` above threshold, capped at
  ``PFR_i = PFR_1 − PFRD · RTE_i / RTE_n``; maximal excitation
  ``E_max = RTE_n + (PFR_n − MFR)/g_e``;
* inter-spike intervals with coefficient of variation ``cv`` (Gaussian, ISI ~
  N(1/FR, cv/FR)) — implemented by time rescaling: phase increments N(1, cv) of the
  integrated rate, which reduces to Fuglevand's rule for slowly varying drive;
* twitches ``f(t) = P t/T e^(1 − t/T)``, ``P_i = e^(b i)``, ``b = ln RP/n``,
  ``T_i = T_L · P_i^(−1/c)``, ``c = ln RP / ln RT``; force gain saturates for
  ``T/ISI > 0.4`` as in Fuglevand 1993.

Defaults [S]: n 120, RR 30, g_e 1, MFR 8 Hz, PFR₁ 35 Hz, PFRD 10 Hz, cv 0.2, RP 100,
T_L 90 ms, RT 3. NeuroMotion uses rr 50, rm 0.75, pfr1 40, pfrd 10, mfr 10 [S] —
``recruit_max`` reproduces such "last unit recruited at x % of max" settings by
deriving ``g_e``. Additions [A]: fibres per unit ∝ P_i; conduction velocity rising
with threshold rank across ``cv_range``; common drive noise low-passed at 5 Hz with
SD 3 % of the excitation (spec: 2–5 %).

Muscle table (spec §3, :data:`MUSCLES`): simulated unit counts, fibre lengths (Ward et
al. 2009 [R]), CV ranges and peak rates [A]; thickness and width of the muscle
cross-section are typical ultrasound values [A].
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import signal

from ..errors import ConfigError, DataError
from .volume_conductor import FIBRE_DIAMETER_M, MotorUnitGeometry

__all__ = ["MotorUnitPool", "MuscleParams", "MUSCLES", "muscle_params", "place_motor_units",
           "fibres_per_cm2", "muscle_fibre_count", "EFFECTIVE_FIBRE_DENSITY_PER_MM2", "TYPE_I_FRACTION",
           "cv_range_for_fibre_types"]

log = logging.getLogger(__name__)


def fibres_per_cm2(fibre_diameter_m: float = FIBRE_DIAMETER_M, packing: float = 0.85) -> float:
    """Number of fibres per cm² of physiological cross-section (fibre area, 85 % packing [A])."""
    area_mm2 = math.pi * (fibre_diameter_m * 1e3) ** 2 / 4.0
    return 100.0 * packing / area_mm2


#: Fibres per mm² of the modelled (planar, parallel-fibred) cross-section. Calibrated [A]
#: so that simulated amplitudes fall in the published ranges — biceps Mmax ≈13 mV p-p
#: (Calder et al. 2005 [S]), RF 3–10 mV, voluntary RMS 0.2–1.5 mV at MVC with a 20 mm
#: bipolar pair (spec §7.4). It is ≈40 % of the anatomical packing (≈350/mm² for 55 µm
#: fibres) because the planar model places every fibre parallel to the skin along its full
#: length, whereas real pennate and curved muscles present fewer, obliquer fibres.
EFFECTIVE_FIBRE_DENSITY_PER_MM2 = 150.0


@dataclass(frozen=True)
class MuscleParams:
    """Parameters of one muscle (spec §3 table; sources in the module docstring).

    Attributes
    ----------
    name : short code (BB, TA, RF, VL, BF, ST, GM, SOL, GL).
    n_units : simulated motor units (anatomical counts in ``n_units_anatomical``).
    fibre_length_mm : mean fibre length (Ward et al. 2009 [R]; BB 11–15 cm [A]).
    thickness_mm, width_mm : cross-section of the fibre region under the fat [A].
    cv_range : conduction velocities of the first/last recruited units, m/s [A].
    pfr1, pfrd, mfr : Fuglevand rate parameters, Hz.
    rr : recruitment range (RTE_n / RTE_1).
    recruit_max : fraction of maximal excitation recruiting the last unit (None: Fuglevand g_e = 1).
    iz_fraction : fraction of the fibre length proximal (−x) of the innervation zone [A].
    rp : range of twitch forces and hence of fibres per unit, largest / smallest (Fuglevand
        1993: 100 [S]); fibres per unit ∝ P_i, so a larger ``rp`` concentrates the fibres in
        fewer, larger late-recruited units.
    fibre_density_scale : factor on :data:`EFFECTIVE_FIBRE_DENSITY_PER_MM2` for this muscle (see VL).
    """

    name: str
    n_units: int
    n_units_anatomical: int
    fibre_length_mm: float
    thickness_mm: float
    width_mm: float
    cv_range: tuple[float, float] = (3.5, 5.0)
    pfr1: float = 35.0
    pfrd: float = 10.0
    mfr: float = 8.0
    rr: float = 30.0
    recruit_max: float | None = None
    iz_fraction: float = 0.5
    rp: float = 100.0
    fibre_density_scale: float = 1.0


MUSCLES: dict[str, MuscleParams] = {
    # Christensen 1959 (BB ≈770 MUs) [R]; recruitment up to ≈85 % MVC, PFR 30–45 Hz [A]
    "BB": MuscleParams("BB", 300, 770, 130.0, 25.0, 40.0, (4.0, 5.0), 42.0, 12.0, 8.0, 30.0, 0.85),
    # Feinstein 1955 (TA ≈445 MUs, ≈657 fibres/MU) [R]; fibre 6.8 cm; ≈90 % MVC, 35–45 Hz [A]
    "TA": MuscleParams("TA", 250, 445, 68.0, 25.0, 30.0, (3.5, 4.5), 42.0, 8.0, 8.0, 30.0, 0.90),
    "RF": MuscleParams("RF", 250, 250, 76.0, 22.0, 40.0),
    # VL: the modelled 23 × 60 mm cross-section holds 31 % of its PCSA (35.1 cm², Ward et al. 2009) where TA, RF
    # and BF hold 51-54 % of theirs; its fibre density is scaled ×1.7 so that VL carries the same share of its
    # anatomy as its neighbours (chosen a priori from the table, not on recordings). Still below anatomy:
    # 276k fibres against ≈ 400-650k counted in whole VL (Lexell et al. 1988, J Neurol Sci 84:275 [R]).
    "VL": MuscleParams("VL", 300, 300, 99.0, 23.0, 60.0, fibre_density_scale=1.7),
    "BF": MuscleParams("BF", 250, 250, 98.0, 22.0, 35.0),
    "ST": MuscleParams("ST", 200, 200, 193.0, 20.0, 30.0),
    # Feinstein 1955 (GM ≈580 MUs, ≈1934 fibres/MU) [R]
    "GM": MuscleParams("GM", 300, 580, 51.0, 18.0, 50.0),
    # Soleus: slow units, PFR 15–25 Hz [A]
    "SOL": MuscleParams("SOL", 300, 300, 44.0, 15.0, 60.0, (3.2, 4.5), 25.0, 10.0, 6.0),
    # Lateral gastrocnemius: fibre 5.9 cm (Ward et al. 2009 [R]); a thinner, narrower head than
    # the medial one (thickness ≈15 mm, ultrasound [A]); unit count by analogy with GM [A]
    "GL": MuscleParams("GL", 250, 250, 58.8, 15.0, 35.0),
}

#: Fraction of type I fibres near the surface (Johnson, Polgar, Weightman & Appleton 1973,
#: J Neurol Sci 18:111 [R]: VL 38 %, TA 73 %, lateral gastrocnemius 44 %, medial 51 %, soleus 88 %;
#: biceps femoris long head ≈ 60 % [R, between Johnson's 67 % and Garrett et al. 1984's ≈ 50 %]).
TYPE_I_FRACTION: dict[str, float] = {"VL": 0.38, "BF": 0.60, "TA": 0.73, "GL": 0.44, "GM": 0.51, "SOL": 0.88}
#: Conduction velocity of the slowest (type I) and fastest (type II) units, m/s [A]: surface
#: fibre CV ≈ 3–4 m/s for type I and 4.5–6 m/s for type II (review Farina & Merletti 2016,
#: J Electromyogr Kinesiol; Methenitis et al. 2016 relate VL CV to the type II share).
CV_TYPE_I_M_S, CV_TYPE_II_M_S = 3.5, 5.5


def cv_range_for_fibre_types(type_i_fraction: float) -> tuple[float, float]:
    """(first, last) recruited-unit CV of a pool whose fibres are ``type_i_fraction`` type I.

    Units recruited first are type I; the share of type II units sets how far the
    CV rises across the pool: last = CV_I + (CV_II − CV_I) · (1 − f_I) [A] (a 38 % type I
    VL reaches 4.7 m/s, a 73 % type I TA 4.0 m/s).
    """
    f = float(type_i_fraction)
    if not 0.0 <= f <= 1.0:
        raise ConfigError(f"type I fraction must lie in [0, 1], got {type_i_fraction}")
    hi = CV_TYPE_I_M_S + (CV_TYPE_II_M_S - CV_TYPE_I_M_S) * (1.0 - f)
    return CV_TYPE_I_M_S, float(hi)


def muscle_fibre_count(muscle: str | "MuscleParams", csa_scale: float = 1.0,
                       density_per_mm2: float = EFFECTIVE_FIBRE_DENSITY_PER_MM2) -> float:
    """Fibres of a muscle: elliptic cross-section ``thickness × width`` (scaled by
    ``csa_scale``) × the effective fibre density."""
    mp = muscle if isinstance(muscle, MuscleParams) else muscle_params(muscle)
    return float(np.pi / 4.0 * mp.thickness_mm * mp.width_mm * max(csa_scale, 0.0) * density_per_mm2
                 * mp.fibre_density_scale)


def muscle_params(name: str) -> MuscleParams:
    """Look up :data:`MUSCLES` by code (case-insensitive), with a clear error."""
    key = str(name).upper()
    if key not in MUSCLES:
        raise ConfigError(f"unknown muscle {name!r}; known muscles are {sorted(MUSCLES)}")
    return MUSCLES[key]


@dataclass(frozen=True, eq=False)
class MotorUnitPool:
    """A pool of motor units ordered by recruitment threshold (arrays of shape (n_units,)).

    Build with :meth:`create`. Excitation is given as a fraction (0–1) of the maximal
    excitation ``E_max``; ``thresholds`` are in the same units.

    Attributes
    ----------
    thresholds : recruitment thresholds, fraction of maximal excitation.
    rte : Fuglevand's threshold excitations (1 … RR).
    peak_rates : PFR_i, Hz.  min_rate : MFR, Hz.  gain : g_e, Hz per excitation unit.
    e_max : maximal excitation (Fuglevand units).
    twitch_amp : P_i (arbitrary force units, smallest = 1).
    twitch_time : T_i, s.
    n_fibres : fibres per unit.  cv : conduction velocity, m/s.  isi_cv : ISI variability.
    """

    thresholds: np.ndarray
    rte: np.ndarray
    peak_rates: np.ndarray
    min_rate: float
    gain: float
    e_max: float
    twitch_amp: np.ndarray
    twitch_time: np.ndarray
    n_fibres: np.ndarray
    cv: np.ndarray
    isi_cv: float = 0.2

    @property
    def n_units(self) -> int:
        return self.rte.shape[0]

    @classmethod
    def create(
        cls,
        n_units: int,
        rng: np.random.Generator,
        rr: float = 30.0,
        *,
        ge: float = 1.0,
        mfr: float = 8.0,
        pfr1: float = 35.0,
        pfrd: float = 10.0,
        isi_cv: float = 0.2,
        rp: float = 100.0,
        rt: float = 3.0,
        tl_ms: float = 90.0,
        cv_range: tuple[float, float] = (3.5, 5.0),
        cv_jitter: float = 0.1,
        fibres_total: float | None = None,
        recruit_max: float | None = None,
    ) -> "MotorUnitPool":
        """Fuglevand pool with ``n_units`` units.

        Parameters
        ----------
        n_units : int
        rng : numpy.random.Generator (used for the CV jitter only).
        rr, ge, mfr, pfr1, pfrd, isi_cv, rp, rt, tl_ms : Fuglevand 1993 parameters
            (recruitment range, excitatory gain, min/peak rates in Hz, ISI CV, twitch
            force range, twitch time range, longest twitch time in ms).
        cv_range : (first, last) conduction velocity, m/s; ``cv_jitter`` SD added, m/s.
        fibres_total : total number of fibres shared ∝ P_i (default 400 per unit [A]).
        recruit_max : if given, ``g_e`` is chosen so that the last unit is recruited at
            this fraction of maximal excitation (e.g. 0.85 for biceps).
        """
        n = int(n_units)
        if n < 1:
            raise ConfigError(f"a motor-unit pool needs >= 1 unit, got {n_units}")
        if rr <= 1 or rp <= 1 or rt <= 1:
            raise ConfigError(f"rr, rp and rt must be > 1, got rr={rr}, rp={rp}, rt={rt}")
        if not (0 < mfr < pfr1) or pfrd < 0 or pfr1 - pfrd <= mfr:
            raise ConfigError(f"rates must satisfy 0 < mfr < pfr1 - pfrd; got mfr={mfr}, pfr1={pfr1}, pfrd={pfrd}")
        if not (0 <= isi_cv < 0.6):
            raise ConfigError(f"isi_cv must be in [0, 0.6), got {isi_cv}")
        i = np.arange(1, n + 1, dtype=float)
        rte = np.exp(np.log(rr) / n * i) if n > 1 else np.array([1.0])
        pfr = pfr1 - pfrd * rte / rte[-1]
        if recruit_max is not None:
            if not (0 < recruit_max < 1):
                raise ConfigError(f"recruit_max must be in (0, 1), got {recruit_max}")
            ge = (pfr[-1] - mfr) / (rte[-1] * (1.0 / recruit_max - 1.0))
        if ge <= 0:
            raise ConfigError(f"ge must be > 0, got {ge}")
        e_max = rte[-1] + (pfr[-1] - mfr) / ge
        p = np.exp(np.log(rp) / n * i)
        c = np.log(rp) / np.log(rt)
        t_tw = tl_ms * 1e-3 * p ** (-1.0 / c)
        total = float(fibres_total) if fibres_total is not None else 400.0 * n
        nf = np.maximum(np.round(total * p / p.sum()), 1.0)
        lo, hi = cv_range
        rank = (i - 1) / max(n - 1, 1)
        cv = lo + (hi - lo) * rank + cv_jitter * rng.standard_normal(n)
        cv = np.clip(cv, min(lo, hi) - 3 * cv_jitter, max(lo, hi) + 3 * cv_jitter)
        return cls(
            thresholds=rte / e_max, rte=rte, peak_rates=pfr, min_rate=float(mfr), gain=float(ge),
            e_max=float(e_max), twitch_amp=p, twitch_time=t_tw, n_fibres=nf, cv=cv, isi_cv=float(isi_cv),
        )

    @classmethod
    def for_muscle(
        cls, muscle: str | MuscleParams, rng: np.random.Generator, *, n_units: int | None = None,
        mu_count_scale: float = 1.0, fibres_total: float | None = None, **overrides,
    ) -> "MotorUnitPool":
        """Pool with a muscle's parameters from :data:`MUSCLES` (``overrides`` win)."""
        mp = muscle if isinstance(muscle, MuscleParams) else muscle_params(muscle)
        n = int(round((n_units or mp.n_units) * float(mu_count_scale)))
        kw = dict(rr=mp.rr, mfr=mp.mfr, pfr1=mp.pfr1, pfrd=mp.pfrd, cv_range=mp.cv_range,
                  recruit_max=mp.recruit_max, fibres_total=fibres_total, rp=mp.rp)
        kw.update(overrides)
        return cls.create(max(n, 1), rng, **kw)

    # ---------------------------------------------------------------- rate coding
    def firing_rates(self, excitation: np.ndarray) -> np.ndarray:
        """Steady-state rates (n_units, n) in Hz for excitation values (fraction of max)."""
        e = np.asarray(excitation, dtype=float)[None, :] * self.e_max
        fr = np.minimum(self.gain * (e - self.rte[:, None]) + self.min_rate, self.peak_rates[:, None])
        return np.where(e >= self.rte[:, None], fr, 0.0)

    def recruited(self, excitation: float) -> np.ndarray:
        """Boolean mask of units recruited at a constant excitation."""
        return self.thresholds <= float(excitation)

    def spike_trains(
        self,
        excitation: np.ndarray,
        fs: float,
        rng: np.random.Generator,
        *,
        common_noise_sd: float = 0.03,
        common_noise_hz: float = 5.0,
        return_times: bool = False,
    ) -> list[np.ndarray]:
        """Discharge times of every unit for an excitation time course.

        Parameters
        ----------
        excitation : array (n_samples,)
            Excitation in 0–1 (fraction of maximal), sampled at ``fs``.
        fs : float, Hz
        rng : numpy.random.Generator
        common_noise_sd : SD of the common drive noise, fraction of the excitation
            (multiplicative, so there is no noise at rest; spec §1.2: 2–5 %).
        common_noise_hz : its bandwidth (low-pass), Hz (spec: 0–5 Hz).
        return_times : return spike times in s (float) instead of sample indices.

        Returns
        -------
        list of n_units arrays of sorted spike sample indices (int64) in
        ``[0, n_samples)``, or times in s.
        """
        e = np.asarray(excitation, dtype=float)
        if e.ndim != 1 or e.size < 2:
            raise DataError(f"excitation must be a 1-D time course, got shape {e.shape}")
        if not np.isfinite(e).all():
            raise DataError("excitation contains NaN/inf")
        if e.min() < -1e-9 or e.max() > 1.5:
            raise DataError(f"excitation must lie in [0, 1] (fraction of maximal), got [{e.min():.3g}, {e.max():.3g}]")
        fs = float(fs)
        n = e.size
        # Control grid ≤ 1 kHz: the drive is slow, spike times are interpolated continuously.
        step = max(1, int(fs // 1000))
        fc = fs / step
        ec = np.clip(e[::step], 0.0, None)
        if common_noise_sd > 0:
            w = rng.standard_normal(ec.size)
            if ec.size > 12:
                sos = signal.butter(2, min(common_noise_hz, 0.45 * fc), fs=fc, output="sos")
                w = signal.sosfiltfilt(sos, w)
                w /= max(np.std(w), 1e-12)
            ec = ec * np.clip(1.0 + common_noise_sd * w, 0.0, None)
        tc = np.arange(ec.size) / fc
        big_e = ec * self.e_max
        out: list[np.ndarray] = []
        for u in range(self.n_units):
            times = self._unit_times(big_e, tc, fc, u, rng)
            if return_times:
                out.append(times)
            else:
                idx = np.unique(np.rint(times * fs).astype(np.int64))
                out.append(idx[(idx >= 0) & (idx < n)])
        return out

    def _unit_times(self, big_e: np.ndarray, tc: np.ndarray, fc: float, u: int,
                    rng: np.random.Generator) -> np.ndarray:
        thr = self.rte[u]
        active = big_e >= thr
        if not active.any():
            return np.empty(0)
        rate = np.where(active, np.minimum(self.gain * (big_e - thr) + self.min_rate, self.peak_rates[u]), 0.0)
        # Cumulative phase (number of expected discharges), trapezoid rule.
        phase = np.concatenate([[0.0], np.cumsum(0.5 * (rate[1:] + rate[:-1]) / fc)])
        d = np.diff(active.astype(np.int8))
        starts = np.flatnonzero(d == 1) + 1
        if active[0]:
            starts = np.concatenate([[0], starts])
        ends = np.flatnonzero(d == -1) + 1
        if active[-1]:
            ends = np.concatenate([ends, [active.size]])
        times: list[np.ndarray] = []
        last_t = -np.inf
        carry = None  # phase target carried over a short silence
        min_gap = 1.0 / self.min_rate
        for a, b in zip(starts, ends):
            # Sub-sample recruitment time: linear crossing of the threshold.
            if a > 0 and big_e[a] != big_e[a - 1]:
                t_on = tc[a - 1] + (thr - big_e[a - 1]) / (big_e[a] - big_e[a - 1]) / fc
            else:
                t_on = tc[a]
            ph_a, ph_b = phase[a], phase[min(b, phase.size - 1)]
            seg_t, seg_ph = tc[a:b + 1] if b < tc.size else tc[a:], phase[a:b + 1] if b < tc.size else phase[a:]
            if carry is not None and t_on - last_t < min_gap:
                target = ph_a + carry  # keep the rhythm after a brief dip below threshold
                first: list[float] = []
            else:
                target = ph_a + max(1.0 + self.isi_cv * rng.standard_normal(), 0.2)
                first = [t_on]
            n_exp = int((ph_b - ph_a) * 1.3) + 8
            inc = np.maximum(1.0 + self.isi_cv * rng.standard_normal(n_exp), 0.2)
            targets = target + np.concatenate([[0.0], np.cumsum(inc[:-1])])
            while targets[-1] < ph_b:  # rare: draw more
                more = np.maximum(1.0 + self.isi_cv * rng.standard_normal(n_exp), 0.2)
                targets = np.concatenate([targets, targets[-1] + np.cumsum(more)])
            keep = targets[targets < ph_b]
            carry = float(targets[keep.size] - ph_b) if keep.size < targets.size else None
            if keep.size and seg_ph.size > 1:
                ts = np.interp(keep, seg_ph, seg_t)
            else:
                ts = np.empty(0)
            seg = np.concatenate([np.asarray(first), ts])
            if seg.size:
                last_t = seg[-1]
                times.append(seg)
        return np.concatenate(times) if times else np.empty(0)

    # -------------------------------------------------------------------- force
    def force(self, spikes: Sequence[np.ndarray], fs: float, n_samples: int) -> np.ndarray:
        """Twitch-summed force (arbitrary units; smallest twitch amplitude = 1).

        ``spikes`` are sample indices at ``fs`` (as from :meth:`spike_trains`). Gain
        saturation for short intervals follows Fuglevand et al. 1993.
        """
        fs = float(fs)
        out = np.zeros(n_samples + 1)
        for u, idx in enumerate(spikes):
            idx = np.asarray(idx, dtype=np.int64)
            if idx.size == 0:
                continue
            t_tw = self.twitch_time[u]
            isi = np.diff(idx) / fs
            r = t_tw / np.concatenate([[np.inf], isi])
            g = np.where(r <= 0.4, 1.0, (1.0 - np.exp(-2.0 * r ** 3)) / np.maximum(r, 1e-9)
                         / ((1.0 - np.exp(-2.0 * 0.4 ** 3)) / 0.4))
            tt = np.arange(int(5 * t_tw * fs) + 1) / fs
            tw = self.twitch_amp[u] * tt / t_tw * np.exp(1.0 - tt / t_tw)
            train = np.zeros(n_samples + 1)
            np.add.at(train, np.clip(idx, 0, n_samples), g)
            out += signal.oaconvolve(train, tw)[: n_samples + 1]
        return out[:n_samples]


def place_motor_units(
    pool: MotorUnitPool,
    muscle: str | MuscleParams,
    rng: np.random.Generator,
    *,
    csa_scale: float = 1.0,
    cv_offset_m_s: float = 0.0,
    iz_mm: float = 0.0,
    iz_band_sd_mm: float = 5.0,
    y_offset_mm: float = 0.0,
    fibre_length_scale: float = 1.0,
) -> MotorUnitGeometry:
    """Scatter a pool's territories over a muscle cross-section.

    Territory centres are uniform over an elliptic cross-section ``thickness × width``
    (scaled by √csa_scale) under the fat; ``iz_mm`` is the innervation-zone band's
    position along the fibres in the electrode frame, each unit's IZ scattered by
    ``iz_band_sd_mm`` (IZ band ±5–10 mm, spec §2 [A]); ``y_offset_mm`` shifts the muscle
    across the fibres relative to the electrodes. Fibre length is scaled by
    ``fibre_length_scale`` (e.g. body height) with 5 % per-unit variation [A].

    Returns
    -------
    MotorUnitGeometry
    """
    mp = muscle if isinstance(muscle, MuscleParams) else muscle_params(muscle)
    n = pool.n_units
    s = math.sqrt(max(csa_scale, 1e-3))
    thick, width = mp.thickness_mm * s, mp.width_mm * s
    # Uniform in an ellipse: radius ∝ √U.
    r = np.sqrt(rng.random(n))
    th = rng.uniform(0, 2 * np.pi, n)
    depth = thick / 2 + r * np.sin(th) * thick / 2
    y = y_offset_mm + r * np.cos(th) * width / 2
    length = mp.fibre_length_mm * fibre_length_scale * np.clip(rng.normal(1.0, 0.05, n), 0.8, 1.2)
    izf = np.clip(rng.normal(mp.iz_fraction, 0.03, n), 0.2, 0.8)
    izpos = iz_mm + iz_band_sd_mm * rng.standard_normal(n)
    cv = np.clip(pool.cv + cv_offset_m_s, 2.0, 7.0)
    return MotorUnitGeometry(
        depth_mm=np.maximum(depth, 0.0), y_mm=y, iz_mm=izpos, fibre_length_mm=length, iz_fraction=izf,
        cv_m_s=cv, n_fibres=pool.n_fibres,
    )
