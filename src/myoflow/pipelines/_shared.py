"""Helpers every pipeline uses: the shared-data folder, a check of a folder's amplitudes (figures live in
:mod:`myoflow.report.figures`)."""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from ..containers import Recording

__all__ = ["shared_data_dir", "amplitude_outliers", "warn_amplitude_outliers"]

#: A factor no two people differ by, while a unit slip (x1000 per prefix) exceeds it.
AMPLITUDE_RATIO = 300.0

log = logging.getLogger(__name__)


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


def amplitude_outliers(recordings: Sequence[Recording], ratio: float = AMPLITUDE_RATIO) -> list[str]:
    """Recordings whose amplitude is ``ratio`` times (or 1/ratio) that of the others of their muscle.

    One file of a lab's folder exported in µV under a ``[V]`` header (or mV read as V) is 1000 or a million
    times larger than its neighbours, and nothing else looks wrong: the amplitude features (and the
    stimulated M-wave size) then follow the file's unit, not the muscle, and that subject is scored on
    numbers no other subject has. Amplitude = the median over channels of each channel's median absolute
    deviation (robust to bursts and artefacts); compared within each ``muscle`` (or class) with at least
    3 recordings, so a quiet class (a rest gesture) is not compared with a loud one. People differ by
    a factor of ten or so (skin, fat, electrodes), far below ``ratio``.

    Returns ``"<source> (<factor>x)"`` per flagged recording (for :func:`warn_amplitude_outliers`).
    """
    groups: dict[str, list[tuple[str, float]]] = {}
    for rec in recordings:
        x = np.asarray(rec.data, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] < 10:
            continue
        x = x[:, np.isfinite(x).all(axis=0)]
        if x.shape[1] < 10:
            continue
        mad = float(np.median(np.median(np.abs(x - np.median(x, axis=1, keepdims=True)), axis=1)))
        if mad > 0:
            groups.setdefault(str(rec.meta.get("muscle")), []).append((str(rec.source), mad))
    flagged = []
    for vals in groups.values():
        if len(vals) < 3:
            continue
        mid = float(np.median([v for _, v in vals]))
        flagged += [f"{src} ({v / mid:.3g}x)" for src, v in vals if not 1.0 / ratio < v / mid < ratio]
    return flagged


def warn_amplitude_outliers(flagged: Sequence[str], where: str | None, ratio: float = AMPLITUDE_RATIO) -> None:
    """Log the warning for :func:`amplitude_outliers`' findings (nothing when there are none)."""
    if flagged:
        log.warning("%s: recording(s) %s%s have an amplitude %g times (or 1/%g) that of the other recordings of "
                    "their muscle: a unit slip (uV or mV read as V)? Their amplitude features would follow the "
                    "file's unit, not the muscle; state the unit when converting (myoflow convert ... --hint "
                    "units=uV) or check the files", where, list(flagged[:5]),
                    f" and {len(flagged) - 5} more" if len(flagged) > 5 else "", ratio, ratio)
