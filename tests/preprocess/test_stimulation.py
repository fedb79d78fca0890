from __future__ import annotations

import numpy as np
import pytest

from myoflow.containers import Recording
from myoflow.errors import ConfigError, DataError
from myoflow.preprocess import (
    blank_artefact,
    detect_stimuli,
    epoch_stimulus_locked,
    group_trains,
    mwave_descriptors,
    remove_dc,
)

FS = 4000.0
LATENCY_MS = 6.0


def _train(freq=25.0, n_pulses=40, start_s=0.3, fs=FS, seed=0, offset=0.0):
    """Noise + stimulus artefacts + M-waves (a Gaussian-derivative, 6 ms latency)."""
    rng = np.random.default_rng(seed)
    n = int((start_s + n_pulses / freq + 0.3) * fs)
    x = rng.normal(scale=1e-6, size=n)
    pulses = (start_s * fs + np.arange(n_pulses) * fs / freq).astype(int)
    t = np.arange(int(0.03 * fs)) / fs
    mwave = -(t - LATENCY_MS / 1000 - 0.004) / 0.0015 * np.exp(-0.5 * ((t - LATENCY_MS / 1000 - 0.004) / 0.0015) ** 2)
    mwave *= 40e-6 / np.ptp(mwave)
    for p in pulses:
        x[p:p + 2] += 500e-6          # artefact: 0.5 ms biphasic spike
        x[p + 2:p + 4] -= 400e-6
        x[p:p + len(mwave)] += mwave
    trig = np.zeros(n)
    for p in pulses:
        trig[p:p + 4] = 5.0
    rec = Recording(np.vstack([x + offset, trig]), fs, ["emg", "trigger"],
                    meta={"subject": "P01", "muscle": "RF", "covariates": {"age": 33, "bmi": 22.5}})
    return rec, pulses, mwave


def test_artefact_detection_finds_every_pulse():
    rec, pulses, _ = _train()
    found = detect_stimuli(rec, channel="emg")
    assert len(found) == len(pulses)
    assert np.abs(found - pulses).max() <= 1


def test_trigger_and_events_methods():
    rec, pulses, _ = _train(freq=10.0, n_pulses=12)
    np.testing.assert_array_equal(detect_stimuli(rec, method="trigger", channel="trigger"), pulses)
    with pytest.raises(ConfigError):
        detect_stimuli(rec, method="trigger")
    with_ev = rec.add_events(pulses[::-1], "stimulus")
    np.testing.assert_array_equal(detect_stimuli(with_ev, method="events"), pulses)
    with pytest.raises(DataError, match="fs >= 1000"):
        detect_stimuli(Recording(np.zeros((1, 500)), 500.0, ["c"]))


def test_blank_artefact_interp_and_zero():
    rec, pulses, _ = _train(n_pulses=3)
    out = blank_artefact(rec.pick("emg"), pulses, pre_ms=0.5, post_ms=1.0)
    p = pulses[1]
    a, b = p - 2, p + 4  # 0.5 ms = 2 samples before, 1 ms = 4 after (inclusive)
    seg = out.data[0, a - 1:b + 2].astype(float)
    np.testing.assert_allclose(seg, np.linspace(seg[0], seg[-1], len(seg)), atol=1e-9)
    assert np.abs(out.data[0, a:b + 1]).max() < 50e-6  # the 500 µV artefact is gone
    z = blank_artefact(rec.pick("emg"), pulses, 0.5, 1.0, method="zero")
    assert (z.data[0, a:b + 1] == 0).all() and z.data[0, b + 1] != 0
    between = slice(pulses[0] + 5, a)  # untouched samples between two blanked windows
    np.testing.assert_array_equal(z.data[0, between], rec.data[0, between])


def test_stimulus_locked_epochs_metadata_and_mwave():
    rec, pulses, mwave = _train(freq=25.0, n_pulses=20)
    # two trains: second one starts 1 s after the first ends
    rec2, pulses2, _ = _train(freq=25.0, n_pulses=20, seed=1)
    data = np.concatenate([rec.data, rec2.data], axis=1)
    both = rec.replace(data=data)
    stim = np.concatenate([pulses, pulses2 + rec.n_samples])
    ep = epoch_stimulus_locked(both.pick("emg"), stim, pre_ms=5.0, post_ms=40.0, blank=(0.5, 3.0), y="low")
    assert ep.X.shape == (40, 1, 180)
    assert ep.tmin == pytest.approx(-0.005)
    md = ep.metadata
    for col in ("subject", "muscle", "age", "bmi", "stim_index", "time_in_train_s", "train_frequency", "train"):
        assert col in md.columns
    assert md["stim_index"].tolist() == list(range(40))
    assert md["train"].tolist() == [0] * 20 + [1] * 20
    assert md["train_frequency"].iloc[0] == pytest.approx(25.0, rel=0.01)
    np.testing.assert_allclose(md["time_in_train_s"][:20], np.arange(20) / 25.0, atol=1 / FS)
    assert md["time_in_train_s"].iloc[20] == 0.0
    assert (ep.y == "low").all()
    assert ep.meta["blank_ms"] == (0.5, 3.0)

    d = mwave_descriptors(ep)
    assert list(d.columns[:4]) == ["ptp_amplitude", "area", "latency_ms", "duration_ms"]
    assert len(d) == 40
    assert d["ptp_amplitude"].median() == pytest.approx(40e-6, rel=0.1)
    # Gaussian-derivative M-wave: centre at latency + 4 ms, σ 1.5 ms; 10 % of peak is reached
    # about 2.6 σ before the centre.
    expected_onset = LATENCY_MS + 4.0 - 2.6 * 1.5
    assert d["latency_ms"].median() == pytest.approx(expected_onset, abs=0.6)
    assert 4.0 < d["duration_ms"].median() < 12.0
    assert d["area"].median() > 0
    # explicit frequency wins over the estimate
    ep2 = epoch_stimulus_locked(both.pick("emg"), stim, train_frequency=30.0)
    assert (ep2.metadata["train_frequency"] == 30.0).all()


def test_epoching_defaults_to_events_then_detection():
    rec, pulses, _ = _train(n_pulses=10)
    ep = epoch_stimulus_locked(rec.pick("emg"))  # no events: detected from the artefact
    assert len(ep) == 10
    ev = rec.pick("emg").add_events(pulses[:4], "stimulus")
    assert len(epoch_stimulus_locked(ev)) == 4
    with pytest.raises(DataError):
        epoch_stimulus_locked(rec.pick("emg"), [])


def test_group_trains():
    s = np.array([0, 100, 200, 300, 2000, 2100, 2200])
    train, t_in, f = group_trains(s, 1000.0)
    assert train.tolist() == [0, 0, 0, 0, 1, 1, 1]
    np.testing.assert_allclose(t_in, [0, 0.1, 0.2, 0.3, 0, 0.1, 0.2])
    assert f == pytest.approx(10.0)


def test_real_tscs_pulses_at_30_hz(stim_on):
    # Looking at the data (plots in the report): transcutaneous stimulation starts at
    # 18.63 s and runs to the end of the recording; pulses are 133-134 samples apart
    # (30 Hz at 4 kHz), each a ~1 ms biphasic artefact.
    s = detect_stimuli(stim_on)
    isi_ms = np.diff(s) / stim_on.fs * 1000
    rate = 1000.0 / np.median(isi_ms)
    assert rate == pytest.approx(30.0, abs=0.3)
    assert np.mean(np.abs(isi_ms - 1000 / 30)) < 0.3
    assert (np.abs(isi_ms - 1000 / 30) < 1.0).mean() > 0.99
    assert s[0] / stim_on.fs == pytest.approx(18.63, abs=0.01)
    expected = (stim_on.duration - s[0] / stim_on.fs) * 30.0
    assert len(s) == pytest.approx(expected, rel=0.005)
    ep = epoch_stimulus_locked(remove_dc(stim_on), s, pre_ms=5, post_ms=25, blank=(0.5, 3.0))
    assert ep.metadata["train_frequency"].iloc[0] == pytest.approx(30.0, abs=0.3)
    assert ep.metadata["train"].nunique() == 1


def test_real_recording_without_stimulation_has_no_pulses(stim_off):
    # Voluntary contractions (up to ~15 robust SDs after the high-pass; threshold 30) but no artefacts.
    assert len(detect_stimuli(stim_off)) == 0


def test_simulated_evoked_trains():
    evoked = pytest.importorskip("myoflow.simulate.protocols.evoked")
    recs, _ = evoked.simulate_evoked(n_subjects=1, seed=0, frequencies=(5.0, 25.0), train_s=1.0, n_units=60)
    assert len(recs) == 4
    for rec in recs:
        truth = rec.meta["truth"]
        found = detect_stimuli(rec)  # from the artefact alone
        np.testing.assert_array_equal(found, rec.events_of("stimulus"))
        ep = epoch_stimulus_locked(rec, found, pre_ms=5, post_ms=40, blank=(0.5, 3.0))
        assert ep.metadata["train_frequency"].iloc[0] == pytest.approx(rec.meta["frequency"], rel=0.01)
        assert (ep.metadata["muscle"] == rec.meta["muscle"]).all()
        d = mwave_descriptors(ep)
        assert d["ptp_amplitude"].median() * 1e3 == pytest.approx(truth["mwave_ptp_mv"], rel=0.15)
        # onset at the electrode follows the neural latency by the fibre conduction time
        assert truth["neural_latency_ms"] < d["latency_ms"].median() < truth["neural_latency_ms"] + 4.0


def test_missed_pulses_inside_a_train_are_reported_and_a_wrong_frequency_refused(stim_on, caplog):
    # The real 30 Hz tSCS train: at 4 kHz every pulse is found; resampled to 1.5 kHz the artefact detector
    # loses a stretch of the weakest ones. Evoked responses must then say so, naming the recording.
    import logging

    from scipy import signal as sps

    from myoflow.errors import DataError
    from myoflow.preprocess.evoked import extract_responses

    with caplog.at_level(logging.WARNING, logger="myoflow.preprocess.evoked"):
        r_full, _ = extract_responses(stim_on, frequency_hz=30.0, window_ms=(0.0, 33.0))  # 33.3 ms between pulses
    assert "not detected" not in caplog.text
    low = stim_on.with_data(sps.resample_poly(stim_on.data, 3, 8, axis=-1).astype(np.float32), fs=1500.0)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="myoflow.preprocess.evoked"):
        r_low, _ = extract_responses(low, frequency_hz=30.0, window_ms=(0.0, 33.0))
    assert "stimulus pulses were not detected" in caplog.text and str(low.source) in caplog.text
    assert len(r_low) < 0.9 * len(r_full)
    with pytest.raises(DataError, match="frequency is 15 Hz"):
        extract_responses(stim_on, frequency_hz=15.0)
