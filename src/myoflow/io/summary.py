"""Plain-data summaries of containers and datasets (what ``myoflow inspect`` shows).

:func:`describe` returns a JSON-able dict: sampling rate(s), channels, durations,
subjects, events by kind, covariates. It never returns samples.
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Iterable, Mapping

import numpy as np

from ..containers import Epochs, Recording, Trial
from ._encode import to_jsonable
from .dataset import Dataset

__all__ = ["describe"]

_META_KEYS = ("subject", "session", "muscle", "side", "task", "trial", "condition", "frequency", "source")


def _scalar_meta(meta: Mapping[str, Any]) -> dict[str, Any]:
    return {k: to_jsonable(meta[k]) for k in _META_KEYS if meta.get(k) is not None}


def _events(rec: Recording) -> dict[str, int]:
    return {str(k): int(v) for k, v in Counter(rec.events["kind"]).items()}


def _recording(rec: Recording) -> dict[str, Any]:
    units = list(rec.units)
    out = {
        "type": "Recording",
        "fs": rec.fs,
        "n_channels": rec.n_channels,
        "channels": list(rec.ch_names),
        "units": units[0] if len(set(units)) == 1 else units,
        "n_samples": rec.n_samples,
        "duration_s": rec.duration,
        "t0_s": rec.t0,
        "events": _events(rec),
        "covariates": to_jsonable(rec.covariates),
        **_scalar_meta(rec.meta),
    }
    if rec.grid_shape is not None:
        out["grid_shape"] = list(rec.grid_shape)
    if rec.layout is not None:
        extent = np.ptp(rec.layout, axis=0)
        out["layout_extent_mm"] = [float(extent[0]), float(extent[1])]
    if "electrode" in rec.meta:
        out["electrode"] = to_jsonable(rec.meta["electrode"])
    return out


def _trial(trial: Trial) -> dict[str, Any]:
    streams = {name: _recording(rec) for name, rec in trial.streams.items()}
    cov = dict(trial.meta.get("covariates") or {})
    for rec in trial.streams.values():
        cov = cov or rec.covariates
    events: Counter = Counter()
    for s in streams.values():
        events.update(s["events"])
    return {
        "type": "Trial",
        "duration_s": trial.stop - trial.start,
        "sampling_rates": sorted({r.fs for r in trial.streams.values()}),
        "streams": streams,
        "events": dict(events),
        "covariates": to_jsonable(cov),
        **_scalar_meta(trial.meta),
    }


def _epochs(ep: Epochs) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": "Epochs",
        "n_epochs": len(ep),
        "fs": ep.fs,
        "n_channels": ep.n_channels,
        "channels": list(ep.ch_names),
        "n_times": ep.n_times,
        "window_s": ep.n_times / ep.fs,
        "tmin_s": ep.tmin,
        "metadata_columns": list(ep.metadata.columns),
        **_scalar_meta(ep.meta),
    }
    if "subject" in ep.metadata.columns:
        out["subjects"] = sorted(map(str, ep.metadata["subject"].unique()))
    if ep.y is not None:
        if ep.y.ndim == 1 and ep.y.dtype.kind in "OUSbi":
            out["targets"] = {str(k): int(v) for k, v in sorted(Counter(ep.y.tolist()).items(), key=lambda kv: str(kv[0]))}
        else:
            y = np.asarray(ep.y, dtype=float).reshape(len(ep), -1)
            out["targets"] = {"shape": list(ep.y.shape), "min": y.min(axis=0).tolist() if len(y) else [],
                              "max": y.max(axis=0).tolist() if len(y) else []}
    return out


def _one(obj: Any) -> dict[str, Any]:
    if isinstance(obj, Recording):
        return _recording(obj)
    if isinstance(obj, Trial):
        return _trial(obj)
    if isinstance(obj, Epochs):
        return _epochs(obj)
    raise TypeError(f"cannot describe a {type(obj).__name__}")


def _covariate_summary(per_subject: dict[str, dict]) -> dict[str, Any]:
    values: dict[str, list] = {}
    for cov in per_subject.values():
        for k, v in cov.items():
            values.setdefault(k, []).append(v)
    out = {}
    for k, vs in values.items():
        nums = [float(v) for v in vs if isinstance(v, (int, float, np.number)) and not isinstance(v, bool)]
        if len(nums) == len(vs) and nums:
            out[k] = {"min": min(nums), "max": max(nums), "mean": float(np.mean(nums)), "n": len(nums)}
        else:
            out[k] = {str(c): int(n) for c, n in Counter(map(str, vs)).items()}
    return out


def _number_first(label: str) -> tuple[float, str]:
    """Sort key of ``'2.5 Hz'`` by its number (2.5 before 10), labels without one last."""
    try:
        return float(label.split()[0]), label
    except (ValueError, IndexError):
        return float("inf"), label


def _collection(items: Iterable[tuple[str, Any]], name: str | None) -> dict[str, Any]:
    brief: dict[str, Any] = {}
    rates: set[float] = set()
    channels: dict[str, list[str]] = {}
    events: Counter = Counter()
    durations: list[float] = []
    subjects: set[str] = set()
    covariates: dict[str, dict] = {}
    kinds: Counter = Counter()
    # items per unit and per muscle: ADC counts (a.u.) beside volts, or a class of few recordings, at a glance
    units: Counter = Counter()
    muscles: Counter = Counter()
    frequencies: Counter = Counter()  # a stimulated cohort's trains: each recording has its frequency?
    for key, obj in items:
        d = _one(obj)
        kinds[d["type"]] += 1
        recs = d["streams"] if d["type"] == "Trial" else {"": d}
        if d.get("muscle") is not None:
            muscles[str(d["muscle"])] += 1
        if d.get("frequency") is not None:
            frequencies[f"{d['frequency']:g} Hz" if isinstance(d["frequency"], (int, float)) else
                        str(d["frequency"])] += 1
        for sname, r in recs.items():
            if "fs" in r:
                rates.add(r["fs"])
            if "units" in r:
                units.update(set(r["units"] if isinstance(r["units"], list) else [r["units"]]))
            if "channels" in r:
                # Trials: union per stream name; single objects: per item, merged below when equal.
                group = channels.setdefault(sname or str(key), [])
                group.extend(ch for ch in r["channels"] if ch not in group)
        events.update(d.get("events", {}))
        if "duration_s" in d:
            durations.append(float(d["duration_s"]))
        subj = d.get("subject")
        if subj is not None:
            subjects.add(str(subj))
            if d.get("covariates"):
                covariates[str(subj)] = d["covariates"]
        for s in d.get("subjects", []):
            subjects.add(str(s))
        entry = {k: d[k] for k in ("type", "subject", "task", "muscle", "condition", "duration_s") if k in d}
        entry["sampling_rates"] = sorted({r["fs"] for r in recs.values() if "fs" in r})
        if d["type"] == "Trial":
            entry["streams"] = {s: {"fs": r["fs"], "n_channels": r["n_channels"], "units": r["units"]}
                                for s, r in d["streams"].items()}
        else:
            entry["n_channels"] = d.get("n_channels")
        if d.get("events"):
            entry["events"] = d["events"]
        brief[str(key)] = entry
    merged: dict[tuple, list[str]] = {}
    for label, chs in channels.items():
        merged.setdefault(tuple(chs), []).append(label)
    channels = {", ".join(labels) if len(labels) <= 3 else f"{labels[0]} ... ({len(labels)} items)": list(chs)
                for chs, labels in merged.items()}
    out: dict[str, Any] = {
        "type": "collection",
        "n_items": len(brief),
        "item_types": dict(kinds),
        "sampling_rates": sorted(rates),
        "units": dict(sorted(units.items())),
        "muscles": dict(sorted(muscles.items())),
        "frequencies": dict(sorted(frequencies.items(), key=lambda kv: _number_first(kv[0]))),
        "channels": channels,
        "subjects": sorted(subjects),
        "events": dict(events),
        "covariates": _covariate_summary(covariates),
        "items": brief,
    }
    if durations:
        out["duration_s"] = {"min": min(durations), "max": max(durations), "total": float(sum(durations))}
    if name:
        out["dataset"] = name
    return out


def describe(obj: Any, *, name: str | None = None) -> dict[str, Any]:
    """Summarise a container, a :class:`~myoflow.io.dataset.Dataset` or a list/dict of containers.

    Returns
    -------
    dict
        JSON-able. Single objects: ``type``, ``fs``/``sampling_rates``,
        ``channels``, ``duration_s``, ``events`` (count per kind), ``covariates``,
        subject and other scalar metadata. Collections: the union of those plus
        ``items`` (one short entry per item) and ``covariates`` summarised per
        variable over subjects.
    """
    if isinstance(obj, (Recording, Trial, Epochs)):
        out = _one(obj)
        if name:
            out["dataset"] = name
        return out
    if isinstance(obj, Dataset):
        out = _collection(iter(obj), name or obj.info.get("protocol"))
        out["type"] = "dataset"
        out["info"] = to_jsonable({k: v for k, v in obj.info.items() if k != "n_items"})
        if len(obj.participants.columns) > 1:
            part = obj.participants.set_index("subject")
            out["covariates"] = _covariate_summary({str(s): row.dropna().to_dict() for s, row in part.iterrows()})
        out["subjects"] = sorted(set(out["subjects"]) | {str(s) for s in obj.subjects})
        if getattr(obj, "subjects_without_items", None):
            out["subjects_without_recordings"] = [str(s) for s in obj.subjects_without_items]
        return out
    if isinstance(obj, Mapping):
        return _collection(obj.items(), name)
    if isinstance(obj, (list, tuple)):
        def key(i: int, o: Any) -> str:
            meta = getattr(o, "meta", {}) or {}
            bits = [str(meta[k]) for k in ("subject", "task", "trial", "session") if meta.get(k) is not None]
            return "/".join(bits) if bits else str(i)
        return _collection(((key(i, o), o) for i, o in enumerate(obj)), name)
    raise TypeError(f"cannot describe a {type(obj).__name__}")
