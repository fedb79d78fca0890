"""A twelfth sweep of new labs: an OpenSim lab's walking trials (IK ``.mot``, ID ``.sto``, GRF ``.mot`` and an
EMG table at the amplifier's rate) and MUAP template folders, through convert, run, predict, report and export.

Each test is the smallest input that showed the problem; each fails without its fix.

Tried and already fine (no test added here): a session converted with ``--pattern '{subject}_{trial}_{stream}'
--streams ik=angles,id=moments,grf=grf,emg=emg`` (IK ``inDegrees=yes`` with pelvis, lumbar, ``subtalar_angle_r``,
``mtp_angle_r`` and the other leg's columns; ID ``.sto`` with ``_moment`` and ``pelvis_tx_force`` columns; GRF
``ground_force_*`` or ``ground_force_r_*``, moments then by inverse dynamics); kinematics at 60/100/120/200 Hz
beside EMG at 1000/1111/1500 Hz; time columns starting at 0, 3.2 or 12.34 s (aligned by time); a repeated time
stamp in a ``.mot`` (refused naming the row); trailing tabs and space-separated ``.mot`` files; rectified (not
low-passed) EMG and EMG on a DC offset (filtered as raw, the patterns kept); treadmill trials without GRF or events
(heel strikes from the kinematics, 60 Hz too) and a standing trial (one line naming the ways out);
``data.muscles=[VM,GL,RF]`` with a lab's own names; 2 subjects (within-subject folds, warned) and 3 subjects at
three rates (subject-wise, small-cohort note); two trials of one subject (leave one trial out); ``predict`` at a
rate the run never saw (120 Hz), of a trial lacking the run's muscles named in ``data.muscles`` (warned, EMG not
used); ``report`` and ``export`` of a gait run; a participants height in cm for inverse dynamics (read as cm).
muap-generator folders (``report``, ``export`` of their runs too): an 8x8 grid without ``positions_mm``
(assumed 5 mm, warned), 4096 Hz templates, 100-sample windows, 5 templates (runs, scores on 1 unit each), NaN
written into a template file (one line naming the file).
"""
from __future__ import annotations

import logging
import re
import warnings

import numpy as np
import pytest

from myoflow.containers import Trial

from ._builders import cli as _cli, one_error_line as _one_error_line
from .test_own_lab2 import templates  # noqa: F401 (the simulated MUAP template folder)


@pytest.fixture(scope="module")
def walk():
    from myoflow.simulate.protocols.gait import simulate_gait

    return simulate_gait(1, 0, 8, fs_sim=2048.0, noise=False)[0][0]


def _cycles(walk, emg, **kw):
    from myoflow.biomech.gait_cycles import trial_to_cycles

    t = Trial(streams={"angles": walk["angles"], "moments": walk["moments"], "grf": walk["grf"], "emg": emg},
              meta={"subject": "S01", "source": "raw/S01_walk_emg.csv"})
    return trial_to_cycles(t, body_mass=70.0, **kw)


# ------------------------------------------------------------------ gait-emg: EMG exported already enveloped
def test_emg_enveloped_at_the_amplifiers_rate_is_used_as_an_envelope_and_said_so(walk, caplog):
    from myoflow.preprocess import bandpass, envelope

    raw = walk["emg"]  # 1000 Hz
    ref = _cycles(walk, raw).emg.mean(axis=0)  # (muscles, points): the ensemble averages of the raw sEMG
    env = envelope(bandpass(raw, 20.0, 450.0), cutoff=6.0)  # what a lab's software exports as "processed EMG"
    with caplog.at_level(logging.WARNING):
        got = _cycles(walk, env).emg.mean(axis=0)
    r = [np.corrcoef(ref[j], got[j])[0, 1] for j in range(ref.shape[0])]
    # was: band-passed 20-450 Hz and enveloped again, silently: r 0.0-0.5 with the muscles' patterns, scale ~0
    assert min(r) > 0.99, r
    assert np.allclose(got.max(axis=1), ref.max(axis=1), rtol=0.05)
    msg = " ".join(rec.getMessage() for rec in caplog.records)
    assert "S01_walk_emg.csv" in msg and "look like envelopes already" in msg and "raw sEMG" in msg
    caplog.clear()
    with caplog.at_level(logging.WARNING):  # raw sEMG, rectified sEMG and raw sEMG on a DC offset are left alone
        for x in (raw, raw.with_data(np.abs(bandpass(raw, 20.0, 450.0).data)), raw.with_data(raw.data + 0.5)):
            c = _cycles(walk, x).emg.mean(axis=0)
            assert min(np.corrcoef(ref[j], c[j])[0, 1] for j in range(ref.shape[0])) > 0.99
    assert "envelope" not in " ".join(rec.getMessage() for rec in caplog.records)


# ------------------------------------------------------------------ muap-generator: a handful of templates
@pytest.mark.parametrize("n, expected", [(2, "leave fewer than 2 for training"),
                                         (3, "leave none in the interpolation region")])
def test_a_handful_of_muap_templates_names_the_folder_not_a_simulation_setting(n, expected, templates, tmp_path,
                                                                               capsys):
    from myoflow.io import write_dataset

    _, stem, ep, info = templates
    item = ep.replace(X=np.asarray(ep.X)[:n], y=None if ep.y is None else np.asarray(ep.y)[:n],
                      metadata=ep.metadata.iloc[:n].reset_index(drop=True))
    ds = write_dataset(tmp_path / "few", [(stem, item)], None, info).path
    code, _, err = _cli(["run", "muap-generator", "--data", ds, "--out", tmp_path / "run", "--set", "train.epochs=1",
                         "--set", "data.real_templates=false", "--set", "evaluate.export_onnx=false"], capsys)
    line = _one_error_line(code, err)
    # was: "error: only 1 training MUAPs left after the split; increase data.n_train_pool ..." (a setting of
    # simulated sets) and "error: the split left no interpolation units ...", neither naming the folder
    assert line.startswith(f"error: {ds}: ") and f"{n} MUAP template(s) {expected}" in line
    assert "more templates" in line and "n_train_pool" not in line


@pytest.fixture(scope="module")
def walk12():
    from myoflow.simulate.protocols.gait import simulate_gait

    return simulate_gait(1, 0, 12, fs_sim=2048.0, noise=False)[0][0]  # 10+ cycles: within-subject folds


def _one_trial_folder(root, trial):
    import pandas as pd

    from myoflow.io import write_dataset

    return write_dataset(root, [("S01_walk", trial)], pd.DataFrame({"subject": ["S01"], "weight": [60.0],
                                                                    "height": [1.7]}), {"protocol": "converted"})


# ------------------------------------------------------------------ gait-emg: a locked coordinate's moment column
def test_a_moment_that_is_zero_throughout_is_left_out_of_the_torque_targets(walk12, tmp_path, capsys, caplog):
    import json

    walk = walk12
    m = walk["moments"]
    data = np.asarray(m.data).copy()
    data[list(m.ch_names).index("ankle_frontal")] = 0.0  # OpenSim's subtalar_angle_r_moment of a locked subtalar
    t = Trial(streams={"angles": walk["angles"], "moments": m.with_data(data), "grf": walk["grf"],
                       "emg": walk["emg"]}, meta={"subject": "S01", "trial": "walk", "source": "raw/S01_walk_id.sto"})
    ds = _one_trial_folder(tmp_path / "lab", t)
    with caplog.at_level(logging.WARNING), warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        code, _, err = _cli(["run", "gait-emg", "--data", ds.path, "--out", tmp_path / "run", "--set",
                             "train.epochs=1", "--set", "evaluate.final_model=false", "--workers", "1"], capsys)
    assert code == 0, err
    log = " ".join(r.getMessage() for r in caplog.records)
    assert "S01_walk" in log and "['ankle_frontal'] are constant over every gait cycle" in log
    assert not [w for w in seen if "Mean of empty slice" in str(w.message)]
    text = (tmp_path / "run" / "metrics.json").read_text()
    # was: every fold's ankle_frontal R² NaN, null in metrics.json, and "NaN/inf fold values left out" warnings
    assert "ankle_frontal" not in text and "NaN/inf fold values" not in log
    assert "hip_frontal" in json.dumps(json.loads(text))  # the moments that vary are still targets


# ------------------------------------------------------------------ convert: EMG and kinematics on two clocks
def _mot(path, t, cols):
    head = ["Coordinates", "version=1", f"nRows={len(t)}", f"nColumns={len(cols) + 1}", "inDegrees=yes", "endheader",
            "\t".join(["time", *cols])]
    rows = ["\t".join(f"{v:.5f}" for v in (ti, *(np.sin(ti + k) * 30 for k in range(len(cols))))) for ti in t]
    path.write_text("\n".join(head + rows) + "\n")


@pytest.mark.parametrize("emg_t0, warned", [(0.0, True), (3.2, False)])
def test_streams_as_long_as_each_other_but_shifted_are_warned_about(emg_t0, warned, tmp_path, capsys, caplog):
    raw = tmp_path / "raw"
    raw.mkdir()
    _mot(raw / "S01_walk_ik.mot", 3.2 + np.arange(600) / 100.0, ["hip_flexion_r", "knee_angle_r", "ankle_angle_r"])
    t = emg_t0 + np.arange(6000) / 1000.0
    x = np.random.default_rng(0).normal(size=(6000, 2)) * 1e-4
    np.savetxt(raw / "S01_walk_emg.csv", np.column_stack([t, x]), delimiter=",", header="time,TA,GM", comments="",
               fmt="%.6f")
    with caplog.at_level(logging.WARNING):
        code, _, err = _cli(["convert", raw, "--pattern", "{subject}_{trial}_{stream}", "--streams",
                             "ik=angles,emg=emg", "--out", tmp_path / "mydata"], capsys)
    assert code == 0, err
    log = " ".join(r.getMessage() for r in caplog.records)
    # was: no word: the IK on the motion-capture clock (from 3.2 s) and the EMG export from 0 s were aligned by
    # time, so each cycle's EMG came from 3.2 s earlier in the walk than its angles
    assert ("start at different times" in log and "S01_walk_ik.mot" in log and "emg 0.00-6.00 s" in log) == warned


# ------------------------------------------------------------------ gait-emg: an IK .mot of both legs without one angle
@pytest.mark.parametrize("predicting", [True, False])
def test_both_legs_ik_missing_this_legs_ankle_names_the_angle_not_the_other_leg(predicting, walk):
    from myoflow.errors import DataError
    from myoflow.experiments import load_config
    from myoflow.pipelines.gait_emg.pipeline import _cycles_from_trials

    a = walk["angles"]
    x = np.asarray(a.data)
    names = {"hip_flexion": ["hip_flexion_r", "hip_flexion_l"], "knee_flexion": ["knee_angle_r", "knee_angle_l"],
             "ankle_dorsiflexion": ["ankle_angle_l"]}  # the right ankle left out of the export
    rows, cols = [], []
    for j, n in enumerate(a.ch_names):
        for c in names.get(n, [n]):
            rows.append(-x[j] if c.startswith("knee") else x[j])
            cols.append(c)
    ik = a.replace(data=np.stack(rows), ch_names=cols, units=("deg",) * len(cols),
                   meta={**a.meta, "source": "raw/S01_walk_ik.mot"})
    t = Trial(streams={"angles": ik, "moments": walk["moments"], "emg": walk["emg"]}, meta={"subject": "S01"})
    cfg = load_config({"name": "g", "pipeline": "gait-emg", "data": {"source": "folder", "path": "x", "side": "r"}})
    with pytest.raises(DataError) as exc:
        _cycles_from_trials([("S01_walk", t)], cfg, user=True, kinematics_only=predicting)
    msg = str(exc.value)
    # was: "the angles are the left leg's (hip_flexion_l, knee_angle_l, ankle_angle_l) while ... data.side=l"
    assert "S01_walk_ik.mot" in msg and "lack ankle_angle_r" in msg and "left leg" not in msg


# ------------------------------------------------------------------ gait-emg: heel strikes of both feet
def test_heel_strike_events_of_both_feet_say_so_not_record_more_strides(walk, tmp_path, capsys, caplog):
    import pandas as pd

    from myoflow.io import write_dataset

    a = walk["angles"]
    hs = a.events_of("heel_strike")
    both = np.sort(np.r_[hs, hs[:-1] + np.diff(hs) // 2])  # every foot contact, as a lab's event table lists them
    ev = pd.DataFrame({"sample": both.astype(int), "kind": "heel_strike"})
    streams = {k: walk[k].replace(events=ev if k == "angles" else walk[k].events.iloc[:0]) for k in
               ("angles", "moments", "emg")}
    t = Trial(streams=streams, meta={"subject": "S01", "trial": "walk", "source": "raw/S01_walk_ik.mot"})
    ds = write_dataset(tmp_path / "lab", [("S01_walk", t)], pd.DataFrame({"subject": ["S01"], "weight": [60.0]}),
                       {"protocol": "converted"}).path
    with caplog.at_level(logging.WARNING):
        code, _, err = _cli(["run", "gait-emg", "--data", ds, "--out", tmp_path / "run", "--set", "train.epochs=1"],
                            capsys)
    line = _one_error_line(code, err)
    # was: "1 plausible gait cycle(s) in all: too few ...; record more strides" of a trial of 8 strides
    assert re.search(r"1[0-9] of 16 candidate cycles were rejected", line) and "check the heel strikes" in line
    log = " ".join(r.getMessage() for r in caplog.records)
    assert "S01_walk_ik.mot" in log and "strikes of both feet" in log and "data.cycle_min_s" in log


# ------------------------------------------------------------------ gait-emg: a Rajagopal model's knee
def test_a_flexion_positive_opensim_knee_says_to_negate_its_moment_too(walk):
    from myoflow.biomech.gait_cycles import trial_to_cycles
    from myoflow.errors import DataError

    a = walk["angles"]
    opensim = {"hip_flexion": "hip_flexion_r", "knee_flexion": "knee_angle_r", "ankle_dorsiflexion": "ankle_angle_r"}
    ang = a.replace(ch_names=[opensim.get(n, n) for n in a.ch_names])  # Rajagopal 2016: knee_angle_r flexion +
    t = Trial(streams={"angles": ang, "moments": walk["moments"], "emg": walk["emg"]},
              meta={"subject": "S01", "source": "raw/S01_walk_ik.mot"})
    with pytest.raises(DataError) as exc:
        trial_to_cycles(t, body_mass=70.0)
    # was: "(negate that column in the file)" only: negating the angle left the model's flexor-positive
    # knee_angle_r_moment read as an extensor moment, a mirrored torque target without a word
    assert "knee_angle_r_moment" in str(exc.value) and "inverse-dynamics" in str(exc.value)


# ------------------------------------------------------------------ predict: a new trial with 6 of the run's 7 muscles
@pytest.fixture(scope="module")
def gait_run(walk12, tmp_path_factory):
    from myoflow.cli import main

    root = tmp_path_factory.mktemp("gait_run")
    streams = {k: walk12[k] for k in ("angles", "moments", "emg")}
    ds = _one_trial_folder(root / "lab", Trial(streams=streams, meta={"subject": "S01", "trial": "walk"}))
    try:
        main(["run", "gait-emg", "--data", str(ds.path), "--out", str(root / "run"), "--set", "train.epochs=1",
              "--workers", "1"])
    except SystemExit as exc:
        assert not exc.code
    return root / "run"


def test_predict_scores_the_runs_muscles_the_trial_has_and_names_the_missing_one(walk12, gait_run, tmp_path, capsys,
                                                                               caplog):
    emg = walk12["emg"]
    six = emg.pick([m for m in emg.ch_names if m != "VL"])  # the new person's VL electrode failed
    new = _one_trial_folder(tmp_path / "new", Trial(streams={"angles": walk12["angles"], "emg": six},
                                                    meta={"subject": "S01", "trial": "walk"}))
    trial = next(iter(sorted(new.path.glob("*.h5"))))
    with caplog.at_level(logging.WARNING):
        code, out, err = _cli(["predict", gait_run, trial, "--out", tmp_path / "pred"], capsys)
    assert code == 0, err
    lines = {ln.split()[0]: ln for ln in out.splitlines() if ln.startswith("  ") and "peak of mean" in ln}
    # was: no R² for any muscle, and no word why, for a trial carrying 6 of the run's 7 muscles
    assert "R² of ensemble average" in lines["TA"] and "R² of ensemble average" in lines["SOL"]
    assert "not in the trial's EMG" in lines["VL"]
    log = " ".join(r.getMessage() for r in caplog.records)
    assert str(trial) in log and "['VL']" in log


# ------------------------------------------------------------------ io: a both-legs EMG export labelled 'TA (L)', 'TA (R)'
def test_a_side_in_brackets_is_part_of_the_channel_name_not_its_unit(tmp_path, caplog):
    from myoflow.io import read

    p = tmp_path / "S01_walk_emg.csv"
    rows = "\n".join(f"{i / 1000:.3f},{i % 3},{-(i % 5)},{i % 7},{i % 2}" for i in range(50))
    p.write_text("time,TA (L),TA (R),Vastus Lateralis [Right],GM (mV)\n" + rows + "\n")
    with caplog.at_level(logging.WARNING):
        rec = read(p)
    # was: ('TA', 'TA_2', 'Vastus Lateralis') in units 'L', 'R', 'Right' (a "repeated name" warning), and
    # gait-emg took the left leg's TA for data.side r
    assert rec.ch_names == ("TA (L)", "TA (R)", "Vastus Lateralis [Right]", "GM")
    assert rec.units[:3] == ("a.u.",) * 3 and rec.units[3] == "V"
    assert "repeated" not in " ".join(r.getMessage() for r in caplog.records)


# ------------------------------------------------------------------ gait-emg: EMG named after a Rajagopal model's muscles
def test_rajagopal_muscle_names_are_read_and_channels_left_out_are_named(walk, caplog):
    emg = walk["emg"]
    raj = {"TA": "tibant_r", "GM": "gasmed_r", "VL": "vaslat_r", "RF": "recfem_r", "BF": "bflh_r", "ST": "semiten_r",
           "SOL": "soleus_r"}
    c = _cycles(walk, emg.replace(ch_names=[raj[m] for m in emg.ch_names]))
    # was: only soleus_r (a gait2392 name too) was read: the run predicted SOL alone, without a word
    assert c.muscles == ("TA", "GM", "VL", "RF", "BF", "ST", "SOL")
    own = {"TA": "tibialis", "GM": "GL", "VL": "VM"}  # a lab's own names for three of them
    with caplog.at_level(logging.WARNING):
        c = _cycles(walk, emg.replace(ch_names=[own.get(m, m) for m in emg.ch_names]))
    assert c.muscles == ("RF", "BF", "ST", "SOL")
    msg = " ".join(r.getMessage() for r in caplog.records)
    assert "['tibialis', 'GL', 'VM'] are none of" in msg and "left out" in msg and "data.emg_map" in msg


# ------------------------------------------------------------------ predict: the IK .mot itself
def test_predict_takes_an_ik_mot_and_says_what_to_pass_for_an_emg_table(walk12, gait_run, tmp_path, capsys):
    a = walk12["angles"]
    raw = tmp_path / "raw"
    raw.mkdir()
    cols = {"hip_flexion_r": a.data[0], "knee_angle_r": -a.data[1], "ankle_angle_r": a.data[2]}
    t = np.arange(a.n_samples) / a.fs
    head = ["Coordinates", "version=1", f"nRows={t.size}", "nColumns=4", "inDegrees=yes", "endheader",
            "\t".join(["time", *cols])]
    rows = ["\t".join(f"{v:.5f}" for v in vals) for vals in zip(t, *cols.values())]
    (raw / "S07_walk_ik.mot").write_text("\n".join(head + rows) + "\n")
    code, out, err = _cli(["predict", gait_run, raw / "S07_walk_ik.mot", "--out", tmp_path / "pred"], capsys)
    # was: "expected a walking Trial (an angles stream), got a Recording" of the file of angles itself
    assert code == 0, err
    assert "cycles" in out and (tmp_path / "pred" / "raw_S07_walk_ik_torque_based_mean.csv").is_file()
    np.savetxt(raw / "S07_walk_emg.csv", np.column_stack([t, a.data[:2].T]), delimiter=",", header="time,TA,GM",
               comments="")
    code, _, err = _cli(["predict", gait_run, raw / "S07_walk_emg.csv", "--out", tmp_path / "pred2"], capsys)
    line = _one_error_line(code, err)
    assert "S07_walk_emg.csv" in line and "without joint angles" in line and "myoflow convert" in line


# ------------------------------------------------------------------ gait-emg: an IK .mot in radians, no GRF, no events
def test_heel_strikes_from_kinematics_stated_in_radians(walk):
    a = walk["angles"]
    x = np.asarray(a.data, dtype=np.float64)
    names = {"hip_flexion": "hip_flexion_r", "knee_flexion": "knee_angle_r", "ankle_dorsiflexion": "ankle_angle_r"}
    sign = np.array([-1.0 if n == "knee_flexion" else 1.0 for n in a.ch_names])[:, None]
    ik = a.replace(data=np.radians(x * sign), ch_names=[names.get(n, n) for n in a.ch_names],
                   units=("rad",) * a.n_channels)  # OpenSim inDegrees=no, a treadmill trial without plates
    deg = _cycles_from_angles(walk, a)
    # was: "fewer than 2 heel strikes for side 'r' (... kinematics: 0 strike(s))": radians read as degrees
    rad = _cycles_from_angles(walk, ik)
    assert len(rad) == len(deg) >= 5 and np.allclose(rad.angles, deg.angles, atol=1e-3)


def _cycles_from_angles(walk, angles):
    from myoflow.biomech.gait_cycles import trial_to_cycles

    t = Trial(streams={"angles": angles.replace(events=angles.events.iloc[:0]), "moments": walk["moments"],
                       "emg": walk["emg"]}, meta={"subject": "S01", "source": "raw/S01_walk_ik.mot"})
    return trial_to_cycles(t, body_mass=70.0, heel_strikes="kinematics")


# ------------------------------------------------------------------ io: a Vicon Nexus CSV export of the EMG
def _nexus_csv(path, events: bool, trajectories: bool):
    x = np.random.default_rng(0).normal(0, 0.05, (3000, 3))
    lines = ["Events", "Subject,Context,Name,Time (s),Description", "Pat01,Right,Foot Strike,1.23,", ""] if events \
        else []
    lines += ["Devices", "1000", ",,Delsys Trigno - EMG,,", "Frame,Sub Frame,TA,GM,VL", ",,mV,mV,mV"]
    lines += [f"{i // 10 + 1},{i % 10}," + ",".join(f"{v:.5f}" for v in row) for i, row in enumerate(x)]
    if trajectories:
        lines += ["", "Trajectories", "100", ",,Pat01:LASI,,,Pat01:RASI,,", "Frame,Sub Frame,X,Y,Z,X,Y,Z",
                  ",,mm,mm,mm,mm,mm,mm"] + [f"{i + 1},0,1,2,3,4,5,6" for i in range(300)]
    path.write_text("\n".join(lines) + "\n")
    return x


@pytest.mark.parametrize("events, trajectories", [(False, False), (True, True)])
def test_vicon_nexus_csv_export_gives_the_devices_rate_channels_and_units(events, trajectories, tmp_path, caplog):
    from myoflow.io import read

    p = tmp_path / "S01_walk_emg.csv"
    x = _nexus_csv(p, events, trajectories)
    with caplog.at_level(logging.WARNING):
        rec = read(p)
    # was: "no time column and no sampling rate in the file header; pass the rate, e.g. --fs 2000", and with --fs
    # the Frame and Sub Frame counters were channels (classes with --split-channels)
    assert rec.fs == 1000.0 and rec.ch_names == ("TA", "GM", "VL") and set(rec.units) == {"V"}
    assert np.allclose(rec.data, x.T * 1e-3, atol=1e-8)
    msg = " ".join(r.getMessage() for r in caplog.records)
    assert ("'Trajectories' not" in msg and "'Events' block is not read" in msg and "--events" in msg) == trajectories
