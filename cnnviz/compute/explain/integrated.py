"""Integrated gradients (Sundararajan et al. 2017) from a baseline to the input.

attr = (x - b) · ∫₀¹ ∂F(b + α(x - b))/∂x dα, the integral by Gauss-Legendre
quadrature on ``steps`` points: captum's ``IntegratedGradients.attribute(x,
baselines=b, target=t, n_steps=steps, method="gausslegendre")`` (its
default), batched along the steps in bounded batches (batches.py), with
progress and cancel between batches. ``delta`` is the completeness gap
Σattr - (F(x) - F(b)), as captum's ``return_convergence_delta``: how far the
quadrature is from the exact integral.
"""

from __future__ import annotations

import numpy as np
import torch

from cnnviz.compute.explain.batches import Progress, in_batches
from cnnviz.compute.explain.network import Network, choose_target
from cnnviz.compute.explain.result import Attribution
from cnnviz.compute.forward import CancelCheck


def gauss_legendre(steps: int) -> tuple[np.ndarray, np.ndarray]:
    """(alphas in (0, 1), their weights, summing to 1), as captum builds them."""
    nodes, weights = np.polynomial.legendre.leggauss(steps)
    return 0.5 * (1 + nodes), 0.5 * weights


def integrated_gradients(
    net: Network,
    x: torch.Tensor,
    baseline: torch.Tensor,
    target: int | None = None,
    steps: int = 50,
    batch: int = 16,
    should_cancel: CancelCheck = None,
    progress: Progress = None,
) -> Attribution:
    with torch.no_grad():
        ends = net.scores(torch.cat([x, baseline]))
    target, score = choose_target(ends[0], target)
    alphas, weights = (
        torch.tensor(a, dtype=x.dtype, device=x.device) for a in gauss_legendre(steps)
    )
    difference = x - baseline
    total = torch.zeros_like(x[0])
    for part in in_batches(steps, batch, should_cancel, progress):
        alpha = alphas[part].view(-1, 1, 1, 1)
        points = (baseline + alpha * difference).requires_grad_(True)
        scores = net.scores(points)
        if not scores.requires_grad:
            continue  # the network ignores its input: every gradient is zero
        (grads,) = torch.autograd.grad(scores[:, target].sum(), points)
        total += (grads * weights[part].view(-1, 1, 1, 1)).sum(0)
    values = total * difference[0]
    # In float64 on the CPU (Apple's MPS has no float64): the gap is a small
    # difference of large sums.
    change = float(ends[0, target]) - float(ends[1, target])
    delta = float(values.detach().cpu().double().sum()) - change
    return Attribution(target, score, values, delta=delta)
