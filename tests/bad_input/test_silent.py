"""Cases that used to pass silently (exit 0 or a quiet fallback) and now say what happened."""
from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest

from myoflow.cli import main
from myoflow.containers import Recording
from myoflow.errors import ConfigError, DataError
from myoflow.io import write_dataset


def test_participants_without_recordings_are_reported(tmp_path, capsys):
    rec = Recording(np.zeros((1, 200), np.float32) + 1e-6, 1000.0, ["RF"], meta={"subject": "S0"})
    parts = pd.DataFrame({"subject": ["S0", "S1", "S2"]})
    write_dataset(tmp_path / "ds", [("S0/RF", rec)], parts, {"protocol": "t"})
    main(["inspect", str(tmp_path / "ds")])
    assert "WARNING: 2 subject(s) in participants.csv have no recording: ['S1', 'S2']" in capsys.readouterr().out
    main(["inspect", str(tmp_path / "ds"), "--json"])
    assert json.loads(capsys.readouterr().out)["subjects_without_recordings"] == ["S1", "S2"]


def test_band_above_the_recordings_nyquist_is_an_error():
    from myoflow.pipelines.muscle_id.config import PreprocessConfig
    from myoflow.preprocess.windows import filter_recording

    rec = Recording(np.random.default_rng(0).standard_normal((2, 2500)).astype(np.float32), 250.0, ["a", "b"])
    with pytest.raises(DataError, match="fs=250 Hz; preprocess.band_hz upper edge 450 Hz needs fs > 900 Hz"):
        filter_recording(rec, PreprocessConfig())
    ok = filter_recording(rec, PreprocessConfig(band_hz=(20.0, 100.0)))
    assert ok.fs == 1000.0  # resampled to the paper's rate, band kept as asked
    with pytest.raises(ConfigError, match="below half of preprocess.resample_hz"):
        PreprocessConfig(band_hz=(20.0, 450.0), resample_hz=800.0)


def test_non_finite_fold_metrics_are_counted_and_logged(caplog):
    from myoflow.experiments.base import FoldResult
    from myoflow.experiments.runner import aggregate_folds

    folds = [FoldResult(f"k{i}", "all", {"m": {"r2": v}}, pd.DataFrame()) for i, v in enumerate([0.5, np.nan, 0.7])]
    with caplog.at_level(logging.WARNING, logger="myoflow.experiments.runner"):
        agg = aggregate_folds(folds)
    r2 = agg["all"]["m"]["r2"]
    assert r2["n"] == 2 and r2["n_nonfinite"] == 1 and r2["mean"] == pytest.approx(0.6)
    assert "r2: NaN/inf fold values left out of the mean" in caplog.text and "all/m (1 of 3)" in caplog.text
    assert "n_nonfinite" not in aggregate_folds(folds[:1])["all"]["m"]["r2"]


@pytest.mark.parametrize("cols", [["age", "mass_class"], ["asmi"], ["true_csa_RF"], ["Truth"]])
def test_ground_truth_columns_are_refused_as_covariates(cols):
    from myoflow.preprocess.scalers import check_not_ground_truth

    with pytest.raises(ConfigError, match="ground truth"):
        check_not_ground_truth(cols, "mass_class")
    check_not_ground_truth(["age", "sex", "height", "weight", "bmi"], "mass_class")  # the usual ones pass
