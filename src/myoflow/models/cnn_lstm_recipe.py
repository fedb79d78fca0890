"""The paper's CNN-LSTM (seed 001) with the improved input and normalisation recipe.

Same layer sequence as :class:`~myoflow.models.cnn_lstm.CNNLSTM` (two Conv1d →
FC per step → one LSTM → FC → FC), with the changes the paper's architecture
allows:

* input standardised per window inside ``forward`` (the paper feeds raw
  amplitude, which varies ten-fold between people), log-RMS joined as a side
  input after the LSTM;
* batch norm after each convolution;
* optionally (``n_bands > 0``) a spectral side branch: the log power of the
  standardised window in ``n_bands`` equal-width bands
  (:func:`~myoflow.models.emg_cnn.log_band_power`) through a small dense layer,
  joined with the log-RMS after the LSTM;
* optionally (``lstm_pool="mean"``) the LSTM's outputs averaged over the window's
  time steps instead of its last state (the paper reads the last state): the
  summary then weighs every part of the window alike, the way the plain CNN's
  global average pooling does. No extra weights. ``lstm_pool="meanmax"`` joins the
  mean and the maximum over time (a burst confined to part of the window keeps
  its peak), doubling the summary's width;
* optionally (``bidirectional=True``) a bidirectional LSTM: the last state is
  then both directions' final states, the pooled readouts pool both directions'
  outputs; ``lstm_hidden`` sets the width of each direction.

Defaults (``lstm_pool="last"``, ``bidirectional=False``, ``lstm_hidden=32``) build
the same layers in the same order as before these options, so seeded results do
not move.

:class:`RecipeCNNLSTMClassifier` is :class:`~myoflow.models.deep_classifier.DeepWindowClassifier`
(``arch="cnn_lstm"`` only) with those LSTM options exposed (``lstm_hidden``,
``bidirectional``, ``lstm_pool="meanmax"``); with their defaults it trains exactly the
network ``DeepWindowClassifier(arch="cnn_lstm")`` trains.

Training recipe (AdamW, cosine schedule, augmentation, group-held-out early
stopping) lives in the estimator, not here.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError
from .cnn_lstm import CNNLSTM
from .deep_classifier import DeepWindowClassifier
from .emg_cnn import log_band_power, standardize_batch

__all__ = ["RecipeCNNLSTM", "RecipeCNNLSTMClassifier", "LSTM_POOLS"]

#: LSTM readouts: last state (the paper), mean output over time, mean ⊕ max output over time.
LSTM_POOLS = ("last", "mean", "meanmax")
_POOLS = LSTM_POOLS


class RecipeCNNLSTM(CNNLSTM):
    """:class:`CNNLSTM` + per-window standardisation, batch norm and a log-RMS side input.

    Parameters are those of :class:`CNNLSTM` plus ``use_amp`` (join log-RMS),
    ``n_bands`` (spectral side branch with that many log band powers per channel; 0 = off) and
    ``lstm_pool`` (``"last"``: the LSTM's last state, as in the paper; ``"mean"``: its outputs averaged over time;
    ``"meanmax"``: their mean and maximum over time) and ``bidirectional`` (a bidirectional LSTM, ``lstm_hidden``
    units per direction).

    Shapes
    ------
    input ``(batch, in_channels, n_times)`` in raw units → logits ``(batch, n_classes)``.
    """

    def __init__(self, n_classes: int, in_channels: int = 1, conv_channels=(16, 32), kernel_sizes=(9, 5),
                 pool: int = 4, fc_size: int = 32, lstm_hidden: int = 32, head_size: int = 32,
                 dropout: float = 0.2, use_amp: bool = True, n_bands: int = 0, lstm_pool: str = "last",
                 bidirectional: bool = False):
        if lstm_pool not in _POOLS:
            raise ValueError(f"RecipeCNNLSTM: unknown lstm_pool {lstm_pool!r}; expected one of {list(_POOLS)}")
        if int(lstm_hidden) < 1:
            raise ValueError(f"RecipeCNNLSTM: lstm_hidden must be >= 1, got {lstm_hidden!r}")
        super().__init__(n_classes, in_channels, conv_channels, kernel_sizes, pool, fc_size, lstm_hidden,
                         head_size, dropout)
        self.config["use_amp"] = bool(use_amp)
        self.config["lstm_pool"] = self.lstm_pool = str(lstm_pool)
        self.config["bidirectional"] = self.bidirectional = bool(bidirectional)
        if self.bidirectional:  # replaces the parent's one-way LSTM (defaults never get here: same init draws)
            self.lstm = nn.LSTM(int(fc_size), int(lstm_hidden), num_layers=1, batch_first=True, bidirectional=True)
        width = int(lstm_hidden) * (2 if self.bidirectional else 1) * (2 if self.lstm_pool == "meanmax" else 1)
        self.use_amp = bool(use_amp)
        c1, c2 = self.config["conv_channels"]
        self.bn1, self.bn2 = nn.BatchNorm1d(c1), nn.BatchNorm1d(c2)
        self.register_buffer("amp_mean", torch.zeros(int(in_channels)))
        self.register_buffer("amp_std", torch.ones(int(in_channels)))
        self.config["n_bands"] = self.n_bands = int(n_bands)
        side = int(in_channels) if self.use_amp else 0
        if self.n_bands:
            self.spec = nn.Sequential(nn.Linear(int(in_channels) * self.n_bands, 32), nn.ReLU())
            side += 32
        if side or width != int(lstm_hidden):  # the head also sees the amplitude (and the spectrum)
            self.fc2 = nn.Linear(width + side, head_size)
        #: width of :meth:`embed` (what :class:`~myoflow.models.hybrid.HybridNet` fuses with its feature branch)
        self.embed_dim = width + side

    def _summary(self, seq: torch.Tensor, h_last: torch.Tensor) -> torch.Tensor:
        """The LSTM's window summary (before dropout) from its outputs (batch, steps, d) and final states."""
        if self.lstm_pool == "mean":
            return seq.mean(dim=1)
        if self.lstm_pool == "meanmax":
            return torch.cat([seq.mean(dim=1), seq.amax(dim=1)], dim=1)
        # last state: h_last is (directions, batch, hidden); both directions' final states when bidirectional
        return torch.cat([h_last[-2], h_last[-1]], dim=1) if self.bidirectional else h_last[-1]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Conv → BN → ReLU → pool, twice; input already standardised."""
        h = self.pool(self.act(self.bn1(self.conv1(x))))
        return self.pool(self.act(self.bn2(self.conv2(h))))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """LSTM summary (:meth:`_summary`, after dropout) ⊕ log-RMS (⊕ band powers): (batch, embed_dim)."""
        z, amp = standardize_batch(x)
        h = self.features(z).transpose(1, 2)
        h = self.act(self.fc1(h))
        seq, (h_last, _) = self.lstm(h)
        h = self.drop(self._summary(seq, h_last))
        parts = [h]
        if self.use_amp:
            parts.append((amp - self.amp_mean) / self.amp_std)
        if self.n_bands:
            parts.append(self.spec(log_band_power(z, self.n_bands)))
        return torch.cat(parts, dim=1) if len(parts) > 1 else h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (batch, n_classes) for raw windows (batch, in_channels, n_times)."""
        h = self.act(self.fc2(self.embed(x)))
        return self.out(self.drop(h))


class RecipeCNNLSTMClassifier(DeepWindowClassifier):
    """:class:`~myoflow.models.deep_classifier.DeepWindowClassifier` for ``arch="cnn_lstm"`` with the LSTM options.

    Parameters
    ----------
    lstm_hidden : int
        LSTM units (per direction); 32 as in :class:`DeepWindowClassifier`.
    bidirectional : bool
        Bidirectional LSTM.
    lstm_pool : {"last", "mean", "meanmax"}
        Readout of the LSTM (see :class:`RecipeCNNLSTM`).
    **others
        Those of :class:`DeepWindowClassifier` (``arch`` must be ``"cnn_lstm"``), ``overlap_crops`` among them.

    Notes
    -----
    Used by ``benchmarks/elderly_deep.py`` and ``select_deep_recipe.py``; registered as ``recipe_cnn_lstm``,
    so its checkpoints load with :func:`myoflow.models.load_estimator`.
    """

    registry_name = "recipe_cnn_lstm"

    def __init__(self, arch: str = "cnn_lstm", widths=(16, 32, 32), kernel: int = 7, pools=(4, 2, 2),
                 hidden: int = 64, dropout: float = 0.3, n_bands: int = 0, use_amp: bool = True, epochs: int = 40,
                 batch_size: int = 64, lr: float = 2e-3, weight_decay: float = 1e-2, schedule: str = "cosine",
                 patience: int = 10, label_smoothing: float = 0.0, max_shift: int = 0, max_gain: float = 1.0,
                 noise: float = 0.0, channel_drop: float = 0.0, val_fraction: float = 0.2,
                 val_group: str = "subject", n_seeds: int = 1, class_weight: bool = True, fs: float | None = None,
                 seed: int = 0, device: str = "cpu", mixup: float = 0.0, tta: int = 0, pretrain=None,
                 lstm_pool: str = "last", lstm_hidden: int = 32, bidirectional: bool = False,
                 overlap_crops: int = 0):
        super().__init__(arch=arch, widths=widths, kernel=kernel, pools=pools, hidden=hidden, dropout=dropout,
                         n_bands=n_bands, use_amp=use_amp, epochs=epochs, batch_size=batch_size, lr=lr,
                         weight_decay=weight_decay, schedule=schedule, patience=patience,
                         label_smoothing=label_smoothing, max_shift=max_shift, max_gain=max_gain, noise=noise,
                         channel_drop=channel_drop, val_fraction=val_fraction, val_group=val_group,
                         n_seeds=n_seeds, class_weight=class_weight, fs=fs, seed=seed, device=device, mixup=mixup,
                         tta=tta, pretrain=pretrain, lstm_pool=lstm_pool, overlap_crops=overlap_crops)
        self.lstm_hidden = lstm_hidden
        self.bidirectional = bidirectional

    def _validate_params(self) -> None:
        if self.arch != "cnn_lstm":
            raise ConfigError(f"RecipeCNNLSTMClassifier: arch must be 'cnn_lstm', got {self.arch!r}")
        if self.lstm_pool not in LSTM_POOLS:
            raise ConfigError(f"unknown lstm_pool {self.lstm_pool!r}; expected one of {list(LSTM_POOLS)}")
        if isinstance(self.lstm_hidden, bool) or not isinstance(self.lstm_hidden, (int, np.integer)) \
                or int(self.lstm_hidden) < 1:
            raise ConfigError(f"lstm_hidden must be an integer >= 1, got {self.lstm_hidden!r}")
        if not isinstance(self.bidirectional, (bool, np.bool_)):
            raise ConfigError(f"bidirectional must be true or false, got {self.bidirectional!r}")
        pool = self.lstm_pool
        self.lstm_pool = "last"  # the parent's check knows only last/mean; the readout was checked above
        try:
            super()._validate_params()
        finally:
            self.lstm_pool = pool

    def _build(self, n_classes: int, in_channels: int, n_features: int):
        # the same layer sizes as DeepWindowClassifier._build for arch="cnn_lstm", plus the LSTM options
        k2 = max(3, (int(self.kernel) // 2) | 1)
        return RecipeCNNLSTM(n_classes, in_channels, tuple(self.widths[:2]), (int(self.kernel), k2),
                             int(self.pools[0]), lstm_hidden=int(self.lstm_hidden), dropout=self.dropout,
                             use_amp=self.use_amp, n_bands=int(self.n_bands), lstm_pool=self.lstm_pool,
                             bidirectional=bool(self.bidirectional))
