#!/bin/sh
# Install what driftd needs to build and test on Debian 12 (bookworm). Idempotent: does
# nothing when every package is already installed. Run as root (CI and fresh machines are).
# The integration tests run a real Apache Kafka broker (tests/integration/kafka/broker.sh):
# a Java 17 runtime to run it and Maven to resolve its jars from Maven Central on first use.
# The syslog integration test runs its own rsyslogd (rsyslog-openssl for TLS, openssl for its
# test certificates). Where systemd runs, the package also starts the system's rsyslog: the
# test neither needs nor touches it.
# `make deb` and the package test build the .deb with debhelper and check it with lintian
# (man-db renders the manual pages for the check). The VM test (tests/vm) boots Debian 12 under
# qemu-system-x86 from an image it builds with debootstrap, busybox-static (the initramfs),
# e2fsprogs (mkfs.ext4 -d), cpio and xz-utils.
set -eu

PKGS="build-essential cmake ninja-build pkg-config git
 libjansson-dev libyaml-dev libgsl-dev libsimdjson-dev libssl-dev
 librdkafka-dev libsystemd-dev libcurl4-openssl-dev libcmocka-dev
 clang clang-format libclang-rt-14-dev
 python3 python3-venv python3-pip
 openjdk-17-jre-headless maven kcat systemd
 rsyslog rsyslog-openssl openssl
 dpkg-dev debhelper lintian man-db
 qemu-system-x86 debootstrap busybox-static e2fsprogs cpio xz-utils"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' \
		|| missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "install-deps: installing:$missing" >&2
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
		echo "install-deps: run as root (or install:$missing)" >&2
		exit 1
	fi
else
	SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
