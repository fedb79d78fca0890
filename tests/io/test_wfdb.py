"""PhysioNet WFDB records (.hea + .dat): every signal format, the header's fields, bad input, and the stack.

The records are written here by a small writer of the documented format (header(5), signal(5), annot(5)),
independent of the reader: samples are packed by hand, so a reader that unpacks a format wrongly fails.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from myoflow.errors import DataError
from myoflow.io import load_dataset, read, read_wfdb

from ..test_user_data import run_cli
from ._e2e import bursts, run_arm_leg

FS = 1000.0


# ------------------------------------------------------------------ a test-side writer
def encode(d: np.ndarray, fmt: int) -> bytes:
    """Digital samples (a 1-D stream, interleaved already) → bytes of format ``fmt``."""
    d = np.asarray(d, dtype=np.int64)
    if fmt == 16:
        return d.astype("<i2").tobytes()
    if fmt == 61:
        return d.astype(">i2").tobytes()
    if fmt == 160:
        return (d + 32768).astype("<u2").tobytes()
    if fmt == 32:
        return d.astype("<i4").tobytes()
    if fmt == 24:
        u = d & 0xFFFFFF
        return np.stack([u & 0xFF, (u >> 8) & 0xFF, (u >> 16) & 0xFF], axis=1).astype(np.uint8).tobytes()
    if fmt == 80:
        return (d + 128).astype(np.uint8).tobytes()
    if fmt == 212:
        u = d & 0xFFF
        if len(u) % 2:
            u = np.append(u, 0)
        a, b = u[0::2], u[1::2]
        out = np.stack([a & 0xFF, ((a >> 8) & 0x0F) | ((b >> 8) << 4), b & 0xFF], axis=1).astype(np.uint8)
        return out.tobytes()[:len(d) + (len(d) + 1) // 2]
    if fmt == 311:
        u = d & 0x3FF
        pad = (-len(u)) % 3
        u = np.concatenate([u, np.zeros(pad, dtype=np.int64)])
        w = u[0::3] | (u[1::3] << 10) | (u[2::3] << 20)
        return w.astype("<u4").tobytes()
    if fmt == 310:
        u = d & 0x3FF
        pad = (-len(u)) % 3
        u = np.concatenate([u, np.zeros(pad, dtype=np.int64)])
        w0 = (u[0::3] << 1) | ((u[2::3] & 0x1F) << 11)
        w1 = (u[1::3] << 1) | ((u[2::3] >> 5) << 11)
        return np.stack([w0, w1], axis=1).astype("<u2").tobytes()
    raise ValueError(fmt)


def checksum(x: np.ndarray) -> int:
    return int(((int(np.sum(x)) + 32768) % 65536) - 32768)


def write_record(folder: Path, name: str, digital: np.ndarray, fmt: int = 16, *, gains=None, baselines=None,
                 units=None, names=None, fs: float | None = FS, files=None, offset: int = 0, spf: int = 1,
                 sums: bool = True, comments=(), nsamp: int | str | None = "auto", fmt_field=None) -> Path:
    """Write ``NAME.hea`` + signal file(s); ``files`` gives each signal's file (default: all in NAME.dat)."""
    folder.mkdir(parents=True, exist_ok=True)
    digital = np.asarray(digital, dtype=np.int64)
    nsig, n = digital.shape
    n_frames = n // spf
    files = files or [f"{name}.dat"] * nsig
    gains = gains or [200.0] * nsig
    baselines = baselines or [0] * nsig
    units = units or ["mV"] * nsig
    names = names or [f"EMG{i + 1}" for i in range(nsig)]
    for fname in dict.fromkeys(files):
        idx = [i for i, f in enumerate(files) if f == fname]
        block = digital[idx].reshape(len(idx), n_frames, spf).transpose(1, 0, 2).reshape(-1)
        if fmt == 8:  # first differences per signal, starting from the first sample (the initial value)
            diffs = np.diff(digital[idx], axis=1, prepend=digital[idx][:, :1])
            block = diffs.reshape(len(idx), n_frames, spf).transpose(1, 0, 2).reshape(-1)
            raw = block.astype(np.int8).tobytes()
        else:
            raw = encode(block, fmt)
        (folder / fname).write_bytes(b"\x00" * offset + raw)
    rate = "" if fs is None else f" {fs:g}"
    length = f" {n_frames}" if nsamp == "auto" else ("" if nsamp is None else f" {nsamp}")
    lines = [f"{name} {nsig}{rate}{length}"]
    for i in range(nsig):
        fm = fmt_field or (f"{fmt}" + (f"x{spf}" if spf > 1 else "") + (f"+{offset}" if offset else ""))
        init = int(digital[i, 0])
        tail = f" 12 0 {init} {checksum(digital[i])} 0 {names[i]}" if sums else ""
        lines.append(f"{files[i]} {fm} {gains[i]:g}({baselines[i]})/{units[i]}{tail}")
    lines += [f"# {c}" for c in comments]
    hea = folder / f"{name}.hea"
    hea.write_text("\n".join(lines) + "\n")
    return hea


def digital_signals(nsig: int, n: int, lo: int, hi: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    d = rng.integers(lo, hi + 1, size=(nsig, n))
    d[:, 0] = lo  # the extremes are the likeliest to be unpacked wrong
    d[:, 1] = hi
    return d




# ------------------------------------------------------------------ every format, values after gain/baseline
RANGES = {16: (-32767, 32767), 61: (-32767, 32767), 160: (-32767, 32767), 24: (-(1 << 23) + 1, (1 << 23) - 1),
          32: (-(1 << 31) + 1, (1 << 31) - 1), 80: (-127, 127), 212: (-2047, 2047), 310: (-511, 511),
          311: (-511, 511)}


@pytest.mark.parametrize("fmt", sorted(RANGES))
@pytest.mark.parametrize("nsig,n", [(1, 50), (3, 41)])  # an odd number of signals packs across frames
def test_each_format_reads_back_the_written_values(tmp_path, fmt, nsig, n):
    lo, hi = RANGES[fmt]
    d = digital_signals(nsig, n, lo, hi, seed=fmt)
    gains = [200.0, 1000.0, 0.5][:nsig]
    baselines = [0, 17, -3][:nsig]
    hea = write_record(tmp_path, "r", d, fmt, gains=gains, baselines=baselines, units=["mV", "uV", "V"][:nsig])
    rec = read_wfdb(hea)
    assert rec.data.shape == (nsig, n) and rec.fs == FS
    scale = [1e-3, 1e-6, 1.0]
    for i in range(nsig):
        want = (d[i] - baselines[i]) / gains[i] * scale[i]
        np.testing.assert_allclose(rec.data[i], want, rtol=1e-6, atol=1e-12)
    assert list(rec.units) == ["V"] * nsig
    assert list(rec.ch_names) == [f"EMG{i + 1}" for i in range(nsig)]


def test_format_8_first_differences(tmp_path):
    d = np.cumsum(np.random.default_rng(1).integers(-100, 101, size=(2, 300)), axis=1) + np.array([[500], [-40]])
    hea = write_record(tmp_path, "r", d, 8, gains=[100.0, 100.0], baselines=[0, 0])
    rec = read_wfdb(hea)
    np.testing.assert_allclose(rec.data, d / 100.0 * 1e-3, rtol=1e-6)


def test_signals_in_separate_files_with_a_byte_offset(tmp_path):
    d = digital_signals(3, 80, -2047, 2047, seed=3)
    hea = write_record(tmp_path, "r", d, 212, files=["r_a.dat", "r_b.dat", "r_b.dat"], offset=24)
    rec = read(hea)
    np.testing.assert_allclose(rec.data, d / 200.0 * 1e-3, rtol=1e-6)


def test_samples_per_frame_multiply_the_rate(tmp_path):
    d = digital_signals(2, 60, -1000, 1000, seed=4)
    hea = write_record(tmp_path, "r", d, 16, spf=3)
    rec = read_wfdb(hea)
    assert rec.fs == 3 * FS
    np.testing.assert_allclose(rec.data, d / 200.0 * 1e-3, rtol=1e-6)


def test_defaults_rate_gain_units_and_length_from_the_file(tmp_path):
    d = digital_signals(2, 30, -500, 500, seed=5)
    (tmp_path / "r.dat").write_bytes(d.T.reshape(-1).astype("<i2").tobytes())
    # header(5): no rate → 250 Hz, gain 0 → 200 adu per unit, no units → mV, no length → the file's
    # and no baseline → the ADC zero (7 here)
    (tmp_path / "r.hea").write_text(f"r 2\nr.dat 16 0 12 7 {d[0, 0]} {checksum(d[0])} 0 a\nr.dat 16\n")
    rec = read_wfdb(tmp_path / "r.hea")
    assert rec.fs == 250.0 and rec.n_samples == 30 and list(rec.ch_names) == ["a", "ch2"]
    np.testing.assert_allclose(rec.data, (d - np.array([[7], [0]])) / 200.0 * 1e-3, rtol=1e-6)


def test_unknown_unit_is_kept_unscaled(tmp_path):
    d = digital_signals(1, 20, -100, 100, seed=6)
    rec = read_wfdb(write_record(tmp_path, "r", d, 16, gains=[10.0], units=["mmHg"]))
    assert list(rec.units) == ["mmHg"]
    np.testing.assert_allclose(rec.data[0], d[0] / 10.0, rtol=1e-6)


def test_comments_kept_verbatim_and_age_sex_parsed(tmp_path):
    d = digital_signals(1, 20, -100, 100, seed=7)
    hea = write_record(tmp_path, "r", d, comments=["<age>: 54 <sex>: F <diagnoses>: healthy", "recorded at rest"])
    rec = read_wfdb(hea)
    assert rec.meta["comments"] == "<age>: 54 <sex>: F <diagnoses>: healthy\nrecorded at rest"
    assert rec.meta["age"] == 54 and rec.meta["sex"] == "F" and rec.meta["diagnoses"] == "healthy"


def test_invalid_samples_are_missing_and_follow_bad_rows(tmp_path):
    d = digital_signals(2, 100, -2047, 2047, seed=8)
    d[1, 40:43] = -2048  # format 212's invalid-sample code
    hea = write_record(tmp_path, "r", d, 212)
    with pytest.raises(DataError, match=r"3 missing sample.*'EMG2' at sample 40.*--bad-rows"):
        read_wfdb(hea)
    rec = read_wfdb(hea, bad_rows="interpolate")
    assert rec.n_samples == 100 and np.isfinite(rec.data).all() and rec.meta["bad_rows_changed"] == 3
    want = np.interp(np.arange(40, 43), [39, 43], [d[1, 39], d[1, 43]]) / 200.0 * 1e-3
    np.testing.assert_allclose(rec.data[1, 40:43], want, rtol=1e-5)
    assert read_wfdb(hea, bad_rows="drop").n_samples == 97


def test_annotations_become_events(tmp_path):
    d = digital_signals(1, 5000, -100, 100, seed=9)
    hea = write_record(tmp_path, "r", d)
    words = [(1 << 10) | 100]  # N at sample 100
    words += [(59 << 10), 0, 3000, (28 << 10) | 0]  # SKIP 3000 → '+' at 3100
    aux = b"onset\x00"
    words += [(63 << 10) | len(aux)] + list(np.frombuffer(aux, dtype="<u2"))
    words += [(5 << 10) | 50, 0]  # V at 3150, end
    (tmp_path / "r.atr").write_bytes(np.asarray(words, dtype="<u2").tobytes())
    ev = read_wfdb(hea).events
    assert ev["sample"].tolist() == [100, 3100, 3150]
    assert ev["kind"].tolist() == ["N", "onset", "V"]
    (tmp_path / "r.atr").rename(tmp_path / "r.qrs")
    assert read_wfdb(hea).events.empty
    assert read(hea, annotator="qrs").events["sample"].tolist() == [100, 3100, 3150]
    with pytest.raises(DataError, match=r"r\.abc: annotation file r\.abc \(annotator=abc\) is missing"):
        read(hea, annotator="abc")
    (tmp_path / "r.atr").write_bytes(np.asarray([(55 << 10) | 3, 0], dtype="<u2").tobytes())
    with pytest.raises(DataError, match=r"r\.atr: annotation file has an unknown code 55"):
        read(hea)


def test_multi_segment_record_with_a_gap_and_a_layout(tmp_path):
    a = digital_signals(2, 40, -1000, 1000, seed=10)
    b = digital_signals(1, 30, -1000, 1000, seed=11)
    (tmp_path / "m_layout.hea").write_text(f"m_layout 2 {FS:g} 0\n~ 0 200/mV 12 0 0 0 0 BB\n~ 0 200/mV 12 0 0 0 0 TA\n")
    write_record(tmp_path, "m_1", a, names=["BB", "TA"])
    write_record(tmp_path, "m_2", b, names=["TA"])
    (tmp_path / "m.hea").write_text(f"m/4 2 {FS:g} 80\nm_layout 0\nm_1 40\n~ 10\nm_2 30\n")
    with pytest.raises(DataError, match="missing sample"):
        read(tmp_path / "m.hea")
    rec = read(tmp_path / "m.hea", bad_rows="drop")  # every frame from 40 on misses BB
    assert list(rec.ch_names) == ["BB", "TA"] and rec.n_samples == 40
    np.testing.assert_allclose(rec.data, a / 200.0 * 1e-3, rtol=1e-6)
    # the fixed layout: two segments with the same signals, joined
    write_record(tmp_path, "f_1", a, names=["BB", "TA"])
    write_record(tmp_path, "f_2", a[:, :20], names=["BB", "TA"])
    (tmp_path / "f.hea").write_text(f"f/2 2 {FS:g} 60\nf_1 40\nf_2 20\n")
    rec = read(tmp_path / "f.hea")
    np.testing.assert_allclose(rec.data, np.hstack([a, a[:, :20]]) / 200.0 * 1e-3, rtol=1e-6)
    # a segment whose header disagrees with the record's about its length is refused
    (tmp_path / "f.hea").write_text(f"f/2 2 {FS:g} 61\nf_1 40\nf_2 21\n")
    with pytest.raises(DataError, match=r"f_2\.hea: segment header gives 20 samples, the record's header 21"):
        read(tmp_path / "f.hea")
    (tmp_path / "f.hea").write_text(f"f/2 2 {FS:g} 60\nf_1 40\nf_2 20\n")
    # a fixed layout whose second segment swaps a signal is refused, not joined into the wrong channel
    write_record(tmp_path, "f_2", a[:, :20], names=["BB", "RF"])
    with pytest.raises(DataError, match=r"f_2\.hea: segment signals \['BB', 'RF'\] differ"):
        read(tmp_path / "f.hea")


# ------------------------------------------------------------------ bad input: one line naming the file
def _good(tmp_path, **kw) -> Path:
    return write_record(tmp_path, "r", digital_signals(2, 40, -1000, 1000, seed=12), 16, **kw)


def _rewrite(hea: Path, old: str, new: str) -> Path:
    hea.write_text(hea.read_text().replace(old, new))
    return hea


def _edit(hea: Path, old: str, new: str) -> Path:
    text = hea.read_text()
    assert old in text
    hea.write_text(text.replace(old, new, 1))
    return hea


def _truncate(f: Path, k: int) -> None:
    f.write_bytes(f.read_bytes()[:-k])


def _poke(f: Path, at: int, data: bytes) -> None:
    raw = bytearray(f.read_bytes())
    raw[at:at + len(data)] = data
    f.write_bytes(bytes(raw))


BAD = {
    "truncated": (lambda p: _truncate(p.parent / "r.dat", 10) or p,
                  r"r\.dat: signal file is truncated"),
    "missing_dat": (lambda p: (p.parent / "r.dat").unlink() or p, r"r\.dat: signal file r\.dat .*missing"),
    "few_signal_lines": (lambda p: _edit(p, "r 2 ", "r 3 "), r"declares 3 signals but has 2 signal line"),
    "unknown_format": (lambda p: _rewrite(p, " 16 ", " 99 "), "format 99 is not supported"),
    "non_numeric_rate": (lambda p: _edit(p, "r 2 1000", "r 2 fast"), "sampling frequency must be a number"),
    "non_numeric_field": (lambda p: _edit(p, " 12 0 ", " twelve 0 "), "ADC resolution .* must be an integer"),
    "non_numeric_gain": (lambda p: _edit(p, "200(0)", "lots(0)"), "ADC gain field"),
    "parent_path": (lambda p: _rewrite(p, "r.dat", "../r.dat"),
                    r"'\.\./r\.dat' points outside the record's folder"),
    "absolute_path": (lambda p: _rewrite(p, "r.dat", "/etc/passwd"),
                      "is an absolute path"),
    "zero_rate": (lambda p: _edit(p, "r 2 1000", "r 2 0"), "sampling rate must be > 0"),
    "negative_rate": (lambda p: _edit(p, "r 2 1000", "r 2 -1000"), "sampling rate must be > 0"),
    "huge_nsamp": (lambda p: _edit(p, "r 2 1000 40", "r 2 1000 4000000000000"), r"r\.dat: signal file is truncated"),
    "nsamp_zero": (lambda p: _edit(p, "r 2 1000 40", "r 2 1000 0"), "declares 0 samples"),
    "initial_value": (lambda p: _poke(p.parent / "r.dat", 0, b"\x01\x00") or p,
                      r"r\.dat: signal 'EMG1': first sample 1 differs from the header's initial value"),
    "skew": (lambda p: _rewrite(p, " 16 ", " 16:2 "), "skew"),
    # no length on the record line and less than one frame in the file (was a NameError, quoted as "corrupt")
    "no_length_under_a_frame": (lambda p: _edit(p, "r 2 1000 40", "r 2 1000")
                                if (p.parent / "r.dat").write_bytes(b"\x00\x00\x00") else p,
                                r"r\.hea: signal file\(s\) hold no complete sample frame"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_one_line_naming_the_file(tmp_path, capsys, case):
    make, pattern = BAD[case]
    hea = make(_good(tmp_path))
    with pytest.raises(DataError, match=pattern) as exc:
        read(hea)
    msg = str(exc.value)
    assert "\n" not in msg and str(tmp_path) in msg
    _, err = run_cli(["inspect", hea], capsys, code=2)
    assert "Traceback" not in err and str(tmp_path) in err


def test_checksum_mismatch_is_a_corrupt_file(tmp_path):
    d = digital_signals(1, 40, -1000, 1000, seed=13)
    hea = write_record(tmp_path, "r", d)
    raw = bytearray((tmp_path / "r.dat").read_bytes())
    raw[20] ^= 0x01  # one sample changed in the middle: only the checksum sees it
    (tmp_path / "r.dat").write_bytes(bytes(raw))
    with pytest.raises(DataError, match=r"r\.dat: signal 'EMG1': checksum .* differs"):
        read(hea)


def test_a_dat_alone_says_to_pass_its_header(tmp_path):
    hea = _good(tmp_path)
    with pytest.raises(DataError, match=r"pass its header r\.hea"):
        read(hea.with_suffix(".dat"))


# ------------------------------------------------------------------ the stack: inspect, convert, run
def test_inspect_a_record(tmp_path, capsys):
    hea = _good(tmp_path)
    out, _ = run_cli(["inspect", hea], capsys)
    assert "EMG1" in out and "1000" in out


def test_convert_pairs_hea_with_dat_and_skips_segment_headers(tmp_path, capsys):
    d = digital_signals(2, 4000, -1000, 1000, seed=14)
    for s in ("S01", "S02"):
        write_record(tmp_path / "raw", f"{s}_BB", d)
    write_record(tmp_path / "raw", "S03_BB_1", d)
    write_record(tmp_path / "raw", "S03_BB_2", d)
    (tmp_path / "raw" / "S03_BB.hea").write_text(f"S03_BB/2 2 {FS:g} 8000\nS03_BB_1 4000\nS03_BB_2 4000\n")
    words = [(1 << 10) | 100, (63 << 10) | 5] + list(np.frombuffer(b"onset\x00", dtype="<u2")) + [0]
    (tmp_path / "raw" / "S01_BB.atr").write_bytes(np.asarray(words, dtype="<u2").tobytes())
    out, _ = run_cli(["convert", tmp_path / "raw", "--pattern", "{subject}_{muscle}", "--out", tmp_path / "ds"],
                     capsys)
    assert "wrote 3 item(s), 3 subject(s)" in out
    folder = load_dataset(tmp_path / "ds")
    rec = folder.load(next(k for k in folder.stems if "S01" in k))
    assert rec.events["kind"].tolist() == ["onset"] and rec.events["sample"].tolist() == [100]
    s03 = folder.load(next(k for k in folder.stems if "S03" in k))
    np.testing.assert_allclose(s03.data, np.hstack([d, d]) / 200.0 * 1e-3, rtol=1e-6)


def test_wfdb_folder_to_a_muscle_id_run(tmp_path, capsys):
    rng = np.random.default_rng(3)
    raw = tmp_path / "raw"
    for i in (1, 2, 3):
        for muscle in ("BB", "TA"):
            uv = bursts(muscle, rng, FS)
            digital = np.round(uv * 10).astype(np.int64)  # 10 adu/µV, format 212 holds ±204 µV
            digital = np.clip(digital, -2047, 2047)
            write_record(raw, f"S0{i}_{muscle}", digital, 212, gains=[10.0, 10.0], units=["uV", "uV"],
                         names=["e1", "e2"], comments=[f"<age>: {40 + i} <sex>: F"])
    ds, run = tmp_path / "Arm-Leg", tmp_path / "run"
    out, _ = run_cli(["convert", raw, "--pattern", "{subject}_{muscle}", "--out", ds], capsys)
    assert "wrote 6 item(s), 3 subject(s)" in out
    run_arm_leg(ds, run, capsys)
