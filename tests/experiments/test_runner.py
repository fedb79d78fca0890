"""Runner engineering: resume after a kill, executors agree, export matches, configs are strict."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from myoflow.config import ExperimentConfig, TrainConfig, from_dict, to_dict
from myoflow.experiments import load_config
from myoflow.errors import ConfigError, DataError
from myoflow.experiments.runner import run_experiment

TOY = {
    "name": "toy-test", "pipeline": "toy", "seed": 3,
    "train": {"epochs": 4, "batch_size": 16, "lr": 0.05},
    "data": {"subjects": 6, "samples_per_subject": 20},
    "evaluate": {"n_splits": 3},
}


def _metrics(run_dir: Path) -> dict:
    m = json.loads((run_dir / "metrics.json").read_text())
    return {k: m[k] for k in ("summary", "conditions", "folds", "headline")}


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "myoflow.cli", *args]


def test_unknown_key_is_named():
    bad = dict(TOY, train={"epochz": 3})
    with pytest.raises(ConfigError, match="train.epochz"):
        load_config(bad)
    with pytest.raises(ConfigError, match="unknown pipeline"):
        load_config(dict(TOY, pipeline="nope"))


def test_config_types_are_checked():
    with pytest.raises(ConfigError, match="train.epochs: expected an integer"):
        from_dict(ExperimentConfig, {"name": "x", "pipeline": "toy", "train": {"epochs": "many"}})
    with pytest.raises(ConfigError, match="optimizer"):
        from_dict(TrainConfig, {"optimizer": "lbfgs"})
    cfg = load_config(dict(TOY, quick={"train": {"epochs": 1}}), quick=True)
    assert cfg.train.epochs == 1 and cfg.train.lr == 0.05


def test_cli_unknown_key_exit_code_2(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump(dict(TOY, data={"subjectz": 3})))
    r = subprocess.run(_cli("run", str(p), "--out", str(tmp_path / "run")), capture_output=True, text=True)
    assert r.returncode == 2
    assert "data.subjectz" in r.stderr and "Traceback" not in r.stderr


def test_refuses_to_overwrite_different_config(tmp_path):
    cfg = load_config(TOY)
    run_experiment(cfg, tmp_path, workers=1, cache_dir=tmp_path / "cache")
    other = load_config(dict(TOY, seed=4))
    with pytest.raises(ConfigError, match="different config"):
        run_experiment(other, tmp_path, workers=1, cache_dir=tmp_path / "cache")


def test_a_run_that_finished_no_fold_takes_the_corrected_config(tmp_path):
    # the first attempt stopped before any fold finished (say, a bad data path): only its config is there
    failed = load_config(dict(TOY, seed=4))
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(to_dict(failed), sort_keys=False))
    (tmp_path / "folds" / "f_unfinished").mkdir(parents=True)
    cfg = load_config(TOY)
    summary = run_experiment(cfg, tmp_path, workers=1, cache_dir=tmp_path / "cache")
    assert summary.get("complete", True) and (tmp_path / "metrics.json").is_file()
    assert yaml.safe_load((tmp_path / "config.yaml").read_text())["seed"] == cfg.seed


def test_kill_and_resume_gives_identical_metrics(tmp_path):
    cfg_path = tmp_path / "toy.yaml"
    cfg_path.write_text(yaml.safe_dump(dict(TOY, sleep_s=1.5)))
    ref = tmp_path / "ref"
    subprocess.run(_cli("run", str(cfg_path), "--out", str(ref), "--workers", "1"), check=True,
                   capture_output=True)
    killed = tmp_path / "killed"
    proc = subprocess.Popen(_cli("run", str(cfg_path), "--out", str(killed), "--workers", "1"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not list(killed.glob("folds/*/result.json")):
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = list(killed.glob("folds/*/result.json"))
    assert 1 <= len(done_before) < 3, "the kill should land mid-run"
    assert not (killed / "metrics.json").exists()
    first_done = done_before[0].read_bytes()
    r = subprocess.run(_cli("run", str(cfg_path), "--out", str(killed), "--workers", "1", "--resume"),
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert done_before[0].read_bytes() == first_done  # finished fold was not redone
    assert _metrics(killed) == _metrics(ref)


def test_parallel_local_pool_matches_sequential(tmp_path, monkeypatch):
    cfg = load_config(TOY)
    a = run_experiment(cfg, tmp_path / "a", workers=1, cache_dir=tmp_path / "cache")
    monkeypatch.setenv("MYOFLOW_POOL", "always")
    b = run_experiment(cfg, tmp_path / "b", workers=2, cache_dir=tmp_path / "cache")
    assert json.loads((tmp_path / "b" / "run_info.json").read_text())["folds_in_workers"] == 3
    # auto: the toy's folds are far too short for a pool to pay, so all run in-process
    monkeypatch.setenv("MYOFLOW_POOL", "auto")
    run_experiment(cfg, tmp_path / "c", workers=2, cache_dir=tmp_path / "cache")
    assert json.loads((tmp_path / "c" / "run_info.json").read_text())["folds_in_workers"] == 0
    assert _metrics(tmp_path / "a") == _metrics(tmp_path / "b") == _metrics(tmp_path / "c")
    assert set(a["conditions"]["all"]["logreg"]["accuracy"]) == {"mean", "ci_low", "ci_high", "n"}


def test_pool_heuristic():
    from myoflow.experiments.runner import POOL_STARTUP_S, pool_pays

    assert not pool_pays(0.5, 10, 2)                 # short folds: start-up dominates
    assert not pool_pays(600.0, 1, 2)                # one fold left: nothing to share
    assert pool_pays(60.0, 6, 2)                     # minute-long folds: 180 s saved
    assert not pool_pays(2 * POOL_STARTUP_S / 3 - 0.1, 2, 2)
    assert pool_pays(2 * POOL_STARTUP_S + 0.1, 2, 2)


def test_pool_mode_is_checked(monkeypatch):
    from myoflow.experiments.runner import pool_mode

    monkeypatch.setenv("MYOFLOW_POOL", "sometimes")
    with pytest.raises(ConfigError, match="MYOFLOW_POOL"):
        pool_mode()


def test_ray_executor_matches_local(tmp_path):
    pytest.importorskip("ray", reason="ray not installed (pip install 'myoflow[ray]')")
    cfg = load_config(TOY)
    run_experiment(cfg, tmp_path / "local", workers=1, cache_dir=tmp_path / "cache")
    run_experiment(cfg, tmp_path / "ray", executor="ray", workers=2, cache_dir=tmp_path / "cache")
    assert _metrics(tmp_path / "local") == _metrics(tmp_path / "ray")


def test_onnx_export_matches_torch(tmp_path):
    pytest.importorskip("onnxruntime", reason="onnxruntime not installed (pip install 'myoflow[onnx]')")
    from myoflow.experiments.export import export_run

    run_experiment(load_config(TOY), tmp_path / "run", workers=1, cache_dir=tmp_path / "cache")
    info = export_run(tmp_path / "run", tmp_path / "m.onnx")
    assert info["max_abs_diff_vs_torch"] < 1e-4
    assert (tmp_path / "m.json").is_file()


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    from myoflow.experiments.export import load_run_model

    run_experiment(load_config(TOY), tmp_path / "run", workers=1, cache_dir=tmp_path / "cache")
    ckpt = next((tmp_path / "run" / "folds").glob("*/logreg.safetensors"))
    ckpt.write_bytes(ckpt.read_bytes()[:40])
    with pytest.raises(DataError, match="corrupt or truncated"):
        load_run_model(tmp_path / "run", fold=ckpt.parent.name)


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def test_report_renders_in_headless_browser(tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("no chromium on this machine (make test installs Debian's chromium where it can)")
    run_experiment(load_config(TOY), tmp_path / "run", workers=1, cache_dir=tmp_path / "cache")
    page = (tmp_path / "run" / "report.html").resolve()
    r = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
         "--virtual-time-budget=2000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert 'class="headline"' in r.stdout and "pooled accuracy" in r.stdout
    console_errors = [l for l in r.stderr.splitlines() if "CONSOLE" in l and ("Error" in l or "Uncaught" in l)]
    assert not console_errors, console_errors
    assert "data:image/png;base64," in r.stdout  # figures are embedded, page is self-contained


def test_figure_paths_are_stored_relative_to_the_run(tmp_path, monkeypatch):
    from myoflow.experiments.runner import _relative_figure_path

    run = tmp_path / "runs" / "r1"
    (run / "figures").mkdir(parents=True)
    (run / "figures" / "a.png").write_bytes(b"x")
    monkeypatch.chdir(tmp_path)
    assert _relative_figure_path(run, "runs/r1/figures/a.png") == "figures/a.png"     # cwd-relative
    assert _relative_figure_path(run, run / "figures" / "a.png") == "figures/a.png"  # absolute
    assert _relative_figure_path(run, "figures/a.png") == "figures/a.png"            # run-relative


def test_fold_ci_of_a_proportion_stays_in_unit_interval():
    from myoflow.experiments.runner import _mean_ci

    ci = _mean_ci([0.2, 1.0, 1.0], proportion=True)
    assert 0.0 <= ci["ci_low"] <= ci["mean"] <= ci["ci_high"] <= 1.0
    raw = _mean_ci([0.2, 1.0, 1.0])
    assert raw["ci_high"] > 1.0  # an unbounded metric keeps the plain t interval


def test_pool_workers_limit_blas_and_openmp_threads(monkeypatch):
    """A pool worker holds NumPy/SciPy/scikit-learn thread pools at the fold's thread count, as Ray's do."""
    from threadpoolctl import threadpool_info

    from myoflow.experiments import runner

    monkeypatch.setattr(runner, "get_pipeline", lambda name: None)
    monkeypatch.setattr(runner, "_WORKER", {})
    try:
        runner._worker_init("x", None, None, 1)
        pools = threadpool_info()
        assert pools, "no BLAS/OpenMP pool found to check"
        assert all(p["num_threads"] == 1 for p in pools), pools
    finally:
        lim = runner._WORKER.get("thread_limits")
        if lim is not None:
            lim.restore_original_limits()


def test_ray_head_start_runs_folds_only_until_the_cluster_is_up():
    """The driver's side thread plans, then takes the cheapest folds until take_rest(); a plan that finishes
    after the cluster is up starts none; errors of the plan reach the main thread."""
    import threading

    from myoflow.experiments.base import Fold
    from myoflow.experiments.runner import _DriverHeadStart

    folds = [Fold(f"f{i}", "c") for i in range(4)]
    gate, ran = threading.Event(), []

    def run(data, fold):
        ran.append(fold.id)
        gate.wait(5)

    head = _DriverHeadStart(lambda: ("data", folds, folds), run).start()
    while not ran:
        time.sleep(0.01)
    rest = head.take_rest()  # the cluster is "up" while the first fold runs
    gate.set()
    head.join()
    assert ran == ["f3"] and [f.id for f in rest] == ["f0", "f1", "f2"] and head.ran == ["f3"]

    slow = threading.Event()
    late = _DriverHeadStart(lambda: (slow.wait(5), folds, folds), lambda d, f: ran.append(f.id)).start()
    threading.Timer(0.2, slow.set).start()
    assert [f.id for f in late.take_rest()] == [f.id for f in folds]  # planned after take_rest: no fold taken
    late.join()
    assert late.ran == []

    def broken():
        raise DataError("bad cohort", "x.csv")

    bad = _DriverHeadStart(broken, lambda d, f: None).start()
    with pytest.raises(DataError, match="bad cohort"):
        bad.take_rest()


def _blas_threads() -> list[int]:
    from threadpoolctl import threadpool_info

    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


def test_ray_head_start_holds_blas_to_one_thread_while_its_thread_runs():
    from myoflow.experiments.base import Fold
    from myoflow.experiments.runner import _DriverHeadStart

    before = _blas_threads()
    if not before or max(before) < 2:
        pytest.skip("BLAS runs one thread here anyway")
    folds = [Fold("f0", "c")]
    seen: dict[str, list[int]] = {}

    def plan():
        seen["plan"] = _blas_threads()
        return "data", folds, folds

    head = _DriverHeadStart(plan, lambda d, f: seen.setdefault("fold", _blas_threads())).start()
    while "fold" not in seen:
        time.sleep(0.01)
    head.take_rest()
    head.join()
    assert set(seen["plan"]) == {1} and set(seen["fold"]) == {1}
    assert _blas_threads() == before  # given back when the side thread ends


#: Ray's start forks from the main thread (a preexec_fn rules out vfork) while the head-start thread
#: computes; OpenBLAS's fork handler then stops the pool under a threaded matrix product, which never returns.
_FORK_RACE = """
import subprocess, sys, numpy as np
from myoflow.experiments.base import Fold
from myoflow.experiments.runner import _DriverHeadStart
a, b = np.random.rand(300, 300), np.random.rand(300, 64)
def plan():
    for _ in range(3000):
        a @ b
    return "data", [], []
head = _DriverHeadStart(plan, lambda d, f: None).start()
for _ in range(30):
    subprocess.Popen([sys.executable, "-c", "pass"], preexec_fn=lambda: None).wait()
head.take_rest()
head.join()
print("done")
"""


def test_ray_head_start_survives_forks_during_its_blas_work():
    import subprocess
    import sys

    if max(_blas_threads() or [1]) < 2:
        pytest.skip("BLAS runs one thread here anyway")
    try:
        out = subprocess.run([sys.executable, "-c", _FORK_RACE], capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("the head-start thread's BLAS call hung after a fork")
    assert out.returncode == 0 and "done" in out.stdout, out.stderr[-2000:]


def test_nan_fold_metrics_give_one_warning_per_metric(caplog):
    # a class absent from most test folds: its recall is NaN for every model and condition at once
    import logging

    import pandas as pd

    from myoflow.experiments.base import FoldResult
    from myoflow.experiments.runner import aggregate_folds

    results = [FoldResult(f"{c}-k{k}", c, {m: {"accuracy": 0.5, "recall_low": float("nan") if k else 1.0}
                                           for m in ("net", "rf")}, pd.DataFrame())
               for c in ("10Hz", "20Hz") for k in range(3)]
    with caplog.at_level(logging.WARNING, logger="myoflow.experiments.runner"):
        out = aggregate_folds(results)
    records = [r for r in caplog.records if "left out of the mean" in r.getMessage()]
    assert len(records) == 1
    assert records[0].getMessage().startswith("recall_low: NaN/inf fold values left out of the mean in 4 ")
    assert out["10Hz"]["net"]["recall_low"]["n"] == 1 and out["10Hz"]["net"]["accuracy"]["n"] == 3
