"""Training-only batch augmentations: pure, seeded, and never applied when predicting."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from myoflow.errors import ConfigError  # noqa: E402
from myoflow.train.augment import (  # noqa: E402
    Augment, additive_noise, amplitude_scale, channel_dropout, time_shift,
)


def _x(b=8, c=4, t=64):
    return torch.randn(b, c, t, generator=torch.Generator().manual_seed(0))


def _g(seed=3):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("fn", [
    lambda x, g: time_shift(x, g, 10),
    lambda x, g: amplitude_scale(x, g, 3.0, per_channel=True),
    lambda x, g: additive_noise(x, g, 0.2),
    lambda x, g: channel_dropout(x, g, 0.5),
    Augment(max_shift=5, max_gain=2.0, noise=0.1, channel_drop=0.25),
])
def test_deterministic_pure_and_effective(fn):
    x = _x()
    before = x.clone()
    a, b = fn(x, _g()), fn(x, _g())
    torch.testing.assert_close(a, b)                 # same seed, same batch
    assert not torch.equal(fn(x, _g(4)), a)          # another seed, another batch
    assert not torch.equal(a, x)                     # it does something
    torch.testing.assert_close(x, before)            # input untouched
    assert a.shape == x.shape


def test_transforms_do_what_they_say():
    x = _x()
    s = time_shift(x, _g(), 10)
    # a circular shift keeps every window's values (sorted) exactly
    torch.testing.assert_close(s.sort(dim=2).values, x.sort(dim=2).values)
    gain = amplitude_scale(x, _g(), 2.0) / x
    assert float(gain.min()) >= 0.5 - 1e-5 and float(gain.max()) <= 2.0 + 1e-5
    noisy = additive_noise(x, _g(), 0.1) - x
    ratio = noisy.pow(2).mean(2).sqrt() / x.pow(2).mean(2).sqrt()
    assert 0.05 < float(ratio.mean()) < 0.15
    d = channel_dropout(x, _g(), 0.9)
    alive = d.abs().sum(2) > 0
    assert alive.any(dim=1).all()                    # never all channels of a window
    assert (~alive).any()                            # but some dropped
    one = x[:, :1]
    assert torch.equal(channel_dropout(one, _g(), 0.9), one)


def test_off_is_identity_and_bad_settings_fail():
    x = _x()
    aug = Augment()
    assert not aug.active and aug(x, _g()) is x
    for bad in (dict(max_shift=-1), dict(max_gain=0.5), dict(noise=-0.1), dict(channel_drop=1.0)):
        with pytest.raises(ConfigError):
            Augment(**bad)
    with pytest.raises(ConfigError):
        time_shift(x[0], _g(), 3)


def test_global_rng_untouched():
    x = _x()
    state = torch.get_rng_state()
    Augment(max_shift=5, noise=0.1, channel_drop=0.3)(x, _g())
    assert torch.equal(state, torch.get_rng_state())


def test_estimator_augments_training_batches_only(monkeypatch):
    """The batch hook runs while fitting and never in predict / predict_proba."""
    from myoflow.models.deep_classifier import DeepWindowClassifier
    from myoflow.train import augment as augment_mod

    calls = {"n": 0}
    real = augment_mod.Augment.__call__

    def counting(self, x, generator):
        calls["n"] += 1
        return real(self, x, generator)

    monkeypatch.setattr(augment_mod.Augment, "__call__", counting)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 1, 64)).astype(np.float32)
    y = np.repeat(["a", "b"], 20)
    X[y == "b"] *= 3
    est = DeepWindowClassifier(widths=(4, 4), pools=(2, 2), hidden=8, epochs=2, batch_size=16, val_fraction=0,
                               max_shift=4, noise=0.1).fit(X, y)
    n_fit = calls["n"]
    assert n_fit == 2 * 3                            # 2 epochs x 3 batches
    p1 = est.predict_proba(X)
    p2 = est.predict_proba(X)
    assert calls["n"] == n_fit                       # predicting never augments
    np.testing.assert_array_equal(p1, p2)
