"""Seed 003 (BioMime, arXiv 2211.01856): a conditional generator that mimics the numerical MUAP model.

Protocol
--------
1. ``prepare`` — MUAPs of the numerical volume-conductor model
   (:mod:`myoflow.simulate.numerical`, 10 × 8 monopolar grid, 96 samples at
   2048 Hz) over the six BioMime conditions, sampled quasi-randomly in a training
   box plus an extrapolation band (see :mod:`.data`; cached), split by condition
   region into train / val / interpolation / extrapolation; real MUAP templates
   (spike-triggered averages of ``openhdemg-otb``) when the shared data are present.
2. ``run_fold`` (one fold per training seed) — fit :class:`~myoflow.models.muap_generator.MUAPGenerator`
   (conditional VAE; with ``model.params.members`` K, the mean of K of them trained with
   different seeds) on the training units, early-stopped on the validation units;
   with ``evaluate.compare_adversarial`` also the other variant (VAE+GAN when the
   configured model is the plain VAE, and vice versa: ``model.params.adversarial``
   flipped, all else equal) on the same units; generate the held-out units at
   ``z = 0`` and score nRMSE (BioMime's metric) and RMSE / RMS(target) per unit and
   variant; time the numerical model and the batched generator side by side (MUAPs/s,
   ratio); shape statistics (p-p, duration, spatial spread) of numerical and
   generated MUAPs; export the generator (safetensors + JSON + ONNX checked
   against torch) into the fold folder.
3. ``summarize`` — nRMSE mean, median, percentiles and histogram on the
   interpolation and extrapolation sets, per held-out region and per condition
   band (configured variant); both variants side by side per held-out region
   (interpolation slab, random held-out units, extrapolation band); speed-up;
   distance of numerical and generated shape statistics to the real templates.

Data sources: ``data.source: simulate`` (default) or ``folder`` (a standard dataset
folder from ``myoflow simulate muaps``: Epochs with ``X`` (n, rows·cols, times) in V
and the six condition columns in ``metadata``; see :mod:`.data`).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Sequence

import numpy as np
import pandas as pd

from ...config import ExperimentConfig, ModelSpec
from ...errors import ConfigError, DataError
from ...experiments.base import Fold, FoldContext, FoldResult, Headline, Pipeline
from .._shared import shared_data_dir
from ...simulate.protocols.muap_training import MuapData, assign_split, simulate_training_set
from .data import load_folder_set
from ...evaluate.bootstrap import bootstrap_mean
from ...evaluate.metrics import nrmse, pearson_r
from ...models import build_from_sections, check_model_spec, estimator_config, estimator_tensors
from ...models.muap_generator import peak_to_peak

__all__ = ["MuapDataConfig", "MuapSplitConfig", "MuapEvaluateConfig",
           "MuapComputeConfig", "MuapGeneratorConfig", "MuapGeneratorPipeline"]

log = logging.getLogger(__name__)

MODEL_NAME = "muap_generator"


# --------------------------------------------------------------------- config
@dataclass
class MuapDataConfig:
    """Where the (conditions, MUAP) pairs come from.

    ``n_train_pool`` units are sampled in the training box (they become train, val
    and interpolation units), ``n_extrapolation`` in the extrapolation band.
    """

    source: Literal["simulate", "folder"] = "simulate"
    path: Path | None = None
    n_train_pool: int = 2048
    n_extrapolation: int = 256
    sampler: Literal["sobol", "lhs"] = "sobol"
    seed: int = 0
    n_jobs: int = 2
    real_templates: bool = True
    real_templates_path: Path | None = None

    def __post_init__(self) -> None:
        if self.source == "folder" and self.path is None:
            raise ConfigError("data.source is 'folder' but data.path is not set")
        if self.n_jobs < 1:
            raise ConfigError(f"data.n_jobs must be >= 1, got {self.n_jobs}")
        if self.n_extrapolation < 0:
            raise ConfigError(f"data.n_extrapolation must be >= 0, got {self.n_extrapolation}")


@dataclass
class MuapSplitConfig:
    """Condition-region split (see :mod:`myoflow.simulate.protocols.muap_training`)."""

    extrapolation_conditions: list[str] = field(default_factory=lambda: ["depth_mm", "cv_m_s"])
    extrapolation_band: float = 0.1
    interpolation_conditions: list[str] = field(default_factory=lambda: ["fibre_number_log", "angle"])
    interpolation_slab: float = 0.1
    interpolation_random: float = 0.05
    val_fraction: float = 0.08


@dataclass
class MuapEvaluateConfig:
    """Evaluation settings."""

    #: folds = independent training seeds on the same split, each scored on its own (errors averaged per
    #: unit over folds); a generator averaging several trained decoders is ``model.params.members``
    n_seeds: int = 1
    speed_numerical_n: int = 8         # numerical MUAPs timed per fold
    speed_generator_n: int = 2048      # generated MUAPs timed per fold (batched)
    speed_batch_size: int = 512
    n_figure_examples: int = 2         # held-out units per test set kept for the figure
    export_onnx: bool = True
    #: also train the other variant (VAE <-> VAE+GAN: model.params.adversarial flipped) on the same
    #: split and report both side by side; only the configured one is exported / checkpointed
    compare_adversarial: bool = True
    decomposable_ptp_uv: float = 100.0  # units at least this large are compared with real (decomposed) units
    #: error floor of the numerical model itself, measured on up to this many held-out units per
    #: interpolation region (slab, random): a second numerical MUAP at the SAME conditions with another
    #: fibre layout, and one at the nearest other fibre count (see :func:`layout_floor`); 0: skip
    floor_units: int = 128


@dataclass
class MuapComputeConfig:
    """CPU use of a fold.

    ``torch_threads``: threads for training and generation inside ``run_fold`` (0 keeps
    torch's setting); ``n_jobs``: processes training a fold's generators. One thread is
    fastest on a shared 2-core machine: the small matrix products here gain little from a
    second thread and suffer badly when the cores are oversubscribed.
    """

    torch_threads: int = 1
    #: processes that train a fold's generators (the two variants with ``evaluate.compare_adversarial``,
    #: times ``model.params.members``) side by side; 1: one after another in the fold's process. The
    #: numbers do not depend on it (each generator trains on its own seed and ``torch_threads``).
    n_jobs: int = 2

    def __post_init__(self) -> None:
        if isinstance(self.n_jobs, bool) or not isinstance(self.n_jobs, int) or self.n_jobs < 1:
            raise ConfigError(f"compute.n_jobs must be an integer >= 1, got {self.n_jobs!r}")


@dataclass
class MuapGeneratorConfig(ExperimentConfig):
    """Config of the ``muap-generator`` pipeline (see ``configs/muap_generator.yaml``)."""

    data: MuapDataConfig = field(default_factory=MuapDataConfig)
    split: MuapSplitConfig = field(default_factory=MuapSplitConfig)
    #: ``name: muap_generator``; params of :class:`~myoflow.models.muap_generator.MuapGeneratorEstimator`
    #: (architecture and VAE loss weights; the train section fills epochs, lr, ...; fs, conditions and
    #: electrode positions come from the data, seed and device from the runner).
    model: ModelSpec = field(default_factory=lambda: ModelSpec("muap_generator"))
    evaluate: MuapEvaluateConfig = field(default_factory=MuapEvaluateConfig)
    compute: MuapComputeConfig = field(default_factory=MuapComputeConfig)

    def __post_init__(self) -> None:
        check_model_spec(self.model, "model", allowed=("muap_generator",))


# --------------------------------------------------------------------- helpers
def _real_templates(cfg: MuapGeneratorConfig) -> dict[str, Any] | None:
    if not cfg.data.real_templates:
        return None
    path = cfg.data.real_templates_path
    if path is None:
        path = shared_data_dir() / "openhdemg-otb"
    if not Path(path).exists():
        log.warning("real MUAP templates not found (set data.real_templates_path or $MYOFLOW_SHARED_DATA); "
                    "the comparison with real MUAPs is skipped")
        return None
    from ...preprocess.muap_templates import real_muap_templates

    t = real_muap_templates(path)
    return {"muaps": t.muaps, "positions_mm": t.positions_mm, "fs": t.fs, "n_firings": t.n_firings,
            "source": t.source}


def _estimator(cfg: MuapGeneratorConfig, data: MuapData, seed: int, device: str, adversarial: bool | None = None):
    """The generator estimator: ``model.params`` over the ``train`` section; data-given fields fixed
    (and ``adversarial`` when given: the comparison variant)."""
    from ...config import to_dict

    fixed = {} if adversarial is None else {"adversarial": bool(adversarial)}
    return build_from_sections(
        cfg.model.name, cfg.model.params, defaults={k: v for k, v in to_dict(cfg.train).items() if k != "device"},
        fs=data.fs, condition_names=tuple(data.condition_names),
        condition_ranges={k: tuple(v) for k, v in data.condition_ranges.items()},
        positions_mm=data.positions_mm.tolist(), seed=seed, device=device, **fixed)


def _worker_threads(threads: int) -> None:
    """Initializer of a training process: the fold's torch thread count (spawned children start with
    torch's default, and a different count could change the summation order of the results)."""
    import torch

    torch.set_num_threads(max(1, int(threads)))


def _fit_one(args: tuple) -> Any:
    """Fit one single generator (a variant's member) on the training units, validated on the val units."""
    est, C, X, Vc, Vx = args
    est.fit(C, X, validation_data=(Vc, Vx))
    est.generator_.to("cpu")
    return est


def _fit_generators(jobs: list, data: MuapData, n_jobs: int, device: str) -> list:
    """Fit the single generators ``jobs`` (unfitted estimators) on the training units: in a spawn
    process pool of up to ``n_jobs`` workers on the CPU, else one after another in this process."""
    import torch

    tr, va = data.indices("train"), data.indices("val")
    payload = (data.conditions[tr], data.muaps[tr], data.conditions[va], data.muaps[va])
    workers = min(int(n_jobs), len(jobs))
    if workers <= 1 or str(device) != "cpu":
        return [_fit_one((e, *payload)) for e in jobs]
    import multiprocessing as mp
    import os
    import pickle
    from concurrent.futures import ProcessPoolExecutor

    from ..._worker import bootstrap

    # the workers die with this process (a killed run leaves no training behind)
    blob = pickle.dumps((_worker_threads, (torch.get_num_threads(),)), protocol=pickle.HIGHEST_PROTOCOL)
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                             initializer=bootstrap, initargs=(os.getpid(), blob)) as pool:
        return list(pool.map(_fit_one, [(e, *payload) for e in jobs]))


def _variant(adversarial: bool) -> str:
    return "vae_gan" if adversarial else "vae"


def _primary_variant(cfg: MuapGeneratorConfig) -> str:
    return _variant(bool(cfg.model.params.get("adversarial", False)))


#: held-out regions reported per variant: (set, region) -> label
REGIONS = {("interpolation", "slab"): "slab", ("interpolation", "random"): "random_units",
           ("extrapolation", "band"): "extrapolation_band"}


def _log_progress():
    """A progress callback that logs every ~10 % of the numerical MUAPs (the slow part of prepare)."""
    state = {"next": 0.1, "t0": time.perf_counter()}

    def progress(done: int, total: int) -> None:
        if done >= state["next"] * total or done == total:
            log.info("numerical MUAPs: %d/%d (%.0f s)", done, total, time.perf_counter() - state["t0"])
            state["next"] = done / total + 0.1

    return progress


def _nearest(query: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Index of the nearest reference row (Euclidean, unit condition space) for every query row."""
    from scipy.spatial import cKDTree

    return cKDTree(ref).query(query, k=1)[1]


def _speed(data: MuapData, gen, ev: MuapEvaluateConfig, seed: int) -> dict[str, float]:
    """MUAPs/s of the numerical model and of the batched generator, timed back to back."""
    import torch

    from ...simulate.numerical import numerical_muaps

    rng = np.random.default_rng(seed)
    lo = np.array([data.condition_ranges[n][0] for n in data.condition_names])
    hi = np.array([data.condition_ranges[n][1] for n in data.condition_names])
    cond_num = lo + rng.random((ev.speed_numerical_n + 1, len(lo))) * (hi - lo)
    cond_gen = lo + rng.random((ev.speed_generator_n, len(lo))) * (hi - lo)
    numerical_muaps(cond_num[:1])  # warm-up: builds the kernel table once per process
    threads = torch.get_num_threads()
    # one thread for the generator too: the numerical model is single-process NumPy
    torch.set_num_threads(1)
    try:
        gen.generate(cond_gen[: min(64, len(cond_gen))])  # warm-up
        t0 = time.perf_counter()
        numerical_muaps(cond_num[1:])
        t_num = time.perf_counter() - t0
        t0 = time.perf_counter()
        gen.generate(cond_gen, batch_size=ev.speed_batch_size)
        t_gen = time.perf_counter() - t0
    finally:
        torch.set_num_threads(threads)
    num_rate = ev.speed_numerical_n / t_num
    gen_rate = ev.speed_generator_n / t_gen
    return {"numerical_muaps_per_s": num_rate, "generator_muaps_per_s": gen_rate, "speedup": gen_rate / num_rate,
            "torch_threads": 1.0}


def _unit_scores(data: MuapData, variant: str, set_name: str, idx: np.ndarray,
                 pred: np.ndarray) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Score generated MUAPs ``pred`` (n, rows, cols, times) of the held-out units ``idx`` against the numerical ones.

    Returns
    -------
    rows : DataFrame
        One row per unit: model, variant, subject (``MU#####``), unit, set, region, nrmse, rel_rmse (nRMSE over
        that of a flat prediction) and nrmse_zero_baseline (the flat prediction's).
    err, err_zero : ndarray (n,)
        The nRMSE of ``pred`` and of the flat prediction.
    """
    truth = data.muaps[idx]
    err = nrmse(pred, truth)
    err_zero = nrmse(np.zeros_like(truth), truth)
    rows = pd.DataFrame({"model": MODEL_NAME, "variant": variant, "subject": [f"MU{i:05d}" for i in idx], "unit": idx,
                         "set": set_name, "region": data.region[idx], "nrmse": err, "rel_rmse": err / err_zero,
                         "nrmse_zero_baseline": err_zero})
    return rows, err, err_zero


def _describe_split(data: MuapData) -> dict[str, int]:
    out = {s: int((data.split == s).sum()) for s in ("train", "val", "interpolation", "extrapolation")}
    out["interpolation_slab"] = int(((data.split == "interpolation") & (data.region == "slab")).sum())
    out["interpolation_random"] = int(((data.split == "interpolation") & (data.region == "random")).sum())
    return out


def _nrmse_stats(v: np.ndarray) -> dict[str, Any]:
    v = np.asarray(v, dtype=float)
    if v.size == 0:
        return {"n": 0}
    edges = np.linspace(0.0, max(0.5, float(np.percentile(v, 99))), 26)
    hist, _ = np.histogram(np.clip(v, 0, edges[-1]), bins=edges)
    return {
        "n": int(v.size), "mean": float(v.mean()), "sd": float(v.std(ddof=1)) if v.size > 1 else 0.0,
        "median": float(np.median(v)),
        "percentiles": {str(p): float(np.percentile(v, p)) for p in (5, 25, 50, 75, 90, 95)},
        "fraction_le_0.10": float(np.mean(v <= 0.10)),
        "histogram": {"edges": edges.tolist(), "counts": hist.tolist()},
    }


def _variant_table(preds: pd.DataFrame, seed: int = 0) -> dict[str, dict[str, Any]]:
    """Per variant and held-out region (:data:`REGIONS`): mean nRMSE (95 % CI over units) and
    mean RMSE / RMS(target), each unit averaged over folds first (units are the samples)."""
    out: dict[str, dict[str, Any]] = {}
    for v, sub in preds.groupby("variant", sort=False):
        table = {}
        for (set_name, region), label in REGIONS.items():
            r = sub[(sub["set"] == set_name) & (sub["region"] == region)]
            if r.empty:
                continue
            per_unit = r.groupby("unit")[["nrmse", "rel_rmse"]].mean()
            e = per_unit["nrmse"].to_numpy()
            # one unit has no spread to bootstrap: null, not NaN (NaN is not JSON and read as a number)
            ci = list(bootstrap_mean(e, n_boot=2000, seed=seed)[1:]) if len(e) >= 2 else None
            table[label] = {"n": int(len(per_unit)), "nrmse_mean": float(e.mean()), "nrmse_ci95": ci,
                            "nrmse_median": float(np.median(e)), "rel_rmse_mean": float(per_unit["rel_rmse"].mean())}
        out[str(v)] = table
    return out


def _twin_chunk(args: tuple[np.ndarray, int]) -> np.ndarray:
    """Numerical MUAPs of ``cond`` rows, each unit's fibres placed by ``default_rng(layout_seed)``
    (the model's own layout is ``default_rng(0)``; a process-pool worker)."""
    from ...simulate.numerical import numerical_muaps

    cond, layout_seed = args
    return np.concatenate([numerical_muaps(c[None, :], rng=np.random.default_rng(layout_seed)) for c in cond])


def count_twin_conditions(conditions: np.ndarray, names: Sequence[str],
                          ranges: dict[str, tuple[float, float]]) -> np.ndarray:
    """The nearest conditions that change the numerical model's (integer) fibre count.

    The model places ``round(exp(fibre_number_log))`` fibres. With the nested layout
    (the default) one fibre more adds one fibre's potential; with the older
    ``"redraw"`` layout the count shifted every later draw of the layout stream, so one
    fibre more re-drew the whole layout. Returns the conditions with
    ``fibre_number_log = log(n + 1)`` (``log(n − 1)`` at the top of its range), all
    else equal: (n, 6) in physical units.
    """
    c = np.array(conditions, dtype=float)
    j = list(names).index("fibre_number_log")
    lo, hi = ranges["fibre_number_log"]
    n = np.maximum(np.round(np.exp(c[:, j])), 1.0)
    up = np.log(n + 1.0)
    down = np.log(np.maximum(n - 1.0, 1.0))
    c[:, j] = np.where(up <= hi, up, down)
    c[:, j] = np.clip(c[:, j], lo, hi)
    return c


def layout_floor(data: MuapData, n_units: int, seed: int, n_jobs: int = 1,
                 cache_dir: Path | None = None) -> dict[str, Any] | None:
    """The numerical model's own error floor on held-out interpolation units.

    For up to ``n_units`` units per interpolation region (random, seeded subset), two
    more numerical MUAPs: (a) ``other_layout`` — the same conditions, fibres placed
    with another random stream; (b) ``count_twin`` — :func:`count_twin_conditions`
    (nearly identical conditions: ``fibre_number_log`` moved by ``log((n+1)/n)``).
    Each is scored against the held-out MUAP with the reported metrics (nRMSE,
    RMSE / RMS(target)). What bounds a deterministic generator depends on the layout
    scheme of the numerical model (``layout`` in each entry, see
    :class:`~myoflow.simulate.numerical.NumericalSetup`):

    * ``"redraw"``: one fibre more re-draws the layout, so in condition space the layout
      is noise; the best a generator can do is the mean over layouts, whose expected
      squared error is half that of two independent layouts: ``other_layout / √2``;
    * ``"nested"``: the MUAP is a fixed function of the conditions, smooth except for a
      step of one fibre's potential where the integer count changes (``count_twin``);
      a smooth function through such a staircase leaves a saw-tooth of RMS
      ``step / √12``: ``count_twin / √12``. ``other_layout`` then only says how much
      the layout matters, not what a generator can reach.

    Returns
    -------
    dict or None
        Per region: unit indices and per-unit errors of both twins; None when the
        data are not from the numerical model.
    """
    if n_units <= 0 or data.info.get("source") != "simulate":
        return None
    rng = np.random.default_rng(seed + 7919)
    picks = {}
    for region in ("slab", "random"):
        idx = np.flatnonzero((data.split == "interpolation") & (data.region == region))
        if idx.size:
            picks[region] = np.sort(rng.choice(idx, size=min(n_units, idx.size), replace=False))
    if not picks:
        return None
    every = np.concatenate(list(picks.values()))
    path = None
    if cache_dir is not None and data.info.get("cache_key"):
        from ...cache import cache_key

        key = cache_key({"muaps": data.info["cache_key"], "units": every.tolist(), "layout_seed": 1, "version": 1})
        path = Path(cache_dir) / "muap_generator" / f"floor-{key}.npz"
    twins = None
    if path is not None and path.is_file():
        with np.load(path, allow_pickle=False) as z:
            twins = {"other_layout": z["other_layout"], "count_twin": z["count_twin"]}
    if twins is None:
        cond = data.conditions[every]
        jobs = [(cond, 1), (count_twin_conditions(cond, data.condition_names, data.condition_ranges), 0)]
        chunks = [(c[k], s) for c, s in jobs for k in np.array_split(np.arange(len(c)), max(1, 4 * n_jobs))]
        if n_jobs > 1:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(max_workers=n_jobs, mp_context=mp.get_context("spawn")) as pool:
                parts = list(pool.map(_twin_chunk, chunks))
        else:
            parts = [_twin_chunk(c) for c in chunks]
        half = len(parts) // 2
        shape = (len(every),) + data.muaps.shape[1:]
        twins = {"other_layout": np.concatenate(parts[:half]).reshape(shape),
                 "count_twin": np.concatenate(parts[half:]).reshape(shape)}
        if path is not None:
            from ..._atomic import atomic_path

            with atomic_path(path, suffix=".npz") as tmp:
                with open(tmp, "wb") as fh:
                    np.savez(fh, **twins)
    from ...simulate.numerical import DEFAULT_SETUP

    layout = DEFAULT_SETUP.fibre_layout  # the setup simulate_training_set used
    truth = data.muaps[every]
    zero = nrmse(np.zeros_like(truth), truth)
    out: dict[str, Any] = {}
    start = 0
    for region, idx in picks.items():
        sl = slice(start, start + len(idx))
        start += len(idx)
        entry: dict[str, Any] = {"units": idx.tolist(), "layout": layout}
        for name, tw in twins.items():
            e = nrmse(tw[sl], truth[sl])
            entry[name] = {"nrmse": e.tolist(), "rel_rmse": (e / zero[sl]).tolist()}
        out[region] = entry
    return out


def _floor_table(floor: dict[str, Any] | None, conditions: np.ndarray | None = None,
                 names: Sequence[str] = ()) -> dict[str, Any]:
    """Mean floor figures per reported region label (:data:`REGIONS`); with ``conditions`` also per
    fibre-count band (the floor is largest for small units)."""
    if not floor:
        return {}
    labels = {"slab": "slab", "random": "random_units"}
    out = {}
    for region, e in floor.items():
        ol, ct = e["other_layout"], e["count_twin"]
        bands = []
        if conditions is not None and "fibre_number_log" in names:
            n_f = np.round(np.exp(conditions[np.asarray(e["units"], int), list(names).index("fibre_number_log")]))
            for lo_n, hi_n in ((1, 10), (10, 50), (50, 200), (200, 10 ** 6)):
                m = (n_f >= lo_n) & (n_f < hi_n)
                if m.any():
                    bands.append({"fibres_from": lo_n, "fibres_below": hi_n, "n": int(m.sum()),
                                  "other_layout_rel_rmse_mean": float(np.mean(np.asarray(ol["rel_rmse"])[m])),
                                  "count_twin_rel_rmse_mean": float(np.mean(np.asarray(ct["rel_rmse"])[m]))})
        # entries from before the nested layout carry no "layout": they were "redraw"
        layout = e.get("layout", "redraw")
        divisor, base = (np.sqrt(2.0), ol) if layout == "redraw" else (np.sqrt(12.0), ct)
        out[labels.get(region, region)] = {
            "n": len(e["units"]), "layout": layout,
            "other_layout_nrmse_mean": float(np.mean(ol["nrmse"])),
            "other_layout_rel_rmse_mean": float(np.mean(ol["rel_rmse"])),
            "count_twin_nrmse_mean": float(np.mean(ct["nrmse"])),
            "count_twin_rel_rmse_mean": float(np.mean(ct["rel_rmse"])),
            # redraw: the mean over layouts as the best deterministic prediction (per unit, half the
            # squared error of two independent layouts: pair error / sqrt(2)); nested: the saw-tooth a
            # smooth function leaves on the fibre-count staircase (step / sqrt(12)); averaged over
            # units like the reported means (see layout_floor)
            "deterministic_floor_rel_rmse": float(np.mean(base["rel_rmse"]) / divisor),
            "deterministic_floor_nrmse": float(np.mean(base["nrmse"]) / divisor),
            "deterministic_floor_rule": ("other_layout / sqrt(2)" if layout == "redraw"
                                         else "count_twin / sqrt(12)"),
            "by_fibre_count": bands,
        }
    return out


def _too_few_templates(path, n: int, what: str, way: str, counts: dict | None = None) -> DataError:
    """The error for a template folder the condition-region split cannot use, naming the folder and the way out.

    ``way`` names the split settings that would help; ``counts`` (train/val/interpolation/extrapolation units)
    is added when the split was made.
    """
    got = "" if counts is None else " (" + ", ".join(f"{v} {k}" for k, v in counts.items()
                                                   if k in ("train", "val", "interpolation", "extrapolation")) + ")"
    return DataError(f"the folder's {n} MUAP template(s) {what} after the condition-region split{got}: bring "
                     f"more templates (tens, spread over the conditions), or {way}", str(path))


# --------------------------------------------------------------------- pipeline
class MuapGeneratorPipeline(Pipeline):
    """BioMime-style conditional MUAP generator vs the numerical volume-conductor model."""

    name = "muap-generator"
    config_class = MuapGeneratorConfig
    description = "Conditional VAE mimicking the numerical MUAP model (BioMime, arXiv 2211.01856)"

    # ------------------------------------------------------------------ data
    def prepare(self, cfg: MuapGeneratorConfig, cache_dir: Path) -> MuapData:
        d, s = cfg.data, cfg.split
        if d.source == "simulate":
            raw = simulate_training_set(d.n_train_pool, d.n_extrapolation,
                                        extrapolation_conditions=s.extrapolation_conditions,
                                        extrapolation_band=s.extrapolation_band, seed=d.seed, sampler=d.sampler,
                                        cache_dir=cache_dir, n_jobs=d.n_jobs, progress=_log_progress())
        else:
            raw = load_folder_set(Path(d.path))
        try:
            split, region = assign_split(
                raw["conditions"], raw["names"], raw["ranges"],
                extrapolation_conditions=s.extrapolation_conditions, extrapolation_band=s.extrapolation_band,
                interpolation_conditions=s.interpolation_conditions, interpolation_slab=s.interpolation_slab,
                interpolation_random=s.interpolation_random, val_fraction=s.val_fraction, seed=d.seed)
        except ConfigError as exc:
            if d.source != "folder" or "training MUAPs" not in str(exc):
                raise
            # a lab's handful of templates: data.n_train_pool (the advice) sizes simulated sets only
            raise _too_few_templates(d.path, len(raw["conditions"]), "leave fewer than 2 for training",
                                     "narrow split.extrapolation_band, split.interpolation_slab, "
                                     "split.interpolation_random and split.val_fraction") from None
        pp = peak_to_peak(raw["muaps"])
        if (pp <= 0).any():
            bad = int(np.argmax(pp <= 0))
            raise DataError(f"MUAP {bad} is flat (peak-to-peak 0); the generator cannot learn its shape",
                            str(d.path) if d.source == "folder" else None)
        data = MuapData(conditions=np.asarray(raw["conditions"], float), muaps=raw["muaps"], split=split,
                        region=region, fs=raw["fs"], positions_mm=np.asarray(raw["positions_mm"], float),
                        condition_names=tuple(raw["names"]), condition_ranges=dict(raw["ranges"]),
                        numerical_ms_per_muap=raw["ms_per_muap"], real_templates=_real_templates(cfg),
                        info={"source": d.source, "cache_key": raw.get("cache_key"),
                              "cache_path": raw.get("cache_path")})
        data.info["split"] = _describe_split(data)
        if (data.split == "interpolation").sum() == 0:
            if d.source == "folder":
                raise _too_few_templates(d.path, len(data.split), "leave none in the interpolation region",
                                         "widen split.interpolation_slab or split.interpolation_random",
                                         data.info["split"])
            raise ConfigError("the split left no interpolation units; widen split.interpolation_slab or "
                              "split.interpolation_random")
        data.info["floor"] = layout_floor(data, cfg.evaluate.floor_units, d.seed, d.n_jobs, cache_dir)
        return data

    def folds(self, cfg: MuapGeneratorConfig, data: MuapData) -> list[Fold]:
        n = cfg.evaluate.n_seeds
        if n < 1:
            raise ConfigError(f"evaluate.n_seeds must be >= 1, got {n}")
        return [Fold(id=f"seed{k}", condition="all", payload={"replicate": k}) for k in range(n)]

    # --------------------------------------------------------------- export
    def example_inputs(self, cfg: MuapGeneratorConfig, model_name: str, extras: dict[str, Any]) -> tuple:
        gc = extras["generator_config"]
        mid = [(lo + hi) / 2 for lo, hi in (gc["condition_ranges"][n] for n in gc["condition_names"])]
        return (np.asarray([mid], dtype=np.float32), np.zeros((1, int(gc["latent_dim"])), dtype=np.float32))

    # ------------------------------------------------------------------ fold
    def run_fold(self, cfg: MuapGeneratorConfig, data: MuapData, fold: Fold, ctx: FoldContext) -> FoldResult:
        import torch

        threads = torch.get_num_threads()
        if cfg.compute.torch_threads > 0:
            torch.set_num_threads(cfg.compute.torch_threads)
        try:
            return self._run_fold(cfg, data, fold, ctx)
        finally:
            torch.set_num_threads(threads)

    def _run_fold(self, cfg: MuapGeneratorConfig, data: MuapData, fold: Fold, ctx: FoldContext) -> FoldResult:
        from ...preprocess.muap_templates import compare_shape_statistics, shape_statistics

        ev = cfg.evaluate
        tr, va = data.indices("train"), data.indices("val")
        primary = _primary_variant(cfg)
        variants = [primary] + ([_variant(primary == "vae")] if ev.compare_adversarial else [])
        from sklearn.base import clone

        from ...models.muap_generator import member_seed

        # the same units, seed and settings; only the adversarial switch differs. Each variant is
        # model.params.members single generators (member k: seed member_seed(fold seed, k), as the
        # estimator's own members fit), trained side by side and averaged
        wholes = {v: _estimator(cfg, data, ctx.seed, ctx.device, adversarial=(v == "vae_gan")) for v in variants}
        jobs = [(v, clone(e).set_params(members=1, seed=member_seed(ctx.seed, k)))
                for v, e in wholes.items() for k in range(int(e.members))]
        singles = _fit_generators([e for _, e in jobs], data, cfg.compute.n_jobs, ctx.device)
        fitted = {v: e.set_members([s for (w, _), s in zip(jobs, singles) if w == v]) for v, e in wholes.items()}
        est = fitted[primary]
        gen = est.generator_
        metrics: dict[str, float] = {"train_units": float(len(tr)), "val_units": float(len(va)),
                                     "best_epoch": float(est.history_.best_epoch),
                                     "train_seconds": float(est.history_.seconds)}
        lo = np.array([data.condition_ranges[n][0] for n in data.condition_names])
        hi = np.array([data.condition_ranges[n][1] for n in data.condition_names])
        unit_c = (data.conditions - lo) / (hi - lo)
        rows = []
        for v, e in fitted.items():
            if v == primary:
                continue
            metrics[f"{v}_best_epoch"] = float(e.history_.best_epoch)
            metrics[f"{v}_train_seconds"] = float(e.history_.seconds)
            for set_name in ("interpolation", "extrapolation"):
                idx = data.indices(set_name)
                if idx.size == 0:
                    continue
                rows.append(_unit_scores(data, v, set_name, idx, e.generator_.generate(data.conditions[idx]))[0])
        examples: dict[str, np.ndarray] = {}
        own_rows = []
        for set_name in ("interpolation", "extrapolation"):
            idx = data.indices(set_name)
            if idx.size == 0:
                continue
            pred = gen.generate(data.conditions[idx])
            truth = data.muaps[idx]
            # baselines: a flat prediction (nRMSE = RMS/p-p of the target: MUAPs are sparse on the
            # grid, so this is already small) and the nearest training unit in condition space
            df, err, err_zero = _unit_scores(data, primary, set_name, idx, pred)
            err_nn = nrmse(data.muaps[tr[_nearest(unit_c[idx], unit_c[tr])]], truth)
            rel = err / err_zero  # RMSE / RMS(target): 1 = no better than a flat line
            metrics[f"{set_name}_nrmse_mean"] = float(err.mean())
            metrics[f"{set_name}_nrmse_median"] = float(np.median(err))
            metrics[f"{set_name}_rel_rmse_mean"] = float(rel.mean())
            metrics[f"{set_name}_zero_baseline_nrmse_mean"] = float(err_zero.mean())
            metrics[f"{set_name}_nearest_unit_nrmse_mean"] = float(err_nn.mean())
            st_t = shape_statistics(truth, data.positions_mm, data.fs)
            st_p = shape_statistics(pred, data.positions_mm, data.fs)
            df["nrmse_nearest_unit"] = err_nn
            df["pearson_r"] = pearson_r(pred, truth)
            for j, name in enumerate(data.condition_names):
                df[name] = data.conditions[idx, j]
            for col in st_t.columns:
                df[f"truth_{col}"] = st_t[col].to_numpy()
                df[f"pred_{col}"] = st_p[col].to_numpy()
            own_rows.append(df)
            # keep a few held-out units for the figure: the median-error one and the largest
            k = min(ev.n_figure_examples, idx.size)
            if k:
                order = np.argsort(err)
                pick = [order[len(order) // 2]] + list(np.argsort(-peak_to_peak(truth))[: k - 1])
                pick = list(dict.fromkeys(int(p) for p in pick))[:k]
                examples[f"{set_name}_units"] = idx[pick]
                examples[f"{set_name}_numerical"] = truth[pick]
                examples[f"{set_name}_generated"] = pred[pick]
                examples[f"{set_name}_conditions"] = data.conditions[idx[pick]]
                examples[f"{set_name}_nrmse"] = err[pick]
        own = pd.concat(own_rows, ignore_index=True)
        preds = pd.concat([own, *rows], ignore_index=True)  # the configured variant's rows first
        speed = _speed(data, gen, ev, ctx.seed)
        metrics.update(speed)
        extras: dict[str, Any] = {
            "generator_config": gen.config(), "split": data.info.get("split", {}), "speed": speed,
            "history": {"val_nrmse": est.history_.val_loss},
            "primary_variant": primary, "variants": list(fitted),
            "variant_history": {v: {"val_nrmse": e.history_.val_loss, "best_epoch": e.history_.best_epoch,
                                    "discriminator_loss": e.history_.alternate_loss.get("discriminator", []),
                                    # ensembles (model.params.members > 1): every member's, member 0 above
                                    "member_best_epochs": [h.best_epoch for h in e.member_histories_],
                                    "member_train_seconds": [h.seconds for h in e.member_histories_]}
                                for v, e in fitted.items()},
            "models": {MODEL_NAME: {"estimator": estimator_config(est)}},
            "n_parameters": gen.n_parameters(), "n_parameters_decoder": gen.n_parameters(decoder_only=True),
            "condition_names": list(data.condition_names),
        }
        # shape statistics vs real templates
        if data.real_templates is not None:
            rt = data.real_templates
            real = shape_statistics(rt["muaps"], rt["positions_mm"], rt["fs"])
            test = own
            big = test["truth_ptp_uv"] >= ev.decomposable_ptp_uv
            stats = {"real": real}
            for label, mask in (("all", np.ones(len(test), bool)), ("decomposable", big.to_numpy())):
                stats[f"numerical_{label}"] = test.loc[mask, [f"truth_{c}" for c in real.columns]].set_axis(
                    real.columns, axis=1)
                stats[f"generated_{label}"] = test.loc[mask, [f"pred_{c}" for c in real.columns]].set_axis(
                    real.columns, axis=1)
            stats = {k: v for k, v in stats.items() if len(v)}
            extras["shape_vs_real"] = compare_shape_statistics(stats, reference="real")
            extras["real_shape_statistics"] = real.to_dict(orient="list")
        # figure arrays and an exported, reloadable generator in the fold folder
        workdir = Path(ctx.workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        from ..._atomic import atomic_path

        with atomic_path(workdir / "examples.npz", suffix=".npz") as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, positions_mm=data.positions_mm, fs=np.float64(data.fs),
                         condition_names=np.asarray(data.condition_names), **examples)
        if ev.export_onnx:
            from ...models.muap_generator import export_generator_onnx, save_generator

            save_generator(est, workdir / "generator")
            try:
                metrics["onnx_max_rel_diff"] = export_generator_onnx(gen, workdir / "generator" / "generator.onnx")
            except ImportError as exc:  # onnxruntime is an optional extra
                log.warning("ONNX export skipped: %s", exc)
        curves = {MODEL_NAME: {"train_loss": est.history_.train_loss, "val_nrmse": est.history_.val_loss}}
        for v, e in fitted.items():
            if v != primary:
                curves[f"{MODEL_NAME}_{v}"] = {"train_loss": e.history_.train_loss, "val_nrmse": e.history_.val_loss}
        return FoldResult(fold.id, fold.condition, {MODEL_NAME: metrics}, preds, curves=curves,
                          state_dicts={MODEL_NAME: estimator_tensors(est)}, extras=extras)

    # ------------------------------------------------------------- summary
    def summarize(self, cfg: MuapGeneratorConfig, data: MuapData, results: list[FoldResult]) -> dict[str, Any]:
        if not results:
            return {}
        every = pd.concat([r.predictions for r in results if len(r.predictions)], ignore_index=True)
        primary = results[0].extras.get("primary_variant") or _primary_variant(cfg)
        if "variant" not in every.columns:  # runs from before the VAE / VAE+GAN comparison
            every = every.assign(variant=primary)
        preds = every[every["variant"] == primary]
        names = list(results[0].extras.get("condition_names") or data.condition_names)
        out: dict[str, Any] = {"n_folds": len(results), "split": results[0].extras.get("split", {}),
                               "primary_variant": primary, "variants": _variant_table(every, cfg.seed)}
        floor = (_floor_table(data.info.get("floor"), data.conditions, data.condition_names)
                 if data is not None else {})
        if floor:
            out["numerical_floor"] = floor
        for set_name in ("interpolation", "extrapolation"):
            sub = preds[preds["set"] == set_name]
            if sub.empty:
                continue
            # average over seeds per unit first: units are the independent samples
            per_unit = sub.groupby("unit")["nrmse"].mean()
            entry = _nrmse_stats(per_unit.to_numpy())
            # resampling motor units (the independent samples here)
            if len(per_unit) >= 2:
                entry["ci95"] = list(bootstrap_mean(per_unit.to_numpy(), n_boot=2000, seed=cfg.seed)[1:])
            else:
                entry["ci95"] = [float("nan"), float("nan")]
            entry["pearson_r_median"] = float(sub["pearson_r"].median())
            entry["rel_rmse_mean"] = float(sub.groupby("unit")["rel_rmse"].mean().mean())
            entry["baselines"] = {
                "zero_prediction_nrmse_mean": float(sub.groupby("unit")["nrmse_zero_baseline"].mean().mean()),
                "nearest_training_unit_nrmse_mean": float(sub.groupby("unit")["nrmse_nearest_unit"].mean().mean()),
            }
            entry["by_region"] = {str(k): float(v.groupby("unit")["nrmse"].mean().mean())
                                  for k, v in sub.groupby("region")}
            bands = {}
            for name in names:
                if name not in sub.columns:
                    continue
                q = pd.qcut(sub[name], 4, duplicates="drop")
                g = sub.groupby(q, observed=True)["nrmse"].mean()
                bands[name] = [{"low": float(iv.left), "high": float(iv.right), "nrmse_mean": float(v)}
                               for iv, v in g.items()]
            entry["by_condition_band"] = bands
            # amplitude accuracy (the decoder predicts it separately)
            ratio = sub["pred_ptp_uv"] / sub["truth_ptp_uv"]
            entry["ptp_ratio_median"] = float(ratio.median())
            entry["ptp_abs_log_error_median"] = float(np.median(np.abs(np.log(ratio))))
            out[set_name] = entry
        speeds = pd.DataFrame([r.extras.get("speed", {}) for r in results])
        if len(speeds.columns):
            out["speed"] = {c: float(speeds[c].mean()) for c in speeds.columns}
        diffs = [r.metrics.get(MODEL_NAME, {}).get("onnx_max_rel_diff") for r in results]
        diffs = [d for d in diffs if d is not None]
        if diffs:
            out["onnx_max_rel_diff"] = float(max(diffs))
        if "shape_vs_real" in results[0].extras:
            out["shape_vs_real"] = results[0].extras["shape_vs_real"]
            out["real_shape_statistics"] = results[0].extras.get("real_shape_statistics")
        out["n_parameters"] = results[0].extras.get("n_parameters")
        out["generator_config"] = results[0].extras.get("generator_config")
        return out

    def headline(self, summary: dict[str, Any]) -> list[Headline]:
        rows = []
        labels = {"vae": "VAE", "vae_gan": "VAE+GAN"}
        for v, table in (summary.get("variants") or {}).items():
            for region, goal in (("slab", "; goals <= 0.05 nRMSE, <= 0.10 RMSE/RMS"), ("random_units", ""),
                                 ("extrapolation_band", "")):
                e = table.get(region)
                if not e or not e.get("n"):
                    continue
                ci = e.get("nrmse_ci95")
                ci = tuple(ci) if ci is not None and np.isfinite(ci).all() else None
                units = dict(n=int(e["n"]), n_of="held-out units")
                rows.append(Headline(f"{labels.get(v, v)} {region}: nRMSE", e["nrmse_mean"], ci, None,
                                     f"{e['n']} held-out units{goal}", **units))
                rows.append(Headline(f"{labels.get(v, v)} {region}: RMSE / RMS(target)", e["rel_rmse_mean"],
                                     None, None, "1 = no better than a flat line", **units))
        for set_name, paper, note in (
            ("interpolation", "high accuracy (qualitative)", "mean nRMSE on held-out units; goal <= 0.10"),
            ("extrapolation", None, "mean nRMSE, band outside the training range"),
        ):
            e = summary.get(set_name)
            if e and e.get("n"):
                ci = tuple(e["ci95"]) if e.get("ci95") and np.isfinite(e["ci95"]).all() else None
                # the held-out units every row of the set is scored on (5 templates leave 1 per set)
                units = dict(n=int(e["n"]), n_of="held-out units")
                rows.append(Headline(f"{set_name} nRMSE", e["mean"], ci, paper, note, **units))
                rows.append(Headline(f"{set_name} nRMSE <= 0.10 (fraction)", e["fraction_le_0.10"], None, None,
                                     "units generated within the 0.10 goal", **units))
                b = e.get("baselines", {})
                if b:
                    rows.append(Headline(f"{set_name} nRMSE, flat-line baseline", b["zero_prediction_nrmse_mean"],
                                         None, None, "predicting 0 everywhere (MUAPs are sparse on the grid)",
                                         **units))
                    rows.append(Headline(f"{set_name} nRMSE, nearest training unit",
                                         b["nearest_training_unit_nrmse_mean"], None, None,
                                         "look-up of the closest simulated unit in condition space", **units))
                    rows.append(Headline(f"{set_name} RMSE / RMS(target)", e["rel_rmse_mean"], None, None,
                                         "stricter: 1 = no better than a flat line", **units))
        for region, f in (summary.get("numerical_floor") or {}).items():
            units = dict(n=int(f["n"]), n_of="held-out units")
            rows.append(Headline(f"numerical floor {region}: RMSE / RMS, other fibre layout", f["other_layout_rel_rmse_mean"],
                                 None, None, f"{f['n']} held-out units: a 2nd numerical MUAP at the same conditions",
                                 **units))
            rows.append(Headline(f"numerical floor {region}: RMSE / RMS, fibre count +-1", f["count_twin_rel_rmse_mean"],
                                 None, None, "nearly identical conditions (fibre_number_log moved by log((n+1)/n))",
                                 **units))
            rule = f.get("deterministic_floor_rule", "other_layout / sqrt(2)")
            rows.append(Headline(f"numerical floor {region}: best deterministic RMSE / RMS", f["deterministic_floor_rel_rmse"],
                                 None, None, f"{rule} ({f.get('layout', 'redraw')} fibre layout); goal 0.10", **units))
        sp = summary.get("speed")
        if sp:
            rows.append(Headline("speed-up vs numerical model (x)", sp["speedup"], None, "large cost cut",
                                 f"generator {sp['generator_muaps_per_s']:.0f} vs numerical "
                                 f"{sp['numerical_muaps_per_s']:.1f} MUAPs/s, CPU; goal >= 100"))
        sv = summary.get("shape_vs_real")
        if sv:
            for src in ("numerical_decomposable", "generated_decomposable"):
                if src in sv:
                    rows.append(Headline(f"{src.split('_')[0]} vs real: median p-p rel. diff",
                                         sv[src]["ptp_uv"]["relative_median_diff"], None, None,
                                         "units >= decomposable_ptp_uv vs 5 real spike-triggered averages"))
        return rows

    # ------------------------------------------------------------- figures
    def figures(self, cfg: MuapGeneratorConfig, summary: dict[str, Any], predictions: pd.DataFrame,
                run_dir: Path) -> list[tuple[str, Path]]:
        from ...report.figures.muap_generator import make_figures

        every = predictions
        if "variant" in predictions.columns:  # the figures show the configured (exported) variant
            predictions = predictions[predictions["variant"] == summary.get("primary_variant",
                                                                              _primary_variant(cfg))]
        return make_figures(summary, predictions, Path(run_dir), all_variants=every)
