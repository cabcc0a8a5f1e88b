"""`cnnviz train --subset --no-augment --patience --l1 --optimizer rmsprop --json`:
early stopping and the test metrics in the JSON record."""

from __future__ import annotations

import json

import numpy as np

from cnnviz.cli import main
from cnnviz.core.architecture import save
from tests.tiny_net import TINY


def test_the_json_record_carries_early_stopping_and_the_test_metrics(capsys, tmp_path):
    arch = tmp_path / "tiny.json"
    save(TINY, arch)
    args = ["train", arch, "--subset", "100", "--no-augment", "--patience", "2", "--l1", "1e-4"]
    args += ["--optimizer", "rmsprop", "--epochs", "40", "--lr", "0.01", "--schedule", "constant"]
    code = main([*map(str, args), "--out", str(tmp_path / "w.safetensors"), "--json"])
    stdout, stderr = capsys.readouterr()
    assert code == 0
    record = json.loads(stdout)
    confusion = np.array(record["confusion"])
    assert confusion.shape == (10, 10)
    assert record["test_accuracy"] == np.trace(confusion) / confusion.sum()
    assert [c["support"] for c in record["per_class"]] == confusion.sum(axis=1).tolist()
    recall = [c["recall"] for c in record["per_class"]]
    np.testing.assert_allclose(recall, np.diag(confusion) / confusion.sum(axis=1))
    assert record["stopped_epoch"] == record["epochs"] < 40
    assert record["stopped_epoch"] - record["best_epoch"] == 2  # patience 2
    assert f"early stopping ended the run after epoch {record['stopped_epoch']}" in stderr
    assert "confusion matrix (rows: true class, columns: predicted)" in stderr


def test_bad_lab_settings_exit_2_with_one_line(capsys, tmp_path):
    arch = tmp_path / "tiny.json"
    save(TINY, arch)
    code = main(["train", str(arch), "--patience", "0", "--out", str(tmp_path / "w.st")])
    _, stderr = capsys.readouterr()
    assert code == 2 and "patience must be at least 1" in stderr
    assert len(stderr.strip().splitlines()) == 1
