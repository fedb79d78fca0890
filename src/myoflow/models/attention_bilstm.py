"""Attention-guided bidirectional LSTM with a covariate branch (seed 000, Khan et al.).

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

``use_attention=False`` replaces the attention by a (masked) mean over time, so the
contribution of attention can be measured; its returned weights are then uniform.
``n_covariates=0`` drops the covariate branch.
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["AttentionBiLSTM", "AdditiveAttention", "AttentionBiLSTMEnsemble"]


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

    def forward(
        self, x: torch.Tensor, covariates: torch.Tensor | None = None, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
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
        return self.head(context), weights


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
