"""Lab: overfitting and early stopping. A network trained on 100 digits without
augmentation learns them by heart: its training loss keeps falling towards 0
while the validation loss stops falling and turns up. The lab fills the
Training panel's form for that run and says what to look for and what to try
next (early stopping, L2, L1, augmentation), with the loss on a log scale; it
does not start the run: the person presses Train (and Cancel stops it), after
seeing the settings.

A network with trained weights from a file would start out knowing every
digit, so the lab puts fresh random weights in (File > Use Random Weights:
undoable, and it asks first when trained weights are unsaved).
"""

from __future__ import annotations

from cnnviz.core.jobs import TrainConfig
from cnnviz.qt.labs import Lab, show_panel

# 100 images (10 a digit), batches of 16, a constant Adam rate: on LeNet-5 the
# validation loss is lowest near epoch 11 and rises from there to epoch 100
# while the training loss falls 30 times lower (seed 0, about 5 s on 2 cores).
OVERFIT = TrainConfig(
    dataset="digits",
    epochs=100,
    batch_size=16,
    learning_rate=0.003,
    optimizer="adam",
    weight_decay=0.0,
    schedule="constant",
    augment=False,
    train_subset=100,
    patience=None,
    l1=0.0,
)
GUIDE = (
    "<b>Overfitting:</b> 100 digits, no augmentation, 100 epochs. Press Train.<br>"
    "The training loss keeps falling while the validation loss turns up: the network "
    "memorises its 100 images instead of learning digits.<br>"
    "Then try Early stopping 5, Weight decay (L2) 0.001, L1 0.0001 or Augment images, "
    "and compare the test results."
)


def start(window) -> None:
    if window.doc.weights_path and not window.use_random_weights():
        return  # the person kept the weights: the lab would not show overfitting
    panel = show_panel(window, "training")
    panel.set_config(OVERFIT)
    panel.set_guide(GUIDE)
    # On a linear axis from 0 the training loss lies on the floor from epoch 15
    # on; on a log axis it falls three decades below the validation loss.
    panel.curves.set_log_loss(True)


LAB = Lab(
    "&Overfitting and early stopping",
    order=50,
    start=start,
    tip="Train on 100 digits without augmentation and watch training and validation part",
)
