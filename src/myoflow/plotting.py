"""Quick-look figures of containers: :func:`plot_recording`, :func:`plot_epochs`, :func:`plot_grid`.

Each function builds a :class:`matplotlib.figure.Figure` directly (no pyplot, so
no global state and no GUI backend: safe on headless machines and in threads),
and returns it; save it with ``fig.savefig(...)`` or show it in a notebook.
Also reachable as :meth:`Recording.plot` and :meth:`Epochs.plot`.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .containers import Epochs, Recording
from .errors import ConfigError, DataError

__all__ = ["plot_recording", "plot_epochs", "plot_grid"]

_MAX_POINTS = 20000  # decimate long traces for drawing only (min/max envelope keeps bursts visible)


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _channels(names: Sequence[str], picks: Any, where: str) -> list[int]:
    if picks is None:
        return list(range(len(names)))
    if isinstance(picks, (str, int)):
        picks = [picks]
    out = []
    for p in picks:
        if isinstance(p, (int, np.integer)):
            if not -len(names) <= int(p) < len(names):
                raise DataError(f"channel index {p} out of range for {len(names)} channels", where)
            out.append(int(p) % len(names))
        elif p in names:
            out.append(list(names).index(p))
        else:
            raise DataError(f"no channel named {p!r}; channels are {list(names)}", where)
    return out


def _decimate(t: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = y.shape[-1]
    if n <= _MAX_POINTS:
        return t, y
    step = int(np.ceil(n / (_MAX_POINTS / 2)))
    m = n // step * step
    blocks = y[..., :m].reshape(*y.shape[:-1], -1, step)
    lo, hi = blocks.min(axis=-1), blocks.max(axis=-1)
    tt = np.repeat(t[:m:step], 2)
    yy = np.stack([lo, hi], axis=-1).reshape(*y.shape[:-1], -1)
    return tt, yy


def plot_recording(rec: Recording, channels: Any = None, *, tmin: float | None = None, tmax: float | None = None,
                   events: bool = True, title: str | None = None) -> Any:
    """One trace per channel against time, with event markers.

    Parameters
    ----------
    rec : Recording
    channels : names or indices, optional
        Channels to draw (default all; more than 16 are drawn as the first 16).
    tmin, tmax : float, optional
        Time window in s from the first sample.
    events : bool
        Draw a vertical line per event, coloured by ``kind``.
    title : str, optional
        Default: the recording's source.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not isinstance(rec, Recording):
        raise DataError(f"plot_recording expects a Recording, got {type(rec).__name__}")
    if tmin is not None or tmax is not None:
        rec = rec.crop(tmin, tmax)
    idx = _channels(rec.ch_names, channels, rec.source)[:16]
    fig = _figure(9.0, 1.0 + 1.1 * len(idx))
    axes = fig.subplots(len(idx), 1, sharex=True, squeeze=False)[:, 0]
    t, y = _decimate(rec.times, rec.data[idx])
    kinds = sorted(rec.events["kind"].unique()) if events and len(rec.events) else []
    colours = {k: f"C{(i + 1) % 10}" for i, k in enumerate(kinds)}
    for ax, i, trace in zip(axes, idx, y):
        ax.plot(t, trace, lw=0.6, color="C0")
        ax.set_ylabel(f"{rec.ch_names[i]}\n[{rec.units[i]}]", fontsize=8)
        for k in kinds:
            for s in rec.events_of(k):
                ax.axvline(rec.t0 + s / rec.fs, color=colours[k], lw=0.8, alpha=0.7)
    if kinds:
        from matplotlib.lines import Line2D

        axes[0].legend([Line2D([], [], color=colours[k]) for k in kinds], kinds, fontsize=7, loc="upper right")
    axes[-1].set_xlabel("time [s]")
    fig.suptitle(title or rec.source, fontsize=10)
    return fig


def plot_epochs(epochs: Epochs, channels: Any = None, *, by: str | None = None, max_traces: int = 50,
                title: str | None = None) -> Any:
    """Epochs overlaid per channel (thin traces) with the mean ± SD per group.

    Parameters
    ----------
    epochs : Epochs
    channels : names or indices, optional
        Default all (at most 8 drawn).
    by : str, optional
        Metadata column (or ``"y"`` for the targets) to group epochs by; one
        colour per group. Default: one group.
    max_traces : int
        Individual epochs drawn per group (the first ones); the mean uses all.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not isinstance(epochs, Epochs):
        raise DataError(f"plot_epochs expects Epochs, got {type(epochs).__name__}")
    if len(epochs) == 0:
        raise DataError("no epochs to plot")
    where = str(epochs.meta.get("source") or "epochs")
    idx = _channels(epochs.ch_names, channels, where)[:8]
    if by is None:
        groups = np.zeros(len(epochs), dtype=int)
    elif by == "y":
        if epochs.y is None or epochs.y.ndim != 1:
            raise ConfigError("by='y' needs one-dimensional targets")
        groups = epochs.y
    else:
        groups = epochs.group(by)
    labels = list(dict.fromkeys(groups.tolist()))
    fig = _figure(4.0 * min(len(idx), 4), 3.0 * int(np.ceil(len(idx) / 4)))
    axes = fig.subplots(int(np.ceil(len(idx) / 4)), min(len(idx), 4), squeeze=False).ravel()
    t = epochs.times * 1000.0
    for ax, i in zip(axes, idx):
        for g, lab in enumerate(labels):
            x = epochs.X[groups == lab, i, :]
            ax.plot(t, x[:max_traces].T, color=f"C{g % 10}", lw=0.4, alpha=0.25)
            mu, sd = x.mean(axis=0), x.std(axis=0)
            ax.fill_between(t, mu - sd, mu + sd, color=f"C{g % 10}", alpha=0.2)
            ax.plot(t, mu, color=f"C{g % 10}", lw=1.5, label=None if by is None else f"{lab} (n={len(x)})")
        ax.set_title(epochs.ch_names[i], fontsize=9)
        ax.set_xlabel("time from event [ms]")
    for ax in axes[len(idx):]:
        ax.set_visible(False)
    if by is not None:
        axes[0].legend(fontsize=7)
    fig.suptitle(title or f"{len(epochs)} epochs", fontsize=10)
    return fig


def plot_grid(obj: Recording | Epochs | np.ndarray, grid_shape: tuple[int, int] | None = None, *,
              statistic: str = "rms", title: str | None = None, cmap: str = "viridis") -> Any:
    """Amplitude map of an electrode grid: one cell per channel.

    Parameters
    ----------
    obj : Recording, Epochs or array (n_channels,)
        Channels in row-major grid order. Per-channel values are computed over
        time (and epochs) with ``statistic``; an array is drawn as given.
    grid_shape : (rows, cols), optional
        Default: the Recording's ``grid_shape``.
    statistic : {"rms", "mav", "peak"}
        Root mean square, mean absolute value or peak-to-peak.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if statistic not in ("rms", "mav", "peak"):
        raise ConfigError(f"statistic must be 'rms', 'mav' or 'peak', got {statistic!r}")
    if isinstance(obj, Recording):
        grid_shape = grid_shape or obj.grid_shape
        x = obj.data.astype(np.float64)[:, None, :]
        where = obj.source
    elif isinstance(obj, Epochs):
        x = np.moveaxis(obj.X.astype(np.float64), 1, 0)
        where = str(obj.meta.get("source") or "epochs")
    else:
        x = None
        vals = np.asarray(obj, dtype=float).ravel()
        where = "array"
    if x is not None:
        if statistic == "rms":
            vals = np.sqrt((x ** 2).mean(axis=(1, 2)))
        elif statistic == "mav":
            vals = np.abs(x).mean(axis=(1, 2))
        else:
            vals = (x.max(axis=2) - x.min(axis=2)).mean(axis=1)
    if grid_shape is None:
        raise DataError("no grid_shape given and the data carry none", where)
    rows, cols = int(grid_shape[0]), int(grid_shape[1])
    if rows * cols != vals.size:
        raise DataError(f"grid_shape {grid_shape} does not hold {vals.size} channels", where)
    fig = _figure(1.0 + 0.45 * cols, 0.8 + 0.45 * rows)
    ax = fig.subplots()
    im = ax.imshow(vals.reshape(rows, cols), cmap=cmap, interpolation="nearest")
    fig.colorbar(im, ax=ax, label=statistic)
    ax.set_xlabel("column")
    ax.set_ylabel("row")
    ax.set_title(title or where, fontsize=9)
    return fig
