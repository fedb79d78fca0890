"""A fourteenth sweep: label case in ``convert``, a folder cohort's provenance, warnings on a cache hit,
and muscle-id's two headline numbers.

Each test is the smallest input that showed the problem; each fails without its fix.

Tried and already fine (no test added here): ``myoflow run`` of a converted folder holding ``VL`` and ``vl``
(refused with one line naming both spellings, so only ``convert`` let them through); ``l`` beside ``L`` and
``bb`` beside ``BB`` (one class in the run, so accepted by both).
"""
from __future__ import annotations

import pandas as pd

from ._builders import cli as _cli, one_error_line as _one_error_line, write_csv


# ------------------------------------------------------------------ convert: 'vl ' beside 'VL'
def _manifest(tmp_path, muscles, sides=None):
    raw = tmp_path / "raw"
    rows = []
    for i, m in enumerate(muscles):
        f = write_csv(raw / f"f{i}.csv", seed=i)
        rows.append({"file": f.name, "subject": f"S{i:02d}", "muscle": m,
                     **({"side": sides[i]} if sides else {})})
    man = raw / "manifest.csv"
    pd.DataFrame(rows).to_csv(man, index=False)
    return man


def test_convert_refuses_one_muscle_in_two_cases(tmp_path, capsys):
    man = _manifest(tmp_path, ["VL", "vl ", "RF"])
    out = tmp_path / "ds"
    code, _, err = _cli(["convert", "--manifest", man, "--out", out], capsys)
    line = _one_error_line(code, err)
    assert "'VL'" in line and "'vl'" in line and "f0.csv" in line and "f1.csv" in line, line
    assert "one spelling" in line, line
    assert not (out / "index.csv").exists()


def test_convert_accepts_aliases_the_run_merges(tmp_path, capsys):
    man = _manifest(tmp_path, ["BB", "bb", "RF"], sides=["L", "l", "R"])
    code, _, err = _cli(["convert", "--manifest", man, "--out", tmp_path / "ds"], capsys)
    assert code == 0, err


def test_run_refuses_the_same_spellings_convert_refuses(tmp_path, capsys):
    """The run's check (muscle-id) and convert's share one rule: ``VL``/``vl`` refused, ``bb``/``BB`` not."""
    import numpy as np

    from myoflow.containers import Recording
    from myoflow.io import write_dataset

    rng = np.random.default_rng(0)
    items = [(f"S{s}_{m}", Recording(1e-5 * rng.normal(size=(1, 3000)), 1000.0, ["emg"],
                                     meta={"subject": f"S{s}", "muscle": m}))
             for s, m in (("01", "VL"), ("02", "vl"), ("01", "bb"), ("02", "BB"))]
    ds = write_dataset(tmp_path / "ds", items, None, {"protocol": "t"}).path
    code, _, err = _cli(["run", "muscle-id", "--data", ds, "--out", tmp_path / "run", "--quick", "--workers", "1",
                         "--cache-dir", tmp_path / "cache"], capsys)
    line = _one_error_line(code, err)
    assert "muscle names 'VL' (S01_VL), 'vl' (S02_vl) differ only in case" in line, line


# ------------------------------------------------------------------ report: a folder cohort's provenance
def test_report_of_a_folder_cohort_shows_its_folder_not_simulation_settings(tmp_path):
    """Was: "Data provenance" listed ``duration_s: 600.0`` and ``seed: 0`` (simulation settings the run never
    used) for a folder cohort, and nothing of the folder's contents."""
    import json

    import yaml

    run = tmp_path / "run"
    run.mkdir()
    data = {"mine": {"source": "folder", "path": str(tmp_path / "ds"), "seed": 0, "duration_s": 600.0},
            "sim": {"source": "simulate", "seed": 3, "duration_s": 30.0}}
    (run / "config.yaml").write_text(yaml.safe_dump({"name": "r", "pipeline": "muscle-id", "data": data}))
    (run / "metrics.json").write_text(json.dumps({"name": "r", "pipeline": "muscle-id", "summary": {
        "cohorts": {"mine": {"n_subjects": 4, "n_recordings": 16, "n_windows": 1536}}}}))
    (run / "data_fingerprint.json").write_text(json.dumps({str(tmp_path / "ds"): "ab12cd"}))
    from myoflow.report.html import build_report

    page = build_report(run).read_text()
    prov = yaml.safe_load(page.split("<h2>Data provenance</h2><pre>")[1].split("</pre>")[0])
    assert "duration_s" not in prov["mine"] and "seed" not in prov["mine"], prov
    assert prov["mine"]["fingerprint"] == "ab12cd" and prov["mine"]["n_subjects"] == 4, prov
    assert prov["mine"]["path"] == str(tmp_path / "ds")
    assert prov["sim"] == data["sim"]  # a simulated cohort keeps what produced it


# ------------------------------------------------------------------ warnings on a cache hit
def test_a_rerun_served_from_the_cache_repeats_the_data_warnings(tmp_path, caplog):
    """Was: a flat channel ("give no windows") was warned about on the first run only; the re-run loaded the
    windows from the cache and said nothing about the same bad folder. Warnings the loader re-derives (a side
    on some recordings only) must not come twice."""
    import logging
    from collections import Counter

    from myoflow.io import write_dataset
    from myoflow.pipelines.muscle_id.config import CohortConfig, PreprocessConfig
    from myoflow.pipelines.muscle_id.data import load_cohort
    from myoflow.simulate.protocols.grid import simulate_grid

    recs, part = simulate_grid(n_subjects=3, seed=0, duration_s=20)
    items = []
    for i, r in enumerate(recs):
        meta, x = dict(r.meta), r.data.copy()
        if i == 0:
            meta.pop("side")  # a side on some recordings only
        if i == 1:
            x[0] = 0.0  # an unplugged electrode
        items.append((f"{meta['subject']}_{meta['muscle']}_{i}", r.replace(data=x, meta=meta)))
    ds = write_dataset(tmp_path / "ds", items, part, {"protocol": "t"}).path
    said = []
    for _ in range(2):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="myoflow"):
            load_cohort("c", CohortConfig(source="folder", path=ds), PreprocessConfig(), cache_dir=tmp_path / "cache")
        said.append(Counter(r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING))
    assert any("are flat" in m for m in said[0]) and any("carry no 'side'" in m for m in said[0]), said[0]
    assert said[1] == said[0]  # the same warnings, each once


# ------------------------------------------------------------------ muscle-id: headline vs per-condition table
def test_muscle_id_report_says_why_the_table_differs_from_the_headline(tmp_path):
    """Was: the headline (pooled over windows, subject bootstrap) and the per-condition table (mean over folds,
    t-interval) showed two numbers for one model without a word; the numbers themselves are unchanged."""
    import json

    import yaml

    from myoflow.report.html import build_report

    def run(pipeline):
        d = tmp_path / pipeline
        d.mkdir()
        (d / "config.yaml").write_text(yaml.safe_dump({"name": "r", "pipeline": pipeline}))
        (d / "metrics.json").write_text(json.dumps({
            "name": "r", "pipeline": pipeline,
            "headline": [{"label": "g LOSO 4-class %, lda", "ours": 62.5, "ci": [50.0, 70.0]}],
            "conditions": {"g/loso/4class": {"lda": {"accuracy": {"mean": 0.6, "ci_low": 0.4, "ci_high": 0.8,
                                                                  "n": 4}}}}}))
        return build_report(d).read_text()

    page = run("muscle-id")
    table = page.split("Results per condition")[1]
    assert "pools every test window" in table.split("<table")[0] and "t-interval over folds" in table, table[:600]
    assert "62.5" in page and "0.600 [0.400, 0.800]" in table  # both numbers shown as they were
    assert "pools every test window" not in run("gait-emg")  # another pipeline's headline is not this one
