"""Recording / Trial / Epochs: validation, slicing, replace, to_dataframe."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from myoflow.containers import Epochs, Recording, Trial
from myoflow.errors import DataError


def rec(n_ch=3, n=1000, fs=1000.0, **kw):
    data = np.arange(n_ch * n, dtype=float).reshape(n_ch, n)
    return Recording(data, fs, [f"c{i}" for i in range(n_ch)], **kw)


# -------------------------------------------------------------- validation
@pytest.mark.parametrize("kwargs, match", [
    (dict(data=np.zeros((2, 2, 2))), "must be 2-D"),
    (dict(data=np.zeros((2, 0))), "empty"),
    (dict(data=np.array([[1.0, np.nan]])), "non-finite"),
    (dict(data=np.array([[1.0, np.inf]])), "non-finite"),
    (dict(data=np.array([["a", "b"]])), "numeric"),
    (dict(fs=0), "fs must be > 0"),
    (dict(fs=-5), "fs must be > 0"),
    (dict(fs=float("nan")), "fs must be > 0"),
    (dict(fs="fast"), "fs must be a number"),
    (dict(ch_names=["a"]), "1 channel name"),
    (dict(ch_names=["a", "a"]), "unique"),
    (dict(units=["V", "V", "V"]), "3 unit"),
    (dict(layout=np.zeros((3, 2))), "layout must have shape"),
    (dict(grid_shape=(3, 1)), "does not hold"),
    (dict(events=pd.DataFrame({"sample": [1]})), "lacks column"),
    (dict(events=pd.DataFrame({"sample": [5], "kind": ["x"]})), "must lie in"),
    (dict(events=pd.DataFrame({"sample": ["a"], "kind": ["x"]})), "integer sample"),
    (dict(events=[1, 2]), "must be a pandas DataFrame"),
])
def test_recording_validation(kwargs, match):
    base = dict(data=np.zeros((2, 5)), fs=100.0, ch_names=["a", "b"])
    base.update(kwargs)
    with pytest.raises(DataError, match=match):
        Recording(**base)


def test_recording_error_names_the_source():
    with pytest.raises(DataError, match=r"^file\.edf: fs must be > 0"):
        Recording(np.zeros((1, 3)), 0, ["a"], meta={"source": "file.edf"})


def test_recording_normalises_inputs():
    r = Recording(np.arange(4), 10, ["x"], units="mV",
                  events=pd.DataFrame({"sample": [3, 1], "kind": [1, 2]}))
    assert r.data.shape == (1, 4) and r.data.dtype == np.float32 and r.data.flags.c_contiguous
    assert r.units == ("mV",) and isinstance(r.fs, float)
    assert r.events["sample"].tolist() == [1, 3] and r.events["kind"].tolist() == ["2", "1"]
    assert r.duration == pytest.approx(0.4) and r.times.tolist() == pytest.approx([0, 0.1, 0.2, 0.3])


def test_trial_validation():
    with pytest.raises(DataError, match="at least one"):
        Trial({})
    with pytest.raises(DataError, match="expected a Recording"):
        Trial({"emg": np.zeros(3)})
    t = Trial({"emg": rec()})
    with pytest.raises(DataError, match="no stream 'angles'"):
        t["angles"]


@pytest.mark.parametrize("kwargs, match", [
    (dict(X=np.zeros((2, 3))), "3-D"),
    (dict(X=np.zeros((2, 1, 0))), "0 samples"),
    (dict(X=np.full((2, 1, 3), np.nan)), "non-finite"),
    (dict(fs=0), "fs must be > 0"),
    (dict(fs="fast"), "fs must be a number"),
    (dict(X=np.array([[["a"]], [["b"]]])), "numeric"),
    (dict(ch_names=["a", "b"]), "2 channel name"),
    (dict(metadata=pd.DataFrame({"s": [1]})), "1 row"),
    (dict(metadata=[1, 2]), "must be a DataFrame"),
    (dict(y=np.array([1, 2, 3])), "y has 3 row"),
    (dict(y=np.array([1.0, np.nan])), "NaN"),
])
def test_epochs_validation(kwargs, match):
    base = dict(X=np.zeros((2, 1, 3)), fs=100.0, ch_names=["a"], metadata=pd.DataFrame({"s": [1, 2]}))
    base.update(kwargs)
    with pytest.raises(DataError, match=match):
        Epochs(**base)


# ------------------------------------------------------------------ slicing
def test_pick_by_name_and_index_keeps_order_and_layout():
    r = rec(4, 10, layout=np.arange(8.0).reshape(4, 2), grid_shape=(2, 2), units=["V", "mV", "N", "deg"])
    p = r.pick(["c2", "c0"])
    assert p.ch_names == ("c2", "c0") and p.units == ("N", "V")
    np.testing.assert_array_equal(p.data, r.data[[2, 0]])
    np.testing.assert_array_equal(p.layout, [[4, 5], [0, 1]])
    assert p.grid_shape is None  # a subset is no longer the full grid
    assert r.pick([0, 1, 2, 3]).grid_shape == (2, 2)
    assert r.pick(-1).ch_names == ("c3",)
    with pytest.raises(DataError, match="no channel named 'zz'"):
        r.pick("zz")
    with pytest.raises(DataError, match="out of range"):
        r.pick(7)


def test_crop_shifts_events_and_t0():
    r = rec(1, 1000, events=pd.DataFrame({"sample": [100, 400, 900], "kind": ["a", "b", "c"]}))
    c = r.crop(0.2, 0.5)
    assert c.n_samples == 300 and c.t0 == pytest.approx(0.2)
    assert c.events["sample"].tolist() == [200] and c.events["kind"].tolist() == ["b"]
    np.testing.assert_array_equal(c.data[0], np.arange(200, 500))
    assert c.times[0] == pytest.approx(0.2)
    with pytest.raises(DataError, match="selects no samples"):
        r.crop(2.0, 3.0)


def test_with_data_rescales_events():
    r = rec(1, 1000, events=pd.DataFrame({"sample": [500, 999], "kind": ["a", "b"]}))
    d = r.with_data(np.zeros((1, 500)), fs=500.0)
    assert d.fs == 500 and d.events["sample"].tolist() == [250, 499]


def test_add_events_and_events_of():
    r = rec(1, 100).add_events([10, 20], "stim", amp=[1.0, 2.0])
    assert r.events_of("stim").tolist() == [10, 20]
    assert r.events["amp"].tolist() == [1.0, 2.0]


def test_trial_crop_on_shared_clock():
    emg = rec(1, 2000, fs=1000.0)
    ang = rec(1, 200, fs=100.0)
    t = Trial({"emg": emg, "angles": ang}, meta={"subject": "S1"})
    c = t.crop(0.5, 1.5)
    assert c["emg"].n_samples == 1000 and c["angles"].n_samples == 100
    assert c.start == pytest.approx(0.5) and c.stop == pytest.approx(1.5)


def test_epochs_indexing_pick_crop_concatenate():
    X = np.arange(4 * 2 * 10, dtype=float).reshape(4, 2, 10)
    md = pd.DataFrame({"subject": ["a", "a", "b", "b"], "k": [0, 1, 2, 3]})
    e = Epochs(X, 100.0, ["x", "y"], md, y=np.array(["p", "q", "p", "q"]), tmin=-0.05)
    sub = e[np.array([False, True, False, True])]
    assert len(sub) == 2 and sub.metadata["k"].tolist() == [1, 3] and sub.y.tolist() == ["q", "q"]
    assert e[2].metadata["k"].tolist() == [2]
    assert e.pick(["y"]).X.shape == (4, 1, 10)
    with pytest.raises(DataError, match="no channel"):
        e.pick(["z"])
    c = e.crop(0.0, 0.03)
    assert c.n_times == 3 and c.tmin == pytest.approx(0.0)
    both = Epochs.concatenate([e, e])
    assert len(both) == 8 and both.metadata["k"].tolist() == [0, 1, 2, 3] * 2
    with pytest.raises(DataError, match="cannot concatenate"):
        Epochs.concatenate([e, e.pick(["x"])])
    assert e.subjects.tolist() == ["a", "a", "b", "b"]
    with pytest.raises(DataError, match="no column 'burst'"):
        e.group("burst")


# ------------------------------------------------------------------ replace
def test_replace_returns_new_validated_object_and_copies_meta():
    r = rec(meta={"subject": "S1", "covariates": {"age": 70}})
    r2 = r.replace(ch_names=["x", "y", "z"])
    assert r2.ch_names == ("x", "y", "z") and r.ch_names == ("c0", "c1", "c2") and r2 is not r
    r2.meta["covariates"]["age"] = 99
    assert r.meta["covariates"]["age"] == 70  # deep-copied
    with pytest.raises(DataError):
        r.replace(ch_names=["x"])
    t = Trial({"emg": r}, meta={"subject": "S1"})
    assert t.with_stream("force", rec(1)).names == ["emg", "force"] and t.names == ["emg"]


# ------------------------------------------------------------- to_dataframe
def test_recording_to_dataframe():
    r = rec(2, 5, fs=10.0)
    df = r.to_dataframe()
    assert list(df.columns) == ["time", "c0", "c1"]
    assert df["time"].tolist() == pytest.approx([0, 0.1, 0.2, 0.3, 0.4])
    assert df["c1"].tolist() == [5, 6, 7, 8, 9]
    assert list(r.to_dataframe(time=False).columns) == ["c0", "c1"]


def test_trial_to_dataframe_long():
    t = Trial({"a": rec(1, 3, fs=10.0), "b": rec(2, 2, fs=5.0)})
    df = t.to_dataframe()
    assert len(df) == 3 + 4 and set(df["stream"]) == {"a", "b"}
    assert list(df.columns) == ["stream", "time", "channel", "value"]
    assert t.to_dataframe("b").shape == (2, 3)


def test_epochs_to_dataframe_long():
    X = np.arange(2 * 2 * 3, dtype=float).reshape(2, 2, 3)
    e = Epochs(X, 10.0, ["x", "y"], pd.DataFrame({"subject": ["s1", "s2"]}), y=np.array([0, 1]))
    df = e.to_dataframe()
    assert len(df) == 12
    row = df[(df["epoch"] == 1) & (df["channel"] == "y")]
    assert row["value"].tolist() == [9, 10, 11] and set(row["subject"]) == {"s2"} and set(row["target"]) == {1}


# ------------------------------------------------------- immutability (issue 13 item 7)
def test_arrays_are_copied_and_read_only():
    d = np.arange(6, dtype=np.float32).reshape(2, 3)
    lay = np.zeros((2, 2))
    r = Recording(data=d, fs=100.0, ch_names=["a", "b"], layout=lay)
    assert r.data is not d and not np.shares_memory(r.data, d)
    d[0, 0] = 99.0
    assert r.data[0, 0] == 0.0  # the caller's later edit does not reach the container
    for arr in (r.data, r.layout):
        assert not arr.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        r.data[0, 0] = 1.0
    X, y = np.zeros((3, 2, 4)), np.array([0, 1, 0])
    e = Epochs(X, 100.0, ["a", "b"], pd.DataFrame({"subject": ["s1", "s2", "s3"]}), y=y)
    assert not np.shares_memory(e.X, X) and not np.shares_memory(e.y, y)
    assert not e.X.flags.writeable and not e.y.flags.writeable
    # operations still work and return new read-only containers
    assert not r.crop(0.0, 0.02).data.flags.writeable and not e[1:].X.flags.writeable
    # a container's own (read-only) memory is shared, never a caller's: a read-only VIEW of a writeable
    # array is still copied, since the caller could write through the base
    assert r.replace(ch_names=["x", "y"]).data is r.data
    v = d.view()
    v.setflags(write=False)
    r2 = Recording(data=v, fs=100.0, ch_names=["a", "b"])
    d[0, 1] = 42.0
    assert r2.data[0, 1] == 1.0


def test_replace_fs_is_refused_with_a_pointer_to_resample():
    r = rec()
    with pytest.raises(DataError, match="resample"):
        r.replace(fs=2000.0)
    assert r.replace(fs=1000.0).fs == 1000.0  # unchanged rate is fine
    e = Epochs(np.zeros((2, 1, 4)), 100.0, ["a"], pd.DataFrame({"subject": ["a", "b"]}))
    with pytest.raises(DataError, match="resample"):
        e.replace(fs=50.0)
    # with_data is the explicit route for samples already at the new rate: events move
    r = rec(n=1000, events=pd.DataFrame({"sample": [500], "kind": ["x"]}))
    half = r.with_data(r.data[:, ::2], fs=500.0)
    assert half.fs == 500.0 and half.events_of("x").tolist() == [250]


@pytest.mark.parametrize("meta, match", [
    ({"subject": ["S1"]}, "subject"),
    ({"subject": 1.5}, "subject"),
    ({"muscle": {"a": 1}}, "muscle"),
    ({"side": 1}, "side"),
    ({"covariates": [70, "F"]}, "covariates"),
    ({"covariates": {"age": [70]}}, "covariates"),
    ({"truth": 3}, "truth"),
    ({"source": 5}, "source"),
])
def test_reserved_meta_keys_are_enforced(meta, match):
    with pytest.raises(DataError, match=match):
        rec(meta=meta)
    with pytest.raises(DataError, match=match):
        Epochs(np.zeros((1, 1, 4)), 100.0, ["a"], pd.DataFrame({"s": [1]}), meta=meta)


def test_reserved_meta_accepts_ids_paths_and_free_keys():
    from pathlib import Path

    r = rec(meta={"subject": 3, "session": "walk", "muscle": "VL", "side": "L", "covariates": {"age": 70, "sex": "F"},
                  "source": Path("/x/S1.edf"), "truth": {"cv": 4.0}, "anything": [1, 2]})
    assert r.meta["source"] == "/x/S1.edf" and r.meta["anything"] == [1, 2]


def test_epochs_indexing_returns_epochs():
    md = pd.DataFrame({"subject": list("aabbc")})
    e = Epochs(np.arange(5 * 8, dtype=float).reshape(5, 1, 8), 100.0, ["c"], md, y=np.array([0, 1, 0, 1, 0]))
    assert e.shape == (5, 1, 8) and len(e) == 5
    one = e[2]
    assert isinstance(one, Epochs) and len(one) == 1 and one.metadata["subject"].tolist() == ["b"]
    assert e[-1].X[0, 0, 0] == 32.0
    assert e[1:3].y.tolist() == [1, 0]
    assert e[np.array([4, 0])].metadata["subject"].tolist() == ["c", "a"]
    assert e[e.y == 1].metadata["subject"].tolist() == ["a", "b"]
    assert len(e[pd.Series([True, False, True, False, False])]) == 2
    with pytest.raises(IndexError):
        e[5]
    with pytest.raises(IndexError):
        e[np.array([True, False])]


# ----------------------------------------------------------------------------- lazy default events table
def test_default_events_table_is_built_on_first_access_and_unchanged():
    import pickle

    from myoflow.containers import _as_events, _empty_events, events_built

    r = rec(2, 50)
    assert not events_built(r)
    # derived Recordings keep it unbuilt (no DataFrame is made along a reader's pipeline)
    for d in (r.replace(meta={"x": 1}), r.with_data(r.data * 2), r.pick([1]),
              pickle.loads(pickle.dumps(r))):
        assert not events_built(d)
    ev = r.events
    assert events_built(r) and r.events is ev  # built once, then kept
    old_default = _as_events(_empty_events(), 50, "recording")  # what the default factory gave before
    pd.testing.assert_frame_equal(ev, old_default)
    assert list(ev.columns) == ["sample", "kind"] and len(ev) == 0
    # explicit tables behave as before, including events=None (kind stays object)
    explicit = rec(1, 50, events=None)
    pd.testing.assert_frame_equal(explicit.events, _empty_events())
    r2 = rec(1, 50).add_events([3, 1], "stim")
    assert r2.events["sample"].tolist() == [1, 3] and events_built(r2)
    assert dataclasses_replace_events(r2).events["sample"].tolist() == [1, 3]


def dataclasses_replace_events(r):
    import dataclasses

    return dataclasses.replace(r, t0=1.0)
