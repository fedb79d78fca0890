"""Round trips Recording/Epochs <-> MNE, DataFrame and NWB."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from myoflow.containers import Epochs, Recording
from myoflow.errors import DataError, MissingExtraError
from myoflow.io import interop

mne = pytest.importorskip("mne", reason="mne extra not installed")


def _rec() -> Recording:
    rng = np.random.default_rng(0)
    rec = Recording(rng.normal(0, 1e-4, (3, 2000)), 1000.0, ["TA", "GM", "knee"], units=["V", "V", "deg"],
                    meta={"subject": "S03", "muscle": "TA", "covariates": {"age": 61, "sex": "F"}}, t0=0.5)
    return rec.add_events([100, 900, 1500], "burst_onset").add_events([300], "heel_strike")


def _epochs(y) -> Epochs:
    rng = np.random.default_rng(1)
    md = pd.DataFrame({"subject": ["a", "a", "b", "b"], "burst_id": [0, 1, 0, 1], "age": [30.0, 30.0, 50.0, 50.0]})
    return Epochs(rng.normal(size=(4, 2, 50)), 2000.0, ["c1", "c2"], md, y=y, tmin=-0.01, meta={"protocol": "x"})


def test_recording_mne_round_trip():
    rec = _rec()
    raw = rec.to_mne()
    assert isinstance(raw, mne.io.BaseRaw)
    assert raw.get_channel_types() == ["emg", "emg", "misc"]
    assert raw.info["sfreq"] == 1000.0 and raw.info["subject_info"]["his_id"] == "S03"
    np.testing.assert_allclose(raw.annotations.onset, [0.1, 0.3, 0.9, 1.5])
    assert list(raw.annotations.description) == ["burst_onset", "heel_strike", "burst_onset", "burst_onset"]
    back = Recording.from_mne(raw)
    np.testing.assert_array_equal(back.data, rec.data)
    assert back.ch_names == rec.ch_names and back.units == rec.units and back.t0 == rec.t0
    pd.testing.assert_frame_equal(back.events, rec.events)
    assert back.meta["covariates"] == {"age": 61, "sex": "F"} and back.subject == "S03"


def test_extra_event_columns_survive_a_round_trip_but_not_a_crop():
    rec = _rec().add_events([50], "stim", amplitude=[3.5])
    back = Recording.from_mne(rec.to_mne())
    assert back.events["amplitude"].dropna().tolist() == [3.5]
    cropped = Recording.from_mne(rec.to_mne().crop(tmin=0.2))
    assert cropped.n_samples == 1800 and cropped.events["sample"].tolist() == [100, 700, 1300]
    assert cropped.t0 == pytest.approx(rec.t0 + 0.2)


def test_foreign_raw_and_cropped_annotations():
    info = mne.create_info(["EMG1", "EEG1", "STI"], 500.0, ["emg", "eeg", "stim"])
    raw = mne.io.RawArray(np.random.default_rng(2).normal(0, 1e-5, (3, 2500)), info, verbose="ERROR")
    raw.set_annotations(mne.Annotations([1.0, 3.0], [0.5, 0], ["rest", "contraction"]))
    raw.crop(tmin=2.0)  # annotation onsets are absolute: the 1 s one falls away, 3 s is sample 500
    rec = interop.from_mne(raw, picks="emg", meta={"subject": "P1"})
    assert rec.ch_names == ("EMG1",) and rec.units == ("V",) and rec.subject == "P1"
    assert rec.events["sample"].tolist() == [500] and rec.events["kind"].tolist() == ["contraction"]
    assert interop.from_mne(raw).units == ("V", "V", "a.u.")


@pytest.mark.parametrize("y", [np.array(["biceps", "triceps", "biceps", "deltoid"]), np.array([0, 2, 2, 1]),
                               np.array([0.1, 0.2, 0.3, 0.4]), np.arange(8.0).reshape(4, 2), None])
def test_epochs_mne_round_trip(y):
    ep = _epochs(y)
    me = ep.to_mne()
    assert isinstance(me, mne.BaseEpochs) and me.tmin == pytest.approx(-0.01)
    assert list(me.metadata["subject"]) == ["a", "a", "b", "b"]
    if y is not None and y.dtype.kind in "UO":
        assert set(me.event_id) == {"biceps", "deltoid", "triceps"}
    back = Epochs.from_mne(me)
    np.testing.assert_allclose(back.X, ep.X)
    pd.testing.assert_frame_equal(back.metadata, ep.metadata)
    assert back.tmin == pytest.approx(ep.tmin) and back.fs == ep.fs and back.meta == ep.meta
    if y is None:
        assert back.y is None
    else:
        np.testing.assert_array_equal(back.y, y)
        assert back.y.dtype.kind == y.dtype.kind


def test_from_dataframe_inverts_to_dataframe():
    rec = _rec().pick(["TA", "GM"])
    back = interop.from_dataframe(rec.to_dataframe())
    np.testing.assert_allclose(back.data, rec.data)
    assert back.fs == pytest.approx(1000.0) and back.t0 == pytest.approx(0.5) and back.ch_names == rec.ch_names
    assert interop.from_dataframe(rec.to_dataframe(time=False), fs=1000.0, time_column=None).n_samples == 2000
    with pytest.raises(DataError, match="no fs"):
        interop.from_dataframe(rec.to_dataframe(time=False))
    df = rec.to_dataframe()
    df.loc[5, "time"] += 0.01
    with pytest.raises(DataError, match="not uniformly"):
        interop.from_dataframe(df)
    df = rec.to_dataframe()
    df["label"] = "x"
    with pytest.raises(DataError, match="non-numeric"):
        interop.from_dataframe(df)


def test_nwb_round_trip(tmp_path):
    pytest.importorskip("pynwb", reason="nwb extra not installed")
    rec = _rec().pick(["TA", "GM"])
    out = interop.to_nwb(rec, tmp_path / "rec.nwb")
    back = interop.read_nwb(out)
    np.testing.assert_allclose(back.data, rec.data)
    assert back.fs == rec.fs and back.ch_names == rec.ch_names and back.t0 == rec.t0 and back.subject == "S03"
    pd.testing.assert_frame_equal(back.events, rec.events)
    from myoflow.io import read

    assert read(out).n_channels == 2
    with pytest.raises(DataError, match="one unit"):
        interop.to_nwb(_rec(), tmp_path / "mixed.nwb")
    ep = _epochs(np.array(["biceps", "triceps", "biceps", "deltoid"]))
    eback = interop.read_nwb(interop.to_nwb(ep, tmp_path / "ep.nwb"))
    np.testing.assert_allclose(eback.X, ep.X)
    pd.testing.assert_frame_equal(eback.metadata, ep.metadata, check_dtype=False)
    assert list(eback.y) == list(ep.y) and eback.tmin == ep.tmin
    (tmp_path / "bad.nwb").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 50)
    with pytest.raises(DataError, match="bad.nwb"):
        read(tmp_path / "bad.nwb")


def test_missing_extra_names_it(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "mne", None)  # makes `import mne` raise ImportError
    with pytest.raises(MissingExtraError, match=r"myoflow\[mne\]"):
        _rec().to_mne()
