"""EMG CNN, hybrid and recipe CNN-LSTM: shapes, gain invariance, learning, determinism, bad input."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from myoflow.containers import Epochs  # noqa: E402
from myoflow.errors import ConfigError, DataError  # noqa: E402
from myoflow.models.cnn_lstm import CNNLSTM  # noqa: E402
from myoflow.models.cnn_lstm_recipe import RecipeCNNLSTM  # noqa: E402
from myoflow.models.deep_classifier import DeepWindowClassifier  # noqa: E402
from myoflow.models.emg_cnn import EMGCNN  # noqa: E402
from myoflow.models.hybrid import HybridNet  # noqa: E402

TINY = dict(widths=(4, 8), pools=(2, 2), hidden=8, batch_size=16)


def _cohort(n_subjects=4, per=24, t=128, seed=0):
    """Two 'muscles' differing in spectrum; amplitude varies ten-fold between subjects."""
    rng = np.random.default_rng(seed)
    subjects = np.repeat([f"s{i}" for i in range(n_subjects)], per)
    y = np.tile(np.repeat(["BB", "TA"], per // 2), n_subjects)
    gain = np.repeat(10 ** rng.uniform(-5, -4, n_subjects), per)[:, None]
    f = np.where(y == "BB", 60.0, 220.0)[:, None] * rng.uniform(0.9, 1.1, (len(y), 1))
    tt = np.arange(t) / 1000.0
    X = gain * (np.sin(2 * np.pi * f * tt + rng.uniform(0, 6, (len(y), 1))) + 0.5 * rng.standard_normal((len(y), t)))
    md = pd.DataFrame({"subject": subjects, "recording": [f"{s}/{m}" for s, m in zip(subjects, y)]})
    return Epochs(X=X[:, None, :].astype(np.float32), fs=1000.0, ch_names=["emg"], metadata=md, y=y)


def test_shapes_and_embedding():
    x = torch.randn(5, 3, 128)
    net = EMGCNN(4, in_channels=3, widths=(4, 8), pools=(2, 2), n_bands=6).eval()
    assert net(x).shape == (5, 4) and net.embed(x).shape == (5, net.embed_dim)
    hyb = HybridNet(4, n_features=10, in_channels=3, widths=(4, 8), pools=(2, 2)).eval()
    assert hyb(x, torch.randn(5, 10)).shape == (5, 4)
    rec = RecipeCNNLSTM(4, in_channels=3).eval()
    assert isinstance(rec, CNNLSTM) and rec(x).shape == (5, 4)
    with pytest.raises(ValueError):
        EMGCNN(1)


@pytest.mark.parametrize("make", [
    lambda: EMGCNN(3, widths=(4, 8), pools=(2, 2), use_amp=False),
    lambda: RecipeCNNLSTM(3, use_amp=False),
])
def test_without_amplitude_input_the_output_is_gain_invariant(make):
    net = make().eval()
    x = torch.randn(6, 1, 128) * 1e-4
    torch.testing.assert_close(net(x), net(10 * x), atol=1e-4, rtol=1e-4)


def test_with_amplitude_input_a_gain_changes_the_output():
    net = EMGCNN(3, widths=(4, 8), pools=(2, 2), use_amp=True).eval()
    x = torch.randn(6, 1, 128)
    assert not torch.allclose(net(x), net(10 * x), atol=1e-3)


@pytest.mark.parametrize("arch", ["cnn", "hybrid", "cnn_lstm"])
def test_classifier_learns_on_held_out_subjects_and_is_deterministic(arch):
    ep = _cohort()
    test = ep.metadata["subject"].isin(["s3"]).to_numpy()
    kw = dict(TINY, arch=arch, epochs=15, lr=1e-2, val_fraction=0.34, patience=15, max_shift=8, noise=0.05)
    est = DeepWindowClassifier(**kw).fit(ep[~test])
    acc = float(np.mean(est.predict(ep[test]) == ep.y[test]))
    assert acc >= 0.8, acc
    assert est.histories_[0].val_loss          # early stopping on held-out training subjects ran
    p = est.predict_proba(ep[test])
    np.testing.assert_allclose(p.sum(1), 1, atol=1e-5)
    again = DeepWindowClassifier(**kw).fit(ep[~test]).predict_proba(ep[test])
    np.testing.assert_array_equal(p, again)


def test_ensemble_and_bad_input(caplog):
    ep = _cohort(n_subjects=2, per=16)
    est = DeepWindowClassifier(**TINY, epochs=2, n_seeds=2, val_fraction=0).fit(ep)
    assert len(est.members_) == 2
    with pytest.raises(DataError, match="single class"):
        DeepWindowClassifier(**TINY, epochs=1, val_fraction=0).fit(ep.X, np.full(len(ep), "BB"))
    with pytest.raises(ConfigError, match="unknown arch"):
        DeepWindowClassifier(arch="transformer").fit(ep)
    with pytest.raises(ConfigError, match="sampling rate"):
        DeepWindowClassifier(**TINY, arch="hybrid", epochs=1, val_fraction=0).fit(ep.X, ep.y)
    with caplog.at_level("WARNING", logger="myoflow.models.deep_classifier"):
        DeepWindowClassifier(**TINY, epochs=1, val_fraction=0.2).fit(ep.X, ep.y)
    assert "plain array and no groups" in caplog.text
    est = DeepWindowClassifier(**TINY, epochs=1, val_fraction=0.5).fit(ep.X, ep.y, groups=ep.metadata["subject"])
    assert len(est.histories_[0].val_loss) == 1 and len(est.val_accuracy_[0]) == 1
    bad = ep.X.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(DataError, match="non-finite"):
        est.predict(bad)
