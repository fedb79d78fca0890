"""Why the paper's CNN-LSTM shows no intra − LOSO gap on the simulated grid cohort (issue 18): select, confirm.

The random forest in the muscle-id pipeline's folds is 20+ points better intra-subject than LOSO (it uses
what a seen subject's new bursts share: the session signature of each recording and electrode); the
paper's CNN-LSTM (``model:`` + ``train:`` of ``configs/muscle_id.yaml``) is not (54.0 vs 50.3 % at paper
size). Each candidate below changes ONE suspected cause (or, last, a fixed combination), keeping the
paper's architecture (conv → FC → LSTM → FC → FC, autoencoder pretraining):

* training length: early-stopping patience (5 shipped), no early stopping, all 16 channels per epoch
  (4 shipped) — the network may stop before it has memorised the per-electrode signatures;
* the first convolution's kernel (9 samples at 1 kHz cannot separate the 350/450 Hz mains harmonics the
  notch leaves from EMG; 33 samples can) — frequency detail of the signature;
* capacity (twice the widths).

(Per-window standardisation is not a candidate: the estimator divides by ONE amplitude scale fitted on the
training windows, so each recording's amplitude reaches the network; checked in the code.)

``select`` (never seed 0) trains every candidate in the intra-subject 4-class fold of the given cohort
(plus the random forest in that fold, for reference) and applies :func:`choose`; record
``benchmarks/results/selection/cnn_lstm_gap_seed<S>.json``. The winner ships as ``evaluate.intra_train`` (the
intra-subject folds only). ``confirm`` runs the CNN-LSTM before (``train`` everywhere) and after (the shipped
config; intra folds only, since its LOSO folds are before's) and LDA/RF once in the intra + LOSO 4-class folds
of the reported seed and writes ``benchmarks/results/grid_gap/cnn_lstm_confirm_seed<S>_<N>x<D>s.json`` (gaps and
differences with paired subject-bootstrap CIs)::

    PYTHONPATH=src python benchmarks/select_cnn_lstm_gap.py select --seed 1 --subjects 6 --duration 120 --workers 2
    PYTHONPATH=src python benchmarks/select_cnn_lstm_gap.py confirm --seed 0 --subjects 9 --duration 120 --workers 2
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
    RESULTS_DIR, read_selection_record, refuse_reported_seed, setup_logging, write_selection_record,
)
from grid_gap import CONFIG  # noqa: E402  (puts src/ on the path)

SELECTION_DIR = RESULTS_DIR / "selection"
MODEL = "cnn_lstm_pretrained"  # the paper's setup 1, the model the headline reports

#: Candidates, fixed before the selection run: label -> overrides of the config's ``model.params``
#: (``model_params``) and ``train`` sections. Order = preference on a tie (cheaper / fewer changes first).
CANDIDATES: dict[str, dict[str, Any]] = {
    "shipped": {},
    "patience20": {"train": {"patience": 20}},
    "no_early_stop_60": {"train": {"val_fraction": 0.0, "epochs": 60}},
    "kernel33": {"model_params": {"kernel_sizes": [33, 5]}},
    "wide": {"model_params": {"conv_channels": [32, 64], "fc_size": 64, "lstm_hidden": 64, "head_size": 64}},
    "all_channels": {"model_params": {"channels_per_epoch": None}},
    "patience20+kernel33+wide": {"train": {"patience": 20},
                                 "model_params": {"kernel_sizes": [33, 5], "conv_channels": [32, 64], "fc_size": 64,
                                                  "lstm_hidden": 64, "head_size": 64}},
}
#: Tolerance of the rule.
TIE = 0.01


def choose(intra: dict[str, float]) -> dict[str, Any]:
    """The rule, fixed before the selection run.

    Score: the pretrained CNN-LSTM's intra-subject 4-class window accuracy in the selection cohort's intra
    fold (the LOSO side of the gap is what the shipped model already meets; the fix must raise intra).
    The best score wins; a candidate earlier in CANDIDATES within TIE (0.01) of the best is preferred.
    "shipped" winning means no change.
    """
    best = max(intra.values())
    win = next(lab for lab in CANDIDATES if lab in intra and intra[lab] >= best - TIE)
    return {"label": win, **CANDIDATES[win], "score": intra[win], "best_score": best}


def _cfg(seed: int, subjects: int, duration: float, entry: dict[str, Any], schemes: list[str], models: list[str],
         n_boot: int = 200):
    from myoflow.experiments import load_config

    over: dict[str, Any] = {
        "data": {"sim": {"seed": seed, "subjects": subjects, "duration_s": duration}, "real": {"enabled": False}},
        "evaluate": {"schemes": schemes, "binary": "none", "models": models, "final_model": False, "n_boot": n_boot},
    }
    if entry.get("model_params"):
        over["model"] = {"params": dict(entry["model_params"])}
    if entry.get("train"):
        over["train"] = dict(entry["train"])
    if entry.get("intra_train") is not None:  # evaluate.intra_train (the CNN-LSTM's intra-subject recipe)
        over["evaluate"]["intra_train"] = dict(entry["intra_train"])
    return load_config(CONFIG, overrides=over)


_STATE: dict[str, Any] = {}


def _run(task: tuple[str, int]):
    from myoflow.experiments.base import FoldContext
    from myoflow.train.seeding import derive_seed

    label, i = task
    pipe, data, cfg, fold = _STATE["pipe"], _STATE["data"], _STATE["cfgs"][label], _STATE["folds"][i]
    t0, c0 = time.perf_counter(), time.process_time()
    res = pipe.run_fold(cfg, data, fold, FoldContext(seed=derive_seed(cfg.seed, "muscle-id", fold.id), device="cpu",
                                                     workdir=Path("/tmp")))
    pred = res.predictions
    best = {m: v.get("best_epoch") for m, v in (res.extras or {}).get("models", {}).items()}
    return label, fold.id, pred, {"wall_s": round(time.perf_counter() - t0, 1),
                                  "cpu_s": round(time.process_time() - c0, 1), "best_epoch": best}


def fold_schemes(entry: dict[str, Any], fold) -> bool:
    """Whether ``entry`` runs in ``fold``: every fold, or those of its ``schemes`` only."""
    return "schemes" not in entry or fold.payload["scheme"] in entry["schemes"]


def _run_all(seed, subjects, duration, entries, schemes, workers):
    """Every (entry, fold) of the given schemes (4-class) in the SAME folds. Entry "rf" is the baseline."""
    import pandas as pd

    from myoflow.experiments.registry import get_pipeline
    from myoflow.experiments.runner import default_cache_dir

    pipe = get_pipeline("muscle-id")
    cfgs = {lab: _cfg(seed, subjects, duration, e, schemes, [e.get("model", MODEL)]) for lab, e in entries.items()}
    first = next(iter(cfgs.values()))
    t0 = time.perf_counter()
    data = pipe.prepare(first, default_cache_dir())
    t_prep = time.perf_counter() - t0
    folds = pipe.folds(first, data)
    for lab, cfg in cfgs.items():
        if [f.id for f in pipe.folds(cfg, data)] != [f.id for f in folds]:
            raise RuntimeError(f"entry {lab}: folds differ from the first entry's")
    _STATE.update(pipe=pipe, data=data, cfgs=cfgs, folds=folds)
    # the network entries in reverse order (later candidates are the costlier ones), baselines last, so the
    # pool's tail is short
    nets = [lab for lab in entries if entries[lab].get("model", MODEL) == MODEL][::-1]
    tasks = [(lab, i) for lab in nets + [e for e in entries if e not in nets] for i in range(len(folds))
             if fold_schemes(entries[lab], folds[i])]
    if workers > 1:
        import multiprocessing as mp

        with mp.get_context("fork").Pool(workers) as pool:
            results = list(pool.imap_unordered(_run, tasks))
    else:
        results = [_run(t) for t in tasks]
    preds = pd.concat([r[2].assign(model=r[0]) for r in results], ignore_index=True)
    timing: dict[str, Any] = {lab: {} for lab in entries}
    for lab, fid, _, t in results:
        timing[lab][fid] = t
    return preds, timing, data["sim"].info, round(t_prep, 1)


def _acc(df) -> float:
    return float((df["truth"].astype(str) == df["prediction"].astype(str)).mean())


def select(a) -> int:
    if refuse_reported_seed(a.seed):
        return 2
    t0, load0 = time.perf_counter(), os.getloadavg()
    labels = [c for c in (a.candidates.split(",") if a.candidates else CANDIDATES)]
    unknown = [c for c in labels if c not in CANDIDATES]
    if unknown:
        print(f"error: unknown candidate(s) {unknown}; choose from {list(CANDIDATES)}", file=sys.stderr)
        return 2
    entries = {lab: CANDIDATES[lab] for lab in labels} | {"rf": {"model": "rf"}}
    preds, timing, info, t_prep = _run_all(a.seed, a.subjects, a.duration, entries, ["intra"], a.workers)
    intra = {lab: _acc(preds[preds.model == lab]) for lab in entries}
    pick = choose({k: v for k, v in intra.items() if k != "rf"})
    record = {
        "what": "issue 18: which single change lets the paper's pretrained CNN-LSTM use what a seen subject's new "
                "bursts share (intra-subject 4-class accuracy on the simulated grid cohort)",
        "chosen_on": {"simulator_seed": a.seed, "subjects": a.subjects, "duration_s": a.duration,
                      "scheme": "intra (80/20 of each subject's bursts, by burst)", "task": "4class",
                      "never_scored_seed": 0},
        "rule": " ".join(line.strip() for line in choose.__doc__.strip().splitlines()[2:] if line.strip()),
        "tie_tolerance": TIE, "candidates": {lab: CANDIDATES[lab] for lab in labels},
        "not_run": [lab for lab in CANDIDATES if lab not in labels],
        "intra_window_accuracy": intra, "chosen": pick, "timing": timing, "cohort": info,
        "prepare_seconds": t_prep,
    }
    path = a.record or SELECTION_DIR / f"cnn_lstm_gap_seed{a.seed}.json"
    write_selection_record(path, record, script="select_cnn_lstm_gap.py", argv=a.argv, t0=t0, load0=load0)
    print(path)
    for lab, v in intra.items():
        print(f"{lab:28s} intra {100 * v:5.1f} %")
    print(f"chosen: {pick['label']}")
    return 0


def confirm(a) -> int:
    import pandas as pd

    from myoflow.evaluate.bootstrap import paired_bootstrap_ci
    from myoflow.train.seeding import derive_seed

    path = a.record or SELECTION_DIR / "cnn_lstm_gap_seed1.json"
    rec = read_selection_record(path, a.seed, "run `select` on another seed first")
    if rec is None:
        return 2
    t0, load0 = time.perf_counter(), os.getloadavg()
    from myoflow.experiments import load_config

    # "before": the intra recipe of the train section (as shipped before issue 18's change, stated explicitly;
    # an empty mapping would merge into the new default instead of replacing it); "after": the config as shipped.
    # evaluate.intra_train only touches the intra-subject folds, so "after" runs those; its LOSO folds ARE
    # "before"'s (the same estimator parameters, checked here and in tests/pipelines/test_muscle_id.py).
    shipped = load_config(CONFIG)
    before = {"val_fraction": shipped.train.val_fraction, "epochs": shipped.train.epochs}
    if not shipped.evaluate.intra_train:
        print("error: the shipped config sets no evaluate.intra_train; nothing to confirm", file=sys.stderr)
        return 2
    chosen_train = rec["chosen"].get("train") or {}
    if {k: shipped.evaluate.intra_train.get(k) for k in chosen_train} != chosen_train:
        print(f"error: {path}: chosen {chosen_train} but the shipped evaluate.intra_train is "
              f"{shipped.evaluate.intra_train}", file=sys.stderr)
        return 2
    entries = {"before": {"intra_train": before}, "after": {"schemes": ["intra"]},
               "rf": {"model": "rf"}, "lda": {"model": "lda"}}
    preds, timing, info, t_prep = _run_all(a.seed, a.subjects, a.duration, entries, ["intra", "loso"], a.workers)
    loso_after = preds[(preds.model == "before") & (preds.condition == "sim/loso/4class")].assign(model="after")
    preds = pd.concat([preds, loso_after], ignore_index=True)
    ci = lambda iv: [round(100 * iv.lo, 1), round(100 * iv.hi, 1)]  # noqa: E731
    cond = {s: preds[preds.condition == f"sim/{s}/4class"] for s in ("intra", "loso")}
    out: dict[str, Any] = {}
    for lab in entries:
        d = {s: cond[s][cond[s].model == lab] for s in cond}
        gap = paired_bootstrap_ci(d["intra"], d["loso"], _acc, n_boot=a.n_boot, seed=derive_seed(a.seed, "gap", lab))
        out[lab] = {"intra": round(100 * _acc(d["intra"]), 1), "loso": round(100 * _acc(d["loso"]), 1),
                    "gap_points": round(100 * gap.point, 1), "gap_ci95": ci(gap)}
    paired: dict[str, Any] = {}
    for lab in [e for e in entries if e not in ("rf", "lda")]:
        for ref in [r for r in ("before", "rf") if r != lab]:
            for s in cond:
                x, y = cond[s][cond[s].model == lab], cond[s][cond[s].model == ref]
                iv = paired_bootstrap_ci(x, y, _acc, n_boot=a.n_boot, seed=derive_seed(a.seed, "paired", lab, ref, s))
                paired[f"{s}: {lab} - {ref}"] = {"points": round(100 * iv.point, 1), "ci95": ci(iv)}
    record = {"seed": a.seed, "subjects": a.subjects, "duration_s": a.duration, "selection_record": str(path),
              "chosen": rec["chosen"], "entries": entries, "accuracy_and_gap": out, "paired": paired,
              "gap_goal_points": 20.0, "loso_goal": "48 ± 10", "timing": timing, "cohort": info,
              "prepare_seconds": t_prep}
    res = a.results_dir / f"cnn_lstm_confirm_seed{a.seed}_{a.subjects}x{a.duration:g}s.json"
    write_selection_record(res, record, script="select_cnn_lstm_gap.py", argv=a.argv, t0=t0, load0=load0)
    print(res)
    print(json.dumps({"accuracy_and_gap": out, "paired": paired}, indent=1))
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=["select", "confirm"])
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--subjects", type=int, default=6)
    ap.add_argument("--duration", type=float, default=120.0, help="seconds per muscle (paper 600)")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--candidates", default="", help="select: comma-separated subset of CANDIDATES (default all)")
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--record", type=Path, default=None)
    ap.add_argument("--results-dir", type=Path, default=RESULTS_DIR / "grid_gap")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args(argv)
    a.argv = list(sys.argv[1:] if argv is None else argv)
    setup_logging(a.verbose)
    return {"select": select, "confirm": confirm}[a.mode](a)


if __name__ == "__main__":
    raise SystemExit(main())
