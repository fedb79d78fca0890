"""NumPy .npz archives: read with the MATLAB reader's rules, never unpickled, damaged files named."""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from myoflow.errors import DataError
from myoflow.io import read

from ..bad_input._builders import cli, one_error_line


def test_npz_data_rate_and_names(tmp_path):
    x = np.random.default_rng(0).normal(size=(2, 3000)) * 1e-4
    np.savez(tmp_path / "a.npz", data=x, fs=2000.0, ch_names=np.array(["VL", "RF"]))
    rec = read(tmp_path / "a.npz", units="V")
    assert rec.fs == 2000.0 and list(rec.ch_names) == ["VL", "RF"]
    np.testing.assert_allclose(rec.data, x)
    # samples x channels, another rate name, no names: numbered after the array
    np.savez(tmp_path / "b.npz", emg=x.T, srate=np.array(1000))
    rec = read(tmp_path / "b.npz")
    assert rec.fs == 1000.0 and rec.data.shape == (2, 3000) and list(rec.ch_names) == ["emg1", "emg2"]


def test_npz_one_vector_per_channel(tmp_path):
    rng = np.random.default_rng(1)
    vl, rf = rng.normal(size=3000), rng.normal(size=3000)
    np.savez(tmp_path / "c.npz", VL=vl, RF=rf, fs=2000)  # 1-D arrays (a .mat gives 1 x n)
    rec = read(tmp_path / "c.npz")
    assert list(rec.ch_names) == ["VL", "RF"]
    np.testing.assert_allclose(rec.data[1], rf)


def test_npz_with_python_objects_is_refused_without_unpickling(tmp_path):
    marker = tmp_path / "ran"

    class Boom:  # unpickling this would write the marker file
        def __reduce__(self):
            return (Path.touch, (marker,))

    arr = np.empty(1, dtype=object)
    arr[0] = Boom()
    np.savez(tmp_path / "e.npz", data=arr, fs=1000.0)
    with pytest.raises(DataError, match="never loaded"):
        read(tmp_path / "e.npz")
    assert not marker.exists()
    pickle.dumps(arr)  # the archive really held a pickle


@pytest.mark.parametrize("case", ["truncated", "npy", "empty", "no_rate"])
def test_damaged_npz_is_one_line_exit_2(case, tmp_path, capsys):
    f = tmp_path / "x.npz"
    x = np.random.default_rng(0).normal(size=(2, 3000))
    if case == "truncated":
        np.savez(tmp_path / "ok.npz", data=x, fs=2000.0)
        f.write_bytes((tmp_path / "ok.npz").read_bytes()[:300])
    elif case == "npy":
        np.save(tmp_path / "x.npy", x)
        (tmp_path / "x.npy").rename(f)
    elif case == "empty":
        np.savez(f)
    else:
        np.savez(f, data=x)
    code, _, err = cli(["inspect", f], capsys)
    line = one_error_line(code, err)
    assert "x.npz" in line
    assert {"truncated": "truncated or corrupt", "npy": "single .npy array", "empty": "no arrays",
            "no_rate": "no sampling-rate variable"}[case] in line
