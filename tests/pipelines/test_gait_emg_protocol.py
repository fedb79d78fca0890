"""Seed-002 data rules and protocol: envelope floor subtraction, sEMG of a few subjects, crosstalk, paired CI."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from myoflow.biomech.gait_cycles import GaitCycles, subtract_emg_floor
from myoflow.errors import ConfigError, DataError
from myoflow.experiments import load_config

from .test_gait_emg import TINY, tiny  # noqa: F401  (module-scoped fixture)


def _cycles(emg: np.ndarray, trials: list[str]) -> GaitCycles:
    n = emg.shape[0]
    md = pd.DataFrame({"subject": ["06"] * n, "trial": trials, "cycle": np.arange(n)})
    return GaitCycles(angles=np.zeros((n, 3, emg.shape[2])), moments=np.zeros((n, 2, emg.shape[2])), emg=emg,
                      durations=np.ones(n), metadata=md, moment_names=("a", "b"), muscles=("SOL", "GM"))


def test_floor_is_removed_per_trial_and_muscle():
    rng = np.random.default_rng(0)
    phase = np.linspace(0, 1, 101)
    burst = np.exp(-0.5 * ((phase - 0.4) / 0.08) ** 2)               # silent outside the burst
    emg = np.stack([np.stack([burst, 2 * burst]) for _ in range(8)]) * rng.uniform(0.9, 1.1, (8, 1, 1))
    emg[4:, 0] += 0.7                                                 # trial B, muscle 0: a baseline offset
    c, floors = subtract_emg_floor(_cycles(emg, ["A"] * 4 + ["B"] * 4), percentile=1.0)
    assert floors.shape == (2, 2)
    assert floors.loc["06/B"].iloc[0] == pytest.approx(0.7, abs=1e-3)
    assert floors.loc["06/A"].abs().max() < 1e-3 and floors.loc["06/B"].iloc[1] < 1e-3
    # after the rule both trials have the same (offset-free) shape; amplitudes untouched
    np.testing.assert_allclose(c.emg[4:, 0].min(), 0.0, atol=1e-12)
    np.testing.assert_allclose(c.emg[4:, 0].max(-1), emg[4:, 0].max(-1) - 0.7, atol=2e-3)
    assert (c.emg >= 0).all()
    with pytest.raises(DataError, match="percentile"):
        subtract_emg_floor(c, percentile=60)


def test_floor_config_and_real_only_source():
    cfg = load_config({**TINY, "data": {**TINY["data"], "emg_floor_percentile": 1.0}})
    assert cfg.data.emg_floor_percentile == 1.0
    with pytest.raises(ConfigError, match="emg_floor_percentile"):
        load_config({**TINY, "data": {**TINY["data"], "emg_floor_percentile": 75}})
    with pytest.raises(ConfigError, match="emg_subjects"):
        load_config({**TINY, "evaluate": {**TINY["evaluate"], "emg_subjects": 0}})
    from myoflow.pipelines.gait_emg.pipeline import load_gait_data

    with pytest.raises(ConfigError, match="data.real"):
        load_gait_data(load_config({**TINY, "data": {**TINY["data"], "source": "real", "real": False}}))


def test_torque_model_uses_unlabelled_rows_per_stage():
    """NaN sEMG rows train the torque MLP only; the sEMG stage sees the labelled rows alone."""
    from myoflow.models.gait_mlp import TorqueBasedEmgRegressor

    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 6))
    T = X[:, :2] @ rng.normal(size=(2, 3))
    E = np.abs(X[:, 2:4] @ rng.normal(size=(2, 2)))
    kw = dict(torque_hidden=(8, 6), added_hidden=5, n_emg=2, epochs=2, torque_epochs=2, batch_size=64, seed=0)
    few = np.where((np.arange(400) < 100)[:, None], E, np.nan)
    a = TorqueBasedEmgRegressor(**kw).fit(X, np.hstack([few, T]))
    # the same as fitting stage 2 on the first 100 rows: identical torque scaler from all 400 rows
    np.testing.assert_allclose(a.torque_scaler_.mean_, T.mean(0))
    b = TorqueBasedEmgRegressor(**kw).fit(X, np.hstack([E, T]))
    # stage 1 saw the same 400 rows of moments (frozen fine-tuning keeps them): identical torque MLPs
    np.testing.assert_allclose(a.predict_torques(X), b.predict_torques(X), rtol=1e-6)
    assert np.isfinite(a.predict(X)).all() and not np.allclose(a.predict(X), b.predict(X))
    bad = few.copy()
    bad[150, 0] = 1.0                                                  # half a row labelled: an error
    with pytest.raises(DataError, match="partly NaN"):
        TorqueBasedEmgRegressor(**kw).fit(X, np.hstack([bad, T]))
    with pytest.raises(DataError, match="both stages"):
        TorqueBasedEmgRegressor(**kw).fit(X, np.hstack([np.full_like(E, np.nan), T]))


def test_emg_subjects_fold_and_paired_subject_ci(tiny, tmp_path):  # noqa: F811
    from myoflow.experiments.base import FoldContext
    from myoflow.experiments.registry import get_pipeline

    cfg, data = tiny
    cfg = load_config({**TINY, "evaluate": {**TINY["evaluate"], "emg_subjects": 1}})
    pipe = get_pipeline("gait-emg")
    folds = pipe.folds(cfg, data)
    ctx = FoldContext(seed=7, device="cpu", workdir=tmp_path)
    res = [pipe.run_fold(cfg, data, f, ctx) for f in folds]
    for r in res:
        train = set(r.extras["train_subjects"]) | set(r.extras["val_subjects"])
        assert len(r.extras["emg_subjects"]) == 1 and set(r.extras["emg_subjects"]) <= train
        assert not set(r.extras["emg_subjects"]) & set(r.extras["test_groups"])
    again = pipe.run_fold(cfg, data, folds[0], ctx)
    assert again.metrics == res[0].metrics and again.extras["emg_subjects"] == res[0].extras["emg_subjects"]
    summary = pipe.summarize(cfg, data, res)
    d = summary["conditions"]["sim"]["torque_minus_baseline_subject_bootstrap"]
    assert d["n_subjects"] == 4
    for key in ("pooled", "per_subject"):
        assert d[key]["ci_low"] <= d[key]["mean"] <= d[key]["ci_high"]
    # the pooled point estimate is the difference of the two routes' pooled mean R²
    sim = summary["conditions"]["sim"]
    assert d["pooled"]["mean"] == pytest.approx(sim["torque_based"]["r2_ens_pooled_mean_over_channels"]
                                                - sim["baseline"]["r2_ens_pooled_mean_over_channels"], abs=1e-9)
    with pytest.raises(ConfigError, match="emg_subjects 9"):
        pipe.run_fold(load_config({**TINY, "evaluate": {**TINY["evaluate"], "emg_subjects": 9}}), data, folds[0], ctx)


def test_crosstalk_matrix_and_switch():
    from myoflow.simulate.protocols.gait import CROSSTALK, GAIT_MUSCLES, crosstalk_matrix, simulate_gait

    W = crosstalk_matrix(np.random.default_rng(3))
    np.testing.assert_array_equal(np.diag(W), 1.0)
    idx = {m: i for i, m in enumerate(GAIT_MUSCLES)}
    for dst, src, lo, hi in CROSSTALK:
        assert lo <= W[idx[dst], idx[src]] <= hi
    assert (W > 0).sum() == len(GAIT_MUSCLES) + len(CROSSTALK)
    on, parts = simulate_gait(1, 0, 2, fs_sim=2048.0)
    off, _ = simulate_gait(1, 0, 2, fs_sim=2048.0, crosstalk=False)
    e_on, e_off = on[0]["emg"].data, off[0]["emg"].data
    np.testing.assert_array_equal(on[0]["excitation"].data, off[0]["excitation"].data)  # drawn before
    w = np.eye(len(GAIT_MUSCLES))
    for dst, src, *_ in CROSSTALK:
        w[idx[dst], idx[src]] = parts[f"true_crosstalk_{dst}_from_{src}"].iloc[0]
    np.testing.assert_allclose(e_on, w @ e_off, rtol=1e-5, atol=1e-9)


def test_sim_variability_reaches_the_simulator_and_the_cache_key(tmp_path):
    """data.sim_variability overrides GaitVariability for the cohort, keys the cache, and is validated."""
    from myoflow.pipelines.gait_emg.pipeline import _sim_cache_key, load_gait_data

    small = {**TINY, "data": {**TINY["data"], "subjects": 3, "strides": 2, "calib_strides": 0}}
    off = {"subject_shape_sd": 0.0, "stride_shape_sd": 0.0, "stride_timing_sd": 0.0, "tonic_max": 0.0}
    cfg_def = load_config(small)
    cfg_off = load_config({**small, "data": {**small["data"], "sim_variability": off}})
    assert _sim_cache_key(cfg_def) != _sim_cache_key(cfg_off)
    a = load_gait_data(cfg_def, tmp_path).sim
    b = load_gait_data(cfg_off, tmp_path).sim
    np.testing.assert_array_equal(a.angles, b.angles)  # the walks are the same draws
    assert not np.allclose(a.emg, b.emg)                # the excitation layer is not
    assert len(list((tmp_path / "gait_emg").glob("sim-*.npz"))) == 2
    with pytest.raises(ConfigError, match="unknown keys"):
        load_config({**small, "data": {**small["data"], "sim_variability": {"subject_sd": 0.1}}})
    with pytest.raises(ConfigError, match=">= 0"):
        load_config({**small, "data": {**small["data"], "sim_variability": {"tonic_max": -1}}})
