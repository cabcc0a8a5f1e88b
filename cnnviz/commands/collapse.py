"""`cnnviz collapse ARCH [--weights W] [--image IMG]`: why non-linearity, measured.

Removes every activation from the network (blocks included; with --avg-pool
max pooling becomes average pooling too), computes the single affine map
x ↦ Wx + b over the flattened input that what is left computes
(compute.collapse: b = f(0), column i = f(eᵢ) − b), and runs random inputs,
and the image if given, three ways: Wx + b, the network without its
activations, and the original. The first two agree to float64 rounding; the
third differs: the activations are what the depth buys.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from cnnviz.commands import CommandError

NAME = "collapse"
HELP = "Remove every activation and show the network is one linear map x ↦ Wx + b."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("arch", help="architecture file or preset name")
    parser.add_argument("--weights", help="weights file (default: the preset's own, else random)")
    parser.add_argument("--image", help="also compare on this image, as the network takes it")
    parser.add_argument(
        "--avg-pool",
        action="store_true",
        help="replace max pooling by average pooling of the same windows (max is not linear)",
    )
    parser.add_argument("--seed", type=int, default=0, help="weights and inputs seed")
    parser.add_argument("--samples", type=int, default=16, help="random inputs to compare")


def compare(arch, seed=0, samples=16, weights=None, image=None, avg_pool=False) -> dict:
    """The affine map's shape and the largest differences on `samples` random
    inputs (and on `image`, (C, H, W), if given). ArchitectureError if it cannot."""
    import numpy as np

    from cnnviz.compute.collapse import affine_map, linear_twin, network_output
    from cnnviz.compute.model import build_model
    from cnnviz.compute.weights import load_weights
    from cnnviz.core import linearize

    model = build_model(arch, seed=seed).eval()
    if weights:
        load_weights(model, weights)
    twin, edited = linear_twin(model, arch, avg_pool)
    weight, bias = affine_map(twin, edited)
    inputs = {"random": np.random.default_rng(seed).normal(size=(samples, *arch.input.as_tuple()))}
    if image is not None:
        inputs["image"] = np.asarray(image, dtype=np.float64)[None]
    found = {
        "weight_shape": list(weight.shape),
        "removed": [layer.type for _, layer in arch.walk() if linearize.is_activation(layer)],
        "pools_replaced": len(linearize.max_pool_addresses(arch)) if avg_pool else 0,
    }
    for name, x in inputs.items():
        ours = x.reshape(len(x), -1) @ weight.T + bias
        found[f"{name}_without_activations"] = float(np.abs(ours - network_output(twin, x)).max())
        found[f"{name}_with_activations"] = float(np.abs(ours - network_output(model, x)).max())
    return found


def _image(args: argparse.Namespace, arch):
    from cnnviz.core.images import ImageError, load_image
    from cnnviz.core.preprocess import Preprocessing, declared, to_network_input

    if not args.image:
        return None
    try:
        image = load_image(args.image)
    except ImageError as exc:  # its message names the file already
        raise CommandError(str(exc)) from None
    try:
        c, h, w = arch.input.as_tuple()
        prep = declared(arch.metadata) or Preprocessing()
        return to_network_input(image, c, h, w, prep)
    except ValueError as exc:
        raise CommandError(f"{Path(args.image).name}: {exc}") from None


def _removed_text(removed: list[str]) -> str:
    counts = Counter(removed)
    return ", ".join(f"{t} ×{n}" if n > 1 else t for t, n in counts.items()) or "none"


def execute(args: argparse.Namespace) -> int:
    from cnnviz.commands.summary import load_architecture
    from cnnviz.compute.weights import WeightsError
    from cnnviz.core.architecture import ArchitectureError

    arch = load_architecture(args.arch)
    if args.samples < 1:
        raise CommandError("--samples must be at least 1")
    from cnnviz.commands.run import weights_file

    weights, image = weights_file(args, arch), _image(args, arch)
    try:
        found = compare(arch, args.seed, args.samples, weights, image, args.avg_pool)
    except (ArchitectureError, WeightsError) as exc:
        why = str(exc).replace("AvgPool2d to see", "AvgPool2d (--avg-pool) to see")
        raise CommandError(f"cannot collapse {args.arch}: {why}") from None
    _report(found, args, weights)
    return 0


def _report(found: dict, args: argparse.Namespace, weights: str | None) -> None:
    out, inp = found["weight_shape"]
    print(f"activations removed: {_removed_text(found['removed'])}")
    if found["pools_replaced"]:
        print(f"max pools replaced by average pools: {found['pools_replaced']}")
    print(f"weights: {weights or f'random (seed {args.seed})'}")
    print(f"the network without them is one linear map x ↦ Wx + b: W is {out}×{inp}, b {out}")
    where = [("random", f"{args.samples} random inputs")]
    if args.image:
        where.append(("image", Path(args.image).name))
    for key, text in where:
        print(
            f"on {text}: max |Wx + b − network without activations| = "
            f"{found[f'{key}_without_activations']:.3g} (the same map); "
            f"max |Wx + b − original| = {found[f'{key}_with_activations']:.3g} "
            "(what the activations add)"
        )
