"""File and folder builders shared by the bad-input corpus and the reader fuzzers."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from myoflow.containers import Recording


def write_valid_files(root: Path) -> dict[str, Path]:
    """One small valid file per supported format: ``{name: path}``."""
    import h5py
    import scipy.io

    from myoflow.io import native, write_edf

    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    rec = Recording(rng.standard_normal((2, 1000)) * 1e-4, 1000.0, ["a", "b"], units="V",
                    meta={"subject": "S01", "muscle": "RF", "frequency": 5.0})
    out = {
        "edf": write_edf(rec, root / "good.edf"),
        "bdf": write_edf(rec, root / "good.bdf"),
        "h5": native.save(rec, root / "good.h5"),
    }
    t = np.arange(200) / 1000.0
    lines = ["time,a,b"] + [f"{ti:.3f},{np.sin(ti * 50):.6f},{np.cos(ti * 50):.6f}" for ti in t]
    (root / "good.csv").write_text("\n".join(lines) + "\n")
    out["csv"] = root / "good.csv"
    scipy.io.savemat(root / "good.mat", {"emg": rng.standard_normal((500, 2)), "fs": 1000.0})
    out["mat"] = root / "good.mat"
    np.savez(root / "good.npz", emg=rng.standard_normal((500, 2)), fs=1000.0)
    out["npz"] = root / "good.npz"
    sto = ["good", "version=1", "nRows=50", "nColumns=3", "inDegrees=yes", "endheader", "time\tknee\thip"]
    sto += [f"{i / 100:.2f}\t{np.sin(i / 10):.4f}\t{np.cos(i / 10):.4f}" for i in range(50)]
    (root / "good.sto").write_text("\n".join(sto) + "\n")
    out["sto"] = root / "good.sto"
    try:
        import ezc3d

        c = ezc3d.c3d()
        c["parameters"]["POINT"]["RATE"]["value"] = [100]
        c["parameters"]["POINT"]["LABELS"]["value"] = ("m1",)
        c["parameters"]["ANALOG"]["RATE"]["value"] = [1000]
        c["parameters"]["ANALOG"]["LABELS"]["value"] = ("EMG1",)
        c["data"]["points"] = np.ones((4, 1, 50))
        c["data"]["analogs"] = rng.standard_normal((1, 1, 500))
        c.write(str(root / "good.c3d"))
        out["c3d"] = root / "good.c3d"
    except ImportError:  # pragma: no cover - ezc3d is a core dependency here
        pass
    with h5py.File(root / "other.h5", "w") as f:  # valid HDF5, but neither native nor OpenSignals
        f.create_dataset("x", data=np.zeros(10))
    out["other_h5"] = root / "other.h5"
    return out


def fake_run(root: Path, config: Path, quick: bool = True) -> Path:
    """A run folder holding only the resolved ``config.yaml`` of ``config`` (enough for commands to fail early)."""
    from myoflow.config import to_dict
    from myoflow.experiments import load_config

    root.mkdir(parents=True, exist_ok=True)
    (root / "config.yaml").write_text(yaml.safe_dump(to_dict(load_config(config, quick=quick)), sort_keys=False))
    return root


def participants_frame(n: int = 6) -> pd.DataFrame:
    return pd.DataFrame({"subject": [f"S{i:02d}" for i in range(n)], "age": 40 + np.arange(n),
                         "mass_class": ["low", "normal", "high"] * (n // 3)})


def cli(argv: list, capsys) -> tuple[int, str, str]:
    """Run ``myoflow ARGV`` in-process: (exit code, stdout, stderr)."""
    from myoflow.cli import main

    try:
        main([str(a) for a in argv])
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(code: int, err: str) -> str:
    """Assert exit 2 with exactly one ``error:`` line and no traceback; return that line."""
    assert code == 2, err
    lines = [ln for ln in err.strip().splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def write_csv(path: Path, fs: float = 1000.0, n: int = 2000, seed: int = 0, unit: str = "mV",
              name: str = "ch1") -> Path:
    """A one-channel CSV export with a rate line and a ``name [unit]`` header (n samples of noise)."""
    x = np.random.default_rng(seed).normal(size=(n, 1)) * 0.1
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fh.write(f"Sampling rate: {fs:g} Hz\n{name} [{unit}]\n")
        np.savetxt(fh, x, fmt="%.5f")
    return path


def write_poly5(path: Path, data: np.ndarray, fs: int, names, units) -> Path:
    """A minimal TMSi Poly5 2.03 file (``data`` signals × samples in the units given; 150 ms per block).

    The layout of tests/io/test_poly5.py's writer, without its ways to spoil fields.
    """
    import struct

    def pascal(text: bytes, width: int) -> bytes:
        return bytes([len(text)]) + text + b"\x00" * (width - len(text))

    start = (2025, 3, 14, 5, 9, 26, 53)
    data = np.asarray(data, dtype=np.float32)
    n_ch, n = data.shape
    per_block = max(1, int(fs * 0.15))
    blocks = -(-n // per_block)
    head = (b"POLY SAMPLE FILEversion 2.03\r\n\x1a" + struct.pack("<H", 203) + pascal(b"measurement", 80)
            + struct.pack("<HHB", fs, fs, 0) + struct.pack("<H", 2 * n_ch) + struct.pack("<I", n) + b"\x00" * 4
            + struct.pack("<7H", *start) + struct.pack("<I", blocks) + struct.pack("<H", per_block)
            + struct.pack("<H", (n_ch * per_block * 4) & 0xFFFF) + struct.pack("<H", 0) + b"\x00" * 64)
    desc = b""
    for k in range(n_ch):
        for half in ("(Lo) ", "(Hi) "):
            desc += (pascal(half.encode() + names[k].encode(), 40) + b"\x00" * 4 + pascal(units[k].encode(), 10)
                     + struct.pack("<4f", 0.0, 1000.0, 0.0, 1000.0) + struct.pack("<HH", k, 0) + b"\x00" * 60)
    body = b""
    for b in range(blocks):
        body += (struct.pack("<I", b * per_block) + b"\x00" * 4 + struct.pack("<7H", *start) + b"\x00" * 64
                 + data[:, b * per_block:(b + 1) * per_block].T.astype("<f4").tobytes())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(head + desc + body)
    return path


#: Plug-in Gait joint → (myoflow angle, myoflow moment) of the C3D written by :func:`write_pig_c3d`.
JOINTS = (("Hip", "hip_flexion", "hip_sagittal"), ("Knee", "knee_flexion", "knee_sagittal"),
          ("Ankle", "ankle_dorsiflexion", "ankle_sagittal"))


def write_pig_c3d(path: Path, trial, *, side: str = "L", prefix: str = "Pat01:", moment_units: str = "Nmm",
                  invalid_frame: int | None = None) -> Path:
    """A Vicon Nexus Plug-in Gait C3D of a simulated walk ``trial``, written with ezc3d. What Nexus writes: EMG analogs (5 per frame), the model's angles and per-kg moments as points (X =
    sagittal), foot-strike events of ``side``, body mass and height under PROCESSING."""
    import ezc3d

    a, m, emg = trial["angles"], trial["moments"], trial["emg"]
    mass = trial.meta["covariates"]["weight"]
    labels, pts = [], []
    for joint, ang, mom in JOINTS:
        x = np.zeros((3, a.n_samples))
        x[0] = a.data[a.ch_names.index(ang)]
        x[1] = 3.0  # ab/adduction: not read
        labels.append(f"{prefix}{side}{joint}Angles")
        pts.append(x)
    for joint, ang, mom in JOINTS:
        x = np.zeros((3, m.n_samples))
        x[0] = m.data[m.ch_names.index(mom)] / mass * (1000.0 if moment_units == "Nmm" else 1.0)
        labels.append(f"{prefix}{side}{joint}Moment")
        pts.append(x)
    labels.append(f"{prefix}LASI")  # a marker: not a model output
    pts.append(np.ones((3, a.n_samples)))
    points = np.ones((4, len(labels), a.n_samples))
    points[:3] = np.stack(pts, axis=1)
    c = ezc3d.c3d()
    c["parameters"]["POINT"]["RATE"]["value"] = [a.fs]
    c["parameters"]["POINT"]["LABELS"]["value"] = tuple(labels)
    c.add_parameter("POINT", "ANGLE_UNITS", "deg")
    c.add_parameter("POINT", "MOMENT_UNITS", moment_units)
    c.add_parameter("PROCESSING", "Bodymass", [float(mass)])
    c.add_parameter("PROCESSING", "Height", [float(trial.meta["covariates"]["height"]) * 1000.0])
    c["parameters"]["ANALOG"]["RATE"]["value"] = [emg.fs]
    c["parameters"]["ANALOG"]["LABELS"]["value"] = tuple(f"{side}_{n}" for n in emg.ch_names)
    c["parameters"]["ANALOG"]["UNITS"]["value"] = tuple("V" for _ in emg.ch_names)
    hs = a.t0 + a.events_of("heel_strike") / a.fs
    context = {"L": "Left", "R": "Right"}[side]
    c.add_parameter("EVENT", "USED", [len(hs)])
    c.add_parameter("EVENT", "LABELS", tuple("Foot Strike" for _ in hs))
    c.add_parameter("EVENT", "CONTEXTS", tuple(context for _ in hs))
    c.add_parameter("EVENT", "TIMES", np.stack([np.zeros(len(hs)), hs]).tolist())
    c["data"]["points"] = points
    c["data"]["analogs"] = emg.data.astype(np.float64)[None]
    if invalid_frame is not None:
        c["data"]["meta_points"]["residuals"] = np.zeros((1, len(labels), a.n_samples))
        c["data"]["meta_points"]["residuals"][0, 1, invalid_frame] = -1.0  # knee angle: gap in the model
    c.write(str(path))
    return path
