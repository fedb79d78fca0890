"""Attention-guided bidirectional LSTM with a covariate branch, and its estimator (seed 000, Khan et al.).

The paper's model (abstract): "a bidirectional LSTM with an attention mechanism
modeled stimulus-locked temporal patterns, with demographic and anthropometric
covariates integrated to enhance discriminability". The stored text gives no
layer sizes, so the defaults here are ours (small enough for 90 subjects on a CPU)
and every size is a constructor argument.

Architecture::

    x (batch, seq, features) ─▶ BiLSTM ─▶ h_t (batch, seq, 2·hidden)
                                          │
            additive attention  e_t = vᵀ tanh(W h_t + b)        (Bahdanau et al. 2015,
                                α = softmax_t(e_t) over valid t   ICLR, "additive" score
                                c = Σ_t α_t h_t                   with a learned query)
                                          │
    covariates (batch, n_cov) ─▶ MLP ─▶ z ─┤ concat [c, z]
                                          ▼
                                   classifier head ─▶ logits (batch, n_classes)

Hybrid (``skip=True``): ``logits = head([c, z]) + W·covariates + b``, a linear path from the
covariate vector (with ``MassLevelClassifier(descriptors=True)`` the covariates plus hand-crafted
M-wave descriptors) straight to the logits; with ``skip_fit="logreg"`` it is a frozen logistic
regression and the head starts at zero (stagewise fitting, see :class:`MassLevelClassifier`).

``use_attention=False`` replaces the attention by a (masked) mean over time, so the
contribution of attention can be measured; its returned weights are then uniform.
``n_covariates=0`` drops the covariate branch.

Estimator (:class:`MassLevelClassifier`):

``MassLevelClassifier.fit(epochs)`` takes an :class:`~myoflow.containers.Epochs`
whose every item is ONE sequence sample (one subject × stimulation condition, see
:mod:`.features`): ``X`` is (n_samples, n_features, n_steps) — features are the
channels (muscle × frequency), steps the time axis of the sequence — ``y`` the
mass level and ``metadata`` holds ``subject`` plus the covariate columns. The
optional metadata column ``n_steps`` marks padded sequences (steps beyond it are
masked out of the LSTM pooling and the attention).

Everything learned from data is learned inside :meth:`fit`, from the samples it is
given (the caller passes TRAINING subjects only):

* a validation split for early stopping, carved from those subjects by subject
  (:func:`myoflow.evaluate.splitters.inner_validation_split`), one per ensemble member;
* the per-feature channel scaler (:class:`~myoflow.preprocess.scalers.ChannelStandardScaler`)
  and the covariate scaler (:class:`~myoflow.preprocess.scalers.FeatureStandardScaler`),
  from every training sample given to :meth:`fit`;
* class weights and/or random oversampling (``imbalance``) from the training labels.

``n_members > 1`` trains that many networks, each with its own seed (initialisation,
batch order, dropout) AND its own early-stopping validation subjects, and averages
their class probabilities (:class:`~myoflow.models.attention_bilstm.AttentionBiLSTMEnsemble`):
with ~90 subjects one network's result swings with its seed and validation split,
and the average is both more accurate and more stable (measured in the pipeline's
module docstring).

Saved and loaded like every estimator (:func:`myoflow.models.save_estimator`).
"""
from __future__ import annotations

import logging
import warnings
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..containers import Epochs
from ..errors import ConfigError, DataError
from .base import MyoflowClassifier

__all__ = ["AttentionBiLSTM", "AdditiveAttention", "AttentionBiLSTMEnsemble", "MassLevelClassifier",
           "encode_covariates", "DEFAULT_COVARIATES", "DESCRIPTOR_PREFIX"]

log = logging.getLogger(__name__)


class AdditiveAttention(nn.Module):
    """Additive (Bahdanau) attention pooling over a sequence of hidden states.

    Parameters
    ----------
    in_size : int
        Size of each hidden state.
    attention_size : int
        Width of the scoring layer.

    Shapes
    ------
    ``h`` (batch, seq, in_size), optional ``mask`` (batch, seq) bool (True = valid step)
    → context (batch, in_size), weights (batch, seq) summing to 1 over valid steps.
    """

    def __init__(self, in_size: int, attention_size: int = 32):
        super().__init__()
        self.proj = nn.Linear(in_size, attention_size)
        self.score = nn.Linear(attention_size, 1, bias=False)

    def forward(self, h: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        e = self.score(torch.tanh(self.proj(h))).squeeze(-1)  # (batch, seq)
        if mask is not None:
            e = e.masked_fill(~mask, float("-inf"))
        w = torch.softmax(e, dim=-1)
        return torch.bmm(w.unsqueeze(1), h).squeeze(1), w


class AttentionBiLSTM(nn.Module):
    """BiLSTM over a stimulus-locked sequence, attention pooling, covariate fusion, classifier.

    Parameters
    ----------
    n_features : int
        Features per time step (e.g. 2 muscles × number of stimulation frequencies).
    n_classes : int
        Output classes (muscle-mass levels).
    n_covariates : int
        Encoded covariates per sample (age, sex, height, weight, BMI ...); 0 = no branch.
    hidden_size : int
        LSTM hidden size per direction.
    num_layers : int
        Stacked LSTM layers.
    attention_size : int
        Width of the additive attention scoring layer.
    covariate_size : int
        Width of the covariate embedding.
    head_size : int
        Width of the hidden layer of the classifier head.
    dropout : float
        Dropout on the fused representation (and between LSTM layers).
    use_attention : bool
        False → masked mean pooling instead of attention (ablation).
    bidirectional : bool
        False → a unidirectional LSTM (ablation; the paper's model is bidirectional).
    skip : bool
        True → a linear path from the covariate vector straight to the logits, added to the
        head's output (a hybrid: the network can fall back on a logistic regression of the
        covariates/descriptors, which the small head with dropout fits poorly on ~70 subjects).

    Shapes
    ------
    ``forward(x, covariates=None, mask=None)`` with ``x`` (batch, seq, n_features),
    ``covariates`` (batch, n_covariates), ``mask`` (batch, seq) bool
    → ``(logits (batch, n_classes), attention (batch, seq))``.
    """

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        n_covariates: int = 0,
        hidden_size: int = 32,
        num_layers: int = 1,
        attention_size: int = 32,
        covariate_size: int = 16,
        head_size: int = 32,
        dropout: float = 0.2,
        use_attention: bool = True,
        bidirectional: bool = True,
        skip: bool = False,
    ):
        super().__init__()
        if n_features < 1 or n_classes < 2:
            raise ValueError(f"need n_features >= 1 and n_classes >= 2, got {n_features}, {n_classes}")
        self.n_features = int(n_features)
        self.n_classes = int(n_classes)
        self.n_covariates = int(n_covariates)
        self.use_attention = bool(use_attention)
        self.lstm = nn.LSTM(
            n_features, hidden_size, num_layers=num_layers, batch_first=True,
            bidirectional=bidirectional, dropout=dropout if num_layers > 1 else 0.0,
        )
        seq_size = hidden_size * (2 if bidirectional else 1)
        self.attention = AdditiveAttention(seq_size, attention_size) if use_attention else None
        if self.n_covariates > 0:
            self.covariate_branch = nn.Sequential(nn.Linear(self.n_covariates, covariate_size), nn.ReLU())
            fused = seq_size + covariate_size
        else:
            self.covariate_branch = None
            fused = seq_size
        self.head = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(fused, head_size), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(head_size, n_classes),
        )
        if skip and self.n_covariates < 1:
            raise ValueError("skip needs covariates (n_covariates >= 1)")
        self.skip = nn.Linear(self.n_covariates, n_classes) if skip else None

    def forward(
        self, x: torch.Tensor, covariates: torch.Tensor | None = None, mask: torch.Tensor | None = None,
        skip_offset: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``skip_offset`` (batch, n_classes), optional: used INSTEAD of ``skip(covariates)`` (training on
        out-of-fold skip logits, ``MassLevelClassifier(skip_crossfit=k)``); None = the skip layer itself."""
        if x.dim() != 3 or x.shape[-1] != self.n_features:
            raise ValueError(f"x must be (batch, seq, {self.n_features}), got {tuple(x.shape)}")
        h, _ = self.lstm(x)
        if mask is not None:
            mask = mask.bool()
        if self.attention is not None:
            context, weights = self.attention(h, mask)
        else:
            valid = torch.ones(h.shape[:2], dtype=h.dtype, device=h.device) if mask is None else mask.to(h.dtype)
            weights = valid / valid.sum(dim=1, keepdim=True)
            context = torch.bmm(weights.unsqueeze(1), h).squeeze(1)
        if self.covariate_branch is not None:
            if covariates is None or covariates.shape[-1] != self.n_covariates:
                got = None if covariates is None else tuple(covariates.shape)
                raise ValueError(f"model expects covariates (batch, {self.n_covariates}), got {got}")
            context = torch.cat([context, self.covariate_branch(covariates)], dim=-1)
        logits = self.head(context)
        if skip_offset is not None:
            logits = logits + skip_offset
        elif self.skip is not None:
            logits = logits + self.skip(covariates)
        return logits, weights


class AttentionBiLSTMEnsemble(nn.Module):
    """Several :class:`AttentionBiLSTM` members whose class probabilities are averaged.

    With ~90 subjects a single small network trained with early stopping on a handful
    of validation subjects varies a lot with its initialisation and validation split;
    averaging the probabilities of members that differ in both (bagging-style
    ensembling, Dietterich 2000, "Ensemble methods in machine learning", MCS) cuts that
    variance. The output stays a ``(logits, attention)`` pair so the ensemble drops in
    wherever a single model is used: the logits are the log of the averaged
    probabilities (``softmax(log p̄) = p̄``), the attention the averaged weights.

    Parameters
    ----------
    members : sequence of AttentionBiLSTM
        Models with the same input sizes and classes.

    Shapes
    ------
    As :class:`AttentionBiLSTM`: ``forward(x, covariates=None, mask=None)`` →
    ``(log mean probability (batch, n_classes), mean attention (batch, seq))``.
    """

    def __init__(self, members):
        super().__init__()
        members = list(members)
        if not members:
            raise ValueError("an ensemble needs at least one member")
        first = members[0]
        for m in members[1:]:
            if (m.n_features, m.n_classes, m.n_covariates) != (first.n_features, first.n_classes, first.n_covariates):
                raise ValueError("ensemble members must share n_features, n_classes and n_covariates")
        self.members = nn.ModuleList(members)
        self.n_features = first.n_features
        self.n_classes = first.n_classes
        self.n_covariates = first.n_covariates

    def forward(
        self, x: torch.Tensor, covariates: torch.Tensor | None = None, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        probs, weights = [], []
        for m in self.members:
            logits, w = m(x, covariates, mask)
            probs.append(torch.softmax(logits, dim=-1))
            weights.append(w)
        p = torch.stack(probs).mean(0)
        # clamp: log(0) would give -inf logits, which ONNX runtimes and losses handle badly.
        return torch.log(p.clamp_min(1e-12)), torch.stack(weights).mean(0)


DEFAULT_COVARIATES = ("age", "sex", "height", "weight", "bmi")
#: Metadata columns with this prefix are per-sample hand-crafted descriptors (e.g. the log
#: M-wave peak-to-peak, area, latency, duration per muscle × frequency) that
#: ``MassLevelClassifier(descriptors=True)`` appends to the covariate vector.
DESCRIPTOR_PREFIX = "desc:"
_SEX_CODES = {"m": 0.0, "male": 0.0, "man": 0.0, "f": 1.0, "female": 1.0, "woman": 1.0}


def encode_covariates(frame: pd.DataFrame, names: Sequence[str], where: str = "covariates") -> np.ndarray:
    """Covariate columns → float64 matrix (n_rows, len(names)); ``sex`` becomes 1 = female, 0 = male.

    Raises
    ------
    DataError
        For a missing column, a non-numeric value or an unknown sex code, naming the row's subject.
    """
    missing = [c for c in names if c not in frame.columns]
    if missing:
        raise DataError(f"covariate column(s) {missing} missing; have {list(frame.columns)}", where)
    out = np.empty((len(frame), len(names)), dtype=np.float64)
    subj = frame["subject"].astype(str).tolist() if "subject" in frame.columns else [str(i) for i in range(len(frame))]
    for j, name in enumerate(names):
        col = frame[name].tolist()
        for i, v in enumerate(col):
            if name == "sex" and isinstance(v, str):
                code = _SEX_CODES.get(v.strip().lower())
                if code is None:
                    raise DataError(f"subject {subj[i]}: sex must be M or F, got {v!r}", where)
                out[i, j] = code
                continue
            try:
                out[i, j] = float(v)
            except (TypeError, ValueError):
                raise DataError(f"subject {subj[i]}: covariate {name!r} must be a number, got {v!r}", where) from None
            if not np.isfinite(out[i, j]):
                raise DataError(f"subject {subj[i]}: covariate {name!r} is missing or not finite ({v!r})", where)
    return out


class _Adapter:
    """Builds the positional call ``module(x, [covariates], [mask])`` that :func:`fit_module` expects."""

    @staticmethod
    def wrap(model, has_cov: bool, has_mask: bool, has_offset: bool = False):
        """``has_offset``: the input after the covariates is a per-row skip offset (see ``skip_crossfit``)."""
        import torch

        class Wrapped(torch.nn.Module):
            def __init__(self, inner):
                super().__init__()
                self.inner = inner

            def forward(self, x, *rest):
                cov = rest[0] if has_cov else None
                offset = rest[1] if has_offset else None
                mask = rest[-1] if has_mask else None
                return self.inner(x, cov, mask, offset)

        return Wrapped(model)


class _PriorShift(nn.Module):
    """``(logits + shift, attention)`` of a wrapped model: the exported form of ``prior_adjust``."""

    def __init__(self, inner: nn.Module, shift: torch.Tensor):
        super().__init__()
        self.inner = inner
        self.register_buffer("shift", shift)

    def forward(self, x: torch.Tensor, covariates: torch.Tensor | None = None, mask: torch.Tensor | None = None):
        logits, weights = self.inner(x, covariates, mask)
        return logits + self.shift, weights


class MassLevelClassifier(MyoflowClassifier):
    """Muscle-mass level from stimulus-locked sequences (+ covariates) with an attention Bi-LSTM.

    Parameters
    ----------
    covariates : sequence of str
        Metadata columns fused into the model (``sex`` is coded 1 = F, 0 = M).
    use_covariates : bool
        False → no covariate branch (ablation "Bi-LSTM without covariates").
    use_attention : bool
        False → mean pooling instead of attention (ablation).
    descriptors : bool
        True → every metadata column named ``desc:*`` (:data:`DESCRIPTOR_PREFIX`; hand-crafted
        M-wave descriptors, one value per sample) joins the covariate vector (scaled with it).
    skip : bool
        True → a linear path from the covariate vector (covariates + descriptors) to the logits
        (see :class:`AttentionBiLSTM`); with ``descriptors`` this makes a hybrid that contains a
        logistic regression on the classic descriptors.
    skip_fit : {"joint", "logreg"}
        How the skip is fitted. ``"joint"``: trained with the network. ``"logreg"``: first fitted,
        per member on that member's training subjects (one row per subject, the member's class
        weighting), as an L2 multinomial logistic regression of the scaled covariate vector
        (inverse strength ``skip_c``), then frozen; the head's last layer starts at zero, so the
        network starts AT that regression and early stopping keeps only what its sequence branch
        adds on the validation subjects (stagewise fitting). Why: trained jointly, the network
        overfits its ~60 training subjects within one epoch (validation loss rises from epoch 1),
        before a joint skip converges.
    skip_c : float
        Inverse L2 strength of the ``"logreg"`` skip (scikit-learn's ``C``).
    skip_rows : {"fit", "all"}
        Subjects the ``"logreg"`` skip is fitted on: ``"fit"`` the member's fitting subjects (its
        validation subjects held out); ``"all"`` every training subject given to :meth:`fit`, so the
        skip is exactly the logistic regression of the whole training fold (the ``descriptors_logreg``
        baseline) and the network can only add to it. The head is still trained on the fitting subjects
        and stopped on the validation subjects (whose loss then starts optimistic for the skip: the
        head stops early rather than late).
    skip_gate : bool
        ``"logreg"`` skip only: after training, a member whose best validation loss is not
        below that of its regression alone gets its sequence branch switched off (head output
        zeroed): the member is then exactly the logistic regression. Early stopping, extended by
        the untrained state (epoch −1).
    skip_crossfit : int
        ``"logreg"`` skip only; 0 (default) = off. k >= 2: the network is trained on top of OUT-OF-FOLD
        skip logits — the member's fitting subjects in k stratified folds, each subject's logits from a
        regression fitted without it — instead of the frozen skip's in-sample logits; validation and
        prediction use the skip fitted on all of ``skip_rows`` (unchanged). Why: fitted on the same subjects,
        the skip nearly saturates their loss (in-sample 0.1-0.4 vs 0.3-2.3 on validation subjects), so the head
        learned in-sample residuals that are noise out of sample and validation loss rose from epoch 1
        (stacking with cross-fitted first-stage predictions, Wolpert 1992, "Stacked generalization").
    prior_adjust : float
        tau >= 0 (default 0 = off): probabilities ``p_c · prior_c^tau`` renormalised, ``prior`` = the class
        frequencies of the training SUBJECTS given to :meth:`fit` (logit adjustment, Menon et al. 2021,
        "Long-tail learning via logit adjustment", ICLR). With ``imbalance="class_weight"`` the model is
        trained as if the classes were balanced; tau = 1 puts the training prior back in full, 0.5 half.
    hidden_size, num_layers, attention_size, covariate_size, head_size, dropout
        Model sizes (see :class:`~myoflow.models.attention_bilstm.AttentionBiLSTM`).
    n_members : int
        Networks in the probability-averaging ensemble (1 = a single network). Member 0
        uses ``seed``, member k the seed derived from (``seed``, "member", k).
    epochs, batch_size, lr, weight_decay, optimizer, patience
        Optimisation (see :func:`myoflow.train.fit_module`).
    val_fraction : float
        Fraction of the training SUBJECTS held out for early stopping (0 → none).
    imbalance : {"none", "class_weight", "oversample", "both"}
        Class-weighted cross-entropy and/or random oversampling of minority classes,
        both computed from the training labels only.
    classes : sequence, optional
        Class order (default: sorted training labels).
    seed : int
        Seeds weight initialisation, batch order, validation split and oversampling.
    device : str
        Torch device.

    Attributes
    ----------
    classes_ : ndarray
    model_ : AttentionBiLSTM or AttentionBiLSTMEnsemble (``n_members > 1``)
    histories_ : list of FitResult, one per member (``history_`` is member 0's)
    channel_scaler_, covariate_scaler_ : fitted scalers (covariate one is None without covariates)
    side_columns_ : list of str
        Metadata columns of the covariate vector, in order (covariates, then descriptors).
    history_ : FitResult
    attention_ : ndarray (n_samples, n_steps)
        Attention weights of the last :meth:`predict_proba` / :meth:`predict` call.
    """

    registry_name = "attention_bilstm"
    _module_attr = "model_"

    def __init__(
        self,
        covariates: Sequence[str] = DEFAULT_COVARIATES,
        use_covariates: bool = True,
        use_attention: bool = True,
        descriptors: bool = False,
        skip: bool = False,
        skip_fit: str = "joint",
        skip_c: float = 1.0,
        skip_rows: str = "fit",
        skip_gate: bool = False,
        skip_crossfit: int = 0,
        prior_adjust: float = 0.0,
        hidden_size: int = 32,
        num_layers: int = 1,
        attention_size: int = 32,
        covariate_size: int = 16,
        head_size: int = 32,
        dropout: float = 0.2,
        n_members: int = 1,
        epochs: int = 60,
        batch_size: int = 32,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        optimizer: str = "adam",
        patience: int = 10,
        val_fraction: float = 0.2,
        imbalance: str = "class_weight",
        classes: Sequence[Any] | None = None,
        seed: int = 0,
        device: str = "cpu",
    ):
        self.covariates = covariates
        self.use_covariates = use_covariates
        self.use_attention = use_attention
        self.descriptors = descriptors
        self.skip = skip
        self.skip_fit = skip_fit
        self.skip_c = skip_c
        self.skip_rows = skip_rows
        self.skip_gate = skip_gate
        self.skip_crossfit = skip_crossfit
        self.prior_adjust = prior_adjust
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.attention_size = attention_size
        self.covariate_size = covariate_size
        self.head_size = head_size
        self.dropout = dropout
        self.n_members = n_members
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.optimizer = optimizer
        self.patience = patience
        self.val_fraction = val_fraction
        self.imbalance = imbalance
        self.classes = classes
        self.seed = seed
        self.device = device

    def _validate_params(self) -> None:
        if self.imbalance not in ("none", "class_weight", "oversample", "both"):
            raise ConfigError(f"imbalance must be none, class_weight, oversample or both, got {self.imbalance!r}")
        if int(self.n_members) < 1:
            raise ConfigError(f"n_members must be >= 1, got {self.n_members}")
        if self.skip_fit not in ("joint", "logreg"):
            raise ConfigError(f"skip_fit must be joint or logreg, got {self.skip_fit!r}")
        if self.skip_rows not in ("fit", "all"):
            raise ConfigError(f"skip_rows must be fit or all, got {self.skip_rows!r}")
        if not float(self.skip_c) > 0:
            raise ConfigError(f"skip_c must be > 0, got {self.skip_c}")
        if int(self.skip_crossfit) < 0 or int(self.skip_crossfit) == 1:
            raise ConfigError(f"skip_crossfit must be 0 (off) or >= 2 folds, got {self.skip_crossfit}")
        if not float(self.prior_adjust) >= 0:
            raise ConfigError(f"prior_adjust must be >= 0, got {self.prior_adjust}")

    # ------------------------------------------------------------ inputs
    def _as_epochs(self, X: Epochs | np.ndarray, groups: Any) -> Epochs:
        """Epochs as given (``groups`` → ``subject``), or a plain array wrapped without covariates."""
        if isinstance(X, Epochs):
            if groups is not None:
                md = X.metadata.copy()
                md["subject"] = np.asarray(groups)
                X = X.replace(metadata=md)
            return X
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 3:
            raise DataError(f"MassLevelClassifier expects Epochs or an array (n, features, steps), got {X.shape}")
        if self.use_covariates or self.descriptors:
            raise DataError("a plain array carries no covariates or descriptors; pass Epochs or set "
                            "use_covariates=False and descriptors=False")
        subj = np.asarray(groups) if groups is not None else np.arange(len(X))
        return Epochs(X, 1.0, [f"f{i}" for i in range(X.shape[1])], pd.DataFrame({"subject": subj}))

    def _check_epochs(self, epochs: Epochs, need_y: bool) -> None:
        if not isinstance(epochs, Epochs):
            raise DataError(f"MassLevelClassifier expects Epochs, got {type(epochs).__name__}")
        if len(epochs) == 0:
            raise DataError("no samples given")
        if need_y and epochs.y is None:
            raise DataError("training Epochs carry no labels (y is None)")
        if "subject" not in epochs.metadata.columns:
            raise DataError("epochs metadata needs a 'subject' column")

    def _mask(self, epochs: Epochs) -> np.ndarray | None:
        if "n_steps" not in epochs.metadata.columns:
            return None
        n = epochs.metadata["n_steps"].to_numpy(dtype=np.int64)
        return np.arange(epochs.n_times)[None, :] < n[:, None]

    def _side_columns(self, metadata: pd.DataFrame) -> list[str]:
        """Columns of the covariate vector: the covariates, then (``descriptors``) the ``desc:*`` columns."""
        cols = list(self.covariates) if self.use_covariates else []
        if self.descriptors:
            desc = [c for c in metadata.columns if str(c).startswith(DESCRIPTOR_PREFIX)]
            if not desc:
                raise DataError(f"descriptors=True but the metadata has no '{DESCRIPTOR_PREFIX}*' column",
                                "MassLevelClassifier")
            cols += desc
        return cols

    def _inputs(self, epochs: Epochs) -> list[np.ndarray]:
        """Scaled model inputs: [x (n, steps, features)] + [covariate vector] + [mask]."""
        x = self.channel_scaler_.transform(epochs.X)
        inputs = [np.ascontiguousarray(np.transpose(x, (0, 2, 1)), dtype=np.float32)]
        if self.side_columns_:
            cov = encode_covariates(epochs.metadata, list(self.side_columns_), "MassLevelClassifier")
            inputs.append(self.covariate_scaler_.transform(cov).astype(np.float32))
        mask = self._mask(epochs)
        if mask is not None:
            inputs.append(mask)
        return inputs

    def _build_member(self, n_features: int, n_covariates: int):
        return AttentionBiLSTM(
            n_features=n_features, n_classes=len(self.classes_), n_covariates=n_covariates,
            hidden_size=self.hidden_size, num_layers=self.num_layers, attention_size=self.attention_size,
            covariate_size=self.covariate_size, head_size=self.head_size, dropout=self.dropout,
            use_attention=self.use_attention, skip=bool(self.skip) and n_covariates > 0,
        )

    def _build(self, n_features: int, n_covariates: int):
        """The (untrained) module: one network, or an ensemble of ``n_members``."""
        if int(self.n_members) <= 1:
            return self._build_member(n_features, n_covariates)
        return AttentionBiLSTMEnsemble([self._build_member(n_features, n_covariates)
                                        for _ in range(int(self.n_members))])

    def _member_seed(self, k: int) -> int:
        from ..train.seeding import derive_seed

        return int(self.seed) if k == 0 else int(derive_seed(self.seed, "member", k))

    # --------------------------------------------------------------- fit
    def fit(self, epochs: Epochs | np.ndarray, y: Any = None, groups: Any = None) -> "MassLevelClassifier":
        """Fit on TRAINING samples (one or more per subject).

        Parameters
        ----------
        epochs : Epochs or array (n_samples, n_features, n_steps)
            X (n_samples, n_features, n_steps); metadata with ``subject`` and covariates
            (a plain array needs ``use_covariates=False``; ``groups`` are then the subjects).
        y : array, optional
            Labels; default ``epochs.y``.
        groups : array, optional
            Subject of each sample (overrides the metadata's ``subject`` column).
        """
        import torch

        from ..evaluate.imbalance import class_weights, random_oversample
        from ..evaluate.splitters import inner_validation_split
        from ..preprocess.scalers import ChannelStandardScaler, FeatureStandardScaler
        from ..train import fit_module, torch_seed

        epochs = self._as_epochs(epochs, groups)
        if y is not None:
            epochs = epochs.replace(y=np.asarray(y))
        self._check_epochs(epochs, need_y=True)
        self._validate_params()
        labels = np.asarray(epochs.y)
        self.classes_ = np.asarray(list(self.classes) if self.classes is not None else np.unique(labels))
        unknown = sorted(set(labels.tolist()) - set(self.classes_.tolist()))
        if unknown:
            raise DataError(f"labels {unknown} are not among the classes {self.classes_.tolist()}")
        target = np.searchsorted(self.classes_, labels) if self.classes is None else \
            np.array([self.classes_.tolist().index(v) for v in labels], dtype=np.int64)
        target = target.astype(np.int64)

        # Scalers: statistics of the training samples handed to fit (training subjects only;
        # shared by every member, whose validation subjects differ).
        self.channel_scaler_ = ChannelStandardScaler().fit(epochs.X)
        self.covariate_scaler_ = None
        self.side_columns_ = self._side_columns(epochs.metadata)
        if self.skip and not self.side_columns_:
            raise ConfigError("skip needs covariates or descriptors (use_covariates or descriptors)")
        if self.side_columns_:
            cov = encode_covariates(epochs.metadata, list(self.side_columns_), "MassLevelClassifier")
            self.covariate_scaler_ = FeatureStandardScaler().fit(cov)
        inputs = self._inputs(epochs)
        has_side = bool(self.side_columns_)
        n_cov = inputs[1].shape[1] if has_side else 0
        has_mask = self._mask(epochs) is not None
        all_idx = np.arange(len(epochs))
        n_subj = epochs.metadata["subject"].nunique()
        # Class prior of the training SUBJECTS (augmented copies only repeat a subject): for prior_adjust.
        per_subject = pd.Series(target, index=epochs.metadata["subject"].to_numpy()).groupby(level=0).first()
        counts = np.bincount(per_subject.to_numpy(), minlength=len(self.classes_)).astype(np.float64)
        self.class_prior_ = counts / counts.sum()

        members, histories = [], []
        for k in range(int(self.n_members)):
            seed = self._member_seed(k)
            if self.val_fraction > 0 and n_subj >= 4:
                try:
                    fit_idx, val_idx = inner_validation_split(epochs.metadata, all_idx, fraction=self.val_fraction,
                                                              seed=seed, y=labels)
                except ValueError as exc:
                    # Too few subjects of some class to stratify the validation split: draw it unstratified.
                    log.warning("member %d: validation subjects drawn unstratified (%s)", k, exc)
                    fit_idx, val_idx = inner_validation_split(epochs.metadata, all_idx,
                                                              fraction=self.val_fraction, seed=seed)
            else:
                fit_idx, val_idx = all_idx, np.zeros(0, dtype=np.int64)
            train_rows = fit_idx
            if self.imbalance in ("oversample", "both"):
                train_rows, _ = random_oversample(fit_idx, labels[fit_idx], seed=seed)
            weight = None
            if self.imbalance in ("class_weight", "both"):
                cw = class_weights(target[train_rows])
                weight = torch.tensor([cw.get(i, 1.0) for i in range(len(self.classes_))], dtype=torch.float32)
            ce = torch.nn.CrossEntropyLoss(weight=None if weight is None else weight.to(self.device))

            def loss_fn(out, yb, ce=ce):
                return ce(out[0] if isinstance(out, tuple) else out, yb)

            has_val = len(val_idx) > 0
            # One forked, seeded RNG scope for initialisation AND dropout: the fit is a pure
            # function of (data, seed) whatever ran before in this process.
            with torch_seed(seed):
                member = self._build_member(inputs[0].shape[2], n_cov)
                stagewise = member.skip is not None and self.skip_fit == "logreg"
                skip_rows = all_idx if self.skip_rows == "all" else fit_idx
                subjects = epochs.metadata["subject"].to_numpy()
                if stagewise:
                    stagewise = self._fit_skip(member, inputs[1], target, skip_rows, subjects)
                fit_inputs = inputs
                offset = None
                if stagewise and int(self.skip_crossfit) >= 2:
                    offset = self._crossfit_offsets(member, inputs[1], target, skip_rows, subjects, seed)
                if offset is not None:
                    # [x, side, offset, (mask)]: training rows get out-of-fold skip logits, every other row
                    # (validation) the frozen skip's own logits, so validation scores the deployed model.
                    fit_inputs = [inputs[0], inputs[1], offset] + inputs[2:]
                module = _Adapter.wrap(member, has_side, has_mask, has_offset=offset is not None)
                gate = stagewise and bool(self.skip_gate) and has_val
                if gate:  # validation loss of the regression alone (the head outputs 0 at this point)
                    module.eval()
                    with torch.no_grad():
                        v_in = [torch.as_tensor(a[val_idx]) for a in fit_inputs]
                        v0 = float(loss_fn(module(*v_in), torch.as_tensor(target[val_idx])))
                histories.append(fit_module(
                    module, [a[train_rows] for a in fit_inputs], target[train_rows], loss_fn,
                    val_inputs=[a[val_idx] for a in fit_inputs] if has_val else None,
                    val_target=target[val_idx] if has_val else None,
                    epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, weight_decay=self.weight_decay,
                    optimizer=self.optimizer, patience=self.patience, seed=seed, device=self.device,
                ))
                if gate and not (min(histories[-1].val_loss, default=np.inf) < v0):
                    with torch.no_grad():  # the sequence branch did not help on validation: regression only
                        member.head[-1].weight.zero_()
                        member.head[-1].bias.zero_()
                    histories[-1].best_epoch = -1
            members.append(member.to("cpu").eval())
        if len(members) == 1:
            self.model_ = members[0]
        else:
            self.model_ = AttentionBiLSTMEnsemble(members)
        self.histories_ = histories
        self.history_ = histories[0]
        self.model_.to("cpu").eval()
        self.n_features_ = int(inputs[0].shape[2])
        self.n_covariates_ = int(n_cov)
        return self

    def _fit_skip(self, member: AttentionBiLSTM, side: np.ndarray, target: np.ndarray, rows: np.ndarray,
                  subjects: np.ndarray) -> bool:
        """``skip_fit="logreg"``: the skip := a logistic regression of the side vector, frozen; head output 0."""
        from sklearn.linear_model import LogisticRegression

        # One row per subject: the side vector is per subject, augmented copies only repeat it.
        _, first = np.unique(subjects[rows], return_index=True)
        r = rows[np.sort(first)]
        n_classes = len(self.classes_)
        if np.unique(target[r]).size < n_classes:
            log.warning("logreg skip: a class is missing from the member's training subjects; trained jointly")
            return False
        weight = "balanced" if self.imbalance in ("class_weight", "both") else None
        lr = LogisticRegression(C=float(self.skip_c), class_weight=weight, max_iter=5000).fit(side[r], target[r])
        with torch.no_grad():
            member.skip.weight.copy_(torch.as_tensor(lr.coef_, dtype=torch.float32))
            member.skip.bias.copy_(torch.as_tensor(lr.intercept_, dtype=torch.float32))
            member.head[-1].weight.zero_()
            member.head[-1].bias.zero_()
        member.skip.weight.requires_grad_(False)
        member.skip.bias.requires_grad_(False)
        return True

    def _crossfit_offsets(self, member: AttentionBiLSTM, side: np.ndarray, target: np.ndarray, rows: np.ndarray,
                          subjects: np.ndarray, seed: int) -> np.ndarray | None:
        """Skip logits per row (n_rows, n_classes) float32: out-of-fold for the subjects of ``rows``, the frozen
        skip's own for every other row. None (with a warning) when some fold would miss a class."""
        import torch
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold

        with torch.no_grad():
            offset = member.skip(torch.as_tensor(side)).numpy().astype(np.float32)
        uniq, first = np.unique(subjects[rows], return_index=True)
        r = rows[first]  # one row per subject, subject order of uniq
        y = target[r]
        k = int(self.skip_crossfit)
        n_classes = len(self.classes_)
        if np.bincount(y, minlength=n_classes).min() < 2:
            log.warning("skip_crossfit: a class has fewer than 2 fitting subjects; in-sample skip logits used")
            return None
        weight = "balanced" if self.imbalance in ("class_weight", "both") else None
        with warnings.catch_warnings():  # a class with fewer than k subjects: some folds hold none of it out
            warnings.simplefilter("ignore", UserWarning)
            folds = list(StratifiedKFold(n_splits=min(k, len(r)), shuffle=True,
                                         random_state=int(seed) % (2**32)).split(r, y))
        for tr, te in folds:
            if np.unique(y[tr]).size < n_classes:  # stratified with >= 2 per class: never; kept for safety
                log.warning("skip_crossfit: a fold misses a class; in-sample skip logits used")
                return None
            lr = LogisticRegression(C=float(self.skip_c), class_weight=weight, max_iter=5000).fit(side[r[tr]], y[tr])
            held = np.isin(subjects, uniq[te])
            offset[held] = lr.decision_function(side[held]).astype(np.float32)
        return offset

    # ----------------------------------------------------------- predict
    def predict_proba(self, epochs: Epochs) -> np.ndarray:
        """Class probabilities (n_samples, n_classes), columns in ``classes_`` order; sets ``attention_``."""
        import torch

        self._check_fitted()
        epochs = self._as_epochs(epochs, None)
        self._check_epochs(epochs, need_y=False)
        if epochs.n_channels != self.n_features_:
            raise DataError(f"model was fitted on {self.n_features_} feature channel(s), got {epochs.n_channels}")
        inputs = [torch.as_tensor(a) for a in self._inputs(epochs)]
        cov = inputs[1] if self.side_columns_ else None
        mask = inputs[-1] if self._mask(epochs) is not None else None
        self.model_.eval()
        with torch.no_grad():
            logits, att = self.model_(inputs[0], cov, mask)
        self.attention_ = att.numpy().astype(np.float64)
        proba = torch.softmax(logits, dim=-1).numpy().astype(np.float64)
        tau = float(getattr(self, "prior_adjust", 0.0) or 0.0)
        if tau > 0:
            proba = proba * np.power(np.clip(np.asarray(self.class_prior_, dtype=np.float64), 1e-12, None), tau)
            proba /= proba.sum(axis=1, keepdims=True)
        return proba

    def export_module(self):
        """The fitted module for ONNX export; with ``prior_adjust`` its logits carry ``tau · log prior``, so the
        exported softmax is :meth:`predict_proba`'s (softmax(logits + tau log prior) ∝ p · prior^tau)."""
        module = super().export_module()
        tau = float(getattr(self, "prior_adjust", 0.0) or 0.0)
        if tau <= 0:
            return module
        shift = tau * np.log(np.clip(np.asarray(self.class_prior_, dtype=np.float64), 1e-12, None))
        return _PriorShift(module, torch.as_tensor(shift, dtype=torch.float32)).eval()

    def score(self, epochs: Epochs, y: Any = None, sample_weight: Any = None) -> float:
        """Accuracy on ``epochs`` (labels ``y`` or ``epochs.y``)."""
        y = getattr(epochs, "y", None) if y is None else np.asarray(y)
        if y is None:
            raise DataError("score needs labels")
        pred = self.predict(epochs)
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
        return float(np.average(pred == np.asarray(y), weights=w))

    # ----------------------------------------------------- persistence
    def _fitted_state(self) -> dict[str, Any]:
        """Classes, input sizes and scaler statistics (the weights are saved separately)."""
        return {
            "classes": [str(c) for c in self.classes_],
            "n_features": self.n_features_,
            "n_covariates": self.n_covariates_,
            "channel_mean": np.asarray(self.channel_scaler_.mean_).tolist(),
            "channel_scale": np.asarray(self.channel_scaler_.scale_).tolist(),
            "covariate_mean": None if self.covariate_scaler_ is None else self.covariate_scaler_.mean_.tolist(),
            "covariate_scale": None if self.covariate_scaler_ is None else self.covariate_scaler_.scale_.tolist(),
            "side_columns": list(self.side_columns_),
            "best_epochs": [int(h.best_epoch) for h in getattr(self, "histories_", [])],
            "class_prior": np.asarray(getattr(self, "class_prior_", []), dtype=np.float64).tolist(),
        }

    def _restore(self, fitted: dict[str, Any]) -> None:
        from ..preprocess.scalers import ChannelStandardScaler, FeatureStandardScaler

        self.classes_ = np.asarray(fitted["classes"])
        # records written before prior_adjust existed: no prior (prior_adjust must then stay 0)
        if fitted.get("class_prior"):
            self.class_prior_ = np.asarray(fitted["class_prior"], dtype=np.float64)
        self.n_features_ = int(fitted["n_features"])
        self.n_covariates_ = int(fitted["n_covariates"])
        # records written before descriptors existed: the covariate vector was the covariates
        self.side_columns_ = list(fitted.get("side_columns", list(self.covariates) if self.n_covariates_ else []))
        cs = ChannelStandardScaler()
        cs.mean_ = cs.center_ = np.asarray(fitted["channel_mean"], dtype=np.float64)
        cs.scale_ = np.asarray(fitted["channel_scale"], dtype=np.float64)
        cs.n_channels_ = len(cs.mean_)
        self.channel_scaler_ = cs
        self.covariate_scaler_ = None
        if fitted.get("covariate_mean") is not None:
            fsc = FeatureStandardScaler()
            fsc.mean_ = np.asarray(fitted["covariate_mean"], dtype=np.float64)
            fsc.scale_ = np.asarray(fitted["covariate_scale"], dtype=np.float64)
            self.covariate_scaler_ = fsc
        self.model_ = self._build(self.n_features_, self.n_covariates_).eval()
