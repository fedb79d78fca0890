"""Reports and the run's console summary say when a subject-bootstrap interval rests on few subjects."""
from __future__ import annotations

import numpy as np
import pytest

from myoflow.evaluate import (bootstrap_ci, bootstrap_mean, cluster_bootstrap, expanded_alpha, expanded_coverage,
                              interval_alpha, paired_bootstrap_ci, percentile_coverage)
from myoflow.errors import ConfigError
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


def _coverage(n, method, rng, trials=600):
    """Share of normal samples of ``n`` subjects whose interval of the mean holds the true mean 0."""
    hits = 0
    for k in range(trials):
        x = rng.normal(size=n)
        _, lo, hi = bootstrap_mean(x, n_boot=1000, seed=k, method=method)
        hits += lo <= 0.0 <= hi
    return hits / trials


def test_expanded_interval_covers_what_it_says_where_the_percentile_one_does_not():
    # the default interval of every pipeline: ~95 % of normal 9-subject samples (0.94 at 5, the range's
    # limit 0.75 at 3), where the plain percentile interval holds the mean ~90 / ~85 / ~75 % of the time
    rng = np.random.default_rng(11)
    for n in (3, 5, 9):
        expanded = _coverage(n, "expanded", rng)  # through the code every pipeline calls
        assert abs(expanded - expanded_coverage(n)) < 0.03, (n, expanded)
        if n > 3:
            assert _coverage(n, "percentile", rng) < expanded - 0.025, n
    assert expanded_coverage(9) == pytest.approx(0.95, abs=0.012)
    assert expanded_coverage(3) == pytest.approx(0.75, abs=0.03)  # the range of 3 scores: 1 - 2^-2
    assert expanded_alpha(9) == pytest.approx(0.01445, abs=2e-4)
    assert expanded_alpha(1000) == pytest.approx(0.0496, abs=2e-4)
    assert interval_alpha(9, 0.05, "percentile") == 0.05
    with pytest.raises(ConfigError, match="unknown bootstrap interval method"):
        bootstrap_mean([1.0, 2.0, 3.0], method="bca")


def test_every_entry_point_reads_the_same_expanded_interval():
    import pandas as pd

    rng = np.random.default_rng(3)
    df = pd.DataFrame({"subject": np.repeat(np.arange(7), 20), "correct": rng.random(140) < 0.7})
    df2 = df.assign(correct=rng.random(140) < 0.6)
    acc = lambda d: float(d["correct"].mean())  # noqa: E731  (equal rows per subject: mean of sums = mean)
    sums = lambda d: d.groupby("subject")["correct"].agg(["sum", "count"]).to_numpy(float)  # noqa: E731
    stat = lambda s: s[..., 0] / s[..., 1]  # noqa: E731
    for method in ("expanded", "percentile"):
        vec = cluster_bootstrap(sums(df), stat, n_boot=400, seed=5, method=method)
        loop = bootstrap_ci(df, acc, n_boot=400, seed=5, method=method)
        assert vec == pytest.approx(loop)
        pv = cluster_bootstrap(sums(df), stat, other=sums(df2), n_boot=400, seed=5, method=method)
        pl = paired_bootstrap_ci(df, df2, acc, n_boot=400, seed=5, method=method)
        assert pv == pytest.approx(pl)
    plain = cluster_bootstrap(sums(df), stat, n_boot=400, seed=5, method="percentile")
    wide = cluster_bootstrap(sums(df), stat, n_boot=400, seed=5)
    assert wide.lo < plain.lo and wide.hi > plain.hi  # the default is the expanded one


def _summary(n):
    return {"accuracy": 0.8, "conditions": {"a/m": {"accuracy": 0.8, "accuracy_ci": [0.7, 0.9], "n_subjects": n}},
            "data": {"n_subjects": 1}}  # an info block without an interval is not a CI's subject count


def test_caveat_names_the_smallest_cohort_behind_an_interval():
    assert small_cohort_caveat({"summary": _summary(90)}) is None
    text = small_cohort_caveat({"summary": {"x": _summary(90), "y": {"d": {"pooled": {"ci_low": 0, "ci_high": 1},
                                                                       "n_subjects": 6}}}})
    assert "6 subjects" in text and f"{100 * percentile_coverage(6):.0f} %" in text  # an old run: percentile
    new = small_cohort_caveat({"ci_method": "expanded", "summary": _summary(6)})
    tiny = small_cohort_caveat({"ci_method": "expanded", "summary": _summary(3)})
    assert "is the range of the resampled subjects' scores" in tiny and "75 %" in tiny
    assert "expanded percentile" in new and "covers only" not in new and "6 subjects" in new and f"cover ≈ {100 * expanded_coverage(6):.0f} %" in new
    assert small_cohort_caveat({"summary": {"data": {"n_subjects": 3}}}) is None


def test_report_and_console_of_a_small_run_carry_the_caveat(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(ToyPipeline, "summarize", lambda self, cfg, data, results: _summary(4))
    metrics = run_experiment(load_config(TOY), tmp_path / "run", workers=1, cache_dir=tmp_path / "cache")
    assert metrics["ci_method"] == "expanded"
    html = build_report(tmp_path / "run").read_text()
    assert "as few as 4 subjects" in html and "expanded percentile" in html
    _echo_headline("toy", {"headline": [{"label": "acc", "ours": 0.8, "ci": [0.7, 0.9]}], **metrics})
    assert "as few as 4 subjects" in capsys.readouterr().out
