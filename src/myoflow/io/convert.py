"""Raw recording files + a manifest → a standard dataset folder (``myoflow convert``).

Which file is which subject / session / trial / muscle / side comes from either

* a manifest table (CSV) with a ``file`` column (paths relative to the manifest's
  folder) and any of ``subject``, ``session``, ``trial``, ``muscle``, ``side``,
  ``stream``, plus free metadata columns (``task``, ``condition``, ...), or
* a filename pattern such as ``{subject}_{muscle}_{side}`` matched against each
  file's name without its suffix (``*`` matches anything, fields never span ``/``).

Files sharing subject, session and trial but with different ``stream`` values
(``angles``, ``emg``, ``grf``, ``moments``, ``events``...) become one
:class:`~myoflow.containers.Trial`; other files become one Recording each. A
channel map renames channels (``ch1=RF``); ``split_channels`` writes one
Recording per channel with ``meta["muscle"]`` = the channel's name (what the
muscle-id pipeline reads).

Every file is read with :func:`myoflow.io.read` and the same hints; rows with
missing values are handled by ``bad_rows`` (text and OpenSim tables).
"""
from __future__ import annotations

import csv
import logging
import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from .._atomic import atomic_write_text
from ..containers import Recording, Trial
from ..errors import DataError
from ._common import BAD_ROW_POLICIES, SCALING_KEY, dead_stretch, label_spellings
from .dataset import id_problem

__all__ = ["ConvertItem", "convert", "plan_from_manifest", "plan_from_pattern", "parse_mapping", "FIELDS"]

log = logging.getLogger(__name__)

#: Manifest / pattern fields that identify an item (all optional except the file).
FIELDS = ("subject", "session", "trial", "muscle", "side", "stream")
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass
class ConvertItem:
    """One raw file and what it is.

    ``transform``, when given, is applied to what the file reads as, before channel maps and splitting:
    a format whose sidecars describe the file (BIDS' ``_channels.tsv``, :mod:`myoflow.io.bids`) checks and
    applies them there, so the one reader and the one writer stay those of every other input.
    """

    path: Path
    meta: dict[str, Any] = field(default_factory=dict)
    transform: Callable[[Any], Any] | None = None


def parse_mapping(text: str | Mapping[str, str] | Sequence[str] | None, what: str = "--channel-map",
                  pair: str = "NAME=NEW") -> dict[str, str]:
    """``"ch1=RF,ch2=BF"`` (or several such strings, or a dict) → ``{"ch1": "RF", "ch2": "BF"}``.

    ``what`` (the option) and ``pair`` (the expected form) name the input in errors.
    """
    if text is None:
        return {}
    if isinstance(text, Mapping):
        return {str(k): str(v) for k, v in text.items()}
    parts: list[str] = []
    for t in [text] if isinstance(text, str) else list(text):
        parts += [p for p in str(t).split(",") if p.strip()]
    out: dict[str, str] = {}
    for p in parts:
        if "=" not in p:
            raise DataError(f"{what}: expected {pair} pairs separated by commas, got {p!r}")
        k, v = (s.strip() for s in p.split("=", 1))
        if not k or not v:
            raise DataError(f"{what}: empty name in {p!r}")
        if k in out and out[k] != v:  # the later one silently won
            raise DataError(f"{what}: {k!r} is given twice ({out[k]!r} and {v!r})")
        out[k] = v
    return out


def _pattern_regex(pattern: str) -> tuple[re.Pattern, list[str]]:
    names: list[str] = []
    pos, rx = 0, ""
    for m in re.finditer(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", pattern):
        rx += re.escape(pattern[pos:m.start()]).replace(r"\*", "[^/]*")
        name = m.group(1)
        if name in names:
            raise DataError(f"--pattern names field {{{name}}} twice: {pattern!r}")
        names.append(name)
        rx += f"(?P<{name}>[^/]+?)"
        pos = m.end()
    rx += re.escape(pattern[pos:]).replace(r"\*", "[^/]*")
    if not names:
        raise DataError(f"--pattern {pattern!r} names no field; e.g. '{{subject}}_{{muscle}}_{{side}}'")
    return re.compile(f"^{rx}$"), names


def _not_data(rel: Path) -> bool:
    """True for what an operating system, an editor or a person leaves in a data folder and is not a recording:
    hidden files and folders (``.DS_Store``, macOS' AppleDouble ``._S01_VL.csv`` beside every file copied to a
    USB stick, ``.ipynb_checkpoints/``, ``.git/``) and ``README``/``readme`` notes (``README.txt`` has a table's
    suffix). ``rel`` is the path under the input folder the user named."""
    return any(part.startswith(".") for part in rel.parts) or rel.name.lower().startswith("readme")


def _files_under(inputs: Iterable[str | os.PathLike], exclude: str | os.PathLike | None = None
                 ) -> list[tuple[Path, Path]]:
    """``(file, base folder)`` for every readable file under the inputs (folders searched recursively),
    except those under ``exclude`` (the output folder: a dataset written inside its inputs is not an input)
    and those :func:`_not_data` names (hidden files and folders, README notes)."""
    from .dataset import is_dataset_folder
    from .reader import _SPREADSHEETS, READERS

    skip = Path(exclude).resolve() if exclude is not None else None
    out: list[tuple[Path, Path]] = []
    clutter: list[Path] = []
    sheets: list[Path] = []  # .xls/.ods: never recordings here, but a lab's own may be among them
    for inp in inputs:
        p = Path(inp)
        if not p.exists():
            raise DataError("input not found", str(p))
        if skip is not None and p.resolve().is_relative_to(skip):
            # every file of it would be skipped as output: say so, not "no recording files found"
            raise DataError(f"the input lies in the output folder {Path(exclude)}: write the dataset to a new "
                            f"folder (e.g. --out {p.name}_myoflow)", str(p))
        if p.is_dir():
            root = p.resolve()
            # a dataset folder under the inputs (an earlier conversion) holds converted copies, not inputs
            done = [d.parent.resolve() for d in p.rglob("dataset.json")
                    if not d.is_symlink() and is_dataset_folder(d.parent)
                    and not (skip is not None and d.parent.resolve().is_relative_to(skip))]
            for d in done:
                log.warning("%s: skipping the myoflow dataset folder inside the inputs (an earlier conversion?)", d)
            for f in sorted(p.rglob("*")):
                if _not_data(f.relative_to(p)):
                    if f.suffix.lower() in READERS and not f.is_dir():
                        clutter.append(f)
                    continue
                if f.suffix.lower() in _SPREADSHEETS and f.is_file():
                    sheets.append(f)
                    continue
                if f.is_symlink():
                    _check_link(f, root, READERS)
                    continue
                if f.is_file() and f.suffix.lower() in READERS \
                        and not (skip is not None and f.resolve().is_relative_to(skip)) \
                        and not any(f.resolve().is_relative_to(d) for d in done):
                    out.append((f, p))
        else:
            out.append((p, p.parent))
    if clutter:  # named, as they look like recordings (README.txt, ._S01_VL.csv): the user knows they were left out
        log.warning("%s%s: %d hidden or README file(s) skipped, not recordings", clutter[0],
                    " ..." if len(clutter) > 1 else "", len(clutter))
    # A WFDB record's .dat files are not listed (no reader of their own), and the segment headers of a
    # multi-segment record are parts of its master header, not records.
    heas = [f for f, _ in out if f.suffix.lower() == ".hea"]
    if heas:
        from .wfdb import wfdb_companions

        parts = set().union(*(wfdb_companions(f) for f in heas))
        out = [(f, b) for f, b in out if f.suffix.lower() != ".hea" or f.resolve() not in parts]
    if sheets:
        log.warning("%s%s: %d spreadsheet file(s) not read: save a recording's sheet as CSV (File > Save As > 'CSV "
                    "UTF-8') to convert it", sheets[0], " ..." if len(sheets) > 1 else "", len(sheets))
    if not out:
        raise DataError("no recording files found in the inputs", ", ".join(map(str, inputs)))
    return out


def _check_link(f: Path, root: Path, readers) -> None:
    """A symlink met while searching an input folder is not followed (its target, when inside, is found on its
    own); one that leads out of the folder to a recording or a folder would silently drop data, so it is an error."""
    try:
        target = f.resolve()
    except (OSError, RuntimeError):  # a symlink loop
        raise DataError("symlink cannot be resolved (a loop)", str(f)) from None
    if target.is_relative_to(root):
        if f.suffix.lower() in readers or target.is_dir():
            log.warning("%s: symlink not followed (its target %s is inside the input folder)", f, target)
        return
    if target.is_dir() or f.suffix.lower() in readers or target.suffix.lower() in readers:
        raise DataError(f"symlink leads outside the input folder (to {target}); files are only read from the "
                        "folders named: give its target as an input instead", str(f))


def plan_from_pattern(inputs: Iterable[str | os.PathLike], pattern: str,
                      exclude: str | os.PathLike | None = None) -> list[ConvertItem]:
    """Match each input file's name (relative to its folder, without suffix) against ``pattern``;
    files under ``exclude`` (the output folder) are not inputs."""
    rx, names = _pattern_regex(pattern)
    items, unmatched = [], []
    for f, base in _files_under(inputs, exclude):
        rel = f.relative_to(base).with_suffix("").as_posix() if f.is_relative_to(base) else f.stem
        m = rx.match(rel) or rx.match(f.stem)
        if not m:
            unmatched.append(rel)
            continue
        items.append(ConvertItem(f, {k: v for k, v in m.groupdict().items()}))
    if unmatched:
        shown = ", ".join(unmatched[:3]) + (" ..." if len(unmatched) > 3 else "")
        raise DataError(f"{len(unmatched)} file name(s) do not match --pattern {pattern!r}: {shown}")
    # One name in two formats (S01_VL.edf beside its S01_VL.csv export) gives the same ids twice: the recording
    # entered the folder twice (stems 01_VL, 01_VL-2), on both sides of every within-subject split.
    seen: dict[tuple[Path, tuple], Path] = {}
    for it in items:
        key = (it.path.with_suffix(""), tuple(sorted(it.meta.items())))
        if key in seen:
            raise DataError(f"{seen[key].name} and {it.path.name} are one name in two formats (the same recording "
                            "exported twice?) and would be two recordings: move one out of the folder, or, if they "
                            "hold different streams of a trial, list them in a --manifest with a 'stream' column",
                            str(it.path.parent))
        seen[key] = it.path
    return items


# Column names myoflow looks up by name: a table made in a spreadsheet often writes them capitalised
# ('File', 'Subject', 'Weight'), which read as extra metadata ('no subject for ...', 'height unknown').
_KNOWN_COLUMNS = ("file", *FIELDS, "kind", "time_s", "age", "sex", "height", "weight", "bmi")


def _known_column_case(columns: Sequence[str], where: str) -> list[str]:
    """Column names with the known ones in myoflow's spelling (lower case), refusing two spellings of one."""
    out = []
    for c in columns:
        low = c.lower()
        out.append(low if low in _KNOWN_COLUMNS and c != low else c)
    for name in set(out):
        same = [c for c, o in zip(columns, out) if o == name]
        if len(same) > 1 and name in _KNOWN_COLUMNS:
            raise DataError(f"columns {same} are one column in two spellings; keep one", where)
    renamed = [c for c, o in zip(columns, out) if c != o]
    if renamed:
        log.info("%s: column(s) %s read as %s", where, renamed, [c.lower() for c in renamed])
    return out


def _encoding(path: Path) -> str:
    """The text encoding of a user's small table: UTF-8 (with or without a BOM), else Windows-1252, which Excel's
    "CSV (semicolon)" writes on Windows ('Größe', 'Müller', 'µV' were "'utf-8' codec can't decode byte 0xf6")."""
    try:
        path.read_bytes().decode("utf-8")
        return "utf-8-sig"
    except UnicodeDecodeError:
        return "cp1252"
    except OSError as exc:
        raise DataError(f"cannot read: {exc.strerror or exc}", str(path)) from None


def plan_from_manifest(manifest: str | os.PathLike) -> list[ConvertItem]:
    """Read a manifest CSV: a ``file`` column (relative to the manifest's folder) + metadata columns."""
    mpath = Path(manifest)
    if not mpath.is_file():
        raise DataError("manifest not found", str(mpath))
    if mpath.stat().st_size == 0:
        raise DataError("manifest is empty (0 bytes)", str(mpath))
    try:
        table = pd.read_csv(mpath, dtype=str, keep_default_na=False, sep=_delimiter(mpath), encoding=_encoding(mpath))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError, csv.Error) as exc:
        raise DataError(f"cannot parse manifest: {exc}", str(mpath)) from None
    table.columns = _known_column_case([str(c).strip() for c in table.columns], str(mpath))
    if "file" not in table.columns:
        raise DataError(f"manifest needs a 'file' column; columns are {list(table.columns)}", str(mpath))
    root = mpath.parent.resolve()
    items = []
    first_row: dict[Path, int] = {}
    for i, row in table.iterrows():
        if all(str(v).strip() == "" for v in row.values):
            continue  # an empty line Excel left below the table
        name = row["file"].strip()
        if "\\" in name and not (root / name).is_file():
            name = name.replace("\\", "/")  # typed on Windows (raw\S01_VL.csv): the same file on this system
        f = (root / name).resolve()
        if not name or not f.is_relative_to(root):
            raise DataError(f"row {i + 2}: file {name!r} must be a path inside the manifest's folder", str(mpath))
        if not f.is_file():
            raise DataError(f"row {i + 2}: file {name!r} not found", str(mpath))
        if f in first_row:  # two rows for one file: which of their labels is right cannot be guessed
            raise DataError(f"row {i + 2}: file {name!r} is listed again (first on row {first_row[f]})", str(mpath))
        first_row[f] = i + 2
        meta = {k: (str(v).strip() if k in FIELDS else _scalar(v))
                for k, v in row.items() if k != "file" and str(v).strip() != ""}
        items.append(ConvertItem(f, meta))
    if not items:
        raise DataError("manifest lists no files", str(mpath))
    scaling = [c for c in table.columns if c != "file" and SCALING_KEY.search(c)]
    if scaling:
        # a lab's per-file amplifier gain: kept as metadata like any column, so counts stayed counts in silence
        log.warning("%s: column(s) %s are kept as metadata only: no sample is scaled by them (files read as a.u. "
                    "stay ADC counts); convert the counts to volts yourself (value x range / 2^bits / gain), or "
                    "give their unit (--hint units=uV) if they already are in one", mpath, scaling)
    return items




def _check_item_ids(item: ConvertItem, muscle_from: str | None = None) -> None:
    """Ids become parts of stems, fold folders and report labels: refuse path-like ones up front.

    The same rule as :class:`~myoflow.io.dataset.Dataset` applies when it reads the folder back; checking
    here names the raw file the id came from and writes nothing. ``muscle_from`` says where the muscle id
    came from when it is not the manifest or pattern (``--split-channels``: a channel's name).
    """
    try:
        # a name in another encoding (Latin-1 'é' on a UTF-8 system) reaches Python as lone surrogates,
        # which no UTF-8 file (index.csv, the .h5 meta) can hold: a traceback at the first write
        str(item.path).encode("utf-8")
    except UnicodeEncodeError:
        raise DataError("the file's name (or a folder's above it) is not valid UTF-8 text (saved under another "
                        "encoding?): rename it", ascii(str(item.path))) from None
    for k in FIELDS:
        v = item.meta.get(k)
        if v is None:
            continue
        text = str(v)
        why = id_problem(text)
        if why:
            what = f"{muscle_from} {text!r}" if (k == "muscle" and muscle_from) else f"{k} {text!r}"
            raise DataError(f"{what} is not allowed: {why}", str(item.path))
    if "fs" in item.meta:
        # a field named fs was kept as text beside the rate read from the file, and never used as the rate
        raise DataError(f"'fs' cannot be a manifest column or --pattern field (got {item.meta['fs']!r}): the "
                        "sampling rate is read from each file; give rate-less tables theirs with --fs", str(item.path))
    f = item.meta.get("frequency")
    if f is not None:
        # pipelines read it as the stimulation rate in Hz; text such as 'VL' failed deep inside a run
        try:
            x = float(f)
        except (TypeError, ValueError):
            x = float("nan")
        if not (np.isfinite(x) and x > 0):
            raise DataError(f"frequency {f!r} is not a stimulation frequency in Hz (a positive number; e.g. "
                            "'S01_RF_25Hz.edf' with --pattern '{subject}_{muscle}_{frequency}Hz')", str(item.path))


def _check_file_ids(path: Path, meta: Mapping[str, Any]) -> None:
    """The id rule for ids a file carries itself (a native .h5's or an NWB file's meta), named after the file.

    The manifest's and the pattern's ids are checked before reading; these come out of the file, and a
    muscle '../x' or side '/abs' reached index.csv and the reports.
    """
    ids = {k: meta[k] for k in FIELDS if k != "stream" and meta.get(k) is not None}
    if ids:
        _check_item_ids(ConvertItem(path, ids), None)


def _scalar(v: str) -> Any:
    """Manifest cell → number when it is one, else the stripped string (ids such as '01' stay strings)."""
    s = str(v).strip()
    if re.fullmatch(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?", s):
        return float(s) if any(c in s for c in ".eE") else int(s)
    return s


def _stem(meta: Mapping[str, Any], fallback: str) -> str:
    parts = [str(meta[k]) for k in ("subject", "session", "trial", "muscle", "side") if meta.get(k) not in (None, "")]
    stem = "_".join(parts) if parts else fallback
    # file names stay ASCII: accents are dropped (Jürgen -> Jurgen), anything else becomes '-'
    stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode("ascii")
    stem = _SAFE.sub("-", stem).strip("-.") or "item"
    return stem


def _rename(rec: Recording, mapping: Mapping[str, str], where: str) -> Recording:
    if not mapping:
        return rec
    names = [mapping.get(c, c) for c in rec.ch_names]
    if len(set(names)) != len(names):
        raise DataError(f"--channel-map gives duplicate channel names {names}", where)
    return rec.replace(ch_names=tuple(names))


def _no_repeated_names(names: Sequence[str], where: str) -> None:
    """With ``--split-channels`` a channel's name is its class label: a name the file repeats (read back as
    ``RF``, ``RF_2``) would silently become two muscles, so it must be resolved by the user."""
    present = set(names)
    for n in names:
        m = re.fullmatch(r"(.+)_([2-9]|[1-9][0-9]+)", n)
        if m and m.group(1) in present:
            raise DataError(f"the file repeats channel name {m.group(1)!r} (read as {m.group(1)!r}, {n!r}); with "
                            "--split-channels each channel's name is its muscle: rename them with --channel-map "
                            "or --hint ch_names=...", where)


def _warn_uneven_spans(trial: Trial) -> None:
    """Streams of one trial recorded together cover about the same time; one much shorter than the others is
    usually a truncated or cropped export, and would later look like cycles outside the valid range."""
    spans = {k: (r.t0, r.t0 + r.duration) for k, r in trial.streams.items()}
    lengths = {k: b - a for k, (a, b) in spans.items()}
    longest = max(lengths.values())
    short = {k: v for k, v in lengths.items() if longest - v > max(1.0, 0.1 * longest)}
    shown = ", ".join(f"{k} {a:.2f}-{b:.2f} s" for k, (a, b) in spans.items())
    if short:
        log.warning("%s: the trial's streams cover different spans (%s): %s shorter than the rest (a truncated "
                    "or cropped file?)", trial.source, shown, sorted(short))
        return
    starts = [a for a, _ in spans.values()]
    if max(starts) - min(starts) > max(0.5, 0.05 * longest):
        # as long as each other but shifted: one recording on two clocks (an EMG export whose time starts at 0
        # beside an IK .mot on the motion-capture clock); streams are aligned by their times, so every cycle's
        # EMG would come from another moment of the walk than its angles
        log.warning("%s: the trial's streams last as long as each other but start at different times (%s): are "
                    "their time columns on one clock? Streams are aligned by time; if the files were cut to the "
                    "same stretch, make their time columns start together", trial.source, shown)


def _apply_meta(rec: Recording, meta: Mapping[str, Any]) -> Recording:
    m = dict(rec.meta)
    m.update({k: v for k, v in meta.items() if k != "stream"})
    return rec.replace(meta=m)


def _hints_for(items: Sequence[ConvertItem], hints: Mapping[str, Any]) -> dict[Path, dict[str, Any]]:
    """Each file's share of the hints: the ones its reader takes (``--fs`` is for the tables without a rate in a
    folder that also holds EDF files, which state their own). A hint no input's reader takes is a typo."""
    from .reader import hint_names

    per = {it.path: {k: v for k, v in hints.items() if k in hint_names(it.path)} for it in items}
    unused = sorted(set(hints) - {k for h in per.values() for k in h})
    if unused:
        kinds = sorted({it.path.suffix.lower() for it in items})
        taken = sorted({k for it in items for k in hint_names(it.path)})
        raise DataError(f"hint(s) {unused} are taken by none of the inputs' readers ({', '.join(kinds)} files "
                        f"take {taken})")
    return per


def _read_one(item: ConvertItem, hints: Mapping[str, Any], bad_rows: str) -> tuple[Any, int]:
    from .reader import READERS, read

    from .reader import hint_names

    kw = dict(hints)
    suffix = item.path.suffix.lower()
    if bad_rows != "error" and "bad_rows" in hint_names(item.path):  # text and OpenSim tables
        kw["bad_rows"] = bad_rows
    if suffix not in READERS:
        raise DataError(f"unknown file type {suffix!r}", str(item.path))
    obj = read(item.path, **kw)
    if isinstance(obj, list) and len(obj) == 1:
        obj = obj[0]
    if not isinstance(obj, (Recording, Trial)):
        raise DataError(f"convert takes recording files; this reads as {type(obj).__name__}", str(item.path))
    if item.transform is not None:
        obj = item.transform(obj)
    recs = [obj] if isinstance(obj, Recording) else list(obj.streams.values())
    return obj, int(sum(r.meta.get("bad_rows_changed", 0) for r in recs))


def convert(
    items: Sequence[ConvertItem],
    out_dir: str | os.PathLike,
    *,
    hints: Mapping[str, Any] | None = None,
    channel_map: Mapping[str, str] | None = None,
    split_channels: bool = False,
    bad_rows: str = "error",
    participants: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
    overwrite: bool = True,
    stream_names: Mapping[str, str] | None = None,
    progress: bool | None = None,
    event_map: Mapping[str, str] | None = None,
) -> tuple[Any, pd.DataFrame]:
    """Read every item and write one dataset folder.

    Parameters
    ----------
    items : sequence of ConvertItem
        From :func:`plan_from_manifest` or :func:`plan_from_pattern`.
    out_dir : path-like
        The dataset folder to write (see :func:`~myoflow.io.dataset.write_dataset`).
    hints : mapping, optional
        Reader hints for every file (``fs``, ``delimiter``, ``ch_names``, ...).
    channel_map : mapping, optional
        Channel renames, ``{"ch1": "RF"}``; applied before ``split_channels``.
    split_channels : bool
        One Recording per channel, ``meta["muscle"]`` = the channel's name.
    bad_rows : {"error", "drop", "interpolate"}
        Policy for table rows with missing values; rows changed are counted per file.
    participants : DataFrame, optional
        ``subject`` + covariates; default one row per subject seen.
    events : DataFrame, optional
        Extra events: columns ``kind``, ``time_s`` and any of ``subject``, ``session``, ``trial``,
        ``muscle``, ``side`` (an event goes on every item whose ids equal the row's filled cells; a row
        that matches no item is an error) and ``stream`` (default: the item's first stream).
    stream_names : mapping, optional
        Renames of the streams of a file that reads as several (a multi-rate EDF's ``"1000Hz"`` and
        ``"100Hz"``): ``{"1000Hz": "emg", "100Hz": "angles"}`` (``myoflow convert --streams``).
    event_map : mapping, optional
        Event kind renames for every item, ``{"trigger": "stimulus"}`` (``myoflow convert --event-map``):
        the readers name events after the file (``trigger`` from a trigger channel, a BIDS ``trial_type``,
        a WFDB mnemonic), the pipelines read ``stimulus``, ``heel_strike``, ``burst_onset``. Applied to the
        files' events and to ``events``; a kind no item has is an error listing the kinds seen.
    progress : bool, optional
        A progress bar on stderr while reading; default: when there are 50 items or more and stderr is a
        terminal (a folder of thousands of small files otherwise gives no sign of life for minutes).

    Returns
    -------
    dataset : Dataset
    summary : DataFrame
        One row per written item (stem, files, subject, ..., fs, channels,
        duration, rows changed); also written to ``out_dir/convert_summary.csv``.
    """
    from .dataset import write_dataset

    if bad_rows not in BAD_ROW_POLICIES:
        raise DataError(f"--bad-rows must be one of {list(BAD_ROW_POLICIES)}, got {bad_rows!r}")
    hints = dict(hints or {})
    cmap = dict(channel_map or {})
    snames = {str(k): str(v) for k, v in (stream_names or {}).items()}
    for v in snames.values():
        why = id_problem(v)
        if why:
            raise DataError(f"--streams: stream name {v!r} is not allowed: {why}")
    if not items:
        raise DataError("nothing to convert")
    for it in items:
        _check_item_ids(it)
    file_hints = _hints_for(items, hints)
    # Group files that are streams of one trial.
    groups: dict[tuple, list[ConvertItem]] = {}
    for it in items:
        if it.meta.get("stream") not in (None, ""):
            key = ("trial",) + tuple(str(it.meta.get(k, "")) for k in ("subject", "session", "trial"))
        else:
            key = ("file", str(it.path))
        groups.setdefault(key, []).append(it)

    written: list[tuple[str, Any]] = []
    rows: list[dict[str, Any]] = []
    used: set[str] = set()

    def unique(stem: str) -> str:
        s, k = stem, 2
        while s in used:
            s, k = f"{stem}-{k}", k + 1
        used.add(s)
        return s

    from tqdm.auto import tqdm

    bar = tqdm(total=len(groups), desc="convert", unit="item", leave=False,
               disable=(None if len(groups) >= 50 else True) if progress is None else not progress)
    for key, group in groups.items():
        bar.update(1)
        base_meta = {k: v for k, v in group[0].meta.items() if k not in ("stream", "muscle", "side")}
        if key[0] == "trial":
            streams: dict[str, Recording] = {}
            changed = 0
            for it in group:
                obj, n = _read_one(it, file_hints[it.path], bad_rows)
                changed += n
                name = str(it.meta["stream"])
                if name in streams:
                    raise DataError(f"two files give stream {name!r} of the same trial", str(it.path))
                if isinstance(obj, Trial):
                    for sub, rec in obj.streams.items():
                        key = snames.get(sub) or f"{name}_{sub}"
                        if key in streams:
                            raise DataError(f"two files give stream {key!r} of the same trial", str(it.path))
                        streams[key] = _rename(rec, cmap, str(it.path))
                else:
                    streams[name] = _rename(obj, cmap, str(it.path))
            for name, rec in streams.items():
                streams[name] = _apply_meta(rec, base_meta)
            obj = Trial(streams=streams, meta={**base_meta, "source": ";".join(str(i.path) for i in group)})
            _warn_uneven_spans(obj)
            for it, rec in zip(group, streams.values()):
                _check_file_ids(it.path, rec.meta)
            stem = unique(_stem(base_meta, group[0].path.stem))
            written.append((stem, obj))
            rows.append(_summary_row(stem, obj, group, changed))
            continue
        it = group[0]
        obj, changed = _read_one(it, file_hints[it.path], bad_rows)
        if isinstance(obj, Trial):
            obj = Trial(streams={snames.get(k, k): _apply_meta(_rename(r, cmap, str(it.path)), it.meta)
                                 for k, r in obj.streams.items()},
                        meta={**dict(obj.meta), **it.meta})
            outs = [(obj, it.meta)]
        else:
            obj = _apply_meta(_rename(obj, cmap, str(it.path)), it.meta)
            if split_channels:
                if "muscle" in it.meta:
                    raise DataError("--split-channels names each recording's muscle from its channel; "
                                    "the manifest/pattern must not also give 'muscle'", str(it.path))
                _no_repeated_names(obj.ch_names, str(it.path))
                outs = [(obj.pick([ch]).replace(meta={**obj.meta, "muscle": ch}), {**it.meta, "muscle": ch})
                        for ch in obj.ch_names]
                for _, meta in outs:  # a channel's name is now a muscle id: the same rule as every other id
                    _check_item_ids(ConvertItem(it.path, meta), "channel name (--split-channels: the muscle)")
            else:
                outs = [(obj, it.meta)]
        for o, meta in outs:
            _check_file_ids(it.path, o.meta)
            if isinstance(o, Trial):
                for rec in o.streams.values():
                    _check_file_ids(it.path, rec.meta)
            stem = unique(_stem(meta, it.path.stem))
            written.append((stem, o))
            rows.append(_summary_row(stem, o, [it], changed))

    bar.close()
    _check_units_agree(written, rows)
    _check_label_spellings(written)
    _check_no_copies(written)
    if events is not None:
        written = _attach_events(written, events)
    if event_map:
        written = _map_event_kinds(written, {str(k): str(v) for k, v in event_map.items()})
    subjects = [r["subject"] for r in rows]
    if any(s in (None, "") for s in subjects):
        missing = [r["files"] for r in rows if r["subject"] in (None, "")][:3]
        raise DataError(f"no subject for {missing}: give a 'subject' column in the manifest or {{subject}} in --pattern")
    if participants is not None:
        participants = participants.copy()
        if participants["subject"].isna().any():
            row = int(np.flatnonzero(participants["subject"].isna().to_numpy())[0])
            raise DataError(f"row {row + 2} has no subject id", participants.attrs.get("source"))
        participants["subject"] = participants["subject"].astype(str).str.strip()
        dup = participants["subject"][participants["subject"].duplicated()].tolist()
        if dup:
            raise DataError(f"participants table lists subject(s) {dup[:5]} more than once",
                            participants.attrs.get("source"))
        for sid in participants["subject"]:
            _check_item_ids(ConvertItem(Path(participants.attrs.get("source") or "participants"), {"subject": sid}))
        unknown = sorted(set(map(str, subjects)) - set(participants["subject"]))
        if unknown:
            # '01' from a file name and 1 in a spreadsheet column: say why they differ
            # ... and 's01' typed in a spreadsheet for the file names' 'S01' (case matters in ids and file names)
            near = {u: t for u in unknown for t in participants["subject"]
                    if u.lstrip("0").casefold() == t.lstrip("0").casefold()}
            hint = (f" (it has {sorted(set(near.values()))[:5]}: ids are compared as text, so "
                    f"{next(iter(near))!r} is not {near[next(iter(near))]!r})") if near else ""
            raise DataError(f"participants table lacks subject(s) {unknown[:5]}{hint}",
                            participants.attrs.get("source"))
    ds = write_dataset(out_dir, written, participants,
                       {"protocol": "converted", "converted_from": len(items), "bad_rows": bad_rows,
                        "hints": {k: v for k, v in hints.items()}}, overwrite=overwrite)
    summary = pd.DataFrame(rows)
    atomic_write_text(Path(out_dir) / "convert_summary.csv", summary.to_csv(index=False, lineterminator="\n"))
    return ds, summary


def _map_event_kinds(written: list[tuple[str, Any]], emap: Mapping[str, str]) -> list[tuple[str, Any]]:
    """Rename event kinds (``--event-map trigger=stimulus``) on every Recording and Trial stream.

    A key ``KIND:CODE`` (``trigger:1=stimulus``) renames only the events of that ``code``: a trigger channel
    carrying the stimulator's code beside a marker's (or a line idling at a non-zero code, whose every
    return to idle is an event too). A key no event matches is an error: a typo (``triger``) would otherwise
    leave the pipeline detecting pulses from the artefact, or finding no heel strikes, without a word.
    """
    rules: list[tuple[str, str, str | None, str]] = []  # (key, kind, code or None, new kind)
    for key, new in emap.items():
        kind, sep, code = key.partition(":")
        if sep and (not kind or not code):
            raise DataError(f"--event-map: {key!r} is not KIND or KIND:CODE")
        rules.append((key, kind, code if sep else None, new))
    matched: set[str] = set()
    seen: dict[str, set[str]] = {}

    def code_text(v: Any) -> str:
        try:
            f = float(v)
        except (TypeError, ValueError):
            return str(v)
        return f"{f:g}" if np.isfinite(f) else str(v)

    def one(rec: Recording) -> Recording:
        if not len(rec.events):
            return rec
        ev = rec.events
        kinds = ev["kind"].astype(str).to_numpy()
        codes = (np.array([code_text(c) for c in ev["code"]], dtype=object) if "code" in ev.columns
                 else np.full(len(ev), "", dtype=object))
        for k, c in zip(kinds, codes):
            seen.setdefault(k, set()).add(c)
        out = kinds.copy()
        for key, kind, code, new in rules:  # every rule looks at the file's own kinds: no chains
            hit = (kinds == kind) & ((codes == code_text(code)) if code is not None else True)
            if code is not None:
                hit |= kinds == key  # a kind that has a ':' of its own (a WFDB aux string) is renamed whole
            if hit.any():
                matched.add(key)
                out = np.where(hit, new, out)
        if (out == kinds).all():
            return rec
        return rec.replace(events=ev.assign(kind=out))

    out = []
    for stem, obj in written:
        if isinstance(obj, Trial):
            obj = obj.replace(streams={k: one(r) for k, r in obj.streams.items()})
        else:
            obj = one(obj)
        out.append((stem, obj))
    for key, kind, code, _ in rules:
        if key in matched:
            continue
        if code is not None and kind in seen:
            codes = sorted(c for c in seen[kind] if c)
            raise DataError(f"--event-map: no {kind!r} event has code {code}; the codes of {kind!r} events are "
                            f"{codes[:10] or 'none'}")
        raise DataError(f"--event-map: no recording has events of kind {kind!r}; the kinds the files have "
                        f"are {sorted(seen) or 'none'}")
    return out


def _check_units_agree(written: Sequence[tuple[str, Any]], rows: Sequence[Mapping[str, Any]]) -> None:
    """Refuse a folder whose recordings of one kind mix volts with unscaled numbers.

    EDF and CSV files that state mV or µV are read in volts; a MAT file of the same lab's µV samples reads as
    ``a.u.``. Written side by side, one recording would be a million times larger than the next and every
    amplitude feature (and the classes it separates) would follow the file format, not the muscle. Items are
    compared per stream (Recordings among themselves, each Trial stream name among its namesakes); an item
    whose channels mix units itself (EMG in V beside an unlabelled accelerometer) is not judged. Raw ADC
    counts (OpenSignals without ``--hint sensor=EMG``) beside volts are only warned about: such a folder was
    accepted before, and its fix is another hint.
    """
    kinds: dict[str, dict[str, str]] = {}  # stream -> {"V" | "a.u." | "adc": first file}
    for (stem, obj), row in zip(written, rows):
        streams = {"": obj} if isinstance(obj, Recording) else dict(obj.streams)
        for name, rec in streams.items():
            units = {str(u) for u in rec.units}
            if len(units) == 1 and units <= {"V", "a.u.", "adc"}:
                kinds.setdefault(name, {}).setdefault(units.pop(), str(obj.meta.get("source") or row.get("files", stem)))
    for name, seen in kinds.items():
        what = f"stream {name!r} of the trials" if name else "the recordings"
        if "V" in seen and "a.u." in seen:
            raise DataError(f"{what} mix volts (e.g. {seen['V']}) with unscaled values (a.u., e.g. "
                            f"{seen['a.u.']}), so amplitudes would differ by the unit between files: give the "
                            "unscaled files' unit, e.g. --hint units=uV (or convert them separately)", seen["a.u."])
        if "V" in seen and "adc" in seen:
            log.warning("%s: %s mix volts (e.g. %s) with raw ADC counts (e.g. %s): amplitudes differ by the unit "
                        "between files; pass --hint sensor=EMG for OpenSignals files", seen["adc"], what, seen["V"],
                        seen["adc"])


def _check_label_spellings(written: Sequence[tuple[str, Any]]) -> None:
    """Refuse one muscle or side written two ways in the folder (``'VL'`` in one file, ``'vl '`` in another).

    ``myoflow run`` refuses such a dataset (muscle-id would train the spellings as two classes); refused here,
    the user learns it before a long conversion is written and fixes the manifest or pattern once. Known
    aliases are one label, as in the run (``'l'`` beside ``'L'``, ``'bb'`` beside ``'BB'``).
    """
    labels = []
    for stem, obj in written:
        recs = [obj] if isinstance(obj, Recording) else list(obj.streams.values())
        for rec in recs:
            src = str(rec.meta.get("source") or obj.meta.get("source") or stem)
            labels += [(key, rec.meta.get(key), src) for key in ("muscle", "side")]
    clashes = label_spellings(labels)
    if clashes:
        key, spellings = clashes[0]
        (a, fa), (b, fb) = list(spellings.items())[:2]
        raise DataError(f"{key} {a!r} here and {b!r} in {fb} differ only in case or spacing, and muscle-id would "
                        f"train them as two classes: give the {key} one spelling (fix the manifest's {key} "
                        f"cells, rename the files, or --channel-map for channel names)", fa)


#: Columns of an events table that say which item an event belongs to (``stream`` picks a Trial's stream).
#: ``frequency`` (a stimulated train's, ``--pattern '{subject}_{muscle}_{frequency}'``) is matched as a number:
#: without it the pulses of a muscle's 10 and 25 Hz trains all went on both recordings.
_EVENT_KEYS = ("subject", "session", "trial", "muscle", "side", "frequency")


def _same_id(cells: np.ndarray, have: Any, key: str) -> np.ndarray:
    """Which of an events table's ``key`` cells name the item's ``have`` (``10`` names a frequency of 10.0)."""
    text = "" if have is None else str(have)
    same = cells == text
    if key == "frequency" and have is not None:
        try:
            target = float(have)
        except (TypeError, ValueError):
            return same
        nums = pd.to_numeric(pd.Series(cells), errors="coerce").to_numpy(float)
        same |= np.isclose(nums, target)
    return same


def _check_no_copies(written: Sequence[tuple[str, Any]]) -> None:
    """Warn about one recording converted twice: under two subjects, or twice for one subject.

    A file copied under another subject's name (``S001_VL.csv`` copied to ``S004_VL.csv``) puts the same
    samples on both sides of every subject-wise split, so leave-one-subject-out scores are inflated without
    any other sign; within one subject a copy inflates the within-subject folds the same way. A warning
    naming both files, not an error: the bad-input suites build small folders whose files repeat samples.
    Constant signals are left out (two unused channels of zeros are not a copy).
    """
    import hashlib

    seen: dict[str, tuple[str, Any]] = {}
    for stem, obj in written:
        recs = [obj] if isinstance(obj, Recording) else list(obj.streams.values())
        for r in recs:
            x = np.ascontiguousarray(r.data)
            if x.size < 100 or not np.isfinite(x).all() or np.ptp(x) == 0:
                continue
            key = hashlib.sha256(f"{x.dtype}{x.shape}".encode() + x.tobytes()).hexdigest()
            if key not in seen:
                seen[key] = (r.source, obj)
                continue
            first, other = seen[key]
            if other is obj:
                continue
            s1, s2 = other.meta.get("subject"), obj.meta.get("subject")
            if str(s1) != str(s2):
                log.warning("%s: holds the same samples as %s, but as subject %s, not %s: a copied file? The copy "
                            "sits on both sides of every subject-wise split and inflates the scores; remove one",
                            r.source, first, s2, s1)
            else:
                log.warning("%s: holds the same samples as %s (both subject %s): a copied file? Within-subject "
                            "folds would test on their own training data", r.source, first, s2)


def _add(rec: Recording, g: pd.DataFrame, kind: str, where: str) -> Recording:
    """Events of one kind on one Recording; columns other than the ids and time (e.g. ``unit``) are kept."""
    s = np.round((g["time_s"].to_numpy(float) - rec.t0) * rec.fs).astype(int)
    inside = (s >= 0) & (s < rec.n_samples)
    if not inside.any():  # all of them: seconds from another clock, or milliseconds
        raise DataError(f"none of the {len(s)} {kind!r} event(s) for this recording fall inside it "
                        f"({rec.t0:g}-{rec.t0 + rec.duration:g} s; first event at {g['time_s'].iloc[0]:g} s): "
                        "time_s must be in seconds on the recording's clock", where)
    if not inside.all():
        log.warning("%s: %d %r event(s) fall outside the recording (%.3f-%.3f s) and are dropped", where,
                    int((~inside).sum()), kind, rec.t0, rec.t0 + rec.duration)
    extra = {c: g[c].to_numpy()[inside] for c in g.columns
             if c not in (*_EVENT_KEYS, "stream", "kind", "time_s")}
    return rec.add_events(s[inside], kind, **extra)


def check_events_table(events: pd.DataFrame) -> pd.DataFrame:
    """Validate an events table (``kind`` + finite ``time_s``); ids become stripped strings, empty = any."""
    where = events.attrs.get("source")
    if "time_s" not in events.columns and "time_ms" in events.columns:
        # a table of times in ms (what most acquisition software exports), said by its column name
        raw = events["time_ms"]
        ms = pd.to_numeric(raw, errors="coerce")
        # a cell that is not a number keeps its text, so the check below quotes it
        events = events.drop(columns=["time_ms"]).assign(
            time_s=[v / 1000.0 if np.isfinite(v) else r for v, r in zip(ms.to_numpy(float), raw)])
        events.attrs["source"] = where
    if "kind" not in events.columns or "time_s" not in events.columns:
        raise DataError(f"events table needs 'kind' and 'time_s' columns; it has {list(events.columns)}", where)
    ev = events.copy()
    times = pd.to_numeric(ev["time_s"], errors="coerce").to_numpy(float)
    bad = ~np.isfinite(times)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(f"row {row + 2}: time_s '{events['time_s'].iloc[row]}' is not a finite number of seconds "
                        f"({int(bad.sum())} such row(s))", where)
    ev["time_s"] = times
    kinds = ev["kind"].astype("string").str.strip()
    empty = (kinds.isna() | (kinds == "")).to_numpy(bool)
    if empty.any():
        raise DataError(f"row {int(np.flatnonzero(empty)[0]) + 2}: empty event kind", where)
    ev["kind"] = kinds.astype(str)
    for k in (*_EVENT_KEYS, "stream"):
        if k in ev.columns:
            ev[k] = ev[k].astype("string").str.strip().fillna("").astype(str)
    return ev


def _ids_of(obj: Any) -> dict[str, Any]:
    """An item's metadata with a Trial's muscle/side taken from its streams (where they live, if anywhere)."""
    meta = dict(obj.meta)
    if isinstance(obj, Trial):
        for rec in obj.streams.values():
            for k in ("muscle", "side"):
                if meta.get(k) is None and rec.meta.get(k) is not None:
                    meta[k] = rec.meta[k]
    return meta


def _event_rows(obj: Any, events: pd.DataFrame) -> np.ndarray:
    """Which rows of ``events`` belong to ``obj``: every id column the table fills must equal the item's.

    An empty cell matches any item, so a table may key on subject alone; a ``muscle`` or ``side`` column
    keeps one muscle's pulses off the other recordings of the same subject.
    """
    meta = _ids_of(obj)
    sel = np.ones(len(events), bool)
    for k in _EVENT_KEYS:
        if k in events.columns:
            cells = events[k].to_numpy(str)
            sel &= (cells == "") | _same_id(cells, meta.get(k), k)
    return sel


def _with_events(obj: Any, ev: pd.DataFrame, where: str) -> Any:
    if ev.empty:
        return obj
    if isinstance(obj, Recording):
        for kind, g in ev.groupby("kind"):
            obj = _add(obj, g, str(kind), where)
        return obj
    streams = dict(obj.streams)
    first = next(iter(streams))
    for (stream, kind), g in ev.groupby([ev["stream"] if "stream" in ev.columns else pd.Series(first, ev.index),
                                         "kind"]):
        stream = stream or first
        if stream not in streams:
            raise DataError(f"events name stream {stream!r}; the trial has {list(streams)}", where)
        streams[stream] = _add(streams[stream], g, str(kind), where)
    return obj.replace(streams=streams)


def _attach_events(written: list[tuple[str, Any]], events: pd.DataFrame) -> list[tuple[str, Any]]:
    """Put each event row on the items it names; a row that names no item is a typo, not something to drop."""
    where = events.attrs.get("source")
    ev = check_events_table(events)
    used = np.zeros(len(ev), bool)
    out = []
    for stem, obj in written:
        sel = _event_rows(obj, ev)
        used |= sel
        out.append((stem, _with_events(obj, ev[sel], where or stem)))
    if not used.all():
        row = int(np.flatnonzero(~used)[0])
        ids = {k: ev[k].iloc[row] for k in _EVENT_KEYS if k in ev.columns and ev[k].iloc[row] != ""}
        # say which id no item carries (a 'side' column on items converted without sides, a muscle typo)
        why = []
        for k, v in ids.items():
            have = sorted({str(m[k]) for m in (_ids_of(obj) for _, obj in written) if m.get(k) is not None})
            if not any(_same_id(np.asarray([str(v)]), h, k)[0] for h in have):
                why.append(f"no converted item has {k} {v!r} (" + (f"items' {k}: {have[:6]}" if have else
                           f"the items carry no {k}: leave the column empty or give the items a {k}") + ")")
        raise DataError(f"{int((~used).sum())} event row(s) match no converted item, e.g. row {row + 2} {ids}"
                        + (f": {'; '.join(why)}" if why else ""), where)
    return out


#: Units of electrode signals (after scaling to volts) or of unlabelled ones, where a constant channel is a fault.
_SIGNAL_UNITS = {"V", "mV", "uV", "µV", "a.u.", "adc"}


def _clipped(x: np.ndarray) -> bool:
    """Whether a signal sits at its maximum or minimum in over 1 % of its samples (at least 10), while taking
    many other values: the flat tops of a clipped recording, not a digital or few-level channel."""
    x = np.asarray(x)
    if x.size < 100 or not np.isfinite(x).all() or np.ptp(x) == 0:
        return False
    lo, hi = x.min(), x.max()
    at = max(int((x == lo).sum()), int((x == hi).sum()))
    return at >= max(10, 0.01 * x.size) and np.unique(x[:5000]).size > 20


def _summary_row(stem: str, obj: Any, group: Sequence[ConvertItem], changed: int) -> dict[str, Any]:
    meta = obj.meta
    recs = [obj] if isinstance(obj, Recording) else list(obj.streams.values())
    for r in recs:
        # signals only: a locked joint or an unused force plate of a motion file is constant by design
        flat = [c for c, u, x in zip(r.ch_names, r.units, r.data)
                if str(u) in _SIGNAL_UNITS and x.size and np.ptp(x) == 0]
        if flat:  # a disconnected electrode or an unused export column: its windows would train as signal
            log.warning("%s: channel(s) %s hold one constant value (a disconnected electrode?); pipelines "
                        "take it as a signal like any other, so remove it from the file if it is not one", ";".join(str(i.path) for i in group), flat)
        dead = {c: st for c, u, x in zip(r.ch_names, r.units, r.data)
                if str(u) in _SIGNAL_UNITS and (st := dead_stretch(x, r.fs)) is not None}
        if dead:  # a cable pulled mid-recording: the constant stretch's windows would train as that muscle
            log.warning("%s: channel(s) %s hold one value for a stretch (%s: an electrode off or a cable pulled?); "
                        "pipelines take it as signal: cut the recording before it or remove the channel",
                        ";".join(str(i.path) for i in group), list(dead), ", ".join(
                            f"{c} {(r.t0 + a / r.fs):.2f}-{(r.t0 + (a + n) / r.fs):.2f} s"
                            for c, (a, n) in dead.items()))
        clipped = [c for c, u, x in zip(r.ch_names, r.units, r.data) if str(u) in _SIGNAL_UNITS and _clipped(x)]
        if clipped:  # a saturated amplifier: the signal's tops are cut flat, amplitude features read a ceiling
            log.warning("%s: channel(s) %s sit at their extreme value in over 1 %% of the samples (clipped: a "
                        "saturated amplifier or an export range too small?)", ";".join(str(i.path) for i in group),
                        clipped)
    row: dict[str, Any] = {"stem": stem, "files": ";".join(i.path.name for i in group), "kind": type(obj).__name__}
    for k in ("subject", "session", "trial", "muscle", "side"):
        if meta.get(k) not in (None, ""):
            row[k] = meta[k]
    row["subject"] = meta.get("subject")
    row["fs"] = "/".join(f"{r.fs:g}" for r in recs)
    row["channels"] = ",".join(c for r in recs for c in r.ch_names)
    row["units"] = ",".join(sorted({u for r in recs for u in r.units}))
    row["duration_s"] = round(max(r.duration for r in recs), 3)
    row["rows_changed"] = changed
    return row


def _delimiter(path: Path) -> str:
    """The delimiter of a user's small table, from its header line: ``,``, ``;``, tab or ``|``.

    pandas' sniffer (``sep=None``) picks a letter when the header has one column (``subject`` split at
    ``u``), so only the separators people use are considered; none in the header means one column.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.readline().decode("utf-8-sig", errors="replace")
    except OSError as exc:
        raise DataError(f"cannot read: {exc.strerror or exc}", str(path)) from None
    counts = {d: head.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


#: Column names a participants/events table may give its subject ids under (named in the error, never renamed).
_ID_ALIASES = {"id", "subject_id", "subjectid", "participant", "participant_id", "participantid", "subj", "sub",
               "patient", "patient_id", "pid", "proband"}


_DECIMAL_COMMA = re.compile(r"^\s*[-+]?\d*,\d+\s*$")
_PLAIN_NUMBER = re.compile(r"^\s*[-+]?\d+\s*$")


def _decimal_comma_columns(df: pd.DataFrame, ids: Mapping[str, Any]) -> pd.DataFrame:
    """Columns of a ``;``- or tab-separated table whose cells are numbers written with a decimal comma (``63,5``,
    as a German or French spreadsheet saves them) as numbers: read as text, every covariate was "not a number".
    With ``,`` as the separator a comma cannot be a decimal mark, so such tables are never given here."""
    out = df.copy()
    for c in df.columns:
        if c in ids or pd.api.types.is_numeric_dtype(df[c]):
            continue
        cells = df[c].dropna().astype(str)
        if len(cells) and cells.str.match(_DECIMAL_COMMA).any() \
                and (cells.str.match(_DECIMAL_COMMA) | cells.str.match(_PLAIN_NUMBER)).all():
            out[c] = pd.to_numeric(df[c].str.replace(",", ".", regex=False))
    return out


def read_table_arg(path: str | os.PathLike, what: str) -> pd.DataFrame:
    """A CSV the user named (participants, events), with ids kept as strings."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{what} table not found", str(p))
    if p.stat().st_size == 0:
        raise DataError(f"{what} table is empty (0 bytes)", str(p))
    try:
        sep = _delimiter(p)
        enc = _encoding(p)
        head = pd.read_csv(p, sep=sep, nrows=0, encoding=enc).columns  # ids stay text whatever their column's case
        ids = {c: str for c in head if str(c).strip().lower() in ("subject", "session", "trial")}
        df = pd.read_csv(p, sep=sep, dtype=ids, encoding=enc)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError, csv.Error) as exc:
        raise DataError(f"cannot parse {what} table: {exc}", str(p)) from None
    # Excel saves the rows and columns a sheet ever formatted: ';;;;' lines and unnamed empty columns hold nothing
    # (they were "row 4 has no subject id")
    df = df.dropna(how="all")
    df = df.drop(columns=[c for c in df.columns if str(c).startswith("Unnamed: ") and df[c].isna().all()])
    if sep != ",":
        df = _decimal_comma_columns(df, ids)
    df.columns = _known_column_case([str(c).strip() for c in df.columns], str(p))
    if "subject" not in df.columns:
        # name an id column of another name (a clinic's 'ID', BIDS' 'participant_id'); renaming is the user's call
        alias = [c for c in df.columns if str(c).strip().lower().replace(" ", "_") in _ID_ALIASES]
        hint = f"; column {alias[0]!r} looks like the subject id: rename it to 'subject'" if alias else ""
        raise DataError(f"{what} table needs a 'subject' column; columns are {list(df.columns)}{hint}", str(p))
    df.attrs["source"] = str(p)  # later checks name the file
    return df
