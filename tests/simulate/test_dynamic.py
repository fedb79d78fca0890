"""Dynamic-movement protocol: shapes, determinism, dependence on the angle trajectory, CLI."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from myoflow.errors import ConfigError, DataError  # noqa: E402
from myoflow.models.muap_generator import MUAPGenerator, validate_conditions  # noqa: E402
from myoflow.simulate.protocols.dynamic import (  # noqa: E402
    angle_trajectory,
    draw_units,
    dynamic_conditions,
    fibre_length_from_angle,
    simulate_dynamic,
)
from myoflow.train.seeding import torch_seed  # noqa: E402


@pytest.fixture(scope="module")
def generator():
    # An untrained but seeded generator (accuracy is tested with the pipeline). Its first
    # condition layer is scaled up so that MUAPs depend strongly on the conditions, as a
    # trained generator's do; that dependence is what these tests follow through the protocol.
    with torch_seed(0):
        gen = MUAPGenerator((5, 4, 48), hidden=32, n_hidden_layers=2, cond_dim=16, latent_dim=4, encoder_width=16,
                            time_expert_scales=(0.5, 1.0, 2.0))
        with torch.no_grad():
            gen.cond_embed[0].weight.mul_(20.0)
    gen.logamp_mean.fill_(np.log(50e-6))
    return gen.eval()


def test_conditions_follow_length_and_stay_in_range(generator):
    rng = np.random.default_rng(0)
    units = draw_units(60, rng, generator.condition_ranges)
    lam = np.array([0.85, 1.0, 1.15])
    c = dynamic_conditions(units, lam, generator.condition_names)
    assert c.shape == (60, 3, 6)
    validate_conditions(c.reshape(-1, 6), generator.condition_names, generator.condition_ranges)
    names = list(generator.condition_names)
    depth, cv, fl = c[..., names.index("depth_mm")], c[..., names.index("cv_m_s")], c[..., names.index("fibre_length_scale")]
    np.testing.assert_allclose(fl, np.broadcast_to(lam, fl.shape))
    # shorter fibres: thicker muscle (deeper units) and faster conduction (larger diameter)
    assert (depth[:, 0] > depth[:, 2]).all() and (cv[:, 0] > cv[:, 2]).all()
    ang = angle_trajectory("sine", 2.0, 100.0, angle_range_deg=(30, 120), cycle_hz=1.0)
    assert ang.min() == pytest.approx(30) and ang.max() == pytest.approx(120, abs=0.1)
    length = fibre_length_from_angle(ang, (30, 120))
    assert length[np.argmin(ang)] == pytest.approx(1.15) and length.min() == pytest.approx(0.85, abs=1e-3)
    with pytest.raises(ConfigError, match="unknown movement"):
        angle_trajectory("jump", 1.0, 100.0)


def test_dynamic_emg_shape_and_determinism(generator):
    ang = angle_trajectory("sine", 1.5, 100.0, angle_range_deg=(30, 120), cycle_hz=1.0)
    kw = dict(angle_range_deg=(30, 120), n_units=40, excitation=0.4, update_hz=10.0, seed=3)
    trial = simulate_dynamic(generator, ang, 100.0, **kw)
    emg = trial["emg"]
    assert emg.n_channels == 20 and emg.grid_shape == (5, 4) and emg.fs == generator.fs
    assert emg.n_samples == int(round(1.5 * generator.fs))
    assert trial["angle"].n_samples == ang.size and trial["fibre_length"].n_samples == ang.size
    firings = emg.events[emg.events["kind"] == "mu_firing"]
    assert len(firings) > 50 and firings["unit"].nunique() == trial.meta["truth"]["n_recruited"] > 0
    assert 1e-7 < np.std(emg.data) < 1e-2  # volts, plausible sEMG scale
    again = simulate_dynamic(generator, ang, 100.0, **kw)
    np.testing.assert_array_equal(again["emg"].data, emg.data)


def test_dynamic_emg_changes_with_the_angle_trajectory(generator):
    rng = np.random.default_rng(1)
    units = draw_units(30, rng, generator.condition_ranges)
    kw = dict(angle_range_deg=(30, 120), excitation=0.5, update_hz=10.0, seed=5, noise=False, units=units)
    flexed = simulate_dynamic(generator, np.full(100, 120.0), 100.0, **kw)["emg"].data
    extended = simulate_dynamic(generator, np.full(100, 30.0), 100.0, **kw)["emg"].data
    moving = simulate_dynamic(generator, angle_trajectory("ramp", 1.0, 100.0, angle_range_deg=(30, 120)), 100.0,
                              **kw)["emg"].data
    same = simulate_dynamic(generator, np.full(100, 120.0), 100.0, **kw)["emg"].data
    np.testing.assert_array_equal(flexed, same)
    # same spike trains (same seed), different MUAPs → different EMG
    assert np.abs(flexed - extended).max() > 0.05 * np.abs(flexed).max()
    # a ramp from extended to flexed starts like the extended and ends like the flexed contraction
    n = moving.shape[1]
    head, tail = slice(0, n // 8), slice(n - n // 8, n)

    def dist(a, b):
        return np.linalg.norm(a - b)

    assert dist(moving[:, head], extended[:, head]) < dist(moving[:, head], flexed[:, head])
    assert dist(moving[:, tail], flexed[:, tail]) < dist(moving[:, tail], extended[:, tail])


def test_dynamic_rejects_bad_input(generator):
    with pytest.raises(DataError, match="angle trajectory"):
        simulate_dynamic(generator, np.array([np.nan, 1.0, 2.0]), 100.0, angle_range_deg=(30, 120))
    with pytest.raises(ConfigError, match="length_range"):
        simulate_dynamic(generator, np.full(50, 60.0), 100.0, angle_range_deg=(30, 120), length_range=(0.7, 1.2))


def test_cli_writes_a_dataset_folder(generator, tmp_path):
    from click.testing import CliRunner

    from myoflow.io.dataset import load_dataset
    from myoflow.models.muap_generator import save_generator
    from myoflow.simulate.protocols.dynamic import cli_command

    gdir = save_generator(generator, tmp_path / "gen")
    out = tmp_path / "dyn"
    res = CliRunner().invoke(cli_command, ["--generator", str(gdir), "--out", str(out), "--subjects", "2",
                                           "--duration", "0.6", "--units", "20", "--seed", "4", "--plots"])
    assert res.exit_code == 0, res.output
    ds = load_dataset(out)
    assert len(ds) == 2 and list(ds.participants["subject"]) == ["D001", "D002"]
    stem, trial = next(iter(ds))
    assert set(trial.names) == {"emg", "angle", "fibre_length"}
    assert trial["emg"].n_channels == 20
    assert (out / "plots" / "D001_dynamic.png").is_file()
