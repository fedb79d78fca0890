"""BioMime-style conditional MUAP generator (conditional VAE).

A conditional variational auto-encoder that maps the six BioMime volume-conductor
conditions (plus a latent vector) to a multichannel motor-unit action potential
on an electrode grid, trained to mimic a slow numerical model (Ma, Clarke, ...,
Farina, "Conditional generative models for simulation of EMG during naturalistic
movements", arXiv 2211.01856; IEEE TNNLS 36:9224, 2025).

Differences from BioMime, and why
---------------------------------
* **Conditional VAE, discriminator optional.** By default a cVAE trained with a
  reconstruction loss on both the posterior sample and the prior mean (``z = 0``),
  so generation at ``z = 0`` is an accurate deterministic surrogate of the
  numerical model, while ``z`` still carries the residual (fibre-scatter)
  variability. ``adversarial=True`` adds BioMime's adversarial part: a
  conditional discriminator (:class:`MUAPDiscriminator`, MUAP shape + conditions
  -> real/fake, least squares on a sigmoid as in BioMime's training script; real
  MUAPs under shuffled conditions count as fake too) trained alternately with the
  generator on the same engine, its term added to the VAE loss with weight
  ``adv_weight``. The discriminator is training-only: it is not part of the saved
  generator. Accuracy against the numerical model is reported by the pipeline
  (for both variants side by side).
* **Amplitude / shape factorisation.** Peak-to-peak amplitudes span ~3 decades
  over the condition ranges (3 to 870 fibres, 7 to 23 mm depth), so the decoder
  predicts a unit peak-to-peak *shape* and, separately, the log peak-to-peak
  amplitude. The shape loss is thereby exactly the paper's NRMSE metric.
* **Fourier features of the conditions** (``cond_fourier``, 4 in the pipeline config,
  chosen on a separately seeded cohort): ``sin``/``cos`` of ``2^k π u`` beside the unit
  conditions ``u``; lower interpolation error, higher extrapolation error (outside the
  training box the features oscillate).
* **Ensembles** (``members``, 2 in the pipeline config, chosen on a separately seeded
  cohort): the mean of several generators trained with different seeds
  (:class:`MUAPEnsemble`); their errors are partly independent, so the mean is a closer
  deterministic surrogate, at one decoder pass per member.
* **Fully connected decoder with time-scaling experts.** The decoder is an MLP
  (fast on CPU: a few MFLOP per MUAP) followed by BioMime's mixture of
  time-scaling experts (fixed resampling of the time axis by factors 0.5–2,
  mixed by a gate MLP on the conditions), an inductive bias for conduction
  velocity and fibre length, which stretch the MUAP in time.

Axis order follows the simulator and BioMime: a MUAP is ``(rows, cols, times)``;
batches are ``(n, rows, cols, times)``.

Conditions are given in physical units, in the order of
:data:`DEFAULT_CONDITIONS`, and are validated against the declared ranges
(spec §5, ``BioMime/utils/params.py``); values outside raise :class:`DataError`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from sklearn.base import RegressorMixin
from torch import nn

from ..evaluate.metrics import nrmse  # re-exported: BioMime's metric has one home
from ..errors import ConfigError, DataError
from ..simulate.numerical import MUAP_CONDITION_RANGES, MUAP_CONDITIONS
from .base import MyoflowEstimator

__all__ = [
    "DEFAULT_CONDITIONS",
    "DEFAULT_CONDITION_RANGES",
    "MUAPDecoder",
    "MUAPDiscriminator",
    "MUAPEnsemble",
    "MUAPGenerator",
    "MuapGeneratorEstimator",
    "member_seed",
    "time_scaling_matrices",
    "validate_conditions",
    "nrmse",
    "peak_to_peak",
    "save_generator",
    "load_generator",
    "export_generator_onnx",
    "GENERATOR_FILES",
]

#: The six BioMime conditions and their declared ranges (spec §5, ``BioMime/utils/params.py`` [S]): one
#: definition, the numerical model's; the generator refuses conditions outside the ranges it was given.
#: fibre_number_log = ln(number of fibres) (≈3–870 fibres); depth_mm = MU territory centre below the skin;
#: angle = medio-lateral position (BioMime: angle around the limb); iz_position = innervation zone as a
#: fraction of fibre length; cv_m_s = conduction velocity; fibre_length_scale = fibre length relative to rest.
DEFAULT_CONDITIONS: tuple[str, ...] = MUAP_CONDITIONS
DEFAULT_CONDITION_RANGES: dict[str, tuple[float, float]] = dict(MUAP_CONDITION_RANGES)


def validate_conditions(conditions: Any, names: Sequence[str], ranges: dict[str, tuple[float, float]],
                        tol: float = 1e-6) -> np.ndarray:
    """Check conditions against the declared ranges and return them as float64 (n, 6).

    Parameters
    ----------
    conditions : array (n, n_conditions) or (n_conditions,), or DataFrame with the condition columns
        Physical units, columns in the order of ``names``.
    names : sequence of str
        Condition names.
    ranges : dict name -> (lo, hi)
        Declared inclusive ranges.

    Raises
    ------
    DataError
        Wrong shape, non-finite values, or a value outside its range (naming the
        condition, the offending value, its row and the range).
    """
    try:
        import pandas as pd

        if isinstance(conditions, pd.DataFrame):
            missing = [n for n in names if n not in conditions.columns]
            if missing:
                raise DataError(f"conditions table lacks column(s) {missing}; expected {list(names)}")
            conditions = conditions[list(names)].to_numpy(dtype=float)
    except ImportError:  # pragma: no cover
        pass
    arr = np.asarray(conditions, dtype=float)
    if arr.ndim == 1:
        arr = arr[np.newaxis, :]
    if arr.ndim != 2 or arr.shape[1] != len(names):
        raise DataError(
            f"conditions must have shape (n, {len(names)}) with columns {list(names)}, got {arr.shape}")
    if not np.isfinite(arr).all():
        row = int(np.argwhere(~np.isfinite(arr))[0, 0])
        raise DataError(f"conditions contain NaN/inf (first in row {row})")
    for j, name in enumerate(names):
        lo, hi = ranges[name]
        span = hi - lo
        bad = (arr[:, j] < lo - tol * span) | (arr[:, j] > hi + tol * span)
        if bad.any():
            i = int(np.argmax(bad))
            raise DataError(
                f"condition '{name}' = {arr[i, j]:.6g} (row {i}) is outside the declared range "
                f"[{lo:g}, {hi:g}]; the generator is only valid inside it")
    return arr


def time_scaling_matrices(n_times: int, scales: Sequence[float]) -> np.ndarray:
    """Linear-interpolation matrices that stretch a waveform in time about its centre.

    ``(M_k @ y)(t) = y(c + (t - c) / s_k)``: a scale ``s_k > 1`` widens the waveform.
    Samples falling outside the window are zero (MUAPs decay to zero at the edges).

    Returns
    -------
    array, shape (n_scales, n_times, n_times)
    """
    c = (n_times - 1) / 2.0
    t = np.arange(n_times, dtype=float)
    mats = np.zeros((len(scales), n_times, n_times))
    for k, s in enumerate(scales):
        src = c + (t - c) / float(s)
        i0 = np.floor(src).astype(int)
        w = src - i0
        for i in range(n_times):
            for j, wt in ((i0[i], 1.0 - w[i]), (i0[i] + 1, w[i])):
                if 0 <= j < n_times and wt > 0:
                    mats[k, i, j] += wt
    return mats


class _Encoder(nn.Module):
    """q(z | MUAP shape, conditions): an MLP over the flattened MUAP and the condition embedding.

    BioMime's encoder is a Conv3d stack; on CPU its backward pass cost ten times
    the whole decoder here, for no gain in generation accuracy (generation uses
    the prior), so the encoder is a plain MLP.
    """

    def __init__(self, out_shape: tuple[int, int, int], cond_dim: int, latent_dim: int, width: int):
        super().__init__()
        flat = int(np.prod(out_shape))
        self.body = nn.Sequential(nn.Linear(flat, width), nn.GELU())
        self.head = nn.Sequential(nn.Linear(width + cond_dim, width), nn.GELU(), nn.Linear(width, 2 * latent_dim))

    def forward(self, shape: torch.Tensor, cond_emb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(shape.flatten(1))
        mu, logvar = self.head(torch.cat([h, cond_emb], dim=1)).chunk(2, dim=1)
        return mu, logvar.clamp(-10.0, 6.0)


class MUAPGenerator(nn.Module):
    """Conditional VAE: (6 conditions, latent z) → MUAP on an electrode grid.

    Parameters
    ----------
    out_shape : (rows, cols, times)
        Output MUAP shape (grid rows × grid cols × samples).
    fs : float
        Sampling rate of the output in Hz (stored, for users of the MUAPs).
    condition_names : sequence of str
        Order of the condition columns (default :data:`DEFAULT_CONDITIONS`).
    condition_ranges : dict name -> (lo, hi)
        Declared valid ranges (default :data:`DEFAULT_CONDITION_RANGES`).
    latent_dim : int
        Size of z (BioMime: 16).
    hidden : int
        Width of the decoder MLP.
    n_hidden_layers : int
        Hidden layers of the decoder MLP.
    cond_dim : int
        Condition embedding size (BioMime: 64).
    time_expert_scales : sequence of float
        Time-scaling factors of the mixture of experts (empty: none).
    encoder_width : int
        Width of the encoder MLP.
    output_rank : int
        Rank of the factorised output layer (hidden → rank → rows·cols·times); 0 for a
        full linear layer. Unit-p-p MUAP shapes of the numerical model lie in a
        low-dimensional linear subspace (a rank-128 PCA basis of training shapes
        reproduces held-out shapes to nRMSE ≈ 0.002), so rank 256 loses nothing and
        halves the decoder's cost; the estimator initialises the rank → output layer
        with that PCA basis.
    positions_mm : array (rows*cols, 2), optional
        Electrode positions of the output grid (metadata for users of the MUAPs).
    cond_fourier : int
        Fourier features of the unit-range conditions fed to the condition embedding:
        ``sin``/``cos`` of ``2^k π u`` for ``k < cond_fourier`` beside ``u`` (0: ``u`` only).

    Notes
    -----
    Learned normalisation of the amplitude head (``logamp_mean``, ``logamp_std``)
    lives in buffers, so a ``state_dict`` alone (with :meth:`config`) restores the
    model; amplitudes come out in the units of the training data (volts for the
    myoflow simulator).
    """

    def __init__(self, out_shape: Sequence[int], fs: float = 2048.0,
                 condition_names: Sequence[str] = DEFAULT_CONDITIONS,
                 condition_ranges: dict[str, Sequence[float]] | None = None,
                 latent_dim: int = 16, hidden: int = 512, n_hidden_layers: int = 3, cond_dim: int = 64,
                 time_expert_scales: Sequence[float] = (0.5, 0.63, 0.79, 1.0, 1.26, 1.59, 2.0),
                 encoder_width: int = 256, output_rank: int = 256,
                 positions_mm: Sequence[Sequence[float]] | None = None, cond_fourier: int = 0):
        super().__init__()
        if len(out_shape) != 3 or min(int(s) for s in out_shape) < 1:
            raise DataError(f"out_shape must be (rows, cols, times) with positive sizes, got {tuple(out_shape)}")
        self.out_shape = tuple(int(s) for s in out_shape)
        self.fs = float(fs)
        self.condition_names = tuple(condition_names)
        ranges = dict(DEFAULT_CONDITION_RANGES if condition_ranges is None else condition_ranges)
        missing = [n for n in self.condition_names if n not in ranges]
        if missing:
            raise DataError(f"no declared range for condition(s) {missing}")
        self.condition_ranges = {n: (float(ranges[n][0]), float(ranges[n][1])) for n in self.condition_names}
        self.latent_dim = int(latent_dim)
        self.hidden = int(hidden)
        self.n_hidden_layers = int(n_hidden_layers)
        self.cond_dim = int(cond_dim)
        self.time_expert_scales = tuple(float(s) for s in time_expert_scales)
        self.encoder_width = int(encoder_width)
        self.output_rank = int(output_rank)
        self.positions_mm = None if positions_mm is None else [[float(v) for v in p] for p in positions_mm]
        self.cond_fourier = int(cond_fourier)
        if self.cond_fourier < 0:
            raise ConfigError(f"cond_fourier must be >= 0 (0: raw conditions only), got {cond_fourier}")
        rows, cols, times = self.out_shape
        n_cond = len(self.condition_names)
        n_feat = n_cond * (1 + 2 * self.cond_fourier)

        lo = torch.tensor([self.condition_ranges[n][0] for n in self.condition_names], dtype=torch.float32)
        hi = torch.tensor([self.condition_ranges[n][1] for n in self.condition_names], dtype=torch.float32)
        self.register_buffer("cond_lo", lo)
        self.register_buffer("cond_hi", hi)
        self.register_buffer("logamp_mean", torch.zeros(()))
        self.register_buffer("logamp_std", torch.ones(()))

        self.cond_embed = nn.Sequential(nn.Linear(n_feat, cond_dim), nn.GELU(), nn.Linear(cond_dim, cond_dim), nn.GELU())
        layers: list[nn.Module] = []
        width = cond_dim + latent_dim
        for _ in range(self.n_hidden_layers):
            layers += [nn.Linear(width, hidden), nn.GELU()]
            width = hidden
        self.trunk = nn.Sequential(*layers)
        n_out = rows * cols * times
        if self.output_rank > 0:
            self.to_shape = nn.Sequential(nn.Linear(hidden, self.output_rank), nn.Linear(self.output_rank, n_out))
        else:
            self.to_shape = nn.Sequential(nn.Linear(hidden, n_out))
        self.amp_head = nn.Sequential(nn.Linear(cond_dim, 128), nn.GELU(), nn.Linear(128, 1))
        if self.time_expert_scales:
            mats = torch.tensor(time_scaling_matrices(times, self.time_expert_scales), dtype=torch.float32)
            self.register_buffer("time_mats", mats, persistent=False)
            self.gate = nn.Sequential(nn.Linear(n_cond, 128), nn.GELU(), nn.Linear(128, 128), nn.GELU(),
                                      nn.Linear(128, len(self.time_expert_scales)))
            # start close to the identity expert (scale 1) so that training begins from the
            # unscaled decoder output; the gate learns to stretch or compress from there
            ident = int(np.argmin(np.abs(np.log(np.asarray(self.time_expert_scales)))))
            with torch.no_grad():
                self.gate[-1].bias.zero_()
                self.gate[-1].bias[ident] = 3.0
        else:
            self.gate = None
        self.encoder = _Encoder(self.out_shape, cond_dim, latent_dim, self.encoder_width)

    # ---------------------------------------------------------------- config
    def config(self) -> dict[str, Any]:
        """JSON-able constructor arguments (with :meth:`state_dict`, all needed to rebuild)."""
        return {
            "out_shape": list(self.out_shape),
            "fs": self.fs,
            "condition_names": list(self.condition_names),
            "condition_ranges": {k: list(v) for k, v in self.condition_ranges.items()},
            "latent_dim": self.latent_dim,
            "hidden": self.hidden,
            "n_hidden_layers": self.n_hidden_layers,
            "cond_dim": self.cond_dim,
            "time_expert_scales": list(self.time_expert_scales),
            "encoder_width": self.encoder_width,
            "output_rank": self.output_rank,
            "positions_mm": self.positions_mm,
            "cond_fourier": self.cond_fourier,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "MUAPGenerator":
        cfg = dict(config)
        cfg["condition_ranges"] = {k: tuple(v) for k, v in cfg.get("condition_ranges", {}).items()} or None
        return cls(**cfg)

    # ------------------------------------------------------------ internals
    def unit_conditions(self, cond: torch.Tensor) -> torch.Tensor:
        """Physical conditions → [0, 1] per declared range."""
        return (cond - self.cond_lo) / (self.cond_hi - self.cond_lo)

    def condition_features(self, cond_unit: torch.Tensor) -> torch.Tensor:
        """Input of the condition embedding: unit conditions (n, c), plus with ``cond_fourier = K``
        ``sin`` and ``cos`` of ``2^k π u`` for k < K, (n, c (1 + 2K)).

        Why: MUAP shapes change quickly with some conditions (depth, IZ position move
        the peaks across the grid); Fourier features let a small MLP represent that
        without a long training (spectral bias of MLPs on raw coordinates).
        """
        if self.cond_fourier == 0:
            return cond_unit
        freqs = (2.0 ** torch.arange(self.cond_fourier, dtype=cond_unit.dtype, device=cond_unit.device)) * np.pi
        ang = cond_unit[:, :, None] * freqs  # (n, c, K)
        return torch.cat([cond_unit, torch.sin(ang).flatten(1), torch.cos(ang).flatten(1)], dim=1)

    def embed(self, cond_unit: torch.Tensor) -> torch.Tensor:
        """Condition embedding (n, cond_dim) of unit-range conditions."""
        return self.cond_embed(self.condition_features(cond_unit))

    def decode_unit(self, cond_unit: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Decode unit-range conditions and z into (unit-p-p shape (n, rows, cols, times), log p-p amplitude (n,))."""
        rows, cols, times = self.out_shape
        emb = self.embed(cond_unit)
        h = self.trunk(torch.cat([emb, z], dim=1))
        shape = self.to_shape(h).view(-1, rows * cols, times)
        if self.gate is not None:
            g = torch.softmax(self.gate(cond_unit), dim=1)                       # (n, k)
            # mix the experts' resampling matrices first: one (t × t) matrix per MUAP
            mix = torch.einsum("nk,kts->nts", g, self.time_mats)
            shape = torch.bmm(shape, mix.transpose(1, 2))
        logamp = self.amp_head(emb).squeeze(1) * self.logamp_std + self.logamp_mean
        return shape.view(-1, rows, cols, times), logamp

    def encode_unit(self, shape: torch.Tensor, cond_unit: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior q(z | unit-p-p shape, conditions): (mu, logvar)."""
        return self.encoder(shape, self.embed(cond_unit))

    def forward(self, shape: torch.Tensor, cond_unit: torch.Tensor,
                noise: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Training pass: encode, sample z (reparameterised), decode both z and the prior mean z=0."""
        mu, logvar = self.encode_unit(shape, cond_unit)
        z = mu if noise is None else mu + noise * torch.exp(0.5 * logvar)
        n = z.shape[0]
        both, logamp = self.decode_unit(cond_unit.repeat(2, 1), torch.cat([z, torch.zeros_like(z)]))
        recon, prior, logamp = both[:n], both[n:], logamp[:n]
        return {"recon": recon, "prior": prior, "logamp": logamp, "mu": mu, "logvar": logvar}

    def _as_tensor(self, conditions: Any) -> torch.Tensor:
        arr = validate_conditions(conditions, self.condition_names, self.condition_ranges)
        return torch.as_tensor(arr, dtype=torch.float32, device=self.cond_lo.device)

    # -------------------------------------------------------------- public
    @torch.no_grad()
    def generate(self, conditions: Any, z: np.ndarray | torch.Tensor | None = None, *, seed: int | None = None,
                 temperature: float = 1.0, batch_size: int = 4096) -> np.ndarray:
        """MUAPs for the given conditions.

        Parameters
        ----------
        conditions : array (n, 6) or (6,), or DataFrame with the condition columns
            Physical units (see :data:`DEFAULT_CONDITIONS`); validated against the declared ranges.
        z : array (n, latent_dim), optional
            Latent codes. Default: ``z = 0`` (the prior mean, the deterministic
            surrogate of the numerical model) unless ``seed`` is given.
        seed : int, optional
            Draw ``z ~ N(0, temperature²)`` from a local generator seeded with this
            (same seed → identical MUAPs; global RNG untouched).
        temperature : float
            Scale of the sampled z.
        batch_size : int
            Conditions decoded per forward pass.

        Returns
        -------
        array, shape (n, rows, cols, times), float32
            MUAPs in the units of the training data (V).

        Raises
        ------
        DataError
            A condition outside its declared range, or a wrong shape.
        """
        cond = self._as_tensor(conditions)
        n = cond.shape[0]
        zt = _latents(n, self.latent_dim, z, seed, temperature, cond.device)
        was_training = self.training
        self.eval()
        out = []
        for start in range(0, n, batch_size):
            cu = self.unit_conditions(cond[start:start + batch_size])
            shape, logamp = self.decode_unit(cu, zt[start:start + batch_size])
            out.append((shape * torch.exp(logamp)[:, None, None, None]).cpu().numpy())
        self.train(was_training)
        rows, cols, times = self.out_shape
        return np.concatenate(out).astype(np.float32) if out else np.zeros((0, rows, cols, times), np.float32)

    @torch.no_grad()
    def encode(self, muaps: np.ndarray, conditions: Any) -> np.ndarray:
        """Posterior mean latent codes of existing MUAPs, shape (n, latent_dim)."""
        cond = self._as_tensor(conditions)
        x = self._check_muaps(muaps, cond.shape[0])
        pp = _peak_to_peak(x)
        was_training = self.training
        self.eval()
        mu, _ = self.encode_unit(x / pp[:, None, None, None], self.unit_conditions(cond))
        self.train(was_training)
        return mu.cpu().numpy()

    @torch.no_grad()
    def morph(self, muaps: np.ndarray, source_conditions: Any, target_conditions: Any) -> np.ndarray:
        """BioMime's morphing: carry existing MUAPs from their conditions to new ones.

        The MUAP is encoded with its source conditions (its latent code keeps what
        the conditions do not explain), decoded with the target conditions, and its
        own peak-to-peak amplitude is rescaled by the generator's predicted
        amplitude ratio target/source.

        Parameters
        ----------
        muaps : array (n, rows, cols, times)
        source_conditions, target_conditions : array (n, 6) or DataFrame

        Returns
        -------
        array (n, rows, cols, times), float32
        """
        src = self._as_tensor(source_conditions)
        tgt = self._as_tensor(target_conditions)
        if src.shape != tgt.shape:
            raise DataError(f"source and target conditions differ in shape: {tuple(src.shape)} vs {tuple(tgt.shape)}")
        x = self._check_muaps(muaps, src.shape[0])
        pp = _peak_to_peak(x)
        was_training = self.training
        self.eval()
        su, tu = self.unit_conditions(src), self.unit_conditions(tgt)
        mu, _ = self.encode_unit(x / pp[:, None, None, None], su)
        shape, logamp_t = self.decode_unit(tu, mu)
        _, logamp_s = self.decode_unit(su, mu)
        self.train(was_training)
        amp = pp * torch.exp(logamp_t - logamp_s)
        return (shape * amp[:, None, None, None]).cpu().numpy().astype(np.float32)

    def _check_muaps(self, muaps: Any, n: int) -> torch.Tensor:
        x = torch.as_tensor(np.asarray(muaps, dtype=np.float32), device=self.cond_lo.device)
        if x.ndim == 3:
            x = x.unsqueeze(0)
        if tuple(x.shape[1:]) != self.out_shape or x.shape[0] != n:
            raise DataError(f"MUAPs must have shape ({n}, {', '.join(map(str, self.out_shape))}) "
                            f"(rows, cols, times), got {tuple(x.shape)}")
        if not torch.isfinite(x).all():
            raise DataError("MUAPs contain NaN/inf")
        if (_peak_to_peak(x) <= 0).any():
            raise DataError("a MUAP is flat (peak-to-peak 0); cannot morph it")
        return x

    @torch.no_grad()
    def init_output_basis(self, shapes: np.ndarray) -> int:
        """Initialise the factorised output layer with the PCA basis of training shapes.

        Parameters
        ----------
        shapes : array (n, rows, cols, times)
            Unit-peak-to-peak training MUAP shapes.

        Returns
        -------
        int
            Number of principal components used (≤ ``output_rank``).
        """
        if self.output_rank <= 0:
            return 0
        y = np.asarray(shapes, dtype=np.float64).reshape(len(shapes), -1)
        if len(y) > 2048:  # a basis from 2048 shapes is plenty; keeps the eigenproblem small
            y = y[np.linspace(0, len(y) - 1, 2048).astype(int)]
        mean = y.mean(axis=0)
        yc = y - mean
        # PCA through the (n × n) Gram matrix: much cheaper than an SVD of (n × rows·cols·times)
        w, u = np.linalg.eigh(yc @ yc.T)
        order = np.argsort(w)[::-1]
        w, u = np.clip(w[order], 0.0, None), u[:, order]
        k = int(min(self.output_rank, int((w > w[0] * 1e-12).sum())))
        s = np.sqrt(w[:k])
        vt = (yc.T @ u[:, :k] / s[None, :]).T  # (k, rows·cols·times), orthonormal rows
        scale = s / np.sqrt(max(len(y), 1))  # basis vectors scaled to the data's SD along them
        out = self.to_shape[1]
        out.weight.zero_()
        out.weight[:, :k] = torch.as_tensor((vt[:k].T * scale[None, :]), dtype=out.weight.dtype)
        out.bias.copy_(torch.as_tensor(mean, dtype=out.bias.dtype))
        return k

    def n_parameters(self, decoder_only: bool = False) -> int:
        params = self.parameters() if not decoder_only else (
            p for name, p in self.named_parameters() if not name.startswith("encoder."))
        return int(sum(p.numel() for p in params))


def _latents(n: int, latent_dim: int, z: Any, seed: int | None, temperature: float,
             device: torch.device) -> torch.Tensor:
    """The (n, latent_dim) codes of :meth:`MUAPGenerator.generate`: ``z`` checked, else ``z = 0``, else
    ``N(0, temperature²)`` from a local generator seeded with ``seed``."""
    if z is None:
        if seed is None:
            return torch.zeros(n, latent_dim, device=device)
        gen = torch.Generator().manual_seed(int(seed))
        return (torch.randn(n, latent_dim, generator=gen) * float(temperature)).to(device)
    zt = torch.as_tensor(np.asarray(z), dtype=torch.float32, device=device)
    if zt.shape != (n, latent_dim):
        raise DataError(f"z must have shape ({n}, {latent_dim}), got {tuple(zt.shape)}")
    return zt


def member_seed(seed: int, k: int) -> int:
    """Training seed of ensemble member ``k``: member 0 keeps ``seed``, so an ensemble of one is the
    single generator (same numbers); the others are derived from it (stable, SHA-256)."""
    from ..train.seeding import derive_seed

    return int(seed) if int(k) == 0 else derive_seed(int(seed), "member", int(k))


class MUAPEnsemble(nn.Module):
    """The mean of several :class:`MUAPGenerator` trained with different seeds, behind the same interface.

    Why: the members' errors against the numerical model are partly independent
    (initialisation, batch order, VAE noise), so their mean output at ``z = 0`` is a
    better deterministic surrogate than any one of them; the cost is one decoder pass
    per member.

    Parameters
    ----------
    members : sequence of MUAPGenerator
        Same architecture (:meth:`MUAPGenerator.config`); at least one.

    Notes
    -----
    :meth:`generate` and :meth:`morph` average the members' outputs (one set of
    latent codes for all members); there is no shared latent space, so
    :meth:`encode` is refused.
    """

    def __init__(self, members: Sequence[MUAPGenerator]):
        super().__init__()
        members = list(members)
        if not members:
            raise ConfigError("an ensemble needs at least one member generator")
        cfg = members[0].config()
        if any(m.config() != cfg for m in members[1:]):
            raise ConfigError("ensemble members must share one architecture (MUAPGenerator.config())")
        self.members = nn.ModuleList(members)

    # the attributes users of a generator read (dynamic simulation, export, figures)
    def __getattr__(self, name: str) -> Any:
        if name in ("out_shape", "fs", "condition_names", "condition_ranges", "latent_dim", "positions_mm",
                    "cond_lo", "cond_hi"):
            return getattr(self._modules["members"][0], name)
        return super().__getattr__(name)

    def config(self) -> dict[str, Any]:
        """The members' :meth:`MUAPGenerator.config` plus ``members`` (their number)."""
        return {**self.members[0].config(), "members": len(self.members)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "MUAPEnsemble":
        cfg = dict(config)
        k = int(cfg.pop("members"))
        return cls([MUAPGenerator.from_config(cfg) for _ in range(k)])

    @torch.no_grad()
    def generate(self, conditions: Any, z: np.ndarray | torch.Tensor | None = None, *, seed: int | None = None,
                 temperature: float = 1.0, batch_size: int = 4096) -> np.ndarray:
        """Mean of the members' :meth:`MUAPGenerator.generate` (same arguments, same latent codes)."""
        n = len(validate_conditions(conditions, self.condition_names, self.condition_ranges))
        zt = _latents(n, self.latent_dim, z, seed, temperature, torch.device("cpu")).cpu().numpy()
        out = self.members[0].generate(conditions, zt, batch_size=batch_size)
        for m in self.members[1:]:
            out += m.generate(conditions, zt, batch_size=batch_size)
        return out / np.float32(len(self.members))

    @torch.no_grad()
    def morph(self, muaps: np.ndarray, source_conditions: Any, target_conditions: Any) -> np.ndarray:
        """Mean of the members' :meth:`MUAPGenerator.morph` (each encodes with its own encoder)."""
        out = self.members[0].morph(muaps, source_conditions, target_conditions)
        for m in self.members[1:]:
            out += m.morph(muaps, source_conditions, target_conditions)
        return out / np.float32(len(self.members))

    def encode(self, muaps: np.ndarray, conditions: Any) -> np.ndarray:
        raise DataError(f"an ensemble of {len(self.members)} generators has no shared latent space; "
                        f"encode with one member (.members[k].encode)")

    def n_parameters(self, decoder_only: bool = False) -> int:
        return int(sum(m.n_parameters(decoder_only) for m in self.members))


class MUAPDiscriminator(nn.Module):
    """Conditional discriminator D(unit-p-p MUAP shape, unit conditions) -> real/fake logit.

    BioMime's discriminator is a Conv3d stack with the conditions broadcast into its
    feature maps; like the encoder here, it is an MLP over the flattened MUAP for CPU
    cost (its input layer dominates: rows·cols·times × ``width``), with the
    conditions joined after the first layer (as BioMime joins them after its first
    convolution). LeakyReLU(0.2), no normalisation (the batch mixes real and fake).

    Parameters
    ----------
    out_shape : (rows, cols, times)
    n_conditions : int
    width : int
        Width of the hidden layers.
    """

    def __init__(self, out_shape: Sequence[int], n_conditions: int, width: int = 256):
        super().__init__()
        flat = int(np.prod([int(v) for v in out_shape]))
        self.body = nn.Sequential(nn.Linear(flat, width), nn.LeakyReLU(0.2))
        self.cond = nn.Sequential(nn.Linear(n_conditions, 64), nn.LeakyReLU(0.2))
        self.head = nn.Sequential(nn.Linear(width + 64, width), nn.LeakyReLU(0.2), nn.Linear(width, 1))

    def features(self, shape: torch.Tensor) -> torch.Tensor:
        """The condition-free first layer (the costly part), reusable across conditions."""
        return self.body(shape.flatten(1))

    def head_logit(self, features: torch.Tensor, cond_unit: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([features, self.cond(cond_unit)], dim=1)).squeeze(1)

    def forward(self, shape: torch.Tensor, cond_unit: torch.Tensor) -> torch.Tensor:
        return self.head_logit(self.features(shape), cond_unit)


def _peak_to_peak(x: torch.Tensor) -> torch.Tensor:
    flat = x.flatten(1)
    return flat.max(dim=1).values - flat.min(dim=1).values


class MUAPDecoder(MUAPGenerator):
    """The generation path only, for ONNX export: ``forward(conditions, z) -> MUAPs``.

    Same parameters (and ``state_dict`` keys) as :class:`MUAPGenerator`; conditions
    are in physical units and MUAPs come out in volts, (n, rows, cols, times).
    Range validation cannot live inside an exported graph: callers of the ONNX
    model must check conditions (the JSON config beside it lists the ranges).
    """

    @classmethod
    def from_generator(cls, generator: MUAPGenerator) -> "MUAPDecoder":
        dec = cls.from_config(generator.config())
        dec.load_state_dict(generator.state_dict())
        return dec.eval()

    def forward(self, conditions: torch.Tensor, z: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        shape, logamp = self.decode_unit(self.unit_conditions(conditions), z)
        return shape * torch.exp(logamp)[:, None, None, None]


class MUAPEnsembleDecoder(nn.Module):
    """ONNX generation path of a :class:`MUAPEnsemble`: the mean of its members' :class:`MUAPDecoder`."""

    def __init__(self, ensemble: MUAPEnsemble):
        super().__init__()
        self.members = nn.ModuleList(MUAPDecoder.from_generator(m) for m in ensemble.members)
        self.condition_names = ensemble.condition_names
        self.condition_ranges = ensemble.condition_ranges
        self.latent_dim = ensemble.latent_dim

    def forward(self, conditions: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return torch.stack([m(conditions, z) for m in self.members]).mean(dim=0)


def _decoder(generator: "MUAPGenerator | MUAPEnsemble") -> nn.Module:
    """The generation-only module of a generator or an ensemble (for ONNX), in eval mode."""
    if isinstance(generator, MUAPEnsemble):
        return MUAPEnsembleDecoder(generator).eval()
    return MUAPDecoder.from_generator(generator)


# ------------------------------------------------------------------ metrics
def peak_to_peak(muaps: np.ndarray) -> np.ndarray:
    """Peak-to-peak amplitude over the whole grid and window, per MUAP: (n, ...) → (n,)."""
    flat = np.asarray(muaps).reshape(len(muaps), -1)
    return flat.max(axis=1) - flat.min(axis=1)


# ---------------------------------------------------------------- estimator
_ARCH = ("fs", "condition_names", "condition_ranges", "latent_dim", "hidden", "n_hidden_layers", "cond_dim",
         "time_expert_scales", "encoder_width", "output_rank", "positions_mm", "cond_fourier")


class MuapGeneratorEstimator(RegressorMixin, MyoflowEstimator):
    """Fit a :class:`MUAPGenerator` to (conditions, MUAPs) pairs from the numerical model.

    ``fit(conditions, muaps)`` trains it with the shared engine (:func:`myoflow.train.fit`:
    fused Adam, cosine LR decay to 2 % of ``lr``, logistic KL annealing as a callback,
    early stopping on the *generation* nRMSE of ``validation_data`` — prior path,
    amplitude included — with best-weights restore); ``predict(conditions)`` generates
    MUAPs at the prior mean ``z = 0``; ``score`` is minus the mean nRMSE.

    Parameters
    ----------
    fs, condition_names, condition_ranges, latent_dim, hidden, n_hidden_layers, cond_dim,
    time_expert_scales, encoder_width, output_rank, positions_mm
        :class:`MUAPGenerator` arguments (``out_shape`` comes from the data).
    epochs, batch_size, lr, weight_decay, patience
        Optimisation (defaults tuned on the myoflow numerical model).
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
    adversarial : bool
        Add BioMime's adversarial part: a :class:`MUAPDiscriminator` trained on every
        mini-batch (engine :class:`~myoflow.train.AlternateStep`) to tell training
        MUAPs under their conditions (real) from generated ones and from training
        MUAPs under another unit's conditions (fake); the generator's loss gains
        ``adv_weight`` × its least-squares adversarial term on both the ``z = 0`` and
        the posterior-sample outputs. Training-only: the discriminator is dropped
        after ``fit`` and never saved.
    adv_weight : float
        Weight of the generator's adversarial term (the shape MSE it is added to is
        ~1e-4 once trained, so useful weights are small).
    disc_width : int
        Hidden width of the discriminator.
    disc_lr : float, optional
        Discriminator learning rate (Adam, betas 0.5/0.999, constant); default ``lr``.
    pca_init : bool
        Initialise the factorised output layer with the PCA basis of the training shapes.
    cond_fourier : int
        :class:`MUAPGenerator` Fourier features of the conditions (0: none).
    rel_weight : float
        Weight of a scale-free (normalised) loss, per unit
        ``||ŷ − y||² / ||y||²``: on the generated MUAP at ``z = 0`` with its predicted
        amplitude (``ŷ = shape · exp(log p-p − true log p-p)``, in units of the true
        p-p) and on the posterior-sample shape. That is the square of the reported
        RMSE / RMS(target), so small, sparse or low-amplitude units count as much as
        large ones; the plain MSE on unit-p-p shapes under-weights units whose energy
        is concentrated on few electrodes. 0: off (MSE only).
    val_metric : {"nrmse", "rel_rmse"}
        Early-stopping score on the validation units: mean nRMSE (BioMime's metric)
        or mean RMSE / RMS(target).
    members : int
        Generators trained (each as with ``members=1``, seeds :func:`member_seed`) and
        averaged: ``generator_`` is then a :class:`MUAPEnsemble`. 1: one generator.
    seed : int
        Seeds weight initialisation, batch order and the VAE noise (local generators).
    device : str

    Attributes
    ----------
    generator_ : MUAPGenerator or MUAPEnsemble
        The trained model (best validation epoch; with ``members > 1`` each member's).
    history_ : myoflow.train.FitResult
        ``train_loss``, ``val_loss`` (validation nRMSE) per epoch, ``best_epoch``, ``seconds``;
        with ``adversarial``, ``alternate_loss["discriminator"]`` per epoch. With ``members > 1``:
        member 0's curves, ``seconds`` of all members.
    member_histories_ : list of myoflow.train.FitResult
        Every member's history (one entry when ``members = 1``).
    """

    registry_name = "muap_generator"
    _module_attr = "generator_"

    def __init__(self, fs: float = 2048.0, condition_names: Sequence[str] = DEFAULT_CONDITIONS,
                 condition_ranges: dict[str, Sequence[float]] | None = None, latent_dim: int = 16,
                 hidden: int = 512, n_hidden_layers: int = 3, cond_dim: int = 64,
                 time_expert_scales: Sequence[float] = (0.5, 0.63, 0.79, 1.0, 1.26, 1.59, 2.0),
                 encoder_width: int = 256, output_rank: int = 256,
                 positions_mm: Sequence[Sequence[float]] | None = None, epochs: int = 300, batch_size: int = 64,
                 lr: float = 1e-3, weight_decay: float = 0.0, patience: int = 60, kl_weight: float = 1e-3,
                 kl_anneal_epochs: int = 50, prior_weight: float = 1.0, amp_weight: float = 0.05,
                 cycle_weight: float = 0.0, adversarial: bool = False, adv_weight: float = 1e-4,
                 disc_width: int = 256, disc_lr: float | None = None, pca_init: bool = True,
                 cond_fourier: int = 0, rel_weight: float = 0.0, val_metric: str = "nrmse", members: int = 1,
                 seed: int = 0, device: str = "cpu"):
        self.fs = fs
        self.condition_names = condition_names
        self.condition_ranges = condition_ranges
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.n_hidden_layers = n_hidden_layers
        self.cond_dim = cond_dim
        self.time_expert_scales = time_expert_scales
        self.encoder_width = encoder_width
        self.output_rank = output_rank
        self.positions_mm = positions_mm
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.patience = patience
        self.kl_weight = kl_weight
        self.kl_anneal_epochs = kl_anneal_epochs
        self.prior_weight = prior_weight
        self.amp_weight = amp_weight
        self.cycle_weight = cycle_weight
        self.adversarial = adversarial
        self.adv_weight = adv_weight
        self.disc_width = disc_width
        self.disc_lr = disc_lr
        self.pca_init = pca_init
        self.cond_fourier = cond_fourier
        self.rel_weight = rel_weight
        self.val_metric = val_metric
        self.members = members
        self.seed = seed
        self.device = device

    def _validate_params(self) -> None:
        if int(self.epochs) < 1 or int(self.batch_size) < 1:
            raise ConfigError(f"generator training needs epochs >= 1 and batch_size >= 1, "
                              f"got {self.epochs}, {self.batch_size}")
        if float(self.lr) <= 0:
            raise ConfigError(f"generator training lr must be > 0, got {self.lr}")
        if not isinstance(self.adversarial, (bool, np.bool_)):
            raise ConfigError(f"adversarial must be true or false, got {self.adversarial!r}")
        if float(self.adv_weight) < 0 or int(self.disc_width) < 1:
            raise ConfigError(f"adversarial training needs adv_weight >= 0 and disc_width >= 1, "
                              f"got {self.adv_weight}, {self.disc_width}")
        if self.disc_lr is not None and float(self.disc_lr) <= 0:
            raise ConfigError(f"disc_lr must be > 0 (or null for lr), got {self.disc_lr}")
        if int(self.cond_fourier) < 0 or float(self.rel_weight) < 0:
            raise ConfigError(f"cond_fourier and rel_weight must be >= 0, got {self.cond_fourier}, {self.rel_weight}")
        if self.val_metric not in ("nrmse", "rel_rmse"):
            raise ConfigError(f"val_metric must be 'nrmse' or 'rel_rmse', got {self.val_metric!r}")
        if isinstance(self.members, (bool, np.bool_)) or not isinstance(self.members, (int, np.integer)) \
                or self.members < 1:
            raise ConfigError(f"members must be an integer >= 1 (generators averaged), got {self.members!r}")

    def _build(self, out_shape: Sequence[int]) -> MUAPGenerator:
        kw = {k: getattr(self, k) for k in _ARCH}
        kw["condition_ranges"] = ({k: tuple(v) for k, v in kw["condition_ranges"].items()}
                                  if kw["condition_ranges"] is not None else None)
        return MUAPGenerator(out_shape=tuple(int(s) for s in out_shape), **kw)

    @classmethod
    def from_generator(cls, generator: "MUAPGenerator | MUAPEnsemble", **params: Any) -> "MuapGeneratorEstimator":
        """Wrap an already trained :class:`MUAPGenerator` (or :class:`MUAPEnsemble`) as a fitted estimator
        (e.g. to save it)."""
        cfg = generator.config()
        if isinstance(generator, MUAPEnsemble):
            params = {**params, "members": len(generator.members)}
        est = cls(**{k: cfg[k] for k in _ARCH}, **params)
        est.generator_ = generator.eval()
        return est

    # ------------------------------------------------------------------ fit
    def fit(self, X: np.ndarray, y: np.ndarray, groups: Any = None, *,
            validation_data: tuple[np.ndarray, np.ndarray] | None = None,
            on_epoch: Callable[[int, float, float | None], None] | None = None) -> "MuapGeneratorEstimator":
        """Train on conditions ``X`` (n, 6; physical units) and MUAPs ``y`` (n, rows, cols, times).

        ``validation_data`` (from training conditions only) drives early stopping and
        best-epoch restoration; without it the last epoch is kept. ``groups`` is unused
        (units are independent draws of the condition space).
        """
        import time

        from ..train.engine import AlternateStep, LogisticWeight, fit
        from ..train.seeding import torch_seed

        t0 = time.perf_counter()
        self._validate_params()
        if int(self.members) > 1:
            return self._fit_members(X, y, validation_data=validation_data, on_epoch=on_epoch)
        muaps = np.asarray(y, dtype=np.float32)
        if muaps.ndim != 4 or len(muaps) == 0:
            raise DataError(f"training MUAPs must have shape (n, rows, cols, times) with n >= 1, got {muaps.shape}")
        C = np.asarray(X, dtype=np.float32)
        if len(C) != len(muaps):
            raise DataError(f"{len(C)} condition rows for {len(muaps)} MUAPs")
        pp = peak_to_peak(muaps)
        if (pp <= 0).any() or not np.isfinite(muaps).all():
            raise DataError("training MUAPs contain flat or non-finite waveforms")
        with torch_seed(int(self.seed)):
            model = self._build(muaps.shape[1:])
            # built after the generator, so the generator's initial weights do not depend on the switch
            disc = (MUAPDiscriminator(muaps.shape[1:], len(model.condition_names), int(self.disc_width))
                    if self.adversarial else None)
        # validates the ranges (and refuses training data outside them)
        validate_conditions(C, model.condition_names, model.condition_ranges)
        if self.pca_init:
            model.init_output_basis(muaps / pp[:, None, None, None])
        logpp = np.log(pp)
        model.logamp_mean.fill_(float(logpp.mean()))
        model.logamp_std.fill_(float(max(logpp.std(), 1e-3)))
        from ..train.device import get_device

        dev = get_device(self.device)
        model.to(dev)
        shapes = torch.as_tensor(muaps / pp[:, None, None, None], device=dev)
        cond_u = model.unit_conditions(torch.as_tensor(C, device=dev))
        logpp_t = torch.as_tensor(logpp, dtype=torch.float32, device=dev)
        lstd = float(model.logamp_std)
        prior_w, amp_w, cycle_w = float(self.prior_weight), float(self.amp_weight), float(self.cycle_weight)
        adv_w, rel_w = float(self.adv_weight), float(self.rel_weight)
        alternate = []
        if disc is not None:
            disc.to(dev)

            def d_score(shape, cu):
                return torch.sigmoid(disc(shape, cu))

            def disc_loss(batch, state):
                # BioMime's least-squares objective on sigmoid outputs: real (MUAP, its conditions) -> 1;
                # generated MUAPs and real MUAPs under another unit's conditions -> 0
                yb, cu, _ = batch
                n = len(yb)
                disc.requires_grad_(True)
                with torch.no_grad():
                    z = torch.randn(n, model.latent_dim, generator=state.generator).to(state.device)
                    z[: n // 2] = 0.0  # half at the prior mean (what generation uses), half sampled
                    fake, _ = model.decode_unit(cu, z)
                if n > 1:  # each MUAP under another unit's conditions (a random cyclic shift)
                    shift = 1 + int(torch.randint(n - 1, (1,), generator=state.generator))
                    wrong = torch.roll(cu, shifts=shift, dims=0)
                else:  # a one-sample batch has no other unit: random conditions
                    wrong = torch.rand(cu.shape, generator=state.generator).to(state.device)
                h_real = disc.features(yb)  # shared by the matched and the mismatched pairs
                real = torch.mean((torch.sigmoid(disc.head_logit(h_real, cu)) - 1.0) ** 2)
                mismatched = torch.mean(torch.sigmoid(disc.head_logit(h_real, wrong)) ** 2)
                return real + 0.5 * (torch.mean(d_score(fake, cu) ** 2) + mismatched)

            alternate.append(AlternateStep(disc.parameters(), disc_loss, name="discriminator",
                                           lr=float(self.lr if self.disc_lr is None else self.disc_lr),
                                           betas=(0.5, 0.999)))

        def loss(batch, state):
            yb, cu, la = batch
            noise = torch.randn(len(yb), model.latent_dim, generator=state.generator).to(state.device)
            out = model(yb, cu, noise)
            value = torch.mean((out["recon"] - yb) ** 2)
            value = value + prior_w * torch.mean((out["prior"] - yb) ** 2)
            value = value + amp_w * torch.mean(((out["logamp"] - la) / lstd) ** 2)
            if rel_w > 0:
                energy = yb.flatten(1).pow(2).sum(1).clamp_min(1e-12)
                # generated MUAP in units of the true p-p: the amplitude error counts as in the metric
                # (clamped: a wild early amplitude must not blow the loss up)
                gain = torch.exp((out["logamp"] - la).clamp(-3.0, 3.0))[:, None, None, None]
                rel_prior = (out["prior"] * gain - yb).flatten(1).pow(2).sum(1) / energy
                rel_recon = (out["recon"] - yb).flatten(1).pow(2).sum(1) / energy
                value = value + rel_w * (torch.mean(rel_prior) + torch.mean(rel_recon))
            kl = -0.5 * torch.mean(torch.sum(1 + out["logvar"] - out["mu"] ** 2 - out["logvar"].exp(), dim=1))
            value = value + state.weights["kl"] * kl
            if cycle_w > 0:
                # source -> random target conditions -> back to source must reproduce the input
                tgt = torch.rand(cu.shape, generator=state.generator).to(state.device)
                moved, _ = model.decode_unit(tgt, out["mu"])
                mu2, _ = model.encode_unit(moved, tgt)
                back, _ = model.decode_unit(cu, mu2)
                value = value + cycle_w * torch.mean((back - yb) ** 2)
            if disc is not None and adv_w > 0:
                # the discriminator is a fixed critic here: no weight gradients (its own step follows)
                disc.requires_grad_(False)
                fooled = torch.cat([d_score(out["prior"], cu), d_score(out["recon"], cu)])
                value = value + adv_w * torch.mean((fooled - 1.0) ** 2)
            return value

        validate = None
        if validation_data is not None and len(validation_data[0]) > 0:
            Vc = np.asarray(validation_data[0], dtype=np.float32)
            Vx = np.asarray(validation_data[1], dtype=np.float32)

            Vzero = nrmse(np.zeros_like(Vx), Vx) if self.val_metric == "rel_rmse" else 1.0

            def validate() -> float:
                return float(np.mean(nrmse(model.generate(Vc), Vx) / Vzero))

        self.history_ = fit(
            model, [shapes, cond_u, logpp_t], loss, validate=validate, epochs=int(self.epochs),
            batch_size=int(self.batch_size), lr=float(self.lr), weight_decay=float(self.weight_decay),
            optimizer="adam", fused=True, schedule="cosine", schedule_floor=0.02, patience=int(self.patience),
            seed=int(self.seed), device=dev, callbacks=[LogisticWeight("kl", self.kl_weight, self.kl_anneal_epochs)],
            on_epoch=on_epoch, log_every=10, alternate=alternate,
        )
        self.history_.seconds = time.perf_counter() - t0  # the whole fit, PCA initialisation included
        self.generator_ = model
        self.member_histories_ = [self.history_]
        return self

    def _fit_members(self, X: np.ndarray, y: np.ndarray, *, validation_data, on_epoch) -> "MuapGeneratorEstimator":
        """``members`` single fits with the seeds :func:`member_seed`, averaged (:class:`MUAPEnsemble`)."""
        from sklearn.base import clone

        fitted = []
        for k in range(int(self.members)):
            one = clone(self).set_params(members=1, seed=member_seed(int(self.seed), k))
            fitted.append(one.fit(X, y, validation_data=validation_data, on_epoch=on_epoch))
        return self.set_members(fitted)

    def set_members(self, fitted: Sequence["MuapGeneratorEstimator"]) -> "MuapGeneratorEstimator":
        """Become the ensemble of ``members`` fitted single generators (member k trained with seed
        ``member_seed(seed, k)``; e.g. in parallel processes by the pipeline): their :class:`MUAPEnsemble`
        (the generator itself when ``members = 1``), member 0's curves, all members' seconds."""
        import copy

        fitted = list(fitted)
        if len(fitted) != int(self.members):
            raise ConfigError(f"{len(fitted)} fitted generator(s) for members={self.members}")
        for k, e in enumerate(fitted):
            e._check_fitted()
            if int(e.seed) != member_seed(int(self.seed), k) or int(e.members) != 1:
                raise ConfigError(f"member {k} was not trained as member {k} of seed {self.seed}")
        self.generator_ = fitted[0].generator_ if len(fitted) == 1 else MUAPEnsemble([e.generator_ for e in fitted])
        self.member_histories_ = [e.history_ for e in fitted]
        self.history_ = copy.copy(fitted[0].history_)  # a copy: member 0's own entry keeps its seconds
        self.history_.seconds = float(sum(h.seconds for h in self.member_histories_))
        return self

    # --------------------------------------------------------------- predict
    def predict(self, X: np.ndarray) -> np.ndarray:
        """Generated MUAPs at ``z = 0`` for conditions (n, 6): (n, rows, cols, times)."""
        self._check_fitted()
        return self.generator_.generate(X)

    def score(self, X: np.ndarray, y: np.ndarray, sample_weight: Any = None) -> float:
        """Minus the mean nRMSE (higher is better, scikit-learn convention)."""
        return -float(np.mean(nrmse(self.predict(X), y)))

    # ----------------------------------------------------------- persistence
    def export_module(self):
        """The generation path ``(conditions, z) -> MUAPs`` for ONNX (:class:`MUAPDecoder`)."""
        self._check_fitted()
        return _decoder(self.generator_)

    def _fitted_state(self) -> dict[str, Any]:
        return {"out_shape": list(self.generator_.out_shape), "generator_config": self.generator_.config()}

    def _restore(self, fitted: dict[str, Any]) -> None:
        self._validate_params()
        k = int(self.members)
        gens = [self._build(fitted["out_shape"]) for _ in range(k)]
        self.generator_ = (gens[0] if k == 1 else MUAPEnsemble(gens)).eval()


# ------------------------------------------------------- files for users
GENERATOR_FILES = {"weights": "generator.safetensors", "config": "generator.json", "onnx": "generator.onnx"}


def save_generator(generator: "MuapGeneratorEstimator | MUAPGenerator | MUAPEnsemble", out_dir: str | Path,
                   onnx: bool = False) -> Path:
    """Write an exported generator folder: ``generator.safetensors`` (the estimator save) and
    ``generator.json`` (its config: output shape, fs, units, condition names and ranges), plus
    ``generator.onnx`` if asked. Returns the folder."""
    from .._atomic import atomic_write_json
    from .base import estimator_config, save_estimator

    est = generator if isinstance(generator, MuapGeneratorEstimator) else MuapGeneratorEstimator.from_generator(generator)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_estimator(est, out / GENERATOR_FILES["weights"])
    atomic_write_json(out / GENERATOR_FILES["config"], {**estimator_config(est), "units": "V",
                                                        "axis_order": ["n", "rows", "cols", "times"]})
    if onnx:
        export_generator_onnx(est.generator_, out / GENERATOR_FILES["onnx"])
    return out


def load_generator(path: str | Path) -> "MUAPGenerator | MUAPEnsemble":
    """Rebuild a trained :class:`MUAPGenerator` or :class:`MUAPEnsemble` (eval mode) with the one estimator loader.

    Parameters
    ----------
    path : path
        An exported folder, its ``generator.safetensors``, or a ``muap-generator`` run
        directory (the first finished fold's checkpoint, config from its ``extras.json``).

    Raises
    ------
    DataError
        Nothing loadable at ``path`` (says what was looked for).
    """
    import json

    from .base import load_estimator

    p = Path(path)
    if p.is_file():
        return _as_generator(load_estimator(p), p)
    if not p.is_dir():
        raise DataError("generator not found (expected an exported folder, a .safetensors file or a run dir)", str(p))
    if (p / GENERATOR_FILES["weights"]).is_file():
        return load_generator(p / GENERATOR_FILES["weights"])
    folds = sorted(d for d in (p / "folds").glob("*") if (d / "result.json").is_file()) if (p / "folds").is_dir() else []
    for fdir in folds:
        ckpt, extras = fdir / "muap_generator.safetensors", fdir / "extras.json"
        if ckpt.is_file() and extras.is_file():
            cfg = (json.loads(extras.read_text(encoding="utf-8")).get("models") or {}).get("muap_generator", {})
            if cfg.get("estimator"):
                return _as_generator(load_estimator(ckpt, config=cfg["estimator"]), ckpt)
    raise DataError(f"no {GENERATOR_FILES['weights']} and no finished muap-generator fold with a checkpoint", str(p))


def _as_generator(est: Any, where: Path) -> "MUAPGenerator | MUAPEnsemble":
    if not isinstance(est, MuapGeneratorEstimator):
        raise DataError(f"checkpoint holds a {type(est).__name__}, not a MUAP generator", str(where))
    return est.generator_.eval()


def export_generator_onnx(generator: "MUAPGenerator | MUAPEnsemble", path: str | Path, batch: int = 4,
                          rtol: float = 1e-4, seed: int = 0) -> float:
    """Export the generation path to ONNX and check it against PyTorch.

    The ONNX graph maps ``conditions`` (n, 6; physical units — range checks are the
    caller's job, see ``generator.json``) and ``z`` (n, latent_dim) to MUAPs
    (n, rows, cols, times) in volts, with a dynamic batch axis.

    Returns
    -------
    float
        Largest |ONNX − torch| relative to the largest |torch| output, over random
        in-range conditions and z; raises :class:`DataError` above ``rtol``.
    """
    import warnings

    from .._atomic import atomic_path
    from ..errors import require

    ort = require("onnxruntime", "onnx", "ONNX export of the MUAP generator")
    dec = _decoder(generator)
    rng = np.random.default_rng(seed)
    lo = np.array([generator.condition_ranges[n][0] for n in generator.condition_names])
    hi = np.array([generator.condition_ranges[n][1] for n in generator.condition_names])
    cond = (lo + rng.random((batch, len(lo))) * (hi - lo)).astype(np.float32)
    z = rng.standard_normal((batch, generator.latent_dim)).astype(np.float32)
    with atomic_path(path, suffix=".onnx") as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(dec, (torch.as_tensor(cond), torch.as_tensor(z)), str(tmp),
                          input_names=["conditions", "z"], output_names=["muaps"],
                          dynamic_axes={"conditions": {0: "n"}, "z": {0: "n"}, "muaps": {0: "n"}},
                          opset_version=17, dynamo=False)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    n_check = 64  # a different batch size than the export's, to exercise the dynamic axis
    cond2 = (lo + rng.random((n_check, len(lo))) * (hi - lo)).astype(np.float32)
    z2 = rng.standard_normal((n_check, generator.latent_dim)).astype(np.float32)
    with torch.no_grad():
        ref = dec(torch.as_tensor(cond2), torch.as_tensor(z2)).numpy()
    got = sess.run(None, {"conditions": cond2, "z": z2})[0]
    rel = float(np.max(np.abs(ref - got)) / max(float(np.max(np.abs(ref))), 1e-30))
    if rel > rtol:
        raise DataError(f"ONNX output differs from PyTorch by {rel:.2e} of the peak (> {rtol:g})", str(path))
    return rel
