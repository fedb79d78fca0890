"""Issue 15: your own recordings through every pipeline from the command line.

Raw files are written here from simulator output (EDF, CSV with a header, OpenSim),
converted with ``myoflow convert`` and run with ``myoflow run PIPELINE --data`` (no YAML);
each stumble listed in the issue has a test. Sizes are tiny: these are smoke tests of
the route, not results.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from myoflow.cli import main
from myoflow.containers import Recording


def run_cli(args, capsys, code=0):
    """Run ``myoflow ARGS`` in-process; return (stdout, stderr); assert the exit code."""
    try:
        main([str(a) for a in args])
        rc = 0
    except SystemExit as exc:
        rc = exc.code
    out, err = capsys.readouterr()
    assert rc == code, f"exit {rc} != {code}\nstdout:\n{out}\nstderr:\n{err}"
    return out, err


def headline(run_dir: Path) -> list[dict]:
    return json.loads((run_dir / "metrics.json").read_text())["headline"]


# ------------------------------------------------------------------ stumbles 1-4: reading text files
def _text_file(path: Path, rows: int = 40, bad: tuple[int, ...] = ()) -> Path:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, 4)) * 0.1
    lines = ["Subject: 7", "Channel 1: 'RF' gain 1000 engineering units: mV",
             "Channel 2: 'BF' engineering units: mV", "Channel 3: 'VM' engineering units: mV",
             "Channel 4: 'ST' engineering units: mV"]
    for i, r in enumerate(x):
        cells = [f"{v:.5f}" for v in r]
        if i in bad:
            cells[1] = "" if i % 2 else "n/a"
        lines.append("\t".join(cells))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_missing_rate_error_is_written_in_cli_syntax(tmp_path, capsys):
    f = _text_file(tmp_path / "S1.txt")
    _, err = run_cli(["inspect", f], capsys, code=2)
    assert "--fs 2000" in err and "fs=" in err and "Traceback" not in err
    out, _ = run_cli(["inspect", f, "--fs", "1000"], capsys)
    assert "1000 Hz" in out


def test_header_channel_names_and_units(tmp_path):
    from myoflow.io import read

    rec = read(_text_file(tmp_path / "S1.txt"), fs=1000)
    assert rec.ch_names == ("RF", "BF", "VM", "ST")
    assert set(rec.units) == {"V"}  # stated as mV, stored in volts
    raw = np.loadtxt(tmp_path / "S1.txt", skiprows=5)
    np.testing.assert_allclose(rec.data[0], raw[:, 0] * 1e-3, rtol=1e-5)


def test_list_hints_and_delimiter_names(tmp_path, capsys):
    f = _text_file(tmp_path / "S1.txt")
    out, _ = run_cli(["inspect", f, "--fs", "1000", "--hint", "ch_names=A,B,C,D", "--hint", "delimiter=tab"], capsys)
    assert "[A, B, C, D]" in out


@pytest.mark.parametrize("policy,n_samples", [("drop", 37), ("interpolate", 40)])
def test_bad_rows_repaired_and_counted(tmp_path, capsys, policy, n_samples):
    raw = tmp_path / "raw"
    raw.mkdir()
    _text_file(raw / "S1_RF.txt", bad=(5, 6, 20))
    _text_file(raw / "S2_RF.txt")
    out, _ = run_cli(["convert", raw, "--pattern", "{subject}_{muscle}", "--fs", "1000", "--bad-rows", policy,
                      "--out", tmp_path / "ds"], capsys)
    summary = pd.read_csv(tmp_path / "ds" / "convert_summary.csv", dtype={"subject": str})
    assert dict(zip(summary["subject"], summary["rows_changed"])) == {"S1": 3, "S2": 0}
    assert f"{'dropped' if policy == 'drop' else 'interpolated'} 3 row(s) in 1 file(s)" in out
    from myoflow.io import read

    rec = read(tmp_path / "ds").load("S1_RF")
    assert rec.n_samples == n_samples and np.isfinite(rec.data).all()


def test_bad_rows_default_is_a_one_line_error(tmp_path, capsys):
    raw = tmp_path / "raw"
    raw.mkdir()
    _text_file(raw / "S1_RF.txt", bad=(5,))
    _, err = run_cli(["convert", raw, "--pattern", "{subject}_{muscle}", "--fs", "1000", "--out", tmp_path / "ds"],
                     capsys, code=2)
    assert "S1_RF.txt" in err and "--bad-rows" in err and len(err.strip().splitlines()) == 1


def test_manifest_cannot_reach_outside_its_folder(tmp_path, capsys):
    (tmp_path / "m").mkdir()
    _text_file(tmp_path / "x.txt")
    (tmp_path / "m" / "manifest.csv").write_text("file,subject\n../x.txt,1\n")
    _, err = run_cli(["convert", "--manifest", tmp_path / "m" / "manifest.csv", "--out", tmp_path / "ds"],
                     capsys, code=2)
    assert "inside the manifest's folder" in err
    assert not (tmp_path / "ds").exists()


def test_set_is_validated_like_yaml(tmp_path, capsys):
    from myoflow.experiments.quickrun import parse_sets

    assert parse_sets(["train.epochs=3", "data.muscles=[RF, BF]"]) == {"train": {"epochs": 3},
                                                                       "data": {"muscles": ["RF", "BF"]}}
    _, err = run_cli(["reproduce", "gait-emg", "--out", tmp_path / "r", "--set", "train.epoch=3"], capsys, code=2)
    assert "unknown config key 'train.epoch'" in err
    _, err = run_cli(["reproduce", "gait-emg", "--out", tmp_path / "r", "--set", "train.epochs=many"], capsys, code=2)
    assert "train.epochs: expected an integer" in err


def test_muscle_id_takes_the_same_data_section_as_every_pipeline(tmp_path):
    from myoflow.experiments import load_config

    cfg = load_config({"name": "x", "pipeline": "muscle-id",
                       "data": {"source": "folder", "path": str(tmp_path / "My Knees")}})
    assert list(cfg.data) == ["My-Knees"] and cfg.data["My-Knees"].source == "folder"


# ------------------------------------------------------------------ muscle-id: EDF + CSV → convert → run
def _burst_recording(muscle: str, side: str, subject: str, rng: np.random.Generator, fs: float = 1000.0,
                     seconds: float = 14.0) -> Recording:
    """Two channels of rest + 1.5 s contractions every 3.5 s; the spectrum depends on the muscle, the level on the side."""
    from scipy.signal import butter, sosfiltfilt

    n = int(seconds * fs)
    band = {"BB": (30, 120), "TA": (80, 300)}[muscle]
    gain = 1.0 if side == "L" else 0.6
    x = rng.normal(size=(2, n))
    burst = sosfiltfilt(butter(4, band, "bandpass", fs=fs, output="sos"), rng.normal(size=(2, n)), axis=1)
    on = np.zeros(n)
    for t0 in np.arange(1.0, seconds - 2.0, 3.5):
        on[int(t0 * fs):int((t0 + 1.5) * fs)] = 1.0
    data = 2e-6 * x + 2e-4 * gain * burst * on
    return Recording(data, fs, ["ch1", "ch2"], meta={"subject": subject, "muscle": muscle, "side": side})


@pytest.fixture(scope="module")
def grid_raw(tmp_path_factory):
    from myoflow.io.edf import write_edf

    root = tmp_path_factory.mktemp("grid")
    raw = root / "raw"
    raw.mkdir()
    rng = np.random.default_rng(3)
    for subject in ("01", "02", "03"):
        for muscle in ("BB", "TA"):
            for side in ("L", "R"):
                r = _burst_recording(muscle, side, subject, rng)
                stem = raw / f"S{subject}_{muscle}_{side}"
                if muscle == "BB":
                    write_edf(r, stem.with_suffix(".edf"))
                else:  # a CSV export with a header of channel names and units
                    with open(stem.with_suffix(".csv"), "w") as fh:
                        fh.write("Sampling rate: 1000 Hz\n")
                        fh.write(",".join(f"{c} [mV]" for c in r.ch_names) + "\n")
                        np.savetxt(fh, r.data.T * 1e3, delimiter=",", fmt="%.6f")
    return root


def test_muscle_id_from_raw_files(grid_raw, tmp_path, capsys):
    ds, run = tmp_path / "Arm-Leg", tmp_path / "run"
    out, _ = run_cli(["convert", grid_raw / "raw", "--pattern", "S{subject}_{muscle}_{side}", "--out", ds], capsys)
    assert "wrote 12 item(s), 3 subject(s)" in out
    run_cli(["run", "muscle-id", "--data", ds, "--out", run, "--workers", "1",
             "--set", "evaluate.models=[lda, rf]", "--set", "evaluate.schemes=[loso]",
             "--set", "evaluate.final_model=false", "--set", "evaluate.n_boot=20",
             "--set", "data.Arm-Leg.tasks={arm_vs_leg: {arm: [BB], leg: [TA]}}"], capsys)
    rows = headline(run)
    labels = [r["label"] for r in rows]
    assert labels and all(lab.startswith("Arm-Leg ") for lab in labels)
    assert all(r["paper"] is None for r in rows)  # never beside the paper's figures
    assert any("arm_vs_leg" in lab or "arm vs leg" in lab for lab in labels)
    assert any("burst vote" in lab for lab in labels)  # segmentation: bursts → a vote per burst
    # every model run in the same folds is in the headline, not only the first one found
    assert any(lab.endswith("%, lda") for lab in labels) and any(lab.endswith("%, rf") for lab in labels)
    assert (run / "report.html").is_file()


def test_muscle_id_task_that_cannot_be_formed(grid_raw, tmp_path, capsys):
    ds = tmp_path / "ds"
    run_cli(["convert", grid_raw / "raw", "--pattern", "S{subject}_{muscle}_{side}", "--out", ds], capsys)
    _, err = run_cli(["run", "muscle-id", "--data", ds, "--out", tmp_path / "run",
                      "--set", "data.ds.tasks={thigh_vs_shank: {thigh: [RF, BF], shank: [TA]}}"], capsys, code=2)
    assert "thigh_vs_shank" in err and "['BF', 'RF']" in err and "do not have" in err


def test_no_burst_warning_names_subject_and_muscle(caplog):
    from myoflow.pipelines.muscle_id.config import PreprocessConfig
    from myoflow.preprocess.windows import burst_windows

    rec = Recording(np.zeros((1, 4000)) + 1e-9 * np.sin(np.arange(4000)), 1000.0, ["ch1"],
                    meta={"subject": "S9", "muscle": "VL", "side": "L", "source": "shared.txt"})
    with caplog.at_level("WARNING"):
        burst_windows(rec, PreprocessConfig(), recording_id="x")
    assert "subject S9, L-VL" in caplog.text


# ------------------------------------------------------------------ gait: one subject, OpenSim files
def _write_c3d_analogs(rec: Recording, path: Path, ratio: int = 10) -> None:
    """EMG as the analog channels of a C3D file (no markers), as motion-capture systems export it."""
    import ezc3d

    n = rec.n_samples // ratio * ratio
    c = ezc3d.c3d()
    c["parameters"]["POINT"]["RATE"]["value"] = [rec.fs / ratio]
    c["parameters"]["POINT"]["LABELS"]["value"] = ()
    c["parameters"]["ANALOG"]["RATE"]["value"] = [rec.fs]
    c["parameters"]["ANALOG"]["LABELS"]["value"] = tuple(rec.ch_names)
    c["parameters"]["ANALOG"]["UNITS"]["value"] = tuple("V" for _ in rec.ch_names)
    c["data"]["points"] = np.zeros((4, 0, n // ratio))
    c["data"]["analogs"] = rec.data[:, :n].astype(np.float64)[None]
    c.write(str(path))


def _gait_raw(root: Path, grf: bool, emg_c3d: bool = False) -> Path:
    from myoflow.io.opensim_write import write_opensim
    from myoflow.simulate.protocols.gait import simulate_gait

    trials, _ = simulate_gait(1, 0, 12, fs_sim=2048.0)
    t = trials[0]
    raw = root / "raw"
    raw.mkdir()
    a = t["angles"]
    ang = np.stack([a.data[0], -a.data[1], a.data[2], a.data[3]])  # OpenSim: knee extension +
    ang[1, :40] = 81.0  # an inverse-kinematics failure at the start: 81 deg knee hyperextension
    write_opensim(Recording(ang, a.fs, ["hip_flexion_r", "knee_angle_r", "ankle_angle_r", "pelvis_tilt"],
                            units="deg", t0=a.t0), raw / "S01_walk_ik.mot")
    m = t["moments"]
    ix = {c: i for i, c in enumerate(m.ch_names)}
    mom = np.stack([-m.data[ix["hip_sagittal"]], m.data[ix["knee_sagittal"]], -m.data[ix["ankle_sagittal"]]])
    write_opensim(Recording(mom, m.fs, ["hip_flexion_r_moment", "knee_angle_r_moment", "ankle_angle_r_moment"],
                            units="N·m", t0=m.t0), raw / "S01_walk_id.sto")
    if grf:  # the analysed (right) foot's forces on the LEFT plate's columns
        g = t["grf"]
        ig = {c: i for i, c in enumerate(g.ch_names)}
        f = np.stack([g.data[ig["grf_ap"]], g.data[ig["grf_vertical"]], g.data[ig["cop_ap"]]])
        write_opensim(Recording(f, g.fs, ["l_ground_force_vx", "l_ground_force_vy", "l_ground_force_px"],
                                units="N", t0=g.t0), raw / "S01_walk_grf.mot")
    emg = t["emg"].pick(["TA", "VL", "BF", "SOL"])  # 4 of the 7 muscles
    if emg_c3d:
        _write_c3d_analogs(emg, raw / "S01_walk_emg.c3d")
    else:
        write_opensim(emg, raw / "S01_walk_emg.sto")
    cov = t.meta["covariates"]
    pd.DataFrame({"subject": ["S01"], "weight": [cov["weight"]], "height": [cov["height"]]}).to_csv(
        root / "participants.csv", index=False)
    hs = a.t0 + a.events_of("heel_strike") / a.fs
    pd.DataFrame({"subject": "S01", "trial": "walk", "stream": "angles", "kind": "heel_strike", "time_s": hs}
                 ).to_csv(root / "events.csv", index=False)
    (root / "manifest.csv").write_text(
        "file,subject,trial,stream\n" + "".join(
            f"raw/S01_walk_{k}.{'mot' if k in ('ik', 'grf') else 'c3d' if k == 'emg' and emg_c3d else 'sto'},"
            f"S01,walk,{s}\n"
            for k, s in (("ik", "angles"), ("id", "moments"), ("grf", "grf"), ("emg", "emg"))
            if grf or k != "grf"))
    return root


GAIT_SMALL = ["--workers", "1", "--set", "train.epochs=2", "--set", "model.params.torque_epochs=2",
              "--set", "evaluate.n_boot=20", "--set", "model.params.torque_hidden=[16, 12]",
              "--set", "model.params.added_hidden=8", "--set", "baseline.params.hidden=[16, 12]",
              "--set", "data.cycle_folds=2"]


def test_gait_one_subject_left_plate_four_muscles(tmp_path, capsys, caplog):
    root = _gait_raw(tmp_path, grf=True)
    run_cli(["convert", "--manifest", root / "manifest.csv", "--participants", root / "participants.csv",
             "--out", tmp_path / "ds"], capsys)
    run = tmp_path / "run"
    run_cli(["run", "gait-emg", "--data", tmp_path / "ds", "--out", run, *GAIT_SMALL], capsys)
    assert "1 subject(s), fewer than the 3 a subject-wise split needs" in caplog.text  # said, not silent
    m = json.loads((run / "metrics.json").read_text())
    d = m["summary"]["data"]
    trial = d["trials"]["S01_walk"]
    assert d["muscles"] == ["TA", "VL", "BF", "SOL"]
    assert trial["force_plates"] == "kinematics" and trial["heel_strikes"] == "grf"
    assert trial["cycles"]["outside_valid_range"] >= 1  # the hyperextended start is cropped
    assert d["body_mass_source"] == {"S01": "participants"}
    assert set(m["summary"]["conditions"]) == {"within-subject/cycles"}
    labels = [h["label"] for h in m["headline"]]
    assert any(lab.startswith("ds TA R²") for lab in labels) and not any(" GM " in lab for lab in labels)
    assert all(h["paper"] is None for h in m["headline"])
    assert any("cycles rejected" in lab for lab in labels)
    assert (run / "report.html").is_file()


def test_gait_heel_strikes_from_events_and_no_validation(tmp_path, capsys):
    pytest.importorskip("ezc3d")
    root = _gait_raw(tmp_path, grf=False, emg_c3d=True)  # EMG from a C3D file, no force plates
    run_cli(["convert", "--manifest", root / "manifest.csv", "--participants", root / "participants.csv",
             "--events", root / "events.csv", "--out", tmp_path / "ds"], capsys)
    run = tmp_path / "run"
    run_cli(["run", "gait-emg", "--data", tmp_path / "ds", "--out", run, *GAIT_SMALL,
             "--set", "data.heel_strikes=events", "--set", "train.val_fraction=0"], capsys)
    m = json.loads((run / "metrics.json").read_text())
    assert m["summary"]["data"]["trials"]["S01_walk"]["heel_strikes"].startswith("events")
    assert m["summary"]["data"]["muscles"] == ["TA", "VL", "BF", "SOL"]
    extras = [json.loads(p.read_text()) for p in (run / "folds").glob("*/extras.json")]
    assert extras and all(e["n_val_cycles"] == 0 for e in extras)  # val_fraction 0 honoured
    assert (run / "report.html").is_file()


def test_gait_cycle_folds_keep_a_gap():
    from myoflow.experiments import load_config
    from myoflow.biomech.gait_cycles import GaitCycles
    from myoflow.pipelines.gait_emg.pipeline import _within_subject_folds

    n = 12
    c = GaitCycles(np.zeros((n, 3, 5)), np.zeros((n, 3, 5)), np.zeros((n, 4, 5)), np.ones(n),
                   pd.DataFrame({"subject": "S", "trial": "t", "cycle": np.arange(n)}), ("a", "b", "c"))
    cfg = load_config({"name": "g", "pipeline": "gait-emg",
                       "data": {"source": "folder", "path": "x", "cycle_folds": 3, "cycle_gap": 1}})
    folds = _within_subject_folds(cfg, c, "cycles")
    assert len(folds) == 3
    for f in folds:
        tr, te = set(f.payload["train"]), set(f.payload["test"])
        assert not tr & te
        assert min(te) - 1 not in tr and max(te) + 1 not in tr  # one cycle of gap each side
    assert all(f.condition == "within-subject/cycles" for f in folds)



def test_gait_within_subject_folds_normalise_by_training_cycles():
    """Held-out cycles are scaled by the fold's training cycles, never by themselves."""
    from myoflow.experiments import load_config
    from myoflow.biomech.gait_cycles import GaitCycles
    from myoflow.pipelines.gait_emg.pipeline import GaitData, GaitEmgPipeline, _within_subject_folds

    n = 12
    emg = np.ones((n, 7, 5))
    emg[:, :, 2] = np.arange(1, n + 1)[:, None]  # each cycle's peak = its number: blocks differ in scale
    c = GaitCycles(np.zeros((n, 3, 5)), np.zeros((n, 3, 5)), emg, np.ones(n),
                   pd.DataFrame({"subject": "S", "trial": "t", "cycle": np.arange(n)}), ("a", "b", "c"))
    cfg = load_config({"name": "g", "pipeline": "gait-emg", "train": {"val_fraction": 0.0},
                       "data": {"source": "folder", "path": "x", "cycle_folds": 3, "cycle_gap": 1}})
    data = GaitData(sim=c, real={})
    for f in _within_subject_folds(cfg, c, "cycles"):
        fit, _, test, _ = GaitEmgPipeline()._split(cfg, data, f, 0)
        tr = np.asarray(f.payload["train"])
        np.testing.assert_allclose(fit.emg.mean(0).max(-1), 1.0)  # the training cycles define the scale
        np.testing.assert_allclose(test.emg, emg[f.payload["test"]] / emg[tr].mean(0).max(-1)[None, :, None])

def test_gait_cycle_rules():
    from myoflow.biomech.gait_trials import CycleRules, plausible_cycles

    hs = np.array([0.0, 1.1, 2.2, 2.87, 4.0, 5.1, 7.8, 8.9])  # 0.67 s spurious cycle, a 2.7 s gap
    keep, counts = plausible_cycles(hs, CycleRules(), valid=(0.5, 9.0))
    assert keep.tolist() == [1, 3, 4, 6]
    assert counts["outside_valid_range"] == 1 and counts["duration_out_of_bounds"] == 1 and counts["off_median"] == 1


# stimulated-mass (EDF + manifest + participants) and muap-generator (a template folder) run end to end
# in tests/test_tutorials.py from docs/tutorials.


# ------------------------------------------------------------------ more stumbles (issue 15, items 6-7)
def test_binary_requested_without_side_warns(tmp_path, caplog, grid_raw):
    from myoflow.experiments import load_config
    from myoflow.experiments.registry import get_pipeline
    from myoflow.io import read
    from myoflow.io.dataset import write_dataset

    items = []
    for f in sorted((grid_raw / "raw").glob("*_L.edf")) + sorted((grid_raw / "raw").glob("*_L.csv")):
        subject, muscle, _ = f.stem[1:].split("_")
        rec = read(f) if f.suffix == ".edf" else read(f)
        items.append((f"{subject}_{muscle}", rec.replace(meta={**rec.meta, "subject": subject, "muscle": muscle})))
    write_dataset(tmp_path / "noside", items, None, {"protocol": "test"})
    cfg = load_config({"name": "x", "pipeline": "muscle-id",
                       "data": {"source": "folder", "path": str(tmp_path / "noside")}})
    with caplog.at_level("WARNING"):
        data = get_pipeline("muscle-id").prepare(cfg, None)
    assert list(data["noside"].tasks) == ["4class"]
    assert "no binary task can be formed" in caplog.text and "data.noside.tasks" in caplog.text
    example = caplog.text.split("e.g.")[1]  # the example groups the cohort's own classes, not the paper's
    assert all(c in example for c in set(map(str, data["noside"].labels["4class"]))) and "RF" not in example


def test_heel_strike_error_says_what_was_tried_and_how_to_supply_events():
    from myoflow.containers import Trial
    from myoflow.errors import DataError
    from myoflow.biomech.gait_trials import heel_strike_times

    flat = Recording(np.zeros((3, 600)), 100.0, ["hip_flexion", "knee_flexion", "ankle_dorsiflexion"], units="deg")
    trial = Trial(streams={"angles": flat}, meta={"subject": "S1"})
    with pytest.raises(DataError) as exc:
        heel_strike_times(trial, "r")
    msg = str(exc.value)
    assert "grf" in msg and "kinematics" in msg and "heel_strike" in msg and "--events" in msg


def test_implausible_grf_body_mass_warns(caplog):
    from myoflow.containers import Trial
    from myoflow.biomech.gait_cycles import _body_mass

    n, fs = 1000, 100.0
    grf = Recording(np.vstack([np.zeros(n), np.full(n, 26.5), np.zeros(n), np.full(n, 26.5)]), fs,
                    ["grf_ap", "grf_vertical", "cop_ap", "grf_vertical_total"])
    trial = Trial(streams={"grf": grf}, meta={"subject": "S1"})
    with caplog.at_level("WARNING"):
        mass, source = _body_mass(trial, "r", hs=np.array([1.0, 9.0]))
    assert mass < 30 and source == "estimated from the GRF"
    assert "outside 30-200 kg" in caplog.text
    trial = Trial(streams={"grf": grf}, meta={"subject": "S1", "covariates": {"weight": 70.6}})
    assert _body_mass(trial, "r") == (70.6, "covariates")  # meta/participants first


def test_valid_range_crops_unphysiological_ends():
    from myoflow.biomech.gait_trials import valid_range

    x = np.zeros((3, 1000))
    x[1, :50] = -81.0          # knee hyperextension at the start
    x[0, 900:] = -373.0        # hip angle wrapped at the end
    lo, hi = valid_range(Recording(x, 100.0, ["hip_flexion", "knee_flexion", "ankle_dorsiflexion"], units="deg"))
    assert lo == pytest.approx(0.5) and hi == pytest.approx(8.99)


def test_opensim_writer_round_trip(tmp_path):
    from myoflow.io import read
    from myoflow.io.opensim_write import write_opensim

    rec = Recording(np.vstack([np.linspace(0, 30, 50), np.linspace(-5, 5, 50)]), 100.0,
                    ["hip_flexion_r", "knee_angle_r"], units="deg", t0=0.25)
    back = read(write_opensim(rec, tmp_path / "ik.mot"))
    assert back.ch_names == rec.ch_names and back.fs == 100.0 and back.t0 == pytest.approx(0.25)
    assert back.units == ("deg", "deg")
    np.testing.assert_allclose(back.data, rec.data, rtol=1e-6, atol=1e-6)


def test_muap_templates_from_any_decomposed_recording(tmp_path, capsys, shared_data):
    """Real MUAP templates from a converted folder: a grid file + a firings table (here the OTB export re-saved)."""
    from myoflow.io import native
    from myoflow.io.datasets.openhdemg import load_openhdemg_otb
    from myoflow.preprocess.muap_templates import real_muap_templates

    otb = shared_data / "openhdemg-otb"
    trial = load_openhdemg_otb(otb)
    trial = next(iter(trial.values())) if isinstance(trial, dict) else trial
    emg = trial["emg"]
    fir = emg.events[emg.events["kind"] == "mu_firing"]
    raw = tmp_path / "raw"
    raw.mkdir()
    native.save(emg.replace(events=emg.events.iloc[:0]), raw / "P1_grid.h5")  # no firings inside the file
    pd.DataFrame({"subject": "P1", "kind": "mu_firing", "time_s": emg.t0 + fir["sample"].to_numpy() / emg.fs,
                  "unit": fir["unit"].to_numpy()}).to_csv(tmp_path / "firings.csv", index=False)
    run_cli(["convert", raw, "--pattern", "{subject}_{trial}", "--events", tmp_path / "firings.csv",
             "--out", tmp_path / "decomposed"], capsys)
    ours, ref = real_muap_templates(tmp_path / "decomposed"), real_muap_templates(otb)
    assert ours.n_firings == ref.n_firings and len(ref.n_firings) >= 1
    np.testing.assert_allclose(ours.muaps, ref.muaps, rtol=1e-4, atol=1e-9)


def test_split_channels_gives_one_recording_per_muscle(tmp_path, capsys):
    raw = tmp_path / "raw"
    raw.mkdir()
    for s in ("01", "02"):
        _text_file(raw / f"{s}Nmar.txt")
    run_cli(["convert", raw, "--pattern", "{subject}N{task}", "--fs", "1000", "--hint", "delimiter=tab",
             "--split-channels", "--channel-map", "ST=SEMITEND", "--out", tmp_path / "ds"], capsys)
    from myoflow.io import read

    ds = read(tmp_path / "ds")
    assert sorted(ds.stems) == sorted(f"{s}_{m}" for s in ("01", "02") for m in ("RF", "BF", "VM", "SEMITEND"))
    rec = ds.load("01_VM")
    assert rec.ch_names == ("VM",) and rec.meta["muscle"] == "VM" and rec.meta["task"] == "mar"


def test_muscle_id_headline_of_a_folder_names_its_classes_for_every_model():
    """A user's 3-muscle folder: the deep models' rows say '3-class' like the baselines' (they said the internal
    task id '4class'), with their per-recording vote and the paired difference to each baseline. (Its main task
    is named '3class' since the {K}class naming; a summary written before says '4class', same rows.)"""
    from myoflow.pipelines.muscle_id.pipeline import MuscleIdPipeline

    v = {"point": 0.9, "ci_low": 0.8, "ci_high": 0.95}
    res = {"lab/loso/3class": {m: {"accuracy": v, "burst_vote_accuracy": v} for m in ("hybrid", "lda", "rf")}}
    summary = {"results": res, "tasks": {"lab": {"3class": "3-class"}},
               "cohorts": {"lab": {"segmentation": "whole"}},
               "comparisons": {"lab/loso/3class": {"hybrid-lda": {"model": "hybrid", "baseline": "lda", "diff": 0.01,
                                                                  "ci_low": -0.01, "ci_high": 0.03, "n_subjects": 4}}}}
    labels = [h.label for h in MuscleIdPipeline().headline(summary)]
    assert "lab loso 3-class %, hybrid" in labels and "lab loso 3-class %, lda" in labels
    assert "lab loso 3-class %, hybrid, per-recording vote" in labels
    assert "lab loso 3-class, hybrid − lda (points)" in labels
    assert not any("4class" in lab or "3class" in lab for lab in labels), labels
    old = json.loads(json.dumps(summary).replace("3class", "4class"))
    assert [h.label for h in MuscleIdPipeline().headline(old)] == labels


def test_muscle_id_on_a_folder_runs_the_hybrid_beside_the_paper_models(tmp_path):
    from myoflow.experiments.quickrun import data_config
    from myoflow.io import write_dataset
    from myoflow.simulate.protocols.grid import simulate_grid

    recs = simulate_grid(1, seed=7, duration_s=8.0)[0]  # the folder is only read for its defaults
    ds = write_dataset(tmp_path / "lab", [(f"{r.meta['subject']}_{r.meta['muscle']}_{r.meta['side']}", r)
                                          for r in recs], None, {}).path
    models = data_config("muscle-id", ds)["evaluate"]["models"]
    assert models[:4] == ["cnn_lstm_pretrained", "cnn_lstm_random", "lda", "rf"] and models[4:] == ["hybrid"]


def test_numeric_class_names_in_tasks_say_to_quote_them(tmp_path):
    # a gesture set's classes 1..6: YAML reads `[1, 2]` as numbers; the error says how to keep them names
    from myoflow.errors import ConfigError
    from myoflow.experiments import load_config

    with pytest.raises(ConfigError, match=r"tasks\.g\.a\[0\]: expected a string, got 1 \(YAML read it as a "
                                          r"number: quote it, '1'\)"):
        load_config({"name": "x", "pipeline": "muscle-id",
                     "data": {"lab": {"source": "folder", "path": str(tmp_path), "tasks": {"g": {"a": [1], "b": [2]}}}}})
