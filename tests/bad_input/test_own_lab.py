"""A new lab's own recordings and hostile folders: what `myoflow convert` / `run` found wrong (helper E, issues 14/18).

Each test is the smallest input that showed the problem; each fails without its fix.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from myoflow.cli import main
from myoflow.containers import Recording
from myoflow.io import write_dataset

from ._builders import cli as _cli, one_error_line as _one_error_line, write_csv as _csv


# ------------------------------------------------------------------ convert: symlinks under an input folder
@pytest.mark.parametrize("kind", ["file", "folder"])
def test_symlink_out_of_the_input_folder_is_an_error_not_a_silent_skip(kind, tmp_path, capsys):
    raw, outside = tmp_path / "raw", tmp_path / "outside"
    _csv(raw / "S01_BB_L.csv")
    _csv(outside / "S02_BB_L.csv", seed=1)
    link = raw / ("S02_BB_L.csv" if kind == "file" else "more")
    os.symlink(outside / "S02_BB_L.csv" if kind == "file" else outside, link)
    code, _, err = _cli(["convert", raw, "--pattern", "S{subject}_{muscle}_{side}", "--out", tmp_path / "ds"],
                        capsys)
    line = _one_error_line(code, err)
    assert str(link) in line and "outside the input folder" in line
    assert not (tmp_path / "ds").exists()


def test_symlink_inside_the_input_folder_is_not_read_twice(tmp_path, capsys, caplog):
    raw = tmp_path / "raw"
    _csv(raw / "S01_BB_L.csv")
    os.symlink("S01_BB_L.csv", raw / "S02_BB_L.csv")  # the same recording under a second subject's name
    loop = raw / "loop.csv"
    code, out, _ = _cli(["convert", raw, "--pattern", "S{subject}_{muscle}_{side}", "--out", tmp_path / "ds"],
                        capsys)
    assert code == 0 and "wrote 1 item(s)" in out
    assert "symlink not followed" in caplog.text
    os.symlink("loop.csv", loop)  # a link to itself
    code, _, err = _cli(["convert", raw, "--pattern", "S{subject}_{muscle}_{side}", "--out", tmp_path / "ds2"],
                        capsys)
    assert str(loop) in _one_error_line(code, err)


# ------------------------------------------------------------------ write_dataset: replacing a folder
def _ds(path: Path) -> Path:
    rec = Recording(np.zeros((1, 100)), 100.0, ["a"], meta={"subject": "S1"})
    write_dataset(path, [("S1_a", rec)], None, {"protocol": "t"})
    return path


def test_replacing_a_dataset_deletes_nothing_outside_it(tmp_path, capsys):
    ds = _ds(tmp_path / "ds")
    victim = tmp_path / "victim.h5"
    victim.write_text("precious")
    index = pd.read_csv(ds / "index.csv", dtype=str)
    pd.concat([index, pd.DataFrame({"stem": ["../victim"]})]).to_csv(ds / "index.csv", index=False)
    _csv(tmp_path / "raw" / "S01_BB_L.csv")
    code, _, err = _cli(["convert", tmp_path / "raw", "--pattern", "S{subject}_{muscle}_{side}", "--out", ds],
                        capsys)
    assert code == 0, err
    assert victim.read_text() == "precious"
    assert not (ds / "S1_a.h5").exists()  # the dataset's own stale item still goes


def test_write_through_a_symlinked_subfolder_is_refused(tmp_path):
    from myoflow.errors import DataError

    ds, elsewhere = _ds(tmp_path / "ds"), tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(elsewhere, ds / "S1")
    rec = Recording(np.zeros((1, 100)), 100.0, ["a"], meta={"subject": "S1"})
    with pytest.raises(DataError, match="outside the dataset folder"):
        write_dataset(ds, [("S1/a", rec)], None, {"protocol": "t"})
    assert not any(elsewhere.iterdir())


# ------------------------------------------------------------------ muscle-id: a two-subject lab
def test_two_subject_cohort_names_the_folder_and_the_way_out(tmp_path, capsys):
    rng = np.random.default_rng(0)
    fs, n = 1000.0, 8000
    on = np.zeros(n)
    for t0 in (1.0, 4.0):
        on[int(t0 * fs):int((t0 + 1.5) * fs)] = 1
    items = [(f"{s}_{m}", Recording(1e-6 * rng.normal(size=(1, n)) + 1e-4 * rng.normal(size=(1, n)) * on, fs,
                                    ["ch1"], meta={"subject": s, "muscle": m}))
             for s in ("01", "02") for m in ("BB", "TA")]
    ds = write_dataset(tmp_path / "lab", items, None, {"protocol": "t"}).path
    code, _, err = _cli(["run", "muscle-id", "--data", ds, "--out", tmp_path / "run",
                         "--set", "evaluate.models=[lda]", "--set", "evaluate.binary=none"], capsys)
    line = _one_error_line(code, err)
    assert str(ds) in line and "2 subject(s)" in line and "evaluate.schemes=[intra]" in line


# ------------------------------------------------------------------ muscle-id: the cohort cache of a folder
def _burst_items(seed: int, bands: dict[str, tuple[float, float]], fs: float = 1000.0, n: int = 8000) -> list:
    from scipy.signal import butter, sosfiltfilt

    rng = np.random.default_rng(seed)
    on = np.zeros(n)
    for t0 in (1.0, 4.0):
        on[int(t0 * fs):int((t0 + 1.5) * fs)] = 1
    out = []
    for s in ("01", "02", "03"):
        for m, band in bands.items():
            b = sosfiltfilt(butter(4, band, "bandpass", fs=fs, output="sos"), rng.normal(size=(1, n)))
            out.append((f"{s}_{m}", Recording(1e-6 * rng.normal(size=(1, n)) + 1e-4 * b * on, fs, ["ch1"],
                                              meta={"subject": s, "muscle": m})))
    return out


def test_reconverted_folder_is_not_served_from_the_cohort_cache(tmp_path):
    from myoflow.experiments import load_config
    from myoflow.pipelines.muscle_id.data import load_cohort

    folder, cache = tmp_path / "mydata", tmp_path / "cache"
    cfg = load_config({"name": "m", "pipeline": "muscle-id", "data": {"source": "folder", "path": str(folder)}})
    (name, cohort), = cfg.data.items()
    write_dataset(folder, _burst_items(0, {"BB": (30, 120), "TA": (150, 300)}), None, {"protocol": "lab"})
    first = load_cohort(name, cohort, cfg.preprocess, cache)
    # the same number of files converted again, other recordings: dataset.json is byte for byte the same
    write_dataset(folder, _burst_items(1, {"BB": (30, 120), "TA": (30, 120)}), None, {"protocol": "lab"})
    second = load_cohort(name, cohort, cfg.preprocess, cache)
    assert len(list((cache / "muscle_id").glob("*.json"))) == 2
    assert not np.array_equal(first.features, second.features)
    again = load_cohort(name, cohort, cfg.preprocess, cache)  # unchanged folder: the cache is used
    np.testing.assert_array_equal(again.features, second.features)
    assert len(list((cache / "muscle_id").glob("*.json"))) == 2


def test_low_rate_lab_error_names_the_file_and_the_setting(tmp_path, capsys):
    items = [(f"{s}_{m}", Recording(np.random.default_rng(0).normal(size=(1, 2000)) * 1e-5, 500.0, ["ch1"],
                                    meta={"subject": s, "muscle": m})) for s in ("01", "02", "03") for m in ("BB", "TA")]
    ds = write_dataset(tmp_path / "lab500", items, None, {"protocol": "t"}).path
    code, _, err = _cli(["run", "muscle-id", "--data", ds, "--out", tmp_path / "run", "--set", "evaluate.models=[lda]"],
                        capsys)
    line = _one_error_line(code, err)
    assert str(ds / "01_BB.h5") in line and "fs=500 Hz" in line and "preprocess.band_hz=[20,225]" in line
    # and the hint works: the rate is then accepted
    code, _, err = _cli(["run", "muscle-id", "--data", ds, "--out", tmp_path / "run", "--set", "evaluate.models=[lda]",
                         "--set", "preprocess.band_hz=[20,225]", "--set", "evaluate.schemes=[loso]", "--set",
                         "evaluate.final_model=false", "--set", "evaluate.n_boot=10"], capsys)
    assert "fs=500 Hz" not in err


# ------------------------------------------------------------------ check-placement on recordings it cannot check
TINY_CNN = ["--set", "evaluate.models=[cnn_lstm_pretrained]", "--set", "evaluate.schemes=[loso]",
            "--set", "evaluate.loso_max_subjects=1", "--set", "evaluate.binary=none", "--set", "evaluate.n_boot=10",
            "--set", "train.epochs=1", "--set", "model.params.ae_epochs=0", "--set", "model.params.conv_channels=[4,4]",
            "--set", "model.params.fc_size=4", "--set", "model.params.lstm_hidden=4", "--set", "model.params.head_size=4"]


@pytest.fixture(scope="module")
def placement_run(tmp_path_factory):
    import contextlib
    import io

    root = tmp_path_factory.mktemp("placement")
    ds = write_dataset(root / "lab", _burst_items(0, {"BB": (30, 120), "TA": (150, 300)}), None, {"protocol": "t"})
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            main(["run", "muscle-id", "--data", str(ds.path), "--out", str(root / "run"), "--workers", "1",
                  "--cache-dir", str(root / "cache"), *TINY_CNN])
        except SystemExit as exc:
            assert not exc.code
    return root


@pytest.mark.parametrize("case", ["low_rate", "too_short", "rest_only"])
def test_check_placement_refuses_what_it_cannot_check(case, placement_run, tmp_path, capsys):
    from myoflow.io import native

    rng = np.random.default_rng(0)
    fs, n = {"low_rate": (500.0, 8000), "too_short": (1000.0, 300), "rest_only": (1000.0, 8000)}[case]
    path = native.save(Recording(1e-5 * rng.normal(size=(1, n)), fs, ["ch1"]), tmp_path / f"{case}.h5")
    code, out, err = _cli(["check-placement", placement_run / "run", path, "--expected", "*=BB"], capsys)
    line = _one_error_line(code, err)
    assert str(path) in line
    assert {"low_rate": "fs=500 Hz", "too_short": "0.30 s long",
            "rest_only": "no contraction detected in any channel"}[case] in line


# ------------------------------------------------------------------ write_edf at rates whose seconds do not tile
@pytest.mark.parametrize("n, fs", [(1456, 2000.0), (3333, 1111.0), (204832, 2048.0), (2000, 4000.0)])  # 100.015625 s
def test_edf_round_trip_at_unusual_rates_and_lengths(n, fs, tmp_path):
    from myoflow.io import read, write_edf

    rec = Recording(np.random.default_rng(0).normal(size=(2, n)), fs, ["a", "b"])
    back = read(write_edf(rec, tmp_path / "x.edf"))
    assert back.fs == fs and back.n_samples == n
    assert np.abs(back.data - rec.data).max() < 1e-3 * np.ptp(rec.data)


def test_edf_that_cannot_tile_says_how_to_crop(tmp_path):
    from myoflow.errors import DataError
    from myoflow.io import write_edf

    rec = Recording(np.zeros((1, 1456)), 1111.0, ["a"])  # 1.3105... s: no exact 8-character record duration
    with pytest.raises(DataError, match=r"x\.edf: .*1456 samples at 1111 Hz .*crop it to 1111 samples"):
        write_edf(rec, tmp_path / "x.edf")


# ------------------------------------------------------------------ stimulated-mass: a three-subject clinic
def test_stimulated_mass_fold_with_one_training_class_is_a_one_line_error(tmp_path, capsys):
    from myoflow.simulate.protocols.evoked import simulate_evoked

    recs, part = simulate_evoked(3, 0, frequencies=(25.0,), train_s=1.0, n_units=20)
    part = part[["subject", "age", "sex", "height", "weight", "bmi"]].assign(mass_class=["low", "normal", "normal"])
    ds = write_dataset(tmp_path / "clinic", [(f"{r.meta['subject']}_{r.meta['muscle']}", r) for r in recs], part,
                       {"protocol": "evoked"}).path
    for split in ("evaluate.n_splits=3", "evaluate.splitter=loso"):
        code, _, err = _cli(["run", "stimulated-mass", "--data", ds, "--out", tmp_path / "run", "--set", split,
                             "--set", "evaluate.models=[ptp_logreg]"], capsys)
        line = _one_error_line(code, err)  # was a scikit-learn traceback from the first fold's fit
        assert str(ds) in line and "all of class 'normal'" in line and "two classes" in line


# ------------------------------------------------------------------ convert: a messy lab export
def test_constant_channel_is_reported_when_converting(tmp_path, capsys, caplog):
    raw = tmp_path / "raw"
    raw.mkdir()
    x = np.random.default_rng(0).normal(size=(500, 3)) * 0.1
    x[:, 1] = 0.0  # ch2: a disconnected electrode exported as zeros
    with open(raw / "S01_BB_L.csv", "w") as fh:
        fh.write("# LabX export\n# Sampling rate: 1000 Hz\nch1 [mV];ch2 [mV];ch3 [mV]\n")
        np.savetxt(fh, x, delimiter=";", fmt="%.5f")
    code, out, err = _cli(["convert", raw, "--pattern", "S{subject}_{muscle}_{side}", "--out", tmp_path / "ds"],
                          capsys)
    assert code == 0, err
    assert "ch1,ch2,ch3" in out  # header comment skipped, semicolons read, all three channels kept
    assert "['ch2'] hold one constant value" in caplog.text and "S01_BB_L.csv" in caplog.text


# ------------------------------------------------------------------ CSV time columns in other units
@pytest.mark.parametrize("header, scale", [("Time (us)", 1e6), ("time_us", 1e6), ("Time [min]", 1 / 60),
                                           ("Time (ms)", 1e3), ("time [s]", 1.0)])
def test_time_column_units(header, scale, tmp_path, capsys):
    from myoflow.io import read

    t = np.arange(400) / 2000.0
    x = np.random.default_rng(0).normal(size=(400, 2))
    with open(tmp_path / "x.csv", "w") as fh:
        fh.write(f"{header},EMG1,EMG2\n")
        np.savetxt(fh, np.column_stack([t * scale, x]), delimiter=",", fmt="%.10g")
    rec = read(tmp_path / "x.csv")  # a microsecond column was read as seconds: 0.002 Hz
    assert rec.fs == pytest.approx(2000.0) and rec.ch_names == ("EMG1", "EMG2")


def test_time_column_in_an_unknown_unit_is_refused(tmp_path, capsys):
    with open(tmp_path / "x.csv", "w") as fh:
        fh.write("Time (h),EMG1\n")
        np.savetxt(fh, np.column_stack([np.arange(400) / 2000.0 / 3600, np.zeros(400)]), delimiter=",", fmt="%.12g")
    code, _, err = _cli(["inspect", tmp_path / "x.csv"], capsys)
    line = _one_error_line(code, err)
    assert "x.csv" in line and "'Time (h)' states unit 'h'" in line


# ------------------------------------------------------------------ MAT exports with a per-channel rate vector
def test_mat_with_per_channel_rates_and_a_time_vector(tmp_path, capsys):
    import scipy.io

    from myoflow.io import read

    n, fs = 1000, 1925.925
    data = np.random.default_rng(0).normal(size=(4, n))
    scipy.io.savemat(tmp_path / "delsys.mat", {"Data": data, "Fs": np.full((4, 1), fs),
                                               "Time": np.tile(np.arange(n) / fs, (4, 1))})
    rec = read(tmp_path / "delsys.mat")  # was "no sampling-rate variable found"
    assert rec.fs == pytest.approx(fs) and rec.n_channels == 4
    np.testing.assert_allclose(rec.data, data)
    scipy.io.savemat(tmp_path / "mixed.mat", {"Data": data, "Fs": np.array([[2000.0], [2000.0], [148.0], [148.0]])})
    code, _, err = _cli(["inspect", tmp_path / "mixed.mat"], capsys)
    line = _one_error_line(code, err)
    assert "mixed.mat" in line and "2 different per-channel rates" in line


# ------------------------------------------------------------------ OpenSignals text exports
def _opensignals_txt(path: Path, n: int = 500, seq_gap: bool = False, extra_col: bool = False) -> np.ndarray:
    import json

    adc = (32768 + np.random.default_rng(0).normal(size=(n, 2)) * 500).astype(int)
    dev = {"position": 0, "device": "biosignalsplux", "sampling rate": 1000, "resolution": [16, 16],
           "channels": [1, 2], "sensor": ["EMG", "EMG"], "label": ["A1", "A2"], "column": ["nSeq", "DI", "A1", "A2"]}
    seq = np.arange(n) % 16
    if seq_gap:
        seq[n // 2:] = (seq[n // 2:] + 3) % 16  # three samples lost
    with open(path, "w") as fh:
        fh.write("# OpenSignals Text File Format. Version 1\n# " + json.dumps({"00:07:80:3B:46:61": dev}) +
                 "\n# EndOfHeader\n")
        for i in range(n):
            fh.write(f"{seq[i]}\t0\t{adc[i, 0]}\t{adc[i, 1]}" + ("\t7" if extra_col else "") + "\n")
    return adc


def test_opensignals_text_export_is_read(tmp_path, capsys, caplog):
    from myoflow.io import read
    from myoflow.io.opensignals import plux_emg_to_volts

    adc = _opensignals_txt(tmp_path / "plux.txt")
    rec = read(tmp_path / "plux.txt")  # was: "header has 1 column name(s) but the data rows have 4 value(s)"
    assert rec.fs == 1000.0 and rec.ch_names == ("A1", "A2") and rec.units == ("adc", "adc")
    np.testing.assert_array_equal(rec.data, adc.T)
    volts = read(tmp_path / "plux.txt", sensor="EMG")
    np.testing.assert_allclose(volts.data, plux_emg_to_volts(adc.T, 16))
    _opensignals_txt(tmp_path / "gap.txt", seq_gap=True)
    read(tmp_path / "gap.txt")
    assert "nSeq counter jumps 1 time(s)" in caplog.text and "gap.txt" in caplog.text
    _opensignals_txt(tmp_path / "wide.txt", extra_col=True)
    code, _, err = _cli(["inspect", tmp_path / "wide.txt"], capsys)
    line = _one_error_line(code, err)
    assert "wide.txt" in line and "lists 4 column(s) but the rows have 5" in line


def test_muscle_names_differing_only_in_case_are_refused(tmp_path, capsys):
    items = _burst_items(0, {"VL": (30, 120), "TA": (150, 300)})
    items = [(stem.replace("02_VL", "02_vl"), rec.replace(meta={**rec.meta, "muscle": "vl"}))
             if stem == "02_VL" else (stem, rec) for stem, rec in items]
    ds = write_dataset(tmp_path / "lab", items, None, {"protocol": "t"}).path
    code, _, err = _cli(["run", "muscle-id", "--data", ds, "--out", tmp_path / "run", "--set", "evaluate.models=[lda]",
                         "--set", "evaluate.final_model=false", "--set", "evaluate.n_boot=10"], capsys)
    line = _one_error_line(code, err)  # was: 'vl' a third class, subject 02 scored on a class never trained
    assert str(ds) in line and "'VL' (01_VL), 'vl' (02_vl)" in line


def test_stimulated_response_is_read_from_the_muscles_channel(tmp_path):
    from myoflow.errors import DataError
    from myoflow.preprocess.evoked import prepare_evoked
    from myoflow.simulate.protocols.evoked import simulate_evoked

    recs, part = simulate_evoked(3, 0, frequencies=(25.0,), train_s=1.0, n_units=20)
    part = part.assign(mass_class=["low", "normal", "high"])
    kw = dict(label="mass_class", classes=["low", "normal", "high"], covariates=["age"], muscles=["RF", "BF"],
              frequencies=[25.0])
    noise = np.random.default_rng(0).normal(size=recs[0].n_samples) * 1e-3

    def with_accelerometer(r, names):
        return Recording(np.vstack([noise, r.data[0]]), r.fs, names, events=r.events, meta=r.meta)

    clean = prepare_evoked(recs, part, **kw)
    named = prepare_evoked([with_accelerometer(r, ["ACC", f"{r.meta['muscle']} EMG"]) for r in recs], part, **kw)
    for key, resp in clean.responses.items():  # was: channel 0, the accelerometer, taken as the muscle
        np.testing.assert_array_equal(named.responses[key], resp)
    with pytest.raises(DataError, match=r"2 channels \['ch1', 'ch2'\] and none of them named 'RF'"):
        prepare_evoked([with_accelerometer(r, ["ch1", "ch2"]) for r in recs], part, **kw)


def test_muscle_id_on_a_folder_of_epochs_says_so(tmp_path, capsys):
    from myoflow.containers import Epochs

    ep = Epochs(np.zeros((4, 2, 50)), 1000.0, ["a", "b"], pd.DataFrame({"subject": ["S1"] * 4}))
    ds = write_dataset(tmp_path / "templates", [("muaps/part000", ep)], pd.DataFrame({"subject": ["S1"]}),
                       {"protocol": "t"}).path
    code, _, err = _cli(["run", "muscle-id", "--data", ds, "--out", tmp_path / "run"], capsys)
    line = _one_error_line(code, err)  # was: "its 1 item(s) are multi-rate Trials"
    assert str(ds) in line and "holds Epochs" in line and "Trials" not in line


def test_participant_ids_without_leading_zeros_get_a_hint(tmp_path, capsys):
    _csv(tmp_path / "raw" / "S01_BB_L.csv")
    (tmp_path / "p.csv").write_text("subject,age\n1,30\n")  # a spreadsheet dropped the zero
    code, _, err = _cli(["convert", tmp_path / "raw", "--pattern", "S{subject}_{muscle}_{side}", "--participants",
                         tmp_path / "p.csv", "--out", tmp_path / "ds"], capsys)
    line = _one_error_line(code, err)
    assert "p.csv" in line and "lacks subject(s) ['01']" in line and "'01' is not '1'" in line


def test_an_earlier_conversion_inside_the_inputs_is_not_an_input(tmp_path, capsys, caplog):
    raw = tmp_path / "raw"
    _csv(raw / "01_BB_L.csv")
    argv = ["convert", raw, "--pattern", "{subject}_{muscle}_{side}"]
    assert _cli([*argv, "--out", raw / "ds"], capsys)[0] == 0  # the first conversion, written beside the files
    code, out, err = _cli([*argv, "--out", tmp_path / "again"], capsys)
    assert code == 0, err  # was: its index.csv etc. did not match the pattern (and its .h5 copies would have)
    assert "wrote 1 item(s)" in out and "skipping the myoflow dataset folder" in caplog.text


@pytest.mark.parametrize("table", ["participants.csv", "index.csv", "dataset.json"])
def test_dataset_tables_symlinked_from_outside_are_refused(table, tmp_path, capsys):
    ds = _ds(tmp_path / "ds")
    outside = tmp_path / f"outside_{table}"
    outside.write_bytes((ds / table).read_bytes())
    (ds / table).unlink()
    os.symlink(outside, ds / table)
    code, _, err = _cli(["inspect", ds], capsys)
    line = _one_error_line(code, err)  # was: read from outside the folder without a word
    assert str(ds / table) in line and "symlink leading outside the dataset folder" in line


def test_stimulated_mass_takes_the_muscles_stream_of_a_two_rate_file(tmp_path, capsys):
    from myoflow.containers import Trial
    from myoflow.simulate.protocols.evoked import simulate_evoked

    recs, part = simulate_evoked(3, 0, frequencies=(25.0,), train_s=1.0, n_units=20)
    part = part[["subject", "age", "sex", "height", "weight", "bmi"]].assign(mass_class=["low", "normal", "high"])

    def two_rate(r, emg_name):  # an EDF with an accelerometer at 100 Hz reads as a Trial of two streams
        acc = Recording(np.zeros((1, int(r.duration * 100))), 100.0, ["ACC"], meta=r.meta)
        return Trial(streams={"2000Hz": r.replace(ch_names=(emg_name,)), "100Hz": acc}, meta=r.meta)

    argv = ["--set", "evaluate.models=[ptp_logreg]", "--set", "evaluate.splitter=loso", "--set", "evaluate.n_boot=10"]
    good = write_dataset(tmp_path / "good", [(f"{r.meta['subject']}_{r.meta['muscle']}", two_rate(r, r.meta["muscle"]))
                                             for r in recs], part, {"protocol": "evoked"}).path
    code, out, err = _cli(["run", "stimulated-mass", "--data", good, "--out", tmp_path / "run1", *argv], capsys)
    assert code == 0, err  # was: AttributeError: 'Trial' object has no attribute 'fs'
    assert "M-wave p-p only" in out
    bad = write_dataset(tmp_path / "bad", [(f"{r.meta['subject']}_{r.meta['muscle']}", two_rate(r, "EMG1"))
                                           for r in recs], part, {"protocol": "evoked"}).path
    code, _, err = _cli(["run", "stimulated-mass", "--data", bad, "--out", tmp_path / "run2", *argv], capsys)
    line = _one_error_line(code, err)
    assert "bad/S001_" in line and "is a Trial of streams" in line and "--hint channels=NAME" in line


def test_export_of_a_baselines_only_run_says_there_is_no_network(tmp_path, capsys):
    import json

    from ._builders import fake_run

    run = fake_run(tmp_path / "run", Path(__file__).resolve().parents[2] / "src" / "myoflow" / "configs"
                   / "stimulated_mass.yaml")
    for fold in ("25Hz-k0", "25Hz-k1"):
        (run / "folds" / fold).mkdir(parents=True)
        (run / "folds" / fold / "result.json").write_text(json.dumps({"models": []}))
    code, _, err = _cli(["export", run, "--onnx", tmp_path / "m.onnx"], capsys)
    line = _one_error_line(code, err)  # was: "no checkpoint for model=None fold=None"
    assert str(run) in line and "trained no network" in line
    (run / "folds" / "25Hz-k1" / "result.json").write_text(json.dumps({"models": ["attention_bilstm"]}))
    code, _, err = _cli(["export", run, "--onnx", tmp_path / "m.onnx", "--model", "transformer"], capsys)
    assert "no checkpoint for model='transformer'; the run's networks are ['attention_bilstm']" in \
        _one_error_line(code, err)
    (run / "folds" / "25Hz-k0" / "result.json").write_text("{trunc")
    code, _, err = _cli(["export", run, "--onnx", tmp_path / "m.onnx"], capsys)
    assert "25Hz-k0/result.json: cannot read the fold's result" in _one_error_line(code, err)


@pytest.mark.parametrize("command", ["check-placement", "export"])
def test_damaged_extras_json_of_a_fold_is_named(command, tmp_path, capsys):
    import json

    from ._builders import fake_run

    run = fake_run(tmp_path / "run", Path(__file__).resolve().parents[2] / "src" / "myoflow" / "configs"
                   / "muscle_id.yaml")
    fold = run / "folds" / "sim-final-4class"
    fold.mkdir(parents=True)
    (fold / "result.json").write_text(json.dumps({"models": ["cnn_lstm_pretrained"]}))
    (fold / "extras.json").write_text('{"models": {"cnn_lstm_pre')  # cut off
    rec = native_recording(tmp_path)
    argv = [command, run, rec] if command == "check-placement" else [command, run, "--onnx", tmp_path / "m.onnx"]
    code, _, err = _cli(argv, capsys)
    line = _one_error_line(code, err)  # was: a JSONDecodeError traceback
    assert str(fold / "extras.json") in line and "damaged fold file" in line


def native_recording(tmp_path: Path) -> Path:
    from myoflow.io import native

    return native.save(Recording(np.zeros((1, 3000)), 1000.0, ["ch1"]), tmp_path / "rec.h5")


def test_truncated_stream_of_a_trial_and_constant_coordinates(tmp_path, capsys, caplog):
    from myoflow.io.opensim_write import write_opensim

    raw = tmp_path / "raw"
    raw.mkdir()
    t = np.arange(1000) / 100.0
    angles = Recording(np.vstack([30 * np.sin(t), np.zeros_like(t)]), 100.0, ["knee_angle_r", "mtp_angle_r"],
                       units="deg")  # mtp locked: constant by design, no warning
    write_opensim(angles, raw / "S01_walk_ik.mot")
    emg = Recording(np.random.default_rng(0).normal(size=(1, 300)) * 1e-4, 100.0, ["TA"], units="V")
    write_opensim(emg, raw / "S01_walk_emg.sto")  # 3 s of a 10 s trial: cut off
    code, _, err = _cli(["convert", raw, "--pattern", "{subject}_{trial}_{stream}", "--streams", "ik=angles",
                         "--out", tmp_path / "ds"], capsys)
    assert code == 0, err
    assert "streams cover different spans" in caplog.text and "['emg'] shorter" in caplog.text
    assert "constant value" not in caplog.text


def test_stimulated_mass_without_covariates(tmp_path, capsys, caplog):
    from myoflow.experiments.quickrun import data_config
    from myoflow.simulate.protocols.evoked import simulate_evoked

    recs, part = simulate_evoked(3, 0, frequencies=(25.0,), train_s=1.0, n_units=20)
    ds = write_dataset(tmp_path / "clinic", [(f"{r.meta['subject']}_{r.meta['muscle']}", r) for r in recs],
                       part[["subject", "mass_class"]], {"protocol": "evoked"}).path  # labels, no anthropometry
    raw = data_config("stimulated-mass", ds)
    assert raw["data"]["covariates"] == [] and "covariates_logreg" not in raw["evaluate"]["models"]
    assert "covariates_logreg is left out" in caplog.text
    code, _, err = _cli(["run", "stimulated-mass", "--data", ds, "--out", tmp_path / "run",
                         "--set", "evaluate.models=[covariates_logreg]"], capsys)
    line = _one_error_line(code, err)  # was: a scikit-learn "0 feature(s)" traceback in the first fold
    assert "covariates_logreg needs covariates" in line


def test_unicode_names_keep_their_ids_and_get_readable_stems(tmp_path, capsys):
    from myoflow.io import load_dataset

    raw = tmp_path / "raw"
    _csv(raw / "Élodie bras gauche.csv")
    _csv(raw / "Jürgen jambe.csv", seed=1)
    (raw / "manifest.csv").write_bytes("\ufefffile;subject;muscle\nÉlodie bras gauche.csv;Élodie;BB\n"
                                       "Jürgen jambe.csv;Jürgen;TA\n".encode("utf-8"))
    code, _, err = _cli(["convert", "--manifest", raw / "manifest.csv", "--out", tmp_path / "ds"], capsys)
    assert code == 0, err
    ds = load_dataset(tmp_path / "ds")
    assert ds.stems == ["Elodie_BB", "Jurgen_TA"] and ds.subjects == ["Élodie", "Jürgen"]  # was 'lodie_BB'


def test_fs_for_the_tables_of_a_folder_that_also_holds_edf(tmp_path, capsys):
    from myoflow.io import load_dataset, write_edf

    raw = tmp_path / "raw"
    raw.mkdir()
    write_edf(Recording(np.random.default_rng(0).normal(size=(1, 2000)) * 1e-4, 2000.0, ["ch1"]), raw / "S01_BB_L.edf")
    (raw / "S02_TA_L.csv").write_text("ch1 [mV]\n" + "\n".join(f"{v:.4f}" for v in np.sin(np.arange(1111))) + "\n")
    argv = ["convert", raw, "--pattern", "S{subject}_{muscle}_{side}", "--out", tmp_path / "ds"]
    code, _, err = _cli([*argv, "--fs", "1111"], capsys)
    assert code == 0, err  # was: "S01_BB_L.edf: unknown hint(s) ['fs'] for .edf files" - no way to convert both
    assert sorted(load_dataset(tmp_path / "ds").index["fs"]) == [1111.0, 2000.0]  # the EDF keeps its own rate
    code, _, err = _cli([*argv, "--hint", "data_var=emg"], capsys)
    assert "hint(s) ['data_var'] are taken by none of the inputs' readers" in _one_error_line(code, err)


def test_bad_rows_policy_with_an_opensignals_text_file_among_the_inputs(tmp_path, capsys):
    raw = tmp_path / "raw"
    raw.mkdir()
    _opensignals_txt(raw / "S01_BB_L.txt")
    _csv(raw / "S02_TA_L.csv")
    code, out, err = _cli(["convert", raw, "--pattern", "S{subject}_{muscle}_{side}", "--bad-rows", "drop",
                           "--out", tmp_path / "ds"], capsys)
    assert code == 0, err  # was: "unknown hint(s) ['bad_rows'] for OpenSignals text files"
    assert "wrote 2 item(s)" in out
