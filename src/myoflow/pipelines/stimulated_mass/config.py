"""Typed config of the stimulated-mass pipeline (``configs/stimulated_mass.yaml``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ...config import ExperimentConfig, ModelSpec, check_names
from ...errors import ConfigError
from ...models import check_model_spec

__all__ = ["DataSection", "PreprocessSection", "EvaluateSection", "TuneSection", "StimulatedMassConfig",
           "ALL_MODELS", "NEURAL_MODELS"]

#: Neural models (Bi-LSTM variants) and their estimator switches.
NEURAL_MODELS = {
    "attention_bilstm": {"use_attention": True, "use_covariates": True},
    "bilstm_no_covariates": {"use_attention": True, "use_covariates": False},
    "bilstm_no_attention": {"use_attention": False, "use_covariates": True},
}
#: Every model the pipeline knows, neural and scikit-learn.
ALL_MODELS = tuple(NEURAL_MODELS) + (
    "covariates_logreg", "descriptors_gb", "descriptors_logreg", "ptp_logreg", "oracle_truth_logreg",
)


@dataclass
class DataSection:
    """Where the evoked cohort comes from.

    ``source: simulate`` runs :func:`myoflow.simulate.protocols.evoked.simulate_evoked`
    (``subjects``, ``seed``, ``frequencies``, ``train_s``, ``fs``). ``source: folder``
    reads a standard dataset folder at ``path`` (what ``myoflow simulate evoked`` writes):
    one recording per subject × muscle × frequency with meta ``subject``, ``muscle``,
    ``frequency`` and ``stimulus`` events (detected from the artefact when absent), and
    ``participants.csv`` with ``subject``, the ``label`` column and the covariates.
    """

    source: Literal["simulate", "folder"] = "simulate"
    path: Path | None = None
    subjects: int = 90
    seed: int = 0
    frequencies: list[float] = field(default_factory=lambda: [5.0, 10.0, 15.0, 20.0, 25.0])
    train_s: float = 4.0
    fs: float = 2000.0
    muscles: list[str] = field(default_factory=lambda: ["RF", "BF"])
    label: str = "mass_class"
    classes: list[str] = field(default_factory=lambda: ["low", "normal", "high"])
    covariates: list[str] = field(default_factory=lambda: ["age", "sex", "height", "weight", "bmi"])
    oracle_features: list[str] = field(default_factory=lambda: [
        "true_csa_RF", "true_csa_BF", "true_fat_RF", "true_fat_BF", "sex", "height"])

    def __post_init__(self) -> None:
        if self.source == "folder" and self.path is None:
            raise ConfigError("data.path is required when data.source is 'folder'")
        if self.subjects < 6:
            raise ConfigError(f"data.subjects must be >= 6, got {self.subjects}")
        if not self.frequencies:
            raise ConfigError("data.frequencies must list at least one stimulation frequency")
        if len(self.classes) < 2:
            raise ConfigError("data.classes needs at least two classes")
        from ...preprocess.scalers import check_not_ground_truth

        check_not_ground_truth(self.covariates, self.label, "data.covariates")


@dataclass
class PreprocessSection:
    """Response extraction and the sequence input (see :mod:`.features`)."""

    window_ms: tuple[float, float] = (0.0, 35.0)
    blank_ms: tuple[float, float] = (0.5, 3.0)
    highpass_hz: float | None = 10.0
    representation: Literal["waveform", "train"] = "waveform"
    decimate: int = 2
    augment: int = 8
    amplitude: Literal["linear", "log_split"] = "log_split"
    #: Multi-frequency conditions: ``stack`` one channel per muscle × frequency, or ``pool``
    #: each muscle's features averaged over the frequencies (see :mod:`.combine`).
    combine: Literal["stack", "pool"] = "stack"

    def __post_init__(self) -> None:
        if self.combine == "pool" and self.representation != "waveform":
            raise ConfigError("preprocess.combine: pool needs preprocess.representation: waveform")
        if self.window_ms[1] <= self.window_ms[0]:
            raise ConfigError(f"preprocess.window_ms must be increasing, got {self.window_ms}")
        if self.decimate < 1 or self.augment < 0:
            raise ConfigError("preprocess.decimate must be >= 1 and preprocess.augment >= 0")


@dataclass
class EvaluateSection:
    """Subject-wise evaluation: splitter, conditions, models, bootstrap."""

    splitter: Literal["kfold", "loso"] = "kfold"
    n_splits: int = 5
    conditions: list[str] = field(default_factory=lambda: ["5Hz", "10Hz", "15Hz", "20Hz", "25Hz", "all"])
    models: list[str] = field(default_factory=lambda: list(ALL_MODELS))
    n_boot: int = 1000
    final_model: bool = True

    def __post_init__(self) -> None:
        check_names(self.models, ALL_MODELS, "evaluate.models", "model")
        if not self.conditions:
            raise ConfigError("evaluate.conditions must not be empty")


@dataclass
class TuneSection:
    """Nested recipe selection (``tune:``), inside each outer TRAINING fold (off by default).

    For every fold and neural model, :func:`.tuning.select_recipe` scores each configuration of
    ``grid`` by ``n_inner`` subject-wise folds over the fold's training subjects only and the best
    one is refitted on the whole training fold; the choice, the subjects it was made on and every
    inner score go into the fold record, ``metrics.json`` and the report. ``grid`` keys are
    ``preprocess`` fields (``combine``, ``amplitude``, ``augment``, ``representation``, ``decimate``)
    or MassLevelClassifier parameters (``n_members``, ``lr``, ``dropout``, ...).
    """

    enabled: bool = False
    grid: dict[str, list[Any]] = field(default_factory=lambda: {
        "n_members": [1, 3, 5], "combine": ["pool", "stack"], "lr": [0.001, 0.003]})
    n_inner: int = 3

    def __post_init__(self) -> None:
        if self.n_inner < 2:
            raise ConfigError(f"tune.n_inner must be >= 2, got {self.n_inner}")
        if not isinstance(self.grid, dict) or not self.grid or any(
                not isinstance(v, list) or not v for v in self.grid.values()):
            raise ConfigError("tune.grid must map each parameter to a non-empty list of values, e.g. "
                              "{n_members: [1, 3, 5], combine: [pool, stack]}")


@dataclass
class StimulatedMassConfig(ExperimentConfig):
    """Seed 000 (Khan et al.): muscle-mass level from electrically stimulated sEMG."""

    data: DataSection = field(default_factory=DataSection)
    preprocess: PreprocessSection = field(default_factory=PreprocessSection)
    #: ``name: attention_bilstm``; ``params`` are :class:`~myoflow.models.attention_bilstm.MassLevelClassifier`'s
    #: (the ``train`` section fills epochs, lr, ...; the variant switches, covariates, classes, seed and device
    #: are set by the pipeline per model of ``evaluate.models``).
    model: ModelSpec = field(default_factory=lambda: ModelSpec("attention_bilstm"))
    evaluate: EvaluateSection = field(default_factory=EvaluateSection)
    tune: TuneSection = field(default_factory=TuneSection)

    def __post_init__(self) -> None:
        check_model_spec(self.model, "model", allowed=("attention_bilstm",))
        if not self.data.covariates and "covariates_logreg" in self.evaluate.models:
            # a logistic regression on nothing: refuse it here, not as a scikit-learn error inside the first fold
            raise ConfigError("evaluate.models: covariates_logreg needs covariates, and data.covariates is empty "
                              "(the participants table has none of age, sex, height, weight, bmi); leave it out")
        if self.tune.enabled:
            from ...models import check_params
            from .tuning import PREPROCESS_KEYS

            est_grid = {k: v for k, v in self.tune.grid.items() if k not in PREPROCESS_KEYS}
            for key in ("use_attention", "use_covariates", "covariates", "classes", "seed", "device"):
                if key in est_grid:
                    raise ConfigError(f"tune.grid.{key}: set by the pipeline, not a recipe choice")
            check_params("attention_bilstm", est_grid, "tune.grid")
            import typing

            from ...config import _convert

            hints = typing.get_type_hints(PreprocessSection)
            for key in set(self.tune.grid) - set(est_grid):  # same type checks as the preprocess section
                self.tune.grid[key] = [_convert(v, hints[key], f"tune.grid.{key}[{i}]")
                                       for i, v in enumerate(self.tune.grid[key])]
