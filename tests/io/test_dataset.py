"""Standard dataset folders: write, read back lazily, determinism, bad input."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from myoflow.containers import Epochs, Recording, Trial
from myoflow.errors import DataError
from myoflow.io import load_dataset, write_dataset
from myoflow.io.testing import assert_same


def _items(n_subjects: int = 3):
    rng = np.random.default_rng(1)
    for i in range(n_subjects):
        sub = f"{i + 1:02d}"  # leading zero must survive the CSV round trip
        for muscle in ("VL", "TA"):
            yield f"sub-{sub}/{muscle}", Recording(
                rng.standard_normal((2, 300)), 2000.0, ["a", "b"],
                meta={"subject": sub, "session": 1, "muscle": muscle, "frequency": 25.0,
                      "covariates": {"age": 70 + i}, "truth": {"x": np.ones(2)}},
            )
    X = rng.standard_normal((4, 2, 10))
    md = pd.DataFrame({"subject": ["01", "01", "02", "03"], "burst": [0, 1, 0, 0]})
    yield "epochs/all", Epochs(X, 2000.0, ["a", "b"], md, y=np.array(["VL", "TA", "VL", "TA"]), target_names=["TA", "VL"])


def _participants():
    return pd.DataFrame({"subject": ["01", "02", "03"], "age": [70, 71, 72], "sex": ["F", "M", "F"], "bmi": [24.1, 27.0, 22.3]})


INFO = {"protocol": "unit-test", "seed": 7, "parameters": {"n": np.int64(3), "fs": 2000.0}}


def _hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_write_and_read_back(tmp_path):
    ds = write_dataset(tmp_path / "ds", _items(), _participants(), INFO)
    assert len(ds) == 7
    assert ds.subjects == ["01", "02", "03"]
    assert ds.info["protocol"] == "unit-test" and ds.info["parameters"]["n"] == 3
    assert ds.info["myoflow_version"]
    pd.testing.assert_frame_equal(ds.participants, _participants(), check_dtype=False)
    assert ds.participants["subject"].tolist() == ["01", "02", "03"]
    idx = ds.index.set_index("stem")
    assert idx.loc["sub-02/TA", "muscle"] == "TA"
    assert idx.loc["sub-02/TA", "subject"] == "02"
    assert idx.loc["sub-02/TA", "fs"] == 2000.0
    assert idx.loc["sub-02/TA", "n_samples"] == 300
    assert idx.loc["epochs/all", "kind"] == "Epochs" and idx.loc["epochs/all", "n_epochs"] == 4
    assert "truth" not in idx.columns and "covariates" not in idx.columns
    # lazy iteration gives back exactly what was written
    for (stem, obj), (stem2, original) in zip(ds, _items()):
        assert stem == stem2
        assert_same(obj, original)
    assert (tmp_path / "ds" / "sub-01" / "VL.h5").is_file()


def test_same_inputs_give_identical_bytes(tmp_path):
    write_dataset(tmp_path / "a", _items(), _participants(), INFO)
    write_dataset(tmp_path / "b", _items(), _participants(), INFO)
    ha, hb = _hashes(tmp_path / "a"), _hashes(tmp_path / "b")
    assert set(ha) == {"dataset.json", "index.csv", "participants.csv", "epochs/all.h5"} | {
        f"sub-{s}/{m}.h5" for s in ("01", "02", "03") for m in ("VL", "TA")
    }
    assert ha == hb


def test_overwrite_replaces_and_removes_stale_files(tmp_path):
    write_dataset(tmp_path / "ds", _items(3), _participants(), INFO)
    ds = write_dataset(tmp_path / "ds", _items(1), None, INFO)
    assert len(ds) == 3
    assert not (tmp_path / "ds" / "sub-03" / "VL.h5").exists()
    assert ds.subjects == ["01"]
    with pytest.raises(DataError, match="already exists"):
        write_dataset(tmp_path / "ds", _items(1), None, INFO, overwrite=False)


def test_refuses_foreign_non_empty_folder(tmp_path):
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(DataError, match="not a myoflow dataset"):
        write_dataset(tmp_path, _items(1), None, INFO)
    assert (tmp_path / "mine.txt").read_text() == "keep me"


@pytest.mark.parametrize(
    "items, match",
    [
        ([("../x", None)], "relative path"),
        ([("/abs", None)], "relative path"),
        ([("a.h5", None)], "suffix"),
        ([("a", np.zeros(3))], "expected Recording"),
        ([], "no items"),
    ],
)
def test_bad_items(tmp_path, items, match):
    with pytest.raises(DataError, match=match):
        write_dataset(tmp_path / "ds", items, None, INFO)


def test_duplicate_stems_and_participants(tmp_path):
    rec = next(_items(1))[1]
    with pytest.raises(DataError, match="duplicate"):
        write_dataset(tmp_path / "a", [("x", rec), ("x", rec)], None, INFO)
    with pytest.raises(DataError, match="more than once"):
        write_dataset(tmp_path / "b", [("x", rec)], pd.DataFrame({"subject": ["01", "01"]}), INFO)
    with pytest.raises(DataError, match="'subject' column"):
        write_dataset(tmp_path / "c", [("x", rec)], pd.DataFrame({"id": ["01"]}), INFO)


def test_trial_items_and_unknown_stem(tmp_path):
    rec = next(_items(1))[1]
    trial = Trial({"emg": rec, "angles": rec.with_data(rec.data, fs=100.0).replace(units="deg")}, meta={"subject": "01"})
    ds = write_dataset(tmp_path / "ds", [("t1", trial)], None, {"protocol": "gait"})
    assert ds.index.loc[0, "kind"] == "Trial" and ds.index.loc[0, "subject"] == "01"
    assert_same(ds.load("t1"), trial)
    with pytest.raises(DataError, match="no item 'nope'"):
        ds.load("nope")


def test_load_dataset_errors(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_dataset(tmp_path / "missing")
    with pytest.raises(DataError, match="no dataset.json"):
        load_dataset(tmp_path)
    (tmp_path / "dataset.json").write_text("{not json")
    with pytest.raises(DataError, match="dataset.json is not valid JSON"):
        load_dataset(tmp_path)


def test_folder_fingerprint_ignores_hidden_copies_but_not_items(tmp_path):
    # a dataset copied via a Mac gains '._S01.h5' AppleDouble files: --resume said the data had changed
    import numpy as np

    from myoflow.containers import Recording
    from myoflow.io import native
    from myoflow.io.dataset import folder_fingerprint

    root = tmp_path / "ds"
    root.mkdir()
    native.save(Recording(np.zeros((1, 100)), 1000.0, ["a"]), root / "S01.h5")
    before = folder_fingerprint(root)
    (root / "._S01.h5").write_bytes(b"\x00\x05\x16\x07 AppleDouble")
    (root / ".Trashes").mkdir()
    (root / ".Trashes" / "old.h5").write_bytes(b"x")
    assert folder_fingerprint(root) == before
    native.save(Recording(np.ones((1, 100)), 1000.0, ["a"]), root / "S02.h5")
    assert folder_fingerprint(root) != before
