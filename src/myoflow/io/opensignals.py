"""OpenSignals (PLUX) HDF5 files: one group per device, named by its MAC address.

Each device group carries ``sampling rate``, ``resolution`` (bits) and
``channels`` attributes, with samples under ``raw/channel_<n>``. Samples are raw
ADC codes; with ``sensor="EMG"`` they are converted to volts with PLUX's EMG
transfer function, ``EMG[mV] = (ADC / 2**n - 1/2) * VCC`` with VCC = 3 V
(the sensor's 1000x gain already folded in; biosignalsnotebooks
``conversion.raw_to_phy``; PLUX EMG sensor datasheet).
"""
from __future__ import annotations

import logging
import os

import numpy as np

from ..containers import Recording, Trial
from ..errors import DataError
from ._common import check_file, check_fs, make_recording

__all__ = ["read_opensignals", "is_opensignals", "plux_emg_to_volts", "read_opensignals_text", "is_opensignals_text"]

log = logging.getLogger(__name__)

PLUX_VCC = 3.0  # V, biosignalsplux / bioplux supply used by the EMG transfer function


def plux_emg_to_volts(raw: np.ndarray, resolution: int) -> np.ndarray:
    """PLUX EMG transfer function: raw ADC codes → volts at the electrodes."""
    return (np.asarray(raw, dtype=np.float64) / 2**resolution - 0.5) * PLUX_VCC / 1000.0


def _devices(f) -> list[str]:
    return [k for k, g in f.items() if hasattr(g, "attrs") and "sampling rate" in g.attrs and "raw" in g]


def is_opensignals(path: str | os.PathLike) -> bool:
    """True if ``path`` is an HDF5 file laid out by OpenSignals."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return bool(_devices(f))
    except (OSError, ValueError):
        return False


def _attr(g, name, default=None):
    value = g.attrs.get(name, default)
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.ravel()[0]
    return value.item() if isinstance(value, np.generic) else value


def read_opensignals(path: str | os.PathLike, *, sensor: str | None = None) -> Recording | Trial:
    """Read an OpenSignals HDF5 file.

    Parameters
    ----------
    path : path-like
    sensor : {"EMG", None}
        ``"EMG"`` converts raw codes to volts (see module docstring); ``None``
        keeps raw ADC codes (``units="adc"``).

    Returns
    -------
    Recording for a single device (channels ``CH<n>``), or a Trial with one
    stream per device (named by MAC address) when several devices recorded.
    """
    import h5py

    p = check_file(path)
    where = str(p)
    if sensor is not None and str(sensor).upper() != "EMG":
        raise DataError(f"unit conversion is implemented for sensor='EMG' only, got {sensor!r}", where)
    try:
        f = h5py.File(p, "r")
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot open as HDF5 (truncated or corrupt file?): {exc}", where) from None
    streams: dict[str, Recording] = {}
    with f:
        macs = _devices(f)
        if not macs:
            raise DataError("HDF5 file has no OpenSignals device group (MAC address with 'raw' data)", where)
        for mac in macs:
            g = f[mac]
            fs = check_fs(_attr(g, "sampling rate"), where, f"device {mac}")
            resolution = int(_attr(g, "resolution", 16))
            names = sorted((k for k in g["raw"] if k.startswith("channel_")), key=lambda k: int(k.split("_")[1]))
            if not names:
                raise DataError(f"device {mac} has no raw/channel_<n> datasets", where)
            try:
                cols = [np.asarray(g["raw"][k][()], dtype=np.float64).ravel() for k in names]
            except OSError as exc:
                raise DataError(f"cannot read device {mac} samples (truncated file?): {exc}", where) from None
            if len({c.size for c in cols}) != 1:
                raise DataError(f"device {mac} channels have different lengths", where)
            data = np.vstack(cols)
            units = "adc"
            if sensor is not None:
                data = plux_emg_to_volts(data, resolution)
                units = "V"
            meta = {
                "source": where, "device": _attr(g, "device"), "mac": mac, "resolution_bits": resolution,
                "date": _attr(g, "date"), "time": _attr(g, "time"),
            }
            streams[mac] = make_recording(
                data, fs, [f"CH{k.split('_')[1]}" for k in names], where, units=units, meta=meta,
            )
    if len(streams) == 1:
        return next(iter(streams.values()))
    return Trial(streams=streams, meta={"source": where})


_TEXT_MAGIC = "# OpenSignals Text File Format"


def is_opensignals_text(path: str | os.PathLike) -> bool:
    """True if ``path`` is an OpenSignals text export (first line ``# OpenSignals Text File Format``)."""
    try:
        with open(path, "rb") as fh:
            head = fh.readline(200)
    except OSError:
        return False
    return head.decode("utf-8-sig", errors="replace").startswith(_TEXT_MAGIC)


def _text_header(path, where: str) -> tuple[dict, int]:
    """The JSON device header of an OpenSignals text file and the number of header lines."""
    import json

    lines = []
    with open(path, encoding="utf-8-sig", errors="replace") as fh:
        for line in fh:
            lines.append(line)
            if line.strip().lower().startswith("# endofheader"):
                break
            if len(lines) > 20:
                break
    if not lines or not lines[-1].strip().lower().startswith("# endofheader"):
        raise DataError("OpenSignals text header has no '# EndOfHeader' line (truncated header?)", where)
    for line in lines[1:-1]:
        text = line.lstrip("#").strip()
        if text.startswith("{"):
            try:
                header = json.loads(text)
            except ValueError as exc:
                raise DataError(f"OpenSignals text header is not valid JSON: {exc}", where) from None
            if not isinstance(header, dict) or not header or not all(isinstance(v, dict) for v in header.values()):
                raise DataError("OpenSignals text header holds no device description", where)
            return header, len(lines)
    raise DataError("OpenSignals text header has no JSON device line", where)


def read_opensignals_text(path: str | os.PathLike, *, sensor: str | None = None) -> Recording | Trial:
    """Read an OpenSignals (PLUX) text export: a JSON device header, then one row per sample.

    Columns follow each device's ``column`` list (``nSeq``, ``DI``, then its channels, e.g. ``A1``); the
    channels keep their labels. ``sensor="EMG"`` converts the ADC codes to volts with each channel's
    resolution, as :func:`read_opensignals` does; ``None`` keeps the codes (``units="adc"``). Samples lost
    in transmission show as jumps of the 4-bit ``nSeq`` counter and are reported, not filled.
    """
    p = check_file(path)
    where = str(p)
    if sensor is not None and str(sensor).upper() != "EMG":
        raise DataError(f"unit conversion is implemented for sensor='EMG' only, got {sensor!r}", where)
    header, skip = _text_header(p, where)
    devices = sorted(header.items(), key=lambda kv: kv[1].get("position", 0))
    try:
        table = np.loadtxt(p, skiprows=skip, ndmin=2, dtype=np.float64)
    except ValueError as exc:
        raise DataError(f"OpenSignals text rows are not all numbers (truncated or edited file?): {exc}", where) \
            from None
    if table.shape[0] == 0:
        raise DataError("OpenSignals text file has a header but no samples", where)
    n_cols = sum(len(d.get("column", [])) for _, d in devices)
    if table.shape[1] != n_cols:
        raise DataError(f"the header lists {n_cols} column(s) but the rows have {table.shape[1]}", where)
    streams: dict[str, Recording] = {}
    start = 0
    for mac, d in devices:
        cols = [str(c) for c in d.get("column", [])]
        block = table[:, start:start + len(cols)]
        start += len(cols)
        fs = check_fs(d.get("sampling rate"), where, f"device {mac}")
        labels = [str(x) for x in d.get("label", [])]
        idx = [cols.index(lab) for lab in labels if lab in cols]
        if not idx:
            raise DataError(f"device {mac} lists no channel columns (label {labels})", where)
        if "nSeq" in cols:
            seq = block[:, cols.index("nSeq")]
            lost = int(np.sum((np.diff(seq) % 16) - 1 != 0))
            if lost:
                log.warning("%s: device %s: the nSeq counter jumps %d time(s): samples were lost in transmission, "
                            "so times after each jump are early", where, mac, lost)
        data = block[:, idx].T
        res = d.get("resolution", 16)
        res = list(res) if isinstance(res, (list, tuple)) else [res] * len(idx)
        units = "adc"
        if sensor is not None:
            data = np.vstack([plux_emg_to_volts(row, int(res[min(k, len(res) - 1)])) for k, row in enumerate(data)])
            units = "V"
        meta = {"source": where, "device": d.get("device"), "mac": mac, "resolution_bits": res[0],
                "date": d.get("date"), "time": d.get("time")}
        streams[mac] = make_recording(data, fs, [cols[i] for i in idx], where, units=units, meta=meta)
    if len(streams) == 1:
        return next(iter(streams.values()))
    return Trial(streams=streams, meta={"source": where})
