"""MUAP generator vs the numerical model: MUAPs per second at the same output size, side by side.

Issue 8, item 4 (goal: the generator ≥ 100× faster on CPU). Both produce monopolar
MUAPs on the numerical model's 10 × 8 grid, 96 samples at 2048 Hz
(:data:`myoflow.simulate.numerical.DEFAULT_SETUP`), for the same random in-range
conditions, timed interleaved in one process:

* **numerical** — :func:`myoflow.simulate.numerical.numerical_muaps` (per-fibre
  summation, fine sampling; NumPy, one process), after one warm-up call that
  builds its kernel table;
* **generator** — :meth:`MUAPGenerator.generate` at ``z = 0``, batches of 512,
  PyTorch on one thread (main row) and with ONNX Runtime on one thread; a trained
  generator is used when ``--generator RUN_DIR_OR_MODEL`` is given, else an
  untrained one with the pipeline's default architecture (the cost of the
  decoder does not depend on its weights);
* **fast analytic path** — :func:`myoflow.simulate.volume_conductor.fast_muaps`
  (12 fibre clusters per unit, vectorised), for context.

Run: ``python benchmarks/bench_generator.py [--quick] [--generator PATH]`` →
``benchmarks/results/generator.json``.
"""
from __future__ import annotations

import logging
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Benchmark, Row, bench_argparser, setup_logging, time_pair, time_repeats  # noqa: E402

log = logging.getLogger("bench.generator")

BATCH = 512


def _generator(path: str | None, out_shape: tuple[int, int, int] | None = None):
    """A trained generator from ``path``, else an untrained one (default architecture) of ``out_shape``
    (default: the numerical model's grid × samples)."""
    import torch

    if path:
        from myoflow.models.muap_generator import load_generator

        return load_generator(path), f"trained ({path})"
    from myoflow.models.muap_generator import MUAPGenerator, MuapGeneratorEstimator
    from myoflow.simulate.numerical import DEFAULT_SETUP, MUAP_CONDITION_RANGES, MUAP_CONDITIONS

    import yaml

    # the shipped pipeline's architecture (configs/muap_generator.yaml model.params) over the estimator's defaults
    cfg_path = Path(__file__).resolve().parents[1] / "src" / "myoflow" / "configs" / "muap_generator.yaml"
    params = (yaml.safe_load(cfg_path.read_text(encoding="utf-8")).get("model") or {}).get("params") or {}
    m = MuapGeneratorEstimator().set_params(**{k: v for k, v in params.items()
                                                if k in MuapGeneratorEstimator().get_params()})
    with torch.random.fork_rng():
        torch.manual_seed(0)
        gen = MUAPGenerator(out_shape or (DEFAULT_SETUP.rows, DEFAULT_SETUP.cols, DEFAULT_SETUP.n_samples),
                            fs=DEFAULT_SETUP.fs,
                            condition_names=MUAP_CONDITIONS, condition_ranges=MUAP_CONDITION_RANGES,
                            latent_dim=m.latent_dim, hidden=m.hidden, n_hidden_layers=m.n_hidden_layers,
                            cond_dim=m.cond_dim, time_expert_scales=m.time_expert_scales,
                            encoder_width=m.encoder_width, output_rank=m.output_rank,
                            cond_fourier=m.cond_fourier)
    return gen.eval(), "untrained, the pipeline's architecture (configs/muap_generator.yaml)"


def run(quick: bool, results_dir: Path, generator_path: str | None = None) -> Path:
    import torch

    from myoflow.simulate.numerical import (
        DEFAULT_SETUP,
        MUAP_CONDITION_RANGES,
        MUAP_CONDITIONS,
        conditions_to_geometry,
        numerical_muaps,
    )
    from myoflow.simulate.volume_conductor import fast_muaps

    bench = Benchmark("generator", "MUAP generator vs numerical model", quick=quick, peers=("onnxruntime",),
                      results_dir=results_dir)
    n_num = 4 if quick else 16
    n_gen = 1024 if quick else 8192
    repeats = 3
    rng = np.random.default_rng(0)
    lo = np.array([MUAP_CONDITION_RANGES[c][0] for c in MUAP_CONDITIONS])
    hi = np.array([MUAP_CONDITION_RANGES[c][1] for c in MUAP_CONDITIONS])
    cond_num = lo + rng.random((n_num, 6)) * (hi - lo)
    cond_gen = lo + rng.random((n_gen, 6)) * (hi - lo)
    gen, kind = _generator(generator_path)
    setup = DEFAULT_SETUP
    size = f"{setup.rows}×{setup.cols} grid × {setup.n_samples} samples @ {setup.fs:g} Hz"
    if gen.out_shape != (setup.rows, setup.cols, setup.n_samples):
        bench.note(f"generator output {gen.out_shape} differs from the numerical model's; rates are per MUAP")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        numerical_muaps(cond_num[:1])  # kernel table, once per process
        t_num, t_gen = time_pair(lambda: numerical_muaps(cond_num), lambda: gen.generate(cond_gen, batch_size=BATCH),
                                 repeats=repeats, warmup=1)
        num_rate = n_num / t_num.median
        gen_rate = n_gen / t_gen.median
        bench.add(Row(
            item=f"MUAPs/s, generator (PyTorch, 1 thread, batch {BATCH}) vs numerical model; {size}",
            myoflow=gen_rate, reference="numerical model (per-fibre, NumPy)", reference_value=num_rate,
            unit="MUAPs/s", ratio=gen_rate / num_rate, ratio_label="generator rate / numerical rate (speed-up)",
            goal="≥ 100×", goal_op=">=", goal_value=100.0,
            note=(f"{kind} generator, {gen.n_parameters(decoder_only=True):,} decoder parameters; "
                  f"{n_gen} generated vs {n_num} numerical MUAPs per repeat, medians of {repeats} interleaved repeats; "
                  f"numerical {1e3 / num_rate:.0f} ms per MUAP."),
            details={"numerical": t_num.as_dict(), "generator": t_gen.as_dict(), "n_numerical": n_num,
                     "n_generated": n_gen, "generator_kind": kind}))
        # both threads
        torch.set_num_threads(max(threads, 1))
        t_gen2 = time_repeats(lambda: gen.generate(cond_gen, batch_size=BATCH), repeats=repeats)
        bench.add(Row(
            item=f"MUAPs/s, generator (PyTorch, {max(threads, 1)} threads) vs numerical model",
            myoflow=n_gen / t_gen2.median, reference="numerical model", reference_value=num_rate, unit="MUAPs/s",
            ratio=n_gen / t_gen2.median / num_rate, ratio_label="speed-up",
            note="thread scaling, context only (no goal): same numerical figure as above (single-process NumPy); "
                 "on a loaded 2-core machine a second thread can slow PyTorch down",
            details={"generator": t_gen2.as_dict()}))
        torch.set_num_threads(1)
        # ONNX Runtime
        try:
            import onnxruntime as ort

            from myoflow.models.muap_generator import export_generator_onnx

            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "g.onnx"
                rel = export_generator_onnx(gen, path)
                so = ort.SessionOptions()
                so.intra_op_num_threads = 1
                so.inter_op_num_threads = 1
                sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
                c32 = cond_gen.astype(np.float32)
                z = np.zeros((BATCH, gen.latent_dim), np.float32)

                def run_ort():
                    for s in range(0, n_gen, BATCH):
                        cb = c32[s:s + BATCH]
                        sess.run(None, {"conditions": cb, "z": z[: len(cb)]})

                t_ort = time_repeats(run_ort, repeats=repeats)
            bench.add(Row(
                item=f"MUAPs/s, generator (ONNX Runtime, 1 thread, batch {BATCH}) vs numerical model",
                myoflow=n_gen / t_ort.median, reference="numerical model", reference_value=num_rate,
                unit="MUAPs/s", ratio=n_gen / t_ort.median / num_rate, ratio_label="speed-up", goal="≥ 100×",
                goal_op=">=", goal_value=100.0, note=f"ONNX output within {rel:.1e} (relative) of PyTorch",
                details={"onnx": t_ort.as_dict(), "onnx_rel_diff": rel}))
        except ImportError as exc:
            bench.not_available("generator via ONNX Runtime", f"onnxruntime missing ({exc})")
        # fast analytic path, for context
        geom = conditions_to_geometry(cond_gen[:n_gen // 4])
        dur = setup.n_samples / setup.fs * 1e3
        t_fast = time_repeats(lambda: fast_muaps(geom, setup.tissue, setup.electrodes(), setup.fs, duration_ms=dur),
                              repeats=repeats)
        fast_rate = (n_gen // 4) / t_fast.median
        bench.add(Row(
            item="MUAPs/s, generator (PyTorch, 1 thread) vs fast analytic path (12 fibre clusters)",
            myoflow=gen_rate, reference="fast_muaps (NumPy, vectorised)", reference_value=fast_rate,
            unit="MUAPs/s", ratio=gen_rate / fast_rate, ratio_label="generator rate / fast-path rate",
            note="context only: the fast path is a coarser approximation of the same physics, not what the "
                 "generator mimics", details={"fast": t_fast.as_dict(), "n_fast": n_gen // 4}))
    finally:
        torch.set_num_threads(threads)
    bench.note("The numerical model is what the generator is trained to mimic (accuracy: nRMSE in the "
               "muap-generator run's metrics.json); speed does not depend on the generator's weights.")
    return bench.write()


def main(argv: list[str] | None = None) -> int:
    p = bench_argparser(__doc__.splitlines()[0])
    p.add_argument("--generator", default=None, help="trained generator (run dir, exported folder or .safetensors)")
    args = p.parse_args(argv)
    setup_logging(args.verbose)
    print(run(args.quick, args.results_dir, args.generator))
    return 0


if __name__ == "__main__":
    sys.exit(main())
