"""``myoflow convert --bids``: BIDS-EMG datasets (participants.tsv, sub-*/[ses-*/]emg/*_emg.edf + sidecars).

Small BIDS trees are written here with :func:`myoflow.io.write_edf`; every bad input is a one-line error
naming the file, exit 2, and nothing is written.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from myoflow.containers import Recording
from myoflow.io import load_dataset, write_edf

from ..test_user_data import run_cli
from ._e2e import run_arm_leg

N, FS = 4000, 1000.0
CHANNELS = [  # name, type, units, status, target_muscle
    ("EMG1", "EMG", "uV", "good", "FDI"),
    ("EMG2", "EMG", "uV", "good", "ECR"),
    ("EMG3", "EMG", "uV", "bad", "APB"),
    ("ACC", "MISC", "g", "good", "n/a"),
    ("DI", "TRIG", "n/a", "good", "n/a"),
]




def tsv(path: Path, header, rows) -> Path:
    path.write_text("\t".join(header) + "\n" + "".join("\t".join(map(str, r)) + "\n" for r in rows))
    return path


def signals(seed: int) -> np.ndarray:
    """3 EMG channels in µV, an accelerometer in g, a trigger line pulsing at samples 1000 and 2500."""
    rng = np.random.default_rng(seed)
    trig = np.zeros(N)
    trig[1000:1010] = 1
    trig[2500:2510] = 1
    return np.vstack([rng.normal(size=(3, N)) * 50, rng.normal(size=(1, N)), trig])


def build(root: Path, subjects=("01", "02"), participants=True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "dataset_description.json").write_text(json.dumps({"Name": "test", "BIDSVersion": "1.11.0"}))
    if participants:
        tsv(root / "participants.tsv", ["participant_id", "age", "sex", "height", "weight"],
            [[f"sub-{s}", 30 + i, "female" if i % 2 == 0 else "male", 170 + i, 70] for i, s in enumerate(subjects)])
        (root / "participants.json").write_text(json.dumps({"height": {"Units": "cm"}, "weight": {"Units": "kg"}}))
    for i, s in enumerate(subjects):
        d = root / f"sub-{s}" / "ses-1" / "emg"
        d.mkdir(parents=True)
        stem = f"sub-{s}_ses-1_task-grip_run-1"
        rec = Recording(signals(i), FS, [c[0] for c in CHANNELS], units=["uV", "uV", "uV", "g", "n/a"])
        write_edf(rec, d / f"{stem}_emg.edf")
        tsv(d / f"{stem}_channels.tsv", ["name", "type", "units", "status", "target_muscle"], CHANNELS)
        (d / f"{stem}_emg.json").write_text(json.dumps({
            "SamplingFrequency": 1000, "PowerLineFrequency": 50, "EMGReference": "bipolar",
            "EMGPlacementScheme": "SENIAM", "TaskName": "grip"}))
        tsv(d / f"{stem}_events.tsv", ["onset", "duration", "trial_type"], [[1.0, 0.5, "grip"], [3.0, "n/a", "rest"]])
    return root


def emg_dir(root: Path, s: str = "01") -> Path:
    return root / f"sub-{s}" / "ses-1" / "emg"


def sidecar(root: Path, suffix: str, s: str = "01") -> Path:
    return emg_dir(root, s) / f"sub-{s}_ses-1_task-grip_run-1_{suffix}"


# ------------------------------------------------------------------ round trip
def test_round_trip_names_rate_units_meta_events_participants(tmp_path, capsys, caplog):
    root = build(tmp_path / "bids")
    with caplog.at_level(logging.WARNING):
        out, _ = run_cli(["convert", root, "--bids", "--out", tmp_path / "ds"], capsys)
    assert "wrote 2 item(s), 2 subject(s)" in out
    ds = load_dataset(tmp_path / "ds")
    assert sorted(ds.stems) == ["01_1_grip_run-1", "02_1_grip_run-1"]
    rec = ds.load("01_1_grip_run-1")
    # EMG kept and renamed to their target muscles; the bad channel, MISC and TRIG are not signals
    assert rec.ch_names == ("FDI", "ECR") and rec.units == ("V", "V") and rec.fs == FS and rec.n_samples == N
    x = signals(0)[:2] * 1e-6  # µV in the file and the table → volts
    assert np.allclose(rec.data, x, rtol=0, atol=np.ptp(x) / 65535)  # EDF: 16-bit steps over the range
    m = rec.meta
    assert (m["subject"], m["session"], m["trial"], m["task"], str(m["run"])) == ("01", "1", "grip_run-1", "grip", "1")
    assert m["power_line_frequency"] == 50 and m["emg_reference"] == "bipolar" and m["emg_placement_scheme"] == "SENIAM"
    ev = rec.events
    trig = ev[ev["kind"] == "trigger"]
    assert trig["sample"].tolist() == [1000, 2500] and trig["code"].tolist() == [1, 1]
    grip = ev[ev["kind"] == "grip"]
    assert grip["sample"].tolist() == [1000] and grip["duration"].tolist() == [0.5]
    assert ev[ev["kind"] == "rest"]["sample"].tolist() == [3000]
    assert np.isnan(ev[ev["kind"] == "rest"]["duration"].iloc[0])
    parts = ds.participants.set_index("subject")
    assert parts.loc["01", "sex"] == "F" and parts.loc["02", "sex"] == "M"
    assert parts.loc["01", "height"] == pytest.approx(1.70) and parts.loc["02", "height"] == pytest.approx(1.71)
    assert parts.loc["01", "age"] == 30 and parts.loc["01", "weight"] == 70
    warned = " ".join(r.getMessage() for r in caplog.records)
    assert "['EMG3']" in warned and "bad" in warned  # the dropped bad channel is named
    assert "MISC" in warned


def test_detected_without_flag_like_bids(tmp_path, capsys):
    root = build(tmp_path / "bids")
    _, err = run_cli(["convert", root, "--out", tmp_path / "a"], capsys)
    assert "read as a BIDS dataset" in err
    run_cli(["convert", root, "--bids", "--out", tmp_path / "b"], capsys)
    a, b = load_dataset(tmp_path / "a"), load_dataset(tmp_path / "b")
    assert a.stems == b.stems
    assert np.array_equal(a.load(a.stems[0]).data, b.load(b.stems[0]).data)
    _, err = run_cli(["convert", root, "--bids", "--pattern", "{subject}", "--out", tmp_path / "c"], capsys, code=2)
    assert "--bids" in err and not (tmp_path / "c").exists()


def test_no_participants_tsv_is_fine(tmp_path, capsys):
    root = build(tmp_path / "bids", participants=False)
    run_cli(["convert", root, "--bids", "--out", tmp_path / "ds"], capsys)
    assert sorted(load_dataset(tmp_path / "ds").participants["subject"]) == ["01", "02"]


def test_subject_missing_from_participants_tsv(tmp_path, capsys):
    root = build(tmp_path / "bids")
    tsv(root / "participants.tsv", ["participant_id", "age"], [["sub-01", 30]])
    _, err = run_cli(["convert", root, "--bids", "--out", tmp_path / "ds"], capsys, code=2)
    assert "participants.tsv" in err and "'02'" in err


def _one_muscle(root: Path, muscle_rows) -> None:
    for s in ("01", "02"):
        tsv(sidecar(root, "channels.tsv", s), ["name", "type", "units", "status", "target_muscle", "side"],
            [(c[0], c[1], c[2], c[3], m, side) for c, (m, side) in zip(CHANNELS, muscle_rows)])


def test_one_muscle_for_every_channel_is_the_recordings_muscle(tmp_path, capsys):
    root = build(tmp_path / "bids")
    _one_muscle(root, [("VL", "R"), ("VL", "R"), ("VL", "R"), ("n/a", "n/a"), ("n/a", "n/a")])
    run_cli(["convert", root, "--bids", "--out", tmp_path / "ds"], capsys)
    ds = load_dataset(tmp_path / "ds")
    rec = ds.load(ds.stems[0])
    assert rec.ch_names == ("EMG1", "EMG2") and rec.meta["muscle"] == "VL" and rec.meta["side"] == "R"
    assert ds.stems[0] == "01_1_grip_run-1_VL_R"
    _, err = run_cli(["convert", root, "--bids", "--split-channels", "--out", tmp_path / "s"], capsys, code=2)
    assert "channels.tsv" in err and "--split-channels" in err and "'VL'" in err


def test_split_channels_gives_one_recording_per_target_muscle(tmp_path, capsys):
    root = build(tmp_path / "bids")
    run_cli(["convert", root, "--bids", "--split-channels", "--out", tmp_path / "ds"], capsys)
    ds = load_dataset(tmp_path / "ds")
    assert sorted(ds.stems) == sorted(f"{s}_1_grip_run-1_{m}" for s in ("01", "02") for m in ("FDI", "ECR"))
    rec = ds.load("02_1_grip_run-1_ECR")
    assert rec.ch_names == ("ECR",) and rec.meta["muscle"] == "ECR" and (rec.events["kind"] == "grip").sum() == 1


def test_multi_rate_file_keeps_the_emg_stream_and_status_triggers(tmp_path, capsys):
    """EMG at 1000 Hz beside a 100 Hz accelerometer and BioSemi-style Status line: one Recording at the EMG rate."""
    edfio = pytest.importorskip("edfio")
    root = build(tmp_path / "bids", subjects=("01",))
    rng = np.random.default_rng(0)
    status = np.r_[np.zeros(100), np.ones(5), np.zeros(295)]
    edfio.Edf([edfio.EdfSignal(rng.normal(size=4000) * 50, 1000, label="EMG1", physical_dimension="uV",
                               physical_range=(-300, 300)),
               edfio.EdfSignal(rng.normal(size=400), 100, label="ACC", physical_dimension="g", physical_range=(-5, 5)),
               edfio.EdfSignal(status, 100, label="Status", physical_dimension="Boolean", physical_range=(0, 1))]
              ).write(sidecar(root, "emg.edf"))
    tsv(sidecar(root, "channels.tsv"), ["name", "type", "units", "target_muscle"],
        [["EMG1", "EMG", "uV", "VL"], ["ACC", "MISC", "g", "n/a"], ["Status", "TRIG", "n/a", "n/a"]])
    run_cli(["convert", root, "--bids", "--out", tmp_path / "ds"], capsys)
    ds = load_dataset(tmp_path / "ds")
    rec = ds.load(ds.stems[0])
    assert rec.fs == 1000 and rec.ch_names == ("EMG1",) and rec.meta["muscle"] == "VL"
    assert rec.events[rec.events["kind"] == "trigger"]["sample"].tolist() == [1000]


def test_sidecars_inherited_from_the_subject_folder(tmp_path, capsys):
    """BIDS' inheritance: one _channels.tsv / _emg.json for every run of a subject, the nearest one wins."""
    root = build(tmp_path / "bids", subjects=("01",))
    for suffix in ("channels.tsv", "emg.json"):
        sidecar(root, suffix).rename(root / "sub-01" / f"sub-01_task-grip_{suffix}")
    (root / "task-grip_emg.json").write_text(json.dumps({"SamplingFrequency": 2000, "EMGGround": "wrist"}))
    tsv(root / "task-grip_events.tsv", ["onset", "duration"], [[9.0, 1.0]])  # overridden by the run's own
    run_cli(["convert", root, "--bids", "--out", tmp_path / "ds"], capsys)  # 2000 Hz at the root is overridden
    ds = load_dataset(tmp_path / "ds")
    rec = ds.load(ds.stems[0])
    assert rec.ch_names == ("FDI", "ECR") and rec.meta["emg_ground"] == "wrist"
    assert rec.meta["emg_reference"] == "bipolar" and sorted(set(rec.events["kind"])) == ["grip", "rest", "trigger"]


# ------------------------------------------------------------------ bad input
def _convert_error(root: Path, tmp_path: Path, capsys) -> str:
    """The one error line of `convert --bids` on ``root`` (exit 2, no traceback, nothing written)."""
    out = tmp_path / "ds"
    _, err = run_cli(["convert", root, "--bids", "--out", out], capsys, code=2)
    lines = err.strip().splitlines()
    assert lines[-1].startswith("error: ") and "Traceback" not in err, err
    assert not out.exists()  # nothing written
    return lines[-1]


def test_symlink_out_of_the_root(tmp_path, capsys):
    root = build(tmp_path / "bids")
    outside = tmp_path / "elsewhere.edf"
    write_edf(Recording(signals(5), FS, [c[0] for c in CHANNELS]), outside)
    link = emg_dir(root, "02") / "sub-02_ses-1_task-grip_run-2_emg.edf"
    link.symlink_to(outside)
    line = _convert_error(root, tmp_path, capsys)
    assert all(n in line for n in (str(link), "outside the BIDS root")), line


def test_symlinked_folder_out_of_the_root(tmp_path, capsys):
    root = build(tmp_path / "bids")
    (tmp_path / "other").mkdir()
    (root / "sub-03").symlink_to(tmp_path / "other", target_is_directory=True)
    line = _convert_error(root, tmp_path, capsys)
    assert all(n in line for n in (str(root / "sub-03"), "outside the BIDS root")), line


def test_symlink_inside_the_root_is_read_through(tmp_path, capsys):
    """DataLad datasets are links into their own .git/annex: read under the link's (BIDS) name."""
    root = build(tmp_path / "bids", subjects=("01",))
    f = sidecar(root, "emg.edf")
    store = root / ".git" / "annex" / "objects"
    store.mkdir(parents=True)
    f.rename(store / "MD5E-s1234--abc.edf")
    f.symlink_to(store / "MD5E-s1234--abc.edf")
    run_cli(["convert", root, "--bids", "--out", tmp_path / "ds"], capsys)
    assert load_dataset(tmp_path / "ds").stems == ["01_1_grip_run-1"]


@pytest.mark.parametrize("participant", ["sub-../x", "01"])
def test_participant_id_not_a_label(tmp_path, capsys, participant):
    root = build(tmp_path / "bids")
    tsv(root / "participants.tsv", ["participant_id", "age"], [[participant, 30], ["sub-02", 31]])
    line = _convert_error(root, tmp_path, capsys)
    assert all(n in line for n in ("participants.tsv", "row 2", repr(participant))), line


def test_file_name_label_not_bids(tmp_path, capsys):
    root = build(tmp_path / "bids")
    p = sidecar(root, "emg.edf")
    bad = p.rename(p.with_name(p.name.replace("task-grip", "task-gr.ip")))
    line = _convert_error(root, tmp_path, capsys)
    assert all(n in line for n in (bad.name, "'task-gr.ip'", "not a BIDS label")), line
    bad.rename(p)
    p = sidecar(root, "emg.edf", "02")
    p.rename(p.with_name("sub-02_grip_emg.edf"))  # no entity for 'grip': not skipped silently
    line = _convert_error(root, tmp_path, capsys)
    assert all(n in line for n in ("sub-02_grip_emg.edf", "not a BIDS-EMG file name")), line


def test_subject_of_name_and_folder_differ(tmp_path, capsys):
    root = build(tmp_path / "bids")
    for suffix in ("emg.edf", "emg.json", "channels.tsv", "events.tsv"):
        p = sidecar(root, suffix, "02")
        p.rename(p.with_name(p.name.replace("sub-02", "sub-05")))
    line = _convert_error(root, tmp_path, capsys)
    assert all(n in line for n in ("sub-05", "folder sub-02")), line


@pytest.mark.parametrize("case", ["renamed", "missing_row", "extra_row"])
def test_channels_tsv_rows_do_not_match_the_file(tmp_path, capsys, case):
    root = build(tmp_path / "bids")
    rows = list(CHANNELS)
    if case == "renamed":
        rows[1] = ("EMGX",) + rows[1][1:]
    elif case == "missing_row":
        rows = rows[:3] + rows[4:]  # no row for ACC
    else:
        rows.append(("EMG9", "EMG", "uV", "good", "BB"))
    tsv(sidecar(root, "channels.tsv"), ["name", "type", "units", "status", "target_muscle"], rows)
    line = _convert_error(root, tmp_path, capsys)
    assert all(n in line for n in (
        str(sidecar(root, "channels.tsv")), "do not match", sidecar(root, "emg.edf").name)), line
    expect = {"renamed": ["'EMGX'", "'EMG2'"], "missing_row": ["not in the table: ['ACC']"],
              "extra_row": ["not in the file: ['EMG9']"]}[case]
    assert all(e in line for e in expect), line


def test_sidecar_rate_mismatch_names_both_files(tmp_path, capsys):
    root = build(tmp_path / "bids")
    js = sidecar(root, "emg.json")
    js.write_text(json.dumps({"SamplingFrequency": 2000}))
    line = _convert_error(root, tmp_path, capsys)
    assert all(n in line for n in (str(js), "2000 Hz", str(sidecar(root, "emg.edf")), "1000 Hz")), line


@pytest.mark.parametrize("text,needle", [
    ("name\ttype\tunits\nEMG1\tEMG\n", "row 2 has 2 field(s)"),
    ("name,type,units\nEMG1,EMG,uV\n", "not tab-separated"),
    ("name\tunits\nEMG1\tuV\n", "needs column(s) ['type']"),
    ("", "empty"),
])
def test_malformed_channels_tsv(tmp_path, capsys, text, needle):
    root = build(tmp_path / "bids")
    sidecar(root, "channels.tsv").write_text(text)
    line = _convert_error(root, tmp_path, capsys)
    assert all(n in line for n in (str(sidecar(root, "channels.tsv")), needle)), line


def test_malformed_events_tsv_and_json(tmp_path, capsys):
    root = build(tmp_path / "bids")
    tsv(sidecar(root, "events.tsv"), ["onset", "duration", "trial_type"], [["soon", 0.5, "grip"]])
    line = _convert_error(root, tmp_path, capsys)
    assert all(n in line for n in (str(sidecar(root, "events.tsv")), "row 2", "'soon'")), line
    tsv(sidecar(root, "events.tsv"), ["onset", "duration", "trial_type"], [[1.0, 0.5, "grip"]])
    sidecar(root, "emg.json").write_text("{SamplingFrequency: 1000")
    line = _convert_error(root, tmp_path, capsys)
    assert all(n in line for n in (str(sidecar(root, "emg.json")), "not valid JSON")), line


def test_data_file_missing_for_a_sidecar(tmp_path, capsys):
    root = build(tmp_path / "bids")
    sidecar(root, "emg.edf", "02").unlink()
    line = _convert_error(root, tmp_path, capsys)
    assert all(n in line for n in ("sub-02_ses-1_task-grip_run-1_", "no EMG data file for this sidecar")), line


def test_events_past_the_end_of_the_recording(tmp_path, capsys):
    root = build(tmp_path / "bids")
    tsv(sidecar(root, "events.tsv"), ["onset", "duration", "trial_type"], [[1.0, 0.5, "grip"], [4.5, 0.1, "late"]])
    line = _convert_error(root, tmp_path, capsys)
    assert all(n in line for n in (str(sidecar(root, "events.tsv")), "row 3", "onset 4.5 s", "0-4 s")), line


def test_unknown_units(tmp_path, capsys):
    root = build(tmp_path / "bids")
    rows = [("EMG1", "EMG", "furlong", "good", "FDI")] + CHANNELS[1:]
    tsv(sidecar(root, "channels.tsv"), ["name", "type", "units", "status", "target_muscle"], rows)
    line = _convert_error(root, tmp_path, capsys)
    assert all(n in line for n in (str(sidecar(root, "channels.tsv")), "'EMG1'", "unknown unit 'furlong'")), line


def test_units_that_disagree_with_the_file(tmp_path, capsys):
    root = build(tmp_path / "bids")
    rows = [("EMG1", "EMG", "mV", "good", "FDI")] + CHANNELS[1:]
    tsv(sidecar(root, "channels.tsv"), ["name", "type", "units", "status", "target_muscle"], rows)
    line = _convert_error(root, tmp_path, capsys)
    assert all(n in line for n in (str(sidecar(root, "channels.tsv")), "'mV'", "'uV'")), line


def test_brainvision_data_is_refused_not_skipped(tmp_path, capsys):
    root = build(tmp_path / "bids")
    f = emg_dir(root) / "sub-01_ses-1_task-grip_run-2_emg.vhdr"
    f.write_text("Brain Vision Data Exchange Header File Version 1.0\n")
    line = _convert_error(root, tmp_path, capsys)
    assert all(n in line for n in (str(f), "EDF or BDF")), line


def test_output_inside_the_root_is_not_an_input(tmp_path, capsys):
    root = build(tmp_path / "bids")
    run_cli(["convert", root, "--bids", "--out", root / "derivatives" / "myoflow"], capsys)
    run_cli(["convert", root, "--bids", "--out", root / "myoflow"], capsys)  # again, beside sub-*: still 2 items
    assert len(load_dataset(root / "myoflow")) == 2


# ------------------------------------------------------------------ end to end: BIDS → convert → muscle-id
def _bursts(muscle: str, side: str, rng: np.random.Generator, seconds: float = 14.0) -> np.ndarray:
    """Two channels of rest + 1.5 s contractions every 3.5 s (µV); the spectrum depends on the muscle."""
    from scipy.signal import butter, sosfiltfilt

    n = int(seconds * FS)
    band = {"BB": (30, 120), "TA": (80, 300)}[muscle]
    gain = 1.0 if side == "L" else 0.6
    burst = sosfiltfilt(butter(4, band, "bandpass", fs=FS, output="sos"), rng.normal(size=(2, n)), axis=1)
    on = np.zeros(n)
    for t0 in np.arange(1.0, seconds - 2.0, 3.5):
        on[int(t0 * FS):int((t0 + 1.5) * FS)] = 1.0
    return 2.0 * rng.normal(size=(2, n)) + 200.0 * gain * burst * on


def test_bids_tree_to_a_muscle_id_run(tmp_path, capsys):
    root = tmp_path / "bids"
    root.mkdir()
    (root / "dataset_description.json").write_text(json.dumps({"Name": "arm-leg", "BIDSVersion": "1.11.0"}))
    tsv(root / "participants.tsv", ["participant_id", "age"], [[f"sub-0{i}", 40 + i] for i in (1, 2, 3)])
    (root / "task-flex_emg.json").write_text(json.dumps({"SamplingFrequency": 1000, "PowerLineFrequency": 50}))
    rng = np.random.default_rng(3)
    for i in (1, 2, 3):
        d = root / f"sub-0{i}" / "emg"
        d.mkdir(parents=True)
        for muscle in ("BB", "TA"):
            for side in ("L", "R"):
                stem = f"sub-0{i}_task-flex_acq-{muscle}{side}"
                write_edf(Recording(_bursts(muscle, side, rng), FS, ["e1", "e2"], units="uV"), d / f"{stem}_emg.edf")
                tsv(d / f"{stem}_channels.tsv", ["name", "type", "units", "target_muscle", "side"],
                    [["e1", "EMG", "uV", muscle, side], ["e2", "EMG", "uV", muscle, side]])
    ds, run = tmp_path / "Arm-Leg", tmp_path / "run"
    out, _ = run_cli(["convert", root, "--out", ds], capsys)
    assert "wrote 12 item(s), 3 subject(s)" in out
    folder = load_dataset(ds)
    rec = folder.load("01_flex_acq-BBL_BB_L")
    assert rec.meta["muscle"] == "BB" and rec.meta["side"] == "L" and rec.meta["power_line_frequency"] == 50
    run_arm_leg(ds, run, capsys)
    assert (run / "report.html").is_file()


def test_inspect_on_a_bids_root_says_convert_detects_it(tmp_path, capsys):
    # a BIDS user's first try: `inspect` on the tree must point to convert without a pattern
    root = build(tmp_path / "bids")
    _, err = run_cli(["inspect", root], capsys, code=2)
    assert "BIDS dataset" in err and "--pattern" not in err and str(root) in err
