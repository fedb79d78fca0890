"""Muscle-id ``deep:`` section: per-model recipes (``deep.per_model``), their defaults and their validation."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from myoflow.errors import ConfigError
from myoflow.experiments import load_config
from myoflow.pipelines.muscle_id.config import DEEP_MODELS, DeepSpec, MuscleIdConfig

REPO = Path(__file__).resolve().parents[2]
BASE = {"name": "muscle-id-deep-config", "pipeline": "muscle-id",
        "data": {"sim": {"source": "simulate", "subjects": 3}, "real": {"enabled": False}}}


def test_per_model_overrides_params_for_that_model_only():
    cfg = load_config({**BASE, "deep": {"name": "deep_window", "params": {"epochs": 7, "lr": 0.01},
                                        "per_model": {"hybrid": {"lr": 0.005, "tta": 3}}}})
    assert isinstance(cfg.deep, DeepSpec)
    assert cfg.deep.params_for("hybrid") == {"epochs": 7, "lr": 0.005, "tta": 3}
    assert cfg.deep.params_for("emg_cnn") == {"epochs": 7, "lr": 0.01}
    # a _simpre twin takes its twin's entry (same recipe, plus pretraining set by the pipeline)
    assert cfg.deep.params_for("hybrid_simpre") == {"epochs": 7, "lr": 0.005, "tta": 3}


def test_the_pipeline_builds_each_deep_model_with_its_own_recipe():
    from myoflow.pipelines.muscle_id.pipeline import MuscleIdPipeline

    cfg = load_config({**BASE, "deep": {"name": "deep_window", "params": {"epochs": 7},
                                        "per_model": {"recipe_cnn_lstm": {"mixup": 0.4, "tta": 5}}}})
    pipe = MuscleIdPipeline()
    rec = pipe.make_model(cfg, "recipe_cnn_lstm", "loso", seed=0)
    cnn = pipe.make_model(cfg, "emg_cnn", "loso", seed=0)
    assert (rec.arch, rec.epochs, rec.mixup, rec.tta) == ("cnn_lstm", 7, 0.4, 5)
    assert (cnn.arch, cnn.epochs, cnn.mixup, cnn.tta) == ("cnn", 7, 0.0, 0)


@pytest.mark.parametrize("per_model, message", [
    ({"recipe_cnnlstm": {"tta": 5}}, "deep.per_model.recipe_cnnlstm: not a deep model of this pipeline"),
    ({"hybrid": {"ttaa": 5}}, "deep.per_model.hybrid.params.ttaa: unknown parameter of DeepWindowClassifier"),
    ({"hybrid": {"seed": 1}}, "deep.per_model.hybrid.seed: set by the pipeline"),
    ({"hybrid": {"schedule": "steps"}}, "deep.per_model.hybrid.params: unknown schedule 'steps'"),
    ({"hybrid": [1, 2]}, "deep.per_model.hybrid: expected a mapping"),
])
def test_bad_per_model_entries_are_one_line_config_errors(per_model, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("(", r"\(")):
        load_config({**BASE, "deep": {"name": "deep_window", "params": {}, "per_model": per_model}})


def test_bad_per_model_entry_exits_2_naming_the_key(tmp_path, capsys):
    from myoflow.cli import main

    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({**BASE, "deep": {"name": "deep_window", "per_model": {"hybird": {"tta": 5}}}}))
    with pytest.raises(SystemExit) as exc:
        main(["run", str(cfg), "--out", str(tmp_path / "out"), "--workers", "1"])
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert exc.value.code == 2 and len(errors) == 1 and "Traceback" not in err, err
    assert "deep.per_model.hybird" in errors[0]


def test_defaults_are_the_recipes_chosen_on_the_development_subjects():
    """Shipped YAML and dataclass defaults both give each deep model the recipe of the dev selection record."""
    from myoflow.models.deep_classifier import DeepWindowClassifier

    record = json.loads((REPO / "benchmarks/results/selection/deep_recipe_dev.json").read_text())
    assert record["development_subjects"] == ["03", "04", "11", "18", "22", "30"]
    shipped = load_config(REPO / "configs" / "muscle_id.yaml")
    packaged = load_config(REPO / "src/myoflow/configs/muscle_id.yaml")
    default = MuscleIdConfig(name="x", pipeline="muscle-id")
    for model, arch in DEEP_MODELS.items():
        chosen = record["chosen"][arch]
        for cfg in (shipped, packaged, default):
            got = DeepWindowClassifier(arch=arch, **cfg.deep.params_for(model)).get_params()
            assert {k: got[k] for k in chosen} == chosen, (model, cfg.name)
    # --quick still shrinks the epochs of every deep model (make demo stays fast)
    quick = load_config(REPO / "configs" / "muscle_id.yaml", quick=True)
    assert {quick.deep.params_for(m)["epochs"] for m in DEEP_MODELS} == {10}
