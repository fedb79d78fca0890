"""Quick-look plots: return Figures built without pyplot, drawing the container's numbers."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from myoflow.containers import Epochs, Recording
from myoflow.errors import ConfigError, DataError
from myoflow.plotting import plot_epochs, plot_grid, plot_recording


def _rec(n=3000, grid=None):
    rng = np.random.default_rng(0)
    c = 1 if grid is None else grid[0] * grid[1]
    return Recording(rng.normal(size=(c, n)) * np.arange(1, c + 1)[:, None], 1000.0, [f"e{i}" for i in range(c)],
                     grid_shape=grid)


def test_plot_recording_draws_data_and_events(tmp_path):
    rec = _rec().add_events([500, 1500], "onset").add_events([2500], "offset")
    fig = rec.plot()
    (ax,) = fig.axes
    np.testing.assert_allclose(ax.lines[0].get_ydata(), rec.data[0])
    assert len(ax.lines) == 1 + 3  # trace + one vertical line per event
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["offset", "onset"]
    fig.savefig(tmp_path / "r.png")
    assert (tmp_path / "r.png").stat().st_size > 1000
    # a window and decimation of long traces keep the extremes
    long = _rec(n=200_000)
    line = plot_recording(long).axes[0].lines[0]
    assert len(line.get_ydata()) <= 20_002 and line.get_ydata().max() == pytest.approx(long.data.max())
    assert plot_recording(long, tmin=1.0, tmax=2.0).axes[0].lines[0].get_xdata()[0] == pytest.approx(1.0)
    with pytest.raises(DataError, match="no channel"):
        plot_recording(rec, channels=["nope"])


def test_plot_epochs_groups_and_means():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(6, 2, 40))
    md = pd.DataFrame({"muscle": ["TA", "TA", "TA", "GM", "GM", "GM"]})
    ep = Epochs(X, 1000.0, ["a", "b"], md, y=np.array([0, 0, 0, 1, 1, 1]), tmin=-0.01)
    fig = ep.plot(by="muscle")
    ax = fig.axes[0]
    means = [ln for ln in ax.lines if ln.get_label().startswith(("TA", "GM"))]
    assert [ln.get_label() for ln in means] == ["TA (n=3)", "GM (n=3)"]
    np.testing.assert_allclose(means[1].get_ydata(), X[3:, 0].mean(axis=0), atol=1e-6)
    assert means[0].get_xdata()[0] == pytest.approx(-10.0)  # ms from the event
    assert len(plot_epochs(ep, by="y").axes[1].lines) == 2 * (3 + 1)
    with pytest.raises(DataError, match="no column"):
        plot_epochs(ep, by="side")


def test_plot_grid_values():
    rec = _rec(grid=(2, 3))
    fig = plot_grid(rec)
    img = fig.axes[0].images[0].get_array()
    np.testing.assert_allclose(img, np.sqrt((rec.data.astype(float) ** 2).mean(axis=1)).reshape(2, 3))
    np.testing.assert_allclose(plot_grid(np.arange(6.0), (3, 2)).axes[0].images[0].get_array(),
                               np.arange(6.0).reshape(3, 2))
    with pytest.raises(DataError, match="grid_shape"):
        plot_grid(_rec())
    with pytest.raises(ConfigError):
        plot_grid(rec, statistic="median")


def test_plotting_never_imports_pyplot():
    code = ("import numpy as np, sys; from myoflow.containers import Recording; "
            "f = Recording(np.ones((1, 10)), 10., ['a']).plot(); import io; f.savefig(io.BytesIO(), format='png'); "
            "print('matplotlib.pyplot' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
