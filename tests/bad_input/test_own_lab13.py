"""A thirteenth sweep: small cohorts and a lab's own EMG channel spellings, through gait-emg and muap-generator.

Each test is the smallest input that showed the problem; each fails without its fix.

Tried and already fine (no test added here): muscle-id and stimulated-mass print a small-cohort line on the
console and in report.html; a bracketed side in a channel label (``TA (L)``) is kept in the name by the readers;
a channel named exactly as a muscle (``TA``) or after an OpenSim model (``tib_ant_r``, ``tibant_r``); a
``data.emg_map`` naming every channel.
"""
from __future__ import annotations

import logging

import numpy as np
import pytest

from myoflow.containers import Trial
from myoflow.errors import DataError


@pytest.fixture(scope="module")
def walk():
    from myoflow.simulate.protocols.gait import simulate_gait

    return simulate_gait(1, 0, 8, fs_sim=2048.0, noise=False)[0][0]


def _cycles(walk, names, **kw):
    from myoflow.biomech.gait_cycles import trial_to_cycles

    emg = walk["emg"].replace(ch_names=names)
    t = Trial(streams={"angles": walk["angles"], "moments": walk["moments"], "grf": walk["grf"], "emg": emg},
              meta={"subject": "S01", "source": "raw/S01_walk_emg.csv"})
    return trial_to_cycles(t, body_mass=70.0, **kw)


# ------------------------------------------------------------------ gait-emg: a side marker in the channel name
@pytest.mark.parametrize("spelling", ["{m}_R", "{m} Rt", "{m}-R", "R_{m}", "R{m}", "{m} (R)", "Right {m}",
                                      "{m}_r"])
def test_a_side_marker_in_an_emg_channel_name_needs_no_emg_map(walk, spelling):
    muscles = walk["emg"].ch_names  # TA, GM, VL, RF, BF, ST, SOL
    ref = _cycles(walk, muscles)
    c = _cycles(walk, [spelling.format(m=m) for m in muscles])
    # was: "emg stream has none of the muscles [...]; map its channels with data.emg_map"
    assert c.muscles == muscles
    assert np.array_equal(c.emg, ref.emg)


def test_both_legs_sided_names_take_this_legs_channels_and_the_other_leg_is_named(walk, caplog):
    emg = walk["emg"]
    # the left leg's channels first, a copy scaled 3x so that taking them for the right leg shows in the numbers
    both = emg.replace(data=np.concatenate([emg.data * 3.0, emg.data]), units=tuple(emg.units) * 2,
                       ch_names=tuple(f"L{m}" for m in emg.ch_names) + tuple(f"{m}-R" for m in emg.ch_names))
    from myoflow.biomech.gait_cycles import trial_to_cycles

    t = Trial(streams={"angles": walk["angles"], "moments": walk["moments"], "grf": walk["grf"], "emg": both},
              meta={"subject": "S01", "source": "raw/S01_walk_emg.csv"})
    with caplog.at_level(logging.WARNING):
        c = trial_to_cycles(t, body_mass=70.0)
    assert c.muscles == emg.ch_names
    assert np.allclose(c.emg, _cycles(walk, emg.ch_names).emg)  # the right leg's, not the 3x left copy
    assert "left out" not in " ".join(r.getMessage() for r in caplog.records)  # the other leg is expected
    # only the other leg's channels for data.side r: the error says so
    with pytest.raises(DataError, match=r"named as the other leg's \(data.side is 'r'"):
        _cycles(walk, [f"{m}_L" for m in emg.ch_names])


@pytest.mark.parametrize("pair", [("TA_R", "R_TA"), ("TA", "TA Rt")])
def test_two_channels_read_as_one_muscle_are_an_error_naming_both(walk, pair):
    names = list(walk["emg"].ch_names)
    names[0], names[1] = pair  # TA and GM's channels both spelled as the right TA
    with pytest.raises(DataError) as exc:
        _cycles(walk, names)
    msg = str(exc.value)
    assert repr(list(pair)) in msg and "all read as 'TA'" in msg and "ambiguous" in msg and "data.emg_map" in msg


def test_a_name_that_is_not_a_muscle_with_a_side_is_not_guessed(walk):
    names = list(walk["emg"].ch_names)
    names[0] = "EMG R"  # TA's channel: no muscle in it, must stay unread (left out, never put on a muscle)
    c = _cycles(walk, names)
    assert "TA" not in c.muscles and c.muscles == tuple(names[1:])
