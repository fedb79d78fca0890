"""OTBiolab+ MATLAB exports as shipped with openhdemg (``openhdemg-otb/otb_testfile.mat``).

The export holds ``Data`` (a 1×1 cell with an (n_samples, n_columns) array),
``Description`` (one label per column), ``SamplingFrequency`` and ``Time``.
Columns are classified by their labels: EMG (``[uV]``/``[mV]``), motor-unit
firing trains (``Decomposition of ...``, binary), decomposition sources
(``Source for decomposition ...``) and auxiliary channels (force, ``%MVC``).

Electrode layout
----------------
The grid model is read from the labels. ``GR08MM1305`` / ``GR04MM1305`` (OT
Bioelettronica) are 13 × 5 grids with one empty corner (64 electrodes, IED 8 / 4 mm);
channels are placed with openhdemg's sorting order for orientation 180 (its default,
``openhdemg.library.electrodes.get_rawemg_sortingorder``): x along the 13-electrode
columns (fibre direction), y across. Such a grid has no rectangular
``grid_shape`` (13 × 5 = 65 ≠ 64), so ``grid_shape`` is None and the geometry is in
``layout`` and ``meta["electrode"]``. An unknown 64-channel grid gets an 8 × 8
row-major layout with 8 mm IED, flagged ``"assumed": True``.

The test file's labels name ``GR08MM1305``, i.e. 13 × 5, not 8 × 8 as the shared
data README says.
"""
from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ...containers import Trial
from ...errors import DataError
from .._common import check_file, check_fs, make_recording, to_volts

__all__ = ["read_otb_mat", "load_openhdemg_otb", "otb_grid_layout", "detect_openhdemg_otb"]

log = logging.getLogger(__name__)

_IED_MM = {"GR04MM1305": 4.0, "GR08MM1305": 8.0, "HD04MM1305": 4.0, "HD08MM1305": 8.0,
           "GR10MM0808": 10.0, "HD10MM0808": 10.0, "GR10MM0804": 10.0, "HD10MM0804": 10.0}


def otb_grid_layout(code: str | None, n_channels: int) -> tuple[np.ndarray, tuple[int, int] | None, dict]:
    """Electrode positions (mm) for channels 1..n of an OTB grid.

    Returns
    -------
    layout : array, shape (n_channels, 2)
        (x, y) in mm per channel, x along the fibres.
    grid_shape : (rows, cols) or None
        Only when channels fill a rectangular row-major grid.
    info : dict
        ``model``, ``rows``, ``cols``, ``ied_mm``, ``orientation``, ``assumed``.
    """
    if code in ("GR08MM1305", "GR04MM1305", "HD08MM1305", "HD04MM1305") and n_channels == 64:
        ied = _IED_MM[code]
        # openhdemg, orientation 180: column c, row r -> 1-based channel (row 0 of column 0 empty).
        pos = np.zeros((64, 2))
        for r in range(13):
            for c, ch in enumerate((r, 25 - r, 26 + r, 51 - r, 52 + r)):
                if c == 0 and r == 0:
                    continue
                pos[ch - 1] = (r * ied, c * ied)
        return pos, None, {"model": code, "rows": 13, "cols": 5, "ied_mm": ied, "orientation": 180,
                           "empty": "row 0, column 0", "assumed": False}
    side = int(round(np.sqrt(n_channels)))
    if side * side == n_channels:
        ied = _IED_MM.get(code or "", 8.0)
        rows, cols = np.divmod(np.arange(n_channels), side)
        return (np.column_stack([rows * ied, cols * ied]).astype(float), (side, side),
                {"model": code, "rows": side, "cols": side, "ied_mm": ied, "orientation": None, "assumed": True})
    raise DataError(f"no electrode layout known for grid {code!r} with {n_channels} channels")


def _labels(description: np.ndarray) -> list[str]:
    out = []
    for cell in np.ravel(description):
        v = np.ravel(cell)
        out.append(str(v[0]) if v.size else "")
    return out


def read_otb_mat(path: str | os.PathLike) -> Trial:
    """Read an OTBiolab+ ``.mat`` export into a Trial.

    Returns
    -------
    Trial
        ``"emg"``: EMG channels in V with ``layout`` (mm) and motor-unit firings as
        events of kind ``"mu_firing"`` with a ``unit`` column (0-based);
        ``"force"``: auxiliary channel(s) (``%MVC`` for the test file);
        ``"mu_sources"``: decomposition sources (a.u.), when present.
    """
    from ..matlab import load_mat_variables

    p = check_file(path)
    where = str(p)
    v = load_mat_variables(p)
    missing = {"Data", "Description", "SamplingFrequency"} - set(v)
    if missing:
        raise DataError(f"not an OTBiolab+ export: missing variable(s) {sorted(missing)}", where)
    data = v["Data"]
    if data.dtype == object:
        data = data.ravel()[0]
    data = np.asarray(data, dtype=np.float64)
    labels = _labels(v["Description"])
    if data.ndim != 2 or data.shape[1] != len(labels):
        raise DataError(f"Data has shape {data.shape} but Description has {len(labels)} labels", where)
    fs = check_fs(v["SamplingFrequency"], where)
    t0 = 0.0
    if "Time" in v:
        t = v["Time"]
        t = np.asarray(t.ravel()[0] if t.dtype == object else t, dtype=float).ravel()
        if t.size:
            t0 = float(t[0])

    kinds = []
    for lab in labels:
        low = lab.lower()
        if "source for decomposition" in low:
            kinds.append("source")
        elif "decomposition" in low:
            kinds.append("firing")
        elif re.search(r"\[(u|µ|m)?v\]", low):
            kinds.append("emg")
        else:
            kinds.append("aux")
    emg_idx = [i for i, k in enumerate(kinds) if k == "emg"]
    if not emg_idx:
        raise DataError("no EMG columns ([uV]/[mV] labels) in Description", where)
    unit = re.search(r"\[([^\]]+)\]", labels[emg_idx[0]]).group(1)
    emg, emg_units = to_volts(data[:, emg_idx].T, [unit] * len(emg_idx))
    code_match = re.search(r"\b((?:GR|HD)\d{2}(?:MM|ML)\d{4})\b", " ".join(labels[i] for i in emg_idx))
    code = code_match.group(1) if code_match else None
    muscle = labels[emg_idx[0]].split(" - ")[0].strip() or None
    layout, grid_shape, electrode = otb_grid_layout(code, len(emg_idx))

    firing_idx = [i for i, k in enumerate(kinds) if k == "firing"]
    ev = []
    for unit_id, i in enumerate(firing_idx):
        samples = np.flatnonzero(data[:, i] > 0.5)
        ev.append(pd.DataFrame({"sample": samples, "kind": "mu_firing", "unit": np.full(samples.size, unit_id)}))
    events = pd.concat(ev, ignore_index=True) if ev else None

    meta = {"source": where, "muscle": muscle, "electrode": electrode}
    if "OTBFile" in v:
        meta["otb_file"] = str(np.ravel(v["OTBFile"])[0]) if np.size(v["OTBFile"]) else ""
    streams = {
        "emg": make_recording(
            emg, fs, [f"ch{i + 1:02d}" for i in range(len(emg_idx))], where, units=emg_units,
            layout=layout, grid_shape=grid_shape, events=events, t0=t0, meta=dict(meta),
        )
    }
    aux_idx = [i for i, k in enumerate(kinds) if k == "aux"]
    if aux_idx:
        units = []
        for i in aux_idx:
            m = re.search(r"\[\s*([^\]]+?)\s*\]", labels[i])
            units.append(re.sub(r"[\s()]", "", m.group(1)) if m else "a.u.")  # "%(MVC)" -> "%MVC"
        names = ["force" if len(aux_idx) == 1 else f"aux{j + 1}" for j in range(len(aux_idx))]
        streams["force"] = make_recording(
            data[:, aux_idx].T, fs, names, where, units=units, t0=t0,
            meta={"source": where, "labels": [labels[i] for i in aux_idx]},
        )
    src_idx = [i for i, k in enumerate(kinds) if k == "source"]
    if src_idx:
        streams["mu_sources"] = make_recording(
            data[:, src_idx].T, fs, [f"unit{j}" for j in range(len(src_idx))], where, units="a.u.", t0=t0,
            meta={"source": where},
        )
    return Trial(streams=streams, meta={"source": where, "muscle": muscle})


def detect_openhdemg_otb(path: Path) -> bool:
    return path.is_dir() and any(path.glob("otb*.mat"))


def load_openhdemg_otb(path: str | os.PathLike) -> Trial | dict[str, Trial]:
    """The ``openhdemg-otb`` folder (or one of its files): a Trial per OTBiolab+ ``.mat`` export.

    Returns the Trial itself when there is one file (``otb_testfile.mat``), else a dict
    file stem → Trial. See :func:`read_otb_mat` for the streams.
    """
    p = Path(path)
    if p.is_file():
        return read_otb_mat(p)
    if not p.is_dir():
        raise DataError("dataset folder not found", str(p))
    files = sorted(p.glob("*.mat"))
    if not files:
        raise DataError("no .mat files in folder", str(p))
    trials = {f.stem: read_otb_mat(f) for f in files}
    return next(iter(trials.values())) if len(trials) == 1 else trials
