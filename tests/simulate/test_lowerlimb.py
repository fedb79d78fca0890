"""The `lowerlimb` protocol (the elderly set's simulated counterpart): form, determinism, per-muscle physiology."""
from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from myoflow.errors import ConfigError
from myoflow.simulate.emg import median_frequency
from myoflow.simulate.motor_units import cv_range_for_fibre_types
from myoflow.simulate.protocols.lowerlimb import (
    FAT_SITE,
    FRONT_END,
    LOWERLIMB_MUSCLES,
    lowerlimb_muscle,
    simulate_lowerlimb,
)

DURATION = 2.0


@pytest.fixture(scope="module")
def cohort():
    return simulate_lowerlimb(n_subjects=5, seed=5, duration_s=DURATION)


def test_form_of_the_real_set(cohort):
    recs, participants = cohort
    assert len(recs) == 20 and list(participants["subject"]) == [f"S00{i}" for i in range(1, 6)]
    assert [r.meta["muscle"] for r in recs[:4]] == list(LOWERLIMB_MUSCLES)
    lsb = 2 * FRONT_END["range_v"] / 2 ** FRONT_END["bits"]
    assert lsb == pytest.approx(10e-3 / 4096)  # the real files' sample step, 2.442 µV
    for r in recs:
        assert r.fs == 2000.0 and r.n_channels == 1 and r.ch_names == (r.meta["muscle"],)
        assert r.n_samples == int(DURATION * 2000) and tuple(r.units) == ("V",)
        assert np.allclose(r.data / lsb, np.round(r.data / lsb), atol=1e-6)  # 12-bit ADC
        assert 64 <= r.meta["covariates"]["age"] <= 82
        assert r.meta["truth"]["n_units"] > 100 and abs(r.meta["truth"]["iz_distance_mm"]) <= 10.0


def _stats(recs):
    out = {m: {"rms": [], "mdf": [], "fat": [], "cv": []} for m in LOWERLIMB_MUSCLES}
    for r in recs:
        d = out[r.meta["muscle"]]
        d["rms"].append(float(np.sqrt(np.mean(r.data[0] ** 2))))
        d["mdf"].append(float(median_frequency(r.data[0], r.fs)[0]))
        d["fat"].append(r.meta["truth"]["fat_mm"])
        d["cv"].append(r.meta["truth"]["cv_mean_m_s"])
    return {m: {k: float(np.median(v)) for k, v in d.items()} for m, d in out.items()}


def test_muscles_differ_in_the_direction_of_the_spec(cohort):
    """Spec §1.1/§7.3: fat thickest over BF, thinnest over TA; amplitude and MDF fall with fat, MDF rises with CV."""
    s = _stats(cohort[0])
    # VL carries twice its site's fat (PHYSIOLOGY, calibrated on the odd real subjects), so it tops BF
    assert s["VL"]["fat"] > s["BF"]["fat"] > s["TA"]["fat"]
    # thick fat over BF: the smallest and lowest-frequency signal
    assert s["BF"]["rms"] < min(s["TA"]["rms"], s["GL"]["rms"])
    assert s["BF"]["mdf"] < min(s["TA"]["mdf"], s["GL"]["mdf"], s["VL"]["mdf"])
    # GL: thin fat, short fibres and more type II fibres than TA -> faster units, the highest MDF
    assert s["GL"]["cv"] > s["TA"]["cv"]
    assert s["GL"]["mdf"] > s["TA"]["mdf"]
    # the four muscles are not one spectrum: medians spread over > 15 Hz
    mdfs = [s[m]["mdf"] for m in LOWERLIMB_MUSCLES]
    assert max(mdfs) - min(mdfs) > 15.0


def test_fibre_types_set_the_cv_range():
    assert cv_range_for_fibre_types(1.0) == (3.5, 3.5)
    from myoflow.simulate.protocols.lowerlimb import LowerLimbPhysiology

    # young adults' type I shares (Johnson 1973): VL fastest; the shipped old-age VL share (0.55, type II
    # atrophy) puts it between GL and TA
    young = LowerLimbPhysiology()
    assert (lowerlimb_muscle("VL", young).cv_range[1] > lowerlimb_muscle("GL", young).cv_range[1]
            > lowerlimb_muscle("TA", young).cv_range[1])
    assert lowerlimb_muscle("GL").cv_range[1] > lowerlimb_muscle("VL").cv_range[1] > lowerlimb_muscle("TA").cv_range[1]
    assert FAT_SITE["GL"] == "GM"
    with pytest.raises(ConfigError):
        cv_range_for_fibre_types(1.5)
    with pytest.raises(ConfigError):
        lowerlimb_muscle("BB")


def test_same_seed_bit_identical_other_seed_differs():
    a, pa = simulate_lowerlimb(1, seed=9, duration_s=1.0)
    b, pb = simulate_lowerlimb(1, seed=9, duration_s=1.0)
    c, _ = simulate_lowerlimb(1, seed=10, duration_s=1.0)
    assert all(np.array_equal(x.data, y.data) for x, y in zip(a, b))
    assert pa.equals(pb)
    assert not np.array_equal(a[0].data, c[0].data)


def test_bad_arguments():
    for kw in ({"n_subjects": 0}, {"duration_s": 0.5}, {"fs": 500.0}):
        with pytest.raises(ConfigError):
            simulate_lowerlimb(**{"n_subjects": 1, "duration_s": 1.0, **kw})


def test_cli_writes_a_dataset(tmp_path):
    from myoflow.cli import cli
    from myoflow.io.dataset import load_dataset

    res = CliRunner().invoke(cli, ["simulate", "lowerlimb", "--out", str(tmp_path / "ds"), "--subjects", "1",
                                    "--duration", "1"])
    assert res.exit_code == 0, res.output
    ds = load_dataset(tmp_path / "ds")
    muscles = sorted(obj.meta["muscle"] for _, obj in ds)
    assert muscles == sorted(LOWERLIMB_MUSCLES)


def test_physiology_validates_and_each_field_acts():
    """LowerLimbPhysiology: bad values are one ConfigError; the MU size range reaches the pool (larger
    ``rp``: fibres concentrated in fewer units, a sparser, more kurtotic signal); fat factor and IZ distance
    reach the recording's ground truth."""
    from myoflow.simulate.motor_units import MotorUnitPool
    from myoflow.simulate.protocols.lowerlimb import PHYSIOLOGY, LowerLimbPhysiology, simulate_lowerlimb_recording
    from myoflow.simulate.subjects import generate_subjects

    for bad in ({"level_mvc": (0.8, 0.2)}, {"steadiness_sd": 0.9}, {"mu_size_range": 1.0},
                {"fat_scale": (("BB", 1.0),)}, {"fat_scale": (("VL", 9.0),)}, {"iz_distance_mm": (20.0, 5.0)}):
        with pytest.raises(ConfigError):
            LowerLimbPhysiology(**bad)
    assert lowerlimb_muscle("VL").rp == PHYSIOLOGY.mu_size_range
    small = MotorUnitPool.for_muscle(lowerlimb_muscle("VL", LowerLimbPhysiology(mu_size_range=10.0)),
                                     np.random.default_rng(0), fibres_total=1e5)
    big = MotorUnitPool.for_muscle(lowerlimb_muscle("VL", LowerLimbPhysiology(mu_size_range=1000.0)),
                                   np.random.default_rng(0), fibres_total=1e5)
    ratio = lambda p: p.n_fibres.max() / p.n_fibres.min()  # noqa: E731
    assert 8 < ratio(small) < 12 and 800 < ratio(big) < 1200
    s = generate_subjects(1, np.random.default_rng(3), age_range=(64, 82))[0]
    phys = LowerLimbPhysiology(fat_scale=(("TA", 2.0),), iz_distance_mm=(25.0, 25.0))
    a = simulate_lowerlimb_recording(s, "TA", np.random.default_rng(1), duration_s=1.0)
    b = simulate_lowerlimb_recording(s, "TA", np.random.default_rng(1), duration_s=1.0, physiology=phys)
    assert b.meta["truth"]["fat_mm"] == pytest.approx(2.0 * a.meta["truth"]["fat_mm"])
    assert abs(b.meta["truth"]["iz_distance_mm"]) == 25.0 and abs(a.meta["truth"]["iz_distance_mm"]) <= 10.0


def test_vl_fibre_density_and_rp_reach_the_pool():
    """VL's fibre density ×1.7 (the same share of PCSA as TA/RF/BF) scales its fibre count and nothing else's;
    the table's rp (Fuglevand's 100) is what every other protocol's pool gets."""
    import dataclasses

    from myoflow.simulate.motor_units import MUSCLES, MotorUnitPool, muscle_fibre_count

    vl = MUSCLES["VL"]
    assert vl.fibre_density_scale == 1.7 and all(m.fibre_density_scale == 1.0 for k, m in MUSCLES.items() if k != "VL")
    plain = dataclasses.replace(vl, fibre_density_scale=1.0)
    assert muscle_fibre_count(vl) == pytest.approx(1.7 * muscle_fibre_count(plain))
    assert all(m.rp == 100.0 for m in MUSCLES.values())
    pool = MotorUnitPool.for_muscle("TA", np.random.default_rng(0), fibres_total=1e5)
    assert pool.n_fibres.max() / pool.n_fibres.min() == pytest.approx(100.0, rel=0.1)
