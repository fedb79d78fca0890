"""Sim → real: train only on simulated VL/BF/TA/GL (``lowerlimb`` protocol), score the real elderly set.

Issue #18 item 5; the experiment is :func:`myoflow.validation.simreal.run_simreal`
(its docstring lists what was fixed a priori and what was chosen on the separately
seeded simulated select cohort). Writes ``OUT/simreal.json`` and
``OUT/simreal_confusion.png``::

    PYTHONPATH=src python benchmarks/simreal.py --out benchmarks/results/simreal
    PYTHONPATH=src python benchmarks/simreal.py --quick --out /tmp/simreal   # small cohorts, 2 CNN epochs

Real data: ``../shared/data/elderly-lowerlimb-emg`` (Silva et al. 2024, Biomed
Signal Process Control 88:105635, CC0-1.0).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

_SRC = Path(__file__).resolve().parents[1] / "src"
if _SRC.is_dir() and str(_SRC) not in sys.path:
    sys.path.insert(0, str(_SRC))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "simreal")
    p.add_argument("--train", type=int, default=30, help="simulated training subjects")
    p.add_argument("--select", type=int, default=10, help="simulated select-cohort subjects (seed + 1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=30, help="CNN epochs")
    p.add_argument("--models", default="lda,rf,cnn")
    p.add_argument("--n-boot", type=int, default=2000)
    p.add_argument("--quick", action="store_true", help="4+2 simulated subjects, 4 real subjects, 2 CNN epochs")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    from myoflow._atomic import atomic_write_json
    from myoflow.errors import MyoflowError
    from myoflow.validation.simreal import SimRealConfig, plot_confusions, run_simreal

    models = tuple(m.strip() for m in a.models.split(",") if m.strip())
    unknown = [m for m in models if m not in ("lda", "rf", "cnn")]
    if unknown:
        print(f"error: unknown model(s) {unknown}; choose from lda, rf, cnn", file=sys.stderr)
        return 2
    cfg = SimRealConfig(n_train=a.train, n_select=a.select, seed=a.seed, cnn_epochs=a.epochs, models=models,
                        n_boot=a.n_boot)
    if a.quick:
        cfg = SimRealConfig(n_train=4, n_select=2, seed=a.seed, real_subjects=4, cnn_epochs=2, models=models,
                            n_boot=100, duration_s=4.0)
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
    for m, d in result["models"].items():
        r4, r3 = d["real_4class"], d["real_3class"]
        print(f"{m:4s} select {d['select_window_accuracy']:.3f} | real 4-class window {r4['window']['accuracy']:.3f} "
              f"[{r4['window']['ci95'][0]:.3f}, {r4['window']['ci95'][1]:.3f}] vote {r4['vote']['accuracy']:.3f} | "
              f"3-class window {r3['window']['accuracy']:.3f} vote {r3['vote']['accuracy']:.3f}")
    print(json.dumps({"seconds": result["seconds"], "out": str(a.out)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
