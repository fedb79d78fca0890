"""Gait-EMG pipeline on a tiny simulated cohort and on the real CEINMS trials (run_fold / summarize directly)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from myoflow.experiments import load_config
from myoflow.errors import ConfigError
from myoflow.experiments.base import FoldContext
from myoflow.experiments.registry import get_pipeline
from myoflow.biomech.gait_cycles import MUSCLES, normalise_emg, trial_to_cycles
from myoflow.pipelines.gait_emg.features import from_rows, kinematic_inputs, to_rows
from myoflow.pipelines.gait_emg.pipeline import GaitData, load_gait_data

TINY = {
    "name": "gait-tiny", "pipeline": "gait-emg", "seed": 1,
    "data": {"subjects": 4, "strides": 3, "calib_strides": 2, "fs_sim": 2048.0, "real": False, "cache": True},
    "model": {"name": "torque_emg_mlp", "params": {"torque_hidden": [16, 12], "added_hidden": 10, "torque_epochs": 3}},
    "baseline": {"name": "kinematics_emg_mlp", "params": {"hidden": [16, 12]}},
    "train": {"epochs": 3, "batch_size": 128, "patience": 3, "val_fraction": 0.3},
    "evaluate": {"n_splits": 2, "n_boot": 20},
}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    cfg = load_config(TINY)
    cache = tmp_path_factory.mktemp("cache")
    data = load_gait_data(cfg, cache)
    data.info["cache_dir"] = str(cache)
    return cfg, data


def test_cache_returns_identical_cycles(tiny):
    from pathlib import Path

    cfg, data = tiny
    files = list((Path(data.info["cache_dir"]) / "gait_emg").glob("sim-*.npz"))
    assert len(files) == 1
    again = load_gait_data(cfg, Path(data.info["cache_dir"]))
    for k in ("angles", "moments", "emg", "durations"):
        np.testing.assert_array_equal(getattr(again.sim, k), getattr(data.sim, k))
    pd.testing.assert_frame_equal(again.sim.metadata, data.sim.metadata)


def test_config_validation():
    with pytest.raises(ConfigError, match="unknown config key"):
        load_config({**TINY, "model": {"widths": [3]}})
    with pytest.raises(ConfigError, match=r"model\.params\.torque_hiden: unknown parameter of TorqueBasedEmgRegressor "
                                          r"\(did you mean 'torque_hidden'\?\)"):
        load_config({**TINY, "model": {"name": "torque_emg_mlp", "params": {"torque_hiden": [3]}}})
    with pytest.raises(ConfigError, match="data.path"):
        load_config({**TINY, "data": {"source": "folder"}})
    with pytest.raises(ConfigError, match=r"data\.calib_strides: must be >= 0"):
        load_config({**TINY, "data": {**TINY["data"], "calib_strides": -1}})
    with pytest.raises(ConfigError, match="finetune"):
        load_config({**TINY, "model": {"name": "torque_emg_mlp", "params": {"finetune": "sometimes"}}})


def test_shipped_config_loads():
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "src" / "myoflow" / "configs" / "gait_emg.yaml"
    full, quick = load_config(path), load_config(path, quick=True)
    assert full.data.subjects == 22 and quick.data.subjects < full.data.subjects
    # finetune full + 3-model ensembles: chosen inside walk36 (benchmarks/results/selection/gait_emg_walk36.json)
    assert full.model.params["added_hidden"] == 152 and full.model.params["finetune"] == "full"
    assert full.evaluate.ensemble == 3 and quick.evaluate.ensemble == 1
    assert full.data.real_cycle_max_dev == 0.1 and full.data.real_train_drift_ratio == 2.0
    assert full.data.emg_floor_percentile == 1.0  # a priori: results/selection/gait_emg_floor_apriori.json
    assert full.evaluate.emg_subjects == 6  # chosen on sim seeds 1 and 3: results/selection/gait_sim_protocol_seed13_v3.json
    assert quick.model.params["torque_epochs"] < full.model.params["torque_epochs"]


def test_features_roundtrip():
    rng = np.random.default_rng(0)
    ang = rng.normal(size=(4, 3, 11))
    x = kinematic_inputs(ang, np.full(4, 1.0), ["angles", "velocity"])
    assert x.shape == (4, 6, 11)
    np.testing.assert_allclose(x[:, 3:, 5], (ang[:, :, 6] - ang[:, :, 4]) / 2 / 0.1)  # deg/s, dt = 1 s / 10
    np.testing.assert_array_equal(from_rows(to_rows(x), 4, 11), x)
    with pytest.raises(ConfigError):
        kinematic_inputs(ang, np.ones(4), ["jerk"])


def test_cycles_and_normalisation(tiny):
    """Scored cycles are normalised by each subject's calibration strides, which are not scored."""
    from myoflow.pipelines.gait_emg.pipeline import _cycles_from_trials
    from myoflow.simulate.protocols.gait import simulate_gait

    cfg, data = tiny
    c = data.sim
    assert c.emg.shape[1:] == (7, 101) and c.angles.shape[1:] == (3, 101) and c.moments.shape[1] == 9
    assert len(c) == 4 * 3 and data.info["calib_strides"] == 2
    assert 1.0 < c.moments[:, 6].max() < 3.0  # ankle plantarflexor moment in N·m/kg
    # the same walks cut by hand: 2 calibration + 3 scored cycles per subject
    trials, _ = simulate_gait(4, cfg.data.sim_seed, 5, fs_sim=cfg.data.fs_sim)
    raw = _cycles_from_trials([("walk", t) for t in trials], cfg)
    subj = raw.metadata["subject"].to_numpy()
    scored = raw.metadata["cycle"].to_numpy() >= 2
    for s in c.subjects():
        calib = raw.emg[(subj == s) & ~scored]
        mine = c.emg[(c.metadata["subject"] == s).to_numpy()]
        # divisor = peak of the calibration strides' ensemble average, not of the scored cycles'
        np.testing.assert_allclose(mine, raw.emg[(subj == s) & scored] / calib.mean(0).max(-1)[None, :, None],
                                   rtol=1e-9)
        assert not np.allclose(mine.mean(0).max(-1), 1.0, rtol=1e-6)
    assert not set(zip(c.metadata["subject"], c.metadata["cycle"])) & set(zip(subj[~scored], raw.metadata["cycle"][~scored]))


def test_run_fold_and_summary(tiny, tmp_path):
    cfg, data = tiny
    pipe = get_pipeline("gait-emg")
    folds = pipe.folds(cfg, data)
    assert [f.condition for f in folds] == ["sim", "sim", "final"]
    for f in folds:
        assert not set(f.payload["train"]) & set(f.payload["test"])
    ctx = FoldContext(seed=7, device="cpu", workdir=tmp_path)
    # the final fold: both routes trained on every subject (fit + early-stopping subjects), nothing scored
    fin = pipe.run_fold(cfg, data, folds[-1], ctx)
    assert fin.metrics == {} and len(fin.predictions) == 0 and fin.extras["test_groups"] == []
    assert sorted(fin.extras["train_subjects"] + fin.extras["val_subjects"]) == sorted(map(str, data.sim.subjects()))
    assert {"torque_based", "baseline"} <= set(fin.state_dicts)
    no_final = load_config({**TINY, "evaluate": {**TINY.get("evaluate", {}), "final_model": False}})
    assert [f.condition for f in pipe.folds(no_final, data)] == ["sim", "sim"]
    res = pipe.run_fold(cfg, data, folds[0], ctx)
    again = pipe.run_fold(cfg, data, folds[0], ctx)
    assert res.metrics == again.metrics  # deterministic given the fold seed
    assert set(res.metrics) == {"torque_based", "baseline", "torque_mlp"}
    assert {f"r2_ens_{m}" for m in MUSCLES} <= set(res.metrics["torque_based"])
    assert res.extras["torque_weight_drift"] == 0.0  # frozen torque layers
    assert not set(res.extras["test_groups"]) & set(res.extras["train_subjects"] + res.extras["val_subjects"])
    p = res.predictions
    n_test = res.extras["n_test_cycles"]
    assert len(p[p["model"] == "baseline"]) == n_test * 101
    assert {"truth_TA", "pred_SOL", "truth_ankle_sagittal"} <= set(p.columns)
    res2 = pipe.run_fold(cfg, data, folds[1], ctx)
    summary = pipe.summarize(cfg, data, [res, res2])
    sim = summary["conditions"]["sim"]
    assert sim["torque_based"]["n_groups"] == 4
    rows = pipe.headline(summary)
    assert len(rows) == 21 and rows[0].paper == 0.737  # + the paired subject-bootstrap differences (2)
    labels = [r.label for r in rows]
    assert labels.index("sim mean R² of ensemble averages, baseline, per-subject median") \
        == labels.index("sim mean R² of ensemble averages, baseline, pooled over test subjects") + 1
    assert "per-subject median" in rows[0].note and summary["variability"]["sim"]["cycle"]["n"] == 4 * 3
    for model in ("torque_based", "baseline"):  # pooled and per-subject median side by side
        e = sim[model]
        assert set(e["r2_ens_median"]) == set(e["r2_ens_pooled"]) == set(MUSCLES)
        assert np.isfinite(e["r2_ens_median_mean_over_channels"])
    figs = pipe.figures(cfg, summary, pd.concat([r.predictions.assign(condition=r.condition) for r in (res, res2)]),
                        tmp_path)
    assert figs and all(p.is_file() and p.stat().st_size > 10_000 for _, p in figs)


@pytest.mark.realdata
def test_real_ceinms_cycles_and_fold(shared_data, tmp_path):
    from myoflow.io.datasets.small import load_ceinms_gait

    trials = load_ceinms_gait(shared_data / "ceinms-gait")
    cyc = {name: trial_to_cycles(trials[name], trial_name=name) for name in ("walk36", "walk45")}
    c36 = cyc["walk36"]
    assert len(c36) > 40 and c36.moment_names == ("hip_sagittal", "hip_frontal", "hip_transverse",
                                                  "knee_sagittal", "ankle_sagittal", "ankle_frontal")
    # extensor convention: ankle plantarflexor peak in late stance, about 1.2-1.8 N·m/kg for walking
    ankle = c36.moments[:, 4].mean(0)
    assert 0.9 < ankle.max() < 2.0 and 35 < ankle.argmax() < 60
    # knee flexion positive (OpenSim's knee_angle is extension-positive): swing peak ≈ 55-70°
    assert 45 < c36.angles[:, 1].mean(0).max() < 80
    from myoflow.biomech.gait_cycles import GaitCycles

    both = GaitCycles.concatenate([cyc["walk36"], cyc["walk45"]])
    both, scales = normalise_emg(both, reference=(both.metadata["trial"] == "walk36").to_numpy())
    ref = both.select((both.metadata["trial"] == "walk36").to_numpy())
    np.testing.assert_allclose(ref.emg.mean(0).max(-1), 1.0, rtol=1e-9)
    cfg = load_config({**TINY, "data": {**TINY["data"], "real": True}})
    data = GaitData(sim=None, real={"walk36": ref, "walk45": both.select((both.metadata["trial"] == "walk45").to_numpy())})
    pipe = get_pipeline("gait-emg")
    folds = pipe.folds(cfg, data)
    assert [f.id for f in folds] == ["real-walk45"]
    res = pipe.run_fold(cfg, data, folds[0], FoldContext(seed=1, device="cpu", workdir=tmp_path))
    assert res.condition == "real/walk45" and res.extras["test_groups"] == ["walk45"]
    assert np.isfinite(res.metrics["torque_based"]["r2_ens_mean"])


def test_folder_source_and_inverse_dynamics_fallback(tmp_path):
    """A user's dataset folder without a moments stream: moments come from 2-D inverse dynamics."""
    from myoflow.io.dataset import write_dataset
    from myoflow.simulate.protocols.gait import simulate_gait

    trials, parts = simulate_gait(2, seed=4, n_strides=3, fs_sim=2048.0)
    full = trial_to_cycles(trials[0])
    stripped = [t.replace(streams={k: v for k, v in t.streams.items() if k != "moments"}) for t in trials]
    write_dataset(tmp_path / "ds", ((f"{t.subject}/walk", t) for t in stripped), parts, {"protocol": "gait"})
    cfg = load_config({**TINY, "data": {"source": "folder", "path": str(tmp_path / "ds"), "real": False}})
    data = load_gait_data(cfg)
    c = data.sim
    assert c.moment_names == ("hip_sagittal", "knee_sagittal", "ankle_sagittal")
    assert sorted(c.subjects()) == sorted(t.subject for t in trials)
    mine = c.select((c.metadata["subject"] == trials[0].subject).to_numpy())
    for j, k in enumerate((0, 3, 6)):  # same sagittal moments as the simulator's own inverse dynamics
        r = np.corrcoef(mine.moments[:, j].ravel(), full.moments[:, k].ravel())[0, 1]
        assert r > 0.99, (j, r)
