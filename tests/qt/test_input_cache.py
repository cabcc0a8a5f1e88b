"""The network input is prepared once per image, shape and preprocessing: an edit
that keeps the input shape reuses it, anything that changes what it is made of
prepares it again (and gives the same array as preparing it afresh)."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz.core.architecture import InputShape
from cnnviz.core.presets import load_preset
from cnnviz.core.project import Project
from cnnviz.qt.bridge.controller import ComputeController
from cnnviz.qt.bridge.input_cache import InputCache
from cnnviz.qt.editor import commands
from cnnviz.qt.editor.document import Document
from cnnviz.qt.inputs.network_input import to_network_input
from tests.qt.fake_compute import FakeCompute


def image(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((40, 50, 3), dtype=np.float32)


def test_the_same_image_shape_and_settings_give_the_prepared_array_back():
    cache, picture = InputCache(), image()
    first = cache.network_input(picture, (3, 16, 16), {})
    assert cache.network_input(picture, (3, 16, 16), {}) is first
    assert cache.conversions == 1
    np.testing.assert_array_equal(first, to_network_input(picture, (3, 16, 16), {}))


@pytest.mark.parametrize(
    "change",
    [
        lambda picture: (picture, (3, 20, 16), {}),  # another shape
        lambda picture: (picture, (1, 16, 16), {}),  # another channel count
        lambda picture: (picture.copy(), (3, 16, 16), {}),  # another image, equal values
        lambda picture: (picture, (3, 16, 16), {"normalize": "imagenet"}),
    ],
)
def test_anything_else_prepares_it_again(change):
    cache, picture = InputCache(), image()
    first = cache.network_input(picture, (3, 16, 16), {})
    again_from = change(picture)
    again = cache.network_input(*again_from)
    assert again is not first and cache.conversions == 2
    np.testing.assert_array_equal(again, to_network_input(*again_from))


@pytest.fixture
def setup(qtbot):
    doc = Document()
    fake = FakeCompute()
    controller = ComputeController(doc, fake)
    doc.reset(Project(load_preset("tinyvgg")), None)
    yield doc, fake, controller
    controller.shutdown()


def test_an_edit_that_keeps_the_input_shape_reuses_the_input(setup):
    doc, fake, controller = setup
    doc.set_image(image(1), None, "noise")
    controller.submit_now()
    before = fake.requests[-1].image
    doc.undo_stack.push(commands.SetParamCommand(doc, 0, "out_channels", 7))
    controller.submit_now()
    assert fake.requests[-1].image is before
    assert fake.requests[-1].architecture.layers[0].get("out_channels") == 7


def test_a_new_input_shape_or_image_prepares_the_input_again(setup):
    doc, fake, controller = setup
    doc.set_image(image(1), None, "noise")
    controller.submit_now()
    before = fake.requests[-1].image
    doc.undo_stack.push(commands.SetInputCommand(doc, InputShape(3, 32, 40)))
    controller.submit_now()
    resized = fake.requests[-1].image
    assert resized.shape == (3, 32, 40) and before.shape != resized.shape
    np.testing.assert_array_equal(resized, to_network_input(doc.image, (3, 32, 40), {}))
    doc.set_image(image(2), None, "other noise")
    controller.submit_now()
    redone = fake.requests[-1].image
    np.testing.assert_array_equal(redone, to_network_input(image(2), (3, 32, 40), {}))
    assert not np.array_equal(redone, resized)
