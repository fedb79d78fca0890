"""MATLAB ``.mat`` files: v4/v5/v7 (scipy.io) and v7.3 (HDF5, via h5py).

Without hints the reader takes the one large numeric array as the data and a
scalar named like a sampling rate (``fs``, ``Fs``, ``fsamp``, ``SamplingFrequency``,
``srate`` ...) as ``fs``. Hints name them when a file is ambiguous:
``data_var=``, ``fs_var=`` or ``fs=``, ``ch_names=``, ``channels_axis=``.
OTBiolab+ exports (``Data``/``Description``/``SamplingFrequency``) are handed to
:func:`myoflow.io.datasets.openhdemg.read_otb_mat`.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..containers import Recording, Trial
from ..errors import DataError
from ._common import check_file, check_fs, check_hint_units, make_recording, to_volts

__all__ = ["read_mat", "load_mat_variables", "read_variables"]

log = logging.getLogger(__name__)

_FS_NAMES = ("fs", "fsamp", "samplingfrequency", "sampling_frequency", "samplingrate", "sampling_rate",
             "srate", "samplerate", "sample_rate", "sf", "freq")


_TIME_VARS = ("time", "times", "t", "timestamps", "time_s")


def _is_v73(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(128)
    return b"MATLAB 7.3" in head or head[:8] == b"\x89HDF\r\n\x1a\n"


def load_mat_variables(path: str | os.PathLike, structs: bool = False) -> dict[str, Any]:
    """All top-level numeric/char variables of a .mat file (any version) as NumPy arrays.

    v7.3 arrays are transposed back to MATLAB's (rows, cols) orientation; cell
    arrays of v7.3 files are skipped, and so are their structs unless ``structs``
    (then each is a ``{field: array}`` dict of its numeric fields); v5 structs are
    returned as scipy.io gives them.
    """
    p = check_file(path)
    where = str(p)
    if _is_v73(p):
        return _load_v73(p, structs)
    import scipy.io

    try:
        out = scipy.io.loadmat(p, squeeze_me=False, mat_dtype=False)
    except NotImplementedError:
        return _load_v73(p, structs)
    except (ValueError, TypeError, OSError, EOFError, AssertionError, IndexError, KeyError) as exc:
        raise DataError(f"cannot read as a MATLAB file (truncated or corrupt?): {exc}", where) from None
    return {k: v for k, v in out.items() if not k.startswith("__")}


def _load_v73(p: Path, structs: bool = False) -> dict[str, Any]:
    import h5py

    try:
        f = h5py.File(p, "r")
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read as a MATLAB v7.3 (HDF5) file (truncated or corrupt?): {exc}", str(p)) from None
    out: dict[str, Any] = {}
    with f:
        for name, obj in f.items():
            cls = obj.attrs.get("MATLAB_class", b"")
            cls = cls.decode() if isinstance(cls, bytes) else str(cls)
            if structs and isinstance(obj, h5py.Group) and cls == "struct" and not name.startswith("#"):
                fields = {}
                order = list(obj.keys())
                try:  # MATLAB keeps the fields' order in an attribute (HDF5 lists them alphabetically)
                    named = ["".join(c.decode() if isinstance(c, bytes) else str(c) for c in np.ravel(x))
                             for x in obj.attrs["MATLAB_fields"]]
                    order = [k for k in named if k in obj] + [k for k in order if k not in named]
                except (KeyError, TypeError, ValueError, UnicodeDecodeError):
                    pass
                for k in order:
                    ds = obj[k]
                    if isinstance(ds, h5py.Dataset) and ds.dtype.kind in "biuf":
                        try:
                            fields[k] = np.asarray(ds[()]).T
                        except OSError as exc:
                            raise DataError(f"cannot read field {name}.{k} (truncated file?): {exc}", str(p)) from None
                out[name] = fields
                continue
            if name.startswith("#") or not isinstance(obj, h5py.Dataset):
                continue
            if obj.dtype.kind not in "biuf" or cls in ("cell", "struct"):
                if cls == "char":
                    out[name] = np.array("".join(map(chr, obj[()].ravel())))
                continue
            try:
                value = obj[()]
            except OSError as exc:
                raise DataError(f"cannot read variable {name!r} (truncated file?): {exc}", str(p)) from None
            out[name] = np.asarray(value).T  # HDF5 stores MATLAB arrays transposed
    return out


def _struct_fields(value: Any) -> dict[str, Any] | None:
    """The fields of a MATLAB struct (scipy's 1x1 record array, or a v7.3 struct read as a dict), else None."""
    if isinstance(value, dict):
        return value
    if isinstance(value, np.ndarray) and value.dtype.names and value.size == 1:
        item = value.reshape(-1)[0]
        return {n: np.asarray(item[n]) for n in value.dtype.names}
    return None


# Variables that name the channels (Delsys EMGworks' 'Channels', lab scripts' 'labels', EEGLAB's 'chanlabels').
_NAME_VARS = ("channels", "channel_names", "channelnames", "ch_names", "chnames", "labels", "channel_labels",
              "chanlabels", "names", "label")


def _strings(value: Any) -> list[str] | None:
    """The strings of a char matrix or cell array of strings as scipy.io gives them, else None."""
    arr = np.asarray(value)
    if arr.dtype.kind == "U":
        return [str(x).strip() for x in arr.ravel()]
    if arr.dtype == object:
        out = []
        for x in arr.ravel():
            a = np.asarray(x)
            if a.dtype.kind != "U" or a.size != 1:
                return None
            out.append(str(a.ravel()[0]).strip())
        return out
    return None


def _names_from_variables(variables: dict[str, Any], n: int) -> tuple[str, list[str]] | None:
    """(variable, names) of a variable holding exactly ``n`` distinct non-empty channel names, if one does."""
    for key, value in variables.items():
        if key.lower() in _NAME_VARS:
            names = _strings(value)
            if names and len(names) == n and all(names) and len(set(names)) == n:
                return key, names
    return None


# Variables stating the signals' unit (a lab script's ``units = 'uV'``, ``np.savez(..., units="V")``).
_UNIT_VARS = ("units", "unit", "channel_units", "ch_units")


def _units_from_variables(variables: dict[str, Any], n: int, where: str) -> list[str] | None:
    """The unit of each of ``n`` channels a file states in a units variable (one for all or one per channel).

    Ignored, the samples read as ``a.u.`` although the file said ``uV``: a folder of them beside volts was
    refused as mixed, and a new person's file beside a run trained in volts was 1e6 off.
    """
    for key, value in variables.items():
        if key.lower() in _UNIT_VARS:
            found = _strings(value)
            if not found:
                continue
            if len(found) not in (1, n):
                raise DataError(f"variable {key!r} gives {len(found)} units for {n} channel(s); give one, or one "
                                "per channel (or the right one with --hint units=UNIT)", where)
            try:
                check_hint_units(found, where)
            except DataError as exc:
                raise DataError(f"variable {key!r}: {str(exc).removeprefix(where + ': ')}; state it with --hint "
                                "units=UNIT", where) from None
            return found * n if len(found) == 1 else found
    return None


def _is_signal(v: Any) -> bool:
    return isinstance(v, np.ndarray) and v.dtype.kind in "biuf" and v.size > 1 and v.ndim <= 2


def _find_fs(variables: dict[str, Any], where: str) -> tuple[str, float] | None:
    for name, value in variables.items():
        if name.lower() in _FS_NAMES:
            arr = np.asarray(value)
            if arr.dtype.kind in "biuf" and arr.size == 1:
                return name, check_fs(arr, where, f"variable {name!r}")
            if arr.dtype.kind in "biuf" and arr.size > 1 and arr.ndim <= 2 and min(arr.shape) == 1:
                # one rate per channel (Delsys EMGworks' Fs): one rate for all, or say which differ
                rates = np.unique(arr.ravel())
                if rates.size == 1:
                    return name, check_fs(rates[0], where, f"variable {name!r}")
                raise DataError(f"variable {name!r} gives {rates.size} different per-channel rates "
                                f"{rates[:4].tolist()}; read one rate's channels with --hint data_var=NAME --fs RATE",
                                where)
    return None


def read_mat(
    path: str | os.PathLike,
    *,
    data_var: str | None = None,
    fs: float | None = None,
    fs_var: str | None = None,
    ch_names: Sequence[str] | None = None,
    channels_axis: int | None = None,
    units: str | Sequence[str] | None = None,
) -> Recording | Trial:
    """Read signals from a MATLAB file.

    Parameters
    ----------
    path : path-like
    data_var : str, optional
        Variable holding the samples, shape (n_samples, n_channels) or
        (n_channels, n_samples). Default: the only numeric array with more than one element.
    fs : float, optional
        Sampling rate in Hz (overrides any variable in the file).
    fs_var : str, optional
        Scalar variable holding the sampling rate. Default: one named like ``fs``.
    ch_names : sequence of str, optional
        Channel names (default: the variable name, numbered when several channels).
    channels_axis : {0, 1}, optional
        Which axis of ``data_var`` holds channels. Default: the shorter one.
    units : str or sequence of str
        Units of the channels; default: a units variable of the file (``units = 'uV'``, one or one per
        channel), else ``"a.u."`` (MAT files seldom say).
    """
    p = check_file(path)
    where = str(p)
    variables = load_mat_variables(p, structs=True)
    if data_var is None and {"Data", "Description", "SamplingFrequency"} <= set(variables):
        from .datasets.openhdemg import read_otb_mat

        return read_otb_mat(p)
    return read_variables(variables, where, data_var=data_var, fs=fs, fs_var=fs_var, ch_names=ch_names,
                          channels_axis=channels_axis, units=units)


def read_variables(
    variables: dict[str, Any],
    where: str,
    *,
    data_var: str | None = None,
    fs: float | None = None,
    fs_var: str | None = None,
    ch_names: Sequence[str] | None = None,
    channels_axis: int | None = None,
    units: str | Sequence[str] | None = None,
) -> Recording:
    """A Recording from named arrays (a .mat file's variables, an .npz file's arrays): the rules of :func:`read_mat`.

    ``where`` names the file in errors; the other parameters are :func:`read_mat`'s hints.
    """
    # A struct of channels (``data.VL``, ``data.RF``, ``data.fs``), as lab scripts save recordings: its fields
    # are read as the variables when the hint names it, or when it is the only place signals can be.
    structs = {k: f for k, v in variables.items() if (f := _struct_fields(v)) is not None}
    if structs:
        plain = {k: v for k, v in variables.items() if k not in structs}
        pick = None
        if data_var in structs:
            pick, data_var = data_var, None
        elif data_var is None and len(structs) == 1 and not any(_is_signal(v) for v in plain.values()):
            pick = next(iter(structs))
        if pick is not None:
            variables = {**plain, **structs[pick]}
            log.info("%s: reading the fields of struct %r", where, pick)
        else:
            variables = plain
            if data_var is None and not any(_is_signal(v) for v in plain.values()):
                raise DataError(f"the signals are inside the structs {sorted(structs)}: name one with "
                                "--hint data_var=NAME (Python: data_var=)", where)
    arrays = sorted(k for k, v in variables.items() if isinstance(v, np.ndarray) and v.dtype.names and v.size > 1)
    if arrays and data_var is None and not any(_is_signal(v) for v in variables.values()):
        # one struct per trial (trials(1).VL, trials(2).VL ...): which element is the recording is the user's call
        raise DataError(f"{arrays[0]!r} is an array of {variables[arrays[0]].size} structs (one per trial?); save "
                        "each element as its own file (or one struct of channels) to read it", where)

    if fs is not None:
        fs_value = check_fs(fs, where)
    elif fs_var is not None:
        if fs_var not in variables:
            raise DataError(f"no variable {fs_var!r}; variables are {sorted(variables)}", where)
        fs_value = check_fs(variables[fs_var], where, f"variable {fs_var!r}")
    else:
        found = _find_fs(variables, where)
        if found is None:
            # Name the file's numeric scalars: a rate under another name (Ninapro's ``frequency``) is then one
            # hint away, and the user, not a guess, says which scalar it is (a stimulation frequency is not).
            scalars = [f"{k}={np.asarray(v).ravel()[0]:g}" for k, v in variables.items()
                       if isinstance(v, np.ndarray) and v.dtype.kind in "biuf" and v.size == 1]
            seen = f"; its numeric scalars: {', '.join(scalars[:8])}" if scalars else ""
            raise DataError(
                f"no sampling-rate variable found (looked for {', '.join(_FS_NAMES[:6])} ...){seen}; pass --fs 2000 "
                "or --hint fs_var=NAME (Python: fs=, fs_var=)", where
            )
        fs_var, fs_value = found

    if data_var is None:
        candidates = [
            k for k, v in variables.items()
            if k != fs_var and isinstance(v, np.ndarray) and v.dtype.kind in "biuf" and v.size > 1 and v.ndim <= 2
        ]
        if not candidates:
            raise DataError(f"no numeric signal array found; variables are {sorted(variables)}", where)
        if len(candidates) > 1:  # a time vector beside the data (Delsys' Time) is not a candidate
            candidates = [k for k in candidates if k.lower() not in _TIME_VARS] or candidates
        vectors = [k for k in candidates if np.ndim(variables[k]) == 1 or min(np.shape(variables[k])) == 1]
        if len(candidates) > 1 and len(vectors) == len(candidates) \
                and len({np.size(variables[k]) for k in vectors}) == 1:
            # One vector per channel (``VL = ...; RF = ...; save(f, 'VL', 'RF', 'fs')``): the channels, by name.
            data = np.vstack([np.asarray(variables[k], dtype=np.float64).ravel() for k in candidates])
            names = ch_names if ch_names is not None else candidates
            return _finish(data, fs_value, names, units, where, ",".join(candidates), variables)
        if len(candidates) > 1:
            raise DataError(f"several arrays could be the data {sorted(candidates)}; pass --hint data_var=NAME "
                            "(Python: data_var=)", where)
        data_var = candidates[0]
    elif data_var not in variables:
        raise DataError(f"no variable {data_var!r}; variables are {sorted(variables)}", where)
    arr = np.asarray(variables[data_var])
    if arr.dtype.kind not in "biuf":
        raise DataError(f"variable {data_var!r} is not numeric (dtype {arr.dtype})", where)
    arr = np.squeeze(arr) if arr.ndim > 2 else arr
    if arr.ndim == 1:
        arr = arr[np.newaxis]
    if arr.ndim != 2:
        raise DataError(f"variable {data_var!r} has shape {arr.shape}; expected 1-D or 2-D", where)
    if channels_axis is None:
        channels_axis = 0 if arr.shape[0] <= arr.shape[1] else 1
    if channels_axis not in (0, 1):
        raise DataError(f"channels_axis must be 0 or 1, got {channels_axis!r}", where)
    data = arr if channels_axis == 0 else arr.T
    if ch_names is None:
        named = _names_from_variables(variables, data.shape[0])
        if named is not None:
            log.info("%s: channel names from variable %r", where, named[0])
            ch_names = named[1]
        else:
            ch_names = [data_var] if data.shape[0] == 1 else [f"{data_var}{i + 1}" for i in range(data.shape[0])]
    return _finish(data.astype(np.float64), fs_value, ch_names, units, where, data_var, variables)


def _finish(data: np.ndarray, fs_value: float, ch_names: Sequence[str], units: str | Sequence[str] | None,
            where: str, data_var: str, variables: dict[str, Any]) -> Recording:
    n_ch = data.shape[0]
    if units is None:  # no hint: the unit the file states, else unscaled numbers
        units = _units_from_variables(variables, n_ch, where) or "a.u."
    unit_list = [units] * n_ch if isinstance(units, str) else list(units)
    if len(unit_list) != n_ch:
        raise DataError(f"{len(unit_list)} unit(s) given for {n_ch} channel(s)", where)
    # mV/µV stated by the user are scaled to V, as every other reader does (containers store EMG in volts):
    # kept as 'uV' the samples would sit beside an EDF's volts a million times too large.
    data, unit_list = to_volts(data, unit_list)
    return make_recording(
        data, fs_value, ch_names, where, units=unit_list,
        meta={"source": where, "mat_variable": data_var},
    )
