"""The flow layout: one line when there is room, wrapped lines inside a narrow width."""

from __future__ import annotations

from PySide6 import QtWidgets

from cnnviz.qt.panels._flow_layout import FlowLayout


def test_items_wrap_to_the_width_and_hidden_ones_take_no_room(qtbot):
    holder = QtWidgets.QWidget()
    qtbot.addWidget(holder)
    flow = FlowLayout(holder, spacing=(10, 4))
    buttons = [QtWidgets.QPushButton(f"button number {i}") for i in range(6)]
    for button in buttons:
        flow.addWidget(button)
    one_line = flow.sizeHint()
    widest = max(b.sizeHint().width() for b in buttons)
    assert flow.minimumSize().width() == widest
    assert flow.heightForWidth(one_line.width()) == one_line.height()
    holder.resize(widest * 2 + 10, flow.heightForWidth(widest * 2 + 10))
    holder.show()
    qtbot.waitExposed(holder)
    lines = {b.geometry().top() for b in buttons}
    assert len(lines) == 3  # two buttons a line
    for button in buttons:
        assert holder.rect().contains(button.geometry())
    buttons[0].hide()
    assert flow.heightForWidth(widest * 2 + 10) < flow.heightForWidth(widest + 5)
    assert flow.sizeHint().width() < one_line.width()
