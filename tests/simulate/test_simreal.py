"""Sim → real transfer (issue #18 item 5): scoring, standardisation, simulated lowerlimb cohort, report section."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from myoflow.containers import Epochs
from myoflow.errors import ConfigError
from myoflow.validation.simreal import MUSCLES3, MUSCLES4, _scores, standardise_recordings

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
if not DATA.is_dir():
    DATA = Path("/work/shared/data")


def test_standardise_recordings_gives_unit_rms_per_recording():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6, 1, 50)) * np.array([1, 1, 1, 100, 100, 100])[:, None, None]
    md = pd.DataFrame({"recording": ["a"] * 3 + ["b"] * 3, "subject": ["s"] * 6})
    ep = standardise_recordings(Epochs(X=X, fs=1000.0, ch_names=["x"], metadata=md))
    for r in ("a", "b"):
        m = md["recording"].to_numpy() == r
        assert np.sqrt(np.mean(np.asarray(ep.X[m], dtype=float) ** 2)) == pytest.approx(1.0, rel=1e-5)


def test_scores_window_vote_confusion_and_3class_restriction():
    # two subjects, one recording per class each, two windows per recording
    y = np.repeat(np.array(MUSCLES4 * 2), 2)
    subj = np.repeat(["s1"] * 4 + ["s2"] * 4, 2)
    rec = np.array([f"{s}/{m}" for s, m in zip(subj, y)])
    proba = np.zeros((y.size, 4))
    proba[np.arange(y.size), [MUSCLES4.index(c) for c in y]] = 1.0  # every window right ...
    proba[0] = [0.0, 0.6, 0.0, 0.4]                                   # ... but one VL window says BF
    proba[y == "GL"] = [0.1, 0.0, 0.2, 0.7]
    s4 = _scores(y, proba, subj, rec, MUSCLES4, n_boot=50, seed=0)
    assert s4["window"]["accuracy"] == pytest.approx(15 / 16)
    assert s4["vote"]["accuracy"] == 1.0  # s1/VL: mean (0.5 VL, 0.3 BF) still votes VL
    cm = np.asarray(s4["window"]["confusion"]["counts"])
    assert cm.sum() == 16 and cm[0, 1] == 1 and np.trace(cm) == 15
    lo, hi = s4["window"]["ci95"]
    assert lo <= s4["window"]["accuracy"] <= hi
    # 3-class: GL recordings dropped, argmax over VL/BF/TA only
    s3 = _scores(y, proba[:, :3], subj, rec, MUSCLES3, n_boot=50, seed=0)
    assert s3["n_windows"] == 12 and s3["classes"] == list(MUSCLES3)
    assert s3["window"]["accuracy"] == pytest.approx(11 / 12)


def test_simulated_lowerlimb_cohort_source(tmp_path):
    from myoflow.pipelines.muscle_id.config import CohortConfig, MuscleIdConfig
    from myoflow.pipelines.muscle_id.data import load_cohort

    with pytest.raises(ConfigError, match="hold"):
        CohortConfig(source="simulate-lowerlimb", duration_s=600.0)
    cfg = CohortConfig(source="simulate-lowerlimb", subjects=2, seed=4, duration_s=1.0, segmentation="whole",
                       windows_per_burst=None, block_windows=2)
    pp = MuscleIdConfig(name="t", pipeline="muscle-id").preprocess
    a = load_cohort("simtrain", cfg, pp, cache_dir=tmp_path)
    assert a.kind == "lowerlimb" and sorted(set(a.labels["4class"])) == sorted(MUSCLES4)
    assert a.epochs.fs == 1000.0 and a.info["n_recordings"] == 8 and a.info["n_windows"] == 16
    b = load_cohort("simtrain", cfg, pp, cache_dir=tmp_path)  # from the cache, identical
    assert np.array_equal(a.epochs.X, b.epochs.X)
    assert len(list((tmp_path / "muscle_id").glob("simtrain-*.json"))) == 1


@pytest.mark.realdata
@pytest.mark.skipif(not (DATA / "elderly-lowerlimb-emg").is_dir(), reason="elderly-lowerlimb-emg not present")
def test_quick_simreal_section(tmp_path, monkeypatch):
    from myoflow.validation.simulator import SECTIONS, validate_simulator

    monkeypatch.setenv("MYOFLOW_CACHE", str(tmp_path / "cache"))
    assert "simreal" not in SECTIONS  # opt-in: the default report does not train models
    report, (sec,) = validate_simulator(tmp_path / "out", DATA, quick=True, seed=2, only=["simreal"])
    assert sec.status == "compared", sec.message
    goal = [c for c in sec.checks if c.statistic.endswith("4-class window accuracy")]
    assert [c.statistic.split(":")[0] for c in goal] == ["lda", "rf"]
    for c in goal:  # the verdict is the goal applied to the number shown
        assert c.passed == (c.real >= 50.0) and c.real_range[0] <= c.real <= c.real_range[1]
    assert sec.figures and Path(sec.figures[0][1]).is_file()
    blob = json.loads((tmp_path / "out" / "validation.json").read_text())
    assert blob["sections"][0]["checks"]
