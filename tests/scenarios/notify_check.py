#!/usr/bin/env python3
"""sd_notify protocol of `driftd run` without systemd: a NOTIFY_SOCKET of our own receives
READY=1 (with STATUS) once the consumer is subscribed, WATCHDOG=1 at about half of
WATCHDOG_USEC from the main loop, RELOADING=1 with MONOTONIC_USEC then READY=1 on SIGHUP
(a valid new configuration is taken and audited; an invalid one is refused with FILE:LINE:COL,
a driftd.reload_failed alert, and the old one keeps running), a STATUS= summary (events/s, lag,
firing alerts, spool depth) while running, and STOPPING=1 on SIGTERM, after
which driftd exits 0.
The broker address is unreachable on purpose: readiness must not wait for a broker, which
librdkafka keeps retrying.

usage: notify_check.py PATH/TO/driftd"""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time


def main():
    driftd = sys.argv[1]
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        sock_path = os.path.join(tmp, "notify.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(sock_path)
        sock.settimeout(0.2)
        cfg = os.path.join(tmp, "d.yaml")
        with open(cfg, "w") as f:
            # A webhook sink holds its spool exclusively: a reload must hand it over.
            f.write('source:\n  kafka: {brokers: "127.0.0.1:1", topics: [t], group: g}\n'
                    f'state: {{dir: {tmp}/state}}\n'
                    f'alerts: {{spool_dir: {tmp}/spool, sinks: [{{stdout: {{}}}}, '
                    '{webhook: {url: "http://127.0.0.1:1/x"}}]}\n'
                    "monitors:\n  - {name: a, field: /x, detector: page_hinkley}\n")
        env = dict(os.environ, NOTIFY_SOCKET=sock_path, WATCHDOG_USEC="1000000")
        out_path, err_path = os.path.join(tmp, "out"), os.path.join(tmp, "err")
        p = subprocess.Popen([driftd, "run", "-c", cfg], env=env, stdout=open(out_path, "w"),
                             stderr=open(err_path, "w"))
        msgs = []
        t0 = time.monotonic()

        def listen(secs):
            end = time.monotonic() + secs
            while time.monotonic() < end:
                try:
                    msgs.append((time.monotonic() - t0, sock.recv(4096).decode()))
                except socket.timeout:
                    pass

        listen(3.0)
        # a valid change: one more monitor
        with open(cfg, "a") as f:
            f.write("  - {name: b, field: /y, detector: page_hinkley}\n")
        p.send_signal(signal.SIGHUP)
        listen(1.0)
        # an invalid change: refused, the running configuration stays
        with open(cfg, "a") as f:
            f.write("  - {name: c, field: /z, detector: nope}\n")
        p.send_signal(signal.SIGHUP)
        listen(1.0)
        p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = None
        while True:
            try:
                msgs.append((time.monotonic() - t0, sock.recv(4096).decode()))
            except socket.timeout:
                break
        texts = [m for _, m in msgs]
        # Restoring state may take long: the start is extended first, then READY.
        if len(texts) < 2 or not texts[0].startswith("EXTEND_TIMEOUT_USEC=") or \
                "STATUS=restoring state" not in texts[0]:
            failures.append(f"first message does not extend the start for the restore: "
                            f"{texts[:2]}")
        if len(texts) < 2 or not texts[1].startswith("READY=1") or "STATUS=" not in texts[1]:
            failures.append(f"second message is not READY=1 with STATUS: {texts[:2]}")
        if not os.path.isdir(os.path.join(tmp, "state", "state", "g")):
            failures.append("no state directory state/state/g: the state store was not opened")
        dogs = [t for t, m in msgs if m == "WATCHDOG=1"]
        if len(dogs) < 4:
            failures.append(f"{len(dogs)} WATCHDOG=1 in 3 s with WatchdogSec=1s: {texts}")
        summary = [m for m in texts if m.startswith("STATUS=") and "events/s" in m]
        if not summary or not all(k in summary[0] for k in ("lag", "firing", "spool")):
            failures.append(f"no STATUS= summary (events/s, lag, firing, spool): {texts}")
        if "STOPPING=1" not in texts:
            failures.append(f"no STOPPING=1 after SIGTERM: {texts[-3:]}")
        err = open(err_path).read()
        out = open(out_path).read()
        reloads = [m for m in texts if m.startswith("RELOADING=1")]
        if len(reloads) != 2 or not all("MONOTONIC_USEC=" in m for m in reloads):
            failures.append(f"want 2 RELOADING=1 with MONOTONIC_USEC: {texts}")
        after = texts[texts.index(reloads[0]) + 1:] if reloads else []
        if not any(m.startswith("READY=1") for m in after):
            failures.append(f"no READY=1 after a reload: {texts}")
        if "audit: configuration reloaded" not in err or "2 monitors, 1 kept their state" not in err:
            failures.append(f"no audit line for the reload: {err[-800:]}")
        if "d.yaml:8:36: unknown detector 'nope'" not in err or "reload of" not in err:
            failures.append(f"refused reload not reported with FILE:LINE:COL: {err[-800:]}")
        if '"rule":"driftd.reload_failed"' not in out:
            failures.append(f"no driftd.reload_failed alert on stdout: {out[-500:]}")
        if rc != 0:
            failures.append(f"exit status {rc}: {err[-500:]}")
    for f in failures:
        print("FAIL", f)
    print(f"{0 if failures else 1} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
