"""EDF / EDF+ / BDF reading and writing (via edfio).

Signals in µV or mV are scaled to V (the containers store EMG in volts).
EDF+ annotations become events (``kind`` = annotation text, plus ``duration`` in s).
Signals at several sampling rates come back as a :class:`~myoflow.containers.Trial`
with one stream per rate (``"<fs>Hz"``).
"""
from __future__ import annotations

import logging
import os
import re
import warnings
from fractions import Fraction
from typing import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .._atomic import atomic_path
from ..containers import Recording, Trial
from ..errors import DataError, require
from ._common import check_file, make_recording, to_volts, unique_names

__all__ = ["read_edf", "write_edf"]

log = logging.getLogger(__name__)


def read_edf(path: str | os.PathLike, *, to_volt: bool = True,
             channels: Sequence[str] | str | None = None) -> Recording | Trial:
    """Read an EDF, EDF+ or BDF file.

    Parameters
    ----------
    path : path-like
        ``.edf`` or ``.bdf`` file.
    to_volt : bool
        Scale channels whose physical dimension is mV/µV/nV to V.
    channels : sequence of str, optional
        Keep only the signals with these labels (``--hint channels=EMG1,EMG2``), e.g. the EMG of a file that
        also holds an accelerometer at another rate, so that it reads as one Recording.

    Returns
    -------
    Recording
        When all signals share one sampling rate; otherwise a Trial with one stream per rate.
    """
    edfio = require("edfio", "edf", "reading EDF/BDF files")

    p = check_file(path)
    where = str(p)
    reader = edfio.read_bdf if p.suffix.lower() == ".bdf" else edfio.read_edf
    kind = p.suffix.upper().lstrip(".")
    duration_text = _check_record_duration(p, kind, where)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            edf = reader(p)
            signals = list(edf.signals)
            annotations = list(edf.annotations)
            for s in signals:
                _check_calibration(s, where)
            arrays = [np.asarray(s.data, dtype=np.float64) for s in signals]
            if edf.data_record_duration <= 0 and any(a.size for a in arrays):
                raise DataError(f"header gives a data record duration of {edf.data_record_duration:g} s "
                                "(must be > 0)", where)
    except DataError:
        raise
    except Exception as exc:  # edfio raises many types on damaged headers (ValueError, UnboundLocalError, ...)
        detail = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise DataError(f"cannot read as {kind} (truncated or corrupt file?): {detail}", where) from None
    for w in caught:
        # edfio warns and silently drops data when the file is shorter than its header says.
        if "truncated" in str(w.message).lower() or "header indicates" in str(w.message).lower():
            raise DataError(f"{kind} file is truncated: {w.message}", where)
        log.warning("%s: %s", where, w.message)
    if not signals:
        raise DataError("file has no data signals", where)
    if channels is not None:
        wanted = [channels] if isinstance(channels, str) else [str(c) for c in channels]
        labels = [s.label.strip() for s in signals]
        missing = [c for c in wanted if c not in labels]
        if missing:
            raise DataError(f"no signal(s) {missing}; the file has {labels}", where)
        keep = [labels.index(c) for c in wanted]
        signals, arrays = [signals[i] for i in keep], [arrays[i] for i in keep]
    if not edf.is_continuous:
        raise DataError("EDF+D (discontinuous) recordings are not supported: samples would be joined across gaps", where)
    # BioSemi's 'Status' (and other trigger) channels hold event codes, not a signal: read as a channel they
    # became an EMG channel of a grid (or, with --split-channels, a muscle class). Their codes become events.
    trig_events: list[tuple[float, int]] = []
    if channels is None:
        trig = [i for i, s in enumerate(signals) if _is_trigger(s)]
        if trig and len(trig) < len(signals):
            for i in trig:
                fs_t = _exact_rate(signals[i], duration_text)
                trig_events += [(k / fs_t, c) for k, c in _trigger_onsets(arrays[i])]
            log.info("%s: trigger channel(s) %s read as events, not as signals", where,
                     [signals[i].label.strip() for i in trig])
            signals = [sg for i, sg in enumerate(signals) if i not in trig]
            arrays = [a for i, a in enumerate(arrays) if i not in trig]

    by_rate: dict[float, list[int]] = {}
    for i, s in enumerate(signals):
        by_rate.setdefault(_exact_rate(s, duration_text), []).append(i)
    names = unique_names([s.label.strip() or f"ch{i + 1}" for i, s in enumerate(signals)], where)

    subject = _patient_code(edf, p)
    streams: dict[str, Recording] = {}
    for fs, idx in by_rate.items():
        lengths = {arrays[i].size for i in idx}
        if len(lengths) != 1:
            raise DataError(f"signals at {fs:g} Hz have different lengths {sorted(lengths)}", where)
        data = np.vstack([arrays[i] for i in idx])
        units = [signals[i].physical_dimension.strip() or "a.u." for i in idx]
        if to_volt:
            data, units = to_volts(data, units)
        n = data.shape[1]
        events = None
        if annotations:
            onset = np.array([a.onset for a in annotations], dtype=float)
            keep = (onset >= 0) & (np.round(onset * fs) < max(n, 1))
            events = pd.DataFrame({
                "sample": np.round(onset[keep] * fs).astype("int64"),
                "kind": [annotations[i].text for i in np.flatnonzero(keep)],
                "duration": [np.nan if annotations[i].duration is None else float(annotations[i].duration)
                             for i in np.flatnonzero(keep)],
            })
        if trig_events:
            tr = pd.DataFrame({"sample": [int(round(t * fs)) for t, _ in trig_events], "kind": "trigger",
                               "code": [int(c) for _, c in trig_events]})
            tr = tr[tr["sample"] < max(n, 1)]
            events = tr if events is None else pd.concat([events, tr], ignore_index=True).sort_values(
                "sample", kind="stable", ignore_index=True)
        streams[f"{fs:g}Hz"] = make_recording(
            data, fs, [names[i] for i in idx], where, units=units, events=events,
            meta={"source": where, "subject": subject},
        )
    if len(streams) == 1:
        return next(iter(streams.values()))
    log.info("%s: %d sampling rates, returning a Trial", where, len(streams))
    return Trial(streams=streams, meta={"source": where, "subject": subject})


_TRIGGER_LABELS = {"status", "trigger", "triggers", "trig"}


def _is_trigger(signal) -> bool:
    """A trigger/status channel: BioSemi's ``Status`` (dimension ``Boolean``) or a channel labelled as one."""
    return (signal.label.strip().lower() in _TRIGGER_LABELS
            or signal.physical_dimension.strip().lower() == "boolean")


def _trigger_onsets(x: np.ndarray) -> list[tuple[int, int]]:
    """(sample, code) where the trigger code (BioSemi: the low 16 bits) changes to a non-zero value."""
    code = np.round(np.nan_to_num(np.asarray(x, dtype=np.float64))).astype(np.int64) & 0xFFFF
    if code.size == 0:
        return []
    change = np.flatnonzero(np.diff(code) != 0) + 1
    starts = ([0] if code[0] != 0 else []) + [int(k) for k in change if code[k] != 0]
    return [(k, int(code[k])) for k in starts]


def _exact_rate(signal, duration_text: str | None) -> float:
    """Samples per record / record duration, divided exactly (as fractions of the header's decimal text).

    edfio divides the floats, so 5267 samples in a 1.31675 s record read as 3999.9999999999995 Hz, and a
    folder mixing that file with a 4000 Hz one was refused for "4000 Hz differs from 4000 Hz".
    """
    try:
        d = Fraction(duration_text) if duration_text else Fraction(0)
    except (ValueError, ZeroDivisionError):
        d = Fraction(0)
    if d <= 0:
        return float(signal.sampling_frequency)
    return float(Fraction(int(signal.samples_per_data_record)) / d)


def _check_record_duration(p: Path, kind: str, where: str) -> str | None:
    """Header bytes 244-252 hold the data-record duration; edfio fails obscurely when it is 0.

    Returns the duration's header text (for :func:`_exact_rate`), or None when it is not a number.
    """
    with open(p, "rb") as fh:
        head = fh.read(256)
    if len(head) < 256:
        raise DataError(f"file is too short for an {kind} header ({len(head)} of 256 bytes; truncated?)", where)
    try:
        duration = float(head[244:252].decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        return None  # edfio names the broken field
    if not np.isfinite(duration) or duration < 0 or (duration == 0 and head[236:244].strip() not in (b"0", b"")):
        raise DataError(f"header gives a data record duration of {head[244:252].decode().strip()!r} s "
                        "(must be a positive number)", where)
    return head[244:252].decode("ascii").strip()


def _check_calibration(signal, where: str) -> None:
    """Refuse a signal whose header cannot turn digital counts into physical units.

    edfio then returns the raw counts with only a warning; they would be labelled
    with the header's unit (e.g. V) and be wrong by orders of magnitude.
    """
    if signal.label.strip() == "EDF Annotations" or signal.label.strip() == "BDF Annotations":
        return
    dmin, dmax = float(signal.digital_min), float(signal.digital_max)
    pmin, pmax = float(signal.physical_min), float(signal.physical_max)
    name = signal.label.strip() or "?"
    if dmin == dmax:
        raise DataError(f"signal {name!r}: digital minimum equals digital maximum ({dmin:g}), so samples cannot "
                        "be converted to physical units", where)
    if pmin == pmax:
        raise DataError(f"signal {name!r}: physical minimum equals physical maximum ({pmin:g}), so samples cannot "
                        "be converted to physical units", where)
    if not all(np.isfinite([dmin, dmax, pmin, pmax])):
        raise DataError(f"signal {name!r}: non-finite digital/physical range in the header", where)


_EDF_PLUS = (b"EDF+C", b"EDF+D", b"BDF+C", b"BDF+D")
_BIRTHDATE = re.compile(r"\d{2}-[A-Z]{3}-\d{4}")


def _patient_code(edf, path: Path) -> str | None:
    """The patient code (``meta["subject"]``) of the header's patient field, when the field has one.

    Only EDF+/BDF+ split that field into ``code sex birthdate name`` subfields; in a plain EDF/BDF it is free
    text ("Subject 3 left leg", "Jane Doe"), whose first word edfio still returned as the code, so recordings
    of different people could all read as subject "Subject". A plain file's field counts as subfields only
    when it has their shape (what pyEDFlib and EDFbrowser write there); otherwise there is no code.
    """
    try:
        code = edf.patient.code
    except Exception:  # non-standard patient field: nothing usable
        return None
    if code in ("", "X"):
        return None
    with open(path, "rb") as fh:
        head = fh.read(236)
    if head[192:197] not in _EDF_PLUS:
        tok = head[8:88].decode("latin-1").split()
        if not (len(tok) >= 4 and tok[1] in ("M", "F", "X") and (tok[2] == "X" or _BIRTHDATE.fullmatch(tok[2]))):
            log.info("%s: the patient field %r of this plain EDF/BDF is free text, not a patient code; no "
                     "subject is taken from it", path, " ".join(tok))
            return None
    return code


def _record_duration(n: int, fs: float, path: Path, bdf: bool) -> float:
    """A data-record duration (s) that tiles ``n`` samples exactly and fits the header's 8 characters.

    EDF/BDF store only whole records, and the rate is read back as samples per record / duration, so the
    duration must be exact: records as close to 1 s as possible (1 s when they tile the signal).
    """
    from fractions import Fraction

    def exact(d: int) -> float | None:  # d samples' duration, when 8 characters write it exactly
        text = f"{d / fs:.8g}"
        return float(text) if len(text) <= 8 and Fraction(text) == Fraction(d) / Fraction(fs) else None

    divisors = {d for k in range(1, int(np.sqrt(n)) + 1) if n % k == 0 for d in (k, n // k)}
    for d in sorted(divisors, key=lambda d: (abs(d - fs), -d)):
        if exact(d) is not None:
            return exact(d)
    unit = next((m for m in range(1, 100001) if exact(m) is not None), None)
    crop = f"crop it to {n - n % unit} samples (a multiple of {unit}) or " if unit and n >= unit else ""
    raise DataError(f"cannot write {'BDF' if bdf else 'EDF'}: it stores whole data records of an 8-character "
                    f"duration, and {n} samples at {fs:g} Hz cannot be tiled so; {crop}save it as .h5 instead",
                    str(path))


def write_edf(rec: Recording, path: str | os.PathLike) -> Path:
    """Write a Recording to EDF+ (``.edf``, 16-bit) or BDF+ (``.bdf``, 24-bit), atomically.

    Each channel's physical range is its data range, so the quantisation step
    is ``(max - min) / 65535`` (EDF) or ``/ 16777215`` (BDF). Events become
    annotations (``kind`` as text; other event columns are not stored).
    Channel labels must fit EDF's 16 ASCII characters, units its 8.
    """
    edfio = require("edfio", "edf", "writing EDF/BDF files")

    if not isinstance(rec, Recording):
        raise DataError(f"write_edf needs a Recording, got {type(rec).__name__}", str(path))
    path = Path(path)
    bdf = path.suffix.lower() == ".bdf"
    Signal, File = (edfio.BdfSignal, edfio.Bdf) if bdf else (edfio.EdfSignal, edfio.Edf)
    record = _record_duration(rec.n_samples, rec.fs, path, bdf)
    try:
        signals = []
        for i, name in enumerate(rec.ch_names):
            x = rec.data[i].astype(np.float64)
            lo, hi = float(x.min()), float(x.max())
            if lo == hi:  # EDF needs a non-empty physical range
                lo, hi = lo - 1.0, hi + 1.0
            signals.append(Signal(x, rec.fs, label=name, physical_dimension=rec.units[i], physical_range=(lo, hi)))
        annotations = [
            edfio.EdfAnnotation(float(s) / rec.fs, None, str(k))
            for s, k in zip(rec.events["sample"], rec.events["kind"])
        ]
        edf = File(signals, data_record_duration=record, annotations=annotations or None)
        with atomic_path(path) as tmp:
            edf.write(tmp)
    except (ValueError, TypeError) as exc:
        raise DataError(f"cannot write {'BDF' if bdf else 'EDF'}: {exc}", str(path)) from None
    return path
