from __future__ import annotations

import numpy as np
import pytest

from myoflow.containers import Recording, Trial
from myoflow.errors import DataError
from myoflow.evaluate import r2_ensemble_average
from myoflow.preprocess import detect_heel_strikes, ensemble_average, segment_cycles


def _phase_signal(strikes, fs, n):
    """A channel that is sin(2π·phase) of the gait cycle: cycles of any length look identical."""
    t = np.arange(n) / fs
    phase = np.interp(t, strikes, np.arange(len(strikes)))
    return np.sin(2 * np.pi * phase)


def test_segment_cycles_time_normalises():
    fs = 200.0
    strikes = np.cumsum([0.5, 1.0, 1.2, 0.9, 1.1, 1.05])  # unequal cycle durations
    n = int((strikes[-1] + 0.5) * fs)
    rec = Recording(np.vstack([_phase_signal(strikes, fs, n), np.ones(n)]), fs, ["emg", "one"],
                    meta={"subject": "G1"})
    ep = segment_cycles(rec, strikes, n_points=101)
    assert ep.X.shape == (5, 2, 101)
    np.testing.assert_allclose(ep.times, np.arange(101))  # percent of the cycle
    expected = np.sin(2 * np.pi * np.linspace(0, 1, 101))
    np.testing.assert_allclose(ep.X[:, 0], np.broadcast_to(expected, (5, 101)), atol=2e-3)
    mean, sd = ensemble_average(ep)
    assert mean.shape == sd.shape == (2, 101)
    np.testing.assert_allclose(mean[0], expected, atol=2e-3)
    assert sd[0].max() < 2e-3 and np.allclose(mean[1], 1.0)
    assert ep.metadata["cycle"].tolist() == [0, 1, 2, 3, 4]
    np.testing.assert_allclose(ep.metadata["duration_s"], np.diff(strikes))
    # a missed strike makes a double-length cycle, which is dropped
    ep2 = segment_cycles(rec, np.delete(strikes, 3))
    assert len(ep2) == 3 and 2 not in ep2.metadata["cycle"].tolist()
    with pytest.raises(DataError):
        segment_cycles(rec, [1.0])


def test_heel_strikes_from_synthetic_grf():
    fs = 100.0
    n = 1000
    f = np.zeros(n)
    truth = [120, 230, 345, 455, 570, 680, 790]
    for s in truth:
        f[s:s + 65] = 700 * np.sin(np.linspace(0, np.pi, 65)) + 50
    f[540:543] = 300  # a 30 ms blip in swing: not a stance
    rec = Recording(f[None], fs, ["ground_force_vy"], units="N")
    hs = detect_heel_strikes(rec, side="r")
    np.testing.assert_allclose(hs, np.array(truth) / fs)
    with pytest.raises(DataError, match="side 'l'"):
        detect_heel_strikes(rec, side="l")


def test_real_gait_heel_strikes_grf_and_kinematics_agree(gait_walk36):
    grf, angles, emg = gait_walk36["grf"], gait_walk36["angles"], gait_walk36["emg"]
    hs = detect_heel_strikes(grf, side="r")
    cycle = np.median(np.diff(hs))
    assert 1.0 < cycle < 1.3  # walking at 3.6 km/h: ~1.15 s strides
    assert len(hs) == pytest.approx(grf.duration / cycle, abs=2)
    hs_kin = detect_heel_strikes(angles, side="r")
    # every GRF strike has a kinematic one within 50 ms (measured: 20-30 ms early)
    d = np.array([hs_kin[np.argmin(np.abs(hs_kin - h))] - h for h in hs])
    assert (np.abs(d) <= 0.05).mean() > 0.9  # a few strikes are blurred by plate cross-talk
    assert -0.04 <= np.median(d) <= 0.0
    # a Trial with both streams uses the force plate
    trial = Trial({"grf": grf, "angles": angles, "emg": emg}, meta={"subject": "06"})
    np.testing.assert_allclose(detect_heel_strikes(trial, side="r"), hs)
    left = detect_heel_strikes(trial, side="l")
    assert abs(np.median(np.diff(left)) - cycle) < 0.05
    # cycles of the EMG envelopes from either set of strikes give nearly the same ensemble average
    ep = segment_cycles(emg, hs)
    ep_kin = segment_cycles(emg, hs_kin)
    assert ep.X.shape[1:] == (9, 101) and len(ep) >= len(hs) - 3
    r2 = r2_ensemble_average(ep, ep_kin)
    assert (r2 > 0.9).all()
