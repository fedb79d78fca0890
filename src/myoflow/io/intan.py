"""Intan RHD2000 ``.rhd`` files (header-attached, as the Intan RHX/RHD software writes them) via ``neo`` — extra ``vendor``.

The amplifier channels become one Recording in V (neo scales the raw
``uint16`` by 0.195 µV per bit); ``stream=`` picks another neo stream (e.g.
``"USB board ADC input channel"``). ``meta`` keeps the amplifier band-pass and
notch settings from the header.
"""
from __future__ import annotations

import logging
import os

import numpy as np

from ..containers import Recording
from ..errors import DataError, require
from ._common import check_file, make_recording, to_volts, unique_names

__all__ = ["read_rhd"]

log = logging.getLogger(__name__)

_AMPLIFIER = "RHD2000 amplifier channel"


def read_rhd(path: str | os.PathLike, stream: str = _AMPLIFIER) -> Recording:
    """Read one signal stream of an Intan ``.rhd`` file.

    Parameters
    ----------
    path : path-like
    stream : str
        neo stream name; default the amplifier (EMG) channels.

    Returns
    -------
    Recording
        Channels named by their custom names (native names in ``meta["native_names"]``).
    """
    neo_rawio = require("neo.rawio", "vendor", "reading Intan .rhd files")
    p = check_file(path)
    where = str(p)
    try:
        r = neo_rawio.IntanRawIO(filename=str(p))
        r.parse_header()
    except Exception as exc:  # neo raises assorted errors (struct, numpy, KeyError) on corrupt headers
        raise DataError(f"cannot read as Intan RHD (truncated or corrupt file?): {exc}".splitlines()[0], where) from None
    streams = [str(s) for s in r.header["signal_streams"]["name"]]
    if stream not in streams:
        raise DataError(f"no stream {stream!r}; the file has {streams}", where)
    si = streams.index(stream)
    try:
        raw = r.get_analogsignal_chunk(0, 0, None, None, stream_index=si)
        x = r.rescale_signal_raw_to_float(raw, dtype="float64", stream_index=si).T
    except Exception as exc:
        raise DataError(f"cannot read the samples of stream {stream!r}: {exc}".splitlines()[0], where) from None
    sid = r.header["signal_streams"]["id"][si]
    chans = r.header["signal_channels"][r.header["signal_channels"]["stream_id"] == sid]
    units = [str(u) for u in chans["units"]]
    data, units = to_volts(x, units)
    g = r._global_info if hasattr(r, "_global_info") else {}
    meta = {"native_names": [str(c) for c in chans["id"]], "device": "Intan RHD2000"}
    for k in ("actual_lower_bandwidth", "actual_upper_bandwidth", "notch_filter"):
        if k in g:
            v = g[k]
            meta[k] = v.item() if isinstance(v, np.generic) else v
    return make_recording(data, float(r.get_signal_sampling_rate(stream_index=si)), unique_names(chans["name"], where),
                          where, units=units, meta=meta)
