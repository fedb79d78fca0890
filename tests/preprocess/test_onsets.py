"""Onset detectors (TKEO, Bonato double threshold, Hodges-Bui): simulated truth and a real recording."""
from __future__ import annotations

import numpy as np
import pytest

from myoflow.containers import Recording
from myoflow.errors import ConfigError
from myoflow.preprocess.onsets import ONSET_METHODS, detect_onsets

TRUTH = [(1.5, 2.5), (4.0, 5.2), (7.3, 8.0), (10.0, 11.0)]


def _bursts(seed: int, fs: float = 1000.0) -> Recording:
    rng = np.random.default_rng(seed)
    n = int(12 * fs)
    amp = np.full(n, 0.02)
    for a, b in TRUTH:
        amp[int(a * fs):int(b * fs)] = 1.0
    return Recording(rng.normal(size=(2, n)) * amp + 3.0, fs, ["a", "b"])  # offset: detectors high-pass


@pytest.mark.parametrize("method", ONSET_METHODS)
@pytest.mark.parametrize("seed", [10, 11])  # defaults were chosen on seeds 0-3
def test_each_method_finds_simulated_bursts_at_the_right_time(method, seed):
    b = detect_onsets(_bursts(seed), method)
    assert len(b) == len(TRUTH)
    assert list(b.columns) == ["burst_id", "onset", "offset", "onset_s", "offset_s", "duration_ms"]
    # zero-phase smoothing (Hodges-Bui) spreads the envelope, so onsets may come up to ~50 ms early
    np.testing.assert_allclose(b["onset_s"], [a for a, _ in TRUTH], atol=0.06)
    np.testing.assert_allclose(b["offset_s"], [e for _, e in TRUTH], atol=0.06)


def test_bonato_second_threshold_rejects_isolated_spikes():
    rec = _bursts(2)
    x = rec.data.copy()
    x[:, [3000, 6200, 9100]] += 3.0  # three single-sample spikes far above rest
    rec = rec.replace(data=x)
    spikes = np.array([3000, 6200, 9100])

    def covered(b):
        return [bool(((b.onset <= s) & (s < b.offset)).any()) for s in spikes]

    assert len(detect_onsets(rec, "bonato", min_burst_ms=0)) == 4
    assert covered(detect_onsets(rec, "bonato", min_burst_ms=0)) == [False] * 3
    # with r0 = 1 of m a single value over ζ suffices, so every spike becomes a "burst"
    assert covered(detect_onsets(rec, "bonato", r0=1, min_burst_ms=0, min_gap_ms=0)) == [True] * 3


def test_bad_parameters_are_config_errors():
    rec = _bursts(0)
    with pytest.raises(ConfigError, match="unknown onset method"):
        detect_onsets(rec, "otsu")
    with pytest.raises(ConfigError):
        detect_onsets(rec, "bonato", p_fa=2.0)
    with pytest.raises(ConfigError):
        detect_onsets(rec, "bonato", m=10, r0=20)
    with pytest.raises(ConfigError):
        detect_onsets(rec, "hodges_bui", h=0)


def test_real_biceps_nine_contractions_by_every_method(emg_bursts):
    # 9 contractions counted by eye (see test_bursts); each detector in its high-threshold regime finds them all.
    centres = [2.0, 5.0, 8.5, 12.0, 15.0, 18.0, 21.0, 24.0, 27.0]
    found = {
        "tkeo": detect_onsets(emg_bursts, "tkeo"),
        "bonato": detect_onsets(emg_bursts, "bonato", p_fa=1e-6),
        "bonato_rest": detect_onsets(emg_bursts, "bonato", rest=(0.0, 0.8)),
        "hodges_bui": detect_onsets(emg_bursts, "hodges_bui", h=25),
        "hodges_bui_rest": detect_onsets(emg_bursts, "hodges_bui", h=20, rest=(0.0, 0.8)),
    }
    for name, b in found.items():
        assert len(b) == 9, name
        for c, on, off in zip(centres, b["onset_s"], b["offset_s"]):
            assert on < c < off, name
    # the detectors agree on onsets: typically within 30 ms, at worst ~0.3 s (a slow build-up of the last one)
    ref = found["tkeo"]["onset_s"].to_numpy()
    for name, b in found.items():
        d = np.abs(b["onset_s"].to_numpy() - ref)
        assert np.median(d) < 0.05 and d.max() < 0.35, name
    # documented limitation: the default h = 5 over-segments this recording (rest between contractions is not rest)
    assert len(detect_onsets(emg_bursts, "hodges_bui")) != 9
