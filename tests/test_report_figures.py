"""save_png: the same PNG with one drawing pass fewer after tight_layout (issue 19, make demo time)."""
from __future__ import annotations

import io

import pytest

pytest.importorskip("matplotlib")

from myoflow.report.figures import pyplot, save_png  # noqa: E402


def _figure():
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(5, 2.5))
    for ax in axes:
        ax.plot([0, 1, 2], [1, 3, 2], label="a")
        ax.set_title("title")
        ax.legend()
    fig.tight_layout()
    return fig


def test_save_png_draws_a_tight_laid_out_figure_once_and_writes_the_same_image(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    fig = _figure()
    ref = io.BytesIO()
    fig.savefig(ref, dpi=80, format="png")  # matplotlib's own path: measuring pass + drawing pass

    draws = []
    real_draw = Figure.draw
    monkeypatch.setattr(Figure, "draw", lambda self, renderer: (draws.append(1), real_draw(self, renderer))[1])
    fig = _figure()
    path = save_png(fig, tmp_path / "f.png", dpi=80, tight=False)
    assert len(draws) == 1
    assert path.read_bytes() == ref.getvalue()


def test_a_point_outside_its_bootstrap_interval_still_draws_the_comparison(tmp_path):
    """A percentile interval need not contain its point (6 subjects); the bar chart was left out of the report
    ("'yerr' must not contain negative values")."""
    from myoflow.report.figures import error_bar
    from myoflow.report.figures.stimulated_mass import plot_model_comparison

    assert error_bar(0.7, 0.72, 0.9) == [[0.0], [pytest.approx(0.2)]]
    assert error_bar([0.5, float("nan")], [0.4, float("nan")], [0.6, float("nan")]) == [
        [pytest.approx(0.1), 0.0], [pytest.approx(0.1), 0.0]]
    entry = {"accuracy": 0.667, "accuracy_ci": [0.70, 0.90], "f1_macro": 0.5, "f1_macro_ci": [0.3, 0.45]}
    summary = {"conditions": {"25Hz": {"attention_bilstm": entry, "ptp_logreg": dict(entry)}},
               "chance": {"balanced_accuracy": 1 / 3}}
    out = plot_model_comparison(summary, tmp_path / "cmp.png")
    assert out is not None and out.stat().st_size > 1000


def test_paired_differences_colour_what_the_interval_supports(tmp_path, monkeypatch):
    """One forest plot of paired differences for every pipeline's report: above 0 green, below red, holding 0 grey."""
    import pandas as pd

    from myoflow.report import figures
    from myoflow.report.figures.muscle_id import make_figures as mid_figures
    from myoflow.report.figures.stimulated_mass import make_figures as stim_figures

    assert figures.paired_differences([("x", float("nan"), None, None)], tmp_path / "none.png", title="t",
                                      xlabel="d") is None
    drawn = []
    real_plot = figures.pyplot().Axes.plot

    def spy(ax, x, y, *a, **kw):
        drawn.append((list(x), kw.get("color")))
        return real_plot(ax, x, y, *a, **kw)

    monkeypatch.setattr(figures.pyplot().Axes, "plot", spy)
    rows = [("up", 0.2, 0.1, 0.3), ("down", -0.2, -0.3, -0.1), ("holds 0", 0.05, -0.1, 0.2), ("one subject", 0.1, None, None)]
    assert figures.paired_differences(rows, tmp_path / "f.png", title="t", xlabel="d").stat().st_size > 1000
    colours = {x[0]: c for x, c in drawn if len(x) == 1}  # the points
    assert colours == {0.2: "tab:green", -0.2: "tab:red", 0.05: "grey", 0.1: "grey"}
    # the pipelines' reports carry it when their summary has paired comparisons
    mid = {"comparisons": {"lab/loso/3class": {"hybrid - rf": {"model": "hybrid", "baseline": "rf", "diff": 0.05,
                                                                "ci_low": 0.01, "ci_high": 0.09, "n_subjects": 8}}}}
    titles = [t for t, _ in mid_figures(mid, pd.DataFrame(), tmp_path / "mid")]
    assert any(t.startswith("Paired differences") for t in titles)
    acc = {"value": -0.05, "ci_low": -0.1, "ci_high": 0.0}
    stim = {"comparisons": {"25Hz": {"vs_descriptors_gb": {"model": "attention_bilstm", "baseline": "descriptors_gb",
                                                             "accuracy": acc, "f1_macro": acc}}}}
    titles = [t for t, _ in stim_figures(["low", "normal", "high"], stim, pd.DataFrame(), tmp_path / "stim")]
    assert any(t.startswith("Paired differences") for t in titles)
