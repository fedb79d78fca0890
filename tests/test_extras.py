"""Optional dependencies: each heavy reader/tool is an extra, missing ones name their extra (exit 2 in the CLI)."""
from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

from myoflow.containers import Recording
from myoflow.errors import MissingExtraError

ROOT = Path(__file__).resolve().parents[1]


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_heavy_readers_are_extras_with_one_xlsx_engine():
    proj = _pyproject()["project"]
    core = " ".join(proj["dependencies"])
    for heavy in ("openpyxl", "calamine", "ezc3d", "edfio", "onnx", "ray", "mlflow", "mne", "pynwb", "neo"):
        assert heavy not in core, heavy
    extras = proj["optional-dependencies"]
    for name in ("xlsx", "c3d", "edf", "onnx", "ray", "mlflow", "mne", "nwb"):
        assert name in extras, name
    runtime = [d for k, v in extras.items() if k not in ("bench",) for d in v]
    assert sum("openpyxl" in d for d in runtime) + sum("calamine" in d for d in runtime) == 1
    # `make test` / `make demo` install the test extra, which pulls every reader the tests use
    assert "[test" in (ROOT / "Makefile").read_text()


# (module blocked, call that needs it, extra named in the error)
CASES = [
    ("ezc3d", lambda p: __import__("myoflow.io", fromlist=["read"]).read(p("x.c3d")), "c3d"),
    ("edfio", lambda p: __import__("myoflow.io", fromlist=["read"]).read(p("x.edf")), "edf"),
    ("python_calamine", lambda p: __import__("myoflow.io", fromlist=["read"]).read(p("ID 1.xlsx")), "xlsx"),
    ("mne", lambda p: Recording(np.ones((1, 10)), 10.0, ["a"]).to_mne(), "mne"),
    ("pynwb", lambda p: __import__("myoflow.io.interop", fromlist=["x"]).to_nwb(
        Recording(np.ones((1, 10)), 10.0, ["a"]), p("x.nwb")), "nwb"),
]


@pytest.mark.parametrize("module,call,extra", CASES, ids=[c[0] for c in CASES])
def test_missing_extra_error_names_the_extra(module, call, extra, tmp_path, monkeypatch):
    def path(name):
        f = tmp_path / name
        f.write_bytes(b"not really a file of this type")
        return f

    monkeypatch.setitem(sys.modules, module, None)  # `import module` now raises ImportError
    with pytest.raises(MissingExtraError, match=rf"pip install 'myoflow\[{extra}\]'"):
        call(path)


def test_cli_reports_missing_extra_in_one_line(tmp_path):
    f = tmp_path / "trial.c3d"
    f.write_bytes(b"\x02P" + b"\0" * 510)
    code = ("import sys; sys.modules['ezc3d'] = None; from myoflow.cli import main; "
            f"main(['inspect', {str(f)!r}])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and "myoflow[c3d]" in out.stderr and "Traceback" not in out.stderr
