"""Each reader on small synthetic files written here (no shared data needed)."""
from __future__ import annotations

import json

import h5py
import numpy as np
import pandas as pd
import pytest
import scipy.io

from myoflow.containers import Epochs, Recording, Trial
from myoflow.errors import DataError
from myoflow.io import native, read, read_csv, read_mat, write_edf
from myoflow.io.opensim import guess_opensim_unit
from myoflow.io.testing import assert_same


def _rec(n_ch=3, n=2000, fs=2000.0, seed=0, units="V"):
    rng = np.random.default_rng(seed)
    return Recording(
        rng.standard_normal((n_ch, n)) * 1e-4, fs, [f"ch{i}" for i in range(n_ch)], units=units,
        events=pd.DataFrame({"sample": [100, 1500], "kind": ["stim", "onset"]}),
    )


# ------------------------------------------------------------------ EDF/BDF
@pytest.mark.parametrize("suffix, bits", [(".edf", 16), (".bdf", 24)])
def test_edf_bdf_write_read_round_trip(tmp_path, suffix, bits):
    rec = _rec()
    back = read(write_edf(rec, tmp_path / f"r{suffix}"))
    assert back.fs == rec.fs and back.ch_names == rec.ch_names and back.units == rec.units
    step = np.ptp(rec.data, axis=1, keepdims=True) / (2**bits - 1)
    float32_eps = 4 * np.finfo(np.float32).eps * np.abs(rec.data).max()  # containers hold float32
    assert np.all(np.abs(back.data - rec.data) <= step * 0.51 + float32_eps)
    assert back.events["kind"].tolist() == ["stim", "onset"]
    assert back.events["sample"].tolist() == [100, 1500]


def test_edf_microvolts_are_scaled_to_volts(tmp_path):
    rec = Recording(np.array([[0.0, 50.0, -50.0, 100.0] * 250]), 1000.0, ["EMG"], units="uV")
    back = read(write_edf(rec, tmp_path / "uv.edf"))
    assert back.units == ("V",)
    np.testing.assert_allclose(back.data[0, :4], [0.0, 50e-6, -50e-6, 100e-6], atol=1e-8)


def test_edf_mixed_rates_give_a_trial(tmp_path):
    import edfio

    sigs = [edfio.EdfSignal(np.sin(np.arange(2000) / 50.0), 1000, label="EMG", physical_dimension="mV"),
            edfio.EdfSignal(np.cos(np.arange(200) / 5.0), 100, label="ANG", physical_dimension="deg")]
    edfio.Edf(sigs).write(tmp_path / "mixed.edf")
    trial = read(tmp_path / "mixed.edf")
    assert isinstance(trial, Trial)
    assert {r.fs for r in trial.streams.values()} == {1000.0, 100.0}
    assert trial["100Hz"].ch_names == ("ANG",) and trial["100Hz"].units == ("deg",)


# ---------------------------------------------------------------- CSV / TSV
def test_csv_with_time_column_and_units(tmp_path):
    t = np.arange(500) / 1000.0
    df = pd.DataFrame({"time": t, "VL [mV]": np.sin(t), "TA [mV]": np.cos(t)})
    df.to_csv(tmp_path / "a.csv", index=False)
    rec = read(tmp_path / "a.csv")
    assert rec.fs == 1000.0 and rec.ch_names == ("VL", "TA") and rec.units == ("V", "V")
    np.testing.assert_allclose(rec.data[0], np.sin(t) * 1e-3, rtol=1e-6)


def test_csv_time_in_ms_and_t0(tmp_path):
    (tmp_path / "ms.csv").write_text("Time (ms),EMG\n" + "".join(f"{10 + i * 0.5},{i}\n" for i in range(40)))
    rec = read(tmp_path / "ms.csv")
    assert rec.fs == 2000.0 and rec.t0 == pytest.approx(0.010)


def test_tsv_without_time_needs_fs(tmp_path):
    (tmp_path / "b.tsv").write_text("".join(f"{i}\t{-i}\n" for i in range(10)))
    with pytest.raises(DataError, match=r"--fs 2000 \(Python: fs=2000\)"):
        read(tmp_path / "b.tsv")
    rec = read(tmp_path / "b.tsv", fs=500)
    assert rec.fs == 500 and rec.ch_names == ("ch1", "ch2") and rec.data[1, 3] == -3


def test_delsys_style_export_with_preamble_and_two_rates(tmp_path):
    lines = ["Application: EMGworks Acquisition", "Date/Time: 01/02/2024 10:00", "", "",
             "X[s],R VL: EMG 1 [V],X[s],R VL: ACC X.1 [g],"]
    fs_emg, fs_acc = 1925.925, 148.148
    n_emg, n_acc = 200, 16
    for i in range(n_emg):
        row = [f"{i / fs_emg:.6f}", f"{np.sin(i / 10) * 1e-4:.8f}"]
        row += [f"{i / fs_acc:.6f}", f"{np.cos(i):.5f}"] if i < n_acc else ["", ""]
        lines.append(",".join(row) + ",")
    (tmp_path / "delsys.csv").write_text("\n".join(lines) + "\n")
    trial = read(tmp_path / "delsys.csv")
    assert isinstance(trial, Trial)
    emg, acc = sorted(trial.streams.values(), key=lambda r: -r.fs)
    assert emg.ch_names == ("R VL: EMG 1",) and emg.units == ("V",) and emg.n_samples == n_emg
    assert emg.fs == pytest.approx(fs_emg, rel=1e-4)
    assert acc.ch_names == ("R VL: ACC X.1",) and acc.units == ("g",) and acc.n_samples == n_acc
    assert trial.meta["header"]["Application"] == "EMGworks Acquisition"


def test_csv_fs_from_preamble(tmp_path):
    (tmp_path / "p.csv").write_text("Sampling frequency: 1500 Hz\nCH1,CH2\n" + "1,2\n" * 30)
    rec = read(tmp_path / "p.csv")
    assert rec.fs == 1500.0 and rec.ch_names == ("CH1", "CH2")


def test_csv_hints(tmp_path):
    (tmp_path / "h.csv").write_text("t,a,b\n" + "".join(f"{i / 100},{i},{2 * i}\n" for i in range(20)))
    rec = read_csv(tmp_path / "h.csv", time_column="t", ch_names=["x", "y"], units=["N", "deg"])
    assert rec.fs == 100 and rec.ch_names == ("x", "y") and rec.units == ("N", "deg")
    with pytest.raises(DataError, match="no column named 'zz'"):
        read_csv(tmp_path / "h.csv", time_column="zz")
    with pytest.raises(DataError, match="unknown hint"):
        read(tmp_path / "h.csv", sampling_rate=100)


# ---------------------------------------------------------------------- MAT
def test_mat_v5_auto_and_hints(tmp_path):
    x = np.random.default_rng(0).standard_normal((5000, 2))
    scipy.io.savemat(tmp_path / "a.mat", {"emg": x, "Fs": 2500})
    rec = read(tmp_path / "a.mat")
    assert rec.fs == 2500 and rec.n_channels == 2 and rec.ch_names == ("emg1", "emg2")
    np.testing.assert_allclose(rec.data, x.T.astype(np.float32))
    scipy.io.savemat(tmp_path / "b.mat", {"a": x, "b": x[:, :1], "rate": 100})
    with pytest.raises(DataError, match="no sampling-rate variable"):
        read(tmp_path / "b.mat")
    with pytest.raises(DataError, match="several arrays"):
        read(tmp_path / "b.mat", fs_var="rate")
    rec = read_mat(tmp_path / "b.mat", data_var="b", fs_var="rate", ch_names=["biceps"])
    assert rec.fs == 100 and rec.ch_names == ("biceps",)


def test_mat_without_a_rate_variable_names_its_scalars(tmp_path):
    # a Ninapro-style file: the rate is `frequency` beside `subject` and `exercise` scalars; the error lists them
    # so that --hint fs_var=frequency is one step away (never guessed: a stimulation frequency is no rate)
    x = np.random.default_rng(0).standard_normal((4000, 12))
    scipy.io.savemat(tmp_path / "S1_E1_A1.mat", {"emg": x, "restimulus": np.zeros((4000, 1)), "frequency": 2000,
                                                 "subject": 1, "exercise": 1})
    with pytest.raises(DataError, match="frequency=2000") as exc:
        read(tmp_path / "S1_E1_A1.mat")
    assert "subject=1" in str(exc.value) and "fs_var" in str(exc.value)
    assert read(tmp_path / "S1_E1_A1.mat", fs_var="frequency", data_var="emg").fs == 2000


def _write_v73(path, variables):
    with h5py.File(path, "w", userblock_size=512) as f:
        for name, value in variables.items():
            ds = f.create_dataset(name, data=np.asarray(value, dtype=float).T)
            ds.attrs["MATLAB_class"] = np.bytes_("double")
    with open(path, "r+b") as fh:
        fh.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: test HDF5 schema 1.00 .".ljust(116))


def test_mat_v73(tmp_path):
    x = np.arange(3000, dtype=float).reshape(1000, 3)
    _write_v73(tmp_path / "v73.mat", {"data": x, "fs": np.array([[1000.0]])})
    rec = read(tmp_path / "v73.mat")
    assert rec.fs == 1000 and rec.n_channels == 3 and rec.n_samples == 1000
    np.testing.assert_array_equal(rec.data, x.T)


# ---------------------------------------------------------------------- C3D
def test_c3d_analogs_and_events(tmp_path):
    import ezc3d

    c = ezc3d.c3d()
    c["parameters"]["POINT"]["RATE"]["value"] = [100]
    c["parameters"]["POINT"]["LABELS"]["value"] = ("m1",)
    c["parameters"]["ANALOG"]["RATE"]["value"] = [1000]
    c["parameters"]["ANALOG"]["LABELS"]["value"] = ("EMG1", "EMG2")
    c["parameters"]["ANALOG"]["UNITS"]["value"] = ("mV", "V")
    points = np.ones((4, 1, 10))
    c["data"]["points"] = points
    analogs = np.random.default_rng(0).random((1, 2, 100))
    c["data"]["analogs"] = analogs
    c.add_event(time=[0, 0.05], context="Left", label="Foot Strike")
    c.write(str(tmp_path / "t.c3d"))
    rec = read(tmp_path / "t.c3d")
    assert rec.fs == 1000 and rec.ch_names == ("EMG1", "EMG2") and rec.units == ("V", "V")
    np.testing.assert_allclose(rec.data[0], analogs[0, 0] * 1e-3, rtol=1e-5)
    assert rec.events["kind"].tolist() == ["Left Foot Strike"] and rec.events["sample"].tolist() == [50]
    sub = read(tmp_path / "t.c3d", channels=["EMG2"])
    assert sub.ch_names == ("EMG2",)


# ------------------------------------------------------------------ OpenSim
STO = """Inverse Dynamics Generalized Forces
version=1
nRows=5
nColumns=4
inDegrees=no
endheader
time\tknee_angle_r_moment\tpelvis_tx_force\tknee_angle_r
1.00\t1.5\t10\t0.1
1.01\t1.6\t11\t0.2
1.02\t1.7\t12\t0.3
1.03\t1.8\t13\t0.4
1.04\t1.9\t14\t0.5
"""


def test_opensim_sto_tab_and_units(tmp_path):
    (tmp_path / "id.sto").write_text(STO)
    rec = read(tmp_path / "id.sto")
    assert rec.fs == 100 and rec.t0 == pytest.approx(1.0)
    assert rec.ch_names == ("knee_angle_r_moment", "pelvis_tx_force", "knee_angle_r")
    assert rec.units == ("N·m", "N", "rad")


def test_opensim_mot_comma_separated_with_trailing_commas(tmp_path):
    text = "Coordinates,,,\nversion=1,,,\ninDegrees=yes,,,\nendheader,,,\ntime,hip_flexion_r,pelvis_ty,\n"
    text += "".join(f"{i / 50:.2f},{i * 1.5},{0.9},\n" for i in range(10))
    (tmp_path / "ik.mot").write_text(text)
    rec = read(tmp_path / "ik.mot")
    assert rec.fs == 50 and rec.ch_names == ("hip_flexion_r", "pelvis_ty") and rec.units == ("deg", "m")


@pytest.mark.parametrize("col, deg, unit", [
    ("ground_force_vx", None, "N"), ("ground_force_px", None, "m"), ("ground_torque_y", None, "N·m"),
    ("ankle_angle_r", True, "deg"), ("ankle_angle_r", False, "rad"), ("hip_flexion_l_moment", False, "N·m"),
])
def test_opensim_unit_guess(col, deg, unit):
    assert guess_opensim_unit(col, deg) == unit


# -------------------------------------------------------------- OpenSignals
def _write_opensignals(path, devices):
    with h5py.File(path, "w") as f:
        for mac, (fs, res, channels) in devices.items():
            g = f.create_group(mac)
            g.attrs["sampling rate"] = np.int32(fs)
            g.attrs["resolution"] = np.array([res], dtype=np.int32)
            g.attrs["device"] = "channeller"
            raw = g.create_group("raw")
            for ch, values in channels.items():
                raw.create_dataset(f"channel_{ch}", data=np.asarray(values, dtype=np.uint16)[:, None])
            raw.create_dataset("nSeq", data=np.arange(len(values), dtype=np.uint16)[:, None])


def test_opensignals_single_and_multi_device(tmp_path):
    codes = np.array([32768, 0, 65535, 32768] * 25)
    _write_opensignals(tmp_path / "one.h5", {"00:07:80:AA:BB:CC": (1000, 16, {3: codes})})
    raw = read(tmp_path / "one.h5")
    assert raw.ch_names == ("CH3",) and raw.units == ("adc",) and raw.fs == 1000
    emg = read(tmp_path / "one.h5", sensor="EMG")
    # PLUX EMG transfer function: (ADC/2^16 - 0.5) * 3 V / 1000
    np.testing.assert_allclose(emg.data[0, :3], [0.0, -1.5e-3, (65535 / 65536 - 0.5) * 3e-3], rtol=1e-6)
    _write_opensignals(tmp_path / "two.h5", {"00:07:80:00:00:01": (1000, 16, {1: codes}),
                                             "00:07:80:00:00:02": (10, 8, {2: codes[:10] // 256})})
    trial = read(tmp_path / "two.h5", sensor="EMG")
    assert isinstance(trial, Trial) and trial["00:07:80:00:00:02"].fs == 10


# ------------------------------------------------------------ native / read
def test_read_native_recording_and_epochs(tmp_path):
    rec = _rec()
    assert_same(read(native.save(rec, tmp_path / "r.h5")), rec)
    ep = Epochs(np.zeros((2, 1, 5)), 100.0, ["a"], pd.DataFrame({"subject": ["1", "2"]}), y=np.array([0, 1]))
    assert_same(read(native.save(ep, tmp_path / "e.hdf5")), ep)
    with pytest.raises(DataError, match="take no reading hints"):
        read(tmp_path / "r.h5", fs=100)


def test_read_standard_dataset_folder(tmp_path):
    from myoflow.io import Dataset, write_dataset

    write_dataset(tmp_path / "ds", [("a", _rec())], None, {"protocol": "t"})
    ds = read(tmp_path / "ds")
    assert isinstance(ds, Dataset) and len(ds) == 1


def test_describe_is_json_serialisable(tmp_path):
    from myoflow.io import describe

    rec = _rec().replace(meta={"subject": "S1", "covariates": {"age": np.int64(70)}})
    d = describe(rec)
    json.dumps(d, allow_nan=False)
    assert d["fs"] == 2000 and d["events"] == {"stim": 1, "onset": 1} and d["covariates"] == {"age": 70}
    col = describe([rec, rec.replace(meta={"subject": "S2", "covariates": {"age": 80}})])
    assert col["subjects"] == ["S1", "S2"] and col["covariates"]["age"]["mean"] == 75


def test_csv_without_time_or_rate_names_a_steady_first_column(tmp_path):
    # Camargo et al.'s exports call the time column `Header`: the error says which --hint makes it time
    t = np.arange(500) / 1000.0
    rows = "\n".join(f"{a:.3f},{b:.5f},{c:.5f}" for a, b, c in zip(t, np.sin(t), np.cos(t)))
    (tmp_path / "emg.csv").write_text("Header,tibialis anterior,soleus\n" + rows + "\n")
    with pytest.raises(DataError, match=r"--hint time_column='Header'"):
        read(tmp_path / "emg.csv")
    assert read(tmp_path / "emg.csv", time_column="Header").fs == pytest.approx(1000.0)
    (tmp_path / "noise.csv").write_text("a,b\n" + "\n".join(f"{x:.4f},{x:.4f}" for x in np.sin(t)) + "\n")
    with pytest.raises(DataError) as exc:  # a signal in the first column is not called a time axis
        read(tmp_path / "noise.csv")
    assert "time_column" not in str(exc.value)


def test_participants_table_with_an_id_column_of_another_name_says_rename_it(tmp_path):
    from myoflow.io.convert import read_table_arg

    (tmp_path / "p.csv").write_text("ID,age,sex\nS01,70,F\nS02,71,M\n")
    with pytest.raises(DataError, match=r"column 'ID' looks like the subject id: rename it to 'subject'"):
        read_table_arg(tmp_path / "p.csv", "participants")
    (tmp_path / "q.csv").write_text("age,sex\n70,F\n")
    with pytest.raises(DataError) as exc:
        read_table_arg(tmp_path / "q.csv", "participants")
    assert "looks like" not in str(exc.value)


@pytest.mark.parametrize("unit,scale", [("microvolts", 1e-6), ("Millivolts", 1e-3), ("uVolt", 1e-6)])
def test_spelled_out_volt_units_are_scaled(tmp_path, unit, scale):
    # an export writing 'microvolts' was kept unscaled: its EMG read 10**6 times too big
    t = np.arange(200) / 1000.0
    pd.DataFrame({"time": t, f"VL [{unit}]": np.sin(t)}).to_csv(tmp_path / "a.csv", index=False)
    rec = read(tmp_path / "a.csv")
    assert rec.units == ("V",)
    np.testing.assert_allclose(rec.data[0], np.sin(t) * scale, rtol=1e-6)
