"""Typed experiment configuration: YAML → validated dataclasses.

Every experiment is one YAML file whose ``pipeline`` key names a registered
pipeline; the pipeline declares a dataclass (subclass of :class:`ExperimentConfig`)
with typed sections. :func:`from_dict` builds it, rejecting unknown keys by name
and values of the wrong type, so a typo never silently falls back to a default.

A ``quick:`` section holds overrides (same nesting) applied by ``--quick``.

Models are configured in one scheme everywhere: ``model: {name: <registry name>,
params: {...}}`` (:class:`ModelSpec`); the pipeline's config checks ``params``
against the estimator's signature (:func:`myoflow.models.check_params`).

This module is core: it imports nothing above it. :func:`load_config` resolves the
pipeline's config class through ``resolve`` (``myoflow.experiments.load_config``
passes the pipeline registry).
"""
from __future__ import annotations

import dataclasses
import math
import os
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal, Mapping, Sequence, TypeVar

import yaml

from .errors import ConfigError

__all__ = [
    "ModelSpec",
    "TrainConfig",
    "ExperimentConfig",
    "from_dict",
    "to_dict",
    "deep_merge",
    "load_yaml",
    "parse_yaml",
    "load_config",
]

T = TypeVar("T")


@dataclass
class ModelSpec:
    """A model by registry name with its estimator parameters (``model: {name: ..., params: {...}}``).

    Parameters the pipeline decides (seed, device, variant switches) are not given here;
    the ``train`` section supplies any estimator parameter of the same name (epochs, lr, ...),
    and ``params`` overrides it.
    """

    name: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainConfig:
    """Optimisation settings shared by the neural pipelines."""

    epochs: int = 60
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    optimizer: Literal["adam", "adamw", "sgd", "rmsprop"] = "adam"
    patience: int = 10
    val_fraction: float = 0.2
    imbalance: Literal["none", "class_weight", "oversample", "both"] = "class_weight"
    device: str = "auto"

    def __post_init__(self) -> None:
        if self.patience < 0:
            raise ConfigError(f"train.patience must be >= 0, got {self.patience}")
        if self.weight_decay < 0:
            raise ConfigError(f"train.weight_decay must be >= 0, got {self.weight_decay}")
        if self.epochs < 1:
            raise ConfigError(f"train.epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 1:
            raise ConfigError(f"train.batch_size must be >= 1, got {self.batch_size}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ConfigError(f"train.val_fraction must be in [0, 1), got {self.val_fraction}")
        if self.lr <= 0:
            raise ConfigError(f"train.lr must be > 0, got {self.lr}")


@dataclass
class ExperimentConfig:
    """Fields every experiment has; pipelines subclass it to add typed sections."""

    name: str
    pipeline: str
    seed: int = 0
    train: TrainConfig = field(default_factory=TrainConfig)
    quick: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- conversion
def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _check_number(value: float, key: str, signed: bool) -> None:
    # Every number in a config is a count, rate, duration, fraction or weight: NaN/inf
    # or a negative value is always a typo that would otherwise surface deep inside training.
    if not math.isfinite(value):
        raise ConfigError(f"{key}: must be a finite number, got {value!r}")
    if value < 0 and not signed:
        raise ConfigError(f"{key}: must be >= 0, got {value!r}")


#: A number in exponent form without a dot (``1e-3``), which PyYAML leaves a string.
_YAML11_EXPONENT = re.compile(r"[-+]?[0-9]+[eE][-+]?[0-9]+")


def _convert(value: Any, tp: Any, key: str, signed: bool = False) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        alternatives = [a for a in args if a is not type(None)]
        for a in alternatives:
            try:
                return _convert(value, a, key, signed)
            except ConfigError:
                if len(alternatives) == 1:
                    raise  # its own message says more than "matches none of"
                continue
        raise ConfigError(f"{key}: {value!r} matches none of {[_type_name(a) for a in args]}")
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{key}: {value!r} is not one of {list(args)}")
        return value
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key}: expected a mapping for section {tp.__name__}, got {type(value).__name__}")
        return from_dict(tp, value, prefix=key)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(value):
                raise ConfigError(f"{key}: expected {len(args)} items, got {len(value)}")
            return tuple(_convert(v, a, f"{key}[{i}]", signed) for i, (v, a) in enumerate(zip(value, args)))
        inner = args[0] if args else Any
        items = [_convert(v, inner, f"{key}[{i}]", signed) for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        vt = args[1] if len(args) == 2 else Any
        return {str(k): _convert(v, vt, f"{key}.{k}", signed) for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true/false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        _check_number(value, key, signed)
        return value
    if tp is float:
        if isinstance(value, str) and _YAML11_EXPONENT.fullmatch(value.strip()):
            # YAML 1.1 (PyYAML) reads 1e-3 without a dot as a string; YAML 1.2 and every user read it as 0.001
            value = float(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        _check_number(float(value), key, signed)
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            # YAML reads a class named 1 as a number; say how to keep it a name (never converted silently)
            quote = (f" (YAML read it as a number: quote it, '{value}')"
                     if isinstance(value, (int, float)) and not isinstance(value, bool) else "")
            raise ConfigError(f"{key}: expected a string, got {value!r}{quote}")
        return value
    if tp is Path:
        if not isinstance(value, (str, Path)):
            raise ConfigError(f"{key}: expected a path, got {value!r}")
        return Path(value).expanduser()
    return value


def check_names(values: Sequence[str], known: Sequence[str], key: str, what: str = "name") -> None:
    """A list setting of names (``evaluate.models``): every name known, none twice (ConfigError naming ``key``).

    A model named twice would run twice in the same folds under one name, its second results replacing the
    first's.
    """
    unknown = [v for v in values if v not in known]
    if unknown:
        raise ConfigError(f"{key}: unknown {what}(s) {unknown}; choose from {list(known)}")
    twice = sorted({v for v in values if list(values).count(v) > 1})
    if twice:
        raise ConfigError(f"{key}: {twice} named more than once")


def from_dict(cls: type[T], data: Mapping[str, Any], prefix: str = "") -> T:
    """Build dataclass ``cls`` from a mapping, validating keys and types.

    Raises
    ------
    ConfigError
        Naming the offending key (dotted path) for unknown keys, missing
        required keys and values of the wrong type.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"{prefix or 'config'}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = [k for k in data if k not in fields]
    if unknown:
        where = f" in section '{prefix}'" if prefix else ""
        raise ConfigError(
            f"unknown config key '{(prefix + '.') if prefix else ''}{unknown[0]}'{where}; "
            f"allowed keys: {sorted(fields)}"
        )
    kwargs = {}
    for name, f in fields.items():
        key = f"{prefix}.{name}" if prefix else name
        if name in data:
            kwargs[name] = _convert(data[name], hints[name], key, bool(f.metadata.get("signed")))
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"missing required config key '{key}'")
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{prefix or cls.__name__}: {exc}") from None


def to_dict(obj: Any) -> Any:
    """Dataclass → plain YAML/JSON-able structure (Paths as str, tuples as lists)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): to_dict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return obj


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Recursively merge ``override`` into a copy of ``base``."""
    out = dict(base)
    for k, v in override.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key given twice in one mapping (YAML lets the last win silently)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                try:
                    first = seen.setdefault(key, key_node.start_mark.line + 1)
                except TypeError:  # unhashable key: SafeLoader reports it below
                    continue
                if first != key_node.start_mark.line + 1:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"key {key!r} appears twice (lines {first} and {key_node.start_mark.line + 1})",
                        key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _UniqueKeyLoader.construct_mapping)


def parse_yaml(text: str, where: str) -> Any:
    """Parse YAML text safely (no object construction, duplicated keys refused); errors name ``where``."""
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        detail = " ".join(str(exc).split())
        raise ConfigError(f"{where}: invalid YAML ({detail})") from None
    except RecursionError:
        raise ConfigError(f"{where}: invalid YAML (nested too deeply)") from None


def read_text_utf8(path: Path, what: str = "file") -> str:
    """Read ``path`` as UTF-8, naming the file and the offending byte otherwise."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read {what}: {exc.strerror or exc}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: {what} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
            "save it as UTF-8") from None


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping with a ``yaml.SafeLoader``; clear errors for missing, non-UTF-8 or invalid files."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    data = parse_yaml(read_text_utf8(path, "config"), str(path))
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def _normalized(config_class: type, raw: dict[str, Any]) -> dict[str, Any]:
    """``raw`` through the config class's ``normalize_config`` hook, if it has one (e.g. muscle-id's
    one-cohort shorthand ``data: {source: folder, path: ...}``)."""
    normalize = getattr(config_class, "normalize_config", None)
    return normalize(raw) if normalize is not None else raw


def _check_relative_data_paths(section: Any, config_path: Path, where: str, key: str = "data") -> None:
    """Stop with a clear error when a relative ``path`` in the data section is missing from the working
    directory but present next to the config file.

    Relative data paths are read from the working directory (as the shipped configs' ``../shared/data``
    are); a user who wrote them relative to the YAML file's folder would otherwise get a bare
    "folder not found".
    """
    if isinstance(section, Mapping):
        for k, v in section.items():
            if k == "path" and isinstance(v, (str, os.PathLike)):
                p = Path(v)
                beside = config_path.parent / p
                if not p.is_absolute() and not p.exists() and beside.exists() and config_path.parent != Path("."):
                    raise ConfigError(
                        f"{where}: {key}.path: {str(v)!r} is not found from the working directory "
                        f"({Path.cwd()}); relative paths are read from the working directory, not the "
                        f"config's folder: write {str(beside)!r} or an absolute path")
            else:
                _check_relative_data_paths(v, config_path, where, f"{key}.{k}")


def load_config(source: str | Path | Mapping[str, Any], quick: bool = False,
                overrides: Mapping[str, Any] | None = None, *,
                resolve: Callable[[str], type] | None = None) -> ExperimentConfig:
    """Load and validate an experiment config for its pipeline.

    Parameters
    ----------
    source : path or mapping
        YAML file or an already-parsed mapping.
    quick : bool
        Apply the config's ``quick`` overrides (smaller cohorts/epochs).
    overrides : mapping, optional
        Further overrides (same nesting), applied last.
    resolve : callable
        Pipeline name → its config class (``myoflow.experiments.load_config`` passes the registry).
    """
    if resolve is None:
        raise ConfigError("load_config needs a pipeline resolver; use myoflow.experiments.load_config")

    raw = load_yaml(source) if not isinstance(source, Mapping) else dict(source)
    where = str(source) if not isinstance(source, Mapping) else "config"
    if "pipeline" not in raw:
        raise ConfigError(f"{where}: missing required key 'pipeline'")
    if not isinstance(raw["pipeline"], str):
        raise ConfigError(f"{where}: pipeline: expected a pipeline name, got {raw['pipeline']!r}")
    try:
        config_class = resolve(raw["pipeline"])
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    if quick:
        # Validate the config as written first, so an error in it is reported even
        # when the quick section or an override would have replaced the bad value.
        try:
            from_dict(config_class, _normalized(config_class, raw))
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    if quick:
        q = raw.get("quick") or {}
        if not isinstance(q, Mapping):
            raise ConfigError(f"{where}: 'quick' must be a mapping of overrides")
        raw = deep_merge(raw, q)
    if overrides:
        raw = deep_merge(raw, overrides)
    raw = _normalized(config_class, raw)
    if not isinstance(source, Mapping):
        _check_relative_data_paths(raw.get("data"), Path(source), where)
    try:
        return from_dict(config_class, raw)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
