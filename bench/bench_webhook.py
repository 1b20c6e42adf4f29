#!/usr/bin/env python3
"""Alerts per second through the webhook sink to a local receiver
(tests/integration/webhook_receiver.py, every signature verified), and the spool's cost per
alert, next to a plain keep-alive Python client posting the same signed bodies to the same
receiver (the receiver's own ceiling). Figures are printed, never asserted.

  spool write, in isolation: bench_spool (temp file, fsync, rename, directory fsync)
  spool write, in situ: replay with the webhook sink (receiver down) minus replay with stdout
  drain: a second run over the spooled alerts, receiver up: alerts/s through the sink
  end to end: replay with the receiver up until the last alert arrived

usage: bench_webhook.py BUILD_DIR [ALERTS]"""
import json
import os
import random
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from webhook_receiver import Receiver, free_port  # noqa: E402

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
ENV = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}

PEER = r"""
import base64, hashlib, hmac, http.client, json, sys, time
port, path = int(sys.argv[1]), sys.argv[2]
key = base64.b64decode(sys.argv[3][6:])
bodies = [l.rstrip("\n").encode() for l in open(path) if l.strip()]
c = http.client.HTTPConnection("127.0.0.1", port)
t0 = time.perf_counter()
for b in bodies:
    i = json.loads(b)["id"]; ts = str(int(time.time()))
    sig = base64.b64encode(hmac.new(key, f"{i}.{ts}.".encode() + b, hashlib.sha256).digest())
    c.request("POST", "/hook", b, {"Content-Type": "application/json", "webhook-id": i,
              "webhook-timestamp": ts, "webhook-signature": "v1," + sig.decode()})
    r = c.getresponse(); r.read()
    assert r.status == 200
print(len(bodies) / (time.perf_counter() - t0))
"""


def events(path, alerts):
    """Page-Hinkley fires within a few events of each level flip (every 80 events) and
    resolves on the next clean verdict: two alerts per flip."""
    rng = random.Random(7)
    n = (alerts // 2 + 1) * 80
    with open(path, "w") as f:
        for i in range(n):
            level = 5.0 * ((i // 80) % 2)
            f.write(json.dumps({"ts": 1795780800000 + i * 1000, "model": {"id": "m1"},
                                "input": {"x": round(rng.gauss(level, 1), 4)}}) + "\n")


def config(path, spool, secret, url=None):
    sinks = "    - stdout: {}\n"
    if url:
        sinks += (f"    - webhook: {{url: \"{url}\", secret_file: {secret}, "
                  "spool_max_files: 1000000, spool_max_bytes: 10000000000}\n")
    with open(path, "w") as f:
        f.write(f"""monitors:
  - name: ph-x
    field: /input/x
    detector: page_hinkley
    params: {{threshold: 20, delta: 0.5}}
alerts:
  spool_dir: {spool}
  sinks:
{sinks}""")
    return path


def replay(driftd, cfg, inputs, flush):
    t0 = time.perf_counter()
    p = subprocess.run([driftd, "replay", "-q", "-c", cfg, "--flush-timeout", str(flush),
                        *inputs], capture_output=True, text=True, env=ENV)
    if p.returncode != 0:
        sys.exit(f"replay failed: {p.stderr[-1500:]}")
    return p, time.perf_counter() - t0


def main():
    build = os.path.abspath(sys.argv[1])
    want = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    driftd = os.path.join(build, "daemon", "driftd")
    with tempfile.TemporaryDirectory(dir=build) as tmp:
        p = subprocess.run([os.path.join(build, "bench", "bench_spool"), tmp, "500"],
                           capture_output=True, text=True, check=True)
        print(p.stdout.rstrip())

        data = os.path.join(tmp, "events.jsonl")
        events(data, want)
        secret = os.path.join(tmp, "secret")
        with open(secret, "w") as f:
            f.write(SECRET + "\n")
        spool = os.path.join(tmp, "spool")

        base = config(os.path.join(tmp, "a.yaml"), spool, secret)
        best_stdout = min(replay(driftd, base, [data], 0)[1] for _ in range(3))
        p, _ = replay(driftd, base, [data], 0)
        n = len(p.stdout.splitlines())
        alerts_file = os.path.join(tmp, "alerts.jsonl")
        with open(alerts_file, "w") as f:
            f.write(p.stdout)

        down = config(os.path.join(tmp, "b.yaml"), spool, secret,
                      f"http://127.0.0.1:{free_port()}/hook")
        _, t_spool = replay(driftd, down, [data], 0)
        print(f"spool_in_situ {(t_spool - best_stdout) / n * 1e3:.2f} ms/alert (replay of {n} "
              f"alerts: {t_spool:.2f} s with the webhook sink, receiver down, vs "
              f"{best_stdout:.2f} s with stdout only)")

        r = Receiver(SECRET).start()
        up = config(os.path.join(tmp, "c.yaml"), spool, secret, r.url())
        t0 = time.perf_counter()
        p, _ = replay(driftd, up, ["/dev/null"], 600)
        t_drain = time.perf_counter() - t0
        got = r.delivered()
        ok = len(got) == n and all(a.sig_ok for a in r.attempts)
        print(f"webhook_drain {n / t_drain:.0f} alerts/s ({n} spooled alerts sent by a second "
              f"run in {t_drain:.2f} s, process start included; all signatures verified: {ok})")

        r.attempts.clear()
        import shutil
        shutil.rmtree(spool)
        t0 = time.perf_counter()
        p, _ = replay(driftd, up, [data], 600)
        t_e2e = time.perf_counter() - t0
        ok = len(r.delivered()) == n and all(a.sig_ok for a in r.attempts)
        print(f"webhook_end_to_end {n / t_e2e:.0f} alerts/s (replay raising {n} alerts until the "
              f"last arrived: {t_e2e:.2f} s; all delivered once and verified: {ok})")

        peer = subprocess.run([sys.executable, "-c", PEER, str(r.port), alerts_file, SECRET],
                              capture_output=True, text=True, env=ENV)
        r.stop()
        if peer.returncode == 0:
            print(f"peer_python_client {float(peer.stdout):.0f} alerts/s (http.client keep-alive, "
                  "same signed bodies, same receiver, nothing spooled)")
        else:
            print(f"# peer client failed: {peer.stderr[-300:]}")


if __name__ == "__main__":
    main()
