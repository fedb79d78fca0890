"""Figures of simulated signals (matplotlib, Agg backend, atomic PNG writes).

Helpers that protocol modules reuse: :func:`plot_muap_grid` (a MUAP drawn at every
electrode of a grid, the way HD-sEMG papers show them), :func:`plot_muap_column`
(channels along the fibres stacked, to see propagation, the innervation zone and the
end-of-fibre components) and :func:`plot_traces` (multichannel time series).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from .._atomic import atomic_path
from ..errors import DataError

__all__ = ["plot_muap_grid", "plot_muap_column", "plot_traces", "save_figure"]


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: str | os.PathLike, dpi: int = 110) -> Path:
    """Save a matplotlib figure atomically as PNG and close it."""
    path = Path(path)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=dpi, format="png", bbox_inches="tight", metadata={"Software": None})
    _plt().close(fig)
    return path


def _as_grid(muap: np.ndarray, grid_shape: tuple[int, int] | None) -> np.ndarray:
    m = np.asarray(muap, dtype=float)
    if m.ndim == 3:
        return m
    if m.ndim == 2:
        if grid_shape is None:
            raise DataError("a (n_channels, n_times) MUAP needs grid_shape=(rows, cols)")
        r, c = grid_shape
        if r * c != m.shape[0]:
            raise DataError(f"grid_shape {grid_shape} does not hold {m.shape[0]} channels")
        return m.reshape(r, c, -1)
    raise DataError(f"MUAP must be (rows, cols, times) or (n_channels, times), got shape {m.shape}")


def plot_muap_grid(
    muap: np.ndarray,
    fs: float,
    path: str | os.PathLike,
    grid_shape: tuple[int, int] | None = None,
    *,
    title: str | None = None,
    tmin: float = 0.0,
    unit: str = "µV",
) -> Path:
    """Draw one MUAP at every electrode (rows along the fibres), common amplitude scale.

    Parameters
    ----------
    muap : (rows, cols, times) or (n_channels, times) with ``grid_shape``; volts.
    fs : Hz.  path : PNG file.  tmin : time of the first sample, s.
    """
    plt = _plt()
    g = _as_grid(muap, grid_shape) * (1e6 if unit == "µV" else 1e3)
    rows, cols, n = g.shape
    t = (tmin + np.arange(n) / fs) * 1e3
    lim = np.abs(g).max() or 1.0
    # One Axes, each electrode's trace in its own cell (fast even for large grids).
    tw = (t - t[0]) / max(t[-1] - t[0], 1e-9) * 0.9
    fig, ax = plt.subplots(figsize=(1.0 * cols + 1, 0.7 * rows + 1))
    for i in range(rows):
        for j in range(cols):
            ax.plot(j + tw, -i + 0.45 * g[i, j] / lim, lw=0.8, color="k")
            ax.plot([j, j + 0.9], [-i, -i], lw=0.3, color="0.75")
    ax.set_xlim(-0.1, cols)
    ax.set_ylim(-rows + 0.4, 0.6)
    ax.set_xticks(np.arange(cols) + 0.45, [str(j + 1) for j in range(cols)], fontsize=7)
    ax.set_yticks(-np.arange(rows), [str(i + 1) for i in range(rows)], fontsize=7)
    ax.set_xlabel(f"column (across the fibres); each cell {t[-1] - t[0]:.0f} ms", fontsize=8)
    ax.set_ylabel(f"row (along the fibres); cell height ±{lim:.0f} {unit}", fontsize=8)
    for s in ax.spines.values():
        s.set_visible(False)
    ax.set_title(title or f"MUAP across a {rows}×{cols} grid", fontsize=9)
    return save_figure(fig, path)


def plot_muap_column(
    channels: np.ndarray,
    fs: float,
    path: str | os.PathLike,
    *,
    positions_mm: Sequence[float] | None = None,
    title: str | None = None,
    tmin: float = 0.0,
) -> Path:
    """Channels along the fibres stacked top to bottom (propagation, IZ, fibre ends)."""
    plt = _plt()
    x = np.asarray(channels, dtype=float) * 1e6
    if x.ndim != 2:
        raise DataError(f"channels must be (n_channels, n_times), got {x.shape}")
    n_ch, n = x.shape
    t = (tmin + np.arange(n) / fs) * 1e3
    step = np.abs(x).max() * 1.2 or 1.0
    fig, ax = plt.subplots(figsize=(5, 0.45 * n_ch + 1.5))
    for i in range(n_ch):
        ax.plot(t, x[i] - i * step, color="k", lw=0.9)
    ticks = -np.arange(n_ch) * step
    labels = [f"{p:.0f} mm" for p in positions_mm] if positions_mm is not None else [str(i + 1) for i in range(n_ch)]
    ax.set_yticks(ticks, labels, fontsize=7)
    ax.set_xlabel("time (ms)")
    ax.set_title(title or "channels along the fibres", fontsize=9)
    ax.text(1.0, 1.0, f"scale: {step / 1.2:.0f} µV", transform=ax.transAxes, ha="right", va="bottom", fontsize=7)
    return save_figure(fig, path)


def plot_traces(
    data: np.ndarray,
    fs: float,
    path: str | os.PathLike,
    *,
    ch_names: Sequence[str] | None = None,
    title: str | None = None,
    unit_scale: float = 1e3,
    unit: str = "mV",
    max_channels: int = 16,
) -> Path:
    """Multichannel traces on separate rows with a shared time axis."""
    plt = _plt()
    x = np.atleast_2d(np.asarray(data, dtype=float))[:max_channels] * unit_scale
    n_ch, n = x.shape
    t = np.arange(n) / fs
    fig, axes = plt.subplots(n_ch, 1, figsize=(8, 0.7 * n_ch + 1), sharex=True, squeeze=False)
    for i in range(n_ch):
        ax = axes[i, 0]
        ax.plot(t, x[i], lw=0.5, color="k")
        ax.set_ylabel(ch_names[i] if ch_names is not None else str(i + 1), fontsize=7, rotation=0, ha="right")
        ax.tick_params(labelsize=6)
    axes[-1, 0].set_xlabel("time (s)")
    fig.suptitle(title or f"signals ({unit})", fontsize=9)
    return save_figure(fig, path)
