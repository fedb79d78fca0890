"""Runner reliability and safety: workers die with their parent, one run per folder, interrupted writes cleaned
by --resume, report says what an incomplete run lacks, and nothing is written or read outside the named folders."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from myoflow.cli import main
from myoflow.experiments import load_config
from myoflow.errors import DataError
from myoflow.experiments.runner import run_experiment

TOY = {"name": "toy-rel", "pipeline": "toy", "seed": 2, "train": {"epochs": 2, "batch_size": 16, "lr": 0.05},
       "data": {"subjects": 6, "samples_per_subject": 10}, "evaluate": {"n_splits": 3}}
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc (Linux)")


def _cli(*args) -> list[str]:
    return [sys.executable, "-m", "myoflow.cli", *map(str, args)]


def _children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(d.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _files(root: Path, skip: Path | None = None) -> dict[str, int]:
    return {str(p): p.stat().st_size for p in root.rglob("*")
            if p.is_file() and (skip is None or not p.is_relative_to(skip))}


@linux_only
@pytest.mark.slow
def test_workers_die_when_the_parent_is_killed(tmp_path):
    cfg = tmp_path / "toy.yaml"
    cfg.write_text(yaml.safe_dump(dict(TOY, sleep_s=20.0)))
    # the pool is forced: with MYOFLOW_POOL=auto the runner would time a fold in-process first
    env = dict(os.environ, MYOFLOW_CACHE=str(tmp_path / "cache"), MYOFLOW_POOL="always")
    proc = subprocess.Popen(_cli("run", cfg, "--out", tmp_path / "run", "--workers", "2"), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kids: list[int] = []
    try:
        workers: list[int] = []
        deadline = time.time() + 240
        while time.time() < deadline:  # the pool's two workers (plus spawn's resource tracker)
            kids = [k for k in _children(proc.pid) if _alive(k)]
            workers = [k for k in kids if b"spawn_main" in Path(f"/proc/{k}/cmdline").read_bytes()]
            if len(workers) >= 2 and (tmp_path / "run" / "config.yaml").exists():
                break
            time.sleep(0.2)
        assert len(workers) >= 2, "the run should have started two workers"
        time.sleep(3.0)  # let them start up and pick up folds
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        time.sleep(5.0)
        assert [k for k in kids if _alive(k)] == [], "workers outlived their killed parent"
    finally:
        if proc.poll() is None:
            proc.kill()
        for k in set(kids) | set(_children(proc.pid)):  # after the kill they are re-parented: use the list
            try:
                os.kill(k, signal.SIGKILL)
            except ProcessLookupError:
                pass


@linux_only
@pytest.mark.slow
def test_lock_stale_lock_partial_writes_and_report(tmp_path, capsys):
    cfg = tmp_path / "toy.yaml"
    cfg.write_text(yaml.safe_dump(dict(TOY, sleep_s=1.0)))
    run = tmp_path / "run"
    env = dict(os.environ, MYOFLOW_CACHE=str(tmp_path / "cache"))
    proc = subprocess.Popen(_cli("run", cfg, "--out", run, "--workers", "1"), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 240
        # the lock is taken first, config.yaml written next: wait for both, so the kill cannot land between them
        while time.time() < deadline and not ((run / ".myoflow.lock").exists() and (run / "config.yaml").exists()):
            time.sleep(0.1)
        assert (run / ".myoflow.lock").exists()
        # a second run into the same folder is refused, naming the lock file and its owner
        with pytest.raises(SystemExit) as info:
            main(["run", str(cfg), "--out", str(run), "--resume"])
        assert info.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and str(run / ".myoflow.lock") in err[0] and f"pid {proc.pid}" in err[0], err
        assert os.uname().nodename in err[0]
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert (run / ".myoflow.lock").exists()  # left behind by the killed run: stale
    assert not (run / "metrics.json").exists()

    # report on the unfinished run: exit 2, saying what is missing
    with pytest.raises(SystemExit) as info:
        main(["report", str(run)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "nothing to report: missing" in err and "metrics.json" in err, err

    # an interrupted atomic write leaves a temp file; --resume takes over the stale lock and removes it
    leftover = run / ".predictions.parquet.k3j4h5g6.parquet"
    leftover.write_bytes(b"half a parquet file")
    main(["run", str(cfg), "--out", str(run), "--resume", "--workers", "1", "--cache-dir", str(tmp_path / "cache")])
    capsys.readouterr()
    assert not leftover.exists() and not (run / ".myoflow.lock").exists()
    assert (run / "metrics.json").is_file() and (run / "predictions.parquet").is_file()
    main(["report", str(run)])  # complete: exit 0
    capsys.readouterr()

    # a run whose final write was interrupted: report writes what it can, warns and exits 1
    (run / "predictions.parquet").rename(run / ".predictions.parquet.a1b2c3d4.parquet")
    with pytest.raises(SystemExit) as info:
        main(["report", str(run)])
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert "warning:" in err and "predictions.parquet" in err and "interrupted write" in err, err
    assert "Incomplete run" in (run / "report.html").read_text()
    main(["run", str(cfg), "--out", str(run), "--resume", "--workers", "1", "--cache-dir", str(tmp_path / "cache")])
    assert not list(run.glob(".predictions.parquet.*")) and (run / "predictions.parquet").is_file()


def test_hostile_fold_ids_write_nothing_outside_out(tmp_path, monkeypatch):
    """Fold ids carry subject ids from the data; a '../' in one must not let the runner escape --out."""
    from myoflow.experiments.base import Fold
    from myoflow.experiments.toy import ToyPipeline

    original = ToyPipeline.folds

    def hostile(self, cfg, data):
        return [Fold(f"all-loso-../../escaped{i}", f.condition, f.payload) for i, f in enumerate(original(self, cfg, data))]

    monkeypatch.setattr(ToyPipeline, "folds", hostile)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    (tmp_path / "sibling").mkdir()
    (tmp_path / "sibling" / "keep.txt").write_text("untouched")
    out = tmp_path / "a" / "out"
    before = _files(tmp_path)
    with pytest.raises(DataError, match="not a safe folder name"):
        run_experiment(load_config(TOY), out, workers=1, cache_dir=out / "cache")
    after = _files(tmp_path, skip=out)
    assert after == before, set(after) ^ set(before)
    assert not list(tmp_path.rglob("escaped*")) and not list(work.iterdir())


def test_hostile_dataset_reads_nothing_outside_its_folder(tmp_path, monkeypatch):
    """Stems and subject ids with '../' are refused on load: no Python-level open outside the dataset folder."""
    from myoflow.containers import Recording
    from myoflow.io import native, write_dataset
    from myoflow.io.dataset import load_dataset

    rec = Recording(np.zeros((1, 100), np.float32) + 1e-6, 1000.0, ["RF"], meta={"subject": "S0"})
    ds = tmp_path / "ds"
    write_dataset(ds, [("S0/RF", rec)], None, {"protocol": "t"})
    native.save(rec, tmp_path / "secret.h5")
    index = pd.read_csv(ds / "index.csv", dtype=str)
    index.assign(stem=["../secret"]).to_csv(ds / "index.csv", index=False)
    opened: list[str] = []

    def hook(event, args):
        if event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
            opened.append(os.fsdecode(args[0]))

    sys.addaudithook(hook)  # audit hooks cannot be removed; the list is only read here
    opened.clear()
    with pytest.raises(DataError, match="must be a relative path without"):
        load_dataset(ds)
    with pytest.raises(SystemExit) as info:
        main(["inspect", str(ds)])
    assert info.value.code == 2
    seen = [p for p in opened if Path(p).is_absolute() and Path(p).resolve().is_relative_to(tmp_path)]
    assert seen and all(Path(p).resolve().is_relative_to(ds.resolve()) for p in seen), seen
    assert not any("secret" in p for p in opened)


def _strict_json(path: Path):
    def refuse(token):
        raise ValueError(f"{path.name} holds {token}: not standard JSON")
    return json.loads(path.read_text(), parse_constant=refuse)


def test_metrics_json_is_standard_json_when_a_metric_is_undefined(tmp_path, monkeypatch):
    # an undefined metric (one class in a fold, a constant target) must not make metrics.json unreadable
    # for jq, JavaScript or R: NaN and infinities are written as null, and the report still builds from it
    from myoflow.experiments.toy import ToyPipeline
    from myoflow.report.html import build_report

    monkeypatch.setattr(ToyPipeline, "summarize",
                        lambda self, cfg, data, results: {"accuracy": float("nan"), "r2": np.array([np.inf, 0.5]),
                                                          "n": np.int64(3)})
    run_experiment(load_config(TOY), tmp_path / "run", workers=1, cache_dir=tmp_path / "cache")
    metrics = _strict_json(tmp_path / "run" / "metrics.json")
    assert metrics["summary"] == {"accuracy": None, "r2": [None, 0.5], "n": 3}
    assert metrics["headline"][0]["ours"] is None
    assert build_report(tmp_path / "run").is_file()
