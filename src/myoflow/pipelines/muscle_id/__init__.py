"""Seed 001: which muscle is the sensor on (CNN-LSTM on TKEO burst windows, autoencoder pretraining).

Public API: :class:`MuscleIdPipeline` (runner plug-in), :func:`classic_features`,
:func:`check_placement` (electrode mix-up check). The estimators live in ``myoflow.models``
(:class:`~myoflow.models.cnn_lstm.CNNLSTMClassifier`,
:class:`~myoflow.models.feature_classifier.FeatureClassifier`).
"""
from ...features import classic_features

__all__ = ["classic_features", "MuscleIdPipeline", "check_placement"]


def __getattr__(name):  # lazy: the pipeline pulls in the runner framework
    if name == "MuscleIdPipeline":
        from .pipeline import MuscleIdPipeline

        return MuscleIdPipeline
    if name == "check_placement":
        from ...experiments.inference.placement import check_placement

        return check_placement
    raise AttributeError(name)
