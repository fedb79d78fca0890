"""Sim → real transfer recipes (issue 18 item 5): halves, normalisation, amplitude-free features, randomisation."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from myoflow.containers import Epochs
from myoflow.errors import ConfigError, DataError
from myoflow.validation.simreal import (CNN_RECIPES, RECIPES, SimRealConfig, feature_matrix, normalise,
                                        randomise_domain, split_halves)

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
if not DATA.is_dir():
    DATA = Path("/work/shared/data")


def _epochs(n_rec=4, per=3, t=500, f=80.0, seed=0):
    rng = np.random.default_rng(seed)
    tt = np.arange(t) / 1000.0
    X = np.stack([np.sin(2 * np.pi * f * tt + rng.uniform(0, 6)) + 0.01 * rng.standard_normal(t)
                  for _ in range(n_rec * per)])[:, None, :] * 1e-4
    md = pd.DataFrame({"subject": np.repeat([f"S{i % 2}" for i in range(n_rec)], per),
                       "recording": np.repeat([f"r{i}" for i in range(n_rec)], per)})
    y = np.repeat(["VL", "BF", "TA", "GL"][:n_rec], per)
    return Epochs(X=X.astype(np.float32), fs=1000.0, ch_names=["emg"], metadata=md, y=y)


def test_halves_odd_ids_calibrate_even_ids_score():
    cal, score = split_halves(np.array(["01", "02", "ID 13", "30", "7"]))
    assert cal.tolist() == [True, False, True, False, True] and (score == ~cal).all()
    with pytest.raises(DataError, match="no number"):
        split_halves(np.array(["01", "abc"]))


def test_the_a_priori_recipe_is_first_in_every_grid():
    assert RECIPES[0] == {"normalise": "recording", "features": "classic", "randomise": 0}
    assert CNN_RECIPES[0]["normalise"] == "recording" and CNN_RECIPES[0]["randomise"] == 0
    assert CNN_RECIPES[0]["max_shift"] == 0 and len({str(r) for r in RECIPES}) == len(RECIPES)
    with pytest.raises(ConfigError, match="calibrate"):
        SimRealConfig(calibrate="even")


def test_normalise_window_none_and_bad_value():
    ep = _epochs()
    w = np.asarray(normalise(ep, "window").X, dtype=float)
    np.testing.assert_allclose(w.mean(axis=2), 0.0, atol=1e-5)
    np.testing.assert_allclose(w.std(axis=2), 1.0, rtol=1e-4)
    assert normalise(ep, "none") is ep
    with pytest.raises(ConfigError, match="normalise"):
        normalise(ep, "subject")


def test_shape_features_are_amplitude_free_and_classic_ones_are_not():
    ep = _epochs()
    big = ep.replace(X=ep.X * 10)
    np.testing.assert_allclose(feature_matrix(ep, "shape"), feature_matrix(big, "shape"), rtol=1e-4, atol=1e-6)
    assert feature_matrix(ep, "shape").shape[1] == feature_matrix(ep, "classic").shape[1] - 6
    assert not np.allclose(feature_matrix(ep, "classic"), feature_matrix(big, "classic"))
    with pytest.raises(ConfigError, match="features"):
        feature_matrix(ep, "all")


def test_domain_randomisation_adds_copies_per_recording_with_stretched_spectra():
    ep = _epochs(f=80.0)
    out = randomise_domain(ep, 2, seed=3, stretch=(0.7, 1.4), snr_db=(200.0, 200.0))
    assert len(out) == 3 * len(ep) and (np.asarray(out.y)[: len(ep)] == np.asarray(ep.y)).all()
    rec = out.group("recording").astype(str)
    assert sorted(set(rec)) == sorted({f"r{i}{s}" for i in range(4) for s in ("", "~0", "~1")})
    assert (out.group("subject")[len(ep):] == np.tile(ep.group("subject"), 2)).all()  # copies keep their subject
    np.testing.assert_array_equal(np.asarray(out.X)[: len(ep)], np.asarray(ep.X))
    freqs = np.fft.rfftfreq(500, 1 / 1000.0)
    peaks = np.asarray([freqs[np.argmax(np.abs(np.fft.rfft(x[0])))] for x in np.asarray(out.X)[len(ep):]])
    assert (peaks >= 80 / 1.4 - 3).all() and (peaks <= 80 / 0.7 + 3).all() and np.ptp(peaks) > 5
    # all windows of one recording copy get the same stretch
    for r in set(rec[len(ep):]):
        assert np.ptp(peaks[rec[len(ep):] == r]) < 1e-9
    again = randomise_domain(ep, 2, seed=3, stretch=(0.7, 1.4), snr_db=(200.0, 200.0))
    np.testing.assert_array_equal(np.asarray(again.X), np.asarray(out.X))  # deterministic
    assert randomise_domain(ep, 0, seed=3) is ep


@pytest.mark.realdata
@pytest.mark.slow
@pytest.mark.skipif(not (DATA / "elderly-lowerlimb-emg").is_dir(), reason="elderly-lowerlimb-emg not present")
def test_quick_run_chooses_on_odd_ids_and_scores_only_even_ids(tmp_path):
    from myoflow.validation.simreal import run_simreal

    cfg = SimRealConfig(n_train=3, n_select=2, seed=2, real_subjects=4, models=("lda",), n_boot=50,
                        duration_s=2.0)
    res = run_simreal(cfg, cache_dir=tmp_path, real_path=DATA / "elderly-lowerlimb-emg")
    scored, cal = res["cohorts"]["real"]["subjects"], res["cohorts"]["real_calibration"]["subjects"]
    assert scored == ["02", "04"] and cal == ["01", "03"]
    assert res["models"]["lda"]["real_4class"]["n_subjects"] == 2
    grid = res["chosen"]["lda"]["grid"]
    assert len(grid) == len(RECIPES)
    best = max(range(len(grid)), key=lambda i: (grid[i]["calibration_window_accuracy"], -i))
    assert res["chosen"]["lda"]["recipe"] == grid[best]["recipe"] == res["models"]["lda"]["recipe"]
    assert res["models"]["lda"]["fixed"]["recipe"] == RECIPES[0]
