"""Figures of the muap-generator run (rebuilt from the run directory, no training code)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from . import pyplot as _plt
from . import save_png as _save

__all__ = ["plot_examples", "plot_nrmse_hist", "plot_nrmse_vs_conditions", "plot_shape_statistics",
           "plot_variant_comparison", "make_figures", "draw_grid_muap"]


def draw_grid_muap(ax, muap: np.ndarray, scale: float, color: str, label: str | None = None, lw: float = 1.0) -> None:
    """Draw a (rows, cols, times) MUAP as one small trace per electrode, laid out like the grid.

    Rows (along the fibres) run top to bottom, columns left to right; ``scale`` is the
    vertical extent (V) of one cell.
    """
    rows, cols, n_t = muap.shape
    t = np.linspace(0.05, 0.95, n_t)
    for r in range(rows):
        for c in range(cols):
            y = -r + 0.45 * muap[r, c] / scale
            ax.plot(c + t, y, color=color, lw=lw, label=label if (r == 0 and c == 0) else None)
    ax.set_xlim(0, cols)
    ax.set_ylim(-rows + 0.2, 0.8)
    ax.set_xticks([])
    ax.set_yticks([])


def plot_examples(npz_path: Path, out: Path) -> Path:
    """Numerical (black) vs generated (red) MUAPs across the grid for held-out conditions."""
    plt = _plt()
    z = np.load(npz_path, allow_pickle=False)
    names = [str(n) for n in z["condition_names"]]
    panels = []
    for set_name in ("interpolation", "extrapolation"):
        if f"{set_name}_numerical" in z.files:
            for k in range(len(z[f"{set_name}_numerical"])):
                panels.append((set_name, z[f"{set_name}_numerical"][k], z[f"{set_name}_generated"][k],
                               z[f"{set_name}_conditions"][k], float(z[f"{set_name}_nrmse"][k])))
    fig, axes = plt.subplots(1, max(len(panels), 1), figsize=(4.2 * max(len(panels), 1), 5.6), squeeze=False)
    short = {"fibre_number_log": "ln Nf", "depth_mm": "depth", "angle": "angle", "iz_position": "IZ",
             "cv_m_s": "CV", "fibre_length_scale": "L"}
    for ax, (set_name, num, gen, cond, err) in zip(axes[0], panels):
        scale = float(np.abs(num).max()) or 1.0
        draw_grid_muap(ax, num, scale, "k", "numerical", lw=1.2)
        draw_grid_muap(ax, gen, scale, "tab:red", "generated", lw=0.9)
        parts = [f"{short.get(n, n)}={v:.3g}" for n, v in zip(names, cond)]
        txt = ", ".join(parts[:3]) + "\n" + ", ".join(parts[3:])
        ax.set_title(f"{set_name}: nRMSE {err:.3f}\np-p {np.ptp(num) * 1e6:.1f} µV\n{txt}", fontsize=7.5)
    axes[0][0].legend(loc="lower left", fontsize=7, frameon=False)
    fig.suptitle("Held-out motor units: numerical model vs generator (z = 0), monopolar grid "
                 "(rows along the fibres)", fontsize=9, y=1.06)
    return _save(fig, out)


def plot_nrmse_hist(predictions: pd.DataFrame, out: Path) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    per = predictions.groupby(["set", "unit"])["nrmse"].mean().reset_index()
    hi = float(max(0.5, per["nrmse"].quantile(0.99)))
    bins = np.linspace(0, hi, 40)
    for set_name, color in (("interpolation", "tab:blue"), ("extrapolation", "tab:orange")):
        v = per.loc[per["set"] == set_name, "nrmse"]
        if len(v):
            ax.hist(np.clip(v, 0, hi), bins=bins, alpha=0.6, color=color,
                    label=f"{set_name} (n={len(v)}, mean {v.mean():.3f})")
    ax.axvline(0.10, color="k", ls="--", lw=1, label="goal 0.10")
    ax.set_xlabel("nRMSE (RMSE / numerical p-p)")
    ax.set_ylabel("motor units")
    ax.legend(fontsize=8, frameon=False)
    return _save(fig, out)


def plot_nrmse_vs_conditions(predictions: pd.DataFrame, names: Sequence[str], out: Path) -> Path:
    plt = _plt()
    names = [n for n in names if n in predictions.columns]
    fig, axes = plt.subplots(1, max(len(names), 1), figsize=(2.6 * max(len(names), 1), 2.8), squeeze=False,
                             sharey=True)
    for ax, name in zip(axes[0], names):
        for set_name, color in (("interpolation", "tab:blue"), ("extrapolation", "tab:orange")):
            sub = predictions[predictions["set"] == set_name]
            ax.scatter(sub[name], sub["nrmse"], s=4, alpha=0.5, color=color, label=set_name)
        ax.axhline(0.10, color="k", ls="--", lw=0.8)
        ax.set_xlabel(name, fontsize=8)
    axes[0][0].set_ylabel("nRMSE")
    axes[0][0].legend(fontsize=7, frameon=False)
    return _save(fig, out)


def plot_shape_statistics(predictions: pd.DataFrame, real: dict, out: Path) -> Path:
    plt = _plt()
    cols = [("ptp_uv", "p-p (µV)", True), ("duration_ms", "duration (ms)", False),
            ("spread_mm", "spatial spread (mm)", False)]
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.4))
    for ax, (col, label, log) in zip(axes, cols):
        data = [np.asarray(real[col], float), predictions[f"truth_{col}"].to_numpy(float),
                predictions[f"pred_{col}"].to_numpy(float)]
        ax.boxplot(data, showfliers=False)
        for i, d in enumerate(data):
            jitter = np.random.default_rng(i).uniform(-0.15, 0.15, len(d))
            ax.scatter(np.full(len(d), i + 1) + jitter, d, s=3 if i else 14, alpha=0.35 if i else 0.9,
                       color=("tab:green", "k", "tab:red")[i])
        ax.set_xticks([1, 2, 3], ["real STA", "numerical", "generated"])
        ax.set_title(label, fontsize=9)
        if log:
            ax.set_yscale("log")
    fig.suptitle("MUAP shape statistics (real: openhdemg-otb, 13x5 grid, 8 mm; simulated: 10x8 grid, 5 mm)",
                 fontsize=9)
    return _save(fig, out)


_REGIONS = (("interpolation", "slab", "held-out slab"), ("interpolation", "random", "random held-out units"),
            ("extrapolation", "band", "extrapolation band"))


def plot_variant_comparison(predictions: pd.DataFrame, out: Path) -> Path:
    """Per held-out region, the per-unit nRMSE and RMSE / RMS(target) of each variant (VAE, VAE+GAN)."""
    plt = _plt()
    labels = {"vae": "VAE", "vae_gan": "VAE+GAN"}
    variants = list(dict.fromkeys(predictions["variant"]))
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, col, goal, title in ((axes[0], "nrmse", 0.05, "nRMSE (RMSE / numerical p-p)"),
                                 (axes[1], "rel_rmse", 0.10, "RMSE / RMS(target)")):
        data, pos, ticks, names = [], [], [], []
        for r, (set_name, region, name) in enumerate(_REGIONS):
            for k, v in enumerate(variants):
                sub = predictions[(predictions["variant"] == v) & (predictions["set"] == set_name)
                                  & (predictions["region"] == region)]
                if len(sub):
                    data.append(sub.groupby("unit")[col].mean().to_numpy())
                    pos.append(r * (len(variants) + 1) + k)
            ticks.append(r * (len(variants) + 1) + (len(variants) - 1) / 2)
            names.append(name)
        if data:
            parts = ax.boxplot(data, positions=pos, widths=0.8, showfliers=False, patch_artist=True)
            for i, patch in enumerate(parts["boxes"]):
                patch.set_facecolor(("tab:blue", "tab:red", "tab:green")[i % len(variants) % 3])
        ax.axhline(goal, color="k", ls="--", lw=1)
        ax.set_xticks(ticks)
        ax.set_xticklabels(names, fontsize=8)
        ax.set_title(f"{title}; dashed: slab goal {goal:g}", fontsize=9)
    handles = [plt.Rectangle((0, 0), 1, 1, color=("tab:blue", "tab:red", "tab:green")[i % 3]) for i in
               range(len(variants))]
    axes[0].legend(handles, [labels.get(v, v) for v in variants], fontsize=8, frameon=False)
    fig.suptitle("VAE vs VAE+GAN on the same held-out units (boxes: per-unit values, whiskers 1.5 IQR)", fontsize=9)
    return _save(fig, out)


def make_figures(summary: dict, predictions: pd.DataFrame, run_dir: Path,
                 all_variants: pd.DataFrame | None = None) -> list[tuple[str, Path]]:
    """All figures of a generator run directory; returns (title, path) pairs.

    ``predictions`` are the configured variant's rows; ``all_variants`` (with a ``variant``
    column) adds the VAE vs VAE+GAN comparison when it holds more than one variant.
    """
    run_dir = Path(run_dir)
    out = []
    ex = sorted((run_dir / "folds").glob("*/examples.npz"))
    if ex:
        p = plot_examples(ex[0], run_dir / "figures" / "numerical_vs_generated.png")
        out.append(("Numerical vs generated MUAPs across the grid (held-out conditions)", p))
    if len(predictions):
        out.append(("nRMSE distribution on held-out units",
                    plot_nrmse_hist(predictions, run_dir / "figures" / "nrmse_hist.png")))
        names = (summary.get("generator_config") or {}).get("condition_names") or []
        out.append(("nRMSE vs conditions", plot_nrmse_vs_conditions(
            predictions, names, run_dir / "figures" / "nrmse_vs_conditions.png")))
        if summary.get("real_shape_statistics"):
            out.append(("Shape statistics: real vs numerical vs generated", plot_shape_statistics(
                predictions, summary["real_shape_statistics"], run_dir / "figures" / "shape_stats.png")))
    if all_variants is not None and "variant" in all_variants.columns and all_variants["variant"].nunique() > 1:
        out.append(("VAE vs VAE+GAN per held-out region", plot_variant_comparison(
            all_variants, run_dir / "figures" / "vae_vs_vae_gan.png")))
    return out
