"""A ninth sweep of new labs: files as Windows/Excel, macOS and lab software leave them (LabChart, AcqKnowledge,
OpenBCI), OS clutter in the data folder, signal faults (a pulled cable, a sync line, ADC counts), cohorts of other
shapes (two amplifiers, two muscles per file, German gait exports), and the CLI given a file where it wants a folder.

Tried and already fine (no test here): a UTF-8 BOM, CRLF and CR-only line ends, ``;`` columns with decimal commas
and a trailing empty column, a units row under the header, quoted numbers, UTF-16 and Latin-1 tables, an Excel
``sep=;`` line, upper-case ``.CSV``/``.EDF``/``.MAT`` suffixes, folder names with spaces, ``ü`` and parentheses
(convert, inspect, run, report, export); ``Thumbs.db``, ``desktop.ini``, ``rec.csv~``, a zip archive, an empty
sub-folder and a symlink loop in the input folder; ``convert --out`` and ``run --out``/``predict --out`` naming a
file; a time column that jumps (refused with the way out); 1111 Hz and 2222.22 Hz tables; a 0.5 V DC offset;
muscle-id with 6 muscles x 3 subjects and two sessions at 1000/2048 Hz; stimulated-mass with 2 frequencies and
left-side muscles only (after the existing window hint); gait with 1-2 subjects, NaN gaps in the angles
(--bad-rows interpolate); check-placement and gait predict with channels in another order or one extra channel;
a trigger channel of an EDF (read as events); an export cut mid-line (refused with --bad-rows).

Each test is the smallest input that showed the problem; each fails without its fix.
"""
from __future__ import annotations

import logging

import numpy as np

from ._builders import cli as _cli, one_error_line as _one_error_line


def _excel_csv(path, seed: int = 0, n: int = 3000, fs: float = 1000.0) -> None:
    """A two-channel export as Excel writes it on a German Windows: BOM, CRLF, ``;`` and decimal commas."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / fs
    env = (np.sin(2 * np.pi * 0.5 * t) > 0) + 0.05  # contractions of 1 s, so the burst detector finds some
    x = rng.standard_normal((n, 2)) * env[:, None] * 0.1
    rows = ["time;EMG1;EMG2;", "s;mV;mV;"] + [f"{t[i]:.3f};{x[i, 0]:.5f};{x[i, 1]:.5f};".replace(".", ",")
                                            for i in range(n)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(rows).encode() + b"\r\n")


# ------------------------------------------------------------------ clutter a Mac or a person leaves in the folder
def test_hidden_appledouble_and_readme_files_are_not_recordings(tmp_path, capsys, caplog):
    raw = tmp_path / "Lab (Zürich)" / "raw data"
    for s in ("01", "02"):
        _excel_csv(raw / f"S{s}_VL.CSV", seed=int(s))
    # a Mac copying to a USB stick leaves an AppleDouble '._' file beside each; Jupyter its checkpoints
    (raw / "._S01_VL.CSV").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        \x00\x02")
    (raw / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1\x00\x00")
    _excel_csv(raw / ".ipynb_checkpoints" / "S01_VL-checkpoint.CSV")
    (raw / "README.txt").write_text("Recorded 2026-11-03, subjects S01-S02\r\nSensors: Delsys Trigno\r\n")
    base = ["convert", raw, "--hint", "decimal=,", "--out", tmp_path / "ds"]
    with caplog.at_level(logging.WARNING):
        # was: '2 file name(s) do not match --pattern ...: ._S01_VL, README', and the checkpoint copy matched
        # as subject 01's muscle 'VL-checkpoint' (a third class of copied samples)
        code, _, err = _cli(base + ["--pattern", "S{subject}_{muscle}"], capsys)
    assert code == 0, err
    from myoflow.io import load_dataset

    assert load_dataset(tmp_path / "ds").stems == ["01_VL", "02_VL"]
    said = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert len(said) == 1 and "3 hidden or README file(s) skipped" in said[0], said
    # a pattern the clutter matches too: was an unreadable '._S01' subject
    code, _, err = _cli(base[:-1] + [tmp_path / "ds2", "--pattern", "{subject}_{muscle}"], capsys)
    assert code == 0, err
    assert load_dataset(tmp_path / "ds2").stems == ["S01_VL", "S02_VL"]
    # inspect on a folder of clutter only does not offer '._S01_VL.CSV' as a recording to inspect
    (tmp_path / "mac").mkdir()
    (tmp_path / "mac" / "._S01_VL.CSV").write_bytes((raw / "._S01_VL.CSV").read_bytes())
    (tmp_path / "mac" / "README.txt").write_text("notes\n")
    code, _, err = _cli(["inspect", tmp_path / "mac"], capsys)
    line = _one_error_line(code, err)
    assert "not a myoflow dataset" in line and "holds recording files" not in line, line


# ------------------------------------------------------------------ --data given a file
def test_run_data_naming_a_file_says_it_wants_the_folder(tmp_path, capsys):
    from myoflow.io import write_dataset
    from myoflow.containers import Recording

    _excel_csv(tmp_path / "S01_VL.csv")
    # was: '--data: folder not found' for a file that exists (the user looked for a typo)
    code, _, err = _cli(["run", "muscle-id", "--data", tmp_path / "S01_VL.csv", "--out", tmp_path / "r"], capsys)
    line = _one_error_line(code, err)
    assert "S01_VL.csv" in line and "names a file, not a dataset folder" in line and "myoflow convert" in line
    rec = Recording(np.zeros((1, 100)) + 1e-3, 1000.0, ["VL"], units="V", meta={"subject": "01", "muscle": "VL"})
    write_dataset(tmp_path / "ds", [("01_VL", rec)], None, {})
    code, _, err = _cli(["run", "muscle-id", "--data", tmp_path / "ds" / "dataset.json", "--out", tmp_path / "r"],
                        capsys)
    line = _one_error_line(code, err)
    assert f"--data {tmp_path / 'ds'}" in line
    assert not (tmp_path / "r").exists()


# ------------------------------------------------------------------ thousands separators from a spreadsheet
def test_numbers_with_thousands_separators_are_refused_not_repaired(tmp_path, capsys):
    rng = np.random.default_rng(0)
    counts = rng.normal(500.0, 50.0, 400)
    counts[200:203] = [1204.5, 1512.0, 1100.25]  # a few ADC counts reach 1000: Excel wrote them '1,204.5'
    rows = ["time;VL"] + [f"{i / 1000:.3f};{v:,.2f}" for i, v in enumerate(counts)]
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "S01_VL.csv").write_text("\n".join(rows) + "\n")
    # was: the three rows were 'bad rows' that --bad-rows interpolate filled in silence (the burst was gone)
    code, _, err = _cli(["convert", tmp_path / "raw", "--pattern", "S{subject}_{muscle}", "--bad-rows",
                         "interpolate", "--out", tmp_path / "ds"], capsys)
    line = _one_error_line(code, err)
    assert "S01_VL.csv" in line and "'1,204.50'" in line and "data row 201" in line and "thousands" in line
    assert not (tmp_path / "ds").exists()
    # every value grouped (German Excel: '1.204,5'; Swiss: "1'204.5"): was 'no table of numbers found'
    for sep, dec in ((".", ","), ("'", ".")):
        text = "\n".join(["time;VL"] + [f"{i / 1000:.3f};{v + 1000:,.1f}".replace(",", "#").replace(".", dec)
                                        .replace("#", sep) for i, v in enumerate(counts)]) + "\n"
        (tmp_path / "g.csv").write_text(text)
        code, _, err = _cli(["inspect", tmp_path / "g.csv"] + (["--hint", "decimal=,"] if dec == "," else []),
                            capsys)
        line = _one_error_line(code, err)
        assert "numbers have thousands separators" in line and "Use 1000 Separator" in line, line


# ------------------------------------------------------------------ a cable pulled half-way through a recording
def test_channel_that_goes_dead_partway_is_named_with_its_stretch(tmp_path, capsys, caplog):
    from myoflow.containers import Recording
    from myoflow.io import write_edf

    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 6000)) * 1e-4
    x[1, 3500:] = 0.0  # ch2's cable pulled at 3.5 s: the amplifier exported zeros from then on
    trig = np.zeros(6000)
    trig[::1500] = 1.0  # a trigger line idles between its pulses: not a signal that went dead
    for s in ("01", "02"):
        write_edf(Recording(np.vstack([x, trig]), 1000.0, ["ch1", "ch2", "ch3", "ch4", "sync"], units="V"),
                  tmp_path / "raw" / f"S{s}_VL.EDF")
        x = rng.standard_normal((4, 6000)) * 1e-4
    with caplog.at_level(logging.WARNING):
        code, _, err = _cli(["convert", tmp_path / "raw", "--pattern", "S{subject}_{muscle}", "--out",
                             tmp_path / "ds"], capsys)
    assert code == 0, err
    said = [r.getMessage() for r in caplog.records if "for a stretch" in r.getMessage()]
    # was: nothing said; muscle-id trained on 2.5 s of zeros labelled VL
    assert len(said) == 1 and "S01_VL.EDF" in said[0] and "['ch2']" in said[0] and "3.50-6.00 s" in said[0], said
    assert "cut the recording" in said[0]


# ------------------------------------------------------------------ a stimulation clinic's Excel table and MAT files
def test_participants_table_with_decimal_commas_and_windows_1252_is_read(tmp_path, capsys):
    from myoflow.containers import Recording
    from myoflow.io import load_dataset, write_edf

    for s in ("P01", "P02"):
        write_edf(Recording(np.random.default_rng(0).normal(size=(1, 2000)) * 1e-4, 1000.0, ["RF"], units="V"),
                  tmp_path / "raw" / f"{s}_RF.edf")
    # Excel's "CSV (semicolon)" of a German Windows: ';', decimal commas, Windows-1252 ('Größe')
    (tmp_path / "Probanden.csv").write_bytes("subject;age;sex;weight;Größe (cm);group\r\nP01;63,5;F;70,25;162;a\r\n"
                                             "P02;71;M;82,5;178,5;b\r\n".encode("cp1252"))
    code, _, err = _cli(["convert", tmp_path / "raw", "--pattern", "{subject}_{muscle}", "--participants",
                         tmp_path / "Probanden.csv", "--out", tmp_path / "ds"], capsys)
    # was: "cannot parse participants table: 'utf-8' codec can't decode byte 0xf6"; saved as UTF-8, every
    # covariate was then text ('63,5'), and stimulated-mass stopped: "covariate 'age' must be a number"
    assert code == 0, err
    part = load_dataset(tmp_path / "ds").participants
    assert part["age"].tolist() == [63.5, 71.0] and part["weight"].tolist() == [70.25, 82.5]
    assert part["Größe (cm)"].tolist() == [162.0, 178.5] and part["group"].tolist() == ["a", "b"]
    assert part["subject"].tolist() == ["P01", "P02"]


def test_predict_refuses_a_recording_in_another_unit_than_the_run(tmp_path, capsys):
    import scipy.io

    from myoflow.io import native, write_dataset
    from myoflow.simulate.protocols.evoked import simulate_evoked

    recs, part = simulate_evoked(5, 0, frequencies=(25.0,), train_s=1.0, n_units=20, fs=2000.0)
    part = part[["subject", "age", "sex", "height", "weight"]].assign(
        mass_class=["low", "normal", "low", "normal", "low"])
    train = [r for r in recs if r.meta["subject"] != "S005"]
    ds = write_dataset(tmp_path / "clinic", [(f"{r.meta['subject']}_{r.meta['muscle']}", r) for r in train],
                       part[part["subject"] != "S005"], {"protocol": "evoked"}).path
    code, _, err = _cli(["run", "stimulated-mass", "--data", ds, "--out", tmp_path / "run", "--cache-dir",
                         tmp_path / "cache", "--set", "evaluate.models=[attention_bilstm]", "--set",
                         "train.epochs=1", "--set", "model.params.n_members=1", "--set", "evaluate.n_boot=10",
                         "--set", "evaluate.n_splits=2"], capsys)
    assert code == 0, err
    new = [r for r in recs if r.meta["subject"] == "S005"]
    mats = []
    for r in new:  # the lab's own MAT export of the new person: µV, no unit stated (reads as a.u.)
        mats.append(tmp_path / f"new_{r.meta['muscle']}.mat")
        scipy.io.savemat(mats[-1], {r.meta["muscle"]: r.data[0] * 1e6, "fs": r.fs})
    cov = "age=54,sex=F,height=1.62,weight=70"
    # was: a prediction from M-waves a million times the model's, without a word
    code, _, err = _cli(["predict", tmp_path / "run", *mats, "--covariates", cov, "--out", tmp_path / "o"], capsys)
    line = _one_error_line(code, err)
    assert "new_BF.mat" in line and "in a.u." in line and "trained on recordings in V" in line
    assert "--hint units=uV" in line
    # the way out it names: the raw MAT files with their unit (was: predict took no reader hints)
    code, _, err = _cli(["predict", tmp_path / "run", *mats, "--covariates", cov, "--out", tmp_path / "o", "--hint",
                         "units=uV"], capsys)
    assert code == 0, err
    h5 = [native.save(r, tmp_path / f"new_{r.meta['muscle']}.h5") for r in new]
    code, _, err = _cli(["predict", tmp_path / "run", *h5, "--covariates", cov, "--out", tmp_path / "o"], capsys)
    assert code == 0, err
    # --plot naming a recording by mistake: was a PNG written over the person's recording
    before = h5[0].read_bytes()
    code, _, err = _cli(["predict", tmp_path / "run", *h5, "--covariates", cov, "--plot", h5[0]], capsys)
    line = _one_error_line(code, err)
    assert "--plot" in line and "does not end in .png, .pdf or .svg" in line and h5[0].read_bytes() == before


def test_manifest_typed_on_windows_is_read(tmp_path, capsys):
    from myoflow.io import load_dataset

    for s in ("01", "02"):
        _excel_csv(tmp_path / "Rohdaten" / f"S{s}_VL.csv", seed=int(s))
    # Excel on Windows: ';', Windows-1252 ('Müller'), and the paths as Explorer shows them
    (tmp_path / "liste.csv").write_bytes("file;subject;muscle;Untersucher\r\nRohdaten\\S01_VL.csv;01;VL;Müller\r\n"
                                         "Rohdaten\\S02_VL.csv;02;VL;Müller\r\n".encode("cp1252"))
    code, _, err = _cli(["convert", "--manifest", tmp_path / "liste.csv", "--hint", "decimal=,", "--out",
                         tmp_path / "ds"], capsys)
    # was: "cannot parse manifest: 'utf-8' codec can't decode byte 0xfc", then "file 'Rohdaten\\S01_VL.csv' not found"
    assert code == 0, err
    ds = load_dataset(tmp_path / "ds")
    assert ds.stems == ["01_VL", "02_VL"] and ds.index["Untersucher"].tolist() == ["Müller", "Müller"]


# ------------------------------------------------------------------ a unit the lab's script saved beside the data
def test_units_variable_of_a_mat_or_npz_file_is_read(tmp_path, capsys):
    import scipy.io

    from myoflow.io import read

    x = np.random.default_rng(0).normal(size=(2, 3000)) * 100.0  # µV
    np.savez(tmp_path / "S01_VL.npz", data=x, fs=2000.0, units="uV")
    scipy.io.savemat(tmp_path / "S01_RF.mat", {"emg": x.T, "fs": 2000.0, "units": np.array(["uV", "mV"])})
    # was: both read as 'a.u.' (×1e6 beside an EDF's volts; the folder refused as mixing units)
    rec = read(tmp_path / "S01_VL.npz")
    assert rec.units == ("V", "V")
    np.testing.assert_allclose(rec.data, x * 1e-6, rtol=1e-6)
    rec = read(tmp_path / "S01_RF.mat")
    np.testing.assert_allclose(rec.data, x * np.array([[1e-6], [1e-3]]), rtol=1e-6)
    np.testing.assert_allclose(read(tmp_path / "S01_RF.mat", units="V").data, x, rtol=1e-6)  # a hint still rules
    np.savez(tmp_path / "bad.npz", data=x, fs=2000.0, units="microvolt-ish")  # a unit no reader knows
    code, _, err = _cli(["inspect", tmp_path / "bad.npz"], capsys)
    line = _one_error_line(code, err)
    assert "bad.npz" in line and "variable 'units'" in line and "'microvolt-ish'" in line and "--hint units=" in line


# ------------------------------------------------------------------ a gait lab: German EMG, other software's angles
def test_gait_lab_with_german_emg_export_and_muscles_named_in_full(tmp_path, capsys):
    import pandas as pd

    from myoflow.simulate.protocols.gait import simulate_gait

    trials, part = simulate_gait(1, 0, 12, fs_sim=1000.0)
    tr = trials[0]
    names = {"TA": "M. tibialis ant.", "GM": "gastroc_med", "VL": "vast_lat", "BF": "M. biceps fem.", "SOL": "soleus"}
    e, a, m = tr["emg"], tr["angles"], tr["moments"]
    raw = tmp_path / "raw"
    raw.mkdir()
    pd.DataFrame({"Zeit [s]": np.arange(e.n_samples) / e.fs,  # German software: 'Zeit', ';' and decimal commas
                  **{f"{names[c]} [mV]": e.data[e.ch_names.index(c)] * 1e3 for c in names}}
                 ).to_csv(raw / "P1_gang1_emg.csv", index=False, sep=";", decimal=",")
    for stream, rec, unit in (("angles", a, "deg"), ("moments", m, "N·m")):  # the motion software: ',' and '.'
        pd.DataFrame({"time": np.arange(rec.n_samples) / rec.fs,
                      **{f"{c} [{unit}]": rec.data[i] for i, c in enumerate(rec.ch_names)}}
                     ).to_csv(raw / f"P1_gang1_{stream}.csv", index=False)
    pd.DataFrame({"subject": ["P1"], "weight": [tr.meta["covariates"]["weight"]],
                  "height": [tr.meta["covariates"]["height"]]}).to_csv(tmp_path / "part.csv", index=False)
    # was: 'no table of numbers found' for the angles (decimal=, reached them too), and without a time column
    # named in English the EMG needed --hint time_column='Zeit [s]'
    code, _, err = _cli(["convert", raw, "--pattern", "{subject}_{trial}_{stream}", "--hint", "decimal=,",
                         "--participants", tmp_path / "part.csv", "--out", tmp_path / "ds"], capsys)
    assert code == 0, err
    from myoflow.io import load_dataset

    trial = load_dataset(tmp_path / "ds").load("P1_gang1")
    assert trial["emg"].fs == 1000.0 and trial["emg"].ch_names == tuple(names.values())
    np.testing.assert_allclose(trial["angles"].data, a.data, atol=1e-5)
    base = ["run", "gait-emg", "--data", tmp_path / "ds", "--cache-dir", tmp_path / "cache", "--set",
            "train.epochs=1", "--set", "model.params.torque_epochs=1", "--set", "evaluate.n_boot=10"]
    code, _, err = _cli(base + ["--out", tmp_path / "run"], capsys)
    line = _one_error_line(code, err)
    # was: '... map its channels with data.emg_map (e.g. {EMG1: TA})'
    suggested = "data.emg_map={M. tibialis ant.: TA, gastroc_med: GM, vast_lat: VL, M. biceps fem.: BF, soleus: SOL}"
    assert suggested in line, line
    code, _, err = _cli(base + ["--out", tmp_path / "run", "--set", suggested], capsys)  # the suggestion runs
    assert code == 0, err


# ------------------------------------------------------------------ a recording saved from Excel
def test_a_recording_saved_as_a_spreadsheet_says_to_save_it_as_csv(tmp_path, capsys, caplog):
    for name in ("S01_VL.xlsx", "S01_VL.xls", "S01_VL.ods"):
        (tmp_path / name).write_bytes(b"PK\x03\x04 not read further")
        code, _, err = _cli(["inspect", tmp_path / name], capsys)
        line = _one_error_line(code, err)
        # was: "not a recognised workbook (expected 'ID <n>.xlsx' of elderly-lowerlimb-emg)" and, for .xls/.ods,
        # "unknown file type" with the list of suffixes
        assert name in line and "save" in line and "CSV UTF-8" in line, line
    (tmp_path / "raw").mkdir()
    _excel_csv(tmp_path / "raw" / "S01_VL.csv")
    (tmp_path / "raw" / "S02_VL.xls").write_bytes(b"\xd0\xcf\x11\xe0 Excel 97-2003")
    with caplog.at_level(logging.WARNING):
        code, _, err = _cli(["convert", tmp_path / "raw", "--pattern", "S{subject}_{muscle}", "--hint", "decimal=,",
                             "--out", tmp_path / "ds"], capsys)
    assert code == 0, err
    # was: S02's recording left out without a word
    said = [r.getMessage() for r in caplog.records if "spreadsheet" in r.getMessage()]
    assert len(said) == 1 and "S02_VL.xls" in said[0] and "CSV UTF-8" in said[0], said


# ------------------------------------------------------------------ one recording in two formats
def test_one_name_in_two_formats_is_not_two_recordings(tmp_path, capsys):
    from myoflow.containers import Recording
    from myoflow.io import write_edf

    x = np.random.default_rng(0).normal(size=(2, 3000)) * 1e-4
    write_edf(Recording(x, 1000.0, ["EMG1", "EMG2"], units="V"), tmp_path / "raw" / "S01_VL.edf")
    write_edf(Recording(x[::-1], 1000.0, ["EMG1", "EMG2"], units="V"), tmp_path / "raw" / "S02_VL.edf")
    rows = ["time,EMG1 [V],EMG2 [V]"] + [f"{i / 1000:.3f},{x[0, i]:.6e},{x[1, i]:.6e}" for i in range(3000)]
    (tmp_path / "raw" / "S01_VL.csv").write_text("\n".join(rows) + "\n")  # the software's CSV export beside it
    code, _, err = _cli(["convert", tmp_path / "raw", "--pattern", "S{subject}_{muscle}", "--out", tmp_path / "ds"],
                        capsys)
    # was: stems 01_VL and 01_VL-2, S01's recording twice (the EDF's 16-bit samples are no exact copy to warn about)
    line = _one_error_line(code, err)
    assert "S01_VL.csv and S01_VL.edf are one name in two formats" in line and "move one out" in line
    assert not (tmp_path / "ds").exists()


# ------------------------------------------------------------------ an event column in the export
def test_a_column_of_event_labels_becomes_events(tmp_path, capsys):
    from myoflow.io import load_dataset

    rng = np.random.default_rng(0)
    rows = ["time;VL [mV];RF [mV];Marker"]
    for i in range(3000):  # the acquisition software writes a label on the rows where the operator pressed a key
        label = "start" if i == 0 else ("HS" if i % 1000 == 500 else "")
        rows.append(f"{i / 1000:.3f};{rng.normal():.4f};{rng.normal():.4f};{label}")
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "S01_walk.csv").write_text("\n".join(rows) + "\n")
    # was: "non-numeric value 'HS' in column 'Marker' ... (pass --bad-rows drop ...)", and with --bad-rows drop
    # "every row has missing or non-finite values"; the 'start' on the first row made that row the header
    code, _, err = _cli(["convert", tmp_path / "raw", "--pattern", "S{subject}_{trial}", "--event-map",
                         "HS=heel_strike", "--out", tmp_path / "ds"], capsys)
    assert code == 0, err
    rec = load_dataset(tmp_path / "ds").load("01_walk")
    assert rec.ch_names == ("VL", "RF") and rec.n_samples == 3000
    assert rec.events["kind"].tolist() == ["start", "heel_strike", "heel_strike", "heel_strike"]
    assert rec.events["sample"].tolist() == [0, 500, 1500, 2500]


def test_nul_bytes_after_the_last_line_are_ignored_and_errors_stay_one_short_line(tmp_path, capsys, caplog):
    from myoflow.io import read

    rows = ["time,VL [mV]"] + [f"{i / 1000:.3f},{np.sin(i / 7):.4f}" for i in range(2000)]
    # a logger that reserved its file, or a laptop that lost power: the table, then zeros to the end of the block
    (tmp_path / "cut.csv").write_bytes(("\n".join(rows) + "\n").encode() + b"\x00" * 4096)
    with caplog.at_level(logging.WARNING):
        rec = read(tmp_path / "cut.csv")  # was: "non-numeric value '\x00\x00...' (4096 of them) in column 'time'"
    assert rec.n_samples == 2000
    assert any("4096 NUL byte(s) after the last line ignored" in r.getMessage() for r in caplog.records)
    (tmp_path / "long.csv").write_text("\n".join(rows[:100] + ["0.099," + "x" * 5000] + rows[100:]) + "\n")
    code, _, err = _cli(["inspect", tmp_path / "long.csv"], capsys)
    line = _one_error_line(code, err)
    assert "non-numeric value" in line and len(line) < 400, len(line)


# ------------------------------------------------------------------ RF and BF recorded together in one file
def test_one_file_holding_both_muscles_channels_is_one_recording_per_muscle(tmp_path, capsys):
    from myoflow.containers import Recording
    from myoflow.io import native, write_dataset
    from myoflow.simulate.protocols.evoked import simulate_evoked

    recs, part = simulate_evoked(5, 0, frequencies=(25.0,), train_s=1.0, n_units=20, fs=2000.0)
    part = part[["subject", "age", "sex", "height", "weight"]].assign(
        mass_class=["low", "normal", "low", "normal", "low"])

    def together(subject):  # the lab's amplifier records both muscles at once: one file, channels RF and BF
        rf, bf = (next(r for r in recs if r.meta["subject"] == subject and r.meta["muscle"] == m) for m in ("RF", "BF"))
        meta = {k: v for k, v in rf.meta.items() if k != "muscle"}
        return Recording(np.vstack([rf.data, bf.data]), rf.fs, ["RF", "BF"], units="V", events=rf.events, meta=meta)

    train = [f"S00{i}" for i in range(1, 5)]
    ds = write_dataset(tmp_path / "clinic", [(f"{s}_25", together(s)) for s in train],
                       part[part["subject"].isin(train)], {"protocol": "evoked"}).path
    code, _, err = _cli(["run", "stimulated-mass", "--data", ds, "--out", tmp_path / "run", "--cache-dir",
                         tmp_path / "cache", "--set", "evaluate.models=[attention_bilstm]", "--set",
                         "train.epochs=1", "--set", "model.params.n_members=1", "--set", "evaluate.n_boot=10",
                         "--set", "evaluate.n_splits=2"], capsys)
    # was: "recording meta needs subject, muscle and frequency (Hz)"
    assert code == 0, err
    new = native.save(together("S005"), tmp_path / "new_25.h5")
    code, out, err = _cli(["predict", tmp_path / "run", new, "--covariates", "age=54,sex=F,height=1.62,weight=70",
                           "--out", tmp_path / "o", "--json"], capsys)
    # was: "cannot tell the muscle (channels ['RF', 'BF'])"
    assert code == 0, err
    import json

    assert json.loads(out)["frequencies"] == [25.0]


def test_clock_time_column_gives_the_rate(tmp_path):
    from myoflow.io import read

    def hms(t):
        return f"{int(t // 3600):02d}:{int(t % 3600 // 60):02d}:{t % 60:06.3f}"

    start = 3599.0  # the clock passes an hour during the recording
    rows = ["Time;VL [mV]"] + [f"{hms(start + i / 1000)};{np.sin(i / 7):.4f}" for i in range(3000)]
    (tmp_path / "clock.csv").write_text("\n".join(rows) + "\n")
    rec = read(tmp_path / "clock.csv")  # was: "no table of numbers found"
    assert rec.fs == 1000.0 and rec.n_samples == 3000 and abs(rec.t0 - start) < 1e-6
    mmss = [f"{hms(59.0 + i / 1000)[3:]};{np.sin(i / 7):.4f}" for i in range(3000)]  # 00:59.000 ... 01:01.999
    (tmp_path / "mmss.csv").write_text("\n".join(["Time;VL [mV]"] + mmss) + "\n")
    assert read(tmp_path / "mmss.csv").fs == 1000.0  # mm:ss.fff, as a spreadsheet's time format shows it


def test_stimulated_cohort_of_two_amplifier_rates_names_the_rates_and_the_way_to_match_them(tmp_path, capsys):
    from myoflow.io import write_dataset
    from myoflow.simulate.protocols.evoked import simulate_evoked

    a, part = simulate_evoked(4, 0, frequencies=(25.0,), train_s=1.0, n_units=20, fs=2000.0)
    b, _ = simulate_evoked(4, 0, frequencies=(25.0,), train_s=1.0, n_units=20, fs=2048.0)
    recs = ([r for r in a if r.meta["subject"] in ("S001", "S002")]  # two amplifiers: 2000 and 2048 Hz
            + [r for r in b if r.meta["subject"] in ("S003", "S004")])
    part = part[["subject", "age", "sex", "height", "weight"]].assign(mass_class=["low", "normal"] * 2)
    ds = write_dataset(tmp_path / "clinic", [(f"{r.meta['subject']}_{r.meta['muscle']}", r) for r in recs], part,
                       {"protocol": "evoked"}).path
    code, _, err = _cli(["run", "stimulated-mass", "--data", ds, "--out", tmp_path / "run", "--cache-dir",
                         tmp_path / "cache", "--set", "evaluate.models=[ptp_logreg]"], capsys)
    line = _one_error_line(code, err)
    # was: "fs=2048 Hz differs from the cohort's 2000 Hz; resample first" (which file set 2000, and how?)
    assert "S003_" in line and "recorded at 2048 Hz, the cohort at 2000 Hz (e.g." in line and "S001_" in line
    assert "myoflow.preprocess.resample(rec, 2000)" in line


# ------------------------------------------------------------------ check-placement on the lab's raw export
def test_check_placement_takes_the_hints_the_raw_files_reader_asks_for(tmp_path, capsys):
    from myoflow.containers import Recording
    from myoflow.io import write_dataset

    rng = np.random.default_rng(0)
    items = [(f"S{i}_{m}", Recording(rng.normal(size=(1, 4000)) * 1e-4 * (1 + k), 1000.0, ["ch1"], units="V",
                                     meta={"subject": f"S{i}", "muscle": m}))
             for i in range(3) for k, m in enumerate(("VL", "TA"))]
    ds = write_dataset(tmp_path / "lab", items, None, {"protocol": "t"}).path
    code, _, err = _cli(["run", "muscle-id", "--data", ds, "--out", tmp_path / "run", "--quick", "--set",
                         "evaluate.models=[cnn_lstm_random]", "--set", "train.epochs=1", "--set", "evaluate.n_boot=20"],
                        capsys)
    assert code == 0, err
    _excel_csv(tmp_path / "new.csv", n=4000)
    base = ["check-placement", tmp_path / "run", tmp_path / "new.csv", "--expected", "*=VL", "--json"]
    code, _, err = _cli(base, capsys)
    assert "--hint decimal=," in _one_error_line(code, err)
    # was: "no such option: --hint", so the way out the reader named could not be taken
    code, out, err = _cli(base + ["--hint", "decimal=,"], capsys)
    assert code in (0, 1), err
    import json

    assert [r["channel"] for r in json.loads(out)["channels"]] == ["EMG1", "EMG2"]


# ------------------------------------------------------------------ a sync line recorded beside the EMG
def test_a_trigger_line_gives_no_windows_and_a_pulled_cable_is_named(tmp_path, capsys, caplog):
    import pandas as pd

    from myoflow.containers import Recording
    from myoflow.io import write_dataset

    rng = np.random.default_rng(0)
    t = np.arange(6000) / 1000.0
    env = (np.sin(2 * np.pi * 0.5 * t) > 0) + 0.05
    items = []
    for s in ("01", "02", "03"):
        for k, m in enumerate(("VL", "TA")):
            x, names = rng.standard_normal((2, t.size)) * env * 1e-4 * (1 + k), ["EMG1", "EMG2"]
            if s == "02":  # this session also recorded the camera's sync pulses, 0 or 3.3 V
                x, names = np.vstack([x, ((t % 1.0) < 0.05) * 3.3]), names + ["Sync"]
            if s == "03" and m == "VL":  # and here EMG2's cable came off at 3.5 s (written from Python: no convert)
                x[1, 3500:] = 0.0
            items.append((f"{s}_{m}", Recording(x, 1000.0, names, units="V", meta={"subject": s, "muscle": m})))
    ds = write_dataset(tmp_path / "lab", items, None, {"protocol": "t"}).path
    with caplog.at_level(logging.WARNING):
        code, _, err = _cli(["run", "muscle-id", "--data", ds, "--out", tmp_path / "run", "--quick", "--cache-dir",
                             tmp_path / "cache", "--set", "evaluate.models=[lda]"], capsys)
    assert code == 0, err
    # was: the sync line's windows trained and were scored as VL and TA
    assert set(pd.read_parquet(tmp_path / "run" / "predictions.parquet")["channel"]) == {"EMG1", "EMG2"}
    said = [r.getMessage() for r in caplog.records if "take at most 3 values" in r.getMessage()]
    assert len(said) == 2 and all("['Sync']" in m for m in said), said
    said = [r.getMessage() for r in caplog.records if "for a stretch" in r.getMessage()]
    assert len(said) == 1 and "03_VL" in said[0] and "EMG2 3.50-6.00 s" in said[0] and "train as VL" in said[0], said


def test_empty_rows_and_columns_excel_leaves_in_a_table_are_ignored(tmp_path, capsys):
    from myoflow.containers import Recording
    from myoflow.io import load_dataset, write_edf

    for i, s in enumerate(("P01", "P02")):
        write_edf(Recording(np.random.default_rng(i).normal(size=(1, 2000)) * 1e-4, 1000.0, ["RF"], units="V"),
                  tmp_path / "raw" / f"{s}_RF.edf")
    # the rows and columns the sheet ever formatted come out as ';;' cells
    (tmp_path / "p.csv").write_text("subject;age;group;;\r\nP01;63,5;a;;\r\nP02;71;b;;\r\n;;;;\r\n;;;;\r\n")
    (tmp_path / "raw" / "list.csv").write_text("file;subject;muscle;;\r\nP01_RF.edf;P01;RF;;\r\nP02_RF.edf;P02;RF;;\r\n"
                                               ";;;;\r\n")
    code, _, err = _cli(["convert", "--manifest", tmp_path / "raw" / "list.csv", "--participants", tmp_path / "p.csv",
                         "--out", tmp_path / "ds"], capsys)
    # was: "row 4 has no subject id" (participants), "row 4: file '' must be a path inside ..." (manifest)
    assert code == 0, err
    ds = load_dataset(tmp_path / "ds")
    assert ds.stems == ["P01_RF", "P02_RF"] and list(ds.participants.columns) == ["subject", "age", "group"]
    assert ds.participants["age"].tolist() == [63.5, 71.0]


# ------------------------------------------------------------------ ADInstruments LabChart's text export
def _labchart(path, n: int = 3000, time: bool = True, blocks: int = 1) -> np.ndarray:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 2)) * 0.1  # mV
    head = ["Interval=\t0.5 ms", "ExcelDateTime=\t4.6363416666667e+04\t07/12/2026 10:00:00.000000",
            "TimeFormat=\tStartOfBlock", "DateFormat=\t", "ChannelTitle=\tVL\tRF", "Range=\t10.000 mV\t10.000 mV",
            "UnitName=\tmV\tmV", "TopValue=\t10.000\t10.000", "BottomValue=\t-10.000\t-10.000"]
    rows = [("%g\t" % (i / 2000) if time else "") + f"{x[i, 0]:.5f}\t{x[i, 1]:.5f}" for i in range(n)]
    path.write_text("\n".join((head + rows) * blocks) + "\n")
    return x


def test_labchart_text_export_gives_names_units_and_rate(tmp_path, capsys):
    from myoflow.io import read

    x = _labchart(tmp_path / "S01_VL.txt")
    # was: 'BottomValue=' read as the header: channels '-10.000', '-10.000_2' and "no sampling rate"
    rec = read(tmp_path / "S01_VL.txt")
    assert rec.ch_names == ("VL", "RF") and rec.fs == 2000.0 and rec.units == ("V", "V")
    np.testing.assert_allclose(rec.data, x.T * 1e-3, atol=1e-8)
    _labchart(tmp_path / "notime.txt", time=False)  # exported without the time column: the interval gives the rate
    assert read(tmp_path / "notime.txt").fs == 2000.0
    _labchart(tmp_path / "blocks.txt", blocks=2)
    code, _, err = _cli(["inspect", tmp_path / "blocks.txt"], capsys)
    assert "several blocks" in _one_error_line(code, err)


def test_biopac_acqknowledge_text_export_gives_names_units_and_rate(tmp_path):
    from myoflow.io import read

    x = np.random.default_rng(0).normal(size=(3000, 2)) * 0.1  # mV
    head = ["S01_VL.acq", "0.5 msec/sample", "2 channels", "VL - EMG100C", "mV", "RF - EMG100C", "mV"]
    rows = [f"{i / 2000:.4f}\t{x[i, 0]:.5f}\t{x[i, 1]:.5f}" for i in range(3000)]
    (tmp_path / "a.txt").write_text("\n".join(head + ["sec\tCH1\tCH2"] + rows) + "\n")
    (tmp_path / "b.txt").write_text("\n".join(head + [r.split("\t", 1)[1] for r in rows]) + "\n")  # no time axis
    for name in ("a.txt", "b.txt"):
        rec = read(tmp_path / name)  # was: channels CH1, CH2 in a.u.; without the axis "no sampling rate"
        assert rec.ch_names == ("VL", "RF") and rec.fs == 2000.0 and rec.units == ("V", "V"), rec
        np.testing.assert_allclose(rec.data, x.T * 1e-3, atol=1e-8)


def test_openbci_gui_raw_text_export_gives_the_exg_channels_at_its_rate(tmp_path):
    from myoflow.io import read

    x = np.random.default_rng(0).normal(size=(2500, 2)) * 50.0  # µV
    cols = ("Sample Index, EXG Channel 0, EXG Channel 1, Accel Channel 0, Other, Analog Channel 0, Timestamp, "
            "Marker Channel, Timestamp (Formatted)")
    rows = []
    for i in range(2500):
        ts = 1733565600.0 + i / 250 + (0.003 if i % 7 == 0 else 0.0)  # host time stamps jitter
        clock = f"2024-12-07 10:{i // 15000:02d}:{(i / 250) % 60:06.3f}"
        rows.append(f"{i % 256:.1f}, {x[i, 0]:.6f}, {x[i, 1]:.6f}, 0.000, 192.000, 0.000, {ts:.6f}, "
                    f"{3.0 if i == 1000 else 0.0:.3f}, {clock}")
    head = ["%OpenBCI Raw EXG Data", "%Number of channels = 2", "%Sample Rate = 250 Hz", "%Board = Cyton", cols]
    (tmp_path / "OpenBCI-RAW-2024-12-07.txt").write_text("\n".join(head + rows) + "\n")
    # was: "time column 'Timestamp (Formatted)' states unit 'Formatted'" (and before that: no table of numbers)
    rec = read(tmp_path / "OpenBCI-RAW-2024-12-07.txt")
    assert rec.ch_names == ("EXG Channel 0", "EXG Channel 1") and rec.fs == 250.0 and rec.units == ("V", "V")
    np.testing.assert_allclose(rec.data, x.T * 1e-6, atol=1e-11)
    assert rec.events["kind"].tolist() == ["marker_3"] and rec.events["sample"].tolist() == [1000]


def test_adc_counts_under_a_stated_gain_are_said_to_be_unscaled(tmp_path, caplog):
    from myoflow.io import read

    counts = np.random.default_rng(0).integers(-1000, 1000, size=(500, 2))
    body = "\n".join(f"{a},{b}" for a, b in counts)
    (tmp_path / "counts.csv").write_text(f"Device: lab amplifier\nSampling rate: 1000 Hz\nGain: 1000\n"
                                         f"ADC resolution: 16 bit\nVL,RF\n{body}\n")
    (tmp_path / "mv.csv").write_text(f"Sampling rate: 1000 Hz\nGain: 1000\nVL [mV],RF [mV]\n{body}\n")
    with caplog.at_level(logging.WARNING):
        rec = read(tmp_path / "counts.csv")  # was: read as a.u. without a word about the gain above the table
        read(tmp_path / "mv.csv")  # a stated unit: the gain was applied by the software that wrote it
    assert rec.units == ("a.u.", "a.u.")
    said = [r.getMessage() for r in caplog.records if "read as they are stored" in r.getMessage()]
    assert len(said) == 1 and "counts.csv" in said[0] and "Gain: 1000" in said[0], said
