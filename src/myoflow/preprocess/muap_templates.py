"""Real MUAP templates (spike-triggered averages) and MUAP shape statistics.

The ``openhdemg-otb`` recording (OTBiolab+ export shipped with openhdemg 0.1.2,
BSD-3-Clause project; 64-channel GR08MM1305 grid, 13 × 5, 8 mm IED, on vastus
lateralis, 2048 Hz) comes with the firing trains of 5 decomposed motor units.
Averaging the band-passed grid signals around each unit's discharges gives that
unit's real monopolar MUAP on the grid (spike-triggered averaging, e.g.
Farina et al. 2004, J Electromyogr Kinesiol 14:65; openhdemg's ``sta``).

:func:`shape_statistics` reduces any MUAP (real, numerical or generated) to three
numbers that can be compared across grids of different size and spacing:

* ``ptp_uv`` — peak-to-peak amplitude of the largest channel, µV;
* ``duration_ms`` — on that channel, the time between the first and last sample
  whose deviation from the baseline exceeds 20 % of the channel's peak deviation
  (baseline: median of the first and last 10 % of the window; 20 % rather than the
  clinical ~10 % because spike-triggered averages keep residual background EMG of
  a few % of the peak, which would stretch a 10 % duration to the whole window);
* ``pp_interval_ms`` — time between the negative and positive peaks of that channel
  (robust to the baseline);
* ``spread_mm`` — spatial extent of the half-maximum region: the square root of
  the skin area (channels × grid cell area) whose channel p-p is at least 50 % of
  the largest, mm; ``spread_fraction`` is the same region as a fraction of the grid.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError

__all__ = ["STAT_COLUMNS", "MuapTemplates", "real_muap_templates", "shape_statistics", "compare_shape_statistics",
           "grid_positions"]

log = logging.getLogger(__name__)

#: Columns of :func:`shape_statistics`.
STAT_COLUMNS = ("ptp_uv", "duration_ms", "pp_interval_ms", "spread_mm", "spread_fraction")


@dataclass
class MuapTemplates:
    """Spike-triggered-average MUAPs of decomposed motor units.

    Attributes
    ----------
    muaps : array (n_units, n_channels, n_times)
        Monopolar MUAP templates, volts.
    positions_mm : array (n_channels, 2)
        Electrode positions (x along the fibres, y across), mm.
    fs : float
        Sampling rate, Hz.
    n_firings : list of int
        Discharges averaged per unit.
    source : str
        File the templates come from.
    """

    muaps: np.ndarray
    positions_mm: np.ndarray
    fs: float
    n_firings: list[int] = field(default_factory=list)
    source: str = ""


def grid_positions(rows: int, cols: int, ied_mm: float) -> np.ndarray:
    """Row-major positions (mm) of a rows × cols grid, x along the rows (fibres)."""
    r, c = np.divmod(np.arange(rows * cols), cols)
    return np.column_stack([r * ied_mm, c * ied_mm]).astype(float)


def _decomposed_recording(path: Path):
    """The grid Recording with ``mu_firing`` events at ``path`` (OTB export, native file or dataset folder)."""
    from ..containers import Recording, Trial
    from ..io import native
    from ..io.dataset import is_dataset_folder, load_dataset

    def emg_of(obj):
        if isinstance(obj, Trial):
            obj = obj["emg"] if "emg" in obj else next(iter(obj.streams.values()))
        return obj if isinstance(obj, Recording) else None

    candidates = []
    if path.is_dir() and is_dataset_folder(path):
        candidates = [emg_of(obj) for _, obj in load_dataset(path)]
    elif path.suffix.lower() in (".h5", ".hdf5") and path.is_file() and native.is_native(path):
        candidates = [emg_of(native.load(path))]
    else:
        from ..io.datasets.openhdemg import load_openhdemg_otb

        trial = load_openhdemg_otb(path)
        if isinstance(trial, dict):
            trial = next(iter(trial.values()))
        return trial["emg"]
    for rec in candidates:
        if rec is not None and len(rec.events) and (rec.events["kind"] == "mu_firing").any():
            return rec
    raise DataError("no recording with motor-unit firings (events kind 'mu_firing', column 'unit')", str(path))


def real_muap_templates(path: str | Path, pre_ms: float = 20.0, post_ms: float = 30.0,
                        band_hz: tuple[float, float] = (20.0, 500.0)) -> MuapTemplates:
    """Spike-triggered averages of the decomposed units of an OTBiolab+ export.

    Parameters
    ----------
    path : path
        The ``openhdemg-otb`` folder or its ``.mat`` file; or any decomposed HD-EMG
        recording with an electrode layout and ``mu_firing`` events (column ``unit``):
        a myoflow native file or a dataset folder (``myoflow convert ... --events
        firings.csv`` with columns subject, kind=mu_firing, time_s, unit).
    pre_ms, post_ms : float
        Window around each discharge, ms.
    band_hz : (low, high)
        Zero-phase Butterworth band-pass applied before averaging (removes the
        offsets and drift the raw export carries).

    Returns
    -------
    MuapTemplates
    """
    from . import bandpass

    emg = _decomposed_recording(Path(path))
    if emg.layout is None:
        raise DataError("the recording has no electrode layout; cannot compute spatial statistics", emg.source)
    firings = emg.events[emg.events["kind"] == "mu_firing"]
    if firings.empty:
        raise DataError("no motor-unit firings (events kind 'mu_firing') to average on", emg.source)
    filt = bandpass(emg, band_hz[0], band_hz[1]).data.astype(np.float64)
    pre = int(round(pre_ms * 1e-3 * emg.fs))
    post = int(round(post_ms * 1e-3 * emg.fs))
    out, counts = [], []
    for unit, grp in firings.groupby("unit", sort=True):
        s = grp["sample"].to_numpy()
        s = s[(s >= pre) & (s + post <= emg.n_samples)]
        if s.size < 10:
            log.warning("unit %s has only %d usable discharges; skipped", unit, s.size)
            continue
        idx = s[:, None] + np.arange(-pre, post)[None, :]
        out.append(filt[:, idx].mean(axis=1))
        counts.append(int(s.size))
    if not out:
        raise DataError("no unit with at least 10 discharges inside the recording", emg.source)
    return MuapTemplates(muaps=np.stack(out), positions_mm=np.asarray(emg.layout, float), fs=emg.fs,
                         n_firings=counts, source=emg.source)


def _cell_area(positions_mm: np.ndarray) -> float:
    def pitch(v: np.ndarray) -> float:
        d = np.diff(np.unique(np.round(v, 6)))
        return float(d.min()) if d.size else 1.0

    return pitch(positions_mm[:, 0]) * pitch(positions_mm[:, 1])


def shape_statistics(muaps: np.ndarray, positions_mm: np.ndarray, fs: float) -> pd.DataFrame:
    """Peak-to-peak (µV), duration (ms) and spatial spread (mm) of MUAPs (see module docstring).

    Parameters
    ----------
    muaps : array (n, n_channels, n_times) or (n, rows, cols, n_times)
        Monopolar MUAPs in volts (row-major grid channels for the 4-D form).
    positions_mm : array (n_channels, 2)
        Electrode positions, mm.
    fs : float
        Sampling rate, Hz.

    Returns
    -------
    DataFrame with columns :data:`STAT_COLUMNS` (one row per MUAP).
    """
    x = np.asarray(muaps, dtype=np.float64)
    if x.ndim == 4:
        x = x.reshape(x.shape[0], -1, x.shape[-1])
    if x.ndim != 3:
        raise DataError(f"MUAPs must be (n, channels, times) or (n, rows, cols, times), got {np.shape(muaps)}")
    pos = np.asarray(positions_mm, dtype=float)
    if pos.shape != (x.shape[1], 2):
        raise DataError(f"positions_mm must be ({x.shape[1]}, 2), got {pos.shape}")
    cell = _cell_area(pos)
    n_t = x.shape[-1]
    edge = max(1, n_t // 10)
    rows = []
    for m in x:
        pp = m.max(axis=1) - m.min(axis=1)
        k = int(np.argmax(pp))
        ch = m[k]
        base = np.median(np.concatenate([ch[:edge], ch[-edge:]]))
        dev = np.abs(ch - base)
        above = np.flatnonzero(dev >= 0.2 * dev.max()) if dev.max() > 0 else np.array([0])
        n_half = int((pp >= 0.5 * pp[k]).sum())
        rows.append({
            "ptp_uv": float(pp[k] * 1e6),
            "duration_ms": float((above[-1] - above[0] + 1) / fs * 1e3),
            "pp_interval_ms": float(abs(int(np.argmax(ch)) - int(np.argmin(ch))) / fs * 1e3),
            "spread_mm": float(np.sqrt(n_half * cell)),
            "spread_fraction": n_half / x.shape[1],
        })
    return pd.DataFrame(rows, columns=list(STAT_COLUMNS))


def compare_shape_statistics(stats: dict[str, pd.DataFrame], reference: str = "real") -> dict[str, dict]:
    """Median, quartiles and distance to the reference set for each statistic and source.

    ``relative_median_diff`` = (median_source − median_reference) / median_reference;
    ``within_reference_range`` = fraction of the source's MUAPs whose statistic lies
    inside the reference set's [min, max].
    """
    if reference not in stats:
        raise DataError(f"reference set {reference!r} missing; have {sorted(stats)}")
    ref = stats[reference]
    out: dict[str, dict] = {}
    for name, df in stats.items():
        entry: dict[str, dict] = {"n": int(len(df))}
        for col in STAT_COLUMNS:
            v = df[col].to_numpy(dtype=float)
            r = ref[col].to_numpy(dtype=float)
            med_r = float(np.median(r))
            entry[col] = {
                "median": float(np.median(v)), "q25": float(np.percentile(v, 25)), "q75": float(np.percentile(v, 75)),
                "relative_median_diff": float((np.median(v) - med_r) / med_r) if med_r else None,
                "within_reference_range": float(np.mean((v >= r.min()) & (v <= r.max()))),
            }
        out[name] = entry
    return out
