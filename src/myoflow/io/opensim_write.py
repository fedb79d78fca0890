"""Write OpenSim storage files (``.sto`` / ``.mot``) that :func:`myoflow.io.read_opensim` and OpenSim read back."""
from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from .._atomic import atomic_write_text
from ..containers import Recording
from ..errors import DataError

__all__ = ["write_opensim"]


def write_opensim(rec: Recording, path: str | os.PathLike, *, in_degrees: bool | None = None,
                  title: str | None = None, precision: int = 8) -> Path:
    """Write one Recording as an OpenSim table: header, ``endheader``, a tab-separated ``time`` + channels table.

    Parameters
    ----------
    rec : Recording
        Channels become columns (names as they are); sample times are ``rec.times``.
    path : path-like
        ``.sto`` or ``.mot``; written atomically.
    in_degrees : bool, optional
        ``inDegrees`` header value; default: yes when any channel's unit is ``deg``.
    title : str, optional
        First header line (default: the file's stem).
    precision : int
        Significant digits.

    Returns
    -------
    Path
    """
    p = Path(path)
    if p.suffix.lower() not in (".sto", ".mot"):
        raise DataError("OpenSim files end in .sto or .mot", str(p))
    if not isinstance(rec, Recording):
        raise DataError(f"write_opensim writes a Recording, got {type(rec).__name__}", str(p))
    bad = [c for c in rec.ch_names if not c or any(ch.isspace() for ch in c)]
    if bad:
        raise DataError(f"OpenSim column names cannot be empty or hold spaces/tabs: {bad}", str(p))
    if in_degrees is None:
        in_degrees = any(u == "deg" for u in rec.units)
    table = np.column_stack([rec.times, rec.data.T.astype(np.float64)])
    buf = io.StringIO()
    buf.write(f"{title or p.stem}\nversion=1\nnRows={table.shape[0]}\nnColumns={table.shape[1]}\n"
              f"inDegrees={'yes' if in_degrees else 'no'}\nendheader\n")
    buf.write("\t".join(["time", *rec.ch_names]) + "\n")
    np.savetxt(buf, table, delimiter="\t", fmt=f"%.{int(precision)}g")
    atomic_write_text(p, buf.getvalue())
    return p
