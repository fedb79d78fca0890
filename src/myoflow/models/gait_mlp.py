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

Parameter counts are logged on construction and checked by the tests against
:func:`mlp_parameter_count`.
"""
from __future__ import annotations

import logging
from typing import Iterable, Literal, Sequence

import torch
from torch import nn

from ..errors import ConfigError

__all__ = [
    "TorqueMLP",
    "TorqueBasedEmgMLP",
    "KinematicsEmgMLP",
    "count_parameters",
    "mlp_parameter_count",
    "make_mlp",
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
