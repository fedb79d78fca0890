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
