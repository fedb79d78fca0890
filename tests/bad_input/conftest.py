"""Fixtures of the bad-input corpus: valid files of every format (written once), no progress bars."""
from __future__ import annotations

from functools import partialmethod
from pathlib import Path

import pytest

from ._builders import write_valid_files


@pytest.fixture(scope="session")
def valid_files(tmp_path_factory) -> dict[str, Path]:
    return write_valid_files(tmp_path_factory.mktemp("valid"))


@pytest.fixture(autouse=True)
def _no_progress_bars(monkeypatch):
    # As on a non-interactive stderr: progress bars off, so stderr holds only what the CLI reports.
    from tqdm import std

    monkeypatch.setattr(std.tqdm, "__init__", partialmethod(std.tqdm.__init__, disable=True))


