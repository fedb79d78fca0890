"""A seventh sweep of new labs (a gesture armband set at 200 Hz, a Camargo-style treadmill set, a sarcopenia
clinic, a runner/report user): what went wrong on their recordings.

Each test is the smallest input that showed the problem; each fails without its fix.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
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
        columns={"age": "Age (y)", "height": "Height (cm)", "weight": "Weight (kg)"})
    part["Height (cm)"] = 100 * part["Height (cm)"]
    items = [(f"{r.meta['subject']}_{r.meta['muscle']}_{r.meta['frequency']:g}", r) for r in recs]
    ds = write_dataset(tmp_path / "clinic", items, part, {"protocol": "evoked"}).path
    code, _, err = _cli(["run", "stimulated-mass", "--data", ds, "--out", tmp_path / "run",
                         "--set", "evaluate.models=[attention_bilstm]", "--set", "train.epochs=1",
                         "--set", "model.params.n_members=1", "--set", "evaluate.n_boot=10",
                         "--set", "evaluate.n_splits=2"], capsys)
    assert code == 0, err
    cfg = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert cfg["data"]["covariates"] == ["Age (y)", "sex", "Height (cm)", "Weight (kg)", "bmi"]
    assert "'Age (y)' as age" in caplog.text
    files = [native.save(r, tmp_path / f"{r.meta['muscle']}_{r.meta['frequency']:g}.h5") for r in recs
             if r.meta["subject"] == "S001"]
    code, out, err = _cli(["predict", tmp_path / "run", *files, "--covariates",
                           "AGE (Y)=54,sex=F,height (cm)=162,Weight (kg)=70,bmi=26.7", "--json"], capsys)
    assert code == 0, err
    code, _, err = _cli(["predict", tmp_path / "run", *files, "--covariates", "sex=F,bmi=26.7"], capsys)
    assert "missing covariate(s) ['Age (y)', 'Height (cm)', 'Weight (kg)']" in _one_error_line(code, err)
