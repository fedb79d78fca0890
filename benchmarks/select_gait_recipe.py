"""Choose the seed-002 gait recipe (inputs, fine-tuning, ensembles) INSIDE the CEINMS training trial walk36.

The real-data protocol of ``configs/gait_emg.yaml`` trains on walk36 and reports walk45 (and
run81). Here walk45 and run81 are never read: walk36's cycles are split in recording order,
the first ``--train-fraction`` (70 %) to fit — the last ``evaluate.real_val_fraction`` of those
for early stopping, as the pipeline does — and the remaining 30 % (after ``--gap`` dropped
cycles) are scored. sEMG is normalised by the fitted cycles only. Score of a recipe = mean over
the 7 muscles of the R² of the ensemble average of the scored cycles, averaged over
``--seeds`` training seeds; each model (torque-based, baseline) is scored on its own, the
same inputs for both (so the comparison stays paired). The config holds one input
recipe and one ensemble size for both routes, so the recipe with the best mean of the two
routes' scores wins (ties: the first listed; each route's own best is recorded too)::

    PYTHONPATH=src python benchmarks/select_gait_recipe.py \
        --out benchmarks/results/selection/gait_emg_walk36.json
    PYTHONPATH=src python benchmarks/select_gait_recipe.py --only phase,shift60   # a subset, printed only
"""
from __future__ import annotations

import argparse
import copy
import json
import sys
import time
import os
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, write_selection_record  # noqa: E402  (puts src/ on the path)

import numpy as np  # noqa: E402

CONFIG = REPO / "src" / "myoflow" / "configs" / "gait_emg.yaml"

#: Candidate recipes: overrides of the config's preprocess / model.params / baseline.params.
CANDIDATES: dict[str, dict[str, Any]] = {
    "current": {},
    "phase": {"preprocess": {"inputs": ["angles", "velocity", "phase"]}},
    "shift60": {"preprocess": {"shifts_ms": [60]}},
    "shift-60": {"preprocess": {"shifts_ms": [-60]}},
    "shift±60": {"preprocess": {"shifts_ms": [-60, 60]}},
    "shift100": {"preprocess": {"shifts_ms": [100]}},
    "phase+shift±60": {"preprocess": {"inputs": ["angles", "velocity", "phase"], "shifts_ms": [-60, 60]}},
    "full": {"model": {"finetune": "full"}},
    "low_lr": {"model": {"finetune": "low_lr"}},
    "torques_head": {"model": {"head_input": "torques"}},
    "dropout0.1": {"model": {"dropout": 0.1}, "baseline": {"dropout": 0.1}},
    "wd1e-3": {"train": {"weight_decay": 1e-3}},
}


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = _merge(out.get(k, {}), v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _walk36(cfg) -> Any:
    from myoflow.io.datasets.small import load_ceinms_gait
    from myoflow.pipelines._shared import shared_data_dir
    from myoflow.pipelines.gait_emg.pipeline import _cycles_from_trials

    root = cfg.data.real_path or shared_data_dir() / "ceinms-gait"
    trials = load_ceinms_gait(root)
    # walk36 ONLY: the reported test trials are never loaded here
    from myoflow.pipelines.gait_emg.pipeline import drop_drifting_training_cycles

    cyc = _cycles_from_trials([(cfg.data.real_train, trials[cfg.data.real_train])], cfg, real=True)
    if cfg.data.real_train_drift_ratio is not None:  # the pipeline's cleaning of the training trial
        cyc, n = drop_drifting_training_cycles(cyc, cfg.data.real_train, cfg.data.real_train_drift_ratio)
        cyc.info["dropped_baseline_drift"] = n
    if cfg.data.emg_floor_percentile is not None:  # the pipeline's floor rule, after the drift rule
        from myoflow.biomech.gait_cycles import subtract_emg_floor

        cyc, _ = subtract_emg_floor(cyc, cfg.data.emg_floor_percentile)
        cyc.info["emg_floor_percentile"] = cfg.data.emg_floor_percentile
    return cyc


def score_recipe(cyc, recipe: dict, seeds: list[int], train_fraction: float, gap: int,
                 epochs: int | None = None) -> dict[str, Any]:
    """Fit both models on the first cycles of walk36, score the last ones; mean over seeds."""
    import torch

    from myoflow.biomech.gait_cycles import normalise_emg
    from myoflow.config import to_dict
    from myoflow.evaluate.metrics import r2_ensemble_average
    from myoflow.experiments import load_config
    from myoflow.pipelines.gait_emg.features import from_rows
    from myoflow.pipelines.gait_emg.pipeline import _rows, predict_ensemble
    from myoflow.train import derive_seed

    torch.set_num_threads(1)
    over = {"data": {"real": False}, "preprocess": recipe.get("preprocess", {}), "train": recipe.get("train", {}),
            "evaluate": recipe.get("evaluate", {}), "model": {"params": recipe.get("model", {})},
            "baseline": {"params": recipe.get("baseline", {})}}
    cfg = load_config(CONFIG, overrides=_merge({}, over))
    n = len(cyc)
    n_tr = int(round(train_fraction * n))
    fit_mask = np.zeros(n, dtype=bool)
    fit_mask[:n_tr] = True
    c, _ = normalise_emg(cyc, reference=fit_mask)  # the scale comes from the fitted cycles only
    n_val = max(1, int(round(cfg.evaluate.real_val_fraction * n_tr)))
    idx = np.arange(n)
    fit_c, val_c, test_c = c.select(idx < n_tr - n_val), c.select((idx >= n_tr - n_val) & (idx < n_tr)), \
        c.select(idx >= n_tr + gap)
    kinds, shifts = tuple(cfg.preprocess.inputs), tuple(cfg.preprocess.shifts_ms)
    Xf, Tf, Ef = _rows(fit_c, kinds, shifts)
    Xv, Tv, Ev = _rows(val_c, kinds, shifts)
    Xt, _, _ = _rows(test_c, kinds, shifts)
    train = {k: v for k, v in to_dict(cfg.train).items() if k != "device"}
    if epochs:
        train["epochs"] = epochs
    out: dict[str, list] = {"torque_based": [], "baseline": []}
    per_muscle: dict[str, list] = {"torque_based": [], "baseline": []}
    for s in seeds:
        tb = predict_ensemble(cfg, "model", train, Xf, np.hstack([Ef, Tf]), (Xv, np.hstack([Ev, Tv])), Xt,
                              seed=derive_seed(s, "torque_based"), n_emg=Ef.shape[1])
        bl = predict_ensemble(cfg, "baseline", train, Xf, Ef, (Xv, Ev), Xt, seed=derive_seed(s, "baseline"))
        for name, pred in (("torque_based", tb[0]), ("baseline", bl[0])):
            r2 = r2_ensemble_average(test_c.emg, from_rows(pred, len(test_c), test_c.n_points))
            per_muscle[name].append(r2.tolist())
            out[name].append(float(np.mean(r2)))
    return {"n_fit": len(fit_c), "n_val": len(val_c), "n_scored": len(test_c),
            **{f"{k}_r2_ens_mean": float(np.mean(v)) for k, v in out.items()},
            **{f"{k}_r2_ens_per_seed": v for k, v in out.items()},
            **{f"{k}_r2_ens_per_muscle": np.mean(v, axis=0).tolist() for k, v in per_muscle.items()}}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default=None, help="comma-separated candidate names (default: all)")
    ap.add_argument("--seeds", default="1,2,3", help="training seeds averaged per recipe")
    ap.add_argument("--train-fraction", type=float, default=0.7)
    ap.add_argument("--gap", type=int, default=1, help="cycles dropped between fitted and scored cycles")
    ap.add_argument("--epochs", type=int, default=None, help="override train.epochs (exploring only)")
    ap.add_argument("--candidates-json", default=None, help="extra candidates {name: overrides} (JSON file)")
    ap.add_argument("--cycle-max-dev", type=float, default=None, help="data.real_cycle_max_dev (default: config's)")
    ap.add_argument("--drift-ratio", type=float, default=None, help="data.real_train_drift_ratio (default: config's)")
    ap.add_argument("--floor-percentile", type=float, default=None,
                    help="data.emg_floor_percentile (default: config's; negative = null, keep the floor)")
    ap.add_argument("--out", default=None, help="write the selection record here (JSON)")
    a = ap.parse_args(argv)
    from myoflow.experiments import load_config

    t0, load0 = time.perf_counter(), os.getloadavg()
    cands = dict(CANDIDATES)
    if a.candidates_json:
        cands.update(json.loads(Path(a.candidates_json).read_text()))
    names = a.only.split(",") if a.only else list(cands)
    unknown = [n for n in names if n not in cands]
    if unknown:
        print(f"error: unknown candidate(s) {unknown}; known: {sorted(cands)}", file=sys.stderr)
        return 2
    seeds = [int(s) for s in a.seeds.split(",")]
    data_over = {k: v for k, v in (("real_cycle_max_dev", a.cycle_max_dev),
                                   ("real_train_drift_ratio", a.drift_ratio),
                                   ("emg_floor_percentile", a.floor_percentile)) if v is not None}
    if data_over.get("emg_floor_percentile", 0) < 0:
        data_over["emg_floor_percentile"] = None
    cyc = _walk36(load_config(CONFIG, overrides={"data": data_over}))
    print(f"walk36: {len(cyc)} cycles kept ({cyc.info})")
    results = {}
    for name in names:
        t = time.perf_counter()
        r = score_recipe(cyc, cands[name], seeds, a.train_fraction, a.gap, a.epochs)
        r["seconds"] = round(time.perf_counter() - t, 1)
        results[name] = {"overrides": cands[name], **r}
        print(f"{name:24s} torque {r['torque_based_r2_ens_mean']:.3f} {np.round(r['torque_based_r2_ens_per_seed'], 3)}"
              f"  baseline {r['baseline_r2_ens_mean']:.3f} {np.round(r['baseline_r2_ens_per_seed'], 3)}"
              f"  ({r['seconds']} s)", flush=True)
    for n in names:
        results[n]["joint_r2_ens_mean"] = 0.5 * (results[n]["torque_based_r2_ens_mean"] + results[n]["baseline_r2_ens_mean"])
    # the config has ONE input recipe (preprocess) and ensemble size for both routes: the recipe with the
    # best mean of the two routes' scores is chosen (per-route bests are recorded too); ties: the first listed
    best = {m: max(names, key=lambda n: (results[n][f"{m}_r2_ens_mean"], -names.index(n)))
            for m in ("joint", "torque_based", "baseline")}
    chosen = best["joint"]
    print("chosen (best mean of the two routes):", chosen, "; per route:", best)
    if a.out:
        write_selection_record(Path(a.out), {
            "what": "seed-002 gait recipe per model, chosen inside walk36 only (walk45/run81 never read)",
            "protocol": {"train_fraction": a.train_fraction, "gap": a.gap, "seeds": seeds, "epochs": a.epochs,
                         "score": "mean over muscles of R² of ensemble averages of the scored walk36 cycles"},
            "rule": "highest mean over the two routes of the per-route score (ties: first listed)",
            "candidates": results, "chosen": chosen, "chosen_overrides": cands[chosen], "best_per_route": best}, script="select_gait_recipe.py", argv=argv, t0=t0, load0=load0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
