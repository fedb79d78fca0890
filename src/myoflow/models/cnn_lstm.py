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
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["CNNLSTM"]


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
        self.act = nn.ReLU()
        self.pool = nn.MaxPool1d(pool) if pool > 1 else nn.Identity()
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
