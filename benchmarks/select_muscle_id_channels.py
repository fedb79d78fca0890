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
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import refuse_reported_seed, write_selection_record  # noqa: E402  (puts src/ on the path)
from muscle_id_selection import PROTOCOL, add_cohort_args, cohort_record, run_candidates  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", default="0,4", help="channels per burst per epoch; 0 = all")
    ap.add_argument("--tolerance", type=float, default=0.01)
    add_cohort_args(ap, channels=False)  # every burst keeps all 16 grid channels
    a = ap.parse_args(argv)
    if refuse_reported_seed(a.seed):
        return 2
    candidates = [int(v) for v in a.k.split(",")]
    run = run_candidates(a, [{"model": {"params": {"channels_per_epoch": k or None}}} for k in candidates])
    table = [{"k": k or "all", **row, "relative_windows_trained": float(row["total_epochs_run"]) * (k or 16) / 16}
             for k, row in zip(candidates, run["rows"])]
    top = max(t["score"] for t in table)
    best = min((t for t in table if t["score"] >= top - a.tolerance), key=lambda t: 16 if t["k"] == "all" else t["k"])
    record = {
        "what": "muscle-id model.params.channels_per_epoch, chosen on a separately seeded simulated grid cohort",
        "rule": f"smallest k (all = 16) whose score is within {a.tolerance} of the best score",
        "cohort": cohort_record(a), "selection_seed": a.seed, "epochs_override": a.epochs,
        "protocol": PROTOCOL + "; train.lr as shipped (0.001)",
        "chosen": {"channels_per_epoch": None if best["k"] == "all" else best["k"]}, "chosen_score": best["score"],
        "table": table, "n_folds_per_k": run["n_folds"], "workers": a.workers,
    }
    record = write_selection_record(a.out, record, script="select_muscle_id_channels.py", argv=argv, t0=run["t0"],
                                    load0=run["load0"])
    print(json.dumps({"chosen": record["chosen"], "score": best["score"], "seconds": record["seconds"]}))
    for t in table:
        print(f"  k {t['k']}: {t['score']:.4f} {t['accuracy']} {t['mean_best_epoch']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
