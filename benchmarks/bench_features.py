"""Classic sEMG features: myoflow (muscle-id baselines) vs LibEMG's ``FeatureExtractor``.

Issue 10, item 2. Both tools get the **same windows**:

* timing — 500 ms windows of a 16-channel band-passed synthetic grid at 1 kHz
  (the seed-001 input shape), myoflow's ``classic_features`` (all 22 features per
  channel: time domain, Hjorth, AR(4), Welch spectrum, band powers) against LibEMG
  computing its equivalents of those features (MAV, RMS, VAR, WL, ZC, SSC, WAMP, LD,
  MOB, COMP, AR4, MNF, MNP — 13 features; LibEMG has no band powers or peak frequency);
* values — feature by feature, on the synthetic windows and on real windows (500 ms of
  the 64-channel ``openhdemg-otb`` vastus lateralis grid, 2048 Hz, as exported), with
  myoflow's count thresholds set to 0 to match LibEMG's defaults. Features with the same
  definition must agree to ``rtol = 1e-6`` (counts exactly); features that the two tools
  define or estimate differently are reported with their difference and the reason.

Run: ``python benchmarks/bench_features.py [--quick]`` → ``benchmarks/results/features.json``.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Benchmark, Row, bench_main, shared_data_dir, time_pair  # noqa: E402

log = logging.getLogger("bench.features")

FS = 1000.0
WIN = 500
LIBEMG_FEATURES = ["MAV", "RMS", "VAR", "WL", "ZC", "SSC", "WAMP", "LD", "MOB", "COMP", "AR", "MNF", "MNP"]


def synthetic_windows(n_windows: int, n_channels: int = 16, seed: int = 0) -> np.ndarray:
    """Band-passed (20–450 Hz) synthetic EMG cut into 500 ms windows, (n, ch, 500) float32."""
    from scipy import signal

    from bench_preprocess import make_emg  # benchmarks/ is on sys.path (inserted above the common import)

    x = make_emg(n_channels, n_windows * WIN / FS, FS, seed=seed)
    x = signal.sosfiltfilt(signal.butter(4, (20, 450), "bandpass", fs=FS, output="sos"), x, axis=-1)
    return np.ascontiguousarray(x.reshape(n_channels, n_windows, WIN).transpose(1, 0, 2), dtype=np.float32)


def real_windows() -> tuple[np.ndarray, float, str] | None:
    """500 ms windows of the real 8×8 HD-sEMG grid (µV as exported), or None if the data is absent."""
    root = shared_data_dir()
    path = root / "openhdemg-otb" / "otb_testfile.mat" if root else None
    if path is None or not path.is_file():
        return None
    import scipy.io as sio

    m = sio.loadmat(path)
    fs = float(np.asarray(m["SamplingFrequency"]).ravel()[0])
    data = np.asarray(m["Data"][0, 0], dtype=np.float64)[:, :64].T  # (64, n)
    win = int(round(0.5 * fs))
    n = data.shape[1] // win
    w = data[:, : n * win].reshape(64, n, win).transpose(1, 0, 2)
    return np.ascontiguousarray(w), fs, path.name


def myoflow_features(windows: np.ndarray, fs: float, rel_threshold: float = 0.05) -> np.ndarray:
    from myoflow.features import classic_features

    return classic_features(windows, fs, rel_threshold=rel_threshold)


def libemg_features(windows: np.ndarray, fs: float, features=LIBEMG_FEATURES) -> dict[str, np.ndarray]:
    from libemg.feature_extractor import FeatureExtractor

    fe = FeatureExtractor()
    params = {"MNF_fs": float(fs), "MDF_fs": float(fs)}
    return fe.extract_features(list(features), windows.astype(np.float64, copy=False), params)


# (LibEMG name, how to get the same quantity from myoflow's columns, tolerance kind, why they differ)
def _myoflow_as_libemg(mf: np.ndarray, n: int, n_ch: int, t: int) -> dict[str, np.ndarray]:
    from myoflow.features import CLASSIC_FEATURE_NAMES as FEATURE_NAMES

    f = mf.reshape(n, n_ch, len(FEATURE_NAMES))

    def g(name: str) -> np.ndarray:
        return f[:, :, FEATURE_NAMES.index(name)]

    return {
        "MAV": np.exp(g("log_mav")), "RMS": np.exp(g("log_rms")), "VAR": np.exp(g("log_var")),
        "WL": np.exp(g("log_wl")) * t,          # myoflow: mean |Δx| (per sample), LibEMG: sum
        "ZC": g("zc") * t, "SSC": g("ssc") * t,  # myoflow: counts per sample
        "MOB": g("hjorth_mobility"),
        "AR": np.stack([g(f"ar{k}") for k in range(1, 5)], axis=2).reshape(n, n_ch * 4),
        "MNF": g("mnf"),
    }


COMPARISONS = {
    # name: (kind, tolerance, explanation)
    "MAV": ("same", 1e-6, ""),
    "RMS": ("same", 1e-6, ""),
    "VAR": ("same", 1e-6, ""),
    "WL": ("same", 1e-6, "myoflow reports WL per sample; multiplied back by the window length"),
    "ZC": ("same", 0.0, "myoflow threshold set to 0 (its default is 5 % of the window RMS)"),
    "SSC": ("same", 0.0, "myoflow threshold set to 0; LibEMG counts (x[i]−x[i−1])·(x[i]−x[i+1]) ≥ 0, i.e. "
                         "also flat steps, myoflow only strict sign changes — identical unless samples repeat "
                         "(quantised data)"),
    "MOB": ("close", 1e-2, "myoflow uses variances (mean removed), LibEMG raw second moments"),
    "AR": ("estimator_abs", None, "different estimators: myoflow Yule-Walker (Levinson) on the mean-removed "
                                  "window, LibEMG Burg (librosa.lpc) on the raw window; median absolute "
                                  "coefficient difference reported, no equality expected"),
    "MNF": ("estimator", None, "different spectral estimators: myoflow Welch (256-sample segments), LibEMG one "
                               "zero-padded FFT; median relative difference reported, no equality expected"),
}
NOT_COMPARABLE = {
    "LD": ("definitions differ", "LibEMG's log detector is exp(mean(log(|x| + 1))): the +1 makes it depend "
                                 "on the amplitude unit; myoflow uses mean(log|x|)"),
    "COMP": ("definitions differ", "LibEMG's Hjorth complexity sums m4 over all windows and channels (no axis) "
                                   "and omits the division by mobility; not the textbook definition myoflow uses"),
    "WAMP": ("definitions differ", "LibEMG uses an absolute threshold (default 2e-3 in the signal's unit), "
             "myoflow a fraction of each window's RMS"),
}


def compare_values(windows: np.ndarray, fs: float) -> dict[str, dict]:
    """Per-feature agreement between myoflow (thresholds 0) and LibEMG on ``windows``."""
    n, n_ch, t = windows.shape
    mf = _myoflow_as_libemg(myoflow_features(windows, fs, rel_threshold=0.0), n, n_ch, t)
    le = libemg_features(windows, fs, [k for k in COMPARISONS])
    out = {}
    for name, (kind, tol, _) in COMPARISONS.items():
        a, b = np.asarray(mf[name], dtype=np.float64), np.asarray(le[name], dtype=np.float64).reshape(mf[name].shape)
        absdiff = np.abs(a - b)
        rel = absdiff / np.maximum(np.abs(b), 1e-300)
        if kind == "same":
            ok = bool(np.allclose(a, b, rtol=tol, atol=0.0))
            stat = float(rel.max())
        elif kind == "close":
            stat = float(np.median(rel))
            ok = stat <= tol
        elif kind == "estimator":
            stat, ok = float(np.median(rel)), None
        else:  # estimator_abs
            stat, ok = float(np.median(absdiff)), None
        out[name] = {"kind": kind, "tolerance": tol, "stat": stat, "max_rel": float(rel.max()),
                     "median_rel": float(np.median(rel)), "max_abs": float(absdiff.max()),
                     "frac_equal": float(np.mean(absdiff <= np.maximum(tol or 0.0, 1e-12) * np.abs(b) + 1e-300)),
                     "ok": ok}
    return out


def _check_mdf(bench: Benchmark, sets: dict) -> None:
    """Median frequency: compared like MNF when LibEMG can compute it (0.0.4 fails under NumPy 2)."""
    label, (w, fs) = next(iter(sets.items()))
    w = w[:8]
    try:
        le = np.asarray(libemg_features(w, fs, ["MDF"])["MDF"], dtype=np.float64)
    except Exception as exc:  # noqa: BLE001 - a peer bug is a finding, not a crash
        bench.add(Row(item="value check: MDF", reference="LibEMG", status="not available: LibEMG fails",
                      note=f"LibEMG's getMDFfeat raises {type(exc).__name__} ({str(exc).splitlines()[0][:120]}) "
                           "with this NumPy; the newest LibEMG (2.0.3) requires NumPy < 2, so none computes "
                           "MDF next to myoflow's NumPy 2."))
        return
    from myoflow.features import CLASSIC_FEATURE_NAMES as FEATURE_NAMES

    n, n_ch, _ = w.shape
    mf = myoflow_features(w, fs).reshape(n, n_ch, len(FEATURE_NAMES))[:, :, FEATURE_NAMES.index("mdf")]
    rel = float(np.median(np.abs(mf - le) / np.maximum(np.abs(le), 1e-300)))
    bench.add(Row(item="value check: MDF", reference="LibEMG", unit="", ratio=rel, ratio_unit="",
                  ratio_label="median rel. diff",
                  goal="none (different estimators)",
                  note=f"{label}: median rel diff {rel:.2g}; Welch vs zero-padded FFT bins."))


def run(quick: bool, results_dir: Path) -> Path:
    bench = Benchmark("features", "Classic feature extraction vs LibEMG", quick=quick,
                      peers=("libemg", "librosa"), results_dir=results_dir)
    n_windows = 200 if quick else 2000
    repeats = 3
    try:
        import libemg  # noqa: F401
    except ImportError as exc:
        bench.not_available("classic features", f"LibEMG not installed ({exc}); `make bench` installs it",
                            reference="LibEMG FeatureExtractor")
        return bench.write()
    try:
        from myoflow.features import CLASSIC_FEATURE_NAMES as FEATURE_NAMES, classic_features  # noqa: F401
    except ImportError as exc:
        bench.not_available("classic features", f"myoflow.features missing ({exc})",
                            reference="LibEMG FeatureExtractor")
        return bench.write()

    W = synthetic_windows(n_windows)
    item = f"features of {n_windows} windows × 16 ch × 500 ms @ 1 kHz"
    try:
        W64 = W.astype(np.float64)
        t_mf, t_le = time_pair(lambda: myoflow_features(W, FS), lambda: libemg_features(W64, FS),
                               repeats=repeats, warmup=1)
        ratio = t_le.median / t_mf.median
        note = (f"myoflow computes {len(FEATURE_NAMES)} features per channel, LibEMG the {len(LIBEMG_FEATURES)} "
                "of them it has (no band powers / peak frequency); LibEMG's AR (librosa Burg per window) "
                "and spectral features dominate its time.")
        if ratio < 1:
            note += (" myoflow is slower: its Welch spectrum and Levinson AR run on every window; a single "
                     "rfft per window (as LibEMG) would cut that.")
        bench.add(Row(item=item, myoflow=t_mf.median, reference="LibEMG FeatureExtractor",
                      reference_value=t_le.median, unit="s", ratio=ratio, ratio_label="LibEMG time / myoflow time",
                      goal="≥ 1× (ours: not slower; the issue sets none)", goal_op=">=", goal_value=1.0, note=note,
                      details={"myoflow": t_mf.as_dict(), "libemg": t_le.as_dict(),
                               "windows_per_s_myoflow": n_windows / t_mf.median,
                               "windows_per_s_libemg": n_windows / t_le.median}))
    except Exception as exc:  # noqa: BLE001
        log.exception("feature timing failed")
        bench.failed(item, exc, reference="LibEMG FeatureExtractor")

    # ---- values, feature by feature --------------------------------------------------
    sets = {"synthetic": (W[: min(n_windows, 400)], FS)}
    real = real_windows()
    if real is not None:
        sets[f"real {real[2]} (64 ch, {real[1]:g} Hz)"] = (real[0] if not quick else real[0][:16], real[1])
    else:
        bench.note("Real HD-sEMG windows not found (../shared/data/openhdemg-otb); values checked on synthetic only.")
    try:
        per_set = {label: compare_values(w, fs) for label, (w, fs) in sets.items()}
    except Exception as exc:  # noqa: BLE001
        log.exception("value comparison failed")
        bench.failed("feature values", exc, reference="LibEMG")
        return bench.write()
    for name, (kind, tol, why) in COMPARISONS.items():
        worst = max(per_set.values(), key=lambda r: r[name]["stat"])[name]
        stat_name = {"same": "max rel diff", "close": "median rel diff", "estimator": "median rel diff",
                     "estimator_abs": "median abs diff"}[kind]
        parts = []
        for label, r in per_set.items():
            res = r[name]
            if kind == "same" and res["ok"]:
                parts.append(f"{label}: equal")
            elif kind == "same":
                parts.append(f"{label}: {stat_name} {res['stat']:.2g} "
                             f"({100 * (1 - res['frac_equal']):.1f} % of values differ)")
            else:
                parts.append(f"{label}: {stat_name} {res['stat']:.2g}")
        if kind == "same":
            goal, op = (f"equal (rtol {tol:g})" if tol else "identical counts"), "<="
        elif kind == "close":
            goal, op = f"median rel. diff ≤ {tol:g}", "<="
        else:
            goal, op = "none (different estimators)", None
        bench.add(Row(item=f"value check: {name}", myoflow=None, reference="LibEMG", unit="",
                      ratio=worst["stat"], ratio_unit="", ratio_label=stat_name, goal=goal, goal_op=op,
                      goal_value=None if op is None else float(tol),
                      note="; ".join(parts) + (f". {why}" if why else ""),
                      details={label: r[name] for label, r in per_set.items()}))
        if op is not None and not all(r[name]["ok"] for r in per_set.values()):
            bench.rows[-1].goal_met = False
    _check_mdf(bench, sets)
    for name, (what, why) in NOT_COMPARABLE.items():
        bench.add(Row(item=f"value check: {name}", reference="LibEMG", status=f"not available: {what}", note=why))
    return bench.write()


def main(argv: list[str] | None = None) -> int:
    return bench_main(__doc__, run, argv)


if __name__ == "__main__":
    sys.exit(main())
