"""Regression tests for `myoflow convert` found by acting as a new user with their own files (qa, issue 14).

Each bad case must end with exit code 2 and one ``error: <file>: <problem>`` line, written before anything
lands in ``--out``; the silent cases (events copied onto the wrong recordings, a one-column table split at a
letter, a header rate contradicting the time column) are checked on the converted folder itself.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from myoflow.cli import main
from myoflow.io import read


def _csv(path: Path, names=("a", "b"), n: int = 600, rate_line: str = "Sampling rate: 1000 Hz\n",
         time_fs: float | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    x = np.random.default_rng(len(str(path))).normal(size=(n, len(names))) * 0.1
    header = ",".join(f"{c} [mV]" for c in names)
    if time_fs is not None:
        x = np.column_stack([np.arange(n) / time_fs, x])
        header = "time," + header
    rows = "\n".join(",".join(f"{v:.6f}" for v in r) for r in x)
    path.write_text(f"{rate_line}{header}\n{rows}\n")
    return path


@pytest.fixture
def raw(tmp_path) -> Path:
    """Two subjects x two muscles, one CSV each (0.6 s at 1 kHz)."""
    for s in ("01", "02"):
        for m in ("VL", "GM"):
            _csv(tmp_path / "raw" / f"S{s}_{m}.csv")
    return tmp_path / "raw"


def _run(argv, capsys) -> tuple[int, str]:
    try:
        main([str(a) for a in argv])
    except SystemExit as exc:
        return int(exc.code or 0), capsys.readouterr().err
    return 0, capsys.readouterr().err


def _one_error(code: int, err: str) -> str:
    """The single ``error: ...`` line of a run that must exit 2 without a traceback (checked here)."""
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("WARNING")]
    assert code == 2 and "Traceback" not in err, err
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


def _events(tmp_path: Path, rows: list[dict], name: str = "events.csv") -> Path:
    p = tmp_path / name
    pd.DataFrame(rows).to_csv(p, index=False)
    return p


def test_events_go_only_on_the_muscle_they_name(raw, tmp_path, capsys):
    # before: both recordings of a subject got the pulses of both muscles (and duplicates at one sample)
    rows = [{"subject": "01", "muscle": m, "kind": "stimulus", "time_s": t}
            for m, times in (("VL", (0.1, 0.2, 0.3)), ("GM", (0.15, 0.25))) for t in times]
    ev = _events(tmp_path, rows)
    code, err = _run(["convert", raw, "--pattern", "S{subject}_{muscle}", "--events", ev,
                      "--out", tmp_path / "ds"], capsys)
    assert code == 0, err
    ds = read(tmp_path / "ds")
    vl, gm, other = ds.load("01_VL"), ds.load("01_GM"), ds.load("02_VL")
    assert vl.events_of("stimulus").tolist() == [100, 200, 300]
    assert gm.events_of("stimulus").tolist() == [150, 250]
    assert len(other.events) == 0
    assert "muscle" not in vl.events.columns  # an id column, not an event attribute


def test_events_keyed_on_subject_alone_still_go_on_every_recording(raw, tmp_path, capsys):
    ev = _events(tmp_path, [{"subject": "02", "kind": "heel_strike", "time_s": 0.2}])
    code, err = _run(["convert", raw, "--pattern", "S{subject}_{muscle}", "--events", ev,
                      "--out", tmp_path / "ds"], capsys)
    assert code == 0, err
    ds = read(tmp_path / "ds")
    assert [len(ds.load(s).events) for s in ("02_VL", "02_GM", "01_VL")] == [1, 1, 0]


BAD_EVENTS = {
    "unknown_subject": ([{"subject": "01", "kind": "k", "time_s": 0.1}, {"subject": "09", "kind": "k", "time_s": 0.1}],
                        "1 event row(s) match no converted item, e.g. row 3 {'subject': '09'}"),
    "side_on_items_without_sides": ([{"subject": "01", "side": "L", "kind": "k", "time_s": 0.1}],
                                    "no converted item has side 'L' (the items carry no side"),
    "muscle_typo": ([{"subject": "01", "muscle": "VLL", "kind": "k", "time_s": 0.1}],
                    "no converted item has muscle 'VLL' (items' muscle: ['GM', 'VL'])"),
    "word_time": ([{"subject": "01", "kind": "k", "time_s": "abc"}], "row 2: time_s 'abc' is not a finite number"),
    "nan_time": ([{"subject": "01", "kind": "k", "time_s": float("nan")}], "row 2: time_s 'nan' is not a finite"),
    "empty_kind": ([{"subject": "01", "kind": "", "time_s": 0.1}], "row 2: empty event kind"),
    "no_kind_column": ([{"subject": "01", "time_s": 0.1}], "needs 'kind' and 'time_s' columns"),
    "all_outside": ([{"subject": "01", "muscle": "VL", "kind": "k", "time_s": 99.0}],
                    "none of the 1 'k' event(s) for this recording fall inside it"),
}


@pytest.mark.parametrize("case", BAD_EVENTS, ids=list(BAD_EVENTS))
def test_bad_events_table_is_one_line_naming_it(case, raw, tmp_path, capsys):
    rows, expected = BAD_EVENTS[case]
    ev = _events(tmp_path, rows)
    code, err = _run(["convert", raw, "--pattern", "S{subject}_{muscle}", "--events", ev,
                      "--out", tmp_path / "ds"], capsys)
    line = _one_error(code, err)
    assert str(ev) in line and expected in line, line


def test_events_partly_outside_are_dropped_with_a_warning(raw, tmp_path, capsys, caplog):
    ev = _events(tmp_path, [{"subject": "01", "muscle": "VL", "kind": "k", "time_s": t} for t in (0.1, 50.0)])
    with caplog.at_level(logging.WARNING):
        code, err = _run(["convert", raw, "--pattern", "S{subject}_{muscle}", "--events", ev,
                          "--out", tmp_path / "ds"], capsys)
    assert code == 0, err
    assert any("1 'k' event(s) fall outside the recording" in r.getMessage() for r in caplog.records)
    assert read(tmp_path / "ds").load("01_VL").events_of("k").tolist() == [100]


def _table(tmp_path: Path, name: str, text: str | bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode() if isinstance(text, str) else text)
    return p


BAD_TABLES = {
    # option, file name, content, expected text
    "participants_empty": ("--participants", "part.csv", "", "participants table is empty (0 bytes)"),
    "participants_dup": ("--participants", "part.csv", "subject,age\n01,3\n01,4\n02,5\n",
                         "participants table lists subject(s) ['01'] more than once"),
    "participants_dotdot": ("--participants", "part.csv", "subject,age\n01,3\n02,4\n../x,5\n",
                            "subject '../x' is not allowed"),
    "participants_ids_differ": ("--participants", "part.csv", "subject,age\n1,3\n2,4\n",
                                "participants table lacks subject(s) ['01', '02']"),
    "events_empty": ("--events", "ev.csv", "", "events table is empty (0 bytes)"),
}


@pytest.mark.parametrize("case", BAD_TABLES, ids=list(BAD_TABLES))
def test_bad_side_table_is_one_line_naming_it(case, raw, tmp_path, capsys):
    option, name, text, expected = BAD_TABLES[case]
    p = _table(tmp_path, name, text)
    out = tmp_path / "ds"
    code, err = _run(["convert", raw, "--pattern", "S{subject}_{muscle}", option, p, "--out", out], capsys)
    line = _one_error(code, err)
    assert str(p) in line and expected in line, line


@pytest.mark.parametrize("text", ["subject\n01\n02\n", "subject;age\n01;30\n02;40\n", "subject\tage\n01\t30\n02\t40\n"],
                         ids=["one_column", "semicolon", "tab"])
def test_participants_delimiter_from_the_header(text, raw, tmp_path, capsys):
    # before: a one-column table was split at a letter by pandas' sniffer (columns ['s', 'bject'])
    p = _table(tmp_path, "part.csv", text)
    code, err = _run(["convert", raw, "--pattern", "S{subject}_{muscle}", "--participants", p,
                      "--out", tmp_path / "ds"], capsys)
    assert code == 0, err
    assert read(tmp_path / "ds").participants["subject"].tolist() == ["01", "02"]


def test_empty_manifest_and_one_column_manifest(raw, tmp_path, capsys):
    p = _table(raw, "m.csv", "")
    line = _one_error(*_run(["convert", "--manifest", p, "--out", tmp_path / "ds"], capsys))
    assert str(p) in line and "manifest is empty" in line, line
    p = _table(raw, "m.csv", "file\nS01_VL.csv\n")  # read as one 'file' column, then: no subject
    line = _one_error(*_run(["convert", "--manifest", p, "--out", tmp_path / "ds"], capsys))
    assert "no subject for" in line, line


def test_manifest_listing_a_file_twice(raw, tmp_path, capsys):
    # before: merged silently into one item, the second row's labels lost
    p = _table(raw, "m.csv", "file,subject,muscle\nS01_VL.csv,01,VL\nS01_VL.csv,01,GM\n")
    code, err = _run(["convert", "--manifest", p, "--out", tmp_path / "ds"], capsys)
    line = _one_error(code, err)
    assert str(p) in line and "row 3: file 'S01_VL.csv' is listed again (first on row 2)" in line, line


@pytest.mark.parametrize("how", ["pattern", "manifest_muscle", "meta"])
def test_path_like_ids_refused_before_writing(how, tmp_path, capsys):
    out = tmp_path / "ds"
    if how == "pattern":
        f = _csv(tmp_path / "raw" / "S.._VL.csv")
        argv, named, expected = ["convert", tmp_path / "raw", "--pattern", "S{subject}_{muscle}"], f, "subject '..'"
    elif how == "manifest_muscle":
        f = _csv(tmp_path / "raw" / "S01.csv")
        m = _table(tmp_path / "raw", "m.csv", "file,subject,muscle\nS01.csv,01,../../x\n")
        argv, named, expected = ["convert", "--manifest", m], f, "muscle '../../x'"
    else:
        f = _csv(tmp_path / "raw" / "S01.csv")
        argv, named, expected = ["convert", f, "--pattern", "S{trial}", "--meta", "subject=../up"], f, "subject '../up'"
    code, err = _run([*argv, "--out", out], capsys)
    line = _one_error(code, err)
    assert str(named) in line and expected in line and "is not allowed" in line, line
    assert not out.exists()  # before: the folder was written, then refused on reading it back


def test_header_rate_contradicting_the_time_column(tmp_path, capsys):
    # before: the time column's 1000 Hz was taken silently over the header's 2000 Hz
    f = _csv(tmp_path / "rec.csv", names=("a",), rate_line="Sampling rate: 2000 Hz\n", time_fs=1000.0)
    code, err = _run(["inspect", f], capsys)
    line = _one_error(code, err)
    assert str(f) in line and "header states a sampling rate of 2000 Hz" in line, line
    assert "but the time column 'time' steps at 1000 Hz" in line, line
    code, err = _run(["inspect", f, "--fs", "1000"], capsys)  # the user settles it
    assert code == 0, err
    g = _csv(tmp_path / "agree.csv", names=("a",), rate_line="Sampling rate: 1000 Hz\n", time_fs=1000.0)
    assert read(g).fs == 1000.0


def test_repeated_channel_names(tmp_path, capsys, caplog):
    f = _csv(tmp_path / "raw" / "S01_x.csv", names=("RF", "RF", "BF"))
    with caplog.at_level(logging.WARNING):
        rec = read(f)
    assert rec.ch_names == ("RF", "RF_2", "BF")
    assert any("'RF' repeated" in r.getMessage() and str(f) in r.getMessage() for r in caplog.records)
    # with --split-channels the name is the class: 'RF' and 'RF_2' would become two muscles
    code, err = _run(["convert", f, "--pattern", "S{subject}_*", "--split-channels", "--out", tmp_path / "ds"], capsys)
    line = _one_error(code, err)
    assert str(f) in line and "repeats channel name 'RF'" in line, line


def test_converting_again_into_a_folder_inside_the_inputs(raw, capsys):
    # before: the second run took the first run's index.csv, participants.csv and .h5 files as inputs
    out = raw / "ds"
    for _ in range(2):
        code, err = _run(["convert", raw, "--pattern", "S{subject}_{muscle}", "--out", out], capsys)
        assert code == 0, err
    assert sorted(read(out).stems) == ["01_GM", "01_VL", "02_GM", "02_VL"]
