"""Making any walking trial usable: force plates → feet, heel strikes, plausible cycles, valid range, muscles.

Real trials differ from the simulator's in ways that used to stop the pipeline
(issue 15): the GRF of the analysed leg on the "other" plate, one heel strike
found, spurious kinematic cycles, 4 of the 7 muscles, angles that leave the
physiological range at the ends of the trial. Each function here handles one of
these and says what it did.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from ..containers import Recording, Trial
from ..errors import DataError
from ..io._common import SIDE_WORDS

__all__ = ["CycleRules", "kinematic_heel_strikes", "assign_force_plates", "heel_strike_times", "plausible_cycles", "valid_range",
           "select_muscles", "PHYSIOLOGICAL_DEG"]

log = logging.getLogger(__name__)

#: Sagittal angles outside these ranges (deg, flexion/dorsiflexion +) are not walking: marker
#: dropout or an inverse-kinematics failure at the trial's ends (knee 81 deg hyperextension, hip -373 deg).
PHYSIOLOGICAL_DEG = {"hip_flexion": (-45.0, 120.0), "knee_flexion": (-15.0, 140.0),
                     "ankle_dorsiflexion": (-60.0, 50.0)}


@dataclass
class CycleRules:
    """Which heel-strike to heel-strike intervals count as gait cycles."""

    min_s: float = 0.6
    max_s: float = 2.0
    max_rel_dev: float = 0.3   # from the trial's median duration
    counts: dict = field(default_factory=dict)


def _plate_prefixes(rec: Recording) -> list[str]:
    """OpenSim plate prefixes with a vertical force: ``ground_force``, ``l_ground_force``, ``1_ground_force``..."""
    out = []
    for c in rec.ch_names:
        if c.lower().endswith("_vy") and "force" in c.lower():
            out.append(c[:-3])
    return out


def _contacts(rec: Recording, ch: str) -> np.ndarray:
    from ..preprocess import detect_heel_strikes

    try:
        return detect_heel_strikes(rec, method="grf", force_channel=ch)
    except DataError:
        return np.zeros(0)


def kinematic_heel_strikes(angles: Recording, side: str) -> np.ndarray:
    """Heel strikes from hip + knee angles (myoflow or OpenSim names); empty when they cannot be found."""
    from ..preprocess import detect_heel_strikes

    kw = {}
    if "hip_flexion" in angles.ch_names and "knee_flexion" in angles.ch_names:
        kw = dict(hip_channel="hip_flexion", knee_channel="knee_flexion", knee_flexion_negative=False)
    try:
        return detect_heel_strikes(angles, side=side, method="kinematics", **kw)
    except DataError:
        return np.zeros(0)


def _match(a: np.ndarray, b: np.ndarray) -> float:
    """Median distance (s) from each time in ``a`` to the nearest in ``b`` (inf when either is empty)."""
    if a.size == 0 or b.size == 0:
        return float("inf")
    return float(np.median(np.min(np.abs(a[:, None] - b[None, :]), axis=1)))


def assign_force_plates(trial: Trial, side: str, plates: Mapping[str, str] | None = None) -> tuple[Trial, str]:
    """Rename the GRF stream's OpenSim plate columns so that the analysed leg's plate is where
    :func:`~myoflow.biomech.trial.grf_sagittal` looks (``ground_force_*`` right, ``l_ground_force_*`` left).

    Parameters
    ----------
    trial : Trial
    side : {"r", "l"}
    plates : mapping, optional
        Plate prefix → foot, e.g. ``{"ground_force": "l", "1_ground_force": "r"}``. Without
        it a plate is assigned by comparing its contacts with each leg's kinematic heel
        strikes (when the names do not already give the analysed leg a plate).

    Returns
    -------
    trial : Trial
        With the GRF stream's columns renamed (unchanged when nothing was needed).
    how : str
        ``"names"``, ``"config"``, ``"kinematics"`` or ``"none"`` (no plate found).
    """
    if "grf" not in trial:
        return trial, "none"
    g = trial["grf"]
    if any(c in g.ch_names for c in ("grf_vertical",)):
        return trial, "names"
    prefixes = _plate_prefixes(g)
    target = {"r": "ground_force", "l": "l_ground_force"}
    if plates:
        unknown = [p for p in plates if p not in prefixes]
        if unknown:
            raise DataError(f"data.force_plates names plate(s) {unknown}; the GRF stream has plates {prefixes}",
                            g.source)
        bad = {p: f for p, f in plates.items() if f not in ("r", "l")}
        if bad:
            raise DataError(f"data.force_plates: feet must be 'r' or 'l', got {bad}", g.source)
        assign = dict(plates)
        how = "config"
    else:
        # Check the names against the kinematics: the analysed leg's plate is the one whose
        # contacts fall on that leg's kinematic heel strikes (a left foot on the unprefixed
        # "right" plate is common when only one plate was stepped on).
        kin = kinematic_heel_strikes(trial["angles"], side) if "angles" in trial else np.zeros(0)
        if kin.size < 2:
            return trial, ("names" if target[side] in prefixes else "none")
        scores = {p: _match(_contacts(g, f"{p}_vy"), kin) for p in prefixes}
        best = min(scores, key=scores.get) if scores else None
        if best is None or not np.isfinite(scores[best]) or scores[best] > 0.15:
            log.warning("%s: no force plate's contacts match the %s leg's kinematic heel strikes (plates %s); "
                        "the GRF is not used for this trial (set data.force_plates to assign them)",
                        g.source, side, prefixes)
            return Trial(streams={k: v for k, v in trial.streams.items() if k != "grf"}, meta=trial.meta), "none"
        if best == target[side]:
            return trial, "names"
        assign = {best: side}
        how = "kinematics"
        log.info("%s: force plate %r assigned to the %s foot from kinematics (median offset %.3f s)",
                 g.source, best, side, scores[best])
    rename = {}
    for prefix, foot in assign.items():
        for c in g.ch_names:
            if c.startswith(prefix + "_"):
                rename[c] = target[foot] + c[len(prefix):]
    # a plate moved onto a name another plate holds: that plate is parked under a neutral name
    taken = set(rename.values())
    for c in g.ch_names:
        if c not in rename and c in taken:
            rename[c] = "unassigned_" + c
    names = [rename.get(c, c) for c in g.ch_names]
    if len(set(names)) != len(names):
        raise DataError(f"force-plate assignment {assign} gives duplicate columns {names}", g.source)
    return trial.with_stream("grf", g.replace(ch_names=tuple(names))), how


def _side_strike_pattern(side: str) -> str:
    """Event kinds that are heel strikes of ``side`` ('r'/'l'): 'Right Foot Strike', 'left heel strike', 'R_HS'."""
    word = {"r": "right|r", "l": "left|l"}.get(str(side).lower()[:1], "$^")
    return rf"\s*({word})[\s_-]*((foot|heel)[\s_-]*strike|hs|initial[\s_-]*contact)\s*"


# Event kinds that look like heel strikes: Vicon/C3D 'Right Foot Strike', 'HS', 'Heel Strike', 'initial contact'.
_HEEL_STRIKE_LIKE = re.compile(r"(heel|foot)[\s_-]*strike|^\s*(r|l|right|left)?[\s_-]*hs\s*$|initial[\s_-]*contact",
                               re.IGNORECASE)
_SIDED_STRIKE = re.compile(f"{_side_strike_pattern('r')}|{_side_strike_pattern('l')}", re.IGNORECASE)


def unread_strike_kinds(trial: Trial) -> list[str]:
    """Event kinds of ``trial`` that look like heel strikes but that :func:`heel_strike_times` does not read
    (no side: ``HS``, ``Foot Strike``); empty when the trial has ``heel_strike`` events."""
    kinds = {str(k) for rec in trial.streams.values() if len(rec.events) for k in rec.events["kind"].unique()}
    if "heel_strike" in kinds:
        return []
    return sorted(k for k in kinds if _HEEL_STRIKE_LIKE.search(k) and not _SIDED_STRIKE.fullmatch(k))


def heel_strike_times(trial: Trial, side: str, method: str = "auto") -> tuple[np.ndarray, str]:
    """Heel strikes (s) and where they came from: ``events`` (``heel_strike`` on any stream, else a C3D's
    ``Right/Left Foot Strike`` of ``side``), ``grf``, ``kinematics``."""
    from ..preprocess import detect_heel_strikes

    if method in ("auto", "events"):
        for name, rec in trial.streams.items():
            hs = rec.events_of("heel_strike") if len(rec.events) else np.zeros(0)
            if hs.size >= 2:
                return rec.t0 + np.asarray(hs, float) / rec.fs, f"events ({name} stream)"
        # a C3D's own gait events (Vicon/Nexus: context + label, "Right Foot Strike"), of data.side only
        for name, rec in trial.streams.items():
            if not len(rec.events):
                continue
            kinds = rec.events["kind"].astype(str)
            mine = kinds.str.fullmatch(_side_strike_pattern(side), case=False).to_numpy()
            if mine.sum() >= 2:
                hs = np.sort(rec.events["sample"].to_numpy()[mine])
                return rec.t0 + hs.astype(float) / rec.fs, f"events ({sorted(set(kinds[mine]))[0]}, {name} stream)"
        if method == "events":
            raise DataError("no 'heel_strike' events (need >= 2 on one stream); give them with "
                            "`myoflow convert --events` or set data.heel_strikes: auto", trial.source)
    tried = []
    for m in (("grf", "kinematics") if method == "auto" else (method,)):
        if m == "kinematics" and "angles" in trial:
            hs = kinematic_heel_strikes(trial["angles"], side)
        else:
            try:
                hs = detect_heel_strikes(trial, side=side, method=m)
            except DataError as exc:
                tried.append(f"{m}: {exc}")
                continue
        if hs.size >= 2:
            return hs, m
        tried.append(f"{m}: {hs.size} strike(s)")
    raise DataError(
        f"fewer than 2 heel strikes for side {side!r} (tried {'; '.join(tried)}); supply 'heel_strike' events "
        "(myoflow convert --events), assign the force plates (data.force_plates) or set data.side", trial.source)


def plausible_cycles(hs: np.ndarray, rules: CycleRules, valid: tuple[float, float] | None = None
                     ) -> tuple[np.ndarray, dict[str, int]]:
    """Indices ``i`` of cycles ``hs[i] → hs[i+1]`` that are plausible, and counts of the rejected ones.

    A cycle is rejected when it lasts less than ``min_s`` or more than ``max_s``, differs by
    more than ``max_rel_dev`` from the median of the cycles inside the range, or leaves the
    valid range ``(tmin, tmax)``.
    """
    hs = np.sort(np.asarray(hs, float))
    dur = np.diff(hs)
    inside = np.ones(dur.size, bool) if valid is None else (hs[:-1] >= valid[0]) & (hs[1:] <= valid[1])
    absolute = (dur >= rules.min_s) & (dur <= rules.max_s)
    ref = dur[inside & absolute]
    med = float(np.median(ref)) if ref.size else float("nan")
    relative = np.abs(dur - med) <= rules.max_rel_dev * med if ref.size else np.zeros(dur.size, bool)
    keep = inside & absolute & relative
    counts = {"candidate": int(dur.size), "kept": int(keep.sum()),
              "outside_valid_range": int((~inside).sum()),
              "duration_out_of_bounds": int((inside & ~absolute).sum()),
              "off_median": int((inside & absolute & ~relative).sum())}
    return np.flatnonzero(keep), counts


def valid_range(angles: Recording) -> tuple[float, float]:
    """The longest stretch (s, session clock) where every sagittal angle is finite and physiological."""
    ok = np.ones(angles.n_samples, bool)
    for j, name in enumerate(angles.ch_names):
        lo, hi = PHYSIOLOGICAL_DEG.get(name, (-np.inf, np.inf))
        x = angles.data[j]
        ok &= np.isfinite(x) & (x >= lo) & (x <= hi)
    if not ok.any():
        raise DataError("no sample has all joint angles in their physiological range "
                        f"{PHYSIOLOGICAL_DEG} (angles in degrees, flexion positive?)", angles.source)
    edges = np.diff(np.concatenate([[0], ok.astype(np.int8), [0]]))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    k = int(np.argmax(stops - starts))
    return angles.t0 + starts[k] / angles.fs, angles.t0 + (stops[k] - 1) / angles.fs


# The paper's muscles in words, to suggest a data.emg_map for channels named in full or abbreviated
# ('vast_lat', 'M. tibialis ant.', 'gastroc_med'); a suggestion in the error only, never applied unasked.
_MUSCLE_WORDS = {"TA": ("tibialis", "anterior"), "GM": ("gastrocnemius", "medialis"), "VL": ("vastus", "lateralis"),
                 "RF": ("rectus", "femoris"), "BF": ("biceps", "femoris"), "ST": ("semitendinosus",),
                 "SOL": ("soleus",)}
_NOT_WORDS = {"m", "musc", "musculus", "muscle", "r", "l", "right", "left", "re", "li", "rechts", "links", "emg"}


def _suggested_map(names: Sequence[str], paper: Sequence[str]) -> dict[str, str]:
    """``{channel: muscle}`` for channels whose words abbreviate one muscle's words in order (``vast_lat`` → VL)."""
    out: dict[str, str] = {}
    for name in names:
        words = [w for w in re.split(r"[^a-z]+", str(name).lower()) if w and w not in _NOT_WORDS]
        hits = [m for m in paper if m in _MUSCLE_WORDS and len(words) == len(_MUSCLE_WORDS[m])
                and all(len(w) >= 3 and full.startswith(w) for w, full in zip(words, _MUSCLE_WORDS[m]))]
        if len(hits) == 1 and hits[0] not in out.values():
            out[str(name)] = hits[0]
    return out


_WARNED_UNUSED: set[tuple[str, ...]] = set()  # EMG channel sets already reported as left out

# A side marker in a lab's EMG channel name: 'VL_R', 'GM Rt', 'TA-L', 'TA (L)', 'R_TA', 'Right TA', 'LTA'.
_SIDE_RE = "|".join(sorted(SIDE_WORDS, key=len, reverse=True))
_SIDED_NAME = (re.compile(rf"^(?P<m>.+?)\s*[\[(]\s*(?P<s>{_SIDE_RE})\s*[\])]$", re.IGNORECASE),  # TA (L)
               re.compile(rf"^(?P<m>.+?)[\s_.\-]+(?P<s>{_SIDE_RE})$", re.IGNORECASE),            # VL_R, GM Rt
               re.compile(rf"^(?P<s>{_SIDE_RE})[\s_.\-]+(?P<m>.+)$", re.IGNORECASE),            # R_TA, Right TA
               re.compile(r"^(?P<s>[LR])(?P<m>[A-Z]{2,})$"))                                     # LTA (capitals)


def _sided_muscle(name: str, paper: Sequence[str]) -> tuple[str, str] | None:
    """``(muscle, side)`` for a channel named as one of the ``paper`` muscles with a side marker, else None.

    The muscle part must be one of ``paper`` exactly (case aside): ``'TA_R'`` → ``('TA', 'r')``, while
    ``'TA_2'`` or ``'EMG R'`` stay unread (a guess there would put a channel on the wrong muscle).
    """
    by_upper = {m.upper(): m for m in paper}
    for pattern in _SIDED_NAME:
        hit = pattern.match(str(name).strip())
        if hit and hit.group("m").strip().upper() in by_upper:
            return by_upper[hit.group("m").strip().upper()], SIDE_WORDS[hit.group("s").lower()]
    return None


def select_muscles(rec: Recording, wanted: Sequence[str] | None, emg_map: Mapping[str, str],
                   paper: Sequence[str], opensim: Mapping[str, str] | Sequence[Mapping[str, str]],
                   side: str) -> Recording:
    """Rename EMG channels (``emg_map``, then OpenSim models' names) and keep the muscles to predict.

    ``opensim``: one ``{muscle: "name_{s}"}`` mapping or several (gait2392's, Rajagopal's).
    ``wanted`` None: the paper's muscles that are present (at least one), in the paper's order.
    """
    names = [emg_map.get(c, c) for c in rec.ch_names]
    back = {v.format(s=side): k for table in ([opensim] if isinstance(opensim, Mapping) else opensim)
            for k, v in table.items()}
    names = [back.get(n, n) if n not in paper else n for n in names]
    # A side marker in the name ('VL_R', 'GM Rt', 'R_TA', 'LTA', 'TA (L)'): this side's channel is read as
    # the muscle, the other leg's keeps its name (left out). These needed a data.emg_map for every channel.
    known = list(paper) + [m for m in (wanted or ()) if m not in paper]
    sided = {c: _sided_muscle(n, known) for c, n in zip(rec.ch_names, names)
             if n not in known and c not in emg_map}
    other_leg = [c for c, hit in sided.items() if hit and hit[1] != side]
    names = [sided[c][0] if sided.get(c) and sided[c][1] == side else n for c, n in zip(rec.ch_names, names)]
    if len(set(names)) != len(names):
        clash = {n: [c for c, m in zip(rec.ch_names, names) if m == n] for n in names if names.count(n) > 1}
        raise DataError("EMG channels " + "; ".join(f"{cs} all read as {n!r}" for n, cs in clash.items())
                        + f" (data.side {side!r}): which one is the muscle is ambiguous; name each in "
                        "data.emg_map (e.g. {" + f"{clash[next(iter(clash))][0]}: {next(iter(clash))}" + "}) "
                        "or drop the others when converting", rec.source)
    rec = rec.replace(ch_names=tuple(names))
    if wanted is None:
        wanted = [m for m in paper if m in names]
        if not wanted:
            guess = _suggested_map(names, paper)
            example = ("--set 'data.emg_map={" + ", ".join(f"{k}: {v}" for k, v in guess.items()) + "}'"
                       " (check each)" if guess else "data.emg_map (e.g. {EMG1: TA})")
            leg = (f"; {other_leg} are named as the other leg's (data.side is {side!r}: is the EMG the other "
                   "leg's?)" if other_leg else "")
            raise DataError(f"emg stream has none of the muscles {list(paper)} (channels {names}{leg}); map its "
                            f"channels with {example} or list them in data.muscles", rec.source)
        unused = tuple(n for n in names if n not in wanted and n not in other_leg)  # the other leg's: expected
        if unused and len(wanted) < len(paper) and unused not in _WARNED_UNUSED:
            # some of the paper's muscles found, other channels passed over: a lab's own names for the rest
            # (Rajagopal's 'tibant_r' before it was mapped) left the run on SOL alone without a word
            _WARNED_UNUSED.add(unused)
            log.warning("%s: EMG channels %s are none of %s and are left out (the run predicts %s): map them "
                        "with data.emg_map, or list the muscles to predict in data.muscles", rec.source,
                        list(unused), list(paper), list(wanted))
    missing = [m for m in wanted if m not in names]
    if missing:
        raise DataError(f"emg stream lacks muscle(s) {missing} of data.muscles; it has {names}", rec.source)
    return rec.pick(list(wanted))
