"""`cnnviz summary`: the table, the JSON, and one-line errors with status 2."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from cnnviz.cli import main


def run_cli(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_vgg16_json_reports_torchvisions_parameter_count(capsys):
    code, out, _ = run_cli(capsys, "summary", "vgg16", "--json")
    data = json.loads(out)
    assert code == 0
    assert data["total_params"] == 138_357_544
    first = data["layers"][0]
    assert first["index"] == 0 and first["type"] == "Conv2d"
    assert first["output_shape"] == [64, 224, 224]
    assert (
        first["params"] == 1792 and first["receptive_field"] == [3, 3] and first["jump"] == [1, 1]
    )
    assert first["macs"] == 64 * 224 * 224 * 27
    assert data["layers"][-1]["output_shape"] == [1000]


def test_table_lists_every_layer_and_totals(capsys):
    code, out, _ = run_cli(capsys, "summary", "lenet5")
    assert code == 0
    assert "61,706" in out
    assert out.count("\n") >= 12 + 5
    assert "Conv2d(6, k5)" in out


def test_input_override(capsys):
    code, out, _ = run_cli(capsys, "summary", "tinyvgg", "--json", "--input", "3,32,32")
    assert code == 0
    assert json.loads(out)["input"] == [3, 32, 32]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["summary", "nosuchnet"], "unknown preset 'nosuchnet'"),
        (["summary", "lenet5", "--input", "1,8,8"], "layer 3 Conv2d: kernel 5x5 is larger"),
        (["summary", "lenet5", "--input", "one"], "--input must be C,H,W"),
        (["summary", "/no/such/file.json"], "file.json"),
    ],
)
def test_errors_are_one_line_with_status_2(capsys, args, message):
    code, out, err = run_cli(capsys, *args)
    assert code == 2
    assert out == ""
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_bad_file_via_the_real_command(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "cnnviz-architecture", "version": 7}')
    proc = subprocess.run(
        [sys.executable, "-m", "cnnviz", "summary", str(bad)], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert "newer cnnviz" in proc.stderr and "Traceback" not in proc.stderr


def test_inner_layers_are_listed_with_their_address(capsys, tmp_path):
    from tests.compute.test_blocks_compute import BLOCKS_FILE

    path = tmp_path / "blocks.json"
    path.write_text(json.dumps(BLOCKS_FILE))
    assert main(["summary", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    addresses = [row["address"] for row in report["layers"]]
    assert addresses[:7] == ["0", "1", "1.body.0", "1.body.1", "1.body.2", "1.body.3", "2"]
    assert "5.branches.1.0.body.0" in addresses
    assert [row["index"] for row in report["layers"]] == list(range(len(addresses)))
    block = report["layers"][addresses.index("4")]
    assert block["type"] == "Parallel" and block["output_shape"] == [23, 6, 6]
    assert main(["summary", str(path)]) == 0
    table = capsys.readouterr().out
    assert re.search(r"^\s*2\.shortcut\.1\s+BatchNorm2d\s+8×6×6\s", table, re.M)
    assert re.search(r"^\s*4\.branches\.1\.2\s+Conv2d\(3, k3, p1\)\s+3×6×6\s", table, re.M)
