"""One quiz question: what is asked, the answer, and how it is worked out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# How an answer is typed and compared (answers.check).
SHAPE = "shape"  # a list of whole numbers, C×H×W
INT = "int"  # a whole number, exactly
FLOAT = "float"  # a real number, with a tolerance
FIELD = "field"  # a receptive field [h, w]: "5" means 5×5
ADDRESS = "address"  # a layer's address, "3" or "3.body.0"


@dataclass(frozen=True)
class Question:
    kind: str
    index: int  # the layer index (analysis pre-order), -1 for the whole network
    layer: str  # the layer's address ("3.body.0"), "" for the whole network
    text: str
    answer: Any  # what summary --json would give: a list, an int or a float
    answer_type: str
    reveal: str
    # Other answers also right (tied layers for largest_layer; "all" for a global field).
    also: tuple[Any, ...] = ()
    # conv_value / pool_value: the output cell (channel, row, col).
    cell: tuple[int, int, int] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "kind": self.kind,
            "layer": self.layer,
            "question": self.text,
            "answer": self.answer,
        }
        if self.cell is not None:
            record["cell"] = list(self.cell)
        record.update(self.extra)
        return record
