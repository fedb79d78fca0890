"""Muscle-id ``<deep>_simpre`` ablation (issue 14 item 3b): pretrained twin in the same folds, paired CI, report."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from myoflow.errors import ConfigError  # noqa: E402
from myoflow.experiments import load_config  # noqa: E402

pytestmark = pytest.mark.slow

DEEP = {"widths": [4, 4], "pools": [4, 2], "hidden": 8, "epochs": 2, "batch_size": 16, "patience": 1,
        "val_fraction": 0.0}
TINY = {
    "name": "muscle-id-simpre", "pipeline": "muscle-id", "seed": 3,
    # the evaluated cohort: a simulated lower-limb set (seed 7) standing in for the real one
    "data": {"ll": {"source": "simulate-lowerlimb", "subjects": 3, "seed": 7, "duration_s": 2.0,
                    "segmentation": "whole", "windows_per_burst": None, "block_windows": 1}},
    "baseline": {"name": "feature_classifier", "params": {"n_estimators": 10}},
    "deep": {"name": "deep_window", "params": DEEP},
    # pretraining cohort: its own seed, never the evaluated cohort's subjects
    "sim_pretrain": {"subjects": 3, "seed": 1000, "epochs": 2, "duration_s": 2.0},
    "evaluate": {"schemes": ["loso"], "binary": "separate", "loso_max_subjects": 2, "n_boot": 50,
                 "models": ["lda", "emg_cnn", "emg_cnn_simpre"], "final_model": False},
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from myoflow.experiments.runner import run_experiment
    from myoflow.models import sim_pretrain

    sim_pretrain.clear_memo()
    root = tmp_path_factory.mktemp("muscle_id_simpre")
    metrics = run_experiment(load_config(TINY), root / "run", workers=1, cache_dir=root / "cache")
    return root, metrics


def test_simpre_twin_runs_in_the_same_folds_with_a_paired_ci(run):
    root, metrics = run
    s = metrics["summary"]
    res = s["results"]["ll/loso/4class"]
    assert {"lda", "emg_cnn", "emg_cnn_simpre"} <= set(res)
    sp = s["simulator_pretraining"]
    c = sp["comparisons"]["ll/loso/4class"]["emg_cnn_simpre - emg_cnn"]
    assert c["diff"] == pytest.approx(res["emg_cnn_simpre"]["accuracy"]["point"] - res["emg_cnn"]["accuracy"]["point"])
    assert c["n_subjects"] == 2 and c["ci_low"] <= c["diff"] <= c["ci_high"]
    assert sp["matched"]["ll/loso/4class"]["matched"] == {m: m for m in ("VL", "BF", "TA", "GL")}
    assert sp["spec"]["seed"] == 1000 and "cache_dir" not in sp["spec"]
    # binary tasks (thigh/shank, anterior/posterior) have no simulated muscle names: skipped, said so
    assert "ll/loso/segment" in sp["skipped"] and "emg_cnn_simpre" not in s["results"].get("ll/loso/segment", {})
    labels = [h["label"] for h in metrics["headline"]]
    assert "ll loso 4class, emg_cnn_simpre − emg_cnn (points)" in labels
    html = (root / "run" / "report.html").read_text()
    assert "Simulator pretraining (ablation)" in html
    # the pretraining cohort was cached under the run's cache folder, by digest
    assert list((root / "cache" / "muscle_id").glob("simpretrain-lowerlimb-*"))


def test_the_twins_differ_only_by_pretraining(run):
    """Same seed and recipe: the simpre model's predictions differ from its twin's (pretraining took effect)."""
    root, metrics = run
    import pandas as pd

    preds = pd.read_parquet(next((root / "run").glob("predictions.*"))) if list((root / "run").glob(
        "predictions.parquet")) else pd.read_csv(next((root / "run").glob("predictions.*")))
    p = preds[preds["condition"] == "ll/loso/4class"]
    a = p[p["model"] == "emg_cnn"].sort_values(["fold", "recording", "window"])
    b = p[p["model"] == "emg_cnn_simpre"].sort_values(["fold", "recording", "window"])
    assert len(a) == len(b) and (a["subject"].to_numpy() == b["subject"].to_numpy()).all()
    assert not np.allclose(a["prob_VL"].to_numpy(), b["prob_VL"].to_numpy(), atol=1e-4)


def test_no_matching_cohort_is_a_config_error(tmp_path):
    from myoflow.experiments.runner import run_experiment

    cfg = {**TINY, "data": {"sim": {"source": "simulate", "subjects": 2, "duration_s": 8.0, "channels_per_burst": 1}},
           "evaluate": {**TINY["evaluate"], "binary": "none"}}
    with pytest.raises(ConfigError, match="match a muscle of sim_pretrain.protocol 'lowerlimb'"):
        run_experiment(load_config(cfg), tmp_path / "run", workers=1, cache_dir=tmp_path / "cache")


def test_unknown_sim_pretrain_key_is_a_config_error():
    with pytest.raises(ConfigError, match="sim_pretrain"):
        load_config({**TINY, "sim_pretrain": {"subject": 3}})


def test_low_data_loso_draws_the_training_subjects_per_fold(tmp_path):
    from myoflow.pipelines.muscle_id.pipeline import MuscleIdPipeline

    cfg = load_config({**TINY, "data": {"ll": {**TINY["data"]["ll"], "subjects": 6, "duration_s": 1.0}},
                       "evaluate": {**TINY["evaluate"], "binary": "none", "loso_max_subjects": None,
                                    "loso_train_subjects": 3}})
    pipe = MuscleIdPipeline()
    data = pipe.prepare(cfg, tmp_path)
    md = data["ll"].epochs.metadata
    folds = pipe.folds(cfg, data)
    assert len(folds) == 6
    draws = set()
    for f in folds:
        train_subj = set(md["subject"].astype(str).to_numpy()[f.payload["train"]])
        assert len(train_subj) == 3 and f.payload["held_out"] not in train_subj
        draws.add(frozenset(train_subj))
    assert len(draws) > 1  # drawn per fold, not one fixed set
    again = pipe.folds(cfg, data)
    assert all((a.payload["train"] == b.payload["train"]).all() for a, b in zip(folds, again))  # seeded
    with pytest.raises(ConfigError, match="loso_train_subjects"):
        load_config({**TINY, "evaluate": {**TINY["evaluate"], "loso_train_subjects": 2}})
