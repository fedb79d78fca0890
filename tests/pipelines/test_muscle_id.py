"""Seed 001 pipeline: CNN-LSTM, autoencoder pretraining, features, splits, summaries."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import signal

from myoflow.config import from_dict
from myoflow.containers import Epochs, Recording
from myoflow.errors import ConfigError
from myoflow.models.cnn_lstm import CNNLSTM
from myoflow.models.conv_autoencoder import pretrain_conv_layers
from myoflow.pipelines.muscle_id.config import MuscleIdConfig
from myoflow.models.cnn_lstm import CNNLSTMClassifier
from myoflow.models.feature_classifier import FeatureClassifier
from myoflow.features import CLASSIC_FEATURE_NAMES as FEATURE_NAMES, classic_features
from myoflow.pipelines.muscle_id.summary import burst_votes, cluster_bootstrap_accuracy, collapse_predictions


def _emg_like(n: int, rng: np.random.Generator, pole: float = 0.5, length: int = 500) -> np.ndarray:
    return signal.lfilter([1.0], [1.0, -pole], rng.standard_normal((n, 1, length)), axis=-1).astype(np.float32)


def _epochs(n_per_class: int = 40, seed: int = 0) -> Epochs:
    """Two easily separable 'muscles' (different spectra), 4 subjects, 4 channels per burst."""
    rng = np.random.default_rng(seed)
    X = np.concatenate([_emg_like(n_per_class, rng, 0.2), 3.0 * _emg_like(n_per_class, rng, 0.8)])
    y = np.array(["A"] * n_per_class + ["B"] * n_per_class)
    md = pd.DataFrame({"subject": [f"S{i % 4}" for i in range(len(y))],
                       "unit": [f"u{i // 4}" for i in range(len(y))]})
    return Epochs(X=X, fs=1000.0, ch_names=["emg"], metadata=md, y=y)


# ------------------------------------------------------------------ models
def test_cnnlstm_output_shape_softmax_and_sizes():
    net = CNNLSTM(n_classes=4, conv_channels=(8, 12), kernel_sizes=(7, 3), pool=4, fc_size=10, lstm_hidden=6)
    x = torch.randn(5, 1, 500)
    logits = net(x)
    assert logits.shape == (5, 4)
    p = net.predict_proba(x)
    assert torch.allclose(p.sum(1), torch.ones(5), atol=1e-6) and (p >= 0).all()
    assert net.conv1.out_channels == 8 and net.conv2.out_channels == 12 and net.lstm.hidden_size == 6
    assert net.features(x).shape == (5, 12, 500 // 16)
    with pytest.raises(ValueError):
        CNNLSTM(n_classes=1)


def test_greedy_pretraining_writes_weights_and_reconstruction_loss_falls():
    rng = np.random.default_rng(1)
    X = _emg_like(128, rng, 0.7)
    X /= X.std()
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = CNNLSTM(n_classes=2)
    before = [c.weight.detach().clone() for c in net.conv_layers]
    hist = pretrain_conv_layers(net.conv_layers, X, between=net.pool, activation=net.act, epochs=5,
                                batch_size=16, seed=3)
    assert len(hist) == 2
    for h in hist:
        assert len(h) == 6                      # loss before training + one per epoch
        assert h[-1] < 0.6 * h[0]               # the reconstruction error falls substantially
    for b, c in zip(before, net.conv_layers):
        assert not torch.allclose(b, c.weight)  # encoder weights were transferred into the classifier
    # deterministic for a seed
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net2 = CNNLSTM(n_classes=2)
    pretrain_conv_layers(net2.conv_layers, X, between=net2.pool, activation=net2.act, epochs=5, batch_size=16, seed=3)
    assert torch.equal(net.conv1.weight, net2.conv1.weight)


def test_setup1_starts_from_pretrained_weights_setup2_from_random():
    ep = _epochs()
    common = dict(epochs=1, ae_epochs=4, batch_size=32, val_fraction=0.25, val_group="subject", seed=5)
    pre = CNNLSTMClassifier(pretrain=True, **common).fit(ep)
    rnd = CNNLSTMClassifier(pretrain=False, **common).fit(ep)
    fresh = rnd._build(2, 1)
    # same seed: the random setup starts exactly from the freshly initialised weights ...
    assert np.array_equal(rnd.initial_conv_weights_["conv1"], fresh.conv1.weight.detach().numpy())
    # ... the pretrained setup from different ones, learned by the autoencoders
    assert not np.allclose(pre.initial_conv_weights_["conv1"], rnd.initial_conv_weights_["conv1"])
    assert all(h[-1] < h[0] for h in pre.pretrain_history_)
    assert rnd.pretrain_history_ == []
    assert set(pre.curves()) >= {"train_loss", "val_loss", "val_accuracy", "ae1_reconstruction_mse"}


def test_cnnlstm_classifier_learns_a_separable_task_and_is_deterministic():
    ep = _epochs(60)
    clf = CNNLSTMClassifier(epochs=15, batch_size=32, lr=3e-3, val_fraction=0.25, val_group="subject", seed=0).fit(ep)
    proba = clf.predict_proba(ep)
    assert proba.shape == (120, 2) and np.allclose(proba.sum(1), 1.0, atol=1e-5)
    assert clf.score(ep) > 0.9
    again = CNNLSTMClassifier(epochs=15, batch_size=32, lr=3e-3, val_fraction=0.25, val_group="subject", seed=0).fit(ep)
    assert np.allclose(again.predict_proba(ep), proba, atol=1e-6)


def test_feature_baselines_and_feature_values():
    fs = 1000.0
    t = np.arange(500) / fs
    sine = np.sin(2 * np.pi * 100 * t)[None, None, :]
    F = classic_features(sine, fs=fs)[0]
    f = dict(zip(FEATURE_NAMES, F))
    x = sine[0, 0]
    assert f["log_rms"] == pytest.approx(np.log(np.sqrt(np.mean(x ** 2))), abs=1e-9)
    assert f["log_mav"] == pytest.approx(np.log(np.mean(np.abs(x))), abs=1e-9)
    assert f["log_wl"] == pytest.approx(np.log(np.abs(np.diff(x)).sum() / x.size), abs=1e-9)
    assert f["zc"] == pytest.approx(0.2, abs=0.01)            # 2 crossings per 10 ms period
    assert f["mdf"] == pytest.approx(100.0, abs=4.0) and f["peak_freq"] == pytest.approx(100.0, abs=4.0)
    ep = _epochs()
    for kind in ("lda", "rf"):
        clf = FeatureClassifier(kind, seed=0).fit(ep)
        assert clf.score(ep) > 0.95
        assert clf.predict_proba(ep).shape == (80, 2)
    with pytest.raises(ConfigError):
        FeatureClassifier("svm").fit(ep)


# ------------------------------------------------------------------ summaries
def test_burst_vote_majority_and_collapse():
    df = pd.DataFrame({
        "model": "m", "subject": "S1", "burst_key": ["b1"] * 3 + ["b2"] * 2,
        "truth": ["L-BB"] * 3 + ["R-TA"] * 2,
        "prediction": ["L-BB", "R-BB", "L-BB", "R-TA", "L-TA"],
        "prob_L-BB": [0.6, 0.3, 0.5, 0.0, 0.1], "prob_R-BB": [0.2, 0.5, 0.2, 0.1, 0.0],
        "prob_L-TA": [0.1, 0.1, 0.2, 0.3, 0.5], "prob_R-TA": [0.1, 0.1, 0.1, 0.6, 0.4],
    })
    votes = burst_votes(df).set_index("burst_key")
    assert votes.loc["b1", "prediction"] == "L-BB" and votes.loc["b1", "n_windows"] == 3
    assert votes.loc["b2", "prediction"] == "R-TA"              # 1:1 tie broken by summed probability
    mapping = {"L-BB": "BB", "R-BB": "BB", "L-TA": "TA", "R-TA": "TA"}
    col = collapse_predictions(df.assign(condition="sim/loso/4class"), mapping, "muscle")
    assert list(col["truth"]) == ["BB", "BB", "BB", "TA", "TA"]
    assert np.allclose(col["prob_BB"], [0.8, 0.8, 0.7, 0.1, 0.1])
    assert np.allclose(col["prob_TA"], [0.2, 0.2, 0.3, 0.9, 0.9])
    assert list(col["prediction"]) == ["BB", "BB", "BB", "TA", "TA"]
    assert set(col["condition"]) == {"sim/loso/muscle"}


def test_cluster_bootstrap_resamples_subjects():
    correct = np.array([1] * 10 + [0] * 10 + [1] * 5 + [0] * 5)
    groups = np.array(["a"] * 10 + ["b"] * 10 + ["c"] * 10)
    point, lo, hi = cluster_bootstrap_accuracy(correct, groups, n_boot=500, seed=0)
    assert point == pytest.approx(0.5)
    assert lo < 0.4 and hi > 0.6                     # three clusters: wide interval
    p1, lo1, hi1 = cluster_bootstrap_accuracy(correct, groups, n_boot=500, seed=0)
    assert (p1, lo1, hi1) == (point, lo, hi)
    assert cluster_bootstrap_accuracy(correct[:10], groups[:10])[1] is None


def test_config_validation():
    base = {"name": "x", "pipeline": "muscle-id"}
    with pytest.raises(ConfigError, match="unknown model"):
        from_dict(MuscleIdConfig, {**base, "evaluate": {"models": ["svm"]}})
    with pytest.raises(ConfigError, match="path is required when source is 'folder'"):
        from_dict(MuscleIdConfig, {**base, "data": {"sim": {"source": "folder"}}})
    with pytest.raises(ConfigError, match="unknown config key"):
        from_dict(MuscleIdConfig, {**base, "preprocess": {"window": 400}})
    cfg = from_dict(MuscleIdConfig, {**base, "data": {"sim": {"subjects": 3}, "real": {"enabled": False}}})
    assert not cfg.data["real"].enabled and cfg.preprocess.window_ms == 500.0
    with pytest.raises(ConfigError, match="at least one cohort"):
        from_dict(MuscleIdConfig, {**base, "data": {"sim": {"enabled": False}}})


# ------------------------------------------------------------------ splits
def _fake_grid(subject: str, muscle: str, side: str, rng: np.random.Generator, n_bursts: int = 4) -> Recording:
    fs, dur = 1000, 5 * n_bursts + 2
    x = rng.normal(0, 5e-6, (4, dur * fs))
    onsets = []
    for b in range(n_bursts):
        s = int((2 + 5 * b + rng.uniform(-0.2, 0.2)) * fs)
        onsets.append(s)
        x[:, s:s + 900] += 1e-4 * signal.lfilter([1], [1, -0.5], rng.standard_normal((4, 900)), axis=1)
    ev = pd.DataFrame({"sample": onsets, "kind": "burst_onset"})
    return Recording(x, fs, ["c1", "c2", "c3", "c4"], grid_shape=(2, 2), events=ev,
                     meta={"subject": subject, "muscle": muscle, "side": side})


@pytest.fixture(scope="module")
def fake_cohort():
    from myoflow.pipelines.muscle_id.config import CohortConfig, PreprocessConfig
    from myoflow.pipelines.muscle_id.data import _window_cohort
    from myoflow.pipelines.muscle_id.pipeline import MuscleIdData

    rng = np.random.default_rng(0)
    items = [(f"{s}/{side}-{m}", _fake_grid(s, m, side, rng)) for s in ("S1", "S2", "S3")
             for m in ("BB", "TA") for side in ("L", "R")]
    cohort = _window_cohort("sim", "grid", items, CohortConfig(subjects=3), PreprocessConfig(notch_hz=None))
    return MuscleIdData(sim=cohort)


def test_windows_channels_as_samples_and_detection_bookkeeping(fake_cohort):
    c = fake_cohort["sim"]
    assert c.epochs.X.shape == (3 * 4 * 4 * 4, 1, 500)       # subjects x recordings x bursts x channels
    det = c.info["detection"]
    assert det["n_true_onsets"] == det["n_detected"] == 48
    assert det["recall_within_50ms"] >= 0.9
    md = c.epochs.metadata
    assert (md.groupby("burst_key")["channel"].nunique() == 4).all()
    assert set(c.labels) == {"4class", "muscle", "side"}
    assert set(c.labels["4class"]) == {"L-BB", "R-BB", "L-TA", "R-TA"}
    assert c.features.shape == (len(c.epochs), len(FEATURE_NAMES))
    assert c.task_map("muscle") == {"L-BB": "BB", "R-BB": "BB", "L-TA": "TA", "R-TA": "TA"}


@pytest.mark.parametrize("binary", ["separate", "collapsed"])
def test_intra_split_never_separates_channels_of_a_burst_and_loso_separates_subjects(fake_cohort, binary):
    from myoflow.pipelines.muscle_id.pipeline import MuscleIdPipeline

    cfg = from_dict(MuscleIdConfig, {"name": "t", "pipeline": "muscle-id", "data": {"sim": {"subjects": 3}, "real": {"enabled": False}},
                                     "evaluate": {"binary": binary, "intra_repeats": 3}})
    folds = MuscleIdPipeline().folds(cfg, fake_cohort)
    md = fake_cohort["sim"].epochs.metadata
    tasks = {f.payload["task"] for f in folds}
    assert tasks == ({"4class", "muscle", "side"} if binary == "separate" else {"4class"})
    intra = [f for f in folds if f.payload["scheme"] == "intra"]
    loso = [f for f in folds if f.payload["scheme"] == "loso"]
    assert len(intra) == 3 * len(tasks) and len(loso) == 3 * len(tasks)
    for f in intra:
        tr, te = f.payload["train"], f.payload["test"]
        assert not set(md["burst_key"].iloc[tr]) & set(md["burst_key"].iloc[te])
        assert set(md["subject"].iloc[te]) == set(md["subject"].iloc[tr]) == {"S1", "S2", "S3"}
        assert 0.1 < len(te) / (len(tr) + len(te)) < 0.35     # ~20 % of each subject's bursts
        # every test burst brings all four of its channels
        assert (md.iloc[te].groupby("burst_key")["channel"].nunique() == 4).all()
    for f in loso:
        tr, te = f.payload["train"], f.payload["test"]
        assert set(md["subject"].iloc[te]) == {f.payload["held_out"]}
        assert f.payload["held_out"] not in set(md["subject"].iloc[tr])
    final = [f for f in folds if f.payload["scheme"] == "final"]
    assert len(final) == 1 and len(final[0].payload["test"]) == 0


def test_binary_skip_models_and_schemes_trim_only_the_binary_task_folds(fake_cohort):
    """Issue 19: evaluate.binary_skip_models / binary_skip_schemes trim the dedicated binary-task folds (cost),
    never the 4-class ones; fold_cost follows the models a fold trains; nonsense is refused."""
    from myoflow.pipelines.muscle_id.pipeline import MuscleIdPipeline, _fold_models

    base = {"name": "t", "pipeline": "muscle-id", "data": {"sim": {"subjects": 3}, "real": {"enabled": False}}}
    ev = {"binary": "separate", "schemes": ["intra", "loso", "intra-channel"],
          "models": ["cnn_lstm_pretrained", "cnn_lstm_random", "lda", "rf"],
          "binary_skip_models": [], "binary_skip_schemes": []}
    full = from_dict(MuscleIdConfig, {**base, "evaluate": ev})
    lean = from_dict(MuscleIdConfig, {**base, "evaluate": {**ev, "binary_skip_models": ["cnn_lstm_random"],
                                                           "binary_skip_schemes": ["intra-channel"]}})
    pipe = MuscleIdPipeline()
    f_full, f_lean = pipe.folds(full, fake_cohort), pipe.folds(lean, fake_cohort)
    kinds = lambda folds: sorted((f.payload["task"], f.payload["scheme"]) for f in folds)  # noqa: E731
    assert [k for k in kinds(f_full) if k[0] == "4class"] == [k for k in kinds(f_lean) if k[0] == "4class"]
    assert ("muscle", "intra-channel") in kinds(f_full) and ("muscle", "intra-channel") not in kinds(f_lean)
    assert ("side", "loso") in kinds(f_lean) and ("side", "intra") in kinds(f_lean)
    assert _fold_models(lean, "muscle", "loso") == ["cnn_lstm_pretrained", "lda", "rf"]
    assert _fold_models(full, "muscle", "loso") == ev["models"]
    assert _fold_models(lean, "4class", "loso") == ev["models"]
    assert _fold_models(lean, "4class", "final") == ["cnn_lstm_pretrained"]
    side = next(f for f in f_lean if f.payload["task"] == "side" and f.payload["scheme"] == "loso")
    four = next(f for f in f_lean if f.payload["task"] == "4class" and f.id.endswith(side.payload["held_out"]))
    assert pipe.fold_cost(lean, fake_cohort, side) == pytest.approx(pipe.fold_cost(lean, fake_cohort, four) * 1.2 / 2.2)
    with pytest.raises(ConfigError, match="binary_skip_models: unknown"):
        from_dict(MuscleIdConfig, {**base, "evaluate": {**ev, "binary_skip_models": ["svm"]}})
    with pytest.raises(ConfigError, match="no model"):
        from_dict(MuscleIdConfig, {**base, "evaluate": {**ev, "models": ["lda"], "binary_skip_models": ["lda"]}})
    with pytest.raises(ConfigError, match="no scheme"):
        from_dict(MuscleIdConfig, {**base, "evaluate": {**ev, "schemes": ["loso"], "binary_skip_schemes": ["loso"]}})
    # a narrower scheme list than the shipped skip list is fine (e.g. LOSO-only selection runs)
    from_dict(MuscleIdConfig, {**base, "evaluate": {**ev, "schemes": ["loso"], "binary_skip_schemes": ["intra-channel"]}})


def test_pretrain_seed_shares_one_pretraining_and_the_cache_returns_exactly_it(tmp_path, monkeypatch):
    """Issue 19: models of different tasks on the same training windows and one pretrain_seed pretrain
    identically; pretrain_cache memoises that pretraining, and a cache hit gives bit-identical models."""
    import myoflow.models.conv_autoencoder as cae

    ep = _epochs(16)
    common = dict(pretrain=True, epochs=1, ae_epochs=1, batch_size=32, val_fraction=0.25, val_group="subject",
                  conv_channels=(4, 8), fc_size=8, lstm_hidden=8, head_size=8)
    plain = CNNLSTMClassifier(seed=5, pretrain_seed=11, **common).fit(ep)
    other = CNNLSTMClassifier(seed=6, pretrain_seed=11, **common).fit(ep.replace(y=np.where(ep.y == "A", "x", "y")))
    for k in plain.initial_conv_weights_:  # another seed and other labels, the same pretraining
        assert np.array_equal(plain.initial_conv_weights_[k], other.initial_conv_weights_[k])
    unshared = CNNLSTMClassifier(seed=5, **common).fit(ep)
    assert not np.array_equal(unshared.initial_conv_weights_["conv1"], plain.initial_conv_weights_["conv1"])

    first = CNNLSTMClassifier(seed=5, pretrain_seed=11, pretrain_cache=str(tmp_path), **common).fit(ep)
    assert len(list(tmp_path.glob("*.npz"))) == 1
    calls = []
    original = cae.pretrain_conv_layers
    monkeypatch.setattr(cae, "pretrain_conv_layers", lambda *a, **k: calls.append(1) or original(*a, **k))
    hit = CNNLSTMClassifier(seed=5, pretrain_seed=11, pretrain_cache=str(tmp_path), **common).fit(ep)
    assert calls == []  # served from the cache
    for est in (first, hit):
        assert est.pretrain_history_ == plain.pretrain_history_
        for k, v in plain.module_.state_dict().items():
            assert torch.equal(v, est.module_.state_dict()[k]), k
        assert np.array_equal(est.predict_proba(ep), plain.predict_proba(ep))
    # other windows: another key, pretrained afresh
    CNNLSTMClassifier(seed=5, pretrain_seed=11, pretrain_cache=str(tmp_path), **common).fit(ep[:24])
    assert calls == [1] and len(list(tmp_path.glob("*.npz"))) == 2
    # a damaged entry is recomputed, not trusted
    for f in tmp_path.glob("*.npz"):
        f.write_bytes(b"junk")
    again = CNNLSTMClassifier(seed=5, pretrain_seed=11, pretrain_cache=str(tmp_path), **common).fit(ep)
    assert np.array_equal(again.predict_proba(ep), plain.predict_proba(ep))
