"""Gait predictions table <-> cycle arrays, and per-subject scores (formulas: :mod:`myoflow.evaluate.metrics`).

R² of ensemble averages (the paper's Table 1), per-cycle R² and r are
:func:`~myoflow.evaluate.r2_ensemble_average`, :func:`~myoflow.evaluate.r2_per_cycle`
and :func:`~myoflow.evaluate.pearson_per_cycle`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ...evaluate.metrics import pearson_per_cycle, r2_ensemble_average, r2_per_cycle

__all__ = ["prediction_frame", "cycles_from_frame", "subject_scores"]


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
        for m, a, b, c in zip(cols, r2_ensemble_average(t, p), r2_per_cycle(t, p), pearson_per_cycle(t, p)):
            row[f"r2_ens_{m}"], row[f"r2_cycle_{m}"], row[f"r_cycle_{m}"] = float(a), float(b), float(c)
        rows.append(row)
    return pd.DataFrame(rows)
