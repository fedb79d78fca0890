"""NumPy ``.npz`` archives (``np.savez(f, data=..., fs=...)``), read with the rules of the MATLAB reader.

Without hints the one large numeric array is the data and a scalar named like a sampling rate
(``fs``, ``srate``, ``sampling_rate`` ...) is ``fs``; a string array named ``ch_names``/``labels``/
``channels`` with one name per channel names them; several equal-length vectors are one channel each.
Hints as for ``.mat``: ``data_var=``, ``fs_var=`` or ``fs=``, ``ch_names=``, ``channels_axis=``, ``units=`` (else a
``units`` string array of the archive, else ``a.u.``).
Archives holding Python objects (pickles) are refused, never loaded.
"""
from __future__ import annotations

import os
import zipfile
from typing import Sequence

import numpy as np

from ..containers import Recording
from ..errors import DataError
from ._common import check_file
from .matlab import read_variables

__all__ = ["read_npz"]


def read_npz(
    path: str | os.PathLike,
    *,
    data_var: str | None = None,
    fs: float | None = None,
    fs_var: str | None = None,
    ch_names: Sequence[str] | None = None,
    channels_axis: int | None = None,
    units: str | Sequence[str] | None = None,
) -> Recording:
    """Read signals from a NumPy ``.npz`` archive (see the module docstring for the rules and hints)."""
    p = check_file(path)
    where = str(p)
    try:
        z = np.load(p, allow_pickle=False)  # never unpickle: an archive can carry code
        if isinstance(z, np.ndarray):
            raise DataError("a single .npy array, not an .npz archive of named arrays (np.savez(f, data=..., "
                            "fs=...))", where)
        with z:
            variables = {k: z[k] for k in z.files}
    except DataError:
        raise
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise DataError("the archive holds Python objects (pickled), which are never loaded; save numeric and "
                            "string arrays only (np.savez(f, data=..., fs=..., ch_names=np.array([...])))",
                            where) from None
        raise DataError(f"cannot read as a NumPy .npz archive (truncated or corrupt?): {exc}", where) from None
    except (OSError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise DataError(f"cannot read as a NumPy .npz archive (truncated or corrupt?): {exc}", where) from None
    if not variables:
        raise DataError("the archive holds no arrays", where)
    return read_variables(variables, where, data_var=data_var, fs=fs, fs_var=fs_var, ch_names=ch_names,
                          channels_axis=channels_axis, units=units)
