"""Metrics: classification, regression (R², Pearson r, RMSE, nRMSE, R² of ensemble averages), per subject.

Every pipeline scores with these functions (one home for each formula); the
confidence intervals live in :mod:`myoflow.evaluate.bootstrap`.

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
from ..errors import DataError
from .bootstrap import MetricFn, _group_rows, bootstrap_ci  # noqa: F401  (bootstrap_ci: re-exported)

__all__ = [
    "classification_metrics",
    "regression_metrics",
    "r2_ensemble_average",
    "r2_ensemble_average_from_sums",
    "r2_per_cycle",
    "pearson_per_cycle",
    "pearson_r",
    "nrmse",
    "per_subject",
    "metric_from_columns",
]

logger = logging.getLogger(__name__)


def _native(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


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
        # The expected warnings of one LOSO subject's windows: balanced accuracy when a fold predicts a class
        # absent from its y_true, or when truth and prediction hold one and the same class (its internal
        # confusion matrix is then 1 x 1; the score, recall of that class, is right).
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true", category=UserWarning)
        warnings.filterwarnings("ignore", message="A single label was found", category=UserWarning)
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
    # No warning filter needed: r2_score only warns below 2 samples, refused above.
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
    return _r2_of_curves(a.astype(float).mean(0), b.astype(float).mean(0))


def r2_ensemble_average_from_sums(n_cycles: Any, sum_true: Any, sum_pred: Any) -> np.ndarray:
    """:func:`r2_ensemble_average` from cycle counts and summed cycles (additive, so a bootstrap can resample them).

    Parameters
    ----------
    n_cycles : array (...)
        Number of cycles behind each sum (the same cycles for true and predicted); any leading batch shape,
        e.g. one row per bootstrap replicate.
    sum_true, sum_pred : array (..., n_channels, n_points)
        Point-by-point sums of the true and predicted time-normalised cycles.

    Returns
    -------
    r2 : ndarray, shape (..., n_channels)
        NaN for a channel whose true ensemble average is constant.
    """
    n = np.asarray(n_cycles, dtype=float)[..., None, None]
    return _r2_of_curves(np.asarray(sum_true, dtype=float) / n, np.asarray(sum_pred, dtype=float) / n)


def _r2_of_curves(mt: np.ndarray, mp: np.ndarray) -> np.ndarray:
    """R² of predicted ensemble-average curves ``mp`` against true ``mt`` (..., n_channels, n_points), per channel."""
    ss_res = ((mt - mp) ** 2).sum(-1)
    ss_tot = ((mt - mt.mean(-1, keepdims=True)) ** 2).sum(-1)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):  # a near-constant truth: R² → -inf
        return np.where(ss_tot > 0, 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0), np.nan)


def _cycles(a: Any, name: str) -> np.ndarray:
    a = a.X if isinstance(a, Epochs) else a
    a = np.asarray(a, dtype=float)
    if a.ndim != 3:
        raise DataError(f"{name} cycles must be 3-D (n_cycles, n_channels, n_points), got shape {a.shape}")
    return a


def r2_per_cycle(true_cycles: Any, pred_cycles: Any) -> np.ndarray:
    """Mean over cycles of each cycle's R² (over its points), per channel.

    Parameters
    ----------
    true_cycles, pred_cycles : array (n_cycles, n_channels, n_points) or Epochs
        Paired cycles (same count).

    Returns
    -------
    ndarray (n_channels,)
        Cycles whose true curve is constant are left out of the mean.
    """
    t, p = _cycles(true_cycles, "true"), _cycles(pred_cycles, "predicted")
    if t.shape != p.shape:
        raise DataError(f"true {t.shape} and predicted {p.shape} cycles differ in shape")
    ss_res = ((t - p) ** 2).sum(-1)
    ss_tot = ((t - t.mean(-1, keepdims=True)) ** 2).sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = np.where(ss_tot > 0, 1 - ss_res / np.where(ss_tot > 0, ss_tot, 1), np.nan)
    return _nanmean0(r2)


def pearson_r(a: Any, b: Any) -> np.ndarray:
    """Pearson correlation of each pair of rows, over all trailing axes: (n, ...) × (n, ...) → (n,).

    NaN where either row is constant.
    """
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.shape != y.shape:
        raise DataError(f"pearson_r needs equal shapes, got {x.shape} and {y.shape}")
    x = x.reshape(len(x), -1)
    y = y.reshape(len(y), -1)
    xc, yc = x - x.mean(1, keepdims=True), y - y.mean(1, keepdims=True)
    den = np.sqrt((xc * xc).sum(1) * (yc * yc).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (xc * yc).sum(1) / np.where(den > 0, den, 1), np.nan)


def pearson_per_cycle(true_cycles: Any, pred_cycles: Any) -> np.ndarray:
    """Mean over cycles of each cycle's Pearson r (over its points), per channel → (n_channels,)."""
    t, p = _cycles(true_cycles, "true"), _cycles(pred_cycles, "predicted")
    if t.shape != p.shape:
        raise DataError(f"true {t.shape} and predicted {p.shape} cycles differ in shape")
    n, c, k = t.shape
    r = pearson_r(t.reshape(n * c, k), p.reshape(n * c, k)).reshape(n, c)
    return _nanmean0(r)


def _nanmean0(v: np.ndarray) -> np.ndarray:
    """Mean over axis 0 ignoring NaN; NaN (without a warning) for an all-NaN column."""
    ok = np.isfinite(v)
    cnt = ok.sum(0)
    tot = np.where(ok, v, 0.0).sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(cnt > 0, tot / np.maximum(cnt, 1), np.nan)


def nrmse(pred: Any, target: Any) -> np.ndarray:
    """Normalised RMSE per sample (BioMime's metric): ``RMS(pred − target) / (max target − min target)``.

    Parameters
    ----------
    pred, target : arrays (n, ...)
        E.g. generated and reference MUAPs (n, rows, cols, times); any unit (the ratio is unitless).

    Returns
    -------
    ndarray (n,)
    """
    p = np.asarray(pred, dtype=np.float64).reshape(len(pred), -1)
    t = np.asarray(target, dtype=np.float64).reshape(len(target), -1)
    if p.shape != t.shape:
        raise DataError(f"prediction shape {p.shape} differs from target shape {t.shape}")
    rmse = np.sqrt(np.mean((p - t) ** 2, axis=1))
    return rmse / (t.max(axis=1) - t.min(axis=1))


# --------------------------------------------------------------- per subject


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
