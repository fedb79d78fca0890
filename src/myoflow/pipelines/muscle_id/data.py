"""Cohort loading for the muscle-identification pipeline: simulated grid, dataset folder, real set.

Every cohort becomes a :class:`CohortData`: the channel-wise windows
(:class:`~myoflow.containers.Epochs`, one 1-channel sample per grid channel and
burst), classic features of every window, the labels of each task, and
bookkeeping (detection accuracy against the simulator's true onsets).

Tasks
-----
grid cohorts (``simulate``, ``folder``; recordings carry ``muscle`` and ``side``):
  ``4class`` = side + muscle (``L-BB``, ``R-BB``, ``L-TA``, ``R-TA``), ``muscle``
  (biceps vs tibialis, the paper's first binary test), ``side`` (left vs right,
  the second).
the real lower-limb set and its simulated counterpart ``simulate-lowerlimb`` (one side, four muscles):
  ``4class`` = VL / BF / TA / GL, and two binary analogues on the same 2 × 2
  design: ``segment`` (thigh VL+BF vs shank TA+GL) and ``aspect`` (anterior
  VL+TA vs posterior BF+GL). The set has no left/right pair.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from ... import __version__
from ..._atomic import atomic_path, atomic_write_json
from ...config import to_dict
from ...containers import Epochs, Recording
from ...errors import ConfigError, DataError
from ...cache import cache_key, cached
from ...features import classic_features
from ...io._common import dead_stretch, label_spellings, non_emg
from ...io._common import muscle_code as _muscle_code, side_code as _side_name
from .config import CohortConfig, PreprocessConfig
from ...preprocess.bursts import RestTooShortError
from ...preprocess.windows import burst_windows, onset_errors_ms, pick_channels

__all__ = ["CohortData", "TASK_TITLES", "load_cohort", "grid_tasks", "lowerlimb_tasks", "REAL_MUSCLES"]

log = logging.getLogger(__name__)

#: Human-readable task names for tables and figures.
TASK_TITLES = {
    "4class": "4-class",
    "muscle": "biceps vs tibialis",
    "side": "left vs right",
    "segment": "thigh vs shank",
    "aspect": "anterior vs posterior",
}

#: Real set: channel name -> (segment, aspect).
REAL_MUSCLES = {"VL": ("thigh", "anterior"), "BF": ("thigh", "posterior"),
                "TA": ("shank", "anterior"), "GL": ("shank", "posterior")}

# Bump when windowing/feature code changes so cached cohorts are rebuilt.
_CACHE_VERSION = 9  # 4: one side for everybody -> the classes are the muscles; 5: resolved segmentation in info;
#                    6: flat (dead) channels give no windows; 7: amplitude outliers in info;
#                    8: recordings without windows in info; 9: trigger/digital channels give no windows


@dataclass
class CohortData:
    """One cohort, windowed and labelled.

    Attributes
    ----------
    name : str
        Condition prefix (``sim``, ``real``).
    kind : {"grid", "lowerlimb"}
    epochs : Epochs
        (n_windows, 1, n_times); metadata subject, recording, muscle, side,
        burst_id, burst_key, unit, channel, ...
    features : ndarray (n_windows, n_features)
        Classic features of every window (no fitting involved).
    labels : dict task -> ndarray of str
    info : dict
        Counts and burst-detection accuracy (JSON-able).
    """

    name: str
    kind: str
    epochs: Epochs
    features: np.ndarray
    labels: dict[str, np.ndarray]
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def tasks(self) -> list[str]:
        return list(self.labels)

    def task_map(self, task: str) -> dict[str, str]:
        """4-class label -> label of ``task`` (for collapsing 4-class probabilities)."""
        full, other = self.labels["4class"], self.labels[task]
        pairs = pd.DataFrame({"a": full, "b": other}).drop_duplicates()
        if pairs["a"].duplicated().any():
            raise DataError(f"task {task!r} is not a function of the 4-class label in cohort {self.name!r}")
        return dict(zip(pairs["a"], pairs["b"]))


# ------------------------------------------------------------------ labels
def grid_tasks(md: pd.DataFrame) -> dict[str, np.ndarray]:
    """Labels of the grid cohort's tasks from window metadata (``muscle``, ``side``)."""
    muscle = md["muscle"].map(_muscle_code).to_numpy(dtype=object)
    tasks: dict[str, np.ndarray] = {}
    # one side for everybody (e.g. "dominant"): the side adds nothing, the task is the muscle alone
    if "side" in md.columns and md["side"].notna().all() and md["side"].nunique() >= 2:
        side = md["side"].map(_side_name).to_numpy(dtype=object)
        tasks["4class"] = np.asarray([f"{s}-{m}" for s, m in zip(side, muscle)], dtype=str)
        tasks["muscle"] = muscle.astype(str)
        tasks["side"] = side.astype(str)
        sides = pd.Series(side).groupby(muscle).unique()
        one = {str(m): str(v[0]) for m, v in sides.items() if len(v) == 1}
        if one and len(one) < len(sides):
            # the side task then rewards recognising that muscle: its windows are all of one side
            log.warning("muscle(s) %s recorded on one side only (the others on both): their windows tell the side "
                        "by the muscle, so the left-vs-right figure partly scores recognising the muscle; for a "
                        "clean side figure leave them out of the folder", ", ".join(f"{m} ({v})"
                                                                           for m, v in sorted(one.items())))
    else:
        if "side" in md.columns and md["side"].isna().any() and md["side"].dropna().nunique() >= 2:
            # a side on some recordings only: the task silently became the muscle alone for everybody
            rec = md["recording"] if "recording" in md.columns else md["subject"]
            lacking = sorted(map(str, rec[md["side"].isna()].unique()))
            log.warning("recordings %s%s carry no 'side' while the others do, so the classes are the muscles "
                        "alone (sides pooled) for every recording; give every recording a side (--meta side=R, "
                        "the manifest or --pattern) to classify side-muscle", lacking[:5],
                        f" and {len(lacking) - 5} more" if len(lacking) > 5 else "")
        tasks["4class"] = muscle.astype(str)
    return {k: v for k, v in tasks.items() if np.unique(v).size >= 2}


def grouped_tasks(labels: dict[str, np.ndarray], md: pd.DataFrame, tasks: dict[str, dict[str, list[str]]],
                  cohort: str) -> dict[str, np.ndarray]:
    """Add the config's grouped tasks (``{task: {group: [classes]}}``) to ``labels``.

    A class is matched against the main-task label (``L-BB``) or the muscle name
    (``BB``). Raises DataError naming the cohort and task when a group names a class
    the cohort does not have, a class is in no group, or fewer than 2 groups remain.
    """
    if not tasks:
        return labels
    if "4class" not in labels:
        raise DataError(f"cohort {cohort!r}: fewer than 2 classes, so no grouped task can be formed")
    main = labels["4class"]
    muscle = md["muscle"].map(_muscle_code).astype(str).to_numpy() if "muscle" in md.columns else main
    present = set(np.unique(main)) | set(np.unique(muscle))
    out = dict(labels)
    for task, groups in tasks.items():
        if task in out:
            raise DataError(f"cohort {cohort!r}: task {task!r} already exists ({sorted(out)}); pick another name")
        member = {m: g for g, ms in groups.items() for m in ms}
        unknown = sorted(set(member) - present)
        if unknown:
            raise DataError(f"cohort {cohort!r}: task {task!r} groups class(es) {unknown} that the data do not have; "
                            f"classes are {sorted(map(str, np.unique(main)))} (muscles {sorted(map(str, np.unique(muscle)))})")
        y = np.asarray([member.get(a, member.get(b)) for a, b in zip(main, muscle)], dtype=object)
        if (y == None).any():  # noqa: E711 - elementwise
            left = sorted(map(str, set(main[y == None])))  # noqa: E711
            raise DataError(f"cohort {cohort!r}: task {task!r} puts class(es) {left} in no group; "
                            f"groups: {dict(groups)}")
        if np.unique(y.astype(str)).size < 2:
            raise DataError(f"cohort {cohort!r}: task {task!r} has only one group present in the data")
        out[task] = y.astype(str)
    return out


def lowerlimb_tasks(md: pd.DataFrame) -> dict[str, np.ndarray]:
    """Labels of the real set's tasks (VL/BF/TA/GL and the two 2-way groupings)."""
    muscle = md["muscle"].astype(str).to_numpy()
    return {
        "4class": muscle.astype(str),
        "segment": np.asarray([REAL_MUSCLES[m][0] for m in muscle], dtype=str),
        "aspect": np.asarray([REAL_MUSCLES[m][1] for m in muscle], dtype=str),
    }


# ------------------------------------------------------------------ sources
def _subset_subjects(items: list[tuple[str, Recording]], n: int | None) -> list[tuple[str, Recording]]:
    if n is None:
        return items
    subjects = sorted({str(r.meta.get("subject")) for _, r in items})[:n]
    return [(s, r) for s, r in items if str(r.meta.get("subject")) in subjects]


def _grid_recordings(cfg: CohortConfig, progress: Callable | None) -> tuple[list[tuple[str, Recording]], dict]:
    if cfg.source == "simulate":
        from ...simulate.protocols.grid import simulate_grid

        recs, participants = simulate_grid(n_subjects=int(cfg.subjects or 9), seed=cfg.seed,
                                           duration_s=cfg.duration_s, progress=progress)
        items = [(f"{r.meta['subject']}/{_side_name(r.meta.get('side'))}-{_muscle_code(r.meta.get('muscle'))}", r)
                 for r in recs]
        return items, {"participants": len(participants)}
    from ...io.dataset import load_dataset

    ds = load_dataset(cfg.path)
    items, skipped, epochs = [], [], []
    for stem, obj in ds:
        if isinstance(obj, Epochs):  # cut windows (e.g. MUAP templates): no recording to detect bursts in
            epochs.append(stem)
            continue
        if not isinstance(obj, Recording):
            skipped.append(stem)  # e.g. an EDF with EMG and an accelerometer at two rates reads as a Trial
            continue
        missing = [k for k in ("subject", "muscle") if obj.meta.get(k) is None]
        if missing:
            raise DataError(f"recording lacks meta {missing}; the muscle-id pipeline needs subject and muscle",
                            f"{cfg.path}/{stem}")
        if not obj.meta.get("source"):  # written from Python without one: errors about it then name its file
            obj = obj.replace(meta={**obj.meta, "source": str(ds.file(stem))})
        items.append((stem, obj))
    hint = ("; keep the EMG signals when converting, e.g. myoflow convert ... --hint channels=EMG1,EMG2 "
            "(EDF/BDF), so each file reads as one Recording")
    if not items and not skipped:
        raise DataError(f"dataset folder holds Epochs (e.g. {epochs[:2]}), not recordings: muscle-id needs one "
                        "continuous Recording per subject x muscle", str(cfg.path))
    if epochs:
        log.warning("%s: %d item(s) are Epochs, not recordings, and are left out: %s", cfg.path, len(epochs),
                    epochs[:5])
    if not items:
        raise DataError(f"dataset folder holds no single Recording: its {len(skipped)} item(s) are multi-rate "
                        f"Trials (e.g. {skipped[:2]}){hint}", str(cfg.path))
    if skipped:
        log.warning("%s: %d item(s) are not single Recordings and are left out: %s%s", cfg.path, len(skipped),
                    skipped[:5], hint)
    _one_spelling(items, str(cfg.path))
    from .._shared import amplitude_outliers

    # kept in the cohort's info, so a run served from the cache says it too (load_cohort)
    return _subset_subjects(items, cfg.subjects), {"participants": len(ds.participants),
                                                   "amplitude_outliers": amplitude_outliers([r for _, r in items])}


def _one_spelling(items: list[tuple[str, Recording]], where: str) -> None:
    """Refuse class names that differ only in case or spacing ('VL' in one file, 'vl' in another): each
    would be a class of its own, and a subject holding only one spelling would be scored on a class its
    training folds never saw (``convert`` refuses the same folders, :func:`myoflow.io._common.label_spellings`)."""
    clashes = label_spellings([(key, rec.meta.get(key), stem) for key in ("muscle", "side") for stem, rec in items])
    if clashes:
        key, spellings = clashes[0]
        shown = ", ".join(f"{n!r} ({stem})" for n, stem in list(spellings.items())[:3])
        raise DataError(f"{key} names {shown} differ only in case or spacing and would be separate "
                        f"classes; give each {key} one spelling (manifest, --pattern or --meta)", where)


def _lowerlimb_sim_recordings(cfg: CohortConfig, progress: Callable | None
                              ) -> tuple[list[tuple[str, Recording]], dict]:
    """The ``lowerlimb`` protocol: one channel per subject and contracting muscle, like the real set."""
    from ...simulate.protocols.lowerlimb import simulate_lowerlimb

    recs, participants = simulate_lowerlimb(n_subjects=int(cfg.subjects or 30), seed=cfg.seed,
                                            duration_s=cfg.duration_s, progress=progress)
    return [(f"{r.meta['subject']}/{r.meta['muscle']}", r) for r in recs], {"participants": len(participants)}


def _real_recordings(cfg: CohortConfig, cache_dir: Path | None, progress: Callable | None
                     ) -> tuple[list[tuple[str, Recording]], dict]:
    """The elderly lower-limb set: per subject and task, the channel on the contracting muscle."""
    from ...io.datasets import load_elderly_lowerlimb

    path = Path(cfg.path) if cfg.path is not None else _default_real_path()
    subjects = None
    if cfg.subjects is not None:  # the first N subjects by number (the loader parses only those)
        ids = sorted(int(m) for m in (p.stem.split()[-1] for p in path.glob("ID *.xlsx")) if m.isdigit())
        subjects = ids[: cfg.subjects]
    trials = load_elderly_lowerlimb(path, cache_dir=cache_dir, progress=False, subjects=subjects)
    items = []
    for trial in trials:
        emg = trial["emg"]
        task = str(trial.meta.get("task") or emg.meta.get("task"))
        if task not in REAL_MUSCLES:
            continue
        if task not in emg.ch_names:
            raise DataError(f"task {task} recording has no channel {task}; channels {list(emg.ch_names)}", emg.source)
        one = emg.pick([task])
        one = one.replace(meta={**one.meta, "muscle": task, "side": "dominant"})
        items.append((f"{one.meta.get('subject')}/{task}", one))
    if not items:
        raise DataError("no task recordings found", str(path))
    return items, {"participants": len({r.meta.get("subject") for _, r in items})}


def _default_real_path() -> Path:
    from .._shared import shared_data_dir

    path = shared_data_dir() / "elderly-lowerlimb-emg"
    if not path.is_dir():
        raise DataError("real set not found; set data.real.path or $MYOFLOW_SHARED_DATA", str(path))
    return path


# ------------------------------------------------------------------ windowing
def _window_cohort(name: str, kind: str, items: list[tuple[str, Recording]], cfg: CohortConfig,
                   pp: PreprocessConfig) -> CohortData:
    too_short: list[DataError] = []
    # A flat channel (a dead or unplugged grid electrode) holds no muscle: its windows would enter training
    # and scoring labelled with the recording's muscle. Left out, naming the recording; a flat recording stops.
    picked: dict[str, list[int]] = {}
    for rid, rec in items:
        chans = pick_channels(rec.n_channels, cfg.channels_per_burst)
        data = np.asarray(rec.data)
        why = {c: non_emg(data[c]) for c in chans}
        dead = [c for c in chans if why[c] == "flat"]
        if dead and len(dead) == len(chans):
            raise DataError(f"recording {rid}: every channel used is flat (constant: a dead or unplugged "
                            "electrode?); remove the recording", rec.source)
        if dead:
            log.warning("%s: recording %s: channel(s) %s are flat (constant: a dead or unplugged electrode?) and "
                        "give no windows", rec.source, rid, [rec.ch_names[c] for c in dead])
        # A line of two or three levels (a trigger, sync or foot switch recorded beside the grid) is no EMG either:
        # its windows trained as the recording's muscle. Quiet 12-bit EMG takes 7 or more (elderly-lowerlimb-emg).
        digital = [c for c in chans if why[c] == "digital"]
        if digital and len(digital) + len(dead) == len(chans):
            raise DataError(f"recording {rid}: every channel used takes at most 3 values (trigger or digital lines, "
                            "not EMG); remove the recording", rec.source)
        if digital:
            log.warning("%s: recording %s: channel(s) %s take at most 3 values (a trigger or digital line, not EMG) "
                        "and give no windows", rec.source, rid, [rec.ch_names[c] for c in digital])
        picked[rid] = [c for c in chans if c not in dead and c not in digital]
        # a cable pulled mid-recording (convert says so too; a folder written from Python was not told)
        stretch = {rec.ch_names[c]: st for c in picked[rid] if (st := dead_stretch(data[c], rec.fs)) is not None}
        if stretch:
            log.warning("%s: recording %s: channel(s) %s hold one value for a stretch (%s: an electrode off or a "
                        "cable pulled?); its windows there train as %s: cut the recording before it", rec.source,
                        rid, list(stretch), ", ".join(f"{k} {rec.t0 + a / rec.fs:.2f}-{rec.t0 + (a + n) / rec.fs:.2f} s"
                                                      for k, (a, n) in stretch.items()), rec.meta.get("muscle"))

    def segment(whole: bool, windows_per_burst: int | None, block_windows: int):
        parts, errors, n_true, n_det, n_lone = [], [], 0, 0, 0
        for rid, rec in items:
            chans = picked[rid]
            try:
                ep, bursts = burst_windows(rec, pp, recording_id=rid, channels=chans,
                                           windows_per_burst=windows_per_burst, block_windows=block_windows,
                                           whole=whole)
            except RestTooShortError as exc:
                # auto: a recording too short to estimate rest from is no reason to stop before the cohort is
                # seen to be sustained contractions (then it is tiled like the rest); raised below if it is not
                if whole:
                    raise
                too_short.append(exc)
                n_lone += 1
                continue
            n_det += len(bursts)
            n_lone += len(bursts) <= 1
            true = rec.events_of("burst_onset") if len(rec.events) else np.zeros(0, dtype=np.int64)
            if true.size:
                # true onsets are in the recording's own sample clock; rescale to the filtered rate
                scale = (pp.resample_hz or rec.fs) / rec.fs
                n_true += true.size
                errors.append(onset_errors_ms(np.asarray(bursts["onset"]) if len(bursts) else np.zeros(0),
                                              np.round(true * scale).astype(np.int64), pp.resample_hz or rec.fs))
            if ep is not None:
                parts.append(ep)
        return parts, errors, n_true, n_det, n_lone

    segmentation = cfg.segmentation
    parts, errors, n_true, n_det, n_lone = segment(segmentation == "whole", cfg.windows_per_burst, cfg.block_windows)
    # Sustained holds (no rest between contractions) give the TKEO detector nothing to separate: at most
    # one "burst" per recording, so the cohort would shrink to a handful of windows.
    sustained = bool(items) and segmentation != "whole" and n_lone >= 0.5 * len(items)
    if sustained and segmentation == "auto":
        # Label-free and the same for every subject: decided from how the recordings look, never from scores.
        block = cfg.block_windows if cfg.block_windows > 1 else 4
        log.warning("cohort %s: %d of %d recordings have at most one detected burst, so they are taken as "
                    "sustained contractions (segmentation auto -> whole: every 500 ms window, %d per split unit; "
                    "set data.%s.segmentation: bursts to keep the detector's bursts)",
                    name, n_lone, len(items), block, name)
        segmentation = "whole"
        parts, errors, n_true, n_det, n_lone = segment(True, None, block)
    elif sustained:
        log.warning("cohort %s: %d of %d recordings have at most one detected burst; if they are sustained "
                    "contractions, tile them into windows: --set data.%s.segmentation=whole "
                    "--set data.%s.windows_per_burst=null --set data.%s.block_windows=4",
                    name, n_lone, len(items), name, name, name)
    elif segmentation == "auto":
        segmentation = "bursts"
    if too_short and segmentation != "whole":
        # the reader's hint (rest=(t0, t1)) is Python's; say what a `myoflow run` user can do
        exc = too_short[0]
        raise DataError(f"{str(exc).removeprefix(f'{exc.source}: ')}: too short for burst detection; remove it "
                        f"(or, for sustained contractions, --set data.{name}.segmentation=whole)", exc.source)
    if not parts:
        hint = (f" or, for sustained contractions, data.{name}.segmentation: whole"
                if segmentation == "bursts" else "")
        raise DataError(f"cohort {name!r}: no burst windows in any recording (check preprocess.detector_k{hint})")
    epochs = Epochs.concatenate([p.replace(meta={}) for p in _align_columns(parts)])
    md = epochs.metadata
    lost = _recordings_without_windows(items, md, segmentation)
    labels = lowerlimb_tasks(md) if kind == "lowerlimb" else grid_tasks(md)
    if "4class" not in labels:
        raise DataError(f"cohort {name!r}: fewer than 2 muscle classes; nothing to classify")
    labels = grouped_tasks(labels, md, cfg.tasks, name)
    epochs = epochs.replace(y=labels["4class"], meta={"cohort": name})
    info: dict[str, Any] = {
        "n_subjects": int(md["subject"].nunique()), "n_recordings": len(items),
        "n_bursts_detected": int(n_det), "n_bursts_windowed": int(md["burst_key"].nunique()),
        "n_windows": int(len(epochs)), "window_samples": int(epochs.n_times), "fs": float(epochs.fs),
        "segmentation": segmentation,
        "class_counts": {k: int(v) for k, v in pd.Series(labels["4class"]).value_counts().sort_index().items()},
    }
    if lost:
        info["without_windows"] = lost  # warned about by load_cohort, also when served from the cache
    if errors:
        err = np.concatenate(errors)
        found = np.isfinite(err) & (np.abs(err) <= 50.0)
        info["detection"] = {
            "n_true_onsets": int(n_true),
            "recall_within_50ms": float(found.mean()) if err.size else float("nan"),
            "median_abs_error_ms": float(np.nanmedian(np.abs(err))) if np.isfinite(err).any() else float("nan"),
            "n_detected": int(n_det),
        }
    feats = classic_features(epochs)
    return CohortData(name=name, kind=kind, epochs=epochs, features=feats, labels=labels, info=info)


def _recordings_without_windows(items: list[tuple[str, Recording]], md: pd.DataFrame, segmentation: str
                                ) -> dict[str, Any] | None:
    """The recordings, and whole classes, that gave no window (for :func:`_warn_without_windows`).

    A gesture set's ``rest`` recordings hold no contraction for the burst detector to find: the class
    vanished from every task without a word (a 4-gesture + rest set ran as "4-class", scored as if rest had
    never been recorded). A recording of a class that others do give windows for is only named.
    """
    have = set(map(str, md["recording"].unique())) if "recording" in md.columns else set()
    empty = [(str(rid), str(_muscle_code(rec.meta.get("muscle")))) for rid, rec in items if str(rid) not in have]
    if not empty:
        return None
    present = set(map(str, md["muscle"].map(_muscle_code).unique())) if "muscle" in md.columns else set()
    gone = sorted({m for _, m in empty if m not in present})
    return {"classes": gone, "n_class_recordings": sum(m in gone for _, m in empty),
            "recordings": [rid for rid, m in empty if m not in gone], "segmentation": segmentation}


def _warn_without_windows(name: str, lost: dict[str, Any] | None) -> None:
    """Say what :func:`_recordings_without_windows` found (also when the cohort comes from the cache)."""
    if not lost:
        return
    bursts = lost.get("segmentation") == "bursts"
    what = "no burst detected" if bursts else "too short for one window"
    if lost.get("classes"):
        hint = (f"; a class without contractions (rest) has no bursts: tile the recordings instead (--set "
                f"data.{name}.segmentation=whole --set data.{name}.windows_per_burst=null --set "
                f"data.{name}.block_windows=4) or lower preprocess.detector_k") if bursts else ""
        log.warning("cohort %s: class(es) %s gave no windows (%s in any of their %d recording(s)) and are left out "
                    "of every task%s", name, lost["classes"], what, lost.get("n_class_recordings", 0), hint)
    rest = list(lost.get("recordings") or [])
    if rest:
        log.warning("cohort %s: recording(s) %s%s gave no windows (%s) and are left out", name, rest[:5],
                    f" and {len(rest) - 5} more" if len(rest) > 5 else "", what)


def _align_columns(parts: list[Epochs]) -> list[Epochs]:
    cols: list[str] = []
    for p in parts:
        cols += [c for c in p.metadata.columns if c not in cols]
    out = []
    for p in parts:
        md = p.metadata.reindex(columns=cols)
        out.append(p.replace(metadata=md))
    return out


# ------------------------------------------------------------------ cache
def _cache_key(name: str, cfg: CohortConfig, pp: PreprocessConfig) -> str:
    params = {"v": _CACHE_VERSION, "myoflow": __version__, "name": name, "cohort": to_dict(cfg), "pp": to_dict(pp)}
    if cfg.source in ("simulate", "simulate-lowerlimb"):
        from ...simulate import simulator_digest

        params["simulator"] = simulator_digest()  # any simulator edit invalidates the simulated cohort
    if cfg.source == "folder" and cfg.path is not None and Path(cfg.path).is_dir():
        from ...io.dataset import folder_fingerprint

        params["folder"] = folder_fingerprint(cfg.path)  # the contents, not just dataset.json (same for re-converts)
    return cache_key(params)


def _load_cached(stem: Path, name: str, kind: str, tasks: dict | None = None) -> CohortData | None:
    from ...io import native

    h5, npy, js = (stem.with_suffix(s) for s in (".h5", ".features.npy", ".json"))
    if not (h5.is_file() and npy.is_file() and js.is_file()):
        return None
    epochs = native.load(h5)
    md = epochs.metadata
    labels = lowerlimb_tasks(md) if kind == "lowerlimb" else grid_tasks(md)
    labels = grouped_tasks(labels, md, tasks or {}, name)
    return CohortData(name=name, kind=kind, epochs=epochs, features=np.load(npy, allow_pickle=False), labels=labels,
                      info=json.loads(js.read_text()))


def _save_cached(data: CohortData, stem: Path) -> None:
    from ...io import native

    native.save(data.epochs, stem.with_suffix(".h5"))
    with atomic_path(stem.with_suffix(".features.npy")) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, data.features, allow_pickle=False)
    atomic_write_json(stem.with_suffix(".json"), data.info)  # last: its presence marks a complete entry


def load_cohort(name: str, cfg: CohortConfig, pp: PreprocessConfig, cache_dir: Path | None = None,
                progress: Callable | None = None) -> CohortData:
    """Load (simulate / read), window and label one cohort; cached under ``cache_dir``.

    The cache (:func:`myoflow.cache.cached`) holds only the
    deterministic windowing of the recordings (keyed by the cohort and
    preprocessing settings and the myoflow version), never anything fitted.
    """
    kind = "lowerlimb" if cfg.source in ("elderly-lowerlimb", "simulate-lowerlimb") else "grid"

    def build() -> CohortData:
        if cfg.source == "elderly-lowerlimb":
            items, extra = _real_recordings(cfg, Path(cache_dir) if cache_dir else None, progress)
        elif cfg.source == "simulate-lowerlimb":
            items, extra = _lowerlimb_sim_recordings(cfg, progress)
        elif cfg.source in ("simulate", "folder"):
            items, extra = _grid_recordings(cfg, progress)
        else:  # pragma: no cover - Literal in the config
            raise ConfigError(f"unknown cohort source {cfg.source!r}")
        data = _window_cohort(name, kind, items, cfg, pp)
        data.info.update(extra)
        data.info["source"] = cfg.source
        return data

    stem = None if cache_dir is None else Path(cache_dir) / "muscle_id" / f"{name}-{_cache_key(name, cfg, pp)}"
    data = cached(stem, lambda p: _load_cached(p, name, kind, cfg.tasks), _save_cached, build, what=f"cohort {name}")
    from .._shared import warn_amplitude_outliers

    warn_amplitude_outliers(data.info.get("amplitude_outliers") or [], str(cfg.path))
    _warn_without_windows(name, data.info.get("without_windows"))
    return data


def _simpretrain_windows(spec, cache_dir: Path):
    """Windows of the simulator-pretraining cohort (:mod:`myoflow.models.sim_pretrain`), windowed as here."""
    from ...errors import ConfigError
    from ...models.sim_pretrain import PROTOCOLS

    source, segmentation, per_burst = PROTOCOLS[spec.protocol]
    try:
        pp = PreprocessConfig(**spec.preprocess)
    except TypeError as exc:
        raise ConfigError(f"pretrain.preprocess: {exc}") from None
    cfg = CohortConfig(source=source, subjects=int(spec.subjects), seed=int(spec.seed),
                       duration_s=float(spec.duration_s), segmentation=segmentation,
                       windows_per_burst=per_burst, block_windows=1)
    return load_cohort(f"simpretrain-{spec.protocol}", cfg, pp, cache_dir=cache_dir).epochs


def _register() -> None:
    from ...models.sim_pretrain import register_cohort_builder

    register_cohort_builder(_simpretrain_windows)


_register()
