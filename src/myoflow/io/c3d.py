"""C3D analog channels (via ezc3d), with C3D events.

ezc3d returns analog values already scaled to physical units (``ANALOG:SCALE``,
``GEN_SCALE``, ``OFFSET`` applied). Channels in mV/µV are scaled to V.
Events (``EVENT:TIMES/LABELS/CONTEXTS``) become events of kind
``"<context> <label>"`` (e.g. ``"Left Foot Strike"``) at the nearest analog sample.
"""
from __future__ import annotations

import logging
import os
from typing import Sequence

import numpy as np
import pandas as pd

from ..containers import Recording
from ..errors import DataError, require
from ._common import check_file, make_recording, to_volts, unique_names

__all__ = ["read_c3d"]

log = logging.getLogger(__name__)


def _param(params: dict, group: str, name: str, default=None):
    try:
        return params[group][name]["value"]
    except (KeyError, TypeError):
        return default


def read_c3d(
    path: str | os.PathLike,
    *,
    channels: Sequence[str] | None = None,
    to_volt: bool = True,
) -> Recording:
    """Read the analog channels of a C3D file.

    Parameters
    ----------
    path : path-like
    channels : sequence of str, optional
        Analog labels to keep (in this order); default all.
    to_volt : bool
        Scale mV/µV channels to V.

    Returns
    -------
    Recording
        ``meta`` holds ``point_rate`` (marker frame rate, Hz) and ``subjects`` when present.
    """
    ezc3d = require("ezc3d", "c3d", "reading .c3d files")

    p = check_file(path)
    where = str(p)
    try:
        c = ezc3d.c3d(str(p))
    except (RuntimeError, ValueError, OSError, IndexError) as exc:
        raise DataError(f"cannot read as C3D (truncated or corrupt file?): {exc}", where) from None
    params = c["parameters"]
    analogs = np.asarray(c["data"]["analogs"])
    if analogs.size == 0 or analogs.ndim != 3:
        raise DataError("C3D file has no analog channels", where)
    data = analogs[0]  # (n_channels, n_frames)
    rate = float(np.ravel(_param(params, "ANALOG", "RATE", [c["header"]["analogs"]["frame_rate"]]))[0])
    promised = _frames_in_file_header(p, params)
    n_frames = np.asarray(c["data"]["points"]).shape[-1] if np.asarray(c["data"]["points"]).size else None
    if promised is not None and n_frames is not None and n_frames < promised:
        # ezc3d reads a cut-off file without complaint (and rewrites its header copy to match).
        raise DataError(f"C3D file is truncated: its header promises {promised} frames, the file holds {n_frames}", where)
    labels = [str(s).strip() for s in _param(params, "ANALOG", "LABELS", [])]
    if len(labels) != data.shape[0]:
        labels = [f"analog{i + 1}" for i in range(data.shape[0])]
    labels = unique_names(labels)
    units = [str(u).strip() or "a.u." for u in _param(params, "ANALOG", "UNITS", [])]
    if len(units) != data.shape[0]:
        units = ["a.u."] * data.shape[0]
    if channels is not None:
        missing = [ch for ch in channels if ch not in labels]
        if missing:
            raise DataError(f"no analog channel(s) {missing}; channels are {labels}", where)
        idx = [labels.index(ch) for ch in channels]
        data, labels, units = data[idx], [labels[i] for i in idx], [units[i] for i in idx]
    if to_volt:
        data, units = to_volts(data, units)

    point_rate = float(np.ravel(_param(params, "POINT", "RATE", [c["header"]["points"]["frame_rate"]]))[0])
    first_frame = int(c["header"]["points"]["first_frame"])
    t0 = first_frame / point_rate if point_rate > 0 else 0.0
    events = _events(params, rate, t0, data.shape[1])
    meta = {"source": where, "point_rate": point_rate}
    subjects = [s for s in _param(params, "SUBJECTS", "NAMES", []) if str(s).strip()]
    if subjects:
        meta["subjects"] = [str(s) for s in subjects]
    return make_recording(data, rate, labels, where, units=units, events=events, t0=t0, meta=meta)


def _frames_in_file_header(path, params: dict) -> int | None:
    """Number of frames the C3D file header declares (words 4-5; TRIAL:ACTUAL_*_FIELD when larger)."""
    import struct

    try:
        with open(path, "rb") as fh:
            head = fh.read(512)
            param_block = head[0]
            fh.seek((param_block - 1) * 512)
            param_head = fh.read(4)
        order = ">" if len(param_head) == 4 and param_head[3] - 83 == 3 else "<"  # 3 = MIPS (big-endian)
        first, last = struct.unpack(order + "HH", head[6:10])
    except (OSError, struct.error, IndexError):
        return None
    start = _param(params, "TRIAL", "ACTUAL_START_FIELD")
    end = _param(params, "TRIAL", "ACTUAL_END_FIELD")
    if start is not None and end is not None and len(start) == 2 and len(end) == 2:
        # two 16-bit words (low, high) so that trials longer than 65535 frames fit
        first2 = int(start[0]) & 0xFFFF | (int(start[1]) & 0xFFFF) << 16
        last2 = int(end[0]) & 0xFFFF | (int(end[1]) & 0xFFFF) << 16
        if last2 - first2 > last - first:
            first, last = first2, last2
    n = int(last) - int(first) + 1
    return n if n > 0 else None


def _events(params: dict, rate: float, t0: float, n: int) -> pd.DataFrame | None:
    times = _param(params, "EVENT", "TIMES")
    labels = _param(params, "EVENT", "LABELS", [])
    if times is None or not len(labels):
        return None
    times = np.asarray(times, dtype=float)
    if times.ndim != 2 or times.shape[1] != len(labels):
        return None
    seconds = times[0] * 60.0 + times[1]  # C3D stores (minutes, seconds)
    contexts = list(_param(params, "EVENT", "CONTEXTS", [""] * len(labels)))
    contexts += [""] * (len(labels) - len(contexts))
    sample = np.round((seconds - t0) * rate).astype("int64")
    keep = (sample >= 0) & (sample < n)
    if not keep.all():
        log.warning("dropping %d C3D event(s) outside the analog data", int((~keep).sum()))
    kinds = [f"{str(contexts[i]).strip()} {str(labels[i]).strip()}".strip() for i in np.flatnonzero(keep)]
    return pd.DataFrame({"sample": sample[keep], "kind": kinds, "time_s": seconds[keep]})
