"""Summary of a stimulated-mass run: pooled out-of-fold metrics, subject-bootstrap CIs, paper checks.

Every subject is tested exactly once per condition (k-fold or LOSO), so the pooled
out-of-fold predictions of a condition hold one row per subject and model. Metrics
are computed on that pool; 95 % CIs resample SUBJECTS (a cluster bootstrap over
per-subject confusion counts with :func:`myoflow.evaluate.cluster_bootstrap` —
thousands of replicates in milliseconds, so every condition × model × metric gets one). Differences between
two models (does a part of the model help?) use paired draws: the same resampled
subjects for both models.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from ...evaluate.bootstrap import cluster_bootstrap
from ...experiments.base import FoldResult, Headline

__all__ = ["subject_bootstrap", "summarize_results", "headline_rows", "METRICS"]

METRICS = ("accuracy", "balanced_accuracy", "f1_macro")
FINAL = "final"


def _confusions(df: pd.DataFrame, classes: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per-subject confusion counts (n_subjects, K, K) and the subject order."""
    idx = {c: i for i, c in enumerate(classes)}
    subj, codes = np.unique(df["subject"].astype(str).to_numpy(), return_inverse=True)
    t = df["truth"].map(idx).to_numpy()
    p = df["prediction"].map(idx).to_numpy()
    if np.isnan(t.astype(float)).any() or np.isnan(p.astype(float)).any():
        raise ValueError("predictions hold labels outside the class list")
    k = len(classes)
    conf = np.zeros((len(subj), k, k))
    np.add.at(conf, (codes, t.astype(int), p.astype(int)), 1.0)
    return conf, subj


def _scores(conf: np.ndarray) -> dict[str, np.ndarray]:
    """Metrics from (..., K, K) confusion matrices (rows true, columns predicted); NaN where undefined."""
    tp = np.diagonal(conf, axis1=-2, axis2=-1)
    support = conf.sum(-1)
    predicted = conf.sum(-2)
    n = support.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = tp.sum(-1) / n
        recall = np.where(support > 0, tp / np.where(support > 0, support, 1), np.nan)
        bal = np.nanmean(recall, axis=-1)
        prec = np.where(predicted > 0, tp / np.where(predicted > 0, predicted, 1), 0.0)
        rec0 = np.where(support > 0, recall, 0.0)
        f1 = np.where(prec + rec0 > 0, 2 * prec * rec0 / np.where(prec + rec0 > 0, prec + rec0, 1), 0.0)
        # Macro F1 over classes present in y_true (as sklearn with labels=present).
        present = support > 0
        f1m = np.where(present.any(-1), (f1 * present).sum(-1) / np.maximum(present.sum(-1), 1), np.nan)
    return {"accuracy": acc, "balanced_accuracy": bal, "f1_macro": f1m}


def subject_bootstrap(df: pd.DataFrame, classes: Sequence[str], n_boot: int = 1000, seed: int = 0,
                      other: pd.DataFrame | None = None, alpha: float = 0.05) -> dict[str, dict[str, float]]:
    """Point estimate and 95 % CI of accuracy, balanced accuracy and macro F1, resampling subjects.

    :func:`myoflow.evaluate.cluster_bootstrap` on per-subject confusion counts.

    Parameters
    ----------
    df : DataFrame
        Predictions with ``subject``, ``truth``, ``prediction`` (one or more rows per subject).
    classes : sequence of str
    n_boot : int
        Bootstrap replicates.
    other : DataFrame, optional
        Predictions of a second model on the same subjects: then the statistics are
        of the DIFFERENCE ``df − other`` with paired draws.

    Returns
    -------
    dict metric → {"value", "ci_low", "ci_high"}
    """
    conf, subj = _confusions(df, classes)
    conf2 = None
    if other is not None:
        conf2, subj2 = _confusions(other, classes)
        if list(subj2) != list(subj):
            common = np.intersect1d(subj, subj2)
            raise ValueError(f"paired bootstrap needs the same subjects; {len(subj)} vs {len(subj2)} "
                             f"({len(common)} in common)")
    res = cluster_bootstrap(conf, _scores, other=conf2, n_boot=n_boot, seed=seed, alpha=alpha)
    return {k: {"value": res[k].point, "ci_low": res[k].lo, "ci_high": res[k].hi} for k in METRICS}


def _fold_spread(results: list[FoldResult], condition: str, model: str) -> dict[str, float]:
    vals = [r.metrics[model]["accuracy"] for r in results
            if r.condition == condition and model in r.metrics and "accuracy" in r.metrics[model]]
    if not vals:
        return {}
    return {"fold_mean_accuracy": float(np.mean(vals)), "fold_sd_accuracy": float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0,
            "n_folds": len(vals)}


def summarize_results(cfg, data, results: list[FoldResult]) -> dict[str, Any]:
    """The ``summary`` block of metrics.json (see the module docstring)."""
    from ...evaluate.metrics import classification_metrics

    classes = list(cfg.data.classes)
    n_boot = int(cfg.evaluate.n_boot)
    frames = []
    for r in results:
        if r.condition == FINAL or r.predictions is None or not len(r.predictions):
            continue
        f = r.predictions.copy()
        f["condition"] = r.condition
        frames.append(f)
    preds = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    counts = data.participants["label"].value_counts()
    summary: dict[str, Any] = {
        "classes": classes,
        "class_counts": {c: int(counts.get(c, 0)) for c in classes},
        "n_subjects": int(len(data.participants)),
        "splitter": cfg.evaluate.splitter,
        "n_splits": cfg.evaluate.n_splits if cfg.evaluate.splitter == "kfold" else int(len(data.participants)),
        "representation": cfg.preprocess.representation,
        "chance": {"balanced_accuracy": 1.0 / len(classes),
                   "majority_accuracy": float(counts.max() / counts.sum()) if len(counts) else None},
        "conditions": {},
    }
    if preds.empty:
        return summary
    for cond, cdf in preds.groupby("condition", sort=False):
        summary["conditions"][cond] = {}
        for model, mdf in cdf.groupby("model", sort=False):
            boot = subject_bootstrap(mdf, classes, n_boot=n_boot, seed=cfg.seed)
            cm = classification_metrics(mdf["truth"].to_numpy(), mdf["prediction"].to_numpy(), labels=classes)
            entry = {k: boot[k]["value"] for k in METRICS}
            entry.update({f"{k}_ci": [boot[k]["ci_low"], boot[k]["ci_high"]] for k in METRICS})
            entry["f1_weighted"] = float(cm["f1_weighted"])
            entry["recall_per_class"] = cm["recall_per_class"]
            entry["confusion_matrix"] = cm["confusion_matrix"]
            entry["n_subjects"] = int(mdf["subject"].nunique())
            entry.update(_fold_spread(results, cond, model))
            summary["conditions"][cond][model] = entry
    summary["comparisons"] = _comparisons(preds, classes, n_boot, cfg.seed)
    summary["pattern"] = _pattern(summary)
    tune = getattr(cfg, "tune", None)
    if tune is not None and tune.enabled:  # what the nested search chose per fold (the report's table)
        from ...train.tune import tuning_summary

        summary["tuning"] = tuning_summary(results)
    return summary


def _comparisons(preds: pd.DataFrame, classes, n_boot: int, seed: int) -> dict[str, Any]:
    """Paired differences: what covariates, attention and the network buy (accuracy, macro F1)."""
    pairs = {
        "covariates_gain": ("attention_bilstm", "bilstm_no_covariates"),
        "attention_gain": ("attention_bilstm", "bilstm_no_attention"),
        "vs_descriptors_gb": ("attention_bilstm", "descriptors_gb"),
        "vs_descriptors_logreg": ("attention_bilstm", "descriptors_logreg"),
        "vs_covariates_only": ("attention_bilstm", "covariates_logreg"),
        "vs_ptp_logreg": ("attention_bilstm", "ptp_logreg"),
        "gap_to_oracle": ("attention_bilstm", "oracle_truth_logreg"),
    }
    out: dict[str, Any] = {}
    for cond, cdf in preds.groupby("condition", sort=False):
        models = {m: d.sort_values("subject") for m, d in cdf.groupby("model")}
        for name, (a, b) in pairs.items():
            if a in models and b in models:
                try:
                    d = subject_bootstrap(models[a], classes, n_boot, seed, other=models[b])
                except ValueError:
                    continue
                out.setdefault(cond, {})[name] = {"model": a, "baseline": b, **{k: d[k] for k in ("accuracy", "f1_macro")}}
    return out


def _pattern(summary: dict[str, Any]) -> dict[str, Any]:
    """The paper's two claims checked on this run (attention Bi-LSTM)."""
    conds = summary["conditions"]
    main = "attention_bilstm"
    single = {c: m[main]["accuracy"] for c, m in conds.items() if c != "all" and main in m}
    out: dict[str, Any] = {}
    if single:
        best = max(single, key=single.get)
        out["best_single_frequency"] = best
        out["best_single_accuracy"] = single[best]
        out["single_frequency_accuracy"] = single
    if "all" in conds and main in conds["all"]:
        out["combined_accuracy"] = conds["all"][main]["accuracy"]
        if single:
            out["combined_ge_best_single"] = bool(out["combined_accuracy"] >= out["best_single_accuracy"])
    comp = summary.get("comparisons", {})
    gains = {c: v["covariates_gain"]["accuracy"]["value"] for c, v in comp.items() if "covariates_gain" in v}
    if gains:
        out["covariates_gain_accuracy"] = gains
        out["covariates_help"] = bool(np.mean(list(gains.values())) > 0)
    return out


def headline_rows(summary: dict[str, Any]) -> list[Headline]:
    """Paper-vs-ours rows: 25 Hz and all-frequency accuracy / macro F1, plus context rows."""
    conds = summary.get("conditions", {})
    rows: list[Headline] = []

    def get(cond, model, metric):
        e = conds.get(cond, {}).get(model)
        if not e or metric not in e:  # an older or partial summary without that metric: no row, no KeyError
            return None, None
        ci = e.get(f"{metric}_ci")
        return e[metric], (tuple(ci) if ci and all(np.isfinite(ci)) else None)

    def n(cond, model):
        """What a row's interval rests on: the condition's test subjects (the bootstrap's clusters)."""
        k = conds.get(cond, {}).get(model, {}).get("n_subjects")
        return dict(n=None if k is None else int(k), n_of="test subjects")

    paper = {("25Hz", "accuracy"): 0.9130, ("25Hz", "f1_macro"): 0.94,
             ("all", "accuracy"): 0.9231, ("all", "f1_macro"): 0.95}
    label = {"accuracy": "accuracy", "f1_macro": "macro F1"}
    # the paper's 25 Hz and all-frequency rows; a lab's cohort at one other frequency (no 25 Hz, no "all") gets
    # its one condition's rows instead of none but a "best single frequency" of one
    shown = [c for c in ("25Hz", "all") if c in conds] or [c for c in conds][:1]
    for cond in shown:
        for metric in ("accuracy", "f1_macro"):
            v, ci = get(cond, "attention_bilstm", metric)
            if v is None:
                continue
            name = "all frequencies" if cond == "all" else cond.replace("Hz", " Hz")
            note = "attention Bi-LSTM + covariates"
            if metric == "f1_macro":
                note += "; the paper does not say how its F1 is averaged"
            rows.append(Headline(f"{name} {label[metric]}", v, ci, paper.get((cond, metric)), note,
                                 **n(cond, "attention_bilstm")))
    pat = summary.get("pattern", {})
    if len(pat.get("single_frequency_accuracy", {})) > 1:  # the best of one frequency is that frequency's row
        c = pat["best_single_frequency"]
        v, ci = get(c, "attention_bilstm", "accuracy")
        rows.append(Headline("best single frequency accuracy", v, ci, "25 Hz best (0.913)", f"here: {c}",
                             **n(c, "attention_bilstm")))
    ref = "all" if "all" in conds else (next(iter(conds)) if conds else None)
    if ref is not None:
        for model, text, metric in (
            ("bilstm_no_covariates", "Bi-LSTM without covariates", "accuracy"),
            ("bilstm_no_attention", "Bi-LSTM without attention", "accuracy"),
            ("descriptors_gb", "M-wave descriptors + covariates, GB", "accuracy"),
            ("descriptors_logreg", "log M-wave descriptors + covariates, logistic regression", "accuracy"),
            ("covariates_logreg", "covariates only, logistic regression", "accuracy"),
            ("ptp_logreg", "M-wave p-p only, logistic regression", "balanced_accuracy"),
            ("oracle_truth_logreg", "oracle: true CSA + fat (ceiling)", "accuracy"),
        ):
            v, ci = get(ref, model, metric)
            if v is not None:
                m = "balanced accuracy" if metric == "balanced_accuracy" else "accuracy"
                note = f"condition {ref}"
                if metric == "balanced_accuracy":
                    note += f"; chance {summary.get('chance', {}).get('balanced_accuracy', float('nan')):.3f}"
                rows.append(Headline(f"{text} ({m})", v, ci, None, note, **n(ref, model)))
        # The deep model beside each classic baseline on the same folds, as a paired subject-bootstrap
        # difference (issue 14: every cohort, a user's folder included, gets this table, not only metrics.json).
        comp = summary.get("comparisons", {}).get(ref, {})
        for key, text in (("vs_descriptors_gb", "M-wave descriptors + covariates, GB"),
                          ("vs_descriptors_logreg", "log M-wave descriptors + covariates, logistic regression"),
                          ("vs_covariates_only", "covariates only, logistic regression"),
                          ("vs_ptp_logreg", "M-wave p-p only, logistic regression")):
            d = comp.get(key, {}).get("accuracy")
            if d is None or not np.isfinite(d["value"]):
                continue
            ci = (d["ci_low"], d["ci_high"]) if np.isfinite([d["ci_low"], d["ci_high"]]).all() else None
            rows.append(Headline(f"attention Bi-LSTM − {text} (accuracy, paired)", d["value"], ci, None,
                                 f"condition {ref}; same folds, paired subject bootstrap",
                                 **n(ref, "attention_bilstm")))
    return rows
