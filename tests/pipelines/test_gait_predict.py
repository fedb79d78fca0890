"""`myoflow predict RUN_DIR TRIALS...` on a gait-emg run: the saved state is the one the folds scored with.

A tiny simulated folder cohort (3 subjects, 6 strides, 2-epoch MLPs, ensemble of 2) is run once per
module; predict on a test subject's trial file must give that fold's own predictions.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from myoflow.cli import main

from ..test_user_data import run_cli as cli

SMALL = ["--workers", "1", "--set", "train.epochs=2", "--set", "model.params.torque_epochs=2",
         "--set", "evaluate.n_boot=20", "--set", "model.params.torque_hidden=[16, 12]",
         "--set", "model.params.added_hidden=8", "--set", "baseline.params.hidden=[16, 12]",
         "--set", "evaluate.ensemble=2"]




@pytest.fixture(scope="module")
def gait_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("gaitpred")
    for args in (["simulate", "gait", "--out", root / "ds", "--subjects", 3, "--strides", 6, "--seed", 1],
                 ["run", "gait-emg", "--data", root / "ds", "--out", root / "run", *SMALL]):
        try:
            main([str(a) for a in args])
        except SystemExit as exc:
            assert exc.code in (0, None)
    return root


def _test_fold(run: Path, subject: str) -> str:
    for d in sorted((run / "folds").iterdir()):
        if json.loads((d / "extras.json").read_text())["test_groups"] == [subject]:
            return d.name
    raise AssertionError(subject)


@pytest.mark.parametrize("model,flag", [("torque_based", []), ("baseline", ["--model", "direct"])])
def test_predict_reproduces_fold_predictions(gait_run, tmp_path, capsys, model, flag):
    run = gait_run / "run"
    fold = _test_fold(run, "S002")
    out, _ = cli(["predict", run, gait_run / "ds" / "S002" / "walk.h5", "--fold", fold, "--out", tmp_path,
                  "--json", *flag], capsys)
    res = json.loads(out)
    trial = next(iter(res["trials"].values()))
    got = pd.read_csv(trial["cycles_csv"])
    ref = pd.read_parquet(run / "folds" / fold / "predictions.parquet")
    ref = ref[ref["model"] == model].sort_values(["cycle", "point"])
    assert len(got) == len(ref) and trial["n_cycles"] == ref["cycle"].nunique()
    for m in trial["muscles"]:
        np.testing.assert_allclose(got[m].to_numpy(), ref[f"pred_{m}"].to_numpy(), rtol=1e-4, atol=1e-5)
    assert trial["r2_ens"] is not None and Path(trial["plot"]).is_file()


def test_predict_is_deterministic_and_default_out_is_in_the_run(gait_run, capsys):
    run = gait_run / "run"
    args = ["predict", run, gait_run / "ds" / "S001" / "walk.h5", "--json"]
    a = json.loads(cli(args, capsys)[0])
    b = json.loads(cli(args, capsys)[0])
    assert a == b
    assert Path(next(iter(a["trials"].values()))["plot"]).parent == run / "predict"


def test_predict_uses_the_model_trained_on_every_subject(gait_run, tmp_path, capsys):
    """Was: the first fold's models (trained on part of the cohort); now the final fold's, unless --fold."""
    run = gait_run / "run"
    extras = json.loads((run / "folds" / "final-all" / "extras.json").read_text())
    assert sorted(extras["train_subjects"] + extras["val_subjects"]) == ["S001", "S002", "S003"]
    assert not (run / "folds" / "final-all" / "predictions.parquet").is_file() or \
        len(pd.read_parquet(run / "folds" / "final-all" / "predictions.parquet")) == 0
    res = json.loads(cli(["predict", run, gait_run / "ds" / "S001" / "walk.h5", "--json", "--out", tmp_path],
                         capsys)[0])
    assert res["fold"] == "final-all"
    metrics = json.loads((run / "metrics.json").read_text())
    assert "final" not in metrics["summary"]["conditions"]  # it scores nothing: no figure comes from it


def test_predict_gait_bad_inputs(gait_run, tmp_path, capsys):
    run, trial = gait_run / "run", gait_run / "ds" / "S001" / "walk.h5"
    _, err = cli(["predict", run, trial, "--covariates", "age=40"], capsys, code=2)
    assert "--covariates" in err and "gait-emg" in err and "Traceback" not in err
    _, err = cli(["predict", run, tmp_path / "nope.h5"], capsys, code=2)
    assert "nope.h5" in err and "not found" in err
    _, err = cli(["predict", run, trial, "--out", trial.parent], capsys, code=2)
    assert "beside" in err
    _, err = cli(["predict", run, trial, "--fold", "xx"], capsys, code=2)
    assert "--fold 'xx'" in err
    # an old run: no saved gait model
    old = tmp_path / "old"
    old.mkdir()
    (old / "config.yaml").write_text((run / "config.yaml").read_text())
    _, err = cli(["predict", old, trial], capsys, code=2)
    assert "no saved gait model" in err and str(old) in err
    # a trial missing a joint the model needs (no knee angle)
    from myoflow.io import read
    from myoflow.io.native import save

    t = read(trial)
    a = t["angles"]
    bad = tmp_path / "noknee" / "walk.h5"
    bad.parent.mkdir()
    save(t.replace(streams={**dict(t.streams), "angles": a.pick([c for c in a.ch_names if "knee" not in c])}), bad)
    _, err = cli(["predict", run, bad], capsys, code=2)
    assert "knee" in err and "Traceback" not in err and err.count("\n") == 1


def test_predict_stimulated_mass_still_requires_covariates(tmp_path, capsys):
    (tmp_path / "config.yaml").write_text("pipeline: stimulated-mass\nname: x\n")
    _, err = cli(["predict", tmp_path, tmp_path / "r.h5"], capsys, code=2)
    assert "Missing option '--covariates'" in err


def test_predict_refuses_a_pipeline_without_a_route(tmp_path, capsys):
    (tmp_path / "config.yaml").write_text("pipeline: muap-generator\nname: x\n")
    for extra in (["--covariates", "age=40"], []):  # without --covariates: the route, not "Missing option"
        _, err = cli(["predict", tmp_path, tmp_path / "r.h5", *extra], capsys, code=2)
        assert "this is a 'muap-generator' run; predict needs a 'stimulated-mass' or 'gait-emg' run" in err
        assert str(tmp_path) in err and err.count("\n") == 1


def test_predict_takes_a_kinematics_only_trial(gait_run, tmp_path, capsys):
    # a new person's walking has angles only: no EMG to score, no moments, no GRF for a body mass
    from myoflow.io import read, save

    run = gait_run / "run"
    fold = _test_fold(run, "S002")
    full = read(gait_run / "ds" / "S002" / "walk.h5")
    kin = full.replace(streams={"angles": full["angles"]})
    save(kin, tmp_path / "kin.h5")
    args = ["predict", run, "--fold", fold, "--json"]
    a = json.loads(cli([*args[:2], gait_run / "ds" / "S002" / "walk.h5", *args[2:], "--out", tmp_path / "a"],
                       capsys)[0])
    b = json.loads(cli([*args[:2], tmp_path / "kin.h5", *args[2:], "--out", tmp_path / "b"], capsys)[0])
    ta, tb = next(iter(a["trials"].values())), next(iter(b["trials"].values()))
    assert tb["r2_ens"] is None and tb["n_cycles"] == ta["n_cycles"]
    ga, gb = pd.read_csv(ta["cycles_csv"]), pd.read_csv(tb["cycles_csv"])
    for m in ta["muscles"]:
        np.testing.assert_allclose(gb[m].to_numpy(), ga[m].to_numpy(), rtol=1e-6)


def test_export_takes_the_torque_based_model_by_default(gait_run, tmp_path, capsys):
    """Was: the baseline (the fold's models are listed alphabetically, so 'baseline' came first)."""
    cli(["export", gait_run / "run", "--onnx", tmp_path / "g.onnx"], capsys)
    info = json.loads((tmp_path / "g.json").read_text())
    assert info["model"] == "torque_based" and info["fold"] == "final-all"
