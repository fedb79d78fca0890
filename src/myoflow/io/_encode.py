"""Exact, deterministic encoders for metadata dicts and DataFrames.

``encode_meta`` turns a metadata dict (nested dicts, lists, tuples, NumPy
scalars and arrays, DataFrames, paths) into JSON text plus a list of arrays stored beside
it; ``decode_meta`` inverts it exactly (types included). ``frame_to_bytes``
stores a DataFrame as Parquet bytes (pyarrow keeps every pandas dtype: int
widths, nullable ints, categoricals, datetimes, strings); object columns that
Arrow cannot type (mixed ``int``/``str`` ...) fall back to the tagged JSON.
"""
from __future__ import annotations

import io
import json
import math
from pathlib import PurePath
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError

__all__ = ["encode_meta", "decode_meta", "frame_to_bytes", "frame_from_bytes", "to_jsonable"]

_TAG = "__myoflow__"


def _encode(obj: Any, arrays: list[np.ndarray], where: str) -> Any:
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, int) and type(obj) is int:
        return obj
    if isinstance(obj, float) and type(obj) is float:
        if math.isfinite(obj):
            return obj
        return {_TAG: "float", "v": repr(obj)}
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind not in "biufcUS?":
            raise DataError(f"cannot store a NumPy array of dtype {obj.dtype} in metadata at {where}")
        arrays.append(np.ascontiguousarray(obj))
        return {_TAG: "ndarray", "i": len(arrays) - 1}
    if isinstance(obj, np.generic):
        if obj.dtype.kind not in "biufcUS?":
            raise DataError(f"cannot store a NumPy scalar of dtype {obj.dtype} in metadata at {where}")
        arrays.append(np.asarray(obj))
        return {_TAG: "npscalar", "i": len(arrays) - 1}
    if isinstance(obj, tuple):
        return {_TAG: "tuple", "v": [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, dict):
        if all(type(k) is str for k in obj) and _TAG not in obj:
            return {k: _encode(v, arrays, f"{where}.{k}") for k, v in obj.items()}
        return {
            _TAG: "dict",
            "v": [[_encode(k, arrays, where), _encode(v, arrays, f"{where}[{k!r}]")] for k, v in obj.items()],
        }
    if isinstance(obj, PurePath):
        return {_TAG: "path", "v": str(obj)}
    if isinstance(obj, pd.DataFrame):
        blob, header = frame_to_bytes(obj, f"table at {where}")
        arrays.append(np.frombuffer(blob, dtype=np.uint8).copy())
        return {_TAG: "dataframe", "i": len(arrays) - 1, "h": header}
    if isinstance(obj, (int, float)):  # bool/int/float subclasses (e.g. IntEnum)
        return _encode(int(obj) if isinstance(obj, int) else float(obj), arrays, where)
    raise DataError(
        f"cannot store a {type(obj).__name__} in metadata at {where}; "
        "use str, numbers, lists, dicts, NumPy arrays or DataFrames"
    )


def _decode(obj: Any, arrays: list[np.ndarray]) -> Any:
    if isinstance(obj, list):
        return [_decode(v, arrays) for v in obj]
    if isinstance(obj, dict):
        tag = obj.get(_TAG)
        if tag is None:
            return {k: _decode(v, arrays) for k, v in obj.items()}
        if tag == "float":
            return float(obj["v"])
        if tag == "ndarray":
            return arrays[obj["i"]]
        if tag == "npscalar":
            return arrays[obj["i"]][()]
        if tag == "tuple":
            return tuple(_decode(v, arrays) for v in obj["v"])
        if tag == "dict":
            return {_hashable(_decode(k, arrays)): _decode(v, arrays) for k, v in obj["v"]}
        if tag == "dataframe":
            return frame_from_bytes(np.asarray(arrays[obj["i"]]).tobytes(), obj["h"])
        if tag == "path":
            from pathlib import Path

            return Path(obj["v"])
        raise DataError(f"unknown metadata tag {tag!r} (file written by a newer myoflow?)")
    return obj


def _hashable(key: Any) -> Any:
    return tuple(_hashable(k) for k in key) if isinstance(key, list) else key


def encode_meta(meta: Any, where: str = "meta") -> tuple[str, list[np.ndarray]]:
    """Encode ``meta`` as JSON text plus the arrays it references.

    Returns
    -------
    text : str
        Deterministic JSON (key order as given).
    arrays : list of ndarray
        Arrays and NumPy scalars (as 0-d arrays), referenced by position.
    """
    arrays: list[np.ndarray] = []
    tree = _encode(meta, arrays, where)
    return json.dumps(tree, ensure_ascii=False, allow_nan=False), arrays


def decode_meta(text: str, arrays: list[np.ndarray]) -> Any:
    """Invert :func:`encode_meta`."""
    return _decode(json.loads(text), arrays)


def to_jsonable(obj: Any) -> Any:
    """Plain-JSON view of ``obj`` (NumPy scalars → Python, arrays → lists, tuples → lists)."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return to_jsonable(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, PurePath):
        return str(obj)
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    return str(obj)


# ------------------------------------------------------------------ frames
def _json_cell(v: Any) -> str:
    text, arrays = encode_meta(v, "cell")
    if arrays:
        # Arrays inside table cells would need side storage; keep cells simple.
        text = json.dumps({_TAG: "cellarrays", "t": text, "a": [[a.dtype.str, a.shape, a.tolist()] for a in arrays]})
    return text


def _unjson_cell(text: str) -> Any:
    obj = json.loads(text)
    if isinstance(obj, dict) and obj.get(_TAG) == "cellarrays":
        arrays = [np.asarray(v, dtype=np.dtype(dt)).reshape(shape) for dt, shape, v in obj["a"]]
        return decode_meta(obj["t"], arrays)
    return _decode(obj, [])


def frame_to_bytes(df: pd.DataFrame, where: str) -> tuple[bytes, dict[str, Any]]:
    """Serialise a DataFrame to Parquet bytes plus a small JSON-able header.

    The header records the row count (Parquet drops it for frames without
    columns), the column order and which object columns were JSON-encoded.
    """
    import pyarrow as pa

    if not isinstance(df, pd.DataFrame):
        raise DataError(f"{where} must be a DataFrame, got {type(df).__name__}")
    cols = list(df.columns)
    if any(not isinstance(c, str) for c in cols):
        raise DataError(f"{where} column names must be strings, got {cols}")
    if len(set(cols)) != len(cols):
        raise DataError(f"{where} has duplicated column names: {cols}")
    header: dict[str, Any] = {
        "n_rows": int(len(df)), "columns": cols, "json_columns": [], "categoricals": {},
        "dtypes": {c: str(t) for c, t in df.dtypes.items()},
    }
    if not cols:
        return b"", header
    if len(df) == 0 and all(_empty_like(t) for t in df.dtypes):
        header["empty"] = True  # rebuilt from dtypes on read: skips a Parquet round trip (hot in caches)
        return b"", header
    out = df.copy()
    for c in cols:
        if isinstance(out[c].dtype, pd.CategoricalDtype):
            # Arrow drops empty or non-string categoricals; keep categories and order explicitly.
            cats = out[c].cat.categories
            header["categoricals"][c] = {
                "categories": _json_cell(cats.tolist()), "dtype": str(cats.dtype), "ordered": bool(out[c].cat.ordered),
            }
        elif out[c].dtype == object:
            try:
                pa.array(out[c].to_numpy(), from_pandas=True)
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
                out[c] = [_json_cell(v) for v in out[c]]
                header["json_columns"].append(c)
    buf = io.BytesIO()
    try:
        out.to_parquet(buf, engine="pyarrow", index=None, compression="zstd")
    except (ValueError, TypeError, pa.ArrowException) as exc:
        raise DataError(f"cannot store {where}: {exc}") from None
    return buf.getvalue(), header


def _empty_like(dtype: Any) -> bool:
    try:
        return pd.Series([], dtype=str(dtype)).dtype == dtype and not isinstance(dtype, pd.CategoricalDtype)
    except (TypeError, ValueError):
        return False


def frame_from_bytes(blob: bytes, header: dict[str, Any]) -> pd.DataFrame:
    """Invert :func:`frame_to_bytes`."""
    if not header["columns"]:
        return pd.DataFrame(index=pd.RangeIndex(header["n_rows"]))
    if header.get("empty"):
        return pd.DataFrame({c: pd.Series([], dtype=header["dtypes"][c]) for c in header["columns"]})
    df = pd.read_parquet(io.BytesIO(blob), engine="pyarrow")
    for c in header["json_columns"]:
        df[c] = pd.Series([_unjson_cell(v) for v in df[c]], index=df.index, dtype=object)
    for c, spec in header.get("categoricals", {}).items():
        cats = pd.Index(_unjson_cell(spec["categories"]), dtype=spec["dtype"])
        values = df[c].astype(object) if len(df) else []
        df[c] = pd.Categorical(values, categories=cats, ordered=spec["ordered"])
    for c, dtype in header.get("dtypes", {}).items():
        if c not in header.get("categoricals", {}) and str(df[c].dtype) != dtype:
            try:
                df[c] = df[c].astype(dtype)
            except (TypeError, ValueError):
                pass  # keep what Arrow gave back; the values are intact
    return df[header["columns"]]
