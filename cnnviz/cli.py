"""The `cnnviz` command: the GUI by default, headless subcommands otherwise.

cnnviz [FILE] [--image IMAGE] ...      open the window
cnnviz summary ARCH [--json]           table of shapes, parameters, fields
cnnviz <command> --help                the other commands (run, animate, train)
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence
from types import ModuleType

import cnnviz.commands as commands_pkg
from cnnviz import __version__
from cnnviz.commands import CommandError

EXIT_USAGE = 2


def _command_modules() -> dict[str, ModuleType]:
    found = {}
    for info in pkgutil.iter_modules(commands_pkg.__path__):
        module = importlib.import_module(f"cnnviz.commands.{info.name}")
        if hasattr(module, "execute"):
            found[module.NAME] = module
    return dict(sorted(found.items()))


def _gui_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cnnviz",
        description="See inside a convolutional network. Without a command, opens the window.",
        epilog="Commands: " + ", ".join(_command_modules()) + " (cnnviz COMMAND --help).",
    )
    parser.add_argument(
        "file", nargs="?", help="architecture (.json) or project (.cnnviz) file, or a preset name"
    )
    parser.add_argument("--open", dest="open_file", metavar="FILE", help="same as FILE")
    parser.add_argument("--image", metavar="IMAGE", help="image to load as the input")
    parser.add_argument("--select-layer", type=int, metavar="N", help="layer to select")
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


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    modules = _command_modules()
    if argv and argv[0] in modules:
        module = modules[argv[0]]
        parser = argparse.ArgumentParser(prog=f"cnnviz {module.NAME}", description=module.HELP)
        module.add_arguments(parser)
        args = parser.parse_args(argv[1:])
        try:
            return int(module.execute(args) or 0)
        except CommandError as exc:
            print(f"cnnviz {module.NAME}: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except KeyboardInterrupt:
            print(f"cnnviz {module.NAME}: interrupted", file=sys.stderr)
            return 130
    args = _gui_parser().parse_args(argv)
    from cnnviz.app import main as gui_main

    return gui_main(args)
