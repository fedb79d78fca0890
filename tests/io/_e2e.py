"""What the readers' end-to-end tests share: burst-like recordings of two muscles and one quick muscle-id run.

Each new reader is checked once through the whole stack (its files → `myoflow convert` → `myoflow run
muscle-id`); the recordings and the run's settings are the same for every format, so they live here.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..test_user_data import run_cli

#: A quick LOSO LDA run of a two-muscle folder named Arm-Leg, with an arm-vs-leg grouped task.
ARM_LEG_RUN = ["--workers", "1", "--set", "evaluate.models=[lda]", "--set", "evaluate.schemes=[loso]",
               "--set", "evaluate.final_model=false", "--set", "evaluate.n_boot=20",
               "--set", "data.Arm-Leg.tasks={arm_vs_leg: {arm: [BB], leg: [TA]}}"]


def bursts(muscle: str, rng: np.random.Generator, fs: float, seconds: float = 14.0) -> np.ndarray:
    """Two channels of rest + 1.5 s contractions every 3.5 s (µV); the spectrum depends on the muscle (BB/TA)."""
    from scipy.signal import butter, sosfiltfilt

    n = int(seconds * fs)
    band = {"BB": (30, 120), "TA": (80, 300)}[muscle]
    burst = sosfiltfilt(butter(4, band, "bandpass", fs=fs, output="sos"), rng.normal(size=(2, n)), axis=1)
    on = np.zeros(n)
    for t0 in np.arange(1.0, seconds - 2.0, 3.5):
        on[int(t0 * fs):int((t0 + 1.5) * fs)] = 1.0
    return 2.0 * rng.normal(size=(2, n)) + 200.0 * burst * on


def run_arm_leg(ds: Path, run: Path, capsys) -> list[str]:
    """Run the quick muscle-id protocol on the converted folder ``ds``; its headline labels (arm vs leg among them)."""
    run_cli(["run", "muscle-id", "--data", ds, "--out", run, *ARM_LEG_RUN], capsys)
    labels = [r["label"] for r in json.loads((run / "metrics.json").read_text())["headline"]]
    assert any("arm_vs_leg" in lab or "arm vs leg" in lab for lab in labels), labels
    return labels
