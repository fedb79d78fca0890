"""Sim → real transfer: models trained only on simulated VL/BF/TA/GL, scored on the real elderly set.

Issue #18 item 5. Cohorts (all windowed by the muscle-id pipeline's real-cohort
settings, :func:`myoflow.pipelines.muscle_id.data.load_cohort`: 20–450 Hz, 50 Hz
notch, 1 kHz, every recording tiled into consecutive 500 ms windows):

* **train** — the ``lowerlimb`` protocol (:mod:`myoflow.simulate.protocols.lowerlimb`),
  seed ``seed``, ``n_train`` simulated subjects;
* **select** — the same protocol, seed ``seed + 1`` (different subjects, units,
  placements): sim → sim accuracy, reported beside every recipe (a diagnostic);
* **real** — the 30 subjects of ``elderly-lowerlimb-emg`` (Silva et al. 2024, CC0):
  each task recording's contracting-muscle channel, labelled by that muscle, split
  by subject id into a **calibration** half (odd ids) and a **scoring** half (even
  ids) — the split the simulator calibration (``validate-simulator``) uses too.

Transfer recipe (``calibrate="odd"``, the default): every model is trained on the
simulated cohort under each recipe of its grid (:data:`RECIPES`, :data:`CNN_RECIPES`):

* amplitude normalisation (:func:`normalise`): per recording (RMS of all its windows),
  per window, or none (volts as recorded);
* features for LDA/RF (:func:`feature_matrix`): the 22 classic ones or the amplitude-free
  subset (spectrum and waveform shape only);
* domain randomisation of the simulated windows (:func:`randomise_domain`): extra copies
  of every simulated recording with a random spectral stretch and random white noise.

The recipe with the best 4-class window accuracy on the **calibration** real subjects is
kept; every reported real figure is on the **scoring** subjects only, which no choice
saw. The a-priori recipe of the first version (per-recording RMS, 22 classic features, no
randomisation; the CNN without augmentation) is scored on the same subjects, and the
chosen − fixed difference gets a paired subject-bootstrap CI. ``calibrate="none"``
scores the a-priori recipe on all real subjects (the first version's protocol).

Fixed before any data were looked at (not chosen): window 500 ms and the preprocessing
above; LDA (shrinkage) and random forest (200 trees) with the estimator defaults; the
CNN's size and optimiser (``deep_window`` ``arch="cnn"``, 30 epochs, AdamW 2e-3, cosine,
early stopping on 20 % of the training subjects).

Reported: 4-class window accuracy and per-recording soft vote (mean probability), and
3-class VL/BF/TA (real VL/BF/TA recordings, argmax over the VL/BF/TA probabilities of
the same 4-class model — the real GL channel carries amplifier noise only, 1.3–1.6 µV
RMS with a flat spectrum), each with a 95 % subject-bootstrap CI
(:func:`myoflow.evaluate.bootstrap.bootstrap_ci`) and a confusion matrix.
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

__all__ = ["SimRealConfig", "run_simreal", "standardise_recordings", "normalise", "feature_matrix",
           "randomise_domain", "split_halves", "RECIPES", "CNN_RECIPES", "CNN_GRID", "MUSCLES4", "MUSCLES3",
           "plot_confusions", "plot_summary"]

log = logging.getLogger(__name__)

MUSCLES4 = ("VL", "BF", "TA", "GL")
MUSCLES3 = ("VL", "BF", "TA")
#: The first version's CNN augmentation grid (chosen on the simulated select cohort; both tied, the first kept).
CNN_GRID: list[dict[str, Any]] = [
    {"max_shift": 0, "max_gain": 1.0, "noise": 0.0},       # no augmentation
    {"max_shift": 100, "max_gain": 2.0, "noise": 0.05},    # shift ±100 ms, gain ×/÷2, 26 dB noise
]
#: LDA/RF transfer recipes; the first is the a-priori one (the first version's).
RECIPES: list[dict[str, Any]] = [
    {"normalise": n, "features": f, "randomise": r}
    for r in (0, 2) for n in ("recording", "window", "none") for f in ("classic", "shape")]
#: CNN transfer recipes (its input is standardised per window inside the network; ``normalise`` sets what its
#: log-RMS side input sees); the first is the a-priori one.
CNN_RECIPES: list[dict[str, Any]] = [
    {"normalise": n, "randomise": r, **CNN_GRID[0]} for r in (0, 2) for n in ("recording", "none")]


@dataclass
class SimRealConfig:
    """Settings of :func:`run_simreal` (defaults: the reported run).

    ``calibrate``: ``"odd"`` — recipes chosen on the odd-id real subjects, every real figure on the
    even ids (default); ``"none"`` — the a-priori recipe only, scored on all real subjects (the first
    version). ``randomise_seed``: seed of the domain randomisation (apart from the simulation seeds).
    """

    n_train: int = 30
    n_select: int = 10
    seed: int = 0
    duration_s: float = 10.0
    real_subjects: int | None = None   # first N real subjects (None: all 30)
    models: tuple[str, ...] = ("lda", "rf", "cnn")
    cnn_epochs: int = 30
    n_boot: int = 2000
    calibrate: str = "odd"
    randomise_seed: int = 7
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.calibrate not in ("odd", "none"):
            raise ConfigError(f"calibrate must be 'odd' or 'none', got {self.calibrate!r}")


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


def split_halves(subjects: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks (calibration, scoring) of real windows: odd subject ids calibrate, even ids score.

    A subject id without a number is a :class:`~myoflow.errors.DataError` (the halves must be defined).
    """
    from ..errors import DataError

    ids = []
    for s in np.asarray(subjects).astype(str):
        digits = "".join(ch for ch in s if ch.isdigit())
        if not digits:
            raise DataError(f"real subject id {s!r} has no number; the odd/even calibration split needs one")
        ids.append(int(digits))
    odd = np.asarray(ids) % 2 == 1
    return odd, ~odd


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


def _inputs(name: str, epochs, recipe: dict[str, Any]):
    ep = normalise(epochs, recipe.get("normalise", "recording"))
    return feature_matrix(ep, recipe.get("features", "classic")) if name in ("lda", "rf") else ep


def _proba(est, X, classes: tuple[str, ...]) -> np.ndarray:
    p = np.asarray(est.predict_proba(X), dtype=float)
    order = [list(map(str, est.classes_)).index(c) for c in classes]
    return p[:, order]


def _accuracy(proba: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.asarray(MUSCLES4)[proba.argmax(1)] == y))


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


def _paired_diff(y: np.ndarray, pa: np.ndarray, pb: np.ndarray, subjects: np.ndarray, n_boot: int,
                 seed: int) -> dict[str, Any]:
    """4-class window accuracy of ``pa`` minus ``pb`` (same windows), paired subject-bootstrap 95 % CI."""
    from ..evaluate.bootstrap import paired_bootstrap_ci

    cls = np.asarray(MUSCLES4)
    frames = [pd.DataFrame({"subject": subjects, "correct": cls[p.argmax(1)] == y}) for p in (pa, pb)]
    ci = paired_bootstrap_ci(frames[0], frames[1], lambda d: float(d["correct"].mean()), group="subject",
                             n_boot=n_boot, seed=seed)
    return {"diff": ci.point, "ci95": [ci.lo, ci.hi], "n_subjects": int(len(np.unique(subjects)))}


def run_simreal(cfg: SimRealConfig | None = None, cache_dir: Path | None = None,
                real_path: Path | None = None) -> dict[str, Any]:
    """Train on the simulated cohort, choose on the calibration half, score the scoring half (module docstring).

    ``real_path``: the ``elderly-lowerlimb-emg`` folder (default: the shared-data one).
    Returns a JSON-able dict: settings, what was chosen on what, cohort sizes, and per
    model the select-cohort accuracy, the real 4-class / 3-class scores of the chosen
    recipe (``real_4class``/``real_3class``, scoring half), the a-priori recipe's on the
    same subjects (``fixed``) and the paired chosen − fixed difference.
    """
    import torch

    from threadpoolctl import threadpool_limits

    cfg = cfg or SimRealConfig()
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    train, select, real = _cohorts(cfg, cache_dir, real_path)
    real_subj = real.epochs.group("subject").astype(str)
    if cfg.calibrate == "odd":
        cal_mask, score_mask = split_halves(real_subj)
        if not cal_mask.any() or not score_mask.any():
            from ..errors import DataError

            raise DataError("the real cohort needs subjects with odd AND even ids for calibrate='odd' "
                            f"(found {sorted(set(real_subj.tolist()))})")
    else:
        cal_mask, score_mask = np.zeros(len(real_subj), bool), np.ones(len(real_subj), bool)
    real_cal = real.epochs[np.flatnonzero(cal_mask)]
    real_score = real.epochs[np.flatnonzero(score_mask)]
    eps = {"train": train.epochs, "select": select.epochs, "cal": real_cal, "score": real_score}
    ys = {k: np.asarray(e.y).astype(str) for k, e in eps.items()}
    halves = lambda m: {"n_subjects": int(len(np.unique(real_subj[m]))), "n_windows": int(m.sum()),  # noqa: E731
                        "subjects": sorted(np.unique(real_subj[m]).tolist())}
    result: dict[str, Any] = {
        "settings": {**asdict(cfg), "models": list(cfg.models), "window_ms": 500.0,
                     "preprocess": "20-450 Hz, 50 Hz notch, 1 kHz (muscle-id real cohort)",
                     "fixed_recipe": "per-recording RMS standardisation, 22 classic features, no randomisation "
                                     "(the first version; fixed a priori)",
                     "selection": ("recipes chosen on the odd-id real subjects (calibration half); every real "
                                   "figure on the even ids" if cfg.calibrate == "odd" else
                                   "none: the a-priori recipe, scored on all real subjects")},
        "cohorts": {k: {"n_subjects": int(c.info["n_subjects"]), "n_recordings": int(c.info["n_recordings"]),
                        "n_windows": int(c.info["n_windows"]), "class_counts": c.info["class_counts"]}
                    for k, c in (("sim_train", train), ("sim_select", select))},
        "chosen": {}, "models": {},
    }
    result["cohorts"]["real"] = {**halves(score_mask), "role": "scored",
                                 "class_counts": {c: int((ys["score"] == c).sum()) for c in MUSCLES4}}
    result["cohorts"]["real_calibration"] = {**halves(cal_mask), "role": "recipe choice only, never scored"}
    subj = eps["score"].group("subject").astype(str)
    recs = eps["score"].group("recording").astype(str)
    with threadpool_limits(limits=1, user_api="blas"):
        for name in cfg.models:
            t1 = time.perf_counter()
            grid = CNN_RECIPES if name == "cnn" else RECIPES
            if cfg.calibrate == "none":
                grid = grid[:1]
            tried = []
            for k, recipe in enumerate(grid):
                params = {p: v for p, v in recipe.items() if p not in ("normalise", "features", "randomise")}
                sim = randomise_domain(eps["train"], int(recipe.get("randomise", 0)),
                                       seed=cfg.randomise_seed + 1000 * k)
                est = _estimator(name, cfg, params)
                est.fit(_inputs(name, sim, recipe), np.asarray(sim.y).astype(str), groups=sim.group("subject"))
                sel = _accuracy(_proba(est, _inputs(name, eps["select"], recipe), MUSCLES4), ys["select"])
                cal = (_accuracy(_proba(est, _inputs(name, eps["cal"], recipe), MUSCLES4), ys["cal"])
                       if len(ys["cal"]) else None)
                tried.append({"recipe": recipe, "select_window_accuracy": sel, "calibration_window_accuracy": cal,
                              "estimator": est})
                log.info("simreal %s recipe %s: select %.3f calibration %s", name, recipe, sel,
                         "-" if cal is None else f"{cal:.3f}")
            best = max(range(len(tried)), key=lambda i: ((tried[i]["calibration_window_accuracy"] or 0.0), -i))
            chosen = tried[best]
            result["chosen"][name] = {
                "on": (f"real calibration half (odd ids, {result['cohorts']['real_calibration']['n_subjects']} "
                       "subjects), 4-class window accuracy" if cfg.calibrate == "odd" else "nothing (a priori)"),
                "grid": [{k: t[k] for k in ("recipe", "select_window_accuracy", "calibration_window_accuracy")}
                         for t in tried],
                "recipe": chosen["recipe"],
                "params": {p: v for p, v in chosen["recipe"].items() if p not in ("normalise", "features",
                                                                                   "randomise")}}
            probas = {}
            for key, t in (("chosen", chosen), ("fixed", tried[0])):
                probas[key] = _proba(t["estimator"], _inputs(name, eps["score"], t["recipe"]), MUSCLES4)
            p = probas["chosen"]
            entry = {
                "recipe": chosen["recipe"],
                "select_window_accuracy": chosen["select_window_accuracy"],
                "calibration_window_accuracy": chosen["calibration_window_accuracy"],
                "real_4class": _scores(ys["score"], p, subj, recs, MUSCLES4, cfg.n_boot, cfg.seed),
                "real_3class": _scores(ys["score"], p[:, :3], subj, recs, MUSCLES3, cfg.n_boot, cfg.seed),
            }
            if best != 0:
                entry["fixed"] = {
                    "recipe": tried[0]["recipe"],
                    "real_4class": _scores(ys["score"], probas["fixed"], subj, recs, MUSCLES4, cfg.n_boot, cfg.seed),
                    "real_3class": _scores(ys["score"], probas["fixed"][:, :3], subj, recs, MUSCLES3, cfg.n_boot,
                                           cfg.seed)}
                entry["chosen_minus_fixed"] = _paired_diff(ys["score"], p, probas["fixed"], subj, cfg.n_boot,
                                                           cfg.seed)
            else:
                entry["fixed"] = {"recipe": tried[0]["recipe"], "same_as_chosen": True,
                                  "real_4class": entry["real_4class"], "real_3class": entry["real_3class"]}
            entry["seconds"] = round(time.perf_counter() - t1, 1)
            result["models"][name] = entry
            r4 = entry["real_4class"]
            log.info("simreal %s: chosen %s, real (scored half) 4-class window %.3f vote %.3f", name,
                     chosen["recipe"], r4["window"]["accuracy"], r4["vote"]["accuracy"])
    result["diagnostics"] = {
        "note": "per-class medians of label-free window features after per-recording standardisation (sim train "
                "and the real SCORING half); described here, never used for a choice",
        **{k: _spectral_medians(standardise_recordings(eps[k]), ys[k]) for k in ("train", "score")}}
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


def plot_summary(result: dict[str, Any], path: Path, goal: float = 0.5) -> Path:
    """Real 4-class window accuracy per model (scoring half, 95 % subject-bootstrap CI): a-priori vs chosen."""
    from ..report.figures import pyplot, save_png

    plt = pyplot()
    names = list(result["models"])
    fig, ax = plt.subplots(figsize=(1.8 + 1.6 * len(names), 3.4))
    for i, name in enumerate(names):
        d = result["models"][name]
        for j, (key, colour) in enumerate((("fixed", "#bbbbbb"), ("chosen", "#3b75af"))):
            r = (d["fixed"] if key == "fixed" else d)["real_4class"]["window"]
            v, (lo, hi) = 100 * r["accuracy"], r["ci95"]
            x = i + (j - 0.5) * 0.38
            ax.bar(x, v, width=0.36, color=colour, label=("a-priori recipe" if key == "fixed" else
                                                          "recipe chosen on calibration half") if i == 0 else None)
            ax.errorbar(x, v, yerr=[[v - 100 * lo], [100 * hi - v]], color="black", capsize=3, lw=1)
    ax.axhline(25, color="grey", ls=":", lw=1, label="chance (25 %)")
    ax.axhline(100 * goal, color="#c0392b", ls="--", lw=1, label=f"goal ({100 * goal:.0f} %)")
    ax.set_xticks(range(len(names)), [n.upper() for n in names])
    ax.set_ylabel("real 4-class window accuracy, %")
    n = result["cohorts"]["real"]["n_subjects"]
    ax.set_title(f"trained only on simulated subjects; scored on {n} real subjects", fontsize=9)
    ax.set_ylim(0, 100)
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return save_png(fig, path)
