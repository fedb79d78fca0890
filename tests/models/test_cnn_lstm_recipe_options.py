"""Recipe CNN-LSTM's LSTM options (issue 14): mean ⊕ max readout, bidirectional, width; defaults unchanged."""
from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from myoflow.errors import ConfigError  # noqa: E402
from myoflow.models.cnn_lstm_recipe import RecipeCNNLSTM, RecipeCNNLSTMClassifier  # noqa: E402
from myoflow.models.deep_classifier import DeepWindowClassifier  # noqa: E402
from myoflow.models.emg_cnn import standardize_batch  # noqa: E402


#: ``RecipeCNNLSTM(4, in_channels=1, n_bands=8)`` before the LSTM options: its state (name, shape) and, seeded 0,
#: its logits on the input of :func:`test_defaults_train_exactly_the_deep_window_cnn_lstm`.
BEFORE_SHAPES = [
    ("amp_mean", (1,)), ("amp_std", (1,)), ("conv1.weight", (16, 1, 9)), ("conv1.bias", (16,)),
    ("conv2.weight", (32, 16, 5)), ("conv2.bias", (32,)), ("fc1.weight", (32, 32)), ("fc1.bias", (32,)),
    ("lstm.weight_ih_l0", (128, 32)), ("lstm.weight_hh_l0", (128, 32)), ("lstm.bias_ih_l0", (128,)),
    ("lstm.bias_hh_l0", (128,)), ("fc2.weight", (32, 65)), ("fc2.bias", (32,)), ("out.weight", (4, 32)),
    ("out.bias", (4,)), ("bn1.weight", (16,)), ("bn1.bias", (16,)), ("bn1.running_mean", (16,)),
    ("bn1.running_var", (16,)), ("bn1.num_batches_tracked", ()), ("bn2.weight", (32,)), ("bn2.bias", (32,)),
    ("bn2.running_mean", (32,)), ("bn2.running_var", (32,)), ("bn2.num_batches_tracked", ()),
    ("spec.0.weight", (32, 8)), ("spec.0.bias", (32,)),
]
BEFORE_LOGITS = [[0.13108855485916138, -0.4065532982349396, -0.246193990111351, 0.36930638551712036],
                 [0.27789250016212463, -0.439443439245224, -0.42844152450561523, 0.5050858855247498]]


def _data(n=48, t=128, seed=0):
    rng = np.random.default_rng(seed)
    y = np.array(list("ABCD") * (n // 4))
    f = np.array([40.0, 90.0, 150.0, 220.0])[np.searchsorted(list("ABCD"), y)][:, None]
    tt = np.arange(t) / 1000.0
    X = np.sin(2 * np.pi * f * tt + rng.uniform(0, 6, (n, 1))) + 0.3 * rng.standard_normal((n, t))
    return (1e-4 * X[:, None, :]).astype(np.float32), y


def _lstm_out(net, x):
    z, _ = standardize_batch(x)
    return net.lstm(net.act(net.fc1(net.features(z).transpose(1, 2))))


def test_defaults_train_exactly_the_deep_window_cnn_lstm():
    X, y = _data()
    kw = dict(arch="cnn_lstm", epochs=2, batch_size=16, val_fraction=0.0, n_bands=8, mixup=0.4, tta=3,
              max_shift=5, noise=0.05, seed=3)
    a = DeepWindowClassifier(**kw).fit(X, y).predict_proba(X)
    b = RecipeCNNLSTMClassifier(**kw).fit(X, y)
    np.testing.assert_array_equal(b.predict_proba(X), a)        # bit for bit: the paper-config figures do not move
    # the network itself: the same layers, shapes and seeded weights as before the options (logits of the code
    # before them, same seed and input)
    torch.manual_seed(0)
    net = RecipeCNNLSTM(4, in_channels=1, n_bands=8).eval()
    assert [(k, tuple(v.shape)) for k, v in net.state_dict().items()] == BEFORE_SHAPES
    t = torch.arange(128, dtype=torch.float32)
    x = torch.stack([torch.sin(0.3 * t) + 0.1 * torch.cos(1.7 * t), torch.sin(0.05 * t * t / 128)]).unsqueeze(1)
    with torch.no_grad():
        torch.testing.assert_close(net(x), torch.tensor(BEFORE_LOGITS), rtol=0, atol=1e-5)


def test_meanmax_readout_joins_mean_and_max_of_the_lstm_outputs():
    torch.manual_seed(0)
    net = RecipeCNNLSTM(4, in_channels=2, lstm_pool="meanmax").eval()
    assert net.embed_dim == 2 * 32 + 2 and net.fc2.in_features == 2 * 32 + 2
    x = torch.randn(3, 2, 128)
    with torch.no_grad():
        seq, _ = _lstm_out(net, x)
        torch.testing.assert_close(net.embed(x)[:, :64], torch.cat([seq.mean(dim=1), seq.amax(dim=1)], dim=1))
        assert net(x).shape == (3, 4)


@pytest.mark.parametrize("pool", ["last", "mean", "meanmax"])
def test_bidirectional_lstm_reads_both_directions(pool):
    torch.manual_seed(0)
    net = RecipeCNNLSTM(4, in_channels=1, lstm_hidden=8, bidirectional=True, lstm_pool=pool).eval()
    assert net.lstm.bidirectional and net.lstm.hidden_size == 8
    width = 16 * (2 if pool == "meanmax" else 1)
    assert net.embed_dim == width + 1 and net.config["bidirectional"] is True
    x = torch.randn(3, 1, 128)
    with torch.no_grad():
        seq, (h_last, _) = _lstm_out(net, x)
        want = {"last": torch.cat([h_last[-2], h_last[-1]], dim=1), "mean": seq.mean(dim=1),
                "meanmax": torch.cat([seq.mean(dim=1), seq.amax(dim=1)], dim=1)}[pool]
        torch.testing.assert_close(net.embed(x)[:, :width], want)
        assert seq.shape[2] == 16                                 # outputs of both directions, 8 units each


def test_classifier_passes_the_options_and_learns():
    X, y = _data(n=64)
    est = RecipeCNNLSTMClassifier(epochs=15, batch_size=16, val_fraction=0.0, lstm_pool="meanmax",
                                  bidirectional=True, lstm_hidden=16, seed=0).fit(X, y)
    net = est.module_[0]
    assert net.lstm.bidirectional and net.lstm.hidden_size == 16 and net.lstm_pool == "meanmax"
    assert np.mean(est.predict(X) == y) > 0.6
    again = RecipeCNNLSTMClassifier(**est.get_params()).fit(X, y)
    np.testing.assert_array_equal(again.predict_proba(X), est.predict_proba(X))


@pytest.mark.parametrize("bad, match", [
    (dict(lstm_pool="max"), "lstm_pool"),
    (dict(lstm_hidden=0), "lstm_hidden"),
    (dict(lstm_hidden=2.5), "lstm_hidden"),
    (dict(bidirectional="yes"), "bidirectional"),
    (dict(arch="cnn"), "arch must be 'cnn_lstm'"),
    (dict(epochs=0), "epochs"),                                # the parent's checks still run
])
def test_bad_values_are_config_errors(bad, match):
    X, y = _data(n=16)
    with pytest.raises(ConfigError, match=match):
        RecipeCNNLSTMClassifier(**{"epochs": 1, "val_fraction": 0.0, **bad}).fit(X, y)
    with pytest.raises(ValueError, match="lstm_pool"):
        RecipeCNNLSTM(4, lstm_pool="max")
    with pytest.raises(ValueError, match="lstm_hidden"):
        RecipeCNNLSTM(4, lstm_hidden=0)


def test_benchmarks_build_the_option_estimator_for_cnn_lstm_only(load_benchmark):
    mod = load_benchmark("elderly_deep")
    est = mod.deep_estimator("cnn_lstm", lstm_pool="meanmax", seed=1)
    assert isinstance(est, RecipeCNNLSTMClassifier) and est.lstm_pool == "meanmax" and est.seed == 1
    assert type(mod.deep_estimator("cnn")) is DeepWindowClassifier
    est, grid = mod._estimator("cnn_lstm", 30, 0, {"bidirectional": True, "epochs": 5})
    assert isinstance(est, RecipeCNNLSTMClassifier) and est.bidirectional and grid is None


def _gap_record(sel, scores, seed, dev=("03", "04")):
    rows = [{"candidate": name, "params": {"epochs": 30, **over, "arch": "cnn_lstm"}, "window_accuracy": s,
             "recording_vote_accuracy": 1.0, "seconds": 1.0} for (name, over), s in zip(sel.GAP, scores)]
    return {"command": f"--seed {seed}", "development_subjects": list(dev), "dev_rule": "r", "folds": [[str(seed)]],
            "score": "s", "n_windows": 10, "base": {}, "models": {"cnn_lstm": {
                "gap": rows, "gap_winner": "x", "chosen": {}, "refined_from": "R", "earlier_stages": {}}}}


def test_combine_averages_the_repeats_and_keeps_the_first_best(tmp_path, capsys, load_benchmark):
    sel = load_benchmark("select_deep_recipe")
    n = len(sel.GAP)
    assert sel.GAP[0] == ("as chosen", {}) and n >= 2
    # candidate 1 wins repeat 0, candidate 2 wins on average; a tie with "as chosen" goes to "as chosen"
    r0 = [0.90, 0.95, 0.93] + [0.80] * (n - 3)
    r1 = [0.90, 0.85, 0.93] + [0.80] * (n - 3)
    p0, p1 = tmp_path / "s0.json", tmp_path / "s1.json"
    p0.write_text(json.dumps(_gap_record(sel, r0, 0)))
    p1.write_text(json.dumps(_gap_record(sel, r1, 1)))
    out = tmp_path / "gap.json"
    assert sel.main(["--combine", str(p0), str(p1), "--out", str(out)]) == 0
    rec = json.loads(out.read_text())
    part = rec["models"]["cnn_lstm"]
    assert part["gap_winner"] == sel.GAP[2][0] and rec["chosen"]["cnn_lstm"] == {"epochs": 30, **sel.GAP[2][1]}
    assert [r["window_accuracy"] for r in part["gap_mean"]][:3] == pytest.approx([0.90, 0.90, 0.93])
    assert part["gap_mean"][1]["per_repeat_window_accuracy"] == [0.95, 0.85]
    assert [r["folds"] for r in part["repeats"]] == [[["0"]], [["1"]]]
    tie = tmp_path / "tie.json"
    tie.write_text(json.dumps(_gap_record(sel, [0.9] * n, 1)))
    assert sel.main(["--combine", str(tie), str(tie), "--out", str(out)]) == 0
    assert json.loads(out.read_text())["models"]["cnn_lstm"]["gap_winner"] == "as chosen"
    capsys.readouterr()
    # repeats that do not match: one-line error naming the file, exit 2
    other = tmp_path / "other.json"
    other.write_text(json.dumps(_gap_record(sel, r1, 1, dev=("05", "06"))))
    assert sel.main(["--combine", str(p0), str(other), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "other.json" in err and "development subjects" in err and "\n" not in err
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    assert sel.main(["--combine", str(p0), str(broken), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --combine") and "broken.json" in err and "\n" not in err
