"""The shared-data folder every pipeline looks up (figures live in :mod:`myoflow.report.figures`)."""
from __future__ import annotations

import os
from pathlib import Path

__all__ = ["shared_data_dir"]


def shared_data_dir() -> Path:
    """Folder of the public data sets: ``$MYOFLOW_SHARED_DATA``, else ``<repo>/../shared/data``.

    The second is where a development checkout keeps them; the folder may not exist,
    so callers check the data set they need below it.
    """
    env = os.environ.get("MYOFLOW_SHARED_DATA")
    if env:
        return Path(env)
    # <repo>/src/myoflow/pipelines/_shared.py → <repo>/../shared/data
    return Path(__file__).resolve().parents[3].parent / "shared" / "data"
