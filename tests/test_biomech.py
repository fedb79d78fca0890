"""2-D inverse dynamics: hand-computed static cases, free fall, 3-D lever arms, agreement with OpenSim."""
from __future__ import annotations

import numpy as np
import pytest

from myoflow.biomech import (
    foot_geometry,
    moments_from_trial,
    quasi_static_moments_3d,
    sagittal_inverse_dynamics,
    winter_segments,
)
from myoflow.errors import DataError

G = 9.81


def test_winter_segment_table():
    s = winter_segments(70.0, 1.75)
    assert s["thigh"].mass_kg == pytest.approx(7.0)
    assert s["shank"].mass_kg == pytest.approx(0.0465 * 70)
    assert s["foot"].mass_kg == pytest.approx(0.0145 * 70)
    assert s["thigh"].length_m == pytest.approx(0.245 * 1.75)
    assert s["shank"].inertia_kgm2 == pytest.approx(0.0465 * 70 * (0.302 * 0.246 * 1.75) ** 2)
    with pytest.raises(DataError, match="height"):
        winter_segments(70.0, 17.5)


def test_static_standing_hand_computed():
    """Upright leg, foot flat, 700 N under a point 10 cm in front of the ankle."""
    n = 20
    res = sagittal_inverse_dynamics(np.zeros((n, 3)), 100.0, np.tile([0.0, 700.0], (n, 1)), np.full(n, 0.10),
                                    70.0, 1.75, lowpass_hz=None)
    # Hand computation (Winter's foot: 1.45 % of 70 kg; COM half-way from the ankle to the
    # metatarsal heads, which sit 0.72 − 0.19 = 0.53 foot lengths (0.152 H) in front of the ankle).
    foot_com_x = 0.5 * 0.53 * 0.152 * 1.75
    ankle = 700.0 * 0.10 - 0.0145 * 70 * G * foot_com_x
    assert ankle == pytest.approx(69.298, abs=1e-3)
    np.testing.assert_allclose(res.moments[:, 2], ankle, atol=1e-6)   # plantarflexor
    np.testing.assert_allclose(res.moments[:, 1], -ankle, atol=1e-6)  # knee flexor (force in front of the knee)
    np.testing.assert_allclose(res.moments[:, 0], ankle, atol=1e-6)   # hip extensor
    # joint reaction at the ankle carries body weight minus the foot's weight
    np.testing.assert_allclose(res.joint_forces["ankle"][:, 1], -(700.0 - 0.0145 * 70 * G), atol=1e-6)


def test_static_flexed_knee_hand_computed():
    """Thigh vertical, knee flexed 30°, ankle dorsiflexed 30° (foot flat), 500 N at 5 cm before the ankle."""
    H, M, n = 1.80, 80.0, 10
    angles = np.tile([0.0, 30.0, 30.0], (n, 1))
    L_t, L_s = 0.245 * H, 0.246 * H
    hip = np.array([0.0, 1.0])
    knee = hip + [0.0, -L_t]
    ankle = knee + L_s * np.array([np.sin(np.radians(-30)), -np.cos(np.radians(-30))])
    cop = ankle[0] + 0.05
    res = sagittal_inverse_dynamics(angles, 100.0, np.tile([0.0, 500.0], (n, 1)), np.full(n, cop), M, H,
                                    hip_xy=np.tile(hip, (n, 1)), lowpass_hz=None)
    np.testing.assert_allclose(res.positions["ankle"][0], ankle, atol=1e-12)
    m_f, m_s = 0.0145 * M, 0.0465 * M
    foot_com = ankle[0] + 0.5 * 0.53 * 0.152 * H
    shank_com = knee[0] + 0.433 * (ankle[0] - knee[0])
    # sum of external moments (CCW) about each joint from everything distal to it
    ext_ankle = (cop - ankle[0]) * 500 - (foot_com - ankle[0]) * m_f * G
    ext_knee = (cop - knee[0]) * 500 - (foot_com - knee[0]) * m_f * G - (shank_com - knee[0]) * m_s * G
    thigh_com = hip[0]
    ext_hip = (cop - hip[0]) * 500 - (foot_com - hip[0]) * m_f * G - (shank_com - hip[0]) * m_s * G \
        - (thigh_com - hip[0]) * 0.1 * M * G
    # internal: ankle plantarflexor + = external dorsiflexing (CCW) moment; knee extensor + = −external CCW
    np.testing.assert_allclose(res.moments[0], [ext_hip, -ext_knee, ext_ankle], atol=1e-9)
    assert res.moments[0, 1] > 0  # force behind the flexed knee → extensor moment


def test_free_fall_gives_zero_moments():
    """No ground contact and the whole leg accelerating at g: no joint moments or forces are needed."""
    fs, n = 200.0, 200
    t = np.arange(n) / fs
    hip = np.column_stack([0.3 * t, 2.0 - 0.5 * G * t ** 2])
    res = sagittal_inverse_dynamics(np.tile([20.0, 40.0, -10.0], (n, 1)), fs, np.zeros((n, 2)), np.zeros(n), 70.0,
                                    1.75, hip_xy=hip, lowpass_hz=None)
    inner = slice(5, -5)  # np.gradient is one-sided at the ends
    np.testing.assert_allclose(res.moments[inner], 0.0, atol=1e-6)
    np.testing.assert_allclose(res.joint_forces["hip"][inner], 0.0, atol=1e-6)


def test_rotating_leg_needs_inertial_moment():
    """Swinging a rigid leg (no GRF, hip fixed): hip moment = d/dt of angular momentum + gravity torque."""
    fs, n = 500.0, 1000
    t = np.arange(n) / fs
    hip_angle = 20.0 * np.sin(2 * np.pi * 1.0 * t)
    res = sagittal_inverse_dynamics(np.column_stack([hip_angle, np.zeros(n), np.zeros(n)]), fs, np.zeros((n, 2)),
                                    np.zeros(n), 70.0, 1.75, lowpass_hz=None)
    # Hand computation for a rigid straight leg pivoting at the hip (thigh + shank + foot).
    segs = winter_segments(70.0, 1.75)
    foot = foot_geometry(1.75)
    th = np.radians(hip_angle)
    alpha = np.gradient(np.gradient(th, 1 / fs), 1 / fs)
    Lt, Ls = segs["thigh"].length_m, segs["shank"].length_m
    # distances from the hip along the leg (d) and forward offsets in the leg frame (e) of each COM
    parts = [(segs["thigh"], 0.433 * Lt, 0.0), (segs["shank"], Lt + 0.433 * Ls, 0.0),
             (segs["foot"], Lt + Ls - 0.5 * foot.mt_head[1], 0.5 * foot.mt_head[0])]
    I_hip = sum(s.inertia_kgm2 + s.mass_kg * (d ** 2 + e ** 2) for s, d, e in parts)
    # gravity torque about the hip (CCW) of a COM at (e cosθ + d sinθ, −d cosθ + e sinθ)
    grav = sum(-s.mass_kg * G * (e * np.cos(th) + d * np.sin(th)) for s, d, e in parts)
    flexor = I_hip * alpha - grav            # CCW moment the pelvis must apply
    inner = slice(10, -10)
    np.testing.assert_allclose(-res.moments[inner, 0], flexor[inner], rtol=1e-3, atol=1e-2)


def test_quasi_static_3d_signs():
    n = 5
    grf = np.tile([0.0, 700.0, 0.0], (n, 1))
    cop = np.tile([0.0, 0.0, 0.05], (n, 1))           # foot 4 cm medial of the right hip centre
    hip = np.tile([0.0, 0.9, 0.09], (n, 1))
    m = quasi_static_moments_3d(grf, cop, {"hip": hip})["hip"]
    np.testing.assert_allclose(m[:, 1], 700 * 0.04, atol=1e-9)  # abductor moment resists adduction
    np.testing.assert_allclose(m[:, 0], 0.0, atol=1e-9)


def test_bad_inputs_raise():
    with pytest.raises(DataError, match="shape"):
        sagittal_inverse_dynamics(np.zeros((10, 2)), 100.0, np.zeros((10, 2)), np.zeros(10), 70, 1.75)
    bad = np.zeros((10, 3))
    bad[3, 1] = np.nan
    with pytest.raises(DataError, match="NaN"):
        sagittal_inverse_dynamics(bad, 100.0, np.zeros((10, 2)), np.zeros(10), 70, 1.75)


@pytest.mark.realdata
def test_agrees_with_opensim_on_ceinms(shared_data):
    """Sagittal moments of walk36 by our 2-D routine vs OpenSim's inverse dynamics (id.sto).

    Body mass from the GRF (58.0 kg) and height from the pelvis height (1.60 m): measured
    agreement r = 1.00 (ankle), 0.84 (knee), 0.85 (hip); RMSE 0.05 / 0.11 / 0.21 N·m/kg.
    """
    from myoflow.io.datasets.small import load_ceinms_gait

    trial = load_ceinms_gait(shared_data / "ceinms-gait")["walk36"]
    est = moments_from_trial(trial)
    assert est.meta["body_mass_kg"] == pytest.approx(58.0, abs=1.0)
    mom = trial["moments"]
    ref = np.column_stack([
        -mom.data[mom.ch_names.index("hip_flexion_r_moment")],
        mom.data[mom.ch_names.index("knee_angle_r_moment")],
        -mom.data[mom.ch_names.index("ankle_angle_r_moment")],
    ])
    e = est.data.T
    r = [np.corrcoef(ref[:, j], e[:, j])[0, 1] for j in range(3)]
    rmse = np.sqrt(((ref - e) ** 2).mean(0)) / est.meta["body_mass_kg"]
    assert r[2] > 0.98 and r[1] > 0.8 and r[0] > 0.8, r
    assert rmse[2] < 0.1 and rmse[1] < 0.2 and rmse[0] < 0.3, rmse


def test_combining_trials_with_other_muscles_names_the_trial():
    import pandas as pd

    from myoflow.biomech.gait_cycles import GaitCycles
    from myoflow.errors import DataError

    def cycles(trial, muscles):
        n, p = 2, 11
        return GaitCycles(angles=np.zeros((n, 3, p)), moments=np.zeros((n, 1, p)), emg=np.zeros((n, len(muscles), p)),
                          durations=np.ones(n), moment_names=("knee_sagittal",), muscles=tuple(muscles),
                          metadata=pd.DataFrame({"subject": "S1", "trial": trial, "cycle": range(n)}))

    ok = GaitCycles.concatenate([cycles("walk01", ["TA", "GM"]), cycles("walk02", ["TA", "GM"])])
    assert len(ok) == 4
    with pytest.raises(DataError, match=r"^walk02: muscles \['TA', 'SOL'\] differ from \['TA', 'GM'\] of walk01"):
        GaitCycles.concatenate([cycles("walk01", ["TA", "GM"]), cycles("walk02", ["TA", "SOL"])])


def test_gait_emg_below_1khz_says_the_band_top_was_lowered(caplog):
    # a 500 Hz lab: the 450 Hz band top cannot be kept; it is lowered, and the log says so once per rate
    import logging

    from myoflow.biomech import gait_cycles as gc
    from myoflow.containers import Recording, Trial

    rng = np.random.default_rng(0)
    emg = Recording(rng.standard_normal((7, 2000)), 500.0, tuple(gc.MUSCLES))
    trial = Trial({"emg": emg}, meta={"source": "lab500/S01.h5"})
    gc._WARNED_BAND.discard((500.0, 450.0))
    with caplog.at_level(logging.WARNING, logger="myoflow.biomech.gait_cycles"):
        gc._emg(trial, "r", (20.0, 450.0), 6.0)
        gc._emg(trial, "r", (20.0, 450.0), 6.0)
    msgs = [r.getMessage() for r in caplog.records if "band-pass top" in r.getMessage()]
    assert len(msgs) == 1 and "500 Hz" in msgs[0] and "225" in msgs[0] and "S01.h5" in msgs[0]
