"""The Linux desktop files are well formed, agree with each other, and install.

The structure is checked here in Python, so these tests prove something on
any machine; where ``desktop-file-validate`` and ``appstreamcli`` are
installed (Debian: desktop-file-utils, appstream) they must pass as well.
"""

from __future__ import annotations

import configparser
import datetime
import importlib.util
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

import cnnviz
from cnnviz.core.resources import resource_path

ROOT = Path(__file__).resolve().parents[1]
LINUX = ROOT / "packaging" / "linux"
APP_ID = "io.github.cnnviz.Cnnviz"
MIME_TYPE = "application/x-cnnviz-project"
MIME_NS = "{http://www.freedesktop.org/standards/shared-mime-info}"
ICON_SIZES = (16, 32, 48, 64, 128, 256, 512)
# How far (levels of 255, any channel) a stored icon may be from a fresh render
# of the SVG: rounding in antialiased edges differs between CPUs' raster paths by
# a level or two; any visible edit of the SVG moves some pixel much further.
ICON_TOLERANCE = 8
# Main and additional categories of the freedesktop menu specification we may use.
KNOWN_CATEGORIES = {
    "Education", "Science", "Development", "Graphics",
    "ArtificialIntelligence", "DataVisualization", "ComputerScience",
}  # fmt: skip


def run_validator(*command: str) -> None:
    """Run a validator if it is installed; it must accept the file."""
    if shutil.which(command[0]) is None:
        return
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout}{result.stderr}"


def desktop_entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive in desktop files
    parser.read(LINUX / f"{APP_ID}.desktop", encoding="utf-8")
    return parser["Desktop Entry"]


def test_desktop_entry_opens_project_files_with_cnnviz():
    entry = desktop_entry()
    assert entry["Type"] == "Application"
    assert entry["Name"] == "cnnviz"
    assert entry["Exec"].split() == ["cnnviz", "%f"]
    assert entry["Icon"] == APP_ID
    assert entry["Terminal"] == "false"
    assert entry["MimeType"].split(";") == [MIME_TYPE, ""]
    categories = entry["Categories"]
    assert categories.endswith(";")
    assert set(categories.rstrip(";").split(";")) <= KNOWN_CATEGORIES
    run_validator("desktop-file-validate", str(LINUX / f"{APP_ID}.desktop"))


def test_metainfo_describes_the_desktop_entry_and_the_file_type():
    path = LINUX / f"{APP_ID}.metainfo.xml"
    component = ET.parse(path).getroot()
    assert component.tag == "component"
    assert component.get("type") == "desktop-application"
    assert component.findtext("id") == APP_ID
    assert component.findtext("metadata_license") == "CC0-1.0"
    assert component.findtext("project_license") == "MIT"
    assert component.find("launchable").text == f"{APP_ID}.desktop"
    assert component.find("provides/mediatype").text == MIME_TYPE
    assert component.find("provides/binary").text == "cnnviz"
    assert len(component.findall("description/p")) >= 1
    release = component.find("releases/release")
    assert release.get("version") == cnnviz.__version__
    assert datetime.date.fromisoformat(release.get("date")) <= datetime.date.today()
    run_validator("appstreamcli", "validate", "--no-net", str(path))


def test_mime_type_claims_cnnviz_files_as_json():
    root = ET.parse(LINUX / "cnnviz-mime.xml").getroot()
    assert root.tag == f"{MIME_NS}mime-info"
    (mime,) = root.findall(f"{MIME_NS}mime-type")
    assert mime.get("type") == MIME_TYPE
    assert [g.get("pattern") for g in mime.findall(f"{MIME_NS}glob")] == ["*.cnnviz"]
    assert mime.find(f"{MIME_NS}sub-class-of").get("type") == "application/json"
    magic = mime.find(f"{MIME_NS}magic/{MIME_NS}match")
    assert magic.get("value") == '"cnnviz-project"'


def _load_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def _pixels(image) -> np.ndarray:
    """An image's premultiplied ARGB channels as an (H, W, 4) int array."""
    from PySide6.QtGui import QImage

    image = image.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)
    width, height = image.width(), image.height()
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(height, image.bytesPerLine())
    return rows[:, : width * 4].reshape(height, width, 4).astype(np.int16)


def _png_pixels(path: Path) -> np.ndarray:
    from PySide6.QtGui import QImage

    return _pixels(QImage(str(path)))


def _icon_difference(stored: np.ndarray, fresh: np.ndarray) -> int:
    """The largest difference of any channel of any pixel, in levels of 255."""
    assert stored.shape == fresh.shape
    return int(np.abs(stored - fresh).max())


def _render_svg(render_icons: ModuleType, svg_text: str, folder: Path, size: int):
    svg = folder / "icon.svg"
    svg.write_text(svg_text, encoding="utf-8")
    return _pixels(render_icons.render(svg, size))


def test_icons_exist_at_every_size_and_match_the_svg(qapp):
    render_icons = _load_module(LINUX / "render_icons.py")
    folder = resource_path("icons")
    svg = ET.parse(folder / "cnnviz.svg").getroot()
    assert svg.get("viewBox") == "0 0 64 64"
    for size in ICON_SIZES:
        png = folder / f"cnnviz-{size}.png"
        assert _png_size(png) == (size, size)
        # The PNGs are the SVG rendered: re-run render_icons.py after editing it.
        # Antialiased edges may come out a level or two apart on another CPU.
        stored = _png_pixels(png)
        fresh = _pixels(render_icons.render(folder / "cnnviz.svg", size))
        difference = _icon_difference(stored, fresh)
        assert difference <= ICON_TOLERANCE, (
            f"cnnviz-{size}.png is out of date with cnnviz.svg ({difference} levels apart)"
        )


# Small but visible edits of the SVG: each leaves a stale PNG behind.
STALE_EDITS = {
    "output cell recoloured": ('fill="#fde725"', 'fill="#fdc725"'),
    "one activation a shade greener": (
        '<rect x="8" y="24" width="8" height="8" fill="#472c7a"/>',
        '<rect x="8" y="24" width="8" height="8" fill="#475c7a"/>',
    ),
    "kernel window moved by one unit": ('rect x="18" y="34"', 'rect x="19" y="34"'),
    "link line thinner": ('stroke-width="2"', 'stroke-width="1.5"'),
}


@pytest.mark.parametrize("edit", STALE_EDITS, ids=list(STALE_EDITS))
def test_icon_comparison_catches_a_stale_icon_at_every_size(qapp, tmp_path, edit):
    render_icons = _load_module(LINUX / "render_icons.py")
    original = (resource_path("icons") / "cnnviz.svg").read_text(encoding="utf-8")
    old, new = STALE_EDITS[edit]
    assert original.count(old) == 1
    edited = original.replace(old, new)
    for size in ICON_SIZES:
        stored = _render_svg(render_icons, original, tmp_path, size)
        stale = _render_svg(render_icons, edited, tmp_path, size)
        assert _icon_difference(stored, stale) > ICON_TOLERANCE, f"{edit} at {size} px"


def test_icon_comparison_catches_a_shifted_icon_but_not_rounding(qapp):
    stored = _png_pixels(resource_path("icons") / "cnnviz-32.png")
    shifted = np.roll(stored, 1, axis=1)
    assert _icon_difference(stored, shifted) > ICON_TOLERANCE
    # What another CPU's raster path gave: a few edge pixels one level off.
    rounded = stored.copy()
    rounded[np.arange(8), np.arange(8) + 8, :3] += 1
    assert _icon_difference(stored, rounded) <= ICON_TOLERANCE


@pytest.fixture
def fake_cnnviz(tmp_path) -> Path:
    program = tmp_path / "bin" / "cnnviz"
    program.parent.mkdir()
    program.write_text("#!/bin/sh\nexit 0\n")
    program.chmod(0o755)
    return program


def test_install_script_installs_into_the_users_share_and_uninstalls(tmp_path, fake_cnnviz):
    data = tmp_path / "share"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_DATA_HOME": str(data)}
    script = str(LINUX / "install-desktop.sh")
    subprocess.run([script, "--exec", str(fake_cnnviz)], env=env, check=True, timeout=60)

    desktop = (data / "applications" / f"{APP_ID}.desktop").read_text()
    assert f"Exec={fake_cnnviz} %f" in desktop.splitlines()
    assert f"TryExec={fake_cnnviz}" in desktop.splitlines()
    assert (data / "metainfo" / f"{APP_ID}.metainfo.xml").is_file()
    assert (data / "mime" / "packages" / f"{APP_ID}.xml").is_file()
    assert (data / "icons/hicolor/scalable/apps" / f"{APP_ID}.svg").is_file()
    for size in ICON_SIZES:
        icon = data / f"icons/hicolor/{size}x{size}/apps/{APP_ID}.png"
        assert _png_size(icon) == (size, size)
    if shutil.which("update-mime-database"):
        assert f"{MIME_TYPE}:*.cnnviz" in (data / "mime" / "globs2").read_text()
    run_validator("desktop-file-validate", str(data / "applications" / f"{APP_ID}.desktop"))

    subprocess.run([script, "--uninstall"], env=env, check=True, timeout=60)
    assert not (data / "applications" / f"{APP_ID}.desktop").exists()
    assert not list(data.glob("icons/hicolor/*/apps/*"))


def test_install_script_refuses_a_missing_executable_in_one_line(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path)}
    result = subprocess.run(
        [str(LINUX / "install-desktop.sh"), "--exec", str(tmp_path / "nowhere")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"install-desktop.sh: '{tmp_path / 'nowhere'}' is not an executable file"
    ]
    assert not (tmp_path / "applications").exists()
