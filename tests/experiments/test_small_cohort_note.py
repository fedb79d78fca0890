"""Reports and the run's console summary say when a subject-bootstrap interval rests on few subjects."""
from __future__ import annotations

import numpy as np
import pytest

from myoflow.evaluate import percentile_coverage
from myoflow.experiments import load_config
from myoflow.experiments.cli import _echo_headline
from myoflow.experiments.runner import run_experiment
from myoflow.experiments.toy import ToyPipeline
from myoflow.report.html import build_report, small_cohort_caveat

TOY = {"name": "toy-small", "pipeline": "toy", "seed": 2, "train": {"epochs": 2, "batch_size": 16, "lr": 0.05},
       "data": {"subjects": 6, "samples_per_subject": 10}, "evaluate": {"n_splits": 3}}


def test_percentile_coverage_matches_a_monte_carlo_of_the_percentile_bootstrap():
    # the formula must say what the resampling does: 2000 normal samples of 5 and 9 subjects
    rng = np.random.default_rng(7)
    for n in (5, 9):
        hits = 0
        for _ in range(1000):
            x = rng.normal(size=n)
            reps = x[rng.integers(0, n, (500, n))].mean(axis=1)
            lo, hi = np.percentile(reps, [2.5, 97.5])
            hits += lo <= 0.0 <= hi
        assert abs(hits / 1000 - percentile_coverage(n)) < 0.035
    assert percentile_coverage(9) == pytest.approx(0.898, abs=0.002)
    assert percentile_coverage(200) == pytest.approx(0.95, abs=0.002)
    assert np.isnan(percentile_coverage(1))


def _summary(n):
    return {"accuracy": 0.8, "conditions": {"a/m": {"accuracy": 0.8, "accuracy_ci": [0.7, 0.9], "n_subjects": n}},
            "data": {"n_subjects": 1}}  # an info block without an interval is not a CI's subject count


def test_caveat_names_the_smallest_cohort_behind_an_interval():
    assert small_cohort_caveat({"summary": _summary(90)}) is None
    text = small_cohort_caveat({"summary": {"x": _summary(90), "y": {"d": {"pooled": {"ci_low": 0, "ci_high": 1},
                                                                       "n_subjects": 6}}}})
    assert "6 subjects" in text and f"{100 * percentile_coverage(6):.0f} %" in text
    assert small_cohort_caveat({"summary": {"data": {"n_subjects": 3}}}) is None


def test_report_and_console_of_a_small_run_carry_the_caveat(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(ToyPipeline, "summarize", lambda self, cfg, data, results: _summary(4))
    metrics = run_experiment(load_config(TOY), tmp_path / "run", workers=1, cache_dir=tmp_path / "cache")
    html = build_report(tmp_path / "run").read_text()
    assert "as few as 4 subjects" in html
    _echo_headline("toy", {"headline": [{"label": "acc", "ours": 0.8, "ci": [0.7, 0.9]}], **metrics})
    assert "as few as 4 subjects" in capsys.readouterr().out
