"""Longest-first fold order (issue 19): Pipeline.fold_cost drives it; results never depend on it."""
from __future__ import annotations

import json

import numpy as np

from myoflow.experiments import load_config
from myoflow.experiments.base import Fold
from myoflow.experiments.runner import order_folds, run_experiment
from myoflow.experiments.toy import ToyPipeline

TOY = {
    "name": "toy-order", "pipeline": "toy", "seed": 3,
    "train": {"epochs": 2, "batch_size": 16, "lr": 0.05},
    "data": {"subjects": 6, "samples_per_subject": 10},
    "evaluate": {"n_splits": 3},
}


class _Costed(ToyPipeline):
    costs: dict = {}

    def fold_cost(self, cfg, data, fold):
        return self.costs.get(fold.id)


def test_order_folds_longest_first_stable_and_unchanged_without_costs():
    folds = [Fold(f"f{i}", "c") for i in range(5)]
    pipe = _Costed()
    pipe.costs = {"f0": 1.0, "f1": 5.0, "f2": 1.0, "f3": 9.0, "f4": 5.0}
    assert [f.id for f in order_folds(pipe, None, None, folds)] == ["f3", "f1", "f4", "f0", "f2"]
    pipe.costs = {"f0": 1.0, "f1": 5.0}  # some unknown: keep the pipeline's order
    assert [f.id for f in order_folds(pipe, None, None, folds)] == [f.id for f in folds]
    assert order_folds(ToyPipeline(), None, None, folds) == folds


def test_runner_starts_the_costliest_fold_first_and_metrics_do_not_change(tmp_path, monkeypatch):
    import myoflow.experiments.runner as runner

    cfg = load_config(TOY)
    plain = run_experiment(cfg, tmp_path / "plain", workers=1)
    ran = []
    original = runner._run_one

    def recording(fold, ctx, run_dir):
        ran.append(fold.id)
        return original(fold, ctx, run_dir)

    pipe = _Costed()
    pipe.costs = {"k0": 1.0, "k1": 2.0, "k2": 3.0}
    monkeypatch.setattr(runner, "get_pipeline", lambda name: pipe)
    monkeypatch.setattr(runner, "_run_one", recording)
    ordered = run_experiment(cfg, tmp_path / "ordered", workers=1)
    assert ran == ["k2", "k1", "k0"]
    assert json.dumps(plain["folds"], sort_keys=True) == json.dumps(ordered["folds"], sort_keys=True)
    assert plain["conditions"] == ordered["conditions"]


def test_muscle_id_fold_cost_counts_training_windows_and_networks():
    from myoflow.pipelines.muscle_id.config import MuscleIdConfig
    from myoflow.pipelines.muscle_id.pipeline import MuscleIdPipeline
    from myoflow.config import from_dict

    cfg = from_dict(MuscleIdConfig, {"name": "m", "pipeline": "muscle-id",
                                     "evaluate": {"models": ["cnn_lstm_pretrained", "cnn_lstm_random", "lda", "rf"]}})

    class _Ep:
        n_times = 500

    class _Cohort:
        epochs = _Ep()

    data = {"sim": _Cohort()}
    pipe = MuscleIdPipeline()
    loso = Fold("a", "sim/loso/4class", {"cohort": "sim", "scheme": "loso", "train": np.arange(800)})
    intra = Fold("b", "sim/intra/4class", {"cohort": "sim", "scheme": "intra", "train": np.arange(700)})
    final = Fold("c", "sim/final/4class", {"cohort": "sim", "scheme": "final", "train": np.arange(900)})
    c = {f.id: pipe.fold_cost(cfg, data, f) for f in (loso, intra, final)}
    assert c["a"] == 800 * 500 * 2.2 and c["b"] == 700 * 500 * 2.2
    assert c["c"] == 900 * 500 * 1.0  # the final fold trains one network and no baselines
    assert [f.id for f in order_folds(pipe, cfg, data, [intra, final, loso])] == ["a", "b", "c"]


def test_auto_pool_probes_the_cheapest_fold_and_scales_by_cost(tmp_path, monkeypatch):
    import myoflow.experiments.runner as runner

    ran, asked = [], []
    original = runner._run_one

    def recording(fold, ctx, run_dir):
        ran.append(fold.id)
        return original(fold, ctx, run_dir)

    def pays(per_fold, n_left, workers):
        asked.append((per_fold, n_left, workers))
        return False

    ticks = iter([10.0, 12.0])  # the probe fold "costs" 2 s of CPU
    pipe = _Costed()
    pipe.costs = {"k0": 1.0, "k1": 2.0, "k2": 3.0}
    monkeypatch.setenv("MYOFLOW_POOL", "auto")
    monkeypatch.setattr(runner, "get_pipeline", lambda name: pipe)
    monkeypatch.setattr(runner, "_run_one", recording)
    monkeypatch.setattr(runner, "pool_pays", pays)
    monkeypatch.setattr(runner.time, "process_time", lambda: next(ticks))
    run_experiment(load_config(TOY), tmp_path / "auto", workers=2)
    assert ran == ["k0", "k2", "k1"]  # the cheapest probes; the rest longest first, in-process (pays False)
    # the others' mean cost is 2.5x the probe's: 2 s -> 5 s per fold
    assert asked == [(5.0, 2, 2)]


def test_stimulated_mass_fold_cost_counts_subjects_and_networks():
    from myoflow.config import from_dict
    from myoflow.pipelines.stimulated_mass.config import StimulatedMassConfig
    from myoflow.pipelines.stimulated_mass.pipeline import StimulatedMassPipeline

    cfg = from_dict(StimulatedMassConfig, {"name": "s", "pipeline": "stimulated-mass",
                                           "evaluate": {"models": ["attention_bilstm", "bilstm_no_attention",
                                                                   "ptp_logreg"]},
                                           "model": {"name": "attention_bilstm", "params": {"n_members": 5}}})

    class _Data:
        frequencies = [5.0, 10.0, 15.0, 20.0, 25.0]

    pipe = StimulatedMassPipeline()
    tr = [f"S{i}" for i in range(72)]
    one = Fold("5Hz-k0", "5Hz", {"train": tr, "test": ["T"]})
    allf = Fold("all-k0", "all", {"train": tr, "test": ["T"]})
    final = Fold("final-all", "final", {"train": tr + [f"T{i}" for i in range(18)], "test": [], "features": "all"})
    c = {f.id: pipe.fold_cost(cfg, _Data(), f) for f in (one, allf, final)}
    assert c["5Hz-k0"] == c["all-k0"] == 72 * 10.1  # two neural models x 5 members + one baseline
    assert c["final-all"] == 90 * 5  # one network, no baselines
    assert [f.id for f in order_folds(pipe, cfg, _Data(), [final, one, allf])] == ["5Hz-k0", "all-k0", "final-all"]
