"""Reader fuzzing: random truncations and byte flips of valid files of every format give a container or a
:class:`DataError` naming the file — never any other exception."""
from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from myoflow.containers import Epochs, Recording, Trial
from myoflow.errors import DataError
from myoflow.io import read

FORMATS = ["edf", "bdf", "h5", "csv", "mat", "sto", "c3d"]
_counter = itertools.count()
FUZZ = settings(max_examples=25, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _read_damaged(src: Path, raw: bytes, workdir: Path) -> str | None:
    """Read ``raw`` as a file like ``src``; the problem with the outcome, or None when it is a container or a
    one-line DataError naming the file."""
    path = workdir / f"fuzz{next(_counter)}{src.suffix}"
    path.write_bytes(raw)
    try:
        obj = read(path)
    except DataError as exc:
        msg = str(exc)
        return None if str(path) in msg and "\n" not in msg else f"DataError without the file or on 2+ lines: {msg}"
    finally:
        path.unlink(missing_ok=True)
    return None if isinstance(obj, (Recording, Trial, Epochs)) else f"read returned {type(obj).__name__}"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.mark.parametrize("fmt", FORMATS)
@FUZZ
@given(data=st.data())
def test_truncated_file_reads_or_raises_data_error(fmt, data, valid_files, workdir):
    src = valid_files.get(fmt) or pytest.skip(f"no {fmt} writer available")
    raw = src.read_bytes()
    keep = data.draw(st.integers(0, len(raw) - 1), label="keep bytes")
    assert _read_damaged(src, raw[:keep], workdir) is None


@pytest.mark.parametrize("fmt", FORMATS)
@FUZZ
@given(data=st.data())
def test_flipped_bytes_read_or_raise_data_error(fmt, data, valid_files, workdir):
    src = valid_files.get(fmt) or pytest.skip(f"no {fmt} writer available")
    raw = bytearray(src.read_bytes())
    # headers hold most of the structure: bias half the flips into the first 512 bytes
    n = data.draw(st.integers(1, 8), label="n flips")
    for _ in range(n):
        hi = min(len(raw), 512) if data.draw(st.booleans(), label="in header") else len(raw)
        i = data.draw(st.integers(0, hi - 1), label="offset")
        raw[i] = data.draw(st.integers(0, 255), label="byte")
    assert _read_damaged(src, bytes(raw), workdir) is None
