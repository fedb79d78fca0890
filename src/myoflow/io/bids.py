"""BIDS-EMG datasets → :class:`~myoflow.io.convert.ConvertItem` s for ``myoflow convert --bids``.

A BIDS-EMG dataset (BIDS ≥ 1.11, the EMG modality of BEP 042) holds

* ``dataset_description.json`` and ``participants.tsv`` (``participant_id`` + covariates) at its root;
* ``sub-<id>/[ses-<s>/]emg/sub-<id>[_ses-<s>]_task-<t>[_acq-<a>][_run-<r>][_recording-<l>]_emg.{edf,bdf}``;
* beside each data file (or higher up, by BIDS' inheritance principle) ``_emg.json`` (``SamplingFrequency``,
  ``PowerLineFrequency``, ``EMGReference``, ``EMGPlacementScheme``...), ``_channels.tsv`` (``name``, ``type``,
  ``units``, optionally ``status``, ``target_muscle``, ...) and ``_events.tsv`` (``onset``, ``duration`` in s,
  ``trial_type``).

This module only *plans*: it walks the tree, reads the small sidecars and returns one ConvertItem per data
file, whose ``transform`` checks and applies the sidecars to the recording once :func:`myoflow.io.read` has
read it inside :func:`~myoflow.io.convert.convert` (the one writer). What becomes what:

* ``sub``/``ses`` → ``subject``/``session``; ``trial`` = the task plus the ``acq``, ``run`` and ``recording``
  entities the file has (``walk``, ``walk_run-2``); ``task``, ``run``, ``acq`` also as metadata.
* ``_channels.tsv``: rows must name exactly the data file's channels (a trigger channel the EDF reader already
  turned into events may be listed). ``EMG`` channels are kept with the table's units (a file that states no
  unit takes the table's; an EDF/BDF header's µV/mV under a table's bare 'V', as mne-bids writes it, is read
  in the header's unit with a warning; two different prefixed voltages are an error) and scaled to volts; ``status = bad`` channels
  are dropped with a warning naming them; ``TRIG`` channels become ``trigger`` events with their ``code``
  (as the EDF reader does with BioSemi's ``Status``); every other type (``MISC``, ``ECG``, ...) is dropped
  with a note. ``target_muscle`` (or ``muscle``): one muscle for every EMG channel → ``meta["muscle"]``
  (a grid over one muscle); one per channel, all different → the channels are renamed to their muscles, so
  ``--split-channels`` gives one recording per muscle and gait-emg finds its muscles by channel name.
  An extra ``side`` column (``L``/``R``, the same for every EMG channel) → ``meta["side"]``.
* ``_emg.json``: ``SamplingFrequency`` must equal the data file's rate; ``PowerLineFrequency``,
  ``EMGReference``, ``EMGPlacementScheme`` are kept as metadata.
* ``_events.tsv`` → events (``kind`` = ``trial_type``, else ``value``, else ``event``; ``duration`` kept),
  through the events-table checks of :func:`~myoflow.io.convert.check_events_table`. A row that repeats an
  EDF+ annotation of the data file (same kind and sample: mne-bids writes every event to both) is read once.
* ``participants.tsv`` → the participants table (``participant_id`` without ``sub-`` → ``subject``; ``sex``
  ``male``/``female`` → ``M``/``F``; ``height``/``weight`` scaled to m/kg when ``participants.json`` gives their
  ``Units``; ``n/a`` → missing). No ``participants.tsv`` is fine: one row per subject seen, as for any folder.

``derivatives/``, ``sourcedata/``, ``code/``, ``stimuli/`` and hidden folders are not read; other datatypes
(``eeg/``, ``motion/``) are skipped with a note. Symlinks are read through (DataLad's annexed files are links
into the dataset's own ``.git``) only when they resolve inside the root; one leading out of it is an error.
"""
from __future__ import annotations

import json
import logging
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..containers import Recording, Trial
from ..errors import DataError
from ._common import HINT_UNITS, _VOLT_SCALE, to_volts
from .convert import ConvertItem, _with_events, check_events_table

__all__ = ["is_bids_root", "plan_from_bids", "BidsPlan", "read_bids_tsv"]

log = logging.getLogger(__name__)

#: Data file extensions read (BIDS-EMG allows EDF and BDF; BrainVision and others are refused, not skipped).
DATA_EXTENSIONS = (".edf", ".bdf")
#: Entities of an EMG file name, in the order BIDS writes them.
ENTITIES = ("sub", "ses", "task", "acq", "run", "recording")
#: Folders of a BIDS root that hold no raw data of the dataset.
SKIP_TOP = {"derivatives", "sourcedata", "code", "stimuli"}
#: Files of the root read by name.
ROOT_FILES = ("participants.tsv", "participants.json", "dataset_description.json")
_LABEL = re.compile(r"[A-Za-z0-9]+")
_TRIGGER_TYPES = {"TRIG"}
_KEPT_TYPES = {"EMG"}
_UNIT_KEYS = {u.lower().replace(" ", "").replace("µ", "u").replace("μ", "u") for u in HINT_UNITS}


@dataclass
class BidsPlan:
    """What :func:`plan_from_bids` found: the items, the reading hints they need, the participants table."""

    items: list[ConvertItem]
    hints: dict[str, Any]
    participants: pd.DataFrame | None


def is_bids_root(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a folder with a ``dataset_description.json`` and at least one ``sub-*`` folder."""
    p = Path(path)
    try:
        return p.is_dir() and (p / "dataset_description.json").is_file() and any(
            c.is_dir() and c.name.startswith("sub-") for c in p.iterdir())
    except OSError:
        return False


# ------------------------------------------------------------------ small files
def read_bids_tsv(path: Path, required: Sequence[str] = ()) -> pd.DataFrame:
    """A BIDS TSV (tab-separated, a header row, ``n/a`` for missing) as a table of stripped strings.

    Every row must have the header's number of fields and the ``required`` columns must be there; anything
    else is a one-line error naming the file (pandas would pad a short row with NaN and read on).
    """
    where = str(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataError("not UTF-8 text (BIDS tables are UTF-8)", where) from None
    except OSError as exc:
        raise DataError(f"cannot read: {exc.strerror or exc}", where) from None
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise DataError("table is empty (BIDS tables need a header row)", where)
    header = [h.strip() for h in lines[0].split("\t")]
    if len(header) == 1 and ("," in header[0] or ";" in header[0]):
        raise DataError(f"header {lines[0]!r} is not tab-separated (BIDS tables separate columns by tabs)", where)
    if any(not h for h in header):
        raise DataError(f"header has an empty column name: {lines[0]!r}", where)
    dup = sorted({h for h in header if header.count(h) > 1})
    if dup:
        raise DataError(f"header names column(s) {dup} twice", where)
    rows = []
    for i, line in enumerate(lines[1:], start=2):
        cells = [c.strip() for c in line.split("\t")]
        if len(cells) != len(header):
            raise DataError(f"row {i} has {len(cells)} field(s), the header {len(header)} (a missing value is "
                            "written n/a, columns are separated by single tabs)", where)
        rows.append(cells)
    missing = [c for c in required if c not in header]
    if missing:
        raise DataError(f"table needs column(s) {missing}; it has {header}", where)
    df = pd.DataFrame(rows, columns=header, dtype=object)
    df.attrs["source"] = where
    return df


def _na(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or str(v).strip() in ("", "n/a")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        obj = json.loads(path.read_bytes().decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"not valid JSON: {exc}", str(path)) from None
    if not isinstance(obj, dict):
        raise DataError(f"a BIDS sidecar holds a JSON object, got {type(obj).__name__}", str(path))
    return obj


# ------------------------------------------------------------------ names and the tree
@dataclass
class _BidsFile:
    path: Path
    entities: dict[str, str]
    suffix: str
    ext: str


def _parse_name(path: Path) -> _BidsFile | None:
    """``sub-01_task-walk_run-1_emg.edf`` → entities, suffix ``emg``, extension ``.edf``; None if not a BIDS name."""
    name = path.name
    n_ext = 2 if name.lower().endswith(".gz") else 1  # events.tsv.gz and the like
    pieces = name.split(".")
    if len(pieces) <= n_ext:
        return None
    stem, ext = ".".join(pieces[:-n_ext]), ".".join(pieces[-n_ext:])
    parts = stem.split("_")
    if len(parts) < 2 or "-" in parts[-1]:
        return None
    ent: dict[str, str] = {}
    for p in parts[:-1]:
        if "-" not in p:
            return None
        k, v = p.split("-", 1)
        if k in ent:
            raise DataError(f"file name gives entity {k!r} twice", str(path))
        ent[k] = v
    return _BidsFile(path, ent, parts[-1], "." + ext.lower())


def _check_labels(f: _BidsFile, root: Path) -> None:
    """BIDS labels are letters and digits; ``sub``/``ses`` must be those of the folders holding the file."""
    where = str(f.path)
    for k, v in f.entities.items():
        if not _LABEL.fullmatch(v):
            raise DataError(f"entity '{k}-{v}' is not a BIDS label (letters and digits only)", where)
    rel = f.path.relative_to(root).parts[:-1]
    sub_dir = next((p for p in rel if p.startswith("sub-")), None)
    ses_dir = next((p for p in rel if p.startswith("ses-")), None)
    if sub_dir is not None and f.entities.get("sub") != sub_dir[4:]:
        raise DataError(f"file name says sub-{f.entities.get('sub')} but it lies in folder {sub_dir}", where)
    if ses_dir is not None and f.entities.get("ses") != ses_dir[4:]:
        raise DataError(f"file name says ses-{f.entities.get('ses')} but it lies in folder {ses_dir}", where)


def _walk(root: Path, exclude: Path | None) -> list[Path]:
    """Every file under ``root`` a BIDS reader looks at, symlinks read through only when they stay inside."""
    real_root = root.resolve()
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        d = Path(dirpath)
        top = d == root
        keep = []
        for name in sorted(dirnames):
            sub = d / name
            if name.startswith(".") or (top and name in SKIP_TOP):
                continue
            if exclude is not None and sub.resolve().is_relative_to(exclude):
                continue  # the output folder: a dataset written inside its input is not an input
            if sub.is_symlink():
                target = _resolve_link(sub, real_root)
                log.warning("%s: symlinked folder not followed (its target %s is inside the dataset and is read "
                            "on its own)", sub, target)
                continue
            keep.append(name)
        dirnames[:] = keep
        for name in sorted(filenames):
            f = d / name
            if name.startswith(".") or (_parse_name(f) is None and not (top and name in ROOT_FILES)
                                        and f.suffix.lower() not in DATA_EXTENSIONS):
                continue  # never read (a README, notes): not checked either
            if f.is_symlink():
                target = _resolve_link(f, real_root)
                if not target.is_file():
                    raise DataError(f"symlink points to {target}, which is not a file", str(f))
            out.append(f)
    return out


def _resolve_link(f: Path, real_root: Path) -> Path:
    try:
        target = f.resolve(strict=True)
    except (OSError, RuntimeError):
        raise DataError("symlink cannot be resolved (a loop, or its target is missing)", str(f)) from None
    if not target.is_relative_to(real_root):
        raise DataError(f"symlink leads outside the BIDS root (to {target}); files are only read from inside "
                        "the dataset named: copy its target into the dataset", str(f))
    return target


def _nearest(by_folder: Mapping[Path, list[_BidsFile]], data: _BidsFile, root: Path) -> list[_BidsFile]:
    """The sidecars that apply to ``data`` by BIDS' inheritance principle, least specific first.

    A sidecar applies when it lies in the data file's folder or one above it (up to the root) and its entities
    are among the file's; the nearer folder, then the one naming more entities, is the more specific. Only the
    file's own folders are looked in, so a dataset of thousands of runs is not a product of two long lists.
    """
    folders = [data.path.parent, *data.path.parent.parents]
    folders = folders[:folders.index(root) + 1] if root in folders else folders[:1]
    ok = [c for f in folders for c in by_folder.get(f, ())
          if all(data.entities.get(k) == v for k, v in c.entities.items())]
    return sorted(ok, key=lambda c: (len(c.path.parent.parts), len(c.entities)))


# ------------------------------------------------------------------ the plan
def plan_from_bids(root: str | os.PathLike, *, exclude: str | os.PathLike | None = None,
                   split_channels: bool = False) -> BidsPlan:
    """Walk a BIDS-EMG dataset and plan its conversion.

    Parameters
    ----------
    root : path-like
        The dataset's root folder (``dataset_description.json``, ``participants.tsv``, ``sub-*/``).
    exclude : path-like, optional
        The output folder (never read as an input, even inside the root).
    split_channels : bool
        Whether ``convert`` will write one recording per channel: a file whose EMG channels all target one
        muscle then cannot be split by muscle, which is an error here rather than a misleading one later.

    Returns
    -------
    BidsPlan
        ``items`` for :func:`~myoflow.io.convert.convert`, the ``hints`` its reader needs (units are taken
        from the file and ``_channels.tsv`` together, so the EDF reader does not scale them first) and the
        ``participants`` table (None when the dataset has no ``participants.tsv``).

    Raises
    ------
    DataError
        Malformed sidecars, names that are not BIDS, symlinks leading out of the root, a sidecar without a
        data file, no EMG data file at all; each message names the file.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError("BIDS root must be a folder", str(root))
    skip = Path(exclude).resolve() if exclude is not None else None
    if skip is not None and root.resolve().is_relative_to(skip):
        raise DataError(f"the BIDS root lies in the output folder {exclude}: write the dataset to a new folder",
                        str(root))
    desc = root / "dataset_description.json"
    if desc.is_file():
        _read_json(desc)  # malformed = not a dataset we should trust the layout of
    else:
        log.warning("%s: no dataset_description.json (not a BIDS root?); reading its sub-* folders anyway", root)

    data: list[_BidsFile] = []
    sidecars: dict[str, list[_BidsFile]] = {"emg.json": [], "channels.tsv": [], "events.tsv": []}
    other_types: set[str] = set()
    for f in _walk(root, skip):
        rel = f.relative_to(root).parts
        if len(rel) > 1 and not rel[0].startswith("sub-"):
            continue  # phenotype/ and the like: no recordings
        folder = rel[-2] if len(rel) > 1 else ""
        datatype = "" if (not folder or folder.startswith(("sub-", "ses-"))) else folder
        if datatype not in ("", "emg"):
            other_types.add(datatype)
            continue
        parsed = _parse_name(f)
        if parsed is None:
            if datatype == "emg" and f.suffix.lower() in DATA_EXTENSIONS:  # a recording would be lost
                raise DataError("not a BIDS-EMG file name (sub-<label>[_ses-<label>]_task-<label>[_acq-<label>]"
                                "[_run-<index>]_emg.edf)", str(f))
            continue
        key = f"{parsed.suffix}{parsed.ext}"
        if datatype == "emg" and parsed.suffix == "emg" and parsed.ext in DATA_EXTENSIONS:
            _check_labels(parsed, root)
            for k in ("sub", "task"):
                if k not in parsed.entities:
                    raise DataError(f"a BIDS-EMG file name needs the {k}- entity", str(f))
            data.append(parsed)
        elif datatype == "emg" and parsed.suffix == "emg" and parsed.ext != ".json":
            raise DataError(f"EMG data in {parsed.ext} files cannot be read (BIDS-EMG stores EDF or BDF; "
                            "convert it to .edf/.bdf, e.g. with MNE's export)", str(f))
        elif key in sidecars:
            _check_labels(parsed, root)
            sidecars[key].append(parsed)
    if "motion" in other_types:  # what gait-emg needs beside the EMG: say it is not read, not just log it
        log.warning("%s: motion/ (BIDS motion) is not read: myoflow has no reader for it, so no joint angles come "
                    "from this dataset; gait-emg needs an 'angles' stream (convert the angles from OpenSim "
                    ".mot/.sto, C3D or CSV with --pattern '...{stream}')", root)
    if other_types - {"motion"}:
        log.info("%s: datatype folder(s) %s are not EMG and are not read", root, sorted(other_types - {"motion"}))
    if not data:
        raise DataError("no EMG data files (sub-*/[ses-*/]emg/*_emg.edf or .bdf) in the BIDS dataset", str(root))

    by_folder: dict[str, dict[Path, list[_BidsFile]]] = {k: {} for k in sidecars}
    for k, files in sidecars.items():
        for f in files:
            by_folder[k].setdefault(f.path.parent, []).append(f)
    jsons: dict[Path, dict[str, Any]] = {}  # a root-level sidecar is read once, not once per run
    used: set[Path] = set()
    items: list[ConvertItem] = []
    dropped_notes: dict[tuple[str, ...], int] = {}
    no_json: list[str] = []
    for d in data:
        emg_json: dict[str, Any] = {}
        json_files = _nearest(by_folder["emg.json"], d, root)
        for j in json_files:  # inherited fields, the most specific file last (it wins)
            if j.path not in jsons:
                jsons[j.path] = _read_json(j.path)
            emg_json.update(jsons[j.path])
            used.add(j.path)
        chans = _nearest(by_folder["channels.tsv"], d, root)
        evs = _nearest(by_folder["events.tsv"], d, root)
        for c in chans + evs:  # an inherited table overridden by a nearer one still has its data file
            used.add(c.path)
        plan = _plan_channels(chans[-1].path if chans else None, d.path, split_channels)
        dropped = plan.pop("dropped_types")
        if dropped:
            dropped_notes[dropped] = dropped_notes.get(dropped, 0) + 1
        events = _read_events(evs[-1].path) if evs else None
        meta = _entity_meta(d)
        meta.update(plan.pop("meta"))
        meta.update(_json_meta(emg_json))
        rate = _json_rate(emg_json, json_files[-1].path if json_files else None)
        if not json_files:
            no_json.append(d.path.name)
        items.append(ConvertItem(d.path, meta, transform=_Apply(
            data=d.path, json=json_files[-1].path if json_files else None, rate=rate,
            channels=chans[-1].path if chans else None, events_file=evs[-1].path if evs else None,
            events=events, **plan)))
    for kind, files in sidecars.items():
        for s in files:
            if s.path not in used:
                near = [d.path.name for d in data if d.path.parent == s.path.parent][:3]
                hint = f" (the folder has {near})" if near else ""
                raise DataError(f"no EMG data file for this sidecar: no _emg.edf/.bdf with its entities{hint}",
                                str(s.path))
    if no_json:
        log.warning("%s: %d data file(s) have no _emg.json (e.g. %s); their sampling rate is the file's own",
                    root, len(no_json), no_json[0])
    for types, n in dropped_notes.items():
        log.warning("%s: channel(s) of type %s dropped in %d file(s) (myoflow reads EMG; TRIG become events)",
                    root, list(types), n)
    return BidsPlan(items, {"to_volt": False}, _participants(root))


def _entity_meta(d: _BidsFile) -> dict[str, Any]:
    e = d.entities
    trial = e["task"] + "".join(f"_{k}-{e[k]}" for k in ("acq", "run", "recording") if k in e)
    meta: dict[str, Any] = {"subject": e["sub"], "trial": trial, "task": e["task"]}
    if "ses" in e:
        meta["session"] = e["ses"]
    for k in ("acq", "run", "recording"):
        if k in e:
            meta[k] = e[k]
    for k, v in e.items():  # entities BIDS-EMG does not define are kept, under their own name
        if k not in ENTITIES and k not in meta:
            meta[k] = v
    return meta


_JSON_META = {"PowerLineFrequency": "power_line_frequency", "EMGReference": "emg_reference",
              "EMGPlacementScheme": "emg_placement_scheme", "EMGGround": "emg_ground"}


def _json_meta(js: Mapping[str, Any]) -> dict[str, Any]:
    return {m: js[k] for k, m in _JSON_META.items()
            if isinstance(js.get(k), (str, int, float)) and not isinstance(js.get(k), bool) and not _na(js[k])}


def _json_rate(js: Mapping[str, Any], path: Path | None) -> float | None:
    if path is None:
        return None
    v = js.get("SamplingFrequency")
    if v is None:
        log.warning("%s: no SamplingFrequency (required by BIDS); the rate is the data file's own", path)
        return None
    try:
        x = float(v)
    except (TypeError, ValueError):
        x = float("nan")
    if isinstance(v, bool) or not (np.isfinite(x) and x > 0):
        raise DataError(f"SamplingFrequency {v!r} is not a rate in Hz", str(path))
    return x


def _unit_key(u: str) -> str:
    return str(u).strip().lower().replace(" ", "").replace("µ", "u").replace("μ", "u")


def _plan_channels(path: Path | None, data: Path, split_channels: bool) -> dict[str, Any]:
    """What a ``_channels.tsv`` says to do with the data file's channels (checked against the file later)."""
    out: dict[str, Any] = {"rows": None, "keep": None, "trig": [], "units": {}, "rename": {}, "meta": {},
                           "dropped_types": ()}
    if path is None:
        log.info("%s: no _channels.tsv; every channel is kept with the file's names and units", data)
        return out
    tab = read_bids_tsv(path, ("name", "type", "units"))
    where = str(path)
    names = tab["name"].tolist()
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise DataError(f"channel name(s) {dup} are listed twice", where)
    types = [str(t).upper() for t in tab["type"]]
    status = [str(s).lower() for s in tab["status"]] if "status" in tab.columns else ["good"] * len(names)
    bad_status = sorted({s for s in status if s not in ("good", "bad", "n/a")})
    if bad_status:
        raise DataError(f"status {bad_status} is not good, bad or n/a", where)
    bad = [n for n, s in zip(names, status) if s == "bad"]
    keep = [n for n, t, s in zip(names, types, status) if t in _KEPT_TYPES and s != "bad"]
    trig = [n for n, t, s in zip(names, types, status) if t in _TRIGGER_TYPES and s != "bad"]
    others = sorted({t for n, t, s in zip(names, types, status) if t not in _KEPT_TYPES | _TRIGGER_TYPES})
    if bad:
        log.warning("%s: channel(s) %s have status bad in %s and are dropped", data, bad, path.name)
    if not keep:
        raise DataError(f"no good EMG channel: types {sorted(set(types))}, bad {bad}", where)
    units = {}
    for n, u in zip(tab["name"], tab["units"]):
        if n in keep:
            if _unit_key(u) not in _UNIT_KEYS:
                raise DataError(f"channel {n!r}: unknown unit {u!r} (EMG is in V, mV, uV or µV; accepted: "
                                f"{', '.join(HINT_UNITS)})", where)
            units[n] = str(u).strip()
    out.update(rows=names, keep=keep, trig=trig, units=units, dropped_types=tuple(others))
    muscle_col = next((c for c in tab.columns if c.lower() in ("target_muscle", "muscle")), None)
    if muscle_col is not None:
        muscles = {n: m for n, m in zip(tab["name"], tab[muscle_col]) if n in keep}
        missing = [n for n, m in muscles.items() if _na(m)]
        if missing and len(missing) < len(muscles):
            raise DataError(f"EMG channel(s) {missing} have no {muscle_col} (n/a) while others have one", where)
        if missing:
            pass  # the column is there but says nothing: the channels keep their names
        elif len(set(muscles.values())) == 1:
            m = next(iter(muscles.values()))
            if split_channels:
                raise DataError(f"every EMG channel targets one muscle ({m!r}), so --split-channels cannot split "
                                "the file by muscle: convert without --split-channels (one recording, muscle "
                                f"{m!r})", where)
            out["meta"]["muscle"] = m
        elif len(set(muscles.values())) == len(muscles):
            out["rename"] = dict(muscles)
        else:
            log.warning("%s: %s names one muscle for several channels and different ones for others (%s): "
                        "channels keep their names", path, muscle_col, muscles)
    side_col = next((c for c in tab.columns if c.lower() == "side"), None)
    if side_col is not None:
        sides = {str(s) for n, s in zip(tab["name"], tab[side_col]) if n in keep and not _na(s)}
        if len(sides) > 1:
            raise DataError(f"EMG channels give sides {sorted(sides)}: myoflow keeps one side per recording "
                            "(split the file by side, e.g. with the acq- entity)", where)
        if sides:
            out["meta"]["side"] = sides.pop()
    if "sampling_frequency" in tab.columns:
        out["channel_rates"] = {n: r for n, r in zip(tab["name"], tab["sampling_frequency"])
                                if n in keep and not _na(r)}
    return out


def _read_events(path: Path) -> pd.DataFrame:
    tab = read_bids_tsv(path, ("onset", "duration"))
    where = str(path)
    onset = pd.to_numeric(tab["onset"], errors="coerce").to_numpy(float)
    bad = ~np.isfinite(onset)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"row {i + 2}: onset {tab['onset'].iloc[i]!r} is not a number of seconds", where)
    dur = [float("nan") if _na(v) else v for v in tab["duration"]]
    dur_num = pd.to_numeric(pd.Series(dur, dtype=object), errors="coerce").to_numpy(float)
    wrong = [i for i, (v, x) in enumerate(zip(dur, dur_num)) if not (isinstance(v, float) and math.isnan(v))
             and not (np.isfinite(x) and x >= 0)]
    if wrong:
        raise DataError(f"row {wrong[0] + 2}: duration {tab['duration'].iloc[wrong[0]]!r} is not a number of "
                        "seconds >= 0 (or n/a)", where)
    kinds = []
    for i in range(len(tab)):
        k = next((str(tab[c].iloc[i]) for c in ("trial_type", "value") if c in tab.columns
                  and not _na(tab[c].iloc[i])), "event")
        kinds.append(k)
    ev = pd.DataFrame({"kind": kinds, "time_s": onset, "duration": dur_num})
    ev.attrs["source"] = where
    return check_events_table(ev)


def _participants(root: Path) -> pd.DataFrame | None:
    p = root / "participants.tsv"
    if not p.is_file():
        log.info("%s: no participants.tsv; the participants table lists the subjects seen", root)
        return None
    tab = read_bids_tsv(p, ("participant_id",))
    where = str(p)
    ids = []
    for i, v in enumerate(tab["participant_id"], start=2):
        if not str(v).startswith("sub-") or not _LABEL.fullmatch(str(v)[4:]):
            raise DataError(f"row {i}: participant_id {v!r} is not sub-<label> (letters and digits)", where)
        ids.append(str(v)[4:])
    cols = {c: c.lower() if c.lower() in ("age", "sex", "height", "weight", "bmi") else c
            for c in tab.columns if c != "participant_id"}
    clash = sorted({v for v in cols.values() if list(cols.values()).count(v) > 1})
    if clash:
        raise DataError(f"columns {clash} are given in two spellings; keep one", where)
    units = {}
    side = root / "participants.json"
    if side.is_file():
        units = {str(k).lower(): str(v.get("Units", "")) for k, v in _read_json(side).items() if isinstance(v, dict)}
    out = pd.DataFrame({"subject": ids})
    for c, name in cols.items():
        vals = [None if _na(v) else v for v in tab[c]]
        num = pd.to_numeric(pd.Series(vals, dtype=object), errors="coerce")
        as_num = all(v is None or np.isfinite(x) for v, x in zip(vals, num))
        col = num if as_num else pd.Series(vals, dtype=object)
        if name == "sex":
            col = pd.Series([_SEX.get(str(v).strip().lower(), v) if v is not None else None for v in vals],
                            dtype=object)
        if name in _SCALE and as_num:
            u = units.get(name, "").strip()
            if u and u.lower() not in _SCALE[name]:
                raise DataError(f"participants.json gives {name} in {u!r}; myoflow reads "
                                f"{' or '.join(_SCALE[name])}", str(side))
            col = col * _SCALE[name].get(u.lower(), 1.0) if u else col
        out[name] = col
    out.attrs["source"] = where
    return out


_SEX = {"m": "M", "male": "M", "f": "F", "female": "F"}
#: Units participants.json may give → the factor to the unit the pipelines read (m, kg).
_SCALE = {"height": {"m": 1.0, "cm": 0.01, "mm": 0.001}, "weight": {"kg": 1.0, "g": 0.001}}


# ------------------------------------------------------------------ applying the sidecars to what was read
@dataclass
class _Apply:
    """Applied to the recording read from ``data`` (``ConvertItem.transform``): checks, then channels, events."""

    data: Path
    json: Path | None
    rate: float | None
    channels: Path | None
    events_file: Path | None
    events: pd.DataFrame | None
    rows: list[str] | None
    keep: list[str] | None
    trig: list[str]
    units: dict[str, str]
    rename: dict[str, str]
    channel_rates: dict[str, str] | None = None

    def __call__(self, obj: Recording | Trial) -> Recording:
        streams = [obj] if isinstance(obj, Recording) else list(obj.streams.values())
        if self.rows is not None:
            self._check_rows(streams)
            emg_streams = [r for r in streams if set(r.ch_names) & set(self.keep)]
            if len(emg_streams) != 1:
                raise DataError(f"the EMG channels of {self.channels.name} lie in streams at "
                                f"{[r.fs for r in emg_streams]} Hz: myoflow keeps one rate per BIDS recording",
                                str(self.data))
            rec = emg_streams[0]
        elif len(streams) == 1:
            rec = streams[0]
        else:
            raise DataError(f"channels at several rates ({[r.fs for r in streams]} Hz) and no _channels.tsv to "
                            "say which are EMG", str(self.data))
        self._check_rate(rec)
        if self.rows is not None:
            rec = self._channels(rec, streams)
        else:
            data, units = to_volts(rec.data, rec.units)
            rec = rec.replace(data=data, units=units)
        if self.events is not None and len(self.events):
            self._check_events(rec)
            rec = _with_events(rec, self._new_events(rec), str(self.events_file))
        return rec

    def _new_events(self, rec: Recording) -> pd.DataFrame:
        """The ``_events.tsv`` rows the data file does not already hold as annotations.

        mne-bids (the usual BIDS writer) stores each event twice: as an EDF+ annotation in the data file and as
        a row of ``_events.tsv``. Both were read, so every event came out twice. A row whose kind and sample
        (at the recording's rate) equal an annotation's is the same event; rows the file lacks are added.
        """
        ev = self.events
        if not len(rec.events):
            return ev
        have = set(zip(rec.events["kind"].astype(str), rec.events["sample"].astype("int64")))
        samples = np.round((ev["time_s"].to_numpy(float) - rec.t0) * rec.fs).astype("int64")
        dup = np.array([(str(k), int(s)) in have for k, s in zip(ev["kind"], samples)], dtype=bool)
        if dup.any():
            log.info("%s: %d event(s) of %s are also annotations of %s; read once", self.data, int(dup.sum()),
                     self.events_file.name, self.data.name)
        return ev[~dup]

    def _check_rows(self, streams: Sequence[Recording]) -> None:
        have = [c for r in streams for c in r.ch_names]
        taken = any(len(r.events) and (r.events["kind"] == "trigger").any() for r in streams)
        from .edf import _TRIGGER_LABELS

        # a trigger channel the EDF reader already turned into 'trigger' events (BioSemi's Status) is not missing
        missing = [n for n in self.rows if n not in have
                   and not (taken and (n in self.trig or n.lower() in _TRIGGER_LABELS))]
        extra = [c for c in have if c not in self.rows]
        if missing or extra:
            raise DataError(f"rows do not match the channels of {self.data} ({len(self.rows)} row(s), "
                            f"{len(have)} channel(s) in the file): "
                            + "; ".join(s for s in (f"not in the file: {missing}" if missing else "",
                                                    f"not in the table: {extra}" if extra else "") if s),
                            str(self.channels))

    def _check_rate(self, rec: Recording) -> None:
        if self.rate is not None and abs(self.rate - rec.fs) > 1e-6 * rec.fs:
            raise DataError(f"SamplingFrequency is {self.rate:g} Hz but {self.data} holds {rec.fs:g} Hz",
                            str(self.json))
        for n, r in (self.channel_rates or {}).items():
            try:
                x = float(r)
            except ValueError:
                raise DataError(f"channel {n!r}: sampling_frequency {r!r} is not a number", str(self.channels)) \
                    from None
            if abs(x - rec.fs) > 1e-6 * rec.fs:
                raise DataError(f"channel {n!r}: sampling_frequency is {x:g} Hz but {self.data} holds "
                                f"{rec.fs:g} Hz", str(self.channels))

    def _channels(self, rec: Recording, streams: Sequence[Recording]) -> Recording:
        from .edf import _trigger_onsets

        units, took_file = [], []
        for n in self.keep:
            file_u = rec.units[rec.ch_names.index(n)]
            table_u = self.units[n]
            fk, tk = _unit_key(file_u), _unit_key(table_u)
            if fk in ("", "a.u.") or fk == tk:
                units.append(table_u)
            elif tk == "v" and fk in ("mv", "uv") and Path(self.data).suffix.lower() in (".edf", ".bdf"):
                # the table names the quantity's SI unit, the header the scale of the stored numbers: mne-bids
                # (0.20) writes 'V' in the table of every BDF it exports in µV and reads the file's unit, and
                # an EDF/BDF header's physical dimension is what its samples are scaled to
                units.append(file_u)
                took_file.append(n)
            else:
                # refused, not guessed: two different prefixed units stated for the same samples differ by
                # 10**3 or more
                raise DataError(f"channel {n!r}: the table gives unit {table_u!r}, {self.data} states "
                                f"{file_u!r} (EDF/BDF readers scale samples by the file's header: if it is right, "
                                f"write {file_u!r} in the table's units column)", str(self.channels))
        if took_file:
            log.warning("%s: channel(s) %s: the table gives unit 'V', %s states %r; read in the file's unit (an "
                        "EDF/BDF header scales its samples; mne-bids writes 'V' for the quantity)", self.channels,
                        took_file[:4] + (["..."] if len(took_file) > 4 else []), Path(self.data).name,
                        rec.units[rec.ch_names.index(took_file[0])])
        out = rec.pick(self.keep)
        data, vunits = to_volts(out.data, units)
        out = out.replace(data=data, units=vunits)
        for s in streams:  # TRIG channels → 'trigger' events at the EMG rate, as the EDF reader does for Status
            for n in self.trig:
                if n in s.ch_names:
                    x = s.data[s.ch_names.index(n)]
                    onsets = _trigger_onsets(x)
                    samples = [int(round(k / s.fs * rec.fs)) for k, _ in onsets]
                    inside = [i for i, k in enumerate(samples) if 0 <= k < rec.n_samples]
                    if inside:
                        out = out.add_events([samples[i] for i in inside], "trigger",
                                             code=[int(onsets[i][1]) for i in inside])
        if self.rename:
            out = out.replace(ch_names=[self.rename.get(c, c) for c in out.ch_names])
        return out

    def _check_events(self, rec: Recording) -> None:
        t = self.events["time_s"].to_numpy(float)
        past = np.flatnonzero((t < 0) | (t >= rec.duration))
        if past.size:
            i = int(past[0])
            raise DataError(f"row {i + 2}: onset {t[i]:g} s lies outside {self.data.name} (0-{rec.duration:g} s; "
                            f"{past.size} such row(s)): onsets are seconds from the recording's first sample",
                            str(self.events_file))

