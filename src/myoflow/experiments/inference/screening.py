"""Screen a new person: stimulated RF/BF recordings + covariates → muscle-mass level.

The model comes from a run directory of the ``stimulated-mass`` pipeline. Which one:
the ``final`` fold (the attention Bi-LSTM trained on EVERY subject of the run, the
default when ``evaluate.final_model: true``) if the recordings cover the frequencies
it was trained on; otherwise the first cross-validation fold of the matching
condition (``all`` when the recordings cover every frequency, else the single
frequency present). Everything the model needs — sizes, class names, scaler
parameters — is read from that fold's ``extras.json``; weights from its safetensors
checkpoint (never pickle).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
import yaml

from ...containers import Recording
from ...errors import ConfigError, DataError
from .._rundir import read_fold_json
from ...preprocess.evoked_combine import combine_frequencies
from ...models.attention_bilstm import MassLevelClassifier
from ...preprocess.evoked import (
    EvokedData, _decimate, condition_name, extract_responses, frequencies_label, per_muscle, plausible_range,
    response_channel, sequence_epochs,
)

__all__ = ["parse_covariates", "load_screening_model", "screen", "ScreeningResult"]

log = logging.getLogger(__name__)

_REQUIRED = ("age", "sex", "height", "weight")
_KNOWN = {"age", "sex", "height", "weight", "bmi"}  # read in any case, as convert reads the columns


def parse_covariates(text: str, required: Sequence[str] = _REQUIRED) -> dict[str, Any]:
    """Parse ``age=45,sex=F,height=1.62,weight=60[,bmi=…]`` into a checked dict.

    Height in metres (values above 3 are taken as centimetres). BMI is computed from
    height and weight when not given. ``required``: the covariates the run was trained with
    (``bmi`` may be given or come from height and weight). Raises :class:`ConfigError` naming
    the bad item.
    """
    out: dict[str, Any] = {}
    # A run's covariates are its participants.csv columns, which keep their own spelling when they are not one
    # of the names myoflow knows ("Age (y)"): a given name is the run's when it matches one but for case, so
    # "Age (y)=54" gives the run's "Age (y)" (lower-casing every key left it "missing" whatever was typed).
    spelled = {str(r).lower(): str(r) for r in required if str(r).lower() not in _KNOWN}
    for item in [p.strip() for p in str(text).split(",") if p.strip()]:
        if "=" not in item:
            raise ConfigError(f"covariate {item!r} must look like name=value (e.g. age=45)")
        k, v = (s.strip() for s in item.split("=", 1))
        k = spelled.get(k.lower(), k.lower())
        if k in out:
            raise ConfigError(f"covariate {k!r} given twice")
        if k == "sex":
            code = v.strip().upper()[:1]
            if code not in ("M", "F") or v.strip().lower() not in ("m", "f", "male", "female"):
                raise ConfigError(f"sex must be M or F, got {v!r}")
            out[k] = code
            continue
        try:
            x = float(v)
        except ValueError:
            raise ConfigError(f"covariate {k!r} must be a number, got {v!r}") from None
        if not np.isfinite(x):
            raise ConfigError(f"covariate {k!r} must be finite, got {v!r}")
        if k == "height" and x > 3.0:
            x = x / 100.0
        out[k] = x
    need = [k for k in required if k != "bmi"]
    if "bmi" in required and "bmi" not in out:
        need += ["height", "weight"]
    missing = [k for k in dict.fromkeys(need) if k not in out]
    if missing:
        raise ConfigError(f"missing covariate(s) {missing}; the run uses {list(required)}: give --covariates "
                          + ",".join(f"{k}=…" for k in required))
    if "bmi" not in out and "height" in out and "weight" in out:
        out["bmi"] = out["weight"] / out["height"] ** 2
    for k, x in out.items():
        rng = plausible_range(k) if k != "sex" else None  # 'height (cm)' is held to the range in cm
        if rng is not None and not rng[0] <= x <= rng[1]:
            raise ConfigError(f"covariate {k}={x:g} is outside the plausible range [{rng[0]:g}, {rng[1]:g}]")
    return out


@dataclass
class ScreeningModel:
    estimator: MassLevelClassifier
    spec: dict[str, Any]
    frequencies: tuple[float, ...]
    muscles: tuple[str, ...]
    fold: str
    cfg: Any
    #: Sampling rate of the recordings the model was trained on (None: a run from before it was recorded).
    fs: float | None = None
    #: Units of the response channels it was trained on (empty: a run from before they were recorded).
    units: tuple[str, ...] = ()


def _fold_dirs(run_dir: Path) -> list[Path]:
    return sorted(p for p in (run_dir / "folds").glob("*") if (p / "result.json").is_file())


def load_screening_model(run_dir: str | Path, frequencies: Sequence[float] | None = None,
                         model: str = "attention_bilstm", fold: str | None = None) -> ScreeningModel:
    """Load the model of ``run_dir`` that matches the available stimulation ``frequencies``.

    ``fold``: the fold folder whose model is used (default: the final model, else the
    cross-validation fold of the condition using the most of ``frequencies``).
    """
    from ...experiments.registry import load_config

    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").is_file():
        raise DataError("not a run directory (no config.yaml)", str(run_dir))
    cfg = load_config(yaml.safe_load((run_dir / "config.yaml").read_text()))
    if cfg.pipeline != "stimulated-mass":
        raise DataError(f"run is of pipeline {cfg.pipeline!r}, not 'stimulated-mass'", str(run_dir))
    folds = _fold_dirs(run_dir)
    if not folds:
        raise DataError("run has no finished folds", str(run_dir))
    have = None if frequencies is None else sorted(float(f) for f in frequencies)
    candidates, saved = [], {}
    for p in folds:
        extras = read_fold_json(p / "extras.json", {})
        spec = (extras.get("models") or {}).get(model)
        if spec is None or not (p / f"{model}.safetensors").is_file():
            continue
        if "estimator" not in spec:
            log.warning("%s: %s was saved by an older myoflow (no estimator config); skipped", p.name, model)
            continue
        freqs = [float(f) for f in extras.get("condition_frequencies", [])]
        saved[p.name] = freqs
        if fold is not None and p.name != fold:
            continue
        if have is not None and not set(freqs) <= set(have):
            continue
        # Prefer: the final model, then the condition using the most frequencies.
        rank = (0 if p.name.startswith("final") else 1, -len(freqs), p.name)
        candidates.append((rank, p, spec, freqs, extras.get("fs"), tuple(extras.get("units") or ())))
    if not candidates:
        raise DataError(_no_model_message(run_dir, model, have, fold, saved), str(run_dir))
    _, p, spec, freqs, fs, units = min(candidates, key=lambda c: c[0])
    if not p.name.startswith("final") and fold is None:
        # Not silent: a cross-validation fold's model saw only part of the subjects.
        has_final = any(d.name.startswith("final") for d in folds)
        why = (f"the final model needs frequencies the recordings lack (have {frequencies_label(have or [])})"
               if has_final else "the run has no final model (evaluate.final_model: false)")
        log.warning("no final %s model fits: %s; using cross-validation fold %s's model instead", model, why,
                    p.name)
    est = MassLevelClassifier.load(p / f"{model}.safetensors", config=spec.get("estimator"))
    return ScreeningModel(est, spec, tuple(freqs), tuple(cfg.data.muscles), p.name, cfg,
                          None if fs is None else float(fs), units)


def _no_model_message(run_dir: Path, model: str, have: list[float] | None, fold: str | None,
                      saved: dict[str, list[float]]) -> str:
    """Why no saved model fits, naming what the run does have."""
    if not saved:
        names = sorted({k for p in _fold_dirs(run_dir)
                        for k in (read_fold_json(p / "extras.json", {}).get("models") or {})
                        if (p / f"{k}.safetensors").is_file()})
        return (f"this run saved no {model!r} model for predict (baselines are not saved); "
                f"--model takes one of {names or ['attention_bilstm']}")
    if fold is not None and fold not in saved:
        return f"--fold {fold!r}: no such fold with a saved {model!r} model; folds: {sorted(saved)}"
    sets = sorted({frequencies_label(f) for f in saved.values()})
    if fold is not None:
        return (f"--fold {fold}: its model was trained on {frequencies_label(saved[fold])}, but the recordings "
                f"cover {frequencies_label(have or [])} (each model needs every frequency it was trained on)")
    return (f"no {model!r} model in this run fits recordings at {frequencies_label(have or [])}: its models were "
            f"trained on {', '.join(sets)} (each needs every frequency it was trained on)")


@dataclass
class ScreeningResult:
    """Prediction for one person."""

    level: str
    probabilities: dict[str, float]
    attention: np.ndarray
    attention_axis: np.ndarray
    attention_axis_label: str
    waveforms: np.ndarray
    waveform_t_ms: np.ndarray
    channels: list[str]
    fold: str
    frequencies: tuple[float, ...]


def _recording_key(rec: Recording, muscles: Sequence[str], frequencies: Sequence[float] = ()) -> tuple[str, float]:
    """(muscle, frequency) of a new person's recording; a frequency read off the pulses is the one of the run's
    ``frequencies`` it matches (:func:`~myoflow.preprocess.stimulation.pulse_rate`)."""
    from ...preprocess.evoked import muscle_channels
    from ...preprocess.stimulation import pulse_rate

    muscle = rec.meta.get("muscle")
    if muscle is None:
        # whole words only, as the pipeline picks a response channel: "Surface EMG" is not RF
        hits = [m for m in muscles if muscle_channels(rec.ch_names, m)]
        muscle = hits[0] if len(hits) == 1 else None
    if muscle is None:
        raise DataError(f"cannot tell the muscle (channels {list(rec.ch_names)[:4]}): name its channel after one "
                        f"of {list(muscles)}, or convert the file with its muscle (myoflow convert FILE --meta "
                        f"muscle={muscles[0]} ...) and pass the .h5", rec.source)
    freq = rec.meta.get("frequency", rec.meta.get("train_frequency"))
    if freq is None:
        freq = pulse_rate(rec, frequencies or None)[0]
    return str(muscle), float(freq)


def screen(run_dir: str | Path, recordings: Sequence[Recording], covariates: dict[str, Any],
           model: str = "attention_bilstm", fold: str | None = None) -> ScreeningResult:
    """Predict the muscle-mass level of one person from their stimulated recordings.

    Parameters
    ----------
    run_dir : path
        A finished ``stimulated-mass`` run directory.
    recordings : sequence of Recording
        One per muscle × stimulation frequency (meta ``muscle``/``frequency`` or
        inferable from channel names and the pulse rate).
    covariates : dict
        From :func:`parse_covariates`.
    model, fold : str
        The run's saved model, and the fold folder it is taken from (default: see
        :func:`load_screening_model`).
    """
    if not recordings:
        raise DataError("no recordings given")
    probe = load_screening_model(run_dir, None, model, fold)  # for the muscle list
    muscles = probe.muscles
    keyed: dict[tuple[str, float], Recording] = {}
    for rec in per_muscle(recordings, muscles):
        k = _recording_key(rec, muscles, probe.frequencies)
        if k in keyed:
            raise DataError(f"two recordings of {k[0]} at {k[1]:g} Hz", rec.source)
        keyed[k] = rec
    from ...pipelines.stimulated_mass.pipeline import _warn_unread_event_kinds

    # a raw TMSi/BIDS/BDF file's stimulator trigger reads as 'trigger' events, which were ignored without a word
    _warn_unread_event_kinds(list(keyed.values()), "predict", " and pass the converted .h5 files")
    freqs_all = sorted({f for (_, f) in keyed})
    complete = [f for f in freqs_all if all((m, f) in keyed for m in muscles)]
    if not complete:
        raise DataError(f"need recordings of every muscle {list(muscles)} at one frequency at least; "
                        f"got {sorted(keyed)}")
    sm = load_screening_model(run_dir, complete, model, fold)
    pre = sm.cfg.preprocess
    # The rate the model saw: a folder's recordings keep their own rate, which data.fs (the simulator's) is not.
    expected_fs = sm.fs if sm.fs is not None else sm.cfg.data.fs
    for f in sm.frequencies:  # every recording used, before any is read: response windows are counted in samples
        for m in muscles:
            rec = keyed[(m, f)]
            if abs(rec.fs - expected_fs) > 1e-6:
                raise DataError(f"recording is at {rec.fs:g} Hz; this model was trained at {expected_fs:g} Hz — "
                                f"resample it to {expected_fs:g} Hz first (myoflow.preprocess.resample)", rec.source)
            unit = str(rec.units[response_channel(rec, m)])
            if sm.units and unit not in sm.units:
                # a MAT file (no unit: a.u.) of µV beside a model trained in volts: M-wave amplitudes 1e6 off
                raise DataError(f"the {m} channel is in {unit}; this model was trained on recordings in "
                                f"{', '.join(sm.units)}: state the file's unit (myoflow predict ... --hint "
                                f"units=uV)", rec.source)
    subject = "new"
    responses, desc_rows = {}, []
    for f in sm.frequencies:
        for m in muscles:
            r, desc = extract_responses(keyed[(m, f)], window_ms=tuple(pre.window_ms), blank_ms=tuple(pre.blank_ms),
                                        highpass_hz=pre.highpass_hz, frequency_hz=f,
                                        channel=response_channel(keyed[(m, f)], m))
            responses[(subject, m, f)] = r
            desc_rows.append({"subject": subject, "muscle": m, "frequency": float(f), **desc})
    fs = keyed[(muscles[0], sm.frequencies[0])].fs
    part = pd.DataFrame([{"subject": subject, "label": sm.cfg.data.classes[0], **covariates}])
    data = EvokedData(part, responses, pd.DataFrame(desc_rows), fs, pre.window_ms[0] * 1e-3, muscles, sm.frequencies,
                      tuple(sm.cfg.data.classes), tuple(sm.cfg.data.covariates))
    ep = sequence_epochs(data, [subject], sm.frequencies, representation=sm.spec.get("representation", "waveform"),
                         decimate=int(sm.spec.get("decimate", pre.decimate)), with_labels=False,
                         amplitude=sm.spec.get("amplitude", "linear"))
    # The same frequency combination as in training (runs before it existed stacked).
    ep = combine_frequencies(ep, sm.spec.get("combine", "stack"), muscles, sm.frequencies,
                             sm.spec.get("representation", "waveform"))
    from ...pipelines.stimulated_mass.tuning import attach_descriptors

    ep = attach_descriptors(ep, data, sm.frequencies)  # the desc:* columns of descriptors=True models
    if ep.n_times != int(sm.spec["n_steps"]):
        raise DataError(f"sequence has {ep.n_times} steps; the model was trained on {sm.spec['n_steps']}")
    proba = sm.estimator.predict_proba(ep)[0]
    dec = int(sm.spec.get("decimate", pre.decimate))
    waves = np.stack([_decimate(responses[(subject, m, f)].mean(0), dec) for f in sm.frequencies for m in muscles])
    wave_names = [f"{m}@{condition_name(f)}" for f in sm.frequencies for m in muscles]
    classes = [str(c) for c in sm.estimator.classes_]
    if sm.spec.get("representation", "waveform") == "waveform":
        axis = float(sm.spec.get("t0_ms", 0.0)) + float(sm.spec.get("step_ms", 1.0)) * np.arange(ep.n_times)
        axis_label = "time after stimulus, ms"
    else:
        axis = np.arange(ep.n_times, dtype=float)
        axis_label = "response index in the train(s)"
    t_wave = pre.window_ms[0] + 1e3 * dec / fs * np.arange(waves.shape[1])
    return ScreeningResult(
        level=classes[int(np.argmax(proba))], probabilities=dict(zip(classes, map(float, proba))),
        attention=sm.estimator.attention_[0], attention_axis=axis, attention_axis_label=axis_label,
        waveforms=waves, waveform_t_ms=t_wave, channels=wave_names, fold=sm.fold, frequencies=sm.frequencies,
    )
