"""Bad input gives one clear DataError naming the file, and exit code 2 from ``myoflow inspect``."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.io

from myoflow.cli import main
from myoflow.containers import Recording
from myoflow.errors import DataError
from myoflow.io import native, read, write_edf


def _edf(tmp_path):
    rec = Recording(np.random.default_rng(0).standard_normal((2, 2000)), 1000.0, ["a", "b"])
    return write_edf(rec, tmp_path / "good.edf")


def _truncate(path, keep=0.5):
    raw = path.read_bytes()
    path.write_bytes(raw[: int(len(raw) * keep)])
    return path


def _case_missing(tmp_path):
    return tmp_path / "nope.edf", {}, "file not found"


def _case_unknown_extension(tmp_path):
    p = tmp_path / "rec.xyz"
    p.write_text("1,2,3\n")
    return p, {}, "unknown file type '.xyz'"


def _case_truncated_edf(tmp_path):
    return _truncate(_edf(tmp_path)), {}, "truncated"


def _case_truncated_hdf5(tmp_path):
    rec = Recording(np.zeros((2, 5000)), 1000.0, ["a", "b"])
    return _truncate(native.save(rec, tmp_path / "r.h5"), 0.3), {}, "truncated or corrupt"


def _case_corrupt_mat(tmp_path):
    scipy.io.savemat(tmp_path / "m.mat", {"emg": np.zeros((1000, 2)), "fs": 1000})
    return _truncate(tmp_path / "m.mat", 0.4), {}, "truncated or corrupt"


def _case_truncated_c3d(tmp_path):
    import ezc3d

    c = ezc3d.c3d()
    c["parameters"]["POINT"]["RATE"]["value"] = [100]
    c["parameters"]["POINT"]["LABELS"]["value"] = ("m1",)
    c["parameters"]["ANALOG"]["RATE"]["value"] = [1000]
    c["parameters"]["ANALOG"]["LABELS"]["value"] = ("EMG1",)
    c["data"]["points"] = np.ones((4, 1, 500))
    c["data"]["analogs"] = np.zeros((1, 1, 5000))
    c.write(str(tmp_path / "t.c3d"))
    return _truncate(tmp_path / "t.c3d", 0.7), {}, "truncated"


def _case_truncated_sto(tmp_path):
    p = tmp_path / "cut.sto"
    p.write_text("x\nendheader\ntime\ta\tb\n0\t1\t2\n0.01\t1\t2\n0.02\t1")
    return p, {}, "truncated"


def _case_nan_samples(tmp_path):
    p = tmp_path / "nan.csv"
    p.write_text("time,a\n0,1\n0.001,nan\n0.002,2\n0.003,3\n")
    return p, {}, "non-finite sample"


def _case_inf_samples(tmp_path):
    p = tmp_path / "inf.csv"
    p.write_text("time,a\n0,1\n0.001,2\n0.002,inf\n0.003,3\n")
    return p, {}, "non-finite sample"


def _case_non_increasing_time(tmp_path):
    p = tmp_path / "time.csv"
    p.write_text("time,a\n0,1\n0.002,1\n0.001,2\n0.003,3\n")
    return p, {}, "not strictly increasing"


def _case_non_increasing_sto(tmp_path):
    p = tmp_path / "bad.sto"
    p.write_text("x\nendheader\ntime\tq\n0\t1\n0.01\t2\n0.01\t3\n0.03\t4\n")
    return p, {}, "not strictly increasing"


def _case_fs_zero_hint(tmp_path):
    p = tmp_path / "nofs.csv"
    p.write_text("a,b\n1,2\n3,4\n5,6\n")
    return p, {"fs": 0}, "sampling rate must be > 0"


def _case_fs_negative_in_file(tmp_path):
    scipy.io.savemat(tmp_path / "neg.mat", {"emg": np.zeros((100, 1)), "fs": -2000})
    return tmp_path / "neg.mat", {}, "sampling rate must be > 0"


def _case_channel_count_mismatch(tmp_path):
    p = tmp_path / "mis.csv"
    p.write_text("time,a,b\n0,1,2\n0.001,1,2\n0.002,1,2\n")
    return p, {"ch_names": ["only_one"]}, "1 channel name(s) given for 2"


def _case_header_width_mismatch(tmp_path):
    p = tmp_path / "width.csv"
    p.write_text("time,a,b,c\n0,1,2\n0.001,1,2\n0.002,1,2\n")
    return p, {}, "header has 4 column name(s) but the data rows have 3"


def _case_empty_recording(tmp_path):
    p = tmp_path / "empty.csv"
    p.write_text("time,a,b\n")
    return p, {}, "empty"


def _case_empty_file(tmp_path):
    p = tmp_path / "zero.edf"
    p.write_bytes(b"")
    return p, {}, "file is empty"


def _case_empty_sto(tmp_path):
    p = tmp_path / "rows.sto"
    p.write_text("header\nendheader\ntime\tq\n")
    return p, {}, "empty"


CASES = [v for k, v in sorted(globals().items()) if k.startswith("_case_")]


@pytest.mark.parametrize("case", CASES, ids=[c.__name__[6:] for c in CASES])
def test_api_raises_clear_data_error(tmp_path, case):
    path, hints, expected = case(tmp_path)
    with pytest.raises(DataError) as info:
        read(path, **hints)
    msg = str(info.value)
    assert str(path) in msg, msg
    assert expected in msg, msg
    assert "\n" not in msg


@pytest.mark.parametrize("case", CASES, ids=[c.__name__[6:] for c in CASES])
def test_cli_exit_code_2_and_one_line(tmp_path, case, capsys):
    path, hints, expected = case(tmp_path)
    argv = ["inspect", str(path)]
    for k, v in hints.items():
        argv += ["--fs", str(v)] if k == "fs" else ["--hint", f"{k}={__import__('json').dumps(v)}"]
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(f"error: {path}: ") and expected in err[0], err[0]


def test_unknown_folder(tmp_path, capsys):
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(DataError, match="not a myoflow dataset"):
        read(tmp_path)
    with pytest.raises(SystemExit) as info:
        main(["inspect", str(tmp_path)])
    assert info.value.code == 2
