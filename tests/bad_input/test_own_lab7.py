"""A seventh sweep of new labs (a gesture armband set at 200 Hz, a Camargo-style treadmill set, a sarcopenia
clinic, a runner/report user): what went wrong on their recordings.

Each test is the smallest input that showed the problem; each fails without its fix.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from myoflow.containers import Recording
from myoflow.io import write_dataset

from ._builders import cli as _cli, one_error_line as _one_error_line


def _gesture_items(seed: int = 0, fs: float = 1000.0, n: int = 8000, n_ch: int = 2,
                   classes=("fist", "open"), subjects=("01", "02", "03")) -> list:
    """Armband-style recordings: ``n_ch`` bipolar channels per subject x gesture, two contractions each."""
    from scipy.signal import butter, sosfiltfilt

    rng = np.random.default_rng(seed)
    on = np.zeros(n)
    for t0 in (1.0, 4.0):
        on[int(t0 * fs):int((t0 + 1.5) * fs)] = 1
    bands = [(30, 120), (150, 300), (60, 200), (40, 90)]
    out = []
    for s in subjects:
        for k, g in enumerate(classes):
            band = bands[k % len(bands)]
            b = sosfiltfilt(butter(4, band, "bandpass", fs=fs, output="sos"), rng.normal(size=(n_ch, n)))
            out.append((f"{s}_{g}", Recording(1e-6 * rng.normal(size=(n_ch, n)) + 1e-4 * b * on, fs,
                                              [f"emg{i + 1}" for i in range(n_ch)],
                                              meta={"subject": s, "muscle": g})))
    return out


# ------------------------------------------------------------------ export of a deep window classifier
TINY_CNN = ["--set", "train.epochs=1", "--set", "model.params.conv_channels=[4,4]", "--set", "model.params.fc_size=4",
            "--set", "model.params.lstm_hidden=4", "--set", "model.params.head_size=4"]


def test_export_of_a_deep_window_ensemble_names_the_network_to_export(tmp_path, capsys):
    ds = write_dataset(tmp_path / "armband", _gesture_items(), None, {"protocol": "t"}).path
    code, _, err = _cli(["run", "muscle-id", "--data", ds, "--out", tmp_path / "run", "--workers", "1",
                         "--cache-dir", tmp_path / "cache", "--set", "evaluate.models=[emg_cnn,cnn_lstm_random]",
                         "--set", "evaluate.schemes=[intra]", "--set", "evaluate.final_model=false",
                         "--set", "evaluate.n_boot=10", "--set", "deep.params.epochs=1", *TINY_CNN], capsys)
    assert code == 0, err
    # was: torch's "Module [ModuleList] is missing the required forward function" traceback, exit 1
    code, _, err = _cli(["export", tmp_path / "run", "--onnx", tmp_path / "m.onnx", "--model", "emg_cnn"], capsys)
    line = _one_error_line(code, err)
    assert "'emg_cnn'" in line and "no single ONNX graph" in line and "--model cnn_lstm_random" in line
    assert not (tmp_path / "m.onnx").exists()
    code, out, err = _cli(["export", tmp_path / "run", "--onnx", tmp_path / "m.onnx"], capsys)
    assert code == 0 and "cnn_lstm_random" in out, err  # the default is the network that has one graph


# ------------------------------------------------------------------ a clinic's covariate columns with units
def test_covariate_columns_with_units_are_read_and_predict_takes_their_names(tmp_path, capsys, caplog):
    """Was: a clinic's ``Age (y)`` / ``Height (cm)`` / ``Weight (kg)`` columns were left out of the covariates
    without a word (the model trained on sex and BMI alone), and naming one with ``--set data.covariates`` gave a
    run whose ``myoflow predict`` called it missing however it was typed (keys were lower-cased)."""
    import yaml

    from myoflow.io import native
    from myoflow.simulate.protocols.evoked import simulate_evoked

    recs, part = simulate_evoked(6, 0, frequencies=(10.0, 20.0), train_s=1.0, n_units=20, fs=2000.0)
    part = part[["subject", "age", "sex", "height", "weight", "bmi", "mass_class"]].rename(
        columns={"age": "Age (y)", "height": "Height (cm)", "weight": "Weight (kg)", "sex": "Sex (M/F)"})
    part["Height (cm)"] = 100 * part["Height (cm)"]
    items = [(f"{r.meta['subject']}_{r.meta['muscle']}_{r.meta['frequency']:g}", r) for r in recs]
    ds = write_dataset(tmp_path / "clinic", items, part, {"protocol": "evoked"}).path
    code, _, err = _cli(["run", "stimulated-mass", "--data", ds, "--out", tmp_path / "run",
                         "--set", "evaluate.models=[attention_bilstm]", "--set", "train.epochs=1",
                         "--set", "model.params.n_members=1", "--set", "evaluate.n_boot=10",
                         "--set", "evaluate.n_splits=2"], capsys)
    assert code == 0, err
    cfg = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    # "Sex (M/F)" is a legend, not a unit: a text column, read as a covariate it stopped the run
    assert cfg["data"]["covariates"] == ["Age (y)", "Height (cm)", "Weight (kg)", "bmi"]
    assert "'Age (y)' as age" in caplog.text
    files = [native.save(r, tmp_path / f"{r.meta['muscle']}_{r.meta['frequency']:g}.h5") for r in recs
             if r.meta["subject"] == "S001"]
    code, out, err = _cli(["predict", tmp_path / "run", *files, "--covariates",
                           "AGE (Y)=54,height (cm)=162,Weight (kg)=70,bmi=26.7", "--json"], capsys)
    assert code == 0, err
    code, _, err = _cli(["predict", tmp_path / "run", *files, "--covariates", "bmi=26.7"], capsys)
    assert "missing covariate(s) ['Age (y)', 'Height (cm)', 'Weight (kg)']" in _one_error_line(code, err)


# ------------------------------------------------------------------ a left-leg treadmill set (Camargo-style)
def test_left_leg_angles_name_the_side_setting(tmp_path, capsys):
    """Was: "angles stream needs [...] or ['hip_flexion_r', 'knee_angle_r', 'ankle_angle_r']; it has [...'_l']",
    which did not say that the side is a setting (``data.side``)."""
    from myoflow.containers import Trial

    t = np.arange(0, 6, 1 / 200)
    ph = 2 * np.pi * t / 1.1
    ang = np.stack([25 * np.cos(ph), -30 * (1 - np.cos(2 * ph)), 10 * np.sin(ph)])
    items = []
    for s in ("AB06", "AB07", "AB08"):
        strikes = pd.DataFrame({"sample": np.arange(0, t.size, 220), "kind": "heel_strike"})
        rec = Recording(ang, 200.0, ["hip_flexion_l", "knee_angle_l", "ankle_angle_l"], units="deg",
                        events=strikes, meta={"source": f"{s}/treadmill_01_ik.mot"})
        emg = Recording(1e-4 * np.random.default_rng(0).normal(size=(2, 6000)), 1000.0, ["TA", "SOL"], units="V")
        items.append((f"{s}_treadmill_01", Trial(streams={"angles": rec, "emg": emg},
                                                 meta={"subject": s, "trial": "treadmill_01"})))
    part = pd.DataFrame({"subject": ["AB06", "AB07", "AB08"], "height": 1.7, "weight": 70.0})
    ds = write_dataset(tmp_path / "camargo", items, part, {"protocol": "gait"}).path
    code, _, err = _cli(["run", "gait-emg", "--data", ds, "--out", tmp_path / "run"], capsys)
    line = _one_error_line(code, err)
    assert "treadmill_01_ik.mot" in line and "left leg" in line and "--set data.side=l" in line


# ------------------------------------------------------------------ report on a killed --data run
def test_report_of_an_unfinished_data_run_gives_the_command_that_finishes_it(tmp_path, capsys, monkeypatch):
    """Was: "finish it with 'myoflow run CONFIG --out RUN_DIR --resume'": a run started as ``run PIPELINE --data
    DIR --set ...`` has no YAML of the user's, and resuming with the --set flags retyped other than exactly is
    refused as another config. The run's own config.yaml resumes it."""
    import shlex
    import shutil

    monkeypatch.chdir(tmp_path)
    write_dataset(Path("armband"), _gesture_items(), None, {"protocol": "t"})
    code, _, err = _cli(["run", "muscle-id", "--data", "armband", "--out", "run", "--workers", "1",
                         "--cache-dir", "cache", "--set", "evaluate.models=[lda]", "--set", "evaluate.n_boot=10",
                         "--set", "evaluate.schemes=[intra,loso]", "--set", "evaluate.final_model=false"], capsys)
    assert code == 0, err
    for name in ("metrics.json", "predictions.parquet", "figures.json", "report.html"):  # as a killed run leaves it
        Path("run", name).unlink()
    shutil.rmtree(next(Path("run/folds").glob("*loso*")))
    code, _, err = _cli(["report", "run"], capsys)
    line = _one_error_line(code, err)
    finish = line.split("finish it with '")[1].rstrip("'")
    assert finish == "myoflow run run/config.yaml --out run --resume"
    code, _, err = _cli([*shlex.split(finish)[1:], "--workers", "1", "--cache-dir", "cache"], capsys)
    assert code == 0, err
    assert _cli(["report", "run"], capsys)[0] == 0


def test_resuming_with_another_set_names_the_setting_and_the_runs_own_config(tmp_path, capsys, monkeypatch):
    """Was: "holds a different config; refusing to overwrite it (choose another --out directory or delete that
    run)": a --data run resumed with one --set forgotten did not learn which setting differed, nor that the
    run's config.yaml continues it."""
    monkeypatch.chdir(tmp_path)
    write_dataset(Path("armband"), _gesture_items(), None, {"protocol": "t"})
    argv = ["run", "muscle-id", "--data", "armband", "--out", "run", "--workers", "1", "--cache-dir", "cache",
            "--set", "evaluate.models=[lda]", "--set", "evaluate.n_boot=10", "--set", "evaluate.schemes=[intra]",
            "--set", "evaluate.final_model=false"]
    assert _cli(argv, capsys)[0] == 0
    code, _, err = _cli([*argv[:-2], "--resume"], capsys)
    line = _one_error_line(code, err)
    assert "(evaluate.final_model: false in the run, true here)" in line
    assert "myoflow run run/config.yaml --out run --resume" in line


# ------------------------------------------------------------------ one file in another unit
@pytest.mark.parametrize("pipeline", ["muscle-id", "stimulated-mass"])
def test_a_recording_a_unit_prefix_off_the_others_is_named(pipeline, tmp_path, capsys, caplog):
    """Was: silence. One file of a folder in uV under a volts header (or mV read as V) is 1000x its
    neighbours; amplitude features then follow the file's unit, not the muscle, and the run ends with exit 0."""
    if pipeline == "muscle-id":
        items = _gesture_items()
        argv = ["--set", "evaluate.models=[lda]", "--set", "evaluate.schemes=[intra]", "--cache-dir", tmp_path / "c"]
    else:
        from myoflow.simulate.protocols.evoked import simulate_evoked

        recs, part = simulate_evoked(6, 0, frequencies=(20.0,), train_s=1.0, n_units=20, fs=2000.0)
        items = [(f"{r.meta['subject']}_{r.meta['muscle']}_20", r) for r in recs]
        argv = ["--set", "evaluate.models=[ptp_logreg]", "--set", "evaluate.splitter=loso"]
    good = write_dataset(tmp_path / "good", items, None if pipeline == "muscle-id" else part, {"protocol": "t"}).path
    stem, rec = items[2]
    items[2] = (stem, rec.with_data(rec.data * 1e3).replace(meta={**rec.meta, "source": "lab/S03_mV_as_V.csv"}))
    bad = write_dataset(tmp_path / "bad", items, None if pipeline == "muscle-id" else part, {"protocol": "t"}).path
    common = ["--workers", "1", "--set", "evaluate.n_boot=10", "--set", "evaluate.final_model=false", *argv]
    code, _, err = _cli(["run", pipeline, "--data", good, "--out", tmp_path / "r1", *common], capsys)
    assert code == 0, err
    assert "unit slip" not in caplog.text
    code, _, err = _cli(["run", pipeline, "--data", bad, "--out", tmp_path / "r2", *common], capsys)
    assert code == 0, err
    assert "lab/S03_mV_as_V.csv" in caplog.text and "unit slip" in caplog.text


# ------------------------------------------------------------------ a gesture set's rest class
def test_a_class_without_bursts_is_named_not_dropped_in_silence(tmp_path, capsys, caplog):
    """Was: a gesture set's ``rest`` recordings (no contraction for the burst detector) vanished from every
    task without a word: the run scored the other gestures as if rest had never been recorded, exit 0."""
    items = _gesture_items()
    rng = np.random.default_rng(5)
    items += [(f"{s}_rest", Recording(1e-6 * rng.normal(size=(2, 8000)), 1000.0, ["emg1", "emg2"],
                                      meta={"subject": s, "muscle": "rest"})) for s in ("01", "02", "03")]
    ds = write_dataset(tmp_path / "armband", items, None, {"protocol": "t"}).path
    argv = ["run", "muscle-id", "--data", ds, "--workers", "1", "--cache-dir", tmp_path / "cache",
            "--set", "evaluate.models=[lda]", "--set", "evaluate.schemes=[intra]", "--set", "evaluate.n_boot=10",
            "--set", "evaluate.final_model=false"]
    for out in ("r1", "r2"):  # the second is served from the cohort cache and says it too
        caplog.clear()
        code, _, err = _cli([*argv, "--out", tmp_path / out], capsys)
        assert code == 0, err
        assert "class(es) ['rest'] gave no windows" in caplog.text and "segmentation=whole" in caplog.text


def _treadmill(root: Path, emg_names=("TA", "SOL"), per_kg: bool = False, masses=(55.0, 70.0, 90.0)) -> Path:
    """Three subjects' treadmill trials (myoflow-named angles, moments, heel strikes, 2 EMG channels)."""
    from myoflow.containers import Trial

    t = np.arange(0, 6, 1 / 200)
    ph = 2 * np.pi * t / 1.1
    ang = np.stack([25 * np.cos(ph), 30 * (1 - np.cos(2 * ph)), 10 * np.sin(ph)])
    items = []
    for k, (s, mass) in enumerate(zip(("AB06", "AB07", "AB08"), masses)):
        strikes = pd.DataFrame({"sample": np.arange(0, t.size, 220), "kind": "heel_strike"})
        rec = Recording(ang * (1 + 0.05 * k), 200.0, ["hip_flexion", "knee_flexion", "ankle_dorsiflexion"],
                        units="deg", events=strikes)
        per = np.stack([np.sin(ph), 0.5 * np.cos(ph), 1.5 * np.sin(2 * ph + 0.1 * k)])  # N·m/kg
        mom = Recording(per if per_kg else per * mass, 200.0, ["hip_sagittal", "knee_sagittal", "ankle_sagittal"],
                        units="N·m", meta={"source": f"{s}/treadmill_01_id.sto"})
        burst = (np.sin(2 * np.pi * np.arange(6000) / 1100 + k) > 0.5).astype(float)
        emg = Recording(1e-4 * np.random.default_rng(k).normal(size=(2, 6000)) * (0.1 + burst), 1000.0,
                        list(emg_names), units="V")
        items.append((f"{s}_treadmill_01", Trial(streams={"angles": rec, "moments": mom, "emg": emg},
                                                 meta={"subject": s, "trial": "treadmill_01"})))
    part = pd.DataFrame({"subject": ["AB06", "AB07", "AB08"], "height": 1.7, "weight": list(masses)})
    return write_dataset(root, items, part, {"protocol": "gait"}).path


GAIT_QUICK = ["--workers", "1", "--set", "evaluate.ensemble=1", "--set", "train.epochs=2",
              "--set", "model.params.torque_epochs=2", "--set", "evaluate.n_boot=10", "--set", "evaluate.final_model=false"]


def test_an_emg_map_key_naming_no_channel_is_refused(tmp_path, capsys):
    """Was: a typo in data.emg_map (``tibialisanterior`` for a ``tibialis anterior`` channel) left the channel
    unmapped, and the run went on without TA (a trial carrying some muscles is scored on those), exit 0."""
    ds = _treadmill(tmp_path / "camargo", emg_names=("tibialis anterior", "soleus"))
    code, _, err = _cli(["run", "gait-emg", "--data", ds, "--out", tmp_path / "run", *GAIT_QUICK,
                         "--set", "data.emg_map={tibialisanterior: TA, soleus: SOL}"], capsys)
    line = _one_error_line(code, err)
    assert str(ds) in line and "['tibialisanterior']" in line and "did you mean 'tibialis anterior'" in line


def test_moments_already_per_kg_are_not_divided_by_the_mass_again(tmp_path, capsys, caplog):
    """Was: moments shipped in N·m/kg (as many public gait sets do) were divided by the body mass again: every
    subject's torque targets scaled by 1/mass, the torque MLP fitted worse (on a Camargo-style set its moment R²
    fell from 0.562 to 0.469), exit 0 and no word."""
    import json

    r2 = {}
    for kind in ("nm", "per_kg"):
        ds = _treadmill(tmp_path / kind, per_kg=kind == "per_kg")
        code, _, err = _cli(["run", "gait-emg", "--data", ds, "--out", tmp_path / f"run_{kind}", *GAIT_QUICK],
                            capsys)
        assert code == 0, err
        m = json.loads((tmp_path / f"run_{kind}" / "metrics.json").read_text())
        cohort = m["summary"]["data"]["cohort"]  # the folder cohort's name (was: "sim")
        r2[kind] = m["summary"]["conditions"][cohort]["torque_mlp"]["r2_ens_mean_over_channels"]
    assert "AB06/treadmill_01_id.sto" in caplog.text and "read as N·m/kg" in caplog.text
    assert r2["per_kg"] == pytest.approx(r2["nm"], abs=1e-4)


def test_label_values_differing_only_in_case_are_refused(tmp_path, capsys):
    """Was: ``sarcopenia`` / ``Sarcopenia`` (a table typed by two people) were two classes each: a two-class
    clinic ran as four classes, exit 0."""
    from myoflow.simulate.protocols.evoked import simulate_evoked

    recs, part = simulate_evoked(6, 0, frequencies=(20.0,), train_s=1.0, n_units=20, fs=2000.0)
    part = part[["subject", "age", "sex", "height", "weight"]].assign(
        sarcopenia=["sarcopenia", "no", "Sarcopenia", "no", "sarcopenia", "No "])
    items = [(f"{r.meta['subject']}_{r.meta['muscle']}_20", r) for r in recs]
    ds = write_dataset(tmp_path / "clinic", items, part, {"protocol": "evoked"}).path
    code, _, err = _cli(["run", "stimulated-mass", "--data", ds, "--out", tmp_path / "run", "--workers", "1",
                         "--set", "data.label=sarcopenia", "--set", "evaluate.models=[ptp_logreg]",
                         "--set", "evaluate.n_boot=10", "--set", "evaluate.splitter=loso"], capsys)
    line = _one_error_line(code, err)
    assert "participants.csv" in line and "'Sarcopenia' (S003)" in line and "differ only in case" in line


# ------------------------------------------------------------------ --seed on a folder run
def test_run_takes_seed_and_the_same_seed_gives_the_same_metrics(tmp_path, capsys):
    """Was: "No such option '--seed'. Did you mean '--set'?"; the seed is now an option of its own."""
    ds = write_dataset(tmp_path / "armband", _gesture_items(), None, {"protocol": "t"}).path
    argv = ["run", "muscle-id", "--data", ds, "--workers", "2", "--cache-dir", tmp_path / "cache",
            "--set", "evaluate.models=[lda,rf]", "--set", "evaluate.n_boot=20", "--set", "evaluate.final_model=false",
            "--set", "baseline.params.n_estimators=10"]
    texts = {}
    for out, seed in (("a", 3), ("b", 3), ("c", 4)):
        code, _, err = _cli([*argv, "--seed", seed, "--out", tmp_path / out], capsys)
        assert code == 0, err
        texts[out] = (tmp_path / out / "metrics.json").read_text()
    assert texts["a"] == texts["b"] and texts["a"] != texts["c"]
    assert '"seed": 3' in texts["a"]
    code, _, err = _cli([*argv, "--seed", "3", "--set", "seed=4", "--out", tmp_path / "d"], capsys)
    assert "disagree" in _one_error_line(code, err)
