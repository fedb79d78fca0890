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
