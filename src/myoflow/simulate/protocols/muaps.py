"""MUAP table over the six BioMime conditions, from the numerical model (spec §5).

``simulate_muaps(n, seed)`` samples the condition box with a scrambled Sobol sequence
(or a Latin hypercube) from :mod:`scipy.stats.qmc` and computes each MUAP with
:func:`myoflow.simulate.numerical.numerical_muaps`; ``myoflow simulate muaps --out DIR``
writes the result as a standard dataset folder: :class:`~myoflow.containers.Epochs`
items (``muaps/partNNN.h5``: ``X`` (n, rows·cols, times) in volts, ``metadata`` = the
conditions, ``y`` = the conditions (n, 6) with ``target_names`` = their names) plus
``conditions.csv`` for a quick look.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Callable

import click
import numpy as np
import pandas as pd
from scipy.stats import qmc

from ..._atomic import atomic_write_text
from ...containers import Epochs
from ...errors import ConfigError
from ..numerical import (
    DEFAULT_SETUP,
    MUAP_CONDITION_RANGES,
    MUAP_CONDITIONS,
    NumericalSetup,
    numerical_muaps,
    validate_conditions,
)

__all__ = ["simulate_muaps", "sample_conditions", "muaps_to_epochs", "write_muaps_dataset", "cli_command"]

log = logging.getLogger(__name__)

PART_SIZE = 2048


def sample_conditions(n: int, seed: int = 0, sampler: str = "sobol") -> pd.DataFrame:
    """``n`` condition vectors spread over :data:`MUAP_CONDITION_RANGES` (scrambled Sobol or LHS)."""
    if n < 1:
        raise ConfigError(f"number of MUAPs must be >= 1, got {n}")
    d = len(MUAP_CONDITIONS)
    if sampler == "sobol":
        eng = qmc.Sobol(d=d, scramble=True, seed=np.random.default_rng(seed))
        m = int(np.ceil(np.log2(max(n, 2))))
        u = eng.random_base2(m)[:n]
    elif sampler in ("lhs", "latin_hypercube"):
        u = qmc.LatinHypercube(d=d, seed=np.random.default_rng(seed)).random(n)
    else:
        raise ConfigError(f"sampler must be 'sobol' or 'lhs', got {sampler!r}")
    lo = np.array([MUAP_CONDITION_RANGES[c][0] for c in MUAP_CONDITIONS])
    hi = np.array([MUAP_CONDITION_RANGES[c][1] for c in MUAP_CONDITIONS])
    return pd.DataFrame(qmc.scale(u, lo, hi), columns=list(MUAP_CONDITIONS))


def simulate_muaps(
    n: int,
    seed: int = 0,
    *,
    sampler: str = "sobol",
    conditions: pd.DataFrame | None = None,
    setup: NumericalSetup = DEFAULT_SETUP,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[pd.DataFrame, np.ndarray, float]:
    """MUAPs of ``n`` motor units sampled over the six BioMime conditions.

    Parameters
    ----------
    n : number of MUAPs (ignored when ``conditions`` is given).
    seed : seeds the condition sampler (the fibre layout is fixed, so a MUAP is a
        deterministic function of its conditions).
    sampler : ``"sobol"`` (scrambled) or ``"lhs"``.
    conditions : explicit table with the :data:`MUAP_CONDITIONS` columns.
    setup : grid, tissue and sampling of the numerical model.
    progress : ``progress(done, total)`` after each MUAP.

    Returns
    -------
    conditions : DataFrame (n, 6)
    muaps : float32 array (n, rows, cols, times), volts; rows run along the fibres
    fs : sampling rate, Hz
    """
    if conditions is None:
        conditions = sample_conditions(n, seed, sampler)
    else:
        validate_conditions(conditions)
        conditions = conditions[list(MUAP_CONDITIONS)].reset_index(drop=True).astype(float)
    x = numerical_muaps(conditions, setup=setup, progress=progress)
    return conditions, x.reshape(len(conditions), setup.rows, setup.cols, -1), float(setup.fs)


def muaps_to_epochs(conditions: pd.DataFrame, muaps: np.ndarray, fs: float, *, setup: NumericalSetup = DEFAULT_SETUP,
                    first_id: int = 0, seed: int | None = None) -> Epochs:
    """Wrap MUAPs as :class:`Epochs` (conditions as metadata and as targets)."""
    n, rows, cols, t = muaps.shape
    el = setup.electrodes()
    md = conditions.reset_index(drop=True).copy()
    md.insert(0, "muap_id", np.arange(first_id, first_id + n))
    return Epochs(
        X=muaps.reshape(n, rows * cols, t), fs=fs, ch_names=el.channel_names(), metadata=md,
        y=conditions[list(MUAP_CONDITIONS)].to_numpy(dtype=float), target_names=list(MUAP_CONDITIONS),
        tmin=-setup.pre_ms * 1e-3,
        meta={"protocol": "muaps", "units": "V", "grid_shape": [rows, cols], "seed": seed,
              "positions_mm": el.positions_mm.tolist(), "source": "simulated MUAPs (numerical model)"},
    )


def _setup_info(setup: NumericalSetup) -> dict:
    return {
        "tissue": {"fat_mm": setup.tissue.fat_mm, "skin_mm": setup.tissue.skin_mm,
                   "sigma_muscle_along": setup.tissue.sigma_muscle_along,
                   "sigma_muscle_radial": setup.tissue.sigma_muscle_radial,
                   "sigma_fat": setup.tissue.sigma_fat, "sigma_skin": setup.tissue.sigma_skin},
        "rest_fibre_length_mm": setup.rest_fibre_length_mm, "grid": [setup.rows, setup.cols],
        "ied_mm": setup.ied_mm, "radius_mm": setup.radius_mm, "fs": setup.fs, "n_samples": setup.n_samples,
        "pre_ms": setup.pre_ms, "fs_internal": setup.fs_internal, "dx_mm": setup.dx_mm,
        "lateral_span_mm": setup.lateral_span_mm,
    }


def write_muaps_dataset(out_dir: str | os.PathLike, conditions: pd.DataFrame, muaps: np.ndarray, fs: float, *,
                        seed: int, sampler: str = "sobol", setup: NumericalSetup = DEFAULT_SETUP,
                        plots: bool = False) -> Path:
    """Write MUAPs as a standard dataset folder (+ ``conditions.csv``; PNGs under ``plots/``)."""
    from ...io.dataset import write_dataset

    out = Path(out_dir)
    n = len(conditions)

    def items():
        for p, s in enumerate(range(0, n, PART_SIZE)):
            sl = slice(s, min(s + PART_SIZE, n))
            yield f"muaps/part{p:03d}", muaps_to_epochs(conditions.iloc[sl], muaps[sl], fs, setup=setup,
                                                        first_id=s, seed=seed)

    info = {
        "protocol": "muaps", "seed": seed, "n_muaps": n, "sampler": sampler, "conditions": list(MUAP_CONDITIONS),
        "condition_ranges": {k: list(v) for k, v in MUAP_CONDITION_RANGES.items()},
        "model": "myoflow.simulate.numerical (per-fibre planar volume conductor)", "setup": _setup_info(setup),
        "layout": "Epochs X (n, rows*cols, times) volts, rows along the fibres; y = conditions",
    }
    write_dataset(out, items(), pd.DataFrame({"subject": pd.Series([], dtype=object)}), info)
    table = conditions.copy()
    table.insert(0, "muap_id", np.arange(n))
    atomic_write_text(out / "conditions.csv", table.to_csv(index=False, float_format="%.9g"))
    if plots:
        from ..plots import plot_muap_column, plot_muap_grid

        for k in range(min(n, 4)):
            title = ", ".join(f"{c}={conditions.iloc[k][c]:.3g}" for c in MUAP_CONDITIONS)
            plot_muap_grid(muaps[k], fs, out / "plots" / f"muap_{k:03d}_grid.png", title=title,
                           tmin=-setup.pre_ms * 1e-3)
            el = setup.electrodes()
            col = setup.cols // 2
            plot_muap_column(muaps[k][:, col, :], fs, out / "plots" / f"muap_{k:03d}_column.png",
                             positions_mm=el.positions_mm.reshape(setup.rows, setup.cols, 2)[:, col, 0],
                             title=f"MUAP {k}, column {col + 1} along the fibres", tmin=-setup.pre_ms * 1e-3)
    return out


@click.command("muaps")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True, help="Output dataset folder.")
@click.option("--n", "n_muaps", type=click.IntRange(min=1), default=256, show_default=True, help="Number of MUAPs.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the condition sampler.")
@click.option("--sampler", type=click.Choice(["sobol", "lhs"]), default="sobol", show_default=True)
@click.option("--subjects", type=int, default=None, hidden=True, help="Accepted for uniformity; unused.")
@click.option("--plots", is_flag=True, help="Save example MUAP figures under OUT/plots.")
def cli_command(out_dir: str, n_muaps: int, seed: int, sampler: str, subjects: int | None, plots: bool) -> None:
    """MUAPs over the six BioMime conditions from the numerical model."""
    from . import progress_bar

    with progress_bar(n_muaps, "muaps", unit="MUAP") as progress:
        cond, muaps, fs = simulate_muaps(n_muaps, seed, sampler=sampler, progress=progress)
    out = write_muaps_dataset(out_dir, cond, muaps, fs, seed=seed, sampler=sampler, plots=plots)
    click.echo(f"wrote {n_muaps} MUAPs ({muaps.shape[1]}×{muaps.shape[2]} grid, {muaps.shape[3]} samples "
               f"at {fs:g} Hz) to {out}")
