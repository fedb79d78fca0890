"""The docs site builds in strict mode, and the MNE five-line example runs exactly as the page shows it."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _python_blocks(md: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", md.read_text(), flags=re.S)


def test_mne_page_five_lines_run_as_shown():
    pytest.importorskip("mne", reason="mne extra not installed")
    setup, snippet = _python_blocks(ROOT / "docs" / "guides" / "mne.md")[:2]
    lines = [ln for ln in snippet.splitlines() if ln.strip()]
    assert len(lines) == 5, lines
    ns: dict = {}
    exec(compile(setup, "mne.md:setup", "exec"), ns)
    exec(compile(snippet, "mne.md:five-lines", "exec"), ns)
    epochs, folds = ns["epochs"], ns["folds"]
    # 3 subjects × 10 s at 2 kHz in 200 ms windows, band-passed: the signal changed, the shape is as promised
    assert epochs.X.shape == (150, 2, 400) and set(epochs.subjects) == {"S01", "S02", "S03"}
    raw = ns["raws"]["S01"]
    assert not np.allclose(epochs.X[0, 0], raw.get_data()[0, :400])
    assert len(folds) == 3
    subj = epochs.subjects
    for train, test in folds:
        assert len(set(subj[test])) == 1 and not set(subj[train]) & set(subj[test])


def test_mkdocs_build_strict(tmp_path):
    pytest.importorskip("mkdocs", reason="docs extra not installed")
    pytest.importorskip("mkdocstrings", reason="docs extra not installed")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
               NO_MKDOCS_2_WARNING="1", MPLBACKEND="Agg")
    env.pop("MYOFLOW_DOCS_RUNS", None)
    site = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(site)],
                       cwd=ROOT, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    for png in ("onsets_tkeo", "onsets_bonato", "onsets_hodges_bui", "epochs", "grid"):
        assert (site / "gallery" / f"{png}.png").stat().st_size > 2000
    imgs = re.findall(r'<img [^>]*src="([^"]+)"', (site / "gallery" / "index.html").read_text())
    assert len(imgs) == 5 and all((site / "gallery" / src).is_file() for src in imgs)  # every image resolves
    api = (site / "api" / "preprocess" / "index.html").read_text()
    assert "detect_onsets" in api and "AmplitudeNormaliser" in api
    assert not (site / "hooks").exists()
