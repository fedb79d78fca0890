"""benchmarks/lvr_diagnosis.py: the prior-only probe shows the leave-one-subject-out anti-learning it is there to
detect, the per-subject figures are read correctly, and the reported seed is refused."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="module")
def lvr(load_benchmark):
    return load_benchmark("lvr_diagnosis")


def _cohort(counts: dict[str, tuple[int, int]]):
    """A fake cohort: per subject n_L and n_R windows (one recording per side, one window per burst)."""
    rows, y = [], []
    for s, (n_l, n_r) in counts.items():
        for side, n in (("L", n_l), ("R", n_r)):
            rows += [{"subject": s, "recording": f"{s}/{side}-BB", "burst_key": f"{s}/{side}/{k}"} for k in range(n)]
            y += [side] * n
    md = pd.DataFrame(rows)
    y = np.asarray(y)
    folds = []
    for s in counts:
        te = np.flatnonzero(md["subject"].to_numpy() == s)
        tr = np.flatnonzero(md["subject"].to_numpy() != s)
        folds.append(SimpleNamespace(id=f"sim-loso-side-{s}", condition="sim/loso/side",
                                     payload={"train": tr, "test": te, "held_out": s}))
    return SimpleNamespace(labels={"side": y}, epochs=SimpleNamespace(metadata=md)), folds


def test_prior_probe_anti_learns_on_unequal_counts_and_is_chance_on_equal(lvr):
    # each subject has more of one side: leaving it out tilts the training prior to the OTHER side
    cohort, folds = _cohort({"A": (12, 8), "B": (8, 12), "C": (12, 8), "D": (8, 12)})
    preds = pd.concat([lvr._prior_predictions(cohort, f) for f in folds], ignore_index=True)
    counts = lvr.fold_counts(cohort, folds)
    assert counts["A"]["test_L"] == 12 and counts["A"]["train_L"] == 28 and counts["A"]["train_R"] == 32
    res = lvr.per_model(preds, counts, n_boot=200, seed=1)["prior"]
    # an L-heavy subject leaves 28 L vs 32 R -> everything predicted R -> 8 of 20 right; R-heavy ones mirror it
    assert res["window_accuracy"] == pytest.approx(0.4)
    assert res["mean_balanced_accuracy"] == pytest.approx(0.5)
    # the anti-learning signature: the predicted side follows the training prior exactly
    assert res["corr_pred_L_share_vs_train_prior"] == pytest.approx(1.0)
    assert res["corr_accuracy_vs_test_L_share"] is None  # every subject 40 %: no spread to correlate
    assert res["per_subject"]["A"]["pred_L_share"] == 0.0 and res["per_subject"]["A"]["recording_agreement"] == 1.0

    cohort, folds = _cohort({"A": (10, 10), "B": (10, 10), "C": (10, 10)})
    preds = pd.concat([lvr._prior_predictions(cohort, f) for f in folds], ignore_index=True)
    res = lvr.per_model(preds, lvr.fold_counts(cohort, folds), n_boot=200, seed=1)["prior"]
    assert res["window_accuracy"] == pytest.approx(0.5)


def test_refuses_the_reported_seed(lvr, tmp_path, capsys):
    assert lvr.main(["run", "--seed", "0", "--out", str(tmp_path / "x.json")]) == 2
    assert "reported cohort" in capsys.readouterr().err
