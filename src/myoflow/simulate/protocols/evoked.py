"""Protocol ``evoked``: seed 000's cohort — M-waves of RF and BF under 5–25 Hz stimulation trains.

Default: 90 adults aged 20–59 (:func:`~myoflow.simulate.subjects.generate_subjects`,
population class mix, so ``low`` is rare), rectus femoris (RF) and biceps femoris
(BF), one train per stimulation frequency (5, 10, 15, 20, 25 Hz), recorded with a
SENIAM bipolar pair (20 mm inter-electrode distance, 10 mm electrodes) at 2 kHz.

Subjects (on top of :mod:`~myoflow.simulate.subjects`; see :func:`_thigh_csa`)
--------------------------------------------------------------------------
* Labels: ``mass_class`` from the recorded ASMI with 2 % measurement error
  (:data:`LABEL_NOISE`; DXA lean-mass precision 1–2 % [R]).
* RF/BF cross-section tracks the body's muscle mass more tightly than the core's
  generic muscles: individual factor LogN(0, 0.06) (:data:`CSA_SD`; thigh muscle size
  correlates r ≈ 0.8–0.9 with appendicular lean mass [R]).
* Fat over RF/BF follows the fat-mass index ``BMI − 2.2·(ASMI − ASMI_ref)`` instead of
  BMI (:data:`LEAN_PER_ASMI`): otherwise muscular people would carry more subcutaneous
  fat simply because muscle raises BMI. Table values, slopes and LogN(0, 0.25) spread
  are the core's (spec §1.1).

Physics per subject × muscle (``../shared/simulator-spec.md`` §1–2; tags as in the
spec: [S] checked source, [R] recalled, [A] assumption/calibration)
-----------------------------------------------------------------------------
* **Motor units** — a Fuglevand pool (:class:`~myoflow.simulate.motor_units.MotorUnitPool`,
  fibres ∝ twitch amplitude) of ``100 × mu_count_scale`` units (age: −0.3 %/y after
  30 [A]), placed in the muscle cross-section by
  :func:`~myoflow.simulate.motor_units.place_motor_units`.
* **Muscle mass** enters three ways: (1) the fibres fill the contractile CSA,
  ``N_f = CSA · packing / (π d²/4) · κ``, while the anatomical cross-section grows only
  as ``(CSA/CSA_ref)^0.5`` (:data:`GEOMETRY_EXPONENT`: atrophic muscle keeps part of
  its volume as intramuscular fat/connective tissue, Goodpaster et al. 2001 [R]) — so
  the current density under the electrodes, and the M-wave amplitude and area, rise
  with CSA (spec §2 "amplitude/area ∝ CSA") [A]; (2) fibre diameter
  ``d = 55 µm · (CSA/CSA_ref)^0.3`` (fibre area takes ≈60 % of a CSA change [A]);
  (3) conduction velocity: the subject's ``cv_offset_m_s`` (age, mass) plus 0.05 m/s
  per µm of fibre diameter (:data:`CV_PER_UM`, CV ≈ 2.2 + 0.05 d, Nandedkar &
  Stålberg 1983 [R]), which sets the response duration. ``κ`` = :data:`FIBRE_CALIBRATION`
  is the fraction of the fibres a planar, non-pennate model should carry to give Mmax
  of RF 3–10 mV and BF 2–8 mV p-p (spec §2 [A]; Calder et al. 2005, JNER 2:33 for
  biceps brachii Mmax 12.6–13.5 ± 4 mV [S]).
* **MUAPs** — H3's fast planar skin–fat–muscle model
  (:func:`~myoflow.simulate.volume_conductor.fast_muaps`) at 4096 Hz, computed once per
  subject × muscle and reused for every pulse and frequency. Fat and skin are
  quantised to 0.5 mm for the conductor so kernel tables are shared across subjects
  (the exact values are kept as ground truth).
* **Electrode placement** — bipolar pair midway between the innervation zone and the
  distal tendon (SENIAM), with a subject-specific misplacement of the innervation
  zone N(0, 5 mm) along (clipped ±10 mm) and N(0, 4 mm) across the fibres (spec §2
  confounder ±5–10 mm [A]).
* **Recruitment by the stimulus** (spec §2 [A]) — unit *i* fires with probability
  ``q_i = logistic((I − I50_i)/(0.08 I50_i))``; ``I50_i = 12 mA · exp((fat + skin +
  depth_i)/15 mm) · (n_fibres_i/median)^(−0.2) · LogN(0, 0.25)``: superficial and large
  units first, thick fat raises thresholds. The operator sets the intensity at
  U(1.5, 2.5) × the motor threshold (the current recruiting the first 5 % of units;
  :data:`INTENSITY_X_THRESHOLD`), which gives submaximal responses of 20–80 % of
  Mmax. Recruitment is redrawn at every pulse (units near threshold flicker), which
  gives the trial-to-trial variability (ICC 0.98, CV ≈ 5 % [S], spec §2) together
  with 2 % gain noise.
* **Latency** — ``dist / v_axon + NMJ delay``: distance from the stimulation site
  U(0.05, 0.12)·height, axonal CV U(50, 60) m/s minus 0.5 m/s per decade after 30 [A],
  neuromuscular delay U(0.5, 1.0) ms (spec §2); per-unit axonal spread 5 %; per-pulse
  jitter N(0, σ) with σ ~ U(20, 50) µs (spec §2). The observed onset adds the
  propagation from the innervation zone to the electrodes, 3–8 ms in total.
* **Train dynamics** (Cupido et al. 1996, J Physiol 491:541 [S]; per-pulse model spec §2
  [A]) — ``A_k = A_1 [1 + P(f)(1 − e^(−t f / (10 Hz · τp)))] · D(f, t)``,
  ``P`` = 0.10/0.45/0.5/0.5/0.5 at 5/10/15/20/25 Hz (× LogN(0, 0.2) per subject),
  τp ~ U(20, 40) s at 10 Hz — potentiation builds with activity, so its time constant
  shrinks with frequency [A]; for f ≥ 20 Hz ``D = exp(−(t − t_d)/τd)`` after
  t_d ~ U(5, 15) s (τd ~ U(30, 60) s; not reached in trains shorter than 5 s).
  Potentiation shortens the response: time scale ``1 − 0.2 · potentiation`` (≤10 %,
  spec: phase 1 −5–15 %).
* **Artefact** (Liu et al. 2014 shape [S]; values spec §2 [A]) — as recorded: a
  biphasic spike of log-uniform 1–100 mV (× I/50 mA) and an exponential tail of
  0.2–1.5 % of it with τ ~ U(0.5, 2.5) ms (gel electrodes), polarity fixed per
  subject × muscle, added after the amplifier's filters; the ADC saturates it at
  ±20 mV. Gone within 10 ms.
* **Noise and front end** — H3's :func:`~myoflow.simulate.noise.add_noise` (gel
  electrodes: thermal 1–3 µV, 50 Hz mains, baseline wander) and
  :func:`~myoflow.simulate.noise.front_end` (causal 10 Hz high-pass, 450 Hz
  low-pass; ±20 mV, 16 bits after the artefact is added).

Every recording carries ``stimulus`` events, meta ``subject/muscle/frequency/
covariates`` and ground truth in ``meta["truth"]``; the participants table adds the
per-muscle truths the oracle of the pipeline uses. Same seed → identical output.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from ...containers import Recording
from ...errors import ConfigError
from ..motor_units import MotorUnitPool, fibres_per_cm2, muscle_params, place_motor_units
from ..noise import add_noise, front_end
from ..subjects import (ASMI_REFERENCE, FAT_TABLE, PCSA_REF_CM2, SubjectParams, generate_subjects,
                        participants_table)
from ..volume_conductor import FIBRE_DIAMETER_M, ElectrodeArray, Tissue, fast_muaps

__all__ = ["simulate_evoked", "simulate_subject_muscle", "EVOKED_MUSCLES", "DEFAULT_FREQUENCIES",
           "POTENTIATION", "FIBRE_CALIBRATION", "cli_command", "plot_mwave_train"]

log = logging.getLogger(__name__)

EVOKED_MUSCLES = ("RF", "BF")
DEFAULT_FREQUENCIES = (5.0, 10.0, 15.0, 20.0, 25.0)
#: Potentiation amplitude P(f) at 5/10/15/20/25 Hz (spec §2 [A], from Cupido 1996 [S]).
POTENTIATION = {5.0: 0.10, 10.0: 0.45, 15.0: 0.5, 20.0: 0.5, 25.0: 0.5}
#: Fraction of the anatomical fibre count carried by the planar non-pennate model so that
#: Mmax matches RF 3–10 mV / BF 2–8 mV p-p (spec §2) [A, calibrated].
FIBRE_CALIBRATION = 0.12
#: Relative SD of the recorded ASMI (DXA appendicular lean-mass precision is 1–2 % CV [R];
#: 2 % used; the core's default 5 % flips ≈20 % of labels) [A].
LABEL_NOISE = 0.02
#: Individual deviation of RF/BF CSA from the body-level muscle mass (log-SD) [A]; see _thigh_csa.
CSA_SD = 0.06
#: Lean-mass index per unit of ASMI (total lean ≈ 2.2 × appendicular lean [R]) [A].
LEAN_PER_ASMI = 2.2
#: Conduction-velocity change per µm of fibre diameter, m/s (CV ≈ 2.2 + 0.05·d,
#: Nandedkar & Stålberg 1983 [R]).
CV_PER_UM = 0.05
#: Anatomical cross-section ∝ (contractile CSA)^GEOMETRY_EXPONENT: when mass falls, fibres
#: atrophy but intramuscular fat/connective tissue fills part of the space (myosteatosis,
#: Goodpaster et al. 2001 [R]), so the muscle shrinks less than its contractile CSA and the
#: current density near the electrodes falls with mass [A].
GEOMETRY_EXPONENT = 0.5
#: Stimulus intensity as a multiple of the motor threshold [A] (gives 20–80 % of Mmax).
INTENSITY_X_THRESHOLD = (1.5, 2.5)
#: Simulated motor units per muscle (each stands for ≈2.5 anatomical units of RF/BF) [A].
N_UNITS = 100
FS_SIM = 4096.0           # MUAP sampling rate, Hz (spec §0: ≥ 4096 Hz)
MUAP_MS = 30.0            # MUAP window, ms (durations 10–20 ms, spec §7.1)
RESPONSE_MS = 50.0        # synthesised response window after each pulse, ms
PRE_S, POST_S = 0.2, 0.1  # quiet baseline before the train and tail after it, s
INPUT_RANGE_V = 0.05      # amplifier input saturation, V [A]
FRONT_END_RANGE_V = 0.02  # ADC range, V [A]
IED_MM, ELECTRODE_RADIUS_MM = 20.0, 5.0  # SENIAM bipolar pair [S]


def _thigh_csa(subject: SubjectParams, muscles: Sequence[str], rng: np.random.Generator) -> SubjectParams:
    """Redraw the recorded muscles' CSA with the tighter coupling to ASMI of thigh muscles.

    The core draws every muscle as ``PCSA_ref · csa_scale · LogN(0, 0.12)``. Legs carry
    about three quarters of appendicular lean mass and thigh-muscle size by MRI/CT
    correlates strongly with it (r ≈ 0.8–0.9 [R], e.g. Janssen et al. 2000, J Appl
    Physiol 89:81), so for RF and BF the individual factor is LogN(0, :data:`CSA_SD`) [A].
    """
    import dataclasses

    csa = dict(subject.csa_cm2)
    fat = dict(subject.fat_mm)
    sides = dict(subject.fat_side_mm)
    # Subcutaneous fat follows the FAT-mass index, not BMI: BMI = fat-mass index + lean-mass
    # index, and lean-mass index ≈ LEAN_PER_ASMI × ASMI (appendicular lean is ≈45 % of lean
    # mass [R]). The core's h = base + k (BMI − 22) makes muscular people fatter [A, fixed here].
    ref_asmi = ASMI_REFERENCE[(subject.sex, "young" if subject.age < 40 else "middle")][0]
    bmi_fat = subject.bmi - LEAN_PER_ASMI * (subject.asmi - ref_asmi)
    s = 0 if subject.sex == "M" else 1
    for m in muscles:
        csa[m] = float(PCSA_REF_CM2[m] * subject.csa_scale * rng.lognormal(0.0, CSA_SD))
        (b_m, b_f), (k_m, k_f) = FAT_TABLE[m]
        base, k = (b_m, k_m) if s == 0 else (b_f, k_f)
        fat[m] = float(np.clip((base + k * (bmi_fat - 22.0)) * rng.lognormal(0.0, 0.25), 1.0, 35.0))
        for side in ("L", "R"):
            sides[f"{m}_{side}"] = fat[m]
    return dataclasses.replace(subject, csa_cm2=csa, fat_mm=fat, fat_side_mm=sides)


def potentiation_amplitude(freq: float) -> float:
    """P(f) interpolated over :data:`POTENTIATION` (3 Hz gives ≈0, Cupido 1996)."""
    f = np.array(sorted(POTENTIATION))
    p = np.array([POTENTIATION[k] for k in f])
    return float(np.interp(freq, np.concatenate([[0.0], f]), np.concatenate([[0.0], p])))


@dataclass
class _MuscleModel:
    """Everything about one subject × muscle that does not change between trains."""

    units_response: np.ndarray   # (n_units, n_sim) MUAPs shifted by their latencies, V, at FS_SIM
    q: np.ndarray                # (n_units,) recruitment probability per pulse
    latency_s: float             # mean neural latency (pivot of the time scaling)
    jitter_s: float
    art_amp_v: float
    art_tail: float
    art_tau_s: float
    art_sign: float
    p_scale: float
    tau_p_s: float
    t_d_s: float
    tau_d_s: float
    truth: dict


def _quantise(x: float, step: float = 0.5) -> float:
    return float(max(step, round(x / step) * step))


def simulate_subject_muscle(subject: SubjectParams, muscle: str, rng: np.random.Generator,
                            n_units: int = N_UNITS) -> _MuscleModel:
    """Build the per-subject × muscle model (MUAPs, recruitment, latency, artefact)."""
    mp = muscle_params(muscle)
    csa = subject.csa_at(muscle)
    csa_ratio = csa / PCSA_REF_CM2[muscle]
    d_fibre = FIBRE_DIAMETER_M * csa_ratio ** 0.3
    fibres_total = fibres_per_cm2(d_fibre) * csa * FIBRE_CALIBRATION
    pool = MotorUnitPool.for_muscle(mp, rng, n_units=n_units, mu_count_scale=subject.mu_count_scale,
                                    fibres_total=fibres_total)
    iz_offset = float(np.clip(rng.normal(0.0, 5.0), -10.0, 10.0))
    y_offset = float(np.clip(rng.normal(0.0, 4.0), -10.0, 10.0))
    # Electrodes centred at x = 0, midway between the IZ and the distal tendon (SENIAM).
    iz_centre = -(mp.fibre_length_mm / 4.0) + iz_offset
    cv_offset = subject.cv_offset_m_s + CV_PER_UM * (d_fibre - FIBRE_DIAMETER_M) * 1e6
    geom = place_motor_units(pool, mp, rng, csa_scale=csa_ratio ** GEOMETRY_EXPONENT, cv_offset_m_s=cv_offset,
                             iz_mm=iz_centre, iz_band_sd_mm=3.0, y_offset_mm=y_offset,
                             fibre_length_scale=subject.height_m / 1.75)
    fat, skin = subject.fat_at(muscle), subject.skin_mm
    tissue = Tissue(fat_mm=_quantise(fat), skin_mm=_quantise(skin))
    electrodes = ElectrodeArray.bipolar(IED_MM, radius_mm=ELECTRODE_RADIUS_MM)
    muaps = fast_muaps(geom, tissue, electrodes, FS_SIM, duration_ms=MUAP_MS, fibre_diameter_m=d_fibre)[:, 0, :]
    n = pool.n_units
    # Neural latency per unit (axonal conduction + neuromuscular delay).
    v_axon = rng.uniform(50.0, 60.0) - 0.05 * max(subject.age - 30.0, 0.0)
    dist_m = rng.uniform(0.05, 0.12) * subject.height_m
    lat0 = dist_m / v_axon + rng.uniform(0.5e-3, 1.0e-3)
    lat = lat0 + (dist_m / v_axon) * 0.05 * rng.standard_normal(n)
    # Shift each MUAP by its latency on the FS_SIM grid (linear interpolation).
    n_sim = int(round(RESPONSE_MS * 1e-3 * FS_SIM))
    tq = (np.arange(n_sim)[None, :] / FS_SIM - lat[:, None]) * FS_SIM
    i0 = np.floor(tq).astype(np.int64)
    w = tq - i0
    ok = (i0 >= 0) & (i0 < muaps.shape[1] - 1)
    i0c = np.clip(i0, 0, muaps.shape[1] - 2)
    rows = np.arange(n)[:, None]
    shifted = np.where(ok, (1 - w) * muaps[rows, i0c] + w * muaps[rows, i0c + 1], 0.0)
    # Recruitment by the stimulus.
    nf = geom.n_fibres
    i50 = (12.0 * np.exp((fat + skin + geom.depth_mm) / 15.0) * (nf / np.median(nf)) ** -0.2
           * rng.lognormal(0.0, 0.25, n))
    # The operator sets the current relative to the visible motor threshold (first 5 % of
    # units) — a common protocol — with operator/tolerance variability [A].
    motor_threshold = float(np.quantile(i50, 0.05))
    intensity = float(motor_threshold * rng.uniform(*INTENSITY_X_THRESHOLD))
    q = 1.0 / (1.0 + np.exp(-(intensity - i50) / (0.08 * i50)))
    mmax = shifted.sum(0)
    expected = q @ shifted
    truth = {
        "csa_cm2": csa, "fat_mm": fat, "skin_mm": skin, "fibre_diameter_um": d_fibre * 1e6,
        "n_units": int(n), "fibres_total": float(nf.sum()), "mean_cv_m_s": float(geom.cv_m_s.mean()),
        "iz_offset_mm": iz_offset, "lateral_offset_mm": y_offset, "intensity_ma": intensity,
        "recruited_fraction": float(q.mean()), "neural_latency_ms": lat0 * 1e3,
        "mmax_ptp_mv": float(np.ptp(mmax) * 1e3), "mwave_ptp_mv": float(np.ptp(expected) * 1e3),
        "mass_class": subject.mass_class, "true_mass_class": subject.true_mass_class, "asmi": subject.asmi,
    }
    return _MuscleModel(
        units_response=shifted, q=q, latency_s=lat0, jitter_s=rng.uniform(20e-6, 50e-6),
        art_amp_v=float(np.exp(rng.uniform(np.log(1e-3), np.log(0.1))) * intensity / 50.0),
        art_tail=rng.uniform(0.002, 0.015), art_tau_s=rng.uniform(0.5e-3, 2.5e-3),
        art_sign=float(rng.choice([-1.0, 1.0])), p_scale=float(rng.lognormal(0.0, 0.2)),
        tau_p_s=rng.uniform(20.0, 40.0), t_d_s=rng.uniform(5.0, 15.0), tau_d_s=rng.uniform(30.0, 60.0),
        truth=truth,
    )


def _train(model: _MuscleModel, freq: float, train_s: float, fs: float,
           rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, dict]:
    """One stimulation train: (signal (n_samples,) V before noise, pulse samples, truth)."""
    n_pulses = max(int(round(train_s * freq)), 2)
    start = int(round(PRE_S * fs))
    pulses = start + np.round(np.arange(n_pulses) * fs / freq).astype(np.int64)
    n_total = int(pulses[-1] + round(POST_S * fs) + round(RESPONSE_MS * 1e-3 * fs))
    t_k = (pulses - start) / fs
    # Potentiation builds with activity (Na+-K+ pump; Cupido 1996): its time constant is
    # τp at 10 Hz and scales with 10 Hz / f [A], so after a few seconds 5 < 10 < 20 Hz.
    pot = model.p_scale * potentiation_amplitude(freq) * (1.0 - np.exp(-t_k * freq / (10.0 * model.tau_p_s)))
    dep = np.ones(n_pulses)
    if freq >= 20.0:
        late = t_k > model.t_d_s
        dep[late] = np.exp(-(t_k[late] - model.t_d_s) / model.tau_d_s)
    gain = (1.0 + pot) * dep * (1.0 + 0.02 * rng.standard_normal(n_pulses))
    scale = 1.0 - 0.2 * pot  # potentiation shortens the response
    # Recruitment redrawn per pulse → trial-to-trial variability.
    fired = (rng.random((n_pulses, model.q.size)) < model.q[None, :]).astype(np.float64)
    waves = fired @ model.units_response  # (pulses, n_sim) at FS_SIM
    n_out = int(round(RESPONSE_MS * 1e-3 * fs))
    jitter = model.jitter_s * rng.standard_normal(n_pulses)
    tau = np.arange(n_out)[None, :] / fs - jitter[:, None]
    tau = model.latency_s + (tau - model.latency_s) / scale[:, None]
    qidx = tau * FS_SIM
    i0 = np.floor(qidx).astype(np.int64)
    w = qidx - i0
    ok = (i0 >= 0) & (i0 < waves.shape[1] - 1)
    i0c = np.clip(i0, 0, waves.shape[1] - 2)
    rows = np.arange(n_pulses)[:, None]
    vals = np.where(ok, (1 - w) * waves[rows, i0c] + w * waves[rows, i0c + 1], 0.0) * gain[:, None]
    idx = pulses[:, None] + np.arange(n_out)[None, :]
    sig = np.bincount(idx.ravel(), weights=vals.ravel(), minlength=n_total)[:n_total]
    first = vals[0]
    truth = {"potentiation_end": float(pot[-1]), "n_pulses": int(n_pulses),
             "mwave_ptp_first_mv": float(np.ptp(first) * 1e3), "artefact_mv": float(model.art_amp_v * 1e3)}
    return sig, pulses, truth


def _artefact(model: _MuscleModel, pulses: np.ndarray, n_total: int, fs: float) -> np.ndarray:
    """The artefact as recorded (after the amplifier): biphasic spike + exponential tail, V.

    Spec §2: spike 1–100 mV, tail ``A e^(−t/τ)``, τ 0.5–5 ms, shape similar across
    intensities (Liu et al. 2014). It is added after the front end because these values
    describe the recorded artefact; the ADC then saturates it.
    """
    a = model.art_sign * model.art_amp_v
    tail_n = int(round(10 * model.art_tau_s * fs)) + 1
    tail = a * model.art_tail * np.exp(-np.arange(1, tail_n + 1) / (model.art_tau_s * fs))
    art = np.zeros(n_total)
    art[pulses] += a
    art[np.minimum(pulses + 1, n_total - 1)] -= 0.6 * a
    tidx = (pulses[:, None] + 1 + np.arange(tail_n)[None, :]).ravel()
    keep = tidx < n_total
    art += np.bincount(tidx[keep], weights=np.tile(tail, len(pulses))[keep], minlength=n_total)[:n_total]
    return art


def simulate_evoked(
    n_subjects: int = 90,
    seed: int = 0,
    frequencies: Sequence[float] = DEFAULT_FREQUENCIES,
    train_s: float = 4.0,
    fs: float = 2000.0,
    progress: Callable[[int], None] | None = None,
    *,
    muscles: Sequence[str] = EVOKED_MUSCLES,
    age_range: tuple[float, float] = (20, 59),
    class_mix: dict[str, float] | None = None,
    n_units: int = N_UNITS,
) -> tuple[list[Recording], pd.DataFrame]:
    """Simulate the evoked cohort (see the module docstring for the physiology).

    Parameters
    ----------
    n_subjects : int
        Participants (default 90, as in the paper).
    seed : int
        Same seed → identical recordings; subject *i* is the same for any ``n_subjects > i``.
    frequencies : sequence of float
        Stimulation frequencies, Hz (one train each per muscle).
    train_s : float
        Train duration, s (spec: 2–5 s).
    fs : float
        Output sampling rate, Hz (≥ 1000).
    progress : callable(int), optional
        Called with 1 after each subject (e.g. ``tqdm.update``).
    muscles : sequence of str
        Muscles recorded (default RF and BF).
    age_range, class_mix
        Passed to :func:`~myoflow.simulate.subjects.generate_subjects` (``None``: the
        population's imbalanced mix).
    n_units : int
        Simulated motor units per muscle (before the age reduction).

    Returns
    -------
    recordings : list of Recording
        One per subject × muscle × frequency (1 channel, volts), events ``stimulus``.
    participants : DataFrame
        :func:`~myoflow.simulate.subjects.participants_table` plus, per muscle,
        ``true_csa_<M>``, ``true_fat_<M>`` (what the oracle uses), ``true_mmax_<M>_mv``
        and ``true_recruited_<M>``.
    """
    if n_subjects < 1:
        raise ConfigError(f"n_subjects must be >= 1, got {n_subjects}")
    if fs < 1000:
        raise ConfigError(f"fs must be >= 1000 Hz for M-waves, got {fs}")
    if not (0.5 <= train_s <= 60):
        raise ConfigError(f"train_s must be in [0.5, 60] s, got {train_s}")
    freqs = tuple(float(f) for f in frequencies)
    if not freqs or min(freqs) <= 0 or max(freqs) > 100.0:
        raise ConfigError(f"stimulation frequencies must be in (0, 100] Hz, got {list(frequencies)}")
    for m in muscles:
        if m not in PCSA_REF_CM2:
            raise ConfigError(f"unknown muscle {m!r}; known: {sorted(PCSA_REF_CM2)}")
    # Many small matrix products: one BLAS thread is ~10× faster than a contended pool.
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        return _simulate(n_subjects, seed, freqs, train_s, fs, progress, muscles, age_range, class_mix, n_units)


def _simulate(n_subjects, seed, freqs, train_s, fs, progress, muscles, age_range, class_mix, n_units):
    subjects = generate_subjects(n_subjects, np.random.default_rng([seed, 0]), age_range=age_range,
                                 class_mix=class_mix, label_noise=LABEL_NOISE)
    subjects = [_thigh_csa(s, muscles, np.random.default_rng([seed, 3, i])) for i, s in enumerate(subjects)]
    # MUAP models first, ordered by (quantised) tissue so the conductor's kernel tables are reused.
    jobs = [(i, m) for i in range(n_subjects) for m in muscles]
    jobs.sort(key=lambda j: (_quantise(subjects[j[0]].fat_at(j[1])), _quantise(subjects[j[0]].skin_mm), j))
    models: dict[tuple[int, str], _MuscleModel] = {}
    for i, m in jobs:
        rng = np.random.default_rng([seed, 1, i, list(muscles).index(m)])
        models[(i, m)] = simulate_subject_muscle(subjects[i], m, rng, n_units=n_units)
    recordings: list[Recording] = []
    extra_rows = []
    for i, s in enumerate(subjects):
        row = {"subject": s.subject}
        for mi, m in enumerate(muscles):
            model = models.pop((i, m))
            row[f"true_csa_{m}"] = model.truth["csa_cm2"]
            row[f"true_fat_{m}"] = model.truth["fat_mm"]
            row[f"true_mmax_{m}_mv"] = model.truth["mmax_ptp_mv"]
            row[f"true_recruited_{m}"] = model.truth["recruited_fraction"]
            for fi, f in enumerate(freqs):
                rng = np.random.default_rng([seed, 2, i, mi, fi])
                clean, pulses, ttruth = _train(model, f, train_s, fs, rng)
                noisy = add_noise(clean[None, :], fs, rng, electrode="gel", powerline_hz=50.0)
                amp = front_end(noisy, fs, hp_hz=10.0, lp_hz=450.0, bits=None, range_v=INPUT_RANGE_V)
                amp = amp + _artefact(model, pulses, amp.shape[1], fs)[None, :]
                data = front_end(amp, fs, hp_hz=None, lp_hz=None, bits=16, range_v=FRONT_END_RANGE_V)
                events = pd.DataFrame({"sample": pulses, "kind": "stimulus"})
                recordings.append(Recording(
                    data=data, fs=fs, ch_names=[m], units="V", events=events,
                    meta={"subject": s.subject, "muscle": m, "side": "R", "frequency": f,
                          "session": f"{f:g}Hz", "protocol": "evoked", "covariates": s.covariates(),
                          "truth": {**model.truth, **ttruth, "frequency": f}},
                ))
        extra_rows.append(row)
        if progress is not None:
            progress(1)
    participants = participants_table(subjects).merge(pd.DataFrame(extra_rows), on="subject", how="left")
    return recordings, participants


# ------------------------------------------------------------------ plots and CLI
def plot_mwave_train(rec: Recording, path: str | Path, window_s: float = 0.6) -> Path:
    """Raw train (first ``window_s`` s after the first pulse) and the overlaid stimulus-locked responses."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from ..._atomic import atomic_path

    stim = rec.events_of("stimulus")
    x = rec.data[0] * 1e3
    t = np.arange(rec.n_samples) / rec.fs
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 3.6), gridspec_kw={"width_ratios": [2, 1]})
    sel = (t >= t[stim[0]] - 0.05) & (t < t[stim[0]] + window_s)
    a1.plot(t[sel], x[sel], lw=0.7, color="k")
    for s in stim[(t[stim] < t[stim[0]] + window_s)]:
        a1.axvline(t[s], color="C3", lw=0.5, alpha=0.5)
    a1.set_xlabel("time, s")
    a1.set_ylabel("sEMG, mV")
    # Scale to the responses, not to the (saturating) artefact: ignore 1 ms before to 3 ms after each pulse.
    art = np.zeros(rec.n_samples, dtype=bool)
    for s in stim:
        art[max(s - int(0.001 * rec.fs), 0): s + int(0.003 * rec.fs) + 1] = True
    lim = 1.3 * float(np.abs(x[sel & ~art]).max())
    a1.set_ylim(-lim, lim)
    a1.set_title(f"{rec.meta.get('subject')} {rec.meta.get('muscle')} {rec.meta.get('frequency'):g} Hz train "
                 "(red: stimuli; artefact spikes clipped in view)", fontsize=9)
    n = int(0.04 * rec.fs)
    tt = np.arange(-int(0.005 * rec.fs), n) / rec.fs * 1e3
    cmap = plt.get_cmap("viridis")
    for k, s in enumerate(stim):
        if s + n <= rec.n_samples and s - int(0.005 * rec.fs) >= 0:
            a2.plot(tt, x[s - int(0.005 * rec.fs): s + n], lw=0.6, color=cmap(k / max(len(stim) - 1, 1)))
    a2.set_ylim(a1.get_ylim())
    a2.set_xlabel("time after stimulus, ms")
    a2.set_title("stimulus-locked responses (dark → late in train)", fontsize=9)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    plt.close(fig)
    return Path(path)


def _cli():
    import click

    @click.command("evoked")
    @click.option("--out", "out", type=click.Path(path_type=Path), required=True, help="Output dataset folder.")
    @click.option("--subjects", "n_subjects", type=int, default=90, show_default=True)
    @click.option("--seed", type=int, default=0, show_default=True)
    @click.option("--frequencies", default="5,10,15,20,25", show_default=True, help="Stimulation frequencies, Hz.")
    @click.option("--train-s", type=float, default=4.0, show_default=True, help="Train duration, s.")
    @click.option("--fs", type=float, default=2000.0, show_default=True, help="Output sampling rate, Hz.")
    @click.option("--plots", is_flag=True, help="Save example M-wave train PNGs under OUT/plots.")
    def cli_command(out: Path, n_subjects: int, seed: int, frequencies: str, train_s: float, fs: float,
                    plots: bool) -> None:
        """Seed 000's cohort: stimulated RF/BF sEMG at 5–25 Hz with mass-level labels."""
        from tqdm.auto import tqdm

        from ...io.dataset import write_dataset

        try:
            freqs = tuple(float(v) for v in frequencies.split(",") if v.strip())
        except ValueError:
            raise ConfigError(f"--frequencies must be comma-separated numbers, got {frequencies!r}") from None
        with tqdm(total=n_subjects, desc="evoked", unit="subject") as bar:
            recs, parts = simulate_evoked(n_subjects, seed, freqs, train_s, fs, progress=bar.update)
        items = ((f"{r.meta['subject']}/{r.meta['muscle']}_{r.meta['frequency']:g}Hz", r) for r in recs)
        info = {"protocol": "evoked", "seed": seed, "n_subjects": n_subjects, "frequencies": list(freqs),
                "train_s": train_s, "fs": fs, "muscles": list(EVOKED_MUSCLES),
                "label": "mass_class", "covariates": ["age", "sex", "height", "weight", "bmi"]}
        write_dataset(out, items, parts, info)
        if plots:
            pdir = Path(out) / "plots"
            for r in recs:
                if r.meta["subject"] == recs[0].meta["subject"] and r.meta["frequency"] in (freqs[0], freqs[-1]):
                    plot_mwave_train(r, pdir / f"mwave_train_{r.meta['subject']}_{r.meta['muscle']}_"
                                              f"{r.meta['frequency']:g}Hz.png")
        click.echo(f"wrote {len(recs)} recordings of {n_subjects} subjects to {out}")

    return cli_command


cli_command = _cli()
