"""The GPU code path (device choice, mixed precision) on a machine without CUDA.

CI has no GPU, so these tests fake torch's CUDA queries: ``device: auto`` must pick CUDA
when torch reports one, and the engine's AMP set-up must choose bf16 autocast (no loss
scaling) where the GPU supports it, fp16 autocast + a GradScaler otherwise, and nothing on
the CPU. The real kernels are timed on a GPU machine (issue 19).
"""
from __future__ import annotations

import contextlib

import pytest

torch = pytest.importorskip("torch")

from myoflow.errors import ConfigError  # noqa: E402
from myoflow.train.device import get_device  # noqa: E402
from myoflow.train.engine import _amp_context  # noqa: E402


@pytest.fixture
def fake_cuda(monkeypatch):
    """Make torch report one CUDA device (bf16 support set per test)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    state = {"bf16": True}
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: state["bf16"])
    return state


def test_auto_is_cpu_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert get_device("auto") == "cpu"
    with pytest.raises(ConfigError, match="no CUDA GPU"):
        get_device("cuda")


def test_auto_picks_cuda_when_present(fake_cuda):
    assert get_device("auto") == "cuda"
    assert get_device("cuda:1") == "cuda:1"
    assert get_device("cpu") == "cpu"
    with pytest.raises(ConfigError, match="unknown device"):
        get_device("tpu")


def test_amp_off_on_cpu_and_when_disabled(fake_cuda):
    for device, amp in (("cpu", "auto"), ("cpu", True), ("cuda", False)):
        ctx, scaler = _amp_context(device, amp)
        assert ctx is contextlib.nullcontext and scaler is None, (device, amp)


def test_amp_bf16_without_scaler(fake_cuda):
    fake_cuda["bf16"] = True
    ctx, scaler = _amp_context("cuda", "auto")
    assert scaler is None
    ac = ctx()
    assert isinstance(ac, torch.autocast) and ac.fast_dtype == torch.bfloat16 and ac.device == "cuda"


@pytest.mark.filterwarnings("ignore::UserWarning")  # GradScaler warns that CUDA is not really there
def test_amp_fp16_with_scaler(fake_cuda):
    fake_cuda["bf16"] = False
    ctx, scaler = _amp_context("cuda", True)
    assert isinstance(scaler, torch.amp.GradScaler)
    ac = ctx()
    assert isinstance(ac, torch.autocast) and ac.fast_dtype == torch.float16
