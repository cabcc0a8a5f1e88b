"""Randomly varied copies of a training batch, so a small dataset teaches more.

Digits: the bundled digits fill their frame edge to edge with strokes of one
width; a digit drawn on the pad is usually smaller, off-centre, a little
tilted and drawn with a finer or broader brush. Each training image is
therefore shrunk, squeezed, moved, rotated, its strokes thinned (erosion,
thresholding) or softened (seen at 8×8 and enlarged) at random; a share of
every batch stays as it is, so the network still sees the data as the test
set shows it.

Photos: a random shift by a few pixels and a left-right mirror, the classic
augmentation for CIFAR-10-like images.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

HEIGHT_RANGE = (0.45, 1.0)  # digit height as a fraction of the frame
ASPECT_RANGE = (0.5, 1.1)  # width change relative to the height change
MAX_ROTATION_DEG = 10.0
ERODE_FRACTION = 0.5  # share of changed images whose strokes lose a pixel each side
# Values below a random threshold go black and the rest are stretched: blurred
# fat strokes become crisp thin ones.
THRESHOLD_RANGE = (0.0, 0.5)
CONTRAST_RANGE = (1.0, 2.0)
KEEP_FRACTION = 0.2  # share of each batch left as it is
LOW_RESOLUTION_FRACTION = 0.25  # share of changed images first blurred to 8×8 and back
PHOTO_MAX_SHIFT = 0.125  # of the image size


def augment_strokes(batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """(N, C, H, W) in [0, 1], white strokes on black: varied copies, black fill."""
    n = batch.shape[0]
    u = torch.rand(n, 10, generator=generator)
    keep = u[:, 0] < KEEP_FRACTION
    thin = (u[:, 1] < ERODE_FRACTION).view(n, 1, 1, 1)
    source = torch.where(thin, -F.max_pool2d(-batch, kernel_size=3, stride=1, padding=1), batch)
    coarse = (u[:, 9] < LOW_RESOLUTION_FRACTION).view(n, 1, 1, 1)
    source = torch.where(coarse, low_resolution(source), source)
    moved = _warp(source, _stroke_transforms(u[:, 2:7]))
    threshold = THRESHOLD_RANGE[0] + (THRESHOLD_RANGE[1] - THRESHOLD_RANGE[0]) * u[:, 7]
    contrast = CONTRAST_RANGE[0] + (CONTRAST_RANGE[1] - CONTRAST_RANGE[0]) * u[:, 8]
    gain = (contrast / (1.0 - threshold)).view(n, 1, 1, 1)
    varied = ((moved - threshold.view(n, 1, 1, 1)) * gain).clamp_(0.0, 1.0)
    return torch.where(keep.view(n, 1, 1, 1), batch, varied)


def low_resolution(batch: torch.Tensor, side: int = 8) -> torch.Tensor:
    """Each image as seen at side×side and enlarged again (bilinear): soft blobby strokes,
    like the 8×8 digits simply upscaled (the bundled digit samples look like that)."""
    small = F.adaptive_avg_pool2d(batch, (side, side))
    return F.interpolate(small, size=batch.shape[-2:], mode="bilinear", align_corners=False)


def _stroke_transforms(u: torch.Tensor) -> torch.Tensor:
    """(N, 2, 3) affine_grid matrices from 5 uniform numbers per image."""
    sy = HEIGHT_RANGE[0] + (HEIGHT_RANGE[1] - HEIGHT_RANGE[0]) * u[:, 0]
    sx = (sy * (ASPECT_RANGE[0] + (ASPECT_RANGE[1] - ASPECT_RANGE[0]) * u[:, 1])).clamp(max=1.0)
    angle = math.radians(MAX_ROTATION_DEG) * (2 * u[:, 2] - 1)
    # Move only as far as keeps the digit inside the frame ([-1, 1] both ways).
    shift = torch.stack([(1 - sx) * (2 * u[:, 3] - 1), (1 - sy) * (2 * u[:, 4] - 1)], dim=1)
    return _inverse_affine(sx, sy, angle, shift)


def _inverse_affine(
    sx: torch.Tensor, sy: torch.Tensor, angle: torch.Tensor, shift: torch.Tensor
) -> torch.Tensor:
    """affine_grid maps output coordinates to input ones, so the inverse of
    scale-then-rotate-then-shift: input = diag(1/sx, 1/sy) · R(-angle) · (output - shift)."""
    cos, sin = torch.cos(angle), torch.sin(angle)
    a = torch.stack([cos / sx, sin / sx, -sin / sy, cos / sy], dim=1).view(-1, 2, 2)
    return torch.cat([a, -a @ shift.unsqueeze(2)], dim=2)


def _warp(batch: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    grid = F.affine_grid(theta, list(batch.shape), align_corners=False)
    return F.grid_sample(batch, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def augment_photos(batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """(N, C, H, W): each image shifted a few pixels (edges repeated) and maybe mirrored."""
    n = batch.shape[0]
    u = torch.rand(n, 3, generator=generator)
    flip = (u[:, 0] < 0.5).view(n, 1, 1, 1)
    batch = torch.where(flip, batch.flip(-1), batch)
    ones = torch.ones(n)
    shift = PHOTO_MAX_SHIFT * 2 * (2 * u[:, 1:] - 1)  # [-1, 1] frame spans 2
    theta = _inverse_affine(ones, ones, torch.zeros(n), shift)
    grid = F.affine_grid(theta, list(batch.shape), align_corners=False)
    return F.grid_sample(batch, grid, mode="bilinear", padding_mode="border", align_corners=False)
