"""`cnnviz collapse ARCH`: why non-linearity, measured.

Removes every activation from a stack of Linear layers, computes the single
linear map W = W_n···W_1 (and b) it collapses into (core.linear_collapse), and
runs random inputs three ways: the collapsed map, the torch layers without
their activations, and the original network. The first two agree to float
tolerance; the third differs: the activations are what the depth buys.
"""

from __future__ import annotations

import argparse

from cnnviz.commands import CommandError

NAME = "collapse"
HELP = "Remove every activation from a Linear stack and show it is one linear map."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("arch", help="architecture file of Flatten, Linear and activations")
    parser.add_argument("--seed", type=int, default=0, help="weights and inputs seed")
    parser.add_argument("--samples", type=int, default=16, help="random inputs to compare")


def compare(arch, seed: int = 0, samples: int = 16) -> dict:
    """The collapsed map and the largest differences on `samples` random inputs."""
    import numpy as np
    import torch

    from cnnviz.compute.model import build_model
    from cnnviz.core.linear_collapse import collapse

    model = build_model(arch, seed=seed).double().eval()
    state = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    collapsed = collapse(arch, state)
    x = torch.from_numpy(np.random.default_rng(seed).normal(size=(samples, *arch.input.as_tuple())))
    with torch.no_grad():
        original = model(x).numpy()
        linear = x.flatten(1)
        for address in collapsed.linear_addresses:
            linear = model[int(address)](linear)  # the stack with its activations removed
    ours = collapsed.apply(x.flatten(1).numpy())
    return {
        "weight_shape": list(collapsed.weight.shape),
        "bias_shape": list(collapsed.bias.shape),
        "linear_layers": list(collapsed.linear_addresses),
        "removed": list(collapsed.removed),
        "max_diff_without_activations": float(np.abs(ours - linear.numpy()).max()),
        "max_diff_with_activations": float(np.abs(ours - original).max()),
    }


def execute(args: argparse.Namespace) -> int:
    from cnnviz.commands.summary import load_architecture
    from cnnviz.core.linear_collapse import CollapseError

    arch = load_architecture(args.arch)
    if args.samples < 1:
        raise CommandError("--samples must be at least 1")
    try:
        found = compare(arch, args.seed, args.samples)
    except CollapseError as exc:
        raise CommandError(f"cannot collapse {args.arch}: {exc}") from None
    removed = ", ".join(found["removed"]) or "none"
    print(f"activations removed: {removed}")
    print(
        f"{len(found['linear_layers'])} Linear layers collapse into one map: "
        f"W {tuple(found['weight_shape'])}, b {tuple(found['bias_shape'])}"
    )
    print(
        "max |collapsed − stack without activations| = "
        f"{found['max_diff_without_activations']:.3g} (the same map)"
    )
    print(
        "max |collapsed − original with activations| = "
        f"{found['max_diff_with_activations']:.3g} (what the activations add)"
    )
    return 0
