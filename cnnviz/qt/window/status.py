"""The status bar: messages and errors in plain words, memory, compute time, device.

The memory a forward of the stack needs (cnnviz.core.memory, from the analysis)
is shown beside the compute time. When the compute side refuses a network
that does not fit in memory, a "Run anyway" button follows the message.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QLabel, QStatusBar, QToolButton, QWidget

from cnnviz.core.analysis import Analysis
from cnnviz.core.memory import estimate, format_bytes, is_refusal
from cnnviz.qt.editor.glyphs import ERROR_COLOR

RUN_ANYWAY_TIP = (
    "Compute this network although it needs more memory than cnnviz allows itself: "
    "the computer may slow down or the run fail"
)

TRAINING_BADGE = "TRAINING MODE: dropout drops, batch norm uses this batch"
TRAINING_BADGE_TIP = (
    "Compute > Training Behaviour (Ctrl+T) is on: every forward runs as in training. "
    "Dropout zeroes random values (seeded) and scales the rest by 1/(1−p); batch norm "
    "normalises with this image's own statistics. Running statistics are put back "
    "after each forward, so the network does not drift. Ctrl+T again to evaluate."
)
# Orange with dark text reads on light and dark palettes and is not the error red.
_BADGE_STYLE = (
    "QLabel#status_training { background: #ff9800; color: #1a1a1a; font-weight: 700; "
    "border-radius: 3px; padding: 1px 6px; }"
)


class StatusBar(QStatusBar):
    run_anyway = Signal()  # the user overrides a refusal for lack of memory

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("status")
        self._problem = self._message = ""
        self._message_timer = QTimer(self)
        self._message_timer.setSingleShot(True)
        self._message_timer.timeout.connect(self._clear_message)
        self.problem = QLabel(self)
        self.problem.setObjectName("status_problem")
        self.problem.setStyleSheet(f"QLabel#status_problem {{ color: {ERROR_COLOR}; }}")
        self.problem.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.run_anyway_button = QToolButton(self)
        self.run_anyway_button.setObjectName("status_run_anyway")
        self.run_anyway_button.setText("Run anyway")
        self.run_anyway_button.setToolTip(RUN_ANYWAY_TIP)
        self.run_anyway_button.clicked.connect(self._run_anyway)
        self.run_anyway_button.hide()
        self.busy = QLabel("", self)
        self.busy.setObjectName("status_busy")
        self.memory = QLabel("", self)
        self.memory.setObjectName("status_memory")
        self.timing = QLabel("", self)
        self.timing.setObjectName("status_timing")
        self.timing.setToolTip("Time of the last forward pass (all layers, with hooks)")
        self.device = QLabel("Device: starting…", self)
        self.device.setObjectName("status_device")
        self.device.setToolTip("Where torch computes (Compute > Device to change)")
        self.training = QLabel(TRAINING_BADGE, self)
        self.training.setObjectName("status_training")
        self.training.setStyleSheet(_BADGE_STYLE)
        self.training.setToolTip(TRAINING_BADGE_TIP)
        self.training.hide()
        self.addWidget(self.problem, 1)
        self.addPermanentWidget(self.training)
        self.addWidget(self.run_anyway_button)
        for label in (self.busy, self.memory, self.timing, self.device):
            label.setContentsMargins(8, 0, 8, 0)
            self.addPermanentWidget(label)

    def show_problem(self, text: str) -> None:
        """A problem stays until the next success (a message would time out)."""
        self._problem = text
        self._show_text()

    def show_message(self, text: str, timeout_ms: int = 5000) -> None:
        """A passing note ("Saved net.cnnviz"); a standing problem is shown instead."""
        self._message = text
        self._message_timer.start(timeout_ms)
        self._show_text()

    def _clear_message(self) -> None:
        self._message = ""
        self._show_text()

    def _show_text(self) -> None:
        if self._problem:
            self.problem.setText(f"⚠ {self._problem}")
            self.problem.setStyleSheet(f"QLabel#status_problem {{ color: {ERROR_COLOR}; }}")
        else:
            self.problem.setText(self._message)
            self.problem.setStyleSheet("")
        self.problem.setToolTip(self._problem)
        self.run_anyway_button.setVisible(is_refusal(self._problem))

    def _run_anyway(self) -> None:
        self.run_anyway_button.hide()
        self.run_anyway.emit()

    def clear_problem(self) -> None:
        self.show_problem("")

    @property
    def problem_text(self) -> str:
        return self._problem

    def set_busy(self, busy: bool) -> None:
        self.busy.setText("computing…" if busy else "")

    def set_timing(self, milliseconds: float) -> None:
        shown = f"{milliseconds:.0f} ms" if milliseconds >= 10 else f"{milliseconds:.1f} ms"
        self.timing.setText(f"forward {shown}")

    def set_train_mode(self, on: bool) -> None:
        """The badge stays while training behaviour is on: numbers differ from eval."""
        self.training.setVisible(on)

    def set_device(self, name: str) -> None:
        self.device.setText(f"Device: {name}")

    def show_memory(self, analysis: Analysis) -> None:
        """What a forward of the stack needs in memory (its computable layers)."""
        memory = estimate(analysis)
        self.memory.setText(f"memory ≈ {format_bytes(memory.total)}")
        parts = "\n".join(
            f"  {name.replace('_', ' ')}: {format_bytes(size)}"
            for name, size in memory.breakdown().items()
        )
        self.memory.setToolTip(
            f"Memory a forward of this network needs, about {format_bytes(memory.total)}:\n"
            f"{parts}\nMost: {memory.dominant_phrase()}"
        )
