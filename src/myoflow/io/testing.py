"""Exact equality checks for containers (for tests, like :mod:`numpy.testing`)."""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from ..containers import Epochs, Recording, Trial

__all__ = ["assert_same", "assert_meta_equal"]


def assert_meta_equal(a: Any, b: Any, path: str = "meta") -> None:
    """Assert two metadata trees are equal, types included (NaN equals NaN)."""
    assert type(a) is type(b), f"{path}: type {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, pd.DataFrame):
        _frames(a, b, path)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype, f"{path}: dtype {a.dtype} != {b.dtype}"
        assert a.shape == b.shape, f"{path}: shape {a.shape} != {b.shape}"
        assert np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"), f"{path}: array values differ"
    elif isinstance(a, np.generic):
        assert a.dtype == b.dtype, f"{path}: dtype {a.dtype} != {b.dtype}"
        assert (a == b) or (a != a and b != b), f"{path}: {a!r} != {b!r}"
    elif isinstance(a, dict):
        assert list(a) == list(b), f"{path}: keys {list(a)} != {list(b)}"
        for k in a:
            assert_meta_equal(a[k], b[k], f"{path}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), f"{path}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_meta_equal(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), f"{path}: nan != {b!r}"
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def _frames(a: pd.DataFrame, b: pd.DataFrame, what: str) -> None:
    try:
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    except AssertionError as exc:
        raise AssertionError(f"{what} differ: {exc}") from None


def _recordings(a: Recording, b: Recording, what: str) -> None:
    assert a.data.dtype == b.data.dtype == np.float32, f"{what}: data dtype"
    assert np.array_equal(a.data, b.data), f"{what}: data differ"
    assert a.fs == b.fs, f"{what}: fs {a.fs} != {b.fs}"
    assert a.t0 == b.t0, f"{what}: t0 {a.t0} != {b.t0}"
    assert a.ch_names == b.ch_names, f"{what}: ch_names differ"
    assert a.units == b.units, f"{what}: units differ"
    assert a.grid_shape == b.grid_shape, f"{what}: grid_shape {a.grid_shape} != {b.grid_shape}"
    assert (a.layout is None) == (b.layout is None), f"{what}: layout presence differs"
    if a.layout is not None:
        assert np.array_equal(a.layout, b.layout), f"{what}: layout differs"
    _frames(a.events, b.events, f"{what}: events")
    assert_meta_equal(a.meta, b.meta, f"{what}.meta")


def assert_same(a: Recording | Trial | Epochs, b: Recording | Trial | Epochs) -> None:
    """Assert two containers are exactly equal (arrays bitwise, tables with dtypes, meta with types)."""
    assert type(a) is type(b), f"type {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, Recording):
        _recordings(a, b, "recording")
    elif isinstance(a, Trial):
        assert list(a.streams) == list(b.streams), f"stream names {list(a.streams)} != {list(b.streams)}"
        for name in a.streams:
            _recordings(a.streams[name], b.streams[name], f"stream {name!r}")
        assert_meta_equal(a.meta, b.meta, "trial.meta")
    else:
        assert a.X.dtype == b.X.dtype and np.array_equal(a.X, b.X), "epochs: X differ"
        assert a.fs == b.fs and a.tmin == b.tmin, "epochs: fs/tmin differ"
        assert a.ch_names == b.ch_names and a.target_names == b.target_names, "epochs: names differ"
        assert (a.y is None) == (b.y is None), "epochs: y presence differs"
        if a.y is not None:
            assert a.y.dtype == b.y.dtype, f"epochs: y dtype {a.y.dtype} != {b.y.dtype}"
            assert a.y.shape == b.y.shape and np.array_equal(a.y, b.y), "epochs: y differ"
        _frames(a.metadata, b.metadata, "epochs: metadata")
        assert_meta_equal(a.meta, b.meta, "epochs.meta")
