"""Stimulated-mass hybrid: M-wave descriptors in the covariate vector and a linear skip into the logits."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from myoflow.containers import Epochs  # noqa: E402
from myoflow.errors import ConfigError, DataError  # noqa: E402
from myoflow.models.attention_bilstm import DESCRIPTOR_PREFIX, AttentionBiLSTM, MassLevelClassifier  # noqa: E402


def test_skip_adds_a_linear_map_of_the_covariates_to_the_head_logits():
    torch.manual_seed(0)
    m = AttentionBiLSTM(n_features=3, n_classes=3, n_covariates=4, skip=True).eval()
    x, c = torch.randn(5, 9, 3), torch.randn(5, 4)
    with torch.no_grad():
        logits, _ = m(x, c)
        plain = m.head(torch.cat([m.attention(m.lstm(x)[0])[0], m.covariate_branch(c)], -1))
        assert torch.allclose(logits, plain + m.skip(c), atol=1e-6)
        m.head[-1].weight.zero_()
        m.head[-1].bias.zero_()
        assert torch.allclose(m(x, c)[0], m.skip(c), atol=1e-6)  # the head silenced: a logistic regression
    assert AttentionBiLSTM(3, 3, n_covariates=4).skip is None
    with pytest.raises(ValueError, match="skip needs covariates"):
        AttentionBiLSTM(3, 3, n_covariates=0, skip=True)


def _desc_epochs(n: int = 60, seed: int = 0, steps: int = 16) -> Epochs:
    """Waveforms are pure noise; the class is a threshold on one ``desc:`` column (and nothing else)."""
    rng = np.random.default_rng(seed)
    d = rng.standard_normal(n)
    labels = np.where(d < -0.5, "low", np.where(d > 0.5, "high", "normal"))
    X = rng.standard_normal((n, 2, steps)).astype(np.float32)
    md = pd.DataFrame({"subject": [f"S{i:02d}" for i in range(n)], "age": rng.uniform(20, 60, n),
                       "sex": rng.choice(["M", "F"], n), f"{DESCRIPTOR_PREFIX}log_ptp_RF": d,
                       f"{DESCRIPTOR_PREFIX}noise": rng.standard_normal(n)})
    return Epochs(X=X, fs=1000.0, ch_names=["RF@25Hz", "BF@25Hz"], metadata=md, y=labels)


def test_descriptors_join_the_covariate_vector_and_carry_the_label():
    tr, te = _desc_epochs(seed=0), _desc_epochs(seed=1)
    kw = dict(covariates=("age", "sex"), epochs=80, lr=1e-2, val_fraction=0.0, patience=1000, seed=0,
              hidden_size=6, attention_size=6, dropout=0.0, classes=("low", "normal", "high"))
    hybrid = MassLevelClassifier(descriptors=True, skip=True, **kw).fit(tr)
    assert hybrid.side_columns_ == ["age", "sex", f"{DESCRIPTOR_PREFIX}log_ptp_RF", f"{DESCRIPTOR_PREFIX}noise"]
    assert hybrid.n_covariates_ == 4
    blind = MassLevelClassifier(**kw).fit(tr)  # same network without the descriptors
    assert blind.side_columns_ == ["age", "sex"] and blind.n_covariates_ == 2
    assert hybrid.score(te) >= 0.85          # the threshold is learnable from the descriptor ...
    assert blind.score(te) <= 0.7            # ... and not from noise waveforms + random covariates
    # The descriptor column is really read at prediction time.
    md = te.metadata.copy()
    md[f"{DESCRIPTOR_PREFIX}log_ptp_RF"] = -md[f"{DESCRIPTOR_PREFIX}log_ptp_RF"]
    assert hybrid.score(te.replace(metadata=md)) < 0.5


def test_descriptor_model_round_trips_and_errors_are_clear(tmp_path):
    ep = _desc_epochs(n=24, seed=2)
    est = MassLevelClassifier(covariates=("age", "sex"), descriptors=True, skip=True, epochs=3, hidden_size=4,
                              seed=1, n_members=2).fit(ep)
    again = MassLevelClassifier.load(est.save(tmp_path / "h.safetensors"))
    assert again.side_columns_ == est.side_columns_
    assert np.allclose(again.predict_proba(ep), est.predict_proba(ep), atol=1e-6)
    no_desc = ep.replace(metadata=ep.metadata.drop(columns=[f"{DESCRIPTOR_PREFIX}noise"]))
    with pytest.raises(DataError, match="noise"):
        est.predict_proba(no_desc)
    with pytest.raises(DataError, match="no 'desc:\\*' column"):
        MassLevelClassifier(covariates=("age",), descriptors=True, epochs=1).fit(
            ep.replace(metadata=ep.metadata[["subject", "age"]]))
    with pytest.raises(ConfigError, match="skip needs"):
        MassLevelClassifier(use_covariates=False, skip=True, epochs=1).fit(ep)


def test_attach_descriptors_gives_every_row_its_own_subjects_log_descriptors():
    from myoflow.pipelines.stimulated_mass.tuning import SKIP_DESCRIPTORS, attach_descriptors
    from myoflow.preprocess.evoked import EvokedData

    rng = np.random.default_rng(0)
    subjects, muscles, freqs = ["a", "b", "c"], ("RF", "BF"), (10.0, 25.0)
    rows = [{"subject": s, "muscle": m, "frequency": f, **{c: float(rng.uniform(0.5, 9)) for c in SKIP_DESCRIPTORS},
             "potentiation": 1.0} for s in subjects for m in muscles for f in freqs]
    desc = pd.DataFrame(rows)
    data = EvokedData(pd.DataFrame({"subject": subjects, "label": ["low", "normal", "high"]}), {}, desc, 2000.0,
                      0.0, muscles, freqs, ("low", "normal", "high"), ())
    md = pd.DataFrame({"subject": ["b", "a", "b", "c"], "sample": [0, 0, 1, 0]})  # b twice: an augmented copy
    ep = Epochs(X=np.zeros((4, 1, 3), np.float32), fs=1000.0, ch_names=["x"], metadata=md)
    out = attach_descriptors(ep, data, [25.0]).metadata
    cols = [c for c in out.columns if c.startswith(DESCRIPTOR_PREFIX)]
    assert len(cols) == len(SKIP_DESCRIPTORS) * len(muscles)          # only the condition's frequency
    want = desc.set_index(["subject", "muscle", "frequency"])
    for i, s in enumerate(md["subject"]):
        assert out.loc[i, "desc:log_ptp_mv_RF_25Hz"] == pytest.approx(np.log(want.loc[(s, "RF", 25.0), "ptp_mv"]))
        assert out.loc[i, "desc:log_latency_ms_BF_25Hz"] == pytest.approx(
            np.log(want.loc[(s, "BF", 25.0), "latency_ms"]))
    assert out.loc[0, cols].tolist() == out.loc[2, cols].tolist()


def test_logreg_skip_is_the_frozen_logistic_regression_of_the_members_training_subjects():
    from sklearn.linear_model import LogisticRegression

    ep = _desc_epochs(n=40, seed=3)
    # every subject twice (an augmented copy): the regression must see one row per subject
    ep2 = Epochs(X=np.concatenate([ep.X, ep.X]), fs=ep.fs, ch_names=ep.ch_names,
                 metadata=pd.concat([ep.metadata, ep.metadata], ignore_index=True), y=np.concatenate([ep.y, ep.y]))
    kw = dict(covariates=("age", "sex"), descriptors=True, skip=True, skip_fit="logreg", skip_c=0.5, epochs=4,
              hidden_size=4, attention_size=4, val_fraction=0.0, seed=0, classes=("low", "normal", "high"))
    est = MassLevelClassifier(**kw).fit(ep2)
    side = est.covariate_scaler_.transform(
        np.column_stack([ep.metadata["age"], (ep.metadata["sex"] == "F").astype(float),
                         ep.metadata[f"{DESCRIPTOR_PREFIX}log_ptp_RF"], ep.metadata[f"{DESCRIPTOR_PREFIX}noise"]]))
    target = np.array([["low", "normal", "high"].index(v) for v in ep.y])
    ref = LogisticRegression(C=0.5, class_weight="balanced", max_iter=5000).fit(side, target)
    assert np.allclose(est.model_.skip.weight.detach().numpy(), ref.coef_, atol=1e-4)   # trained 4 epochs: frozen
    assert np.allclose(est.model_.skip.bias.detach().numpy(), ref.intercept_, atol=1e-4)
    assert not est.model_.skip.weight.requires_grad
    joint = MassLevelClassifier(**{**kw, "skip_fit": "joint"}).fit(ep2)
    assert not np.allclose(joint.model_.skip.weight.detach().numpy(), ref.coef_, atol=1e-2)
    with pytest.raises(ConfigError, match="skip_fit"):
        MassLevelClassifier(**{**kw, "skip_fit": "ridge"}).fit(ep2)


def test_descriptors_logreg_baseline_is_the_hybrids_linear_path():
    from myoflow.pipelines.stimulated_mass.baselines import baseline_features
    from myoflow.pipelines.stimulated_mass.tuning import SKIP_DESCRIPTORS, attach_descriptors
    from myoflow.preprocess.evoked import EvokedData

    rng = np.random.default_rng(1)
    subjects, muscles, freqs = ["a", "b", "c", "d"], ("RF", "BF"), (10.0, 25.0)
    desc = pd.DataFrame([{"subject": s, "muscle": m, "frequency": f,
                          **{c: float(rng.uniform(0.5, 9)) for c in SKIP_DESCRIPTORS}, "potentiation": 1.0}
                         for s in subjects for m in muscles for f in freqs])
    parts = pd.DataFrame({"subject": subjects, "label": ["low", "normal", "high", "normal"],
                          "age": [30.0, 40, 50, 35], "sex": ["M", "F", "F", "M"]})
    data = EvokedData(parts, {}, desc, 2000.0, 0.0, muscles, freqs, ("low", "normal", "high"), ("age", "sex"))
    X, names = baseline_features("descriptors_logreg", data, ["c", "a"], freqs)
    ep = Epochs(X=np.zeros((2, 1, 3), np.float32), fs=1000.0, ch_names=["x"],
                metadata=pd.DataFrame({"subject": ["c", "a"]}))
    md = attach_descriptors(ep, data, freqs).metadata
    cols = [c for c in md.columns if c.startswith(DESCRIPTOR_PREFIX)]
    assert names[:len(cols)] == [c[len(DESCRIPTOR_PREFIX):] for c in cols] and names[len(cols):] == ["age", "sex"]
    assert np.allclose(X[:, :len(cols)], md[cols].to_numpy())
    assert np.allclose(X[:, len(cols):], [[50.0, 1.0], [30.0, 0.0]])


def test_skip_gate_falls_back_to_the_regression_when_the_network_does_not_help_validation():
    ep = _desc_epochs(n=60, seed=4)
    kw = dict(covariates=("age", "sex"), descriptors=True, skip=True, skip_fit="logreg", epochs=3,
              dropout=0.0, hidden_size=8, attention_size=8, val_fraction=0.3, patience=10, seed=0, n_members=3,
              classes=("low", "normal", "high"))
    # lr 0: training cannot lower the validation loss below the regression's -> every member gated off
    gated = MassLevelClassifier(skip_gate=True, lr=0.0, **kw).fit(ep)
    assert [h.best_epoch for h in gated.histories_] == [-1, -1, -1]
    x, side = (torch.as_tensor(a) for a in gated._inputs(ep)[:2])
    for member in gated.model_.members:
        with torch.no_grad():
            assert torch.allclose(member(x, side)[0], member.skip(side), atol=1e-6)  # exactly the regression
    # a network that learns keeps its branch where it lowers the validation loss
    free = MassLevelClassifier(skip_gate=True, lr=0.01, **kw).fit(ep)
    for h in free.histories_:
        assert h.best_epoch == -1 or h.best_epoch >= 0 and min(h.val_loss) == h.val_loss[h.best_epoch]
    ungated = MassLevelClassifier(lr=0.0, **kw).fit(ep)
    assert all(h.best_epoch >= 0 for h in ungated.histories_)


# ------------------------------------------------------------------ select_fusion.py robustness rule (issue 14)
def _select_fusion():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "select_fusion.py"
    spec = importlib.util.spec_from_file_location("_sel_fusion_rule", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_best_baseline_includes_the_unweighted_fits():
    # A class-weighting candidate must not win by handicapping the baselines: the margin is against the most
    # accurate baseline whether it was fitted class-weighted or not (here the unweighted logreg).
    mod = _select_fusion()
    subj = ["a", "b", "c", "d"]
    truth = dict(zip(subj, ["normal", "normal", "normal", "low"]))
    refs = {"subjects": subj, "truth": list(truth.values())}
    for b in mod.BASELINES:
        refs[f"{b}@class_weight"] = ["low", "low", "normal", "low"]  # 2 / 4
        refs[f"{b}@none"] = ["low", "low", "low", "low"]  # 1 / 4
    refs["descriptors_logreg@none"] = ["normal", "normal", "normal", "normal"]  # 3 / 4
    assert mod.best_baseline(refs, truth) == ("descriptors_logreg@none", 0.75)


def _record(tmp_path, seed, margins, bacc=None):
    import json

    bacc = bacc or {}
    table = [{"candidate": n, "params": {}, "per_condition": {
        c: {"accuracy": 0.7, "balanced_accuracy": bacc.get(n, (0.5, 0.5))[i], "margin": m, "best_baseline": []}
        for i, (c, m) in enumerate(zip(("25Hz", "all"), ms))}}
        for n, ms in margins.items()]
    p = tmp_path / f"rec{seed}.json"
    p.write_text(json.dumps({"selection_seed": seed, "candidates": {n: {"k": n} for n in margins}, "table": table}))
    return p


def test_combine_takes_the_minimum_margin_over_seeds_and_keeps_shipped_on_a_small_gain(tmp_path):
    mod = _select_fusion()
    r1 = _record(tmp_path, 1, {"shipped": (-0.05, 0.02), "b": (0.01, 0.10), "c": (0.30, -0.20)})
    r3 = _record(tmp_path, 3, {"shipped": (0.00, 0.01), "b": (0.00, 0.03), "c": (0.30, 0.30)})
    out = mod.combine([r1, r3], 1 / 90)
    assert out["scores"] == pytest.approx({"shipped": -0.05, "b": 0.0, "c": -0.20})  # min over the 4 cells
    assert out["chosen"] == "b" and out["chosen_params"] == {"k": "b"} and out["all_margins_nonnegative"]
    # A gain under min_gain keeps the first (shipped) candidate.
    assert mod.combine([r1, r3], 0.06)["chosen"] == "shipped"


def test_combine_with_a_balanced_accuracy_floor_skips_candidates_that_buy_accuracy_with_the_minority(tmp_path):
    # Rule 3: a candidate is eligible only if its balanced accuracy is >= shipped's - tolerance in EVERY cell.
    mod = _select_fusion()
    margins = {"shipped": (-0.10, -0.10), "majority": (0.05, 0.05), "b": (-0.05, -0.02)}
    r1 = _record(tmp_path, 1, margins, {"shipped": (0.60, 0.60), "majority": (0.40, 0.60), "b": (0.59, 0.70)})
    r3 = _record(tmp_path, 3, margins, {"shipped": (0.60, 0.60), "majority": (0.60, 0.60), "b": (0.585, 0.60)})
    assert mod.combine([r1, r3], 1 / 90)["chosen"] == "majority"  # no floor (rules 1-2)
    out = mod.combine([r1, r3], 1 / 90, bacc_tolerance=0.02)
    assert out["eligible"] == {"shipped": True, "majority": False, "b": True}
    assert out["chosen"] == "b" and out["bacc_tolerance"] == 0.02
    assert mod.combine([r1, r3], 1 / 90, bacc_tolerance=0.01)["chosen"] == "shipped"  # b is 0.015 below once


def test_prior_adjust_variants_share_one_fit_and_reproduce_the_estimators_decision():
    mod = _select_fusion()
    groups = mod.split_prior_adjust({"s": {"a": 1}, "s05": {"a": 1, "prior_adjust": 0.5}, "c": {"a": 2}})
    assert list(groups.values()) == [[("s", 0.0), ("s05", 0.5)], [("c", 0.0)]]
    proba = np.array([[0.4, 0.35, 0.25], [0.2, 0.5, 0.3]])
    prior = np.array([0.1, 0.8, 0.1])
    assert mod.adjusted_prediction(proba, prior, 0.0, ["low", "normal", "high"]) == ["low", "normal"]
    assert mod.adjusted_prediction(proba, prior, 1.0, ["low", "normal", "high"]) == ["normal", "normal"]


def test_combine_refuses_the_reported_seed_and_records_without_margins(tmp_path, capsys):
    import json

    mod = _select_fusion()
    r0 = _record(tmp_path, 0, {"shipped": (0.0, 0.0)})
    assert mod.main(["--combine", str(r0), "--out", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "seed 0 is the reported cohort" in err[0]
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"selection_seed": 1, "candidates": {"s": {}},
                               "table": [{"candidate": "s", "per_condition": {"all": {"accuracy": 0.7}}}]}))
    assert mod.main(["--combine", str(old), "--out", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "old.json" in err[0] and "no margins" in err[0]
    assert not (tmp_path / "x.json").exists()


def test_skip_rows_all_fits_the_skip_on_every_training_subject_not_only_the_members_fitting_ones():
    from sklearn.linear_model import LogisticRegression

    ep = _desc_epochs(n=40, seed=3)
    kw = dict(covariates=("age", "sex"), descriptors=True, skip=True, skip_fit="logreg", epochs=2, hidden_size=4,
              attention_size=4, val_fraction=0.25, seed=0, classes=("low", "normal", "high"), imbalance="none")
    side = MassLevelClassifier(**kw).fit(ep)
    X = side.covariate_scaler_.transform(
        np.column_stack([ep.metadata["age"], (ep.metadata["sex"] == "F").astype(float),
                         ep.metadata[f"{DESCRIPTOR_PREFIX}log_ptp_RF"], ep.metadata[f"{DESCRIPTOR_PREFIX}noise"]]))
    target = np.array([["low", "normal", "high"].index(v) for v in ep.y])
    ref = LogisticRegression(C=1.0, max_iter=5000).fit(X, target)  # the whole training fold, unweighted
    est = MassLevelClassifier(**kw, skip_rows="all").fit(ep)
    assert np.allclose(est.model_.skip.weight.detach().numpy(), ref.coef_, atol=1e-4)
    # default: the member's fitting subjects only (its validation quarter held out) -> another regression
    assert not np.allclose(side.model_.skip.weight.detach().numpy(), ref.coef_, atol=1e-2)
    with pytest.raises(ConfigError, match="skip_rows"):
        MassLevelClassifier(**kw, skip_rows="val").fit(ep)


def test_shipped_config_reaches_the_estimator():
    # train.imbalance and model.params.skip_rows of the shipped config are what the estimator gets (the robustness
    # search's `none` / `all` were not shipped: see the config's comments)
    from pathlib import Path

    from myoflow.experiments import load_config
    from myoflow.pipelines.stimulated_mass.pipeline import make_estimator

    cfg = load_config(Path(__file__).resolve().parents[2] / "src" / "myoflow" / "configs" / "stimulated_mass.yaml")
    assert cfg.train.imbalance == "class_weight"
    est = make_estimator(cfg, "attention_bilstm", seed=0)
    assert (est.skip_rows, est.imbalance, est.skip_fit, est.descriptors) == ("fit", "class_weight", "logreg", True)
    other = load_config(Path(__file__).resolve().parents[2] / "src" / "myoflow" / "configs" / "stimulated_mass.yaml",
                        overrides={"train": {"imbalance": "none"}, "model": {"params": {"skip_rows": "all"}}})
    est = make_estimator(other, "attention_bilstm", seed=0)
    assert (est.skip_rows, est.imbalance) == ("all", "none")


def _spy_fit_module(monkeypatch):
    """Record the (training inputs, validation inputs) every member hands to fit_module."""
    import myoflow.train as mt

    seen, real = [], mt.fit_module

    def spy(module, inputs, target, loss_fn, val_inputs=None, val_target=None, **kw):
        seen.append(([np.asarray(a) for a in inputs], [np.asarray(a) for a in val_inputs]))
        return real(module, inputs, target, loss_fn, val_inputs=val_inputs, val_target=val_target, **kw)

    monkeypatch.setattr(mt, "fit_module", spy)
    return seen


def test_skip_crossfit_trains_the_head_on_out_of_fold_skip_logits_and_validates_on_the_frozen_skip(monkeypatch):
    # Issue 14 round 3: fitted on the same subjects, the skip's in-sample logits leave the head only noise to
    # learn. With skip_crossfit the head's training rows carry each subject's logits from a regression fitted
    # WITHOUT it (k stratified folds), the validation rows the deployed (frozen) skip's logits.
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    seen = _spy_fit_module(monkeypatch)
    ep = _desc_epochs(n=40, seed=3)
    kw = dict(covariates=("age", "sex"), descriptors=True, skip=True, skip_fit="logreg", epochs=2, hidden_size=4,
              attention_size=4, val_fraction=0.25, seed=0, classes=("low", "normal", "high"))
    est = MassLevelClassifier(**kw, skip_crossfit=4).fit(ep)
    (tr, va), = seen
    assert len(tr) == 3 and len(va) == 3  # x, side vector, skip offset (no mask)
    side_tr, off_tr, side_va, off_va = tr[1], tr[2], va[1], va[2]
    skip = est.model_.skip
    with torch.no_grad():
        frozen_tr = skip(torch.as_tensor(side_tr)).numpy()
        frozen_va = skip(torch.as_tensor(side_va)).numpy()
    assert np.allclose(off_va, frozen_va, atol=1e-5)
    assert not np.allclose(off_tr, frozen_tr, atol=1e-2)
    # the out-of-fold logits, recomputed: the same stratified folds over the fitting subjects, balanced weights
    target = np.array([["low", "normal", "high"].index(v) for v in ep.y])
    Xall = est.covariate_scaler_.transform(
        np.column_stack([ep.metadata["age"], (ep.metadata["sex"] == "F").astype(float),
                         ep.metadata[f"{DESCRIPTOR_PREFIX}log_ptp_RF"], ep.metadata[f"{DESCRIPTOR_PREFIX}noise"]]))
    # the member's fitting subjects (one row each here), found by their side vectors
    fit_rows = np.array([np.flatnonzero(np.all(np.isclose(Xall, s, atol=1e-6), axis=1))[0] for s in side_tr])
    ref = np.empty_like(off_tr)
    for a, b in StratifiedKFold(4, shuffle=True, random_state=0).split(fit_rows, target[fit_rows]):
        lr = LogisticRegression(C=1.0, class_weight="balanced", max_iter=5000).fit(Xall[fit_rows[a]],
                                                                                   target[fit_rows[a]])
        ref[b] = lr.decision_function(Xall[fit_rows[b]])
    assert np.allclose(off_tr, ref, atol=1e-3)
    # default (0): no offset input, the in-sample frozen skip (shipped behaviour)
    seen.clear()
    MassLevelClassifier(**kw).fit(ep)
    assert len(seen[0][0]) == 2
    with pytest.raises(ConfigError, match="skip_crossfit"):
        MassLevelClassifier(**kw, skip_crossfit=1).fit(ep)


def test_prior_adjust_multiplies_probabilities_by_the_training_subjects_class_prior(tmp_path):
    ep = _desc_epochs(n=30, seed=4)
    # subject S00 repeated 5 times: the prior counts SUBJECTS, not rows
    rep = np.r_[np.zeros(5, dtype=int), np.arange(30)]
    ep5 = Epochs(X=ep.X[rep], fs=ep.fs, ch_names=ep.ch_names, metadata=ep.metadata.iloc[rep].reset_index(drop=True),
                 y=np.asarray(ep.y)[rep])
    kw = dict(covariates=("age", "sex"), descriptors=True, skip=True, skip_fit="logreg", epochs=2, hidden_size=4,
              attention_size=4, seed=0, classes=("low", "normal", "high"))
    base = MassLevelClassifier(**kw).fit(ep5)
    adj = MassLevelClassifier(**kw, prior_adjust=0.5).fit(ep5)
    prior = np.array([(np.asarray(ep.y) == c).mean() for c in ("low", "normal", "high")])
    assert np.allclose(adj.class_prior_, prior)
    p0 = base.predict_proba(ep)
    want = p0 * prior ** 0.5
    want /= want.sum(1, keepdims=True)
    assert np.allclose(adj.predict_proba(ep), want, atol=1e-6)
    assert (adj.predict(ep) == np.asarray(adj.classes_)[want.argmax(1)]).all()
    again = MassLevelClassifier.load(adj.save(tmp_path / "p.safetensors"))
    assert np.allclose(again.predict_proba(ep), want, atol=1e-6)
    # the exported module (ONNX) gives the same probabilities
    inputs = [torch.as_tensor(a) for a in again._inputs(ep)]
    with torch.no_grad():
        exported = torch.softmax(again.export_module()(inputs[0], inputs[1])[0], -1).numpy()
    assert np.allclose(exported, want, atol=1e-5)
    with pytest.raises(ConfigError, match="prior_adjust"):
        MassLevelClassifier(**kw, prior_adjust=-1).fit(ep)


def test_stopping_report_counts_members_whose_best_epoch_is_the_first(tmp_path, capsys):
    import json

    mod = _select_fusion()
    task = {"candidate": "shipped", "condition": "all", "truth": ["normal", "low"], "prediction": ["normal", "normal"],
            "best_epochs": [0, 3, 0], "val_loss_curves": [[1.0] * 16, [1.0, 0.9, 0.8, 0.7] + [0.8] * 15, [2.0] * 16],
            "references": {"descriptors_logreg": ["normal", "low"]}}
    p = tmp_path / "r1.json"
    p.write_text(json.dumps({"selection_seed": 1, "tasks": [task]}))
    (row,) = mod.stopping_report([p])["rows"]
    got = (row["best_after_first_epoch"], row["members"], row["max_best_epoch"], row["median_epochs_run"])
    assert got == (2, 3, 3, 16)
    assert row["agreement_with_descriptors_logreg"] == 0.5 and row["predicted_per_class"] == {"low": 0, "normal": 2}
    old = tmp_path / "old.json"
    no_curves = {k: v for k, v in task.items() if k != "val_loss_curves"}
    old.write_text(json.dumps({"selection_seed": 1, "tasks": [no_curves]}))
    assert mod.main(["--stopping", str(old), "--out", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "old.json" in err[0] and "validation curves" in err[0]
