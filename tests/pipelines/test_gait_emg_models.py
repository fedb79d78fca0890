"""Seed-002 MLPs: parameter counts match the configuration; fine-tuning respects frozen layers."""
from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from myoflow.errors import ConfigError
from myoflow.models.gait_mlp import (
    KinematicsEmgMLP,
    KinematicsEmgRegressor,
    TorqueBasedEmgRegressor,
    TorqueBasedEmgMLP,
    TorqueMLP,
    count_parameters,
    mlp_parameter_count,
)


def test_default_parameter_counts_match_paper(caplog):
    with caplog.at_level(logging.INFO, logger="myoflow.models.gait_mlp"):
        tm = TorqueMLP(6, 9)
        tb = TorqueBasedEmgMLP(tm, added_hidden=152, n_muscles=7)
        bl = KinematicsEmgMLP(6, 7)
    assert tb.added_layer_parameters == 15_200          # the paper's added hidden layer
    assert count_parameters(bl) == 15_572                # paper: 15,575
    assert count_parameters(tm) == mlp_parameter_count([6, 128, 99, 9])
    assert count_parameters(tb) == count_parameters(tm) + 15_200 + (152 + 1) * 7
    assert "15200" in caplog.text.replace(",", "") and "15572" in caplog.text


@pytest.mark.parametrize("inp,hidden,added,head", [(3, (64,), 40, "hidden"), (9, (32, 16, 8), 100, "torques")])
def test_counts_follow_configuration(inp, hidden, added, head):
    tm = TorqueMLP(inp, 6, hidden)
    tb = TorqueBasedEmgMLP(tm, added_hidden=added, n_muscles=7, head_input=head)
    width = hidden[-1] if head == "hidden" else 6
    assert tb.added_layer_parameters == (width + 1) * added
    assert count_parameters(tb) == mlp_parameter_count([inp, *hidden, 6]) + (width + 1) * added + (added + 1) * 7
    bl = KinematicsEmgMLP(inp, 7, hidden)
    assert count_parameters(bl) == mlp_parameter_count([inp, *hidden, 7])
    out = tb(torch.zeros(5, inp))
    assert out.shape == (5, 7)


def test_bad_configuration():
    with pytest.raises(ConfigError):
        TorqueMLP(6, 9, hidden=())
    with pytest.raises(ConfigError):
        TorqueBasedEmgMLP(TorqueMLP(6, 9), head_input="angles")
    bad = TorqueBasedEmgRegressor(finetune="sometimes")  # __init__ only stores (scikit-learn contract)
    X, T, E = _toy(20)
    with pytest.raises(ConfigError, match="finetune"):
        bad.fit(X, np.hstack([E, T]))


def _toy(n=600, seed=0):
    """Rows where torques are a smooth function of the inputs and EMG a function of the torques."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6))
    T = np.column_stack([np.tanh(X[:, 0] + X[:, 1]), X[:, 2] * X[:, 3], np.sin(X[:, 4]), X[:, 5] ** 2])
    E = np.column_stack([np.maximum(T[:, 0], 0), np.maximum(-T[:, 0], 0), np.abs(T[:, 1]), T[:, 2] ** 2,
                         np.maximum(T[:, 3] - 1, 0), 0.5 * T[:, 0] + 0.2, np.abs(T[:, 2])])
    return X, T, E


def _kw(**extra):
    return dict(torque_hidden=(32, 24), added_hidden=16, epochs=6, torque_epochs=8, batch_size=64, lr=3e-3,
                patience=50, seed=3, **extra)


def _torque_weights(est):
    return {k: v.detach().clone() for k, v in est.torque_model_.state_dict().items()}


def test_frozen_finetuning_leaves_torque_layers_unchanged():
    X, T, E = _toy()
    est = TorqueBasedEmgRegressor(finetune="frozen", **_kw()).fit(
        X[:500], np.hstack([E[:500], T[:500]]), validation_data=(X[500:], np.hstack([E[500:], T[500:]])))
    after = _torque_weights(est)
    for k, v in est.torque_state_after_stage1_.items():
        assert torch.equal(v, after[k]), k
    # ...while the new layers did train, and the requires_grad flags are restored
    assert est.history_.train_loss[-1] < est.history_.train_loss[0]
    assert all(p.requires_grad for p in est.model_.parameters())


def test_full_and_low_lr_finetuning_move_torque_layers():
    X, T, E = _toy()
    drift = {}
    for mode in ("full", "low_lr"):
        est = TorqueBasedEmgRegressor(finetune=mode, finetune_lr_ratio=0.05, **_kw()).fit(X, np.hstack([E, T]))
        after = _torque_weights(est)
        drift[mode] = max(float((est.torque_state_after_stage1_[k] - after[k]).abs().max()) for k in after)
    assert drift["full"] > 0 and drift["low_lr"] > 0
    assert drift["low_lr"] < drift["full"]


def test_estimators_learn_and_are_deterministic():
    X, T, E = _toy(900, seed=1)
    kw = _kw()
    kw.update(epochs=25, torque_epochs=25)
    a = TorqueBasedEmgRegressor(**kw).fit(X[:700], np.hstack([E[:700], T[:700]]))
    b = TorqueBasedEmgRegressor(**kw).fit(X[:700], np.hstack([E[:700], T[:700]]))
    np.testing.assert_array_equal(a.predict(X[700:]), b.predict(X[700:]))
    assert a.score(X[700:], E[700:]) > 0.5
    tq = a.predict_torques(X[700:])
    assert tq.shape == (200, 4)
    assert np.corrcoef(tq[:, 0], T[700:, 0])[0, 1] > 0.9
    base = KinematicsEmgRegressor(hidden=(32, 24), epochs=25, batch_size=64, lr=3e-3, seed=3).fit(X[:700], E[:700])
    assert base.score(X[700:], E[700:]) > 0.3
    assert base.spec()["total_parameters"] == mlp_parameter_count([6, 32, 24, 7])
