#!/bin/sh
# Build the driftd Debian package from this tree: the tracked and new (not ignored) files are
# copied to OUT/driftd-VERSION with packaging/debian as debian/, then dpkg-buildpackage builds
# the binary package. The .deb lands in OUT. Needs the build dependencies of
# packaging/debian/control (packaging/install-deps.sh installs them) and dpkg-dev, debhelper.
#   usage: packaging/build-deb.sh [OUT] [JOBS]
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$src/build-deb}
jobs=${2:-$(nproc)}
version=$(dpkg-parsechangelog -l "$src/packaging/debian/changelog" -S Version)
tree="$out/driftd-$version"
rm -rf "$tree" "$out"/driftd_*
mkdir -p "$tree"
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
	# Files deleted in the working tree but still tracked are skipped.
	(cd "$src" && git ls-files -co --exclude-standard | while read -r f; do
		[ -e "$f" ] && printf '%s\n' "$f"; done) >"$out/files"
else
	(cd "$src" && find . -path './build*' -prune -o -type f -print) >"$out/files"
fi
tar -C "$src" -cf - -T "$out/files" | tar -C "$tree" -xf -
rm -rf "$tree/debian"
cp -r "$src/packaging/debian" "$tree/debian"
cd "$tree"
DEB_BUILD_OPTIONS="parallel=$jobs ${DEB_BUILD_OPTIONS:-}" \
	dpkg-buildpackage -b -us -uc --no-sign >"$out/build.log" 2>&1 || {
	tail -50 "$out/build.log" >&2
	exit 1
}
ls "$out"/driftd_*.deb
