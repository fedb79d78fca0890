"""Metrics: classification, regression, R² of ensemble averages, per-subject spread, bootstrap CIs.

Results are plain dicts of Python scalars and lists (JSON-ready for
``metrics.json``). Confidence intervals resample SUBJECTS (clusters), not
windows: windows of one subject are correlated, and resampling them as if
independent gives intervals that are far too narrow.
"""
from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    mean_squared_error,
    r2_score,
    recall_score,
    roc_auc_score,
)

from ..containers import Epochs
from ..errors import ConfigError, DataError

__all__ = [
    "classification_metrics",
    "regression_metrics",
    "r2_ensemble_average",
    "bootstrap_ci",
    "per_subject",
    "metric_from_columns",
]

logger = logging.getLogger(__name__)


def _native(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def _float(v: Any) -> float:
    return float(v) if v is not None else float("nan")


# ---------------------------------------------------------- classification
def classification_metrics(
    y_true: Any, y_pred: Any, proba: Any = None, labels: Any = None
) -> dict[str, Any]:
    """Standard classification scores in one JSON-ready dict.

    Parameters
    ----------
    y_true, y_pred : array, shape (n,)
        True and predicted labels.
    proba : array, shape (n, n_classes) or (n,), optional
        Class probabilities, columns in the order of ``labels`` (for two classes
        a 1-D array is the probability of ``labels[1]``). Enables ``roc_auc``.
    labels : sequence, optional
        All class labels in order; default: sorted union of true and predicted.

    Returns
    -------
    dict
        ``n``, ``accuracy``, ``balanced_accuracy``, ``f1_macro``, ``f1_weighted``,
        ``recall_per_class`` ({label: recall}; NaN for labels absent from y_true),
        ``confusion_matrix`` ({"labels": [...], "matrix": [[...]]}, rows = true,
        columns = predicted) and, with ``proba``, ``roc_auc`` (binary, or
        one-vs-rest macro average; NaN when y_true holds a single class).
    """
    yt, yp = np.asarray(y_true), np.asarray(y_pred)
    if yt.ndim != 1 or yp.shape != yt.shape:
        raise DataError(f"y_true and y_pred must be 1-D of equal length, got {yt.shape} and {yp.shape}")
    if yt.size == 0:
        raise DataError("no predictions to score")
    labs = np.unique(np.concatenate([yt, yp])) if labels is None else np.asarray(labels)
    present = np.isin(labs, yt)
    seen = present | np.isin(labs, yp)  # sklearn's default label set for macro F1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns about labels missing from y_true/y_pred
        out: dict[str, Any] = {
            "n": int(yt.size),
            "accuracy": float(accuracy_score(yt, yp)),
            "balanced_accuracy": float(balanced_accuracy_score(yt, yp)),
            "f1_macro": float(f1_score(yt, yp, labels=labs[seen], average="macro", zero_division=0)),
            "f1_weighted": float(f1_score(yt, yp, labels=labs, average="weighted", zero_division=0)),
        }
        rec = recall_score(yt, yp, labels=labs, average=None, zero_division=0)
    out["recall_per_class"] = {
        str(_native(lab)): (float(r) if ok else float("nan")) for lab, r, ok in zip(labs, rec, present)
    }
    cm = confusion_matrix(yt, yp, labels=labs)
    out["confusion_matrix"] = {"labels": [_native(v) for v in labs], "matrix": cm.tolist()}
    if proba is not None:
        out["roc_auc"] = _roc_auc(yt, np.asarray(proba, dtype=float), labs)
    return out


def _roc_auc(yt: np.ndarray, proba: np.ndarray, labs: np.ndarray) -> float:
    if proba.shape[0] != yt.shape[0]:
        raise DataError(f"proba has {proba.shape[0]} row(s) for {yt.shape[0]} label(s)")
    if np.unique(yt).size < 2:
        return float("nan")
    if proba.ndim == 1 or (proba.ndim == 2 and proba.shape[1] == 2 and labs.size == 2):
        if labs.size != 2:
            raise DataError(f"1-D probabilities need exactly 2 labels, got {labs.size}")
        score = proba if proba.ndim == 1 else proba[:, 1]
        return float(roc_auc_score(yt == labs[1], score))
    if proba.ndim != 2 or proba.shape[1] != labs.size:
        raise DataError(f"proba must have one column per label ({labs.size}), got shape {proba.shape}")
    present = np.isin(labs, yt)
    # One-vs-rest per class present in y_true, macro-averaged.
    aucs = [roc_auc_score(yt == lab, proba[:, j]) for j, lab in enumerate(labs) if present[j]]
    return float(np.mean(aucs))


# --------------------------------------------------------------- regression
def _as_2d(a: Any, name: str) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    if a.ndim == 1:
        return a[:, None]
    if a.ndim == 2:
        return a
    if a.ndim == 3:  # (n, channels, times) -> rows over n*times, one column per channel
        return np.moveaxis(a, 1, -1).reshape(-1, a.shape[1])
    raise DataError(f"{name} must be 1-, 2- or 3-D, got shape {a.shape}")


def _pearson(t: np.ndarray, p: np.ndarray) -> np.ndarray:
    tc, pc = t - t.mean(0), p - p.mean(0)
    den = np.sqrt((tc**2).sum(0) * (pc**2).sum(0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (tc * pc).sum(0) / np.where(den > 0, den, 1), np.nan)


def regression_metrics(y_true: Any, y_pred: Any, names: Any = None) -> dict[str, Any]:
    """R², RMSE and Pearson r per output channel and their mean.

    Parameters
    ----------
    y_true, y_pred : array, shape (n,), (n, n_outputs) or (n, n_channels, n_times)
        For 3-D input each channel is one output and all epochs × times are its samples.
    names : sequence of str, optional
        Output names used as keys of the per-channel dicts (default "0", "1", ...).

    Returns
    -------
    dict
        ``n``, ``r2``, ``rmse``, ``pearson_r`` (means over outputs) and
        ``r2_per_channel``, ``rmse_per_channel``, ``pearson_r_per_channel``
        ({name: value}). Pearson r is NaN for a constant channel.
    """
    t, p = _as_2d(y_true, "y_true"), _as_2d(y_pred, "y_pred")
    if t.shape != p.shape:
        raise DataError(f"y_true and y_pred shapes differ: {np.shape(y_true)} vs {np.shape(y_pred)}")
    if t.shape[0] < 2:
        raise DataError("regression metrics need at least 2 samples")
    if not (np.isfinite(t).all() and np.isfinite(p).all()):
        raise DataError("y_true/y_pred contain NaN/inf")
    keys = [str(i) for i in range(t.shape[1])] if names is None else [str(n) for n in names]
    if len(keys) != t.shape[1]:
        raise DataError(f"{len(keys)} name(s) for {t.shape[1]} output(s)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r2 = np.atleast_1d(r2_score(t, p, multioutput="raw_values"))
    rmse = np.sqrt(np.atleast_1d(mean_squared_error(t, p, multioutput="raw_values")))
    r = _pearson(t, p)
    return {
        "n": int(t.shape[0]),
        "r2": float(np.nanmean(r2)),
        "rmse": float(np.mean(rmse)),
        "pearson_r": float(np.nanmean(r)) if np.isfinite(r).any() else float("nan"),
        "r2_per_channel": dict(zip(keys, map(float, r2))),
        "rmse_per_channel": dict(zip(keys, map(float, rmse))),
        "pearson_r_per_channel": dict(zip(keys, map(float, r))),
    }


def r2_ensemble_average(true_cycles: Any, pred_cycles: Any) -> np.ndarray:
    """R² between the ensemble-average curves of true and predicted cycles, per channel.

    The metric of seed 002 (Park & Park): average all cycles point by point,
    then ``R² = 1 - Σ_t (ȳ_t - ŷ_t)² / Σ_t (ȳ_t - mean_t ȳ)²`` over the time-normalised
    points of each channel. It can be far below 0 for a poor prediction.

    Parameters
    ----------
    true_cycles, pred_cycles : array (n_cycles, n_channels, n_points) or Epochs
        Time-normalised cycles (e.g. 101 points, 0-100 % of the gait cycle).
        The two sets may hold different numbers of cycles.

    Returns
    -------
    r2 : ndarray, shape (n_channels,)
        NaN for a channel whose true ensemble average is constant.
    """
    a = true_cycles.X if isinstance(true_cycles, Epochs) else np.asarray(true_cycles, dtype=float)
    b = pred_cycles.X if isinstance(pred_cycles, Epochs) else np.asarray(pred_cycles, dtype=float)
    if a.ndim != 3 or b.ndim != 3:
        raise DataError(
            f"cycles must be 3-D (n_cycles, n_channels, n_points), got {np.shape(a)} and {np.shape(b)}"
        )
    if a.shape[1:] != b.shape[1:]:
        raise DataError(f"channels/points differ between true {a.shape[1:]} and predicted {b.shape[1:]} cycles")
    mt, mp = a.astype(float).mean(0), b.astype(float).mean(0)
    ss_res = ((mt - mp) ** 2).sum(-1)
    ss_tot = ((mt - mt.mean(-1, keepdims=True)) ** 2).sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ss_tot > 0, 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0), np.nan)


# ------------------------------------------------- per subject, bootstrap
MetricFn = Callable[[pd.DataFrame], Any]


def metric_from_columns(fn: Callable[..., Any], true: str = "y_true", pred: str = "y_pred") -> MetricFn:
    """Wrap ``fn(y_true, y_pred)`` (e.g. ``sklearn.metrics.accuracy_score``) as ``metric_fn(df)``.

    Parameters
    ----------
    fn : callable
        Score taking true and predicted arrays.
    true, pred : str
        Column names in the predictions table.
    """

    def metric(df: pd.DataFrame) -> float:
        return float(fn(df[true].to_numpy(), df[pred].to_numpy()))

    metric.__name__ = getattr(fn, "__name__", "metric")
    return metric


def _group_rows(df: pd.DataFrame, group: str) -> tuple[list[Any], list[np.ndarray]]:
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"expected a predictions DataFrame, got {type(df).__name__}")
    if group not in df.columns:
        raise DataError(f"predictions table has no column {group!r}; it has {list(df.columns)}")
    if len(df) == 0:
        raise DataError("predictions table is empty")
    codes, uniques = pd.factorize(df[group], sort=True)
    if (codes < 0).any():
        raise DataError(f"column {group!r} has missing values")
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
    rows = [order[bounds[i]:bounds[i + 1]] for i in range(len(uniques))]
    return list(uniques), rows


def per_subject(df: pd.DataFrame, metric_fn: MetricFn, group: str = "subject") -> pd.DataFrame:
    """Apply a metric to each subject's rows.

    Parameters
    ----------
    df : DataFrame
        Predictions, one row per epoch, with a ``group`` column.
    metric_fn : callable(DataFrame) -> float or dict
        Score of a subset of rows.
    group : str
        Column naming the subject.

    Returns
    -------
    DataFrame
        One row per subject: ``group``, ``n`` (rows) and ``value`` (or one
        column per key when the metric returns a dict).
    """
    names, rows = _group_rows(df, group)
    out = []
    for name, idx in zip(names, rows):
        res = metric_fn(df.iloc[idx])
        row = {group: _native(name), "n": int(idx.size)}
        row.update(res if isinstance(res, dict) else {"value": float(res)})
        out.append(row)
    return pd.DataFrame(out)


def bootstrap_ci(
    df: pd.DataFrame,
    metric_fn: MetricFn,
    group: str = "subject",
    n_boot: int = 1000,
    seed: int | np.random.Generator = 0,
    alpha: float = 0.05,
) -> tuple[float, float, float]:
    """Cluster bootstrap confidence interval: resample SUBJECTS with replacement.

    Each replicate draws as many subjects as there are, with replacement,
    takes all rows of each drawn subject (a subject drawn twice contributes its
    rows twice, relabelled as distinct clusters in the ``group`` column), and
    evaluates ``metric_fn``; the interval is the percentile interval of the
    replicates (Efron & Tibshirani 1993, ch. 13; Field & Welsh 2007, JRSS-B 69:369).

    Parameters
    ----------
    df : DataFrame
        Predictions, one row per epoch, with a ``group`` column.
    metric_fn : callable(DataFrame) -> float
        E.g. ``metric_from_columns(accuracy_score)``.
    group : str
        Cluster column.
    n_boot : int
        Number of replicates.
    seed : int or numpy.random.Generator
        Randomness of the resampling.
    alpha : float
        1 - confidence level (0.05 for a 95 % interval).

    Returns
    -------
    point, lo, hi : float
        Metric on the full table and the interval bounds. Replicates where the
        metric is undefined (NaN) are dropped; all-NaN gives NaN bounds.
    """
    if int(n_boot) < 1:
        raise ConfigError(f"n_boot must be >= 1, got {n_boot}")
    if not 0.0 < float(alpha) < 1.0:
        raise ConfigError(f"alpha must be in (0, 1), got {alpha}")
    _, rows = _group_rows(df, group)
    point = _float(metric_fn(df))
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    n_groups = len(rows)
    sizes = np.array([r.size for r in rows])
    stats = np.empty(int(n_boot))
    for b in range(int(n_boot)):
        draw = rng.integers(0, n_groups, size=n_groups)
        pos = np.concatenate([rows[g] for g in draw])
        sample = df.iloc[pos].copy()  # a copy: pandas < 3 would warn (or write through) on a slice
        sample[group] = np.repeat(np.arange(n_groups), sizes[draw])
        stats[b] = _float(metric_fn(sample))
    ok = np.isfinite(stats)
    if not ok.any():
        return point, float("nan"), float("nan")
    if not ok.all():
        logger.warning("bootstrap_ci: metric undefined in %d of %d replicates", int((~ok).sum()), stats.size)
    lo, hi = np.percentile(stats[ok], [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return point, float(lo), float(hi)
