"""ONNX export of a run's trained torch models, verified against PyTorch."""
from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import atomic_path, atomic_write_json
from .registry import load_config
from ..errors import DataError, require
from ._rundir import read_fold_json
from .registry import get_pipeline

__all__ = ["export_onnx", "export_run", "load_run_model", "check_export_paths"]



def _fold_models(result: Path) -> list[str]:
    """The model names a finished fold's ``result.json`` lists (a damaged file is named)."""
    try:
        models = json.loads(result.read_text(encoding="utf-8")).get("models", [])
    except (OSError, ValueError, AttributeError) as exc:
        raise DataError(f"cannot read the fold's result: {exc}", str(result)) from None
    return [str(m) for m in models] if isinstance(models, list) else []


def _default_model(models: list[str], preferred: tuple[str, ...]) -> str:
    """The model exported when none is named: the pipeline's first preference present, else the first
    that is not an extra ensemble member (``<model>.m1``), else the first."""
    for m in preferred:
        if m in models:
            return m
    return next((m for m in models if "." not in m), models[0])


def _pick_fold(run_dir: Path, model: str | None, fold: str | None,
               preferred: tuple[str, ...] = (), first: tuple[str, ...] = ()) -> tuple[str, str]:
    # the pipeline's deployable fold(s) first (gait-emg's final-all, trained on every subject: it sorted
    # first by name only while the cohort's folds were sim-k0), then by name
    def deployable(name: str) -> bool:
        return any(name == f or name.startswith(f + "-") for f in first)

    folds = sorted((p for p in (run_dir / "folds").glob("*") if (p / "result.json").is_file()),
                   key=lambda p: (not deployable(p.name), p.name))
    if not folds:
        raise DataError("no finished folds with checkpoints", str(run_dir))
    for p in folds:
        if fold is not None and p.name != fold:
            continue
        models = _fold_models(p / "result.json")
        if model is None and models:
            return p.name, _default_model(models, preferred)
        if model in models:
            return p.name, model
    trained = sorted({m for p in folds for m in _fold_models(p / "result.json")})
    if not trained:  # e.g. a run of the feature baselines alone: nothing with a network to export
        raise DataError("the run trained no network (its models were baselines without a torch module); rerun "
                        "with a neural model in evaluate.models to export one", str(run_dir))
    wanted = ", ".join(f"{k}={v!r}" for k, v in (("model", model), ("fold", fold)) if v is not None)
    raise DataError(f"no checkpoint for {wanted}; the run's networks are {trained}"
                    + ("" if fold is None else f" (folds: {[p.name for p in folds][:5]})"), str(run_dir))


def load_run_model(run_dir: str | Path, model: str | None = None, fold: str | None = None):
    """Rebuild a trained module from a run directory: (module, cfg, extras, model_name, fold_id)."""
    from ..train.checkpoint import load_state_dict

    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").is_file():
        raise DataError("not a run directory (no config.yaml)", str(run_dir))
    cfg = load_config(run_dir / "config.yaml")  # names the file when it is corrupt
    pipe = get_pipeline(cfg.pipeline)
    fold_id, model = _pick_fold(run_dir, model, fold, pipe.export_models, getattr(pipe, "export_folds", ()))
    fdir = run_dir / "folds" / fold_id
    extras = read_fold_json(fdir / "extras.json", {})
    info = (extras.get("models") or {}).get(model)
    if isinstance(info, dict) and "estimator" in info:
        # the one estimator save/load: JSON config in extras, weights in the fold's safetensors
        from ..models import load_estimator

        module = load_estimator(fdir / f"{model}.safetensors", config=info["estimator"]).export_module()
        return module, cfg, extras, model, fold_id
    pipeline = get_pipeline(cfg.pipeline)
    module = pipeline.build_model(cfg, model, extras)
    if module is None:
        raise DataError(f"model {model!r} of pipeline {cfg.pipeline!r} is not an exportable torch module", str(run_dir))
    state, _ = load_state_dict(fdir / f"{model}.safetensors")
    module.load_state_dict(state)
    module.eval()
    return module, cfg, extras, model, fold_id


def export_onnx(module, example_inputs: tuple, path: str | Path, input_names: list[str] | None = None,
                atol: float = 1e-4, n_checks: int = 3, seed: int = 0) -> float:
    """Export ``module`` to ONNX and check it against PyTorch on random inputs.

    Returns the largest absolute difference seen; raises if it exceeds ``atol``.
    """
    import torch

    ort = require("onnxruntime", "onnx", "ONNX export")
    names = input_names or [f"input{i}" for i in range(len(example_inputs))]
    tensors = tuple(torch.as_tensor(np.asarray(a)) for a in example_inputs)
    dyn = {n: {0: "batch"} for n in names}
    module.eval()
    with atomic_path(path, suffix=".onnx") as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, tensors, str(tmp), input_names=names, output_names=["output"],
                          dynamic_axes=dyn, opset_version=17, dynamo=False)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(seed)
    worst = 0.0
    for _ in range(n_checks):
        feeds = {}
        for n, a in zip(names, example_inputs):
            a = np.asarray(a)
            feeds[n] = (rng.standard_normal(a.shape).astype(a.dtype) if np.issubdtype(a.dtype, np.floating) else a)
        with torch.no_grad():
            ref = module(*[torch.as_tensor(feeds[n]) for n in names])
        if isinstance(ref, (tuple, list)):
            ref = ref[0]
        got = sess.run(None, feeds)[0]
        worst = max(worst, float(np.max(np.abs(ref.numpy() - got))))
    if worst > atol:
        raise DataError(f"ONNX output differs from PyTorch by {worst:.2e} (> {atol:g})", str(path))
    return worst


def check_export_paths(out: str | Path) -> Path:
    """Refuse an ``--onnx`` path whose writes would replace a file that is not an earlier export's.

    The model goes to ``OUT`` and its preprocessing to ``OUT.json`` (``with_suffix``): ``--onnx RUN/metrics.json``
    wrote the ONNX graph over the run's metrics and then the export's JSON over that, and ``--onnx model.json``
    lost the graph under its own JSON, both with exit 0. Hence a name ending in ``.onnx`` (so the two files
    differ), and an existing ``OUT.json`` is overwritten only when an earlier export wrote it.

    Returns the JSON sidecar path.
    """
    from ..errors import ConfigError

    out = Path(out)
    if out.suffix.lower() != ".onnx":
        raise ConfigError(f"--onnx: {out} does not end in .onnx; give a file name such as "
                          f"{out.with_suffix('.onnx').name} (the preprocessing is written beside it as NAME.json)")
    side = out.with_suffix(".json")
    if side.is_dir() or (side.exists() and not _is_export_info(side)):
        raise DataError(f"--onnx {out.name}: exporting writes its preprocessing to {side.name}, which exists and "
                        "was not written by an earlier export; choose another --onnx name", str(side))
    return side


def _is_export_info(path: Path) -> bool:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and "max_abs_diff_vs_torch" in doc and "preprocessing" in doc


def _one_graph(module) -> bool:
    """True when ``module`` computes the model's output itself (it has a ``forward``)."""
    import torch

    return type(module).forward is not torch.nn.Module.forward


def _refuse_ensemble(run_dir: Path, module, model: str, fold_id: str) -> None:
    """Say which network of the fold can be exported instead of ``model``.

    The deep window classifiers (``emg_cnn``, ``hybrid``, ``recipe_cnn_lstm``) keep their ensemble members in a
    ``ModuleList``: their prediction is the members' mean softmax (over test-time shifts, with classic features
    computed beside the network for ``hybrid``), made in ``predict_proba``, not in one module. Tracing the
    list ended in torch's "missing the required forward function" traceback.
    """
    others = []
    for name in _fold_models(run_dir / "folds" / fold_id / "result.json"):
        if name == model:
            continue
        try:
            other = load_run_model(run_dir, name, fold_id)[0]
        except DataError:
            continue
        if _one_graph(other):
            others.append(name)
    way = (f"export one of the fold's single networks instead: --model {others[0]}"
           + (f" (or {others[1:]})" if len(others) > 1 else "")) if others else \
        "the fold has no single network to export (add e.g. cnn_lstm_pretrained to evaluate.models)"
    n = len(module) if hasattr(module, "__len__") else "several"
    raise DataError(f"model {model!r} of fold {fold_id} makes its prediction outside one torch module (the mean "
                    f"softmax of its {n} member network(s), with test-time shifts or classic features where set), "
                    f"so it has no single ONNX graph; {way}", str(run_dir))


def export_run(run_dir: str | Path, out: str | Path, model: str | None = None, fold: str | None = None) -> dict[str, Any]:
    """Export one trained model of a run to ONNX, with preprocessing parameters beside it (``OUT.json``).

    ``out`` must end in ``.onnx``; an existing ``OUT.json`` that an earlier export did not write is never
    replaced (:func:`check_export_paths`).
    """
    side = check_export_paths(out)
    module, cfg, extras, model, fold_id = load_run_model(run_dir, model, fold)
    if not _one_graph(module):
        _refuse_ensemble(Path(run_dir), module, model, fold_id)
    pipeline = get_pipeline(cfg.pipeline)
    try:
        example = pipeline.example_inputs(cfg, model, extras)
    except NotImplementedError as exc:
        raise DataError(str(exc), str(run_dir)) from None
    names = extras.get("input_names") if isinstance(extras.get("input_names"), list) else None
    diff = export_onnx(module, example, out, input_names=names)
    info = {"pipeline": cfg.pipeline, "model": model, "fold": fold_id, "max_abs_diff_vs_torch": diff,
            "inputs": [list(np.asarray(a).shape) for a in example], "preprocessing": extras}
    atomic_write_json(side, info)
    return info
