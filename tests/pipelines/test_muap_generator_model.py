"""MUAPGenerator: range checks, determinism, save/load, ONNX, training, morphing; the region split."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from myoflow.errors import DataError  # noqa: E402
from myoflow.models.muap_generator import (  # noqa: E402
    DEFAULT_CONDITION_RANGES,
    DEFAULT_CONDITIONS,
    MUAPDecoder,
    MUAPGenerator,
    MuapGeneratorEstimator,
    export_generator_onnx,
    load_generator,
    nrmse,
    save_generator,
    time_scaling_matrices,
)
from myoflow.simulate.protocols.muap_training import assign_split, sample_region_conditions  # noqa: E402
from myoflow.train.seeding import torch_seed  # noqa: E402

SHAPE = (4, 3, 32)
LO = np.array([DEFAULT_CONDITION_RANGES[n][0] for n in DEFAULT_CONDITIONS])
HI = np.array([DEFAULT_CONDITION_RANGES[n][1] for n in DEFAULT_CONDITIONS])


def _small(seed: int = 0) -> MUAPGenerator:
    with torch_seed(seed):
        gen = MUAPGenerator(SHAPE, hidden=32, n_hidden_layers=2, cond_dim=16, latent_dim=4, encoder_width=32,
                            time_expert_scales=(0.5, 1.0, 2.0))
    gen.logamp_mean.fill_(np.log(1e-4))
    return gen.eval()


def _conditions(n: int, seed: int = 0) -> np.ndarray:
    return LO + np.random.default_rng(seed).random((n, 6)) * (HI - LO)


def _toy_muaps(cond: np.ndarray) -> np.ndarray:
    """A smooth stand-in for the numerical model: a biphasic wave travelling along the rows,
    centred on a column set by the angle, amplitude set by fibre number and depth, width by CV."""
    rows, cols, n_t = SHAPE
    t = np.arange(n_t)[None, None, None, :]
    r = np.arange(rows)[None, :, None, None]
    c = np.arange(cols)[None, None, :, None]
    lf, depth, angle, iz, cv, fl = (cond[:, j][:, None, None, None] for j in range(6))
    centre = 8 + 3 * np.abs(r - rows * iz) / cv + 4 * (fl - 1)
    width = 1.5 + 6.0 / cv
    amp = np.exp(lf) * 1e-6 / (depth / 10) ** 2 * np.exp(-((c - angle * (cols - 1)) ** 2) / 2.0)
    return (amp * -(t - centre) / width * np.exp(-0.5 * ((t - centre) / width) ** 2)).astype(np.float32)


# ------------------------------------------------------------------ ranges
def test_out_of_range_conditions_raise_clear_error():
    gen = _small()
    bad = _conditions(3)
    bad[1, 1] = 30.0  # depth beyond 23.1 mm
    with pytest.raises(DataError, match=r"depth_mm.*30.*row 1.*\[7, 23\.1\]"):
        gen.generate(bad)
    low = _conditions(1)
    low[0, 4] = 2.0  # CV below 3 m/s
    with pytest.raises(DataError, match="cv_m_s"):
        gen.generate(low)
    with pytest.raises(DataError, match="cv_m_s"):
        gen.morph(np.ones((1,) + SHAPE, np.float32), _conditions(1), low)
    with pytest.raises(DataError, match="shape"):
        gen.generate(np.zeros((2, 5)))
    nan = _conditions(1)
    nan[0, 0] = np.nan
    with pytest.raises(DataError, match="NaN"):
        gen.generate(nan)
    # the range bounds themselves are valid
    assert gen.generate(np.vstack([LO, HI])).shape == (2,) + SHAPE


def test_generation_is_deterministic_for_a_seed():
    gen = _small()
    c = _conditions(5)
    a, b = gen.generate(c, seed=7), gen.generate(c, seed=7)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, gen.generate(c, seed=8))  # z matters
    np.testing.assert_array_equal(gen.generate(c), gen.generate(c))  # z = 0 default
    # global torch RNG state is untouched by seeded generation
    state = torch.random.get_rng_state()
    gen.generate(c, seed=3)
    assert torch.equal(state, torch.random.get_rng_state())
    # batching does not change results
    full = gen.generate(c)
    np.testing.assert_allclose(gen.generate(c, batch_size=2), full, rtol=1e-4, atol=1e-5 * np.abs(full).max())


def test_time_scaling_matrix_identity_and_stretch():
    m = time_scaling_matrices(21, [1.0, 2.0])
    np.testing.assert_allclose(m[0], np.eye(21))
    y = np.exp(-0.5 * ((np.arange(21) - 10) / 2.0) ** 2)
    wide = m[1] @ y
    assert wide[10] == pytest.approx(1.0)
    assert (wide > 0.5).sum() > (y > 0.5).sum() * 1.6  # twice as wide


# ---------------------------------------------------------- save / load / ONNX
def test_saved_generator_reloads_to_identical_outputs(tmp_path):
    gen = _small(seed=3)
    c = _conditions(4, seed=1)
    folder = save_generator(gen, tmp_path / "gen")
    for path in (folder, folder / "generator.safetensors"):
        again = load_generator(path)
        np.testing.assert_array_equal(again.generate(c), gen.generate(c))
        np.testing.assert_array_equal(again.generate(c, seed=5), gen.generate(c, seed=5))
        assert again.condition_ranges == gen.condition_ranges and again.out_shape == gen.out_shape
    with pytest.raises(DataError, match="not found"):
        load_generator(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no generator.safetensors"):
        load_generator(tmp_path / "empty")


def test_onnx_export_matches_torch(tmp_path):
    pytest.importorskip("onnxruntime")
    gen = _small(seed=2)
    rel = export_generator_onnx(gen, tmp_path / "g.onnx")
    assert rel < 1e-4
    import onnxruntime as ort

    sess = ort.InferenceSession(str(tmp_path / "g.onnx"), providers=["CPUExecutionProvider"])
    c = _conditions(6, seed=4).astype(np.float32)
    z = np.zeros((6, gen.latent_dim), np.float32)
    got = sess.run(None, {"conditions": c, "z": z})[0]
    ref = gen.generate(c)
    assert np.max(np.abs(got - ref)) <= 1e-4 * np.max(np.abs(ref))
    # the decoder module shares the generator's state_dict keys (used by `myoflow export`)
    dec = MUAPDecoder.from_config(gen.config())
    dec.load_state_dict(gen.state_dict())
    np.testing.assert_allclose(dec(torch.as_tensor(c), torch.as_tensor(z)).detach().numpy(), ref, rtol=1e-4,
                               atol=1e-5 * np.abs(ref).max())


# ------------------------------------------------------------------ training
@pytest.fixture(scope="module")
def trained():
    c = _conditions(400, seed=10)
    x = _toy_muaps(c)
    est = MuapGeneratorEstimator(hidden=128, n_hidden_layers=2, cond_dim=32, latent_dim=4, encoder_width=64,
                                 time_expert_scales=(0.5, 1.0, 2.0), epochs=50, batch_size=32, lr=2e-3, patience=50,
                                 seed=0)
    est.fit(c[:340], x[:340], validation_data=(c[340:], x[340:]))
    return est


def test_estimator_learns_held_out_conditions(trained):
    ct = _conditions(60, seed=99)
    xt = _toy_muaps(ct)
    err = nrmse(trained.predict(ct), xt)
    zero = nrmse(np.zeros_like(xt), xt)
    from sklearn.base import clone
    from sklearn.exceptions import NotFittedError

    untrained = clone(trained).set_params(epochs=1)
    assert err.mean() < 0.5 * zero.mean()  # far better than a flat line
    assert trained.score(ct, xt) == pytest.approx(-err.mean())
    assert len(trained.history_.val_loss) >= 1 and trained.history_.best_epoch >= 0
    with pytest.raises(NotFittedError, match="not fitted"):
        untrained.predict(ct)


def test_morph_moves_a_muap_towards_new_conditions(trained):
    gen = trained.generator_
    src = _conditions(20, seed=5)
    tgt = src.copy()
    tgt[:, 2] = np.clip(1.0 - src[:, 2], 0, 1)  # move across the grid
    x_src, x_tgt = _toy_muaps(src), _toy_muaps(tgt)
    morphed = gen.morph(x_src, src, tgt)
    assert morphed.shape == x_src.shape
    # closer to the target than the unmoved source MUAP is
    assert nrmse(morphed, x_tgt).mean() < nrmse(x_src, x_tgt).mean()
    # morphing to the same conditions keeps the MUAP (up to the model's error)
    assert nrmse(gen.morph(x_src, src, src), x_src).mean() < 0.5 * nrmse(np.zeros_like(x_src), x_src).mean()


# ------------------------------------------------------------------ split
def test_region_split_keeps_test_regions_out_of_training():
    names = DEFAULT_CONDITIONS
    ranges = DEFAULT_CONDITION_RANGES
    band = 0.1
    c = sample_region_conditions(256, 64, names, ranges, ["depth_mm", "cv_m_s"], band, seed=0)
    u = (c - LO) / (HI - LO)
    assert c.shape == (320, 6)
    pool, ext = u[:256], u[256:]
    assert (pool[:, [1, 4]] <= 1 - band + 1e-12).all()
    assert ((ext[:, [1, 4]] > 1 - band).any(axis=1)).all()
    split, region = assign_split(c, names, ranges, extrapolation_conditions=["depth_mm", "cv_m_s"],
                                 extrapolation_band=band, interpolation_conditions=["fibre_number_log", "angle"],
                                 interpolation_slab=0.1, interpolation_random=0.05, val_fraction=0.1, seed=0)
    assert set(split) == {"train", "val", "interpolation", "extrapolation"}
    assert (split[256:] == "extrapolation").all() and not (split[:256] == "extrapolation").any()
    fit = np.isin(split, ["train", "val"])
    # no training/validation unit inside the held-out slabs (slab centre 0.5 for angle, 0.5 for fibre number)
    assert not (np.abs(u[fit, 0] - 0.5) <= 0.05).any()
    assert not (np.abs(u[fit, 2] - 0.5) <= 0.05).any()
    assert (region[split == "interpolation"] != "").all()
    # the same seed gives the same split
    again, _ = assign_split(c, names, ranges, extrapolation_conditions=["depth_mm", "cv_m_s"], extrapolation_band=band,
                            interpolation_conditions=["fibre_number_log", "angle"], interpolation_slab=0.1,
                            interpolation_random=0.05, val_fraction=0.1, seed=0)
    np.testing.assert_array_equal(split, again)
    from myoflow.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown condition"):
        assign_split(c, names, ranges, extrapolation_conditions=["depth"], extrapolation_band=band,
                     interpolation_conditions=[], interpolation_slab=0.1, interpolation_random=0.0,
                     val_fraction=0.1, seed=0)


# ------------------------------------------------------- adversarial (VAE+GAN)
def _adv_fit(seed: int = 0, **kw):
    c = _conditions(120, seed=12)
    x = _toy_muaps(c)
    params = dict(hidden=32, n_hidden_layers=2, cond_dim=16, latent_dim=4, encoder_width=32, output_rank=16,
                  time_expert_scales=(0.5, 1.0, 2.0), epochs=4, batch_size=32, lr=2e-3, seed=seed,
                  adversarial=True, adv_weight=0.05, disc_width=32)
    params.update(kw)
    return MuapGeneratorEstimator(**params).fit(c[:100], x[:100], validation_data=(c[100:], x[100:]))


def test_adversarial_option_trains_the_discriminator_and_changes_the_decoder():
    gan = _adv_fit()
    # the discriminator stepped on every batch (its own optimiser) and learnt to tell real from fake
    d = gan.history_.alternate_loss["discriminator"]
    assert len(d) == 4 and d[-1] < d[0]
    # same seed, same discriminator updates and noise draws; only the generator's adversarial term differs
    no_term = _adv_fit(adv_weight=0.0)
    dec = {k: v for k, v in gan.generator_.state_dict().items() if not k.startswith("encoder.")}
    ref = no_term.generator_.state_dict()
    assert any(not torch.equal(v, ref[k]) for k, v in dec.items())
    c = _conditions(8, seed=3)
    assert not np.allclose(gan.predict(c), no_term.predict(c))
    # the discriminator is training-only: the generator holds exactly the plain VAE's tensors
    vae = _adv_fit(adversarial=False)
    assert set(gan.generator_.state_dict()) == set(vae.generator_.state_dict())
    assert not any("disc" in k for k in gan.generator_.state_dict())
    assert vae.history_.alternate_loss == {}


def test_adversarial_training_is_deterministic_for_a_seed():
    c = _conditions(6, seed=4)
    a, b, other = _adv_fit(seed=1), _adv_fit(seed=1), _adv_fit(seed=2)
    np.testing.assert_array_equal(a.predict(c), b.predict(c))
    assert a.history_.alternate_loss == b.history_.alternate_loss
    assert not np.allclose(a.predict(c), other.predict(c))


def test_adversarial_generator_save_load_round_trip_and_onnx(tmp_path):
    from myoflow.models import load_estimator, save_estimator

    gan = _adv_fit()
    c = _conditions(5, seed=6)
    save_estimator(gan, tmp_path / "gan.safetensors")
    again = load_estimator(tmp_path / "gan.safetensors")
    assert again.get_params()["adversarial"] is True and again.get_params()["adv_weight"] == 0.05
    np.testing.assert_array_equal(again.predict(c), gan.predict(c))
    folder = save_generator(gan, tmp_path / "gen")
    np.testing.assert_array_equal(load_generator(folder).generate(c, seed=3), gan.generator_.generate(c, seed=3))
    pytest.importorskip("onnxruntime")
    assert export_generator_onnx(gan.generator_, tmp_path / "gan.onnx") < 1e-4  # decoder only


def test_adversarial_parameters_are_validated():
    from myoflow.errors import ConfigError

    c = _conditions(4)
    x = _toy_muaps(c)
    for bad in ({"adversarial": "yes"}, {"adv_weight": -1.0}, {"disc_width": 0}, {"disc_lr": 0.0}):
        with pytest.raises(ConfigError, match="adv|disc"):
            MuapGeneratorEstimator(epochs=1, **bad).fit(c, x)
