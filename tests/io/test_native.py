"""Native HDF5 format: exact round-trip (property-based), determinism, bad files."""
from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from myoflow.containers import RESERVED_META, Epochs, Recording, Trial
from myoflow.errors import DataError
from myoflow.io import native
from myoflow.io.testing import assert_same

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=8)
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
np_scalars = st.one_of(
    st.integers(-(2**31), 2**31 - 1).map(np.int32),
    st.integers(-(2**62), 2**62).map(np.int64),
    st.floats(width=32).map(np.float32),
    st.floats().map(np.float64),
    st.booleans().map(np.bool_),
)
small_arrays = st.one_of(
    hnp.arrays(st.sampled_from([np.float64, np.float32, np.int16, np.int64, np.bool_]), hnp.array_shapes(max_dims=2, max_side=4)),
    st.lists(st.text("abcé", max_size=3), max_size=3).map(np.array),
)
small_frames = st.lists(st.tuples(st.integers(-9, 9), text), max_size=3).map(
    lambda rows: pd.DataFrame({"n": [r[0] for r in rows], "s": [r[1] for r in rows]})
)
leaves = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), text, np_scalars, small_arrays, small_frames)
meta_values = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.lists(children, max_size=3).map(tuple),
        st.dictionaries(text, children, max_size=3),
    ),
    max_leaves=10,
)
# Reserved keys (subject, muscle, source, ...) have typed values checked on construction (tests of their own):
# free keys here, else a drawn ``{"source": []}`` is a DataError, not a round trip.
metas = st.dictionaries(text.filter(lambda k: k not in RESERVED_META), meta_values, max_size=5)


@st.composite
def recordings(draw):
    n_ch = draw(st.integers(1, 4))
    n = draw(st.integers(1, 40))
    data = draw(hnp.arrays(np.float32, (n_ch, n), elements=st.floats(width=32, allow_nan=False, allow_infinity=False)))
    names = draw(st.lists(text, min_size=n_ch, max_size=n_ch, unique=True))
    units = draw(st.lists(st.sampled_from(["V", "mV", "deg", "N·m", "N"]), min_size=n_ch, max_size=n_ch))
    grid = draw(st.booleans())
    layout = draw(hnp.arrays(np.float64, (n_ch, 2), elements=finite)) if grid else None
    n_ev = draw(st.integers(0, 5))
    events = pd.DataFrame({
        "sample": draw(st.lists(st.integers(0, n - 1), min_size=n_ev, max_size=n_ev)),
        "kind": draw(st.lists(st.sampled_from(["stim", "onset", "heel"]), min_size=n_ev, max_size=n_ev)),
        "unit": np.asarray(draw(st.lists(st.integers(0, 9), min_size=n_ev, max_size=n_ev)), dtype=np.int16),
        "value": draw(st.lists(st.floats(), min_size=n_ev, max_size=n_ev)),
        "label": draw(st.lists(text, min_size=n_ev, max_size=n_ev)),
    })
    return Recording(
        data=data, fs=draw(st.floats(1e-3, 1e6)), ch_names=names, units=units, layout=layout,
        grid_shape=(n_ch, 1) if grid else None, events=events, meta=draw(metas), t0=draw(finite),
    )


@st.composite
def epochs(draw):
    n, c, t = draw(st.integers(0, 6)), draw(st.integers(1, 3)), draw(st.integers(1, 10))
    X = draw(hnp.arrays(np.float32, (n, c, t), elements=st.floats(width=32, allow_nan=False, allow_infinity=False)))
    kind = draw(st.sampled_from(["none", "str", "int", "float2d", "object_str"]))
    if kind == "none":
        y = None
    elif kind == "str":
        y = np.array(draw(st.lists(text, min_size=n, max_size=n)), dtype=str)
    elif kind == "object_str":
        y = np.empty(n, dtype=object)
        y[:] = draw(st.lists(text, min_size=n, max_size=n))
    elif kind == "int":
        y = np.asarray(draw(st.lists(st.integers(-5, 5), min_size=n, max_size=n)), dtype=np.int64)
    else:
        y = draw(hnp.arrays(np.float64, (n, 2), elements=finite))
    metadata = pd.DataFrame({
        "subject": draw(st.lists(st.sampled_from(["S01", "S02", "007"]), min_size=n, max_size=n)),
        "frequency": np.asarray(draw(st.lists(st.integers(1, 100), min_size=n, max_size=n)), dtype=np.int64),
        "age": draw(st.lists(st.floats(allow_infinity=False), min_size=n, max_size=n)),
        "ok": np.asarray(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool),
        "muscle": pd.Categorical(draw(st.lists(st.sampled_from(["VL", "TA"]), min_size=n, max_size=n))),
        "count": pd.array(draw(st.lists(st.one_of(st.none(), st.integers(0, 9)), min_size=n, max_size=n)), dtype="Int64"),
        "mixed": pd.Series(draw(st.lists(st.one_of(st.integers(0, 3), text), min_size=n, max_size=n)), dtype=object),
    })
    return Epochs(
        X=X, fs=draw(st.floats(1e-3, 1e6)), ch_names=[f"ch{i}" for i in range(c)], metadata=metadata, y=y,
        target_names=draw(st.lists(text, max_size=3)), tmin=draw(finite), meta=draw(metas),
    )


@SETTINGS
@given(rec=recordings())
def test_recording_round_trip_is_exact(rec, tmp_path):
    path = native.save(rec, tmp_path / "r.h5")
    assert_same(rec, native.load(path))


@SETTINGS
@given(ep=epochs())
def test_epochs_round_trip_is_exact(ep, tmp_path):
    path = native.save(ep, tmp_path / "e.h5")
    assert_same(ep, native.load(path))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(a=recordings(), b=recordings(), meta=metas)
def test_trial_round_trip_is_exact(a, b, meta, tmp_path):
    trial = Trial({"emg": a, "angles/knee": b}, meta=meta)
    assert_same(trial, native.load(native.save(trial, tmp_path / "t.h5")))


def _sample_recording() -> Recording:
    rng = np.random.default_rng(0)
    return Recording(
        rng.standard_normal((2, 500)), 1000.0, ["VL", "TA"],
        events=pd.DataFrame({"sample": [10, 200], "kind": ["stim", "stim"], "amp_mA": [20.0, 25.0]}),
        meta={"subject": "S01", "covariates": {"age": np.int64(70), "bmi": 24.5},
              "truth": {"rates": np.arange(3.0), "units": pd.DataFrame({"unit": [0, 1], "threshold": [0.1, 0.4]})}},
    )


def test_round_trip_meta_detail(tmp_path):
    rec = _sample_recording()
    back = native.load(native.save(rec, tmp_path / "x.h5"))
    assert type(back.meta["covariates"]["age"]) is np.int64
    assert back.meta["truth"]["rates"].dtype == np.float64
    assert back.meta["truth"]["units"]["threshold"].tolist() == [0.1, 0.4]
    assert list(back.events.columns) == ["sample", "kind", "amp_mA"]
    assert_same(rec, back)


def test_save_is_deterministic(tmp_path):
    rec = _sample_recording()
    a = native.save(rec, tmp_path / "a.h5").read_bytes()
    b = native.save(rec, tmp_path / "b.h5").read_bytes()
    assert hashlib.sha256(a).digest() == hashlib.sha256(b).digest()
    # and not trivially so: a different object gives different bytes
    c = native.save(rec.with_data(rec.data, fs=999.0), tmp_path / "c.h5").read_bytes()
    assert a != c


def test_save_leaves_no_temporary_files(tmp_path):
    native.save(_sample_recording(), tmp_path / "sub" / "r.h5")
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["r.h5"]


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="not found"):
        native.load(tmp_path / "nope.h5")


def test_truncated_file(tmp_path):
    path = native.save(_sample_recording(), tmp_path / "r.h5")
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 3])
    with pytest.raises(DataError, match=r"r\.h5.*(truncated|corrupt)"):
        native.load(path)


def test_foreign_hdf5_is_refused(tmp_path):
    import h5py

    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(DataError, match="not a myoflow native file"):
        native.load(tmp_path / "other.h5")
    assert not native.is_native(tmp_path / "other.h5")
    assert native.is_native(native.save(_sample_recording(), tmp_path / "mine.h5"))


def test_tampered_contents_fail_validation(tmp_path):
    import h5py

    path = native.save(_sample_recording(), tmp_path / "r.h5")
    with h5py.File(path, "r+") as f:
        f.attrs["fs"] = -5.0
    with pytest.raises(DataError, match=r"r\.h5.*fs must be > 0"):
        native.load(path)


def test_unsupported_meta_value_is_a_clear_error(tmp_path):
    rec = _sample_recording().replace(meta={"when": object()})
    with pytest.raises(DataError, match="cannot store a object in metadata at meta.when"):
        native.save(rec, tmp_path / "r.h5")
    assert not (tmp_path / "r.h5").exists()


def test_save_rejects_other_objects(tmp_path):
    with pytest.raises(DataError, match="can only save"):
        native.save(np.zeros(3), tmp_path / "x.h5")


def test_unbuilt_default_events_are_saved_as_the_built_table_and_come_back_unbuilt(tmp_path):
    from myoflow.containers import _default_events, events_built
    from myoflow.io._encode import frame_to_bytes

    def make():
        return Recording(np.arange(40, dtype=np.float32).reshape(2, 20), 100.0, ["a", "b"], meta={"source": "x"})

    lazy, built = make(), make()
    built.events  # noqa: B018 - build the default table the old way
    assert not events_built(lazy) and events_built(built)
    a = native.save(Trial(streams={"emg": lazy}), tmp_path / "lazy.h5").read_bytes()
    assert not events_built(lazy)  # saving did not build it
    b = native.save(Trial(streams={"emg": built}), tmp_path / "built.h5").read_bytes()
    assert a == b
    assert native._default_events_header() == frame_to_bytes(_default_events(), "x")[1]
    back = native.load(tmp_path / "lazy.h5")["emg"]
    assert not events_built(back)
    pd.testing.assert_frame_equal(back.events, built.events)
    # a stored table with rows, or with extra columns, is read as stored
    ev = native.load(native.save(make().add_events([2, 5], "stim", amp=[1.0, 2.0]), tmp_path / "ev.h5")).events
    assert ev["sample"].tolist() == [2, 5] and ev["amp"].tolist() == [1.0, 2.0]
