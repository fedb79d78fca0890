from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from myoflow.containers import Recording
from myoflow.errors import DataError
from myoflow.evaluate import WithinSubject
from myoflow.preprocess import channels_as_samples, detect_bursts, onset_windows, tkeo


def test_tkeo_hand_computed():
    x = np.array([1.0, 3.0, 2.0, 5.0, 4.0])
    # ψ[1] = 9 - 1*2 = 7, ψ[2] = 4 - 3*5 = -11, ψ[3] = 25 - 2*4 = 17; edges repeat neighbours
    np.testing.assert_array_equal(tkeo(x), [7.0, 7.0, -11.0, 17.0, 17.0])
    np.testing.assert_array_equal(tkeo(np.vstack([x, 2 * x])), [[7, 7, -11, 17, 17], [28, 28, -44, 68, 68]])
    with pytest.raises(DataError):
        tkeo(np.array([1.0, 2.0]))


def test_tkeo_of_sinusoid_is_constant_energy():
    # For x = A sin(Ωn + φ): ψ = A² sin²(Ω) exactly (Kaiser 1990).
    A, omega = 1.7, 0.3
    x = A * np.sin(omega * np.arange(200) + 0.4)
    np.testing.assert_allclose(tkeo(x), A**2 * np.sin(omega) ** 2, rtol=1e-10)
    rec = Recording(x[None].astype(np.float32), 100.0, ["c"])
    out = tkeo(rec)
    assert isinstance(out, Recording) and out.data.dtype == np.float32


def _synthetic_bursts(n_ch=1, fs=1000.0, seed=0, gains=None):
    rng = np.random.default_rng(seed)
    n = int(12 * fs)
    truth = [(1.5, 2.5), (4.0, 5.2), (7.3, 8.0), (10.0, 11.0)]
    amp = np.full(n, 0.02)
    for a, b in truth:
        amp[int(a * fs):int(b * fs)] = 1.0
    gains = np.ones(n_ch) if gains is None else np.asarray(gains)
    x = rng.normal(size=(n_ch, n)) * amp * gains[:, None] + 5.0  # DC offset: the detector high-passes
    return Recording(x, fs, [f"e{i}" for i in range(n_ch)], meta={"subject": "S1", "muscle": "biceps"}), truth


def test_detect_bursts_synthetic_onsets():
    rec, truth = _synthetic_bursts()
    b = detect_bursts(rec)
    assert list(b.columns[:3]) == ["burst_id", "onset", "offset"]
    assert len(b) == len(truth)
    for (a, e), on, off in zip(truth, b["onset_s"], b["offset_s"]):
        assert abs(on - a) < 0.05 and abs(off - e) < 0.05
    # explicit rest segment gives the same bursts
    b2 = detect_bursts(rec, rest=(0.0, 1.0), k=20)
    assert len(b2) == len(truth)


def test_grid_gives_one_decision_per_burst():
    rec, truth = _synthetic_bursts(n_ch=16, gains=np.linspace(0.2, 3.0, 16), seed=1)
    for mode in ("any", "mean"):
        b = detect_bursts(rec, channels=mode)
        assert len(b) == len(truth)
        assert b["burst_id"].tolist() == list(range(len(truth)))


def test_min_gap_and_min_duration():
    fs = 1000.0
    rng = np.random.default_rng(2)
    amp = np.full(6000, 0.02)
    amp[1000:1400] = 1
    amp[1500:1900] = 1  # 100 ms gap -> merged with min_gap 200 ms
    amp[4000:4040] = 1  # 40 ms blip -> dropped with min_burst 100 ms
    rec = Recording(rng.normal(size=(1, 6000)) * amp, fs, ["c"])
    b = detect_bursts(rec, min_gap_ms=200, min_burst_ms=100, smooth_ms=10)
    assert len(b) == 1 and abs(b.onset_s[0] - 1.0) < 0.03 and abs(b.offset_s[0] - 1.9) < 0.03
    assert len(detect_bursts(rec, min_gap_ms=50, min_burst_ms=100, smooth_ms=10)) == 2
    assert len(detect_bursts(rec, min_gap_ms=200, min_burst_ms=20, smooth_ms=10)) == 2


def test_real_biceps_contractions_are_all_found(emg_bursts):
    # Counted by eye from a plot of the whole recording (see report): 9 cyclic
    # contractions, centred near these times (s).
    centres = [2.0, 5.0, 8.5, 12.0, 15.0, 18.0, 21.0, 24.0, 27.0]
    b = detect_bursts(emg_bursts)
    assert len(b) == 9
    for c, on, off in zip(centres, b["onset_s"], b["offset_s"]):
        assert on < c < off
        assert 0.5 < off - on < 2.0
    # the count is stable over an order of magnitude of k, and with a rest segment
    assert len(detect_bursts(emg_bursts, k=30)) == len(detect_bursts(emg_bursts, k=300)) == 9
    assert len(detect_bursts(emg_bursts, rest=(0.0, 0.8), k=15)) == 9


def test_onset_windows_and_channels_as_samples_keep_bursts_together():
    rec, truth = _synthetic_bursts(n_ch=4, seed=3)
    rec = rec.replace(meta={**rec.meta, "covariates": {"age": 41, "sex": "F"}})
    b = detect_bursts(rec)
    ep = onset_windows(rec, b, length_ms=500, y="biceps")
    assert ep.X.shape == (4, 4, 500)
    np.testing.assert_array_equal(ep.X[1], rec.data[:, b.onset[1]:b.onset[1] + 500])
    assert {"subject", "muscle", "age", "sex", "burst_id", "onset"} <= set(ep.metadata.columns)
    cas = channels_as_samples(ep)
    assert cas.X.shape == (16, 1, 500)
    np.testing.assert_array_equal(cas.X[5, 0], ep.X[1, 1])
    assert cas.metadata["channel"].tolist()[:4] == ["e0", "e1", "e2", "e3"]
    assert (cas.metadata["burst_id"].to_numpy() == np.repeat(ep.metadata["burst_id"], 4)).all()
    assert (cas.y == "biceps").all()
    # a within-subject split of channel samples never separates a burst's channels
    (tr, te), = WithinSubject(test_size=0.25, seed=0).split(cas)
    assert not set(cas.metadata.burst_id[tr]) & set(cas.metadata.burst_id[te])
    with pytest.raises(DataError):
        onset_windows(rec, pd.DataFrame({"onset": [1]}))


def test_refine_onsets_moves_a_late_onset_back_towards_the_true_one():
    from myoflow.preprocess import detect_bursts, refine_onsets

    fs = 1000.0
    rng = np.random.default_rng(0)
    n = int(3 * fs)
    x = rng.standard_normal(n)
    true_on = int(1.5 * fs)
    ramp = np.clip((np.arange(n) - true_on) / (0.3 * fs), 0, 1) * (np.arange(n) < 2.2 * fs)
    x = x * (1 + 15 * ramp)
    rec = Recording(x[None], fs, ["c"])
    bursts = detect_bursts(rec, k=30.0, min_burst_ms=50, min_gap_ms=50, smooth_ms=20, channels="mean",
                           highpass_hz=None)
    assert len(bursts) == 1
    late = int(bursts["onset"].iloc[0]) - true_on
    refined = refine_onsets(rec, bursts, k=1.0, max_back_ms=300.0, smooth_ms=20)
    early = int(refined["onset"].iloc[0]) - true_on
    assert late > 40 and abs(early) < late / 2
    assert refined["duration_ms"].iloc[0] > bursts["duration_ms"].iloc[0]
    assert len(refine_onsets(rec, bursts.iloc[:0])) == 0
    # never more than max_back_ms earlier
    capped = refine_onsets(rec, bursts, k=1.0, max_back_ms=5.0, smooth_ms=20)
    assert int(bursts["onset"].iloc[0]) - int(capped["onset"].iloc[0]) <= 5
