"""The settings of a training run as a form: the Training panel's left column."""

from __future__ import annotations

import math

from PySide6 import QtCore, QtGui, QtWidgets

from cnnviz.core.jobs import RECOMMENDED_TRAINING, TrainConfig

# Keys as cnnviz.compute.datasets names them (this side never imports torch).
DATASETS = (
    ("digits", "Digits", "Digits (bundled)", "1797 handwritten digits, grey; ships with cnnviz"),
    ("mnist", "MNIST", "MNIST (11 MB)", "70000 handwritten digits, grey 28×28; downloaded once"),
    (
        "fashion-mnist",
        "Fashion-MNIST",
        "Fashion-MNIST (30 MB)",
        "70000 clothing photos in 10 kinds, grey 28×28; downloaded once",
    ),
    (
        "cifar10",
        "CIFAR-10",
        "CIFAR-10 (163 MB)",
        "60000 colour 32×32 photos in 10 classes; downloaded once",
    ),
)
OPTIMIZERS = (("adam", "Adam"), ("sgd", "SGD, momentum 0.9"), ("rmsprop", "RMSprop"))
INITS = (("default", "PyTorch default"), ("xavier", "Xavier (Glorot)"), ("he", "He (Kaiming)"))
SCHEDULES = (("cosine", "Cosine decay to 0"), ("constant", "Constant"))
# The panel's starting point, the same as `cnnviz train`'s.
DEFAULT_CONFIG = RECOMMENDED_TRAINING


def nice_step(value: float, up: bool) -> float:
    """The next value of the 1-2-5 series (…, 0.001, 0.002, 0.005, 0.01, …)."""
    if value <= 0:
        return 1e-6 if up else 0.0
    exponent = math.floor(math.log10(value) + 1e-9)
    series = [m * 10.0**e for e in (exponent - 1, exponent, exponent + 1) for m in (1, 2, 5)]
    if up:
        return next(v for v in series if v > value * (1 + 1e-9))
    below = [v for v in series if v < value * (1 - 1e-9)]
    return below[-1]


class RateSpinBox(QtWidgets.QDoubleSpinBox):
    """A spin box for rates spanning decades: typed as 0.001 or 1e-3, stepped 1-2-5."""

    def __init__(self, minimum: float, maximum: float, allow_zero: bool = False) -> None:
        super().__init__()
        self.setDecimals(10)
        self.setRange(0.0 if allow_zero else minimum, maximum)
        self._minimum = minimum
        self._allow_zero = allow_zero

    def textFromValue(self, value: float) -> str:
        return f"{value:g}"

    def valueFromText(self, text: str) -> float:
        try:
            return float(text)
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int):
        try:
            value = float(text)
        except ValueError:
            ok = text.strip() in ("", "-", ".") or text.lower().endswith(("e", "e-"))
            state = QtGui.QValidator.State.Intermediate if ok else QtGui.QValidator.State.Invalid
            return state, text, pos
        inside = self.minimum() <= value <= self.maximum()
        state = QtGui.QValidator.State.Acceptable if inside else QtGui.QValidator.State.Intermediate
        return state, text, pos

    def stepBy(self, steps: int) -> None:
        value = self.value()
        for _ in range(abs(steps)):
            value = nice_step(value, steps > 0)
            if value < self._minimum:
                value = 0.0 if self._allow_zero else self._minimum
        self.setValue(min(max(value, self.minimum()), self.maximum()))


def _combo(choices, tooltip: str, label: int = 1) -> QtWidgets.QComboBox:
    """A combo box showing each choice's text `label` and holding its key (the first);
    a fourth entry, when there is one, is that item's tooltip."""
    combo = QtWidgets.QComboBox()
    for index, choice in enumerate(choices):
        combo.addItem(choice[label], choice[0])
        if len(choice) > 3:
            combo.setItemData(index, choice[3], QtCore.Qt.ItemDataRole.ToolTipRole)
    combo.setToolTip(tooltip)
    return combo


def _count_box(off: str, suffix: str, tooltip: str) -> QtWidgets.QSpinBox:
    """A count whose 0 means `off` (shown as that word): subset and patience."""
    box = QtWidgets.QSpinBox()
    box.setRange(0, 1_000_000)
    box.setSpecialValueText(off)
    box.setSuffix(suffix)
    box.setToolTip(tooltip)
    return box


def _select(combo: QtWidgets.QComboBox, key: str) -> None:
    index = combo.findData(key)
    if index >= 0:
        combo.setCurrentIndex(index)


class TrainingForm(QtWidgets.QWidget):
    """Dataset, epochs, batch size, learning rate, optimizer, init, decay, split, seed,
    and the overfitting lab's subset, L1 and early stopping."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.dataset = _combo(
            DATASETS,
            "What to learn. Digits ship with cnnviz; the others are downloaded once "
            "into your cache folder (checksums verified).",
            label=2,
        )
        self.epochs = QtWidgets.QSpinBox()
        self.epochs.setRange(1, 10000)
        self.epochs.setToolTip("Passes over the training images")
        self.batch_size = QtWidgets.QSpinBox()
        self.batch_size.setRange(1, 4096)
        self.batch_size.setToolTip("Images per gradient step")
        self.learning_rate = RateSpinBox(1e-6, 10.0)
        self.learning_rate.setToolTip("Step size of the optimizer (arrows step 1-2-5)")
        self.optimizer = _combo(OPTIMIZERS, "How gradients become weight changes")
        self.init = _combo(INITS, "How the weights start: He suits ReLU, Xavier tanh/sigmoid")
        # With a weights file training starts from it and no initialisation is drawn,
        # so the row then names the file instead of an unused scheme.
        self.start_file = QtWidgets.QLabel()
        self.start_file.setWordWrap(True)
        self.start = QtWidgets.QStackedWidget()
        self.start.addWidget(self.init)
        self.start.addWidget(self.start_file)
        self.weight_decay = RateSpinBox(1e-6, 0.99, allow_zero=True)
        self.weight_decay.setToolTip("L2 penalty pulling weights towards zero (0: none)")
        self.l1 = RateSpinBox(1e-7, 0.99, allow_zero=True)
        self.l1.setToolTip(
            "Adds L1 × the sum of |w| over kernels and weight matrices (not biases or "
            "BatchNorm) to the loss: pushes weights to exactly zero (0: none)"
        )
        self.subset = _count_box(
            "all",
            " images",
            "Train on only this many images, balanced over the classes "
            "(validation still comes from all): small sets overfit",
        )
        self.patience = _count_box(
            "off",
            " epochs",
            "Early stopping: stop once the validation loss has not fallen "
            "for this many epochs, and keep the lowest-loss epoch's weights",
        )
        self.validation = QtWidgets.QSpinBox()
        self.validation.setRange(1, 50)
        self.validation.setSuffix(" %")
        self.validation.setToolTip(
            "Share of the training images held back to choose the best epoch"
        )
        self.schedule = _combo(SCHEDULES, "The learning rate over the run")
        self.augment = QtWidgets.QCheckBox("Augment images")
        self.augment.setToolTip(
            "Train on randomly shifted, scaled, tilted and thinned copies (digits), "
            "or shifted and mirrored ones (photos): learns more from few images"
        )
        self.seed = QtWidgets.QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setToolTip("The same seed gives the same weights")
        self._lay_out()
        self.set_config(DEFAULT_CONFIG)

    def _lay_out(self) -> None:
        form = QtWidgets.QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Dataset", self.dataset)
        form.addRow("Epochs", self.epochs)
        form.addRow("Batch size", self.batch_size)
        form.addRow("Learning rate", self.learning_rate)
        form.addRow("Schedule", self.schedule)
        form.addRow("Optimizer", self.optimizer)
        form.addRow("Initialisation", self.start)
        form.addRow("Weight decay (L2)", self.weight_decay)
        form.addRow("L1", self.l1)
        form.addRow("Training images", self.subset)
        form.addRow("Validation", self.validation)
        form.addRow("Early stopping", self.patience)
        form.addRow("Seed", self.seed)
        form.addRow("", self.augment)

    def config(self) -> TrainConfig:
        return TrainConfig(
            dataset=self.dataset.currentData(),
            epochs=self.epochs.value(),
            batch_size=self.batch_size.value(),
            learning_rate=self.learning_rate.value(),
            optimizer=self.optimizer.currentData(),
            init=self.init.currentData(),
            weight_decay=self.weight_decay.value(),
            validation_split=self.validation.value() / 100.0,
            seed=self.seed.value(),
            schedule=self.schedule.currentData(),
            augment=self.augment.isChecked(),
            train_subset=self.subset.value() or None,
            patience=self.patience.value() or None,
            l1=self.l1.value(),
        )

    def set_config(self, config: TrainConfig) -> None:
        _select(self.dataset, config.dataset)
        self.epochs.setValue(config.epochs)
        self.batch_size.setValue(config.batch_size)
        self.learning_rate.setValue(config.learning_rate)
        _select(self.optimizer, config.optimizer)
        _select(self.init, config.init)
        self.weight_decay.setValue(config.weight_decay)
        self.validation.setValue(round(config.validation_split * 100))
        self.seed.setValue(config.seed)
        _select(self.schedule, config.schedule)
        self.augment.setChecked(config.augment)
        self.subset.setValue(config.train_subset or 0)
        self.patience.setValue(config.patience or 0)
        self.l1.setValue(config.l1)

    def set_start(self, weights_name: str | None) -> None:
        """Show what a run starts from: the weights file `weights_name`, or (None)
        fresh weights drawn by the chosen initialisation."""
        label = self.layout().labelForField(self.start)
        if weights_name:
            self.start_file.setText(f"the weights in {weights_name}")
            self.start_file.setToolTip(
                "Training continues from these weights; no initialisation is drawn"
            )
            self.start.setCurrentWidget(self.start_file)
            label.setText("Starts from")
        else:
            self.start.setCurrentWidget(self.init)
            label.setText("Initialisation")

    def starts_from_file(self) -> bool:
        return self.start.currentWidget() is self.start_file

    def dataset_title(self) -> str:
        key = self.dataset.currentData()
        return next((choice[1] for choice in DATASETS if choice[0] == key), key)
