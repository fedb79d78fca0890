"""Report figures of a stimulated-mass run, rebuilt from ``metrics.json`` summary and predictions.

* confusion matrices of the attention Bi-LSTM per condition;
* attention maps: mean attention weight over latency (or pulse) per true class, per
  condition, and a per-subject heat map for the combined condition;
* model comparison: accuracy and macro F1 (95 % subject-bootstrap CIs) per model and condition.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import pyplot as _plt
from . import error_bar as _error_bar
from . import paired_differences
from . import save_png as _save

__all__ = ["make_figures", "plot_confusions", "plot_attention", "plot_model_comparison", "plot_attention_single"]

MAIN = "attention_bilstm"


def _cond_order(conds) -> list[str]:
    def key(c):
        return (1, 0.0) if c == "all" else (0, float(c.replace("Hz", "")) if c.endswith("Hz") else 0.0)
    return sorted(conds, key=key)


def plot_confusions(summary: dict[str, Any], path: Path, model: str = MAIN) -> Path | None:
    conds = [c for c in _cond_order(summary.get("conditions", {})) if model in summary["conditions"][c]]
    if not conds:
        return None
    plt = _plt()
    fig, axes = plt.subplots(1, len(conds), figsize=(2.8 * len(conds), 3.0), squeeze=False)
    for ax, c in zip(axes[0], conds):
        e = summary["conditions"][c][model]
        cm = np.asarray(e["confusion_matrix"]["matrix"], dtype=float)
        labels = [str(v) for v in e["confusion_matrix"]["labels"]]
        norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
        ax.imshow(norm, vmin=0, vmax=1, cmap="Blues")
        for i in range(cm.shape[0]):
            for j in range(cm.shape[1]):
                ax.text(j, i, f"{int(cm[i, j])}", ha="center", va="center",
                        color="white" if norm[i, j] > 0.6 else "black", fontsize=9)
        ax.set_xticks(range(len(labels)), labels, fontsize=8)
        ax.set_yticks(range(len(labels)), labels, fontsize=8)
        ax.set_title(f"{c}: acc {e['accuracy']:.2f}", fontsize=9)
        ax.set_xlabel("predicted", fontsize=8)
    axes[0][0].set_ylabel("true", fontsize=8)
    fig.suptitle(f"Confusion matrices, {model} (out-of-fold, all subjects)", fontsize=10)
    return _save(fig, path)


def _attention_rows(predictions: pd.DataFrame, model: str) -> pd.DataFrame:
    if predictions.empty or "attention" not in predictions.columns:
        return predictions.iloc[0:0]
    p = predictions[(predictions["model"] == model) & (predictions["attention"].astype(str).str.len() > 0)]
    return p


def _xlabel(q: pd.DataFrame) -> str:
    unit = str(q["attention_unit"].iloc[0]) if "attention_unit" in q.columns else "ms"
    return "response index in the train(s)" if unit == "response" else "time after stimulus, ms"


def plot_attention(predictions: pd.DataFrame, classes: list[str], path: Path, model: str = MAIN) -> Path | None:
    p = _attention_rows(predictions, model)
    if p.empty:
        return None
    conds = _cond_order(p["condition"].unique())
    plt = _plt()
    heat = "all" in conds
    ncol = len(conds) + (1 if heat else 0)
    fig, axes = plt.subplots(1, ncol, figsize=(3.2 * ncol, 3.0), squeeze=False)
    for ax, c in zip(axes[0], conds):
        q = p[p["condition"] == c]
        t0, dt = float(q["attention_t0_ms"].iloc[0]), float(q["attention_step_ms"].iloc[0])
        for cls in classes:
            rows = q[q["truth"] == cls]["attention"]
            if rows.empty:
                continue
            w = np.array([json.loads(s) for s in rows])
            t = t0 + dt * np.arange(w.shape[1])
            ax.plot(t, w.mean(0), label=f"{cls} (n={len(w)})")
        ax.set_title(c, fontsize=9)
        ax.set_xlabel(_xlabel(q), fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0][0].set_ylabel("mean attention weight", fontsize=8)
    axes[0][0].legend(fontsize=7)
    if heat:
        q = p[p["condition"] == "all"].copy()
        q["_order"] = q["truth"].map({c: i for i, c in enumerate(classes)})
        q = q.sort_values(["_order", "subject"])
        w = np.array([json.loads(s) for s in q["attention"]])
        t0, dt = float(q["attention_t0_ms"].iloc[0]), float(q["attention_step_ms"].iloc[0])
        ax = axes[0][-1]
        im = ax.imshow(w, aspect="auto", cmap="magma", extent=(t0, t0 + dt * w.shape[1], len(w), 0))
        bounds = np.cumsum(q["_order"].value_counts().sort_index().to_numpy())[:-1]
        for b in bounds:
            ax.axhline(b, color="white", lw=0.8)
        ax.set_title("all: per subject (sorted by class)", fontsize=9)
        ax.set_xlabel(_xlabel(q), fontsize=8)
        ax.set_ylabel("test subject", fontsize=8)
        fig.colorbar(im, ax=ax, fraction=0.046)
    fig.suptitle(f"Attention over the stimulus-locked sequence ({model}, test subjects)", fontsize=10, y=1.04)
    return _save(fig, path)


def plot_attention_single(weights: np.ndarray, axis: np.ndarray, waveforms: np.ndarray, t_ms: np.ndarray,
                          channels: list[str], title: str, path: Path,
                          axis_label: str = "time after stimulus, ms") -> Path:
    """One person's attention weights over the sequence (top) and the train-averaged M-waves (bottom).

    Used by ``myoflow predict``. ``axis`` is the position of each attention step (ms after
    the stimulus for the waveform input, the response index for the train input).
    """
    plt = _plt()
    same = axis_label.startswith("time")
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(6.5, 5.0), sharex=same,
                                 gridspec_kw={"height_ratios": [1, 2]})
    a1.plot(axis, weights, color="C3")
    a1.fill_between(axis, 0, weights, color="C3", alpha=0.3)
    a1.set_ylabel("attention")
    a1.set_title(title, fontsize=10)
    if not same:
        a1.set_xlabel(axis_label)
    for i, name in enumerate(channels):
        a2.plot(t_ms, waveforms[i] * 1e3, lw=0.9, label=name)
    a2.set_ylabel("M-wave, mV")
    a2.set_xlabel("time after stimulus, ms")
    if len(channels) <= 10:
        a2.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return _save(fig, path)


def plot_model_comparison(summary: dict[str, Any], path: Path) -> Path | None:
    conds = _cond_order(summary.get("conditions", {}))
    if not conds:
        return None
    models = []
    for c in conds:
        for m in summary["conditions"][c]:
            if m not in models:
                models.append(m)
    plt = _plt()
    fig, axes = plt.subplots(2, 1, figsize=(max(6, 1.3 * len(conds) * len(models) / 3), 6.0), sharex=True)
    width = 0.8 / len(models)
    x = np.arange(len(conds))
    for ax, metric, lab in zip(axes, ("accuracy", "f1_macro"), ("accuracy", "macro F1")):
        for i, m in enumerate(models):
            vals, lo, hi = [], [], []
            for c in conds:
                e = summary["conditions"][c].get(m)
                v = e[metric] if e else np.nan
                ci = e.get(f"{metric}_ci", [np.nan, np.nan]) if e else [np.nan, np.nan]
                vals.append(v)
                lo.append(ci[0] if np.isfinite(ci[0]) else v)
                hi.append(ci[1] if np.isfinite(ci[1]) else v)
            ax.bar(x + (i - (len(models) - 1) / 2) * width, vals, width, yerr=_error_bar(vals, lo, hi), capsize=2,
                   label=m)
        ax.set_ylabel(lab)
        ax.set_ylim(0, 1.05)
        ax.axhline(summary.get("chance", {}).get("balanced_accuracy", np.nan), color="grey", ls=":", lw=0.8)
    axes[0].axhline(0.9231, color="k", ls="--", lw=0.8)
    axes[0].text(len(conds) - 0.5, 0.93, "paper, all: 0.923", ha="right", fontsize=7)
    axes[1].set_xticks(x, conds)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=7, ncol=4, loc="lower center", bbox_to_anchor=(0.5, -0.06))
    fig.suptitle("Models in the same subject-wise folds (95 % CI: subject bootstrap)", fontsize=10)
    return _save(fig, path)


def make_figures(classes: list[str], summary: dict[str, Any], predictions: pd.DataFrame,
                 run_dir: Path) -> list[tuple[str, Path]]:
    """All report figures (``classes`` in the run's order); returns (title, path) pairs."""
    out = []
    fdir = Path(run_dir) / "figures"
    classes = list(classes)
    p = plot_confusions(summary, fdir / "confusion_matrices.png")
    if p:
        out.append(("Confusion matrices (attention Bi-LSTM)", p))
    p = plot_attention(predictions, classes, fdir / "attention_maps.png")
    if p:
        out.append(("Attention maps", p))
    p = plot_model_comparison(summary, fdir / "model_comparison.png")
    if p:
        out.append(("Model comparison", p))
    rows = [(f"{freq}: {c['model']} − {c['baseline']}" if "model" in c else f"{freq}: {name}", c["accuracy"]["value"],
             c["accuracy"].get("ci_low"), c["accuracy"].get("ci_high"))
            for freq, comps in (summary.get("comparisons") or {}).items() for name, c in comps.items()
            if isinstance(c, dict) and isinstance(c.get("accuracy"), dict)]
    p = paired_differences(rows, fdir / "paired_differences.png", xlabel="accuracy difference",
                           title="Paired differences in the same folds (subject-bootstrap 95 % CI)")
    if p:
        out.append(("Paired differences: the attention Bi-LSTM's gains and its margin over each baseline "
                    "(green: above 0, red: below, grey: holds 0)", p))
    return out
