"""Sim → real transfer: models trained only on simulated VL/BF/TA/GL, scored on the real elderly set.

Issue #18 item 5. Cohorts (all windowed by the muscle-id pipeline's real-cohort
settings, :func:`myoflow.pipelines.muscle_id.data.load_cohort`: 20–450 Hz, 50 Hz
notch, 1 kHz, every recording tiled into consecutive 500 ms windows):

* **train** — the ``lowerlimb`` protocol (:mod:`myoflow.simulate.protocols.lowerlimb`),
  seed ``seed``, ``n_train`` simulated subjects;
* **select** — the same protocol, seed ``seed + 1`` (different subjects, units,
  placements): the only data any choice is made on;
* **real** — the 30 subjects of ``elderly-lowerlimb-emg`` (Silva et al. 2024, CC0):
  each task recording's contracting-muscle channel, labelled by that muscle. Its
  labels are used only to score.

Fixed before any data were looked at (not chosen):

* window 500 ms and the preprocessing above (the pipeline's real cohort);
* per-recording standardisation: each recording's windows are divided by the RMS of
  all its windows (label-free, one recording at a time), because the real effort
  level and amplifier gain are unknown, so absolute amplitude is not a transferable
  cue;
* the 22 classic features of :func:`myoflow.features.classic_features`; LDA
  (shrinkage) and random forest (200 trees) with the estimator defaults;
* the CNN's size and optimiser (``deep_window`` ``arch="cnn"``, 30 epochs, AdamW
  2e-3, cosine, early stopping on 20 % of the training subjects).

Chosen on the **select** cohort (sim-train → sim-select accuracy): the CNN's
augmentation recipe from :data:`CNN_GRID`. The choice and its select-cohort scores
are written to the result.

Reported on **real**: 4-class window accuracy and per-recording soft vote (mean
probability), and 3-class VL/BF/TA (real VL/BF/TA recordings, argmax over the
VL/BF/TA probabilities of the same 4-class model — the real GL channel carries
amplifier noise only, 1.3–1.6 µV RMS with a flat spectrum), each with a 95 %
subject-bootstrap CI (:func:`myoflow.evaluate.bootstrap.bootstrap_ci`) and a
confusion matrix.
"""
from __future__ import annotations

import copy
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError

__all__ = ["SimRealConfig", "run_simreal", "standardise_recordings", "CNN_GRID", "MUSCLES4", "MUSCLES3",
           "plot_confusions"]

log = logging.getLogger(__name__)

MUSCLES4 = ("VL", "BF", "TA", "GL")
MUSCLES3 = ("VL", "BF", "TA")
#: CNN recipes compared on the select cohort (the only choice made).
CNN_GRID: list[dict[str, Any]] = [
    {"max_shift": 0, "max_gain": 1.0, "noise": 0.0},       # no augmentation
    {"max_shift": 100, "max_gain": 2.0, "noise": 0.05},    # shift ±100 ms, gain ×/÷2, 26 dB noise
]


@dataclass
class SimRealConfig:
    """Settings of :func:`run_simreal` (defaults: the reported run)."""

    n_train: int = 30
    n_select: int = 10
    seed: int = 0
    duration_s: float = 10.0
    real_subjects: int | None = None   # first N real subjects (None: all 30)
    models: tuple[str, ...] = ("lda", "rf", "cnn")
    cnn_epochs: int = 30
    n_boot: int = 2000
    extra: dict[str, Any] = field(default_factory=dict)


def standardise_recordings(epochs):
    """Divide every recording's windows by the RMS over all its windows (label-free, per recording)."""
    X = np.asarray(epochs.X, dtype=np.float64)
    rec = epochs.group("recording").astype(str)
    out = np.empty_like(X)
    for r in np.unique(rec):
        m = rec == r
        out[m] = X[m] / max(float(np.sqrt(np.mean(X[m] ** 2))), 1e-12)
    return epochs.replace(X=out.astype(np.float32))


#: Amplitude-carrying classic features, dropped by ``features="shape"`` (what is left: spectrum and waveform shape).
AMPLITUDE_FEATURES = ("log_mav", "log_rms", "log_var", "log_wl", "log_detector", "log_total_power")


def normalise(epochs, how: str):
    """Label-free amplitude normalisation: ``recording`` (RMS of all its windows), ``window`` (each window's own
    mean and SD), ``none`` (volts as recorded)."""
    if how == "recording":
        return standardise_recordings(epochs)
    if how == "window":
        X = np.asarray(epochs.X, dtype=np.float64)
        mu = X.mean(axis=2, keepdims=True)
        sd = np.maximum(X.std(axis=2, keepdims=True), 1e-12)
        return epochs.replace(X=((X - mu) / sd).astype(np.float32))
    if how == "none":
        return epochs
    raise ConfigError(f"normalise must be one of recording, window, none; got {how!r}")


def feature_matrix(epochs, which: str) -> np.ndarray:
    """Classic features (22, ``classic``) or the amplitude-free subset (``shape``)."""
    from ..features import CLASSIC_FEATURE_NAMES, classic_features

    F = classic_features(epochs)
    if which == "classic":
        return F
    if which == "shape":
        keep = [i for i, n in enumerate(CLASSIC_FEATURE_NAMES) if n not in AMPLITUDE_FEATURES]
        return F[:, keep]
    raise ConfigError(f"features must be classic or shape; got {which!r}")


def randomise_domain(epochs, copies: int, seed: int, stretch: tuple[float, float] = (0.7, 1.4),
                     snr_db: tuple[float, float] = (0.0, 30.0)):
    """Domain randomisation of SIMULATED training windows: ``copies`` extra versions of every recording.

    Per copy and recording (all its windows alike, so recording-level normalisation still sees one recording):

    * a spectral stretch: the window resampled in time by a factor log-uniform in ``stretch`` (all
      frequencies scale by it), standing in for the spread of conduction velocity, inter-electrode
      distance and fat filtering the simulator draws from narrower ranges than real subjects show;
    * additive white noise at a signal-to-noise ratio uniform in ``snr_db`` (electrode and amplifier noise).

    Returns the original windows followed by the copies (metadata ``recording`` suffixed ``~k``, so a copy
    is its own recording; ``subject`` kept, so subject-wise splits keep copies with their subject).
    """
    from scipy import signal

    if copies < 1:
        return epochs
    rng = np.random.default_rng(seed)
    X = np.asarray(epochs.X, dtype=np.float64)
    n = X.shape[-1]
    rec = epochs.group("recording").astype(str)
    parts, metas, ys = [X], [epochs.metadata], [np.asarray(epochs.y)]
    for k in range(int(copies)):
        Xk = np.empty_like(X)
        for r in np.unique(rec):
            m = np.flatnonzero(rec == r)
            a = float(np.exp(rng.uniform(np.log(stretch[0]), np.log(stretch[1]))))
            snr = float(rng.uniform(*snr_db))
            L = max(8, int(round(n * a)))
            w = signal.resample(X[m], L, axis=-1)          # a > 1: slower waveform, lower frequencies
            if L >= n:
                w = w[..., (L - n) // 2:(L - n) // 2 + n]
            else:                                          # shorter: tile (EMG is stationary in a hold)
                w = np.concatenate([w] * int(np.ceil(n / L)), axis=-1)[..., :n]
            p = float(np.mean(w ** 2))
            Xk[m] = w + rng.standard_normal(w.shape) * np.sqrt(p / 10 ** (snr / 10))
        parts.append(Xk)
        metas.append(epochs.metadata.assign(recording=epochs.metadata["recording"].astype(str) + f"~{k}"))
        ys.append(np.asarray(epochs.y))
    from ..containers import Epochs

    return Epochs(X=np.concatenate(parts).astype(np.float32), fs=epochs.fs, ch_names=list(epochs.ch_names),
                  metadata=pd.concat(metas, ignore_index=True), y=np.concatenate(ys))


def _cohorts(cfg: SimRealConfig, cache_dir: Path | None, real_path: Path | None = None):
    from ..pipelines.muscle_id.config import CohortConfig, MuscleIdConfig
    from ..pipelines.muscle_id.data import load_cohort

    base = MuscleIdConfig(name="simreal", pipeline="muscle-id")
    real_cfg = copy.deepcopy(base.data["real"])
    real_cfg.subjects = cfg.real_subjects
    if real_path is not None:
        real_cfg.path = Path(real_path)
    like = dict(segmentation=real_cfg.segmentation, windows_per_burst=real_cfg.windows_per_burst,
                block_windows=real_cfg.block_windows)
    train_cfg = CohortConfig(source="simulate-lowerlimb", subjects=cfg.n_train, seed=cfg.seed,
                             duration_s=cfg.duration_s, **like)
    select_cfg = CohortConfig(source="simulate-lowerlimb", subjects=cfg.n_select, seed=cfg.seed + 1,
                              duration_s=cfg.duration_s, **like)
    pp = base.preprocess
    return (load_cohort("simtrain", train_cfg, pp, cache_dir=cache_dir),
            load_cohort("simselect", select_cfg, pp, cache_dir=cache_dir),
            load_cohort("real", real_cfg, pp, cache_dir=cache_dir))


def _estimator(name: str, cfg: SimRealConfig, params: dict[str, Any] | None = None):
    from ..models.deep_classifier import DeepWindowClassifier
    from ..models.feature_classifier import FeatureClassifier

    if name in ("lda", "rf"):
        return FeatureClassifier(kind=name, n_estimators=200, seed=cfg.seed)
    est = DeepWindowClassifier(arch="cnn", epochs=cfg.cnn_epochs, lr=2e-3, weight_decay=1e-2, schedule="cosine",
                               patience=10, val_fraction=0.2, seed=cfg.seed)
    return est.set_params(**(params or {}))


def _inputs(name: str, epochs):
    from ..features import classic_features

    return classic_features(epochs) if name in ("lda", "rf") else epochs


def _proba(est, X, classes: tuple[str, ...]) -> np.ndarray:
    p = np.asarray(est.predict_proba(X), dtype=float)
    order = [list(map(str, est.classes_)).index(c) for c in classes]
    return p[:, order]


def _scores(y: np.ndarray, proba: np.ndarray, subjects: np.ndarray, recordings: np.ndarray,
            classes: tuple[str, ...], n_boot: int, seed: int) -> dict[str, Any]:
    """Window and per-recording vote accuracy with subject-bootstrap CIs and confusion matrices."""
    from ..evaluate.bootstrap import bootstrap_ci

    keep = np.isin(y, classes)
    y, proba, subjects, recordings = y[keep], proba[keep], subjects[keep], recordings[keep]
    cls = np.asarray(classes)
    pred = cls[np.argmax(proba, axis=1)]
    win = pd.DataFrame({"subject": subjects, "y": y, "pred": pred})
    votes = (pd.DataFrame(proba, columns=list(classes)).assign(recording=recordings, subject=subjects, y=y)
             .groupby("recording", sort=True).agg({**{c: "mean" for c in classes}, "subject": "first", "y": "first"}))
    votes["pred"] = cls[np.argmax(votes[list(classes)].to_numpy(), axis=1)]

    def acc(d: pd.DataFrame) -> float:
        return float(np.mean(d["y"].to_numpy() == d["pred"].to_numpy()))

    out: dict[str, Any] = {"classes": list(classes), "n_windows": int(len(win)), "n_recordings": int(len(votes)),
                           "n_subjects": int(win["subject"].nunique())}
    for key, d in (("window", win), ("vote", votes)):
        ci = bootstrap_ci(d, acc, group="subject", n_boot=n_boot, seed=seed)
        cm = pd.crosstab(pd.Categorical(d["y"], categories=list(classes)),
                         pd.Categorical(d["pred"], categories=list(classes)), dropna=False)
        out[key] = {"accuracy": ci.point, "ci95": [ci.lo, ci.hi],
                    "confusion": {"rows_true_cols_pred": list(classes), "counts": cm.to_numpy().astype(int).tolist()},
                    "per_class_recall": {c: float(np.mean(d["pred"][d["y"] == c] == c)) if (d["y"] == c).any()
                                         else float("nan") for c in classes}}
    return out


def run_simreal(cfg: SimRealConfig | None = None, cache_dir: Path | None = None,
                real_path: Path | None = None) -> dict[str, Any]:
    """Train on the simulated cohort, choose on the select cohort, score the real set (module docstring).

    ``real_path``: the ``elderly-lowerlimb-emg`` folder (default: the shared-data one).
    Returns a JSON-able dict: settings, what was chosen on what, cohort sizes, and per
    model the select-cohort accuracy and the real 4-class / 3-class scores.
    """
    import torch

    from threadpoolctl import threadpool_limits

    cfg = cfg or SimRealConfig()
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    train, select, real = _cohorts(cfg, cache_dir, real_path)
    eps = {k: standardise_recordings(c.epochs) for k, c in (("train", train), ("select", select), ("real", real))}
    ys = {k: np.asarray(e.y).astype(str) for k, e in eps.items()}
    result: dict[str, Any] = {
        "settings": {**asdict(cfg), "models": list(cfg.models), "window_ms": 500.0,
                     "preprocess": "20-450 Hz, 50 Hz notch, 1 kHz (muscle-id real cohort)",
                     "normalisation": "per-recording RMS standardisation (fixed a priori)",
                     "features": "myoflow.features.classic_features (22; fixed a priori)"},
        "cohorts": {k: {"n_subjects": int(c.info["n_subjects"]), "n_recordings": int(c.info["n_recordings"]),
                        "n_windows": int(c.info["n_windows"]), "class_counts": c.info["class_counts"]}
                    for k, c in (("sim_train", train), ("sim_select", select), ("real", real))},
        "chosen": {}, "models": {},
    }
    with threadpool_limits(limits=1, user_api="blas"):
        for name in cfg.models:
            t1 = time.perf_counter()
            grid = CNN_GRID if name == "cnn" else [{}]
            tried = []
            for params in grid:
                est = _estimator(name, cfg, params)
                est.fit(_inputs(name, eps["train"]), ys["train"], groups=eps["train"].group("subject"))
                p = _proba(est, _inputs(name, eps["select"]), MUSCLES4)
                acc = float(np.mean(np.asarray(MUSCLES4)[p.argmax(1)] == ys["select"]))
                tried.append({"params": params, "select_window_accuracy": acc, "estimator": est})
            best = max(range(len(tried)), key=lambda i: (tried[i]["select_window_accuracy"], -i))
            est = tried[best]["estimator"]
            if len(grid) > 1:
                result["chosen"][name] = {"on": f"sim_select (seed {cfg.seed + 1}, {cfg.n_select} subjects)",
                                          "grid": [{"params": t["params"],
                                                    "select_window_accuracy": t["select_window_accuracy"]}
                                                   for t in tried], "params": tried[best]["params"]}
            proba = _proba(est, _inputs(name, eps["real"]), MUSCLES4)
            subj = eps["real"].group("subject").astype(str)
            recs = eps["real"].group("recording").astype(str)
            result["models"][name] = {
                "select_window_accuracy": tried[best]["select_window_accuracy"],
                "real_4class": _scores(ys["real"], proba, subj, recs, MUSCLES4, cfg.n_boot, cfg.seed),
                "real_3class": _scores(ys["real"], proba[:, :3], subj, recs, MUSCLES3, cfg.n_boot, cfg.seed),
                "seconds": round(time.perf_counter() - t1, 1),
            }
            r4 = result["models"][name]["real_4class"]
            log.info("simreal %s: select %.3f, real 4-class window %.3f vote %.3f", name,
                     tried[best]["select_window_accuracy"], r4["window"]["accuracy"], r4["vote"]["accuracy"])
    result["diagnostics"] = {
        "note": "per-class medians of label-free window features after standardisation; described here, "
                "never used for a choice",
        **{k: _spectral_medians(eps[k], ys[k]) for k in ("train", "real")}}
    result["seconds"] = round(time.perf_counter() - t0, 1)
    return result


def _spectral_medians(epochs, y: np.ndarray) -> dict[str, dict[str, float]]:
    """Median MNF, MDF and 200-450 Hz power share of each class's windows."""
    from ..features import CLASSIC_FEATURE_NAMES, classic_features

    F = classic_features(epochs)
    cols = {k: list(CLASSIC_FEATURE_NAMES).index(k) for k in ("mnf", "mdf", "rel_power_200_450")}
    return {c: {k: float(np.median(F[y == c, i])) for k, i in cols.items()} for c in MUSCLES4 if (y == c).any()}


def plot_confusions(result: dict[str, Any], path: Path) -> Path:
    """Real 4-class window confusion matrices (row-normalised), one panel per model."""
    from ..report.figures import pyplot, save_png

    plt = pyplot()
    names = list(result["models"])
    fig, axes = plt.subplots(1, len(names), figsize=(3.6 * len(names), 3.4), squeeze=False)
    for ax, name in zip(axes[0], names):
        r = result["models"][name]["real_4class"]["window"]
        cm = np.asarray(r["confusion"]["counts"], dtype=float)
        cmn = cm / np.maximum(cm.sum(1, keepdims=True), 1)
        ax.imshow(cmn, vmin=0, vmax=1, cmap="Blues")
        for i in range(cm.shape[0]):
            for j in range(cm.shape[1]):
                ax.text(j, i, f"{cmn[i, j]:.2f}", ha="center", va="center", fontsize=8,
                        color="white" if cmn[i, j] > 0.6 else "black")
        labels = r["confusion"]["rows_true_cols_pred"]
        ax.set_xticks(range(len(labels)), labels)
        ax.set_yticks(range(len(labels)), labels)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true (real)")
        ax.set_title(f"{name}: {100 * r['accuracy']:.1f} % windows", fontsize=9)
    fig.tight_layout()
    return save_png(fig, path)
