"""Run every tutorial in docs/tutorials as written: its Python blocks, then its `myoflow` commands, in order.

The blocks are extracted from the markdown, so the pages cannot drift from the code.
"""
from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path

import pytest

from myoflow.cli import main

DOCS = Path(__file__).resolve().parents[1] / "docs" / "tutorials"
PAGES = sorted(p for p in DOCS.glob("*.md") if p.name != "README.md")
_BLOCK = re.compile(r"^```(python|bash)\n(.*?)^```", re.MULTILINE | re.DOTALL)


@pytest.fixture(scope="session")
def shared_data_dir_or_none() -> Path | None:
    env = os.environ.get("MYOFLOW_SHARED_DATA")
    path = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"
    return path if path.is_dir() else None


def blocks(page: Path) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in _BLOCK.finditer(page.read_text("utf-8"))]


def commands(text: str) -> list[list[str]]:
    joined = re.sub(r"\\\n\s*", " ", text)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        argv = shlex.split(line, comments=True)
        assert argv[0] == "myoflow", f"tutorial shell lines must be myoflow commands: {line!r}"
        out.append(argv[1:])
    return out


def test_every_pipeline_has_a_tutorial():
    assert {p.stem for p in PAGES} == {"muscle-id", "gait-emg", "stimulated-mass", "muap-generator"}
    for p in PAGES:
        kinds = [k for k, _ in blocks(p)]
        assert "bash" in kinds, p
        assert any(c[0] == "run" and "--data" in c for _, t in blocks(p) if _ == "bash" for c in commands(t)), p


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_tutorial_runs(page, tmp_path, monkeypatch, shared_data_dir_or_none, capsys):
    monkeypatch.chdir(tmp_path)
    text_blocks = blocks(page)
    runs, outs = [], set()
    for kind, text in text_blocks:
        if kind == "python":
            exec(compile(text, f"{page.name}:python", "exec"), {"__name__": "__tutorial__"})
            continue
        if "../shared/data" in text and shared_data_dir_or_none is None:
            continue  # the shared recordings are absent: this block of the page is skipped
        for argv in commands(text):
            if any("../shared/data" in a for a in argv):
                argv = [a.replace("../shared/data", str(shared_data_dir_or_none)) for a in argv]
            if argv[0] == "run":
                argv += ["--workers", "1"]
            if "--out" in argv:
                outs.add(argv[argv.index("--out") + 1])
            try:
                main(argv)
            except SystemExit as exc:
                out, err = capsys.readouterr()
                pytest.fail(f"{page.name}: myoflow {' '.join(argv)} exited {exc.code}\n{err[-2000:]}")
            if argv[0] == "run":
                runs.append((Path(argv[argv.index("--out") + 1]), Path(argv[argv.index("--data") + 1]).name))
    assert runs, f"{page.name} ran no pipeline"
    # every file the text says a command wrote (`runs/x/report.html`, `screening/prediction_S010_RF.json`) is there
    promised = [p for p in re.findall(r"`([^`\s<>*]+\.\w+)`", _BLOCK.sub("", page.read_text("utf-8")))
                if any(p.startswith(o.rstrip("/") + "/") for o in outs)]
    missing = [p for p in promised if not (tmp_path / p).is_file()]
    # ... and every fold folder it names (`folds/arms-legs-loso-4class-01`) is in one of its runs
    folds = re.findall(r"`(folds/[^`\s<>*]+)`", _BLOCK.sub("", page.read_text("utf-8")))
    missing += [f for f in folds if not any((tmp_path / run / f).is_dir() for run, _ in runs)]
    assert not missing, f"{page.name} names files its commands did not write: {missing}"
    for run, cohort in runs:
        assert (run / "report.html").is_file()
        rows = json.loads((run / "metrics.json").read_text())["headline"]
        assert rows and all(r["paper"] is None for r in rows)  # a user's data is never beside the paper
        assert all(r["label"].startswith(cohort) for r in rows)  # ... and keeps the user's name


def test_readme_python_usage_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    readme = Path(__file__).resolve().parents[1] / "README.md"
    code = [t for k, t in blocks(readme) if k == "python"]
    assert code, "README.md has no Python usage section"
    for text in code:
        exec(compile(text, "README.md:python", "exec"), {"__name__": "__readme__"})
    assert "<Dataset" in capsys.readouterr().out
