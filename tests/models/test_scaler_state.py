"""One saved form of a fitted StandardScaler for every estimator that keeps one (gait MLPs, the LDA baseline)."""
from __future__ import annotations

import json

import numpy as np
from sklearn.preprocessing import StandardScaler

from myoflow.models.base import scaler_from_state, scaler_state


def test_a_restored_scaler_transforms_bit_identically_and_the_state_is_plain_json():
    rng = np.random.default_rng(0)
    X = rng.normal(loc=3.0, scale=[0.5, 2.0, 7.0, 1.0], size=(50, 4))
    X[:, 3] = 1.5  # a constant feature: the fitted scale is 1
    fitted = StandardScaler().fit(X)
    state = json.loads(json.dumps(scaler_state(fitted)))  # what a checkpoint's JSON header holds
    assert sorted(state) == ["mean", "scale"]
    back = scaler_from_state(state)
    Z = rng.normal(size=(9, 4))
    np.testing.assert_array_equal(back.transform(Z), fitted.transform(Z))
    np.testing.assert_array_equal(back.inverse_transform(Z), fitted.inverse_transform(Z))
    assert back.n_features_in_ == 4


def test_extra_keys_beside_the_scaler_are_ignored():
    """The LDA baseline stores mean/scale flat among its other fitted state."""
    fitted = StandardScaler().fit(np.arange(12.0).reshape(6, 2))
    state = {"classes": ["a", "b"], **scaler_state(fitted), "coef": [[1.0, 2.0]]}
    np.testing.assert_array_equal(scaler_from_state(state).transform([[1.0, 2.0]]), fitted.transform([[1.0, 2.0]]))
