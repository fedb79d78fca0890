"""The standard myoflow dataset folder (what simulator protocols write and readers read back).

Layout::

    <out_dir>/
        dataset.json        protocol, seed, myoflow version, parameters, + format info
        participants.csv    one row per subject: ``subject`` + covariates
        index.csv           one row per file: stem, kind, subject, fs, sizes, scalar meta
        <stem>.h5           one native file (Recording / Trial / Epochs) per item

``dataset.json`` is written last, so a folder without it is an incomplete
write. Every file is written atomically and deterministically: the same inputs
give byte-identical files. Column dtypes of the two CSV tables are recorded in
``dataset.json`` so that subject ids such as ``"01"`` come back unchanged.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from pathlib import Path, PurePosixPath
from typing import Any, Iterable, Iterator

import numpy as np
import pandas as pd

from .. import __version__
from .._atomic import atomic_write_json, atomic_write_text
from ..containers import Epochs, Recording, Trial
from ..errors import DataError
from . import native
from ._encode import to_jsonable

__all__ = ["Dataset", "write_dataset", "load_dataset", "is_dataset_folder", "DATASET_FORMAT"]

log = logging.getLogger(__name__)

DATASET_FORMAT = "myoflow-dataset"
DATASET_FORMAT_VERSION = 1
_SUMMARY_COLUMNS = ("stem", "kind", "subject", "fs", "n_channels", "n_samples", "n_epochs", "duration_s")
_SKIP_META = {"source", "truth", "covariates"}


def _check_stem(stem: Any) -> str:
    if not isinstance(stem, str) or not stem.strip():
        raise DataError(f"dataset item stem must be a non-empty string, got {stem!r}")
    p = PurePosixPath(stem)
    if p.is_absolute() or "\\" in stem or any(part in ("", ".", "..") for part in stem.split("/")):
        raise DataError(f"dataset item stem {stem!r} must be a relative path without '.', '..' or backslashes")
    if p.suffix == native.SUFFIX:
        raise DataError(f"dataset item stem {stem!r} must not include the {native.SUFFIX} suffix")
    return stem


def _safe_stem(stem: Any) -> bool:
    try:
        _check_stem(stem)
    except DataError:
        return False
    return True


def _inside(root: Path, stem: str) -> bool:
    """Whether ``root/<stem>.h5``'s folder, symlinks resolved, is ``root`` or below it."""
    return (root / stem).parent.resolve().is_relative_to(root.resolve())


_UNSAFE_ID = re.compile(r"[/\\\x00-\x1f\x7f]")


#: Ids become parts of file names (fold folders, item files); 255 bytes is a file name's limit on most systems.
MAX_ID_CHARS = 200


def id_problem(text: str) -> str | None:
    """Why ``text`` cannot be an id (subject, session, muscle, ...), or None if it can.

    The reason names the rule broken: a 240-character session from a long file name was refused with
    "without '/', '\\', control characters or a leading '.'", none of which it had.
    """
    if not text.strip():
        return "ids must be non-empty"
    if _UNSAFE_ID.search(text):
        return "ids must be without '/', '\\' or control characters"
    if text.startswith("."):
        return "ids must not start with '.'"
    if len(text) > MAX_ID_CHARS:
        return f"ids must be at most {MAX_ID_CHARS} characters (this one has {len(text)}; they become file names)"
    return None


def _check_ids(values: pd.Series, column: str, where: Path) -> None:
    """Subject ids end up in folder and file names (fold folders, reports): refuse path-like ones."""
    for v in values.dropna().unique():
        text = str(v)
        why = id_problem(text)
        if why:
            raise DataError(f"{column} id {text!r} is not allowed: {why}", str(where))


def _is_scalar(v: Any) -> bool:
    return isinstance(v, (str, bool, int, float, np.bool_, np.integer, np.floating)) or v is None


def _subject_of(obj: Recording | Trial | Epochs) -> Any:
    subject = obj.meta.get("subject")
    if subject is None and isinstance(obj, Trial):
        subs = {r.meta.get("subject") for r in obj.streams.values()} - {None}
        subject = subs.pop() if len(subs) == 1 else None
    if subject is None and isinstance(obj, Epochs) and "subject" in obj.metadata.columns:
        subs = pd.unique(obj.metadata["subject"])
        subject = subs[0] if len(subs) == 1 else None
    return subject.item() if isinstance(subject, np.generic) else subject


def _index_row(stem: str, obj: Recording | Trial | Epochs) -> dict[str, Any]:
    row: dict[str, Any] = {"stem": stem, "kind": type(obj).__name__, "subject": _subject_of(obj)}
    if isinstance(obj, Recording):
        row.update(fs=obj.fs, n_channels=obj.n_channels, n_samples=obj.n_samples, duration_s=obj.duration)
    elif isinstance(obj, Epochs):
        row.update(fs=obj.fs, n_channels=obj.n_channels, n_samples=obj.n_times, n_epochs=len(obj))
    else:
        row.update(n_channels=sum(r.n_channels for r in obj.streams.values()), duration_s=obj.stop - obj.start)
    for key, value in obj.meta.items():
        if key in _SKIP_META or key in row or not isinstance(key, str) or not _is_scalar(value):
            continue
        row[key] = value.item() if isinstance(value, np.generic) else value
    return row


def _write_table(path: Path, df: pd.DataFrame) -> dict[str, str]:
    """Write a CSV deterministically; return its column dtypes for exact reading."""
    atomic_write_text(path, df.to_csv(index=False, lineterminator="\n"))
    return {str(c): str(t) for c, t in df.dtypes.items()}


def _read_table(path: Path, dtypes: dict[str, str] | None) -> pd.DataFrame:
    if not path.exists():
        raise DataError(f"dataset folder lacks {path.name}", str(path.parent))
    dtypes = dtypes or {}
    textual = {c: str for c, t in dtypes.items() if not _numeric_dtype(t)}
    try:
        df = pd.read_csv(path, dtype=textual, keep_default_na=True)
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text (byte at offset {exc.start}); save it as UTF-8", str(path)) from None
    except pd.errors.EmptyDataError:
        raise DataError("file is empty (no header row)", str(path)) from None
    except (pd.errors.ParserError, ValueError, TypeError) as exc:
        raise DataError(f"cannot parse CSV: {' '.join(str(exc).split())}", str(path)) from None
    except OSError as exc:
        raise DataError(f"cannot read: {exc.strerror or exc}", str(path)) from None
    df.attrs["source"] = str(path)  # checks further on (covariates, labels) name the file
    for col, dtype in dtypes.items():
        if col in df.columns and _numeric_dtype(dtype):
            try:
                df[col] = df[col].astype(dtype)
            except (TypeError, ValueError):
                log.debug("column %s of %s kept as %s", col, path, df[col].dtype)
    return df


def _read_json(path: Path) -> dict[str, Any]:
    """``dataset.json`` as a dict; truncated, non-UTF-8 or non-object content is named as such."""
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise DataError(f"cannot read dataset.json: {exc.strerror or exc}", str(path)) from None
    except UnicodeDecodeError as exc:
        raise DataError(f"dataset.json is not UTF-8 text (byte at offset {exc.start})", str(path)) from None
    if not text.strip():
        raise DataError("dataset.json is empty", str(path))
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise DataError(f"dataset.json is not valid JSON (truncated?): {exc}", str(path)) from None
    if not isinstance(doc, dict):
        raise DataError(f"dataset.json must hold a JSON object, got a {type(doc).__name__}", str(path))
    return doc


def _numeric_dtype(dtype: str) -> bool:
    try:
        return pd.api.types.is_numeric_dtype(pd.Series([], dtype=dtype)) or dtype == "bool"
    except TypeError:
        return False


def is_dataset_folder(path: str | os.PathLike) -> bool:
    """True if ``path`` is a folder written by :func:`write_dataset`."""
    p = Path(path) / "dataset.json"
    if not p.is_file():
        return False
    try:
        return json.loads(p.read_text("utf-8")).get("format") == DATASET_FORMAT
    except (OSError, ValueError, AttributeError):
        return False


#: Left in a dataset folder while :func:`write_dataset` writes it (the stems so far, one a line).
PARTIAL_MARKER = ".myoflow-writing"


def write_dataset(
    out_dir: str | os.PathLike,
    items: Iterable[tuple[str, Recording | Trial | Epochs]],
    participants: pd.DataFrame | None,
    info: dict[str, Any],
    *,
    overwrite: bool = True,
) -> "Dataset":
    """Write a standard dataset folder.

    Parameters
    ----------
    out_dir : path-like
        Destination folder. It may be missing, empty, or an earlier myoflow
        dataset (replaced when ``overwrite``); any other non-empty folder is refused.
    items : iterable of (str, Recording | Trial | Epochs)
        ``(relative_stem, obj)``; each is written to ``out_dir/<stem>.h5``.
        Consumed lazily, so a generator keeps only one object in memory.
    participants : DataFrame or None
        One row per subject with a ``subject`` column plus covariates.
        ``None`` derives a one-column table from the items' subjects.
    info : dict
        JSON-able description (protocol, seed, parameters, ...). ``format``,
        ``format_version`` and ``myoflow_version`` (if absent) are added.
    overwrite : bool
        Replace an existing myoflow dataset in ``out_dir``.

    Returns
    -------
    Dataset
        The folder, opened with :func:`load_dataset`.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise DataError("dataset destination exists and is not a folder", str(out))
    old_stems: set[str] = set()
    marker = out / PARTIAL_MARKER
    if out.is_dir() and any(out.iterdir()):
        # a write of ours that was killed (kill -9, a full disk) left the marker and no dataset.json: it is
        # replaced like a finished dataset, so the same command run again goes through
        partial = marker.is_file() and not marker.is_symlink()
        if not is_dataset_folder(out) and not partial:
            raise DataError("refusing to write a dataset into a non-empty folder that is not a myoflow dataset", str(out))
        if not overwrite:
            raise DataError("a myoflow dataset already exists here (pass overwrite=True to replace it)", str(out))
        try:
            old_stems = set(pd.read_csv(out / "index.csv", dtype={"stem": str})["stem"])
        except (OSError, KeyError, pd.errors.ParserError, pd.errors.EmptyDataError):
            old_stems = set()
        if partial:
            try:
                killed = {ln.strip() for ln in marker.read_text("utf-8").splitlines() if ln.strip()}
            except (OSError, UnicodeDecodeError):
                killed = set()
            old_stems |= killed
            for stem in killed:  # the temporary file of the save that was cut short (_atomic.atomic_path's name)
                if _safe_stem(stem) and _inside(out, stem):
                    target = out / f"{stem}{native.SUFFIX}"
                    for tmp in target.parent.glob(f".{target.name}.*{native.SUFFIX}"):
                        if tmp.is_file() and not tmp.is_symlink():
                            tmp.unlink()
        if (out / "dataset.json").exists():
            (out / "dataset.json").unlink()  # the folder is incomplete until the new dataset.json lands
    out.mkdir(parents=True, exist_ok=True)
    if not isinstance(info, dict):
        raise DataError(f"dataset info must be a dict, got {type(info).__name__}", str(out))
    if marker.is_symlink():
        raise DataError(f"{PARTIAL_MARKER} in the dataset folder is a symbolic link; remove it", str(out))
    # the stems of this write, one per line before each file lands: a killed write's files are known
    with open(marker, "a", encoding="utf-8") as fh:
        fh.write("")

    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for item in items:
        try:
            stem, obj = item
        except (TypeError, ValueError):
            raise DataError(f"dataset items must be (stem, object) pairs, got {type(item).__name__}", str(out)) from None
        stem = _check_stem(stem)
        if stem in seen:
            raise DataError(f"duplicate dataset item stem {stem!r}", str(out))
        if not _inside(out, stem):  # a symlinked subfolder of out must not take the write elsewhere
            raise DataError(f"item {stem!r} would be written outside the dataset folder (a symlink in it leads out)",
                            str(out))
        if not isinstance(obj, (Recording, Trial, Epochs)):
            raise DataError(f"item {stem!r} is a {type(obj).__name__}, expected Recording, Trial or Epochs", str(out))
        seen.add(stem)
        _check_ids(pd.Series([_subject_of(obj)], dtype=object), "subject", out / f"{stem}{native.SUFFIX}")
        with open(marker, "a", encoding="utf-8") as fh:
            fh.write(stem + "\n")
        native.save(obj, out / f"{stem}{native.SUFFIX}")
        rows.append(_index_row(stem, obj))
    if not rows:
        raise DataError("no items to write: a dataset needs at least one recording", str(out))
    for stale in sorted(old_stems - seen):
        # the old index.csv is the folder's own file, not ours: a stem in it that is path-like or leads out
        # through a symlink is never followed, so replacing a dataset deletes nothing outside it
        if not _safe_stem(stale) or not _inside(out, stale):
            log.warning("%s: not deleting stale item %r of the old index.csv (outside the folder)", out, stale)
            continue
        stale_path = out / f"{stale}{native.SUFFIX}"
        if stale_path.is_file() or stale_path.is_symlink():
            stale_path.unlink()

    columns = list(_SUMMARY_COLUMNS)
    for row in rows:
        columns += [k for k in row if k not in columns]
    index = pd.DataFrame(rows, columns=columns)
    empty = [c for c in columns if c not in ("stem", "kind", "subject") and index[c].isna().all()]
    index = index.drop(columns=empty)
    for col in ("n_channels", "n_samples", "n_epochs"):
        if col in index.columns:
            index[col] = index[col].astype("Int64")  # counts stay integers even with gaps

    if participants is None:
        subs = [s for s in pd.unique(index["subject"]) if s is not None and not pd.isna(s)]
        participants = pd.DataFrame({"subject": subs})
    if not isinstance(participants, pd.DataFrame) or "subject" not in participants.columns:
        raise DataError("participants must be a DataFrame with a 'subject' column", str(out))
    if participants["subject"].duplicated().any():
        dup = participants.loc[participants["subject"].duplicated(), "subject"].tolist()
        raise DataError(f"participants lists subject(s) {dup} more than once", str(out))

    index_dtypes = _write_table(out / "index.csv", index.reset_index(drop=True))
    part_dtypes = _write_table(out / "participants.csv", participants.reset_index(drop=True))
    doc = {"format": DATASET_FORMAT, "format_version": DATASET_FORMAT_VERSION}
    doc.update(to_jsonable(info))
    doc.setdefault("myoflow_version", __version__)
    doc["n_items"] = len(rows)
    doc["_dtypes"] = {"index": index_dtypes, "participants": part_dtypes}
    atomic_write_json(out / "dataset.json", doc)
    marker.unlink()
    log.info("wrote dataset of %d item(s) to %s", len(rows), out)
    return load_dataset(out)


class Dataset:
    """A standard dataset folder, opened lazily.

    Attributes
    ----------
    path : Path
    info : dict
        Contents of ``dataset.json`` (without the internal ``_dtypes``).
    participants : DataFrame
        One row per subject (``subject`` + covariates).
    index : DataFrame
        One row per file (``stem``, ``kind``, ``subject``, ``fs``, ... scalar meta).
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        meta_path = self.path / "dataset.json"
        if not self.path.exists():
            raise DataError("dataset folder not found", str(self.path))
        if not meta_path.is_file():
            raise DataError("not a myoflow dataset folder (no dataset.json)", str(self.path))
        root = self.path.resolve()
        for name in ("dataset.json", "index.csv", "participants.csv"):
            # the folder's own tables, like its items, are never read from outside it through a symlink
            if (self.path / name).is_symlink() and not (self.path / name).resolve().is_relative_to(root):
                raise DataError(f"{name} is a symlink leading outside the dataset folder "
                                f"(to {(self.path / name).resolve()})", str(self.path / name))
        doc = _read_json(meta_path)
        if doc.get("format") != DATASET_FORMAT:
            raise DataError(f"dataset.json does not declare format {DATASET_FORMAT!r}", str(meta_path))
        dtypes = doc.pop("_dtypes", {}) or {}
        if not isinstance(dtypes, dict) or not all(isinstance(v, dict) or v is None for v in dtypes.values()):
            raise DataError("dataset.json: '_dtypes' must map table names to column dtypes", str(meta_path))
        self.info: dict[str, Any] = doc
        index_path, part_path = self.path / "index.csv", self.path / "participants.csv"
        self.index: pd.DataFrame = _read_table(index_path, dtypes.get("index"))
        self.participants: pd.DataFrame = _read_table(part_path, dtypes.get("participants"))
        if "stem" not in self.index.columns:
            raise DataError("index.csv has no 'stem' column", str(index_path))
        if "subject" not in self.participants.columns:
            raise DataError("participants.csv has no 'subject' column", str(part_path))
        if self.index["stem"].isna().any():
            raise DataError(f"index.csv row {int(np.argmax(self.index['stem'].isna())) + 2} has no stem", str(index_path))
        self._stems = [str(s) for s in self.index["stem"]]
        for stem in self._stems:
            try:
                _check_stem(stem)
            except DataError as exc:
                raise DataError(str(exc), str(index_path)) from None
            # a symlink inside the folder must not lead the reader out of it either
            if not (self.path / f"{stem}{native.SUFFIX}").resolve().is_relative_to(root):
                raise DataError(f"item {stem!r} points outside the dataset folder", str(index_path))
        if len(set(self._stems)) != len(self._stems):
            dup = sorted({s for s in self._stems if self._stems.count(s) > 1})
            raise DataError(f"index.csv lists stem(s) {dup[:5]} more than once", str(index_path))
        _check_ids(self.participants["subject"], "subject", part_path)
        if self.participants["subject"].isna().any():
            raise DataError("participants.csv has a row without a subject id", str(part_path))
        if self.participants["subject"].astype(str).duplicated().any():
            dup = self.participants.loc[self.participants["subject"].astype(str).duplicated(), "subject"].tolist()
            raise DataError(f"participants.csv lists subject(s) {dup[:5]} more than once", str(part_path))
        if "subject" in self.index.columns:
            _check_ids(self.index["subject"], "subject", index_path)
            listed = set(self.participants["subject"].astype(str))
            used = set(self.index["subject"].dropna().astype(str))
            unknown = sorted(used - listed)
            if unknown:
                raise DataError(f"index.csv has item(s) of subject(s) {unknown[:5]} that participants.csv does not "
                                "list", str(index_path))
            # items without a subject (e.g. Epochs pooling several) may hold anyone: then nothing can be said
            complete = bool(used) and not self.index["subject"].isna().any()
            self.subjects_without_items = sorted(listed - used) if complete else []
            if self.subjects_without_items:
                log.warning("%s: participants.csv lists %d subject(s) without any recording: %s", part_path,
                            len(self.subjects_without_items), self.subjects_without_items[:10])
        else:
            self.subjects_without_items = []

    @property
    def stems(self) -> list[str]:
        return list(self._stems)

    @property
    def subjects(self) -> list[Any]:
        """Subject ids, from ``participants.csv`` (in its order)."""
        return self.participants["subject"].tolist()

    def __len__(self) -> int:
        return len(self._stems)

    def __contains__(self, stem: str) -> bool:
        return stem in self._stems

    def file(self, stem: str) -> Path:
        if stem not in self._stems:
            shown = ", ".join(self._stems[:5]) + (" ..." if len(self._stems) > 5 else "")
            raise DataError(f"no item {stem!r} in dataset (items: {shown})", str(self.path))
        return self.path / f"{stem}{native.SUFFIX}"

    def load(self, stem: str) -> Recording | Trial | Epochs:
        """Read one item by its stem."""
        return native.load(self.file(stem))

    def __iter__(self) -> Iterator[tuple[str, Recording | Trial | Epochs]]:
        """Yield ``(stem, obj)`` pairs, loading each file only when reached."""
        for stem in self._stems:
            yield stem, self.load(stem)

    def __repr__(self) -> str:
        return (
            f"<Dataset {self.path} protocol={self.info.get('protocol')!r}: {len(self)} item(s), "
            f"{len(self.participants)} subject(s)>"
        )


def folder_fingerprint(path: str | os.PathLike) -> str:
    """What a cache of data read from a dataset folder must be keyed on: the folder's resolved location, the bytes
    of its tables (``dataset.json``, ``index.csv``, ``participants.csv``) and each item file's size and
    modification time.

    ``dataset.json`` alone says the same for two conversions of as many files, so re-converting corrected files
    (or another cohort into the same folder name) would silently reuse the first one's windows.
    """
    root = Path(path).resolve()
    h = hashlib.sha256(str(root).encode())
    for name in ("dataset.json", "index.csv", "participants.csv"):
        f = root / name
        h.update(name.encode() + (f.read_bytes() if f.is_file() else b"<missing>"))
    for f in sorted(root.rglob(f"*{native.SUFFIX}")):
        if any(part.startswith(".") for part in f.relative_to(root).parts):
            continue  # macOS '._S01.h5' AppleDouble files and hidden folders come and go with copies: not items
        try:
            st = f.stat()
        except OSError:
            continue
        h.update(f"{f.relative_to(root).as_posix()}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()


def load_dataset(path: str | os.PathLike) -> Dataset:
    """Open a folder written by :func:`write_dataset` (files are read lazily)."""
    return Dataset(path)
