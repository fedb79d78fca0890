"""scikit-learn-style estimators around the seed-002 MLPs.

* :class:`TorqueBasedEmgRegressor` — stage 1 trains a :class:`~myoflow.models.gait_mlp.TorqueMLP`
  (kinematics → standardised joint moments); stage 2 adds a hidden layer and a
  7-muscle output (:class:`~myoflow.models.gait_mlp.TorqueBasedEmgMLP`) and
  fine-tunes on sEMG with the torque layers ``frozen``, at a ``low_lr``
  (``finetune_lr_ratio`` × lr) or ``full``.
* :class:`KinematicsEmgRegressor` — the baseline MLP, kinematics → sEMG directly.

Inputs and moment targets are standardised with statistics of the training
rows only (``StandardScaler`` fitted in ``fit``). Rows are instants of gait
cycles (see :mod:`.features`). Early stopping uses validation rows that the
caller carves from training subjects.
"""
from __future__ import annotations

import logging
from typing import Literal, Sequence

import numpy as np
from sklearn.preprocessing import StandardScaler

from ...errors import ConfigError

__all__ = ["TorqueBasedEmgRegressor", "KinematicsEmgRegressor"]

log = logging.getLogger(__name__)


def _mse():
    import torch

    return torch.nn.functional.mse_loss


def _r2(y: np.ndarray, p: np.ndarray) -> float:
    ss = ((y - y.mean(0)) ** 2).sum()
    return float(1 - ((y - p) ** 2).sum() / ss) if ss > 0 else float("nan")


class _Base:
    def __init__(self, *, epochs: int = 60, batch_size: int = 256, lr: float = 1e-3, weight_decay: float = 1e-5,
                 optimizer: str = "adam", patience: int = 10, activation: str = "relu", dropout: float = 0.0,
                 seed: int = 0, device: str = "cpu"):
        self.epochs, self.batch_size, self.lr, self.weight_decay = epochs, batch_size, lr, weight_decay
        self.optimizer, self.patience, self.activation, self.dropout = optimizer, patience, activation, dropout
        self.seed, self.device = seed, device

    def _fit(self, module, X, y, Xv, yv, seed, params=None, epochs=None):
        from ...train import fit_module

        return fit_module(
            module, [X.astype(np.float32)], y.astype(np.float32), _mse(),
            val_inputs=None if Xv is None else [Xv.astype(np.float32)],
            val_target=None if yv is None else yv.astype(np.float32),
            epochs=epochs or self.epochs, batch_size=self.batch_size, lr=self.lr, weight_decay=self.weight_decay,
            optimizer=self.optimizer, patience=self.patience, seed=seed, device=self.device, params=params,
        )

    def _check(self, X, *ys):
        X = np.asarray(X, dtype=float)
        if X.ndim != 2:
            raise ConfigError(f"X must be (n_rows, n_features), got {X.shape}")
        for y in ys:
            if y is not None and len(y) != len(X):
                raise ConfigError(f"targets have {len(y)} rows for {len(X)} input rows")
        return X

    def score(self, X, emg) -> float:
        """R² of the sEMG prediction over all rows and muscles (sklearn's default score)."""
        return _r2(np.asarray(emg, dtype=float), self.predict(X))


class TorqueBasedEmgRegressor(_Base):
    """Kinematics → joint torques → sEMG (the paper's torque-based model).

    Parameters
    ----------
    torque_hidden : sequence of int
        Hidden widths of the torque MLP.
    added_hidden : int
        Width of the hidden layer added for sEMG (152 → 15,200 parameters after a 99-wide trunk).
    head_input : {"hidden", "torques"}
        Whether the added layer reads the torque model's last hidden layer or its torques.
    finetune : {"frozen", "low_lr", "full"}
        How the torque layers are treated while fine-tuning on sEMG.
    finetune_lr_ratio : float
        Learning-rate factor of the torque layers for ``low_lr``.
    torque_epochs : int, optional
        Epochs of stage 1 (default ``epochs``).

    Attributes (after fit)
    ----------------------
    torque_model_ : TorqueMLP (shared with ``model_``)
    model_ : TorqueBasedEmgMLP
    x_scaler_, torque_scaler_ : StandardScaler
    torque_history_, history_ : FitResult
    """

    def __init__(self, torque_hidden: Sequence[int] = (128, 99), added_hidden: int = 152,
                 head_input: Literal["hidden", "torques"] = "hidden",
                 finetune: Literal["frozen", "low_lr", "full"] = "frozen", finetune_lr_ratio: float = 0.1,
                 torque_epochs: int | None = None, **kw):
        super().__init__(**kw)
        if finetune not in ("frozen", "low_lr", "full"):
            raise ConfigError(f"finetune must be 'frozen', 'low_lr' or 'full', got {finetune!r}")
        self.torque_hidden, self.added_hidden, self.head_input = tuple(torque_hidden), added_hidden, head_input
        self.finetune, self.finetune_lr_ratio, self.torque_epochs = finetune, finetune_lr_ratio, torque_epochs

    def fit(self, X, torques, emg, X_val=None, torques_val=None, emg_val=None) -> "TorqueBasedEmgRegressor":
        """Stage 1 on (X, torques), stage 2 on (X, emg); ``*_val`` rows for early stopping."""
        from ...models.gait_mlp import TorqueBasedEmgMLP, TorqueMLP
        from ...train import derive_seed, torch_seed

        X = self._check(X, torques, emg)
        torques = np.asarray(torques, dtype=float)
        emg = np.asarray(emg, dtype=float)
        self.x_scaler_ = StandardScaler().fit(X)
        self.torque_scaler_ = StandardScaler().fit(torques)
        Xs = self.x_scaler_.transform(X)
        Ts = self.torque_scaler_.transform(torques)
        Xv = Tv = None
        if X_val is not None and len(X_val):
            Xv = self.x_scaler_.transform(np.asarray(X_val, dtype=float))
            Tv = self.torque_scaler_.transform(np.asarray(torques_val, dtype=float))
        with torch_seed(derive_seed(self.seed, "torque_init")):
            self.torque_model_ = TorqueMLP(X.shape[1], torques.shape[1], self.torque_hidden, self.activation,
                                           self.dropout)
        self.torque_history_ = self._fit(self.torque_model_, Xs, Ts, Xv, Tv, derive_seed(self.seed, "torque_fit"),
                                         epochs=self.torque_epochs)
        self.torque_state_after_stage1_ = {k: v.detach().clone() for k, v in self.torque_model_.state_dict().items()}
        with torch_seed(derive_seed(self.seed, "emg_init")):
            self.model_ = TorqueBasedEmgMLP(self.torque_model_, self.added_hidden, emg.shape[1], self.head_input,
                                            self.activation, self.dropout)
        if self.finetune == "frozen":
            self.model_.freeze_torque_layers(True)
            params = self.model_.new_parameters()
        elif self.finetune == "low_lr":
            params = [{"params": self.model_.new_parameters()},
                      {"params": self.model_.torque_parameters(), "lr": self.lr * self.finetune_lr_ratio}]
        else:
            params = None
        Ev = None if Xv is None else np.asarray(emg_val, dtype=float)
        self.history_ = self._fit(self.model_, Xs, emg, Xv, Ev, derive_seed(self.seed, "emg_fit"), params=params)
        self.model_.freeze_torque_layers(False)
        return self

    def predict(self, X) -> np.ndarray:
        """sEMG envelopes, shape (n_rows, n_muscles)."""
        from ...train import predict_module

        Xs = self.x_scaler_.transform(self._check(X))
        return predict_module(self.model_, [Xs.astype(np.float32)], device=self.device).astype(float)

    def predict_torques(self, X) -> np.ndarray:
        """Joint moments in the training units (N·m/kg), shape (n_rows, n_torques).

        Uses the torque layers as they are after fine-tuning (identical to stage 1 when frozen).
        """
        from ...train import predict_module

        Xs = self.x_scaler_.transform(self._check(X))
        out = predict_module(self.torque_model_, [Xs.astype(np.float32)], device=self.device)
        return self.torque_scaler_.inverse_transform(out)

    def spec(self) -> dict:
        from ...models.gait_mlp import count_parameters

        return {"torque_sizes": list(self.torque_model_.sizes), "added_hidden": self.added_hidden,
                "head_input": self.head_input, "finetune": self.finetune,
                "added_layer_parameters": self.model_.added_layer_parameters,
                "torque_parameters": count_parameters(self.torque_model_),
                "total_parameters": count_parameters(self.model_),
                "torque_best_epoch": self.torque_history_.best_epoch, "best_epoch": self.history_.best_epoch}


class KinematicsEmgRegressor(_Base):
    """Baseline: kinematics → sEMG with one MLP (default widths (119, 116): 15,572 parameters)."""

    def __init__(self, hidden: Sequence[int] = (119, 116), **kw):
        super().__init__(**kw)
        self.hidden = tuple(hidden)

    def fit(self, X, emg, X_val=None, emg_val=None) -> "KinematicsEmgRegressor":
        from ...models.gait_mlp import KinematicsEmgMLP
        from ...train import derive_seed, torch_seed

        X = self._check(X, emg)
        emg = np.asarray(emg, dtype=float)
        self.x_scaler_ = StandardScaler().fit(X)
        Xs = self.x_scaler_.transform(X)
        Xv = None if X_val is None or not len(X_val) else self.x_scaler_.transform(np.asarray(X_val, dtype=float))
        with torch_seed(derive_seed(self.seed, "baseline_init")):
            self.model_ = KinematicsEmgMLP(X.shape[1], emg.shape[1], self.hidden, self.activation, self.dropout)
        Ev = None if Xv is None else np.asarray(emg_val, dtype=float)
        self.history_ = self._fit(self.model_, Xs, emg, Xv, Ev, derive_seed(self.seed, "baseline_fit"))
        return self

    def predict(self, X) -> np.ndarray:
        from ...train import predict_module

        Xs = self.x_scaler_.transform(self._check(X))
        return predict_module(self.model_, [Xs.astype(np.float32)], device=self.device).astype(float)

    def spec(self) -> dict:
        from ...models.gait_mlp import count_parameters

        return {"sizes": list(self.model_.sizes), "total_parameters": count_parameters(self.model_),
                "best_epoch": self.history_.best_epoch}
