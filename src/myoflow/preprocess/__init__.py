"""Preprocessing: filters, stimulation artefacts, bursts, gait cycles, epoching and fitted scalers.

Signal functions take a :class:`~myoflow.containers.Recording` and return new
containers; scalers follow scikit-learn's fit/transform manners and must be
fitted on training subjects only.
"""
from .bursts import burst_statistic, channels_as_samples, detect_bursts, onset_windows, refine_onsets, tkeo
from .epoching import event_locked, n_sliding_windows, sliding_windows
from .filters import (
    StreamingFilter,
    apply_sos,
    bandpass,
    design_sos,
    envelope,
    highpass,
    lowpass,
    notch,
    notch_sos,
    rectify,
    remove_dc,
    resample,
)
from .gait import detect_heel_strikes, ensemble_average, segment_cycles
from .normalise import AmplitudeNormaliser, normalise_amplitude
from .onsets import detect_onsets
from .scalers import ChannelStandardScaler, CovariateEncoder, FeatureStandardScaler, RobustChannelScaler
from .stimulation import (blank_artefact, detect_stimuli, epoch_stimulus_locked, group_trains, mwave_descriptors,
                          pulse_rate)

__all__ = [
    # filters
    "bandpass", "highpass", "lowpass", "notch", "rectify", "envelope", "resample", "remove_dc",
    "design_sos", "notch_sos", "apply_sos", "StreamingFilter",
    # stimulation
    "detect_stimuli", "blank_artefact", "epoch_stimulus_locked", "mwave_descriptors", "group_trains", "pulse_rate",
    # bursts
    "tkeo", "burst_statistic", "detect_bursts", "refine_onsets", "onset_windows", "channels_as_samples",
    # gait
    "detect_heel_strikes", "segment_cycles", "ensemble_average",
    # epoching
    "sliding_windows", "event_locked", "n_sliding_windows",
    # onsets and amplitude normalisation
    "detect_onsets", "AmplitudeNormaliser", "normalise_amplitude",
    # scalers
    "ChannelStandardScaler", "RobustChannelScaler", "FeatureStandardScaler", "CovariateEncoder",
]
