"""benchmarks/grid_deep.py: the selection rule and the guards that keep selection off the reported seed."""
from __future__ import annotations

import json

import pytest


@pytest.fixture(scope="module")
def gd(load_benchmark):
    return load_benchmark("grid_deep")


def _acc(intra, loso):
    return {"sim/intra/4class": {k: {"window": {"point": v}} for k, v in intra.items()},
            "sim/loso/4class": {k: {"window": {"point": v}} for k, v in loso.items()}}


def test_rule_best_mean_per_family_earlier_wins_ties(gd):
    cands = {"a": {"model": "m1", "family": "f"}, "b": {"model": "m2", "family": "f"},
             "c": {"model": "m3", "family": "f"}, "h": {"model": "m4", "family": "g"}}
    pick = gd.choose(_acc({"a": 0.59, "b": 0.60, "c": 0.30, "h": 0.5}, {"a": 0.40, "b": 0.40, "c": 0.9, "h": 0.4}),
                     cands)
    assert pick["chosen"]["f"]["label"] == "c"  # c's mean 0.60 beats a (0.495) and b (0.50)
    pick = gd.choose(_acc({"a": 0.59, "b": 0.60, "c": 0.30, "h": 0.5}, {"a": 0.40, "b": 0.40, "c": 0.3, "h": 0.4}),
                     cands)
    # now b's 0.50 is best; a's 0.495 is within the tie tolerance and earlier in the list: a wins
    assert pick["chosen"]["f"]["label"] == "a" and pick["chosen"]["g"]["label"] == "h"
    assert pick["scores"]["b"] == pytest.approx(0.5)


def test_select_refuses_the_reported_seed_and_score_needs_a_record(gd, tmp_path, capsys):
    assert gd.main(["select", "--seed", "0", "--quick"]) == 2
    assert gd.main(["score", "--seed", "0", "--record", str(tmp_path / "none.json")]) == 2
    rec = tmp_path / "r.json"
    rec.write_text(json.dumps({"chosen_on": {"simulator_seed": 0}, "chosen": {}}))
    assert gd.main(["score", "--seed", "0", "--record", str(rec)]) == 2
    err = capsys.readouterr().err
    assert "reported cohort" in err and "no selection record" in err and "chosen on seed 0" in err
