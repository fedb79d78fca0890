"""Trials → time-normalised gait cycles of angles, joint moments and sEMG envelopes.

What a Trial must hold (simulated by ``myoflow simulate gait`` or brought by a user):

* ``angles``: sagittal hip flexion, knee flexion and ankle dorsiflexion in degrees —
  myoflow names (``hip_flexion``, ``knee_flexion``, ``ankle_dorsiflexion``) or
  OpenSim names (``hip_flexion_r``, ``knee_angle_r`` [extension +, negated],
  ``ankle_angle_r``).
* ``emg``: the seven muscles TA, GM, VL, RF, BF, ST, SOL — raw sEMG (band-passed,
  rectified and low-passed here) or linear envelopes (stream rate ≤ 200 Hz or
  ``meta['envelope']`` true). OpenSim/CEINMS names are mapped (``tib_ant_r`` → TA,
  ``med_gas_r`` → GM, ``vas_lat_r`` → VL, ``rect_fem_r`` → RF, ``bifemlh_r`` → BF,
  ``semimem_r`` → ST (semimembranosus is the medial hamstring recorded there; the
  paper's semitendinosus is its neighbour), ``soleus_r`` → SOL).
* heel strikes: ``heel_strike`` events on the angles stream, else detected from
  the vertical GRF (or kinematics) by :func:`myoflow.preprocess.detect_heel_strikes`.
* moments: a ``moments`` stream (myoflow names ``{hip,knee,ankle}_{sagittal,frontal,
  transverse}``, or OpenSim ``*_moment`` columns, converted to extensor +), else
  computed from angles + GRF by 2-D inverse dynamics
  (:func:`myoflow.biomech.moments_from_trial`, sagittal planes only).
* body mass: ``meta['covariates']['weight']`` (kg) or estimated from the GRF.

Moments are divided by body mass (N·m/kg). EMG envelopes are normalised per
subject and muscle by the peak of the subject's ensemble average over its
reference cycles (:func:`normalise_emg`) — a definition of the target, computed
from the person's own recording, that shares nothing across subjects.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from ..containers import Recording, Trial
from ..errors import DataError
from ..preprocess.normalise import AmplitudeNormaliser

__all__ = [
    "MUSCLES",
    "GaitCycles",
    "trial_to_cycles",
    "normalise_emg",
    "normalise_by_calibration",
    "baseline_drift_cycles",
    "subtract_emg_floor",
    "cycle_variability",
    "summarise_variability",
    "ANGLES_OPENSIM",
    "OPENSIM_EMG",
    "RAJAGOPAL_EMG",
    "OPENSIM_MOMENTS",
]

log = logging.getLogger(__name__)
_WARNED_BAND: set[tuple[float, float]] = set()  # (rate, requested top) already reported

MUSCLES = ("TA", "GM", "VL", "RF", "BF", "ST", "SOL")
ANGLES_MYOFLOW = ("hip_flexion", "knee_flexion", "ankle_dorsiflexion")
#: OpenSim's coordinate stems of the same angles (``hip_flexion_r``, ``knee_angle_r``, ``ankle_angle_r``).
ANGLES_OPENSIM = ("hip_flexion", "knee_angle", "ankle_angle")
MOMENTS_MYOFLOW = tuple(f"{j}_{p}" for j in ("hip", "knee", "ankle") for p in ("sagittal", "frontal", "transverse"))
#: CEINMS/OpenSim EMG channel → paper muscle (gait2392's names), and the Rajagopal et al. (2016) model's
#: names a lab labels its EMG with (they were left out without a word, and only SOL was predicted).
OPENSIM_EMG = {"TA": "tib_ant_{s}", "GM": "med_gas_{s}", "VL": "vas_lat_{s}", "RF": "rect_fem_{s}",
               "BF": "bifemlh_{s}", "ST": "semimem_{s}", "SOL": "soleus_{s}"}
RAJAGOPAL_EMG = {"TA": "tibant_{s}", "GM": "gasmed_{s}", "VL": "vaslat_{s}", "RF": "recfem_{s}",
                 "BF": "bflh_{s}", "ST": "semiten_{s}"}
#: OpenSim ID column → (myoflow moment name, sign to make extensor/abductor/evertor/internal-rotator +).
OPENSIM_MOMENTS = {
    "hip_sagittal": ("hip_flexion_{s}_moment", -1.0),
    "hip_frontal": ("hip_adduction_{s}_moment", -1.0),
    "hip_transverse": ("hip_rotation_{s}_moment", 1.0),
    "knee_sagittal": ("knee_angle_{s}_moment", 1.0),
    "ankle_sagittal": ("ankle_angle_{s}_moment", -1.0),
    "ankle_frontal": ("subtalar_angle_{s}_moment", -1.0),
}


@dataclass
class GaitCycles:
    """Time-normalised cycles of one or more trials (all arrays share the cycle axis).

    Attributes
    ----------
    angles : (n, 3, P) deg — hip flexion, knee flexion, ankle dorsiflexion.
    moments : (n, k, P) N·m/kg.
    emg : (n, 7, P) envelopes (normalised after :func:`normalise_emg`).
    durations : (n,) s — cycle durations (for velocities).
    metadata : DataFrame with ``subject``, ``trial``, ``cycle`` (one row per cycle).
    """

    angles: np.ndarray
    moments: np.ndarray
    emg: np.ndarray
    durations: np.ndarray
    metadata: pd.DataFrame
    moment_names: tuple[str, ...]
    muscles: tuple[str, ...] = MUSCLES
    info: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return self.angles.shape[0]

    @property
    def n_points(self) -> int:
        return self.angles.shape[2]

    def select(self, mask) -> "GaitCycles":
        idx = np.arange(len(self))[mask]
        return replace(self, angles=self.angles[idx], moments=self.moments[idx], emg=self.emg[idx],
                       durations=self.durations[idx], metadata=self.metadata.iloc[idx].reset_index(drop=True))

    def subjects(self) -> list:
        return list(pd.unique(self.metadata["subject"]))

    @staticmethod
    def concatenate(items: list["GaitCycles"]) -> "GaitCycles":
        if not items:
            raise DataError("no gait cycles to concatenate")
        first = items[0]

        def trial(c: "GaitCycles") -> str | None:  # the trial's name (a folder dataset's file stem)
            names = c.metadata["trial"].astype(str).unique() if "trial" in c.metadata else []
            return ", ".join(names) if len(names) else None

        for it in items[1:]:
            if it.moment_names != first.moment_names or it.n_points != first.n_points:
                raise DataError(f"moments {list(it.moment_names)} differ from {list(first.moment_names)} of "
                                f"{trial(first) or 'the first trial'}; every trial needs the same joint moments",
                                trial(it))
            if it.muscles != first.muscles:
                raise DataError(f"muscles {list(it.muscles)} differ from {list(first.muscles)} of "
                                f"{trial(first) or 'the first trial'}; list the shared ones in data.muscles",
                                trial(it))
        return GaitCycles(
            angles=np.concatenate([i.angles for i in items]), moments=np.concatenate([i.moments for i in items]),
            emg=np.concatenate([i.emg for i in items]), durations=np.concatenate([i.durations for i in items]),
            metadata=pd.concat([i.metadata for i in items], ignore_index=True), moment_names=first.moment_names,
            muscles=first.muscles, info=dict(first.info),
        )


def _pick(rec: Recording, names: list[str], signs: list[float] | None = None) -> Recording:
    out = rec.pick(names)
    if signs is not None and any(s != 1.0 for s in signs):
        out = out.with_data(out.data * np.asarray(signs, dtype=np.float32)[:, None])
    return out


def for_side(trial: Trial, side: str) -> Trial:
    """The trial with one side's ``angles``/``moments`` under myoflow's unsided names.

    A C3D of a gait lab (Plug-in Gait, :mod:`myoflow.io.c3d`) carries both legs as ``knee_flexion_l``,
    ``knee_flexion_r``, ``hip_sagittal_r`` ...: the ``side`` ones become ``knee_flexion``, ``hip_sagittal``
    (the other side's are dropped; a moments stream holding the other side's only is dropped too, so that
    the trial reads as one without moments). Streams without such names are returned as they are.
    """
    streams, dropped = {}, []
    other = {"l": "r", "r": "l"}.get(side)
    for name, stems in (("angles", ANGLES_MYOFLOW), ("moments", MOMENTS_MYOFLOW)):
        if name not in trial:
            continue
        rec = trial[name]
        if any(stem in rec.ch_names for stem in stems):
            continue  # already unsided (myoflow's own names)
        sided = [f"{stem}_{side}" for stem in stems if f"{stem}_{side}" in rec.ch_names]
        if name == "moments" and not sided and any(f"{stem}_{other}" in rec.ch_names for stem in stems):
            # the other leg's moments only (this leg's were invalid, io.c3d): none of this side's, as if absent
            dropped.append(name)
            continue
        # all three angles: OpenSim's hip is 'hip_flexion_r' too, beside its 'knee_angle_r'
        complete = len(sided) == len(stems) if name == "angles" else bool(sided)
        if complete:
            streams[name] = rec.pick(sided).replace(ch_names=[c[: -len(side) - 1] for c in sided])
    if not streams and not dropped:
        return trial
    out = trial.replace(streams={k: v for k, v in trial.streams.items() if k not in dropped})
    for name, rec in streams.items():
        out = out.with_stream(name, rec)
    return out


def _angles(trial: Trial, side: str) -> Recording:
    rec = trial["angles"]
    if all(n in rec.ch_names for n in ANGLES_MYOFLOW):
        return _check_sign(_in_degrees(_pick(rec, list(ANGLES_MYOFLOW))), {}, trial.source)
    names = [f"{j}_{side}" for j in ANGLES_OPENSIM]
    if all(n in rec.ch_names for n in names):
        out = _pick(rec, names, [1.0, -1.0, 1.0])
        return _check_sign(_in_degrees(out.replace(ch_names=list(ANGLES_MYOFLOW))), dict(zip(ANGLES_MYOFLOW, names)),
                           trial.source)
    raise DataError(f"angles stream needs {list(ANGLES_MYOFLOW)} or {names}; it has {list(rec.ch_names)}", rec.source)


def _check_sign(rec: Recording, origin: dict[str, str], where: str | None) -> Recording:
    """Refuse a joint angle of the opposite sign convention, naming the joint and the convention expected.

    A knee read with the other sign (OpenSim models differ: ``knee_angle_r`` is flexion-negative in
    gait2392, which myoflow negates, flexion-positive in some others) lies outside its physiological
    range for most of the trial while its negation lies inside; without this check every cycle was
    rejected as ``outside_valid_range`` (or, with ``data.crop: false``, the model learnt a mirrored knee).
    """
    from .gait_trials import PHYSIOLOGICAL_DEG

    for j, name in enumerate(rec.ch_names):
        if name not in PHYSIOLOGICAL_DEG:
            continue
        x = rec.data[j][np.isfinite(rec.data[j])]
        if x.size < 2:
            continue
        lo, hi = PHYSIOLOGICAL_DEG[name]
        inside, flipped = float(np.mean((x >= lo) & (x <= hi))), float(np.mean((-x >= lo) & (-x <= hi)))
        # a tenth of the samples out and all but 1 % of the negation in: a sign convention, not marker dropout
        # (dropout leaves the negation out too); walking knees reach ~60 deg, ~40 % of samples beyond -15
        if inside < 0.9 and flipped >= 0.99:
            col = origin.get(name, name)
            conv = (f"OpenSim '{col}' is read as flexion-negative (gait2392) and negated to {name}"
                    if col != name else f"'{name}' is read flexion/dorsiflexion-positive")
            # an OpenSim generalized force follows its coordinate's sign: a model whose knee is flexion-positive
            # (Rajagopal 2016) also has a flexor-positive knee_angle_r_moment, which is read extensor-positive
            also = (f", and '{col}_moment' of its inverse-dynamics .sto with it (OpenSim's moments follow their "
                    "coordinate's sign)" if col != name else "")
            raise DataError(f"joint angle '{col}' has the opposite sign convention: only {inside:.0%} of its samples "
                            f"lie in {name}'s range [{lo:g}, {hi:g}] deg, {flipped:.0%} once negated; {conv} "
                            f"(negate that column in the file{also})", where or rec.source)
    return rec


def _in_degrees(rec: Recording) -> Recording:
    """Joint angles in degrees: declared radians (OpenSim ``inDegrees=no``) are converted; undeclared values
    that never leave (-pi, pi) are refused, since walking flexes the knee by ~60 degrees (~1 rad)."""
    units = {str(u).strip().lower() for u in rec.units}
    if units <= {"rad", "radian", "radians"}:
        log.info("%s: joint angles in radians converted to degrees", rec.source)
        return rec.with_data(np.degrees(rec.data.astype(np.float64))).replace(units=("deg",) * rec.n_channels)
    finite = rec.data[np.isfinite(rec.data)]
    if finite.size and units.isdisjoint({"deg", "degree", "degrees", "°"}) and float(np.abs(finite).max()) < np.pi:
        raise DataError(f"joint angles never exceed {float(np.abs(finite).max()):.2f} in magnitude: they look like "
                        "radians, and myoflow reads angles in degrees (convert them, or state the unit, e.g. a "
                        "'knee_flexion [rad]' header or OpenSim inDegrees=no)", rec.source)
    return rec


def _moments(trial: Trial, side: str, body_mass: float) -> Recording:
    if "moments" not in trial:
        from . import moments_from_trial

        if "grf" not in trial:
            # the torque route predicts joint moments: recorded ones, or ones computed from the GRF
            if "angles" in trial and trial["angles"].meta.get("model") == "Plug-in Gait":
                # the generic way out (GRF) is closed for a C3D: its force plates are not read as a 'grf' stream
                side_l = "L" if side == "l" else "R"
                raise DataError(f"the C3D holds no valid Plug-in Gait moments ({side_l}HipMoment, {side_l}KneeMoment, "
                                f"{side_l}AnkleMoment; streams: {trial.names}) and myoflow does not read a C3D's force "
                                "plates: gait-emg predicts joint moments, so run the model's kinetics and export "
                                "the C3D again (or give an OpenSim inverse-dynamics .sto as the 'moments' stream)",
                                trial.source)
            raise DataError(f"trial has neither a 'moments' nor a 'grf' stream (streams: {trial.names}): gait-emg "
                            "predicts joint moments, so it needs them (an OpenSim inverse-dynamics .sto) or the "
                            "ground reaction forces to compute them by inverse dynamics", trial.source)

        log.info("%r has no moments stream: computing sagittal moments by 2-D inverse dynamics", trial)
        return moments_from_trial(trial, body_mass_kg=body_mass, side=side)
    rec = trial["moments"]
    names = [n for n in MOMENTS_MYOFLOW if n in rec.ch_names]
    if names:
        return _pick(rec, names)
    found = [(k, c.format(s=side), sg) for k, (c, sg) in OPENSIM_MOMENTS.items() if c.format(s=side) in rec.ch_names]
    if not found:
        raise DataError(f"moments stream has none of the expected channels ({list(MOMENTS_MYOFLOW)} or OpenSim "
                        f"'*_moment'); it has {list(rec.ch_names)}", rec.source)
    out = _pick(rec, [c for _, c, _ in found], [sg for *_, sg in found])
    return out.replace(ch_names=[k for k, _, _ in found])


#: Below this fraction of a channel's variance in the sEMG band (with a positive mean) it is an envelope.
_ENVELOPE_BAND_FRACTION = 0.1


def _emg(trial: Trial, side: str, bandpass: tuple[float, float], envelope_hz: float,
         muscles: list[str] | None = None, emg_map: dict[str, str] | None = None) -> Recording:
    from ..preprocess import bandpass as bp, envelope
    from .gait_trials import select_muscles

    rec = select_muscles(trial["emg"], muscles, emg_map or {}, MUSCLES, (OPENSIM_EMG, RAJAGOPAL_EMG), side)
    is_env = bool(rec.meta.get("envelope")) or rec.fs <= 200.0
    if is_env:
        return rec
    hi = min(bandpass[1], 0.45 * rec.fs)
    if hi < bandpass[1] and (rec.fs, bandpass[1]) not in _WARNED_BAND:
        # a 500 Hz-1 kHz lab: the band must end below Nyquist; say so once per rate, not per trial
        _WARNED_BAND.add((rec.fs, bandpass[1]))
        log.warning("EMG at %g Hz (%s): band-pass top lowered from %g to %g Hz (below 0.45 x rate)", rec.fs,
                    trial.source, bandpass[1], hi)
    passed = bp(rec, bandpass[0], hi)
    enveloped = _enveloped_channels(rec, passed)
    where = trial.source or rec.source
    if enveloped and len(enveloped) == rec.n_channels:
        # a lab's processed EMG (rectified and low-passed) exported at the amplifier's rate: band-passing it
        # left filter noise whose ensemble averages had nothing of the muscles' patterns (r 0.0-0.5)
        log.warning("%s: the EMG channels %s look like envelopes already (positive mean, under %.0f %% of their "
                    "variance in the %g-%g Hz sEMG band): used as envelopes, not band-passed and enveloped again "
                    "(export the raw sEMG to have myoflow's own filtering)", where, enveloped,
                    100 * _ENVELOPE_BAND_FRACTION, bandpass[0], hi)
        return rec
    if enveloped:
        log.warning("%s: the EMG channels %s look like envelopes (positive mean, under %.0f %% of their variance in "
                    "the %g-%g Hz sEMG band) while the others are raw sEMG: they are filtered as raw sEMG, which "
                    "leaves noise; export every muscle raw (or every one enveloped)", where, enveloped,
                    100 * _ENVELOPE_BAND_FRACTION, bandpass[0], hi)
    return envelope(passed, cutoff=envelope_hz)


def _enveloped_channels(raw: Recording, passed: Recording) -> list[str]:
    """Channels of an EMG stream that are envelopes rather than raw sEMG.

    Parameters
    ----------
    raw : Recording
        The EMG as read (any unit).
    passed : Recording
        ``raw`` band-passed to the sEMG band.

    Returns
    -------
    list of str
        Names of the channels whose mean exceeds a fifth of their standard deviation (raw sEMG is bipolar, zero
        mean up to an offset) *and* whose variance lies under :data:`_ENVELOPE_BAND_FRACTION` in the band
        (raw sEMG has most of it there, an offset leaves it there): a rectified and low-passed signal.
    """
    x = np.asarray(raw.data, dtype=np.float64)
    var = x.var(axis=1)
    band = np.asarray(passed.data, dtype=np.float64).var(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        low = (var > 0) & (band < _ENVELOPE_BAND_FRACTION * var) & (x.mean(axis=1) > 0.2 * np.sqrt(var))
    return [str(raw.ch_names[i]) for i in np.flatnonzero(low)]


def _heel_strikes(trial: Trial, side: str, method: str = "auto") -> tuple[np.ndarray, str]:
    from .gait_trials import heel_strike_times

    return heel_strike_times(trial, side, method)


def _body_mass(trial: Trial, side: str = "r", hs: np.ndarray | None = None) -> tuple[float, str]:
    """Body mass (kg) and its origin: covariates/meta first, else the mean total vertical GRF over whole cycles."""
    cov = trial.meta.get("covariates") or {}
    for key in ("weight", "mass", "weight_kg", "body_mass_kg"):
        for src, where in ((cov, "covariates"), (trial.meta, "meta")):
            if src.get(key) is not None:
                return float(src[key]), where
    if "grf" in trial:
        from .trial import grf_sagittal

        _, _, total = grf_sagittal(trial["grf"], side)
        if total is not None:
            from . import estimate_body_mass

            hs = _heel_strikes(trial, side)[0] if hs is None else hs
            g = trial["grf"]
            i0, i1 = int((hs[0] - g.t0) * g.fs), int((hs[-1] - g.t0) * g.fs)
            mass = estimate_body_mass(total[max(i0, 0):max(i1, i0 + 1)])
            if not 30.0 <= mass <= 200.0:
                log.warning("%r: body mass estimated from the GRF is %.1f kg, outside 30-200 kg (one foot on the "
                            "plates, or forces not in N?); give 'weight' (kg) in participants.csv", trial, mass)
            else:
                log.info("%r: body mass estimated from the GRF as %.1f kg", trial, mass)
            return mass, "estimated from the GRF"
    raise DataError("body mass unknown: add a 'weight' column (kg) to participants.csv or a GRF stream with both feet",
                    trial.source)


def trial_to_cycles(trial: Trial, *, trial_name: str | None = None, side: str = "r", n_points: int = 101,
                    bandpass: tuple[float, float] = (20.0, 450.0), envelope_hz: float = 6.0,
                    body_mass: float | None = None, muscles: list[str] | None = None,
                    emg_map: dict[str, str] | None = None, force_plates: dict[str, str] | None = None,
                    heel_strikes: str = "auto", rules=None, crop: bool = True,
                    kinematics_only: bool = False) -> GaitCycles:
    """Cut one Trial into time-normalised cycles (module docstring lists what it needs).

    ``muscles`` / ``emg_map`` choose and name the EMG channels to predict; ``force_plates``
    assigns plates to feet (default: from names, checked against kinematics); heel strikes
    come from events, GRF or kinematics (``heel_strikes``); cycles outside ``rules``
    (:class:`~.trials.CycleRules`) or outside the valid range of the angles (``crop``) are
    rejected and counted in ``info``. With ``kinematics_only`` (applying a trained model to a
    new person's walking) only the angles are needed: no moments and no body mass are computed
    (``moments`` has 0 channels), and the EMG is cut when the trial has it and it reads, else
    ``emg`` has 0 channels.
    """
    from ..preprocess import segment_cycles
    from .gait_trials import CycleRules, assign_force_plates, plausible_cycles, valid_range

    for s in ("angles",) if kinematics_only else ("angles", "emg"):
        if s not in trial:
            raise DataError(f"trial has no {s!r} stream (streams: {trial.names})", trial.source)
    rules = rules or CycleRules()
    trial = for_side(trial, side)
    trial, plates = assign_force_plates(trial, side, force_plates)
    hs, hs_source = _heel_strikes(trial, side, heel_strikes)
    if kinematics_only:
        mass, mass_source = float("nan"), "not needed"
    elif body_mass is not None:
        mass, mass_source = float(body_mass), "participants"
    else:
        mass, mass_source = _body_mass(trial, side, hs)
    ang = _angles(trial, side)
    window = valid_range(ang) if crop else None
    keep, counts = plausible_cycles(hs, rules, window)
    _warn_strike_intervals(hs, counts, rules, hs_source, trial.source)
    if not keep.size:
        raise DataError(f"no plausible gait cycle among {counts['candidate']} (heel strikes from {hs_source}; "
                        f"rejected: {counts}); check data.side and data.cycle_* limits", trial.source)
    streams = {"angles": ang}
    if not kinematics_only:
        streams["moments"] = _moments(trial, side, mass)
    if not kinematics_only or "emg" in trial:
        try:
            streams["emg"] = _emg(trial, side, bandpass, envelope_hz, muscles, emg_map)
        except DataError as exc:
            if not kinematics_only:
                raise
            log.warning("%s: EMG not used (%s)", trial.source, exc)
    parts = {name: segment_cycles(rec, hs, n_points=n_points, max_duration_ratio=None)
             for name, rec in streams.items()}
    # keep plausible cycles present in all three streams (same heel strikes → same 'cycle' numbers)
    common = set(keep.tolist())
    for ep in parts.values():
        common &= set(ep.metadata["cycle"])
    if not common:
        raise DataError("no gait cycle is complete in all of angles, moments and emg", trial.source)
    sel = {k: ep.metadata["cycle"].isin(common).to_numpy() for k, ep in parts.items()}
    a = parts["angles"][sel["angles"]]
    md = pd.DataFrame({
        "subject": str(trial.subject if trial.subject is not None else trial_name),
        "trial": str(trial_name or trial.meta.get("trial") or trial.meta.get("session") or "trial"),
        "cycle": a.metadata["cycle"].to_numpy(),
    })
    subject = md["subject"].iloc[0]
    counts["kept"] = len(md)
    n, P = a.X.shape[0], a.X.shape[2]

    def cut(name: str, scale: float = 1.0) -> tuple[np.ndarray, tuple[str, ...]]:
        if name not in parts:  # kinematics only: the stream is not needed (0 channels)
            return np.zeros((n, 0, P)), ()
        return parts[name][sel[name]].X.astype(np.float64) / scale, tuple(streams[name].ch_names)

    moments, moment_names = cut("moments", mass)
    emg, emg_names = cut("emg")
    return GaitCycles(
        angles=a.X.astype(np.float64),
        moments=moments,
        emg=emg,
        durations=a.metadata["duration_s"].to_numpy(dtype=float),
        metadata=md,
        moment_names=moment_names,
        muscles=emg_names,
        info={"body_mass_kg": {subject: mass}, "body_mass_source": {subject: mass_source},
              "trials": {md["trial"].iloc[0]: {"heel_strikes": hs_source, "force_plates": plates,
                                               "valid_range_s": None if window is None else
                                               [round(window[0], 3), round(window[1], 3)],
                                               "cycles": counts}}},
    )


def _warn_strike_intervals(hs: np.ndarray, counts: dict, rules, source: str, where: str) -> None:
    """Say why, when most candidate cycles last too short or too long a time to be strides.

    A table of every foot contact given as ``heel_strike`` events (both feet: 0.55-0.6 s apart) made
    half-strides that the duration rule rejected, and the run stopped on "2 plausible gait cycle(s) in all:
    ... record more strides" of a trial of 13 strides.
    """
    if counts["duration_out_of_bounds"] * 2 <= counts["candidate"] or hs.size < 3:
        return
    med = float(np.median(np.diff(np.sort(hs))))
    if med < rules.min_s:
        why = (f"under the shortest stride (data.cycle_min_s {rules.min_s:g} s): are they the strikes of both "
               "feet, or of every step? Give data.side's heel strikes only")
    elif med > rules.max_s:
        why = (f"over the longest stride (data.cycle_max_s {rules.max_s:g} s): are strikes missing, or are the "
               "times in ms? (a slow walker: raise data.cycle_max_s)")
    else:
        return
    log.warning("%s: %d of %d candidate gait cycles rejected for their duration: heel strikes (from %s) lie a median "
                "%.2f s apart, %s", where, counts["duration_out_of_bounds"], counts["candidate"], source, med, why)


def normalise_emg(cycles: GaitCycles, reference: np.ndarray | None = None) -> tuple[GaitCycles, pd.DataFrame]:
    """Divide each subject's envelopes by the peak of its ensemble average over reference cycles.

    Parameters
    ----------
    cycles : GaitCycles
    reference : bool array (n,), optional
        Cycles that define each subject's scale (default: all of the subject's cycles).

    Returns
    -------
    cycles : GaitCycles with normalised ``emg``
    scales : DataFrame (subject × muscle) of the divisors.
    """
    ref = np.ones(len(cycles), dtype=bool) if reference is None else np.asarray(reference, dtype=bool)
    emg = cycles.emg.copy()
    subj = cycles.metadata["subject"].to_numpy()
    rows = {}
    for s in pd.unique(subj):
        m = subj == s
        r = m & ref
        if not r.any():
            raise DataError(f"subject {s!r} has no reference cycles for EMG normalisation")
        # reference = the subject's ensemble average over its reference cycles, never other subjects'
        norm = AmplitudeNormaliser(method="peak").fit(cycles.emg[r].mean(axis=0))
        emg[m] = norm.transform(cycles.emg[m])
        rows[s] = norm.scale_
    scales = pd.DataFrame.from_dict(rows, orient="index", columns=list(cycles.muscles))
    return replace(cycles, emg=emg), scales


def baseline_drift_cycles(cycles: GaitCycles, ratio: float = 2.0, window: int = 5, quantile: float = 20.0
                          ) -> np.ndarray:
    """Cycles whose sEMG envelope floor has drifted up (electrode/baseline artefact), per trial.

    A muscle's *floor* in a cycle is the ``quantile`` (%) of its envelope over the cycle (the
    between-burst level). It is smoothed over ``window`` consecutive cycles (running median, so one
    cycle of genuine co-contraction does not count) and a cycle is flagged when, for any muscle,
    the smoothed floor exceeds ``ratio`` × that muscle's median floor over the trial: a sustained
    rise of the noise floor that no joint moment explains (e.g. the VL channel in the last cycles of
    CEINMS walk36, whose floor climbs from ~0.1 to 1.6 of the ensemble peak).

    Parameters
    ----------
    cycles : GaitCycles
        Envelopes (any units; the rule is scale-invariant), cycles in recording order per trial.
    ratio : float
        Flag when the smoothed floor exceeds ``ratio`` × the trial median floor.
    window : int
        Cycles in the running median (odd).
    quantile : float
        Percentile of the envelope taken as the floor, %.

    Returns
    -------
    flagged : bool array (n_cycles,)
    """
    from scipy.ndimage import median_filter

    if ratio <= 1 or window < 1:
        raise DataError(f"baseline drift rule needs ratio > 1 and window >= 1, got {ratio}, {window}")
    flagged = np.zeros(len(cycles), dtype=bool)
    keys = cycles.metadata["subject"].astype(str) + "/" + cycles.metadata["trial"].astype(str)
    for key in pd.unique(keys):
        idx = np.flatnonzero((keys == key).to_numpy())
        idx = idx[np.argsort(cycles.metadata["cycle"].to_numpy()[idx], kind="stable")]
        floor = np.percentile(cycles.emg[idx], quantile, axis=2)            # (n, muscles)
        smooth = median_filter(floor, size=(int(window), 1), mode="nearest")
        ref = np.median(floor, axis=0)
        flagged[idx] = (smooth > ratio * np.where(ref > 0, ref, np.inf)).any(axis=1)
    return flagged


def subtract_emg_floor(cycles: GaitCycles, percentile: float = 1.0) -> tuple[GaitCycles, pd.DataFrame]:
    """Remove each recording's envelope floor (baseline offset), per subject, trial and muscle.

    Every one of the seven muscles is silent for part of the gait cycle (e.g. soleus and
    gastrocnemius in swing, the hamstrings in mid-stance; Winter 2009, Perry & Burnfield 2010),
    so the lowest level a channel reaches over a whole trial is not muscle activity but the
    recording's floor (amplifier/offset and noise passed through the envelope). A floor that
    differs between trials is a constant offset no kinematic model can predict, and R² of an
    ensemble average is not offset-invariant. The floor is the ``percentile`` (%) of all of
    the trial's envelope samples (robust to single-sample dips); it is subtracted and the
    result clipped at 0 (an envelope is non-negative). The rule uses the channel's own
    recording only, like the band-pass and envelope filters before it, and never a score.

    Parameters
    ----------
    cycles : GaitCycles
    percentile : float
        Percentile of the trial's envelope samples taken as its floor, in [0, 50).

    Returns
    -------
    cycles : GaitCycles with the floor removed from ``emg``
    floors : DataFrame (subject/trial × muscle) of the subtracted floors.
    """
    if not 0.0 <= percentile < 50.0:
        raise DataError(f"EMG floor percentile must be in [0, 50), got {percentile}")
    emg = cycles.emg.copy()
    keys = (cycles.metadata["subject"].astype(str) + "/" + cycles.metadata["trial"].astype(str)).to_numpy()
    rows = {}
    for key in pd.unique(keys):
        m = keys == key
        # (muscles,) floor over every sample of every kept cycle of this recording
        floor = np.percentile(np.moveaxis(cycles.emg[m], 1, 0).reshape(cycles.emg.shape[1], -1), percentile, axis=1)
        emg[m] = np.maximum(cycles.emg[m] - floor[None, :, None], 0.0)
        rows[key] = floor
    floors = pd.DataFrame.from_dict(rows, orient="index", columns=list(cycles.muscles))
    return replace(cycles, emg=emg.astype(cycles.emg.dtype, copy=False)), floors


def normalise_by_calibration(c: GaitCycles, n_calib: int) -> GaitCycles:
    """Normalise each subject's EMG by its first ``n_calib`` cycles, then drop those cycles.

    The held-aside cycles play the part of the real route's calibration trial (walk36): the
    scale of a scored cycle never comes from the scored cycles. ``n_calib = 0`` normalises
    by all cycles (each subject's scored cycles) and drops nothing.
    """
    if n_calib <= 0:
        return normalise_emg(c)[0]
    order = c.metadata.assign(_row=np.arange(len(c))).sort_values(["subject", "trial", "cycle"], kind="stable")
    rank = np.empty(len(c), dtype=np.int64)
    rank[order["_row"].to_numpy()] = order.groupby("subject", sort=False).cumcount().to_numpy()
    ref = rank < n_calib
    few = sorted(set(c.metadata["subject"].astype(str)) - set(c.metadata["subject"].astype(str)[~ref]))
    if few:
        raise DataError(f"subjects {few[:5]} have no cycles left after the {n_calib} calibration cycles")
    return normalise_emg(c, reference=ref)[0].select(~ref)


def _r2_curves(t: np.ndarray, p: np.ndarray) -> np.ndarray:
    ss = ((t - t.mean(-1, keepdims=True)) ** 2).sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ss > 0, 1 - ((t - p) ** 2).sum(-1) / np.where(ss > 0, ss, 1), np.nan)


def cycle_variability(cycles: GaitCycles) -> dict[str, np.ndarray]:
    """How alike a subject's cycles are, and how alike the subjects are (envelope shapes).

    Returns
    -------
    dict with
        ``cycle`` : (n_cycles, n_muscles) R² of each cycle against the ensemble average of
        the subject's *other* cycles (cycle-to-cycle variability; amplitude-normalisation free).
        ``subject`` : (n_subjects, n_muscles) R² of each subject's ensemble average against
        the average of the other subjects' ensemble averages (empty with < 2 subjects) — the
        score of a model that predicts the cohort pattern.
    """
    subj = cycles.metadata["subject"].astype(str).to_numpy()
    per, ens = [], {}
    for s in pd.unique(subj):
        e = cycles.emg[subj == s]
        ens[s] = e.mean(0)
        if len(e) >= 2:
            tot = e.sum(0)
            per.append(_r2_curves(e, (tot[None] - e) / (len(e) - 1)))
    m = len(cycles.muscles)
    cyc = np.vstack(per) if per else np.empty((0, m))
    if len(ens) >= 2:
        stack = np.stack(list(ens.values()))
        others = (stack.sum(0)[None] - stack) / (len(stack) - 1)
        between = _r2_curves(stack, others)
    else:
        between = np.empty((0, m))
    return {"cycle": cyc, "subject": between}


def summarise_variability(v: dict[str, np.ndarray], muscles) -> dict:
    """Median and IQR, over all muscles and per muscle, of :func:`cycle_variability`'s arrays."""
    out = {}
    for key, x in v.items():
        if not x.size:
            continue
        q = np.nanpercentile(x, [25, 50, 75], axis=0)
        out[key] = {"median": float(np.nanmedian(x)), "q25": float(np.nanpercentile(x, 25)),
                    "q75": float(np.nanpercentile(x, 75)), "n": int(x.shape[0]),
                    "per_muscle": {m: {"median": float(q[1, j]), "q25": float(q[0, j]), "q75": float(q[2, j])}
                                   for j, m in enumerate(muscles)}}
    return out
