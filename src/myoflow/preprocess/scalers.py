"""Fitted transforms with scikit-learn manners: fit on the training fold, transform anything.

* :class:`ChannelStandardScaler` — per-channel mean / standard deviation over epochs × time.
* :class:`RobustChannelScaler` — per-channel median / inter-quartile range over epochs × time.
* :class:`FeatureStandardScaler` — per-feature standardisation of rows (feature vectors, or
  every (channel, time) position of epochs).
* :class:`CovariateEncoder` — a covariate table (age, sex, BMI ...) to a float matrix:
  numeric columns standardised (missing → training mean), categorical columns one-hot
  (categories unseen in training → all zeros).

Learned state lives in attributes ending in ``_``; nothing is learned in
``transform``, so the output for a test epoch does not depend on which other
epochs are transformed with it. Fit these on training subjects only.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import NotFittedError
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from ..containers import Epochs
from ..errors import ConfigError, DataError

__all__ = ["ChannelStandardScaler", "RobustChannelScaler", "FeatureStandardScaler", "CovariateEncoder",
           "check_not_ground_truth", "GROUND_TRUTH_SOURCES"]

#: Columns a label is computed from (the simulator's and the usual clinical ones): never covariates.
GROUND_TRUTH_SOURCES = frozenset({"asmi", "smi", "asm", "mass_class", "true_mass_class", "truth", "label", "target"})


def check_not_ground_truth(covariates: Sequence[str], label: str | None, where: str = "covariates") -> None:
    """Refuse covariates that are the label, its source (e.g. ``asmi``) or simulator truth (``true_*``).

    Any participants column can be a covariate, so without this check the label
    itself could be fed to the model and make the task trivial.

    Raises
    ------
    ConfigError
        Naming the offending column(s).
    """
    from ..errors import ConfigError

    bad = []
    for c in covariates:
        name = str(c).strip().lower()
        if (label is not None and name == str(label).strip().lower()) or name in GROUND_TRUTH_SOURCES \
                or name.startswith("true_") or name.startswith("truth"):
            bad.append(c)
    if bad:
        raise ConfigError(f"{where}: {bad} would give the model the ground truth (the label {label!r}, its source "
                          f"such as 'asmi', or a 'true_*' column); remove them from the covariates")


def _epoch_array(X: Any, who: str) -> np.ndarray:
    arr = X.X if isinstance(X, Epochs) else np.asarray(X)
    if arr.ndim != 3:
        raise DataError(f"{who} expects Epochs or an array (n_epochs, n_channels, n_times), got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise DataError(f"{who}: no epochs to fit on")
    return arr


def _wrap(X: Any, out: np.ndarray) -> Any:
    return X.replace(X=out) if isinstance(X, Epochs) else out


class _ChannelScaler(TransformerMixin, BaseEstimator):
    """Shared transform: ``(X - center_[c]) / scale_[c]`` for every channel ``c``."""

    def _check_fitted(self) -> None:
        if not hasattr(self, "scale_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit() on the training epochs first")

    def _check_channels(self, arr: np.ndarray) -> None:
        if arr.shape[1] != self.n_channels_:
            raise DataError(
                f"{type(self).__name__} was fitted on {self.n_channels_} channel(s), got {arr.shape[1]}"
            )

    def transform(self, X: Any) -> Any:
        """Scale epochs channel by channel.

        Parameters
        ----------
        X : Epochs or array, shape (n_epochs, n_channels, n_times)

        Returns
        -------
        Epochs or ndarray (float32), same shape.
        """
        self._check_fitted()
        arr = X.X if isinstance(X, Epochs) else np.asarray(X)
        if arr.ndim != 3:
            raise DataError(f"{type(self).__name__}.transform expects 3-D epochs, got shape {arr.shape}")
        self._check_channels(arr)
        # float32 constants keep the big array in float32 (no float64 temporary).
        center = self.center_.astype(np.float32)[None, :, None]
        scale = self.scale_.astype(np.float32)[None, :, None]
        out = (np.asarray(arr, dtype=np.float32) - center) / scale
        return _wrap(X, out)

    def inverse_transform(self, X: Any) -> Any:
        """Undo :meth:`transform`."""
        self._check_fitted()
        arr = X.X if isinstance(X, Epochs) else np.asarray(X)
        self._check_channels(arr)
        out = arr * self.scale_[None, :, None] + self.center_[None, :, None]
        return _wrap(X, out.astype(np.float32, copy=False))


class ChannelStandardScaler(_ChannelScaler):
    """Per-channel standardisation, statistics pooled over epochs and time.

    Attributes
    ----------
    mean_, scale_ : ndarray, shape (n_channels,)
        Channel mean and standard deviation (1 where the channel is constant).
    center_ : ndarray
        Alias of ``mean_`` used by the shared transform.
    n_channels_ : int
    """

    def fit(self, X: Any, y: Any = None) -> "ChannelStandardScaler":
        """Learn channel means and standard deviations from TRAINING epochs.

        Parameters
        ----------
        X : Epochs or array, shape (n_epochs, n_channels, n_times)
        y : ignored
        """
        arr = _epoch_array(X, "ChannelStandardScaler.fit")
        # float64 accumulation: float32 sums over 10^7 samples lose digits.
        mean = arr.mean(axis=(0, 2), dtype=np.float64)
        std = arr.std(axis=(0, 2), dtype=np.float64)
        self.mean_ = mean
        self.center_ = mean
        self.scale_ = np.where(std > 0, std, 1.0)
        self.n_channels_ = arr.shape[1]
        return self


class RobustChannelScaler(_ChannelScaler):
    """Per-channel robust scaling: subtract the median, divide by the inter-quartile range.

    Parameters
    ----------
    quantile_range : (float, float)
        Percentiles defining the spread, default (25, 75).

    Attributes
    ----------
    center_ : ndarray, shape (n_channels,)
        Channel medians.
    scale_ : ndarray, shape (n_channels,)
        Channel inter-quantile ranges (1 where zero).
    n_channels_ : int
    """

    def __init__(self, quantile_range: tuple[float, float] = (25.0, 75.0)):
        self.quantile_range = quantile_range

    def fit(self, X: Any, y: Any = None) -> "RobustChannelScaler":
        """Learn channel medians and IQRs from TRAINING epochs."""
        lo_q, hi_q = self.quantile_range
        if not 0 <= lo_q < hi_q <= 100:
            raise ConfigError(f"quantile_range must satisfy 0 <= lo < hi <= 100, got {self.quantile_range}")
        arr = _epoch_array(X, "RobustChannelScaler.fit")
        flat = np.moveaxis(arr, 1, 0).reshape(arr.shape[1], -1)
        q = np.percentile(flat, [lo_q, 50.0, hi_q], axis=1).astype(np.float64)
        iqr = q[2] - q[0]
        self.center_ = q[1]
        self.scale_ = np.where(iqr > 0, iqr, 1.0)
        self.n_channels_ = arr.shape[1]
        return self


class FeatureStandardScaler(TransformerMixin, BaseEstimator):
    """Standardise each feature: columns of a 2-D matrix, or each (channel, time) cell of epochs.

    Attributes
    ----------
    mean_, scale_ : ndarray, shape of one sample
    """

    def _array(self, X: Any) -> np.ndarray:
        arr = X.X if isinstance(X, Epochs) else np.asarray(X, dtype=float)
        if arr.ndim < 2:
            raise DataError(f"FeatureStandardScaler expects (n_samples, ...) with features, got shape {arr.shape}")
        return arr

    def fit(self, X: Any, y: Any = None) -> "FeatureStandardScaler":
        """Learn per-feature mean and standard deviation from TRAINING rows."""
        arr = self._array(X)
        if arr.shape[0] == 0:
            raise DataError("FeatureStandardScaler.fit: no samples")
        self.mean_ = arr.mean(axis=0, dtype=np.float64)
        std = arr.std(axis=0, dtype=np.float64)
        self.scale_ = np.where(std > 0, std, 1.0)
        return self

    def transform(self, X: Any) -> Any:
        if not hasattr(self, "scale_"):
            raise NotFittedError("FeatureStandardScaler is not fitted; call fit() on training data first")
        arr = self._array(X)
        if arr.shape[1:] != self.mean_.shape:
            raise DataError(f"fitted on samples of shape {self.mean_.shape}, got {arr.shape[1:]}")
        out = (arr - self.mean_) / self.scale_
        if isinstance(X, Epochs):
            return X.replace(X=out.astype(np.float32))
        return out.astype(np.float32) if arr.dtype == np.float32 else out


class CovariateEncoder(TransformerMixin, BaseEstimator):
    """Encode a covariate table as floats: numeric standardised, categorical one-hot.

    Built on scikit-learn's ``ColumnTransformer`` (mean imputation +
    ``StandardScaler`` for numeric columns, ``OneHotEncoder(handle_unknown="ignore")``
    for categorical ones).

    Parameters
    ----------
    numeric : sequence of str, optional
        Numeric columns (age, height, weight, bmi, ...).
    categorical : sequence of str, optional
        Categorical columns (sex, side, ...); values are compared as strings.
        If both are None, every column of the fitted table is used, split by dtype
        (only for DataFrames; with Epochs name the columns, since epoch metadata
        also holds subject ids and indices that are not covariates).

    Attributes
    ----------
    numeric_, categorical_ : list of str
        Columns used.
    feature_names_out_ : list of str
        Output column names (``age``, ..., ``sex=F``, ``sex=M``).
    n_features_out_ : int
    """

    def __init__(self, numeric: Sequence[str] | None = None, categorical: Sequence[str] | None = None):
        self.numeric = numeric
        self.categorical = categorical

    @staticmethod
    def _frame(X: Any) -> pd.DataFrame:
        if isinstance(X, Epochs):
            return X.metadata
        if isinstance(X, pd.DataFrame):
            return X
        raise DataError(f"CovariateEncoder expects a DataFrame or Epochs, got {type(X).__name__}")

    def _prepare(self, df: pd.DataFrame) -> pd.DataFrame:
        cols = self.numeric_ + self.categorical_
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise DataError(f"covariate column(s) {missing} missing; table has {list(df.columns)}")
        out = pd.DataFrame(index=range(len(df)))
        for c in self.numeric_:
            try:
                out[c] = pd.to_numeric(df[c].reset_index(drop=True), errors="raise").astype(float)
            except (TypeError, ValueError):
                raise DataError(f"covariate {c!r} is declared numeric but holds non-numbers, e.g. "
                                f"{df[c].iloc[0]!r}") from None
        for c in self.categorical_:
            col = df[c].reset_index(drop=True)
            out[c] = col.astype(object).where(col.notna(), "missing").astype(str)
        return out

    def fit(self, X: Any, y: Any = None) -> "CovariateEncoder":
        """Learn means, standard deviations and categories from TRAINING rows."""
        df = self._frame(X)
        if len(df) == 0:
            raise DataError("CovariateEncoder.fit: empty table")
        if self.numeric is None and self.categorical is None:
            if isinstance(X, Epochs):
                raise ConfigError(
                    "CovariateEncoder on Epochs needs numeric=[...] and/or categorical=[...] column names"
                )
            num = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])]
            cat = [c for c in df.columns if c not in num]
        else:
            num, cat = list(self.numeric or []), list(self.categorical or [])
        both = set(num) & set(cat)
        if both:
            raise ConfigError(f"column(s) {sorted(both)} declared both numeric and categorical")
        if not num and not cat:
            raise ConfigError("CovariateEncoder has no columns to encode")
        self.numeric_, self.categorical_ = [str(c) for c in num], [str(c) for c in cat]
        frame = self._prepare(df)
        for c in self.numeric_:
            if frame[c].isna().all():
                raise DataError(f"covariate {c!r} is missing for every training row")
        parts = []
        if self.numeric_:
            parts.append(("num", make_pipeline(SimpleImputer(strategy="mean"), StandardScaler()), self.numeric_))
        if self.categorical_:
            parts.append(("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), self.categorical_))
        self.transformer_ = ColumnTransformer(parts, sparse_threshold=0.0).fit(frame)
        names = list(self.numeric_)
        if self.categorical_:
            ohe = self.transformer_.named_transformers_["cat"]
            for c, cats in zip(self.categorical_, ohe.categories_):
                names += [f"{c}={v}" for v in cats]
        self.feature_names_out_ = names
        self.n_features_out_ = len(names)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Encode rows; returns float32 array (n_rows, n_features_out_)."""
        if not hasattr(self, "transformer_"):
            raise NotFittedError("CovariateEncoder is not fitted; call fit() on training rows first")
        frame = self._prepare(self._frame(X))
        return np.asarray(self.transformer_.transform(frame), dtype=np.float32)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray(self.feature_names_out_, dtype=object)
