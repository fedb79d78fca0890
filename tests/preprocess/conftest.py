"""Real-recording fixtures for the preprocessing tests.

Files are read with ``myoflow.io.read``; tiny private readers remain as a
fallback so these tests do not depend on the reader being importable.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from myoflow.containers import Recording


def _io_read():
    try:
        from myoflow.io import read  # type: ignore[attr-defined]
    except ImportError:
        try:
            from myoflow.io.reader import read
        except ImportError:
            return None
    return read


def _read_mat_single(path: Path) -> Recording:
    import scipy.io as sio

    m = sio.loadmat(path)
    var = next(k for k in m if not k.startswith("__") and k != "Fs")
    return Recording(np.asarray(m[var], dtype=float), float(np.squeeze(m["Fs"])), [var], meta={"source": path.name})


def _read_opensignals(path: Path) -> Recording:
    import h5py

    with h5py.File(path, "r") as f:
        dev = f[next(iter(f))]
        raw = dev["raw"]
        ch = next(k for k in raw if k.startswith("channel_"))
        x = raw[ch][:, 0].astype(float)
        fs = float(np.squeeze(dev.attrs["sampling rate"]))
    return Recording(x[None], fs, [ch], meta={"source": path.name})


def _read_sto(path: Path) -> Recording:
    import pandas as pd

    lines = path.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "endheader") + 1
    df = pd.read_csv(path, sep=r"\s+", skiprows=start)
    t = df.pop("time").to_numpy()
    return Recording(df.to_numpy().T, 1.0 / np.median(np.diff(t)), list(df.columns), meta={"source": path.name})


def _load(path: Path, fallback) -> Recording:
    read = _io_read()
    if read is not None:
        return read(path)
    return fallback(path)


@pytest.fixture(scope="session")
def stim_on(shared_data) -> Recording:
    return _load(shared_data / "stim-artefact-tscs" / "SingleCh_StimON.mat", _read_mat_single)


@pytest.fixture(scope="session")
def stim_off(shared_data) -> Recording:
    return _load(shared_data / "stim-artefact-tscs" / "SingleCh_StimOFF.mat", _read_mat_single)


@pytest.fixture(scope="session")
def emg_bursts(shared_data) -> Recording:
    return _load(shared_data / "biosignalsnotebooks" / "emg_bursts.h5", _read_opensignals)


@pytest.fixture(scope="session")
def gait_walk36(shared_data) -> dict[str, Recording]:
    d = shared_data / "ceinms-gait" / "walk36"
    return {
        "grf": _load(d / "XLD.mot", _read_sto),
        "angles": _load(d / "ik.sto", _read_sto),
        "emg": _load(d / "emgFilt.sto", _read_sto),
    }
