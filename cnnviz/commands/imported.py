"""A person's own PyTorch model on the command line (issue 18): ``FILE.py:CLASS``
(a class or factory, called without arguments) or a TorchScript file, in the
place of an architecture, with ``--input C,H,W`` and ``--weights`` under the
model's own key names.

Importing a Python file runs it: this happens only because the person named
it on the command line. The converted network is written to a folder of its
own, an architecture file beside a safetensors file of its weights under
cnnviz's keys, so ``run`` and the window read it as any network with weights.
The commands remove the folder when they end; the window keeps it (its
document lives there until saved elsewhere).

Not a command itself (no ``execute``): summary, run and the window use it.
The window's File > Import PyTorch Model… runs it in a process of its own
(``python -m cnnviz.commands.imported SOURCE --input C,H,W``, which prints the
architecture file), so the person's code and torch stay out of the window.

A Python model torch.fx cannot trace (data-dependent control flow) is not
refused: it becomes a read-only view hooked per module
(compute/importers/hooked_view.py), an architecture of ``Hooked`` rows that
names the model's file and its weights as they were imported, under the
model's own keys (the live model runs for every forward).
"""

from __future__ import annotations

import argparse
import atexit
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from cnnviz.commands import CommandError
from cnnviz.core.architecture import Architecture, save
from cnnviz.core.model_sources import is_model_source

__all__ = ["ImportedFiles", "is_model_source", "load_imported"]


@dataclass(frozen=True)
class ImportedFiles:
    architecture: Architecture
    path: Path  # the architecture file
    weights: Path | None  # its weights under cnnviz's keys; None for a hooked view


def _file_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name) or "imported"


def _folder(keep: bool) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="cnnviz-import-"))
    if not keep:
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def _hooked_view(failure, source: str, shape, keep: bool) -> ImportedFiles:
    """The read-only view of a model that could not be traced, as an architecture file."""
    from cnnviz.compute.importers import ModelImportError
    from cnnviz.compute.importers.hooked_view import as_architecture, view_of
    from cnnviz.compute.weights import save_weights

    try:
        view = view_of(failure, source, shape)
    except ModelImportError as exc:
        raise CommandError(str(exc)) from None
    folder = _folder(keep)
    name = _file_name(view.name)
    # Under the model's own keys, so whoever runs the view runs these very weights
    # (a constructor's random ones included); copies: tied weights share storage.
    model_weights = folder / f"{name}.model.safetensors"
    state = failure.model.state_dict()
    save_weights({key: value.detach().clone() for key, value in state.items()}, model_weights)
    arch = as_architecture(view, str(model_weights))
    path = folder / f"{name}.json"
    save(arch, path)
    return ImportedFiles(arch, path, None)


def load_imported(
    source: str, input_arg: str | None, weights: str | None = None, *, keep: bool = False
) -> ImportedFiles:
    """Convert the model named by ``source``; CommandError in one line if it cannot be.
    ``keep``: leave its folder when the process ends (the window's document)."""
    from cnnviz.commands.summary import parse_input
    from cnnviz.compute.importers import ModelImportError, Untraceable
    from cnnviz.compute.importers.sources import import_source
    from cnnviz.compute.weights import save_weights

    shape = parse_input(input_arg).as_tuple() if input_arg else None
    try:
        imported = import_source(source, shape, weights)
    except Untraceable as exc:
        return _hooked_view(exc, source, shape, keep)
    except ModelImportError as exc:
        raise CommandError(str(exc)) from None
    folder = _folder(keep)
    name = _file_name(imported.architecture.name)
    weights_file = folder / f"{name}.safetensors"
    save_weights(imported.state, weights_file)
    arch = imported.architecture
    arch = replace(arch, metadata={**arch.metadata, "weights": weights_file.name})
    path = folder / f"{name}.json"
    save(arch, path)
    return ImportedFiles(arch, path, weights_file)


def main(argv: list[str] | None = None) -> int:
    """Convert for the window: the architecture file's path on stdout, or one line on
    stderr and status 2. The folder stays: the window's document lives there."""
    parser = argparse.ArgumentParser(prog="cnnviz-import")
    parser.add_argument("source")
    parser.add_argument("--input")
    parser.add_argument("--weights")
    args = parser.parse_args(argv)
    try:
        opened = load_imported(args.source, args.input, args.weights, keep=True)
    except CommandError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(opened.path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
