"""TMSi Poly5 files: a SAGA-like grid with TRIGGERS, STATUS and COUNTER, a bipolar file, calibration, bad input, the stack.

The files are written here by a small writer of the documented layout (a 217-byte header, 136-byte (Lo)/(Hi)
signal descriptions, data blocks of an 86-byte block header + float32 samples, signal fastest), packed field by
field, independent of the reader.
"""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from myoflow.errors import DataError
from myoflow.io import load_dataset, read, read_poly5

from ..test_user_data import run_cli
from ._e2e import bursts, run_arm_leg

MAGIC = b"POLY SAMPLE FILEversion 2.03\r\n\x1a"
START = (2025, 3, 14, 5, 9, 26, 53)  # year, month, day, day of week, hour, minute, second


# ------------------------------------------------------------------ a test-side writer
def pascal(text: bytes, width: int) -> bytes:
    """A Pascal string field: 1 length byte, the text, NUL padding to ``width`` bytes of text."""
    return bytes([len(text)]) + text + b"\x00" * (width - len(text))


def write_poly5(path: Path, data: np.ndarray, fs: int, names, units, *, per_block: int | None = None,
                pad_last: bool = False, name: bytes = b"measurement", cal=None, magic: bytes = MAGIC,
                version: int = 203, n_desc: int | None = None, n_samples: int | None = None,
                n_blocks: int | None = None, block_bytes: int | None = None, lo_hi=("(Lo) ", "(Hi) "),
                raw_names=None, raw_units=None) -> Path:
    """Write ``data`` (signals × samples, in the units given) as a Poly5 2.03 file; keywords spoil fields.

    ``raw_names``/``raw_units`` give a signal's name (after its ``(Lo) ``/``(Hi) `` prefix) and unit as bytes.
    """
    data = np.asarray(data, dtype=np.float32)
    n_ch, n = data.shape
    per_block = per_block or max(1, int(fs * 0.15))  # TMSi's writer: 150 ms of samples per block
    blocks = -(-n // per_block)
    head = (magic + struct.pack("<H", version) + pascal(name, 80) + struct.pack("<HHB", fs, fs, 0)
            + struct.pack("<H", 2 * n_ch if n_desc is None else n_desc)
            + struct.pack("<I", n if n_samples is None else n_samples) + b"\x00" * 4
            + struct.pack("<7H", *START) + struct.pack("<I", blocks if n_blocks is None else n_blocks)
            + struct.pack("<H", per_block)
            + struct.pack("<H", (n_ch * per_block * 4 if block_bytes is None else block_bytes) & 0xFFFF)
            + struct.pack("<H", 0) + b"\x00" * 64)
    assert len(head) == 186 + len(magic)  # 217 with the 31-byte magic of 2.03
    desc = b""
    for k in range(n_ch):
        ul, uh, al, ah = cal[k] if cal else (0.0, 1000.0, 0.0, 1000.0)
        for half in lo_hi:
            nm = half.encode() + (raw_names[k] if raw_names else names[k].encode("utf-8"))
            un = raw_units[k] if raw_units else units[k].encode("utf-8")
            d = (pascal(nm, 40) + b"\x00" * 4 + pascal(un, 10) + struct.pack("<4f", ul, uh, al, ah)
                 + struct.pack("<HH", k, 0) + b"\x00" * 60)
            assert len(d) == 136
            desc += d
    body = b""
    for b in range(blocks):
        chunk = data[:, b * per_block:(b + 1) * per_block]
        if pad_last and chunk.shape[1] < per_block:
            chunk = np.hstack([chunk, np.zeros((n_ch, per_block - chunk.shape[1]), np.float32)])
        body += (struct.pack("<I", b * per_block) + b"\x00" * 4 + struct.pack("<7H", *START) + b"\x00" * 64
                 + chunk.T.astype("<f4").tobytes())  # signal fastest
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(head + desc + body)
    return path


def saga(fs: int, n: int, seed: int = 0):
    """64 UNI channels (µV) + TRIGGERS (trigger codes) + STATUS (device bits) + COUNTER, as a SAGA 64+ stores them."""
    rng = np.random.default_rng(seed)
    uni = rng.normal(scale=50.0, size=(64, n))
    status = np.zeros(n)
    status[n // 4:n // 4 + 10] = 2
    status[n // 2:] = 5
    counter = np.arange(n) % (1 << 24)
    device = np.full(n, 3.0)  # device status bits, set from the first sample: never the lab's events
    device[n // 3:] = 7
    names = [f"UNI {i}" for i in range(1, 65)] + ["TRIGGERS", "STATUS", "COUNTER"]
    units = ["µVolt"] * 64 + ["-", "-", "-"]
    return np.vstack([uni, status, device, counter]), names, units




# ------------------------------------------------------------------ values, names, units, events
@pytest.mark.parametrize("fs", [2000, 4000])
@pytest.mark.parametrize("pad_last", [False, True])
def test_saga_grid_with_status_and_counter(tmp_path, fs, pad_last):
    n = int(fs * 0.15) * 3 + 17  # the last block is partial: cut (TMSi Python) or zero-padded (TMSi MATLAB)
    data, names, units = saga(fs, n)
    f = write_poly5(tmp_path / "S01_VL.Poly5", data, fs, names, units, pad_last=pad_last)
    rec = read(f)
    assert rec.fs == fs and rec.n_samples == n
    assert list(rec.ch_names) == [f"UNI {i}" for i in range(1, 65)]
    assert set(rec.units) == {"V"}
    np.testing.assert_allclose(rec.data, data[:64].astype(np.float32) * 1e-6, rtol=1e-6)
    ev = rec.events
    assert ev["sample"].tolist() == [n // 4, n // 2] and ev["code"].tolist() == [2, 5]
    assert set(ev["kind"]) == {"trigger"} and set(ev["channel"]) == {"TRIGGERS"}
    assert rec.meta["dropped_channels"] == ["STATUS", "COUNTER"]
    assert rec.meta["start_time"] == "2025-03-14T09:26:53" and rec.meta["measurement"] == "measurement"


def test_bipolar_file_latin1_unit_and_calibration(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(scale=300.0, size=(2, 1000))
    # Polybench's ANSI code page: 'µVolt' as b'\xb5Volt'; the second channel stores ADC 0..1000 for 0..500 µV
    raw_units = [b"\xb5Volt", b"\xb5Volt"]
    cal = [(0.0, 1000.0, 0.0, 1000.0), (0.0, 500.0, 0.0, 1000.0)]
    f = write_poly5(tmp_path / "bip.poly5", x, 1024, ["BIP 1", "BIP 2"], None, raw_units=raw_units, cal=cal,
                    per_block=100)
    rec = read_poly5(f)
    assert list(rec.ch_names) == ["BIP 1", "BIP 2"] and list(rec.units) == ["V", "V"] and rec.fs == 1024
    np.testing.assert_allclose(rec.data[0], x[0].astype(np.float32) * 1e-6, rtol=1e-6)
    np.testing.assert_allclose(rec.data[1], x[1].astype(np.float32) * 0.5e-6, rtol=1e-6)
    assert len(rec.events) == 0 and "dropped_channels" not in rec.meta


def test_aux_channels_keep_their_unit_and_volt_units_scale(tmp_path):
    x = np.vstack([np.linspace(-1, 1, 600), np.linspace(0, 2, 600), np.linspace(0, 3, 600)])
    f = write_poly5(tmp_path / "aux.Poly5", x, 2000, ["BIP 1", "AUX 1-1", "AUX 1-2"], ["mVolt", "g", "Volt"])
    rec = read(f)
    assert list(rec.units) == ["V", "g", "V"]
    np.testing.assert_allclose(rec.data, x.astype(np.float32) * np.array([[1e-3], [1.0], [1.0]]), rtol=1e-6)
    raw = read(f, to_volt=False)
    assert list(raw.units) == ["mV", "g", "V"]


@pytest.mark.parametrize("suffix", [".Poly5", ".POLY5", ".poly5"])
def test_suffix_in_any_case(tmp_path, suffix):
    f = write_poly5(tmp_path / f"r{suffix}", np.ones((1, 50)), 1000, ["BIP 1"], ["µVolt"])
    assert read(f).n_samples == 50


def test_channels_hint_keeps_them_in_order_without_events(tmp_path):
    data, names, units = saga(2000, 700)
    f = write_poly5(tmp_path / "g.Poly5", data, 2000, names, units)
    rec = read(f, channels=["UNI 3", "TRIGGERS"])
    assert list(rec.ch_names) == ["UNI 3", "TRIGGERS"] and len(rec.events) == 0
    np.testing.assert_allclose(rec.data[1], data[64], rtol=0)
    with pytest.raises(DataError, match=r"no channel\(s\) \['UNI 99'\]"):
        read(f, channels="UNI 99")


def test_repeated_names_are_made_unique(tmp_path):
    f = write_poly5(tmp_path / "d.Poly5", np.ones((2, 40)), 1000, ["EMG", "EMG"], ["µVolt", "µVolt"])
    assert list(read(f).ch_names) == ["EMG", "EMG_2"]


# ------------------------------------------------------------------ bad input: one line naming the file
def _good(tmp_path: Path, **kw) -> Path:
    x = np.random.default_rng(2).normal(size=(2, 250))
    return write_poly5(tmp_path / "r.Poly5", x, 2000, ["BIP 1", "BIP 2"], ["µVolt", "µVolt"], per_block=100, **kw)


def _raw(tmp_path: Path, content: bytes) -> Path:
    f = tmp_path / "r.Poly5"
    f.write_bytes(content)
    return f


def _cut(f: Path, size: int) -> Path:
    f.write_bytes(f.read_bytes()[:size])
    return f


DATA_START = 217 + 4 * 136
BLOCK = 86 + 100 * 2 * 4

BAD = {
    "wrong_magic": (lambda t: _good(t, magic=b"NOT A POLY FILE AT ALL, SORRY!!"), "not a Poly5 file"),
    "edf_file": (lambda t: _raw(t, b"0       " + b" " * 300), "not a Poly5 file"),
    "short_non_poly5": (lambda t: _raw(t, b"hello"), "not a Poly5 file"),
    "version_2_04": (lambda t: _good(t, magic=b"POLY SAMPLE FILE version 2.04\r\n\x1a"),
                     r"unsupported Poly5 version '2\.04'"),
    "version_16_bit": (lambda t: _good(t, magic=b"SAMPLE FILE ver 1.00\r\n\x1a" + b"\x00" * 8),
                       r"unsupported Poly5 version '1\.00'"),
    "version_field": (lambda t: _good(t, version=204), "unsupported Poly5 version 204"),
    "magic_tail": (lambda t: _good(t, magic=b"POLY SAMPLE FILEversion 2.03\n\n\n"), "not followed by CR LF"),
    "cut_in_magic": (lambda t: _cut(_good(t), 20), r"truncated in its header \(20 of 217 bytes\)"),
    "cut_in_header": (lambda t: _cut(_good(t), 150), r"truncated in its header \(150 of 217 bytes\)"),
    "cut_in_descriptions": (lambda t: _cut(_good(t), 217 + 300),
                            r"truncated in its signal descriptions: 4 descriptions need 761 bytes"),
    "cut_in_a_block": (lambda t: _cut(_good(t), DATA_START + 2 * BLOCK + 86 + 8 * 7 + 3),
                       r"header declares 250 samples in 3 blocks, the file holds 207 complete samples "
                       r"\(cut in block 3\)"),
    "cut_in_a_block_header": (lambda t: _cut(_good(t), DATA_START + BLOCK + 40),
                              r"holds 100 complete samples \(cut in block 2\)"),
    "no_blocks": (lambda t: _cut(_good(t), DATA_START), r"holds 0 complete samples \(cut in block 1\)"),
    "huge_sample_count": (lambda t: _good(t, n_samples=4_000_000_000, n_blocks=40_000_000),
                          r"declares 4000000000 samples .* holds 250 complete samples"),
    "zero_rate": (lambda t: write_poly5(t / "r.Poly5", np.ones((1, 10)), 0, ["a"], ["µVolt"], per_block=5),
                  "sampling rate must be > 0"),
    "zero_signals": (lambda t: _good(t, n_desc=0), "header declares 0 signals"),
    "odd_descriptions": (lambda t: _good(t, n_desc=3), "3 signal descriptions, an odd number"),
    "zero_samples": (lambda t: _good(t, n_samples=0, n_blocks=0), "declares 0 samples though data blocks follow"),
    "blocks_disagree": (lambda t: _good(t, n_blocks=7), "need 3 blocks, it declares 7"),
    "block_size_field": (lambda t: _good(t, block_bytes=999), "data block size 999 bytes disagrees"),
    "no_lo_hi_halves": (lambda t: _good(t, lo_hi=("", "")), r"not a '\(Lo\) '/'\(Hi\) ' pair"),
    "halves_differ": (lambda t: _good(t, lo_hi=("(Lo) ", "(Hi) x")), "name different signals"),
    "control_character_name": (lambda t: _good(t, raw_names=[b"BIP\n1", b"BIP 2"]),
                               r"holds control characters"),
    "name_length_overflow": (lambda t: _poke(_good(t), 217, bytes([200])),
                             r"length byte 200 exceeds its 40-byte field"),
    "flat_adc_range": (lambda t: _good(t, cal=[(0.0, 1.0, 5.0, 5.0)] * 2), "cannot convert samples to units"),
}


def _poke(f: Path, at: int, data: bytes) -> Path:
    raw = bytearray(f.read_bytes())
    raw[at:at + len(data)] = data
    f.write_bytes(bytes(raw))
    return f


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_one_line_naming_the_file(tmp_path, capsys, case):
    make, pattern = BAD[case]
    f = make(tmp_path)
    with pytest.raises(DataError, match=pattern) as exc:
        read(f)
    msg = str(exc.value)
    assert "\n" not in msg and str(f) in msg
    _, err = run_cli(["inspect", f], capsys, code=2)
    assert "Traceback" not in err and str(f) in err


def test_non_utf8_name_is_read_as_latin1(tmp_path):
    f = _good(tmp_path, raw_names=[b"M\xfcller", b"BIP 2"])  # Windows' code page, not UTF-8
    assert list(read(f).ch_names) == ["Müller", "BIP 2"]


# ------------------------------------------------------------------ the stack: inspect, convert, run
def test_inspect_a_saga_file(tmp_path, capsys):
    data, names, units = saga(2000, 900)
    f = write_poly5(tmp_path / "S01_VL.Poly5", data, 2000, names, units)
    out, _ = run_cli(["inspect", f], capsys)
    assert "UNI 1" in out and "2000" in out and "COUNTER" not in out.replace("dropped", "")


def test_convert_a_folder_keeps_events(tmp_path, capsys):
    data, names, units = saga(2000, 1200)
    for s in ("S01", "S02"):
        write_poly5(tmp_path / "raw" / f"{s}_VL.Poly5", data, 2000, names, units)
    out, _ = run_cli(["convert", tmp_path / "raw", "--pattern", "{subject}_{muscle}", "--out", tmp_path / "ds"],
                     capsys)
    assert "wrote 2 item(s), 2 subject(s)" in out
    folder = load_dataset(tmp_path / "ds")
    rec = folder.load(next(k for k in folder.stems if "S01" in k))
    assert rec.n_channels == 64 and rec.meta["muscle"] == "VL"
    assert rec.events["sample"].tolist() == [300, 600] and rec.events["code"].tolist() == [2, 5]
    np.testing.assert_allclose(rec.data, data[:64].astype(np.float32) * 1e-6, rtol=1e-6)


FS = 1000


def test_poly5_folder_to_a_muscle_id_run(tmp_path, capsys):
    rng = np.random.default_rng(3)
    raw = tmp_path / "raw"
    for i in (1, 2, 3):
        for muscle in ("BB", "TA"):
            write_poly5(raw / f"S0{i}_{muscle}.Poly5", bursts(muscle, rng, FS), FS, ["BIP 1", "BIP 2"],
                        ["µVolt", "µVolt"])
    ds, run = tmp_path / "Arm-Leg", tmp_path / "run"
    out, _ = run_cli(["convert", raw, "--pattern", "{subject}_{muscle}", "--out", ds], capsys)
    assert "wrote 6 item(s), 3 subject(s)" in out
    run_arm_leg(ds, run, capsys)


def test_damaged_files_read_or_raise_a_data_error(tmp_path):
    """Random truncations and byte flips (mostly in the header and descriptions) of a valid file: the reader
    itself (not :func:`read`, which would wrap a stray exception) gives a Recording or a one-line DataError."""
    data, names, units = saga(2000, 700)
    src = write_poly5(tmp_path / "ok.Poly5", data[[0, 1, 64, 65]], 2000, [names[i] for i in (0, 1, 64, 65)],
                      [units[i] for i in (0, 1, 64, 65)], per_block=64)
    good = src.read_bytes()
    rng = np.random.default_rng(7)
    f = tmp_path / "bad.Poly5"
    for case in range(300):
        raw = bytearray(good)
        if case % 3 == 0:
            raw = raw[:int(rng.integers(1, len(good)))]
        else:
            for _ in range(int(rng.integers(1, 6))):
                at = int(rng.integers(0, 217 + 8 * 136 + 200 if rng.random() < 0.8 else len(raw)))
                raw[at] = int(rng.integers(0, 256))
        f.write_bytes(bytes(raw))
        try:
            read_poly5(f)
        except DataError as exc:
            assert str(f) in str(exc) and "\n" not in str(exc), (case, str(exc))


def test_matlab_writers_uint32_calibration_fields_read_as_the_identity(tmp_path):
    """TMSi's MATLAB Poly5 writer stores unit low/high and ADC low/high as uint32 0/1000/0/1000 where the Python
    writer stores float32: read as float32 they are tiny denormals, still the identity pair, not a scale."""
    as_f32 = tuple(float(v) for v in np.array([0, 1000, 0, 1000], dtype="<u4").view("<f4"))
    assert 0 < as_f32[1] < 1e-40
    x = np.random.default_rng(3).normal(scale=200.0, size=(2, 300))
    f = write_poly5(tmp_path / "m.Poly5", x, 2048, ["BIP 1", "BIP 2"], ["µVolt", "µVolt"], cal=[as_f32] * 2)
    rec = read(f)
    np.testing.assert_allclose(rec.data, x.astype(np.float32) * 1e-6, rtol=1e-6)
