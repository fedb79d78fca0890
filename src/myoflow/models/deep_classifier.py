"""Scikit-learn-style window classifier over the new deep models, with the improved recipe.

:class:`DeepWindowClassifier` trains one of

* ``arch="cnn"`` — :class:`~myoflow.models.emg_cnn.EMGCNN`,
* ``arch="hybrid"`` — :class:`~myoflow.models.hybrid.HybridNet` (classic features
  computed here from the raw windows),
* ``arch="cnn_lstm"`` — :class:`~myoflow.models.cnn_lstm_recipe.RecipeCNNLSTM`,

with the recipe: AdamW, cosine or one-cycle schedule, training-only batch
augmentation (:class:`~myoflow.train.augment.Augment`), early stopping on whole
groups (subjects) held out of the training data, and an ensemble over seeds
(softmax probabilities averaged).

Everything learned — the log-RMS and feature statistics, the weights, the
early-stopping split — comes from the data given to ``fit`` only.

The small fit loop here (:func:`train_classifier`) is a stand-in until the one
training engine (``myoflow.train``) offers schedules and a batch hook; it is
written so its arguments map one-to-one onto that engine's options.
"""
from __future__ import annotations

import copy
import logging
from typing import Any, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import NotFittedError

from ..containers import Epochs
from ..errors import ConfigError, DataError

__all__ = ["DeepWindowClassifier", "train_classifier", "ARCHS"]

log = logging.getLogger(__name__)

ARCHS = ("cnn", "hybrid", "cnn_lstm")
_SCHEDULES = ("cosine", "onecycle", "none")


def train_classifier(module, inputs: Sequence[np.ndarray], codes: np.ndarray, *, val_inputs=None, val_codes=None,
                     epochs: int = 40, batch_size: int = 64, lr: float = 1e-3, weight_decay: float = 1e-2,
                     schedule: str = "cosine", patience: int = 10, class_weight: np.ndarray | None = None,
                     label_smoothing: float = 0.0, augment=None, seed: int = 0) -> dict[str, list[float]]:
    """AdamW + schedule + training-only augmentation of ``inputs[0]`` + early stopping.

    Parameters
    ----------
    module : torch.nn.Module
        Called as ``module(*batch)``, returns logits; trained in place, best
        weights (lowest validation loss) restored.
    inputs : sequence of arrays
        Model inputs with the sample axis first; ``inputs[0]`` (the windows) is
        the one ``augment`` transforms.
    codes : int array
        Class indices.
    val_inputs, val_codes : optional
        Validation data (whole held-out training groups); enables early stopping.
    augment : callable ``(x, generator) -> x``, optional
        Batch hook applied to training batches only.
    seed : int
        Seeds batch order and augmentation (a local generator).

    Returns
    -------
    dict with ``train_loss``, ``val_loss``, ``val_accuracy`` per epoch and ``best_epoch``.
    """
    import torch
    import torch.nn.functional as F

    if schedule not in _SCHEDULES:
        raise ConfigError(f"unknown schedule {schedule!r}; expected one of {list(_SCHEDULES)}")
    X = [torch.as_tensor(np.asarray(a)) for a in inputs]
    y = torch.as_tensor(np.asarray(codes, dtype=np.int64))
    n = len(y)
    if n == 0:
        raise DataError("no training windows")
    has_val = val_inputs is not None and val_codes is not None and len(val_codes) > 0
    if has_val:
        Xv = [torch.as_tensor(np.asarray(a)) for a in val_inputs]
        yv = torch.as_tensor(np.asarray(val_codes, dtype=np.int64))
    w = None if class_weight is None else torch.as_tensor(class_weight, dtype=torch.float32)
    gen = torch.Generator().manual_seed(int(seed))
    opt = torch.optim.AdamW(module.parameters(), lr=lr, weight_decay=weight_decay)
    steps = max(1, -(-n // batch_size))
    if schedule == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * steps)
    elif schedule == "onecycle":
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * steps)
    else:
        sched = None
    hist: dict[str, Any] = {"train_loss": [], "val_loss": [], "val_accuracy": [], "best_epoch": -1}
    best, best_loss, bad = None, float("inf"), 0
    for epoch in range(int(epochs)):
        module.train()
        perm = torch.randperm(n, generator=gen)
        total = 0.0
        for start in range(0, n, batch_size):
            idx = perm[start:start + batch_size]
            if len(idx) < 2:  # batch norm needs two samples
                continue
            batch = [x[idx] for x in X]
            if augment is not None:
                batch[0] = augment(batch[0], gen)
            loss = F.cross_entropy(module(*batch), y[idx], weight=w, label_smoothing=label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            total += float(loss.detach()) * len(idx)
        hist["train_loss"].append(total / n)
        if has_val:
            module.eval()
            with torch.no_grad():
                out = module(*Xv)
                vloss = float(F.cross_entropy(out, yv, weight=w))
            hist["val_loss"].append(vloss)
            hist["val_accuracy"].append(float((out.argmax(1) == yv).float().mean()))
            if vloss < best_loss - 1e-6:
                best_loss, bad, hist["best_epoch"] = vloss, 0, epoch
                best = copy.deepcopy(module.state_dict())
            else:
                bad += 1
                if bad >= patience:
                    break
    if best is not None:
        module.load_state_dict(best)
    else:
        hist["best_epoch"] = len(hist["train_loss"]) - 1
    module.eval()
    return hist


class DeepWindowClassifier(ClassifierMixin, BaseEstimator):
    """sEMG window classifier: EMGCNN, hybrid or recipe CNN-LSTM, trained with the improved recipe.

    Parameters
    ----------
    arch : {"cnn", "hybrid", "cnn_lstm"}
    widths, kernel, pools, hidden, dropout, n_bands, use_amp
        Sizes of the CNN trunk (``cnn``/``hybrid``); ``cnn_lstm`` uses
        ``widths[:2]`` as conv channels, ``(kernel, kernel // 2 | 1)`` as kernels
        and ``pools[0]`` as pool.
    epochs, batch_size, lr, weight_decay, schedule, patience, label_smoothing
        Training recipe (AdamW).
    max_shift, max_gain, noise, channel_drop
        Training-only augmentation (see :class:`myoflow.train.augment.Augment`).
    val_fraction : float
        Fraction of training groups held out for early stopping (0: train all epochs).
    val_group : str
        Metadata column of those groups (``"subject"``).
    n_seeds : int
        Ensemble members (different seeds, same data); probabilities averaged.
    class_weight : bool
        Balanced class weights in the loss.
    fs : float, optional
        Sampling rate for bare arrays (the hybrid's features need it).
    seed : int

    Attributes
    ----------
    classes_, members_ (list of modules), histories_ (list of dicts)
    """

    def __init__(self, arch: str = "cnn", widths: Sequence[int] = (16, 32, 32), kernel: int = 7,
                 pools: Sequence[int] = (4, 2, 2), hidden: int = 64, dropout: float = 0.3, n_bands: int = 0,
                 use_amp: bool = True, epochs: int = 40, batch_size: int = 64, lr: float = 2e-3,
                 weight_decay: float = 1e-2, schedule: str = "cosine", patience: int = 10,
                 label_smoothing: float = 0.0, max_shift: int = 0, max_gain: float = 1.0, noise: float = 0.0,
                 channel_drop: float = 0.0, val_fraction: float = 0.2, val_group: str = "subject",
                 n_seeds: int = 1, class_weight: bool = True, fs: float | None = None, seed: int = 0):
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

    def _check_params(self) -> None:
        if self.arch not in ARCHS:
            raise ConfigError(f"unknown arch {self.arch!r}; expected one of {list(ARCHS)}")
        if self.schedule not in _SCHEDULES:
            raise ConfigError(f"unknown schedule {self.schedule!r}; expected one of {list(_SCHEDULES)}")
        if int(self.n_seeds) < 1 or int(self.epochs) < 1 or int(self.batch_size) < 2:
            raise ConfigError("n_seeds and epochs must be >= 1 and batch_size >= 2")
        if not 0 <= float(self.val_fraction) < 1:
            raise ConfigError(f"val_fraction must be in [0, 1), got {self.val_fraction}")

    def _build(self, n_classes: int, in_channels: int, n_features: int):
        if self.arch == "cnn":
            from .emg_cnn import EMGCNN

            return EMGCNN(n_classes, in_channels, self.widths, self.kernel, self.pools, self.hidden,
                          self.dropout, self.use_amp, self.n_bands)
        if self.arch == "hybrid":
            from .hybrid import HybridNet

            return HybridNet(n_classes, n_features, in_channels, self.widths, self.kernel, self.pools,
                             hidden=self.hidden, dropout=self.dropout, use_amp=self.use_amp, n_bands=self.n_bands)
        from .cnn_lstm_recipe import RecipeCNNLSTM

        k2 = max(3, (int(self.kernel) // 2) | 1)
        return RecipeCNNLSTM(n_classes, in_channels, tuple(self.widths[:2]), (int(self.kernel), k2),
                             int(self.pools[0]), dropout=self.dropout, use_amp=self.use_amp)

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
        from ..train import derive_seed, torch_seed
        from ..train.augment import Augment

        self._check_params()
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
        feats = self._features(arr, fs) if self.arch == "hybrid" else None
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
                raise ConfigError("early stopping on held-out groups needs Epochs with metadata or groups= "
                                  "(or val_fraction=0)")
            fit_idx, val_idx = inner_validation_split(meta, np.arange(len(y)), fraction=float(self.val_fraction),
                                                      seed=derive_seed(self.seed, "validation"),
                                                      group=self.val_group, y=y)
        amp = log_rms(arr[fit_idx])
        amp_mean, amp_std = amp.mean(0), amp.std(0) + 1e-3
        inputs = [arr.astype(np.float32)] + ([feats] if feats is not None else [])
        weight = None
        if self.class_weight:
            cw = class_weights(codes[fit_idx])
            weight = np.asarray([cw.get(i, 1.0) for i in range(self.classes_.size)], dtype=np.float32)
        self.members_, self.histories_ = [], []
        for m in range(int(self.n_seeds)):
            with torch_seed(derive_seed(self.seed, "init", m)):
                module = self._build(self.classes_.size, arr.shape[1], 0 if feats is None else feats.shape[1])
            amp_owner = module.deep if self.arch == "hybrid" else module
            amp_owner.amp_mean.copy_(torch.as_tensor(amp_mean))
            amp_owner.amp_std.copy_(torch.as_tensor(amp_std))
            if feats is not None:
                module.feat_mean.copy_(torch.as_tensor(feats[fit_idx].mean(0)))
                module.feat_std.copy_(torch.as_tensor(feats[fit_idx].std(0) + 1e-6))
            with torch_seed(derive_seed(self.seed, "dropout", m)):  # dropout masks reproducible, global RNG kept
                hist = train_classifier(
                    module, [a[fit_idx] for a in inputs], codes[fit_idx],
                    val_inputs=[a[val_idx] for a in inputs] if len(val_idx) else None,
                    val_codes=codes[val_idx] if len(val_idx) else None,
                    epochs=int(self.epochs), batch_size=int(self.batch_size), lr=float(self.lr),
                    weight_decay=float(self.weight_decay), schedule=self.schedule, patience=int(self.patience),
                    class_weight=weight, label_smoothing=float(self.label_smoothing),
                    augment=aug if aug.active else None, seed=derive_seed(self.seed, "batches", m))
            self.members_.append(module)
            self.histories_.append(hist)
        return self

    # ---------------------------------------------------------------- predict
    def predict_proba(self, X: Epochs | np.ndarray) -> np.ndarray:
        """Mean softmax over ensemble members, shape (n, n_classes), columns in ``classes_`` order."""
        import torch

        if not hasattr(self, "members_"):
            raise NotFittedError("DeepWindowClassifier is not fitted; call fit() first")
        arr, fs = self._arrays(X, "DeepWindowClassifier.predict_proba")
        inputs = [torch.as_tensor(arr.astype(np.float32))]
        if self.arch == "hybrid":
            inputs.append(torch.as_tensor(self._features(arr, fs)))
        out = np.zeros((len(arr), self.classes_.size))
        with torch.no_grad():
            for module in self.members_:
                module.eval()
                for s in range(0, len(arr), 1024):
                    out[s:s + 1024] += torch.softmax(module(*[t[s:s + 1024] for t in inputs]), 1).numpy()
        return out / len(self.members_)

    def predict(self, X: Epochs | np.ndarray) -> np.ndarray:
        """Predicted class per window."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
