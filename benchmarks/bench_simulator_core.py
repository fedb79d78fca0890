"""Speed of the simulator core: fast vs numerical MUAP paths (one run), and EMG synthesis.

Usage::

    .venv/bin/python benchmarks/bench_simulator_core.py [--n-fast 256] [--n-numerical 32] [--json OUT]

Both MUAP paths compute the same conditions (sampled over the six BioMime ranges) on the
same 10 × 8 monopolar grid at 2048 Hz, single-threaded; kernel tables are built before
timing (their one-off cost is reported separately). Prints a JSON summary.
"""
from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from myoflow.simulate import ElectrodeArray, MuscleModel, generate_subjects  # noqa: E402
from myoflow.simulate.numerical import DEFAULT_SETUP, conditions_to_geometry, numerical_muaps  # noqa: E402
from myoflow.simulate.protocols.muaps import sample_conditions  # noqa: E402
from myoflow.simulate.volume_conductor import clear_cache, fast_muaps  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n-fast", type=int, default=256)
    ap.add_argument("--n-numerical", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    setup = DEFAULT_SETUP
    el = setup.electrodes()
    cond = sample_conditions(max(args.n_fast, args.n_numerical), seed=args.seed)
    geom = conditions_to_geometry(cond.iloc[: args.n_fast], setup)
    dur = setup.n_samples / setup.fs * 1e3

    clear_cache()
    t0 = time.perf_counter()
    fast_muaps(geom, setup.tissue, el, setup.fs, dur)  # builds and caches the kernel table
    t_fast_table = time.perf_counter() - t0
    t0 = time.perf_counter()
    fast = fast_muaps(geom, setup.tissue, el, setup.fs, dur)
    t_fast = time.perf_counter() - t0

    t0 = time.perf_counter()
    numerical_muaps(cond.iloc[:1], setup=setup)
    t_num_table = time.perf_counter() - t0
    t0 = time.perf_counter()
    num = numerical_muaps(cond.iloc[: args.n_numerical], setup=setup)
    t_num = time.perf_counter() - t0

    pre = int(round(setup.pre_ms * 1e-3 * setup.fs))
    f = fast[: args.n_numerical, :, : setup.n_samples - pre]
    n = num[:, :, pre:]
    corr = [float(np.corrcoef(a.ravel(), b.ravel())[0, 1]) for a, b in zip(f, n)]

    # Interference EMG: a 300-unit biceps under a 4×4 grid, 10 s at 4096 Hz → 1 kHz.
    subj = generate_subjects(1, np.random.default_rng(args.seed))[0]
    grid = ElectrodeArray.grid(4, 4, 5.0, radius_mm=1.25)
    t0 = time.perf_counter()
    model = MuscleModel.build(subj, "BB", grid, np.random.default_rng(1), iz_mm=-30.0)
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    model.record(np.full(10_000, 0.5), np.random.default_rng(2), fs=1000.0)
    t_rec = time.perf_counter() - t0

    out = {
        "fast_muaps_per_s": args.n_fast / t_fast,
        "numerical_muaps_per_s": args.n_numerical / t_num,
        "speedup_fast_over_numerical": (args.n_fast / t_fast) / (args.n_numerical / t_num),
        "fast_table_build_s": t_fast_table,
        "numerical_table_build_s": t_num_table,
        "numerical_ms_per_muap": 1e3 * t_num / args.n_numerical,
        "fast_vs_numerical_correlation_median": float(np.median(corr)),
        "fast_vs_numerical_correlation_min": float(np.min(corr)),
        "grid": [setup.rows, setup.cols], "fs": setup.fs, "n_samples": setup.n_samples,
        "voluntary_BB_300MU_4x4_build_s": t_build,
        "voluntary_BB_10s_record_s": t_rec,
    }
    text = json.dumps(out, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as fh:
            fh.write(text + "\n")


if __name__ == "__main__":
    main()
