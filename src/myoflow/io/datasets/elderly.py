"""Electromyography and dynamometry of the lower limb of the elderly (30 subjects × 4 tasks).

Source: github hermescb/Electromyography-and-Dynamometry-of-the-Lower-Limb-of-the-Elderly;
Silva et al. 2024, Biomed Signal Process Control 88:105635 (CC0-1.0).

Each ``ID <n>.xlsx`` has sheets ``EMG_VL``, ``EMG_BF``, ``EMG_TA``, ``EMG_LG`` (one
10 s isometric contraction of that muscle; 4 columns = sensors on VL, BF, TA, GL)
and ``DNM`` (load-cell force, one column per task). Bipolar sEMG at 2000 Hz
(EMG System SAS1000 V8, 20-500 Hz band-pass, 12-bit). ``Demographics.xlsx`` row
``n`` holds subject ``n``'s age (years), weight (kg), height (cm) and Berg balance score.

Quirks handled: no header rows; subject 6's tibialis sheet is ``EMB_TA``; the
gastrocnemius sheet is ``EMG_LG`` while its column is GL (the task is called
``GL`` here); subjects 5 and 6 have some 10001-sample (5 s) sheets, and the
force columns are then shorter too (trailing empty cells are dropped).

Units are not stated upstream. EMG amplitudes (tens to hundreds) match µV,
so EMG is scaled µV → V; force is kept as stored and labelled ``kgf`` (the load
cell is specified in kgf, up to 200 kgf). Both are flagged in ``meta["units_assumed"]``.

Reading the 31 workbooks takes ~10 s with python-calamine (the ``xlsx`` extra;
openpyxl, not used, takes about a minute); the converted trials are cached as native files, keyed by each
workbook's size and modification time. Sheets are read one at a time and their
rows converted in chunks into preallocated float64 arrays, so converting a
workbook needs little more memory than the arrays it yields.
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from ...cache import default_cache_dir
from ...containers import Trial
from ...errors import DataError, require
from .. import native
from .._common import make_recording

__all__ = ["load_elderly_lowerlimb", "read_elderly_workbook", "detect_elderly_lowerlimb", "default_cache_dir", "TASKS", "FS"]

log = logging.getLogger(__name__)

FS = 2000.0  # Hz (SAS1000 V8; upstream README)
TASKS = ("VL", "BF", "TA", "GL")  # order of the columns and of the DNM columns
_SHEET_TASK = {"EMG_VL": "VL", "EMG_BF": "BF", "EMG_TA": "TA", "EMB_TA": "TA", "EMG_LG": "GL", "EMG_GL": "GL"}
_CACHE_VERSION = "v1"


def detect_elderly_lowerlimb(path: Path) -> bool:
    return path.is_dir() and (path / "Demographics.xlsx").is_file() and any(path.glob("ID *.xlsx"))


_CHUNK_ROWS = 2048  # rows converted per NumPy call: a few hundred kB of transient Python floats


class _Workbook:
    """An open workbook whose sheets are read one at a time, row by row.

    Read with python-calamine (the one xlsx engine, extra ``xlsx``). Only the sheet
    being read is held in memory (its cell range), never all sheets as Python lists at once.
    """

    def __init__(self, path: Path):
        self.path = path
        self._wb = None
        calamine = require("python_calamine", "xlsx", "reading .xlsx workbooks")
        with self._errors():
            self._wb = calamine.CalamineWorkbook.from_path(str(path))
            self.sheet_names = list(self._wb.sheet_names)

    def __enter__(self) -> "_Workbook":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._wb is not None and hasattr(self._wb, "close"):
            self._wb.close()

    def _errors(self):
        return _workbook_errors(self.path)

    def rows(self, name: str) -> tuple[Iterator[list], int]:
        """(iterator over the rows of sheet ``name`` as lists of cell values, row-count hint)."""
        with self._errors():
            sheet = self._wb.get_sheet_by_name(name)
            it = sheet.iter_rows() if hasattr(sheet, "iter_rows") else iter(sheet.to_python())
            return self._guarded(it), int(sheet.height)

    def _guarded(self, it: Iterator) -> Iterator[list]:
        # Readers parse lazily: a corrupt sheet fails while iterating, not when opened.
        while True:
            with self._errors():
                try:
                    row = next(it)
                except StopIteration:
                    return
            yield row


class _workbook_errors:
    """Context manager turning a reader's exceptions into a DataError naming the workbook."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc is None or isinstance(exc, (DataError, StopIteration)) or not isinstance(exc, Exception):
            return False
        # calamine raises many types for broken zips/XML
        raise DataError(f"cannot read workbook (truncated or corrupt?): {exc}", str(self.path)) from None


def _read_workbook(path: Path) -> dict[str, list[list]]:
    """Sheet name → rows (lists of cell values). For small sheets (the demographics table)."""
    with _Workbook(path) as wb:
        return {name: list(wb.rows(name)[0]) for name in wb.sheet_names}


def _empty(v) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def _fill_rows(block: np.ndarray, chunk: list, n_cols: int, row0: int, where: str) -> None:
    """Write ``chunk`` (rows of cells) into ``block`` (n_cols, len(chunk)) float64, NaN = empty."""
    try:
        # fast path: every row full width and numeric (the whole sheet but its ragged tail)
        block[:] = np.array(chunk, dtype=np.float64).T
        return
    except (TypeError, ValueError):
        pass
    block[:] = np.nan
    for i, row in enumerate(chunk):
        for j, v in enumerate(row[:n_cols]):
            if _empty(v):
                continue
            try:
                block[j, i] = float(v)
            except (TypeError, ValueError):
                raise DataError(f"non-numeric cell {v!r} in column {j + 1}, row {row0 + i + 1}", where) from None


def _sheet_columns(rows: Iterable[list], n_rows_hint: int, n_cols: int, where: str) -> list[np.ndarray]:
    """Numeric columns of a sheet, each without its trailing empty cells.

    The rows are converted ``_CHUNK_ROWS`` at a time into one preallocated
    (n_cols, n_rows) float64 array, so the transient memory is that array plus one
    chunk of Python floats, not the whole sheet as Python objects.
    """
    buf = np.empty((n_cols, max(int(n_rows_hint), _CHUNK_ROWS)), dtype=np.float64)
    n = 0
    width = 0
    chunk: list = []

    def flush() -> None:
        nonlocal buf, n
        if n + len(chunk) > buf.shape[1]:  # the row-count hint was short: grow geometrically
            grown = np.empty((n_cols, max(2 * buf.shape[1], n + len(chunk))), dtype=np.float64)
            grown[:, :n] = buf[:, :n]
            buf = grown
        _fill_rows(buf[:, n:n + len(chunk)], chunk, n_cols, n, where)
        n += len(chunk)
        chunk.clear()

    for row in rows:
        row = list(row[:n_cols]) if row is not None else []
        width = max(width, len(row))
        if len(row) < n_cols:
            row += [None] * (n_cols - len(row))
        chunk.append(row)
        if len(chunk) == _CHUNK_ROWS:
            flush()
    if chunk:
        flush()
    if width < n_cols:
        raise DataError(f"expected {n_cols} columns, found {width}", where)
    cols = []
    for j in range(n_cols):
        arr = buf[j, :n]
        present = np.flatnonzero(np.isfinite(arr))
        arr = arr[: present[-1] + 1] if present.size else arr[:0]
        if np.isnan(arr).any():
            raise DataError(f"empty cell in column {j + 1} at row {int(np.flatnonzero(np.isnan(arr))[0]) + 1}", where)
        cols.append(arr)
    return cols


def _convert_workbook(path: Path, subject: str) -> dict[str, Trial]:
    with _Workbook(path) as book:
        sheets = book.sheet_names
        by_task: dict[str, str] = {}
        for name in sheets:
            task = _SHEET_TASK.get(name.strip().upper())
            if task:
                by_task[task] = name
        missing = [t for t in TASKS if t not in by_task]
        if missing or "DNM" not in {n.strip().upper() for n in sheets}:
            raise DataError(f"workbook lacks sheet(s) for {missing or ['DNM']}; it has {list(sheets)}", str(path))
        dnm_name = next(n for n in sheets if n.strip().upper() == "DNM")
        force_cols = _sheet_columns(*book.rows(dnm_name), 4, f"{path}#{dnm_name}")
        trials = {}
        for k, task in enumerate(TASKS):
            sheet = by_task[task]
            where = f"{path}#{sheet}"
            cols = _sheet_columns(*book.rows(sheet), 4, where)
            lengths = {c.size for c in cols}
            if len(lengths) != 1:
                raise DataError(f"EMG columns have different lengths {sorted(lengths)}", where)
            emg_uv = np.vstack(cols)
            del cols
            emg_uv *= 1e-6  # µV -> V in place: no second float64 copy
            meta = {"subject": subject, "task": task, "muscle": task, "source": where,
                    "units_assumed": True, "sheet": sheet}
            emg = make_recording(emg_uv, FS, list(TASKS), where, units="V", meta=dict(meta))
            del emg_uv
            force = make_recording(force_cols[k], FS, ["force"], f"{path}#{dnm_name}", units="kgf",
                                   meta={**meta, "source": f"{path}#{dnm_name}", "sheet": dnm_name})
            trials[task] = Trial(streams={"emg": emg, "force": force}, meta=dict(meta))
    return trials


def _demographics(folder: Path) -> dict[str, dict]:
    path = folder / "Demographics.xlsx"
    if not path.is_file():
        raise DataError("Demographics.xlsx not found", str(folder))
    sheets = _read_workbook(path)
    rows = next(iter(sheets.values()))
    header = [str(h).strip().lower() for h in rows[0]]
    expected = ["age", "weight", "height", "bbs score"]
    if header[:4] != expected:
        raise DataError(f"expected columns {expected}, got {header}", str(path))
    out = {}
    for i, row in enumerate(rows[1:], start=1):
        if not row or all(v in (None, "") for v in row[:4]):
            continue
        age, weight, height, bbs = (float(v) for v in row[:4])
        out[f"{i:02d}"] = {
            "age": age, "weight": weight, "height": height, "bbs": bbs,
            "bmi": weight / (height / 100.0) ** 2,
        }
    return out


def _subject_files(folder: Path, subjects: Iterable[int | str] | None) -> list[tuple[str, Path]]:
    found = {}
    for f in folder.glob("ID *.xlsx"):
        m = re.fullmatch(r"ID (\d+)\.xlsx", f.name)
        if m:
            found[int(m.group(1))] = f
    if not found:
        raise DataError("no 'ID <n>.xlsx' workbooks", str(folder))
    ids = sorted(found)
    if subjects is not None:
        wanted = [int(str(s).lstrip("S").lstrip("0") or 0) for s in subjects]
        missing = [s for s in wanted if s not in found]
        if missing:
            # a range would hide the gap ("have 1..30" with ID 4 missing): name what is there when it is short
            have = ", ".join(map(str, ids)) if len(ids) <= 12 else f"{len(ids)} workbooks of ids {ids[0]}..{ids[-1]}"
            raise DataError(f"no 'ID <n>.xlsx' workbook for subject(s) {missing} (asked for {len(wanted)}; "
                            f"the folder has {have})", str(folder))
        ids = wanted
    return [(f"{i:02d}", found[i]) for i in ids]


def _cache_key(path: Path) -> str:
    st = path.stat()
    return f"{path.stem.replace(' ', '')}-{st.st_size}-{st.st_mtime_ns}"


def load_elderly_lowerlimb(
    path: str | os.PathLike,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
    *,
    subjects: Iterable[int | str] | None = None,
    use_cache: bool = True,
) -> list[Trial]:
    """Load the elderly lower-limb dataset as one Trial per subject and task.

    Parameters
    ----------
    path : path-like
        The ``elderly-lowerlimb-emg`` folder.
    cache_dir : path-like, optional
        Where converted trials are cached (default :func:`default_cache_dir`,
        i.e. ``$MYOFLOW_CACHE`` or the user cache dir).
    progress : bool
        Show a tqdm progress bar while reading workbooks.
    subjects : iterable of int or str, optional
        Subject numbers to load (e.g. ``[1, 6]`` or ``["01", "06"]``); default all.
    use_cache : bool
        Read and write the cache (False: always parse the workbooks).

    Returns
    -------
    list of Trial
        Ordered by subject, then task (VL, BF, TA, GL). Each has streams ``"emg"``
        (4 channels VL, BF, TA, GL in V at 2000 Hz) and ``"force"`` (1 channel,
        kgf), and ``meta`` with ``subject`` (``"01"``..``"30"``), ``task``/``muscle``
        (the contracting muscle) and ``covariates`` (age, weight, height, bbs, bmi).
    """
    folder = Path(path)
    if not folder.is_dir():
        raise DataError("dataset folder not found", str(folder))
    demo = _demographics(folder)
    files = _subject_files(folder, subjects)
    root = None
    if use_cache:
        digest = hashlib.sha1(str(folder.resolve()).encode()).hexdigest()[:12]
        root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        root = root / "elderly-lowerlimb-emg" / f"{_CACHE_VERSION}-{digest}"
    out: list[Trial] = []
    bar = None
    if progress:  # tqdm is imported only when a bar is wanted (its import alone costs a few MB)
        from tqdm.auto import tqdm

        bar = tqdm(files, desc="elderly-lowerlimb-emg", unit="subject", leave=False)
    for subject, wb in (bar if bar is not None else files):
        trials = None
        if root is not None:
            key = _cache_key(wb)
            cached = [root / f"{key}_{t}.h5" for t in TASKS]
            if all(c.is_file() for c in cached):
                try:
                    trials = {t: native.load(c) for t, c in zip(TASKS, cached)}
                except DataError as exc:  # a damaged cache file is rebuilt, never trusted
                    log.warning("ignoring damaged cache entry: %s", exc)
                    trials = None
        if trials is None:
            trials = _convert_workbook(wb, subject)
            if root is not None:
                for stale in root.glob(f"{wb.stem.replace(' ', '')}-*.h5"):
                    if not stale.name.startswith(f"{key}_"):
                        stale.unlink(missing_ok=True)
                for t, trial in trials.items():
                    native.save(trial, root / f"{key}_{t}.h5")
        cov = demo.get(subject)
        if cov is None:
            raise DataError(f"Demographics.xlsx has no row for subject {subject}", str(folder))
        for t in TASKS:
            trial = trials[t]
            streams = {
                name: rec.replace(meta={**rec.meta, "covariates": dict(cov)}) for name, rec in trial.streams.items()
            }
            out.append(Trial(streams=streams, meta={**trial.meta, "covariates": dict(cov)}))
    if bar is not None:
        bar.close()
    return out


def read_elderly_workbook(path: str | os.PathLike) -> list[Trial]:
    """One subject's workbook (``ID <n>.xlsx``) → its 4 Trials (VL, BF, TA, GL), not cached.

    Covariates are attached when ``Demographics.xlsx`` sits in the same folder.
    """
    from .._common import check_file

    p = check_file(path)
    m = re.fullmatch(r"ID (\d+)\.xlsx", p.name)
    if p.name.lower() == "demographics.xlsx":
        raise DataError("this is the covariate table of the elderly-lowerlimb-emg dataset, not a recording; "
                        "read the folder instead", str(p))
    if m is None:
        # a lab's own recording saved from Excel: the way out, not only what myoflow expected
        raise DataError("an Excel workbook is read only as an 'ID <n>.xlsx' workbook of elderly-lowerlimb-emg; "
                        "save a recording's sheet as CSV (Excel: File > Save As > 'CSV UTF-8') and read that",
                        str(p))
    subject = f"{int(m.group(1)):02d}"
    trials = _convert_workbook(p, subject)
    cov = {}
    if (p.parent / "Demographics.xlsx").is_file():
        cov = _demographics(p.parent).get(subject, {})
    out = []
    for t in TASKS:
        trial = trials[t]
        if cov:
            streams = {k: r.replace(meta={**r.meta, "covariates": dict(cov)}) for k, r in trial.streams.items()}
            trial = Trial(streams=streams, meta={**trial.meta, "covariates": dict(cov)})
        out.append(trial)
    return out
