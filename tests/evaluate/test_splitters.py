from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from myoflow.containers import Epochs
from myoflow.errors import ConfigError, DataError, LeakageError
from myoflow.evaluate import (
    LeaveOneSubjectOut,
    SubjectKFold,
    TrialSplit,
    WithinSubject,
    check_no_leakage,
    inner_validation_split,
)

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def cohorts(draw, min_subjects=2, max_subjects=8):
    """Random metadata: subjects (arbitrary ids and sizes), bursts per subject, labels."""
    n_sub = draw(st.integers(min_subjects, max_subjects))
    ids = draw(st.lists(st.text("abcdefgh0123", min_size=1, max_size=4), min_size=n_sub, max_size=n_sub, unique=True))
    rows = []
    for sid in ids:
        n_bursts = draw(st.integers(1, 6))
        label = draw(st.sampled_from(["lo", "mid", "hi"]))
        for b in range(n_bursts):
            for w in range(draw(st.integers(1, 4))):
                rows.append({"subject": sid, "burst_id": b, "window": w, "label": label})
    df = pd.DataFrame(rows)
    perm = draw(st.permutations(range(len(df))))
    return df.iloc[list(perm)].reset_index(drop=True)


def _shared(md, tr, te, col):
    return set(md[col].iloc[tr]) & set(md[col].iloc[te])


@FAST
@given(cohorts())
def test_loso_never_shares_subject_and_tests_each_row_once(md):
    folds = list(LeaveOneSubjectOut().split(md))
    assert len(folds) == md["subject"].nunique() == LeaveOneSubjectOut().get_n_splits(md)
    tested = np.concatenate([te for _, te in folds])
    assert np.array_equal(np.sort(tested), np.arange(len(md)))
    for tr, te in folds:
        assert not _shared(md, tr, te, "subject")
        assert md["subject"].iloc[te].nunique() == 1
        assert len(tr) + len(te) == len(md)


@FAST
@given(cohorts(min_subjects=3), st.integers(2, 3), st.booleans(), st.integers(0, 5))
def test_subject_kfold_never_shares_subject(md, k, stratify, seed):
    y = md["label"].to_numpy()
    splitter = SubjectKFold(n_splits=k, stratify=stratify, seed=seed)
    folds = list(splitter.split(md, y))
    assert len(folds) == k
    tested = np.concatenate([te for _, te in folds])
    assert np.array_equal(np.sort(tested), np.arange(len(md)))
    for tr, te in folds:
        assert len(te) > 0 and len(tr) > 0
        assert not _shared(md, tr, te, "subject")


@FAST
@given(cohorts(), st.floats(0.1, 0.6), st.integers(0, 5))
def test_within_subject_never_splits_a_burst(md, test_size, seed):
    multi = md.groupby("subject")["burst_id"].nunique()
    y = md["label"].to_numpy()
    if (multi < 2).all():
        with pytest.raises(DataError):
            list(WithinSubject(test_size=test_size, seed=seed).split(md, y))
        return
    (tr, te), = WithinSubject(test_size=test_size, seed=seed).split(md, y)
    pairs = lambda idx: set(zip(md["subject"].iloc[idx], md["burst_id"].iloc[idx]))  # noqa: E731
    assert not pairs(tr) & pairs(te)
    assert len(tr) + len(te) == len(md)
    for sid, n in multi.items():
        mine_tr = md["subject"].iloc[tr] == sid
        mine_te = md["subject"].iloc[te] == sid
        assert mine_tr.any(), "every subject keeps training bursts"
        if n >= 2:
            assert mine_te.any(), "every subject with >= 2 bursts has held-out bursts"


def test_within_subject_fraction_and_stratification():
    # 3 subjects x 2 classes x 10 bursts, 2 windows each; labels constant per burst.
    rows = [{"subject": s, "label": c, "burst_id": f"{c}{b}", "w": w}
            for s in "ABC" for c in ("x", "y") for b in range(10) for w in range(2)]
    md = pd.DataFrame(rows)
    (tr, te), = WithinSubject(test_size=0.2, seed=3).split(md, md["label"].to_numpy())
    held = md.iloc[te].groupby(["subject", "label"])["burst_id"].nunique()
    assert (held == 2).all()  # 20 % of 10 bursts, per subject and class
    assert len(te) == 3 * 2 * 2 * 2


def test_within_subject_is_seeded_and_repeats_differ():
    md = pd.DataFrame({"subject": np.repeat(["A", "B"], 20), "burst_id": np.tile(np.arange(20), 2)})
    a = list(WithinSubject(seed=1, n_repeats=3).split(md))
    b = list(WithinSubject(seed=1, n_repeats=3).split(md))
    assert all(np.array_equal(x[1], y[1]) for x, y in zip(a, b))
    assert not np.array_equal(a[0][1], a[1][1])


def test_subject_kfold_stratifies_labels():
    # 12 subjects, one label each (6 "a", 6 "b"): every fold should test both labels.
    md = pd.DataFrame({"subject": np.repeat(np.arange(12), 5)})
    y = np.repeat(np.array(list("ab" * 6)), 5)
    for tr, te in SubjectKFold(n_splits=3, seed=0).split(md, y):
        assert set(y[te]) == {"a", "b"}
        assert set(y[tr]) == {"a", "b"}


def test_subject_kfold_uses_epochs_targets_and_rejects_too_few_subjects():
    X = np.zeros((6, 1, 4), dtype=np.float32)
    ep = Epochs(X, 100.0, ["c"], pd.DataFrame({"subject": list("aabbcc")}), y=np.array([0, 0, 1, 1, 0, 0]))
    folds = list(SubjectKFold(n_splits=3).split(ep))
    assert len(folds) == 3
    with pytest.raises(DataError, match="at least 4"):
        list(SubjectKFold(n_splits=4).split(ep))
    with pytest.raises(ConfigError):
        SubjectKFold(n_splits=1)


def test_trial_split():
    md = pd.DataFrame({"trial": ["walk36"] * 4 + ["walk45"] * 3 + ["run81"] * 2})
    (tr, te), = TrialSplit(train="walk36", test=["walk45"]).split(md)
    assert tr.tolist() == [0, 1, 2, 3] and te.tolist() == [4, 5, 6]
    (tr, te), = TrialSplit(train=["walk36", "walk45"]).split(md)
    assert te.tolist() == [7, 8]
    with pytest.raises(DataError, match="walk99"):
        list(TrialSplit(train="walk99").split(md))
    with pytest.raises(LeakageError):
        TrialSplit(train=["walk36"], test=["walk36", "walk45"])


def test_check_no_leakage_raises_on_shared_groups():
    md = pd.DataFrame({"subject": ["a", "a", "b", "b"], "burst_id": [0, 1, 0, 1]})
    check_no_leakage(md, [0, 1], [2, 3], "subject")
    with pytest.raises(LeakageError, match="subject"):
        check_no_leakage(md, [0, 2], [1, 3], "subject")
    # (subject, burst) pairs differ even though burst ids repeat across subjects
    check_no_leakage(md, [0, 3], [1, 2], [("subject", "burst_id")])
    with pytest.raises(LeakageError, match="burst_id"):
        check_no_leakage(md, [0, 3], [1, 2], ["burst_id"])
    with pytest.raises(LeakageError, match="both train and test"):
        check_no_leakage(md, [0, 1], [1, 2], [])


def test_missing_group_column_is_a_clear_error():
    md = pd.DataFrame({"subj": [1, 2, 3]})
    with pytest.raises(DataError, match="'subject'"):
        list(LeaveOneSubjectOut().split(md))
    md2 = pd.DataFrame({"subject": ["a", None, "b"]})
    with pytest.raises(DataError, match="missing values"):
        list(LeaveOneSubjectOut().split(md2))


@FAST
@given(cohorts(min_subjects=3), st.integers(0, 10), st.booleans())
def test_inner_validation_uses_training_subjects_only(md, seed, with_y):
    y = md["label"].to_numpy() if with_y else None
    for tr, te in LeaveOneSubjectOut().split(md):
        fit, val = inner_validation_split(md, tr, fraction=0.3, seed=seed, y=y)
        assert set(fit) | set(val) == set(tr)
        assert not set(fit) & set(val)
        assert len(val) > 0 and len(fit) > 0
        assert not _shared(md, fit, val, "subject")
        assert not set(md["subject"].iloc[val]) & set(md["subject"].iloc[te])


def test_inner_validation_falls_back_when_classes_are_too_small_to_stratify(caplog):
    # one window per class and subject: StratifiedGroupKFold cannot split (sklearn raises); a group split still can
    md = pd.DataFrame({"subject": ["a", "b", "c", "d"], "label": ["x", "y", "z", "w"]})
    with caplog.at_level("WARNING"):
        fit, val = inner_validation_split(md, np.arange(4), fraction=0.25, seed=0, y=md["label"].to_numpy())
    assert len(fit) and len(val) and not set(fit) & set(val) and set(fit) | set(val) == set(range(4))
    assert "unstratified group split" in caplog.text


def test_inner_validation_needs_two_groups():
    md = pd.DataFrame({"subject": ["a"] * 3 + ["b"] * 3})
    with pytest.raises(DataError, match="only 1 group"):
        inner_validation_split(md, np.arange(3))


def test_subject_kfold_falls_back_when_every_class_is_smaller_than_the_fold_count(caplog):
    # 12 subjects, 4 per class, 5 folds: scikit-learn's StratifiedGroupKFold raises a ValueError here
    import logging

    md = pd.DataFrame({"subject": [f"S{i:02d}" for i in range(12)]})
    y = np.array(["low", "normal", "high"] * 4)
    with caplog.at_level(logging.WARNING):
        folds = list(SubjectKFold(n_splits=5, seed=0).split(md, y=y))
    assert len(folds) == 5 and sorted(np.concatenate([te for _, te in folds]).tolist()) == list(range(12))
    assert "impossible" in caplog.text
