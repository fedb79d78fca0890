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
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import refuse_reported_seed, write_selection_record  # noqa: E402  (puts src/ on the path)
from muscle_id_selection import PROTOCOL, add_cohort_args, cohort_record, run_candidates  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patience", default="15,8,5")
    ap.add_argument("--tolerance", type=float, default=0.01)
    add_cohort_args(ap)
    a = ap.parse_args(argv)
    if refuse_reported_seed(a.seed):
        return 2
    candidates = [int(v) for v in a.patience.split(",")]
    run = run_candidates(a, [{"train": {"patience": p}} for p in candidates])
    table = [{"patience": p, **row} for p, row in zip(candidates, run["rows"])]
    top = max(t["score"] for t in table)
    best = min((t for t in table if t["score"] >= top - a.tolerance), key=lambda t: t["patience"])
    record = {
        "what": "muscle-id train.patience, chosen on a separately seeded simulated grid cohort",
        "rule": f"smallest patience whose score is within {a.tolerance} of the best score",
        "cohort": cohort_record(a), "selection_seed": a.seed, "epochs_override": a.epochs,
        "protocol": PROTOCOL + "; train.lr as shipped (0.001)",
        "chosen": {"patience": best["patience"]}, "chosen_score": best["score"], "table": table,
        "n_folds_per_patience": run["n_folds"], "workers": a.workers,
    }
    record = write_selection_record(a.out, record, script="select_muscle_id_patience.py", argv=argv, t0=run["t0"],
                                    load0=run["load0"])
    print(json.dumps({"chosen": record["chosen"], "score": best["score"], "seconds": record["seconds"]}))
    for t in table:
        print(f"  patience {t['patience']}: {t['score']:.4f} {t['accuracy']} {t['mean_best_epoch']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
