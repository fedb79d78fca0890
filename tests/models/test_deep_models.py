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


@pytest.mark.parametrize("arch", ["cnn", "hybrid", "cnn_lstm", "hybrid_cnn_lstm"])
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


# ------------------------------------------------------------------ issue 14: mixup, TTA, spectral branch
from myoflow.models.emg_cnn import log_band_power  # noqa: E402
from myoflow.train import augment as augment_mod  # noqa: E402
from myoflow.train.augment import mixup  # noqa: E402


def test_mixup_mixes_shape_and_log_amplitude_and_targets_deterministically():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(32, 2, 64) * torch.logspace(-5, -3, 32)[:, None, None]
    f = torch.randn(32, 5)
    t = torch.nn.functional.one_hot(torch.arange(32) % 4, 4).float()
    x0, f0 = x.clone(), f.clone()
    (xm, fm), tm = mixup([x, f], t, g, alpha=0.4)
    again = mixup([x, f], t, torch.Generator().manual_seed(0), alpha=0.4)
    torch.testing.assert_close(xm, again[0][0])
    torch.testing.assert_close(tm, again[1])
    assert torch.equal(x, x0) and torch.equal(f, f0)                      # never in place
    torch.testing.assert_close(tm.sum(1), torch.ones(32))
    lam = tm.max(1).values
    assert (lam >= 0.5 - 1e-6).all() and (lam < 1).any()                 # folded: own label dominates
    assert torch.equal(tm.argmax(1)[lam > 0.5 + 1e-6], t.argmax(1)[lam > 0.5 + 1e-6])
    # the mixed window's log-RMS lies within the batch's range (exact value: the next test)
    lrms = torch.log(x.pow(2).mean(2).sqrt())
    lm = torch.log(xm.pow(2).mean(2).sqrt())
    assert (lm >= lrms.min() - 1e-4).all() and (lm <= lrms.max() + 1e-4).all()
    # a sample mixed with itself (same RMS, same shape) comes back unchanged: batch of copies
    same = x[:1].repeat(8, 1, 1)
    (xs,), _ = mixup([same], t[:8], g, alpha=1.0)
    torch.testing.assert_close(xs, same, rtol=1e-4, atol=1e-9)
    (x_off,), t_off = mixup([x], t, g, alpha=0.0)
    assert x_off is x and t_off is t
    with pytest.raises(ConfigError):
        mixup([x], t, g, alpha=-1)


def test_mixup_rms_is_the_weighted_geometric_mean():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(2, 1, 256)
    x[1] *= 100.0
    t = torch.eye(2)
    (xm,), tm = mixup([x], t, g, alpha=0.5)
    lam = tm.max(1).values
    rms = x.pow(2).mean(2).sqrt()[:, 0]
    for i in range(2):
        j = 1 - i if lam[i] < 1 else i
        want = lam[i] * torch.log(rms[i]) + (1 - lam[i]) * torch.log(rms[j])
        torch.testing.assert_close(torch.log(xm[i].pow(2).mean().sqrt()), want, rtol=1e-4, atol=1e-4)


def test_mixup_changes_training_batches_only(monkeypatch):
    ep = _cohort()
    calls = []
    real = augment_mod.mixup

    def spy(inputs, target, generator, alpha):
        calls.append((inputs[0].shape[0], target.dtype, target.ndim))
        return real(inputs, target, generator, alpha)

    monkeypatch.setattr(augment_mod, "mixup", spy)
    kw = dict(TINY, epochs=3, val_fraction=0.25, patience=10)
    est = DeepWindowClassifier(**kw, mixup=0.4).fit(ep)
    n_fit = len(ep) - 24                                       # one of 4 subjects held out for validation
    assert len(calls) == 3 * -(-n_fit // 16)                   # every training batch of every epoch, no more
    assert all(b <= 16 and dt == torch.float32 and nd == 2 for b, dt, nd in calls)  # soft (batch, classes) targets
    assert len(est.histories_[0].val_loss) == 3                # validation ran on the unmixed, hard-label windows
    calls.clear()
    plain = DeepWindowClassifier(**kw, mixup=0.0).fit(ep)
    assert not calls                                           # off: never called
    p_mix, p_plain = est.predict_proba(ep), plain.predict_proba(ep)
    assert not np.allclose(p_mix, p_plain)
    np.testing.assert_array_equal(p_mix, DeepWindowClassifier(**kw, mixup=0.4).fit(ep).predict_proba(ep))


@pytest.mark.parametrize("arch", ["cnn", "cnn_lstm", "hybrid", "hybrid_cnn_lstm"])
def test_tta_is_a_shape_preserving_deterministic_average_of_shifted_views(arch):
    ep = _cohort(n_subjects=2, per=16)
    est = DeepWindowClassifier(**TINY, arch=arch, epochs=2, val_fraction=0, max_shift=10).fit(ep)
    p0 = est.predict_proba(ep)
    assert est.set_params(tta=1).predict_proba(ep).tolist() == p0.tolist()
    assert est.tta_shifts(128) == [0] and est.set_params(tta=3).tta_shifts(128) == [-10, 0, 10]
    p3 = est.predict_proba(ep)
    assert p3.shape == p0.shape and np.allclose(p3.sum(1), 1, atol=1e-6)
    np.testing.assert_array_equal(p3, est.predict_proba(ep))
    est.set_params(tta=0)
    views = [np.roll(ep.X, s, axis=2) for s in (-10, 0, 10)]
    if arch.startswith("hybrid"):  # its features are computed on the unshifted window: compare with the module directly
        from myoflow.train import predict_module

        f = est._features(ep.X, ep.fs)
        manual = []
        for v in views:
            lg = predict_module(est.module_[0], [v, f])
            e = np.exp(lg - lg.max(1, keepdims=True))
            manual.append(e / e.sum(1, keepdims=True))
    else:
        manual = [est.predict_proba(v) for v in views]
    np.testing.assert_allclose(p3, np.mean(manual, axis=0), rtol=1e-5, atol=1e-6)
    assert not np.allclose(p3, p0)
    assert DeepWindowClassifier(max_shift=0, tta=5).tta_shifts(500) == [-50, -25, 0, 25, 50]
    with pytest.raises(ConfigError, match="tta"):
        DeepWindowClassifier(**TINY, epochs=1, tta=-1).fit(ep)


@pytest.mark.parametrize("channels,n_times,n_bands", [(1, 500, 64), (3, 128, 8), (2, 1000, 64), (1, 40, 64)])
def test_log_band_power_any_channel_count_and_length(channels, n_times, n_bands):
    z = torch.randn(4, channels, n_times)
    out = log_band_power(z, n_bands)
    assert out.shape == (4, channels * n_bands) and torch.isfinite(out).all()


def test_log_band_power_puts_a_tone_in_its_band():
    fs, n = 1000.0, 500
    t = torch.arange(n) / fs
    for f0 in (60.0, 220.0, 380.0):          # mid-band tones (edges are one bin off: DC is dropped)
        z = torch.sin(2 * np.pi * f0 * t)[None, None, :]
        band = int(log_band_power(z, 10)[0].argmax())
        assert band == int(f0 / (fs / 2) * 10), (f0, band)   # 10 bands of 50 Hz up to Nyquist


@pytest.mark.parametrize("arch", ["cnn", "cnn_lstm", "hybrid", "hybrid_cnn_lstm"])
def test_spectral_branch_every_arch_any_rate_and_round_trip(arch, tmp_path):
    from myoflow.models import load_estimator, save_estimator

    rng = np.random.default_rng(0)
    X = rng.standard_normal((24, 3, 200)).astype(np.float32)
    y = np.repeat(["a", "b"], 12)
    X[y == "b"] += np.sin(2 * np.pi * 300 * np.arange(200) / 2000.0).astype(np.float32)
    est = DeepWindowClassifier(**TINY, arch=arch, epochs=2, val_fraction=0, n_bands=16, mixup=0.4, tta=3,
                               fs=2000.0).fit(X, y)
    module = est.module_[0]
    spec = module.deep.spec if arch.startswith("hybrid") else module.spec
    assert spec[0].in_features == 3 * 16
    p = est.predict_proba(X)
    path = save_estimator(est, tmp_path / "m.safetensors")
    np.testing.assert_array_equal(load_estimator(path).predict_proba(X), p)


def test_recipe_cnn_lstm_default_is_unchanged_by_the_spectral_option():
    torch.manual_seed(0)
    a = RecipeCNNLSTM(4, in_channels=2)
    torch.manual_seed(0)
    b = RecipeCNNLSTM(4, in_channels=2, n_bands=0)
    x = torch.randn(3, 2, 128)
    torch.testing.assert_close(a.eval()(x), b.eval()(x))
    assert not hasattr(a, "spec") and RecipeCNNLSTM(4, n_bands=8).fc2.in_features == 32 + 1 + 32


def test_hybrid_cnn_lstm_uses_the_recipe_cnn_lstm_embedding():
    torch.manual_seed(0)
    net = HybridNet(3, n_features=5, in_channels=2, widths=(4, 8), pools=(2, 2), trunk="cnn_lstm", n_bands=4).eval()
    assert isinstance(net.deep, RecipeCNNLSTM) and net.config["trunk"] == "cnn_lstm"
    x, f = torch.randn(6, 2, 128), torch.randn(6, 5)
    assert net.deep.embed(x).shape == (6, net.deep.embed_dim) == (6, 32 + 2 + 32) and net(x, f).shape == (6, 3)
    rec = RecipeCNNLSTM(3, in_channels=2).eval()                 # forward == head over embed (refactor kept it)
    torch.testing.assert_close(rec(x), rec.out(rec.act(rec.fc2(rec.embed(x)))))
    with pytest.raises(ValueError, match="trunk"):
        HybridNet(3, n_features=5, trunk="transformer")


def _elderly_deep():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "elderly_deep.py"
    spec = importlib.util.spec_from_file_location("elderly_deep_under_test", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod, path.parent / "results"


def test_development_subjects_are_fixed_by_rule_and_never_scored(tmp_path):
    import json

    mod, results = _elderly_deep()
    subjects = [f"{i:02d}" for i in range(1, 31)]
    dev = mod.dev_subjects(subjects[::-1])                       # order of the input does not matter
    assert dev == mod.dev_subjects(subjects) == sorted(dev) and len(dev) == 6 and set(dev) <= set(subjects)
    assert mod.dev_subjects(subjects, seed=15) != dev
    with pytest.raises(SystemExit):
        mod.dev_subjects(subjects[:6])
    with pytest.raises(SystemExit, match="no chosen recipe"):
        mod.load_recipe(tmp_path / "missing.json", "cnn")
    # the shipped dev-protocol results and the selection record agree on the development subjects, none scored
    record = results / "selection" / "deep_recipe_dev.json"
    if not record.exists():
        pytest.skip("no selection record in this checkout")
    assert json.loads(record.read_text())["development_subjects"] == dev
    for f in sorted((results / "elderly_deep_dev").glob("*.json")):
        d = json.loads(f.read_text())
        if f.name == "summary.json":
            continue
        assert d["development_subjects"] == dev and not set(d["per_subject_accuracy"]) & set(dev), f.name
        assert len(d["per_subject_accuracy"]) == 24


def test_lstm_mean_readout_averages_the_lstm_outputs_and_keeps_the_weights():
    torch.manual_seed(0)
    last = RecipeCNNLSTM(4, in_channels=2).eval()
    mean = RecipeCNNLSTM(4, in_channels=2, lstm_pool="mean").eval()
    mean.load_state_dict(last.state_dict())                      # same weights: the readout is the only change
    x = torch.randn(3, 2, 128)
    with torch.no_grad():
        z, amp = __import__("myoflow.models.emg_cnn", fromlist=["x"]).standardize_batch(x)
        seq, (h_last, _) = last.lstm(last.act(last.fc1(last.features(z).transpose(1, 2))))
        torch.testing.assert_close(last.embed(x)[:, :32], h_last[-1])
        torch.testing.assert_close(mean.embed(x)[:, :32], seq.mean(dim=1))
        assert not torch.allclose(last(x), mean(x))
    with pytest.raises(ValueError, match="lstm_pool"):
        RecipeCNNLSTM(4, lstm_pool="max")
    net = HybridNet(3, n_features=5, trunk="cnn_lstm", lstm_pool="mean")
    assert net.deep.lstm_pool == "mean" and net.config["lstm_pool"] == "mean"


def test_nested_cnn_lstm_candidates_come_from_the_dev_record_and_are_chosen_on_training_subjects(tmp_path):
    import json

    mod, results = _elderly_deep()
    record = results / "selection" / "deep_recipe_dev.json"
    if not record.exists():
        pytest.skip("no selection record in this checkout")
    grid = mod.nested_grid(record, "cnn_lstm_nested")
    chosen = json.loads(record.read_text())["chosen"]
    assert grid[0] == chosen["cnn_lstm"] and grid[1] == chosen["hybrid"]          # the standing recipe wins ties
    assert [g["n_seeds"] for g in grid] == [1, 1, 3, 3]
    with pytest.raises(SystemExit, match="needs --recipe"):
        mod._estimator("cnn_lstm_nested", 30, 0, None)
    out = results / "elderly_deep_dev" / "cnn_lstm_nested.json"
    if out.exists():  # the scored record: per outer fold, chosen among the grid on that fold's training subjects
        d = json.loads(out.read_text())
        for fold in d["nested"]["folds"]:
            assert fold["chosen"] in grid
            assert not set(fold["chosen_on_subjects"]) & set(fold["test_subjects"])
            assert len(fold["inner_scores"]) == len(grid)
