"""The curated root namespace: what ``import myoflow`` exposes, and that it stays light."""
from __future__ import annotations

import subprocess
import sys

import myoflow

EXPECTED = {
    "__version__", "Recording", "Trial", "Epochs", "read",
    "MyoflowError", "DataError", "ConfigError", "LeakageError", "MissingExtraError",
    "models", "features", "evaluate", "preprocess", "simulate", "io",
}


def test_all_is_the_curated_list():
    assert set(myoflow.__all__) == EXPECTED
    assert len(myoflow.__all__) == len(set(myoflow.__all__))


def test_every_exported_name_resolves():
    for name in myoflow.__all__:
        assert getattr(myoflow, name) is not None, name
    from myoflow.containers import Epochs
    from myoflow.io import read

    assert myoflow.Epochs is Epochs and myoflow.read is read
    assert issubclass(myoflow.DataError, myoflow.MyoflowError)


def test_unknown_attribute_raises():
    try:
        myoflow.no_such_thing  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("expected AttributeError")


def test_import_is_light():
    code = "import sys, myoflow; print(int('torch' in sys.modules), int('scipy.signal' in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["0", "0"]


def test_py_typed_is_shipped():
    from pathlib import Path

    assert (Path(myoflow.__file__).parent / "py.typed").is_file()
