"""Runs without writing YAML: ``myoflow run PIPELINE --data DIR [--set key.path=value ...]``.

:func:`data_config` starts from the pipeline's shipped config and points its data
section at a dataset folder (what ``myoflow convert`` or ``myoflow simulate``
writes), with defaults read off the folder (muscles, frequencies, classes and
covariates that are present); the paper's simulated/real cohorts are switched
off. :func:`parse_sets` turns ``--set`` strings into overrides that are merged
last and validated exactly like the YAML (:func:`myoflow.experiments.load_config`).

A user cohort keeps the user's name (the folder's name, or ``--name``) and its
headline rows carry no paper figures (:func:`user_headline`): a number from your
recordings is not comparable with the paper's.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

from ..config import deep_merge, load_yaml
from ..errors import ConfigError, DataError

__all__ = ["parse_sets", "folder_overrides", "data_config", "cohort_name", "user_headline", "user_cohorts"]

log = logging.getLogger(__name__)


def parse_sets(items: Iterable[str]) -> dict[str, Any]:
    """``["train.epochs=3", "data.muscles=[RF,BF]"]`` → nested overrides (values parsed as YAML)."""
    out: dict[str, Any] = {}
    for text in items:
        if "=" not in text:
            raise ConfigError(f"--set: expected KEY.PATH=VALUE, got {text!r}")
        key, raw = text.split("=", 1)
        parts = [p.strip() for p in key.split(".")]
        if not all(parts):
            raise ConfigError(f"--set: bad key {key!r} (use dotted names, e.g. train.epochs=5)")
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError as exc:
            raise ConfigError(f"--set {key}: cannot parse value {raw!r} ({exc})") from None
        node = out
        for p in parts[:-1]:
            nxt = node.setdefault(p, {})
            if not isinstance(nxt, dict):
                raise ConfigError(f"--set: {key!r} conflicts with an earlier --set of {p!r}")
            node = nxt
        node[parts[-1]] = value
    return out


def folder_overrides(pipeline: str, raw: Mapping[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``--set data.KEY=V`` of ``run muscle-id --data DIR`` applied to the folder's cohort (``data.<name>.KEY``).

    muscle-id's ``data`` maps cohort names to cohorts, and ``--data`` makes one cohort named after the folder;
    ``data.segmentation=whole`` was read as a cohort named ``segmentation`` ("expected a mapping for section
    CohortConfig"), and a typo (``data.bandpas``) as another cohort, naming neither the key nor the way to set it.
    """
    data = overrides.get("data")
    if pipeline != "muscle-id" or not isinstance(data, dict):
        return overrides
    from ..pipelines.muscle_id.config import CohortConfig

    (cname,) = raw["data"]
    fields = sorted(CohortConfig.__dataclass_fields__)
    moved = {k: v for k, v in data.items() if k in fields}
    # a mapping is another cohort beside the folder's (data.sim.enabled=true): left to the config check
    unknown = [k for k in data if k not in fields and k != cname
               and not (isinstance(data[k], dict) and set(data[k]) <= set(fields))]
    if unknown:
        raise ConfigError(f"--set data.{unknown[0]}: unknown key for the folder's cohort {cname!r}; allowed keys: "
                          f"{fields} (data.KEY or data.{cname}.KEY)")
    if not moved:
        return overrides
    cohort = dict(data.get(cname) or {})
    for k, v in moved.items():
        if k in cohort:
            raise ConfigError(f"--set: data.{k} and data.{cname}.{k} both given")
        cohort[k] = v
    rest = {k: v for k, v in data.items() if k not in moved and k != cname}
    return {**overrides, "data": {**rest, cname: cohort}}


def cohort_name(path: str | Path) -> str:
    """A condition-safe name for a user's folder: ``~/data/My Knees`` → ``My-Knees``."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", Path(path).resolve().name).strip("-_") or "user"
    return name if name not in ("sim", "real") else f"{name}-data"


def _folder(path: Path):
    from ..io.dataset import is_dataset_folder, load_dataset

    if path.is_file() and is_dataset_folder(path.parent):  # DIR/dataset.json or DIR/index.csv
        raise DataError(f"--data takes the dataset folder, not a file in it: --data {path.parent}", str(path))
    if path.is_file():  # one recording: "folder not found" sent the user looking for a typo
        raise DataError("--data names a file, not a dataset folder: put the recordings in a folder and convert it "
                        "with myoflow convert FOLDER --pattern '{subject}_{muscle}' --out DIR, then --data DIR",
                        str(path))
    if not path.is_dir():
        raise DataError("--data: folder not found", str(path))
    if not is_dataset_folder(path):
        raise DataError("--data: not a myoflow dataset folder (no dataset.json); build one with `myoflow convert`",
                        str(path))
    return load_dataset(path)


def _column(ds, name: str) -> list:
    if name not in ds.index.columns:
        return []
    vals = [v for v in ds.index[name].dropna().unique().tolist() if v != ""]
    return sorted(vals, key=lambda v: (isinstance(v, str), v))


def _covariate_columns(names: list[str], part: Any, path: Path) -> list[str]:
    """The participants.csv columns that give the shipped covariates ``names``, in their order.

    A column named like a numeric one with its unit beside it (``Age (y)``, ``Height [cm]``, ``BMI (kg/m2)``, as
    clinic spreadsheets write them) gives that covariate when the plain name is absent: they were left out without a
    word, and the model trained without the person's age. Said in a warning, since ``myoflow predict`` then
    asks for the column's own name.
    """
    def stem(col: str) -> str:
        return re.sub(r"\s*[(\[].*$", "", str(col)).strip().lower()

    import pandas as pd

    columns = list(part.columns)

    def numeric(col: str) -> bool:  # a text column ("54 y") stays out, as it did before
        vals = part[col].dropna()
        return bool(len(vals)) and bool(pd.to_numeric(vals, errors="coerce").notna().all())

    out, read = [], []
    for name in names:
        if name in columns:
            out.append(name)
            continue
        # numeric ones only: sex is read as M/F under its own name alone ("Sex (M/F)" is a legend, not a unit,
        # and read as a covariate it stopped a run that had gone without it)
        like = [c for c in columns if stem(c) == name.lower() and c not in out and numeric(c)] \
            if name.lower() != "sex" else []
        if len(like) == 1:
            out.append(like[0])
            read.append(f"{like[0]!r} as {name}")
    if read:
        log.warning("%s: participants.csv column(s) %s are read as covariates (in their own units; myoflow predict "
                    "takes them by these names, e.g. --covariates '%s=...'); --set 'data.covariates=[...]' to "
                    "choose others", path, ", ".join(read), read[0].split("'")[1])
    return out


def data_config(pipeline: str, data_dir: str | Path, name: str | None = None,
                overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The raw config mapping for running ``pipeline`` on the dataset folder ``data_dir``.

    Parameters
    ----------
    pipeline : str
        A pipeline name (``muscle-id``, ``stimulated-mass``, ``gait-emg``, ``muap-generator``).
    data_dir : path-like
        The dataset folder.
    name : str, optional
        The cohort's name (default: the folder's name).
    overrides : mapping, optional
        The ``--set`` overrides (merged later by the caller); the defaults read off the folder follow the
        settings they depend on (stimulated-mass: ``data.label`` names the column the classes are read from).

    Returns
    -------
    dict
        The shipped config with the data section replaced (validated later by
        :func:`~myoflow.experiments.load_config`, with any ``--set`` overrides).
    """
    from .cli import protocol_config

    path = Path(data_dir)
    ds = _folder(path)
    raw = load_yaml(protocol_config(pipeline))
    cname = name or cohort_name(path)
    raw["name"] = cname
    raw.pop("quick", None)  # the paper's quick sizes are for the paper's cohorts
    quick: dict[str, Any] = {}
    if pipeline == "muscle-id":
        raw["data"] = {cname: {"source": "folder", "path": str(path), "subjects": None}}
        # + the hybrid (deep + classic-feature branch), the best model on the real elderly set (recipe chosen on
        # its development subjects): a lab sees a deep model that can earn its place beside the paper's CNN-LSTM
        # and the baselines, with the paired CI against each; --set evaluate.models=[...] replaces the list.
        models = list(raw.get("evaluate", {}).get("models") or [])
        raw.setdefault("evaluate", {})["models"] = models + [m for m in ("hybrid",) if m not in models]
        quick = {"train": {"epochs": 10, "patience": 5}, "model": {"params": {"ae_epochs": 2, "ae_max_samples": 2000}},
                 "evaluate": {"binary": "collapsed", "n_boot": 200}}
    elif pipeline == "stimulated-mass":
        d = {"source": "folder", "path": str(path)}
        try:
            freqs = [float(f) for f in _column(ds, "frequency")]
        except (TypeError, ValueError):  # a folder written by hand (write_dataset) with text frequencies
            raise DataError(f"column 'frequency' holds {_column(ds, 'frequency')[:5]}: stimulation frequencies "
                            "must be numbers in Hz", str(Path(path) / "index.csv")) from None
        if freqs:
            d["frequencies"] = freqs
            raw.setdefault("evaluate", {})["conditions"] = [f"{f:g}Hz" for f in freqs] + (["all"] if len(freqs) > 1
                                                                                       else [])
        muscles = [str(m) for m in _column(ds, "muscle")]
        if muscles:
            d["muscles"] = muscles
        rates = [float(f) for f in _column(ds, "fs")]
        if len(rates) == 1:  # the folder's rate, so config.yaml says what the models were trained at
            d["fs"] = rates[0]
        part = ds.participants
        # the classes are read from the column the run will use: a user's --set data.label=status, not the default
        set_data = (overrides or {}).get("data")
        label = set_data["label"] if isinstance(set_data, Mapping) and isinstance(set_data.get("label"), str) \
            else raw.get("data", {}).get("label", "mass_class")
        if label in part.columns:
            present = [str(c) for c in part[label].dropna().unique()]
            if len(present) < 2:  # else the config check's "data.classes needs at least two classes", naming no file
                raise DataError(f"label column {label!r} holds {len(present)} class(es) {present}: classification "
                                "needs at least two (another column: --set data.label=COLUMN)",
                                str(Path(path) / "participants.csv"))
            shipped = [c for c in raw["data"].get("classes", []) if c in present]
            d["classes"] = shipped + sorted(c for c in present if c not in shipped)
        d["covariates"] = _covariate_columns(raw["data"].get("covariates", []), part, path)
        d["oracle_features"] = []
        # The oracle reads simulator ground truth, which a user's recordings do not have.
        models = [m for m in raw.get("evaluate", {}).get("models", []) if m != "oracle_truth_logreg"]
        if not d["covariates"] and "covariates_logreg" in models:  # nothing for it to learn from
            log.warning("%s: participants.csv has no covariates (%s); covariates_logreg is left out", path,
                        ", ".join(raw["data"].get("covariates", [])))
            models.remove("covariates_logreg")
        raw.setdefault("evaluate", {})["models"] = models
        raw["data"] = {**raw.get("data", {}), **d}
        quick = {"evaluate": {"n_splits": 3}, "train": {"epochs": 10, "patience": 5}}
    elif pipeline == "gait-emg":
        raw["data"] = {**raw.get("data", {}), "source": "folder", "path": str(path), "real": False}
        quick = {"evaluate": {"n_boot": 100}, "model": {"params": {"torque_epochs": 10}}, "train": {"epochs": 10, "patience": 5}}
    elif pipeline == "muap-generator":
        raw["data"] = {**raw.get("data", {}), "source": "folder", "path": str(path)}
        quick = {"train": {"epochs": 10, "patience": 10}, "model": {"params": {"hidden": 128, "n_hidden_layers": 2,
                                                                                "output_rank": 32}}}
    else:  # pragma: no cover - protocol_config already refused it
        raise ConfigError(f"unknown pipeline {pipeline!r}")
    raw["quick"] = quick
    return raw


def user_cohorts(cfg: Any) -> dict[str, str]:
    """``{cohort prefix in conditions/labels: user name}`` for data sections that read a folder."""
    data = getattr(cfg, "data", None)
    out: dict[str, str] = {}
    if isinstance(data, Mapping):  # muscle-id: cohort name -> section
        for key, sec in data.items():
            if getattr(sec, "source", None) == "folder" and getattr(sec, "enabled", True):
                out[key] = key
    elif getattr(data, "source", None) == "folder" and getattr(data, "path", None) is not None:
        if cfg.pipeline == "gait-emg":  # its rows already carry the cohort's name (one home: gait's cohort_name)
            from ..pipelines.gait_emg.pipeline import cohort_name as gait_cohort

            out[gait_cohort(cfg)] = gait_cohort(cfg)
        else:
            out["sim"] = cohort_name(data.path) if cfg.name in (None, "", cfg.pipeline) else cfg.name
    return out


def user_headline(cfg: Any, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Headline rows of a run on the user's data: named after the user's cohort, no paper figures beside them."""
    users = user_cohorts(cfg)
    if not users:
        return rows
    out = []
    for r in rows:
        r = dict(r)
        label = str(r.get("label", ""))
        prefix = label.split(" ", 1)[0].split("/", 1)[0]
        if prefix in users:
            r["label"] = users[prefix] + label[len(prefix):]
        elif prefix in ("real",) or (isinstance(cfg.data, Mapping) and prefix in cfg.data):
            out.append(r)  # a paper cohort run beside the user's keeps its figures
            continue
        else:
            r["label"] = f"{next(iter(users.values()))}: {label}"
        if r.get("paper") is not None:
            r["paper"] = None
            r["note"] = (str(r.get("note") or "") + "; your data: the paper's figure is not comparable").lstrip("; ")
        out.append(r)
    return out
