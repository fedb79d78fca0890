"""Issue 19 speed-ups of the muscle-id CNN-LSTM: every one must leave the numbers bit for bit unchanged."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from myoflow.containers import Epochs
from myoflow.models import conv_autoencoder
from myoflow.models.cnn_lstm import EVAL_BATCH, CNNLSTM, CNNLSTMClassifier, MaxPoolReshape
from myoflow.models.conv_autoencoder import pretrain_conv_layers
from myoflow.train.engine import fit_module


@pytest.mark.parametrize("length", [500, 125, 131])
def test_reshape_max_pool_equals_maxpool1d_values_and_gradients(length):
    torch.manual_seed(0)
    # after a ReLU, as in the model: many exact zeros (ties) and positive values
    x = torch.relu(torch.randn(5, 16, length))
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    ya, yb = torch.nn.MaxPool1d(4)(a), MaxPoolReshape(4)(b)
    assert ya.shape == yb.shape and torch.equal(ya, yb)
    g = torch.randn_like(ya)
    (ya * g).sum().backward()
    (yb * g).sum().backward()
    assert torch.equal(a.grad, b.grad)
    # positive ties: the gradient goes to the first maximum, as MaxPool1d sends it
    t1, t2 = torch.ones(1, 1, 8, requires_grad=True), torch.ones(1, 1, 8, requires_grad=True)
    torch.nn.MaxPool1d(4)(t1).sum().backward()
    MaxPoolReshape(4)(t2).sum().backward()
    assert torch.equal(t1.grad, t2.grad)


def test_chunked_forward_gives_the_same_logits_as_one_forward():
    torch.manual_seed(1)
    m = CNNLSTM(4, pool=4).eval()
    x = torch.randn(3 * EVAL_BATCH + 17, 1, 500)
    with torch.no_grad():
        whole = m(x)
        chunked = torch.cat([m(x[s:s + EVAL_BATCH]) for s in range(0, len(x), EVAL_BATCH)])
    assert torch.equal(whole, chunked)


def _toy(n=240, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 1, 200)).astype(np.float32)
    y = rng.integers(0, 3, n)
    X[y == 1] *= 2.0
    return X, y


def test_chunked_validation_and_on_validation_hook_change_nothing():
    X, y = _toy()

    def run(val_batch_size, hook=None):
        torch.manual_seed(0)
        m = CNNLSTM(3, pool=4, kernel_sizes=(5, 3))
        h = fit_module(m, [X[:160]], y[:160], torch.nn.functional.cross_entropy, val_inputs=[X[160:]],
                       val_target=y[160:], epochs=4, batch_size=32, patience=None, seed=0,
                       val_batch_size=val_batch_size, on_validation=hook)
        return m, h

    m0, h0 = run(None)
    seen = []
    m1, h1 = run(7, lambda out, target: seen.append((out.shape, len(target))))
    assert h0.val_loss == h1.val_loss and h0.train_loss == h1.train_loss
    assert all(torch.equal(a, b) for a, b in zip(m0.state_dict().values(), m1.state_dict().values()))
    # one call per epoch with the outputs of the whole validation set
    assert seen == [((80, 3), 80)] * 4


def test_validation_accuracy_comes_from_the_validation_pass():
    X, y = _toy(300)
    labels = np.array(["a", "b", "c"])[y]
    md = pd.DataFrame({"subject": [f"S{i % 5}" for i in range(len(y))], "unit": np.arange(len(y)) // 3})
    ep = Epochs(X=X, fs=1000.0, ch_names=["emg"], metadata=md, y=labels)
    calls = {"n": 0}
    clf = CNNLSTMClassifier(epochs=5, patience=10, val_group="subject", kernel_sizes=(5, 3), seed=2)
    original = clf._logits

    def counting(Xs):
        calls["n"] += 1
        return original(Xs)

    clf._logits = counting
    clf.fit(ep)
    assert calls["n"] == 0  # no second forward over the validation windows per epoch
    assert len(clf.val_accuracy_) == len(clf.history_.val_loss) == 5
    # the accuracy at the best epoch is that of the restored (best) weights on the validation subjects
    from myoflow.evaluate.splitters import inner_validation_split
    from myoflow.train import derive_seed

    _, val_idx = inner_validation_split(md, np.arange(len(y)), fraction=0.2, seed=derive_seed(2, "validation"),
                                        group="subject", y=labels)
    acc = float((clf.predict(X[val_idx]) == labels[val_idx]).mean())
    assert clf.val_accuracy_[clf.history_.best_epoch] == pytest.approx(acc, abs=0)


def test_chunked_encoding_for_the_next_autoencoder_changes_nothing(monkeypatch):
    X, _ = _toy(90)

    def pretrained(chunk):
        monkeypatch.setattr(conv_autoencoder, "_ENCODE_CHUNK", chunk)
        torch.manual_seed(0)
        m = CNNLSTM(3, pool=4, kernel_sizes=(5, 3))
        hist = pretrain_conv_layers(m.conv_layers, X, between=m.pool, activation=m.act, epochs=2, batch_size=16,
                                    seed=4)
        return [c.weight.detach().clone() for c in m.conv_layers], hist

    w0, h0 = pretrained(10_000)
    w1, h1 = pretrained(7)
    assert h0 == h1 and all(torch.equal(a, b) for a, b in zip(w0, w1))


def test_device_reaches_the_autoencoder_pretraining_and_the_training(monkeypatch):
    """GPU path without a GPU: with torch reporting CUDA, ``device: auto`` must reach both the greedy
    autoencoder pretraining (it used to stay on the CPU) and the supervised training."""
    import myoflow.models.conv_autoencoder as ca
    import myoflow.train as train

    seen = {}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(ca, "pretrain_conv_layers", lambda *a, **k: seen.setdefault("ae", k["device"]) and [])

    def fake_fit(module, inputs, target, loss_fn, **k):
        seen["fit"] = k["device"]
        raise RuntimeError("stop")

    monkeypatch.setattr(train, "fit_module", fake_fit)
    X, y = _toy(60)
    clf = CNNLSTMClassifier(pretrain=True, epochs=1, val_fraction=0, kernel_sizes=(5, 3), device="auto")
    with pytest.raises(RuntimeError, match="stop"):
        clf.fit(X, np.array(["a", "b", "c"])[y])
    assert seen == {"ae": "cuda", "fit": "auto"}  # fit_module resolves "auto" itself (to cuda here)


def test_in_place_relu_trains_bit_identically():
    X, y = _toy(96)
    x, t = torch.as_tensor(X), torch.as_tensor(y)

    def train(inplace):
        torch.manual_seed(0)
        m = CNNLSTM(3, pool=4, kernel_sizes=(5, 3))
        assert m.act.inplace
        m.act = torch.nn.ReLU(inplace=inplace)
        opt = torch.optim.Adam(m.parameters(), 1e-3)
        for s in range(0, 96, 32):
            loss = torch.nn.functional.cross_entropy(m(x[s:s + 32]), t[s:s + 32])
            opt.zero_grad()
            loss.backward()
            opt.step()
        return m.state_dict()

    a, b = train(False), train(True)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_channels_per_epoch_draws_k_windows_per_burst_and_default_is_unchanged():
    X, y = _toy(240)
    labels = np.array(["a", "b", "c"])[y]
    md = pd.DataFrame({"subject": [f"S{i % 5}" for i in range(240)], "burst_key": np.arange(240) // 4,
                       "window": 0})
    ep = Epochs(X=X, fs=1000.0, ch_names=["emg"], metadata=md, y=labels)
    clf = CNNLSTMClassifier(epochs=2, kernel_sizes=(5, 3), channels_per_epoch=2, val_fraction=0, seed=0)
    groups = np.arange(240) // 4
    gen = torch.Generator().manual_seed(0)

    class _State:
        generator = gen

    sub = clf._epoch_subset(groups)(_State())
    counts = np.bincount(groups[sub], minlength=60)
    assert (counts == 2).all() and len(np.unique(sub)) == len(sub)
    assert not np.array_equal(sub, clf._epoch_subset(groups)(_State()))  # a fresh draw every epoch
    # fits, is deterministic, and differs from training on every window
    a = CNNLSTMClassifier(epochs=2, kernel_sizes=(5, 3), channels_per_epoch=2, val_fraction=0, seed=0).fit(ep)
    b = CNNLSTMClassifier(epochs=2, kernel_sizes=(5, 3), channels_per_epoch=2, val_fraction=0, seed=0).fit(ep)
    full = CNNLSTMClassifier(epochs=2, kernel_sizes=(5, 3), val_fraction=0, seed=0).fit(ep)
    assert np.array_equal(a.predict_proba(ep), b.predict_proba(ep))
    assert not np.array_equal(a.predict_proba(ep), full.predict_proba(ep))
    with pytest.raises(Exception, match="burst_key"):
        CNNLSTMClassifier(epochs=1, channels_per_epoch=2, val_fraction=0).fit(X, labels)
    # k at least the group size (e.g. 4 of 4 channels): nothing is thinned, identical to None
    same = CNNLSTMClassifier(epochs=2, kernel_sizes=(5, 3), channels_per_epoch=4, val_fraction=0, seed=0).fit(ep)
    assert np.array_equal(same.predict_proba(ep), full.predict_proba(ep))
    # windows of one tiled recording (same burst, different window positions) are not channels: not thinned
    tiled = ep.replace(metadata=md.assign(window=np.arange(240) % 4))
    t = CNNLSTMClassifier(epochs=2, kernel_sizes=(5, 3), channels_per_epoch=2, val_fraction=0, seed=0).fit(tiled)
    assert np.array_equal(t.predict_proba(ep), full.predict_proba(ep))
