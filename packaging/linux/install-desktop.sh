#!/usr/bin/env bash
# Install cnnviz into the desktop for the current user: menu entry, icons,
# AppStream metadata and the *.cnnviz file type (double-click opens cnnviz).
#
#   install-desktop.sh                 use the cnnviz next to this script
#                                      (standalone folder) or on the PATH
#   install-desktop.sh --exec PATH     use this cnnviz executable
#   install-desktop.sh --uninstall     remove what an earlier run installed
#
# Installs under ${XDG_DATA_HOME:-~/.local/share}; needs no root.
set -euo pipefail

APP_ID=io.github.cnnviz.Cnnviz
MIME_ICON=application-x-cnnviz-project
SIZES="16 32 48 64 128 256 512"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
data=${XDG_DATA_HOME:-$HOME/.local/share}

usage() { sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
die() { echo "install-desktop.sh: $*" >&2; exit 2; }

exec_path=""
action=install
while [ $# -gt 0 ]; do
    case "$1" in
        --exec) [ $# -ge 2 ] || die "--exec needs the path of the cnnviz executable"; exec_path=$2; shift 2 ;;
        --uninstall) action=uninstall; shift ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown option '$1' (try --help)" ;;
    esac
done

# The icons: next to this script in the standalone folder, in resources/ in a checkout.
icons=""
for candidate in "$here/icons" "$here/../../resources/icons"; do
    if [ -f "$candidate/cnnviz.svg" ]; then icons=$(cd "$candidate" && pwd); break; fi
done

installed_files() {
    echo "$data/applications/$APP_ID.desktop"
    echo "$data/metainfo/$APP_ID.metainfo.xml"
    echo "$data/mime/packages/$APP_ID.xml"
    echo "$data/icons/hicolor/scalable/apps/$APP_ID.svg"
    echo "$data/icons/hicolor/scalable/mimetypes/$MIME_ICON.svg"
    for size in $SIZES; do
        echo "$data/icons/hicolor/${size}x${size}/apps/$APP_ID.png"
        echo "$data/icons/hicolor/${size}x${size}/mimetypes/$MIME_ICON.png"
    done
}

refresh_caches() {
    # Each tool is optional: without it the desktop picks the files up later.
    if command -v update-desktop-database >/dev/null; then
        update-desktop-database -q "$data/applications" || true
    fi
    if command -v update-mime-database >/dev/null; then
        update-mime-database "$data/mime" || true
    fi
    if command -v gtk-update-icon-cache >/dev/null && [ -f "$data/icons/hicolor/index.theme" ]; then
        gtk-update-icon-cache -q -t -f "$data/icons/hicolor" || true
    fi
}

if [ "$action" = uninstall ]; then
    installed_files | while read -r file; do rm -f "$file"; done
    refresh_caches
    echo "cnnviz removed from the desktop ($data)"
    exit 0
fi

if [ -z "$exec_path" ]; then
    if [ -x "$here/../cnnviz" ] && [ -f "$here/../cnnviz" ]; then
        exec_path="$here/../cnnviz"            # the standalone folder
    elif command -v cnnviz >/dev/null; then
        exec_path=$(command -v cnnviz)         # pip / pipx install
    else
        die "no cnnviz executable found: install cnnviz first, or pass --exec PATH"
    fi
fi
[ -x "$exec_path" ] || die "'$exec_path' is not an executable file"
exec_path=$(cd "$(dirname "$exec_path")" && pwd)/$(basename "$exec_path")
[ -n "$icons" ] || die "the cnnviz icons were not found next to $here"
case "$exec_path" in
    *[[:space:]\"\'\\\`\$]*) die "the path '$exec_path' has spaces or quotes; move cnnviz to a plain path" ;;
esac

mkdir -p "$data/applications" "$data/metainfo" "$data/mime/packages" \
    "$data/icons/hicolor/scalable/apps" "$data/icons/hicolor/scalable/mimetypes"
sed -e "s|^Exec=cnnviz |Exec=$exec_path |" -e "s|^TryExec=cnnviz$|TryExec=$exec_path|" \
    "$here/$APP_ID.desktop" > "$data/applications/$APP_ID.desktop"
install -m 644 "$here/$APP_ID.metainfo.xml" "$data/metainfo/$APP_ID.metainfo.xml"
install -m 644 "$here/cnnviz-mime.xml" "$data/mime/packages/$APP_ID.xml"
install -m 644 "$icons/cnnviz.svg" "$data/icons/hicolor/scalable/apps/$APP_ID.svg"
install -m 644 "$icons/cnnviz.svg" "$data/icons/hicolor/scalable/mimetypes/$MIME_ICON.svg"
for size in $SIZES; do
    for kind in apps mimetypes; do
        mkdir -p "$data/icons/hicolor/${size}x${size}/$kind"
    done
    install -m 644 "$icons/cnnviz-$size.png" "$data/icons/hicolor/${size}x${size}/apps/$APP_ID.png"
    install -m 644 "$icons/cnnviz-$size.png" \
        "$data/icons/hicolor/${size}x${size}/mimetypes/$MIME_ICON.png"
done
refresh_caches
echo "cnnviz added to the desktop ($data), starting $exec_path"
