"""Shared test fixtures.

``shared_data`` points at the real public recordings in ``../shared/data`` (or
``$MYOFLOW_SHARED_DATA``) and skips the test with a clear reason where absent.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path | None:
    env = os.environ.get("MYOFLOW_SHARED_DATA")
    path = Path(env) if env else REPO.parent / "shared" / "data"
    return path if path.is_dir() else None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if path is None:
        pytest.skip("real public data not found (../shared/data or $MYOFLOW_SHARED_DATA)")
    return path


@pytest.fixture(autouse=True, scope="session")
def _single_thread_torch():
    # Two xdist workers on two cores: one thread each avoids oversubscription.
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover
        pass
    yield


def _load_benchmark(name: str):
    """Import ``benchmarks/NAME.py`` as a module (benchmarks/ is not a package; its scripts import ``common``)."""
    import importlib.util
    import sys

    bench = Path(__file__).resolve().parents[1] / "benchmarks"
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", bench / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up while the class is built
    sys.path.insert(0, str(bench))
    try:
        spec.loader.exec_module(mod)
    finally:
        sys.path.remove(str(bench))
    return mod


@pytest.fixture(scope="session")
def load_benchmark():
    """``load_benchmark(name)`` imports ``benchmarks/<name>.py`` for a test."""
    return _load_benchmark
