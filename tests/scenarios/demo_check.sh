#!/bin/sh
# `driftd demo` end to end through the mock Kafka cluster: exits 0 within its bound, prints
# firing alerts for the poisoned feature with Kafka coordinates, none for the clean ones.
set -u
out=$(mktemp)
err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
timeout 90 "$1" demo >"$out" 2>"$err"
rc=$?
pass=0
fail=0
check() { if eval "$2"; then pass=$((pass + 1)); else echo "FAIL: $1"; fail=$((fail + 1)); fi; }
check "exit 0 (got $rc)" '[ $rc -eq 0 ]'
check "amount-ks fires" 'grep -q "\"rule\":\"amount-ks\"" "$out" && grep "\"rule\":\"amount-ks\"" "$out" | grep -q "\"status\":\"firing\""'
check "alerts carry kafka coordinates" 'grep "\"status\":\"firing\"" "$out" | head -1 | grep -q "\"kafka.offset\":[0-9]"'
check "no alert for the clean features" '! grep -q "\"rule\":\"age-ks\"\|\"rule\":\"tpd-psi\"" "$out"'
check "stdout is alerts only" '! grep -qv "^{\"id\":" "$out"'
check "all records consumed" 'grep -q "kafka: 20000 records, 20000 offsets stored" "$err"'
[ $fail -eq 0 ] || cat "$err"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
