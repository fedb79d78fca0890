"""Helpers shared by the readers: file checks, sampling rate from a time column, units."""
from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..containers import Recording
from ..errors import DataError

__all__ = [
    "check_file", "missing_reason", "fs_from_times", "check_fs", "repair_rows", "BAD_ROW_POLICIES", "to_volts",
    "split_unit", "make_recording", "unique_names", "side_code", "muscle_code", "label_spellings",
]

log = logging.getLogger(__name__)

# Multipliers to volts: the containers store EMG in V (see myoflow.containers).
_VOLT_SCALE = {"v": 1.0, "volt": 1.0, "volts": 1.0, "mv": 1e-3, "uv": 1e-6, "µv": 1e-6, "μv": 1e-6, "nv": 1e-9,
               # spelled out, as some exports write them (the prefixed volt kept unscaled read the EMG 10**6 too big)
               "millivolt": 1e-3, "millivolts": 1e-3, "microvolt": 1e-6, "microvolts": 1e-6, "nanovolt": 1e-9,
               "nanovolts": 1e-9, "mvolt": 1e-3, "uvolt": 1e-6, "µvolt": 1e-6, "μvolt": 1e-6}
#: Units a reading hint may declare: the voltages scaled to V, then those kept as given (unscaled signals,
#: angles, forces, moments, lengths, normalised values); anything else (a typo, a furlong) would be kept
#: silently and the EMG read unscaled.
HINT_UNITS = ("V", "mV", "uV", "µV", "nV", "a.u.", "adc", "counts", "1", "%", "%MVC", "deg", "rad", "N", "N·m",
              "Nm", "N*m", "m", "mm", "cm", "kg", "kgf", "g", "s")
_HINT_UNIT_KEYS = {u.lower().replace(" ", "") for u in HINT_UNITS} | set(_VOLT_SCALE) | {"degree", "degrees",
                                                                                         "radian", "radians"}


def check_hint_units(units: Any, where: str) -> None:
    """Raise DataError if a ``units`` hint (one unit, a comma list, or a list) names a unit myoflow does not know."""
    items = [units] if not isinstance(units, (list, tuple)) else list(units)
    items = [u.strip() for x in items for u in (str(x).split(",") if isinstance(x, str) else [str(x)])]
    bad = [u for u in items if u.lower().replace(" ", "") not in _HINT_UNIT_KEYS]
    if bad:
        raise DataError(f"unknown unit(s) {bad} in the 'units' hint; accepted: {', '.join(HINT_UNITS)}", where)


# A sampling interval this far (relative) from the median means dropped samples or spliced files.
_MAX_JITTER = 0.25


def check_file(path: str | os.PathLike) -> Path:
    """Return ``path`` as a Path if it is an existing, non-empty regular file, else raise DataError."""
    p = Path(path)
    if not p.exists():
        raise DataError(missing_reason(p), str(p))
    if p.is_dir():
        raise DataError("expected a file, got a folder", str(p))
    if p.stat().st_size == 0:
        raise DataError("file is empty (0 bytes)", str(p))
    return p


def missing_reason(p: Path) -> str:
    """Why ``p`` cannot be opened although asked for: not there, a dangling link, or a link loop."""
    if os.path.lexists(p):
        try:
            p.resolve(strict=True)
        except RuntimeError:
            return "symbolic link loop"
        except OSError as exc:
            if exc.errno == 40:  # ELOOP
                return "symbolic link loop"
            return "symbolic link points to a missing file"
        return "cannot access file"
    return "file not found"


def check_fs(fs: Any, where: str, what: str = "") -> float:
    """Validate a sampling rate given by the user or found in a file (``what`` names its origin)."""
    prefix = f"{what}: " if what else ""
    try:
        value = float(np.asarray(fs).squeeze())
    except (TypeError, ValueError):
        raise DataError(f"{prefix}sampling rate must be a number in Hz, got {fs!r}", where) from None
    if not np.isfinite(value) or value <= 0:
        raise DataError(f"{prefix}sampling rate must be > 0 Hz, got {value:g}", where)
    if not FS_RANGE[0] <= value <= FS_RANGE[1]:
        # 1e-300 Hz or 1e308 Hz converted without a word, into durations of 1e303 s or of nothing
        raise DataError(f"{prefix}sampling rate {value:g} Hz is outside {FS_RANGE[0]:g} Hz - {FS_RANGE[1]:g} Hz, "
                        "beyond any biosignal's (a period given as the rate, or a rate in the wrong unit?)", where)
    return value


#: Sampling rates a recording can have (Hz): far beyond sEMG, motion capture and slow covariate streams alike.
FS_RANGE = (1e-3, 1e6)


def fs_from_times(t: np.ndarray, where: str, column: str = "time") -> tuple[float, float]:
    """Sampling rate and start time from a column of sample times in seconds.

    Parameters
    ----------
    t : array, shape (n_samples,)
        Sample times, s. Must be finite and strictly increasing with a
        near-constant step (within 25 % of the median step, so dropped
        samples or spliced files are caught while printing round-off is not).
    where : str
        File name for error messages.

    Returns
    -------
    fs : float
        ``(n - 1) / (t[-1] - t[0])`` in Hz, snapped to an integer when within 10 ppm.
    t0 : float
        ``t[0]`` in s.
    """
    t = np.asarray(t, dtype=float)
    if t.size < 2:
        raise DataError(f"need at least 2 samples in the {column!r} column to find the sampling rate (or pass --fs RATE)", where)
    bad = ~np.isfinite(t)
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"{column!r} column has a missing or non-finite value at row {i}", where)
    dt = np.diff(t)
    # No rate hint gets past these: the samples would be placed on an even clock that is not theirs (a gap
    # joined, a repeat kept), so the message says how to fix the file instead.
    if (dt <= 0).any():
        i = int(np.argmax(dt <= 0))
        what = ("a repeated time stamp (a sample written twice? remove the repeated row)" if dt[i] == 0 else
                "time goes back (files spliced, or a clock reset? split the file there)")
        raise DataError(
            f"{column!r} column is not strictly increasing: row {i + 1} has t={t[i + 1]:g} s after t={t[i]:g} s: "
            f"{what}", where
        )
    step = float(np.median(dt))
    worst = float(np.max(np.abs(dt - step)) / step)
    if worst > _MAX_JITTER:
        i = int(np.argmax(np.abs(dt - step)))
        lost = int(round(dt[i] / step)) - 1
        what = (f"about {lost} sample(s) missing (dropped by the acquisition?)" if lost >= 1 else
                "irregular sampling")
        raise DataError(
            f"{column!r} column is not evenly sampled: step {dt[i]:g} s at row {i + 1} vs median {step:g} s, "
            f"{what}; myoflow does not join samples across a gap: split the file there, or resample it onto "
            "an even time grid first",
            where,
        )
    fs = (t.size - 1) / (t[-1] - t[0])
    if abs(fs - round(fs)) <= 1e-5 * fs:
        fs = float(round(fs))
    return float(fs), float(t[0])


def side_code(side: Any) -> str:
    """A side label in one spelling: ``'l'``/``'left'`` (any case) -> ``'L'``, ``'r'``/``'right'`` -> ``'R'``;
    anything else as given."""
    s = str(side).strip().lower()
    if s in ("l", "left"):
        return "L"
    if s in ("r", "right"):
        return "R"
    return str(side)


def muscle_code(muscle: Any) -> str:
    """A muscle label in one spelling where myoflow knows its aliases (``'biceps'``, ``'bb'`` -> ``'BB'``;
    ``'tibialis_anterior'``, ``'ta'`` -> ``'TA'``); anything else as given (``'vl'`` stays ``'vl'``)."""
    m = str(muscle).strip().lower().replace(" ", "_")
    if m in ("bb", "biceps", "biceps_brachii"):
        return "BB"
    if m in ("ta", "tibialis", "tibialis_anterior"):
        return "TA"
    return str(muscle)


def label_spellings(labels: Sequence[tuple[str, Any, str]]) -> list[tuple[str, dict[str, str]]]:
    """Muscle or side labels that differ only in case or spacing after their known aliases are merged.

    Parameters
    ----------
    labels : sequence of (key, value, where)
        ``key`` is ``'muscle'`` or ``'side'``, ``value`` the label as a file gives it, ``where`` the file
        (or item) it comes from; a ``None`` value is skipped.

    Returns
    -------
    list of (key, {spelling: first where})
        One entry per label written two ways (``'VL'`` in one file, ``'vl '`` in another): muscle-id would
        train them as two classes, so convert and run both refuse them. ``'l'`` beside ``'L'`` or ``'bb'``
        beside ``'BB'`` are one class (:func:`side_code`, :func:`muscle_code`) and are not listed.
    """
    code = {"muscle": muscle_code, "side": side_code}
    seen: dict[tuple[str, str], dict[str, str]] = {}
    for key, value, where in labels:
        if value is None:
            continue
        name = str(code[key](value))
        seen.setdefault((key, " ".join(name.lower().split())), {}).setdefault(name, where)
    return [(key, sp) for (key, _), sp in seen.items() if len(sp) > 1]


#: Words a lab writes for a side (lower case) -> ``'l'``/``'r'``: bracketed label suffixes that name a side,
#: not a unit (``'TA (L)'``, ``'Vastus Lateralis [R]'``), and gait-emg's side markers in EMG channel names.
SIDE_WORDS = {"l": "l", "lt": "l", "left": "l", "r": "r", "rt": "r", "right": "r"}


def split_unit(label: str) -> tuple[str, str | None]:
    """Split ``'Biceps EMG [mV]'`` or ``'force (N)'`` into ``('Biceps EMG', 'mV')``.

    A side in brackets (``'TA (L)'``, ``'TA (R)'``) stays in the name: read as units L and R, a both-legs
    export's two TA channels became ``TA`` and ``TA_2``, and gait-emg took the left leg's for the right.
    """
    m = re.match(r"^(.*?)\s*[\[(]\s*([^\])]+?)\s*[\])]\s*$", str(label))
    if m and m.group(1) and m.group(2).strip().lower() not in SIDE_WORDS:
        return m.group(1), m.group(2)
    return str(label).strip(), None


def to_volts(data: np.ndarray, units: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Scale rows given in mV/µV/nV to V (containers store EMG in volts); other units are kept."""
    data = np.asarray(data, dtype=np.float64)
    out_units = []
    scaled = data.copy()
    for i, u in enumerate(units):
        key = str(u).strip().lower().replace(" ", "")
        if key in _VOLT_SCALE:
            scaled[i] *= _VOLT_SCALE[key]
            out_units.append("V")
        else:
            out_units.append(str(u))
    return scaled, out_units


def unique_names(names: Sequence[str], where: str | None = None) -> list[str]:
    """Make channel names unique by suffixing repeats with ``_2``, ``_3``, ...

    Files that repeat a label (two sensors both called ``EMG``) are still readable, but the rename is
    logged: a repeated name is as likely a labelling mistake (``RF`` typed for ``BF``) as two sensors.
    """
    seen: dict[str, int] = {}
    out = []
    for n in names:
        n = str(n)
        if n in seen:
            seen[n] += 1
            out.append(f"{n}_{seen[n]}")
        else:
            seen[n] = 1
            out.append(n)
    renamed = [o for n, o in zip(names, out) if str(n) != o]
    if renamed:
        log.warning("%s: channel name(s) %s repeated; the repeats are read as %s", where or "recording",
                    ", ".join(repr(n) for n, k in seen.items() if k > 1), ", ".join(map(repr, renamed)))
    return out


_F32_MAX = float(np.finfo(np.float32).max)


def _check_float32_range(data: np.ndarray, ch_names: Sequence[str], where: str) -> None:
    """Containers hold float32: a finite value beyond its range would silently become inf."""
    with np.errstate(invalid="ignore"):
        big = np.isfinite(data) & (np.abs(data) > _F32_MAX)
    if big.any():
        ch, i = (int(v[0]) for v in np.nonzero(big))
        name = ch_names[ch] if ch < len(ch_names) else f"ch{ch + 1}"
        raise DataError(f"value {data[ch, i]:g} in channel {name!r} at sample {i} is outside the range of "
                        f"float32 samples (±{_F32_MAX:.3g})", where)


def make_recording(data: np.ndarray, fs: float, ch_names: Sequence[str] | None, where: str, **kwargs: Any) -> Recording:
    """Build a Recording from reader output; a bad ``ch_names`` hint or bad data becomes a DataError naming the file."""
    data = np.asarray(data)
    if data.ndim == 1:
        data = data[np.newaxis]
    if ch_names is None:
        ch_names = [f"ch{i + 1}" for i in range(data.shape[0])]
    elif isinstance(ch_names, str):
        ch_names = [ch_names]
    if data.dtype.kind in "fiu" and data.size:
        _check_float32_range(data, ch_names, where)
    meta = dict(kwargs.pop("meta", {}) or {})
    meta.setdefault("source", where)
    try:
        return Recording(data=data, fs=fs, ch_names=list(ch_names), meta=meta, **kwargs)
    except DataError as exc:
        msg = str(exc)
        prefix = f"{where}: "
        raise DataError(msg[len(prefix):] if msg.startswith(prefix) else msg, where) from None


#: A header field or manifest column naming how ADC counts convert to volts (never applied: counts stay a.u.).
SCALING_KEY = re.compile(r"\b(gain|resolution|scale|scaling|conversion|lsb|adc)\b", re.IGNORECASE)

#: What a reader does with rows holding missing, non-numeric or non-finite values.
BAD_ROW_POLICIES = ("error", "drop", "interpolate")


def _longest_run(mask: np.ndarray) -> tuple[int, int]:
    """Length and start index of the longest run of True in a 1-D boolean array (0, 0 if none)."""
    if not mask.any():
        return 0, 0
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    k = int(np.argmax(stops - starts))
    return int(stops[k] - starts[k]), int(starts[k])


#: Longest run of consecutive missing samples in one column that ``interpolate`` fills: a dropped
#: packet of a wireless sensor (tens of samples). A longer run is a missing stretch of signal, and a
#: straight line across it would be invented data.
MAX_INTERPOLATED_RUN = 32


def repair_rows(
    values: np.ndarray, policy: str, where: str, *, time_col: int | None = None,
) -> tuple[np.ndarray, int]:
    """Drop or interpolate table rows that hold non-finite values.

    Parameters
    ----------
    values : array, shape (n_rows, n_columns)
        The numeric table (non-numeric cells already coerced to NaN).
    policy : {"error", "drop", "interpolate"}
        ``error`` raises naming the first bad row; ``drop`` removes the rows
        (the signal gets shorter); ``interpolate`` fills each bad cell linearly
        from its column's neighbours (timing is kept), and refuses a run of more
        than :data:`MAX_INTERPOLATED_RUN` consecutive bad cells in one column.
    where : str
        File name for messages.
    time_col : int, optional
        Column of sample times: interpolation runs along it.

    Returns
    -------
    values : array
        The repaired table.
    n_changed : int
        Rows dropped or interpolated.
    """
    if policy not in BAD_ROW_POLICIES:
        raise DataError(f"bad_rows must be one of {list(BAD_ROW_POLICIES)}, got {policy!r}", where)
    values = np.asarray(values, dtype=np.float64)
    bad = ~np.isfinite(values).all(axis=1)
    n_bad = int(bad.sum())
    if not n_bad:
        return values, 0
    if policy == "error":
        first = int(np.argmax(bad))
        col = int(np.argmax(~np.isfinite(values[first])))
        what = "the time column" if time_col is not None and col == time_col else f"column {col + 1}"
        raise DataError(
            f"{n_bad} row(s) with missing or non-finite sample(s) (NaN/inf; first at data row {first + 1}, "
            f"{what}); repair them with myoflow convert --bad-rows drop or --bad-rows interpolate (Python: "
            "bad_rows='drop')", where,
        )
    if n_bad == len(values):
        raise DataError("every row has missing or non-finite values", where)
    if policy == "drop":
        return values[~bad], n_bad
    for j in range(values.shape[1]):
        run, start = _longest_run(~np.isfinite(values[:, j]))
        if run > MAX_INTERPOLATED_RUN:
            what = "the time column" if time_col is not None and j == time_col else f"column {j + 1}"
            raise DataError(
                f"{what} misses {run} consecutive samples (data rows {start + 1}-{start + run}); interpolation "
                f"fills gaps of up to {MAX_INTERPOLATED_RUN} rows, a longer one would be invented signal: cut the "
                "file there or convert it with --bad-rows drop", where)
    out = values.copy()
    x = np.arange(len(out), dtype=np.float64)
    if time_col is not None:
        t = out[:, time_col]
        ok = np.isfinite(t)
        out[:, time_col] = np.interp(x, x[ok], t[ok])
        x = out[:, time_col]
    for j in range(out.shape[1]):
        col = out[:, j]
        ok = np.isfinite(col)
        if not ok.any():
            raise DataError(f"column {j + 1} has no finite value to interpolate from", where)
        if not ok.all():
            out[:, j] = np.interp(x, x[ok], col[ok])
    return out, n_bad


#: What :func:`non_emg`'s reasons mean, for a table or a message.
NON_EMG_NOTE = {"flat": "flat channel (dead electrode?)", "digital": "at most 3 values: a trigger or digital line, not EMG"}


def non_emg(x: np.ndarray) -> str | None:
    """Why channel ``x`` (1-D samples) holds no EMG, or None: ``"flat"`` (constant: a dead or unplugged
    electrode) or ``"digital"`` (at most 3 values over 1000+ samples: a trigger, sync or foot-switch line recorded
    beside the EMG; quiet 12-bit EMG takes 7 or more values, elderly-lowerlimb-emg)."""
    x = np.asarray(x)
    if not np.ptp(x) > 0:
        return "flat"
    if x.size >= 1000 and np.unique(x).size <= 3:
        return "digital"
    return None


def dead_stretch(x: np.ndarray, fs: float) -> tuple[int, int] | None:
    """``(first sample, length)`` of the longest stretch over which a varying signal holds one value, when it
    lasts at least 1 s and 5 % of the recording (an electrode that came off or a cable pulled mid-recording,
    exported as zeros or as the last value); None otherwise. A whole constant channel is the flat check's, and a
    channel of a few levels (a trigger or switch line idling between pulses) is no signal that went dead."""
    x = np.asarray(x)
    if x.size < 2 or not np.isfinite(x).all() or np.ptp(x) == 0:
        return None
    change = np.flatnonzero(np.diff(x) != 0) + 1
    starts = np.concatenate([[0], change])
    lengths = np.diff(np.concatenate([starts, [x.size]]))
    k = int(np.argmax(lengths))
    rest = np.delete(x, np.s_[starts[k]:starts[k] + lengths[k]])
    if lengths[k] >= max(fs, 0.05 * x.size) and np.unique(rest[:5000]).size > 20:
        return int(starts[k]), int(lengths[k])
    return None
