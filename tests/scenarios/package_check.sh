#!/bin/sh
# The Debian package built from this tree (packaging/build-deb.sh): lintian reports no error
# (warnings are printed), and the package holds what the service needs: the binary, the unit
# under /lib/systemd/system with maintainer scripts that enable it, /etc/driftd/driftd.yaml as
# a conffile, both manual pages (which render without groff warnings) and the Grafana
# dashboard. The packaged binary checks the packaged default configuration.
#   usage: package_check.sh SRC OUT
set -u
src=$1
out=$2
fail=0
pass=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
bad() { fail=$((fail + 1)); echo "FAIL - $1"; }

deb=$(sh "$src/packaging/build-deb.sh" "$out" 2) || { echo "FAIL - build-deb.sh"; exit 1; }
[ -f "$deb" ] && ok "built $deb" || { bad "no .deb"; exit 1; }

lint=$(lintian --fail-on error --display-level '>=warning' "$deb" 2>&1)
rc=$?
echo "$lint" | grep -v 'running with root privileges' | sed 's/^/# lintian: /'
[ $rc -eq 0 ] && ok "lintian: no error" || bad "lintian reported errors"

list=$(dpkg-deb -c "$deb")
for f in ./usr/bin/driftd ./lib/systemd/system/driftd.service ./etc/driftd/driftd.yaml \
	./usr/share/man/man8/driftd.8.gz ./usr/share/man/man5/driftd.yaml.5.gz \
	./usr/share/driftd/grafana/driftd.json ./usr/share/doc/driftd/copyright; do
	echo "$list" | grep -q " $f\$" && ok "contains $f" || bad "missing $f"
done
ctrl=$(mktemp -d)
dpkg-deb -e "$deb" "$ctrl"
grep -qx /etc/driftd/driftd.yaml "$ctrl/conffiles" && ok "driftd.yaml is a conffile" ||
	bad "driftd.yaml is not a conffile"
grep -q 'deb-systemd-helper.*enable.*driftd.service\|deb-systemd-helper' "$ctrl/postinst" 2>/dev/null &&
	ok "postinst enables the unit" || bad "no systemd handling in postinst"
tree=$(mktemp -d)
dpkg-deb -x "$deb" "$tree"
for m in "$tree/usr/share/man/man8/driftd.8.gz" "$tree/usr/share/man/man5/driftd.yaml.5.gz"; do
	w=$(man --warnings -l "$m" 2>&1 >/dev/null)
	[ -z "$w" ] && ok "$(basename "$m") renders cleanly" || bad "$(basename "$m"): $w"
done
"$tree/usr/bin/driftd" check -c "$tree/etc/driftd/driftd.yaml" >/dev/null 2>&1 &&
	ok "the packaged binary accepts the packaged configuration" ||
	bad "driftd check of the packaged configuration"
systemd-analyze security --offline=true --threshold=15 \
	"$tree/lib/systemd/system/driftd.service" >/dev/null 2>&1 &&
	ok "the packaged unit's exposure is at most 1.5" || bad "unit exposure above 1.5"
python3 -m json.tool "$tree/usr/share/driftd/grafana/driftd.json" >/dev/null &&
	ok "the dashboard is valid JSON" || bad "dashboard JSON"
rm -rf "$ctrl" "$tree"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
