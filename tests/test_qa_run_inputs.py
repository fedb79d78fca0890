"""Regression tests for `myoflow run` on a new user's folders (qa, issue 14): the run folder, the participants
table of stimulated-mass, and muscle-id's whole-recording segmentation.

Fast: the run-folder cases fail before any training (toy pipeline), the others call the validating layer.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from myoflow.cli import main
from myoflow.containers import Recording
from myoflow.errors import ConfigError, DataError
from myoflow.experiments._rundir import partial_writes

TOY = {"name": "toy-qa", "pipeline": "toy", "seed": 1, "train": {"epochs": 1, "batch_size": 8, "lr": 0.1},
       "data": {"subjects": 6, "samples_per_subject": 4}, "evaluate": {"n_splits": 3}}


def _run(argv, capsys) -> tuple[int, str]:
    try:
        main([str(a) for a in argv])
    except SystemExit as exc:
        return int(exc.code or 0), capsys.readouterr().err
    return 0, capsys.readouterr().err


def _toy(tmp_path: Path) -> Path:
    p = tmp_path / "toy.yaml"
    p.write_text(yaml.safe_dump(TOY))
    return p


def test_run_into_a_users_folder_is_refused_and_touches_nothing(tmp_path, capsys):
    # before: the run wrote into the folder and its partial-write cleanup deleted ".env.template"
    proj = tmp_path / "project"
    (proj / "sub").mkdir(parents=True)
    files = {proj / ".env.template": "KEY=1", proj / "sub" / ".config.defaults": "x", proj / "notes.txt": "mine"}
    for p, text in files.items():
        p.write_text(text)
    code, err = _run(["run", _toy(tmp_path), "--out", proj, "--workers", "1"], capsys)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"error: {proj}: --out is a non-empty folder that is not a myoflow run"), lines
    assert sorted(p.name for p in proj.rglob("*")) == [".config.defaults", ".env.template", "notes.txt", "sub"]
    assert all(p.read_text() == text for p, text in files.items())


def test_run_dir_rules_still_take_an_empty_folder_and_a_killed_runs_leftovers(tmp_path, capsys):
    out = tmp_path / "empty"
    out.mkdir()
    (out / ".myoflow.lock").write_text("{}")  # a run killed before it wrote config.yaml
    (out / ".config.yaml.k3j4h5g6.yaml").write_text("half")
    code, err = _run(["run", _toy(tmp_path), "--out", out, "--workers", "1"], capsys)
    assert code == 0, err
    assert (out / "metrics.json").is_file() and not (out / ".config.yaml.k3j4h5g6.yaml").exists()


@pytest.mark.parametrize("name,temp", [
    (".metrics.json.k3j4h5g6.json", True), (".predictions.parquet.ab_cd123.parquet", True),
    (".env.template", False), (".config.defaults", False), (".metrics.json.abcdefgh.yaml", False),
    ("notes.txt", False),
])
def test_only_atomic_write_leftovers_count_as_partial_writes(tmp_path, name, temp):
    (tmp_path / name).write_text("x")
    assert (tmp_path / name in partial_writes(tmp_path)) is temp


# ------------------------------------------------------------------ stimulated-mass participants
@pytest.fixture(scope="module")
def evoked():
    from myoflow.simulate.protocols.evoked import simulate_evoked

    recs, parts = simulate_evoked(3, 3, frequencies=(25.0,), train_s=0.5, n_units=20)
    parts = parts[["subject", "mass_class", "age", "sex", "height", "weight"]].copy()
    parts["mass_class"] = ["low", "normal", "high"]
    return recs, parts


BAD_COVARIATES = {
    "age_word": ("age", "x", "covariate 'age' must be a number, got 'x'"),
    "age_inf": ("age", np.inf, "covariate 'age' is missing or not finite"),
    "age_missing": ("age", np.nan, "covariate 'age' is missing or not finite"),
    "sex_unknown": ("sex", "Q", "sex must be M or F, got 'Q'"),
    "weight_implausible": ("weight", 700.0, "weight=700 is outside the plausible range [25, 300]"),
    "height_in_cm": ("height", 172.0, "height=172 is outside the plausible range [1, 2.5]"),
}


@pytest.mark.parametrize("case", BAD_COVARIATES, ids=list(BAD_COVARIATES))
def test_participants_covariates_checked_and_file_named(case, evoked, tmp_path):
    # before: implausible values trained silently (predict refuses them); other errors named no file
    from myoflow.io import write_dataset
    from myoflow.io.dataset import load_dataset
    from myoflow.preprocess.evoked import prepare_evoked

    recs, parts = evoked
    col, value, expected = BAD_COVARIATES[case]
    bad = parts.copy()
    bad[col] = bad[col].astype(object)
    bad.loc[1, col] = value
    ds = write_dataset(tmp_path / "ds", [(f"{r.meta['subject']}_{r.meta['muscle']}", r) for r in recs], bad,
                       {"protocol": "qa"})
    ds = load_dataset(ds.path)
    with pytest.raises(DataError) as info:
        prepare_evoked([obj for _, obj in ds], ds.participants, label="mass_class",
                       classes=("low", "normal", "high"), covariates=("age", "sex", "height", "weight"),
                       muscles=("RF", "BF"), frequencies=(25.0,))
    msg = str(info.value)
    assert msg.startswith(str(tmp_path / "ds" / "participants.csv")) and expected in msg, msg
    assert f"subject {bad['subject'][1]}" in msg


def test_predict_and_training_share_the_plausible_ranges():
    # one home for the ranges: predict's covariate check reads training's plausible_range, not a copy
    from myoflow.experiments.inference import screening
    from myoflow.preprocess import evoked

    assert screening.plausible_range is evoked.plausible_range
    assert evoked.plausible_range("height") == evoked.PLAUSIBLE_COVARIATES["height"]


# ------------------------------------------------------------------ muscle-id whole recordings
def test_whole_segmentation_needs_all_windows():
    # before: windows_per_burst=1 kept the first 500 ms of each recording; intra folds then failed cryptically
    from myoflow.pipelines.muscle_id.config import CohortConfig

    with pytest.raises(ConfigError, match="windows_per_burst=1 keeps only its first window"):
        CohortConfig(source="folder", path=Path("x"), segmentation="whole")
    ok = CohortConfig(source="folder", path=Path("x"), segmentation="whole", windows_per_burst=None, block_windows=4)
    assert ok.windows_per_burst is None
    assert CohortConfig(source="folder", path=Path("x")).windows_per_burst == 1  # bursts keep the paper's window


def test_whole_segmentation_error_through_set(tmp_path, capsys):
    from myoflow.io import write_dataset

    rng = np.random.default_rng(0)
    items = [(f"{s}_{m}", Recording(rng.normal(size=(1, 3000)) * 1e-4, 1000.0, ["c"],
                                    meta={"subject": s, "muscle": m})) for s in ("01", "02", "03") for m in ("A", "B")]
    write_dataset(tmp_path / "mine", items, None, {"protocol": "qa"})
    code, err = _run(["run", "muscle-id", "--data", tmp_path / "mine", "--out", tmp_path / "run",
                      "--set", "data.mine.segmentation=whole"], capsys)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1 and "windows_per_burst=null" in lines[0], err


# ------------------------------------------------------------------ gait-emg joint angles
@pytest.fixture(scope="module")
def gait_trial():
    from myoflow.simulate.protocols.gait import simulate_gait

    return simulate_gait(1, 0, 5, fs_sim=1024.0)[0][0]


def _with_angles(trial, data, units, source="lab/W01_ik.csv"):
    a = trial["angles"]
    ang = Recording(data, a.fs, a.ch_names, units=units, t0=a.t0, meta={"source": source})
    return trial.replace(streams={**trial.streams, "angles": ang}, meta={**trial.meta, "source": source})


@pytest.mark.parametrize("units", ["a.u.", "V"])
def test_gait_angles_that_look_like_radians_are_refused(gait_trial, units):
    # before: radians were read as degrees (a 1-degree knee), cycles kept, models trained on them
    from myoflow.biomech.gait_cycles import trial_to_cycles

    t = _with_angles(gait_trial, np.deg2rad(gait_trial["angles"].data), units)
    with pytest.raises(DataError, match=r"^lab/W01_ik.csv: joint angles never exceed .* look like radians"):
        trial_to_cycles(t)


def test_gait_angles_declared_in_radians_are_converted(gait_trial):
    from myoflow.biomech.gait_cycles import trial_to_cycles

    a = gait_trial["angles"]
    ref = trial_to_cycles(gait_trial)
    rad = trial_to_cycles(_with_angles(gait_trial, np.deg2rad(a.data), "rad"))
    assert len(rad) == len(ref) > 0
    np.testing.assert_allclose(rad.angles, ref.angles, rtol=1e-4, atol=1e-3)


def test_trial_errors_name_the_files_not_a_repr(gait_trial):
    from myoflow.biomech.gait_cycles import trial_to_cycles

    t = gait_trial.replace(streams={k: v for k, v in gait_trial.streams.items() if k != "emg"},
                           meta={**gait_trial.meta, "source": "lab/W01_ik.csv;lab/W01_grf.csv"})
    with pytest.raises(DataError, match=r"^lab/W01_ik.csv;lab/W01_grf.csv: trial has no 'emg' stream"):
        trial_to_cycles(t)


# ------------------------------------------------------------------ stimulated-mass side-by-side table
def test_stimulated_mass_headline_has_the_paired_differences_to_the_baselines():
    # before: the paired subject-bootstrap differences were only in metrics.json, not in the headline/report
    from myoflow.pipelines.stimulated_mass.summary import headline_rows

    acc = {"accuracy": 0.6, "accuracy_ci": [0.4, 0.8], "balanced_accuracy": 0.5, "balanced_accuracy_ci": [0.3, 0.7]}
    summary = {"conditions": {"40Hz": {m: dict(acc) for m in ("attention_bilstm", "descriptors_gb", "ptp_logreg")}},
               "comparisons": {"40Hz": {
                   "vs_descriptors_gb": {"accuracy": {"value": 0.1, "ci_low": -0.05, "ci_high": 0.2}},
                   "vs_ptp_logreg": {"accuracy": {"value": -0.2, "ci_low": float("nan"), "ci_high": 0.1}}}}}
    rows = {r.label: r for r in headline_rows(summary)}
    gb = rows["attention Bi-LSTM − M-wave descriptors + covariates, GB (accuracy, paired)"]
    assert gb.ours == pytest.approx(0.1) and gb.ci == (-0.05, 0.2) and gb.paper is None
    ptp = rows["attention Bi-LSTM − M-wave p-p only, logistic regression (accuracy, paired)"]
    assert ptp.ours == pytest.approx(-0.2) and ptp.ci is None  # a non-finite bound is not printed as a CI


@pytest.mark.parametrize("name", ["../../evil", "/tmp/x", "..", "a b"])
@pytest.mark.parametrize("pipeline", ["stimulated-mass", "gait-emg"])
def test_run_name_must_be_a_plain_word(pipeline, name, tmp_path, capsys):
    # before: accepted by every pipeline but muscle-id and printed into conditions and reports
    from myoflow.io import write_dataset

    rec = Recording(np.zeros((1, 2000)), 1000.0, ["c"], meta={"subject": "01", "muscle": "RF", "frequency": 25.0})
    write_dataset(tmp_path / "mine", [("01_RF", rec)], None, {"protocol": "qa"})
    code, err = _run(["run", pipeline, "--data", tmp_path / "mine", "--out", tmp_path / "run", "--name", name], capsys)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith(f"error: --name {name!r}"), err
    assert not (tmp_path / "run").exists()


def test_a_data_path_written_relative_to_the_config_folder_gets_a_hint(tmp_path, capsys, monkeypatch):
    # relative data paths are read from the working directory; a path that only exists beside the YAML
    # used to end in a bare "dataset folder not found"
    lab = tmp_path / "lab"
    (lab / "recordings").mkdir(parents=True)
    cfg = lab / "muscle_id.yaml"
    cfg.write_text(yaml.safe_dump({"pipeline": "muscle-id", "name": "lab",
                                   "data": {"source": "folder", "path": "recordings"}}))
    monkeypatch.chdir(tmp_path)
    code, err = _run(["run", "lab/muscle_id.yaml", "--out", tmp_path / "run"], capsys)
    assert code == 2
    assert "lab/muscle_id.yaml" in err and "working directory" in err and "lab/recordings" in err
    assert "Traceback" not in err and not (tmp_path / "run").exists()


@pytest.mark.parametrize("config", ["muscle_id.yaml", "stimulated_mass.yaml"])
def test_a_model_named_twice_is_a_config_error(config):
    from myoflow.errors import ConfigError
    from myoflow.experiments import load_config

    path = Path(__file__).resolve().parents[1] / "src" / "myoflow" / "configs" / config
    with pytest.raises(ConfigError, match=r"evaluate.models: \['lda'\] named more than once|"
                                          r"evaluate.models: \['ptp_logreg'\] named more than once"):
        model = "lda" if config.startswith("muscle") else "ptp_logreg"
        load_config(path, overrides={"evaluate": {"models": [model, model]}})
