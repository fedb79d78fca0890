"""XDF (Lab Streaming Layer recordings) via ``pyxdf`` — extra ``vendor``.

Every regularly sampled numeric stream becomes a Recording (``fs`` = the
stream's nominal rate, ``t0`` = its first time stamp on the LSL clock, channel
labels and units from ``desc/channels``; µV/mV are scaled to V). Irregular
string streams (LSL markers) become events (``kind`` = the marker text) on every
Recording whose time span holds them. One regular stream → a Recording; several
→ a :class:`~myoflow.containers.Trial` keyed by stream name.
"""
from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np
import pandas as pd

from ..containers import Recording, Trial
from ..errors import DataError, require
from ._common import check_file, make_recording, to_volts, unique_names

__all__ = ["read_xdf"]

log = logging.getLogger(__name__)

_LSL_UNITS = {"microvolts": "uV", "millivolts": "mV", "volts": "V"}


class _Collect(logging.Handler):
    """Keeps the one-line text of pyxdf's warnings and errors (without their tracebacks)."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = " ".join(record.getMessage().split())
        if record.exc_info and record.exc_info[1] is not None:
            text += f" ({' '.join(str(record.exc_info[1]).split())})"
        if text not in self.messages:
            self.messages.append(text)


def _first(d: Any, key: str, default: Any = None) -> Any:
    """pyxdf wraps every XML field in a one-element list."""
    v = d.get(key, default) if isinstance(d, dict) else default
    return v[0] if isinstance(v, list) and v else (default if isinstance(v, list) else v)


def _channels(info: dict, n: int) -> tuple[list[str], list[str]]:
    names, units = [], []
    desc = _first(info, "desc") or {}
    chans = _first(desc, "channels") or {}
    entries = chans.get("channel", []) if isinstance(chans, dict) else []
    for i in range(n):
        e = entries[i] if i < len(entries) and isinstance(entries[i], dict) else {}
        names.append(str(_first(e, "label") or f"ch{i + 1}"))
        u = str(_first(e, "unit") or "a.u.")
        units.append(_LSL_UNITS.get(u.lower(), u))
    return unique_names(names), units


def _check_gaps(ts: np.ndarray, fs: float, name: str, where: str) -> None:
    """Warn about samples lost in transmission: steps of the time stamps longer than 5 sample periods."""
    if ts.size < 2:
        return
    step = np.diff(ts)
    gaps = np.flatnonzero(step > max(5.0 / fs, 0.005))
    if gaps.size:
        lost = float(np.sum(step[gaps] - 1.0 / fs))
        log.warning("%s: stream %r has %d gap(s) in its time stamps (%.3f s in all, the first %.3f s after its "
                    "start): samples were lost, the data run on across them and markers are placed by time stamp",
                    where, name, gaps.size, lost, float(ts[gaps[0]] - ts[0]))
        return
    # pyxdf's dejittering fits one line through gaps shorter than its break thresholds (1 s, 500 samples), so
    # a short dropout shows only as a rate that disagrees with the nominal one (device clocks drift ~1e-4)
    span = float(ts[-1] - ts[0])
    effective = (ts.size - 1) / span if span > 0 else fs
    if abs(effective / fs - 1.0) > 0.01:
        log.warning("%s: stream %r holds %d samples over %.3f s of time stamps (%.1f Hz, nominal %g Hz): samples "
                    "were lost or the nominal rate is wrong; markers are placed by time stamp", where, name,
                    ts.size, span, effective, fs)


def _nearest_samples(ts: np.ndarray, times: np.ndarray, fs: float) -> np.ndarray:
    """The sample whose time stamp is nearest each marker time (-1 outside the stream's span).

    Placing markers by the stamps, not by ``t0 + k / fs``, keeps them on their data across gaps and when the
    device clock drifts from the nominal rate.
    """
    if times.size == 0:
        return np.zeros(0, dtype=np.int64)
    i = np.clip(np.searchsorted(ts, times), 1, max(ts.size - 1, 1))
    left = np.clip(i - 1, 0, ts.size - 1)
    right = np.clip(i, 0, ts.size - 1)
    idx = np.where(np.abs(times - ts[left]) <= np.abs(ts[right] - times), left, right)
    outside = (times < ts[0] - 0.5 / fs) | (times > ts[-1] + 0.5 / fs)
    return np.where(outside, -1, idx).astype(np.int64)


def read_xdf(path: str | os.PathLike, streams: list[str] | None = None) -> Recording | Trial:
    """Read an XDF file.

    Parameters
    ----------
    path : path-like
    streams : list of str, optional
        Names of the regular streams to keep (default all).

    Returns
    -------
    Recording or Trial
    """
    pyxdf = require("pyxdf", "vendor", "reading .xdf files")
    p = check_file(path)
    where = str(p)
    # pyxdf logs a full traceback for every damaged chunk and then carries on: keep those records off
    # the user's terminal and say what they were, once, in our own words.
    problems = _Collect()
    xdf_log = logging.getLogger("pyxdf")
    old_propagate = xdf_log.propagate
    xdf_log.addHandler(problems)
    xdf_log.propagate = False
    try:
        data, _header = pyxdf.load_xdf(str(p))
    except Exception as exc:  # pyxdf raises struct/XML/IO errors of many types on corrupt files
        raise DataError(f"cannot read as XDF (truncated or corrupt file?): {exc}".splitlines()[0], where) from None
    finally:
        xdf_log.removeHandler(problems)
        xdf_log.propagate = old_propagate
    if problems.messages and not data:
        raise DataError(f"cannot read as XDF (truncated or corrupt file?): {problems.messages[0]}", where)
    if problems.messages:
        log.warning("%s: pyxdf skipped damaged part(s) of the file: %s", where, "; ".join(problems.messages[:3]))
    regular, markers = [], []
    for s in data:
        info = s["info"]
        fs = float(_first(info, "nominal_srate", 0) or 0)
        fmt = str(_first(info, "channel_format", ""))
        if fs > 0 and fmt != "string":
            regular.append(s)
        elif fmt == "string":
            markers.append(s)
    if streams is not None:
        regular = [s for s in regular if _first(s["info"], "name") in streams]
    if not regular:
        raise DataError("XDF file has no regularly sampled numeric stream" +
                        (f" named {streams}" if streams else ""), where)
    events = []
    for s in markers:
        ts = np.asarray(s["time_stamps"], dtype=float)
        for t, v in zip(ts, s["time_series"]):
            events.append((t, str(v[0] if isinstance(v, (list, np.ndarray)) and len(v) else v)))
    out: dict[str, Recording] = {}
    for s in regular:
        info = s["info"]
        name = str(_first(info, "name") or f"stream{len(out) + 1}")
        name = name if name not in out else f"{name}_{len(out) + 1}"
        x = np.asarray(s["time_series"], dtype=np.float64)
        if x.ndim != 2 or x.shape[0] == 0:
            raise DataError(f"stream {name!r} holds no samples", where)
        ts = np.asarray(s["time_stamps"], dtype=float)
        fs = float(_first(info, "nominal_srate"))
        names, units = _channels(info, x.shape[1])
        arr, units = to_volts(x.T, units)
        t0 = float(ts[0])
        _check_gaps(ts, fs, name, where)
        samples = _nearest_samples(ts, np.array([t for t, _ in events], dtype=float), fs)
        inside = (samples >= 0) & (samples < arr.shape[1]) if len(events) else np.zeros(0, bool)
        ev = pd.DataFrame({"sample": samples[inside], "kind": [k for (_, k), ok in zip(events, inside) if ok]})
        rec = make_recording(arr, fs, names, where, units=units, t0=t0, events=ev,
                             meta={"stream": name, "stream_type": str(_first(info, "type") or "")})
        out[name] = rec
    if len(out) == 1:
        return next(iter(out.values()))
    return Trial(out, meta={"source": where})
