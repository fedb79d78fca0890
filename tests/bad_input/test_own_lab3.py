"""Three more new labs through every pipeline (third sweep, issues 14/18): BDF/XDF/Intan/MAT v7.3/C3D/OpenSim
inputs, other rates and grids, small cohorts, hostile ``--set`` values and resumed runs.

Each test is the smallest input that showed the problem; each fails without its fix.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from myoflow.containers import Recording
from myoflow.io import read, write_dataset, write_edf

from ._builders import cli as _cli, one_error_line as _one_error_line


# ------------------------------------------------------------------ BDF/EDF: the rate read back exactly
@pytest.mark.parametrize("suffix", [".bdf", ".edf"])
def test_edf_rate_is_read_back_exactly_when_records_are_not_one_second(suffix, tmp_path, capsys):
    # 5267 samples at 4 kHz tile only as one 1.31675 s record; 5267 / 1.31675 is 3999.9999999999995 in floats
    rng = np.random.default_rng(0)
    recs = [Recording(rng.normal(size=(1, n)) * 1e-4, 4000.0, ["RF"], units="V") for n in (5133, 5267)]
    files = [write_edf(r, tmp_path / "raw" / f"P1_RF_{f}Hz{suffix}") for r, f in zip(recs, (15, 30))]
    assert [read(f).fs for f in files] == [4000.0, 4000.0]  # was: [4000.0, 3999.9999999999995]
    code, _, err = _cli(["convert", tmp_path / "raw", "--pattern", "{subject}_{muscle}_{frequency}Hz",
                         "--out", tmp_path / "ds"], capsys)
    assert code == 0, err
    # was: the stimulated-mass run on this folder stopped with "fs=4000 Hz differs from the cohort's 4000 Hz"
    assert set(read(tmp_path / "ds").index["fs"]) == {4000.0}


# ------------------------------------------------------------------ hostile --set values
def test_seed_outside_numpys_range_is_a_config_error(tmp_path, capsys):
    rng = np.random.default_rng(0)
    items = [(f"S{i}_{m}", Recording(rng.normal(size=(1, 4000)) * 1e-4, 2000.0, ["ch1"], units="V",
                                     meta={"subject": f"S{i}", "muscle": m})) for i in range(3) for m in ("VL", "TA")]
    ds = write_dataset(tmp_path / "lab", items, None, {"protocol": "t"}).path
    code, _, err = _cli(["run", "muscle-id", "--data", ds, "--out", tmp_path / "run", "--set", "evaluate.models=[lda]",
                         "--set", "seed=99999999999999999999999"], capsys)
    line = _one_error_line(code, err)  # was: numpy's "Seed must be between 0 and 2**32 - 1" traceback mid-plan
    assert "seed" in line and "4294967295" in line
