"""Render the cnnviz icon's PNG sizes from its SVG (run after editing the SVG).

    QT_QPA_PLATFORM=offscreen python packaging/linux/render_icons.py

The SVG is the single source: resources/icons/cnnviz.svg (the application
loads its window icon from there too). The PNGs go next to it as
cnnviz-<size>.png, for desktops and Qt styles that want bitmaps.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

ICON_SIZES = (16, 32, 48, 64, 128, 256, 512)
ICON_DIR = Path(__file__).resolve().parents[2] / "resources" / "icons"


def render(svg: Path, size: int) -> QImage:
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg}: not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    return image


def main() -> int:
    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # QSvgRenderer needs it
    svg = ICON_DIR / "cnnviz.svg"
    for size in ICON_SIZES:
        out = ICON_DIR / f"cnnviz-{size}.png"
        if not render(svg, size).save(str(out)):
            raise SystemExit(f"{out}: could not be written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
