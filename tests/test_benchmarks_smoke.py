"""Smoke tests of the benchmark harness (benchmarks/common.py, benchmarks/run_all.py).

Tiny sizes, no peers needed: the harness must time, judge goals, write result JSON
atomically with machine and version info, keep running past a failing benchmark, and
regenerate only the generated block of BENCHMARKS.md.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def common(load_benchmark):
    return load_benchmark("common")


@pytest.fixture(scope="module")
def run_all(load_benchmark):
    return load_benchmark("run_all")


def test_goal_met_operators(common):
    assert common.goal_met(1.2, "<=", 1.3) is True
    assert common.goal_met(1.4, "<=", 1.3) is False
    assert common.goal_met(3.1, ">=", 3.0) is True
    assert common.goal_met(2.9, ">=", 3.0) is False
    assert common.goal_met(None, "<=", 1.0) is None
    assert common.goal_met(float("nan"), "<=", 1.0) is None
    assert common.goal_met(1.0, None, None) is None
    with pytest.raises(ValueError):
        common.goal_met(1.0, "=~", 1.0)


def test_time_pair_orders_and_medians(common):
    calls = []
    ta, tb = common.time_pair(lambda: calls.append("a"), lambda: calls.append("b"), repeats=4, warmup=1,
                              collect=False)
    assert len(ta.times) == len(tb.times) == 4
    # warm-up a, b, then alternating first mover: a b, b a, a b, b a
    assert calls == ["a", "b", "a", "b", "b", "a", "a", "b", "b", "a"]
    assert ta.median == pytest.approx(float(np.median(ta.times)))
    assert common.percentile([1, 2, 3, 4, 100], 50) == 3.0


def test_benchmark_writes_json_with_machine_versions_and_goals(common, tmp_path):
    b = common.Benchmark("toy", "Toy", quick=True, peers=("surely-not-a-real-dist",), results_dir=tmp_path)
    ok = b.add(common.Row(item="fast", myoflow=1.0, reference_value=2.0, ratio=2.0, goal="≥ 1.5×",
                          goal_op=">=", goal_value=1.5))
    bad = b.add(common.Row(item="slow", myoflow=3.0, ratio=3.0, goal="≤ 1.3×", goal_op="<=", goal_value=1.3))
    absolute = b.add(common.Row(item="latency", myoflow=0.4, ratio=5.0, goal="p50 ≤ 1 ms", goal_op="<=",
                                goal_value=1.0, goal_on="myoflow"))
    na = b.not_available("missing", "module not written")
    assert (ok.goal_met, bad.goal_met, absolute.goal_met, na.goal_met) == (True, False, True, None)
    path = b.write()
    assert path == tmp_path / "toy.json"
    data = json.loads(path.read_text())
    assert data["schema"] == common.SCHEMA and data["quick"] is True
    assert data["machine"]["cores"] >= 1 and data["machine"]["cpu_model"]
    for dist in ("myoflow", "numpy", "scipy", "torch"):
        assert data["versions"][dist] != "not installed"
    assert data["versions"]["surely-not-a-real-dist"] == "not installed"
    assert [r["goal_met"] for r in data["rows"]] == [True, False, True, None]
    assert data["rows"][3]["status"].startswith("not available: module not written")
    assert not list(tmp_path.glob(".toy.json*"))  # atomic write leaves no temporary file


def test_run_all_continues_past_failures_and_renders(run_all, common, tmp_path):
    bench_dir = tmp_path / "bench"
    results = tmp_path / "results"
    bench_dir.mkdir()
    (bench_dir / "bench_good.py").write_text(
        "import sys, argparse\n"
        f"sys.path.insert(0, {str(BENCH)!r})\n"
        "from common import Benchmark, Row\n"
        "p = argparse.ArgumentParser(); p.add_argument('--quick', action='store_true')\n"
        "p.add_argument('--results-dir')\n"
        "a = p.parse_args()\n"
        "b = Benchmark('good', 'Good', quick=a.quick, results_dir=a.results_dir)\n"
        "b.add(Row(item='thing | with pipe', myoflow=0.5, reference='peer', reference_value=1.0, ratio=2.0,\n"
        "          ratio_label='peer / myoflow', goal='≥ 1×', goal_op='>=', goal_value=1.0))\n"
        "b.write()\n"
    )
    (bench_dir / "bench_bad.py").write_text("raise SystemExit('boom: peer exploded')\n")
    # options come from common.bench_main only: run_all must still pass --quick and --results-dir
    (bench_dir / "bench_plain.py").write_text(
        '"""Plain one."""\n'
        "import sys\n"
        f"sys.path.insert(0, {str(BENCH)!r})\n"
        "from common import Benchmark, Row, bench_main\n"
        "def run(quick, results_dir):\n"
        "    b = Benchmark('plain', 'Plain', quick=quick, results_dir=results_dir)\n"
        "    b.add(Row(item='plain thing', myoflow=1.0))\n"
        "    return b.write()\n"
        "sys.exit(bench_main(__doc__, run))\n"
    )
    specs = {
        "good": {"script": "bench_good.py", "title": "Good one", "results": ["good"]},
        "plain": {"script": "bench_plain.py", "title": "Plain one", "results": ["plain"]},
        "bad": {"script": "bench_bad.py", "title": "Bad one", "results": ["bad"]},
        "absent": {"script": "bench_absent.py", "title": "Absent one", "results": ["absent"]},
    }
    saved = dict(run_all.BENCHMARKS)
    run_all.BENCHMARKS.clear()
    run_all.BENCHMARKS.update(specs)
    md = tmp_path / "BENCHMARKS.md"
    md.write_text("# Title\n\nhand-written prose above\n\n" + run_all.BEGIN + "\nstale\n" + run_all.END
                  + "\n\n## Notes\nhand-written prose below\n")
    try:
        rc = run_all.main(["--quick", "--bench-dir", str(bench_dir), "--results-dir", str(results),
                           "--markdown", str(md), "--no-install", "--timeout", "60"])
    finally:
        run_all.BENCHMARKS.clear()
        run_all.BENCHMARKS.update(saved)
    assert rc == 0
    log = json.loads((results / "run_all.json").read_text())
    status = {r["name"]: r for r in log["runs"]}
    assert status["good"]["status"] == "ok"
    assert status["plain"]["status"] == "ok" and json.loads((results / "plain.json").read_text())["quick"] is True
    assert status["bad"]["status"] == "failed" and "boom: peer exploded" in status["bad"]["reason"]
    assert status["absent"]["status"] == "not available"
    text = md.read_text()
    assert "hand-written prose above" in text and "hand-written prose below" in text
    assert "stale" not in text
    assert text.count(run_all.BEGIN) == 1 and text.count(run_all.END) == 1
    assert "thing \\| with pipe" in text
    assert "2× (peer / myoflow)" in text
    assert "**yes**" in text
    assert "boom: peer exploded" in text
    assert "**Machine:**" in text and "**Versions:**" in text


def test_foreign_result_layout_is_rendered(run_all, tmp_path):
    (tmp_path / "generator.json").write_text(json.dumps(
        {"muaps_per_s": {"generator": 5000.0, "numerical": 10.0}, "speedup": 500.0, "goal_met": True,
         "machine": {"cores": 2}}))
    text = run_all.render(tmp_path, {"runs": [{"name": "generator", "status": "ok"}]})
    assert "muaps_per_s.generator" in text and "speedup" in text and "**yes**" in text
    # the summary counts the foreign goal flag
    assert "| 1/1 |" in text


def test_synthetic_emg_and_rest_finder(load_benchmark):
    bp = load_benchmark("bench_preprocess")
    x = bp.make_emg(2, 20.0, 1000.0, seed=3)
    assert x.shape == (2, 20000) and x.dtype == np.float32
    assert np.array_equal(x, bp.make_emg(2, 20.0, 1000.0, seed=3))
    t0, t1 = bp.find_rest(x[0].astype(np.float64), 1000.0)
    assert t1 - t0 == pytest.approx(1.0)
    # the synthetic bursts occupy the first second of every 5 s: the rest segment must avoid them
    assert all((t % 5.0) >= 1.0 for t in np.arange(t0, t1, 0.01))
    assert bp.match_onsets(np.array([100, 500, 900]), np.array([110, 880, 2000]), tol=30) == 2


# --------------------------------------------------------------------------- bench_myogen (issue 20)

@pytest.fixture(scope="module")
def bench_myogen(load_benchmark):
    return load_benchmark("bench_myogen")


def test_myogen_python_search_rejects_wrong_or_missing_interpreters(bench_myogen, tmp_path, monkeypatch):
    # this venv runs 3.11: an explicit choice of it is reported, never swapped for a search hit
    py, why = bench_myogen.find_python(sys.executable)
    assert py is None and "3.11" in why and "3.12" in why
    monkeypatch.setenv(bench_myogen.MYOGEN_PYTHON_ENV, str(tmp_path / "no" / "python"))
    py, why = bench_myogen.find_python()
    assert py is None and "does not run" in why
    # a venv whose interpreter fails is detected and, with installs off, never rebuilt
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to("/bin/false")
    ok, msg = bench_myogen.check_venv(venv)
    assert not ok and "import myogen fails" in msg
    vpy, msg = bench_myogen.ensure_venv(None, venv, install=False)
    assert vpy is None and "--no-install" in msg and (venv / "bin" / "python").is_symlink()
    vpy, msg = bench_myogen.ensure_venv(None, venv, install=True)
    assert vpy is None and "no Python 3.12/3.13" in msg and "unusable" in msg
    # a folder that is not a venv is never deleted to make room for one
    vpy, msg = bench_myogen.ensure_venv(sys.executable, venv, install=True)
    assert vpy is None and "is not a venv" in msg and (venv / "bin" / "python").is_symlink()


def test_myogen_units_map_to_myoflow_geometry_and_conditions(bench_myogen):
    pytest.importorskip("myoflow.simulate.numerical")
    muscle = bench_myogen.MuscleSpec(n_units=3, radius_mm=8.0)
    res = {"units": [0, 2], "n_fibres": [5, 0, 900], "centres_mm": [[6.0, 1.0], [0, 0], [-7.0, -2.0]],
           "territory_radius_mm": [1.0, 0.0, 3.0]}
    geom = bench_myogen.geometry_from_myogen(res, muscle)
    # the grid centre sits over (R, 0): depth below the muscle surface R − x, lateral offset y
    np.testing.assert_allclose(geom.depth_mm, [2.0, 15.0])
    np.testing.assert_allclose(geom.y_mm, [1.0, -2.0])
    np.testing.assert_allclose(geom.n_fibres, [5, 900])
    cond, keep = bench_myogen.conditions_from_geometry(geom, bench_myogen._tissue(), muscle)
    # 900 fibres is beyond BioMime's 870: only the first unit goes to the numerical path
    assert keep.tolist() == [0] and cond.shape == (1, 6)
    np.testing.assert_allclose(cond[0, :2], [np.log(5), 2.0 + 7.0])


def test_myogen_bench_degrades_cleanly_without_python312(tmp_path):
    """Quick form with no usable Python >= 3.12: exit 0, myoflow measured, MyoGen rows say why."""
    import os
    import subprocess

    env = dict(os.environ, MYOFLOW_MYOGEN_PYTHON=str(tmp_path / "missing" / "python3.12"),
               MYOFLOW_CACHE=str(tmp_path / "cache"), OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = str(BENCH.parent / "src") + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, str(BENCH / "bench_myogen.py"), "--quick", "--results-dir", str(tmp_path)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads((tmp_path / "myogen.json").read_text())
    rows = data["rows"]
    measured = [r for r in rows if r["status"] == "ok"]
    assert len(measured) == 1 and measured[0]["myoflow"] > 0 and "does not run" in measured[0]["note"]
    skipped = [r for r in rows if r["status"].startswith("not available")]
    assert len(skipped) == 3 and all("missing/python3.12" in r["status"] and "does not run" in r["status"]
                                     for r in skipped)
    assert not (tmp_path / "cache" / "bench" / "myogen-venv").exists()  # nothing built without a Python
    assert any("could not be compared" in n for n in data["notes"])


def test_muscle_id_selection_script_runs_every_candidate_in_the_same_folds(tmp_path):
    # the shared runner of select_muscle_id_{lr,patience,channels}.py on a tiny seed-1 cohort
    import os
    import subprocess

    env = {**os.environ, "PYTHONPATH": str(BENCH.parent / "src"), "MYOFLOW_CACHE": str(tmp_path / "cache"),
           "OMP_NUM_THREADS": "1"}
    out = tmp_path / "rec.json"
    proc = subprocess.run([sys.executable, str(BENCH / "select_muscle_id_patience.py"), "--seed", "1",
                           "--subjects", "3", "--duration", "30", "--channels", "1", "--epochs", "2",
                           "--patience", "5,1", "--workers", "1", "--out", str(out)],
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rec = json.loads(out.read_text())
    assert [t["patience"] for t in rec["table"]] == [5, 1]
    assert rec["n_folds_per_patience"] > 0 and rec["cohort"]["seed"] == 1
    for t in rec["table"]:
        assert len(t["accuracy"]) == 4 and 0.0 <= t["score"] <= 1.0
        assert t["total_epochs_run"] > 0
    # the rule: the smallest patience within the tolerance of the best score
    top = max(t["score"] for t in rec["table"])
    assert rec["chosen"]["patience"] == min(t["patience"] for t in rec["table"] if t["score"] >= top - 0.01)


@pytest.mark.parametrize("builder", ["_mlp", "_generator"])
def test_engine_benchmark_loops_train_the_same_model_alike(load_benchmark, builder):
    # the engine/bare-loop ratio means something only if both loops do the same work: same start,
    # same batches, same loss (cross-entropy for classifiers, MSE for the generator) -> same first epoch.
    # (Models with dropout draw their masks from differently seeded streams, so only these two match exactly.)
    import copy

    import torch

    bench = load_benchmark("bench_engine")
    torch.set_num_threads(1)
    model, X, y, _, bs = getattr(bench, builder)(64)
    hist = bench._engine(copy.deepcopy(model), X, y, 1, bs)
    bare = bench._bare(copy.deepcopy(model), X, y, 1, bs)
    assert hist.train_loss[0] == pytest.approx(bare, rel=1e-4)


def test_selection_seed_parser_refuses_reported_cohorts(common, load_benchmark, capsys):
    assert common.parse_selection_seeds("1,3", "s") == [1, 3]
    assert common.parse_selection_seeds("1,2", "s") is None
    assert "2 is a reported cohort" in capsys.readouterr().err
    assert common.parse_selection_seeds("one", "s") is None
    assert common.parse_selection_seeds("0", "s", reported=(0,)) is None
    capsys.readouterr()
    # both gait selection scripts refuse before simulating anything
    for name in ("gait_variability", "select_gait_sim_protocol"):
        assert load_benchmark(name).main(["--sim-seed", "3,0"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"{name}: --sim-seed"), err
