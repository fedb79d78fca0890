"""gait-emg names a folder cohort by its folder (``clinic-k0``, condition ``clinic``), not ``sim``, wherever seen.

A clinic's 3-subject walking folder gets ``clinic-k0`` folds, ``conditions.clinic``, ``clinic ...`` headline rows and
figure titles; a within-subject folder (2 subjects) names its headline rows the same; the simulated cohort
keeps ``sim``; seeds never move with the name (a folder fold is seeded by its old ``sim-`` id); a run written
before the naming (``sim-k0`` folds of a folder) still predicts, exports and reports, and ``--resume`` of it
refuses in one line. Tiny cohorts and 2-epoch MLPs: smoke-sized, the numbers are not results.
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from ..bad_input._builders import cli, one_error_line

SMALL = ["--workers", "1", "--set", "train.epochs=2", "--set", "model.params.torque_epochs=2",
         "--set", "evaluate.n_boot=20", "--set", "model.params.torque_hidden=[16, 12]",
         "--set", "model.params.added_hidden=8", "--set", "baseline.params.hidden=[16, 12]",
         "--set", "evaluate.ensemble=2"]
SIM_WORD = re.compile(r"\bsim\b")


def _main(args) -> None:
    from myoflow.cli import main

    try:  # capsys is per test: run in-process and read the exit code
        main([str(a) for a in args])
    except SystemExit as exc:
        assert exc.code in (0, None), exc.code


@pytest.fixture(scope="module")
def lab_run(tmp_path_factory):
    """A finished run of a 3-subject walking folder ``clinic`` (subject-wise folds, final model on).

    Its folds sort before ``final-all`` by name, as ``sim-k0`` did not."""
    root = tmp_path_factory.mktemp("gaitname")
    _main(["simulate", "gait", "--out", root / "clinic", "--subjects", 3, "--strides", 6, "--seed", 1])
    _main(["run", "gait-emg", "--data", root / "clinic", "--out", root / "run", *SMALL])
    return root / "run", root / "clinic"


def _html_text(path: Path) -> str:
    """Headings, captions and figure alt texts of a report (the prose a reader sees as titles)."""
    html = path.read_text()
    return " ".join(re.findall(r"<(?:h\d|figcaption|caption|title)[^>]*>(.*?)</", html, flags=re.S)
                    + re.findall(r'alt="([^"]*)"', html))


def test_a_folder_cohort_is_named_by_its_folder_everywhere(lab_run):
    run, _ = lab_run
    assert sorted(p.name for p in (run / "folds").iterdir()) == ["clinic-k0", "clinic-k1", "clinic-k2", "final-all"]
    m = json.loads((run / "metrics.json").read_text())
    assert set(m["summary"]["conditions"]) == set(m["conditions"]) == {"clinic"}
    assert set(m["summary"]["variability"]) == {"clinic"}
    assert m["summary"]["data"]["cohort"] == "clinic"
    assert {v["condition"] for k, v in m["folds"].items() if k != "final-all"} == {"clinic"}
    labels = [h["label"] for h in m["headline"]]
    assert labels and all(lab.startswith("clinic ") for lab in labels), labels
    assert not any(SIM_WORD.search(lab) for lab in labels), labels
    assert not any(lab.startswith("clinic: clinic") for lab in labels)  # not named twice by the runner
    preds = pd.read_parquet(run / "predictions.parquet")
    assert set(preds["condition"]) == {"clinic"} and set(preds["fold"]) == {"clinic-k0", "clinic-k1", "clinic-k2"}
    for name in ("result.json",):
        assert json.loads((run / "folds" / "clinic-k0" / name).read_text())["condition"] == "clinic"
    figs = json.loads((run / "figures.json").read_text())
    assert not SIM_WORD.search(json.dumps(figs)), figs
    assert (run / "figures" / "ensemble_clinic.png").is_file()
    text = _html_text(run / "report.html")
    assert "clinic" in text and not SIM_WORD.search(text), SIM_WORD.findall(text)
    assert not SIM_WORD.search((run / "report.html").read_text())


def test_export_and_predict_take_the_final_fold_whatever_the_cohort_sorts_as(lab_run, tmp_path, capsys):
    """``clinic-k0`` sorts before ``final-all`` (``sim-k0`` sorted after it): export still takes final-all."""
    run, ds = lab_run
    code, _, err = cli(["export", run, "--onnx", tmp_path / "g.onnx"], capsys)
    assert code == 0, err
    assert json.loads((tmp_path / "g.json").read_text())["fold"] == "final-all"
    code, out, err = cli(["predict", run, ds / "S001" / "walk.h5", "--json", "--out", tmp_path / "p"], capsys)
    assert code == 0 and json.loads(out)["fold"] == "final-all", err


def test_a_folder_fold_is_seeded_by_its_old_id(lab_run, tmp_path, monkeypatch):
    """The name moves no number: each subject-wise folder fold derives its seeds from its ``sim-`` id."""
    from myoflow.experiments import load_config
    from myoflow.experiments.base import FoldContext
    from myoflow.experiments.registry import get_pipeline
    from myoflow.pipelines.gait_emg.pipeline import cohort_name

    _, ds = lab_run
    cfg = load_config({"name": "gait-emg", "pipeline": "gait-emg", "data": {"source": "folder", "path": str(ds)},
                       "evaluate": {"splitter": "loso"}})
    pipe = get_pipeline("gait-emg")
    data = pipe.prepare(cfg, None)
    folds = pipe.folds(cfg, data)
    assert cohort_name(cfg) == "clinic"
    cv = [f for f in folds if f.payload["kind"] == "sim" and f.id != "final-all"]
    assert sorted(f.id for f in cv) == ["clinic-loso-S001", "clinic-loso-S002", "clinic-loso-S003"]
    assert all(f.seed_key == f.id.replace("clinic-", "sim-", 1) and f.condition == "clinic" for f in cv)

    # and the fold trains with it: the first seed run_fold derives is the one of the old id
    import myoflow.train as train

    class Seeded(Exception):
        pass

    def first_seed(*parts):
        raise Seeded(parts)

    monkeypatch.setattr(train, "derive_seed", first_seed)
    with pytest.raises(Seeded) as exc:
        pipe.run_fold(cfg, data, cv[0], FoldContext(seed=0, device="cpu", workdir=tmp_path / "folds" / cv[0].id))
    assert exc.value.args[0] == (cfg.seed, "sim-loso-S001")


def test_the_cohort_name_rule():
    from myoflow.experiments import load_config
    from myoflow.pipelines.gait_emg.pipeline import cohort_name

    def name(run_name, path="/x/My Knees", source="folder"):
        return cohort_name(load_config({"name": run_name, "pipeline": "gait-emg",
                                        "data": {"source": source, "path": path}}))

    assert name("gait-emg") == "My-Knees"  # the config keeps the pipeline's name: the folder's
    assert name("knee study") == "knee-study"
    assert name("final") == "final-data" and name("real") == "real-data" and name("sim") == "sim-data"
    assert name("gait-emg", "/x/sim") == "sim-data"
    assert name("anything", None, "simulate") == "sim"


def test_the_simulated_cohort_keeps_sim(tmp_path, capsys):
    args = ["reproduce", "gait-emg", "--quick", "--out", tmp_path / "r", "--cache-dir", tmp_path / "cache",
            "--set", "data.subjects=4", "--set", "evaluate.emg_subjects=null", "--set", "evaluate.n_splits=2",
            "--set", "data.real=false", *SMALL]
    code, _, err = cli(args, capsys)
    assert code == 0, err
    run = tmp_path / "r" / "gait-emg"
    assert sorted(p.name for p in (run / "folds").iterdir()) == ["final-all", "sim-k0", "sim-k1"]
    m = json.loads((run / "metrics.json").read_text())
    assert set(m["summary"]["conditions"]) == {"sim"} and set(m["summary"]["variability"]) == {"sim"}
    assert "cohort" not in m["summary"]["data"]
    assert all(h["label"].startswith("sim ") for h in m["headline"])


def test_a_within_subject_folder_names_its_rows_by_the_folder(tmp_path, capsys):
    """Two subjects: within-subject folds (``within-cycles-k0``); the headline rows said ``sim`` too."""
    _main(["simulate", "gait", "--out", tmp_path / "duo", "--subjects", 2, "--strides", 8, "--seed", 1])
    code, _, err = cli(["run", "gait-emg", "--data", tmp_path / "duo", "--out", tmp_path / "run", *SMALL,
                        "--set", "evaluate.final_model=false"], capsys)
    assert code == 0, err
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert all(k.startswith("within-") for k in m["folds"])
    assert set(m["summary"]["variability"]) == {"duo"}
    labels = [h["label"] for h in m["headline"]]
    assert any(", within-subject/" in lab for lab in labels)
    assert all(lab.startswith("duo ") for lab in labels) and not any(SIM_WORD.search(lab) for lab in labels), labels
    assert not SIM_WORD.search((tmp_path / "run" / "report.html").read_text())


def _to_old_naming(run: Path, dst: Path) -> Path:
    """``run`` as the previous myoflow wrote it: the folder cohort's folds, conditions and keys named ``sim``."""
    shutil.copytree(run, dst)
    for d in sorted((dst / "folds").iterdir()):
        for name in ("result.json", "extras.json"):
            p = d / name
            if p.exists():
                p.write_text(p.read_text().replace('"clinic-k', '"sim-k').replace('"condition": "clinic"',
                                                                              '"condition": "sim"'))
        p = d / "predictions.parquet"
        if p.exists():
            df = pd.read_parquet(p)
            if len(df):
                df["condition"] = df["condition"].str.replace("clinic", "sim")
                df["fold"] = df["fold"].str.replace("clinic-", "sim-")
            df.to_parquet(p, index=False)
        d.rename(d.with_name(d.name.replace("clinic-", "sim-")))
    m = json.loads((dst / "metrics.json").read_text())
    s = m["summary"]
    s["conditions"] = {"sim": s["conditions"].pop("clinic")}
    s["variability"] = {"sim": s["variability"].pop("clinic")}
    s["data"].pop("cohort")
    m["conditions"] = {"sim": m["conditions"].pop("clinic")}
    m["folds"] = {k.replace("clinic-", "sim-"): {**v, "condition": v["condition"].replace("clinic", "sim")}
                  for k, v in m["folds"].items()}
    (dst / "metrics.json").write_text(json.dumps(m))
    df = pd.read_parquet(dst / "predictions.parquet")
    df["condition"] = df["condition"].str.replace("clinic", "sim")
    df["fold"] = df["fold"].str.replace("clinic-", "sim-")
    df.to_parquet(dst / "predictions.parquet", index=False)
    for f in sorted((dst / "figures").glob("*clinic*")):
        f.rename(f.with_name(f.name.replace("clinic", "sim")))
    for name in ("figures.json", "run_info.json"):
        p = dst / name
        p.write_text(p.read_text().replace("clinic-k", "sim-k").replace("_clinic.png", "_sim.png")
                     .replace(", clinic:", ", sim:").replace(", clinic (", ", sim ("))
    assert not list((dst / "folds").glob("clinic-*"))
    return dst


def test_a_run_written_before_the_naming_still_reads_and_refuses_a_resume(lab_run, tmp_path, capsys):
    run, ds = lab_run
    old = _to_old_naming(run, tmp_path / "old")
    trial = ds / "S001" / "walk.h5"
    code, out, err = cli(["predict", old, trial, "--json", "--out", tmp_path / "p"], capsys)
    assert code == 0 and "Traceback" not in err, err
    assert json.loads(out)["fold"] == "final-all"
    code, out, err = cli(["predict", old, trial, "--fold", "sim-k1", "--json", "--out", tmp_path / "p1"], capsys)
    assert code == 0 and json.loads(out)["fold"] == "sim-k1", err
    code, _, err = cli(["export", old, "--onnx", tmp_path / "g.onnx"], capsys)
    assert code == 0 and "Traceback" not in err, err
    code, _, err = cli(["report", old], capsys)
    assert code == 0 and "Traceback" not in err, err
    # --resume would add clinic-k0 folds beside the sim-k0 ones: one line, exit 2, nothing added
    code, _, err = cli(["run", "gait-emg", "--data", ds, "--out", old, *SMALL, "--resume"], capsys)
    line = one_error_line(code, err)
    assert "older myoflow" in line and "'clinic'" in line and "new --out" in line and str(old) in line, line
    assert not list((old / "folds").glob("clinic-*"))
