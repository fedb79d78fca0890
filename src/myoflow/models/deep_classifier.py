"""Scikit-learn-style window classifier over the new deep models, with the improved recipe.

:class:`DeepWindowClassifier` trains one of

* ``arch="cnn"`` — :class:`~myoflow.models.emg_cnn.EMGCNN`,
* ``arch="hybrid"`` — :class:`~myoflow.models.hybrid.HybridNet` (classic features
  computed here from the raw windows),
* ``arch="cnn_lstm"`` — :class:`~myoflow.models.cnn_lstm_recipe.RecipeCNNLSTM`,
* ``arch="hybrid_cnn_lstm"`` — :class:`~myoflow.models.hybrid.HybridNet` with the
  recipe CNN-LSTM as its deep branch (``trunk="cnn_lstm"``),

with the recipe: AdamW, cosine or one-cycle schedule, training-only batch
augmentation (:class:`~myoflow.train.augment.Augment`, optionally followed by
:func:`~myoflow.train.augment.mixup`), early stopping on whole groups (subjects)
held out of the training data, an ensemble over seeds (softmax probabilities
averaged) and optional test-time augmentation (``tta`` circularly shifted views
of every window, probabilities averaged).

Everything learned — the log-RMS and feature statistics, the weights, the
early-stopping split — comes from the data given to ``fit`` only.

Training runs on the one engine (:func:`myoflow.train.fit_module`): the
augmentation is its training-only ``batch_hook``; the ensemble members are one
``torch.nn.ModuleList`` (``module_``) so the common safetensors + JSON save/load
of :class:`~myoflow.models.base.MyoflowEstimator` applies.
"""
from __future__ import annotations

import logging
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..containers import Epochs
from ..errors import ConfigError, DataError
from .base import MyoflowClassifier, softmax_rows

__all__ = ["DeepWindowClassifier", "ARCHS"]

log = logging.getLogger(__name__)

ARCHS = ("cnn", "hybrid", "cnn_lstm", "hybrid_cnn_lstm")
_FEATURE_ARCHS = ("hybrid", "hybrid_cnn_lstm")   # archs with the classic-feature branch
_SCHEDULES = ("cosine", "onecycle", "none")
_ENGINE_SCHEDULE = {"cosine": "cosine", "onecycle": "onecycle", "none": "constant"}


class DeepWindowClassifier(MyoflowClassifier):
    """sEMG window classifier: EMGCNN, hybrid or recipe CNN-LSTM, trained with the improved recipe.

    Parameters
    ----------
    arch : {"cnn", "hybrid", "cnn_lstm", "hybrid_cnn_lstm"}
    widths, kernel, pools, hidden, dropout, n_bands, use_amp, lstm_pool
        Sizes of the CNN trunk (``cnn``/``hybrid``); ``cnn_lstm`` uses
        ``widths[:2]`` as conv channels, ``(kernel, kernel // 2 | 1)`` as kernels
        and ``pools[0]`` as pool. ``n_bands`` > 0 adds the spectral side branch
        (log power in that many equal-width bands up to Nyquist, every arch). ``lstm_pool``
        (``cnn_lstm``/``hybrid_cnn_lstm``): ``"last"`` LSTM state (the paper) or ``"mean"`` output over time.
    epochs, batch_size, lr, weight_decay, schedule, patience, label_smoothing
        Training recipe (AdamW).
    max_shift, max_gain, noise, channel_drop
        Training-only augmentation (see :class:`myoflow.train.augment.Augment`).
    overlap_crops : int
        Extra TRAINING windows cut across every pair of consecutive windows of one recording: ``k`` crops
        starting ``n_times * j / (k + 1)`` samples into the first window (j = 1..k), i.e. overlapping windows
        of the same signal (0 = off, the default). Needs :class:`~myoflow.containers.Epochs` whose metadata
        has ``recording`` and ``window`` (window numbers one apart = contiguous signal, as the ``whole``
        segmentation cuts them); both windows must be in the fit part of the data (never the early-stopping
        subjects) and carry the same label. The amplitude statistics and class weights stay those of the
        windows given.
    mixup : float
        Beta(``mixup``, ``mixup``) mixup of training batches after the augmentation
        (:func:`myoflow.train.augment.mixup`; 0 = off). Validation batches are never mixed.
    tta : int
        Test-time augmentation: ``predict_proba`` averages the probabilities of ``tta``
        circularly shifted copies of each window, shifts evenly spaced in
        ``[-s, s]`` with ``s = max_shift`` (or a tenth of the window when ``max_shift`` is 0);
        0 or 1 = the window as is.
    val_fraction : float
        Fraction of training groups held out for early stopping (0: train all epochs).
    val_group : str
        Metadata column of those groups (``"subject"``).
    n_seeds : int
        Ensemble members (different seeds, same data); probabilities averaged.
    class_weight : bool
        Balanced class weights in the loss.
    fs : float, optional
        Sampling rate for bare arrays (the hybrid's features need it; after fitting on
        Epochs their rate is kept in ``fs_``).
    seed : int
    device : str
        Torch device (``"cpu"``, ``"cuda"``, ``"auto"``).
    pretrain : dict or SimPretrainSpec, optional
        Simulator pretraining before fitting (:mod:`myoflow.models.sim_pretrain`): every
        member is first trained on a simulated cohort whose muscles match the class
        names, then fine-tuned on the given data. None (default): random initialisation.

    Attributes
    ----------
    classes_ : ndarray of str
    module_ : torch.nn.ModuleList
        The ensemble members (``members_`` is the same as a list).
    histories_ : list of myoflow.train.FitResult
    val_accuracy_ : list of list of float
        Validation accuracy per epoch, per member (empty without validation).
    pretrain_info_ : dict or None
        With ``pretrain``: matched classes, simulated windows used, per-member pretraining record.
    """

    registry_name = "deep_window"
    _module_attr = "module_"

    def __init__(self, arch: str = "cnn", widths: Sequence[int] = (16, 32, 32), kernel: int = 7,
                 pools: Sequence[int] = (4, 2, 2), hidden: int = 64, dropout: float = 0.3, n_bands: int = 0,
                 use_amp: bool = True, epochs: int = 40, batch_size: int = 64, lr: float = 2e-3,
                 weight_decay: float = 1e-2, schedule: str = "cosine", patience: int = 10,
                 label_smoothing: float = 0.0, max_shift: int = 0, max_gain: float = 1.0, noise: float = 0.0,
                 channel_drop: float = 0.0, val_fraction: float = 0.2, val_group: str = "subject",
                 n_seeds: int = 1, class_weight: bool = True, fs: float | None = None, seed: int = 0,
                 device: str = "cpu", mixup: float = 0.0, tta: int = 0, pretrain: Any = None,
                 lstm_pool: str = "last", overlap_crops: int = 0):
        self.arch = arch
        self.widths = widths
        self.kernel = kernel
        self.pools = pools
        self.hidden = hidden
        self.dropout = dropout
        self.n_bands = n_bands
        self.use_amp = use_amp
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.schedule = schedule
        self.patience = patience
        self.label_smoothing = label_smoothing
        self.max_shift = max_shift
        self.max_gain = max_gain
        self.noise = noise
        self.channel_drop = channel_drop
        self.val_fraction = val_fraction
        self.val_group = val_group
        self.n_seeds = n_seeds
        self.class_weight = class_weight
        self.fs = fs
        self.seed = seed
        self.device = device
        self.mixup = mixup
        self.tta = tta
        self.pretrain = pretrain
        self.lstm_pool = lstm_pool
        self.overlap_crops = overlap_crops

    # ----------------------------------------------------------------- inputs
    def _arrays(self, X: Any, who: str) -> tuple[np.ndarray, float | None]:
        if isinstance(X, Epochs):
            return X.X, X.fs
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 3:
            raise DataError(f"{who} needs windows (n, channels, times), got shape {X.shape}")
        if not np.isfinite(X).all():
            raise DataError(f"{who}: {int((~np.isfinite(X)).sum())} non-finite value(s) in the windows")
        return X, self.fs

    def _features(self, X: np.ndarray, fs: float | None) -> np.ndarray:
        from ..features import classic_features

        if fs is None:
            raise ConfigError("arch='hybrid' needs the sampling rate: pass Epochs or set fs=")
        return classic_features(X, fs=fs).astype(np.float32)

    @property
    def members_(self) -> list:
        """The fitted ensemble members (modules)."""
        self._check_fitted()
        return list(self.module_)

    def _validate_params(self) -> None:
        if self.arch not in ARCHS:
            raise ConfigError(f"unknown arch {self.arch!r}; expected one of {list(ARCHS)}")
        if self.schedule not in _SCHEDULES:
            raise ConfigError(f"unknown schedule {self.schedule!r}; expected one of {list(_SCHEDULES)}")
        if int(self.n_seeds) < 1 or int(self.epochs) < 1 or int(self.batch_size) < 2:
            raise ConfigError("n_seeds and epochs must be >= 1 and batch_size >= 2")
        if not 0 <= float(self.val_fraction) < 1:
            raise ConfigError(f"val_fraction must be in [0, 1), got {self.val_fraction}")
        if self.lstm_pool not in ("last", "mean"):
            raise ConfigError(f"unknown lstm_pool {self.lstm_pool!r}; expected 'last' or 'mean'")
        if isinstance(self.overlap_crops, bool) or not isinstance(self.overlap_crops, (int, np.integer)) \
                or int(self.overlap_crops) < 0:
            raise ConfigError(f"overlap_crops must be an integer >= 0, got {self.overlap_crops!r}")
        if float(self.mixup) < 0 or int(self.tta) < 0:
            raise ConfigError(f"mixup and tta must be >= 0, got mixup={self.mixup}, tta={self.tta}")

    def overlap_windows(self, X: Any, y: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The ``overlap_crops`` extra windows of the windows ``idx`` of ``X`` (see the class docstring).

        Returns ``(crops, source)``: crops (n_crops, channels, times) as float32 and, per crop, the index (into
        ``X``) of the window it starts in (its label and group). Both empty when ``overlap_crops`` is 0.
        """
        k = int(self.overlap_crops)
        if k == 0:
            return np.zeros((0,) + tuple(np.shape(X)[1:]), np.float32), np.zeros(0, np.int64)
        md = getattr(X, "metadata", None)
        if not isinstance(X, Epochs) or md is None or not {"recording", "window"} <= set(md.columns):
            raise ConfigError("overlap_crops needs Epochs whose metadata has 'recording' and 'window' columns "
                              "(consecutive window numbers of one recording = contiguous signal); got "
                              f"{type(X).__name__}" + ("" if md is None else f" with columns {list(md.columns)}"))
        arr, n_t = X.X, X.X.shape[2]
        rec = md["recording"].astype(str).to_numpy()
        win = md["window"].to_numpy()
        where = {(rec[i], int(win[i])): int(i) for i in idx}
        offsets = [int(round(n_t * j / (k + 1))) for j in range(1, k + 1)]
        crops, source = [], []
        for i in idx:  # in the order given, so the same data give the same crops
            j = where.get((rec[i], int(win[i]) + 1))
            if j is None or y[j] != y[i]:
                continue
            pair = np.concatenate([arr[i], arr[j]], axis=1)
            for o in offsets:
                crops.append(pair[:, o:o + n_t])
                source.append(int(i))
        if not crops:
            return np.zeros((0,) + arr.shape[1:], np.float32), np.zeros(0, np.int64)
        return np.stack(crops).astype(np.float32), np.asarray(source, np.int64)

    def _build(self, n_classes: int, in_channels: int, n_features: int):
        if self.arch == "cnn":
            from .emg_cnn import EMGCNN

            return EMGCNN(n_classes, in_channels, self.widths, self.kernel, self.pools, self.hidden,
                          self.dropout, self.use_amp, self.n_bands)
        if self.arch in _FEATURE_ARCHS:
            from .hybrid import HybridNet

            return HybridNet(n_classes, n_features, in_channels, self.widths, self.kernel, self.pools,
                             hidden=self.hidden, dropout=self.dropout, use_amp=self.use_amp, n_bands=self.n_bands,
                             trunk="cnn" if self.arch == "hybrid" else "cnn_lstm", lstm_pool=self.lstm_pool)
        from .cnn_lstm_recipe import RecipeCNNLSTM

        k2 = max(3, (int(self.kernel) // 2) | 1)
        return RecipeCNNLSTM(n_classes, in_channels, tuple(self.widths[:2]), (int(self.kernel), k2),
                             int(self.pools[0]), dropout=self.dropout, use_amp=self.use_amp,
                             n_bands=int(self.n_bands), lstm_pool=self.lstm_pool)

    # -------------------------------------------------------------------- fit
    def fit(self, X: Epochs | np.ndarray, y: Any = None, groups: Any = None) -> "DeepWindowClassifier":
        """Train on the given TRAINING windows.

        Parameters
        ----------
        X : Epochs or array (n, channels, times)
        y : array of str, optional
            Labels (default ``X.y``).
        groups : array, optional
            Group (subject) of every window for the early-stopping split; default
            the ``val_group`` metadata column of Epochs.
        """
        import torch

        from ..evaluate.imbalance import class_weights
        from ..evaluate.splitters import inner_validation_split
        from ..preprocess.representation import log_rms
        from ..train import derive_seed, fit_module, predict_module, torch_seed
        from ..train.augment import Augment, mixup

        self._validate_params()
        arr, fs = self._arrays(X, "DeepWindowClassifier.fit")
        if y is None and isinstance(X, Epochs):
            y = X.y
        if y is None:
            raise DataError("DeepWindowClassifier.fit needs labels (epochs.y or y)")
        y = np.asarray(y).astype(str)
        if len(y) != len(arr):
            raise DataError(f"{len(y)} label(s) for {len(arr)} window(s)")
        self.classes_ = np.unique(y)
        if self.classes_.size < 2:
            raise DataError(f"training data hold a single class {self.classes_.tolist()}; need at least 2")
        codes = np.searchsorted(self.classes_, y).astype(np.int64)
        feats = self._features(arr, fs) if self.arch in _FEATURE_ARCHS else None
        aug = Augment(max_shift=int(self.max_shift), max_gain=float(self.max_gain), noise=float(self.noise),
                      channel_drop=float(self.channel_drop))

        fit_idx, val_idx = np.arange(len(y)), np.zeros(0, dtype=np.int64)
        if self.val_fraction > 0:
            if groups is not None:
                groups = np.asarray(groups)
                if len(groups) != len(y):
                    raise DataError(f"{len(groups)} group value(s) for {len(y)} window(s)")
                meta = pd.DataFrame({self.val_group: groups})
            elif isinstance(X, Epochs):
                meta = X.metadata
            else:
                # Plain arrays without groups (e.g. inside cross_val_score, which routes groups to the
                # splitter only): each window is its own group, said loudly (as CNNLSTMClassifier does).
                log.warning("DeepWindowClassifier.fit got a plain array and no groups: early-stopping windows are "
                            "drawn one by one; pass Epochs or groups= for a group-held-out validation split")
                meta = pd.DataFrame({self.val_group: np.arange(len(y))})
            fit_idx, val_idx = inner_validation_split(meta, np.arange(len(y)), fraction=float(self.val_fraction),
                                                      seed=derive_seed(self.seed, "validation"),
                                                      group=self.val_group, y=y)
        self.fs_ = None if fs is None else float(fs)
        amp = log_rms(arr[fit_idx])
        amp_mean, amp_std = amp.mean(0), amp.std(0) + 1e-3
        inputs = [arr.astype(np.float32)] + ([feats] if feats is not None else [])
        # training inputs: the fit windows, then (overlap_crops) windows cut across consecutive fit windows
        crops, source = self.overlap_windows(X, y, fit_idx)
        train_inputs, train_codes = [a[fit_idx] for a in inputs], codes[fit_idx]
        if len(source):
            extra = [crops] + ([self._features(crops, fs)] if feats is not None else [])
            train_inputs = [np.concatenate([a, e]) for a, e in zip(train_inputs, extra)]
            train_codes = np.concatenate([train_codes, codes[source]])
        self.n_train_windows_ = int(len(train_codes))
        weight = None
        if self.class_weight:
            cw = class_weights(codes[fit_idx])
            weight = torch.tensor([cw.get(i, 1.0) for i in range(self.classes_.size)], dtype=torch.float32)
        smoothing = float(self.label_smoothing)

        def loss_fn(out, target):
            return torch.nn.functional.cross_entropy(out, target, label_smoothing=smoothing,
                                                     weight=None if weight is None else weight.to(out.device))

        alpha, n_classes = float(self.mixup), int(self.classes_.size)

        def hook(batch, state):  # training batches only: the engine never calls it for validation
            inputs, target = [aug(batch[0], state.generator), *batch[1:-1]], batch[-1]
            if alpha > 0:  # soft targets: cross_entropy takes class probabilities as well as indices
                onehot = torch.nn.functional.one_hot(target, n_classes).to(inputs[0].dtype)
                inputs, target = mixup(inputs, onehot, state.generator, alpha)
            return [*inputs, target]

        val_inputs = [a[val_idx] for a in inputs]
        pre, self.pretrain_info_ = None, None
        if self.pretrain is not None and self.pretrain is not False:  # simulator pretraining (sim_pretrain.py)
            from .sim_pretrain import Pretrainer

            pre = Pretrainer.prepare(self.pretrain, self.classes_, arr.shape[2], fs, arr.shape[1])
            self.pretrain_info_ = None if pre is None else {**pre.info, "members": []}
        members, self.histories_, self.val_accuracy_ = [], [], []
        for m in range(int(self.n_seeds)):
            with torch_seed(derive_seed(self.seed, "init", m)):
                module = self._build(self.classes_.size, arr.shape[1], 0 if feats is None else feats.shape[1])
            if pre is not None:  # weights from the simulated cohort; the amplitude statistics are reset below
                self.pretrain_info_["members"].append(pre.pretrain(
                    self, module, m, features=(lambda w: self._features(w, pre.info["fs"]))
                    if self.arch in _FEATURE_ARCHS else None))
            self._set_stats(module, amp_mean, amp_std, None if feats is None else feats[fit_idx])
            acc: list[float] = []

            def on_epoch(epoch, train_loss, val_loss, module=module, acc=acc):
                if len(val_idx):
                    pred = predict_module(module, val_inputs, device=self.device).argmax(1)
                    acc.append(float(np.mean(pred == codes[val_idx])))

            hist = fit_module(
                module, train_inputs, train_codes, loss_fn,
                val_inputs=val_inputs if len(val_idx) else None,
                val_target=codes[val_idx] if len(val_idx) else None,
                epochs=int(self.epochs), batch_size=int(self.batch_size), lr=float(self.lr),
                weight_decay=float(self.weight_decay), optimizer="adamw", schedule=_ENGINE_SCHEDULE[self.schedule],
                schedule_floor=0.0, patience=int(self.patience), seed=derive_seed(self.seed, "batches", m),
                torch_seed=derive_seed(self.seed, "dropout", m), device=self.device,
                batch_hook=hook if aug.active or alpha > 0 else None, min_batch=2, on_epoch=on_epoch)
            module.cpu().eval()
            members.append(module)
            self.histories_.append(hist)
            self.val_accuracy_.append(acc)
        self.module_ = torch.nn.ModuleList(members).eval()
        return self

    def _set_stats(self, module, amp_mean, amp_std, feats) -> None:
        """Copy the training-fold amplitude (and feature) statistics into the module's buffers."""
        import torch

        amp_owner = module.deep if self.arch in _FEATURE_ARCHS else module
        amp_owner.amp_mean.copy_(torch.as_tensor(amp_mean))
        amp_owner.amp_std.copy_(torch.as_tensor(amp_std))
        if feats is not None:
            module.feat_mean.copy_(torch.as_tensor(feats.mean(0)))
            module.feat_std.copy_(torch.as_tensor(feats.std(0) + 1e-6))

    # ------------------------------------------------------------ persistence
    def _fitted_state(self) -> dict[str, Any]:
        first = self.module_[0]
        n_features = int(first.feat_mean.numel()) if self.arch in _FEATURE_ARCHS else 0
        return {"classes": self.classes_.tolist(), "n_members": len(self.module_), "fs": self.fs_,
                "in_channels": int(self._in_channels(first)), "n_features": n_features,
                "best_epochs": [int(h.best_epoch) for h in getattr(self, "histories_", [])]}

    def _in_channels(self, module) -> int:
        owner = module.deep if self.arch in _FEATURE_ARCHS else module
        return int(owner.amp_mean.numel())

    def _restore(self, fitted: dict[str, Any]) -> None:
        import torch

        self.classes_ = np.asarray(fitted["classes"]).astype(str)
        self.fs_ = fitted.get("fs")
        self.module_ = torch.nn.ModuleList(
            [self._build(self.classes_.size, int(fitted["in_channels"]), int(fitted["n_features"]))
             for _ in range(int(fitted["n_members"]))]).eval()

    # ---------------------------------------------------------------- predict
    def tta_shifts(self, n_times: int) -> list[int]:
        """Circular shifts (samples) of the test-time views of a window of ``n_times`` samples."""
        n = int(self.tta)
        if n <= 1:
            return [0]
        s = int(self.max_shift) if int(self.max_shift) > 0 else max(1, int(n_times) // 10)
        return [int(v) for v in np.round(np.linspace(-s, s, n))]

    def predict_proba(self, X: Epochs | np.ndarray) -> np.ndarray:
        """Mean softmax over ensemble members (and ``tta`` views), shape (n, n_classes), columns in ``classes_`` order."""
        from ..train import predict_module

        self._check_fitted()
        arr, fs = self._arrays(X, "DeepWindowClassifier.predict_proba")
        arr = arr.astype(np.float32)
        # the classic features barely change under a circular shift: computed once, on the window as is
        feats = [self._features(arr, fs if fs is not None else self.fs_)] if self.arch in _FEATURE_ARCHS else []
        shifts = self.tta_shifts(arr.shape[2])
        out = np.zeros((len(arr), self.classes_.size))
        for shift in shifts:
            inputs = [np.roll(arr, shift, axis=2) if shift else arr, *feats]
            for module in self.module_:
                out += softmax_rows(predict_module(module, inputs, device=self.device))
        return out / (len(self.module_) * len(shifts))
