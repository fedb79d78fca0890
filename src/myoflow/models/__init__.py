"""Models: each ``torch.nn.Module`` beside its estimator, a registry by name, one save/load.

>>> from myoflow.models import make_estimator
>>> est = make_estimator("cnn_lstm", epochs=5)          # doctest: +SKIP

Registry names are what configs use (``model: {name: cnn_lstm, params: {...}}``);
:func:`check_params` validates ``params`` against the estimator's signature.
Entries are imported lazily, so ``import myoflow.models`` does not import torch.
"""
from __future__ import annotations

import difflib
import importlib
import inspect
from typing import Any, Mapping

from ..errors import ConfigError
from .base import MyoflowEstimator, estimator_config, estimator_from_parts, estimator_tensors, load_estimator, \
    save_estimator

__all__ = ["ESTIMATORS", "get_estimator", "make_estimator", "check_params", "check_model_spec", "build_from_sections",
           "estimator_names", "MyoflowEstimator", "save_estimator", "load_estimator", "estimator_config",
           "estimator_tensors", "estimator_from_parts"]

#: Registry name → "module:Class" (imported on first use).
ESTIMATORS: dict[str, str] = {
    "attention_bilstm": "myoflow.models.attention_bilstm:MassLevelClassifier",
    "cnn_lstm": "myoflow.models.cnn_lstm:CNNLSTMClassifier",
    "deep_window": "myoflow.models.deep_classifier:DeepWindowClassifier",
    "deep_burst": "myoflow.models.grid_burst:BurstDeepClassifier",
    "cnn_lstm_burst": "myoflow.models.grid_burst:BurstCNNLSTMClassifier",
    "recipe_cnn_lstm": "myoflow.models.cnn_lstm_recipe:RecipeCNNLSTMClassifier",
    "feature_classifier": "myoflow.models.feature_classifier:FeatureClassifier",
    "torque_emg_mlp": "myoflow.models.gait_mlp:TorqueBasedEmgRegressor",
    "kinematics_emg_mlp": "myoflow.models.gait_mlp:KinematicsEmgRegressor",
    "muap_generator": "myoflow.models.muap_generator:MuapGeneratorEstimator",
}


def estimator_names() -> list[str]:
    return sorted(ESTIMATORS)


def get_estimator(name: str) -> type[MyoflowEstimator]:
    """The estimator class registered as ``name``."""
    if name not in ESTIMATORS:
        hint = difflib.get_close_matches(str(name), ESTIMATORS, n=1)
        extra = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise ConfigError(f"unknown model {name!r}{extra}; known models: {estimator_names()}")
    module, attr = ESTIMATORS[name].split(":")
    return getattr(importlib.import_module(module), attr)


def _signature_params(cls: type) -> list[str]:
    return [p.name for p in inspect.signature(cls.__init__).parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def check_params(name: str, params: Mapping[str, Any], where: str = "model") -> None:
    """Raise :class:`ConfigError` naming the first parameter that ``name``'s estimator does not take.

    Example message: ``model.params.hiden: unknown parameter of CNNLSTMClassifier (did you mean 'hidden'?)``.
    """
    cls = get_estimator(name)
    known = _signature_params(cls)
    for key in params:
        if key not in known:
            hint = difflib.get_close_matches(str(key), known, n=1)
            extra = f" (did you mean {hint[0]!r}?)" if hint else f"; parameters: {known}"
            raise ConfigError(f"{where}.params.{key}: unknown parameter of {cls.__name__}{extra}")


def make_estimator(name: str, **params: Any) -> MyoflowEstimator:
    """A fresh estimator ``name`` with ``params`` (checked against its signature)."""
    check_params(name, params)
    return get_estimator(name)(**params)


def build_from_sections(name: str, params: Mapping[str, Any], defaults: Mapping[str, Any] | None = None,
                        **fixed: Any) -> MyoflowEstimator:
    """Estimator from a config's ``model`` section: ``defaults`` (e.g. the ``train`` section) give any
    parameter of the same name that the estimator takes; ``params`` override them; ``fixed`` (chosen by
    the pipeline: seed, device, variant switches) override both."""
    known = set(_signature_params(get_estimator(name)))
    merged = {k: v for k, v in (defaults or {}).items() if k in known}
    merged.update(params)
    merged.update(fixed)
    return make_estimator(name, **merged)


def check_model_spec(spec: Any, where: str = "model", allowed: tuple[str, ...] | None = None) -> None:
    """Validate a config's ``{name, params}`` section: ``name`` registered (and among ``allowed``),
    every ``params`` key a parameter of that estimator. Raises :class:`ConfigError` naming the key."""
    name = getattr(spec, "name", None)
    params = getattr(spec, "params", None) or {}
    if allowed is not None and name not in allowed:
        raise ConfigError(f"{where}.name: {name!r} is not a model of this pipeline; expected one of {list(allowed)}")
    if name not in ESTIMATORS:
        get_estimator(name)  # raises with a suggestion
    check_params(name, params, where)
    try:
        get_estimator(name)(**params)._validate_params()
    except ConfigError as exc:
        raise ConfigError(f"{where}.params: {exc}") from None
