"""Training-engine overhead: myoflow's engine vs a bare PyTorch loop, time per epoch, same model and data.

Issue 13, item 2. ``myoflow.train.fit_module`` (the one engine every network trains
with: index-tensor batching, optimiser, optional schedule/clipping/AMP, history,
early-stopping bookkeeping) against the smallest honest PyTorch loop that does the
same work: ``randperm`` → slice → forward → cross-entropy → backward → Adam step →
``float(loss)`` per batch. Both start from the same weights (a deep copy), use the
same batch size and seed, interleaved (a, b, b, a, ...); on one torch thread the
judged figure is the process's CPU time per epoch (median), which other jobs on
the shared machine do not inflate as they do wall time (reported beside it).

Models: the seed-001 CNN-LSTM on 500-sample windows (the muscle-id estimator's
default sizes), a small MLP on 6-feature rows (the seed-002 baseline's shape),
where per-batch overhead weighs most, seed 000's attention Bi-LSTM on
100-step stimulus-locked sequences, and seed 003's MUAP generator decoder
(conditions + latent → grid MUAP, mean squared error); each on 1 torch thread (judged on CPU time)
and on 2 (judged on wall time), with samples per second in the note. No validation set: what is measured is the
loop, not the validation pass (which both would run alike).

Run: ``python benchmarks/bench_engine.py [--quick]`` → ``benchmarks/results/engine.json``.
"""
from __future__ import annotations

import copy
import logging
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Benchmark, Row, bench_main  # noqa: E402

log = logging.getLogger("bench.engine")


def _cnn_lstm(n: int):
    import torch
    from myoflow.models.cnn_lstm import CNNLSTM, CNNLSTMClassifier

    cfg = CNNLSTMClassifier().module_config(4, 1)  # the estimator's default sizes
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = CNNLSTM(**cfg)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, 1, 500)).astype(np.float32)
    y = rng.integers(0, 4, n).astype(np.int64)
    return model, X, y, f"CNN-LSTM, {n} windows × 500 samples, batch 64", 64


def _mlp(n: int):
    import torch
    from myoflow.models.gait_mlp import KinematicsEmgMLP

    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = KinematicsEmgMLP(6, 4)  # classification head of 4 for the shared loss; paper-sized trunk
    rng = np.random.default_rng(1)
    X = rng.standard_normal((n, 6)).astype(np.float32)
    y = rng.integers(0, 4, n).astype(np.int64)
    return model, X, y, f"MLP 6→119→116→4, {n} rows, batch 256", 256


def _bilstm(n: int):
    import torch
    from myoflow.models.attention_bilstm import AttentionBiLSTM

    class Logits(torch.nn.Module):  # the model returns (logits, attention); both loops train on the logits
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, x):
            return self.net(x)[0]

    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = Logits(AttentionBiLSTM(10, 4))  # seed 000's shape: 2 muscles x 5 frequencies per pulse
    rng = np.random.default_rng(2)
    X = rng.standard_normal((n, 100, 10)).astype(np.float32)  # 100 stimulus-locked steps (4 s at 25 Hz)
    y = rng.integers(0, 4, n).astype(np.int64)
    return model, X, y, f"attention Bi-LSTM, {n} sequences × 100 steps × 10 features, batch 32", 32


def _generator(n: int):
    import torch
    from myoflow.models.muap_generator import DEFAULT_CONDITION_RANGES, MUAPDecoder

    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = MUAPDecoder((10, 4, 96), cond_fourier=4)  # the pipeline's decoder on a 10 x 4 grid, 96 samples
    rng = np.random.default_rng(3)
    lo, hi = np.array(list(DEFAULT_CONDITION_RANGES.values())).T
    cond = (lo + (hi - lo) * rng.random((n, lo.size))).astype(np.float32)
    z = rng.standard_normal((n, 16)).astype(np.float32)
    y = rng.standard_normal((n, 10, 4, 96)).astype(np.float32)
    return model, [cond, z], y, f"MUAP generator decoder (6 conditions + 16 latent → 10×4×96), {n} MUAPs, batch 64", 64


def _loss_for(y):
    import torch

    # integer targets: the classifiers' cross-entropy; float targets: the generator's mean squared error
    return torch.nn.functional.cross_entropy if y.dtype.kind in "iu" else torch.nn.functional.mse_loss


def _inputs(X) -> list:
    return list(X) if isinstance(X, (list, tuple)) else [X]


def _bare(model, X, y, epochs: int, batch_size: int, seed: int = 0):
    """The reference: a plain PyTorch loop on in-memory tensors."""
    import torch

    Xt, yt = [torch.as_tensor(x) for x in _inputs(X)], torch.as_tensor(y)
    loss_fn = _loss_for(y)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(seed)
    n = len(yt)
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen)
        total = 0.0
        for start in range(0, n, batch_size):
            idx = perm[start:start + batch_size]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(*[x[idx] for x in Xt]), yt[idx])
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
    return total / n


def _engine(model, X, y, epochs: int, batch_size: int, seed: int = 0):
    from myoflow.train import fit_module

    return fit_module(model, _inputs(X), y, _loss_for(y), epochs=epochs, batch_size=batch_size,
                      lr=1e-3, patience=None, seed=seed, device="cpu")


def _cpu_pair(fn_a, fn_b, repeats: int, warmup: int = 1) -> dict[str, list[float]]:
    """Interleaved (a, b / b, a) repeats; CPU seconds of this process and wall seconds of each call.

    With one torch thread the process's CPU time is the loop's own cost: unlike wall time it is
    not inflated by whatever else the (shared, 2-core) machine runs meanwhile.
    """
    import gc
    import time

    for _ in range(warmup):
        fn_a()
        fn_b()
    out: dict[str, list[float]] = {"cpu_a": [], "cpu_b": [], "wall_a": [], "wall_b": []}
    for i in range(repeats):
        for key, fn in (("a", fn_a), ("b", fn_b)) if i % 2 == 0 else (("b", fn_b), ("a", fn_a)):
            gc.collect()
            c0, w0 = time.process_time(), time.perf_counter()
            fn()
            out[f"cpu_{key}"].append(time.process_time() - c0)
            out[f"wall_{key}"].append(time.perf_counter() - w0)
    return out


def run(quick: bool, results_dir: Path) -> Path:
    import torch

    bench = Benchmark("engine", "Training engine vs a bare PyTorch loop", quick=quick, results_dir=results_dir)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        epochs, repeats = (2, 3) if quick else (2, 9)
        sizes = ((_cnn_lstm, 256 if quick else 1024), (_mlp, 4096 if quick else 32768),
                 (_bilstm, 128 if quick else 512), (_generator, 256 if quick else 2048))
        for n_threads in (1, 2):
            torch.set_num_threads(n_threads)
            for build, n in sizes:
                item = "?"
                try:
                    model, X, y, item, bs = build(n)
                    item = f"{item}, {n_threads} thread(s)"
                    m_engine, m_bare = copy.deepcopy(model), copy.deepcopy(model)
                    # identical start and batch order: the two loops must also agree numerically
                    hist = _engine(copy.deepcopy(model), X, y, 1, bs)
                    bare_loss = _bare(copy.deepcopy(model), X, y, 1, bs)
                    t = _cpu_pair(lambda: _engine(m_engine, X, y, epochs, bs),
                                  lambda: _bare(m_bare, X, y, epochs, bs), repeats=repeats)
                    med = {k: float(np.median(v)) for k, v in t.items()}
                    # 1 thread: process CPU time (robust to other jobs); 2 threads: wall time (CPU time would
                    # count both threads, and what a user waits for is the wall clock)
                    clock = "cpu" if n_threads == 1 else "wall"
                    per_e, per_b = med[f"{clock}_a"] / epochs, med[f"{clock}_b"] / epochs
                    other = "wall" if clock == "cpu" else "cpu"
                    bench.add(Row(
                        item=f"{item}: {'CPU' if clock == 'cpu' else 'wall'} time per epoch", myoflow=per_e,
                        reference="bare PyTorch loop", reference_value=per_b, unit="s", ratio=per_e / per_b,
                        ratio_label="engine / bare loop", goal="≤ 1.1×", goal_op="<=", goal_value=1.1,
                        note=(f"{n / per_e:,.0f} vs {n / per_b:,.0f} samples/s; {epochs} epochs per repeat, median "
                              f"of {repeats} interleaved repeats of {'process CPU' if clock == 'cpu' else 'wall'} "
                              f"time ({other}-time median ratio {med[f'{other}_a'] / med[f'{other}_b']:.3f}); "
                              f"first-epoch loss engine {hist.train_loss[0]:.6f} vs bare {bare_loss:.6f}"),
                        details={"seconds": t, "threads": n_threads, "judged_on": clock,
                                 "samples_per_s": [n / per_e, n / per_b],
                                 "first_epoch_loss": [hist.train_loss[0], bare_loss]}))
                except Exception as exc:  # noqa: BLE001 - one failing model must not lose the other rows
                    log.exception("%s failed", item)
                    bench.failed(item, exc, reference="bare PyTorch loop", goal="≤ 1.1×")
    finally:
        torch.set_num_threads(threads)
    bench.note("Both loops batch by index tensors over in-memory tensors (no DataLoader); the engine adds its "
               "bookkeeping (history, callbacks, early-stopping state, optional AMP/clipping/schedule).")
    return bench.write()


def main(argv: list[str] | None = None) -> int:
    return bench_main(__doc__, run, argv)


if __name__ == "__main__":
    sys.exit(main())
