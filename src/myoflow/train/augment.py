"""Training-only batch augmentations for sEMG windows.

Each transform is a pure function ``(x, generator) -> Tensor`` on a batch
``x`` of shape ``(batch, channels, times)``: it never modifies ``x`` in place and
draws every random number from the ``torch.Generator`` it is given, so a seeded
generator gives the same augmented batch every time and the global RNG is never
touched. :class:`Augment` composes them from a config.

Plug in as the training engine's batch hook, applied to training batches only
(never to validation or test batches): it changes the data a model sees, not
the data it is judged on.

* :func:`time_shift` — circular shift of each window by up to ``max_shift``
  samples (the onset of a contraction is not known to the sample);
* :func:`amplitude_scale` — multiply each window (or each channel) by a
  log-uniform gain in ``[1/max_gain, max_gain]`` (skin, fat and placement
  change the amplitude between people);
* :func:`additive_noise` — white Gaussian noise at a given level, relative to
  each window's RMS or in absolute input units (e.g. the recording's noise floor
  measured at rest);
* :func:`channel_dropout` — zero whole channels with probability ``p`` (grids:
  a lifted or dry electrode), keeping at least one channel.

:func:`mixup` (Zhang et al. 2018) is different in kind: it mixes pairs of windows
of one batch AND their (one-hot) targets, so it takes the targets too; the
classifier applies it after :class:`Augment`. For sEMG it mixes each window's
*shape* and *log amplitude* separately (a plain sum of raw windows is dominated
by the louder one, whose amplitude can be ten times the other's).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from ..errors import ConfigError

__all__ = ["time_shift", "amplitude_scale", "additive_noise", "channel_dropout", "mixup", "Augment", "BatchHook"]

#: A batch hook: (batch, generator) -> augmented batch.
BatchHook = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def _check(x: torch.Tensor, who: str) -> None:
    if x.ndim != 3:
        raise ConfigError(f"{who} needs a batch (batch, channels, times), got shape {tuple(x.shape)}")


def _uniform(shape, generator: torch.Generator, x: torch.Tensor) -> torch.Tensor:
    # Draw on the CPU generator, then move: results do not depend on the device.
    return torch.rand(shape, generator=generator, dtype=torch.float32).to(device=x.device, dtype=x.dtype)


def time_shift(x: torch.Tensor, generator: torch.Generator, max_shift: int) -> torch.Tensor:
    """Circularly shift each window by an integer in ``[-max_shift, max_shift]`` samples."""
    _check(x, "time_shift")
    if max_shift <= 0:
        return x
    b, _, t = x.shape
    shift = torch.randint(-int(max_shift), int(max_shift) + 1, (b,), generator=generator).to(x.device)
    idx = (torch.arange(t, device=x.device)[None, :] - shift[:, None]) % t     # (b, t)
    return torch.gather(x, 2, idx[:, None, :].expand_as(x))


def amplitude_scale(x: torch.Tensor, generator: torch.Generator, max_gain: float,
                    per_channel: bool = False) -> torch.Tensor:
    """Multiply each window (or window × channel) by a log-uniform gain in ``[1/max_gain, max_gain]``."""
    _check(x, "amplitude_scale")
    if max_gain < 1:
        raise ConfigError(f"amplitude_scale needs max_gain >= 1, got {max_gain}")
    if max_gain == 1:
        return x
    b, c, _ = x.shape
    u = _uniform((b, c if per_channel else 1, 1), generator, x)
    log_g = float(torch.log(torch.tensor(float(max_gain))))
    return x * torch.exp((2 * u - 1) * log_g)


def additive_noise(x: torch.Tensor, generator: torch.Generator, level: float, relative: bool = True) -> torch.Tensor:
    """Add white Gaussian noise.

    Parameters
    ----------
    level : float
        ``relative=True``: noise SD as a fraction of each window-channel's RMS
        (0.1 ≈ 20 dB SNR). ``relative=False``: noise SD in input units (e.g.
        the recording's noise floor).
    """
    _check(x, "additive_noise")
    if level < 0:
        raise ConfigError(f"additive_noise needs level >= 0, got {level}")
    if level == 0:
        return x
    noise = torch.randn(tuple(x.shape), generator=generator, dtype=torch.float32).to(device=x.device, dtype=x.dtype)
    sd = level * (x.pow(2).mean(dim=2, keepdim=True).sqrt() if relative else 1.0)
    return x + noise * sd


def channel_dropout(x: torch.Tensor, generator: torch.Generator, p: float) -> torch.Tensor:
    """Zero each channel with probability ``p``; a window never loses all its channels."""
    _check(x, "channel_dropout")
    if not 0 <= p < 1:
        raise ConfigError(f"channel_dropout needs 0 <= p < 1, got {p}")
    b, c, _ = x.shape
    if p == 0 or c == 1:  # one channel: dropping it would leave nothing to classify
        return x
    keep = _uniform((b, c), generator, x) >= p
    # restore one random channel where everything was dropped
    none = ~keep.any(dim=1)
    if none.any():
        pick = torch.randint(0, c, (b,), generator=generator).to(x.device)
        keep[none, pick[none]] = True
    return x * keep[:, :, None].to(x.dtype)


def mixup(inputs: Sequence[torch.Tensor], target: torch.Tensor, generator: torch.Generator,
          alpha: float) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Mix every sample of a batch with a random partner of the same batch.

    Parameters
    ----------
    inputs : sequence of tensors
        ``inputs[0]`` the windows (batch, channels, times) in raw units; any further
        inputs (e.g. classic features, (batch, n_features)) are mixed linearly.
    target : tensor (batch, n_classes)
        Class probabilities (one-hot for hard labels).
    generator : torch.Generator
        Source of every random number (partners and mixing weights).
    alpha : float
        Mixing weights ``lam ~ Beta(alpha, alpha)`` per sample, folded to
        ``max(lam, 1 - lam)`` so each mixed sample stays closest to its own window.

    Returns
    -------
    (mixed inputs, mixed target)
        Windows: ``lam * z_i + (1 - lam) * z_j`` of the RMS-normalised windows,
        renormalised and scaled to the RMS ``rms_i**lam * rms_j**(1-lam)`` (shape and
        log amplitude both mixed with weight ``lam``, per channel); target
        ``lam * t_i + (1 - lam) * t_j``. ``alpha == 0`` returns the inputs unchanged.
    """
    x = inputs[0]
    _check(x, "mixup")
    if alpha < 0:
        raise ConfigError(f"mixup needs alpha >= 0, got {alpha}")
    if alpha == 0:
        return list(inputs), target
    b = x.shape[0]
    partner = torch.randperm(b, generator=generator).to(x.device)
    # torch's Beta sampler takes no generator: draw a NumPy seed from the generator (still deterministic)
    rng = np.random.default_rng(int(torch.randint(0, 2**62, (1,), generator=generator)))
    lam_np = rng.beta(float(alpha), float(alpha), size=b)
    lam = torch.as_tensor(np.maximum(lam_np, 1 - lam_np), dtype=x.dtype, device=x.device)
    rms = x.pow(2).mean(dim=2, keepdim=True).sqrt().clamp_min(1e-12)          # (b, c, 1)
    z = x / rms
    l3 = lam[:, None, None]
    zm = l3 * z + (1 - l3) * z[partner]
    zm = zm / zm.pow(2).mean(dim=2, keepdim=True).sqrt().clamp_min(1e-12)
    log_rms = l3 * torch.log(rms) + (1 - l3) * torch.log(rms[partner])
    out = [zm * torch.exp(log_rms)]
    for extra in inputs[1:]:
        lx = lam.reshape((b,) + (1,) * (extra.ndim - 1)).to(extra.dtype)
        out.append(lx * extra + (1 - lx) * extra[partner])
    lt = lam[:, None].to(target.dtype)
    return out, lt * target + (1 - lt) * target[partner]


@dataclass(frozen=True)
class Augment:
    """Composed training augmentation (the ``train.augment`` config section).

    Parameters
    ----------
    max_shift : int
        :func:`time_shift` range, samples (0 = off).
    max_gain : float
        :func:`amplitude_scale` range (1 = off).
    per_channel_gain : bool
        Independent gain per channel.
    noise : float
        :func:`additive_noise` level (0 = off).
    noise_relative : bool
        Noise level relative to window RMS (True) or absolute.
    channel_drop : float
        :func:`channel_dropout` probability (0 = off).

    Transforms run in the order shift → gain → noise → channel dropout.
    ``Augment()(x, g)`` with every option off returns ``x`` itself.
    """

    max_shift: int = 0
    max_gain: float = 1.0
    per_channel_gain: bool = False
    noise: float = 0.0
    noise_relative: bool = True
    channel_drop: float = 0.0

    def __post_init__(self) -> None:
        if self.max_shift < 0:
            raise ConfigError(f"augment.max_shift must be >= 0, got {self.max_shift}")
        if self.max_gain < 1:
            raise ConfigError(f"augment.max_gain must be >= 1, got {self.max_gain}")
        if self.noise < 0:
            raise ConfigError(f"augment.noise must be >= 0, got {self.noise}")
        if not 0 <= self.channel_drop < 1:
            raise ConfigError(f"augment.channel_drop must be in [0, 1), got {self.channel_drop}")

    @property
    def active(self) -> bool:
        return bool(self.max_shift or self.max_gain != 1 or self.noise or self.channel_drop)

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if self.max_shift:
            x = time_shift(x, generator, self.max_shift)
        if self.max_gain != 1:
            x = amplitude_scale(x, generator, self.max_gain, self.per_channel_gain)
        if self.noise:
            x = additive_noise(x, generator, self.noise, self.noise_relative)
        if self.channel_drop:
            x = channel_dropout(x, generator, self.channel_drop)
        return x
