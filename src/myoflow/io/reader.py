"""One entry point, :func:`read`, dispatching on the file type (or folder format)."""
from __future__ import annotations

import inspect
import logging
import os
from pathlib import Path
from typing import Any, Callable

from ..containers import Epochs, Recording, Trial
from ..errors import DataError, MyoflowError
from . import native
from .c3d import read_c3d
from ._common import check_hint_units, missing_reason
from .dataset import is_dataset_folder, load_dataset
from .edf import read_edf
from .interop import read_nwb
from .intan import read_rhd
from .matlab import read_mat
from .npz import read_npz
from .opensignals import is_opensignals, is_opensignals_text, read_opensignals, read_opensignals_text
from .opensim import read_opensim
from .poly5 import read_poly5
from .otb import read_otb
from .tabular import read_csv
from .wfdb import read_wfdb
from .xdf import read_xdf

__all__ = ["read", "READERS", "supported_suffixes", "hint_names"]

log = logging.getLogger(__name__)


def _read_hdf5(path: str | os.PathLike, **hints: Any) -> Recording | Trial | Epochs:
    """``.h5``/``.hdf5``: myoflow native file, OpenSignals file, or a MATLAB v7.3 file."""
    p = Path(path)
    import h5py

    try:
        with h5py.File(p, "r"):
            pass
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot open as HDF5 (truncated or corrupt file?): {exc}", str(p)) from None
    if native.is_native(p):
        _no_hints("native", hints, p)
        return native.load(p)
    if is_opensignals(p):
        return _call(read_opensignals, p, hints, "OpenSignals")
    raise DataError("HDF5 file is neither a myoflow native file nor an OpenSignals recording", str(p))


def _read_xlsx(path: str | os.PathLike) -> list[Trial]:
    """``.xlsx``: a subject workbook of the elderly-lowerlimb-emg dataset (the only xlsx recordings we know)."""
    from .datasets.elderly import read_elderly_workbook

    return read_elderly_workbook(path)


READERS: dict[str, Callable[..., Any]] = {
    ".edf": read_edf, ".bdf": read_edf,
    ".csv": read_csv, ".tsv": read_csv, ".txt": read_csv,
    ".mat": read_mat,
    ".npz": read_npz,
    ".c3d": read_c3d,
    ".sto": read_opensim, ".mot": read_opensim,
    ".h5": _read_hdf5, ".hdf5": _read_hdf5,
    ".xlsx": _read_xlsx,
    ".nwb": read_nwb,
    ".xdf": read_xdf,
    ".rhd": read_rhd,
    ".hea": read_wfdb,
    ".poly5": read_poly5,
    ".otb+": read_otb, ".otb4": read_otb,
}


#: Spreadsheet files a lab may save a recording as (Excel 97-2003, macros, LibreOffice, Apple Numbers).
_SPREADSHEETS = {".xls", ".xlsm", ".xlsb", ".ods", ".numbers"}


def hint_names(path: str | os.PathLike) -> list[str]:
    """The reading hints the reader of ``path`` takes (what :func:`read` would call for it)."""
    p = Path(path)
    reader = READERS.get(p.suffix.lower())
    if reader is None:
        return []
    if reader is _read_hdf5:
        try:
            if native.is_native(p):
                return []
            reader = read_opensignals if is_opensignals(p) else None
        except Exception:  # unreadable: read() names the problem
            return []
        if reader is None:
            return []
    elif reader is read_csv and is_opensignals_text(p):
        reader = read_opensignals_text
    params = inspect.signature(reader).parameters
    return [k for k, v in params.items() if k != "path" and v.kind in (v.KEYWORD_ONLY, v.POSITIONAL_OR_KEYWORD)]


def supported_suffixes() -> list[str]:
    return sorted(READERS)


def _no_hints(kind: str, hints: dict, p: Path) -> None:
    if hints:
        raise DataError(f"{kind} files take no reading hints, got {sorted(hints)}", str(p))


def _call(func: Callable[..., Any], path: Path, hints: dict[str, Any], kind: str) -> Any:
    params = inspect.signature(func).parameters
    accepted = [k for k, v in params.items() if k != "path" and v.kind in (v.KEYWORD_ONLY, v.POSITIONAL_OR_KEYWORD)]
    unknown = sorted(k for k in hints if k not in accepted)
    if unknown:
        raise DataError(f"unknown hint(s) {unknown} for {kind}; accepted: {accepted}", str(path))
    if hints.get("units") is not None:
        check_hint_units(hints["units"], str(path))
    return func(path, **hints)


def read(path: str | os.PathLike, **hints: Any) -> Any:
    """Read a recording file or a dataset folder into myoflow containers.

    Parameters
    ----------
    path : path-like
        A file (``.edf .bdf .csv .tsv .txt .mat .npz .c3d .sto .mot .h5 .hdf5 .xlsx .nwb .xdf .rhd .hea .Poly5
        .otb+``; ``.otb4`` is refused with the way out) or a
        folder: a standard dataset folder (``dataset.json``) or one of the
        registered public datasets (:data:`myoflow.io.datasets.DATASETS`).
    **hints
        Reader options, e.g. ``fs=2000``, ``time_column="t"``, ``data_var="emg"``,
        ``sensor="EMG"``; a hint the reader does not take is an error.

    Returns
    -------
    Recording, Trial or Epochs for a file; a :class:`~myoflow.io.dataset.Dataset`
    for a standard dataset folder; whatever the dataset's loader returns otherwise
    (list or dict of Trials/Recordings).

    Raises
    ------
    DataError
        Missing path, unknown extension, unrecognised folder, corrupt file, or
        data that fail validation; the message names the file.
    """
    p = Path(path)
    if not p.exists():
        raise DataError(missing_reason(p), str(p))
    if p.is_dir():
        if is_dataset_folder(p):
            _no_hints("dataset folder", hints, p)
            return load_dataset(p)
        from .datasets import DATASETS, detect_dataset

        loader = detect_dataset(p)
        if loader is None and (p / "dataset.json").exists():
            return load_dataset(p)  # a damaged dataset.json: its own error says what is wrong with it
        if loader is None:
            from .bids import is_bids_root

            if is_bids_root(p):  # a BIDS-EMG tree converts without a manifest or a pattern
                raise DataError("folder is a BIDS dataset (dataset_description.json, sub-* folders), not a myoflow "
                                "dataset: make it one with myoflow convert FOLDER --out DIR (BIDS is detected)",
                                str(p))
            # A lab's first try is often `inspect` on its folder of raw exports: say how to make it a dataset.
            try:
                from itertools import islice

                from .convert import _not_data

                raw = next((f for f in islice(p.rglob("*"), 10000) if f.suffix.lower() in READERS and f.is_file()
                            and not _not_data(f.relative_to(p))),
                           None)  # the first 10000 entries: a name only, and no wait on a huge tree
            except OSError:
                raw = None
            hint = (f"; it holds recording files (e.g. {raw.relative_to(p)}): inspect one file, or make the folder "
                    "a dataset with myoflow convert FOLDER --pattern '{subject}_{muscle}' --out DIR"
                    if raw is not None else "")
            raise DataError(
                "folder is not a myoflow dataset (no dataset.json) nor a known public dataset "
                f"({', '.join(DATASETS)}){hint}",
                str(p),
            )
        log.info("%s: recognised as %s", p, loader.name)
        return _call(loader.load, p, hints, f"dataset {loader.name!r}")
    suffix = p.suffix.lower()
    reader = READERS.get(suffix)
    if reader is None and suffix == ".dat" and p.with_suffix(".hea").is_file():
        # a WFDB signal file alone cannot be read: its format, gains and names are in the header
        raise DataError(f"a WFDB signal file: pass its header {p.with_suffix('.hea').name} instead", str(p))
    if reader is None and suffix == ".dat":
        raise DataError("unknown file type '.dat'; a PhysioNet WFDB signal file is read through its header "
                        "NAME.hea (none found beside it)", str(p))
    if reader is None and suffix in _SPREADSHEETS:
        raise DataError(f"a spreadsheet ({suffix}) is not read as a recording: save its sheet as CSV (File > Save As "
                        "> 'CSV UTF-8') and read that", str(p))
    if reader is None:
        raise DataError(
            f"unknown file type {suffix or '(no extension)'!r}; supported: {' '.join(supported_suffixes())}", str(p)
        )
    if p.stat().st_size == 0:
        raise DataError("file is empty (0 bytes)", str(p))
    try:
        if reader is _read_hdf5:
            return reader(p, **hints)
        if reader is read_csv and is_opensignals_text(p):  # PLUX's text export: a JSON header, ADC codes
            return _call(read_opensignals_text, p, hints, "OpenSignals text files")
        return _call(reader, p, hints, f"{suffix} files")
    except MyoflowError:
        raise
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except MemoryError:
        raise DataError("not enough memory to read it (a corrupt header claiming a huge size?)", str(p)) from None
    except Exception as exc:
        # The readers wrap the failures they know; a third-party library can still fail in
        # ways nobody listed on a damaged file. Whatever it is, the user gets the file and the problem.
        log.debug("reading %s failed", p, exc_info=True)
        detail = " ".join(str(exc).split())[:300] or "no details"
        raise DataError(f"cannot read {suffix} file (corrupt or unsupported content?): "
                        f"{type(exc).__name__}: {detail}", str(p)) from None

