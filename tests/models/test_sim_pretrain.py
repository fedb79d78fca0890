"""Simulator pretraining hook of DeepWindowClassifier (issue 14 item 3b): matching, effect, determinism, errors."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from sklearn.base import clone  # noqa: E402

from myoflow.containers import Epochs  # noqa: E402
from myoflow.errors import ConfigError, DataError  # noqa: E402
from myoflow.models import sim_pretrain  # noqa: E402
from myoflow.models.deep_classifier import DeepWindowClassifier  # noqa: E402
from myoflow.models.sim_pretrain import SimPretrainSpec, match_classes  # noqa: E402
import myoflow.pipelines.muscle_id.data  # noqa: E402,F401  (registers the simulated-cohort builder)

TINY = dict(widths=(4, 8), pools=(4, 2), hidden=8, batch_size=16, epochs=1, patience=1, val_fraction=0.0)


def _real(classes=("VL", "TA"), n_subjects=3, per=8, t=500, seed=0):
    """'Real' 500 ms windows at 1 kHz (the muscle-id real cohort's shape), two spectra."""
    rng = np.random.default_rng(seed)
    subjects = np.repeat([f"r{i}" for i in range(n_subjects)], per * len(classes))
    y = np.tile(np.repeat(list(classes), per), n_subjects)
    f = np.asarray([60.0 + 80.0 * list(classes).index(c) for c in y])[:, None]
    tt = np.arange(t) / 1000.0
    X = 1e-4 * (np.sin(2 * np.pi * f * tt + rng.uniform(0, 6, (len(y), 1))) + rng.standard_normal((len(y), t)))
    md = pd.DataFrame({"subject": subjects, "recording": [f"{s}/{c}" for s, c in zip(subjects, y)]})
    return Epochs(X=X[:, None, :].astype(np.float32), fs=1000.0, ch_names=["emg"], metadata=md, y=y)


@pytest.fixture()
def spec(tmp_path):
    sim_pretrain.clear_memo()
    return {"subjects": 3, "duration_s": 1.0, "epochs": 2, "seed": 11, "cache_dir": str(tmp_path)}


def test_classes_are_matched_by_muscle_name():
    assert match_classes(["VL", "ta", "XX"], ["VL", "BF", "TA", "GL"]) == {"VL": "VL", "TA": "ta"}
    assert match_classes(["Vastus lateralis", "tibialis_anterior"], ["VL", "TA", "GL"]) == {
        "VL": "Vastus lateralis", "TA": "tibialis_anterior"}
    assert match_classes(["BB", "FDS"], ["VL", "BF", "TA", "GL"]) == {}


def test_spec_validation_is_one_line_config_error():
    with pytest.raises(ConfigError, match="unknown key"):
        SimPretrainSpec.coerce({"subject": 3})
    with pytest.raises(ConfigError, match="protocol"):
        SimPretrainSpec(protocol="arm")
    with pytest.raises(ConfigError, match="subjects"):
        SimPretrainSpec(subjects=2)


def test_pretraining_changes_the_start_records_the_match_and_is_deterministic(spec):
    real = _real(("VL", "TA", "XX"))
    plain = DeepWindowClassifier(**TINY, lr=1e-5, seed=0).fit(real)
    pre = DeepWindowClassifier(**TINY, lr=1e-5, seed=0, pretrain=spec)
    assert clone(pre).get_params()["pretrain"] == spec  # stored as given; clone works
    pre.fit(real)
    info = pre.pretrain_info_
    assert info["matched"] == {"VL": "VL", "TA": "TA"} and info["unmatched_classes"] == ["XX"]
    assert info["n_windows"] == 3 * 2 * 2  # 3 subjects x (VL, TA) x two 500 ms windows of a 1 s hold
    assert plain.pretrain_info_ is None
    # with a negligible fine-tuning rate the pretrained start shows through: outputs differ from random init
    assert not np.allclose(plain.predict_proba(real), pre.predict_proba(real), atol=1e-3)
    # the real-fold amplitude statistics replace the simulated ones before fine-tuning
    from myoflow.preprocess.representation import log_rms

    amp = log_rms(real.X)
    np.testing.assert_allclose(pre.module_[0].amp_mean.numpy(), amp.mean(0), rtol=1e-4)
    # same seed -> same model (fresh process state: memo cleared)
    sim_pretrain.clear_memo()
    again = DeepWindowClassifier(**TINY, lr=1e-5, seed=0, pretrain=spec).fit(real)
    np.testing.assert_allclose(again.predict_proba(real), pre.predict_proba(real), atol=1e-6)


def test_pretrained_weights_do_not_depend_on_the_fine_tuning_data(spec):
    """Pretraining sees simulated windows only: two different real folds start from the same weights."""
    a = DeepWindowClassifier(**{**TINY, "epochs": 1}, lr=1e-12, seed=0, pretrain=spec).fit(_real(seed=1))
    sim_pretrain.clear_memo()
    b = DeepWindowClassifier(**{**TINY, "epochs": 1}, lr=1e-12, seed=5, pretrain=spec).fit(_real(seed=2, n_subjects=4))
    wa = {k: v for k, v in a.module_[0].state_dict().items() if "amp_" not in k and "running" not in k
          and "num_batches" not in k}
    wb = b.module_[0].state_dict()
    for k, v in wa.items():
        torch.testing.assert_close(v, wb[k], atol=1e-6, rtol=1e-6)
    assert a.pretrain_info_["members"][0]["sim_val_accuracy"] == b.pretrain_info_["members"][0]["sim_val_accuracy"]


def test_no_matching_muscle_is_an_error_when_demanded_and_a_skip_otherwise(spec, caplog):
    real = _real(("BB", "FDS"))
    with pytest.raises(ConfigError, match="none of the training classes"):
        DeepWindowClassifier(**TINY, pretrain=spec).fit(real)
    est = DeepWindowClassifier(**TINY, seed=0, pretrain={**spec, "required": False}).fit(real)
    assert est.pretrain_info_ is None and "pretraining skipped" in caplog.text
    plain = DeepWindowClassifier(**TINY, seed=0).fit(real)
    np.testing.assert_allclose(est.predict_proba(real), plain.predict_proba(real), atol=1e-6)


def test_window_shape_mismatch_names_the_fix(spec):
    real = _real(t=250)
    with pytest.raises(DataError, match="pretrain.preprocess"):
        DeepWindowClassifier(**TINY, pretrain=spec).fit(real)


@pytest.mark.parametrize("arch", ["hybrid", "cnn_lstm"])
def test_every_arch_takes_pretraining(spec, arch):
    real = _real(("VL", "TA"))
    est = DeepWindowClassifier(arch=arch, **TINY, seed=0, pretrain=spec).fit(real)
    assert est.pretrain_info_["members"][0]["epochs_run"] >= 1
    p = est.predict_proba(real)
    assert p.shape == (len(real), 2) and np.allclose(p.sum(1), 1.0)


def test_a_pretrained_model_saves_and_loads_without_pretraining_again(spec, tmp_path, monkeypatch):
    real = _real()
    est = DeepWindowClassifier(**TINY, seed=0, pretrain=spec).fit(real)
    path = est.save(tmp_path / "m")
    monkeypatch.setattr(sim_pretrain, "simulated_windows", lambda *a, **k: pytest.fail("simulated on load"))
    back = DeepWindowClassifier.load(path)
    assert back.get_params()["pretrain"] == spec
    np.testing.assert_allclose(back.predict_proba(real), est.predict_proba(real), atol=1e-6)


def test_without_a_registered_cohort_builder_pretraining_is_a_config_error(monkeypatch):
    # the model layer never imports a pipeline: the muscle-id data module registers the builder
    monkeypatch.setattr(sim_pretrain, "_COHORT_BUILDER", [])
    with pytest.raises(ConfigError, match="cohort builder"):
        sim_pretrain.simulated_windows(SimPretrainSpec())
