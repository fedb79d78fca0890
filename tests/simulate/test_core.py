"""Validation of the simulator core against physiological ranges (spec §7) and physics limits."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import signal, stats

from myoflow.errors import ConfigError, DataError
from myoflow.simulate import (
    ElectrodeArray,
    MotorUnitGeometry,
    MotorUnitPool,
    Tissue,
    add_noise,
    estimate_conduction_velocity,
    fast_muaps,
    front_end,
    generate_subjects,
    median_frequency,
    participants_table,
    simulate_voluntary,
    synthesize_emg,
)
from myoflow.simulate.emg import resample
from myoflow.simulate.volume_conductor import kernel_table, transfer_function


def _unit(depth=5.0, n_fibres=200.0, iz=-40.0, length=120.0, cv=4.0, **kw):
    return MotorUnitGeometry(depth_mm=[depth], y_mm=0.0, iz_mm=iz, fibre_length_mm=length, iz_fraction=0.5,
                             cv_m_s=cv, n_fibres=[n_fibres], **kw)


def _duration_ms(x: np.ndarray, fs: float, frac: float = 0.05) -> float:
    ch = int(np.argmax(np.ptp(x, axis=1)))
    y = np.abs(x[ch])
    idx = np.flatnonzero(y > frac * y.max())
    return (idx[-1] - idx[0]) / fs * 1e3


# ----------------------------------------------------------------- volume conductor
def test_transfer_function_half_space_limits():
    k = np.linspace(0.05, 3.0, 7)
    # No fat, no skin: anisotropic half-space, H = e^{-k_ya y0} / (σ_r k_ya).
    hs = Tissue(fat_mm=0.0, skin_mm=0.0, sigma_muscle_along=0.5, sigma_muscle_radial=0.1)
    kya = np.sqrt(0.3 ** 2 + 5.0 * k ** 2)
    np.testing.assert_allclose(transfer_function(k, 0.3, 4.0, hs), 1000 * np.exp(-kya * 4.0) / (0.1 * kya), rtol=1e-10)
    # All conductivities equal: isotropic half-space with the source at depth y0 + fat + skin.
    iso = Tissue(fat_mm=3.0, skin_mm=1.0, sigma_muscle_along=0.2, sigma_muscle_radial=0.2, sigma_fat=0.2, sigma_skin=0.2)
    kk = np.hypot(k, 0.5)
    np.testing.assert_allclose(transfer_function(k, 0.5, 5.0, iso), 1000 * np.exp(-kk * 9.0) / (0.2 * kk), rtol=1e-10)


def test_kernel_table_matches_point_source_field():
    """∂G/∂x of a point source under an isotropic half-space: −x / (2πσ R³) (Ω/mm)."""
    iso = Tissue(fat_mm=0.0, skin_mm=0.0, sigma_muscle_along=0.2, sigma_muscle_radial=0.2, sigma_fat=0.2, sigma_skin=0.2)
    tab = kernel_table(iso, 0.0, np.array([3.0, 8.0]), np.array([0.0, 4.0]), dx_mm=0.5, n_x=1024)
    x = (np.arange(1024) - 512) * 0.5
    near = np.abs(x) < 40
    for i, d in enumerate(tab.depths):
        for j, lat in enumerate(tab.laterals):
            r = np.sqrt(x ** 2 + lat ** 2 + d ** 2)
            ref = -1000 * x / (2 * np.pi * 0.2 * r ** 3)
            err = np.abs(tab.values[i, j][near] - ref[near]).max() / np.abs(ref).max()
            assert err < 0.02, (d, lat, err)


def test_fat_attenuation_matches_spec_numerical_check():
    """Spec §1.3: single fibre 5 mm deep, SD 20 mm IED: fat 3/9/18 mm → p-p ×0.39/0.13/0.04."""
    el = ElectrodeArray.bipolar(20.0, radius_mm=0.5)
    fibre = _unit(depth=5.0, n_fibres=1, iz=-60.0, length=240.0, territory_radius_mm=[0.0])
    pp = [np.ptp(fast_muaps(fibre, Tissue(fat_mm=f, skin_mm=1.0), el, 4096, 60.0)) for f in (0.0, 3.0, 9.0, 18.0)]
    ratios = np.array(pp[1:]) / pp[0]
    assert np.all(np.diff(pp) < 0)
    np.testing.assert_allclose(ratios, [0.39, 0.13, 0.04], rtol=0.25)


def test_muap_amplitude_duration_and_depth():
    el = ElectrodeArray.grid(8, 1, 5.0, radius_mm=1.0)
    tissue = Tissue(fat_mm=3.0)
    depths = [1.0, 3.0, 6.0, 10.0, 15.0]
    pps = []
    for d in depths:
        m = fast_muaps(_unit(depth=d, n_fibres=200), tissue, el, 4096, None)[0]
        pps.append(np.ptp(m, axis=1).max())
        assert 10.0 <= _duration_ms(m, 4096) <= 20.0
    pps = np.array(pps) * 1e6
    assert np.all(np.diff(pps) < 0), pps  # amplitude falls with depth
    # Spec §7.1: a typical unit (a few hundred fibres, a few mm deep) is 20–500 µV monopolar.
    assert 20.0 <= pps[1] <= 500.0 and 20.0 <= pps[2] <= 500.0
    # and with fat at fixed depth
    fat_pp = [np.ptp(fast_muaps(_unit(depth=3.0), Tissue(fat_mm=f), el, 4096, None)) for f in (1.0, 4.0, 8.0, 16.0)]
    assert np.all(np.diff(fat_pp) < 0)


def test_propagation_visible_and_symmetric_about_iz():
    el = ElectrodeArray.grid(9, 1, 5.0, radius_mm=1.0, montage="single_differential")
    # IZ exactly between rows 4 and 5 (x = -2.5 mm) → SD channel 4 sees a standing signal only.
    m = fast_muaps(_unit(depth=3.0, iz=-2.5, length=100.0, iz_spread_mm=[0.0]), Tissue(fat_mm=2.0), el, 8192, None)[0]

    def lag(a, b):  # delay of b relative to a, samples (cross-correlation peak)
        c = np.correlate(b, a, mode="full")
        return int(np.argmax(c)) - (a.size - 1)

    # channel 3 sits over the IZ, channels 2 and 4 next to it (generation component)
    distal = [lag(m[i], m[i + 1]) for i in range(5, 7)]
    proximal = [lag(m[1], m[0])]
    expected = 5.0 / 4.0 * 8.192  # 5 mm at 4 m/s, in samples at 8192 Hz
    assert all(abs(d - expected) <= 2 for d in distal + proximal), (distal, proximal)
    assert np.ptp(m[3]) < 0.05 * np.ptp(m).max()  # symmetric channel over the IZ cancels


@pytest.mark.parametrize("cv", [3.6, 4.6])
def test_conduction_velocity_recovered_from_double_differential(cv):
    rng = np.random.default_rng(11)
    n = 80
    units = MotorUnitGeometry(
        depth_mm=rng.uniform(0, 12, n), y_mm=rng.uniform(-10, 10, n), iz_mm=rng.normal(-45, 3, n),
        fibre_length_mm=150.0, iz_fraction=0.5, cv_m_s=np.full(n, cv), n_fibres=rng.uniform(50, 800, n),
    )
    el = ElectrodeArray.grid(6, 4, 5.0, radius_mm=1.25, montage="double_differential")
    muaps = fast_muaps(units, Tissue(fat_mm=3.0), el, 4096, None)
    pool = MotorUnitPool.create(n, rng)
    spikes = pool.spike_trains(np.full(4096, 0.4), 4096, rng)
    emg = resample(synthesize_emg(spikes, muaps, 4096), 4096, 1000, axis=1)  # 1 kHz like the grid protocol
    rows, cols = el.channel_grid_shape
    est = [estimate_conduction_velocity(emg.reshape(rows, cols, -1)[:, c], 5.0, 1000.0, upsample=8) for c in range(cols)]
    assert abs(np.median(est) - cv) <= 0.5, est


def test_montage_matrices():
    el = ElectrodeArray.grid(4, 2, 5.0, montage="double_differential")
    m = el.montage_matrix()
    assert m.shape == (4, 8) and el.channel_grid_shape == (2, 2)
    np.testing.assert_array_equal(m[0], [1, 0, -2, 0, 1, 0, 0, 0])
    assert np.allclose(m.sum(1), 0)
    with pytest.raises(ConfigError):
        ElectrodeArray.grid(2, 2, 5.0, montage="double_differential")
    with pytest.raises(ConfigError):
        ElectrodeArray(np.zeros((3, 3)))


def test_geometry_validation():
    with pytest.raises(DataError, match="cv_m_s"):
        _unit(cv=0.2)
    with pytest.raises(DataError, match="depth"):
        _unit(depth=-1.0)


# --------------------------------------------------------------------- motor units
def test_firing_rates_isi_and_orderly_recruitment():
    rng = np.random.default_rng(5)
    pool = MotorUnitPool.create(120, rng)  # Fuglevand 1993 defaults
    fs = 2048.0
    spikes = pool.spike_trains(np.full(int(10 * fs), 0.5), fs, rng)
    rates, cvs = [], []
    for s in spikes:
        if len(s) > 40:
            isi = np.diff(s) / fs
            if isi.max() < 0.3:  # continuously active units
                rates.append(1.0 / isi.mean())
                cvs.append(isi.std() / isi.mean())
    assert len(rates) > 30
    assert 8.0 <= min(rates) and max(rates) <= 35.5
    assert 0.1 <= np.median(cvs) <= 0.25
    # Orderly recruitment on a slow ramp: first discharge time rises with threshold.
    ramp = np.linspace(0, 1, int(6 * fs))
    sp = pool.spike_trains(ramp, fs, rng, common_noise_sd=0.0)
    first = np.array([s[0] if len(s) else np.nan for s in sp])
    ok = ~np.isnan(first)
    assert ok.sum() == pool.n_units
    assert stats.spearmanr(pool.thresholds[ok], first[ok]).statistic > 0.99


def test_pool_force_and_bad_input():
    rng = np.random.default_rng(0)
    pool = MotorUnitPool.create(60, rng)
    fs = 1000.0
    low = pool.force(pool.spike_trains(np.full(3000, 0.2), fs, rng), fs, 3000)[1000:].mean()
    high = pool.force(pool.spike_trains(np.full(3000, 0.8), fs, rng), fs, 3000)[1000:].mean()
    assert high > 2 * low > 0
    with pytest.raises(DataError, match="excitation"):
        pool.spike_trains(np.full(100, 2.0), fs, rng)
    with pytest.raises(ConfigError):
        MotorUnitPool.create(0, rng)


# ---------------------------------------------------------------------- synthesis
def test_synthesize_emg_equals_direct_convolution():
    rng = np.random.default_rng(2)
    muaps = rng.standard_normal((3, 2, 40))
    n = 500
    spikes = [np.array([0, 10, 25, 200, 480]), np.array([], dtype=int), np.array([5, 6, 300, 499])]
    got = synthesize_emg(spikes, muaps, n)
    ref = np.zeros((2, n))
    for u, s in enumerate(spikes):
        train = np.zeros(n)
        train[s] = 1.0
        for c in range(2):
            ref[c] += np.convolve(train, muaps[u, c])[:n]
    np.testing.assert_allclose(got, ref, atol=1e-12)
    with pytest.raises(DataError):
        synthesize_emg([np.array([n])], muaps[:1], n)


# ------------------------------------------------------------------------ subjects
def test_subjects_classes_and_table():
    subs = generate_subjects(300, np.random.default_rng(0))
    df = participants_table(subs)
    counts = df["mass_class"].value_counts(normalize=True)
    assert set(counts.index) == {"low", "normal", "high"}
    assert counts["normal"] > 0.5 and counts["low"] < 0.25  # realistic, imbalanced
    for col in ("subject", "sex", "age", "height", "weight", "bmi", "asmi", "true_asmi", "true_fat_RF_mm",
                "true_csa_BB_cm2", "true_fat_TA_L_mm"):
        assert col in df.columns
    assert df["subject"].is_unique and df["age"].between(20, 59).all()
    men = df[df.sex == "M"]
    assert ((men.true_asmi < 7.0) == (men.true_mass_class == "low")).all()  # AWGS/EWGSOP2 cut-off
    # label noise: recorded class differs from the true one for a few subjects only
    assert 0 < (df.mass_class != df.true_mass_class).mean() < 0.2
    # women: thicker fat, smaller muscles (spec §1.1)
    assert df[df.sex == "F"].true_fat_RF_mm.mean() > men.true_fat_RF_mm.mean()
    assert df[df.sex == "F"].true_csa_RF_cm2.mean() < men.true_csa_RF_cm2.mean()
    forced = participants_table(generate_subjects(90, np.random.default_rng(1), class_mix={"low": 1, "normal": 1, "high": 1}))
    share = forced.true_mass_class.value_counts(normalize=True)
    assert all(0.2 < share[c] < 0.47 for c in ("low", "normal", "high"))
    again = participants_table(generate_subjects(300, np.random.default_rng(0)))
    assert again.equals(df)
    with pytest.raises(ConfigError):
        generate_subjects(3, np.random.default_rng(0), class_mix={"tiny": 1.0})


# ------------------------------------------------------------ voluntary + engineering
@pytest.fixture(scope="module")
def subject():
    return generate_subjects(1, np.random.default_rng(4))[0]


def test_voluntary_median_frequency_and_amplitude(subject):
    fs = 2000.0
    for muscle, level in (("TA", 0.5), ("BB", 0.5)):
        rec = simulate_voluntary(subject, muscle, np.full(int(2 * fs), level), ElectrodeArray.bipolar(20.0),
                                 np.random.default_rng(1), fs=fs, iz_mm=-25.0, noise=False, front_end=False)
        mdf = median_frequency(rec.data, fs)[0]
        assert 60.0 <= mdf <= 120.0, (muscle, mdf)
        rms = np.sqrt(np.mean(rec.data ** 2))
        assert 0.05e-3 < rms < 1.5e-3, (muscle, rms)
        assert rec.meta["muscle"] == muscle and rec.meta["truth"]["n_recruited"] > 0


def test_voluntary_rms_monotonic_in_drive(subject):
    fs = 1000.0
    rms = []
    for level in (0.1, 0.3, 0.6):
        rec = simulate_voluntary(subject, "TA", np.full(int(fs), level), ElectrodeArray.bipolar(20.0),
                                 np.random.default_rng(3), fs=fs, iz_mm=-20.0, noise=False, front_end=False)
        rms.append(np.sqrt(np.mean(rec.data ** 2)))
    assert rms[0] < rms[1] < rms[2]


def test_seed_gives_bit_identical_recordings(subject):
    el = ElectrodeArray.grid(4, 4, 5.0, radius_mm=1.25)
    exc = np.concatenate([np.zeros(300), np.full(700, 0.4), np.zeros(300)])
    kw = dict(fs=1000.0, noise={"electrode": "dry"}, onsets_s=[(0.3, 1.0)])
    a = simulate_voluntary(subject, "BB", exc, el, np.random.default_rng(9), **kw)
    b = simulate_voluntary(subject, "BB", exc, el, np.random.default_rng(9), **kw)
    c = simulate_voluntary(subject, "BB", exc, el, np.random.default_rng(10), **kw)
    assert a.data.tobytes() == b.data.tobytes()
    assert a.data.tobytes() != c.data.tobytes()
    assert a.grid_shape == (4, 4) and list(a.events["kind"]) == ["onset", "offset"]
    assert a.meta["covariates"]["sex"] == subject.sex


def test_noise_levels_powerline_and_front_end():
    fs = 2000.0
    rng = np.random.default_rng(0)
    clean = np.zeros((4, int(10 * fs)))
    for electrode, (lo, hi) in (("gel", (1.0, 3.0)), ("dry", (5.0, 15.0))):  # thermal µV RMS, spec §1.4
        noisy, info = add_noise(clean, fs, rng, electrode, powerline_hz=None, wander_uv=0.0, fault_fraction=0.0,
                                motion_rate_hz=0.0, return_info=True)
        assert lo <= info["thermal_uv"] <= hi
        white = front_end(noisy, fs, hp_hz=20, lp_hz=None, bits=None)  # above the 1/f corner
        assert 0.6 * lo * 1e-6 < np.sqrt(np.mean(white ** 2)) < 1.4 * hi * 1e-6
        assert abs(np.sqrt(np.mean(white ** 2)) / (info["thermal_uv"] * 1e-6) - 1) < 0.35
        f, p = signal.welch(noisy, fs=fs, nperseg=4000, axis=1)
        p = p.mean(0)
        assert p[np.argmin(np.abs(f - 2))] > 5 * p[np.argmin(np.abs(f - 200))]  # 1/f below 20 Hz
    pl = add_noise(clean, fs, rng, "gel", powerline_hz=60.0, thermal_uv=0.0, wander_uv=0.0, powerline_uv=10.0)
    f = np.fft.rfftfreq(pl.shape[1], 1 / fs)
    spec = np.abs(np.fft.rfft(pl, axis=1)).mean(0)
    assert abs(f[np.argmax(spec)] - 60.0) < 0.5 and spec[np.argmin(np.abs(f - 180))] > 10 * np.median(spec)
    assert np.corrcoef(pl)[0, 1] > 0.9  # common-mode, correlated across channels
    q = front_end(np.full((1, 100), 0.02), fs, None, None, bits=16, range_v=0.01)
    assert np.all(q == 0.01)  # saturation
    lsb = 0.02 / 2 ** 16
    q = front_end(np.linspace(-1e-3, 1e-3, 1000)[None], fs, None, None, bits=16)
    assert np.allclose(q / lsb, np.round(q / lsb))
    with pytest.raises(ConfigError):
        front_end(clean, fs, hp_hz=1500)
    with pytest.raises(DataError):
        add_noise(np.full((1, 10), np.nan), fs, rng)


def test_interference_amplitude_and_spectrum_fall_with_fat(subject):
    """Kuiken et al. 2003 (FE model): interference RMS −31/−80/−90 % for 3/9/18 mm of fat."""
    rms, mdf = [], []
    for fat in (0.0, 3.0, 9.0, 18.0):
        rec = simulate_voluntary(subject, "BB", np.full(2000, 0.5), ElectrodeArray.bipolar(20.0),
                                 np.random.default_rng(0), fs=1000.0, iz_mm=-30.0, noise=False, front_end=False,
                                 tissue=Tissue(fat_mm=fat, skin_mm=1.0))
        rms.append(np.sqrt(np.mean(rec.data ** 2)))
        mdf.append(median_frequency(rec.data, 1000.0)[0])
    drop = 100 * (np.array(rms[1:]) / rms[0] - 1)
    assert -65 < drop[0] < -25 and -90 < drop[1] < -70 and -96 < drop[2] < -84, drop
    assert np.all(np.diff(mdf) < 0), mdf  # fat low-pass filters (de la Barrera & Milner 1994)


def test_resistive_skin_brings_the_fat_drop_towards_kuiken(subject):
    """Botelho et al. 2019's resistive skin: 3 mm of fat cuts the BB interference RMS by ≈36 %
    (Kuiken et al. 2003: 31 %), where the default (Farina & Merletti 2001, skin 1 S/m) cuts ≈55 %."""
    assert Tissue.from_literature().key() == Tissue().key()  # the default is the Farina set
    drops = {}
    for name in ("farina2001", "botelho2019"):
        rms = []
        for fat in (0.0, 3.0):
            rec = simulate_voluntary(subject, "BB", np.full(1000, 0.5), ElectrodeArray.bipolar(20.0),
                                     np.random.default_rng(0), fs=1000.0, iz_mm=-30.0, noise=False, front_end=False,
                                     tissue=Tissue.from_literature(name, fat_mm=fat, skin_mm=1.0))
            rms.append(np.sqrt(np.mean(rec.data ** 2)))
        drops[name] = 100 * (rms[1] / rms[0] - 1)
    assert abs(drops["botelho2019"] - (-31.0)) < 10.0, drops
    assert drops["farina2001"] < drops["botelho2019"] - 10.0, drops
    with pytest.raises(ConfigError, match="unknown conductivity set"):
        Tissue.from_literature("nope")


def test_muscle_model_reuses_motor_units(subject):
    from myoflow.simulate import MuscleModel

    model = MuscleModel.build(subject, "TA", ElectrodeArray.bipolar(20.0), np.random.default_rng(0), iz_mm=-20.0)
    a, ta = model.record(np.full(1000, 0.3), np.random.default_rng(1), noise=False, front_end=False, return_truth=True)
    b, tb = model.record(np.full(1000, 0.3), np.random.default_rng(2), noise=False, front_end=False, return_truth=True)
    assert ta.muaps is tb.muaps and ta.geometry is tb.geometry
    assert not np.array_equal(a.data, b.data)
    assert 0.5 < np.sqrt(np.mean(a.data ** 2)) / np.sqrt(np.mean(b.data ** 2)) < 2.0
