#!/usr/bin/env bash
# A real Apache Kafka broker for the integration tests: single node, KRaft combined mode
# (broker + controller in one JVM), listening on 127.0.0.1 only, from the official jars that
# Maven resolves (pom.xml beside this script).
#
#   broker.sh fetch                    resolve the jars into the cache (nothing when present)
#   broker.sh start DIR                fetch if needed, configure, format, start, wait until
#                                      ready; prints the bootstrap address (also DIR/bootstrap)
#   broker.sh stop DIR                 SIGTERM, then SIGKILL after DRIFTD_KAFKA_STOP_TIMEOUT
#   broker.sh topic DIR NAME PARTS     create a topic (replication factor 1)
#   broker.sh libs                     print the directory holding the jars
#
# `start` on a DIR whose storage is already formatted restarts that broker on the same ports
# with its data (for restart tests); on a fresh DIR it picks free ports.
#
# Environment (all optional):
#   DRIFTD_KAFKA_CACHE          cache root (default ${XDG_CACHE_HOME:-~/.cache}/driftd-kafka);
#                               jars go to CACHE/<kafka version>/libs
#   DRIFTD_KAFKA_LIBS           use this directory of jars as is (no fetch)
#   DRIFTD_KAFKA_START_TIMEOUT  seconds to wait for readiness (default 120)
#   DRIFTD_KAFKA_STOP_TIMEOUT   seconds between SIGTERM and SIGKILL (default 30)
#   DRIFTD_KAFKA_FETCH_TIMEOUT  seconds for the Maven resolution (default 600)
#   DRIFTD_KAFKA_PARENT_PID     stop the broker when this process is gone (the harness sets it,
#                               so a test killed by ctest's timeout leaves no broker behind)
#   DRIFTD_KAFKA_MAX_LIFETIME   stop the broker after this many seconds whatever happens
#                               (default 3600)
#   JAVA, MVN                   the java and mvn commands (default: from PATH)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
POM="$HERE/pom.xml"
JAVA=${JAVA:-java}
MVN=${MVN:-mvn}
START_TIMEOUT=${DRIFTD_KAFKA_START_TIMEOUT:-120}
STOP_TIMEOUT=${DRIFTD_KAFKA_STOP_TIMEOUT:-30}
FETCH_TIMEOUT=${DRIFTD_KAFKA_FETCH_TIMEOUT:-600}
MAX_LIFETIME=${DRIFTD_KAFKA_MAX_LIFETIME:-3600}

die() { echo "broker.sh: $*" >&2; exit 1; }
log() { echo "broker.sh: $*" >&2; }

# The Kafka version is the one the POM names; it keys the cache directory.
kafka_version() {
	sed -n 's:.*<kafka\.version>\(.*\)</kafka\.version>.*:\1:p' "$POM" | head -n 1
}

cache_root() {
	local home=${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}
	echo "${DRIFTD_KAFKA_CACHE:-${XDG_CACHE_HOME:-$home/.cache}/driftd-kafka}"
}

libs_dir() {
	if [ -n "${DRIFTD_KAFKA_LIBS:-}" ]; then
		echo "$DRIFTD_KAFKA_LIBS"
	else
		echo "$(cache_root)/$(kafka_version)/libs"
	fi
}

pom_sum() { sha256sum "$POM" | cut -d' ' -f1; }

# The cache is complete when its stamp names the POM it was resolved from: a changed POM
# (another version, another dependency) resolves again.
libs_complete() {
	local libs=$1
	[ -f "$libs/.complete" ] && [ "$(cat "$libs/.complete")" = "$(pom_sum)" ] \
		&& compgen -G "$libs/kafka_2.13-*.jar" >/dev/null
}

cmd_fetch() {
	local libs version root tmp t0 rc
	libs=$(libs_dir)
	if [ -n "${DRIFTD_KAFKA_LIBS:-}" ]; then
		compgen -G "$libs/kafka_2.13-*.jar" >/dev/null \
			|| die "DRIFTD_KAFKA_LIBS=$libs holds no kafka_2.13 jar"
		return 0
	fi
	libs_complete "$libs" && return 0
	version=$(kafka_version)
	[ -n "$version" ] || die "no <kafka.version> in $POM"
	command -v "$MVN" >/dev/null || die "mvn not found (packaging/install-deps.sh installs maven)"
	root=$(dirname "$libs")
	mkdir -p "$root"
	# One fetch at a time per version (ctest -j may start several brokers at once).
	exec 9>"$root/.lock"
	flock -w "$FETCH_TIMEOUT" 9 || die "timed out waiting for another fetch ($root/.lock)"
	if libs_complete "$libs"; then exec 9>&-; return 0; fi
	tmp=$(mktemp -d "$root/.libs.XXXXXX")
	log "resolving Apache Kafka $version jars with Maven into $libs"
	t0=$(now_ms)
	rc=0
	# -U retries artifacts whose earlier failure Maven cached in ~/.m2.
	timeout -k 10 "$FETCH_TIMEOUT" "$MVN" -U -B -q -Dstyle.color=never -f "$POM" \
		dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" \
		>"$root/fetch.log" 2>&1 </dev/null || rc=$?
	if [ "$rc" -ne 0 ] || ! compgen -G "$tmp/kafka_2.13-*.jar" >/dev/null; then
		rm -rf "$tmp"
		tail -n 40 "$root/fetch.log" >&2 || true
		[ "$rc" -eq 124 ] && die "Maven resolution timed out after ${FETCH_TIMEOUT}s (log: $root/fetch.log)"
		die "Maven resolution failed (exit $rc; log: $root/fetch.log)"
	fi
	chmod 755 "$tmp"
	pom_sum >"$tmp/.complete"
	rm -rf "$libs"
	mv "$tmp" "$libs"
	exec 9>&-
	log "resolved $(ls "$libs" | wc -l) jars in $(secs_since "$t0")s"
}

# Two free TCP ports on 127.0.0.1 (the kernel picks them; a later bind may still lose a race,
# which start handles by retrying with new ports).
free_ports() {
	python3 - <<'EOF'
import socket
socks = []
for _ in range(2):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# Whether process PID holds the listening socket on 127.0.0.1:PORT (so a connection that
# succeeds reached our broker, not another program that took the port).
listens_on() {
	local pid=$1 port inode
	port=$(printf '%04X' "$2")
	inode=$(awk -v a="0100007F:$port" '$2 == a && $4 == "0A" { print $10; exit }' \
		/proc/net/tcp 2>/dev/null)
	[ -n "$inode" ] && ls -l "/proc/$pid/fd" 2>/dev/null | grep -qF "socket:[$inode]"
}

# Kafka cluster ids are 16 random bytes in unpadded base64url (what StorageTool random-uuid
# prints); Kafka refuses ids starting with '-', which would read as an option.
random_cluster_id() {
	local id
	while :; do
		id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
		[ "${id:0:1}" != "-" ] && break
	done
	echo "$id"
}

write_config() {
	local dir=$1 port=$2 cport=$3
	cat >"$dir/server.properties" <<EOF
# Written by tests/integration/kafka/broker.sh: single-node KRaft, 127.0.0.1 only.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/data
# One node: every replication factor and min ISR is 1 (defaults are 3 and 2).
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
# Tests create their topics; a typo must not silently create another one.
auto.create.topics.enable=false
# Consumer groups assign at once instead of waiting 3 s for more members.
group.initial.rebalance.delay.ms=0
# The cleaner's default dedupe buffer takes 128 MiB of heap at start-up.
log.cleaner.dedupe.buffer.size=2097152
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
background.threads=2
EOF
	cat >"$dir/log4j.properties" <<EOF
log4j.rootLogger=INFO, out
log4j.appender.out=org.apache.log4j.ConsoleAppender
log4j.appender.out.layout=org.apache.log4j.PatternLayout
log4j.appender.out.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.log.LogCleaner=WARN
log4j.logger.org.apache.kafka.storage.internals.log=WARN
log4j.logger.kafka.log=WARN
EOF
	cat >"$dir/tools-log4j.properties" <<EOF
log4j.rootLogger=WARN, err
log4j.appender.err=org.apache.log4j.ConsoleAppender
log4j.appender.err.Target=System.err
log4j.appender.err.layout=org.apache.log4j.PatternLayout
log4j.appender.err.layout.ConversionPattern=[%d] %p %m (%c)%n
EOF
}

# Alive and not a zombie (an exited child not yet reaped still answers kill -0).
pid_alive() {
	[ -n "$1" ] && kill -0 "$1" 2>/dev/null && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }
secs_since() { local d=$(($(now_ms) - $1)); printf '%d.%03d' $((d / 1000)) $((d % 1000)); }

# The pid in DIR/broker.pid, only if that process is still our broker (pids get reused).
broker_pid() {
	local dir=$1 pid
	[ -f "$dir/broker.pid" ] || return 1
	pid=$(cat "$dir/broker.pid")
	pid_alive "$pid" || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$dir/server.properties" || return 1
	echo "$pid"
}

# Stops the broker when its parent (the test) is gone or after MAX_LIFETIME; ends by itself
# when the broker ends.
watchdog() {
	local dir=$1 pid=$2 parent=$3 deadline=$(($(date +%s) + MAX_LIFETIME))
	while pid_alive "$pid"; do
		if [ -n "$parent" ] && ! pid_alive "$parent"; then
			echo "parent $parent gone: stopping broker $pid"
			stop_pid "$pid"
			return 0
		fi
		if [ "$(date +%s)" -ge "$deadline" ]; then
			echo "max lifetime ${MAX_LIFETIME}s reached: stopping broker $pid"
			stop_pid "$pid"
			return 0
		fi
		sleep 1
	done
}

stop_pid() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
		pid_alive "$pid" || return 0
		sleep 0.1
	done
	echo "broker $pid still running ${STOP_TIMEOUT}s after SIGTERM: SIGKILL" >&2
	kill -KILL "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		pid_alive "$pid" || return 0
		sleep 0.1
	done
	return 1
}

fail_start() {
	local dir=$1 msg=$2
	echo "broker.sh: $msg" >&2
	echo "broker.sh: last lines of $dir/broker.log:" >&2
	tail -n 40 "$dir/broker.log" >&2 2>/dev/null || true
	exit 1
}

# One attempt, run in a subshell: prints the pid and returns 0 when ready; returns 2 when it lost
# a port race (the caller retries with new ports); exits 1 after saying why on any other failure.
start_once() {
	local dir=$1 port=$2 cport=$3 libs=$4 deadline=$5 pid
	write_config "$dir" "$port" "$cport"
	: >"$dir/broker.log"
	if port_open "$port" || port_open "$cport"; then
		echo "broker.sh: 127.0.0.1:$port or :$cport already in use" >&2
		return 2
	fi
	# setsid: its own session, so a Ctrl-C or a signal to the test's process group is handled
	# by the harness (which stops it) rather than killing it mid-write.
	setsid "$JAVA" -Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
		-XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true -Djava.net.preferIPv4Stack=true \
		-Dlog4j.configuration="file:$dir/log4j.properties" -Dkafka.logs.dir="$dir/logs" \
		-cp "$libs/*" kafka.Kafka "$dir/server.properties" \
		>>"$dir/broker.log" 2>&1 </dev/null &
	pid=$!
	echo "$pid" >"$dir/broker.pid"
	while :; do
		if ! pid_alive "$pid"; then
			wait "$pid" 2>/dev/null || true
			if grep -q 'BindException\|Address already in use' "$dir/broker.log"; then
				return 2
			fi
			fail_start "$dir" "broker exited during start-up"
		fi
		# A fixed port is bound only once the broker can serve: accepting means ready.
		if port_open "$port" && listens_on "$pid" "$port"; then
			echo "$pid"
			return 0
		fi
		if [ "$(date +%s)" -ge "$deadline" ]; then
			stop_pid "$pid" || true
			fail_start "$dir" "broker not ready on 127.0.0.1:$port after ${START_TIMEOUT}s"
		fi
		sleep 0.2
	done
}

cmd_start() {
	local dir=${1:?usage: broker.sh start DIR} libs t0 deadline port cport pid attempt rc ports
	local restart
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	if pid=$(broker_pid "$dir"); then
		die "a broker (pid $pid) is already running in $dir"
	fi
	command -v "$JAVA" >/dev/null || die "java not found (packaging/install-deps.sh installs a JRE)"
	cmd_fetch
	libs=$(libs_dir)
	t0=$(now_ms)
	deadline=$(($(date +%s) + START_TIMEOUT))
	restart=0
	if [ -f "$dir/data/meta.properties" ] && [ -f "$dir/ports" ]; then
		restart=1
	fi
	for attempt in 1 2 3; do
		if [ "$restart" = 1 ]; then
			read -r port cport <"$dir/ports"
		else
			ports=$(free_ports) || die "cannot pick free ports (python3 missing?)"
			read -r port cport <<<"$ports"
			echo "$port $cport" >"$dir/ports"
			write_config "$dir" "$port" "$cport"
			rm -rf "$dir/data"
			timeout -k 5 120 "$JAVA" -Xmx256m \
				-Dlog4j.configuration="file:$dir/tools-log4j.properties" -cp "$libs/*" \
				kafka.tools.StorageTool format -t "$(random_cluster_id)" \
				-c "$dir/server.properties" >"$dir/format.log" 2>&1 </dev/null \
				|| { cat "$dir/format.log" >&2; die "formatting the storage failed"; }
		fi
		rc=0
		pid=$(start_once "$dir" "$port" "$cport" "$libs" "$deadline") || rc=$?
		[ "$rc" -eq 0 ] && break
		[ "$rc" -eq 2 ] || exit 1 # start_once (a subshell) has said why
		[ "$restart" = 1 ] && fail_start "$dir" "port $port or $cport taken: cannot restart"
		log "port $port or $cport was taken meanwhile: retrying with new ports"
		[ "$attempt" = 3 ] && fail_start "$dir" "could not bind free ports in 3 attempts"
	done
	nohup bash "$HERE/broker.sh" __watchdog "$dir" "$pid" "${DRIFTD_KAFKA_PARENT_PID:-}" \
		>"$dir/watchdog.log" 2>&1 </dev/null &
	echo $! >"$dir/watchdog.pid"
	echo "127.0.0.1:$port" >"$dir/bootstrap"
	log "broker pid $pid ready on 127.0.0.1:$port in $(secs_since "$t0")s (dir $dir)"
	echo "127.0.0.1:$port"
}

cmd_stop() {
	local dir=${1:?usage: broker.sh stop DIR} pid wpid
	[ -d "$dir" ] || die "no such directory: $dir"
	dir=$(cd "$dir" && pwd)
	if [ -f "$dir/watchdog.pid" ]; then
		wpid=$(cat "$dir/watchdog.pid")
		if pid_alive "$wpid" && tr '\0' ' ' <"/proc/$wpid/cmdline" 2>/dev/null \
			| grep -qF "__watchdog $dir"; then
			kill -TERM "$wpid" 2>/dev/null || true
		fi
		rm -f "$dir/watchdog.pid"
	fi
	if pid=$(broker_pid "$dir"); then
		stop_pid "$pid" || die "broker $pid did not stop"
	fi
	rm -f "$dir/broker.pid"
}

cmd_topic() {
	local dir=${1:?usage: broker.sh topic DIR NAME PARTITIONS} name=${2:?topic name}
	local parts=${3:?partition count} bootstrap
	[ -f "$dir/bootstrap" ] || die "no broker started in $dir"
	bootstrap=$(cat "$dir/bootstrap")
	timeout -k 5 120 "$JAVA" -Xmx256m -Dlog4j.configuration="file:$dir/tools-log4j.properties" \
		-cp "$(libs_dir)/*" org.apache.kafka.tools.TopicCommand --bootstrap-server "$bootstrap" \
		--create --topic "$name" --partitions "$parts" --replication-factor 1 </dev/null
}

case "${1:-}" in
fetch) cmd_fetch ;;
start) shift; cmd_start "$@" ;;
stop) shift; cmd_stop "$@" ;;
topic) shift; cmd_topic "$@" ;;
libs) libs_dir ;;
__watchdog) shift; watchdog "$@" ;;
*)
	sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
	;;
esac
