from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.metrics import accuracy_score, roc_auc_score

from myoflow.errors import DataError
from myoflow.evaluate import (
    bootstrap_ci,
    classification_metrics,
    metric_from_columns,
    per_subject,
    r2_ensemble_average,
    r2_ensemble_average_from_sums,
    regression_metrics,
)


def test_classification_metrics_hand_computed():
    y_true = np.array(["a", "a", "a", "a", "b", "b", "c", "c"])
    y_pred = np.array(["a", "a", "a", "b", "b", "c", "c", "c"])
    m = classification_metrics(y_true, y_pred)
    assert m["n"] == 8
    assert m["accuracy"] == pytest.approx(6 / 8)
    # recalls: a 3/4, b 1/2, c 2/2
    assert m["recall_per_class"] == pytest.approx({"a": 0.75, "b": 0.5, "c": 1.0})
    assert m["balanced_accuracy"] == pytest.approx((0.75 + 0.5 + 1.0) / 3)
    # precision a 3/3, b 1/2, c 2/3 -> F1 a 6/7, b 1/2, c 4/5
    f1 = np.array([6 / 7, 0.5, 0.8])
    assert m["f1_macro"] == pytest.approx(f1.mean())
    assert m["f1_weighted"] == pytest.approx((f1 * [4, 2, 2]).sum() / 8)
    assert m["confusion_matrix"] == {"labels": ["a", "b", "c"], "matrix": [[3, 1, 0], [0, 1, 1], [0, 0, 2]]}
    json.dumps(m)  # JSON-ready


def test_classification_metrics_with_labels_absent_from_truth():
    m = classification_metrics([0, 0, 1], [0, 1, 1], labels=[0, 1, 2])
    assert m["confusion_matrix"]["labels"] == [0, 1, 2]
    assert np.isnan(m["recall_per_class"]["2"])
    assert m["balanced_accuracy"] == pytest.approx((0.5 + 1.0) / 2)


def test_roc_auc_binary_and_multiclass_match_sklearn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    p1 = np.clip(y * 0.3 + rng.random(200) * 0.7, 0, 1)
    m = classification_metrics(y, (p1 > 0.5).astype(int), proba=p1, labels=[0, 1])
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, p1))
    m2 = classification_metrics(y, (p1 > 0.5).astype(int), proba=np.c_[1 - p1, p1])
    assert m2["roc_auc"] == pytest.approx(roc_auc_score(y, p1))
    y3 = rng.integers(0, 3, 300)
    logits = rng.normal(size=(300, 3)) + 2 * np.eye(3)[y3]
    proba = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    m3 = classification_metrics(y3, proba.argmax(1), proba=proba)
    assert m3["roc_auc"] == pytest.approx(roc_auc_score(y3, proba, multi_class="ovr", average="macro"))
    # a single class in y_true: AUC undefined
    assert np.isnan(classification_metrics([1, 1], [1, 0], proba=[0.9, 0.2], labels=[0, 1])["roc_auc"])


def test_classification_metrics_rejects_bad_shapes():
    with pytest.raises(DataError):
        classification_metrics([0, 1], [0])
    with pytest.raises(DataError):
        classification_metrics([0, 1, 2], [0, 1, 2], proba=np.ones((3, 2)))


def test_regression_metrics_against_numpy():
    rng = np.random.default_rng(1)
    t = rng.normal(size=(50, 3))
    p = t + rng.normal(scale=0.5, size=(50, 3))
    m = regression_metrics(t, p, names=["TA", "GM", "VL"])
    r2 = 1 - ((t - p) ** 2).sum(0) / ((t - t.mean(0)) ** 2).sum(0)
    rmse = np.sqrt(((t - p) ** 2).mean(0))
    r = [np.corrcoef(t[:, j], p[:, j])[0, 1] for j in range(3)]
    assert list(m["r2_per_channel"].values()) == pytest.approx(r2)
    assert list(m["rmse_per_channel"].values()) == pytest.approx(rmse)
    assert list(m["pearson_r_per_channel"].values()) == pytest.approx(r)
    assert m["r2"] == pytest.approx(r2.mean()) and m["pearson_r"] == pytest.approx(np.mean(r))
    # 3-D (epochs, channels, times): each channel pools epochs x times
    t3 = rng.normal(size=(4, 2, 10))
    p3 = t3 * 0.5
    m3 = regression_metrics(t3, p3)
    flat_t, flat_p = t3[:, 1].ravel(), p3[:, 1].ravel()
    assert m3["rmse_per_channel"]["1"] == pytest.approx(np.sqrt(((flat_t - flat_p) ** 2).mean()))
    assert m3["pearson_r_per_channel"]["0"] == pytest.approx(1.0)


@settings(max_examples=40, deadline=None)
@given(
    arrays(np.float64, (5, 3, 11), elements=st.floats(-10, 10)),
    arrays(np.float64, (7, 3, 11), elements=st.floats(-10, 10)),
)
def test_r2_ensemble_average_matches_direct_numpy(true, pred):
    got = r2_ensemble_average(true, pred)
    mt, mp = true.mean(0), pred.mean(0)
    for c in range(3):
        ss_tot = np.sum((mt[c] - mt[c].mean()) ** 2)
        if ss_tot <= 0:
            assert np.isnan(got[c])
        else:
            assert got[c] == pytest.approx(1 - np.sum((mt[c] - mp[c]) ** 2) / ss_tot, rel=1e-9, abs=1e-9)


def test_r2_ensemble_average_golden():
    phase = np.linspace(0, 1, 101)
    curve = np.sin(2 * np.pi * phase)
    rng = np.random.default_rng(2)
    true = curve + rng.normal(scale=0.3, size=(40, 1, 101))
    # Averaging removes cycle noise: the same underlying curve scores ~1 ...
    assert r2_ensemble_average(true, curve[None, None, :].repeat(3, 0))[0] > 0.95
    # ... predicting the curve's mean scores ~0, and an inverted curve far below 0.
    assert r2_ensemble_average(true, np.zeros((1, 1, 101)))[0] == pytest.approx(0, abs=0.05)
    assert r2_ensemble_average(true, -curve[None, None, :])[0] < -2.5
    with pytest.raises(DataError):
        r2_ensemble_average(np.zeros((2, 101)), np.zeros((2, 101)))


def test_r2_ensemble_average_from_sums_is_the_same_number_batched():
    """The bootstrap form (counts and summed cycles, any leading batch) gives r2_ensemble_average's bits."""
    rng = np.random.default_rng(3)
    curves = [rng.normal(size=(n, 3, 21)) for n in (4, 9, 6)]
    preds = [c * 0.7 + rng.normal(scale=0.2, size=c.shape) for c in curves]
    curves[2][:, 1] = 5.0  # a constant true channel: NaN in both forms
    n = np.array([len(c) for c in curves], dtype=float)
    got = r2_ensemble_average_from_sums(n, np.stack([c.sum(0) for c in curves]), np.stack([p.sum(0) for p in preds]))
    assert got.shape == (3, 3)
    for b in range(3):
        np.testing.assert_array_equal(got[b], r2_ensemble_average(curves[b], preds[b]))
    assert np.isnan(got[2, 1]) and not np.isnan(got[:2]).any()


def _predictions(acc_by_subject, n_rows, seed=0):
    rng = np.random.default_rng(seed)
    frames = []
    for s, acc in acc_by_subject.items():
        y = rng.integers(0, 2, n_rows)
        wrong = rng.random(n_rows) >= acc
        frames.append(pd.DataFrame({"subject": s, "y_true": y, "y_pred": np.where(wrong, 1 - y, y)}))
    return pd.concat(frames, ignore_index=True)


def test_bootstrap_resamples_subjects_not_windows():
    # Five subjects with very different accuracies and many windows each: the
    # between-subject spread must dominate the interval.
    df = _predictions({"s1": 0.95, "s2": 0.9, "s3": 0.6, "s4": 0.55, "s5": 0.85}, 400)
    acc = metric_from_columns(accuracy_score)
    point, lo, hi = bootstrap_ci(df, acc, n_boot=300, seed=0)
    assert point == pytest.approx(accuracy_score(df.y_true, df.y_pred))
    assert lo < point < hi
    # A window-level bootstrap (each row its own cluster) is far narrower.
    df_rows = df.assign(row=np.arange(len(df)))
    _, lo_r, hi_r = bootstrap_ci(df_rows, acc, group="row", n_boot=300, seed=0)
    assert (hi - lo) > 3 * (hi_r - lo_r)
    assert hi - lo > 0.1
    # deterministic for a seed
    assert bootstrap_ci(df, acc, n_boot=50, seed=4) == bootstrap_ci(df, acc, n_boot=50, seed=4)


def test_bootstrap_relabels_duplicated_subjects():
    df = _predictions({"a": 1.0, "b": 0.0}, 10)
    seen = []

    def n_subjects(d):
        seen.append(d["subject"].nunique())
        return float(d["subject"].nunique())

    bootstrap_ci(df, n_subjects, n_boot=20, seed=0)
    assert all(v == 2 for v in seen[1:])  # each draw of 2 subjects counts as 2 clusters


def test_per_subject():
    df = _predictions({"a": 1.0, "b": 0.0, "c": 1.0}, 20)
    out = per_subject(df, metric_from_columns(accuracy_score))
    assert out["subject"].tolist() == ["a", "b", "c"]
    assert out["value"].tolist() == [1.0, 0.0, 1.0]
    assert out["n"].tolist() == [20, 20, 20]
    multi = per_subject(df, lambda d: {"acc": accuracy_score(d.y_true, d.y_pred), "rows": len(d)})
    assert multi.columns.tolist() == ["subject", "n", "acc", "rows"]
    with pytest.raises(DataError, match="participant"):
        per_subject(df, lambda d: 0.0, group="participant")


def test_one_subject_fold_of_a_single_class_scores_without_a_warning():
    # a LOSO subject whose windows are all one class, all predicted right: sklearn warns "single label";
    # the run's log must not carry that warning once per fold, and the score must stay right
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = classification_metrics(["VL"] * 5, ["VL"] * 5, labels=["BF", "VL"])
    assert m["balanced_accuracy"] == 1.0 and m["accuracy"] == 1.0
