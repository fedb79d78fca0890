"""A gait lab's C3D (Vicon Plug-in Gait outputs beside the EMG analogs) reads as a gait trial and runs gait-emg."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from myoflow.containers import Trial
from myoflow.io import read

from ..bad_input._builders import JOINTS, write_pig_c3d  # noqa: F401 (JOINTS: the joints it writes)
from ..test_user_data import GAIT_SMALL, run_cli

ezc3d = pytest.importorskip("ezc3d")


def _walk(seed: int = 0, strides: int = 8) -> Trial:
    from myoflow.simulate.protocols.gait import simulate_gait

    return simulate_gait(1, seed, strides, fs_sim=2048.0, noise=False)[0][0]


def test_plug_in_gait_c3d_reads_as_a_gait_trial(tmp_path, capsys):
    t = _walk()
    path = write_pig_c3d(tmp_path / "walk.c3d", t, invalid_frame=300)
    code, err = _cli_error(["inspect", str(path)], capsys)  # a gap inside the trial: said, not bridged silently
    assert code == 2 and str(path) in err and "--bad-rows interpolate" in err and "knee_flexion_l" in err
    trial = read(path, bad_rows="interpolate")
    assert isinstance(trial, Trial) and {"emg", "angles", "moments"} <= set(trial.names)
    a, m = trial["angles"], trial["moments"]
    assert a.ch_names == ("hip_flexion_l", "knee_flexion_l", "ankle_dorsiflexion_l") and a.fs == 200.0
    src = t["angles"]
    for i, (_, ang, _) in enumerate(JOINTS):
        want = src.data[src.ch_names.index(ang)].astype(float)
        got = a.data[i].astype(float)
        if ang == "knee_flexion":  # the gap is bridged from its neighbours
            assert got[300] == pytest.approx(0.5 * (want[299] + want[301]), abs=1e-3)
        assert np.allclose(np.delete(got, 300), np.delete(want, 300), atol=1e-3)
    mass = t.meta["covariates"]["weight"]
    assert set(m.units) == {"N·m/kg"}
    for i, (_, _, mom) in enumerate(JOINTS):
        assert np.allclose(m.data[i] * mass, t["moments"].data[t["moments"].ch_names.index(mom)], rtol=1e-4, atol=1e-3)
    assert trial.meta["covariates"]["weight"] == pytest.approx(mass)
    assert trial.meta["covariates"]["height"] == pytest.approx(t.meta["covariates"]["height"], abs=1e-6)
    kinds = set(trial["emg"].events["kind"])
    assert kinds == {"Left Foot Strike"}
    assert trial["emg"].ch_names[:2] == ("L_TA", "L_GM")


def test_a_c3d_without_model_outputs_stays_a_recording(tmp_path):
    t = _walk(strides=3)
    p = write_pig_c3d(tmp_path / "w.c3d", t, prefix="")
    c = ezc3d.c3d(str(p))
    c["parameters"]["POINT"]["LABELS"]["value"] = tuple(f"M{i}" for i in range(7))  # markers only
    c.write(str(tmp_path / "markers.c3d"))
    assert not isinstance(read(tmp_path / "markers.c3d"), Trial)


def _cli_error(argv, capsys):
    from myoflow.cli import main

    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    return exc.value.code, err


def test_invalid_frames_at_the_ends_are_cut(tmp_path):
    t = _walk(strides=4)
    p = write_pig_c3d(tmp_path / "w.c3d", t, prefix="")
    c = ezc3d.c3d(str(p))
    res = np.zeros_like(c["data"]["meta_points"]["residuals"])
    res[0, :6, :7] = -1.0  # the model starts 7 frames late and ends 3 early
    res[0, :6, -3:] = -1.0
    c["data"]["meta_points"]["residuals"] = res
    c.write(str(tmp_path / "ends.c3d"))
    trial = read(tmp_path / "ends.c3d")
    a = trial["angles"]
    assert a.n_samples == t["angles"].n_samples - 10 and a.t0 == pytest.approx(7 / 200.0)
    assert trial["moments"].t0 == a.t0 and trial["emg"].t0 == 0.0


def test_unknown_moment_units_are_one_line_naming_the_file(tmp_path, capsys):
    p = write_pig_c3d(tmp_path / "w.c3d", _walk(strides=3), moment_units="kgf.cm")
    code, err = _cli_error(["inspect", str(p)], capsys)
    assert code == 2 and str(p) in err and "MOMENT_UNITS" in err


def test_plug_in_gait_folder_runs_gait_emg_on_the_left_leg(tmp_path, capsys):
    raw = tmp_path / "raw"
    raw.mkdir()
    truth = {}
    for s in range(3):
        t = _walk(seed=s, strides=8)
        write_pig_c3d(raw / f"P{s + 1:02d}_walk.c3d", t)
        truth[f"P{s + 1:02d}"] = t.meta["covariates"]["weight"]
    ds = tmp_path / "ds"
    out, _ = run_cli(["convert", raw, "--pattern", "{subject}_{trial}", "--out", ds], capsys)
    assert "3 subject(s)" in out
    emg_map = "{L_TA: TA, L_GM: GM, L_VL: VL, L_RF: RF, L_BF: BF, L_ST: ST, L_SOL: SOL}"
    _, err = run_cli(["run", "gait-emg", "--data", ds, "--out", tmp_path / "wrong", *GAIT_SMALL,
                      "--set", f"data.emg_map={emg_map}"], capsys, code=2)
    assert "data.side: l" in err  # the right leg is the default and these files hold the left one
    run = tmp_path / "run"
    run_cli(["run", "gait-emg", "--data", ds, "--out", run, *GAIT_SMALL, "--set", "data.side=l",
             "--set", f"data.emg_map={emg_map}"], capsys)
    m = json.loads((run / "metrics.json").read_text())
    d = m["summary"]["data"]
    assert d["muscles"] == ["TA", "GM", "VL", "RF", "BF", "ST", "SOL"]
    assert {k: round(v, 3) for k, v in d["body_mass_kg"].items()} == {k: round(v, 3) for k, v in truth.items()}
    assert all(tr["heel_strikes"].startswith("events") for tr in d["trials"].values())
    assert (run / "report.html").is_file()


def test_per_kg_moments_reach_the_cycles_in_n_m_per_kg(tmp_path):
    # Plug-in Gait's moments are per kg already: the pipeline must multiply them back by the body mass
    # before its own division (else every torque target is scaled by 1/mass, with exit 0)
    from myoflow.experiments import load_config
    from myoflow.pipelines.gait_emg.pipeline import _cycles_from_trials

    t = _walk(strides=6)
    trial = read(write_pig_c3d(tmp_path / "P01_walk.c3d", t))
    cfg = load_config({"name": "g", "pipeline": "gait-emg",
                       "data": {"source": "folder", "path": str(tmp_path), "side": "l",
                                "emg_map": {f"L_{m}": m for m in t["emg"].ch_names}}})
    cycles = _cycles_from_trials([("P01_walk", trial)], cfg, user=True)
    ankle = cycles.moments[:, list(cycles.moment_names).index("ankle_sagittal")]
    m = t["moments"]
    peak = np.abs(m.data[m.ch_names.index("ankle_sagittal")]).max() / t.meta["covariates"]["weight"]
    assert 0.8 < np.abs(ankle).max() / peak < 1.2


def test_kinematics_without_emg_is_a_trial_of_angles(tmp_path):
    t = _walk(strides=3)
    p = write_pig_c3d(tmp_path / "w.c3d", t, prefix="")
    c = ezc3d.c3d(str(p))
    c["parameters"]["ANALOG"]["LABELS"]["value"] = ()
    c["data"]["analogs"] = np.zeros((1, 0, c["data"]["points"].shape[-1] * 5))
    c.write(str(tmp_path / "kin.c3d"))
    trial = read(tmp_path / "kin.c3d")
    assert isinstance(trial, Trial) and set(trial.names) == {"angles", "moments"}
    assert trial.meta["covariates"]["weight"] == pytest.approx(t.meta["covariates"]["weight"])


def test_for_side_leaves_opensim_names_alone():
    # OpenSim's hip is 'hip_flexion_r' as a Plug-in Gait right hip is: only a side's three myoflow angles are renamed
    from myoflow.biomech.gait_cycles import for_side
    from myoflow.containers import Recording

    x = np.zeros((3, 10))
    osim = Trial({"angles": Recording(x, 100.0, ["hip_flexion_r", "knee_angle_r", "ankle_angle_r"])})
    assert for_side(osim, "r")["angles"].ch_names == ("hip_flexion_r", "knee_angle_r", "ankle_angle_r")
    pig = Trial({"angles": Recording(np.zeros((6, 10)), 100.0, [f"{j}_{s}" for s in "lr" for j in
                                                                ("hip_flexion", "knee_flexion", "ankle_dorsiflexion")])})
    assert for_side(pig, "r")["angles"].ch_names == ("hip_flexion", "knee_flexion", "ankle_dorsiflexion")


def test_labels_past_255_are_read_from_labels2(tmp_path):
    # a Nexus trial with many markers keeps its model outputs in POINT:LABELS2; 300 analog channels (an HD grid)
    # keep theirs in ANALOG:LABELS2: both were lost (model outputs not found, analogs named analog1..300)
    t = _walk(strides=3)
    src = ezc3d.c3d(str(write_pig_c3d(tmp_path / "w.c3d", t, prefix="")))
    labels = list(src["parameters"]["POINT"]["LABELS"]["value"])
    pts, emg = src["data"]["points"], src["data"]["analogs"]
    c = ezc3d.c3d()
    c["parameters"]["POINT"]["RATE"]["value"] = [200.0]
    c["parameters"]["POINT"]["LABELS"]["value"] = tuple([f"M{i}" for i in range(260)] + labels)
    c.add_parameter("POINT", "MOMENT_UNITS", "Nmm")
    c["parameters"]["ANALOG"]["RATE"]["value"] = [1000.0]
    c["parameters"]["ANALOG"]["LABELS"]["value"] = tuple(f"EMG{i}" for i in range(300))
    c["data"]["points"] = np.concatenate([np.ones((4, 260, pts.shape[-1])), pts], axis=1)
    c["data"]["analogs"] = np.repeat(emg[:, :1], 300, axis=1)
    c.write(str(tmp_path / "many.c3d"))
    assert "LABELS2" in ezc3d.c3d(str(tmp_path / "many.c3d"))["parameters"]["POINT"]
    trial = read(tmp_path / "many.c3d")
    assert isinstance(trial, Trial) and trial["angles"].ch_names[1] == "knee_flexion_l"
    assert trial["emg"].ch_names[-1] == "EMG299"
