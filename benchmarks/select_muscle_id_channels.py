"""Choose muscle-id's ``model.params.channels_per_epoch`` (train each epoch on k of a burst's grid channels)
on a SEPARATELY SEEDED simulated grid cohort with all 16 channels.

Issue 19: the paper-size protocol's cost is almost all CNN-LSTM epochs over 69 776 windows, 16 of
them per burst (near-copies). Training each epoch on k random channels of every burst (a fresh draw
per epoch) cuts an epoch k/16-fold; whether it costs accuracy, or needs more epochs, is measured
here. Rule, fixed before the run: the SMALLEST k (null = all 16 counts as 16) whose score is within
``--tolerance`` (default 0.01) of the best score is chosen. Score = mean window accuracy over intra
and LOSO 4-class and both CNN-LSTMs; cost = windows trained (epochs run x windows per epoch).
The reported cohort (seed 0) is never simulated here::

    PYTHONPATH=src python benchmarks/select_muscle_id_channels.py --seed 1 --subjects 4 --duration 40 \
        --k 0,4 --workers 1 --out benchmarks/results/selection/muscle_id_channels_seed1.json
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, refuse_reported_seed, write_selection_record  # noqa: E402  (puts src/ on the path)

CONFIG = REPO / "src" / "myoflow" / "configs" / "muscle_id.yaml"
MODELS = ["cnn_lstm_pretrained", "cnn_lstm_random"]
CONDITIONS = ["sim/intra/4class", "sim/loso/4class"]


def _cfg(a, k: int):  # k: channels per burst per epoch (0 = all)
    from myoflow.experiments import load_config

    return load_config(CONFIG, overrides={
        "data": {"sim": {"seed": a.seed, "subjects": a.subjects, "duration_s": a.duration,
                         "channels_per_burst": None},
                 "real": {"enabled": False}},
        "evaluate": {"schemes": ["intra", "loso"], "binary": "collapsed", "models": MODELS,
                     "final_model": False, "n_boot": 200},
        "model": {"params": {"channels_per_epoch": k or None}},
        **({"train": {"epochs": a.epochs}} if a.epochs else {}),
    })


def _fold(args: tuple) -> tuple[float, Any]:
    a, k, fold_id = args
    import torch

    torch.set_num_threads(1)  # as the fold runner (MYOFLOW_FOLD_THREADS=1)
    from myoflow.experiments.base import FoldContext
    from myoflow.experiments.registry import get_pipeline
    from myoflow.experiments.runner import default_cache_dir
    from myoflow.train.seeding import derive_seed

    cfg = _cfg(a, k)
    pipe = get_pipeline("muscle-id")
    data = pipe.prepare(cfg, default_cache_dir())
    fold = next(f for f in pipe.folds(cfg, data) if f.id == fold_id)
    # the fold seed does not depend on k: the candidates differ only by it
    res = pipe.run_fold(cfg, data, fold, FoldContext(seed=derive_seed(cfg.seed, "muscle-id", fold.id),
                                                     device="cpu", workdir=Path("/tmp")))
    return k, res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1, help="simulator seed of the selection cohort (not 0: reported)")
    ap.add_argument("--k", default="0,4", help="channels per burst per epoch; 0 = all")
    ap.add_argument("--tolerance", type=float, default=0.01)
    ap.add_argument("--subjects", type=int, default=5)
    ap.add_argument("--duration", type=float, default=60.0, help="seconds per muscle")
    ap.add_argument("--epochs", type=int, default=None, help="override train.epochs (smoke tests only)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args(argv)
    if refuse_reported_seed(a.seed):
        return 2
    from myoflow.experiments.registry import get_pipeline
    from myoflow.experiments.runner import default_cache_dir

    candidates = [int(v) for v in a.k.split(",")]
    pipe = get_pipeline("muscle-id")
    cfg0 = _cfg(a, candidates[0])
    data = pipe.prepare(cfg0, default_cache_dir())  # once, cached for the workers
    fold_ids = [f.id for f in pipe.folds(cfg0, data)]
    t0, load0 = time.perf_counter(), os.getloadavg()
    with ProcessPoolExecutor(max_workers=a.workers) as pool:
        done = list(pool.map(_fold, [(a, k, fid) for k in candidates for fid in fold_ids]))
    table = []
    for k in candidates:
        results = [r for p_, r in done if p_ == k]
        summary = pipe.summarize(_cfg(a, k), data, results)
        per = {f"{c} {m}": summary["results"][c][m]["accuracy"]["point"] for c in CONDITIONS for m in MODELS}
        runs = [len(c["train_loss"]) for r in results for c in r.curves.values() if c.get("train_loss")]
        table.append({"k": k or "all", "accuracy": per, "score": sum(per.values()) / len(per),
                      "mean_epochs_run": float(sum(runs) / max(len(runs), 1)), "total_epochs_run": int(sum(runs)),
                      "relative_windows_trained": float(sum(runs)) * (k or 16) / 16,
                      "mean_best_epoch": {c: {m: v["mean_best_epoch"] for m, v in d.items()}
                                          for c, d in summary["training"].items()}})
    top = max(t["score"] for t in table)
    best = min((t for t in table if t["score"] >= top - a.tolerance), key=lambda t: 16 if t["k"] == "all" else t["k"])
    record = {
        "what": "muscle-id model.params.channels_per_epoch, chosen on a separately seeded simulated grid cohort",
        "rule": f"smallest k (all = 16) whose score is within {a.tolerance} of the best score",
        "cohort": {"source": "simulate grid", "subjects": a.subjects, "seed": a.seed, "duration_s": a.duration,
                   "channels_per_burst": "all 16"},
        "selection_seed": a.seed, "epochs_override": a.epochs,
        "protocol": f"pipeline folds {CONDITIONS} (intra 80/20 by burst, LOSO), models {MODELS}; "
                    "score = mean window accuracy over schemes and models; train.lr as shipped (0.001)",
        "chosen": {"channels_per_epoch": None if best["k"] == "all" else best["k"]}, "chosen_score": best["score"], "table": table,
        "n_folds_per_k": len(fold_ids), "workers": a.workers,
    }
    record = write_selection_record(a.out, record, script="select_muscle_id_channels.py", argv=argv, t0=t0, load0=load0)
    print(json.dumps({"chosen": record["chosen"], "score": best["score"], "seconds": record["seconds"]}))
    for t in table:
        print(f"  k {t['k']}: {t['score']:.4f} {t['accuracy']} {t['mean_best_epoch']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
