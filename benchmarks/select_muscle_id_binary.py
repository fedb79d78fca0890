"""Choose muscle-id's ``evaluate.binary`` (dedicated binary models vs read off the 4-class model)
on a SEPARATELY SEEDED simulated grid cohort.

``binary: separate`` trains a dedicated CNN-LSTM pair per binary task (biceps vs tibialis,
left vs right), as the paper does; ``binary: collapsed`` reads the binary scores off the
4-class model's summed probabilities (no extra training). On the paper-size cohort the
dedicated models are two thirds of the simulated cohort's folds (issue 19: the full
protocol must fit in 2 h on 2 cores). Here both are measured on the same folds of a cohort
simulated with ANOTHER seed (default 1; the reported cohort is seed 0 and is never
simulated here): one run with ``binary: separate`` yields, per fold, the dedicated models'
binary predictions AND the 4-class model's, which are collapsed exactly as the pipeline's
summary does (:func:`~myoflow.pipelines.muscle_id.summary.collapse_predictions`).

Rule, fixed before the run: the cheaper ``collapsed`` is chosen unless the dedicated models'
mean window accuracy (over tasks, schemes and both CNN-LSTMs) beats it by more than
``--tolerance`` (default 0.01). The record also carries the paired subject-bootstrap
interval of the difference and each cell of the table::

    PYTHONPATH=src nice -n 5 python benchmarks/select_muscle_id_binary.py --seed 1 \
        --out benchmarks/results/selection/muscle_id_binary_seed1.json
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

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, refuse_reported_seed, write_selection_record  # noqa: E402  (puts src/ on the path)

CONFIG = REPO / "src" / "myoflow" / "configs" / "muscle_id.yaml"
MODELS = ["cnn_lstm_pretrained", "cnn_lstm_random"]


def _cfg(a):
    from myoflow.experiments import load_config

    return load_config(CONFIG, overrides={
        "data": {"sim": {"seed": a.seed, "subjects": a.subjects, "duration_s": a.duration,
                         "channels_per_burst": a.channels},
                 "real": {"enabled": False}},
        "evaluate": {"schemes": a.schemes.split(","), "binary": "separate", "models": MODELS,
                     "final_model": False, "n_boot": 200},
        **({"train": {"epochs": a.epochs}} if a.epochs else {}),
    })


def _fold(args: tuple) -> Any:
    a, fold_id = args
    import torch

    torch.set_num_threads(1)  # as the fold runner (MYOFLOW_FOLD_THREADS=1)
    from myoflow.experiments.base import FoldContext
    from myoflow.experiments.registry import get_pipeline
    from myoflow.experiments.runner import default_cache_dir
    from myoflow.train.seeding import derive_seed

    cfg = _cfg(a)
    pipe = get_pipeline("muscle-id")
    data = pipe.prepare(cfg, default_cache_dir())
    fold = next(f for f in pipe.folds(cfg, data) if f.id == fold_id)
    return pipe.run_fold(cfg, data, fold, FoldContext(seed=derive_seed(cfg.seed, "muscle-id", fold.id),
                                                      device="cpu", workdir=Path("/tmp")))


def compare(preds, task_maps: dict[str, dict[str, str]], n_boot: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Dedicated vs collapsed binary accuracy on the same windows (one predictions table of a separate run).

    Returns per (scheme, task, model) both accuracies, their mean over cells, and a paired
    subject-bootstrap 95 % interval of the mean difference (collapsed - dedicated).
    """
    from myoflow.pipelines.muscle_id.summary import collapse_predictions

    cells, per_subject = [], {}
    for task, mapping in task_maps.items():
        for scheme in sorted({c.split("/")[1] for c in preds["condition"]}):
            four = preds[preds["condition"] == f"sim/{scheme}/4class"]
            ded = preds[preds["condition"] == f"sim/{scheme}/{task}"]
            for model in MODELS:
                f4, fd = four[four["model"] == model], ded[ded["model"] == model]
                if not len(f4) or not len(fd):
                    continue
                col = collapse_predictions(f4, mapping, task)
                acc_c = float((col["truth"] == col["prediction"]).mean())
                acc_d = float((fd["truth"] == fd["prediction"]).mean())
                cells.append({"scheme": scheme, "task": task, "model": model, "collapsed": acc_c, "dedicated": acc_d,
                              "n_windows": int(len(fd))})
                for s, part in col.groupby("subject"):
                    d = fd[fd["subject"] == s]
                    per_subject.setdefault(str(s), []).append(
                        float((part["truth"] == part["prediction"]).mean()) - float((d["truth"] == d["prediction"]).mean()))
    subjects = sorted(per_subject)
    diffs = np.array([np.mean(per_subject[s]) for s in subjects])
    rng = np.random.default_rng(seed)
    boot = diffs[rng.integers(0, len(diffs), size=(n_boot, len(diffs)))].mean(axis=1)
    return {"cells": cells,
            "mean_collapsed": float(np.mean([c["collapsed"] for c in cells])),
            "mean_dedicated": float(np.mean([c["dedicated"] for c in cells])),
            "per_subject_diff": dict(zip(subjects, diffs.tolist())),
            "diff_ci95": [float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1, help="simulator seed of the selection cohort (not 0: reported)")
    ap.add_argument("--subjects", type=int, default=4)
    ap.add_argument("--duration", type=float, default=40.0, help="seconds per muscle")
    ap.add_argument("--channels", type=int, default=4, help="grid channels per burst")
    ap.add_argument("--schemes", default="intra,loso")
    ap.add_argument("--epochs", type=int, default=None, help="override train.epochs (smoke tests only)")
    ap.add_argument("--tolerance", type=float, default=0.01)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args(argv)
    if refuse_reported_seed(a.seed):
        return 2
    from myoflow.experiments.registry import get_pipeline
    from myoflow.experiments.runner import default_cache_dir
    from myoflow.pipelines.muscle_id.pipeline import _binary_tasks
    import pandas as pd

    pipe = get_pipeline("muscle-id")
    cfg = _cfg(a)
    data = pipe.prepare(cfg, default_cache_dir())  # once, cached for the workers
    fold_ids = [f.id for f in pipe.folds(cfg, data)]
    t0, load0 = time.perf_counter(), os.getloadavg()
    with ProcessPoolExecutor(max_workers=a.workers) as pool:
        results = list(pool.map(_fold, [(a, fid) for fid in fold_ids]))
    preds = pd.concat([r.predictions for r in results], ignore_index=True)
    cohort = data["sim"]
    task_maps = {t: cohort.task_map(t) for t in _binary_tasks(cfg, cohort)}
    cmp = compare(preds, task_maps)
    gap = cmp["mean_dedicated"] - cmp["mean_collapsed"]
    chosen = "separate" if gap > a.tolerance else "collapsed"
    record = {
        "what": "muscle-id evaluate.binary (dedicated binary CNN-LSTMs vs read off the 4-class model), "
                "chosen on a separately seeded simulated grid cohort",
        "cohort": {"source": "simulate grid", "subjects": a.subjects, "seed": a.seed, "duration_s": a.duration,
                   "channels_per_burst": a.channels},
        "selection_seed": a.seed, "epochs_override": a.epochs,
        "protocol": f"pipeline folds (schemes {a.schemes}; tasks 4class + {sorted(task_maps)}), models {MODELS}, "
                    "binary: separate; the 4-class predictions collapsed as the summary does",
        "rule": f"collapsed unless mean dedicated accuracy - mean collapsed accuracy > {a.tolerance}",
        "chosen": {"binary": chosen}, "gap_dedicated_minus_collapsed": gap, **cmp,
        "n_folds": len(fold_ids), "workers": a.workers,
    }
    record = write_selection_record(a.out, record, script="select_muscle_id_binary.py", argv=argv, t0=t0,
                                    load0=load0)
    print(json.dumps({"chosen": record["chosen"], "gap": gap, "ci": cmp["diff_ci95"], "seconds": record["seconds"]}))
    for c in cmp["cells"]:
        print(f"  {c['scheme']:6s} {c['task']:8s} {c['model']:20s} collapsed {c['collapsed']:.3f} "
              f"dedicated {c['dedicated']:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
