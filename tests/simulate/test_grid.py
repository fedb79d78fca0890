"""The `grid` protocol (seed 001's cohort): structure, determinism, physiology, CLI, burst onsets."""
from __future__ import annotations

import numpy as np
import pytest

from myoflow.containers import Recording
from myoflow.errors import ConfigError
from myoflow.preprocess.filters import bandpass, notch
from myoflow.simulate.emg import estimate_conduction_velocity, median_frequency
from myoflow.simulate.protocols.grid import (
    GRID_MUSCLES,
    grid_excitation,
    simulate_grid,
    simulate_grid_recording,
)
from myoflow.simulate.subjects import generate_subjects

DURATION = 17.0  # 3 contractions per recording


@pytest.fixture(scope="module")
def cohort():
    return simulate_grid(n_subjects=2, seed=11, duration_s=DURATION)


def _filtered(rec: Recording) -> Recording:
    """What a researcher looks at: 50 Hz notch and 20-450 Hz band."""
    return bandpass(notch(rec, 50.0), 20.0, 450.0)


def _plateaus(rec: Recording, trim: int = 200) -> np.ndarray:
    on, off = rec.events_of("burst_onset"), rec.events_of("burst_offset")
    return np.concatenate([rec.data[:, a + trim:b - trim] for a, b in zip(on, off) if b - a > 2 * trim + 100], axis=1)


def test_structure_and_metadata(cohort):
    recs, participants = cohort
    assert len(recs) == 8
    assert list(participants["subject"]) == ["S001", "S002"]
    snr = []
    assert [(r.meta["muscle"], r.meta["side"]) for r in recs[:4]] == list(GRID_MUSCLES)
    for r in recs:
        assert r.fs == 1000.0 and r.n_channels == 16 and r.grid_shape == (4, 4)
        assert r.n_samples == int(DURATION * 1000)
        # ≈5 mm inter-electrode distance (grid may be rotated by up to 15°)
        d = np.linalg.norm(np.diff(r.layout.reshape(4, 4, 2), axis=1), axis=-1)
        assert np.allclose(d, 5.0, atol=1e-6)
        assert set(r.meta["covariates"]) >= {"age", "sex", "height", "weight", "bmi"}
        assert r.meta["truth"]["fat_mm"] > 0 and "grid_iz_distance_mm" in r.meta["truth"]
        on, off = r.events_of("burst_onset"), r.events_of("burst_offset")
        assert on.size == off.size == r.meta["truth"]["n_bursts"] >= 3
        assert np.all(off > on) and np.all(np.diff(on) > 3500)  # one contraction every ~5 s
        assert np.all(r.events_of("drive_onset") <= on)
        # bursts carry the EMG: plateau RMS well above the rest level (mains removed)
        clean = _filtered(r)
        rest = clean.data[:, 500: on[0] - 200]
        # medians over channels: dry grids have occasional faulty contacts (10x noise) by design
        plateau_rms = np.median(np.sqrt((_plateaus(clean) ** 2).mean(axis=1)))
        snr.append(plateau_rms / np.median(np.sqrt((rest ** 2).mean(axis=1))))
    # a weak session (effort LogN(0, 0.15) below the subject's level) under thick fat with a
    # high-impedance application can come down to ~2x; typical recordings are well above
    assert min(snr) > 2.0 and np.median(snr) > 3.0


def test_left_and_right_differ_only_as_bodies_do(cohort):
    recs, _ = cohort
    for s in range(2):
        by = {(r.meta["muscle"], r.meta["side"]): r for r in recs[4 * s:4 * s + 4]}
        for m in ("BB", "TA"):
            left, right = by[(m, "L")], by[(m, "R")]
            tl, tr = left.meta["truth"], right.meta["truth"]
            assert 0.8 < tl["fat_mm"] / tr["fat_mm"] < 1.25          # LogN(0, 0.05) asymmetry
            assert 0.85 < tl["csa_cm2"] / tr["csa_cm2"] < 1.18        # LogN(0, 0.04)
            # ±10 % side x the effort of each session, LogN(0, 0.15) (no force feedback): within ~3.5 SD
            assert 0.45 < tl["level_mvc"] / tr["level_mvc"] < 2.2
            assert abs(tl["cv_mean_m_s"] - tr["cv_mean_m_s"]) < 0.3
            mdf_l = np.median(median_frequency(_plateaus(_filtered(left)), 1000.0))
            mdf_r = np.median(median_frequency(_plateaus(_filtered(right)), 1000.0))
            # what differs beyond the body: grid position over/away from the innervation zone and
            # contact noise shift the spectrum, as between two real placements
            assert abs(mdf_l - mdf_r) / (0.5 * (mdf_l + mdf_r)) < 0.45


def test_median_frequency_in_physiological_range(cohort):
    recs, _ = cohort
    mdfs = []
    for r in recs:
        mdf = float(np.median(median_frequency(_plateaus(_filtered(r)), 1000.0)))
        # thick fat (up to ~10 mm over a biceps) low-pass filters strongly; small 1.25 mm electrodes
        # 5 mm apart filter less than a 20 mm bipolar pair: single recordings may leave 60-120 Hz
        assert 40.0 <= mdf <= 150.0, (r.meta["subject"], r.meta["muscle"], mdf)
        mdfs.append(mdf)
    assert 60.0 <= np.median(mdfs) <= 120.0   # spec §7: voluntary EMG 60-120 Hz


@pytest.mark.parametrize("muscle", ["BB", "TA"])
def test_conduction_velocity_recoverable_from_double_differential_rows(muscle):
    subj = generate_subjects(1, np.random.default_rng(3), age_range=(25, 71))[0]
    rec = simulate_grid_recording(subj, muscle, "L", 16.0, 1000.0, 0.4, np.random.default_rng(1),
                                  angle_deg=0.0, iz_distance_mm=-20.0, lateral_mm=0.0)
    x = _plateaus(rec).reshape(4, 4, -1)          # rows along the fibres, IZ 20 mm before row 1
    dd = x[2:] - 2 * x[1:-1] + x[:-2]             # rows 1-3 and 2-4
    est = np.median([estimate_conduction_velocity(dd[:, c], 5.0, 1000.0, upsample=8) for c in range(4)])
    assert abs(est - rec.meta["truth"]["cv_mean_m_s"]) <= 0.5


def test_excitation_is_trapezoid_every_five_seconds():
    exc, bursts = grid_excitation(60.0, 1000.0, 0.4, np.random.default_rng(0), repetition_cv=0.15)
    assert len(bursts) == 12  # onsets at 2, 7, ..., 57 s
    onsets = np.array([b[0] for b in bursts])
    assert np.allclose(np.diff(onsets), 5.0, atol=0.8)
    durations = np.array([b[1] - b[0] for b in bursts])
    assert np.all((durations >= 0.8) & (durations <= 1.2))
    assert 0.2 < exc.max() <= 1.0 and exc.min() == 0.0


def test_bad_arguments_raise_config_error():
    with pytest.raises(ConfigError, match="duration_s"):
        simulate_grid(1, duration_s=3.0)
    with pytest.raises(ConfigError, match="n_subjects"):
        simulate_grid(0)


def test_pipeline_burst_detector_finds_true_onsets_within_50_ms(cohort):
    """The muscle-id pipeline's TKEO detector against the simulator's true EMG onsets."""
    from myoflow.pipelines.muscle_id.config import PreprocessConfig
    from myoflow.preprocess.windows import filter_recording, find_bursts, onset_errors_ms

    recs, _ = cohort
    pp = PreprocessConfig()
    errors, n_detected, n_true = [], 0, 0
    for r in recs:
        bursts = find_bursts(filter_recording(r, pp), pp)
        true = r.events_of("burst_onset")
        n_detected += len(bursts)
        n_true += true.size
        errors.append(onset_errors_ms(bursts["onset"].to_numpy(), true, r.fs))
    err = np.concatenate(errors)
    assert n_detected == n_true                       # every contraction found, no spurious bursts
    assert np.mean(np.abs(err) <= 50.0) >= 0.80       # weak contractions under thick fat are found late
    assert np.median(np.abs(err)) <= 20.0
    # the plain single threshold (no onset refinement) is late: the refinement is what buys accuracy
    plain = PreprocessConfig(detector_refine_k=None)
    late = np.concatenate([onset_errors_ms(find_bursts(filter_recording(r, plain), plain)["onset"].to_numpy(),
                                           r.events_of("burst_onset"), r.fs) for r in recs])
    assert np.median(late) > np.median(err)


def test_cli_writes_bit_identical_dataset_folder_that_reads_back(tmp_path, cohort):
    """Same seed -> same samples: the CLI's files equal the in-memory cohort's first subject,
    which also shows a subject does not depend on the cohort size."""
    from click.testing import CliRunner

    from myoflow.io.dataset import load_dataset
    from myoflow.simulate.protocols.grid import cli_command

    out = tmp_path / "grid"
    res = CliRunner().invoke(cli_command, ["--out", str(out), "--subjects", "1", "--seed", "11",
                                           "--duration", str(DURATION), "--plots"])
    assert res.exit_code == 0, res.output
    ds = load_dataset(out)
    assert len(ds) == 4 and list(ds.participants["subject"]) == ["S001"]
    assert ds.info["protocol"] == "grid"
    by = {(r.meta["muscle"], r.meta["side"]): r for r in (ds.load(s) for s in ds.stems)}
    recs, _ = cohort
    for r in recs[:4]:
        back = by[(r.meta["muscle"], r.meta["side"])]
        assert np.array_equal(back.data, r.data) and back.grid_shape == (4, 4)
        assert back.events.equals(r.events)
    assert len(list((out / "plots").glob("*.png"))) == 3


def test_session_and_placement_effects_are_recorded_and_act(cohort):
    """Each recording is one sensor application: contact impedance, skin strain, crosstalk, bad contacts."""
    from myoflow.simulate.protocols.grid import BAD_CONTACT_Z

    recs, _ = cohort
    ratios, ieds = [], []
    for r in recs:
        t = r.meta["truth"]
        z = np.asarray(t["contact_impedance_rel"])
        assert z.shape == (16,)
        # bad contacts are exactly the high-impedance electrodes
        assert sorted(t["noise"]["faulty_channels"]) == np.flatnonzero(z > BAD_CONTACT_Z).tolist()
        ratios.append(t["crosstalk_rms_ratio"])
        ieds.append(t["ied_mm"])
        assert t["crosstalk_muscle"] == {"BB": "BRA", "TA": "EDL"}[r.meta["muscle"]]
    # crosstalk of the synergist next door: present, of the order the spec gives (5-15 %), never dominant
    assert 0.03 < np.median(ratios) < 0.3 and max(ratios) < 0.6
    # the sensor's nominal spacing is in the file; the effective spacing over the muscle varies per session
    assert len(set(np.round(ieds, 6))) == len(recs) and all(4.5 <= v <= 5.5 for v in ieds)
    # contact impedance differs between the two applications on one subject (L vs R)
    z_sessions = [np.median(r.meta["truth"]["contact_impedance_rel"]) for r in recs]
    assert len(set(np.round(z_sessions, 6))) == len(recs)


def test_noisier_contact_gives_a_noisier_channel():
    from myoflow.simulate.noise import add_noise

    rng = np.random.default_rng(0)
    clean = np.zeros((4, 4000))
    gain = np.array([0.5, 1.0, 2.0, 4.0])
    out = add_noise(clean, 1000.0, rng, electrode="dry", powerline_hz=None, thermal_uv=10.0, wander_uv=0.0,
                    motion_rate_hz=0.0, channel_noise_gain=gain, faulty_channels=[])
    sd = bandpass(Recording(out.astype(np.float32), 1000.0, ["a", "b", "c", "d"]), 20.0, 450.0).data.std(axis=1)
    assert np.all(np.diff(sd) > 0) and 6 < sd[3] / sd[0] < 10
    with pytest.raises(ConfigError):
        add_noise(clean, 1000.0, rng, channel_noise_gain=[1.0, 2.0])
    with pytest.raises(ConfigError):
        add_noise(clean, 1000.0, rng, faulty_channels=[7])


# ------------------------------------------------------------------ issue 18: session signature, determinism, benchmark
def _rest_rms(rec: Recording, which: slice) -> np.ndarray:
    """Per-channel RMS (µV) of the rest between contractions, 20-450 Hz + notch, over bursts ``which``."""
    clean = _filtered(rec)
    on, off = rec.events_of("burst_onset"), rec.events_of("burst_offset")
    segs = [clean.data[:, b + 1000:a - 300] for b, a in list(zip(off[:-1], on[1:]))[which] if a - b > 1500]
    return np.sqrt((np.concatenate(segs, axis=1) ** 2).mean(axis=1)) * 1e6


def test_session_signature_is_constant_within_a_recording_and_differs_between_recordings():
    """The contact signature (per-electrode noise floor) of one application holds for the whole
    recording — early and late rests agree — while two applications on the same subject differ."""
    subj = generate_subjects(1, np.random.default_rng(5), age_range=(25, 71))[0]
    a = simulate_grid_recording(subj, "BB", "L", 27.0, 1000.0, 0.3, np.random.default_rng(21))
    b = simulate_grid_recording(subj, "BB", "R", 27.0, 1000.0, 0.3, np.random.default_rng(22))
    a_early, a_late = np.log(_rest_rms(a, slice(0, 2))), np.log(_rest_rms(a, slice(2, None)))
    b_early = np.log(_rest_rms(b, slice(0, 2)))
    within = np.median(np.abs(a_early - a_late))
    between = np.median(np.abs(a_early - b_early))
    assert within < 0.2 and between > 2 * within
    # the channel pattern (which electrodes are noisy) repeats within the recording
    assert np.corrcoef(a_early, a_late)[0, 1] > 0.8
    # ... and is the recorded contact impedance: noise ∝ √Z
    z = np.asarray(a.meta["truth"]["contact_impedance_rel"])
    assert np.corrcoef(np.log(z), a_early)[0, 1] > 0.7


def test_recording_pace_is_its_own_and_repeats(monkeypatch):
    """With a per-recording pace, every repetition's ramps stay near that recording's pace."""
    from myoflow.simulate.protocols import grid

    exc, bursts = grid_excitation(60.0, 1000.0, 0.4, np.random.default_rng(0), repetition_cv=0.0,
                                  pace=(0.12, 0.7, 0.18), pace_cv=0.05)
    d = np.array([b[1] - b[0] for b in bursts])
    assert abs(np.median(d) - 1.0) < 0.05 and d.std() < 0.06
    # ramp up: time from onset to the plateau level (level fixed: repetition_cv 0)
    t = np.arange(exc.size) / 1000.0
    ups = [t[(t >= on) & (exc >= 0.4 - 1e-9)][0] - on for on, _ in bursts]
    assert abs(np.median(ups) - 0.12) < 0.015
    monkeypatch.setattr(grid, "PACE_REPETITION_CV", 0.05)
    subj = generate_subjects(1, np.random.default_rng(3), age_range=(25, 71))[0]
    rec = simulate_grid_recording(subj, "TA", "L", 9.0, 1000.0, 0.3, np.random.default_rng(4))
    up, plateau, down = rec.meta["truth"]["pace_s"]
    assert 0.1 <= up <= 0.2 and 0.6 <= plateau <= 0.8 and 0.1 <= down <= 0.2


def test_same_seed_bit_identical_other_seed_differs():
    subj = generate_subjects(1, np.random.default_rng(3), age_range=(25, 71))[0]
    one = simulate_grid_recording(subj, "TA", "R", 9.0, 1000.0, 0.3, np.random.default_rng(8))
    two = simulate_grid_recording(subj, "TA", "R", 9.0, 1000.0, 0.3, np.random.default_rng(8))
    other = simulate_grid_recording(subj, "TA", "R", 9.0, 1000.0, 0.3, np.random.default_rng(9))
    assert np.array_equal(one.data, two.data) and one.events.equals(two.events)
    assert one.meta["truth"] == two.meta["truth"]
    assert not np.array_equal(one.data, other.data)


def test_grid_gap_variance_decomposition_recovers_known_levels(load_benchmark):
    import pandas as pd

    gg = load_benchmark("grid_gap")
    rng = np.random.default_rng(0)
    rows = [(s, f"{s}/{r}", c) for s in "ABCD" for r in "wxyz" for c in range(4) for _ in range(10)]
    md = pd.DataFrame(rows, columns=["subject", "recording", "channel"])
    rec_offset = {k: rng.normal(0, 3.0) for k in md["recording"].unique()}
    # feature 0: a recording offset plus small burst noise; feature 1: burst noise only
    f0 = md["recording"].map(rec_offset).to_numpy() + 0.1 * rng.standard_normal(len(md))
    f1 = rng.standard_normal(len(md))
    out = gg.variance_decomposition(np.c_[f0, f0, f1], md)["median_share_over_features"]
    assert abs(sum(out.values()) - 1.0) < 1e-9
    assert out["subject"] + out["recording"] > 0.9 and out["burst"] < 0.05  # median over (f0, f0, f1)
    only_noise = gg.variance_decomposition(np.c_[f1], md)["median_share_over_features"]
    assert only_noise["burst"] > 0.85


def test_grid_gap_benchmark_smoke(tmp_path, monkeypatch, load_benchmark):
    """The benchmark runs the pipeline's folds end to end and writes figures beside the goals."""
    import json

    monkeypatch.setenv("MYOFLOW_CACHE", str(tmp_path / "cache"))
    gg = load_benchmark("grid_gap")
    path = gg.run(seed=5, subjects=3, duration=12.0, models=["lda"], results_dir=tmp_path, n_boot=20)
    data = json.loads(path.read_text())
    assert path.name == "seed5_3x12s.json"
    rows = {r["item"]: r for r in data["rows"]}
    gap = rows["lda: intra − LOSO 4-class, points"]
    intra, loso = rows["lda: intra 4-class %"]["myoflow"], rows["lda: sim/loso/4class %"]["myoflow"]
    assert gap["myoflow"] == pytest.approx(intra - loso)
    assert gap["goal_met"] == (gap["myoflow"] >= 20.0)
    side = rows["lda: sim/loso/side %"]
    assert side["ratio"] == pytest.approx(abs(side["myoflow"] - 50.0))
    assert data["extra"]["cohort"]["n_subjects"] == 3 and data["extra"]["subjects"] == 3
    assert set(data["extra"]["feature_variance"]["median_share_over_features"]) == {"subject", "recording",
                                                                                     "channel", "burst"}


def test_add_noise_default_is_unchanged_and_harmonics_option_acts():
    """The grid-only mains option leaves every other protocol's noise bit-identical (digests of the
    code before the option was added, commit 77141d9) and, when on, adds the 7th harmonic."""
    import hashlib

    from myoflow.simulate.noise import add_noise

    x = np.random.default_rng(1).standard_normal((4, 3000)) * 1e-4
    for el, digest in (("gel", "5cc043538aa6d713"), ("dry", "45a7030656520760")):
        y = add_noise(x, 1000.0, np.random.default_rng(7), electrode=el)
        assert hashlib.sha256(y.tobytes()).hexdigest()[:16] == digest
    z = np.zeros((1, 10000))
    kw = dict(electrode="dry", thermal_uv=0.0, wander_uv=0.0, motion_rate_hz=0.0, faulty_channels=[],
              powerline_uv=20.0)
    base = add_noise(z, 1000.0, np.random.default_rng(3), **kw)[0]
    more = add_noise(z, 1000.0, np.random.default_rng(3), powerline_harmonics=(1.0, 0.3, 0.1, 0.05), **kw)[0]
    f = np.fft.rfftfreq(z.shape[1], 1e-3)
    at = lambda s, hz: np.abs(np.fft.rfft(s))[np.argmin(np.abs(f - hz))]  # noqa: E731
    assert at(more, 350.0) > 20 * at(base, 350.0)
    assert at(more, 50.0) == pytest.approx(at(base, 50.0), rel=1e-6)
