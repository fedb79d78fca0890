"""Amplitude normalisation to a reference (MVC / peak / RMS) with fit/transform manners."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from myoflow.containers import Epochs, Recording
from myoflow.errors import ConfigError, DataError
from myoflow.preprocess.normalise import AmplitudeNormaliser, normalise_amplitude


def _rec(amps, subject="S1", fs=1000.0, seconds=3.0, seed=0):
    rng = np.random.default_rng(seed)
    n = int(seconds * fs)
    return Recording(rng.normal(size=(len(amps), n)) * np.asarray(amps)[:, None], fs, [f"c{i}" for i in range(len(amps))],
                     meta={"subject": subject})


def test_hand_computed_divisors():
    ref = Recording(np.array([[0.0, 3.0, -4.0, 1.0], [2.0, 2.0, 2.0, 2.0]]), 1000.0, ["a", "b"])
    np.testing.assert_allclose(AmplitudeNormaliser("peak").fit(ref).scale_, [4.0, 2.0])
    np.testing.assert_allclose(AmplitudeNormaliser("rms").fit(ref).scale_, [np.sqrt(26 / 4), 2.0])
    # mvc: max moving RMS of the mean-removed reference over full 2-sample windows
    x = np.array([0.0, 3.0, -4.0, 1.0]) - 0.0
    pairs = [np.sqrt(np.mean(x[i:i + 2] ** 2)) for i in range(3)]
    norm = AmplitudeNormaliser("mvc", window_ms=2.0).fit(ref)
    assert norm.scale_[0] == pytest.approx(max(pairs))
    assert norm.scale_[1] == 1.0  # constant channel: zero amplitude after mean removal, left unscaled


def test_mvc_normalised_task_is_fraction_of_reference():
    mvc = _rec([2e-3, 5e-4], seed=1)
    task = _rec([1e-3, 2.5e-4], seed=2)  # half the MVC amplitude on both channels
    out = normalise_amplitude(task, reference=mvc, method="mvc")
    assert isinstance(out, Recording) and out.units == ("1", "1")
    frac = np.sqrt((out.data.astype(float) ** 2).mean(axis=1))
    # moving-RMS max over 500 ms slightly exceeds the global RMS of white noise: a fraction a bit under 0.5
    np.testing.assert_allclose(frac, 0.5 * np.ones(2), rtol=0.08)
    assert frac[0] == pytest.approx(frac[1], rel=0.05)  # channel gains are gone
    assert normalise_amplitude(task, reference=task, method="rms").data.std() == pytest.approx(1.0, rel=1e-3)


def test_fit_transform_manners_and_containers():
    ref = _rec([1.0, 2.0])
    norm = AmplitudeNormaliser("peak")
    with pytest.raises(NotFittedError):
        norm.transform(ref)
    assert clone(norm).get_params() == {"method": "peak", "window_ms": 500.0, "fs": None}
    norm.fit(ref)
    ep = Epochs(np.stack([ref.data[:, :100], ref.data[:, 100:200]]), ref.fs, ref.ch_names, None)
    np.testing.assert_allclose(norm.transform(ep).X, ep.X / norm.scale_[None, :, None].astype(np.float32))
    np.testing.assert_allclose(norm.transform(ep.X), ep.X / norm.scale_[None, :, None], rtol=1e-6)
    # fitted once: transforming a recording does not refit on it
    other = _rec([10.0, 10.0], seed=5)
    assert np.abs(norm.transform(other).data).max() > 3


def test_reference_must_match_subject_and_channels():
    norm = AmplitudeNormaliser("rms").fit(_rec([1.0, 1.0], subject="S1"))
    with pytest.raises(DataError, match="subject 'S1'"):
        norm.transform(_rec([1.0, 1.0], subject="S2"))
    with pytest.raises(DataError, match="channel"):
        norm.transform(_rec([1.0, 1.0, 1.0], subject="S1"))
    with pytest.raises(DataError, match="channels"):
        norm.transform(_rec([1.0, 1.0], subject="S1").replace(ch_names=["x", "y"]))
    with pytest.raises(ConfigError, match="unknown normalisation"):
        AmplitudeNormaliser("max").fit(_rec([1.0]))
    with pytest.raises(ConfigError, match="fs="):
        AmplitudeNormaliser("mvc").fit(np.ones((2, 100)))
    with pytest.raises(DataError, match="shorter than"):
        AmplitudeNormaliser("mvc").fit(_rec([1.0], seconds=0.2))
    with pytest.raises(DataError, match="NaN"):
        AmplitudeNormaliser("peak").fit(np.array([[1.0, np.nan]]))


def test_gait_pipeline_scales_come_from_the_reference_cycles_only():
    import pandas as pd

    from myoflow.biomech.gait_cycles import GaitCycles, normalise_emg

    rng = np.random.default_rng(0)
    emg = rng.uniform(0.1, 1.0, (6, 7, 20))
    md = pd.DataFrame({"subject": ["a"] * 3 + ["b"] * 3, "trial": ["train", "test", "test"] * 2, "cycle": range(6)})
    cyc = GaitCycles(np.zeros((6, 3, 20)), np.zeros((6, 1, 20)), emg, np.ones(6), md, ("m",))
    ref = (md["trial"] == "train").to_numpy()
    out, scales = normalise_emg(cyc, reference=ref)
    np.testing.assert_allclose(scales.loc["a"].to_numpy(), emg[0].max(axis=-1))
    np.testing.assert_allclose(out.emg[1], emg[1] / emg[0].max(axis=-1)[:, None])
    # changing an evaluated (test) cycle does not change any scale
    emg2 = emg.copy()
    emg2[1] *= 5
    _, scales2 = normalise_emg(GaitCycles(cyc.angles, cyc.moments, emg2, cyc.durations, md, ("m",)), reference=ref)
    pd.testing.assert_frame_equal(scales, scales2)
