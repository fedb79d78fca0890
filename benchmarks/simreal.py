"""Sim → real: train only on simulated VL/BF/TA/GL (``lowerlimb`` protocol), score the real elderly set.

Issue #18 item 5; the experiment is :func:`myoflow.validation.simreal.run_simreal`
(its docstring lists what was fixed a priori and what is chosen: the transfer recipe per
model, on the CALIBRATION half of the real subjects — odd ids — while every real figure
is on the SCORING half, the even ids). Writes ``OUT/simreal.json``,
``OUT/simreal_confusion.png``, ``OUT/simreal_accuracy.png`` and the selection record
``benchmarks/results/selection/simreal_recipes.json`` (with ``--record``)::

    PYTHONPATH=src python benchmarks/simreal.py --out benchmarks/results/simreal
    PYTHONPATH=src python benchmarks/simreal.py --quick --out /tmp/simreal   # small cohorts, 2 CNN epochs
    PYTHONPATH=src python benchmarks/simreal.py --calibrate none   # the first version: a-priori recipe, all 30

Real data: ``../shared/data/elderly-lowerlimb-emg`` (Silva et al. 2024, Biomed
Signal Process Control 88:105635, CC0-1.0).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

_SRC = Path(__file__).resolve().parents[1] / "src"
if _SRC.is_dir() and str(_SRC) not in sys.path:
    sys.path.insert(0, str(_SRC))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/common.py


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "simreal")
    p.add_argument("--train", type=int, default=30, help="simulated training subjects")
    p.add_argument("--select", type=int, default=10, help="simulated select-cohort subjects (seed + 1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=30, help="CNN epochs")
    p.add_argument("--models", default="lda,rf,cnn")
    p.add_argument("--n-boot", type=int, default=2000)
    p.add_argument("--calibrate", choices=("odd", "none"), default="odd",
                   help="odd: choose each model's recipe on the odd-id real subjects, score the even ids; "
                        "none: the a-priori recipe, scored on all real subjects")
    p.add_argument("--record", type=Path, default=None,
                   help="also write the selection record (what was chosen, on what, by which command) here")
    p.add_argument("--quick", action="store_true", help="4+2 simulated subjects, 4 real subjects, 2 CNN epochs")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    from myoflow._atomic import atomic_write_json
    from myoflow.errors import MyoflowError
    from myoflow.validation.simreal import SimRealConfig, plot_confusions, plot_summary, run_simreal

    models = tuple(m.strip() for m in a.models.split(",") if m.strip())
    unknown = [m for m in models if m not in ("lda", "rf", "cnn")]
    if unknown:
        print(f"error: unknown model(s) {unknown}; choose from lda, rf, cnn", file=sys.stderr)
        return 2
    cfg = SimRealConfig(n_train=a.train, n_select=a.select, seed=a.seed, cnn_epochs=a.epochs, models=models,
                        n_boot=a.n_boot, calibrate=a.calibrate)
    if a.quick:
        cfg = SimRealConfig(n_train=4, n_select=2, seed=a.seed, real_subjects=4, cnn_epochs=2, models=models,
                            n_boot=100, duration_s=4.0, calibrate=a.calibrate)
    t0, load0 = time.perf_counter(), os.getloadavg()
    cache = os.environ.get("MYOFLOW_CACHE")
    try:
        result = run_simreal(cfg, cache_dir=Path(cache) if cache else None)
    except MyoflowError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    a.out.mkdir(parents=True, exist_ok=True)
    result["command"] = "python benchmarks/simreal.py " + " ".join(argv if argv is not None else sys.argv[1:])
    atomic_write_json(a.out / "simreal.json", result)
    plot_confusions(result, a.out / "simreal_confusion.png")
    plot_summary(result, a.out / "simreal_accuracy.png")
    if a.record is not None:
        from common import write_selection_record

        write_selection_record(a.record, {
            "what": "sim -> real transfer recipe per model (normalisation, features, domain randomisation)",
            "on": result["settings"]["selection"],
            "calibration_subjects": result["cohorts"]["real_calibration"]["subjects"],
            "scored_subjects": result["cohorts"]["real"]["subjects"],
            "chosen": {m: c["recipe"] for m, c in result["chosen"].items()},
            "grid": {m: c["grid"] for m, c in result["chosen"].items()}},
            script="simreal.py", argv=argv, t0=t0, load0=load0)
    n = result["cohorts"]["real"]["n_subjects"]
    for m, d in result["models"].items():
        r4, r3, f4 = d["real_4class"], d["real_3class"], d["fixed"]["real_4class"]
        diff = d.get("chosen_minus_fixed")
        print(f"{m:4s} recipe {d['recipe']} | select {d['select_window_accuracy']:.3f} | real ({n} scored subjects) "
              f"4-class window {r4['window']['accuracy']:.3f} [{r4['window']['ci95'][0]:.3f}, "
              f"{r4['window']['ci95'][1]:.3f}] vote {r4['vote']['accuracy']:.3f} | 3-class window "
              f"{r3['window']['accuracy']:.3f} vote {r3['vote']['accuracy']:.3f} | a-priori recipe "
              f"{f4['window']['accuracy']:.3f}" + (f" (chosen - a priori {diff['diff']:+.3f} "
                                                   f"[{diff['ci95'][0]:+.3f}, {diff['ci95'][1]:+.3f}])" if diff else ""))
    print(json.dumps({"seconds": result["seconds"], "out": str(a.out)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
