"""From evoked recordings to model inputs: responses, sequences, descriptors.

Steps (each a small function, all deterministic):

1. :func:`extract_responses` — per recording (one subject × muscle × stimulation
   frequency): stimulus times from the ``stimulus`` events (or detected from the
   artefact when a user's file has none), artefact blanking, a 10 Hz high-pass
   against baseline wander, then stimulus-locked epochs (H2's
   :func:`~myoflow.preprocess.stimulation.epoch_stimulus_locked`) → an array
   (n_pulses, n_times) in volts, t = 0 at the stimulus.
2. :class:`EvokedData` — the prepared cohort: responses per (subject, muscle,
   frequency), per-train M-wave descriptors, the participants table.
3. :func:`sequence_epochs` — the sequence input of the Bi-LSTM per subject and
   condition, as :class:`~myoflow.containers.Epochs` (channels = features per
   step, times = steps).

Sequence representation (our choice; the paper says "stimulus-locked temporal
patterns" without details): **the response waveform** by default — the M-wave
averaged over the responses of each train, t = 0–35 ms after the stimulus, one
feature per muscle × frequency at every time step. Why: (i) with ~90 subjects the
averaging over 10–50 responses per train raises the SNR by √n before a small
network sees it; (ii) the determinants of muscle mass the physiology predicts sit
in the waveform — amplitude and area scale with cross-section, fat low-passes
(widens) it, conduction velocity sets phase durations, latency depends on
distance — while within-train dynamics (potentiation) mostly track the
stimulation frequency, not the mass; (iii) attention over latency is readable
(which part of the M-wave the model used). By default (``amplitude="log_split"``)
each waveform enters as its shape (scaled to unit peak-to-peak) plus a constant
feature holding its log peak-to-peak: amplitude acts multiplicatively (fat
attenuates it exponentially, mass scales it), so a log feature lets a small network
combine it additively with the covariates. For training, each subject also
contributes ``augment`` bootstrap averages (responses drawn with replacement
within its own train) — a within-subject augmentation that never crosses the
subject boundary. The alternative ``"train"`` representation (one step per
response, features = the response waveform binned to 2.5 ms plus a frequency
one-hot in the combined condition) is available for comparison.
"""
from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..containers import Epochs, Recording
from ..errors import ConfigError, DataError

__all__ = [
    "EvokedData",
    "extract_responses",
    "condition_frequencies",
    "condition_name",
    "sequence_epochs",
    "descriptor_matrix",
    "prepare_evoked",
    "per_muscle",
    "save_evoked",
    "load_evoked",
]

log = logging.getLogger(__name__)


def condition_name(freq: float) -> str:
    """``25.0`` → ``"25Hz"``."""
    return f"{float(freq):g}Hz"


def frequencies_label(freqs: Sequence[float]) -> str:
    """``(10.0, 25.0)`` → ``"10+25 Hz"`` (for messages)."""
    return "+".join(f"{float(f):g}" for f in freqs) + " Hz"


def condition_frequencies(condition: str, frequencies: Sequence[float]) -> tuple[float, ...]:
    """Stimulation frequencies of a condition: ``"all"`` → every frequency, ``"25Hz"`` → (25.0,)."""
    if condition == "all":
        return tuple(float(f) for f in frequencies)
    for f in frequencies:
        if condition_name(f) == condition:
            return (float(f),)
    raise ConfigError(
        f"unknown condition {condition!r}; expected 'all' or one of {[condition_name(f) for f in frequencies]}"
    )


# ------------------------------------------------------------------ responses
BASELINE_MS = 5.0


def _check_train(stim: np.ndarray, fs: float, frequency_hz: float, src: str | None, given: bool = False) -> None:
    """Check the pulses (sorted samples) against the train's stated frequency.

    One recording holds one train, so a gap of k periods inside it means k - 1 pulses were not found.
    ``given``: the pulses are the recording's own 'stimulus' events (not detected from the artefact).
    """
    period = fs / frequency_hz
    gaps = np.diff(stim).astype(np.float64)
    median = float(np.median(gaps))
    if abs(median / period - 1.0) > 0.10:
        what = "its 'stimulus' events are" if given else "detected stimulus pulses are"
        fix = "check its 'frequency' meta and its 'stimulus' events" if given else \
            "check its 'frequency' meta, or give 'stimulus' events"
        raise DataError(f"{what} {1e3 * median / fs:.1f} ms apart (median), but the recording's frequency is "
                        f"{frequency_hz:g} Hz ({1e3 / frequency_hz:.1f} ms); {fix}", src)
    if given:
        return  # the stimulator's own triggers: a gap is a pause, not a pulse the detector missed
    missed = int(np.sum(np.maximum(np.round(gaps / period) - 1, 0)))
    if missed > 0.05 * (stim.size + missed):
        log.warning("%s: %d of ~%d stimulus pulses were not detected (gaps inside the %g Hz train; artefact "
                    "detection weakens below 4 kHz, here %g Hz); responses use the %d found — give 'stimulus' "
                    "events for every pulse", src, missed, stim.size + missed, frequency_hz, fs, stim.size)


def _check_events_on_artefact(stim: np.ndarray, rec: Recording, blank_ms: tuple[float, float], src: str | None
                              ) -> None:
    """Warn when a recording's own 'stimulus' events miss its stimulation artefacts.

    Blanking and the response window follow the events: events a few ms off the pulses (another clock's
    times, an offset or a drift in an events table) leave the artefact unblanked inside the window, and its
    peak became the M-wave's p-p (1.9 mV read as 32 mV for a 1 % drift). Each event is compared with the
    nearest artefact-detected pulse within half a period; the artefacts must lie inside the blanked
    ``[-blank_ms[0], +blank_ms[1]]`` ms around their events. Silent where artefacts cannot be detected
    (under 2 pulses found, or a rate too low for the detector).
    """
    from .stimulation import detect_stimuli

    try:
        found = np.asarray(detect_stimuli(rec, method="artefact"))
    except DataError:
        return
    if found.size < 2 or stim.size < 2:
        return
    half = 0.5 * float(np.median(np.diff(stim)))
    j = np.clip(np.searchsorted(found, stim), 1, found.size - 1)
    near = np.where(np.abs(found[j - 1] - stim) <= np.abs(found[j] - stim), found[j - 1], found[j])
    off_ms = 1e3 * (near - stim) / rec.fs
    matched = np.abs(off_ms) <= 1e3 * half / rec.fs
    if matched.sum() < max(2, stim.size // 2):
        return  # the detector found another train (or noise): nothing to compare with
    off = off_ms[matched]
    outside = (off < -blank_ms[0] - 1e3 / rec.fs) | (off > blank_ms[1])
    if outside.mean() > 0.1:
        log.warning("%s: its 'stimulus' events are off the stimulation artefacts (artefact %+.1f ms from the event "
                    "at the train's start, %+.1f ms at its end; %d of %d outside the blanked %g..%+g ms): blanking and "
                    "the response window follow the events, so the M-wave features are measured off the pulses; fix "
                    "the events' times, or leave the events out to detect the pulses from the artefact",
                    src, off[0], off[-1], int(outside.sum()), off.size, -blank_ms[0], blank_ms[1])


def extract_responses(
    rec: Recording,
    *,
    window_ms: tuple[float, float] = (0.0, 35.0),
    blank_ms: tuple[float, float] = (0.5, 3.0),
    highpass_hz: float | None = 10.0,
    channel: int | str = 0,
    frequency_hz: float | None = None,
) -> tuple[np.ndarray, dict[str, float]]:
    """Stimulus-locked responses of one evoked recording, and the train's M-wave descriptors.

    Parameters
    ----------
    rec : Recording
        One muscle, one stimulation train; ``stimulus`` events if available (else the
        pulses are detected from the artefact).
    window_ms : (float, float)
        Response window relative to each stimulus, ms (end exclusive). With ``frequency_hz`` given, an end
        past the pulse period (1000 / frequency_hz ms) is a :class:`DataError`.
    blank_ms : (float, float)
        Artefact blanking before/after each stimulus, ms (linear interpolation).
    highpass_hz : float or None
        Zero-phase high-pass applied after blanking (removes baseline wander).
    channel : int or str
        Channel holding the EMG.
    frequency_hz : float, optional
        The train's stated stimulation frequency (the recording's ``frequency`` meta). The pulses'
        median interval (given events or detected) must match it within 10 % (else
        :class:`DataError`); for detected pulses a warning names the recording when gaps inside the train show more
        than 5 % of its pulses missed (artefact detection weakens below 4 kHz).

    Returns
    -------
    responses : ndarray (n_pulses, n_times), float32, volts, t = window_ms[0] at column 0.
        Pulses whose window runs past either end of the recording are dropped.
    descriptors : dict
        Medians over the train of H2's :func:`~myoflow.preprocess.stimulation.mwave_descriptors`
        (5 ms pre-stimulus baseline): ``ptp_mv``, ``area_mvms``, ``latency_ms``, ``duration_ms``,
        plus ``potentiation`` (median p-p of the last fifth of the train / the first fifth).
    """
    from . import blank_artefact, detect_stimuli, epoch_stimulus_locked, highpass, mwave_descriptors

    if rec.fs < 1000:
        raise DataError(f"fs={rec.fs:g} Hz; M-wave analysis needs fs >= 1000 Hz", rec.source)
    if frequency_hz and window_ms[1] > 1000.0 / float(frequency_hz) + 1e-9:
        # A window longer than the pulse period holds the next pulse's M-wave too: descriptors such as the
        # duration and area came out silently wrong (40 Hz with the default 0-35 ms: duration 29-32 ms, not ~12).
        period = 1000.0 / float(frequency_hz)
        raise DataError(f"response window ends at {window_ms[1]:g} ms, past the {period:.4g} ms between pulses at "
                        f"{float(frequency_hz):g} Hz (it would hold the next pulse's M-wave); shorten it, e.g. "
                        f"--set 'preprocess.window_ms=[{window_ms[0]:g},{math.floor(period * 10) / 10:g}]'",
                        rec.source)
    src = rec.source
    stim = np.unique(rec.events_of("stimulus"))  # sorted, each pulse once: files list events in any order
    ci = rec.channel_index(channel)[0]
    # A bare one-channel Recording (no events/meta): the containers re-validate events and
    # deep-copy meta on every operation, which dominated the cost for ~1000 recordings.
    rec = Recording(data=rec.data[ci:ci + 1], fs=rec.fs, ch_names=[rec.ch_names[ci]], meta={"source": src})
    detected = stim.size == 0
    if detected:
        stim = np.asarray(detect_stimuli(rec, method="artefact"))
    if stim.size < 2:
        raise DataError(f"found {stim.size} stimulus pulse(s); need a train of at least 2", src)
    if frequency_hz:
        # given events too: triggers of another train, or a wrong 'frequency' meta, gave wrong features silently
        _check_train(stim, rec.fs, float(frequency_hz), src, given=not detected)
    if not detected:
        _check_events_on_artefact(stim, rec, blank_ms, src)
    rec = blank_artefact(rec, stim, pre_ms=blank_ms[0], post_ms=blank_ms[1], method="interp")
    if highpass_hz:
        rec = highpass(rec, highpass_hz)
    pre = max(BASELINE_MS, -window_ms[0])
    ep = epoch_stimulus_locked(rec, stim, pre_ms=pre, post_ms=window_ms[1])
    d = mwave_descriptors(ep, window_ms=(max(blank_ms[1], window_ms[0]), window_ms[1]))
    keep = ep.times >= window_ms[0] * 1e-3 - 1e-9
    responses = np.ascontiguousarray(ep.X[:, 0, keep], dtype=np.float32)
    ptp = d["ptp_amplitude"].to_numpy() * 1e3
    fifth = max(1, len(ptp) // 5)
    desc = {
        "ptp_mv": float(np.median(ptp)),
        "area_mvms": float(np.median(d["area"].to_numpy()) * 1e6),
        "latency_ms": float(np.nanmedian(d["latency_ms"].to_numpy())) if d["latency_ms"].notna().any() else float("nan"),
        "duration_ms": float(np.nanmedian(d["duration_ms"].to_numpy())) if d["duration_ms"].notna().any() else float("nan"),
        "potentiation": float(np.median(ptp[-fifth:]) / max(np.median(ptp[:fifth]), 1e-12)),
    }
    return responses, desc


# ------------------------------------------------------------------ the cohort
@dataclass
class EvokedData:
    """Prepared evoked cohort (picklable; what ``prepare`` returns).

    Attributes
    ----------
    participants : DataFrame
        One row per subject: ``subject``, ``label``, covariates, ground truth (``true_*``).
    responses : dict
        (subject, muscle, frequency) → ndarray (n_pulses, n_times) in volts.
    descriptors : DataFrame
        One row per (subject, muscle, frequency): ptp_mv, area_mvms, latency_ms, duration_ms, potentiation.
    fs, tmin : float
        Sampling rate (Hz) and first-sample time (s) of the responses.
    muscles, frequencies, classes, covariates : tuple
    """

    participants: pd.DataFrame
    responses: dict[tuple[str, str, float], np.ndarray]
    descriptors: pd.DataFrame
    fs: float
    tmin: float
    muscles: tuple[str, ...]
    frequencies: tuple[float, ...]
    classes: tuple[str, ...]
    covariates: tuple[str, ...]
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def subjects(self) -> np.ndarray:
        return self.participants["subject"].to_numpy()

    def labels(self, subjects: Sequence[str]) -> np.ndarray:
        p = self.participants.set_index("subject")
        return p.loc[list(subjects), "label"].to_numpy()

    def has_frequencies(self, subject: str, frequencies: Sequence[float]) -> bool:
        """Whether ``subject`` has a response of every muscle at every one of ``frequencies``."""
        return all((str(subject), m, float(f)) in self.responses for m in self.muscles for f in frequencies)


#: Covariate values a person can have (age in years, height in m, weight in kg); outside them a value is
#: a typo or in another unit (height in cm). ``myoflow predict`` refuses the same ranges.
PLAUSIBLE_COVARIATES = {"age": (10.0, 110.0), "height": (1.0, 2.5), "weight": (25.0, 300.0), "bmi": (10.0, 70.0)}
_SEX = {"m", "male", "f", "female", "man", "woman"}
#: A covariate column named with its unit (``Height (cm)``, ``weight [kg]``): the factor from the units of
#: :data:`PLAUSIBLE_COVARIATES` to that unit, so the column is held to the same range in its own unit.
_UNIT_FACTORS = {"age": {"y": 1.0, "yr": 1.0, "yrs": 1.0, "year": 1.0, "years": 1.0},
                 "height": {"m": 1.0, "cm": 100.0, "mm": 1000.0, "in": 1 / 0.0254},
                 "weight": {"kg": 1.0, "g": 1000.0, "lb": 1 / 0.45359237, "lbs": 1 / 0.45359237},
                 "bmi": {"kg/m2": 1.0, "kg/m²": 1.0, "kg/m^2": 1.0}}


def plausible_range(name: str) -> tuple[float, float] | None:
    """The values a person's covariate ``name`` can take, in its own unit; None for one myoflow has no range for.

    ``height`` is in m; ``Height (cm)`` or ``height [mm]`` (a clinic's column, read in its own unit) gets the
    same range in cm or mm: unchecked, one subject's height typed in m in a cm column trained in silence.
    """
    if name in PLAUSIBLE_COVARIATES:
        return PLAUSIBLE_COVARIATES[name]
    m = re.fullmatch(r"\s*([A-Za-z]+)\s*[(\[]\s*([^)\]]*?)\s*[)\]]\s*", str(name))
    if m is None:
        return None
    stem, unit = m.group(1).lower(), m.group(2).lower().replace(" ", "")
    k = _UNIT_FACTORS.get(stem, {}).get(unit)
    if k is None:
        return None
    lo, hi = PLAUSIBLE_COVARIATES[stem]
    return lo * k, hi * k


def muscle_channels(names: Sequence[str], muscle: str) -> list[int]:
    """Indices of the channels named like ``muscle``: exactly (any case), else as a word (``RF EMG``)."""
    m = str(muscle).strip().lower()
    exact = [i for i, c in enumerate(names) if str(c).strip().lower() == m]
    return exact or [i for i, c in enumerate(names) if m in str(c).lower().replace("_", " ").split()]


def per_muscle(recordings: Sequence[Recording], muscles: Sequence[str]) -> list[Recording]:
    """Each recording, or, for one without a ``muscle`` that has a channel named after each of several of
    ``muscles`` (RF and BF recorded together in one file), one recording per muscle holding that muscle's channel.

    Such a file was "cannot tell the muscle" (predict) or "recording meta needs ... muscle" (a folder's cohort)
    although its channels named them.
    """
    out = []
    for rec in recordings:
        hits = {m: idx for m in muscles if len(idx := muscle_channels(rec.ch_names, m)) == 1}
        if rec.meta.get("muscle") not in (None, "") or len(hits) < 2:
            out.append(rec)
            continue
        out.extend(rec.pick(idx).replace(meta={**rec.meta, "muscle": m}) for m, idx in hits.items())
    return out


def response_channel(rec: Recording, muscle: str) -> int:
    """Which channel of a stimulated recording holds the muscle's response.

    The only one, else the one named like the muscle (``RF``, ``RF EMG``); a recording with several channels
    and none of them so named (an accelerometer or trigger beside the EMG) is an error, never a guess.
    """
    if rec.n_channels == 1:
        return 0
    hits = muscle_channels(rec.ch_names, muscle)
    if len(hits) == 1:
        return hits[0]
    raise DataError(f"recording has {rec.n_channels} channels {list(rec.ch_names)[:6]} and "
                    f"{'several' if hits else 'none'} of them named {muscle!r}: which one holds the {muscle} response "
                    f"cannot be told; rename it (myoflow convert --channel-map NAME={muscle}) or keep only that channel",
                    rec.source)


def _check_covariates(parts: pd.DataFrame, covariates: Sequence[str], where: str | None) -> None:
    """Every covariate of every subject present, numeric and finite (sex: M/F), and plausible."""
    for name in covariates:
        for subject, v in zip(parts["subject"], parts[name]):
            if name == "sex":
                if not isinstance(v, str) or v.strip().lower() not in _SEX:
                    raise DataError(f"subject {subject}: sex must be M or F, got {v!r}", where)
                continue
            try:
                x = float(v)
            except (TypeError, ValueError):
                raise DataError(f"subject {subject}: covariate {name!r} must be a number, got {v!r}", where) from None
            if not np.isfinite(x):
                raise DataError(f"subject {subject}: covariate {name!r} is missing or not finite ({v!r})", where)
            lo, hi = plausible_range(name) or (-np.inf, np.inf)
            if not lo <= x <= hi:
                raise DataError(f"subject {subject}: {name}={x:g} is outside the plausible range [{lo:g}, {hi:g}] "
                                "(a typo or another unit?)", where)


def prepare_evoked(
    recordings: Sequence[Recording],
    participants: pd.DataFrame,
    *,
    label: str,
    classes: Sequence[str],
    covariates: Sequence[str],
    muscles: Sequence[str],
    frequencies: Sequence[float],
    window_ms: tuple[float, float] = (0.0, 35.0),
    blank_ms: tuple[float, float] = (0.5, 3.0),
    highpass_hz: float | None = 10.0,
    progress=None,
) -> EvokedData:
    """Turn evoked recordings + a participants table into :class:`EvokedData`.

    Each recording needs ``meta`` ``subject``, ``muscle`` and ``frequency`` (Hz).
    Subjects lacking any muscle × frequency recording, a label or a covariate raise
    :class:`DataError` naming the subject and what is missing.
    """
    src = participants.attrs.get("source")  # participants.csv of a dataset folder, when it came from one
    if "subject" not in participants.columns:
        raise DataError("participants table needs a 'subject' column", src)
    if label not in participants.columns:
        raise DataError(f"participants table has no label column {label!r}; columns: {list(participants.columns)} "
                        "(name the label column with --set data.label=COLUMN, in YAML data.label)", src)
    parts = participants.copy()
    parts["subject"] = parts["subject"].astype(str)
    missing = parts.loc[parts[label].isna(), "subject"].tolist()
    if missing:
        raise DataError(f"no label in column {label!r} for subject(s) {missing[:5]}"
                        f"{' ...' if len(missing) > 5 else ''}; give every subject one of {list(classes)}", src)
    parts["label"] = parts[label].astype(str)
    bad = sorted(set(parts["label"]) - set(classes))
    if bad:
        who = parts.loc[parts["label"].isin(bad), "subject"].tolist()
        raise DataError(f"labels {bad} in column {label!r} (subject(s) {who[:5]}{' ...' if len(who) > 5 else ''}) "
                        f"are not among the classes {list(classes)}", src)
    if parts["label"].nunique() < 2:
        raise DataError(f"every subject has the same label {sorted(set(parts['label']))} in column {label!r}: "
                        "classification needs at least two classes", src)
    miss_cov = [c for c in covariates if c not in parts.columns]
    if miss_cov:
        raise DataError(f"participants table lacks covariate column(s) {miss_cov}", src)
    # Checked here, before any response is extracted, so a bad cell is named with its file rather than
    # turning up inside a model's fit (or, for a plausible-looking typo, never).
    _check_covariates(parts, covariates, src)
    freqs = tuple(float(f) for f in frequencies)
    responses: dict[tuple[str, str, float], np.ndarray] = {}
    rows = []
    fs = None
    sources: dict[tuple[str, str, float], str | None] = {}
    units: set[str] = set()  # of the response channels: predict refuses a new person's recording in another
    for rec in recordings:
        m = rec.meta
        where = rec.source
        try:
            key = (str(m["subject"]), str(m["muscle"]), float(m["frequency"]))
        except (KeyError, TypeError, ValueError):
            raise DataError("recording meta needs subject, muscle and frequency (Hz)", where) from None
        if key[1] not in muscles or key[2] not in freqs:
            continue
        if key in sources:  # the second would silently replace the first
            raise DataError(f"a second recording of subject {key[0]}, muscle {key[1]} at {key[2]:g} Hz (the first: "
                            f"{sources[key]}); keep one, or tell them apart (e.g. another frequency or subject)", where)
        sources[key] = where
        if fs is None:
            fs, first = rec.fs, where
        elif rec.fs != fs:
            # response windows are counted in samples: say which file set the rate and how to match it
            raise DataError(f"recorded at {rec.fs:g} Hz, the cohort at {fs:g} Hz (e.g. {first}): resample it to "
                            f"{fs:g} Hz first (Python: myoflow.preprocess.resample(rec, {fs:g}), then "
                            "myoflow.io.write_dataset)", where)
        ch = response_channel(rec, key[1])
        r, desc = extract_responses(rec, window_ms=window_ms, blank_ms=blank_ms, highpass_hz=highpass_hz,
                                    frequency_hz=key[2], channel=ch)
        responses[key] = r
        units.add(str(rec.units[ch]))
        rows.append({"subject": key[0], "muscle": key[1], "frequency": key[2], **desc})
        if progress is not None:
            progress(1)
    if fs is None:
        raise DataError(f"no recordings of muscles {list(muscles)} at frequencies {list(freqs)}")
    have = set(responses)
    keep = []
    for s in parts["subject"]:
        missing = [(mu, f) for mu in muscles for f in freqs if (s, mu, f) not in have]
        complete = [f for f in freqs if all((s, mu, f) in have for mu in muscles)]
        if not complete:
            log.warning("subject %s has no frequency with every muscle %s (lacks %s); dropped", s, list(muscles),
                        missing[:3])
            continue
        if missing:
            # kept for the frequencies it has: dropping it everywhere lost a person to one missing file
            log.warning("subject %s lacks recordings %s; left out of the conditions that need them", s, missing[:3])
        keep.append(s)
    if not keep:
        raise DataError("no subject has every muscle's recording at any one frequency")
    parts = parts[parts["subject"].isin(keep)].reset_index(drop=True)
    desc = pd.DataFrame(rows)
    desc = desc[desc["subject"].isin(keep)].sort_values(["subject", "muscle", "frequency"]).reset_index(drop=True)
    return EvokedData(
        participants=parts, responses={k: v for k, v in responses.items() if k[0] in set(keep)},
        descriptors=desc, fs=float(fs), tmin=window_ms[0] * 1e-3, muscles=tuple(muscles),
        frequencies=freqs, classes=tuple(classes), covariates=tuple(covariates), info={"units": sorted(units)},
    )


# ------------------------------------------------------------------ sequences
def _decimate(x: np.ndarray, factor: int) -> np.ndarray:
    """Block-average ``factor`` samples along the last axis (a boxcar anti-alias + decimation)."""
    if factor <= 1:
        return x
    n = x.shape[-1] // factor * factor
    return x[..., :n].reshape(*x.shape[:-1], n // factor, factor).mean(-1)


def sequence_epochs(
    data: EvokedData,
    subjects: Sequence[str],
    frequencies: Sequence[float],
    *,
    representation: str = "waveform",
    augment: int = 0,
    decimate: int = 2,
    seed: int | np.random.Generator = 0,
    with_labels: bool = True,
    amplitude: str = "linear",
) -> Epochs:
    """Model input for ``subjects`` under one condition (a set of stimulation frequencies).

    Parameters
    ----------
    data : EvokedData
    subjects : sequence of str
    frequencies : sequence of float
        One frequency (single-frequency condition) or several (combined).
    representation : {"waveform", "train"}
        ``"waveform"``: X (n, n_muscles·n_freqs, n_times/decimate) — the train-averaged
        M-wave; ``"train"``: X (n, n_muscles·bins (+ n_freqs), n_pulses_total) — one step per
        response, padded; metadata ``n_steps`` marks valid steps.
    augment : int
        Extra bootstrap-averaged samples per subject (``"waveform"`` only; training data).
    decimate : int
        Block-averaging factor along time (2 kHz → 1 kHz with 2).
    seed : int or Generator
        For the bootstrap draws.
    with_labels : bool
        Attach ``y`` from the participants table.
    amplitude : {"linear", "log_split"}
        ``"log_split"`` (waveform only): each waveform scaled to unit peak-to-peak plus one
        constant feature holding its log peak-to-peak (mV) — doubles the features.

    Returns
    -------
    Epochs
        metadata: ``subject``, ``sample`` (0 = full average, ≥1 = bootstrap), covariates,
        ``label`` and (train representation) ``n_steps``.
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    freqs = [float(f) for f in frequencies]
    parts = data.participants.set_index("subject")
    missing = [s for s in subjects if s not in parts.index]
    if missing:
        raise DataError(f"unknown subject(s) {missing[:5]}")
    X, meta = [], []
    if amplitude not in ("linear", "log_split"):
        raise ConfigError(f"amplitude must be 'linear' or 'log_split', got {amplitude!r}")
    if representation == "waveform":
        names = [f"{m}@{condition_name(f)}" for f in freqs for m in data.muscles]
        if amplitude == "log_split":
            names = names + [f"log_ptp_{n}" for n in names]

        def encode(waves: list[np.ndarray]) -> np.ndarray:
            w = np.stack(waves)
            if amplitude == "linear":
                return w
            # Shape (unit peak-to-peak) and log amplitude (mV) as separate features: amplitude
            # acts multiplicatively (fat attenuates exponentially), shape carries latency/CV.
            ptp = np.maximum(w.max(1) - w.min(1), 1e-9)
            return np.concatenate([w / ptp[:, None], np.repeat(np.log(ptp * 1e3)[:, None], w.shape[1], 1)])

        for s in subjects:
            trains = [data.responses[(s, m, f)] for f in freqs for m in data.muscles]
            X.append(encode([_decimate(r.mean(0), decimate) for r in trains]))
            meta.append({"subject": s, "sample": 0})
            for b in range(int(augment)):
                X.append(encode([
                    _decimate(r[rng.integers(0, len(r), size=len(r))].mean(0), decimate) for r in trains
                ]))
                meta.append({"subject": s, "sample": b + 1})
        arr = np.stack(X).astype(np.float32)
        fs_out = data.fs / max(decimate, 1)
    elif representation == "train":
        bins = max(1, int(round(2.5e-3 * data.fs)))
        names = [f"{m}:bin{b}" for m in data.muscles for b in range(data.responses[next(iter(data.responses))].shape[1] // bins)]
        multi = len(freqs) > 1
        if multi:
            names += [f"is_{condition_name(f)}" for f in freqs]
        seqs = []
        for s in subjects:
            steps = []
            for j, f in enumerate(freqs):
                per_m = [_decimate(data.responses[(s, m, f)], bins) for m in data.muscles]
                n = min(len(p) for p in per_m)
                feat = np.concatenate([p[:n] for p in per_m], axis=1)
                if multi:
                    onehot = np.zeros((n, len(freqs)), dtype=np.float32)
                    onehot[:, j] = 1.0
                    feat = np.concatenate([feat, onehot], axis=1)
                steps.append(feat)
            seqs.append(np.concatenate(steps, axis=0))
            meta.append({"subject": s, "sample": 0, "n_steps": len(seqs[-1])})
        t_max = max(len(q) for q in seqs)
        arr = np.zeros((len(seqs), len(names), t_max), dtype=np.float32)
        for i, q in enumerate(seqs):
            arr[i, :, : len(q)] = q.T
        fs_out = 1.0  # steps are pulses, not time samples
    else:
        raise ConfigError(f"sequence representation must be 'waveform' or 'train', got {representation!r}")
    md = pd.DataFrame(meta)
    for c in data.covariates:
        md[c] = parts.loc[md["subject"], c].to_numpy()
    y = None
    if with_labels:
        md["label"] = parts.loc[md["subject"], "label"].to_numpy()
        y = md["label"].to_numpy()
    return Epochs(X=arr, fs=fs_out, ch_names=names, metadata=md, y=y, target_names=data.classes,
                  tmin=data.tmin if representation == "waveform" else 0.0,
                  meta={"representation": representation, "frequencies": freqs})


# ------------------------------------------------------------------ descriptors
DESCRIPTOR_COLUMNS = ("ptp_mv", "area_mvms", "latency_ms", "duration_ms")


def descriptor_matrix(data: EvokedData, subjects: Sequence[str], frequencies: Sequence[float],
                      columns: Sequence[str] = DESCRIPTOR_COLUMNS) -> tuple[np.ndarray, list[str]]:
    """M-wave descriptors (per muscle × frequency) as a matrix (n_subjects, n_features) with names."""
    d = data.descriptors
    d = d[d["frequency"].isin([float(f) for f in frequencies])]
    # dropna=False: a descriptor undefined for every subject (flat responses) must stay a
    # column, or training and test matrices could differ in width.
    wide = d.pivot_table(index="subject", columns=["muscle", "frequency"], values=list(columns), dropna=False)
    wide.columns = [f"{c}_{m}_{condition_name(f)}" for c, m, f in wide.columns]
    missing = [s for s in subjects if s not in wide.index]
    if missing:
        raise DataError(f"no descriptors for subject(s) {missing[:5]}")
    wide = wide.loc[list(subjects)]
    return wide.to_numpy(dtype=np.float64), list(wide.columns)


# ------------------------------------------------------------------ cache
def save_evoked(data: EvokedData, folder) -> None:
    """Write :class:`EvokedData` to ``folder`` (npz + parquet + json; no pickle). ``info.json`` last."""
    import json
    from pathlib import Path

    from .._atomic import atomic_path, atomic_write_json

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {f"{s}|{m}|{f!r}": r for (s, m, f), r in data.responses.items()}
    with atomic_path(folder / "responses.npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
    for name, df in (("participants", data.participants), ("descriptors", data.descriptors)):
        with atomic_path(folder / f"{name}.parquet") as tmp:
            df.to_parquet(tmp, index=False)
    atomic_write_json(folder / "info.json", {
        "fs": data.fs, "tmin": data.tmin, "muscles": list(data.muscles), "frequencies": list(data.frequencies),
        "classes": list(data.classes), "covariates": list(data.covariates), "info": json.loads(json.dumps(data.info, default=str)),
    })


def load_evoked(folder) -> EvokedData | None:
    """Read what :func:`save_evoked` wrote; ``None`` if the folder is incomplete or unreadable."""
    import json
    from pathlib import Path

    folder = Path(folder)
    try:
        meta = json.loads((folder / "info.json").read_text())
        with np.load(folder / "responses.npz", allow_pickle=False) as z:
            responses = {}
            for k in z.files:
                s, m, f = k.split("|")
                responses[(s, m, float(f))] = z[k]
        parts = pd.read_parquet(folder / "participants.parquet")
        desc = pd.read_parquet(folder / "descriptors.parquet")
    except (OSError, ValueError, KeyError):
        return None
    return EvokedData(parts, responses, desc, float(meta["fs"]), float(meta["tmin"]), tuple(meta["muscles"]),
                      tuple(float(f) for f in meta["frequencies"]), tuple(meta["classes"]),
                      tuple(meta["covariates"]), dict(meta.get("info") or {}))
