"""Hybrid classifier: a deep branch and a classic-feature branch fused before the head.

The deep branch is the :class:`~myoflow.models.emg_cnn.EMGCNN` trunk (standardised
window shape + log-RMS) or, with ``trunk="cnn_lstm"``, the recipe CNN-LSTM
(:class:`~myoflow.models.cnn_lstm_recipe.RecipeCNNLSTM`, up to its last LSTM
state ⊕ log-RMS); the feature branch is a small MLP on the window's
classic features (Hudgins time-domain set, AR, spectral; standardised with
training-fold statistics held as buffers). Their embeddings are concatenated
and one head classifies. The classic features carry what decades of sEMG work
found discriminative; the deep branch can add what they miss.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .emg_cnn import EMGCNN

__all__ = ["HybridNet"]


class HybridNet(nn.Module):
    """EMGCNN embedding ⊕ MLP(classic features) → head.

    Parameters
    ----------
    n_classes, in_channels, widths, kernel, pools, dropout, use_amp, n_bands
        The deep branch (see :class:`EMGCNN`).
    n_features : int
        Classic features per sample.
    feature_hidden : int
        Width of the feature branch.
    trunk : {"cnn", "cnn_lstm"}
        Deep branch. ``"cnn_lstm"``: :class:`RecipeCNNLSTM` with ``widths[:2]`` conv
        channels, kernels ``(kernel, kernel // 2 | 1)``, pool ``pools[0]``, readout ``lstm_pool``.
    hidden : int
        Width of the head's hidden layer.

    Shapes
    ------
    ``forward(x, f)``: x (batch, in_channels, n_times) raw, f (batch, n_features) → logits (batch, n_classes).
    """

    def __init__(self, n_classes: int, n_features: int, in_channels: int = 1,
                 widths: Sequence[int] = (16, 32, 32), kernel: int = 7, pools: Sequence[int] = (4, 2, 2),
                 feature_hidden: int = 64, hidden: int = 64, dropout: float = 0.3, use_amp: bool = True,
                 n_bands: int = 0, trunk: str = "cnn", lstm_pool: str = "last"):
        super().__init__()
        if n_features < 1:
            raise ValueError(f"HybridNet needs n_features >= 1, got {n_features}")
        if trunk == "cnn":
            self.deep = EMGCNN(n_classes, in_channels, widths, kernel, pools, hidden, dropout, use_amp, n_bands)
            self.deep.head = nn.Identity()  # only its embedding is used
        elif trunk == "cnn_lstm":
            from .cnn_lstm_recipe import RecipeCNNLSTM

            k2 = max(3, (int(kernel) // 2) | 1)
            self.deep = RecipeCNNLSTM(n_classes, in_channels, tuple(int(w) for w in widths[:2]), (int(kernel), k2),
                                      int(pools[0]), dropout=dropout, use_amp=use_amp, n_bands=n_bands,
                                      lstm_pool=lstm_pool)
            self.deep.fc2 = self.deep.out = nn.Identity()  # only its embedding is used
        else:
            raise ValueError(f"HybridNet: unknown trunk {trunk!r}; expected 'cnn' or 'cnn_lstm'")
        self.config = dict(self.deep.config, n_features=int(n_features), feature_hidden=int(feature_hidden),
                           trunk=trunk)
        self.register_buffer("feat_mean", torch.zeros(int(n_features)))
        self.register_buffer("feat_std", torch.ones(int(n_features)))
        self.features = nn.Sequential(nn.Linear(int(n_features), feature_hidden), nn.BatchNorm1d(feature_hidden),
                                      nn.ReLU())
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(self.deep.embed_dim + feature_hidden, hidden),
                                  nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, n_classes))

    def forward(self, x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
        """Logits (batch, n_classes)."""
        h = torch.cat([self.deep.embed(x), self.features((f - self.feat_mean) / self.feat_std)], dim=1)
        return self.head(h)
