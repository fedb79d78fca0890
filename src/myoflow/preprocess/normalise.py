"""Amplitude normalisation to a reference contraction (MVC, peak or RMS).

sEMG amplitude depends on electrode placement, skin and fat, so amplitudes are
compared across sessions and people only after dividing each channel by its
value in a *reference* recording of the same person and placement: a maximal
voluntary contraction (MVC, Konrad 2005, *The ABC of EMG*; SENIAM), the peak of
a reference task (e.g. the ensemble-average peak of gait cycles; Yang & Winter
1984), or the RMS of a reference task.

:class:`AmplitudeNormaliser` learns one divisor per channel with ``fit`` on the
reference and applies it with ``transform``; the reference must never be the
part that is evaluated (a separate MVC trial, the training trial, ...).
:func:`normalise_amplitude` does both in one call.

Divisors
--------
``scale_[c]`` for channel ``c`` of the reference ``r``:

``"mvc"``  max over time of the moving RMS of ``r`` in a ``window_ms`` window
           (default 500 ms) — robust to single spikes, the usual MVC definition.
``"peak"`` max over time of ``|r|`` (for envelopes / ensemble averages).
``"rms"``  RMS of ``r`` over the whole reference.
"""
from __future__ import annotations

import logging
from typing import Any

import numpy as np
from scipy import ndimage
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.exceptions import NotFittedError

from ..containers import Epochs, Recording
from ..errors import ConfigError, DataError

__all__ = ["AmplitudeNormaliser", "normalise_amplitude", "NORMALISE_METHODS"]

log = logging.getLogger(__name__)

NORMALISE_METHODS = ("mvc", "peak", "rms")


def _array(X: Any, who: str) -> tuple[np.ndarray, float | None]:
    """Samples with channels on axis -2: (n_channels, n_times) or (n_epochs, n_channels, n_times)."""
    if isinstance(X, Recording):
        return X.data, X.fs
    if isinstance(X, Epochs):
        return X.X, X.fs
    arr = np.asarray(X, dtype=np.float64)
    if arr.ndim not in (2, 3):
        raise DataError(f"{who} expects a Recording, Epochs or an array (n_channels, n_times) / "
                        f"(n_epochs, n_channels, n_times), got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise DataError(f"{who}: input contains NaN/inf")
    return arr, None


class AmplitudeNormaliser(TransformerMixin, BaseEstimator):
    """Divide every channel by its amplitude in a reference recording.

    Parameters
    ----------
    method : {"mvc", "peak", "rms"}
        How the per-channel divisor is computed from the reference (module docstring).
    window_ms : float
        Moving-RMS window for ``"mvc"``, ms (needs ``fs`` when the reference is a bare array).
    fs : float, optional
        Sampling rate in Hz when ``fit`` gets a bare array and ``method="mvc"``.

    Attributes
    ----------
    scale_ : ndarray (n_channels,)
        Divisors in the reference's units (a channel with zero amplitude keeps 1, logged).
    ch_names_ : tuple of str or None
        Channel names of the reference (checked against containers in ``transform``).
    subject_ : object or None
        Subject of the reference; transforming another subject's recording is an error.
    """

    def __init__(self, method: str = "mvc", window_ms: float = 500.0, fs: float | None = None):
        self.method = method
        self.window_ms = window_ms
        self.fs = fs

    def fit(self, reference: Any, y: Any = None) -> "AmplitudeNormaliser":
        """Learn the per-channel divisor from a reference Recording, Epochs or array."""
        if self.method not in NORMALISE_METHODS:
            raise ConfigError(f"unknown normalisation method {self.method!r}; choose one of {list(NORMALISE_METHODS)}")
        arr, fs = _array(reference, "AmplitudeNormaliser.fit")
        arr = np.asarray(arr, dtype=np.float64)
        chan_last = np.moveaxis(arr, -2, 0).reshape(arr.shape[-2], -1, arr.shape[-1])  # (C, n_epochs, T)
        if self.method == "peak":
            scale = np.abs(chan_last).max(axis=(1, 2))
        elif self.method == "rms":
            scale = np.sqrt((chan_last ** 2).mean(axis=(1, 2)))
        else:
            fs = fs if fs is not None else self.fs
            if fs is None:
                raise ConfigError("method='mvc' on a bare array needs fs= (Hz) for the moving-RMS window")
            w = int(round(float(self.window_ms) * fs / 1000.0))
            if w < 1:
                raise ConfigError(f"window_ms={self.window_ms} is below one sample at fs={fs:g} Hz")
            if w > chan_last.shape[-1]:
                raise DataError(f"MVC reference is {chan_last.shape[-1] / fs * 1000:.0f} ms long, shorter than "
                                f"the {self.window_ms:g} ms moving-RMS window", _where(reference))
            centred = chan_last - chan_last.mean(axis=-1, keepdims=True)
            ms = ndimage.uniform_filter1d(centred ** 2, w, axis=-1, mode="constant")
            # only full windows count: the edges of a 'constant'-padded filter under-read the amplitude
            half = w // 2
            full = ms[..., half: chan_last.shape[-1] - (w - 1 - half)]
            scale = np.sqrt(full.max(axis=(1, 2)))
        zero = ~(scale > 0)
        if zero.any():
            log.warning("%s: %d channel(s) with zero reference amplitude are left unscaled",
                        _where(reference), int(zero.sum()))
        self.scale_ = np.where(zero, 1.0, scale)
        self.n_channels_ = arr.shape[-2]
        self.ch_names_ = tuple(reference.ch_names) if isinstance(reference, (Recording, Epochs)) else None
        self.subject_ = reference.subject if isinstance(reference, Recording) else None
        return self

    def transform(self, X: Any) -> Any:
        """Divide each channel of a Recording, Epochs or array (channels on axis -2) by ``scale_``."""
        if not hasattr(self, "scale_"):
            raise NotFittedError("AmplitudeNormaliser is not fitted; call fit() on the reference recording first")
        arr, _ = _array(X, "AmplitudeNormaliser.transform")
        where = _where(X)
        if arr.shape[-2] != self.n_channels_:
            raise DataError(f"normaliser was fitted on {self.n_channels_} channel(s), got {arr.shape[-2]}", where)
        if self.ch_names_ is not None and isinstance(X, (Recording, Epochs)) and tuple(X.ch_names) != self.ch_names_:
            raise DataError(f"channels {list(X.ch_names)} differ from the reference's {list(self.ch_names_)}", where)
        if isinstance(X, Recording) and None not in (self.subject_, X.subject) and X.subject != self.subject_:
            raise DataError(f"reference is from subject {self.subject_!r}, recording from {X.subject!r}: "
                            "normalise each subject by its own reference", where)
        scale = self.scale_.reshape((-1, 1))
        if isinstance(X, Recording):
            return X.replace(data=X.data / scale.astype(np.float32), units="1")
        if isinstance(X, Epochs):
            return X.replace(X=X.X / scale.astype(np.float32))
        return arr / scale


def _where(X: Any) -> str:
    if isinstance(X, Recording):
        return X.source
    if isinstance(X, Epochs):
        return str(X.meta.get("source") or "epochs")
    return "array"


def normalise_amplitude(recording: Any, reference: Any, method: str = "mvc", **kwargs: Any) -> Any:
    """Divide ``recording`` channel by channel by its amplitude in ``reference``.

    Parameters
    ----------
    recording : Recording, Epochs or array (channels on axis -2)
        What to normalise (the evaluated part).
    reference : Recording, Epochs or array
        Same subject and channels: an MVC trial, a reference task, the training
        trial — never the part being evaluated.
    method : {"mvc", "peak", "rms"}
    **kwargs
        ``window_ms``, ``fs`` — see :class:`AmplitudeNormaliser`.

    Returns
    -------
    Same type as ``recording``; a Recording gets ``units="1"`` (fraction of the reference).
    """
    return AmplitudeNormaliser(method=method, **kwargs).fit(reference).transform(recording)
