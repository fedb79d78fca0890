"""A tenth sweep of new labs: Vicon Plug-in Gait C3D variants (and the vendor readers) through the pipelines.

Each test is the smallest input that showed the problem; each fails without its fix.

Tried and already fine (no test added here): both legs in one file (``side=l`` and ``r`` each get their own
angles, moments and ``Left/Right Foot Strike`` events); angles at 100 Hz beside EMG at 1000 or 2000 Hz; EMG
analogs in mV and µV (scaled to V); a ``Subject:`` prefix on some output labels only; an invalid model frame
inside the trial (one line naming its time and ``--bad-rows interpolate``); events of context ``General``
(warned as side-less, heel strikes detected instead, with the ``--event-map`` way out); ``predict`` of a trained
gait run on a PiG C3D without moments (the moments are not needed to predict) and on a both-legs file;
gait-emg end to end on 100 Hz angles with 2000 Hz EMG in mV; a both-legs folder without data.emg_map (one line
naming the channels and data.emg_map); analog force plates ``Force.Fx1`` (kept as analog channels in N);
``myoflow report`` of a gait run; the mne-bids reference tree through ``convert`` (its recordings last 1 s,
too short to run). Poly5 / .otb+ / WFDB through muscle-id were not swept again here (own8 covered them).
"""
from __future__ import annotations

import logging

import numpy as np
import pytest

from myoflow.io import read

from ._builders import cli as _cli, one_error_line as _one_error_line, write_pig_c3d

ezc3d = pytest.importorskip("ezc3d")


def _walk(strides: int = 4):
    from myoflow.simulate.protocols.gait import simulate_gait

    return simulate_gait(1, 0, strides, fs_sim=2048.0, noise=False)[0][0]


def _pig(path, **kw):
    return write_pig_c3d(path, _walk(), **kw)


def _rewrite(path, labels=None, drop_analogs=False, drop_points=()):
    """Edit a written C3D in place: new POINT:LABELS, no analog channels, or some points removed."""
    c = ezc3d.c3d(str(path))
    if drop_points:
        keep = [i for i, lab in enumerate(c["parameters"]["POINT"]["LABELS"]["value"]) if lab not in drop_points]
        labels = [c["parameters"]["POINT"]["LABELS"]["value"][i] for i in keep]
        pts = c["data"]["points"][:, keep]
        c["data"]["points"] = pts
        c["data"]["meta_points"]["residuals"] = np.zeros((1, len(keep), pts.shape[-1]))
        c["data"]["meta_points"]["camera_masks"] = np.zeros((7, len(keep), pts.shape[-1]), dtype=bool)
    if labels is not None:
        c["parameters"]["POINT"]["LABELS"]["value"] = tuple(labels)
    if drop_analogs:
        c["parameters"]["ANALOG"]["LABELS"]["value"] = ()
        c["parameters"]["ANALOG"]["UNITS"]["value"] = ()
        c["data"]["analogs"] = np.zeros((1, 0, c["data"]["points"].shape[-1] * 5))
    c.write(str(path))
    return path


# ------------------------------------------------------------------ kinematics-only PiG C3D: its events are kept
def test_kinematics_only_c3d_keeps_its_foot_strike_events(tmp_path):
    # was: without analogs the events had no stream to go on and were dropped; predict re-detected the heel
    # strikes from the kinematics and found 2 of the 4 cycles of the walk
    from myoflow.biomech.gait_trials import heel_strike_times

    p = _rewrite(_pig(tmp_path / "kin.c3d", prefix=""), drop_analogs=True)
    trial = read(p)
    a = trial["angles"]
    assert set(a.events["kind"]) == {"Left Foot Strike"}
    src = _walk()["angles"]
    np.testing.assert_array_equal(np.sort(a.events["sample"].to_numpy()), src.events_of("heel_strike"))
    hs, how = heel_strike_times(trial, "l")
    assert how.startswith("events") and hs.size == src.events_of("heel_strike").size


# ------------------------------------------------------------------ two subjects' outputs in one capture
def test_two_subjects_plug_in_gait_outputs_are_refused(tmp_path, capsys):
    # was: read as one trial with the first subject's angles and moments, the second's silently ignored
    p = _pig(tmp_path / "two.c3d")
    c = ezc3d.c3d(str(p))
    labels = list(c["parameters"]["POINT"]["LABELS"]["value"])
    labels[3:6] = [lab.replace("Pat01:", "Pat02:").replace("Moment", "Angles") for lab in labels[3:6]]
    _rewrite(p, labels=labels)
    code, _, err = _cli(["inspect", p], capsys)
    line = _one_error_line(code, err)
    assert str(p) in line and "'Pat01'" in line and "'Pat02'" in line and "own C3D" in line


def test_a_subject_prefix_on_some_labels_only_is_one_subject(tmp_path):
    p = _pig(tmp_path / "some.c3d")
    labels = list(ezc3d.c3d(str(p))["parameters"]["POINT"]["LABELS"]["value"])
    _rewrite(p, labels=[lab.replace("Pat01:", "") if "Knee" in lab else lab for lab in labels])
    assert read(p)["angles"].ch_names == ("hip_flexion_l", "knee_flexion_l", "ankle_dorsiflexion_l")


# ------------------------------------------------------------------ one leg exported incompletely
def test_a_leg_missing_one_angle_is_warned_about_naming_it(tmp_path, caplog):
    # was: LKneeAngles/LAnkleAngles without LHipAngles read as a plain Recording with no word, and gait-emg
    # then asked for joint angles 'in OpenSim .mot/.sto, C3D or CSV' of a C3D that holds them
    p = _rewrite(_pig(tmp_path / "nohip.c3d"), drop_points=("Pat01:LHipAngles",))
    with caplog.at_level(logging.WARNING, logger="myoflow.io.c3d"):
        rec = read(p)
    assert not hasattr(rec, "names")  # still the EMG (muscle-id, inspect read it)
    msg = " ".join(r.getMessage() for r in caplog.records)
    assert str(p) in msg and "left leg" in msg and "lack LHipAngles" in msg and "Pat01:LKneeAngles" in msg


# ------------------------------------------------------------------ no moments: the GRF way out is closed for a C3D
def test_c3d_without_moments_tells_to_export_the_kinetics(tmp_path):
    from myoflow.biomech.gait_cycles import trial_to_cycles
    from myoflow.errors import DataError

    p = _rewrite(_pig(tmp_path / "nomom.c3d", prefix=""), drop_points=("LHipMoment", "LKneeMoment", "LAnkleMoment"))
    trial = read(p)
    assert "moments" not in trial.names
    with pytest.raises(DataError) as exc:
        trial_to_cycles(trial, side="l", emg_map={f"L_{m}": m for m in _walk()["emg"].ch_names})
    msg = str(exc.value)
    # was: "needs them (an OpenSim inverse-dynamics .sto) or the ground reaction forces", which a C3D's force
    # plates cannot give (myoflow does not read them)
    assert str(p) in msg and "LHipMoment" in msg and "force plates" in msg and "\n" not in msg


def test_kinematics_only_c3d_missing_an_angle_says_which(tmp_path, capsys):
    # was: "no analog channels (it holds 7 marker trajectories and no Plug-in Gait angles (LKneeAngles ...)",
    # of a file that holds LKneeAngles
    p = _rewrite(_pig(tmp_path / "kin.c3d"), drop_analogs=True)
    p = _rewrite(p, drop_points=("Pat01:LHipAngles",))
    code, _, err = _cli(["inspect", p], capsys)
    line = _one_error_line(code, err)
    assert str(p) in line and "lack LHipAngles" in line and "Pat01:LKneeAngles" in line
    assert "no Plug-in Gait angles" not in line


# ------------------------------------------------------------------ predict of the other leg than the run's
def test_predict_of_the_other_leg_does_not_tell_to_set_data_side(tmp_path):
    # was: "set data.side: r (myoflow run ... --set data.side=r)": predict takes the trained run's side, so
    # that way out did not exist; the message now says the run's side is the trained one
    from myoflow.errors import DataError
    from myoflow.experiments import load_config
    from myoflow.pipelines.gait_emg.pipeline import _cycles_from_trials

    p = _rewrite(_pig(tmp_path / "right.c3d", side="R", prefix=""), drop_analogs=True)
    cfg = load_config({"name": "g", "pipeline": "gait-emg", "data": {"source": "folder", "path": str(tmp_path),
                                                                      "side": "l"}})
    with pytest.raises(DataError) as exc:
        _cycles_from_trials([("right", read(p))], cfg, user=True, kinematics_only=True)
    msg = str(exc.value)
    assert "right leg" in msg and "trained on data.side 'l'" in msg and "--set data.side=r" in msg
    assert "set data.side: r" not in msg
    with pytest.raises(DataError) as exc:  # training on it still names the setting
        _cycles_from_trials([("right", read(p))], cfg, user=True)
    assert "set data.side: r" in str(exc.value)


# ------------------------------------------------------------------ the way out of an invalid frame exists
@pytest.mark.parametrize("kind", ["c3d", "csv"])
def test_bad_rows_message_names_the_command_that_has_the_option(tmp_path, capsys, kind):
    # was: "pass --bad-rows interpolate" from `myoflow inspect` / `myoflow predict`, which have no such option
    # (only `myoflow convert` has; predict then takes the converted .h5)
    if kind == "c3d":
        p = _pig(tmp_path / "gap.c3d", invalid_frame=300)
    else:
        p = tmp_path / "gap.csv"
        p.write_text("time,a\n" + "".join(f"{i / 1000:.3f},{'nan' if i == 5 else i}\n" for i in range(20)))
    code, _, err = _cli(["inspect", p], capsys)
    line = _one_error_line(code, err)
    assert str(p) in line and "myoflow convert --bad-rows" in line


# ------------------------------------------------------------------ kinetics only while the foot is on a plate
@pytest.mark.parametrize("valid", [(300, 420), None])
def test_moments_valid_on_a_few_frames_do_not_cut_the_angles(tmp_path, caplog, valid):
    # was: the trial was cut to the frames where every output is valid, so moments valid on one stance
    # (frames 300-420) cut the angles and EMG-side outputs to 0.6 s with exit 0; moments never valid refused
    # the file with "the Plug-in Gait angles hold no frame the model could compute"
    p = _pig(tmp_path / "plate.c3d", prefix="")
    c = ezc3d.c3d(str(p))
    res = np.zeros_like(c["data"]["meta_points"]["residuals"])
    res[0, 3:6] = -1.0  # the three moments
    if valid:
        res[0, 3:6, valid[0]:valid[1]] = 0.0
    c["data"]["meta_points"]["residuals"] = res
    c.write(str(p))
    with caplog.at_level(logging.WARNING, logger="myoflow.io.c3d"):
        trial = read(p)
    assert trial["angles"].n_samples == _walk()["angles"].n_samples and "moments" not in trial.names
    msg = " ".join(r.getMessage() for r in caplog.records)
    assert str(p) in msg and "'ankle_sagittal_l'" in msg and "force plate" in msg


def _both_legs(path, right_invalid):
    """Both legs' outputs (the right a copy of the left), with the right leg's rows ``right_invalid`` (a slice
    of its 6 outputs, then of frames) marked invalid."""
    p = _pig(path, prefix="")
    c = ezc3d.c3d(str(p))
    labels = list(c["parameters"]["POINT"]["LABELS"]["value"])
    pts = c["data"]["points"]
    c["parameters"]["POINT"]["LABELS"]["value"] = tuple(labels + [lab.replace("L", "R", 1) for lab in labels[:6]])
    c["data"]["points"] = np.concatenate([pts, pts[:, :6]], axis=1)
    res = np.zeros((1, len(labels) + 6, pts.shape[-1]))
    res[0, len(labels):][right_invalid] = -1.0
    c["data"]["meta_points"]["residuals"] = res
    c["data"]["meta_points"]["camera_masks"] = np.zeros((7, len(labels) + 6, pts.shape[-1]), dtype=bool)
    c.write(str(p))
    return p


def test_a_leg_seen_on_a_few_frames_leaves_the_other_leg_whole(tmp_path, caplog):
    # was: the right leg's markers lost after 1 s cut the left leg's angles and moments to that second
    p = _both_legs(tmp_path / "lost.c3d", (slice(0, 6), slice(200, None)))
    with caplog.at_level(logging.WARNING, logger="myoflow.io.c3d"):
        trial = read(p)
    assert trial["angles"].ch_names == ("hip_flexion_l", "knee_flexion_l", "ankle_dorsiflexion_l")
    assert trial["angles"].n_samples == trial["moments"].n_samples == _walk()["angles"].n_samples
    assert "right leg's Plug-in Gait angles are valid on 0.00-1.00 s only" in caplog.text


def test_a_legs_missing_moments_leave_the_other_leg_whole_and_gait_emg_says_so(tmp_path):
    from myoflow.biomech.gait_cycles import for_side, trial_to_cycles
    from myoflow.errors import DataError

    # the right leg's moments never valid (no force plate assigned to it)
    trial = read(_both_legs(tmp_path / "both.c3d", (slice(3, 6), slice(None))))
    assert trial["moments"].ch_names == ("hip_sagittal_l", "knee_sagittal_l", "ankle_sagittal_l")
    assert for_side(trial, "l")["moments"].n_channels == 3 and "moments" not in for_side(trial, "r").names
    with pytest.raises(DataError) as exc:  # was: "moments stream has none of the expected channels"
        trial_to_cycles(trial, side="r", emg_map={f"L_{m}": m for m in _walk()["emg"].ch_names})
    assert "RHipMoment" in str(exc.value) and "force plates" in str(exc.value)


def test_a_long_cut_by_one_legs_outputs_is_warned_about(tmp_path, caplog):
    # was: silent; the right leg's markers lost for the last third of the walk cut the left leg's too
    n = _walk()["angles"].n_samples
    p = _both_legs(tmp_path / "third.c3d", (slice(0, 6), slice(2 * n // 3, None)))
    with caplog.at_level(logging.WARNING, logger="myoflow.io.c3d"):
        trial = read(p)
    assert trial["angles"].n_samples == 2 * n // 3 and trial["angles"].n_channels == 6
    assert str(p) in caplog.text and "limited by hip_flexion_r" in caplog.text and "left" not in caplog.text


def test_a_gap_in_one_legs_outputs_leaves_the_other_leg_readable(tmp_path, caplog, capsys):
    # was: markers lost for a moment on the right leg refused the whole file, whose left leg is whole
    with caplog.at_level(logging.WARNING, logger="myoflow.io.c3d"):
        trial = read(_both_legs(tmp_path / "gap.c3d", (slice(1, 2), slice(300, 303))))  # right knee angle
    assert trial["angles"].ch_names == ("hip_flexion_l", "knee_flexion_l", "ankle_dorsiflexion_l")
    assert trial["moments"].ch_names == ("hip_sagittal_l", "knee_sagittal_l", "ankle_sagittal_l")
    assert "right leg's Plug-in Gait output 'knee_flexion_r' has invalid frames" in caplog.text
    trial = read(_both_legs(tmp_path / "mgap.c3d", (slice(4, 5), slice(300, 303))))  # right knee moment only
    assert trial["angles"].n_channels == 6 and "knee_sagittal_r" not in trial["moments"].ch_names
    p = _both_legs(tmp_path / "two.c3d", (slice(1, 2), slice(300, 303)))
    c = ezc3d.c3d(str(p))
    res = c["data"]["meta_points"]["residuals"]
    res[0, 1, 500] = -1.0  # the left knee too: no whole leg, so the file is refused naming the gap
    c["data"]["meta_points"]["residuals"] = res
    c.write(str(p))
    code, _, err = _cli(["inspect", p], capsys)
    line = _one_error_line(code, err)
    assert "inside the trial are invalid" in line and "--bad-rows interpolate" in line
