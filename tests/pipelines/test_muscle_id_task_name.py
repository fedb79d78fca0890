"""muscle-id names its main task ``{K}class`` by the cohort's class count (was ``4class`` whatever K).

A lab's 3-muscle folder gets ``lab-loso-3class-S0`` folds, ``lab/loso/3class`` conditions and metrics keys,
a 2-class one ``2class``, the paper's L/R x BB/TA layout keeps ``4class`` and its seeds; splits and model
seeds never move with the name; a run written before the naming (``4class`` on a 3-class cohort) still
reads with check-placement, export, report and the figures, and ``--resume`` of it refuses in one line.
Tiny folder cohorts: smoke-sized, the numbers are not results.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from myoflow.containers import Recording
from myoflow.io.dataset import write_dataset

from ..bad_input._builders import cli, one_error_line

_BANDS = {"VL": (30, 100), "BF": (80, 200), "TA": (150, 350), "BB": (30, 100)}
_RUN_ARGS = ["--quick", "--workers", "1", "--set", "evaluate.models=[cnn_lstm_random, lda]", "--set",
             "train.epochs=1", "--set", "evaluate.n_boot=20"]


def _folder(root: Path, muscles: tuple[str, ...], sides: tuple[str | None, ...] = (None,), n_subjects: int = 3,
            seconds: float = 6.0) -> Path:
    """One 1-channel recording per subject x muscle x side: band-limited noise whose band is the muscle's."""
    from scipy.signal import butter, sosfiltfilt

    fs, rng, items = 1000.0, np.random.default_rng(0), []
    for i in range(n_subjects):
        for m in muscles:
            for side in sides:
                x = sosfiltfilt(butter(4, _BANDS[m], "bandpass", fs=fs, output="sos"),
                                rng.normal(size=(1, int(seconds * fs))), axis=1) * 1e-4 * (1.0 if side != "R" else 0.6)
                meta = {"subject": f"S{i}", "muscle": m, **({"side": side} if side else {})}
                items.append((f"S{i}_{m}{'_' + side if side else ''}", Recording(x, fs, ["ch1"], units="V", meta=meta)))
    return write_dataset(root, items, None, {"protocol": "t"}).path


def _folds(ds: Path, **evaluate):
    from myoflow.experiments import load_config
    from myoflow.experiments.registry import get_pipeline

    cfg = load_config({"name": "x", "pipeline": "muscle-id", "data": {"source": "folder", "path": str(ds)},
                       "evaluate": {"schemes": ["intra", "loso"], "models": ["cnn_lstm_random", "lda"], **evaluate}})
    pipe = get_pipeline("muscle-id")
    data = pipe.prepare(cfg, None)
    return cfg, data, pipe.folds(cfg, data)


@pytest.fixture(scope="module")
def three_run(tmp_path_factory):
    """A finished run of a 3-muscle lab folder (final model on), with a new recording to check."""
    root = tmp_path_factory.mktemp("three")
    ds = _folder(root / "lab", ("VL", "BF", "TA"))
    from myoflow.cli import main

    try:  # capsys is per test: run in-process and read the exit code
        main([str(a) for a in ["run", "muscle-id", "--data", ds, "--out", root / "run", *_RUN_ARGS]])
    except SystemExit as exc:
        assert exc.code in (0, None), exc.code
    return root / "run", ds


def test_a_three_muscle_folder_names_everything_3class(three_run, tmp_path, capsys):
    run, ds = three_run
    folds = sorted(p.name for p in (run / "folds").iterdir())
    assert folds == ["lab-final-3class", "lab-intra-3class-r0", "lab-loso-3class-S0", "lab-loso-3class-S1",
                     "lab-loso-3class-S2"]
    m = json.loads((run / "metrics.json").read_text())
    assert set(m["summary"]["results"]) == {"lab/intra/3class", "lab/loso/3class"}
    assert set(m["conditions"]) == {"lab/final/3class", "lab/intra/3class", "lab/loso/3class"}
    assert {r["task"] for r in m["summary"]["table"]} == {"3class"}
    assert m["summary"]["tasks"] == {"lab": {"3class": "3-class"}}
    assert all(v["condition"].endswith("/3class") for v in m["folds"].values())
    assert not any("4class" in h["label"] for h in m["headline"])
    assert json.loads((run / "folds" / "lab-loso-3class-S0" / "extras.json").read_text())["task"] == "3class"
    preds = pd.read_parquet(run / "predictions.parquet")
    assert set(preds["condition"]) == {"lab/intra/3class", "lab/loso/3class"}
    assert "4class" not in json.dumps(json.loads((run / "figures.json").read_text()))
    # check-placement finds the deployable model under its new name
    code, out, err = cli(["check-placement", run, ds / "S0_VL.h5", "--expected", "*=VL"], capsys)
    assert code in (0, 1) and "Traceback" not in err, err
    assert "lab-final-3class" in out + err
    # without a final model: a LOSO fold of the main task (was: the first fold by name, an intra one)
    nofinal = tmp_path / "nofinal"
    shutil.copytree(run, nofinal)
    shutil.rmtree(nofinal / "folds" / "lab-final-3class")
    code, out, err = cli(["check-placement", nofinal, ds / "S0_VL.h5", "--expected", "*=VL"], capsys)
    assert code in (0, 1) and "Traceback" not in err, err
    assert "lab-loso-3class-S0" in out + err


@pytest.mark.parametrize("muscles,sides,name", [(("VL", "TA"), (None,), "2class"),
                                                (("BB", "TA"), ("L", "R"), "4class")])
def test_the_main_task_is_named_by_its_class_count_and_keeps_its_splits_and_seeds(tmp_path, muscles, sides, name):
    from myoflow.evaluate.splitters import WithinSubject
    from myoflow.train import derive_seed

    cfg, data, folds = _folds(_folder(tmp_path / "lab", muscles, sides), binary="none")
    ids = sorted(f.id for f in folds)
    assert ids == sorted([f"lab-intra-{name}-r0", f"lab-final-{name}"] + [f"lab-loso-{name}-S{i}" for i in range(3)])
    assert {f.condition for f in folds} == {f"lab/{s}/{name}" for s in ("intra", "loso", "final")}
    for f in folds:
        # the seed the fold trains with is the one of its pre-naming id (the 4-class layout: its own id)
        assert f.seed_key == f.id.replace(f"-{name}", "-4class")
        assert f.payload["task"] == "4class"  # the internal key
    # the split is the one the internal key seeds, as before the naming
    md, y = data["lab"].epochs.metadata, data["lab"].labels["4class"]
    tr, te = next(iter(WithinSubject(test_size=cfg.evaluate.intra_test_size, unit="unit",
                                     seed=derive_seed(cfg.seed, "lab", "4class", "intra"),
                                     n_repeats=cfg.evaluate.intra_repeats).split(md, y=y)))
    intra = next(f for f in folds if f.payload["scheme"] == "intra")
    assert np.array_equal(intra.payload["train"], tr) and np.array_equal(intra.payload["test"], te)


def test_a_grouped_task_may_not_take_a_main_task_name():
    from myoflow.errors import ConfigError
    from myoflow.experiments import load_config

    for bad in ("3class", "4class"):
        with pytest.raises(ConfigError, match="main task"):
            load_config({"name": "x", "pipeline": "muscle-id",
                         "data": {"lab": {"source": "simulate", "tasks": {bad: {"a": ["BB"], "b": ["TA"]}}}}})


def _to_old_naming(run: Path, dst: Path) -> Path:
    """``run`` as the previous myoflow wrote it: every ``3class`` of folds, conditions and keys back to ``4class``."""
    shutil.copytree(run, dst)
    for d in sorted((dst / "folds").iterdir()):
        for name in ("result.json", "extras.json"):
            p = d / name
            p.write_text(p.read_text().replace("3class", "4class"))
        p = d / "predictions.parquet"
        if p.exists():
            df = pd.read_parquet(p)
            if len(df):
                df["condition"] = df["condition"].str.replace("3class", "4class")
                df["fold"] = df["fold"].str.replace("3class", "4class")
            df.to_parquet(p, index=False)
        d.rename(d.with_name(d.name.replace("3class", "4class")))
    m = dst / "metrics.json"
    text = m.read_text()
    for new, old in (("/3class", "/4class"), ('"3class"', '"4class"'), ("-3class", "-4class")):
        text = text.replace(new, old)
    m.write_text(text)
    df = pd.read_parquet(dst / "predictions.parquet")
    df["condition"] = df["condition"].str.replace("3class", "4class")
    df["fold"] = df["fold"].str.replace("3class", "4class")
    df.to_parquet(dst / "predictions.parquet", index=False)
    assert "3class" not in m.read_text() and not list((dst / "folds").glob("*3class*"))
    return dst


def test_a_run_written_before_the_naming_still_reads_and_refuses_a_resume(three_run, tmp_path, capsys):
    from myoflow.report.figures.muscle_id import make_figures

    run, ds = three_run
    old = _to_old_naming(run, tmp_path / "old")
    code, out, err = cli(["check-placement", old, ds / "S0_VL.h5", "--expected", "*=VL"], capsys)
    assert code in (0, 1) and "Traceback" not in err, err
    assert "lab-final-4class" in out + err  # the deployable model, not any fold
    code, out, err = cli(["export", old, "--onnx", tmp_path / "m.onnx"], capsys)
    assert code == 0 and "Traceback" not in err, err
    code, out, err = cli(["report", old], capsys)
    assert code == 0, err
    summary = json.loads((old / "metrics.json").read_text())["summary"]
    titles = [t for t, _ in make_figures(summary, pd.read_parquet(old / "predictions.parquet"), tmp_path / "figs")]
    assert "lab: 3-class confusion matrices (row %)" in titles  # K from the run, not the old key
    assert "lab/loso/4class: per-subject accuracy" in titles
    # a lab's folder has no paper marks: its caption does not promise them
    assert "Accuracy per cohort, scheme and task (models side by side)" in titles
    # --resume would add 3class folds beside the 4class ones: one line, exit 2, nothing added
    code, _, err = cli(["run", "muscle-id", "--data", ds, "--out", old, *_RUN_ARGS, "--resume"], capsys)
    line = one_error_line(code, err)
    assert "older myoflow" in line and "'3class'" in line and "new --out" in line and str(old) in line
    assert not list((old / "folds").glob("*3class*"))
