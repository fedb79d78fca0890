"""Vendor formats read through maintained libraries, on synthetic files written here byte by byte."""
from __future__ import annotations

import struct

import numpy as np
import pytest

from myoflow.containers import Recording, Trial
from myoflow.errors import DataError
from myoflow.io import read


# --------------------------------------------------------------------- XDF
def _chunk(tag: int, content: bytes) -> bytes:
    body = struct.pack("<H", tag) + content
    return struct.pack("<BI", 4, len(body)) + body


def _varlen(n: int) -> bytes:
    return struct.pack("<BI", 4, n)


def _stream_header(sid: int, name: str, typ: str, n_ch: int, srate: float, fmt: str, chans=()) -> bytes:
    ch = "".join(f"<channel><label>{lab}</label><unit>{u}</unit></channel>" for lab, u in chans)
    xml = (f'<?xml version="1.0"?><info><name>{name}</name><type>{typ}</type><channel_count>{n_ch}</channel_count>'
           f"<nominal_srate>{srate}</nominal_srate><channel_format>{fmt}</channel_format>"
           f"<created_at>0</created_at><desc><channels>{ch}</channels></desc></info>")
    return _chunk(2, struct.pack("<I", sid) + xml.encode())


def _samples_numeric(sid: int, t: np.ndarray, x: np.ndarray) -> bytes:
    out = struct.pack("<I", sid) + _varlen(len(t))
    for ti, row in zip(t, x):
        out += struct.pack("<Bd", 8, ti) + row.astype("<f4").tobytes()
    return _chunk(3, out)


def _samples_string(sid: int, t, values) -> bytes:
    out = struct.pack("<I", sid) + _varlen(len(t))
    for ti, v in zip(t, values):
        b = v.encode()
        out += struct.pack("<Bd", 8, ti) + _varlen(len(b)) + b
    return _chunk(3, out)


def _write_xdf(path, emg: np.ndarray, fs: float, t0: float, markers, second_stream: bool = False):
    t = t0 + np.arange(emg.shape[0]) / fs
    parts = [b"XDF:", _chunk(1, b'<?xml version="1.0"?><info><version>1.0</version></info>'),
             _stream_header(1, "Quattrocento", "EMG", emg.shape[1], fs, "float32",
                            [("BB", "microvolts"), ("TB", "microvolts")]),
             _stream_header(2, "Markers", "Markers", 1, 0, "string")]
    if second_stream:
        parts.append(_stream_header(3, "Force", "Force", 1, 100.0, "float32", [("F", "N")]))
    # samples in two chunks, as LSL recorders write them
    half = emg.shape[0] // 2
    parts += [_samples_numeric(1, t[:half], emg[:half]), _samples_numeric(1, t[half:], emg[half:]),
              _samples_string(2, [m[0] for m in markers], [m[1] for m in markers])]
    if second_stream:
        tf = t0 + np.arange(100) / 100.0
        parts.append(_samples_numeric(3, tf, np.linspace(0, 50, 100)[:, None]))
    path.write_bytes(b"".join(parts))
    return path


def test_xdf_emg_stream_with_markers(tmp_path):
    pytest.importorskip("pyxdf", reason="vendor extra not installed")
    rng = np.random.default_rng(0)
    fs, t0 = 1000.0, 1234.5
    emg = (rng.normal(size=(2000, 2)) * 50).astype(np.float32)  # µV
    f = _write_xdf(tmp_path / "s01.xdf", emg, fs, t0, [(t0 + 0.5, "contraction"), (t0 + 1.25, "rest"),
                                                         (t0 + 9.0, "after the end")])
    rec = read(f)
    assert isinstance(rec, Recording)
    assert rec.fs == fs and rec.ch_names == ("BB", "TB") and rec.units == ("V", "V")
    assert rec.t0 == pytest.approx(t0, abs=1e-3)
    np.testing.assert_allclose(rec.data, emg.T.astype(float) * 1e-6, rtol=1e-6)
    assert rec.events["kind"].tolist() == ["contraction", "rest"]
    np.testing.assert_array_equal(rec.events["sample"], [500, 1250])
    assert rec.meta["stream"] == "Quattrocento"


def test_xdf_two_regular_streams_give_a_trial_and_corrupt_file_is_named(tmp_path):
    pytest.importorskip("pyxdf", reason="vendor extra not installed")
    emg = np.zeros((1000, 2), np.float32)
    emg[:, 0] = 1.0
    f = _write_xdf(tmp_path / "t.xdf", emg, 1000.0, 10.0, [(10.2, "go")], second_stream=True)
    tr = read(f)
    assert isinstance(tr, Trial) and set(tr.names) == {"Quattrocento", "Force"}
    assert tr["Force"].fs == 100.0 and tr["Force"].units == ("N",)
    assert tr["Force"].events["sample"].tolist() == [20] and tr["Quattrocento"].events["sample"].tolist() == [200]
    assert read(f, streams=["Force"]).ch_names == ("F",)
    bad = tmp_path / "bad.xdf"
    bad.write_bytes(f.read_bytes()[:-40])
    with pytest.raises(DataError, match="bad.xdf"):
        read(bad)
    junk = tmp_path / "junk.xdf"
    junk.write_bytes(b"not an xdf file at all")
    with pytest.raises(DataError, match="junk.xdf"):
        read(junk)


# -------------------------------------------------------------- Intan RHD
def _qstr(s: str) -> bytes:
    b = s.encode("utf-16-le")
    return struct.pack("<I", len(b)) + b


def _write_rhd(path, raw: np.ndarray, fs: float, names) -> None:
    """An RHD2000 v3.0 header-attached file: header, then 128-sample blocks (timestamps + uint16 per channel)."""
    n_ch, n = raw.shape
    h = struct.pack("<Ihh", 0xC6912702, 3, 0)
    h += struct.pack("<fh6fh2f", fs, 0, 1.0, 10.0, 7500.0, 1.0, 10.0, 7500.0, 0, 1000.0, 1000.0)
    h += _qstr("") * 3 + struct.pack("<hh", 0, 0) + _qstr("")  # notes; temp sensors, board mode; reference
    h += struct.pack("<h", 1) + _qstr("Port A") + _qstr("A") + struct.pack("<hhh", 1, n_ch, n_ch)
    for i, name in enumerate(names):
        h += _qstr(f"A-{i:03d}") + _qstr(name) + struct.pack("<10h", i, i, 0, 1, i, 0, 0, 0, 0, 0)
        h += struct.pack("<ff", 1e5, 0.0)
    body = b""
    for b in range(n // 128):
        body += np.arange(b * 128, (b + 1) * 128, dtype="<i4").tobytes()
        for c in range(n_ch):
            body += raw[c, b * 128:(b + 1) * 128].astype("<u2").tobytes()
    path.write_bytes(h + body)


def test_intan_rhd_amplifier_channels_in_volts(tmp_path):
    pytest.importorskip("neo", reason="vendor extra not installed")
    rng = np.random.default_rng(3)
    raw = (32768 + rng.integers(-2000, 2000, size=(3, 128 * 6))).astype(np.uint16)
    f = tmp_path / "session.rhd"
    _write_rhd(f, raw, 2000.0, ["VL", "RF", "BF"])
    rec = read(f)
    assert rec.fs == 2000.0 and rec.ch_names == ("VL", "RF", "BF") and rec.units == ("V",) * 3
    assert rec.n_samples == 768 and rec.meta["native_names"] == ["A-000", "A-001", "A-002"]
    # Intan amplifier scale: 0.195 µV per bit around 32768
    np.testing.assert_allclose(rec.data, (raw.astype(float) - 32768) * 0.195e-6, rtol=1e-5, atol=1e-12)
    assert rec.meta["actual_upper_bandwidth"] == pytest.approx(7500.0)
    with pytest.raises(DataError, match="no stream"):
        read(f, stream="USB board ADC input channel")
    cut = tmp_path / "cut.rhd"
    cut.write_bytes(f.read_bytes()[:-100])  # a recording stopped mid-block
    with pytest.raises(DataError, match="cut.rhd.*truncated"):
        read(cut)
    junk = tmp_path / "junk.rhd"
    junk.write_bytes(b"\x00" * 300)
    with pytest.raises(DataError, match="junk.rhd"):
        read(junk)


def _gapped_xdf(path, fs: float, keep: np.ndarray, markers) -> object:
    emg = np.random.default_rng(0).normal(size=(keep.size, 2)).astype(np.float32)
    t = 100.0 + keep / fs
    parts = [b"XDF:", _chunk(1, b'<?xml version="1.0"?><info><version>1.0</version></info>'),
             _stream_header(1, "EMG", "EMG", 2, fs, "float32", [("BB", "microvolts"), ("TB", "microvolts")]),
             _stream_header(2, "Markers", "Markers", 1, 0, "string"),
             _samples_numeric(1, t, emg), _samples_string(2, [m[0] for m in markers], [m[1] for m in markers])]
    path.write_bytes(b"".join(parts))
    return path


def test_xdf_samples_lost_in_transmission_are_reported_and_markers_stay_on_their_data(tmp_path, caplog):
    pytest.importorskip("pyxdf", reason="vendor extra not installed")
    fs = 1000.0
    # 2 s lost after the first 2 s (longer than pyxdf's 1 s dejitter break): a jump in the time stamps
    keep = np.concatenate([np.arange(2000), np.arange(4000, 6000)])
    rec = read(_gapped_xdf(tmp_path / "gap.xdf", fs, keep, [(101.0, "before"), (105.0, "after")]))
    assert rec.n_samples == 4000 and "1 gap(s) in its time stamps (2.000 s in all" in caplog.text
    # the marker at 105 s belongs to the 1001st sample after the gap, not to t0 + 5 s of a continuous stream
    assert dict(zip(rec.events["kind"], rec.events["sample"])) == {"before": 1000, "after": 3000}
    caplog.clear()
    # 0.1 s lost (dejittered away by pyxdf): only the rate over the stamps tells
    keep = np.concatenate([np.arange(1500), np.arange(1600, 3000)])
    read(_gapped_xdf(tmp_path / "short.xdf", fs, keep, [(101.0, "x")]))
    assert "2900 samples over" in caplog.text and "nominal 1000 Hz" in caplog.text
