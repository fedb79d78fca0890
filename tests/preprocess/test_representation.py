"""Input representations: per-window standardisation + log-RMS, spectra, bursts as samples."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from myoflow.containers import Epochs
from myoflow.errors import ConfigError, DataError
from myoflow.preprocess import channels_as_samples
from myoflow.preprocess.representation import (
    WindowRepresentation, bursts_as_samples, log_power_spectrum, log_rms, log_stft, standardize_windows,
)


def _windows(n=6, c=3, t=256, seed=0):
    rng = np.random.default_rng(seed)
    gains = rng.uniform(1e-5, 1e-3, size=(n, c, 1))
    return (rng.standard_normal((n, c, t)) * gains + 3e-5).astype(np.float32), gains[..., 0]


def test_standardize_removes_gain_and_keeps_it_in_log_rms():
    X, gains = _windows()
    Z, amp = standardize_windows(X)
    assert Z.shape == X.shape and amp.shape == X.shape[:2]
    np.testing.assert_allclose(Z.mean(axis=2), 0, atol=1e-5)
    np.testing.assert_allclose(Z.std(axis=2), 1, atol=1e-4)
    # shape is gain-free: scaling a window ten-fold changes only its log-RMS, by log(10)
    Z10, amp10 = standardize_windows(X * 10)
    np.testing.assert_allclose(Z10, Z, atol=1e-4)
    np.testing.assert_allclose(amp10 - amp, np.log(10), atol=1e-4)
    # log-RMS tracks the per-window gains
    assert np.corrcoef(amp.ravel(), np.log(gains).ravel())[0, 1] > 0.99


def test_flat_channel_is_finite_and_nan_is_rejected():
    X, _ = _windows()
    X[0, 1] = 0.0
    Z, amp = standardize_windows(X)
    assert np.isfinite(Z).all() and np.isfinite(amp).all()
    np.testing.assert_array_equal(Z[0, 1], 0.0)
    X[1, 0, 5] = np.nan
    with pytest.raises(DataError, match="non-finite"):
        standardize_windows(X)
    with pytest.raises(DataError, match="n_windows, n_channels, n_times"):
        log_rms(X[0])


def test_torch_standardisation_matches_numpy():
    torch = pytest.importorskip("torch")
    from myoflow.models.emg_cnn import standardize_batch

    X, _ = _windows()
    Z, amp = standardize_windows(X)
    Zt, ampt = standardize_batch(torch.as_tensor(X))
    np.testing.assert_allclose(Zt.numpy(), Z, atol=1e-4)
    np.testing.assert_allclose(ampt.numpy(), amp, atol=1e-4)


def test_spectra_peak_at_the_tone():
    fs, t = 1000.0, 500
    x = np.sin(2 * np.pi * 125.0 * np.arange(t) / fs)[None, None, :].repeat(2, 0).astype(np.float32)
    P, f = log_power_spectrum(x, fs, nperseg=128, fmax=450)
    assert P.shape == (2, 1, f.size) and f.max() <= 450
    assert abs(f[np.argmax(P[0, 0])] - 125.0) < 8
    S, fs_, ts = log_stft(x, fs, nperseg=64)
    assert S.shape[:2] == (2, 1) and S.shape[2] == fs_.size and S.shape[3] == ts.size
    assert abs(fs_[np.argmax(S[0, 0].mean(1))] - 125.0) < 16
    with pytest.raises(DataError, match="too short"):
        log_power_spectrum(x[..., :4], fs)


@pytest.mark.parametrize("func, who, what", [(log_power_spectrum, "log_power_spectrum", "a spectrum"),
                                             (log_stft, "log_stft", "an STFT")])
def test_spectral_views_refuse_bad_input_in_their_own_name(func, who, what):
    x = np.random.default_rng(0).normal(size=(2, 1, 64))
    with pytest.raises(DataError, match=rf"^{who} needs fs > 0 Hz, got 0$"):
        func(x, 0)
    with pytest.raises(DataError, match=rf"^windows of 4 samples are too short for {what} \(need >= 8\)$"):
        func(x[..., :4], 1000.0)
    with pytest.raises(DataError, match=rf"^{who}: 2 non-finite"):
        func(np.where(np.arange(64) == 3, np.nan, x), 1000.0)
    # nperseg longer than the window is capped at the window (one segment), not an error
    assert func(x[..., :16], 1000.0, nperseg=128)[0].shape[:2] == (2, 1)


def test_window_representation_outputs():
    X, _ = _windows(t=200)
    rep = WindowRepresentation(spectrum="welch", nperseg=64)
    out = rep(X, 1000.0)
    assert set(out) == {"x", "amp", "spec"}
    assert set(WindowRepresentation(standardize=False)(X, 1000.0)) == {"x"}
    with pytest.raises(ConfigError):
        WindowRepresentation(spectrum="wavelet")


def test_bursts_as_samples_inverts_channels_as_samples():
    X, _ = _windows(n=4, c=3)
    md = pd.DataFrame({"subject": ["a", "a", "b", "b"], "burst_key": ["a#0", "a#1", "b#0", "b#1"]})
    ep = Epochs(X=X, fs=1000.0, ch_names=["c1", "c2", "c3"], metadata=md, y=np.array(["BB", "TA", "BB", "TA"]))
    flat = channels_as_samples(ep)
    # shuffle rows: regrouping must not depend on row order
    perm = np.random.default_rng(1).permutation(len(flat))
    back = bursts_as_samples(flat[perm])
    order = [list(back.metadata["burst_key"]).index(k) for k in md["burst_key"]]
    np.testing.assert_array_equal(back.X[order], ep.X)
    np.testing.assert_array_equal(back.y[order], ep.y)
    assert back.ch_names == ("c1", "c2", "c3") and "channel" not in back.metadata.columns
    with pytest.raises(DataError, match="lack some of the channels"):
        bursts_as_samples(flat[1:])
