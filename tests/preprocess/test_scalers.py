from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from myoflow.containers import Epochs
from myoflow.errors import ConfigError, DataError
from myoflow.preprocess import ChannelStandardScaler, CovariateEncoder, FeatureStandardScaler, RobustChannelScaler

SCALERS = [ChannelStandardScaler, RobustChannelScaler, FeatureStandardScaler]


def _train(seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(8, 3, 20)) * [[[1.0], [5.0], [0.1]]] + [[[0.0], [10.0], [-3.0]]]).astype(np.float32)


@settings(max_examples=40, deadline=None)
@given(
    test=arrays(np.float32, st.tuples(st.integers(1, 5), st.just(3), st.just(20)),
                elements=st.floats(-1e3, 1e3, width=32)),
    which=st.sampled_from(SCALERS),
)
def test_scaler_fitted_on_train_ignores_test_content(test, which):
    train = _train()
    scaler = which().fit(train)
    alone = scaler.transform(train)
    together = scaler.transform(np.concatenate([train, test]))
    np.testing.assert_array_equal(together[: len(train)], alone)
    # and the test rows' output depends only on themselves
    np.testing.assert_array_equal(together[len(train):], scaler.transform(test))
    # transforming never changes what was learned: the state equals a fresh fit on the training rows only
    fresh = which().fit(train)
    learned = [k for k in vars(fresh) if k.endswith("_") and not k.startswith("_")]
    assert learned, "scaler exposes no learned state"
    for k in learned:
        np.testing.assert_array_equal(np.asarray(getattr(scaler, k)), np.asarray(getattr(fresh, k)), err_msg=k)


def test_channel_standard_scaler_statistics():
    X = _train()
    s = ChannelStandardScaler().fit(X)
    np.testing.assert_allclose(s.mean_, X.astype(float).mean(axis=(0, 2)), rtol=1e-6)
    np.testing.assert_allclose(s.scale_, X.astype(float).std(axis=(0, 2)), rtol=1e-5)
    Z = s.transform(X)
    assert Z.dtype == np.float32 and Z.shape == X.shape
    np.testing.assert_allclose(Z.mean(axis=(0, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(Z.std(axis=(0, 2)), 1, atol=1e-4)
    np.testing.assert_allclose(s.inverse_transform(Z), X, rtol=1e-5, atol=1e-5)
    # Epochs in, Epochs out
    ep = Epochs(X, 1000.0, ["a", "b", "c"], pd.DataFrame({"subject": range(8)}))
    out = s.fit_transform(ep)
    assert isinstance(out, Epochs) and out.metadata.equals(ep.metadata)
    assert clone(s).get_params() == {}
    with pytest.raises(DataError, match="3 channel"):
        s.transform(X[:, :2])
    with pytest.raises(NotFittedError):
        ChannelStandardScaler().transform(X)
    # constant channel: scale 1, no division by zero
    Xc = X.copy()
    Xc[:, 2] = 4.0
    assert np.isfinite(ChannelStandardScaler().fit_transform(Xc)).all()


def test_robust_scaler_median_iqr():
    X = _train(1)
    X[0, 0, :5] = 1e6  # outliers barely move a robust fit
    s = RobustChannelScaler().fit(X)
    flat = np.moveaxis(X, 1, 0).reshape(3, -1).astype(float)
    np.testing.assert_allclose(s.center_, np.median(flat, axis=1))
    q75, q25 = np.percentile(flat, [75, 25], axis=1)
    np.testing.assert_allclose(s.scale_, q75 - q25)
    Z = s.transform(X)
    assert np.median(Z[:, 1]) == pytest.approx(0, abs=1e-6)
    with pytest.raises(ConfigError):
        RobustChannelScaler(quantile_range=(80, 20)).fit(X)


def test_covariate_encoder_numeric_and_categorical():
    train = pd.DataFrame({"age": [20.0, 30.0, 40.0, np.nan], "sex": ["F", "M", "F", "M"], "bmi": [20, 22, 24, 26]})
    enc = CovariateEncoder(numeric=["age", "bmi"], categorical=["sex"]).fit(train)
    assert enc.feature_names_out_ == ["age", "bmi", "sex=F", "sex=M"]
    Z = enc.transform(train)
    assert Z.dtype == np.float32 and Z.shape == (4, 4)
    # missing age imputed with the training mean (30) -> 0 after standardisation
    assert Z[3, 0] == pytest.approx(0.0, abs=1e-6)
    np.testing.assert_allclose(Z[:, 1], (train.bmi - 23) / np.std(train.bmi), rtol=1e-6)
    np.testing.assert_array_equal(Z[:, 2:], [[1, 0], [0, 1], [1, 0], [0, 1]])
    # unseen category -> all-zero one-hot; statistics are the training ones
    test = pd.DataFrame({"age": [50.0], "sex": ["X"], "bmi": [23]})
    z = enc.transform(test)[0]
    assert z[2:].tolist() == [0, 0] and z[1] == pytest.approx(0.0)
    assert z[0] == pytest.approx((50 - 30) / np.std([20, 30, 40, 30]), rel=1e-5)
    # inferred columns from a covariates-only table
    auto = CovariateEncoder().fit(train)
    assert auto.numeric_ == ["age", "bmi"] and auto.categorical_ == ["sex"]
    # Epochs need explicit columns (metadata holds ids too)
    ep = Epochs(np.zeros((4, 1, 2), np.float32), 1.0, ["c"], train.assign(subject=list("abcd")))
    with pytest.raises(ConfigError):
        CovariateEncoder().fit(ep)
    assert CovariateEncoder(numeric=["age"]).fit(ep).transform(ep).shape == (4, 1)
    with pytest.raises(DataError, match="height"):
        CovariateEncoder(numeric=["height"]).fit(train)
    with pytest.raises(DataError, match="non-numbers"):
        CovariateEncoder(numeric=["sex"]).fit(train)
    with pytest.raises(ConfigError, match="both"):
        CovariateEncoder(numeric=["age"], categorical=["age"]).fit(train)


def test_feature_scaler_rows():
    X = np.random.default_rng(0).normal(3, 2, size=(50, 4))
    Z = FeatureStandardScaler().fit_transform(X)
    np.testing.assert_allclose(Z.mean(0), 0, atol=1e-9)
    np.testing.assert_allclose(Z.std(0), 1, atol=1e-9)
