"""Multi-layer perceptrons of seed 002: kinematics → joint torques → sEMG (Park & Park).

Three modules, all per time sample (one row = one instant of a gait cycle; the
input row holds the sagittal hip/knee/ankle angles and, optionally, their
velocities/accelerations):

* :class:`TorqueMLP` — kinematics → joint moments (3 planes × 3 joints in the
  simulator; whatever moment channels a dataset has).
* :class:`TorqueBasedEmgMLP` — the paper's *torque-based sEMG model*: a trained
  :class:`TorqueMLP` plus **one added hidden layer** and a 7-muscle output,
  fine-tuned on sEMG with the torque layers frozen or trained at a lower
  learning rate. The paper gives the added layer 15,200 parameters; with the
  default torque trunk (last hidden width 99) an added layer of 152 units has
  99·152 + 152 = 15,200 parameters exactly. The added layer reads either the
  torque model's last hidden layer (``head_input="hidden"``, default) or its
  torque outputs (``head_input="torques"``: the moments themselves are the
  bottleneck).
* :class:`KinematicsEmgMLP` — the baseline trained directly kinematics → sEMG;
  the default widths (119, 116) with 6 inputs give 15,572 parameters
  (paper: 15,575).

Their estimators: :class:`TorqueBasedEmgRegressor` (registry ``torque_emg_mlp``;
``y`` = sEMG columns then joint-moment columns) and :class:`KinematicsEmgRegressor`
(``kinematics_emg_mlp``).

Parameter counts are logged on construction and checked by the tests against
:func:`mlp_parameter_count`.
"""
from __future__ import annotations

import logging
from typing import Any, Iterable, Literal, Sequence

import numpy as np
import torch
from sklearn.base import RegressorMixin
from sklearn.preprocessing import StandardScaler
from torch import nn

from ..errors import ConfigError, DataError
from .base import MyoflowEstimator, scaler_from_state, scaler_state

__all__ = [
    "TorqueMLP",
    "TorqueBasedEmgMLP",
    "KinematicsEmgMLP",
    "count_parameters",
    "mlp_parameter_count",
    "make_mlp",
    "TorqueBasedEmgRegressor",
    "KinematicsEmgRegressor",
]

log = logging.getLogger(__name__)

_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU, "gelu": nn.GELU}


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of (trainable) scalar parameters of a module."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def mlp_parameter_count(sizes: Sequence[int]) -> int:
    """Parameters of a chain of dense layers with biases: Σ (n_in + 1) · n_out."""
    return sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))


def _check_sizes(name: str, sizes: Iterable[int]) -> tuple[int, ...]:
    sizes = tuple(int(s) for s in sizes)
    if any(s < 1 for s in sizes):
        raise ConfigError(f"{name}: layer widths must be >= 1, got {sizes}")
    return sizes


def make_mlp(sizes: Sequence[int], activation: str = "relu", dropout: float = 0.0,
             last_activation: bool = False) -> nn.Sequential:
    """Dense layers ``sizes[0] → … → sizes[-1]`` with an activation (and dropout) between them."""
    if activation not in _ACTIVATIONS:
        raise ConfigError(f"unknown activation {activation!r}; choose from {sorted(_ACTIVATIONS)}")
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2 or last_activation:
            layers.append(_ACTIVATIONS[activation]())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class TorqueMLP(nn.Module):
    """Kinematics → joint moments, per time sample.

    Parameters
    ----------
    in_features : int
        Input width (3 angles, ×2 with velocities, ×3 with accelerations).
    n_torques : int
        Number of moment channels (9 = hip/knee/ankle × sagittal/frontal/transverse).
    hidden : sequence of int
        Hidden widths; default (128, 99).
    activation : str
        ``relu`` | ``tanh`` | ``elu`` | ``gelu``.
    dropout : float
        Dropout after each hidden layer.

    Shapes
    ------
    input (batch, in_features) → output (batch, n_torques) in standardised units.
    """

    def __init__(self, in_features: int = 6, n_torques: int = 9, hidden: Sequence[int] = (128, 99),
                 activation: str = "relu", dropout: float = 0.0):
        super().__init__()
        hidden = _check_sizes("TorqueMLP.hidden", hidden)
        if not hidden:
            raise ConfigError("TorqueMLP needs at least one hidden layer")
        self.in_features, self.n_torques, self.hidden = int(in_features), int(n_torques), hidden
        self.trunk = make_mlp((self.in_features, *hidden), activation, dropout, last_activation=True)
        self.out = nn.Linear(hidden[-1], self.n_torques)
        log.info("TorqueMLP %s: %d parameters", (self.in_features, *hidden, self.n_torques), count_parameters(self))

    @property
    def sizes(self) -> tuple[int, ...]:
        return (self.in_features, *self.hidden, self.n_torques)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Last hidden representation, shape (batch, hidden[-1])."""
        return self.trunk(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.trunk(x))


class TorqueBasedEmgMLP(nn.Module):
    """The torque-based sEMG model: a (trained) TorqueMLP + an added hidden layer + a muscle output.

    Parameters
    ----------
    torque_mlp : TorqueMLP
        The trained torque model; its layers are reused (not copied).
    added_hidden : int
        Width of the added hidden layer (default 152 → 15,200 parameters after a 99-wide trunk).
    n_muscles : int
        Output width (7: TA, GM, VL, RF, BF, ST, SOL).
    head_input : {"hidden", "torques"}
        What the added layer reads: the torque model's last hidden layer, or its
        torque outputs.
    activation : str
        Activation of the added layer.

    Shapes
    ------
    input (batch, in_features) → output (batch, n_muscles).
    """

    def __init__(self, torque_mlp: TorqueMLP, added_hidden: int = 152, n_muscles: int = 7,
                 head_input: Literal["hidden", "torques"] = "hidden", activation: str = "relu",
                 dropout: float = 0.0):
        super().__init__()
        if head_input not in ("hidden", "torques"):
            raise ConfigError(f"head_input must be 'hidden' or 'torques', got {head_input!r}")
        self.torque_mlp = torque_mlp
        self.head_input = head_input
        width_in = torque_mlp.hidden[-1] if head_input == "hidden" else torque_mlp.n_torques
        _check_sizes("added_hidden", [added_hidden, n_muscles])
        self.added = make_mlp((width_in, int(added_hidden)), activation, dropout, last_activation=True)
        self.head = nn.Linear(int(added_hidden), int(n_muscles))
        self.added_hidden, self.n_muscles = int(added_hidden), int(n_muscles)
        log.info(
            "TorqueBasedEmgMLP: added hidden layer %d→%d = %d parameters; output %d; total %d",
            width_in, added_hidden, self.added_layer_parameters, count_parameters(self.head), count_parameters(self),
        )

    @property
    def added_layer_parameters(self) -> int:
        return count_parameters(self.added)

    def torque_parameters(self) -> list[nn.Parameter]:
        """Parameters that came from the torque model (frozen or low-rate when fine-tuning)."""
        return list(self.torque_mlp.parameters())

    def new_parameters(self) -> list[nn.Parameter]:
        """Parameters of the added hidden layer and the muscle output."""
        return list(self.added.parameters()) + list(self.head.parameters())

    def freeze_torque_layers(self, frozen: bool = True) -> None:
        """Stop (or restart) gradient updates of the torque model's layers."""
        for p in self.torque_mlp.parameters():
            p.requires_grad_(not frozen)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.head_input == "hidden":
            z = self.torque_mlp.features(x)
        else:
            z = self.torque_mlp(x)
        return self.head(self.added(z))


class KinematicsEmgMLP(nn.Module):
    """Baseline: kinematics → sEMG directly, per time sample.

    Parameters
    ----------
    in_features : int
    n_muscles : int
    hidden : sequence of int
        Default (119, 116): 15,572 parameters with 6 inputs and 7 outputs.
    """

    def __init__(self, in_features: int = 6, n_muscles: int = 7, hidden: Sequence[int] = (119, 116),
                 activation: str = "relu", dropout: float = 0.0):
        super().__init__()
        hidden = _check_sizes("KinematicsEmgMLP.hidden", hidden)
        self.sizes = (int(in_features), *hidden, int(n_muscles))
        self.net = make_mlp(self.sizes, activation, dropout)
        log.info("KinematicsEmgMLP %s: %d parameters", self.sizes, count_parameters(self))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


# ------------------------------------------------------------------ estimators
def _r2(y: np.ndarray, p: np.ndarray) -> float:
    ss = ((y - y.mean(0)) ** 2).sum()
    return float(1 - ((y - p) ** 2).sum() / ss) if ss > 0 else float("nan")


def _rows(X: Any, who: str) -> np.ndarray:
    X = np.asarray(X, dtype=float)
    if X.ndim != 2:
        raise DataError(f"{who}: X must be (n_rows, n_features), got shape {X.shape}")
    if not np.isfinite(X).all():
        raise DataError(f"{who}: X contains NaN/inf")
    return X


def _labelled(y: np.ndarray, what: str) -> np.ndarray:
    """Rows of ``y`` that carry targets: all finite; all-NaN rows are unlabelled, anything else is an error."""
    fin = np.isfinite(y)
    ok = fin.all(axis=1)
    bad = ~ok & ~np.isnan(y).all(axis=1)
    if bad.any():
        raise DataError(f"{int(bad.sum())} row(s) of {what} targets are partly NaN/inf; a row is either "
                        "fully labelled or all NaN (no target for that stage)")
    return ok


class _GaitRegressor(RegressorMixin, MyoflowEstimator):
    """Shared fit machinery of the two seed-002 regressors (rows = instants of gait cycles).

    Early stopping uses ``validation_data`` when given (the pipeline passes rows of
    held-out training subjects or cycles); otherwise, with ``groups`` and
    ``val_fraction > 0``, whole groups of the training rows are held out
    (:func:`~myoflow.evaluate.splitters.inner_validation_split`); otherwise none —
    random rows would put instants of one cycle on both sides.
    """

    _module_attr = "model_"

    def _validate_params(self) -> None:
        if self.activation not in _ACTIVATIONS:
            raise ConfigError(f"unknown activation {self.activation!r}; choose from {sorted(_ACTIVATIONS)}")

    def _split(self, X: np.ndarray, y: np.ndarray, groups: Any, validation_data: Any):
        if validation_data is not None:
            Xv, yv = validation_data
            Xv = _rows(Xv, type(self).__name__)
            yv = np.asarray(yv, dtype=float)
            if len(Xv) != len(yv):
                raise DataError(f"validation data: {len(yv)} target row(s) for {len(Xv)} input row(s)")
            return X, y, (Xv if len(Xv) else None), (yv if len(Xv) else None)
        if groups is not None and self.val_fraction and self.val_fraction > 0:
            import pandas as pd

            from ..evaluate.splitters import inner_validation_split
            from ..train import derive_seed

            groups = np.asarray(groups)
            if len(groups) != len(X):
                raise DataError(f"{len(groups)} group label(s) for {len(X)} row(s)")
            fit_idx, val_idx = inner_validation_split(pd.DataFrame({"group": groups}), np.arange(len(X)),
                                                      fraction=float(self.val_fraction),
                                                      seed=derive_seed(self.seed, "validation"), group="group")
            return X[fit_idx], y[fit_idx], X[val_idx], y[val_idx]
        return X, y, None, None

    def _train(self, module, X, y, Xv, yv, seed, params=None, epochs=None):
        from ..train import fit_module

        return fit_module(
            module, [X.astype(np.float32)], y.astype(np.float32), torch.nn.functional.mse_loss,
            val_inputs=None if Xv is None else [Xv.astype(np.float32)],
            val_target=None if yv is None else yv.astype(np.float32),
            epochs=epochs or self.epochs, batch_size=self.batch_size, lr=self.lr, weight_decay=self.weight_decay,
            optimizer=self.optimizer, patience=self.patience, seed=seed, device=self.device, params=params,
        )

    def _predict_rows(self, module, X) -> np.ndarray:
        from ..train import predict_module

        self._check_fitted()
        Xs = self.x_scaler_.transform(_rows(X, type(self).__name__))
        return predict_module(module, [Xs.astype(np.float32)], device=self.device).astype(float)



class TorqueBasedEmgRegressor(_GaitRegressor):
    """Kinematics → joint torques → sEMG (the paper's torque-based model).

    Stage 1 trains a :class:`TorqueMLP` (kinematics → standardised joint moments);
    stage 2 adds a hidden layer and the muscle output (:class:`TorqueBasedEmgMLP`)
    and fine-tunes on sEMG with the torque layers ``frozen``, at a ``low_lr``
    (``finetune_lr_ratio`` × lr) or ``full``. Inputs and moment targets are
    standardised with statistics of the training rows only.

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
    n_emg : int
        The first ``n_emg`` columns of ``y`` are the sEMG targets; the remaining ones
        are the joint moments of stage 1.
    epochs, batch_size, lr, weight_decay, optimizer, patience, activation, dropout
        Optimisation and layers (both stages).
    val_fraction : float
        Fraction of ``groups`` held out for early stopping when no ``validation_data`` is given.
    seed : int
    device : str

    Attributes
    ----------
    torque_model_ : TorqueMLP (shared with ``model_``)
    model_ : TorqueBasedEmgMLP
    x_scaler_, torque_scaler_ : StandardScaler
    torque_history_, history_ : FitResult
    """

    registry_name = "torque_emg_mlp"

    def __init__(self, torque_hidden: Sequence[int] = (128, 99), added_hidden: int = 152,
                 head_input: str = "hidden", finetune: str = "frozen", finetune_lr_ratio: float = 0.1,
                 torque_epochs: int | None = None, n_emg: int = 7, epochs: int = 60, batch_size: int = 256,
                 lr: float = 1e-3, weight_decay: float = 1e-5, optimizer: str = "adam", patience: int = 10,
                 activation: str = "relu", dropout: float = 0.0, val_fraction: float = 0.2, seed: int = 0,
                 device: str = "cpu"):
        self.torque_hidden = torque_hidden
        self.added_hidden = added_hidden
        self.head_input = head_input
        self.finetune = finetune
        self.finetune_lr_ratio = finetune_lr_ratio
        self.torque_epochs = torque_epochs
        self.n_emg = n_emg
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.optimizer = optimizer
        self.patience = patience
        self.activation = activation
        self.dropout = dropout
        self.val_fraction = val_fraction
        self.seed = seed
        self.device = device

    def _validate_params(self) -> None:
        super()._validate_params()
        if self.finetune not in ("frozen", "low_lr", "full"):
            raise ConfigError(f"finetune must be 'frozen', 'low_lr' or 'full', got {self.finetune!r}")
        if self.head_input not in ("hidden", "torques"):
            raise ConfigError(f"head_input must be 'hidden' or 'torques', got {self.head_input!r}")

    def _targets(self, y: Any) -> tuple[np.ndarray, np.ndarray]:
        y = np.asarray(y, dtype=float)
        k = int(self.n_emg)
        if y.ndim != 2 or y.shape[1] <= k:
            raise DataError(f"y must be (n_rows, n_emg + n_torques) = (n, {k} + >=1), got shape {y.shape}")
        return y[:, :k], y[:, k:]

    def fit(self, X, y, groups=None, *, validation_data=None) -> "TorqueBasedEmgRegressor":
        """Stage 1 on (X, torques), stage 2 on (X, sEMG).

        Parameters
        ----------
        X : array (n_rows, n_features)
            Kinematics per instant.
        y : array (n_rows, n_emg + n_torques)
            sEMG envelopes, then joint moments. A row whose sEMG (or moments) are all NaN takes
            part in stage 1 (or stage 2) only: moments of many people, sEMG of a few (the
            paper's data situation). The same holds for ``validation_data``.
        groups : array (n_rows,), optional
            Subject (or cycle) of each row, for the early-stopping split.
        validation_data : (X_val, y_val), optional
            Explicit early-stopping rows (from training groups only).
        """
        from ..train import derive_seed, torch_seed

        self._validate_params()
        X = _rows(X, "TorqueBasedEmgRegressor")
        y = np.asarray(y, dtype=float)
        if len(y) != len(X):
            raise DataError(f"targets have {len(y)} rows for {len(X)} input rows")
        self._targets(y)
        X, y, Xv, yv = self._split(X, y, groups, validation_data)
        emg, torques = self._targets(y)
        has_t, has_e = _labelled(torques, "moments"), _labelled(emg, "sEMG")
        if not has_t.any() or not has_e.any():
            raise DataError(f"TorqueBasedEmgRegressor: {int(has_t.sum())} row(s) with moments and "
                            f"{int(has_e.sum())} with sEMG; both stages need rows")
        self.x_scaler_ = StandardScaler().fit(X)
        self.torque_scaler_ = StandardScaler().fit(torques[has_t])
        Xs = self.x_scaler_.transform(X)
        Ts = self.torque_scaler_.transform(torques[has_t])
        Xvs = Tv = Ev = XvT = XvE = None
        if Xv is not None:
            Ev, Tv_raw = self._targets(yv)
            vt, ve = _labelled(Tv_raw, "moments"), _labelled(Ev, "sEMG")
            Xvs = self.x_scaler_.transform(Xv)
            XvT, Tv = (Xvs[vt], self.torque_scaler_.transform(Tv_raw[vt])) if vt.any() else (None, None)
            XvE, Ev = (Xvs[ve], Ev[ve]) if ve.any() else (None, None)
        with torch_seed(derive_seed(self.seed, "torque_init")):
            self.torque_model_ = TorqueMLP(X.shape[1], torques.shape[1], tuple(self.torque_hidden), self.activation,
                                           self.dropout)
        self.torque_history_ = self._train(self.torque_model_, Xs[has_t], Ts, XvT, Tv,
                                           derive_seed(self.seed, "torque_fit"), epochs=self.torque_epochs)
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
        self.history_ = self._train(self.model_, Xs[has_e], emg[has_e], XvE, Ev, derive_seed(self.seed, "emg_fit"),
                                    params=params)
        self.model_.freeze_torque_layers(False)
        return self

    def predict(self, X) -> np.ndarray:
        """sEMG envelopes, shape (n_rows, n_emg)."""
        self._check_fitted()
        return self._predict_rows(self.model_, X)

    def predict_torques(self, X) -> np.ndarray:
        """Joint moments in the training units (N·m/kg), shape (n_rows, n_torques).

        Uses the torque layers as they are after fine-tuning (identical to stage 1 when frozen).
        """
        self._check_fitted()
        return self.torque_scaler_.inverse_transform(self._predict_rows(self.torque_model_, X))

    def score(self, X, y, sample_weight=None) -> float:
        """R² of the sEMG prediction over all rows and muscles (``y``: sEMG, optionally followed by moments)."""
        y = np.asarray(y, dtype=float)
        return _r2(y[:, :int(self.n_emg)], self.predict(X))

    def spec(self) -> dict:
        """Sizes and parameter counts of the fitted model (for reports)."""
        self._check_fitted()
        return {"torque_sizes": list(self.torque_model_.sizes), "added_hidden": self.added_hidden,
                "head_input": self.head_input, "finetune": self.finetune,
                "added_layer_parameters": self.model_.added_layer_parameters,
                "torque_parameters": count_parameters(self.torque_model_),
                "total_parameters": count_parameters(self.model_),
                "torque_best_epoch": self.torque_history_.best_epoch, "best_epoch": self.history_.best_epoch}

    def _fitted_state(self) -> dict[str, Any]:
        return {"sizes": list(self.torque_model_.sizes), "n_emg_out": int(self.model_.n_muscles),
                "x_scaler": scaler_state(self.x_scaler_), "torque_scaler": scaler_state(self.torque_scaler_)}

    def _restore(self, fitted: dict[str, Any]) -> None:
        sizes = fitted["sizes"]
        self.x_scaler_ = scaler_from_state(fitted["x_scaler"])
        self.torque_scaler_ = scaler_from_state(fitted["torque_scaler"])
        self.torque_model_ = TorqueMLP(sizes[0], sizes[-1], tuple(sizes[1:-1]), self.activation, self.dropout)
        self.model_ = TorqueBasedEmgMLP(self.torque_model_, self.added_hidden, int(fitted["n_emg_out"]),
                                        self.head_input, self.activation, self.dropout)


class KinematicsEmgRegressor(_GaitRegressor):
    """Baseline: kinematics → sEMG with one MLP (default widths (119, 116): 15,572 parameters).

    Parameters
    ----------
    hidden : sequence of int
        Hidden widths.
    epochs, batch_size, lr, weight_decay, optimizer, patience, activation, dropout, val_fraction, seed, device
        As :class:`TorqueBasedEmgRegressor`.
    """

    registry_name = "kinematics_emg_mlp"

    def __init__(self, hidden: Sequence[int] = (119, 116), epochs: int = 60, batch_size: int = 256, lr: float = 1e-3,
                 weight_decay: float = 1e-5, optimizer: str = "adam", patience: int = 10, activation: str = "relu",
                 dropout: float = 0.0, val_fraction: float = 0.2, seed: int = 0, device: str = "cpu"):
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.optimizer = optimizer
        self.patience = patience
        self.activation = activation
        self.dropout = dropout
        self.val_fraction = val_fraction
        self.seed = seed
        self.device = device

    def fit(self, X, y, groups=None, *, validation_data=None) -> "KinematicsEmgRegressor":
        """Fit kinematics ``X`` (n_rows, n_features) → sEMG ``y`` (n_rows, n_muscles); see the class docs."""
        from ..train import derive_seed, torch_seed

        self._validate_params()
        X = _rows(X, "KinematicsEmgRegressor")
        y = np.asarray(y, dtype=float)
        if y.ndim != 2 or len(y) != len(X):
            raise DataError(f"y must be (n_rows, n_muscles) with {len(X)} rows, got shape {y.shape}")
        X, y, Xv, yv = self._split(X, y, groups, validation_data)
        self.x_scaler_ = StandardScaler().fit(X)
        Xs = self.x_scaler_.transform(X)
        Xvs = None if Xv is None else self.x_scaler_.transform(Xv)
        with torch_seed(derive_seed(self.seed, "baseline_init")):
            self.model_ = KinematicsEmgMLP(X.shape[1], y.shape[1], tuple(self.hidden), self.activation, self.dropout)
        self.history_ = self._train(self.model_, Xs, y, Xvs, yv, derive_seed(self.seed, "baseline_fit"))
        return self

    def predict(self, X) -> np.ndarray:
        """sEMG envelopes, shape (n_rows, n_muscles)."""
        self._check_fitted()
        return self._predict_rows(self.model_, X)

    def score(self, X, y, sample_weight=None) -> float:
        """R² of the sEMG prediction over all rows and muscles."""
        return _r2(np.asarray(y, dtype=float), self.predict(X))

    def spec(self) -> dict:
        self._check_fitted()
        return {"sizes": list(self.model_.sizes), "total_parameters": count_parameters(self.model_),
                "best_epoch": self.history_.best_epoch}

    def _fitted_state(self) -> dict[str, Any]:
        return {"sizes": list(self.model_.sizes), "x_scaler": scaler_state(self.x_scaler_)}

    def _restore(self, fitted: dict[str, Any]) -> None:
        sizes = fitted["sizes"]
        self.x_scaler_ = scaler_from_state(fitted["x_scaler"])
        self.model_ = KinematicsEmgMLP(sizes[0], sizes[-1], tuple(sizes[1:-1]), self.activation, self.dropout)
