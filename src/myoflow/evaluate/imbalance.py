"""Class-imbalance tools: class weights, random oversampling and SMOTE.

All of these must only ever be given the TRAINING part of a fold (after the
split, inside the fold). Oversampling before splitting copies or interpolates
test subjects' windows into training and inflates every score; these functions
cannot know which rows are training rows, so the caller is responsible: pass
``X[train_idx], y[train_idx]``.
"""
from __future__ import annotations

import logging
from typing import Any

import numpy as np
from sklearn.neighbors import NearestNeighbors
from sklearn.utils.class_weight import compute_class_weight

from ..errors import ConfigError, DataError

__all__ = ["class_weights", "random_oversample", "smote"]

logger = logging.getLogger(__name__)


def _labels(y: Any, n: int | None = None) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1:
        raise DataError(f"class labels must be 1-D, got shape {y.shape}")
    if y.size == 0:
        raise DataError("no labels given (empty training set)")
    if n is not None and y.shape[0] != n:
        raise DataError(f"{y.shape[0]} label(s) for {n} sample(s)")
    return y


def _native(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def class_weights(y: Any) -> dict[Any, float]:
    """Balanced class weights ``n_samples / (n_classes * count)`` of the TRAINING labels.

    Parameters
    ----------
    y : array, shape (n_samples,)
        Training labels only.

    Returns
    -------
    dict
        Label -> weight (Python scalars), classes in sorted order; the mean
        weight over samples is 1.
    """
    y = _labels(y)
    classes = np.unique(y)
    w = compute_class_weight("balanced", classes=classes, y=y)
    return {_native(c): float(wi) for c, wi in zip(classes, w)}


def _target_counts(y: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    classes, counts = np.unique(y, return_counts=True)
    return classes, counts, int(counts.max())


def random_oversample(idx_or_X: Any, y: Any, seed: int | np.random.Generator = 0) -> tuple[np.ndarray, np.ndarray]:
    """Repeat randomly drawn rows of minority classes until all classes match the majority.

    Parameters
    ----------
    idx_or_X : array, shape (n_samples, ...)
        TRAINING row indices (1-D) or training samples of any shape; rows are
        resampled along axis 0.
    y : array, shape (n_samples,)
        TRAINING labels.
    seed : int or numpy.random.Generator
        Randomness for the draw.

    Returns
    -------
    rows, y_res : ndarray
        The original rows followed by the added copies, and their labels.
    """
    X = np.asarray(idx_or_X)
    y = _labels(y, X.shape[0] if X.ndim else None)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    classes, counts, target = _target_counts(y)
    extra = []
    for c, n in zip(classes, counts):
        if n < target:
            members = np.flatnonzero(y == c)
            extra.append(rng.choice(members, size=target - n, replace=True))
    if not extra:
        return X.copy(), y.copy()
    pick = np.concatenate([np.arange(len(y))] + extra)
    logger.debug("random_oversample: %d -> %d rows", len(y), len(pick))
    return X[pick], y[pick]


def smote(X: Any, y: Any, k: int = 5, seed: int | np.random.Generator = 0) -> tuple[np.ndarray, np.ndarray]:
    """SMOTE: synthesise minority rows by interpolating towards same-class neighbours.

    Each synthetic row is ``x + u * (x_nn - x)`` with ``x`` a random minority
    row, ``x_nn`` one of its ``k`` nearest same-class neighbours (Euclidean)
    and ``u ~ U(0, 1)`` (Chawla et al. 2002, J Artif Intell Res 16:321-357).
    Classes are grown to the majority count.

    Parameters
    ----------
    X : array, shape (n_samples, n_features)
        TRAINING feature rows (n-D samples are flattened to rows and reshaped back).
    y : array, shape (n_samples,)
        TRAINING labels.
    k : int
        Neighbours per class (reduced to ``count - 1`` for small classes; a
        class with one row is duplicated).
    seed : int or numpy.random.Generator
        Randomness of the draw.

    Returns
    -------
    X_res, y_res : ndarray
        Original rows followed by synthetic rows.
    """
    if int(k) < 1:
        raise ConfigError(f"smote needs k >= 1, got {k}")
    X = np.asarray(X)
    if X.ndim < 2:
        raise DataError(f"smote needs feature rows (n_samples, n_features), got shape {X.shape}")
    y = _labels(y, X.shape[0])
    shape = X.shape[1:]
    flat = X.reshape(X.shape[0], -1).astype(np.float64, copy=False)
    if not np.isfinite(flat).all():
        raise DataError("smote input contains NaN/inf")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    classes, counts, target = _target_counts(y)
    new_rows, new_y = [], []
    for c, n in zip(classes, counts):
        need = target - n
        if need <= 0:
            continue
        members = flat[y == c]
        base = rng.integers(0, n, size=need)
        if n == 1:
            synth = members[base]
        else:
            kk = min(int(k), n - 1)
            nn = NearestNeighbors(n_neighbors=kk + 1).fit(members)
            neigh = nn.kneighbors(members, return_distance=False)[:, 1:]  # drop self
            partner = neigh[base, rng.integers(0, kk, size=need)]
            gap = rng.random((need, 1))
            synth = members[base] + gap * (members[partner] - members[base])
        new_rows.append(synth)
        new_y.append(np.full(need, c, dtype=y.dtype))
    if not new_rows:
        return X.copy(), y.copy()
    out = np.concatenate([flat] + new_rows).astype(X.dtype if np.issubdtype(X.dtype, np.floating) else np.float64)
    return out.reshape((-1,) + shape), np.concatenate([y] + new_y)
