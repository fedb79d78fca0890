"""Figures of the gait-EMG pipeline: ensemble-average curves of truth and predictions.

Inputs are cycle arrays (n_cycles, n_channels, n_points) per model, as the
pipeline reads them back from ``predictions.parquet``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from . import pyplot as _plt
from . import save_png

__all__ = ["ensemble_figure", "torque_figure"]

_COLOURS = {"truth": "k", "torque_based": "tab:blue", "baseline": "tab:orange", "torque_mlp": "tab:blue"}


def _save(fig, path: Path) -> Path:
    return save_png(fig, path, dpi=100, tight=False)


def ensemble_figure(cycles: dict[str, tuple[np.ndarray, np.ndarray]], condition: str, muscles, path: Path,
                    summary: dict[str, Any] | None = None) -> Path:
    """Per muscle: ensemble average ± SD of the truth and of each model's prediction.

    ``cycles[model] = (true, pred)``, each (n_cycles, len(muscles), n_points).
    """
    plt = _plt()
    fig, axes = plt.subplots(2, 4, figsize=(16, 7), sharex=True)
    x = None
    cond_sum = (summary or {}).get("conditions", {}).get(condition, {})
    truth_drawn = set()
    for model in ("torque_based", "baseline"):
        if model not in cycles:
            continue
        t, p = cycles[model]
        x = np.linspace(0, 100, t.shape[-1])
        for j, (ax, mus) in enumerate(zip(axes.flat, muscles)):
            if mus not in truth_drawn:
                m, s = t[:, j].mean(0), t[:, j].std(0)
                ax.plot(x, m, color="k", lw=2, label="measured")
                ax.fill_between(x, m - s, m + s, color="k", alpha=0.12)
                truth_drawn.add(mus)
            m, s = p[:, j].mean(0), p[:, j].std(0)
            r2 = cond_sum.get(model, {}).get("r2_ens", {}).get(mus, {}).get("mean")
            lab = model.replace("_", "-") + (f" (R²ens {r2:.2f})" if r2 is not None else "")
            ax.plot(x, m, color=_COLOURS[model], lw=1.5, label=lab)
            ax.fill_between(x, m - s, m + s, color=_COLOURS[model], alpha=0.15)
            ax.set_title(mus)
            ax.legend(fontsize=7)
    for ax in axes[1]:
        ax.set_xlabel("% gait cycle")
    axes.flat[-1].axis("off")
    axes[0, 0].set_ylabel("normalised envelope")
    axes[1, 0].set_ylabel("normalised envelope")
    fig.suptitle(f"sEMG ensemble averages, {condition} (bands: ±1 SD over test cycles)")
    fig.tight_layout()
    return _save(fig, path)


def torque_figure(names, t: np.ndarray, p: np.ndarray, condition: str, path: Path) -> Path:
    """Per moment channel ``names``: ensemble average ± SD of the truth ``t`` and the torque MLP ``p``."""
    plt = _plt()
    cols = 3
    rows = int(np.ceil(len(names) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(13, 3.2 * rows), squeeze=False, sharex=True)
    x = np.linspace(0, 100, t.shape[-1])
    for j, (ax, name) in enumerate(zip(axes.flat, names)):
        for arr, colour, lab in ((t, "k", "inverse dynamics"), (p, "tab:blue", "torque MLP")):
            m, s = arr[:, j].mean(0), arr[:, j].std(0)
            ax.plot(x, m, color=colour, label=lab)
            ax.fill_between(x, m - s, m + s, color=colour, alpha=0.15)
        ax.set_title(f"{name} (N·m/kg)")
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.suptitle(f"Joint moments, {condition}")
    fig.tight_layout()
    return _save(fig, path)
