"""Apply a finished gait-emg run to a new person's walking trials (``myoflow predict RUN_DIR TRIALS...``).

A trial is read with :func:`myoflow.io.read` (a native Trial file of a dataset folder, as
``myoflow convert`` writes) and cut into cycles by the run's own chain
(:func:`~.pipeline._cycles_from_trials` with the run's ``data``/``preprocess`` settings: the same
heel-strike, plausibility and valid-range rules as ``myoflow run gait-emg --data``). Inputs are
built by :func:`~.features.kinematic_inputs` with the run's ``inputs``/``shifts_ms``; each saved
estimator carries its own feature standardisation (fitted inside its fold's training data). The
prediction is the mean of the fold's saved ensemble members, as in the fold's scoring.

Measured sEMG in the trial, when it has the run's muscles, is normalised by the trial's own
ensemble-average peak (a new person has no calibration walk) and scored with the pipeline's
:func:`~myoflow.evaluate.metrics.r2_ensemble_average`.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ...errors import DataError

__all__ = ["load_fold_models", "predict_trial", "choose_fold"]

log = logging.getLogger(__name__)


def _fold_dirs(run_dir: Path) -> list[Path]:
    root = Path(run_dir) / "folds"
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def choose_fold(run_dir: Path, fold: str | None) -> Path:
    """The fold folder whose models are used: ``fold`` if given, else the one trained on every subject
    (``final-all``, :attr:`GaitEvaluateConfig.final_model`), else the first fold with a saved model."""
    dirs = [d for d in _fold_dirs(run_dir) if (d / "torque_based.safetensors").is_file()]
    if not dirs:
        raise DataError("the run has no saved gait model (folds/*/torque_based.safetensors); rerun it with "
                        "this version of myoflow", str(run_dir))
    if fold is not None:
        hit = [d for d in dirs if d.name == fold]
        if not hit:
            raise DataError(f"--fold {fold!r}: no such fold with a saved model; folds: {[d.name for d in dirs]}",
                            str(run_dir))
        return hit[0]
    # the final fold is always named final-all (a folder cohort may be named "finalists": its folds are not)
    final = [d for d in dirs if d.name == "final-all"]
    if final:
        return final[0]
    # a cohort's fold (sim-k0, a folder cohort's lab-k0, within-cycles-k0; not a real trial's real-walk45)
    if any(not d.name.startswith("real-") for d in dirs):
        # not silent: a cross-validation fold's model saw only part of the cohort
        log.warning("%s has no model trained on every subject (evaluate.final_model: false, or an older run); "
                    "using fold %s's (--fold to choose)", run_dir, dirs[0].name)
    return dirs[0]


def load_fold_models(fold_dir: Path, model: str) -> tuple[list, dict[str, Any]]:
    """The saved ensemble members of ``model`` in one fold and the fold's extras."""
    from ...experiments._rundir import read_fold_json
    from ...models.base import estimator_from_parts
    from ...train.checkpoint import load_state_dict

    extras = read_fold_json(fold_dir / "extras.json")
    entry = (extras.get("models") or {}).get(model)
    if entry is None or "predict" not in extras:
        raise DataError(f"no saved {model!r} gait model for predict in this fold (a run of an older myoflow?); "
                        "rerun it", str(fold_dir))
    configs = entry.get("members") or [entry["estimator"]]
    ests = []
    for i, conf in enumerate(configs):
        path = fold_dir / (f"{model}.safetensors" if i == 0 else f"{model}.m{i}.safetensors")
        tensors, _ = load_state_dict(path)
        ests.append(estimator_from_parts(conf, tensors, where=str(path)))
    return ests, extras


def read_trial(path: Path):
    """A walking Trial from ``path`` (one-line error naming the file otherwise).

    A file of joint angles alone (an OpenSim IK ``.mot``, a CSV of ``hip_flexion``...) is the ``angles``
    stream of a trial without EMG: predict needs no more (heel strikes then come from the kinematics).
    """
    from ...biomech.gait_cycles import ANGLES_MYOFLOW, ANGLES_OPENSIM
    from ...containers import Recording, Trial
    from ...io import read

    if not Path(path).is_file():
        raise DataError("trial file not found", str(path))
    obj = read(path)
    if isinstance(obj, Recording):
        names = set(obj.ch_names)
        stems = (*ANGLES_OPENSIM, *ANGLES_MYOFLOW)
        if any(f"{j}{s}" in names for j in stems for s in ("", "_r", "_l")):
            # the IK .mot itself: it was "expected a walking Trial (an angles stream), got a Recording"
            return Trial(streams={"angles": obj}, meta={**{k: v for k, v in obj.meta.items()
                                                          if k in ("subject", "session", "trial")},
                                                       "source": str(path)})
    if not isinstance(obj, Trial):
        raise DataError(f"expected a walking trial, got a {type(obj).__name__} without joint angles "
                        f"({', '.join(map(str, obj.ch_names[:4]))}{', ...' if obj.n_channels > 4 else ''}): pass "
                        "the IK .mot (or a CSV of joint angles), or convert the session's files into one trial "
                        "(myoflow convert RAW --pattern '{subject}_{trial}_{stream}' --streams ik=angles,emg=emg "
                        "--out DIR) and pass its .h5", str(path))
    return obj


def predict_trial(cfg, ests: list, extras: dict[str, Any], path: Path, min_cycles: int = 2) -> dict[str, Any]:
    """Predicted envelopes of one trial by the ensemble ``ests`` (:func:`load_fold_models`).

    Returns {"cycles": GaitCycles, "pred": (n, M, P), "muscles", "r2": dict|None}.
    """
    from ...biomech.gait_cycles import normalise_emg, subtract_emg_floor
    from ...evaluate.metrics import r2_ensemble_average
    from .features import kinematic_inputs, to_rows, from_rows
    from .pipeline import _cycles_from_trials

    trial = read_trial(path)
    # NaN/inf samples never get here: a Recording refuses them when the file is read
    try:
        c = _cycles_from_trials([(Path(path).stem, trial)], cfg, user=True, kinematics_only=True)
    except DataError as exc:
        raise DataError(str(exc).split(": ", 1)[-1] if str(exc).startswith(str(path)) else str(exc),
                        str(path)) from None
    if len(c) < min_cycles:
        raise DataError(f"{len(c)} plausible gait cycle(s); predict needs at least {min_cycles}", str(path))
    P = int(extras["predict"]["n_points"])
    if c.n_points != P:
        raise DataError(f"cycles of {c.n_points} points, the model was trained on {P}", str(path))
    X = to_rows(kinematic_inputs(c.angles, c.durations, tuple(cfg.preprocess.inputs),
                                 tuple(cfg.preprocess.shifts_ms)))
    pred = from_rows(np.mean([e.predict(X) for e in ests], axis=0), len(c), P)
    muscles = list(extras["predict"]["muscles"])
    r2 = None
    covered = [m for m in muscles if m in c.muscles]
    if covered:
        # scored on the run's muscles the trial has, as a training trial carrying 4 of the 7 is: a trial
        # lacking one of them printed no R² at all, without a word
        if len(covered) < len(muscles):
            log.warning("%s: the trial's EMG has %s but not %s of the run's muscles: R² for those it has only",
                        path, covered, [m for m in muscles if m not in covered])
        if cfg.data.emg_floor_percentile is not None:
            c, _ = subtract_emg_floor(c, cfg.data.emg_floor_percentile)
        c, _ = normalise_emg(c)
        idx = [list(c.muscles).index(m) for m in covered]
        vals = r2_ensemble_average(c.emg[:, idx, :], pred[:, [muscles.index(m) for m in covered], :])
        r2 = {m: float(v) for m, v in zip(covered, vals)}
    return {"cycles": c, "pred": pred, "muscles": muscles, "r2": r2}


def write_outputs(res: dict[str, Any], out_dir: Path, stem: str, model: str) -> dict[str, str]:
    """Per-cycle CSV, mean/SD CSV and a PNG (mean ± SD per muscle) into ``out_dir``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..._atomic import atomic_write_text
    from ...report.figures import save_png

    pred, muscles, c = res["pred"], res["muscles"], res["cycles"]
    n, M, P = pred.shape
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = pd.DataFrame({"cycle": np.repeat(c.metadata["cycle"].to_numpy(), P), "point": np.tile(np.arange(P), n),
                         "percent_cycle": np.tile(np.linspace(0, 100, P), n)})
    for j, m in enumerate(muscles):
        rows[m] = pred[:, j, :].reshape(-1)
    x = np.linspace(0, 100, P)
    mu, sd = pred.mean(axis=0), pred.std(axis=0)  # (M, P) over cycles: the CSV and the plot
    mean = pd.DataFrame({"percent_cycle": x})
    for j, m in enumerate(muscles):
        mean[f"{m}_mean"], mean[f"{m}_sd"] = mu[j], sd[j]
    p_cyc, p_mean, p_png = (out_dir / f"{stem}_{model}_cycles.csv", out_dir / f"{stem}_{model}_mean.csv",
                            out_dir / f"{stem}_{model}.png")
    atomic_write_text(p_cyc, rows.to_csv(index=False, float_format="%.6g"))
    atomic_write_text(p_mean, mean.to_csv(index=False, float_format="%.6g"))
    fig, axes = plt.subplots(1, M, figsize=(2.2 * M, 2.4), squeeze=False)
    for j, m in enumerate(muscles):
        ax = axes[0, j]
        ax.plot(x, mu[j], color="C0")
        ax.fill_between(x, mu[j] - sd[j], mu[j] + sd[j], color="C0", alpha=0.3)
        ax.set_title(m)
        ax.set_xlabel("% gait cycle")
    axes[0, 0].set_ylabel("predicted envelope (× ref. peak)")
    fig.suptitle(f"{stem}: {model}, mean ± SD over {n} cycles")
    save_png(fig, p_png)
    return {"cycles_csv": str(p_cyc), "mean_csv": str(p_mean), "plot": str(p_png)}


def run_predict(run_dir: Path, trials, model: str, fold: str | None, out: Path | None) -> dict[str, Any]:
    """Everything ``myoflow predict`` does for a gait-emg run; returns the JSON-able result."""
    from ...experiments._rundir import prediction_out_dir, read_run_config

    cfg = read_run_config(run_dir, "gait-emg", "predict")
    if model not in ("torque_based", "baseline"):
        raise DataError(f"--model {model!r}: a gait-emg run has 'torque_based' (default) and 'baseline' (direct)",
                        str(run_dir))
    fold_dir = choose_fold(run_dir, fold)
    out_dir = prediction_out_dir(out, run_dir, trials)
    result: dict[str, Any] = {"run": str(run_dir), "fold": fold_dir.name, "model": model, "trials": {}}
    ests, extras = load_fold_models(fold_dir, model)  # once: every trial is predicted by the same members
    for t in trials:
        res = predict_trial(cfg, ests, extras, Path(t))
        try:
            # parent folder + stem: a dataset folder names every subject's trial file alike (S001/walk.h5)
            files = write_outputs(res, out_dir, f"{Path(t).resolve().parent.name}_{Path(t).stem}", model)
        except OSError as exc:
            raise DataError(f"cannot write predictions ({exc.strerror or exc}); pass --out DIR", str(out_dir)) from None
        pred = res["pred"]
        result["trials"][str(t)] = {
            "n_cycles": int(pred.shape[0]), "muscles": res["muscles"],
            "peak_of_mean": {m: float(pred[:, j].mean(0).max()) for j, m in enumerate(res["muscles"])},
            "r2_ens": res["r2"], **files}
    return result
