"""Generator recipe options (Fourier condition features, normalised loss, validation metric), deterministic
conditioning, the slab's exclusion from training in run_fold, the numerical error floor, the selection script."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from myoflow.errors import ConfigError  # noqa: E402
from myoflow.models.muap_generator import (  # noqa: E402
    DEFAULT_CONDITION_RANGES,
    DEFAULT_CONDITIONS,
    MUAPGenerator,
    MuapGeneratorEstimator,
    load_generator,
    nrmse,
    save_generator,
)
from myoflow.train.seeding import torch_seed  # noqa: E402

from .test_muap_generator_model import SHAPE, _conditions, _toy_muaps  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
LO = np.array([DEFAULT_CONDITION_RANGES[n][0] for n in DEFAULT_CONDITIONS])
HI = np.array([DEFAULT_CONDITION_RANGES[n][1] for n in DEFAULT_CONDITIONS])
SMALL = dict(hidden=32, n_hidden_layers=2, cond_dim=16, latent_dim=4, encoder_width=32, output_rank=16,
             time_expert_scales=(0.5, 1.0, 2.0), epochs=4, batch_size=32, lr=2e-3)


def _fit(**kw) -> MuapGeneratorEstimator:
    c = _conditions(120, seed=12)
    x = _toy_muaps(c)
    return MuapGeneratorEstimator(**{**SMALL, **kw}).fit(c[:100], x[:100], validation_data=(c[100:], x[100:]))


def test_fourier_features_values_and_width():
    with torch_seed(0):
        gen = MUAPGenerator(SHAPE, hidden=32, n_hidden_layers=1, cond_dim=8, latent_dim=2, encoder_width=8,
                            cond_fourier=3)
    u = torch.tensor([[0.0, 0.25, 0.5, 0.75, 1.0, 0.1]])
    f = gen.condition_features(u)
    assert f.shape == (1, 6 * (1 + 2 * 3))
    torch.testing.assert_close(f[:, :6], u)
    # sin block: condition-major, then frequency 2^k pi
    sin = f[0, 6:24].view(6, 3)
    cos = f[0, 24:].view(6, 3)
    expect = u[0][:, None] * torch.tensor([1.0, 2.0, 4.0]) * np.pi
    torch.testing.assert_close(sin, torch.sin(expect))
    torch.testing.assert_close(cos, torch.cos(expect))
    assert gen.cond_embed[0].in_features == 42
    # 0 keeps the raw conditions (the old model)
    with torch_seed(0):
        plain = MUAPGenerator(SHAPE, hidden=32, n_hidden_layers=1, cond_dim=8, latent_dim=2, encoder_width=8)
    assert plain.cond_embed[0].in_features == 6 and plain.condition_features(u) is u
    with pytest.raises(ConfigError, match="cond_fourier"):
        MUAPGenerator(SHAPE, cond_fourier=-1)


def test_conditioning_is_deterministic_and_round_trips(tmp_path):
    """Same seed -> the same trained generator; its outputs depend only on the conditions (z = 0)."""
    a = _fit(cond_fourier=2, rel_weight=1.0, seed=3)
    b = _fit(cond_fourier=2, rel_weight=1.0, seed=3)
    c = _conditions(7, seed=99)
    np.testing.assert_array_equal(a.predict(c), b.predict(c))
    np.testing.assert_array_equal(a.predict(c), a.predict(c))
    # a unit's MUAP does not depend on the other conditions in its batch
    np.testing.assert_allclose(a.predict(c[2:3])[0], a.predict(c)[2], rtol=1e-5,
                               atol=1e-6 * np.abs(a.predict(c)).max())
    other = _fit(cond_fourier=2, rel_weight=1.0, seed=4)
    assert not np.allclose(a.predict(c), other.predict(c))
    again = load_generator(save_generator(a, tmp_path / "g"))
    assert again.cond_fourier == 2
    np.testing.assert_array_equal(again.generate(c), a.predict(c))


def test_options_change_training_and_default_is_the_old_recipe():
    base = _fit(seed=1)
    explicit = _fit(seed=1, cond_fourier=0, rel_weight=0.0, val_metric="nrmse")
    c = _conditions(5, seed=5)
    np.testing.assert_array_equal(base.predict(c), explicit.predict(c))
    assert not np.allclose(base.predict(c), _fit(seed=1, rel_weight=1.0).predict(c))
    assert not np.allclose(base.predict(c), _fit(seed=1, cond_fourier=2).predict(c))
    for bad in ({"rel_weight": -1.0}, {"cond_fourier": -2}, {"val_metric": "mse"}):
        with pytest.raises(ConfigError):
            _fit(**bad)


def test_val_metric_rel_rmse_is_rmse_over_rms_of_the_validation_units():
    c = _conditions(120, seed=12)
    x = _toy_muaps(c)
    est = MuapGeneratorEstimator(**{**SMALL, "val_metric": "rel_rmse"}).fit(
        c[:100], x[:100], validation_data=(c[100:], x[100:]))
    got = est.history_.val_loss[est.history_.best_epoch]
    pred = est.predict(c[100:])
    rel = np.sqrt(((pred - x[100:]) ** 2).mean(axis=(1, 2, 3))) / np.sqrt((x[100:] ** 2).mean(axis=(1, 2, 3)))
    assert got == pytest.approx(float(rel.mean()), rel=1e-4)
    assert got != pytest.approx(float(nrmse(pred, x[100:]).mean()), rel=1e-2)


# ----------------------------------------------------------------- pipeline
TINY = {
    "data": {"n_train_pool": 40, "n_extrapolation": 8, "n_jobs": 1, "real_templates": False},
    "split": {"interpolation_slab": 0.2, "interpolation_random": 0.1, "val_fraction": 0.1},
    "train": {"epochs": 2, "batch_size": 16},
    "model": {"params": {"hidden": 32, "n_hidden_layers": 1, "cond_dim": 8, "encoder_width": 16,
                         "output_rank": 16, "cond_fourier": 2, "rel_weight": 1.0}},
    "evaluate": {"speed_numerical_n": 1, "speed_generator_n": 16, "n_figure_examples": 1,
                 "compare_adversarial": False, "export_onnx": False, "floor_units": 3},
}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from myoflow.experiments import load_config
    from myoflow.experiments.registry import get_pipeline

    root = tmp_path_factory.mktemp("muaprecipe")
    cfg = load_config(REPO / "src" / "myoflow" / "configs" / "muap_generator.yaml", quick=True, overrides=TINY)
    pipe = get_pipeline(cfg.pipeline)
    return cfg, pipe, pipe.prepare(cfg, root / "cache"), root


def test_run_fold_never_shows_held_out_units_to_the_generator(tiny, monkeypatch):
    from myoflow.experiments.base import FoldContext

    cfg, pipe, data, root = tiny
    seen = []
    orig = MuapGeneratorEstimator.fit

    def spy(self, X, y, groups=None, *, validation_data=None, on_epoch=None):
        seen.append((np.array(X), np.array(y), np.array(validation_data[0]), np.array(validation_data[1])))
        return orig(self, X, y, groups, validation_data=validation_data, on_epoch=on_epoch)

    monkeypatch.setattr(MuapGeneratorEstimator, "fit", spy)
    fold = pipe.folds(cfg, data)[0]
    res = pipe.run_fold(cfg, data, fold, FoldContext(seed=5, device="cpu", workdir=root / "fold"))
    assert len(seen) == 1
    X, y, Vx, Vy = seen[0]
    held = np.flatnonzero(np.isin(data.split, ["interpolation", "extrapolation"]))
    assert len(held) and (data.region[data.split == "interpolation"] == "slab").any()
    for rows, muaps in ((X, y), (Vx, Vy)):
        # no held-out condition row and no held-out MUAP reaches fit (training or early stopping)
        assert not (np.abs(rows[:, None, :] - data.conditions[held][None]).max(axis=2) < 1e-12).any()
        assert not (np.abs(muaps[:, None] - data.muaps[held][None]).reshape(len(muaps), len(held), -1)
                    .max(axis=2) == 0).any()
        u = (rows - LO) / (HI - LO)
        for j in (0, 2):  # the slab conditions: fibre_number_log, angle (centre 0.5, half-width 0.1)
            assert not (np.abs(u[:, j] - 0.5) <= 0.1).any()
        top = 1 - cfg.split.extrapolation_band
        assert (u[:, [1, 4]] <= top + 1e-9).all()  # nothing from the extrapolation band
    np.testing.assert_array_equal(X, data.conditions[data.indices("train")])
    # the scored rows are exactly the held-out units
    assert set(res.predictions["unit"]) == set(held.tolist())
    # the summary reports the numerical floor beside the generator, per region
    summary = pipe.summarize(cfg, data, [res])
    assert set(summary["numerical_floor"]) <= {"slab", "random_units"} and summary["numerical_floor"]
    names = [h.label for h in pipe.headline(summary)]
    assert any(n.startswith("numerical floor") and "best deterministic" in n for n in names)
    assert "VAE slab: RMSE / RMS(target)" in names


def test_count_twin_changes_the_fibre_count_by_one():
    from myoflow.pipelines.muap_generator.pipeline import count_twin_conditions

    c = _conditions(50, seed=3)
    c[0, 0] = HI[0]  # the top of the range must step down, not out of range
    t = count_twin_conditions(c, DEFAULT_CONDITIONS, DEFAULT_CONDITION_RANGES)
    n, n2 = np.round(np.exp(c[:, 0])), np.round(np.exp(t[:, 0]))
    np.testing.assert_array_equal(np.abs(n2 - n), 1.0)
    assert (t[:, 0] >= LO[0]).all() and (t[:, 0] <= HI[0]).all()
    np.testing.assert_array_equal(t[:, 1:], c[:, 1:])


def test_numerical_floor_is_measured_cached_and_reported(tiny):
    from myoflow.pipelines.muap_generator.pipeline import _floor_table, layout_floor
    from myoflow.simulate.numerical import numerical_muaps

    cfg, pipe, data, root = tiny
    floor = data.info["floor"]
    assert set(floor) <= {"slab", "random"} and floor
    for region, e in floor.items():
        idx = np.asarray(e["units"])
        assert len(idx) <= 3 and (data.region[idx] == region).all()
        ol = np.asarray(e["other_layout"]["rel_rmse"])
        assert (ol > 0).all() and np.isfinite(ol).all()
        # recomputed by hand for the first unit: another fibre layout at the same conditions
        twin = numerical_muaps(data.conditions[idx[:1]], rng=np.random.default_rng(1))
        truth = data.muaps[idx[:1]]
        twin = twin.reshape(truth.shape)  # (n, rows·cols, times) -> (n, rows, cols, times)
        rel = np.sqrt(((twin - truth) ** 2).mean()) / np.sqrt((truth ** 2).mean())
        assert ol[0] == pytest.approx(rel, rel=1e-4)
    # the model itself is deterministic: the same conditions, its own layout -> the same MUAP
    i = int(floor[next(iter(floor))]["units"][0])
    np.testing.assert_array_equal(numerical_muaps(data.conditions[i:i + 1])[0].reshape(data.muaps[i].shape),
                                  data.muaps[i])
    # second call: from the cache, identical
    again = layout_floor(data, 3, cfg.data.seed, 1, root / "cache")
    assert again == floor
    assert list((root / "cache" / "muap_generator").glob("floor-*.npz"))
    table = _floor_table(floor, data.conditions, data.condition_names)
    for e in table.values():
        # the nested layout (default): a smooth generator's saw-tooth on the fibre-count staircase
        assert e["layout"] == "nested"
        assert e["deterministic_floor_rel_rmse"] == pytest.approx(e["count_twin_rel_rmse_mean"] / np.sqrt(12))
        assert sum(b["n"] for b in e["by_fibre_count"]) == e["n"]
    # entries without a layout are from the older re-drawn layout: the mean over layouts (/ sqrt 2)
    old = {r: {k: v for k, v in e.items() if k != "layout"} for r, e in floor.items()}
    for e in _floor_table(old, data.conditions, data.condition_names).values():
        assert e["layout"] == "redraw"
        assert e["deterministic_floor_rel_rmse"] == pytest.approx(e["other_layout_rel_rmse_mean"] / np.sqrt(2))
    assert layout_floor(data, 0, 0) is None


def test_select_generator_refuses_the_reported_seed(tmp_path, capsys):
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import select_generator
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    assert select_generator.main(["--seed", "0", "--out", str(tmp_path / "r.json")]) == 2
    assert "reported cohort" in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists()
    assert select_generator.main(["--seed", "1", "--candidates", "nope", "--out", str(tmp_path / "r.json")]) == 2


def _select_generator():
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import select_generator
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    return select_generator


def test_select_generator_candidates_take_the_config_members_and_ties_go_to_the_cheaper():
    sg = _select_generator()
    import yaml

    shipped = yaml.safe_load(sg.CONFIG.read_text())["model"]["params"]["members"]
    # "shipped" (no members of its own) is the config as is, not one generator
    assert sg._recipe("shipped") == ({"params": {}, "data": {}, "train": {}}, shipped)
    assert sg._recipe("ens3")[1] == 3
    assert sg._recipe("ens2_e250") == ({"params": {}, "data": {}, "train": {"epochs": 250}}, 2)

    class A:
        pool, epochs = 2048, 150

    assert sg._cost(A, sg._recipe("ens2_e250")[0], 2) == 2 * 2048 * 250
    table = [{"candidate": "a", "score": 0.1050, "cost_unit_epochs": 300},
             {"candidate": "b", "score": 0.1040, "cost_unit_epochs": 450},
             {"candidate": "c", "score": 0.1000, "cost_unit_epochs": 500}]
    assert sg._choose(table, 0.0)["candidate"] == "c"
    assert sg._choose(table, 0.002)["candidate"] == "c"  # a and b are more than 0.002 above c
    table[2]["score"] = 0.1035
    assert sg._choose(table, 0.002)["candidate"] == "a"  # all three within 0.002 of the lowest: the cheapest
    assert sg._choose(table, 0.001)["candidate"] == "b"


def test_select_generator_member_job_trains_one_generator(monkeypatch, tmp_path):
    """A member job is one generator even though the config's ``members`` is 2: an ensemble per job would
    be seeded from the member's seed and would not be the pipeline's member k."""
    sg = _select_generator()
    import argparse

    from myoflow.models.muap_generator import MUAPGenerator
    from myoflow.pipelines.muap_generator import pipeline as gp

    monkeypatch.setenv("MYOFLOW_CACHE", str(tmp_path))
    made = []
    real = gp._estimator

    def spy(*args, **kw):
        made.append(real(*args, **kw))
        return made[-1]

    monkeypatch.setattr(gp, "_estimator", spy)
    a = argparse.Namespace(seed=3, pool=48, extrapolation=8, epochs=1)
    recipe, _ = sg._recipe("shipped")
    recipe["params"] = {"hidden": 32, "n_hidden_layers": 1, "output_rank": 8, "encoder_width": 16}
    key, k, out = sg._member((a, sg.json.dumps(recipe, sort_keys=True), 1))
    assert k == 1 and len(made) == 1
    assert made[0].members == 1 and type(made[0].generator_) is MUAPGenerator
    assert out["pred"].shape[0] == out["units"].size
