"""Honest selection: nested, subject-wise search over recipes and hyper-parameters.

For each OUTER training fold, an inner group k-fold over that fold's training
subjects scores every configuration of a small grid; the best mean inner score
wins (ties: first in grid order), the estimator is refitted with it on the
whole outer training fold and only then predicts the outer test subjects. The
outer test subjects are never seen by the choice, so the outer score is an
honest estimate of "this recipe-selection procedure", not of one lucky recipe.

Works with any scikit-learn-compatible estimator (``get_params``,
``set_params``, ``fit``, ``predict``); ``X`` may be an array or an
:class:`~myoflow.containers.Epochs` (indexed by rows).

What was chosen, on which subjects, with every inner score, is written as JSON
(:meth:`NestedResult.to_json`).

Bad input stops with :class:`~myoflow.errors.ConfigError` (no valid
configuration) or :class:`~myoflow.errors.DataError` (a fold with a single
class, too few subjects for the inner folds), each a one-line message naming
the cohort.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import ParameterGrid, StratifiedGroupKFold

from .._atomic import atomic_write_json
from ..containers import Epochs
from ..errors import ConfigError, DataError, LeakageError

__all__ = ["Selection", "OuterFold", "NestedResult", "select_params", "nested_cv", "subject_folds", "tuning_summary"]

log = logging.getLogger(__name__)

Scorer = Callable[[Any, Any, np.ndarray], float]


def _accuracy(est, X, y) -> float:
    return float(np.mean(np.asarray(est.predict(X)).astype(str) == np.asarray(y).astype(str)))


def _take(X: Any, idx: np.ndarray) -> Any:
    return X[idx] if isinstance(X, Epochs) else np.asarray(X)[idx]


def _labels_groups(X: Any, y: Any, groups: Any) -> tuple[np.ndarray, np.ndarray]:
    if y is None and isinstance(X, Epochs):
        y = X.y
    if y is None:
        raise DataError("tune needs labels (y or epochs.y)")
    if isinstance(groups, str):
        if not isinstance(X, Epochs):
            raise ConfigError(f"groups={groups!r} names a metadata column; pass Epochs or a groups array")
        groups = X.group(groups)
    y, groups = np.asarray(y), np.asarray(groups).astype(str)
    n = len(X)
    if len(y) != n or len(groups) != n:
        raise DataError(f"{n} sample(s), {len(y)} label(s), {len(groups)} group value(s)")
    return y, groups


def _grid(grid: Mapping[str, Sequence] | Sequence[Mapping[str, Any]] | None, cohort: str) -> list[dict[str, Any]]:
    if grid is None:
        return [{}]
    if isinstance(grid, Mapping):
        grid = [grid]
    configs: list[dict[str, Any]] = []
    for g in grid:
        if not isinstance(g, Mapping):
            raise ConfigError(f"cohort {cohort}: tune grid entries must be mappings, got {type(g).__name__}")
        if all(isinstance(v, (list, tuple)) for v in g.values()):
            configs += [dict(p) for p in ParameterGrid(dict(g))]
        else:  # a single configuration written as a plain mapping
            configs.append(dict(g))
    if not configs:
        raise ConfigError(f"cohort {cohort}: the tune grid is empty; nothing to choose from")
    return configs


def subject_folds(groups: np.ndarray, y: np.ndarray, n_splits: int, seed: int, cohort: str,
                  where: str = "cohort") -> list[tuple[np.ndarray, np.ndarray]]:
    """Group k-fold (stratified by label where possible), as (train_idx, test_idx) pairs.

    Raises :class:`DataError` naming ``cohort`` when there are fewer groups than folds.
    """
    groups = np.asarray(groups).astype(str)
    n_groups = np.unique(groups).size
    if n_splits < 2:
        raise ConfigError(f"cohort {cohort}: nested CV needs at least 2 folds, got {n_splits}")
    if n_groups < n_splits:
        raise DataError(f"cohort {cohort}: {where} has {n_groups} subject(s); {n_splits} subject-wise folds "
                        f"need at least {n_splits}")
    cv = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=int(seed) % (2**32 - 1))
    import warnings

    with warnings.catch_warnings():  # "least populated class" warnings: stratification is best-effort
        warnings.simplefilter("ignore", UserWarning)
        return [(np.asarray(a), np.asarray(b)) for a, b in cv.split(np.zeros(len(y)), np.asarray(y).astype(str),
                                                                      groups)]


def _check_classes(y: np.ndarray, cohort: str, where: str) -> None:
    classes = np.unique(np.asarray(y).astype(str))
    if classes.size < 2:
        raise DataError(f"cohort {cohort}: {where} holds a single class {classes.tolist()}; need at least 2")


@dataclass
class Selection:
    """The outcome of one inner search.

    Attributes
    ----------
    params : dict
        The chosen configuration.
    scores : list of dict
        Per configuration: ``params``, ``mean`` and ``folds`` (inner scores) or ``error``.
    subjects : list of str
        Subjects the choice was made on (the outer training fold).
    inner_test_subjects : list of list of str
        Subjects held out by each inner fold.
    """

    params: dict[str, Any]
    scores: list[dict[str, Any]]
    subjects: list[str]
    inner_test_subjects: list[list[str]]


def select_params(estimator, grid, X: Any, y: Any = None, groups: Any = "subject", *, n_inner: int = 3,
                  scoring: Scorer | None = None, seed: int = 0, cohort: str = "cohort",
                  where: str = "training data") -> Selection:
    """Choose a configuration by subject-wise inner cross-validation on ``X`` (training subjects only).

    Parameters
    ----------
    estimator : scikit-learn-compatible estimator (cloned, never fitted in place)
    grid : dict of lists, list of dicts, or None
        Candidate configurations (``set_params`` keywords); None = the estimator as is.
    X, y, groups
        Training samples, labels, and subject of every sample (array or a
        metadata column name when ``X`` is Epochs).
    n_inner : int
        Inner folds (by subject).
    scoring : callable ``(fitted_estimator, X_test, y_test) -> float``, optional
        Higher is better; default accuracy.
    """
    y, groups = _labels_groups(X, y, groups)
    _check_classes(y, cohort, where)
    scoring = scoring or _accuracy
    configs = _grid(grid, cohort)
    subjects = sorted(np.unique(groups).tolist())
    if len(configs) == 1:  # nothing to choose: no inner fits (an invalid one fails when nested_cv fits it)
        try:
            clone(estimator).set_params(**configs[0])
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"cohort {cohort}: no valid configuration: {configs[0]} ({exc})") from None
        return Selection(params=dict(configs[0]), scores=[{"params": configs[0], "note": "single configuration"}],
                         subjects=subjects, inner_test_subjects=[])
    folds = subject_folds(groups, y, n_inner, seed, cohort, where)
    for k, (tr, _) in enumerate(folds):
        _check_classes(y[tr], cohort, f"inner fold {k} of {where}")
    rows: list[dict[str, Any]] = []
    for params in configs:
        try:
            base = clone(estimator).set_params(**params)
        except (ValueError, TypeError) as exc:
            rows.append({"params": params, "error": f"{type(exc).__name__}: {exc}"})
            continue
        scores, error = [], None
        for tr, te in folds:
            try:
                est = clone(base).fit(_take(X, tr), y[tr])
            except DataError:  # bad data fails every configuration: say so, not "no valid configuration"
                raise
            except (ConfigError, ValueError, TypeError) as exc:  # an invalid combination (e.g. sklearn's
                # parameter validation), recorded against this configuration
                error = f"{type(exc).__name__}: {exc}"
                break
            scores.append(float(scoring(est, _take(X, te), y[te])))
        if error is not None:
            rows.append({"params": params, "error": error})
            continue
        rows.append({"params": params, "mean": float(np.mean(scores)), "folds": scores})
        log.info("cohort %s, %s: %s -> inner mean %.4f", cohort, where, params, rows[-1]["mean"])
    valid = [r for r in rows if "mean" in r]
    if not valid:
        first = rows[0].get("error", "?") if rows else "?"
        raise ConfigError(f"cohort {cohort}: no valid configuration among {len(configs)} in the tune grid "
                          f"(first error: {first})")
    best = max(valid, key=lambda r: r["mean"])  # max keeps the first of equal means: grid order breaks ties
    return Selection(params=dict(best["params"]), scores=rows, subjects=subjects,
                     inner_test_subjects=[sorted(np.unique(groups[te]).tolist()) for _, te in folds])


@dataclass
class OuterFold:
    """One outer fold: the selection made on its training subjects and its test predictions."""

    fold: int
    test_subjects: list[str]
    selection: Selection
    test_idx: np.ndarray
    y_pred: np.ndarray
    proba: np.ndarray | None = None
    seconds: float = 0.0


@dataclass
class NestedResult:
    """All outer folds of :func:`nested_cv`; ``y_pred`` assembled in sample order."""

    cohort: str
    folds: list[OuterFold]
    y_true: np.ndarray
    groups: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def y_pred(self) -> np.ndarray:
        out = np.empty(len(self.y_true), dtype=object)
        for f in self.folds:
            out[f.test_idx] = f.y_pred
        return out.astype(str)

    def summary(self) -> dict[str, Any]:
        """JSON-able record: per outer fold what was chosen, on which subjects, with inner scores."""
        return {
            "cohort": self.cohort, **self.meta,
            "accuracy": float(np.mean(self.y_pred == np.asarray(self.y_true).astype(str))),
            "folds": [{"fold": f.fold, "test_subjects": f.test_subjects, "seconds": round(f.seconds, 2),
                       "chosen": f.selection.params, "chosen_on_subjects": f.selection.subjects,
                       "inner_test_subjects": f.selection.inner_test_subjects,
                       "inner_scores": f.selection.scores} for f in self.folds],
        }

    def to_json(self, path: str | Path) -> Path:
        """Write :meth:`summary` atomically to ``path``."""
        atomic_write_json(path, self.summary())
        return Path(path)


def nested_cv(estimator, grid, X: Any, y: Any = None, groups: Any = "subject", *, n_outer: int = 5,
              n_inner: int = 3, outer_folds: Iterable[tuple[np.ndarray, np.ndarray]] | None = None,
              scoring: Scorer | None = None, seed: int = 0, cohort: str = "cohort",
              proba: bool = False, out: str | Path | None = None) -> NestedResult:
    """Nested subject-wise cross-validation: choose in each outer training fold, test on its held-out subjects.

    Parameters
    ----------
    outer_folds : iterable of (train_idx, test_idx), optional
        The reported folds (e.g. the pipeline's LOSO splits); default
        :func:`subject_folds` with ``n_outer`` folds. Each must hold whole subjects.
    proba : bool
        Also keep ``predict_proba`` of the outer test samples.
    out : path, optional
        Write the JSON record there (atomically).

    Returns
    -------
    NestedResult
    """
    y, groups = _labels_groups(X, y, groups)
    _check_classes(y, cohort, "the cohort")
    configs = _grid(grid, cohort)
    folds = list(outer_folds) if outer_folds is not None else subject_folds(groups, y, n_outer, seed, cohort)
    results: list[OuterFold] = []
    for k, (tr, te) in enumerate(folds):
        tr, te = np.asarray(tr), np.asarray(te)
        shared = np.intersect1d(groups[tr], groups[te])
        if shared.size:
            raise LeakageError(f"cohort {cohort}: outer fold {k} has subject(s) {shared[:5].tolist()} on both sides")
        where = f"outer fold {k} training subjects"
        if np.unique(groups[tr]).size < n_inner:
            raise DataError(f"cohort {cohort}: outer fold {k} has {np.unique(groups[tr]).size} training subject(s); "
                            f"nested CV with "
                            f"{n_inner} inner folds needs at least {n_inner} (use fewer inner folds or more subjects)")
        t0 = time.perf_counter()
        sel = select_params(estimator, configs, _take(X, tr), y[tr], groups[tr], n_inner=n_inner, scoring=scoring,
                            seed=seed + 1000 * (k + 1), cohort=cohort, where=where)
        try:
            est = clone(estimator).set_params(**sel.params).fit(_take(X, tr), y[tr])
        except DataError:
            raise
        except (ConfigError, ValueError, TypeError) as exc:  # e.g. the only configuration is invalid
            raise ConfigError(f"cohort {cohort}: no valid configuration: {sel.params} fails on outer fold {k} "
                              f"({type(exc).__name__}: {exc})") from None
        Xte = _take(X, te)
        results.append(OuterFold(fold=k, test_subjects=sorted(np.unique(groups[te]).tolist()), selection=sel,
                                 test_idx=te, y_pred=np.asarray(est.predict(Xte)).astype(str),
                                 proba=np.asarray(est.predict_proba(Xte)) if proba else None,
                                 seconds=time.perf_counter() - t0))
        log.info("cohort %s: outer fold %d chose %s", cohort, k, sel.params)
    res = NestedResult(cohort=cohort, folds=results, y_true=y.astype(str), groups=groups,
                       meta={"n_outer": len(folds), "n_inner": n_inner, "seed": seed, "n_configs": len(configs)})
    if out is not None:
        res.to_json(out)
    return res


def tuning_summary(results: Iterable[Any]) -> dict[str, Any]:
    """Per condition and model: what a pipeline's nested ``tune:`` chose in each fold, on which subjects.

    ``results`` are fold results (``condition``, ``fold_id``, ``extras``) whose
    ``extras["models"][model]["tune"]`` holds ``chosen``, ``on_subjects`` and ``scores``
    (the :class:`Selection` of that fold); this is the shape the HTML report's
    "Nested selection" table reads from ``summary["tuning"]``. A fold whose extras name its
    ``held_out`` subjects (muscle-id's LOSO folds) carries them too.
    """
    out: dict[str, Any] = {}
    for r in results:
        extras = getattr(r, "extras", None) or {}
        for model, info in (extras.get("models") or {}).items():
            t = info.get("tune") if isinstance(info, dict) else None
            if t:
                row = {"fold": r.fold_id, "chosen": t["chosen"], "on_subjects": t["on_subjects"]}
                if "held_out" in extras:
                    row["held_out"] = extras["held_out"]
                row["inner_means"] = [{"params": s["params"], "mean": s.get("mean")} for s in t["scores"]]
                out.setdefault(r.condition, {}).setdefault(model, []).append(row)
    return out
