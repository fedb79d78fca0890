"""What the muscle-id selection scripts share (``select_muscle_id_{lr,patience,channels}.py``).

Each script names one setting and its candidates; this module runs every candidate through the
pipeline's own folds (intra 80/20 by burst and LOSO, 4-class, both paper CNN-LSTMs) on a
SEPARATELY SEEDED simulated grid cohort, prepared once and shared by the worker processes, and
scores a candidate by the mean window accuracy over the two schemes and two models. The fold
seeds do not depend on the candidate, so candidates differ only by the setting under test.
"""
from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from common import REPO  # noqa: F401  (puts src/ on the path)

CONFIG = REPO / "src" / "myoflow" / "configs" / "muscle_id.yaml"
MODELS = ["cnn_lstm_pretrained", "cnn_lstm_random"]
CONDITIONS = ["sim/intra/4class", "sim/loso/4class"]
PROTOCOL = (f"pipeline folds {CONDITIONS} (intra 80/20 by burst, LOSO), models {MODELS}; "
            "score = mean window accuracy over schemes and models")


def add_cohort_args(ap: argparse.ArgumentParser, channels: bool = True) -> None:
    """The selection cohort's and the run's arguments (``--seed`` defaults to 1: never the reported 0)."""
    ap.add_argument("--seed", type=int, default=1, help="simulator seed of the selection cohort (not 0: reported)")
    ap.add_argument("--subjects", type=int, default=5)
    ap.add_argument("--duration", type=float, default=60.0, help="seconds per muscle")
    if channels:
        ap.add_argument("--channels", type=int, default=4, help="grid channels per burst")
    ap.add_argument("--epochs", type=int, default=None, help="override train.epochs (smoke tests only)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, required=True)


def cohort_record(a) -> dict:
    return {"source": "simulate grid", "subjects": a.subjects, "seed": a.seed, "duration_s": a.duration,
            "channels_per_burst": getattr(a, "channels", None) or "all 16"}


def config(a, overrides: dict):
    """The shipped muscle-id config on the selection cohort, with one candidate's ``overrides``."""
    from myoflow.experiments import load_config

    base: dict[str, Any] = {
        "data": {"sim": {"seed": a.seed, "subjects": a.subjects, "duration_s": a.duration,
                         "channels_per_burst": getattr(a, "channels", None)},
                 "real": {"enabled": False}},
        "evaluate": {"schemes": ["intra", "loso"], "binary": "collapsed", "models": MODELS,
                     "final_model": False, "n_boot": 200},
        "train": {"epochs": a.epochs} if a.epochs else {},
    }
    for key, value in overrides.items():
        base[key] = {**base.get(key, {}), **value}
    return load_config(CONFIG, overrides=base)


def _fold(args: tuple) -> tuple[int, Any]:
    a, i, overrides, fold_id = args
    import torch

    torch.set_num_threads(1)  # as the fold runner (MYOFLOW_FOLD_THREADS=1)
    from myoflow.cache import default_cache_dir
    from myoflow.experiments.base import FoldContext
    from myoflow.experiments.registry import get_pipeline
    from myoflow.train.seeding import derive_seed

    cfg = config(a, overrides)
    pipe = get_pipeline("muscle-id")
    data = pipe.prepare(cfg, default_cache_dir())
    fold = next(f for f in pipe.folds(cfg, data) if f.id == fold_id)
    res = pipe.run_fold(cfg, data, fold, FoldContext(seed=derive_seed(cfg.seed, "muscle-id", fold.id),
                                                     device="cpu", workdir=Path("/tmp")))
    return i, res


def run_candidates(a, candidates: list[dict]) -> dict:
    """Run every candidate (a config-overrides dict) on every fold; one row per candidate.

    Returns ``{"rows": [{"accuracy", "score", "mean_epochs_run", "total_epochs_run", "mean_best_epoch"}],
    "n_folds", "t0", "load0"}`` with rows in ``candidates`` order.
    """
    from myoflow.cache import default_cache_dir
    from myoflow.experiments.registry import get_pipeline

    pipe = get_pipeline("muscle-id")
    cfg0 = config(a, candidates[0])
    data = pipe.prepare(cfg0, default_cache_dir())  # once, cached for the workers
    fold_ids = [f.id for f in pipe.folds(cfg0, data)]
    t0, load0 = time.perf_counter(), os.getloadavg()
    with ProcessPoolExecutor(max_workers=a.workers) as pool:
        done = list(pool.map(_fold, [(a, i, c, fid) for i, c in enumerate(candidates) for fid in fold_ids]))
    rows = []
    for i, cand in enumerate(candidates):
        results = [r for j, r in done if j == i]
        summary = pipe.summarize(config(a, cand), data, results)
        per = {f"{c} {m}": summary["results"][c][m]["accuracy"]["point"] for c in CONDITIONS for m in MODELS}
        runs = [len(c["train_loss"]) for r in results for c in r.curves.values() if c.get("train_loss")]
        rows.append({"accuracy": per, "score": sum(per.values()) / len(per),
                     "mean_epochs_run": float(sum(runs) / max(len(runs), 1)), "total_epochs_run": int(sum(runs)),
                     "mean_best_epoch": {c: {m: v["mean_best_epoch"] for m, v in d.items()}
                                         for c, d in summary["training"].items()}})
    return {"rows": rows, "n_folds": len(fold_ids), "t0": t0, "load0": load0}
