"""Three more new labs through every pipeline (third sweep, issues 14/18): BDF/XDF/Intan/MAT v7.3/C3D/OpenSim
inputs, other rates and grids, small cohorts, hostile ``--set`` values and resumed runs.

Each test is the smallest input that showed the problem; each fails without its fix.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from myoflow.containers import Recording
from myoflow.io import read, write_dataset, write_edf

from ._builders import cli as _cli, one_error_line as _one_error_line


# ------------------------------------------------------------------ BDF/EDF: the rate read back exactly
@pytest.mark.parametrize("suffix", [".bdf", ".edf"])
def test_edf_rate_is_read_back_exactly_when_records_are_not_one_second(suffix, tmp_path, capsys):
    # 5267 samples at 4 kHz tile only as one 1.31675 s record; 5267 / 1.31675 is 3999.9999999999995 in floats
    rng = np.random.default_rng(0)
    recs = [Recording(rng.normal(size=(1, n)) * 1e-4, 4000.0, ["RF"], units="V") for n in (5133, 5267)]
    files = [write_edf(r, tmp_path / "raw" / f"P1_RF_{f}Hz{suffix}") for r, f in zip(recs, (15, 30))]
    assert [read(f).fs for f in files] == [4000.0, 4000.0]  # was: [4000.0, 3999.9999999999995]
    code, _, err = _cli(["convert", tmp_path / "raw", "--pattern", "{subject}_{muscle}_{frequency}Hz",
                         "--out", tmp_path / "ds"], capsys)
    assert code == 0, err
    # was: the stimulated-mass run on this folder stopped with "fs=4000 Hz differs from the cohort's 4000 Hz"
    assert set(read(tmp_path / "ds").index["fs"]) == {4000.0}


# ------------------------------------------------------------------ hostile --set values
def test_seed_outside_numpys_range_is_a_config_error(tmp_path, capsys):
    rng = np.random.default_rng(0)
    items = [(f"S{i}_{m}", Recording(rng.normal(size=(1, 4000)) * 1e-4, 2000.0, ["ch1"], units="V",
                                     meta={"subject": f"S{i}", "muscle": m})) for i in range(3) for m in ("VL", "TA")]
    ds = write_dataset(tmp_path / "lab", items, None, {"protocol": "t"}).path
    code, _, err = _cli(["run", "muscle-id", "--data", ds, "--out", tmp_path / "run", "--set", "evaluate.models=[lda]",
                         "--set", "seed=99999999999999999999999"], capsys)
    line = _one_error_line(code, err)  # was: numpy's "Seed must be between 0 and 2**32 - 1" traceback mid-plan
    assert "seed" in line and "4294967295" in line


# ------------------------------------------------------------------ convert: one recording under two subjects
def test_a_file_copied_under_another_subject_is_named(tmp_path, capsys, caplog):
    from ._builders import write_csv

    raw = tmp_path / "raw"
    for s, seed in (("S01", 0), ("S02", 1), ("S03", 2)):
        write_csv(raw / f"{s}_VL_1.csv", seed=seed)
    (raw / "S04_VL_1.csv").write_bytes((raw / "S01_VL_1.csv").read_bytes())  # the copy a busy lab makes
    argv = ["convert", raw, "--pattern", "{subject}_{muscle}_{session}", "--out", tmp_path / "ds"]
    code, _, err = _cli(argv, capsys)
    assert code == 0, err
    # was: no word; LOSO then tested S01 on a model trained on its copy
    msgs = [r.getMessage() for r in caplog.records if "same samples" in r.getMessage()]
    assert len(msgs) == 1 and "S04_VL_1.csv" in msgs[0] and "S01_VL_1.csv" in msgs[0] and "subject-wise" in msgs[0]
    caplog.clear()
    (raw / "S04_VL_1.csv").rename(raw / "S01_VL_2.csv")  # one subject's session copied
    code, _, err = _cli(argv, capsys)
    assert code == 0, err
    assert any("same samples" in r.getMessage() and "S01_VL_2.csv" in r.getMessage() for r in caplog.records)


# ------------------------------------------------------------------ stimulated-mass: more folds than subjects
# (two subjects: no n_splits can work, test_own_lab11.test_two_subjects_are_told_no_split_can_work_...)
@pytest.mark.parametrize("n_splits,n_subjects,allowed", [(1, 6, "2 to 6 folds"), (7, 6, "2 to 6 folds"),
                                                       (5, 4, "2 to 4 folds")])
def test_more_folds_than_subjects_names_the_setting(n_splits, n_subjects, allowed, tmp_path, capsys):
    from myoflow.simulate.protocols.evoked import simulate_evoked

    recs, part = simulate_evoked(n_subjects, 1, frequencies=(15.0,), train_s=0.5, n_units=10, fs=2000.0, muscles=("RF",))
    ds = write_dataset(tmp_path / "lab", [(f"{r.meta['subject']}_RF", r) for r in recs],
                       part[["subject", "age", "sex", "height", "weight", "mass_class"]], {"protocol": "evoked"}).path
    code, _, err = _cli(["run", "stimulated-mass", "--data", ds, "--out", tmp_path / "run", "--set",
                         "evaluate.models=[ptp_logreg]", "--set", f"evaluate.n_splits={n_splits}"], capsys)
    line = _one_error_line(code, err)  # was: "SubjectKFold(n_splits=7) needs at least 7 values of subject, got 6"
    assert f"evaluate.n_splits={n_splits}" in line and f"{n_subjects} subjects" in line and allowed in line


# ------------------------------------------------------------------ gait-emg: one walker with a short trial
def test_one_subject_with_too_few_cycles_names_the_folder_and_the_way_out(tmp_path, capsys):
    import pandas as pd

    from myoflow.containers import Trial
    from myoflow.simulate.protocols.gait import simulate_gait

    trial = simulate_gait(1, 0, 6, fs_sim=2048.0, noise=False)[0][0]
    walk = Trial(streams={k: trial[k] for k in ("angles", "moments", "grf")} | {"emg": trial["emg"].pick(["TA"])},
                 meta={"subject": "S01", "trial": "walk"})
    cov = trial.meta["covariates"]
    ds = write_dataset(tmp_path / "walker", [("S01_walk", walk)],
                       pd.DataFrame({"subject": ["S01"], "weight": [cov["weight"]], "height": [cov["height"]]}),
                       {"protocol": "converted"}).path
    code, _, err = _cli(["run", "gait-emg", "--data", ds, "--out", tmp_path / "run", "--set", "train.epochs=1"], capsys)
    line = _one_error_line(code, err)  # was: "error: 5 gait cycle(s): too few ..." naming no folder
    assert line.startswith(f"error: {ds}: ") and "too few for within-subject folds" in line and "more strides" in line


# ------------------------------------------------------------------ convert: the subjects it wrote
def test_convert_counts_the_subjects_with_recordings(tmp_path, capsys):
    from ._builders import write_csv

    raw = tmp_path / "raw"
    write_csv(raw / "S01_VL.csv")
    (tmp_path / "p.csv").write_text("subject,age\nS01,40\nS02,50\n")
    code, out, err = _cli(["convert", raw, "--pattern", "{subject}_{muscle}", "--participants", tmp_path / "p.csv",
                           "--out", tmp_path / "ds"], capsys)
    assert code == 0, err
    # was: "wrote 1 item(s), 2 subject(s)": the participants table's rows, not the subjects converted
    assert "wrote 1 item(s), 1 subject(s) (participants.csv lists 1 more without recordings)" in out


# ------------------------------------------------------------------ stimulated-mass: a one-class clinic
def test_label_column_with_one_class_names_the_table(tmp_path, capsys):
    from myoflow.simulate.protocols.evoked import simulate_evoked

    recs, part = simulate_evoked(3, 1, frequencies=(15.0,), train_s=0.5, n_units=10, fs=2000.0, muscles=("RF",))
    ds = write_dataset(tmp_path / "lab", [(f"{r.meta['subject']}_RF", r) for r in recs],
                       part[["subject", "age"]].assign(mass_class="low"), {"protocol": "evoked"}).path
    code, _, err = _cli(["run", "stimulated-mass", "--data", ds, "--out", tmp_path / "run"], capsys)
    line = _one_error_line(code, err)  # was: "error: config: data.classes needs at least two classes"
    assert "participants.csv" in line and "'mass_class' holds 1 class(es) ['low']" in line


# ------------------------------------------------------------------ convert: fields pipelines read as numbers
@pytest.mark.parametrize("pattern,problem", [("{subject}_{frequency}", "frequency 'VL' is not a stimulation frequency"),
                                             ("{subject}_{fs}", "'fs' cannot be a manifest column")])
def test_pattern_fields_read_as_numbers_are_checked(pattern, problem, tmp_path, capsys):
    from ._builders import write_csv

    write_csv(tmp_path / "raw" / "S01_VL.csv")
    code, _, err = _cli(["convert", tmp_path / "raw", "--pattern", pattern, "--out", tmp_path / "ds"], capsys)
    line = _one_error_line(code, err)  # was: exit 0, then stimulated-mass: ValueError traceback ('VL' is no float)
    assert "S01_VL.csv" in line and problem in line


def test_stimulated_mass_folder_with_text_frequencies_is_a_one_line_error(tmp_path, capsys):
    from myoflow.simulate.protocols.evoked import simulate_evoked

    recs, part = simulate_evoked(3, 1, frequencies=(15.0,), train_s=0.5, n_units=10, fs=2000.0, muscles=("RF",))
    items = [(f"{r.meta['subject']}_RF", r.replace(meta={**r.meta, "frequency": "fast"})) for r in recs]
    ds = write_dataset(tmp_path / "lab", items, part[["subject", "age", "mass_class"]], {"protocol": "evoked"}).path
    code, _, err = _cli(["run", "stimulated-mass", "--data", ds, "--out", tmp_path / "run"], capsys)
    line = _one_error_line(code, err)  # was: "ValueError: could not convert string to float: 'fast'" traceback
    assert "index.csv" in line and "['fast']" in line


@pytest.mark.parametrize("fs", ["1e308", "1e-300", "1e7"])
def test_implausible_sampling_rate_is_refused(fs, tmp_path, capsys):
    raw = tmp_path / "raw"
    raw.mkdir()
    np.savetxt(raw / "S01_VL.csv", np.random.default_rng(0).normal(size=(500, 2)), delimiter=",")
    code, _, err = _cli(["convert", raw, "--pattern", "{subject}_{muscle}", "--fs", fs, "--out", tmp_path / "ds"],
                        capsys)
    line = _one_error_line(code, err)  # was: exit 0, a recording of 1e-300 Hz (a duration of 5e302 s)
    assert "S01_VL.csv" in line and "sampling rate" in line and "outside" in line


# ------------------------------------------------------------------ file names in another encoding
def test_file_name_that_is_not_utf8_is_a_one_line_error(tmp_path, capsys):
    import os

    from ._builders import write_csv

    name = os.fsdecode(b"S02_V\xe9L.csv")  # a Latin-1 'é' on a UTF-8 system: lone surrogates in Python
    f = write_csv(tmp_path / "raw" / name)
    code, _, err = _cli(["convert", f, "--pattern", "{subject}_{muscle}", "--out", tmp_path / "ds"], capsys)
    line = _one_error_line(code, err)  # was: UnicodeEncodeError traceback while writing the dataset folder
    assert "S02_V\\udce9L.csv" in line and "not valid UTF-8" in line and "rename it" in line
    from myoflow.errors import DataError
    from myoflow.io import native

    with pytest.raises(DataError, match=r"x\.h5: meta holds text that is not valid UTF-8"):  # the Python API too
        native.save(Recording(np.zeros((1, 10)), 100.0, ["a"], meta={"subject": name}), tmp_path / "x.h5")


# ------------------------------------------------------------------ a conversion killed mid-write, run again
def test_convert_killed_mid_write_can_be_run_again(tmp_path, capsys):
    from ._builders import write_csv

    raw = tmp_path / "raw"
    for s in ("S01", "S02", "S03"):
        write_csv(raw / f"{s}_VL.csv", seed=int(s[1:]))
    out = tmp_path / "ds"

    def killed():  # what kill -9 leaves: two items written, no dataset.json
        rng = np.random.default_rng(0)
        for stem in ("S01_VL", "old_item"):
            yield stem, Recording(rng.normal(size=(1, 500)), 1000.0, ["ch1"], meta={"subject": "S01"})
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_dataset(out, killed(), None, {"protocol": "t"})
    (out / ".old_item.h5.abc123.h5").write_bytes(b"half a file")  # its save cut short (atomic_path's temp name)
    (out / "mine.txt").write_text("a file of the user's")  # listed by no write: never deleted
    assert not (out / "dataset.json").exists()
    code, out_text, err = _cli(["convert", raw, "--pattern", "{subject}_{muscle}", "--out", out], capsys)
    # was: "refusing to write a dataset into a non-empty folder that is not a myoflow dataset"
    assert code == 0, err
    ds = read(out)
    assert sorted(ds.stems) == ["S01_VL", "S02_VL", "S03_VL"]
    assert not (out / "old_item.h5").exists() and not (out / ".myoflow-writing").exists()
    assert not (out / ".old_item.h5.abc123.h5").exists()
    assert (out / "mine.txt").read_text() == "a file of the user's"


# ------------------------------------------------------------------ ids a file carries in its own metadata
def test_path_like_ids_inside_a_files_metadata_are_refused_naming_the_file(tmp_path, capsys):
    from myoflow.io import native

    rng = np.random.default_rng(0)
    f = native.save(Recording(rng.normal(size=(1, 3000)) * 1e-4, 1000.0, ["a"], units="V",
                              meta={"subject": "S02", "muscle": "../x", "side": "/abs"}), tmp_path / "raw" / "B_1.h5")
    code, _, err = _cli(["convert", f, "--pattern", "{session}_{trial}", "--out", tmp_path / "ds"], capsys)
    line = _one_error_line(code, err)  # was: exit 0, muscle '../x' and side '/abs' written into index.csv
    assert "B_1.h5" in line and "'../x' is not allowed" in line
    assert not (tmp_path / "ds").exists()


def test_huge_n_boot_is_refused_before_any_fold_runs(tmp_path, capsys):
    rng = np.random.default_rng(0)
    items = [(f"S{i}_{m}", Recording(rng.normal(size=(1, 4000)) * 1e-4, 2000.0, ["ch1"], units="V",
                                     meta={"subject": f"S{i}", "muscle": m})) for i in range(3) for m in ("VL", "TA")]
    ds = write_dataset(tmp_path / "lab", items, None, {"protocol": "t"}).path
    code, _, err = _cli(["run", "muscle-id", "--data", ds, "--out", tmp_path / "run", "--set", "evaluate.models=[lda]",
                         "--set", "evaluate.n_boot=1000000000"], capsys)
    line = _one_error_line(code, err)  # was: every fold ran, then a 45 GiB ArrayMemoryError traceback
    assert "evaluate.n_boot" in line and "100000" in line
    assert not (tmp_path / "run" / "folds").exists()
