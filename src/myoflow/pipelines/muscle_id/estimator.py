"""Estimators with scikit-learn manners for the muscle-identification task (seed 001).

* :class:`CNNLSTMClassifier` — the paper's hybrid CNN-LSTM
  (:class:`~myoflow.models.cnn_lstm.CNNLSTM`), optionally initialised by greedy
  layer-wise conv-autoencoder pretraining on the training windows
  (:func:`~myoflow.models.conv_autoencoder.pretrain_conv_layers`): the paper's
  setup 1 (``pretrain=True``) and setup 2 (``pretrain=False``).
* :class:`FeatureClassifier` — LDA or random forest on classic features
  (:mod:`.features`), the baselines run in the same folds.

Both take :class:`~myoflow.containers.Epochs` (each channel of a grid burst is
its own 1-channel sample; ``metadata`` carries ``subject`` and ``burst_id``) and
labels from ``epochs.y`` unless ``y`` is given. Everything learned — the
amplitude scale, the autoencoder, the classifier, the early-stopping split — is
fitted on the data passed to ``fit`` only, which the pipeline restricts to the
training part of a fold.
"""
from __future__ import annotations

import logging
from typing import Any, Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import NotFittedError

from ...containers import Epochs
from ...errors import ConfigError, DataError
from ...features import classic_features

__all__ = ["CNNLSTMClassifier", "FeatureClassifier"]

log = logging.getLogger(__name__)


def _xy(epochs: Epochs | np.ndarray, y: Any, who: str) -> tuple[np.ndarray, np.ndarray | None]:
    if isinstance(epochs, Epochs):
        X = epochs.X
        if y is None:
            y = epochs.y
    else:
        X = np.asarray(epochs, dtype=np.float32)
    if X.ndim != 3:
        raise DataError(f"{who} needs windows (n, channels, times), got shape {X.shape}")
    return X, (None if y is None else np.asarray(y))


class CNNLSTMClassifier(ClassifierMixin, BaseEstimator):
    """Hybrid CNN-LSTM muscle classifier with optional autoencoder pretraining.

    Parameters
    ----------
    pretrain : bool
        Setup 1 (True): greedy layer-wise conv-autoencoder pretraining of the two
        convolution layers on the training windows, weights transferred into
        the classifier. Setup 2 (False): random initialisation.
    conv_channels, kernel_sizes, pool, fc_size, lstm_hidden, head_size, dropout
        Sizes of :class:`~myoflow.models.cnn_lstm.CNNLSTM`.
    epochs, batch_size, lr, weight_decay, optimizer, patience
        Supervised training (``myoflow.train.fit_module``; Adam by default;
        early stopping on the validation loss, best weights restored).
    val_fraction : float
        Fraction of training groups carved out for early stopping (0 disables it
        and trains for ``epochs``).
    val_group : str or sequence of str
        Metadata column(s) forming validation groups: ``"subject"`` for
        leave-one-subject-out, a burst key for intra-subject folds (channels of
        one burst never straddle the fit/validation boundary).
    ae_epochs, ae_lr, ae_max_samples
        Autoencoder pretraining settings (per layer).
    class_weight : bool
        Weight the loss by balanced class weights of the training labels.
    seed : int
        Seeds weight initialisation, pretraining, batch order, validation split.
    device : str
        Torch device.

    Attributes
    ----------
    classes_ : ndarray of str
    scale_ : float
        Amplitude scale (standard deviation of the training windows); inputs are divided by it.
    module_ : CNNLSTM
    history_ : myoflow.train.FitResult
    val_accuracy_ : list of float
        Validation accuracy after every epoch (empty without validation).
    pretrain_history_ : list of list of float
        Autoencoder reconstruction MSE per layer (before training, then per epoch).
    initial_conv_weights_ : dict
        The convolution weights the supervised training started from (for inspection/tests).
    """

    def __init__(
        self,
        pretrain: bool = False,
        conv_channels: Sequence[int] = (16, 32),
        kernel_sizes: Sequence[int] = (9, 5),
        pool: int = 4,
        fc_size: int = 32,
        lstm_hidden: int = 32,
        head_size: int = 32,
        dropout: float = 0.2,
        epochs: int = 30,
        batch_size: int = 64,
        lr: float = 3e-3,
        weight_decay: float = 1e-4,
        optimizer: str = "adam",
        patience: int = 8,
        val_fraction: float = 0.2,
        val_group: str | Sequence[str] = "subject",
        ae_epochs: int = 10,
        ae_lr: float = 1e-3,
        ae_max_samples: int | None = 20000,
        class_weight: bool = True,
        seed: int = 0,
        device: str = "cpu",
    ):
        self.pretrain = pretrain
        self.conv_channels = conv_channels
        self.kernel_sizes = kernel_sizes
        self.pool = pool
        self.fc_size = fc_size
        self.lstm_hidden = lstm_hidden
        self.head_size = head_size
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.optimizer = optimizer
        self.patience = patience
        self.val_fraction = val_fraction
        self.val_group = val_group
        self.ae_epochs = ae_epochs
        self.ae_lr = ae_lr
        self.ae_max_samples = ae_max_samples
        self.class_weight = class_weight
        self.seed = seed
        self.device = device

    # ------------------------------------------------------------------ model
    def module_config(self, n_classes: int, in_channels: int) -> dict[str, Any]:
        """Constructor arguments of the underlying :class:`CNNLSTM`."""
        return dict(
            n_classes=int(n_classes), in_channels=int(in_channels),
            conv_channels=tuple(int(c) for c in self.conv_channels),
            kernel_sizes=tuple(int(k) for k in self.kernel_sizes), pool=int(self.pool),
            fc_size=int(self.fc_size), lstm_hidden=int(self.lstm_hidden), head_size=int(self.head_size),
            dropout=float(self.dropout),
        )

    def _build(self, n_classes: int, in_channels: int):
        from ...models.cnn_lstm import CNNLSTM
        from ...train import torch_seed

        with torch_seed(int(self.seed)):
            return CNNLSTM(**self.module_config(n_classes, in_channels))

    # -------------------------------------------------------------------- fit
    def fit(self, epochs: Epochs, y: Any = None) -> "CNNLSTMClassifier":
        """Pretrain (setup 1) and train on the given TRAINING windows.

        Parameters
        ----------
        epochs : Epochs
            Training windows, shape (n, channels, times); ``metadata`` must hold
            the ``val_group`` column(s) when ``val_fraction > 0``.
        y : array of str, optional
            Labels (default ``epochs.y``).
        """
        from ...evaluate.splitters import inner_validation_split
        from ...train import derive_seed, torch_seed

        X, y = _xy(epochs, y, "CNNLSTMClassifier.fit")
        if y is None:
            raise DataError("CNNLSTMClassifier.fit needs labels (epochs.y or y)")
        if len(y) != X.shape[0]:
            raise DataError(f"{len(y)} label(s) for {X.shape[0]} window(s)")
        y = y.astype(str)
        self.classes_ = np.unique(y)
        if self.classes_.size < 2:
            raise DataError(f"training data hold a single class {self.classes_.tolist()}; need at least 2")
        codes = np.searchsorted(self.classes_, y).astype(np.int64)
        std = float(X.std())
        if not np.isfinite(std) or std <= 0:
            raise DataError("training windows are constant (zero variance); nothing to learn from")
        self.scale_ = std
        Xs = (X / np.float32(std)).astype(np.float32)

        fit_idx, val_idx = np.arange(len(y)), np.zeros(0, dtype=np.int64)
        if self.val_fraction and self.val_fraction > 0:
            if not isinstance(epochs, Epochs):
                raise ConfigError("validation by groups needs Epochs with metadata (or set val_fraction=0)")
            group = self.val_group if isinstance(self.val_group, str) else list(self.val_group)
            fit_idx, val_idx = inner_validation_split(
                epochs.metadata, np.arange(len(y)), fraction=float(self.val_fraction),
                seed=derive_seed(self.seed, "validation"), group=group, y=y,
            )

        self.module_ = self._build(self.classes_.size, X.shape[1])
        with torch_seed(derive_seed(self.seed, "training")):  # dropout masks: reproducible, global RNG untouched
            self._train(Xs, codes, fit_idx, val_idx)
        return self

    def _train(self, Xs: np.ndarray, codes: np.ndarray, fit_idx: np.ndarray, val_idx: np.ndarray) -> None:
        import torch

        from ...evaluate.imbalance import class_weights
        from ...models.conv_autoencoder import pretrain_conv_layers
        from ...train import derive_seed, fit_module

        self.pretrain_history_: list[list[float]] = []
        if self.pretrain:
            # Unsupervised, so every training window may be used (never test windows).
            self.pretrain_history_ = pretrain_conv_layers(
                self.module_.conv_layers, Xs, between=self.module_.pool, activation=self.module_.act,
                epochs=int(self.ae_epochs), batch_size=int(self.batch_size), lr=float(self.ae_lr),
                seed=derive_seed(self.seed, "autoencoder"), max_samples=self.ae_max_samples,
            )
        self.initial_conv_weights_ = {
            f"conv{i + 1}": c.weight.detach().clone().numpy() for i, c in enumerate(self.module_.conv_layers)
        }

        weight = None
        if self.class_weight:
            cw = class_weights(codes[fit_idx])
            weight = torch.tensor([cw.get(i, 1.0) for i in range(self.classes_.size)], dtype=torch.float32)

        def loss_fn(out, target):
            return torch.nn.functional.cross_entropy(out, target, weight=None if weight is None else weight.to(out.device))

        self.val_accuracy_: list[float] = []
        Xv, yv = Xs[val_idx], codes[val_idx]

        def on_epoch(epoch: int, train_loss: float, val_loss: float | None) -> None:
            if len(val_idx):
                self.val_accuracy_.append(float((self._logits(Xv).argmax(1) == yv).mean()))

        self.history_ = fit_module(
            self.module_, [Xs[fit_idx]], codes[fit_idx], loss_fn,
            val_inputs=[Xv] if len(val_idx) else None, val_target=yv if len(val_idx) else None,
            epochs=int(self.epochs), batch_size=int(self.batch_size), lr=float(self.lr),
            weight_decay=float(self.weight_decay), optimizer=self.optimizer, patience=int(self.patience),
            seed=derive_seed(self.seed, "batches"), device=self.device, on_epoch=on_epoch,
        )
        self.module_.eval()

    # ---------------------------------------------------------------- predict
    def _check(self) -> None:
        if not hasattr(self, "module_"):
            raise NotFittedError("CNNLSTMClassifier is not fitted; call fit() first")

    def _logits(self, Xs: np.ndarray) -> np.ndarray:
        from ...train import predict_module

        return predict_module(self.module_, [Xs], batch_size=2048, device=self.device)

    def predict_proba(self, epochs: Epochs | np.ndarray) -> np.ndarray:
        """Softmax probabilities, shape (n, n_classes), columns in ``classes_`` order."""
        self._check()
        X, _ = _xy(epochs, None, "CNNLSTMClassifier.predict_proba")
        logits = self._logits((X / np.float32(self.scale_)).astype(np.float32))
        logits = logits - logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, epochs: Epochs | np.ndarray) -> np.ndarray:
        """Predicted muscle per window."""
        return self.classes_[np.argmax(self.predict_proba(epochs), axis=1)]

    def score(self, epochs: Epochs | np.ndarray, y: Any = None) -> float:
        """Accuracy on the given windows."""
        X, y = _xy(epochs, y, "CNNLSTMClassifier.score")
        if y is None:
            raise DataError("score needs labels")
        return float(np.mean(self.predict(X) == np.asarray(y).astype(str)))

    def curves(self) -> dict[str, list[float]]:
        """Training curves: train/val loss, val accuracy, autoencoder losses."""
        self._check()
        out = self.history_.as_curves()
        out["val_accuracy"] = list(self.val_accuracy_)
        for i, h in enumerate(self.pretrain_history_):
            out[f"ae{i + 1}_reconstruction_mse"] = list(h)
        return out


class FeatureClassifier(ClassifierMixin, BaseEstimator):
    """LDA or random forest on classic sEMG features (the paper-independent baselines).

    Parameters
    ----------
    kind : {"lda", "rf"}
        Linear discriminant analysis (shrinkage, standardised features) or a
        random forest.
    n_estimators : int
        Trees of the random forest.
    rel_threshold : float
        ZC/SSC/WAMP threshold as a fraction of window RMS (see :mod:`.features`).
    seed : int
        Random state of the forest.

    ``fit``/``predict`` accept Epochs (features computed here) or an already
    computed feature matrix (n, n_features) — features involve no fitting, so
    precomputing them for a whole dataset leaks nothing.
    """

    def __init__(self, kind: str = "lda", n_estimators: int = 200, rel_threshold: float = 0.05, seed: int = 0):
        self.kind = kind
        self.n_estimators = n_estimators
        self.rel_threshold = rel_threshold
        self.seed = seed

    def _features(self, X: Epochs | np.ndarray) -> np.ndarray:
        if isinstance(X, Epochs):
            return classic_features(X, rel_threshold=self.rel_threshold)
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2:
            raise DataError(f"FeatureClassifier needs Epochs or a feature matrix (n, n_features), got {X.shape}")
        return X

    def fit(self, X: Epochs | np.ndarray, y: Any = None) -> "FeatureClassifier":
        from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
        from sklearn.ensemble import RandomForestClassifier
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        if y is None and isinstance(X, Epochs):
            y = X.y
        if y is None:
            raise DataError("FeatureClassifier.fit needs labels")
        F = self._features(X)
        y = np.asarray(y).astype(str)
        if self.kind == "lda":
            self.model_ = make_pipeline(StandardScaler(), LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto"))
        elif self.kind == "rf":
            self.model_ = RandomForestClassifier(n_estimators=int(self.n_estimators), random_state=int(self.seed),
                                                 n_jobs=1, min_samples_leaf=2)
        else:
            raise ConfigError(f"unknown baseline {self.kind!r}; expected 'lda' or 'rf'")
        self.model_.fit(F, y)
        self.classes_ = np.asarray(self.model_.classes_).astype(str)
        return self

    def predict_proba(self, X: Epochs | np.ndarray) -> np.ndarray:
        if not hasattr(self, "model_"):
            raise NotFittedError("FeatureClassifier is not fitted; call fit() first")
        return self.model_.predict_proba(self._features(X))

    def predict(self, X: Epochs | np.ndarray) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def score(self, X: Epochs | np.ndarray, y: Any = None) -> float:
        if y is None and isinstance(X, Epochs):
            y = X.y
        return float(np.mean(self.predict(X) == np.asarray(y).astype(str)))
