"""Lab: convolution against cross-correlation. Deep-learning "convolution" is a
cross-correlation; flipping the kernel by 180° gives the mathematician's
convolution. The stepper's flip switch shows both on the same numbers."""

from __future__ import annotations

from cnnviz.qt.labs import Lab, show_panel
from cnnviz.qt.panels.conv_stepper import CLASSROOM


def start(window) -> None:
    stepper = show_panel(window, "conv_stepper")
    # The flip is the classroom example's: a real layer's kernel is what torch
    # learnt for cross-correlation, so the lab turns to the example first.
    stepper.set_source(CLASSROOM)
    stepper.classroom_controls.flip.setChecked(True)


LAB = Lab(
    "&Convolution against cross-correlation",
    order=30,
    start=start,
    tip="The stepper with the kernel flipped: true convolution against what torch computes",
)
