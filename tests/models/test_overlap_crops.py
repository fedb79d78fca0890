"""``overlap_crops`` (issue 14, third look at the elderly CNN-LSTM): overlapping training windows cut across
consecutive windows of one recording; default off, so every other pipeline trains exactly as before."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from myoflow.containers import Epochs  # noqa: E402
from myoflow.errors import ConfigError  # noqa: E402
from myoflow.models.cnn_lstm_recipe import RecipeCNNLSTMClassifier  # noqa: E402
from myoflow.models.deep_classifier import DeepWindowClassifier  # noqa: E402

T = 40  # samples per window


def _epochs(n_subj=4, n_win=5, seed=0):
    """Per subject two recordings (labels a / b) of one continuous signal each, cut into ``n_win`` windows."""
    rng = np.random.default_rng(seed)
    X, rows, y, signals = [], [], [], {}
    for s in range(n_subj):
        for lab, f in (("a", 60.0), ("b", 180.0)):
            t = np.arange(n_win * T) / 1000.0
            sig = np.sin(2 * np.pi * f * t) + 0.3 * rng.standard_normal(t.size)
            rid = f"{s}/{lab}"
            signals[rid] = sig
            for w in range(n_win):
                X.append(sig[w * T:(w + 1) * T][None])
                rows.append({"subject": str(s), "recording": rid, "window": w})
                y.append(lab)
    ep = Epochs(X=(1e-4 * np.stack(X)).astype(np.float32), fs=1000.0, ch_names=["c"],
                metadata=pd.DataFrame(rows), y=np.array(y))
    return ep, {k: (1e-4 * v).astype(np.float32) for k, v in signals.items()}


def test_crops_are_the_recordings_own_overlapping_windows():
    ep, signals = _epochs()
    y = np.asarray(ep.y).astype(str)
    est = DeepWindowClassifier(arch="cnn_lstm", overlap_crops=3)
    idx = np.arange(len(ep))
    crops, source = est.overlap_windows(ep, y, idx)
    n_pairs = 8 * 4                                   # 8 recordings x 4 consecutive pairs
    assert crops.shape == (3 * n_pairs, 1, T) and source.shape == (3 * n_pairs,)
    md = ep.metadata
    for p, (c, i) in enumerate(zip(crops, source)):   # per window, its 3 crops in turn
        rid, w = md["recording"][i], int(md["window"][i])
        start = w * T + [10, 20, 30][p % 3]           # T * j / 4, j = 1..3
        np.testing.assert_array_equal(c[0], signals[rid][start:start + T])
    # the last window of a recording has no successor; a window whose successor is not given is not paired
    assert not np.isin(md.index[md["window"] == 4], source).any()
    some = idx[md["window"].to_numpy() != 2]          # drop window 2: pairs (1, 2) and (2, 3) go
    _, src = est.overlap_windows(ep, y, some)
    assert len(src) == 3 * 8 * 2
    # off by default: nothing extra
    crops0, src0 = DeepWindowClassifier(arch="cnn_lstm").overlap_windows(ep, y, idx)
    assert len(crops0) == len(src0) == 0


def test_fit_trains_on_the_crops_of_the_fit_subjects_only():
    ep, _ = _epochs()
    kw = dict(epochs=2, batch_size=16, n_bands=4, seed=1)
    plain = RecipeCNNLSTMClassifier(val_fraction=0.0, **kw).fit(ep)
    more = RecipeCNNLSTMClassifier(val_fraction=0.0, overlap_crops=1, **kw).fit(ep)
    assert plain.n_train_windows_ == len(ep) and more.n_train_windows_ == len(ep) + 8 * 4
    assert not np.array_equal(plain.predict_proba(ep), more.predict_proba(ep))
    # with early stopping on held-out subjects, those subjects' windows give no crops (1 of 4 subjects held out)
    held = RecipeCNNLSTMClassifier(val_fraction=0.25, overlap_crops=1, **kw).fit(ep)
    assert held.n_train_windows_ == 30 + 6 * 4
    # the same data and seed give the same network
    again = RecipeCNNLSTMClassifier(val_fraction=0.0, overlap_crops=1, **kw).fit(ep)
    np.testing.assert_array_equal(again.predict_proba(ep), more.predict_proba(ep))


def test_overlap_needs_recording_and_window_metadata_and_a_count():
    ep, _ = _epochs()
    with pytest.raises(ConfigError, match="overlap_crops needs Epochs.*'recording' and 'window'"):
        DeepWindowClassifier(arch="cnn", overlap_crops=1, epochs=1, val_fraction=0.0).fit(ep.X, ep.y)
    bare = Epochs(X=ep.X, fs=ep.fs, ch_names=ep.ch_names, metadata=ep.metadata[["subject"]], y=ep.y)
    with pytest.raises(ConfigError, match="columns \\['subject'\\]"):
        DeepWindowClassifier(arch="cnn", overlap_crops=1, epochs=1, val_fraction=0.0).fit(bare)
    for bad in (-1, 1.5, True):
        with pytest.raises(ConfigError, match="overlap_crops must be an integer >= 0"):
            DeepWindowClassifier(arch="cnn", overlap_crops=bad, epochs=1).fit(ep)


def test_third_look_candidates_reach_the_estimator(load_benchmark):
    sel, ed = load_benchmark("select_deep_recipe"), load_benchmark("elderly_deep")
    assert sel.THIRD[0] == ("as chosen", {}) and sel.VARIANTS["third"] is sel.THIRD
    for _, over in sel.THIRD:
        est = ed.deep_estimator("cnn_lstm", **{"overlap_crops": 0, **over})
        assert isinstance(est, RecipeCNNLSTMClassifier) and est.overlap_crops == over.get("overlap_crops", 0)
    assert sel.main(["--diagnose", "--out", "x.json"]) == 2      # --diagnose needs --refine


def test_paired_records_is_the_summary_bootstrap_and_refuses_bad_records(tmp_path, capsys, load_benchmark):
    import json

    ed = load_benchmark("elderly_deep")
    subj = [f"{i:02d}" for i in range(8)]
    rng = np.random.default_rng(0)

    def rec(path, acc, sig="s1"):
        d = {"model": path.stem, "folds_signature": sig, "window_accuracy": float(np.mean(acc)),
             "recording_vote_accuracy": 1.0, "per_subject_accuracy": dict(zip(subj, acc)),
             "per_subject_vote": dict(zip(subj, [1.0] * 8))}
        path.write_text(json.dumps(d))
        return path

    a = rec(tmp_path / "a.json", list(0.9 + 0.05 * rng.random(8)))
    b = rec(tmp_path / "b.json", list(0.8 + 0.05 * rng.random(8)))
    assert ed.main(["--paired", str(a), str(b)]) == 0
    out = json.loads(capsys.readouterr().out)
    want = ed._paired(json.loads(a.read_text())["per_subject_accuracy"],
                      json.loads(b.read_text())["per_subject_accuracy"], 2000)
    assert out["window"] == want and out["window"]["lo"] > 0 and out["vote"]["diff"] == 0
    c = rec(tmp_path / "c.json", [0.5] * 8, sig="other")
    for bad, what in ((c, "different folds"), (tmp_path / "missing.json", "unreadable")):
        assert ed.main(["--paired", str(a), str(bad)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error:") and what in err and "\n" not in err
