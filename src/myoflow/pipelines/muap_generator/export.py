"""Save, load and ONNX-export a trained MUAP generator, without any training code.

An exported generator is a folder::

    generator.safetensors   weights (+ the JSON config in the safetensors header)
    generator.json          config: output shape (rows, cols, times), fs, units, axis order,
                            condition names and declared ranges, architecture
    generator.onnx          optional: the generation path (conditions, z) -> MUAPs

:func:`load_generator` accepts that folder, the ``.safetensors`` file itself, or a
``myoflow run`` directory of the ``muap-generator`` pipeline (it then reads the
first finished fold's checkpoint and the config stored in its ``extras.json``).
Loading imports only :mod:`myoflow.models.muap_generator`, torch and safetensors.
"""
from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..._atomic import atomic_path, atomic_write_json
from ...errors import DataError, require

__all__ = ["save_generator", "load_generator", "export_generator_onnx", "GENERATOR_FILES"]

log = logging.getLogger(__name__)

GENERATOR_FILES = {"weights": "generator.safetensors", "config": "generator.json", "onnx": "generator.onnx"}
FORMAT = "myoflow-muap-generator"


def _describe(config: dict[str, Any]) -> dict[str, Any]:
    return {"format": FORMAT, "format_version": 1, "units": "V", "axis_order": ["n", "rows", "cols", "times"],
            "model": config}


def save_generator(generator, out_dir: str | Path, onnx: bool = False) -> Path:
    """Write ``generator.safetensors`` + ``generator.json`` (and ``generator.onnx`` if asked) into ``out_dir``.

    Returns
    -------
    Path of the folder.
    """
    from ...train.checkpoint import save_state_dict

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    info = _describe(generator.config())
    save_state_dict(generator.state_dict(), out / GENERATOR_FILES["weights"], metadata=info)
    atomic_write_json(out / GENERATOR_FILES["config"], info)
    if onnx:
        export_generator_onnx(generator, out / GENERATOR_FILES["onnx"])
    return out


def _from_state(config: dict[str, Any], state: dict[str, Any], where: str):
    from ...models.muap_generator import MUAPGenerator

    try:
        gen = MUAPGenerator.from_config(config)
        gen.load_state_dict(state)
    except (TypeError, KeyError, RuntimeError) as exc:
        raise DataError(f"weights do not match the generator config ({exc})", where) from None
    gen.eval()
    return gen


def _config_of(meta: dict[str, Any]) -> dict[str, Any] | None:
    if meta.get("format") == FORMAT and isinstance(meta.get("model"), dict):
        return meta["model"]
    return None


def load_generator(path: str | Path):
    """Rebuild a trained :class:`~myoflow.models.muap_generator.MUAPGenerator` (eval mode).

    Parameters
    ----------
    path : path
        An exported folder, its ``generator.safetensors``, or a ``muap-generator`` run directory.

    Raises
    ------
    DataError
        Nothing loadable at ``path`` (says what was looked for).
    """
    from ...train.checkpoint import load_state_dict

    p = Path(path)
    if p.is_file():
        state, meta = load_state_dict(p)
        cfg = _config_of(meta)
        if cfg is None:
            side = p.with_name(GENERATOR_FILES["config"])
            if side.is_file():
                cfg = _config_of(json.loads(side.read_text()))
        if cfg is None:
            raise DataError("checkpoint carries no generator config (and no generator.json beside it)", str(p))
        return _from_state(cfg, state, str(p))
    if not p.is_dir():
        raise DataError("generator not found (expected an exported folder, a .safetensors file or a run dir)", str(p))
    if (p / GENERATOR_FILES["weights"]).is_file():
        return load_generator(p / GENERATOR_FILES["weights"])
    folds = sorted(d for d in (p / "folds").glob("*") if (d / "result.json").is_file()) if (p / "folds").is_dir() else []
    for fdir in folds:
        ckpt = fdir / "muap_generator.safetensors"
        extras = fdir / "extras.json"
        if ckpt.is_file() and extras.is_file():
            cfg = json.loads(extras.read_text()).get("generator_config")
            if cfg:
                state, _ = load_state_dict(ckpt)
                return _from_state(cfg, state, str(ckpt))
    raise DataError(f"no {GENERATOR_FILES['weights']} and no finished muap-generator fold with a checkpoint", str(p))


def export_generator_onnx(generator, path: str | Path, batch: int = 4, rtol: float = 1e-4, seed: int = 0) -> float:
    """Export the generation path to ONNX and check it against PyTorch.

    The ONNX graph maps ``conditions`` (n, 6; physical units — range checks are the
    caller's job, see ``generator.json``) and ``z`` (n, latent_dim) to MUAPs
    (n, rows, cols, times) in volts, with a dynamic batch axis.

    Returns
    -------
    float
        Largest |ONNX − torch| relative to the largest |torch| output, over random
        in-range conditions and z; raises :class:`DataError` above ``rtol``.
    """
    import torch

    ort = require("onnxruntime", "onnx", "ONNX export of the MUAP generator")
    from ...models.muap_generator import MUAPDecoder

    dec = MUAPDecoder.from_generator(generator)
    rng = np.random.default_rng(seed)
    lo = np.array([generator.condition_ranges[n][0] for n in generator.condition_names])
    hi = np.array([generator.condition_ranges[n][1] for n in generator.condition_names])
    cond = (lo + rng.random((batch, len(lo))) * (hi - lo)).astype(np.float32)
    z = rng.standard_normal((batch, generator.latent_dim)).astype(np.float32)
    with atomic_path(path, suffix=".onnx") as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(dec, (torch.as_tensor(cond), torch.as_tensor(z)), str(tmp),
                          input_names=["conditions", "z"], output_names=["muaps"],
                          dynamic_axes={"conditions": {0: "n"}, "z": {0: "n"}, "muaps": {0: "n"}},
                          opset_version=17, dynamo=False)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    n_check = 64  # a different batch size than the export's, to exercise the dynamic axis
    cond2 = (lo + rng.random((n_check, len(lo))) * (hi - lo)).astype(np.float32)
    z2 = rng.standard_normal((n_check, generator.latent_dim)).astype(np.float32)
    with torch.no_grad():
        ref = dec(torch.as_tensor(cond2), torch.as_tensor(z2)).numpy()
    got = sess.run(None, {"conditions": cond2, "z": z2})[0]
    rel = float(np.max(np.abs(ref - got)) / max(float(np.max(np.abs(ref))), 1e-30))
    if rel > rtol:
        raise DataError(f"ONNX output differs from PyTorch by {rel:.2e} of the peak (> {rtol:g})", str(path))
    return rel
