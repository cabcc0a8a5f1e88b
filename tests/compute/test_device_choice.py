"""Device choice (CUDA → MPS → CPU), names, and the CPU fallback on out-of-memory."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cnnviz.compute import device as device_module
from cnnviz.compute import runner as runner_module
from cnnviz.compute.device import (
    DeviceError,
    device_name,
    is_out_of_memory,
    resolve_device,
)
from cnnviz.compute.runner import ForwardRunner
from cnnviz.core.jobs import ForwardRequest
from cnnviz.core.presets import load_preset


def test_auto_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(device_module.torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(device_module, "mps_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    monkeypatch.setattr(device_module, "mps_available", lambda: True)
    assert resolve_device("auto") == torch.device("mps")
    monkeypatch.setattr(device_module.torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")
    assert resolve_device(None) == torch.device("cuda")


def test_explicit_choices_override_auto():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(" CPU ") == torch.device("cpu")


def test_missing_devices_say_why(monkeypatch):
    monkeypatch.setattr(device_module.torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(device_module, "mps_available", lambda: False)
    with pytest.raises(DeviceError, match=r"^CUDA is not available here \(.+\); use --device"):
        resolve_device("cuda")
    with pytest.raises(DeviceError, match="Apple MPS is not available"):
        resolve_device("mps")
    with pytest.raises(DeviceError, match=r"unknown device 'tpu' \(choose auto, cpu, cuda, mps\)"):
        resolve_device("tpu")


def test_device_names():
    assert device_name(torch.device("cpu")) == "CPU"
    assert device_name("mps") == "Apple MPS"
    if torch.cuda.is_available():
        assert device_name("cuda").startswith("CUDA: ")
    else:
        assert device_name("cuda") == "CUDA"  # no GPU to name


def test_out_of_memory_is_recognised():
    assert is_out_of_memory(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB"))
    assert is_out_of_memory(RuntimeError("MPS backend out of memory (MPS allocated: 9 GB)"))
    assert not is_out_of_memory(RuntimeError("Expected more than 1 value per channel"))
    assert not is_out_of_memory(ValueError("out of memory"))


def _request(**changes) -> ForwardRequest:
    arch = load_preset("lenet5")
    image = np.random.default_rng(0).random((1, 32, 32), dtype=np.float32)
    return ForwardRequest(request_id=4, architecture=arch, image=image, **changes)


def test_gpu_out_of_memory_runs_that_request_on_the_cpu_and_says_so(monkeypatch):
    fake_gpu = torch.device("cuda")
    monkeypatch.setattr(runner_module, "resolve_device", lambda preference: fake_gpu)
    monkeypatch.setattr(runner_module, "release_memory", lambda device: None)
    runner = ForwardRunner()
    real_forward = runner._forward_on
    tried = []

    def forward_on(model, image, request, device, should_cancel):
        tried.append(device.type)
        if device.type == "cuda":
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return real_forward(model, image, request, device, should_cancel)

    monkeypatch.setattr(runner, "_forward_on", forward_on)
    result = runner.run(_request(device="cuda"))
    assert tried == ["cuda", "cpu"]
    assert result.device == "CPU"
    assert "ran out of memory: this run used the CPU" in result.notice
    assert len(result.layers) == 12


def test_an_absent_device_in_a_request_falls_back_with_a_notice(monkeypatch):
    monkeypatch.setattr(device_module.torch.cuda, "is_available", lambda: False)
    result = ForwardRunner().run(_request(device="cuda"))
    assert result.device == "CPU"
    assert result.notice.startswith("CUDA is not available here")
    assert result.notice.endswith("computing on the CPU")
