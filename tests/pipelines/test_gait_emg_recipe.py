"""Seed-002 recipe options: shifted / phase inputs, the real-trial cycle rules, baseline-drift cleaning, ensembles."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from myoflow.biomech.gait_cycles import GaitCycles, baseline_drift_cycles
from myoflow.biomech.gait_trials import CycleRules, plausible_cycles
from myoflow.errors import ConfigError, DataError
from myoflow.experiments import load_config
from myoflow.pipelines.gait_emg.features import input_names, kinematic_inputs
from myoflow.pipelines.gait_emg.pipeline import drop_drifting_training_cycles, predict_ensemble


def _periodic_angles(n=3, P=101, seed=0):
    rng = np.random.default_rng(seed)
    ph = 2 * np.pi * np.arange(P) / (P - 1)
    a = np.stack([[rng.normal() * np.sin(ph + rng.uniform(0, 6)) + rng.normal() for _ in range(3)] for _ in range(n)])
    return a  # (n, 3, P), exactly periodic: point P-1 == point 0


def test_shifted_inputs_read_later_points_and_wrap():
    a = _periodic_angles()
    dur = np.array([1.0, 0.5, 2.0])
    x = kinematic_inputs(a, dur, ["angles"], shifts_ms=[100.0, -50.0])
    assert x.shape == (3, 9, 101)
    # 100 ms of a 1 s cycle = 10 points (of 100 per period); of a 0.5 s cycle = 20 points
    np.testing.assert_allclose(x[0, 3:6, 5], a[0, :, 15])
    np.testing.assert_allclose(x[1, 3:6, 5], a[1, :, 25])
    np.testing.assert_allclose(x[0, 3:6, 95], a[0, :, 5])       # wraps past the next heel strike
    np.testing.assert_allclose(x[2, 6:9, 10], a[2, :, 7] * 0.5 + a[2, :, 8] * 0.5)  # -50 ms of 2 s = -2.5 pts, linear
    np.testing.assert_allclose(x[:, :3], a)                      # unshifted block first


def test_phase_inputs_and_names():
    a = _periodic_angles(2)
    x = kinematic_inputs(a, np.ones(2), ["angles", "velocity", "phase"], shifts_ms=[60])
    names = input_names(["angles", "velocity", "phase"], [60])
    assert x.shape[1] == len(names) == 6 * 2 + 2
    assert names[-2:] == ["phase_sin", "phase_cos"] and names[6] == "hip_angles@+60ms"
    np.testing.assert_allclose(x[:, -2, 25], 1.0, atol=1e-12)   # sin at 25 % of the cycle
    np.testing.assert_allclose(x[:, -1, 0], 1.0)
    with pytest.raises(ConfigError):
        kinematic_inputs(a, np.ones(2), ["phase"])                # phase alone is not kinematics
    # negative shifts are valid config values (read earlier in the cycle)
    cfg = load_config({"name": "g", "pipeline": "gait-emg", "preprocess": {"shifts_ms": [-60, 60]}})
    assert cfg.preprocess.shifts_ms == [-60.0, 60.0]


def test_tighter_duration_rule_drops_a_misdetected_heel_strike():
    # a spurious heel strike 0.19 s early: one 0.95 s and one 1.33 s cycle among 1.14 s ones
    d = [1.14] * 5 + [0.95, 1.33] + [1.14] * 5
    hs = np.concatenate([[0.0], np.cumsum(d)])
    keep_loose, _ = plausible_cycles(hs, CycleRules(max_rel_dev=0.3))
    keep, counts = plausible_cycles(hs, CycleRules(max_rel_dev=0.1))
    assert len(keep_loose) == 12
    assert counts["off_median"] == 2 and 5 not in keep and 6 not in keep and len(keep) == 10


def _cycles(n=30, trial="walk36", drift_from=None, burst_at=None, seed=0):
    rng = np.random.default_rng(seed)
    P = 51
    ph = np.linspace(0, 1, P)
    emg = np.stack([np.stack([0.1 + np.exp(-((ph - c) / 0.08) ** 2) for c in np.linspace(0.1, 0.9, 7)])
                    * rng.uniform(0.8, 1.2, (7, 1)) for _ in range(n)])
    if drift_from is not None:
        emg[drift_from:, 2] += np.linspace(0.3, 1.5, n - drift_from)[:, None]   # VL's floor climbs
    if burst_at is not None:
        emg[burst_at, 4] += 0.5                                                   # one co-contracted cycle
    md = pd.DataFrame({"subject": "06", "trial": trial, "cycle": np.arange(n)})
    return GaitCycles(angles=np.zeros((n, 3, P)), moments=np.zeros((n, 1, P)), emg=emg,
                      durations=np.ones(n), metadata=md, moment_names=("m",))


def test_baseline_drift_flags_a_sustained_floor_rise_not_one_cycle():
    flagged = baseline_drift_cycles(_cycles(drift_from=22, burst_at=8))
    assert not flagged[:20].any()           # the single raised cycle is smoothed away
    assert flagged[24:].all()
    assert not baseline_drift_cycles(_cycles()).any()
    with pytest.raises(DataError):
        baseline_drift_cycles(_cycles(), ratio=1.0)


def test_drift_cleaning_touches_the_training_trial_only():
    both = GaitCycles.concatenate([_cycles(drift_from=22), _cycles(trial="walk45", drift_from=22, seed=1)])
    out, n = drop_drifting_training_cycles(both, "walk36", 2.0)
    assert n >= 6
    assert (out.metadata["trial"] == "walk45").sum() == 30          # test trial scored whole
    assert (out.metadata["trial"] == "walk36").sum() == 30 - n


def test_ensemble_averages_members_and_first_member_is_the_single_model():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 6))
    E = np.tanh(X[:, :3] @ rng.normal(size=(3, 7)))
    base = {"name": "g", "pipeline": "gait-emg", "baseline": {"name": "kinematics_emg_mlp",
                                                             "params": {"hidden": [8, 8]}}}
    train = {"epochs": 3, "batch_size": 64, "lr": 1e-3, "patience": 3}
    one, [m1] = predict_ensemble(load_config(base), "baseline", train, X[:300], E[:300], (X[300:350], E[300:350]),
                                 X[350:], seed=5)
    cfg3 = load_config({**base, "evaluate": {"ensemble": 3}})
    avg, members = predict_ensemble(cfg3, "baseline", train, X[:300], E[:300], (X[300:350], E[300:350]),
                                    X[350:], seed=5)
    assert len(members) == 3
    np.testing.assert_array_equal(members[0].predict(X[350:]), one)
    np.testing.assert_allclose(avg, np.mean([m.predict(X[350:]) for m in members], axis=0), rtol=1e-6)
    assert not np.allclose(members[1].predict(X[350:]), one)       # members differ by seed
    with pytest.raises(ConfigError):
        load_config({**base, "evaluate": {"ensemble": 0}})


def test_paired_block_bootstrap_of_one_trial():
    from myoflow.evaluate.metrics import r2_ensemble_average
    from myoflow.pipelines.gait_emg.pipeline import _paired_block_bootstrap
    from myoflow.pipelines.gait_emg.scoring import prediction_frame

    rng = np.random.default_rng(3)
    c = _cycles(n=23)
    names = tuple(f"M{i}" for i in range(7))
    good = c.emg + rng.normal(0, 0.05, c.emg.shape)
    bad = 0.7 * c.emg + 0.1 + rng.normal(0, 0.05, c.emg.shape)
    part = pd.concat([prediction_frame("torque_based", c.metadata, c.emg, good, names),
                      prediction_frame("baseline", c.metadata, c.emg, bad, names)], ignore_index=True)
    out = _paired_block_bootstrap(part, names, 300, 0)
    direct = r2_ensemble_average(c.emg, good).mean() - r2_ensemble_average(c.emg, bad).mean()
    assert out["mean"] == pytest.approx(direct, rel=1e-5)
    assert out["ci_low"] <= out["mean"] <= out["ci_high"] and out["ci_low"] > 0
    assert out["n_blocks"] == 5                                    # 23 cycles in blocks of 5
    same = pd.concat([prediction_frame(m, c.metadata, c.emg, good, names) for m in ("torque_based", "baseline")])
    z = _paired_block_bootstrap(same, names, 100, 0)
    assert z["mean"] == pytest.approx(0, abs=1e-7) and z["ci_high"] - z["ci_low"] == pytest.approx(0, abs=1e-7)


@pytest.mark.realdata
def test_walk36_rules_remove_the_missegmented_cycles_and_the_vl_drift(shared_data):
    from myoflow.io.datasets.small import load_ceinms_gait
    from myoflow.pipelines.gait_emg.pipeline import _cycles_from_trials

    trials = {"walk36": load_ceinms_gait(shared_data / "ceinms-gait")["walk36"]}
    loose = load_config({"name": "g", "pipeline": "gait-emg"})
    tight = load_config({"name": "g", "pipeline": "gait-emg", "data": {"real_cycle_max_dev": 0.1}})
    c_loose = _cycles_from_trials(list(trials.items()), loose, real=True)
    c = _cycles_from_trials(list(trials.items()), tight, real=True)
    assert len(c_loose) - len(c) == 6                                # 3 short + long pairs
    assert np.abs(c.durations / np.median(c.durations) - 1).max() <= 0.1
    assert np.abs(c_loose.durations / np.median(c_loose.durations) - 1).max() > 0.1
    flagged = baseline_drift_cycles(c)
    assert flagged.sum() == 6 and flagged[-6:].all()                 # VL's floor climbs in the last cycles
    vl = list(c.muscles).index("VL")
    floor = np.percentile(c.emg[:, vl], 20, axis=1)
    assert np.median(floor[flagged]) > 2 * np.median(floor[~flagged])   # (the rule smooths over 5 cycles)
