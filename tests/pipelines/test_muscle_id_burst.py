"""Muscle-id with the bursts-as-samples models (a grid burst's channels as one sample): same folds as LDA/RF."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from myoflow.experiments import load_config  # noqa: E402

pytestmark = pytest.mark.slow

TINY = {
    "name": "muscle-id-burst", "pipeline": "muscle-id", "seed": 3,
    "data": {"sim": {"source": "simulate", "subjects": 3, "duration_s": 12.0, "channels_per_burst": 3},
             "real": {"enabled": False}},
    "baseline": {"name": "feature_classifier", "params": {"n_estimators": 10}},
    "model": {"name": "cnn_lstm", "params": {"conv_channels": [4, 4], "fc_size": 8, "lstm_hidden": 8, "head_size": 8, "ae_epochs": 1}},
    "train": {"epochs": 1, "patience": 1},
    "deep": {"name": "deep_window", "params": {"widths": [4, 4], "pools": [4, 2], "hidden": 8, "epochs": 1,
                                               "batch_size": 32, "patience": 1, "val_fraction": 0.0}},
    "evaluate": {"schemes": ["intra", "loso"], "binary": "none", "loso_max_subjects": 1, "n_boot": 20,
                 "final_model": True, "models": ["cnn_lstm_random", "lda", "hybrid_burst", "burst_cnn_lstm_pretrained"]},
}


def test_burst_models_run_in_the_same_folds_one_prediction_per_burst(tmp_path):
    import pandas as pd

    from myoflow.experiments.runner import run_experiment

    metrics = run_experiment(load_config(TINY), tmp_path / "run", workers=1, cache_dir=tmp_path / "cache")
    s = metrics["summary"]
    for cond in ("sim/intra/4class", "sim/loso/4class"):
        assert {"lda", "hybrid_burst", "burst_cnn_lstm_pretrained"} <= set(s["results"][cond])
        assert {"hybrid_burst - lda", "burst_cnn_lstm_pretrained - lda"} <= set(s["comparisons"][cond])
    preds = pd.read_parquet(tmp_path / "run" / "predictions.parquet")
    burst = preds[preds["model"] == "hybrid_burst"]
    assert (burst.groupby(["fold", "burst_key"])["prediction"].nunique() == 1).all()
    n = preds.groupby("model").size()
    assert n["hybrid_burst"] == n["lda"] == n["burst_cnn_lstm_pretrained"]  # the very rows the baselines are scored on
    # the deployable final model is still the paper's channels-as-samples network
    assert any((tmp_path / "run").rglob("sim-final-4class*/cnn_lstm_random*"))


def test_subjects_with_one_class_only_are_named_in_a_warning(caplog):
    import logging

    import pandas as pd

    from myoflow.pipelines.muscle_id.pipeline import _warn_one_class_subjects

    md = pd.DataFrame({"subject": ["S1", "S1", "S2", "S2", "S3", "S3"]})
    with caplog.at_level(logging.WARNING):
        assert _warn_one_class_subjects("lab", "4class", md, np.array(["VL", "TA", "VL", "VL", "TA", "BF"])) == ["S2"]
    assert "1 of 3 subject(s) hold one class only (S2)" in caplog.text and "cohort lab" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert _warn_one_class_subjects("lab", "4class", md, np.array(["VL", "TA"] * 3)) == []
    assert caplog.text == ""
