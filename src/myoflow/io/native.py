"""The myoflow native file format: one HDF5 file per Recording, Trial or Epochs.

Everything round-trips exactly: samples (float32), sampling rate, channel
names, units, grid layout and shape, the events table (extra columns and their
dtypes), the metadata dict (nested dicts/lists/tuples, NumPy scalars and
arrays), ``t0``; for Epochs ``X``, ``y`` (str or numeric, 1-D or 2-D),
``target_names``, ``tmin`` and the per-epoch ``metadata`` table.

Layout of a file (all plain HDF5, readable with any HDF5 tool)::

    /                attrs: format="myoflow-native", format_version=1, kind
    Recording:  /data (float32, n_channels × n_samples), /layout (optional),
                /events (Parquet bytes), /meta (UTF-8 JSON bytes), /meta_arrays/<i>;
                attrs fs, t0, ch_names, units, grid_shape, events_header
    Trial:      /streams/<i> one Recording group each, /meta; attrs stream_names
    Epochs:     /X, /y (numbers, or UTF-8 JSON bytes for strings; optional), /metadata
                (Parquet bytes), /meta, /meta_arrays/<i>;
                attrs fs, tmin, ch_names, target_names, y_dtype, metadata_header

Files are written atomically and deterministically (no timestamps, fixed HDF5
format version), so the same object always gives the same bytes.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..containers import NO_EVENTS, Epochs, Recording, Trial, events_built
from ..errors import DataError
from .._atomic import atomic_path
from ._encode import decode_meta, encode_meta, frame_from_bytes, frame_to_bytes

__all__ = ["save", "load", "is_native", "FORMAT", "FORMAT_VERSION", "SUFFIX"]

log = logging.getLogger(__name__)

FORMAT = "myoflow-native"
FORMAT_VERSION = 1
SUFFIX = ".h5"
# Fixed HDF5 object-format bounds: a newer libhdf5 must not change the bytes.
_LIBVER = ("earliest", "v110")


# ----------------------------------------------------------------- helpers
def _ds(group, name: str, data: np.ndarray):
    return group.create_dataset(name, data=data, track_times=False)


def _put_meta(group, meta: dict[str, Any], where: str) -> None:
    text, arrays = encode_meta(meta, where)
    _put_text(group, "meta", text)
    if arrays:
        arr_group = group.create_group("meta_arrays")
        for i, arr in enumerate(arrays):
            if arr.dtype.kind == "U":
                _ds(arr_group, str(i), np.char.encode(arr, "utf-8")).attrs["dtype"] = arr.dtype.str
            else:
                _ds(arr_group, str(i), arr).attrs["dtype"] = arr.dtype.str


def _get_meta(group) -> dict[str, Any]:
    arrays: list[np.ndarray] = []
    if "meta_arrays" in group:
        arr_group = group["meta_arrays"]
        for i in range(len(arr_group)):
            ds = arr_group[str(i)]
            dtype = np.dtype(ds.attrs["dtype"])
            value = ds[()]
            if dtype.kind == "U":
                value = np.char.decode(np.asarray(value), "utf-8").astype(dtype)
            arrays.append(np.asarray(value, dtype=dtype))
    return decode_meta(_get_text(group, "meta"), arrays)


class _NotUtf8(ValueError):
    """Text that UTF-8 cannot encode (lone surrogates), raised while writing; :func:`save` names the file."""


def _put_text(group, name: str, text: str) -> None:
    # UTF-8 bytes in a dataset, not an attribute: no 64 kB attribute limit, NULs allowed.
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates: a name decoded from non-UTF-8 bytes
        bad = ascii(exc.object[max(0, exc.start - 20):exc.end + 20])
        raise _NotUtf8(f"{name} holds text that is not valid UTF-8 (near {bad}; from a file name in another "
                       "encoding?)") from None
    _ds(group, name, np.frombuffer(raw, dtype=np.uint8))


def _get_text(group, name: str) -> str:
    return group[name][()].tobytes().decode("utf-8")


def _attr_str(group, name: str) -> str:
    value = group.attrs[name]
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _attr_json(group, name: str) -> Any:
    return json.loads(_attr_str(group, name))


def _put_frame(group, name: str, df, where: str) -> None:
    blob, header = frame_to_bytes(df, where)
    _ds(group, name, np.frombuffer(blob, dtype=np.uint8))
    group.attrs[f"{name}_header"] = json.dumps(header)


def _get_frame(group, name: str):
    header = _attr_json(group, f"{name}_header")
    return frame_from_bytes(group[name][()].tobytes(), header)


def _default_events_header() -> dict[str, Any]:
    """The header :func:`frame_to_bytes` writes for a Recording's default (empty) events table.

    Spelled out so that saving a Recording whose table was never built does not build one
    (a first DataFrame costs a process ~5 MB); the kind column is whatever ``astype(str)``
    gives: pandas' ``str`` dtype from pandas 3 on, ``object`` before.
    """
    kind = "str" if int(pd.__version__.split(".")[0]) >= 3 else "object"
    return {"n_rows": 0, "columns": ["sample", "kind"], "json_columns": [], "categoricals": {},
            "dtypes": {"sample": "int64", "kind": kind}, "empty": True}


def _put_events(group, rec: Recording) -> None:
    if events_built(rec):
        _put_frame(group, "events", rec.events, f"events of {rec.source}")
    else:
        _ds(group, "events", np.frombuffer(b"", dtype=np.uint8))
        group.attrs["events_header"] = json.dumps(_default_events_header())


def _get_events(group):
    """The stored events table; an empty sample/kind table comes back unbuilt (the Recording
    turns any such table into its default one, so the result is the same)."""
    header = _attr_json(group, "events_header")
    if header.get("empty") and header.get("n_rows") == 0 and header.get("columns") == ["sample", "kind"]:
        return NO_EVENTS
    return frame_from_bytes(group["events"][()].tobytes(), header)


# ------------------------------------------------------------- per object
def _write_recording(group, rec: Recording) -> None:
    _ds(group, "data", rec.data)
    group.attrs["fs"] = float(rec.fs)
    group.attrs["t0"] = float(rec.t0)
    group.attrs["ch_names"] = json.dumps(list(rec.ch_names), ensure_ascii=False)
    group.attrs["units"] = json.dumps(list(rec.units), ensure_ascii=False)
    group.attrs["grid_shape"] = json.dumps(None if rec.grid_shape is None else list(rec.grid_shape))
    if rec.layout is not None:
        _ds(group, "layout", rec.layout)
    _put_events(group, rec)
    _put_meta(group, rec.meta, "meta")


def _read_recording(group) -> Recording:
    grid = _attr_json(group, "grid_shape")
    return Recording(
        data=group["data"][()],
        fs=float(group.attrs["fs"]),
        ch_names=_attr_json(group, "ch_names"),
        units=_attr_json(group, "units"),
        layout=group["layout"][()] if "layout" in group else None,
        grid_shape=None if grid is None else tuple(grid),
        events=_get_events(group),
        meta=_get_meta(group),
        t0=float(group.attrs["t0"]),
    )


def _write_trial(group, trial: Trial) -> None:
    names = list(trial.streams)
    group.attrs["stream_names"] = json.dumps(names, ensure_ascii=False)
    streams = group.create_group("streams")
    for i, name in enumerate(names):
        _write_recording(streams.create_group(str(i)), trial.streams[name])
    _put_meta(group, trial.meta, "meta")


def _read_trial(group) -> Trial:
    names = _attr_json(group, "stream_names")
    streams = {name: _read_recording(group["streams"][str(i)]) for i, name in enumerate(names)}
    return Trial(streams=streams, meta=_get_meta(group))


def _write_y(group, y: np.ndarray | None, where: str) -> None:
    if y is None:
        group.attrs["y_dtype"] = "none"
        return
    group.attrs["y_dtype"] = y.dtype.str
    if y.dtype.kind in "biuf":
        _ds(group, "y", y)
    elif y.dtype.kind == "U" or (y.dtype == object and all(isinstance(v, str) for v in y.ravel())):
        _put_text(group, "y", json.dumps(y.tolist(), ensure_ascii=False))
    else:
        raise DataError(f"cannot store targets y of dtype {y.dtype} (use numbers or strings)", where)


def _read_y(group) -> np.ndarray | None:
    dtype = _attr_str(group, "y_dtype")
    if dtype == "none":
        return None
    dtype = np.dtype(dtype)
    if dtype.kind in "biuf":
        return np.asarray(group["y"][()], dtype=dtype)
    values = json.loads(_get_text(group, "y"))
    if dtype != object:
        return np.asarray(values, dtype=dtype)
    out = np.empty(np.shape(values), dtype=object)  # keep str objects, element by element
    out[...] = values
    return out


def _write_epochs(group, ep: Epochs) -> None:
    where = ep.meta.get("source") or "epochs"
    _ds(group, "X", ep.X)
    group.attrs["fs"] = float(ep.fs)
    group.attrs["tmin"] = float(ep.tmin)
    group.attrs["ch_names"] = json.dumps(list(ep.ch_names), ensure_ascii=False)
    group.attrs["target_names"] = json.dumps(list(ep.target_names), ensure_ascii=False)
    _write_y(group, ep.y, where)
    _put_frame(group, "metadata", ep.metadata, f"metadata of {where}")
    _put_meta(group, ep.meta, "meta")


def _read_epochs(group) -> Epochs:
    return Epochs(
        X=group["X"][()],
        fs=float(group.attrs["fs"]),
        ch_names=_attr_json(group, "ch_names"),
        metadata=_get_frame(group, "metadata"),
        y=_read_y(group),
        target_names=_attr_json(group, "target_names"),
        tmin=float(group.attrs["tmin"]),
        meta=_get_meta(group),
    )


_WRITERS = {Recording: _write_recording, Trial: _write_trial, Epochs: _write_epochs}
_READERS = {"Recording": _read_recording, "Trial": _read_trial, "Epochs": _read_epochs}


# -------------------------------------------------------------------- API
def save(obj: Recording | Trial | Epochs, path: str | os.PathLike) -> Path:
    """Write a Recording, Trial or Epochs to one native HDF5 file, atomically.

    Parameters
    ----------
    obj : Recording, Trial or Epochs
    path : path-like
        Destination (conventionally ``*.h5``); parent folders are created.

    Returns
    -------
    Path
        The written path.
    """
    import h5py

    writer = _WRITERS.get(type(obj))
    if writer is None:
        raise DataError(f"can only save Recording, Trial or Epochs, got {type(obj).__name__}", str(path))
    path = Path(path)
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w", libver=_LIBVER, track_order=False) as f:
            f.attrs["format"] = FORMAT
            f.attrs["format_version"] = FORMAT_VERSION
            f.attrs["kind"] = type(obj).__name__
            try:
                writer(f, obj)
            except _NotUtf8 as exc:  # named after the destination, not the temporary file
                raise DataError(str(exc), str(path)) from None
    log.debug("saved %s to %s", type(obj).__name__, path)
    return path


def is_native(path: str | os.PathLike) -> bool:
    """True if ``path`` is an HDF5 file written by :func:`save`."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return f.attrs.get("format") in (FORMAT, FORMAT.encode())
    except (OSError, ValueError):
        return False


def load(path: str | os.PathLike) -> Recording | Trial | Epochs:
    """Read a file written by :func:`save`.

    Raises
    ------
    DataError
        Missing file, not HDF5 / truncated, not a myoflow native file, or
        contents that fail container validation.
    """
    import h5py

    path = Path(path)
    if not path.exists():
        raise DataError("file not found", str(path))
    try:
        f = h5py.File(path, "r")
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot open as HDF5 (truncated or corrupt file?): {exc}", str(path)) from None
    try:
        return _load_open(f, path)
    except DataError:
        raise
    except Exception as exc:  # damaged attributes (e.g. an unreadable format_version)
        detail = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise DataError(f"corrupt native file: {detail}", str(path)) from None
    finally:
        f.close()


def _load_open(f, path: Path) -> Recording | Trial | Epochs:
    """The object in an open native file (errors name ``path``)."""
    fmt = f.attrs.get("format")
    if isinstance(fmt, bytes):
        fmt = fmt.decode()
    if fmt != FORMAT:
        raise DataError("HDF5 file is not a myoflow native file (no format='myoflow-native' attribute)", str(path))
    version = int(f.attrs.get("format_version", 0))
    if version > FORMAT_VERSION:
        raise DataError(
            f"native format version {version} is newer than this myoflow reads ({FORMAT_VERSION}); upgrade myoflow",
            str(path),
        )
    kind = _attr_str(f, "kind")
    reader = _READERS.get(kind)
    if reader is None:
        raise DataError(f"unknown object kind {kind!r} in native file", str(path))
    try:
        obj = reader(f)
    except DataError as exc:
        raise DataError(str(exc), str(path)) from None
    except Exception as exc:  # h5py/pyarrow/json on damaged content raise many types
        detail = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise DataError(f"corrupt native {kind} file: {detail}", str(path)) from None
    return obj
