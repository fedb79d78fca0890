"""Small helpers every pipeline uses: the shared-data folder and figure saving."""
from __future__ import annotations

import os
from pathlib import Path

from .._atomic import atomic_path

__all__ = ["shared_data_dir", "pyplot", "save_png"]


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


def pyplot():
    """``matplotlib.pyplot`` on the non-interactive Agg backend (imported lazily: figures are optional)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_png(fig, path: str | os.PathLike, dpi: int = 110, tight: bool = True) -> Path:
    """Write ``fig`` atomically as PNG at ``path``, close it and return the path."""
    path = Path(path)
    with atomic_path(path, suffix=".png") as tmp:
        if tight:
            fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png")
        else:
            fig.savefig(tmp, dpi=dpi, format="png")
    pyplot().close(fig)
    return path
