"""PhysioNet WFDB records: a text header ``NAME.hea`` and binary signal file(s) ``NAME.dat``.

A small reader of the documented format (PhysioNet ``header(5)``, ``signal(5)``, ``annot(5)``), so that a
public sEMG set shipped as WFDB (Hyser, "Examples of Electromyograms", gait EMG sets) needs no Python.

* Signal formats 8 (first differences), 16, 24, 32, 61 (big-endian 16), 80 (offset binary 8), 160 (offset
  binary 16), 212 (packed 12-bit), 310 and 311 (packed 10-bit); several signals interleaved in one file and
  signals in separate files; byte offsets (``16+512``); samples per frame when all signals share it (the
  rate becomes ``fs * spf``).
* Skew (``16:3``) is refused: applying it needs samples past the record's end that a file rarely holds.
* Physical value = ``(digital - baseline) / gain``; gain 0 or absent means 200 adu per unit and units absent
  mean mV (both by the spec); mV/µV/V become V like the other readers, other units are kept as given.
* The format's invalid-sample code (e.g. -32768 in format 16, -2048 in 212) becomes a missing sample, handled
  by ``bad_rows`` as text tables' gaps are (``error`` by default, or ``drop``/``interpolate``).
* The header's initial value and checksum are checked when given: a mismatch is a corrupt-file error.
* Multi-segment records (``NAME/n``): segments are joined, a null segment ``~`` is a gap (missing samples),
  a layout segment (length 0) gives the channels and a segment lacking one of them leaves it missing.
* ``#`` comment lines are kept verbatim in ``meta["comments"]``; ``<age>: 54 <sex>: F`` pairs are parsed.
* A MIT-format annotation file ``NAME.atr`` (or ``annotator=EXT``) becomes events.
"""
from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..containers import Recording
from ..errors import DataError
from ._common import check_file, check_fs, make_recording, repair_rows, to_volts, unique_names

__all__ = ["read_wfdb", "wfdb_companions"]

log = logging.getLogger(__name__)

#: Bytes per sample of each supported format.
_BYTES_PER_SAMPLE = {8: 1.0, 16: 2.0, 24: 3.0, 32: 4.0, 61: 2.0, 80: 1.0, 160: 2.0, 212: 1.5, 310: 4 / 3, 311: 4 / 3}
#: The digital value a format reserves for "no sample" (signal(5), and what WFDB writers emit for gaps).
_INVALID = {16: -32768, 61: -32768, 24: -(1 << 23), 32: -(1 << 31), 80: -128, 160: -32768, 212: -2048,
            310: -512, 311: -512}
_FMT_RE = re.compile(r"^(\d+)(?:x(\d+))?(?::(\d+))?(?:\+(\d+))?$")
_GAIN_RE = re.compile(r"^([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(?:\(([-+]?\d+)\))?(?:/(\S+))?$")
_META_RE = re.compile(r"<([^<>:]+)>\s*:\s*([^<]*)")


@dataclass
class _Signal:
    file: str
    fmt: int
    spf: int
    skew: int
    offset: int
    gain: float
    baseline: int
    units: str
    init: int | None
    checksum: int | None
    name: str


@dataclass
class _Header:
    name: str
    nseg: int | None
    nsig: int
    fs: float
    nsamp: int | None
    base_time: str | None
    base_date: str | None
    signals: list[_Signal]
    segments: list[tuple[str, int]]
    comments: list[str]


def _int(text: str, what: str, where: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise DataError(f"header field {what} must be an integer, got {text!r}", where) from None


def _parse_header(p: Path, layout: bool = False) -> _Header:
    """Parse a ``.hea`` file (record line, signal or segment lines, comments); ``layout``: a layout segment's
    header, whose length is 0 by definition."""
    where = str(p)
    try:
        text = p.read_text(encoding="latin-1")
    except OSError as exc:
        raise DataError(f"cannot read the header: {exc.strerror or exc}", where) from None
    if "\x00" in text:
        raise DataError("not a WFDB header (binary content; pass the .hea text file)", where)
    lines, comments = [], []
    for raw in text.splitlines():
        s = raw.strip()
        if not s:
            continue
        if s.startswith("#"):
            comments.append(s[1:].strip())
            continue
        lines.append(s)
    if not lines:
        raise DataError("header has no record line", where)
    tok = lines[0].split()
    if len(tok) < 2:
        raise DataError(f"record line {lines[0]!r} needs at least a record name and a number of signals", where)
    name, nseg = tok[0], None
    if "/" in name:
        name, seg_text = name.split("/", 1)
        nseg = _int(seg_text, "number of segments", where)
        if nseg < 1:
            raise DataError(f"record line declares {nseg} segments", where)
    nsig = _int(tok[1], "number of signals", where)
    if nsig < 1:
        raise DataError(f"record line declares {nsig} signals (nothing to read)", where)
    fs = 250.0  # header(5): the rate when the field is absent
    if len(tok) > 2:
        fs_text = tok[2].split("/", 1)[0]
        try:
            fs = float(fs_text)
        except ValueError:
            raise DataError(f"header field sampling frequency must be a number, got {tok[2]!r}", where) from None
        fs = check_fs(fs, where, "header")
    nsamp = None
    if len(tok) > 3:
        nsamp = _int(tok[3], "number of samples per signal", where)
        if nsamp <= 0 and not (layout and nsamp == 0):
            raise DataError(f"record line declares {nsamp} samples per signal (an empty or unfinished record)", where)
    base_time = tok[4] if len(tok) > 4 else None
    base_date = tok[5] if len(tok) > 5 else None
    body = lines[1:]
    signals: list[_Signal] = []
    segments: list[tuple[str, int]] = []
    if nseg is not None:
        if len(body) < nseg:
            raise DataError(f"header declares {nseg} segments but has {len(body)} segment line(s)", where)
        for ln in body[:nseg]:
            st = ln.split()
            if len(st) < 2:
                raise DataError(f"segment line {ln!r} needs a segment name and its number of samples", where)
            segments.append((st[0], _int(st[1], "segment length", where)))
    else:
        if len(body) < nsig:
            raise DataError(f"header declares {nsig} signals but has {len(body)} signal line(s)", where)
        for i, ln in enumerate(body[:nsig]):
            signals.append(_parse_signal(ln, i, where, layout))
    return _Header(name, nseg, nsig, fs, nsamp, base_time, base_date, signals, segments, comments)


def _parse_signal(line: str, i: int, where: str, layout: bool = False) -> _Signal:
    st = line.split(maxsplit=8)
    if len(st) < 2:
        raise DataError(f"signal line {i + 1} {line!r} needs a file name and a format", where)
    m = _FMT_RE.match(st[1])
    if not m:
        raise DataError(f"signal line {i + 1}: format field {st[1]!r} is not FORMAT[xSPF][:SKEW][+OFFSET]", where)
    fmt = int(m.group(1))
    if fmt not in _BYTES_PER_SAMPLE and not (layout and fmt == 0):  # a layout's signals have no file
        raise DataError(f"signal line {i + 1}: format {fmt} is not supported (supported: "
                        f"{', '.join(map(str, sorted(_BYTES_PER_SAMPLE)))})", where)
    spf = int(m.group(2) or 1)
    if spf < 1:
        raise DataError(f"signal line {i + 1}: {spf} samples per frame", where)
    skew, offset = int(m.group(3) or 0), int(m.group(4) or 0)
    gain, baseline, units = 0.0, None, None
    if len(st) > 2:
        g = _GAIN_RE.match(st[2])
        if not g:
            raise DataError(f"signal line {i + 1}: ADC gain field {st[2]!r} is not GAIN[(BASELINE)][/UNITS]", where)
        gain = float(g.group(1))
        baseline = int(g.group(2)) if g.group(2) is not None else None
        units = g.group(3)
    if not np.isfinite(gain) or gain < 0:
        raise DataError(f"signal line {i + 1}: ADC gain {st[2]} must be >= 0", where)
    for k, what in ((3, "ADC resolution"), (4, "ADC zero"), (5, "initial value"), (6, "checksum"),
                    (7, "block size")):
        if len(st) > k:
            _int(st[k], f"{what} (signal line {i + 1})", where)
    adc_zero = int(st[4]) if len(st) > 4 else 0
    if baseline is None:
        baseline = adc_zero  # header(5): the baseline defaults to the ADC zero
    if gain == 0:
        # header(5): a gain of 0 (or none) means uncalibrated, read with the nominal 200 adu per unit
        log.warning("%s: signal %d has no ADC gain; read with the WFDB default of 200 adu/%s", where, i + 1,
                    units or "mV")
        gain = 200.0
    init = int(st[5]) if len(st) > 5 else None
    checksum = int(st[6]) if len(st) > 6 else None
    desc = st[8].strip() if len(st) > 8 else ""
    return _Signal(st[0], fmt, spf, skew, offset, gain, baseline, units or "mV", init, checksum, desc)


def _safe_file(folder: Path, name: str, where: str, what: str = "signal file") -> Path:
    """``folder / name``, refusing names that leave the record's folder (absolute, ``..``) or stdin (``-``)."""
    if name == "-":
        raise DataError(f"{what} '-' (standard input) cannot be read from a file", where)
    if os.path.isabs(name) or name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        raise DataError(f"{what} {name!r} is an absolute path: WFDB records are read only from their own folder",
                        where)
    parts = re.split(r"[\\/]", name)
    if ".." in parts:
        raise DataError(f"{what} {name!r} points outside the record's folder", where)
    f = folder / name
    try:
        if not f.resolve().is_relative_to(folder.resolve()):
            raise DataError(f"{what} {name!r} points outside the record's folder (a link?)", where)
    except OSError:
        pass  # a missing or looping file: check_file names it
    return f


def _decode(raw: bytes, fmt: int, n: int) -> np.ndarray:
    """The first ``n`` digital samples of a byte stream in format ``fmt`` (int64; format 8 as differences)."""
    b = np.frombuffer(raw, dtype=np.uint8)
    if fmt == 16:
        return b[:2 * n].view("<i2").astype(np.int64)
    if fmt == 61:
        return b[:2 * n].view(">i2").astype(np.int64)
    if fmt == 160:
        return b[:2 * n].view("<u2").astype(np.int64) - 32768
    if fmt == 32:
        return b[:4 * n].view("<i4").astype(np.int64)
    if fmt == 24:
        t = b[:3 * n].reshape(-1, 3).astype(np.int64)
        v = t[:, 0] | (t[:, 1] << 8) | (t[:, 2] << 16)
        return np.where(v >= 1 << 23, v - (1 << 24), v)
    if fmt == 80:
        return b[:n].astype(np.int64) - 128
    if fmt == 8:
        return b[:n].view(np.int8).astype(np.int64)
    if fmt == 212:
        m = -(-n // 2)
        t = np.zeros((m, 3), dtype=np.int64)
        flat = b[:3 * m].astype(np.int64)
        t.flat[:flat.size] = flat
        out = np.empty(2 * m, dtype=np.int64)
        # two 12-bit samples in 3 bytes: low byte of each, the middle byte holds both high nibbles
        out[0::2] = t[:, 0] | ((t[:, 1] & 0x0F) << 8)
        out[1::2] = t[:, 2] | ((t[:, 1] & 0xF0) << 4)
        out = np.where(out >= 2048, out - 4096, out)
        return out[:n]
    if fmt in (310, 311):
        m = -(-n // 3)
        t = np.zeros((m, 4), dtype=np.int64)
        flat = b[:4 * m].astype(np.int64)
        t.flat[:flat.size] = flat
        out = np.empty(3 * m, dtype=np.int64)
        if fmt == 311:  # bits 0-9, 10-19, 20-29 of a little-endian 32-bit word
            out[0::3] = t[:, 0] | ((t[:, 1] & 0x03) << 8)
            out[1::3] = (t[:, 1] >> 2) | ((t[:, 2] & 0x0F) << 6)
            out[2::3] = (t[:, 2] >> 4) | ((t[:, 3] & 0x3F) << 4)
        else:  # bits 1-10 of two 16-bit words; the third sample in their top 5 bits (low half first)
            out[0::3] = (t[:, 0] >> 1) | ((t[:, 1] & 0x07) << 7)
            out[1::3] = (t[:, 2] >> 1) | ((t[:, 3] & 0x07) << 7)
            out[2::3] = ((t[:, 1] >> 3) & 0x1F) | (((t[:, 3] >> 3) & 0x1F) << 5)
        out = np.where(out >= 512, out - 1024, out)
        return out[:n]
    raise AssertionError(fmt)  # pragma: no cover - formats are checked when the header is parsed


def _bytes_for(fmt: int, n: int) -> int:
    """Bytes holding ``n`` samples (a packed format's last group may be partial)."""
    if fmt == 212:
        return n + (n + 1) // 2
    if fmt in (310, 311):
        return 4 * (n // 3) + {0: 0, 1: 2, 2: 4}[n % 3] if fmt == 310 else 4 * (n // 3) + {0: 0, 1: 2, 2: 3}[n % 3]
    return int(_BYTES_PER_SAMPLE[fmt]) * n


def _read_digital(hea: Path, h: _Header, nsamp: int | None) -> tuple[np.ndarray, int]:
    """Digital samples, shape (n_signals, n_samples * spf), and the samples per frame."""
    where = str(hea)
    folder = hea.parent
    spfs = {s.spf for s in h.signals}
    if len(spfs) > 1:
        raise DataError(f"signals have different samples per frame {sorted(spfs)} (several rates in one record): "
                        "not supported", where)
    spf = spfs.pop()
    skewed = [s.name or f"signal {i + 1}" for i, s in enumerate(h.signals) if s.skew]
    if skewed:
        raise DataError(f"signal(s) {skewed} have a skew (FORMAT:SKEW); skewed records are not supported: "
                        "de-skew them first (e.g. with WFDB's xform)", where)
    groups: dict[str, list[int]] = {}
    for i, s in enumerate(h.signals):
        if s.file == "~":
            raise DataError(f"signal {i + 1} has no signal file ('~'): only a layout segment may", where)
        groups.setdefault(s.file, []).append(i)
    per_file: dict[str, tuple[Path, bytes]] = {}
    for fname, idx in groups.items():
        f = _safe_file(folder, fname, where)
        if not f.exists():
            raise DataError(f"signal file {fname} named in the header is missing", str(f))
        fmts = {h.signals[i].fmt for i in idx}
        offs = {h.signals[i].offset for i in idx}
        if len(fmts) > 1 or len(offs) > 1:
            raise DataError(f"signals sharing the file {fname} give different formats or byte offsets", where)
        f = check_file(f)
        per_file[fname] = (f, f.read_bytes())
    if nsamp is None:  # header(5): an absent length is the file's
        counts = []
        for fname, idx in groups.items():
            f, raw = per_file[fname]
            fmt, off = h.signals[idx[0]].fmt, h.signals[idx[0]].offset
            counts.append(int((len(raw) - off) / _BYTES_PER_SAMPLE[fmt]) // (len(idx) * spf))
        nsamp = min(counts)
        if nsamp <= 0 and not (layout and nsamp == 0):
            raise DataError("signal file(s) hold no complete sample frame", where)
    for fname, idx in groups.items():  # sizes first: a corrupt length must not allocate terabytes
        f, raw = per_file[fname]
        fmt, off = h.signals[idx[0]].fmt, h.signals[idx[0]].offset
        need = _bytes_for(fmt, nsamp * len(idx) * spf)
        have = len(raw) - off
        if have < need:
            raise DataError(f"signal file is truncated: the header's {nsamp} samples of {len(idx)} signal(s) in "
                            f"format {fmt} need {need} bytes after the byte offset {off}, it holds {max(have, 0)}",
                            str(f))
    data = np.empty((len(h.signals), nsamp * spf), dtype=np.int64)
    for fname, idx in groups.items():
        f, raw = per_file[fname]
        fmt, off = h.signals[idx[0]].fmt, h.signals[idx[0]].offset
        n = nsamp * len(idx) * spf
        need = _bytes_for(fmt, n)
        stream = _decode(raw[off:off + need], fmt, n).reshape(nsamp, len(idx), spf)
        for k, i in enumerate(idx):
            col = stream[:, k, :].reshape(-1)
            if fmt == 8:  # signal(5): first differences, summed onto the header's initial value
                col = np.cumsum(col) + (h.signals[i].init or 0)
            data[i] = col
    return data, spf


def _check_sums(hea: Path, h: _Header, data: np.ndarray) -> None:
    """The header's initial value and 16-bit checksum of each signal, where given."""
    for i, s in enumerate(h.signals):
        label = s.name or f"signal {i + 1}"
        f = hea.parent / s.file
        if s.init is not None and s.fmt != 8 and data.shape[1] and int(data[i, 0]) != s.init:
            raise DataError(f"signal {label!r}: first sample {int(data[i, 0])} differs from the header's initial "
                            f"value {s.init} (corrupt file, or a header that is not this file's)", str(f))
        if s.checksum is not None:
            total = int(data[i].sum())
            c = ((total + 32768) % 65536) - 32768
            if c != ((s.checksum + 32768) % 65536) - 32768:
                raise DataError(f"signal {label!r}: checksum {c} differs from the header's {s.checksum} (corrupt "
                                "file, or a header that is not this file's)", str(f))


def _physical(h: _Header, data: np.ndarray) -> tuple[np.ndarray, list[str], int]:
    """Physical values (invalid samples NaN), units, and the number of invalid samples."""
    out = np.empty(data.shape, dtype=np.float64)
    n_bad = 0
    for i, s in enumerate(h.signals):
        x = (data[i] - s.baseline) / s.gain
        bad_code = _INVALID.get(s.fmt)
        if bad_code is not None:
            bad = data[i] == bad_code
            n_bad += int(bad.sum())
            x[bad] = np.nan
        out[i] = x
    return out, [s.units for s in h.signals], n_bad


def _meta_from_comments(comments: list[str]) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    if comments:
        meta["comments"] = "\n".join(comments)
    for c in comments:
        for key, value in _META_RE.findall(c):
            k, v = key.strip().lower(), value.strip()
            if not k or not v or k in meta:
                continue
            if k == "age":
                try:
                    meta[k] = float(v) if "." in v else int(v)
                except ValueError:
                    meta[k] = v
            else:
                meta[k] = v
    return meta


def _segment(hea: Path, h: _Header) -> tuple[np.ndarray, list[str], list[str], float, int, int]:
    """Physical data, names, units, rate, spf and invalid count of a single-segment record."""
    data, spf = _read_digital(hea, h, h.nsamp)
    _check_sums(hea, h, data)
    phys, units, n_bad = _physical(h, data)
    names = [s.name or f"ch{i + 1}" for i, s in enumerate(h.signals)]
    return phys, names, units, h.fs * spf, spf, n_bad


def _multi_segment(hea: Path, h: _Header, to_volt: bool) -> tuple[np.ndarray, list[str], list[str], float, int, int]:
    """Join the segments of a multi-segment record (``~`` segments and absent channels are missing samples)."""
    where = str(hea)
    parts: list[tuple[str, int, Any]] = []
    layout: _Header | None = None
    for k, (seg, n) in enumerate(h.segments):
        if seg == "~":
            parts.append(("~", n, None))
            continue
        f = _safe_file(hea.parent, seg + ".hea", where, "segment header")
        if not f.exists():
            raise DataError(f"segment header {seg}.hea named in the header is missing", str(f))
        sh = _parse_header(check_file(f), layout=k == 0 and n == 0)
        if sh.nseg is not None:
            raise DataError("a segment is itself a multi-segment record", str(f))
        if k == 0 and n == 0:  # header(5): a first segment of length 0 is the layout of a variable layout
            layout = sh
            continue
        if abs(sh.fs - h.fs) > 1e-9 * h.fs:
            raise DataError(f"segment rate {sh.fs:g} Hz differs from the record's {h.fs:g} Hz", str(f))
        if sh.nsamp is None:
            sh.nsamp = n
        elif sh.nsamp != n:
            raise DataError(f"segment header gives {sh.nsamp} samples, the record's header {n} for it", str(f))
        parts.append((seg, n, (f, sh)))
    first = layout if layout is not None else next((p[2][1] for p in parts if p[2] is not None), None)
    if first is None:
        raise DataError("every segment is a null segment ('~'): no signal to read", where)
    names = unique_names([s.name or f"ch{i + 1}" for i, s in enumerate(first.signals)], where)
    units: list[str | None] = [None] * len(names)
    blocks, spf_all, n_bad = [], None, 0
    for seg, n, info in parts:
        if info is None:
            blocks.append(np.full((len(names), n * (spf_all or 1)), np.nan))
            n_bad += n * len(names)
            continue
        f, sh = info
        phys, snames, sunits, _, spf, bad = _segment(f, sh)
        if spf_all is not None and spf != spf_all:
            raise DataError(f"segment has {spf} samples per frame, earlier ones {spf_all}", str(f))
        spf_all = spf
        if to_volt:
            phys, sunits = to_volts(phys, sunits)
        snames = unique_names(snames, str(f))
        if layout is None and snames != names:
            raise DataError(f"segment signals {snames} differ from the first segment's {names} (a fixed-layout "
                            "record must keep its signals)", str(f))
        block = np.full((len(names), phys.shape[1]), np.nan)
        for j, nm in enumerate(names):
            if nm in snames:
                k = snames.index(nm)
                if units[j] is not None and units[j] != sunits[k]:
                    raise DataError(f"signal {nm!r} is in {sunits[k]} here, {units[j]} in an earlier segment",
                                    str(f))
                units[j] = sunits[k]
                block[j] = phys[k]
            else:
                n_bad += phys.shape[1]
        n_bad += bad
        blocks.append(block)
    spf_all = spf_all or 1
    data = np.concatenate(blocks, axis=1)
    out_units = [u if u is not None else "a.u." for u in units]
    return data, names, out_units, h.fs * spf_all, spf_all, n_bad


# annot(5): the mnemonics of the standard annotation codes (ecgcodes.h); others read as their number.
_ANN_CODES = {
    1: "N", 2: "L", 3: "R", 4: "a", 5: "V", 6: "F", 7: "J", 8: "A", 9: "S", 10: "E", 11: "j", 12: "/", 13: "Q",
    14: "~", 16: "|", 18: "s", 19: "T", 20: "*", 21: "D", 22: '"', 23: "=", 24: "p", 25: "B", 26: "^", 27: "t",
    28: "+", 29: "u", 30: "?", 31: "!", 32: "[", 33: "]", 34: "e", 35: "n", 36: "@", 37: "x", 38: "f", 39: "(",
    40: ")", 41: "r",
}


def _read_annotations(f: Path, spf: int) -> pd.DataFrame:
    """A MIT-format annotation file → events (``sample``, ``kind`` = aux text or code mnemonic, ``code``)."""
    where = str(f)
    raw = check_file(f).read_bytes()
    if len(raw) % 2:
        raw = raw[:-1]
    words = np.frombuffer(raw, dtype="<u2")
    t, i = 0, 0
    samples, codes, auxs = [], [], []
    while i < len(words):
        w = int(words[i])
        code, val = w >> 10, w & 0x3FF
        i += 1
        if code == 0 and val == 0:
            break
        if code == 59:  # SKIP: a 32-bit interval follows, high 16 bits first
            if i + 2 > len(words):
                raise DataError("annotation file is truncated (in a SKIP)", where)
            t += (int(words[i]) << 16 | int(words[i + 1])) - (1 << 32 if words[i] & 0x8000 else 0)
            i += 2
        elif code == 63:  # AUX: val bytes of text, padded to an even length
            nb = val
            nw = (nb + 1) // 2
            if i + nw > len(words):
                raise DataError("annotation file is truncated (in an aux string)", where)
            text = words[i:i + nw].tobytes()[:nb].split(b"\x00", 1)[0].decode("latin-1").strip()
            i += nw
            if auxs:
                auxs[-1] = text
        elif code in (60, 61, 62):  # NUM, SUB, CHN: fields of the annotation before, not kept
            continue
        elif 1 <= code <= 49 or code == 0:
            t += val
            samples.append(t)
            codes.append(code)
            auxs.append("")
        else:
            raise DataError(f"annotation file has an unknown code {code} at byte {2 * (i - 1)} (not MIT format?)",
                            where)
    kinds = [a if a else _ANN_CODES.get(c, str(c)) for c, a in zip(codes, auxs)]
    return pd.DataFrame({"sample": np.asarray(samples, dtype="int64") * spf, "kind": kinds,
                         "code": np.asarray(codes, dtype="int64"), "aux": auxs})


def read_wfdb(path: str | os.PathLike, *, to_volt: bool = True, bad_rows: str = "error",
              annotator: str | None = None) -> Recording:
    """Read a PhysioNet WFDB record from its header ``NAME.hea``.

    Parameters
    ----------
    path : path-like
        The record's ``.hea`` header; its signal files are read from the same folder (never outside it).
    to_volt : bool
        Scale signals in mV/µV/nV to V.
    bad_rows : {"error", "drop", "interpolate"}
        What to do with samples holding the format's invalid-value code (and the gaps of null segments):
        ``error`` names the first, ``drop`` removes those sample frames, ``interpolate`` fills runs of up to
        32 samples (as for text tables' missing cells).
    annotator : str, optional
        Annotation file extension (``atr``, ``qrs``, ...) read as events; by default ``NAME.atr`` if present.

    Returns
    -------
    Recording
        Channels named by the signals' descriptions; ``meta`` holds the header's comments verbatim
        (``comments``), parsed ``<key>: value`` pairs (``age``, ``sex``) and ``bad_rows_changed``.
    """
    p = check_file(path)
    where = str(p)
    if p.suffix.lower() == ".dat":
        raise DataError("this is a WFDB signal file: pass its header (NAME.hea), which says how to read it", where)
    repair_rows(np.zeros((0, 1)), bad_rows, where)  # validates the policy
    h = _parse_header(p)
    if h.nseg is not None:
        data, names, units, fs, spf, n_bad = _multi_segment(p, h, to_volt)
        if h.nsamp is not None and data.shape[1] != h.nsamp * spf:
            raise DataError(f"segments hold {data.shape[1] // spf} samples, the record line says {h.nsamp}", where)
    else:
        data, names, units, fs, spf, n_bad = _segment(p, h)
        if to_volt:
            data, units = to_volts(data, units)
        names = unique_names(names, where)
    changed = 0
    n_bad = int((~np.isfinite(data)).sum())
    if n_bad:
        if bad_rows == "error":
            ch, i = (int(v[0]) for v in np.nonzero(~np.isfinite(data)))
            raise DataError(f"{n_bad} missing sample(s) (the format's invalid-value code, or a gap between "
                            f"segments; first in signal {names[ch]!r} at sample {i}); pass --bad-rows drop or "
                            "--bad-rows interpolate (Python: bad_rows='drop')", where)
        fixed, changed = repair_rows(data.T, bad_rows, where)
        data = fixed.T
    events = None
    ann = None
    if annotator is not None:
        ann = _safe_file(p.parent, f"{p.stem}.{str(annotator).lstrip('.')}", where, "annotation file")
        if not ann.exists():
            raise DataError(f"annotation file {ann.name} (annotator={annotator}) is missing", str(ann))
    elif (p.parent / f"{p.stem}.atr").is_file():
        ann = p.parent / f"{p.stem}.atr"
    if ann is not None:
        events = _read_annotations(ann, spf)
        if changed and bad_rows == "drop":
            log.warning("%s: samples were dropped, so the annotations' sample numbers are not kept", where)
            events = None
        else:
            events = events[(events["sample"] >= 0) & (events["sample"] < data.shape[1])].reset_index(drop=True)
    meta = {"source": where, "format": "wfdb", "record": h.name, **_meta_from_comments(h.comments)}
    if h.base_time:
        meta["base_time"] = h.base_time
    if h.base_date:
        meta["base_date"] = h.base_date
    if changed:
        meta["bad_rows_changed"] = changed
    return make_recording(data, fs, names, where, units=units, events=events, meta=meta)


def wfdb_companions(hea: str | os.PathLike) -> set[Path]:
    """Files a header makes part of its record: segment headers of a multi-segment record (and theirs).

    A folder walker lists every ``.hea``; a segment's header is a part of its master record, not a record.
    Unreadable headers give an empty set (reading the record names the problem).
    """
    p = Path(hea)
    try:
        h = _parse_header(p)
    except (DataError, OSError):
        return set()
    out: set[Path] = set()
    for seg, _ in h.segments:
        if seg != "~" and "/" not in seg and "\\" not in seg and ".." not in seg:
            out.add((p.parent / f"{seg}.hea").resolve())
    return out
