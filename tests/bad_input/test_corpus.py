"""The bad-input corpus: every command, fed files and folders the tests damage, must answer with exit code 2
and exactly one line ``error: <file>: <problem>`` on stderr — never a traceback, never exit 0.

The CLI is called in-process (``myoflow.cli.main``), and every case fails before any training, so the
whole corpus takes seconds. Each case returns ``(argv, expected text, path the message must name)``.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pytest
import scipy.io
import yaml

from myoflow.cli import main
from myoflow.containers import Recording
from myoflow.io import native, write_dataset

from ._builders import fake_run

CONFIGS = Path(__file__).resolve().parents[2] / "src" / "myoflow" / "configs"
TOY = {"name": "toy-bad", "pipeline": "toy", "seed": 1, "train": {"epochs": 1, "batch_size": 8, "lr": 0.1},
       "data": {"subjects": 6, "samples_per_subject": 4}, "evaluate": {"n_splits": 3}}


def _copy(v: dict, key: str, t: Path, name: str | None = None) -> Path:
    dst = t / (name or v[key].name)
    shutil.copy(v[key], dst)
    return dst


def _truncate(p: Path, keep: float | int) -> Path:
    raw = p.read_bytes()
    p.write_bytes(raw[: keep if isinstance(keep, int) else int(len(raw) * keep)])
    return p


def _patch(p: Path, offset: int, data: bytes) -> Path:
    raw = bytearray(p.read_bytes())
    raw[offset:offset + len(data)] = data
    p.write_bytes(bytes(raw))
    return p


def _edf_field(p: Path, field: str, value: bytes, signal: int = 0) -> Path:
    """Overwrite one per-signal header field of an EDF/BDF file."""
    raw = p.read_bytes()
    ns = int(raw[252:256])
    widths = [("label", 16), ("transducer", 80), ("dimension", 8), ("pmin", 8), ("pmax", 8), ("dmin", 8),
              ("dmax", 8), ("prefilter", 80), ("samples", 8)]
    offset = 256
    for name, w in widths:
        if name == field:
            return _patch(p, offset + w * signal, value.ljust(w))
        offset += w * ns
    raise KeyError(field)


def _text(t: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    p = t / name
    p.write_bytes(text.encode(encoding))
    return p


# ------------------------------------------------------------------ recording files
# Each: (tmp, valid files) -> (path, expected text[, hints for inspect]). Run through `inspect` and `predict`.
FILES: dict[str, Callable] = {}


def bad_file(fn: Callable) -> Callable:
    FILES[fn.__name__] = fn
    return fn


@bad_file
def missing_file(t, v):
    return t / "nope.edf", "file not found"


@bad_file
def unknown_extension(t, v):
    return _text(t, "rec.xyz", "1,2\n"), "unknown file type '.xyz'"


@bad_file
def no_extension(t, v):
    return _text(t, "recording", "1,2\n"), "unknown file type '(no extension)'"


@bad_file
def empty_edf(t, v):
    return _text(t, "zero.edf", ""), "file is empty"


@bad_file
def empty_csv(t, v):
    return _text(t, "zero.csv", ""), "file is empty"


@bad_file
def symlink_loop(t, v):
    a = t / "loop.edf"
    os.symlink(t / "loop2.edf", a)
    os.symlink(a, t / "loop2.edf")
    return a, "symbolic link loop"


@bad_file
def dangling_symlink(t, v):
    a = t / "dangling.csv"
    os.symlink(t / "gone.csv", a)
    return a, "symbolic link points to a missing file"


@bad_file
def edf_truncated_half(t, v):
    return _truncate(_copy(v, "edf", t), 0.5), "truncated"


@bad_file
def edf_truncated_in_header(t, v):
    return _truncate(_copy(v, "edf", t), 100), "too short for an EDF header"


@bad_file
def edf_header_only(t, v):
    p = _copy(v, "edf", t)
    ns = int(p.read_bytes()[252:256])
    return _truncate(p, 256 + 256 * ns), "truncated"


@bad_file
def edf_random_bytes(t, v):
    p = t / "noise.edf"
    p.write_bytes(np.random.default_rng(1).bytes(3000))
    return p, "EDF"


@bad_file
def edf_text_content(t, v):
    return _text(t, "text.edf", "this is not an EDF file\n" * 20), "EDF"


@bad_file
def edf_record_duration_zero(t, v):
    return _patch(_copy(v, "edf", t), 244, b"0       "), "data record duration of '0'"


@bad_file
def edf_record_duration_negative(t, v):
    return _patch(_copy(v, "edf", t), 244, b"-1      "), "data record duration of '-1'"


@bad_file
def edf_digital_min_equals_max(t, v):
    return _edf_field(_copy(v, "edf", t), "dmin", b"32767"), "digital minimum equals digital maximum"


@bad_file
def edf_physical_min_equals_max(t, v):
    p = _copy(v, "edf", t)
    return _edf_field(_edf_field(p, "pmin", b"1"), "pmax", b"1"), "physical minimum equals physical maximum"


@bad_file
def edf_records_count_garbage(t, v):
    return _patch(_copy(v, "edf", t), 236, b"abcdefgh"), "cannot read as EDF"


@bad_file
def edf_too_many_records(t, v):
    return _patch(_copy(v, "edf", t), 236, b"99999999"), "truncated"


@bad_file
def edf_zero_signals(t, v):
    return _patch(_copy(v, "edf", t), 252, b"0   "), "EDF"


@bad_file
def edf_too_many_signals(t, v):
    return _patch(_copy(v, "edf", t), 252, b"9999"), "EDF"


@bad_file
def edf_negative_samples_per_record(t, v):
    return _edf_field(_copy(v, "edf", t), "samples", b"-5"), "EDF"


@bad_file
def bdf_truncated(t, v):
    return _truncate(_copy(v, "bdf", t), 0.6), "truncated"


@bad_file
def bdf_random_bytes(t, v):
    p = t / "noise.bdf"
    p.write_bytes(np.random.default_rng(2).bytes(2000))
    return p, "BDF"


@bad_file
def bdf_digital_min_equals_max(t, v):
    return _edf_field(_copy(v, "bdf", t), "dmin", b"8388607"), "digital minimum equals digital maximum"


@bad_file
def bdf_record_duration_zero(t, v):
    return _patch(_copy(v, "bdf", t), 244, b"0       "), "data record duration"


@bad_file
def csv_nan_sample(t, v):
    return _text(t, "nan.csv", "time,a\n0,1\n0.001,nan\n0.002,2\n0.003,3\n"), "non-finite sample"


@bad_file
def csv_inf_sample(t, v):
    return _text(t, "inf.csv", "time,a\n0,1\n0.001,2\n0.002,-inf\n0.003,3\n"), "non-finite sample"


@bad_file
def csv_value_beyond_float32(t, v):
    return _text(t, "big.csv", "time,a\n0,1\n0.001,1e300\n0.002,2\n0.003,3\n"), "outside the range of float32"


@bad_file
def csv_decimal_comma(t, v):
    return _text(t, "comma.csv", "time;a\n0;1,5\n0,001;2,5\n0,002;2\n0,003;3\n"), "decimal comma"


@bad_file
def csv_utf16_without_bom(t, v):
    return _text(t, "u16.csv", "time,a\n0,1\n0.001,2\n0.002,3\n", "utf-16-le"), "NUL bytes"


@bad_file
def csv_binary_garbage(t, v):
    p = t / "bin.csv"
    p.write_bytes(bytes(range(256)) * 4)
    return p, "NUL bytes"


@bad_file
def csv_time_not_increasing(t, v):
    return _text(t, "back.csv", "time,a\n0,1\n0.002,1\n0.001,2\n0.003,3\n"), "not strictly increasing"


@bad_file
def csv_time_repeated(t, v):
    return _text(t, "rep.csv", "time,a\n0,1\n0.001,1\n0.001,2\n0.002,3\n"), "not strictly increasing"


@bad_file
def csv_time_gap(t, v):
    return _text(t, "gap.csv", "time,a\n0,1\n0.001,1\n0.002,2\n0.010,3\n0.011,3\n"), "not evenly sampled"


@bad_file
def csv_time_missing_value(t, v):
    return _text(t, "tnan.csv", "time,a\n0,1\n,1\n0.002,2\n0.003,3\n"), "time"


@bad_file
def csv_header_only(t, v):
    return _text(t, "head.csv", "time,a,b\n"), "empty"


@bad_file
def csv_header_wider_than_rows(t, v):
    return _text(t, "wide.csv", "time,a,b,c\n0,1,2\n0.001,1,2\n0.002,1,2\n"), "header has 4 column name(s)"


@bad_file
def csv_word_in_numbers(t, v):
    return _text(t, "word.csv", "time,a\n0,1\n0.001,2\n0.002,3\n0.003,4\n0.004,oops\n0.005,5\n"), "non-numeric value"


@bad_file
def csv_only_time_column(t, v):
    return _text(t, "tonly.csv", "time\n0\n0.001\n0.002\n0.003\n"), "no channel columns"


@bad_file
def csv_no_time_no_rate(t, v):
    return _text(t, "nofs.csv", "a,b\n1,2\n3,4\n5,6\n"), "no time column and no sampling rate"


@bad_file
def csv_single_row(t, v):
    return _text(t, "one.csv", "time,a\n0,1\n"), "at least 2 samples"


@bad_file
def csv_prose(t, v):
    return _text(t, "prose.csv", "Dear colleague,\nplease find the data attached.\nBest\n"), "no table of numbers"


@bad_file
def csv_ragged_rows(t, v):
    return _text(t, "ragged.csv", "time,a\n0,1\n0.001,2\n0.002,3\n0.003,4\n0.004,5,6,7\n"), "rows have different numbers of values"


@bad_file
def tsv_nan(t, v):
    return _text(t, "nan.tsv", "time\ta\n0\t1\n0.001\tnan\n0.002\t2\n0.003\t3\n"), "non-finite sample"


@bad_file
def txt_prose(t, v):
    return _text(t, "notes.txt", "no numbers here\nnor here\n"), "no table of numbers"


@bad_file
def mat_truncated(t, v):
    return _truncate(_copy(v, "mat", t), 0.4), "corrupt"


@bad_file
def mat_random_bytes(t, v):
    p = t / "noise.mat"
    p.write_bytes(np.random.default_rng(3).bytes(4000))
    return p, "mat"


@bad_file
def mat_negative_rate(t, v):
    scipy.io.savemat(t / "neg.mat", {"emg": np.zeros((100, 1)), "fs": -2000})
    return t / "neg.mat", "sampling rate must be > 0"


@bad_file
def mat_nan_rate(t, v):
    scipy.io.savemat(t / "nanfs.mat", {"emg": np.zeros((100, 1)), "fs": np.nan})
    return t / "nanfs.mat", "sampling rate"


@bad_file
def mat_nan_samples(t, v):
    x = np.zeros((100, 2))
    x[5, 1] = np.nan
    scipy.io.savemat(t / "nan.mat", {"emg": x, "fs": 1000})
    return t / "nan.mat", "non-finite"


@bad_file
def mat_no_numeric_variable(t, v):
    scipy.io.savemat(t / "str.mat", {"note": "hello", "fs": 1000})
    return t / "str.mat", "mat"


@bad_file
def mat_empty_array(t, v):
    scipy.io.savemat(t / "empty.mat", {"emg": np.zeros((0, 2)), "fs": 1000})
    return t / "empty.mat", "mat"


@bad_file
def mat_text_content(t, v):
    return _text(t, "text.mat", "MATLAB 5.0 MAT-file, but not really\n" * 10), "mat"


@bad_file
def npz_truncated(t, v):
    return _truncate(_copy(v, "npz", t), 0.4), "corrupt"


@bad_file
def npz_random_bytes(t, v):
    p = t / "noise.npz"
    p.write_bytes(np.random.default_rng(3).bytes(4000))
    return p, "npz"


@bad_file
def npz_negative_rate(t, v):
    np.savez(t / "neg.npz", emg=np.zeros((100, 1)), fs=-2000)
    return t / "neg.npz", "sampling rate must be > 0"


@bad_file
def npz_nan_samples(t, v):
    x = np.zeros((100, 2))
    x[5, 1] = np.nan
    np.savez(t / "nan.npz", emg=x, fs=1000)
    return t / "nan.npz", "non-finite"


@bad_file
def npz_empty_array(t, v):
    np.savez(t / "empty.npz", emg=np.zeros((0, 2)), fs=1000)
    return t / "empty.npz", "npz"


@bad_file
def npz_object_array(t, v):
    a = np.empty(2, dtype=object)
    a[:] = [{"x": 1}, None]
    np.savez(t / "obj.npz", emg=a, fs=1000)
    return t / "obj.npz", "never loaded"


@bad_file
def h5_truncated(t, v):
    return _truncate(_copy(v, "h5", t), 0.3), "truncated or corrupt"


@bad_file
def h5_random_bytes(t, v):
    p = t / "noise.h5"
    p.write_bytes(np.random.default_rng(4).bytes(3000))
    return p, "HDF5"


@bad_file
def h5_not_native(t, v):
    return _copy(v, "other_h5", t), "neither a myoflow native file nor an OpenSignals"


@bad_file
def h5_native_bad_rate(t, v):
    import h5py

    p = _copy(v, "h5", t)
    with h5py.File(p, "r+") as f:
        f.attrs["fs"] = -5.0
    return p, "fs"


@bad_file
def h5_native_missing_data(t, v):
    import h5py

    p = _copy(v, "h5", t)
    with h5py.File(p, "r+") as f:
        del f["data"]
    return p, "corrupt native"


@bad_file
def h5_native_unknown_kind(t, v):
    import h5py

    p = _copy(v, "h5", t)
    with h5py.File(p, "r+") as f:
        f.attrs["kind"] = "Spaceship"
    return p, "unknown object kind"


@bad_file
def h5_native_future_version(t, v):
    import h5py

    p = _copy(v, "h5", t)
    with h5py.File(p, "r+") as f:
        f.attrs["format_version"] = 99
    return p, "newer than this myoflow reads"


@bad_file
def h5_native_nan_samples(t, v):
    import h5py

    p = _copy(v, "h5", t)
    with h5py.File(p, "r+") as f:
        f["data"][0, 3] = np.nan
    return p, "non-finite"


@bad_file
def h5_native_channel_names_mismatch(t, v):
    import h5py

    p = _copy(v, "h5", t)
    with h5py.File(p, "r+") as f:
        f.attrs["ch_names"] = ["only"]
    return p, "corrupt native"


@bad_file
def c3d_truncated(t, v):
    return _truncate(_copy(v, "c3d", t), 0.7), "truncated"


@bad_file
def c3d_random_bytes(t, v):
    p = t / "noise.c3d"
    p.write_bytes(np.random.default_rng(5).bytes(3000))
    return p, "C3D"


@bad_file
def c3d_header_only(t, v):
    return _truncate(_copy(v, "c3d", t), 512), "C3D"


@bad_file
def c3d_text(t, v):
    return _text(t, "text.c3d", "not a c3d\n" * 100), "C3D"


@bad_file
def sto_truncated_row(t, v):
    return _text(t, "cut.sto", "x\nendheader\ntime\ta\tb\n0\t1\t2\n0.01\t1\t2\n0.02\t1"), "truncated"


@bad_file
def sto_no_endheader(t, v):
    return _text(t, "noend.sto", "x\nversion=1\ntime\ta\n0\t1\n0.01\t2\n"), "endheader"


@bad_file
def sto_time_backwards(t, v):
    return _text(t, "back.sto", "x\nendheader\ntime\tq\n0\t1\n0.01\t2\n0.01\t3\n0.03\t4\n"), "not strictly increasing"


@bad_file
def sto_no_rows(t, v):
    return _text(t, "rows.sto", "header\nendheader\ntime\tq\n"), "empty"


@bad_file
def sto_word_in_numbers(t, v):
    return _text(t, "word.sto", "x\nendheader\ntime\tq\n0\t1\n0.01\tabc\n0.02\t3\n"), "non-numeric"


@bad_file
def sto_nan_value(t, v):
    return _text(t, "nan.sto", "x\nendheader\ntime\tq\n0\t1\n0.01\tnan\n0.02\t3\n0.03\t3\n"), "non-finite"


@bad_file
def mot_no_time(t, v):
    return _text(t, "notime.mot", "x\nendheader\nknee\thip\n1\t2\n3\t4\n5\t6\n"), "time"


@bad_file
def sto_random_bytes(t, v):
    p = t / "noise.sto"
    p.write_bytes(np.random.default_rng(6).bytes(1000))
    return p, "sto"


@bad_file
def xlsx_garbage(t, v):
    p = t / "book.xlsx"
    p.write_bytes(b"PK\x03\x04 not really a workbook")
    return p, "xlsx"


# hint cases exist for `inspect` only (predict takes no reader hints)
HINTS: dict[str, Callable] = {}


def bad_hint(fn: Callable) -> Callable:
    HINTS[fn.__name__] = fn
    return fn


@bad_hint
def hint_fs_zero(t, v):
    return [_text(t, "nofs.csv", "a,b\n1,2\n3,4\n5,6\n"), "--fs", "0"], "sampling rate must be > 0"


@bad_hint
def hint_fs_negative(t, v):
    return [_text(t, "nofs.csv", "a,b\n1,2\n3,4\n5,6\n"), "--fs", "-100"], "sampling rate must be > 0"


@bad_hint
def hint_too_few_channel_names(t, v):
    p = _text(t, "mis.csv", "time,a,b\n0,1,2\n0.001,1,2\n0.002,1,2\n")
    return [p, "--hint", 'ch_names=["only"]'], "1 channel name(s) given for 2"


@bad_hint
def hint_unknown(t, v):
    return [_copy(v, "csv", t), "--hint", "colour=blue"], "unknown hint"


@bad_hint
def hint_for_native(t, v):
    return [_copy(v, "h5", t), "--hint", "fs=100"], "take no reading hints"


@bad_hint
def hint_missing_time_column(t, v):
    return [_copy(v, "csv", t), "--hint", "time_column=clock"], "no column named 'clock'"


# ------------------------------------------------------------------ dataset folders
def _dataset(t: Path, n: int = 3) -> Path:
    rng = np.random.default_rng(0)
    items = [(f"{s}/RF", Recording(rng.standard_normal((1, 500)) * 1e-4, 1000.0, ["RF"],
                                   meta={"subject": s, "muscle": "RF", "frequency": 5.0}))
             for s in [f"S{i}" for i in range(n)]]
    parts = pd.DataFrame({"subject": [f"S{i}" for i in range(n)], "age": 30 + np.arange(n)})
    write_dataset(t / "ds", items, parts, {"protocol": "test"})
    return t / "ds"


def _edit_csv(path: Path, fn: Callable[[pd.DataFrame], pd.DataFrame]) -> Path:
    df = pd.read_csv(path, dtype=str)
    fn(df).to_csv(path, index=False)
    return path


def _edit_json(path: Path, fn: Callable[[dict], dict]) -> Path:
    path.write_text(json.dumps(fn(json.loads(path.read_text()))))
    return path


DATASETS: dict[str, Callable] = {}


def bad_dataset(fn: Callable) -> Callable:
    DATASETS[fn.__name__] = fn
    return fn


@bad_dataset
def ds_missing_index(t):
    d = _dataset(t)
    (d / "index.csv").unlink()
    return d, "dataset folder lacks index.csv", d


@bad_dataset
def ds_missing_participants(t):
    d = _dataset(t)
    (d / "participants.csv").unlink()
    return d, "dataset folder lacks participants.csv", d


@bad_dataset
def ds_missing_item_file(t):
    d = _dataset(t)
    (d / "S1" / "RF.h5").unlink()
    return d, "file not found", d / "S1" / "RF.h5"


@bad_dataset
def ds_truncated_item_file(t):
    d = _dataset(t)
    _truncate(d / "S2" / "RF.h5", 0.3)
    return d, "truncated or corrupt", d / "S2" / "RF.h5"


@bad_dataset
def ds_dataset_json_truncated(t):
    d = _dataset(t)
    _truncate(d / "dataset.json", 0.5)
    return d, "dataset.json is not valid JSON", d / "dataset.json"


@bad_dataset
def ds_dataset_json_not_object(t):
    d = _dataset(t)
    (d / "dataset.json").write_text("[1, 2, 3]")
    return d, "must hold a JSON object, got a list", d / "dataset.json"


@bad_dataset
def ds_dataset_json_empty(t):
    d = _dataset(t)
    (d / "dataset.json").write_text("")
    return d, "dataset.json is empty", d / "dataset.json"


@bad_dataset
def ds_dataset_json_latin1(t):
    d = _dataset(t)
    (d / "dataset.json").write_bytes('{"format": "myoflow-dataset", "note": "caf\xe9"}'.encode("latin-1"))
    return d, "not UTF-8", d / "dataset.json"


@bad_dataset
def ds_dataset_json_wrong_format(t):
    d = _dataset(t)
    _edit_json(d / "dataset.json", lambda j: {**j, "format": "something-else"})
    return d, "does not declare format", d / "dataset.json"


@bad_dataset
def ds_index_without_stem(t):
    d = _dataset(t)
    _edit_csv(d / "index.csv", lambda df: df.drop(columns=["stem"]))
    return d, "no 'stem' column", d / "index.csv"


@bad_dataset
def ds_participants_without_subject(t):
    d = _dataset(t)
    _edit_csv(d / "participants.csv", lambda df: df.rename(columns={"subject": "id"}))
    return d, "no 'subject' column", d / "participants.csv"


@bad_dataset
def ds_stem_escapes_folder(t):
    d = _dataset(t)
    (t / "outside.h5").write_bytes((d / "S0" / "RF.h5").read_bytes())
    _edit_csv(d / "index.csv", lambda df: df.assign(stem=["../outside", "S1/RF", "S2/RF"]))
    return d, "must be a relative path without '.', '..'", d / "index.csv"


@bad_dataset
def ds_stem_absolute(t):
    d = _dataset(t)
    _edit_csv(d / "index.csv", lambda df: df.assign(stem=[str(t / "outside"), "S1/RF", "S2/RF"]))
    return d, "must be a relative path", d / "index.csv"


@bad_dataset
def ds_stem_symlink_outside(t):
    d = _dataset(t)
    (t / "elsewhere.h5").write_bytes((d / "S0" / "RF.h5").read_bytes())
    (d / "S0" / "RF.h5").unlink()
    os.symlink(t / "elsewhere.h5", d / "S0" / "RF.h5")
    return d, "points outside the dataset folder", d / "index.csv"


@bad_dataset
def ds_subject_id_with_dotdot(t):
    d = _dataset(t)
    _edit_csv(d / "participants.csv", lambda df: df.assign(subject=["../../evil", "S1", "S2"]))
    return d, "subject id '../../evil' is not allowed", d / "participants.csv"


@bad_dataset
def ds_subject_id_with_slash_in_index(t):
    d = _dataset(t)
    _edit_csv(d / "index.csv", lambda df: df.assign(subject=["a/b", "S1", "S2"]))
    return d, "subject id 'a/b' is not allowed", d / "index.csv"


@bad_dataset
def ds_duplicate_participant(t):
    d = _dataset(t)
    _edit_csv(d / "participants.csv", lambda df: df.assign(subject=["S0", "S0", "S2"]))
    return d, "more than once", d / "participants.csv"


@bad_dataset
def ds_duplicate_stem(t):
    d = _dataset(t)
    _edit_csv(d / "index.csv", lambda df: df.assign(stem=["S0/RF", "S0/RF", "S2/RF"]))
    return d, "more than once", d / "index.csv"


@bad_dataset
def ds_index_subject_not_in_participants(t):
    d = _dataset(t)
    _edit_csv(d / "participants.csv", lambda df: df.iloc[:2])
    return d, "that participants.csv does not list", d / "index.csv"


@bad_dataset
def ds_participants_not_utf8(t):
    d = _dataset(t)
    (d / "participants.csv").write_bytes("subject,age\nS0,3\nS1,4\nS2,5\nJos\xe9,1\n".encode("latin-1"))
    return d, "not UTF-8", d / "participants.csv"


@bad_dataset
def ds_index_empty_file(t):
    d = _dataset(t)
    (d / "index.csv").write_text("")
    return d, "file is empty", d / "index.csv"


@bad_dataset
def ds_index_is_a_folder(t):
    d = _dataset(t)
    (d / "index.csv").unlink()
    (d / "index.csv").mkdir()
    return d, "cannot read", d / "index.csv"


@bad_dataset
def ds_not_a_dataset(t):
    (t / "plain").mkdir()
    (t / "plain" / "notes.txt").write_text("hello")
    return t / "plain", "not a myoflow dataset", t / "plain"


# ------------------------------------------------------------------ configs (run)
def _yaml(t: Path, name: str, data, encoding: str = "utf-8") -> Path:
    text = data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False)
    p = t / name
    p.write_bytes(text.encode(encoding))
    return p


def _shipped(name: str) -> dict:
    return yaml.safe_load((CONFIGS / f"{name}.yaml").read_text())


def _with(cfg: dict, dotted: str, value) -> dict:
    cfg = json.loads(json.dumps(cfg))
    *path, last = dotted.split(".")
    node = cfg
    for k in path:
        node = node.setdefault(k, {})
    node[last] = value
    return cfg


CONFIG_ERRORS = {  # dotted key -> (value, expected text), on the toy config
    "train.lr": (float("nan"), "train.lr: must be a finite number"),
    "train.epochs": (-3, "train.epochs: must be >= 0"),
    "train.batch_size": (0, "train.batch_size must be >= 1"),
    "train.weight_decay": (float("inf"), "train.weight_decay: must be a finite number"),
    "train.val_fraction": (1.5, "train.val_fraction must be in [0, 1)"),
    "train.patience": (-1, "train.patience: must be >= 0"),
    "train.optimizer": ("lbfgs", "is not one of"),
    "train.imbalance": ("magic", "is not one of"),
    "seed": (-5, "seed: must be >= 0"),
    "seed#type": ("abc", "seed: expected an integer"),
    "train.epochs#type": ("many", "train.epochs: expected an integer"),
    "train.lr#type": ("fast", "train.lr: expected a number"),
    "train.lr#bool": (True, "train.lr: expected a number"),
    "train#type": ([1, 2], "expected a mapping for section TrainConfig"),
    "train.epochz": (3, "unknown config key 'train.epochz'"),
    "extra_section": ({"a": 1}, "unknown config key 'extra_section'"),
    "pipeline": ("nope", "unknown pipeline 'nope'"),
    "pipeline#list": (["toy"], "pipeline: expected a pipeline name"),
    "name#type": (5, "name: expected a string"),
}


def _config_case(key):
    def case(t):
        dotted = key.split("#")[0]
        value, expected = CONFIG_ERRORS[key]
        p = _yaml(t, "c.yaml", _with(TOY, dotted, value))
        return ["run", p, "--out", t / "run"], expected, p
    case.__name__ = "config_" + key.replace(".", "_").replace("#", "_")
    return case


COMMANDS: dict[str, Callable] = {}


def bad_command(fn: Callable) -> Callable:
    COMMANDS[fn.__name__] = fn
    return fn


for _k in CONFIG_ERRORS:
    bad_command(_config_case(_k))


@bad_command
def config_missing(t):
    return ["run", t / "none.yaml", "--out", t / "run"], "config file not found", t / "none.yaml"


@bad_command
def config_latin1(t):
    p = _yaml(t, "l1.yaml", "name: caf\xe9\npipeline: toy\n", "latin-1")
    return ["run", p, "--out", t / "run"], "not UTF-8 text (byte 0xe9", p


@bad_command
def config_utf16(t):
    p = _yaml(t, "u16.yaml", "name: x\npipeline: toy\n", "utf-16")
    return ["run", p, "--out", t / "run"], "not UTF-8 text", p


@bad_command
def config_duplicated_key(t):
    p = _yaml(t, "dup.yaml", "name: a\npipeline: toy\ntrain:\n  lr: 0.1\n  lr: 0.2\n")
    return ["run", p, "--out", t / "run"], "key 'lr' appears twice", p


@bad_command
def config_duplicated_top_key(t):
    p = _yaml(t, "dup2.yaml", "name: a\npipeline: toy\nseed: 1\nseed: 2\n")
    return ["run", p, "--out", t / "run"], "key 'seed' appears twice", p


@bad_command
def config_invalid_yaml(t):
    p = _yaml(t, "bad.yaml", "name: [unclosed\npipeline: toy\n")
    return ["run", p, "--out", t / "run"], "invalid YAML", p


@bad_command
def config_tab_indent(t):
    p = _yaml(t, "tab.yaml", "name: a\npipeline: toy\ntrain:\n\tlr: 0.1\n")
    return ["run", p, "--out", t / "run"], "invalid YAML", p


@bad_command
def config_python_object_tag(t):
    p = _yaml(t, "obj.yaml", "name: !!python/object/apply:os.system ['true']\npipeline: toy\n")
    return ["run", p, "--out", t / "run"], "invalid YAML", p


@bad_command
def config_top_level_list(t):
    p = _yaml(t, "list.yaml", "- a\n- b\n")
    return ["run", p, "--out", t / "run"], "expected a mapping at the top level", p


@bad_command
def config_empty(t):
    p = _yaml(t, "empty.yaml", "")
    return ["run", p, "--out", t / "run"], "expected a mapping at the top level", p


@bad_command
def config_no_pipeline(t):
    p = _yaml(t, "nopipe.yaml", {"name": "x"})
    return ["run", p, "--out", t / "run"], "missing required key 'pipeline'", p


@bad_command
def config_no_name(t):
    p = _yaml(t, "noname.yaml", {k: v for k, v in TOY.items() if k != "name"})
    return ["run", p, "--out", t / "run"], "missing required config key 'name'", p


@bad_command
def config_is_a_folder(t):
    (t / "cfgdir.yaml").mkdir()
    return ["run", t / "cfgdir.yaml", "--out", t / "run"], "config file not found", t / "cfgdir.yaml"


@bad_command
def config_quick_hides_invalid_main(t):
    cfg = _with(TOY, "train.epochs", -2)
    cfg["quick"] = {"train": {"epochs": 1}}
    p = _yaml(t, "q.yaml", cfg)
    return ["run", p, "--out", t / "run", "--quick"], "train.epochs: must be >= 0", p


@bad_command
def config_quick_hides_wrong_type(t):
    cfg = _with(TOY, "train.batch_size", "big")
    cfg["quick"] = {"train": {"batch_size": 4}}
    p = _yaml(t, "q2.yaml", cfg)
    return ["run", p, "--out", t / "run", "--quick"], "train.batch_size: expected an integer", p


@bad_command
def config_quick_not_mapping(t):
    p = _yaml(t, "q3.yaml", dict(TOY, quick=[1, 2]))
    return ["run", p, "--out", t / "run", "--quick"], "quick", p


@bad_command
def config_stimulated_mass_label_as_covariate(t):
    p = _yaml(t, "sm.yaml", _with(_shipped("stimulated_mass"), "data.covariates", ["age", "mass_class"]))
    return ["run", p, "--out", t / "run"], "would give the model the ground truth", p


@bad_command
def config_stimulated_mass_asmi_as_covariate(t):
    p = _yaml(t, "sm2.yaml", _with(_shipped("stimulated_mass"), "data.covariates", ["age", "asmi"]))
    return ["run", p, "--out", t / "run"], "['asmi'] would give the model the ground truth", p


@bad_command
def config_stimulated_mass_truth_column_as_covariate(t):
    p = _yaml(t, "sm3.yaml", _with(_shipped("stimulated_mass"), "data.covariates", ["true_csa_RF"]))
    return ["run", p, "--out", t / "run"], "would give the model the ground truth", p


@bad_command
def config_stimulated_mass_negative_frequency(t):
    p = _yaml(t, "sm4.yaml", _with(_shipped("stimulated_mass"), "data.frequencies", [5.0, -10.0]))
    return ["run", p, "--out", t / "run"], "data.frequencies[1]: must be >= 0", p


@bad_command
def config_muscle_id_band_above_resample_nyquist(t):
    p = _yaml(t, "mi.yaml", _with(_shipped("muscle_id"), "preprocess.band_hz", [20.0, 600.0]))
    return ["run", p, "--out", t / "run"], "must be below half of preprocess.resample_hz", p


@bad_command
def config_muscle_id_nan_window(t):
    p = _yaml(t, "mi2.yaml", _with(_shipped("muscle_id"), "preprocess.window_ms", float("nan")))
    return ["run", p, "--out", t / "run"], "preprocess.window_ms: must be a finite number", p


@bad_command
def config_gait_negative_subjects(t):
    p = _yaml(t, "g.yaml", _with(_shipped("gait_emg"), "data.subjects", -4))
    return ["run", p, "--out", t / "run"], "data.subjects: must be >= 0", p


@bad_command
def config_muap_inf_kl(t):
    p = _yaml(t, "m.yaml", _with(_shipped("muap_generator"), "train.lr", float("inf")))
    return ["run", p, "--out", t / "run"], "train.lr: must be a finite number", p


# ------------------------------------------------------------------ run: options and folders
def _toy(t: Path) -> Path:
    return _yaml(t, "toy.yaml", TOY)


@bad_command
def run_workers_zero(t):
    return ["run", _toy(t), "--out", t / "run", "--workers", "0"], "--workers", "--workers"


@bad_command
def run_workers_negative(t):
    return ["run", _toy(t), "--out", t / "run", "--workers", "-1"], "--workers", "--workers"


@bad_command
def run_workers_not_a_number(t):
    return ["run", _toy(t), "--out", t / "run", "--workers", "two"], "--workers", "--workers"


@bad_command
def run_out_is_a_file(t):
    (t / "taken").write_text("x")
    return ["run", _toy(t), "--out", t / "taken"], "--out names an existing file", t / "taken"


@bad_command
def run_out_parent_is_a_file(t):
    (t / "file").write_text("x")
    return ["run", _toy(t), "--out", t / "file" / "run"], "a parent path is a file", t / "file" / "run"


@bad_command
def run_out_holds_other_config(t):
    run = t / "run"
    run.mkdir()
    (run / "config.yaml").write_text("name: other\n")
    # a finished fold: replacing the config would orphan it (a run with none is re-used, see test_runner)
    (run / "folds" / "f0").mkdir(parents=True)
    (run / "folds" / "f0" / "result.json").write_text("{}")
    return ["run", _toy(t), "--out", run], "holds a different config", run / "config.yaml"


@bad_command
def run_unknown_executor(t):
    return ["run", _toy(t), "--out", t / "run", "--executor", "slurm"], "--executor", "--executor"


@bad_command
def run_locked_by_live_process(t):
    import fcntl
    import json as _json

    run = t / "run"
    run.mkdir()
    fd = os.open(run / ".myoflow.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.write(fd, _json.dumps({"pid": 4242, "host": "elsewhere", "started": "now"}).encode())
    _LOCKS.append(fd)  # released after the case
    return ["run", _toy(t), "--out", run], "another run is writing to this folder (pid 4242 on host elsewhere", \
        run / ".myoflow.lock"


_LOCKS: list[int] = []


def _stim_folder_config(t: Path, ds: Path) -> Path:
    cfg = _with(_shipped("stimulated_mass"), "data.source", "folder")
    cfg["data"]["path"] = str(ds)
    return _yaml(t, "smf.yaml", cfg)


def _run_on_dataset(case: Callable) -> Callable:
    def run_case(t):
        ds, expected, named = case(t)
        return ["run", _stim_folder_config(t, ds), "--out", t / "run"], expected, named
    run_case.__name__ = "run_" + case.__name__
    return run_case


for _name in ("ds_missing_index", "ds_missing_participants", "ds_dataset_json_truncated", "ds_stem_escapes_folder",
              "ds_subject_id_with_dotdot", "ds_participants_without_subject", "ds_index_subject_not_in_participants",
              "ds_missing_item_file", "ds_not_a_dataset"):
    bad_command(_run_on_dataset(DATASETS[_name]))


@bad_command
def run_dataset_single_class(t):
    rng = np.random.default_rng(0)
    items = [(f"S{i}/{m}_{f:g}Hz", Recording(rng.standard_normal((1, 2000)) * 1e-4, 2000.0, [m],
                                             meta={"subject": f"S{i}", "muscle": m, "frequency": f}))
             for i in range(6) for m in ("RF", "BF") for f in (5.0,)]
    parts = pd.DataFrame({"subject": [f"S{i}" for i in range(6)], "mass_class": ["low"] * 6, "age": [40] * 6,
                          "sex": ["F"] * 6, "height": [1.7] * 6, "weight": [70.0] * 6, "bmi": [24.0] * 6})
    write_dataset(t / "one", items, parts, {"protocol": "evoked"})
    cfg = _with(_shipped("stimulated_mass"), "data.source", "folder")
    cfg["data"].update(path=str(t / "one"), frequencies=[5.0])
    p = _yaml(t, "one.yaml", cfg)
    return ["run", p, "--out", t / "run"], "classification needs at least two classes", t / "one"


# ------------------------------------------------------------------ report / export / predict / check-placement
@bad_command
def report_missing_folder(t):
    return ["report", t / "norun"], "run directory not found", t / "norun"


@bad_command
def report_on_a_file(t):
    (t / "f").write_text("x")
    return ["report", t / "f"], "expected a run directory, got a file", t / "f"


@bad_command
def report_no_metrics(t):
    run = fake_run(t / "run", CONFIGS / "stimulated_mass.yaml")
    return ["report", run], "incomplete run, nothing to report: missing metrics.json", run


@bad_command
def report_unfinished_folds(t):
    run = fake_run(t / "run", CONFIGS / "stimulated_mass.yaml")
    (run / "folds" / "a-k0").mkdir(parents=True)
    return ["report", run], "1 unfinished fold(s) (a-k0)", run


@bad_command
def report_metrics_corrupt(t):
    run = fake_run(t / "run", CONFIGS / "stimulated_mass.yaml")
    for name in ("predictions.parquet", "figures.json"):
        (run / name).write_text("[]")
    (run / "metrics.json").write_text('{"name": "x", "fol')
    return ["report", run], "metrics.json is corrupt", run


@bad_command
def report_metrics_not_object(t):
    run = fake_run(t / "run", CONFIGS / "stimulated_mass.yaml")
    for name in ("predictions.parquet", "figures.json"):
        (run / name).write_text("[]")
    (run / "metrics.json").write_text("[1]")
    return ["report", run], "metrics.json is corrupt", run


def _run_dir_cases(command: str, tail: Callable[[Path], list], config: str = "stimulated_mass") -> None:
    """The same broken run folders for every command that uses a run."""
    def missing(t):
        return [command, t / "norun", *tail(t)], "run directory not found", t / "norun"

    def not_a_run(t):
        (t / "empty").mkdir()
        return [command, t / "empty", *tail(t)], "no config.yaml", t / "empty"

    def corrupt_yaml(t):
        (t / "r").mkdir()
        (t / "r" / "config.yaml").write_text("name: [x\npipeline: toy\n")
        return [command, t / "r", *tail(t)], "invalid YAML", t / "r" / "config.yaml"

    def latin1_yaml(t):
        (t / "r").mkdir()
        (t / "r" / "config.yaml").write_bytes("name: caf\xe9\npipeline: toy\n".encode("latin-1"))
        return [command, t / "r", *tail(t)], "not UTF-8", t / "r" / "config.yaml"

    def invalid_values(t):
        run = fake_run(t / "r", CONFIGS / f"{config}.yaml")
        (run / "config.yaml").write_text((run / "config.yaml").read_text().replace("epochs:", "epochs: -1 #", 1))
        return [command, run, *tail(t)], "must be >= 0", run / "config.yaml"

    for fn in (missing, not_a_run, corrupt_yaml, latin1_yaml, invalid_values):
        fn.__name__ = f"{command.replace('-', '_')}_run_{fn.__name__}"
        bad_command(fn)


def _good_recording(t: Path) -> Path:
    rec = Recording(np.random.default_rng(0).standard_normal((1, 8000)) * 1e-4, 2000.0, ["RF"],
                    meta={"muscle": "RF", "frequency": 5.0})
    return native.save(rec, t / "rec.h5")


_run_dir_cases("predict", lambda t: [_good_recording(t), "--covariates", "age=40,sex=F,height=1.7,weight=70"])
_run_dir_cases("export", lambda t: ["--onnx", t / "m.onnx"])
_run_dir_cases("check-placement", lambda t: [_good_recording(t)], "muscle_id")


def _stim_run(t: Path) -> Path:
    return fake_run(t / "smrun", CONFIGS / "stimulated_mass.yaml")


def _muscle_run(t: Path) -> Path:
    return fake_run(t / "mirun", CONFIGS / "muscle_id.yaml")


@bad_command
def predict_unknown_covariate(t):
    run = _stim_run(t)
    return ["predict", run, _good_recording(t), "--covariates", "age=40,sex=F,height=1.7,weight=70,shoe=42"], \
        "unknown covariate(s) ['shoe']", run


@bad_command
def predict_ground_truth_covariate(t):
    run = _stim_run(t)
    return ["predict", run, _good_recording(t), "--covariates", "age=40,sex=F,height=1.7,weight=70,asmi=7"], \
        "unknown covariate(s) ['asmi']", run


@bad_command
def predict_missing_covariate(t):
    return ["predict", _stim_run(t), _good_recording(t), "--covariates", "age=40,sex=F"], \
        "missing covariate(s) ['height', 'weight']", "--covariates"


@bad_command
def predict_bad_sex(t):
    return ["predict", _stim_run(t), _good_recording(t), "--covariates", "age=40,sex=X,height=1.7,weight=70"], \
        "sex must be M or F", "sex"


@bad_command
def predict_nan_covariate(t):
    return ["predict", _stim_run(t), _good_recording(t), "--covariates", "age=nan,sex=F,height=1.7,weight=70"], \
        "must be finite", "age"


@bad_command
def predict_implausible_covariate(t):
    return ["predict", _stim_run(t), _good_recording(t), "--covariates", "age=400,sex=F,height=1.7,weight=70"], \
        "outside the plausible range", "age"


@bad_command
def predict_covariate_without_value(t):
    return ["predict", _stim_run(t), _good_recording(t), "--covariates", "age,sex=F,height=1.7,weight=70"], \
        "must look like name=value", "age"


@bad_command
def predict_on_muscle_id_run(t):
    run = _muscle_run(t)
    return ["predict", run, _good_recording(t), "--covariates", "age=40,sex=F,height=1.7,weight=70"], \
        "this is a 'muscle-id' run; predict needs a 'stimulated-mass' or 'gait-emg' run", run


@bad_command
def predict_plot_is_a_folder(t):
    (t / "plots").mkdir()
    return ["predict", _stim_run(t), _good_recording(t), "--covariates", "age=40,sex=F,height=1.7,weight=70",
            "--plot", t / "plots"], "is a folder", t / "plots"


@bad_command
def predict_no_recordings(t):
    return ["predict", _stim_run(t), "--covariates", "age=40"], "RECORDINGS", "RECORDINGS"


@bad_command
def predict_recording_is_a_folder(t):
    (t / "recdir.h5").mkdir()
    return ["predict", _stim_run(t), t / "recdir.h5", "--covariates", "age=40,sex=F,height=1.7,weight=70"], \
        "not a myoflow dataset", t / "recdir.h5"


@bad_command
def check_placement_on_stimulated_mass_run(t):
    run = _stim_run(t)
    return ["check-placement", run, _good_recording(t)], \
        "this is a 'stimulated-mass' run; check-placement needs a 'muscle-id' run", run


@bad_command
def check_placement_no_recordings(t):
    return ["check-placement", _muscle_run(t)], "RECORDINGS", "RECORDINGS"


@bad_command
def export_onnx_is_a_folder(t):
    (t / "out.onnx").mkdir()
    return ["export", _stim_run(t), "--onnx", t / "out.onnx"], "is a folder", t / "out.onnx"


@bad_command
def export_no_finished_folds(t):
    run = _stim_run(t)
    return ["export", run, "--onnx", t / "m.onnx"], "no finished folds", run


@bad_command
def export_missing_onnx_option(t):
    return ["export", _stim_run(t)], "--onnx", "--onnx"


# ------------------------------------------------------------------ simulate
@bad_command
def simulate_unknown_protocol(t):
    return ["simulate", "teleport", "--out", t / "x"], "teleport", "teleport"


@bad_command
def simulate_zero_subjects(t):
    return ["simulate", "evoked", "--out", t / "x", "--subjects", "0"], "n_subjects must be >= 1", "n_subjects"


@bad_command
def simulate_negative_subjects(t):
    return ["simulate", "grid", "--out", t / "x", "--subjects", "-2"], "n_subjects must be >= 1", "n_subjects"


@bad_command
def simulate_zero_rate(t):
    return ["simulate", "evoked", "--out", t / "x", "--subjects", "1", "--fs", "0"], "fs must be >= 1000 Hz", "fs"


@bad_command
def inspect_fs_nan(t):
    return ["inspect", _text(t, "nofs.csv", "a,b\n1,2\n3,4\n5,6\n"), "--fs", "nan"], "is not a finite number", "--fs"


@bad_command
def simulate_nan_rate(t):
    return ["simulate", "evoked", "--out", t / "x", "--subjects", "1", "--fs", "nan"], "is not a finite number", "--fs"


@bad_command
def simulate_inf_train(t):
    return ["simulate", "evoked", "--out", t / "x", "--subjects", "1", "--train-s", "inf"], "is not a finite number", \
        "--train-s"


@bad_command
def simulate_bad_frequencies(t):
    return ["simulate", "evoked", "--out", t / "x", "--subjects", "1", "--frequencies", "five"], \
        "--frequencies must be comma-separated numbers", "--frequencies"


@bad_command
def simulate_zero_frequency(t):
    return ["simulate", "evoked", "--out", t / "x", "--subjects", "1", "--frequencies", "0"], \
        "stimulation frequencies must be in (0, 100] Hz", "frequencies"


@bad_command
def simulate_negative_train(t):
    return ["simulate", "evoked", "--out", t / "x", "--subjects", "1", "--train-s", "-1"], "train_s must be in", "train_s"


@bad_command
def simulate_muaps_zero(t):
    return ["simulate", "muaps", "--out", t / "x", "--n", "0"], "--n", "--n"


@bad_command
def simulate_gait_zero_subjects(t):
    return ["simulate", "gait", "--out", t / "x", "--subjects", "0"], "n_subjects must be >= 1", "n_subjects"


@bad_command
def unknown_command(t):
    return ["teleport"], "No such command 'teleport'", "teleport"


# ------------------------------------------------------------------ the tests
def _cli(argv: list, capsys) -> tuple[int | None, str]:
    try:
        main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    else:
        code = 0
    return code, capsys.readouterr().err


def _problems(code, err: str, expected: str, named) -> list[str]:
    """What is wrong with a command's answer to bad input (empty: exit 2, one ``error:`` line naming file and problem)."""
    lines = [ln for ln in err.splitlines() if ln.strip()]
    out = []
    if "Traceback" in err:
        out.append(f"traceback: {err}")
    if code != 2:
        out.append(f"exit {code}: {err}")
    if len(lines) != 1 or not lines[0].startswith("error: "):
        out.append(f"expected one 'error:' line, got {lines}")
    elif expected not in lines[0] or str(named) not in lines[0]:
        out.append(f"expected {expected!r} and {str(named)!r} in {lines[0]!r}")
    return out


@pytest.fixture
def t(tmp_path):
    yield tmp_path
    while _LOCKS:
        os.close(_LOCKS.pop())


@pytest.mark.parametrize("case", FILES.values(), ids=FILES.keys())
@pytest.mark.parametrize("command", ["inspect", "predict"])
def test_bad_recording_file(command, case, t, valid_files, capsys):
    path, expected = case(t, valid_files)
    if command == "inspect":
        argv = ["inspect", path]
    else:
        argv = ["predict", _stim_run(t), path, "--covariates", "age=40,sex=F,height=1.7,weight=70"]
    code, err = _cli(argv, capsys)
    assert not _problems(code, err, expected, path)


@pytest.mark.parametrize("case", HINTS.values(), ids=HINTS.keys())
def test_bad_reader_hint(case, t, valid_files, capsys):
    args, expected = case(t, valid_files)
    code, err = _cli(["inspect", *args], capsys)
    assert not _problems(code, err, expected, args[0])


@pytest.mark.parametrize("case", DATASETS.values(), ids=DATASETS.keys())
def test_bad_dataset_folder(case, t, capsys):
    folder, expected, named = case(t)
    code, err = _cli(["inspect", folder], capsys)
    assert not _problems(code, err, expected, named)


@pytest.mark.parametrize("case", COMMANDS.values(), ids=COMMANDS.keys())
def test_bad_command_input(case, t, capsys):
    argv, expected, named = case(t)
    code, err = _cli(argv, capsys)
    assert not _problems(code, err, expected, named)


def test_corpus_size():
    n = 2 * len(FILES) + len(HINTS) + len(DATASETS) + len(COMMANDS)
    assert n >= 150, n
