"""muscle-id on a cohort unlike the paper's: sustained holds, one side for everybody, other muscles."""
from __future__ import annotations

import logging

import numpy as np
import pytest

from myoflow.cli import main
from myoflow.pipelines.muscle_id.config import CohortConfig, PreprocessConfig
from myoflow.pipelines.muscle_id.data import load_cohort


@pytest.fixture(scope="module")
def holds(tmp_path_factory):
    # 3 subjects x 4 muscles, one 4 s isometric hold each at 1200 Hz, every recording on the "dominant" side
    d = tmp_path_factory.mktemp("holds") / "lab"
    main(["simulate", "lowerlimb", "--out", str(d), "--subjects", "3", "--fs", "1200", "--duration", "4"])
    return d


def test_sustained_holds_cut_into_bursts_are_flagged_with_the_settings_to_use(holds, caplog):
    with caplog.at_level(logging.WARNING, logger="myoflow.pipelines.muscle_id.data"):
        bursts = load_cohort("lab", CohortConfig(source="folder", path=str(holds), segmentation="bursts"),
                             PreprocessConfig())
    assert bursts.info["segmentation"] == "bursts" and bursts.info["n_windows"] < 12
    assert "recordings have at most one detected burst" in caplog.text
    assert "--set data.lab.segmentation=whole" in caplog.text and "windows_per_burst=null" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="myoflow.pipelines.muscle_id.data"):
        whole = load_cohort("lab", CohortConfig(source="folder", path=str(holds), segmentation="whole",
                                                windows_per_burst=None, block_windows=4), PreprocessConfig())
    assert "at most one detected burst" not in caplog.text
    # one side for everybody: the classes are the muscles, and no binary "muscle" task repeats the main one
    assert sorted(np.unique(whole.labels["4class"])) == ["BF", "GL", "TA", "VL"]
    assert "muscle" not in whole.labels and "side" not in whole.labels


def test_binary_task_titles_name_the_cohorts_own_classes():
    from types import SimpleNamespace

    from myoflow.pipelines.muscle_id.pipeline import _task_title

    paper = SimpleNamespace(labels={"4class": np.array(["L-BB", "R-TA"]), "muscle": np.array(["BB", "TA"]),
                                    "side": np.array(["L", "R"])})
    assert _task_title("muscle", paper) == "biceps vs tibialis" and _task_title("side", paper) == "left vs right"
    user = SimpleNamespace(labels={"4class": np.array(["L-VL", "R-GL", "L-GL"]), "muscle": np.array(["VL", "GL"]),
                                   "side": np.array(["L", "R"])})
    assert _task_title("muscle", user) == "muscle (GL vs VL)"
    assert _task_title("4class", user) == "3-class"


def test_auto_segmentation_takes_sustained_holds_whole(holds, caplog):
    # the default for a user's folder: the recordings' look (at most one burst each), not any score, decides
    assert CohortConfig(source="folder", path=str(holds)).segmentation == "auto"
    with caplog.at_level(logging.WARNING, logger="myoflow.pipelines.muscle_id.data"):
        auto = load_cohort("lab", CohortConfig(source="folder", path=str(holds)), PreprocessConfig())
    whole = load_cohort("lab", CohortConfig(source="folder", path=str(holds), segmentation="whole",
                                            windows_per_burst=None, block_windows=4), PreprocessConfig())
    assert "segmentation auto -> whole" in caplog.text
    assert auto.info["segmentation"] == "whole" and auto.info["n_windows"] == whole.info["n_windows"] > 12
    assert np.array_equal(auto.epochs.X, whole.epochs.X) and np.array_equal(auto.labels["4class"], whole.labels["4class"])
