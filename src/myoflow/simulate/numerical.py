"""Slower, more exact MUAP model: per-fibre summation with fine sampling.

Same physics as the fast path (:mod:`~myoflow.simulate.volume_conductor`: Rosenfalck
source, generation at the innervation zone and extinction at the fibre ends, planar
skin–fat–muscle conductor of Farina & Merletti 2001, disc electrodes), computed the
expensive way:

* every fibre of the motor unit is placed individually (uniformly in the territory, up
  to a few hundred per unit), each with its own end-plate position (SD 1.5 mm) and
  tendon ends (SD 2 mm) [A]; the fast path uses 12 weighted clusters and smooth windows;
* the fibre layout is *nested* (``NumericalSetup.fibre_layout = "nested"``, the default):
  fibre k's random draws (radial and angular position in the unit disc, end-plate and
  tendon scatter) are row k of one fixed-length block of the layout stream, so a unit
  with one fibre more has the same fibres plus one, and a change of territory radius,
  depth or angle moves the same fibres continuously. The MUAP is then a deterministic
  function of the conditions that changes only by one fibre's potential (≈ 1/n of it)
  where the integer fibre count steps. ``"redraw"`` is the model before: the per-fibre
  quantities were drawn one after the other (all radii, then all angles, ...), so the
  count shifted every later draw and one fibre more re-drew the whole layout — a
  discontinuity in condition space no smooth generator can follow (kept to reproduce
  older caches and figures);
* the conductor's impulse response is tabulated finely: 0.25 mm in depth, lateral
  offset and along the fibre (fast path: 0.5–2 mm), with windows cut exactly at each
  fibre's ends (fractional end samples);
* the potential is computed at 10 240 Hz and decimated (zero-phase FIR) to the output
  rate; the fast path samples the output rate directly.

The six BioMime conditions (Ma et al., arXiv 2211.01856; ``shihan-ma/BioMime
utils/params.py`` [S], spec §5) parameterise a unit: log fibre number 1.10–6.77,
depth 7–23.1 mm (territory centre below the skin), medio-lateral angle 0–1, innervation
zone at 0.365–0.636 of the fibre length, conduction velocity 3–4.5 m/s and fibre length
0.85–1.15 × rest. BioMime outputs 96 samples at 2048 Hz on 10 × 32 electrodes around
the forearm; our planar, CPU-feasible analogue is a 10 (along the fibres) × 8 (across)
grid, 5 mm inter-electrode distance, 1 mm electrode radius, 96 samples at 2048 Hz with
5 ms before the discharge [A]. Forearm-like tissue: fat 3 mm, skin 1 mm [A]; rest fibre
length 70 mm (forearm flexor fibres ≈60–80 mm, Lieber et al. 1992 [R]); the angle maps
linearly to a medio-lateral position of ±20 mm about the grid centre [A].
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np
import pandas as pd
from scipy import signal

from ..errors import ConfigError, DataError
from .volume_conductor import (
    FIBRE_DIAMETER_M,
    MU_FIBRE_DENSITY_PER_MM2,
    SIGMA_INTRACELLULAR,
    ElectrodeArray,
    KernelTable,
    MotorUnitGeometry,
    Tissue,
    _interp_index,
    _TableCache,
    intracellular_ap_derivative,
    kernel_table,
)

__all__ = [
    "MUAP_CONDITIONS",
    "MUAP_CONDITION_RANGES",
    "FIBRE_LAYOUTS",
    "NumericalSetup",
    "DEFAULT_SETUP",
    "validate_conditions",
    "normalise_conditions",
    "denormalise_conditions",
    "conditions_to_geometry",
    "numerical_muap",
    "numerical_muaps",
]

log = logging.getLogger(__name__)

#: The six BioMime conditions, in BioMime's order.
MUAP_CONDITIONS: tuple[str, ...] = (
    "fibre_number_log", "depth_mm", "angle", "iz_position", "cv_m_s", "fibre_length_scale",
)
#: name → (low, high) of each condition (BioMime ``utils/params.py`` [S], spec §5).
MUAP_CONDITION_RANGES: dict[str, tuple[float, float]] = {
    "fibre_number_log": (1.10, 6.77),
    "depth_mm": (7.0, 23.1),
    "angle": (0.0, 1.0),
    "iz_position": (0.365, 0.636),
    "cv_m_s": (3.0, 4.5),
    "fibre_length_scale": (0.85, 1.15),
}

#: fibre-layout schemes of :class:`NumericalSetup` (see the module docstring)
FIBRE_LAYOUTS: tuple[str, ...] = ("nested", "redraw")


@dataclass(frozen=True)
class NumericalSetup:
    """Fixed parts of the numerical model (see module docstring for sources)."""

    tissue: Tissue = field(default_factory=lambda: Tissue(fat_mm=3.0, skin_mm=1.0))
    rest_fibre_length_mm: float = 70.0
    rows: int = 10
    cols: int = 8
    ied_mm: float = 5.0
    radius_mm: float = 1.0
    fs: float = 2048.0
    n_samples: int = 96
    pre_ms: float = 5.0
    fs_internal: float = 10240.0
    dx_mm: float = 0.25
    lateral_span_mm: float = 40.0
    iz_spread_mm: float = 1.5
    end_spread_mm: float = 2.0
    max_fibres: int = 1000
    #: ``"nested"``: fibre k's draws are row k of a fixed block (one fibre more adds one fibre);
    #: ``"redraw"``: the older layout, re-drawn whenever the integer fibre count changes
    fibre_layout: str = "nested"

    def __post_init__(self) -> None:
        if self.fibre_layout not in FIBRE_LAYOUTS:
            raise ConfigError(f"NumericalSetup.fibre_layout must be one of {FIBRE_LAYOUTS}, "
                              f"got {self.fibre_layout!r}")
        if self.max_fibres < 1:
            raise ConfigError(f"NumericalSetup.max_fibres must be >= 1, got {self.max_fibres}")

    def electrodes(self) -> ElectrodeArray:
        return ElectrodeArray.grid(self.rows, self.cols, self.ied_mm, radius_mm=self.radius_mm)


DEFAULT_SETUP = NumericalSetup()


def _as_matrix(conditions) -> np.ndarray:
    if isinstance(conditions, pd.DataFrame):
        missing = [c for c in MUAP_CONDITIONS if c not in conditions.columns]
        if missing:
            raise DataError(f"conditions table lacks column(s) {missing}; expected {list(MUAP_CONDITIONS)}")
        return conditions[list(MUAP_CONDITIONS)].to_numpy(dtype=float)
    if isinstance(conditions, Mapping) or isinstance(conditions, pd.Series):
        missing = [c for c in MUAP_CONDITIONS if c not in conditions]
        if missing:
            raise DataError(f"conditions lack {missing}; expected {list(MUAP_CONDITIONS)}")
        return np.array([[float(conditions[c]) for c in MUAP_CONDITIONS]])
    a = np.asarray(conditions, dtype=float)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2 or a.shape[1] != len(MUAP_CONDITIONS):
        raise DataError(f"conditions must have {len(MUAP_CONDITIONS)} columns {list(MUAP_CONDITIONS)}, got shape {a.shape}")
    return a


def validate_conditions(conditions, *, tol: float = 1e-9) -> np.ndarray:
    """Check conditions against :data:`MUAP_CONDITION_RANGES`; return them as (n, 6).

    Raises
    ------
    DataError
        naming the first out-of-range (or non-finite) condition, its value, row and range.
    """
    a = _as_matrix(conditions)
    for j, name in enumerate(MUAP_CONDITIONS):
        lo, hi = MUAP_CONDITION_RANGES[name]
        col = a[:, j]
        bad = np.flatnonzero(~np.isfinite(col) | (col < lo - tol) | (col > hi + tol))
        if bad.size:
            i = int(bad[0])
            raise DataError(
                f"MUAP condition {name!r} = {col[i]:.6g} (row {i}) is outside its range [{lo}, {hi}]"
                + (f" ({bad.size} row(s) out of range)" if bad.size > 1 else "")
            )
    return a


def normalise_conditions(conditions) -> np.ndarray:
    """Map conditions linearly to [0.5, 1] as BioMime does (``utils/params.py``), (n, 6)."""
    a = validate_conditions(conditions)
    lo = np.array([MUAP_CONDITION_RANGES[c][0] for c in MUAP_CONDITIONS])
    hi = np.array([MUAP_CONDITION_RANGES[c][1] for c in MUAP_CONDITIONS])
    return 0.5 + 0.5 * (a - lo) / (hi - lo)


def denormalise_conditions(unit: np.ndarray) -> np.ndarray:
    """Inverse of :func:`normalise_conditions` (values in [0.5, 1] → physical), (n, 6)."""
    u = np.atleast_2d(np.asarray(unit, dtype=float))
    lo = np.array([MUAP_CONDITION_RANGES[c][0] for c in MUAP_CONDITIONS])
    hi = np.array([MUAP_CONDITION_RANGES[c][1] for c in MUAP_CONDITIONS])
    return lo + (u - 0.5) / 0.5 * (hi - lo)


def conditions_to_geometry(conditions, setup: NumericalSetup = DEFAULT_SETUP) -> MotorUnitGeometry:
    """Motor-unit geometry (for the fast path too) of validated conditions.

    The grid is centred over the middle of the fibres (x = 0); the IZ sits at
    ``−L/2 + iz_position·L``; depth is converted to depth below the muscle surface.
    """
    a = validate_conditions(conditions)
    n_f = np.exp(a[:, 0])
    length = setup.rest_fibre_length_mm * a[:, 5]
    return MotorUnitGeometry(
        depth_mm=np.maximum(a[:, 1] - setup.tissue.fat_mm - setup.tissue.skin_mm, 0.0),
        y_mm=(a[:, 2] - 0.5) * setup.lateral_span_mm,
        iz_mm=-length / 2 + a[:, 3] * length,
        fibre_length_mm=length,
        iz_fraction=a[:, 3],
        cv_m_s=a[:, 4],
        n_fibres=np.maximum(np.round(n_f), 1.0),
        iz_spread_mm=setup.iz_spread_mm,
        end_spread_mm=setup.end_spread_mm,
    )


#: Fine tables are large (tens of MB each): keep few; cleared by ``clear_cache()`` too.
_TABLES = _TableCache(4)


def _fine_table(setup: NumericalSetup, radius_mm: float, max_depth: float, max_lat: float, span: float,
                max_electrode_y: float) -> KernelTable:
    # One table covers every admissible condition (so batches never rebuild it).
    r_max = np.sqrt(np.exp(MUAP_CONDITION_RANGES["fibre_number_log"][1]) / (np.pi * MU_FIBRE_DENSITY_PER_MM2))
    d_cov = MUAP_CONDITION_RANGES["depth_mm"][1] - setup.tissue.fat_mm - setup.tissue.skin_mm + r_max
    l_cov = setup.lateral_span_mm / 2 + max_electrode_y + r_max
    dmax = float(np.ceil((max(max_depth, d_cov) + 1) / 4) * 4)
    lmax = float(np.ceil((max(max_lat, l_cov) + 1) / 8) * 8)
    half_len = setup.rest_fibre_length_mm * MUAP_CONDITION_RANGES["fibre_length_scale"][1]
    n_x = 512
    while n_x * setup.dx_mm / 2 < max(span, 1.5 * half_len + setup.rows * setup.ied_mm / 2):
        n_x *= 2
    key = (setup.tissue.key(), round(radius_mm, 4), dmax, lmax, setup.dx_mm, n_x)

    def build() -> KernelTable:
        depths = np.arange(0.0, dmax + 1e-9, 0.25)
        lats = np.concatenate([np.arange(0.0, 16.0, 0.25), np.arange(16.0, lmax + 0.5 + 1e-9, 0.5)])
        return kernel_table(setup.tissue, radius_mm, depths, lats, dx_mm=setup.dx_mm, n_x=n_x)

    return _TABLES.get(key, build)


def _fibres(geom: MotorUnitGeometry, i: int, rng: np.random.Generator, max_fibres: int,
            layout: str = "nested"):
    """Per-fibre depth, lateral position, IZ, left/right lengths and weight of unit i.

    ``layout="nested"``: fibre k uses row k of a (max_fibres, 5) block of draws, whatever
    the unit's fibre count, so the layout of n fibres is that of n − 1 plus one fibre;
    ``"redraw"``: the older scheme (one draw per quantity for the n fibres in turn).
    """
    n_true = int(geom.n_fibres[i])
    n = min(n_true, max_fibres)
    w = n_true / n
    if layout == "nested":
        # Draw the full block even for small units: the block's row k must not depend on n.
        u = rng.random((max_fibres, 2))[:n]
        z = rng.standard_normal((max_fibres, 3))[:n]
        u_r, th = u[:, 0], 2 * np.pi * u[:, 1]
        z_iz, z_l, z_r = z[:, 0], z[:, 1], z[:, 2]
    else:
        u_r = rng.random(n)
        th = rng.uniform(0, 2 * np.pi, n)
        z_iz, z_l, z_r = rng.standard_normal(n), rng.standard_normal(n), rng.standard_normal(n)
    r = geom.territory_radius_mm[i] * np.sqrt(u_r)
    depth = np.abs(geom.depth_mm[i] + r * np.sin(th))  # reflect at the muscle surface
    y = geom.y_mm[i] + r * np.cos(th)
    iz = geom.iz_mm[i] + geom.iz_spread_mm[i] * z_iz
    ll = np.maximum(geom.l_left_mm[i] + geom.end_spread_mm[i] * z_l, 1.0)
    lr = np.maximum(geom.l_right_mm[i] + geom.end_spread_mm[i] * z_r, 1.0)
    return depth, y, iz, ll, lr, w


def _unit_potential(geom: MotorUnitGeometry, i: int, electrodes: ElectrodeArray, setup: NumericalSetup,
                    rng: np.random.Generator, fs: float, n_samples: int, pre_ms: float) -> np.ndarray:
    dx = setup.dx_mm
    depth, y, iz, ll, lr, w = _fibres(geom, i, rng, setup.max_fibres, setup.fibre_layout)
    pos = electrodes.positions_mm
    y_cols, e_col = np.unique(np.round(pos[:, 1], 6), return_inverse=True)
    rel = pos[None, :, 0] - iz[:, None]  # (F, E) electrode minus fibre IZ, along the fibres
    m_max = int(np.ceil(max(ll.max(), lr.max()) / dx)) + 2
    zm = np.arange(m_max + 1) * dx  # distance from the IZ, mm
    dlat = np.abs(y_cols[None, :] - y[:, None])  # (F, C)
    span = float(np.abs(rel).max() + zm[-1] + 4 * dx)
    tab = _fine_table(setup, electrodes.radius_mm, float(depth.max()), float(dlat.max()), span,
                      float(np.abs(pos[:, 1]).max()))
    centre = tab.n_x // 2
    lo = max(centre + int(np.floor((rel.min() - zm[-1]) / dx)) - 2, 0)
    hi = min(centre + int(np.ceil((rel.max() + zm[-1]) / dx)) + 3, tab.n_x)
    vals = tab.values[:, :, lo:hi]
    c0 = centre - lo
    n_k = hi - lo
    # Exact windows per fibre: weight 1 up to the fibre's last full sample K, a fraction α at
    # K, 0 beyond; half weight at the IZ sample (m = 0), which both halves share.
    k_l = np.floor(ll / dx + 0.5).astype(np.int64)
    a_l = ll / dx + 0.5 - k_l
    k_r = np.floor(lr / dx + 0.5).astype(np.int64)
    a_r = lr / dx + 0.5 - k_r
    n_m = zm.size
    # Kernel columns of every fibre (bilinear in depth and lateral offset).
    iy, wy = _interp_index(tab.depths, depth)
    il, wl = _interp_index(tab.laterals, dlat)  # (F, C)
    iy, wy = iy[:, None], wy[:, None, None]
    wl = wl[:, :, None]
    col = ((1 - wy) * ((1 - wl) * vals[iy, il] + wl * vals[iy, il + 1])
           + wy * ((1 - wl) * vals[iy + 1, il] + wl * vals[iy + 1, il + 1]))  # (F, C, n_k)
    d = np.zeros((pos.shape[0], n_m))
    xe = pos[:, 0] / dx
    phase = np.round(xe - np.floor(xe + 1e-9), 6) % 1.0
    for ph in np.unique(phase):
        sel_e = np.flatnonzero(phase == ph)
        k_e = np.rint(xe[sel_e] - ph).astype(np.int64)
        # x/dx = k_e + m + j_f + a_f with a common fractional part a_f per fibre.
        u = -iz / dx + ph
        j_f = np.floor(u).astype(np.int64)
        a_f = (u - j_f)[:, None, None]
        t = np.arange(k_e.min() - n_m, k_e.max() + n_m + 1)  # common index range
        n_idx = t[None, :] + j_f[:, None] + c0  # (F, n_t) index into col
        ok0 = (n_idx >= 0) & (n_idx < n_k)
        ok1 = (n_idx + 1 >= 0) & (n_idx + 1 < n_k)
        fi = np.arange(col.shape[0])[:, None]
        y0 = np.where(ok0[:, None, :], col[fi[:, :, None], np.arange(y_cols.size)[None, :, None],
                                            np.clip(n_idx, 0, n_k - 1)[:, None, :]], 0.0)
        y1 = np.where(ok1[:, None, :], col[fi[:, :, None], np.arange(y_cols.size)[None, :, None],
                                            np.clip(n_idx + 1, 0, n_k - 1)[:, None, :]], 0.0)
        yv = (1 - a_f) * y0 + a_f * y1  # (F, C, n_t): G' at x/dx = t + j_f + a_f
        ce = e_col[sel_e]
        for sign, k_f, a_end, wgt in ((+1, k_l, a_l, +1.0), (-1, k_r, a_r, -1.0)):
            order = np.argsort(-k_f, kind="stable")
            cum = np.cumsum(yv[order], axis=0)  # (F, C, n_t)
            m = np.arange(n_m)
            n_long = (k_f[None, :] > m[:, None]).sum(1)  # fibres with full weight at m
            tt = k_e[:, None] + sign * m[None, :] - t[0]  # (E_sel, n_m)
            full = np.where(n_long[None, :] > 0, cum[np.maximum(n_long - 1, 0)[None, :], ce[:, None], tt], 0.0)
            # the fractional end sample of each fibre
            part = np.zeros_like(full)
            keep = np.flatnonzero(k_f < n_m)
            if keep.size:
                mm = k_f[keep]
                vals_end = yv[keep[:, None], ce[None, :], (k_e[None, :] + sign * mm[:, None] - t[0])]  # (K, E_sel)
                np.add.at(part.T, (mm,), (a_end[keep, None] * vals_end))
            contrib = full + part
            contrib[:, 0] *= 0.5
            d[sel_e] += wgt * contrib
    d *= w
    # C(s) = dx Σ_m Vm'(s − m dx) D(m): a convolution on the s = m·dx grid.
    vm = intracellular_ap_derivative(np.arange(0.0, 24.0, dx))
    conv = signal.fftconvolve(d, vm[None, :], axes=1) * dx  # (E, M + len(vm) − 1)
    s_grid = np.arange(conv.shape[1]) * dx
    factor = max(1, int(np.ceil(setup.fs_internal / fs - 1e-9)))  # compute at >= fs_internal
    fs_i = factor * fs
    n_i = n_samples * factor + 64 * factor  # margin for the decimation filter
    t = np.arange(n_i) / fs_i - pre_ms * 1e-3 - 32 * factor / fs_i
    s = geom.cv_m_s[i] * 1e3 * t
    out = np.empty((pos.shape[0], n_i))
    for e in range(pos.shape[0]):
        out[e] = np.interp(s, s_grid, conv[e], left=0.0, right=0.0)
    a_scale = SIGMA_INTRACELLULAR * np.pi * FIBRE_DIAMETER_M ** 2 / 4.0
    out *= a_scale
    if factor > 1:
        out = signal.decimate(out, factor, ftype="fir", axis=1, zero_phase=True)
    return out[:, 32: 32 + n_samples]


def numerical_muap(
    conditions,
    electrodes: ElectrodeArray | None = None,
    fs: float | None = None,
    rng: np.random.Generator | None = None,
    *,
    setup: NumericalSetup = DEFAULT_SETUP,
) -> np.ndarray:
    """One MUAP from the numerical model.

    Parameters
    ----------
    conditions : mapping name → value, or array (6,) in :data:`MUAP_CONDITIONS` order.
    electrodes : defaults to the setup's 10 × 8 monopolar grid (rows along the fibres).
    fs : output rate (default 2048 Hz); the window has ``setup.n_samples`` samples with
        ``setup.pre_ms`` before the discharge.
    rng : places the fibres; ``None`` uses a fixed layout stream (``default_rng(0)`` for
        every unit) so that the MUAP is a deterministic function of the conditions; with
        the default ``setup.fibre_layout = "nested"`` it is also continuous in them except
        for one fibre's potential where the integer fibre count steps.

    Returns
    -------
    array (n_channels, n_samples), volts (row-major grid channels).
    """
    a = validate_conditions(conditions)
    if a.shape[0] != 1:
        raise DataError(f"numerical_muap takes one set of conditions, got {a.shape[0]}; use numerical_muaps")
    return numerical_muaps(a, electrodes, fs, rng, setup=setup)[0]


def numerical_muaps(
    conditions,
    electrodes: ElectrodeArray | None = None,
    fs: float | None = None,
    rng: np.random.Generator | None = None,
    *,
    setup: NumericalSetup = DEFAULT_SETUP,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Batched :func:`numerical_muap` over a conditions table (DataFrame or (n, 6) array).

    Returns
    -------
    array (n, n_channels, n_samples), float32 volts. ``progress(done, total)`` is called
    after each MUAP.
    """
    a = validate_conditions(conditions)
    electrodes = electrodes or setup.electrodes()
    fs = float(fs or setup.fs)
    geom = conditions_to_geometry(a, setup)
    m = electrodes.montage_matrix()
    out = np.empty((a.shape[0], electrodes.n_channels, setup.n_samples), dtype=np.float32)
    for i in range(a.shape[0]):
        r = rng if rng is not None else np.random.default_rng(0)
        mono = _unit_potential(geom, i, electrodes, setup, r, fs, setup.n_samples, setup.pre_ms)
        out[i] = m @ mono if electrodes.montage != "monopolar" else mono
        if progress is not None:
            progress(i + 1, a.shape[0])
    return out
