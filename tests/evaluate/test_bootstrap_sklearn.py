"""One subject bootstrap (vectorised and generic agree; paired differences) and scikit-learn CV on Epochs."""
from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from myoflow.containers import Epochs
from myoflow.errors import DataError, LeakageError
from myoflow.evaluate import (
    LeaveOneSubjectOut,
    SubjectKFold,
    WithinSubject,
    bootstrap_ci,
    bootstrap_mean,
    cluster_bootstrap,
    cluster_draws,
    inner_validation_split,
    metric_from_columns,
    nrmse,
    paired_bootstrap_ci,
    pearson_per_cycle,
    pearson_r,
    r2_per_cycle,
)
from myoflow.evaluate import metrics as M


# ------------------------------------------------------------------ bootstrap
def _preds(seed=0, n_subj=8, per=20, p_correct=0.8):
    rng = np.random.default_rng(seed)
    subj = np.repeat([f"s{i}" for i in range(n_subj)], per)
    truth = rng.integers(0, 2, subj.size)
    pred = np.where(rng.random(subj.size) < p_correct, truth, 1 - truth)
    return pd.DataFrame({"subject": subj, "y_true": truth, "y_pred": pred})


def test_draw_matrix_equals_one_call_per_replicate():
    rng = np.random.default_rng(3)
    loop = np.stack([rng.integers(0, 7, 7) for _ in range(50)])
    assert np.array_equal(cluster_draws(7, 50, 3), loop)


def test_vectorised_and_generic_bootstrap_agree_on_accuracy():
    df = _preds()
    generic = bootstrap_ci(df, metric_from_columns(accuracy_score), n_boot=300, seed=5)
    correct = (df.y_true == df.y_pred).to_numpy(float)
    codes = pd.factorize(df.subject, sort=True)[0]
    stats = np.stack([np.bincount(codes, correct), np.bincount(codes)], axis=1)
    fast = cluster_bootstrap(stats, lambda s: s[..., 0] / s[..., 1], n_boot=300, seed=5)
    assert fast.point == pytest.approx(generic.point)
    assert (fast.lo, fast.hi) == pytest.approx((generic.lo, generic.hi))
    assert fast.lo < fast.point < fast.hi


def test_paired_bootstrap_of_a_difference():
    a, b = _preds(0, p_correct=0.9), _preds(0, p_correct=0.6)  # same subjects and truths
    fn = metric_from_columns(accuracy_score)
    d = paired_bootstrap_ci(a, b, fn, n_boot=400, seed=1)
    assert d.point == pytest.approx(fn(a) - fn(b))
    assert 0 < d.lo < d.point < d.hi
    # the vectorised form with other= gives the same interval from the same draws
    def stats(df):
        codes = pd.factorize(df.subject, sort=True)[0]
        return np.stack([np.bincount(codes, (df.y_true == df.y_pred).to_numpy(float)), np.bincount(codes)], 1)
    fast = cluster_bootstrap(stats(a), lambda s: s[..., 0] / s[..., 1], other=stats(b), n_boot=400, seed=1)
    assert (fast.point, fast.lo, fast.hi) == pytest.approx(tuple(d))
    # a model against itself: a zero-width interval at 0
    z = paired_bootstrap_ci(a, a, fn, n_boot=50, seed=0)
    assert tuple(z) == (0.0, 0.0, 0.0)
    with pytest.raises(DataError, match="same subject"):
        paired_bootstrap_ci(a, a[a.subject != "s0"], fn, n_boot=10)


def test_dict_statistics_single_cluster_and_mean():
    stats = np.array([[3.0, 4.0], [1.0, 4.0], [4.0, 4.0]])
    out = cluster_bootstrap(stats, lambda s: {"acc": s[..., 0] / s[..., 1], "err": 1 - s[..., 0] / s[..., 1]},
                            n_boot=200, seed=0)
    assert set(out) == {"acc", "err"} and out["acc"].point == pytest.approx(8 / 12)
    assert out["acc"].lo == pytest.approx(1 - out["err"].hi)
    one = cluster_bootstrap(stats[:1], lambda s: s[..., 0] / s[..., 1])
    assert one.point == 0.75 and np.isnan(one.lo) and np.isnan(one.hi)
    m = bootstrap_mean([1.0, 2.0, 3.0, 10.0], n_boot=500, seed=0)
    assert m.point == 4.0 and 1.0 <= m.lo < 4.0 < m.hi <= 10.0
    # clusters: the mean is over values, clusters resampled whole
    mc = bootstrap_mean([1.0, 1.0, 5.0], clusters=["a", "a", "b"], n_boot=200, seed=0)
    assert mc.point == pytest.approx(7 / 3) and mc.lo == pytest.approx(1.0) and mc.hi == pytest.approx(5.0)


# ------------------------------------------------------------------ regression metrics
def test_regression_metrics_golden_values():
    t = np.array([[[0.0, 1.0, 2.0, 3.0]], [[1.0, 1.0, 1.0, 1.0]]])  # 2 cycles, 1 channel; second constant
    p = np.array([[[0.0, 1.0, 2.0, 4.0]], [[1.0, 2.0, 1.0, 1.0]]])
    # cycle 1: ss_res 1, ss_tot 5 → R² 0.8; cycle 2 constant → left out
    assert r2_per_cycle(t, p) == pytest.approx([0.8])
    r1 = np.corrcoef([0, 1, 2, 3], [0, 1, 2, 4])[0, 1]
    assert pearson_per_cycle(t, p) == pytest.approx([r1])
    assert np.isnan(pearson_r(np.ones((1, 5)), np.arange(5.0)[None])[0])
    # nRMSE: RMS error / peak-to-peak of the target
    assert nrmse(np.array([[0.0, 0.0, 0.0, 0.0]]), np.array([[0.0, 2.0, 0.0, -2.0]])) == pytest.approx([np.sqrt(2) / 4])


def test_metrics_filter_only_the_expected_warning(monkeypatch):
    # A class predicted but absent from y_true: sklearn's one expected warning is filtered ...
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        M.classification_metrics(["a", "a", "b"], ["a", "c", "b"])
    # ... but any other warning raised while scoring still reaches the caller.
    real = M.accuracy_score

    def noisy(*a, **k):
        warnings.warn("something else", RuntimeWarning)
        return real(*a, **k)

    monkeypatch.setattr(M, "accuracy_score", noisy)
    with pytest.warns(RuntimeWarning, match="something else"):
        M.classification_metrics(["a", "b"], ["a", "b"])


# ------------------------------------------------------------------ scikit-learn on Epochs
class MeanAbsCentroid(ClassifierMixin, BaseEstimator):
    """Tiny estimator taking Epochs: per-channel mean |x| → nearest class centroid (y from Epochs when None)."""

    def __init__(self, scale: float = 1.0):
        self.scale = scale

    @staticmethod
    def _xy(X, y):
        if isinstance(X, Epochs):
            return np.abs(X.X).mean(-1), (X.y if y is None else y)
        return np.abs(np.asarray(X)).mean(-1), y

    def fit(self, X, y=None):
        F, y = self._xy(X, y)
        self.classes_ = np.unique(y)
        self.centroids_ = np.stack([F[y == c].mean(0) for c in self.classes_]) * self.scale
        return self

    def predict(self, X):
        F, _ = self._xy(X, None)
        return self.classes_[np.argmin(((F[:, None] - self.centroids_[None]) ** 2).sum(-1), axis=1)]

    def score(self, X, y=None):
        _, yy = self._xy(X, y)
        return float(np.mean(self.predict(X) == yy))


def _epochs(n_subj=5, per=12, seed=0):
    rng = np.random.default_rng(seed)
    y = np.tile([0, 1], n_subj * per // 2)
    subj = np.repeat([f"s{i}" for i in range(n_subj)], per)
    amp = np.where(y == 1, 2.0, 1.0)[:, None, None] * rng.uniform(0.8, 1.2, (n_subj, 1, 1)).repeat(per, 0)
    X = rng.standard_normal((y.size, 2, 32)) * amp
    return Epochs(X, 1000.0, ["a", "b"], pd.DataFrame({"subject": subj, "burst_id": np.arange(y.size) // 2}), y=y)


def test_cross_val_score_takes_epochs_directly():
    ep = _epochs()
    scores = cross_val_score(MeanAbsCentroid(), ep, cv=LeaveOneSubjectOut())
    assert scores.shape == (5,) and scores.mean() > 0.8
    # the same with arrays and groups=, as scikit-learn's own group splitters take them
    s2 = cross_val_score(MeanAbsCentroid(), ep.X, ep.y, groups=ep.subjects, cv=LeaveOneSubjectOut())
    assert np.allclose(scores, s2)
    s3 = cross_val_score(MeanAbsCentroid(), ep.X, ep.y, groups=ep.subjects, cv=SubjectKFold(n_splits=5, seed=0))
    assert s3.shape == (5,)


def test_pipeline_and_gridsearch_take_epochs():
    ep = _epochs()
    feats = FunctionTransformer(lambda E: np.log(np.abs(E.X).mean(-1)))
    pipe = make_pipeline(feats, StandardScaler(), LinearDiscriminantAnalysis())
    assert cross_val_score(pipe, ep, ep.y, cv=LeaveOneSubjectOut()).mean() > 0.8
    gs = GridSearchCV(MeanAbsCentroid(), {"scale": [1.0, 5.0]}, cv=LeaveOneSubjectOut()).fit(ep)
    assert gs.best_params_ == {"scale": 1.0} and len(gs.cv_results_["split0_test_score"]) == 2
    clone(MeanAbsCentroid(scale=2.0))


def test_splitters_need_groups_for_arrays_and_keep_the_leakage_check(monkeypatch):
    ep = _epochs()
    with pytest.raises(DataError, match="needs groups="):
        list(LeaveOneSubjectOut().split(ep.X, ep.y))
    with pytest.raises(DataError, match="groups has 3"):
        list(LeaveOneSubjectOut().split(ep.X, ep.y, groups=["a", "b", "c"]))
    assert LeaveOneSubjectOut().get_n_splits(ep) == 5 == LeaveOneSubjectOut().get_n_splits(groups=ep.subjects)
    with pytest.raises(Exception, match="DataFrame"):
        list(WithinSubject().split(ep.X, ep.y, groups=ep.subjects))
    ws = list(WithinSubject(seed=0).split(ep.X, ep.y, groups=ep.metadata[["subject", "burst_id"]]))
    assert len(ws) == 1
    # a broken inner splitter (a subject on both sides) is still caught with groups=
    import myoflow.evaluate.splitters as S

    def leaky(self, *a, **k):
        idx = np.arange(len(ep))
        yield idx[::2], idx[1::2]

    monkeypatch.setattr(S.LeaveOneGroupOut, "split", leaky)
    with pytest.raises(LeakageError):
        list(LeaveOneSubjectOut().split(ep.X, ep.y, groups=ep.subjects))


def test_stratified_fallbacks_are_logged(caplog, monkeypatch):
    import myoflow.evaluate.splitters as S

    md = pd.DataFrame({"subject": list("abcdef")})
    y = np.array([0, 0, 0, 0, 1, 1])
    real = S._stratified_group_folds

    def empty_fold(*a, **k):
        folds = real(*a, **k)
        tr, te = folds[0]
        return [(np.concatenate([tr, te]), te[:0])] + folds[1:]

    monkeypatch.setattr(S, "_stratified_group_folds", empty_fold)
    with caplog.at_level(logging.WARNING, logger="myoflow.evaluate.splitters"):
        folds = list(SubjectKFold(n_splits=3, seed=0).split(md, y))
        inner_validation_split(md, np.arange(6), fraction=0.3, y=y)
    assert len(folds) == 3 and all(len(te) for _, te in folds)
    msgs = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("SubjectKFold" in m and "unstratified" in m for m in msgs)
    assert any("inner_validation_split" in m and "unstratified" in m for m in msgs)
