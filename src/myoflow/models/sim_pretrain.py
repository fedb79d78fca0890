"""Simulator pretraining for :class:`~myoflow.models.deep_classifier.DeepWindowClassifier` (issue 14 item 3b).

A deep window classifier can first learn on a SIMULATED cohort whose muscles carry
the same names as the training classes, then be fine-tuned on the real training
fold. ``DeepWindowClassifier(pretrain=...)`` takes a :class:`SimPretrainSpec` (or
its dict): which simulator protocol, how many simulated subjects, the simulation
and training seed (its own, never an evaluation seed), the pretraining epochs and
the windowing/preprocessing the simulated recordings go through (by default the
muscle-id pipeline's, so simulated and real windows are made the same way).

Design
------
* Classes are matched by muscle NAME (case-insensitive; full names such as
  "vastus lateralis" are accepted): a simulated window is used only if its muscle
  is one of the training classes, with that class's index, so the pretrained head
  is the head that is fine-tuned. Training classes the simulator cannot make are
  logged (they are learned from the real fold only). If NO class matches, a
  demanded pretraining (``required=True``, the default) is a
  :class:`~myoflow.errors.ConfigError` (one line, exit 2 on the CLI); with
  ``required=False`` it is skipped with a warning.
* The simulated cohort is made by :func:`myoflow.pipelines.muscle_id.data.load_cohort` (registered
  by that module with :func:`register_cohort_builder`)
  and cached under its digest (settings + simulator source), so every fold and
  every run reuses it.
* Pretraining sees simulated data only — never a real window, so never test data.
  Its early stopping holds out 20 % of the SIMULATED subjects. The amplitude
  statistics of the network are the simulated cohort's while pretraining and are
  replaced by the real training fold's before fine-tuning.
* It depends on the spec, the classes, the architecture and the member index
  only (not on the fold nor on the estimator's seed), so the pretrained weights
  are computed once per process and reused by every fold
  (:data:`_MEMO`, a few entries).
"""
from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..errors import ConfigError, DataError

__all__ = ["SimPretrainSpec", "PROTOCOLS", "match_classes", "protocol_classes", "simulated_windows", "Pretrainer"]

log = logging.getLogger(__name__)

#: Protocols that can feed pretraining: name -> (muscle-id cohort source, default segmentation, windows/burst).
PROTOCOLS: dict[str, tuple[str, str, int | None]] = {
    "lowerlimb": ("simulate-lowerlimb", "whole", None),   # VL/BF/TA/GL 10 s isometric holds
    "grid": ("simulate", "bursts", 1),                    # L/R BB, L/R TA bursts (4x4 dry grid)
}
#: Full muscle names accepted as class labels (normalised: lower case, no spaces/underscores/hyphens).
_ALIASES = {"vastuslateralis": "vl", "bicepsfemoris": "bf", "tibialisanterior": "ta",
            "gastrocnemiuslateralis": "gl", "lateralgastrocnemius": "gl", "bicepsbrachii": "bb"}


@dataclass
class SimPretrainSpec:
    """What to pretrain on (see module docstring).

    Parameters
    ----------
    protocol : {"lowerlimb", "grid"}
        Simulator protocol (:data:`PROTOCOLS`).
    subjects : int
        Simulated subjects (each gives one recording per muscle).
    seed : int
        Simulation seed AND pretraining seed (initialisation, batches, validation split).
        Keep it apart from the evaluation seeds: it names a separately seeded cohort.
    epochs : int
        Pretraining epochs (early stopping on 20 % of the simulated subjects).
    duration_s : float
        Seconds per simulated recording (lowerlimb: the hold, the real set's is 10 s).
    lr : float, optional
        Pretraining learning rate (default: the estimator's ``lr``).
    required : bool
        True: an error when no training class matches a simulated muscle; False: skip.
    preprocess : dict
        :class:`~myoflow.pipelines.muscle_id.config.PreprocessConfig` fields (band, notch,
        rate, window); default that config's defaults, i.e. the muscle-id pipeline's.
    cache_dir : str, optional
        Where the simulated cohort is cached (default ``$MYOFLOW_CACHE`` or the user cache).
    """

    protocol: Literal["lowerlimb", "grid"] = "lowerlimb"
    subjects: int = 20
    seed: int = 1000
    epochs: int = 20
    duration_s: float = 10.0
    lr: float | None = None
    required: bool = True
    preprocess: dict[str, Any] = field(default_factory=dict)
    cache_dir: str | None = None

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ConfigError(f"pretrain.protocol must be one of {list(PROTOCOLS)}, got {self.protocol!r}")
        if int(self.subjects) < 3:
            raise ConfigError(f"pretrain.subjects must be >= 3 (2 to train, 1 to early-stop), got {self.subjects}")
        if int(self.epochs) < 1:
            raise ConfigError(f"pretrain.epochs must be >= 1, got {self.epochs}")
        if float(self.duration_s) <= 0:
            raise ConfigError(f"pretrain.duration_s must be > 0, got {self.duration_s}")

    @classmethod
    def coerce(cls, spec: Any) -> "SimPretrainSpec":
        """A spec from a :class:`SimPretrainSpec`, a dict of its fields, or ``True`` (all defaults)."""
        if isinstance(spec, cls):
            return spec
        if spec is True:
            return cls()
        if isinstance(spec, dict):
            known = {f.name for f in fields(cls)}
            unknown = sorted(set(spec) - known)
            if unknown:
                raise ConfigError(f"pretrain: unknown key(s) {unknown}; expected some of {sorted(known)}")
            return cls(**spec)
        raise ConfigError(f"pretrain must be a dict of {[f.name for f in fields(cls)]} or true, got {spec!r}")

    def key(self) -> str:
        """JSON of everything the pretrained weights depend on (not the cache folder)."""
        d = asdict(self)
        d.pop("cache_dir")
        return json.dumps(d, sort_keys=True, default=str)


def _norm(name: str) -> str:
    n = str(name).lower().replace(" ", "").replace("_", "").replace("-", "")
    return _ALIASES.get(n, n)


def match_classes(train_classes: Any, sim_classes: Any) -> dict[str, str]:
    """Simulated label -> training class, matched by muscle name (case-insensitive, full names accepted)."""
    by_norm = {_norm(c): str(c) for c in train_classes}
    return {str(s): by_norm[_norm(s)] for s in sim_classes if _norm(s) in by_norm}


def _cache_dir(spec: SimPretrainSpec) -> Path:
    if spec.cache_dir:
        return Path(spec.cache_dir)
    from ..cache import default_cache_dir

    return default_cache_dir()


#: Builder of the simulated pretraining cohort: ``fn(spec, cache_dir) -> Epochs``. Windowing a simulated
#: cohort exactly as the real one is the muscle-id pipeline's job (its ``data`` module registers the builder
#: when imported), so this model layer never imports a pipeline (imports flow one way, DESIGN.md).
_COHORT_BUILDER: list = []


def register_cohort_builder(fn) -> None:
    """Register ``fn(spec, cache_dir) -> Epochs`` as the simulated-cohort builder (the last one wins)."""
    _COHORT_BUILDER[:] = [fn]


def simulated_windows(spec: SimPretrainSpec):
    """The simulated cohort's windows (Epochs, labels = muscle / side-muscle), cached by digest."""
    if not _COHORT_BUILDER:
        raise ConfigError("simulator pretraining needs the cohort builder of the muscle-id pipeline: "
                          "`import myoflow.pipelines.muscle_id` before fitting with pretrain=...")
    return _COHORT_BUILDER[0](spec, _cache_dir(spec))


#: In-process memo of pretrained weights: key -> (state_dict, info). Small: one entry per member/arch/spec.
_MEMO: dict[str, tuple[dict, dict]] = {}
_MEMO_SIZE = 16


class Pretrainer:
    """Pretraining of one estimator's members on the matched simulated windows.

    Made by :meth:`prepare` inside ``DeepWindowClassifier.fit`` (after ``classes_`` is
    known); :meth:`pretrain` trains one freshly built member in place. ``info`` says
    what was matched and used (kept as the estimator's ``pretrain_info_``).
    """

    def __init__(self, spec: SimPretrainSpec, X, codes: np.ndarray, groups: np.ndarray, info: dict[str, Any]):
        self.spec, self.X, self.codes, self.groups, self.info = spec, X, codes, groups, info

    @classmethod
    def prepare(cls, pretrain: Any, classes: np.ndarray, n_times: int, fs: float | None,
                in_channels: int) -> "Pretrainer | None":
        """Load and match the simulated windows; None when pretraining is skipped (logged)."""
        spec = SimPretrainSpec.coerce(pretrain)
        ep = simulated_windows(spec)
        sim_y = np.asarray(ep.y).astype(str)
        mapping = match_classes(classes, np.unique(sim_y))
        unmatched = sorted(set(map(str, classes)) - set(mapping.values()))
        if not mapping:
            msg = (f"pretrain: none of the training classes {list(map(str, classes))} is a muscle of the "
                   f"simulator protocol {spec.protocol!r} ({sorted(np.unique(sim_y).tolist())})")
            if spec.required:
                raise ConfigError(msg + "; rename the classes or drop pretraining")
            log.warning("%s: pretraining skipped", msg)
            return None
        if unmatched:
            log.warning("pretrain: class(es) %s have no simulated counterpart in protocol %r; they are learned "
                        "from the real training data only", unmatched, spec.protocol)
        if fs is not None and abs(float(ep.fs) - float(fs)) > 1e-6 or int(ep.n_times) != int(n_times) \
                or int(ep.n_channels) != int(in_channels):
            raise DataError(f"pretrain: simulated windows are {ep.n_channels} x {ep.n_times} samples at "
                            f"{ep.fs:g} Hz but the training windows are {in_channels} x {n_times} at "
                            f"{fs if fs is not None else 'unknown'} Hz; set pretrain.preprocess "
                            "(resample_hz, window_ms) to the training data's")
        keep = np.isin(sim_y, list(mapping))
        cls_list = [str(c) for c in classes]
        codes = np.asarray([cls_list.index(mapping[s]) for s in sim_y[keep]], dtype=np.int64)
        X = np.asarray(ep.X[keep], dtype=np.float32)
        groups = ep.group("subject").astype(str)[keep]
        info = {"protocol": spec.protocol, "subjects": int(spec.subjects), "seed": int(spec.seed),
                "epochs": int(spec.epochs), "matched": mapping, "unmatched_classes": unmatched,
                "n_windows": int(keep.sum()), "fs": float(ep.fs)}
        return cls(spec, X, codes, groups, info)

    def _memo_key(self, est, m: int) -> str:
        params = {k: v for k, v in est.get_params().items()
                  if k not in ("pretrain", "seed", "epochs", "patience", "val_fraction", "val_group", "n_seeds",
                               "device", "class_weight")}
        return json.dumps([self.spec.key(), self.info["matched"], list(map(str, est.classes_)), params, m,
                           list(self.X.shape)], sort_keys=True, default=str)

    def pretrain(self, est, module, m: int, features=None) -> dict[str, Any]:
        """Train ``module`` (member ``m`` of ``est``, freshly built) on the simulated windows, in place.

        ``features``: callable(windows) -> classic features, for ``arch="hybrid"``.
        Returns this member's record (best epoch, simulated validation accuracy).
        """
        import pandas as pd
        import torch

        from ..evaluate.imbalance import class_weights
        from ..evaluate.splitters import inner_validation_split
        from ..preprocess.representation import log_rms
        from ..train import derive_seed, fit_module, predict_module, torch_seed
        from ..train.augment import Augment

        key = self._memo_key(est, m)
        if key in _MEMO:
            state, record = _MEMO[key]
            module.load_state_dict(state)
            return {**record, "memo": True}
        seed = int(self.spec.seed)
        fit_idx, val_idx = inner_validation_split(pd.DataFrame({"subject": self.groups}), np.arange(len(self.codes)),
                                                  fraction=0.2, seed=derive_seed(seed, "pretrain-validation"),
                                                  group="subject", y=self.codes)
        feats = features(self.X) if features is not None else None
        # the initial weights come from the spec's seed, not the estimator's: pretraining depends on the spec only
        with torch_seed(derive_seed(seed, "pretrain-init", m)):
            fresh = est._build(len(est.classes_), self.X.shape[1], 0 if feats is None else feats.shape[1])
        module.load_state_dict(fresh.state_dict())
        amp = log_rms(self.X[fit_idx])
        est._set_stats(module, amp.mean(0), amp.std(0) + 1e-3, None if feats is None else feats[fit_idx])
        inputs = [self.X] + ([feats] if feats is not None else [])
        n_classes = len(est.classes_)
        cw = class_weights(self.codes[fit_idx])
        weight = torch.tensor([cw.get(i, 1.0) for i in range(n_classes)], dtype=torch.float32)

        def loss_fn(out, target):
            return torch.nn.functional.cross_entropy(out, target, weight=weight.to(out.device))

        aug = Augment(max_shift=int(est.max_shift), max_gain=float(est.max_gain), noise=float(est.noise),
                      channel_drop=float(est.channel_drop))

        def hook(batch, state):  # training batches only
            return [aug(batch[0], state.generator), *batch[1:]]

        from .deep_classifier import _ENGINE_SCHEDULE

        val_inputs = [a[val_idx] for a in inputs]
        hist = fit_module(
            module, [a[fit_idx] for a in inputs], self.codes[fit_idx], loss_fn,
            val_inputs=val_inputs, val_target=self.codes[val_idx],
            epochs=int(self.spec.epochs), batch_size=int(est.batch_size),
            lr=float(self.spec.lr if self.spec.lr is not None else est.lr), weight_decay=float(est.weight_decay),
            optimizer="adamw", schedule=_ENGINE_SCHEDULE[est.schedule], schedule_floor=0.0,
            patience=int(est.patience), seed=derive_seed(seed, "pretrain-batches", m),
            torch_seed=derive_seed(seed, "pretrain-dropout", m), device=est.device,
            batch_hook=hook if aug.active else None, min_batch=2)
        module.cpu().eval()
        pred = predict_module(module, val_inputs, device="cpu").argmax(1)
        record = {"member": int(m), "best_epoch": int(hist.best_epoch), "epochs_run": len(hist.train_loss),
                  "sim_val_accuracy": float(np.mean(pred == self.codes[val_idx])),
                  "n_sim_val_subjects": int(len(np.unique(self.groups[val_idx])))}
        if len(_MEMO) >= _MEMO_SIZE:
            _MEMO.pop(next(iter(_MEMO)))
        _MEMO[key] = ({k: v.detach().clone() for k, v in module.state_dict().items()}, record)
        return dict(record)


def clear_memo() -> None:
    """Forget the in-process pretrained weights (tests)."""
    _MEMO.clear()


def protocol_classes(protocol: str) -> tuple[str, ...]:
    """The class labels a protocol's simulated cohort carries (without simulating it)."""
    if protocol == "lowerlimb":
        from ..simulate.protocols.lowerlimb import LOWERLIMB_MUSCLES

        return tuple(LOWERLIMB_MUSCLES)
    if protocol == "grid":
        return ("L-BB", "R-BB", "L-TA", "R-TA")
    raise ConfigError(f"pretrain.protocol must be one of {list(PROTOCOLS)}, got {protocol!r}")
