"""Test metrics from a confusion matrix, against an independent numpy count."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz.core.class_metrics import TestMetrics, confusion_matrix


def test_the_matrix_counts_true_rows_against_predicted_columns():
    rng = np.random.default_rng(3)
    truth, predicted = rng.integers(0, 4, 200), rng.integers(0, 4, 200)
    expected = np.zeros((4, 4), dtype=np.int64)
    np.add.at(expected, (truth, predicted), 1)
    np.testing.assert_array_equal(confusion_matrix(truth, predicted, 4), expected)


def test_scores_follow_the_matrix_and_an_empty_column_or_row_scores_zero():
    # Class 2 is never predicted (empty column); class 3 never occurs (empty row).
    confusion = np.array([[5, 1, 0, 0], [2, 3, 0, 1], [1, 1, 0, 0], [0, 0, 0, 0]])
    metrics = TestMetrics(confusion, ("a", "b", "c", "d"))
    assert metrics.total == 14 and metrics.accuracy == pytest.approx(8 / 14)
    a, b, c, d = metrics.per_class()
    assert (a.precision, a.recall, a.support) == pytest.approx((5 / 8, 5 / 6, 6))
    assert a.f1 == pytest.approx(2 * (5 / 8) * (5 / 6) / (5 / 8 + 5 / 6))
    assert (b.precision, b.recall) == pytest.approx((3 / 5, 3 / 6))
    assert (c.precision, c.recall, c.f1, c.support) == (0.0, 0.0, 0.0, 2)
    assert (d.precision, d.recall, d.f1, d.support) == (0.0, 0.0, 0.0, 0)
    record = metrics.as_json()
    assert record["confusion"][1] == [2, 3, 0, 1] and record["per_class"][1]["class"] == "b"
    assert "confusion matrix (rows: true class, columns: predicted)" in metrics.table()


def test_mismatched_lengths_are_named():
    with pytest.raises(ValueError, match="3 true labels but 2 predictions"):
        confusion_matrix(np.zeros(3), np.zeros(2), 2)
