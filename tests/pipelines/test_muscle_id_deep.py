"""Muscle-id with the new deep models (issue 14): same folds as LDA/RF, paired CIs, nested ``tune:``."""
from __future__ import annotations

import re

import numpy as np
import pytest
import yaml

pytest.importorskip("torch")

from myoflow.errors import ConfigError  # noqa: E402
from myoflow.experiments import load_config  # noqa: E402

from ..bad_input._builders import cli, one_error_line  # noqa: E402

pytestmark = pytest.mark.slow

TINY = {
    "name": "muscle-id-deep", "pipeline": "muscle-id", "seed": 3,
    "data": {"sim": {"source": "simulate", "subjects": 4, "duration_s": 12.0, "channels_per_burst": 2},
             "real": {"enabled": False}},
    "baseline": {"name": "feature_classifier", "params": {"n_estimators": 10}},
    "deep": {"name": "deep_window", "params": {"widths": [4, 4], "pools": [4, 2], "hidden": 8, "epochs": 1,
                                               "batch_size": 32, "patience": 1, "val_fraction": 0.0}},
    "tune": {"enabled": True, "grid": {"lr": [0.001, 0.003]}, "n_inner": 2},
    "evaluate": {"schemes": ["loso"], "binary": "none", "loso_max_subjects": 2, "n_boot": 50,
                 "models": ["lda", "rf", "emg_cnn"]},
}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("muscle_id_deep_cache")  # the cohort is simulated once for the module


@pytest.fixture(scope="module")
def deep_run(tmp_path_factory, cache):
    from myoflow.experiments.runner import run_experiment

    root = tmp_path_factory.mktemp("muscle_id_deep")
    metrics = run_experiment(load_config(TINY), root / "run", workers=1, cache_dir=cache)
    return root, metrics


def test_deep_model_runs_in_the_same_folds_with_a_paired_ci_against_lda_and_rf(deep_run):
    root, metrics = deep_run
    s = metrics["summary"]
    res = s["results"]["sim/loso/4class"]
    assert set(res) == {"lda", "rf", "emg_cnn"}
    comp = s["comparisons"]["sim/loso/4class"]
    assert set(comp) == {"emg_cnn - lda", "emg_cnn - rf"}
    for c in comp.values():
        point = res["emg_cnn"]["accuracy"]["point"] - res[c["baseline"]]["accuracy"]["point"]
        assert c["diff"] == pytest.approx(point) and c["n_subjects"] == 2
        assert c["ci_low"] <= c["diff"] <= c["ci_high"]
    labels = [h["label"] for h in metrics["headline"]]
    assert "sim loso 4class, emg_cnn − lda (points)" in labels and "sim loso 4class %, emg_cnn" in labels
    assert (root / "run" / "folds" / "sim-loso-4class-S01" / "emg_cnn.safetensors").is_file() or any(
        (root / "run" / "folds").glob("sim-loso-4class-*/emg_cnn.safetensors"))


def test_tune_chooses_on_training_subjects_only_and_is_reported(deep_run):
    root, metrics = deep_run
    folds = metrics["summary"]["tuning"]["sim/loso/4class"]["emg_cnn"]
    assert len(folds) == 2
    for f in folds:
        assert f["chosen"]["lr"] in (0.001, 0.003)
        assert f["held_out"] not in f["on_subjects"] and len(f["on_subjects"]) == 3
        assert [r["params"]["lr"] for r in f["inner_means"]] == [0.001, 0.003]
    html = (root / "run" / "report.html").read_text()
    assert "Nested selection (tune)" in html and "chosen on subjects" in html


def test_the_default_config_keeps_its_model_list_and_tune_off():
    from myoflow.pipelines.muscle_id.config import MuscleIdConfig

    cfg = load_config("src/myoflow/configs/muscle_id.yaml")
    assert isinstance(cfg, MuscleIdConfig)
    paper = ["cnn_lstm_pretrained", "cnn_lstm_random", "lda", "rf"]
    assert cfg.evaluate.models == paper and not cfg.tune.enabled
    assert MuscleIdConfig(name="x", pipeline="muscle-id").evaluate.models == paper  # the dataclass default too


def test_bad_tune_sections_are_config_errors():
    with pytest.raises(ConfigError, match="tune.grid.params.lrr: unknown parameter"):
        load_config({**TINY, "tune": {"enabled": True, "grid": {"lrr": [1, 2]}}})
    with pytest.raises(ConfigError, match="tune.n_inner must be >= 2"):
        load_config({**TINY, "tune": {"enabled": True, "n_inner": 1}})
    with pytest.raises(ConfigError, match="deep.params.arch: set by the pipeline"):
        load_config({**TINY, "deep": {"name": "deep_window", "params": {"arch": "cnn"}}})


@pytest.mark.parametrize("change, message", [
    ({"tune": {"enabled": True, "grid": {"lr": [1e-3]}, "n_inner": 5}},
     r"cohort sim: fold sim-loso-4class-\S+ trains on 3 subject\(s\); tune.n_inner = 5 .* at least 5"),
    ({"tune": {"enabled": True, "grid": {"lr": [1e-3, 3e-3]}, "n_inner": 3},
      "deep": {"name": "deep_window", "params": {**TINY["deep"]["params"], "val_fraction": 0.2}}},
     r"trains on 3 subject\(s\); tune.n_inner = 3 .* at least 4"),
    ({"tune": {"enabled": True, "grid": {"lr": [-1.0, -2.0]}, "n_inner": 2}},
     "cohort sim: no valid configuration among 2"),
])
def test_bad_tune_input_exits_2_with_one_line(tmp_path, capsys, cache, change, message):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({**TINY, **change}))
    code, _, err = cli(["run", cfg, "--out", tmp_path / "out", "--workers", "1", "--cache-dir", cache], capsys)
    assert re.search(message, one_error_line(code, err)), err
