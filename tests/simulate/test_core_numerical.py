"""The numerical (per-fibre) MUAP model: agreement with the fast path, conditions, plots."""
from __future__ import annotations

import numpy as np
import pytest

from myoflow.errors import DataError
from myoflow.simulate.numerical import (
    DEFAULT_SETUP,
    MUAP_CONDITION_RANGES,
    MUAP_CONDITIONS,
    conditions_to_geometry,
    denormalise_conditions,
    normalise_conditions,
    numerical_muap,
    numerical_muaps,
    validate_conditions,
)
from myoflow.simulate.volume_conductor import fast_muaps


def _cond(**kw):
    c = {"fibre_number_log": 4.5, "depth_mm": 9.0, "angle": 0.5, "iz_position": 0.45, "cv_m_s": 4.0,
         "fibre_length_scale": 1.0}
    c.update(kw)
    return c


def test_condition_table_matches_biomime():
    assert MUAP_CONDITIONS == ("fibre_number_log", "depth_mm", "angle", "iz_position", "cv_m_s", "fibre_length_scale")
    assert MUAP_CONDITION_RANGES["fibre_number_log"] == (1.10, 6.77)
    assert MUAP_CONDITION_RANGES["depth_mm"] == (7.0, 23.1)
    assert MUAP_CONDITION_RANGES["iz_position"] == (0.365, 0.636)
    u = normalise_conditions(_cond())
    assert np.all((u >= 0.5) & (u <= 1.0))
    np.testing.assert_allclose(denormalise_conditions(u), validate_conditions(_cond()))


@pytest.mark.parametrize("name,value", [("depth_mm", 30.0), ("cv_m_s", 2.0), ("fibre_number_log", 7.5),
                                        ("iz_position", float("nan"))])
def test_out_of_range_conditions_raise(name, value):
    with pytest.raises(DataError, match=name) as exc:
        numerical_muap(_cond(**{name: value}))
    lo, hi = MUAP_CONDITION_RANGES[name]
    assert str(lo) in str(exc.value) and str(hi) in str(exc.value)


def test_numerical_agrees_with_fast_path_and_is_deterministic():
    setup = DEFAULT_SETUP
    el = setup.electrodes()
    pre = int(round(setup.pre_ms * 1e-3 * setup.fs))
    for c in (_cond(), _cond(fibre_number_log=6.0, depth_mm=14.0, angle=0.3, iz_position=0.6, cv_m_s=3.2)):
        num = numerical_muap(c)
        assert num.shape == (setup.rows * setup.cols, setup.n_samples)
        fast = fast_muaps(conditions_to_geometry(c), setup.tissue, el, setup.fs,
                          duration_ms=(setup.n_samples - pre) / setup.fs * 1e3)[0]
        fast = np.concatenate([np.zeros((fast.shape[0], pre)), fast], axis=1)
        r = np.corrcoef(num.ravel(), fast.ravel())[0, 1]
        assert r > 0.95, r
        assert 0.7 < np.ptp(num) / np.ptp(fast) < 1.4
        np.testing.assert_array_equal(num, numerical_muap(c))  # fixed fibre layout by default
    # a different fibre layout changes the MUAP a little, not its shape
    other = numerical_muap(_cond(), rng=np.random.default_rng(3))
    base = numerical_muap(_cond())
    assert not np.array_equal(other, base) and np.corrcoef(other.ravel(), base.ravel())[0, 1] > 0.9


def test_numerical_physiology():
    setup = DEFAULT_SETUP
    shallow = numerical_muaps([list(_cond(depth_mm=8.0).values()), list(_cond(depth_mm=20.0).values())])
    assert np.ptp(shallow[0]) > 2 * np.ptp(shallow[1])  # deeper → smaller
    m = shallow[0].reshape(setup.rows, setup.cols, -1)
    assert 20e-6 <= np.ptp(m) <= 500e-6  # ≈90 fibres, 4 mm into the muscle
    # Propagation along the centre column distal of the IZ (double differential, as for CV).
    col = m[:, setup.cols // 2, :]
    dd = col[:-2] - 2 * col[1:-1] + col[2:]
    g = conditions_to_geometry(_cond(depth_mm=8.0))
    rows_x = setup.electrodes().positions_mm.reshape(setup.rows, setup.cols, 2)[1:-1, 0, 0]
    distal = np.flatnonzero(rows_x > g.iz_mm[0] + 8)[:-1]
    peaks = np.argmax(np.abs(dd[distal]), axis=1)
    assert np.all(np.diff(peaks) >= 0) and peaks[-1] > peaks[0]


def _unit_fibres(layout: str, n: int, radius_mm: float | None = None, seed: int = 0):
    from dataclasses import replace

    from myoflow.simulate.numerical import _fibres

    g = conditions_to_geometry(_cond())
    g = replace(g, n_fibres=np.array([float(n)]),
                territory_radius_mm=None if radius_mm is None else np.array([radius_mm]))
    return g, _fibres(g, 0, np.random.default_rng(seed), DEFAULT_SETUP.max_fibres, layout)


def test_nested_layout_adds_one_fibre_and_scales_the_territory_continuously():
    # one fibre more: the same fibres (positions, end plates, tendon ends) plus one
    for n in (3, 40):
        g, small = _unit_fibres("nested", n)
        _, big = _unit_fibres("nested", n + 1)
        _, big_same_r = _unit_fibres("nested", n + 1, radius_mm=float(g.territory_radius_mm[0]))
        for a, b in zip(small[2:5], big[2:5]):  # IZ, left and right lengths do not depend on the radius
            np.testing.assert_array_equal(a, b[:n])
        for a, b in zip(small[:2], big_same_r[:2]):  # at an equal radius, equal positions
            np.testing.assert_array_equal(a, b[:n])
    # a larger territory moves the same fibres radially (by the radius ratio), it does not re-draw them
    g1, f1 = _unit_fibres("nested", 40, radius_mm=1.0)
    g2, f2 = _unit_fibres("nested", 40, radius_mm=1.5)
    y0, d0 = g1.y_mm[0], g1.depth_mm[0]
    assert d0 > 1.5  # no reflection at the muscle surface here
    np.testing.assert_allclose(f2[1] - y0, 1.5 * (f1[1] - y0), atol=1e-12)
    np.testing.assert_allclose(f2[0] - d0, 1.5 * (f1[0] - d0), atol=1e-12)
    # the older layout re-draws: one fibre more changes the first fibres' end plates
    _, r40 = _unit_fibres("redraw", 40)
    _, r41 = _unit_fibres("redraw", 41)
    assert not np.array_equal(r40[2], r41[2][:40])


def test_redraw_layout_is_the_older_draw_order():
    # "redraw" keeps the model's older layout (all radii, then all angles, then IZ, left, right ends)
    g, (depth, y, iz, ll, lr, w) = _unit_fibres("redraw", 25)
    rng = np.random.default_rng(0)
    r = g.territory_radius_mm[0] * np.sqrt(rng.random(25))
    th = rng.uniform(0, 2 * np.pi, 25)
    np.testing.assert_array_equal(depth, np.abs(g.depth_mm[0] + r * np.sin(th)))
    np.testing.assert_array_equal(y, g.y_mm[0] + r * np.cos(th))
    np.testing.assert_array_equal(iz, g.iz_mm[0] + g.iz_spread_mm[0] * rng.standard_normal(25))
    np.testing.assert_array_equal(ll, np.maximum(g.l_left_mm[0] + g.end_spread_mm[0] * rng.standard_normal(25), 1.0))
    np.testing.assert_array_equal(lr, np.maximum(g.l_right_mm[0] + g.end_spread_mm[0] * rng.standard_normal(25), 1.0))
    assert w == 1.0


def test_fibre_layout_setting_is_checked():
    from myoflow.errors import ConfigError
    from myoflow.simulate.numerical import NumericalSetup

    with pytest.raises(ConfigError, match="fibre_layout"):
        NumericalSetup(fibre_layout="shuffled")
    assert DEFAULT_SETUP.fibre_layout == "nested"
