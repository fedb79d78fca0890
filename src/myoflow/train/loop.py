"""One small, deterministic fit loop with early stopping (no framework).

The pipelines' sklearn-style estimators call :func:`fit_module`; they decide the
model, loss and inputs, this decides batching, optimisation, early stopping and
restoring the best weights.
"""
from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from ..errors import ConfigError

__all__ = ["FitResult", "fit_module", "predict_module", "make_optimizer"]

log = logging.getLogger(__name__)


@dataclass
class FitResult:
    """Training history of one :func:`fit_module` call."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    best_epoch: int = -1
    stopped_early: bool = False

    def as_curves(self) -> dict[str, list[float]]:
        return {"train_loss": list(self.train_loss), "val_loss": list(self.val_loss)}


def make_optimizer(params, name: str, lr: float, weight_decay: float):
    import torch

    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay, momentum=0.9)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, weight_decay=weight_decay)
    raise ConfigError(f"unknown optimizer {name!r}; expected adam, adamw, sgd or rmsprop")


def _to_tensors(arrays: Sequence[np.ndarray], device: str):
    import torch

    out = []
    for a in arrays:
        t = torch.as_tensor(a)
        if t.dtype == torch.float64:
            t = t.float()
        out.append(t.to(device))
    return out


def fit_module(
    module,
    inputs: Sequence[np.ndarray],
    target: np.ndarray,
    loss_fn: Callable,
    *,
    val_inputs: Sequence[np.ndarray] | None = None,
    val_target: np.ndarray | None = None,
    epochs: int = 50,
    batch_size: int = 32,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    optimizer: str = "adam",
    patience: int = 10,
    seed: int = 0,
    device: str = "cpu",
    params=None,
    on_epoch: Callable[[int, float, float | None], None] | None = None,
) -> FitResult:
    """Train ``module`` with mini-batches; early-stop on the validation loss.

    Parameters
    ----------
    module : torch.nn.Module
        Called as ``module(*batch_inputs)``; trained in place, best weights restored.
    inputs : sequence of arrays
        Model inputs, each with the sample axis first (e.g. X and covariates).
    target : array
        Targets with the sample axis first (class indices as int64, or floats).
    loss_fn : callable
        ``loss_fn(output, target_batch) -> scalar tensor``.
    val_inputs, val_target : optional
        Validation data (carved from TRAINING subjects only); enables early stopping.
    params : iterable, optional
        Parameters (or param groups) to optimise; default all of ``module``.
    seed : int
        Seeds the batch order (local generator) — weight init is the caller's job.
    """
    import torch

    n = len(target)
    if n == 0:
        raise ConfigError("no training samples in this fold")
    gen = torch.Generator().manual_seed(int(seed))
    module.to(device)
    opt = make_optimizer(params if params is not None else module.parameters(), optimizer, lr, weight_decay)
    X = _to_tensors(inputs, device)
    y = _to_tensors([target], device)[0]
    has_val = val_inputs is not None and val_target is not None and len(val_target) > 0
    if has_val:
        Xv = _to_tensors(val_inputs, device)
        yv = _to_tensors([val_target], device)[0]
    hist = FitResult()
    best_state, best_loss, bad = None, float("inf"), 0
    for epoch in range(epochs):
        module.train()
        perm = torch.randperm(n, generator=gen).to(device)
        total = 0.0
        for start in range(0, n, batch_size):
            idx = perm[start:start + batch_size]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(module(*[x[idx] for x in X]), y[idx])
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        hist.train_loss.append(total / n)
        vloss = None
        if has_val:
            module.eval()
            with torch.no_grad():
                vloss = float(loss_fn(module(*Xv), yv))
            hist.val_loss.append(vloss)
            if vloss < best_loss - 1e-6:
                best_loss, bad, hist.best_epoch = vloss, 0, epoch
                best_state = copy.deepcopy(module.state_dict())
            else:
                bad += 1
        if on_epoch is not None:
            on_epoch(epoch, hist.train_loss[-1], vloss)
        if has_val and bad >= patience:
            hist.stopped_early = True
            log.debug("early stop at epoch %d (best %d)", epoch, hist.best_epoch)
            break
    if best_state is not None:
        module.load_state_dict(best_state)
    else:
        hist.best_epoch = len(hist.train_loss) - 1
    module.eval()
    return hist


def predict_module(module, inputs: Sequence[np.ndarray], batch_size: int = 1024, device: str = "cpu"):
    """Run ``module`` in eval mode over ``inputs`` in batches; returns the concatenated output as NumPy."""
    import torch

    module.to(device).eval()
    X = _to_tensors(inputs, device)
    n = X[0].shape[0]
    outs = []
    with torch.no_grad():
        for start in range(0, n, batch_size):
            out = module(*[x[start:start + batch_size] for x in X])
            if isinstance(out, tuple):
                out = out[0]
            outs.append(out.detach().cpu().numpy())
    return np.concatenate(outs) if outs else np.zeros((0,))
