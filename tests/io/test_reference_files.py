"""Files written by independent reference implementations, read by myoflow, against what THEY read back.

The fixtures in ``tests/data/reference`` were written by ``make_reference_files.py`` (there) with wfdb, pyEDFlib,
mne-bids, py-c3d and pynwb, and each ``*.expected.npz`` holds what the reference reads back (wfdb, pyEDFlib, MNE,
mne-bids, py-c3d, pynwb): samples in physical units, rate, channel names, units, annotations. myoflow must read the
same samples in volts (within one quantisation step), the same rate, names and events, or refuse a file in one
line where it deliberately does. The reference libraries are not imported here.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from myoflow.containers import Trial
from myoflow.errors import DataError
from myoflow.io import load_dataset, read

from ..test_user_data import run_cli

REF = Path(__file__).resolve().parents[1] / "data" / "reference"
#: The reference's unit → volts (kept here so that a wrong scale in myoflow's table cannot hide).
TO_VOLTS = {"V": 1.0, "mV": 1e-3, "uV": 1e-6, "µV": 1e-6}
WFDB_FORMATS = [8, 16, 24, 32, 61, 80, 160, 212, 310, 311]


def expected(stem: str) -> tuple[list[np.ndarray], dict]:
    z = np.load(REF / f"{stem}.expected.npz", allow_pickle=False)
    meta = json.loads(str(z["meta"]))
    return [z[f"ch{i}"] for i in range(len(meta["names"]))], meta


def assert_same_channels(rec, chans, meta, idx=None) -> None:
    """Names, rate, units (voltages as V) and samples within one quantisation step of the reference's."""
    idx = list(range(len(chans))) if idx is None else idx
    assert list(rec.ch_names) == [meta["names"][i] for i in idx]
    assert {meta["fs"][i] for i in idx} == {rec.fs}
    for row, i in enumerate(idx):
        unit = meta["units"][i]
        scale = TO_VOLTS.get(unit)
        assert rec.units[row] == ("V" if scale else unit), (meta["names"][i], rec.units[row], unit)
        want = chans[i] * (scale or 1.0)
        step = meta["step"][i] * (scale or 1.0)
        assert rec.data.shape[1] == want.size
        ok = np.isfinite(want)
        err = np.max(np.abs(rec.data[row][ok] - want[ok]))
        # containers hold float32: a 32-bit format's step is finer than float32's spacing at the peak
        tol = step * 1.001 + float(np.spacing(np.float32(np.max(np.abs(want[ok])))))
        assert err <= tol, f"{meta['names'][i]}: off by {err / step:.3g} steps"


# ------------------------------------------------------------------------------------------------ WFDB
@pytest.mark.parametrize("fmt", WFDB_FORMATS)
def test_wfdb_formats_read_as_wfdb_reads_them(fmt):
    chans, meta = expected(f"wfdb/fmt{fmt}")
    rec = read(REF / "wfdb" / f"fmt{fmt}.hea")
    assert_same_channels(rec, chans, meta)
    assert rec.meta["base_time"] == "10:30:00" and rec.meta["base_date"] == "02/01/2024"
    assert rec.meta["comments"].splitlines() == meta["comments"]
    assert (rec.meta["age"], rec.meta["sex"]) == (54, "F")


def test_wfdb_invalid_sample_is_the_gap_wfdb_reads():
    chans, meta = expected("wfdb/gap16")
    gap = np.flatnonzero(~np.isfinite(chans[1]))
    assert gap.tolist() == [37]  # the reference reads the invalid code as NaN
    with pytest.raises(DataError, match=r"1 missing sample.*first in signal 'EMG2' at sample 37"):
        read(REF / "wfdb" / "gap16.hea")
    rec = read(REF / "wfdb" / "gap16.hea", bad_rows="interpolate")
    assert_same_channels(rec, chans, meta)  # every other sample as wfdb reads it
    assert np.isfinite(rec.data).all() and rec.meta["bad_rows_changed"] == 1


def test_wfdb_samples_per_frame_read_at_the_frame_rate_times_spf():
    chans, meta = expected("wfdb/spf2")
    rec = read(REF / "wfdb" / "spf2.hea")
    assert rec.fs == 1000.0 == meta["fs"][0]
    assert_same_channels(rec, chans, meta)


def test_wfdb_signals_of_different_samples_per_frame_are_refused(capsys):
    _, err = run_cli(["inspect", REF / "wfdb" / "spf21.hea"], capsys, code=2)
    assert err.strip().startswith("error: ") and "spf21.hea" in err
    assert "different samples per frame [1, 2]" in err and len(err.strip().splitlines()) == 1


def test_wfdb_flac_format_is_refused_by_name(capsys):
    _, err = run_cli(["inspect", REF / "wfdb" / "flac516.hea"], capsys, code=2)
    assert "format 516 is not supported" in err and len(err.strip().splitlines()) == 1


def test_wfdb_annotations_are_the_events_wfdb_reads():
    chans, meta = expected("wfdb/annot")
    rec = read(REF / "wfdb" / "annot.hea")
    assert_same_channels(rec, chans, meta)
    ev, want = rec.events, meta["events"]
    assert ev["sample"].tolist() == want["sample"]  # 250 -> 1800 is a SKIP (> 1023 samples)
    # myoflow's kind: the aux text when there is one, else the code's mnemonic
    assert ev["kind"].tolist() == [a or s for a, s in zip(want["aux"], want["symbol"])]
    assert ev["aux"].tolist() == want["aux"]


def test_wfdb_multi_segment_record_joins_as_wfdb_does():
    chans, meta = expected("wfdb/multi")
    rec = read(REF / "wfdb" / "multi.hea")
    assert_same_channels(rec, chans, meta)


def test_wfdb_variable_layout_record_maps_signals_by_name_and_a_null_segment_is_a_gap():
    chans, meta = expected("wfdb/var")
    gap = [np.flatnonzero(~np.isfinite(c)).tolist() for c in chans]
    assert gap == [[100, 101, 102, 103]] * 3  # wfdb reads the '~' segment as missing samples
    with pytest.raises(DataError, match=r"12 missing sample.*first in signal 'TA' at sample 100"):
        read(REF / "wfdb" / "var.hea")
    rec = read(REF / "wfdb" / "var.hea", bad_rows="interpolate")
    assert_same_channels(rec, chans, meta)  # the second segment's SOL, TA, GL order is undone by name


def test_wfdb_through_convert_keeps_the_samples(tmp_path, capsys):
    chans, meta = expected("wfdb/fmt212")
    run_cli(["convert", REF / "wfdb" / "fmt212.hea", "--pattern", "{trial}", "--meta", "subject=01",
             "--out", tmp_path / "ds"], capsys)
    ds = load_dataset(tmp_path / "ds")
    (stem,) = ds.stems
    assert_same_channels(ds.load(stem), chans, meta)


# ------------------------------------------------------------------------------------------ EDF / BDF
def assert_same_annotations(rec, meta) -> None:
    want = meta["events"]
    ev = rec.events
    ann = ev[ev["kind"] != "trigger"] if "kind" in ev else ev
    assert ann["kind"].tolist() == want["text"]
    assert ann["sample"].tolist() == [int(round(o * rec.fs)) for o in want["onset"]]
    got = [None if np.isnan(d) else float(d) for d in ann["duration"]]  # no duration: NaN here, None there
    assert len(got) == len(want["duration"])
    for g, w in zip(got, want["duration"]):
        assert (g is None and w is None) or (g is not None and w is not None and abs(g - w) < 1e-9), (g, w)


@pytest.mark.parametrize("name", ["edfplus.edf", "plain.edf", "bdfplus.bdf"])
def test_edf_bdf_read_as_pyedflib_reads_them(name):
    chans, meta = expected(f"edf/{Path(name).stem}")
    rec = read(REF / "edf" / name)
    assert_same_channels(rec, chans, meta)
    if meta["events"]["text"]:
        assert_same_annotations(rec, meta)
    else:
        assert len(rec.events) == 0
    # pyEDFlib reads a patient code only from EDF+/BDF+; its plain EDF holds the same subfields, kept as such
    assert rec.meta["subject"] == "P007" and meta["patient_code"] in ("P007", "")


def test_plain_edf_free_text_patient_field_is_no_subject(tmp_path, capsys):
    """A plain EDF's patient field is free text: its first word ("Subject") is not a subject id."""
    raw = bytearray((REF / "edf" / "plain.edf").read_bytes())
    for k, text in enumerate(("Subject 3 left leg", "Subject 4 right leg")):
        raw[8:88] = text.encode().ljust(80)
        (tmp_path / f"s{k}.edf").write_bytes(bytes(raw))
    assert read(tmp_path / "s0.edf").meta.get("subject") is None
    # two people's files were converted as one subject "Subject"; now the missing id is asked for
    (tmp_path / "in").mkdir()
    for k in range(2):
        (tmp_path / f"s{k}.edf").rename(tmp_path / "in" / f"s{k}.edf")
    _, err = run_cli(["convert", tmp_path / "in", "--pattern", "{trial}", "--out", tmp_path / "ds"], capsys, code=2)
    assert "no subject for ['s0.edf', 's1.edf']" in err
    raw[8:88] = b"P007 M 02-JAN-1980 Jane_Doe".ljust(80)  # the subfields' shape: a code
    (tmp_path / "p.edf").write_bytes(bytes(raw))
    assert read(tmp_path / "p.edf").meta["subject"] == "P007"


def test_edf_with_two_rates_is_a_trial_of_one_stream_per_rate(capsys):
    chans, meta = expected("edf/tworates")
    trial = read(REF / "edf" / "tworates.edf")
    assert isinstance(trial, Trial) and sorted(trial.streams) == ["1000Hz", "100Hz"]
    assert_same_channels(trial.streams["1000Hz"], chans, meta, idx=[0])
    assert_same_channels(trial.streams["100Hz"], chans, meta, idx=[1])
    assert_same_annotations(trial.streams["1000Hz"], meta)
    assert_same_annotations(trial.streams["100Hz"], meta)
    out, _ = run_cli(["inspect", REF / "edf" / "tworates.edf", "--json"], capsys)
    assert "ACC" in out and "EMG1" in out


# ------------------------------------------------------------------------------------------------ BIDS
def test_bids_bdf_whose_table_says_v_over_a_microvolt_header_reads_the_file_unit(tmp_path, capsys, caplog):
    """mne-bids 0.20 writes units 'V' in the _channels.tsv of a BDF it exports in µV (its EDF tables say µV) and
    reads the file's unit: so does myoflow, with a warning; two different prefixed units stay refused."""
    run_cli(["convert", REF / "bids", "--bids", "--out", tmp_path / "ds"], capsys)
    assert "the table gives unit 'V'" in caplog.text and "states 'uV'" in caplog.text
    ds = load_dataset(tmp_path / "ds")
    (stem,) = [s for s in ds.stems if s.startswith("02")]
    chans, meta = expected("bids_sub-02")
    assert_same_channels(ds.load(stem), chans, meta)  # the samples mne-bids reads, not 10**6 times them
    root = tmp_path / "bids"
    shutil.copytree(REF / "bids", root)
    table = root / "sub-02" / "ses-a" / "emg" / "sub-02_ses-a_task-walk_run-1_channels.tsv"
    table.write_text(table.read_text(encoding="utf-8").replace("\tV\t", "\tmV\t"), encoding="utf-8")
    _, err = run_cli(["convert", root, "--bids", "--out", tmp_path / "ds2"], capsys, code=2)
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: ")
    assert "sub-02_ses-a_task-walk_run-1_channels.tsv: channel 'EMG_TA': the table gives unit 'mV'" in err
    assert "states 'uV'" in err and "write 'uV' in the table's units column" in err


def test_bids_dataset_written_by_mne_bids_converts_to_what_mne_bids_reads(tmp_path, capsys):
    root = tmp_path / "bids"
    shutil.copytree(REF / "bids", root)
    # the table saying what the BDF's header says (µV) reads the same as its 'V' above
    table = root / "sub-02" / "ses-a" / "emg" / "sub-02_ses-a_task-walk_run-1_channels.tsv"
    table.write_text(table.read_text(encoding="utf-8").replace("\tV\t", "\tµV\t"), encoding="utf-8")
    out, _ = run_cli(["convert", root, "--bids", "--out", tmp_path / "ds"], capsys)
    ds = load_dataset(tmp_path / "ds")
    assert len(ds.stems) == 2
    for sub, kind in (("01", "edf"), ("02", "bdf")):
        chans, meta = expected(f"bids_sub-{sub}")
        assert set(meta["types"]) == {"emg"} and meta["data_file"].endswith(f"_emg.{kind}")
        (stem,) = [s for s in ds.stems if s.startswith(sub)]
        rec = ds.load(stem)
        assert_same_channels(rec, chans, meta)  # sub-01's EMG_SOL is 'bad' in _channels.tsv: dropped by both
        m = rec.meta
        assert (m["subject"], m["session"], m["task"], str(m["run"])) == (sub, "a", "walk", "1")
        assert m["power_line_frequency"] == 50 and m["emg_placement_scheme"] == "Measured"
        assert_same_annotations(rec, meta)  # each event once, though mne-bids stores it twice
    assert json.loads(str(np.load(REF / "bids_sub-01.expected.npz")["meta"]))["bads"] == ["EMG_SOL"]
    want = json.loads((REF / "bids_participants.expected.json").read_text())
    parts = ds.participants.set_index("subject")
    for row in want:
        got = parts.loc[row["participant_id"][4:]]
        assert got["sex"] == row["sex"] and got["age"] == float(row["age"])
        assert got["height"] == pytest.approx(float(row["height"])) and got["weight"] == pytest.approx(
            float(row["weight"]))
        assert row["hand"] == "n/a" and pd.isna(got["hand"])


# ------------------------------------------------------------------------------------------------- C3D
def test_c3d_analogs_written_by_py_c3d_read_as_py_c3d_reads_them(caplog):
    chans, meta = expected("c3d/offsets")
    assert meta["offsets"] == [10, 3, 0]
    with caplog.at_level("WARNING"):
        rec = read(REF / "c3d" / "offsets.c3d")
    assert_same_channels(rec, chans, meta)  # (stored - OFFSET) * SCALE * GEN_SCALE, mV/uV to V, N kept
    assert "OFFSET" not in caplog.text


def test_c3d_negative_offset_is_read_as_ezc3d_does_and_warned(caplog):
    """ezc3d subtracts |OFFSET|; py-c3d (and the C3D manual) subtract OFFSET: a constant shift, named."""
    chans, meta = expected("c3d/negoffset")
    assert meta["offsets"] == [10, -3, 0]
    with caplog.at_level("WARNING"):
        rec = read(REF / "c3d" / "negoffset.c3d")
    shift = rec.data[1] - chans[1] * 1e-6
    # 2 |OFFSET| SCALE GEN_SCALE µV, within float32's spacing at the channel's peak (800 µV)
    assert np.allclose(shift, -2 * 3 * 0.5 * 0.5 * 1e-6, rtol=0, atol=1e-10)
    assert np.allclose(rec.data[[0, 2]], [chans[0] * 1e-3, chans[2]], rtol=0, atol=1e-6)
    assert "negative ANALOG:OFFSET on EMG_GL (OFFSET -3: 1.5 in its unit)" in caplog.text


# ------------------------------------------------------------------------------------------------- NWB
def test_nwb_electrical_series_written_by_pynwb_reads_in_volts_as_pynwb_does():
    """int16 counts × channel_conversion × conversion + offset (NWB's rule), electrodes named by location."""
    chans, meta = expected("nwb/electrical")
    rec = read(REF / "nwb" / "electrical.nwb")
    assert_same_channels(rec, chans, meta)
    assert rec.t0 == meta["t0"] == 0.25 and rec.meta["subject"] == meta["subject"] == "S07"


def test_biosemi_status_channel_gives_the_trigger_onsets_mne_finds():
    """'Status' (dimension Boolean) with device bits above the 16 trigger bits: events where MNE finds them."""
    chans, meta = expected("edf/status")
    rec = read(REF / "edf" / "status.bdf")
    assert list(rec.ch_names) == ["EXG1"]  # the Status channel is events, not a signal
    assert_same_channels(rec, chans, meta, idx=[0])
    trig = rec.events[rec.events["kind"] == "trigger"]
    assert trig["sample"].tolist() == meta["triggers"]["sample"] == [50, 150, 153, 350]
    assert trig["code"].tolist() == meta["triggers"]["code"] == [3, 255, 7, 3]
