"""Greedy layer-wise convolutional autoencoder pretraining (seed 001, setup 1).

Velásquez et al. (§III-D, Fig. 4) initialise the two convolution layers of their
CNN-LSTM by unsupervised pretraining, following the greedy layer-by-layer
strategy of Ali et al. 2017 (Energies 10:1830) and Bengio et al. 2007: each
convolution layer in turn is the encoder of its own autoencoder whose decoder is
a deconvolution (transposed convolution) reconstructing that layer's input; the
learned encoder weights are then copied into the classifier.

Layer ``k``'s autoencoder is trained on the representation produced by the
already-pretrained layers ``1..k-1`` (frozen), exactly as the greedy scheme
prescribes. Only the TRAINING part of a fold may be passed in: the caller
(:class:`~myoflow.models.cnn_lstm.CNNLSTMClassifier`) does so.
"""
from __future__ import annotations

import copy
import logging
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

__all__ = ["ConvAutoencoder", "pretrain_conv_layers"]

log = logging.getLogger(__name__)

_ENCODE_CHUNK = 256  # windows per forward when encoding the pretraining set for the next layer


class ConvAutoencoder(nn.Module):
    """One-layer conv/deconv autoencoder: ``x → act(conv(x)) → deconv → x̂``.

    Parameters
    ----------
    encoder : nn.Conv1d
        The convolution to pretrain (a deep copy is trained; read it back with
        :attr:`encoder`).
    activation : nn.Module
        Non-linearity after the encoder (the classifier's, so the learned
        features match the way they are used later).

    Shapes
    ------
    input and output ``(batch, encoder.in_channels, n_times)``.
    """

    def __init__(self, encoder: nn.Conv1d, activation: nn.Module | None = None):
        super().__init__()
        self.encoder = copy.deepcopy(encoder)
        self.activation = activation if activation is not None else nn.ReLU()
        k = self.encoder.kernel_size[0]
        self.decoder = nn.ConvTranspose1d(
            self.encoder.out_channels, self.encoder.in_channels, k, padding=self.encoder.padding[0]
        )

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.encoder(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encode(x))


def _train_autoencoder(ae: ConvAutoencoder, X: torch.Tensor, epochs: int, batch_size: int, lr: float,
                       gen: torch.Generator) -> list[float]:
    """Train one autoencoder with the shared engine; reconstruction MSE before training, then per epoch."""
    from ..train.engine import fit

    n = X.shape[0]
    with torch.no_grad():  # reconstruction error before any training, the baseline
        first = float(sum(nn.functional.mse_loss(ae(X[s:s + 1024]), X[s:s + 1024], reduction="sum")
                          for s in range(0, n, 1024)) / X.numel())
    if epochs < 1:
        return [first]

    def loss(batch, state):
        return nn.functional.mse_loss(ae(batch[0]), batch[0])

    hist = fit(ae, [X], loss, epochs=epochs, batch_size=batch_size, lr=lr, generator=gen, patience=None,
               device=str(X.device))
    return [first] + hist.train_loss


def pretrain_conv_layers(
    conv_layers: Sequence[nn.Conv1d],
    X: np.ndarray,
    *,
    between: Callable[[torch.Tensor], torch.Tensor] | None = None,
    activation: nn.Module | None = None,
    epochs: int = 10,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
    max_samples: int | None = None,
    device: str = "cpu",
) -> list[list[float]]:
    """Greedy layer-wise pretraining; writes the learned weights INTO ``conv_layers``.

    Parameters
    ----------
    conv_layers : sequence of nn.Conv1d
        The classifier's convolution layers in input order; each is overwritten
        with its pretrained encoder weights (the transfer of Fig. 4).
    X : array, shape (n_samples, in_channels, n_times)
        Unlabelled TRAINING windows (already scaled as the classifier sees them).
    between : callable, optional
        What the classifier applies between one layer's activation and the next
        layer (e.g. max pooling); applied to the frozen representation fed to
        the next autoencoder.
    activation : nn.Module, optional
        Non-linearity after each convolution (default ReLU).
    epochs, batch_size, lr : training settings of each autoencoder (Adam, MSE).
    seed : int
        Seeds the decoder initialisation and the batch order (local generator;
        global torch RNG state is restored).
    max_samples : int, optional
        Pretrain on a random subset of at most this many windows (speed).
    device : str
        Torch device the autoencoders train on (``"cuda"`` on a GPU machine; the learned
        weights are copied back into ``conv_layers`` wherever they live).

    Returns
    -------
    list of list of float
        Per layer, the reconstruction loss (MSE): before training (element 0),
        then the mean over each epoch's mini-batches.
    """
    act = activation if activation is not None else nn.ReLU()
    x = torch.as_tensor(np.asarray(X, dtype=np.float32))
    if x.ndim != 3:
        raise ValueError(f"X must be (n_samples, channels, n_times), got shape {tuple(x.shape)}")
    gen = torch.Generator().manual_seed(int(seed))
    if max_samples is not None and x.shape[0] > max_samples:
        x = x[torch.randperm(x.shape[0], generator=gen)[:max_samples]]
    x = x.to(device)  # after the CPU-generator subset, so the subset does not depend on the device
    histories: list[list[float]] = []
    h = x
    for i, conv in enumerate(conv_layers):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed) + 1009 * (i + 1))
            ae = ConvAutoencoder(conv, act)
        losses = _train_autoencoder(ae, h, epochs, batch_size, lr, gen)
        histories.append(losses)
        log.debug("autoencoder layer %d: reconstruction MSE %.4g -> %.4g", i + 1, losses[0], losses[-1])
        with torch.no_grad():
            conv.weight.copy_(ae.encoder.weight)
            if conv.bias is not None:
                conv.bias.copy_(ae.encoder.bias)
            # The frozen representation for the next layer, in chunks: each window's features do not
            # depend on the chunk, and the whole-set activation (20 000 windows x 16 channels x 500
            # samples, 640 MB in float32) never has to exist twice.
            parts = []
            for s in range(0, h.shape[0], _ENCODE_CHUNK):
                part = ae.encode(h[s:s + _ENCODE_CHUNK])
                parts.append(between(part) if between is not None else part)
            h = torch.cat(parts) if parts else h
    return histories
