"""Muscle-id and stimulated-mass headline rows carry the n their intervals rest on (the test subjects).

gait-emg and muap-generator rows got ``Headline.n`` in session 15 (tests/bad_input/test_own_lab13.py); these two
pipelines printed the small-cohort line but left the rows' n empty, so the console's and report's n column was
blank for them.
"""
from __future__ import annotations

import pytest


def test_stimulated_mass_rows_carry_their_test_subjects():
    from myoflow.pipelines.stimulated_mass.summary import headline_rows

    def entry(k):
        return {"accuracy": 0.7, "accuracy_ci": [0.5, 0.9], "f1_macro": 0.6, "f1_macro_ci": [0.4, 0.8],
                "balanced_accuracy": 0.6, "balanced_accuracy_ci": [0.4, 0.8], "n_subjects": k}

    summary = {"conditions": {"25Hz": {"attention_bilstm": entry(7), "descriptors_gb": entry(7)}},
               "comparisons": {"25Hz": {"vs_descriptors_gb": {"accuracy": {"value": 0.1, "ci_low": -0.1,
                                                                            "ci_high": 0.2}}}}}
    rows = {r.label: r for r in headline_rows(summary)}
    assert rows["25 Hz accuracy"].n == 7 and rows["25 Hz accuracy"].n_of == "test subjects"
    assert rows["M-wave descriptors + covariates, GB (accuracy)"].n == 7
    assert rows["attention Bi-LSTM − M-wave descriptors + covariates, GB (accuracy, paired)"].n == 7
    # a summary written before n_subjects was recorded: rows still come, without n
    del summary["conditions"]["25Hz"]["attention_bilstm"]["n_subjects"]
    assert headline_rows(summary)[0].n is None


@pytest.mark.parametrize("cohort", ["sim", "lab"])
def test_muscle_id_rows_carry_their_test_subjects(cohort):
    from myoflow.pipelines.muscle_id.pipeline import MuscleIdPipeline

    def entry(k):
        v = {"point": 0.5, "ci_low": 0.4, "ci_high": 0.6}
        return {"accuracy": v, "burst_vote_accuracy": v, "n_subjects": k}

    cond = f"{cohort}/loso/4class"
    summary = {"results": {cond: {"lda": entry(5), "rf": entry(5), "emg_cnn": entry(5)}},
               "tasks": {cohort: {"4class": "4-class"}},
               "comparisons": {cond: {"emg_cnn - lda": {"model": "emg_cnn", "baseline": "lda", "diff": 0.1,
                                                        "ci_low": -0.1, "ci_high": 0.2, "n_subjects": 5}}}}
    rows = MuscleIdPipeline().headline(summary)
    assert rows and all(r.n == 5 and r.n_of == "test subjects" for r in rows), [(r.label, r.n) for r in rows]
    assert any("emg_cnn − lda" in r.label for r in rows)
