"""CSV / TSV / plain-text tables of samples, one column per channel.

Handles the shapes these files come in:

* a header row of channel names (optionally with units, ``"VL [mV]"``), or none;
* free-form preamble lines before the table (Delsys EMGworks / Trigno exports
  put ``Label:``, ``Sampling frequency:`` ... lines first); ``key: value`` pairs
  are kept in ``meta["header"]`` and a sampling rate found there is used;
* a time column (``time``, ``t``, ``X[s]``, ``Time (ms)`` ...) giving the rate, or
  an explicit ``fs=``; Delsys exports repeat a time column before each sensor,
  and sensors at different rates come back as a :class:`~myoflow.containers.Trial`.

Values in mV/µV are scaled to V (containers store EMG in volts).
"""
from __future__ import annotations

import csv
import io
import logging
import os
import re
from typing import Sequence

import numpy as np
import pandas as pd

from ..containers import Recording, Trial
from ..errors import DataError
from ._common import (
    _HINT_UNIT_KEYS, SCALING_KEY, check_file, check_fs, fs_from_times, make_recording, repair_rows, split_unit,
    to_volts, unique_names,
)

__all__ = ["read_csv"]

log = logging.getLogger(__name__)

_TIME_NAMES = {"time", "t", "x", "times", "timestamp", "time_s", "sec", "seconds", "time_ms", "time_us",
               "datetime", "date_time", "date time", "date/time",
               # as exports in other languages name it (German, French, Spanish, Italian/Portuguese, Dutch)
               "zeit", "temps", "tiempo", "tempo", "tijd"}
# A header naming time as one word of several, with a time unit: Shimmer's 'Shimmer_ABCD_Timestamp_Unix_CAL [ms]'.
_TIME_WORD = re.compile(r"(?:^|[_\s.])(?:time|timestamp)s?(?:$|[_\s.])")
# ISO date-times as a cell (OpenBCI, Shimmer, phone apps): read as seconds since 1970 so the column is a time.
_ISO_DATETIME = re.compile(r"(?:(?<=^)|(?<=[,;\t\"])|(?<=[,;] ))(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2}(?:\.\d+)?)(?:Z|[+-]\d{2}:?\d{2})?(?=$|[,;\t\" ])")
# Clock times as a cell, hh:mm:ss[.fff] or mm:ss.fff (a time column some software and spreadsheets write).
_CLOCK_TIME = re.compile(r"(?:(?<=^)|(?<=[,;\t\"])|(?<=[,;] ))"
                         r"(?:(\d{1,3}):([0-5]\d):([0-5]\d(?:\.\d+)?)|(?:(\d{1,3}):([0-5]\d\.\d+)))"
                         r"(?=$|[,;\t\" ])")
_TIME_UNITS = {"s": 1.0, "sec": 1.0, "seconds": 1.0, "ms": 1e-3, "msec": 1e-3, "milliseconds": 1e-3,
               "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "usec": 1e-6, "microseconds": 1e-6, "min": 60.0}
_NAME_SCALES = {"time_ms": 1e-3, "time_us": 1e-6}
_FS_PATTERN = re.compile(
    r"(sampling\s*(?:frequency|rate)|sample\s*rate|\bfs\b|\bfsamp\b|\brate\b)[^0-9\-+.]{0,8}([0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?)",
    re.IGNORECASE,
)
_CANDIDATE_DELIMITERS = (",", "\t", ";", None)  # None = any whitespace
# Names a user can type for a delimiter (``--hint delimiter=tab``); None = any run of whitespace.
_DELIMITER_NAMES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "space": None, "whitespace": None}
# Preamble lines that name a channel: ``Channel 1: 'RF' ... engineering units: mV`` (Noraxon/MyoResearch,
# Biometrics, BTS exports write one such line per channel).
_CHANNEL_LINE = re.compile(
    r"^\W*(?:channel|chan|ch)\s*#?\s*(\d+)\s*[:=\-]?\s*(?:['\"]([^'\"]+)['\"]|([A-Za-z][\w\-.]*))", re.IGNORECASE
)
_UNIT_IN_LINE = re.compile(r"\b(?:engineering\s+)?units?\s*[:=]\s*['\"]?([A-Za-zµμ]+)", re.IGNORECASE)


# Columns of sample or frame numbers that acquisition software writes beside the time (Noraxon ``Sample #``,
# OpenSignals ``nSeq``, Vicon ``Frame``): counters, not signals, so they are not read as channels.
_INDEX_NAMES = {"sample", "samples", "sample #", "sample#", "sample no", "sample number", "nseq", "index", "idx",
                "frame", "frame #", "frames", "sub frame", "subframe"}
# A time column without a unit whose step gives less than this many Hz is more likely in ms than in s
# (EMG, kinematics and force plates all sample at >= 10 Hz); the user states the unit to go on.
_SLOW_UNITLESS_TIME_HZ = 10.0


def _is_units_row(fields: list[str]) -> bool:
    """True for a row such as ``s,mV,mV`` or ``,uV,uV`` (units under the header, as Noraxon exports write)."""
    cells = [f.strip().lower().replace(" ", "") for f in fields]
    known = _HINT_UNIT_KEYS | {u.lower() for u in _TIME_UNITS} | {"sec", "hz", "n.m", "nm", "mv", "uv"}
    return any(cells) and all(c == "" or c.strip("[]()") in known for c in cells)


def _split(line: str, delim: str | None) -> list[str]:
    if delim is None:
        fields = line.split()
    elif '"' in line:
        fields = next(csv.reader([line], delimiter=delim), [])  # quoted names may hold the delimiter
    else:
        fields = line.split(delim)
    return [f.strip().strip('"').strip("'").strip() for f in fields]


def _numeric_fields(fields: list[str]) -> bool:
    if not fields or all(f == "" for f in fields):
        return False
    for f in fields:
        if f == "":
            continue
        try:
            float(f)
        except ValueError:
            return False
    return True


def _trim_empty_tail(fields: list[str]) -> list[str]:
    while fields and fields[-1] == "":
        fields = fields[:-1]
    return fields


def _find_table(lines: list[str], delim: str | None) -> tuple[int, int] | None:
    """Index of the first data line and its field count, for a run of >= 3 numeric lines (or all that remain)."""
    # Field counts include empty cells: padded (lower-rate) columns keep their separators.
    n = len(lines)
    for i in range(n):
        f = _split(lines[i], delim)
        if not _numeric_fields(f):
            continue
        k = len(f)
        run = [_split(x, delim) for x in lines[i:i + 5]]
        if all(_numeric_fields(x) and len(x) == k for x in run):
            return i, len(_trim_empty_tail(f))
    return None


def _choose_delimiter(lines: list[str], suffix: str) -> str | None:
    if suffix == ".tsv":
        return "\t"
    best, best_cols = ",", 0
    for delim in _CANDIDATE_DELIMITERS:
        found = _find_table(lines[-50:], delim) if len(lines) > 50 else _find_table(lines, delim)
        if found and found[1] > best_cols:
            best, best_cols = delim, found[1]
    return best


def _is_time_like_first(table: pd.DataFrame) -> bool:
    """True when the first column of a header-less table looks like sample times (evenly increasing)."""
    if table.shape[1] < 2:
        return False
    t = pd.to_numeric(table.iloc[:50, 0], errors="coerce").to_numpy(dtype=float)
    d = np.diff(t[np.isfinite(t)])
    return d.size > 2 and bool((d > 0).all()) and float(np.ptp(d)) <= 0.01 * float(np.median(d))


def _is_counter(col: pd.Series) -> bool:
    """True when a column holds whole numbers increasing by one constant step (a sample or frame counter)."""
    v = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
    if v.size < 2 or not np.isfinite(v).all() or not np.all(v == np.round(v)):
        return False
    d = np.diff(v)
    return bool(d[0] > 0 and np.all(d == d[0]))


def _is_time(name: str, where: str | None = None) -> tuple[bool, float]:
    """Whether a header names a time column, and the factor from its unit to seconds.

    A time column whose stated unit is not one of :data:`_TIME_UNITS` is an error: read as seconds, a
    ``Time (us)`` column would give a rate a million times too low without a word.
    """
    base, unit = split_unit(name)
    b = base.strip().lower()
    if b in _TIME_NAMES or (unit is not None and unit.lower() in _TIME_UNITS
                            and (b in {"x", "t", "time", "elapsed time"} or _TIME_WORD.search(b))):
        if unit is not None and unit.strip().lower() not in _TIME_UNITS:
            if b == "x":  # a coordinate such as 'X [mm]', not the x axis of a time plot
                return False, 1.0
            raise DataError(f"time column {name!r} states unit {unit!r}, which is not one of {sorted(_TIME_UNITS)}; "
                            "give the column in s, ms or us, or rename it and pass the rate (--fs RATE)",
                            where)
        scale = _TIME_UNITS.get((unit or "").strip().lower(), _NAME_SCALES.get(b, 1.0))
        return True, scale
    return False, 1.0


def _is_time_quiet(name: str) -> bool:
    try:
        return _is_time(name)[0]
    except DataError:  # an unknown unit: raised, naming the column, where the time columns are chosen
        return False


def _preamble(lines: list[str]) -> dict[str, str]:
    header: dict[str, str] = {}
    for line in lines:
        text = line.strip().strip(",;\t ")
        if not text:
            continue
        m = re.match(r"^([^:=,\t]+)\s*[:=,\t]\s*(.+)$", text)
        if m:
            header[m.group(1).strip()] = m.group(2).strip().strip(",;\t ")
    return header


def _channels_from_preamble(lines: list[str]) -> dict[int, tuple[str, str | None]]:
    """``{channel number (1-based): (name, unit or None)}`` from lines like ``Channel 1: 'RF' ... units: mV``."""
    found: dict[int, tuple[str, str | None]] = {}
    for line in lines:
        m = _CHANNEL_LINE.match(line.strip())
        if not m:
            continue
        name = (m.group(2) or m.group(3) or "").strip()
        if not name:
            continue
        u = _UNIT_IN_LINE.search(line)
        found.setdefault(int(m.group(1)), (name, u.group(1) if u else None))
    return found


_LABEL_UNIT_LINE = re.compile(r"^\W*label\s*:\s*(.+?)\s+(?:sampling\s+frequency|number\s+of\s+points|start|unit)\s*:"
                              r".*?(?<!domain )\bunit\s*:\s*([A-Za-zµμ]+)", re.IGNORECASE)


def _label_units(lines: list[str]) -> dict[str, str]:
    """``{label: unit}`` from EMGworks preamble lines ``Label: EMG 1 ... Unit: Volts Domain Unit: s``."""
    out: dict[str, str] = {}
    for line in lines:
        m = _LABEL_UNIT_LINE.match(line.strip())
        if m:
            out.setdefault(m.group(1).strip(), m.group(2))
    return out


def _fs_from_preamble(lines: list[str]) -> float | None:
    for line in lines:
        m = _FS_PATTERN.search(line)
        if m:
            try:
                value = float(m.group(2))
            except ValueError:
                continue
            if value > 0:
                return value
    return None


def _datetimes_to_seconds(lines: list[str]) -> list[str]:
    """Lines with ISO date-time cells (``2026-12-07 10:00:00.001``) written as seconds since 1970 (UTC offset ignored)."""
    import datetime as _dt

    epoch = _dt.date(1970, 1, 1).toordinal()

    def sub(m: re.Match) -> str:
        try:
            day = _dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3))).toordinal() - epoch
        except ValueError:
            return m.group(0)
        sec = day * 86400 + int(m.group(4)) * 3600 + int(m.group(5)) * 60
        frac = m.group(6)
        whole, _, dec = frac.partition(".")
        return f"{sec + int(whole)}.{dec or '0'}"

    def clock(m: re.Match) -> str:
        h, mi, sec = m.group(1, 2, 3) if m.group(1) is not None else ("0", *m.group(4, 5))
        whole, _, dec = sec.partition(".")
        return f"{int(h) * 3600 + int(mi) * 60 + int(whole)}.{dec or '0'}"

    out = [_ISO_DATETIME.sub(sub, ln) if "-" in ln and ":" in ln else ln for ln in lines]
    # clock times as a cell (hh:mm:ss.fff, mm:ss.fff: a time column some software and spreadsheets write) as seconds
    return [_CLOCK_TIME.sub(clock, ln) if ":" in ln else ln for ln in out]


def _decode(raw: bytes, where: str) -> str:
    """Text of a table file: UTF-8 (with or without BOM), UTF-16 with a BOM, else Latin-1."""
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            raise DataError("file starts with a UTF-16 byte-order mark but is not valid UTF-16 text", where) from None
    if b"\x00" in raw[:4096]:
        raise DataError("file contains NUL bytes: binary data or UTF-16 text without a byte-order mark "
                        "(save it as UTF-8 text)", where)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")  # legacy exports (e.g. 'µV' in Windows-1252) are still tables


def _decimal_comma(lines: list[str]) -> bool:
    """True if the lines form a numeric table once ',' is read as the decimal separator."""
    sample = [ln.replace(",", ".") for ln in lines[-50:]]
    return any(_find_table(sample, d) is not None for d in (";", "\t", None))


# A number written with a thousands separator, as a spreadsheet formats large values (ADC counts, forces):
# '2,841.5', '2.841,5', Swiss "2'841.5", '2 841,5'. Read as text it was "no table of numbers", or, where only
# some rows reach 1000, a "bad row" that --bad-rows drop|interpolate would silently remove.
_THOUSANDS = re.compile(r"^[-+]?\d{1,3}(?:([,.'’ \u00a0\u202f])\d{3})(?:\1\d{3})*(?:[.,]\d+)?$")
_THOUSANDS_WAY_OUT = ("save the table without thousands separators (Excel: Format Cells > Number, untick "
                      "'Use 1000 Separator')")


def _thousands_cell(cell: object) -> bool:
    """True for a cell holding a number with a thousands separator (``'2,841.5'``), which no reader here takes."""
    if not isinstance(cell, str) or _THOUSANDS.match(cell.strip()) is None:
        return False
    try:  # '0.450' and '1,234' are numbers with a decimal point or comma, not grouped ones
        float(cell.replace(",", "."))
        return False
    except ValueError:
        return True


def _thousands_example(lines: list[str]) -> tuple[int, str] | None:
    """(line number, cell) of the first number with a thousands separator in the last 50 lines, if any."""
    first = max(0, len(lines) - 50)
    for i, line in enumerate(lines[first:], start=first + 1):
        for d in (";", "\t", ","):
            cell = next((f for f in _split(line, d) if _thousands_cell(f)), None)
            # a bare ',' both separates and groups ('1,234' is two cells): only a quoted cell is one number
            if cell is not None and (d != "," or f'"{cell}"' in line):
                return i, cell
    return None


def _labchart_lines(lines: list[str], where: str) -> list[str]:
    """ADInstruments LabChart's text export as a plain table: its ``Interval=``, ``ChannelTitle=``, ``UnitName=``
    lines become a rate line and a ``Time [s]  VL [mV] ...`` header (read as a table, ``BottomValue=`` was the
    header and the channels were named '-10.000'). Other files are returned as they are."""
    if not lines or not lines[0].startswith("Interval="):
        return lines
    head: dict[str, list[str]] = {}
    start = 0
    for i, line in enumerate(lines):
        key, sep, rest = line.partition("=")
        if not sep or "\t" in key or not key.strip() or _numeric_fields(line.split("\t")[:1]):
            start = i
            break
        head[key.strip()] = [f.strip() for f in rest.split("\t")[1:]] if rest.startswith("\t") else [rest.strip()]
    else:
        raise DataError("LabChart text export with a header and no samples", where)
    if any(ln.startswith("Interval=") for ln in lines[start:]):
        raise DataError("LabChart text export holds several blocks (an 'Interval=' line inside the data): export "
                        "one block per file", where)
    interval = (head.get("Interval") or [""])[0].split()
    try:
        step = float(interval[0]) * {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6}[interval[1] if len(interval) > 1
                                                                                  else "s"]
    except (ValueError, KeyError, IndexError):
        raise DataError(f"LabChart 'Interval=' line {lines[0]!r} gives no sampling interval", where) from None
    names = [n for n in head.get("ChannelTitle", []) if n] or None
    units = head.get("UnitName", [])
    n_data = len(lines[start].split("\t"))
    if names is None:
        return [f"Sampling rate: {1.0 / step!r} Hz"] + lines[start:]
    cols = [f"{n} [{u}]" if u else n for n, u in zip(names, units + [""] * len(names))]
    if n_data == len(cols) + 1:  # the time column (TimeFormat StartOfBlock/StartOfFile: s; TimeOfDay: a clock)
        cols = ["Time [s]"] + cols
    elif n_data != len(cols):
        raise DataError(f"LabChart export names {len(cols)} channel(s) (ChannelTitle=) but its rows have {n_data} "
                        "value(s)", where)
    return [f"Sampling rate: {1.0 / step!r} Hz", "\t".join(cols)] + lines[start:]


_ACQ_RATE = re.compile(r"^\s*([0-9.]+(?:[eE][-+]?\d+)?)\s*(msec|sec|usec|µsec|min)/sample\s*$", re.IGNORECASE)
_ACQ_STEP = {"sec": 1.0, "msec": 1e-3, "usec": 1e-6, "µsec": 1e-6, "min": 60.0}
_ACQ_AXIS = {"sec": "Time [s]", "msec": "Time [ms]", "min": "Time [min]"}


def _acqknowledge_lines(lines: list[str], where: str) -> list[str]:
    """BIOPAC AcqKnowledge's text export as a plain table: its ``0.5 msec/sample``, ``2 channels`` and
    name/unit line pairs become a rate line and a ``Time [s]  VL [mV] ...`` header (read as a table, the
    channels were ``CH1``, ``CH2`` in a.u. and, without the time column, the rate was unknown)."""
    k = next((i for i, ln in enumerate(lines[:3]) if _ACQ_RATE.match(ln)), None)
    m = re.match(r"^\s*(\d+)\s+channels?\s*$", lines[k + 1], re.IGNORECASE) if k is not None and len(lines) > k + 1 \
        else None
    if m is None:
        return lines
    rate = _ACQ_RATE.match(lines[k])
    fs = 1.0 / (float(rate.group(1)) * _ACQ_STEP[rate.group(2).lower()])
    n = int(m.group(1))
    pairs = lines[k + 2:k + 2 + 2 * n]
    if len(pairs) < 2 * n:
        raise DataError(f"AcqKnowledge text export states {n} channel(s) but its header ends early", where)
    names = [pairs[2 * j].split(" - ")[0].strip() or f"CH{j + 1}" for j in range(n)]
    cols = [f"{nm} [{pairs[2 * j + 1].strip()}]" if pairs[2 * j + 1].strip() else nm for j, nm in enumerate(names)]
    rest = lines[k + 2 + 2 * n:]
    if rest and not _numeric_fields(rest[0].split("\t")):  # the axis header: 'sec CH1 CH2' or 'CH1 CH2'
        fields = [f.strip() for f in rest[0].split("\t")]
        axis = [_ACQ_AXIS.get(fields[0].lower(), fields[0])] if len(fields) == n + 1 else []
        rest = rest[1:]
    else:
        axis = ["Time [s]"] if rest and len(rest[0].split("\t")) == n + 1 else []
    return [f"Sampling rate: {fs!r} Hz", "\t".join(axis + cols)] + rest


def _openbci_lines(lines: list[str], where: str) -> list[str]:
    """The OpenBCI GUI's raw text export as a plain table: the rate of its ``%Sample Rate = 250 Hz`` line and its
    ``EXG Channel N`` columns in µV, with the non-zero cells of ``Marker Channel`` as event labels; the sample
    index (which wraps at 256), accelerometer, analog and host time-stamp columns (jittered) are not read.
    Read as a table, its formatted time stamps were a time column of unit 'Formatted'."""
    if not lines or not lines[0].startswith("%OpenBCI"):
        return lines
    rate = next((re.search(r"([0-9.]+)\s*Hz", ln) for ln in lines[:10] if ln.lower().startswith("%sample rate")), None)
    start = next((i for i, ln in enumerate(lines) if not ln.startswith("%")), None)
    if rate is None or start is None or start + 1 >= len(lines):
        raise DataError("OpenBCI text export without a '%Sample Rate = ... Hz' line or without samples", where)
    cols = [c.strip() for c in lines[start].split(",")]
    exg = [j for j, c in enumerate(cols) if c.lower().startswith("exg channel")]
    marker = next((j for j, c in enumerate(cols) if c.lower() == "marker channel"), None)
    if not exg:
        raise DataError(f"OpenBCI text export has no 'EXG Channel' columns (columns: {cols[:6]} ...)", where)
    rows, labels = [], []
    for ln in lines[start + 1:]:
        f = [c.strip() for c in ln.split(",")]
        if len(f) != len(cols):
            raise DataError(f"OpenBCI row of {len(f)} values under a header of {len(cols)}: {ln[:60]!r}", where)
        rows.append([f[j] for j in exg])
        try:
            labels.append(f"marker_{float(f[marker]):g}" if marker is not None and float(f[marker]) != 0 else "")
        except ValueError:
            labels.append(f[marker])
    head = [f"{cols[j]} [uV]" for j in exg]
    if any(labels):  # the marker column's labels become events (an all-empty column would be no column)
        head, rows = head + ["Marker"], [r + [m] for r, m in zip(rows, labels)]
    return [f"Sampling rate: {rate.group(1)} Hz", ",".join(head)] + [",".join(r) for r in rows]


#: The block titles of a Vicon Nexus CSV export ("Export Data to ASCII File"), each followed by its rate line.
_NEXUS_BLOCKS = ("devices", "trajectories", "model outputs", "joints", "segments")


def _nexus_lines(lines: list[str], where: str) -> list[str]:
    """Vicon Nexus's CSV export as a plain table: the first block (``Devices``: the analog EMG) with the rate of
    the line under its title, its ``Frame``/``Sub Frame`` counters dropped and its units row attached to the
    column names; later blocks (``Trajectories``, ``Model Outputs``...) are named in a warning and not read.

    Read as a table, the rate line was lost (the file "had no sampling rate") and with ``--fs`` the two counters
    became channels (classes, with ``--split-channels``).
    """
    first = next((i for i, ln in enumerate(lines) if ln.strip(" ,;\t")), None)
    skipped = ""
    if first is not None and lines[first].strip(" ,;\t").lower() == "events":
        # an 'Events' block (Subject, Context, Name, Time (s)) before the data: its foot strikes are not read
        blank = next((i for i in range(first, len(lines)) if not lines[i].strip(" ,;\t")), len(lines))
        nxt = next((i for i in range(blank, len(lines)) if lines[i].strip(" ,;\t")), None)
        if nxt is None or lines[nxt].strip(" ,;\t").lower() not in _NEXUS_BLOCKS:
            return lines
        first, skipped = nxt, "its 'Events' block is not read: give the heel strikes with --events (kind, time_s); "
    if first is None or lines[first].strip(" ,;\t").lower() not in _NEXUS_BLOCKS or len(lines) < first + 5:
        return lines
    title = lines[first].strip(" ,;\t")
    delim = ";" if lines[first + 3].count(";") > lines[first + 3].count(",") else ","
    head = [c.strip() for c in lines[first + 3].split(delim)]
    if [c.lower() for c in head[:2]] != ["frame", "sub frame"]:
        return lines
    try:
        fs = float(lines[first + 1].strip(" ,;\t"))
    except ValueError:
        raise DataError(f"Vicon Nexus export: the line under {title!r} should be its rate in Hz, got "
                        f"{lines[first + 1].strip()!r}", where) from None
    spans, last = [], ""
    for c in lines[first + 2].split(delim) + [""] * len(head):  # a device or subject:segment name over its columns
        last = c.strip() or last
        spans.append(last)
    units = [c.strip() for c in lines[first + 4].split(delim)] + [""] * len(head)
    names = head[2:]
    if len(set(names)) < len(names):  # X, Y, Z under each marker or model output: keep its name
        names = [f"{spans[j]} {head[j]}".strip() for j in range(2, len(head))]
    cols = [f"{n} [{u}]" if u else n for n, u in zip(names, units[2:])]
    rows, end = [], len(lines)
    for i in range(first + 5, len(lines)):
        if not lines[i].strip(" ,;\t"):
            end = i
            break
        rows.append(delim.join(lines[i].split(delim)[2:]))
    later = [ln.strip(" ,;\t") for ln in lines[end:] if ln.strip(" ,;\t").lower() in _NEXUS_BLOCKS]
    if later or skipped:
        log.warning("%s: Vicon Nexus export: the %r block (%g Hz) is read; %s%s", where, title, fs, skipped,
                    f"{', '.join(repr(b) for b in later)} not (export one block per file, or read the C3D)"
                    if later else "")
    return [f"Sampling rate: {fs!r} Hz", delim.join(cols)] + rows


def _labelled_row(fields: list[str], below: list[list[str]]) -> bool:
    """True for a row of numbers whose only text cells lie in columns that the rows ``below`` leave empty."""
    if not below or any(len(b) != len(fields) for b in below):
        return False
    text = [j for j, f in enumerate(fields) if f != "" and not _numeric_fields([f])]
    numbers = [j for j, f in enumerate(fields) if f != "" and j not in text]
    return bool(text) and len(numbers) >= 1 and all(b[j] == "" for j in text for b in below)


def _is_marker_column(col: pd.Series) -> bool:
    """True for a column of text labels on at most half of the rows and empty on the others (an event column)."""
    if pd.api.types.is_numeric_dtype(col):
        return False
    text = col.dropna().astype(str).str.strip()
    text = text[text != ""]
    return (0 < len(text) <= 0.5 * len(col) and bool(pd.to_numeric(text, errors="coerce").isna().all())
            and not any(_thousands_cell(v) for v in text))


def _with_markers(rec: Recording, markers: list[tuple[str, np.ndarray, list[str]]], times: np.ndarray | None,
                  where: str) -> Recording:
    """``rec`` with the marker columns' labels as events (``kind`` = the label, ``column`` = its column)."""
    rows = []
    for name, idx, labels in markers:
        t = times[idx] if times is not None else idx / rec.fs + rec.t0
        for ti, label in zip(t, labels):
            if not np.isfinite(ti):
                raise DataError(f"label {label!r} of column {name!r} is on a row without a time", where)
            sample = int(round((ti - rec.t0) * rec.fs))
            if 0 <= sample < rec.n_samples:
                rows.append({"sample": sample, "kind": label, "column": split_unit(name)[0] or name})
    if not rows:
        return rec
    ev = pd.DataFrame(rows)
    return rec.replace(events=pd.concat([rec.events, ev], ignore_index=True) if len(rec.events) else ev)


def _steady_column_hint(block: np.ndarray, headers: Sequence[str]) -> str:
    """``"; column 'Header' steps steadily ..."`` when the first column looks like a time axis of another name.

    Camargo et al.'s exports call their time column ``Header``: a first column that rises by one constant
    step is named, with the hint that makes it the time axis (never taken as time without the user's word).
    """
    if block.shape[0] < 3 or block.shape[1] < 2:
        return ""
    d = np.diff(block[:, 0])
    if not (np.all(np.isfinite(d)) and d.min() > 0 and np.ptp(d) <= 0.01 * float(np.median(d))):
        return ""
    return (f"; column {headers[0]!r} rises by a constant {float(np.median(d)):g} per row: if it is the time in "
            f"seconds, pass --hint time_column={headers[0]!r}")


def read_csv(
    path: str | os.PathLike,
    *,
    fs: float | None = None,
    time_column: str | bool | None = None,
    delimiter: str | None = None,
    ch_names: Sequence[str] | None = None,
    units: str | Sequence[str] | None = None,
    to_volt: bool = True,
    bad_rows: str = "error",
    decimal: str = ".",
    time_unit: str | None = None,
) -> Recording | Trial:
    """Read a delimited text table of samples.

    Parameters
    ----------
    path : path-like
        ``.csv``, ``.tsv`` or ``.txt`` file.
    fs : float, optional
        Sampling rate in Hz. Needed when there is no time column and the
        preamble does not state it; overrides both when given.
    time_column : str or False, optional
        Name of the time column (s, or ms if its header says ``[ms]``).
        Default: detected by name; ``False``: the table has none.
    delimiter : str, optional
        Field separator, or one of ``tab``, ``comma``, ``semicolon``, ``space``;
        sniffed from the data when omitted (``,`` tab ``;`` spaces).
    ch_names : sequence of str or str, optional
        Channel names, overriding the header (must match the channel count);
        a string is split at commas (``"RF,BF,VM"``). Without a header row,
        names (and units) come from preamble lines such as ``Channel 1: 'RF' ... units: mV``.
    units : str or sequence of str, optional
        Units per channel, overriding the header (default from ``[unit]`` in the header, else ``"a.u."``).
    to_volt : bool
        Scale mV/µV/nV channels to V.
    bad_rows : {"error", "drop", "interpolate"}
        Rows with empty, non-numeric or non-finite cells: stop (default), drop
        them, or interpolate each bad cell linearly; the number of rows changed
        is kept in ``meta["bad_rows_changed"]``.
    decimal : {".", ","}
        Decimal separator of the numbers. ``","`` reads exports of locales that
        write ``0,5`` (columns then separated by ``;``, tab or spaces).
    time_unit : {"s", "ms", "us"}, optional
        Unit of a time column whose header states none (``--hint time_unit=ms``). Without it such a
        column is read in seconds, and refused when that gives under 10 Hz (times in ms, read as s,
        would give a rate 1000 times too low).

    Returns
    -------
    Recording, or a Trial when time columns give different rates (Delsys multi-rate exports).
    """
    p = check_file(path)
    where = str(p)
    if fs is not None:
        fs = check_fs(fs, where)
    if isinstance(delimiter, str) and delimiter.strip().lower() in _DELIMITER_NAMES:
        delimiter = _DELIMITER_NAMES[delimiter.strip().lower()]
    if isinstance(ch_names, str):
        ch_names = [c.strip() for c in ch_names.split(",")]
    if isinstance(units, str) and "," in units:
        units = [u.strip() for u in units.split(",")]
    repair_rows(np.zeros((0, 1)), bad_rows, where)  # validates the policy before reading
    if time_unit is not None and str(time_unit).strip().lower() not in _TIME_UNITS:
        raise DataError(f"time_unit must be one of s, ms, us, got {time_unit!r}", where)
    if decimal not in (".", ","):
        raise DataError(f"decimal must be '.' or ',', got {decimal!r}", where)
    if decimal == "," and delimiter == ",":
        raise DataError("a decimal comma needs another column separator (';', tab or spaces), not ','", where)
    raw = p.read_bytes()
    if raw.endswith(b"\x00"):
        # zeros after the last line: space the logger had reserved, or a file cut short by a crash or power loss
        pad = len(raw) - len(raw.rstrip(b"\x00"))
        log.warning("%s: %d NUL byte(s) after the last line ignored (the recording was cut short by a crash or "
                    "power loss?)", where, pad)
        raw = raw.rstrip(b"\x00")
    text = _decode(raw, where)
    lines = _datetimes_to_seconds(text.splitlines())
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise DataError("file has no lines of data", where)
    lines = _nexus_lines(_openbci_lines(_acqknowledge_lines(_labchart_lines(lines, where), where), where), where)
    # Table detection reads numbers with decimal points; names and units keep their commas (header from `lines`).
    scan = [ln.replace(",", ".") for ln in lines] if decimal == "," else lines
    delim = delimiter if delimiter is not None else _choose_delimiter(scan, p.suffix.lower())
    if decimal == "," and delim == ",":
        delim = None  # one column: no separator to choose; whitespace splitting keeps "0,5" whole
    found = _find_table(scan, delim)
    if found is None and decimal == "," and delimiter is None:
        # `--hint decimal=,` reaches every table of a folder; a ','-separated table of decimal points (the angles
        # of other software beside a German EMG export) cannot hold decimal commas: read it as it is written
        point_delim = _choose_delimiter(lines, p.suffix.lower())
        point = _find_table(lines, point_delim) if point_delim == "," else None
        if point is not None:
            log.info("%s: numbers have decimal points between ',' separators: read with decimal '.'", where)
            decimal, scan, delim, found = ".", lines, point_delim, point
    if found is None:
        grouped = _thousands_example(lines)
        if grouped is not None:
            raise DataError(f"numbers have thousands separators (e.g. {grouped[1]!r} in line {grouped[0]}): "
                            + _THOUSANDS_WAY_OUT, where)
        if decimal == "." and _decimal_comma(lines):
            raise DataError("numbers use a decimal comma (e.g. '0,5'): pass --hint decimal=, (Python: "
                            "decimal=',') or save the table with decimal points", where)
        text_lines = [ln.strip() for ln in lines if ln.strip()]
        header_like = bool(text_lines) and any(
            len([f for f in _split(text_lines[-1], d) if f]) >= 2 for d in (",", ";", "\t"))
        if header_like and len(text_lines) <= 3 and not any(
                _numeric_fields(_split(ln, d)) for ln in scan for d in (",", ";", "\t")):
            # an export stopped before its first sample: say so, not "not a table"
            raise DataError(f"recording is empty: {len(text_lines)} line(s) of text ({text_lines[-1][:60]!r}) and no "
                            "rows of samples (an export stopped before recording?)", where)
        raise DataError("no table of numbers found (recording is empty or not a delimited numeric table)", where)
    start, n_fields = found
    # a first row carrying a marker label ('0.000,0.01,0.02,start') is data, not the header: its text sits in a
    # column the rows below leave empty
    while start > 0 and _labelled_row(_split(scan[start - 1], delim),
                                      [_split(x, delim) for x in scan[start:start + 5]]):
        start -= 1
    header_fields: list[str] | None = None
    pre_end = start
    if start > 0:
        cand = _trim_empty_tail(_split(lines[start - 1], delim))
        if cand and not _numeric_fields(cand) and not _CHANNEL_LINE.match(lines[start - 1].strip()):
            header_fields, pre_end = cand, start - 1
            # A units row under the header (``time,VL,RF`` then ``s,mV,mV``): names from the row above,
            # units from this one (read alone, the units became the channel names and the mV were kept).
            if pre_end > 0 and _is_units_row(cand):
                above = _trim_empty_tail(_split(lines[pre_end - 1], delim))
                if above and not _numeric_fields(above) and len(above) == len(cand):
                    header_fields = [f"{n} [{u}]" if u and split_unit(n)[1] is None else n
                                     for n, u in zip(above, cand)]
                    pre_end -= 1
    preamble = lines[:pre_end]
    for i, line in enumerate(scan[:pre_end]):
        f = _trim_empty_tail(_split(line, delim))
        if not _numeric_fields(f) or len(f) < 2:
            continue
        # Rows of numbers above the table found: the file is one table broken by a bad row.
        if len(f) == n_fields and header_fields is not None:
            raise DataError(f"non-numeric value in line {pre_end + 1} ({lines[pre_end].strip()[:60]!r}) between rows "
                            f"of numbers (the table starts at line {i + 1})", where)
        raise DataError(f"rows have different numbers of values: line {i + 1} has {len(f)}, line {start + 1} has "
                        f"{n_fields} (ragged or damaged table)", where)

    body = "\n".join(lines[start:])
    try:
        table = pd.read_csv(
            io.StringIO(body), sep=delim if delim is not None else r"\s+", header=None,
            engine="c", skip_blank_lines=True, quotechar='"', decimal=decimal,
        )
    except (pd.errors.ParserError, ValueError) as exc:
        raise DataError(f"malformed table: {exc} (line numbers counted from the first data row)", where) from None
    # Delsys-style trailing separators give all-empty columns at the right.
    while table.shape[1] > 1 and table.iloc[:, -1].isna().all():
        table = table.iloc[:, :-1]
    if header_fields is None:
        header_fields = [f"ch{i + 1}" for i in range(table.shape[1])]
        # Channel numbers in the preamble count the channels; one spare leading column of evenly
        # increasing values is the time column.
        stated = _channels_from_preamble(lines[:pre_end])
        if stated:
            offset = 1 if len(stated) == table.shape[1] - 1 and _is_time_like_first(table) else 0
            if offset:
                header_fields[0] = "time"
            for k, (nm, un) in stated.items():
                if 0 <= k - 1 + offset < len(header_fields):
                    header_fields[k - 1 + offset] = f"{nm} [{un}]" if un else nm
    if len(header_fields) != table.shape[1]:
        raise DataError(
            f"header has {len(header_fields)} column name(s) but the data rows have {table.shape[1]} value(s)", where
        )
    # A column of text labels on a few rows, empty elsewhere (an 'Event'/'Marker' column: 'HS', 'TO', 'start')
    # marks moments, not samples: read as events. It was a "non-numeric value" whose --bad-rows way out failed.
    marker_cols = [j for j in range(table.shape[1]) if _is_marker_column(table.iloc[:, j])]
    markers: list[tuple[str, np.ndarray, list[str]]] = []
    if marker_cols and len(marker_cols) < table.shape[1]:
        for j in marker_cols:
            col = table.iloc[:, j]
            rows = np.flatnonzero((col.notna() & (col.astype(str).str.strip() != "")).to_numpy())
            markers.append((header_fields[j], rows, [str(v).strip() for v in col.iloc[rows]]))
        keep = [j for j in range(table.shape[1]) if j not in marker_cols]
        table = table.iloc[:, keep].copy()
        table.columns = range(len(keep))
        header_fields = [header_fields[j] for j in keep]
        log.info("%s: column(s) %s hold text labels on some rows: read as events", where, [m[0] for m in markers])
    for j in range(table.shape[1]):
        col = table.iloc[:, j]
        if not pd.api.types.is_numeric_dtype(col):
            values = pd.to_numeric(col, errors="coerce")
            grouped = np.flatnonzero([_thousands_cell(c) for c in col])
            if len(grouped):  # not a bad row to drop or fill: a large value written as text
                raise DataError(f"number {col.iloc[grouped[0]]!r} in column {header_fields[j]!r} at data row "
                                f"{grouped[0] + 1} has a thousands separator: " + _THOUSANDS_WAY_OUT, where)
            if bad_rows != "error":
                continue  # coerced to NaN below and repaired with the other bad rows
            bad = int(np.flatnonzero(values.isna() & col.notna())[0])
            raise DataError(
                f"non-numeric value {str(col.iloc[bad])[:40]!r} in column {header_fields[j]!r} at data row {bad + 1} "
                "(myoflow convert --bad-rows drop or --bad-rows interpolate repairs such rows)", where
            )
    table = table.apply(pd.to_numeric, errors="coerce")

    base = [split_unit(h)[0] or f"ch{i + 1}" for i, h in enumerate(header_fields)]
    # Delsys exports repeat 'X[s]' before every sensor: repeated time columns are numbered without the
    # warning meant for repeated channel names (which it would give once per file, about no channel).
    timeish = set() if time_column is False else {i for i, h in enumerate(header_fields) if _is_time_quiet(h)}
    chan_names = iter(unique_names([b for i, b in enumerate(base) if i not in timeish], where))
    seen: dict[str, int] = {}
    numbered = []
    for i in sorted(timeish):
        seen[base[i]] = seen.get(base[i], 0) + 1
        numbered.append(base[i] if seen[base[i]] == 1 else f"{base[i]}_{seen[base[i]]}")
    time_names = iter(numbered)
    names = [next(time_names) if i in timeish else next(chan_names) for i in range(len(base))]
    header_units = [split_unit(h)[1] for h in header_fields]
    # Delsys EMGworks states each sensor's unit in its preamble line, not in the header:
    # ``Label: EMG 1 Sampling frequency: 1925.93 Number of points: ... Unit: Volts Domain Unit: s``.
    stated_units = _label_units(lines[:pre_end])
    for i, b in enumerate(base):
        if header_units[i] is None and b in stated_units:
            header_units[i] = stated_units[b]

    # Which columns are time columns?
    if time_column is False:
        time_idx: list[int] = []
        scales: dict[int, float] = {}
    elif isinstance(time_column, str):
        matches = [i for i, h in enumerate(header_fields) if h == time_column or names[i] == time_column]
        if not matches:
            raise DataError(f"no column named {time_column!r}; columns are {header_fields}", where)
        time_idx = matches[:1]
        scales = {time_idx[0]: _is_time(header_fields[time_idx[0]], where)[1]}
    else:
        flags = [_is_time(h, where) for h in header_fields]
        time_idx = [i for i, (is_t, _) in enumerate(flags) if is_t]
        scales = {i: flags[i][1] for i in time_idx}
    if time_unit is not None:
        for i in time_idx:
            if split_unit(header_fields[i])[1] is None and names[i].strip().lower() not in _NAME_SCALES:
                scales[i] = _TIME_UNITS[str(time_unit).strip().lower()]
    index_idx = [i for i in range(len(header_fields)) if i not in time_idx
                 and names[i].strip().lower() in _INDEX_NAMES and _is_counter(table.iloc[:, i])]
    if index_idx:
        log.info("%s: column(s) %s hold sample/frame numbers and are not read as channels", where,
                 [names[i] for i in index_idx])
    channel_idx = [i for i in range(len(header_fields)) if i not in time_idx and i not in index_idx]
    if not channel_idx:
        raise DataError("table has a time column but no channel columns", where)

    fs_header = _fs_from_preamble(preamble)
    header_meta = _preamble(preamble)

    # Assign each channel to the time column on its left (first one for leading channels).
    segments: list[tuple[int | None, list[int]]] = []
    if not time_idx:
        segments.append((None, channel_idx))
    else:
        for k, t in enumerate(time_idx):
            stop = time_idx[k + 1] if k + 1 < len(time_idx) else len(header_fields)
            chans = [c for c in channel_idx if t < c < stop]
            if k == 0:
                chans = [c for c in channel_idx if c < t] + chans
            if chans:
                segments.append((t, chans))

    values = table.to_numpy(dtype=np.float64)
    # the markers' times, from the first time column (rows keep them whatever --bad-rows drops), else row / fs
    marker_t = (values[:, time_idx[0]] * scales.get(time_idx[0], 1.0)) if time_idx and markers else None
    pieces: list[tuple[float, float, list[int], np.ndarray]] = []
    n_changed = 0
    for t_col, chans in segments:
        block = values[:, chans]
        if t_col is not None:
            t = values[:, t_col] * scales.get(t_col, 1.0)
            # Shorter (lower-rate) sensors are padded with empty cells at the bottom.
            last = len(t) - int(np.argmax(np.isfinite(t[::-1]))) if np.isfinite(t).any() else 0
            t, block = t[:last], block[:last]
            if bad_rows != "error" or not np.isfinite(t).all():
                fixed, n = repair_rows(np.column_stack([t, block]), bad_rows, where, time_col=0)
                t, block, n_changed = fixed[:, 0], fixed[:, 1:], n_changed + n
            if fs is not None and t.size < 2:  # one row: the rate the user gave is the only one there is
                seg_fs, t0 = fs, float(t[0]) if t.size else 0.0
            else:
                seg_fs, t0 = fs_from_times(t, where, column=header_fields[t_col])
            if (fs is None and time_unit is None and seg_fs < _SLOW_UNITLESS_TIME_HZ
                    and split_unit(header_fields[t_col])[1] is None and names[t_col].strip().lower() not in _NAME_SCALES):
                raise DataError(
                    f"time column {header_fields[t_col]!r} states no unit and steps by {1.0 / seg_fs:g}, "
                    f"{seg_fs:g} Hz if in seconds; if the times are in ms (then {seg_fs * 1000:g} Hz) pass "
                    "--hint time_unit=ms, if they are seconds pass --hint time_unit=s", where)
            if fs is not None:
                seg_fs = fs
            elif fs_header is not None and len(time_idx) == 1 and abs(seg_fs - fs_header) > 0.01 * fs_header:
                # Two statements of the rate that disagree: one of them is wrong, and guessing which
                # would silently stretch every time axis (multi-rate exports state several, so skip those).
                raise DataError(
                    f"the header states a sampling rate of {fs_header:g} Hz but the time column "
                    f"{header_fields[t_col]!r} steps at {seg_fs:g} Hz; correct the file or give the rate "
                    "explicitly, e.g. --fs 2000 (Python: fs=2000)", where)
        else:
            seg_fs = fs if fs is not None else fs_header
            if seg_fs is None:
                raise DataError(
                    "no time column and no sampling rate in the file header; pass the rate, e.g. --fs 2000 "
                    f"(Python: fs=2000){_steady_column_hint(block, [header_fields[c] for c in chans])}", where
                )
            seg_fs, t0 = check_fs(seg_fs, where), 0.0
        block, n = repair_rows(block, bad_rows, where)
        n_changed += n
        pieces.append((seg_fs, t0, chans, block))

    if ch_names is not None and len(list(ch_names)) != len(channel_idx):
        raise DataError(
            f"{len(list(ch_names))} channel name(s) given for {len(channel_idx)} channel column(s) {[names[c] for c in channel_idx]}",
            where,
        )
    rename = dict(zip(channel_idx, ch_names)) if ch_names is not None else {c: names[c] for c in channel_idx}
    if units is None:
        unit_of = {c: header_units[c] or "a.u." for c in channel_idx}
    elif isinstance(units, str):
        unit_of = {c: units for c in channel_idx}
    else:
        units = list(units)
        if len(units) != len(channel_idx):
            raise DataError(f"{len(units)} unit(s) given for {len(channel_idx)} channel(s)", where)
        unit_of = dict(zip(channel_idx, units))

    # Merge segments that share rate, length and start into one Recording.
    groups: list[tuple[float, float, list[int], np.ndarray]] = []
    for seg_fs, t0, chans, block in pieces:
        for g in groups:
            if g[0] == seg_fs and g[1] == t0 and g[3].shape[0] == block.shape[0]:
                g[2].extend(chans)
                g[3] = np.hstack([g[3], block])  # type: ignore[index]
                break
        else:
            groups.append([seg_fs, t0, list(chans), block])  # type: ignore[arg-type]

    meta: dict = {"source": where}
    if n_changed:
        meta["bad_rows_changed"] = n_changed
        log.warning("%s: %s %d row(s) with missing or non-finite values", where,
                    "dropped" if bad_rows == "drop" else "interpolated", n_changed)
    if header_meta:
        meta["header"] = header_meta
        scaling = [k for k in header_meta if SCALING_KEY.search(k)]
        if scaling and any(unit_of[c] == "a.u." for c in channel_idx):
            # ADC counts with the gain to convert them stated above the table: read as they are, never scaled
            log.warning("%s: the header states %s but the samples are read as they are stored (a.u.): convert the "
                        "counts to volts yourself (value x range / 2^bits / gain), or give their unit (--hint "
                        "units=uV) if they already are in one", where,
                        ", ".join(f"{k}: {header_meta[k]}" for k in scaling[:3]))
    recs = []
    for seg_fs, t0, chans, block in groups:
        data = block.T
        u = [unit_of[c] for c in chans]
        if to_volt:
            data, u = to_volts(data, u)
        rec = make_recording(data, seg_fs, [rename[c] for c in chans], where, units=u, t0=t0, meta=dict(meta))
        recs.append(_with_markers(rec, markers, marker_t, where) if markers else rec)
    if len(recs) == 1:
        return recs[0]
    streams: dict[str, Recording] = {}
    for r in recs:
        name = f"{r.fs:g}Hz"
        while name in streams:
            name += "_"
        streams[name] = r
    return Trial(streams=streams, meta=dict(meta))
