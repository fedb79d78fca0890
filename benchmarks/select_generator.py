"""Choose the MUAP generator's recipe (Fourier condition features, normalised shape loss) on a SEPARATELY SEEDED cohort.

The reported ``muap-generator`` protocol samples its conditions and its region split with
``data.seed: 0``. Here every candidate recipe runs the pipeline's own fold (train on the
training box, early stopping on the validation units, score the held-out slab, random
units and extrapolation band) on the cohort of another seed (default 1): other
conditions, other held-out units, other split. Everything else is as in
``configs/muap_generator.yaml`` (the configured VAE only: ``compare_adversarial`` off),
except the cohort size and the epochs (``--pool``, ``--extrapolation``, ``--epochs``: the
full size takes hours on the shared 2-core machine); the sizes used are in the record.

Score of a candidate = mean of its slab and random-unit RMSE / RMS(target) (the
issue's interpolation goals; the extrapolation band is recorded, not scored). The lowest
wins (ties: the first listed). The reported cohort (seed 0) is refused::

    PYTHONPATH=src nice -n 5 python benchmarks/select_generator.py --seed 1 \\
        --out benchmarks/results/selection/muap_generator_seed1.json
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

CONFIG = REPO / "src" / "myoflow" / "configs" / "muap_generator.yaml"

#: name -> model.params overrides (over configs/muap_generator.yaml)
CANDIDATES: dict[str, dict[str, Any]] = {
    # explicit: the shipped config has cond_fourier 4 since the first selection, so {} would repeat "fourier4"
    # (it did in muap_generator_seed1_nested.json, where "base" and "fourier4" are the same recipe)
    "base": {"cond_fourier": 0},
    "fourier4": {"cond_fourier": 4},
    "rel1": {"rel_weight": 1.0},
    "fourier4_rel1": {"cond_fourier": 4, "rel_weight": 1.0},
    "fourier4_rel1_valrel": {"cond_fourier": 4, "rel_weight": 1.0, "val_metric": "rel_rmse"},
    # second round, after fourier4 won the first: the amplitude head's loss weight (shipped 0.05); on the
    # seed-0 40-epoch base run the p-p amplitude was off by ~15 % (median |log ratio|), a third of the error
    "fourier4_amp0.5": {"cond_fourier": 4, "amp_weight": 0.5},
    "fourier4_amp2": {"cond_fourier": 4, "amp_weight": 2.0},
}


def _cfg(a, params: dict[str, Any]):
    from myoflow.experiments import load_config

    return load_config(CONFIG, overrides={
        "seed": a.seed,
        "data": {"seed": a.seed, "n_train_pool": a.pool, "n_extrapolation": a.extrapolation, "n_jobs": 1,
                 "real_templates": False},
        "model": {"params": dict(params)},
        "train": {"epochs": a.epochs},
        "evaluate": {"compare_adversarial": False, "export_onnx": False, "floor_units": 0,
                     "speed_numerical_n": 1, "speed_generator_n": 64},
    })


def _fold(args: tuple) -> tuple[str, Any]:
    a, name = args
    import torch

    torch.set_num_threads(1)
    from myoflow.experiments.base import FoldContext
    from myoflow.experiments.registry import get_pipeline
    from myoflow.experiments.runner import default_cache_dir
    from myoflow.train.seeding import derive_seed

    cfg = _cfg(a, CANDIDATES[name])
    pipe = get_pipeline("muap-generator")
    data = pipe.prepare(cfg, default_cache_dir())
    fold = pipe.folds(cfg, data)[0]
    # the fold seed does not depend on the candidate: they differ only by their recipe
    t0 = time.perf_counter()
    res = pipe.run_fold(cfg, data, fold, FoldContext(seed=derive_seed(cfg.seed, "muap-generator", fold.id),
                                                     device="cpu", workdir=Path(a.workdir) / name))
    res.extras["wall_seconds"] = time.perf_counter() - t0
    return name, res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1, help="seed of the selection cohort (not 0: reported)")
    ap.add_argument("--candidates", default=",".join(CANDIDATES), help=f"subset of {list(CANDIDATES)}")
    ap.add_argument("--pool", type=int, default=1024, help="units in the training box (reported: 2048)")
    ap.add_argument("--extrapolation", type=int, default=128, help="units in the extrapolation band (reported: 256)")
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--workdir", default="/tmp/select_generator")
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args(argv)
    if refuse_reported_seed(a.seed):
        return 2
    names = [n.strip() for n in a.candidates.split(",") if n.strip()]
    unknown = [n for n in names if n not in CANDIDATES]
    if unknown:
        print(f"error: unknown candidate(s) {unknown}; choose from {list(CANDIDATES)}", file=sys.stderr)
        return 2
    from myoflow.experiments.registry import get_pipeline
    from myoflow.experiments.runner import default_cache_dir

    pipe = get_pipeline("muap-generator")
    data = pipe.prepare(_cfg(a, {}), default_cache_dir())  # once, cached for the workers
    t0, load0 = time.perf_counter(), os.getloadavg()
    with ProcessPoolExecutor(max_workers=a.workers) as pool:
        done = dict(pool.map(_fold, [(a, n) for n in names]))
    table = []
    for n in names:
        res = done[n]
        summary = pipe.summarize(_cfg(a, CANDIDATES[n]), data, [res])
        v = summary["variants"]["vae"]
        rel = {k: v[k]["rel_rmse_mean"] for k in ("slab", "random_units", "extrapolation_band") if k in v}
        nr = {k: v[k]["nrmse_mean"] for k in ("slab", "random_units", "extrapolation_band") if k in v}
        table.append({"candidate": n, "params": CANDIDATES[n], "rel_rmse": rel, "nrmse": nr,
                      "score": (rel["slab"] + rel["random_units"]) / 2,
                      "best_epoch": res.metrics["muap_generator"]["best_epoch"],
                      "train_seconds": res.metrics["muap_generator"]["train_seconds"]})
    best = min(table, key=lambda t: t["score"])  # first of equal scores
    record = {
        "what": "muap-generator model.params recipe (cond_fourier, rel_weight, val_metric), chosen on a "
                "separately seeded cohort",
        "cohort": {"source": "numerical model", "seed": a.seed, "n_train_pool": a.pool,
                   "n_extrapolation": a.extrapolation, "split": data.info.get("split")},
        "selection_seed": a.seed, "epochs": a.epochs,
        "protocol": "pipeline fold (VAE only), score = mean of slab and random-unit RMSE / RMS(target); "
                    "lowest wins; extrapolation recorded, not scored",
        "chosen": {"candidate": best["candidate"], "params": best["params"]}, "chosen_score": best["score"],
        "table": table, "workers": a.workers,
    }
    record = write_selection_record(a.out, record, script="select_generator.py", argv=argv, t0=t0, load0=load0)
    print(json.dumps({"chosen": record["chosen"], "score": best["score"], "seconds": record["seconds"]}))
    for t in table:
        print(f"  {t['candidate']}: score {t['score']:.4f} rel {t['rel_rmse']} nrmse {t['nrmse']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
