"""Simulated 16-channel grid cohort: CNN-LSTM (paper and issue-14 recipes), hybrid, LDA, RF in the SAME folds.

Issue 14's goal "Simulated grid cohort: CNN-LSTM ≥ LDA and ≥ RF, LOSO and intra", on the cohort of
``benchmarks/grid_gap.py`` (the ``grid`` protocol with session signatures; the muscle-id pipeline's TKEO
bursts, 500 ms onset windows, its own intra (80/20 of each subject's bursts, by burst) and LOSO folds,
the 4-class task). Every model runs in the same folds; the deep − RF and deep − LDA differences get a
paired subject-bootstrap CI, on window accuracy and on the per-burst vote over the grid channels.

Two representations of a grid burst (issue 14 item 1):

* channels-as-samples (the paper's): every grid channel of a burst window a separate 1-channel sample;
  ``cnn_lstm_pretrained`` (the paper's model and recipe, the pipeline's ``model:`` + ``train:``),
  ``recipe_cnn_lstm`` and ``hybrid`` (the issue-14 ``deep_window`` recipe, the pipeline's ``deep:``);
  the baselines LDA and RF (classic features of one channel) are always this;
* bursts-as-samples (:mod:`myoflow.models.grid_burst`): the 16 channels of a burst window as ONE sample
  (``*_burst`` models); every row of the burst gets the burst's prediction, so its window accuracy IS its
  burst accuracy — compare it with the baselines' burst vote as well as their window accuracy.

Selection (``select``) runs a list of candidates fixed in this file on a cohort of another seed (never 0),
applies the rule stated in :func:`choose` and writes ``benchmarks/results/selection/grid_deep_seed<S>.json``;
``score`` reads that record, runs the chosen recipes beside the shipped models and the baselines ONCE on the
reported seed and writes ``benchmarks/results/grid_deep/seed<S>_<N>x<D>s.json``::

    PYTHONPATH=src python benchmarks/grid_deep.py select --seed 1 --subjects 6 --duration 60 --workers 2
    PYTHONPATH=src python benchmarks/grid_deep.py score --seed 0 --subjects 9 --duration 120 --workers 2

``--quick``: 3 subjects × 30 s, 2 epochs, a smoke run (figures meaningless).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    RESULTS_DIR, read_selection_record, Benchmark, Row, refuse_reported_seed, setup_logging, write_selection_record,
)
from grid_gap import CONFIG  # noqa: E402  (the grid cohort's config; grid_gap also puts src/ on the path)

SELECTION_DIR = RESULTS_DIR / "selection"
BASELINES = ("lda", "rf")

#: The elderly set's development-subject recipes (benchmarks/select_deep_recipe.py, deep_recipe_dev.json),
#: tried here as candidates, not assumed.
ELDERLY_CNN_LSTM = {"val_fraction": 0.0, "epochs": 30, "mixup": 0.4, "n_bands": 64, "label_smoothing": 0.1,
                    "weight_decay": 0.05, "tta": 5}

#: Selection candidates: label -> pipeline model + overrides of its params section (``deep`` for the
#: deep_window / deep_burst models, ``model`` for the paper CNN-LSTM). Fixed before the selection run.
#: family: which model of the report the candidate competes to be.
CANDIDATES: dict[str, dict[str, Any]] = {
    # The CNN-LSTM family (the goal's model), bursts-as-samples. Cut to what the shared 2-core machine (load
    # 10-15, ~0.1 core per process) could run before the deadline: the channels-as-samples twins (the shipped
    # cnn_lstm_pretrained, recipe_cnn_lstm, hybrid) are NOT candidates here; they are scored beside the chosen
    # models on seed 0 as they ship, so the representation is compared there, not selected.
    "recipe_cnn_lstm_burst": {"model": "recipe_cnn_lstm_burst", "family": "cnn_lstm"},
    "recipe_cnn_lstm_burst+chdrop": {"model": "recipe_cnn_lstm_burst", "deep": {"channel_drop": 0.2},
                                     "family": "cnn_lstm"},
    "recipe_cnn_lstm_burst+elderly": {"model": "recipe_cnn_lstm_burst", "deep": ELDERLY_CNN_LSTM,
                                      "family": "cnn_lstm"},
    "burst_cnn_lstm_pretrained": {"model": "burst_cnn_lstm_pretrained", "family": "cnn_lstm"},
    # the hybrid family (bursts only; the channels-as-samples hybrid is the shipped one, scored on seed 0)
    "hybrid_burst": {"model": "hybrid_burst", "family": "hybrid"},
    "hybrid_burst+chdrop": {"model": "hybrid_burst", "deep": {"channel_drop": 0.2}, "family": "hybrid"},
}
#: What ``score`` runs beside the chosen candidates: the shipped models as they are (the paper's CNN-LSTM
#: and the issue-14 models, channels-as-samples) and the baselines.
SHIPPED = ("cnn_lstm_pretrained", "recipe_cnn_lstm", "hybrid")
#: Tolerance of the rule: within this of the best mean accuracy, the earlier (simpler, cheaper) candidate wins.
TIE = 0.01


def _cfg(seed: int, subjects: int, duration: float, entry: dict[str, Any], n_boot: int, quick: bool = False):
    from myoflow.experiments import load_config

    over: dict[str, Any] = {
        "data": {"sim": {"seed": seed, "subjects": subjects, "duration_s": duration}, "real": {"enabled": False}},
        "evaluate": {"schemes": ["intra", "loso"], "binary": "none", "models": [entry["model"]],
                     "final_model": False, "n_boot": n_boot},
    }
    deep, model = dict(entry.get("deep") or {}), dict(entry.get("model_params") or {})
    train = dict(entry.get("train") or {})
    if quick:  # a smoke run: two epochs everywhere
        deep.update(epochs=2)
        model.update(ae_epochs=1, ae_max_samples=500)
        train.update(epochs=2)
        over["data"]["sim"]["channels_per_burst"] = 4
    if deep:
        over["deep"] = {"params": deep}
    if model:
        over["model"] = {"params": model}
    if train:
        over["train"] = train
    return load_config(CONFIG, overrides=over)


# one cohort per process, shared with forked workers (never pickled per task)
_STATE: dict[str, Any] = {}


def _task_path(label: str, fold_id: str) -> Path | None:
    """Where one (entry, fold)'s predictions are kept between runs (None: no task cache)."""
    import hashlib

    root = _STATE.get("task_cache")
    if root is None:
        return None
    spec = {**_STATE["spec"], "entry": {k: v for k, v in _STATE["entries"][label].items() if k != "family"},
            "fold": fold_id}
    h = hashlib.sha1(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return Path(root) / f"{h}.pkl"


def _run_task(task: tuple[str, int]):
    import pickle

    from myoflow.experiments.base import FoldContext
    from myoflow.train.seeding import derive_seed

    label, i = task
    pipe, data, cfgs, folds = _STATE["pipe"], _STATE["data"], _STATE["cfgs"], _STATE["folds"]
    cfg, fold = cfgs[label], folds[i]
    kept = _task_path(label, fold.id)
    if kept is not None and kept.exists():  # the same entry in the same fold of the same cohort: reuse
        pred, t = pickle.loads(kept.read_bytes())
        pred["model"] = label
        return label, fold.id, pred, t
    if label in _STATE.get("cached_only", ()):  # not computed here (another process works through it)
        return label, fold.id, None, None
    t0, c0 = time.perf_counter(), time.process_time()
    res = pipe.run_fold(cfg, data, fold, FoldContext(seed=derive_seed(cfg.seed, "muscle-id", fold.id), device="cpu",
                                                     workdir=Path("/tmp")))
    pred = res.predictions
    pred["model"] = label
    best = {m: v.get("best_epoch") for m, v in (res.extras or {}).get("models", {}).items()}
    t = {"wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0, "best_epoch": best}
    if kept is not None:
        from myoflow._atomic import atomic_write_bytes

        kept.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(kept, pickle.dumps((pred, t)))
    return label, fold.id, pred, t


def run_entries(seed: int, subjects: int, duration: float, entries: dict[str, dict[str, Any]], n_boot: int,
                workers: int = 1, quick: bool = False, task_cache: Path | None = None,
                cached_only: tuple[str, ...] = ()):
    """Every entry in the SAME folds of one cohort. Returns (predictions, per-entry timing, cohort info, seconds).

    ``cached_only``: entries taken from the task cache only, in the folds found there (never computed).
    """
    import pandas as pd

    from myoflow.experiments.registry import get_pipeline
    from myoflow.experiments.runner import default_cache_dir

    pipe = get_pipeline("muscle-id")
    cfgs = {label: _cfg(seed, subjects, duration, e, n_boot, quick) for label, e in entries.items()}
    first = next(iter(cfgs.values()))
    t0 = time.perf_counter()
    data = pipe.prepare(first, default_cache_dir())
    t_prep = time.perf_counter() - t0
    folds = pipe.folds(first, data)
    for label, cfg in cfgs.items():  # the folds depend on the cohort and cfg.seed only: identical for every entry
        ids = [f.id for f in pipe.folds(cfg, data)]
        if ids != [f.id for f in folds]:
            raise RuntimeError(f"entry {label}: folds differ from the first entry's")
    _STATE.update(pipe=pipe, data=data, cfgs=cfgs, folds=folds, entries=entries, task_cache=task_cache,
                  spec={"seed": seed, "subjects": subjects, "duration": duration, "quick": bool(quick)},
                  cached_only=tuple(cached_only))
    # expensive entries first so the pool's tail is short
    tasks = [(label, i) for label in entries for i in range(len(folds))]
    out, timing = [], {label: {"wall_s": 0.0, "cpu_s": 0.0, "best_epoch": {}, "folds": []} for label in entries}
    t1 = time.perf_counter()
    if workers > 1:
        import multiprocessing as mp

        with mp.get_context("fork").Pool(workers) as pool:
            results = list(pool.imap_unordered(_run_task, tasks))
    else:
        results = [_run_task(t) for t in tasks]
    for label, fold_id, pred, t in results:
        if pred is None:
            continue
        timing[label]["folds"].append(fold_id)
        out.append(pred)
        timing[label]["wall_s"] += t["wall_s"]
        timing[label]["cpu_s"] += t["cpu_s"]
        timing[label]["best_epoch"][fold_id] = t["best_epoch"]
    preds = pd.concat(out, ignore_index=True)
    for v in timing.values():
        v["wall_s"], v["cpu_s"] = round(v["wall_s"], 1), round(v["cpu_s"], 1)
    return preds, timing, data["sim"].info, {"prepare_incl_simulation": round(t_prep, 1),
                                             "folds_wall": round(time.perf_counter() - t1, 1)}


def _votes(preds):
    """One row per (fold, model, burst): the majority vote over the grid channels, with its condition."""
    from myoflow.pipelines.muscle_id.summary import burst_votes

    cond = preds.groupby("fold")["condition"].first()
    v = burst_votes(preds)
    v["condition"] = v["fold"].map(cond)
    return v


def scores(preds, labels: list[str], n_boot: int, seed: int) -> dict[str, Any]:
    """Accuracy (window and burst vote, subject-bootstrap CI) per condition and label; paired label − baseline."""
    from myoflow.pipelines.muscle_id.summary import paired_comparisons, summarize_results

    summ = summarize_results(preds, n_boot=n_boot, seed=seed)["results"]
    acc = {cond: {m: {"window": r["accuracy"], "burst_vote": r["burst_vote_accuracy"],
                      "n_subjects": r["n_subjects"], "n_bursts": r["n_bursts"], "n_windows": r["n_windows"],
                      "confusion_matrix": r["confusion_matrix"]}
                  for m, r in models.items()} for cond, models in summ.items()}
    deep = [m for m in labels if m not in BASELINES]
    votes = _votes(preds)
    paired: dict[str, dict[str, Any]] = {"paired_window": {}, "paired_burst_vote": {}}
    for m in deep:  # each on the folds it was scored in (all of them, unless cached_only found fewer)
        folds = set(preds.loc[preds["model"] == m, "fold"])
        for kind, frame, k in (("paired_window", preds, 1), ("paired_burst_vote", votes, 2)):
            sub = frame[frame["fold"].isin(folds)]
            for cond, d in paired_comparisons(sub, [m], BASELINES, n_boot=n_boot, seed=seed + k).items():
                for key, c in d.items():
                    paired[kind].setdefault(cond, {})[key] = {**c, "n_folds": len({f for f in folds
                                                                                  if f.startswith(_fold_prefix(cond))})}
    return {"accuracy": acc, **paired}


def _fold_prefix(cond: str) -> str:
    """``sim/loso/4class`` -> ``sim-loso-4class`` (fold ids start with it)."""
    return cond.replace("/", "-")


def choose(acc: dict[str, Any], candidates: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The rule, fixed before the selection run.

    Score of a candidate: the mean of its intra and LOSO 4-class WINDOW accuracy (what the issue's goal
    is stated on). Per family, the candidate with the best score wins; any candidate within :data:`TIE`
    of the best that comes earlier in :data:`CANDIDATES` (simpler / cheaper) is preferred.
    """
    score = {}
    for label in candidates:
        v = [acc.get(f"sim/{s}/4class", {}).get(label, {}).get("window", {}).get("point") for s in ("intra", "loso")]
        score[label] = None if None in v else float(np.mean(v))
    chosen = {}
    for fam in sorted({c["family"] for c in candidates.values()}):
        members = [lab for lab, c in candidates.items() if c["family"] == fam and score[lab] is not None]
        if not members:
            continue
        best = max(score[m] for m in members)
        win = next(m for m in members if score[m] >= best - TIE)
        chosen[fam] = {"label": win, **{k: v for k, v in candidates[win].items() if k != "family"},
                       "score": score[win], "best_score": best}
    return {"scores": score, "chosen": chosen}


def select(a) -> int:
    if refuse_reported_seed(a.seed):
        return 2
    t0, load0 = time.perf_counter(), os.getloadavg()
    entries = {b: {"model": b} for b in BASELINES} | CANDIDATES
    preds, timing, info, secs = run_entries(a.seed, a.subjects, a.duration, entries, a.n_boot, a.workers, a.quick,
                                            _task_cache(a))
    sc = scores(preds, list(entries), a.n_boot, a.seed)
    pick = choose(sc["accuracy"], CANDIDATES)
    compact = {c: {m: {"window": r["window"]["point"], "burst_vote": r["burst_vote"]["point"]} for m, r in d.items()}
               for c, d in sc["accuracy"].items()}
    record = {
        "what": "grid_deep: representation (channels-as-samples vs bursts-as-samples) and recipe per deep family "
                "for the simulated grid cohort (issue 14 goal 'CNN-LSTM >= LDA and >= RF, LOSO and intra')",
        "chosen_on": {"simulator_seed": a.seed, "subjects": a.subjects, "duration_s": a.duration,
                      "schemes": ["intra", "loso"], "task": "4class", "never_scored_seed": 0},
        "rule": " ".join(line.strip() for line in choose.__doc__.strip().splitlines()[2:] if line.strip()),
        "tie_tolerance": TIE, "candidates": CANDIDATES, "chosen": pick["chosen"], "scores": pick["scores"],
        "accuracy": compact, "paired_window": sc["paired_window"], "paired_burst_vote": sc["paired_burst_vote"],
        "cohort": info, "timing": timing, "cohort_seconds": secs, "quick": bool(a.quick),
    }
    path = a.record or SELECTION_DIR / f"grid_deep_seed{a.seed}{'_quick' if a.quick else ''}.json"
    write_selection_record(path, record, script="grid_deep.py", argv=a.argv, t0=t0, load0=load0)
    print(path)
    for fam, c in pick["chosen"].items():
        print(f"{fam}: {c['label']} (score {c['score']:.3f}, best {c['best_score']:.3f})")
    return 0


def _task_cache(a) -> Path | None:
    from myoflow.experiments.runner import default_cache_dir

    return None if a.no_task_cache else Path(default_cache_dir()) / "grid_deep" / "tasks"


def warm(a) -> int:
    """Run the entries that do not depend on the selection (baselines, shipped models) into the task cache."""
    entries = {b: {"model": b} for b in BASELINES} | {m: {"model": m} for m in SHIPPED}
    run_entries(a.seed, a.subjects, a.duration, entries, a.n_boot, a.workers, a.quick, _task_cache(a))
    print("warmed", list(entries))  # no scores are computed or printed: nothing to look at before selection
    return 0


def score(a) -> int:
    path = a.record or SELECTION_DIR / "grid_deep_seed1.json"
    rec = read_selection_record(path, a.seed, "run `grid_deep.py select` on another seed first")
    if rec is None:
        return 2
    entries: dict[str, dict[str, Any]] = {b: {"model": b} for b in BASELINES}
    entries |= {m: {"model": m} for m in SHIPPED}
    for fam, c in rec["chosen"].items():
        entries[c["label"]] = {k: c[k] for k in ("model", "deep", "model_params", "train") if k in c}
    t0 = time.perf_counter()
    partial = tuple(m for m in (a.cached_only or "").split(",") if m)
    preds, timing, info, secs = run_entries(a.seed, a.subjects, a.duration, entries, a.n_boot, a.workers, a.quick,
                                            _task_cache(a), cached_only=partial)
    sc = scores(preds, list(entries), a.n_boot, a.seed)
    name = f"seed{a.seed}_{a.subjects}x{a.duration:g}s"
    b = Benchmark(name, f"Grid cohort: deep vs LDA/RF in the same folds, seed {a.seed}, {a.subjects} subjects × "
                        f"{a.duration:g} s", quick=a.quick, results_dir=a.results_dir)
    chosen_labels = {c["label"]: fam for fam, c in rec["chosen"].items()}
    for cond in ("sim/intra/4class", "sim/loso/4class"):
        for label in entries:
            r = sc["accuracy"].get(cond, {}).get(label)
            if r is None:
                continue
            w, v = r["window"], r["burst_vote"]
            b.add(Row(item=f"{cond} {label}: window %", myoflow=100 * w["point"], unit="%",
                      details={"ci95": None if w["ci_low"] is None else [100 * w["ci_low"], 100 * w["ci_high"]],
                               "n_folds": sum(f.startswith(_fold_prefix(cond)) for f in timing[label]["folds"]),
                               "n_subjects": r["n_subjects"], "burst_vote": 100 * v["point"],
                               "burst_vote_ci95": None if v["ci_low"] is None else [100 * v["ci_low"],
                                                                                  100 * v["ci_high"]]}))
        for kind in ("paired_window", "paired_burst_vote"):
            for key, c in sc[kind].get(cond, {}).items():
                fam = chosen_labels.get(c["model"])
                b.add(Row(item=f"{cond} {key} ({kind.split('_', 1)[1].replace('_', ' ')}), points",
                          myoflow=100 * c["diff"], unit="points", ratio=100 * c["diff"], ratio_unit="",
                          ratio_label="deep − baseline (points)",
                          goal="≥ 0 (issue 14)" if fam == "cnn_lstm" else "", goal_op=">=" if fam == "cnn_lstm" else None,
                          goal_value=0.0 if fam == "cnn_lstm" else None,
                          details={"ci95": None if c["ci_low"] is None else [100 * c["ci_low"], 100 * c["ci_high"]],
                                   "n_subjects": c["n_subjects"], "n_folds": c.get("n_folds"),
                                   "chosen_family": fam}))
    b.extra.update({"seed": a.seed, "subjects": a.subjects, "duration_s": a.duration, "entries": entries,
                    "selection_record": str(Path(path).relative_to(RESULTS_DIR.parent.parent))
                    if Path(path).is_relative_to(RESULTS_DIR.parent.parent) else str(path),
                    "chosen": rec["chosen"], "accuracy": sc["accuracy"], "paired_window": sc["paired_window"],
                    "paired_burst_vote": sc["paired_burst_vote"], "cohort": info, "timing": timing,
                    "seconds": {**secs, "total": round(time.perf_counter() - t0, 1)},
                    "load_average": [round(v, 2) for v in os.getloadavg()]})
    b.note("Window accuracy of a *_burst model is its burst accuracy (every row of a burst gets the burst's "
           "prediction); the baselines classify one channel at a time, so their burst vote is the like-for-like "
           "figure: both paired differences are given.")
    b.note("Timings are wall clock on a shared 2-core machine; prepare includes the simulation unless cached.")
    out = b.write()
    from myoflow.experiments.runner import default_cache_dir

    table = Path(a.cache_preds or Path(default_cache_dir()) / "grid_deep" / f"{name}.predictions.csv.gz")
    table.parent.mkdir(parents=True, exist_ok=True)
    preds.to_csv(table, index=False)  # scratch (large), for re-analysis; not in the repo
    print(out)
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=["select", "warm", "score"],
                    help="select: choose on a non-reported seed; warm: run baselines + shipped models into the task "
                         "cache (no scores); score: chosen + shipped + baselines once, written to results")
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--subjects", type=int, default=9)
    ap.add_argument("--duration", type=float, default=120.0, help="seconds per muscle (paper 600)")
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=1, help="fold processes (forked; 1 thread each)")
    ap.add_argument("--record", type=Path, default=None, help="selection record (default selection/grid_deep_seed1.json)")
    ap.add_argument("--results-dir", type=Path, default=RESULTS_DIR / "grid_deep")
    ap.add_argument("--cache-preds", type=Path, default=None, help="where score writes the predictions table")
    ap.add_argument("--no-task-cache", action="store_true", help="recompute every (entry, fold)")
    ap.add_argument("--cached-only", default="", help="score: comma-separated entries taken from the task cache only "
                    "(the folds `warm` finished; the report says how many)")
    ap.add_argument("--quick", action="store_true", help="3 subjects x 30 s, 4 channels, 2 epochs (smoke)")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args(argv)
    a.argv = list(sys.argv[1:] if argv is None else argv)
    setup_logging(a.verbose)
    if a.quick:
        a.subjects, a.duration, a.n_boot = 3, 30.0, 50
    return {"select": select, "warm": warm, "score": score}[a.mode](a)


if __name__ == "__main__":
    raise SystemExit(main())
