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
