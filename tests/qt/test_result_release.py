"""Before a large forward the window lets go of the shown result's arrays (the
panels keep what they drew), and only then: not for a small one, not for one
the memory budget will refuse, not when switched off."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

from cnnviz.core.analysis import analyze
from cnnviz.core.display_maps import prepare_result
from cnnviz.core.jobs import ForwardRequest, ForwardResult, LayerActivation
from cnnviz.core.memory import BUDGET_ENV
from cnnviz.core.project import Project
from cnnviz.qt.bridge import result_release
from cnnviz.qt.bridge.result_release import held_bytes, make_room, release_arrays
from cnnviz.qt.editor import commands
from tests.qt.fake_compute import FakeCompute
from tests.qt.test_main_window import make_window, small_arch


def result_in_one_buffer(request) -> tuple[ForwardResult, np.ndarray]:
    """A result whose outputs are views of one buffer, as the compute side makes
    them, with its pictures prepared as the compute thread does."""
    infos = analyze(request.architecture).layers
    sizes = [int(np.prod(info.output_shape)) for info in infos]
    buffer = np.random.default_rng(0).standard_normal(sum(sizes)).astype(np.float32)
    layers, start, previous = [], 0, request.image
    for info, size in zip(infos, sizes, strict=True):
        output = buffer[start : start + size].reshape(info.output_shape)
        layers.append(LayerActivation(info.index, info.layer.type, output, previous))
        start, previous = start + size, output
    result = ForwardResult(request.request_id, request.image, tuple(layers))
    prepare_result(result)
    return result, buffer


class Holder:
    """Stands in for a panel that keeps a view and the pictures of a layer."""


def test_release_swaps_arrays_for_free_stand_ins_and_keeps_the_pictures():
    arch = small_arch()
    image = np.zeros(arch.input.as_tuple(), np.float32)
    result, buffer = result_in_one_buffer(ForwardRequest(1, arch, image))
    layer = result.layers[0]
    shape, stats, tiles = layer.output.shape, layer.stats, layer.pictures.tiles.copy()
    holder, other = Holder(), np.ones(5, np.float32)
    holder.maps, holder.pictures, holder.other = layer.output, layer.pictures, other
    buffer_ref = weakref.ref(buffer)
    assert held_bytes(result) == buffer.nbytes + image.nbytes  # layer 0's input: the image
    del buffer
    freed = release_arrays(result, [holder])
    gc.collect()
    assert buffer_ref() is None  # nothing keeps the buffer alive
    assert freed > 0 and held_bytes(result) == 0
    assert layer.output.shape == shape and layer.output.strides == (0, 0, 0)
    assert not layer.output.any() and not layer.output.flags.writeable
    assert layer.stats is stats  # the figures computed with the result stay
    np.testing.assert_array_equal(layer.pictures.tiles, tiles)  # so do the pictures
    assert holder.pictures is layer.pictures and holder.maps.strides == (0, 0, 0)
    assert holder.other is other  # what is not the result's stays
    assert result.input is image  # the network input (the input cache's) is left alone


@pytest.fixture
def shown(qtbot, monkeypatch):
    """A window showing a result (in one buffer) on layer 0's feature maps."""
    compute = FakeCompute()
    win = make_window(qtbot, compute)
    win.doc.reset(Project(small_arch()), None)
    win.show()
    win.select_layer(0)
    win.controller.submit_now()
    result, buffer = result_in_one_buffer(compute.requests[-1])
    with qtbot.waitSignal(win.result_shown):
        compute.result_ready.emit(result)
    maps = win.panels.widget("feature_maps")
    qtbot.waitUntil(lambda: getattr(maps, "pictures", None) is not None)
    buffer_ref = weakref.ref(buffer)
    del result, buffer  # the test's own references: only the window's remain
    yield win, compute, buffer_ref, maps
    win.shutdown()


def edit(win) -> None:
    win.doc.undo_stack.push(commands.SetParamCommand(win.doc, 0, "out_channels", 3))
    win.controller.submit_now()


def test_a_large_forward_releases_the_shown_result_and_the_panels_keep_their_pictures(
    shown, monkeypatch
):
    win, compute, buffer, maps = shown
    monkeypatch.setattr(result_release, "RELEASE_FROM_BYTES", 1)  # every forward is large
    view, tiles = win.panels.latest, maps.pictures.tiles.copy()
    drawn = maps.mosaic_item.image
    edit(win)
    gc.collect()
    assert buffer() is None  # the window let go of every array of the shown result
    assert compute.requests[-1].architecture.layers[0].get("out_channels") == 3
    assert win.panels.latest is view and win.controller.latest is view  # still shown
    assert maps.mosaic_item.image is drawn  # what the panel drew stays on screen
    np.testing.assert_array_equal(maps.pictures.tiles, tiles)
    assert view.result.layers[0].output.shape == (2, 10, 10)


def test_a_small_forward_keeps_the_shown_result(shown):
    win, _compute, buffer, _maps = shown
    edit(win)  # far below RELEASE_FROM_BYTES
    gc.collect()
    assert buffer() is not None and held_bytes(win.controller.latest.result) > 0


def test_a_forward_the_budget_refuses_or_the_switch_off_keeps_it(shown, monkeypatch):
    win, _compute, buffer, _maps = shown
    monkeypatch.setattr(result_release, "RELEASE_FROM_BYTES", 1)
    monkeypatch.setenv(BUDGET_ENV, "1kB")  # this forward will be refused
    edit(win)
    assert held_bytes(win.controller.latest.result) > 0
    monkeypatch.setenv(BUDGET_ENV, "1GB")
    monkeypatch.setattr(result_release, "ENABLED", False)
    edit(win)
    gc.collect()
    assert buffer() is not None and held_bytes(win.controller.latest.result) > 0
    monkeypatch.setattr(result_release, "ENABLED", True)
    assert make_room(win.controller.latest, win.doc.analysis, ignore_memory_limit=True) > 0
