"""The Labs menu: one entry per module in cnnviz/qt/labs, each setting its
experiment up on the window."""

from __future__ import annotations

import pkgutil

import numpy as np

from cnnviz.qt import labs
from cnnviz.qt.panels.conv_stepper import CLASSROOM, REAL
from tests.qt.test_main_window import make_window


def labs_menu(window):
    return next(a.menu() for a in window.menuBar().actions() if a.text() == "&Labs")


def test_every_lab_module_has_an_entry_in_menu_order(qtbot):
    window = make_window(qtbot)
    modules = [m.name for m in pkgutil.iter_modules(labs.__path__) if not m.name.startswith("_")]
    entries = [a for a in labs_menu(window).actions() if not a.isSeparator()]
    assert sorted(a.objectName() for a in entries) == sorted(f"lab_{m}" for m in modules)
    assert [a.text() for a in entries] == [lab.title for lab in labs.discover()]
    window.shutdown()


def test_the_convolution_lab_opens_the_stepper_with_the_kernel_flipped(qtbot):
    window = make_window(qtbot)
    stepper = window.panels.docks["conv_stepper"]
    entry = next(a for a in labs_menu(window).actions() if a.objectName() == "lab_convolution_flip")
    rng = np.random.default_rng(0)  # a real conv layer on screen: the stepper steps through it
    panel = stepper.widget
    panel.set_real_layer(rng.normal(size=(2, 1, 3, 3)), None, rng.normal(size=(1, 6, 6)))
    assert panel.source == REAL
    entry.trigger()
    assert stepper.built and stepper.widget.classroom_controls.flip.isChecked()
    assert not stepper.dock.isHidden()
    assert stepper.widget.source == CLASSROOM
    assert stepper.widget.walk.description().startswith("true convolution")
    window.shutdown()
