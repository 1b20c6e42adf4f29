#!/usr/bin/env python3
"""The webhook sink against a real HTTP receiver on 127.0.0.1 (webhook_receiver.py), driving
`driftd replay` over a generated stream whose Page-Hinkley monitor raises 18 alerts (9 firing,
9 resolved), with a stdout sink beside the webhook sink:

a. happy path: every alert arrives once, its body is byte for byte the stdout line, the
   Standard Webhooks signature verifies on every attempt, user headers are sent;
b. receiver down at first, up 3 s later: everything arrives within the flush timeout, with the
   sink's default retry settings;
c. 429 with Retry-After (seconds, then an HTTP date): the sink waits as asked (measured);
d. kill -9 with alerts spooled and the receiver down, then a second run (empty input, same
   spool): every webhook-id is delivered successfully exactly once; kill -9 in the middle of
   deliveries to a slow receiver: nothing lost, at most the one request in flight twice;
e. 400: that alert goes to dead/ after one attempt, the others arrive;
f. 410: the sink stops sending (Standard Webhooks), the rest stays spooled for the next start;
g. a receiver slower than `timeout`: the pipeline is not held up, the alert is retried;
h. a full disk under the spool (tmpfs, when we may mount): errors counted, no crash;
i. TLS: a self-signed receiver is refused (verification on) until `ca_file` names its CA.

usage: test_webhook.py PATH/TO/driftd
"""

import email.utils
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from webhook_receiver import Receiver, Reply, free_port  # noqa: E402

DRIFTD = sys.argv[1]
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
N_ALERTS = 18
passed = failed = 0
ENV = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}


def check(cond, what, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print(f"ok - {what}", flush=True)
    else:
        failed += 1
        print(f"FAIL - {what}" + (f": {detail}" if detail else ""), flush=True)


def wait_for(pred, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def events(path, n=3000, seed=1):
    """A level that flips every 300 events: 9 detections, each resolved."""
    rng = random.Random(seed)
    with open(path, "w") as f:
        for i in range(n):
            level = 5.0 * ((i // 300) % 2)
            f.write(json.dumps({"ts": 1795780800000 + i * 1000, "model": {"id": "m1"},
                                "input": {"x": round(rng.gauss(level, 1), 4)}}) + "\n")


class Case:
    def __init__(self, root, name):
        self.dir = os.path.join(root, name)
        os.makedirs(self.dir)
        self.spool = os.path.join(self.dir, "spool")
        self.events = os.path.join(self.dir, "events.jsonl")
        events(self.events)
        self.secret = os.path.join(self.dir, "secret")
        with open(self.secret, "w") as f:
            f.write(SECRET + "\n")
        self.n = 0

    def config(self, url, extra=""):
        self.n += 1
        path = os.path.join(self.dir, f"cfg{self.n}.yaml")
        with open(path, "w") as f:
            f.write(f"""monitors:
  - name: ph-x
    field: /input/x
    detector: page_hinkley
    params: {{threshold: 20, delta: 0.5}}
alerts:
  spool_dir: {self.spool}
  sinks:
    - stdout: {{}}
    - webhook:
        url: "{url}"
        secret_file: {self.secret}
        headers: {{X-Test: driftd}}
{extra}""")
        return path

    def replay(self, cfg, inputs=None, flush=30, timeout=120):
        t0 = time.monotonic()
        p = subprocess.run([DRIFTD, "replay", "-c", cfg, "--flush-timeout", str(flush),
                            *(inputs if inputs is not None else [self.events])],
                           capture_output=True, text=True, timeout=timeout, env=ENV)
        return p, time.monotonic() - t0

    def start(self, cfg, inputs=None, flush=120):
        out = open(os.path.join(self.dir, f"out{self.n}"), "w")
        err = open(os.path.join(self.dir, f"err{self.n}"), "w")
        p = subprocess.Popen([DRIFTD, "replay", "-c", cfg, "--flush-timeout", str(flush),
                              *(inputs if inputs is not None else [self.events])],
                             stdout=out, stderr=err, env=ENV)
        p.out, p.err = out.name, err.name
        return p

    def spooled(self, sub=""):
        d = os.path.join(self.spool, "webhook", sub)
        return sorted(f for f in os.listdir(d) if f.endswith(".msg")) if os.path.isdir(d) else []


def ids_of(stdout):
    return [json.loads(line)["id"] for line in stdout.splitlines() if line]


def all_signed(r):
    return all(a.sig_ok and a.ts_ok for a in r.attempts)


def test_happy(root):
    c = Case(root, "happy")
    r = Receiver(SECRET).start()
    p, dt = c.replay(c.config(r.url()))
    r.stop()
    lines = [ln for ln in p.stdout.splitlines() if ln]
    ids = ids_of(p.stdout)
    check(p.returncode == 0 and len(lines) == N_ALERTS,
          f"replay raised {N_ALERTS} alerts on stdout ({len(lines)})", p.stderr[-800:])
    got = r.delivered()
    check(sorted(got) == sorted(ids) and all(v == 1 for v in got.values())
          and len(r.attempts) == N_ALERTS,
          f"every alert arrived exactly once ({len(r.attempts)} requests)")
    check(all_signed(r), "every attempt carried a valid Standard Webhooks signature and a "
          "current webhook-timestamp")
    bodies = {a.id: a.body.decode() for a in r.attempts}
    check(all(bodies.get(json.loads(ln)["id"]) == ln for ln in lines),
          "each body is byte for byte the alert line of the stdout sink")
    check([a.id for a in r.attempts] == ids, "delivered in the order raised (oldest first)")
    h = r.attempts[0].headers
    check(h.get("content-type") == "application/json" and h.get("x-test") == "driftd"
          and h.get("user-agent") == "driftd", "content-type, user headers, user-agent", str(h))
    check(c.spooled() == [] and c.spooled("dead") == [], "spool and dead/ empty afterwards")
    mode = os.stat(os.path.join(c.spool, "webhook")).st_mode & 0o777
    check(mode == 0o700, f"spool directory is 0700 ({oct(mode)})")
    check("18 delivered, 0 pending" in p.stderr, "the summary on stderr counts them",
          p.stderr[-500:])


def test_down_then_up(root):
    c = Case(root, "down")
    port = free_port()
    r = Receiver(SECRET, port=port)
    cfg = c.config(f"http://127.0.0.1:{port}/hook")  # the sink's defaults
    t0 = time.monotonic()
    proc = c.start(cfg, flush=30)
    threading.Timer(3.0, r.start).start()
    rc = proc.wait(60)
    dt = time.monotonic() - t0
    got = r.delivered()
    ids = ids_of(open(proc.out).read())
    r.stop()
    err = open(proc.err).read()
    check(rc == 0 and sorted(got) == sorted(ids) and len(ids) == N_ALERTS
          and all(v == 1 for v in got.values()),
          f"receiver down for 3 s: all {len(ids)} alerts arrived once, {dt:.1f} s after the "
          "start (flush timeout 30 s)", err[-800:])
    check("circuit open" in err, "the circuit breaker opened while it was down", err[-500:])
    check(all_signed(r), "signatures verified on every attempt after the outage")
    check(c.spooled() == [], "spool empty")


def test_retry_after(root):
    c = Case(root, "retry-after")
    r = Receiver(SECRET).start()

    def date_in(s):
        return email.utils.formatdate(time.time() + s, usegmt=True)

    r.plan.append(Reply(429, {"Retry-After": "2"}))
    # The second 429 computes its date when it answers.
    r.rule = None
    answered = []

    def second(att):
        if len(answered) == 0 and len(r.attempts) == 2:
            answered.append(1)
            return Reply(429, {"Retry-After": date_in(3)})
        return None

    r.rule = second
    p, dt = c.replay(c.config(r.url()))
    r.stop()
    a = r.attempts
    gap1 = a[1].t_arrived - a[0].t_answered
    gap2 = a[2].t_arrived - a[1].t_answered
    print(f"# Retry-After: 2 -> next request after {gap1:.2f} s; Retry-After: <date + 3 s> -> "
          f"after {gap2:.2f} s", flush=True)
    check(1.9 <= gap1 < 3.5, f"Retry-After in seconds honoured ({gap1:.2f} s for 2 s)")
    check(1.9 <= gap2 < 4.5, f"Retry-After as an HTTP date honoured ({gap2:.2f} s for a date "
          "3 s ahead, 1 s resolution)")
    check(a[0].id == a[1].id == a[2].id, "the refused alert was retried first, same webhook-id")
    got = r.delivered()
    check(len(got) == N_ALERTS and all(v == 1 for v in got.values()),
          "then all alerts arrived once")
    check(all_signed(r), "each retry was signed again (fresh webhook-timestamp)")
    check(a[0].timestamp != a[2].timestamp or gap1 + gap2 < 1, "timestamps differ per attempt")


def test_kill9(root):
    c = Case(root, "kill9")
    port = free_port()
    cfg = c.config(f"http://127.0.0.1:{port}/hook")
    proc = c.start(cfg, flush=120)
    ok = wait_for(lambda: len(c.spooled()) == N_ALERTS and
                  len(open(proc.out).read().splitlines()) == N_ALERTS, 30)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    ids = ids_of(open(proc.out).read())
    check(ok and len(ids) == N_ALERTS, f"{len(c.spooled())} alerts spooled with the receiver "
          "down, then kill -9")
    r = Receiver(SECRET, port=port).start()
    p, dt = c.replay(cfg, inputs=["/dev/null"])
    r.stop()
    got = r.delivered()
    check(p.returncode == 0 and sorted(got) == sorted(ids) and all(v == 1 for v in got.values()),
          f"second run (empty input, same spool): every webhook-id delivered successfully "
          f"exactly once ({len(got)} ids, {len(r.attempts)} requests, {dt:.2f} s)",
          p.stderr[-800:])
    check(all_signed(r), "signatures verify on the re-sent alerts")
    check("18 undelivered alerts from an earlier run" in p.stderr, "the restart says so",
          p.stderr[-500:])
    check(c.spooled() == [] and c.spooled("dead") == [], "spool empty afterwards")

    # kill -9 while deliveries are under way (each answer takes 0.2 s)
    c = Case(root, "kill9-mid")
    r = Receiver(SECRET).start()
    r.rule = lambda att: Reply(200, delay=0.2)
    cfg = c.config(r.url())
    proc = c.start(cfg, flush=120)
    wait_for(lambda: len(r.delivered()) >= 5, 30)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(0.3)
    ids = ids_of(open(proc.out).read())
    first = r.delivered()
    r.rule = None
    p, _ = c.replay(cfg, inputs=["/dev/null"])
    r.stop()
    got = r.delivered()
    twice = [i for i, v in got.items() if v > 1]
    check(len(ids) == N_ALERTS and sorted(got) == sorted(ids) and len(twice) <= 1,
          f"kill -9 after {sum(first.values())} deliveries: after the restart every alert "
          f"arrived, {len(twice)} twice (at most the one in flight, same webhook-id)",
          p.stderr[-500:])


def test_dead_letter(root):
    c = Case(root, "dead")
    r = Receiver(SECRET).start()
    r.plan.append(Reply(400))
    p, _ = c.replay(c.config(r.url()))
    r.stop()
    bad = r.attempts[0].id
    dead = c.spooled("dead")
    why = ""
    if dead:
        why = open(os.path.join(c.spool, "webhook", "dead", dead[0] + ".why")).read()
        head = open(os.path.join(c.spool, "webhook", "dead", dead[0])).read().split("\n")[1]
    check(len(dead) == 1 and json.loads(head)["key"] == bad and "HTTP 400" in why,
          f"the alert answered 400 is in dead/ with its reason ({why.strip()})")
    check(sum(1 for a in r.attempts if a.id == bad) == 1, "it was tried once only")
    got = r.delivered()
    check(len(got) == N_ALERTS - 1 and bad not in got and c.spooled() == [],
          "the other alerts arrived")
    check("1 dead-lettered" in p.stderr and "moved to" in p.stderr, "stderr says so",
          p.stderr[-500:])


def test_gone(root):
    c = Case(root, "gone")
    r = Receiver(SECRET).start()
    r.plan.append(Reply(410))
    cfg = c.config(r.url())
    p, dt = c.replay(cfg, flush=30)
    n_attempts = len(r.attempts)
    check(n_attempts == 1 and dt < 10, f"410 Gone: the sink stopped sending ({n_attempts} "
          f"request) and flush did not wait ({dt:.1f} s)")
    check(len(c.spooled("dead")) == 1 and len(c.spooled()) == N_ALERTS - 1,
          "the refused alert in dead/, the others still spooled")
    check("gone for good (HTTP 410" in p.stderr, "stderr says why", p.stderr[-500:])
    p, _ = c.replay(cfg, inputs=["/dev/null"])
    r.stop()
    check(len(r.delivered()) == N_ALERTS - 1 and c.spooled() == [],
          "after a restart the spooled alerts were delivered")


def test_slow(root):
    c = Case(root, "slow")
    r = Receiver(SECRET).start()
    r.plan += [Reply(200, delay=2.5), Reply(200, delay=2.5)]
    cfg = c.config(r.url(), "        timeout: 1s\n        connect_timeout: 1s\n"
                            "        retry_initial: 1s\n")
    t0 = time.monotonic()
    proc = subprocess.Popen([DRIFTD, "replay", "-c", cfg, c.events], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ENV)
    n, t_last = 0, None
    for line in proc.stdout:
        n += 1
        if n == N_ALERTS:
            t_last = time.monotonic() - t0
    err = proc.stderr.read()
    proc.wait(60)
    r.stop()
    check(t_last is not None and t_last < 2.0,
          f"all {N_ALERTS} alerts on stdout after {t_last or -1:.2f} s while the receiver hangs "
          "for 2.5 s per request: detection is not held up")
    got = r.delivered()
    ids = {a.id for a in r.attempts}
    check(len(ids) == N_ALERTS and set(got) == ids,
          f"the requests that timed out were retried and every alert arrived "
          f"({len(r.attempts)} requests for {len(ids)} ids)", err[-500:])
    check("timed out" in err, "the timeout is reported", err[-400:])


def test_full_disk(root):
    c = Case(root, "full")
    os.makedirs(c.spool)
    if os.geteuid() != 0 or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=32k", "tmpfs", c.spool],
            capture_output=True).returncode != 0:
        print("# skip: full disk (needs root to mount a small tmpfs)", flush=True)
        return
    try:
        port = free_port()  # nobody listens: everything stays spooled until the disk fills
        p, _ = c.replay(c.config(f"http://127.0.0.1:{port}/hook"), flush=0)
        lines = [ln for ln in p.stdout.splitlines() if ln]
        n_spooled = len(c.spooled())
        check(p.returncode == 0 and len(lines) == N_ALERTS and 0 < n_spooled < N_ALERTS,
              f"a 32 KiB spool filled up: {n_spooled} alerts spooled, the run went on "
              f"(stdout has all {len(lines)}, exit {p.returncode})", p.stderr[-600:])
        check("No space left on device" in p.stderr and "sink=" in p.stderr,
              "the failures are reported and counted", p.stderr[-600:])
        leftovers = [f for f in os.listdir(os.path.join(c.spool, "webhook"))
                     if f.startswith(".tmp-")]
        check(leftovers == [], "no half-written files left")
    finally:
        subprocess.run(["umount", c.spool])


def test_tls(root):
    c = Case(root, "tls")
    key, crt = os.path.join(c.dir, "key.pem"), os.path.join(c.dir, "crt.pem")
    if not shutil.which("openssl") or subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
             "-out", crt, "-days", "1", "-subj", "/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1"], capture_output=True).returncode != 0:
        print("# skip: TLS (no openssl command)", flush=True)
        return
    r = Receiver(SECRET, certfile=crt, keyfile=key).start()
    p, _ = c.replay(c.config(r.url()), flush=2)
    check(r.delivered() == {} and len(c.spooled()) == N_ALERTS,
          "a self-signed receiver is refused (TLS verification on): alerts stay spooled",
          p.stderr[-400:])
    check("certificate" in p.stderr.lower() or "SSL" in p.stderr, "the TLS error is reported",
          p.stderr[-400:])
    p, _ = c.replay(c.config(r.url(), f"        ca_file: {crt}\n"), inputs=["/dev/null"])
    r.stop()
    got = r.delivered()
    check(len(got) == N_ALERTS and all_signed(r) and c.spooled() == [],
          "with ca_file naming its certificate, all arrive over TLS", p.stderr[-400:])


def main():
    with tempfile.TemporaryDirectory() as root:
        for t in (test_happy, test_down_then_up, test_retry_after, test_kill9, test_dead_letter,
                  test_gone, test_slow, test_full_disk, test_tls):
            try:
                t(root)
            except Exception as e:  # a harness failure is a test failure, not a crash
                import traceback
                traceback.print_exc()
                check(False, t.__name__, repr(e))
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
