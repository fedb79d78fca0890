"""A thirteenth sweep: small cohorts and a lab's own EMG channel spellings, through gait-emg and muap-generator.

Each test is the smallest input that showed the problem; each fails without its fix.

Tried and already fine (no test added here): muscle-id and stimulated-mass print a small-cohort line on the
console and in report.html; a bracketed side in a channel label (``TA (L)``) is kept in the name by the readers;
a channel named exactly as a muscle (``TA``) or after an OpenSim model (``tib_ant_r``, ``tibant_r``); a
``data.emg_map`` naming every channel.
"""
from __future__ import annotations

import logging

import numpy as np
import pytest

from myoflow.containers import Trial
from myoflow.errors import DataError

from ._builders import cli as _cli
from .test_own_lab2 import templates  # noqa: F401 (the simulated MUAP template folder)


@pytest.fixture(scope="module")
def walk():
    from myoflow.simulate.protocols.gait import simulate_gait

    return simulate_gait(1, 0, 8, fs_sim=2048.0, noise=False)[0][0]


def _cycles(walk, names, **kw):
    from myoflow.biomech.gait_cycles import trial_to_cycles

    emg = walk["emg"].replace(ch_names=names)
    t = Trial(streams={"angles": walk["angles"], "moments": walk["moments"], "grf": walk["grf"], "emg": emg},
              meta={"subject": "S01", "source": "raw/S01_walk_emg.csv"})
    return trial_to_cycles(t, body_mass=70.0, **kw)


# ------------------------------------------------------------------ gait-emg: a side marker in the channel name
@pytest.mark.parametrize("spelling", ["{m}_R", "{m} Rt", "{m}-R", "R_{m}", "R{m}", "{m} (R)", "Right {m}",
                                      "{m}_r"])
def test_a_side_marker_in_an_emg_channel_name_needs_no_emg_map(walk, spelling):
    muscles = walk["emg"].ch_names  # TA, GM, VL, RF, BF, ST, SOL
    ref = _cycles(walk, muscles)
    c = _cycles(walk, [spelling.format(m=m) for m in muscles])
    # was: "emg stream has none of the muscles [...]; map its channels with data.emg_map"
    assert c.muscles == muscles
    assert np.array_equal(c.emg, ref.emg)


def test_both_legs_sided_names_take_this_legs_channels_and_the_other_leg_is_named(walk, caplog):
    emg = walk["emg"]
    # the left leg's channels first, a copy scaled 3x so that taking them for the right leg shows in the numbers
    both = emg.replace(data=np.concatenate([emg.data * 3.0, emg.data]), units=tuple(emg.units) * 2,
                       ch_names=tuple(f"L{m}" for m in emg.ch_names) + tuple(f"{m}-R" for m in emg.ch_names))
    from myoflow.biomech.gait_cycles import trial_to_cycles

    t = Trial(streams={"angles": walk["angles"], "moments": walk["moments"], "grf": walk["grf"], "emg": both},
              meta={"subject": "S01", "source": "raw/S01_walk_emg.csv"})
    with caplog.at_level(logging.WARNING):
        c = trial_to_cycles(t, body_mass=70.0)
    assert c.muscles == emg.ch_names
    assert np.allclose(c.emg, _cycles(walk, emg.ch_names).emg)  # the right leg's, not the 3x left copy
    assert "left out" not in " ".join(r.getMessage() for r in caplog.records)  # the other leg is expected
    # only the other leg's channels for data.side r: the error says so
    with pytest.raises(DataError, match=r"named as the other leg's \(data.side is 'r'"):
        _cycles(walk, [f"{m}_L" for m in emg.ch_names])


@pytest.mark.parametrize("pair", [("TA_R", "R_TA"), ("TA", "TA Rt")])
def test_two_channels_read_as_one_muscle_are_an_error_naming_both(walk, pair):
    names = list(walk["emg"].ch_names)
    names[0], names[1] = pair  # TA and GM's channels both spelled as the right TA
    with pytest.raises(DataError) as exc:
        _cycles(walk, names)
    msg = str(exc.value)
    assert repr(list(pair)) in msg and "all read as 'TA'" in msg and "ambiguous" in msg and "data.emg_map" in msg


def test_a_name_that_is_not_a_muscle_with_a_side_is_not_guessed(walk):
    names = list(walk["emg"].ch_names)
    names[0] = "EMG R"  # TA's channel: no muscle in it, must stay unread (left out, never put on a muscle)
    c = _cycles(walk, names)
    assert "TA" not in c.muscles and c.muscles == tuple(names[1:])


# ------------------------------------------------------------------ muap-generator: 5 templates, scored on 1 unit
def test_muap_figures_on_one_held_out_unit_say_so_on_the_console_and_in_the_report(templates, tmp_path, capsys):
    import json

    from myoflow.io import write_dataset


    _, stem, ep, info = templates
    item = ep.replace(X=np.asarray(ep.X)[:5], y=None if ep.y is None else np.asarray(ep.y)[:5],
                      metadata=ep.metadata.iloc[:5].reset_index(drop=True))
    ds = write_dataset(tmp_path / "five", [(stem, item)], None, info).path
    code, out, err = _cli(["run", "muap-generator", "--data", ds, "--out", tmp_path / "run", "--set", "train.epochs=1",
                           "--set", "data.real_templates=false", "--set", "evaluate.export_onnx=false"], capsys)
    assert code == 0, err
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    row = next(r for r in metrics["headline"] if r["label"].endswith(": interpolation nRMSE"))
    assert row["n"] == metrics["summary"]["interpolation"]["n"] == 1 and row["n_of"] == "held-out units"
    # was: the console printed "five: interpolation nRMSE  0.547  –" and report.html "mean nRMSE on held-out
    # units": the n was in metrics.json only
    line = next(ln for ln in out.splitlines() if ln.strip().startswith(row["label"] + " "))
    assert f"{row['ours']:.3f}" in line and line.rstrip().endswith("1 held-out unit")
    assert "note: small sample:" in out and "as few as 1 held-out unit" in out
    html = (tmp_path / "run" / "report.html").read_text()
    assert f"<td>{row['ours']:.3f}</td>" in html and "<td>1 held-out unit</td>" in html
    assert "small sample:" in html and "as few as 1 held-out unit" in html


# ------------------------------------------------------------------ gait-emg: one subject, or three
def _gait_summary(n_groups, group, n_cycles, cond="lab"):
    per = {m: {"mean": 0.5, "ci_low": None, "ci_high": None} for m in ("TA", "SOL")}
    e = {"n_groups": n_groups, "group": group, "n_cycles": n_cycles, "r2_ens_pooled": per,
         "r2_ens_pooled_mean_over_channels": 0.5, "r2_ens_median_mean_over_channels": 0.4}
    return {"conditions": {cond: {"torque_based": e, "baseline": e}}, "data": {"cohort": "lab"}}


def test_gait_headline_figures_carry_the_test_subjects_or_trials_they_rest_on():
    from myoflow.pipelines.gait_emg.pipeline import GaitEmgPipeline

    rows = GaitEmgPipeline().headline(_gait_summary(3, "subject", 24))
    scored = [r for r in rows if "R² of ensemble averages" in r.label]
    assert scored and all((r.n, r.n_of) == (3, "test subjects, 24 cycles") for r in scored)
    rows = GaitEmgPipeline().headline(_gait_summary(1, "trial", 12, cond="within-subject/cycles"))
    scored = [r for r in rows if "within-subject/cycles" in r.label]
    # was: "one subject: test cycles from held-out blocks of cycles", no count of what was held out
    assert scored and all((r.n, r.n_of) == (1, "test trials, 12 cycles") for r in scored)


def test_a_one_subject_gait_run_prints_what_its_figures_rest_on_as_its_report_does(tmp_path, capsys):
    import json

    code, _, err = _cli(["simulate", "gait", "--out", tmp_path / "lab", "--subjects", "1", "--strides", "12"], capsys)
    assert code == 0, err
    code, out, err = _cli(["run", "gait-emg", "--data", tmp_path / "lab", "--out", tmp_path / "run", "--set",
                           "train.epochs=1", "--workers", "1"], capsys)
    assert code == 0, err
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    row = next(r for r in metrics["headline"] if "TA R² of ensemble averages, torque-based" in r["label"])
    assert row["n"] == 1 and row["n_of"].startswith("test trials, ")
    line = next(ln for ln in out.splitlines() if ln.strip().startswith(row["label"] + " "))
    shown = f"1 test trial, {row['n_of'].split(', ')[1]}"
    # was: no n on the console, none in report.html, and no small-sample note (no subject bootstrap to flag)
    assert f"{row['ours']:.3f}" in line and line.rstrip().endswith(shown)
    assert "note: small sample:" in out
    html = (tmp_path / "run" / "report.html").read_text()
    assert f"<td>{shown}</td>" in html and "small sample:" in html
