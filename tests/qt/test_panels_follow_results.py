"""The panels draw each result once: an edit does not redraw them with the result
it has made stale (they wait for the new one), and choosing the row that is
already chosen draws nothing."""

from __future__ import annotations

import pytest

from cnnviz.qt.editor import commands
from cnnviz.qt.window import docks
from tests.qt.numpy_window import compute, numpy_window


@pytest.fixture
def window(qtbot):
    with numpy_window(qtbot) as win:
        yield win


@pytest.fixture
def drawn(monkeypatch) -> list:
    """The data of every panel drawing, in order."""
    seen = []
    feed = docks.feed

    def counting_feed(panel, data, **kwargs):
        did = feed(panel, data, **kwargs)
        if did:
            seen.append(data)
        return did

    monkeypatch.setattr(docks, "feed", counting_feed)
    return seen


def test_choosing_the_chosen_row_again_draws_nothing(qtbot, window, drawn):
    window.select_layer(1)
    compute(qtbot, window)
    assert drawn  # the result reached the panels in sight
    drawn.clear()
    window.select_layer(1)
    window.panels.layer_changed(1)  # as a reselected row reports itself
    assert drawn == []


def test_an_edit_does_not_redraw_the_panels_with_the_old_result(qtbot, window, drawn):
    window.select_layer(0)
    compute(qtbot, window)
    old = window.panels.latest.result
    drawn.clear()
    window.doc.undo_stack.push(commands.SetParamCommand(window.doc, 0, "out_channels", 4))
    window.select_layer(2)  # another layer chosen while the result is on its way
    qtbot.wait(20)
    assert [d for d in drawn if d.result is old] == []
    compute(qtbot, window)
    assert drawn and all(d.result is not old and d.layer_index == 2 for d in drawn)


def test_a_layer_chosen_while_a_request_fails_is_drawn_from_what_there_is(qtbot, window, drawn):
    window.select_layer(0)
    compute(qtbot, window)
    drawn.clear()
    window.doc.undo_stack.push(commands.SetParamCommand(window.doc, 0, "out_channels", 4))
    window.select_layer(2)
    window.controller.failed.emit("the input image cannot be used")
    assert drawn and all(d.layer_index == 2 for d in drawn)
