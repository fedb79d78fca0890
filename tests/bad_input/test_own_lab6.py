"""A sixth sweep of new labs (stimulated-mass on own data, predict, check-placement, export, report, the
runner): what went wrong on their recordings and hostile inputs.

Each test is the smallest input that showed the problem; each fails without its fix.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from myoflow.io import native, write_dataset

from ._builders import cli as _cli, one_error_line as _one_error_line

COV = "age=54,sex=F,height=1.62,weight=70"


def _clinic(root: Path, frequencies=(10.0, 25.0), n: int = 6, columns=None, rec_fn=None, fs: float = 2000.0):
    """``n`` simulated subjects at ``frequencies`` as a lab's dataset folder (one file per muscle x frequency)."""
    from myoflow.simulate.protocols.evoked import simulate_evoked

    recs, part = simulate_evoked(n, 0, frequencies=frequencies, train_s=1.0, n_units=20, fs=fs)
    part = part[columns or ["subject", "age", "sex", "height", "weight", "bmi", "mass_class"]]
    items = [(f"{r.meta['subject']}_{r.meta['muscle']}_{r.meta['frequency']:g}", rec_fn(r) if rec_fn else r)
             for r in recs]
    return write_dataset(root, items, part, {"protocol": "evoked"}).path, recs


def _train(ds: Path, out: Path, capsys, *sets: str) -> Path:
    argv = ["run", "stimulated-mass", "--data", ds, "--out", out, "--set", "evaluate.models=[attention_bilstm]",
            "--set", "train.epochs=1", "--set", "model.params.n_members=1", "--set", "evaluate.n_boot=10",
            "--set", "evaluate.n_splits=2"]
    for s in sets:
        argv += ["--set", s]
    code, _, err = _cli(argv, capsys)
    assert code == 0, err
    return out


@pytest.fixture(scope="module")
def stim(tmp_path_factory):
    """A finished stimulated-mass run (10 and 25 Hz, attention Bi-LSTM) and one new person's four recordings."""

    root = tmp_path_factory.mktemp("stim")
    ds, recs = _clinic(root / "clinic")
    from myoflow.cli import main

    try:
        main([str(a) for a in ["run", "stimulated-mass", "--data", ds, "--out", root / "run",
                               "--set", "evaluate.models=[attention_bilstm]", "--set", "train.epochs=1",
                               "--set", "model.params.n_members=1", "--set", "evaluate.n_boot=10",
                               "--set", "evaluate.n_splits=2"]])
    except SystemExit as exc:
        assert not exc.code
    new = root / "new"
    new.mkdir()
    files = [native.save(r, new / f"{r.meta['muscle']}_{r.meta['frequency']:g}.h5") for r in recs
             if r.meta["subject"] == "S001"]
    return root / "run", files


def _copy_run(run: Path, to: Path) -> Path:
    import shutil

    shutil.copytree(run, to)
    return to


# ------------------------------------------------------------------ export: --onnx must not replace run files
@pytest.mark.parametrize("name", ["metrics.json", "config.yaml", "model.json"])
def test_export_never_writes_over_a_file_it_did_not_write(name, stim, tmp_path, capsys):
    run = _copy_run(stim[0], tmp_path / "run")
    target = run / name if name != "model.json" else tmp_path / name
    before = target.read_bytes() if target.exists() else None
    code, _, err = _cli(["export", run, "--onnx", target], capsys)
    line = _one_error_line(code, err)  # was: exit 0, the ONNX graph and then its JSON written over the run's file
    assert "does not end in .onnx" in line
    assert (target.read_bytes() if target.exists() else None) == before
    # the sidecar NAME.json of a .onnx name: refused when it is not an earlier export's
    code, _, err = _cli(["export", run, "--onnx", run / "metrics.onnx"], capsys)
    line = _one_error_line(code, err)  # was: run/metrics.json replaced by the export's preprocessing JSON
    assert "metrics.json" in line and "not written by an earlier export" in line
    assert json.loads((run / "metrics.json").read_text())["pipeline"] == "stimulated-mass"
    assert not (run / "metrics.onnx").exists()
    code, _, err = _cli(["export", run, "--onnx", tmp_path / "m.onnx"], capsys)
    assert code == 0, err
    code, _, err = _cli(["export", run, "--onnx", tmp_path / "m.onnx"], capsys)
    assert code == 0, err  # an earlier export's files are replaced


# ------------------------------------------------------------------ report: reads only the run's own files
@pytest.mark.parametrize("entry", ["abs", "dotdot", "symlink"])
def test_report_embeds_no_file_from_outside_the_run(entry, stim, tmp_path, capsys):
    run = _copy_run(stim[0], tmp_path / "run")
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"\x89PNG private bytes of the user")
    figs = json.loads((run / "figures.json").read_text())
    rel = {"abs": str(secret), "dotdot": "../secret.png", "symlink": "figures/link.png"}[entry]
    if entry == "symlink":
        (run / "figures" / "link.png").symlink_to(secret)
    (run / "figures.json").write_text(json.dumps(figs + [["stolen", rel]]))
    code, _, err = _cli(["report", run], capsys)
    line = _one_error_line(code, err)  # was: exit 0, the file base64-embedded in report.html
    assert "figures.json" in line and "outside the run folder" in line
    import base64

    assert base64.b64encode(secret.read_bytes()).decode()[:20] not in (run / "report.html").read_text()


@pytest.mark.parametrize("name, text, problem", [
    ("run_info.json", "{", "damaged run file"),
    ("figures.json", '[["a", "figures/a.png"]', "damaged run file"),
    ("figures.json", '{"a": 1}', "expected a list of [title, file] pairs"),
    ("metrics.json", '{"pipeline": "stimulated-mass", "conditions": {"25Hz": {"ptp_logreg": {"accuracy": 0.5}}}}',
     "layout this myoflow cannot read"),
    ("metrics.json", '{"pipeline": "stimulated-mass", "headline": [{"ours": 0.5}]}', "layout this myoflow cannot read"),
])
def test_report_names_a_damaged_or_foreign_run_file(name, text, problem, stim, tmp_path, capsys):
    run = _copy_run(stim[0], tmp_path / "run")
    (run / name).write_text(text)
    code, _, err = _cli(["report", run], capsys)
    line = _one_error_line(code, err)  # was: a JSONDecodeError / AttributeError / KeyError traceback
    assert name in line and problem in line



# ------------------------------------------------------------------ stimulated mass: window vs pulse period
def test_response_window_longer_than_the_pulse_period_is_refused(tmp_path, capsys):
    """40 Hz pulses are 25 ms apart: the default 0-35 ms window held the next M-wave (duration 29-32 ms, exit 0)."""
    ds, _ = _clinic(tmp_path / "clinic", frequencies=(10.0, 40.0))
    argv = ["run", "stimulated-mass", "--data", ds, "--out", tmp_path / "run", "--set", "data.frequencies=[10,40]",
            "--set", "evaluate.models=[ptp_logreg]", "--set", "evaluate.n_boot=10", "--set", "evaluate.n_splits=2"]
    code, _, err = _cli(argv, capsys)
    line = _one_error_line(code, err)
    assert "_40" in line and "25 ms between pulses at 40 Hz" in line and "preprocess.window_ms=[0,25]" in line
    code, _, err = _cli(argv[:5] + [tmp_path / "run2"] + argv[6:] + ["--set", "preprocess.window_ms=[0,25]"], capsys)
    assert code == 0, err  # the suggested window runs


# ------------------------------------------------------------------ config: 1e-3 is a number
@pytest.mark.parametrize("text", ["1e-3", "5E-4", "+2e-2"])
def test_exponent_without_a_dot_is_a_number(text, tmp_path):
    """PyYAML (YAML 1.1) reads ``1e-3`` as a string: ``--set train.lr=1e-3`` and ``lr: 1e-3`` were refused."""
    from myoflow.experiments import load_config
    from myoflow.experiments.quickrun import parse_sets
    from myoflow.experiments.cli import CONFIG_DIR

    shipped = CONFIG_DIR / "stimulated_mass.yaml"
    cfg = load_config(shipped, overrides=parse_sets([f"train.lr={text}"]))
    assert cfg.train.lr == pytest.approx(float(text))
    path = tmp_path / "c.yaml"
    text_yaml = shipped.read_text()
    assert "  lr: 0.003 " in text_yaml
    path.write_text(text_yaml.replace("  lr: 0.003 ", f"  lr: {text} ", 1))
    assert load_config(path).train.lr == pytest.approx(float(text))
    with pytest.raises(Exception, match="expected a number"):
        load_config(shipped, overrides=parse_sets(["train.lr=1e-3x"]))


# ------------------------------------------------------------------ stimulated mass: a subject without a label
def test_a_subject_without_a_label_is_named(tmp_path, capsys):
    """Was: "labels ['nan'] in column 'mass_class' are not among the classes", naming no subject."""
    ds, _ = _clinic(tmp_path / "clinic")
    part = ds / "participants.csv"
    lines = part.read_text().splitlines()
    head = lines[0].split(",")
    col = head.index("mass_class")
    row = lines[2].split(",")
    who, row[col] = row[head.index("subject")], ""
    lines[2] = ",".join(row)
    part.write_text("\n".join(lines) + "\n")
    code, _, err = _cli(["run", "stimulated-mass", "--data", ds, "--out", tmp_path / "run",
                         "--set", "evaluate.models=[ptp_logreg]", "--set", "evaluate.n_splits=2"], capsys)
    line = _one_error_line(code, err)
    assert "participants.csv" in line and "no label" in line and who in line


# ------------------------------------------------------------------ predict: the run's own covariates
def test_predict_asks_for_the_covariates_the_run_was_trained_with(stim, tmp_path, capsys):
    """Was: age, sex, height and weight always required, so a run trained on age and sex (or on none) could not
    be applied to a new person."""
    ds, recs = _clinic(tmp_path / "clinic")
    run = _train(ds, tmp_path / "run", capsys, "data.covariates=[age,sex]")
    files = stim[1]
    code, out, err = _cli(["predict", run, *files, "--covariates", "age=54,sex=F"], capsys)
    assert code == 0, err
    code, _, err = _cli(["predict", run, *files, "--covariates", "age=54"], capsys)
    line = _one_error_line(code, err)
    assert "missing covariate(s) ['sex']" in line and "['age', 'sex']" in line
    # the shipped full set still needs height and weight (for bmi)
    code, _, err = _cli(["predict", stim[0], *files, "--covariates", "age=54,sex=F"], capsys)
    assert "missing covariate(s) ['height', 'weight']" in _one_error_line(code, err)


# ------------------------------------------------------------------ predict: left by the sixth sweep (session 12)
def test_predict_fold_picks_that_folds_model_and_names_the_folds(stim, tmp_path, capsys):
    """Was: --fold was accepted and silently ignored on a stimulated-mass run (the final model was used)."""
    run, files = stim
    code, out, err = _cli(["predict", run, *files, "--covariates", COV, "--fold", "10Hz-k1", "--json",
                           "--out", tmp_path / "o"], capsys)
    assert code == 0, err
    res = json.loads(out)
    assert res["model_fold"] == "10Hz-k1" and res["frequencies"] == [10.0]
    code, _, err = _cli(["predict", run, *files, "--covariates", COV, "--fold", "nope"], capsys)
    line = _one_error_line(code, err)
    assert "--fold 'nope'" in line and "final-all" in line and "10Hz-k0" in line
    ten = [f for f in files if f.stem.endswith("_10")]
    code, _, err = _cli(["predict", run, *ten, "--covariates", COV, "--fold", "25Hz-k0"], capsys)
    line = _one_error_line(code, err)
    assert "trained on 25 Hz" in line and "cover 10 Hz" in line


def test_predict_out_holds_the_result_and_the_plot(stim, tmp_path, capsys):
    """Was: --out was ignored on a stimulated-mass run (the plot went to RUN/predict, no result file)."""
    run, files = stim
    before = set((run / "predict").glob("*")) if (run / "predict").is_dir() else set()
    code, out, err = _cli(["predict", run, *files, "--covariates", COV, "--out", tmp_path / "o"], capsys)
    assert code == 0, err
    res = json.loads((tmp_path / "o" / f"prediction_{files[0].stem}.json").read_text())
    assert res["level"] in ("low", "normal", "high") and res["model_fold"] == "final-all"
    assert abs(sum(res["probabilities"].values()) - 1.0) < 1e-6
    assert (tmp_path / "o" / f"attention_{files[0].stem}.png").is_file()
    after = set((run / "predict").glob("*")) if (run / "predict").is_dir() else set()
    assert after == before  # nothing written into the run when --out is given
    code, _, err = _cli(["predict", run, *files, "--covariates", COV, "--out", files[0].parent], capsys)
    assert "folder of the recordings" in _one_error_line(code, err)


def test_predict_names_what_the_run_has(stim, tmp_path, capsys):
    """Was: '--model ptp_logreg' said 'no model fits recordings at None Hz'; a frequency the run never saw did not
    say which frequencies it has."""
    run, files = stim
    code, _, err = _cli(["predict", run, *files, "--covariates", COV, "--model", "ptp_logreg"], capsys)
    line = _one_error_line(code, err)
    assert "None" not in line and "saved no 'ptp_logreg' model" in line and "attention_bilstm" in line
    from myoflow.simulate.protocols.evoked import simulate_evoked

    recs, _ = simulate_evoked(6, 0, frequencies=(15.0,), train_s=1.0, n_units=20, fs=2000.0)
    new = [native.save(r, tmp_path / f"{r.meta['muscle']}_15.h5") for r in recs if r.meta["subject"] == "S001"]
    code, _, err = _cli(["predict", run, *new, "--covariates", COV], capsys)
    line = _one_error_line(code, err)
    assert "at 15 Hz" in line and "10 Hz" in line and "10+25 Hz" in line


def test_given_stimulus_events_are_checked_against_the_stated_frequency(stim, tmp_path, capsys):
    """Was: only detected pulses were checked, so a 10 Hz train's triggers in a file stated as 25 Hz gave 25 Hz
    features from it, exit 0."""
    run, files = stim
    wrong = []
    for f in files:
        if f.stem.endswith("_10"):
            r = native.load(f)
            assert r.events_of("stimulus").size > 2  # the file carries its stimulator's triggers
            wrong.append(native.save(r.replace(meta={**r.meta, "frequency": 25.0}), tmp_path / f.name))
    code, _, err = _cli(["predict", run, *wrong, "--covariates", COV], capsys)
    line = _one_error_line(code, err)
    assert "'stimulus' events are 100.0 ms apart" in line and "25 Hz" in line and wrong[0].parent.name in line


# ------------------------------------------------------------------ check-placement: left untried by the sixth sweep
def test_check_placement_refuses_a_channel_declared_twice_and_names_the_saved_models(tmp_path, capsys):
    """Was: 'ch1=VL,ch1=TA' checked ch1 against TA (the later pair silently won; convert --channel-map alike), and
    '--model lda' said only 'no trained CNN-LSTM checkpoint' (classic baselines are not saved)."""
    from myoflow.containers import Recording
    from myoflow.io import write_edf

    from .test_own_lab4 import _muscle_folder

    ds = _muscle_folder(tmp_path / "lab", fs=1000.0)
    code, _, err = _cli(["run", "muscle-id", "--data", ds, "--out", tmp_path / "run", "--quick", "--set",
                         "evaluate.models=[cnn_lstm_random]", "--set", "train.epochs=1", "--set", "evaluate.n_boot=20"],
                        capsys)
    assert code == 0, err
    f = write_edf(Recording(np.random.default_rng(1).normal(size=(1, 4000)) * 1e-4, 1000.0, ["ch1"], units="V"),
                  tmp_path / "new.edf")
    code, _, err = _cli(["check-placement", tmp_path / "run", f, "--expected", "ch1=VL,ch1=TA"], capsys)
    assert "'ch1' is given twice" in _one_error_line(code, err)
    code, _, err = _cli(["check-placement", tmp_path / "run", f, "--expected", "ch1=VL,ch1=VL"], capsys)
    assert code in (0, 1), err  # the same pair twice says one thing
    code, _, err = _cli(["check-placement", tmp_path / "run", f, "--expected", "*=VL", "--model", "lda"], capsys)
    line = _one_error_line(code, err)
    assert "baselines are not saved" in line and "['cnn_lstm_random']" in line


# ------------------------------------------------------------------ stimulated mass: one missing recording
def test_a_subject_missing_one_recording_stays_in_the_conditions_it_has(tmp_path, capsys):
    """Was: a subject without one muscle x frequency file was dropped from every condition (S002 without its 25 Hz
    BF lost its 10 Hz recordings too)."""
    import pandas as pd

    from myoflow.simulate.protocols.evoked import simulate_evoked

    recs, part = simulate_evoked(6, 0, frequencies=(10.0, 25.0), train_s=1.0, n_units=20, fs=2000.0)
    part = part[["subject", "age", "sex", "height", "weight", "bmi", "mass_class"]]
    recs = [r for r in recs if not (r.meta["subject"] == "S002" and r.meta["muscle"] == "BF"
                                    and r.meta["frequency"] == 25.0)]
    items = [(f"{r.meta['subject']}_{r.meta['muscle']}_{r.meta['frequency']:g}", r) for r in recs]
    ds = write_dataset(tmp_path / "clinic", items, part, {"protocol": "evoked"}).path
    run = _train(ds, tmp_path / "run", capsys, "evaluate.models=[attention_bilstm,descriptors_logreg]")
    preds = pd.read_parquet(run / "predictions.parquet")
    by_cond = {c: set(d["subject"]) for c, d in preds.groupby("condition")}
    assert "S002" in by_cond["10Hz"] and len(by_cond["10Hz"]) == 6
    assert "S002" not in by_cond["25Hz"] and "S002" not in by_cond["all"] and len(by_cond["all"]) == 5
    final = json.loads((run / "folds" / "final-all" / "extras.json").read_text())
    assert final["n_train"] == 5
