"""All figures of myoflow runs: one plotting home that the report and the pipelines use.

One module per paper protocol (:mod:`.muscle_id`, :mod:`.stimulated_mass`,
:mod:`.gait_emg`, :mod:`.muap_generator`); each draws from a run's summary,
predictions table or run directory only (never from training code), so figures
can be redrawn wherever a run directory is copied. Matplotlib is imported on
first use (Agg backend): it is needed only when figures are drawn.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..._atomic import atomic_path

__all__ = ["pyplot", "save_png", "drop_finished_layout", "paired_differences"]


def pyplot():
    """``matplotlib.pyplot`` on the non-interactive Agg backend (imported lazily: figures are optional)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def drop_finished_layout(fig) -> None:
    """Forget the placeholder layout engine that ``fig.tight_layout()`` leaves behind.

    With any layout engine set, ``savefig`` first draws the whole figure once without
    rendering (for constrained layout); after a one-off ``tight_layout()`` that pass
    lays out every tick and label again for nothing: a third of a figure's cost (issue 19,
    make demo). The saved image is the same (tested byte for byte).
    """
    import matplotlib
    from matplotlib.layout_engine import PlaceHolderLayoutEngine

    if (isinstance(fig.get_layout_engine(), PlaceHolderLayoutEngine)
            and not matplotlib.rcParams["figure.autolayout"]
            and not matplotlib.rcParams["figure.constrained_layout.use"]):
        fig.set_layout_engine(None)  # with those rcParams off: no engine at all


def error_bar(point, low, high) -> list[list[float]]:
    """``yerr`` for matplotlib from a point and its interval: ``[[point - low], [high - point]]``, clipped at 0.

    A bootstrap percentile interval need not contain its point estimate (few subjects, a skewed metric);
    matplotlib refuses negative error bars, which left the whole figure out of the report.
    """
    lo, hi = np.atleast_1d(np.asarray(point, float) - np.asarray(low, float)), \
        np.atleast_1d(np.asarray(high, float) - np.asarray(point, float))
    return [np.clip(np.nan_to_num(lo), 0, None).tolist(), np.clip(np.nan_to_num(hi), 0, None).tolist()]


def save_png(fig, path: str | os.PathLike, dpi: int = 110, tight: bool = True) -> Path:
    """Write ``fig`` atomically as PNG at ``path``, close it and return the path."""
    path = Path(path)
    with atomic_path(path, suffix=".png") as tmp:
        if tight:
            fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png")
        else:
            drop_finished_layout(fig)  # ("tight" needs its measuring pass anyway)
            fig.savefig(tmp, dpi=dpi, format="png")
    pyplot().close(fig)
    return path


def paired_differences(rows, path: str | os.PathLike, *, title: str, xlabel: str) -> Path | None:
    """Forest plot of paired differences (model − baseline in the same folds) with their intervals.

    Parameters
    ----------
    rows : sequence of (label, difference, ci_low, ci_high)
        One comparison each; bounds may be None (fewer than 2 subjects: drawn as a point).
    path : where the PNG goes.
    title, xlabel : str

    Returns
    -------
    Path, or None when there is no finite difference to draw. An interval wholly above 0 is drawn
    green, wholly below red, one that holds 0 grey: the reader sees at once which differences the
    cohort supports.
    """
    rows = [(str(lab), float(d), lo, hi) for lab, d, lo, hi in rows if d is not None and np.isfinite(float(d))]
    if not rows:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 1.0 + 0.32 * len(rows)))
    for y, (_, d, lo, hi) in enumerate(reversed(rows)):
        has_ci = lo is not None and hi is not None and np.isfinite([lo, hi]).all()
        colour = "grey" if not has_ci or lo <= 0 <= hi else ("tab:green" if lo > 0 else "tab:red")
        if has_ci:
            ax.plot([lo, hi], [y, y], color=colour, lw=2, solid_capstyle="butt")
        ax.plot([d], [y], "o", color=colour, ms=5)
    ax.axvline(0.0, color="black", lw=0.8)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([lab for lab, *_ in reversed(rows)], fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    return save_png(fig, path)
