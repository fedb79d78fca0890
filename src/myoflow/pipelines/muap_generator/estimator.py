"""Training the conditional MUAP generator, with scikit-learn manners.

:class:`MuapGeneratorEstimator` wraps :class:`~myoflow.models.muap_generator.MUAPGenerator`:
``fit(conditions, muaps)`` trains it (early stopping on a validation set carved
from the *training* conditions), ``predict(conditions)`` generates MUAPs at the
prior mean ``z = 0``, ``score`` is minus the mean normalised RMSE.

The loop is our own (not :func:`myoflow.train.fit_module`) because the VAE needs
a loss over several outputs, KL annealing by epoch, a cosine learning-rate
schedule, and early stopping on the *generation* error (prior path, amplitude
included) rather than on the training loss.
"""
from __future__ import annotations

import copy
import logging
import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ...errors import ConfigError, DataError

__all__ = ["GeneratorTraining", "MuapGeneratorEstimator", "nrmse", "peak_to_peak"]

log = logging.getLogger(__name__)


def peak_to_peak(muaps: np.ndarray) -> np.ndarray:
    """Peak-to-peak amplitude over the whole grid and window, per MUAP: (n, ...) → (n,)."""
    flat = np.asarray(muaps).reshape(len(muaps), -1)
    return flat.max(axis=1) - flat.min(axis=1)


def nrmse(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Normalised RMSE per MUAP (BioMime's metric): ``‖y − x‖ / √N / (max y − min y)``.

    Parameters
    ----------
    pred, target : arrays (n, rows, cols, times)
        Generated and reference (numerical-model) MUAPs.

    Returns
    -------
    array (n,)
    """
    pred = np.asarray(pred, dtype=np.float64).reshape(len(pred), -1)
    target = np.asarray(target, dtype=np.float64).reshape(len(target), -1)
    if pred.shape != target.shape:
        raise DataError(f"prediction shape {pred.shape} differs from target shape {target.shape}")
    rmse = np.sqrt(np.mean((pred - target) ** 2, axis=1))
    return rmse / (target.max(axis=1) - target.min(axis=1))


@dataclass
class GeneratorTraining:
    """Optimisation settings of the generator (defaults tuned on the myoflow numerical model).

    Attributes
    ----------
    epochs, batch_size, lr, weight_decay, patience :
        Usual meanings; the learning rate follows a cosine decay to ``lr * 0.02``.
    kl_weight : float
        Final weight of the KL term (BioMime: 0.1 with logistic annealing [S]).
    kl_anneal_epochs : int
        Epochs of the logistic KL annealing.
    prior_weight : float
        Weight of the reconstruction loss at ``z = 0`` (what generation uses).
    amp_weight : float
        Weight of the log-amplitude loss (in units of the training-set log-amplitude SD).
    cycle_weight : float
        BioMime's cycle loss (source → target → source conditions), 0 to disable.
    pca_init : bool
        Initialise the factorised output layer with the PCA basis of the training shapes.
    """

    epochs: int = 300
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    patience: int = 60
    kl_weight: float = 1e-3
    kl_anneal_epochs: int = 50
    prior_weight: float = 1.0
    amp_weight: float = 0.05
    cycle_weight: float = 0.0
    pca_init: bool = True

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise ConfigError(f"generator training needs epochs >= 1 and batch_size >= 1, got {self}")
        if self.lr <= 0:
            raise ConfigError(f"generator training lr must be > 0, got {self.lr}")


@dataclass
class _History:
    train_loss: list[float] = field(default_factory=list)
    val_nrmse: list[float] = field(default_factory=list)
    best_epoch: int = -1
    seconds: float = 0.0


class MuapGeneratorEstimator:
    """Fit a :class:`MUAPGenerator` to (conditions, MUAPs) pairs from the numerical model.

    Parameters
    ----------
    model_params : dict
        Keyword arguments of :class:`MUAPGenerator` other than ``out_shape``
        (which comes from the data), e.g. ``fs``, ``condition_names``,
        ``condition_ranges``, ``hidden``, ``latent_dim``.
    training : GeneratorTraining
        Optimisation settings.
    seed : int
        Seeds weight initialisation, batch order and the VAE noise (local generators).
    device : str
        Torch device.

    Attributes
    ----------
    generator_ : MUAPGenerator
        The trained model (best validation epoch).
    history_ : dict
        ``train_loss``, ``val_nrmse`` per epoch, ``best_epoch``, ``seconds``.
    """

    def __init__(self, model_params: dict[str, Any] | None = None, training: GeneratorTraining | None = None,
                 seed: int = 0, device: str = "cpu"):
        self.model_params = dict(model_params or {})
        self.training = training or GeneratorTraining()
        self.seed = int(seed)
        self.device = device

    # ------------------------------------------------------------------ fit
    def fit(self, conditions: np.ndarray, muaps: np.ndarray, val_conditions: np.ndarray | None = None,
            val_muaps: np.ndarray | None = None,
            on_epoch: Callable[[int, float, float | None], None] | None = None) -> "MuapGeneratorEstimator":
        """Train on ``conditions`` (n, 6; physical units) and ``muaps`` (n, rows, cols, times).

        ``val_*`` (from training conditions only) drive early stopping and best-epoch
        restoration; without them the last epoch is kept.
        """
        import time

        import torch

        from ...models.muap_generator import MUAPGenerator
        from ...train.seeding import torch_seed

        t0 = time.perf_counter()
        X = np.asarray(muaps, dtype=np.float32)
        if X.ndim != 4 or len(X) == 0:
            raise DataError(f"training MUAPs must have shape (n, rows, cols, times) with n >= 1, got {X.shape}")
        C = np.asarray(conditions, dtype=np.float32)
        if len(C) != len(X):
            raise DataError(f"{len(C)} condition rows for {len(X)} MUAPs")
        pp = peak_to_peak(X)
        if (pp <= 0).any() or not np.isfinite(X).all():
            raise DataError("training MUAPs contain flat or non-finite waveforms")
        tr = self.training
        with torch_seed(self.seed):
            model = MUAPGenerator(out_shape=X.shape[1:], **self.model_params)
        # validates the ranges (and refuses training data outside them)
        from ...models.muap_generator import validate_conditions

        validate_conditions(C, model.condition_names, model.condition_ranges)
        if tr.pca_init:
            model.init_output_basis(X / pp[:, None, None, None])
        logpp = np.log(pp)
        model.logamp_mean.fill_(float(logpp.mean()))
        model.logamp_std.fill_(float(max(logpp.std(), 1e-3)))
        model.to(self.device)
        dev = self.device
        shapes = torch.as_tensor(X / pp[:, None, None, None], device=dev)
        cond_u = model.unit_conditions(torch.as_tensor(C, device=dev))
        logpp_t = torch.as_tensor(logpp, dtype=torch.float32, device=dev)
        has_val = val_conditions is not None and val_muaps is not None and len(val_muaps) > 0
        if has_val:
            Vc = np.asarray(val_conditions, dtype=np.float32)
            Vx = np.asarray(val_muaps, dtype=np.float32)

        gen = torch.Generator().manual_seed(self.seed)
        try:  # the fused kernel is ~10x faster than the default per-tensor loop on CPU
            opt = torch.optim.Adam(model.parameters(), lr=tr.lr, weight_decay=tr.weight_decay, fused=True)
        except (RuntimeError, TypeError):  # pragma: no cover - older torch / unsupported device
            opt = torch.optim.Adam(model.parameters(), lr=tr.lr, weight_decay=tr.weight_decay)
        n = len(X)
        steps_per_epoch = math.ceil(n / tr.batch_size)
        total = tr.epochs * steps_per_epoch
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))
        hist = _History()
        best_state, best = None, float("inf")
        bad = 0
        lstd = float(model.logamp_std)
        for epoch in range(tr.epochs):
            model.train()
            # logistic KL annealing (BioMime anneals its KL weight logistically [S])
            beta = tr.kl_weight / (1 + math.exp(-10 * (epoch / max(tr.kl_anneal_epochs, 1) - 0.5)))
            perm = torch.randperm(n, generator=gen)
            running = 0.0
            for start in range(0, n, tr.batch_size):
                idx = perm[start:start + tr.batch_size].to(dev)
                y, cu, la = shapes[idx], cond_u[idx], logpp_t[idx]
                noise = torch.randn(len(idx), model.latent_dim, generator=gen).to(dev)
                out = model(y, cu, noise)
                loss = torch.mean((out["recon"] - y) ** 2)
                loss = loss + tr.prior_weight * torch.mean((out["prior"] - y) ** 2)
                loss = loss + tr.amp_weight * torch.mean(((out["logamp"] - la) / lstd) ** 2)
                kl = -0.5 * torch.mean(torch.sum(1 + out["logvar"] - out["mu"] ** 2 - out["logvar"].exp(), dim=1))
                loss = loss + beta * kl
                if tr.cycle_weight > 0:
                    # source -> random target conditions -> back to source must reproduce the input
                    tgt = torch.rand(cu.shape, generator=gen).to(dev)
                    moved, _ = model.decode_unit(tgt, out["mu"])
                    mu2, _ = model.encode_unit(moved, tgt)
                    back, _ = model.decode_unit(cu, mu2)
                    loss = loss + tr.cycle_weight * torch.mean((back - y) ** 2)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                running += float(loss.detach()) * len(idx)
            hist.train_loss.append(running / n)
            vscore = None
            if has_val:
                model.eval()
                vscore = float(np.mean(nrmse(model.generate(Vc), Vx)))
                hist.val_nrmse.append(vscore)
                if vscore < best - 1e-6:
                    best, bad, hist.best_epoch = vscore, 0, epoch
                    best_state = copy.deepcopy(model.state_dict())
                else:
                    bad += 1
            if epoch % 10 == 0 or epoch == tr.epochs - 1:
                log.info("epoch %d/%d: train loss %.5f, val nRMSE %s (%.0f s)", epoch + 1, tr.epochs,
                         hist.train_loss[-1], "-" if vscore is None else f"{vscore:.4f}", time.perf_counter() - t0)
            if on_epoch is not None:
                on_epoch(epoch, hist.train_loss[-1], vscore)
            if has_val and bad >= tr.patience:
                log.debug("early stop at epoch %d (best %d, val nRMSE %.4f)", epoch, hist.best_epoch, best)
                break
        if best_state is not None:
            model.load_state_dict(best_state)
        else:
            hist.best_epoch = len(hist.train_loss) - 1
        model.eval()
        hist.seconds = time.perf_counter() - t0
        self.generator_ = model
        self.history_ = {"train_loss": hist.train_loss, "val_nrmse": hist.val_nrmse,
                         "best_epoch": hist.best_epoch, "seconds": hist.seconds}
        return self

    # --------------------------------------------------------------- predict
    def _check_fitted(self) -> None:
        if not hasattr(self, "generator_"):
            raise ConfigError("this MuapGeneratorEstimator is not fitted yet; call fit() first")

    def predict(self, conditions: np.ndarray) -> np.ndarray:
        """Generated MUAPs at ``z = 0`` for conditions (n, 6): (n, rows, cols, times)."""
        self._check_fitted()
        return self.generator_.generate(conditions)

    def score(self, conditions: np.ndarray, muaps: np.ndarray) -> float:
        """Minus the mean nRMSE (higher is better, scikit-learn convention)."""
        return -float(np.mean(nrmse(self.predict(conditions), muaps)))
