"""myoflow.features: golden values computed by hand, LibEMG differences, extract/FeatureExtractor, NaN warnings."""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from myoflow import features as F
from myoflow.containers import Epochs
from myoflow.errors import ConfigError, DataError
from myoflow.evaluate import LeaveOneSubjectOut

X = np.array([1.0, -1.0, 2.0, 2.0, -3.0, 0.0, 1.0])  # Δx = -2, 3, 0, -5, 3, 1


def test_amplitude_features_golden():
    assert F.mav(X) == pytest.approx(10 / 7)
    assert F.iav(X) == pytest.approx(10.0)
    assert F.rms(X) == pytest.approx(np.sqrt(20 / 7))
    assert F.var(X) == pytest.approx(136 / 49)
    assert F.wl(X) == pytest.approx(14.0)
    assert F.dasdv(X) == pytest.approx(np.sqrt(8.0))
    y = np.array([1.0, -2.0, 4.0])
    assert F.ld(y) == pytest.approx(2.0)  # geometric mean of |y|
    libemg_ld = np.exp(np.mean(np.log(np.abs(y) + 1)))  # LibEMG adds 1
    assert libemg_ld == pytest.approx(30 ** (1 / 3)) and not np.isclose(F.ld(y), libemg_ld)


def test_count_features_golden_and_libemg_differences():
    assert F.zc(X) == 3 and F.zc(X, threshold=4.0) == 1
    # SSC: strict extrema only (the flat step 2 → 2 is not a slope change) ...
    assert F.ssc(X) == 2 and F.ssc(X, threshold=3.0) == 2 and F.ssc(X, threshold=4.0) == 1
    # ... where LibEMG's (x_i − x_{i−1})(x_i − x_{i+1}) >= 0 counts the flat steps too
    libemg_ssc = int((((X[1:-1] - X[:-2]) * (X[1:-1] - X[2:])) >= 0).sum())
    assert libemg_ssc == 4
    assert F.wamp(X) == 6 and F.wamp(X, threshold=3.0) == 3
    assert int((np.abs(np.diff(X)) > 3.0).sum()) == 1  # LibEMG's strict '>'
    # relative threshold: a fraction of each window's RMS, so gain does not change the count
    assert F.wamp(1000 * X, rel_threshold=0.9) == F.wamp(X, rel_threshold=0.9) == F.wamp(X, threshold=0.9 * F.rms(X))


def test_vectorised_over_leading_axes_and_per_window_thresholds():
    W = np.stack([X, -X, 2 * X])[None]  # (1, 3, 7)
    assert F.mav(W).shape == (1, 3)
    assert F.zc(W, threshold=np.array([[4.0, 4.0, 8.0]])).tolist() == [[1, 1, 1]]
    assert F.ar(W, order=3).shape == (1, 3, 3)


def test_ar_and_hjorth_golden():
    alt = np.array([1.0, -1.0, 1.0, -1.0])
    # r0 = 1, r1 = -3/4 (biased) → a1 = -r1/r0 = 0.75 in x_t + a1 x_{t-1} = e_t
    assert F.ar(alt, order=1) == pytest.approx([0.75])
    assert F.ar(np.zeros(8), order=2) == pytest.approx([0.0, 0.0])
    fs, f0 = 1000.0, 50.0
    s = np.sin(2 * np.pi * f0 * np.arange(2000) / fs)
    assert F.hjorth_mobility(s) == pytest.approx(2 * np.sin(np.pi * f0 / fs), rel=1e-2)
    assert F.hjorth_complexity(s) == pytest.approx(1.0, abs=1e-2)


def test_spectral_features_on_a_sine():
    fs, f0 = 1000.0, 125.0  # 125 Hz is a bin of the 256-point Welch spectrum
    s = np.sin(2 * np.pi * f0 * np.arange(1024) / fs)
    assert F.pkf(s, fs) == pytest.approx(f0)
    assert F.mdf(s, fs) == pytest.approx(f0)
    assert F.mnf(s, fs) == pytest.approx(f0, abs=2.0)
    assert F.band_power_ratio(s, 100.0, 150.0, fs=fs) > 0.95
    with pytest.raises(DataError, match="fs"):
        F.mnf(s)


def test_extract_names_columns_and_errors(caplog):
    W = np.random.default_rng(0).standard_normal((4, 2, 64))
    out = F.extract(W, ["mav", "AR", "MNF"], fs=1000.0, ar_order=2)
    assert out.shape == (4, 2, 4) and F.column_names(["mav", "AR", "MNF"], ar_order=2) == ["MAV", "AR1", "AR2", "MNF"]
    assert np.allclose(out[..., 0], F.mav(W)) and np.allclose(out[..., 3], F.mnf(W, 1000.0))
    ep = Epochs(W, 1000.0, ["a", "b"], pd.DataFrame({"subject": list("abcd")}))
    assert np.array_equal(F.extract(ep, ["MNF"]), F.extract(ep.X, ["MNF"], fs=1000.0))
    with pytest.raises(ConfigError, match="unknown feature"):
        F.extract(W, ["MAV", "XYZ"])
    bad = W.copy()
    bad[0, 0, 0] = np.nan
    with caplog.at_level(logging.WARNING, logger="myoflow.features"):
        F.extract(bad, ["MAV", "RMS"])
    assert any("2 of 16 feature value(s) are NaN/inf" in r.getMessage() for r in caplog.records)


def test_classic_features_warn_instead_of_silently_zeroing(monkeypatch, caplog):
    W = np.random.default_rng(1).standard_normal((3, 2, 64))
    ok = F.classic_features(W, fs=1000.0)
    assert ok.shape == (3, 44) and np.isfinite(ok).all()
    monkeypatch.setattr(F, "mnf", lambda x, fs=None, psd=None: np.full(x.shape[:-1], np.nan))
    with caplog.at_level(logging.WARNING, logger="myoflow.features"):
        out = F.classic_features(W, fs=1000.0)
    msgs = [r.getMessage() for r in caplog.records]
    assert any("6 of 132 value(s) are NaN/inf" in m and "ch0:mnf" in m for m in msgs)
    assert (out[:, F.CLASSIC_FEATURE_NAMES.index("mnf")] == 0).all()


def test_feature_extractor_in_a_cross_validated_pipeline():
    rng = np.random.default_rng(0)
    y = np.tile([0, 1], 30)
    X = rng.standard_normal((60, 2, 64)) * np.where(y == 1, 3.0, 1.0)[:, None, None]
    ep = Epochs(X, 1000.0, ["a", "b"], pd.DataFrame({"subject": np.repeat(list("abcde"), 12)}), y=y)
    pipe = make_pipeline(F.FeatureExtractor(["MAV", "WL", "ZC"]), StandardScaler(), LinearDiscriminantAnalysis())
    scores = cross_val_score(pipe, ep, ep.y, cv=LeaveOneSubjectOut())
    assert scores.mean() > 0.9
    assert F.FeatureExtractor(["MAV", "AR"], ar_order=3).fit(ep).transform(ep).shape == (60, 8)
