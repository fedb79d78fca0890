"""Three more new labs through every pipeline (fourth sweep): OpenSim sign conventions, gait trials without
moments or GRF, unknown unit hints, and the odd-but-legitimate folders a small lab brings.

Each test is the smallest input that showed the problem; each fails without its fix.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from myoflow.containers import Trial
from myoflow.io import write_dataset

from ._builders import cli as _cli, one_error_line as _one_error_line, write_csv


@pytest.fixture(scope="module")
def walk():
    from myoflow.simulate.protocols.gait import simulate_gait

    return simulate_gait(1, 0, 8, fs_sim=2048.0, noise=False)[0][0]


def _gait_folder(root: Path, trial: Trial, streams: dict) -> Path:
    # the files a `myoflow convert` of an OpenSim/C3D session records as the trial's source
    t = Trial(streams=streams, meta={"subject": "S01", "trial": "walk", "source": "raw/S01_walk_ik.mot;raw/S01_walk.c3d"})
    cov = trial.meta["covariates"]
    return write_dataset(root, [("S01_walk", t)],
                         pd.DataFrame({"subject": ["S01"], "weight": [cov["weight"]], "height": [cov["height"]]}),
                         {"protocol": "converted"}).path


# ------------------------------------------------------------------ gait-emg: an OpenSim knee of the other sign
def test_opensim_knee_of_the_other_sign_names_the_joint_and_the_convention(walk, tmp_path, capsys):
    a = walk["angles"]
    opensim = {"hip_flexion": "hip_flexion_r", "knee_flexion": "knee_angle_r", "ankle_dorsiflexion": "ankle_angle_r"}
    # a model whose knee_angle_r is flexion-positive: myoflow negates OpenSim knees (gait2392, flexion-negative)
    ang = a.replace(ch_names=[opensim.get(n, n) for n in a.ch_names])
    ds = _gait_folder(tmp_path / "lab", walk, {"angles": ang, "moments": walk["moments"], "grf": walk["grf"],
                                               "emg": walk["emg"]})
    code, _, err = _cli(["run", "gait-emg", "--data", ds, "--out", tmp_path / "run", "--set", "train.epochs=1"], capsys)
    line = _one_error_line(code, err)
    # was: "no plausible gait cycle among 8 (... 'outside_valid_range': 8 ...)" naming neither joint nor convention
    assert "S01_walk_ik.mot" in line and "knee_angle_r" in line and "opposite sign convention" in line and "flexion" in line
    from myoflow.biomech.gait_cycles import trial_to_cycles  # the check leaves a knee of the right sign alone

    t = Trial(streams={k: walk[k] for k in ("angles", "moments", "grf", "emg")}, meta={"subject": "S01"})
    assert trial_to_cycles(t, body_mass=70.0).angles.shape[0] > 0


# ------------------------------------------------------------------ gait-emg: neither moments nor GRF
def test_trial_without_moments_or_grf_says_why_they_are_needed(walk, tmp_path, capsys):
    ds = _gait_folder(tmp_path / "lab", walk, {"angles": walk["angles"], "emg": walk["emg"]})
    code, _, err = _cli(["run", "gait-emg", "--data", ds, "--out", tmp_path / "run", "--set", "train.epochs=1"], capsys)
    line = _one_error_line(code, err)  # was: "trial has no stream 'grf'; it has ['angles', 'emg']"
    assert "S01_walk_ik.mot" in line and "'moments'" in line and "'grf'" in line and "inverse dynamics" in line


# ------------------------------------------------------------------ --hint units=: an unknown unit
@pytest.mark.parametrize("cmd", ["inspect", "convert"])
def test_unknown_unit_hint_is_refused_listing_the_accepted_ones(cmd, tmp_path, capsys):
    f = write_csv(tmp_path / "raw" / "S01_VL_1.csv")
    argv = ([cmd, f] if cmd == "inspect" else
            [cmd, tmp_path / "raw", "--pattern", "{subject}_{muscle}_{session}", "--out", tmp_path / "ds"])
    code, _, err = _cli([*argv, "--hint", "units=furlong"], capsys)
    line = _one_error_line(code, err)  # was: exit 0, the channel kept in 'furlong' and read unscaled
    assert "S01_VL_1.csv" in line and "furlong" in line and "mV" in line and "uV" in line
    code, _, err = _cli([*argv, "--hint", "units=uV"], capsys)
    assert code == 0, err


# ------------------------------------------------------------------ run muscle-id --data: --set data.KEY
def _muscle_folder(root: Path, fs: float = 2000.0, n_subjects: int = 3) -> Path:
    from myoflow.containers import Recording

    rng = np.random.default_rng(0)
    items = [(f"S{i}_{m}", Recording(rng.normal(size=(1, int(4 * fs))) * 1e-4 * (1 + k), fs, ["ch1"], units="V",
                                     meta={"subject": f"S{i}", "muscle": m}))
             for i in range(n_subjects) for k, m in enumerate(("VL", "TA"))]
    return write_dataset(root, items, None, {"protocol": "t"}).path


def test_set_data_key_applies_to_the_folders_cohort_and_a_typo_is_named(tmp_path, capsys):
    import yaml

    ds = _muscle_folder(tmp_path / "lab")
    base = ["run", "muscle-id", "--data", ds, "--out", tmp_path / "run", "--set", "evaluate.models=[lda]"]
    code, _, err = _cli([*base, "--set", "data.bandpas=[20,450]"], capsys)
    line = _one_error_line(code, err)  # was: "data.bandpas: expected a mapping for section CohortConfig, got list"
    assert "data.bandpas" in line and "segmentation" in line and "data.lab.KEY" in line
    code, _, err = _cli([*base, "--set", "data.emg_map.VL=ch1"], capsys)
    assert "data.emg_map" in _one_error_line(code, err) and "data.lab.KEY" in err
    # was: "data.segmentation: expected a mapping for section CohortConfig, got str" (read as a cohort's name)
    code, _, err = _cli([*base, "--set", "data.segmentation=whole", "--set", "data.windows_per_burst=null",
                         "--set", "data.block_windows=4", "--set", "evaluate.n_boot=50"], capsys)
    assert code == 0, err
    cohort = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["data"]
    assert list(cohort) == ["lab"] and cohort["lab"]["segmentation"] == "whole"


# ------------------------------------------------------------------ convert: very long file names
def test_an_id_too_long_for_a_file_name_says_so(tmp_path, capsys):
    for s in ("S01", "S02", "S03"):
        write_csv(tmp_path / "raw" / f"{s}_VL_{'x' * 240}.csv")
    code, _, err = _cli(["convert", tmp_path / "raw", "--pattern", "{subject}_{muscle}_{session}",
                         "--out", tmp_path / "ds"], capsys)
    line = _one_error_line(code, err)
    # was: "ids must be non-empty, without '/', '\', control characters or a leading '.'" (none of which it had)
    assert "S01_VL_" in line and "at most 200 characters" in line and "240" in line


# ------------------------------------------------------------------ check-placement on a sustained-contraction run
def test_check_placement_windows_like_the_run_did_for_sustained_contractions(tmp_path, capsys):
    from myoflow.containers import Recording
    from myoflow.io import write_edf

    ds = _muscle_folder(tmp_path / "lab", fs=1000.0)  # no rest between contractions: the run tiles them (auto -> whole)
    code, _, err = _cli(["run", "muscle-id", "--data", ds, "--out", tmp_path / "run", "--quick", "--set",
                         "evaluate.models=[cnn_lstm_random]", "--set", "train.epochs=1", "--set", "evaluate.n_boot=20"],
                        capsys)
    assert code == 0, err
    f = write_edf(Recording(np.random.default_rng(1).normal(size=(1, 4000)) * 1e-4, 1000.0, ["ch1"], units="V"),
                  tmp_path / "new.edf")
    code, out, err = _cli(["check-placement", tmp_path / "run", f, "--expected", "*=VL", "--json"], capsys)
    # was: exit 2 "no contraction detected in any channel": the burst detector, whatever the run trained on
    assert code in (0, 1), err
    import json

    rows = json.loads(out)["channels"]
    assert rows[0]["n_windows"] == 8  # every 500 ms window of 4 s, as the run windowed its recordings
    # a killed run has no metrics.json yet: the fold's own record of the segmentation is used
    (tmp_path / "run" / "metrics.json").unlink()
    code, out, err = _cli(["check-placement", tmp_path / "run", f, "--expected", "*=VL", "--json"], capsys)
    assert code in (0, 1), err  # was: the burst detector again, "no contraction detected"
    assert json.loads(out)["channels"][0]["n_windows"] == 8


# ------------------------------------------------------------------ convert: participants ids of another case
def test_participants_id_of_another_case_is_named(tmp_path, capsys):
    for i, s in enumerate(("S01", "S02", "S03")):
        write_csv(tmp_path / "raw" / f"{s}_VL_1.csv", seed=i)
    (tmp_path / "p.csv").write_text("subject,age\ns01,40\nS02,50\nS03,60\n")
    code, _, err = _cli(["convert", tmp_path / "raw", "--pattern", "{subject}_{muscle}_{session}", "--participants",
                         tmp_path / "p.csv", "--out", tmp_path / "ds"], capsys)
    line = _one_error_line(code, err)  # was: "participants table lacks subject(s) ['S01']" with s01 on its first row
    assert "p.csv" in line and "'S01' is not 's01'" in line


# ------------------------------------------------------------------ muscle-id: one short hold among long ones
def test_a_short_sustained_recording_is_tiled_with_the_others(tmp_path, capsys):
    from myoflow.containers import Recording

    rng = np.random.default_rng(0)
    # sustained holds (noise, no rest) of 5 s, one of them 0.6 s: too short to estimate rest from
    items = [(f"S{i}_{m}", Recording(rng.normal(size=(1, 1200 if (i, k) == (0, 0) else 10000)) * 1e-4 * (1 + k),
                                     2000.0, ["ch1"], units="V", meta={"subject": f"S{i}", "muscle": m}))
             for i in range(3) for k, m in enumerate(("VL", "TA"))]
    ds = write_dataset(tmp_path / "lab", items, None, {"protocol": "t"}).path
    code, _, err = _cli(["run", "muscle-id", "--data", ds, "--out", tmp_path / "run", "--set", "evaluate.models=[lda]",
                         "--set", "evaluate.n_boot=20"], capsys)
    # was: exit 2 "S0_VL.h5: recording is 0.60 s long; automatic rest estimation needs >= 1 s (give rest=(t0, t1))"
    # before the cohort was seen to be sustained contractions, which are tiled without any rest estimate
    assert code == 0, err
    pred = pd.read_parquet(tmp_path / "run" / "predictions.parquet")
    assert (pred["recording"].astype(str).str.contains("S0_VL")).any()
    code, _, err = _cli(["run", "muscle-id", "--data", ds, "--out", tmp_path / "run2", "--set", "evaluate.models=[lda]",
                         "--set", "data.segmentation=bursts"], capsys)
    line = _one_error_line(code, err)  # bursts asked for: the short one cannot be detected, said in CLI terms
    assert "S0_VL.h5" in line and "remove it" in line and "--set data.lab.segmentation=whole" in line


# ------------------------------------------------------------------ run --out: another tool's config.yaml
def test_out_folder_with_a_foreign_config_yaml_is_refused_and_left_alone(tmp_path, capsys):
    ds = _muscle_folder(tmp_path / "lab", fs=1000.0)
    out = tmp_path / "thesis"
    out.mkdir()
    (out / "config.yaml").write_text("latex: true\n")
    (out / "report.html").write_text("<p>my report</p>")
    code, _, err = _cli(["run", "muscle-id", "--data", ds, "--out", out, "--set", "evaluate.models=[lda]"], capsys)
    line = _one_error_line(code, err)  # was: exit 0, the user's config.yaml and report.html overwritten
    assert str(out) in line and "config.yaml" in line and "not a myoflow run" in line
    assert (out / "config.yaml").read_text() == "latex: true\n" and "my report" in (out / "report.html").read_text()
