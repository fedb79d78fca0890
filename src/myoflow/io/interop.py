"""Interoperability with MNE-Python, pandas and NWB.

* :func:`to_mne` / :func:`from_mne` — :class:`~myoflow.containers.Recording` ⇄
  :class:`mne.io.Raw` and :class:`~myoflow.containers.Epochs` ⇄ :class:`mne.Epochs`
  (channel type ``emg`` for volt channels, events as annotations / event codes,
  epoch metadata as MNE metadata). Needs the ``mne`` extra.
* :func:`from_dataframe` — a wide table (one column per channel, optional time
  column) → Recording, the inverse of :meth:`Recording.to_dataframe`.
* :func:`to_nwb` / :func:`read_nwb` — NWB 2 files through ``pynwb`` (``nwb`` extra).

myoflow metadata that MNE has no field for (``meta``, units, grid layout,
``t0``) travels as JSON in ``info["description"]`` prefixed by ``myoflow:``, so
a round trip through MNE returns an equal container; an MNE object that never
came from myoflow still converts, with what MNE knows.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from .._atomic import atomic_path
from ..containers import Epochs, Recording
from ..errors import DataError, require

__all__ = ["to_mne", "from_mne", "from_dataframe", "to_nwb", "read_nwb"]

log = logging.getLogger(__name__)

_TAG = "myoflow:"
# MNE channel types whose samples are volts; anything else is exported as "misc".
_VOLT_TYPES = {"emg", "eeg", "eog", "ecg", "seeg", "dbs", "ecog"}


def _mne():
    mne = require("mne", "mne", "MNE interoperability")
    return mne


def _jsonable(obj: Any) -> Any:
    """Meta dicts hold NumPy scalars/arrays and Paths; JSON wants plain types."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    return str(obj)


def _pack(payload: dict[str, Any]) -> str:
    return _TAG + json.dumps(_jsonable(payload), allow_nan=True)


def _unpack(info: Any) -> dict[str, Any]:
    desc = info.get("description") or ""
    if isinstance(desc, str) and desc.startswith(_TAG):
        try:
            return json.loads(desc[len(_TAG):])
        except json.JSONDecodeError:
            log.warning("info['description'] starts with %r but is not valid JSON; ignored", _TAG)
    return {}


def _info(mne: Any, ch_names: Sequence[str], fs: float, units: Sequence[str], payload: dict[str, Any]) -> Any:
    types = ["emg" if u == "V" else "misc" for u in units]
    info = mne.create_info(list(ch_names), float(fs), types)
    info["description"] = _pack(payload)
    return info


def _subject_info(meta: dict[str, Any]) -> dict[str, Any] | None:
    if meta.get("subject") is None:
        return None
    return {"his_id": str(meta["subject"])}


def to_mne(obj: Recording | Epochs) -> Any:
    """Convert a Recording to :class:`mne.io.RawArray` or Epochs to :class:`mne.EpochsArray`.

    Parameters
    ----------
    obj : Recording or Epochs
        Volt channels (``units == "V"``) become MNE type ``emg``, others ``misc``.

    Returns
    -------
    mne.io.RawArray
        For a Recording: data in V, one annotation per event (onset s from the
        first sample, duration 0, description = event ``kind``).
    mne.EpochsArray
        For Epochs: ``tmin`` kept, ``metadata`` as MNE metadata, class labels as
        event codes (``event_id`` maps label → code, in sorted label order);
        regression targets go to the metadata column ``target``.

    Raises
    ------
    MissingExtraError
        When ``mne`` is not installed (``pip install 'myoflow[mne]'``).
    """
    mne = _mne()
    if isinstance(obj, Recording):
        payload = {"kind": "Recording", "meta": obj.meta, "units": list(obj.units), "t0": obj.t0,
                   "layout": obj.layout, "grid_shape": obj.grid_shape, "n_samples": obj.n_samples,
                   "event_columns": [c for c in obj.events.columns if c not in ("sample", "kind")]}
        if payload["event_columns"]:
            payload["events"] = obj.events.to_dict(orient="list")
        info = _info(mne, obj.ch_names, obj.fs, obj.units, payload)
        si = _subject_info(obj.meta)
        if si:
            info["subject_info"] = si
        raw = mne.io.RawArray(obj.data.astype(np.float64), info, verbose="ERROR")
        if len(obj.events):
            raw.set_annotations(mne.Annotations(
                onset=obj.events["sample"].to_numpy() / obj.fs, duration=np.zeros(len(obj.events)),
                description=obj.events["kind"].astype(str).tolist(),
            ))
        return raw
    if isinstance(obj, Epochs):
        md = obj.metadata.copy()
        payload: dict[str, Any] = {"kind": "Epochs", "meta": obj.meta, "target_names": list(obj.target_names)}
        codes = np.ones(len(obj), dtype=int)
        event_id: dict[str, int] | None = None
        if obj.y is not None:
            y = obj.y
            if y.ndim == 1 and not np.issubdtype(y.dtype, np.floating):
                labels = sorted(pd.unique(y).tolist(), key=str)
                event_id = {str(lab): i + 1 for i, lab in enumerate(labels)}
                codes = np.array([event_id[str(v)] for v in y], dtype=int)
                payload["y_dtype"] = str(y.dtype) if y.dtype != object else "object"
                payload["labels"] = labels
            else:
                payload["y_regression"] = True
                payload["y_shape"] = list(y.shape)
                if y.ndim == 1:
                    md["target"] = y
                else:
                    for j in range(y.shape[1]):
                        md[f"target_{j}"] = y[:, j]
        # MNE needs increasing, unique event samples; the event's own sample (if any) rides in metadata.
        events = np.column_stack([np.arange(len(obj)), np.zeros(len(obj), dtype=int), codes]).astype(int)
        info = _info(mne, obj.ch_names, obj.fs, ["V"] * obj.n_channels, payload)
        return mne.EpochsArray(obj.X.astype(np.float64), info, events=events, tmin=obj.tmin, event_id=event_id,
                               metadata=md if len(md.columns) else None, verbose="ERROR")
    raise DataError(f"to_mne expects a Recording or Epochs, got {type(obj).__name__}")


def from_mne(obj: Any, *, picks: Any = None, meta: dict[str, Any] | None = None) -> Recording | Epochs:
    """Convert an MNE ``Raw`` to a Recording or MNE ``Epochs`` to Epochs.

    Parameters
    ----------
    obj : mne.io.BaseRaw or mne.BaseEpochs
    picks : str, list, optional
        MNE channel selection (e.g. ``"emg"``); default all channels.
    meta : dict, optional
        Merged into the container's ``meta`` (e.g. ``{"subject": "S01"}``).

    Returns
    -------
    Recording
        Data in V for volt channel types, events from the annotations
        (``kind`` = description), ``meta["subject"]`` from ``subject_info``.
    Epochs
        ``X`` (n_epochs, n_channels, n_times), metadata from MNE metadata (or a
        table with the event ``code``), ``y`` from the event labels, or from a
        ``target`` column for regression epochs written by :func:`to_mne`.
    """
    mne = _mne()
    if isinstance(obj, mne.io.BaseRaw):
        raw = obj.copy().pick(picks if picks is not None else "all")
        payload = _unpack(raw.info)
        fs = float(raw.info["sfreq"])
        types = raw.get_channel_types()
        units = payload.get("units") if payload.get("kind") == "Recording" else None
        if units is None or len(units) != len(types):
            units = ["V" if t in _VOLT_TYPES else "a.u." for t in types]
        m = dict(payload.get("meta") or {})
        si = raw.info.get("subject_info") or {}
        if "subject" not in m and si.get("his_id"):
            m["subject"] = si["his_id"]
        m.update(meta or {})
        m.setdefault("source", str(raw.filenames[0]) if raw.filenames and raw.filenames[0] else "mne.io.Raw")
        data = raw.get_data()
        ann = raw.annotations
        # the full event table (extra columns) is only valid while the samples are untouched in MNE
        if (payload.get("event_columns") and payload.get("n_samples") == data.shape[1]
                and raw.first_time == 0 and len(ann) == len(payload["events"]["sample"])):
            events = pd.DataFrame(payload["events"])
        else:
            samples = np.round((np.asarray(ann.onset) - raw.first_time) * fs).astype(np.int64)
            inside = (samples >= 0) & (samples < data.shape[1])
            if (~inside).any():
                log.info("%d annotation(s) outside the data were dropped", int((~inside).sum()))
            events = pd.DataFrame({"sample": samples[inside],
                                   "kind": np.asarray(ann.description, dtype=object)[inside]})
        layout = payload.get("layout")
        grid = payload.get("grid_shape")
        return Recording(data, fs, raw.ch_names, units=units, events=events, meta=m,
                         layout=None if layout is None or len(layout) != len(types) else np.asarray(layout),
                         grid_shape=None if grid is None or len(layout or []) != len(types) else tuple(grid),
                         t0=float(payload.get("t0", 0.0)) + float(raw.first_time))
    if isinstance(obj, mne.BaseEpochs):
        ep = obj.copy().pick(picks if picks is not None else "all")
        payload = _unpack(ep.info)
        md = ep.metadata.reset_index(drop=True).copy() if ep.metadata is not None else pd.DataFrame(
            {"code": ep.events[:, 2]})
        y = None
        if payload.get("y_regression"):
            shape = payload.get("y_shape") or [len(md)]
            if len(shape) == 1:
                y = md.pop("target").to_numpy(dtype=float)
            else:
                y = np.column_stack([md.pop(f"target_{j}").to_numpy(dtype=float) for j in range(shape[1])])
        elif payload.get("labels") is not None:
            labels = payload["labels"]
            y = np.asarray([labels[c - 1] for c in ep.events[:, 2]])
            if payload.get("y_dtype") and payload["y_dtype"] != "object":
                y = y.astype(payload["y_dtype"])
        elif ep.event_id and len(ep.event_id) > 1:
            inv = {v: k for k, v in ep.event_id.items()}
            y = np.asarray([inv[c] for c in ep.events[:, 2]], dtype=object)
        m = dict(payload.get("meta") or {})
        m.update(meta or {})
        return Epochs(X=ep.get_data(copy=True), fs=float(ep.info["sfreq"]), ch_names=ep.ch_names, metadata=md, y=y,
                      target_names=payload.get("target_names", ()), tmin=float(ep.tmin), meta=m)
    raise DataError(f"from_mne expects an mne.io.Raw or mne.Epochs, got {type(obj).__name__}")


def from_dataframe(df: pd.DataFrame, fs: float | None = None, *, time_column: str | None = "time",
                   units: str | Sequence[str] = "V", meta: dict[str, Any] | None = None) -> Recording:
    """Wide table → Recording (inverse of :meth:`Recording.to_dataframe`).

    Parameters
    ----------
    df : DataFrame
        One numeric column per channel, one row per sample; optionally a time column in s.
    fs : float, optional
        Sampling rate, Hz. If omitted it is derived from ``time_column``, which must then be uniform.
    time_column : str or None
        Name of the time column (s). Used for ``fs``/``t0`` and not kept as a channel. ``None``: no time column.
    units, meta
        As for :class:`Recording`.

    Raises
    ------
    DataError
        Non-numeric channel columns, no time column and no ``fs``, irregular time, NaN.
    """
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"from_dataframe expects a pandas DataFrame, got {type(df).__name__}")
    m = dict(meta or {})
    where = str(m.get("source") or "dataframe")
    t0 = 0.0
    cols = list(df.columns)
    if time_column is not None and time_column in df.columns:
        t = df[time_column].to_numpy(dtype=float)
        cols.remove(time_column)
        if len(t) >= 2:
            dt = np.diff(t)
            step = float(np.median(dt))
            if step <= 0 or np.max(np.abs(dt - step)) > 1e-3 * step:
                raise DataError(f"time column {time_column!r} is not uniformly sampled", where)
            if fs is None:
                fs = 1.0 / step
            elif abs(fs * step - 1.0) > 1e-3:
                raise DataError(f"fs={fs:g} Hz disagrees with the time column (step {step:g} s)", where)
        t0 = float(t[0]) if len(t) else 0.0
    if fs is None:
        raise DataError(f"no fs given and no time column {time_column!r} to derive it from", where)
    if not cols:
        raise DataError("dataframe has no channel columns", where)
    bad = [c for c in cols if not pd.api.types.is_numeric_dtype(df[c])]
    if bad:
        raise DataError(f"non-numeric channel column(s) {bad}", where)
    return Recording(df[cols].to_numpy(dtype=np.float64).T, fs, [str(c) for c in cols], units=units, meta=m, t0=t0)


# ------------------------------------------------------------------------ NWB
def _pynwb():
    return require("pynwb", "nwb", "NWB export")


def to_nwb(obj: Recording | Epochs, path: str | os.PathLike, *, session_description: str = "myoflow export",
           identifier: str | None = None) -> Path:
    """Write a Recording or Epochs to an NWB 2 file (atomically).

    Layout
    ------
    Recording: ``acquisition/emg``, a ``TimeSeries`` of shape (n_samples, n_channels)
    with ``rate`` = fs, ``starting_time`` = t0 and the unit of the first channel;
    channel names in its ``comments`` (JSON); events in the ``trials``-like
    interval table ``intervals/events`` (``start_time`` = ``stop_time`` = event time, ``kind``).
    Epochs: a processing module ``myoflow`` with a ``DynamicTable`` ``epochs``
    holding ``X`` (n_epochs, n_channels, n_times), every metadata column and ``y``.
    The subject goes to ``NWBFile.subject.subject_id``; the remaining meta to
    ``notes`` as JSON.
    """
    pynwb = _pynwb()
    from datetime import datetime, timezone
    from uuid import uuid4

    from hdmf.common import DynamicTable, VectorData

    p = Path(path)
    meta = obj.meta
    nwb = pynwb.NWBFile(
        session_description=session_description,
        identifier=identifier or str(uuid4()),
        session_start_time=datetime(1970, 1, 1, tzinfo=timezone.utc),
        notes=json.dumps(_jsonable(meta)),
        subject=pynwb.file.Subject(subject_id=str(meta["subject"])) if meta.get("subject") is not None else None,
    )
    if isinstance(obj, Recording):
        if len(set(obj.units)) > 1:
            raise DataError(f"NWB export needs one unit for all channels, got {sorted(set(obj.units))}", obj.source)
        nwb.add_acquisition(pynwb.TimeSeries(
            name="emg", data=obj.data.T.astype(np.float32), unit=obj.units[0], rate=float(obj.fs),
            starting_time=float(obj.t0), comments=json.dumps({"ch_names": list(obj.ch_names)}),
            description="surface EMG exported by myoflow",
        ))
        if len(obj.events):
            table = pynwb.epoch.TimeIntervals(name="events", description="point events (start = stop)")
            table.add_column("kind", "event kind")
            for s, k in zip(obj.events["sample"].to_numpy(), obj.events["kind"]):
                tt = float(obj.t0 + s / obj.fs)
                table.add_row(start_time=tt, stop_time=tt, kind=str(k))
            nwb.add_time_intervals(table)
    elif isinstance(obj, Epochs):
        cols = [VectorData(name="X", data=obj.X, description="windows, (n_epochs, n_channels, n_times), V")]
        for c in obj.metadata.columns:
            v = obj.metadata[c].to_numpy()
            if v.dtype == object or pd.api.types.is_string_dtype(obj.metadata[c]):
                v = np.asarray([str(x) for x in v], dtype=object)
            cols.append(VectorData(name=f"md_{c}", data=v, description=f"metadata column {c}"))
        if obj.y is not None:
            y = obj.y if obj.y.dtype != object else np.asarray([str(v) for v in obj.y], dtype=object)
            cols.append(VectorData(name="y", data=y, description="targets"))
        table = DynamicTable(name="epochs", description=json.dumps(
            {"fs": obj.fs, "tmin": obj.tmin, "ch_names": list(obj.ch_names),
             "target_names": list(obj.target_names)}), columns=cols)
        nwb.create_processing_module("myoflow", "myoflow containers").add(table)
    else:
        raise DataError(f"to_nwb expects a Recording or Epochs, got {type(obj).__name__}")
    with atomic_path(p) as tmp:
        with pynwb.NWBHDF5IO(str(tmp), "w") as io:
            io.write(nwb)
    return p


def read_nwb(path: str | os.PathLike) -> Recording | Epochs:
    """Read an NWB file written by :func:`to_nwb` (or any NWB file whose first
    acquisition is a regularly sampled ``TimeSeries``) back into a container.

    Values are NWB's ``data × channel_conversion × conversion + offset`` (volts for an ``ElectricalSeries``);
    a series not written by myoflow names its channels by its electrodes' ``label`` or ``location`` when those
    are unique, else ``<series name><i>``.
    """
    pynwb = _pynwb()
    p = Path(path)
    try:
        io = pynwb.NWBHDF5IO(str(p), "r")
        nwb = io.read()
    except Exception as exc:  # h5py/hdmf raise many types for corrupt files
        raise DataError(f"cannot read as NWB (truncated or corrupt file?): {exc}".splitlines()[0], str(p)) from None
    try:
        try:
            meta = json.loads(nwb.notes) if nwb.notes else {}
        except json.JSONDecodeError:
            meta = {}
        if nwb.subject is not None and nwb.subject.subject_id is not None:
            meta.setdefault("subject", nwb.subject.subject_id)
        meta.setdefault("source", str(p))
        if "myoflow" in nwb.processing and "epochs" in nwb.processing["myoflow"].data_interfaces:
            t = nwb.processing["myoflow"]["epochs"]
            info = json.loads(t.description)
            md = pd.DataFrame({c[3:]: np.asarray(t[c].data[:]) for c in t.colnames if c.startswith("md_")})
            for c in md.columns:
                if md[c].dtype == object:
                    md[c] = [v.decode() if isinstance(v, bytes) else v for v in md[c]]
            y = None
            if "y" in t.colnames:
                y = np.asarray(t["y"].data[:])
                if y.dtype == object:
                    y = np.asarray([v.decode() if isinstance(v, bytes) else v for v in y], dtype=object)
            return Epochs(X=np.asarray(t["X"].data[:]), fs=info["fs"], ch_names=info["ch_names"], metadata=md, y=y,
                          target_names=info.get("target_names", ()), tmin=info["tmin"], meta=meta)
        series = [v for v in nwb.acquisition.values() if isinstance(v, pynwb.TimeSeries) and v.rate]
        if not series:
            raise DataError("NWB file has no regularly sampled TimeSeries in acquisition", str(p))
        ts = series[0]
        data = np.asarray(ts.data[:])
        if data.ndim == 1:
            data = data[:, None]
        try:
            names = json.loads(ts.comments)["ch_names"]
        except (json.JSONDecodeError, KeyError, TypeError):
            names = _electrode_names(ts, data.shape[1])
        unit = "V" if ts.unit in ("V", "volts") else ts.unit
        t0 = float(ts.starting_time or 0.0)
        events = None
        if nwb.intervals is not None and "events" in nwb.intervals:
            ev = nwb.intervals["events"].to_dataframe()
            events = pd.DataFrame({"sample": np.round((ev["start_time"].to_numpy() - t0) * ts.rate).astype(np.int64),
                                   "kind": ev["kind"].astype(str).to_numpy()})
        return Recording(_in_units(ts, data, str(p)).T, ts.rate, names, units=unit, events=events, meta=meta, t0=t0)
    finally:
        io.close()


def _in_units(ts, data: np.ndarray, where: str) -> np.ndarray:
    """A TimeSeries' stored values (samples × channels) in its unit: NWB's ``data × channel_conversion ×
    conversion + offset``. Only ``conversion`` was applied, so a pynwb-written ElectricalSeries of int16 counts
    with per-channel gains (``channel_conversion``) or an ``offset`` read wrong by those factors."""
    x = data.astype(np.float64) * float(ts.conversion)
    per_channel = getattr(ts, "channel_conversion", None)
    if per_channel is not None:
        factors = np.asarray(per_channel[:], dtype=np.float64)
        if factors.shape != (x.shape[1],):
            raise DataError(f"ElectricalSeries {ts.name!r} gives {factors.size} channel_conversion factor(s) for "
                            f"{x.shape[1]} channel(s)", where)
        x = x * factors
    return x + float(getattr(ts, "offset", 0.0) or 0.0)


def _electrode_names(ts, n: int) -> list[str]:
    """Channel names of a series not written by myoflow: its electrodes' ``label`` (or else ``location``)
    when they name each channel once, else ``<series name><i>``."""
    region = getattr(ts, "electrodes", None)
    if region is not None:
        try:
            table = region.table.to_dataframe().iloc[list(region.data[:])]
        except Exception:  # a malformed region: the default names
            table = None
        if table is not None:
            for col in ("label", "location"):
                if col in table.columns:
                    names = [str(v).strip() for v in table[col]]
                    if len(names) == n and all(names) and len(set(names)) == n:
                        return names
    return [f"{ts.name}{i}" for i in range(n)]
