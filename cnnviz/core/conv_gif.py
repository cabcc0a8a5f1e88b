"""Frames of a convolution walkthrough drawn with Pillow, and the animated GIF.

One frame per output cell. Left to right: the (padded) input with the window,
the kernel, the element-wise products, the sums, and the output filling cell by
cell; the output-size formula runs along the top. Each input channel is one
row of the picture (the window is a stack through the channels). Used by
``cnnviz animate`` and the step-through panel's "Export GIF".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from cnnviz.core.conv_steps import INPUT, OUTSIDE, Step, Walkthrough
from cnnviz.core.conv_text import ascii_text, format_value, result_lines, sum_terms, window_text

log = logging.getLogger(__name__)

MAX_FRAMES = 1024
MAX_GRID_SIDE = 64  # cells of input drawn per side
MAX_CHANNEL_ROWS = 4  # more input channels are summed but not drawn
# All frames together: ~100 MB of palette pixels and about 10 s of drawing on
# one core. The classroom example is 4 million; 1024 large frames would be 6000.
MAX_GIF_PIXELS = 150_000_000
SUMS_WIDTH = 270
BACKGROUND, INK, FAINT = (255, 255, 255), (30, 30, 30), (150, 150, 150)
WINDOW, CHOSEN, PAD_FILL = (230, 120, 0), (20, 150, 60), (236, 236, 236)
POSITIVE, NEGATIVE = np.array([49, 110, 190]), np.array([200, 70, 50])


@lru_cache(maxsize=16)
def _font(size: int) -> tuple[ImageFont.ImageFont, bool]:
    """(font, has_math_glyphs): DejaVu Sans when present, else Pillow's own (ASCII only)."""
    try:
        return ImageFont.truetype("DejaVuSans.ttf", size), True
    except OSError:
        return ImageFont.load_default(size=size), False


def _text(draw, xy, text: str, size: int, fill=INK, anchor="la") -> None:
    font, full = _font(size)
    draw.text(xy, text if full else ascii_text(text), font=font, fill=fill, anchor=anchor)


def shade(values: np.ndarray, scale: float) -> np.ndarray:
    """RGB (…, 3) uint8: white at 0, blue for positive, red for negative values."""
    t = np.clip(np.asarray(values, dtype=np.float64) / max(scale, 1e-12), -1.0, 1.0)
    t = np.nan_to_num(t, nan=0.0)[..., None]
    colour = np.where(t >= 0, POSITIVE, NEGATIVE)
    white = np.array([255.0, 255.0, 255.0])
    return np.round(white + (colour - white) * np.abs(t) * 0.85).astype(np.uint8)


def _ink_on(rgb) -> tuple[int, int, int]:
    return INK if sum(int(v) for v in rgb) > 420 else BACKGROUND


@dataclass(frozen=True)
class Layout:
    """Where everything goes in a frame (pixels)."""

    cell: int  # input and output cells
    kcell: int  # kernel and product cells
    box: tuple[int, int, int, int]  # padded cells shown: row_lo, row_hi, col_lo, col_hi
    channels: tuple[int, ...]  # rows of the picture (positions in step.channels)
    top: int
    row_height: int
    input_x: int
    kernel_x: int
    products_x: int
    sums_x: int
    output_x: int
    width: int
    height: int
    grad_x: int = 0  # pooling backward: where ∂L/∂X so far is drawn (0: not drawn)

    def row_y(self, row: int) -> int:
        return self.top + row * self.row_height


def layout(walk: Walkthrough) -> Layout:
    box = walk.window_box()
    rows, cols = box[1] - box[0], box[3] - box[2]
    cell = int(np.clip(320 // max(rows, cols), 14, 44))
    kh, kw = walk.kernel_size
    kcell = int(np.clip(200 // max(kh, kw), 14, 46))
    shown = min(len(walk.steps[0].channels), MAX_CHANNEL_ROWS)
    _, _, out_rows, out_cols = walk.region
    ocell = cell
    grid_h = max(rows * cell, kh * kcell if walk.kind == "conv" else 0)
    row_height = grid_h + 44
    top = 60 + 22 * len(walk.formula)
    input_x = 40
    kernel_x = input_x + cols * cell + 40
    conv = walk.kind == "conv"
    products_x = kernel_x + (kw * kcell + 40 if conv else 0)
    sums_x = products_x + (kw * kcell + 30 if conv else 0)
    output_x = sums_x + (SUMS_WIDTH if conv else 60)
    right = output_x + out_cols * ocell + 40
    grad_x = 0
    if walk.names.backward and not conv:  # ∂L/∂X so far, right of ∂L/∂Y and its text
        grad_x = max(right, output_x + 230) + 40
        right = grad_x + walk.config.input.shape[2] * cell + 40
    width = max(right, 160 + 9 * max(len(f) for f in walk.formula))
    height = top + max(shown * row_height, out_rows * ocell + 30 + 24 * 4) + 20
    return Layout(cell, kcell, box, tuple(range(shown)), top, row_height, input_x, kernel_x,
                  products_x, sums_x, output_x, width, height, grad_x)  # fmt: skip


def _fitting_size(texts: np.ndarray, cell: int) -> int:
    """The largest font size (at most 40% of the cell) at which every value fits; 0 if none."""
    longest = max(texts.ravel(), key=len)
    for size in range(int(cell * 0.4), 8, -1):
        font, full = _font(size)
        if font.getlength(longest if full else ascii_text(longest)) <= cell - 5:
            return size
    return 0


def _grid(draw, x, y, values, cell, scale, kinds=None, labels=None) -> None:
    """A grid of shaded cells with their values printed when the cells are big enough."""
    colours = shade(values, scale)
    texts = np.vectorize(format_value, otypes=[object])(values)
    size = _fitting_size(texts, cell)
    for (i, j), value in np.ndenumerate(values):
        x0, y0 = x + j * cell, y + i * cell
        kind = INPUT if kinds is None else kinds[i, j]
        rect = (x0, y0, x0 + cell, y0 + cell)
        if kind == OUTSIDE:
            draw.rectangle(rect, fill=BACKGROUND, outline=PAD_FILL)
            continue
        fill = tuple(colours[i, j]) if kind == INPUT and np.isfinite(value) else PAD_FILL
        draw.rectangle(rect, fill=fill, outline=(200, 200, 200) if kind else (120, 120, 120))
        if size:
            ink = FAINT if kind != INPUT else _ink_on(fill)
            _text(draw, (x0 + cell / 2, y0 + cell / 2), texts[i, j], size, ink, "mm")
    if labels is not None:
        row_labels, col_labels = labels
        for i, label in enumerate(row_labels):
            _text(draw, (x - 4, y + (i + 0.5) * cell), str(label), 10, FAINT, "rm")
        for j, label in enumerate(col_labels):
            _text(draw, (x + (j + 0.5) * cell, y - 3), str(label), 10, FAINT, "md")


def _frame_rect(draw, rect, colour, width=3, dashed=False) -> None:
    if not dashed:
        draw.rectangle(rect, outline=colour, width=width)
        return
    x0, y0, x1, y1 = rect
    for a, b in (
        ((x0, y0), (x1, y0)),
        ((x1, y0), (x1, y1)),
        ((x0, y1), (x1, y1)),
        ((x0, y0), (x0, y1)),
    ):
        length = max(abs(b[0] - a[0]), abs(b[1] - a[1]))
        for start in range(0, length, 10):
            end = min(start + 5, length)
            p0 = (a[0] + (b[0] - a[0]) * start / length, a[1] + (b[1] - a[1]) * start / length)
            p1 = (a[0] + (b[0] - a[0]) * end / length, a[1] + (b[1] - a[1]) * end / length)
            draw.line((p0, p1), fill=colour, width=2)


def _static(walk: Walkthrough, geo: Layout) -> Image.Image:
    """Everything that does not change from step to step."""
    image = Image.new("RGB", (geo.width, geo.height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    for n, line in enumerate(walk.formula):
        _text(draw, (16, 30 + 22 * n), line, 15 if n else 13, INK if n else FAINT)
    r0, r1, c0, c1 = geo.box
    kinds = walk.cell_kind[r0:r1, c0:c1]
    real = walk.padded[:, r0:r1, c0:c1][:, kinds == INPUT]
    scale = float(np.abs(real[np.isfinite(real)]).max(initial=0.0)) or 1.0
    top, left = walk.pad_before
    labels = ([r - top for r in range(r0, r1)], [c - left for c in range(c0, c1)])
    first = walk.steps[0]
    for row in geo.channels:
        channel = int(first.channels[row])
        y = geo.row_y(row)
        _text(draw, (geo.input_x, y - 16), walk.names.input(channel), 12, FAINT, "ld")
        values = walk.padded[channel, r0:r1, c0:c1]
        _grid(draw, geo.input_x, y, values, geo.cell, scale, kinds, labels)
    if (kinds != INPUT).any():
        y = geo.row_y(len(geo.channels)) - 36
        _text(draw, (geo.input_x, y), walk.padding_note(), 12, FAINT)
    hidden = len(first.channels) - len(geo.channels)
    if hidden > 0:
        y = geo.row_y(len(geo.channels)) - 20
        _text(draw, (geo.input_x, y), f"+ {hidden} more input channels (in the sums)", 12, FAINT)
    return image


def _draw_window(draw, walk: Walkthrough, geo: Layout, step: Step, row: int) -> None:
    r0, _, c0, _ = geo.box
    y, cell = geo.row_y(row), geo.cell
    xs = [geo.input_x + (c - c0) * cell for c in step.cols]
    ys = [y + (r - r0) * cell for r in step.rows]
    span = (xs[0] - 2, ys[0] - 2, xs[-1] + cell + 2, ys[-1] + cell + 2)
    _frame_rect(draw, span, WINDOW, dashed=True)
    for cy in ys:
        for cx in xs:
            _frame_rect(draw, (cx, cy, cx + cell, cy + cell), WINDOW, width=3)
    if step.chosen is not None:
        i, j = step.chosen
        rect = (xs[j] + 4, ys[i] + 4, xs[j] + cell - 4, ys[i] + cell - 4)
        draw.ellipse(rect, outline=CHOSEN, width=3)


def _fits_sums(text: str, size: int = 11) -> bool:
    font, _ = _font(size)
    return font.getlength(text) <= SUMS_WIDTH - 40


def _draw_conv_row(draw, walk: Walkthrough, geo: Layout, step: Step, row: int) -> None:
    o = step.out[0]
    y = geo.row_y(row)
    kernel = walk.kernel[o, row]
    kscale = float(np.abs(walk.kernel).max()) or 1.0
    label = walk.names.kernel(o, int(step.channels[row])).replace("\n", ", ")
    _text(draw, (geo.kernel_x, y - 16), label, 12, FAINT, "ld")
    _grid(draw, geo.kernel_x, y, kernel, geo.kcell, kscale)
    _text(draw, (geo.kernel_x - 20, y + kernel.shape[0] * geo.kcell / 2), "×", 20, INK, "mm")
    products = step.products[row]
    pscale = float(np.abs(products).max()) or 1.0
    _text(draw, (geo.products_x, y - 16), "products", 12, FAINT, "ld")
    _grid(draw, geo.products_x, y, products, geo.kcell, pscale)
    _text(draw, (geo.products_x - 20, y + kernel.shape[0] * geo.kcell / 2), "=", 20, INK, "mm")
    mid = y + kernel.shape[0] * geo.kcell / 2
    _text(draw, (geo.sums_x, mid - 26), f"Σ = {format_value(step.partial_sums[row])}", 16)
    _text(draw, (geo.sums_x, mid - 2), sum_terms(step.products[row], _fits_sums), 11, FAINT)


def _draw_output(draw, walk: Walkthrough, geo: Layout, step_index: int) -> None:
    step = walk.steps[step_index]
    o, _, _ = step.out
    row0, col0, rows, cols = walk.region
    per_channel = rows * cols
    first = step_index - step_index % per_channel
    values = np.full((rows, cols), np.nan)
    for done in walk.steps[first : step_index + 1]:
        values[done.out[1] - row0, done.out[2] - col0] = done.value
    x, oy = geo.output_x, geo.top
    for n, line in enumerate(result_lines(walk, step)):
        _text(draw, (x, oy + rows * geo.cell + 14 + 24 * n), line, 15)
    _text(draw, (x, oy - 18), walk.names.output(o), 12, FAINT, "ld")
    finite = values[np.isfinite(values)]
    scale = float(np.abs(finite).max(initial=0.0)) or 1.0
    kinds = np.where(np.isnan(values), OUTSIDE, INPUT)
    labels = (list(range(row0, row0 + rows)), list(range(col0, col0 + cols)))
    _grid(draw, x, oy, np.nan_to_num(values), geo.cell, scale, kinds, labels)
    cx, cy = x + (step.out[2] - col0) * geo.cell, oy + (step.out[1] - row0) * geo.cell
    _frame_rect(draw, (cx, cy, cx + geo.cell, cy + geo.cell), WINDOW, width=3)
    _text(draw, (geo.output_x - 30, oy + rows * geo.cell / 2), "→", 20, INK, "mm")


def render_frame(walk: Walkthrough, step_index: int, base: Image.Image | None = None):
    """The picture of one step as an RGB image (pass `base` from a previous call to reuse it)."""
    geo = layout(walk)
    image = (base if base is not None else _static(walk, geo)).copy()
    draw = ImageDraw.Draw(image)
    step = walk.steps[step_index]
    title = (
        f"step {step_index + 1} of {len(walk.steps)}: {walk.names.value(*step.out)} = "
        f"{format_value(step.value)}"
    )
    _text(draw, (16, 8), title, 15)
    _text(draw, (geo.width - 16, 8), walk.description(), 13, FAINT, "ra")
    _text(draw, (geo.input_x, geo.height - 14), window_text(walk, step), 12, WINDOW, "ls")
    for row in geo.channels:
        _draw_window(draw, walk, geo, step, row)
        if walk.kind == "conv":
            _draw_conv_row(draw, walk, geo, step, row)
    _draw_output(draw, walk, geo, step_index)
    if geo.grad_x:
        _draw_pool_grad(draw, walk, geo, step_index)
    return image


def _draw_pool_grad(draw, walk: Walkthrough, geo: Layout, step_index: int) -> None:
    """Pooling backward: ∂L/∂X of the step's channel so far, the cells it just got framed."""
    from cnnviz.core.conv_backward import pool_grad_so_far, pool_targets

    step = walk.steps[step_index]
    channel = int(step.channels[0])
    values = pool_grad_so_far(walk, step_index + 1)[channel]
    scale = float(np.abs(pool_grad_so_far(walk)).max()) or 1.0
    _text(draw, (geo.grad_x, geo.top - 18), f"∂L/∂X channel {channel} so far", 12, FAINT, "ld")
    labels = (list(range(values.shape[0])), list(range(values.shape[1])))
    _grid(draw, geo.grad_x, geo.top, values, geo.cell, scale, None, labels)
    for _, i, j in pool_targets(walk, step)[0]:
        x, y = geo.grad_x + j * geo.cell, geo.top + i * geo.cell
        _frame_rect(draw, (x, y, x + geo.cell, y + geo.cell), CHOSEN, width=3)


def gif_problem(walk: Walkthrough) -> str | None:
    """Why `walk` cannot be made into a GIF (too many frames, cells or pixels), or None."""
    count = len(walk.steps)
    if count > MAX_FRAMES:
        return (
            f"{count} output cells would make {count} frames; "
            f"at most {MAX_FRAMES} (choose a smaller input or a larger stride)"
        )
    r0, r1, c0, c1 = walk.window_box()
    if max(r1 - r0, c1 - c0) > MAX_GRID_SIDE:
        return (
            f"the padded input is {r1 - r0}x{c1 - c0} cells; at most {MAX_GRID_SIDE} per side "
            "can be drawn readably"
        )
    geo = layout(walk)
    pixels = count * geo.width * geo.height
    if pixels > MAX_GIF_PIXELS:
        return (
            f"{count} frames of {geo.width}x{geo.height} pixels would be {pixels / 1e6:,.0f} "
            f"million pixels; at most {MAX_GIF_PIXELS // 1_000_000} million (choose a smaller "
            "input or kernel, fewer channels, or a larger stride)"
        )
    return None


def write_gif(walk: Walkthrough, path, frame_ms: int = 800) -> int:
    """An animated GIF with one frame per step (the last one held longer); returns the count.

    ValueError (one line) when `gif_problem` finds it too large to make.
    """
    problem = gif_problem(walk)
    if problem:
        raise ValueError(problem)
    base = _static(walk, layout(walk))
    count = len(walk.steps)
    # One palette for the whole film, taken from its first, middle and last frames:
    # faster than a palette per frame, and colours do not flicker between frames.
    samples = [render_frame(walk, n, base) for n in (0, count // 2, count - 1)]
    strip = Image.new("RGB", (base.width, base.height * len(samples)))
    for n, sample in enumerate(samples):
        strip.paste(sample, (0, base.height * n))
    palette = strip.quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    # Each frame is reduced to its palette as soon as it is drawn: one byte per
    # pixel is kept, never three for the whole film.
    indexed = [
        render_frame(walk, n, base).quantize(palette=palette, dither=Image.Dither.NONE)
        for n in range(count)
    ]
    durations = [frame_ms] * count
    durations[-1] = frame_ms * 3
    path = Path(path)
    indexed[0].save(
        path, "GIF", save_all=True, append_images=indexed[1:], duration=durations, loop=0
    )
    log.info("wrote %d frames to %s", count, path)
    return count
