"""Lab: parameter sharing. A conv layer beside the dense layer with the same input
and output, their counts and ratio, and the conv written as that dense layer's
matrix, where the shared weights repeat along diagonals (panels/sharing_lab.py)."""

from __future__ import annotations

from cnnviz.qt.labs import Lab, lab_dock


def _make(window):
    from cnnviz.qt.panels.sharing_lab import SharingLabPanel

    panel = SharingLabPanel()
    panel.watch(window.doc)
    latest = window.panels.latest
    if latest is not None:
        panel.result_shown(latest)
    # Follows the stack, its selection and every result while the window lives.
    window.stack_view.current_row_changed.connect(panel.follow)
    window.result_shown.connect(panel.result_shown)
    return panel


def start(window) -> None:
    panel = lab_dock(window, "parameter_sharing", "Parameter sharing", lambda: _make(window))
    panel.follow(window.selected_layer)


LAB = Lab(
    "&Parameter sharing",
    order=60,
    start=start,
    tip="A conv layer beside the dense layer with the same output: counts, ratio, shared matrix",
)
