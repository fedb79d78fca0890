"""One estimator base and one save/load for every myoflow model.

Every estimator follows scikit-learn's contract: ``__init__`` stores its parameters
unchanged, ``fit(X_or_epochs, y=None, groups=None)`` returns ``self``, learned state
lives in attributes ending in ``_``, :class:`~sklearn.exceptions.NotFittedError`
is raised before ``fit``, and ``clone``/``get_params``/``set_params`` work.

Persistence is the same for all of them: the fitted torch module's ``state_dict``
goes into a safetensors file and everything else (registry name, parameters,
small fitted state such as classes and scaler statistics) into a JSON config —
in the safetensors header (:func:`save_estimator`) or, for run directories,
beside it. :func:`load_estimator` rebuilds the estimator from the JSON and the
tensors only: the class is looked up by its registry name, so loading never
imports or executes anything named by the file.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import NotFittedError

from ..errors import DataError

__all__ = ["MyoflowEstimator", "MyoflowClassifier", "softmax_rows", "estimator_config", "estimator_tensors",
           "estimator_from_parts", "save_estimator", "load_estimator", "scaler_state", "scaler_from_state", "FORMAT"]

FORMAT = "myoflow-estimator"


def _jsonable(value: Any) -> Any:
    """Parameters as plain JSON (tuples → lists, NumPy scalars → Python)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _typed_params(cls: type, params: dict[str, Any]) -> dict[str, Any]:
    """JSON lists back to tuples where the signature's default is a tuple (so ``get_params`` round-trips)."""
    import inspect

    sig = inspect.signature(cls.__init__).parameters
    out = dict(params)
    for k, v in params.items():
        if k in sig and isinstance(sig[k].default, tuple) and isinstance(v, list):
            out[k] = tuple(v)
    return out


def scaler_state(scaler) -> dict[str, list[float]]:
    """A fitted :class:`~sklearn.preprocessing.StandardScaler` as JSON-able fitted state: per-feature mean and scale."""
    return {"mean": scaler.mean_.tolist(), "scale": scaler.scale_.tolist()}


def scaler_from_state(state: dict[str, Any]):
    """The fitted StandardScaler back from :func:`scaler_state` output (reads the ``mean`` and ``scale`` keys only).

    ``transform`` uses only ``mean_`` and ``scale_``, so the restored scaler transforms exactly as the fitted
    one; ``var_`` is set to ``scale_**2`` for code that reads it.
    """
    from sklearn.preprocessing import StandardScaler

    s = StandardScaler()
    s.mean_ = np.asarray(state["mean"], dtype=float)
    s.scale_ = np.asarray(state["scale"], dtype=float)
    s.var_ = s.scale_ ** 2
    s.n_features_in_ = len(s.mean_)
    return s


class MyoflowEstimator(BaseEstimator):
    """Base of every myoflow estimator (deep or classic).

    Subclasses set :attr:`registry_name`, :attr:`_module_attr` (the fitted torch
    module whose weights are saved; ``None`` for estimators without one) and
    implement :meth:`_fitted_state` / :meth:`_restore` (JSON-able fitted state
    other than the weights, and rebuilding the untrained module from it).
    """

    registry_name: ClassVar[str] = ""
    _module_attr: ClassVar[str | None] = "model_"

    # ---------------------------------------------------------------- contract
    def _check_fitted(self) -> None:
        attr = self._module_attr or "fitted_"
        if not hasattr(self, attr):
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit() first")

    def _validate_params(self) -> None:
        """Raise :class:`~myoflow.errors.ConfigError` for a bad parameter value (called by ``fit`` and by
        config validation, never by ``__init__``); the default checks nothing."""

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, self._module_attr or "fitted_")

    # ------------------------------------------------------------ persistence
    def _fitted_state(self) -> dict[str, Any]:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    def _restore(self, fitted: dict[str, Any]) -> None:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    def export_module(self):
        """The fitted torch module (eval mode) for ONNX export."""
        self._check_fitted()
        return getattr(self, self._module_attr).eval()

    def save(self, path: str | Path) -> Path:
        """Write the fitted estimator to ``path`` (safetensors; see :func:`save_estimator`)."""
        return save_estimator(self, path)

    @classmethod
    def load(cls, path: str | Path, config: dict[str, Any] | None = None) -> "MyoflowEstimator":
        """Read an estimator written by :meth:`save` (checks it is a ``cls``)."""
        est = load_estimator(path, config)
        if not isinstance(est, cls):
            raise DataError(f"checkpoint holds a {type(est).__name__}, not a {cls.__name__}", str(path))
        return est


class MyoflowClassifier(ClassifierMixin, MyoflowEstimator):
    """Base of the myoflow classifiers: ``predict`` is the most probable class of ``predict_proba``.

    Subclasses implement ``predict_proba(X)`` → (n_samples, n_classes), columns in ``classes_`` order.
    """

    def predict(self, X: Any) -> np.ndarray:
        """Most probable class per sample, shape (n_samples,): labels from ``classes_`` (a tie: the first)."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def softmax_rows(logits: np.ndarray) -> np.ndarray:
    """Softmax of each row of ``logits`` (n_samples, n_classes); the row maximum is subtracted first so that
    ``exp`` cannot overflow."""
    logits = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)


# -------------------------------------------------------------- save / load
def estimator_config(est: MyoflowEstimator) -> dict[str, Any]:
    """JSON-able description of a fitted estimator: registry name, parameters, fitted state."""
    est._check_fitted()
    return {"format": FORMAT, "format_version": 1, "estimator": est.registry_name,
            "params": _jsonable(est.get_params(deep=False)), "fitted": _jsonable(est._fitted_state())}


def estimator_tensors(est: MyoflowEstimator) -> dict[str, Any]:
    """The fitted module's ``state_dict`` on the CPU (empty for estimators without torch)."""
    est._check_fitted()
    if est._module_attr is None:
        return {}
    module = getattr(est, est._module_attr)
    return {k: v.detach().cpu() for k, v in module.state_dict().items()}


def estimator_from_parts(config: dict[str, Any], tensors: dict[str, Any] | None, where: str = "") -> MyoflowEstimator:
    """Rebuild a fitted estimator from :func:`estimator_config` output and its tensors."""
    from . import get_estimator

    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise DataError("not a myoflow estimator description (format field missing)", where or None)
    try:
        cls = get_estimator(config["estimator"])
        est = cls(**_typed_params(cls, config["params"]))
        est._restore(config["fitted"])
        if est._module_attr is not None:
            module = getattr(est, est._module_attr)
            module.load_state_dict(tensors or {})
            module.eval()
    except DataError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise DataError(f"estimator description and weights do not match ({type(exc).__name__}: "
                        f"{str(exc).splitlines()[0][:200]})", where or None) from None
    return est


def save_estimator(est: MyoflowEstimator, path: str | Path) -> Path:
    """Write weights + JSON config into one safetensors file (atomically); returns the path."""
    from ..train.checkpoint import save_state_dict

    path = Path(path)
    save_state_dict(estimator_tensors(est), path, metadata=estimator_config(est))
    return path


def load_estimator(path: str | Path, config: dict[str, Any] | None = None) -> MyoflowEstimator:
    """Rebuild an estimator from a safetensors file; ``config`` when the JSON is not in its header.

    Raises
    ------
    DataError
        Missing, truncated or corrupt file, or weights that do not fit the config.
    """
    from ..train.checkpoint import load_state_dict

    tensors, meta = load_state_dict(path)
    cfg = config if config is not None else meta
    if cfg.get("format") != FORMAT:
        side = Path(path).with_suffix(".json")
        if config is None and side.is_file():
            try:
                cfg = json.loads(side.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise DataError(f"unreadable estimator config ({exc})", str(side)) from None
    return estimator_from_parts(cfg, tensors, str(path))
