"""A tiny, fast pipeline that exercises the runner (used by its tests and examples).

Synthetic two-class feature vectors per subject (a subject offset makes
subject-wise evaluation matter), a torch logistic-regression head, k subject
folds. It shows the minimum a :class:`~myoflow.experiments.base.Pipeline` needs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..config import ExperimentConfig
from .base import Fold, FoldContext, FoldResult, Headline, Pipeline

__all__ = ["ToyConfig", "ToyPipeline"]


@dataclass
class ToyData:
    subjects: int = 8
    samples_per_subject: int = 40
    features: int = 6
    separation: float = 1.0


@dataclass
class ToyEvaluate:
    n_splits: int = 4


@dataclass
class ToyConfig(ExperimentConfig):
    data: ToyData = field(default_factory=ToyData)
    evaluate: ToyEvaluate = field(default_factory=ToyEvaluate)
    sleep_s: float = 0.0  # per fold, to give kill/resume tests a window


class ToyPipeline(Pipeline):
    name = "toy"
    config_class = ToyConfig
    description = "synthetic runner test"

    def prepare(self, cfg: ToyConfig, cache_dir: Path) -> dict[str, Any]:
        rng = np.random.default_rng(cfg.seed)
        d = cfg.data
        n = d.subjects * d.samples_per_subject
        subj = np.repeat([f"S{i:02d}" for i in range(d.subjects)], d.samples_per_subject)
        y = rng.integers(0, 2, n)
        offsets = rng.normal(0, 0.5, (d.subjects, d.features))
        X = rng.normal(0, 1, (n, d.features)) + offsets[np.repeat(np.arange(d.subjects), d.samples_per_subject)]
        X[:, 0] += d.separation * (2 * y - 1)
        return {"X": X.astype(np.float32), "y": y, "subject": subj}

    def folds(self, cfg: ToyConfig, data: dict[str, Any]) -> list[Fold]:
        from sklearn.model_selection import GroupKFold

        gkf = GroupKFold(n_splits=cfg.evaluate.n_splits)
        out = []
        for k, (tr, te) in enumerate(gkf.split(data["X"], data["y"], data["subject"])):
            out.append(Fold(id=f"k{k}", condition="all", payload={"train": tr, "test": te}))
        return out

    def build_model(self, cfg: ToyConfig, model_name: str, extras: dict[str, Any]):
        import torch

        return torch.nn.Sequential(torch.nn.Linear(int(extras["n_features"]), 2), torch.nn.Softmax(dim=-1))

    def example_inputs(self, cfg: ToyConfig, model_name: str, extras: dict[str, Any]) -> tuple:
        return (np.zeros((1, int(extras["n_features"])), dtype=np.float32),)

    def run_fold(self, cfg: ToyConfig, data: dict[str, Any], fold: Fold, ctx: FoldContext) -> FoldResult:
        import time

        import torch

        from ..train import fit_module, predict_module, torch_seed

        tr, te = fold.payload["train"], fold.payload["test"]
        mean, std = data["X"][tr].mean(0), data["X"][tr].std(0) + 1e-8  # fitted on the training fold only
        Xtr, Xte = (data["X"][tr] - mean) / std, (data["X"][te] - mean) / std
        extras = {"n_features": int(Xtr.shape[1]), "mean": mean.tolist(), "std": std.tolist()}
        with torch_seed(ctx.seed):
            model = self.build_model(cfg, "logreg", extras)
        nll = torch.nn.NLLLoss()
        hist = fit_module(model, [Xtr], data["y"][tr].astype(np.int64),
                          lambda p, t: nll(torch.log(p + 1e-9), t),
                          epochs=cfg.train.epochs, batch_size=cfg.train.batch_size, lr=cfg.train.lr,
                          seed=ctx.seed, device=ctx.device)
        proba = predict_module(model, [Xte], device=ctx.device)
        pred = proba.argmax(1)
        if cfg.sleep_s:
            time.sleep(cfg.sleep_s)
        acc = float((pred == data["y"][te]).mean())
        preds = pd.DataFrame({"model": "logreg", "subject": data["subject"][te], "truth": data["y"][te],
                              "prediction": pred, "prob_0": proba[:, 0], "prob_1": proba[:, 1]})
        return FoldResult(fold.id, fold.condition, {"logreg": {"accuracy": acc}}, preds,
                          curves={"logreg": hist.as_curves()},
                          state_dicts={"logreg": model.state_dict()}, extras=extras)

    def summarize(self, cfg: ToyConfig, data: Any, results: list[FoldResult]) -> dict[str, Any]:
        preds = pd.concat([r.predictions for r in results], ignore_index=True)
        return {"accuracy": float((preds["truth"] == preds["prediction"]).mean()), "n": len(preds)}

    def headline(self, summary: dict[str, Any]) -> list[Headline]:
        return [Headline("pooled accuracy", summary["accuracy"], None, None, "synthetic")]
