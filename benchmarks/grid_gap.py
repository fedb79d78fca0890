"""Seed 001 on the simulated grid cohort: intra-subject vs leave-one-subject-out gap (issue 18), RF/LDA.

The paper (Velásquez et al. 2023) reports 95 % intra-subject vs 48 % LOSO on the 4-class task
(L/R biceps, L/R tibialis), 89 % LOSO biceps vs tibialis and ≈ 50 % LOSO left vs right. Issue 18
asks the SIMULATED grid cohort to show that pattern: intra − LOSO ≥ 20 points, LOSO within ±10 of
48 %, biceps vs tibialis LOSO within ±10 of 89 %, left vs right within ±10 of 50 %.

This runs the muscle-id pipeline's own folds (``configs/muscle_id.yaml``: TKEO bursts, 500 ms
onset windows, every grid channel a sample; intra = 80/20 of each subject's bursts, by burst;
LOSO; a separate model per binary task) with the fast classic-feature baselines only (LDA, random
forest), on a simulated cohort of the given seed and size, and writes
``benchmarks/results/grid_gap/seed<S>_<N>x<D>s.json`` with each figure beside its goal, the gap's
paired subject-bootstrap CI, and a variance decomposition of the features (how much of each
feature is fixed per recording × channel, i.e. the session signature a seen subject's new bursts
share). Simulator parameters were chosen on seed 1 and confirmed on seed 0 (the reported seed)::

    PYTHONPATH=src python benchmarks/grid_gap.py --seed 1 --subjects 9 --duration 120
    PYTHONPATH=src python benchmarks/grid_gap.py --seed 0 --subjects 9 --duration 120

``--quick``: 3 subjects × 30 s, LDA only (a smoke run, figures meaningless).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, RESULTS_DIR, Benchmark, Row, setup_logging  # noqa: E402  (puts src/ on the path)

CONFIG = REPO / "src" / "myoflow" / "configs" / "muscle_id.yaml"
#: the issue's goals: (condition, target %, tolerance in points)
TARGETS = {"sim/loso/4class": (48.0, 10.0), "sim/loso/muscle": (89.0, 10.0), "sim/loso/side": (50.0, 10.0)}
GAP_GOAL = 20.0


def _cfg(seed: int, subjects: int, duration: float, models: list[str], n_boot: int):
    from myoflow.experiments import load_config

    return load_config(CONFIG, overrides={
        "data": {"sim": {"seed": seed, "subjects": subjects, "duration_s": duration}, "real": {"enabled": False}},
        "evaluate": {"schemes": ["intra", "loso"], "binary": "separate", "models": models,
                     "final_model": False, "n_boot": n_boot},
    })


def variance_decomposition(features: np.ndarray, md) -> dict[str, Any]:
    """Share of each standardised feature's variance at each level: subject, recording, channel, burst.

    Nested sums of squares (subject ⊃ recording ⊃ recording × channel ⊃ window): ``recording``
    is what differs between a subject's recordings (muscle, side, placement, contact), ``channel``
    what differs between the electrodes of one application, ``burst`` what changes from one
    contraction to the next on one electrode. A seen subject's new burst is easy to place when
    ``burst`` is small beside ``recording`` + ``channel``.
    """
    X = np.asarray(features, dtype=float)
    X = (X - X.mean(0)) / np.where(X.std(0) > 0, X.std(0), 1.0)
    levels = [md["subject"].astype(str).to_numpy(), md["recording"].astype(str).to_numpy(),
              (md["recording"].astype(str) + "#" + md["channel"].astype(str)).to_numpy()]
    total = (X ** 2).sum(0)
    shares, prev = {}, np.zeros(X.shape[1])
    for name, key in zip(("subject", "recording", "channel"), levels):
        _, inv = np.unique(key, return_inverse=True)
        counts = np.bincount(inv)
        means = np.stack([np.bincount(inv, weights=X[:, j]) / counts for j in range(X.shape[1])], axis=1)
        ss = (counts[:, None] * means ** 2).sum(0)  # variance explained by this level and the ones above
        shares[name] = ss - prev
        prev = ss
    shares["burst"] = total - prev
    out = {k: float(np.median(v / total)) for k, v in shares.items()}
    return {"median_share_over_features": out, "n_features": int(X.shape[1])}


def run(seed: int, subjects: int, duration: float, models: list[str], results_dir: Path, n_boot: int = 500,
        quick: bool = False) -> Path:
    from myoflow.evaluate.bootstrap import paired_bootstrap_ci
    from myoflow.experiments.base import FoldContext
    from myoflow.experiments.registry import get_pipeline
    from myoflow.experiments.runner import default_cache_dir
    from myoflow.train.seeding import derive_seed

    cfg = _cfg(seed, subjects, duration, models, n_boot)
    pipe = get_pipeline("muscle-id")
    t0 = time.perf_counter()
    data = pipe.prepare(cfg, default_cache_dir())
    t_prep = time.perf_counter() - t0
    cohort = data["sim"]
    folds = pipe.folds(cfg, data)
    t1 = time.perf_counter()
    results = [pipe.run_fold(cfg, data, f, FoldContext(seed=derive_seed(cfg.seed, "muscle-id", f.id), device="cpu",
                                                       workdir=Path("/tmp"))) for f in folds]
    t_folds = time.perf_counter() - t1
    summary = pipe.summarize(cfg, data, results)
    res = summary["results"]
    name = f"seed{seed}_{subjects}x{duration:g}s"
    b = Benchmark(name, f"Grid cohort intra vs LOSO gap, seed {seed}, {subjects} subjects × {duration:g} s",
                  quick=quick, results_dir=results_dir)

    def pct(cond: str, model: str) -> float | None:
        m = res.get(cond, {}).get(model)
        return None if not m else 100.0 * m["accuracy"]["point"]

    def ci(cond: str, model: str) -> list[float] | None:
        m = res.get(cond, {}).get(model, {}).get("accuracy", {})
        return None if m.get("ci_low") is None else [100 * m["ci_low"], 100 * m["ci_high"]]

    import pandas as pd

    preds = pd.concat([r.predictions for r in results if len(r.predictions)], ignore_index=True)
    for model in models:
        intra, loso = pct("sim/intra/4class", model), pct("sim/loso/4class", model)
        b.add(Row(item=f"{model}: intra 4-class %", myoflow=intra, unit="%", reference="paper 95 (CNN-LSTM)",
                  reference_value=95.0, details={"ci95": ci("sim/intra/4class", model)}))
        # paired over subjects: each subject's intra accuracy minus its LOSO accuracy, one draw for both
        a = preds[(preds.model == model) & (preds.condition == "sim/intra/4class")]
        c = preds[(preds.model == model) & (preds.condition == "sim/loso/4class")]
        acc = lambda df: float((df["truth"] == df["prediction"]).mean())  # noqa: E731
        gap = paired_bootstrap_ci(a, c, acc, n_boot=n_boot, seed=derive_seed(seed, "gap", model))
        b.add(Row(item=f"{model}: intra − LOSO 4-class, points", myoflow=100 * gap.point, unit="points",
                  reference="paper 95 − 48 = 47", reference_value=47.0, ratio=100 * gap.point, ratio_unit="",
                  ratio_label="intra − LOSO (points)", goal=f"≥ {GAP_GOAL:g}", goal_op=">=", goal_value=GAP_GOAL,
                  details={"ci95": [100 * gap.lo, 100 * gap.hi], "intra": intra, "loso": loso}))
        for cond, (target, tol) in TARGETS.items():
            v = pct(cond, model)
            b.add(Row(item=f"{model}: {cond} %", myoflow=v, unit="%", reference=f"paper {target:g}",
                      reference_value=target, ratio=None if v is None else abs(v - target), ratio_unit="",
                      ratio_label="|ours − paper| (points)", goal=f"within ±{tol:g} of {target:g}", goal_op="<=",
                      goal_value=tol, details={"ci95": ci(cond, model)}))
        v = res.get("sim/intra/4class", {}).get(model, {}).get("burst_vote_accuracy", {}).get("point")
        b.add(Row(item=f"{model}: intra 4-class %, burst vote over channels", myoflow=None if v is None else 100 * v,
                  unit="%"))
    b.extra.update({
        "seed": seed, "subjects": subjects, "duration_s": duration, "models": models,
        "cohort": cohort.info, "feature_variance": variance_decomposition(cohort.features, cohort.epochs.metadata),
        "seconds": {"prepare_incl_simulation": round(t_prep, 1), "folds": round(t_folds, 1)},
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "simulator_parameters": simulator_parameters(),
    })
    b.note("Timings are wall clock on a shared 2-core machine (inflated by other jobs); prepare includes the "
           "simulation unless the cohort was cached.")
    return b.write()


def simulator_parameters() -> dict[str, Any]:
    """The grid protocol's session/placement constants in force (recorded with each result)."""
    from myoflow.simulate.protocols import grid

    names = [n for n in dir(grid) if n.isupper() and isinstance(getattr(grid, n), (int, float, tuple))]
    return {n: getattr(grid, n) for n in names}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1, help="simulator seed (1: where parameters were chosen; 0: reported)")
    ap.add_argument("--subjects", type=int, default=9)
    ap.add_argument("--duration", type=float, default=120.0, help="seconds per muscle (paper 600)")
    ap.add_argument("--models", default="rf,lda")
    ap.add_argument("--n-boot", type=int, default=500)
    ap.add_argument("--quick", action="store_true", help="3 subjects x 30 s, LDA only (smoke)")
    ap.add_argument("--results-dir", type=Path, default=RESULTS_DIR / "grid_gap")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args(argv)
    setup_logging(a.verbose)
    if a.quick:
        a.subjects, a.duration, a.models, a.n_boot = 3, 30.0, "lda", 100
    print(run(a.seed, a.subjects, a.duration, [m for m in a.models.split(",") if m], a.results_dir, a.n_boot,
              a.quick))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
