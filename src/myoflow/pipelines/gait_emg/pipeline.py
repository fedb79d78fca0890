"""Seed 002 (Park & Park): sEMG of 7 lower-limb muscles predicted from gait kinematics via joint torques.

Protocol
--------
* Data: the simulated ``gait`` cohort (default 22 subjects; ``data.source:
  simulate``), or a standard dataset folder of walking Trials (``data.source:
  folder``; what each Trial needs is in :mod:`.data`), plus — when
  ``data.real`` and the files exist — the real CEINMS gait trials of one subject
  (``../shared/data/ceinms-gait``, Zenodo 6457662 subject 06): train on walk36
  (3.6 km/h), test on walk45 (4.5 km/h) and, as an out-of-distribution gait,
  run81 (8.1 km/h running).
* Each trial → heel-strike-to-heel-strike cycles at 101 points; inputs: the
  sagittal hip/knee/ankle angles and their velocities (``preprocess.inputs``);
  targets: joint moments / body mass (3 planes × 3 joints in simulation; hip 3
  planes, knee, ankle and subtalar for the OpenSim data) and sEMG linear
  envelopes normalised per subject and muscle to the peak of the subject's
  ensemble average over reference cycles that are never scored: simulated subjects
  by their first ``data.calib_strides`` strides (a calibration walk, dropped
  afterwards), real data by walk36, within-subject folder folds by the fold's
  training cycles (a folder cohort split by subjects: each subject's own cycles,
  as no calibration walk is known there).
* Real trials: heel-strike-to-heel-strike intervals more than ``data.real_cycle_max_dev``
  (shipped 10 %) off the trial's median are rejected (a heel strike detected in swing makes a
  short + long pair), and cycles of the TRAINING trial whose sEMG floor has drifted up
  (``data.real_train_drift_ratio``, :func:`~myoflow.biomech.gait_cycles.baseline_drift_cycles`)
  are dropped before normalising; the test trials are never cleaned. Every real (and folder) trial's
  per-muscle envelope floor (``data.emg_floor_percentile``, shipped 1 %) is subtracted before
  normalising: each gait muscle has a silent phase, so a trial's floor is its recording's offset
  (walk45's soleus channel sits on one of 0.7 × walk36's peak).
* Models: :class:`~myoflow.models.gait_mlp.TorqueBasedEmgRegressor` (torque MLP, then an
  added hidden layer + 7-muscle output fine-tuned; shipped ``finetune: full``) and
  :class:`~myoflow.models.gait_mlp.KinematicsEmgRegressor` (the baseline MLP); each route
  is an average of ``evaluate.ensemble`` models of different seeds (shipped 3; both chosen
  inside walk36 by ``benchmarks/select_gait_recipe.py``). Optional inputs: the gait phase
  (``preprocess.inputs: [..., phase]``) and time-shifted kinematics (``preprocess.shifts_ms``).
* Data situation (``evaluate.emg_subjects``): the torque MLP may be pretrained on the moments of every
  training subject while sEMG fine-tuning and the direct baseline see only a few of them.
* Evaluation: subject-wise K-fold (or leave-one-subject-out) on the simulated
  cohort, validation subjects for early stopping carved from the training
  subjects; R² of ensemble averages per muscle (the paper's Table 1) pooled over
  the test subjects' cycles (which mostly scores the cohort pattern) beside the
  median of each test subject's own R², per-cycle R² and Pearson r; mean over test
  subjects with a subject-bootstrap 95 % CI; torque − baseline with a paired subject bootstrap
  (pooled and per-subject). One real test trial: torque − baseline with a
  paired bootstrap over blocks of 5 consecutive test cycles. ``summary["variability"]`` holds the
  cycle-to-cycle R² of the cohort and of the real training trial, to set the
  per-subject spread against.

Conditions in ``metrics.json``: ``sim`` (a folder cohort: its name, :func:`cohort_name`), ``real/walk45``,
``real/run81``. With
``evaluate.final_model`` (default on) one more fold, ``final-all`` (condition ``final``), trains both
routes on every subject (or every cycle of a within-subject cohort) and scores nothing: it is the model
``myoflow predict`` applies to a new person's walking.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from ...config import ExperimentConfig, ModelSpec
from ...errors import ConfigError, DataError, LeakageError
from ...experiments.base import Fold, FoldContext, FoldResult, Headline, Pipeline
from ...cache import cache_key, cached
from ...models import check_model_spec, estimator_config, estimator_tensors
from .._shared import shared_data_dir
from ...biomech.gait_cycles import (MUSCLES, GaitCycles, normalise_by_calibration, normalise_emg, subtract_emg_floor,
                                    trial_to_cycles)
from .features import kinematic_inputs, to_rows, from_rows
from ...evaluate.bootstrap import bootstrap_mean, cluster_bootstrap
from ...evaluate.metrics import pearson_per_cycle, r2_ensemble_average, r2_ensemble_average_from_sums, r2_per_cycle
from .scoring import cycles_from_frame, prediction_frame, subject_scores

__all__ = ["GaitEmgPipeline", "GaitEmgConfig", "GaitData", "PAPER_TABLE1", "SIM", "cohort_name", "load_gait_data"]

log = logging.getLogger(__name__)

#: Park & Park, Table 1: R² of ensemble averages per muscle.
PAPER_TABLE1 = {
    "torque_based": {"TA": 0.737, "GM": 0.877, "VL": 0.687, "RF": 0.470, "BF": 0.573, "ST": 0.808, "SOL": 0.824},
    "baseline": {"TA": -1.14, "GM": -0.0516, "VL": -26.9, "RF": -73.8, "BF": -2.02, "ST": -4.24, "SOL": 0.00343},
}
MODELS = ("torque_based", "baseline")
#: Condition (and fold-id prefix) of the fold trained on every subject (evaluate.final_model).
FINAL = "final"
#: Name of the simulated cohort (condition, fold-id prefix ``sim-k0``, summary keys), and the internal
#: name every seed input keeps for a folder cohort too (its folds are seeded by their ``sim-`` ids).
SIM = "sim"


def cohort_name(cfg: Any) -> str:
    """The visible name of the cohort of ``cfg``: ``sim`` unless ``data.source: folder``.

    A folder cohort is named as its headline rows always were: the run's ``name`` (``myoflow run
    gait-emg --data DIR`` names the run after the folder), or the folder's own name when the config
    keeps the pipeline's name. The name goes into fold ids (``lab-k0``, ``lab-loso-S01``), the
    condition and summary keys, headline labels, figure titles and the progress bar, so it is made
    condition-safe (letters, digits, ``_`` and ``-``); a name that is a condition of its own
    (``sim``, ``real``, ``final``) gets ``-data`` appended.

    Parameters
    ----------
    cfg : GaitEmgConfig

    Returns
    -------
    str
    """
    from ...experiments.quickrun import cohort_name as folder_name

    d = cfg.data
    if getattr(d, "source", None) != "folder" or getattr(d, "path", None) is None:
        return SIM
    if cfg.name in (None, "", cfg.pipeline):
        return folder_name(d.path)
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", str(cfg.name)).strip("-_") or folder_name(d.path)
    return f"{name}-data" if name in (SIM, "real", FINAL) else name


# ------------------------------------------------------------------ config
@dataclass
class GaitDataConfig:
    """Where the cycles come from (see the module docstring)."""

    #: simulate | folder | real (no cohort: only the real trials of ``data.real``, e.g. to score walk45 alone)
    source: Literal["simulate", "folder", "real"] = "simulate"
    path: Path | None = None
    subjects: int = 22
    strides: int = 20
    #: Extra strides simulated before the scored ones, per subject: the calibration walk whose
    #: ensemble-average peak normalises that subject's EMG (as walk36 does for the real trials), so
    #: no subject is normalised by the cycles it is scored on. 0 = normalise by the scored cycles.
    calib_strides: int = 5
    sim_seed: int = 0
    fs_sim: float = 4096.0
    #: Overrides of :class:`~myoflow.simulate.protocols.gait.GaitVariability` for the simulated cohort
    #: (e.g. ``{subject_shape_sd: 0.2}``); {} = the simulator's calibrated defaults. For selection runs
    #: on another sim seed (``benchmarks/gait_variability.py``, ``benchmarks/select_gait_sim_protocol.py``).
    sim_variability: dict[str, float] = field(default_factory=dict)
    real: bool = True
    real_path: Path | None = None
    real_train: str = "walk36"
    real_test: list[str] = field(default_factory=lambda: ["walk45", "run81"])
    side: Literal["r", "l"] = "r"
    cache: bool = True
    #: Folder trials. EMG channel renames (``{EMG1: TA}``) and the muscles to predict
    #: (default: those of the paper's seven that are present; any names may be listed).
    emg_map: dict[str, str] = field(default_factory=dict)
    muscles: list[str] | None = None
    #: OpenSim force-plate prefix -> foot, e.g. ``{ground_force: l}``; default: names, checked against kinematics.
    force_plates: dict[str, str] = field(default_factory=dict)
    heel_strikes: Literal["auto", "events", "grf", "kinematics"] = "auto"
    #: Plausible cycles: duration limits (s) and largest relative deviation from the trial's median.
    cycle_min_s: float = 0.6
    cycle_max_s: float = 2.0
    cycle_max_dev: float = 0.3
    #: The same relative-duration rule for the real trials (data.real); stride time varies by a CV of
    #: ~2-3 % in steady walking, so a cycle 10 % off the median is a heel-strike detection error.
    real_cycle_max_dev: float = 0.3
    #: Drop cycles of the real TRAINING trial whose sEMG floor has drifted up (running median over 5
    #: cycles > this × the trial's median floor, :func:`~myoflow.biomech.gait_cycles.baseline_drift_cycles`);
    #: null = keep every cycle. The test trials are never cleaned (every plausible cycle is scored).
    real_train_drift_ratio: float | None = None
    #: Subtract each real / folder trial's per-muscle envelope floor (this percentile, %, of the trial's
    #: envelope samples) before normalising (:func:`~myoflow.biomech.gait_cycles.subtract_emg_floor`): every
    #: gait muscle has a silent phase, so a trial's lowest level is its recording's offset, not activity.
    #: null = keep the floor. Simulated cohorts are never changed (their floor is modelled noise).
    emg_floor_percentile: float | None = None
    crop: bool = True                  # reject cycles outside each trial's finite, physiological angle range
    #: How a folder cohort is evaluated: by subjects (needs >= 3), within-subject by trials
    #: (leave one trial out) or by cycles (contiguous blocks, ``cycle_gap`` cycles dropped
    #: either side of the test block); auto = subjects when >= 3, else trials when >= 2, else cycles.
    split: Literal["auto", "subjects", "trials", "cycles"] = "auto"
    cycle_folds: int = 5
    cycle_gap: int = 1

    def __post_init__(self) -> None:
        if self.source == "folder" and self.path is None:
            raise ConfigError("data.path is required when data.source is 'folder'")
        if not 0 < self.cycle_min_s < self.cycle_max_s or not 0 < self.cycle_max_dev or not 0 < self.real_cycle_max_dev:
            raise ConfigError("data.cycle_min_s < data.cycle_max_s and data.cycle_max_dev, data.real_cycle_max_dev > 0 "
                              "are required")
        if self.emg_floor_percentile is not None and not 0 <= self.emg_floor_percentile < 50:
            raise ConfigError(f"data.emg_floor_percentile must be in [0, 50) or null, got {self.emg_floor_percentile}")
        if self.cycle_folds < 2 or self.cycle_gap < 0:
            raise ConfigError("data.cycle_folds must be >= 2 and data.cycle_gap >= 0")
        if self.source == "simulate" and self.subjects < 3:
            raise ConfigError(f"data.subjects must be >= 3 (train, validation and test subjects), got {self.subjects}")
        if self.strides < 2:
            raise ConfigError(f"data.strides must be >= 2, got {self.strides}")
        if self.calib_strides < 0:
            raise ConfigError(f"data.calib_strides must be >= 0, got {self.calib_strides}")
        if self.sim_variability:
            from dataclasses import fields

            from ...simulate.protocols.gait import GaitVariability

            known = {f.name for f in fields(GaitVariability)}
            bad = sorted(set(self.sim_variability) - known)
            if bad:
                raise ConfigError(f"data.sim_variability: unknown keys {bad}; known: {sorted(known)}")
            for k, v in self.sim_variability.items():
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v) or v < 0:
                    raise ConfigError(f"data.sim_variability.{k} must be a number >= 0, got {v!r}")


@dataclass
class GaitPreprocessConfig:
    n_points: int = 101
    bandpass: tuple[float, float] = (20.0, 450.0)
    envelope_hz: float = 6.0
    inputs: list[str] = field(default_factory=lambda: ["angles", "velocity"])
    #: extra copies of the kinematic inputs read this many ms later (negative: earlier) in the cycle
    shifts_ms: list[float] = field(default_factory=list, metadata={"signed": True})


@dataclass
class GaitEvaluateConfig:
    splitter: Literal["kfold", "loso"] = "kfold"
    n_splits: int = 11
    n_boot: int = 1000
    real_val_fraction: float = 0.2
    #: models per route (torque-based and baseline alike), trained with different seeds; predictions averaged
    ensemble: int = 1
    #: Simulated cohorts: how many training subjects carry sEMG (null = all; a folder cohort always uses all).
    #: The torque MLP is pretrained on the moments of EVERY training subject; sEMG fine-tuning and the
    #: direct baseline see only these subjects (the same ones for both routes), drawn per fold from the
    #: fold's fit and validation subjects (round(train.val_fraction × n), at least 1, for early stopping):
    #: joint moments of many people, sEMG of a few.
    emg_subjects: int | None = None
    #: One more fold trained on every subject of the cohort (every cycle when within-subject), scoring nothing:
    #: the model ``myoflow predict`` uses by default (a cross-validation fold's saw only part of the subjects).
    final_model: bool = True

    def __post_init__(self) -> None:
        if self.ensemble < 1:
            raise ConfigError(f"evaluate.ensemble must be >= 1, got {self.ensemble}")
        if self.emg_subjects is not None and self.emg_subjects < 1:
            raise ConfigError(f"evaluate.emg_subjects must be >= 1 or null, got {self.emg_subjects}")


@dataclass
class GaitEmgConfig(ExperimentConfig):
    data: GaitDataConfig = field(default_factory=GaitDataConfig)
    preprocess: GaitPreprocessConfig = field(default_factory=GaitPreprocessConfig)
    #: The torque-based model (``name: torque_emg_mlp``) and the baseline (``kinematics_emg_mlp``):
    #: estimator parameters; the train section fills epochs, lr, ...; seed, device and ``n_emg`` are the pipeline's.
    model: ModelSpec = field(default_factory=lambda: ModelSpec("torque_emg_mlp"))
    baseline: ModelSpec = field(default_factory=lambda: ModelSpec("kinematics_emg_mlp"))
    evaluate: GaitEvaluateConfig = field(default_factory=GaitEvaluateConfig)

    def __post_init__(self) -> None:
        check_model_spec(self.model, "model", allowed=("torque_emg_mlp",))
        check_model_spec(self.baseline, "baseline", allowed=("kinematics_emg_mlp",))


# ------------------------------------------------------------------ data
@dataclass
class GaitData:
    """Prepared cycles: ``sim`` (simulated or folder cohort) and ``real`` (trial name → cycles)."""

    sim: GaitCycles | None
    real: dict[str, GaitCycles]
    info: dict[str, Any] = field(default_factory=dict)


def _with_participant(trial, parts: pd.DataFrame | None):
    """The trial with its subject's anthropometry from participants.csv in ``meta["covariates"]``.

    A trial without a moments stream gets them by inverse dynamics, which reads height (and weight) from
    there: without this a height in the participants table was ignored ("height unknown"). Values the trial
    already carries are kept.
    """
    if parts is None or "subject" not in parts.columns:
        return trial
    rows = parts[parts["subject"].astype(str) == str(trial.subject)]
    if rows.empty:
        return trial
    cov = dict(trial.meta.get("covariates") or {})
    for k in ("height", "weight"):
        v = pd.to_numeric(rows[k], errors="coerce").iloc[0] if k in rows.columns else np.nan
        if np.isfinite(v) and k not in cov:
            cov[k] = float(v)
    return trial.replace(meta={**dict(trial.meta), "covariates": cov}) if cov else trial


_DEGREE_UNITS = {"deg", "degree", "degrees", "°"}


def _check_degrees_stated(trial) -> None:
    """Refuse joint angles stated in degrees whose values never reach pi (radians under a degree label), and
    angles stated in radians beyond a full turn (degrees under a radian label).

    Walking flexes the knee by ~60 degrees, so a whole trial whose angles all stay within +-3.14 "deg" is
    radians (an export that wrote ``[deg]`` over radians); read as stated it trained and scored on angles
    57 times too small with exit 0. Undeclared units are checked the same way when the cycles are cut.
    """
    if "angles" not in trial:
        return
    rec = trial["angles"]
    unit_of = [str(u).strip().lower() for u in rec.units]
    data = np.asarray(rec.data, dtype=np.float64)

    def values(kinds: set[str]) -> np.ndarray:
        # the joints stated in these units: OpenSim adds pelvis_tx (m), and a pelvis turning with the walker
        # on an overground course may pass a full turn
        rows = [i for i, u in enumerate(unit_of) if u in kinds and "pelvis" not in str(rec.ch_names[i]).lower()]
        x = data[rows]
        return x[np.isfinite(x)]

    finite = values(_DEGREE_UNITS)
    if finite.size and float(np.abs(finite).max()) < np.pi:
        raise DataError(f"joint angles are stated in degrees but never exceed {float(np.abs(finite).max()):.2f} "
                        "in magnitude, while walking flexes the knee by ~60 degrees: they look like radians "
                        "labelled degrees; state the unit as rad in the file (e.g. a 'knee_flexion [rad]' "
                        "header, or OpenSim inDegrees=no) or convert the values to degrees", rec.source)
    finite = values({"rad", "radian", "radians"})
    if finite.size and float(np.abs(finite).max()) > 2 * np.pi:
        # the other way round: read as radians, 60 "rad" became 3438 degrees and every sample fell outside
        # the joints' ranges, a message that named the ranges but not the unit
        raise DataError(f"joint angles are stated in radians but reach {float(np.abs(finite).max()):.1f}, more than "
                        "a full turn: they look like degrees labelled radians; state the unit as deg in the file "
                        "(e.g. a 'knee_flexion [deg]' header, or OpenSim inDegrees=yes) or convert the values",
                        rec.source)


def _check_side(trial, side: str, predicting: bool = False) -> None:
    """Name ``data.side`` when the trial's OpenSim angles are the other leg's only, and the missing angle when
    this leg's are incomplete.

    A left-leg set (Camargo et al. 2021 records the left side) stopped on "angles stream needs
    [...] or ['hip_flexion_r', ...]", which did not say that the side is a setting. When ``predicting``
    (``myoflow predict``), the side is the trained run's and cannot be set: the message says so.
    """
    from ...biomech.gait_cycles import ANGLES_MYOFLOW, ANGLES_OPENSIM

    if "angles" not in trial:
        return
    have = set(trial["angles"].ch_names)
    if set(ANGLES_MYOFLOW) <= have:
        return
    other = {"r": "l", "l": "r"}.get(str(side).lower())
    # OpenSim's names, or myoflow's per side (a Plug-in Gait C3D holding one leg)
    schemes = (ANGLES_OPENSIM, ANGLES_MYOFLOW)
    mine = max(([f"{j}_{side}" for j in joints] for joints in schemes), key=lambda m: sum(c in have for c in m))
    if 0 < sum(c in have for c in mine) < len(mine):
        # this leg's angles with one left out of the export: not the other leg's trial, whatever that leg
        # carries (an IK .mot of both legs without ankle_angle_r read "the angles are the left leg's")
        raise DataError(f"the angles of data.side {side!r} lack {', '.join(c for c in mine if c not in have)} (the "
                        f"trial has {', '.join(c for c in mine if c in have)}): gait-emg needs the hip, knee and "
                        "ankle angles of one leg; export the missing coordinate",
                        trial["angles"].source or trial.source)
    for joints in schemes:
        if not (other and not all(f"{j}_{side}" in have for j in joints)
                and all(f"{j}_{other}" in have for j in joints)):
            continue
        leg = "left" if other == "l" else "right"
        but = (f"the run was trained on data.side {side!r}: predict this leg with a run trained with "
               f"--set data.side={other}" if predicting else
               f"data.side is {side!r}: set data.side: {other} (myoflow run ... --set data.side={other})")
        raise DataError(f"the angles are the {leg} leg's ({', '.join(f'{j}_{other}' for j in joints)}) while {but}",
                        trial["angles"].source or trial.source)


def _check_emg_map(emg_map: dict[str, str], trials, where: str) -> None:
    """Refuse a ``data.emg_map`` key that names no EMG channel of any trial of the folder.

    A typo (``tibialisanterior`` for a ``tibialis anterior`` channel) left that channel unmapped, and since a
    trial carrying some of the muscles is scored on those, the muscle dropped out of the run without a word.
    Checked over the whole folder (a trial may lack a muscle); ``myoflow predict`` is not checked (a new
    person's trial may carry fewer muscles than the run).
    """
    if not emg_map:
        return
    channels = sorted({str(c) for _, t in trials if "emg" in t for c in t["emg"].ch_names})
    unknown = [k for k in emg_map if str(k) not in channels]
    if unknown:
        import difflib

        near = {k: difflib.get_close_matches(str(k), channels, n=1) for k in unknown}
        hint = ", ".join(f"{v[0]!r} for {k!r}" for k, v in near.items() if v)
        raise DataError(f"data.emg_map key(s) {unknown} name no EMG channel of any trial, and an unmatched key "
                        f"leaves its muscle out of the run; the channels are {channels[:12]}"
                        f"{' ...' if len(channels) > 12 else ''}{f' (did you mean {hint}?)' if hint else ''}", where)


#: Below this peak |sagittal moment| (N·m) over a walking trial the moments are per kg already: an adult's
#: ankle peaks at ~1.5 N·m/kg, i.e. 30 N·m for a 20 kg child and over 70 N·m for most adults.
_PER_KG_PEAK = 10.0


def _undo_per_kg(trial, side: str, masses: dict | None):
    """Moments already divided by body mass (N·m/kg), as many public gait sets ship them, times the mass.

    The pipeline divides a trial's moments by the subject's body mass; moments that were per kg already became
    N·m/kg² and every subject's torque targets were scaled by 1/mass, with exit 0. Read as per kg when their
    unit says so (``N·m/kg``) or when the sagittal moments never reach ``_PER_KG_PEAK`` N·m; said in a warning.
    """
    from ...biomech.gait_cycles import OPENSIM_MOMENTS

    if "moments" not in trial:
        return trial
    rec = trial["moments"]
    names = {m for n in ("hip_sagittal", "knee_sagittal", "ankle_sagittal") for m in (n, f"{n}_{side}")} | {
        OPENSIM_MOMENTS[k][0].format(s=side) for k in ("hip_sagittal", "knee_sagittal", "ankle_sagittal")}
    rows = [i for i, c in enumerate(rec.ch_names) if c in names]
    if not rows:
        return trial
    units = {str(rec.units[i]).replace(" ", "").lower() for i in rows}
    x = np.asarray(rec.data, dtype=np.float64)[rows]
    x = x[np.isfinite(x)]
    if not x.size:
        return trial
    peak = float(np.abs(x).max())
    stated = any("/kg" in u for u in units)
    if not stated and not 0 < peak < _PER_KG_PEAK:
        return trial
    mass = (masses or {}).get(str(trial.subject))
    if mass is None:
        cov = trial.meta.get("covariates") or {}
        mass = cov.get("weight")
    if mass is None or not np.isfinite(float(mass)):
        raise DataError(f"the joint moments {'are stated in N·m/kg' if stated else f'peak at {peak:.2f} N·m'} "
                        "(per kg already) and the subject's body mass is unknown: add a 'weight' column (kg) to "
                        "participants.csv", rec.source or trial.source)
    if not stated:
        log.warning("%s: the sagittal joint moments peak at %.2f N·m, which walking exceeds many times over: read "
                    "as N·m/kg (already divided by body mass; state N·m/kg in the file to say so)",
                    rec.source or trial.source, peak)
    return trial.with_stream("moments", rec.with_data(np.asarray(rec.data) * float(mass)).replace(
        units=tuple("N·m" if "/kg" in str(u).replace(" ", "").lower() else u for u in rec.units)))


def _warn_heel_strike_names(trial) -> None:
    """Warn when a trial's events look like heel strikes but are not read as such.

    ``heel_strike`` events are read as heel strikes, and so are a side's own (a C3D's ``Right Foot Strike``,
    ``L_HS``: :func:`~myoflow.biomech.gait_trials.heel_strike_times`); an events table's ``HS`` or a
    ``Foot Strike`` without its side was passed over without a word and the strikes were detected from the
    GRF or the kinematics.
    """
    from ...biomech.gait_trials import unread_strike_kinds

    odd = unread_strike_kinds(trial)
    if odd:
        log.warning("%s: events %s look like heel strikes, but only events of kind 'heel_strike' are read as "
                    "heel strikes (these are detected from the GRF or the kinematics instead); rename those of "
                    "data.side when converting (myoflow convert --event-map '%s=heel_strike') or give them with "
                    "--events", trial.source, odd, odd[0])


def _cycles_from_trials(trials, cfg: GaitEmgConfig, masses: dict | None = None, user: bool = False,
                        real: bool = False, kinematics_only: bool = False) -> GaitCycles:
    from ...biomech.gait_trials import CycleRules

    pre, d = cfg.preprocess, cfg.data
    items = []
    rules = CycleRules(d.cycle_min_s, d.cycle_max_s, d.real_cycle_max_dev if real else d.cycle_max_dev)
    extra = dict(muscles=d.muscles, emg_map=d.emg_map, force_plates=d.force_plates, heel_strikes=d.heel_strikes,
                 rules=rules, crop=d.crop) if user else ({"rules": rules} if real else {})
    for name, trial in trials:
        if user:
            _check_side(trial, cfg.data.side, predicting=kinematics_only)
            _check_degrees_stated(trial)
            _warn_heel_strike_names(trial)
            if not kinematics_only:
                trial = _undo_per_kg(trial, cfg.data.side, masses)
        mass = None if masses is None else masses.get(str(trial.subject))
        items.append(trial_to_cycles(trial, trial_name=name, side=cfg.data.side, n_points=pre.n_points,
                                     bandpass=tuple(pre.bandpass), envelope_hz=pre.envelope_hz, body_mass=mass,
                                     kinematics_only=kinematics_only, **extra))
    out = GaitCycles.concatenate(items)
    out.info = {key: {k: v for it in items for k, v in it.info.get(key, {}).items()}
                for key in ("body_mass_kg", "body_mass_source", "trials")}
    return _without_constant_moments(out, [name for name, _ in trials]) if user and not kinematics_only else out


def _without_constant_moments(c: GaitCycles, trials: list[str]) -> GaitCycles:
    """The cycles without joint moments that are constant over every cycle of every trial.

    An inverse-dynamics file of a model with a locked coordinate (OpenSim's ``subtalar_angle_r_moment`` of a
    gait2392 or Rajagopal model, written as zeros) gave a torque target the network cannot be scored on: its
    R² was NaN in every fold and metrics.json held NaN beside numpy's "Mean of empty slice" warnings. Which
    columns are dropped depends on the moments alone (no EMG, no score).
    """
    m = c.moments
    if not m.shape[1]:
        return c
    flat = [j for j in range(m.shape[1]) if np.nanmax(m[:, j]) == np.nanmin(m[:, j])]
    if not flat:
        return c
    names = [c.moment_names[j] for j in flat]
    if len(flat) == m.shape[1]:
        raise DataError(f"every joint moment {names} is constant over every gait cycle: the torque route has "
                        "nothing to learn; check the inverse-dynamics output of the trials", ", ".join(trials))
    log.warning("%s: joint moments %s are constant over every gait cycle (a locked coordinate's column of the "
                "inverse-dynamics file): left out of the torque route's targets", ", ".join(trials[:3]) +
                (", ..." if len(trials) > 3 else ""), names)
    keep = [j for j in range(m.shape[1]) if j not in flat]
    return replace(c, moments=m[:, keep], moment_names=tuple(c.moment_names[j] for j in keep))


def _sim_cache_key(cfg: GaitEmgConfig) -> str:
    from ... import __version__

    d, p = cfg.data, cfg.preprocess
    # the simulator's own code is part of the key, so editing it never serves stale cycles
    from ...simulate import simulator_digest

    return cache_key({"v": __version__, "sim": simulator_digest(), "n": d.subjects, "strides": d.strides,
                      "calib": d.calib_strides, **({"var": dict(sorted(d.sim_variability.items()))}
                                                   if d.sim_variability else {}),
                      "seed": d.sim_seed, "fs_sim": d.fs_sim, "pts": p.n_points, "bp": list(p.bandpass),
                      "env": p.envelope_hz})


def _save_cycles(c: GaitCycles, path: Path) -> None:
    from ..._atomic import atomic_path

    with atomic_path(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, angles=c.angles, moments=c.moments, emg=c.emg, durations=c.durations,
                     subject=np.asarray(c.metadata["subject"].astype(str).to_list(), dtype=str),
                     trial=np.asarray(c.metadata["trial"].astype(str).to_list(), dtype=str),
                     cycle=c.metadata["cycle"].to_numpy(dtype=np.int64),
                     moment_names=np.array(c.moment_names), info=np.array(json.dumps(c.info)))


def _load_cycles(path: Path) -> GaitCycles:
    with np.load(path, allow_pickle=False) as z:
        md = pd.DataFrame({"subject": z["subject"].astype(str), "trial": z["trial"].astype(str), "cycle": z["cycle"]})
        return GaitCycles(angles=z["angles"], moments=z["moments"], emg=z["emg"], durations=z["durations"],
                          metadata=md, moment_names=tuple(str(s) for s in z["moment_names"]),
                          info=json.loads(str(z["info"])))


def drop_drifting_training_cycles(cyc: GaitCycles, train: str, ratio: float) -> tuple[GaitCycles, int]:
    """Remove the training trial's cycles flagged by :func:`baseline_drift_cycles`; other trials untouched."""
    from ...biomech.gait_cycles import baseline_drift_cycles

    is_train = (cyc.metadata["trial"].astype(str) == str(train)).to_numpy()
    flagged = np.zeros(len(cyc), dtype=bool)
    flagged[is_train] = baseline_drift_cycles(cyc.select(is_train), ratio=ratio)
    if flagged.sum() >= is_train.sum() - 1:
        raise DataError(f"data.real_train_drift_ratio {ratio}: {int(flagged.sum())} of {int(is_train.sum())} "
                        f"{train} cycles flagged; raise the ratio")
    return cyc.select(~flagged), int(flagged.sum())


def load_gait_data(cfg: GaitEmgConfig, cache_dir: Path | None = None) -> GaitData:
    """Simulate / read the cohort and the real trials, cut cycles, normalise sEMG."""
    d = cfg.data
    info: dict[str, Any] = {"source": d.source}
    sim: GaitCycles | None = None
    if d.source == "real":
        if not d.real:
            raise ConfigError("data.source: real needs data.real: true (the real trials are the only data)")
    elif d.source == "simulate":
        cache = None if (cache_dir is None or not d.cache) else Path(cache_dir) / "gait_emg" / f"sim-{_sim_cache_key(cfg)}.npz"

        def build() -> GaitCycles:
            from ...simulate.protocols.gait import GaitVariability, simulate_gait

            var = replace(GaitVariability(), **d.sim_variability) if d.sim_variability else None
            trials, _ = simulate_gait(d.subjects, d.sim_seed, d.strides + d.calib_strides, fs_sim=d.fs_sim,
                                      variability=var)
            return normalise_by_calibration(_cycles_from_trials([("walk", t) for t in trials], cfg), d.calib_strides)

        sim = cached(cache, lambda p: _load_cycles(p) if p.is_file() else None, _save_cycles, build,
                     what="simulated gait cycles")
        info.update(n_subjects=d.subjects, strides=d.strides, sim_seed=d.sim_seed, calib_strides=d.calib_strides,
                    sim_variability=dict(d.sim_variability),
                    emg_reference=(f"each subject's first {d.calib_strides} strides (a calibration walk, not scored)"
                                   if d.calib_strides else "each subject's scored cycles (data.calib_strides: 0)"))
    else:
        from ...containers import Trial
        from ...io.dataset import load_dataset

        ds = load_dataset(d.path)
        parts = ds.participants
        masses = None
        if parts is not None and "weight" in parts.columns:
            w = pd.to_numeric(parts["weight"], errors="coerce")
            masses = {s: float(v) for s, v in zip(parts["subject"].astype(str), w) if np.isfinite(v)}
        trials = [(stem, _with_participant(obj, parts)) for stem, obj in ds if isinstance(obj, Trial)]
        if not trials:
            # a BIDS tree's EMG alone (motion/ is not read) or an EMG-only folder: say what is missing
            n_rec = sum(1 for _, obj in ds if not isinstance(obj, Trial))
            held = f"holds {n_rec} single-stream Recording(s) and " if n_rec else ""
            raise DataError(f"dataset folder {held}no Trials (walking sessions with an 'angles' stream beside the "
                            "EMG): gait-emg needs joint angles; convert them (OpenSim .mot/.sto, C3D or CSV) with the "
                            "EMG as streams of one trial (--pattern '{subject}/{trial}_{stream}'); a BIDS tree's "
                            "motion/ files are not read", str(d.path))
        _check_emg_map(d.emg_map, trials, str(d.path))
        sim = _cycles_from_trials(trials, cfg, masses, user=True)
        if d.emg_floor_percentile is not None:
            sim, _ = subtract_emg_floor(sim, d.emg_floor_percentile)
        sim, _ = normalise_emg(sim)
        info.update(path=str(d.path), cohort=cohort_name(cfg), n_subjects=len(sim.subjects()),
                    muscles=list(sim.muscles),
                    body_mass_kg=sim.info.get("body_mass_kg"), body_mass_source=sim.info.get("body_mass_source"),
                    trials=sim.info.get("trials"),
                    cycles_rejected=int(sum(sum(v for k, v in t["cycles"].items() if k not in ("candidate", "kept"))
                                            for t in sim.info.get("trials", {}).values())))
    real: dict[str, GaitCycles] = {}
    if d.real:
        root = d.real_path or shared_data_dir() / "ceinms-gait"
        if root is None or not Path(root).is_dir():
            log.warning("real gait data not found (%s): the real conditions are skipped", root)
            info["real"] = f"skipped: {root} not found"
        else:
            from ...io.dataset import is_dataset_folder, load_dataset

            generic = is_dataset_folder(root)
            if generic:  # any converted multi-trial cohort: trials named by meta 'trial' (else their stem)
                from ...containers import Trial

                trials = {str(o.meta.get("trial") or stem): o for stem, o in load_dataset(root) if isinstance(o, Trial)}
            else:
                from ...io.datasets.small import load_ceinms_gait

                trials = load_ceinms_gait(root)
            wanted = [d.real_train, *d.real_test]
            missing = [w for w in wanted if w not in trials]
            if missing:
                raise DataError(f"real trials {missing} not found; available: {sorted(trials)}", str(root))
            cyc = _cycles_from_trials([(w, trials[w]) for w in wanted], cfg, user=generic, real=True)
            n_drift = 0
            if d.real_train_drift_ratio is not None:
                cyc, n_drift = drop_drifting_training_cycles(cyc, d.real_train, d.real_train_drift_ratio)
            floors = None
            if d.emg_floor_percentile is not None:  # after the drift rule, which was chosen on raw floors
                cyc, floors = subtract_emg_floor(cyc, d.emg_floor_percentile)
            ref = (cyc.metadata["trial"] == d.real_train).to_numpy()
            cyc, scales = normalise_emg(cyc, reference=ref)
            for w in wanted:
                real[w] = cyc.select((cyc.metadata["trial"] == w).to_numpy())
            info["real"] = {"path": str(root), "train": d.real_train, "test": list(d.real_test),
                            "cycles": {w: len(real[w]) for w in wanted},
                            "train_cycles_dropped_baseline_drift": n_drift,
                            "emg_floor_percentile": d.emg_floor_percentile,
                            "emg_floor_subtracted": (None if floors is None else
                                                     {k: {m: float(v) for m, v in row.items()}
                                                      for k, row in floors.iterrows()}),
                            "body_mass_kg": cyc.info.get("body_mass_kg"),
                            "muscles": {"ST": "semimem_r (semimembranosus)", "BF": "bifemlh_r", "GM": "med_gas_r",
                                        "TA": "tib_ant_r", "VL": "vas_lat_r", "RF": "rect_fem_r", "SOL": "soleus_r"},
                            "dropped": ["lat_gas_r", "vas_med_r"]}
            if generic:
                info["real"].update(muscles=list(cyc.muscles), dropped=[], trials=cyc.info.get("trials"))
    if sim is None and not real:
        raise DataError("no data: neither a simulated/folder cohort nor real trials")
    return GaitData(sim=sim, real=real, info=info)


# ------------------------------------------------------------------ helpers
def _rows(c: GaitCycles, kinds, shifts_ms=()) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X = to_rows(kinematic_inputs(c.angles, c.durations, kinds, shifts_ms))
    return X, to_rows(c.moments), to_rows(c.emg)


def predict_ensemble(cfg: GaitEmgConfig, section: str, train: dict, X: np.ndarray, y: np.ndarray,
                     validation_data: tuple, X_test: np.ndarray, seed: int, device: str = "cpu",
                     **fixed: Any) -> tuple[np.ndarray, list]:
    """Fit ``cfg.evaluate.ensemble`` estimators of ``cfg.<section>`` (seeds derived from ``seed``); mean prediction.

    Returns the mean prediction on ``X_test`` (rows, outputs; empty when ``X_test`` has no rows) and the
    fitted estimators. With
    ``ensemble: 1`` the single estimator gets ``seed`` itself (the behaviour before ensembles).
    """
    from ...models import build_from_sections
    from ...train import derive_seed

    spec = getattr(cfg, section)
    ests, preds = [], []
    for i in range(cfg.evaluate.ensemble):
        est = build_from_sections(spec.name, spec.params, defaults=train, seed=seed if i == 0 else
                                  derive_seed(seed, f"ensemble-{i}"), device=device, **fixed)
        est.fit(X, y, validation_data=validation_data)
        ests.append(est)
        if len(X_test):  # none for the final fold (trained on every subject, scores nothing)
            preds.append(est.predict(X_test))
    return (np.mean(preds, axis=0) if preds else np.empty((0, 0))), ests


def _emg_subjects(fit_c: GaitCycles, val_c: GaitCycles, n: int, val_fraction: float, seed: int) -> list[str]:
    """The ``n`` training subjects whose sEMG is used (drawn from the fold's fit and validation subjects)."""
    fit_s = sorted(map(str, pd.unique(fit_c.metadata["subject"])))
    val_s = sorted(map(str, pd.unique(val_c.metadata["subject"])))
    n_val = min(len(val_s), max(1, int(round(val_fraction * n)))) if (n >= 2 and val_s) else 0
    n_fit = n - n_val
    if n_fit < 1 or n_fit > len(fit_s):
        raise ConfigError(f"evaluate.emg_subjects {n}: the fold has {len(fit_s)} fit and {len(val_s)} validation "
                          f"subjects; need {n_fit} >= 1 fit subject(s) with sEMG")
    rng = np.random.default_rng(seed)
    return sorted([*rng.choice(fit_s, n_fit, replace=False).tolist(), *rng.choice(val_s, n_val, replace=False).tolist()])


def _mean(x) -> float:
    x = np.asarray(x, dtype=float)
    return float(np.nanmean(x)) if np.isfinite(x).any() else float("nan")


def _fold_metrics(true: np.ndarray, pred: np.ndarray, md: pd.DataFrame, names, group: str) -> dict[str, float]:
    """Flat metrics: per-channel means over test groups (subjects/trials) and pooled ensemble R²."""
    out: dict[str, float] = {}
    groups = md[group].astype(str).to_numpy()
    per = []
    for g in pd.unique(groups):
        m = groups == g
        per.append((r2_ensemble_average(true[m], pred[m]), r2_per_cycle(true[m], pred[m]), pearson_per_cycle(true[m], pred[m])))
    ens = np.nanmean(np.array([p[0] for p in per]), axis=0)
    cyc = np.nanmean(np.array([p[1] for p in per]), axis=0)
    rr = np.nanmean(np.array([p[2] for p in per]), axis=0)
    pooled = r2_ensemble_average(true, pred)
    for j, name in enumerate(names):
        out[f"r2_ens_{name}"] = float(ens[j])
        out[f"r2_ens_pooled_{name}"] = float(pooled[j])
        out[f"r2_cycle_{name}"] = float(cyc[j])
        out[f"r_cycle_{name}"] = float(rr[j])
    out["r2_ens_mean"] = _mean(ens)
    out["r2_cycle_mean"] = _mean(cyc)
    out["r_cycle_mean"] = _mean(rr)
    return out


def _pooled_with_ci(pm: pd.DataFrame, names, group: str, pooled: np.ndarray, n_boot: int, seed: int) -> dict:
    """R² of the ensemble average over all cycles, with a cluster (subject) bootstrap CI.

    Per subject the cycle count and the summed true/predicted curves are additive, so
    :func:`~myoflow.evaluate.cluster_bootstrap` resamples subjects vectorised (one set
    of draws for every channel).
    """
    n, st, sp = [], [], []
    for _, part in pm.groupby(group, sort=True):
        t, p = cycles_from_frame(part, names)
        n.append(t.shape[0])
        st.append(t.sum(0))
        sp.append(p.sum(0))
    ci: dict[str, Any] = {}
    if len(n) >= 3 and n_boot > 0:
        def stat(n_, st_, sp_):
            r2 = r2_ensemble_average_from_sums(n_, st_, sp_)
            return {name: r2[..., j] for j, name in enumerate(names)}

        ci = cluster_bootstrap((np.asarray(n, float), np.stack(st), np.stack(sp)), stat, n_boot=n_boot, seed=seed)
    return {name: {"mean": float(pooled[j]), "ci_low": ci[name].lo if ci else None,
                   "ci_high": ci[name].hi if ci else None} for j, name in enumerate(names)}


#: consecutive test cycles per bootstrap block (one trial: neighbouring cycles are correlated)
BOOT_BLOCK_CYCLES = 5


def _mean_r2_of_sums(n_: np.ndarray, st_: np.ndarray, sp_: np.ndarray) -> np.ndarray:
    """Mean over muscles of the ensemble-average R² from summed cycles (the paired bootstraps' statistic)."""
    return np.nanmean(r2_ensemble_average_from_sums(n_, st_, sp_), axis=-1)


def _paired_block_bootstrap(part: pd.DataFrame, names: tuple, n_boot: int, seed: int) -> dict[str, Any]:
    """Mean-over-muscles R² of ensemble averages, torque-based − baseline, on ONE test trial.

    With one subject there is no subject bootstrap; the test cycles are resampled in blocks of
    :data:`BOOT_BLOCK_CYCLES` consecutive cycles (paired: the same draws for both models), which keeps
    the slow drifts within a trial together. It measures test-set sampling only, not training seeds.
    """
    stats = {}
    for model in ("torque_based", "baseline"):
        t, p = cycles_from_frame(part[part["model"] == model], names)     # sorted by cycle: same order
        blocks = np.arange(len(t)) // BOOT_BLOCK_CYCLES
        n = np.bincount(blocks).astype(float)
        st = np.stack([t[blocks == b].sum(0) for b in range(len(n))])
        sp = np.stack([p[blocks == b].sum(0) for b in range(len(n))])
        stats[model] = (n, st, sp)

    diff = cluster_bootstrap(stats["torque_based"], _mean_r2_of_sums, other=stats["baseline"], n_boot=n_boot,
                             seed=seed)
    return {"mean": float(diff.point), "ci_low": float(diff.lo), "ci_high": float(diff.hi),
            "block_cycles": BOOT_BLOCK_CYCLES, "n_blocks": int(len(stats["baseline"][0]))}


def _paired_subject_bootstrap(part: pd.DataFrame, names: tuple, n_boot: int, seed: int) -> dict[str, Any]:
    """Torque-based − baseline on a cohort, paired subject bootstrap (the same subject draws for both models).

    Two statistics, side by side: ``pooled`` — mean over muscles of the R² of the ensemble average over
    all test subjects' cycles (vectorised on per-subject sums); ``per_subject`` — the mean over test
    subjects of each subject's own mean-over-muscles R² of ensemble averages.
    """
    stats, per = {}, {}
    for model in ("torque_based", "baseline"):
        pm = part[part["model"] == model]
        n, st, sp, own = [], [], [], {}
        for g, sub in pm.groupby("subject", sort=True):
            t, p = cycles_from_frame(sub, names)
            n.append(t.shape[0])
            st.append(t.sum(0))
            sp.append(p.sum(0))
            own[str(g)] = float(np.nanmean(r2_ensemble_average(t, p)))
        stats[model] = (np.asarray(n, float), np.stack(st), np.stack(sp))
        per[model] = own

    pooled = cluster_bootstrap(stats["torque_based"], _mean_r2_of_sums, other=stats["baseline"], n_boot=n_boot,
                               seed=seed)
    subj = sorted(per["torque_based"])
    diff = pd.Series([per["torque_based"][k] - per["baseline"][k] for k in subj], index=subj)
    m, lo, hi = bootstrap_mean(diff.to_numpy(), clusters=np.asarray(subj), n_boot=n_boot, seed=seed)
    return {"pooled": {"mean": float(pooled.point), "ci_low": float(pooled.lo), "ci_high": float(pooled.hi)},
            "per_subject": {"mean": float(m), "ci_low": float(lo), "ci_high": float(hi),
                            "median": float(diff.median()), "n_torque_better": int((diff > 0).sum())},
            "n_subjects": len(subj)}


def _variability_summary(cfg: GaitEmgConfig, data: GaitData) -> dict[str, Any]:
    """Cycle-to-cycle and between-subject envelope variability of the cohort and of the real training trial."""
    from ...biomech.gait_cycles import cycle_variability, summarise_variability

    out: dict[str, Any] = {}
    if data.sim is not None:
        out[cohort_name(cfg)] = summarise_variability(cycle_variability(data.sim), data.sim.muscles)
    train = data.real.get(cfg.data.real_train)
    if train is not None:  # the training trial only: the test trials are not looked at
        out[f"real/{cfg.data.real_train}"] = summarise_variability(cycle_variability(train), train.muscles)
    return out


def _split_kind(cfg: GaitEmgConfig, data: GaitData) -> str:
    """subjects | trials | cycles — how the (simulated or folder) cohort is evaluated."""
    d = cfg.data
    if data.sim is None or d.source == "simulate":
        return "subjects"
    md = data.sim.metadata
    n_subj, n_trials = md["subject"].nunique(), int(md.groupby("subject")["trial"].nunique().min())
    split = d.split
    if split == "auto":
        split = "subjects" if n_subj >= 3 else ("trials" if n_trials >= 2 else "cycles")
    if split == "subjects" and n_subj < 3:
        raise ConfigError(f"data.split: subjects needs >= 3 subjects (train, validation, test), the folder has "
                          f"{n_subj}; use data.split: trials or cycles (within-subject)")
    if split == "trials" and n_trials < 2:
        raise ConfigError("data.split: trials needs >= 2 trials per subject; use data.split: cycles")
    return split


def _refuse_old_naming(workdir: Path | None, name: str) -> None:
    """Refuse to add ``<name>-k0`` folds to a run whose finished folds a myoflow before the folder cohort's
    naming wrote as ``sim-k0`` / ``sim-loso-S01`` (``--resume`` of such a run): the run would hold two
    names for one cohort. Every subject-wise fold checks before it trains, so none is added."""
    if workdir is None:
        return
    root = Path(workdir).parent
    found = sorted(d.name for d in root.glob(f"{SIM}-*") if re.fullmatch(rf"{SIM}-(k\d+|loso-.+)", d.name)
                   and (d / "result.json").is_file())
    if found:
        raise DataError(f"this run was written by an older myoflow that named the folder cohort {SIM!r} (fold "
                        f"{found[0]}); this version names it {name!r} and does not resume it: run into a new --out "
                        "(predict, export and report still read this run)", str(root.parent))


def _within_subject_folds(cfg: GaitEmgConfig, c: GaitCycles, split: str) -> list[Fold]:
    """Within-subject folds: leave one trial out, or contiguous blocks of cycles with a gap."""
    md = c.metadata
    rows = np.arange(len(md))
    out = []
    cond = f"within-subject/{split}"
    if split == "trials":
        for t in pd.unique(md["trial"].astype(str)):
            te = rows[(md["trial"].astype(str) == t).to_numpy()]
            tr = rows[(md["trial"].astype(str) != t).to_numpy()]
            out.append(Fold(f"within-trial-{t}", cond, {"kind": "within", "train": tr.tolist(), "test": te.tolist()}))
        return out
    d = cfg.data
    order = np.lexsort((md["cycle"].to_numpy(), md["trial"].astype(str).to_numpy(), md["subject"].astype(str).to_numpy()))
    k = min(d.cycle_folds, len(order) // 4)
    if k < 2:
        counts = [t.get("cycles", {}) for t in (c.info.get("trials") or {}).values()]
        cand = sum(int(n.get("candidate", 0)) for n in counts)
        # most cycles rejected: the strides are there but were cut wrongly (both feet's strikes, a bad side)
        way = (f"{cand - len(order)} of {cand} candidate cycles were rejected (see the warnings): check the heel "
               "strikes and data.cycle_* limits, or record" if cand > 2 * len(order) else "record")
        raise DataError(f"{len(order)} plausible gait cycle(s) in all: too few for within-subject folds by cycles "
                        f"(need >= 8, at least 4 per fold); {way} more strides or more subjects (3 or more give "
                        f"subject-wise folds)", str(d.path) if d.source == "folder" and d.path else None)
    for i, block in enumerate(np.array_split(order, k)):
        lo, hi = int(np.flatnonzero(order == block[0])[0]), int(np.flatnonzero(order == block[-1])[0])
        # cycles next to the test block share strides' tails with it: drop `gap` on either side
        excluded = order[max(0, lo - d.cycle_gap):hi + 1 + d.cycle_gap]
        tr = np.setdiff1d(order, excluded)
        out.append(Fold(f"within-cycles-k{i}", cond,
                        {"kind": "within", "train": np.sort(tr).tolist(), "test": np.sort(block).tolist()}))
    return out


# ------------------------------------------------------------------ pipeline
class GaitEmgPipeline(Pipeline):
    """Kinematics → torques → sEMG of 7 muscles (see the module docstring)."""

    name = "gait-emg"
    config_class = GaitEmgConfig
    description = "Seed 002: torque-based MLP vs baseline MLP predicting 7-muscle sEMG from gait kinematics"
    export_models = ("torque_based", "baseline")
    #: ``myoflow export`` takes the fold trained on every subject when the run has one
    export_folds = (f"{FINAL}-all",)

    def prepare(self, cfg: GaitEmgConfig, cache_dir: Path) -> GaitData:
        return load_gait_data(cfg, cache_dir)

    def folds(self, cfg: GaitEmgConfig, data: GaitData) -> list[Fold]:
        from ...evaluate import LeaveOneSubjectOut, SubjectKFold, check_no_leakage

        out: list[Fold] = []
        split = _split_kind(cfg, data)
        if split in ("trials", "cycles"):
            if cfg.data.split == "auto":
                # say it: within-subject figures answer a different question than new-subject ones
                n_subj = data.sim.metadata["subject"].nunique()
                log.warning("gait-emg: %s: %d subject(s), fewer than the 3 a subject-wise split needs, so the "
                            "folds are within-subject by %s (data.split: %s); the scores say how well new %s of "
                            "the same person are predicted, not a new person", cfg.data.path, n_subj, split,
                            split, split)
            out += _within_subject_folds(cfg, data.sim, split)
            if cfg.evaluate.final_model:
                out.append(Fold(f"{FINAL}-all", FINAL, {"kind": "within", "train": list(range(len(data.sim))),
                                                        "test": []}))
        elif data.sim is not None:
            md = pd.DataFrame({"subject": data.sim.subjects()})
            n = len(md)
            if cfg.evaluate.splitter == "loso":
                splitter = LeaveOneSubjectOut()
            else:
                k = min(cfg.evaluate.n_splits, n)
                if k < 2:
                    raise ConfigError(f"need >= 2 subjects for subject-wise folds, got {n}")
                splitter = SubjectKFold(n_splits=k, stratify=False, shuffle=True, seed=cfg.seed)
            name = cohort_name(cfg)
            for i, (tr, te) in enumerate(splitter.split(md)):
                check_no_leakage(md, tr, te, ["subject"])
                subj = md["subject"].to_numpy()
                tail = f"loso-{subj[te[0]]}" if cfg.evaluate.splitter == "loso" else f"k{i}"
                # seed_key: the id the fold had before folder cohorts were named (its seeds derive from it)
                out.append(Fold(f"{name}-{tail}", name, {"kind": "sim", "train": subj[tr].tolist(),
                                                         "test": subj[te].tolist()}, seed_key=f"{SIM}-{tail}"))
            if cfg.evaluate.final_model:
                out.append(Fold(f"{FINAL}-all", FINAL, {"kind": "sim", "train": md["subject"].tolist(), "test": []}))
        for name in cfg.data.real_test:
            if name in data.real:
                out.append(Fold(f"real-{name}", f"real/{name}",
                                {"kind": "real", "train": [cfg.data.real_train], "test": [name]}))
        return out

    # .............................................................. one fold
    def _split(self, cfg: GaitEmgConfig, data: GaitData, fold: Fold, seed: int):
        from ...evaluate import inner_validation_split

        p = fold.payload
        if p["kind"] == "within":
            c = data.sim
            tr, te = np.asarray(p["train"], dtype=np.int64), np.asarray(p["test"], dtype=np.int64)
            if np.intersect1d(tr, te).size:
                raise LeakageError(f"fold {fold.id}: cycles on both sides of the split")
            # validation: the last block of the training cycles (in recording order), never the test block
            n_val = int(round(cfg.train.val_fraction * len(tr)))
            val = tr[len(tr) - n_val:] if n_val else tr[:0]
            fit = tr[: len(tr) - n_val]
            # re-normalise by this fold's training cycles only, so the held-out cycles' scale
            # never comes from themselves (normalisation is scale-invariant: exact, not approximate)
            ref = np.zeros(len(c), dtype=bool)
            ref[tr] = True
            c = normalise_emg(c, reference=ref)[0]
            return c.select(fit), c.select(val), (c.select(te) if te.size else None), "trial"
        if p["kind"] == "sim":
            c = data.sim
            if set(p["train"]) & set(p["test"]):
                raise LeakageError(f"fold {fold.id}: subjects {sorted(set(p['train']) & set(p['test']))} on both sides")
            subj = c.metadata["subject"].astype(str)
            tr = np.flatnonzero(subj.isin([str(s) for s in p["train"]]).to_numpy())
            te = np.flatnonzero(subj.isin([str(s) for s in p["test"]]).to_numpy())
            if cfg.train.val_fraction > 0:
                fit, val = inner_validation_split(c.metadata, tr, fraction=cfg.train.val_fraction, seed=seed)
            else:  # train.val_fraction: 0 — no early stopping, every training subject is fitted
                fit, val = tr, tr[:0]
            return c.select(fit), c.select(val), (c.select(te) if te.size else None), "subject"
        train = data.real[p["train"][0]]
        test = data.real[p["test"][0]]
        # one subject: validation = the last block of training cycles (never the test trial)
        n_val = max(1, int(round(cfg.evaluate.real_val_fraction * len(train))))
        mask = np.zeros(len(train), dtype=bool)
        mask[-n_val:] = True
        return train.select(~mask), train.select(mask), test, "trial"

    def run_fold(self, cfg: GaitEmgConfig, data: GaitData, fold: Fold, ctx: FoldContext) -> FoldResult:
        from ...train import derive_seed
        from ...config import to_dict

        p = fold.payload
        if p["kind"] == "sim" and cohort_name(cfg) != SIM:
            _refuse_old_naming(ctx.workdir, cohort_name(cfg))
        # a folder cohort's fold is seeded by its id as it was before the cohort was named (sim-k0): no number moves
        seed_key = fold.seed_key or fold.id
        train_seed = derive_seed(cfg.seed, seed_key if p["kind"] in ("sim", "within") else "real-train")
        fit_c, val_c, test_c, group = self._split(cfg, data, fold, train_seed)
        kinds, shifts = tuple(cfg.preprocess.inputs), tuple(cfg.preprocess.shifts_ms)
        Xf, Tf, Ef = _rows(fit_c, kinds, shifts)
        Xv, Tv, Ev = _rows(val_c, kinds, shifts)
        final = test_c is None  # the final fold: every subject trains, nothing is scored
        Xt = Xf[:0] if final else _rows(test_c, kinds, shifts)[0]
        emg_subj = None
        if cfg.evaluate.emg_subjects is not None and group == "subject" and cfg.data.source == "simulate":
            emg_subj = _emg_subjects(fit_c, val_c, cfg.evaluate.emg_subjects, cfg.train.val_fraction,
                                     derive_seed(train_seed, "emg-subjects"))
            ef = fit_c.metadata["subject"].astype(str).isin(emg_subj).to_numpy().repeat(fit_c.n_points)
            ev = val_c.metadata["subject"].astype(str).isin(emg_subj).to_numpy().repeat(val_c.n_points)
            # moments of every training subject, sEMG only of the chosen few (NaN = no sEMG target)
            Ef_t, Ev_t = np.where(ef[:, None], Ef, np.nan), np.where(ev[:, None], Ev, np.nan)
            Xf_b, Ef_b, Xv_b, Ev_b = Xf[ef], Ef[ef], Xv[ev], Ev[ev]
        else:
            Ef_t, Ev_t, Xf_b, Ef_b, Xv_b, Ev_b = Ef, Ev, Xf, Ef, Xv, Ev
        train = {k: v for k, v in to_dict(cfg.train).items() if k != "device"}
        # validation rows are the pipeline's (held-out training subjects, or the last training cycles)
        tb_pred, tbs = predict_ensemble(cfg, "model", train, Xf, np.hstack([Ef_t, Tf]), (Xv, np.hstack([Ev_t, Tv])),
                                        Xt, seed=derive_seed(train_seed, "torque_based"), device=ctx.device,
                                        n_emg=Ef.shape[1])
        bl_pred, bls = predict_ensemble(cfg, "baseline", train, Xf_b, Ef_b, (Xv_b, Ev_b), Xt,
                                        seed=derive_seed(train_seed, "baseline"), device=ctx.device)
        tb, bl = tbs[0], bls[0]  # the first member is saved (checkpoint, ONNX); predictions are the ensemble's
        if final:
            n, P, muscles = 0, fit_c.n_points, tuple(fit_c.muscles)
            metrics, predictions = {}, pd.DataFrame()
        else:
            n, P = len(test_c), test_c.n_points
            preds = {"torque_based": from_rows(tb_pred, n, P), "baseline": from_rows(bl_pred, n, P)}
            torque_pred = from_rows(np.mean([e.predict_torques(Xt) for e in tbs], axis=0), n, P)
            muscles = tuple(test_c.muscles)
            metrics = {k: _fold_metrics(test_c.emg, v, test_c.metadata, muscles, group) for k, v in preds.items()}
            tm = _fold_metrics(test_c.moments, torque_pred, test_c.metadata, test_c.moment_names, group)
            metrics["torque_mlp"] = {k: v for k, v in tm.items() if not k.startswith("r_cycle")}
            frames = [prediction_frame(k, test_c.metadata, test_c.emg, v, muscles) for k, v in preds.items()]
            frames.append(prediction_frame("torque_mlp", test_c.metadata, test_c.moments, torque_pred,
                                           test_c.moment_names))
            predictions = pd.concat(frames, ignore_index=True)
        # freezing check: torque weights before vs after fine-tuning
        drift = max(float((tb.torque_state_after_stage1_[k] - v).abs().max())
                    for k, v in tb.torque_model_.state_dict().items())
        extras = {
            "torque_based": tb.spec(), "baseline": bl.spec(), "torque_weight_drift": drift,
            "n_fit_cycles": len(fit_c), "n_val_cycles": len(val_c), "n_test_cycles": n,
            "train_subjects": sorted(map(str, pd.unique(fit_c.metadata["subject"]))),
            "val_subjects": sorted(map(str, pd.unique(val_c.metadata["subject"]))),
            "test_groups": [] if final else sorted(map(str, pd.unique(test_c.metadata[group]))),
            "moment_names": list(fit_c.moment_names), "inputs": list(kinds), "shifts_ms": list(shifts),
            "ensemble": len(tbs), "emg_subjects": emg_subj,
        }
        curves = {"torque_mlp": tb.torque_history_.as_curves(), "torque_based": tb.history_.as_curves(),
                  "baseline": bl.history_.as_curves()}
        states = {"torque_based": estimator_tensors(tb), "baseline": estimator_tensors(bl)}
        extras["models"] = {"torque_based": {"estimator": estimator_config(tb)},
                            "baseline": {"estimator": estimator_config(bl)}}
        # every ensemble member, so `myoflow predict` averages the same models the fold scored
        # (member 0 keeps its historical file name; members 1.. are "<model>.m<i>")
        for name, members in (("torque_based", tbs), ("baseline", bls)):
            for i, e in enumerate(members[1:], start=1):
                states[f"{name}.m{i}"] = estimator_tensors(e)
            extras["models"][name]["members"] = [estimator_config(e) for e in members]
        extras["predict"] = {"muscles": list(muscles), "n_points": int(P)}
        return FoldResult(fold.id, fold.condition, metrics, predictions, curves, states, extras)

    # .............................................................. summary
    def example_inputs(self, cfg: GaitEmgConfig, model_name: str, extras: dict[str, Any]) -> tuple:
        """One row of kinematic inputs (batch, n_features) for ONNX export."""
        est = ((extras.get("models") or {}).get(model_name) or {}).get("estimator")
        if est is None:
            raise DataError(f"no model {model_name!r} in this fold; models: {sorted(extras.get('models') or {})}")
        return (np.zeros((1, int(est["fitted"]["sizes"][0])), dtype=np.float32),)

    def summarize(self, cfg: GaitEmgConfig, data: GaitData, results: list[FoldResult]) -> dict[str, Any]:
        frames = []
        for r in results:
            if len(r.predictions):
                df = r.predictions
                if "condition" not in df.columns:
                    df = df.assign(condition=r.condition)
                frames.append(df)
        muscles = list(data.sim.muscles) if data.sim is not None else list(MUSCLES)
        summary: dict[str, Any] = {"paper_table1": PAPER_TABLE1, "muscles": muscles, "conditions": {},
                                   "data": data.info, "split": _split_kind(cfg, data)}
        if not frames:
            return summary
        preds = pd.concat(frames, ignore_index=True)
        for cond, part in preds.groupby("condition", sort=True):
            # the cohort's condition (sim, a folder cohort's name, or "sim" in a run of an older myoflow)
            # is scored per subject; real trials and within-subject folds per trial
            group = "trial" if cond.startswith(("real/", "within-subject/")) else "subject"
            out: dict[str, Any] = {}
            for model in ("torque_based", "baseline", "torque_mlp"):
                pm = part[part["model"] == model]
                if pm.empty:
                    continue
                names = tuple(c[len("truth_"):] for c in pm.columns
                              if c.startswith("truth_") and pm[c].notna().any())
                scores = subject_scores(pm, names, group=group)
                entry: dict[str, Any] = {"n_groups": int(len(scores)), "group": group,
                                         "n_cycles": int(scores["n_cycles"].sum())}
                t_all, p_all = cycles_from_frame(pm, names)
                pooled = r2_ensemble_average(t_all, p_all)
                for metric in ("r2_ens", "r2_cycle", "r_cycle"):
                    per = {}
                    for j, name in enumerate(names):
                        col = f"{metric}_{name}"
                        if col not in scores.columns:
                            continue
                        vals = scores[[group, col]].rename(columns={group: "subject"})
                        mean = float(vals[col].mean())
                        lo = hi = None
                        if len(vals) >= 3 and cfg.evaluate.n_boot > 0:
                            _, lo, hi = bootstrap_mean(vals[col], clusters=vals["subject"],
                                                       n_boot=cfg.evaluate.n_boot, seed=cfg.seed)
                        per[name] = {"mean": mean, "ci_low": lo, "ci_high": hi}
                    entry[metric] = per
                    entry[f"{metric}_mean_over_channels"] = _mean([v["mean"] for v in per.values()])
                entry["r2_ens_pooled"] = _pooled_with_ci(pm, names, group, pooled, cfg.evaluate.n_boot, cfg.seed)
                entry["r2_ens_pooled_mean_over_channels"] = _mean([v["mean"] for v in entry["r2_ens_pooled"].values()])
                entry["r2_ens_median"] = {name: float(scores[f"r2_ens_{name}"].median()) for name in names
                                          if f"r2_ens_{name}" in scores.columns}
                entry["r2_ens_median_mean_over_channels"] = _mean(list(entry["r2_ens_median"].values()))
                # spread of the per-subject (per-trial) scores, all channels pooled: compared with
                # the real subject's cycle-to-cycle spread (summary["variability"])
                cols = [f"r2_ens_{name}" for name in names if f"r2_ens_{name}" in scores.columns]
                vals = scores[cols].to_numpy(dtype=float).ravel()
                vals = vals[np.isfinite(vals)]
                if vals.size:
                    entry["r2_ens_per_group_quartiles"] = [float(q) for q in np.percentile(vals, [25, 50, 75])]
                out[model] = entry
            if "torque_based" in out and "baseline" in out:
                a = out["torque_based"]["r2_ens_pooled"]
                b = out["baseline"]["r2_ens_pooled"]
                out["torque_minus_baseline_r2_ens"] = {m_: a[m_]["mean"] - b[m_]["mean"] for m_ in a if m_ in b}
                if group == "trial" and out["torque_based"]["n_groups"] == 1 and cfg.evaluate.n_boot > 0:
                    out["torque_minus_baseline_block_bootstrap"] = _paired_block_bootstrap(
                        part, tuple(a), cfg.evaluate.n_boot, cfg.seed)
                if group == "subject" and out["torque_based"]["n_groups"] >= 3 and cfg.evaluate.n_boot > 0:
                    out["torque_minus_baseline_subject_bootstrap"] = _paired_subject_bootstrap(
                        part, tuple(a), cfg.evaluate.n_boot, cfg.seed)
            summary["conditions"][cond] = out
        summary["variability"] = _variability_summary(cfg, data)
        return summary

    def headline(self, summary: dict[str, Any]) -> list[Headline]:
        rows: list[Headline] = []
        conds = summary.get("conditions", {})
        # the cohort's name: a folder cohort's (data.cohort), else sim (also a folder run of an older myoflow)
        name = (summary.get("data") or {}).get("cohort") or SIM
        sim = conds.get(name, {})
        labels = {"torque_based": "torque-based", "baseline": "baseline"}

        def rests_on(e: dict[str, Any]) -> dict[str, Any]:
            """``n``/``n_of`` of a condition's model entry: its test subjects (or trials) and their cycles."""
            if "n_groups" not in e:
                return {}
            cycles = f", {e['n_cycles']} cycles" if "n_cycles" in e else ""
            return dict(n=int(e["n_groups"]), n_of=f"test {e.get('group', 'subject')}s{cycles}")

        for model in MODELS:
            ens = sim.get(model, {}).get("r2_ens_pooled", {})
            for mus in MUSCLES:
                v = ens.get(mus)
                if v is None:
                    continue
                ci = (v["ci_low"], v["ci_high"]) if v.get("ci_low") is not None else None
                med = sim.get(model, {}).get("r2_ens_median", {}).get(mus)
                rows.append(Headline(f"{name} {mus} R² of ensemble averages, {labels[model]}", v["mean"], ci,
                                     PAPER_TABLE1[model][mus],
                                     "pooled: ensemble average over all test cycles; 95 % subject-bootstrap CI"
                                     + (f"; per-subject median {med:.3f}" if med is not None else ""),
                                     **rests_on(sim.get(model, {}))))
        for model in MODELS:
            e = sim.get(model, {})
            if "r2_ens_pooled_mean_over_channels" not in e:
                continue
            q = e.get("r2_ens_per_group_quartiles")
            # side by side: the pooled figure averages the test subjects' cycles first (the
            # cohort pattern), the median scores each subject's own ensemble average
            rows.append(Headline(f"{name} mean R² of ensemble averages, {labels[model]}, pooled over test subjects",
                                 e["r2_ens_pooled_mean_over_channels"], None, None, "mean over muscles",
                                 **rests_on(e)))
            rows.append(Headline(f"{name} mean R² of ensemble averages, {labels[model]}, per-subject median",
                                 e.get("r2_ens_median_mean_over_channels"), None, None,
                                 "median over test subjects, mean over muscles"
                                 + (f"; per-subject R² quartiles {q[0]:.2f} / {q[1]:.2f} / {q[2]:.2f}" if q else ""),
                                 **rests_on(e)))
        d_ = sim.get("torque_minus_baseline_subject_bootstrap")
        if d_:
            for key, label in (("pooled", "pooled over test subjects"), ("per_subject", "mean of per-subject")):
                v = d_[key]
                rows.append(Headline(f"{name} torque-based − baseline, mean R² of ensemble averages, {label}",
                                     v["mean"],
                                     (v["ci_low"], v["ci_high"]), None,
                                     f"paired subject bootstrap 95 % CI ({d_['n_subjects']} test subjects)",
                                     n=int(d_["n_subjects"]), n_of="test subjects"))
        var = summary.get("variability") or {}
        for key, v in var.items():
            c = v.get("cycle")
            if c:
                rows.append(Headline(f"{key} cycle-to-cycle R² (cycle vs the other cycles' "
                                     "ensemble average), median", c["median"], None, None,
                                     f"IQR {c['q25']:.2f}-{c['q75']:.2f} over {c['n']} cycles × muscles"))
        d = summary.get("data", {})
        if "cycles_rejected" in d:
            per = {t: {k: v for k, v in e["cycles"].items() if v and k not in ("candidate",)}
                   for t, e in (d.get("trials") or {}).items()}
            rows.append(Headline(f"{name} gait cycles rejected (implausible duration or outside the valid angle range)",
                                 float(d["cycles_rejected"]), None, None,
                                 "; ".join(f"{t}: {c} (heel strikes from {d['trials'][t]['heel_strikes']})"
                                           for t, c in per.items())[:400]))
        for cond in sorted(c for c in conds if c.startswith("within-subject/")):
            for model in MODELS:
                e = conds[cond].get(model)
                if e is None:
                    continue
                for mus, v in e.get("r2_ens_pooled", {}).items():
                    rows.append(Headline(f"{name} {mus} R² of ensemble averages, {labels[model]}, {cond}", v["mean"],
                                         None, None, "one subject: test cycles from held-out "
                                         + ("trials" if cond.endswith("trials") else "blocks of cycles"),
                                         **rests_on(e)))
        real_info = (summary.get("data") or {}).get("real")
        real_train = real_info.get("train", "walk36") if isinstance(real_info, dict) else "walk36"
        for cond in sorted(c for c in conds if c.startswith("real/")):
            for model in MODELS:
                e = conds[cond].get(model)
                if e is None:
                    continue
                n_mus = len(e.get("r2_ens_pooled") or {}) or 7
                rows.append(Headline(f"{cond} mean R² of ensemble averages ({n_mus} muscles), {labels[model]}",
                                     e.get("r2_ens_pooled_mean_over_channels"), None,
                                     None, f"real trials, trained on {real_train}"
                                     + ("; running = out of distribution" if "run" in cond else ""),
                                     **rests_on(e)))
            d_ = conds[cond].get("torque_minus_baseline_block_bootstrap")
            if d_:
                rows.append(Headline(f"{cond} torque-based − baseline, mean R² of ensemble averages", d_["mean"],
                                     (d_["ci_low"], d_["ci_high"]), None,
                                     f"paired bootstrap 95 % CI over blocks of {d_['block_cycles']} consecutive "
                                     f"test cycles ({d_['n_blocks']} blocks; test-set sampling only)"))
        return rows

    def figures(self, cfg: GaitEmgConfig, summary: dict[str, Any], predictions: pd.DataFrame,
                run_dir: Path) -> list[tuple[str, Path]]:
        from ...report.figures import paired_differences
        from ...report.figures.gait_emg import ensemble_figure, torque_figure

        out = []
        if predictions is None or predictions.empty:
            return out
        for cond, part in predictions.groupby("condition", sort=True):
            safe = cond.replace("/", "_")
            shown = tuple(m for m in summary.get("muscles", MUSCLES) if f"truth_{m}" in part.columns)
            cycles = {m: cycles_from_frame(part[part["model"] == m], shown)
                      for m in ("torque_based", "baseline") if (part["model"] == m).any()}
            p = ensemble_figure(cycles, cond, shown, Path(run_dir) / "figures" / f"ensemble_{safe}.png", summary)
            out.append((f"Ensemble-average sEMG, {cond}: truth vs predictions (mean ± SD over cycles)", p))
            tq = part[part["model"] == "torque_mlp"]
            if not tq.empty:
                names = tuple(c[len("truth_"):] for c in tq.columns if c.startswith("truth_") and tq[c].notna().any())
                p = torque_figure(names, *cycles_from_frame(tq, names), cond,
                                  Path(run_dir) / "figures" / f"torques_{safe}.png")
                out.append((f"Joint moments, {cond}: truth vs torque MLP (mean ± SD)", p))
        rows = []
        for cond, e in sorted((summary.get("conditions") or {}).items()):
            d = e.get("torque_minus_baseline_subject_bootstrap")
            for key, label in (("pooled", "pooled over test subjects"), ("per_subject", "mean of per-subject")):
                if d and d.get(key):
                    rows.append((f"{cond}: {label}", d[key]["mean"], d[key]["ci_low"], d[key]["ci_high"]))
            b = e.get("torque_minus_baseline_block_bootstrap")
            if b:
                rows.append((f"{cond}: blocks of test cycles", b["mean"], b["ci_low"], b["ci_high"]))
        p = paired_differences(rows, Path(run_dir) / "figures" / "paired_differences.png",
                               xlabel="mean R² of ensemble averages, torque-based − baseline",
                               title="Torque-based − direct baseline, same folds (paired bootstrap 95 % CI)")
        if p is not None:
            out.append(("Paired differences: torque-based − direct baseline (green: above 0, red: below, "
                        "grey: holds 0)", p))
        return out
