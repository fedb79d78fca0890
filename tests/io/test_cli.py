"""``myoflow inspect`` on synthetic files and dataset folders (no shared data needed)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from myoflow.cli import main
from myoflow.containers import Epochs, Recording, Trial
from myoflow.io import native, write_dataset


def _rec(subject="S01", muscle="VL"):
    rng = np.random.default_rng(0)
    return Recording(
        rng.standard_normal((2, 3000)) * 1e-4, 2000.0, ["VL", "TA"],
        events=pd.DataFrame({"sample": [10, 20, 30], "kind": ["stim", "stim", "onset"]}),
        meta={"subject": subject, "muscle": muscle, "covariates": {"age": 70, "sex": "F"}},
    )


def _run(capsys, *argv):
    main(["inspect", *map(str, argv)])
    return capsys.readouterr().out


def test_inspect_recording_text_and_json(tmp_path, capsys):
    path = native.save(_rec(), tmp_path / "r.h5")
    text = _run(capsys, path)
    assert "2000 Hz" in text and "VL, TA" in text and "1.500 s" in text
    assert "stim: 2" in text and "onset: 1" in text and "age=70" in text
    d = json.loads(_run(capsys, path, "--json"))
    assert d["type"] == "Recording" and d["fs"] == 2000 and d["channels"] == ["VL", "TA"]
    assert d["duration_s"] == 1.5 and d["subject"] == "S01"
    assert d["events"] == {"stim": 2, "onset": 1} and d["covariates"] == {"age": 70, "sex": "F"}


def test_inspect_trial_and_epochs(tmp_path, capsys):
    trial = Trial({"emg": _rec(), "angles": _rec().with_data(_rec().data, fs=100.0).replace(units="deg")}, meta={"subject": "S01"})
    d = json.loads(_run(capsys, native.save(trial, tmp_path / "t.h5"), "--json"))
    assert d["type"] == "Trial" and d["sampling_rates"] == [100, 2000]
    assert d["streams"]["angles"]["units"] == "deg"
    ep = Epochs(np.zeros((4, 2, 50)), 1000.0, ["a", "b"], pd.DataFrame({"subject": ["1", "1", "2", "2"]}),
                y=np.array(["VL", "TA", "VL", "VL"]))
    d = json.loads(_run(capsys, native.save(ep, tmp_path / "e.h5"), "--json"))
    assert d["n_epochs"] == 4 and d["subjects"] == ["1", "2"] and d["targets"] == {"TA": 1, "VL": 3}
    assert "Epochs: 4" in _run(capsys, tmp_path / "e.h5")


def test_inspect_dataset_folder(tmp_path, capsys):
    items = [(f"sub-{s}/{m}", _rec(s, m)) for s in ("01", "02") for m in ("VL", "TA")]
    participants = pd.DataFrame({"subject": ["01", "02"], "age": [70, 80]})
    write_dataset(tmp_path / "ds", items, participants, {"protocol": "demo", "seed": 1})
    d = json.loads(_run(capsys, tmp_path / "ds", "--json"))
    assert d["type"] == "dataset" and d["n_items"] == 4 and d["subjects"] == ["01", "02"]
    assert d["covariates"]["age"] == {"min": 70, "max": 80, "mean": 75, "n": 2}
    assert d["info"]["protocol"] == "demo" and d["sampling_rates"] == [2000]
    assert d["events"] == {"stim": 8, "onset": 4}
    text = _run(capsys, tmp_path / "ds")
    assert "demo: 4 item(s)" in text and "subjects: 2" in text


def test_inspect_with_hints(tmp_path, capsys):
    (tmp_path / "x.csv").write_text("".join(f"{i},{-i}\n" for i in range(100)))
    d = json.loads(_run(capsys, tmp_path / "x.csv", "--fs", "250", "--json"))
    assert d["fs"] == 250 and d["n_samples"] == 100
    d = json.loads(_run(capsys, tmp_path / "x.csv", "--hint", "fs=500", "--hint", 'ch_names=["a","b"]', "--json"))
    assert d["fs"] == 500 and d["channels"] == ["a", "b"]


def test_inspect_help_is_listed(capsys):
    try:
        main(["inspect", "--help"])
    except SystemExit as exc:  # depending on click's standalone handling
        assert exc.code in (0, None)
    out = capsys.readouterr().out
    assert "--json" in out and "sampling rate" in out
