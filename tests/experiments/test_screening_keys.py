"""Which muscle a stimulated recording given to ``predict`` belongs to, from its channel names."""
from __future__ import annotations

import numpy as np
import pytest

from myoflow.errors import DataError
from myoflow.experiments.inference.screening import _recording_key
from myoflow.containers import Recording


def _rec(ch: list[str]) -> Recording:
    fs = 2000.0
    x = np.zeros((len(ch), int(fs * 2)))
    return Recording(x, fs, tuple(ch), meta={"frequency": 25.0, "source": "p01.edf"})


def test_muscle_is_told_from_whole_words_of_channel_names():
    assert _recording_key(_rec(["BF EMG"]), ["RF", "BF"]) == ("BF", 25.0)
    assert _recording_key(_rec(["emg_rf"]), ["RF", "BF"]) == ("RF", 25.0)
    # "surface" contains "rf": a substring match called this BF recording RF without a word of warning
    assert _recording_key(_rec(["Surface EMG BF"]), ["RF", "BF"]) == ("BF", 25.0)
    with pytest.raises(DataError, match="cannot tell the muscle"):
        _recording_key(_rec(["Surface EMG"]), ["RF", "BF"])
