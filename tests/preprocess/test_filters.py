from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import signal

from myoflow.containers import Recording
from myoflow.errors import ConfigError, DataError
from myoflow.preprocess import (
    StreamingFilter,
    bandpass,
    design_sos,
    envelope,
    highpass,
    lowpass,
    notch,
    rectify,
    remove_dc,
    resample,
)


def _rec(data, fs=1000.0, **meta):
    data = np.atleast_2d(np.asarray(data))
    return Recording(data, fs, [f"ch{i}" for i in range(data.shape[0])], meta={"source": "test.edf", **meta})


def _noise(n_ch=3, n=4000, seed=0):
    return np.random.default_rng(seed).normal(size=(n_ch, n)).astype(np.float32)


@settings(max_examples=30, deadline=None)
@given(
    n_ch=st.integers(1, 4),
    n=st.integers(200, 1500),
    fs=st.sampled_from([500.0, 1000.0, 2048.0, 4000.0]),
    zero_phase=st.booleans(),
    which=st.sampled_from(["bandpass", "highpass", "lowpass", "notch", "envelope", "rectify", "remove_dc"]),
)
def test_filters_keep_shape_and_dtype(n_ch, n, fs, zero_phase, which):
    rec = _rec(_noise(n_ch, n), fs)
    nyq = fs / 2
    out = {
        "bandpass": lambda: bandpass(rec, 0.05 * nyq, 0.8 * nyq, zero_phase=zero_phase),
        "highpass": lambda: highpass(rec, 0.1 * nyq, zero_phase=zero_phase),
        "lowpass": lambda: lowpass(rec, 0.5 * nyq, zero_phase=zero_phase),
        "notch": lambda: notch(rec, 50.0, zero_phase=zero_phase),
        "envelope": lambda: envelope(rec, 6.0, zero_phase=zero_phase),
        "rectify": lambda: rectify(rec),
        "remove_dc": lambda: remove_dc(rec, "median"),
    }[which]()
    assert isinstance(out, Recording)
    assert out.data.shape == rec.data.shape and out.data.dtype == np.float32
    assert out.fs == rec.fs and out.ch_names == rec.ch_names and out.meta == rec.meta


@pytest.mark.parametrize("zero_phase", [True, False])
def test_butterworth_filters_match_scipy_reference(zero_phase):
    x = _noise(2, 3000, seed=1)
    rec = _rec(x, 1000.0)
    ref_fn = signal.sosfiltfilt if zero_phase else signal.sosfilt
    cases = [
        (bandpass(rec, 20, 450, order=4, zero_phase=zero_phase), signal.butter(4, [20, 450], "bandpass", fs=1000, output="sos")),
        (highpass(rec, 10, order=2, zero_phase=zero_phase), signal.butter(2, 10, "highpass", fs=1000, output="sos")),
        (lowpass(rec, 100, order=6, zero_phase=zero_phase), signal.butter(6, 100, "lowpass", fs=1000, output="sos")),
    ]
    for out, sos in cases:
        ref = ref_fn(sos, x.astype(np.float64), axis=-1)
        np.testing.assert_allclose(out.data, ref, rtol=1e-4, atol=1e-5)


def test_bandpass_frequency_response():
    fs = 1000.0
    t = np.arange(4000) / fs
    def gain(f):
        out = bandpass(_rec(np.sin(2 * np.pi * f * t), fs), 20, 450)
        mid = slice(1000, 3000)
        return np.std(out.data[0, mid]) / np.std(np.sin(2 * np.pi * f * t[mid]))
    assert gain(100) == pytest.approx(1.0, abs=0.01)
    assert gain(5) < 1e-3  # 4th-order edge, zero-phase: (5/20)^8 ≈ 1.5e-5
    # at the cut-off, zero-phase gives the squared -3 dB gain (0.5)
    assert gain(20) == pytest.approx(0.5, abs=0.03)


def test_notch_removes_mains_and_harmonics_only():
    fs = 1000.0
    t = np.arange(10000) / fs
    mains = np.sin(2 * np.pi * 50 * t) + 0.5 * np.sin(2 * np.pi * 150 * t)
    keep = np.sin(2 * np.pi * 80 * t)
    out = notch(_rec(mains + keep, fs), freq=50.0, harmonics=(1, 3, 5), q=30.0).data[0].astype(float)
    mid = slice(2000, 8000)
    residual = out[mid] - keep[mid]
    assert np.std(residual) < 0.02 * np.std(mains[mid])  # > 34 dB suppression
    # golden: the same cascade of scipy.signal.iirnotch sections
    sos = np.vstack([signal.tf2sos(*signal.iirnotch(f0, 30.0, fs=fs)) for f0 in (50, 150, 250)])
    np.testing.assert_allclose(out, signal.sosfiltfilt(sos, mains + keep), atol=1e-4)
    # 60 Hz mains at fs=250: only harmonics below Nyquist (60) are used; 180/300 skipped
    notch(_rec(_noise(1, 1000), 250.0), freq=60.0)


def test_cutoffs_at_or_above_nyquist_are_refused_with_context():
    rec = _rec(_noise(1, 1000), 1000.0)
    with pytest.raises(DataError, match=r"test\.edf.*500 Hz.*fs=1000"):
        lowpass(rec, 500)
    with pytest.raises(DataError, match="Nyquist"):
        bandpass(rec, 20, 600)
    with pytest.raises(DataError, match="Nyquist"):
        notch(_rec(_noise(1, 1000), 80.0), freq=50.0)
    with pytest.raises(DataError):
        highpass(rec, 0)
    with pytest.raises(ConfigError):
        bandpass(rec, 200, 100)
    with pytest.raises(ConfigError):
        lowpass(rec, 100, order=0)
    with pytest.raises(DataError, match="samples"):
        bandpass(_rec(_noise(1, 20), 1000.0), 20, 450)


def test_input_is_not_modified():
    x = _noise(2, 2000)
    rec = _rec(x.copy())
    for fn in (lambda r: bandpass(r, 20, 300), rectify, lambda r: remove_dc(r, "detrend"), envelope):
        fn(rec)
    np.testing.assert_array_equal(rec.data, x)


def test_rectify_envelope_and_dc():
    fs = 1000.0
    t = np.arange(5000) / fs
    x = 3.0 + 2.0 * np.sin(2 * np.pi * 100 * t)
    rec = _rec(x, fs)
    np.testing.assert_allclose(rectify(_rec(x - 3.0, fs)).data[0], np.abs(x - 3.0), atol=1e-6)
    env = envelope(remove_dc(rec), cutoff=5.0).data[0]
    # unity DC gain: the envelope's level is the mean rectified value (2A/π for a densely sampled sine;
    # 10 samples per period here give the discrete mean 0.6155 A)
    assert np.mean(env[1000:4000]) == pytest.approx(np.mean(np.abs(x - 3.0)), rel=0.005)
    assert np.mean(np.abs(x - 3.0)) == pytest.approx(2.0 * 0.6155, rel=1e-3)
    assert np.ptp(env[1000:4000]) < 0.01  # a 5 Hz low-pass leaves no 200 Hz ripple
    assert abs(remove_dc(rec, "mean").data.mean()) < 1e-5
    assert abs(np.median(remove_dc(rec, "median").data)) < 1e-5
    ramp = _rec(0.01 * np.arange(1000) + 5.0, fs)
    assert np.abs(remove_dc(ramp, "detrend").data).max() < 1e-3
    with pytest.raises(ConfigError):
        remove_dc(rec, "mode")


def test_resample_keeps_signal_and_moves_events():
    fs = 2048.0
    t = np.arange(int(2 * fs)) / fs
    rec = _rec(np.sin(2 * np.pi * 10 * t), fs).replace(
        events=pd.DataFrame({"sample": [1024, 2048], "kind": ["stimulus", "stimulus"]}))
    out = resample(rec, 1000.0)
    assert out.fs == 1000.0 and out.n_samples == 2000
    t2 = np.arange(2000) / 1000.0
    np.testing.assert_allclose(out.data[0, 100:-100], np.sin(2 * np.pi * 10 * t2[100:-100]), atol=5e-3)
    assert out.events["sample"].tolist() == [500, 1000]


def test_streaming_filter_matches_whole_causal_filter():
    x = _noise(2, 3000, seed=3)
    sos = design_sos("bandpass", 1000.0, (20, 450))
    f = StreamingFilter(sos, n_channels=2)
    chunks = [f.process(c) for c in np.array_split(x, [7, 500, 1999], axis=1)]
    np.testing.assert_allclose(np.concatenate(chunks, axis=1), signal.sosfilt(sos, x, axis=-1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bandpass(_rec(x), 20, 450, zero_phase=False).data, np.concatenate(chunks, axis=1),
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(DataError):
        f.process(x[:1])


# ----------------------------------------------------------------------------- threaded channel blocks
from myoflow.preprocess import filters as _filters  # noqa: E402


@pytest.mark.parametrize("zero_phase", [True, False])
@pytest.mark.parametrize("shape", [(7, 5000), (2, 3, 4000)])
def test_threaded_blocks_are_bit_identical_to_one_call(zero_phase, shape):
    x = np.random.default_rng(11).normal(size=shape).astype(np.float32)
    sos = np.vstack([design_sos("bandpass", 1000.0, (20, 450)), _filters.notch_sos(1000.0, 50.0)])
    ref_fn = signal.sosfiltfilt if zero_phase else signal.sosfilt
    ref = ref_fn(sos, x, axis=-1).astype(np.float32)
    for threads in (1, 2, 3, 16):
        out = _filters.apply_sos(sos, x, zero_phase=zero_phase, threads=threads)
        assert out.dtype == np.float32 and out.shape == x.shape
        np.testing.assert_array_equal(out, ref, err_msg=f"threads={threads}")


def test_public_filters_use_threads_above_threshold_and_match_single_thread(monkeypatch):
    import threading

    x = np.random.default_rng(12).normal(size=(5, 6000)).astype(np.float32)
    rec = _rec(x)
    chain = lambda r: envelope(notch(bandpass(r, 20, 450), 50.0), 6.0)  # noqa: E731
    monkeypatch.setenv("MYOFLOW_FILTER_THREADS", "1")
    single = chain(rec).data

    seen: set[str] = set()
    real = _filters._filter_rows

    def spy(*args, **kwargs):
        seen.add(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(_filters, "_filter_rows", spy)
    monkeypatch.setattr(_filters, "_usable_cpus", lambda: 4)
    monkeypatch.setattr(_filters, "BLOCKWISE_MIN_SAMPLES", 1000)
    monkeypatch.delenv("MYOFLOW_FILTER_THREADS")
    threaded = chain(rec).data
    assert any(name.startswith("myoflow-filter") for name in seen), seen
    np.testing.assert_array_equal(threaded, single)
    # the envelope rectifies inside the blocks: same as rectify then low-pass
    ref = signal.sosfiltfilt(design_sos("lowpass", 1000.0, 6.0), np.abs(x), axis=-1).astype(np.float32)
    np.testing.assert_array_equal(envelope(rec, 6.0).data, ref)

    # one thread above the threshold: several blocks, one after the other on the calling thread
    calls = []
    monkeypatch.setattr(_filters, "_filter_rows", lambda *a, **k: calls.append(threading.current_thread().name)
                        or real(*a, **k))
    monkeypatch.setattr(_filters, "_BLOCK_MAX_SAMPLES", 2 * x.shape[1])
    monkeypatch.setenv("MYOFLOW_FILTER_THREADS", "1")
    np.testing.assert_array_equal(chain(rec).data, single)
    assert len(calls) == 3 * 3 and set(calls) == {threading.current_thread().name}  # 3 filters x 3 blocks
    monkeypatch.setattr(_filters, "_filter_rows", spy)
    monkeypatch.delenv("MYOFLOW_FILTER_THREADS")

    # below the threshold everything stays on the calling thread
    seen.clear()
    monkeypatch.setattr(_filters, "BLOCKWISE_MIN_SAMPLES", x.size)
    bandpass(rec, 20, 450)
    assert seen == {threading.current_thread().name}


def test_filter_threads_choice_and_env_override(monkeypatch):
    monkeypatch.delenv("MYOFLOW_FILTER_THREADS", raising=False)
    monkeypatch.setattr(_filters, "_usable_cpus", lambda: 8)
    big = _filters.BLOCKWISE_MIN_SAMPLES + 1
    assert _filters.filter_threads(16, big) == 8
    assert _filters.filter_threads(3, big) == 3          # never more threads than channels
    assert _filters.filter_threads(1, big) == 1
    assert _filters.filter_threads(16, _filters.BLOCKWISE_MIN_SAMPLES) == 1  # small: one call
    monkeypatch.setenv("MYOFLOW_FILTER_THREADS", "2")
    assert _filters.filter_threads(16, big) == 2
    monkeypatch.setenv("MYOFLOW_FILTER_THREADS", "1")
    assert _filters.filter_threads(16, big) == 1
    for bad in ("0", "-1", "two"):
        monkeypatch.setenv("MYOFLOW_FILTER_THREADS", bad)
        with pytest.raises(ConfigError, match="MYOFLOW_FILTER_THREADS"):
            _filters.filter_threads(16, big)
    monkeypatch.delenv("MYOFLOW_FILTER_THREADS")
    with pytest.raises(ConfigError, match="threads"):
        _filters.apply_sos(design_sos("lowpass", 1000.0, 10.0), _noise(2, 500), threads=0)


def test_worker_errors_reach_the_caller(monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("block failed")

    monkeypatch.setattr(_filters, "_filter_rows", boom)
    with pytest.raises(RuntimeError, match="block failed"):
        _filters.apply_sos(design_sos("lowpass", 1000.0, 10.0), _noise(4, 500), threads=2)


# ----------------------------------------------------------------------------- in-place kernel fast path
def _ref_filter(sos, x, zero_phase, rectify_first):
    fn = signal.sosfiltfilt if zero_phase else signal.sosfilt
    return fn(sos, np.abs(x) if rectify_first else x, axis=-1).astype(np.float32)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("zero_phase", [True, False])
@pytest.mark.parametrize("rectify_first", [False, True])
@pytest.mark.parametrize("chunk", [7, 50, 1 << 16])  # boundaries inside the padding, inside the data; one chunk
def test_kernel_path_is_byte_identical_to_scipy(monkeypatch, dtype, zero_phase, rectify_first, chunk):
    assert _filters._fast_path_ok()
    monkeypatch.setattr(_filters, "_CHUNK", chunk)
    x = np.random.default_rng(21).normal(size=(3, 701)).astype(dtype)
    x[1, :60] = 0.0    # exact zeros at the start (and in the odd extension): signs of zero must match
    x[2, -5:] = -0.0
    cases = [
        design_sos("bandpass", 1000.0, (20, 450)),
        design_sos("lowpass", 1000.0, 30.0, order=3),   # a first-order section: shorter sosfiltfilt padding
        _filters.notch_sos(1000.0, 50.0),
    ]
    for sos in cases:
        plan = _filters._SosPlan(sos, x.dtype, zero_phase, rectify_first)
        assert plan.fast
        ref = _ref_filter(sos, x, zero_phase, rectify_first)
        for threads in (1, 2):
            out = _filters._apply(sos, x, zero_phase, "test", threads, rectify_first)
            assert out.dtype == np.float32
            assert out.tobytes() == ref.tobytes(), (len(sos), threads)


def test_kernel_path_handles_1d_nd_and_noncontiguous_input():
    sos = design_sos("highpass", 1000.0, 20.0)
    x = np.random.default_rng(22).normal(size=(2, 3, 900)).astype(np.float32)
    np.testing.assert_array_equal(_filters.apply_sos(sos, x), _ref_filter(sos, x, True, False))
    one = x[0, 1]
    assert _filters.apply_sos(sos, one).tobytes() == _ref_filter(sos, one, True, False).tobytes()
    strided = np.asfortranarray(x[1])  # rows not contiguous
    assert _filters.apply_sos(sos, strided).tobytes() == _ref_filter(sos, strided, True, False).tobytes()


def test_other_dtypes_and_a_failed_self_check_use_sosfiltfilt(monkeypatch, caplog):
    sos = design_sos("bandpass", 1000.0, (20, 450))
    ints = np.random.default_rng(23).integers(-2000, 2000, size=(2, 800)).astype(np.int16)
    assert not _filters._SosPlan(sos, ints.dtype, True, False).fast
    assert _filters.apply_sos(sos, ints).tobytes() == _ref_filter(sos, ints, True, False).tobytes()

    # a kernel that does not reproduce sosfiltfilt is refused by the self-check
    real = _filters._sos_kernel

    def off_by_a_bit(sos_, x_, zi_):
        real(sos_, x_, zi_)
        x_ *= 1.0 + 1e-15  # invisible in float32; the check compares float64

    monkeypatch.setattr(_filters, "_sos_kernel", off_by_a_bit)
    with caplog.at_level("WARNING", logger="myoflow.preprocess.filters"):
        assert _filters._self_check() is False
    assert "disabled" in caplog.text
    monkeypatch.setattr(_filters, "_fast_checked", False)
    x = _noise(3, 900)
    assert _filters.apply_sos(sos, x).tobytes() == _ref_filter(sos, x, True, False).tobytes()


def test_filtered_recordings_keep_the_computed_array_without_copying(monkeypatch):
    rec = _rec(_noise(3, 2000))
    made = []
    real = _filters.apply_sos
    monkeypatch.setattr(_filters, "apply_sos", lambda *a, **k: made.append(real(*a, **k)) or made[-1])
    out = bandpass(rec, 20, 450)
    assert out.data is made[-1] or np.shares_memory(out.data, made[-1])
    assert not out.data.flags.writeable
    assert not np.shares_memory(out.data, rec.data)
    env = envelope(rec, 6.0)
    assert not env.data.flags.writeable and not np.shares_memory(env.data, rec.data)
    np.testing.assert_array_equal(rectify(rec).data, np.abs(rec.data))
