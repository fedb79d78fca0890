"""Simulated vs real recordings: the same statistics on both, pass/fail against the real spread.

For every public dataset in ``../shared/data`` (``data/README.md``) that has a
simulator counterpart, one section reads the real recordings, simulates the
counterpart with the protocol's own settings (never tuned here), computes the same
statistics with the same code on both and judges each:

* **range rule** — the simulated median lies inside the real data's [min, max] over
  its natural units (subjects, motor units, bursts);
* **tolerance rule** — where there is a single real recording (one value), the
  simulated median lies within a stated tolerance of it; the tolerance is written
  beside the row;
* **not judged** — where the two are not comparable (the row says why, e.g. a
  spinal-reflex latency against a motor-point M-wave latency, or a between-subject
  spread of a one-subject dataset).

Sections (datasets, simulator counterparts):

=====================  ===================================================  =====================================
dataset                statistics                                           simulator counterpart
=====================  ===================================================  =====================================
biosignalsnotebooks    burst RMS, kurtosis, MNF, MDF, PSD shape, burst      BB, SENIAM bipolar, gel; the ``grid``
                       duration, onset rise time (10-90 %)                  protocol's trapezoid drive
openhdemg-otb          MUAP p-p, duration, spatial spread (5 real units)    VL pool under the same 64-electrode
                                                                            layout (fast MUAP path); STAs of its
                                                                            interference, as on the real side
ceinms-gait            per-muscle envelope shape (r), peak timing,          the ``gait`` protocol
                       between-cycle and between-subject variability
stim-artefact-tscs     artefact decay time; response latency/duration       the ``evoked`` protocol at 30 Hz
                       (shown, not judged: different stimulation)
elderly-lowerlimb-emg  isometric RMS, kurtosis, MNF, MDF, PSD of VL, BF,    VL, BF, TA, GM (for GL), bipolar,
                       TA, GL over 30 subjects                              aged 64-82
elderly (``simreal``,  4-/3-class accuracy on the real set of models        the ``lowerlimb`` protocol (training
opt-in)                trained only on simulated subjects                   and a separately seeded select cohort)
=====================  ===================================================  =====================================

A dataset folder that is absent yields a section that says so; one that fails to
read yields a section with the error (and the command exits 2 after writing the
report). Same seed → same numbers.
"""
from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
from scipy.signal import butter, sosfiltfilt, welch
from scipy.stats import kurtosis

from ..errors import MyoflowError

__all__ = ["Check", "Section", "validate_simulator", "elderly_subjects", "SCORE_SUBJECTS", "CALIBRATION_SUBJECTS",
           "range_check", "tolerance_check", "spectral_stats",
           "SECTIONS", "OPT_IN_SECTIONS"]

log = logging.getLogger(__name__)

#: Band of the spectral statistics, Hz (surface-EMG band; both sides band-passed alike).
BAND_HZ = (20.0, 450.0)


# ------------------------------------------------------------------ checks
@dataclass
class Check:
    """One statistic on both sides and its verdict (``passed`` None: not judged, see ``note``)."""

    statistic: str
    unit: str
    real: float | None
    real_range: tuple[float, float] | None
    sim: float | None
    sim_range: tuple[float, float] | None
    rule: str
    passed: bool | None
    note: str = ""


@dataclass
class Section:
    """One dataset's comparison: checks, figures ((caption, png path)), notes, status."""

    key: str
    title: str
    status: str = "compared"  # "compared" | "absent" | "error"
    message: str = ""
    checks: list[Check] = field(default_factory=list)
    figures: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _finite(v: Any) -> np.ndarray:
    a = np.asarray(v, dtype=float).ravel()
    return a[np.isfinite(a)]


def _span(a: np.ndarray) -> tuple[float, float] | None:
    return (float(a.min()), float(a.max())) if a.size else None


def range_check(statistic: str, unit: str, real: Any, sim: Any, spread: str, note: str = "") -> Check:
    """Pass when the median of ``sim`` lies inside [min, max] of ``real`` (needs ≥ 2 real values)."""
    r, s = _finite(real), _finite(sim)
    sm = float(np.median(s)) if s.size else None
    rule = f"sim median inside the real range over {r.size} {spread}"
    if r.size < 2 or sm is None:
        return Check(statistic, unit, float(np.median(r)) if r.size else None, _span(r), sm, _span(s), rule, None,
                     note or "too few values to judge")
    return Check(statistic, unit, float(np.median(r)), _span(r), sm, _span(s), rule,
                 bool(r.min() <= sm <= r.max()), note)


def tolerance_check(statistic: str, unit: str, real: float, sim: Any, *, factor: float | None = None,
                    absolute: float | None = None, note: str = "") -> Check:
    """Pass when the median of ``sim`` is within ``factor``× (ratio) or ``± absolute`` of one real value."""
    s = _finite(sim)
    sm = float(np.median(s)) if s.size else None
    if factor is not None:
        rule = f"one real value: sim median within ×1/{factor:g}–×{factor:g} of it"
        ok = None if sm is None or not np.isfinite(real) or real <= 0 else bool(real / factor <= sm <= real * factor)
    elif absolute is not None:
        rule = f"one real value: sim median within ±{absolute:g} {unit} of it"
        ok = None if sm is None or not np.isfinite(real) else bool(abs(sm - real) <= absolute)
    else:
        raise ValueError("tolerance_check needs factor or absolute")
    return Check(statistic, unit, float(real), None, sm, _span(s), rule, ok, note)


def not_judged(statistic: str, unit: str, real: Any, sim: Any, why: str) -> Check:
    r, s = _finite(real), _finite(sim)
    return Check(statistic, unit, float(np.median(r)) if r.size else None, _span(r) if r.size > 1 else None,
                 float(np.median(s)) if s.size else None, _span(s), "not judged", None, why)


# ------------------------------------------------------------------ shared statistics
def _bandpass(x: np.ndarray, fs: float, band: tuple[float, float] = BAND_HZ, order: int = 4) -> np.ndarray:
    """Zero-phase Butterworth band-pass along the last axis (upper edge clipped below Nyquist)."""
    hi = min(band[1], 0.45 * fs)
    sos = butter(order, [band[0], hi], btype="bandpass", fs=fs, output="sos")
    return sosfiltfilt(sos, np.asarray(x, dtype=np.float64), axis=-1)


def spectral_stats(x: np.ndarray, fs: float) -> dict[str, Any]:
    """Welch PSD (0.25 s Hann segments) of a band-passed 1-D signal and its MNF/MDF inside :data:`BAND_HZ`.

    Returns ``{"f": Hz, "psd": normalised to unit area in band, "mnf": Hz, "mdf": Hz}``.
    """
    x = np.asarray(x, dtype=np.float64)
    nper = int(min(x.size, round(0.25 * fs)))
    f, p = welch(x, fs=fs, nperseg=nper)
    keep = (f >= BAND_HZ[0]) & (f <= min(BAND_HZ[1], 0.45 * fs))
    f, p = f[keep], p[keep]
    total = p.sum()
    if total <= 0:
        return {"f": f, "psd": p, "mnf": float("nan"), "mdf": float("nan")}
    c = np.cumsum(p)
    return {"f": f, "psd": p / (total * (f[1] - f[0])), "mnf": float((f * p).sum() / total),
            "mdf": float(f[np.searchsorted(c, 0.5 * c[-1])])}


def _amplitude_stats(x: np.ndarray, fs: float) -> dict[str, Any]:
    """RMS (µV, input in V), Pearson kurtosis (3 = Gaussian) and the spectral statistics."""
    out = spectral_stats(x, fs)
    out["rms_uv"] = float(np.sqrt(np.mean(np.square(x))) * 1e6)
    out["kurtosis"] = float(kurtosis(x, fisher=False))
    return out


def _shape_r(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def _seconds(t0: float) -> float:
    return round(time.perf_counter() - t0, 2)


# ------------------------------------------------------------------ biosignalsnotebooks: bursts
def _burst_statistics(rec, smooth_ms: float = 50.0) -> dict[str, np.ndarray]:
    """Per burst: duration, onset rise time (10→90 % of the 50 ms RMS envelope), and the amplitude/spectral
    statistics of the burst's central 60 % (its plateau). ``rec``: one-channel Recording in V."""
    from ..preprocess.bursts import detect_bursts

    fs = rec.fs
    bursts = detect_bursts(rec)
    x = _bandpass(rec.data[0], fs)
    w = max(int(round(smooth_ms * 1e-3 * fs)), 1)
    env = np.sqrt(np.convolve(x * x, np.ones(w) / w, mode="same"))
    out: dict[str, list] = {k: [] for k in ("duration_ms", "rise_ms", "rms_uv", "kurtosis", "mnf", "mdf", "psd")}
    f = None
    pre = int(round(0.3 * fs))
    for on, off in zip(bursts["onset"].to_numpy(), bursts["offset"].to_numpy()):
        a, b = on + int(0.2 * (off - on)), off - int(0.2 * (off - on))
        if off - on < int(0.2 * fs) or b - a < int(round(0.25 * fs)):
            # the plateau must hold one 0.25 s Welch segment, or the PSDs differ in length (seen on simulated
            # drives whose detected burst was cut short)
            continue
        st = _amplitude_stats(x[a:b], fs)
        base = float(np.median(env[max(on - pre, 0):on])) if on > 0 else 0.0
        peak_i = on + int(np.argmax(env[on:off]))
        lo, hi = base + 0.1 * (env[peak_i] - base), base + 0.9 * (env[peak_i] - base)
        seg = env[max(on - pre, 0):peak_i + 1]
        i10 = int(np.argmax(seg >= lo))
        i90 = int(np.argmax(seg >= hi))
        out["rise_ms"].append((i90 - i10) / fs * 1e3)
        out["duration_ms"].append((off - on) / fs * 1e3)
        for k in ("rms_uv", "kurtosis", "mnf", "mdf"):
            out[k].append(st[k])
        out["psd"].append(st["psd"])
        f = st["f"]
    res = {k: np.asarray(v, dtype=float) for k, v in out.items() if k != "psd"}
    res["psd"] = np.asarray(out["psd"], dtype=float)
    res["f"] = f if f is not None else np.zeros(0)
    res["bursts"] = bursts
    return res


def _simulated_bb_bursts(seed: int, n_subjects: int, duration_s: float):
    from ..simulate.protocols.grid import LEVEL_MVC, grid_excitation
    from ..simulate import ElectrodeArray, generate_subjects, simulate_voluntary

    subjects = generate_subjects(n_subjects, np.random.default_rng([seed, 10]))
    recs = []
    for i, s in enumerate(subjects):
        rng = np.random.default_rng([seed, 11, i])
        exc, bursts = grid_excitation(duration_s, 1000.0, float(rng.uniform(*LEVEL_MVC)), rng)
        iz = float(rng.choice([-1.0, 1.0]) * rng.uniform(15.0, 30.0))  # SENIAM: pair between IZ and tendon
        recs.append(simulate_voluntary(s, "BB", exc, ElectrodeArray.bipolar(20.0), rng, fs=1000.0, iz_mm=iz,
                                       noise={"electrode": "gel", "powerline_hz": 50.0}, onsets_s=bursts))
    return recs


def section_bursts(root: Path, out: Path, *, seed: int, quick: bool) -> Section:
    from ..io.datasets.small import load_biosignalsnotebooks

    sec = Section("biosignalsnotebooks", "Cyclic contractions of biceps brachii (biosignalsnotebooks emg_bursts)")
    real_rec = load_biosignalsnotebooks(root)["emg_bursts"]
    real = _burst_statistics(real_rec)
    # 8 subjects, not 3, to steady the simulated median (sim seeds 1-4, simulated data only: median MDF
    # 96/88/96/84 Hz with 3 subjects, 92/84/96/92 with 8; simcal report)
    sims = _simulated_bb_bursts(seed, 1 if quick else 8, 16.0 if quick else 31.0)
    per = [_burst_statistics(r) for r in sims]
    sim = {k: np.concatenate([p[k] for p in per]) for k in ("duration_ms", "rise_ms", "rms_uv", "kurtosis", "mnf",
                                                            "mdf")}
    n = int(real["duration_ms"].size)
    spread = "real bursts (one recording)"
    sec.checks += [
        range_check("burst duration", "ms", real["duration_ms"], sim["duration_ms"], spread,
                    "sim drive: the grid protocol's 0.6-0.8 s plateau + 0.1-0.2 s ramps"),
        range_check("onset rise time 10-90 % (50 ms RMS)", "ms", real["rise_ms"], sim["rise_ms"], spread),
        tolerance_check("burst RMS", "µV", float(np.median(real["rms_uv"])), sim["rms_uv"], factor=3.0,
                        note="contraction level of the real recording is not stated; sim drive 20-60 % MVC"),
        range_check("burst kurtosis", "", real["kurtosis"], sim["kurtosis"], spread,
                    "real plateaus are sparse, not modulated: kurtosis of x / its 100 ms RMS is ~5.5 real vs 3-4.8 "
                    "simulated, i.e. ~4 units dominate the real pair vs ~20; BB rp 1000 reaches 4.3, 150 units 4.2 "
                    "(simcal report, sim seed 11): not applied (the grid protocol's muscle; still < 5)"),
        range_check("MNF", "Hz", real["mnf"], sim["mnf"], spread),
        range_check("MDF", "Hz", real["mdf"], sim["mdf"], spread,
                    "a spectral-shape miss (MNF - MDF row): BB CV 3.5-4.5 m/s instead of 4-5 lowers MDF 4-8 Hz but "
                    "takes MNF below the real bursts' (simcal report): not applied"),
        not_judged("MNF - MDF", "Hz", real["mnf"] - real["mdf"], sim["mnf"] - sim["mdf"],
                   "diagnostic of the spectral shape (spec §7.3: 5-15 Hz)"),
    ]
    psd_sim = np.concatenate([p["psd"] for p in per if p["psd"].size]) if any(p["psd"].size for p in per) else None
    if psd_sim is not None and real["psd"].size:
        r = _shape_r(real["psd"].mean(0), psd_sim.mean(0))
        real_r = [_shape_r(p, real["psd"].mean(0)) for p in real["psd"]]
        sec.checks.append(Check("PSD shape: r(sim mean PSD, real mean PSD)", "", None,
                                _span(_finite(real_r)), r, None,
                                "r ≥ the lowest r of a single real burst with the real mean",
                                bool(r >= np.nanmin(real_r)), "real range: r of each real burst's PSD"))
    sec.notes.append(f"{n} real bursts detected with preprocess.detect_bursts (defaults), "
                     f"{sim['duration_ms'].size} simulated bursts from {len(sims)} simulated subject(s).")
    sec.figures.append(("Biceps bursts: real (left), simulated (middle), burst PSDs (right)",
                        str(_fig_bursts(real_rec, sims[0], real, per[0], out / "bursts.png"))))
    return sec


def _fig_bursts(real_rec, sim_rec, real, sim, path: Path) -> Path:
    from ..report.figures import pyplot, save_png

    plt = pyplot()
    fig, ax = plt.subplots(1, 3, figsize=(13, 3.2))
    for a, rec, st, name in ((ax[0], real_rec, real, "real"), (ax[1], sim_rec, sim, "simulated")):
        t = np.arange(rec.n_samples) / rec.fs
        a.plot(t, rec.data[0] * 1e3, lw=0.4, color="k")
        for on, off in zip(st["bursts"]["onset_s"], st["bursts"]["offset_s"]):
            a.axvspan(on, off, color="tab:orange", alpha=0.2)
        a.set_title(f"{name}: {len(st['bursts'])} bursts", fontsize=9)
        a.set_xlabel("s")
        a.set_ylabel("mV")
    for st, name, c in ((real, "real", "k"), (sim, "simulated", "tab:blue")):
        if st["psd"].size:
            ax[2].plot(st["f"], st["psd"].mean(0), color=c, label=name)
    ax[2].set_xlabel("Hz")
    ax[2].set_ylabel("normalised PSD")
    ax[2].legend(fontsize=8)
    fig.tight_layout()
    return save_png(fig, path)


# ------------------------------------------------------------------ openhdemg-otb: MUAP shapes
def section_muaps(root: Path, out: Path, *, seed: int, quick: bool) -> Section:
    """MUAP shapes of the VL pool vs the 5 real spike-triggered averages, and the interference RMS.

    What the misses are (issue 18 item 4; seed 0, this section's settings, 6 simulated subjects; simcal
    report): the same grid read single-differentially (pairs 24 mm apart along the fibres) separates a gain
    miss from a shape one.

    * Measured alike: the real templates are spike-triggered averages (STAs), so the simulated ones are
      too — averages of the simulated interference over the median real unit's discharge count (197), same
      window and band. The 20 % duration of an STA carries the background the average left: on the real
      units an average over the same triggers moved 100–300 ms reaches 0.46–1.32 of the duration threshold
      and the even/odd halves of one unit differ by 3–11 ms (the smallest units have the longest
      durations), so the real duration range (16–40 ms) is wide partly for that reason.
    * Gain: VL's fibre count is consistent with its neighbours' share of PCSA (``MUSCLES["VL"]``, ×1.7,
      from the anatomy table). The single-differential MUAP p-p passes (≈300 µV, real 241–1026). The
      interference rows passed before only because the 2 s plateau began with a step drive: every unit
      recruited at t = 0 fired together (≈3× the plateau RMS over 0.5 s). With a 1 s lead-in cut, the
      plateau RMS is ≈62 µV monopolar and ≈65 µV single-differential (real 183 and 116): a miss of
      ×2.9/×1.8, larger than the MUAP p-p miss (×1.5 monopolar, none single-differential). So it is how many
      units, at what rates, add up (220 of 300 simulated units are recruited at 26 % MVC), or what
      neighbouring vasti and the far field add on the real grid. It is not a MUAP-size error, and it is not
      fitted here: this is the only recording.
    * Spatial-frequency content: the monopolar / single-differential RMS ratio is 1.59 on the real grid and
      0.93 simulated; the monopolar MUAP p-p (269 µV, real 287–887) misses by that kind of factor. It is not
      the common mode (grid-mean share of the channel RMS 0.84 real, 0.76 simulated), nor crosstalk (a whole
      RF 55 mm beside the grid changes the ratio by < 3 %): the real potentials are longer along the fibres
      (phases ≈ 5 ms ≈ 23 mm at 4.7 m/s, against ≈ 2 ms), so a 24 mm differential cancels more of them —
      the same miss as the duration, which stays under a common-average reference (15.6 real vs 10.7 ms).
    * Duration: no spec-sourced parameter reaches 16 ms — VL fibre length ×1.3: 14.4 ms;
      CV −0.5 m/s: 12.7 ms; end-plate SD 3 mm, tendon-end SD 6 mm, territories at 5
      fibres/mm², IZ fraction U(0.365, 0.636) (BioMime's range) or ±15 % CV within a unit:
      ≤ 12.5 ms; half the fat: 11.2 ms (h18b). The real phases are ≈5 ms wide against ≈2 ms
      simulated and end in the same far-field wave; a bounded limb or tissue capacitance
      (Lowery et al. 2004) would be needed.
    * Not a longer action potential either: Rosenfalck's Vm stretched ×1.5/×2 in space (same scratch model)
      adds ≤ 0.5 ms — the 20 % duration is the propagation to the fibre ends (≈ 12 ms); the real templates
      end in an extinction wave as large as the propagating phases, on every channel, that the model lacks.
    * Not pennation: fibres inclined 18° to the skin (VL, Ward et al. 2009; a per-unit scratch model that
      reproduces this fast path at 0°) leave the durations at 10.7–12.7 ms and lower the mono/SD ratio.
      The gain-free statistics (interference MDF 52/64 Hz monopolar/SD real vs ≈ 90 simulated, the ratio,
      the CAR duration) all say the real potentials are longer and lower in frequency than the planar
      Rosenfalck source gives at these depths; the recording's tissue thickness is not published, and
      fitting it on this one subject would fit the report to what it scores.
    * Interval: fibre length ×1.3 (10.5 ms) or CV −0.5 m/s (9.8 ms) reach the real range,
      but neither has a source for VL (Ward et al. 2009: 9.9 cm fibres), so neither is applied.
    """
    from ..io.datasets.openhdemg import load_openhdemg_otb
    from ..preprocess.muap_templates import real_muap_templates, shape_statistics
    from ..simulate import ElectrodeArray, generate_subjects
    from ..simulate.emg import MuscleModel

    sec = Section("openhdemg-otb", "MUAP shapes: spike-triggered averages on a 13 × 5 VL grid (openhdemg-otb)")
    t = real_muap_templates(root)
    real = shape_statistics(t.muaps, t.positions_mm, t.fs)
    trial = load_openhdemg_otb(root)
    trial = next(iter(trial.values())) if isinstance(trial, dict) else trial
    force = np.asarray(trial["force"].data[0], float)
    plateau = force > 0.5 * np.percentile(force, 95)
    level = float(np.clip(np.median(force[plateau]) / 100.0, 0.02, 1.0))
    # The interference signal under the same grid tells a MUAP-shape miss from a global gain miss:
    # median over channels of the band-passed RMS during the force plateau.
    emg = trial["emg"]
    t_force = np.arange(force.size) / trial["force"].fs
    on = np.interp(np.arange(emg.n_samples) / emg.fs, t_force, plateau.astype(float)) > 0.5
    real_rms = float(np.median(np.sqrt(np.mean(np.square(_bandpass(emg.data[:, on], emg.fs, (20.0, 500.0))),
                                               axis=1))) * 1e6)
    pos = t.positions_mm - t.positions_mm.mean(0)
    # single-differential pairs 24 mm apart along the fibres (3 rows of the 8 mm grid; SENIAM-like spacing):
    # the same grid seen through a spatial high-pass tells a gain miss from a spatial-frequency (shape) one
    pa, pb = _sd_pairs(pos, SD_IED_MM)
    sd_rms = lambda x: float(np.median(np.sqrt(np.mean(np.square(x[pa] - x[pb]), axis=1))) * 1e6)  # noqa: E731
    real_bp = _bandpass(emg.data[:, on], emg.fs, (20.0, 500.0))
    real_sd_rms = sd_rms(real_bp)
    real_sd_pp = np.ptp(t.muaps[:, pa] - t.muaps[:, pb], axis=-1).max(axis=1) * 1e6
    # common mode (mean over the grid's channels): what a distant reference and far-field sources add to every
    # channel alike; a common-average reference removes it from both sides
    def cm_share(x: np.ndarray) -> float:
        return float(np.sqrt(np.mean(x.mean(0) ** 2)) / np.median(np.sqrt(np.mean(x ** 2, axis=1))))

    real_cm = cm_share(real_bp)
    car = lambda m: m - m.mean(axis=-2, keepdims=True)  # noqa: E731  (n, channels, times)
    real_car = shape_statistics(car(t.muaps), pos, t.fs)
    # The real templates are spike-triggered averages: they keep the background EMG the average did not cancel
    # (a few % of the peak per channel, lower in frequency than the MUAPs). So the simulated side is measured
    # the same way: STAs of the simulated interference (same band, window and discharge count as the median
    # real unit), not the noise-free templates (kept as a diagnostic row).
    n_trig = int(np.median(t.n_firings))
    pre, post = (int(round(v * 1e-3 * t.fs)) for v in (STA_PRE_MS, STA_POST_MS))
    events = emg.events[emg.events["kind"] == "mu_firing"] if emg.events is not None else None
    from ..preprocess import bandpass

    real_full = bandpass(emg, 20.0, 500.0).data.astype(np.float64)  # what real_muap_templates averaged
    real_rel = [_sta_reliability(real_full, g["sample"].to_numpy(), pre, post, np.random.default_rng([seed, 23, j]),
                                 pos, t.fs) for j, (_, g) in enumerate(events.groupby("unit", sort=True))
                if g["sample"].size >= 10]
    el = ElectrodeArray(pos, radius_mm=0.5, montage="monopolar")  # GR08MM1305: 1 mm electrodes [R]
    subjects = generate_subjects(2 if quick else 6, np.random.default_rng([seed, 20]))
    sims, examples, sim_rms, sim_sd_rms, sim_sd_pp, sim_cm, sims_car = [], [], [], [], [], [], []
    clean, sim_rel, n_used, scaled = [], [], [], []
    for i, s in enumerate(subjects):
        rng = np.random.default_rng([seed, 21, i])
        model = MuscleModel.build(s, "VL", el, rng, fs_sim=t.fs, iz_mm=float(rng.normal(0.0, 10.0)),
                                  n_units=100 if quick else None)
        # long enough for the median real unit's discharge count at the lowest firing rates (8 Hz, 197 → 25 s),
        # after a lead-in that is cut: a step drive makes every recruited unit discharge at t = 0 together, a
        # synchronous volley (~3x the plateau RMS over 0.5 s) that a force plateau does not have (as in
        # simulate/protocols/dynamic.py). Before the cut the 2 s interference rows were inflated ~2x.
        lead = int(round(STA_LEAD_S * t.fs))
        rec, vt = model.record(np.full(lead + int((3.0 if quick else STA_SECONDS) * t.fs), level),
                               np.random.default_rng([seed, 22, i]), fs=t.fs,
                               noise={"electrode": "gel", "powerline_hz": 50.0}, front_end=False, return_truth=True)
        sim_bp = _bandpass(rec.data, t.fs, (20.0, 500.0))[:, lead:]
        sim_rms.append(float(np.median(np.sqrt(np.mean(np.square(sim_bp), axis=1))) * 1e6))
        sim_sd_rms.append(sd_rms(sim_bp))
        sim_cm.append(cm_share(sim_bp))
        m = _bandpass(np.pad(model.muaps, ((0, 0), (0, 0), (64, 64))), t.fs, (20.0, 500.0))
        active = np.flatnonzero(model.pool.recruited(level))
        if active.size == 0:
            continue
        pp = np.ptp(m[active], axis=-1).max(axis=1)
        # decomposition finds the units with the largest surface potentials: compare the 5 largest recruited
        top = active[np.argsort(pp)[::-1][:5]]
        clean.append(shape_statistics(m[top], pos, t.fs))
        stas = []
        for u in top:
            # trigger on the MUAP's main peak, as a decomposed discharge marks it (muaps[:, :, 0] = discharge)
            k = int(np.argmax(np.ptp(m[u], axis=1)))
            trig = (np.round(vt.spike_times_s[u] * t.fs).astype(int) + int(np.argmax(np.abs(m[u, k]))) - 64
                    - lead)
            trig = trig[(trig >= pre) & (trig + post <= sim_bp.shape[1])][:n_trig]
            n_used.append(int(trig.size))
            stas.append(_sta(sim_bp, trig, pre, post))
            # what-if (not judged): the same STA with the background (STA minus the unit's own aligned template)
            # scaled to the real plateau's interference RMS, to see how much of the duration miss is the gain one
            lo = int(np.argmax(np.abs(m[u, k]))) - pre
            own = np.zeros_like(stas[-1])
            src = m[u][:, max(lo, 0):lo + pre + post]
            own[:, max(-lo, 0):max(-lo, 0) + src.shape[1]] = src
            scaled.append(own + (real_rms / sim_rms[-1]) * (stas[-1] - own))
            sim_rel.append(_sta_reliability(sim_bp, trig, pre, post, np.random.default_rng([seed, 24, i, int(u)]),
                                            pos, t.fs))
        sta = np.stack(stas)
        sims.append(shape_statistics(sta, pos, t.fs))
        sim_sd_pp += list(np.ptp(sta[:, pa] - sta[:, pb], axis=-1).max(axis=1) * 1e6)
        sims_car.append(shape_statistics(car(sta), pos, t.fs))
        examples.append(sta[0])
    import pandas as pd

    sim = pd.concat(sims, ignore_index=True)
    sim_car = pd.concat(sims_car, ignore_index=True)
    sim_clean = pd.concat(clean, ignore_index=True)
    spread = "real decomposed units"
    sec.checks += [
        range_check("MUAP peak-to-peak (largest channel)", "µV", real["ptp_uv"], sim["ptp_uv"], spread,
                    "monopolar only: the single-differential p-p below passes; the real potentials are longer "
                    "along the fibres (ratio and duration rows; see section_muaps)"),
        range_check("MUAP duration (20 % of peak)", "ms", real["duration_ms"], sim["duration_ms"], spread,
                    "no spec-sourced parameter reaches it (fibre length, CV, IZ/tendon spread, territory, fat "
                    "measured: <= 14.4 ms); real phases ~5 ms wide vs ~2 ms; the real STAs' 20 % duration is "
                    "partly their background (STA rows below: background up to 1.3x the threshold, even/odd "
                    "halves of one unit 3-11 ms apart; see section_muaps)"),
        range_check("MUAP negative-positive peak interval", "ms", real["pp_interval_ms"], sim["pp_interval_ms"],
                    spread, "VL fibres x1.3 or CV -0.5 m/s would reach it; neither has a source; pennation does "
                    "not (see section_muaps)"),
        range_check("MUAP spatial spread (half-max area)^0.5", "mm", real["spread_mm"], sim["spread_mm"], spread),
        tolerance_check("interference RMS at the same force (median channel)", "µV", real_rms, sim_rms, factor=1.5,
                        note="monopolar, force plateau, 20-500 Hz; sim plateau after a 1 s lead-in (the old 2 s "
                             "window's t = 0 volley passed it); the MUAP p-p misses by less (x1.5, SD p-p passes): "
                             "units x rates summed or the real grid's vasti/far field, not fitted on this one "
                             "recording (see section_muaps)"),
        range_check(f"MUAP peak-to-peak, single differential {SD_IED_MM:g} mm along the fibres", "µV", real_sd_pp,
                    sim_sd_pp, spread, "the same templates through a spatial high-pass"),
        tolerance_check(f"interference RMS, single differential {SD_IED_MM:g} mm (median pair)", "µV",
                        real_sd_rms, sim_sd_rms, factor=1.5, note="same plateau and band as the monopolar row; "
                        "same reason as that row"),
        tolerance_check("interference RMS ratio monopolar / single differential", "", real_rms / real_sd_rms,
                        np.asarray(sim_rms) / np.asarray(sim_sd_rms), factor=1.5,
                        note="gain-free: the share of low spatial frequencies; not the common mode (row below) "
                             "nor RF crosstalk (< 3 %, simcal report): potentials longer along the fibres"),
        not_judged("common-mode share of the interference RMS (grid mean / median channel)", "", [real_cm], sim_cm,
                   "diagnostic: the part every channel shares (reference, far field)"),
        not_judged("MUAP duration, common-average reference", "ms", real_car["duration_ms"], sim_car["duration_ms"],
                   "diagnostic: with the grid mean removed on both sides, how much of the duration miss is the "
                   "common (far-field) wave"),
        not_judged("MUAP peak-to-peak, common-average reference", "µV", real_car["ptp_uv"], sim_car["ptp_uv"],
                   "diagnostic, as above"),
        not_judged("MUAP duration, noise-free simulated templates", "ms", real["duration_ms"],
                   sim_clean["duration_ms"], "diagnostic: the simulated templates themselves, not averaged out of "
                   "the interference (the judged rows use STAs on both sides)"),
        not_judged("STA duration, simulated background scaled to the real interference RMS", "ms",
                   real["duration_ms"], shape_statistics(np.stack(scaled), pos, t.fs)["duration_ms"],
                   "what-if, not judged: each simulated STA's background (STA minus the unit's own template) "
                   "multiplied by real / simulated plateau RMS; the duration miss follows the interference one"),
        not_judged("STA background / 20 % duration threshold (largest channel)", "",
                   [r["floor_ratio"] for r in real_rel], [r["floor_ratio"] for r in sim_rel],
                   "diagnostic: largest deviation of an average over the same triggers moved 100-300 ms, over the "
                   "duration threshold; >= 1: the background alone crosses it"),
        not_judged("STA duration, even vs odd discharges |difference|", "ms",
                   [r["half_gap_ms"] for r in real_rel], [r["half_gap_ms"] for r in sim_rel],
                   "diagnostic: repeatability of the duration statistic on one unit"),
    ]
    sec.notes.append(f"Real: {len(real)} units (spike-triggered averages, 20-500 Hz, {min(t.n_firings)}-"
                     f"{max(t.n_firings)} discharges). Simulated: the 5 largest units recruited at the recording's "
                     f"force ({level * 100:.0f} % MVC) in each of {len(sims)} simulated VL pools under the same "
                     f"electrode layout, spike-triggered averages of the simulated interference (same band-pass and "
                     f"window, {min(n_used)}-{max(n_used)} discharges per unit; the real median is {n_trig}).")
    sec.figures.append(("MUAP on the grid column with the largest p-p: real (left) vs simulated (right)",
                        str(_fig_muaps(t.muaps[int(np.argmax(real['ptp_uv']))], examples[0], pos, t.fs,
                                       out / "muaps.png"))))
    return sec


#: Inter-electrode distance of the single-differential rows of the MUAP section, mm.
SD_IED_MM = 24.0


#: Window of the spike-triggered averages, ms before/after the discharge (``real_muap_templates``' defaults).
STA_PRE_MS, STA_POST_MS = 20.0, 30.0
#: Simulated plateau whose interference the simulated STAs average, s; and the lead-in cut before it, s.
STA_SECONDS, STA_LEAD_S = 25.0, 1.0


def _sta(x: np.ndarray, triggers: np.ndarray, pre: int, post: int) -> np.ndarray:
    """Spike-triggered average (channels, pre + post) of ``x`` (channels, samples) around ``triggers``."""
    return x[:, np.asarray(triggers)[:, None] + np.arange(-pre, post)[None, :]].mean(axis=1)


def _sta_reliability(x: np.ndarray, triggers: np.ndarray, pre: int, post: int, rng: np.random.Generator,
                     pos: np.ndarray, fs: float) -> dict[str, float]:
    """How much of a STA's 20 %-of-peak duration is the background the average left behind.

    * ``floor_ratio`` — on the unit's largest channel, the largest deviation of an average over the same
      number of triggers each moved by a random 100–300 ms (background only, same firing context) divided by
      the 20 % threshold of the duration statistic: ≥ 1 means the background alone crosses the threshold;
    * ``half_gap_ms`` — |duration(even discharges) − duration(odd discharges)|: the statistic's own
      repeatability on that unit.
    """
    from ..preprocess.muap_templates import shape_statistics

    trig = np.asarray(triggers)
    trig = trig[(trig >= pre) & (trig + post <= x.shape[1])]
    sta = _sta(x, trig, pre, post)
    k = int(np.argmax(np.ptp(sta, axis=1)))
    edge = max(1, sta.shape[1] // 10)
    base = np.median(np.concatenate([sta[k, :edge], sta[k, -edge:]]))
    thr = 0.2 * np.abs(sta[k] - base).max()
    moved = trig + rng.integers(int(0.1 * fs), int(0.3 * fs), trig.size)
    moved = moved[moved + post <= x.shape[1]]
    floor = _sta(x[k:k + 1], moved, pre, post)[0]
    halves = shape_statistics(np.stack([_sta(x, trig[0::2], pre, post), _sta(x, trig[1::2], pre, post)]), pos, fs)
    return {"floor_ratio": float(np.abs(floor - np.median(floor)).max() / thr) if thr > 0 else float("nan"),
            "half_gap_ms": float(abs(halves["duration_ms"].iloc[0] - halves["duration_ms"].iloc[1]))}


def _sd_pairs(pos: np.ndarray, ied_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (a, b) of electrodes in the same column (same y) with x_b = x_a + ``ied_mm``."""
    a, b = [], []
    for i in range(pos.shape[0]):
        j = np.flatnonzero(np.isclose(pos[:, 1], pos[i, 1]) & np.isclose(pos[:, 0], pos[i, 0] + ied_mm))
        if j.size:
            a.append(i)
            b.append(int(j[0]))
    if not a:
        raise MyoflowError(f"the grid has no electrode pair {ied_mm:g} mm apart along the fibres")
    return np.asarray(a), np.asarray(b)


def _fig_muaps(real_m: np.ndarray, sim_m: np.ndarray, pos: np.ndarray, fs: float, path: Path) -> Path:
    from ..report.figures import pyplot, save_png

    plt = pyplot()
    fig, ax = plt.subplots(1, 2, figsize=(9, 4.5), sharey=False)
    for a, m, name in ((ax[0], real_m, "real"), (ax[1], sim_m, "simulated")):
        k = int(np.argmax(np.ptp(m, axis=-1)))
        col = np.flatnonzero(np.isclose(pos[:, 1], pos[k, 1]))
        col = col[np.argsort(pos[col, 0])]
        step = np.ptp(m[col]) * 0.6 or 1.0
        t = np.arange(m.shape[-1]) / fs * 1e3
        for j, c in enumerate(col):
            a.plot(t, m[c] / step + j, color="k", lw=0.8)
        a.set_title(f"{name}: {np.ptp(m[k]) * 1e6:.0f} µV p-p", fontsize=9)
        a.set_xlabel("ms")
        a.set_yticks([])
    fig.tight_layout()
    return save_png(fig, path)


# ------------------------------------------------------------------ ceinms-gait: envelopes
#: Reasons written beside gait rows that miss (appended to the row's note).
GAIT_NOTES: dict[tuple[str, str], str] = {
    ("SOL", "variability"): "; one real subject whose two trials differ x2.6 (walk36 0.26, walk45 0.10): the "
                            "simulator's stride variability was set on walk36; no held-out subject to re-set it",
    ("RF", "shape"): "; real surface RF peaks at loading response (1 % cycle), where fine-wire RF is silent "
                     "(Nene et al. 1999; Barr et al. 2010): vasti crosstalk. The gait protocol adds it (RF records "
                     "15-45 % of the VL signal, 3 x the spec's 5-15 % per neighbouring vastus), but in part of "
                     "the simulated subjects RF's own pre-swing burst (Perry 55-66 %) still outweighs it: the static "
                     "optimisation gives RF (hip flexor and knee extensor) part of the pre-swing hip flexor moment, "
                     "which in walking is largely passive (the extended hip's ligaments and stretched flexors; J Appl "
                     "Biomech 2012, 28:542-550; Whittington et al. 2008, Gait Posture 27:628-634) — the simulator has "
                     "no passive joint moments",
    ("RF", "timing"): "; see the shape row: subjects whose own 55-66 % swing-initiation burst outweighs the vasti "
                      "crosstalk peak in pre-swing",
}
#: real CEINMS channel → simulated gait muscle (semimembranosus ~ semitendinosus, medial gastrocnemius = GM)
GAIT_MAP = {"tib_ant_r": "TA", "soleus_r": "SOL", "med_gas_r": "GM", "vas_lat_r": "VL", "rect_fem_r": "RF",
            "bifemlh_r": "BF", "semimem_r": "ST"}


def _cycles(rec, heel_strikes_s: np.ndarray) -> np.ndarray:
    from ..preprocess.gait import segment_cycles

    return np.asarray(segment_cycles(rec, heel_strikes_s, n_points=101).X, dtype=float)


def _variability(c: np.ndarray) -> float:
    """Between-cycle variability: mean over the cycle of the SD across cycles / mean of the ensemble mean."""
    m = c.mean(0)
    return float(c.std(0).mean() / m.mean()) if m.mean() > 0 else float("nan")


def section_gait(root: Path, out: Path, *, seed: int, quick: bool) -> Section:
    from ..io.datasets.small import load_ceinms_gait
    from ..preprocess.filters import envelope
    from ..preprocess.gait import detect_heel_strikes
    from ..simulate.protocols.gait import simulate_gait

    sec = Section("ceinms-gait", "Gait EMG envelopes over the cycle (ceinms-gait, subject 06, walk36 and walk45)")
    trials = load_ceinms_gait(root)
    real: dict[str, list[np.ndarray]] = {m: [] for m in GAIT_MAP.values()}
    names: list[str] = []
    for name in ("walk36", "walk45"):
        if name not in trials:
            continue
        names.append(name)
        tr = trials[name]
        hs = detect_heel_strikes(tr)
        c = _cycles(tr["emg"], hs)
        for ch, m in GAIT_MAP.items():
            real[m].append(c[:, tr["emg"].ch_names.index(ch)])
    sim_trials, _ = simulate_gait(1 if quick else 5, seed, 5 if quick else 12)
    sim: dict[str, list[np.ndarray]] = {m: [] for m in GAIT_MAP.values()}
    for tr in sim_trials:
        emg = tr["emg"]
        from ..preprocess.filters import bandpass

        env = envelope(bandpass(emg, *BAND_HZ), cutoff=6.0)
        ev = emg.events
        hs = ev.loc[ev["kind"] == "heel_strike", "sample"].to_numpy() / emg.fs
        c = _cycles(env, hs)
        for m in sim:
            sim[m].append(c[:, emg.ch_names.index(m)])
    n_real = len(next(iter(real.values())))
    for m in GAIT_MAP.values():
        r_means = [c.mean(0) for c in real[m]]
        r_all = np.concatenate(real[m]).mean(0)
        s_means = [c.mean(0) for c in sim[m]]
        rs = [_shape_r(s, r_all) for s in s_means]
        rr = _shape_r(r_means[0], r_means[1]) if len(r_means) > 1 else float("nan")
        sec.checks.append(Check(f"{m}: envelope shape r(sim subject mean, real mean)", "", None, None,
                                float(np.median(rs)), _span(_finite(rs)), "stated tolerance: r ≥ 0.5",
                                bool(np.median(rs) >= 0.5),
                                f"real walk36 vs walk45 r = {rr:.2f}" + GAIT_NOTES.get((m, "shape"), "")))
        peak_r = float(np.argmax(r_all))
        peaks = np.array([float(np.argmax(s)) for s in s_means])
        d = (peaks - peak_r + 50.0) % 100.0 - 50.0  # circular difference, % cycle
        # peaks written as the pooled real peak + circular difference, so 99 % and 1 % read as neighbours
        rp = np.array([peak_r + (float(np.argmax(x)) - peak_r + 50.0) % 100.0 - 50.0 for x in r_means])
        sec.checks.append(Check(f"{m}: envelope peak timing", "% cycle", peak_r, _span(_finite(rp)),
                                peak_r + float(np.median(d)), _span(peak_r + d),
                                "stated tolerance: within ±10 % cycle (circular)", bool(abs(np.median(d)) <= 10.0),
                                GAIT_NOTES.get((m, "timing"), "").lstrip("; ")))
        # the simulator's moment-independent variability was calibrated on walk36 (benchmarks/
        # gait_variability.py): score it on walk45 alone, the trial it never saw
        held = [c for n, c in zip(names, real[m]) if n == "walk45"]
        var_note = ("real: walk45 only (walk36 calibrated the simulator's variability)" if held else
                    f"real: mean of {n_real} trial(s); walk45 absent, so walk36 (the calibration trial) is used")
        sec.checks.append(tolerance_check(f"{m}: between-cycle variability (SD/mean)", "",
                                          float(np.mean([_variability(c) for c in (held or real[m])])),
                                          [_variability(c) for c in sim[m]], factor=2.0,
                                          note=var_note + GAIT_NOTES.get((m, "variability"), "")))
        if len(s_means) > 1:
            sm = np.array([s / s.mean() for s in s_means])
            between = float(sm.std(0).mean())
        else:
            between = float("nan")
        sec.checks.append(not_judged(f"{m}: between-subject variability (SD/mean of subject means)", "", [],
                                     [between], "not measurable on the real side: ceinms-gait holds one subject"))
    sec.checks += _moment_checks(trials, names, sim_trials)
    sec.notes.append(f"Real: normalised envelopes (emgFilt.sto) segmented at GRF heel strikes; simulated: "
                     f"{len(sim_trials)} subject(s) of the gait protocol, 20-450 Hz band-pass, rectified, 6 Hz "
                     "low-pass, segmented at the simulated heel strikes. Shape statistics are scale-free.")
    sec.figures.append(("Ensemble-average envelopes (each normalised to its peak): real (black) vs simulated "
                        "subjects (blue)", str(_fig_gait(real, sim, out / "gait.png"))))
    return sec


#: Sagittal joint-moment features (spec §4 targets, §7.7 "moment peaks within ±20 %"): name, joint,
#: window (% cycle), extreme. Signs: internal moments, extensor (hip, knee) / plantarflexor (ankle) +.
MOMENT_FEATURES = (
    ("ankle dorsiflexor, loading response", "ankle", (0, 15), "min", (-0.15, -0.15)),
    ("ankle plantarflexor, push-off", "ankle", (40, 56), "max", (1.4, 1.6)),
    ("knee extensor, loading response", "knee", (5, 25), "max", (0.5, 0.8)),
    ("knee flexor, late stance", "knee", (40, 51), "min", (-0.4, -0.2)),
    ("knee flexor, terminal swing", "knee", (85, 101), "min", (-0.3, -0.3)),
    ("hip extensor, loading response", "hip", (0, 15), "max", (0.6, 1.0)),
    ("hip flexor, pre-swing", "hip", (40, 61), "min", (-1.0, -0.8)),
    ("hip extensor, terminal swing", "hip", (90, 101), "max", (0.4, 0.4)),
)
#: ceinms (OpenSim gait2392 coordinates) moment channel and the sign that makes it extensor/plantarflexor +
_REAL_MOMENTS = {"ankle": ("ankle_angle_r_moment", -1.0), "knee": ("knee_angle_r_moment", 1.0),
                 "hip": ("hip_flexion_r_moment", -1.0)}
MOMENT_TOLERANCE = (0.20, 0.10)  # relative (spec §7.7), absolute floor N·m/kg for features near zero
#: Why some moment rows sit where they do (issue 18; measured on sim seeds 1, 3 and 11, never on the reported
#: 0 and 2; benchmarks/results/selection/gait_ground_contact_*.json).
_SLIDING = ("the simulated stance foot is not held on the floor (template angles on a constant-speed hip path: it "
            "slides 10-20 cm and tilts 8-20° toe-down through loading response), so the knee's lever to the centre "
            "of pressure varies with each walker's angle offsets; holding the foot down (tried: "
            "selection/gait_ground_contact_confirm_seed0_seed2.json) narrows this row but moves the knee's loading "
            "peak to 20 % of the cycle, pushes the knee terminal-swing row out and weakens the vasti crosstalk "
            "that surface RF needs")
MOMENT_NOTES = {
    "knee extensor, loading response": "; a median of few walkers with a wide spread: between-walker SD 0.37 N·m/kg "
                                       "(median 0.75, inside the target) on 100 walkers of sim seed 11 — " + _SLIDING,
    "knee flexor, late stance": "; between-walker SD 0.32 N·m/kg (median -0.26, inside the target) on 100 walkers of "
                                "sim seed 11 — " + _SLIDING,
    "hip extensor, terminal swing": "; the 90-100 % maximum sits at 100 % (the heel-strike transient) for 15 of 16 "
                                    "walkers of sim seed 1: the simulated terminal-swing moment itself (95 %) is "
                                    "0.17-0.25 N·m/kg (seeds 1, 3), below Winter's 0.4",
    "knee flexor, terminal swing": "; the 85-100 % minimum sits at a window edge (85 % mid-swing, or the 100 % heel "
                                   "strike) for 16 of 16 walkers of sim seed 1: the simulated moment at 93 % is about "
                                   "-0.1 N·m/kg (seeds 1, 3), Winter -0.3",
}


def _spec_note(sim: float, target: tuple[float, float], rel: float = 0.20) -> str:
    """Where the simulated median lies against the spec's (Winter's) target ±20 %: tells a simulator miss
    (outside the spec too) from a real subject who differs from the normative mean."""
    lo, hi = min(target) - rel * abs(min(target)), max(target) + rel * abs(max(target))
    t = f"{target[0]:g}" if target[0] == target[1] else f"{target[0]:g} to {target[1]:g}"
    where = "inside" if lo <= sim <= hi else "OUTSIDE"
    return (f"spec §4 target {t} N·m/kg (Winter): sim {where} it ±20 %"
            + (" — the one real subject differs from the normative mean" if where == "inside"
               else " — a miss of the gait module's inverse dynamics"))


def _feature(curve: np.ndarray, window: tuple[int, int], kind: str) -> float:
    seg = curve[window[0]:window[1]]
    return float(seg.min() if kind == "min" else seg.max())


def _moment_checks(trials, names: Sequence[str], sim_trials) -> list[Check]:
    """Real subject 06's sagittal moment features (per kg; mass from the mean vertical GRF over whole strides)
    vs the simulated walkers' (per kg of their own mass)."""
    from ..preprocess.gait import detect_heel_strikes

    real: dict[str, list[float]] = {f[0]: [] for f in MOMENT_FEATURES}
    masses = []
    for name in names:
        tr = trials[name]
        if "moments" not in tr or "grf" not in tr:
            continue
        mo, grf = tr["moments"], tr["grf"]
        hs = np.asarray(detect_heel_strikes(tr), float)
        vy = [c for c in ("ground_force_vy", "l_ground_force_vy") if c in grf.ch_names]
        if len(hs) < 2 or len(vy) < 2 or any(c not in mo.ch_names for c, _ in _REAL_MOMENTS.values()):
            continue
        a, b = (np.round(hs[[0, -1]] * grf.fs)).astype(int)
        total = sum(np.asarray(grf.data[grf.ch_names.index(c)], float) for c in vy)
        mass = float(np.mean(total[a:b]) / 9.81)
        masses.append(mass)
        cyc = _cycles(mo, hs).mean(0)
        curves = {j: sign * cyc[mo.ch_names.index(ch)] / mass for j, (ch, sign) in _REAL_MOMENTS.items()}
        for feat, joint, win, kind, _ in MOMENT_FEATURES:
            real[feat].append(_feature(curves[joint], win, kind))
    sim: dict[str, list[float]] = {f[0]: [] for f in MOMENT_FEATURES}
    for tr in sim_trials:
        mo = tr["moments"]
        ev = mo.events
        hs = ev.loc[ev["kind"] == "heel_strike", "sample"].to_numpy() / mo.fs
        mass = float(tr.meta["covariates"]["weight"])
        cyc = _cycles(mo, hs).mean(0)
        curves = {j: cyc[mo.ch_names.index(f"{j}_sagittal")] / mass for j in ("ankle", "knee", "hip")}
        for feat, joint, win, kind, _ in MOMENT_FEATURES:
            sim[feat].append(_feature(curves[joint], win, kind))
    rel, floor = MOMENT_TOLERANCE
    out = []
    for feat, joint, win, kind, target in MOMENT_FEATURES:
        r, sv = _finite(real[feat]), _finite(sim[feat])
        if not r.size or not sv.size:
            out.append(not_judged(f"moment: {feat}", "N·m/kg", r, sv, "real or simulated moments missing"))
            continue
        rm, sm = float(r.mean()), float(np.median(sv))
        tol = max(rel * abs(rm), floor)
        out.append(Check(f"moment: {feat} ({win[0]}-{min(win[1], 100)} % cycle)", "N·m/kg", rm, _span(r), sm,
                         _span(sv), f"one real subject ({r.size} trials, mass {np.mean(masses):.0f} kg from GRF): "
                         f"sim median within ±{rel * 100:.0f} % or ±{floor:g} of the trials' mean",
                         bool(abs(sm - rm) <= tol), _spec_note(sm, target) + MOMENT_NOTES.get(feat, "")))
    return out


def _fig_gait(real, sim, path: Path) -> Path:
    from ..report.figures import pyplot, save_png

    plt = pyplot()
    ms = list(real)
    fig, ax = plt.subplots(1, len(ms), figsize=(2.1 * len(ms), 2.6), sharey=True)
    x = np.arange(101)
    for a, m in zip(ax, ms):
        for c in sim[m]:
            e = c.mean(0)
            a.plot(x, e / e.max(), color="tab:blue", alpha=0.5, lw=0.8)
        e = np.concatenate(real[m]).mean(0)
        a.plot(x, e / e.max(), color="k", lw=1.6)
        a.set_title(m, fontsize=9)
        a.set_xlabel("% cycle", fontsize=8)
    fig.tight_layout()
    return save_png(fig, path)


# ------------------------------------------------------------------ stim-artefact-tscs: artefact and response
def _stim_epoch_stats(rec) -> dict[str, Any]:
    """Median stimulus-locked epoch (-5…30 ms) of a 10 Hz high-passed recording and its timing statistics.

    ``decay_ms``: from the artefact's peak |x| to the first sample below 10 % of it;
    ``latency_ms``/``duration_ms``: first/last sample after 2 ms whose |median epoch|
    exceeds max(3 × pre-stimulus SD, 10 % of its post-2 ms peak).
    """
    from ..preprocess.filters import highpass
    from ..preprocess.stimulation import detect_stimuli, epoch_stimulus_locked

    hp = highpass(rec, 10.0)
    st = detect_stimuli(hp)
    ep = epoch_stimulus_locked(hp, st, pre_ms=5.0, post_ms=30.0)
    t = np.asarray(ep.times) * 1e3
    m = np.median(np.asarray(ep.X[:, 0, :], float), axis=0)
    m = m - np.median(m[t < -1.0])
    a = np.abs(m)
    k = int(np.argmax(np.where(t < 2.0, a, 0.0)))
    below = np.flatnonzero((a < 0.1 * a[k]) & (np.arange(a.size) > k))
    decay = float(t[below[0]] - t[k]) if below.size else float("nan")
    late = t >= 2.0
    thr = max(3.0 * float(m[t < -1.0].std()), 0.1 * float(a[late].max()))
    act = np.flatnonzero(late & (a > thr))
    lat = float(t[act[0]]) if act.size else float("nan")
    dur = float(t[act[-1]] - t[act[0]]) if act.size else float("nan")
    return {"t": t, "median": m, "decay_ms": decay, "latency_ms": lat, "duration_ms": dur, "n": len(st)}


def section_stim(root: Path, out: Path, *, seed: int, quick: bool) -> Section:
    from ..io.datasets.small import load_stim_artefact_tscs
    from ..simulate.protocols.evoked import simulate_evoked

    sec = Section("stim-artefact-tscs", "Stimulation artefact and evoked response (stim-artefact-tscs, 30 Hz tSCS)")
    real = _stim_epoch_stats(load_stim_artefact_tscs(root)["on"])
    recs, _ = simulate_evoked(1 if quick else 4, seed, frequencies=(30.0,), train_s=1.0 if quick else 2.0, fs=4000.0)
    sims = [_stim_epoch_stats(r) for r in recs]
    sec.checks += [
        tolerance_check("artefact decay to 10 % of its peak", "ms", real["decay_ms"], [s["decay_ms"] for s in sims],
                        factor=2.0, note="median epoch, 10 Hz high-pass on both"),
        not_judged("response onset latency", "ms", [real["latency_ms"]], [s["latency_ms"] for s in sims],
                   "not comparable: tSCS evokes posterior-root reflexes in a hand muscle (spinal path), the "
                   "simulator stimulates RF/BF motor points (M-wave, spec 3-8 ms)"),
        not_judged("response duration", "ms", [real["duration_ms"]], [s["duration_ms"] for s in sims],
                   "not comparable (reflex vs direct M-wave); amplitude not comparable either (real units a.u.)"),
    ]
    sec.notes.append(f"Real: {real['n']} pulses (stim ON); simulated: {len(recs)} evoked recordings (RF/BF, "
                     "30 Hz, 4 kHz). Pulses found by preprocess.detect_stimuli on both.")
    sec.figures.append(("|median stimulus-locked epoch| normalised to the artefact peak (log scale): real (left), "
                        "simulated (right)", str(_fig_stim(real, sims, out / "stim.png"))))
    return sec


def _fig_stim(real, sims, path: Path) -> Path:
    from ..report.figures import pyplot, save_png

    plt = pyplot()
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.2), sharey=True)
    for a, group, name in ((ax[0], [real], "real"), (ax[1], sims, "simulated")):
        for s in group:
            v = np.abs(s["median"])
            a.semilogy(s["t"], v / v.max() + 1e-6, lw=0.8)
        a.axhline(0.1, color="grey", ls=":", lw=0.8)
        a.set_title(name, fontsize=9)
        a.set_xlabel("ms after the pulse")
    fig.tight_layout()
    return save_png(fig, path)


# ------------------------------------------------------------------ elderly-lowerlimb-emg: isometric spectra
#: real muscle → simulated muscle (the lowerlimb protocol simulates all four, GL included)
ELDERLY_MAP = {"VL": "VL", "BF": "BF", "TA": "TA", "GL": "GL"}
#: a contracting muscle's channel below this RMS (band-passed) holds amplifier noise, not EMG, µV
NOISE_FLOOR_UV = 3.0


def _central(x: np.ndarray) -> np.ndarray:
    n = x.shape[-1]
    return x[..., int(0.2 * n):int(0.8 * n)]


#: Real elderly subjects the report scores (even ids) and the ones the simulator was calibrated on (odd ids,
#: ``benchmarks/calibrate_lowerlimb.py``): the report is never judged on the subjects it was fitted to.
SCORE_SUBJECTS = tuple(range(2, 31, 2))
CALIBRATION_SUBJECTS = tuple(range(1, 31, 2))
HALVES = ("score", "calibrate", "all")


def elderly_subjects(half: str = "score", quick: bool = False) -> list[int] | None:
    """Real elderly subject ids of one half: ``score`` (even), ``calibrate`` (odd) or ``all`` (None)."""
    if half not in HALVES:
        raise MyoflowError(f"half must be one of {HALVES}, got {half!r}")
    ids = {"score": list(SCORE_SUBJECTS), "calibrate": list(CALIBRATION_SUBJECTS), "all": list(range(1, 31))}[half]
    return ids[:3] if quick else (None if half == "all" else ids)


def section_elderly(root: Path, out: Path, *, seed: int, quick: bool, half: str = "score") -> Section:
    """The ``lowerlimb`` protocol (its shipped, calibrated physiology) vs one half of the real subjects.

    The protocol's [A] physiology (:data:`~myoflow.simulate.protocols.lowerlimb.PHYSIOLOGY`) was chosen by
    ``benchmarks/calibrate_lowerlimb.py`` on the odd subject ids only; by default this section scores the
    even ids (``half="score"``), so no judged statistic comes from a subject the simulator was fitted to.
    """
    from ..io.datasets.elderly import load_elderly_lowerlimb
    from ..simulate.protocols.lowerlimb import simulate_lowerlimb

    sec = Section("elderly-lowerlimb-emg", "Isometric contractions of VL, BF, TA, GL (elderly-lowerlimb-emg)")
    trials = load_elderly_lowerlimb(root, progress=False, subjects=elderly_subjects(half, quick))
    real: dict[str, list[dict]] = {m: [] for m in ELDERLY_MAP}
    for tr in trials:
        m = str(tr.meta.get("muscle"))
        if m not in real:
            continue
        e = tr["emg"]
        x = _central(_bandpass(e.data[e.ch_names.index(m)], e.fs))
        real[m].append(_amplitude_stats(x, e.fs))
    dur = 3.0 if quick else 6.0
    recs, _ = simulate_lowerlimb(2 if quick else 10, seed, duration_s=dur)
    sim: dict[str, list[dict]] = {m: [] for m in ELDERLY_MAP}
    for rec in recs:
        sim[rec.meta["muscle"]].append(_amplitude_stats(_central(_bandpass(rec.data[0], rec.fs)), rec.fs))
    n_sub = len({str(t.meta.get("subject")) for t in trials})
    spread = f"real subjects ({half} half)"
    for m in ELDERLY_MAP:
        real_rms = np.median([d["rms_uv"] for d in real[m]]) if real[m] else np.nan
        for key, name, unit in (("mnf", "MNF", "Hz"), ("mdf", "MDF", "Hz"), ("rms_uv", "RMS", "µV"),
                                ("kurtosis", "kurtosis", "")):
            r_vals, s_vals = [d[key] for d in real[m]], [d[key] for d in sim[m]]
            if real_rms < NOISE_FLOOR_UV:
                # measured, not assumed: in this set the GL column holds ~1.4 µV of white noise in every task
                sec.checks.append(not_judged(f"{m}: {name}", unit, r_vals, s_vals,
                                             f"the real {m} channel carries no EMG (median RMS {real_rms:.1f} µV "
                                             f"< {NOISE_FLOOR_UV:g} µV, flat spectrum): nothing to compare"))
                continue
            note = ELDERLY_NOTES.get((m, key), "")
            sec.checks.append(range_check(f"{m}: {name}", unit, r_vals, s_vals, spread, note))
    which = {"score": "even ids (the calibration used the odd ids)", "calibrate": "odd ids (the calibration "
             "half: not an independent score)", "all": "all ids (includes the calibration half)"}[half]
    sec.notes.append(f"Real: {n_sub} subjects aged 64-82, {which}; central 6 s of each 10 s contraction, "
                     f"20-450 Hz. Simulated: {len(recs) // 4} subjects of the lowerlimb protocol (seed {seed}, "
                     f"its shipped physiology), {dur:g} s holds (central 60 %), same statistics.")
    sec.figures.append(("Isometric PSDs (normalised): real subjects (grey, mean black) vs simulated (blue)",
                        str(_fig_elderly(real, sim, out / "elderly.png"))))
    return sec


#: Reasons written beside elderly statistics that the calibration could not bring into range (filled from
#: the calibration record; empty when it passes).
ELDERLY_NOTES: dict[tuple[str, str], str] = {
    ("VL", "rms_uv"): "effort level not stated upstream: sim drive U(30 %, 70 %) of maximal excitation [A]",
}


def _fig_elderly(real, sim, path: Path) -> Path:
    from ..report.figures import pyplot, save_png

    plt = pyplot()
    fig, ax = plt.subplots(1, 4, figsize=(13, 3), sharey=True)
    for a, m in zip(ax, ELDERLY_MAP):
        for d in real[m]:
            a.plot(d["f"], d["psd"], color="0.7", lw=0.5)
        if real[m]:
            a.plot(real[m][0]["f"], np.mean([d["psd"] for d in real[m]], 0), color="k", lw=1.5, label="real")
        for d in sim[m]:
            a.plot(d["f"], d["psd"], color="tab:blue", lw=0.8, alpha=0.7)
        a.set_title(m, fontsize=9)
        a.set_xlabel("Hz")
    fig.tight_layout()
    return save_png(fig, path)


# ------------------------------------------------------------------ elderly-lowerlimb-emg: sim → real transfer
TRANSFER_GOAL = 0.50  # issue #18: >= 50 % 4-class window accuracy on the real set (chance 25 %)


def section_simreal(root: Path, out: Path, *, seed: int, quick: bool) -> Section:
    """Models trained only on the ``lowerlimb`` protocol, scored on the real set (:mod:`.simreal`)."""
    import os

    from .simreal import SimRealConfig, plot_confusions, run_simreal

    sec = Section("elderly-lowerlimb-emg (sim → real)",
                  "Sim → real: trained only on simulated VL/BF/TA/GL, tested on the real elderly set")
    cfg = (SimRealConfig(n_train=4, n_select=2, seed=seed, real_subjects=4, models=("lda", "rf"), n_boot=200,
                         duration_s=4.0) if quick else SimRealConfig(seed=seed))
    cache = os.environ.get("MYOFLOW_CACHE")
    res = run_simreal(cfg, cache_dir=Path(cache) if cache else None, real_path=root)
    pct = lambda v: 100.0 * float(v)  # noqa: E731
    for name, d in res["models"].items():
        r4, r3 = d["real_4class"], d["real_3class"]
        sel = pct(d["select_window_accuracy"])
        acc = r4["window"]["accuracy"]
        rule = (f"goal: real >= {pct(TRANSFER_GOAL):g} % (chance 25 %); real range = 95 % subject-bootstrap CI; "
                "sim = held-out simulated cohort")
        sec.checks.append(Check(f"{name}: 4-class window accuracy", "%", pct(acc),
                                tuple(map(pct, r4["window"]["ci95"])), sel, None, rule, bool(acc >= TRANSFER_GOAL)))
        for label, r, why in (("4-class per-recording vote", r4["vote"], "soft vote over each recording's windows"),
                              ("3-class VL/BF/TA window", r3["window"], "the real GL channel carries no EMG"),
                              ("3-class VL/BF/TA vote", r3["vote"], "per recording")):
            chance = 100 / len(r["confusion"]["rows_true_cols_pred"])
            sec.checks.append(Check(f"{name}: {label}", "%", pct(r["accuracy"]), tuple(map(pct, r["ci95"])), None,
                                    None, "not judged", None, f"{why}; chance {chance:.0f} %"))
    chosen = "; ".join(f"{m}: {c['recipe']} (on {c['on']})" for m, c in res["chosen"].items())
    sec.notes.append(
        f"Train: {res['cohorts']['sim_train']['n_subjects']} simulated subjects (lowerlimb protocol, seed {seed}); "
        f"real scored: {res['cohorts']['real']['n_subjects']} subjects, {res['cohorts']['real']['n_windows']} "
        "windows of 500 ms. Fixed a priori: window, 20-450 Hz / 1 kHz preprocessing, LDA/RF defaults, CNN size. "
        f"Transfer recipe per model: {res['settings']['selection']}. Chosen: {chosen}.")
    sec.figures.append(("Real 4-class window confusion matrices (row-normalised) of models trained only on "
                        "simulated subjects", str(plot_confusions(res, out / "simreal_confusion.png"))))
    return sec


# ------------------------------------------------------------------ driver and report
#: Sections run only when named with ``only`` (they train models: minutes, not seconds).
OPT_IN_SECTIONS: dict[str, tuple[str, Callable[..., Section]]] = {
    "simreal": ("elderly-lowerlimb-emg", section_simreal),
}
#: section key → (dataset folder, function)
SECTIONS: dict[str, tuple[str, Callable[..., Section]]] = {
    "bursts": ("biosignalsnotebooks", section_bursts),
    "muaps": ("openhdemg-otb", section_muaps),
    "gait": ("ceinms-gait", section_gait),
    "stim": ("stim-artefact-tscs", section_stim),
    "elderly": ("elderly-lowerlimb-emg", section_elderly),
}


def validate_simulator(out_dir: str | Path, data_dir: str | Path | None = None, *, seed: int = 0,
                       quick: bool = False, only: Sequence[str] | None = None,
                       half: str = "score") -> tuple[Path, list[Section]]:
    """Run every section, write ``out_dir/validation.json`` and ``out_dir/report.html``.

    Parameters
    ----------
    out_dir : folder to write (created; figures under ``figures/``).
    data_dir : folder holding the public datasets (default: the shared-data folder).
    seed : simulator seed (same seed → same numbers).
    quick : small simulated cohorts and a 3-subject slice of the elderly set (for tests, < 30 s).
    only : section keys to run (default all of :data:`SECTIONS`; :data:`OPT_IN_SECTIONS`, e.g. the
        sim → real transfer ``simreal``, run only when named here).
    half : real elderly subjects to score: ``"score"`` (even ids, default: the simulator was calibrated on
        the odd ids by ``benchmarks/calibrate_lowerlimb.py``), ``"calibrate"`` (odd ids) or ``"all"``.

    Returns
    -------
    (path of report.html, sections)
    """
    from threadpoolctl import threadpool_limits

    from ..pipelines._shared import shared_data_dir

    out = Path(out_dir)
    root = Path(data_dir) if data_dir is not None else shared_data_dir()
    figs = out / "figures"
    figs.mkdir(parents=True, exist_ok=True)
    if half not in HALVES:
        raise MyoflowError(f"half must be one of {HALVES}, got {half!r}")
    keys = list(SECTIONS) if not only else list(only)
    sections: list[Section] = []
    for key in keys:
        folder, fn = {**SECTIONS, **OPT_IN_SECTIONS}[key]
        path = root / folder
        t0 = time.perf_counter()
        if not path.is_dir():
            sec = Section(folder, folder, status="absent", message=f"dataset folder not found: {path}")
        else:
            try:
                with threadpool_limits(limits=1, user_api="blas"):
                    extra = {"half": half} if fn is section_elderly else {}
                    sec = fn(path, figs, seed=seed, quick=quick, **extra)
            except MyoflowError as exc:  # a DataError with a source names its file already
                sec = Section(folder, folder, status="error",
                              message=str(exc) if getattr(exc, "source", None) else f"{path}: {exc}")
            except Exception as exc:  # a reader's own failure on a corrupt file (e.g. scipy's MatReadError)
                log.debug("validate-simulator %s failed", key, exc_info=True)
                sec = Section(folder, folder, status="error", message=f"{path}: {type(exc).__name__}: {exc}")
        sec.seconds = _seconds(t0)
        log.info("validate-simulator %s: %s in %.1f s", key, sec.status, sec.seconds)
        sections.append(sec)
    _write_json(out / "validation.json", sections, seed=seed, quick=quick, root=root, half=half)
    return _write_html(out / "report.html", sections, seed=seed, quick=quick, root=root, half=half), sections


def _jsonable(v: Any) -> Any:
    if isinstance(v, float):
        return v if np.isfinite(v) else None
    if isinstance(v, (tuple, list)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    return v


def _write_json(path: Path, sections: list[Section], **info: Any) -> Path:
    import json

    from .._atomic import atomic_write_text

    blob = {"info": {k: str(v) for k, v in info.items()}, "sections": [_jsonable(asdict(s)) for s in sections]}
    atomic_write_text(path, json.dumps(blob, indent=1, allow_nan=False))
    return path


def _num(v: Any) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "–"
    a = abs(v)
    return f"{v:.0f}" if a >= 100 else f"{v:.1f}" if a >= 10 else f"{v:.2f}"


def _rng(r: Any) -> str:
    return "–" if not r else f"[{_num(r[0])}, {_num(r[1])}]"


_HALF_TEXT = {"score": "even ids; the simulator was calibrated on the odd ids",
              "calibrate": "odd ids: the calibration half, NOT an independent score",
              "all": "all ids: includes the calibration half"}


def _write_html(path: Path, sections: list[Section], *, seed: int, quick: bool, root: Path,
                half: str = "score") -> Path:
    import base64
    import html

    from .._atomic import atomic_write_text
    from ..report.html import CSS

    verdict = {True: '<td class="ok">pass</td>', False: '<td class="bad">FAIL</td>', None: "<td>–</td>"}
    judged = [c.passed for s in sections for c in s.checks if c.passed is not None]
    parts = ["<h1>myoflow: simulator vs real recordings</h1>",
             f'<p class="muted">seed {seed}{" (quick mode: small cohorts)" if quick else ""}; data: '
             f"{html.escape(str(root))}; {sum(judged)} of {len(judged)} judged statistics pass. Real elderly "
             f"subjects scored: {html.escape(half)} half ({_HALF_TEXT[half]}).</p>",
             "<h2>Summary</h2>"]
    rows = "".join(
        f'<tr><td class="l">{html.escape(s.key)}</td><td class="l">{html.escape(s.status)}</td>'
        f"<td>{sum(c.passed is True for c in s.checks)}</td><td>{sum(c.passed is False for c in s.checks)}</td>"
        f"<td>{sum(c.passed is None for c in s.checks)}</td><td>{s.seconds:.1f}</td>"
        f'<td class="l">{html.escape(s.message)}</td></tr>' for s in sections)
    parts.append('<table><thead><tr><th class="l">dataset</th><th class="l">status</th><th>pass</th><th>fail</th>'
                 f'<th>not judged</th><th>s</th><th class="l">note</th></tr></thead><tbody>{rows}</tbody></table>')
    for s in sections:
        parts.append(f"<h2>{html.escape(s.title)}</h2>")
        if s.status != "compared":
            parts.append(f"<p><b>{html.escape(s.status)}</b>: {html.escape(s.message)}</p>")
            continue
        body = "".join(
            f'<tr><td class="l">{html.escape(c.statistic)}</td><td>{html.escape(c.unit)}</td><td>{_num(c.real)}</td>'
            f"<td>{_rng(c.real_range)}</td><td>{_num(c.sim)}</td><td>{_rng(c.sim_range)}</td>"
            f'<td class="l">{html.escape(c.rule)}</td>{verdict[c.passed]}<td class="l">{html.escape(c.note)}</td></tr>'
            for c in s.checks)
        parts.append('<table><thead><tr><th class="l">statistic</th><th>unit</th><th>real (median)</th>'
                     "<th>real range</th><th>sim (median)</th><th>sim range</th><th class=\"l\">rule</th>"
                     f'<th>verdict</th><th class="l">note</th></tr></thead><tbody>{body}</tbody></table>')
        for n in s.notes:
            parts.append(f'<p class="muted">{html.escape(n)}</p>')
        for cap, p in s.figures:
            data = base64.b64encode(Path(p).read_bytes()).decode("ascii")
            parts.append(f'<figure><img alt="{html.escape(cap)}" src="data:image/png;base64,{data}">'
                         f"<figcaption>{html.escape(cap)}</figcaption></figure>")
    parts.append("<h2>Sources</h2><p class=\"muted\">Real recordings as listed in ../shared/data/README.md "
                 "(biosignalsnotebooks 0.6.14, MIT; openhdemg 0.1.2 test file; CEINMS-RT LowerLimbModel, Apache-2.0; "
                 "Verma et al. 2025 J Neurophysiol 134 tSCS data, MIT; Silva et al. 2024 BSPC 88:105635, CC0).</p>")
    css = CSS + "td.ok{background:#e6f4e6}td.bad{background:#fbe3e3;font-weight:bold}"
    page = ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>myoflow: simulator validation"
            f"</title><style>{css}</style></head><body>" + "\n".join(parts) + "</body></html>\n")
    atomic_write_text(path, page)
    return path
