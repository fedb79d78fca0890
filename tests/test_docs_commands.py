"""What README.md and docs/ tell a new user to type works as written.

The commands and code are parsed from the pages, so the pages cannot drift from the code:

- every ``myoflow CMD ... --option`` shown (code blocks and inline code) names an option CMD has;
- the Python blocks of the guides (docs/guides/*.md) run, against small files and recordings made here, and
  what their comments say they print or return holds;
- the YAML of the grids guide validates as a muscle-id config;
- the extras table of docs/install.md is pyproject.toml's, the page names every format ``read`` takes, and the
  README says which extras ``make demo``/``make test`` leave out as the Makefile does;
- the README's gait-emg ``myoflow predict`` line runs on a folder written by ``myoflow convert``;
- the README's links resolve, its layout lists every subpackage, the docs home links every page of the site,
  and every ``MYOFLOW_*`` variable the pages name is read by the code.

The tutorials (tests/test_tutorials.py), the README's bash block (tests/api/test_readme_commands.py) and the
MNE page (tests/test_docs.py) are run where they are.
"""
from __future__ import annotations

import re
import shlex
import shutil
import tomllib
from pathlib import Path

import click
import numpy as np
import pandas as pd
import pytest
import yaml

from myoflow.cli import cli, main

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def fenced(page: Path, lang: str) -> list[str]:
    return [body for kind, body in _FENCE.findall(page.read_text("utf-8")) if kind == lang]


def documented_commands(page: Path) -> list[str]:
    """Every ``myoflow ...`` a page shows: lines of its code blocks and inline code spans."""
    text = page.read_text("utf-8")
    found = []
    for _, body in _FENCE.findall(text):
        body = re.sub(r"\\\n\s*", " ", body)
        found += [ln.split(" # ")[0].strip() for ln in body.splitlines() if ln.strip().startswith("myoflow ")]
    prose = _FENCE.sub("", text)
    found += [" ".join(c.split()) for c in re.findall(r"`(myoflow [^`]+)`", prose)]
    return found


def _command(words: list[str]) -> tuple[click.Command | None, int]:
    """The click command ``myoflow WORDS...`` runs and how many words name it (``simulate muaps`` = 2)."""
    ctx = click.Context(cli)
    cmd = cli.get_command(ctx, words[0]) if words else None
    if isinstance(cmd, click.Group) and len(words) > 1:
        sub = cmd.get_command(ctx, words[1])
        if sub is not None:
            return sub, 2
    return cmd, 1


def test_every_documented_option_exists():
    checked, wrong = 0, []
    for page in PAGES:
        for line in documented_commands(page):
            argv = shlex.split(line)[1:]
            cmd, n = _command(argv)
            if cmd is None:
                if argv and not argv[0].startswith(("…", "...")):
                    wrong.append(f"{page.relative_to(ROOT)}: no command {argv[0]!r}: {line}")
                continue
            options = {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)}
            for word in argv[n:]:
                opt = word.strip("[]").split("=")[0]
                if opt.startswith("--") and opt not in options:
                    wrong.append(f"{page.relative_to(ROOT)}: myoflow {' '.join(argv[:n])} has no {opt}: {line}")
                checked += 1
    assert checked > 100, checked  # the parser found the commands (words of about 60 command lines)
    assert not wrong, "\n".join(wrong)


# ------------------------------------------------------------------ the guides' Python blocks
def _bursts(rng, names, fs=1000.0, n=8000, meta=None):
    """Three contractions (1.0-2.2, 3.5-4.4, 5.6-7.0 s) over a quiet baseline, in volts."""
    amp = np.full(n, 0.03)
    for a, b in [(1.0, 2.2), (3.5, 4.4), (5.6, 7.0)]:
        amp[int(a * fs):int(b * fs)] = 1.0
    from myoflow.containers import Recording

    return Recording(1e-4 * rng.normal(size=(len(names), n)) * amp, fs, list(names), meta=meta or {})


def _own_data(tmp: Path) -> dict:
    """The files and objects the own-data guide names: S01_biceps.edf, export.csv (4 ch, 60 s at 2 kHz, a time
    column), a table ``df``, two recordings ``rec1``/``rec2`` and a BIDS tree ``BIDS_ROOT``."""
    pytest.importorskip("edfio", reason="edf extra not installed")
    from myoflow.containers import Recording
    from myoflow.io.edf import write_edf

    rng = np.random.default_rng(0)
    rec = Recording(1e-4 * rng.normal(size=(4, 120000)), 2000.0, ["BB", "TB", "FDS", "EDC"], units="V")
    write_edf(rec, tmp / "S01_biceps.edf")
    table = pd.DataFrame({"time": np.arange(rec.n_samples) / rec.fs, **dict(zip(rec.ch_names, rec.data))})
    table.to_csv(tmp / "export.csv", index=False)
    shutil.copytree(ROOT / "tests" / "data" / "reference" / "bids", tmp / "BIDS_ROOT")
    rec1 = rec.replace(meta={"subject": "S01", "muscle": "biceps"})
    return {"df": table, "rec1": rec1, "rec2": rec1.replace(meta={"subject": "S02", "muscle": "biceps"})}


def _onsets(tmp: Path) -> dict:
    rng = np.random.default_rng(1)
    rec = _bursts(rng, ["BB", "TB"], meta={"subject": "S01", "muscle": "BB"})
    return {"rec": rec, "task": rec, "mvc_trial": _bursts(rng, ["BB", "TB"], meta={"subject": "S01"}).replace(
        data=3e-4 * rng.normal(size=(2, 8000)))}


def _plotting(tmp: Path) -> dict:
    from myoflow.containers import Recording
    from myoflow.preprocess import detect_onsets, onset_windows

    rng = np.random.default_rng(2)
    rec = _bursts(rng, ["BB", "TB"], meta={"subject": "S01", "muscle": "BB"})
    hd = Recording(1e-4 * rng.normal(size=(16, 4000)), 1000.0, [f"e{i + 1}" for i in range(16)], grid_shape=(4, 4))
    return {"rec": rec, "epochs": onset_windows(rec, detect_onsets(rec), length_ms=500), "hd_rec": hd}


#: guide page -> the names its blocks use without defining them (mne.md: tests/test_docs.py)
GUIDES = {"own-data.md": _own_data, "onsets.md": _onsets, "plotting.md": _plotting}


def test_every_guide_with_python_is_run_here():
    with_python = {p.name for p in (ROOT / "docs" / "guides").glob("*.md") if fenced(p, "python")}
    assert with_python - {"mne.md"} == set(GUIDES)


@pytest.mark.parametrize("name", sorted(GUIDES))
def test_guide_python_blocks_run_as_shown(name, tmp_path, monkeypatch, capsys):
    page = ROOT / "docs" / "guides" / name
    monkeypatch.chdir(tmp_path)
    ns = {"__name__": "__guide__", **GUIDES[name](tmp_path)}
    for i, block in enumerate(fenced(page, "python")):
        exec(compile(block, f"{name}:python[{i}]", "exec"), ns)
    out = capsys.readouterr().out
    # a comment that shows what print(...) gives must be what it gives
    for shown in re.findall(r"print\(\w+\)\s+# (<.*?) \.\.\.>", page.read_text("utf-8")):
        assert shown in out, (shown, out)
    if name == "own-data.md":
        from myoflow.io import load_dataset

        assert load_dataset("data/mine").stems and (tmp_path / "mydata" / "dataset.json").is_file()
    if name == "onsets.md":
        cols = re.search(r"same burst table\s*\(([^)]*)\)", page.read_text("utf-8")).group(1)
        assert list(ns["bursts"].columns) == [c.strip(" `\n") for c in cols.split(",")]
        assert set(ns["task_rel"].units) == {"1"}  # "fraction of MVC, units "1""
        from myoflow.errors import DataError

        with pytest.raises(DataError, match="S02"):  # "Transforming another subject's recording is an error."
            ns["norm"].transform(ns["task"].replace(meta={"subject": "S02"}))
    if name == "plotting.md":
        assert (tmp_path / "bursts.png").stat().st_size > 2000


def test_grids_guide_yaml_is_a_valid_muscle_id_config():
    from myoflow.config import deep_merge
    from myoflow.experiments import load_config

    (block,) = fenced(ROOT / "docs" / "guides" / "grids.md", "yaml")
    base = yaml.safe_load((ROOT / "configs" / "muscle_id.yaml").read_text())
    cfg = load_config(deep_merge(base, yaml.safe_load(block)))
    assert cfg.evaluate.models == yaml.safe_load(block)["evaluate"]["models"]


# ------------------------------------------------------------------ install
def _names(reqs: list[str]) -> set[str]:
    return {re.split(r"[<>=\[ ;]", r, maxsplit=1)[0].strip().lower() for r in reqs}


def test_install_page_extras_are_pyproject_extras():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    rows = re.findall(r"^\| `(\w+)` \| ([^|]+) \|", (ROOT / "docs" / "install.md").read_text(), flags=re.M)
    assert rows
    table = {name: {p.strip().lower() for p in pkgs.split(",")} for name, pkgs in rows}
    assert set(table) == set(extras) - {"all", "test", "bench"}
    for name, pkgs in table.items():
        assert pkgs == _names(extras[name]), name
    readme = (ROOT / "README.md").read_text()
    listed = set(re.findall(r"`(\w+)`\s+\(", readme.split("everything else is an optional extra", 1)[1][:1500]))
    assert listed == set(extras) - {"test"}, listed
    # "`make demo`/`make test` install all of them but ...": what the Makefile's environment (its first pip
    # install -e, the $(STAMP) rule both targets depend on) really installs, self-references expanded
    spec = re.findall(r'pip install --quiet -e "\.\[([\w,]+)\]"', (ROOT / "Makefile").read_text())[0]
    todo, installed = spec.split(","), set()
    while todo:
        name = todo.pop()
        installed.add(name)
        for req in extras.get(name, []):
            if req.startswith("myoflow["):
                todo += [x for x in req[len("myoflow["):-1].split(",") if x not in installed]
    but = re.search(r"`make demo`/`make test` install all of them(?: but ([^.]+))?\.", readme)
    assert but, "README no longer says what make demo/make test install"
    left_out = set(re.findall(r"`(\w+)`", but.group(1) or ""))
    assert left_out == listed - installed - {"all"}, (left_out, listed - installed)


# ------------------------------------------------------------------ README: a gait-emg run applied to a new trial
def _cli(argv, capsys) -> tuple[int, str]:
    try:
        main([str(a) for a in argv])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out + err


def test_readme_gait_predict_line_runs_on_a_converted_folder(tmp_path, monkeypatch, capsys):
    """README "Your own recordings" 4: ``myoflow predict runs/gait TRIAL`` where TRIAL is what ``myoflow convert``
    wrote (it named ``mydata/S07/walk.h5``, a path convert never writes: it writes ``mydata/S07_walk.h5``)."""
    readme = (ROOT / "README.md").read_text()
    line = re.search(r"`(myoflow predict runs/gait [^`]+)`", readme).group(1)
    argv = shlex.split(re.sub(r"\[[^]]*\]", "", line))[1:]  # the optional [...] parts left out
    trial = Path(argv[2])  # mydata/S07_walk.h5: folder, subject, trial
    cohort, stem = trial.parts[0], trial.stem
    subject, name = stem.split("_", 1) if "_" in stem else (trial.parts[1], stem)
    monkeypatch.chdir(tmp_path)
    # the gait tutorial's raw OpenSim files, for the README's subject and trial
    tutorial = (ROOT / "docs" / "tutorials" / "gait-emg.md")
    exec(compile(fenced(tutorial, "python")[0], "gait-emg.md:python", "exec"), {"__name__": "__docs__"})
    raw = tmp_path / "raw"
    raw.mkdir()
    for f in (tmp_path / "gait_raw").iterdir():
        f.rename(raw / f.name.replace("S01_walk", f"{subject}_{name}"))
    part = pd.read_csv("gait_participants.csv").assign(subject=subject)
    part.to_csv("participants.csv", index=False)
    code, said = _cli(["convert", raw, "--pattern", "{subject}_{trial}_{stream}", "--streams", "ik=angles,id=moments",
                       "--participants", "participants.csv", "--out", cohort], capsys)
    assert code == 0, said
    code, said = _cli(["run", "gait-emg", "--data", cohort, "--out", "runs/gait", "--set", "train.epochs=2",
                       "--set", "model.params.torque_epochs=2", "--set", "evaluate.n_boot=20",
                       "--set", "data.cycle_folds=2", "--workers", "1"], capsys)
    assert code == 0, said
    code, said = _cli(argv, capsys)
    assert code == 0, said
    # "predicted envelopes per muscle (per cycle and mean ± SD, CSV + PNG) into runs/gait/predict/, and the R²"
    written = sorted(p.name for p in (tmp_path / "runs" / "gait" / "predict").iterdir())
    assert [w.rsplit("_", 1)[-1] for w in written] == ["based.png", "cycles.csv", "mean.csv"], written
    assert "R² of ensemble average" in said
    # own-data.md names them by the trial file's folder and name, with the README's trial as its example
    guide = (ROOT / "docs" / "guides" / "own-data.md").read_text()
    assert f"myoflow predict RUN_DIR {trial.as_posix()}" in guide
    assert f"`{cohort}_{stem}_torque_based_cycles.csv`" in guide and f"{cohort}_{stem}_torque_based_cycles.csv" in written


def test_readme_layout_names_every_package():
    """The README's Layout block lists every subpackage of src/myoflow (biomech/ and validation/ were missing)."""
    (layout,) = [b for b in fenced(ROOT / "README.md", "") if b.startswith("src/myoflow/")]
    named = set(re.findall(r"^  (\w+)/", layout, flags=re.M))
    packages = {p.parent.name for p in (ROOT / "src" / "myoflow").glob("*/__init__.py")}
    assert packages <= named, sorted(packages - named)


def test_docs_home_links_every_page_of_the_site():
    """docs/index.md is where a new user starts: every page of the mkdocs nav is one link away (the pipeline
    tutorials and the grids guide were not)."""
    def pages(node):
        if isinstance(node, str):
            yield node
        elif isinstance(node, list):
            for x in node:
                yield from pages(x)
        elif isinstance(node, dict):
            for x in node.values():
                yield from pages(x)

    nav = set(pages(yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"])) - {"index.md"}
    linked = set(re.findall(r"\]\(([^)#]+\.md)\)", (ROOT / "docs" / "index.md").read_text()))
    assert nav <= linked, sorted(nav - linked)


def test_readme_links_resolve():
    links = re.findall(r"\]\(([^)#:]+)\)", (ROOT / "README.md").read_text())
    assert links and all((ROOT / link).exists() for link in links), [k for k in links if not (ROOT / k).exists()]


def test_install_page_names_every_format_read():
    """docs/install.md says what the core reads and which extra adds which format: every suffix ``read`` takes is
    on it (.npz, WFDB .hea, .Poly5 and .otb+, read by the core, were not)."""
    from myoflow.io.reader import READERS

    text = (ROOT / "docs" / "install.md").read_text().lower()
    absent = [s for s in READERS if s != ".otb4" and not re.search(rf"(?<!\w)\.?{re.escape(s[1:])}(?![\w+])", text)]
    assert not absent, absent


def test_documented_environment_variables_are_read():
    code = "".join(p.read_text() for p in [*(ROOT / "src").rglob("*.py"), *(ROOT / "docs" / "hooks").glob("*.py")])
    named = {v for page in PAGES for v in re.findall(r"\bMYOFLOW_[A-Z_]+\b", page.read_text())}
    assert named and all(f'"{v}"' in code for v in named), sorted(v for v in named if f'"{v}"' not in code)
