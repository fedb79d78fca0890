"""MuscleModel lead-in: a hold recorded after it was reached has no synchronous onset volley."""
from __future__ import annotations

import numpy as np
import pytest

from myoflow.errors import ConfigError
from myoflow.simulate import ElectrodeArray, generate_subjects
from myoflow.simulate.emg import MuscleModel


def _onset_ratio(rec) -> float:
    """RMS of the first 50 ms over the median 50 ms window's RMS."""
    x = rec.data[0]
    w = int(0.05 * rec.fs)
    rms = np.sqrt(np.mean(x[: x.size // w * w].reshape(-1, w) ** 2, axis=1))
    return float(rms[0] / np.median(rms))


@pytest.fixture(scope="module")
def model():
    subject = generate_subjects(1, np.random.default_rng(3))[0]
    return MuscleModel.build(subject, "TA", ElectrodeArray(np.zeros((1, 2)), radius_mm=0.5, montage="monopolar"),
                             np.random.default_rng(0), n_units=80)


def test_step_drive_volley_and_lead_in(model):
    exc = np.full(2000, 0.4)  # 2 s at 1 kHz, above threshold from the first sample
    kw = dict(fs=1000.0, noise=False, front_end=False)
    step = model.record(exc, np.random.default_rng(1), **kw)
    held = model.record(exc, np.random.default_rng(1), lead_in_s=1.0, **kw)
    # without a lead-in every recruited unit discharges at t = 0 together
    assert _onset_ratio(step) > 2.0
    assert _onset_ratio(held) < 1.6
    assert held.data.shape == step.data.shape
    again = model.record(exc, np.random.default_rng(1), lead_in_s=1.0, **kw)
    assert np.array_equal(held.data, again.data)  # same seed, same samples
    with pytest.raises(ConfigError, match="lead_in_s"):
        model.record(exc, np.random.default_rng(1), lead_in_s=-1.0, **kw)
