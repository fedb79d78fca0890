"""The fold runner: executes a pipeline's folds and writes the run directory.

Run directory layout::

    RUN_DIR/
      config.yaml              resolved config (a different one is never overwritten)
      run_info.json            versions, machine, timings (not part of the metrics)
      data_fingerprint.json    the dataset folders read and their contents' fingerprints (checked by --resume)
      folds/<fold_id>/         one folder per finished fold:
          predictions.parquet, curves.json, extras.json, <model>.safetensors,
          result.json          written LAST: its presence marks the fold finished
      metrics.json             summary (pipeline), per-condition mean/95 % CI over folds, per-fold metrics, headline
      predictions.parquet      all folds' predictions with fold and condition columns
      figures/ figures.json    pipeline figures + training curves
      report.html              self-contained report

Every file is written atomically. ``resume=True`` skips folds whose
``result.json`` exists; since each fold is seeded from (config seed, fold id)
and metrics are always computed from what is on disk, a resumed run ends with
the same ``metrics.json`` as an uninterrupted one.
"""
from __future__ import annotations

import json
import logging
import math
import os
import platform
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd
import yaml

from .._atomic import atomic_path, atomic_write_json, atomic_write_text
from ..config import ExperimentConfig, to_dict
from ..errors import ConfigError, DataError, MyoflowError
from ..evaluate.bootstrap import DEFAULT_CI_METHOD
from ..cache import default_cache_dir
from ..train.seeding import derive_seed
from ._rundir import check_fold_id, check_run_dir, lock_run_dir, remove_partial_writes
from .base import Fold, FoldContext, FoldResult, Pipeline
from .registry import get_pipeline
from .quickrun import user_headline

__all__ = ["run_experiment", "default_cache_dir", "load_fold_results", "finalize_run", "RunSummary", "order_folds"]

log = logging.getLogger(__name__)


class RunSummary(dict):
    """metrics.json content plus ``run_dir``."""


# ------------------------------------------------------------------ config file
def _write_config(cfg: ExperimentConfig, run_dir: Path, resume: bool) -> None:
    text = yaml.safe_dump(to_dict(cfg), sort_keys=False)
    path = run_dir / "config.yaml"
    if path.exists():
        try:
            old = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            old = None
        if old != text and next((run_dir / "folds").glob("*/result.json"), None) is None:
            # A run that stopped before any fold finished (bad data path, a typo in the config) holds
            # nothing to lose: let the user fix the config and re-run into the same --out.
            log.warning("%s: replacing the config of a run that finished no fold", path)
            atomic_write_text(path, text)
            return
        if old != text:
            # Say where they differ and how that run continues: a `run PIPELINE --data DIR --set ...` run resumed
            # with one --set forgotten (or retyped) is "a different config", and the run's own config.yaml is
            # what resumes it.
            raise ConfigError(
                f"{path} holds a different config{_first_difference(old, to_dict(cfg))}; refusing to overwrite it "
                f"(to continue that run: myoflow run {path} --out {run_dir} --resume; else choose another --out "
                "directory or delete that run)"
            )
        if not resume and (run_dir / "folds").exists() and any((run_dir / "folds").iterdir()):
            raise ConfigError(f"{run_dir} already holds this run; pass --resume to continue it")
        return
    atomic_write_text(path, text)


def _first_difference(old_text: str | None, new: Mapping[str, Any]) -> str:
    """`` (train.epochs: 5 in the run, 10 here)`` for the first setting two configs differ in ('' if unknown)."""
    try:
        old = yaml.safe_load(old_text or "")
    except yaml.YAMLError:
        return ""
    if not isinstance(old, Mapping):
        return ""

    def walk(a: Any, b: Any, key: str) -> str | None:
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            for k in list(a) + [k for k in b if k not in a]:
                found = walk(a.get(k), b.get(k), f"{key}.{k}" if key else str(k))
                if found:
                    return found
            return None
        if a != b:
            return f" ({key}: {short(a)} in the run, {short(b)} here)"
        return None

    def short(v: Any) -> str:
        text = json.dumps(v, default=str)
        return text if len(text) <= 40 else text[:39] + "…"

    return walk(old, new, "") or ""


# ------------------------------------------------------------------ fold I/O
def _fold_dir(run_dir: Path, fold: Fold) -> Path:
    return run_dir / "folds" / fold.id


def _is_done(run_dir: Path, fold: Fold) -> bool:
    return (_fold_dir(run_dir, fold) / "result.json").is_file()


def _save_fold(run_dir: Path, res: FoldResult, cfg: ExperimentConfig) -> None:
    from ..train.checkpoint import save_state_dict

    fdir = run_dir / "folds" / res.fold_id
    fdir.mkdir(parents=True, exist_ok=True)
    preds = res.predictions.copy()
    preds["fold"] = res.fold_id
    preds["condition"] = res.condition
    with atomic_path(fdir / "predictions.parquet") as tmp:
        preds.to_parquet(tmp, index=False)
    atomic_write_json(fdir / "curves.json", res.curves)
    atomic_write_json(fdir / "extras.json", res.extras)
    for model, state in res.state_dicts.items():
        save_state_dict(state, fdir / f"{model}.safetensors",
                        metadata={"pipeline": cfg.pipeline, "model": model, "fold": res.fold_id})
    # Round-trip metrics through JSON so fresh and resumed runs aggregate identical floats.
    atomic_write_json(fdir / "result.json", {
        "fold_id": res.fold_id, "condition": res.condition, "metrics": res.metrics,
        "models": sorted(res.state_dicts),
    })


def load_fold_results(run_dir: Path, folds: list[Fold] | None = None) -> list[FoldResult]:
    """Read finished folds back from ``run_dir/folds`` (in ``folds`` order if given)."""
    root = Path(run_dir) / "folds"
    ids = [f.id for f in folds] if folds is not None else sorted(p.name for p in root.iterdir() if p.is_dir())
    out = []
    for fid in ids:
        fdir = root / fid
        if not (fdir / "result.json").is_file():
            continue
        try:
            meta = json.loads((fdir / "result.json").read_text())
            preds = pd.read_parquet(fdir / "predictions.parquet") if (fdir / "predictions.parquet").exists() \
                else pd.DataFrame()
            curves = json.loads((fdir / "curves.json").read_text()) if (fdir / "curves.json").exists() else {}
            extras = json.loads((fdir / "extras.json").read_text()) if (fdir / "extras.json").exists() else {}
            meta["fold_id"], meta["condition"], meta["metrics"]
        except Exception as exc:  # files are written atomically: damage here is from outside the runner
            raise DataError(f"finished fold is damaged ({type(exc).__name__}: {exc}); delete the folder and rerun "
                            "with --resume", str(fdir)) from None
        out.append(FoldResult(fold_id=meta["fold_id"], condition=meta["condition"], metrics=meta["metrics"],
                              predictions=preds, curves=curves, extras=extras))
    return out


# ------------------------------------------------------------------ execution
_WORKER: dict[str, Any] = {}


def fold_threads() -> int:
    """Torch threads per fold: ``$MYOFLOW_FOLD_THREADS`` or 1.

    The same count is used by every executor, because a different number of
    threads changes the order of floating-point reductions and so the numbers:
    with one fixed count, in-process, process-pool and Ray runs agree exactly.
    For the small sEMG models here one thread per fold is also the fastest.
    """
    try:
        return max(1, int(os.environ.get("MYOFLOW_FOLD_THREADS", "1")))
    except ValueError:
        raise ConfigError("MYOFLOW_FOLD_THREADS must be a whole number") from None


#: CPU seconds a spawned pool costs before its first fold runs: interpreter + torch + myoflow
#: import and unpickling the prepared data, per worker (measured ~3-5 s each on the 2-core dev
#: machine; rounded up because the workers start while the machine is busy with the parent).
POOL_STARTUP_S = 8.0


def pool_mode() -> str:
    """``$MYOFLOW_POOL``: ``auto`` (default), ``always`` or ``never`` use the local process pool."""
    mode = os.environ.get("MYOFLOW_POOL", "auto").strip().lower() or "auto"
    if mode not in ("auto", "always", "never"):
        raise ConfigError(f"MYOFLOW_POOL must be auto, always or never, not {mode!r}")
    return mode


def pool_pays(fold_cpu_s: float, n_left: int, workers: int) -> bool:
    """Whether a process pool for the ``n_left`` remaining folds is expected to save time.

    The cheap heuristic of ``MYOFLOW_POOL=auto``: the first fold runs in-process and its CPU
    time stands for each of the others; ``w = min(workers, n_left)`` workers save
    ``fold_cpu_s * n_left * (1 - 1/w)`` of wall time and cost ``POOL_STARTUP_S`` each on the
    critical path (they start in parallel, but on 2 shared cores not for free). The pool is
    used only if the saving is larger than twice that cost, so few, short folds (the quick
    protocols' small cohorts, the toy pipeline) never pay the start-up.
    """
    w = min(workers, n_left)
    if w <= 1:
        return False
    return fold_cpu_s * n_left * (1.0 - 1.0 / w) > 2.0 * POOL_STARTUP_S


def _worker_init(pipeline_name: str, cfg: ExperimentConfig, data: Any, threads: int) -> None:
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(max(1, threads))
    # BLAS/OpenMP pools too (NumPy, SciPy, scikit-learn): left at their default (one thread per core),
    # two pool workers on two cores run four threads, which cost the pool ~10 % against Ray (whose
    # workers get OMP_NUM_THREADS=1). Kept in _WORKER so the limit lives as long as the worker.
    _WORKER["thread_limits"] = threadpool_limits(limits=max(1, threads))
    _WORKER.update(pipeline=get_pipeline(pipeline_name), cfg=cfg, data=data)


def _run_one(fold: Fold, ctx: FoldContext, run_dir: str) -> tuple[str, dict[str, float]]:
    """Run and save one fold; return its id and its cost (wall and CPU seconds of this thread)."""
    # thread_time: the fold trains in the calling thread (one torch/BLAS thread per fold), and the
    # driver may run a fold in a side thread while a Ray cluster starts (see _execute)
    w0, c0 = time.perf_counter(), time.thread_time()
    pipe: Pipeline = _WORKER["pipeline"]
    cfg = _WORKER["cfg"]
    res = pipe.run_fold(cfg, _WORKER["data"], fold, ctx)
    _save_fold(Path(run_dir), res, cfg)
    return fold.id, {"wall_s": round(time.perf_counter() - w0, 3), "cpu_s": round(time.thread_time() - c0, 3),
                     "pid": os.getpid()}


def _ray_task(pipeline_name, refs, fold, ctx, run_dir, threads):  # pragma: no cover - runs inside Ray
    # ``refs`` = [config ref, data ref] inside a list, so Ray does NOT resolve them for every task:
    # a Ray worker process runs many folds, and fetches + unpickles the cohort only for its first
    # one of this run (keyed by the data ref's id), as a pool worker's initializer does.
    token = refs[1].hex()
    if _WORKER.get("token") != token:
        import ray

        cfg, data = ray.get(list(refs))
        _worker_init(pipeline_name, cfg, data, threads)
        _WORKER["token"] = token
    return _run_one(fold, ctx, run_dir)


def order_folds(pipeline: Pipeline, cfg: ExperimentConfig, data: Any, folds: list[Fold]) -> list[Fold]:
    """``folds`` longest first by :meth:`Pipeline.fold_cost` (stable), unchanged if any cost is unknown."""
    costs = [pipeline.fold_cost(cfg, data, f) for f in folds]
    if not folds or any(c is None for c in costs):
        return list(folds)
    order = sorted(range(len(folds)), key=lambda i: -float(costs[i]))  # sorted() is stable: ties keep order
    return [folds[i] for i in order]


def _ctx_for(cfg: ExperimentConfig, run_dir: Path, fold: Fold, device: str, progress: bool) -> FoldContext:
    return FoldContext(seed=derive_seed(cfg.seed, cfg.name, fold.seed_key or fold.id), device=device,
                       workdir=_fold_dir(run_dir, fold), progress=progress)


def _run_in_process(pipeline: Pipeline, cfg: ExperimentConfig, data: Any, folds: list[Fold], run_dir: Path,
                    device: str, on_done: Callable[[str], None], timings: dict[str, dict]) -> None:
    """Run ``folds`` in this process, one after another, with the fold thread count of every executor."""
    import torch
    from threadpoolctl import threadpool_limits

    threads = fold_threads()
    _WORKER.update(pipeline=pipeline, cfg=cfg, data=data)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        # the same BLAS/OpenMP limit as a worker, so a fold runs alike whatever the executor
        with threadpool_limits(limits=threads):
            for fold in folds:
                fid, cost = _run_one(fold, _ctx_for(cfg, run_dir, fold, device, True), str(run_dir))
                timings[fid] = {**cost, "where": "driver"}
                on_done(fid)
    finally:
        torch.set_num_threads(previous)


def _blas_single_threaded():
    """Limit BLAS to one thread in this process until ``.restore_original_limits()`` is called.

    Needed while the Ray head-start thread computes and the main thread starts the cluster: OpenBLAS
    shuts its thread pool down in a ``pthread_atfork`` handler, and Ray's start forks (its
    ``preexec_fn`` rules out vfork), so a multi-threaded BLAS call running in the side thread at
    that moment waits forever for pool threads that are gone (seen as a run stuck at full CPU in
    ``kernel_table``'s matrix product while Ray started). With one thread OpenBLAS computes in the
    calling thread and never touches its pool.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def _starts_local_ray(executor: str) -> bool:
    """Whether this run starts a local Ray cluster itself (Ray installed, not initialised, no RAY_ADDRESS)
    with the driver's head start (:class:`_DriverHeadStart`; ``MYOFLOW_RAY_HEAD_START=0`` turns it off,
    for A/B timing: the cluster then starts after the preparation, as before). Off when folds use
    more than one thread (``MYOFLOW_FOLD_THREADS``): the side thread's BLAS could then not be kept to
    one thread while Ray forks (see :func:`_blas_single_threaded`)."""
    if executor != "ray" or os.environ.get("RAY_ADDRESS") or fold_threads() > 1:
        return False
    flag = os.environ.get("MYOFLOW_RAY_HEAD_START", "1").strip().lower()
    if flag not in ("0", "1", "", "true", "false", "yes", "no"):
        raise ConfigError(f"MYOFLOW_RAY_HEAD_START must be 0 or 1, not {flag!r}")
    if flag in ("0", "false", "no"):
        return False
    try:
        import ray
    except ImportError:
        return False  # _execute raises the error naming the extra
    return not ray.is_initialized()


def _init_ray(workers: int):
    from ..errors import require

    ray = require("ray", "ray", "--executor ray")
    if not ray.is_initialized():
        address = os.environ.get("RAY_ADDRESS")
        ray.init(address=address, num_cpus=None if address else workers, include_dashboard=False,
                 log_to_driver=False, ignore_reinit_error=True)
    return ray


class _DriverHeadStart:
    """Work the driver does in a side thread while its main thread starts a local Ray cluster.

    Starting Ray (GCS, raylet, worker processes) takes seconds (4-15 s measured on the 2-core
    machine) during which the driver would only wait. Ray must be started from the main thread
    (its processes die with the thread that spawned them), so the side thread takes the work:
    first ``plan`` (the pipeline's prepare, folds and longest-first order: a cold cohort cache
    then costs no extra wall time), then the CHEAPEST remaining folds, one at a time, from the end
    of the longest-first queue, in-process with the fold thread count every executor uses, until
    :meth:`take_rest` hands the rest to Ray. Where a fold runs never changes its result (seeded by
    its id, same threads).

    While the side thread works, BLAS is held to one thread in this process (from :meth:`start`
    to :meth:`join` or :meth:`stop`, all called by the main thread: OpenBLAS ignores a thread count
    set from another thread once its pool runs), see :func:`_blas_single_threaded`.
    """

    def __init__(self, plan: Callable[[], tuple[Any, list[Fold], list[Fold]]],
                 run: Callable[[Any, Fold], None]):
        self._plan, self._run = plan, run
        self._lock = threading.Lock()
        self._planned = threading.Event()
        self._stop = False
        self._queue: list[Fold] = []
        self.result: tuple[Any, list[Fold], list[Fold]] | None = None
        self.ran: list[str] = []
        self.error: BaseException | None = None
        # daemon: an interrupted run must not wait for a side-thread fold before exiting
        self._thread = threading.Thread(target=self._main, name="myoflow-driver-folds", daemon=True)
        self._blas: Any = None

    def start(self) -> "_DriverHeadStart":
        self._blas = _blas_single_threaded()  # here, before the side thread's first BLAS call
        self._thread.start()
        return self

    def _main(self) -> None:
        try:
            self.result = self._plan()
            with self._lock:
                self._queue = list(self.result[2])
            self._planned.set()
            while True:
                with self._lock:
                    if self._stop or not self._queue:
                        return
                    fold = self._queue.pop()  # the cheapest left: a short tail if Ray is up mid-fold
                self._run(self.result[0], fold)
                self.ran.append(fold.id)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread by join()
            self.error = exc
        finally:
            self._planned.set()

    def take_rest(self) -> list[Fold]:
        """Stop taking folds (after the current one) and return those not taken, in queue order.

        Waits for ``plan`` to finish; re-raises its error.
        """
        with self._lock:  # first: a plan finishing after the cluster is up must not start a fold
            self._stop = True
        self._planned.wait()
        with self._lock:
            rest, self._queue = self._queue, []
        if self.result is None:
            self.join()
        return rest

    def stop(self) -> None:
        """Take no further fold (the cluster failed to start); BLAS threads are given back at once."""
        with self._lock:
            self._stop = True
        self._release_blas()

    def join(self) -> None:
        self._thread.join()
        self._release_blas()
        if self.error is not None:
            raise self.error

    def _release_blas(self) -> None:
        if self._blas is not None:
            self._blas.restore_original_limits()
            self._blas = None


def _execute(pipeline: Pipeline, cfg: ExperimentConfig, data: Any, todo: list[Fold], run_dir: Path,
             executor: str, workers: int, device: str, on_done: Callable[[str], None],
             timings: dict[str, dict] | None = None) -> list[str]:
    """Run ``todo``; return the ids of the folds that ran in worker processes (empty: all in-process).

    ``timings`` (filled if given): fold id -> wall and CPU seconds of the fold and where it ran.
    """
    timings = {} if timings is None else timings

    def in_process(folds: list[Fold]) -> None:
        _run_in_process(pipeline, cfg, data, folds, run_dir, device, on_done, timings)

    threads = fold_threads()
    if not todo:
        return []
    if executor == "ray":
        ray = _init_ray(workers)
        task = ray.remote(num_cpus=1)(_ray_task)
        refs = [ray.put(cfg), ray.put(data)]  # once per run; each worker fetches them for its first fold only
        pending = {task.remote(pipeline.name, refs, f, _ctx_for(cfg, run_dir, f, device, False), str(run_dir),
                               threads): f
                   for f in todo}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                pending.pop(ref)
                fid, cost = ray.get(ref)
                timings[fid] = {**cost, "where": "ray"}
                on_done(fid)
        return [f.id for f in todo]
    if executor != "local":
        raise ConfigError(f"unknown executor {executor!r}; expected 'local' or 'ray'")
    mode = pool_mode()
    if workers <= 1 or len(todo) == 1 or mode == "never":
        in_process(todo)
        return []
    if mode == "auto":
        # Time one fold in-process, then start the pool only if it pays (see pool_pays). With fold
        # costs (the pipeline's fold_cost; todo is then longest first) the probe is the CHEAPEST fold,
        # run last in the order, and the others' time is scaled from it by cost: probing the longest
        # fold would leave the second core idle for the longest stretch of the run.
        costs = [pipeline.fold_cost(cfg, data, f) for f in todo]
        known = all(c is not None and c > 0 for c in costs)
        probe = len(todo) - 1 if known else 0
        t0 = time.process_time()
        in_process([todo[probe]])
        spent = time.process_time() - t0
        rest = todo[:probe] + todo[probe + 1:]
        per_fold = spent * (sum(costs[:probe]) / len(rest)) / costs[probe] if known else spent
        todo = rest
        if not pool_pays(per_fold, len(todo), workers):
            in_process(todo)
            return []
    import multiprocessing as mp

    import pickle

    from .._worker import bootstrap

    # A killed run must not leave workers computing its queued folds: the light bootstrap ties each
    # worker to this process first, and only then unpickles the (heavy) config and data.
    blob = pickle.dumps((_worker_init, (pipeline.name, cfg, data, threads)), protocol=pickle.HIGHEST_PROTOCOL)
    with ProcessPoolExecutor(max_workers=min(workers, len(todo)), mp_context=mp.get_context("spawn"),
                             initializer=bootstrap, initargs=(os.getpid(), blob)) as pool:
        futures = {pool.submit(_run_one, f, _ctx_for(cfg, run_dir, f, device, False), str(run_dir)): f for f in todo}
        for fut in as_completed(futures):
            fid, cost = fut.result()
            timings[fid] = {**cost, "where": "pool"}
            on_done(fid)
    return [f.id for f in todo]


# ------------------------------------------------------------------ aggregation
_PROPORTIONS = ("accuracy", "f1", "recall", "precision", "roc_auc", "specificity", "sensitivity")


def _mean_ci(values: list[float], proportion: bool = False) -> dict[str, float | int | None]:
    """Mean and 95 % CI of the finite values; ``n_nonfinite`` counts the NaN/inf ones left out."""
    arr = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    dropped = len(values) - int(arr.size)
    extra = {"n_nonfinite": dropped} if dropped else {}
    if arr.size == 0:
        return {"mean": None, "ci_low": None, "ci_high": None, "n": 0, **extra}
    mean = float(arr.mean())
    if arr.size < 2:
        return {"mean": mean, "ci_low": None, "ci_high": None, "n": int(arr.size), **extra}
    from scipy import stats

    half = float(stats.t.ppf(0.975, arr.size - 1) * arr.std(ddof=1) / math.sqrt(arr.size))
    lo, hi = mean - half, mean + half
    if proportion and arr.min() >= 0.0 and arr.max() <= 1.0:
        # a proportion (accuracy, recall, F1...): the interval cannot leave [0, 1]
        lo, hi = max(lo, 0.0), min(hi, 1.0)
    return {"mean": mean, "ci_low": lo, "ci_high": hi, "n": int(arr.size), **extra}


def aggregate_folds(results: list[FoldResult]) -> dict[str, Any]:
    """Per condition and model: mean and t-based 95 % CI over folds of every scalar metric."""
    table: dict[str, dict[str, dict[str, list[float]]]] = {}
    for r in results:
        for model, metrics in r.metrics.items():
            for k, v in metrics.items():
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    table.setdefault(r.condition, {}).setdefault(model, {}).setdefault(k, []).append(float(v))
    out = {c: {m: {k: _mean_ci(v, any(p in k.lower() for p in _PROPORTIONS)) for k, v in ms.items()}
               for m, ms in models.items()}
           for c, models in table.items()}
    # One warning per metric, not per condition x model x metric: a class missing from some test folds
    # (a small cohort) makes its recall NaN for every model at once, which used to print dozens of lines.
    nonfinite: dict[str, list[str]] = {}
    for c, models in out.items():
        for m, ms in models.items():
            for k, v in ms.items():
                if v.get("n_nonfinite"):
                    nonfinite.setdefault(k, []).append(f"{c}/{m} ({v['n_nonfinite']} of {v['n_nonfinite'] + v['n']})")
    for k, where in nonfinite.items():
        log.warning("%s: NaN/inf fold values left out of the mean in %d condition/model pair(s): %s%s", k, len(where),
                    "; ".join(where[:3]), " ..." if len(where) > 3 else "")
    return out


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("myoflow", "numpy", "scipy", "pandas", "scikit-learn", "torch"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:  # pragma: no cover
            pass
    return out


def _relative_figure_path(run_dir: Path, path: str | Path) -> str:
    """Figure path relative to the run directory, so the run can be moved and reports rebuilt."""
    p = Path(path)
    if not p.is_absolute() and not (run_dir / p).exists():
        p = Path.cwd() / p  # given relative to the working directory
    if p.is_absolute():
        try:
            return str(p.resolve().relative_to(run_dir.resolve()))
        except ValueError:
            return str(p)
    return str(p)


def finalize_run(run_dir: Path, cfg: ExperimentConfig, pipeline: Pipeline, data: Any, folds: list[Fold]) -> RunSummary:
    """Aggregate finished folds into metrics.json, predictions.parquet, figures and report."""
    results = load_fold_results(run_dir, folds)
    summary = pipeline.summarize(cfg, data, results)
    headline = [
        {"label": h.label, "ours": h.ours, "ci": list(h.ci) if h.ci else None, "paper": h.paper, "note": h.note,
         **({"n": int(h.n), "n_of": h.n_of} if h.n is not None else {})}
        for h in pipeline.headline(summary)
    ]
    headline = user_headline(cfg, headline)  # a user's cohort: its own name, no paper figures beside it
    metrics = {
        "name": cfg.name,
        "pipeline": cfg.pipeline,
        "seed": cfg.seed,
        # how the summary's subject-bootstrap intervals were read (the report's small-cohort line says it)
        "ci_method": DEFAULT_CI_METHOD,
        "summary": summary,
        "conditions": aggregate_folds(results),
        "folds": {r.fold_id: {"condition": r.condition, "metrics": r.metrics} for r in results},
        "headline": headline,
    }
    atomic_write_json(run_dir / "metrics.json", metrics, strict=True)  # standard JSON: NaN -> null
    preds = [r.predictions for r in results if len(r.predictions)]
    predictions = pd.concat(preds, ignore_index=True) if preds else pd.DataFrame()
    with atomic_path(run_dir / "predictions.parquet") as tmp:
        predictions.to_parquet(tmp, index=False)
    figs = []
    try:
        figs = [(t, _relative_figure_path(run_dir, p))
                for t, p in pipeline.figures(cfg, summary, predictions, run_dir)]
    except MyoflowError:
        raise
    except Exception as exc:  # a broken plot must not lose a finished run
        log.warning("figures failed for %s: %s", cfg.name, exc)
    atomic_write_json(run_dir / "figures.json", figs)
    from ..report import build_report

    build_report(run_dir)
    return RunSummary(metrics, run_dir=str(run_dir))


def run_experiment(
    cfg: ExperimentConfig,
    out_dir: str | Path,
    *,
    executor: str = "local",
    workers: int | None = None,
    resume: bool = False,
    cache_dir: str | Path | None = None,
    progress: bool = False,
    mlflow_uri: str | None = None,
) -> RunSummary:
    """Run every fold of ``cfg`` and write the run directory.

    Parameters
    ----------
    cfg : ExperimentConfig
        Validated config (see :func:`myoflow.experiments.load_config`).
    out_dir : path
        Run directory (created).
    executor : {"local", "ray"}
        Local process pool (default) or Ray tasks on a local or existing cluster.
    workers : int, optional
        Parallel folds; default ``min(2, cpu_count)``. 1 runs in-process. With more, the local
        pool is started only when it pays (``$MYOFLOW_POOL=auto``, see :func:`pool_pays`;
        ``always``/``never`` force it); results are identical either way.
    resume : bool
        Continue a run: finished folds are kept, unfinished ones redone.
    mlflow_uri : str, optional
        Log params, metrics and artefacts to this MLflow tracking URI.
    """
    run_dir = Path(out_dir)
    seed = getattr(cfg, "seed", 0)
    if isinstance(seed, int) and not 0 <= seed < 2**32:
        # the splitters and samplers hand it to NumPy, which takes 0 .. 2**32 - 1 (else a traceback mid-plan)
        raise ConfigError(f"config: seed: must be between 0 and {2**32 - 1}, got {seed}")
    n_boot = getattr(getattr(cfg, "evaluate", None), "n_boot", None)
    if isinstance(n_boot, int) and n_boot > MAX_BOOT:
        # the bootstrap's index array is n_boot x n_subjects: 1e9 asked for 45 GiB, after every fold had run
        raise ConfigError(f"config: evaluate.n_boot: at most {MAX_BOOT} resamples, got {n_boot} (the CI bounds "
                          "stop moving long before; the paper protocols use 1000)")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ConfigError(f"workers must be a whole number >= 1, got {workers!r}")
    if run_dir.exists() and not run_dir.is_dir():
        raise DataError("--out names an existing file, not a folder", str(run_dir))
    check_run_dir(run_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise DataError("cannot create the run folder: a parent path is a file", str(run_dir)) from None
    pipeline = get_pipeline(cfg.pipeline)
    with lock_run_dir(run_dir):
        return _run_locked(cfg, run_dir, pipeline, executor=executor, workers=workers, resume=resume,
                           cache_dir=cache_dir, progress=progress, mlflow_uri=mlflow_uri)


#: Most bootstrap resamples a run may ask for (``evaluate.n_boot``), checked before any fold runs.
MAX_BOOT = 100_000


def _data_folders(cfg: ExperimentConfig) -> list[Path]:
    """The dataset folders a config reads (``source: folder`` sections; muscle-id may name several)."""
    from collections.abc import Mapping

    data = getattr(cfg, "data", None)
    sections = list(data.values()) if isinstance(data, Mapping) else [data]
    return [Path(sec.path) for sec in sections
            if getattr(sec, "source", None) == "folder" and getattr(sec, "path", None) is not None
            and getattr(sec, "enabled", True)]


def _check_data_unchanged(cfg: ExperimentConfig, run_dir: Path) -> None:
    """Record the dataset folders' fingerprints with the run; refuse to add folds computed on other data.

    config.yaml names a folder by its path, so a folder re-converted (or edited) between a killed run and
    ``--resume`` gave a run whose finished folds came from the old recordings and the rest from the new ones.
    """
    from ..io.dataset import folder_fingerprint, is_dataset_folder

    now = {str(p): folder_fingerprint(p) for p in _data_folders(cfg) if is_dataset_folder(p)}
    path = run_dir / "data_fingerprint.json"
    finished = next((run_dir / "folds").glob("*/result.json"), None) is not None
    if finished and path.is_file():
        try:
            before = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError, OSError):
            before = None
        if not isinstance(before, dict):
            raise DataError("damaged run file (not a JSON object); delete it to resume without the check", str(path))
        changed = sorted(k for k in set(before) | set(now) if before.get(k) != now.get(k))
        if changed:
            raise DataError(f"dataset folder {changed[0]} changed since this run's finished folds were computed "
                            "(re-converted or edited): resuming would mix folds of the old and the new recordings; "
                            "run into a new --out", str(run_dir))
        return
    if now or path.exists():
        atomic_write_json(path, now)


def _run_locked(cfg: ExperimentConfig, run_dir: Path, pipeline: Pipeline, *, executor: str, workers: int | None,
                resume: bool, cache_dir: str | Path | None, progress: bool, mlflow_uri: str | None) -> RunSummary:
    _write_config(cfg, run_dir, resume)
    _check_data_unchanged(cfg, run_dir)
    # We hold the lock, so temporary files here are leftovers of a killed run, never a live write.
    remove_partial_writes(run_dir)
    from ..train.device import get_device

    device = get_device(cfg.train.device)
    workers = workers or max(1, min(2, os.cpu_count() or 1))
    t0 = time.perf_counter()
    marks: dict[str, float] = {}

    def plan() -> tuple[Any, list[Fold], list[Fold]]:
        data = pipeline.prepare(cfg, Path(cache_dir) if cache_dir else default_cache_dir())
        marks["prepared"] = time.perf_counter()
        folds = pipeline.folds(cfg, data)
        ids = [check_fold_id(f.id, run_dir) for f in folds]
        if len(set(ids)) != len(ids):
            raise MyoflowError(f"pipeline {cfg.pipeline!r} produced duplicate fold ids")
        # longest first (when the pipeline can say), so no long fold is left running alone at the end
        return data, folds, order_folds(pipeline, cfg, data, [f for f in folds if not _is_done(run_dir, f)])

    lock = threading.Lock()  # on_done is also called from the head-start thread
    state: dict[str, Any] = {"bar": None, "done": 0}

    def on_done(fold_id: str) -> None:
        with lock:
            state["done"] += 1
            if state["bar"] is not None:
                state["bar"].set_postfix_str(fold_id)
                state["bar"].update(1)

    timings: dict[str, dict] = {}
    head, ray_start_s = None, None
    if _starts_local_ray(executor):
        # prepare (and the cheapest folds) in a side thread while this thread starts the cluster
        head = _DriverHeadStart(plan, lambda data, fold: _run_in_process(pipeline, cfg, data, [fold], run_dir,
                                                                         device, on_done, timings)).start()
        t_ray = time.perf_counter()
        try:
            _init_ray(workers)
        except BaseException:
            head.stop()
            raise
        ray_start_s = time.perf_counter() - t_ray
        todo = head.take_rest()
        data, folds, planned = head.result  # type: ignore[misc]
    else:
        data, folds, planned = plan()
        todo = planned
    t_prep = marks["prepared"] - t0
    if progress:
        from tqdm.auto import tqdm

        with lock:
            state["bar"] = tqdm(total=len(folds), initial=len(folds) - len(planned) + state["done"],
                                desc=cfg.name, unit="fold", leave=True)
    try:
        pooled = _execute(pipeline, cfg, data, todo, run_dir, executor, workers, device, on_done, timings)
        if head is not None:
            head.join()  # its last in-process fold; re-raises its error
    finally:
        if state["bar"] is not None:
            state["bar"].close()
    t_folds = time.perf_counter() - marks["prepared"]
    if any(not _is_done(run_dir, f) for f in folds):
        return RunSummary(run_dir=str(run_dir), complete=False)
    seconds = {"prepare": t_prep, "folds": t_folds}
    if ray_start_s is not None:
        seconds["ray_start"] = ray_start_s  # overlapped with prepare and the driver's own folds
    atomic_write_json(run_dir / "run_info.json", {
        "versions": _versions(), "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "executor": executor, "workers": workers, "device": device, "pool_mode": pool_mode(),
        "folds_in_workers": len(pooled), "folds_in_driver_while_ray_started": list(head.ran) if head else [],
        "seconds": seconds, "n_folds": len(folds),
        # per fold run this time: wall/CPU seconds and where (driver, pool, ray); CPU = the fold's thread
        "fold_seconds": {f.id: timings[f.id] for f in folds if f.id in timings},
    })
    summary = finalize_run(run_dir, cfg, pipeline, data, folds)
    if mlflow_uri:
        _log_mlflow(mlflow_uri, cfg, run_dir, summary)
    return summary


def _log_mlflow(uri: str, cfg: ExperimentConfig, run_dir: Path, summary: dict) -> None:
    from ..errors import require

    mlflow = require("mlflow", "mlflow", "--mlflow")
    if uri.startswith("file:"):
        # MLflow 3 puts the file store behind an opt-in; `--mlflow file:...` is that explicit choice.
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    try:
        _log_mlflow_run(mlflow, uri, cfg, run_dir, summary)
    except mlflow.exceptions.MlflowException as exc:
        raise ConfigError(f"--mlflow {uri}: {str(exc).splitlines()[0]}") from None


def _log_mlflow_run(mlflow: Any, uri: str, cfg: ExperimentConfig, run_dir: Path, summary: dict) -> None:
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment(cfg.name)
    with mlflow.start_run(run_name=run_dir.name):
        flat = pd.json_normalize(to_dict(cfg), sep=".").iloc[0].to_dict()
        mlflow.log_params({k: str(v)[:250] for k, v in flat.items()})
        for cond, models in summary.get("conditions", {}).items():
            for model, ms in models.items():
                for k, v in ms.items():
                    if v.get("mean") is not None:
                        mlflow.log_metric(f"{cond}.{model}.{k}".replace("/", "_").replace(" ", "_")[:250], v["mean"])
        for name in ("metrics.json", "config.yaml", "report.html"):
            if (run_dir / name).exists():
                mlflow.log_artifact(str(run_dir / name))
