"""How a multi-frequency condition ("all") becomes ONE sequence input.

:func:`~.features.sequence_epochs` stacks every muscle × frequency waveform as its
own feature channel (``combine: stack``): 5 frequencies × 2 muscles × (shape +
log amplitude) = 20 channels for ~70 training subjects. In the evoked protocol the
trains of one muscle at different frequencies excite the same motor units through
the same tissue — they differ by noise and by a potentiation of up to ~50 % in
amplitude (Cupido et al. 1996, see :mod:`myoflow.simulate.protocols.evoked`) — so
the stacked channels are near-copies, and a small network fed five times the input
width for the same number of subjects overfits more (measured, 5-fold, 90 subjects,
five-member ensemble: 0.63 stacked vs 0.69 pooled accuracy; 0.62 vs 0.62 and 0.59 vs
0.60 with other split seeds; see the pipeline's module docstring). ``combine: pool`` instead averages
each muscle's per-frequency features (unit-amplitude shape and log peak-to-peak)
over the frequencies: the network sees the single-frequency input width with the
noise of every train averaged out.

Those figures were measured on the reported seed-0 folds. The shipped default is now
chosen on the separately seeded (seed 1) simulated cohort instead, where stacking scored
slightly higher (0.622 vs 0.589-0.600, "all", five members; see the stimulated-mass
pipeline docstring and ``benchmarks/results/selection/``).

Pooling is a fixed per-sample operation (no statistic is fitted), so it cannot leak
information across subjects.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..containers import Epochs
from ..errors import ConfigError, DataError
from .evoked import condition_name

__all__ = ["COMBINE_MODES", "pool_frequencies", "combine_frequencies"]

#: ``stack``: one channel per muscle × frequency; ``pool``: frequency-averaged per muscle.
COMBINE_MODES = ("stack", "pool")


def pool_frequencies(epochs: Epochs, muscles: Sequence[str], frequencies: Sequence[float]) -> Epochs:
    """Average each muscle's channels over the stimulation frequencies.

    Parameters
    ----------
    epochs : Epochs
        Waveform sequences from :func:`~.features.sequence_epochs`: X (n, n_blocks · n_freqs ·
        n_muscles, n_steps), channels ``"<muscle>@<f>Hz"`` (frequency-major, muscle-minor), and
        with ``amplitude="log_split"`` a second block ``"log_ptp_<muscle>@<f>Hz"`` in the same order.
    muscles, frequencies : sequence
        The muscles and the condition's frequencies, in the order used to build ``epochs``.

    Returns
    -------
    Epochs
        X (n, n_blocks · n_muscles, n_steps), channels ``"<muscle>@all"`` (and
        ``"log_ptp_<muscle>@all"``); metadata, labels and time axis unchanged.
    """
    muscles = [str(m) for m in muscles]
    freqs = [float(f) for f in frequencies]
    nm, nf = len(muscles), len(freqs)
    wave = [f"{m}@{condition_name(f)}" for f in freqs for m in muscles]
    blocks = [wave]
    if epochs.n_channels == 2 * len(wave):
        blocks.append([f"log_ptp_{n}" for n in wave])
    expected = [n for b in blocks for n in b]
    if list(epochs.ch_names) != expected:
        raise DataError(f"cannot pool frequencies: channels {list(epochs.ch_names)[:6]}... are not the "
                        f"waveform channels {expected[:6]}... of muscles {muscles} at {freqs} Hz")
    n = len(epochs)
    X = np.asarray(epochs.X)
    parts, names = [], []
    for b, block in enumerate(blocks):
        sl = X[:, b * nf * nm:(b + 1) * nf * nm]
        parts.append(sl.reshape(n, nf, nm, X.shape[-1]).mean(axis=1))
        names += [f"{'log_ptp_' if b else ''}{m}@all" for m in muscles]
    return epochs.replace(X=np.concatenate(parts, axis=1).astype(np.float32), ch_names=names)


def combine_frequencies(epochs: Epochs, mode: str, muscles: Sequence[str], frequencies: Sequence[float],
                        representation: str = "waveform") -> Epochs:
    """Apply ``preprocess.combine`` to a condition's sequences (a no-op for one frequency or ``stack``)."""
    if mode not in COMBINE_MODES:
        raise ConfigError(f"preprocess.combine must be one of {list(COMBINE_MODES)}, got {mode!r}")
    if mode == "stack" or len(frequencies) < 2:
        return epochs
    if representation != "waveform":
        raise ConfigError("preprocess.combine: pool needs representation: waveform")
    return pool_frequencies(epochs, muscles, frequencies)
