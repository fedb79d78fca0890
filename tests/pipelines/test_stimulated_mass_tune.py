"""Stimulated-mass ``tune:``: nested recipe selection inside each outer training fold, recorded and reported."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import yaml

pytest.importorskip("torch")

from myoflow.errors import ConfigError, DataError  # noqa: E402
from myoflow.experiments import load_config  # noqa: E402

from ..bad_input._builders import cli, one_error_line  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "src" / "myoflow" / "configs" / "stimulated_mass.yaml"

TINY = {
    "name": "stimulated-mass-tune", "pipeline": "stimulated-mass", "seed": 0,
    "data": {"subjects": 15, "frequencies": [10, 25], "train_s": 1.0},
    "train": {"epochs": 2, "patience": 1},
    "preprocess": {"augment": 1},
    "model": {"name": "attention_bilstm", "params": {"n_members": 1, "hidden_size": 4, "attention_size": 4,
                                                     "covariate_size": 4, "head_size": 8}},
    "evaluate": {"n_splits": 3, "conditions": ["all"], "n_boot": 50, "models": ["attention_bilstm", "ptp_logreg"],
                 "final_model": False},
    "tune": {"enabled": True, "grid": {"n_members": [1, 2], "combine": ["stack", "pool"]}, "n_inner": 2},
}


def _config(**change):
    raw = yaml.safe_load(CONFIG.read_text())
    for k, v in {**TINY, **change}.items():
        raw[k] = {**raw.get(k, {}), **v} if isinstance(v, dict) and k not in ("tune",) else v
    raw.pop("quick", None)
    return raw


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("stimulated_mass_tune_cache")  # simulated once for the module


@pytest.fixture(scope="module")
def tuned_run(tmp_path_factory, cache):
    """A whole tuned run, with every subject an inner fit trains on recorded (a spy on the recipe's fit)."""
    from myoflow.experiments.runner import run_experiment
    from myoflow.pipelines.stimulated_mass import tuning

    seen: list[set[str]] = []
    orig = tuning.EvokedRecipe.fit

    def spy(self, X, y=None):
        seen.append(set(np.asarray(X).astype(str).tolist()))
        return orig(self, X, y)

    root = tmp_path_factory.mktemp("stimulated_mass_tune")
    mp = pytest.MonkeyPatch()
    mp.setattr(tuning.EvokedRecipe, "fit", spy)
    try:
        metrics = run_experiment(load_config(_config()), root / "run", workers=1, cache_dir=cache)
    finally:
        mp.undo()
    return root / "run", metrics, seen


def test_default_config_keeps_tune_off_and_validates_the_grid():
    cfg = load_config(CONFIG)
    assert not cfg.tune.enabled and cfg.tune.n_inner >= 2
    assert set(cfg.tune.grid) == {"n_members", "combine", "lr"}
    with pytest.raises(ConfigError, match="tune.n_inner must be >= 2"):
        load_config(_config(tune={"enabled": True, "n_inner": 1}))
    with pytest.raises(ConfigError, match=r"tune.grid.params.lrr: unknown parameter of MassLevelClassifier"):
        load_config(_config(tune={"enabled": True, "grid": {"lrr": [0.1, 0.2]}}))
    with pytest.raises(ConfigError, match=r"tune.grid.seed: set by the pipeline"):
        load_config(_config(tune={"enabled": True, "grid": {"seed": [1, 2]}}))
    with pytest.raises(ConfigError, match=r"tune.grid.combine\[1\]: 'mean' is not one of"):
        load_config(_config(tune={"enabled": True, "grid": {"combine": ["pool", "mean"]}}))
    with pytest.raises(ConfigError, match="non-empty list"):
        load_config(_config(tune={"enabled": True, "grid": {"n_members": []}}))


def test_tune_chooses_on_training_subjects_only_and_is_recorded(tuned_run):
    import json

    import pandas as pd

    run, metrics, seen = tuned_run
    dirs = sorted((run / "folds").glob("all-k*"))
    assert len(dirs) == 3 and seen
    outer_train = []
    for d in dirs:
        extras = json.loads((d / "extras.json").read_text())
        test = set(pd.read_parquet(d / "predictions.parquet")["subject"].astype(str))
        info = extras["models"]["attention_bilstm"]
        t = info["tune"]
        chosen_on = set(t["on_subjects"])
        assert len(chosen_on) == extras["n_train"] and len(test) == extras["n_test"]
        assert not chosen_on & test  # the outer test subjects took no part in the choice
        for inner in t["inner_test_subjects"]:
            assert set(inner) <= chosen_on
        valid = [s for s in t["scores"] if "mean" in s]
        assert len(valid) == 4  # 2 ensemble sizes x 2 combine modes
        assert t["chosen"] == max(valid, key=lambda s: s["mean"])["params"]
        # the refitted model and its input follow the choice
        assert info["estimator"]["params"]["n_members"] == t["chosen"]["n_members"]
        assert info["combine"] == t["chosen"]["combine"]
        outer_train.append(chosen_on)
    # every inner fit trained on subjects of ONE outer training fold only (never on that fold's test subjects)
    for s in seen:
        assert any(s <= tr for tr in outer_train), sorted(s)[:5]
    tuning = metrics["summary"]["tuning"]["all"]["attention_bilstm"]
    assert sorted(f["fold"] for f in tuning) == [d.name for d in dirs]
    report = (run / "report.html").read_text()
    assert "Nested selection (tune)" in report and "chosen on subjects" in report


@pytest.mark.parametrize("change, message", [
    ({"tune": {"enabled": True, "grid": {"n_members": [1, 2]}, "n_inner": 10}},
     r"cohort evoked simulated seed 0: the smallest outer training fold has 10 subject\(s\); tune.n_inner = 10 "
     r".* at least 11"),
    ({"tune": {"enabled": True, "grid": {"lr": [-1.0, -2.0]}, "n_inner": 2}},
     r"cohort evoked simulated seed 0: no valid configuration among 2 in the tune grid"),
])
def test_bad_tune_input_exits_2_with_one_line(tmp_path, capsys, cache, change, message):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(_config(**change)))
    code, _, err = cli(["run", cfg, "--out", tmp_path / "out", "--workers", "1", "--cache-dir", cache], capsys)
    assert re.search(message, one_error_line(code, err)), err


def test_select_recipe_names_the_cohort_for_a_single_class_or_too_few_subjects(cache):
    from myoflow.experiments.registry import get_pipeline
    from myoflow.pipelines.stimulated_mass.pipeline import make_estimator
    from myoflow.pipelines.stimulated_mass.tuning import select_recipe

    cfg = load_config(_config())
    data = get_pipeline("stimulated-mass").prepare(cfg, cache)
    part = data.participants
    pre = {"representation": "waveform", "decimate": 2, "augment": 1, "amplitude": "log_split", "combine": "pool"}
    est = make_estimator(cfg, "attention_bilstm", 0)
    one = part.loc[part["label"] == part["label"].value_counts().index[0], "subject"].astype(str).tolist()
    assert len(one) >= 3
    with pytest.raises(DataError, match=r"cohort C1: fold X holds a single class"):
        select_recipe(est, data, one, [10.0, 25.0], pre, {"n_members": [1, 2]}, n_inner=2, seed=0, aug_seed=0,
                      cohort="C1", where="fold X")
    few = part["subject"].astype(str).tolist()[:2]
    with pytest.raises(DataError, match=r"cohort C2: fold Y has 2 subject\(s\); tune.n_inner = 2 .* at least 3"):
        select_recipe(est, data, few, [10.0, 25.0], pre, {"n_members": [1, 2]}, n_inner=2, seed=0, aug_seed=0,
                      cohort="C2", where="fold Y")


@pytest.mark.parametrize("script", ["select_recipes", "select_muscle_id_lr", "select_muscle_id_patience",
                                    "select_muscle_id_channels", "select_fusion"])
def test_selection_scripts_refuse_the_reported_cohort(script, tmp_path, capsys):
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"_sel_{script}", REPO / "benchmarks" / f"{script}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--seed", "0", "--out", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "seed 0 is the reported cohort" in err[0]
    assert not (tmp_path / "x.json").exists()
