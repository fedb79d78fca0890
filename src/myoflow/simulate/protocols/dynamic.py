"""Dynamic-movement sEMG: MUAPs that change with the joint angle, from a trained generator.

Seed 003 / NeuroMotion (Ma et al., PLoS Comput Biol 20:e1012257, 2024; spec §5): during a
movement the muscle shortens and lengthens, so each motor unit's volume-conductor
conditions change in time, and a numerical model is far too slow to recompute its
MUAPs every few tens of ms. A trained :class:`~myoflow.models.muap_generator.MUAPGenerator`
is fast enough. The chain is:

1. **Joint angle** θ(t) (deg): a sinusoidal flexion–extension, a ramp, or a
   smooth random trajectory (or any array the caller passes).
2. **Fibre length** λ(t) (× rest): linear in θ over the movement range, from
   ``length_range[1]`` at the extended end to ``length_range[0]`` at the flexed end
   (an elbow flexor shortens with flexion; NeuroMotion takes muscle lengths from
   the OpenSim ARMS model [S], here a linear map [A]).
3. **Per-unit conditions** at the update rate (NeuroMotion: 5 Hz [S]; default 10 Hz):
   ``fibre_length_scale = λ``; at constant fibre volume the cross-section scales
   as 1/λ, so distances inside the muscle scale as λ^(−1/2): ``depth = skin_fat +
   (depth₀ − skin_fat)·λ^(−1/2)`` [A]; conduction velocity is proportional to fibre
   diameter (Håkansson 1956 [R]; Blijham et al. 2006, J Appl Physiol 100:1837 [R]),
   hence ``cv = cv₀·λ^(−1/2)`` [A]. Fibre number, medio-lateral position and
   innervation-zone fraction are fixed per unit.
4. **MUAPs** from the generator for every unit and update frame (batched), linearly
   interpolated between frames at each discharge.
5. **Spike trains** from a Fuglevand pool (:class:`~myoflow.simulate.motor_units.MotorUnitPool`,
   spec §1.2) driven by the excitation; **EMG** = Σ over discharges of the unit's
   current MUAP; optional measurement noise (:func:`~myoflow.simulate.noise.add_noise`).

Static per-unit conditions [A]: ln(fibre number) from the pool's fibre counts
(∝ twitch force, Fuglevand 1993), clipped to the generator's range; depth₀ uniform
in 9–20 mm; medio-lateral position uniform in 0.05–0.95; IZ fraction N(0.5, 0.03);
cv₀ from the pool (3.3–4.1 m/s across the recruitment order). With λ in
0.85–1.15 these keep every condition inside the declared ranges.

``myoflow simulate dynamic --generator RUN_DIR_OR_MODEL --out DIR`` writes one Trial
per subject (streams ``emg``, ``angle``, ``fibre_length``) as a standard dataset folder.
"""
from __future__ import annotations

import logging
from pathlib import Path
import click
import numpy as np
import pandas as pd

from ...containers import Recording, Trial
from ...errors import ConfigError, DataError

__all__ = ["angle_trajectory", "fibre_length_from_angle", "dynamic_conditions", "simulate_dynamic",
           "DynamicUnits", "draw_units", "cli_command"]

log = logging.getLogger(__name__)

#: Skin + fat above the muscle in the numerical model the generator mimics (mm; numerical.py).
SKIN_FAT_MM = 4.0


def angle_trajectory(kind: str, duration_s: float, fs: float, *, angle_range_deg: tuple[float, float] = (30.0, 120.0),
                     cycle_hz: float = 0.5, rng: np.random.Generator | None = None) -> np.ndarray:
    """A joint-angle time course in degrees, shape (round(duration·fs),).

    ``"sine"``: flexion–extension cycles at ``cycle_hz`` starting extended;
    ``"ramp"``: one slow flexion from the low to the high angle;
    ``"random"``: smooth random movement (low-passed noise, cut-off ``cycle_hz``), needs ``rng``;
    ``"static"``: the middle of the range.
    """
    n = int(round(duration_s * fs))
    if n < 2:
        raise ConfigError(f"duration {duration_s} s at {fs} Hz gives fewer than 2 samples")
    lo, hi = map(float, angle_range_deg)
    if not hi > lo:
        raise ConfigError(f"angle range must be increasing, got {angle_range_deg}")
    t = np.arange(n) / fs
    if kind == "sine":
        u = 0.5 - 0.5 * np.cos(2 * np.pi * cycle_hz * t)
    elif kind == "ramp":
        u = t / t[-1]
    elif kind == "static":
        u = np.full(n, 0.5)
    elif kind == "random":
        if rng is None:
            raise ConfigError("a random trajectory needs an rng")
        from scipy import signal

        w = rng.standard_normal(n + int(2 * fs))
        sos = signal.butter(2, min(cycle_hz, 0.45 * fs), fs=fs, output="sos")
        w = signal.sosfiltfilt(sos, w)[int(fs): int(fs) + n]
        u = (w - w.min()) / max(np.ptp(w), 1e-12)
    else:
        raise ConfigError(f"unknown movement {kind!r}; expected sine, ramp, random or static")
    return lo + u * (hi - lo)


def fibre_length_from_angle(angle_deg: np.ndarray, angle_range_deg: tuple[float, float],
                            length_range: tuple[float, float] = (0.85, 1.15)) -> np.ndarray:
    """Fibre length (× rest) of an elbow-flexor-like muscle: longest when extended, linear in the angle [A]."""
    lo, hi = map(float, angle_range_deg)
    u = np.clip((np.asarray(angle_deg, float) - lo) / (hi - lo), 0.0, 1.0)
    return length_range[1] - u * (length_range[1] - length_range[0])


class DynamicUnits:
    """Static per-unit conditions and the motor-unit pool of one simulated muscle."""

    def __init__(self, pool, log_fibres: np.ndarray, depth0_mm: np.ndarray, angle: np.ndarray, iz: np.ndarray,
                 cv0: np.ndarray):
        self.pool = pool
        self.log_fibres, self.depth0_mm, self.angle, self.iz, self.cv0 = log_fibres, depth0_mm, angle, iz, cv0

    @property
    def n_units(self) -> int:
        return int(self.log_fibres.size)

    def table(self) -> pd.DataFrame:
        return pd.DataFrame({"unit": np.arange(self.n_units), "fibre_number_log": self.log_fibres,
                             "depth0_mm": self.depth0_mm, "angle": self.angle, "iz_position": self.iz,
                             "cv0_m_s": self.cv0, "threshold": self.pool.thresholds})


def draw_units(n_units: int, rng: np.random.Generator, ranges: dict[str, tuple[float, float]],
               fibres_per_unit: float = 250.0) -> DynamicUnits:
    """A Fuglevand pool and its units' static conditions (see the module docstring)."""
    from ..motor_units import MotorUnitPool

    if n_units < 1:
        raise ConfigError(f"n_units must be >= 1, got {n_units}")
    pool = MotorUnitPool.create(n_units, rng, cv_range=(3.3, 4.1), cv_jitter=0.05,
                                fibres_total=fibres_per_unit * n_units)
    lo, hi = ranges["fibre_number_log"]
    log_f = np.clip(np.log(pool.n_fibres), lo, hi)
    depth0 = rng.uniform(9.0, 20.0, n_units)
    angle = rng.uniform(0.05, 0.95, n_units)
    iz = np.clip(rng.normal(0.5, 0.03, n_units), 0.40, 0.60)
    cv0 = np.clip(pool.cv, 3.3, 4.1)
    return DynamicUnits(pool, log_f, depth0, angle, iz, cv0)


def dynamic_conditions(units: DynamicUnits, length: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """Conditions (n_units, n_frames, 6) for fibre lengths ``length`` (n_frames,), in ``names`` order."""
    lam = np.asarray(length, float)[None, :]
    shrink = lam ** -0.5
    cols = {
        "fibre_number_log": np.broadcast_to(units.log_fibres[:, None], (units.n_units, lam.shape[1])),
        "depth_mm": SKIN_FAT_MM + (units.depth0_mm[:, None] - SKIN_FAT_MM) * shrink,
        "angle": np.broadcast_to(units.angle[:, None], (units.n_units, lam.shape[1])),
        "iz_position": np.broadcast_to(units.iz[:, None], (units.n_units, lam.shape[1])),
        "cv_m_s": units.cv0[:, None] * shrink,
        "fibre_length_scale": np.broadcast_to(lam, (units.n_units, lam.shape[1])),
    }
    missing = [n for n in names if n not in cols]
    if missing:
        raise DataError(f"the generator expects condition(s) {missing} that the dynamic protocol does not model")
    return np.stack([cols[n] for n in names], axis=-1)


def _scatter_weighted(out: np.ndarray, idx: np.ndarray, waves: np.ndarray) -> None:
    """out[:, i:i+L] += waves[k] for every spike k at sample idx[k] (non-overlapping groups, in place).

    ``out`` is (n_samples + L, n_channels) (time-major, padded), ``waves`` (n_spikes, L, n_channels).
    """
    from numpy.lib.stride_tricks import as_strided

    L = waves.shape[1]
    n = out.shape[0] - L
    win = as_strided(out, shape=(n, L, out.shape[1]), strides=(out.strides[0], out.strides[0], out.strides[1]),
                     writeable=True)
    g = 1
    while g < idx.size and np.min(idx[g:] - idx[:-g]) < L:
        g += 1
    for r in range(g):
        win[idx[r::g]] += waves[r::g]


def simulate_dynamic(generator, angle_deg: np.ndarray, fs_angle: float, *, angle_range_deg: tuple[float, float],
                     n_units: int = 100, excitation: float | np.ndarray = 0.3, update_hz: float = 10.0,
                     length_range: tuple[float, float] = (0.85, 1.15), seed: int = 0, noise: bool = True,
                     subject: str = "D001", units: DynamicUnits | None = None) -> Trial:
    """sEMG of a dynamic contraction whose MUAPs follow the joint angle.

    Parameters
    ----------
    generator : MUAPGenerator
        Trained generator (e.g. from :func:`myoflow.models.muap_generator.load_generator`);
        output fs and grid are its own.
    angle_deg : array (n,)
        Joint angle, degrees, sampled at ``fs_angle``.
    fs_angle : float
        Rate of ``angle_deg`` (and of ``excitation`` if it is an array), Hz.
    angle_range_deg : (lo, hi)
        Angles mapped to the longest / shortest fibre length.
    n_units : int
        Motor units in the pool.
    excitation : float or array (n,)
        Excitation, fraction of maximal (0–1).
    update_hz : float
        Rate at which MUAPs are regenerated (NeuroMotion: 5 Hz).
    length_range : (min, max)
        Fibre length (× rest) at the flexed / extended ends; within 0.85–1.15.
    seed : int
        Seeds the pool, unit placement, spike trains and noise.
    noise : bool
        Add gel-electrode measurement noise (thermal, powerline) to the EMG.
    units : DynamicUnits, optional
        Reuse a pool and its static conditions (e.g. to compare two trajectories).

    Returns
    -------
    Trial
        ``emg``: (rows·cols, n_emg) V at the generator's fs, grid layout, events
        ``mu_firing`` (with ``unit``); ``angle`` (deg) and ``fibre_length`` (× rest) at ``fs_angle``.
        ``meta["truth"]`` holds the per-unit static conditions and settings.
    """
    import torch  # noqa: F401  (the generator is a torch module)

    ang = np.asarray(angle_deg, dtype=float)
    if ang.ndim != 1 or ang.size < 2 or not np.isfinite(ang).all():
        raise DataError(f"angle trajectory must be a finite 1-D array with >= 2 samples, got shape {ang.shape}")
    if not (0.85 - 1e-9 <= length_range[0] < length_range[1] <= 1.15 + 1e-9):
        raise ConfigError(f"length_range must lie within the generator's 0.85–1.15, got {length_range}")
    if update_hz <= 0:
        raise ConfigError(f"update_hz must be > 0, got {update_hz}")
    rng = np.random.default_rng(seed)
    fs = float(generator.fs)
    rows, cols, L = generator.out_shape
    duration = ang.size / fs_angle
    n_emg = int(round(duration * fs))
    if units is None:
        units = draw_units(n_units, rng, generator.condition_ranges)
    # fibre length at the angle rate and at the MUAP update frames
    lam = fibre_length_from_angle(ang, angle_range_deg, length_range)
    t_ang = np.arange(ang.size) / fs_angle
    n_frames = int(np.floor(duration * update_hz)) + 2
    t_frames = np.arange(n_frames) / update_hz
    lam_frames = np.interp(t_frames, t_ang, lam)
    cond = dynamic_conditions(units, lam_frames, generator.condition_names)  # (U, F, 6)
    # excitation at the EMG rate → spike trains
    if np.ndim(excitation) == 0:
        exc = np.full(n_emg, float(excitation))
    else:
        e = np.asarray(excitation, float)
        if e.shape != ang.shape:
            raise DataError(f"excitation array must match the angle trajectory's shape {ang.shape}, got {e.shape}")
        exc = np.interp(np.arange(n_emg) / fs, t_ang, e)
    # Spike trains over a 1 s lead-in at the initial excitation, then cut: otherwise every
    # unit recruited at t = 0 would fire its first discharge at exactly t = 0.
    lead = int(round(1.0 * fs))
    full = units.pool.spike_trains(np.concatenate([np.full(lead, exc[0]), exc]), fs, rng)
    spikes = [s[s >= lead] - lead for s in full]
    out = np.zeros((n_emg + L, rows * cols))
    ev = []
    for u, idx in enumerate(spikes):
        idx = np.asarray(idx, np.int64)
        if idx.size == 0:
            continue
        muaps = generator.generate(cond[u])  # (F, rows, cols, L)
        m = muaps.reshape(n_frames, rows * cols, L).transpose(0, 2, 1)  # (F, L, C)
        pos = idx / fs * update_hz
        k = np.clip(np.floor(pos).astype(np.int64), 0, n_frames - 2)
        w = np.clip(pos - k, 0.0, 1.0)[:, None, None]
        waves = (1 - w) * m[k] + w * m[k + 1]
        _scatter_weighted(out, idx, waves)
        ev.append(pd.DataFrame({"sample": idx, "kind": "mu_firing", "unit": u}))
    emg = np.ascontiguousarray(out[:n_emg].T)
    if noise:
        from ..noise import add_noise

        emg = add_noise(emg, fs, rng, electrode="gel")
    pos_mm = (np.asarray(generator.positions_mm, float) if generator.positions_mm is not None
              else _grid_positions(rows, cols, 5.0))
    truth = {"units": units.table().to_dict(orient="list"), "update_hz": update_hz,
             "length_range": list(length_range), "angle_range_deg": list(angle_range_deg),
             "n_units": units.n_units, "n_recruited": int(sum(len(s) > 0 for s in spikes)),
             "generator": {"out_shape": list(generator.out_shape), "fs": fs}}
    meta = {"subject": subject, "session": "dynamic", "muscle": "generic", "truth": truth}
    events = pd.concat(ev, ignore_index=True) if ev else None
    emg_rec = Recording(emg, fs, [f"r{r + 1}c{c + 1}" for r in range(rows) for c in range(cols)], units="V",
                        layout=pos_mm, grid_shape=(rows, cols), events=events, meta=dict(meta))
    angle_rec = Recording(ang[None, :], fs_angle, ["angle"], units="deg", meta={"subject": subject})
    len_rec = Recording(lam[None, :], fs_angle, ["fibre_length"], units="1", meta={"subject": subject})
    return Trial({"emg": emg_rec, "angle": angle_rec, "fibre_length": len_rec}, meta=meta)


def _grid_positions(rows: int, cols: int, ied_mm: float) -> np.ndarray:
    r, c = np.divmod(np.arange(rows * cols), cols)
    return np.column_stack([r * ied_mm, c * ied_mm]).astype(float)


def _plot(trial: Trial, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..._atomic import atomic_path

    emg, ang = trial["emg"], trial["angle"]
    fig, axes = plt.subplots(3, 1, figsize=(9, 6), sharex=True, gridspec_kw={"height_ratios": [1, 2, 1]})
    axes[0].plot(ang.times, ang.data[0], "k")
    axes[0].set_ylabel("angle (deg)")
    mid = emg.grid_shape[1] // 2
    for r in range(0, emg.grid_shape[0], 3):
        ch = r * emg.grid_shape[1] + mid
        axes[1].plot(emg.times, emg.data[ch] * 1e3 - 0.5 * r * np.abs(emg.data).max() * 1e3 / 3, lw=0.4,
                     label=emg.ch_names[ch])
    axes[1].set_ylabel("EMG (mV, offset)")
    axes[1].legend(fontsize=7, loc="upper right")
    from scipy import signal

    sos = signal.butter(2, 4.0, fs=emg.fs, output="sos")
    rms = np.sqrt(signal.sosfiltfilt(sos, emg.data.astype(float) ** 2, axis=1).clip(0)).mean(0)
    axes[2].plot(emg.times, rms * 1e6, "tab:red")
    axes[2].set_ylabel("mean RMS (µV)")
    axes[2].set_xlabel("time (s)")
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=100, bbox_inches="tight", format="png")
    plt.close(fig)


@click.command("dynamic")
@click.option("--generator", "generator_path", type=click.Path(exists=True), required=True,
              help="Trained generator: a muap-generator run dir, an exported folder or its .safetensors.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True, help="Output dataset folder.")
@click.option("--subjects", type=click.IntRange(min=1), default=1, show_default=True,
              help="Independent simulated muscles (pools).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--duration", type=click.FloatRange(min=0.1), default=10.0, show_default=True, help="Seconds.")
@click.option("--movement", type=click.Choice(["sine", "ramp", "random", "static"]), default="sine",
              show_default=True)
@click.option("--angle-min", type=float, default=30.0, show_default=True, help="Degrees (fibres longest).")
@click.option("--angle-max", type=float, default=120.0, show_default=True, help="Degrees (fibres shortest).")
@click.option("--cycle-hz", type=click.FloatRange(min=0.01), default=0.5, show_default=True)
@click.option("--units", "n_units", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--excitation", type=click.FloatRange(0.0, 1.0), default=0.3, show_default=True)
@click.option("--update-hz", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
              help="MUAP regeneration rate.")
@click.option("--no-noise", is_flag=True, help="Clean EMG (no measurement noise).")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True,
              help="Torch threads for the generator (one is fastest on a busy machine).")
@click.option("--plots", is_flag=True, help="Save a figure per subject under OUT/plots.")
def cli_command(generator_path: str, out_dir: str, subjects: int, seed: int, duration: float, movement: str,
                angle_min: float, angle_max: float, cycle_hz: float, n_units: int, excitation: float,
                update_hz: float, no_noise: bool, threads: int, plots: bool) -> None:
    """Dynamic-movement sEMG whose MUAPs follow a joint-angle trajectory (trained generator)."""
    import time

    import torch
    from tqdm import tqdm

    torch.set_num_threads(threads)

    from ...io.dataset import write_dataset
    from ...models.muap_generator import load_generator

    gen = load_generator(generator_path)
    fs_angle = 100.0
    rows = []

    def items():
        for k in tqdm(range(subjects), desc="dynamic", unit="subject"):
            sid = f"D{k + 1:03d}"
            s_seed = int(np.random.SeedSequence([seed, k]).generate_state(1)[0])
            rng = np.random.default_rng(s_seed)
            ang = angle_trajectory(movement, duration, fs_angle, angle_range_deg=(angle_min, angle_max),
                                   cycle_hz=cycle_hz, rng=rng)
            t0 = time.perf_counter()
            trial = simulate_dynamic(gen, ang, fs_angle, angle_range_deg=(angle_min, angle_max), n_units=n_units,
                                     excitation=excitation, update_hz=update_hz, seed=s_seed, noise=not no_noise,
                                     subject=sid)
            log.info("%s: %.1f s of EMG in %.1f s", sid, duration, time.perf_counter() - t0)
            rows.append({"subject": sid, "seed": s_seed, "n_units": n_units,
                         "n_recruited": trial.meta["truth"]["n_recruited"]})
            yield f"{sid}/dynamic", trial

    info = {"protocol": "dynamic", "seed": seed, "movement": movement, "duration_s": duration,
            "angle_range_deg": [angle_min, angle_max], "cycle_hz": cycle_hz, "n_units": n_units,
            "excitation": excitation, "update_hz": update_hz, "noise": not no_noise,
            "generator": str(generator_path), "generator_config": gen.config()}
    # participants are only known after simulating, so collect the items first
    collected = list(items())
    write_dataset(Path(out_dir), collected, pd.DataFrame(rows), info)
    if plots:  # after the dataset: write_dataset refuses a non-empty foreign folder
        for stem, trial in collected:
            _plot(trial, Path(out_dir) / "plots" / f"{trial.meta['subject']}_dynamic.png")
    click.echo(f"wrote {subjects} dynamic recording(s) ({duration:g} s, {gen.out_shape[0]}x{gen.out_shape[1]} grid "
               f"at {gen.fs:g} Hz) to {out_dir}")

