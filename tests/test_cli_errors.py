"""The `cnnviz` command line: one-line mistakes (status 2), unknown commands, no display.

None of these tests opens a window: where the GUI would start, cnnviz.app.main
is replaced by a stand-in that fails the test.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import cnnviz.app
from cnnviz.app import NO_DISPLAY, display_problem
from cnnviz.cli import main

# At least these, in alphabetical order (a new command joins the list by itself).
COMMANDS = ("animate", "explain", "export", "run", "summary", "train", "weights")


@pytest.fixture
def no_window(monkeypatch):
    def refuse(args):
        raise AssertionError(f"the window was started for {args}")

    monkeypatch.setattr(cnnviz.app, "main", refuse)


def one_line_error(capsys, *args) -> str:
    code = main(list(map(str, args)))
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert out == ""
    assert err.count("\n") == 1 and "Traceback" not in err and "usage:" not in err, err
    return err.strip()


def test_an_unknown_command_is_named_with_the_commands(capsys, no_window, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no file called frobnicate in the way
    line = one_line_error(capsys, "frobnicate")
    assert line.startswith("cnnviz: error: unknown command 'frobnicate'")
    listed = line.split("; commands: ")[1].split(";")[0].split(", ")
    assert set(COMMANDS) <= set(listed) and listed == sorted(listed)
    assert "lenet5" in line  # presets open too
    assert "did you mean 'summary'" in one_line_error(capsys, "summry")


def test_a_missing_file_is_no_such_file_not_a_command(capsys, no_window, tmp_path):
    line = one_line_error(capsys, tmp_path / "nope.json")
    assert line == "cnnviz: error: nope.json: No such file or directory"
    line = one_line_error(capsys, tmp_path / "folder" / "net")  # a path, not a word
    assert line.startswith("cnnviz: error: net: No such file") and "unknown command" not in line
    line = one_line_error(capsys, "--open", "frobnicate")  # --open takes files only
    assert line.startswith("cnnviz: error: frobnicate: No such file")


def test_existing_files_and_presets_still_open(monkeypatch, tmp_path):
    opened = []
    monkeypatch.setattr(cnnviz.app, "main", lambda args: opened.append(args.file) or 0)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "frobnicate").write_text("{}")  # a file without a suffix is a file
    for name in ("frobnicate", "LeNet5", "vgg-16"):
        assert main([name]) == 0
    assert opened == ["frobnicate", "LeNet5", "vgg-16"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["summary", "lenet5", "--input", "-1,32,32"], "is written --input=-1,32,32"),
        (["summary"], "the following arguments are required: arch"),
        (["run", "lenet5", "x.png", "--bogus"], "unrecognized arguments: --bogus"),
        (["train", "lenet5", "--epochs", "many"], "invalid int value: 'many'"),
        (["animate", "--stride", "x"], "expected N or H,W"),
        (["--device", "tpu"], "invalid choice: 'tpu'"),
    ],
)
def test_usage_errors_are_one_line(capsys, no_window, args, message):
    line = one_line_error(capsys, *args)
    prog = "cnnviz" if args[0].startswith("-") else f"cnnviz {args[0]}"
    assert line.startswith(f"{prog}: error: ") and message in line


def test_help_still_prints_the_usage(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["run", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: cnnviz run") and "[--out ACTS.npz]" in out
    assert "trained (false when the weights are a random initialisation" in " ".join(out.split())


@pytest.mark.parametrize(
    ("environ", "platform", "problem"),
    [
        ({}, "linux", NO_DISPLAY),
        ({"QT_QPA_PLATFORM": "xcb"}, "linux", NO_DISPLAY),
        ({"WAYLAND_DISPLAY": "wayland-0", "QT_QPA_PLATFORM": "xcb"}, "linux", NO_DISPLAY),
        ({"DISPLAY": ":0"}, "linux", None),
        ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", None),
        ({"QT_QPA_PLATFORM": "offscreen"}, "linux", None),
        ({"QT_QPA_PLATFORM": "wayland;xcb"}, "linux", None),
        ({"QT_QPA_PLATFORM": "vnc:size=800x600"}, "linux", None),
        ({}, "darwin", None),
        ({}, "win32", None),
    ],
)
def test_display_problem(environ, platform, problem):
    assert display_problem(environ, platform) == problem


def without_display() -> dict[str, str]:
    hidden = ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    return {k: v for k, v in os.environ.items() if k not in hidden}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11 is Linux's default")
def test_no_display_exits_2_with_one_line_instead_of_aborting(tmp_path):
    shot = tmp_path / "shot.png"
    for args in ([], ["lenet5", "--screenshot", str(shot)]):
        done = subprocess.run(
            [sys.executable, "-m", "cnnviz", *args],
            capture_output=True,
            text=True,
            env=without_display(),
            timeout=120,  # a safety net for a regression, not a measurement
        )
        assert done.returncode == 2, done.stderr
        assert done.stderr == f"cnnviz: error: {NO_DISPLAY}\n"
    assert not shot.exists()
    summary = subprocess.run(
        [sys.executable, "-m", "cnnviz", "summary", "lenet5"],
        capture_output=True,
        text=True,
        env=without_display(),
        timeout=120,
    )
    assert summary.returncode == 0 and "61,706" in summary.stdout


def test_a_file_name_that_is_not_utf8_is_printed_even_on_a_strict_stdout(tmp_path):
    out = os.fsencode(tmp_path) + b"/\xff.gif"
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict"}
    done = subprocess.run(
        [sys.executable, "-m", "cnnviz", "animate", "--out", out],
        capture_output=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert b"wrote " in done.stdout and b"\\udcff.gif" in done.stdout
    assert os.path.exists(out)


@pytest.mark.parametrize("command", [["summary", "vgg16"], ["summary", "lenet5", "--json"]])
def test_a_reader_that_stops_early_gets_no_traceback(command):
    """`cnnviz summary vgg16 | head -1`, at its most abrupt: the reader has gone
    before cnnviz writes anything, so every write meets a closed pipe."""
    reader = subprocess.Popen(
        [sys.executable, "-m", "cnnviz", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    reader.stdout.close()
    stderr = reader.stderr.read().decode()
    assert reader.wait(timeout=60) == 141, stderr
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr
