"""Hybrid CNN-LSTM muscle classifier of Velásquez et al. (seed 001).

Architecture (paper §III-C, Fig. 3): two 1-D convolution layers (feature
extractors) → a fully connected layer applied at every time step → one LSTM
layer (short- and long-term dependencies; only one, because LSTM layers overfit
more easily than CNN layers, Bao et al. 2020) → a second fully connected layer →
a last fully connected layer with a softmax over the muscles.

The paper does not give kernel sizes, channel counts or hidden sizes ("some of
the hyperparameters are determined via empirical manual tuning"); the defaults
here are ours, chosen small enough to train on a CPU, and every size is a
constructor argument.

:meth:`CNNLSTM.forward` returns logits (so training can use the numerically
stable ``cross_entropy``); :meth:`CNNLSTM.predict_proba` applies the softmax.

:class:`CNNLSTMClassifier` is its estimator, optionally initialised by greedy
layer-wise conv-autoencoder pretraining on the training windows
(:func:`~myoflow.models.conv_autoencoder.pretrain_conv_layers`): the paper's
setup 1 (``pretrain=True``) and setup 2 (``pretrain=False``). It takes
:class:`~myoflow.containers.Epochs` (each channel of a grid burst is its own
1-channel sample; ``metadata`` carries ``subject`` and ``burst_id``) or arrays, and
labels from ``epochs.y`` unless ``y`` is given. Everything learned — the amplitude
scale, the autoencoder, the classifier, the early-stopping split — is fitted on
the data passed to ``fit`` only, which the pipeline restricts to the training part
of a fold.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..containers import Epochs
from ..errors import DataError
from .base import MyoflowClassifier, softmax_rows

__all__ = ["CNNLSTM", "CNNLSTMClassifier", "MaxPoolReshape", "EVAL_BATCH"]

log = logging.getLogger(__name__)

#: Windows per forward chunk at validation and prediction. Each window's logits do not depend on
#: the chunk (checked bit for bit in the tests), but the speed does: one 12 000-window forward
#: runs ~4x slower per window than 256-window chunks (the activations no longer fit in cache).
EVAL_BATCH = 256


class MaxPoolReshape(nn.Module):
    """Non-overlapping 1-D max pooling as a reshape + ``max`` over the last axis.

    The same values and the same gradients as ``nn.MaxPool1d(k)`` (stride ``k``, trailing
    samples that do not fill a window dropped; a tie sends the gradient to the first maximum,
    as ``MaxPool1d`` does — tested), ~15-20 % cheaper on CPU for the CNN-LSTM's sizes because
    it skips the generic 2-D pooling kernel ``MaxPool1d`` dispatches to.

    Shapes: ``(batch, channels, n_times)`` → ``(batch, channels, n_times // k)``.
    """

    def __init__(self, kernel_size: int):
        super().__init__()
        self.kernel_size = int(kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = self.kernel_size
        n = x.shape[-1] // k
        return x[..., : n * k].reshape(*x.shape[:-1], n, k).max(dim=-1).values

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}"


class CNNLSTM(nn.Module):
    """Two Conv1d layers → FC → LSTM → FC → FC + softmax.

    Parameters
    ----------
    n_classes : int
        Number of muscles (output units).
    in_channels : int
        Input channels per sample (1: each grid channel is its own sample).
    conv_channels : (int, int)
        Output channels of the two convolution layers.
    kernel_sizes : (int, int)
        Kernel lengths in samples (odd; "same" padding).
    pool : int
        Max-pool factor after each convolution (shortens the sequence the LSTM
        sees; 500 samples → 125 steps with the default 2).
    fc_size : int
        Width of the per-time-step fully connected layer before the LSTM.
    lstm_hidden : int
        Hidden size of the single LSTM layer.
    head_size : int
        Width of the second fully connected layer.
    dropout : float
        Dropout before the output layers.

    Shapes
    ------
    input ``(batch, in_channels, n_times)`` → logits ``(batch, n_classes)``.
    """

    def __init__(
        self,
        n_classes: int,
        in_channels: int = 1,
        conv_channels: tuple[int, int] = (16, 32),
        kernel_sizes: tuple[int, int] = (9, 5),
        pool: int = 2,
        fc_size: int = 32,
        lstm_hidden: int = 32,
        head_size: int = 32,
        dropout: float = 0.2,
    ):
        super().__init__()
        if n_classes < 2:
            raise ValueError(f"CNNLSTM needs n_classes >= 2, got {n_classes}")
        c1, c2 = (int(c) for c in conv_channels)
        k1, k2 = (int(k) for k in kernel_sizes)
        self.config = dict(
            n_classes=int(n_classes), in_channels=int(in_channels), conv_channels=[c1, c2],
            kernel_sizes=[k1, k2], pool=int(pool), fc_size=int(fc_size), lstm_hidden=int(lstm_hidden),
            head_size=int(head_size), dropout=float(dropout),
        )
        # The conv layers are separate attributes (not a Sequential) so the
        # greedy autoencoder pretraining can address and overwrite each one.
        self.conv1 = nn.Conv1d(in_channels, c1, k1, padding=k1 // 2)
        self.conv2 = nn.Conv1d(c1, c2, k2, padding=k2 // 2)
        # in place: every input it gets is a fresh layer output no backward needs (conv, linear and
        # batch-norm backward use their inputs); ~3 % of a training step saved, numbers identical (tested)
        self.act = nn.ReLU(inplace=True)
        self.pool = MaxPoolReshape(pool) if pool > 1 else nn.Identity()
        self.fc1 = nn.Linear(c2, fc_size)
        self.lstm = nn.LSTM(fc_size, lstm_hidden, num_layers=1, batch_first=True)
        self.fc2 = nn.Linear(lstm_hidden, head_size)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(head_size, n_classes)

    @property
    def conv_layers(self) -> list[nn.Conv1d]:
        """The convolution layers in input order (the ones pretraining initialises)."""
        return [self.conv1, self.conv2]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Convolutional feature maps, shape (batch, conv_channels[1], n_times // pool**2)."""
        h = self.pool(self.act(self.conv1(x)))
        return self.pool(self.act(self.conv2(h)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits, shape (batch, n_classes), for input (batch, in_channels, n_times)."""
        h = self.features(x).transpose(1, 2)          # (batch, steps, c2)
        h = self.act(self.fc1(h))                     # FC at every time step
        _, (h_last, _) = self.lstm(h)                 # last hidden state summarises the window
        h = self.act(self.fc2(self.drop(h_last[-1])))
        return self.out(self.drop(h))

    @torch.no_grad()
    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        """Softmax class probabilities, shape (batch, n_classes)."""
        return torch.softmax(self.forward(x), dim=-1)


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


class CNNLSTMClassifier(MyoflowClassifier):
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
    channels_per_epoch : int, optional
        Train each epoch on at most this many windows of every ``channel_group`` (a grid burst's
        channels are near-copies), drawn afresh every epoch from the seeded batch generator;
        ``None`` (default): every window every epoch. Needs Epochs with that metadata column.
    channel_group : str or sequence of str
        Metadata column(s) naming the windows that are channels of one another: the same burst
        and window position (default), so a whole-recording tiling (one channel, many windows per
        "burst") is never thinned. When no group has more than ``channels_per_epoch`` windows,
        nothing is subsampled (the run is then identical to ``None``).
    seed : int
        Seeds weight initialisation, pretraining, batch order, validation split.
    pretrain_seed : int, optional
        Setup 1 only: seeds the convolution layers' initial weights and their autoencoder
        pretraining instead of ``seed``. Models of different tasks trained on the same windows with
        one ``pretrain_seed`` then pretrain identically, so one pretraining can serve them all
        (``pretrain_cache``). ``None`` (default): everything from ``seed``.
    pretrain_cache : str, optional
        Folder memoising the pretrained convolution weights, keyed by a hash of everything they
        depend on (training windows, initial weights, autoencoder settings, torch version, threads,
        device): a hit gives exactly the weights pretraining would compute. ``None``: no cache.
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

    registry_name = "cnn_lstm"
    _module_attr = "module_"

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
        channels_per_epoch: int | None = None,
        channel_group: str | Sequence[str] = ("burst_key", "window"),
        seed: int = 0,
        pretrain_seed: int | None = None,
        pretrain_cache: str | None = None,
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
        self.channels_per_epoch = channels_per_epoch
        self.channel_group = channel_group
        self.seed = seed
        self.pretrain_seed = pretrain_seed
        self.pretrain_cache = pretrain_cache
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
        from ..train import torch_seed

        with torch_seed(int(self.seed)):
            return CNNLSTM(**self.module_config(n_classes, in_channels))

    # -------------------------------------------------------------------- fit
    def fit(self, epochs: Epochs | np.ndarray, y: Any = None, groups: Any = None) -> "CNNLSTMClassifier":
        """Pretrain (setup 1) and train on the given TRAINING windows.

        Parameters
        ----------
        epochs : Epochs or array (n, channels, times)
            Training windows; ``metadata`` must hold the ``val_group`` column(s) when
            ``val_fraction > 0`` (or give ``groups``).
        y : array of str, optional
            Labels (default ``epochs.y``).
        groups : array, optional
            Validation group of each window (replaces the ``val_group`` columns; needed
            for a plain array with ``val_fraction > 0``).
        """
        from ..evaluate.splitters import inner_validation_split
        from ..train import derive_seed, torch_seed

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
            if groups is not None:
                md, group = pd.DataFrame({"group": np.asarray(groups)}), "group"
            elif isinstance(epochs, Epochs):
                md = epochs.metadata
                group = self.val_group if isinstance(self.val_group, str) else list(self.val_group)
            else:
                # Plain arrays without groups (e.g. inside cross_val_score, which routes groups to the
                # splitter only): each window is its own group. Said loudly, since windows of one burst
                # or subject may then sit on both sides of the early-stopping split.
                log.warning("CNNLSTMClassifier.fit got a plain array and no groups: early-stopping windows are "
                            "drawn one by one; pass Epochs or groups= for a group-held-out validation split")
                md, group = pd.DataFrame({"group": np.arange(len(y))}), "group"
            fit_idx, val_idx = inner_validation_split(
                md, np.arange(len(y)), fraction=float(self.val_fraction),
                seed=derive_seed(self.seed, "validation"), group=group, y=y,
            )

        subset_groups = None
        if self.channels_per_epoch is not None:
            k = int(self.channels_per_epoch)
            if k < 1:
                raise DataError(f"channels_per_epoch must be >= 1 or null, got {self.channels_per_epoch!r}")
            cols = [self.channel_group] if isinstance(self.channel_group, str) else list(self.channel_group)
            if not isinstance(epochs, Epochs) or any(c not in epochs.metadata.columns for c in cols):
                raise DataError(f"channels_per_epoch needs Epochs whose metadata has the column(s) {cols}")
            key = epochs.metadata[cols].astype(str).agg("|".join, axis=1).to_numpy()[fit_idx]
            subset_groups = pd.factorize(key)[0]
            if np.bincount(subset_groups).max() <= k:  # every group already within k: nothing to thin
                subset_groups = None

        self.module_ = self._build(self.classes_.size, X.shape[1])
        with torch_seed(derive_seed(self.seed, "training")):  # dropout masks: reproducible, global RNG untouched
            self._train(Xs, codes, fit_idx, val_idx, subset_groups)
        return self

    def _pretrain_cache_file(self, Xs: np.ndarray, ae_seed: int, device) -> Path:
        """Cache file of this pretraining: a hash of every input it depends on."""
        import hashlib
        import json

        import torch

        settings = {k: v for k, v in self.module_config(0, Xs.shape[1]).items() if k != "n_classes"}
        settings.update(ae_epochs=int(self.ae_epochs), batch_size=int(self.batch_size), ae_lr=float(self.ae_lr),
                        ae_max_samples=self.ae_max_samples, ae_seed=int(ae_seed), shape=list(Xs.shape),
                        dtype=str(Xs.dtype), torch=torch.__version__, threads=torch.get_num_threads(),
                        device=str(device), format=1)
        h = hashlib.blake2b(json.dumps(settings, sort_keys=True).encode(), digest_size=20)
        h.update(np.ascontiguousarray(Xs).view(np.uint8).reshape(-1))
        for conv in self.module_.conv_layers:
            for t in (conv.weight, conv.bias):
                if t is not None:
                    h.update(t.detach().cpu().numpy().tobytes())
        return Path(self.pretrain_cache) / f"cnn_lstm-pretrain-{h.hexdigest()}.npz"

    def _epoch_subset(self, groups: np.ndarray):
        """Per epoch: at most ``channels_per_epoch`` random windows of every group (indices into the fit set)."""
        k = int(self.channels_per_epoch)

        def subset(state) -> np.ndarray:
            r = torch.rand(len(groups), generator=state.generator).numpy()
            order = np.lexsort((r, groups))                      # by group, random within group
            g = groups[order]
            first = np.r_[0, np.flatnonzero(g[1:] != g[:-1]) + 1]
            rank = np.arange(len(g)) - np.repeat(first, np.diff(np.r_[first, len(g)]))
            return np.sort(order[rank < k])

        return subset

    def _train(self, Xs: np.ndarray, codes: np.ndarray, fit_idx: np.ndarray, val_idx: np.ndarray,
               subset_groups: np.ndarray | None = None) -> None:
        import torch

        from ..evaluate.imbalance import class_weights
        from .conv_autoencoder import pretrain_conv_layers
        from ..train import derive_seed, fit_module
        from ..train.device import get_device

        self.pretrain_history_: list[list[float]] = []
        if self.pretrain:
            ae_seed = derive_seed(self.seed, "autoencoder")
            if self.pretrain_seed is not None:
                from ..train import torch_seed

                # the conv layers start from weights of pretrain_seed (the global RNG is left untouched)
                with torch_seed(int(self.pretrain_seed)):
                    for conv in self.module_.conv_layers:
                        conv.reset_parameters()
                ae_seed = derive_seed(int(self.pretrain_seed), "autoencoder")
            device = get_device(self.device)
            cache = self._pretrain_cache_file(Xs, ae_seed, device) if self.pretrain_cache else None
            hit = _load_pretrained(cache, self.module_.conv_layers) if cache is not None else None
            if hit is not None:
                self.pretrain_history_ = hit
            else:
                # Unsupervised, so every training window may be used (never test windows).
                self.pretrain_history_ = pretrain_conv_layers(
                    self.module_.conv_layers, Xs, between=self.module_.pool, activation=self.module_.act,
                    epochs=int(self.ae_epochs), batch_size=int(self.batch_size), lr=float(self.ae_lr),
                    seed=ae_seed, max_samples=self.ae_max_samples,
                    device=device,  # on the GPU too, not left on the CPU
                )
                if cache is not None:
                    _save_pretrained(cache, self.module_.conv_layers, self.pretrain_history_)
        self.initial_conv_weights_ = {
            f"conv{i + 1}": c.weight.detach().cpu().clone().numpy() for i, c in enumerate(self.module_.conv_layers)
        }

        weight = None
        if self.class_weight:
            cw = class_weights(codes[fit_idx])
            weight = torch.tensor([cw.get(i, 1.0) for i in range(self.classes_.size)], dtype=torch.float32)

        def loss_fn(out, target):
            return torch.nn.functional.cross_entropy(out, target, weight=None if weight is None else weight.to(out.device))

        self.val_accuracy_: list[float] = []
        Xv, yv = Xs[val_idx], codes[val_idx]

        def on_validation(logits, target) -> None:
            # accuracy from the logits of the engine's own validation pass (no second forward)
            self.val_accuracy_.append(int((logits.argmax(1) == target).sum()) / max(len(target), 1))

        self.history_ = fit_module(
            self.module_, [Xs[fit_idx]], codes[fit_idx], loss_fn,
            val_inputs=[Xv] if len(val_idx) else None, val_target=yv if len(val_idx) else None,
            epochs=int(self.epochs), batch_size=int(self.batch_size), lr=float(self.lr),
            weight_decay=float(self.weight_decay), optimizer=self.optimizer, patience=int(self.patience),
            seed=derive_seed(self.seed, "batches"), device=self.device, on_validation=on_validation,
            val_batch_size=EVAL_BATCH,
            epoch_subset=None if subset_groups is None else self._epoch_subset(subset_groups),
        )
        self.module_.eval()

    # ---------------------------------------------------------------- predict
    def _logits(self, Xs: np.ndarray) -> np.ndarray:
        from ..train import predict_module

        return predict_module(self.module_, [Xs], batch_size=EVAL_BATCH, device=self.device)

    def predict_proba(self, epochs: Epochs | np.ndarray) -> np.ndarray:
        """Softmax probabilities, shape (n, n_classes), columns in ``classes_`` order."""
        self._check_fitted()
        X, _ = _xy(epochs, None, "CNNLSTMClassifier.predict_proba")
        return softmax_rows(self._logits((X / np.float32(self.scale_)).astype(np.float32)))

    def score(self, epochs: Epochs | np.ndarray, y: Any = None, sample_weight: Any = None) -> float:
        """Accuracy on the given windows."""
        X, y = _xy(epochs, y, "CNNLSTMClassifier.score")
        if y is None:
            raise DataError("score needs labels")
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
        return float(np.average(self.predict(epochs) == np.asarray(y).astype(str), weights=w))

    def curves(self) -> dict[str, list[float]]:
        """Training curves: train/val loss, val accuracy, autoencoder losses."""
        self._check_fitted()
        out = self.history_.as_curves()
        out["val_accuracy"] = list(self.val_accuracy_)
        for i, h in enumerate(self.pretrain_history_):
            out[f"ae{i + 1}_reconstruction_mse"] = list(h)
        return out

    # -------------------------------------------------------------- persistence
    def _fitted_state(self) -> dict[str, Any]:
        return {"classes": self.classes_.tolist(), "scale": float(self.scale_),
                "in_channels": int(self.module_.config["in_channels"]),
                "best_epoch": int(self.history_.best_epoch) if hasattr(self, "history_") else None}

    def _restore(self, fitted: dict[str, Any]) -> None:
        self.classes_ = np.asarray(fitted["classes"]).astype(str)
        self.scale_ = float(fitted["scale"])
        self.module_ = self._build(self.classes_.size, int(fitted.get("in_channels", 1))).eval()


def _load_pretrained(path: Path, conv_layers) -> list[list[float]] | None:
    """Pretrained conv weights from ``path`` into ``conv_layers``; their histories, or None (absent/unreadable)."""
    import torch

    if not path.is_file():
        return None
    try:
        with np.load(path) as z:
            arrays = {k: z[k] for k in z.files}
        tensors = []
        for i, conv in enumerate(conv_layers):
            w = torch.as_tensor(arrays[f"conv{i}_weight"])
            if tuple(w.shape) != tuple(conv.weight.shape):
                raise ValueError(f"conv{i} weight shape {tuple(w.shape)}")
            b = torch.as_tensor(arrays[f"conv{i}_bias"]) if conv.bias is not None else None
            tensors.append((w, b))
        history = [arrays[f"history{i}"].astype(float).tolist() for i in range(len(conv_layers))]
    except Exception as exc:  # noqa: BLE001 - a damaged cache entry is recomputed, never trusted
        log.warning("pretraining cache %s unreadable (%s); pretraining again", path, exc)
        return None
    with torch.no_grad():
        for conv, (w, b) in zip(conv_layers, tensors):
            conv.weight.copy_(w.to(conv.weight.device))
            if b is not None:
                conv.bias.copy_(b.to(conv.bias.device))
    log.debug("pretrained conv weights from %s", path)
    return history


def _save_pretrained(path: Path, conv_layers, history: list[list[float]]) -> None:
    from .._atomic import atomic_path

    arrays = {}
    for i, conv in enumerate(conv_layers):
        arrays[f"conv{i}_weight"] = conv.weight.detach().cpu().numpy()
        if conv.bias is not None:
            arrays[f"conv{i}_bias"] = conv.bias.detach().cpu().numpy()
        arrays[f"history{i}"] = np.asarray(history[i], dtype=np.float64)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, **arrays)
    except OSError as exc:  # a read-only or full cache only costs the next model its pretraining
        log.warning("could not write the pretraining cache %s (%s)", path, exc)
