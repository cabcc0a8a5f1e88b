"""Test metrics of a classifier from its confusion matrix (numpy only).

The confusion matrix counts test images by (true class, predicted class):
rows are the truth, columns the prediction, so the diagonal holds the right
answers. Everything else follows from it: accuracy is the diagonal's share of
all images; a class's precision is its diagonal count over its column (of the
images called this class, how many were), its recall the diagonal count over
its row (of the images of this class, how many were found), and F1 their
harmonic mean. A class never predicted (an empty column) or absent from the
test set (an empty row) gets 0 there rather than a division by zero, as
scikit-learn's ``zero_division=0`` does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def confusion_matrix(truth: np.ndarray, predicted: np.ndarray, classes: int) -> np.ndarray:
    """(classes, classes) int64 counts; [t, p] = images of class t predicted as p."""
    truth = np.asarray(truth, dtype=np.int64).ravel()
    predicted = np.asarray(predicted, dtype=np.int64).ravel()
    if truth.shape != predicted.shape:
        raise ValueError(f"{truth.size} true labels but {predicted.size} predictions")
    flat = np.bincount(truth * classes + predicted, minlength=classes * classes)
    return flat.reshape(classes, classes)


@dataclass(frozen=True)
class ClassScores:
    name: str
    precision: float
    recall: float
    f1: float
    support: int  # test images of this class (the row's sum)


def _ratio(top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    return np.divide(top, bottom, out=np.zeros(len(top)), where=bottom > 0)


@dataclass(frozen=True)
class TestMetrics:
    """A confusion matrix with its class names, and what it says."""

    __test__ = False  # not a pytest test class, despite the name

    confusion: np.ndarray  # (K, K) int64, rows true, columns predicted
    class_names: tuple[str, ...]

    @property
    def total(self) -> int:
        return int(self.confusion.sum())

    @property
    def accuracy(self) -> float:
        return float(np.trace(self.confusion)) / max(self.total, 1)

    def per_class(self) -> list[ClassScores]:
        counts = self.confusion.astype(np.float64)
        right = np.diag(counts)
        precision = _ratio(right, counts.sum(axis=0))
        recall = _ratio(right, counts.sum(axis=1))
        f1 = _ratio(2 * precision * recall, precision + recall)
        support = self.confusion.sum(axis=1)
        return [
            ClassScores(name, float(p), float(r), float(f), int(s))
            for name, p, r, f, s in zip(
                self.class_names, precision, recall, f1, support, strict=True
            )
        ]

    def table(self) -> str:
        """Per-class precision, recall, F1 and support, then the matrix, as text."""
        lines = [f"{'class':>12} precision recall     f1 support"]
        for s in self.per_class():
            lines.append(
                f"{s.name[:12]:>12} {s.precision:9.3f} {s.recall:6.3f} {s.f1:6.3f} {s.support:7d}"
            )
        lines.append("confusion matrix (rows: true class, columns: predicted)")
        width = max(3, len(str(int(self.confusion.max(initial=0)))) + 1)
        lines += ["".join(f"{n:{width}d}" for n in row) for row in self.confusion]
        return "\n".join(lines)

    def as_json(self) -> dict:
        """Plain lists and numbers for `cnnviz train --json`."""
        return {
            "test_accuracy": self.accuracy,
            "confusion": self.confusion.tolist(),
            "per_class": [
                {
                    "class": s.name,
                    "precision": s.precision,
                    "recall": s.recall,
                    "f1": s.f1,
                    "support": s.support,
                }
                for s in self.per_class()
            ],
        }
