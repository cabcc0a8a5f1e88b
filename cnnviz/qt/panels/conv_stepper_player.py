"""Playing the steps: a 60 Hz clock, the transport buttons, the scrub slider, the speed.

The position is a float in steps. Each output cell is held for a moment, then
the window glides to the next one; ``frame(index, t)`` reports where it is
(t = 0 … 1 of the glide), ``step_changed(index)`` when the cell changes.
"""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

FRAME_MS = 16  # ~60 frames per second
HOLD = 0.55  # share of each step the window rests on its cell before gliding on


class Player(QtCore.QObject):
    step_changed = QtCore.Signal(int)
    frame = QtCore.Signal(int, float)
    playing_changed = QtCore.Signal(bool)

    def __init__(self, parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self._timer = QtCore.QTimer(self)
        self._timer.setInterval(FRAME_MS)
        self._timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._tick)
        self._clock = QtCore.QElapsedTimer()
        self.count = 1
        self.position = 0.0
        self.speed = 1.5  # steps per second

    @property
    def index(self) -> int:
        return int(self.position)

    @property
    def playing(self) -> bool:
        return self._timer.isActive()

    def set_count(self, count: int, index: int = 0) -> None:
        """A new walkthrough of `count` steps, shown at `index`."""
        self.count = max(1, count)
        self.position = -1.0  # so that seek reports the step even if the index is the same
        self.seek(index)

    def play(self) -> None:
        if self.playing:
            return
        if self.index >= self.count - 1:
            self.seek(0)
        self._clock.start()
        self._timer.start()
        self.playing_changed.emit(True)

    def pause(self) -> None:
        if not self.playing:
            return
        self._timer.stop()
        self.position = float(self.index)
        self.frame.emit(self.index, 0.0)
        self.playing_changed.emit(False)

    def toggle(self) -> None:
        self.pause() if self.playing else self.play()

    def seek(self, index: int) -> None:
        index = max(0, min(int(index), self.count - 1))
        changed = index != self.index or self.position < 0
        self.position = float(index)
        if changed:
            self.step_changed.emit(index)
        self.frame.emit(index, 0.0)

    def step(self, delta: int) -> None:
        self.pause()
        self.seek(self.index + delta)

    def _tick(self) -> None:
        seconds = self._clock.restart() / 1000.0
        before = self.index
        self.position = min(self.position + self.speed * seconds, self.count - 1.0)
        if self.index != before:
            self.step_changed.emit(self.index)
        if self.position >= self.count - 1:
            self.pause()
            return
        glide = (self.position - self.index - HOLD) / (1.0 - HOLD)
        self.frame.emit(self.index, max(0.0, glide))


def _tool_button(icon: QtWidgets.QStyle.StandardPixmap, tip: str) -> QtWidgets.QToolButton:
    button = QtWidgets.QToolButton()
    button.setIcon(QtWidgets.QApplication.style().standardIcon(icon))
    button.setToolTip(tip)
    button.setAutoRaise(True)
    # The panel handles Space and the arrows itself; buttons must not take the focus.
    button.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
    return button


class PlayerBar(QtWidgets.QWidget):
    """|◀  ◀  ▶  ▶  ▶|  ───●────  step 5 of 9  speed."""

    def __init__(self, player: Player, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.player = player
        pixmap = QtWidgets.QStyle.StandardPixmap
        self.start = _tool_button(pixmap.SP_MediaSkipBackward, "First step (Home)")
        self.back = _tool_button(pixmap.SP_MediaSeekBackward, "Previous step (←)")
        self.play = _tool_button(pixmap.SP_MediaPlay, "Play / pause (Space)")
        self.forward = _tool_button(pixmap.SP_MediaSeekForward, "Next step (→)")
        self.end = _tool_button(pixmap.SP_MediaSkipForward, "Last step (End)")
        self.slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.slider.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.slider.setToolTip("Scrub through the output cells")
        self.label = QtWidgets.QLabel("step 1 of 1")
        self.label.setMinimumWidth(240)
        self.label.setStyleSheet("font-weight: 600;")
        self.speed = QtWidgets.QDoubleSpinBox()
        self.speed.setRange(0.25, 30.0)
        self.speed.setSingleStep(0.25)
        self.speed.setValue(player.speed)
        self.speed.setSuffix(" steps/s")
        self.speed.setToolTip("Playing speed: output cells per second")
        row = QtWidgets.QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        for widget in (self.start, self.back, self.play, self.forward, self.end):
            row.addWidget(widget)
        row.addWidget(self.slider, 1)
        row.addWidget(self.label)
        row.addWidget(QtWidgets.QLabel("speed"))
        row.addWidget(self.speed)
        self._connect()

    def _connect(self) -> None:
        player = self.player
        self.start.clicked.connect(lambda: (player.pause(), player.seek(0)))
        self.back.clicked.connect(lambda: player.step(-1))
        self.play.clicked.connect(player.toggle)
        self.forward.clicked.connect(lambda: player.step(1))
        self.end.clicked.connect(lambda: (player.pause(), player.seek(player.count - 1)))
        self.slider.valueChanged.connect(self._scrubbed)
        self.speed.valueChanged.connect(lambda value: setattr(player, "speed", value))
        player.step_changed.connect(self.show_step)
        player.playing_changed.connect(self._show_playing)

    def _scrubbed(self, value: int) -> None:
        if value != self.player.index:
            self.player.pause()
            self.player.seek(value)

    def show_step(self, index: int) -> None:
        self.slider.blockSignals(True)
        self.slider.setRange(0, self.player.count - 1)
        self.slider.setValue(index)
        self.slider.blockSignals(False)

    def _show_playing(self, playing: bool) -> None:
        pixmap = QtWidgets.QStyle.StandardPixmap
        icon = pixmap.SP_MediaPause if playing else pixmap.SP_MediaPlay
        self.play.setIcon(QtWidgets.QApplication.style().standardIcon(icon))
