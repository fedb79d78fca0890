"""Electrode mix-up check: which muscle is each channel on, and does it match what was declared?

The paper's motivating use (Velásquez et al. 2023, §I): in serial examinations
electrodes get swapped or the channel ↔ muscle relation is never written down.
:func:`check_placement` runs a trained muscle-id network (a run directory of
``myoflow run``/``reproduce muscle-id``; by default its ``final`` model trained on
every subject) over new recordings: each channel's bursts are detected and cut
exactly as in training, every window is classified, and the window
probabilities are averaged per channel. A channel is flagged when its predicted
muscle differs from the declared one.
"""
from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd
import yaml

from ...containers import Recording
from ...io._common import NON_EMG_NOTE, non_emg
from ...errors import ConfigError, DataError
from .._rundir import read_fold_json
from ...pipelines.muscle_id.tasks import MAIN_TASK_PATTERN
from ...preprocess.windows import burst_windows

__all__ = ["check_placement", "load_placement_model", "parse_expected", "normalise_label"]

log = logging.getLogger(__name__)

_SIDE_WORDS = {"l": "L", "left": "L", "r": "R", "right": "R"}
_MUSCLE_WORDS = {"bb": "BB", "biceps": "BB", "brachii": "BB", "ta": "TA", "tibialis": "TA", "anterior": "TA",
                 "vl": "VL", "vastus": "VL", "lateralis": "VL", "bf": "BF", "femoris": "BF",
                 "gl": "GL", "lg": "GL", "gastrocnemius": "GL"}


def normalise_label(text: str, classes: Iterable[str]) -> str:
    """Map a user's muscle name (``L-BB``, ``left biceps``, ``ta_right``, ``VL``) to a model class.

    Raises
    ------
    ConfigError
        When the name matches no class, listing the classes.
    """
    classes = [str(c) for c in classes]
    raw = str(text).strip()
    for c in classes:
        if raw.lower() == c.lower():
            return c
    words = [w for w in re.split(r"[\s_\-/,.]+", raw.lower()) if w]
    side = next((_SIDE_WORDS[w] for w in words if w in _SIDE_WORDS), None)
    muscle = next((_MUSCLE_WORDS[w] for w in words if w in _MUSCLE_WORDS), None)
    for cand in ([f"{side}-{muscle}"] if side and muscle else []) + ([muscle] if muscle else []):
        if cand in classes:
            return cand
    if muscle and not side and any(c.endswith(f"-{muscle}") for c in classes):
        return muscle  # muscle without a side: checked at the muscle level (sides are not separable)
    raise ConfigError(f"unknown muscle {text!r}; this model knows {classes}"
                      + (" (or a muscle without side)" if any("-" in c for c in classes) else ""))


def _members(label: str, classes: list[str]) -> list[str]:
    """Classes a declared label stands for: itself, or both sides of a side-less muscle."""
    return [c for c in classes if c == label or c.endswith(f"-{label}")]


def parse_expected(spec: str | Mapping[str, str] | None) -> dict[str, str]:
    """``"ch1=L-BB,ch2=R-TA"`` → ``{"ch1": "L-BB", "ch2": "R-TA"}``.

    Keys are channel names, ``<recording stem>:<channel>`` for one file, or ``*``
    for every channel not named otherwise.
    """
    from ...io.convert import parse_mapping

    return parse_mapping(spec, "--expected", pair="CHANNEL=MUSCLE")


def load_placement_model(model_dir: str | Path, model: str | None = None, fold: str | None = None,
                         cohort: str | None = None):
    """Load a trained CNN-LSTM from a muscle-id run directory.

    ``cohort`` picks the cohort (``sim``, ``real``, ...) whose model to use; default the
    first in the run's config.

    Returns
    -------
    estimator, info, cfg
        The fitted :class:`~myoflow.models.cnn_lstm.CNNLSTMClassifier` (loaded with the
        one estimator save/load); ``info`` with ``classes``, ``scale``, ``fold``,
        ``model``, ``fs``, ``window_samples``; the run's config.
    """
    from ...experiments.registry import load_config
    from ...models.cnn_lstm import CNNLSTMClassifier

    run = Path(model_dir)
    if not (run / "config.yaml").is_file():
        raise DataError("not a run directory (no config.yaml); pass the --out folder of a muscle-id run", str(run))
    cfg = load_config(yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8")))
    if cfg.pipeline != "muscle-id":
        raise DataError(f"run is of pipeline {cfg.pipeline!r}, not muscle-id", str(run))
    folds = sorted(p for p in (run / "folds").glob("*") if (p / "result.json").is_file())
    if fold is not None:
        folds = [p for p in folds if p.name == fold]
        if not folds:
            raise DataError(f"no finished fold {fold!r}", str(run))
    else:  # the deployable model: trained on all subjects; otherwise any LOSO main-task fold
        names = [c for c, cc in cfg.data.items() if cc.enabled]
        if cohort is not None:
            if cohort not in names:
                raise DataError(f"run has no cohort {cohort!r}; cohorts are {names}", str(run))
            names = [cohort]
        ordered = []
        for c in names:
            mine = [p for p in folds if p.name.startswith(f"{c}-")]
            # the main task is {K}class (4class in runs before that naming, whatever K)
            ordered += [p for p in mine if re.fullmatch(rf"{re.escape(c)}-final-{MAIN_TASK_PATTERN}", p.name)]
            ordered += [p for p in mine if re.match(rf"{re.escape(c)}-loso-{MAIN_TASK_PATTERN}-", p.name)]
        folds = ordered or folds
    for p in folds:
        extras = read_fold_json(p / "extras.json", {})
        models = extras.get("models") or {}
        names = [model] if model else [m for m in ("cnn_lstm_pretrained", "cnn_lstm_random") if m in models]
        for name in names:
            if name in models and "estimator" in models[name] and (p / f"{name}.safetensors").is_file():
                module = CNNLSTMClassifier.load(p / f"{name}.safetensors", config=models[name]["estimator"])
                info = {"classes": list(models[name]["classes"]), "scale": float(models[name]["scale"]),
                        "fold": p.name, "model": name, "fs": extras.get("fs"),
                        "window_samples": extras.get("window_samples"), "task": extras.get("task"),
                        "cohort": extras.get("cohort"), "segmentation": extras.get("segmentation")}
                return module, info, cfg
    saved = sorted({p.stem.split(".")[0] for d in folds for p in d.glob("*.safetensors")})
    raise DataError(f"no trained CNN-LSTM checkpoint{' ' + repr(model) if model else ''} found (baselines are "
                    f"not saved); --model takes one of {saved or ['cnn_lstm_pretrained', 'cnn_lstm_random']}",
                    str(run))


def _segmentation(run: Path, cfg: Any, cohort: str | None) -> str:
    """How the run cut ``cohort``'s recordings into windows (``bursts`` or ``whole``).

    ``auto`` is resolved by the run (sustained contractions -> whole) and recorded in ``metrics.json``;
    check-placement detected bursts whatever the run did, so a lab whose recordings are sustained
    contractions trained a model it could never check a placement with ("no contraction detected").
    """
    cc = (getattr(cfg, "data", None) or {}).get(cohort) if cohort else None
    seg = getattr(cc, "segmentation", "bursts") if cc is not None else "bursts"
    if seg == "auto":
        try:
            m = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
            seg = m["summary"]["cohorts"][cohort]["segmentation"]
        except (OSError, ValueError, KeyError, TypeError):
            seg = "bursts"  # an unfinished run: the detector, as before (its message says what it found)
    return str(seg)


def _read_recording(item: Recording | str | Path, hints: Mapping[str, Any] | None = None) -> tuple[str, Recording]:
    if isinstance(item, Recording):
        return str(item.meta.get("source") or item.meta.get("subject") or "recording"), item
    from ...io import read

    path = Path(item)
    obj = read(path, **dict(hints or {}))
    if not isinstance(obj, Recording):
        streams = getattr(obj, "streams", None)
        if streams and "emg" in streams:
            obj = streams["emg"]
        else:
            raise DataError(f"expected an EMG recording, got {type(obj).__name__}", str(path))
    if not obj.meta.get("source"):
        obj = obj.replace(meta={**obj.meta, "source": str(path)})
    return path.stem, obj


def check_placement(
    model_dir: str | Path,
    recordings: Iterable[Recording | str | Path],
    expected: str | Mapping[str, str] | None = None,
    *,
    model: str | None = None,
    fold: str | None = None,
    cohort: str | None = None,
    hints: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Predict the muscle under every channel and compare with the declared muscle.

    Parameters
    ----------
    model_dir : path
        Run directory of a muscle-id run.
    recordings : Recordings or file paths (any format :func:`myoflow.io.read` reads)
    expected : ``"ch=muscle,..."`` or mapping, optional
        Declared muscle per channel (``stem:channel`` for one file, ``*`` for all). A
        muscle without a side (``biceps``) is checked at the muscle level, summing the
        probabilities of both sides — the paper found sides inseparable across people.
    model, fold, cohort : optional
        Which checkpoint (default: the ``final`` fold's pretrained CNN-LSTM of the first
        cohort whose classes include the declared muscles, else of the first cohort).
    hints : mapping, optional
        Reader hints for the recording files (``decimal=","``, ``fs=2000``), as ``myoflow inspect --hint``.

    Returns
    -------
    DataFrame
        One row per recording × channel: ``recording``, ``channel``, ``n_windows``,
        ``predicted``, ``p_predicted``, ``expected``, ``p_expected``, ``mismatch``
        (True/False, or NA without a declaration), and ``prob_<class>`` columns.
    """
    raw = parse_expected(expected)
    if cohort is None and fold is None and raw:
        # no cohort named: use the first cohort whose muscles the declarations name
        from ...experiments.registry import load_config

        cfg0 = load_config(yaml.safe_load((Path(model_dir) / "config.yaml").read_text(encoding="utf-8"))) \
            if (Path(model_dir) / "config.yaml").is_file() else None
        for name in ([c for c, cc in cfg0.data.items() if cc.enabled] if cfg0 is not None else []):
            try:
                _, info0, _ = load_placement_model(model_dir, model, fold, cohort=name)
                [normalise_label(v, info0["classes"]) for v in raw.values()]
            except (ConfigError, DataError):
                continue
            cohort = name
            break
    est, info, cfg = load_placement_model(model_dir, model, fold, cohort)
    classes = info["classes"]
    declared = {k: normalise_label(v, classes) for k, v in raw.items()}
    pp = cfg.preprocess
    # the fold's own record first (runs since 2026-12-07), else the config / metrics.json
    whole = (info.get("segmentation") or _segmentation(Path(model_dir), cfg, info.get("cohort"))) == "whole"
    rows = []
    for item in recordings:
        stem, rec = _read_recording(item, hints)
        per_channel = [None] if rec.grid_shape is not None and rec.n_channels > 1 else list(range(rec.n_channels))
        for sel in per_channel:
            why = None if sel is None else non_emg(rec.data[sel])
            if why is not None:
                # a dead electrode or a trigger/sync line beside the EMG: no muscle to name (training leaves such
                # channels out as well); said in the table instead of a prediction
                rows.append({"recording": stem, "channel": rec.ch_names[sel], "n_windows": 0,
                             "note": NON_EMG_NOTE[why]})
                continue
            chans = None if sel is None else [sel]
            # a recording the model's preprocessing cannot take (rate below the band, too short to estimate
            # rest) is bad input, not a channel without bursts: its error names the file
            # a model trained on sustained contractions (segmentation whole) sees every window of them, as in training
            ep, _ = burst_windows(rec, pp, recording_id=stem, channels=chans,
                                  **({"whole": True, "windows_per_burst": None} if whole else {}))
            names = list(rec.ch_names) if sel is None else [rec.ch_names[sel]]
            if ep is None:
                for ch in names:
                    rows.append({"recording": stem, "channel": ch, "n_windows": 0})
                continue
            if info.get("window_samples") and ep.n_times != int(info["window_samples"]):
                raise DataError(f"windows have {ep.n_times} samples, the model expects {info['window_samples']}",
                                stem)
            proba = est.predict_proba(ep.X)
            src_ch = ep.metadata["channel"].to_numpy()
            for ch in names:
                m = src_ch == ch
                p = proba[m].mean(axis=0)
                rows.append({"recording": stem, "channel": ch, "n_windows": int(m.sum()),
                             **{f"prob_{c}": float(v) for c, v in zip(classes, p)}})
    out = pd.DataFrame(rows)
    if out.empty:
        raise DataError("no recordings given")
    pcols = [f"prob_{c}" for c in classes]
    for c in pcols:
        if c not in out.columns:
            out[c] = np.nan
    has = out["n_windows"] > 0
    probs = out[pcols].to_numpy(dtype=float)
    out["predicted"] = pd.Series([classes[int(np.argmax(r))] if ok else None for r, ok in zip(probs, has)],
                                 dtype=object)
    out["p_predicted"] = np.where(has, np.nanmax(np.where(np.isnan(probs), -1, probs), axis=1), np.nan)

    records = out.to_dict("records")

    def decl(r: dict) -> str | None:
        return declared.get(f"{r['recording']}:{r['channel']}") or declared.get(r["channel"]) or declared.get("*")

    exp = [decl(r) for r in records]
    p_exp, mism = [], []
    for r, e in zip(records, exp):
        if not e or not r["n_windows"]:
            p_exp.append(np.nan)
            mism.append(pd.NA)
            continue
        members = _members(e, classes)
        p_exp.append(float(sum(r[f"prob_{c}"] for c in members)))
        if members == [e]:
            mism.append(r["predicted"] != e)
        else:  # side-less declaration: compare summed probabilities per muscle
            groups = {c.split("-", 1)[-1] for c in classes}
            best = max(groups, key=lambda g: sum(r[f"prob_{c}"] for c in _members(g, classes)))
            mism.append(best != e)
    out["expected"] = pd.Series(exp, dtype=object)
    out["p_expected"] = p_exp
    out["mismatch"] = pd.Series(mism, dtype="boolean")
    unknown = set(k.split(":")[-1] for k in declared if k != "*") - set(out["channel"])
    if unknown:
        raise ConfigError(f"--expected names channel(s) {sorted(unknown)} not found; channels are "
                          f"{sorted(set(out['channel']))}")
    out.attrs.update({"model": info["model"], "fold": info["fold"], "classes": classes})
    front = ["recording", "channel", "n_windows", "expected", "predicted", "p_predicted", "p_expected", "mismatch"]
    if "note" in out.columns:  # channels that are no EMG say why instead of a prediction
        out["note"] = out["note"].fillna("")
        front.append("note")
    return out[front + pcols]
