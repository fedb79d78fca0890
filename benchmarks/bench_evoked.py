"""Simulator: time the 90-subject ``evoked`` cohort (issue 4; goal < 30 s on 2 cores).

Measures, in one process:

* **cohort** — :func:`myoflow.simulate.protocols.evoked.simulate_evoked` with the paper's
  protocol: 90 subjects × RF/BF × trains at 5, 10, 15, 20, 25 Hz of 4 s at 2 kHz
  (900 recordings, 54 000 stimulus pulses). It runs in ONE process with one BLAS thread
  (the second core is left free); goal < 30 s. Split into the per-subject × muscle MUAP
  models (H3's fast planar MUAPs, cached per subject × muscle and reused for every
  pulse/train) and the train synthesis + noise + front end.
* **MUAP throughput, fast vs numerical** — MUAPs/s of H3's fast path (``fast_muaps``, the
  one the cohort uses) and the numerical per-fibre path (``numerical_muaps``) on the
  same BioMime-range conditions and grid, in this run; the ratio is the speed-up.
* **response extraction** — the pipeline's ``prepare_evoked`` on the cohort (artefact
  blanking, stimulus-locked epochs, M-wave descriptors), no goal.

``--quick`` simulates 20 subjects and extrapolates linearly to 90 (marked in the row).

Run: ``python benchmarks/bench_evoked.py [--quick]`` → ``benchmarks/results/evoked.json``.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Benchmark, Row, bench_main  # noqa: E402

N_FULL = 90


def _cohort(bench: Benchmark, n: int, quick: bool):
    from myoflow.simulate.protocols import evoked as ev

    t_models = []
    orig = ev.simulate_subject_muscle

    def timed_model(*a, **k):  # measure the per-subject × muscle MUAP models separately
        t0 = time.perf_counter()
        out = orig(*a, **k)
        t_models.append(time.perf_counter() - t0)
        return out

    ev.simulate_subject_muscle = timed_model
    try:
        t0 = time.perf_counter()
        recs, parts = ev.simulate_evoked(n, seed=0)
        total = time.perf_counter() - t0
    finally:
        ev.simulate_subject_muscle = orig
    scale = N_FULL / n
    value = total * scale
    n_pulses = sum(r.events_of("stimulus").size for r in recs)
    label = (f"evoked cohort: {N_FULL} subjects × RF/BF × 5 trains (5–25 Hz, 4 s, 2 kHz)"
             + (f" — extrapolated from {n} subjects" if quick else ""))
    bench.add(Row(
        item=label, myoflow=round(value, 2), unit="s", reference="goal", goal="< 30 s",
        goal_op="<", goal_value=30.0, goal_on="myoflow",
        note=(f"{len(recs)} recordings, {n_pulses} pulses in {total:.1f} s for {n} subjects; MUAP models "
              f"{sum(t_models):.1f} s ({len(t_models)} subject × muscle, {1e3 * sum(t_models) / len(t_models):.0f} ms "
              f"each), trains + noise + front end {total - sum(t_models):.1f} s; one process, one BLAS thread"),
        details={"subjects": n, "seconds": total, "model_seconds": sum(t_models), "recordings": len(recs),
                 "pulses": n_pulses},
    ))
    return recs, parts


def _extraction(bench: Benchmark, recs, parts, n: int, quick: bool) -> None:
    from myoflow.preprocess.evoked import prepare_evoked

    t0 = time.perf_counter()
    prepare_evoked(recs, parts, label="mass_class", classes=["low", "normal", "high"],
                   covariates=["age", "sex", "height", "weight", "bmi"], muscles=["RF", "BF"],
                   frequencies=[5, 10, 15, 20, 25])
    t = time.perf_counter() - t0
    bench.add(Row(item=f"response extraction (blank, epoch, descriptors), {len(recs)} recordings"
                       + (" — extrapolated to 90 subjects" if quick else ""),
                  myoflow=round(t * N_FULL / n, 2), unit="s", note=f"{1e3 * t / len(recs):.1f} ms per recording",
                  details={"seconds": t, "recordings": len(recs)}))


def _muap_paths(bench: Benchmark, quick: bool) -> None:
    from myoflow.simulate.numerical import DEFAULT_SETUP, conditions_to_geometry, numerical_muaps
    from myoflow.simulate.protocols.muaps import sample_conditions
    from myoflow.simulate.volume_conductor import clear_cache, fast_muaps

    n_fast, n_num = (128, 4) if quick else (512, 16)
    setup = DEFAULT_SETUP
    el = setup.electrodes()
    cond = sample_conditions(n_fast, seed=0)
    geom = conditions_to_geometry(cond, setup)
    dur = setup.n_samples / setup.fs * 1e3
    clear_cache()
    fast_muaps(geom.subset(slice(0, 2)), setup.tissue, el, setup.fs, dur)  # kernel table, not timed
    t0 = time.perf_counter()
    fast_muaps(geom, setup.tissue, el, setup.fs, dur)
    t_fast = time.perf_counter() - t0
    numerical_muaps(cond.iloc[:1], setup=setup)  # tables, not timed
    t0 = time.perf_counter()
    numerical_muaps(cond.iloc[:n_num], setup=setup)
    t_num = time.perf_counter() - t0
    fast_rate, num_rate = n_fast / t_fast, n_num / t_num
    bench.add(Row(
        item=f"MUAPs/s, fast path ({n_fast} MUAPs) vs numerical ({n_num}), same conditions and grid",
        myoflow=round(fast_rate, 1), reference="numerical per-fibre path", reference_value=round(num_rate, 2),
        unit="MUAPs/s", ratio=round(fast_rate / num_rate, 1), ratio_label="fast / numerical (speed-up)",
        note=f"{el.n_channels} channels at {setup.fs:g} Hz; kernel tables built before timing",
        details={"fast_s": t_fast, "numerical_s": t_num},
    ))


def run(quick: bool, results_dir: Path) -> Path:
    bench = Benchmark("evoked", "Simulator: 90-subject evoked cohort", quick=quick, results_dir=results_dir)
    n = 20 if quick else N_FULL
    recs = parts = None
    try:
        recs, parts = _cohort(bench, n, quick)
    except Exception as exc:  # noqa: BLE001 - record, never invent a number
        bench.failed("evoked cohort", exc)
    if recs is not None:
        try:
            _extraction(bench, recs, parts, n, quick)
        except Exception as exc:  # noqa: BLE001
            bench.failed("response extraction", exc)
    try:
        _muap_paths(bench, quick)
    except Exception as exc:  # noqa: BLE001
        bench.failed("MUAPs/s fast vs numerical", exc)
    bench.note("The cohort is simulated in one process; MUAPs are computed once per subject × muscle "
               "and reused for every stimulus pulse of every train.")
    return bench.write()


def main(argv: list[str] | None = None) -> int:
    return bench_main(__doc__, run, argv)


if __name__ == "__main__":
    sys.exit(main())
