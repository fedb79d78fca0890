"""The contract between the generic runner and each paper pipeline.

A :class:`Pipeline` knows its science (data, folds, models, metrics); the runner
(:mod:`myoflow.experiments.runner`) knows the engineering (run directories,
atomic writes, resume, process pool / Ray, reports). The runner calls, in order::

    data    = pipeline.prepare(cfg, cache_dir)          # once, in the parent process
    folds   = pipeline.folds(cfg, data)                  # list[Fold], ids unique & stable
    result  = pipeline.run_fold(cfg, data, fold, ctx)    # per fold, possibly in a worker
    summary = pipeline.summarize(cfg, data, results)     # -> metrics.json["summary"]
    rows    = pipeline.headline(summary)                 # -> paper-vs-ours table
    figs    = pipeline.figures(cfg, summary, predictions, run_dir)   # -> report

``run_fold`` must be a pure function of (cfg, data, fold): it seeds itself from
``ctx.seed`` (derived from the config seed and the fold id), so results are
identical whatever executor or order runs the folds, and a resumed run matches
an uninterrupted one.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from ..config import ExperimentConfig

__all__ = ["Fold", "FoldContext", "FoldResult", "Headline", "Pipeline"]


@dataclass(frozen=True)
class Fold:
    """One unit of work for the runner.

    Attributes
    ----------
    id : str
        Unique, filesystem-safe, stable across runs (e.g. ``"25Hz-k3"``, ``"loso-S007"``).
    condition : str
        Grouping for the summary (e.g. ``"25Hz"``, ``"all"``, ``"intra/4class"``, ``"walk45"``).
    payload : dict
        Pipeline-specific, picklable (e.g. train/test index arrays, subject lists).
    seed_key : str, optional
        What the fold's seed derives from; default its ``id``. A fold renamed for display keeps its old id
        here, so renaming moves no number.
    """

    id: str
    condition: str
    payload: dict[str, Any] = field(default_factory=dict)
    seed_key: str | None = None


@dataclass(frozen=True)
class FoldContext:
    """What the runner hands to ``run_fold`` besides the data."""

    seed: int                  # derived from cfg.seed and fold.id (stable hash)
    device: str                # "cpu" or "cuda"
    workdir: Path              # scratch folder for this fold (may hold partial checkpoints)
    progress: bool = False     # whether the fold may show its own progress bar


@dataclass
class FoldResult:
    """Everything one fold produced.

    Attributes
    ----------
    fold_id, condition : str
        Copied from the :class:`Fold`.
    metrics : dict[str, dict[str, float]]
        Per model (``"attention_bilstm"``, ``"baseline_logreg"``, ...), flat scalar metrics.
    predictions : DataFrame
        One row per evaluated sample, with at least ``model``, ``subject``, ``truth``,
        ``prediction`` (classification) or ``truth_*``/``pred_*`` columns (regression),
        and ``prob_<class>`` columns where available. The runner adds ``fold`` and ``condition``.
    curves : dict[str, dict[str, list[float]]]
        Per model, training curves (``train_loss``, ``val_loss``, ...).
    state_dicts : dict[str, dict[str, Any]]
        Per model, a torch ``state_dict`` (tensors) saved as safetensors checkpoints.
    extras : dict
        JSON-able extras (attention maps summary, confusion matrices, model config, ...).
    """

    fold_id: str
    condition: str
    metrics: dict[str, dict[str, float]]
    predictions: pd.DataFrame
    curves: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    state_dicts: dict[str, dict[str, Any]] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Headline:
    """One row of the paper-vs-ours table."""

    label: str                    # e.g. "25 Hz accuracy"
    ours: float | None
    ci: tuple[float, float] | None = None
    paper: float | str | None = None
    note: str = ""
    #: How many independent items the figure rests on (held-out units, test subjects ...), and what they are
    #: (a plural noun: "held-out units"); printed beside the figure on the console and in report.html.
    n: int | None = None
    n_of: str = ""


class Pipeline(ABC):
    """A paper protocol, pluggable into the runner. Subclasses are stateless."""

    name: ClassVar[str]
    config_class: ClassVar[type[ExperimentConfig]]
    description: ClassVar[str] = ""
    #: Models ``myoflow export`` takes, in this order, when none is named (the paper's model first).
    export_models: ClassVar[tuple[str, ...]] = ()
    #: Folds ``myoflow export`` takes first when none is named: a name, or its prefix before ``-`` (``final``
    #: takes ``final-all`` and ``final-25Hz``), e.g. the fold trained on every subject.
    export_folds: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def prepare(self, cfg: ExperimentConfig, cache_dir: Path) -> Any:
        """Load or simulate the data (deterministic for ``cfg``); must be picklable."""

    @abstractmethod
    def folds(self, cfg: ExperimentConfig, data: Any) -> list[Fold]:
        """All folds of the protocol (subject-wise; leakage-checked)."""

    @abstractmethod
    def run_fold(self, cfg: ExperimentConfig, data: Any, fold: Fold, ctx: FoldContext) -> FoldResult:
        """Fit on the fold's training part only; evaluate on its test part."""

    @abstractmethod
    def summarize(self, cfg: ExperimentConfig, data: Any, results: list[FoldResult]) -> dict[str, Any]:
        """Aggregate metrics (with subject-bootstrap CIs) for ``metrics.json['summary']``."""

    def headline(self, summary: dict[str, Any]) -> list[Headline]:
        """Rows for the paper-vs-ours table (default: none)."""
        return []

    def figures(self, cfg: ExperimentConfig, summary: dict[str, Any], predictions: pd.DataFrame,
                run_dir: Path) -> list[tuple[str, Path]]:
        """Write PNG figures under ``run_dir/figures`` and return (title, path) pairs for the report."""
        return []

    def fold_cost(self, cfg: ExperimentConfig, data: Any, fold: Fold) -> float | None:
        """Relative cost of ``fold`` (any unit, larger = longer), or ``None`` if unknown (the default).

        The runner starts the folds longest first when every fold has a cost (the classic
        longest-processing-time order): with 2 workers the last long fold no longer runs alone
        at the end while the other worker idles. Order never changes results (each fold is
        seeded from its id).
        """
        return None

    # ---- export / inference (optional; used by `myoflow export` and `predict`)
    def build_model(self, cfg: ExperimentConfig, model_name: str, extras: dict[str, Any]):
        """Rebuild the untrained ``torch.nn.Module`` for ``model_name`` of a fold.

        ``extras`` is that fold's ``FoldResult.extras`` (store input sizes, class
        names and scaler parameters there). Return ``None`` if the model is not a
        torch module (e.g. a scikit-learn baseline).
        """
        return None

    def example_inputs(self, cfg: ExperimentConfig, model_name: str, extras: dict[str, Any]) -> tuple:
        """Example input arrays (batch axis first) for ONNX export of ``model_name``."""
        raise NotImplementedError(f"pipeline {self.name!r} does not support export of {model_name!r}")
