"""Training cost: seed-000 subject 5-fold CV on the 90-subject cohort; 1 vs 2 workers (local pool, Ray).

Issue 10, item 6. The stimulated-mass protocol (``configs/stimulated_mass.yaml``), its
main model (``attention_bilstm``) on the combined condition (``all``), subject-wise
5-fold CV over the 90-subject simulated cohort (the ``final`` all-subject model is
switched off: it is not part of the CV). The same config is run three times, each in
a fresh subprocess through :func:`myoflow.experiments.runner.run_experiment`:

1. ``--executor local --workers 1`` (folds in sequence, torch may use both cores),
2. ``--executor local --workers 2`` (process pool, one torch thread per worker),
3. ``--executor ray --workers 2`` (local Ray cluster started by the run).

Reported: wall time of the CV (the runner's fold time; the cohort preparation is
timed separately and is the same in every run), the speed-up of 2 workers over 1,
and whether the three runs give identical per-fold metrics (they must: folds are
seeded from the config seed and the fold id).

Quick mode (``--quick``): 20 subjects, 5 epochs, still 5 folds — a smoke run of the
harness; its timings say little. The full run trains the real protocol three times
and takes several minutes (it is the quantity being measured).

Run: ``python benchmarks/bench_training.py [--quick]`` → ``benchmarks/results/training.json``.
"""
from __future__ import annotations

import json
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, Benchmark, Row, bench_argparser, setup_logging  # noqa: E402

log = logging.getLogger("bench.training")

PROTOCOL = "stimulated-mass"
SETTINGS = (("local", 1), ("local", 2), ("ray", 2))


def build_config(quick: bool):
    """The benchmark's config: seed-000 protocol, 5-fold subject CV, main model, ``all`` condition."""
    from myoflow.config import load_config
    from myoflow.experiments.cli import protocol_config

    overrides = {
        "evaluate": {"conditions": ["all"], "models": ["attention_bilstm"], "splitter": "kfold", "n_splits": 5,
                     "final_model": False},
    }
    # the full benchmark is the paper's 90-subject cohort with the protocol's training settings;
    # quick (a smoke run of the harness) uses 20 subjects and 5 epochs, still 5 folds.
    overrides["data"] = {"subjects": 20 if quick else 90}
    if quick:
        overrides["train"] = {"epochs": 5, "patience": 3}
    return load_config(protocol_config(PROTOCOL), quick=quick, overrides=overrides)


def _child(executor: str, workers: int, out: Path, cache: Path, quick: bool) -> None:
    """Run the CV once (in this fresh process) and print timings as JSON."""
    from myoflow.experiments.runner import run_experiment

    cfg = build_config(quick)
    t0 = time.perf_counter()
    run_experiment(cfg, out, executor=executor, workers=workers, cache_dir=cache)
    wall = time.perf_counter() - t0
    info = json.loads((out / "run_info.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    print(json.dumps({"wall_s": wall, "seconds": info.get("seconds", {}), "n_folds": info.get("n_folds"),
                      "subjects": getattr(cfg.data, "subjects", None), "epochs": cfg.train.epochs,
                      "fold_metrics": _fold_metrics(metrics, out)}))


def _fold_metrics(metrics: dict, run_dir: Path) -> dict:
    """Per-fold metrics as written on disk (for the determinism check)."""
    out = {}
    for p in sorted((run_dir / "folds").glob("*/result.json")):
        try:
            out[p.parent.name] = json.loads(p.read_text()).get("metrics", {})
        except (OSError, ValueError):
            out[p.parent.name] = None
    return out or metrics.get("folds", {})


def run_setting(executor: str, workers: int, workdir: Path, cache: Path, quick: bool, timeout: float) -> dict:
    out = workdir / f"run-{executor}-{workers}"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", executor, str(workers), str(out), str(cache)]
    if quick:
        cmd.append("--quick")
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=str(REPO))
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"{executor}×{workers} exited {proc.returncode}: {tail[0][:300]}")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["process_s"] = elapsed
    return res


def run(quick: bool, results_dir: Path) -> Path:
    bench = Benchmark("training", "Training cost (seed-000 subject 5-fold CV)", quick=quick,
                      peers=("ray",), results_dir=results_dir)
    item = "seed-000 5-fold subject CV (attention_bilstm, condition all)"
    try:
        cfg = build_config(quick)
    except Exception as exc:  # noqa: BLE001 - pipeline/config not there yet
        bench.not_available(item, f"stimulated-mass pipeline/config not loadable ({type(exc).__name__}: "
                                  f"{str(exc).splitlines()[0][:200]})", goal="speed-up with 2 workers")
        return bench.write()
    subjects = getattr(cfg.data, "subjects", "?")
    timeout = 300 if quick else 900
    runs: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="myoflow-bench-train-") as tmp:
        tmp = Path(tmp)
        cache = tmp / "cache"
        for executor, workers in SETTINGS:
            key = f"{executor}x{workers}"
            try:
                runs[key] = run_setting(executor, workers, tmp, cache, quick, timeout)
                log.info("%s: %s", key, runs[key]["seconds"])
            except Exception as exc:  # noqa: BLE001
                log.exception("%s failed", key)
                runs[key] = {"error": f"{type(exc).__name__}: {exc}"}
    bench.extra["runs"] = runs
    base = runs.get("localx1", {})
    if "error" in base:
        bench.failed(f"{item}, 1 worker", RuntimeError(base["error"]))
        return bench.write()
    t1 = base["seconds"].get("folds", base["wall_s"])
    bench.add(Row(item=f"{item}: {subjects} subjects, {base.get('n_folds')} folds, 1 worker",
                  myoflow=t1, unit="s", goal="", reference="",
                  note=(f"fold time; cohort preparation {base['seconds'].get('prepare', float('nan')):.1f} s; "
                        f"whole run incl. report {base['wall_s']:.1f} s; max {base.get('epochs')} epochs "
                        "with early stopping."),
                  details=base))
    for key, label in (("localx2", "local process pool, 2 workers"), ("rayx2", "Ray (local cluster), 2 workers")):
        r = runs.get(key, {})
        if "error" in r:
            bench.failed(f"{item}: {label}", RuntimeError(r["error"]), reference="1 worker")
            continue
        t2 = r["seconds"].get("folds", r["wall_s"])
        speedup = t1 / t2
        note = f"whole run {r['wall_s']:.1f} s."
        if key == "rayx2":
            note += " Includes starting the local Ray cluster and shipping the cohort to its object store."
        if speedup < 1.5:
            note += (" Below the ideal 2×: with 1 worker torch already uses both cores for its matrix "
                     "products, 5 folds cannot split evenly over 2 workers (3 + 2), and each worker process "
                     "re-imports torch and unpickles the cohort; more folds (conditions × folds) per run "
                     "would amortise that.")
        bench.add(Row(item=f"{item}: {label}", myoflow=t2, reference="1 worker", reference_value=t1, unit="s",
                      ratio=speedup, ratio_label="speed-up (1-worker time / this time)",
                      goal="> 1× (ours: parallel folds pay off on 2 cores)", goal_op=">", goal_value=1.0,
                      note=note, details=r))
    ok_runs = {k: v for k, v in runs.items() if "error" not in v}
    if len(ok_runs) >= 2:
        ref = next(iter(ok_runs.values()))["fold_metrics"]
        same = all(v["fold_metrics"] == ref for v in ok_runs.values())
        bench.add(Row(item="per-fold metrics identical across executors", myoflow=float(same), unit="",
                      ratio=float(same), ratio_unit="", ratio_label="1 = identical", goal="identical", goal_op=">=",
                      goal_value=1.0, reference=", ".join(ok_runs),
                      note="fold seeds derive from (config seed, fold id), so the executor must not matter."))
    return bench.write()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "--child":
        executor, workers, out, cache = argv[1], int(argv[2]), Path(argv[3]), Path(argv[4])
        logging.basicConfig(level=logging.WARNING)
        _child(executor, workers, out, cache, "--quick" in argv)
        return 0
    args = bench_argparser(__doc__.splitlines()[0]).parse_args(argv)
    setup_logging(args.verbose)
    print(run(args.quick, args.results_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
