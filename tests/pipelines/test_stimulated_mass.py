"""Stimulated-mass pipeline on a tiny simulated cohort: folds, run_fold, summary, figures, predict."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch")

from myoflow.experiments import load_config  # noqa: E402
from myoflow.errors import ConfigError, LeakageError  # noqa: E402
from myoflow.experiments.base import Fold, FoldContext  # noqa: E402
from myoflow.experiments.registry import get_pipeline  # noqa: E402
from myoflow.train.seeding import derive_seed  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "src" / "myoflow" / "configs" / "stimulated_mass.yaml"

TINY = {
    "data": {"subjects": 15, "frequencies": [10, 25], "train_s": 1.0},
    "train": {"epochs": 3, "patience": 2},
    "preprocess": {"augment": 2},
    "model": {"params": {"n_members": 2}},
    "evaluate": {"n_splits": 3, "conditions": ["25Hz", "all"], "n_boot": 100},
}


def _ctx(fold: Fold, tmp: Path) -> FoldContext:
    return FoldContext(seed=derive_seed(0, "stimulated-mass", fold.id), device="cpu", workdir=tmp)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    cfg = load_config(CONFIG, overrides=TINY)
    pipe = get_pipeline("stimulated-mass")
    data = pipe.prepare(cfg, tmp_path_factory.mktemp("cache"))
    return cfg, pipe, data


@pytest.fixture(scope="module")
def results(setup, tmp_path_factory):
    cfg, pipe, data = setup
    tmp = tmp_path_factory.mktemp("wd")
    return [pipe.run_fold(cfg, data, f, _ctx(f, tmp)) for f in pipe.folds(cfg, data)]


def test_config_file_loads_and_rejects_typos():
    cfg = load_config(CONFIG)
    assert cfg.data.subjects == 90 and cfg.evaluate.conditions[-1] == "all"
    assert set(cfg.evaluate.models) >= {"attention_bilstm", "bilstm_no_covariates", "bilstm_no_attention",
                                        "covariates_logreg", "descriptors_gb", "oracle_truth_logreg"}
    quick = load_config(CONFIG, quick=True)
    assert quick.train.epochs < cfg.train.epochs
    with pytest.raises(ConfigError, match="unknown model"):
        load_config(CONFIG, overrides={"evaluate": {"models": ["transformer"]}})
    with pytest.raises(ConfigError, match=r"model\.params\.hidden_sise: unknown parameter of MassLevelClassifier "
                                          r"\(did you mean 'hidden_size'\?\)"):
        load_config(CONFIG, overrides={"model": {"params": {"hidden_sise": 3}}})
    with pytest.raises(ConfigError, match="model.name"):
        load_config(CONFIG, overrides={"model": {"name": "cnn_lstm"}})


@pytest.mark.parametrize("splitter", ["kfold", "loso"])
def test_a_subject_never_appears_in_train_and_test_of_a_fold(setup, splitter):
    cfg, pipe, data = setup
    cfg = load_config(CONFIG, overrides={**TINY, "evaluate": {**TINY["evaluate"], "splitter": splitter}})
    folds = pipe.folds(cfg, data)
    subjects = set(data.subjects)
    for cond in cfg.evaluate.conditions:
        tested = []
        for f in [f for f in folds if f.condition == cond]:
            train, test = set(f.payload["train"]), set(f.payload["test"])
            assert train and test and not (train & test)
            assert train | test == subjects
            tested += f.payload["test"]
        assert sorted(tested) == sorted(subjects)  # each subject tested exactly once per condition
    final = [f for f in folds if f.condition == "final"]
    assert len(final) == 1 and set(final[0].payload["train"]) == subjects and not final[0].payload["test"]
    if splitter == "loso":
        assert sum(f.condition == "all" for f in folds) == len(subjects)


def test_run_fold_refuses_an_overlapping_fold(setup, tmp_path):
    cfg, pipe, data = setup
    s = list(data.subjects)
    bad = Fold("bad", "25Hz", {"train": s[:10], "test": s[9:]})
    with pytest.raises(LeakageError, match=s[9]):
        pipe.run_fold(cfg, data, bad, _ctx(bad, tmp_path))


def test_run_fold_predicts_each_test_subject_once_per_model(setup, results):
    cfg, _, data = setup
    classes = cfg.data.classes
    for r in results:
        if r.condition == "final":
            assert r.predictions.empty and r.metrics == {}
            assert set(r.state_dicts) == {"attention_bilstm"}
            continue
        p = r.predictions
        assert set(p["model"]) == set(cfg.evaluate.models)
        test = set(r.predictions["subject"])
        assert all(len(g) == len(test) for _, g in p.groupby("model"))
        probs = p[[f"prob_{c}" for c in classes]].to_numpy()
        assert np.allclose(probs.sum(1), 1.0, atol=1e-6)
        assert set(p["prediction"]) <= set(classes)
        assert (p["truth"].to_numpy() == data.labels(p["subject"])).all()
        nn = p[p["model"] == "attention_bilstm"]
        n_steps = r.extras["models"]["attention_bilstm"]["n_steps"]
        for a in nn["attention"]:
            w = np.asarray(json.loads(a))
            assert w.shape == (n_steps,) and abs(w.sum() - 1) < 1e-3
        n_ch = r.extras["models"]["attention_bilstm"]["n_features"]
        channels = r.extras["models"]["attention_bilstm"]["channels"]
        # RF, BF, each as shape + log amplitude ("log_split"); "all" stacks the two frequencies
        # (combine: stack, the default) or pools them to the single-frequency width (pool).
        pooled = cfg.preprocess.combine == "pool"
        assert r.extras["models"]["attention_bilstm"]["combine"] == cfg.preprocess.combine
        if r.condition == "all" and not pooled:
            assert n_ch == 2 * 2 * 2 and channels[:4] == ["RF@10Hz", "BF@10Hz", "RF@25Hz", "BF@25Hz"]
        else:
            assert n_ch == 2 * 2
            assert channels[:2] == (["RF@all", "BF@all"] if r.condition == "all" else ["RF@25Hz", "BF@25Hz"])
        assert r.extras["models"]["attention_bilstm"]["estimator"]["params"]["n_members"] == 2
        assert any(k.startswith("members.1.") for k in r.state_dicts["attention_bilstm"])
        for m, metrics in r.metrics.items():
            assert 0.0 <= metrics["accuracy"] <= 1.0 and "f1_macro" in metrics and "recall_low" in metrics
        assert {"attention_bilstm", "bilstm_no_covariates", "bilstm_no_attention"} == set(r.state_dicts)


def test_run_fold_is_deterministic(setup, results, tmp_path):
    cfg, pipe, data = setup
    fold = pipe.folds(cfg, data)[0]
    again = pipe.run_fold(cfg, data, fold, _ctx(fold, tmp_path))
    first = next(r for r in results if r.fold_id == fold.id)
    pd.testing.assert_frame_equal(again.predictions, first.predictions)


def test_summary_headline_and_figures(setup, results, tmp_path):
    cfg, pipe, data = setup
    summary = pipe.summarize(cfg, data, results)
    assert set(summary["conditions"]) == {"25Hz", "all"}
    for cond, models in summary["conditions"].items():
        for m, e in models.items():
            lo, hi = e["accuracy_ci"]
            assert lo - 1e-9 <= e["accuracy"] <= hi + 1e-9
            assert e["n_subjects"] == len(data.subjects)
            assert np.asarray(e["confusion_matrix"]["matrix"]).sum() == len(data.subjects)
    assert "covariates_gain" in summary["comparisons"]["all"]
    assert "combined_ge_best_single" in summary["pattern"]
    rows = pipe.headline(summary)
    labels = [r.label for r in rows]
    assert "25 Hz accuracy" in labels and "all frequencies macro F1" in labels
    assert next(r for r in rows if r.label == "all frequencies accuracy").paper == pytest.approx(0.9231)
    preds = pd.concat([r.predictions.assign(condition=r.condition, fold=r.fold_id)
                       for r in results if len(r.predictions)], ignore_index=True)
    figs = pipe.figures(cfg, summary, preds, tmp_path)
    assert [t for t, _ in figs][:3] == ["Confusion matrices (attention Bi-LSTM)", "Attention maps", "Model comparison"]
    assert len(figs) == 4 and figs[3][0].startswith("Paired differences")  # the summary has comparisons
    for _, p in figs:
        assert Path(p).stat().st_size > 5000


def test_subject_bootstrap_agrees_with_the_generic_one():
    from sklearn.metrics import accuracy_score

    from myoflow.evaluate.metrics import bootstrap_ci, metric_from_columns
    from myoflow.pipelines.stimulated_mass.summary import subject_bootstrap

    rng = np.random.default_rng(0)
    truth = rng.choice(["low", "normal", "high"], 80, p=[0.2, 0.5, 0.3])
    pred = np.where(rng.random(80) < 0.7, truth, rng.choice(["low", "normal", "high"], 80))
    df = pd.DataFrame({"subject": [f"S{i}" for i in range(80)], "truth": truth, "prediction": pred})
    ours = subject_bootstrap(df, ["low", "normal", "high"], n_boot=2000, seed=1)["accuracy"]
    ref = bootstrap_ci(df, metric_from_columns(accuracy_score, "truth", "prediction"), n_boot=300, seed=1)
    assert ours["value"] == pytest.approx(ref[0])
    assert ours["ci_low"] == pytest.approx(ref[1], abs=0.04) and ours["ci_high"] == pytest.approx(ref[2], abs=0.04)
    # Paired differences of a model with itself are exactly zero.
    same = subject_bootstrap(df, ["low", "normal", "high"], n_boot=200, seed=1, other=df)["f1_macro"]
    assert same == {"value": 0.0, "ci_low": 0.0, "ci_high": 0.0}


def _write_run_dir(cfg, results, run: Path, fold: str = "final") -> None:
    """The run-directory layout the runner writes, for one fold (default the final one)."""
    import yaml

    from myoflow.config import to_dict
    from myoflow.train.checkpoint import save_state_dict

    final = next(r for r in results if r.condition == fold)
    (run / "folds" / final.fold_id).mkdir(parents=True)
    (run / "config.yaml").write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))
    fdir = run / "folds" / final.fold_id
    (fdir / "extras.json").write_text(json.dumps(final.extras))
    for m, st in final.state_dicts.items():
        save_state_dict(st, fdir / f"{m}.safetensors")
    (fdir / "result.json").write_text(json.dumps({"fold_id": final.fold_id, "models": sorted(final.state_dicts)}))


def test_predict_screens_a_new_person_and_rejects_bad_covariates(setup, results, tmp_path, capsys):
    from myoflow.cli import main
    from myoflow.io.native import save
    from myoflow.simulate.protocols.evoked import simulate_evoked

    cfg, _, _ = setup
    run = tmp_path / "run"
    _write_run_dir(cfg, results, run)
    recs, parts = simulate_evoked(1, seed=99, frequencies=(10.0, 25.0), train_s=1.0)
    files = []
    for r in recs:
        f = tmp_path / f"{r.meta['muscle']}_{r.meta['frequency']:g}.h5"
        save(r, f)
        files.append(str(f))
    plot = tmp_path / "att.png"
    argv = ["predict", str(run), *files, "--covariates", "age=45,sex=F,height=162,weight=60", "--plot", str(plot)]
    main(argv + ["--json"])
    out = json.loads(capsys.readouterr().out)
    assert out["level"] in cfg.data.classes
    assert sum(out["probabilities"].values()) == pytest.approx(1.0, abs=1e-6)
    assert out["model_fold"].startswith("final") and plot.stat().st_size > 5000
    before = sorted(p.name for p in tmp_path.iterdir())
    main(["predict", str(run), *files, "--covariates", "age=45,sex=F,height=162,weight=60"])
    assert "attention plot: " + str(run / "predict") in capsys.readouterr().out
    assert (run / "predict" / f"attention_{Path(files[0]).stem}.png").stat().st_size > 5000
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing new beside the recordings
    with pytest.raises(SystemExit) as exc:
        main(["predict", str(run), *files, "--covariates", "age=45,sex=X,height=1.6,weight=60"])
    assert exc.value.code == 2
    assert "sex must be M or F" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["predict", str(run), files[0], "--covariates", "age=45,sex=F,height=1.6,weight=60"])
    assert exc.value.code == 2
    assert "every muscle" in capsys.readouterr().err


def test_predict_names_the_recording_at_another_rate(setup, results, tmp_path, capsys):
    """A new lab's recordings at 4000 Hz for a model trained at 2000 Hz: one line naming the file (was a numpy
    traceback when the first muscle was the odd one, a line naming no file otherwise)."""
    from myoflow.cli import main
    from myoflow.io.native import save
    from myoflow.simulate.protocols.evoked import simulate_evoked

    cfg, _, _ = setup
    run = tmp_path / "run"
    _write_run_dir(cfg, results, run)
    files = {}
    for fs in (2000.0, 4000.0):
        for r in simulate_evoked(1, seed=99, frequencies=(10.0, 25.0), train_s=1.0, fs=fs)[0]:
            files[(r.meta["muscle"], r.meta["frequency"], fs)] = save(r, tmp_path / f"{r.meta['muscle']}_"
                                                                             f"{r.meta['frequency']:g}_{fs:g}.h5")
    for odd in cfg.data.muscles:
        argv = [files[(m, f, 4000.0 if m == odd else 2000.0)] for m in cfg.data.muscles for f in (10.0, 25.0)]
        with pytest.raises(SystemExit) as exc:
            main(["predict", str(run), *map(str, argv), "--covariates", "age=45,sex=F,height=1.6,weight=60"])
        err = capsys.readouterr().err
        assert exc.value.code == 2 and len(err.strip().splitlines()) == 1, err
        assert f"{odd}_10_4000.h5" in err and "at 4000 Hz" in err and "trained at 2000 Hz" in err


def test_export_and_screening_load_the_saved_estimator(setup, results, tmp_path, caplog):
    """``myoflow export`` and the screening loader go through the one estimator save/load; without a
    final model the screening says loudly that it uses a cross-validation fold's model."""
    pytest.importorskip("onnxruntime")
    from myoflow.cli import main
    from myoflow.experiments.export import export_run
    from myoflow.experiments.inference.screening import load_screening_model

    cfg, _, _ = setup
    run = tmp_path / "run"
    _write_run_dir(cfg, results, run)
    info = export_run(run, tmp_path / "m.onnx")
    assert info["model"] == "attention_bilstm" and info["max_abs_diff_vs_torch"] < 1e-4
    cv = tmp_path / "cv"
    _write_run_dir(cfg, results, cv, fold="all")
    with caplog.at_level("WARNING", logger="myoflow.experiments.inference.screening"):
        sm = load_screening_model(cv)
    assert not sm.fold.startswith("final")
    assert "no final attention_bilstm model fits" in caplog.text and sm.fold in caplog.text
    with pytest.raises(SystemExit) as exc:  # a checkpoint cut short is a one-line error, exit 2
        ck = next((run / "folds").glob("*/attention_bilstm.safetensors"))
        ck.write_bytes(ck.read_bytes()[:100])
        main(["export", str(run), "--onnx", str(tmp_path / "again.onnx")])
    assert exc.value.code == 2


def test_folder_source_reads_what_the_simulator_wrote(setup, tmp_path):
    from myoflow.io.dataset import write_dataset
    from myoflow.simulate.protocols.evoked import simulate_evoked

    cfg, pipe, data = setup
    recs, parts = simulate_evoked(4, seed=cfg.data.seed, frequencies=(10.0, 25.0), train_s=1.0)
    write_dataset(tmp_path / "ds", ((f"{r.meta['subject']}_{r.meta['muscle']}_{r.meta['frequency']:g}", r)
                                    for r in recs), parts, {"protocol": "evoked"})
    fcfg = load_config(CONFIG, overrides={**TINY, "data": {**TINY["data"], "source": "folder",
                                                          "path": str(tmp_path / "ds")}})
    fdata = pipe.prepare(fcfg, tmp_path / "cache")
    assert list(fdata.subjects) == list(data.subjects[:4])
    key = (data.subjects[0], "RF", 25.0)
    assert np.allclose(fdata.responses[key], data.responses[key], atol=1e-7)


def test_predict_on_a_channel_named_otherwise_says_how_to_name_the_muscle(setup, results, tmp_path, capsys):
    from myoflow.cli import main
    from myoflow.io.native import save
    from myoflow.simulate.protocols.evoked import simulate_evoked

    cfg, _, _ = setup
    run = tmp_path / "run"
    _write_run_dir(cfg, results, run)
    files = []
    for r in simulate_evoked(1, seed=99, frequencies=(10.0, 25.0), train_s=1.0)[0]:
        meta = {k: v for k, v in r.meta.items() if k != "muscle"}  # a raw export: no muscle in the metadata
        name = "rectus femoris" if r.meta["muscle"] == "RF" else "BF"
        files.append(str(save(r.replace(ch_names=(name,), meta=meta), tmp_path / f"{name}_{r.meta['frequency']:g}.h5")))
    with pytest.raises(SystemExit) as exc:
        main(["predict", str(run), *files, "--covariates", "age=45,sex=F,height=1.6,weight=60"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "rectus femoris_10.h5" in err and "--meta muscle=" in err
