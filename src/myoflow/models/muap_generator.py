"""BioMime-style conditional MUAP generator (conditional VAE).

A conditional variational auto-encoder that maps the six BioMime volume-conductor
conditions (plus a latent vector) to a multichannel motor-unit action potential
on an electrode grid, trained to mimic a slow numerical model (Ma, Clarke, ...,
Farina, "Conditional generative models for simulation of EMG during naturalistic
movements", arXiv 2211.01856; IEEE TNNLS 36:9224, 2025).

Differences from BioMime, and why
---------------------------------
* **Conditional VAE, no discriminator.** The issue accepts a cVAE; we train it
  with a reconstruction loss on both the posterior sample and the prior mean
  (``z = 0``), so generation at ``z = 0`` is an accurate deterministic surrogate
  of the numerical model, while ``z`` still carries the residual (fibre-scatter)
  variability. Accuracy against the numerical model is reported by the pipeline.
* **Amplitude / shape factorisation.** Peak-to-peak amplitudes span ~3 decades
  over the condition ranges (3 to 870 fibres, 7 to 23 mm depth), so the decoder
  predicts a unit peak-to-peak *shape* and, separately, the log peak-to-peak
  amplitude. The shape loss is thereby exactly the paper's NRMSE metric.
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

from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from ..errors import DataError

__all__ = [
    "DEFAULT_CONDITIONS",
    "DEFAULT_CONDITION_RANGES",
    "MUAPDecoder",
    "MUAPGenerator",
    "time_scaling_matrices",
    "validate_conditions",
]

#: The six BioMime conditions (spec §5, ``BioMime/utils/params.py`` [S]).
#: Names match :data:`myoflow.simulate.numerical.MUAP_CONDITIONS`.
DEFAULT_CONDITIONS: tuple[str, ...] = (
    "fibre_number_log",   # ln(number of fibres), 1.10–6.77 (≈3–870 fibres)
    "depth_mm",           # depth of the MU territory centre below the skin, 7–23.1 mm
    "angle",              # medio-lateral position (BioMime: angle around the limb), 0–1
    "iz_position",        # innervation zone as a fraction of fibre length, 0.365–0.636
    "cv_m_s",             # conduction velocity, 3–4.5 m/s
    "fibre_length_scale", # fibre length relative to rest, 0.85–1.15
)

#: Declared ranges (spec §5 [S]); the generator refuses conditions outside them.
DEFAULT_CONDITION_RANGES: dict[str, tuple[float, float]] = {
    "fibre_number_log": (1.10, 6.77),
    "depth_mm": (7.0, 23.1),
    "angle": (0.0, 1.0),
    "iz_position": (0.365, 0.636),
    "cv_m_s": (3.0, 4.5),
    "fibre_length_scale": (0.85, 1.15),
}


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
                 positions_mm: Sequence[Sequence[float]] | None = None):
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
        rows, cols, times = self.out_shape
        n_cond = len(self.condition_names)

        lo = torch.tensor([self.condition_ranges[n][0] for n in self.condition_names], dtype=torch.float32)
        hi = torch.tensor([self.condition_ranges[n][1] for n in self.condition_names], dtype=torch.float32)
        self.register_buffer("cond_lo", lo)
        self.register_buffer("cond_hi", hi)
        self.register_buffer("logamp_mean", torch.zeros(()))
        self.register_buffer("logamp_std", torch.ones(()))

        self.cond_embed = nn.Sequential(nn.Linear(n_cond, cond_dim), nn.GELU(), nn.Linear(cond_dim, cond_dim), nn.GELU())
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

    def decode_unit(self, cond_unit: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Decode unit-range conditions and z into (unit-p-p shape (n, rows, cols, times), log p-p amplitude (n,))."""
        rows, cols, times = self.out_shape
        emb = self.cond_embed(cond_unit)
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
        return self.encoder(shape, self.cond_embed(cond_unit))

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
        if z is None:
            if seed is None:
                zt = torch.zeros(n, self.latent_dim, device=cond.device)
            else:
                gen = torch.Generator().manual_seed(int(seed))
                zt = (torch.randn(n, self.latent_dim, generator=gen) * float(temperature)).to(cond.device)
        else:
            zt = torch.as_tensor(np.asarray(z), dtype=torch.float32, device=cond.device)
            if zt.shape != (n, self.latent_dim):
                raise DataError(f"z must have shape ({n}, {self.latent_dim}), got {tuple(zt.shape)}")
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
