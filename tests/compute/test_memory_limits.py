"""Refusing above the memory budget before allocating, running anyway when told,
and every allocation that still fails as one line (never a traceback)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from cnnviz.compute import forward as forward_module
from cnnviz.compute import memory_check, runner_model
from cnnviz.compute.caches import BufferPool
from cnnviz.compute.device import is_out_of_memory
from cnnviz.compute.forward import OutOfMemory, record_forward
from cnnviz.compute.memory_check import failure_message, is_allocation_failure, requested_bytes
from cnnviz.compute.model import build_model
from cnnviz.compute.runner import ComputeError, ForwardRunner, MemoryRefused
from cnnviz.core.architecture import InputShape
from cnnviz.core.jobs import ForwardRequest
from cnnviz.core.memory import BUDGET_ENV
from cnnviz.core.presets import load_preset

TORCH_CPU_FAILURE = (
    "[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate "
    "memory: you tried to allocate 16000000000 bytes. Error code 12 (Cannot allocate memory)"
)
LENET = load_preset("lenet5")


def request(arch=LENET, **changes) -> ForwardRequest:
    image = np.random.default_rng(0).random(arch.input.as_tuple(), dtype=np.float32)
    return ForwardRequest(1, arch, image, **changes)


def assert_one_line(message: str) -> None:
    assert "\n" not in message and "Traceback" not in message and "alloc_cpu" not in message


def test_above_the_budget_nothing_is_built_and_the_layer_is_named(monkeypatch):
    monkeypatch.setenv(BUDGET_ENV, "100kB")
    runner = ForwardRunner()
    with pytest.raises(MemoryRefused) as refused:
        runner.run(request())
    message = str(refused.value)
    assert_one_line(message)
    assert message.startswith("not enough free memory: layer 7 Linear needs ")
    assert message.endswith(f"the memory limit ({BUDGET_ENV}) is 100 kB")
    assert runner.keeper.model is None  # refused before building anything
    assert len(runner._buffers) == 0


def test_run_anyway_runs(monkeypatch):
    monkeypatch.setenv(BUDGET_ENV, "100kB")
    result = ForwardRunner().run(request(ignore_memory_limit=True))
    assert len(result.layers) == len(LENET.layers)


def test_within_the_budget_runs_and_what_the_model_holds_is_not_asked_for_again(monkeypatch):
    runner = ForwardRunner()
    est = runner.memory_estimate(LENET)
    monkeypatch.setenv(BUDGET_ENV, str(est.total))
    runner.run(request())
    # The same stack again reuses its weights: less than the whole is needed now.
    monkeypatch.setenv(BUDGET_ENV, str(est.total - est.weights - est.filters))
    runner.run(request())
    with pytest.raises(MemoryRefused):  # another seed: new weights
        runner.run(request(seed=5))


def test_the_refusal_on_a_gpu_that_is_too_small_falls_back_to_the_cpu(monkeypatch):
    from cnnviz.core.memory import MemoryBudget

    runner = ForwardRunner()
    big = load_preset("vgg11")
    monkeypatch.setattr(
        memory_check, "device_budget", lambda device: MemoryBudget(1000, 2000, "free GPU memory")
    )
    notices: list[str] = []
    device = runner._check_memory(request(big), torch.device("cuda"), notices)
    assert device.type == "cpu"
    assert notices[0].startswith("the network does not fit in the GPU's memory")


@pytest.mark.parametrize(
    "failure",
    [
        RuntimeError(TORCH_CPU_FAILURE),
        MemoryError("Unable to allocate 14.9 GiB for an array with shape (4000000000,)"),
        torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 ..."),
    ],
)
def test_an_allocation_failing_in_a_layer_is_one_line_naming_it(monkeypatch, failure):
    real = forward_module.prepared

    def failing_at_linear(model):
        calls, plan = real(model)
        calls = list(calls)

        def fail(h):
            raise failure

        calls[7] = fail  # lenet5's layer 7 is its first Linear
        return calls, plan

    monkeypatch.setattr(forward_module, "prepared", failing_at_linear)
    with pytest.raises(ComputeError) as failed:
        ForwardRunner().run(request(device="cpu"))
    message = str(failed.value)
    assert_one_line(message)
    assert message.startswith("out of memory: layer 7 Linear could not get ")
    assert requested_bytes(failure) is not None


def test_an_allocation_failing_while_building_or_taking_the_buffer_is_one_line(monkeypatch):
    def no_memory(*args, **kwargs):
        raise RuntimeError(TORCH_CPU_FAILURE)

    monkeypatch.setattr(runner_model, "build_model", no_memory)
    monkeypatch.setattr(runner_model.ModelKeeper, "update", no_memory)
    with pytest.raises(ComputeError) as failed:
        ForwardRunner().run(request())
    assert str(failed.value).startswith("out of memory: the run could not get 16 GB")
    assert str(failed.value).endswith("; layer 7 Linear needs 193 kB of weights")
    assert_one_line(str(failed.value))


def test_the_result_buffer_failing_is_one_line(monkeypatch):
    def no_buffer(self, size):
        raise MemoryError(f"Unable to allocate {size * 4} bytes")

    monkeypatch.setattr(BufferPool, "take", no_buffer)
    monkeypatch.setattr(forward_module, "COPY_AS_MADE_FROM", 0)
    with pytest.raises(ComputeError) as failed:
        ForwardRunner().run(request())
    assert str(failed.value).startswith("out of memory: the result (every layer's output) ")
    assert_one_line(str(failed.value))


def test_a_gpu_out_of_memory_in_a_layer_is_still_retried_on_the_cpu():
    exc = OutOfMemory("layer 3 Conv2d", torch.OutOfMemoryError("CUDA out of memory."), 3)
    assert is_out_of_memory(exc)  # what the runner's GPU fallback looks for


def test_what_counts_as_an_allocation_failure():
    assert is_allocation_failure(RuntimeError(TORCH_CPU_FAILURE))
    assert is_allocation_failure(MemoryError())
    assert not is_allocation_failure(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))
    assert requested_bytes(RuntimeError(TORCH_CPU_FAILURE)) == 16_000_000_000
    assert requested_bytes(MemoryError("Unable to allocate 2.00 GiB for")) == 2 << 30
    message = failure_message(RuntimeError(TORCH_CPU_FAILURE), "layer 1 Linear")
    assert message.startswith("out of memory: layer 1 Linear could not get 16 GB (about ")


def test_large_result_buffers_are_not_kept_and_unfitting_free_ones_go_first():
    pool = BufferPool(retain_up_to=1000)
    big = pool.take(5000)
    assert len(pool) == 0  # the caller's alone: freed as soon as it lets go
    small = pool.take(100)
    del small
    other = pool.take(700)  # the free 100 does not fit: let go before allocating
    assert len(pool) == 1 and pool._buffers[0].size == 700
    del big, other


def test_each_layer_computes_from_the_kept_copy_of_the_last_output(monkeypatch):
    """So torch frees its own output at once: one fresh output alive, not two."""
    monkeypatch.setattr(forward_module, "COPY_AS_MADE_FROM", 0)
    model = build_model(load_preset("tinyvgg").with_input(InputShape(3, 32, 32)), 0).eval()
    sizes = [
        int(np.prod(t.shape))
        for t in forward_module.layer_outputs(model, torch.zeros(1, 3, 32, 32))
    ]
    inputs = []
    for module in model:
        module.register_forward_pre_hook(lambda m, args: inputs.append(args[0]))
    image = np.random.default_rng(1).random((3, 32, 32), dtype=np.float32)
    layers = record_forward(model, torch.from_numpy(image)[None], image, sizes=sizes)
    buffer = layers[0].output.base
    while buffer.base is not None:
        buffer = buffer.base
    for layer_input in inputs[1:]:
        assert np.shares_memory(layer_input.numpy(), buffer)


def test_an_in_place_layer_after_a_kept_copy_still_records_the_right_values(monkeypatch):
    monkeypatch.setattr(forward_module, "COPY_AS_MADE_FROM", 0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(inplace=True), nn.Tanh()).eval()
    image = np.random.default_rng(2).standard_normal((1, 8, 8)).astype(np.float32)
    with torch.no_grad():
        conv = model[0](torch.from_numpy(image)[None])[0].numpy().copy()
    layers = record_forward(model, torch.from_numpy(image)[None], image, sizes=[72, 72, 72])
    np.testing.assert_array_equal(layers[0].output, conv)
    np.testing.assert_array_equal(layers[1].output, np.maximum(conv, 0))
