"""Aggregate muscle-id predictions: accuracies with subject-bootstrap CIs, burst votes, per subject.

Everything here reads the predictions table (one row per evaluated window with
``model``, ``subject``, ``burst_key``, ``truth``, ``prediction``, ``prob_<class>``,
``condition`` and ``fold``), so the summary can be rebuilt from a run directory.

Confidence intervals are cluster-bootstrap (expanded percentile) intervals: over SUBJECTS
for a condition's accuracy (windows and bursts of one subject are correlated),
over BURSTS for one subject's accuracy (channels of one burst are near-copies).
Intervals come from :func:`myoflow.evaluate.cluster_bootstrap` on per-cluster
correct/total counts (vectorised: a run needs hundreds of intervals).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ...evaluate.bootstrap import cluster_bootstrap, cluster_sums
from ...evaluate.metrics import classification_metrics
from ...train.seeding import derive_seed
from .tasks import MAIN_TASK_PATTERN

__all__ = ["burst_votes", "cluster_bootstrap_accuracy", "collapse_predictions", "summarize_results", "label_order",
           "paired_comparisons"]


_REAL_ORDER = {"BB": -1, "VL": 0, "BF": 1, "TA": 2, "GL": 3}


def label_order(labels) -> list[str]:
    """Readable class order: symmetric pairs side by side (L-BB, R-BB, L-TA, R-TA), VL/BF/TA/GL."""
    def key(lab: str):
        if "-" in lab:
            side, muscle = lab.split("-", 1)
            return (0, muscle, side)
        return (1, _REAL_ORDER.get(lab, 9), lab)

    return sorted({str(v) for v in labels}, key=key)


def _prob_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if c.startswith("prob_")]


def burst_votes(frame: pd.DataFrame) -> pd.DataFrame:
    """Majority vote over the windows (grid channels) of each burst.

    Ties are broken by the summed class probability. Returns one row per
    (fold, model, burst_key): ``subject``, ``truth``, ``prediction``, ``n_windows``.
    """
    keys = [k for k in ("fold", "model", "burst_key") if k in frame.columns]
    if "burst_key" not in keys:
        raise ValueError("predictions need a burst_key column for burst votes")
    classes = sorted(set(frame["truth"]) | set(frame["prediction"]))
    onehot = (frame["prediction"].to_numpy()[:, None] == np.asarray(classes)[None, :]).astype(float)
    pcols = [f"prob_{c}" for c in classes]
    if all(c in frame.columns for c in pcols):
        onehot = onehot + 1e-6 * frame[pcols].to_numpy(dtype=float)
    score = pd.DataFrame(onehot, columns=classes)
    for k in keys:
        score[k] = frame[k].to_numpy()
    summed = score.groupby(keys, sort=True)[classes].sum()
    first = frame.groupby(keys, sort=True).agg(subject=("subject", "first"), truth=("truth", "first"),
                                               n_windows=("truth", "size"))
    first["prediction"] = np.asarray(classes)[np.argmax(summed.to_numpy(), axis=1)]
    return first.reset_index()


def cluster_bootstrap_accuracy(correct: np.ndarray, clusters: np.ndarray, n_boot: int = 1000,
                               seed: int | np.random.Generator = 0, alpha: float = 0.05
                               ) -> tuple[float, float | None, float | None]:
    """Accuracy with a cluster-bootstrap interval (:func:`myoflow.evaluate.cluster_bootstrap`).

    Returns ``(point, lo, hi)``; ``lo``/``hi`` are None with a single cluster (no spread to resample).
    """
    correct = np.asarray(correct, dtype=float)
    stats, _ = cluster_sums(np.stack([correct, np.ones_like(correct)], axis=1), clusters)
    point, lo, hi = cluster_bootstrap(stats, lambda s: s[..., 0] / s[..., 1], n_boot=n_boot, seed=seed, alpha=alpha)
    return (point, None, None) if len(stats) < 2 or int(n_boot) < 1 else (point, lo, hi)


def collapse_predictions(df: pd.DataFrame, mapping: dict[str, str], task: str) -> pd.DataFrame:
    """Binary-task predictions read off main-task ({K}class) ones: sum the probabilities of each group's classes."""
    out = df.copy()
    pcols = _prob_columns(df)
    targets = sorted(set(mapping.values()))
    probs = {t: np.zeros(len(df)) for t in targets}
    for col in pcols:
        cls = col[len("prob_"):]
        if cls in mapping:
            probs[mapping[cls]] += df[col].to_numpy(dtype=float)
    out = out.drop(columns=pcols)
    for t in targets:
        out[f"prob_{t}"] = probs[t]
    stacked = np.stack([probs[t] for t in targets], axis=1)
    out["truth"] = df["truth"].map(mapping).to_numpy()
    out["prediction"] = np.asarray(targets)[np.argmax(stacked, axis=1)]
    if "condition" in out.columns:
        out["condition"] = out["condition"].str.replace(rf"/{MAIN_TASK_PATTERN}$", f"/{task}", regex=True)
    return out


def _per_subject(df: pd.DataFrame, votes: pd.DataFrame, n_boot: int, rng: np.random.Generator) -> list[dict]:
    rows = []
    for subject, part in df.groupby("subject", sort=True):
        correct = (part["truth"] == part["prediction"]).to_numpy()
        clusters = part["burst_key"].astype(str) + "|" + part.get("fold", pd.Series("", index=part.index)).astype(str)
        point, lo, hi = cluster_bootstrap_accuracy(correct, clusters.to_numpy(), n_boot, rng)
        v = votes[votes["subject"] == subject]
        rows.append({"subject": str(subject), "accuracy": point, "ci_low": lo, "ci_high": hi,
                     "burst_vote_accuracy": float((v["truth"] == v["prediction"]).mean()) if len(v) else None,
                     "n_windows": int(len(part)), "n_bursts": int(len(v))})
    return rows


def _model_summary(df: pd.DataFrame, n_boot: int, seed: int) -> dict[str, Any]:
    # The window and burst-vote intervals draw the same subjects (one seed, same subjects): with one window
    # per burst they are one number and must show one interval (a shared stream gave two).
    correct = (df["truth"] == df["prediction"]).to_numpy()
    point, lo, hi = cluster_bootstrap_accuracy(correct, df["subject"].to_numpy(), n_boot, seed)
    votes = burst_votes(df)
    vcorrect = (votes["truth"] == votes["prediction"]).to_numpy()
    vpoint, vlo, vhi = cluster_bootstrap_accuracy(vcorrect, votes["subject"].to_numpy(), n_boot, seed)
    rng = np.random.default_rng(seed)
    labels = label_order(set(df["truth"]) | set(df["prediction"]))
    cm = classification_metrics(df["truth"].to_numpy(), df["prediction"].to_numpy(), labels=labels)
    vcm = classification_metrics(votes["truth"].to_numpy(), votes["prediction"].to_numpy(), labels=labels)
    return {
        "accuracy": {"point": point, "ci_low": lo, "ci_high": hi},
        "burst_vote_accuracy": {"point": vpoint, "ci_low": vlo, "ci_high": vhi},
        "balanced_accuracy": cm["balanced_accuracy"],
        "f1_macro": cm["f1_macro"],
        "n_windows": int(len(df)), "n_bursts": int(len(votes)), "n_subjects": int(df["subject"].nunique()),
        "confusion_matrix": cm["confusion_matrix"],
        "burst_confusion_matrix": vcm["confusion_matrix"],
        "per_subject": _per_subject(df, votes, n_boot, rng),
    }


def summarize_results(predictions: pd.DataFrame, task_maps: dict[str, dict[str, dict[str, str]]] | None = None,
                      n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Summary of every condition × model in a predictions table.

    Parameters
    ----------
    predictions : DataFrame
        All folds' predictions (see module docstring).
    task_maps : dict cohort -> task -> {main-task label: task label}, optional
        Binary tasks to derive from the main task's (``{K}class``) predictions (``binary: collapsed``).
    n_boot, seed
        Bootstrap replicates and seed.

    Returns
    -------
    dict
        ``results[condition][model]`` (see :func:`_model_summary`) and ``table``
        (flat rows: cohort, scheme, task, model, accuracy with CI, burst vote, ...).
    """
    results: dict[str, dict[str, Any]] = {}
    table: list[dict[str, Any]] = []
    if predictions is None or len(predictions) == 0:
        return {"results": results, "table": table}
    frames = [predictions]
    for cohort, tasks in (task_maps or {}).items():
        # the main task: {K}class (4class in runs written before that naming, whatever K)
        base = predictions[predictions["condition"].str.match(rf"^{cohort}/[^/]+/{MAIN_TASK_PATTERN}$")]
        for task, mapping in tasks.items():
            if len(base):
                main = base["condition"].str.rsplit("/", n=1).str[-1].to_numpy()
                frames.append(collapse_predictions(base, mapping, task).assign(derived_from=main))
    for frame in frames:
        for (condition, model), df in frame.groupby(["condition", "model"], sort=True):
            df = df.dropna(axis=1, how="all").reset_index(drop=True)
            # a seed per condition and model: one model's intervals do not move when another model or
            # condition is added to the run
            entry = _model_summary(df, n_boot, derive_seed(seed, condition, model))
            if "derived_from" in df.columns:
                entry["derived_from"] = str(df["derived_from"].iloc[0])
            results.setdefault(condition, {})[model] = entry
            cohort, scheme, task = (condition.split("/") + ["", "", ""])[:3]
            table.append({
                "cohort": cohort, "scheme": scheme, "task": task, "model": model,
                "accuracy": entry["accuracy"]["point"], "ci_low": entry["accuracy"]["ci_low"],
                "ci_high": entry["accuracy"]["ci_high"],
                "burst_vote_accuracy": entry["burst_vote_accuracy"]["point"],
                "balanced_accuracy": entry["balanced_accuracy"], "n_subjects": entry["n_subjects"],
                "n_bursts": entry["n_bursts"], "n_windows": entry["n_windows"],
                "derived_from_4class": "derived_from" in entry,  # (key name kept: read off the main task)
            })
    return {"results": results, "table": table}


def paired_comparisons(predictions: pd.DataFrame, models: list[str], baselines: tuple[str, ...] = ("lda", "rf"),
                       n_boot: int = 1000, seed: int = 0, alpha: float = 0.05) -> dict[str, dict[str, Any]]:
    """Window-accuracy difference ``model − baseline`` per condition with a PAIRED subject-bootstrap CI.

    Both models were scored on the same folds, hence the same test subjects and windows; each replicate
    draws one set of subjects for both (:func:`myoflow.evaluate.cluster_bootstrap` with ``other=``), so
    the between-subject spread common to both cancels in the difference.

    Returns
    -------
    dict condition -> ``"model - baseline"`` -> ``{diff, ci_low, ci_high, n_subjects, model, baseline}``
    (accuracy fractions; bounds None with fewer than 2 subjects).
    """
    out: dict[str, dict[str, Any]] = {}
    if predictions is None or len(predictions) == 0:
        return out
    draw_seed = np.random.default_rng(seed)
    for condition, frame in predictions.groupby("condition", sort=True):
        present = set(frame["model"])
        for model in models:
            for base in baselines:
                if model not in present or base not in present or model == base:
                    continue
                sums = []
                for name in (model, base):
                    part = frame[frame["model"] == name]
                    correct = (part["truth"] == part["prediction"]).to_numpy(dtype=float)
                    stats, subjects = cluster_sums(np.stack([correct, np.ones_like(correct)], axis=1),
                                                   part["subject"].astype(str).to_numpy())
                    sums.append((stats, [str(x) for x in subjects]))
                (sa, subj_a), (sb, subj_b) = sums
                if subj_a != subj_b:
                    raise ValueError(f"{condition}: {model} and {base} were scored on different subjects")
                point, lo, hi = cluster_bootstrap(sa, lambda t: t[..., 0] / t[..., 1], other=sb, n_boot=n_boot,
                                                  seed=draw_seed, alpha=alpha)
                few = len(subj_a) < 2
                out.setdefault(condition, {})[f"{model} - {base}"] = {
                    "model": model, "baseline": base, "diff": float(point),
                    "ci_low": None if few else float(lo), "ci_high": None if few else float(hi),
                    "n_subjects": len(subj_a)}
    return out
