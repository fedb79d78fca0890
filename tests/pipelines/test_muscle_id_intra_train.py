"""Muscle-id ``evaluate.intra_train`` (issue 18): the paper CNN-LSTM's recipe in the intra-subject folds only."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import signal

from myoflow.containers import Recording
from myoflow.errors import ConfigError
from myoflow.experiments import load_config

REPO = Path(__file__).resolve().parents[2]
BASE = {"name": "muscle-id-intra-train", "pipeline": "muscle-id",
        "data": {"sim": {"source": "simulate", "subjects": 3}, "real": {"enabled": False}},
        "train": {"epochs": 7, "patience": 3, "val_fraction": 0.2, "batch_size": 16}}
TINY = {"name": "cnn_lstm", "params": {"conv_channels": [2, 2], "kernel_sizes": [3, 3], "fc_size": 2,
                                       "lstm_hidden": 2, "head_size": 2, "ae_epochs": 1, "ae_max_samples": 64}}


def _recipe(est) -> tuple:
    return est.val_fraction, est.epochs, est.patience


def test_intra_train_overrides_train_in_the_intra_schemes_only():
    from myoflow.pipelines.muscle_id.pipeline import MuscleIdPipeline

    pipe = MuscleIdPipeline()
    cfg = load_config({**BASE, "evaluate": {"intra_train": {"val_fraction": 0.0, "epochs": 4}}})
    for model in ("cnn_lstm_pretrained", "cnn_lstm_random"):
        assert _recipe(pipe.make_model(cfg, model, "intra", seed=0)) == (0.0, 4, 3)
        assert _recipe(pipe.make_model(cfg, model, "intra-channel", seed=0)) == (0.0, 4, 3)
        # LOSO and the final model keep the train section (early stopping on held-aside subjects / bursts)
        assert _recipe(pipe.make_model(cfg, model, "loso", seed=0)) == (0.2, 7, 3)
        assert _recipe(pipe.make_model(cfg, model, "final", seed=0)) == (0.2, 7, 3)
    # unset: the train section everywhere, and a LOSO model identical to the one with intra_train set
    plain = load_config(BASE)
    assert plain.evaluate.intra_train == {}
    assert _recipe(pipe.make_model(plain, "cnn_lstm_pretrained", "intra", seed=0)) == (0.2, 7, 3)
    assert (pipe.make_model(plain, "cnn_lstm_pretrained", "loso", seed=5).get_params()
            == pipe.make_model(cfg, "cnn_lstm_pretrained", "loso", seed=5).get_params())


def _grid(subject, muscle, side, rng, n_bursts=4):
    fs, dur = 1000, 5 * n_bursts + 2
    x = rng.normal(0, 5e-6, (2, dur * fs))
    onsets = []
    for b in range(n_bursts):
        s = int((2 + 5 * b) * fs)
        onsets.append(s)
        x[:, s:s + 900] += 1e-4 * signal.lfilter([1], [1, -0.5], rng.standard_normal((2, 900)), axis=1)
    return Recording(x, fs, ["c1", "c2"], grid_shape=(1, 2), events=pd.DataFrame({"sample": onsets, "kind": "burst_onset"}),
                     meta={"subject": subject, "muscle": muscle, "side": side})


def test_an_intra_fold_trains_the_intra_recipe_and_a_loso_fold_the_train_section(tmp_path):
    """End to end through run_fold: the intra fold's CNN-LSTM runs intra_train's epochs without validation."""
    from myoflow.experiments.base import FoldContext
    from myoflow.pipelines.muscle_id.config import CohortConfig, PreprocessConfig
    from myoflow.pipelines.muscle_id.data import _window_cohort
    from myoflow.pipelines.muscle_id.pipeline import MuscleIdData, MuscleIdPipeline

    rng = np.random.default_rng(0)
    items = [(f"{s}/{side}-{m}", _grid(s, m, side, rng)) for s in ("S1", "S2", "S3")
             for m in ("BB", "TA") for side in ("L", "R")]
    data = MuscleIdData(sim=_window_cohort("sim", "grid", items, CohortConfig(subjects=3),
                                           PreprocessConfig(notch_hz=None)))
    cfg = load_config({**BASE, "model": TINY, "train": {**BASE["train"], "patience": 10, "epochs": 2},
                       "evaluate": {"intra_train": {"val_fraction": 0.0, "epochs": 3}, "binary": "none",
                                    "models": ["cnn_lstm_pretrained"], "final_model": False}})
    pipe = MuscleIdPipeline()
    folds = {f.payload["scheme"]: f for f in pipe.folds(cfg, data)}
    ctx = FoldContext(seed=0, device="cpu", workdir=tmp_path)
    intra = pipe.run_fold(cfg, data, folds["intra"], ctx).curves["cnn_lstm_pretrained"]
    loso = pipe.run_fold(cfg, data, folds["loso"], ctx).curves["cnn_lstm_pretrained"]
    assert len(intra["train_loss"]) == 3 and intra["val_loss"] == []
    assert len(loso["train_loss"]) == 2 and len(loso["val_loss"]) == 2


@pytest.mark.parametrize("intra_train, message", [
    ({"patiense": 3}, r"evaluate\.intra_train: unknown train setting\(s\) \['patiense'\]"),
    ({"device": "cpu"}, r"evaluate\.intra_train: unknown train setting\(s\) \['device'\]"),
    ({"val_fraction": 1.5}, r"train\.val_fraction must be in \[0, 1\)"),
    ({"epochs": 0}, r"train\.epochs must be >= 1"),
])
def test_bad_intra_train_is_a_config_error(intra_train, message):
    with pytest.raises(ConfigError, match=message):
        load_config({**BASE, "evaluate": {"intra_train": intra_train}})


def test_bad_intra_train_exits_2_with_one_line(tmp_path, capsys):
    from myoflow.cli import main

    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({**BASE, "evaluate": {"intra_train": {"patiense": 3}}}))
    with pytest.raises(SystemExit) as exc:
        main(["run", str(cfg), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert exc.value.code == 2 and len(errors) == 1 and "Traceback" not in err, err
    assert "intra_train" in errors[0]


def test_shipped_intra_train_is_the_seed1_selection():
    record = json.loads((REPO / "benchmarks/results/selection/cnn_lstm_gap_seed1.json").read_text())
    assert record["chosen_on"]["simulator_seed"] != 0  # never the reported seed
    assert (REPO / "configs/muscle_id.yaml").read_text() == (REPO / "src/myoflow/configs/muscle_id.yaml").read_text()
    cfg = load_config(REPO / "src/myoflow/configs/muscle_id.yaml")
    assert cfg.evaluate.intra_train == record["chosen"]["train"] == {"val_fraction": 0.0, "epochs": 60}
    # --quick keeps the quick epoch budget in the intra folds too (make demo stays fast)
    quick = load_config(REPO / "src/myoflow/configs/muscle_id.yaml", quick=True)
    assert quick.evaluate.intra_train == {"val_fraction": 0.0, "epochs": quick.train.epochs}
