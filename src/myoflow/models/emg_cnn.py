"""A plain 1-D CNN for sEMG windows: per-window standardised input + log-RMS side input.

The network sees each window's *shape* (every channel standardised per
window, inside :meth:`EMGCNN.forward`) through a few Conv1d → BatchNorm → ReLU →
MaxPool blocks and global average pooling, and the window's *amplitude*
(log-RMS per channel, centred and scaled by training-fold statistics held as
buffers) as a side input joined before the head. Standardising inside the
forward pass keeps the representation consistent with augmentation applied to
the raw batch (a gain changes only the side input).

An optional spectral branch adds the log power of the standardised window in
``n_bands`` equal-width frequency bands (via ``torch.fft.rfft``).

:meth:`EMGCNN.embed` returns the fused embedding before the head, so other
models (:mod:`myoflow.models.hybrid`) reuse the trunk.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

__all__ = ["EMGCNN", "standardize_batch", "log_band_power"]


def standardize_batch(x: torch.Tensor, eps: float = 1e-8) -> tuple[torch.Tensor, torch.Tensor]:
    """Torch twin of :func:`myoflow.preprocess.representation.standardize_windows`.

    ``x`` (batch, channels, times) → (standardised x, log-RMS (batch, channels)).
    """
    mu = x.mean(dim=2, keepdim=True)
    sd = x.std(dim=2, keepdim=True, unbiased=False)
    floor = eps * torch.clamp(sd.detach().max(), min=1e-12) if sd.numel() else 1e-12
    z = (x - mu) / (sd + floor)
    amp = torch.log(torch.clamp(x.pow(2).mean(dim=2).sqrt(), min=1e-12))
    return z, amp


def log_band_power(z: torch.Tensor, n_bands: int) -> torch.Tensor:
    """Log power of ``z`` (batch, channels, times) in ``n_bands`` equal-width bands from DC to Nyquist.

    The bands are fractions of the Nyquist frequency, so any sampling rate and
    window length work (at 1 kHz and 64 bands each band is ~7.8 Hz wide); the DC bin
    is dropped (zero after per-window standardisation). Returns (batch, channels * n_bands).
    """
    p = torch.fft.rfft(z, dim=2).abs().pow(2)[..., 1:]
    n_bins = p.shape[2]
    edges = torch.linspace(0, n_bins, int(n_bands) + 1).round().long().tolist()
    # a band narrower than one bin (more bands than bins) takes the bin it starts in
    bands = torch.stack([p[..., min(a, n_bins - 1):max(b, min(a, n_bins - 1) + 1)].mean(dim=2)
                         for a, b in zip(edges[:-1], edges[1:])], dim=2)
    return torch.log(bands + 1e-6).flatten(1)


class EMGCNN(nn.Module):
    """Conv1d-BN-ReLU-MaxPool blocks → global average pool ⊕ log-RMS (⊕ band powers) → MLP head.

    Parameters
    ----------
    n_classes : int
    in_channels : int
        Channels per sample (1 for channels-as-samples, the grid size for bursts-as-samples).
    widths : sequence of int
        Output channels of the conv blocks (one block each).
    kernel : int
        Kernel length of every conv (odd; "same" padding).
    pools : sequence of int
        Max-pool factor after each block (same length as ``widths``).
    hidden : int
        Width of the head's hidden layer.
    dropout : float
        Dropout before the head layers.
    use_amp : bool
        Join the log-RMS side input.
    n_bands : int
        Spectral branch with this many log band powers per channel (0 = off).

    Shapes
    ------
    ``forward(x)``: x (batch, in_channels, n_times) in raw units → logits (batch, n_classes).
    """

    def __init__(self, n_classes: int, in_channels: int = 1, widths: Sequence[int] = (16, 32, 32),
                 kernel: int = 7, pools: Sequence[int] = (4, 2, 2), hidden: int = 64, dropout: float = 0.3,
                 use_amp: bool = True, n_bands: int = 0):
        super().__init__()
        widths, pools = [int(w) for w in widths], [int(p) for p in pools]
        if n_classes < 2:
            raise ValueError(f"EMGCNN needs n_classes >= 2, got {n_classes}")
        if len(widths) != len(pools) or not widths:
            raise ValueError(f"EMGCNN: widths {widths} and pools {pools} must be non-empty and of equal length")
        self.config = dict(n_classes=int(n_classes), in_channels=int(in_channels), widths=widths,
                           kernel=int(kernel), pools=pools, hidden=int(hidden), dropout=float(dropout),
                           use_amp=bool(use_amp), n_bands=int(n_bands))
        blocks: list[nn.Module] = []
        c = int(in_channels)
        for w, p in zip(widths, pools):
            blocks += [nn.Conv1d(c, w, kernel, padding=kernel // 2, bias=False), nn.BatchNorm1d(w), nn.ReLU()]
            if p > 1:
                blocks.append(nn.MaxPool1d(p))
            c = w
        self.trunk = nn.Sequential(*blocks)
        self.use_amp, self.n_bands = bool(use_amp), int(n_bands)
        # Training-fold statistics of the log-RMS side input (set by the estimator's fit).
        self.register_buffer("amp_mean", torch.zeros(int(in_channels)))
        self.register_buffer("amp_std", torch.ones(int(in_channels)))
        side = int(in_channels) if use_amp else 0
        if self.n_bands:
            self.spec = nn.Sequential(nn.Linear(int(in_channels) * self.n_bands, 32), nn.ReLU())
            side += 32
        self.embed_dim = c + side
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(self.embed_dim, hidden), nn.ReLU(),
                                  nn.Dropout(dropout), nn.Linear(hidden, n_classes))

    def _bands(self, z: torch.Tensor) -> torch.Tensor:
        return log_band_power(z, self.n_bands)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Fused embedding (batch, embed_dim) of raw windows (batch, in_channels, n_times)."""
        z, amp = standardize_batch(x)
        parts = [self.trunk(z).mean(dim=2)]
        if self.use_amp:
            parts.append((amp - self.amp_mean) / self.amp_std)
        if self.n_bands:
            parts.append(self.spec(self._bands(z)))
        return torch.cat(parts, dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (batch, n_classes)."""
        return self.head(self.embed(x))
