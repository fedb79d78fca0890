"""Figures of a muscle-id run, rebuilt from the summary and the predictions table only."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import pyplot as _plt
from . import error_bar as _error_bar
from . import paired_differences
from . import save_png as _save
from ..._runnames import MUSCLE_ID_LEGACY_MAIN as MAIN, is_main_task

__all__ = ["make_figures"]

log = logging.getLogger(__name__)

_MODEL_TITLES = {"cnn_lstm_pretrained": "CNN-LSTM pretrained", "cnn_lstm_random": "CNN-LSTM random init",
                 "lda": "LDA", "rf": "random forest"}
_SCHEME_ORDER = {"intra": 0, "intra-channel": 1, "loso": 2}
# the paper's 4-class figures: drawn on the sim cohort's main task only when it has 4 classes
_PAPER_MARKS = {("intra", "4class", "cnn_lstm_pretrained"): 95.0, ("intra", "4class", "cnn_lstm_random"): 92.56,
                ("intra-channel", "4class", "cnn_lstm_pretrained"): 95.0,
                ("intra-channel", "4class", "cnn_lstm_random"): 92.56,
                ("loso", "4class", "cnn_lstm_pretrained"): 48.0, ("loso", "4class", "cnn_lstm_random"): 48.0,
                ("loso", "muscle", "cnn_lstm_pretrained"): 89.0, ("loso", "side", "cnn_lstm_pretrained"): 50.0}


def _main_task(res: dict[str, Any], cohort: str) -> str:
    """``cohort``'s main task as named in the run: ``{K}class`` (``4class`` in runs before that naming)."""
    names = sorted({c.split("/")[-1] for c in res if c.split("/")[0] == cohort and is_main_task(c.split("/")[-1])})
    return names[0] if names else MAIN


def _is_main_condition(cond: str) -> bool:
    """``<cohort>/intra/<main>`` or ``<cohort>/loso/<main>`` (the per-subject figures)."""
    parts = cond.split("/")
    return len(parts) == 3 and parts[1] in ("intra", "loso") and is_main_task(parts[2])


def _accuracy_overview(summary: dict[str, Any], out: Path) -> Path | None:
    table = pd.DataFrame(summary.get("table") or [])
    if table.empty:
        return None
    plt = _plt()
    cohorts = sorted(table["cohort"].unique())
    fig, axes = plt.subplots(len(cohorts), 1, figsize=(12, 4.4 * len(cohorts)), squeeze=False)
    models = [m for m in _MODEL_TITLES if m in set(table["model"])]
    for ax, cohort in zip(axes[:, 0], cohorts):
        part = table[table["cohort"] == cohort]
        groups = sorted({(r.scheme, r.task) for r in part.itertuples()},
                        key=lambda g: (_SCHEME_ORDER.get(g[0], 9), not is_main_task(g[1]), g[1]))
        width = 0.8 / max(len(models), 1)
        for j, model in enumerate(models):
            for i, (scheme, task) in enumerate(groups):
                row = part[(part["scheme"] == scheme) & (part["task"] == task) & (part["model"] == model)]
                if row.empty:
                    continue
                r = row.iloc[0]
                x = i + (j - (len(models) - 1) / 2) * width
                err = None
                if pd.notna(r["ci_low"]) and pd.notna(r["ci_high"]):
                    err = _error_bar(100 * r["accuracy"], 100 * r["ci_low"], 100 * r["ci_high"])
                ax.bar(x, 100 * r["accuracy"], width, yerr=err, capsize=2, color=f"C{j}",
                       label=_MODEL_TITLES[model] if i == 0 else None)
                paper = _PAPER_MARKS.get((scheme, task, model)) if cohort == "sim" else None
                if paper is not None:
                    ax.plot([x - width / 2, x + width / 2], [paper, paper], color="k", lw=2,
                            label="paper" if (j == 0 and i == 0) or (model != "cnn_lstm_pretrained" and i == 0) else None)
        titles = summary.get("tasks", {}).get(cohort, {})
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels([f"{s}\n{titles.get(t, t)}".replace(" vs ", "\nvs ") for s, t in groups], fontsize=8)
        ax.set_ylim(0, 100)
        ax.set_ylabel("accuracy % (95% CI over subjects)")
        ax.set_title(f"{cohort}: per-window accuracy" + (" (black bars: paper)" if cohort == "sim" else ""))
        ax.grid(axis="y", alpha=0.3)
        handles, labels = ax.get_legend_handles_labels()
        uniq = dict(zip(labels, handles))
        ax.legend(uniq.values(), uniq.keys(), fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return _save(fig, out / "accuracy_overview.png")


def _confusions(summary: dict[str, Any], out: Path) -> list[tuple[str, Path]]:
    plt = _plt()
    res = summary.get("results", {})
    figs = []
    for cohort in sorted({c.split("/")[0] for c in res}):
        main = _main_task(res, cohort)
        conds = [c for c in (f"{cohort}/intra/{main}", f"{cohort}/loso/{main}") if c in res]
        model = "cnn_lstm_pretrained"
        conds = [c for c in conds if model in res[c]] or conds
        if not conds:
            continue
        fig, axes = plt.subplots(1, len(conds), figsize=(4.6 * len(conds), 4.2), squeeze=False)
        for ax, cond in zip(axes[0], conds):
            m = model if model in res[cond] else sorted(res[cond])[0]
            cm = res[cond][m]["confusion_matrix"]
            mat = np.asarray(cm["matrix"], dtype=float)
            norm = mat / np.maximum(mat.sum(1, keepdims=True), 1)
            ax.imshow(norm, vmin=0, vmax=1, cmap="Blues")
            labels = [str(v) for v in cm["labels"]]
            ax.set_xticks(range(len(labels)))
            ax.set_xticklabels(labels, rotation=45)
            ax.set_yticks(range(len(labels)))
            ax.set_yticklabels(labels)
            for i in range(len(labels)):
                for j in range(len(labels)):
                    ax.text(j, i, f"{100 * norm[i, j]:.0f}", ha="center", va="center",
                            color="white" if norm[i, j] > 0.6 else "black", fontsize=9)
            ax.set_xlabel("predicted")
            ax.set_ylabel("true")
            ax.set_title(f"{cond} ({_MODEL_TITLES.get(m, m)})", fontsize=9)
        k = (summary.get("tasks", {}).get(cohort, {}).get(main) or f"{main[:-len('class')]}-class")
        figs.append((f"{cohort}: {k} confusion matrices (row %)", _save(fig, out / f"confusion_{cohort}.png")))
    return figs


def _per_subject(summary: dict[str, Any], out: Path) -> list[tuple[str, Path]]:
    plt = _plt()
    res = summary.get("results", {})
    figs = []
    for cond in sorted(c for c in res if _is_main_condition(c)):
        models = [m for m in _MODEL_TITLES if m in res[cond]]
        if not models:
            continue
        fig, ax = plt.subplots(figsize=(max(6, 0.35 * len(res[cond][models[0]]["per_subject"]) * len(models)), 3.4))
        width = 0.8 / len(models)
        subjects = [r["subject"] for r in res[cond][models[0]]["per_subject"]]
        for j, m in enumerate(models):
            rows = {r["subject"]: r for r in res[cond][m]["per_subject"]}
            for i, s in enumerate(subjects):
                r = rows.get(s)
                if r is None:
                    continue
                err = None
                if r["ci_low"] is not None:
                    err = _error_bar(100 * r["accuracy"], 100 * r["ci_low"], 100 * r["ci_high"])
                ax.bar(i + (j - (len(models) - 1) / 2) * width, 100 * r["accuracy"], width, yerr=err, capsize=1.5,
                       color=f"C{j}", label=_MODEL_TITLES[m] if i == 0 else None)
        ax.set_xticks(range(len(subjects)))
        ax.set_xticklabels(subjects, rotation=90, fontsize=7)
        ax.set_ylim(0, 100)
        ax.set_ylabel("accuracy % (95% CI over bursts)")
        ax.set_title(f"{cond}: per-subject accuracy")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        ax.grid(axis="y", alpha=0.3)
        fig.tight_layout()
        name = cond.replace("/", "_")
        figs.append((f"{cond}: per-subject accuracy", _save(fig, out / f"per_subject_{name}.png")))
    return figs


def make_figures(summary: dict[str, Any], predictions: pd.DataFrame, out: Path) -> list[tuple[str, Path]]:
    """Write the run's PNGs under ``out`` and return (title, path) pairs."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    figs: list[tuple[str, Path]] = []
    p = _accuracy_overview(summary, out)
    if p is not None:  # the paper's marks sit on the simulated paper cohort only, never on a lab's folder
        paper = "; paper in black" if "sim" in {r.get("cohort") for r in summary.get("table") or []} else ""
        figs.append((f"Accuracy per cohort, scheme and task (models side by side{paper})", p))
    figs += _confusions(summary, out)
    figs += _per_subject(summary, out)
    rows = [(f"{cond}: {c['model']} − {c['baseline']}", 100 * c["diff"],
             None if c.get("ci_low") is None else 100 * c["ci_low"],
             None if c.get("ci_high") is None else 100 * c["ci_high"])
            for cond, comps in sorted((summary.get("comparisons") or {}).items()) for c in comps.values()]
    p = paired_differences(rows, out / "paired_differences.png", xlabel="window accuracy difference (points)",
                           title="Deep models − classic baselines, same folds (paired subject-bootstrap 95 % CI)")
    if p is not None:
        figs.append(("Paired differences: deep models − baselines (green: above 0, red: below, grey: holds 0)", p))
    return figs
