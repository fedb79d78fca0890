"""The burst representation for grids: a burst's channels as one sample (models/grid_burst.py)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from myoflow.containers import Epochs  # noqa: E402
from myoflow.errors import DataError  # noqa: E402
from myoflow.models.deep_classifier import DeepWindowClassifier  # noqa: E402
from myoflow.models.grid_burst import BurstCNNLSTMClassifier, BurstDeepClassifier, burst_samples  # noqa: E402
from myoflow.preprocess import channels_as_samples  # noqa: E402

TINY = dict(arch="cnn", widths=(8, 8), pools=(2, 2), hidden=16, batch_size=16, epochs=25, lr=5e-3,
            val_fraction=0.0, n_bands=0)


def _grid(n_channels=8, per_class=40, t=64, seed=0):
    """Two classes that differ ONLY in the spatial amplitude pattern across the grid.

    Class A's amplitude rises along the grid, class B's falls; every channel alone sees the same
    set of amplitudes in both classes (channel c of A has the gain of channel C-1-c of B), so a
    model of one channel at a time has nothing to go on, a model of the whole burst does.
    """
    rng = np.random.default_rng(seed)
    n = 2 * per_class
    y = np.repeat(["A", "B"], per_class)
    ramp = np.linspace(0.3, 3.0, n_channels)
    gains = np.where((y == "A")[:, None], ramp[None, :], ramp[::-1][None, :])
    gains = gains * rng.uniform(0.7, 1.3, (n, 1))  # burst-to-burst effort
    X = (gains[:, :, None] * rng.standard_normal((n, n_channels, t))).astype(np.float32)
    md = pd.DataFrame({"subject": np.tile(["s0", "s1"], per_class), "burst_key": [f"b{i}" for i in range(n)],
                       "window": 0, "unit": [f"b{i}" for i in range(n)]})
    ep = Epochs(X=X, fs=1000.0, ch_names=[f"ch{c:02d}" for c in range(n_channels)], metadata=md, y=y)
    return channels_as_samples(ep)


def _split(flat, frac=0.75):
    keys = flat.metadata["burst_key"].to_numpy()
    uniq = pd.unique(keys)
    rng = np.random.default_rng(3)
    train_keys = set(rng.permutation(uniq)[: int(frac * len(uniq))])
    tr = np.flatnonzero([k in train_keys for k in keys])
    te = np.flatnonzero([k not in train_keys for k in keys])
    return flat[tr], flat[te]


def test_burst_samples_regroups_and_maps_rows_back():
    flat = _grid(n_channels=8, per_class=5)
    perm = np.random.default_rng(0).permutation(len(flat))
    shuffled = flat[perm]
    samples, rows = burst_samples(shuffled)
    assert samples.X.shape == (10, 8, 64) and len(rows) == len(shuffled)
    # every row is the channel of the sample it maps to
    ch = shuffled.metadata["channel"].astype(str).to_numpy()
    for i in range(len(shuffled)):
        j = list(samples.ch_names).index(ch[i])
        np.testing.assert_array_equal(samples.X[rows[i], j], shuffled.X[i, 0])
    with pytest.raises(DataError, match="not in the training layout"):
        burst_samples(shuffled, layout=[f"ch{c:02d}" for c in range(4)])


def test_burst_model_sees_the_spatial_pattern_a_channel_model_cannot():
    train, test = _split(_grid())
    burst = BurstDeepClassifier(**TINY, seed=0).fit(train)
    acc_burst = float(np.mean(burst.predict(test) == test.y))
    chan = DeepWindowClassifier(**TINY, seed=0).fit(train)
    acc_chan = float(np.mean(chan.predict(test) == test.y))
    assert acc_burst >= 0.9, acc_burst
    assert acc_chan <= 0.7, acc_chan
    # one prediction per burst, given to each of its rows
    p = burst.predict_proba(test)
    frame = pd.DataFrame(p).assign(k=test.metadata["burst_key"].to_numpy())
    assert (frame.groupby("k").nunique().drop(columns=[], errors="ignore") == 1).all().all()


@pytest.mark.parametrize("n_channels", [8, 64])
def test_any_grid_size_and_a_save_load_round_trip(tmp_path, n_channels):
    from myoflow.models import load_estimator, save_estimator

    train, test = _split(_grid(n_channels=n_channels, per_class=8))
    est = BurstDeepClassifier(**{**TINY, "epochs": 2}, seed=1).fit(train)
    assert est.module_[0].amp_mean.numel() == n_channels
    p = est.predict_proba(test)
    back = load_estimator(save_estimator(est, tmp_path / "m.safetensors"))
    assert isinstance(back, BurstDeepClassifier) and back.channel_layout_ == est.channel_layout_
    np.testing.assert_allclose(back.predict_proba(test), p, atol=1e-6)
    # a recording with fewer channels than the model was trained on: one-line error, no traceback from torch
    fewer = test[np.flatnonzero(test.metadata["channel"].astype(str) != est.channel_layout_[-1])]
    with pytest.raises(DataError, match="trained on"):
        est.predict_proba(fewer)


def test_paper_cnn_lstm_on_bursts_with_pretraining_is_deterministic():
    train, test = _split(_grid(n_channels=8, per_class=8))
    kw = dict(pretrain=True, conv_channels=(4, 8), fc_size=8, lstm_hidden=8, head_size=8, epochs=2, ae_epochs=1,
              batch_size=8, val_fraction=0.25, val_group="unit", channels_per_epoch=4, seed=2)
    a = BurstCNNLSTMClassifier(**kw).fit(train)
    b = BurstCNNLSTMClassifier(**kw).fit(train)
    assert a.module_.config["in_channels"] == 8
    np.testing.assert_array_equal(a.predict_proba(test), b.predict_proba(test))
