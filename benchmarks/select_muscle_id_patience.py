"""Choose muscle-id's ``train.patience`` (early stopping of the paper's CNN-LSTMs) on a SEPARATELY SEEDED cohort.

Issue 19: the paper-size protocol must fit in 2 h on 2 cores, and the CNN-LSTM epochs are
almost all of its cost (benchmarks/profile_muscle_id_fold.py). A shorter patience stops
sooner; whether it costs accuracy is measured here. Rule, fixed before the run: the SMALLEST
patience whose score is within ``--tolerance`` (default 0.01) of the best score is chosen.

The reported muscle-id protocol simulates the grid cohort with ``data.sim.seed: 0``. Here
each candidate patience runs the pipeline's own folds (intra 80/20 by burst and
leave-one-subject-out, 4-class) on the cohort of another simulator seed (default 1),
with both CNN-LSTMs (autoencoder-pretrained and random init) and everything else as in
``configs/muscle_id.yaml``. The cohort is smaller than the paper's (``--subjects``,
``--duration``, ``--channels``: the full size takes hours on the shared 2-core machine);
the sizes used are in the record. Score of a patience = mean window accuracy over the two
schemes and the two models. The reported cohort is never simulated here::

    PYTHONPATH=src python benchmarks/select_muscle_id_patience.py --seed 1 --subjects 4 --duration 40 \
        --channels 4 --patience 15,8,5 --workers 1 --out benchmarks/results/selection/muscle_id_patience_seed1.json
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


def _cfg(a, patience: int):
    from myoflow.experiments import load_config

    return load_config(CONFIG, overrides={
        "data": {"sim": {"seed": a.seed, "subjects": a.subjects, "duration_s": a.duration,
                         "channels_per_burst": a.channels},
                 "real": {"enabled": False}},
        "evaluate": {"schemes": ["intra", "loso"], "binary": "collapsed", "models": MODELS,
                     "final_model": False, "n_boot": 200},
        "train": {"patience": patience, **({"epochs": a.epochs} if a.epochs else {})},
    })


def _fold(args: tuple) -> tuple[float, Any]:
    a, patience, fold_id = args
    import torch

    torch.set_num_threads(1)  # as the fold runner (MYOFLOW_FOLD_THREADS=1)
    from myoflow.experiments.base import FoldContext
    from myoflow.experiments.registry import get_pipeline
    from myoflow.experiments.runner import default_cache_dir
    from myoflow.train.seeding import derive_seed

    cfg = _cfg(a, patience)
    pipe = get_pipeline("muscle-id")
    data = pipe.prepare(cfg, default_cache_dir())
    fold = next(f for f in pipe.folds(cfg, data) if f.id == fold_id)
    # the fold seed does not depend on the patience: the candidates differ only by it
    res = pipe.run_fold(cfg, data, fold, FoldContext(seed=derive_seed(cfg.seed, "muscle-id", fold.id),
                                                     device="cpu", workdir=Path("/tmp")))
    return patience, res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1, help="simulator seed of the selection cohort (not 0: reported)")
    ap.add_argument("--patience", default="15,8,5")
    ap.add_argument("--tolerance", type=float, default=0.01)
    ap.add_argument("--subjects", type=int, default=5)
    ap.add_argument("--duration", type=float, default=60.0, help="seconds per muscle")
    ap.add_argument("--channels", type=int, default=4, help="grid channels per burst")
    ap.add_argument("--epochs", type=int, default=None, help="override train.epochs (smoke tests only)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args(argv)
    if refuse_reported_seed(a.seed):
        return 2
    from myoflow.experiments.registry import get_pipeline
    from myoflow.experiments.runner import default_cache_dir

    candidates = [int(v) for v in a.patience.split(",")]
    pipe = get_pipeline("muscle-id")
    cfg0 = _cfg(a, candidates[0])
    data = pipe.prepare(cfg0, default_cache_dir())  # once, cached for the workers
    fold_ids = [f.id for f in pipe.folds(cfg0, data)]
    t0, load0 = time.perf_counter(), os.getloadavg()
    with ProcessPoolExecutor(max_workers=a.workers) as pool:
        done = list(pool.map(_fold, [(a, patience, fid) for patience in candidates for fid in fold_ids]))
    table = []
    for patience in candidates:
        results = [r for p_, r in done if p_ == patience]
        summary = pipe.summarize(_cfg(a, patience), data, results)
        per = {f"{c} {m}": summary["results"][c][m]["accuracy"]["point"] for c in CONDITIONS for m in MODELS}
        runs = [len(c["train_loss"]) for r in results for c in r.curves.values() if c.get("train_loss")]
        table.append({"patience": patience, "accuracy": per, "score": sum(per.values()) / len(per),
                      "mean_epochs_run": float(sum(runs) / max(len(runs), 1)), "total_epochs_run": int(sum(runs)),
                      "mean_best_epoch": {c: {m: v["mean_best_epoch"] for m, v in d.items()}
                                          for c, d in summary["training"].items()}})
    top = max(t["score"] for t in table)
    best = min((t for t in table if t["score"] >= top - a.tolerance), key=lambda t: t["patience"])
    record = {
        "what": "muscle-id train.patience, chosen on a separately seeded simulated grid cohort",
        "rule": f"smallest patience whose score is within {a.tolerance} of the best score",
        "cohort": {"source": "simulate grid", "subjects": a.subjects, "seed": a.seed, "duration_s": a.duration,
                   "channels_per_burst": a.channels},
        "selection_seed": a.seed, "epochs_override": a.epochs,
        "protocol": f"pipeline folds {CONDITIONS} (intra 80/20 by burst, LOSO), models {MODELS}; "
                    "score = mean window accuracy over schemes and models; train.lr as shipped (0.001)",
        "chosen": {"patience": best["patience"]}, "chosen_score": best["score"], "table": table,
        "n_folds_per_patience": len(fold_ids), "workers": a.workers,
    }
    record = write_selection_record(a.out, record, script="select_muscle_id_patience.py", argv=argv, t0=t0, load0=load0)
    print(json.dumps({"chosen": record["chosen"], "score": best["score"], "seconds": record["seconds"]}))
    for t in table:
        print(f"  patience {t['patience']}: {t['score']:.4f} {t['accuracy']} {t['mean_best_epoch']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
