"""Choose muscle-id's ``train.lr`` (the paper's CNN-LSTMs) on a SEPARATELY SEEDED simulated grid cohort.

The reported muscle-id protocol simulates the grid cohort with ``data.sim.seed: 0``. Here
each candidate learning rate runs the pipeline's own folds (intra 80/20 by burst and
leave-one-subject-out, 4-class) on the cohort of another simulator seed (default 1),
with both CNN-LSTMs (autoencoder-pretrained and random init) and everything else as in
``configs/muscle_id.yaml``. The cohort is smaller than the paper's (``--subjects``,
``--duration``, ``--channels``: the full size takes hours on the shared 2-core machine);
the sizes used are in the record. Score of an lr = mean window accuracy over the two
schemes and the two models; the highest wins (ties: the first listed). The reported
cohort is never simulated here::

    PYTHONPATH=src nice -n 5 python benchmarks/select_muscle_id_lr.py --seed 1 \
        --out benchmarks/results/selection/muscle_id_lr_seed1.json
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
    ap.add_argument("--lr", default="0.001,0.003,0.01")
    add_cohort_args(ap)
    a = ap.parse_args(argv)
    if refuse_reported_seed(a.seed):
        return 2
    lrs = [float(v) for v in a.lr.split(",")]
    run = run_candidates(a, [{"train": {"lr": lr}} for lr in lrs])
    table = [{"lr": lr, **row} for lr, row in zip(lrs, run["rows"])]
    best = max(table, key=lambda t: t["score"])  # first of equal scores
    record = {
        "what": "muscle-id train.lr, chosen on a separately seeded simulated grid cohort",
        "cohort": cohort_record(a), "selection_seed": a.seed, "epochs_override": a.epochs, "protocol": PROTOCOL,
        "chosen": {"lr": best["lr"]}, "chosen_score": best["score"], "table": table,
        "n_folds_per_lr": run["n_folds"], "workers": a.workers,
    }
    record = write_selection_record(a.out, record, script="select_muscle_id_lr.py", argv=argv, t0=run["t0"],
                                    load0=run["load0"])
    print(json.dumps({"chosen": record["chosen"], "score": best["score"], "seconds": record["seconds"]}))
    for t in table:
        print(f"  lr {t['lr']}: {t['score']:.4f} {t['accuracy']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
