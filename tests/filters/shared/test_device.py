"""filters/device.py: the GPU when torch sees one, the CPU otherwise; VEIL_DEVICE to choose.

The GPU tests run where torch sees a CUDA GPU (and the whole filter suite runs there with
``VEIL_DEVICE=cuda``); on the CPU-only CI they are skipped.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import filters.shared.surrogate
from batch.judge import Judge
from filters.shared.device import compute_device, parse_device
from filters.shared.surrogate import Surrogate, scaled_view
from tests.photos import real_image

on_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="torch sees no CUDA GPU")


def test_auto_takes_the_gpu_only_when_there_is_one():
    assert parse_device("auto", cuda_available=False) == torch.device("cpu")
    assert parse_device(" AUTO ", cuda_available=True) == torch.device("cuda")
    assert parse_device("", cuda_available=True) == torch.device("cuda")


def test_named_devices():
    assert parse_device("cpu", cuda_available=True) == torch.device("cpu")
    assert parse_device("cuda:1", cuda_available=True) == torch.device("cuda", 1)


@pytest.mark.parametrize("bad", ["gpu", "cuda:x", "mps", "tpu"])
def test_unknown_devices_are_refused_clearly(bad):
    with pytest.raises(ValueError, match=r"VEIL_DEVICE.*auto, cpu, cuda"):
        parse_device(bad, cuda_available=True)


def test_a_gpu_asked_for_where_there_is_none_is_refused():
    with pytest.raises(ValueError, match="sees no CUDA GPU"):
        parse_device("cuda", cuda_available=False)


def test_the_variable_chooses(monkeypatch):
    monkeypatch.setenv("VEIL_DEVICE", "cpu")
    compute_device.cache_clear()
    try:
        assert compute_device() == torch.device("cpu")
        monkeypatch.setenv("VEIL_DEVICE", "npu")
        compute_device.cache_clear()
        with pytest.raises(ValueError, match="npu"):
            compute_device()
    finally:
        monkeypatch.undo()
        compute_device.cache_clear()


def test_models_and_views_are_on_the_compute_device(surrogate):
    device = compute_device()
    pixels = np.asarray(real_image())
    assert next(surrogate.model.parameters()).device.type == device.type
    assert surrogate.view(pixels).device.type == device.type
    assert scaled_view(pixels).device.type == device.type
    assert next(Judge.load().model.parameters()).device.type == device.type


@on_gpu
def test_gpu_view_is_the_cpu_view_within_a_level(monkeypatch):
    pixels = np.asarray(real_image(size=(640, 480)))
    monkeypatch.setattr(filters.shared.surrogate, "compute_device", lambda: torch.device("cpu"))
    on_cpu = scaled_view(pixels)
    monkeypatch.setattr(filters.shared.surrogate, "compute_device", lambda: torch.device("cuda"))
    on_cuda = scaled_view(pixels)
    assert on_cuda.device.type == "cuda"
    assert float((on_cuda.cpu() - on_cpu).abs().max()) <= 1 / 255 + 1e-6


@on_gpu
def test_gpu_logits_are_the_cpu_logits(monkeypatch):
    pixels = np.asarray(real_image())
    monkeypatch.setattr(filters.shared.surrogate, "compute_device", lambda: torch.device("cpu"))
    on_cpu = Surrogate.load()
    view = on_cpu.view(pixels)
    monkeypatch.setattr(filters.shared.surrogate, "compute_device", lambda: torch.device("cuda"))
    on_cuda = Surrogate.load()
    with torch.inference_mode():
        expected, got = on_cpu.logits(view), on_cuda.logits(view)
    assert got.device.type == "cuda"
    assert torch.allclose(got.cpu(), expected, atol=1e-2, rtol=1e-3)
    assert int(got.argmax()) == int(expected.argmax())
