"""TMSi Poly5 files (``.Poly5``): SAGA 32+/64+, Refa, Porti and Mobita recordings.

Layout (little-endian), as documented by TMSi's own readers and writers (the TMSi Python and MATLAB
interfaces' ``Poly5`` reader/writer, Apache-2.0), FieldTrip's ``read_tmsi_poly5.m`` (based on TMSi's
``tms_read``) and the Polybench manual's "Poly5 32 File Format provider" page (versions 2.03 and 2.04, a 16-bit
variant, events in a separate ``.CSV``); learnt from them, no code taken:

* **Header, 217 bytes**: magic ``"POLY SAMPLE FILEversion 2.03\\r\\n\\x1a"`` (31 bytes), version ``uint16``
  (203), measurement name (a Pascal string: 1 length byte + 80), sample rate ``uint16`` (Hz), storage rate
  ``uint16``, storage type ``uint8``, number of signal descriptions ``uint16`` (two per signal, see below),
  number of samples ``uint32``, 4 reserved bytes, start time (7 ``uint16``: year, month, day, day of week,
  hour, minute, second), number of data blocks ``uint32``, samples per block ``uint16``, data bytes per block
  ``uint16`` (= signals × samples per block × 4), delta-compression flag ``uint16``, 64 reserved bytes.
* **Signal descriptions, 136 bytes each**: name (Pascal string, 1 + 40), 4 reserved, unit name (Pascal,
  1 + 10), unit low, unit high, ADC low, ADC high (``float32``), index ``uint16``, cache offset ``uint16``,
  60 reserved. Each 32-bit float signal is described twice, as a ``"(Lo) NAME"`` then a ``"(Hi) NAME"`` half
  (the format was 16-bit); the writers fill both halves alike, so the ``(Lo)`` one is read.
* **Data blocks**: an 86-byte block header (first sample index ``uint32``, 4 reserved, date/time
  7 ``uint16``, 64 reserved) then ``samples per block × signals`` ``float32``, signal fastest (sample 0 of
  every signal, then sample 1, ...). The last block is either cut after the last sample (TMSi's Python
  reader expects that) or padded to a full block (TMSi's MATLAB writer pads with zeros): both are read.

What is read:

* Samples are scaled ``(x - ADC low) / (ADC high - ADC low) × (unit high - unit low) + unit low`` as
  FieldTrip does (TMSi's writers store 0/1000/0/1000, the identity, which is then skipped). Units
  ``Volt``/``mVolt``/``µVolt`` (TMSi's spelling; ``µ`` as UTF-8 or as the Windows code page's byte 0xB5)
  become V; other units (an AUX sensor's ``g``, ``-``) are kept as given, and so are those channels (AUX,
  accelerometer, BIP): they are not EMG of a grid, but dropping them would hide a sensor the lab recorded.
* Grid channels keep their names (a SAGA's ``UNI 1`` .. ``UNI 64``).
* A ``TRIGGERS``/``TRIGGER``/``TRIG``/``DIGI`` channel holds codes, not a signal: where its (integer) code
  changes to a non-zero value it becomes an event (``kind`` ``"trigger"``, ``code``, ``channel``), like
  BioSemi's Status in the EDF reader, and the channel is not read as a signal.
* A ``COUNTER`` channel (the SAGA's sample counter, stored modulo 2**24) and a SAGA's ``STATUS`` channel
  (device status bits -- battery, synchronisation -- not the lab's triggers, which the SAGA keeps in
  ``TRIGGERS``: read as events it would give spurious ones) are dropped, with a logged note and their names
  in ``meta["dropped_channels"]``.
* ``meta``: ``measurement`` (the header's name), ``start_time`` (ISO 8601, when the header has a valid one).

Not read: version 2.04 (``"POLY SAMPLE FILE version 2.04"``, one byte longer), 16-bit Poly5 (descriptions
without ``(Lo)``/``(Hi)`` halves), delta-compressed data, all refused with a one-line error; and the ``.CSV``
of event markers Polybench writes beside a Poly5 file (its columns are not documented where we looked).

Every size is checked against the file's size before anything is allocated: a file cut in the header or in the
descriptions is a one-line error naming it, and one cut in a block says how many complete samples it holds.

Checked against the documented layout (files written by the test-side writer in ``tests/io/test_poly5.py``)
and, rule by rule, against TMSi's own Python reader and MATLAB reader/writer (read, not copied): the same
header and description offsets, ``(Lo) `` names, signal-fastest float32 blocks, a cut last block, and no
scaling beyond the unit (their writers store the identity 0/1000/0/1000 -- the MATLAB writer as uint32, which
read as float32 are tiny denormals forming the same identity pair). They differ from this reader in what it
adds: TMSi's Python reader re-sorts textile-grid channels named ``R<r>C<c>`` by row and column (the names stay
with their data, only the order differs) and keeps the ``CYCL_*`` live-impedance channels as channels, as this
reader does with every non-trigger, non-counter channel. No published dump of a real Poly5 file was found.
"""
from __future__ import annotations

import datetime as _dt
import logging
import os
import re
import struct
from typing import Sequence

import numpy as np
import pandas as pd

from ..containers import Recording
from ..errors import DataError
from ._common import check_file, check_fs, make_recording, to_volts, unique_names

__all__ = ["read_poly5"]

log = logging.getLogger(__name__)

MAGIC = b"POLY SAMPLE FILEversion 2.03\r\n\x1a"
VERSION = 203
HEADER_SIZE = 217
DESCRIPTION_SIZE = 136
BLOCK_HEADER_SIZE = 86

_HEADER = struct.Struct("<31sH81sHHBHI4x7HIHHH64x")
_DESCRIPTION = struct.Struct("<41s4x11sffffHH60x")
assert _HEADER.size == HEADER_SIZE and _DESCRIPTION.size == DESCRIPTION_SIZE

#: Channel names whose values are event codes (SAGA: TRIGGERS; Porti/Refa: DIGI).
TRIGGER_NAMES = frozenset({"TRIGGERS", "TRIGGER", "TRIG", "DIGI"})
#: Channel names of a sample counter or of device status bits (no signal, no event of the lab's): dropped.
COUNTER_NAMES = frozenset({"COUNTER", "STATUS"})

_VOLT_PREFIX = {"": "V", "m": "mV", "µ": "µV", "μ": "µV", "u": "µV", "n": "nV"}


def _pascal(raw: bytes, what: str, where: str) -> str:
    """A Pascal string field (length byte + text, NUL-padded) as text; a corrupt one is a DataError."""
    n = raw[0]
    if n > len(raw) - 1:
        raise DataError(f"{what}: length byte {n} exceeds its {len(raw) - 1}-byte field (corrupt file?)", where)
    text = raw[1:1 + n].rstrip(b"\x00")
    try:
        s = text.decode("utf-8")
    except UnicodeDecodeError:
        # Polybench on Windows writes the ANSI code page: 'µVolt' is b'\xb5Volt' there, not UTF-8.
        s = text.decode("latin-1")
        log.info("%s: %s is not UTF-8; read as Latin-1 (%r)", where, what, s)
    if any(ord(c) < 32 or ord(c) == 127 for c in s):
        raise DataError(f"{what} {s!r} holds control characters (corrupt description?)", where)
    return s.strip()


def _unit(u: str) -> str:
    """TMSi's ``µVolt``/``mVolt``/``Volt`` → ``µV``/``mV``/``V`` (so :func:`to_volts` scales them)."""
    if u.lower().endswith("volt") and u[:-4] in _VOLT_PREFIX:
        return _VOLT_PREFIX[u[:-4]]
    return u or "a.u."


def _start_time(t: Sequence[int]) -> str | None:
    year, month, day, _dow, hour, minute, second = t
    try:
        return _dt.datetime(year, month, day, hour, minute, second).isoformat()
    except ValueError:  # zeros or garbage: no start time rather than a wrong one
        return None


def _trigger_onsets(x: np.ndarray) -> list[tuple[int, int]]:
    """(sample, code) where the integer code changes to a non-zero value (a non-zero first sample counts)."""
    # a damaged sample (inf, 1e30) must not wrap around in the cast to int64
    code = np.round(np.clip(np.nan_to_num(np.asarray(x, dtype=np.float64)), -2.0**53, 2.0**53)).astype(np.int64)
    if code.size == 0:
        return []
    change = np.flatnonzero(np.diff(code) != 0) + 1
    starts = ([0] if code[0] != 0 else []) + [int(k) for k in change if code[k] != 0]
    return [(k, int(code[k])) for k in starts]


def read_poly5(path: str | os.PathLike, *, to_volt: bool = True,
               channels: Sequence[str] | str | None = None) -> Recording:
    """Read a TMSi Poly5 file (version 2.03, 32-bit float signals).

    Parameters
    ----------
    path : path-like
        ``.Poly5`` file (any case of the suffix).
    to_volt : bool
        Scale channels in µVolt/mVolt/Volt (and µV/mV) to V.
    channels : sequence of str, optional
        Keep only these channels, in this order (``--hint channels="UNI 1,UNI 2"``); then no channel is
        turned into events or dropped.

    Returns
    -------
    Recording
        Signals at the header's rate; trigger/status codes as events; the counter dropped.

    Raises
    ------
    DataError
        Not a Poly5 file, an unsupported version or layout, a size that disagrees with the file, a corrupt
        description, or a truncated file; the message names the file.
    """
    p = check_file(path)
    where = str(p)
    size = p.stat().st_size
    with open(p, "rb") as fh:
        head = fh.read(HEADER_SIZE)
        if len(head) >= 31 and head[:31] != MAGIC:
            # Polybench also reads "POLY SAMPLE FILE version 2.04" (a 32-byte magic) and 16-bit
            # "SAMPLE FILE ver 1.00" files: say which version it is rather than "not a Poly5 file".
            other = re.match(rb"(?:POLY )?SAMPLE FILE ?ver(?:sion)? ?(\d+\.\d+)", head)
            if other and other.group(1) != b"2.03":
                raise DataError(f"unsupported Poly5 version {other.group(1).decode()!r} (this reader reads version "
                                "2.03)", where)
            if other:  # the version is right, the bytes after it are not
                raise DataError("not a Poly5 file (its magic 'POLY SAMPLE FILEversion 2.03' is not followed by "
                                "CR LF ^Z)", where)
            raise DataError("not a Poly5 file (no 'POLY SAMPLE FILEversion 2.03' magic at its start)", where)
        if len(head) < HEADER_SIZE:
            if not MAGIC.startswith(head[:len(MAGIC)]):
                raise DataError("not a Poly5 file (no 'POLY SAMPLE FILEversion 2.03' magic at its start)", where)
            raise DataError(f"Poly5 file is truncated in its header ({len(head)} of {HEADER_SIZE} bytes)", where)
        (_, version, name_raw, fs_raw, storage_rate, _storage_type, n_desc, n_samples, *rest) = _HEADER.unpack(head)
        start, (n_blocks, per_block, block_bytes, compression) = rest[:7], rest[7:]
        if version != VERSION:
            raise DataError(f"unsupported Poly5 version {version} in the header (this reader reads 203)", where)
        if compression:
            raise DataError(f"delta-compressed Poly5 data (flag {compression}) is not supported", where)
        if n_desc == 0:
            raise DataError("header declares 0 signals", where)
        if n_desc % 2:
            raise DataError(f"header declares {n_desc} signal descriptions, an odd number: 32-bit signals are "
                            "described as (Lo)/(Hi) pairs (a 16-bit Poly5 file? not supported)", where)
        fs = check_fs(fs_raw, where, "Poly5 header")
        if storage_rate not in (0, fs_raw):
            log.warning("%s: header's storage rate %d Hz differs from its sample rate %d Hz; the sample rate is "
                        "used", where, storage_rate, fs_raw)
        n_ch = n_desc // 2
        data_start = HEADER_SIZE + n_desc * DESCRIPTION_SIZE
        if size < data_start:
            raise DataError(f"Poly5 file is truncated in its signal descriptions: {n_desc} descriptions need "
                            f"{data_start} bytes with the header, the file has {size}", where)
        raw_desc = fh.read(n_desc * DESCRIPTION_SIZE)
        names, units, cal = [], [], []
        for k in range(n_ch):
            lo = _DESCRIPTION.unpack_from(raw_desc, 2 * k * DESCRIPTION_SIZE)
            hi = _DESCRIPTION.unpack_from(raw_desc, (2 * k + 1) * DESCRIPTION_SIZE)
            lo_name = _pascal(lo[0], f"signal description {2 * k + 1} name", where)
            hi_name = _pascal(hi[0], f"signal description {2 * k + 2} name", where)
            if not (lo_name.startswith("(Lo)") and hi_name.startswith("(Hi)")):
                raise DataError(f"signal descriptions {2 * k + 1}-{2 * k + 2} ({lo_name!r}, {hi_name!r}) are not "
                                "a '(Lo) '/'(Hi) ' pair of a 32-bit float signal (16-bit Poly5 files are not "
                                "supported)", where)
            name = lo_name[4:].strip()
            if hi_name[4:].strip() != name:
                raise DataError(f"signal descriptions {2 * k + 1}-{2 * k + 2} name different signals "
                                f"({lo_name!r}, {hi_name!r})", where)
            names.append(name or f"ch{k + 1}")
            units.append(_unit(_pascal(lo[1], f"signal {name!r} unit", where)))
            unit_lo, unit_hi, adc_lo, adc_hi = (float(v) for v in lo[2:6])
            if not np.all(np.isfinite([unit_lo, unit_hi, adc_lo, adc_hi])) or adc_lo == adc_hi:
                raise DataError(f"signal {name!r}: ADC range {adc_lo:g}..{adc_hi:g} (unit {unit_lo:g}..{unit_hi:g}) "
                                "cannot convert samples to units", where)
            cal.append((unit_lo, unit_hi, adc_lo, adc_hi))

        row = n_ch * 4
        if n_samples == 0:
            held = (size - data_start) // (BLOCK_HEADER_SIZE + row) if size > data_start else 0
            raise DataError("header declares 0 samples" + (
                " though data blocks follow (a recording stopped before its header was rewritten?)" if held else ""),
                where)
        if per_block == 0:
            raise DataError(f"header declares {n_samples} samples but 0 samples per block", where)
        if block_bytes != (per_block * row) & 0xFFFF:
            raise DataError(f"header's data block size {block_bytes} bytes disagrees with {per_block} samples × "
                            f"{n_ch} signals × 4 bytes (not a 32-bit float Poly5 layout)", where)
        need_blocks = -(-n_samples // per_block)
        if n_blocks != need_blocks:
            raise DataError(f"header is inconsistent: {n_samples} samples at {per_block} per block need "
                            f"{need_blocks} blocks, it declares {n_blocks}", where)
        block = BLOCK_HEADER_SIZE + per_block * row
        avail = size - data_start
        full_blocks, rem = divmod(avail, block)
        held = full_blocks * per_block + (min((rem - BLOCK_HEADER_SIZE) // row, per_block)
                                          if rem > BLOCK_HEADER_SIZE else 0)
        if held < n_samples:
            raise DataError(f"Poly5 file is truncated: the header declares {n_samples} samples in {n_blocks} "
                            f"blocks, the file holds {held} complete samples (cut in block {full_blocks + 1})", where)
        if avail > need_blocks * block:
            log.warning("%s: %d bytes after the header's %d blocks are ignored", where,
                        avail - need_blocks * block, n_blocks)
        whole, tail = divmod(n_samples, per_block)
        blk = np.dtype([("first", "<u4"), ("rest", "V82"), ("x", "<f4", (per_block, n_ch))])
        fh.seek(data_start)
        blocks = np.fromfile(fh, dtype=blk, count=whole)
        last = None
        if tail:
            fh.seek(data_start + whole * block + BLOCK_HEADER_SIZE)
            last = np.fromfile(fh, dtype="<f4", count=tail * n_ch).reshape(tail, n_ch)
    if len(blocks) != whole or (last is not None and last.shape[0] != tail):  # the file changed under us
        raise DataError("Poly5 file is truncated (shorter when read than when its size was checked)", where)
    starts = blocks["first"].astype(np.int64)
    off = np.flatnonzero(starts != np.arange(whole, dtype=np.int64) * per_block)
    if off.size:
        log.warning("%s: %d data block(s) give a first-sample index other than their position (first: block %d "
                    "says %d); blocks are read in file order", where, off.size, off[0] + 1, starts[off[0]])
    parts = [blocks["x"].reshape(whole * per_block, n_ch)] + ([last] if last is not None else [])
    data = np.concatenate(parts, axis=0).T.astype(np.float64)
    for k, (unit_lo, unit_hi, adc_lo, adc_hi) in enumerate(cal):
        if (unit_lo, unit_hi) != (adc_lo, adc_hi):
            data[k] = (data[k] - adc_lo) / (adc_hi - adc_lo) * (unit_hi - unit_lo) + unit_lo

    meta: dict = {"source": where}
    measurement = _pascal(name_raw, "measurement name", where)
    if measurement:
        meta["measurement"] = measurement
    t0 = _start_time(start)
    if t0:
        meta["start_time"] = t0

    keep = list(range(n_ch))
    events = None
    if channels is not None:
        wanted = [channels] if isinstance(channels, str) else [str(c) for c in channels]
        missing = [c for c in wanted if c not in names]
        if missing:
            raise DataError(f"no channel(s) {missing}; the file has {names}", where)
        keep = [names.index(c) for c in wanted]
    else:
        upper = [n.upper() for n in names]
        counters = [k for k in keep if upper[k] in COUNTER_NAMES]
        if counters:
            meta["dropped_channels"] = [names[k] for k in counters]
            log.info("%s: counter/status channel(s) %s dropped (a sample count or device status, not a signal)", where,
                     meta["dropped_channels"])
        keep = [k for k in keep if k not in counters]
        trig = [k for k in keep if upper[k] in TRIGGER_NAMES]
        if trig and len(trig) < len(keep):
            rows = [(s, c, names[k]) for k in trig for s, c in _trigger_onsets(data[k])]
            rows.sort(key=lambda r: r[0])
            events = pd.DataFrame({"sample": np.array([r[0] for r in rows], dtype="int64"), "kind": "trigger",
                                   "code": np.array([r[1] for r in rows], dtype="int64"),
                                   "channel": [r[2] for r in rows]})
            log.info("%s: trigger channel(s) %s read as events, not as signals", where,
                     [names[k] for k in trig])
            keep = [k for k in keep if k not in trig]
        if not keep:
            raise DataError(f"file holds no signal besides its counter channel(s) {meta['dropped_channels']}", where)
    sig_units = [units[k] for k in keep]
    out = data[keep]
    if to_volt:
        out, sig_units = to_volts(out, sig_units)
    return make_recording(out, fs, unique_names([names[k] for k in keep], where), where, units=sig_units,
                          events=events, meta=meta)
