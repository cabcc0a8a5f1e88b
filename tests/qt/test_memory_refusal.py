"""The window and memory: the estimate in the status bar, a refusal in one line with
"Run anyway", the stack still editable and the panels keeping the last result; an
allocation failure in the compute thread is one line, not "unexpected error"."""

from __future__ import annotations

from cnnviz.compute.runner import ForwardRunner
from cnnviz.core.jobs import ComputeFailure
from cnnviz.core.memory import BUDGET_ENV, estimate, format_bytes
from cnnviz.core.project import Project
from cnnviz.qt.bridge.compute_thread import ComputeThread
from cnnviz.qt.editor import commands
from cnnviz.qt.window.main_window import MainWindow
from cnnviz.qt.window.status import StatusBar
from tests.qt.fake_compute import FakeCompute
from tests.qt.test_compute_thread import WAIT_MS, request
from tests.qt.test_main_window import Discard, make_window, small_arch

REFUSAL = (
    "not enough free memory: layer 7 Linear needs 411 MB of weights, the whole run "
    "about 660 MB; about 500 MB is free (cnnviz may use 375 MB)"
)


def test_the_status_bar_offers_run_anyway_for_a_refusal_only(qtbot):
    bar = StatusBar()
    qtbot.addWidget(bar)
    bar.show()
    button = bar.run_anyway_button
    assert not button.isVisible()
    bar.show_problem("layer 2 MaxPool2d: kernel 9x9 is larger than its 4x4 input")
    assert not button.isVisible()
    bar.show_problem(REFUSAL)
    assert button.isVisible() and bar.problem.text() == f"⚠ {REFUSAL}"
    with qtbot.waitSignal(bar.run_anyway):
        button.click()
    assert not button.isVisible()
    bar.show_problem(REFUSAL)
    bar.clear_problem()
    assert not button.isVisible()


def test_the_window_shows_the_memory_a_forward_needs(qtbot):
    compute = FakeCompute()
    win = make_window(qtbot, compute)
    win.doc.reset(Project(small_arch()), None)
    before = estimate(win.doc.analysis).total
    assert win.statusbar.memory.text() == f"memory ≈ {format_bytes(before)}"
    assert "Most: layer 0 Conv2d" in win.statusbar.memory.toolTip()
    win.doc.undo_stack.push(commands.SetParamCommand(win.doc, 0, "out_channels", 64))
    after = estimate(win.doc.analysis).total
    assert after > before and win.statusbar.memory.text() == f"memory ≈ {format_bytes(after)}"
    win.shutdown()


def test_a_refusal_keeps_the_stack_and_the_last_result_and_run_anyway_asks_again(qtbot):
    compute = FakeCompute()
    win = make_window(qtbot, compute)
    win.doc.reset(Project(small_arch()), None)
    win.show()
    win.controller.submit_now()
    shown = compute.answer(compute.requests[-1])
    qtbot.waitUntil(lambda: win.panels.latest is not None)
    win.doc.undo_stack.push(commands.SetParamCommand(win.doc, 0, "out_channels", 5))
    request_id = win.controller.submit_now()
    assert compute.requests[-1].ignore_memory_limit is False
    compute.failed.emit(ComputeFailure(request_id, REFUSAL))
    assert win.statusbar.problem_text == REFUSAL
    assert win.statusbar.run_anyway_button.isVisible()
    assert win.panels.latest.result is shown  # the panels keep the last result
    assert win.doc.architecture.layers[0].get("out_channels") == 5  # the edit stays
    win.doc.undo_stack.push(commands.SetParamCommand(win.doc, 0, "out_channels", 6))
    assert win.doc.architecture.layers[0].get("out_channels") == 6  # still editable
    win.statusbar.run_anyway_button.click()
    qtbot.waitUntil(lambda: compute.requests[-1].ignore_memory_limit)
    win.shutdown()


def test_with_the_real_engine_a_refused_edit_keeps_the_shown_result(qtbot, monkeypatch):
    monkeypatch.setenv(BUDGET_ENV, "1GB")
    win = MainWindow(saved_layout=False)
    qtbot.addWidget(win)
    win.files.ask_to_save = lambda: Discard
    try:
        win.doc.reset(Project(small_arch()), None)
        win.show()

        def shown_channels() -> int | None:
            latest = win.controller.latest
            return None if latest is None else latest.result.layers[0].output.shape[0]

        qtbot.waitUntil(lambda: shown_channels() == 2, timeout=60_000)
        monkeypatch.setenv(BUDGET_ENV, "1kB")
        win.doc.undo_stack.push(commands.SetParamCommand(win.doc, 0, "out_channels", 5))
        qtbot.waitUntil(
            lambda: "not enough free memory" in win.statusbar.problem_text, timeout=30_000
        )
        assert win.statusbar.problem_text.startswith("not enough free memory: layer 0 Conv2d")
        assert shown_channels() == 2 and win.panels.latest is win.controller.latest
        win.statusbar.run_anyway_button.click()
        qtbot.waitUntil(lambda: shown_channels() == 5, timeout=30_000)
        assert win.statusbar.problem_text == ""
    finally:
        win.shutdown()


class OutOfMemoryRunner(ForwardRunner):
    def run(self, request, should_cancel=None):
        raise MemoryError("Unable to allocate 8.91 GiB for an array with shape (2393276416,)")


def test_an_allocation_failure_in_the_compute_thread_is_one_plain_line(qtbot):
    thread = ComputeThread(runner_factory=OutOfMemoryRunner)
    try:
        with qtbot.waitSignal(thread.failed, timeout=WAIT_MS) as blocker:
            thread.submit(request(1))
        message = blocker.args[0].message
        assert message.startswith("out of memory: the run could not get 9.6 GB")
        assert "unexpected" not in message and "\n" not in message
    finally:
        thread.shutdown()
