"""The classifiers share one ``predict`` (argmax of ``predict_proba``) and one row softmax (models.base)."""
from __future__ import annotations

import numpy as np
import pytest

from myoflow.models import ESTIMATORS, get_estimator
from myoflow.models.base import MyoflowClassifier, softmax_rows

CLASSIFIERS = sorted(n for n in ESTIMATORS if not n.endswith(("_mlp", "_generator")))


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_every_classifier_predicts_through_the_shared_argmax(name):
    cls = get_estimator(name)
    assert issubclass(cls, MyoflowClassifier)
    assert cls.predict is MyoflowClassifier.predict, f"{cls.__name__} has its own copy of predict"


def test_predict_is_the_first_most_probable_class():
    class Fixed(MyoflowClassifier):
        classes_ = np.array(["a", "b", "c"])

        def predict_proba(self, X):
            return np.asarray(X, dtype=float)

    got = Fixed().predict([[0.2, 0.5, 0.3], [0.4, 0.4, 0.2], [0.0, 0.0, 1.0]])
    assert got.tolist() == ["b", "a", "c"]


def test_softmax_rows_sums_to_one_and_does_not_overflow():
    logits = np.array([[1000.0, 1001.0, 999.0], [0.0, 0.0, 0.0], [-5.0, 2.0, 1.0]], dtype=np.float32)
    p = softmax_rows(logits)
    assert p.dtype == np.float32 and np.isfinite(p).all()
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(p[1], 1 / 3, rtol=1e-6)
    e = np.exp(np.array([-5.0, 2.0, 1.0]) - 2.0)
    np.testing.assert_allclose(p[2], e / e.sum(), rtol=1e-6)
    assert np.argmax(p[0]) == 1
