"""``myoflow validate-simulator``: rules, absent/corrupt datasets, the quick report on the real data."""
import json
import re
from pathlib import Path

import numpy as np
import pytest

from myoflow.cli import main
from myoflow.validation.simulator import SECTIONS, range_check, spectral_stats, tolerance_check, validate_simulator

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def test_range_rule_passes_inside_and_fails_outside():
    real = [80.0, 90.0, 100.0]
    assert range_check("MNF", "Hz", real, [85.0, 95.0, 99.0], "subjects").passed is True
    assert range_check("MNF", "Hz", real, [101.0, 120.0], "subjects").passed is False
    # the median is judged, not any single value
    assert range_check("MNF", "Hz", real, [10.0, 95.0, 150.0], "subjects").passed is True
    assert range_check("MNF", "Hz", [90.0], [90.0], "subjects").passed is None  # one real value: no range


def test_tolerance_rule():
    assert tolerance_check("d", "ms", 1.0, [1.9], factor=2.0).passed is True
    assert tolerance_check("d", "ms", 1.0, [2.1], factor=2.0).passed is False
    assert tolerance_check("d", "ms", 1.0, [0.45], factor=2.0).passed is False
    assert tolerance_check("t", "%", 50.0, [58.0], absolute=10.0).passed is True
    assert tolerance_check("t", "%", 50.0, [61.0], absolute=10.0).passed is False


def test_spectral_stats_of_a_known_spectrum():
    rng = np.random.default_rng(0)
    fs = 2000.0
    t = np.arange(int(4 * fs)) / fs
    x = np.sin(2 * np.pi * 100 * t) + 1e-3 * rng.standard_normal(t.size)
    s = spectral_stats(x, fs)
    assert abs(s["mdf"] - 100) < 5 and abs(s["mnf"] - 100) < 5
    assert np.isclose(np.trapezoid(s["psd"], s["f"]), 1.0, rtol=0.05)


def test_absent_datasets_say_so(tmp_path):
    report, sections = validate_simulator(tmp_path / "out", tmp_path / "empty", quick=True)
    assert [s.status for s in sections] == ["absent"] * len(SECTIONS)
    assert all("not found" in s.message for s in sections)
    assert report.is_file() and "absent" in report.read_text()


def test_corrupt_dataset_is_an_error_row_and_exit_2(tmp_path, capsys):
    d = tmp_path / "data" / "stim-artefact-tscs"
    d.mkdir(parents=True)
    for name in ("SingleCh_StimON.mat", "SingleCh_StimOFF.mat"):
        (d / name).write_bytes(b"not a mat file")
    with pytest.raises(SystemExit) as e:
        main(["validate-simulator", "--out", str(tmp_path / "out"), "--data", str(tmp_path / "data"),
              "--only", "stim"])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "stim-artefact-tscs" in err[0] and "Traceback" not in err[0]
    assert (tmp_path / "out" / "report.html").is_file()


def test_missing_data_folder_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["validate-simulator", "--out", str(tmp_path / "o"), "--data", str(tmp_path / "nope")])
    assert e.value.code == 2 and "data folder not found" in capsys.readouterr().err


def test_a_data_folder_with_none_of_the_datasets_is_exit_2(tmp_path, capsys):
    # was exit 0 with "0/0 judged statistics pass": a wrong --data looked like a clean validation
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "S01.csv").write_text("t,emg\n0,1\n")
    with pytest.raises(SystemExit) as e:
        main(["validate-simulator", "--out", str(tmp_path / "o"), "--data", str(tmp_path / "mine"), "--quick"])
    err = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 2 and len(err) == 1 and "holds none of the datasets" in err[0] and "mine" in err[0]


def test_out_inside_the_data_or_a_foreign_folder_is_refused(tmp_path, capsys):
    data = tmp_path / "data"
    (data / "stim-artefact-tscs").mkdir(parents=True)
    mine = tmp_path / "notes"
    mine.mkdir()
    (mine / "report.html").write_text("my own report")
    for out in (data / "stim-artefact-tscs", mine):
        with pytest.raises(SystemExit) as e:
            main(["validate-simulator", "--out", str(out), "--data", str(data), "--only", "stim"])
        err = capsys.readouterr().err.strip().splitlines()
        assert e.value.code == 2 and len(err) == 1 and "--out" in err[0]
    assert (mine / "report.html").read_text() == "my own report"
    assert not (data / "stim-artefact-tscs" / "figures").exists()


@pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data (public recordings) not present")
def test_quick_report_on_the_real_data(tmp_path):
    report, sections = validate_simulator(tmp_path, DATA, quick=True, seed=3)
    by = {s.key: s for s in sections}
    for key, (folder, _) in SECTIONS.items():
        if (DATA / folder).is_dir():
            assert by[folder].status == "compared", by[folder].message
            assert by[folder].checks and by[folder].figures
    page = report.read_text()
    assert "<img" in page and not re.search(r'src="(?!data:)', page)  # self-contained: figures inlined
    blob = json.loads((tmp_path / "validation.json").read_text())
    assert len(blob["sections"]) == len(SECTIONS)
    # held-out halves: the elderly rows score the even ids; gait variability scores walk45 (walk36 calibrated it)
    if "elderly-lowerlimb-emg" in by and by["elderly-lowerlimb-emg"].status == "compared":
        assert any("even ids" in n for n in by["elderly-lowerlimb-emg"].notes)
        assert blob["info"]["half"] == "score"
    if "ceinms-gait" in by and by["ceinms-gait"].status == "compared":
        var = [c for c in by["ceinms-gait"].checks if "between-cycle" in c.statistic]
        assert var and all(c.note.startswith("real: walk45 only") for c in var)
    # each verdict follows from the numbers shown beside it
    for s in sections:
        for c in s.checks:
            if c.rule.startswith("sim median inside") and c.passed is not None:
                assert c.passed == (c.real_range[0] <= c.sim <= c.real_range[1])


@pytest.mark.skipif(not (DATA / "openhdemg-otb").is_dir(), reason="openhdemg-otb not present")
def test_same_seed_same_numbers(tmp_path):
    _, a = validate_simulator(tmp_path / "a", DATA, quick=True, seed=5, only=["muaps"])
    _, b = validate_simulator(tmp_path / "b", DATA, quick=True, seed=5, only=["muaps"])
    _, c = validate_simulator(tmp_path / "c", DATA, quick=True, seed=6, only=["muaps"])
    sims = lambda secs: [ch.sim for ch in secs[0].checks]  # noqa: E731
    assert sims(a) == sims(b) and sims(a) != sims(c)


def test_elderly_halves_are_disjoint_and_the_report_scores_the_even_ids(tmp_path, monkeypatch):
    """Calibration (odd ids, benchmarks/calibrate_lowerlimb.py) and scoring (even ids) never share a subject."""
    import importlib.util

    import myoflow.io.datasets.elderly as elderly
    from myoflow.errors import MyoflowError
    from myoflow.validation import simulator as vs

    score, cal = vs.elderly_subjects("score"), vs.elderly_subjects("calibrate")
    assert all(i % 2 == 0 for i in score) and all(i % 2 == 1 for i in cal)
    assert not set(score) & set(cal) and sorted(score + cal) == list(range(1, 31))
    assert vs.elderly_subjects("all") is None and vs.elderly_subjects("score", quick=True) == [2, 4, 6]
    with pytest.raises(MyoflowError):
        vs.elderly_subjects("odd")
    spec = importlib.util.spec_from_file_location(
        "calibrate_lowerlimb", Path(__file__).resolve().parents[2] / "benchmarks" / "calibrate_lowerlimb.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert tuple(mod.CALIBRATION_SUBJECTS) == tuple(vs.CALIBRATION_SUBJECTS)

    asked = []

    def fake_load(root, progress=False, subjects=None):
        asked.append(subjects)
        raise vs.MyoflowError("stop here")

    monkeypatch.setattr(elderly, "load_elderly_lowerlimb", fake_load)
    (tmp_path / "data" / "elderly-lowerlimb-emg").mkdir(parents=True)
    for half, want in (("score", list(vs.SCORE_SUBJECTS)), ("calibrate", list(vs.CALIBRATION_SUBJECTS))):
        vs.validate_simulator(tmp_path / half, tmp_path / "data", only=["elderly"], half=half)
        assert asked[-1] == want
    with pytest.raises(MyoflowError):
        vs.validate_simulator(tmp_path / "x", tmp_path / "data", only=["elderly"], half="nope")


def test_single_differential_pairs_of_a_grid():
    from myoflow.errors import MyoflowError
    from myoflow.validation.simulator import _sd_pairs

    r, c = np.divmod(np.arange(13 * 5), 5)
    pos = np.column_stack([r * 8.0, c * 8.0])[1:]  # the OTB 13 × 5 grid with one corner empty
    a, b = _sd_pairs(pos, 24.0)
    assert np.allclose(pos[b, 0] - pos[a, 0], 24.0) and np.allclose(pos[b, 1], pos[a, 1])
    assert a.size == 10 * 5 - 1  # 10 rows have a partner 3 rows on; the empty corner loses one pair
    with pytest.raises(MyoflowError):
        _sd_pairs(pos, 7.0)


def test_sta_recovers_a_template_and_reports_its_background():
    """The STA helpers: a clean train gives back its template (no background, halves agree); noise shows."""
    from myoflow.validation.simulator import _sta, _sta_reliability

    fs, pre, post = 2048.0, 41, 61
    pos = np.column_stack([np.arange(4) * 8.0, np.zeros(4)])
    tmpl = np.outer([1.0, 0.6, 0.3, 0.1], np.sin(np.linspace(0, 2 * np.pi, 30))) * 1e-4
    trig = np.arange(200, 150_000, 1500)  # sparse: a trigger moved 100-300 ms lands between potentials
    x = np.zeros((4, 152_000))
    for t0 in trig:
        x[:, t0:t0 + 30] += tmpl
    sta = _sta(x, trig, pre, post)
    assert sta.shape == (4, pre + post) and np.allclose(sta[:, pre:pre + 30], tmpl)
    clean = _sta_reliability(x, trig, pre, post, np.random.default_rng(0), pos, fs)
    assert clean["floor_ratio"] == 0.0 and clean["half_gap_ms"] == 0.0
    # ~100 triggers divide the background SD by 10: twice the template's peak per sample leaves 0.2 of it,
    # i.e. at the 20 % threshold, and its largest deviation over the window above it; a tenth of that below
    ratios = [_sta_reliability(x + np.random.default_rng(1).normal(0.0, sd, x.shape), trig, pre, post,
                               np.random.default_rng(0), pos, fs)["floor_ratio"] for sd in (2e-4, 2e-5)]
    assert ratios[0] > 1.0 > 0.5 > ratios[1] > 0.05


@pytest.mark.skipif(not (DATA / "ceinms-gait").is_dir(), reason="ceinms-gait not present")
def test_real_gait_moment_features_have_the_spec_signs():
    """ceinms moments (OpenSim coordinates) turned extensor/plantarflexor + per kg: push-off plantarflexor
    > 1 N·m/kg, hip extensor at loading response and hip flexor in pre-swing; no simulated walkers → not judged."""
    from myoflow.io.datasets.small import load_ceinms_gait
    from myoflow.validation.simulator import _moment_checks, _spec_note

    checks = _moment_checks(load_ceinms_gait(DATA / "ceinms-gait"), ["walk36", "walk45"], [])
    by = {c.statistic.split(" (")[0]: c for c in checks}
    assert len(by) == 8 and all(c.passed is None for c in checks)
    assert 1.0 < by["moment: ankle plantarflexor, push-off"].real < 2.0
    assert by["moment: hip flexor, pre-swing"].real < 0 < by["moment: hip extensor, loading response"].real
    assert by["moment: knee flexor, late stance"].real < 0
    assert "inside" in _spec_note(-0.9, (-1.0, -0.8)) and "OUTSIDE" in _spec_note(-1.6, (-1.0, -0.8))


def test_calibration_script_refuses_the_report_seed_and_a_missing_folder(tmp_path, capsys):
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "calibrate_lowerlimb", Path(__file__).resolve().parents[2] / "benchmarks" / "calibrate_lowerlimb.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--seed", "0", "--out", str(tmp_path / "r.json")]) == 2  # the report's seed: never select on it
    assert mod.main(["--seed", "1", "--data", str(tmp_path), "--out", str(tmp_path / "r.json")]) == 2
    err = capsys.readouterr().err
    assert "reported cohort" in err and "elderly-lowerlimb-emg folder not found" in err
    assert not (tmp_path / "r.json").exists()


def test_a_corrupt_workbook_is_named_once(shared_data, tmp_path, capsys):
    """Was: 'DIR: DIR/ID 2.xlsx: cannot read workbook ...' (the dataset folder prefixed to an error naming its file)."""
    real = shared_data / "elderly-lowerlimb-emg"
    d = tmp_path / "data" / "elderly-lowerlimb-emg"
    d.mkdir(parents=True)
    for f in real.iterdir():
        if f.name == "ID 2.xlsx":
            (d / f.name).write_bytes(f.read_bytes()[:2000])  # cut mid-archive
        else:
            (d / f.name).symlink_to(f)
    with pytest.raises(SystemExit) as e:
        main(["validate-simulator", "--out", str(tmp_path / "out"), "--data", str(tmp_path / "data"),
              "--only", "elderly", "--quick", "--half", "all"])
    err = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 2 and len(err) == 1
    assert "ID 2.xlsx" in err[0] and "truncated or corrupt" in err[0] and err[0].count(str(d)) == 1


def test_a_missing_workbook_is_named_without_a_misleading_range(tmp_path):
    """Was: 'no workbook for subject(s) [4]; have 1..30' (a range that seemed to include the missing one)."""
    from myoflow.errors import DataError
    from myoflow.io.datasets.elderly import _subject_files

    for i in (1, 2, 3, 5):
        (tmp_path / f"ID {i}.xlsx").write_bytes(b"")
    with pytest.raises(DataError) as e:
        _subject_files(tmp_path, ["S01", "S04"])
    assert "[4]" in str(e.value) and "1, 2, 3, 5" in str(e.value) and "1..5" not in str(e.value)
    assert [s for s, _ in _subject_files(tmp_path, ["S05"])] == ["05"]
