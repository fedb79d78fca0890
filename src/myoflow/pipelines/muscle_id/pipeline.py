"""Seed 001: which muscle is the sensor on — CNN-LSTM, TKEO bursts, autoencoder pretraining.

Velásquez, Cornelis, Omelina & Jansen (2023), "Muscle classification via hybrid
CNN-LSTM architecture from surface EMG signals", end to end:

1. recordings (a 4×4 dry grid per subject × muscle, or single channels) →
   band-pass → TKEO single-threshold burst detection (one threshold for the
   whole dataset) → 500 ms windows from each onset → every grid channel a
   separate sample keeping its burst id and subject (:mod:`.windows`);
2. :class:`~myoflow.models.cnn_lstm.CNNLSTM` trained from random weights
   (setup 2) or after greedy layer-wise conv-autoencoder pretraining on the
   training fold (setup 1); LDA and random forest on classic features in the
   same folds (:mod:`.estimator`);
3. intra-subject validation (80/20 of each subject's bursts, by burst — never by
   channel) and leave-one-subject-out (plus, optionally, the leaky 80/20 split by
   channel sample, to measure how much splitting near-copies inflates accuracy); the 4-class task and the paper's binary
   sub-tasks; per-window accuracy with subject-bootstrap CIs, per-burst majority
   vote over channels, per-subject accuracy with CIs, confusion matrices.

Cohorts (``data:`` in the config; each prefixes its conditions):
``sim`` — the simulated ``grid`` cohort (or a dataset folder); ``real`` — the
30-subject elderly lower-limb set as a 4-class task (VL, BF, TA, GL).

Bringing your own recordings (``source: folder``): a standard dataset folder
(see :mod:`myoflow.io.dataset`) with one Recording per subject × muscle:
``meta['subject']``, ``meta['muscle']`` (e.g. ``BB``/``TA`` or any names) and
``meta['side']`` (``L``/``R``; omit for a muscle-only task); any number of
channels (a grid or one bipolar channel) at any rate (resampled to
``preprocess.resample_hz``); contractions separated by rest so the TKEO detector
can find them. Events of kind ``burst_onset`` (true onsets), when present, are
used only to report detection accuracy. ``participants.csv`` needs a
``subject`` column.

Fold conditions: ``<cohort>/<scheme>/<task>``, e.g. ``sim/intra/4class``,
``sim/loso/muscle``, ``real/loso/4class``; ``<cohort>/final/4class`` trains on
every subject (no test) for ``myoflow check-placement``. The main task is named
``{K}class`` by its cohort's class count (``lab/loso/3class`` for a lab's three
muscles; :mod:`.tasks`); fold payloads and seeds keep the internal key ``4class``.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from ...config import to_dict
from ...errors import ConfigError, DataError
from ...evaluate.splitters import LeaveOneSubjectOut, WithinSubject, check_no_leakage
from ...experiments.base import Fold, FoldContext, FoldResult, Headline, Pipeline
from ...train import derive_seed
from .config import BASELINES, BURST_MODELS, DEEP_MODELS, MODEL_NAMES, SIMPRE_MODELS, CohortConfig, MuscleIdConfig
from .data import TASK_TITLES, CohortData, load_cohort
from ...models import build_from_sections, estimator_config, estimator_tensors
from ...models.cnn_lstm import CNNLSTMClassifier
from ...models.deep_classifier import DeepWindowClassifier
from .summary import paired_comparisons, summarize_results
from .tasks import MAIN, is_main_task, main_task_name, task_name

__all__ = ["MuscleIdPipeline", "MuscleIdData", "PAPER"]

log = logging.getLogger(__name__)

#: The paper's figures (percent), Velásquez et al. 2023 §IV-V.
PAPER = {
    "intra_4class_pretrained": 95.0,
    "intra_4class_random": 92.56,
    "loso_4class": 48.0,
    "loso_muscle": 89.0,
    "loso_side": 50.0,
}


def _cohort_path(cfg: MuscleIdConfig, name: str) -> str | None:
    """The folder a cohort was read from, for errors about its contents (None for simulated cohorts)."""
    c = cfg.data.get(name)
    return None if c is None or c.path is None else str(c.path)


def _warn_one_class_subjects(cohort: str, task: str, md, y) -> list[str]:
    """Warn about subjects with one class only in ``task``: their intra-subject test bursts can be
    labelled by recognising the subject rather than the muscle, so the intra score flatters the model.
    Returns those subjects (sorted)."""
    per = pd.Series(np.asarray(y)).groupby(md["subject"].astype(str).to_numpy()).nunique()
    lone = sorted(per.index[per < 2])
    if lone:
        log.warning("cohort %s, task %s: %d of %d subject(s) hold one class only (%s); their intra-subject "
                    "score rewards recognising the subject, not the muscle (LOSO is not affected)",
                    cohort, task, len(lone), len(per), ", ".join(lone[:5]) + (" ..." if len(lone) > 5 else ""))
    return lone


def _initials(name: str) -> str:
    """``'Vastus Lateralis'`` -> ``'VL'``: the abbreviation a lab writes for a muscle named in full."""
    words = re.findall(r"[A-Za-z]+", name)
    return "".join(w[0] for w in words).upper() if len(words) > 1 else ""


def _warn_unseen_loso_classes(cohort: str, task: str, md, y) -> list[str]:
    """Warn about classes recorded in one subject only: leave-one-subject-out never trains on them when
    that subject is held out, so its windows of that class are scored wrong whatever the model does.

    Often a naming slip ('Vastus Lateralis' in one subject, 'VL' in the others): the warning names the class
    whose initials it matches. Returns those classes (sorted).
    """
    subj = md["subject"].astype(str).to_numpy()
    labels = np.asarray(y).astype(str)
    per = pd.Series(subj).groupby(labels).unique()
    lone = sorted(c for c, s in per.items() if len(s) == 1)
    if lone and len(per) > 1:
        abbrev = {c.upper(): c for c in per.index}
        said = []
        for c in lone:
            like = abbrev.get(_initials(c))
            said.append(f"{c!r} (only {per[c][0]}" + (f"; {like!r} in the others?)" if like and like != c else ")"))
        log.warning("cohort %s, task %s: %s recorded in one subject only: leave-one-subject-out never trains on "
                    "such a class when testing that subject, so those windows are never classified right; if it "
                    "is another name of a muscle, give its recordings that name when converting (the manifest's "
                    "or pattern's muscle)", cohort, task, ", ".join(said))
    return lone


def _check_fold_sizes(cfg: MuscleIdConfig, name: str, cohort, folds: list[Fold]) -> None:
    """A fold whose training set holds no more windows than classes cannot be fitted (LDA refuses it with a
    scikit-learn traceback from inside the fold); say so before any training, naming the cohort's folder."""
    for f in folds:
        y = np.asarray(cohort.labels[f.payload["task"]])[f.payload["train"]]
        k = len(np.unique(y))
        if len(y) <= k:
            sec = cfg.data.get(name) if isinstance(cfg.data, dict) else None
            where = str(sec.path) if getattr(sec, "path", None) is not None else None
            raise DataError(f"cohort {name!r}: fold {f.id} trains on {len(y)} window(s) of {k} class(es), too few "
                            f"to fit a classifier; take every window of each burst (--set data.{name}."
                            "windows_per_burst=null) or record more contractions", where)


def _check_burst_layout(cfg: MuscleIdConfig, name: str, md) -> None:
    """The ``_burst`` models see a burst's channels together, so every recording needs the same channels:
    a lab whose sessions differ (one channel ``EMG``, a two-channel ``EMG1``/``EMG2`` session) was stopped
    inside the first fold by "bursts_as_samples: 38 burst(s) lack some of the channels", naming no file."""
    burst = [m for m in cfg.evaluate.models if m in BURST_MODELS]
    if not burst or "recording" not in md.columns or "burst_key" not in md.columns:
        return
    per_burst = md.groupby(md["burst_key"].astype(str)).agg(
        layout=("channel", lambda c: tuple(sorted(set(map(str, c))))), recording=("recording", "first"))
    layouts = {lay: sorted(set(map(str, g["recording"]))) for lay, g in per_burst.groupby("layout")}
    if len(layouts) > 1:
        shown = "; ".join(f"{list(lay)} ({recs[0]}" + (f" and {len(recs) - 1} more)" if len(recs) > 1 else ")")
                          for lay, recs in sorted(layouts.items(), key=lambda kv: -len(kv[1]))[:3])
        raise DataError(f"cohort {name!r}: evaluate.models {burst} see each burst's channels together and need one "
                        f"channel layout, but the recordings have {len(layouts)}: {shown}; give every recording the "
                        "same channels (myoflow convert --channel-map OLD=NEW, or keep one channel), or leave the "
                        "_burst models out", _cohort_path(cfg, name))


class MuscleIdData(dict):
    """Cohort name -> :class:`CohortData` (a dict, so it pickles to worker processes).

    ``cache_dir`` (attribute): the run's cache folder (the ``_simpre`` models' simulated cohort goes there).
    """

    cache_dir: str | None = None


def _simpre_match(cfg: MuscleIdConfig, classes) -> dict[str, str]:
    """Simulated label -> class of ``classes`` for the ``sim_pretrain`` protocol (empty: no match)."""
    from ...models.sim_pretrain import match_classes, protocol_classes

    return match_classes([str(c) for c in classes], protocol_classes(cfg.sim_pretrain.protocol))


def _binary_tasks(cfg: MuscleIdConfig, cohort: CohortData) -> list[str]:
    return [t for t in cohort.tasks if t != MAIN] if cfg.evaluate.binary != "none" else []


def _task_title(task: str, cohort: CohortData) -> str:
    if task == MAIN:  # the main task: however many classes the cohort has
        return f"{len(np.unique(cohort.labels[MAIN]))}-class"
    classes = sorted(map(str, np.unique(cohort.labels[task]))) if task in cohort.labels else []
    paper = {"muscle": ["BB", "TA"], "side": ["L", "R"]}
    if task in paper and classes != paper[task]:  # a user's muscles or sides: name what is there
        return f"{task} ({' vs '.join(classes)})"
    return TASK_TITLES.get(task, task.replace("_", " "))


def _trained_tasks(cfg: MuscleIdConfig, cohort: CohortData) -> list[str]:
    tasks = [MAIN]
    if cfg.evaluate.binary == "separate":
        tasks += _binary_tasks(cfg, cohort)
    return tasks


def _task_schemes(cfg: MuscleIdConfig, task: str) -> list[str]:
    """Schemes run for ``task``: evaluate.schemes, less evaluate.binary_skip_schemes on a binary task."""
    ev = cfg.evaluate
    return [s for s in ev.schemes if task == MAIN or s not in ev.binary_skip_schemes]


def _fold_models(cfg: MuscleIdConfig, task: str, scheme: str) -> list[str]:
    """Models a fold trains: evaluate.models, less evaluate.binary_skip_models on a binary task; the final
    fold only the first CNN-LSTM (a deployable network for check-placement, no baselines)."""
    ev = cfg.evaluate
    models = [m for m in ev.models if task == MAIN or m not in ev.binary_skip_models]
    if scheme == "final":
        models = [m for m in models if m.startswith("cnn_lstm")][:1]
    return models


class MuscleIdPipeline(Pipeline):
    """The seed-001 protocol as a runner plug-in (see module docstring)."""

    name: ClassVar[str] = "muscle-id"
    config_class: ClassVar[type] = MuscleIdConfig
    description: ClassVar[str] = "Which muscle is the sensor on: CNN-LSTM on TKEO burst windows (seed 001)"

    # ---------------------------------------------------------------- prepare
    def prepare(self, cfg: MuscleIdConfig, cache_dir: Path) -> MuscleIdData:
        data = MuscleIdData()
        for name, cohort_cfg in cfg.data.items():
            if not cohort_cfg.enabled:
                continue
            data[name] = load_cohort(name, cohort_cfg, cfg.preprocess, cache_dir)
            log.info("cohort %s: %s", name, data[name].info)
            if cfg.evaluate.binary != "none" and not _binary_tasks(cfg, data[name]):
                # the example groups THIS cohort's classes (a lab's VL/BF/TA/GL, not the paper's muscles)
                classes = sorted(map(str, np.unique(data[name].labels[MAIN])))
                half = max(1, len(classes) // 2)
                log.warning(
                    "cohort %s: evaluate.binary is %r but no binary task can be formed (recordings carry no "
                    "'side' meta and the cohort defines no grouped tasks); define one with "
                    "data.%s.tasks, e.g. {a_vs_b: {a: [%s], b: [%s]}}",
                    name, cfg.evaluate.binary, name, ", ".join(classes[:half]), ", ".join(classes[half:]))
        data.cache_dir = None if cache_dir is None else str(cache_dir)
        simpre = [m for m in cfg.evaluate.models if m in SIMPRE_MODELS]
        if simpre:
            # demanded explicitly: at least one cohort's main task must share muscle names with the simulator
            matched = {n: _simpre_match(cfg, np.unique(c.labels[MAIN])) for n, c in data.items()}
            if not any(matched.values()):
                from ...models.sim_pretrain import protocol_classes

                raise ConfigError(
                    f"evaluate.models {simpre}: no cohort's classes "
                    f"({ {n: sorted(map(str, np.unique(c.labels[MAIN]))) for n, c in data.items()} }) match a "
                    f"muscle of sim_pretrain.protocol {cfg.sim_pretrain.protocol!r} "
                    f"({list(protocol_classes(cfg.sim_pretrain.protocol))})")
            for n, mp in matched.items():
                if not mp:
                    log.warning("cohort %s: no class matches a simulated muscle; %s skipped there", n, simpre)
        return data

    # ---------------------------------------------------------------- folds
    def folds(self, cfg: MuscleIdConfig, data: MuscleIdData) -> list[Fold]:
        ev = cfg.evaluate
        out: list[Fold] = []
        for name, cohort in data.items():
            md = cohort.epochs.metadata
            subjects = sorted(md["subject"].astype(str).unique())
            multi_channel = bool(md.groupby("burst_key")["channel"].nunique().max() > 1)
            for task in _trained_tasks(cfg, cohort):
                y = cohort.labels[task]
                # shown: the name in fold ids and conditions ({K}class for the main task); `task` (the
                # internal key) stays in the payload and in every seed, so no split moves with the name
                shown = task_name(task, cohort)
                schemes = _task_schemes(cfg, task)
                if "intra" in schemes:
                    _warn_one_class_subjects(name, shown, md, y)
                    splitter = WithinSubject(test_size=ev.intra_test_size, unit="unit",
                                             seed=derive_seed(cfg.seed, name, task, "intra"), n_repeats=ev.intra_repeats)
                    for r, (tr, te) in enumerate(splitter.split(md, y=y)):
                        out.append(Fold(f"{name}-intra-{shown}-r{r}", f"{name}/intra/{shown}",
                                        {"cohort": name, "task": task, "scheme": "intra", "train": tr, "test": te},
                                        seed_key=f"{name}-intra-{task}-r{r}"))
                if "intra-channel" in schemes and multi_channel:
                    # Deliberately leaky comparison: each channel-sample is its own unit.
                    splitter = WithinSubject(test_size=ev.intra_test_size, unit=("unit", "channel"),
                                             seed=derive_seed(cfg.seed, name, task, "intra-channel"),
                                             n_repeats=ev.intra_repeats)
                    for r, (tr, te) in enumerate(splitter.split(md, y=y)):
                        out.append(Fold(f"{name}-intra-channel-{shown}-r{r}", f"{name}/intra-channel/{shown}",
                                        {"cohort": name, "task": task, "scheme": "intra-channel",
                                         "train": tr, "test": te}, seed_key=f"{name}-intra-channel-{task}-r{r}"))
                if "loso" in schemes:
                    _warn_unseen_loso_classes(name, shown, md, y)
                    if len(subjects) < 3:
                        raise DataError(f"cohort {name!r} has {len(subjects)} subject(s); "
                                        "leave-one-subject-out needs at least 3 (2 to train and validate); "
                                        "--set evaluate.schemes=[intra] runs the within-subject folds alone",
                                        _cohort_path(cfg, name))
                    held = subjects if ev.loso_max_subjects is None else subjects[: ev.loso_max_subjects]
                    subj = md["subject"].astype(str).to_numpy()
                    for tr, te in LeaveOneSubjectOut().split(md.assign(subject=subj)):
                        s = subj[te[0]]
                        if s not in held:
                            continue
                        if ev.loso_train_subjects is not None:  # low-data LOSO: a seeded draw of training subjects
                            others = sorted(set(subj[tr]))
                            k = min(int(ev.loso_train_subjects), len(others))
                            rng = np.random.default_rng(derive_seed(cfg.seed, name, task, "loso-train", s))
                            keep = set(rng.choice(others, size=k, replace=False).tolist())
                            tr = tr[np.isin(subj[tr], list(keep))]
                        out.append(Fold(f"{name}-loso-{shown}-{s}", f"{name}/loso/{shown}",
                                        {"cohort": name, "task": task, "scheme": "loso", "train": tr, "test": te,
                                         "held_out": s}, seed_key=f"{name}-loso-{task}-{s}"))
            _check_fold_sizes(cfg, name, cohort, [f for f in out if f.payload["cohort"] == name])
            _check_burst_layout(cfg, name, md)
            if ev.final_model and any(m.startswith("cnn_lstm") for m in ev.models):
                all_idx = np.arange(len(cohort.epochs))
                main = main_task_name(cohort)
                out.append(Fold(f"{name}-final-{main}", f"{name}/final/{main}",
                                {"cohort": name, "task": MAIN, "scheme": "final", "train": all_idx,
                                 "test": np.zeros(0, dtype=np.int64)}, seed_key=f"{name}-final-{MAIN}"))
        return out

    def fold_cost(self, cfg: MuscleIdConfig, data: MuscleIdData, fold: Fold) -> float:
        """Relative cost: training windows x window length x networks trained (the runner starts the
        longest folds first). The networks dominate; the baselines count as a tenth of one."""
        p = fold.payload
        models = _fold_models(cfg, p.get("task", MAIN), p["scheme"])
        nets = sum(1.0 if (m.startswith("cnn_lstm") or m in DEEP_MODELS or m in BURST_MODELS) else 0.1 for m in models)
        return float(len(p["train"])) * float(data[p["cohort"]].epochs.n_times) * nets

    # ---------------------------------------------------------------- models
    def make_model(self, cfg: MuscleIdConfig, model: str, scheme: str, seed: int):
        """A fresh estimator for ``model`` (one of :data:`MODEL_NAMES`)."""
        from ...config import to_dict

        t = cfg.train
        if model in ("cnn_lstm_pretrained", "cnn_lstm_random"):
            train = {k: v for k, v in to_dict(t).items() if k != "device"}
            if scheme in ("intra", "intra-channel"):
                # the intra-subject recipe (evaluate.intra_train): chosen on the intra split of a seed-1 cohort;
                # LOSO keeps early stopping on held-aside training subjects
                train.update(cfg.evaluate.intra_train)
            return build_from_sections(
                cfg.model.name, cfg.model.params,
                defaults=train,
                pretrain=model == "cnn_lstm_pretrained",
                # LOSO: validate on held-aside TRAINING subjects; intra/final: on held-aside bursts.
                val_group="subject" if scheme == "loso" else "unit",
                class_weight=t.imbalance in ("class_weight", "both"), seed=seed, device="cpu",
            )
        if model in BURST_MODELS:  # a burst's grid channels as one sample (models/grid_burst.py)
            name, variant = BURST_MODELS[model]
            val_group = "subject" if scheme == "loso" else "unit"
            cw = t.imbalance in ("class_weight", "both")
            if name == "cnn_lstm_burst":
                return build_from_sections(name, cfg.model.params,
                                           defaults={k: v for k, v in to_dict(t).items() if k != "device"},
                                           pretrain=variant, val_group=val_group, class_weight=cw, seed=seed,
                                           device="cpu")
            return build_from_sections(name, cfg.deep.params, arch=variant, val_group=val_group, class_weight=cw,
                                       seed=seed, device="cpu")
        if model in ("lda", "rf"):
            return build_from_sections(cfg.baseline.name, cfg.baseline.params, kind=model, seed=seed)
        if model in DEEP_MODELS or model in SIMPRE_MODELS:
            # Their own recipe (deep.params + deep.per_model[model]), not the train section; early stopping on
            # held-aside TRAINING subjects (LOSO) or bursts (intra/final), as for the CNN-LSTM.
            # A _simpre model is its twin plus simulator pretraining (the simulated windows made with
            # this config's preprocessing, so they have the real windows' rate and length).
            pre = {}
            if model in SIMPRE_MODELS:
                pre = {"pretrain": {**to_dict(cfg.sim_pretrain), "preprocess": to_dict(cfg.preprocess)}}
            arch = DEEP_MODELS[SIMPRE_MODELS.get(model, model)]
            return build_from_sections(cfg.deep.name, cfg.deep.params_for(model), arch=arch,
                                       val_group="subject" if scheme == "loso" else "unit",
                                       class_weight=t.imbalance in ("class_weight", "both"), seed=seed, device="cpu",
                                       **pre)
        raise ConfigError(f"unknown model {model!r}; choose from {list(MODEL_NAMES)}")

    # ---------------------------------------------------------------- run_fold
    def run_fold(self, cfg: MuscleIdConfig, data: MuscleIdData, fold: Fold, ctx: FoldContext) -> FoldResult:
        p = fold.payload
        cohort: CohortData = data[p["cohort"]]
        task, scheme = p["task"], p["scheme"]
        if fold.seed_key not in (None, fold.id):  # the main task named {K}class, K != 4 (seeded by its old id)
            _refuse_old_naming(ctx.workdir, p["cohort"], task_name(task, cohort))
        train, test = np.asarray(p["train"], dtype=np.int64), np.asarray(p["test"], dtype=np.int64)
        md = cohort.epochs.metadata
        if scheme == "loso":
            check_no_leakage(md, train, test, ["subject"])
        elif scheme == "intra":
            check_no_leakage(md, train, test, [("subject", "unit")])
        elif scheme == "intra-channel":
            check_no_leakage(md, train, test, [("subject", "unit", "channel")])
        y = cohort.labels[task]
        ep_train = cohort.epochs[train].replace(y=y[train])
        ep_test = cohort.epochs[test].replace(y=y[test]) if test.size else None
        metrics: dict[str, dict[str, float]] = {}
        curves: dict[str, dict[str, list[float]]] = {}
        states: dict[str, dict[str, Any]] = {}
        frames = []
        extras: dict[str, Any] = {
            "cohort": p["cohort"], "task": task_name(task, cohort), "scheme": scheme, "held_out": p.get("held_out"),
            "n_train": int(train.size), "n_test": int(test.size), "fs": float(cohort.epochs.fs),
            "window_samples": int(cohort.epochs.n_times), "input_names": ["emg"], "models": {},
            # how the recordings were cut (auto resolved): check-placement cuts new ones the same way, also
            # from a killed run that has no metrics.json yet
            "segmentation": cohort.info.get("segmentation"),
        }
        models = _fold_models(cfg, task, scheme)
        for model in models:
            if model in SIMPRE_MODELS and not _simpre_match(cfg, np.unique(y[train])):
                extras["models"][model] = {"skipped": f"no class of task {task_name(task, cohort)!r} matches a "
                                                      f"muscle of sim_pretrain.protocol {cfg.sim_pretrain.protocol!r}"}
                continue
            # a _simpre model shares its twin's seed: the two differ only by the pretraining
            seed = derive_seed(ctx.seed, SIMPRE_MODELS.get(model, model))
            est = self.make_model(cfg, model, scheme, seed)
            if model in SIMPRE_MODELS and getattr(data, "cache_dir", None):
                est.set_params(pretrain={**est.pretrain, "cache_dir": data.cache_dir})
            if isinstance(est, CNNLSTMClassifier):
                est.device = ctx.device
                if est.pretrain and scheme == "loso":
                    # Every task of one LOSO split trains on the same windows: one pretraining seed per
                    # split (not per task) makes their unsupervised pretraining identical, so it is computed
                    # once and memoised (keyed by a hash of the training windows and settings; issue 19).
                    est.set_params(pretrain_seed=derive_seed(cfg.seed, p["cohort"], "loso", str(p["held_out"]),
                                                             "pretrain"))
                    if getattr(data, "cache_dir", None):
                        est.set_params(pretrain_cache=str(Path(data.cache_dir) / "muscle_id" / "pretrain"))
                est.fit(ep_train)
                states[model] = estimator_tensors(est)
                curves[model] = est.curves()
                extras["models"][model] = {
                    "estimator": estimator_config(est),
                    "classes": est.classes_.tolist(), "scale": float(est.scale_),
                    "best_epoch": int(est.history_.best_epoch),
                }
                proba = est.predict_proba(ep_test) if ep_test is not None else None
            elif isinstance(est, DeepWindowClassifier):
                est.device = ctx.device
                info: dict[str, Any] = {}
                if cfg.tune.enabled:
                    info["tune"] = self._tune(cfg, est, ep_train, fold, model, seed)
                    est.set_params(**info["tune"]["chosen"])
                est.fit(ep_train)
                states[model] = estimator_tensors(est)
                curves[model] = est.histories_[0].as_curves()
                if est.pretrain_info_ is not None:
                    info["pretrain"] = est.pretrain_info_
                extras["models"][model] = {"estimator": estimator_config(est), "classes": est.classes_.tolist(),
                                           "best_epoch": int(est.histories_[0].best_epoch), **info}
                proba = est.predict_proba(ep_test) if ep_test is not None else None
            else:
                est.fit(cohort.features[train], y[train])
                extras["models"][model] = {"classes": est.classes_.tolist()}
                proba = est.predict_proba(cohort.features[test]) if test.size else None
            metrics[model] = {"n_train": float(train.size)}
            if proba is None:
                continue
            pred = est.classes_[np.argmax(proba, axis=1)]
            frame = _prediction_frame(md.iloc[test], y[test], pred, proba, est.classes_, model)
            frame["condition"] = fold.condition
            frame["fold"] = fold.id
            frames.append(frame)
            metrics[model].update(_fold_metrics(frame))
        preds = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        return FoldResult(fold_id=fold.id, condition=fold.condition, metrics=metrics, predictions=preds,
                          curves=curves, state_dicts=states, extras=extras)

    def _tune(self, cfg: MuscleIdConfig, est, ep_train, fold: Fold, model: str, seed: int) -> dict[str, Any]:
        """Nested selection on the fold's TRAINING subjects only (inner subject-wise folds)."""
        from ...train.tune import select_params

        cohort, k = fold.payload["cohort"], cfg.tune.n_inner
        subjects = ep_train.metadata["subject"].astype(str).nunique()
        # every inner training part must keep 2 subjects when the model early-stops on held-aside subjects
        need = k + 1 if (est.val_fraction > 0 and est.val_group == "subject") else k
        if subjects < need:
            raise DataError(f"cohort {cohort}: fold {fold.id} trains on {subjects} subject(s); tune.n_inner = {k} "
                            f"subject-wise inner folds need at least {need} (lower tune.n_inner or add subjects)")
        sel = select_params(est, cfg.tune.grid, ep_train, groups="subject", n_inner=cfg.tune.n_inner,
                            seed=derive_seed(seed, "tune"), cohort=cohort,
                            where=f"the training fold of {fold.id} ({model})")
        return {"chosen": sel.params, "on_subjects": sel.subjects, "inner_test_subjects": sel.inner_test_subjects,
                "scores": sel.scores, "grid": cfg.tune.grid, "n_inner": cfg.tune.n_inner}

    # ---------------------------------------------------------------- summary
    def summarize(self, cfg: MuscleIdConfig, data: MuscleIdData, results: list[FoldResult]) -> dict[str, Any]:
        preds = [r.predictions for r in results if len(r.predictions)]
        predictions = pd.concat(preds, ignore_index=True) if preds else pd.DataFrame()
        task_maps = {}
        if cfg.evaluate.binary == "collapsed":
            task_maps = {name: {t: c.task_map(t) for t in _binary_tasks(cfg, c)} for name, c in data.items()}
        summary = summarize_results(predictions, task_maps, n_boot=cfg.evaluate.n_boot,
                                    seed=derive_seed(cfg.seed, "bootstrap"))
        summary["cohorts"] = {name: c.info for name, c in data.items()}
        summary["tasks"] = {name: {task_name(t, c): _task_title(t, c) for t in c.tasks} for name, c in data.items()}
        summary["binary_mode"] = cfg.evaluate.binary
        summary["training"] = _training_summary(results)
        summary["paper"] = PAPER
        deep = [m for m in cfg.evaluate.models if m not in BASELINES]
        if any(m in DEEP_MODELS or m in SIMPRE_MODELS or m in BURST_MODELS for m in deep):  # off: as it was
            summary["comparisons"] = paired_comparisons(predictions, deep, BASELINES, n_boot=cfg.evaluate.n_boot,
                                                        seed=derive_seed(cfg.seed, "paired-bootstrap"))
        simpre = [m for m in deep if m in SIMPRE_MODELS]
        if simpre:
            summary["simulator_pretraining"] = _simpre_summary(cfg, predictions, results, simpre)
        if cfg.tune.enabled:
            from ...train.tune import tuning_summary

            summary["tuning"] = tuning_summary(results)
        return summary

    def headline(self, summary: dict[str, Any]) -> list[Headline]:
        res = summary.get("results", {})
        rows: list[Headline] = []

        def acc(cond: str, model: str, key: str = "accuracy"):
            m = res.get(cond, {}).get(model)
            if not m or key not in m:
                return None, None
            v = m[key]
            ci = (100 * v["ci_low"], 100 * v["ci_high"]) if v.get("ci_low") is not None else None
            return 100 * v["point"], ci

        def add(label, cond, model, paper=None, note="", key="accuracy"):
            ours, ci = acc(cond, model, key)
            if ours is not None:
                # the n the interval rests on: its clusters are the test subjects (intra folds included)
                n = res[cond][model].get("n_subjects")
                rows.append(Headline(label=label, ours=ours, ci=ci, paper=paper, note=note,
                                     n=None if n is None else int(n), n_of="test subjects"))

        titles = summary.get("tasks", {})
        # the main task of sim/real as named in this summary (4class unless a folder "sim" cohort has K != 4)
        sm, rm = (next((t for t in titles.get(c, {}) if is_main_task(t)), MAIN) for c in ("sim", "real"))
        sk, rk = f"{sm[:-len('class')]}-class", f"{rm[:-len('class')]}-class"
        binary_note = f" (read off the {sk} model)" if summary.get("binary_mode") == "collapsed" else ""
        add(f"sim intra {sk} %, pretrained (setup 1)", f"sim/intra/{sm}", "cnn_lstm_pretrained",
            PAPER["intra_4class_pretrained"], "new bursts of seen subjects")
        add(f"sim intra {sk} %, random init (setup 2)", f"sim/intra/{sm}", "cnn_lstm_random",
            PAPER["intra_4class_random"])
        add(f"sim intra {sk} %, pretrained, split by CHANNEL (leaky)", f"sim/intra-channel/{sm}",
            "cnn_lstm_pretrained", PAPER["intra_4class_pretrained"],
            "channels of one burst on both sides, as the paper's 80/20 of samples suggests")
        add(f"sim LOSO {sk} %, pretrained", f"sim/loso/{sm}", "cnn_lstm_pretrained", PAPER["loso_4class"])
        add(f"sim LOSO {sk} %, random init", f"sim/loso/{sm}", "cnn_lstm_random", PAPER["loso_4class"])
        add("sim LOSO biceps vs tibialis %, pretrained", "sim/loso/muscle", "cnn_lstm_pretrained",
            PAPER["loso_muscle"], binary_note.strip())
        add("sim LOSO left vs right %, pretrained", "sim/loso/side", "cnn_lstm_pretrained", PAPER["loso_side"],
            binary_note.strip())
        add(f"sim intra {sk} %, burst vote (pretrained)", f"sim/intra/{sm}", "cnn_lstm_pretrained", None,
            "majority vote over a burst's grid channels", key="burst_vote_accuracy")
        add(f"sim LOSO {sk} %, burst vote (pretrained)", f"sim/loso/{sm}", "cnn_lstm_pretrained", None,
            "majority vote over a burst's grid channels", key="burst_vote_accuracy")
        for model, title in (("lda", "LDA"), ("rf", "random forest")):
            add(f"sim intra {sk} %, {title} baseline", f"sim/intra/{sm}", model)
            add(f"sim LOSO {sk} %, {title} baseline", f"sim/loso/{sm}", model)
        for model, title in (("cnn_lstm_pretrained", "pretrained"), ("cnn_lstm_random", "random init"),
                             ("lda", "LDA"), ("rf", "random forest")):
            add(f"real LOSO {rk} %, {title}", f"real/loso/{rm}", model, None, "30 elderly adults, VL/BF/TA/GL")
        add(f"real intra {rk} %, pretrained", f"real/intra/{rm}", "cnn_lstm_pretrained", None,
            "time blocks of one sustained contraction")
        add("real LOSO thigh vs shank %, pretrained", "real/loso/segment", "cnn_lstm_pretrained")
        add("real LOSO anterior vs posterior %, pretrained", "real/loso/aspect", "cnn_lstm_pretrained")

        def deep_rows(cond: str, vote: tuple[str, str] | None = None) -> None:
            """The new deep models (issue 14) of ``cond`` with their paired difference to LDA and RF."""
            cohort, scheme, task = (cond.split("/") + ["", ""])[:3]
            title = task if cohort in ("sim", "real") else titles.get(cohort, {}).get(task, task)
            for model in (*DEEP_MODELS, *BURST_MODELS):
                if model not in res[cond]:
                    continue
                add(f"{cohort} {scheme} {title} %, {model}", cond, model)
                if vote is not None:
                    add(f"{cohort} {scheme} {title} %, {model}, {vote[0]}", cond, model, note=vote[1],
                        key="burst_vote_accuracy")
                for name, c in summary.get("comparisons", {}).get(cond, {}).items():
                    if c["model"] != model:
                        continue
                    ci = None if c["ci_low"] is None else (100 * c["ci_low"], 100 * c["ci_high"])
                    rows.append(Headline(label=f"{cohort} {scheme} {title}, {model} − {c['baseline']} (points)",
                                         ours=100 * c["diff"], ci=ci, paper=None,
                                         note=f"paired subject bootstrap, same folds, {c['n_subjects']} subjects",
                                         n=int(c["n_subjects"]), n_of="test subjects"))

        for cond in sorted(res):
            if cond.split("/")[0] in ("sim", "real"):  # a user's cohort: below, beside its baselines
                deep_rows(cond)
        # The simulator-pretrained twins (issue 14 item 3b): their accuracy and the paired gain over the twin.
        for cond, entry in sorted((summary.get("simulator_pretraining") or {}).get("comparisons", {}).items()):
            cohort, scheme, task = (cond.split("/") + ["", ""])[:3]
            for c in entry.values():
                add(f"{cohort} {scheme} {task} %, {c['model']}", cond, c["model"])
                ci = None if c["ci_low"] is None else (100 * c["ci_low"], 100 * c["ci_high"])
                rows.append(Headline(label=f"{cohort} {scheme} {task}, {c['model']} − {c['baseline']} (points)",
                                     ours=100 * c["diff"], ci=ci, paper=None,
                                     note=f"simulator pretraining vs random init, paired subject bootstrap, "
                                          f"same folds, {c['n_subjects']} subjects",
                                     n=int(c["n_subjects"]), n_of="test subjects"))
        # Any other cohort (a user's folder): every scheme x task, the paper's models beside the classic
        # baselines run in the same folds (a user must see when RF beats the CNN-LSTM); no paper figures.
        for cond in sorted(res):
            cohort, scheme, task = (cond.split("/") + ["", ""])[:3]
            if cohort in ("sim", "real") or scheme == "final":
                continue
            title = titles.get(cohort, {}).get(task, task)
            whole = summary.get("cohorts", {}).get(cohort, {}).get("segmentation") == "whole"
            vote = ("per-recording vote", "majority vote over each recording's windows") if whole else (
                "burst vote", "majority vote over each burst's channels")
            for model in ("cnn_lstm_pretrained", "cnn_lstm_random", "lda", "rf"):
                if model in res[cond]:
                    add(f"{cohort} {scheme} {title} %, {model}", cond, model)
                    add(f"{cohort} {scheme} {title} %, {model}, {vote[0]}", cond, model, note=vote[1],
                        key="burst_vote_accuracy")
            deep_rows(cond, vote)
        return rows

    def figures(self, cfg: MuscleIdConfig, summary: dict[str, Any], predictions: pd.DataFrame,
                run_dir: Path) -> list[tuple[str, Path]]:
        from ...report.figures.muscle_id import make_figures

        return make_figures(summary, predictions, Path(run_dir) / "figures")

    # ---------------------------------------------------------------- export hooks
    def example_inputs(self, cfg: MuscleIdConfig, model: str, extras: dict[str, Any]) -> tuple:
        n = int(extras.get("window_samples") or round(cfg.preprocess.window_ms * (cfg.preprocess.resample_hz or 1000) / 1000))
        return (np.zeros((2, 1, n), dtype=np.float32),)


# ---------------------------------------------------------------------- helpers
def _refuse_old_naming(workdir: Path | None, cohort: str, name: str) -> None:
    """Refuse to add ``{K}class`` folds (K != 4) to a run whose finished folds a myoflow before that
    naming wrote as ``4class`` (``--resume`` of such a run): the run would hold two names for one task
    and its metrics only the new folds. Every fold checks before it trains, so none is added."""
    if workdir is None:
        return
    root = Path(workdir).parent
    old = re.compile(rf"{re.escape(cohort)}-(intra|intra-channel|loso|final)-{MAIN}(-.*)?")
    found = sorted(d.name for d in root.glob(f"{cohort}-*") if old.fullmatch(d.name) and (d / "result.json").is_file())
    if found:
        raise DataError(f"this run was written by an older myoflow that named cohort {cohort!r}'s main task "
                        f"'{MAIN}' (fold {found[0]}); this version names it {name!r} and does not resume it: run "
                        "into a new --out (check-placement, export and report still read this run)", str(root.parent))


_KEEP_COLUMNS = ("subject", "recording", "muscle", "side", "burst_id", "burst_key", "unit", "window", "channel", "onset")


def _prediction_frame(md: pd.DataFrame, truth: np.ndarray, pred: np.ndarray, proba: np.ndarray,
                      classes: np.ndarray, model: str) -> pd.DataFrame:
    cols = {c: md[c].to_numpy() for c in _KEEP_COLUMNS if c in md.columns}
    df = pd.DataFrame(cols)
    df["subject"] = df["subject"].astype(str)
    df.insert(0, "model", model)
    df["truth"] = np.asarray(truth).astype(str)
    df["prediction"] = np.asarray(pred).astype(str)
    for j, c in enumerate(classes):
        df[f"prob_{c}"] = proba[:, j].astype(float)
    return df


def _fold_metrics(frame: pd.DataFrame) -> dict[str, float]:
    from .summary import burst_votes

    from ...evaluate.metrics import classification_metrics

    correct = frame["truth"] == frame["prediction"]
    votes = burst_votes(frame)
    return {
        "accuracy": float(correct.mean()),
        # classes of unequal size (a muscle recorded in three sessions, another in one): accuracy weights each
        # by its windows, this weights them equally; the report's table shows both
        "balanced_accuracy": classification_metrics(frame["truth"].to_numpy(),
                                                    frame["prediction"].to_numpy())["balanced_accuracy"],
        "burst_vote_accuracy": float((votes["truth"] == votes["prediction"]).mean()),
        "n_windows": float(len(frame)),
        "n_bursts": float(len(votes)),
    }


def _simpre_summary(cfg: MuscleIdConfig, predictions: pd.DataFrame, results: list[FoldResult],
                    models: list[str]) -> dict[str, Any]:
    """The pretraining ablation: each ``_simpre`` model vs its random-init twin (paired, same folds),
    what the simulated cohort held and matched, and where the models were skipped."""
    comps: dict[str, dict[str, Any]] = {}
    for m in models:
        twin = SIMPRE_MODELS[m]
        for cond, c in paired_comparisons(predictions, [m], (twin,), n_boot=cfg.evaluate.n_boot,
                                          seed=derive_seed(cfg.seed, "simpre-bootstrap", m)).items():
            comps.setdefault(cond, {}).update(c)
    matched, skipped, sim_val = {}, {}, {}
    for r in results:
        for m in models:
            info = (r.extras or {}).get("models", {}).get(m)
            if not info:
                continue
            if "skipped" in info:
                skipped.setdefault(r.condition, info["skipped"])
            elif "pretrain" in info:
                p = info["pretrain"]
                matched.setdefault(r.condition, {"matched": p["matched"], "unmatched_classes": p["unmatched_classes"],
                                                 "n_sim_windows": p["n_windows"]})
                sim_val.setdefault(r.condition, {}).setdefault(m, []).extend(
                    [x["sim_val_accuracy"] for x in p["members"]])
    return {"spec": {k: v for k, v in to_dict(cfg.sim_pretrain).items() if k != "cache_dir"},
            "comparisons": comps, "matched": matched, "skipped": skipped,
            "sim_val_accuracy": {c: {m: float(np.mean(v)) for m, v in d.items()} for c, d in sim_val.items()}}


def _training_summary(results: list[FoldResult]) -> dict[str, Any]:
    """Per condition and CNN model: mean best epoch, final AE losses (pretraining check)."""
    out: dict[str, Any] = {}
    for r in results:
        for model, c in (r.curves or {}).items():
            entry = out.setdefault(r.condition, {}).setdefault(model, {"best_epoch": [], "ae_loss_ratio": []})
            vl = c.get("val_loss") or []
            if vl:
                entry["best_epoch"].append(int(np.argmin(vl)))
            for k, v in c.items():
                if k.endswith("_reconstruction_mse") and len(v) >= 2 and v[0] > 0:
                    entry["ae_loss_ratio"].append(float(v[-1] / v[0]))
    for cond in out.values():
        for model, entry in cond.items():
            cond[model] = {
                "mean_best_epoch": float(np.mean(entry["best_epoch"])) if entry["best_epoch"] else None,
                "mean_ae_final_over_initial_mse": float(np.mean(entry["ae_loss_ratio"])) if entry["ae_loss_ratio"] else None,
            }
    return out
