#!/usr/bin/env python3
"""The metrics endpoint of `driftd run` against a real Apache Kafka broker, scraped over HTTP
(urllib) and parsed with the official Prometheus text-format parser (prometheus_client):

1. values: events, rejects by reason, Kafka records and lag, per-monitor verdicts and the last
   KS score (checked against scipy's ks_2samp on the same window), alerts fired, the webhook
   spool depth and failures (the receiver is down), build info, reloads (a good and a bad
   configuration through SIGHUP, the bad one raising driftd.reload_failed);
2. health: /healthz is 200 while errors stay within their limits, 503 (with the reason) once
   the webhook's failures or the Kafka errors (a broker that is not there) pass them;
3. the exposition is well formed: every family parses, has HELP and TYPE, counters end in
   _total, every family is documented in docs/operations.md, and every metric the Grafana
   dashboard (packaging/grafana/driftd.json) queries is exposed.

Scrape cost is printed (a figure, not asserted).

usage: test_metrics.py PATH/TO/driftd
"""

import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from scipy.stats import ks_2samp

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "kafka"))
from harness import Broker  # noqa: E402
from tap import check, stop, summary, wait_for  # noqa: E402

DRIFTD = sys.argv[1]
DASHBOARD = HERE.parent.parent / "packaging" / "grafana" / "driftd.json"


def wait_for_scrape(pred, timeout, what):
    """wait_for for conditions on the endpoint: a connection refused is 'not yet'."""
    return wait_for(pred, timeout, what, every=0.3, ignore=(OSError, urllib.error.URLError))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def get(url):
    """(status, body) of a GET; HTTP errors are answers too."""
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode(), r.headers.get("Content-Type", "")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), e.headers.get("Content-Type", "")


def scrape(port):
    """{(name, frozenset(labels)): value} and the families, parsed by prometheus_client."""
    status, text, ctype = get(f"http://127.0.0.1:{port}/metrics")
    assert status == 200, (status, text)
    fams = list(text_string_to_metric_families(text))
    samples = {}
    for f in fams:
        for s in f.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return samples, fams, text, ctype


def val(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())))


def events(n, shift_at, seed):
    rng = random.Random(seed)
    out = []
    for i in range(n):
        f2 = round(rng.gauss(0, 1) + (2.0 if i >= shift_at else 0), 6)
        f0 = round(rng.gauss(0, 1), 6)
        out.append((f"c{i % 7}", json.dumps({"ts": 1795780800000 + i * 100, "model": {"id": "m1"},
                                             "input": {"f0": f0, "f2": f2}})))
    return out


def write_config(path, brokers, topic, group, port, spool, hook_port, extra_monitor="",
                 metrics_extra=""):
    with open(path, "w") as f:
        f.write(f"""source:
  kafka:
    brokers: "{brokers}"
    topics: [{topic}]
    group: {group}
    properties: {{session.timeout.ms: 6000, heartbeat.interval.ms: 1000}}
monitors:
  - {{name: ks-f2, field: /input/f2, detector: ks, params: {{alpha: 0.001}},
     reference: {{size: 1000}}, window: {{size: 500}}}}
  - {{name: ph-f0, field: /input/f0, detector: page_hinkley}}
{extra_monitor}alerts:
  spool_dir: {spool}
  sinks:
    - stdout: {{}}
    - webhook: {{url: "http://127.0.0.1:{hook_port}/alerts"}}
metrics: {{listen: "127.0.0.1:{port}"{metrics_extra}}}
state: {{dir: {spool}-state}}
""")


STARTED = []


def start(cfg, out, err):
    p = subprocess.Popen([DRIFTD, "run", "-c", cfg], stdout=open(out, "w"),
                         stderr=open(err, "w"))
    STARTED.append(p)
    return p


def dashboard_metrics():
    """Metric names the dashboard's queries use (driftd_ identifiers in every expr)."""
    dash = json.loads(DASHBOARD.read_text())
    names = set()

    def walk(o):
        if isinstance(o, dict):
            for k, v in o.items():
                if k in ("expr", "query") and isinstance(v, str):
                    names.update(re.findall(r"\bdriftd_[a-z0-9_]+", v))
                else:
                    walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)
    walk(dash)
    return names


def test_values(broker, tmp):
    topic, n, shift = "metrics", 3000, 2000
    broker.create_topic(topic, 1)
    evs = events(n, shift, 7)
    garbage = [("g", "not json {")] * 7 + [("g", json.dumps({"input": {"f0": 1}}))] * 3
    records = evs[:1500] + garbage + evs[1500:]
    broker.produce(topic, records, partition=0)
    port, hook = free_port(), free_port()  # nothing listens on hook: the receiver is down
    cfg, spool = os.path.join(tmp, "v.yaml"), os.path.join(tmp, "spool-v")
    write_config(cfg, broker.bootstrap, topic, "g-metrics", port, spool, hook,
                 metrics_extra=", max_sink_errors: 1000000")
    out, err = os.path.join(tmp, "v.out"), os.path.join(tmp, "v.err")
    proc = start(cfg, out, err)
    total = len(records)
    done = wait_for_scrape(lambda: val(scrape(port)[0], "driftd_events_total") == total, 90,
                    "every record counted")
    check(done, f"driftd_events_total reaches the {total} records produced",
          open(err).read()[-1500:])
    # Lag is measured against cached watermarks: wait until it has caught up.
    wait_for_scrape(lambda: val(scrape(port)[0], "driftd_kafka_consumer_lag") == 0, 30, "lag 0")
    s, fams, text, ctype = scrape(port)
    check(ctype.startswith("text/plain; version=0.0.4"), "exposition content type", ctype)
    check(val(s, "driftd_kafka_records_total") == total, "driftd_kafka_records_total",
          str(val(s, "driftd_kafka_records_total")))
    check(val(s, "driftd_kafka_consumer_lag") == 0, "driftd_kafka_consumer_lag is 0 at the end",
          str(val(s, "driftd_kafka_consumer_lag")))
    check(val(s, "driftd_kafka_assigned_partitions") == 1, "one partition assigned")
    check(val(s, "driftd_events_accepted_total") == n, f"{n} events accepted",
          str(val(s, "driftd_events_accepted_total")))
    rej = {dict(k[1])["reason"]: v for k, v in s.items()
           if k[0] == "driftd_events_rejected_total" and v}
    check(rej == {"syntax": 7, "no_model": 3}, "rejects by reason: 7 syntax, 3 no_model",
          str(rej))

    windows = (n - 1000) // 500
    check(val(s, "driftd_monitor_verdicts_total", monitor="ks-f2", detector="ks") == windows,
          f"ks-f2 reached {windows} verdicts")
    check(val(s, "driftd_monitor_events_total", monitor="ph-f0", detector="page_hinkley") == n,
          "ph-f0 matched every event")
    xs = [json.loads(v)["input"]["f2"] for _, v in evs]
    last = ks_2samp(xs[:1000], xs[1000 + (windows - 1) * 500:1000 + windows * 500])
    score = val(s, "driftd_monitor_score", monitor="ks-f2", detector="ks")
    check(score is not None and abs(score - last.statistic) < 1e-9,
          "driftd_monitor_score of ks-f2 is scipy's KS statistic of the last window",
          f"{score} vs {last.statistic}")
    pv = val(s, "driftd_monitor_p_value", monitor="ks-f2", detector="ks")
    check(pv is not None and abs(pv - last.pvalue) <= 1e-6 * max(last.pvalue, 1e-300) + 1e-12,
          "driftd_monitor_p_value is scipy's p-value", f"{pv} vs {last.pvalue}")
    check(val(s, "driftd_monitor_threshold", monitor="ks-f2", detector="ks") == 0.001,
          "driftd_monitor_threshold is the configured alpha")
    check(val(s, "driftd_monitor_firing", monitor="ks-f2", detector="ks") == 1,
          "the shifted monitor is firing")
    alerts = [json.loads(l) for l in open(out) if l.strip()]
    fired = sum(1 for a in alerts if a["status"] == "firing")
    check(fired >= 1 and val(s, "driftd_alerts_fired_total") == fired,
          f"driftd_alerts_fired_total matches the {fired} firing alerts on stdout",
          str(val(s, "driftd_alerts_fired_total")))
    check(val(s, "driftd_alerts_firing") == 1, "driftd_alerts_firing")
    # The receiver is down: every alert waits in the webhook's spool, on disk.
    on_disk = len([f for f in os.listdir(os.path.join(spool, "webhook")) if f.endswith(".msg")]) \
        if os.path.isdir(os.path.join(spool, "webhook")) else \
        len([f for _, _, fs in os.walk(spool) for f in fs if f.endswith(".msg")])
    sd = val(s, "driftd_spool_messages", sink="webhook", type="webhook")
    check(sd == len(alerts) and sd == on_disk,
          f"driftd_spool_messages is the {len(alerts)} alerts waiting (files on disk: {on_disk})",
          str(sd))
    check((val(s, "driftd_spool_bytes", sink="webhook", type="webhook") or 0) > 0,
          "driftd_spool_bytes")
    check(wait_for_scrape(lambda: (val(scrape(port)[0], "driftd_sink_failures_total", sink="webhook",
                                type="webhook") or 0) >= 1, 30, "a failed attempt"),
          "driftd_sink_failures_total counts the refused connections")
    version = subprocess.run([DRIFTD, "--version"], capture_output=True, text=True).stdout.split()[1]
    check(val(s, "driftd_build_info", version=version) == 1, f"driftd_build_info{{version={version}}}")
    st, body, _ = get(f"http://127.0.0.1:{port}/healthz")
    check(st == 200 and body == "ok\n", "/healthz is 200 within the limits", f"{st} {body}")
    check(val(s, "driftd_healthy") == 1, "driftd_healthy is 1")

    # Scrape cost, as a figure.
    t0 = time.perf_counter()
    k = 50
    for _ in range(k):
        get(f"http://127.0.0.1:{port}/metrics")
    dt = (time.perf_counter() - t0) / k
    print(f"# scrape: {len(text)} bytes, {len(fams)} families, {dt * 1e3:.2f} ms per scrape "
          "(HTTP round trip from Python included)", flush=True)

    # Exposition hygiene.
    names = {f.name for f in fams}
    bad_counters = [f.name for f in fams if f.type == "counter" and
                    not any(x.name.endswith("_total") for x in f.samples)]
    check(not bad_counters, "counters are exposed with _total", str(bad_counters))
    check(all(f.documentation for f in fams), "every family has HELP")
    check(all(n.startswith("driftd_") for n in names), "every family is driftd_")
    ops = (HERE.parent.parent / "docs" / "operations.md").read_text()
    undocumented = sorted(n for n in names if f"`{n}" not in ops)
    check(not undocumented, "every family is documented in docs/operations.md",
          str(undocumented))
    exposed = {x.name for f in fams for x in f.samples} | names
    missing = sorted(dashboard_metrics() - exposed)
    check(dashboard_metrics() and not missing,
          f"every metric the Grafana dashboard queries is exposed ({len(dashboard_metrics())})",
          str(missing))

    # Reloads: a good configuration, then a bad one (kept out, self-alert).
    fired_before = val(s, "driftd_alerts_fired_total")
    write_config(cfg, broker.bootstrap, topic, "g-metrics", port, spool, hook,
                 extra_monitor="  - {name: ph-f2, field: /input/f2, detector: page_hinkley}\n",
                 metrics_extra=", max_sink_errors: 1000000")
    proc.send_signal(signal.SIGHUP)
    check(wait_for_scrape(lambda: val(scrape(port)[0], "driftd_reloads_total", result="success") == 1,
                   30, "reload"), "a good reload counts as success")
    s2 = scrape(port)[0]
    check(val(s2, "driftd_monitor_verdicts_total", monitor="ks-f2", detector="ks") == windows
          and val(s2, "driftd_monitor_events_total", monitor="ph-f2",
                  detector="page_hinkley") == 0,
          "after the reload the unchanged monitor keeps its counts, the new one starts at 0")
    check(val(s2, "driftd_events_total") == total and
          val(s2, "driftd_kafka_records_total") == total and
          val(s2, "driftd_alerts_fired_total") == fired_before and
          val(s2, "driftd_sink_failures_total", sink="webhook", type="webhook") >=
          val(s, "driftd_sink_failures_total", sink="webhook", type="webhook"),
          "counters do not go back across a reload (new pipeline, new sinks)",
          str((val(s2, "driftd_events_total"), val(s2, "driftd_alerts_fired_total"))))
    with open(cfg, "a") as f:
        f.write("bogus_key: 1\n")
    proc.send_signal(signal.SIGHUP)
    check(wait_for_scrape(lambda: val(scrape(port)[0], "driftd_reloads_total", result="failure") == 1,
                   30, "refused reload"), "a refused reload counts as failure")
    s3 = scrape(port)[0]
    check(val(s3, "driftd_alerts_fired_total") == fired_before + 1,
          "the refused reload raised one self-alert", str(val(s3, "driftd_alerts_fired_total")))
    check(val(s3, "driftd_monitor_events_total", monitor="ph-f2", detector="page_hinkley") == 0,
          "the previous configuration still runs")
    rc, _ = stop(proc, 30)
    check(rc == 0, f"SIGTERM: exit 0 with the endpoint up (rc={rc})")
    try:
        socket.create_connection(("127.0.0.1", port), 2).close()
        closed = False
    except OSError:
        closed = True
    check(closed, "the endpoint is closed after exit")


def test_health(broker, tmp):
    # Sink errors: the webhook receiver is down and the limit is 2 in the window.
    topic = "health"
    broker.create_topic(topic, 1)
    broker.produce(topic, events(1600, 1000, 3), partition=0)
    port, hook = free_port(), free_port()
    cfg = os.path.join(tmp, "h.yaml")
    write_config(cfg, broker.bootstrap, topic, "g-health", port, os.path.join(tmp, "spool-h"),
                 hook, metrics_extra=", max_sink_errors: 2, error_window: 2m")
    proc = start(cfg, os.path.join(tmp, "h.out"), os.path.join(tmp, "h.err"))
    check(wait_for_scrape(lambda: get(f"http://127.0.0.1:{port}/healthz")[0] == 503, 120,
                   "503 from sink errors"), "/healthz turns 503 when sink errors pass the limit")
    st, body, _ = get(f"http://127.0.0.1:{port}/healthz")
    check(st == 503 and "sink errors" in body, "... and says why", body)
    check(val(scrape(port)[0], "driftd_healthy") == 0, "driftd_healthy is 0")
    stop(proc, 30)

    # Kafka errors: no broker at the configured address.
    port2, dead = free_port(), free_port()
    cfg2 = os.path.join(tmp, "k.yaml")
    write_config(cfg2, f"127.0.0.1:{dead}", topic, "g-dead", port2, os.path.join(tmp, "spool-k"),
                 hook, metrics_extra=", max_kafka_errors: 1")
    proc = start(cfg2, os.path.join(tmp, "k.out"), os.path.join(tmp, "k.err"))
    check(wait_for_scrape(lambda: get(f"http://127.0.0.1:{port2}/healthz")[0] == 503, 60,
                   "503 from Kafka errors"), "/healthz turns 503 when Kafka errors pass the limit")
    st, body, _ = get(f"http://127.0.0.1:{port2}/healthz")
    check("Kafka errors" in body, "... and says why", body)
    st, _, _ = get(f"http://127.0.0.1:{port2}/nope")
    check(st == 404, "unknown paths are 404")

    def raw(data, idle=False):
        with socket.create_connection(("127.0.0.1", port2), 10) as c:
            if not idle:
                c.sendall(data)
            c.settimeout(30)
            out = b""
            while True:
                b = c.recv(65536)
                if not b:
                    return out
                out += b
    check(raw(b"garbage\r\n\r\n").startswith(b"HTTP/1.1 400"), "a malformed request is 400")
    check(raw(b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n").startswith(
        b"HTTP/1.1 405"), "POST is 405")
    head = raw(b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    check(head.startswith(b"HTTP/1.1 200") and head.endswith(b"\r\n\r\n"),
          "HEAD /metrics: headers, no body")
    check(raw(b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 4"),
          "an oversized request line is refused")
    # A client that connects and says nothing is dropped after the I/O timeout; the endpoint
    # answers the next one.
    check(raw(b"", idle=True) == b"" and get(f"http://127.0.0.1:{port2}/healthz")[0] == 503,
          "an idle client is dropped and the endpoint keeps answering")
    # A client trickling its request a byte at a time (slowloris) is cut off by one deadline
    # for the whole request, not kept for as long as it keeps trickling.
    with socket.create_connection(("127.0.0.1", port2), 10) as c:
        req, sent, closed = b"GET /metrics HTTP/1.1\r\nX-Slow: " + b"a" * 40, 0, False
        for b in req:
            try:
                c.sendall(bytes([b]))
                sent += 1
            except OSError:
                closed = True
                break
            c.settimeout(0.5)
            try:
                if c.recv(1) == b"":
                    closed = True
                    break
            except socket.timeout:
                pass
            except OSError:
                closed = True
                break
    check(closed and sent < len(req),
          f"a trickling client is cut off ({sent} of {len(req)} bytes taken)")
    check(get(f"http://127.0.0.1:{port2}/healthz")[0] == 503, "... and the endpoint answers")
    stop(proc, 30)

    # The port is taken: the service runs without metrics and says so.
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    taken = blocker.getsockname()[1]
    cfg3 = os.path.join(tmp, "t.yaml")
    write_config(cfg3, broker.bootstrap, topic, "g-taken", taken, os.path.join(tmp, "spool-t"),
                 hook)
    err3 = os.path.join(tmp, "t.err")
    proc = start(cfg3, os.path.join(tmp, "t.out"), err3)
    check(wait_for_scrape(lambda: "running without metrics" in open(err3).read(), 30, "message"),
          "a taken port: the service runs without metrics and says so", open(err3).read()[-500:])
    check(proc.poll() is None, "... and keeps running")
    stop(proc, 30)
    blocker.close()


def main():
    with tempfile.TemporaryDirectory() as tmp, Broker(tmp) as broker:
        for t in (test_values, test_health):
            try:
                t(broker, tmp)
            except Exception as e:  # a harness failure is a test failure, not a crash
                import traceback
                traceback.print_exc()
                check(False, t.__name__, repr(e))
            finally:
                for p in STARTED:  # a check that raised must not leave a driftd behind
                    if p.poll() is None:
                        p.kill()
                        p.wait()
    return summary()


if __name__ == "__main__":
    sys.exit(main())
