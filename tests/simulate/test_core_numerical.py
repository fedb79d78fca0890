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
