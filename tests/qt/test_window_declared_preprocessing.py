"""The window applies the preprocessing a network declares, and the input panel shows it."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtWidgets import QMessageBox

from cnnviz.core.images import Preprocessing, to_network_input
from cnnviz.core.presets import load_preset
from cnnviz.core.project import Project
from cnnviz.qt.window.main_window import MainWindow
from tests.qt.fake_compute import FakeCompute

IMAGENET = Preprocessing(resize="crop", crop_fraction=0.875, normalize="imagenet")
EXPECTS = "The network expects: resize 256 · centre crop 224 · ImageNet mean/std"


@pytest.fixture
def window(qtbot):
    fake = FakeCompute()
    win = MainWindow(fake, start_compute=False)
    qtbot.addWidget(win)
    win.files.ask_to_save = lambda: QMessageBox.StandardButton.Discard
    yield win, fake
    win.shutdown()


def test_an_imagenet_preset_opens_with_its_preprocessing_shown(window):
    win, _ = window
    panel = win.panels.widget("input_image")
    assert win.open_preset("alexnet")
    assert win.doc.preprocessing == IMAGENET.to_json()
    assert panel.preprocessing() == IMAGENET
    assert panel.resize_combo.currentText() == "Resize, crop 87.5 % (ImageNet)"
    assert panel.declared_label.text() == EXPECTS and not panel.declared_label.isHidden()
    assert not panel.declared_button.isEnabled()  # already applied


def test_a_choice_of_ones_own_can_go_back_to_the_networks(window):
    win, _ = window
    panel = win.panels.widget("input_image")
    win.open_preset("vgg11")
    panel.resize_combo.setCurrentIndex(0)  # Stretch
    assert win.doc.preprocessing["resize"] == "stretch"
    assert panel.declared_button.isEnabled()
    panel.declared_button.click()
    assert win.doc.preprocessing == IMAGENET.to_json()
    assert panel.preprocessing() == IMAGENET and not panel.declared_button.isEnabled()


def test_the_presets_menu_brings_each_networks_own(window):
    win, _ = window
    panel = win.panels.widget("input_image")
    win.doc.reset(Project(load_preset("lenet5")), None)
    assert win.doc.preprocessing == {} and panel.declared_label.isHidden()
    assert win.load_preset("vgg16")
    assert win.doc.preprocessing == IMAGENET.to_json()
    assert panel.preprocessing() == IMAGENET and panel.declared_label.text() == EXPECTS
    assert win.load_preset("tinyvgg")  # declares nothing: the defaults
    assert win.doc.preprocessing == {}
    assert panel.preprocessing() == Preprocessing() and panel.declared_label.isHidden()


def test_the_network_gets_the_picture_prepared_as_declared(window):
    win, fake = window
    win.open_preset("alexnet")
    image = np.random.default_rng(0).random((300, 400, 3), dtype=np.float32)
    win.doc.set_image(image, None, "noise")
    win.controller.submit_now()
    expected = to_network_input(image, 3, 224, 224, IMAGENET)
    np.testing.assert_allclose(fake.requests[-1].image, expected, atol=1e-6)
