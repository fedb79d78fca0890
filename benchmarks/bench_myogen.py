"""myoflow's simulator side by side with MyoGen (PyPI ``myogen``) on the same muscle, grid and rate.

Issue 20. MyoGen requires Python ≥ 3.12 and this project's venv runs 3.11, so MyoGen
lives in a venv of its own, built once from a Python ≥ 3.12 found on the machine
(``--python``, ``$MYOFLOW_MYOGEN_PYTHON``, pyenv's versions or ``python3.12``/``3.13``
on PATH) under the user cache (``$MYOFLOW_CACHE/bench/myogen-venv``, or ``--venv``),
never in the repository; ``pip install myogen`` is the only download and happens only
when that venv is built. MyoGen then runs in a subprocess (``_myogen_worker.py``).
Without such a Python, or when the venv cannot be built or imported, the MyoGen rows
say why and myoflow's figures are still measured.

The shared work
---------------
* **Muscle.** MyoGen builds a cylindrical muscle (``Muscle``: radius, fibre density,
  Fuglevand recruitment thresholds, fibre placement and unit territories). Its units'
  fibre counts, territory centres and radii are exported, and myoflow computes the
  same units: depth below the muscle surface under the grid centre and lateral offset
  from the territory centre, the same fibre count, territory radius, conduction
  velocity, fibre length and tissue (fat, skin and the four conductivities).
* **Grid and rate.** 13 × 5 monopolar electrodes, 8 mm apart, 1 mm radius (the
  OT Bioelettronica GR08MM1305 layout of the real ``openhdemg-otb`` recording), rows
  along the fibres; 2048 Hz.
* **MUAPs.** MyoGen: ``SurfaceEMG.simulate_muaps`` with the package's default
  resolution, through its optimised CPU route (``execution=ExecutionPolicy``), one
  process. myoflow: the fast path (``fast_muaps``), the numerical path
  (``numerical_muaps``; units whose BioMime conditions fall outside its ranges are left
  out and counted) and the MUAP generator (untrained, default architecture, 13 × 5
  output: its cost does not depend on its weights).
* **10 s contraction.** One excitation (0.5 s ramps to a 30 % plateau), one set of
  discharge times from myoflow's motor-unit pool, given to both: myoflow (fresh
  process: spike trains, fast MUAPs, synthesis) vs MyoGen (muscle, MUAPs, synthesis
  from the same spikes; MyoGen's NEURON motor-neuron model is not run).

Every thread pool is held at one thread on both sides. Speed ratios come from the
same run (not interleaved: MyoGen runs in one long subprocess), with wall and CPU time.
Output comparison: MUAP peak-to-peak, duration and spatial spread
(:func:`myoflow.preprocess.muap_templates.shape_statistics`) of myoflow,
MyoGen and the real spike-triggered templates, and the interference EMG's RMS and
median frequency, as rows and the figure ``results/myogen.png``.

Run: ``python benchmarks/bench_myogen.py [--quick] [--no-install] [--python PY] [--venv DIR]``
→ ``benchmarks/results/myogen.json`` (+ ``myogen.png``).
"""
from __future__ import annotations

import glob
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    BENCH_DIR, Benchmark, Row, bench_argparser, proc_status_mb, setup_logging, shared_data_dir, time_repeats,
)

log = logging.getLogger("bench.myogen")

WORKER = BENCH_DIR / "_myogen_worker.py"
MYOGEN_PYTHON_ENV = "MYOFLOW_MYOGEN_PYTHON"
SUPPORTED = ((3, 12), (3, 13))  # MyoGen 0.12: Requires-Python >=3.12,<3.14
GRID = (13, 5)
IED_MM = 8.0
ELECTRODE_RADIUS_MM = 1.0
FS = 2048.0
N_SAMPLES = 96  # 46.9 ms MUAP windows at 2048 Hz, 5 ms before the discharge (numerical path)
PRE_MS = 5.0
CONTRACTION_S = 10.0
PLATEAU = 0.3


@dataclass(frozen=True)
class MuscleSpec:
    """The muscle both simulators compute (MyoGen places the fibres)."""

    n_units: int = 8
    rr: float = 30.0
    radius_mm: float = 8.0
    fibre_density_per_mm2: float = 3.0
    max_territory_ratio: float = 0.25
    cv_m_s: float = 4.0
    fibre_length_mm: float = 70.0
    fibre_length_var_mm: float = 2.0
    bone_radius_mm: float = 1.0


QUICK_MUSCLE = MuscleSpec(n_units=3, fibre_density_per_mm2=0.1)


def _tissue():
    from myoflow.simulate.volume_conductor import Tissue

    # fat 6 mm + skin 1 mm puts every unit of the 8 mm muscle at a BioMime depth of 7–23 mm,
    # so the numerical path (conditions in BioMime's ranges) can compute the same units.
    return Tissue(fat_mm=6.0, skin_mm=1.0)


# --------------------------------------------------------------------------- the MyoGen venv

def _py_version(python: str) -> tuple[int, int] | None:
    try:
        out = subprocess.run([python, "-c", "import sys; print(*sys.version_info[:2])"], capture_output=True,
                             text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    try:
        major, minor = map(int, out.stdout.split())
    except ValueError:
        return None
    return major, minor


def find_python(explicit: str | None = None) -> tuple[str | None, str]:
    """A Python that MyoGen supports: ``explicit``, ``$MYOFLOW_MYOGEN_PYTHON``, pyenv, PATH.

    Returns ``(path or None, why)``; an explicit or environment choice is never replaced
    by a search (so a wrong one is reported, not silently bypassed).
    """
    chosen = explicit or os.environ.get(MYOGEN_PYTHON_ENV)
    if chosen:
        v = _py_version(chosen)
        if v is None:
            return None, f"interpreter {chosen} does not run"
        if v not in SUPPORTED:
            return None, f"interpreter {chosen} is Python {v[0]}.{v[1]}; MyoGen needs 3.12 or 3.13"
        return chosen, f"Python {v[0]}.{v[1]} ({chosen})"
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = sorted(glob.glob(str(root / "versions" / "3.1[23]*" / "bin" / "python")))  # 3.12 first
    candidates += [p for p in (shutil.which("python3.12"), shutil.which("python3.13")) if p]
    for c in candidates:
        v = _py_version(c)
        if v in SUPPORTED:
            return c, f"Python {v[0]}.{v[1]} ({c})"
    return None, "no Python 3.12/3.13 found (pyenv versions, python3.12/python3.13 on PATH); MyoGen needs one"


def default_venv_dir() -> Path:
    """``$MYOFLOW_CACHE/bench/myogen-venv`` (else the user cache dir): never inside the repository."""
    from myoflow.experiments.runner import default_cache_dir

    return default_cache_dir() / "bench" / "myogen-venv"


def _venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def check_venv(venv: Path) -> tuple[bool, str]:
    """Whether ``venv`` imports MyoGen; the version or the reason it does not."""
    py = _venv_python(venv)
    if not py.exists():
        return False, f"no interpreter at {py}"
    try:
        out = subprocess.run([str(py), "-c", "import importlib.metadata as m, myogen; print(m.version('myogen'))"],
                             capture_output=True, text=True, timeout=300, env=_worker_env())
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"import myogen did not finish ({type(exc).__name__})"
    if out.returncode != 0:
        tail = [ln for ln in (out.stderr or out.stdout).strip().splitlines() if ln.strip()]
        return False, f"import myogen fails: {tail[-1][:200] if tail else 'no output'}"
    return True, out.stdout.strip().splitlines()[-1]


def ensure_venv(python: str | None, venv: Path, install: bool, timeout: float = 1800,
                why_no_python: str = "no Python 3.12/3.13") -> tuple[Path | None, str]:
    """MyoGen's venv at ``venv``: reuse it if it imports MyoGen, else (re)build it once from ``python``.

    Returns ``(venv python or None, message)``; ``why_no_python`` is the message when
    ``python`` is None.
    """
    ok, msg = check_venv(venv)
    if ok:
        return _venv_python(venv), f"cached venv {venv} (myogen {msg})"
    broken = f"; the cached venv was unusable ({msg})" if _venv_python(venv).exists() else ""
    if not install:
        return None, f"no usable MyoGen venv at {venv} ({msg}) and --no-install given"
    if python is None:
        return None, f"cannot build the MyoGen venv: {why_no_python}" + broken
    if venv.exists():
        if not (venv / "pyvenv.cfg").is_file() and any(venv.iterdir()):
            # never delete a folder that is not a venv (a mistyped --venv)
            return None, f"{venv} exists and is not a venv; not replacing it" + broken
        shutil.rmtree(venv)
    venv.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    steps = ([python, "-m", "venv", str(venv)],
             [str(_venv_python(venv)), "-m", "pip", "install", "--quiet", "myogen"])
    for cmd in steps:
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return None, f"building the MyoGen venv: `{' '.join(cmd[-2:])}` timed out after {timeout:.0f} s" + broken
        if proc.returncode != 0:
            err = [ln for ln in (proc.stderr or proc.stdout).strip().splitlines() if ln.startswith("ERROR")]
            err = err or (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            return None, f"building the MyoGen venv failed at `{' '.join(cmd[-2:])}`: {err[-1][:250]}" + broken
    ok, msg = check_venv(venv)
    if not ok:
        return None, f"MyoGen venv built at {venv} but {msg}"
    return _venv_python(venv), f"built venv {venv} in {time.perf_counter() - t0:.0f} s (myogen {msg}){broken}"


def _worker_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env[k] = "1"
    env["MYOGEN_DISABLE_GPU"] = "1"
    env["MPLBACKEND"] = "Agg"
    return env


def run_myogen(py: Path, spec: dict, work: Path, timeout: float) -> tuple[dict | None, dict | None, str]:
    """Run the worker; returns ``(result, arrays, message)``."""
    spec_path = work / "spec.json"
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    log_path = work / "myogen_worker.log"
    t0 = time.perf_counter()
    try:
        with open(log_path, "w", encoding="utf-8") as fh:
            proc = subprocess.run([str(py), str(WORKER), str(spec_path), str(work)], stdout=fh,
                                  stderr=subprocess.STDOUT, timeout=timeout, env=_worker_env(), cwd=str(work))
    except subprocess.TimeoutExpired:
        return None, None, f"MyoGen worker timed out after {timeout:.0f} s"
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        lines = [ln for ln in log_path.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
        return None, None, f"MyoGen worker failed (exit {proc.returncode}): {lines[-1][:250] if lines else ''}"
    res = json.loads((work / "myogen_result.json").read_text(encoding="utf-8"))
    res["subprocess_wall_s"] = wall
    with np.load(work / "myogen_arrays.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    return res, arrays, "ok"


# --------------------------------------------------------------------------- myoflow side

def excitation(fs: float) -> np.ndarray:
    """10 s: 0.5 s ramp, plateau at :data:`PLATEAU`, 0.5 s ramp down."""
    t = np.arange(int(round(CONTRACTION_S * fs))) / fs
    return PLATEAU * np.clip(np.minimum(t / 0.5, (CONTRACTION_S - t) / 0.5), 0.0, 1.0)


def make_spikes(n_units: int, seed: int) -> list[np.ndarray]:
    """Discharge sample indices (at :data:`FS`) of each unit of an ``n_units`` pool for :func:`excitation`.

    Fuglevand pool, recruitment range 30 (as MyoGen's thresholds); the fibre counts of the
    pool only scale twitch forces, which the EMG does not use.
    """
    from myoflow.simulate.motor_units import MotorUnitPool

    rng = np.random.default_rng(seed)
    pool = MotorUnitPool.create(n_units, rng, rr=30.0)
    return pool.spike_trains(excitation(FS), FS, rng)


def geometry_from_myogen(res: dict, muscle: MuscleSpec):
    """myoflow MotorUnitGeometry of MyoGen's units (planar view under the grid centre)."""
    from myoflow.simulate.volume_conductor import MotorUnitGeometry

    units = res["units"]
    c = np.asarray(res["centres_mm"], float)[units]
    n = np.asarray(res["n_fibres"], float)[units]
    rad = np.asarray(res["territory_radius_mm"], float)[units]
    # MyoGen's grid centre sits at angle 0, i.e. over (R, 0): depth below the muscle surface R − x, offset y
    return MotorUnitGeometry(
        depth_mm=np.maximum(muscle.radius_mm - c[:, 0], 0.0), y_mm=c[:, 1], iz_mm=np.zeros(len(units)),
        fibre_length_mm=np.full(len(units), muscle.fibre_length_mm), iz_fraction=np.full(len(units), 0.5),
        cv_m_s=np.full(len(units), muscle.cv_m_s), n_fibres=n, territory_radius_mm=rad)


def conditions_from_geometry(geom, tissue, muscle: MuscleSpec) -> tuple[np.ndarray, np.ndarray]:
    """BioMime conditions of the units; returns (conditions (k, 6), index of the in-range units)."""
    from myoflow.simulate.numerical import MUAP_CONDITION_RANGES, MUAP_CONDITIONS

    cond = np.column_stack([
        np.log(geom.n_fibres), geom.depth_mm + tissue.fat_mm + tissue.skin_mm, geom.y_mm / 40.0 + 0.5,
        geom.iz_fraction, geom.cv_m_s, geom.fibre_length_mm / muscle.fibre_length_mm])
    ok = np.ones(len(cond), bool)
    for j, name in enumerate(MUAP_CONDITIONS):
        lo, hi = MUAP_CONDITION_RANGES[name]
        ok &= (cond[:, j] >= lo) & (cond[:, j] <= hi)
    return cond[ok], np.flatnonzero(ok)


def numerical_setup(tissue, muscle: MuscleSpec):
    from myoflow.simulate.numerical import NumericalSetup

    return NumericalSetup(tissue=tissue, rest_fibre_length_mm=muscle.fibre_length_mm, rows=GRID[0], cols=GRID[1],
                          ied_mm=IED_MM, radius_mm=ELECTRODE_RADIUS_MM, fs=FS, n_samples=N_SAMPLES, pre_ms=PRE_MS)


def electrodes():
    from myoflow.simulate.volume_conductor import ElectrodeArray

    return ElectrodeArray.grid(*GRID, IED_MM, radius_mm=ELECTRODE_RADIUS_MM)


def _contraction_child(payload_path: str, out_path: str) -> int:
    """Fresh-process myoflow contraction (for wall time and peak RSS): spikes, fast MUAPs, synthesis."""
    from myoflow._atomic import atomic_write_json
    from myoflow.simulate.emg import synthesize_emg
    from myoflow.simulate.volume_conductor import MotorUnitGeometry, fast_muaps

    p = json.loads(Path(payload_path).read_text(encoding="utf-8"))
    base_rss = proc_status_mb("VmHWM")
    tissue = _tissue()
    w0, c0 = time.perf_counter(), time.process_time()
    spikes = make_spikes(p["pool_units"], p["seed"])
    spikes = [spikes[u] for u in p["units"]]  # the units MyoGen gave fibres to
    t_spk = time.perf_counter() - w0
    geom = MotorUnitGeometry(**{k: np.asarray(v, float) for k, v in p["geometry"].items()})
    muaps = fast_muaps(geom, tissue, electrodes(), FS, duration_ms=None)
    t_mu = time.perf_counter() - w0 - t_spk
    n = int(round(CONTRACTION_S * FS))
    emg = synthesize_emg([s[s < n] for s in spikes], muaps, n)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    np.save(Path(out_path).with_suffix(".npy"), emg.astype(np.float32))
    atomic_write_json(out_path, {"wall_s": wall, "cpu_s": cpu, "spikes_s": t_spk, "muaps_s": t_mu,
                                 "synthesis_s": wall - t_spk - t_mu, "peak_rss_mb": proc_status_mb("VmHWM"),
                                 "import_rss_mb": base_rss})
    return 0


def run_contraction(geom, pool_units: int, units: list[int], seed: int, work: Path) -> tuple[dict, np.ndarray]:
    """The myoflow contraction in a fresh process; returns (timings and peak RSS, EMG (channels, n))."""
    payload = {"pool_units": pool_units, "units": list(units), "seed": seed,
               "geometry": {k: getattr(geom, k).tolist() for k in (
                   "depth_mm", "y_mm", "iz_mm", "fibre_length_mm", "iz_fraction", "cv_m_s", "n_fibres",
                   "territory_radius_mm")}}
    pp, out = work / "contraction_in.json", work / "contraction_out.json"
    pp.write_text(json.dumps(payload), encoding="utf-8")
    env = dict(os.environ)
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--_contraction", str(pp), str(out)],
                          capture_output=True, text=True, env=env, timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(f"myoflow contraction process failed: {(proc.stderr or '').strip().splitlines()[-1:]}")
    return json.loads(out.read_text(encoding="utf-8")), np.load(out.with_suffix(".npy"))


def emg_stats(emg: np.ndarray, fs: float, window_s: tuple[float, float] = (1.0, 9.0)) -> dict[str, float]:
    """RMS (µV) and median frequency (Hz), medians over channels, in ``window_s`` after a 20–500 Hz band-pass."""
    from scipy import signal

    from myoflow.simulate.emg import median_frequency

    x = np.asarray(emg, float)
    i0, i1 = int(window_s[0] * fs), min(int(window_s[1] * fs), x.shape[1])
    sos = signal.butter(4, [20.0, min(500.0, 0.45 * fs)], btype="band", fs=fs, output="sos")
    y = signal.sosfiltfilt(sos, x, axis=1)[:, i0:i1]  # filter first: no edge transient inside the window
    rms = np.sqrt(np.mean(y ** 2, axis=1))
    live = rms > 0.05 * rms.max() if rms.max() > 0 else np.ones_like(rms, bool)  # skip dead channels
    return {"rms_uv": float(np.median(rms[live]) * 1e6), "mdf_hz": float(np.median(median_frequency(y[live], fs)))}


def real_reference() -> tuple[object | None, dict | None, str]:
    """Real spike-triggered MUAP templates and EMG statistics of ``openhdemg-otb`` (or why not)."""
    root = shared_data_dir()
    path = root / "openhdemg-otb" if root else None
    if path is None or not path.exists():
        return None, None, "../shared/data/openhdemg-otb absent"
    from myoflow.io.datasets.openhdemg import load_openhdemg_otb
    from myoflow.preprocess.muap_templates import real_muap_templates

    tpl = real_muap_templates(path)
    trial = load_openhdemg_otb(path)
    if isinstance(trial, dict):
        trial = next(iter(trial.values()))
    emg = trial["emg"]
    window = (0.0, emg.n_samples / emg.fs)
    if "force" in trial.names:  # the plateau of its trapezoid: force >= 90 % of its maximum
        f = np.asarray(trial["force"].data[0], float)
        above = np.flatnonzero(f >= 0.9 * np.nanmax(f))
        window = (above[0] / emg.fs, (above[-1] + 1) / emg.fs)
    i0, i1 = (int(w * emg.fs) for w in window)
    return tpl, {"emg": emg_stats(emg.data, emg.fs, window), "fs": emg.fs, "window_s": window,
                 "data": emg.data[:, i0:i1]}, str(path)


# --------------------------------------------------------------------------- figure

def plot(stats: dict, emgs: dict, out: Path) -> Path:
    from scipy import signal

    from myoflow.report.figures import pyplot, save_png

    plt = pyplot()
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.6))
    names = list(stats)
    colours = {"real STA": "tab:green", "real (openhdemg-otb)": "tab:green", "myoflow fast": "k",
               "myoflow numerical": "tab:blue", "MyoGen": "tab:red"}
    for ax, (col, label, logy) in zip(axes[:3], (("ptp_uv", "p-p (µV)", True), ("duration_ms", "duration (ms)", False),
                                                 ("spread_mm", "spatial spread (mm)", False))):
        data = [stats[n][col].to_numpy(float) for n in names]
        ax.boxplot(data, showfliers=False)
        for i, d in enumerate(data):
            jit = np.random.default_rng(i).uniform(-0.15, 0.15, len(d))
            ax.scatter(np.full(len(d), i + 1) + jit, d, s=12, alpha=0.7, color=colours.get(names[i], "grey"))
        ax.set_xticks(range(1, len(names) + 1), [n.replace("myoflow ", "myoflow\n") for n in names], fontsize=7)
        ax.set_title(label, fontsize=9)
        if logy:
            ax.set_yscale("log")
    ax = axes[3]
    for name, (x, fs) in emgs.items():
        f, p = signal.welch(np.asarray(x, float), fs=fs, nperseg=int(fs // 4), axis=1)
        pm = np.median(p, axis=0)
        ax.semilogy(f, pm / pm.max(), label=name, color=colours.get(name, None))
    ax.set_xlim(0, 500)
    ax.set_xlabel("Hz", fontsize=8)
    ax.set_title("interference EMG PSD (median over channels, normalised)", fontsize=8)
    ax.legend(fontsize=7, frameon=False)
    fig.suptitle("MUAP shapes on the 13×5, 8 mm grid (real: openhdemg-otb STA) and 10 s contraction spectra",
                 fontsize=9)
    return save_png(fig, out)


# --------------------------------------------------------------------------- the benchmark

def _compare_outputs(bench: Benchmark, fast: np.ndarray, num: np.ndarray | None, res: dict, arrays: dict,
                     emg_mf: np.ndarray, figure: Path):
    """Shape-statistics and interference-EMG rows (myoflow vs MyoGen vs real) and the figure.

    Returns ``(real templates or None, their source)``.
    """
    from myoflow.preprocess.muap_templates import grid_positions, shape_statistics

    pos = grid_positions(*GRID, IED_MM)
    stats = {}
    tpl, real, real_src = real_reference()
    if tpl is not None:
        stats["real STA"] = shape_statistics(tpl.muaps, tpl.positions_mm, tpl.fs)
    stats["myoflow fast"] = shape_statistics(fast, pos, FS)
    if num is not None:
        stats["myoflow numerical"] = shape_statistics(num, pos, FS)
    mg = arrays["muaps"]  # (units, rows, cols, times) at MyoGen's own rate
    stats["MyoGen"] = shape_statistics(mg.reshape(mg.shape[0], -1, mg.shape[-1]), pos, res["muap_fs"])
    bench.extra["shape_statistics"] = {k: v.round(4).to_dict(orient="list") for k, v in stats.items()}
    for col, unit, label in (("ptp_uv", "µV", "MUAP p-p"), ("duration_ms", "ms", "MUAP duration (20 % of peak)"),
                             ("spread_mm", "mm", "MUAP spatial spread (half-max area)")):
        f_med = float(np.median(stats["myoflow fast"][col]))
        g_med = float(np.median(stats["MyoGen"][col]))
        parts = [f"{k}: median {np.median(v[col]):.3g} [{np.min(v[col]):.3g}–{np.max(v[col]):.3g}]"
                 for k, v in stats.items()]
        row = Row(item=f"{label}, median over units (same units; real = openhdemg-otb STA)", myoflow=f_med,
                  unit=unit, reference="MyoGen", reference_value=g_med, ratio=f_med / g_med if g_med else None,
                  ratio_label="myoflow fast / MyoGen", note="; ".join(parts))
        if "real STA" in stats:
            r = stats["real STA"][col]
            row.ratio, row.ratio_unit = float(np.mean((stats["myoflow fast"][col] >= r.min())
                                                      & (stats["myoflow fast"][col] <= r.max()))), ""
            row.ratio_label = "fraction of myoflow's units inside the real [min, max]"
            row.goal, row.goal_op, row.goal_value = "median inside the real range", None, None
            inside = bool(r.min() <= f_med <= r.max())
            g_in = bool(r.min() <= g_med <= r.max())
            row.note = (f"median inside real range: myoflow {'yes' if inside else 'no'}, MyoGen "
                        f"{'yes' if g_in else 'no'}. " + row.note)
            bench.add(row)
            row.goal_met = inside  # a two-sided goal, which Row's single operator cannot express
        else:
            bench.add(row)
    emgs = {"myoflow fast": (emg_mf, FS), "MyoGen": (arrays["emg"], res["emg_fs"])}
    es = {k: emg_stats(x, fs) for k, (x, fs) in emgs.items()}
    if real is not None:
        es["real (openhdemg-otb)"] = real["emg"]
        bench.extra["real_window_s"] = [round(w, 2) for w in real["window_s"]]
    bench.extra["emg_statistics"] = es
    for key, unit, label in (("rms_uv", "µV", "interference EMG RMS"),
                             ("mdf_hz", "Hz", "interference EMG median frequency")):
        ref_txt = (f"; real recording {es['real (openhdemg-otb)'][key]:.3g} (its own contraction level and "
                   "muscle, context only)") if real is not None else ""
        bench.add(Row(item=f"{label}, plateau 1–9 s, 20–500 Hz, median over channels",
                      myoflow=es["myoflow fast"][key], unit=unit, reference="MyoGen (same spikes)",
                      reference_value=es["MyoGen"][key], ratio_label="myoflow / MyoGen",
                      ratio=es["myoflow fast"][key] / es["MyoGen"][key] if es["MyoGen"][key] else None,
                      note=f"No goal: the same discharges through both simulators' MUAPs{ref_txt}."))
    if real is not None:
        emgs["real (openhdemg-otb)"] = (real["data"], real["fs"])
    fig = plot(stats, emgs, figure)
    bench.extra["figure"] = fig.name
    return tpl, real_src


def _time_wall_cpu(fn, repeats: int):
    """``(Timing of the wall times, mean CPU seconds per call)`` over ``repeats`` calls (no warm-up)."""
    import gc

    gc.collect()  # once, outside: a collection per repeat would dominate the CPU time of ~10 ms calls
    c0 = time.process_time()
    t = time_repeats(fn, repeats=repeats, warmup=0, collect=False)
    return t, max((time.process_time() - c0) / repeats, 1e-9)


def run(quick: bool, results_dir: Path, install: bool = True, python: str | None = None,
        venv: Path | None = None, seed: int = 0, timeout: float | None = None) -> Path:
    from myoflow.simulate.numerical import numerical_muaps
    from myoflow.simulate.volume_conductor import fast_muaps

    bench = Benchmark("myogen", "Surface MUAPs and a 10 s contraction vs MyoGen", quick=quick, peers=(),
                      results_dir=results_dir)
    muscle = QUICK_MUSCLE if quick else MuscleSpec()
    tissue = _tissue()
    venv = Path(venv) if venv else default_venv_dir()
    py, why_py = find_python(python)
    vpy, venv_msg = ensure_venv(py, venv, install, why_no_python=why_py)
    bench.extra.update(python_for_myogen=why_py, venv=venv_msg, muscle=asdict(muscle), tissue=asdict(tissue),
                       grid={"rows": GRID[0], "cols": GRID[1], "ied_mm": IED_MM, "radius_mm": ELECTRODE_RADIUS_MM},
                       fs=FS, seed=seed)
    log.info("MyoGen: %s; %s", why_py, venv_msg)

    with tempfile.TemporaryDirectory(prefix="myogen-bench-") as tmp:
        work = Path(tmp)
        spikes = make_spikes(muscle.n_units, seed)
        lengths = np.array([len(s) for s in spikes])
        np.savez(work / "spikes.npz", times_s=np.concatenate(spikes).astype(float) / FS, lengths=lengths, fs=FS,
                 duration_s=CONTRACTION_S)
        res = arrays = None
        myogen_msg = venv_msg
        if vpy is not None:
            spec = {"seed": seed, "muscle": asdict(muscle), "tissue": asdict(tissue),
                    "grid": bench.extra["grid"], "fs": FS, "spikes_npz": str(work / "spikes.npz")}
            res, arrays, myogen_msg = run_myogen(vpy, spec, work, timeout or (600 if quick else 3000))
            if res is None:
                log.warning("%s", myogen_msg)
        if res is None:
            return _myoflow_only(bench, muscle, tissue, myogen_msg)

        bench.extra["myogen"] = {k: v for k, v in res.items() if k not in ("centres_mm", "territory_radius_mm")}
        units = res["units"]  # units without fibres have no MUAP on either side
        geom = geometry_from_myogen(res, muscle)
        n_units = geom.n_units
        fibres = int(geom.n_fibres.sum())
        el = electrodes()
        n_el = el.n_electrodes
        my = res["timings"]["muaps"]
        my_rate, my_cpu_rate = n_units / my["wall_s"], n_units / my["cpu_s"]
        size = f"{n_units} units, {fibres:,} fibres, {n_el} electrodes ({GRID[0]}×{GRID[1]}, {IED_MM:g} mm), {FS:g} Hz"
        bench.extra["units"] = {"n_fibres": geom.n_fibres.tolist(), "depth_mm": geom.depth_mm.round(2).tolist(),
                                "y_mm": geom.y_mm.round(2).tolist(),
                                "territory_radius_mm": geom.territory_radius_mm.round(2).tolist()}
        myogen_label = f"MyoGen {res['myogen']} (Python {res['python']}, NEURON {res['neuron']})"

        # ---- myoflow MUAP paths, same units
        dur_ms = N_SAMPLES / FS * 1e3
        reps = 3 if quick else 5
        w0 = time.perf_counter()
        fast = fast_muaps(geom, tissue, el, FS, duration_ms=dur_ms)  # also builds the kernel table (one-off)
        t_table = time.perf_counter() - w0
        t_fast, fast_cpu = _time_wall_cpu(lambda: fast_muaps(geom, tissue, el, FS, duration_ms=dur_ms), reps)
        setup = numerical_setup(tissue, muscle)
        cond, in_range = conditions_from_geometry(geom, tissue, muscle)
        num = None
        if len(cond):
            numerical_muaps(cond[:1], el, FS, setup=setup)  # its kernel table (one-off)
            num = numerical_muaps(cond, el, FS, setup=setup)
            t_num, num_cpu = _time_wall_cpu(lambda: numerical_muaps(cond, el, FS, setup=setup), 1)
        import torch

        torch.set_num_threads(1)
        from bench_generator import _generator

        gen, _ = _generator(None, out_shape=(GRID[0], GRID[1], N_SAMPLES))
        n_gen = 512 if quick else 4096
        # the same units' conditions, repeated up to a batch worth timing
        gcond = np.resize(cond if len(cond) else np.array([[3.0, 12.0, 0.5, 0.5, 4.0, 1.0]]), (n_gen, 6))
        gen.generate(gcond, batch_size=512)  # warm-up
        t_gen, gen_cpu = _time_wall_cpu(lambda: gen.generate(gcond, batch_size=512), reps)

        def speed_row(label, rate, fib_rate, cpu_rate, t, goal=None, n=n_units, f=fibres, note=""):
            goal_txt, op, val = ("", None, None) if goal is None else (f"≥ {goal:g}× MyoGen", ">=", float(goal))
            bench.add(Row(
                item=f"surface MUAPs/s, {label}: {n} units, {f:,} fibres, {n_el} electrodes", myoflow=rate,
                unit="MUAPs/s", reference=myogen_label, reference_value=my_rate, ratio=rate / my_rate,
                ratio_label="myoflow rate / MyoGen rate (wall)", goal=goal_txt, goal_op=op, goal_value=val,
                note=(f"{fib_rate:,.0f} fibres/s vs MyoGen {fibres / my['wall_s']:,.2f} fibres/s; CPU-time ratio "
                      f"{cpu_rate / my_cpu_rate:,.0f}×. {note}").strip(),
                details={"timing": t.as_dict() if hasattr(t, "as_dict") else t}))

        speed_row("myoflow fast path (fibre clusters)", n_units / t_fast.median, fibres / t_fast.median,
                  n_units / fast_cpu, t_fast, goal=10,
                  note=f"Kernel table for this grid/tissue built once before timing ({t_table:.2f} s).")
        if num is not None:
            nf = int(geom.n_fibres[in_range].sum())
            speed_row("myoflow numerical path (every fibre)", len(cond) / t_num.median, nf / t_num.median,
                      len(cond) / num_cpu, t_num, n=len(cond), f=nf,
                      note=(f"{len(cond)} of {n_units} units have conditions inside the BioMime ranges."
                            if len(cond) < n_units else ""))
        else:
            bench.not_available("surface MUAPs/s, myoflow numerical path", "no unit's conditions lie in the BioMime "
                                "ranges", reference="MyoGen")
        speed_row("myoflow MUAP generator (PyTorch, 1 thread, batch 512)", n_gen / t_gen.median,
                  n_gen / t_gen.median * fibres / n_units, n_gen / gen_cpu, t_gen, goal=100, n=n_gen,
                  f=int(round(n_gen * fibres / n_units)),
                  note=("Untrained generator, default architecture, 13×5×96 output (cost does not depend on the "
                        "weights), the same units' conditions repeated; fibres/s = MUAPs/s × mean fibres per unit."))

        # ---- 10 s contraction
        mf, emg_mf = run_contraction(geom, muscle.n_units, units, seed, work)
        myogen_total = res["timings"]["muscle"]["wall_s"] + my["wall_s"] + res["timings"]["emg"]["wall_s"]
        myogen_cpu = sum(res["timings"][k]["cpu_s"] for k in ("muscle", "muaps", "emg"))
        bench.add(Row(
            item=f"10 s contraction wall time ({size}; 30 % plateau)", myoflow=mf["wall_s"], unit="s",
            reference=myogen_label, reference_value=myogen_total, ratio=myogen_total / mf["wall_s"],
            ratio_label="MyoGen time / myoflow time (speed-up)",
            note=(f"myoflow (fresh process): spikes {mf['spikes_s']:.2f} s + fast MUAPs {mf['muaps_s']:.2f} s + "
                  f"synthesis {mf['synthesis_s']:.2f} s; CPU {mf['cpu_s']:.2f} s. MyoGen: muscle "
                  f"{res['timings']['muscle']['wall_s']:.1f} s + MUAPs {my['wall_s']:.1f} s + synthesis "
                  f"{res['timings']['emg']['wall_s']:.1f} s from myoflow's spikes (its NEURON motor neurons not "
                  f"run); CPU {myogen_cpu:.1f} s (ratio {myogen_cpu / mf['cpu_s']:.0f}×); import "
                  f"{res['import_s']:.1f} s not counted."),
            details={"myoflow": mf, "myogen": res["timings"]}))
        bench.add(Row(
            item="peak RSS of the contraction process", myoflow=mf["peak_rss_mb"], unit="MB", reference=myogen_label,
            reference_value=res["peak_rss_mb"], ratio=mf["peak_rss_mb"] / res["peak_rss_mb"],
            ratio_label="myoflow / MyoGen", note=(
                f"VmHWM of each fresh process, imports included (myoflow after imports: {mf['import_rss_mb']:.0f} MB; "
                f"MyoGen after its MUAPs: {res['peak_rss_after_muaps_mb']:.0f} MB).")))

        # ---- output comparison
        tpl, real_src = _compare_outputs(bench, fast, num, res, arrays, emg_mf, results_dir / "myogen.png")
        bench.note(f"MyoGen ran in its own venv ({venv_msg}); {why_py}. Every BLAS/OpenMP/Numba pool held at one "
                   f"thread on both sides; MyoGen's optimised CPU route (ExecutionPolicy, 1 worker) at its default "
                   f"resolution (256 t/z points, 32 θ points, 10 kHz internal). Its MUAPs come at "
                   f"{res['muap_fs']:.0f} Hz ({res['muap_samples']} samples), not {FS:g} Hz: the package sets their "
                   f"time axis from the kernel length; shape statistics use each source's own rate.")
        bench.note("Geometry: MyoGen's muscle is a cylinder (radius "
                   f"{muscle.radius_mm:g} mm, bone {muscle.bone_radius_mm:g} mm, fat {tissue.fat_mm:g} mm, skin "
                   f"{tissue.skin_mm:g} mm, grid bent around it); myoflow's conductor is planar, each unit placed at "
                   "the depth and lateral offset of its MyoGen territory centre under the grid centre. The numerical "
                   "path takes BioMime conditions, so its territories use myoflow's default radius (20 fibres/mm²) "
                   "rather than MyoGen's; MyoGen draws each unit's innervation zone within ±10 % of the fibre length "
                   "(myoflow: at the fibre middle). Fibre density "
                   f"{muscle.fibre_density_per_mm2:g}/mm² (MyoGen's default is 350) keeps MyoGen's run to minutes, so "
                   "the units have fewer fibres than real ones: p-p scales with the fibre count (on both sides), "
                   "duration and spread hardly do.")
        if tpl is not None:
            bench.note(f"Real templates: {len(tpl.muaps)} spike-triggered averages of the decomposed units of "
                       f"{Path(real_src).name} (vastus lateralis, OTBiolab+ export shipped with openhdemg), band-passed "
                       "20–500 Hz; its interference EMG statistics come from the plateau of its trapezoidal "
                       f"contraction (force ≥ 90 % of its peak: {bench.extra['real_window_s'][0]:.1f}–"
                       f"{bench.extra['real_window_s'][1]:.1f} s).")
    return bench.write()


def _myoflow_only(bench: Benchmark, muscle: MuscleSpec, tissue, why: str) -> Path:
    """MyoGen unavailable: measure myoflow's paths on a stand-in muscle and say why MyoGen is missing."""
    from myoflow.simulate.volume_conductor import MotorUnitGeometry, fast_muaps

    rng = np.random.default_rng(0)
    n = muscle.n_units
    area = np.pi * muscle.radius_mm ** 2
    nf = np.maximum(np.round(np.geomspace(1, muscle.rr, n) / np.geomspace(1, muscle.rr, n).sum()
                             * area * muscle.fibre_density_per_mm2), 1)
    geom = MotorUnitGeometry(depth_mm=rng.uniform(0, 2 * muscle.radius_mm, n), y_mm=rng.uniform(-5, 5, n),
                             iz_mm=np.zeros(n), fibre_length_mm=np.full(n, muscle.fibre_length_mm),
                             iz_fraction=np.full(n, 0.5), cv_m_s=np.full(n, muscle.cv_m_s), n_fibres=nf)
    el = electrodes()
    fast_muaps(geom, tissue, el, FS, duration_ms=N_SAMPLES / FS * 1e3)
    t = time_repeats(lambda: fast_muaps(geom, tissue, el, FS, duration_ms=N_SAMPLES / FS * 1e3), repeats=3, warmup=0)
    bench.add(Row(item=f"surface MUAPs/s, myoflow fast path: {n} units, {int(nf.sum()):,} fibres, "
                       f"{el.n_electrodes} electrodes (stand-in muscle)", myoflow=n / t.median, unit="MUAPs/s",
                  reference="MyoGen", goal="≥ 10× MyoGen", status="ok",
                  note=f"MyoGen not measured: {why}", details={"timing": t.as_dict()}))
    for item, goal in (("surface MUAPs/s vs MyoGen (fast, numerical, generator)", "≥ 10× / ≥ 100× MyoGen"),
                       ("10 s contraction wall time and peak RSS vs MyoGen", ""),
                       ("MUAP shapes and interference EMG vs MyoGen and real templates", "")):
        bench.not_available(item, why, reference="MyoGen", goal=goal)
    bench.note(f"MyoGen could not be compared: {why}.")
    return bench.write()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--_contraction"]:
        return _contraction_child(argv[1], argv[2])
    p = bench_argparser(__doc__.splitlines()[0])
    p.add_argument("--no-install", action="store_true", help="do not build MyoGen's venv if it is missing")
    p.add_argument("--python", default=None, help=f"Python 3.12/3.13 for MyoGen's venv (else ${MYOGEN_PYTHON_ENV}, "
                                                  "pyenv, PATH)")
    p.add_argument("--venv", type=Path, default=None, help="MyoGen's venv (default $MYOFLOW_CACHE/bench/myogen-venv)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--myogen-timeout", type=float, default=None, help="seconds for the MyoGen subprocess")
    args = p.parse_args(argv)
    setup_logging(args.verbose)
    print(run(args.quick, args.results_dir, install=not args.no_install, python=args.python, venv=args.venv,
              seed=args.seed, timeout=args.myogen_timeout))
    return 0


if __name__ == "__main__":
    sys.exit(main())
