#!/usr/bin/env bash
# Build the standalone cnnviz folder, dist/cnnviz/, with PyInstaller.
#
#   packaging/build.sh            incremental build (reuses build/pyinstaller)
#   packaging/build.sh --clean    from scratch
#
# Uses $PYTHON (default: python3), which needs cnnviz's dependencies and
# PyInstaller: pip install -e ".[package]". Then run packaging/smoke_test.py.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=${PYTHON:-python3}
clean=()
case "${1:-}" in
    --clean) clean=(--clean) ;;
    "") ;;
    *) echo "build.sh: unknown option '$1' (use --clean or nothing)" >&2; exit 2 ;;
esac

if ! "$python" -c "import PyInstaller" 2>/dev/null; then
    echo "build.sh: PyInstaller is missing for $python: pip install -e \".[package]\"" >&2
    exit 2
fi

start=$(date +%s)
"$python" -m PyInstaller --noconfirm "${clean[@]}" --log-level WARN \
    --distpath "$root/dist" --workpath "$root/build/pyinstaller" \
    "$root/packaging/cnnviz.spec"

# The desktop integration travels with the folder: dist/cnnviz/desktop/install-desktop.sh.
desktop="$root/dist/cnnviz/desktop"
mkdir -p "$desktop/icons"
cp "$root"/packaging/linux/*.desktop "$root"/packaging/linux/*.metainfo.xml \
    "$root/packaging/linux/cnnviz-mime.xml" "$root/packaging/linux/install-desktop.sh" "$desktop/"
cp "$root"/resources/icons/cnnviz.svg "$root"/resources/icons/cnnviz-*.png "$desktop/icons/"

seconds=$(( $(date +%s) - start ))
size=$(du -sh "$root/dist/cnnviz" | cut -f1)
echo "Built $root/dist/cnnviz in ${seconds} s ($size). Check it: python3 packaging/smoke_test.py"
