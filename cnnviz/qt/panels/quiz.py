"""Interview mode: questions about the network on screen, typed answers, worked reveals.

Keyboard only: type the answer and press Enter to check it, Enter again for
the next question; Ctrl+Enter reveals the worked answer without guessing.
Revealing selects the question's layer in the stack (``layer_selected``);
for a convolution value, "Step through this cell" asks the window to open
the stepper at that exact output cell (``cell_requested``). The questions
come from ``cnnviz.core.quiz`` with the level and seed chosen here, on the
latest forward result (a new image updates the value answers). A finished
quiz is added to the history (``history_changed``; the window keeps it in
its settings between runs).
"""

from __future__ import annotations

import time

from PySide6 import QtCore, QtGui, QtWidgets

from cnnviz.core.quiz import check, make_quiz
from cnnviz.qt.panels.base import WAITING_HINT, Panel, PanelInput

LEVELS = ((1, "1 · easy"), (2, "2 · medium"), (3, "3 · hard"))
MAX_HISTORY = 20
RIGHT_STYLE = "color: #2e9d44; font-weight: bold;"
WRONG_STYLE = "color: #e0262c; font-weight: bold;"


def network_key(data: PanelInput) -> tuple:
    """What makes two forward results the same network for the quiz."""
    layers = tuple((i.address, i.layer, i.output_shape) for i in data.analysis.layers)
    return (data.analysis.input_shape, layers)


def _shown(answer) -> str:
    if isinstance(answer, list):
        return "×".join(str(v) for v in answer)
    if isinstance(answer, float):
        return f"{answer:.4f}"
    return f"{answer:,}" if isinstance(answer, int) else str(answer)


class QuizPanel(Panel):
    layer_selected = QtCore.Signal(int)
    cell_requested = QtCore.Signal(int, int, int, int)  # layer index, channel, row, col
    history_changed = QtCore.Signal(list)

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.data: PanelInput | None = None
        self.network_name = "network"  # the window names it (quiz_wiring)
        self.questions: list = []
        self.history: list[dict] = []
        self._key = None
        self.position = 0
        self.right = self.asked = 0
        self.checked = False  # the current question is answered or revealed
        self._build()
        self._connect()
        self.set_history([])
        self._show_question()

    def _build(self) -> None:
        self.level_box = QtWidgets.QComboBox()
        for level, title in LEVELS:
            self.level_box.addItem(title, level)
        self.level_box.setCurrentIndex(1)
        self.seed_box = QtWidgets.QSpinBox()
        self.seed_box.setRange(0, 999_999)
        self.count_box = QtWidgets.QSpinBox()
        self.count_box.setRange(1, 100)
        self.count_box.setValue(10)
        self.new_button = QtWidgets.QPushButton("New quiz")
        top = QtWidgets.QHBoxLayout()
        for label, widget in (("Level", self.level_box), ("Seed", self.seed_box)):
            top.addWidget(QtWidgets.QLabel(label))
            top.addWidget(widget)
        top.addWidget(QtWidgets.QLabel("Questions"))
        top.addWidget(self.count_box)
        top.addWidget(self.new_button)
        top.addStretch(1)
        self.score_label = QtWidgets.QLabel()
        top.addWidget(self.score_label)
        self.question_label = QtWidgets.QLabel(WAITING_HINT)
        self.question_label.setWordWrap(True)
        font = self.question_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.question_label.setFont(font)
        self.question_label.setTextInteractionFlags(
            QtCore.Qt.TextInteractionFlag.TextSelectableByMouse
        )
        self.answer_edit = QtWidgets.QLineEdit()
        self.answer_edit.setPlaceholderText(
            "type the answer — Enter checks, Enter again moves on, Ctrl+Enter reveals"
        )
        self.check_button = QtWidgets.QPushButton("Check")
        self.reveal_button = QtWidgets.QPushButton("Reveal")
        self.reveal_button.setToolTip("Show the worked answer and select the layer (Ctrl+Enter)")
        self.step_button = QtWidgets.QPushButton("Step through this cell")
        self.step_button.setToolTip("Open the convolution stepper at this output cell")
        answer_row = QtWidgets.QHBoxLayout()
        answer_row.addWidget(self.answer_edit, 1)
        for button in (self.check_button, self.reveal_button, self.step_button):
            answer_row.addWidget(button)
        self.verdict_label = QtWidgets.QLabel()
        self.verdict_label.setWordWrap(True)
        self.reveal_text = QtWidgets.QPlainTextEdit(readOnly=True)
        self.reveal_text.setFont(QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.FixedFont))
        self.reveal_text.setLineWrapMode(QtWidgets.QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.reveal_text.setPlaceholderText(
            "The worked answer, with this layer's numbers, appears here once you check "
            "(Enter) or reveal (Ctrl+Enter)."
        )
        self.history_label = QtWidgets.QLabel()
        self.history_label.setWordWrap(True)
        self.history_label.setStyleSheet("color: palette(placeholder-text);")
        column = QtWidgets.QVBoxLayout(self.content)
        column.addLayout(top)
        column.addWidget(self.question_label)
        column.addLayout(answer_row)
        column.addWidget(self.verdict_label)
        column.addWidget(self.reveal_text, 1)
        column.addWidget(self.history_label)
        self.setFocusProxy(self.answer_edit)

    def _connect(self) -> None:
        self.answer_edit.returnPressed.connect(self.enter)
        self.check_button.clicked.connect(self.enter)
        self.reveal_button.clicked.connect(self.reveal)
        self.step_button.clicked.connect(self.step_through)
        # A played session moves the seed on, so the button gives new questions.
        self.new_button.clicked.connect(lambda: self.new_quiz(same_seed=not self.asked))
        for box in (self.seed_box, self.count_box):
            box.valueChanged.connect(lambda _value: self.new_quiz())
        self.level_box.currentIndexChanged.connect(lambda _index: self.new_quiz())
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            shortcut = QtGui.QShortcut(QtGui.QKeySequence(keys), self)
            shortcut.setContext(QtCore.Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(self.reveal)

    # -- results in ------------------------------------------------------------------
    def draw(self, data: PanelInput) -> str | None:
        previous, self.data = self.data, data
        key = network_key(data)
        if key != self._key:
            self._key = key
            self.new_quiz(same_seed=True)
        elif previous is None or previous.result is not data.result:
            # Same network, new numbers (another image): same questions, new values.
            self.questions = self._make()
            self._show_question(keep_verdict=True)
        return None

    def _make(self) -> list:
        return make_quiz(
            self.data.analysis,
            self.count_box.value(),
            self.seed_box.value(),
            self.level_box.currentData(),
            self.data.result,
        )

    def new_quiz(self, same_seed: bool = True) -> None:
        """A new session with the level and seed shown, or the next seed."""
        if self.data is None:
            return
        if not same_seed:
            self.seed_box.blockSignals(True)
            self.seed_box.setValue(self.seed_box.value() + 1)
            self.seed_box.blockSignals(False)
        self.questions = self._make()
        self.position = self.right = self.asked = 0
        self.checked = False
        self._show_question()

    @property
    def question(self):
        if 0 <= self.position < len(self.questions):
            return self.questions[self.position]
        return None

    # -- the flow --------------------------------------------------------------------
    def enter(self) -> None:
        """Enter: check the typed answer; once checked, the next question."""
        if self.question is None:
            self.new_quiz(same_seed=False)
            return
        if self.checked:
            self.next_question()
            return
        verdict = check(self.question, self.answer_edit.text())
        if not verdict.correct and verdict.message.startswith(("not read", "no answer")):
            self._verdict(verdict.message + " — try again, or Ctrl+Enter to reveal", WRONG_STYLE)
            return
        self._answered(verdict.correct)
        word = "Right!" if verdict.correct else f"Wrong ({verdict.message})."
        self._verdict(f"{word} The answer is {_shown(self.question.answer)}.", None)
        self._reveal_text()

    def reveal(self) -> None:
        """Show the worked answer (counted as not answered if nothing was checked)
        and select the layer in the stack."""
        if self.question is None:
            return
        if not self.checked:
            self._answered(False)
            self._verdict(f"The answer is {_shown(self.question.answer)}.", "")
        self._reveal_text()
        if self.question.index >= 0:
            self.layer_selected.emit(self.question.index)

    def step_through(self) -> None:
        question = self.question
        if question is not None and question.kind == "conv_value":
            self.cell_requested.emit(question.index, *question.cell)

    def next_question(self) -> None:
        self.position += 1
        self.checked = False
        if self.question is None:
            self._finish()
        self._show_question()

    def _answered(self, correct: bool) -> None:
        self.checked = True
        self.asked += 1
        self.right += correct
        self.score_label.setText(f"score {self.right}/{self.asked}")

    def _finish(self) -> None:
        entry = {
            "network": self.network_name,
            "level": self.level_box.currentData(),
            "seed": self.seed_box.value(),
            "right": self.right,
            "asked": self.asked,
            "when": time.strftime("%Y-%m-%d %H:%M"),
        }
        self.set_history([entry, *self.history])
        self.history_changed.emit(list(self.history))

    def set_history(self, history: list[dict]) -> None:
        self.history = [h for h in history if isinstance(h, dict)][:MAX_HISTORY]
        lines = [
            f"{h.get('when', '')}  {h.get('network', '?')}, level {h.get('level', '?')}, "
            f"seed {h.get('seed', '?')}: {h.get('right', 0)}/{h.get('asked', 0)}"
            for h in self.history[:5]
        ]
        self.history_label.setText("History: " + ("; ".join(lines) if lines else "none yet"))

    # -- showing ---------------------------------------------------------------------
    def _verdict(self, text: str, style: str | None) -> None:
        if style is None:
            style = RIGHT_STYLE if text.startswith("Right") else WRONG_STYLE
        self.verdict_label.setStyleSheet(style)
        self.verdict_label.setText(text)

    def _reveal_text(self) -> None:
        self.reveal_text.setPlainText(self.question.reveal)
        self.reveal_text.setVisible(True)
        self.step_button.setVisible(self.question.kind == "conv_value")

    def _show_question(self, keep_verdict: bool = False) -> None:
        question = self.question
        total = len(self.questions)
        self.score_label.setText(f"score {self.right}/{self.asked}")
        if keep_verdict and question is not None and self.checked:
            self._reveal_text()
            return
        self.answer_edit.clear()
        self.verdict_label.clear()
        self.reveal_text.clear()
        self.step_button.setVisible(False)
        if self.data is None:
            self.question_label.setText(WAITING_HINT)
        elif question is None and total:
            self.question_label.setText(
                f"Done: {self.right} of {self.asked} right. Enter starts a new quiz."
            )
        elif question is None:
            self.question_label.setText("This network offers no questions at this level.")
        else:
            self.question_label.setText(
                f"Question {self.position + 1} of {total} ({question.kind.replace('_', ' ')}): "
                f"{question.text}"
            )
        for widget in (self.check_button, self.reveal_button):
            widget.setEnabled(question is not None)
        # Done: Enter in the field starts the next quiz.
        self.answer_edit.setEnabled(question is not None or total > 0)


def main(argv=None) -> int:
    from cnnviz.qt.panels._samples import run_standalone

    return run_standalone(QuizPanel, default_layer=0, argv=argv, size=(820, 560))


if __name__ == "__main__":
    raise SystemExit(main())
