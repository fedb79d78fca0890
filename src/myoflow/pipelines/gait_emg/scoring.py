"""Scores of predicted gait-cycle sEMG: R² of ensemble averages (the paper's Table 1), per-cycle R² and r.

All functions take cycle arrays (n_cycles, n_channels, n_points) and return one
value per channel.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["r2_ensemble", "r2_per_cycle", "pearson_per_cycle", "prediction_frame", "cycles_from_frame",
           "subject_scores"]


def r2_ensemble(true: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """R² between ensemble-average curves, per channel (wraps :func:`myoflow.evaluate.r2_ensemble_average`)."""
    from ...evaluate import r2_ensemble_average

    return r2_ensemble_average(np.asarray(true, dtype=float), np.asarray(pred, dtype=float))


def r2_per_cycle(true: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Mean over cycles of the R² of each cycle's curve, per channel."""
    t, p = np.asarray(true, dtype=float), np.asarray(pred, dtype=float)
    ss_res = ((t - p) ** 2).sum(-1)
    ss_tot = ((t - t.mean(-1, keepdims=True)) ** 2).sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = np.where(ss_tot > 0, 1 - ss_res / np.where(ss_tot > 0, ss_tot, 1), np.nan)
    return np.nanmean(r2, axis=0)


def pearson_per_cycle(true: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Mean over cycles of the Pearson correlation of each cycle's curve, per channel."""
    t, p = np.asarray(true, dtype=float), np.asarray(pred, dtype=float)
    tc = t - t.mean(-1, keepdims=True)
    pc = p - p.mean(-1, keepdims=True)
    den = np.sqrt((tc ** 2).sum(-1) * (pc ** 2).sum(-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(den > 0, (tc * pc).sum(-1) / np.where(den > 0, den, 1), np.nan)
    return np.nanmean(r, axis=0)


def prediction_frame(model: str, metadata: pd.DataFrame, true: np.ndarray, pred: np.ndarray,
                     names: tuple[str, ...]) -> pd.DataFrame:
    """Long-in-time, wide-in-channel table: one row per (cycle, point) with truth_*/pred_* columns."""
    n, c, P = true.shape
    df = pd.DataFrame({
        "model": model,
        "subject": np.repeat(metadata["subject"].astype(str).to_numpy(), P),
        "trial": np.repeat(metadata["trial"].astype(str).to_numpy(), P),
        "cycle": np.repeat(metadata["cycle"].to_numpy(), P),
        "point": np.tile(np.arange(P), n),
    })
    for j, name in enumerate(names):
        df[f"truth_{name}"] = true[:, j, :].reshape(-1).astype(np.float32)
        df[f"pred_{name}"] = pred[:, j, :].reshape(-1).astype(np.float32)
    return df


def cycles_from_frame(df: pd.DataFrame, names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`prediction_frame` for one model: (true, pred) arrays (n_cycles, C, P)."""
    df = df.sort_values(["subject", "trial", "cycle", "point"], kind="stable")
    P = int(df["point"].max()) + 1
    n = len(df) // P
    true = np.stack([df[f"truth_{m}"].to_numpy(float).reshape(n, P) for m in names], axis=1)
    pred = np.stack([df[f"pred_{m}"].to_numpy(float).reshape(n, P) for m in names], axis=1)
    return true, pred


def subject_scores(df: pd.DataFrame, names: tuple[str, ...], group: str = "subject") -> pd.DataFrame:
    """Per model and subject (or trial): R² of ensemble averages, per-cycle R² and r for every channel."""
    rows = []
    for (model, g), part in df.groupby(["model", group], sort=True):
        cols = [m for m in names if f"truth_{m}" in part.columns and part[f"truth_{m}"].notna().any()]
        if not cols:
            continue
        t, p = cycles_from_frame(part, tuple(cols))
        row = {"model": model, group: g, "n_cycles": t.shape[0]}
        for m, a, b, c in zip(cols, r2_ensemble(t, p), r2_per_cycle(t, p), pearson_per_cycle(t, p)):
            row[f"r2_ens_{m}"], row[f"r2_cycle_{m}"], row[f"r_cycle_{m}"] = float(a), float(b), float(c)
        rows.append(row)
    return pd.DataFrame(rows)
