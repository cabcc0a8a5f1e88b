"""The quiz panel: it asks the core's questions, checks typed answers, reveals
the worked answer, selects the layer, runs on the keyboard alone, and its
history survives a restart of the window (isolated settings, tests/qt/conftest.py)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from cnnviz.compute.runner import ForwardRunner
from cnnviz.core.analysis import analyze
from cnnviz.core.jobs import ForwardRequest
from cnnviz.core.presets import load_preset
from cnnviz.core.quiz import make_quiz
from cnnviz.qt.panels.base import PanelInput
from cnnviz.qt.panels.quiz import QuizPanel
from cnnviz.qt.window import quiz_wiring
from tests.qt.numpy_window import click_tab, compute, numpy_window

LENET = load_preset("lenet5")


@pytest.fixture(scope="module")
def lenet_input():
    image = np.random.default_rng(0).random(LENET.input.as_tuple()).astype(np.float32)
    request = ForwardRequest(request_id=1, architecture=LENET, image=image, seed=0)
    return PanelInput(ForwardRunner().run(request), analyze(LENET), 0)


@pytest.fixture
def panel(qtbot, lenet_input):
    widget = QuizPanel()
    qtbot.addWidget(widget)
    widget.count_box.setValue(4)
    widget.show(lenet_input)
    widget.resize(800, 500)
    widget.show()
    qtbot.waitExposed(widget)
    widget.activateWindow()
    widget.answer_edit.setFocus()
    return widget


def expected(data: PanelInput, panel: QuizPanel):
    return make_quiz(
        data.analysis,
        panel.count_box.value(),
        panel.seed_box.value(),
        panel.level_box.currentData(),
        data.result,
    )


def typed(answer) -> str:
    if isinstance(answer, list):
        return "×".join(map(str, answer))
    if isinstance(answer, str):
        return f"layer {answer}"
    return f"{answer:,}" if isinstance(answer, int) else f"{answer:.4f}"


def wrong(answer) -> str:
    if isinstance(answer, list):
        return "×".join(str(v + 1) for v in answer)
    if isinstance(answer, str):  # a layer's address
        return "0" if answer != "0" else "1"
    return str(answer + 10)


def answer(qtbot, panel: QuizPanel, text: str) -> None:
    panel.answer_edit.clear()
    qtbot.keyClicks(panel.answer_edit, text)
    qtbot.keyClick(panel.answer_edit, Qt.Key.Key_Return)


def test_it_asks_the_cores_questions_for_the_network_shown(panel, lenet_input):
    quiz = expected(lenet_input, panel)
    assert panel.questions == quiz
    assert quiz[0].text in panel.question_label.text()
    assert "Question 1 of 4" in panel.question_label.text()


def test_a_right_answer_scores_and_enter_moves_on(qtbot, panel, lenet_input):
    quiz = expected(lenet_input, panel)
    answer(qtbot, panel, typed(quiz[0].answer))
    assert panel.verdict_label.text().startswith("Right!")
    assert panel.score_label.text() == "score 1/1"
    assert panel.reveal_text.toPlainText() == quiz[0].reveal
    qtbot.keyClick(panel.answer_edit, Qt.Key.Key_Return)  # Enter again: the next one
    assert quiz[1].text in panel.question_label.text()
    assert panel.answer_edit.text() == "" and panel.reveal_text.toPlainText() == ""


def test_a_wrong_answer_is_wrong_and_shows_the_worked_answer(qtbot, panel, lenet_input):
    quiz = expected(lenet_input, panel)
    answer(qtbot, panel, "123456789")
    assert panel.verdict_label.text().startswith("Wrong")
    assert panel.score_label.text() == "score 0/1"
    assert panel.reveal_text.toPlainText() == quiz[0].reveal


def test_unreadable_text_is_not_counted(qtbot, panel):
    answer(qtbot, panel, "no idea")
    assert "try again" in panel.verdict_label.text()
    assert panel.score_label.text() == "score 0/0" and not panel.checked


def test_ctrl_enter_reveals_and_selects_the_layer(qtbot, panel, lenet_input):
    quiz = expected(lenet_input, panel)
    with qtbot.waitSignal(panel.layer_selected, timeout=2000) as signal:
        qtbot.keyClick(panel.answer_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert signal.args == [quiz[0].index]
    assert panel.reveal_text.toPlainText() == quiz[0].reveal
    assert panel.score_label.text() == "score 0/1"  # revealed, not answered


def test_a_whole_quiz_on_the_keyboard_ends_in_the_history(qtbot, panel, lenet_input):
    quiz = expected(lenet_input, panel)
    with qtbot.waitSignal(panel.history_changed, timeout=2000) as signal:
        for n, question in enumerate(quiz):
            answer(qtbot, panel, typed(question.answer) if n % 2 == 0 else wrong(question.answer))
            qtbot.keyClick(panel.answer_edit, Qt.Key.Key_Return)
    entry = signal.args[0][0]
    assert (entry["right"], entry["asked"]) == (2, 4)
    assert "Done: " in panel.question_label.text()
    qtbot.keyClick(panel.answer_edit, Qt.Key.Key_Return)  # Enter: a new quiz, the next seed
    assert panel.seed_box.value() == 1 and "Question 1 of 4" in panel.question_label.text()


def test_level_and_seed_change_the_questions_and_repeat(qtbot, panel, lenet_input):
    first = list(panel.questions)
    panel.seed_box.setValue(5)
    fifth = list(panel.questions)
    assert fifth != first
    panel.level_box.setCurrentIndex(2)
    assert panel.questions == expected(lenet_input, panel)
    panel.level_box.setCurrentIndex(1)
    panel.seed_box.setValue(0)
    assert panel.questions == first


def test_history_is_kept_in_the_settings():
    assert quiz_wiring.load_history() == []
    entry = {"network": "LeNet-5", "level": 2, "seed": 1, "right": 3, "asked": 4, "when": "x"}
    quiz_wiring.save_history([entry])
    assert quiz_wiring.load_history() == [entry]


def raise_quiz(qtbot, win) -> QuizPanel:
    """The Quiz tab in front, built and fed by the window (not built by the test)."""
    click_tab(qtbot, win, "Quiz")
    dock = win.panels.docks["quiz"]
    qtbot.waitUntil(lambda: dock.built and dock.fed is not None, timeout=5000)
    return dock.widget


def test_in_the_window_reveal_selects_the_layer_and_history_survives_a_restart(qtbot):
    with numpy_window(qtbot) as win:
        compute(qtbot, win)
        panel = raise_quiz(qtbot, win)
        panel.count_box.setValue(1)
        question = panel.question
        target = question.index
        panel.reveal()
        assert win.selected_layer == target
        panel.enter()  # the next: the end of a one-question quiz
        assert quiz_wiring.load_history()[0]["network"] == "small"
    with numpy_window(qtbot) as again:
        compute(qtbot, again)
        panel = raise_quiz(qtbot, again)
        assert "small, level 2, seed 0: 0/1" in panel.history_label.text()


def test_a_conv_value_opens_the_stepper_at_that_cell(qtbot):
    with numpy_window(qtbot) as win:
        compute(qtbot, win)
        panel = raise_quiz(qtbot, win)
        seed = next(
            s
            for s in range(50)
            if make_quiz(panel.data.analysis, 1, s, 2, panel.data.result)[0].kind == "conv_value"
        )
        panel.count_box.setValue(1)
        panel.seed_box.setValue(seed)
        question = panel.question
        assert question.kind == "conv_value"
        panel.reveal()
        assert panel.step_button.isVisibleTo(panel)
        panel.step_button.click()
        stepper = win.panels.docks["conv_stepper"].widget
        channel, row, col = question.cell
        assert stepper.real.layer_index == question.index
        assert stepper.real.out_channel == channel
        assert stepper.real.region[:2] == (row, col)
