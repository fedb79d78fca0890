"""Seed 001 end to end on a tiny simulated cohort: runner, metrics.json, figures, check-placement, real data."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from myoflow.experiments import load_config

# One tiny end-to-end run (simulation of 12 recordings + 4 models x 4 folds) shared by the tests: ~15 s.
pytestmark = pytest.mark.slow

TINY = {
    "name": "muscle-id-tiny",
    "pipeline": "muscle-id",
    "seed": 3,
    "data": {"sim": {"source": "simulate", "subjects": 3, "duration_s": 12.0, "channels_per_burst": 4},
             "real": {"enabled": False}},
    "model": {"name": "cnn_lstm", "params": {"conv_channels": [4, 8], "fc_size": 8, "lstm_hidden": 8, "head_size": 8,
                                             "ae_epochs": 1, "ae_max_samples": 200}},
    "baseline": {"name": "feature_classifier", "params": {"n_estimators": 20}},
    "train": {"epochs": 2, "patience": 2, "batch_size": 32},
    "evaluate": {"binary": "collapsed", "loso_max_subjects": 2, "n_boot": 50},
}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from myoflow.experiments.runner import run_experiment

    root = tmp_path_factory.mktemp("muscle_id")
    cfg = load_config(TINY)
    metrics = run_experiment(cfg, root / "run", workers=1, cache_dir=root / "cache")
    return root, cfg, metrics


def test_run_directory_holds_all_conditions_models_and_cis(tiny_run):
    root, cfg, _ = tiny_run
    run = root / "run"
    metrics = json.loads((run / "metrics.json").read_text())
    res = metrics["summary"]["results"]
    for cond in ("sim/intra/4class", "sim/loso/4class", "sim/intra/muscle", "sim/loso/muscle",
                 "sim/intra/side", "sim/loso/side"):
        assert set(res[cond]) == {"cnn_lstm_pretrained", "cnn_lstm_random", "lda", "rf"}, cond
        for model, m in res[cond].items():
            acc = m["accuracy"]
            assert 0.0 <= acc["point"] <= 1.0
            assert acc["ci_low"] <= acc["point"] <= acc["ci_high"]
            assert 0.0 <= m["burst_vote_accuracy"]["point"] <= 1.0
            cm = np.asarray(m["confusion_matrix"]["matrix"])
            assert cm.sum() == m["n_windows"]
            assert len(m["per_subject"]) == m["n_subjects"]
    assert res["sim/loso/side"]["lda"].get("derived_from") == "4class"
    assert res["sim/loso/4class"]["lda"]["n_subjects"] == 2           # loso_max_subjects
    det = metrics["summary"]["cohorts"]["sim"]["detection"]
    assert det["n_true_onsets"] == 3 * 4 * 2
    preds = pd.read_parquet(run / "predictions.parquet")
    assert {"model", "subject", "truth", "prediction", "burst_key", "channel", "fold", "condition"} <= set(preds.columns)
    assert set(preds["condition"]) == {"sim/intra/4class", "sim/loso/4class"}
    # intra folds: no burst (nor split unit) is on both sides, and each fold predicts exactly its test bursts
    from myoflow.experiments.registry import get_pipeline

    pipe = get_pipeline("muscle-id")
    data = pipe.prepare(cfg, root / "cache")  # from the cache the run filled
    intra = [f for f in pipe.folds(cfg, data) if f.payload["scheme"] == "intra"]
    assert intra
    for fold in intra:
        md = data[fold.payload["cohort"]].epochs.metadata
        tr, te = fold.payload["train"], fold.payload["test"]
        assert len(tr) and len(te)
        for col in ("burst_key", "unit"):
            assert not set(md[col].iloc[tr]) & set(md[col].iloc[te]), (fold.id, col)
        fold_preds = preds[preds["fold"] == fold.id]
        if len(fold_preds):
            assert set(fold_preds["burst_key"]) == set(md["burst_key"].iloc[te]), fold.id
    assert set(preds.loc[preds["condition"] == "sim/intra/4class", "fold"]) <= {f.id for f in intra}
    labels = [h["label"] for h in metrics["headline"]]
    assert "sim intra 4-class %, pretrained (setup 1)" in labels
    row = next(h for h in metrics["headline"] if h["label"] == "sim intra 4-class %, pretrained (setup 1)")
    assert row["paper"] == 95.0 and row["ours"] == pytest.approx(100 * res["sim/intra/4class"]["cnn_lstm_pretrained"]["accuracy"]["point"])
    figs = json.loads((run / "figures.json").read_text())
    assert len(figs) >= 3 and all((run / p).is_file() for _, p in figs)
    assert (run / "report.html").is_file()
    # checkpoints: both CNN-LSTM setups per fold, plus the deployable model trained on everyone
    assert (run / "folds" / "sim-final-4class" / "cnn_lstm_pretrained.safetensors").is_file()
    assert (run / "folds" / "sim-intra-4class-r0" / "cnn_lstm_random.safetensors").is_file()


def test_summary_is_rebuilt_identically_from_the_run_directory(tiny_run):
    from myoflow.experiments.runner import load_fold_results
    from myoflow.pipelines.muscle_id.pipeline import MuscleIdPipeline

    root, cfg, metrics = tiny_run
    pipe = MuscleIdPipeline()
    data = pipe.prepare(cfg, root / "cache")                      # from the windowing cache
    again = pipe.summarize(cfg, data, load_fold_results(root / "run", pipe.folds(cfg, data)))
    assert json.loads(json.dumps(again["table"], default=float)) == json.loads(
        json.dumps(metrics["summary"]["table"], default=float))


def test_check_placement_flags_a_declared_muscle_the_model_disagrees_with(tiny_run, tmp_path):
    from click.testing import CliRunner

    from myoflow.io.native import save
    from myoflow.pipelines.muscle_id.cli import check_placement_cmd
    from myoflow.experiments.inference.placement import check_placement
    from myoflow.simulate.protocols.grid import simulate_grid

    root, _, _ = tiny_run
    rec = simulate_grid(1, seed=99, duration_s=12.0)[0][0]        # a new person's left biceps
    path = tmp_path / "new_person.h5"
    save(rec, path)
    table = check_placement(root / "run", [path], "*=left biceps")
    assert len(table) == 16 and (table["n_windows"] == 2).all()
    probs = table[[c for c in table.columns if c.startswith("prob_")]].to_numpy()
    assert np.allclose(probs.sum(1), 1.0, atol=1e-5)
    assert (table["expected"] == "L-BB").all()
    assert (table["mismatch"] == (table["predicted"] != "L-BB")).all()
    # declare, for one channel, the muscle the model considers least likely: it must be flagged
    ch = table["channel"].iloc[0]
    classes = table.attrs["classes"]
    worst = classes[int(np.argmin(probs[0]))]
    t2 = check_placement(root / "run", [path], f"{ch}={worst}")
    r = t2.set_index("channel").loc[ch]
    assert bool(r["mismatch"]) and r["p_expected"] < r["p_predicted"]
    assert t2.set_index("channel").drop(index=ch)["mismatch"].isna().all()   # undeclared channels
    # a side-less declaration is checked at the muscle level (both sides' probabilities summed)
    t3 = check_placement(root / "run", [path], "*=biceps")
    p_bb = t3["prob_L-BB"] + t3["prob_R-BB"]
    assert (t3["expected"] == "BB").all() and np.allclose(t3["p_expected"], p_bb)
    assert (t3["mismatch"] == (p_bb < t3["prob_L-TA"] + t3["prob_R-TA"])).all()
    # CLI: exit 1 with a flag, 0 when the declarations agree with the predictions
    runner = CliRunner()
    bad = runner.invoke(check_placement_cmd, [str(root / "run"), str(path), "--expected", f"{ch}={worst}"])
    assert bad.exit_code == 1 and "MISMATCH" in bad.output
    agree = ",".join(f"{c}={p}" for c, p in zip(table["channel"], table["predicted"]))
    ok = runner.invoke(check_placement_cmd, [str(root / "run"), str(path), "--expected", agree, "--json"])
    assert ok.exit_code == 0, ok.output
    assert len(json.loads(ok.output)["channels"]) == 16
    unknown = runner.invoke(check_placement_cmd, [str(root / "run"), str(path), "--expected", "*=deltoid"])
    assert unknown.exit_code != 0 and "unknown muscle" in str(unknown.exception)
    malformed = runner.invoke(check_placement_cmd, [str(root / "run"), str(path), "--expected", "ch1"])
    assert malformed.exit_code != 0 and "CHANNEL=MUSCLE" in str(malformed.exception)


@pytest.mark.realdata
def test_real_lowerlimb_set_as_a_four_class_task(shared_data, tmp_path):
    from myoflow.pipelines.muscle_id.config import CohortConfig, PreprocessConfig
    from myoflow.pipelines.muscle_id.data import load_cohort

    cfg = CohortConfig(source="elderly-lowerlimb", path=shared_data / "elderly-lowerlimb-emg", subjects=2,
                       segmentation="whole", windows_per_burst=None, block_windows=4)
    c = load_cohort("real", cfg, PreprocessConfig(), cache_dir=tmp_path)
    md = c.epochs.metadata
    assert c.kind == "lowerlimb" and set(c.labels) == {"4class", "segment", "aspect"}
    assert sorted(md["subject"].unique()) == ["01", "02"]
    # 10 s at 1000 Hz -> 20 windows of 500 ms per task; one channel (the contracting muscle's)
    counts = pd.Series(c.labels["4class"]).value_counts()
    assert set(counts.index) == {"VL", "BF", "TA", "GL"} and (counts == 2 * 20).all()
    assert (md["channel"] == md["muscle"]).all()
    assert c.epochs.fs == 1000.0 and c.epochs.n_times == 500
    assert md.groupby("recording")["unit"].nunique().eq(5).all()      # 2 s blocks for intra splits
    # second call comes from the cache, identical
    again = load_cohort("real", cfg, PreprocessConfig(), cache_dir=tmp_path)
    assert np.array_equal(again.epochs.X, c.epochs.X) and np.allclose(again.features, c.features)


def test_check_placement_names_a_trigger_line_instead_of_predicting_a_muscle(tiny_run, tmp_path):
    # a sync line recorded beside the EMG got a muscle predicted for it (training leaves such channels out)
    from click.testing import CliRunner

    from myoflow.containers import Recording
    from myoflow.io.native import save
    from myoflow.pipelines.muscle_id.cli import check_placement_cmd
    from myoflow.experiments.inference.placement import check_placement
    from myoflow.simulate.protocols.grid import simulate_grid

    root, _, _ = tiny_run
    rec = simulate_grid(1, seed=99, duration_s=12.0)[0][0]
    t = np.arange(rec.n_samples) / rec.fs
    sync = ((t % 1.0) < 0.05) * 3.3
    flat = np.zeros(rec.n_samples)
    new = Recording(np.vstack([rec.data[:4], sync, flat]), rec.fs, list(rec.ch_names[:4]) + ["Sync", "Dead"],
                    units="V")  # four channels of the grid, no grid layout: checked channel by channel
    path = tmp_path / "with_sync.h5"
    save(new, path)
    table = check_placement(root / "run", [path], "*=left biceps").set_index("channel")
    assert table.loc["Sync", "n_windows"] == 0 and pd.isna(table.loc["Sync", "predicted"])
    assert "trigger" in table.loc["Sync", "note"] and "flat" in table.loc["Dead", "note"]
    assert (table.drop(index=["Sync", "Dead"])["n_windows"] > 0).all()
    out = CliRunner().invoke(check_placement_cmd, [str(root / "run"), str(path)])
    assert "a trigger or digital line, not EMG" in out.output
