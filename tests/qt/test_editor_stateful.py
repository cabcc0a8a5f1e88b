"""The editor under random use: cases a Hypothesis state machine over the
document found, kept as plain examples."""

from __future__ import annotations

import pytest

from cnnviz.core.architecture import ArchitectureError
from cnnviz.qt import commands
from cnnviz.qt.document import Document

# -- what the machine found, kept as plain examples ---------------------------------


@pytest.mark.parametrize(
    ("row", "name", "value"),
    [(0, "bias", 1), (0, "stride", 1.0), (2, "ceil_mode", 0)],
)
def test_a_refused_value_equal_to_the_default_is_refused(qapp, row, name, value):
    """1 == True and 1.0 == 1: such values were taken for the default and dropped
    instead of refused."""
    doc = Document()  # Conv2d, ReLU, MaxPool2d
    state = doc.state
    with pytest.raises(ArchitectureError):
        commands.SetParamCommand(doc, row, name, value)
    assert doc.state is state
