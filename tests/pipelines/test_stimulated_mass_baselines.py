"""The scikit-learn baselines of stimulated-mass: gradient boosting runs on one OpenMP thread."""
from __future__ import annotations

import os

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: E402
from sklearn.utils._openmp_helpers import _openmp_effective_n_threads  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from myoflow.pipelines.stimulated_mass import baselines  # noqa: E402

CLASSES = ["low", "normal", "high"]


def _toy(n=30, d=13, seed=0):
    rng = np.random.default_rng(seed)
    y = np.array(CLASSES * (n // 3))
    X = rng.normal(size=(n, d)) + (np.searchsorted(CLASSES, y) == 0)[:, None] * 0.5
    return X, y


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: nothing to limit")
def test_gradient_boosting_fits_and_predicts_on_one_openmp_thread(monkeypatch):
    # Tiny folds: with a thread team per tree the OpenMP barriers cost ~25x the work (issue 19).
    seen = []
    fit, proba = HistGradientBoostingClassifier.fit, HistGradientBoostingClassifier.predict_proba

    def spy_fit(self, *a, **k):
        seen.append(("fit", _openmp_effective_n_threads()))
        return fit(self, *a, **k)

    def spy_proba(self, *a, **k):
        seen.append(("predict_proba", _openmp_effective_n_threads()))
        return proba(self, *a, **k)

    monkeypatch.setattr(HistGradientBoostingClassifier, "fit", spy_fit)
    monkeypatch.setattr(HistGradientBoostingClassifier, "predict_proba", spy_proba)
    X, y = _toy()
    with threadpool_limits(limits=2, user_api="openmp"):  # whatever earlier tests or the environment set
        assert _openmp_effective_n_threads() == 2
        clf = baselines.fit_baseline("descriptors_gb", X, y, classes=CLASSES, imbalance="class_weight", seed=0)
        baselines.proba_in_order(clf, X, CLASSES)
        assert _openmp_effective_n_threads() == 2  # the limit is lifted afterwards
    assert seen == [("fit", 1), ("predict_proba", 1)]


def test_one_thread_gives_the_same_probabilities_as_the_default():
    X, y = _toy(n=30, d=13, seed=3)
    limited = baselines.proba_in_order(
        baselines.fit_baseline("descriptors_gb", X, y, classes=CLASSES, imbalance="class_weight", seed=5),
        X, CLASSES)
    default = HistGradientBoostingClassifier(
        max_iter=150, learning_rate=0.05, max_depth=3, min_samples_leaf=5, l2_regularization=1.0,
        class_weight="balanced", random_state=5).fit(X, y)
    order = [list(default.classes_).index(c) for c in CLASSES]
    np.testing.assert_array_equal(limited, default.predict_proba(X)[:, order])


def test_a_class_with_fewer_subjects_than_folds_is_warned_about(caplog):
    import logging
    from types import SimpleNamespace

    import pandas as pd

    from myoflow.experiments import load_config
    from myoflow.experiments.registry import get_pipeline

    cfg = load_config("configs/stimulated_mass.yaml", overrides={"evaluate": {"splitter": "kfold", "n_splits": 5}})
    labels = ["low"] + ["normal"] * 6 + ["high"] * 5
    data = SimpleNamespace(participants=pd.DataFrame({"subject": [f"S{i:02d}" for i in range(12)], "label": labels}),
                           frequencies=(5.0, 10.0, 15.0, 20.0, 25.0), has_frequencies=lambda s, f: True)
    with caplog.at_level(logging.WARNING, logger="myoflow.pipelines.stimulated_mass.pipeline"):
        get_pipeline("stimulated-mass").folds(cfg, data)
    assert "class(es) {'low': 1} have fewer subjects than the 5 test folds" in caplog.text
    caplog.clear()
    data.participants = pd.DataFrame({"subject": [f"S{i:02d}" for i in range(15)],
                                      "label": ["low", "normal", "high"] * 5})
    with caplog.at_level(logging.WARNING, logger="myoflow.pipelines.stimulated_mass.pipeline"):
        get_pipeline("stimulated-mass").folds(cfg, data)
    assert "fewer subjects" not in caplog.text
