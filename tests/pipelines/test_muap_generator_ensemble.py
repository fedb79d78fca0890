"""Generator ensembles (``model.params.members``): the mean of members trained with the member seeds,
save / load / ONNX round trips, bad values refused (ConfigError, CLI exit 2)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from myoflow.errors import ConfigError, DataError  # noqa: E402
from myoflow.models.muap_generator import (  # noqa: E402
    MUAPEnsemble,
    MUAPGenerator,
    MuapGeneratorEstimator,
    export_generator_onnx,
    load_generator,
    member_seed,
    save_generator,
)

from .test_muap_generator_model import SHAPE, _conditions, _toy_muaps  # noqa: E402
from .test_muap_generator_recipe import SMALL  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "src" / "myoflow" / "configs" / "muap_generator.yaml"


def _data():
    c = _conditions(120, seed=12)
    return c, _toy_muaps(c)


def _fit(**kw) -> MuapGeneratorEstimator:
    c, x = _data()
    return MuapGeneratorEstimator(**{**SMALL, **kw}).fit(c[:100], x[:100], validation_data=(c[100:], x[100:]))


@pytest.fixture(scope="module")
def pair():
    return _fit(members=2, seed=5)


def test_member_seeds_keep_the_first_and_differ():
    assert member_seed(5, 0) == 5
    seeds = [member_seed(5, k) for k in range(4)]
    assert len(set(seeds)) == 4
    assert member_seed(5, 1) == member_seed(5, 1) != member_seed(6, 1)


def test_ensemble_is_the_mean_of_single_fits_with_the_member_seeds(pair):
    c = _conditions(9, seed=3)
    assert isinstance(pair.generator_, MUAPEnsemble) and len(pair.generator_.members) == 2
    singles = [_fit(seed=member_seed(5, k)) for k in range(2)]
    # member 0 is the single generator of the same seed: members=1 runs keep their numbers
    np.testing.assert_array_equal(singles[0].predict(c), pair.generator_.members[0].generate(c))
    np.testing.assert_array_equal(singles[1].predict(c), pair.generator_.members[1].generate(c))
    mean = (singles[0].predict(c) + singles[1].predict(c)) / np.float32(2)
    np.testing.assert_allclose(pair.predict(c), mean, rtol=1e-6, atol=1e-7 * np.abs(mean).max())
    assert not np.allclose(pair.predict(c), singles[0].predict(c))
    # one set of latent codes for every member
    z = np.random.default_rng(0).standard_normal((9, pair.generator_.latent_dim)).astype(np.float32)
    zmean = (pair.generator_.members[0].generate(c, z) + pair.generator_.members[1].generate(c, z)) / 2
    np.testing.assert_allclose(pair.generator_.generate(c, z), zmean, rtol=1e-6, atol=1e-7 * np.abs(zmean).max())
    np.testing.assert_array_equal(pair.generator_.generate(c, seed=4), pair.generator_.generate(c, seed=4))
    assert len(pair.member_histories_) == 2
    assert pair.history_.seconds == pytest.approx(sum(h.seconds for h in pair.member_histories_))
    assert pair.generator_.n_parameters() == 2 * pair.generator_.members[0].n_parameters()
    assert pair.generator_.config()["members"] == 2 and pair.generator_.out_shape == SHAPE


def test_ensemble_training_is_deterministic(pair):
    c = _conditions(5, seed=8)
    np.testing.assert_array_equal(_fit(members=2, seed=5).predict(c), pair.predict(c))


def test_ensemble_save_load_and_onnx_round_trip(pair, tmp_path):
    c = _conditions(6, seed=1)
    folder = save_generator(pair, tmp_path / "g")
    again = load_generator(folder)
    assert isinstance(again, MUAPEnsemble) and len(again.members) == 2
    np.testing.assert_array_equal(again.generate(c), pair.predict(c))
    np.testing.assert_array_equal(again.generate(c, seed=2), pair.generator_.generate(c, seed=2))
    # a bare ensemble (no estimator) is wrapped on save
    np.testing.assert_array_equal(load_generator(save_generator(pair.generator_, tmp_path / "bare")).generate(c),
                                  pair.predict(c))
    morphed = again.morph(pair.predict(c), c, c[::-1].copy())
    assert morphed.shape == (6,) + SHAPE and np.isfinite(morphed).all()
    with pytest.raises(DataError, match="no shared latent space"):
        again.encode(pair.predict(c), c)
    pytest.importorskip("onnxruntime")
    assert export_generator_onnx(pair.generator_, tmp_path / "g.onnx") < 1e-4
    import onnxruntime as ort

    sess = ort.InferenceSession(str(tmp_path / "g.onnx"), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"conditions": c.astype(np.float32),
                          "z": np.zeros((6, pair.generator_.latent_dim), np.float32)})[0]
    ref = pair.predict(c)
    assert np.max(np.abs(got - ref)) <= 1e-4 * np.max(np.abs(ref))


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2", None])
def test_bad_member_counts_are_refused(bad):
    c, x = _data()
    with pytest.raises(ConfigError, match="members must be an integer >= 1"):
        MuapGeneratorEstimator(**{**SMALL, "members": bad}).fit(c[:10], x[:10])


def test_ensemble_members_must_share_an_architecture():
    with pytest.raises(ConfigError, match="at least one"):
        MUAPEnsemble([])
    with pytest.raises(ConfigError, match="one architecture"):
        MUAPEnsemble([MUAPGenerator(SHAPE, hidden=16), MUAPGenerator(SHAPE, hidden=32)])


def test_config_members_bad_value_is_a_config_error_and_cli_exit_2(tmp_path):
    from myoflow.experiments import load_config

    with pytest.raises(ConfigError, match="model.params: members must be an integer >= 1"):
        load_config(CONFIG, overrides={"model": {"params": {"members": 0}}})
    r = subprocess.run([sys.executable, "-m", "myoflow.cli", "run", str(CONFIG), "--out", str(tmp_path / "run"),
                        "--set", "model.params.members=0"], capture_output=True, text=True)
    assert r.returncode == 2, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert "Traceback" not in r.stderr and len(lines) == 1 and "members must be an integer >= 1" in lines[0]


def _tiny_members(n_jobs: int):
    from myoflow.experiments import load_config

    from .test_muap_generator_pipeline import TINY

    return load_config(CONFIG, quick=True, overrides={
        **TINY, "model": {"params": {**TINY["model"]["params"], "members": 2}},
        "train": {"epochs": 2, "batch_size": 16},
        "evaluate": {**TINY["evaluate"], "compare_adversarial": False, "floor_units": 0},
        "compute": {"n_jobs": n_jobs}})


def test_pipeline_fold_with_members_exports_the_ensemble(tmp_path):
    from myoflow.experiments.base import FoldContext
    from myoflow.experiments.registry import get_pipeline

    cfg = _tiny_members(2)
    pipe = get_pipeline(cfg.pipeline)
    data = pipe.prepare(cfg, tmp_path / "cache")
    fold = pipe.folds(cfg, data)[0]
    res = pipe.run_fold(cfg, data, fold, FoldContext(seed=11, device="cpu", workdir=tmp_path / "fold"))
    # the members trained in two processes give the numbers of training them one after another here
    cfg1 = _tiny_members(1)
    res1 = pipe.run_fold(cfg1, data, fold, FoldContext(seed=11, device="cpu", workdir=tmp_path / "fold1"))
    np.testing.assert_array_equal(res1.predictions["nrmse"].to_numpy(), res.predictions["nrmse"].to_numpy())
    # and the estimator's own members fit (one process) gives them too
    from myoflow.pipelines.muap_generator.pipeline import _estimator

    whole = _estimator(cfg1, data, 11, "cpu")
    tr, va = data.indices("train"), data.indices("val")
    whole.fit(data.conditions[tr], data.muaps[tr], validation_data=(data.conditions[va], data.muaps[va]))
    idx0 = data.indices("interpolation")
    np.testing.assert_array_equal(whole.predict(data.conditions[idx0]),
                                  load_generator(tmp_path / "fold1" / "generator").generate(data.conditions[idx0]))
    hist = res.extras["variant_history"]["vae"]
    assert len(hist["member_best_epochs"]) == 2 and res.extras["generator_config"]["members"] == 2
    gen = load_generator(tmp_path / "fold" / "generator")
    assert isinstance(gen, MUAPEnsemble)
    idx = data.indices("interpolation")
    from myoflow.evaluate.metrics import nrmse

    own = res.predictions[(res.predictions["set"] == "interpolation")].sort_values("unit")
    np.testing.assert_allclose(own["nrmse"].to_numpy(), nrmse(gen.generate(data.conditions[np.sort(idx)]),
                                                             data.muaps[np.sort(idx)]), rtol=1e-5)


def test_compute_n_jobs_bad_values_are_config_errors():
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ConfigError, match=r"compute\.n_jobs"):
            _tiny_members(bad)
