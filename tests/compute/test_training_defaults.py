"""The recommended training settings do what the README promises for LeNet-5.

`cnnviz train lenet5 --dataset digits` with no options, and the Training
panel as it opens, both start from RECOMMENDED_TRAINING. With it LeNet-5 must
reach at least 97 % test accuracy on the held-out fifth of the bundled digits.
(How long it takes is measured by tests/benchmarks/bench_train_defaults.py,
not here.)
"""

from __future__ import annotations

import argparse

from cnnviz.commands import train as train_command
from cnnviz.compute.train import train
from cnnviz.core.jobs import RECOMMENDED_TRAINING
from cnnviz.core.presets import load_preset


def test_lenet5_reaches_97_percent_with_the_recommended_settings():
    result = train(load_preset("lenet5"), RECOMMENDED_TRAINING)
    assert not result.cancelled and result.epochs_run == RECOMMENDED_TRAINING.epochs
    assert result.test_accuracy >= 0.97


def test_the_command_line_defaults_are_the_recommended_settings():
    parser = argparse.ArgumentParser()
    train_command.add_arguments(parser)
    args = parser.parse_args(["lenet5"])
    assert train_command._config(args) == RECOMMENDED_TRAINING


def test_the_training_panel_opens_with_the_recommended_settings(qtbot):
    from cnnviz.qt.panels.training_form import TrainingForm

    form = TrainingForm()
    qtbot.addWidget(form)
    assert form.config() == RECOMMENDED_TRAINING
