"""The one training engine (myoflow.train.fit / fit_module): determinism, early stopping, options."""
from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from myoflow.errors import ConfigError  # noqa: E402
from myoflow.train import LogisticWeight, fit, fit_module, torch_seed  # noqa: E402


def _data(n=200, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)).astype(np.float32)
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int64)
    return X, y


def _net(seed=0):
    with torch_seed(seed):
        return torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))


CE = torch.nn.functional.cross_entropy


def test_same_seed_same_weights_and_history():
    X, y = _data()
    a, b = _net(), _net()
    ha = fit_module(a, [X], y, CE, epochs=5, batch_size=32, seed=3)
    hb = fit_module(b, [X], y, CE, epochs=5, batch_size=32, seed=3)
    assert ha.train_loss == hb.train_loss
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    c = _net()
    hc = fit_module(c, [X], y, CE, epochs=5, batch_size=32, seed=4)
    assert hc.train_loss != ha.train_loss  # the batch order follows the seed
    assert ha.train_loss[-1] < ha.train_loss[0]


def test_early_stopping_restores_the_best_epoch():
    X, y = _data()
    Xv, yv = _data(80, seed=1)
    yv = 1 - yv  # validation labels flipped: the validation loss rises as the model learns
    net = _net()
    hist = fit_module(net, [X], y, CE, val_inputs=[Xv], val_target=yv, epochs=40, batch_size=32, lr=1e-2,
                      patience=3, seed=0)
    assert hist.stopped_early and len(hist.val_loss) < 40
    assert hist.best_epoch == int(np.argmin(hist.val_loss))
    with torch.no_grad():
        restored = float(CE(net(torch.as_tensor(Xv)), torch.as_tensor(yv)))
    assert restored == pytest.approx(min(hist.val_loss), rel=1e-6)


def test_cosine_schedule_clipping_and_callbacks():
    X, y = _data()
    net = _net()
    seen = []

    class Probe:
        def on_epoch_start(self, state):
            seen.append(state.weights["kl"])

    def loss(batch, state):
        return CE(net(batch[0]), batch[1]) + 0.0 * state.weights["kl"]

    hist = fit(net, [X, y], loss, epochs=6, batch_size=50, lr=1e-2, schedule="cosine", schedule_floor=0.1,
               grad_clip=0.01, callbacks=[LogisticWeight("kl", 2.0, 4), Probe()], patience=None)
    assert hist.lr[0] == pytest.approx(1e-2) and hist.lr[-1] < hist.lr[0]
    assert min(hist.lr) >= 1e-3 - 1e-12
    expected = [2.0 / (1 + math.exp(-10 * (e / 4 - 0.5))) for e in range(6)]
    assert seen == pytest.approx(expected)
    with pytest.raises(ConfigError, match="schedule"):
        fit(net, [X, y], loss, epochs=1, schedule="step")


def test_bad_inputs_are_config_errors():
    X, y = _data()
    with pytest.raises(ConfigError, match="no training samples"):
        fit_module(_net(), [X[:0]], y[:0], CE)
    with pytest.raises(ConfigError, match="differ in length"):
        fit(_net(), [X, y[:10]], lambda b, s: CE(b[0], b[1]))
    with pytest.raises(ConfigError, match="optimizer"):
        fit_module(_net(), [X], y, CE, optimizer="lbfgs")


def test_batch_hook_runs_on_training_batches_only_and_min_batch_skips():
    """The hook (augmentation) sees every training batch and no validation or prediction input."""
    X, y = _data(n=65)
    seen = []

    def hook(batch, state):
        seen.append(len(batch[0]))
        assert torch.is_grad_enabled()  # never inside the no-grad validation pass
        return [batch[0] + 0.01 * torch.randn(batch[0].shape, generator=state.generator), *batch[1:]]

    h = fit_module(_net(), [X], y, CE, val_inputs=[X[:10]], val_target=y[:10], epochs=2, batch_size=16,
                   batch_hook=hook, min_batch=2, patience=None)
    assert seen == [16, 16, 16, 16] * 2  # the trailing batch of 1 is skipped (batch norm needs 2)
    assert len(h.val_loss) == 2
    seen.clear()
    fit_module(_net(), [X], y, CE, epochs=1, batch_size=16)
    assert seen == []


def test_onecycle_schedule_peaks_mid_run():
    X, y = _data()
    h = fit_module(_net(), [X], y, CE, epochs=6, batch_size=50, lr=0.1, schedule="onecycle")
    assert h.lr[0] < max(h.lr) and h.lr[-1] < max(h.lr) and max(h.lr) <= 0.1 + 1e-9


def test_alternate_step_trains_a_second_player_on_the_same_batches():
    from myoflow.train import AlternateStep

    X, y = _data()
    net = _net()
    with torch_seed(1):
        critic = torch.nn.Linear(2, 1)  # a second player: regresses the net's (detached) logits sum on 0
    seen = []

    def critic_loss(batch, state):
        seen.append(len(batch[0]))
        with torch.no_grad():
            logits = net(batch[0])
        return torch.mean((critic(logits) - 1.0) ** 2)

    def loss(batch, state):
        return CE(net(batch[0]), batch[1]) + 0.1 * torch.mean(critic(net(batch[0])) ** 2)

    before = [p.detach().clone() for p in critic.parameters()]
    hist = fit(net, [X, y], loss, epochs=3, batch_size=50, lr=1e-2, seed=0,
               alternate=[AlternateStep(critic.parameters(), critic_loss, lr=1e-2, betas=(0.5, 0.999), name="critic")])
    assert seen == [50] * 12  # stepped once on every training batch, before the main loss
    curve = hist.alternate_loss["critic"]
    assert len(curve) == 3 and curve[-1] < curve[0]
    assert any(not torch.equal(a, b) for a, b in zip(before, critic.parameters()))
    # same seed, same weights of both players
    net2 = _net()
    with torch_seed(1):
        critic2 = torch.nn.Linear(2, 1)
    step2 = AlternateStep(critic2.parameters(), lambda b, s: torch.mean((critic2(net2(b[0]).detach()) - 1.0) ** 2),
                          lr=1e-2, betas=(0.5, 0.999), name="critic")
    fit(net2, [X, y], lambda b, s: CE(net2(b[0]), b[1]) + 0.1 * torch.mean(critic2(net2(b[0])) ** 2), epochs=3,
        batch_size=50, lr=1e-2, seed=0, alternate=[step2])
    assert all(torch.equal(p, q) for p, q in zip(net.parameters(), net2.parameters()))
    assert all(torch.equal(p, q) for p, q in zip(critic.parameters(), critic2.parameters()))
