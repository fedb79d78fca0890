"""Every recording in ../shared/data loads with the fs, channels and shapes its README states.

Skipped (with the reason) when the shared data folder is absent.
"""
from __future__ import annotations

import json
import time

import numpy as np
import pytest

from myoflow.cli import main
from myoflow.containers import Recording, Trial, events_built
from myoflow.errors import DataError
from myoflow.io import (
    DATASETS,
    detect_dataset,
    load_biosignalsnotebooks,
    load_ceinms_gait,
    load_elderly_lowerlimb,
    load_openhdemg_otb,
    load_pyomeca,
    load_stim_artefact_tscs,
    read,
)
from myoflow.io.testing import assert_same

pytestmark = pytest.mark.realdata

DATA_SUFFIXES = {".xlsx", ".sto", ".mot", ".c3d", ".mat", ".h5"}


@pytest.fixture(scope="module")
def elderly_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("myoflow-cache")


@pytest.fixture(scope="module")
def otb(shared_data):
    return load_openhdemg_otb(shared_data / "openhdemg-otb")


def test_every_data_file_loads(shared_data):
    files = sorted(p for p in shared_data.rglob("*") if p.suffix.lower() in DATA_SUFFIXES)
    assert len(files) >= 50
    checked = 0
    for f in files:
        if f.name == "Demographics.xlsx":
            with pytest.raises(DataError, match="covariate table"):
                read(f)
            continue
        if f.suffix == ".xlsx" and f.name != "ID 5.xlsx":
            continue  # workbooks 1 and 6 are parsed by the cache test, all 30 once by the slow test
        obj = read(f)
        items = obj if isinstance(obj, list) else [obj]
        for item in items:
            recs = item.streams.values() if isinstance(item, Trial) else [item]
            for r in recs:
                assert isinstance(r, Recording) and r.n_samples > 0 and r.fs > 0
                assert np.isfinite(r.data).all()
        checked += 1
    assert checked >= 20


def test_every_folder_is_recognised(shared_data):
    for name in DATASETS:
        loader = detect_dataset(shared_data / name)
        assert loader is not None and loader.name == name


def test_elderly_two_subjects_and_cache(shared_data, elderly_cache):
    folder = shared_data / "elderly-lowerlimb-emg"
    t = time.perf_counter()
    trials = load_elderly_lowerlimb(folder, cache_dir=elderly_cache, progress=False, subjects=[1, 6])
    first = time.perf_counter() - t
    assert [(tr.meta["subject"], tr.meta["task"]) for tr in trials] == [
        (s, m) for s in ("01", "06") for m in ("VL", "BF", "TA", "GL")
    ]
    for tr in trials:
        emg, force = tr["emg"], tr["force"]
        assert emg.fs == 2000 and emg.ch_names == ("VL", "BF", "TA", "GL") and emg.units == ("V",) * 4
        assert force.fs == 2000 and force.ch_names == ("force",)
        assert emg.meta["muscle"] == tr.meta["task"] and emg.subject == tr.meta["subject"]
        assert np.abs(emg.data).max() < 0.05  # µV scaled to V: sEMG stays far below 50 mV
    s1 = trials[0]
    assert s1["emg"].n_samples == 20001
    assert s1.meta["covariates"] == pytest.approx(
        {"age": 74, "weight": 94, "height": 170, "bbs": 49, "bmi": 94 / 1.7**2})
    s6 = {tr.meta["task"]: tr for tr in trials[4:]}
    assert s6["TA"]["emg"].meta["sheet"] == "EMB_TA" and s6["TA"]["emg"].n_samples == 20001
    assert s6["VL"]["emg"].n_samples == 10001 and s6["VL"]["force"].n_samples == 10001
    assert s6["TA"]["force"].n_samples == 20001
    cached = sorted(p.name for p in elderly_cache.rglob("*.h5"))
    assert len(cached) == 8 and any(n.startswith("ID6-") for n in cached)
    # reading, caching and returning the trials never builds an (empty) events table
    assert not any(events_built(r) for tr in trials for r in tr.streams.values())
    # Second load reads the cache and gives the same trials.
    t = time.perf_counter()
    again = load_elderly_lowerlimb(folder, cache_dir=elderly_cache, progress=False, subjects=["01", "06"])
    second = time.perf_counter() - t
    assert not any(events_built(r) for tr in again for r in tr.streams.values())
    for a, b in zip(trials, again):
        assert_same(a, b)
    assert second < first


@pytest.mark.slow
def test_elderly_all_30_subjects_through_cache(shared_data, elderly_cache):
    trials = load_elderly_lowerlimb(shared_data / "elderly-lowerlimb-emg", cache_dir=elderly_cache, progress=False)
    assert len(trials) == 120
    assert sorted({t.meta["subject"] for t in trials}) == [f"{i:02d}" for i in range(1, 31)]
    lengths = {t["emg"].n_samples for t in trials}
    assert lengths == {10001, 20001}
    short = sorted({t.meta["subject"] for t in trials if t["emg"].n_samples == 10001})
    assert short == ["05", "06"]
    ages = [t.meta["covariates"]["age"] for t in trials]
    assert min(ages) == 64 and max(ages) == 82
    assert len(list(elderly_cache.rglob("*.h5"))) == 120


def test_ceinms_gait(shared_data):
    trials = load_ceinms_gait(shared_data / "ceinms-gait")
    assert sorted(trials) == ["run81", "walk36", "walk45"]
    for tr in trials.values():
        assert set(tr.names) == {"angles", "moments", "emg", "grf"}
        assert all(r.fs == 100 for r in tr.streams.values())
        assert tr["emg"].ch_names == ("soleus_r", "med_gas_r", "lat_gas_r", "tib_ant_r", "semimem_r",
                                     "bifemlh_r", "vas_lat_r", "rect_fem_r", "vas_med_r")
        assert tr["emg"].units == ("a.u.",) * 9
        ang = tr["angles"]
        assert ang.units[ang.ch_names.index("knee_angle_r")] == "deg"
        assert ang.units[ang.ch_names.index("pelvis_tx")] == "m"
        mom = tr["moments"]
        assert mom.units[mom.ch_names.index("knee_angle_r_moment")] == "N·m"
        grf = tr["grf"]
        assert grf.units[grf.ch_names.index("ground_force_vy")] == "N"
        assert len({r.n_samples for r in tr.streams.values()}) == 1
    assert trials["walk36"]["angles"].n_samples == 6097
    assert trials["walk36"].meta["speed_kmh"] == 3.6


def test_pyomeca(shared_data):
    d = load_pyomeca(shared_data / "pyomeca")
    emg = d["markers_analogs"]
    assert emg.fs == 2000 and emg.n_channels == 13 and emg.n_samples == 11600
    assert emg.duration == pytest.approx(5.8)
    assert {"Delt_ant", "Biceps", "Triceps", "Supra", "Pec", "Gd_dors"} <= set(emg.ch_names)
    assert (emg.data.std(axis=1) > 0).all()  # the labelled channels carry signal
    assert d["inverse_kin"].fs == 100 and d["inverse_dyn"].fs == 100
    assert d["inverse_kin"].t0 == pytest.approx(1.56)
    assert read(shared_data / "pyomeca" / "markers_analogs.c3d").n_channels == 38


def test_openhdemg_otb(otb):
    trial = otb
    emg = trial["emg"]
    assert emg.fs == 2048 and emg.n_channels == 64 and emg.n_samples == 66560
    assert emg.duration == pytest.approx(32.5)
    assert emg.units == ("V",) * 64 and np.abs(emg.data).max() < 0.01
    # GR08MM1305: 13 × 5 grid with one empty corner, 8 mm inter-electrode distance
    assert emg.meta["electrode"]["model"] == "GR08MM1305" and emg.meta["electrode"]["ied_mm"] == 8
    assert emg.layout.shape == (64, 2) and len({tuple(p) for p in emg.layout}) == 64
    d = np.linalg.norm(emg.layout[:, None] - emg.layout[None], axis=-1)
    np.fill_diagonal(d, np.inf)
    assert np.allclose(d.min(axis=1), 8.0)
    assert np.ptp(emg.layout, axis=0).tolist() == [96.0, 32.0]
    ev = emg.events[emg.events["kind"] == "mu_firing"]
    assert sorted(ev["unit"].unique()) == [0, 1, 2, 3, 4]
    assert ev.groupby("unit").size().tolist() == [137, 154, 197, 293, 292]
    assert trial["force"].units == ("%MVC",) and trial["mu_sources"].n_channels == 5
    assert emg.t0 == pytest.approx(7.0)


def test_stim_artefact_tscs(shared_data):
    d = load_stim_artefact_tscs(shared_data / "stim-artefact-tscs")
    assert d["on"].fs == 4000 and d["off"].fs == 4000
    assert d["on"].n_channels == 1 and d["off"].n_channels == 1
    assert d["on"].duration == pytest.approx(148.8, abs=0.05)
    assert d["off"].duration == pytest.approx(78.2, abs=0.05)


def test_biosignalsnotebooks(shared_data):
    d = load_biosignalsnotebooks(shared_data / "biosignalsnotebooks")
    assert set(d) == {"emg_bursts", "emg_fatigue", "emg_1000_hz_16_bits", "emg_1000_hz_16_bits_solo",
                      "emg_1000_hz_8_16_bits", "emg_10_hz_16_bits"}
    bursts = d["emg_bursts"]
    assert bursts.fs == 1000 and bursts.n_channels == 1 and bursts.n_samples == 28519
    assert bursts.units == ("V",) and np.abs(bursts.data).max() <= 1.5e-3  # PLUX EMG range ±1.5 mV
    assert bursts.meta["muscle"] == "biceps_brachii"
    assert d["emg_fatigue"].fs == 1000 and d["emg_fatigue"].meta["resolution_bits"] == 12
    assert d["emg_10_hz_16_bits"].fs == 10
    two = d["emg_1000_hz_16_bits"]
    assert isinstance(two, Trial) and sorted(r.fs for r in two.streams.values()) == [10, 1000]


@pytest.mark.parametrize("folder, rates", [
    ("ceinms-gait", [100]), ("pyomeca", [100, 2000]), ("openhdemg-otb", [2048]),
    ("stim-artefact-tscs", [4000]), ("biosignalsnotebooks", [10, 1000]),
])
def test_inspect_json_on_each_folder(shared_data, folder, rates, capsys):
    main(["inspect", str(shared_data / folder), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert out["path"] == str(shared_data / folder)
    assert out["sampling_rates"] == rates
    main(["inspect", str(shared_data / folder)])
    text = capsys.readouterr().out
    assert "Hz" in text and str(shared_data / folder) in text


def test_openhdemg_layout_matches_the_signals(otb):
    """Neighbouring electrodes of the file's 13 × 5 GR08MM1305 layout carry more similar
    motor-unit action potentials than neighbours of an 8 × 8 row-major guess would."""
    from scipy.signal import butter, sosfiltfilt

    from myoflow.io.datasets import otb_grid_layout

    emg = otb["emg"]
    x = sosfiltfilt(butter(4, [20, 500], btype="band", fs=emg.fs, output="sos"), emg.data.astype(float), axis=1)

    def neighbour_corr(layout, corr):
        d = np.linalg.norm(layout[:, None] - layout[None], axis=-1)
        return corr[np.isclose(d, d[d > 0].min())].mean()

    grid_8x8 = otb_grid_layout(None, 64)[0]
    for unit in range(5):
        s = emg.events.loc[emg.events["unit"] == unit, "sample"].to_numpy()
        s = s[(s > 51) & (s < x.shape[1] - 51)]
        sta = np.mean([x[:, i - 51:i + 51] for i in s], axis=0)  # spike-triggered average, 50 ms
        corr = np.corrcoef(sta)
        assert neighbour_corr(emg.layout, corr) > neighbour_corr(grid_8x8, corr) + 0.02


def test_elderly_workbook_converts_chunkwise_with_little_transient_memory(shared_data):
    """ID 5 has 5 s sheets and force columns with trailing empty cells (the ragged path)."""
    import tracemalloc

    from python_calamine import CalamineWorkbook

    from myoflow.io.datasets.elderly import read_elderly_workbook

    path = shared_data / "elderly-lowerlimb-emg" / "ID 5.xlsx"
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        trials = read_elderly_workbook(path)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    held = sum(r.data.nbytes for t in trials for r in t.streams.values())
    # Rows are converted a chunk at a time into preallocated arrays: the transient peak stays
    # within a few times the float32 arrays returned (holding every sheet as Python floats,
    # as the loader once did, peaked at ~16x).
    assert peak < 4 * held, (peak, held)

    # values: the raw cells of one 5 s sheet and of the DNM column, read independently
    wb = CalamineWorkbook.from_path(str(path))
    raw_vl = np.array(wb.get_sheet_by_name("EMG_VL").to_python(), dtype=np.float64)
    dnm = [row[0] for row in wb.get_sheet_by_name("DNM").to_python()]
    force_vl = np.array([v for v in dnm if v != ""], dtype=np.float64)
    vl = next(t for t in trials if t.meta["task"] == "VL")
    assert vl["emg"].n_samples == raw_vl.shape[0] == 10001
    np.testing.assert_array_equal(vl["emg"].data, (raw_vl.T * 1e-6).astype(np.float32))
    np.testing.assert_array_equal(vl["force"].data[0], force_vl.astype(np.float32))


def test_elderly_sheet_parser_chunks_ragged_tails_and_bad_cells(monkeypatch):
    """The chunked sheet parser on hand-made rows (no data needed): chunk edges, growth, errors."""
    from myoflow.io.datasets import elderly

    monkeypatch.setattr(elderly, "_CHUNK_ROWS", 3)  # many chunks, ragged tail mid-chunk
    rows = [[float(i), float(-i), 1.5 * i] for i in range(10)] + [[10.0, "", ""], [11.0, None]]
    cols = elderly._sheet_columns(iter(rows), 2, 3, "wb.xlsx#S")  # row-count hint too small: grows
    np.testing.assert_array_equal(cols[0], np.arange(12.0))
    np.testing.assert_array_equal(cols[1], -np.arange(10.0))
    np.testing.assert_array_equal(cols[2], 1.5 * np.arange(10.0))
    with pytest.raises(DataError, match=r"wb\.xlsx#S.*non-numeric cell 'x' in column 2, row 5"):
        elderly._sheet_columns(iter(rows[:4] + [[4.0, "x", 6.0]] + rows[5:]), 12, 3, "wb.xlsx#S")
    with pytest.raises(DataError, match="empty cell in column 1 at row 2"):
        elderly._sheet_columns(iter([[1.0], [""], [3.0]]), 3, 1, "wb.xlsx#S")
    with pytest.raises(DataError, match="expected 3 columns, found 2"):
        elderly._sheet_columns(iter([[1.0, 2.0]] * 4), 4, 3, "wb.xlsx#S")
