"""Choose the stimulated-mass fusion recipe (descriptor skip, training options) on a SEPARATELY SEEDED cohort.

Issue 14: the attention Bi-LSTM + covariates should reach the oracle − 0.05 and beat every
baseline on the reported seed-0 cohort. What limits it is studied and chosen HERE, on the
simulated cohort of another simulator seed (default 1: other subjects, other noise); the
reported seed 0 is refused. Each candidate is a set of ``MassLevelClassifier`` parameters
(and/or ``preprocess`` keys) over the shipped ``configs/stimulated_mass.yaml``; it is scored
by stratified subject-wise k-fold CV over every subject of the selection cohort (``--repeats``
split seeds), pooled out-of-fold accuracy per condition (the paper's 25 Hz and all
frequencies), score = mean over conditions and repeats. The winner maximises the score (ties:
first listed candidate, i.e. the shipped recipe). Balanced accuracy and macro F1 are recorded
beside it (the cohort is ~77 % ``normal``, so accuracy alone would reward predicting the
majority class; a candidate may set ``imbalance``, otherwise the shipped ``train.imbalance`` applies).

Tasks (candidate × condition × repeat × fold) run in ``--workers`` processes, one torch thread
each. Every fold's score, the choice, the command, the date and the machine load go to
``--out`` (JSON)::

    PYTHONPATH=src python benchmarks/select_fusion.py --seed 1 \\
        --out benchmarks/results/selection/stimulated_mass_fusion_seed1.json

Every record also scores the pipeline's sklearn baselines in the same folds, each fitted
class-weighted AND unweighted (``references_same_folds``, ``margin`` per candidate and condition =
candidate accuracy − the best of them), so a change of class weighting cannot win by
handicapping the baselines. ``--combine REC ...`` applies the robustness rule of
``results/selection/stimulated_mass_robust_rule.txt`` over several seeds' records (score = the
minimum margin over seeds × conditions; a candidate replaces the first one only if it beats it
by ``--min-gain``, default one subject in 90). ``--combine ... --bacc-tolerance 0.02`` adds round
3's balanced-accuracy floor (``results/selection/stimulated_mass_robust_rule3.txt``); ``--stopping
REC ...`` reports how many ensemble members stop after their first epoch. Candidates that differ only
in ``prior_adjust`` are scored from the same fits. ``--diagnose`` writes the sklearn-only diagnosis
(why ``descriptors_gb`` beats the class-balanced model in accuracy) without fitting a network.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import refuse_reported_seed, write_selection_record  # noqa: E402  (puts src/ on the path)
from select_recipes import load_cohort  # noqa: E402  (the same cohort the recipe selection uses)


#: Candidates, first = the shipped recipe before this selection (ties keep it).
CANDIDATES = {
    "shipped": {},
    "logreg_skip": {"descriptors": True, "skip": True, "skip_fit": "logreg"},
    "logreg_skip_lr001": {"descriptors": True, "skip": True, "skip_fit": "logreg", "lr": 0.001},
    "logreg_skip_gated": {"descriptors": True, "skip": True, "skip_fit": "logreg", "skip_gate": True},
}


def _read_selection_record(p) -> dict | None:
    """A selection record of a separately seeded cohort, or None after a one-line error (unreadable, seed 0)."""
    try:
        r = json.loads(Path(p).read_text())
    except (OSError, ValueError) as exc:
        print(f"error: {p}: cannot read record ({exc})", file=sys.stderr)
        return None
    if refuse_reported_seed(int(r.get("selection_seed", 0))):
        return None
    return r


_CACHE: dict = {}
#: sklearn baselines scored in the same folds for reference (never chosen from).
REFERENCES = ("descriptors_logreg", "descriptors_gb", "oracle_truth_logreg")
#: The pipeline's baselines (the oracle is a ceiling, not a baseline): "best baseline" of the margin.
BASELINES = ("covariates_logreg", "descriptors_gb", "descriptors_logreg", "ptp_logreg")
#: Class weightings every reference is fitted with (``fit_baseline``'s ``imbalance``).
WEIGHTINGS = ("class_weight", "none")


def _folds(cfg, data, seed: int, rep: int, n_folds: int):
    """The subject-wise folds of repeat ``rep`` (the same for every candidate and reference)."""
    from myoflow.pipelines.stimulated_mass.tuning import cohort_name
    from myoflow.train.seeding import derive_seed
    from myoflow.train.tune import subject_folds

    subj = data.participants["subject"].astype(str).to_numpy()
    y = data.labels(subj)
    return subj, y, subject_folds(subj, y, n_folds, derive_seed(seed, "fusion-split", rep), cohort_name(cfg),
                                  "selection cohort")


def reference_predictions(cfg, data, seed: int, cond: str, rep: int, n_folds: int) -> dict:
    """Out-of-fold predictions of every baseline × weighting (``name@weighting``), the oracle, the majority class.

    Returns ``{"subjects": [...], "truth": [...], name: [...]}`` in subject order of the cohort.
    """
    import numpy as np

    from myoflow.pipelines.stimulated_mass.baselines import baseline_features, fit_baseline, proba_in_order
    from myoflow.preprocess.evoked import condition_frequencies
    from myoflow.train.seeding import derive_seed

    freqs = condition_frequencies(cond, data.frequencies)
    subj, y, folds = _folds(cfg, data, seed, rep, n_folds)
    classes = list(cfg.data.classes)
    out: dict = {"subjects": subj.tolist(), "truth": y.tolist()}
    for b in BASELINES + ("oracle_truth_logreg",):
        X, _ = baseline_features(b, data, subj.tolist(), freqs, cfg.data.oracle_features)
        for w in WEIGHTINGS:
            pred = np.empty(len(y), dtype=object)
            for k, (tr, te) in enumerate(folds):
                clf = fit_baseline(b, X[tr], y[tr], classes=classes, imbalance=w, seed=derive_seed(seed, b, rep, k))
                pred[te] = np.asarray(classes)[np.argmax(proba_in_order(clf, X[te], classes), 1)]
            out[f"{b}@{w}"] = pred.tolist()
    pred = np.empty(len(y), dtype=object)
    for tr, te in folds:  # the most frequent training class, for everyone: what accuracy gives for free
        vals, counts = np.unique(y[tr], return_counts=True)
        pred[te] = vals[np.argmax(counts)]
    out["majority_class"] = pred.tolist()
    return out


def best_baseline(refs: dict, truth_by_subject: dict) -> tuple[str, float]:
    """(name, accuracy) of the most accurate ``BASELINES`` × ``WEIGHTINGS`` reference."""
    subj = refs["subjects"]
    accs = {f"{b}@{w}": sum(truth_by_subject[s] == p for s, p in zip(subj, refs[f"{b}@{w}"])) / len(subj)
            for b in BASELINES for w in WEIGHTINGS}
    name = max(accs, key=accs.get)
    return name, accs[name]


def split_prior_adjust(cands: dict) -> dict:
    """Group candidates by what must be FITTED: ``{json(params without prior_adjust): [(name, tau), ...]}``.

    ``prior_adjust`` only changes the decision of a fitted model (its probabilities times the training prior to
    the power tau), so candidates that differ only in it are scored from the same fits (identical to fitting
    each: the fit never reads ``prior_adjust``). Insertion order follows ``cands``.
    """
    groups: dict = {}
    for name, params in cands.items():
        base = {k: v for k, v in params.items() if k != "prior_adjust"}
        groups.setdefault(json.dumps(base, sort_keys=True), []).append((name, float(params.get("prior_adjust", 0.0))))
    return groups


def adjusted_prediction(proba, prior, tau: float, classes) -> list:
    """argmax of ``log proba + tau · log prior`` (``MassLevelClassifier(prior_adjust=tau)``'s decision)."""
    import numpy as np

    logp = np.log(np.clip(np.asarray(proba, dtype=float), 1e-12, None))
    logp = logp + float(tau) * np.log(np.clip(np.asarray(prior, dtype=float), 1e-12, None))
    return np.asarray(classes)[np.argmax(logp, 1)].tolist()


def _task(args: tuple) -> list[dict]:
    """One fitted recipe × condition × repeat × fold: fit on the fold's training subjects, predict its test
    subjects; one result per candidate of the fit group (``variants`` = [(name, prior_adjust tau), ...])."""
    seed, epochs, subjects, variants, params, cond, rep, k, n_folds = args
    import numpy as np
    import torch

    torch.set_num_threads(1)
    from dataclasses import asdict

    from myoflow.pipelines.stimulated_mass.pipeline import make_estimator
    from myoflow.pipelines.stimulated_mass.tuning import PREPROCESS_KEYS, cohort_name, recipe_epochs
    from myoflow.preprocess.evoked import condition_frequencies
    from myoflow.train.seeding import derive_seed

    key = (seed, epochs, subjects)
    if key not in _CACHE:
        _CACHE[key] = load_cohort(seed, epochs, subjects)
    cfg, data = _CACHE[key]
    freqs = condition_frequencies(cond, data.frequencies)
    subj, y, folds = _folds(cfg, data, seed, rep, n_folds)
    tr, te = folds[k]
    pre = {kk: v for kk, v in asdict(cfg.preprocess).items() if kk in PREPROCESS_KEYS}
    pre.update({kk: v for kk, v in params.items() if kk in PREPROCESS_KEYS})
    est = make_estimator(cfg, "attention_bilstm", derive_seed(seed, "fusion", rep, k))
    est.set_params(**{kk: v for kk, v in params.items() if kk not in PREPROCESS_KEYS})
    aug = derive_seed(seed, "augment", rep, k)
    t0 = time.perf_counter()
    ep_tr = recipe_epochs(data, subj[tr].tolist(), freqs, pre, train=True, seed=aug)
    ep_te = recipe_epochs(data, subj[te].tolist(), freqs, pre, train=False, seed=0)
    est.fit(ep_tr)
    est.set_params(prior_adjust=0.0)
    proba = est.predict_proba(ep_te)
    prior = np.asarray(est.class_prior_, dtype=float)
    test = ep_te.metadata["subject"].astype(str).tolist()
    # Reference (not a candidate): the sklearn baselines in the same fold, e.g. descriptors_logreg = the
    # hybrid's linear path alone, so the record shows what the network adds.
    from myoflow.pipelines.stimulated_mass.baselines import baseline_features, fit_baseline, proba_in_order

    refs = {}
    for b in REFERENCES:
        Xtr, _ = baseline_features(b, data, subj[tr].tolist(), freqs, cfg.data.oracle_features)
        Xte, _ = baseline_features(b, data, test, freqs, cfg.data.oracle_features)
        clf = fit_baseline(b, Xtr, y[tr], classes=list(cfg.data.classes), imbalance=cfg.train.imbalance,
                           seed=derive_seed(seed, b, rep, k))
        refs[b] = np.asarray(cfg.data.classes)[np.argmax(proba_in_order(clf, Xte, cfg.data.classes), 1)].tolist()
    common = {"condition": cond, "repeat": rep, "fold": k, "subjects": test, "truth": ep_te.y.tolist(),
              "best_epochs": [int(h.best_epoch) for h in est.histories_],
              # per member: epochs run and validation loss per epoch (the early-stopping diagnosis)
              "val_loss_curves": [[round(float(v), 4) for v in h.val_loss] for h in est.histories_],
              "proba": np.round(proba, 6).tolist(), "class_prior": prior.tolist(),
              "references": refs, "seconds": round(time.perf_counter() - t0, 1), "cohort": cohort_name(cfg)}
    return [{"candidate": name, "prior_adjust": tau, **common,
             "prediction": adjusted_prediction(proba, prior, tau, est.classes_)} for name, tau in variants]


def _metrics(truth, pred) -> dict:
    from sklearn.metrics import balanced_accuracy_score, f1_score

    import numpy as np

    truth, pred = np.asarray(truth), np.asarray(pred)
    return {"accuracy": float((truth == pred).mean()), "balanced_accuracy": float(balanced_accuracy_score(truth, pred)),
            "f1_macro": float(f1_score(truth, pred, average="macro"))}


def diagnose(seed: int, repeats: int, n_folds: int, conds: list[str]) -> dict:
    """sklearn-only diagnosis on cohort ``seed``: which features and which class prior make a baseline accurate.

    Each row is one scikit-learn model on one feature set, scored by pooled out-of-fold accuracy and balanced
    accuracy in the folds of the fusion selection (``repeats`` split seeds), with how many subjects it predicts
    per class: GB vs logistic regression, class-weighted vs not, descriptors alone / covariates alone, and
    pairwise products (descriptor × covariate interactions) in a logistic regression.
    """
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import PolynomialFeatures, StandardScaler

    from myoflow.pipelines.stimulated_mass.baselines import _one_openmp_thread, baseline_features
    from myoflow.preprocess.evoked import condition_frequencies

    cfg, data = load_cohort(seed, None, None)
    classes = list(cfg.data.classes)
    n_cov = len(cfg.data.covariates)

    def gb(w):  # the descriptors_gb baseline's settings
        return HistGradientBoostingClassifier(max_iter=150, learning_rate=0.05, max_depth=3, min_samples_leaf=5,
                                              l2_regularization=1.0, class_weight=w, random_state=0)

    def lr(w, poly=False):
        steps = [StandardScaler()] + ([PolynomialFeatures(2, include_bias=False), StandardScaler()] if poly else [])
        return make_pipeline(*steps, LogisticRegression(C=0.1 if poly else 1.0, class_weight=w, max_iter=5000))

    rows = []
    for cond in conds:
        freqs = condition_frequencies(cond, data.frequencies)
        subj0, y0, _ = _folds(cfg, data, seed, 0, n_folds)
        Xl, _ = baseline_features("descriptors_logreg", data, subj0.tolist(), freqs)
        Xg, _ = baseline_features("descriptors_gb", data, subj0.tolist(), freqs)
        models = {
            "logreg balanced, log descriptors + covariates (= descriptors_logreg)": (Xl, lambda: lr("balanced")),
            "logreg unweighted, log descriptors + covariates": (Xl, lambda: lr(None)),
            "GB balanced, descriptors + covariates (= descriptors_gb)": (Xg, lambda: gb("balanced")),
            "GB unweighted, descriptors + covariates": (Xg, lambda: gb(None)),
            "GB balanced, descriptors only": (Xg[:, :-n_cov], lambda: gb("balanced")),
            "GB balanced, covariates only": (Xg[:, -n_cov:], lambda: gb("balanced")),
            "logreg balanced, log descriptors only": (Xl[:, :-n_cov], lambda: lr("balanced")),
            "logreg balanced, covariates only": (Xl[:, -n_cov:], lambda: lr("balanced")),
            "logreg balanced, pairwise products (C 0.1)": (Xl, lambda: lr("balanced", poly=True)),
        }
        for name, (X, make) in models.items():
            accs, baccs, dist = [], [], np.zeros(len(classes))
            for rep in range(repeats):
                subj, y, folds = _folds(cfg, data, seed, rep, n_folds)
                assert (subj == subj0).all()
                pred = np.empty(len(y), dtype=object)
                for tr, te in folds:
                    with _one_openmp_thread():
                        pred[te] = make().fit(X[tr], y[tr]).predict(X[te])
                pred = pred.astype(str)
                accs.append(float((pred == y).mean()))
                baccs.append(float(balanced_accuracy_score(y, pred)))
                dist += [(pred == c).sum() for c in classes]
            rows.append({"condition": cond, "model": name, "accuracy": float(np.mean(accs)), "per_repeat": accs,
                         "balanced_accuracy": float(np.mean(baccs)),
                         "predicted_per_class": dict(zip(classes, (dist / repeats).round(1).tolist()))})
    return {"what": "stimulated-mass diagnosis (sklearn only): why descriptors_gb out-scores the class-balanced "
                    "model in accuracy", "cohort_seed": seed, "repeats": repeats, "folds": n_folds,
            "class_counts": {c: int((y0 == c).sum()) for c in classes},
            "majority_class_accuracy": float(max((y0 == c).mean() for c in classes)), "rows": rows}


def stopping_report(paths: list[Path]) -> dict | None:
    """Early-stopping diagnosis of records with member validation curves (``val_loss_curves``, round 3 on).

    Per seed × candidate × condition: members, how many have their best validation loss after the FIRST
    epoch (``best_epoch == 0``: the branch never improved on one epoch of training), median and max best
    epoch, epochs run, out-of-fold predictions per class, agreement with ``descriptors_logreg`` (the skip's
    baseline fitted on the whole fold, same weighting), accuracy and balanced accuracy. None after a one-line
    error (unreadable record, reported seed, no curves).
    """
    import numpy as np

    rows = []
    for p in paths:
        r = _read_selection_record(p)
        if r is None:
            return None
        if not any("val_loss_curves" in t for t in r.get("tasks", [])):
            print(f"error: {p}: record has no member validation curves (written before round 3)", file=sys.stderr)
            return None
        per = {(t["candidate"], t["condition"]): [] for t in r["tasks"]}
        for t in r["tasks"]:
            per[(t["candidate"], t["condition"])].append(t)
        for (cand, cond), ts in per.items():
            be = np.array([b for t in ts for b in t["best_epochs"]])
            n_run = [len(c) for t in ts for c in t["val_loss_curves"]]
            truth = [v for t in ts for v in t["truth"]]
            pred = [v for t in ts for v in t["prediction"]]
            ref = [v for t in ts for v in t["references"]["descriptors_logreg"]]
            rows.append({"seed": r["selection_seed"], "candidate": cand, "condition": cond, "members": int(be.size),
                         "best_after_first_epoch": int((be == 0).sum()), "median_best_epoch": float(np.median(be)),
                         "max_best_epoch": int(be.max()), "median_epochs_run": float(np.median(n_run)),
                         "predicted_per_class": {c: pred.count(c) for c in sorted(set(truth) | set(pred))},
                         "agreement_with_descriptors_logreg": float(np.mean([a == b for a, b in zip(pred, ref)])),
                         **_metrics(truth, pred)})
    return {"what": "stimulated-mass early-stopping diagnosis of select_fusion records (members' validation curves)",
            "records": [str(p) for p in paths], "rows": rows}


def skip_saturation(seed: int, n_folds: int, conds: list[str]) -> dict:
    """How far the shipped frozen skip saturates the rows its network head is trained on (no network trained).

    For every outer fold of the selection folds (repeat 0) and every member of the shipped recipe: the member's
    loss (its class-weighted cross-entropy) and accuracy of the skip ALONE (the head outputs 0 before training)
    on its training rows and on its validation rows, and its validation subjects per class. Each member is run
    with one epoch only, and read before that epoch.
    """
    import numpy as np
    import torch

    import myoflow.train as mt
    from dataclasses import asdict

    from myoflow.pipelines.stimulated_mass.pipeline import make_estimator
    from myoflow.pipelines.stimulated_mass.tuning import PREPROCESS_KEYS, recipe_epochs
    from myoflow.preprocess.evoked import condition_frequencies
    from myoflow.train.seeding import derive_seed

    cfg, data = load_cohort(seed, None, None)
    classes = list(cfg.data.classes)
    rows, real = [], mt.fit_module

    def spy(module, inputs, target, loss_fn, val_inputs=None, val_target=None, **kw):
        module.eval()
        with torch.no_grad():
            for part, xs, t in (("train", inputs, target), ("validation", val_inputs, val_target)):
                out = module(*[torch.as_tensor(a) for a in xs])
                rows[-1][f"skip_{part}_loss"] = float(loss_fn(out, torch.as_tensor(t)))
                rows[-1][f"skip_{part}_accuracy"] = float((out[0].argmax(1).numpy() == t).mean())
        rows[-1]["validation_rows_per_class"] = dict(zip(classes, np.bincount(val_target, minlength=len(classes))
                                                           .tolist()))
        return real(module, inputs, target, loss_fn, val_inputs=val_inputs, val_target=val_target, **kw)

    from myoflow.models.attention_bilstm import MassLevelClassifier

    where = {}
    orig_fit_skip = MassLevelClassifier._fit_skip

    def fit_skip(self, member, side, target, rows_, subjects):  # a member's row starts where its skip is fitted
        n = sum(1 for r in rows if (r["condition"], r["fold"]) == (where["cond"], where["fold"]))
        rows.append({"condition": where["cond"], "fold": where["fold"], "member": n, "side_features": side.shape[1]})
        return orig_fit_skip(self, member, side, target, rows_, subjects)

    mt.fit_module, MassLevelClassifier._fit_skip = spy, fit_skip
    try:
        for cond in conds:
            freqs = condition_frequencies(cond, data.frequencies)
            subj, y, folds = _folds(cfg, data, seed, 0, n_folds)
            pre = {kk: v for kk, v in asdict(cfg.preprocess).items() if kk in PREPROCESS_KEYS}
            for k, (tr, _) in enumerate(folds):
                where.update(cond=cond, fold=k)
                est = make_estimator(cfg, "attention_bilstm", derive_seed(seed, "fusion", 0, k))
                est.set_params(epochs=1)
                est.fit(recipe_epochs(data, subj[tr].tolist(), freqs, pre, train=True,
                                      seed=derive_seed(seed, "augment", 0, k)))
    finally:
        mt.fit_module, MassLevelClassifier._fit_skip = real, orig_fit_skip

    def span(key):
        v = [r[key] for r in rows if key in r]
        return [round(float(min(v)), 3), round(float(np.median(v)), 3), round(float(max(v)), 3)]

    return {"what": "stimulated-mass: the frozen logreg skip alone on its members' training vs validation rows "
                    "(shipped recipe, before any network epoch)", "cohort_seed": seed, "folds": n_folds,
            "summary_min_median_max": {k: span(k) for k in ("skip_train_loss", "skip_validation_loss",
                                                            "skip_train_accuracy", "skip_validation_accuracy")},
            "rows": rows}


def combine(paths: list[Path], min_gain: float, bacc_tolerance: float | None = None) -> dict | None:
    """The robustness rule over several seeds' records: score = min margin over seeds × conditions.

    The first candidate (the shipped recipe) is replaced only by one whose score beats its score by at least
    ``min_gain``. With ``bacc_tolerance`` (rule 3, ``results/selection/stimulated_mass_robust_rule3.txt``) only
    candidates whose balanced accuracy is >= the first candidate's - ``bacc_tolerance`` in EVERY cell are
    eligible. Returns the summary, or None after a one-line error (missing margins, reported seed).
    """
    recs = []
    for p in paths:
        r = _read_selection_record(p)
        if r is None:
            return None
        if any("margin" not in t["per_condition"][c] for t in r.get("table", []) for c in t["per_condition"]):
            print(f"error: {p}: record has no margins (written before --combine existed)", file=sys.stderr)
            return None
        recs.append(r)
    names = list(recs[0]["candidates"])
    cells = {n: {} for n in names}
    for r in recs:
        for t in r["table"]:
            if t["candidate"] in cells:
                for c, per in t["per_condition"].items():
                    cells[t["candidate"]][f"seed {r['selection_seed']} {c}"] = {
                        "accuracy": per["accuracy"], "balanced_accuracy": per["balanced_accuracy"],
                        "margin": per["margin"], "best_baseline": per["best_baseline"]}
    n_cells = max(len(v) for v in cells.values())
    scores = {n: min(v["margin"] for v in cells[n].values()) for n in names if len(cells[n]) == n_cells}
    first = names[0]
    eligible = {n: True for n in scores}
    if bacc_tolerance is not None:
        eligible = {n: all(cells[n][c]["balanced_accuracy"] >= cells[first][c]["balanced_accuracy"] - bacc_tolerance
                           - 1e-12 for c in cells[first]) for n in scores}
    pool = {n: v for n, v in scores.items() if eligible[n]}
    best = max(pool, key=pool.get)  # max keeps the first of equal scores
    chosen = best if pool[best] >= scores[first] + min_gain - 1e-12 else first
    rule = ("score = min over seeds x conditions of (candidate accuracy - best baseline accuracy, every "
            "baseline class-weighted and unweighted); the first candidate is replaced only by a score "
            f"at least {min_gain:.4f} higher")
    if bacc_tolerance is not None:
        rule += (f"; eligible only with balanced accuracy >= the first candidate's - {bacc_tolerance:.4f} in every "
                 "cell")
    return {"what": "stimulated-mass robustness rule over several selection seeds", "records": [str(p) for p in paths],
            "rule": rule, "min_gain": min_gain, "bacc_tolerance": bacc_tolerance, "scores": scores,
            "eligible": eligible, "cells": cells, "chosen": chosen,
            "chosen_params": recs[0]["candidates"][chosen], "all_margins_nonnegative": scores[chosen] >= 0}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1, help="simulator seed of the selection cohort (not 0: reported)")
    ap.add_argument("--conditions", default="25Hz,all")
    ap.add_argument("--candidates", default=None,
                    help="JSON object name -> parameter dict (default: the built-in CANDIDATES)")
    ap.add_argument("--folds", type=int, default=5, help="subject-wise CV folds over the selection cohort")
    ap.add_argument("--repeats", type=int, default=1, help="CV repeats with different split seeds")
    ap.add_argument("--epochs", type=int, default=None, help="override train.epochs (smoke tests only)")
    ap.add_argument("--subjects", type=int, default=None, help="override data.subjects (smoke tests only)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--reuse", type=Path, default=None,
                    help="an earlier record of this script: its tasks with identical candidate parameters, "
                         "condition, repeat, fold, cohort and overrides are reused instead of refitted "
                         "(fits are deterministic)")
    ap.add_argument("--diagnose", action="store_true",
                    help="write the sklearn-only diagnosis of --seed (--repeats split seeds) to --out and stop")
    ap.add_argument("--combine", type=Path, nargs="+", default=None,
                    help="records of this script on other seeds: apply the robustness rule, write --out, stop")
    ap.add_argument("--min-gain", type=float, default=1 / 90,
                    help="--combine: score gain needed to replace the first candidate (default one subject in 90)")
    ap.add_argument("--bacc-tolerance", type=float, default=None,
                    help="--combine: a candidate is eligible only if its balanced accuracy is >= the first "
                         "candidate's minus this in every cell (rule 3; default: no floor, rules 1-2)")
    ap.add_argument("--stopping", type=Path, nargs="+", default=None,
                    help="records of this script with member validation curves: write the early-stopping "
                         "diagnosis (members whose best epoch is the first, predictions per class) to --out, stop")
    ap.add_argument("--skip-saturation", action="store_true",
                    help="write how far the shipped frozen skip fits its members' training vs validation rows "
                         "(--seed, repeat-0 folds; no network trained beyond one epoch) to --out and stop")
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args(argv)
    if a.stopping:
        t0, load0 = time.perf_counter(), os.getloadavg()
        rep = stopping_report(a.stopping)
        if rep is None:
            return 2
        write_selection_record(a.out, rep, script="select_fusion.py", argv=argv, t0=t0, load0=load0)
        for r in rep["rows"]:
            print(f"  seed {r['seed']} {r['candidate']:17s} {r['condition']:4s} best after epoch 1: "
                  f"{r['best_after_first_epoch']}/{r['members']} (median best {r['median_best_epoch']:.0f}, max "
                  f"{r['max_best_epoch']}) acc {r['accuracy']:.3f} bacc {r['balanced_accuracy']:.3f} "
                  f"agree {r['agreement_with_descriptors_logreg']:.2f} {r['predicted_per_class']}")
        return 0
    if a.combine:
        t0, load0 = time.perf_counter(), os.getloadavg()
        summary = combine(a.combine, a.min_gain, a.bacc_tolerance)
        if summary is None:
            return 2
        write_selection_record(a.out, summary, script="select_fusion.py", argv=argv, t0=t0, load0=load0)
        print(json.dumps({k: summary[k] for k in ("scores", "eligible", "chosen", "all_margins_nonnegative")}))
        return 0
    if refuse_reported_seed(a.seed):
        return 2
    if a.skip_saturation:
        t0, load0 = time.perf_counter(), os.getloadavg()
        rec = skip_saturation(a.seed, a.folds, a.conditions.split(","))
        write_selection_record(a.out, rec, script="select_fusion.py", argv=argv, t0=t0, load0=load0)
        print(json.dumps(rec["summary_min_median_max"]))
        return 0
    if a.diagnose:
        t0, load0 = time.perf_counter(), os.getloadavg()
        rec = diagnose(a.seed, a.repeats, a.folds, a.conditions.split(","))
        write_selection_record(a.out, rec, script="select_fusion.py", argv=argv, t0=t0, load0=load0)
        for r in rec["rows"]:
            print(f"  {r['condition']:5s} {r['model']:70s} acc {r['accuracy']:.3f} bacc {r['balanced_accuracy']:.3f} "
                  f"predicted {r['predicted_per_class']}")
        print(f"  majority class {rec['majority_class_accuracy']:.3f} {rec['class_counts']}")
        return 0
    cands = json.loads(a.candidates) if a.candidates else CANDIDATES
    conds = a.conditions.split(",")
    # prepare (and cache) the cohort once, before the workers start
    classes = list(load_cohort(a.seed, a.epochs, a.subjects)[0].data.classes)
    groups = split_prior_adjust(cands)
    tasks = [(a.seed, a.epochs, a.subjects, variants, json.loads(base), cond, rep, k, a.folds)
             for rep in range(a.repeats) for cond in conds for base, variants in groups.items()
             for k in range(a.folds)]
    n_results = len(cands) * len(conds) * a.repeats * a.folds
    t0 = time.perf_counter()
    load0 = os.getloadavg()
    done = []
    if a.reuse is not None:
        old = json.loads(a.reuse.read_text())
        same = (old.get("selection_seed"), old.get("epochs_override"), old.get("subjects_override"),
                old.get("protocol", "").split(" x ")[0]) == (a.seed, a.epochs, a.subjects,
                                                            f"{a.folds}-fold stratified subject-wise CV")
        have = {}
        for d in old.get("tasks", []) if same else []:
            params = {kk: v for kk, v in (old["candidates"].get(d["candidate"]) or {}).items() if kk != "prior_adjust"}
            have[(json.dumps(params, sort_keys=True), d["condition"], d["repeat"], d["fold"])] = d
        keep = []
        for t in tasks:
            d = have.get((json.dumps(t[4], sort_keys=True), t[5], t[6], t[7]))
            # a prior-adjusted variant needs the old fit's probabilities (records before it have none)
            ok = (d is not None and all(b in d.get("references", {}) for b in REFERENCES)
                  and ("proba" in d or all(tau == 0 for _, tau in t[3])))
            if not ok:
                keep.append(t)
                continue
            for name, tau in t[3]:
                pred = (adjusted_prediction(d["proba"], d["class_prior"], tau, classes) if "proba" in d
                        else d["prediction"])
                done.append({**d, "candidate": name, "prior_adjust": tau, "prediction": pred,
                             "reused_from": str(a.reuse)})
        print(f"reused {len(done)} of {n_results} results from {a.reuse}", flush=True)
        tasks = keep
    with ProcessPoolExecutor(max_workers=a.workers) as pool:
        futures = [pool.submit(_task, t) for t in tasks]
        for fut in as_completed(futures):  # progress as tasks finish (long runs on a shared machine)
            for d in fut.result():
                done.append(d)
                acc = sum(t == p for t, p in zip(d["truth"], d["prediction"])) / len(d["truth"])
                print(f"[{len(done)}/{n_results}] {d['candidate']} {d['condition']} r{d['repeat']} "
                      f"k{d['fold']}: acc {acc:.3f} best epochs {d['best_epochs']} {d['seconds']} s", flush=True)
    done.sort(key=lambda d: (d["candidate"], d["condition"], d["repeat"], d["fold"]))
    table = []
    for name, params in cands.items():
        per: dict = {}
        for cond in conds:
            reps = []
            for rep in range(a.repeats):
                rows = [d for d in done if (d["candidate"], d["condition"], d["repeat"]) == (name, cond, rep)]
                reps.append(_metrics(sum((r["truth"] for r in rows), []), sum((r["prediction"] for r in rows), [])))
            per[cond] = {m: sum(r[m] for r in reps) / len(reps) for m in reps[0]} | {"per_repeat": reps}
        score = sum(per[c]["accuracy"] for c in conds) / len(conds)
        table.append({"candidate": name, "params": params, "per_condition": per, "score": score})
    best = max(table, key=lambda t: t["score"])  # max keeps the first of equal scores
    # References in the main process, same folds, every baseline class-weighted AND unweighted: the margin of
    # a candidate is against the most accurate of them (rule: results/selection/stimulated_mass_robust_rule.txt).
    cfg, data = load_cohort(a.seed, a.epochs, a.subjects)
    ref_preds = {(cond, rep): reference_predictions(cfg, data, a.seed, cond, rep, a.folds)
                 for cond in conds for rep in range(a.repeats)}
    references = {}
    for b in [k for k in ref_preds[(conds[0], 0)] if k not in ("subjects", "truth")]:
        references[b] = {cond: {m: sum(v[m] for v in reps) / len(reps) for m in reps[0]}
                         for cond in conds
                         for reps in [[_metrics(ref_preds[(cond, rep)]["truth"], ref_preds[(cond, rep)][b])
                                       for rep in range(a.repeats)]]}
    for t in table:
        for cond in conds:
            margins, bests = [], []
            for rep in range(a.repeats):
                rows = [d for d in done if (d["candidate"], d["condition"], d["repeat"]) == (t["candidate"], cond, rep)]
                truth = {s: v for r in rows for s, v in zip(r["subjects"], r["truth"])}
                name, acc = best_baseline(ref_preds[(cond, rep)], truth)
                margins.append(t["per_condition"][cond]["per_repeat"][rep]["accuracy"] - acc)
                bests.append({"baseline": name, "accuracy": acc})
            t["per_condition"][cond]["margin"] = sum(margins) / len(margins)
            t["per_condition"][cond]["best_baseline"] = bests
        t["min_margin"] = min(t["per_condition"][c]["margin"] for c in conds)
    record = {
        "what": "stimulated-mass fusion recipe, chosen on a separately seeded simulated cohort",
        "cohort": done[0]["cohort"], "selection_seed": a.seed,
        "protocol": f"{a.folds}-fold stratified subject-wise CV x {a.repeats} repeat(s) over every subject of the "
                    f"selection cohort, attention Bi-LSTM + covariates over the shipped config; score = pooled "
                    f"out-of-fold accuracy, mean over conditions {conds} and repeats",
        "epochs_override": a.epochs, "subjects_override": a.subjects,
        "candidates": cands, "chosen": best["candidate"], "chosen_params": best["params"],
        "chosen_score": best["score"], "table": table, "references_same_folds": references,
        "reference_predictions": {f"{c}|r{r}": v for (c, r), v in ref_preds.items()}, "tasks": done,
        "workers": a.workers,
    }
    record = write_selection_record(a.out, record, script="select_fusion.py", argv=argv, t0=t0, load0=load0)
    print(json.dumps({"chosen": best["candidate"], "score": best["score"], "seconds": record["seconds"]}))
    for t in sorted(table, key=lambda t: -t["score"]):
        print(f"  {t['candidate']:24s} {t['score']:.4f} " + " ".join(
            f"{c}: acc {t['per_condition'][c]['accuracy']:.3f} bacc {t['per_condition'][c]['balanced_accuracy']:.3f}"
            f" f1 {t['per_condition'][c]['f1_macro']:.3f} margin {t['per_condition'][c]['margin']:+.3f}"
            for c in conds))
    for b, per in references.items():
        print(f"  (reference) {b:24s} " + " ".join(
            f"{c}: acc {per[c]['accuracy']:.3f} bacc {per[c]['balanced_accuracy']:.3f} f1 {per[c]['f1_macro']:.3f}"
            for c in conds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
