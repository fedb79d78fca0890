"""An eighth sweep of new labs: the new readers (BIDS-EMG, WFDB, TMSi Poly5, OT Bioelettronica .otb+) through
the pipelines.

Each test is the smallest input that showed the problem; each fails without its fix.
"""
from __future__ import annotations

import logging

import numpy as np
import pytest

from myoflow.io import load_dataset, write_dataset

from ._builders import cli as _cli, one_error_line as _one_error_line, write_poly5


def _stimulated(n_subjects: int = 4, fs: float = 2000.0):
    from myoflow.simulate.protocols.evoked import simulate_evoked

    recs, part = simulate_evoked(n_subjects, 0, frequencies=(25.0,), train_s=1.0, n_units=20, fs=fs)
    part = part[["subject", "age", "sex", "height", "weight"]].assign(
        mass_class=["low", "normal"] * (n_subjects // 2))
    return recs, part


# ------------------------------------------------------------------ a TMSi stimulator trigger → stimulus events
def _poly5_with_trigger(root, recs):
    """Each recording as a Poly5 file (µV) with the stimulator's pulses on its TRIGGERS channel."""
    for r in recs:
        trig = np.zeros(r.n_samples)
        for s in r.events_of("stimulus"):
            trig[s:s + 3] = 1
        write_poly5(root / f"{r.meta['subject']}_{r.meta['muscle']}_25.Poly5", np.vstack([r.data * 1e6, trig]),
                    int(r.fs), [r.ch_names[0], "TRIGGERS"], ["µVolt", "-"])


def test_convert_event_map_makes_a_trigger_channel_the_stimulus_pulses(tmp_path, capsys):
    recs, _ = _stimulated(2)
    _poly5_with_trigger(tmp_path / "raw", recs)
    base = ["convert", tmp_path / "raw", "--pattern", "{subject}_{muscle}_{frequency}"]
    # was: no way to rename the 'trigger' events a Poly5/BIDS/BDF trigger channel reads as (and --events is
    # refused with --bids): stimulated-mass ignored them and detected the pulses from the artefact
    code, _, err = _cli(base + ["--out", tmp_path / "ds", "--event-map", "trigger=stimulus"], capsys)
    assert code == 0, err
    ds = load_dataset(tmp_path / "ds")
    rec = ds.load(ds.stems[0])
    src = next(r for r in recs if f"{r.meta['subject']}_{r.meta['muscle']}" == ds.stems[0][:7])
    assert set(rec.events["kind"]) == {"stimulus"}
    np.testing.assert_array_equal(rec.events_of("stimulus"), src.events_of("stimulus"))
    # a kind no file has (a typo) is one line listing the kinds there are, nothing written
    code, _, err = _cli(base + ["--out", tmp_path / "ds2", "--event-map", "triger=stimulus"], capsys)
    line = _one_error_line(code, err)
    assert "--event-map" in line and "'triger'" in line and "['trigger']" in line
    assert not (tmp_path / "ds2").exists()



def test_event_map_by_code_takes_the_stimulators_code_of_a_line_idling_high(tmp_path, capsys):
    recs, _ = _stimulated(2)
    for r in recs:  # a trigger line idling at 255 that drops to 254 for each pulse: every return to 255 is an event
        trig = np.full(r.n_samples, 255.0)
        for p in r.events_of("stimulus"):
            trig[p:p + 3] = 254
        write_poly5(tmp_path / "raw" / f"{r.meta['subject']}_{r.meta['muscle']}_25.Poly5",
                    np.vstack([r.data * 1e6, trig]), int(r.fs), [r.ch_names[0], "TRIGGERS"], ["µVolt", "-"])
    base = ["convert", tmp_path / "raw", "--pattern", "{subject}_{muscle}_{frequency}"]
    code, _, err = _cli(base + ["--out", tmp_path / "ds", "--event-map", "trigger:254=stimulus"], capsys)
    assert code == 0, err
    ds = load_dataset(tmp_path / "ds")
    for stem in ds.stems:
        rec = ds.load(stem)
        src = next(r for r in recs if stem.startswith(f"{r.meta['subject']}_{r.meta['muscle']}"))
        np.testing.assert_array_equal(rec.events_of("stimulus"), src.events_of("stimulus"))
        assert (rec.events["kind"] == "trigger").sum() == len(src.events_of("stimulus")) + 1  # the 255s stay
    code, _, err = _cli(base + ["--out", tmp_path / "ds2", "--event-map", "trigger:1=stimulus"], capsys)
    line = _one_error_line(code, err)
    assert "no 'trigger' event has code 1" in line and "['254', '255']" in line

def test_stimulated_mass_says_when_trigger_events_go_unused(tmp_path, capsys, caplog):
    recs, part = _stimulated(4)
    items = []
    for r in recs:  # the stimulator's pulses as a trigger channel reads them: kind 'trigger'
        ev = r.events.assign(kind="trigger")
        items.append((f"{r.meta['subject']}_{r.meta['muscle']}", r.replace(events=ev)))
    ds = write_dataset(tmp_path / "clinic", items, part, {"protocol": "evoked"}).path
    with caplog.at_level(logging.WARNING):
        code, _, err = _cli(["run", "stimulated-mass", "--data", ds, "--out", tmp_path / "run",
                             "--cache-dir", tmp_path / "cache", "--set", "evaluate.models=[ptp_logreg]",
                             "--set", "evaluate.n_splits=2", "--set", "evaluate.n_boot=10",
                             "--set", "data.frequencies=[25]", "--set", "evaluate.conditions=[25Hz]"], capsys)
    assert code == 0, err
    # was: silence (the pulses were detected from the artefact, the triggers never looked at)
    assert "8 recording(s) have events of kind(s) ['trigger'] but no 'stimulus' events" in caplog.text
    assert "--event-map trigger=stimulus" in caplog.text


# ------------------------------------------------------------------ a BIDS tree of stimulated recordings
def _tsv(path, header, rows) -> None:
    path.write_text("\t".join(header) + "\n" + "".join("\t".join(map(str, r)) + "\n" for r in rows))


def _bids_stimulated(root, recs, part):
    """sub-*/emg/sub-*_task-stim25_acq-<muscle>_emg.edf (µV) with the stimulator on a TRIG channel; no frequency
    anywhere but the task's name (BIDS has no field for it, and --pattern/--meta do not apply with --bids)."""
    import json

    from myoflow.containers import Recording
    from myoflow.io import write_edf

    root.mkdir(parents=True)
    (root / "dataset_description.json").write_text(json.dumps({"Name": "stim", "BIDSVersion": "1.11.0"}))
    _tsv(root / "participants.tsv", ["participant_id", "age", "sex", "height", "weight", "mass_class"],
         [[f"sub-{r.subject}", r.age, "female" if r.sex == "F" else "male", round(r.height * 100, 1), r.weight,
           r.mass_class] for r in part.itertuples()])
    (root / "participants.json").write_text(json.dumps({"height": {"Units": "cm"}, "weight": {"Units": "kg"}}))
    for r in recs:
        s, m = r.meta["subject"], r.meta["muscle"]
        d = root / f"sub-{s}" / "emg"
        d.mkdir(parents=True, exist_ok=True)
        trig = np.zeros(r.n_samples)
        for p in r.events_of("stimulus"):
            trig[p:p + 3] = 1
        stem = f"sub-{s}_task-stim25_acq-{m}"
        write_edf(Recording(np.vstack([r.data * 1e6, trig]), r.fs, [m, "STIM"], units=["uV", "n/a"]),
                  d / f"{stem}_emg.edf")
        _tsv(d / f"{stem}_channels.tsv", ["name", "type", "units", "target_muscle"],
             [[m, "EMG", "uV", m], ["STIM", "TRIG", "n/a", "n/a"]])
        (d / f"{stem}_emg.json").write_text(json.dumps({"SamplingFrequency": r.fs, "PowerLineFrequency": 50}))


def test_bids_stimulated_tree_runs_stimulated_mass_with_the_frequency_of_its_pulses(tmp_path, capsys, caplog):
    recs, part = _stimulated(4)
    _bids_stimulated(tmp_path / "bids", recs, part)
    code, out, err = _cli(["convert", tmp_path / "bids", "--out", tmp_path / "ds", "--event-map", "trigger=stimulus"],
                          capsys)
    assert code == 0 and "wrote 8 item(s), 4 subject(s)" in out, err
    with caplog.at_level(logging.WARNING):
        code, _, err = _cli(["run", "stimulated-mass", "--data", tmp_path / "ds", "--out", tmp_path / "run",
                             "--cache-dir", tmp_path / "cache", "--set", "evaluate.models=[ptp_logreg]",
                             "--set", "evaluate.n_splits=2", "--set", "evaluate.n_boot=10",
                             "--set", "data.frequencies=[25]", "--set", "evaluate.conditions=[25Hz]"], capsys)
    # was: "recording meta needs subject, muscle and frequency (Hz)", exit 2, although the pulses say 25 Hz
    # (myoflow predict already took the frequency from the pulse rate)
    assert code == 0, err
    assert "8 recording(s) have no 'frequency' meta; taken from their pulse rate (25 Hz)" in caplog.text
    assert (tmp_path / "run" / "metrics.json").exists()


def test_no_frequency_and_no_pulses_says_how_to_give_it(tmp_path, capsys):
    recs, part = _stimulated(2)
    items = [(f"{r.meta['subject']}_{r.meta['muscle']}",
              r.replace(data=np.zeros_like(r.data), events=r.events.iloc[:0],
                        meta={k: v for k, v in r.meta.items() if k != "frequency"})) for r in recs]
    ds = write_dataset(tmp_path / "clinic", items, part, {"protocol": "evoked"}).path
    code, _, err = _cli(["run", "stimulated-mass", "--data", ds, "--out", tmp_path / "run", "--cache-dir",
                         tmp_path / "cache", "--set", "evaluate.models=[ptp_logreg]"], capsys)
    line = _one_error_line(code, err)
    assert "no 'frequency' meta and 0 stimulus pulse(s)" in line and "{frequency}" in line


# ------------------------------------------------------------------ a BIDS gait tree: EMG and motion/
def test_bids_gait_tree_says_motion_is_not_read(tmp_path, capsys, caplog):
    import json

    from myoflow.containers import Recording
    from myoflow.io import write_edf

    root = tmp_path / "bids"
    root.mkdir()
    (root / "dataset_description.json").write_text(json.dumps({"Name": "gait", "BIDSVersion": "1.11.0"}))
    rng = np.random.default_rng(0)
    for s in ("01", "02"):
        d, m = root / f"sub-{s}" / "emg", root / f"sub-{s}" / "motion"
        d.mkdir(parents=True)
        m.mkdir()
        write_edf(Recording(rng.normal(size=(2, 4000)) * 50, 1000.0, ["TA", "GM"], units=["uV", "uV"]),
                  d / f"sub-{s}_task-walk_emg.edf")
        _tsv(d / f"sub-{s}_task-walk_events.tsv", ["onset", "duration", "trial_type"],
             [[t, 0, "heel_strike"] for t in (0.5, 1.6, 2.7)])
        _tsv(m / f"sub-{s}_task-walk_tracksys-imu_motion.tsv", ["knee", "ankle"], [[0.1, 0.2]] * 50)
    with caplog.at_level(logging.WARNING):
        code, _, err = _cli(["convert", root, "--out", tmp_path / "ds"], capsys)
    assert code == 0, err
    # was: an INFO-level note only, never shown
    assert "motion/ (BIDS motion) is not read" in caplog.text and "'angles' stream" in caplog.text
    code, _, err = _cli(["run", "gait-emg", "--data", tmp_path / "ds", "--out", tmp_path / "run",
                         "--cache-dir", tmp_path / "cache"], capsys)
    line = _one_error_line(code, err)
    # was: "dataset folder holds no Trials (walking sessions)": nothing about angles or BIDS motion
    assert "holds 2 single-stream Recording(s)" in line and "joint angles" in line
    assert "motion/ files are not read" in line



def test_predict_says_when_a_raw_files_trigger_events_go_unused(tmp_path, capsys, caplog):
    recs, part = _stimulated(4)
    ds = write_dataset(tmp_path / "clinic", [(f"{r.meta['subject']}_{r.meta['muscle']}", r) for r in recs], part,
                       {"protocol": "evoked"}).path
    code, _, err = _cli(["run", "stimulated-mass", "--data", ds, "--out", tmp_path / "run", "--cache-dir",
                         tmp_path / "cache", "--set", "evaluate.models=[attention_bilstm]", "--set", "train.epochs=1",
                         "--set", "model.params.n_members=1", "--set", "evaluate.n_boot=10",
                         "--set", "evaluate.n_splits=2", "--set", "data.frequencies=[25]",
                         "--set", "evaluate.conditions=[25Hz]"], capsys)
    assert code == 0, err
    new = [r for r in recs if r.meta["subject"] == recs[0].meta["subject"]]
    _poly5_with_trigger(tmp_path / "new", new)
    with caplog.at_level(logging.WARNING):
        code, _, err = _cli(["predict", tmp_path / "run", *sorted((tmp_path / "new").iterdir()), "--covariates",
                             "age=54,sex=F,height=1.62,weight=70", "--out", tmp_path / "pred"], capsys)
    assert code == 0, err
    # was: silence (the TRIGGERS channel's pulses read as 'trigger' events, never looked at)
    assert "predict: 2 recording(s) have events of kind(s) ['trigger'] but no 'stimulus' events" in caplog.text
    assert "--event-map trigger=stimulus and pass the converted .h5 files" in caplog.text



# ------------------------------------------------------------------ gait-emg: heel strikes under a reader's name
def test_heel_strike_warning_names_the_event_map_that_renames_them(caplog):
    import pandas as pd

    from myoflow.containers import Recording, Trial
    from myoflow.pipelines.gait_emg.pipeline import _warn_heel_strike_names

    ev = pd.DataFrame({"sample": [10, 120], "kind": ["HS", "HS"]})  # a BIDS trial_type / WFDB aux of that name
    ang = Recording(np.zeros((1, 300)), 100.0, ["knee_flexion"], units="deg", events=ev, meta={"source": "x.edf"})
    _warn_heel_strike_names(Trial(streams={"angles": ang}, meta={"subject": "S01"}))
    # was: "give them as 'heel_strike' ... with myoflow convert --events" only, which --bids refuses
    assert "--event-map 'HS=heel_strike'" in caplog.text


def test_event_map_renames_a_kind_that_has_a_colon_of_its_own():
    import pandas as pd

    from myoflow.containers import Recording
    from myoflow.io.convert import _map_event_kinds

    ev = pd.DataFrame({"sample": [1, 2, 3], "kind": ["stim:on", "trigger", "trigger"], "code": [np.nan, 1, 2]})
    rec = Recording(np.zeros((1, 100)), 100.0, ["a"], events=ev)
    out = _map_event_kinds([("x", rec)], {"stim:on": "stimulus", "trigger:2": "heel_strike"})[0][1]
    # without the whole-kind match 'stim:on' read as kind 'stim' code 'on' and was an error
    assert out.events["kind"].tolist() == ["stimulus", "trigger", "heel_strike"]
