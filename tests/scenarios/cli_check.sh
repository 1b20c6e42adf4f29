#!/bin/sh
# `driftd check` on every tests/scenarios/bad-*.yaml must exit 1 and print the location and
# message named on the file's first line ("# expect: LINE:COL: text"); good-*.yaml must pass.
# Also: --version, --help of each command, and replay of garbage-only input exiting 0.
set -u
driftd=$1
dir=$2
fail=0
pass=0
for f in "$dir"/bad-*.yaml; do
	want=$(sed -n '1s/^# expect: //p' "$f")
	out=$("$driftd" check -c "$f" 2>&1)
	rc=$?
	if [ $rc -ne 1 ]; then
		echo "FAIL $f: exit $rc, want 1: $out"; fail=$((fail + 1)); continue
	fi
	case "$out" in
	*"$f:$want"*) pass=$((pass + 1)) ;;
	*) echo "FAIL $f: want '$f:$want' in: $out"; fail=$((fail + 1)) ;;
	esac
done
for f in "$dir"/good-*.yaml "$dir"/security.yaml "$dir"/llm.yaml "$dir"/../../packaging/driftd.yaml; do
	if out=$("$driftd" check -c "$f" 2>&1); then pass=$((pass + 1)); else
		echo "FAIL $f: $out"; fail=$((fail + 1)); fi
done
for cmd in replay check detectors demo run baseline purge report state; do
	if "$driftd" $cmd --help >/dev/null 2>&1; then pass=$((pass + 1)); else
		echo "FAIL: driftd $cmd --help"; fail=$((fail + 1)); fi
done
if "$driftd" --version | grep -q '^driftd [0-9]'; then pass=$((pass + 1)); else
	echo "FAIL: --version"; fail=$((fail + 1)); fi
# Garbage only: processed (exit 0), nothing on stdout, rejects reported.
out=$(printf 'garbage\n[1]\n{"a":\n\n' | "$driftd" replay -c "$dir/good-minimal.yaml" 2>/tmp/driftd-cli-err.$$)
rc=$?
if [ $rc -eq 0 ] && [ -z "$out" ] && grep -q -- '-:1: record rejected: syntax' /tmp/driftd-cli-err.$$; then
	pass=$((pass + 1)); else echo "FAIL: garbage replay rc=$rc out=$out"; cat /tmp/driftd-cli-err.$$; fail=$((fail + 1)); fi
rm -f /tmp/driftd-cli-err.$$
# Missing input file: exit 1 with the name.
if "$driftd" replay -c "$dir/good-minimal.yaml" /nonexistent/x.jsonl 2>&1 | grep -q '/nonexistent/x.jsonl'; then
	pass=$((pass + 1)); else echo "FAIL: missing input not reported"; fail=$((fail + 1)); fi
# purge: without --yes only lists; with --yes wipes and removes the state and spool contents
# but keeps the directories themselves.
pg=$(mktemp -d)
mkdir -p "$pg/state/sub" "$pg/spool/webhook"
echo secret >"$pg/state/a"; echo x >"$pg/state/sub/b"; echo y >"$pg/spool/webhook/c"
printf 'monitors: [{name: a, field: /x, detector: page_hinkley}]\nstate: {dir: %s/state}\nalerts: {spool_dir: %s/spool}\n' "$pg" "$pg" >"$pg/c.yaml"
"$driftd" purge -c "$pg/c.yaml" 2>/dev/null
if [ -f "$pg/state/sub/b" ] && [ -f "$pg/spool/webhook/c" ]; then pass=$((pass + 1)); else
	echo "FAIL: purge without --yes removed files"; fail=$((fail + 1)); fi
"$driftd" purge -c "$pg/c.yaml" --yes 2>/dev/null
left=$(find "$pg/state" "$pg/spool" -mindepth 1 | wc -l)
if [ "$left" -eq 0 ] && [ -d "$pg/state" ] && [ -d "$pg/spool" ]; then pass=$((pass + 1)); else
	echo "FAIL: purge --yes left $left entries"; fail=$((fail + 1)); fi
rm -rf "$pg"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
