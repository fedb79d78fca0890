"""Simulation protocols, one module each (imported on use, never here).

* :mod:`~myoflow.simulate.protocols.evoked` — electrically evoked M-wave trains (seed 000).
* :mod:`~myoflow.simulate.protocols.grid` — voluntary bursts on 4×4 dry grids (seed 001).
* :mod:`~myoflow.simulate.protocols.gait` — walking: kinematics, moments, sEMG (seed 002).
* :mod:`~myoflow.simulate.protocols.muaps` — MUAP table over the six BioMime conditions.
* :mod:`~myoflow.simulate.protocols.muap_training` — the MUAP generator's numerical training set, split by condition region (seed 003).
* :mod:`~myoflow.simulate.protocols.dynamic` — dynamic movements with a MUAP generator.

Each exposes a function returning myoflow containers and a click ``cli_command``.
"""

from __future__ import annotations

import contextlib
from typing import Callable, Iterator

__all__ = ["progress_bar"]


@contextlib.contextmanager
def progress_bar(total: int, desc: str, unit: str = "recording") -> Iterator[Callable[[int, int], None]]:
    """A tqdm bar, and the ``progress(done, total)`` callback the protocols' simulators take to drive it."""
    from tqdm.auto import tqdm

    with tqdm(total=total, desc=desc, unit=unit) as bar:
        yield lambda done, _total: bar.update(done - bar.n)
