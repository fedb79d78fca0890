"""Typed configuration of the muscle-identification pipeline (seed 001)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ...config import ExperimentConfig, ModelSpec, check_names
from ...errors import ConfigError
from ...models import check_model_spec
from ...models.sim_pretrain import SimPretrainSpec
from .tasks import is_main_task

__all__ = ["CohortConfig", "PreprocessConfig", "EvaluateConfig", "TuneConfig", "DeepSpec", "MuscleIdConfig",
           "MODEL_NAMES", "DEFAULT_MODELS", "DEEP_MODELS", "SIMPRE_MODELS", "BURST_MODELS", "BASELINES",
           "DEEP_RECIPE_PARAMS", "DEEP_RECIPE_PER_MODEL"]

#: The new deep models (issue 14): evaluate.models name -> ``arch`` of the ``deep_window`` estimator.
DEEP_MODELS = {"emg_cnn": "cnn", "hybrid": "hybrid", "recipe_cnn_lstm": "cnn_lstm"}
#: The classic-feature baselines every deep model is compared against (paired, same folds).
BASELINES = ("lda", "rf")
#: The paper's models and the baselines: what runs unless evaluate.models names others.
DEFAULT_MODELS = ("cnn_lstm_pretrained", "cnn_lstm_random", "lda", "rf")
#: Simulator-pretrained twins of the new deep models (issue 14 item 3b): name -> the random-init twin.
#: Same recipe and folds as the twin; every member first learns on the ``sim_pretrain:`` cohort.
SIMPRE_MODELS = {f"{m}_simpre": m for m in DEEP_MODELS}
#: The burst representation (issue 14, grids): the channels of a burst window as ONE multichannel sample
#: (:mod:`myoflow.models.grid_burst`), beside the paper's channels-as-samples. Name -> (registry name, variant):
#: the ``deep_burst`` models take the ``deep`` section and an ``arch``; ``cnn_lstm_burst`` the ``model`` + ``train``
#: sections and ``pretrain`` (the paper's CNN-LSTM, setup 1 / 2). Every row of a burst gets the burst's prediction.
BURST_MODELS = {"emg_cnn_burst": ("deep_burst", "cnn"), "hybrid_burst": ("deep_burst", "hybrid"),
                "recipe_cnn_lstm_burst": ("deep_burst", "cnn_lstm"),
                "burst_cnn_lstm_pretrained": ("cnn_lstm_burst", True), "burst_cnn_lstm_random": ("cnn_lstm_burst", False)}
#: Models the pipeline can run in every fold.
MODEL_NAMES = (*DEFAULT_MODELS, *DEEP_MODELS, *SIMPRE_MODELS, *BURST_MODELS)


@dataclass
class CohortConfig:
    """One cohort: where its recordings come from and how many windows each burst gives.

    ``source``:
      * ``simulate`` — the ``grid`` protocol (L/R biceps brachii, L/R tibialis
        anterior, 4×4 dry grid; :func:`myoflow.simulate.protocols.grid.simulate_grid`).
      * ``folder`` — a standard dataset folder at ``path`` (what ``myoflow simulate
        grid --out DIR`` writes, or your own recordings in that format: one
        Recording per subject × muscle with ``meta`` ``subject``, ``muscle`` and
        ``side``; any channel count; see the module docstring of
        :mod:`myoflow.pipelines.muscle_id.pipeline`).
      * ``simulate-lowerlimb`` — the ``lowerlimb`` protocol, the simulated counterpart
        of the real set (:func:`myoflow.simulate.protocols.lowerlimb.simulate_lowerlimb`:
        10 s isometric VL/BF/TA/GL holds, one bipolar channel each, 2 kHz; set
        ``duration_s`` to the hold length, e.g. 10).
      * ``elderly-lowerlimb`` — the 30-subject real set (Silva et al. 2024), 4-class
        VL / BF / TA / GL: from each task's recording, the channel on the
        contracting muscle, labelled by that muscle.
    """

    source: Literal["simulate", "folder", "elderly-lowerlimb", "simulate-lowerlimb"] = "simulate"
    enabled: bool = True               # false: skip this cohort
    path: Path | None = None
    subjects: int | None = 9           # simulate: cohort size; otherwise: keep the first N subjects (None = all)
    seed: int = 0                      # simulation seed
    duration_s: float = 600.0          # simulate: seconds per muscle (paper: 10 min, ~120 contractions)
    channels_per_burst: int | None = None  # keep N evenly spread grid channels per burst (None = all)
    # bursts: TKEO-detected contractions, each a vote unit; whole: each recording is one sustained contraction
    # tiled into windows (its vote is per recording); auto: bursts, unless half the recordings or more have at
    # most one detected burst (sustained holds), then whole. Every source takes each.
    segmentation: Literal["bursts", "whole", "auto"] = "auto"
    windows_per_burst: int | None = 1  # consecutive windows from each onset (1 = the paper's onset window; null = all)
    block_windows: int = 1             # windows grouped into one split unit (never split by intra folds)
    #: Extra tasks made by grouping the classes: task name -> {group name: [classes]}, e.g.
    #: ``{thigh_vs_shank: {thigh: [RF, BF], shank: [TA, GL]}}``; classes are muscle names or the
    #: ``side-muscle`` labels of the main task. Every class must be in exactly one group.
    tasks: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.source == "folder" and self.path is None:
            raise ConfigError("data.<cohort>.path is required when source is 'folder'")
        if self.subjects is not None and self.subjects < 2:
            raise ConfigError(f"data.<cohort>.subjects must be >= 2 (or null), got {self.subjects}")
        if (self.windows_per_burst is not None and self.windows_per_burst < 1) or self.block_windows < 1:
            raise ConfigError("data.<cohort>.windows_per_burst and block_windows must be >= 1")
        if self.segmentation == "whole" and self.windows_per_burst == 1:
            # windows_per_burst counts windows from each segment's start: with whole recordings the bursts
            # default (1) would keep only the first 500 ms of every recording, and intra folds then find
            # one unit per subject and class. Say so rather than score a fraction of the data.
            raise ConfigError("data.<cohort>.segmentation 'whole' tiles each recording into windows, but "
                              "windows_per_burst=1 keeps only its first window: also set "
                              "data.<cohort>.windows_per_burst=null (all windows) and block_windows (windows per "
                              "split unit, e.g. 4)")
        if self.channels_per_burst is not None and self.channels_per_burst < 1:
            raise ConfigError("data.<cohort>.channels_per_burst must be >= 1 or null")
        if self.duration_s <= 0:
            raise ConfigError(f"data.<cohort>.duration_s must be > 0, got {self.duration_s}")
        if self.source == "simulate-lowerlimb" and self.duration_s > 60:
            raise ConfigError(f"data.<cohort>.duration_s is the isometric hold of source simulate-lowerlimb "
                              f"(the real set: 10 s); got {self.duration_s:g} s (> 60)")
        for task, groups in self.tasks.items():
            # <digits>class names the main task ({K}class, K = the cohort's class count; tasks.py)
            if is_main_task(task) or not task.replace("_", "").replace("-", "").isalnum():
                raise ConfigError(f"data.<cohort>.tasks: bad task name {task!r} (alphanumeric, not '<K>class', "
                                  "the name of the main task)")
            if len(groups) < 2:
                raise ConfigError(f"data.<cohort>.tasks.{task}: needs at least 2 groups, got {list(groups)}")
            seen: dict[str, str] = {}
            for g, members in groups.items():
                if not members:
                    raise ConfigError(f"data.<cohort>.tasks.{task}.{g}: lists no classes")
                for m in members:
                    if m in seen:
                        raise ConfigError(f"data.<cohort>.tasks.{task}: class {m!r} is in groups "
                                          f"{seen[m]!r} and {g!r}")
                    seen[m] = g


@dataclass
class PreprocessConfig:
    """Filtering → TKEO single-threshold burst detection → onset windows."""

    band_hz: tuple[float, float] = (20.0, 450.0)   # Delsys Trigno front end (paper §III-B)
    resample_hz: float | None = 1000.0             # the paper's rate; the real set (2 kHz) is brought to it
    notch_hz: float | None = 50.0                  # mains notch (+3rd, 5th harmonics); dry electrodes pick up a lot
    detector_k: float = 5.0                        # single TKEO threshold for the whole dataset (paper §III-B)
    detector_refine_k: float | None = 1.0          # backward onset search (ours; null = the paper's plain threshold)
    detector_refine_max_ms: float = 200.0
    detector_smooth_ms: float = 25.0
    detector_min_burst_ms: float = 300.0
    detector_min_gap_ms: float = 500.0
    window_ms: float = 500.0                       # paper: 500 ms from the onset
    pre_ms: float = 0.0

    def __post_init__(self) -> None:
        lo, hi = self.band_hz
        if not 0 < lo < hi:
            raise ConfigError(f"preprocess.band_hz must be (low, high) with 0 < low < high, got {self.band_hz}")
        if self.resample_hz is not None and hi >= 0.5 * self.resample_hz:
            raise ConfigError(f"preprocess.band_hz upper edge {hi:g} Hz must be below half of preprocess.resample_hz "
                              f"({self.resample_hz:g} Hz)")
        if self.window_ms <= 0 or not 0 <= self.pre_ms < self.window_ms:
            raise ConfigError("preprocess.window_ms must be > 0 and 0 <= pre_ms < window_ms")


@dataclass
class EvaluateConfig:
    """Validation scenarios, tasks and models."""

    # intra: 80/20 of each subject's bursts, by burst; loso: leave one subject out;
    # intra-channel: 80/20 by CHANNEL sample, so channels of one burst land on both sides — the
    # leaky split the paper's wording suggests; run only to measure how much it inflates accuracy.
    schemes: list[Literal["intra", "loso", "intra-channel"]] = field(default_factory=lambda: ["intra", "loso"])
    # separate: a dedicated model per binary task (the paper); collapsed: binary
    # scores read off the 4-class model's summed probabilities (no extra training).
    binary: Literal["separate", "collapsed", "none"] = "separate"
    intra_test_size: float = 0.2
    intra_repeats: int = 1
    loso_max_subjects: int | None = None   # hold out only the first N subjects (quick mode)
    # LOSO with only N training subjects per fold (drawn per fold from the others, seeded): the low-data
    # regime where simulator pretraining (the _simpre models) is meant to help. None: all the others.
    loso_train_subjects: int | None = None
    models: list[str] = field(default_factory=lambda: list(DEFAULT_MODELS))
    # binary: separate only — models of ``models`` and schemes of ``schemes`` the dedicated binary-task
    # folds leave out (the binary tasks would repeat the 4-class task's comparisons, pretrained vs random
    # init and leaky vs burst split, at the price of a full set of networks each). Empty: run everything.
    binary_skip_models: list[str] = field(default_factory=list)
    binary_skip_schemes: list[Literal["intra", "loso", "intra-channel"]] = field(default_factory=list)
    final_model: bool = True               # also train on all subjects (for `myoflow check-placement`)
    n_boot: int = 1000
    # Overrides of the ``train`` section for the paper's CNN-LSTM (cnn_lstm_pretrained / cnn_lstm_random) in the
    # intra-subject schemes (intra, intra-channel) only, e.g. {val_fraction: 0.0, epochs: 60}; LOSO and the final
    # model keep ``train``. Empty: ``train`` everywhere.
    intra_train: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_names(self.models, MODEL_NAMES, "evaluate.models", "model")
        if not self.models:
            raise ConfigError("evaluate.models must name at least one model")
        unknown = [m for m in self.binary_skip_models if m not in MODEL_NAMES]
        if unknown:
            raise ConfigError(f"evaluate.binary_skip_models: unknown model(s) {unknown}; choose from {list(MODEL_NAMES)}")
        if self.binary == "separate":
            if not [m for m in self.models if m not in self.binary_skip_models]:
                raise ConfigError("evaluate.binary_skip_models leaves the binary tasks no model; "
                                  "use evaluate.binary: collapsed or none instead")
            if not [s for s in self.schemes if s not in self.binary_skip_schemes]:
                raise ConfigError("evaluate.binary_skip_schemes leaves the binary tasks no scheme; "
                                  "use evaluate.binary: collapsed or none instead")
        if not 0 < self.intra_test_size < 1:
            raise ConfigError(f"evaluate.intra_test_size must be in (0, 1), got {self.intra_test_size}")
        if self.intra_repeats < 1:
            raise ConfigError("evaluate.intra_repeats must be >= 1")
        if self.loso_train_subjects is not None and self.loso_train_subjects < 3:
            raise ConfigError(f"evaluate.loso_train_subjects must be >= 3 (2 to train, 1 to early-stop) or null, "
                              f"got {self.loso_train_subjects}")
        if self.intra_train:
            from ...config import TrainConfig

            if not isinstance(self.intra_train, dict):
                raise ConfigError(f"evaluate.intra_train must be a mapping of train settings, got {self.intra_train!r}")
            fields = set(TrainConfig.__dataclass_fields__) - {"device"}
            unknown = sorted(set(self.intra_train) - fields)
            if unknown:
                raise ConfigError(f"evaluate.intra_train: unknown train setting(s) {unknown}; choose from "
                                  f"{sorted(fields)}")
            try:  # the same range checks as the train section itself
                TrainConfig(**self.intra_train)
            except TypeError as exc:
                raise ConfigError(f"evaluate.intra_train: {exc}") from None


@dataclass
class TuneConfig:
    """Nested selection of the new deep models' parameters (``tune:``), inside each outer TRAINING fold.

    For every fold and every deep model of ``evaluate.models``, :func:`myoflow.train.tune.select_params`
    runs ``n_inner`` subject-wise folds over the training subjects only and refits the best of ``grid``
    on the whole training fold; what was chosen, and on which subjects, goes into the fold's results.
    """

    enabled: bool = False
    grid: dict[str, list[Any]] = field(default_factory=lambda: {"lr": [1e-3, 3e-3]})
    n_inner: int = 3

    def __post_init__(self) -> None:
        if self.n_inner < 2:
            raise ConfigError(f"tune.n_inner must be >= 2, got {self.n_inner}")
        if not self.grid or any(not isinstance(v, list) or not v for v in self.grid.values()):
            raise ConfigError("tune.grid must map each parameter to a non-empty list of values, e.g. "
                              "{lr: [0.001, 0.003]}")


#: Recipe shared by the three deep models (``deep.params`` default): what the recipes chosen on the elderly set's
#: 6 DEVELOPMENT subjects 03, 04, 11, 18, 22, 30 have in common (``benchmarks/select_deep_recipe.py``, record
#: ``benchmarks/results/selection/deep_recipe_dev.json``): AdamW, cosine schedule, 30 epochs with no early
#: stopping, ±25 ms shifts and noise on training batches.
DEEP_RECIPE_PARAMS: dict[str, Any] = {"epochs": 30, "lr": 0.002, "weight_decay": 0.01, "patience": 10,
                                      "val_fraction": 0.0, "max_shift": 25, "noise": 0.05}
#: What each model's dev-chosen recipe adds (``deep.per_model`` default; same record). ``n_seeds`` is 1 for all.
DEEP_RECIPE_PER_MODEL: dict[str, dict[str, Any]] = {
    "emg_cnn": {"n_bands": 64},
    "hybrid": {"tta": 5},
    "recipe_cnn_lstm": {"mixup": 0.4, "n_bands": 64, "label_smoothing": 0.1, "weight_decay": 0.05, "tta": 5},
}
#: Parameters of the deep models that the pipeline sets (per model / scheme / fold), never the config.
_DEEP_FIXED = ("arch", "seed", "device", "val_group")


@dataclass
class DeepSpec(ModelSpec):
    """The ``deep:`` section: the new deep models' :class:`~myoflow.models.deep_classifier.DeepWindowClassifier`
    parameters.

    ``params`` apply to every deep model; ``per_model`` maps a model of :data:`DEEP_MODELS` (or a ``_simpre``
    twin) to parameters that override ``params`` for that model only (a ``_simpre`` model takes its twin's
    entry, then its own). Defaults: the recipes chosen on the elderly set's development subjects
    (:data:`DEEP_RECIPE_PARAMS`, :data:`DEEP_RECIPE_PER_MODEL`).
    """

    name: str = "deep_window"
    params: dict[str, Any] = field(default_factory=lambda: dict(DEEP_RECIPE_PARAMS))
    per_model: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {m: dict(p) for m, p in DEEP_RECIPE_PER_MODEL.items()})

    def params_for(self, model: str) -> dict[str, Any]:
        """The parameters of deep model ``model``: ``params``, then its twin's and its own ``per_model`` entry."""
        out = dict(self.params or {})
        twin = SIMPRE_MODELS.get(model)
        if twin is not None:
            out.update(self.per_model.get(twin) or {})
        out.update(self.per_model.get(model) or {})
        return out

    def check(self) -> None:
        """Validate names and parameters (one-line :class:`ConfigError` naming the key)."""
        check_model_spec(self, "deep", allowed=("deep_window",))
        for key in _DEEP_FIXED:
            if key in (self.params or {}):
                raise ConfigError(f"deep.params.{key}: set by the pipeline (choose the model in evaluate.models)")
        for model, over in (self.per_model or {}).items():
            if model not in DEEP_MODELS and model not in SIMPRE_MODELS:
                raise ConfigError(f"deep.per_model.{model}: not a deep model of this pipeline; expected one of "
                                  f"{[*DEEP_MODELS, *SIMPRE_MODELS]}")
            for key in _DEEP_FIXED:
                if key in (over or {}):
                    raise ConfigError(f"deep.per_model.{model}.{key}: set by the pipeline")
            check_model_spec(ModelSpec(self.name, self.params_for(model)), f"deep.per_model.{model}",
                             allowed=("deep_window",))


@dataclass
class MuscleIdConfig(ExperimentConfig):
    """``pipeline: muscle-id``. ``data`` maps a cohort prefix (``sim``, ``real``) to its source;
    a cohort with ``enabled: false`` is skipped."""

    data: dict[str, CohortConfig] = field(
        default_factory=lambda: {"sim": CohortConfig(), "real": CohortConfig(source="elderly-lowerlimb",
                                                                             subjects=None, segmentation="whole",
                                                                             windows_per_burst=None, block_windows=4)}
    )
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    #: The CNN-LSTM (``name: cnn_lstm``; params of :class:`~myoflow.models.cnn_lstm.CNNLSTMClassifier`;
    #: ``pretrain``, ``val_group``, ``class_weight``, seed and device are set per model/scheme by the pipeline).
    model: ModelSpec = field(default_factory=lambda: ModelSpec("cnn_lstm"))
    #: The classic-feature baselines ``lda``/``rf`` (params of :class:`~myoflow.models.feature_classifier.FeatureClassifier`;
    #: ``kind`` and seed are set by the pipeline).
    baseline: ModelSpec = field(default_factory=lambda: ModelSpec("feature_classifier"))
    #: The new deep models ``emg_cnn``/``hybrid``/``recipe_cnn_lstm`` of evaluate.models (params of
    #: :class:`~myoflow.models.deep_classifier.DeepWindowClassifier`; ``arch``, ``val_group``, seed and
    #: device are set by the pipeline; the ``train`` section is NOT used: they carry their own recipe).
    #: ``per_model`` overrides ``params`` for one model (:class:`DeepSpec`; default: the dev-chosen recipes).
    deep: DeepSpec = field(default_factory=DeepSpec)
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)
    tune: TuneConfig = field(default_factory=TuneConfig)
    #: Simulator pretraining of the ``<deep>_simpre`` models (:class:`~myoflow.models.sim_pretrain.SimPretrainSpec`;
    #: its ``preprocess`` is set from this config's ``preprocess``). Classes are matched to the simulated muscles by
    #: name; a cohort (task) with no match skips the ``_simpre`` models, logged. Unused unless evaluate.models
    #: names a ``_simpre`` model.
    sim_pretrain: SimPretrainSpec = field(default_factory=SimPretrainSpec)

    def __post_init__(self) -> None:
        check_model_spec(self.model, "model", allowed=("cnn_lstm",))
        check_model_spec(self.baseline, "baseline", allowed=("feature_classifier",))
        self.deep.check()
        if self.tune.enabled:
            from ...models import check_params

            check_params("deep_window", self.tune.grid, "tune.grid")
        if not any(v.enabled for v in self.data.values()):
            raise ConfigError("data: at least one cohort must be enabled")
        for name in self.data:
            if not name or "/" in name or not name.replace("-", "").replace("_", "").isalnum():
                raise ConfigError(f"data: cohort name {name!r} must be alphanumeric (it prefixes conditions)")


def _normalize_config(raw: dict[str, Any]) -> dict[str, Any]:
    """Accept the one-data-section shape every pipeline takes (``data: {source: folder, path: DIR}``):
    it becomes a single cohort named after the folder (``data: {<name>: {...}}``)."""
    data = raw.get("data")
    fields = set(CohortConfig.__dataclass_fields__)
    if isinstance(data, dict) and "source" in data and not isinstance(data["source"], dict):
        stray = [k for k in data if k not in fields]
        if not stray:
            from ...experiments.quickrun import cohort_name

            name = cohort_name(data["path"]) if data.get("path") else "sim"
            raw = {**raw, "data": {name: dict(data)}}
    return raw


# read by myoflow.config.load_config before validation (one data-section shape for every pipeline)
MuscleIdConfig.normalize_config = staticmethod(_normalize_config)
