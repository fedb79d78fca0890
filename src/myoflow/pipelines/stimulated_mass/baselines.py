"""scikit-learn baselines evaluated in the same folds as the Bi-LSTM.

* ``covariates_logreg`` — logistic regression on the covariates alone (age, sex,
  height, weight, BMI): what the anthropometry buys without any EMG.
* ``descriptors_gb`` — gradient boosting on classic M-wave descriptors (peak-to-peak
  amplitude, area, latency, duration per muscle × frequency) plus the covariates.
* ``descriptors_logreg`` — logistic regression on the LOG descriptors (peak-to-peak, area,
  latency, duration per muscle × frequency) plus the covariates: exactly the linear path of the
  hybrid network (``descriptors: true, skip: true, skip_fit: logreg``), so the report shows
  what the hybrid's sequence branch adds beyond it.
* ``ptp_logreg`` — logistic regression on the log peak-to-peak amplitudes alone (RF, BF):
  the single-cue reference of the simulator's difficulty target (issue 4).
* ``oracle_truth_logreg`` — logistic regression on the simulator's latent truth
  (muscle cross-sections and fat thickness, plus sex and height): a ceiling that
  says how separable the labels are at all given their label noise.

Every scaler and weight is fitted on the training subjects passed to :func:`fit_baseline`.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ...errors import DataError
from ...models.attention_bilstm import encode_covariates
from ...preprocess.evoked import EvokedData, descriptor_matrix

__all__ = ["baseline_features", "fit_baseline", "proba_in_order", "SKLEARN_MODELS"]

SKLEARN_MODELS = ("covariates_logreg", "descriptors_gb", "descriptors_logreg", "ptp_logreg", "oracle_truth_logreg")


def baseline_features(name: str, data: EvokedData, subjects: Sequence[str], frequencies: Sequence[float],
                      oracle_features: Sequence[str] = ()) -> tuple[np.ndarray, list[str]]:
    """Feature matrix (n_subjects, n_features) and names of baseline ``name``."""
    parts = data.participants.set_index("subject").loc[list(subjects)].reset_index()
    cov = encode_covariates(parts, list(data.covariates), "participants")
    cov_names = list(data.covariates)
    if name == "covariates_logreg":
        return cov, cov_names
    if name == "descriptors_gb":
        d, dn = descriptor_matrix(data, subjects, frequencies)
        return np.hstack([d, cov]), dn + cov_names
    if name == "descriptors_logreg":
        from .tuning import SKIP_DESCRIPTORS

        d, dn = descriptor_matrix(data, subjects, frequencies, columns=SKIP_DESCRIPTORS)
        return np.hstack([np.log(np.maximum(np.abs(d), 1e-6)), cov]), [f"log_{n}" for n in dn] + cov_names
    if name == "ptp_logreg":
        d, dn = descriptor_matrix(data, subjects, frequencies, columns=("ptp_mv",))
        # One amplitude per muscle: the median over the condition's frequencies.
        muscles = list(data.muscles)
        cols = [[j for j, n in enumerate(dn) if f"_{m}_" in n] for m in muscles]
        amp = np.stack([np.median(d[:, c], axis=1) for c in cols], axis=1)
        return np.log(np.maximum(amp, 1e-6)), [f"log_ptp_{m}" for m in muscles]
    if name == "oracle_truth_logreg":
        missing = [c for c in oracle_features if c not in parts.columns]
        if missing:
            raise DataError(f"oracle needs ground-truth column(s) {missing} (simulated cohorts only)")
        return encode_covariates(parts, list(oracle_features), "participants"), list(oracle_features)
    raise DataError(f"unknown baseline {name!r}")


def fit_baseline(name: str, X: np.ndarray, y: np.ndarray, *, classes: Sequence[Any], imbalance: str,
                 seed: int) -> Any:
    """Fit baseline ``name`` on TRAINING rows; returns a fitted scikit-learn classifier.

    ``imbalance`` ``class_weight``/``both`` → balanced class weights; ``oversample``/``both`` →
    random oversampling of the training rows (H2's :func:`~myoflow.evaluate.imbalance.random_oversample`).
    """
    from ...evaluate.imbalance import random_oversample

    weight = "balanced" if imbalance in ("class_weight", "both") else None
    if imbalance in ("oversample", "both"):
        X, y = random_oversample(X, y, seed=seed)
    if name == "descriptors_gb":
        clf = HistGradientBoostingClassifier(
            max_iter=150, learning_rate=0.05, max_depth=3, min_samples_leaf=5, l2_regularization=1.0,
            class_weight=weight, random_state=seed,
        )
    else:
        clf = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, class_weight=weight, max_iter=2000))
    with _one_openmp_thread():
        clf.fit(X, y)
    return clf


def _one_openmp_thread():
    """Run scikit-learn's OpenMP code (HistGradientBoosting) on one thread.

    With a few dozen subjects per fold, every one of the 450 tree growths is a handful of
    OpenMP barriers over a tiny histogram: with all cores, synchronisation costs far more
    than the work (~24x the CPU time on the 2-core machine, 4 s vs 0.17 s per fit, worse
    when the cores are busy or two pool workers each spawn a team). Histograms are built
    per feature, so the trees do not depend on the thread count (probabilities checked
    bit-identical on the 6 quick folds and on 4 full-protocol folds).
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="openmp")


def proba_in_order(clf: Any, X: np.ndarray, classes: Sequence[Any]) -> np.ndarray:
    """``predict_proba`` with columns in ``classes`` order (zeros for classes absent in training)."""
    with _one_openmp_thread():
        p = clf.predict_proba(X)
    out = np.zeros((len(X), len(classes)))
    have = list(clf.classes_)
    for j, c in enumerate(classes):
        if c in have:
            out[:, j] = p[:, have.index(c)]
    return out
