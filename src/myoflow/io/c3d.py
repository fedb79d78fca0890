"""C3D analog channels (via ezc3d), with C3D events, and Plug-in Gait joint angles and moments.

ezc3d returns analog values already scaled to physical units (``ANALOG:SCALE``,
``GEN_SCALE``, ``OFFSET`` applied). Channels in mV/µV are scaled to V.
Events (``EVENT:TIMES/LABELS/CONTEXTS``) become events of kind
``"<context> <label>"`` (e.g. ``"Left Foot Strike"``) at the nearest analog sample.

A gait lab's C3D (Vicon Nexus Plug-in Gait, or any model writing the same output
names) also holds the model's joint angles and moments as points (``LKneeAngles``,
``RAnkleMoment``, optionally prefixed ``Subject:``). When it has the sagittal angles
of a side, :func:`read_c3d` returns a :class:`~myoflow.containers.Trial`:

* ``emg``: the analog channels (as above);
* ``angles`` (point rate, deg): ``hip_flexion_l``, ``knee_flexion_l``,
  ``ankle_dorsiflexion_l`` (and ``_r``), the X component of ``{L,R}{Hip,Knee,Ankle}Angles``
  — Plug-in Gait's flexion / dorsiflexion-positive convention, the one myoflow uses;
* ``moments`` (when present, N·m/kg): ``hip_sagittal_l`` … from the X component of
  ``{L,R}{Hip,Knee,Ankle}Moment``. Plug-in Gait writes them per kg of body mass in
  ``POINT:MOMENT_UNITS`` (``Nmm``: N·mm/kg, scaled to N·m/kg) with the external-moment
  description, whose positive X (external flexing / dorsiflexing) is the internal
  extensor (hip, knee) / plantarflexor (ankle) moment: myoflow's signs
  (:data:`myoflow.biomech.inverse_dynamics.MOMENT_SIGNS`).

``PROCESSING:Bodymass`` (kg) and ``PROCESSING:Height`` (mm) become the trial's
``weight``/``height`` covariates. Frames the model marks invalid (residual < 0) are cut at the trial's
ends; a moment valid on under half of what its leg's angles cover (kinetics only while the foot is on a
force plate), or a leg whose angles are, is left out with a warning rather than cutting the whole trial
to it. Without analog channels, the file's events go on the ``angles`` stream.
"""
from __future__ import annotations

import logging
import os
from typing import Sequence

import numpy as np
import pandas as pd

import re

from ..containers import Recording, Trial
from ..errors import DataError, require
from ._common import check_file, make_recording, repair_rows, to_volts, unique_names

__all__ = ["read_c3d"]

log = logging.getLogger(__name__)


def _param(params: dict, group: str, name: str, default=None):
    try:
        return params[group][name]["value"]
    except (KeyError, TypeError):
        return default


def _list_param(params: dict, group: str, name: str) -> list[str]:
    """A C3D string list, continued past 255 entries in ``NAME2``, ``NAME3`` ... (how C3D writers and ezc3d
    store the 256th label on: a Nexus trial with many markers keeps its model outputs there)."""
    out = [str(v).strip() for v in (_param(params, group, name, []) or [])]
    k = 2
    while _param(params, group, f"{name}{k}") is not None:
        out += [str(v).strip() for v in _param(params, group, f"{name}{k}")]
        k += 1
    return out


def read_c3d(
    path: str | os.PathLike,
    *,
    channels: Sequence[str] | None = None,
    to_volt: bool = True,
    bad_rows: str = "error",
) -> Recording | Trial:
    """Read the analog channels of a C3D file (and its Plug-in Gait angles and moments: module docstring).

    Parameters
    ----------
    path : path-like
    channels : sequence of str, optional
        Analog labels to keep (in this order); default all.
    to_volt : bool
        Scale mV/µV channels to V.
    bad_rows : {"error", "interpolate"}
        Frames inside the trial that the model could not compute (residual < 0, NaN): an error naming
        them, or linear interpolation (at most 32 frames in a row). Invalid frames at the start and end
        of the trial are cut from the model's streams whatever this says.

    Returns
    -------
    Recording
        ``meta`` holds ``point_rate`` (marker frame rate, Hz) and ``subjects`` when present.
    Trial
        When the file holds Plug-in Gait sagittal joint angles: streams ``emg``, ``angles`` and, when
        present, ``moments`` (module docstring).
    """
    ezc3d = require("ezc3d", "c3d", "reading .c3d files")

    p = check_file(path)
    where = str(p)
    _check_structure(p.read_bytes(), where)
    c = _parse_isolated(str(p), where)
    params = c["parameters"]
    if bad_rows not in ("error", "interpolate"):
        raise DataError(f"bad_rows for a C3D file is 'error' or 'interpolate' (dropping frames would break the "
                        f"point clock), got {bad_rows!r}", where)
    point_rate = float(np.ravel(_param(params, "POINT", "RATE", [c["header"]["points"]["frame_rate"]]))[0])
    first_frame = int(c["header"]["points"]["first_frame"])
    t0 = first_frame / point_rate if point_rate > 0 else 0.0
    model = _model_outputs(c, params, point_rate, t0, where, bad_rows)
    analogs = np.asarray(c["data"]["analogs"])
    if analogs.size == 0 or analogs.ndim != 3:
        if model is not None:  # a model's output without EMG: the kinematics of a walk (myoflow predict)
            # the file's gait events go on the angles (no analog clock to put them on): without them the heel
            # strikes were re-detected from the kinematics, which finds fewer cycles
            a = model["angles"]
            events = _events(params, a.fs, a.t0, a.n_samples, "the Plug-in Gait angles")
            if events is not None:
                model["angles"] = a.replace(events=events)
            return Trial(model, meta=_trial_meta(params, where, point_rate))
        points = np.asarray(c["data"]["points"])
        n_points = int(points.shape[1]) if points.ndim == 3 and points.size else 0
        point_labels = [str(lab).strip() for lab in _param(params, "POINT", "LABELS", [])]
        partial = "; ".join(_incomplete_legs(point_labels, _pig_outputs(point_labels, where)))
        held = (f" and {partial} (a side's three angles are what myoflow reads: export them all from the model)"
                if partial else
                f" (it holds {n_points} marker trajectories and no Plug-in Gait angles (LKneeAngles ...), which "
                "is what myoflow reads of points: export joint angles from your modelling software, e.g. Nexus "
                "Plug-in Gait or OpenSim .mot, and the EMG as analog channels)" if n_points else "")
        raise DataError(f"C3D file has no analog channels{held}", where)
    data = analogs[0]  # (n_channels, n_frames)
    rate = float(np.ravel(_param(params, "ANALOG", "RATE", [c["header"]["analogs"]["frame_rate"]]))[0])
    promised = _frames_in_file_header(p, params)
    n_frames = np.asarray(c["data"]["points"]).shape[-1] if np.asarray(c["data"]["points"]).size else None
    if promised is not None and n_frames is not None and n_frames < promised:
        # ezc3d reads a cut-off file without complaint (and rewrites its header copy to match).
        raise DataError(f"C3D file is truncated: its header promises {promised} frames, the file holds {n_frames}", where)
    labels = _list_param(params, "ANALOG", "LABELS")
    if len(labels) != data.shape[0]:
        labels = [f"analog{i + 1}" for i in range(data.shape[0])]
    labels = unique_names(labels, where)
    _warn_negative_offsets(params, labels, where)
    units = [u or "a.u." for u in _list_param(params, "ANALOG", "UNITS")]
    if len(units) != data.shape[0]:
        units = ["a.u."] * data.shape[0]
    if channels is not None:
        missing = [ch for ch in channels if ch not in labels]
        if missing:
            raise DataError(f"no analog channel(s) {missing}; channels are {labels}", where)
        idx = [labels.index(ch) for ch in channels]
        data, labels, units = data[idx], [labels[i] for i in idx], [units[i] for i in idx]
    if to_volt:
        data, units = to_volts(data, units)

    events = _events(params, rate, t0, data.shape[1])
    meta = {"source": where, "point_rate": point_rate}
    subjects = [s for s in _param(params, "SUBJECTS", "NAMES", []) if str(s).strip()]
    if subjects:
        meta["subjects"] = [str(s) for s in subjects]
    rec = make_recording(data, rate, labels, where, units=units, events=events, t0=t0, meta=meta)
    if model is None:
        return rec
    return Trial({"emg": rec, **model}, meta=_trial_meta(params, where, point_rate))


def _trial_meta(params: dict, where: str, point_rate: float) -> dict:
    """A gait trial's metadata: the body mass (kg) and height (mm → m) the model was given, as covariates."""
    cov = {}
    for key, name, scale in (("Bodymass", "weight", 1.0), ("Height", "height", 1e-3)):
        try:
            v = np.ravel(np.asarray(_param(params, "PROCESSING", key, []), dtype=float))
        except (TypeError, ValueError):  # a text value: not a number the model used
            continue
        if v.size and np.isfinite(v[0]) and v[0] > 0:
            cov[name] = float(v[0]) * scale
    meta = {"source": where, "point_rate": point_rate, **({"covariates": cov} if cov else {})}
    subjects = [str(s) for s in _param(params, "SUBJECTS", "NAMES", []) if str(s).strip()]
    if subjects:
        meta["subjects"] = subjects
    return meta


#: Plug-in Gait output point → (stream, myoflow channel stem); the X component is the sagittal one.
_PIG = {"HipAngles": ("angles", "hip_flexion"), "KneeAngles": ("angles", "knee_flexion"),
        "AnkleAngles": ("angles", "ankle_dorsiflexion"), "HipMoment": ("moments", "hip_sagittal"),
        "KneeMoment": ("moments", "knee_sagittal"), "AnkleMoment": ("moments", "ankle_sagittal")}
_PIG_LABEL = re.compile(r"^(?:.*:)?([LR])(HipAngles|KneeAngles|AnkleAngles|HipMoment|KneeMoment|AnkleMoment)$")
#: POINT:MOMENT_UNITS → factor to N·m (Plug-in Gait's moments are per kg of body mass whatever the label says).
_MOMENT_SCALE = {"nmm": 1e-3, "n.mm": 1e-3, "n*mm": 1e-3, "nm": 1.0, "n.m": 1.0, "n*m": 1.0}


_ANGLE_KEYS = ("HipAngles", "KneeAngles", "AnkleAngles")
#: the myoflow channel stems those angles are read as (a side needs all three)
_ANGLE_STEMS = tuple(_PIG[k][1] for k in _ANGLE_KEYS)


def _pig_outputs(labels: Sequence[str], where: str) -> dict[tuple[str, str], int]:
    """``{(side, output): index into labels}`` of the Plug-in Gait outputs among point ``labels``; an error when
    they belong to two subjects (their ``Subject:`` prefixes differ)."""
    found: dict[tuple[str, str], int] = {}
    owners: dict[str, str] = {}  # 'Subject:' prefix → its first output label
    for i, lab in enumerate(labels):
        m = _PIG_LABEL.match(lab)
        if m and (m.group(1), m.group(2)) not in found:
            found[(m.group(1), m.group(2))] = i
        if m and ":" in lab:
            owners.setdefault(lab.rsplit(":", 1)[0].strip(), lab)
    if len(owners) > 1:
        # two subjects walked in one capture: taking the first one's outputs beside EMG that belongs to one of
        # them (or to both) would pair the wrong legs silently
        raise DataError(f"the Plug-in Gait outputs of {len(owners)} subjects are in this file "
                        f"({', '.join(repr(k) for k in owners)}): myoflow reads one subject per trial; export "
                        "each subject's trial to its own C3D", where)
    return found


def _incomplete_legs(labels: Sequence[str], found: dict[tuple[str, str], int]) -> list[str]:
    """A phrase per leg that has some Plug-in Gait outputs but not its three sagittal angles."""
    out = []
    for s in "LR":
        missing = [f"{s}{k}" for k in _ANGLE_KEYS if (s, k) not in found]
        if missing and any(side == s for side, _ in found):
            have = ", ".join(labels[i] for (side, _), i in found.items() if side == s)
            out.append(f"the {'left' if s == 'L' else 'right'} leg's Plug-in Gait outputs ({have}) lack "
                       f"{', '.join(missing)}")
    return out


def _model_outputs(c: dict, params: dict, point_rate: float, t0: float, where: str,
                   bad_rows: str = "error") -> dict[str, Recording] | None:
    """``angles`` and ``moments`` Recordings from Plug-in Gait output points (None when a file has no side's
    three sagittal angles)."""
    labels = _list_param(params, "POINT", "LABELS")
    points = np.asarray(c["data"]["points"], dtype=float)
    if not labels or points.ndim != 3 or points.shape[1] != len(labels) or point_rate <= 0:
        return None
    found = _pig_outputs(labels, where)
    sides = [s for s in "LR" if all((s, k) in found for k in _ANGLE_KEYS)]
    for leg in _incomplete_legs(labels, found):
        # one leg exported incompletely: say why its outputs are not read (they would vanish silently)
        log.warning("%s: %s, so none of them is read: gait-emg needs the hip, knee and ankle angles of a side "
                    "(export them all from the model)", where, leg)
    if not sides:
        return None
    resid = c["data"].get("residuals")
    streams: dict[str, tuple[np.ndarray, list[str], str]] = {}
    for stream in ("angles", "moments"):
        rows, names = [], []
        for side in sides:
            for key, (st, stem) in _PIG.items():
                if st == stream and (side, key) in found:
                    rows.append(found[(side, key)])
                    names.append(f"{stem}_{side.lower()}")
        if not rows:
            continue
        x = points[0, rows, :].copy()  # X: flexion/extension (sagittal)
        if resid is not None and np.shape(resid)[-2:] == points.shape[1:]:
            x[np.asarray(resid)[0, rows, :] < 0] = np.nan  # frames the model could not compute
        if stream == "angles":
            unit = str(np.ravel(_param(params, "POINT", "ANGLE_UNITS", ["deg"]) or ["deg"])[0]).strip().lower()
            if unit.startswith("rad"):
                x = np.degrees(x)
            elif unit and not unit.startswith("deg"):
                raise DataError(f"POINT:ANGLE_UNITS is {unit!r}: Plug-in Gait angles are read in deg or rad", where)
            units = "deg"
        else:
            unit = str(np.ravel(_param(params, "POINT", "MOMENT_UNITS", ["Nmm"]) or ["Nmm"])[0]).strip()
            key = unit.lower().replace(" ", "").replace("·", ".").replace("/kg", "")
            if key not in _MOMENT_SCALE:
                raise DataError(f"POINT:MOMENT_UNITS is {unit!r}: Plug-in Gait moments are read in Nmm/kg or "
                                "Nm/kg", where)
            x = x * _MOMENT_SCALE[key]
            units = "N·m/kg"
        streams[stream] = (x, names, units)
    streams = _drop_short_outputs(streams, point_rate, t0, where)
    # the model's outputs begin and end where every marker it needs is seen: cut the invalid frames around
    # them (common: a few at both ends); a gap inside the trial is an error unless interpolated
    ok = np.all(np.concatenate([np.isfinite(x) for x, _, _ in streams.values()]), axis=0)
    if not ok.any():
        raise DataError("the Plug-in Gait angles hold no frame the model could compute", where)
    first, last = _valid_span(ok)
    finite = np.concatenate([np.isfinite(x) for x, _, _ in streams.values()])
    cut = np.ones(len(ok), bool)
    cut[first:last] = False
    cut &= finite.any(axis=0)  # frames cut although some output was valid there: the cut is one output's
    if cut.sum() > 0.1 * len(ok):
        names = [n for _, ns, _ in streams.values() for n in ns]
        short = [names[i] for i in np.flatnonzero((~finite[:, cut]).any(axis=1))]
        log.warning("%s: the Plug-in Gait outputs are read on %.2f-%.2f s, where all of them are valid; %d frame(s) "
                    "where only some of them are valid are cut (limited by %s)", where, t0 + first / point_rate,
                    t0 + last / point_rate, int(cut.sum()), ", ".join(short))
    if bad_rows == "error":
        streams = _drop_gapped_leg(streams, first, last, point_rate, t0, where)
    out: dict[str, Recording] = {}
    for stream, (x, names, units) in streams.items():
        x = x[:, first:last]
        if not np.isfinite(x).all():
            ch, i = (int(v[0]) for v in np.nonzero(~np.isfinite(x)))
            if bad_rows == "error":
                n_bad = int((~np.isfinite(x).all(axis=0)).sum())
                raise DataError(f"{n_bad} frame(s) of the Plug-in Gait {stream} inside the trial are invalid "
                                f"(first '{names[ch]}' at {t0 + (first + i) / point_rate:.3f} s): bridge it with myoflow "
                                "convert --bad-rows interpolate (Python: bad_rows='interpolate')", where)
            x = repair_rows(x.T, "interpolate", where)[0].T
        out[stream] = make_recording(x, point_rate, names, where, units=[units] * len(names),
                                     t0=t0 + first / point_rate, meta={"source": where, "model": "Plug-in Gait"})
    return out


def _drop_gapped_leg(streams: dict, first: int, last: int, point_rate: float, t0: float, where: str) -> dict:
    """Leave out one leg's outputs that have invalid frames inside the trial when the other leg's have none.

    A gap inside the trial is refused unless interpolated (``bad_rows``), but markers lost for a moment on one
    leg refused a file whose other leg is whole, and the reader does not know which leg the run analyses. The
    gapped leg's outputs are dropped with a warning (all of them when an angle has the gap: a side needs its three
    angles; its moments only when only they have one); with gaps on both legs nothing is dropped (the caller
    refuses the file, naming the first gap).
    """
    gaps: dict[str, int] = {}
    for x, names, _ in streams.values():
        for i, name in enumerate(names):
            bad = ~np.isfinite(x[i, first:last])
            if bad.any():
                gaps[name] = int(np.argmax(bad))
    legs = {n[-1] for x, names, _ in streams.values() for n in names}
    gapped = {n[-1] for n in gaps}
    if not gaps or len(gapped) >= len(legs):
        return streams
    drop = set(gaps)
    for leg in gapped:
        leg_gaps = {n: f for n, f in gaps.items() if n[-1] == leg}
        whole_leg = any(n[:-2] in _ANGLE_STEMS for n in leg_gaps)
        if whole_leg:
            drop |= {n for _, names, _ in streams.values() for n in names if n[-1] == leg}
        frame, name = min((f, n) for n, f in leg_gaps.items())
        log.warning("%s: the %s leg's Plug-in Gait output '%s' has invalid frames inside the trial (first at %.3f s): "
                    "%s not read (bridge the gap with myoflow convert --bad-rows interpolate)", where,
                    "left" if leg == "l" else "right", name, t0 + (first + frame) / point_rate,
                    "that leg is" if whole_leg else "its moments are")
    return _without(streams, drop)


def _without(streams: dict, drop: set[str]) -> dict:
    """``streams`` without the channels named in ``drop`` (a stream left empty is dropped)."""
    out = {}
    for stream, (x, names, unit) in streams.items():
        keep = [i for i, n in enumerate(names) if n not in drop]
        if keep:
            out[stream] = (x[keep], [names[i] for i in keep], unit)
    return out


def _valid_span(ok: np.ndarray) -> tuple[int, int] | None:
    """First and one-past-last True frame of ``ok`` (None when there is none)."""
    if not ok.any():
        return None
    return int(np.argmax(ok)), int(len(ok) - np.argmax(ok[::-1]))


def _drop_short_outputs(streams: dict, point_rate: float, t0: float, where: str) -> dict:
    """Leave out the outputs valid on under half of what their leg's angles cover, with a warning.

    The trial is cut to the frames where every output read is valid. A leg whose moments exist only while
    its foot is on a force plate (or never: no plate assigned), or whose markers were lost for most of the
    walk, would otherwise cut the other leg's angles and moments to those few frames (or refuse the file),
    without a word. ``streams``: ``{stream: (x (n_channels, n_frames) with NaN for invalid frames, names
    '<stem>_<side>', unit)}``; returns it without those channels (a stream left empty is dropped).
    """
    def span(x):
        return _valid_span(np.all(np.isfinite(x), axis=0))

    def seconds(sp):
        return f"{t0 + sp[0] / point_rate:.2f}-{t0 + sp[1] / point_rate:.2f} s" if sp else "no frame"

    x_a, names_a, _ = streams["angles"]
    legs = {side: span(x_a[[i for i, n in enumerate(names_a) if n.endswith("_" + side)]]) for side in "lr"
            if any(n.endswith("_" + side) for n in names_a)}
    longest = max((b - a for a, b in filter(None, legs.values())), default=0)
    drop = set()
    for side, sp in legs.items():
        if longest and (sp is None or sp[1] - sp[0] < 0.5 * longest):
            log.warning("%s: the %s leg's Plug-in Gait angles are valid on %s only, under half of the other "
                        "leg's: that leg is not read", where, "left" if side == "l" else "right", seconds(sp))
            drop |= {n for x, names, _ in streams.values() for n in names if n.endswith("_" + side)}
    if "moments" in streams:
        x_m, names_m, _ = streams["moments"]
        short: dict[str, list[str]] = {}
        for i, name in enumerate(names_m):
            ref = legs.get(name[-1])
            if name in drop or not ref:
                continue
            sp = _valid_span(np.isfinite(x_m[i]))
            if sp is None or sp[1] - sp[0] < 0.5 * (ref[1] - ref[0]):
                short.setdefault(name[-1], []).append(f"'{name}' ({seconds(sp)})")
                drop.add(name)
        for side, which in short.items():
            log.warning("%s: the Plug-in Gait moments %s are valid on under half of the %s the %s leg's angles "
                        "cover (kinetics only while the foot is on a force plate?): they are not read", where,
                        ", ".join(which), seconds(legs[side]), "left" if side == "l" else "right")
    return _without(streams, drop)


def _warn_negative_offsets(params: dict, labels: Sequence[str], where: str) -> None:
    """Warn about channels whose ``ANALOG:OFFSET`` is negative: readers disagree on them.

    The C3D manual (and py-c3d, BTK) read ``(stored - OFFSET) * SCALE * GEN_SCALE``; ezc3d, which reads C3D
    here, subtracts ``|OFFSET|`` instead, so such a channel comes out shifted by ``2 |OFFSET| SCALE GEN_SCALE``
    from what the file's writer meant (measured on a py-c3d file, ezc3d 1.7.2). Offsets are 0 or positive in the
    files we know of; the values are kept as ezc3d gives them, with this warning naming the shift.
    """
    offsets = np.ravel(np.asarray(_param(params, "ANALOG", "OFFSET", []), dtype=float))
    if offsets.size != len(labels) or not (offsets < 0).any():
        return
    scales = np.ravel(np.asarray(_param(params, "ANALOG", "SCALE", np.ones(len(labels))), dtype=float))
    gen = float(np.ravel(np.asarray(_param(params, "ANALOG", "GEN_SCALE", [1.0]), dtype=float))[0])
    if scales.size != len(labels):
        scales = np.ones(len(labels))
    neg = np.flatnonzero(offsets < 0)
    shifts = ", ".join(f"{labels[i]} (OFFSET {offsets[i]:g}: {2 * abs(offsets[i] * scales[i] * gen):g} in its unit)"
                       for i in neg)
    log.warning("%s: negative ANALOG:OFFSET on %s; ezc3d subtracts |OFFSET| where the C3D manual subtracts OFFSET, "
                "so these channels may be shifted by that constant (a high-pass filter removes it; check the "
                "vendor's export if the absolute level matters)", where, shifts)


def _parse(path: str) -> dict:
    """What :func:`read_c3d` uses of ``ezc3d.c3d(path)``, as plain (picklable) Python and NumPy."""
    import ezc3d

    c = ezc3d.c3d(path)
    params = {g: {n: {"value": v["value"]} for n, v in grp.items() if isinstance(v, dict) and "value" in v}
              for g, grp in c["parameters"].items() if isinstance(grp, dict)}
    header = {k: {"frame_rate": c["header"][k]["frame_rate"], "first_frame": c["header"][k]["first_frame"]}
              for k in ("points", "analogs")}
    try:  # per point and frame; < 0 marks a frame the model (or the tracker) could not compute
        residuals = c["data"]["meta_points"]["residuals"]
    except (KeyError, TypeError):
        residuals = None
    return {"parameters": params, "header": header,
            "data": {"analogs": np.asarray(c["data"]["analogs"]), "points": np.asarray(c["data"]["points"]),
                     "residuals": None if residuals is None else np.asarray(residuals)}}


def _child(conn, path: str) -> None:  # pragma: no cover - runs in the forked child
    try:
        conn.send(("ok", _parse(path)))
    except Exception as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def _parse_isolated(path: str, where: str, timeout: float = 60.0) -> dict:
    """Run ezc3d in a forked child process: on some damaged files it crashes the interpreter
    (segmentation fault) or never returns, which must become a DataError, not a dead process."""
    import multiprocessing as mp

    if "fork" not in mp.get_all_start_methods():  # pragma: no cover - Windows/macOS spawn: no isolation
        try:
            return _parse(path)
        except Exception as exc:
            raise DataError(f"cannot read as C3D (truncated or corrupt file?): {exc}", where) from None
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, path), daemon=True)
    proc.start()
    child.close()
    try:
        if not parent.poll(timeout):
            raise DataError(f"C3D parser did not finish within {timeout:g} s (corrupt file?)", where)
        status, payload = parent.recv()
    except EOFError:
        proc.join(5)
        raise DataError(f"C3D parser crashed on this file (exit code {proc.exitcode}; truncated or corrupt?)",
                        where) from None
    finally:
        parent.close()
        if proc.is_alive():
            proc.kill()
        proc.join(5)
    if status != "ok":
        raise DataError(f"cannot read as C3D (truncated or corrupt file?): {' '.join(payload.split())[:200]}", where)
    return payload


def _check_structure(raw: bytes, where: str) -> None:
    """Walk the C3D header and parameter section in Python before ezc3d sees the file.

    ezc3d (C++) crashes the interpreter or loops forever on some damaged files
    (measured: a file cut inside its parameter section segfaults). Every offset
    ezc3d will follow is checked against the file size here, so a damaged file
    becomes a :class:`DataError` instead.
    """
    import struct

    def bad(problem: str) -> DataError:
        return DataError(f"not a readable C3D file ({problem}; truncated or corrupt?)", where)

    if len(raw) < 512:
        raise bad(f"{len(raw)} bytes, shorter than the 512-byte header")
    if raw[1] != 0x50:
        raise bad("missing the C3D signature byte 0x50")
    start = (raw[0] - 1) * 512
    if raw[0] < 2 or start + 4 > len(raw):
        raise bad(f"parameter section at block {raw[0]} lies outside the file")
    processor = raw[start + 3] - 83
    if processor not in (1, 2, 3):  # Intel, DEC, MIPS
        raise bad(f"unknown processor type {raw[start + 3]}")
    order = ">" if processor == 3 else "<"
    n_blocks = raw[start + 2]
    end = start + n_blocks * 512
    if n_blocks < 1 or end > len(raw):
        raise bad(f"parameter section of {n_blocks} block(s) does not fit in the file")
    pos, n_params = start + 4, 0
    while True:
        if pos + 2 > end:
            raise bad("parameter records run past the parameter section")
        n_name = abs(struct.unpack("b", raw[pos:pos + 1])[0])
        if n_name == 0:
            break
        group_id = struct.unpack("b", raw[pos + 1:pos + 2])[0]
        field = pos + 2 + n_name
        if field + 2 > end:
            raise bad("a parameter name runs past the parameter section")
        offset = struct.unpack(order + "h", raw[field:field + 2])[0]
        body = field + 2
        if group_id > 0:  # a parameter: element size, dimensions, data, description
            if body + 2 > end:
                raise bad("a parameter header runs past the parameter section")
            size = abs(struct.unpack("b", raw[body:body + 1])[0])
            n_dims = raw[body + 1]
            if size not in (1, 2, 4) or body + 2 + n_dims > end:
                raise bad("a parameter has an invalid element size or dimensions")
            count = int(np.prod(list(raw[body + 2:body + 2 + n_dims]), dtype=np.int64)) if n_dims else 1
            data_end = body + 2 + n_dims + size * count
            if data_end + 1 > end or data_end + 1 + raw[data_end] > end:
                raise bad("a parameter's data run past the parameter section")
        n_params += 1
        if offset == 0:
            break
        nxt = field + offset
        if nxt <= pos or nxt > end:
            raise bad("a parameter record points outside the parameter section")
        pos = nxt
    if n_params == 0:
        raise bad("no parameters")
    data_block = struct.unpack(order + "H", raw[16:18])[0]
    if data_block < 1 or (data_block - 1) * 512 > len(raw):
        raise bad(f"data section at block {data_block} lies outside the file")


def _frames_in_file_header(path, params: dict) -> int | None:
    """Number of frames the C3D file header declares (words 4-5; TRIAL:ACTUAL_*_FIELD when larger)."""
    import struct

    try:
        with open(path, "rb") as fh:
            head = fh.read(512)
            param_block = head[0]
            fh.seek((param_block - 1) * 512)
            param_head = fh.read(4)
        order = ">" if len(param_head) == 4 and param_head[3] - 83 == 3 else "<"  # 3 = MIPS (big-endian)
        first, last = struct.unpack(order + "HH", head[6:10])
    except (OSError, struct.error, IndexError):
        return None
    start = _param(params, "TRIAL", "ACTUAL_START_FIELD")
    end = _param(params, "TRIAL", "ACTUAL_END_FIELD")
    if start is not None and end is not None and len(start) == 2 and len(end) == 2:
        # two 16-bit words (low, high) so that trials longer than 65535 frames fit
        first2 = int(start[0]) & 0xFFFF | (int(start[1]) & 0xFFFF) << 16
        last2 = int(end[0]) & 0xFFFF | (int(end[1]) & 0xFFFF) << 16
        if last2 - first2 > last - first:
            first, last = first2, last2
    n = int(last) - int(first) + 1
    return n if n > 0 else None


def _events(params: dict, rate: float, t0: float, n: int, on: str = "the analog data") -> pd.DataFrame | None:
    """The C3D events at the nearest sample of a stream of ``n`` samples at ``rate`` Hz starting at ``t0`` s."""
    times = _param(params, "EVENT", "TIMES")
    labels = _param(params, "EVENT", "LABELS", [])
    if times is None or not len(labels):
        return None
    times = np.asarray(times, dtype=float)
    if times.ndim != 2 or times.shape[1] != len(labels):
        return None
    seconds = times[0] * 60.0 + times[1]  # C3D stores (minutes, seconds)
    contexts = list(_param(params, "EVENT", "CONTEXTS", [""] * len(labels)))
    contexts += [""] * (len(labels) - len(contexts))
    sample = np.round((seconds - t0) * rate).astype("int64")
    keep = (sample >= 0) & (sample < n)
    if not keep.all():
        log.warning("dropping %d C3D event(s) outside %s", int((~keep).sum()), on)
    kinds = [f"{str(contexts[i]).strip()} {str(labels[i]).strip()}".strip() for i in np.flatnonzero(keep)]
    return pd.DataFrame({"sample": sample[keep], "kind": kinds, "time_s": seconds[keep]})
