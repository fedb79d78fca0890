"""Classic-feature baselines as an estimator: LDA or random forest on sEMG features.

The features (MAV, RMS, WL, ZC, SSC, ...) involve no fitting; they come from
the public classic-feature module :mod:`myoflow.features`.
"""
from __future__ import annotations

import logging
from typing import Any

import numpy as np

from ..containers import Epochs
from ..errors import ConfigError, DataError
from .base import MyoflowClassifier, scaler_from_state, scaler_state

__all__ = ["FeatureClassifier"]

log = logging.getLogger(__name__)


class FeatureClassifier(MyoflowClassifier):
    """LDA or random forest on classic sEMG features (the paper-independent baselines).

    Parameters
    ----------
    kind : {"lda", "rf"}
        Linear discriminant analysis (shrinkage, standardised features) or a
        random forest.
    n_estimators : int
        Trees of the random forest.
    rel_threshold : float
        ZC/SSC/WAMP threshold as a fraction of window RMS (see :mod:`.features`).
    seed : int
        Random state of the forest.

    ``fit``/``predict`` accept Epochs (features computed here) or an already
    computed feature matrix (n, n_features) — features involve no fitting, so
    precomputing them for a whole dataset leaks nothing.
    """

    registry_name = "feature_classifier"
    _module_attr = None

    def __init__(self, kind: str = "lda", n_estimators: int = 200, rel_threshold: float = 0.05, seed: int = 0):
        self.kind = kind
        self.n_estimators = n_estimators
        self.rel_threshold = rel_threshold
        self.seed = seed

    def _features(self, X: Epochs | np.ndarray) -> np.ndarray:
        if isinstance(X, Epochs):
            from ..features import classic_features

            return classic_features(X, rel_threshold=self.rel_threshold)
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2:
            raise DataError(f"FeatureClassifier needs Epochs or a feature matrix (n, n_features), got {X.shape}")
        return X

    def fit(self, X: Epochs | np.ndarray, y: Any = None, groups: Any = None) -> "FeatureClassifier":
        """Fit on Epochs (features computed here) or a feature matrix; ``groups`` is unused (no inner split)."""
        from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
        from sklearn.ensemble import RandomForestClassifier
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        if y is None and isinstance(X, Epochs):
            y = X.y
        if y is None:
            raise DataError("FeatureClassifier.fit needs labels")
        F = self._features(X)
        y = np.asarray(y).astype(str)
        if self.kind == "lda":
            self.model_ = make_pipeline(StandardScaler(), LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto"))
        elif self.kind == "rf":
            self.model_ = RandomForestClassifier(n_estimators=int(self.n_estimators), random_state=int(self.seed),
                                                 n_jobs=1, min_samples_leaf=2)
        else:
            raise ConfigError(f"unknown baseline {self.kind!r}; expected 'lda' or 'rf'")
        self.model_.fit(F, y)
        self.classes_ = np.asarray(self.model_.classes_).astype(str)
        self.fitted_ = True
        return self

    def predict_proba(self, X: Epochs | np.ndarray) -> np.ndarray:
        self._check_fitted()
        return self.model_.predict_proba(self._features(X))

    def score(self, X: Epochs | np.ndarray, y: Any = None, sample_weight: Any = None) -> float:
        if y is None and isinstance(X, Epochs):
            y = X.y
        if y is None:  # np.asarray(None).astype(str) is "None": an accuracy of 0, silently
            raise DataError("score needs labels")
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
        return float(np.average(self.predict(X) == np.asarray(y).astype(str), weights=w))

    # -------------------------------------------------------------- persistence
    def _fitted_state(self) -> dict[str, Any]:
        """The fitted scikit-learn model as plain numbers (LDA only; a forest is refitted, not saved)."""
        if self.kind != "lda":
            raise ConfigError("only the LDA baseline can be saved (a random forest's trees are not stored)")
        scaler, lda = self.model_[0], self.model_[-1]
        return {"classes": self.classes_.tolist(), **scaler_state(scaler),
                "coef": lda.coef_.tolist(), "intercept": lda.intercept_.tolist()}

    def _restore(self, fitted: dict[str, Any]) -> None:
        from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
        from sklearn.pipeline import make_pipeline

        scaler, lda = scaler_from_state(fitted), LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")
        lda.coef_ = np.asarray(fitted["coef"], dtype=float)
        lda.intercept_ = np.asarray(fitted["intercept"], dtype=float)
        lda.classes_ = np.asarray(fitted["classes"])
        lda.n_features_in_ = scaler.n_features_in_
        self.model_ = make_pipeline(scaler, lda)
        self.classes_ = np.asarray(fitted["classes"]).astype(str)
        self.fitted_ = True
