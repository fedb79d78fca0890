"""An eighth sweep of new labs: the new readers (BIDS-EMG, WFDB, TMSi Poly5, OT Bioelettronica .otb+) through
the pipelines.

Each test is the smallest input that showed the problem; each fails without its fix.
"""
from __future__ import annotations

import logging

import numpy as np
import pytest

from myoflow.io import load_dataset, write_dataset

from ._builders import cli as _cli, one_error_line as _one_error_line, write_poly5


def _stimulated(n_subjects: int = 4, fs: float = 2000.0):
    from myoflow.simulate.protocols.evoked import simulate_evoked

    recs, part = simulate_evoked(n_subjects, 0, frequencies=(25.0,), train_s=1.0, n_units=20, fs=fs)
    part = part[["subject", "age", "sex", "height", "weight"]].assign(
        mass_class=["low", "normal"] * (n_subjects // 2))
    return recs, part


# ------------------------------------------------------------------ a TMSi stimulator trigger → stimulus events
def _poly5_with_trigger(root, recs):
    """Each recording as a Poly5 file (µV) with the stimulator's pulses on its TRIGGERS channel."""
    for r in recs:
        trig = np.zeros(r.n_samples)
        for s in r.events_of("stimulus"):
            trig[s:s + 3] = 1
        write_poly5(root / f"{r.meta['subject']}_{r.meta['muscle']}_25.Poly5", np.vstack([r.data * 1e6, trig]),
                    int(r.fs), [r.ch_names[0], "TRIGGERS"], ["µVolt", "-"])


def test_convert_event_map_makes_a_trigger_channel_the_stimulus_pulses(tmp_path, capsys):
    recs, _ = _stimulated(2)
    _poly5_with_trigger(tmp_path / "raw", recs)
    base = ["convert", tmp_path / "raw", "--pattern", "{subject}_{muscle}_{frequency}"]
    # was: no way to rename the 'trigger' events a Poly5/BIDS/BDF trigger channel reads as (and --events is
    # refused with --bids): stimulated-mass ignored them and detected the pulses from the artefact
    code, _, err = _cli(base + ["--out", tmp_path / "ds", "--event-map", "trigger=stimulus"], capsys)
    assert code == 0, err
    ds = load_dataset(tmp_path / "ds")
    rec = ds.load(ds.stems[0])
    src = next(r for r in recs if f"{r.meta['subject']}_{r.meta['muscle']}" == ds.stems[0][:7])
    assert set(rec.events["kind"]) == {"stimulus"}
    np.testing.assert_array_equal(rec.events_of("stimulus"), src.events_of("stimulus"))
    # a kind no file has (a typo) is one line listing the kinds there are, nothing written
    code, _, err = _cli(base + ["--out", tmp_path / "ds2", "--event-map", "triger=stimulus"], capsys)
    line = _one_error_line(code, err)
    assert "--event-map" in line and "'triger'" in line and "['trigger']" in line
    assert not (tmp_path / "ds2").exists()


def test_stimulated_mass_says_when_trigger_events_go_unused(tmp_path, capsys, caplog):
    recs, part = _stimulated(4)
    items = []
    for r in recs:  # the stimulator's pulses as a trigger channel reads them: kind 'trigger'
        ev = r.events.assign(kind="trigger")
        items.append((f"{r.meta['subject']}_{r.meta['muscle']}", r.replace(events=ev)))
    ds = write_dataset(tmp_path / "clinic", items, part, {"protocol": "evoked"}).path
    with caplog.at_level(logging.WARNING):
        code, _, err = _cli(["run", "stimulated-mass", "--data", ds, "--out", tmp_path / "run",
                             "--cache-dir", tmp_path / "cache", "--set", "evaluate.models=[ptp_logreg]",
                             "--set", "evaluate.n_splits=2", "--set", "evaluate.n_boot=10",
                             "--set", "data.frequencies=[25]", "--set", "evaluate.conditions=[25Hz]"], capsys)
    assert code == 0, err
    # was: silence (the pulses were detected from the artefact, the triggers never looked at)
    assert "8 recording(s) have events of kind(s) ['trigger'] but no 'stimulus' events" in caplog.text
    assert "--event-map trigger=stimulus" in caplog.text
