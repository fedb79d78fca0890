"""`muaps` protocol and the lazy `myoflow simulate` group."""
from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from myoflow.errors import DataError
from myoflow.simulate.numerical import MUAP_CONDITION_RANGES, MUAP_CONDITIONS
from myoflow.simulate.protocols.muaps import cli_command, sample_conditions, simulate_muaps


def test_sample_conditions_cover_ranges():
    df = sample_conditions(64, seed=1)
    assert list(df.columns) == list(MUAP_CONDITIONS) and len(df) == 64
    for c, (lo, hi) in MUAP_CONDITION_RANGES.items():
        assert df[c].between(lo, hi).all()
        assert df[c].max() - df[c].min() > 0.8 * (hi - lo)  # space-filling
    assert sample_conditions(64, seed=1).equals(df) and not sample_conditions(64, seed=2).equals(df)
    assert sample_conditions(10, seed=0, sampler="lhs").shape == (10, 6)


def test_simulate_muaps_shapes_and_bad_conditions():
    calls = []
    cond, muaps, fs = simulate_muaps(3, seed=4, progress=lambda d, t: calls.append((d, t)))
    assert muaps.shape == (3, 10, 8, 96) and muaps.dtype == np.float32 and fs == 2048.0
    assert calls[-1] == (3, 3) and np.isfinite(muaps).all() and (np.ptp(muaps, axis=(1, 2, 3)) > 0).all()
    bad = cond.copy()
    bad.loc[1, "cv_m_s"] = 9.0
    with pytest.raises(DataError, match="cv_m_s"):
        simulate_muaps(0, conditions=bad)


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_cli_writes_readable_bit_identical_dataset(tmp_path):
    runner = CliRunner()
    outs = []
    for name in ("a", "b"):
        res = runner.invoke(cli_command, ["--out", str(tmp_path / name), "--n", "3", "--seed", "7"])
        assert res.exit_code == 0, res.output
        outs.append(tmp_path / name)
    assert _digest(outs[0]) == _digest(outs[1])
    from myoflow.io.dataset import load_dataset

    ds = load_dataset(outs[0])
    assert ds.info["protocol"] == "muaps" and ds.info["seed"] == 7
    stem = ds.index["stem"].iloc[0]
    ep = ds.load(stem)
    assert ep.X.shape == (3, 80, 96) and list(ep.target_names) == list(MUAP_CONDITIONS)
    cond = pd.read_csv(outs[0] / "conditions.csv")
    np.testing.assert_allclose(ep.y, cond[list(MUAP_CONDITIONS)].to_numpy(), rtol=1e-6)
    cond2, muaps2, _ = simulate_muaps(3, seed=7)
    np.testing.assert_array_equal(ep.X, muaps2.reshape(3, 80, 96))


def test_plots_are_written(tmp_path):
    res = CliRunner().invoke(cli_command, ["--out", str(tmp_path / "p"), "--n", "1", "--seed", "0", "--plots"])
    assert res.exit_code == 0, res.output
    pngs = sorted((tmp_path / "p" / "plots").glob("*.png"))
    assert len(pngs) == 2 and all(p.stat().st_size > 5000 for p in pngs)


def test_simulate_group_is_lazy():
    code = (
        "import sys; from click.testing import CliRunner; from myoflow.simulate.cli import simulate_cmd;"
        "r = CliRunner().invoke(simulate_cmd, ['--help']); print(r.output);"
        "print('LOADED' if any(m.startswith('myoflow.simulate.protocols.') for m in sys.modules) else 'LAZY')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    for name in ("evoked", "grid", "gait", "muaps", "dynamic", "lowerlimb"):
        assert name in out
    assert out.strip().endswith("LAZY")
