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
  global average pooling does. No extra weights.

Training recipe (AdamW, cosine schedule, augmentation, group-held-out early
stopping) lives in the estimator, not here.
"""
from __future__ import annotations

import torch
from torch import nn

from .cnn_lstm import CNNLSTM
from .emg_cnn import log_band_power, standardize_batch

__all__ = ["RecipeCNNLSTM"]

_POOLS = ("last", "mean")


class RecipeCNNLSTM(CNNLSTM):
    """:class:`CNNLSTM` + per-window standardisation, batch norm and a log-RMS side input.

    Parameters are those of :class:`CNNLSTM` plus ``use_amp`` (join log-RMS),
    ``n_bands`` (spectral side branch with that many log band powers per channel; 0 = off) and
    ``lstm_pool`` (``"last"``: the LSTM's last state, as in the paper; ``"mean"``: its outputs averaged over time).

    Shapes
    ------
    input ``(batch, in_channels, n_times)`` in raw units → logits ``(batch, n_classes)``.
    """

    def __init__(self, n_classes: int, in_channels: int = 1, conv_channels=(16, 32), kernel_sizes=(9, 5),
                 pool: int = 4, fc_size: int = 32, lstm_hidden: int = 32, head_size: int = 32,
                 dropout: float = 0.2, use_amp: bool = True, n_bands: int = 0, lstm_pool: str = "last"):
        super().__init__(n_classes, in_channels, conv_channels, kernel_sizes, pool, fc_size, lstm_hidden,
                         head_size, dropout)
        if lstm_pool not in _POOLS:
            raise ValueError(f"RecipeCNNLSTM: unknown lstm_pool {lstm_pool!r}; expected one of {list(_POOLS)}")
        self.config["use_amp"] = bool(use_amp)
        self.config["lstm_pool"] = self.lstm_pool = str(lstm_pool)
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
        if side:  # the head also sees the amplitude (and the spectrum)
            self.fc2 = nn.Linear(lstm_hidden + side, head_size)
        #: width of :meth:`embed` (what :class:`~myoflow.models.hybrid.HybridNet` fuses with its feature branch)
        self.embed_dim = int(lstm_hidden) + side

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Conv → BN → ReLU → pool, twice; input already standardised."""
        h = self.pool(self.act(self.bn1(self.conv1(x))))
        return self.pool(self.act(self.bn2(self.conv2(h))))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """LSTM summary (last state or mean output; after dropout) ⊕ log-RMS (⊕ band powers): (batch, embed_dim)."""
        z, amp = standardize_batch(x)
        h = self.features(z).transpose(1, 2)
        h = self.act(self.fc1(h))
        seq, (h_last, _) = self.lstm(h)
        h = self.drop(seq.mean(dim=1) if self.lstm_pool == "mean" else h_last[-1])
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
