"""`cnnviz weights list | download NAME`: torchvision's ImageNet checkpoints.

AlexNet, VGG-11, VGG-16, ResNet-18 and MobileNetV2 use torchvision's ImageNet
weights when the file is in the torch hub cache
(``$TORCH_HOME/hub/checkpoints/``, see cnnviz.core.hub_files). ``list`` says
which are there and how large they are; ``download NAME`` fetches one with
torch's own downloader, checking the hash prefix in its file name. Without a
network, the error says which file to place where.
"""

from __future__ import annotations

import argparse
from typing import Any

from cnnviz.commands import CommandError
from cnnviz.core import hub_files, safe_json

NAME = "weights"
HELP = "List or download torchvision's ImageNet weights for the classic presets."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="{list,download}")
    listing = actions.add_parser("list", help="which weights are in the torch hub cache")
    listing.add_argument("--json", action="store_true", help="print the list as JSON")
    fetch = actions.add_parser("download", help="download one checkpoint into the cache")
    fetch.add_argument("name", help=f"which ({', '.join(hub_files.HUB_FILES)})")


def rows() -> list[dict[str, Any]]:
    out = []
    for hub_file in hub_files.HUB_FILES.values():
        path = hub_files.checkpoint_path(hub_file)
        present = path.is_file()
        out.append(
            {
                "name": hub_file.key,
                "network": hub_file.title,
                "file": hub_file.file,
                "size": hub_file.size_text,
                "present": present,
                "bytes": path.stat().st_size if present else None,
                "path": str(path),
                "url": hub_file.url,
            }
        )
    return out


def _table(found: list[dict[str, Any]]) -> str:
    lines = [f"torch hub cache: {hub_files.hub_dir() / 'checkpoints'}"]
    for row in found:
        state = f"present ({row['bytes'] / 1e6:.1f} MB)" if row["present"] else "not downloaded"
        lines.append(
            f"  {row['name']:<13}{row['network']:<12}{row['file']:<28}{row['size']:>9}  {state}"
        )
    if not all(row["present"] for row in found):
        lines.append("get one with: cnnviz weights download NAME")
    return "\n".join(lines)


def execute(args: argparse.Namespace) -> int:
    if args.action == "list":
        found = rows()
        print(safe_json.dumps(found, indent=2) if args.json else _table(found))
        return 0
    try:
        hub_file = hub_files.find(args.name)
    except hub_files.UnknownHubFile as exc:
        raise CommandError(str(exc)) from None
    from cnnviz.compute.hub_download import DownloadError, download, target_path

    if target_path(hub_file).is_file():
        print(f"{hub_file.file} is already in {target_path(hub_file).parent}")
        return 0
    print(
        f"downloading {hub_file.title} weights ({hub_file.size_text}) from {hub_file.url}",
        flush=True,
    )
    try:
        path = download(hub_file)
    except DownloadError as exc:
        raise CommandError(str(exc)) from None
    print(f"saved {path}; the {hub_file.title} preset uses it from now on")
    return 0
