"""Loaders for the small shared datasets: ceinms-gait, pyomeca, stim-artefact-tscs, biosignalsnotebooks.

Sources (see ``../shared/data/README.md``): CEINMS-RT LowerLimbModel ``data/``
(subject 06 of Zenodo 6457662; Durandau et al. 2017, IEEE TBME 65:556);
pyomeca ``tests/data``; Verma et al. 2025, J Neurophysiol 134(1) (tSCS artefact
data); biosignalsnotebooks 0.6.14 sample files (PLUX).
"""
from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path

from ...containers import Recording, Trial
from ...errors import DataError
from ..c3d import read_c3d
from ..matlab import read_mat
from ..opensignals import read_opensignals
from ..opensim import read_opensim

__all__ = [
    "load_ceinms_gait", "load_pyomeca", "load_stim_artefact_tscs", "load_biosignalsnotebooks",
    "detect_ceinms_gait", "detect_pyomeca", "detect_stim_artefact_tscs", "detect_biosignalsnotebooks",
]

log = logging.getLogger(__name__)

CEINMS_STREAMS = {"angles": "ik.sto", "moments": "id.sto", "emg": "emgFilt.sto", "grf": "XLD.mot"}


def _folder(path: str | os.PathLike) -> Path:
    p = Path(path)
    if not p.exists():
        raise DataError("dataset folder not found", str(p))
    if not p.is_dir():
        raise DataError("expected a dataset folder, got a file", str(p))
    return p


def detect_ceinms_gait(path: Path) -> bool:
    return path.is_dir() and any(all((d / f).is_file() for f in CEINMS_STREAMS.values()) for d in path.iterdir() if d.is_dir())


def load_ceinms_gait(path: str | os.PathLike) -> dict[str, Trial]:
    """CEINMS gait trials: trial name → Trial with streams ``angles`` (ik.sto, deg),
    ``moments`` (id.sto, N·m / N), ``emg`` (emgFilt.sto, normalised envelopes, a.u.)
    and ``grf`` (XLD.mot, N / m / N·m), all at 100 Hz on the trial clock.
    """
    root = _folder(path)
    trials: dict[str, Trial] = {}
    for d in sorted(x for x in root.iterdir() if x.is_dir()):
        if not all((d / f).is_file() for f in CEINMS_STREAMS.values()):
            continue
        streams = {name: read_opensim(d / f) for name, f in CEINMS_STREAMS.items()}
        speed = re.search(r"(\d+)$", d.name)
        meta = {"subject": "06", "trial": d.name, "source": str(d),
                "activity": re.sub(r"\d+$", "", d.name) or d.name}
        if speed:
            meta["speed_kmh"] = int(speed.group(1)) / 10.0  # walk36 = 3.6 km/h (upstream README)
        trials[d.name] = Trial(streams=streams, meta=meta)
    if not trials:
        raise DataError(f"no trial folders with {sorted(CEINMS_STREAMS.values())}", str(root))
    return trials


def detect_pyomeca(path: Path) -> bool:
    return path.is_dir() and (path / "markers_analogs.c3d").is_file()


def load_pyomeca(path: str | os.PathLike, *, all_analogs: bool = False) -> dict[str, Recording]:
    """pyomeca test data: ``markers_analogs`` (C3D analog EMG at 2000 Hz), ``inverse_kin``
    (joint angles, deg) and ``inverse_dyn`` (joint moments/forces).

    Parameters
    ----------
    all_analogs : bool
        Keep all 38 analog channels; default keeps the 13 muscle-labelled EMG
        channels, renamed to the muscle (``"Delt_ant.EMG1"`` → ``"Delt_ant"``).
    """
    root = _folder(path)
    out: dict[str, Recording] = {}
    c3d = root / "markers_analogs.c3d"
    if not c3d.is_file():
        raise DataError("no markers_analogs.c3d", str(root))
    rec = read_c3d(c3d)
    if not all_analogs:
        keep = [n for n in rec.ch_names if not n.startswith(("Voltage", "Sensor"))]
        labels = list(keep)
        rec = rec.pick(keep)
        rec = rec.replace(ch_names=[n.split(".")[0] for n in keep], meta={**rec.meta, "c3d_labels": labels})
    out["markers_analogs"] = rec
    for name in ("inverse_kin.mot", "inverse_dyn.sto"):
        if (root / name).is_file():
            out[Path(name).stem] = read_opensim(root / name)
    return out


def detect_stim_artefact_tscs(path: Path) -> bool:
    return path.is_dir() and (path / "SingleCh_StimON.mat").is_file() and (path / "SingleCh_StimOFF.mat").is_file()


def load_stim_artefact_tscs(path: str | os.PathLike) -> dict[str, Recording]:
    """One EMG channel with transcutaneous spinal stimulation ``"on"`` (148.8 s) and ``"off"`` (78.2 s), 4000 Hz.

    The files hold the sampling rate in ``Fs``; samples are kept as stored (units
    not stated upstream: ``"a.u."``, with a large DC offset).
    """
    root = _folder(path)
    out = {}
    for cond, fname, var in (("on", "SingleCh_StimON.mat", "raw_on"), ("off", "SingleCh_StimOFF.mat", "raw_off")):
        rec = read_mat(root / fname, data_var=var, fs_var="Fs", ch_names=["EMG"])
        out[cond] = rec.replace(meta={**rec.meta, "condition": f"stim_{cond}"})
    return out


def detect_biosignalsnotebooks(path: Path) -> bool:
    return path.is_dir() and any((path / f"{h.stem}_info.json").is_file() for h in path.glob("*.h5"))


def _muscle(observations: str) -> str | None:
    low = observations.lower()
    for key, name in (("biceps", "biceps_brachii"), ("adductor pollicis", "adductor_pollicis")):
        if key in low:
            return name
    return None


def load_biosignalsnotebooks(path: str | os.PathLike) -> dict[str, Recording | Trial]:
    """biosignalsnotebooks OpenSignals files: file stem → Recording (one device) or Trial (several).

    Channels are converted to volts with PLUX's EMG transfer function when the
    sidecar ``<stem>_info.json`` says ``"Signal Type": "EMG"``; the sidecar is kept in ``meta["info"]``.
    """
    root = _folder(path)
    out: dict[str, Recording | Trial] = {}
    for h5 in sorted(root.glob("*.h5")):
        info_path = root / f"{h5.stem}_info.json"
        info = {}
        if info_path.is_file():
            try:
                info = json.loads(info_path.read_text("utf-8"))
            except ValueError as exc:
                raise DataError(f"cannot parse sidecar JSON: {exc}", str(info_path)) from None
        sensor = "EMG" if "EMG" in str(info.get("Signal Type", "")).upper() else None
        obj = read_opensignals(h5, sensor=sensor)
        extra = {"info": info, "muscle": _muscle(str(info.get("Observations", "")))}
        if isinstance(obj, Trial):
            obj = obj.replace(meta={**obj.meta, **extra})
        else:
            obj = obj.replace(meta={**obj.meta, **extra})
        out[h5.stem] = obj
    if not out:
        raise DataError("no .h5 files in folder", str(root))
    return out
