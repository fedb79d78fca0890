"""Honest recipe selection for stimulated-mass: the ``tune:`` grid over preprocessing AND network choices.

A recipe mixes input choices (``combine``, ``amplitude``, ``augment``, ...: they change
the sequence the network sees) with estimator parameters (``n_members``, ``lr``, ...).
:class:`EvokedRecipe` wraps both behind one scikit-learn estimator whose samples are
SUBJECT ids, so :func:`myoflow.train.tune.select_params` can cross-validate it by
subject like any other estimator: every inner fit builds its training sequences from
its own inner-training subjects only.

:func:`select_recipe` runs that search on any list of subjects — the training subjects
of one outer fold (``tune.enabled``: nested, inside the pipeline's ``run_fold``) or
every subject of a separately seeded simulated cohort (``benchmarks/select_recipes.py``,
which chose the shipped defaults). The reported folds never take part in either.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from sklearn.base import clone

from ...errors import ConfigError, DataError
from ...preprocess.evoked import EvokedData, sequence_epochs
from ...preprocess.evoked_combine import combine_frequencies

__all__ = ["PREPROCESS_KEYS", "EvokedRecipe", "recipe_epochs", "select_recipe", "split_grid", "cohort_name",
           "check_tune_size", "attach_descriptors", "SKIP_DESCRIPTORS"]

#: ``tune.grid`` keys that are ``preprocess`` fields (every other key is an estimator parameter).
PREPROCESS_KEYS = ("representation", "decimate", "augment", "amplitude", "combine")


def cohort_name(cfg) -> str:
    """How errors and records name the cohort: the simulator seed or the dataset folder."""
    d = cfg.data
    return f"evoked simulated seed {d.seed}" if d.source == "simulate" else str(d.path)


def check_tune_size(n_subjects: int, n_inner: int, val_fraction: float, cohort: str, where: str) -> None:
    """DataError naming ``cohort`` when ``n_subjects`` cannot feed ``n_inner`` subject-wise inner folds.

    The network early-stops on subjects held aside from its training part, so each inner
    training part needs 2 subjects when ``val_fraction`` > 0: ``n_inner + 1`` in all.
    """
    need = n_inner + 1 if float(val_fraction or 0) > 0 else n_inner
    if n_subjects < need:
        raise DataError(f"cohort {cohort}: {where} has {n_subjects} subject(s); tune.n_inner = {n_inner} "
                        f"subject-wise inner folds need at least {need} (lower tune.n_inner or add subjects)")


def split_grid(grid: dict[str, list[Any]]) -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
    """(preprocess keys, estimator keys) of a ``tune.grid``."""
    pre = {k: v for k, v in grid.items() if k in PREPROCESS_KEYS}
    return pre, {k: v for k, v in grid.items() if k not in PREPROCESS_KEYS}


class _Shared:
    """Read-only data handed to every clone as is (sklearn's ``clone`` deep-copies plain parameters)."""

    def __init__(self, value: Any):
        self.value = value

    def __deepcopy__(self, memo):  # the cohort is never written to: one copy serves every inner fit
        return self


#: Per-train M-wave descriptors (:data:`myoflow.preprocess.evoked.DESCRIPTOR_COLUMNS`) that
#: :func:`attach_descriptors` hands to the network as ``desc:*`` metadata columns.
SKIP_DESCRIPTORS = ("ptp_mv", "area_mvms", "latency_ms", "duration_ms")


def attach_descriptors(epochs, data: EvokedData, freqs: Sequence[float]):
    """Add ``desc:log_<descriptor>_<muscle>_<f>Hz`` metadata columns (one value per row's subject).

    The log of each per-train median descriptor (peak-to-peak, area, latency, duration per
    muscle × frequency of the condition; :func:`~myoflow.preprocess.evoked.descriptor_matrix`):
    amplitude and area act multiplicatively (fat attenuates exponentially), so logs make them
    additive for the linear skip of :class:`~myoflow.models.attention_bilstm.MassLevelClassifier`.
    A fixed per-subject transform (nothing fitted), so it cannot leak across subjects. Used by the
    network only with ``descriptors: true``.
    """
    from ...models.attention_bilstm import DESCRIPTOR_PREFIX
    from ...preprocess.evoked import descriptor_matrix

    subjects = epochs.metadata["subject"].astype(str).tolist()
    uniq = list(dict.fromkeys(subjects))
    D, names = descriptor_matrix(data, uniq, freqs, columns=SKIP_DESCRIPTORS)
    D = np.log(np.maximum(np.abs(D), 1e-6))  # NaN (undefined latency) stays NaN: the estimator names it
    row = {s: i for i, s in enumerate(uniq)}
    idx = [row[s] for s in subjects]
    md = epochs.metadata.copy()
    for j, n in enumerate(names):
        md[f"{DESCRIPTOR_PREFIX}log_{n}"] = D[idx, j]
    return epochs.replace(metadata=md)


def recipe_epochs(data: EvokedData, subjects: Sequence[str], freqs: Sequence[float], pre: dict[str, Any],
                  train: bool, seed: int):
    """The network input of ``subjects`` under preprocessing ``pre`` (training: with bootstrap augmentation).

    Metadata also carries the ``desc:*`` descriptor columns (:func:`attach_descriptors`) when the
    cohort has descriptors.
    """
    augment = int(pre["augment"]) if (train and pre["representation"] == "waveform") else 0
    ep = sequence_epochs(data, list(subjects), freqs, representation=pre["representation"], augment=augment,
                         decimate=int(pre["decimate"]), seed=seed, amplitude=pre["amplitude"])
    ep = combine_frequencies(ep, pre["combine"], data.muscles, freqs, pre["representation"])
    if len(data.descriptors):
        ep = attach_descriptors(ep, data, freqs)
    return ep


class EvokedRecipe:
    """A preprocessing recipe + a :class:`~myoflow.models.attention_bilstm.MassLevelClassifier`, fitted on subject ids.

    Parameters
    ----------
    estimator : MassLevelClassifier
        The unfitted network (cloned per fit).
    data : _Shared
        The prepared cohort (:class:`~myoflow.preprocess.evoked.EvokedData`).
    freqs : sequence of float
        The condition's stimulation frequencies.
    preprocess : dict
        ``representation``, ``decimate``, ``augment``, ``amplitude``, ``combine``.
    aug_seed : int
        Seed of the bootstrap augmentation.

    ``set_params`` takes preprocess keys and any estimator parameter by its plain name
    (``combine=``, ``n_members=``, ``lr=``), i.e. the keys of ``tune.grid``.
    """

    def __init__(self, estimator, data: _Shared, freqs: Sequence[float], preprocess: dict[str, Any],
                 aug_seed: int = 0):
        self.estimator = estimator
        self.data = data
        self.freqs = freqs
        self.preprocess = preprocess
        self.aug_seed = aug_seed

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        out = {"estimator": self.estimator, "data": self.data, "freqs": self.freqs,
               "preprocess": self.preprocess, "aug_seed": self.aug_seed}
        if deep:
            out.update(self.preprocess)
            out.update(self.estimator.get_params(deep=False))
        return out

    def set_params(self, **params: Any) -> "EvokedRecipe":
        own = {k: params.pop(k) for k in ("estimator", "data", "freqs", "preprocess", "aug_seed") if k in params}
        for k, v in own.items():
            setattr(self, k, v)
        pre = {k: params.pop(k) for k in list(params) if k in PREPROCESS_KEYS}
        if pre:
            from .config import PreprocessSection

            merged = {**self.preprocess, **pre}
            try:  # the section's own checks (e.g. pool needs the waveform representation)
                PreprocessSection(**{k: v for k, v in merged.items() if k in PreprocessSection.__dataclass_fields__})
            except TypeError as exc:
                raise ConfigError(str(exc)) from None
            self.preprocess = merged
        if params:
            self.estimator = clone(self.estimator).set_params(**params)
        return self

    def fit(self, X, y=None) -> "EvokedRecipe":
        ep = recipe_epochs(self.data.value, np.asarray(X).astype(str).tolist(), self.freqs, self.preprocess,
                           train=True, seed=self.aug_seed)
        self.estimator_ = clone(self.estimator).fit(ep)
        self.classes_ = self.estimator_.classes_
        return self

    def predict_proba(self, X) -> np.ndarray:
        subjects = np.asarray(X).astype(str)
        ep = recipe_epochs(self.data.value, subjects.tolist(), self.freqs, self.preprocess, train=False, seed=0)
        proba = self.estimator_.predict_proba(ep)
        # one unaugmented row per subject; reorder to the order asked for
        order = {s: i for i, s in enumerate(ep.metadata["subject"].astype(str))}
        return np.asarray(proba)[[order[s] for s in subjects]]

    def predict(self, X) -> np.ndarray:
        return np.asarray(self.classes_)[np.argmax(self.predict_proba(X), axis=1)]


def select_recipe(estimator, data: EvokedData, subjects: Sequence[str], freqs: Sequence[float],
                  preprocess: dict[str, Any], grid: dict[str, list[Any]], *, n_inner: int, seed: int,
                  aug_seed: int, cohort: str, where: str):
    """Choose a recipe of ``grid`` by subject-wise inner CV over ``subjects`` only.

    Returns
    -------
    myoflow.train.tune.Selection
        ``params`` holds the chosen grid values (preprocess keys and estimator parameters).

    Raises
    ------
    DataError
        Fewer subjects than ``n_inner`` (+1 when the network early-stops on held-aside
        subjects) or a single class, naming ``cohort``.
    ConfigError
        No configuration of ``grid`` can be fitted.
    """
    from ...train.tune import select_params

    subjects = [str(s) for s in subjects]
    check_tune_size(len(subjects), n_inner, getattr(estimator, "val_fraction", 0), cohort, where)
    if len(freqs) < 2 and "combine" in grid and len(grid) > 1:
        # combine is a no-op on one frequency: fitting its values would only repeat identical fits
        grid = {k: v for k, v in grid.items() if k != "combine"}
    recipe = EvokedRecipe(estimator, _Shared(data), list(freqs), dict(preprocess), aug_seed)
    y = data.labels(subjects)
    return select_params(recipe, grid, np.asarray(subjects), np.asarray(y), np.asarray(subjects),
                         n_inner=n_inner, seed=seed, cohort=cohort, where=where)
