"""Reader regressions found by feeding damaged vendor files through the CLI (qa).

A damaged XDF made pyxdf print a full traceback for every bad chunk before myoflow's own error line.
"""
from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import myoflow
from myoflow.errors import DataError
from myoflow.io import read

pytest.importorskip("pyxdf", reason="vendor extra not installed")

DAMAGED_XDF = {
    "magic_then_noise": b"XDF:" + np.random.default_rng(2).bytes(50),
    "magic_then_ff": b"XDF:" + b"\xff" * 16,
}


@pytest.mark.parametrize("case", DAMAGED_XDF, ids=list(DAMAGED_XDF))
def test_damaged_xdf_is_one_error_and_no_pyxdf_traceback(case, tmp_path, caplog):
    f = tmp_path / f"{case}.xdf"
    f.write_bytes(DAMAGED_XDF[case])
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(DataError) as info:
            read(f)
    assert str(info.value).startswith(f"{f}: ")
    assert not [r for r in caplog.records if r.name.startswith("pyxdf")], caplog.records
    assert not logging.getLogger("pyxdf").handlers  # the temporary handler is removed again
    assert logging.getLogger("pyxdf").propagate


def test_damaged_xdf_through_the_cli_prints_one_line(tmp_path):
    f = tmp_path / "junk.xdf"
    f.write_bytes(DAMAGED_XDF["magic_then_noise"])
    src = Path(myoflow.__file__).resolve().parents[1]  # the myoflow under test
    env = dict(os.environ, PYTHONPATH=str(src), OMP_NUM_THREADS="1")
    r = subprocess.run([sys.executable, "-m", "myoflow", "inspect", str(f)], capture_output=True, text=True, env=env,
                       timeout=120)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert len(lines) == 1 and lines[0].startswith(f"error: {f}: cannot read as XDF"), lines


def _two_rate_edf(path: Path) -> Path:
    edfio = pytest.importorskip("edfio", reason="edf extra not installed")
    rng = np.random.default_rng(0)
    sigs = [edfio.EdfSignal(rng.normal(size=4000) * 100, 2000, label="EMG", physical_dimension="uV",
                            physical_range=(-5000, 5000)),
            edfio.EdfSignal(rng.normal(size=200), 100, label="ACC", physical_dimension="g", physical_range=(-10, 10))]
    edfio.Edf(sigs).write(path)
    return path


def test_edf_channels_hint_keeps_the_emg_of_a_two_rate_file(tmp_path):
    from myoflow.containers import Recording, Trial

    f = _two_rate_edf(tmp_path / "S01_FDS.edf")
    assert isinstance(read(f), Trial)
    rec = read(f, channels="EMG")
    assert isinstance(rec, Recording) and rec.ch_names == ("EMG",) and rec.fs == 2000.0
    with pytest.raises(DataError, match=r"no signal\(s\) \['XYZ'\]; the file has \['EMG', 'ACC'\]"):
        read(f, channels=["XYZ"])


def test_muscle_id_on_trials_says_how_to_get_recordings(tmp_path, capsys):
    # before: "dataset folder holds no Recordings" (and Trials mixed with Recordings were dropped silently)
    from myoflow.cli import main

    raw = tmp_path / "raw"
    raw.mkdir()
    for s in ("01", "02", "03"):
        _two_rate_edf(raw / f"S{s}_FDS.edf")
    main(["convert", str(raw), "--pattern", "S{subject}_{muscle}", "--out", str(tmp_path / "ds")])
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        main(["run", "muscle-id", "--data", str(tmp_path / "ds"), "--out", str(tmp_path / "run")])
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert info.value.code == 2 and len(err) == 1 and "--hint channels=" in err[0] and "multi-rate Trials" in err[0]
