"""Cross-validation splitters that split by metadata groups and cannot leak.

Every splitter reads its groups from the per-epoch ``metadata`` table of an
:class:`~myoflow.containers.Epochs` (or from a metadata ``DataFrame`` directly),
or — exactly as scikit-learn's group splitters — from ``groups=`` beside any
array-like ``X`` (so ``cross_val_score(est, X, y, groups=subjects, cv=...)``,
``cross_val_score(est, epochs, cv=LeaveOneSubjectOut())``, ``GridSearchCV`` and
``Pipeline`` work unchanged). They yield ``(train_idx, test_idx)`` integer arrays and
checks every split with :func:`check_no_leakage` before yielding it: a subject
(or, for :class:`WithinSubject`, a burst) on both sides raises
:class:`~myoflow.errors.LeakageError` instead of producing an optimistic score.

The group logic itself is scikit-learn's (``LeaveOneGroupOut``, ``GroupKFold``,
``StratifiedGroupKFold``, ``GroupShuffleSplit``); this module adds the metadata
plumbing, composite group keys and the leakage check.
"""
from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator, Sequence
from typing import Any, Union

import numpy as np
import pandas as pd
from sklearn.model_selection import (
    GroupKFold,
    GroupShuffleSplit,
    LeaveOneGroupOut,
    StratifiedGroupKFold,
)

from ..containers import Epochs
from ..errors import ConfigError, DataError, LeakageError

__all__ = [
    "LeaveOneSubjectOut",
    "SubjectKFold",
    "WithinSubject",
    "TrialSplit",
    "check_no_leakage",
    "inner_validation_split",
    "group_codes",
]

logger = logging.getLogger(__name__)

#: A group key: one metadata column, or several whose combination is the unit.
GroupKey = Union[str, Sequence[str]]
Data = Union[Epochs, pd.DataFrame]


# ----------------------------------------------------------------- helpers
def _metadata(data: Data) -> pd.DataFrame:
    if isinstance(data, Epochs):
        return data.metadata
    if isinstance(data, pd.DataFrame):
        return data.reset_index(drop=True)
    raise DataError(f"expected Epochs or a metadata DataFrame to split, got {type(data).__name__}")


def _n_samples(X: Any) -> int:
    if hasattr(X, "shape") and len(getattr(X, "shape")) > 0:
        return int(X.shape[0])
    try:
        return len(X)
    except TypeError:
        raise DataError(f"cannot count the samples of a {type(X).__name__} to split") from None


def _frame(X: Any, groups: Any, columns: Sequence[str], who: str) -> pd.DataFrame:
    """The table a splitter reads its groups from (see the module docstring).

    ``groups`` (when given) wins: a DataFrame is used as the metadata, a 1-D
    array fills every column of the splitter's group key (the key is then that
    one array). Without ``groups``, ``X`` must be Epochs or a metadata DataFrame.
    """
    if groups is None:
        if isinstance(X, (Epochs, pd.DataFrame)):
            return _metadata(X)
        raise DataError(
            f"{who} needs groups= (one subject id per sample) to split a {type(X).__name__}; "
            "or pass Epochs / a metadata DataFrame"
        )
    n = None if X is None else _n_samples(X)
    if isinstance(groups, pd.DataFrame):
        md = groups.reset_index(drop=True)
    else:
        g = np.asarray(groups)
        if g.ndim != 1:
            raise DataError(f"groups must be 1-D (one id per sample), got shape {g.shape}")
        md = pd.DataFrame({c: g for c in columns})
    if n is not None and len(md) != n:
        raise DataError(f"groups has {len(md)} value(s) for {n} sample(s)")
    return md


def _targets(data: Any, y: Any, n: int | None = None) -> np.ndarray | None:
    if y is not None:
        y = np.asarray(y)
    elif isinstance(data, Epochs) and data.y is not None:
        y = data.y
    else:
        return None
    n = len(_metadata(data)) if n is None else n
    if y.shape[0] != n:
        raise DataError(f"y has {y.shape[0]} row(s) for {n} epoch(s)")
    return y


def _columns(key: GroupKey) -> list[str]:
    if isinstance(key, str):
        return [key]
    cols = [str(c) for c in key]
    if not cols:
        raise ConfigError("a group key needs at least one metadata column")
    return cols


def group_codes(metadata: pd.DataFrame, key: GroupKey) -> np.ndarray:
    """Integer code per row for the group given by one or several metadata columns.

    Parameters
    ----------
    metadata : DataFrame
        One row per epoch.
    key : str or sequence of str
        Column name, or several columns whose value combination is one group
        (e.g. ``("subject", "burst_id")`` when burst ids restart per subject).

    Returns
    -------
    codes : ndarray of int64, shape (n_rows,)

    Raises
    ------
    DataError
        If a column is missing or holds missing values.
    """
    cols = _columns(key)
    missing = [c for c in cols if c not in metadata.columns]
    if missing:
        raise DataError(
            f"metadata has no column(s) {missing} to split by; it has {list(metadata.columns)}"
        )
    sub = metadata[cols]
    if sub.isna().to_numpy().any():
        bad = [c for c in cols if sub[c].isna().any()]
        raise DataError(f"metadata column(s) {bad} have missing values; every epoch needs a group to split by")
    if len(cols) == 1:
        return pd.factorize(sub[cols[0]], sort=False)[0].astype(np.int64)
    return sub.groupby(cols, sort=False, dropna=False).ngroup().to_numpy(dtype=np.int64)


def _key_name(key: GroupKey) -> str:
    cols = _columns(key)
    return cols[0] if len(cols) == 1 else "(" + ", ".join(cols) + ")"


def check_no_leakage(
    metadata: Data,
    train_idx: np.ndarray,
    test_idx: np.ndarray,
    columns: GroupKey | Sequence[GroupKey],
) -> None:
    """Verify that no epoch and no group lies on both sides of a split.

    Parameters
    ----------
    metadata : DataFrame or Epochs
        Per-epoch metadata.
    train_idx, test_idx : array of int
        Row positions of the two sides.
    columns : str, or sequence of str / tuples of str
        Group keys that must be disjoint. A plain string or a list of strings
        checks each column separately; a tuple inside a list is a composite key
        (``[("subject", "burst_id")]`` checks that no (subject, burst) pair is shared).

    Raises
    ------
    LeakageError
        Naming the column and up to five shared values.
    """
    md = _metadata(metadata)
    train_idx = np.asarray(train_idx, dtype=np.int64)
    test_idx = np.asarray(test_idx, dtype=np.int64)
    n = len(md)
    for name, idx in (("train", train_idx), ("test", test_idx)):
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise DataError(f"{name} indices out of range for {n} epoch(s)")
    both = np.intersect1d(train_idx, test_idx)
    if both.size:
        raise LeakageError(f"{both.size} epoch(s) are in both train and test (first: {both[:5].tolist()})")
    keys: list[GroupKey] = [columns] if isinstance(columns, str) else list(columns)
    for key in keys:
        codes = group_codes(md, key)
        shared = np.intersect1d(codes[train_idx], codes[test_idx])
        if shared.size:
            cols = _columns(key)
            rows = md.loc[np.isin(codes, shared[:5]), cols].drop_duplicates().head(5)
            values = [tuple(r) if len(cols) > 1 else r[0] for r in rows.itertuples(index=False)]
            raise LeakageError(
                f"{shared.size} value(s) of {_key_name(key)} on both sides of the split, e.g. {values}"
            )


def _is_classification(y: np.ndarray | None) -> bool:
    if y is None or y.ndim != 1:
        return False
    if not np.issubdtype(y.dtype, np.number) or np.issubdtype(y.dtype, np.integer) or y.dtype == bool:
        return True
    # Float labels that are whole numbers with few levels count as classes.
    return bool(np.all(np.mod(y, 1) == 0) and np.unique(y).size <= max(20, y.size // 10))


def _stratified_group_folds(
    n_splits: int, shuffle: bool, random_state: Any, labels: np.ndarray, codes: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray]]:
    """All folds of ``StratifiedGroupKFold`` (train, test) over ``labels`` grouped by ``codes``."""
    with warnings.catch_warnings():
        # "least populated class has fewer members than n_splits": stratify where possible.
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        return list(
            StratifiedGroupKFold(n_splits, shuffle=shuffle, random_state=random_state).split(
                np.zeros(len(codes)), labels, groups=codes
            )
        )


class _Splitter:
    """Shared plumbing: resolve metadata, yield checked splits."""

    def _check_columns(self) -> list[GroupKey]:  # pragma: no cover - overridden
        raise NotImplementedError

    def _group_columns(self) -> list[str]:
        """Metadata columns a 1-D ``groups=`` array stands for."""
        return [c for key in self._check_columns() for c in _columns(key)]

    def _table(self, X: Any, groups: Any) -> pd.DataFrame:
        return _frame(X, groups, self._group_columns(), type(self).__name__)

    def _raw_split(self, md: pd.DataFrame, y: np.ndarray | None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        raise NotImplementedError  # pragma: no cover

    def split(self, X: Any, y: Any = None, groups: Any = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(train_idx, test_idx)`` int64 arrays, each verified leak-free.

        Parameters
        ----------
        X : Epochs, DataFrame or array-like
            Epochs (metadata and, if ``y`` is None, ``X.y`` are used), a metadata
            table, or any array-like with ``groups=``.
        y : array, optional
            Targets, used for stratification where the splitter supports it.
        groups : array (n_samples,) or DataFrame, optional
            Subject id per sample, as for scikit-learn's group splitters (required
            for a plain array; overrides the metadata when given). A DataFrame is
            read as the metadata table.
        """
        md = self._table(X, groups)
        if len(md) == 0:
            raise DataError("nothing to split: 0 epochs")
        yy = _targets(X, y, len(md))
        for train, test in self._raw_split(md, yy):
            train = np.sort(np.asarray(train, dtype=np.int64))
            test = np.sort(np.asarray(test, dtype=np.int64))
            check_no_leakage(md, train, test, self._check_columns())
            yield train, test

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


# --------------------------------------------------------------- splitters
class LeaveOneSubjectOut(_Splitter):
    """Each subject is the test set once; all other subjects train.

    Parameters
    ----------
    group : str or sequence of str
        Metadata column(s) identifying a subject. Default ``"subject"``.
    """

    def __init__(self, group: GroupKey = "subject"):
        self.group = group

    def _check_columns(self) -> list[GroupKey]:
        return [self.group if isinstance(self.group, str) else tuple(self.group)]

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        if X is None and groups is None:
            raise ConfigError("LeaveOneSubjectOut.get_n_splits needs the data (or groups=) to count subjects")
        return int(np.unique(group_codes(self._table(X, groups), self.group)).size)

    def _raw_split(self, md, y):
        codes = group_codes(md, self.group)
        if np.unique(codes).size < 2:
            raise DataError(f"leave-one-subject-out needs at least 2 values of {_key_name(self.group)}, got 1")
        yield from LeaveOneGroupOut().split(np.zeros(len(md)), groups=codes)


class SubjectKFold(_Splitter):
    """K folds of whole subjects, stratified by label where possible.

    With class labels available (``y`` or ``Epochs.y``) and ``stratify=True``
    the folds come from :class:`sklearn.model_selection.StratifiedGroupKFold`
    (which balances label proportions across folds while keeping each subject
    whole); otherwise from :class:`~sklearn.model_selection.GroupKFold`.

    Parameters
    ----------
    n_splits : int
        Number of folds (>= 2, at most the number of subjects).
    stratify : bool
        Balance label proportions across folds when labels are categorical.
    shuffle : bool
        Shuffle subjects before assigning folds.
    seed : int
        Seed of the shuffle.
    group : str or sequence of str
        Metadata column(s) identifying a subject.
    """

    def __init__(self, n_splits: int = 5, stratify: bool = True, shuffle: bool = True, seed: int = 0,
                 group: GroupKey = "subject"):
        if int(n_splits) < 2:
            raise ConfigError(f"SubjectKFold needs n_splits >= 2, got {n_splits}")
        self.n_splits = int(n_splits)
        self.stratify = bool(stratify)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.group = group

    def _check_columns(self) -> list[GroupKey]:
        return [self.group if isinstance(self.group, str) else tuple(self.group)]

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        return self.n_splits

    def _raw_split(self, md, y):
        codes = group_codes(md, self.group)
        n_groups = np.unique(codes).size
        if n_groups < self.n_splits:
            raise DataError(
                f"SubjectKFold(n_splits={self.n_splits}) needs at least {self.n_splits} values of "
                f"{_key_name(self.group)}, got {n_groups}"
            )
        rs = self.seed if self.shuffle else None
        if self.stratify and _is_classification(y):
            labels = pd.factorize(pd.Series(y))[0]
            try:
                folds = _stratified_group_folds(self.n_splits, self.shuffle, rs, labels, codes)
            except ValueError:  # scikit-learn: every class has fewer members than n_splits
                folds = None
            if folds is not None and all(len(te) for _, te in folds):
                yield from folds
                return
            # The greedy stratifier can leave a fold empty on tiny cohorts, or cannot stratify at all when
            # every class is smaller than the fold count; fall back, visibly.
            why = "left a fold empty" if folds is not None else "are impossible (every class has fewer groups than folds)"
            logger.warning("SubjectKFold: stratified group folds %s (%d groups, %d folds); "
                           "using unstratified GroupKFold", why, n_groups, self.n_splits)
        yield from GroupKFold(self.n_splits, shuffle=self.shuffle, random_state=rs).split(
            np.zeros(len(md)), groups=codes
        )


class WithinSubject(_Splitter):
    """Intra-subject hold-out: per subject, a fraction of its bursts/trials is tested.

    Every subject appears on both sides (the paper's "intrapersonal"
    validation, seed 001), but a unit (a burst, a trial) is never split, so all
    windows and all channels-as-samples of one burst stay together.

    Parameters
    ----------
    test_size : float
        Fraction of each subject's units held out, in (0, 1). At least one unit
        is held out for every subject with two or more units; a subject with a
        single unit stays in training.
    unit : str or sequence of str
        Metadata column(s) naming a unit within a subject (``"burst_id"``; use
        ``("muscle", "burst_id")`` when burst ids restart per recording).
    seed : int
        Seed for choosing held-out units.
    subject : str
        Metadata column naming the subject.
    stratify : bool
        When labels are given and constant within each unit, hold out the
        fraction per (subject, label) so every class of a subject is tested.
    n_repeats : int
        Number of independent random hold-outs to yield (different seeds derived from ``seed``).
    """

    def __init__(self, test_size: float = 0.2, unit: GroupKey = "burst_id", seed: int = 0,
                 subject: str = "subject", stratify: bool = True, n_repeats: int = 1):
        if not 0.0 < float(test_size) < 1.0:
            raise ConfigError(f"WithinSubject test_size must be in (0, 1), got {test_size}")
        if int(n_repeats) < 1:
            raise ConfigError(f"WithinSubject n_repeats must be >= 1, got {n_repeats}")
        self.test_size = float(test_size)
        self.unit = unit
        self.seed = int(seed)
        self.subject = subject
        self.stratify = bool(stratify)
        self.n_repeats = int(n_repeats)

    def _unit_key(self) -> tuple[str, ...]:
        return tuple([self.subject] + [c for c in _columns(self.unit) if c != self.subject])

    def _check_columns(self) -> list[GroupKey]:
        return [self._unit_key()]

    def _table(self, X: Any, groups: Any) -> pd.DataFrame:
        if groups is not None and not isinstance(groups, pd.DataFrame):
            raise ConfigError(
                f"WithinSubject needs both the subject and the unit of every sample: pass groups= as a DataFrame "
                f"with columns {list(self._unit_key())} (or Epochs / a metadata table), not a 1-D array"
            )
        return super()._table(X, groups)

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        return self.n_repeats

    def _raw_split(self, md, y):
        units = group_codes(md, self._unit_key())
        subjects = group_codes(md, self.subject)
        n_units = units.max() + 1
        # One row per unit: its subject and (if usable) its label.
        first = np.unique(units, return_index=True)[1]
        unit_subject = subjects[first]
        strata = unit_subject.copy()
        if self.stratify and _is_classification(y):
            labels = pd.factorize(pd.Series(y))[0]
            per_unit = pd.Series(labels).groupby(units).nunique()
            if (per_unit == 1).all():
                strata = group_codes(pd.DataFrame({"s": unit_subject, "y": labels[first]}), ["s", "y"])
            else:
                logger.info("labels vary within a unit; WithinSubject stratifies by subject only")
        seeds = np.random.SeedSequence(self.seed).spawn(self.n_repeats)
        for ss in seeds:
            rng = np.random.default_rng(ss)
            is_test = np.zeros(n_units, dtype=bool)
            for stratum in np.unique(strata):
                members = np.flatnonzero(strata == stratum)
                k = self._n_test(members.size)
                if k:
                    is_test[rng.choice(members, size=k, replace=False)] = True
            # A subject whose strata were all single units may have no test unit; that is fine,
            # but a subject entirely in test would leave it unseen: put one unit back.
            for s in np.unique(unit_subject):
                mine = np.flatnonzero(unit_subject == s)
                if is_test[mine].all():
                    is_test[rng.choice(mine)] = False
            test_rows = is_test[units]
            if not test_rows.any():
                raise DataError(
                    f"WithinSubject found no subject with two or more values of {_key_name(self.unit)}; "
                    "nothing can be held out"
                )
            yield np.flatnonzero(~test_rows), np.flatnonzero(test_rows)

    def _n_test(self, n: int) -> int:
        if n < 2:
            return 0
        return int(min(n - 1, max(1, round(self.test_size * n))))


class TrialSplit(_Splitter):
    """A fixed split by the values of one column (e.g. train on one trial, test on another).

    Parameters
    ----------
    train : value or sequence of values
        Values of ``column`` used for training.
    test : value or sequence of values, optional
        Values used for testing; default: every value not in ``train``.
    column : str
        The metadata column (``"trial"``, ``"session"``, ``"condition"`` ...).
    """

    def __init__(self, train: Any, test: Any = None, column: str = "trial"):
        self.train = list(train) if isinstance(train, (list, tuple, set, np.ndarray)) else [train]
        self.test = None if test is None else (
            list(test) if isinstance(test, (list, tuple, set, np.ndarray)) else [test]
        )
        self.column = column
        if not self.train:
            raise ConfigError("TrialSplit needs at least one training value")
        if self.test is not None:
            both = set(map(str, self.train)) & set(map(str, self.test))
            if both:
                raise LeakageError(f"TrialSplit: value(s) {sorted(both)} of {column!r} listed for both train and test")

    def _check_columns(self) -> list[GroupKey]:
        return [self.column]

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        return 1

    def _raw_split(self, md, y):
        if self.column not in md.columns:
            raise DataError(f"metadata has no column {self.column!r} to split by; it has {list(md.columns)}")
        values = md[self.column].astype(str)
        present = set(values)
        wanted_train = [str(v) for v in self.train]
        wanted_test = None if self.test is None else [str(v) for v in self.test]
        absent = [v for v in wanted_train + (wanted_test or []) if v not in present]
        if absent:
            raise DataError(f"TrialSplit: {self.column!r} has no value(s) {absent}; it has {sorted(present)}")
        train = values.isin(wanted_train).to_numpy()
        test = values.isin(wanted_test).to_numpy() if wanted_test is not None else ~train
        if not test.any():
            raise DataError(f"TrialSplit: no epochs left for testing in {self.column!r}")
        yield np.flatnonzero(train), np.flatnonzero(test)


# ------------------------------------------------------- inner validation
def inner_validation_split(
    metadata: Data,
    train_idx: np.ndarray,
    fraction: float = 0.2,
    seed: int = 0,
    group: GroupKey = "subject",
    y: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Carve a validation set (for early stopping) out of the TRAINING part only.

    Whole groups (subjects by default) of the training part are moved to
    validation, so the validation score is as subject-independent as the test
    score; the test part is never looked at.

    Parameters
    ----------
    metadata : DataFrame or Epochs
        Metadata of all epochs (the same table the outer split indexed).
    train_idx : array of int
        Outer training rows.
    fraction : float
        Approximate fraction of training groups moved to validation, in (0, 1).
    seed : int
        Seed of the draw.
    group : str or sequence of str
        Grouping key, e.g. ``"subject"`` or, inside a :class:`WithinSubject`
        fold, ``("subject", "burst_id")``.
    y : array, optional
        Labels of all epochs; when categorical the validation groups are drawn
        stratified (``StratifiedGroupKFold``, first fold).

    Returns
    -------
    fit_idx, val_idx : ndarray of int64
        Disjoint subsets of ``train_idx`` (absolute row positions).
    """
    if not 0.0 < float(fraction) < 1.0:
        raise ConfigError(f"validation fraction must be in (0, 1), got {fraction}")
    md = _metadata(metadata)
    train_idx = np.sort(np.asarray(train_idx, dtype=np.int64))
    yy = _targets(metadata, y)
    codes = group_codes(md, group)[train_idx]
    n_groups = np.unique(codes).size
    if n_groups < 2:
        raise DataError(
            f"cannot carve a validation set by {_key_name(group)}: the training part has only "
            f"{n_groups} group(s)"
        )
    sub_y = None if yy is None else yy[train_idx]
    fit = val = None
    if _is_classification(sub_y):
        n_splits = int(min(n_groups, max(2, round(1.0 / float(fraction)))))
        labels = pd.factorize(pd.Series(sub_y))[0]
        try:
            fit, val = _stratified_group_folds(n_splits, True, seed, labels, codes)[0]
        except ValueError:  # every class has fewer windows than n_splits: stratifying is impossible
            fit = val = np.empty(0, dtype=np.int64)
        if len(val) == 0 or len(fit) == 0:
            logger.warning("inner_validation_split: a stratified validation split is impossible or left a side empty (%d groups); "
                           "using an unstratified group split", n_groups)
            fit = val = None
    if fit is None:
        gss = GroupShuffleSplit(n_splits=1, test_size=float(fraction), random_state=seed)
        fit, val = next(gss.split(np.zeros(len(train_idx)), groups=codes))
    fit_idx, val_idx = train_idx[np.sort(fit)], train_idx[np.sort(val)]
    check_no_leakage(md, fit_idx, val_idx, [group if isinstance(group, str) else tuple(group)])
    return fit_idx, val_idx
