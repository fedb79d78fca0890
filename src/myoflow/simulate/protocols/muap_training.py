"""Training data for the MUAP generator: numerical-model MUAPs, cached, split by condition region.

The numerical model (:mod:`myoflow.simulate.numerical`) costs ~0.1–0.2 s per MUAP,
so a generated set is cached under ``<cache_dir>/muap_generator/<key>.npz``, the key
hashing every parameter that changes its content (sampling, seed, numerical setup,
condition ranges, split bands).

Condition regions (the point of the split: test conditions the model never saw)
--------------------------------------------------------------------------------
In unit coordinates ``u = (c − lo) / (hi − lo)`` of the declared ranges:

* **training box** — every condition over its full range, except the
  ``extrapolation_conditions``, which stop at ``1 − extrapolation_band``;
* **extrapolation** set — conditions where at least one extrapolation condition
  lies in the top band ``(1 − band, 1]``: outside everything seen in training,
  still inside the declared (valid) ranges;
* **interpolation** set — inside the training box: (a) every sample whose
  ``interpolation_conditions`` fall in a slab of relative width
  ``interpolation_slab`` centred in the training range (a region with no training
  sample at all), plus (b) a random ``interpolation_random`` fraction of the other
  motor units;
* **train** / **val** — the rest; ``val`` (a random fraction of the training
  units) only drives early stopping.

A user's own folder of MUAPs is read by :func:`myoflow.pipelines.muap_generator.data.load_folder_set`.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..._atomic import atomic_path
from ...cache import cache_key, cached
from ...errors import ConfigError, DataError
from .._digest import simulator_digest

__all__ = ["MuapData", "sample_region_conditions", "assign_split", "simulate_training_set", "SPLITS"]

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "interpolation", "extrapolation")


@dataclass
class MuapData:
    """Everything a fold needs (picklable).

    Attributes
    ----------
    conditions : array (n, 6), physical units, columns ``condition_names``
    muaps : float32 array (n, rows, cols, times), volts
    split : array (n,) of str, one of :data:`SPLITS`
    region : array (n,) of str: ``"slab"``/``"random"`` for interpolation units, ``"band"`` for extrapolation, ``""``
    fs : float, Hz
    positions_mm : array (rows*cols, 2)
    condition_names : tuple of str
    condition_ranges : dict name -> (lo, hi), the declared ranges
    numerical_ms_per_muap : float or None
        Wall time of the numerical model per MUAP while generating (None when loaded from cache/folder).
    real_templates : dict or None
        ``muaps`` (n, ch, times) V, ``positions_mm``, ``fs``, ``n_firings`` of real spike-triggered averages.
    info : dict
        Provenance (source, cache key, parameters).
    """

    conditions: np.ndarray
    muaps: np.ndarray
    split: np.ndarray
    region: np.ndarray
    fs: float
    positions_mm: np.ndarray
    condition_names: tuple[str, ...]
    condition_ranges: dict[str, tuple[float, float]]
    numerical_ms_per_muap: float | None = None
    real_templates: dict[str, Any] | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def indices(self, name: str) -> np.ndarray:
        if name not in SPLITS:
            raise DataError(f"unknown split {name!r}; expected one of {SPLITS}")
        return np.flatnonzero(self.split == name)

    @property
    def grid_shape(self) -> tuple[int, int]:
        return int(self.muaps.shape[1]), int(self.muaps.shape[2])


def _bounds(names: Sequence[str], ranges: dict[str, tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
    lo = np.array([ranges[n][0] for n in names], dtype=float)
    hi = np.array([ranges[n][1] for n in names], dtype=float)
    return lo, hi


def _check_names(which: str, wanted: Sequence[str], names: Sequence[str]) -> list[int]:
    bad = [w for w in wanted if w not in names]
    if bad:
        raise ConfigError(f"split.{which}: unknown condition(s) {bad}; conditions are {list(names)}")
    return [list(names).index(w) for w in wanted]


def sample_region_conditions(n_pool: int, n_extrapolation: int, names: Sequence[str],
                             ranges: dict[str, tuple[float, float]], extrapolation_conditions: Sequence[str],
                             band: float, seed: int, sampler: str = "sobol") -> np.ndarray:
    """Conditions for the training box (``n_pool``) followed by the extrapolation band (``n_extrapolation``).

    Quasi-random (scrambled Sobol or Latin hypercube, :mod:`scipy.stats.qmc`). Each
    extrapolation sample has one extrapolation condition (cycling through them) moved
    into its top band; the others span their full range.

    Returns
    -------
    array (n_pool + n_extrapolation, n_conditions), physical units
    """
    from scipy.stats import qmc

    if not 0.0 < band < 0.5:
        raise ConfigError(f"split.extrapolation_band must be in (0, 0.5), got {band}")
    if n_pool < 4:
        raise ConfigError(f"data.n_train_pool must be >= 4, got {n_pool}")
    d = len(names)
    ext = _check_names("extrapolation_conditions", extrapolation_conditions, names)
    rng = np.random.default_rng(seed)

    def draw(n: int) -> np.ndarray:
        if n == 0:
            return np.zeros((0, d))
        if sampler == "sobol":
            eng = qmc.Sobol(d=d, scramble=True, seed=rng)
            return eng.random_base2(int(np.ceil(np.log2(max(n, 2)))))[:n]
        if sampler == "lhs":
            return qmc.LatinHypercube(d=d, seed=rng).random(n)
        raise ConfigError(f"data.sampler must be 'sobol' or 'lhs', got {sampler!r}")

    u_pool = draw(n_pool)
    u_pool[:, ext] *= (1.0 - band)
    u_ext = draw(n_extrapolation)
    if n_extrapolation and ext:
        for k in range(n_extrapolation):
            j = ext[k % len(ext)]
            u_ext[k, j] = 1.0 - band + band * u_ext[k, j]
    elif n_extrapolation:
        raise ConfigError("split.extrapolation_conditions is empty but data.n_extrapolation > 0")
    lo, hi = _bounds(names, ranges)
    return lo + np.vstack([u_pool, u_ext]) * (hi - lo)


def assign_split(conditions: np.ndarray, names: Sequence[str], ranges: dict[str, tuple[float, float]], *,
                 extrapolation_conditions: Sequence[str], extrapolation_band: float,
                 interpolation_conditions: Sequence[str], interpolation_slab: float,
                 interpolation_random: float, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Label every unit train / val / interpolation / extrapolation by its condition region.

    Returns
    -------
    split : array (n,) of str
    region : array (n,) of str (``"band"``, ``"slab"``, ``"random"`` or ``""``)
    """
    c = np.asarray(conditions, dtype=float)
    lo, hi = _bounds(names, ranges)
    u = (c - lo) / (hi - lo)
    ext = _check_names("extrapolation_conditions", extrapolation_conditions, names)
    itp = _check_names("interpolation_conditions", interpolation_conditions, names)
    for name, v in (("interpolation_slab", interpolation_slab), ("interpolation_random", interpolation_random),
                    ("val_fraction", val_fraction)):
        if not 0.0 <= v < 0.5:
            raise ConfigError(f"split.{name} must be in [0, 0.5), got {v}")
    n = len(c)
    split = np.full(n, "train", dtype=object)
    region = np.full(n, "", dtype=object)
    in_band = np.zeros(n, bool)
    for j in ext:
        in_band |= u[:, j] > 1.0 - extrapolation_band + 1e-12
    split[in_band] = "extrapolation"
    region[in_band] = "band"
    slab = np.zeros(n, bool)
    for j in itp:
        top = 1.0 - extrapolation_band if j in ext else 1.0
        centre, half = top / 2, interpolation_slab * top / 2
        slab |= np.abs(u[:, j] - centre) <= half
    slab &= ~in_band
    split[slab] = "interpolation"
    region[slab] = "slab"
    rng = np.random.default_rng(seed)
    rest = np.flatnonzero(split == "train")
    perm = rng.permutation(rest)
    n_rand = int(round(interpolation_random * len(rest)))
    split[perm[:n_rand]] = "interpolation"
    region[perm[:n_rand]] = "random"
    n_val = int(round(val_fraction * len(rest)))
    split[perm[n_rand:n_rand + n_val]] = "val"
    if (split == "train").sum() < 2:
        raise ConfigError(f"only {(split == 'train').sum()} training MUAPs left after the split; "
                          "increase data.n_train_pool or shrink the held-out fractions")
    return split.astype(str), region.astype(str)


def _numerical_chunk(args: tuple[np.ndarray, Any]) -> np.ndarray:
    cond, setup = args
    from ..numerical import numerical_muaps

    return numerical_muaps(cond, setup=setup)


def simulate_training_set(n_pool: int, n_extrapolation: int, *, extrapolation_conditions: Sequence[str],
                          extrapolation_band: float, seed: int, sampler: str = "sobol",
                          cache_dir: Path | None = None, n_jobs: int = 1,
                          progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Numerical-model MUAPs over the training box and the extrapolation band (cached).

    Returns
    -------
    dict with ``conditions`` (n, 6), ``muaps`` (n, rows, cols, times) V, ``fs``, ``positions_mm``,
    ``names``, ``ranges``, ``ms_per_muap`` (None from cache), ``cache_key``.
    """
    from ..numerical import DEFAULT_SETUP, MUAP_CONDITION_RANGES, MUAP_CONDITIONS
    from .muaps import _setup_info

    names = tuple(MUAP_CONDITIONS)
    ranges = {k: tuple(map(float, v)) for k, v in MUAP_CONDITION_RANGES.items()}
    setup = DEFAULT_SETUP
    params = {"n_pool": n_pool, "n_extrapolation": n_extrapolation, "ext": list(extrapolation_conditions),
              "band": extrapolation_band, "seed": seed, "sampler": sampler, "names": names, "ranges": ranges,
              "setup": _setup_info(setup), "setup_repr": repr(setup), "version": 1,
              "simulator": simulator_digest()}  # any simulator edit invalidates the cached MUAPs
    key = cache_key(params)
    path = Path(cache_dir) / "muap_generator" / f"muaps-{key}.npz" if cache_dir is not None else None
    positions = setup.electrodes().positions_mm
    common = {"names": names, "ranges": ranges, "cache_key": key, "cache_path": str(path) if path else None}

    def load(p: Path) -> dict[str, Any] | None:
        if not p.is_file():
            return None
        with np.load(p, allow_pickle=False) as z:
            return {"conditions": z["conditions"], "muaps": z["muaps"], "fs": float(z["fs"]),
                    "positions_mm": z["positions_mm"], "ms_per_muap": None, **common}

    def save(out: dict[str, Any], p: Path) -> None:
        with atomic_path(p, suffix=".npz") as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, conditions=out["conditions"], muaps=out["muaps"], fs=np.float64(out["fs"]),
                         positions_mm=out["positions_mm"])

    def build() -> dict[str, Any]:
        cond = sample_region_conditions(n_pool, n_extrapolation, names, ranges, extrapolation_conditions,
                                        extrapolation_band, seed, sampler)
        t0 = time.perf_counter()
        x = _numerical_muaps(cond, setup, n_jobs, progress)
        wall = time.perf_counter() - t0
        return {"conditions": cond, "muaps": x, "fs": float(setup.fs), "positions_mm": positions,
                "ms_per_muap": wall / len(cond) * 1e3 * max(n_jobs, 1), **common}

    return cached(path, load, save, build, what="numerical MUAPs")


def _numerical_muaps(cond: np.ndarray, setup: Any, n_jobs: int,
                     progress: Callable[[int, int], None] | None) -> np.ndarray:
    """Numerical-model MUAPs of every condition row, in chunks (a spawn process pool when n_jobs > 1)."""
    n = len(cond)
    chunks = np.array_split(np.arange(n), max(1, min(n, 8 * max(n_jobs, 1))))
    parts: list[np.ndarray] = [None] * len(chunks)  # type: ignore[list-item]
    done = 0
    if n_jobs > 1:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(max_workers=n_jobs, mp_context=mp.get_context("spawn")) as pool:
            futs = {pool.submit(_numerical_chunk, (cond[idx], setup)): k for k, idx in enumerate(chunks)}
            for fut in as_completed(futs):
                k = futs[fut]
                parts[k] = fut.result()
                done += len(chunks[k])
                if progress:
                    progress(done, n)
    else:
        for k, idx in enumerate(chunks):
            parts[k] = _numerical_chunk((cond[idx], setup))
            done += len(idx)
            if progress:
                progress(done, n)
    return np.concatenate(parts).reshape(n, setup.rows, setup.cols, -1).astype(np.float32)
