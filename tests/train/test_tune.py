"""Nested subject-wise selection: chooses on training subjects only, records it, fails clearly."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.svm import SVC

from myoflow.containers import Epochs
from myoflow.errors import ConfigError, DataError, LeakageError
from myoflow.train.tune import nested_cv, select_params, subject_folds


def _toy(n_subjects=8, per=20, seed=0, shift=1.5):
    rng = np.random.default_rng(seed)
    groups = np.repeat([f"s{i:02d}" for i in range(n_subjects)], per)
    y = np.tile(np.repeat(["a", "b"], per // 2), n_subjects)
    X = rng.standard_normal((len(y), 3)) + shift * (y == "b")[:, None]
    return X, y, groups


class Spy(ClassifierMixin, BaseEstimator):
    """Nearest-class-mean on columns 1..; column 0 is the subject code, logged at every fit/predict."""

    seen: list[tuple[str, set]] = []

    def __init__(self, c: float = 1.0):
        self.c = c

    def fit(self, X, y):
        Spy.seen.append(("fit", set(X[:, 0].astype(int))))
        self.classes_ = np.unique(y)
        self.means_ = np.stack([X[y == k, 1:].mean(0) for k in self.classes_]) * self.c
        return self

    def predict(self, X):
        Spy.seen.append(("predict", set(X[:, 0].astype(int))))
        d = ((X[:, None, 1:] - self.means_[None]) ** 2).sum(-1)
        return self.classes_[d.argmin(1)]

    def predict_proba(self, X):
        p = np.zeros((len(X), len(self.classes_)))
        p[np.arange(len(X)), np.searchsorted(self.classes_, self.predict(X))] = 1
        return p


def test_choice_never_sees_outer_test_subjects():
    X, y, groups = _toy()
    codes = np.unique(groups, return_inverse=True)[1]
    Xs = np.column_stack([codes, X])
    folds = subject_folds(groups, y, 4, seed=0, cohort="toy")
    for k, (tr, te) in enumerate(folds):
        Spy.seen = []
        sel = select_params(Spy(), {"c": [0.5, 1.0]}, Xs[tr], y[tr], groups[tr], n_inner=3, cohort="toy")
        test_codes = set(codes[te])
        assert Spy.seen and all(not (ids & test_codes) for _, ids in Spy.seen)
        assert set(sel.subjects) == set(groups[tr]) and not set(sel.subjects) & set(groups[te])
        assert len(sel.scores) == 2 and all("mean" in r for r in sel.scores)
        held = [s for fold in sel.inner_test_subjects for s in fold]
        assert sorted(held) == sorted(set(groups[tr]))        # every training subject held out once


def test_nested_cv_with_sklearn_records_choices(tmp_path):
    X, _, groups = _toy()
    y = np.where(X[:, 0] * X[:, 1] > 0, "b", "a")   # XOR: a linear kernel is at chance, rbf is not
    grid = {"kernel": ["linear", "rbf"]}
    out = tmp_path / "tune.json"
    res = nested_cv(SVC(), grid, X, y, groups, n_outer=4, n_inner=3, cohort="toy", out=out)
    rec = json.loads(out.read_text())
    assert rec["cohort"] == "toy" and len(rec["folds"]) == 4
    for f in rec["folds"]:
        assert f["chosen"] == {"kernel": "rbf"}
        assert not set(f["chosen_on_subjects"]) & set(f["test_subjects"])
        assert {tuple(sorted(r["params"].items())) for r in f["inner_scores"]} == {(("kernel", "linear"),), (("kernel", "rbf"),)}
    assert sorted(s for f in rec["folds"] for s in f["test_subjects"]) == sorted(set(groups))
    assert res.y_pred.shape == y.shape and rec["accuracy"] > 0.8
    # deterministic: same seed, same record
    res2 = nested_cv(SVC(), grid, X, y, groups, n_outer=4, n_inner=3, cohort="toy")
    def untimed(r):
        return [{k: v for k, v in f.items() if k != "seconds"} for f in r.summary()["folds"]]

    assert untimed(res2) == untimed(res)
    np.testing.assert_array_equal(res2.y_pred, res.y_pred)


def test_invalid_configurations_are_skipped_or_reported():
    X, y, groups = _toy()
    sel = select_params(LogisticRegression(), [{"C": [-1.0]}, {"C": [1.0]}], X, y, groups, n_inner=3, cohort="toy")
    assert sel.params == {"C": 1.0}
    assert "error" in sel.scores[0]
    with pytest.raises(ConfigError, match=r"cohort toy: no valid configuration among 2"):
        select_params(LogisticRegression(), {"C": [-1.0, -2.0]}, X, y, groups, n_inner=3, cohort="toy")
    with pytest.raises(ConfigError, match=r"cohort toy: no valid configuration: \{'C': -1.0\} fails on outer fold 0"):
        nested_cv(LogisticRegression(), {"C": [-1.0]}, X, y, groups, n_outer=2, n_inner=2, cohort="toy")
    with pytest.raises(ConfigError, match=r"cohort toy: no valid configuration: \{'nope': 1\}"):
        nested_cv(LogisticRegression(), {"nope": 1}, X, y, groups, n_outer=2, n_inner=2, cohort="toy")
    with pytest.raises(ConfigError, match="cohort toy: no valid configuration"):
        select_params(LogisticRegression(), {"no_such_param": [1, 2]}, X, y, groups, n_inner=3, cohort="toy")
    with pytest.raises(ConfigError, match="empty"):
        select_params(LogisticRegression(), [], X, y, groups, cohort="toy")


def test_bad_cohorts_fail_with_one_line_naming_the_cohort():
    X, y, groups = _toy(n_subjects=3)
    with pytest.raises(DataError, match=r"cohort tiny: outer fold 0 has 2 training subject\(s\); nested CV with 3"):
        nested_cv(LogisticRegression(), {"C": [1.0, 2.0]}, X, y, groups, n_outer=3, n_inner=3, cohort="tiny")
    with pytest.raises(DataError, match="cohort tiny: .* 3 subject\\(s\\); 5 subject-wise folds"):
        nested_cv(LogisticRegression(), None, X, y, groups, n_outer=5, cohort="tiny")
    one = np.full_like(y, "a")
    with pytest.raises(DataError, match="cohort mono: the cohort holds a single class"):
        nested_cv(LogisticRegression(), None, X, one, groups, n_outer=2, n_inner=2, cohort="mono")
    # an outer training fold with a single class
    X, y, groups = _toy(n_subjects=6)
    tr = np.flatnonzero(np.isin(groups, ["s00", "s01", "s02"]))
    with pytest.raises(DataError, match="cohort c: outer fold 0 training subjects holds a single class"):
        select_params(LogisticRegression(), {"C": [1.0, 2.0]}, X[tr], np.full(tr.size, "a"), groups[tr],
                      n_inner=3, cohort="c", where="outer fold 0 training subjects")
    # reported folds that share a subject are refused
    bad = [(np.arange(0, 60), np.arange(50, 120))]
    with pytest.raises(LeakageError, match="both sides"):
        nested_cv(LogisticRegression(), None, X, y, groups, outer_folds=bad, n_inner=2, cohort="c")


def test_nested_cv_with_a_tiny_torch_model():
    pytest.importorskip("torch")
    from myoflow.models.deep_classifier import DeepWindowClassifier

    rng = np.random.default_rng(0)
    subjects = np.repeat([f"s{i}" for i in range(4)], 16)
    y = np.tile(np.repeat(["BB", "TA"], 8), 4)
    t = np.arange(64) / 1000.0
    freq = np.where(y == "BB", 60.0, 200.0)[:, None]
    X = (np.sin(2 * np.pi * freq * t) + 0.3 * rng.standard_normal((len(y), 64)))[:, None, :].astype(np.float32)
    ep = Epochs(X=X, fs=1000.0, ch_names=["c"], metadata=pd.DataFrame({"subject": subjects}), y=y)
    est = DeepWindowClassifier(widths=(4, 8), pools=(2, 2), hidden=8, epochs=3, batch_size=16, val_fraction=0,
                               lr=1e-2)
    res = nested_cv(est, {"max_shift": [0, 4]}, ep, groups="subject", n_outer=2, n_inner=2, cohort="sim")
    rec = res.summary()
    assert len(rec["folds"]) == 2 and all(f["chosen"]["max_shift"] in (0, 4) for f in rec["folds"])
    assert res.y_pred.shape == (64,)
