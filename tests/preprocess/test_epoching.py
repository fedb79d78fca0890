from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from myoflow.containers import Recording
from myoflow.errors import ConfigError, DataError
from myoflow.preprocess import event_locked, n_sliding_windows, sliding_windows


def _rec(n_ch, n, fs=1000.0):
    data = np.arange(n_ch * n, dtype=np.float32).reshape(n_ch, n)
    return Recording(data, fs, [f"c{i}" for i in range(n_ch)],
                     meta={"subject": "S3", "muscle": "TA", "covariates": {"age": 70, "sex": "M"},
                           "truth": {"big": np.zeros(3)}})


@settings(max_examples=60, deadline=None)
@given(n=st.integers(10, 3000), length_ms=st.integers(1, 400), step_ms=st.integers(1, 300))
def test_window_count_matches_formula(n, length_ms, step_ms):
    rec = _rec(2, n)
    L, S = length_ms, step_ms  # fs = 1 kHz: 1 ms = 1 sample
    if n < L:
        with pytest.raises(DataError, match="shorter than one"):
            sliding_windows(rec, length_ms, step_ms)
        return
    ep = sliding_windows(rec, length_ms, step_ms)
    expected = (n - L) // S + 1
    assert len(ep) == expected == n_sliding_windows(n, L, S)
    assert ep.X.shape == (expected, 2, L)
    last = expected - 1
    np.testing.assert_array_equal(ep.X[last], rec.data[:, last * S:last * S + L])
    assert ep.metadata["start"].iloc[last] == last * S


def test_window_rounding_at_other_rates_and_metadata():
    rec = _rec(1, 4096, fs=2048.0)
    ep = sliding_windows(rec, 250, 125, y="TA")
    assert ep.n_times == 512 and len(ep) == (4096 - 512) // 256 + 1
    md = ep.metadata
    assert {"subject", "muscle", "age", "sex", "window", "start", "start_s"} <= set(md.columns)
    assert "truth" not in md.columns
    assert (md["subject"] == "S3").all() and (md["age"] == 70).all()
    assert (ep.y == "TA").all()
    with pytest.raises(ConfigError):
        sliding_windows(rec, 0, 10)


def test_event_locked_windows():
    rec = _rec(2, 1000)
    ep = event_locked(rec, [5, 100, 500, 995], pre_ms=10, post_ms=20, y=["a", "b", "c", "d"])
    # windows of the first and last events run past the edges and are dropped
    assert len(ep) == 2
    assert ep.metadata["event"].tolist() == [1, 2] and ep.metadata["sample"].tolist() == [100, 500]
    assert ep.tmin == pytest.approx(-0.010)
    np.testing.assert_array_equal(ep.X[0], rec.data[:, 90:120])
    assert ep.y.tolist() == ["b", "c"]
    ev = rec.add_events([300], "heel_strike")
    assert event_locked(ev, "heel_strike", 10, 10).metadata["sample"].tolist() == [300]
    with pytest.raises(DataError, match="no events of kind"):
        event_locked(rec, "stimulus", 10, 10)
