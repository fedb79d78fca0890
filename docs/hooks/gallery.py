"""MkDocs hook: draw the gallery figures at build time (nothing binary is committed).

Figures come from myoflow's own plotting functions on a small seeded synthetic
recording, so they always show the current code. When ``MYOFLOW_DOCS_RUNS``
names a run folder (e.g. ``runs/demo`` after ``make demo``), the report
figures (``*.png``) found under it are added to the gallery too.
"""
from __future__ import annotations

import io
import logging
import os
from pathlib import Path

import numpy as np
from mkdocs.structure.files import File

log = logging.getLogger("mkdocs.hooks.gallery")

_FIGURES: list[tuple[str, str]] = []  # (path in site, caption)


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    return buf.getvalue()


def _synthetic():
    from myoflow.containers import Recording

    rng = np.random.default_rng(7)
    fs, n = 1000.0, 8000
    amp = np.full(n, 0.03)
    for a, b in [(1.0, 2.2), (3.5, 4.4), (5.6, 7.0)]:
        amp[int(a * fs):int(b * fs)] = 1.0
    # a 4x4 grid whose amplitude decays away from the innervation zone at the top-left corner
    rows, cols = np.divmod(np.arange(16), 4)
    gain = np.exp(-np.hypot(rows, cols) / 2.5)
    x = rng.normal(size=(16, n)) * amp * gain[:, None] * 1e-4
    return Recording(x, fs, [f"e{i + 1}" for i in range(16)], grid_shape=(4, 4), meta={"subject": "demo"})


def _draw() -> dict[str, bytes]:
    from myoflow.plotting import plot_epochs, plot_grid, plot_recording
    from myoflow.preprocess import detect_onsets, onset_windows

    rec = _synthetic()
    out: dict[str, bytes] = {}
    _FIGURES.clear()
    for method in ("tkeo", "bonato", "hodges_bui"):
        b = detect_onsets(rec.pick(["e1"]), method)
        shown = rec.pick(["e1"]).add_events(b["onset"], "onset").add_events(np.minimum(b["offset"], rec.n_samples - 1),
                                                                         "offset")
        name = f"gallery/onsets_{method}.png"
        out[name] = _png(plot_recording(shown, title=f"detect_onsets(method={method!r}): {len(b)} bursts"))
        _FIGURES.append((name, f"Onsets and offsets by `{method}` on one channel"))
    b = detect_onsets(rec, "tkeo")
    ep = onset_windows(rec, b, length_ms=500, pre_ms=100)
    out["gallery/epochs.png"] = _png(plot_epochs(ep, channels=["e1", "e2", "e6", "e16"]))
    _FIGURES.append(("gallery/epochs.png", "`Epochs.plot()`: 500 ms onset windows, mean ± SD per channel"))
    out["gallery/grid.png"] = _png(plot_grid(rec))
    _FIGURES.append(("gallery/grid.png", "`plot_grid()`: RMS map of a 4×4 grid"))
    runs = os.environ.get("MYOFLOW_DOCS_RUNS")
    if runs and Path(runs).is_dir():
        for p in sorted(Path(runs).rglob("*.png"))[:40]:
            name = f"gallery/runs/{p.relative_to(runs).as_posix()}"
            out[name] = p.read_bytes()
            _FIGURES.append((name, f"report figure `{p.relative_to(runs)}`"))
    return out


def on_files(files, config):
    for name, content in _draw().items():
        files.append(File.generated(config, name, content=content))
    return files


def on_page_markdown(markdown: str, page, config, files):
    if page.file.src_uri != "gallery.md":
        return markdown
    # gallery.md sits at the docs root, so the generated paths are relative links as they stand
    items = "\n\n".join(f"![{cap}]({name})\n\n*{cap}*" for name, cap in _FIGURES)
    return markdown.replace("<!-- gallery -->", items)
