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

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from .._atomic import atomic_write_text
from ..containers import Recording, Trial
from ..errors import DataError
from ._common import BAD_ROW_POLICIES

__all__ = ["ConvertItem", "convert", "plan_from_manifest", "plan_from_pattern", "parse_mapping", "FIELDS"]

log = logging.getLogger(__name__)

#: Manifest / pattern fields that identify an item (all optional except the file).
FIELDS = ("subject", "session", "trial", "muscle", "side", "stream")
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass
class ConvertItem:
    """One raw file and what it is."""

    path: Path
    meta: dict[str, Any] = field(default_factory=dict)


def parse_mapping(text: str | Mapping[str, str] | Sequence[str] | None, what: str = "--channel-map") -> dict[str, str]:
    """``"ch1=RF,ch2=BF"`` (or several such strings, or a dict) → ``{"ch1": "RF", "ch2": "BF"}``."""
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
            raise DataError(f"{what}: expected NAME=NEW pairs separated by commas, got {p!r}")
        k, v = (s.strip() for s in p.split("=", 1))
        if not k or not v:
            raise DataError(f"{what}: empty name in {p!r}")
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


def _files_under(inputs: Iterable[str | os.PathLike]) -> list[tuple[Path, Path]]:
    """``(file, base folder)`` for every readable file under the inputs (folders searched recursively)."""
    from .reader import READERS

    out: list[tuple[Path, Path]] = []
    for inp in inputs:
        p = Path(inp)
        if not p.exists():
            raise DataError("input not found", str(p))
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.is_file() and f.suffix.lower() in READERS and not f.is_symlink():
                    out.append((f, p))
        else:
            out.append((p, p.parent))
    if not out:
        raise DataError("no recording files found in the inputs", ", ".join(map(str, inputs)))
    return out


def plan_from_pattern(inputs: Iterable[str | os.PathLike], pattern: str) -> list[ConvertItem]:
    """Match each input file's name (relative to its folder, without suffix) against ``pattern``."""
    rx, names = _pattern_regex(pattern)
    items, unmatched = [], []
    for f, base in _files_under(inputs):
        rel = f.relative_to(base).with_suffix("").as_posix() if f.is_relative_to(base) else f.stem
        m = rx.match(rel) or rx.match(f.stem)
        if not m:
            unmatched.append(rel)
            continue
        items.append(ConvertItem(f, {k: v for k, v in m.groupdict().items()}))
    if unmatched:
        shown = ", ".join(unmatched[:3]) + (" ..." if len(unmatched) > 3 else "")
        raise DataError(f"{len(unmatched)} file name(s) do not match --pattern {pattern!r}: {shown}")
    return items


def plan_from_manifest(manifest: str | os.PathLike) -> list[ConvertItem]:
    """Read a manifest CSV: a ``file`` column (relative to the manifest's folder) + metadata columns."""
    mpath = Path(manifest)
    if not mpath.is_file():
        raise DataError("manifest not found", str(mpath))
    try:
        table = pd.read_csv(mpath, dtype=str, keep_default_na=False, sep=None, engine="python")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"cannot parse manifest: {exc}", str(mpath)) from None
    table.columns = [str(c).strip() for c in table.columns]
    if "file" not in table.columns:
        raise DataError(f"manifest needs a 'file' column; columns are {list(table.columns)}", str(mpath))
    root = mpath.parent.resolve()
    items = []
    for i, row in table.iterrows():
        name = row["file"].strip()
        f = (root / name).resolve()
        if not name or not f.is_relative_to(root):
            raise DataError(f"row {i + 2}: file {name!r} must be a path inside the manifest's folder", str(mpath))
        if not f.is_file():
            raise DataError(f"row {i + 2}: file {name!r} not found", str(mpath))
        meta = {k: (str(v).strip() if k in FIELDS else _scalar(v))
                for k, v in row.items() if k != "file" and str(v).strip() != ""}
        items.append(ConvertItem(f, meta))
    if not items:
        raise DataError("manifest lists no files", str(mpath))
    return items


def _scalar(v: str) -> Any:
    """Manifest cell → number when it is one, else the stripped string (ids such as '01' stay strings)."""
    s = str(v).strip()
    if re.fullmatch(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?", s):
        return float(s) if any(c in s for c in ".eE") else int(s)
    return s


def _stem(meta: Mapping[str, Any], fallback: str) -> str:
    parts = [str(meta[k]) for k in ("subject", "session", "trial", "muscle", "side") if meta.get(k) not in (None, "")]
    stem = "_".join(parts) if parts else fallback
    stem = _SAFE.sub("-", stem).strip("-.") or "item"
    return stem


def _rename(rec: Recording, mapping: Mapping[str, str], where: str) -> Recording:
    if not mapping:
        return rec
    names = [mapping.get(c, c) for c in rec.ch_names]
    if len(set(names)) != len(names):
        raise DataError(f"--channel-map gives duplicate channel names {names}", where)
    return rec.replace(ch_names=tuple(names))


def _apply_meta(rec: Recording, meta: Mapping[str, Any]) -> Recording:
    m = dict(rec.meta)
    m.update({k: v for k, v in meta.items() if k != "stream"})
    return rec.replace(meta=m)


def _read_one(item: ConvertItem, hints: Mapping[str, Any], bad_rows: str) -> tuple[Any, int]:
    from .reader import READERS, read

    kw = dict(hints)
    suffix = item.path.suffix.lower()
    if bad_rows != "error" and suffix in (".csv", ".tsv", ".txt", ".sto", ".mot"):
        kw["bad_rows"] = bad_rows
    if suffix not in READERS:
        raise DataError(f"unknown file type {suffix!r}", str(item.path))
    obj = read(item.path, **kw)
    if isinstance(obj, list) and len(obj) == 1:
        obj = obj[0]
    if not isinstance(obj, (Recording, Trial)):
        raise DataError(f"convert takes recording files; this reads as {type(obj).__name__}", str(item.path))
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
        Extra events: columns ``subject``, ``kind``, ``time_s`` and optionally
        ``session``, ``trial``, ``stream`` (default: the item's first stream).

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
    if not items:
        raise DataError("nothing to convert")
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

    for key, group in groups.items():
        base_meta = {k: v for k, v in group[0].meta.items() if k not in ("stream", "muscle", "side")}
        if key[0] == "trial":
            streams: dict[str, Recording] = {}
            changed = 0
            for it in group:
                obj, n = _read_one(it, hints, bad_rows)
                changed += n
                name = str(it.meta["stream"])
                if name in streams:
                    raise DataError(f"two files give stream {name!r} of the same trial", str(it.path))
                if isinstance(obj, Trial):
                    for sub, rec in obj.streams.items():
                        streams[f"{name}_{sub}"] = _rename(rec, cmap, str(it.path))
                else:
                    streams[name] = _rename(obj, cmap, str(it.path))
            for name, rec in streams.items():
                streams[name] = _apply_meta(rec, base_meta)
            obj = Trial(streams=streams, meta={**base_meta, "source": ";".join(str(i.path) for i in group)})
            stem = unique(_stem(base_meta, group[0].path.stem))
            written.append((stem, obj))
            rows.append(_summary_row(stem, obj, group, changed))
            continue
        it = group[0]
        obj, changed = _read_one(it, hints, bad_rows)
        if isinstance(obj, Trial):
            obj = Trial(streams={k: _apply_meta(_rename(r, cmap, str(it.path)), it.meta) for k, r in obj.streams.items()},
                        meta={**dict(obj.meta), **it.meta})
            outs = [(obj, it.meta)]
        else:
            obj = _apply_meta(_rename(obj, cmap, str(it.path)), it.meta)
            if split_channels:
                if "muscle" in it.meta:
                    raise DataError("--split-channels names each recording's muscle from its channel; "
                                    "the manifest/pattern must not also give 'muscle'", str(it.path))
                outs = [(obj.pick([ch]).replace(meta={**obj.meta, "muscle": ch}), {**it.meta, "muscle": ch})
                        for ch in obj.ch_names]
            else:
                outs = [(obj, it.meta)]
        for o, meta in outs:
            stem = unique(_stem(meta, it.path.stem))
            written.append((stem, o))
            rows.append(_summary_row(stem, o, [it], changed))

    if events is not None:
        written = [(s, _with_events(o, events)) for s, o in written]
    subjects = [r["subject"] for r in rows]
    if any(s in (None, "") for s in subjects):
        missing = [r["files"] for r in rows if r["subject"] in (None, "")][:3]
        raise DataError(f"no subject for {missing}: give a 'subject' column in the manifest or {{subject}} in --pattern")
    if participants is not None:
        participants = participants.copy()
        participants["subject"] = participants["subject"].astype(str)
        unknown = sorted(set(map(str, subjects)) - set(participants["subject"]))
        if unknown:
            raise DataError(f"participants table lacks subject(s) {unknown[:5]}")
    ds = write_dataset(out_dir, written, participants,
                       {"protocol": "converted", "converted_from": len(items), "bad_rows": bad_rows,
                        "hints": {k: v for k, v in hints.items()}}, overwrite=overwrite)
    summary = pd.DataFrame(rows)
    atomic_write_text(Path(out_dir) / "convert_summary.csv", summary.to_csv(index=False, lineterminator="\n"))
    return ds, summary


def _add(rec: Recording, g: pd.DataFrame, kind: str) -> Recording:
    """Events of one kind on one Recording; columns other than the ids and time (e.g. ``unit``) are kept."""
    s = np.round((g["time_s"].to_numpy(float) - rec.t0) * rec.fs).astype(int)
    inside = (s >= 0) & (s < rec.n_samples)
    extra = {c: g[c].to_numpy()[inside] for c in g.columns
             if c not in ("subject", "session", "trial", "stream", "kind", "time_s")}
    return rec.add_events(s[inside], kind, **extra)


def _with_events(obj: Any, events: pd.DataFrame) -> Any:
    if "kind" not in events.columns or "time_s" not in events.columns:
        raise DataError(f"events table needs 'kind' and 'time_s' columns; it has {list(events.columns)}")
    keys = [k for k in ("subject", "session", "trial") if k in events.columns]
    sel = np.ones(len(events), bool)
    for k in keys:
        sel &= events[k].astype(str).to_numpy() == str(obj.meta.get(k, ""))
    ev = events[sel]
    if ev.empty:
        return obj
    if isinstance(obj, Recording):
        for kind, g in ev.groupby("kind"):
            obj = _add(obj, g, str(kind))
        return obj
    streams = dict(obj.streams)
    first = next(iter(streams))
    for (stream, kind), g in ev.groupby([ev["stream"] if "stream" in ev.columns else pd.Series(first, ev.index),
                                         "kind"]):
        stream = stream or first
        if stream not in streams:
            raise DataError(f"events name stream {stream!r}; the trial has {list(streams)}")
        streams[stream] = _add(streams[stream], g, str(kind))
    return obj.replace(streams=streams)


def _summary_row(stem: str, obj: Any, group: Sequence[ConvertItem], changed: int) -> dict[str, Any]:
    meta = obj.meta
    recs = [obj] if isinstance(obj, Recording) else list(obj.streams.values())
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


def read_table_arg(path: str | os.PathLike, what: str) -> pd.DataFrame:
    """A CSV the user named (participants, events), with ids kept as strings."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{what} table not found", str(p))
    try:
        df = pd.read_csv(p, sep=None, engine="python", dtype={"subject": str, "session": str, "trial": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"cannot parse {what} table: {exc}", str(p)) from None
    df.columns = [str(c).strip() for c in df.columns]
    if "subject" not in df.columns:
        raise DataError(f"{what} table needs a 'subject' column; columns are {list(df.columns)}", str(p))
    return df
