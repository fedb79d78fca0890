from __future__ import annotations

import numpy as np
import pytest

from myoflow.errors import DataError
from myoflow.evaluate import class_weights, random_oversample, smote


def test_class_weights_balanced():
    y = np.array(["lo"] * 6 + ["hi"] * 2)
    w = class_weights(y)
    assert w == pytest.approx({"hi": 8 / (2 * 2), "lo": 8 / (2 * 6)})
    # mean weight over samples is 1
    assert np.mean([w[v] for v in y]) == pytest.approx(1.0)
    assert all(isinstance(k, str) for k in w)


def test_random_oversample_indices_balances_and_keeps_originals():
    y = np.array([0] * 7 + [1] * 2 + [2] * 4)
    idx = np.arange(100, 113)
    rows, yr = random_oversample(idx, y, seed=0)
    assert np.array_equal(rows[: len(idx)], idx)
    assert np.bincount(yr).tolist() == [7, 7, 7]
    # every added row is a copy of a same-class training row
    lookup = dict(zip(idx, y))
    assert all(lookup[r] == c for r, c in zip(rows, yr))
    again, _ = random_oversample(idx, y, seed=0)
    assert np.array_equal(rows, again)


def test_random_oversample_epoch_arrays():
    X = np.random.default_rng(0).normal(size=(5, 2, 8))
    y = np.array(["a", "a", "a", "b", "b"])
    Xr, yr = random_oversample(X, y, seed=1)
    assert Xr.shape == (6, 2, 8) and (yr == "b").sum() == 3
    assert any(np.array_equal(Xr[5], X[i]) for i in (3, 4))


def test_smote_interpolates_within_class():
    rng = np.random.default_rng(0)
    Xa = rng.normal(0, 1, size=(30, 4))
    Xb = rng.normal(10, 1, size=(5, 4))
    X = np.vstack([Xa, Xb])
    y = np.array([0] * 30 + [1] * 5)
    Xr, yr = smote(X, y, k=3, seed=0)
    assert np.bincount(yr).tolist() == [30, 30]
    assert np.array_equal(Xr[:35], X)
    synth = Xr[35:]
    # convex combinations of class-1 rows: inside the class-1 bounding box, far from class 0
    assert (synth >= Xb.min(0) - 1e-9).all() and (synth <= Xb.max(0) + 1e-9).all()
    # each synthetic row lies on a segment between two class-1 rows
    for s in synth[:10]:
        found = False
        for i in range(5):
            for j in range(5):
                d = Xb[j] - Xb[i]
                if i == j or not d.any():
                    continue
                u = np.dot(s - Xb[i], d) / np.dot(d, d)
                if -1e-9 <= u <= 1 + 1e-9 and np.allclose(Xb[i] + u * d, s, atol=1e-8):
                    found = True
        assert found


def test_smote_small_classes_and_errors():
    X = np.arange(12, dtype=float).reshape(6, 2)
    y = np.array([0, 0, 0, 0, 1, 2])
    Xr, yr = smote(X, y, k=5, seed=0)
    assert np.bincount(yr).tolist() == [4, 4, 4]
    assert np.all(Xr[yr == 1] == X[4])  # a single row can only be duplicated
    with pytest.raises(DataError):
        smote(X, y[:-1])
    with pytest.raises(DataError):
        smote(np.arange(5.0), np.zeros(5))
