"""`cnnviz export ARCH --out net.py`: the network as a standalone PyTorch module.

The file imports only torch, defines one ``nn.Module`` class per block kind
the network uses and a ``build_model()`` whose state_dict keys are cnnviz's
own, so weights cnnviz saved load into it unchanged (cnnviz.core.export_code).
Without ``--out`` the code goes to standard output.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cnnviz.commands import CommandError
from cnnviz.commands.summary import load_architecture
from cnnviz.core.architecture import ArchitectureError
from cnnviz.core.export_code import export_code
from cnnviz.core.presets import PRESETS

NAME = "export"
HELP = "Write the network as a standalone PyTorch module (build_model() with cnnviz's keys)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("arch", help=f"architecture file or preset ({', '.join(PRESETS)})")
    parser.add_argument(
        "--out", metavar="NET.py", help="the Python file to write (default: standard output)"
    )
    parser.add_argument("--input", metavar="C,H,W", help="override the input shape")


def check_out_path(out: str) -> Path:
    """The file to write, or a CommandError saying why it cannot be."""
    path = Path(out)
    if path.suffix != ".py":
        raise CommandError(f"--out must name a .py file, got {out!r}")
    if path.is_dir():
        raise CommandError(f"--out {out!r} is a folder; name a .py file")
    if not path.parent.is_dir():
        raise CommandError(f"--out: the folder {str(path.parent)!r} does not exist")
    return path


def execute(args: argparse.Namespace) -> int:
    path = check_out_path(args.out) if args.out else None
    arch = load_architecture(args.arch, args.input)
    try:
        code = export_code(arch)
    except ArchitectureError as exc:
        raise CommandError(str(exc)) from None
    if path is None:
        sys.stdout.write(code)
        return 0
    try:
        path.write_text(code, encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"cannot write {args.out}: {exc.strerror or exc}") from None
    print(f"wrote {path} ({arch.name}, build_model())")
    return 0
