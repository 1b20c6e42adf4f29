#!/bin/bash
# Runs inside the test VM (driftd-vmtest.service, tests/vm/build_image.sh) under real systemd
# 252; its output goes to the second serial port and test_vm.py reads it: "ok - ...",
# "FAIL - ...", "# ..." notes, and "END" last. /mnt/t (the second disk) holds driftd.deb,
# this script and env (RPORT: the host receiver's port, reached as 10.0.2.2 through QEMU's
# user networking; SECRET: its signing secret; CPORT: where the host's scraper says whether it
# scraped this service's metrics through QEMU's hostfwd).
set -u
T=/mnt/t
. "$T/env"
ok() { echo "ok - $1"; }
bad() { echo "FAIL - $1${2:+: $2}"; }
check() {
	local what=$1
	shift
	if "$@"; then ok "$what"; else bad "$what"; fi
}
# Wait (bounded, polling) until a command succeeds.
until_ok() {
	local n=$1
	shift
	for _ in $(seq "$n"); do
		"$@" && return 0
		sleep 0.5
	done
	return 1
}
prop() { systemctl show -p "$1" --value driftd; }
journal() { journalctl -q --no-pager -o cat "_SYSTEMD_INVOCATION_ID=$(prop InvocationID)"; }
journal_has() { journal | grep -q -- "$1"; }
http_get() { # PATH -> status line and body on stdout, from 127.0.0.1:9464
	exec 3<>/dev/tcp/127.0.0.1/9464 || return 1
	printf 'GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n' "$1" >&3
	cat <&3
	exec 3>&-
}
metric() { http_get /metrics | grep -E "^$1 " | awk '{print $2}'; }

echo "# guest: kernel $(uname -r), $(systemctl --version | head -1)"
echo "# boot to the test unit: $(cut -d' ' -f1 /proc/uptime) s"
# No udev in a minbase root: the address QEMU's user networking expects, by hand.
ip link set lo up
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2

# 1. Install: dpkg runs the package's maintainer scripts under this systemd.
dpkg -i "$T/driftd.deb" >/tmp/dpkg.log 2>&1
check "dpkg -i installs the package" [ $? -eq 0 ]
check "the package enabled the unit" systemctl is-enabled --quiet driftd
check "the package started it with the default configuration" \
	until_ok 60 systemctl is-active --quiet driftd

# 2. A configuration of our own: librdkafka's in-process mock cluster as the broker (the VM
# has no Kafka), a webhook sink to the host's receiver with its secret passed through
# LoadCredential=, and a short watchdog so the watchdog check does not wait 30 s.
printf '%s\n' "$SECRET" >/etc/driftd/webhook-secret
chmod 600 /etc/driftd/webhook-secret
mkdir -p /etc/systemd/system/driftd.service.d
# Fault injection for step 9: hang.so hangs the consume loop when /etc/driftd/hang holds its PID.
install -m 0644 "$T/hang.so" /usr/local/lib/driftd-hang.so
cat >/etc/systemd/system/driftd.service.d/test.conf <<EOF
[Service]
LoadCredential=webhook-secret:/etc/driftd/webhook-secret
WatchdogSec=4s
TimeoutAbortSec=3s
Environment=LD_PRELOAD=/usr/local/lib/driftd-hang.so
EOF
cat >/etc/driftd/driftd.yaml <<EOF
source:
  kafka:
    brokers: "127.0.0.1:9092"
    topics: [inference-logs]
    group: driftd
    properties: {test.mock.num.brokers: "1"}
monitors:
  - {name: score-shift, field: /output/score, detector: page_hinkley}
alerts:
  sinks:
    - stdout: {}
    - webhook:
        url: "http://10.0.2.2:$RPORT/hook"
        secret_file: /run/credentials/driftd.service/webhook-secret
metrics: {listen: "0.0.0.0:9464"}  # the host scrapes it through QEMU's hostfwd
EOF
cp /etc/driftd/driftd.yaml /tmp/good.yaml
systemctl daemon-reload
# PID 1 logs, in order, the notifications it gets and the unit's state changes (debug level).
since=$(date +%s)
systemd-analyze log-level debug
systemctl restart driftd
check "restart with the test configuration" systemctl is-active --quiet driftd
systemd-analyze log-level info

# 3. Active only after READY: in PID 1's own log, READY=1 from driftd comes before the unit
# went from start to running, and driftd was in state start until then.
check "Type=notify" [ "$(prop Type)" = notify ]
journalctl -q --no-pager -o cat _PID=1 --since "@$since" | grep 'driftd.service: ' >/tmp/pid1.log
ready_n=$(grep -n "Got notification message from PID $(prop MainPID) (READY=1" /tmp/pid1.log |
	head -1 | cut -d: -f1)
running_n=$(grep -n 'Changed start -> running' /tmp/pid1.log | head -1 | cut -d: -f1)
grep -E 'READY=1|Changed' /tmp/pid1.log | sed 's/^/# pid1: /' | cut -c1-160
check "active only after driftd sent READY=1 (PID 1 log lines ${ready_n:-?} then ${running_n:-?})" \
	bash -c "[ -n '$ready_n' ] && [ -n '$running_n' ] && [ '$ready_n' -lt '$running_n' ]"

# 4. STATUS= summary.
check "STATUS shows the summary" until_ok 30 bash -c \
	'systemctl show -p StatusText --value driftd | grep -q "events/s, lag .*firing, spool"'
echo "# StatusText: $(prop StatusText)"

# 5. Dynamic user, read-only /.
pid=$(prop MainPID)
uid=$(stat -c %u "/proc/$pid")
check "runs as a dynamic user (uid $uid)" bash -c "[ '$uid' -ge 61184 ] && [ '$uid' -le 65519 ]"
rootopts=$(awk '$5 == "/" {print $6}' "/proc/$pid/mountinfo" | tail -1)
check "/ is read-only for the service ($rootopts)" bash -c "echo '$rootopts' | grep -q '^ro'"
stateopts=$(awk '$5 == "/var/lib/private/driftd" || $5 == "/var/lib/driftd" {print $6}' \
	"/proc/$pid/mountinfo" | tail -1)
check "its state directory is writable ($stateopts)" bash -c "echo '$stateopts' | grep -q '^rw'"
check "the spool belongs to the dynamic user" \
	[ "$(stat -c %u /var/lib/private/driftd/spool/webhook 2>/dev/null)" = "$uid" ]

# 6. Metrics on 127.0.0.1 inside the unit's sandbox.
check "metrics: /healthz answers" until_ok 20 bash -c "$(declare -f http_get); http_get /healthz | grep -q '^HTTP/1.1 [25]0[03]'"
check "metrics: driftd_build_info" bash -c "$(declare -f http_get); http_get /metrics | grep -q '^driftd_build_info{version='"

check "the host scraped the metrics through hostfwd (its scraper says so)" until_ok 240 bash -c \
	"exec 3<>/dev/tcp/10.0.2.2/$CPORT && printf 'GET /scraped HTTP/1.0\r\n\r\n' >&3 && head -1 <&3 | grep -q ' 200 '"

# 7. Reload with a good configuration: same process, state kept, audited.
awk '/^monitors:/ {print; print "  - {name: input-shift, field: /input/x, detector: page_hinkley}"; next} {print}' \
	/tmp/good.yaml >/etc/driftd/driftd.yaml
cp /etc/driftd/driftd.yaml /tmp/good2.yaml
systemctl reload driftd
check "systemctl reload (good configuration) succeeds" [ $? -eq 0 ]
check "the reload is audited: 2 monitors, 1 kept its state" until_ok 30 bash -c \
	"$(declare -f prop journal); journal | grep -q 'audit: configuration reloaded from .*2 monitors, 1 kept their state'"
check "same process after the reload" [ "$(prop MainPID)" = "$pid" ]
check "metrics count the reload" until_ok 10 bash -c \
	"$(declare -f http_get metric); [ \"\$(metric 'driftd_reloads_total\{result=\"success\"\}')\" = 1 ]"

# 8. Reload with a bad configuration: refused, the old one keeps running, self-alert to the
# host (test_vm.py checks the receiver got it, signed).
echo "bogus_key: 1" >>/etc/driftd/driftd.yaml
systemctl reload driftd
check "the refused reload is audited" until_ok 30 bash -c \
	"$(declare -f prop journal); journal | grep -q 'audit: reload of .* refused'"
check "still active, same process" bash -c "systemctl is-active --quiet driftd && [ \"\$(systemctl show -p MainPID --value driftd)\" = $pid ]"
check "the self-alert was delivered to the host receiver" until_ok 60 bash -c \
	"$(declare -f http_get metric); [ \"\$(metric 'driftd_sink_delivered_total\{sink=\"webhook\",type=\"webhook\"\}')\" = 1 ]"
cp /tmp/good2.yaml /etc/driftd/driftd.yaml

# 9. A hung consume loop (only that thread: librdkafka's and the metrics thread run on): the
# watchdog (4 s here) kills the process and systemd starts it again.
restarts=$(prop NRestarts)
echo "$pid" >/etc/driftd/hang
echo "# while the loop hangs, the metrics thread answers: $(http_get /healthz 2>/dev/null | head -1)"
check "the watchdog kills the process whose consume loop hangs and systemd restarts it" until_ok 120 bash -c \
	"[ \"\$(systemctl show -p MainPID --value driftd)\" != $pid ] && systemctl is-active --quiet driftd && [ \"\$(systemctl show -p NRestarts --value driftd)\" -gt $restarts ]"
rm -f /etc/driftd/hang
check "the journal says it was the watchdog" bash -c \
	"journalctl -q --no-pager -u driftd | grep -q 'Watchdog timeout'"
echo "# NRestarts: $(prop NRestarts)"

# 10. systemctl stop: flush, commit, exit 0.
pid=$(prop MainPID)
inv=$(prop InvocationID)
systemctl stop driftd
check "systemctl stop: clean exit (Result=success, status 0)" \
	bash -c "[ '$(prop Result)' = success ] && [ '$(prop ExecMainStatus)' = 0 ]"
check "the shutdown flushed and committed (summary line)" bash -c \
	"journalctl -q --no-pager -o cat _SYSTEMD_INVOCATION_ID=$inv | grep -q 'driftd: kafka: .* records'"
left=$(find /var/lib/private/driftd/spool/webhook -maxdepth 1 -name '*.msg' | wc -l)
check "nothing left in the webhook spool ($left)" [ "$left" -eq 0 ]
journalctl -q --no-pager -u driftd | tail -15 | sed 's/^/# journal: /'
echo END
