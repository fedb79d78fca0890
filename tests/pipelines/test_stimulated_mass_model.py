"""AttentionBiLSTM and MassLevelClassifier: shapes, attention, covariates, learning, persistence."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from myoflow.containers import Epochs  # noqa: E402
from myoflow.errors import ConfigError, DataError  # noqa: E402
from myoflow.models.attention_bilstm import AttentionBiLSTM  # noqa: E402
from myoflow.models import load_estimator, save_estimator  # noqa: E402
from myoflow.models.attention_bilstm import MassLevelClassifier, encode_covariates  # noqa: E402


def _model(**kw):
    torch.manual_seed(0)
    return AttentionBiLSTM(n_features=3, n_classes=3, **kw).eval()


def test_attention_weights_sum_to_one_with_right_shape():
    m = _model(n_covariates=2)
    x = torch.randn(5, 17, 3)
    with torch.no_grad():
        logits, w = m(x, torch.randn(5, 2))
    assert logits.shape == (5, 3)
    assert w.shape == (5, 17)
    assert torch.all(w >= 0)
    assert torch.allclose(w.sum(1), torch.ones(5), atol=1e-6)
    # Not uniform: the additive scorer actually weighs steps differently.
    assert float(w.std(1).mean()) > 1e-4


def test_masked_steps_get_no_attention_and_do_not_change_output():
    m = _model()
    x = torch.randn(2, 10, 3)
    mask = torch.ones(2, 10, dtype=torch.bool)
    mask[:, 6:] = False
    out, w = m(x, None, mask)
    assert torch.all(w[:, 6:] == 0)
    assert torch.allclose(w.sum(1), torch.ones(2), atol=1e-6)
    x2 = x.clone()
    x2[:, 6:] = 100.0  # padding content must not matter... for the attention pooling
    out2, w2 = m(x2, None, mask)
    # The backward LSTM direction reads padding, so only the forward-only (unidirectional) model is invariant.
    uni = AttentionBiLSTM(3, 3, bidirectional=False).eval()
    a, _ = uni(x, None, mask)
    b, _ = uni(x2, None, mask)
    assert torch.allclose(a, b, atol=1e-6)
    assert torch.allclose(w2.sum(1), torch.ones(2), atol=1e-6)


def test_mean_pooling_ablation_gives_uniform_weights():
    m = _model(use_attention=False)
    _, w = m(torch.randn(4, 8, 3))
    assert torch.allclose(w, torch.full((4, 8), 1 / 8))
    assert m.attention is None


def test_covariates_change_the_output_and_are_required():
    m = _model(n_covariates=4)
    x = torch.randn(3, 12, 3)
    c = torch.zeros(3, 4)
    a, _ = m(x, c)
    b, _ = m(x, c + torch.tensor([2.0, -1.0, 0.5, 3.0]))
    assert not torch.allclose(a, b)
    with pytest.raises(ValueError, match="covariates"):
        m(x, None)
    no_cov = _model(n_covariates=0)
    assert no_cov.covariate_branch is None
    assert no_cov(x)[0].shape == (3, 3)


def _toy_epochs(n_per_class: int = 6, seed: int = 0, steps: int = 24) -> Epochs:
    """Three classes that differ in the timing of a bump; covariates random."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(["low", "normal", "high"], n_per_class)
    X = 0.3 * rng.standard_normal((labels.size, 2, steps)).astype(np.float32)
    for i, lab in enumerate(labels):
        at = {"low": 4, "normal": 11, "high": 18}[lab]
        X[i, 0, at:at + 3] += 2.0
    md = pd.DataFrame({
        "subject": [f"S{i:02d}" for i in range(labels.size)],
        "age": rng.uniform(20, 60, labels.size), "sex": rng.choice(["M", "F"], labels.size),
        "height": rng.normal(1.7, 0.08, labels.size), "weight": rng.normal(70, 10, labels.size),
        "bmi": rng.normal(24, 3, labels.size),
    })
    return Epochs(X=X, fs=1000.0, ch_names=["RF@25Hz", "BF@25Hz"], metadata=md, y=labels)


def test_estimator_overfits_a_tiny_dataset():
    ep = _toy_epochs()
    est = MassLevelClassifier(epochs=60, lr=3e-2, dropout=0.0, val_fraction=0.0, patience=1000,
                              hidden_size=12, attention_size=12, seed=1, classes=("low", "normal", "high"))
    est.fit(ep)
    assert est.score(ep) == 1.0
    assert est.history_.train_loss[-1] < 0.2 * est.history_.train_loss[0]
    proba = est.predict_proba(ep)
    assert proba.shape == (len(ep), 3)
    assert np.allclose(proba.sum(1), 1.0)
    assert est.attention_.shape == (len(ep), ep.n_times)
    assert list(est.classes_) == ["low", "normal", "high"]


def test_estimator_covariates_change_predictions_and_ablation_ignores_them():
    ep = _toy_epochs()
    kw = dict(epochs=40, lr=1e-2, val_fraction=0.0, patience=1000, seed=0, hidden_size=8)
    est = MassLevelClassifier(**kw).fit(ep)
    md2 = ep.metadata.copy()
    md2["age"] = md2["age"] + 25.0
    md2["sex"] = np.where(md2["sex"] == "M", "F", "M")
    ep2 = ep.replace(metadata=md2)
    assert not np.allclose(est.predict_proba(ep), est.predict_proba(ep2))
    blind = MassLevelClassifier(use_covariates=False, **kw).fit(ep)
    assert blind.covariate_scaler_ is None
    assert np.allclose(blind.predict_proba(ep), blind.predict_proba(ep2))


def test_estimator_is_deterministic_and_batch_independent():
    ep = _toy_epochs(seed=3)
    kw = dict(epochs=15, seed=7, hidden_size=8, val_fraction=0.25)
    p1 = MassLevelClassifier(**kw).fit(ep).predict_proba(ep)
    torch.manual_seed(123)  # global RNG state must not matter
    est = MassLevelClassifier(**kw).fit(ep)
    assert np.array_equal(p1, est.predict_proba(ep))
    # A sample's prediction does not depend on which other samples are predicted with it.
    assert np.allclose(est.predict_proba(ep[[2]]), p1[[2]], atol=1e-6)


def test_save_load_round_trip_restores_the_fitted_estimator(tmp_path):
    ep = _toy_epochs(seed=5)
    est = MassLevelClassifier(epochs=10, hidden_size=8, seed=2, imbalance="both").fit(ep)
    again = load_estimator(save_estimator(est, tmp_path / "m.safetensors"))
    assert np.allclose(again.predict_proba(ep), est.predict_proba(ep), atol=1e-6)
    assert np.allclose(again.attention_, est.attention_, atol=1e-6)


def test_estimator_errors_are_clear():
    ep = _toy_epochs()
    with pytest.raises(ConfigError, match="imbalance"):
        MassLevelClassifier(imbalance="smote", epochs=1).fit(ep)
    with pytest.raises(DataError, match="not among the classes"):
        MassLevelClassifier(classes=("low", "normal"), epochs=1).fit(ep)
    bad = ep.metadata.copy()
    bad.loc[3, "sex"] = "X"
    with pytest.raises(DataError, match="S03: sex must be M or F"):
        encode_covariates(bad, ["sex"])
    fitted = MassLevelClassifier(epochs=1, hidden_size=4).fit(ep)
    with pytest.raises(DataError, match="feature channel"):
        fitted.predict_proba(ep.pick(["RF@25Hz"]))


def test_ensemble_averages_member_probabilities_and_attention():
    from myoflow.models.attention_bilstm import AttentionBiLSTMEnsemble

    torch.manual_seed(0)
    members = [AttentionBiLSTM(3, 3, n_covariates=2).eval() for _ in range(3)]
    ens = AttentionBiLSTMEnsemble(members).eval()
    x, c = torch.randn(4, 9, 3), torch.randn(4, 2)
    with torch.no_grad():
        logits, w = ens(x, c)
        outs = [m(x, c) for m in members]
    p_mean = torch.stack([torch.softmax(o[0], -1) for o in outs]).mean(0)
    assert torch.allclose(torch.softmax(logits, -1), p_mean, atol=1e-6)
    assert torch.allclose(w, torch.stack([o[1] for o in outs]).mean(0), atol=1e-6)
    with pytest.raises(ValueError, match="share"):
        AttentionBiLSTMEnsemble([AttentionBiLSTM(3, 3), AttentionBiLSTM(4, 3)])


def test_estimator_ensemble_members_differ_and_round_trip(tmp_path):
    ep = _toy_epochs(seed=4)
    kw = dict(epochs=8, hidden_size=6, seed=3, val_fraction=0.25)
    est = MassLevelClassifier(n_members=3, **kw).fit(ep)
    assert len(est.model_.members) == 3 and len(est.histories_) == 3
    # Member 0 is exactly the single network of the same seed; the others differ from it.
    single = MassLevelClassifier(n_members=1, **kw).fit(ep)
    sd0, sd1 = est.model_.members[0].state_dict(), est.model_.members[1].state_dict()
    assert all(torch.equal(v, single.model_.state_dict()[k]) for k, v in sd0.items())
    assert not all(torch.equal(v, sd1[k]) for k, v in sd0.items())
    proba = est.predict_proba(ep)
    assert np.allclose(proba.sum(1), 1.0)
    again = MassLevelClassifier.load(est.save(tmp_path / "ens.safetensors"))
    assert np.allclose(again.predict_proba(ep), proba, atol=1e-6)
    assert np.array_equal(MassLevelClassifier(n_members=3, **kw).fit(ep).predict_proba(ep), proba)
    with pytest.raises(ConfigError, match="n_members"):
        MassLevelClassifier(n_members=0, epochs=1).fit(ep)


def test_pool_frequencies_averages_each_muscle_over_frequencies():
    from myoflow.preprocess.evoked_combine import combine_frequencies, pool_frequencies

    rng = np.random.default_rng(0)
    freqs, muscles = [10.0, 25.0], ["RF", "BF"]
    wave = [f"{m}@{f:g}Hz" for f in freqs for m in muscles]
    names = wave + [f"log_ptp_{n}" for n in wave]
    X = rng.standard_normal((3, len(names), 7)).astype(np.float32)
    md = pd.DataFrame({"subject": ["a", "b", "c"]})
    ep = Epochs(X=X, fs=1000.0, ch_names=names, metadata=md, y=np.array(["low", "normal", "high"]))
    out = pool_frequencies(ep, muscles, freqs)
    assert list(out.ch_names) == ["RF@all", "BF@all", "log_ptp_RF@all", "log_ptp_BF@all"]
    assert np.allclose(out.X[:, 0], (X[:, 0] + X[:, 2]) / 2)          # RF waveform
    assert np.allclose(out.X[:, 3], (X[:, 5] + X[:, 7]) / 2)          # BF log amplitude
    assert list(out.y) == list(ep.y) and out.n_times == 7
    assert combine_frequencies(ep, "stack", muscles, freqs) is ep
    assert combine_frequencies(ep.pick(["RF@10Hz", "BF@10Hz"]), "pool", muscles, [10.0]).n_channels == 2
    with pytest.raises(DataError, match="cannot pool"):
        pool_frequencies(ep, ["BF", "RF"], freqs)
    with pytest.raises(ConfigError, match="combine"):
        combine_frequencies(ep, "concat", muscles, freqs)
