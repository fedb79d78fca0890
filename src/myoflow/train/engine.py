"""The one training engine of myoflow: every network is trained by :func:`fit`.

Classifiers and regressors use the supervised shortcut :func:`fit_module`
(``loss_fn(module(*inputs), target)``); the conv-autoencoder pretraining and the
MUAP generator call :func:`fit` with their own per-batch loss. The engine owns
what they share: the optimiser, the learning-rate schedule, mini-batches drawn
by index tensors (no ``DataLoader``, no per-sample Python), early stopping on a
validation score with best-weights restore, gradient clipping, seeding, device
choice (``"auto"`` → CUDA when present, with mixed precision there) and the
per-epoch history. Epoch-dependent loss terms (e.g. KL annealing) are callbacks
that write into :attr:`EpochState.weights`. A second player trained on the same
mini-batches with its own optimiser (a GAN discriminator) is an :class:`AlternateStep`:
it steps on every batch just before the main loss, inside the same loop.

Seeding: batch order (and anything the loss draws from :attr:`EpochState.generator`)
comes from a local ``torch.Generator`` seeded with ``seed``; the global torch RNG
(dropout) is only touched when ``torch_seed`` is given, inside a forked scope.
"""
from __future__ import annotations

import contextlib
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from ..errors import ConfigError

__all__ = ["FitResult", "EpochState", "LogisticWeight", "AlternateStep", "fit", "fit_module", "predict_module",
           "make_optimizer", "make_schedule"]

log = logging.getLogger(__name__)


@dataclass
class FitResult:
    """Per-epoch history of one :func:`fit` call.

    ``val_loss`` holds the validation score (a loss, or any lower-is-better score such as nRMSE).
    """

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    best_epoch: int = -1
    stopped_early: bool = False
    seconds: float = 0.0
    #: per-epoch mean loss of each :class:`AlternateStep` (by its ``name``), when there are any
    alternate_loss: dict[str, list[float]] = field(default_factory=dict)

    def as_curves(self) -> dict[str, list[float]]:
        return {"train_loss": list(self.train_loss), "val_loss": list(self.val_loss)}


@dataclass
class EpochState:
    """What the loss and the callbacks see: epoch index, the seeded generator, loss-term weights."""

    epoch: int
    epochs: int
    generator: Any
    device: str
    weights: dict[str, float] = field(default_factory=dict)


class LogisticWeight:
    """Callback: logistic annealing of a loss-term weight, ``final / (1 + exp(-10 (epoch / span - 0.5)))``.

    Used for the KL term of the MUAP generator (BioMime anneals it logistically).
    """

    def __init__(self, name: str, final: float, span: int):
        self.name, self.final, self.span = name, float(final), max(int(span), 1)

    def on_epoch_start(self, state: EpochState) -> None:
        state.weights[self.name] = self.final / (1 + math.exp(-10 * (state.epoch / self.span - 0.5)))


@dataclass
class AlternateStep:
    """A second player updated on every training mini-batch before the main loss (e.g. a discriminator).

    ``loss(batch, state)`` is minimised over ``params`` only, with its own optimiser
    (constant learning rate; the main schedule is not applied). The main loss is
    computed afterwards on the same batch, so the two alternate step by step, as in
    GAN training. Gradients the main loss leaves on ``params`` are discarded (they
    are cleared before this step's backward), and ``params`` must not be among the
    main optimiser's.

    Parameters
    ----------
    params : iterable of tensors
    loss : callable ``loss(batch, state) -> scalar tensor``
    lr : float
    optimizer : str
        As for :func:`make_optimizer`.
    betas : (float, float), optional
        Adam betas (GANs commonly use ``(0.5, 0.999)``); ``None`` keeps torch's default.
    weight_decay : float
    name : str
        Key of its loss curve in :attr:`FitResult.alternate_loss`.
    """

    params: Iterable
    loss: Callable[[list, "EpochState"], Any]
    lr: float = 1e-3
    optimizer: str = "adam"
    betas: tuple[float, float] | None = None
    weight_decay: float = 0.0
    name: str = "alternate"


def make_optimizer(params, name: str, lr: float, weight_decay: float, fused: bool = False):
    """Adam / AdamW / SGD (momentum 0.9) / RMSprop; ``fused`` asks for torch's fused Adam kernel."""
    import torch

    if name in ("adam", "adamw"):
        cls = torch.optim.Adam if name == "adam" else torch.optim.AdamW
        if fused:
            try:  # fused Adam is ~10x faster than the per-tensor loop on CPU for wide layers
                return cls(params, lr=lr, weight_decay=weight_decay, fused=True)
            except (RuntimeError, TypeError):  # pragma: no cover - older torch / unsupported device
                pass
        return cls(params, lr=lr, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay, momentum=0.9)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, weight_decay=weight_decay)
    raise ConfigError(f"unknown optimizer {name!r}; expected adam, adamw, sgd or rmsprop")


def make_schedule(opt, name: str | None, total_steps: int, floor: float = 0.02):
    """Per-step LR schedule: ``None``/``"constant"``, ``"cosine"`` (decay to ``floor`` × lr) or
    ``"onecycle"`` (torch's one-cycle policy peaking at the optimiser's lr)."""
    import torch

    if name in (None, "constant"):
        return None
    if name == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[g["lr"] for g in opt.param_groups],
                                                   total_steps=max(int(total_steps), 1))
    if name == "cosine":
        total = max(int(total_steps), 1)
        return torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))
    raise ConfigError(f"unknown lr schedule {name!r}; expected constant, cosine or onecycle")


def _to_tensor(a, device: str):
    import torch

    t = torch.as_tensor(a)
    if t.dtype == torch.float64:
        t = t.float()
    return t.to(device)


def _amp_context(device: str, amp: bool | str):
    import torch

    use = device.startswith("cuda") and (amp is True or amp == "auto")
    if not use:
        return contextlib.nullcontext, None
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 else None
    return (lambda: torch.autocast("cuda", dtype=dtype)), scaler


def fit(
    module,
    data: Sequence[Any],
    loss: Callable[[list, EpochState], Any],
    *,
    validate: Callable[[], float] | None = None,
    epochs: int = 50,
    batch_size: int = 32,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    optimizer: str = "adam",
    fused: bool = False,
    params: Iterable | None = None,
    schedule: str | None = None,
    schedule_floor: float = 0.02,
    patience: int | None = 10,
    min_delta: float = 1e-6,
    grad_clip: float | None = None,
    seed: int = 0,
    generator=None,
    torch_seed: int | None = None,
    device: str = "cpu",
    amp: bool | str = "auto",
    callbacks: Sequence[Any] = (),
    on_epoch: Callable[[int, float, float | None], None] | None = None,
    log_every: int = 0,
    batch_hook: Callable[[list, EpochState], list] | None = None,
    min_batch: int = 1,
    alternate: Sequence[AlternateStep] = (),
    epoch_subset: Callable[[EpochState], Any] | None = None,
) -> FitResult:
    """Train ``module`` in place on in-memory tensors; restore the best validation weights.

    Parameters
    ----------
    module : torch.nn.Module
    data : sequence of arrays/tensors
        Training tensors, sample axis first and equal length; moved to ``device`` once.
    loss : callable
        ``loss(batch, state) -> scalar tensor`` with ``batch`` the list of ``data`` rows
        of one mini-batch and ``state`` an :class:`EpochState`.
    validate : callable, optional
        ``validate() -> float`` (lower is better), called in eval mode without grad
        after every epoch; drives early stopping and best-weights restore.
    epochs, batch_size, lr, weight_decay, optimizer, fused, params
        Optimisation; ``params`` (iterable or param groups) default all of ``module``.
    schedule, schedule_floor : per-step LR schedule (see :func:`make_schedule`).
    patience : int or None
        Epochs without a ``min_delta`` improvement before stopping (None: never).
    grad_clip : float, optional
        Clip the global gradient norm to this value.
    seed, generator
        Seed of the batch-order generator, or an existing ``torch.Generator`` to draw from.
    torch_seed : int, optional
        Run the loop inside a forked global RNG scope seeded with this (dropout masks).
    device : ``"cpu"``, ``"cuda[:N]"`` or ``"auto"``; amp : mixed precision on CUDA (``"auto"``: on).
    callbacks : objects with optional ``on_epoch_start(state)`` / ``on_epoch_end(state, result)``.
    on_epoch : ``on_epoch(epoch, train_loss, val_score)`` after each epoch.
    log_every : log progress every that many epochs (0: never).
    batch_hook : callable, optional
        ``batch_hook(batch, state) -> batch`` applied to every TRAINING mini-batch before the
        loss (e.g. augmentation drawing from ``state.generator``); never called for validation.
    min_batch : int
        Skip a trailing mini-batch with fewer samples (2 for batch norm, which fails on one).
    alternate : sequence of :class:`AlternateStep`
        Players stepped, in order, on every training mini-batch before the main loss
        (GAN discriminators). Not part of ``module``: not restored at the best epoch.
    epoch_subset : callable, optional
        ``epoch_subset(state) -> index array`` at the start of every epoch: train that epoch on
        these samples only (shuffled), e.g. a few of a grid burst's near-identical channels.
        Draw from ``state.generator`` to stay seeded. ``None`` (default): every sample every epoch.
        A per-step ``schedule`` is still sized for every sample per epoch (so it decays more slowly).
    """
    import torch

    from .device import get_device
    from .seeding import torch_seed as _torch_seed

    device = get_device(device)
    tensors = [_to_tensor(a, device) for a in data]
    if not tensors or len(tensors[0]) == 0:
        raise ConfigError("no training samples in this fold")
    n = len(tensors[0])
    if any(len(t) != n for t in tensors):
        raise ConfigError(f"training tensors differ in length: {[len(t) for t in tensors]}")
    if int(epochs) < 1 or int(batch_size) < 1:
        raise ConfigError(f"need epochs >= 1 and batch_size >= 1, got {epochs}, {batch_size}")
    gen = generator if generator is not None else torch.Generator().manual_seed(int(seed))
    module.to(device)
    opt = make_optimizer(params if params is not None else module.parameters(), optimizer, lr, weight_decay,
                         fused=fused)
    hist = FitResult()
    sched = make_schedule(opt, schedule, int(epochs) * math.ceil(n / int(batch_size)), schedule_floor)
    alt_opts = []
    for a in alternate:
        a_params = list(a.params)
        alt_opts.append((a, a_params, make_optimizer(a_params, a.optimizer, a.lr, a.weight_decay, fused=fused)))
        if a.betas is not None:
            for g in alt_opts[-1][2].param_groups:
                g["betas"] = tuple(a.betas)
        hist.alternate_loss[a.name] = []
    autocast, scaler = _amp_context(device, amp)
    starts = range(0, n, int(batch_size))
    best_state, best, bad = None, float("inf"), 0
    t0 = time.perf_counter()
    scope = _torch_seed(int(torch_seed)) if torch_seed is not None else contextlib.nullcontext()
    with scope:
        for epoch in range(int(epochs)):
            state = EpochState(epoch, int(epochs), gen, device)
            for cb in callbacks:
                if hasattr(cb, "on_epoch_start"):
                    cb.on_epoch_start(state)
            module.train()
            if epoch_subset is None:
                perm = torch.randperm(n, generator=gen).to(device)
            else:
                sub = torch.as_tensor(np.asarray(epoch_subset(state), dtype=np.int64))
                perm = sub[torch.randperm(len(sub), generator=gen)].to(device)
                starts = range(0, len(sub), int(batch_size))
            hist.lr.append(float(opt.param_groups[0]["lr"]))
            total, seen = 0.0, 0
            alt_total = [0.0] * len(alt_opts)
            for start in starts:
                idx = perm[start:start + batch_size]
                if len(idx) < min_batch:
                    continue
                batch = [t[idx] for t in tensors]
                if batch_hook is not None:
                    batch = batch_hook(batch, state)
                for k, (a, a_params, a_opt) in enumerate(alt_opts):
                    with autocast():
                        a_value = a.loss(batch, state)
                    a_opt.zero_grad(set_to_none=True)
                    if scaler is not None:
                        scaler.scale(a_value).backward()
                        scaler.step(a_opt)
                    else:
                        a_value.backward()
                        a_opt.step()
                    alt_total[k] += float(a_value.detach()) * len(idx)
                with autocast():
                    value = loss(batch, state)
                opt.zero_grad(set_to_none=True)
                if scaler is not None:
                    scaler.scale(value).backward()
                    if grad_clip is not None:
                        scaler.unscale_(opt)
                        torch.nn.utils.clip_grad_norm_(module.parameters(), grad_clip)
                    scaler.step(opt)
                    scaler.update()
                else:
                    value.backward()
                    if grad_clip is not None:
                        torch.nn.utils.clip_grad_norm_(module.parameters(), grad_clip)
                    opt.step()
                if sched is not None:
                    sched.step()
                total += float(value.detach()) * len(idx)
                seen += len(idx)
            hist.train_loss.append(total / max(seen, 1))
            for k, (a, _, _) in enumerate(alt_opts):
                hist.alternate_loss[a.name].append(alt_total[k] / max(seen, 1))
            score = None
            if validate is not None:
                module.eval()
                with torch.no_grad():
                    score = float(validate())
                hist.val_loss.append(score)
                if score < best - min_delta:
                    best, bad, hist.best_epoch = score, 0, epoch
                    best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
                else:
                    bad += 1
            for cb in callbacks:
                if hasattr(cb, "on_epoch_end"):
                    cb.on_epoch_end(state, hist)
            if on_epoch is not None:
                on_epoch(epoch, hist.train_loss[-1], score)
            if log_every and (epoch % log_every == 0 or epoch == epochs - 1):
                log.info("epoch %d/%d: train loss %.5g, validation %s (%.0f s)", epoch + 1, epochs,
                         hist.train_loss[-1], "-" if score is None else f"{score:.5g}", time.perf_counter() - t0)
            if validate is not None and patience is not None and bad >= patience:
                hist.stopped_early = True
                log.debug("early stop at epoch %d (best %d)", epoch, hist.best_epoch)
                break
    if best_state is not None:
        module.load_state_dict(best_state)
    else:
        hist.best_epoch = len(hist.train_loss) - 1
    module.eval()
    hist.seconds = time.perf_counter() - t0
    return hist


def fit_module(
    module,
    inputs: Sequence[np.ndarray],
    target: np.ndarray,
    loss_fn: Callable,
    *,
    val_inputs: Sequence[np.ndarray] | None = None,
    val_target: np.ndarray | None = None,
    device: str = "cpu",
    val_batch_size: int | None = None,
    on_validation: Callable[[Any, Any], None] | None = None,
    **options,
) -> FitResult:
    """Supervised shortcut of :func:`fit`: minimise ``loss_fn(module(*inputs), target)``.

    Parameters
    ----------
    inputs : sequence of arrays
        Model inputs, sample axis first (e.g. X and covariates).
    target : array
        Targets, sample axis first (class indices as int64, or floats).
    val_inputs, val_target : optional
        Validation data (carved from TRAINING groups only); the validation loss drives
        early stopping and best-weights restore.
    val_batch_size : int, optional
        Run the validation forward in chunks of this many samples and compute the loss on
        the concatenated outputs (``None``: one forward over the whole set, as before). The
        same loss for a model whose outputs are per-sample (eval mode), and much faster for
        large validation sets whose activations do not fit in cache; peak memory falls too.
    on_validation : callable, optional
        ``on_validation(outputs, target)`` after every validation pass, with the outputs of
        that pass (so a caller's validation metrics need no second forward).
    **options
        Any keyword of :func:`fit` (epochs, batch_size, lr, optimizer, patience, seed, ...).
    """
    import torch

    from .device import get_device

    if len(target) == 0:
        raise ConfigError("no training samples in this fold")
    device = get_device(device)
    validate = None
    if val_inputs is not None and val_target is not None and len(val_target) > 0:
        Xv = [_to_tensor(a, device) for a in val_inputs]
        yv = _to_tensor(val_target, device)

        nv = len(yv)
        step = nv if not val_batch_size else max(1, int(val_batch_size))

        def validate() -> float:
            if step >= nv:
                out = module(*Xv)
            else:
                out = torch.cat([module(*[x[s:s + step] for x in Xv]) for s in range(0, nv, step)])
            if on_validation is not None:
                on_validation(out, yv)
            return float(loss_fn(out, yv))

    def loss(batch, state):
        return loss_fn(module(*batch[:-1]), batch[-1])

    return fit(module, [*inputs, target], loss, validate=validate, device=device, **options)


def predict_module(module, inputs: Sequence[np.ndarray], batch_size: int = 1024, device: str = "cpu"):
    """Run ``module`` in eval mode over ``inputs`` in batches; the concatenated (first) output as NumPy."""
    import torch

    from .device import get_device

    device = get_device(device)
    module.to(device).eval()
    X = [_to_tensor(a, device) for a in inputs]
    n = X[0].shape[0]
    outs = []
    with torch.no_grad():
        for start in range(0, n, batch_size):
            out = module(*[x[start:start + batch_size] for x in X])
            if isinstance(out, tuple):
                out = out[0]
            outs.append(out.detach().float().cpu().numpy())
    return np.concatenate(outs) if outs else np.zeros((0,))
