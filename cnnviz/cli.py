"""The `cnnviz` command: the GUI by default, headless subcommands otherwise.

cnnviz [FILE] [--image IMAGE] ...      open the window
cnnviz summary ARCH [--json]           table of shapes, parameters, fields
cnnviz export ARCH --out NET.py        the network as a standalone PyTorch module
cnnviz quiz ARCH [--seed S] [--json]   interview questions about the network, checked
cnnviz explain ARCH IMAGE --method M --out MAP.npz   which pixels made it say its class
cnnviz shift ARCH IMAGE --pixels K     translation invariance, layer by layer
cnnviz collapse ARCH                   without activations, the network is one linear map
cnnviz <command> --help                the other commands (run, animate, train, weights)

Every mistake on the command line is one line on stderr, ``cnnviz CMD: error:
...``, with exit status 2; the window is never started for one.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import cnnviz.commands as commands_pkg
from cnnviz import __version__
from cnnviz.commands import CommandError

EXIT_USAGE = 2


class UsageError(Exception):
    """A command line argparse could not read, already worded as one line."""


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a mistake is one line (argparse prints its usage block first)."""

    _argv: tuple[str, ...] = ()

    def parse_known_args(self, args=None, namespace=None):
        self._argv = tuple(sys.argv[1:] if args is None else args)
        return super().parse_known_args(args, namespace)

    def error(self, message: str):
        raise UsageError(f"{self.prog}: error: {message}{self._hint(message)}")

    def _hint(self, message: str) -> str:
        # "--input -1,32,32": argparse takes "-1,32,32" for an option and says the
        # value is missing; the way out is not obvious, so say it.
        for option, value in zip(self._argv, self._argv[1:], strict=False):
            wanted = f"argument {option}: expected one argument"
            if value.startswith("-") and message.startswith(wanted):
                return f" (a value starting with '-' is written {option}={value})"
        return f" (see {self.prog} --help)"


def _command_modules() -> dict[str, ModuleType]:
    found = {}
    for info in pkgutil.iter_modules(commands_pkg.__path__):
        module = importlib.import_module(f"cnnviz.commands.{info.name}")
        if hasattr(module, "execute"):
            found[module.NAME] = module
    return dict(sorted(found.items()))


def _gui_parser(commands: Sequence[str]) -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="cnnviz",
        description="See inside a convolutional network. Without a command, opens the window.",
        epilog="Commands: " + ", ".join(commands) + " (cnnviz COMMAND --help).",
    )
    parser.add_argument(
        "file",
        nargs="?",
        help="architecture (.json) or project (.cnnviz) file, a preset name, or your own "
        "PyTorch model: FILE.py:CLASS (runs that file), a TorchScript .pt or an exported .pt2",
    )
    parser.add_argument("--open", dest="open_file", metavar="FILE", help="same as FILE")
    parser.add_argument(
        "--input", metavar="C,H,W", help="input size of your own model (FILE.py:CLASS, .pt)"
    )
    parser.add_argument(
        "--weights", metavar="FILE", help="your own model's weights, under its own key names"
    )
    parser.add_argument("--image", metavar="IMAGE", help="image to load as the input")
    parser.add_argument(
        "--select-layer",
        metavar="LAYER",
        help="layer to select: its number, or its path inside a block such as 3.body.0",
    )
    parser.add_argument(
        "--screenshot", metavar="OUT.png", help="save the window after the first compute, then exit"
    )
    parser.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda", "mps"),
        default=None,
        help="where torch computes (default: auto, remembered setting)",
    )
    parser.add_argument("--version", action="version", version=f"cnnviz {__version__}")
    return parser


def _is_preset(name: str) -> bool:
    from cnnviz.core.presets import PRESETS

    return name.lower().replace("-", "").replace("_", "") in PRESETS


def _unknown_command(word: str, commands: Sequence[str]) -> str:
    from cnnviz.core.presets import PRESETS

    close = difflib.get_close_matches(word, [*commands, *PRESETS], n=1)
    guess = f" (did you mean {close[0]!r}?)" if close else ""
    return (
        f"unknown command {word!r}{guess}; commands: {', '.join(commands)}; "
        f"or open a file or a preset: {', '.join(PRESETS)}"
    )


def file_problem(args: argparse.Namespace, commands: Sequence[str]) -> str | None:
    """Why the file named for the window cannot be opened, before any window exists."""
    file = args.open_file or args.file
    if not file or Path(file).exists() or _is_preset(file):
        return None
    # A bare word is far likelier a mistyped command than a file without a suffix.
    if args.file and not args.open_file and not Path(file).suffix and Path(file).name == file:
        return _unknown_command(file, commands)
    # The window's own wording for a missing file, so both say the same.
    missing = f"{Path(file).name}: No such file or directory"
    return missing if Path(file).suffix else f"{missing}, and no preset of that name"


def _import_model(args: argparse.Namespace) -> str | None:
    """A model of the person's own (FILE.py:CLASS, TorchScript) converted for the window,
    which then opens it as an architecture file with its weights; else why not."""
    from cnnviz.commands.imported import is_model_source, load_imported
    from cnnviz.core.model_sources import missing_name

    file = args.open_file or args.file
    if file and missing_name(file):
        return missing_name(file)
    if not file or not is_model_source(file):
        given = "--input" if args.input else "--weights" if args.weights else None
        return f"{given} is for your own model (FILE.py:CLASS or a .pt)" if given else None
    try:
        opened = load_imported(file, args.input, args.weights, keep=True)
    except CommandError as exc:
        return str(exc)
    args.file, args.open_file = str(opened.path), None
    return None


def _run_command(module: ModuleType, argv: list[str]) -> int:
    parser = OneLineParser(prog=f"cnnviz {module.NAME}", description=module.HELP)
    module.add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        code = int(module.execute(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, where it is handled, not at exit
        return code
    except CommandError as exc:
        print(f"cnnviz {module.NAME}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"cnnviz {module.NAME}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`cnnviz summary vgg16 | head`): stop quietly, as
        # Unix tools do, and keep Python from failing again when it flushes stdout.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # A file name that is not valid UTF-8 reaches Python as lone surrogates; with a
    # strict stdout (PYTHONIOENCODING=utf-8:strict) printing it would raise.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    modules = _command_modules()
    try:
        if argv and argv[0] in modules:
            return _run_command(modules[argv[0]], argv[1:])
        args = _gui_parser(list(modules)).parse_args(argv)
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    problem = _import_model(args) or file_problem(args, list(modules))
    if problem:
        print(f"cnnviz: error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    from cnnviz.app import main as gui_main

    return gui_main(args)
