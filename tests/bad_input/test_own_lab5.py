"""Three more new labs (fifth sweep): files as acquisition software writes them (units rows, sample counters,
time in ms), MATLAB structs of channels, and the folders and trials of labs unlike the shared sets.

Each test is the smallest input that showed the problem; each fails without its fix.
"""
from __future__ import annotations

import numpy as np
import pytest

from ._builders import cli as _cli, one_error_line as _one_error_line


def _rows(t, x, fmt="{:.5f}", sep=","):
    return "\n".join(sep.join([f"{ti:.4f}"] + [fmt.format(v) for v in row]) for ti, row in zip(t, x)) + "\n"


_T = np.arange(400) / 2000.0
_X = np.random.default_rng(0).normal(size=(400, 2)) * 0.1


# ------------------------------------------------------------------ CSV: a units row under the header
@pytest.mark.parametrize("head", ["time,VL,RF\ns,mV,mV\n", "Rate: 2000 Hz\ntime,VL,RF\n,mV,mV\n"])
def test_units_row_under_the_header_gives_names_and_units(head, tmp_path):
    from myoflow.io import read

    (tmp_path / "x.csv").write_text(head + _rows(_T, _X))
    rec = read(tmp_path / "x.csv")  # was: channels named 'mV', 'mV_2', kept in mV (or: no sampling rate)
    assert rec.ch_names == ("VL", "RF") and rec.fs == pytest.approx(2000.0)
    assert list(rec.units) == ["V", "V"]
    np.testing.assert_allclose(rec.data * 1e3, _X.T, atol=1e-5)  # mV scaled to V


# ------------------------------------------------------------------ CSV: a sample counter beside the time
def test_sample_counter_column_is_not_a_channel(tmp_path):
    from myoflow.io import read

    body = "\n".join(f"{i},{t:.4f},{a:.5f},{b:.5f}" for i, (t, (a, b)) in enumerate(zip(_T, _X)))
    (tmp_path / "x.csv").write_text("Sample #,Time,VL,RF\n" + body + "\n")
    rec = read(tmp_path / "x.csv")  # was: a third channel 'Sample #' holding 0, 1, 2, ...
    assert rec.ch_names == ("VL", "RF")


# ------------------------------------------------------------------ CSV: a time column in ms without a unit
def test_unitless_time_column_in_ms_is_refused_with_the_hint(tmp_path, capsys):
    from myoflow.io import read

    (tmp_path / "x.csv").write_text("time,VL,RF\n" + _rows(_T * 1000.0, _X))
    code, _, err = _cli(["inspect", tmp_path / "x.csv"], capsys)  # was: exit 0, a 2 Hz recording of 200 s
    line = _one_error_line(code, err)
    assert "x.csv" in line and "time_unit=ms" in line and "2000 Hz" in line
    rec = read(tmp_path / "x.csv", time_unit="ms")
    assert rec.fs == pytest.approx(2000.0)
    slow = tmp_path / "slow.csv"  # a genuinely slow stream goes on once the user says the unit is seconds
    slow.write_text("time,temp\n" + "\n".join(f"{i * 0.5},{i}" for i in range(20)) + "\n")
    assert read(slow, time_unit="s").fs == pytest.approx(2.0)


# ------------------------------------------------------------------ MATLAB: a struct of channels, one vector each
def test_mat_struct_of_channels_and_one_vector_per_channel(tmp_path, capsys):
    import h5py
    import scipy.io

    from myoflow.io import read

    rng = np.random.default_rng(1)
    vl, rf = rng.normal(size=1000), rng.normal(size=1000)
    scipy.io.savemat(tmp_path / "s.mat", {"data": {"VL": vl, "RF": rf, "fs": 2000.0}})
    scipy.io.savemat(tmp_path / "v.mat", {"VL": vl, "RF": rf, "fs": 2000.0})
    with h5py.File(tmp_path / "h.mat", "w") as f:  # MATLAB v7.3: a struct is an HDF5 group
        g = f.create_group("data")
        g.attrs["MATLAB_class"] = np.bytes_("struct")
        for k, v in (("VL", vl), ("RF", rf), ("fs", np.array(1500.0))):
            g.create_dataset(k, data=np.atleast_2d(v)).attrs["MATLAB_class"] = np.bytes_("double")
    for name, fs in (("s", 2000.0), ("v", 2000.0), ("h", 1500.0)):
        # was: 'no sampling-rate variable found' (structs) / 'several arrays could be the data' (vectors),
        # and data_var takes one variable, so no hint could read both channels
        rec = read(tmp_path / f"{name}.mat")
        assert rec.fs == fs and sorted(rec.ch_names) == ["RF", "VL"], name
        np.testing.assert_allclose(rec.data[list(rec.ch_names).index("VL")], vl)


# ------------------------------------------------------------------ gait-emg: radians under a degree label
def test_gait_angles_in_radians_labelled_degrees_are_refused(tmp_path, capsys):
    import pandas as pd

    from myoflow.containers import Trial
    from myoflow.io import write_dataset
    from myoflow.simulate.protocols.gait import simulate_gait

    walk = simulate_gait(1, 0, 8, fs_sim=2048.0, noise=False)[0][0]
    a = walk["angles"]
    assert set(a.units) == {"deg"}
    rad = a.with_data(np.radians(a.data)).replace(meta={**dict(a.meta), "source": "raw/S01_walk_angles.csv"})
    t = Trial(streams={"angles": rad, "moments": walk["moments"], "grf": walk["grf"], "emg": walk["emg"]},
              meta={"subject": "S01", "trial": "walk"})
    cov = walk.meta["covariates"]
    ds = write_dataset(tmp_path / "lab", [("S01_walk", t)],
                       pd.DataFrame({"subject": ["S01"], "weight": [cov["weight"]], "height": [cov["height"]]}),
                       {"protocol": "converted"}).path
    code, _, err = _cli(["run", "gait-emg", "--data", ds, "--out", tmp_path / "run", "--set", "train.epochs=1"], capsys)
    line = _one_error_line(code, err)  # was: exit 0, trained and scored on angles 57 times too small
    assert "S01_walk_angles.csv" in line and "look like radians labelled degrees" in line
    # degrees under a radian label: was "no sample has all joint angles in their physiological range", no unit named
    deg = a.replace(units=("rad",) * a.n_channels, meta={**dict(a.meta), "source": "raw/S01_walk_angles.csv"})
    t = Trial(streams={"angles": deg, "moments": walk["moments"], "grf": walk["grf"], "emg": walk["emg"]},
              meta={"subject": "S01", "trial": "walk"})
    ds = write_dataset(tmp_path / "lab2", [("S01_walk", t)], None, {"protocol": "converted"}).path
    code, _, err = _cli(["run", "gait-emg", "--data", ds, "--out", tmp_path / "run2", "--set", "train.epochs=1"], capsys)
    line = _one_error_line(code, err)
    assert "S01_walk_angles.csv" in line and "look like degrees labelled radians" in line


# ------------------------------------------------------------------ muscle-id: a grid with a dead electrode
def test_flat_grid_channel_gives_no_windows_and_a_flat_recording_is_named(tmp_path, caplog):
    from scipy.signal import butter, sosfiltfilt

    from myoflow.containers import Recording
    from myoflow.errors import DataError
    from myoflow.experiments import load_config
    from myoflow.io import write_dataset
    from myoflow.pipelines.muscle_id.data import load_cohort

    rng, fs, n = np.random.default_rng(0), 1000.0, 8000
    on = np.zeros(n)
    for t0 in (1.0, 4.0):
        on[int(t0 * fs):int((t0 + 1.5) * fs)] = 1

    def folder(root, flat):
        items = []
        for s in ("01", "02", "03"):
            for k, m in enumerate(("VL", "TA")):
                b = sosfiltfilt(butter(4, (30 + 120 * k, 120 + 180 * k), "bandpass", fs=fs, output="sos"),
                                rng.normal(size=(4, n)))
                x = 1e-6 * rng.normal(size=(4, n)) + 1e-4 * b * on
                if s == "02" and m == "VL":
                    x[flat] = 0.0
                items.append((f"{s}_{m}", Recording(x, fs, ["e1", "e2", "e3", "e4"], grid_shape=(2, 2),
                                                    meta={"subject": s, "muscle": m})))
        return write_dataset(root, items, None, {"protocol": "t"}).path

    def cohort(path):
        cfg = load_config({"name": "m", "pipeline": "muscle-id", "data": {"source": "folder", "path": str(path)}})
        (name, c), = cfg.data.items()
        return load_cohort(name, c, cfg.preprocess, None)

    md = cohort(folder(tmp_path / "one", [1])).epochs.metadata
    rec02 = md[(md["subject"] == "02") & (md["muscle"] == "VL")]
    # was: the dead electrode's windows trained and scored as VL without a word
    assert len(rec02) and "e2" not in set(rec02["channel"]) and {"e1", "e3", "e4"} <= set(rec02["channel"])
    assert "02_VL" in caplog.text and "'e2'" in caplog.text and "flat" in caplog.text
    with pytest.raises(DataError, match=r"02_VL.*every channel used is flat"):
        cohort(folder(tmp_path / "all", [0, 1, 2, 3]))


# ------------------------------------------------------------------ CSV: Delsys' repeated X[s] columns
def test_repeated_time_columns_are_not_reported_as_repeated_channel_names(tmp_path, caplog):
    from myoflow.io import read

    body = "\n".join(f"{t:.4f},{a:.5f},{t:.4f},{b:.5f}," for t, (a, b) in zip(_T, _X))
    (tmp_path / "x.csv").write_text("Label: Trigno 1\n\nX[s],VL EMG 1 [mV],X[s],RF EMG 2 [mV],\n" + body + "\n")
    rec = read(tmp_path / "x.csv")
    assert rec.ch_names == ("VL EMG 1", "RF EMG 2") and rec.fs == pytest.approx(2000.0)
    assert "repeated" not in caplog.text  # was: "channel name(s) 'X' repeated" on every Delsys export
    (tmp_path / "y.csv").write_text("time,EMG,EMG\n" + _rows(_T, _X))
    read(tmp_path / "y.csv")  # two channels of one name are still reported
    assert "'EMG' repeated" in caplog.text


# ------------------------------------------------------------------ CSV: EMGworks states units in the preamble
@pytest.mark.parametrize("unit, scale", [("Volts", 1.0), ("mV", 1e-3)])
def test_emgworks_preamble_units_are_read(unit, scale, tmp_path):
    from myoflow.io import read

    fs = 1925.925
    t = np.arange(400) / fs
    pre = "".join(f"Label: EMG {k} Sampling frequency: {fs} Number of points: 400 start: 0 Unit: {unit} "
                  "Domain Unit: s\n" for k in (1, 2))
    body = "\n".join(f"{a:.7f},{b:.8f},{a:.7f},{c:.8f}," for a, (b, c) in zip(t, _X))
    (tmp_path / "x.csv").write_text(pre + "\nX[s],EMG 1,X[s],EMG 2,\n" + body + "\n")
    rec = read(tmp_path / "x.csv")  # was: units 'a.u.' (refused beside EDF volts), mV kept unscaled
    assert rec.units == ("V", "V") and rec.fs == pytest.approx(fs, rel=1e-6)
    np.testing.assert_allclose(rec.data, _X.T * scale, atol=1e-8 * scale)


# ------------------------------------------------------------------ BDF: BioSemi's Status channel
def test_biosemi_status_channel_becomes_events_not_a_signal(tmp_path):
    import edfio

    from myoflow.io import read

    fs, rng = 2048, np.random.default_rng(0)
    sig = [edfio.BdfSignal(rng.normal(size=fs * 2) * 100, sampling_frequency=fs, label=f"EXG{k}",
                           physical_dimension="uV", physical_range=(-262144, 262143)) for k in (1, 2)]
    status = np.zeros(fs * 2)
    status[1000:1010], status[3000:3010] = 1, 2
    sig.append(edfio.BdfSignal(status, sampling_frequency=fs, label="Status", physical_dimension="Boolean",
                               physical_range=(-8388608, 8388607)))
    edfio.Bdf(sig).write(tmp_path / "s.bdf")
    rec = read(tmp_path / "s.bdf")  # was: 'Status' a third channel (a grid electrode, or a muscle class)
    assert rec.ch_names == ("EXG1", "EXG2") and rec.units == ("V", "V")
    ev = rec.events[rec.events["kind"] == "trigger"]
    assert ev["sample"].tolist() == [1000, 3000] and ev["code"].tolist() == [1, 2]
    assert read(tmp_path / "s.bdf", channels=["EXG1", "Status"]).ch_names == ("EXG1", "Status")  # asked for


# ------------------------------------------------------------------ CSV: date-time stamps, Shimmer's time column
def test_iso_datetime_and_shimmer_timestamp_columns_give_the_rate(tmp_path):
    import datetime as dt

    from myoflow.io import read

    t0 = dt.datetime(2026, 12, 7, 10, 0, 0)
    stamps = [(t0 + dt.timedelta(milliseconds=i)).isoformat(sep=" ", timespec="milliseconds") for i in range(400)]
    (tmp_path / "iso.csv").write_text("Timestamp,VL,RF\n" + "".join(
        f"{s},{a:.5f},{b:.5f}\n" for s, (a, b) in zip(stamps, _X)))
    rec = read(tmp_path / "iso.csv")  # was: "no table of numbers found"
    assert rec.fs == pytest.approx(1000.0) and rec.ch_names == ("VL", "RF")
    np.testing.assert_allclose(rec.data, _X.T, atol=1e-5)
    (tmp_path / "shimmer.csv").write_text('"sep=,"\nShimmer_A_Timestamp_Unix_CAL,Shimmer_A_EMG_CH1_24BIT_CAL,\n'
                                          "ms,mV,\n" + "".join(f"{1765101600000 + i:.3f},{a:.5f},\n"
                                                              for i, a in enumerate(_X[:, 0])))
    rec = read(tmp_path / "shimmer.csv")  # was: "no time column and no sampling rate"
    assert rec.fs == pytest.approx(1000.0) and rec.ch_names == ("Shimmer_A_EMG_CH1_24BIT_CAL",)
    assert rec.units == ("V",)


# ------------------------------------------------------------------ inspect on a folder of raw exports
def test_inspect_on_a_raw_folder_says_how_to_convert_it(tmp_path, capsys):
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "S01_VL.csv").write_text("time,VL\n" + _rows(_T, _X[:, :1]))
    code, _, err = _cli(["inspect", tmp_path / "raw"], capsys)
    line = _one_error_line(code, err)  # was: "not a myoflow dataset ... nor a known public dataset" alone
    assert "S01_VL.csv" in line and "myoflow convert" in line


# ------------------------------------------------------------------ convert: a manifest made in a spreadsheet
def test_capitalised_manifest_and_participants_columns_are_read(tmp_path, capsys):
    from myoflow.io import load_dataset

    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "a.csv").write_text("time,EMG\n" + _rows(_T, _X[:, :1]))
    (raw / "list.csv").write_text("File,Subject,Muscle\na.csv,01,VL\n")
    (tmp_path / "p.csv").write_text("Subject,Age,Weight,Height\n01,30,60,1.7\n")
    code, _, err = _cli(["convert", "--manifest", raw / "list.csv", "--participants", tmp_path / "p.csv",
                         "--out", tmp_path / "ds"], capsys)
    assert code == 0, err  # was: "manifest needs a 'file' column"; with 'file' alone: "no subject for ['a.csv']"
    ds = load_dataset(tmp_path / "ds")
    (stem, rec), = list(ds)
    assert rec.meta["subject"] == "01" and rec.meta["muscle"] == "VL"
    assert ds.participants.set_index("subject").loc["01", "weight"] == 60
    (raw / "two.csv").write_text("file,subject,Subject\na.csv,01,02\n")
    code, _, err = _cli(["convert", "--manifest", raw / "two.csv", "--out", tmp_path / "ds2"], capsys)
    line = _one_error_line(code, err)
    assert "two.csv" in line and "['subject', 'Subject']" in line


# ------------------------------------------------------------------ C3D of markers only
def test_c3d_of_markers_only_says_what_it_holds(tmp_path, capsys):
    ezc3d = pytest.importorskip("ezc3d")
    c = ezc3d.c3d()
    c["parameters"]["POINT"]["RATE"]["value"] = [100]
    c["parameters"]["POINT"]["LABELS"]["value"] = ("LASI", "RASI")
    c["data"]["points"] = np.ones((4, 2, 50))
    c.write(str(tmp_path / "markers.c3d"))
    code, _, err = _cli(["inspect", tmp_path / "markers.c3d"], capsys)
    line = _one_error_line(code, err)  # was: "C3D file has no analog channels" alone
    assert "markers.c3d" in line and "2 marker trajectories" in line and ".mot" in line


# ------------------------------------------------------------------ CSV: dropped samples, a repeated time stamp
def test_gap_and_repeat_in_the_time_column_say_what_to_do(tmp_path, capsys):
    keep = np.r_[0:150, 200:400]
    (tmp_path / "gap.csv").write_text("time,VL,RF\n" + _rows(_T[keep], _X[keep]))
    code, _, err = _cli(["inspect", tmp_path / "gap.csv", "--fs", "2000"], capsys)
    line = _one_error_line(code, err)  # was: "... resample first or pass --fs RATE", and --fs changed nothing
    assert "gap.csv" in line and "50 sample(s) missing" in line and "--fs" not in line
    t = _T.copy()
    t[100] = t[99]
    (tmp_path / "rep.csv").write_text("time,VL,RF\n" + _rows(t, _X))
    code, _, err = _cli(["inspect", tmp_path / "rep.csv"], capsys)
    line = _one_error_line(code, err)
    assert "rep.csv" in line and "repeated time stamp" in line


# ------------------------------------------------------------------ CSV: an export with a header and no samples
def test_header_only_and_one_row_tables(tmp_path, capsys):
    from myoflow.io import read

    (tmp_path / "h.csv").write_text("time,VL,RF\n")
    code, _, err = _cli(["inspect", tmp_path / "h.csv"], capsys)
    line = _one_error_line(code, err)  # was: "no table of numbers found (... not a delimited numeric table)"
    assert "h.csv" in line and "no rows of samples" in line and "'time,VL,RF'" in line
    (tmp_path / "one.csv").write_text("time,VL\n0,1\n")
    code, _, err = _cli(["inspect", tmp_path / "one.csv"], capsys)
    assert "pass --fs RATE" in _one_error_line(code, err)
    assert read(tmp_path / "one.csv", fs=1000).n_samples == 1  # the advice it gives works (was the same error)


# ------------------------------------------------------------------ convert: the streams of a multi-rate EDF
def test_streams_of_a_multi_rate_file_are_named_with_streams(tmp_path, capsys):
    import edfio

    from myoflow.io import load_dataset

    rng = np.random.default_rng(0)
    sig = [edfio.EdfSignal(rng.normal(size=4000) * 100, sampling_frequency=1000, label="VL",
                           physical_dimension="uV", physical_range=(-1000, 1000)),
           edfio.EdfSignal(rng.normal(size=400) * 10, sampling_frequency=100, label="knee_flexion",
                           physical_dimension="deg", physical_range=(-180, 180))]
    (tmp_path / "raw").mkdir()
    edfio.Edf(sig).write(tmp_path / "raw" / "S01_walk.edf")
    argv = ["convert", tmp_path / "raw", "--pattern", "{subject}_{trial}", "--out", tmp_path / "ds"]
    code, _, err = _cli([*argv, "--streams", "1000Hz=emg,100Hz=angles"], capsys)
    assert code == 0, err
    (stem, trial), = list(load_dataset(tmp_path / "ds"))
    # was: streams '1000Hz' and '100Hz' whatever --streams said, so gait-emg found no 'angles' stream
    assert sorted(trial.streams) == ["angles", "emg"] and trial["emg"].ch_names == ("VL",)
    code, _, err = _cli([*argv, "--streams", "1000Hz=../emg"], capsys)
    assert "'../emg' is not allowed" in _one_error_line(code, err)


# ------------------------------------------------------------------ MATLAB: channel names stored beside the data
def test_mat_channel_names_are_read_from_the_file(tmp_path):
    import scipy.io

    from myoflow.io import read

    n, fs = 1000, 1925.925
    data = np.random.default_rng(0).normal(size=(2, n))
    scipy.io.savemat(tmp_path / "delsys.mat", {"Data": data, "Fs": np.full((2, 1), fs),
                                               "Channels": np.array(["VL EMG 1", "RF EMG 2"])})
    scipy.io.savemat(tmp_path / "cell.mat", {"emg": data.T, "fs": 2000.0,
                                             "labels": np.array(["VL", "RF"], dtype=object)})
    # was: 'Data1', 'Data2' / 'emg1', 'emg2' (with --split-channels, the muscle classes)
    assert read(tmp_path / "delsys.mat").ch_names == ("VL EMG 1", "RF EMG 2")
    assert read(tmp_path / "cell.mat").ch_names == ("VL", "RF")
    assert read(tmp_path / "cell.mat", ch_names=["a", "b"]).ch_names == ("a", "b")  # the hint still wins


def test_mat_with_several_structs_or_a_struct_array_says_which_hint(tmp_path, capsys):
    import scipy.io

    from myoflow.io import read

    rng = np.random.default_rng(2)
    scipy.io.savemat(tmp_path / "two.mat", {"a": {"VL": rng.normal(size=100), "fs": 1000.0},
                                            "b": {"VL": rng.normal(size=100), "fs": 500.0}})
    code, _, err = _cli(["inspect", tmp_path / "two.mat"], capsys)
    line = _one_error_line(code, err)  # was: "no sampling-rate variable found", the rates inside the structs
    assert "two.mat" in line and "['a', 'b']" in line and "data_var" in line
    assert read(tmp_path / "two.mat", data_var="b").fs == 500.0
    arr = np.zeros((1, 2), dtype=[("VL", "O"), ("fs", "O")])
    arr[0, 0], arr[0, 1] = (rng.normal(size=100), 1000.0), (rng.normal(size=100), 1000.0)
    scipy.io.savemat(tmp_path / "trials.mat", {"trials": arr})
    code, _, err = _cli(["inspect", tmp_path / "trials.mat"], capsys)
    line = _one_error_line(code, err)
    assert "trials.mat" in line and "array of 2 structs" in line


# ------------------------------------------------------------------ convert: a folder of many small files
def test_convert_shows_progress_when_asked(tmp_path, capsys):
    from myoflow.io.convert import convert, plan_from_pattern

    raw = tmp_path / "raw"
    raw.mkdir()
    for s in range(3):
        (raw / f"S{s}_VL.csv").write_text("time,EMG\n" + _rows(_T[:50], _X[:50, :1] + s))
    items = plan_from_pattern([raw], "{subject}_{muscle}")
    convert(items, tmp_path / "ds", progress=True)  # was: no sign of life while thousands of files are read
    assert "convert" in capsys.readouterr().err


# ------------------------------------------------------------------ gait-emg: heel strikes under another name
def test_heel_strike_events_of_another_name_are_warned_about(caplog):
    import pandas as pd

    from myoflow.containers import Recording, Trial
    from myoflow.pipelines.gait_emg.pipeline import _warn_heel_strike_names

    ev = pd.DataFrame({"sample": [10, 120, 130], "kind": ["Foot Strike", "Left Foot Off", "Right Foot Strike"]})
    ang = Recording(np.zeros((1, 300)), 100.0, ["knee_flexion"], units="deg", events=ev,
                    meta={"source": "raw/S01_walk.c3d"})
    _warn_heel_strike_names(Trial(streams={"angles": ang}, meta={"subject": "S01"}))
    # was: passed over without a word, the strikes detected from the GRF instead (a side's own strikes are read)
    assert "Foot Strike" in caplog.text and "heel_strike" in caplog.text and "Left Foot Off" not in caplog.text
    assert "Right Foot Strike" not in caplog.text
    caplog.clear()
    named = ang.replace(events=pd.DataFrame({"sample": [10, 120], "kind": ["heel_strike", "Right Foot Strike"]}))
    _warn_heel_strike_names(Trial(streams={"angles": named}, meta={"subject": "S01"}))
    assert "look like heel strikes" not in caplog.text


# ------------------------------------------------------------------ muscle-id: a side on some recordings only
def test_side_on_some_recordings_only_is_warned_about(caplog):
    import pandas as pd

    from myoflow.pipelines.muscle_id.data import grid_tasks

    md = pd.DataFrame({"recording": ["01_L_VL", "01_R_VL", "02_L_TA", "03_VL", "03_TA"],
                       "subject": ["01", "01", "02", "03", "03"], "muscle": ["VL", "VL", "TA", "VL", "TA"],
                       "side": ["L", "R", "L", None, None]})
    tasks = grid_tasks(md)
    assert sorted(set(tasks["4class"])) == ["TA", "VL"]  # the sides are pooled ...
    # ... and now it is said (was: without a word, L-VL and R-VL became one class)
    assert "03_VL" in caplog.text and "carry no 'side'" in caplog.text
    caplog.clear()
    grid_tasks(md.assign(side=["R", "R", "R", None, None]))  # one side where given: nothing pooled, no warning
    assert "carry no 'side'" not in caplog.text


# ------------------------------------------------------------------ convert --events: times in ms
def test_events_table_with_times_in_ms(tmp_path, capsys):
    from myoflow.io import load_dataset

    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "S01_VL.csv").write_text("time,EMG\n" + _rows(_T, _X[:, :1]))
    (tmp_path / "ev.csv").write_text("subject,kind,time_ms\nS01,heel_strike,50\nS01,heel_strike,150.5\n")
    code, _, err = _cli(["convert", raw, "--pattern", "{subject}_{muscle}", "--events", tmp_path / "ev.csv",
                         "--out", tmp_path / "ds"], capsys)
    assert code == 0, err  # was: "events table needs 'kind' and 'time_s' columns"
    (_, rec), = list(load_dataset(tmp_path / "ds"))
    assert rec.events_of("heel_strike").tolist() == [100, 301]


def test_a_c3d_sides_foot_strikes_are_its_heel_strikes():
    """Was: 'Right Foot Strike' / 'Left Foot Strike' (Vicon C3D events) never used; strikes came from the GRF or the
    kinematics (or no cycles at all) even when the lab had marked them."""
    import pandas as pd

    from myoflow.biomech.gait_trials import heel_strike_times
    from myoflow.containers import Recording, Trial

    ev = pd.DataFrame({"sample": [100, 210, 50, 160, 270, 320],
                       "kind": ["Right Foot Strike", "Right Foot Strike", "Left Foot Strike", "Left Foot Strike",
                                "right foot strike", "Right Foot Off"]})
    ang = Recording(np.zeros((1, 400)), 100.0, ["knee_flexion"], units="deg", events=ev,
                    meta={"source": "raw/S01_walk.c3d"})
    trial = Trial(streams={"angles": ang}, meta={"subject": "S01"})
    hs, where = heel_strike_times(trial, "r", method="events")
    np.testing.assert_allclose(hs, [1.0, 2.1, 2.7])
    assert "Right Foot Strike" in where
    hs, _ = heel_strike_times(trial, "l", method="auto")
    np.testing.assert_allclose(hs, [0.5, 1.6])
