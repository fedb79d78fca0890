"""Grids: the channels of one burst as ONE multichannel sample (beside the paper's channels-as-samples).

The muscle-id windowing (seed 001) makes every grid channel of every burst window a separate
1-channel sample (:func:`myoflow.preprocess.channels_as_samples`), as the paper does. The
channels of one application are near-copies of one another, but *how* they differ (the
spatial pattern of amplitude and shape across the grid: innervation zone, muscle edge,
conduction along the fibres) is lost when each is classified alone. The estimators here
regroup the windows of a burst into one sample of shape ``(n_channels, n_times)``
(:func:`myoflow.preprocess.representation.bursts_as_samples`) before the model sees them, and
give every row of the burst the burst's probabilities back, so a pipeline scores them on the
very rows (and folds, and subjects) it scores the channels-as-samples models on.

Any grid size works (8, 16, 64 channels, any names): the layout is the sorted channel names
seen in training, and a burst at prediction time must have exactly those channels (else a
one-line :class:`~myoflow.errors.DataError`). A single-channel cohort regroups into
1-channel samples, i.e. the plain model.

* :class:`BurstDeepClassifier` — :class:`~myoflow.models.deep_classifier.DeepWindowClassifier`
  (EMG CNN, hybrid, recipe CNN-LSTM) on burst samples; registry name ``deep_burst``.
* :class:`BurstCNNLSTMClassifier` — the paper's :class:`~myoflow.models.cnn_lstm.CNNLSTMClassifier`
  (with or without autoencoder pretraining) on burst samples; registry name ``cnn_lstm_burst``.

Both take exactly their base class's parameters (scikit-learn ``get_params`` / ``clone`` work).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..containers import Epochs
from ..errors import DataError
from .cnn_lstm import CNNLSTMClassifier
from .deep_classifier import DeepWindowClassifier

__all__ = ["BurstDeepClassifier", "BurstCNNLSTMClassifier", "burst_samples", "SAMPLE_KEY"]

#: Metadata columns naming the rows that are channels of one sample: the burst and the window position in it
#: (so ``windows_per_burst`` > 1 gives one sample per window, never two windows of one channel in a sample).
SAMPLE_KEY: tuple[str, ...] = ("burst_key", "window")
_KEY = "_burst_sample"


def burst_samples(epochs: Epochs, key: Sequence[str] = SAMPLE_KEY,
                  layout: Sequence[str] | None = None) -> tuple[Epochs, np.ndarray]:
    """Regroup 1-channel rows into one sample per ``key`` and say which sample every row went to.

    Parameters
    ----------
    epochs : Epochs
        Channels-as-samples windows (n_rows, 1, n_times) whose metadata has ``key`` and ``channel``.
    key : sequence of str
        Columns that together name a sample (default: burst and window position).
    layout : sequence of str, optional
        The channel names a sample must have (a fitted model's); default: those present.

    Returns
    -------
    samples : Epochs
        (n_samples, n_channels, n_times), channels in sorted-name order.
    row_to_sample : ndarray of int (n_rows,)
        Index into ``samples`` of every input row.
    """
    from ..preprocess.representation import bursts_as_samples

    if not isinstance(epochs, Epochs):
        raise DataError(f"the burst representation needs Epochs with metadata {list(key)} and 'channel', "
                        f"got {type(epochs).__name__}")
    md = epochs.metadata
    missing = [c for c in (*key, "channel") if c not in md.columns]
    if missing:
        raise DataError(f"the burst representation needs metadata column(s) {missing}; the windows have "
                        f"{list(md.columns)}")
    sample = md[list(key)].astype(str).agg("|".join, axis=1).to_numpy()
    if layout is not None:
        chans = md["channel"].astype(str)
        extra = sorted(set(chans) - set(map(str, layout)))
        if extra:
            raise DataError(f"the burst representation: channel(s) {extra[:5]} were not in the training layout "
                            f"({len(layout)} channels: {list(layout)[:5]}...)")
    samples = bursts_as_samples(epochs.replace(metadata=md.assign(**{_KEY: sample})), key=_KEY)
    if layout is not None and list(samples.ch_names) != [str(c) for c in layout]:
        raise DataError(f"the burst representation: bursts have channels {list(samples.ch_names)[:5]}... "
                        f"({len(samples.ch_names)}), the model was trained on {len(layout)}: {list(layout)[:5]}...")
    index = pd.Index(samples.metadata[_KEY].to_numpy())
    return samples.replace(metadata=samples.metadata.drop(columns=[_KEY])), index.get_indexer(sample)


class _BurstSamples:
    """Mixin: regroup a burst's channel rows into one sample on the way in, broadcast back on the way out."""

    def fit(self, X: Epochs, y: Any = None, groups: Any = None):
        """Train on the bursts of the TRAINING rows (labels/groups given per row are taken per burst).

        Parameters
        ----------
        X : Epochs
            Channels-as-samples rows (n_rows, 1, n_times) with metadata ``burst_key``, ``window``, ``channel``.
        y : array, optional
            Label per row (default ``X.y``); must agree within a burst.
        groups : array, optional
            Early-stopping group per row (default: the ``val_group`` metadata column).
        """
        if y is not None:
            X = X.replace(y=np.asarray(y)) if isinstance(X, Epochs) else X
        samples, rows = burst_samples(X)
        if groups is not None:  # one value per burst: that of its first row
            _, first = np.unique(rows, return_index=True)  # first row of sample 0, 1, ...
            groups = np.asarray(groups)[first]
        self.channel_layout_ = [str(c) for c in samples.ch_names]
        return super().fit(samples, groups=groups)

    def predict_proba(self, X: Epochs) -> np.ndarray:
        """Per ROW of ``X``: the probabilities of the burst it belongs to, columns in ``classes_`` order."""
        self._check_fitted()
        samples, rows = burst_samples(X, layout=self.channel_layout_)
        return super().predict_proba(samples)[rows]

    def _fitted_state(self) -> dict[str, Any]:
        return {**super()._fitted_state(), "channel_layout": list(self.channel_layout_)}

    def _restore(self, fitted: dict[str, Any]) -> None:
        super()._restore(fitted)
        self.channel_layout_ = [str(c) for c in fitted["channel_layout"]]


class BurstDeepClassifier(_BurstSamples, DeepWindowClassifier):
    """:class:`DeepWindowClassifier` on one multichannel sample per burst (parameters: the same).

    ``channel_drop`` (training-only augmentation) then drops whole grid channels of a burst,
    the grid augmentation issue 14 asks for.
    """

    registry_name = "deep_burst"


class BurstCNNLSTMClassifier(_BurstSamples, CNNLSTMClassifier):
    """The paper's :class:`CNNLSTMClassifier` on one multichannel sample per burst (parameters: the same).

    The first convolution sees every grid channel at once; the autoencoder pretraining
    (``pretrain=True``) reconstructs the whole grid window. ``channels_per_epoch`` has no
    effect (a burst is one sample).
    """

    registry_name = "cnn_lstm_burst"
