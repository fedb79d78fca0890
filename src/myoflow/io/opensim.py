"""OpenSim storage files (``.sto``, ``.mot``): a header ending in ``endheader``, then a table.

The time column gives the sampling rate and ``t0``. Units are guessed per column
from the header and the column names (OpenSim files carry no per-column units):

* ``*_moment`` / ``*_torque*`` → N·m; ``*_force``, ground-reaction ``*_v[xyz]`` → N;
  centre of pressure ``*_p[xyz]`` and pelvis/translation ``*_t[xyz]`` → m;
* other coordinates → deg when the header says ``inDegrees=yes``, else rad;
* EMG envelopes (a header mentioning EMG) → ``"a.u."`` (normalised).
"""
from __future__ import annotations

import io
import logging
import os
import re

import numpy as np
import pandas as pd

from ..containers import Recording
from ..errors import DataError
from ._common import check_file, fs_from_times, make_recording, repair_rows, unique_names

__all__ = ["read_opensim", "guess_opensim_unit"]

log = logging.getLogger(__name__)


def guess_opensim_unit(column: str, in_degrees: bool | None, title: str = "") -> str:
    """Physical unit of an OpenSim column, from its name and the file header."""
    c = column.lower()
    if "emg" in title.lower() or "activation" in c or "excitation" in c:
        return "a.u."
    if c.endswith("_moment") or "torque" in c:
        return "N·m"
    if c.endswith("_force") or re.search(r"(force|grf)_?v[xyz]$", c) or re.search(r"_force_v[xyz]$", c):
        return "N"
    if re.search(r"(force_p[xyz]|_p[xyz]|cop_?[xyz])$", c):
        return "m"
    if re.search(r"_t[xyz]$", c) or re.search(r"trans[xyz]$", c):
        return "m"
    if in_degrees is None:
        return "a.u."
    return "deg" if in_degrees else "rad"


def read_opensim(path: str | os.PathLike, *, bad_rows: str = "error") -> Recording:
    """Read an OpenSim ``.sto`` / ``.mot`` file (tab-, space- or comma-separated).

    ``bad_rows`` (``error``, ``drop``, ``interpolate``) handles rows with missing
    or non-numeric cells; the number changed is kept in ``meta["bad_rows_changed"]``.

    Returns
    -------
    Recording
        One channel per non-time column; ``fs`` and ``t0`` from the time column;
        ``meta["header"]`` holds the header's ``key=value`` lines and ``meta["title"]`` its first line.
    """
    p = check_file(path)
    where = str(p)
    try:
        text = p.read_text("utf-8-sig")
    except UnicodeDecodeError:
        text = p.read_text("latin-1")
    lines = text.splitlines()
    end = next((i for i, ln in enumerate(lines) if ln.strip().strip(",").strip().lower() == "endheader"), None)
    if end is None:
        raise DataError("no 'endheader' line: not an OpenSim .sto/.mot file (or the header is truncated)", where)
    header_lines = [ln.strip().strip(",").strip() for ln in lines[:end]]
    header: dict[str, str] = {}
    for ln in header_lines:
        if "=" in ln:
            k, v = ln.split("=", 1)
            header[k.strip()] = v.strip()
    title = next((ln for ln in header_lines if ln and "=" not in ln), "")
    in_degrees = None
    if "inDegrees" in header:
        in_degrees = header["inDegrees"].strip().lower() in ("yes", "true", "1")
    elif "degrees" in " ".join(header_lines).lower():
        in_degrees = True

    body_lines = [ln for ln in lines[end + 1:] if ln.strip().strip(",")]
    if not body_lines:
        raise DataError("no column header after 'endheader'", where)
    comma = "," in body_lines[0]
    try:
        table = pd.read_csv(
            io.StringIO("\n".join(body_lines)), sep="," if comma else r"\s+",
            engine="c",
        )
    except (pd.errors.ParserError, ValueError) as exc:
        raise DataError(f"malformed table after 'endheader': {exc}", where) from None
    table = table.loc[:, [c for c in table.columns if not (str(c).startswith("Unnamed") and table[c].isna().all())]]
    table.columns = [str(c).strip() for c in table.columns]
    if table.empty:
        raise DataError("recording is empty: no rows after the column header", where)
    repair_rows(np.zeros((0, 1)), bad_rows, where)  # validates the policy
    if bad_rows != "error":
        table = table.apply(pd.to_numeric, errors="coerce")
    for c in table.columns:
        if not pd.api.types.is_numeric_dtype(table[c]):
            bad = pd.to_numeric(table[c], errors="coerce").isna() & table[c].notna()
            row = int(np.flatnonzero(bad.to_numpy())[0]) if bad.any() else 0
            raise DataError(f"non-numeric value {table[c].iloc[row]!r} in column {c!r} at data row {row + 1}", where)
    incomplete = table.isna().any(axis=1).to_numpy()
    if incomplete.any() and incomplete[-1] and not incomplete[:-1].any() and bad_rows == "error":
        raise DataError(f"last row ({len(table)}) is incomplete: file truncated?", where)
    time_col = next((c for c in table.columns if c.lower() in ("time", "t")), None)
    if time_col is None:
        raise DataError(f"no 'time' column; columns are {list(table.columns)[:6]} ...", where)
    n_changed = 0
    if bad_rows != "error":
        t_idx = list(table.columns).index(time_col)
        fixed, n_changed = repair_rows(table.to_numpy(dtype=np.float64), bad_rows, where, time_col=t_idx)
        table = pd.DataFrame(fixed, columns=table.columns)
    fs, t0 = fs_from_times(table[time_col].to_numpy(dtype=float), where, column=time_col)
    channels = [c for c in table.columns if c != time_col]
    if not channels:
        raise DataError("no data columns besides time", where)
    n_rows = header.get("nRows") or header.get("datarows")
    if n_rows is not None and n_rows.isdigit() and int(n_rows) != len(table):
        log.warning("%s: header says %s rows, file has %d", where, n_rows, len(table))
    units = [guess_opensim_unit(c, in_degrees, title) for c in channels]
    data = table[channels].to_numpy(dtype=np.float64).T
    return make_recording(
        data, fs, unique_names(channels, where), where, units=units, t0=t0,
        meta={"source": where, "title": title, "header": header,
              **({"bad_rows_changed": n_changed} if n_changed else {})},
    )
