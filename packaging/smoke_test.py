"""Smoke test of the standalone folder: does the built cnnviz start, compute, and stay quiet?

    python3 packaging/smoke_test.py [dist/cnnviz] [--screenshot OUT.png]

Runs the built program (not this checkout) with a throw-away HOME, offscreen:
its version, a headless summary, a torch forward pass of a bundled preset on a
bundled sample, one epoch of training (when the build has `cnnviz train`), a
user error (one line, exit 2, no traceback), and the window computing a preset
and saving a screenshot. Also checks that what the spec excludes stayed out.
Standard library only; exit status 0 when everything passed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXCLUDED = ("matplotlib", "scipy", "sklearn", "pytest", "hypothesis", "IPython", "tkinter")
SCREENSHOT_TIMEOUT_S = 240


class SmokeFailure(Exception):
    pass


def run(program: Path, args: list[str], env: dict[str, str], timeout: float):
    started = time.perf_counter()
    result = subprocess.run(
        [str(program), *args], env=env, capture_output=True, text=True, timeout=timeout
    )
    return result, time.perf_counter() - started


def expect(condition: bool, message: str, result=None) -> None:
    if not condition:
        detail = f"\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}" if result else ""
        raise SmokeFailure(message + detail)


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    if header[:8] != b"\x89PNG\r\n\x1a\n":
        raise SmokeFailure(f"{path} is not a PNG")
    return struct.unpack(">II", header[16:24])


def check_cli(program: Path, folder: Path, env: dict[str, str], home: Path) -> None:
    result, _ = run(program, ["--version"], env, 120)
    expect(result.returncode == 0 and result.stdout.startswith("cnnviz "), "--version", result)
    print(f"ok   {result.stdout.strip()}", flush=True)

    result, seconds = run(program, ["summary", "lenet5"], env, 120)
    expect(result.returncode == 0 and "Conv2d" in result.stdout, "summary lenet5", result)
    print(f"ok   cnnviz summary lenet5 ({seconds:.1f} s)", flush=True)

    digit = next(folder.glob("**/cnnviz/resources/samples/digit_3.png"), None)
    expect(digit is not None, f"the bundled samples are missing in {folder}")
    acts = home / "lenet5_digit3.npz"
    result, seconds = run(program, ["run", "lenet5", str(digit), "--out", str(acts)], env, 240)
    expect(result.returncode == 0 and acts.is_file(), "run lenet5 on a digit (torch)", result)
    print(
        f"ok   cnnviz run lenet5 digit_3.png: torch forward, {acts.name} ({seconds:.1f} s)",
        flush=True,
    )

    check_training(program, env, home)

    result, _ = run(program, ["summary", "no_such_network.json"], env, 120)
    expect(result.returncode == 2, "a missing file must exit with status 2", result)
    expect("Traceback" not in result.stderr, "a user error must not print a traceback", result)
    expect(len(result.stderr.strip().splitlines()) == 1, "a user error is one line", result)
    print(f"ok   user error in one line: {result.stderr.strip()}", flush=True)


def check_training(program: Path, env: dict[str, str], home: Path) -> None:
    """One epoch on the bundled digits: the optimizer step pulls in torch._dynamo and sympy."""
    result, _ = run(program, ["--help"], env, 120)
    if "train" not in result.stdout.split("Commands:")[-1]:
        print("--   no train command in this build: training not checked", flush=True)
        return
    weights = home / "interview.safetensors"
    args = ["train", "interview", "--dataset", "digits", "--epochs", "1", "--seed", "0"]
    result, seconds = run(program, [*args, "--out", str(weights), "--json"], env, 300)
    expect(result.returncode == 0 and weights.is_file(), "train interview, 1 epoch", result)
    accuracy = json.loads(result.stdout)["test_accuracy"]
    print(f"ok   cnnviz train interview: 1 epoch, test accuracy {accuracy:.3f} ({seconds:.1f} s)")


def check_window(
    program: Path, folder: Path, env: dict[str, str], home: Path, keep: Path | None
) -> None:
    presets = list(folder.glob("**/cnnviz/resources/presets/lenet5.json"))
    expect(len(presets) == 1, f"the bundled presets are missing in {folder}")
    shot = home / "lenet5.png"
    result, seconds = run(
        program, ["--open", str(presets[0]), "--screenshot", str(shot)], env, SCREENSHOT_TIMEOUT_S
    )
    expect(result.returncode == 0, "the window did not compute LeNet-5", result)
    expect("Traceback" not in result.stderr, "a traceback was printed", result)
    width, height = png_size(shot)
    expect(width >= 400 and height >= 300, f"screenshot only {width}x{height}")
    logs = list(home.glob("**/cnnviz/logs/cnnviz.log"))
    log_text = logs[0].read_text(encoding="utf-8") if logs else ""
    expect("Unexpected error" not in log_text, f"the log recorded an error:\n{log_text}")
    if keep is not None:
        shutil.copyfile(shot, keep)
    where = f" saved to {keep}" if keep else ""
    print(f"ok   window computed LeNet-5 in {seconds:.1f} s, screenshot {width}x{height}{where}")


def check_contents(folder: Path) -> None:
    internal = folder / "_internal"
    present = [name for name in EXCLUDED if (internal / name).exists()]
    expect(not present, f"excluded packages were bundled: {present}")
    for name in ("cnnviz/resources/presets", "cnnviz/resources/icons", "torch", "PySide6"):
        expect((internal / name).exists(), f"{name} is missing from the bundle")
    expect((folder / "desktop" / "install-desktop.sh").is_file(), "desktop files missing")
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
    print(
        f"ok   contents: no {', '.join(EXCLUDED)}; folder size {size / 2**20:.0f} MiB", flush=True
    )


def main() -> int:
    parser = argparse.ArgumentParser(description="Smoke test of the standalone cnnviz folder.")
    parser.add_argument("folder", nargs="?", type=Path, default=ROOT / "dist" / "cnnviz")
    parser.add_argument("--screenshot", type=Path, help="keep the window's screenshot here")
    args = parser.parse_args()
    folder = args.folder.resolve()
    program = folder / ("cnnviz.exe" if os.name == "nt" else "cnnviz")
    if not program.is_file():
        print(f"smoke test: {program} not found; build it with packaging/build.sh", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="cnnviz-smoke-") as tmp:
        home = Path(tmp)
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(home),
            "XDG_DATA_HOME": str(home / "share"),
            "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_CACHE_HOME": str(home / "cache"),
            "XDG_RUNTIME_DIR": str(home / "runtime"),
            "QT_QPA_PLATFORM": "offscreen",
            "LANG": "C.UTF-8",
        }
        (home / "runtime").mkdir(mode=0o700)
        try:
            check_contents(folder)
            check_cli(program, folder, env, home)
            check_window(program, folder, env, home, args.screenshot)
        except (SmokeFailure, subprocess.TimeoutExpired) as exc:
            print(f"FAIL {exc}", file=sys.stderr)
            return 1
    print("smoke test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
