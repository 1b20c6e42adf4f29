#!/usr/bin/env python3
"""`driftd run` against a real Apache Kafka broker (tests/integration/kafka):

1. alerts: a stream with a shift on one feature gives exactly that monitor's alerts, at the
   offsets scipy's ks_2samp says, with Kafka coordinates on them; SIGTERM exits 0 promptly and
   commits everything;
2. kill -9 mid-stream and restart: every offset is processed at least once (trace lines carry
   partition and offset), duplicates are bounded, nothing is missing, offsets end committed;
3. kill -9 after the reference was learnt and snapshotted: the restart restores it and resumes
   at the snapshot's offsets, so the shift is found at exactly the offsets of an uninterrupted
   run (scipy), once, and nothing the snapshot covered is read again;
4. corrupt newest snapshot: the previous generation is used, with a self-alert;
5. two instances in one group split the partitions between them and together see everything;
6. 100 kill -9 while reading and snapshotting: every start restores, and each partition's final
   state counted every record exactly once.

usage: test_run_kafka.py PATH/TO/driftd
"""

import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from scipy.stats import ks_2samp

sys.path.insert(0, str(Path(__file__).resolve().parent / "kafka"))
from harness import Broker  # noqa: E402
from tap import check, stop, summary, trace_lines, wait_for  # noqa: E402

DRIFTD = sys.argv[1]
def events(n, shift_at, seed):
    rng = random.Random(seed)
    out = []
    for i in range(n):
        f0 = round(rng.gauss(0, 1), 6)
        f2 = round(rng.gauss(0, 1) + (2.0 if shift_at is not None and i >= shift_at else 0), 6)
        out.append((f"client-{i % 17}", json.dumps({
            "ts": 1795780800000 + i * 100, "model": {"id": "m1"},
            "client": {"id": f"client-{i % 17}"}, "input": {"f0": f0, "f2": f2}})))
    return out


def config(path, brokers, topic, group, monitors, snapshot="5s"):
    """Each configuration keeps its state beside it (PATH.state), as two hosts would."""
    with open(path, "w") as f:
        f.write(f"""source:
  kafka:
    brokers: "{brokers}"
    topics: [{topic}]
    group: {group}
    properties: {{session.timeout.ms: 6000, heartbeat.interval.ms: 1000}}
state: {{dir: "{path}.state", snapshot_interval: {snapshot}}}
monitors:
{monitors}""")


def snapshots(cfg, group):
    """The state generations on disk, newest first: (generation, document)."""
    d = Path(f"{cfg}.state") / "state" / group
    out = []
    for f in sorted(d.glob("state-*.snap"), reverse=True):
        b = f.read_bytes()
        try:
            out.append((int(f.name[6:22], 16), json.loads(b[64:])))
        except ValueError:
            out.append((int(f.name[6:22], 16), None))
    return out


def snapshot_offsets(doc):
    return {(o["topic"], o["partition"]): o["next"] for o in doc["partitions"]}


def partition_state(doc, topic, partition):
    """One partition's saved monitors (state is per partition)."""
    for o in doc["partitions"]:
        if (o["topic"], o["partition"]) == (topic, partition):
            return o["state"]["monitors"]
    return {}


def start(cfg, trace, out, err):
    return subprocess.Popen([DRIFTD, "run", "-c", cfg, "--trace", trace],
                            stdout=open(out, "w"), stderr=open(err, "w"))


def test_alerts(broker, tmp):
    topic, n, shift = "alerts", 6000, 3000
    broker.create_topic(topic, 1)
    evs = events(n, shift, 1)
    broker.produce(topic, evs, partition=0)
    cfg, trace = os.path.join(tmp, "a.yaml"), os.path.join(tmp, "a.trace")
    mons = "".join(f"""  - {{name: ks-{f}, field: /input/{f}, detector: ks, params: {{alpha: 0.001}},
     reference: {{size: 1000}}, window: {{size: 500}}}}
""" for f in ("f0", "f2"))
    config(cfg, broker.bootstrap, topic, "g-alerts", mons)
    out, err = os.path.join(tmp, "a.out"), os.path.join(tmp, "a.err")
    proc = start(cfg, trace, out, err)
    done = wait_for(lambda: len([t for t in trace_lines(trace) if t["monitor"] == "ks-f2"]) >= 10,
                    60, "all windows")
    check(done, "driftd run consumed the whole topic", open(err).read()[-1500:])
    rc, dt = stop(proc)
    check(rc == 0 and dt < 10, f"SIGTERM: exit 0 promptly (rc={rc}, {dt:.1f}s)")
    alerts = [json.loads(l) for l in open(out)]
    # scipy over the same values: windows of 500 after a reference of 1000; offsets = indices
    xs = {f: [json.loads(v)["input"][f] for _, v in evs] for f in ("f0", "f2")}
    want = {}
    for f in ("f0", "f2"):
        fired, prev = [], False
        for start_i in range(1000, n - 499, 500):
            p = ks_2samp(xs[f][:1000], xs[f][start_i:start_i + 500]).pvalue
            if p < 0.001 and not prev:
                fired.append(start_i + 499)
            prev = p < 0.001
        want[f"ks-{f}"] = fired
    got = {}
    for a in alerts:
        if a["status"] == "firing":
            got.setdefault(a["rule"], []).append(a["output_fields"]["kafka.offset"])
    check(got.get("ks-f2") == want["ks-f2"] and want["ks-f2"],
          "the shifted feature alerts at the offsets scipy gives", f"{got} vs {want}")
    check("ks-f0" not in got and not want["ks-f0"], "the clean feature does not alert", str(got))
    f = alerts[0]["output_fields"] if alerts else {}
    check(f.get("kafka.topic") == topic and f.get("kafka.partition") == 0,
          "alerts carry kafka.topic/partition/offset", str(f))
    committed = broker.committed_offsets("g-alerts", topic)
    check(committed.get(0) == n, f"all {n} offsets committed at shutdown", str(committed))

    # Backtesting the same topic gives the same alerts, and a range reads only that range.
    p = subprocess.run([DRIFTD, "replay", "-c", cfg, "--kafka-topic", topic],
                       capture_output=True, text=True, timeout=120)
    bt = [json.loads(l)["output_fields"]["kafka.offset"] for l in p.stdout.splitlines()
          if json.loads(l)["status"] == "firing"]
    check(p.returncode == 0 and bt == want["ks-f2"], "replay --kafka-topic alerts like run",
          f"rc={p.returncode} {bt} {p.stderr[-500:]}")
    p = subprocess.run([DRIFTD, "replay", "-c", cfg, "--kafka-topic", topic,
                        "--from", "1500", "--to", "4500"],
                       capture_output=True, text=True, timeout=120)
    check(p.returncode == 0 and "driftd: 3000 records" in p.stderr,
          "replay --from 1500 --to 4500 reads exactly 3000 records", p.stderr[-500:])


def test_time_range(broker, tmp):
    """replay --from TIME starts at the first record stamped at or after TIME (the broker's
    time index), here the second of two batches produced a few seconds apart."""
    topic = "timed"
    broker.create_topic(topic, 1)
    broker.produce(topic, events(100, None, 4), partition=0)
    time.sleep(1.5)
    t = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + "Z"
    time.sleep(1.5)
    broker.produce(topic, events(200, None, 5), partition=0)
    cfg = os.path.join(tmp, "t.yaml")
    config(cfg, broker.bootstrap, topic, "g-timed",
           "  - {name: ph, field: /input/f0, detector: page_hinkley}\n")
    p = subprocess.run([DRIFTD, "replay", "-c", cfg, "--kafka-topic", topic, "--from", t],
                       capture_output=True, text=True, timeout=120)
    check(p.returncode == 0 and "driftd: 200 records" in p.stderr,
          f"replay --from {t} reads only the records stamped after it", p.stderr[-500:])


def test_formats(broker, tmp):
    """Each input format end to end: records in that format on a topic, driftd reads them
    through its Kafka path (replay --kafka-topic) with source.kafka.format set, and a KS monitor
    on the adapted event's pointer gives scipy's p-value for the values sent."""
    n = 300
    rng = random.Random(9)
    xs = [round(rng.gauss(5, 1), 4) for _ in range(n)]
    cases = {}
    # native, in CloudEvents binary mode (ce_ headers, the value is the data)
    cases["cloudevents"] = ("/input/x", [(None, json.dumps({"model": {"id": "m"},
                                                            "input": {"x": x}}),
                                          {"ce_specversion": "1.0", "ce_type": "inference",
                                           "ce_source": "/svc/m", "ce_id": f"id-{i}",
                                           "content-type": "application/json"})
                                         for i, x in enumerate(xs)])
    # Open Inference Protocol: request and response as two records, joined by id
    kv2 = []
    for i, x in enumerate(xs):
        kv2.append((None, json.dumps({"id": f"r{i}", "inputs": [
            {"name": "x", "shape": [1], "datatype": "FP64", "data": [x]}]}), None))
        kv2.append((None, json.dumps({"model_name": "m", "id": f"r{i}", "outputs": [
            {"name": "y", "shape": [1], "datatype": "FP64", "data": [x * 2]}]}), None))
    cases["kserve-v2"] = ("/output/y", kv2)
    # OpenAI chat completions: request and response in one record
    cases["openai-chat"] = ("/output/usage/completion_tokens", [(None, json.dumps({
        "request": {"model": "gpt-x", "messages": [{"role": "user", "content": "hi"}]},
        "response": {"id": f"c{i}", "object": "chat.completion", "created": 1795780800 + i,
                     "model": "gpt-x", "choices": [{"index": 0, "finish_reason": "stop",
                                                    "message": {"role": "assistant",
                                                                "content": "ok"}}],
                     "usage": {"prompt_tokens": 5, "completion_tokens": int(x * 10),
                               "total_tokens": 5 + int(x * 10)}}}), None)
        for i, x in enumerate(xs)])
    want_vals = {"cloudevents": xs, "kserve-v2": [x * 2 for x in xs],
                 "openai-chat": [float(int(x * 10)) for x in xs]}
    for fmt, (ptr, recs) in cases.items():
        topic = "fmt-" + fmt
        broker.create_topic(topic, 1)
        broker.produce(topic, [(k, v) for k, v, _ in recs], partition=0,
                       headers=lambda i, r, recs=recs: recs[i][2])
        cfg = os.path.join(tmp, f"{fmt}.yaml")
        with open(cfg, "w") as f:
            f.write(f"""source:
  kafka: {{brokers: "{broker.bootstrap}", topics: [{topic}], format: {fmt}}}
monitors:
  - {{name: v, field: "{ptr}", detector: ks, reference: {{size: 150}}, window: {{size: 150}}}}
""")
        trace = os.path.join(tmp, f"{fmt}.trace")
        p = subprocess.run([DRIFTD, "replay", "-c", cfg, "--trace", trace,
                            "--kafka-topic", topic], capture_output=True, text=True,
                           timeout=120)
        got = trace_lines(trace)
        # KS of the second half against the first, over the values as sent: the same
        # p-value proves every value arrived, in order, at the pointer the docs give.
        w = want_vals[fmt]
        want_p = ks_2samp(w[:150], w[150:]).pvalue
        check(p.returncode == 0 and len(got) == 1 and
              abs(got[0]["p_value"] - want_p) <= 1e-12 * want_p,
              f"{fmt}: all {n} events reached the monitor at {ptr} with their values",
              f"{got}; scipy p {want_p}; {p.stderr[-600:]}")


def test_held_halves(broker, tmp):
    """kserve-v2 requests whose responses come after a restart: the state notes where the
    oldest waiting request is, the restart reads from there into the adapter only, so every
    request pairs with its response and every pair is counted once."""
    topic, group, n = "halves", "g-halves", 400
    broker.create_topic(topic, 1)
    req = lambda i: (None, json.dumps({"id": f"r{i}", "inputs": [
        {"name": "x", "shape": [1], "datatype": "FP64", "data": [i / 10]}]}))
    res = lambda i: (None, json.dumps({"model_name": "m", "id": f"r{i}", "outputs": [
        {"name": "y", "shape": [1], "datatype": "FP64", "data": [i / 5]}]}))
    # Before the restart: pairs 0..199 complete, interleaved with the requests of 200..399
    # that wait; and pair "s" straddles the oldest waiting request (its request before it,
    # its response after): reading again must not hold that response as a lone half.
    first, waiting = [req(1000)], []
    for i in range(200):
        waiting.append(len(first))
        first += [req(200 + i), req(i), res(i)]
        if i == 100:
            first.append(res(1000))
    broker.produce(topic, first, partition=0)
    cfg = os.path.join(tmp, "h.yaml")
    config(cfg, broker.bootstrap, topic, group,
           "  - {name: ph, field: /output/y, detector: page_hinkley}\n", snapshot="300ms")
    with open(cfg) as f:
        text = f.read().replace(f"group: {group}", f"group: {group}\n    format: kserve-v2")
    with open(cfg, "w") as f:
        f.write(text)
    trace, err = os.path.join(tmp, "h.trace"), os.path.join(tmp, "h.err")
    proc = start(cfg, trace, os.path.join(tmp, "h.out"), err)
    wait_for(lambda: len(trace_lines(trace)) >= 201, 60, "the first pairs")
    # kill -9 once a snapshot covers them: the restart then waits out the dead member's
    # session before its partition is assigned, and snapshots taken meanwhile must keep the
    # waiting halves' offsets.
    covered = lambda: any(d and d["partitions"] and d["partitions"][0]["next"] == len(first)
                          for _, d in snapshots(cfg, group))
    wait_for(covered, 30, "a snapshot covering the first records")
    proc.kill()
    proc.wait()
    rc1 = 0
    gen, doc = snapshots(cfg, group)[0]
    part = doc["partitions"][0]
    check(rc1 == 0 and part["next"] == len(first) and part.get("held") == waiting,
          f"the snapshot notes the offsets of the 200 waiting requests (next {len(first)})",
          json.dumps({k: v for k, v in part.items() if k != "state"})[:400])
    proc = start(cfg, trace, os.path.join(tmp, "h.out"), err)
    wait_for(lambda: "assigned 1 partition" in open(err).read(), 60, "the assignment")
    broker.produce(topic, [res(200 + i) for i in range(200)], partition=0)
    wait_for(lambda: len(trace_lines(trace)) >= n + 1, 60, "the late responses")
    time.sleep(1)
    rc2, _ = stop(proc)
    lines = trace_lines(trace)
    e = open(err).read()
    check(rc2 == 0 and len(lines) == n + 1 and
          "200 request halves waiting for their response read again from 1" in e and
          "0 unpaired halves (0 still pending)" in e,
          f"after the restart every request paired with its response, each pair once, and "
          f"nothing is left waiting ({len(lines)} of {n + 1} events)", e[-800:])
    gen, doc = snapshots(cfg, group)[0]
    matched = doc["partitions"][0]["state"]["monitors"]["ph"]["monitor"]["matched"]
    check(matched == n + 1 and "held" not in doc["partitions"][0],
          f"the state counted {matched} events (want {n + 1}); nothing waits any more")


def test_kill9(broker, tmp):
    topic, n1, n = "crash", 20000, 80000
    broker.create_topic(topic, 3)
    evs = events(n, None, 2)
    broker.produce(topic, evs[:n1])
    cfg, trace = os.path.join(tmp, "k.yaml"), os.path.join(tmp, "k.trace")
    config(cfg, broker.bootstrap, topic, "g-crash",
           "  - {name: ph, field: /input/f0, detector: page_hinkley}\n", snapshot="1s")
    out, err = os.path.join(tmp, "k.out"), os.path.join(tmp, "k.err")
    proc = start(cfg, trace, out, err)
    # Phase 1 is processed and, with a snapshot (and its commit) every second, covered.
    wait_for(lambda: len(trace_lines(trace)) >= n1, 60, "phase 1")
    time.sleep(2.5)
    # Phase 2 is produced at a pace (2000 records every 50 ms) while driftd consumes it, so
    # the kill lands mid-stream however fast the consumer is.
    def paced():
        for k in range(n1, n, 2000):
            broker.produce(topic, evs[k:k + 2000])
            time.sleep(0.05)
    producer = threading.Thread(target=paced)
    producer.start()
    wait_for(lambda: len(trace_lines(trace)) >= n1 + 5000, 60, "5000 records of phase 2")
    proc.kill()  # SIGKILL mid-stream
    proc.wait()
    first = len(trace_lines(trace))
    producer.join()
    check(n1 + 5000 <= first < n, f"killed mid-stream ({first} of {n} processed)")
    proc = start(cfg, trace, out, err)
    seen = lambda: {(t["kafka.partition"], t["kafka.offset"]) for t in trace_lines(trace)}
    done = wait_for(lambda: len(seen()) >= n, 90, "every offset after the restart")
    rc, _ = stop(proc)
    lines = trace_lines(trace)
    dup = len(lines) - len(seen())
    check(done and len(seen()) == n, f"after kill -9 and restart every one of {n} offsets was "
          f"processed", f"{len(seen())} seen")
    # What the last snapshot before the crash covered is not processed again: only records
    # after it (phase 2's, at most) come back.
    check(dup <= first - n1, f"duplicates bounded: {dup} re-delivered, at most the "
          f"{first - n1} processed after the last certain commit")
    check(rc == 0, "the restarted instance stops cleanly", open(err).read()[-1000:])
    wm = broker.watermarks(topic)
    committed = broker.committed_offsets("g-crash", topic)
    check(all(committed.get(p) == hi for p, (_, hi) in wm.items()),
          "offsets committed to the end", f"{committed} vs {wm}")


def ks_alert_offsets(xs, ref, win, alpha):
    """Where an uninterrupted ks monitor fires (scipy): the last offset of each window whose
    p-value first drops below alpha."""
    fired, prev = [], False
    for start_i in range(ref, len(xs) - win + 1, win):
        p = ks_2samp(xs[:ref], xs[start_i:start_i + win]).pvalue
        if p < alpha and not prev:
            fired.append(start_i + win - 1)
        prev = p < alpha
    return fired


def test_restore(broker, tmp):
    topic, group, n, shift, cut = "restore", "g-restore", 8000, 5000, 2600
    broker.create_topic(topic, 1)
    evs = events(n, shift, 6)
    broker.produce(topic, evs[:cut], partition=0)
    cfg, trace = os.path.join(tmp, "r.yaml"), os.path.join(tmp, "r.trace")
    config(cfg, broker.bootstrap, topic, group,
           """  - {name: ks-f2, field: /input/f2, detector: ks, params: {alpha: 0.001},
     reference: {size: 1000}, window: {size: 500}}
  - {name: cusum-f0, field: /input/f0, detector: cusum}
""", snapshot="300ms")
    out, err = os.path.join(tmp, "r.out"), os.path.join(tmp, "r.err")
    proc = start(cfg, trace, out, err)
    covered = lambda: any(d and snapshot_offsets(d).get((topic, 0)) == cut
                          for _, d in snapshots(cfg, group))
    check(wait_for(covered, 60, "a snapshot covering the first records"),
          f"a snapshot covers offsets 0..{cut - 1} (reference learnt)", open(err).read()[-800:])
    proc.kill()  # SIGKILL: no shutdown snapshot, no final commit
    proc.wait()
    gen, doc = snapshots(cfg, group)[0]
    mon = partition_state(doc, topic, 0)["ks-f2"]["monitor"]
    check(mon["phase"] == "active" and mon["ref_n"] == 1000,
          f"generation {gen} holds the learnt reference ({mon['phase']}, {mon['ref_n']} values)")
    before = len(trace_lines(trace))

    broker.produce(topic, evs[cut:], partition=0)
    proc = start(cfg, trace, out, err)
    done = wait_for(lambda: any(t["kafka.offset"] == n - 1 for t in trace_lines(trace)[before:]),
                    90, "the rest of the topic")
    rc, _ = stop(proc)
    after = trace_lines(trace)[before:]
    e = open(err).read()
    check(done and rc == 0 and
          "resumes at offset 2600 (the state snapshot's, the local snapshot)" in e and
          "2 monitor states resume" in e and "0 start over" in e,
          "the restart restored both monitors and resumed at the snapshot's offset", e[-1200:])
    check(after and min(t["kafka.offset"] for t in after) >= cut,
          f"nothing the snapshot covered was read again (first offset after the restart: "
          f"{min((t['kafka.offset'] for t in after), default=None)})")
    xs = [json.loads(v)["input"]["f2"] for _, v in evs]
    want = ks_alert_offsets(xs, 1000, 500, 0.001)
    alerts = [json.loads(l) for l in open(out)]
    got = [a["output_fields"]["kafka.offset"] for a in alerts
           if a["rule"] == "ks-f2" and a["status"] == "firing"]
    check(want and got == want and want[0] >= shift,
          f"the shift is found at the offsets of an uninterrupted run, once ({got} vs {want})")
    # The cumulative sum went on from where it was: its verdicts after the restart equal
    # those of a run that never stopped (replay of the whole topic).
    rp = subprocess.run([DRIFTD, "replay", "-c", cfg, "--kafka-topic", topic, "--trace",
                         os.path.join(tmp, "r-whole.trace")], capture_output=True, text=True,
                        timeout=120)
    whole = {t["kafka.offset"]: t["score"] for t in trace_lines(os.path.join(tmp, "r-whole.trace"))
             if t["monitor"] == "cusum-f0"}
    resumed = {t["kafka.offset"]: t["score"] for t in after if t["monitor"] == "cusum-f0"}
    check(rp.returncode == 0 and resumed and all(whole.get(k) == v for k, v in resumed.items()),
          f"cusum after the restart equals an uninterrupted run bit for bit "
          f"({len(resumed)} verdicts)", rp.stderr[-400:])
    committed = broker.committed_offsets(group, topic)
    check(committed.get(0) == n, f"offsets committed to the end after SIGTERM ({committed})")

    # The newest generation damaged: the one before is used, and a self-alert says so.
    newest = sorted((Path(f"{cfg}.state") / "state" / group).glob("state-*.snap"))[-1]
    b = bytearray(newest.read_bytes())
    b[100] ^= 0xFF
    newest.write_bytes(bytes(b))
    open(out, "w").close()
    proc = start(cfg, trace, out, err)
    wait_for(lambda: os.path.getsize(out) > 0, 30, "the self-alert")
    rc, _ = stop(proc)
    alerts = [json.loads(l) for l in open(out)]
    fb = [a for a in alerts if a["rule"] == "driftd.state_restore_fallback"]
    check(rc == 0 and len(fb) == 1 and "checksum mismatch" in fb[0]["output_fields"]["error"]
          and "self" in fb[0]["tags"], "a corrupt newest snapshot: previous generation used, "
          "driftd.state_restore_fallback raised", json.dumps(fb) + open(err).read()[-600:])

    # `driftd state`: list, export, restore a known good generation, refuse a bad import.
    run = lambda *a: subprocess.run([DRIFTD, "state", *a, "-c", cfg], capture_output=True,
                                    text=True, timeout=60)
    gens = [g for g, d in snapshots(cfg, group) if d]
    ls = run("list")
    check(ls.returncode == 0 and all(str(g) in ls.stdout for g in gens) and
          f"resumes {topic}[0]@{n}" in ls.stdout, "state list shows the generations and "
          "where each resumes", ls.stdout + ls.stderr)
    old = gens[-1]
    ex = run("export", "--generation", str(old))
    doc = json.loads(ex.stdout) if ex.returncode == 0 else {}
    check(set(partition_state(doc, topic, 0)) == {"ks-f2", "cusum-f0"} and
          doc["partitions"][0]["topic"] == topic, f"state export of generation {old}",
          ex.stderr)
    rs = run("restore", "--generation", str(old))
    newest_gen, newest = snapshots(cfg, group)[0]
    check(rs.returncode == 0 and newest_gen > gens[0] and
          snapshot_offsets(newest) == snapshot_offsets(doc) and
          newest["partitions"] == doc["partitions"],
          f"state restore --generation {old} makes it the newest ({newest_gen})",
          rs.stdout + rs.stderr)
    # A seed alone (replay --save-state) replaces the seed and keeps the partitions' state.
    seed = os.path.join(tmp, "seed.json")
    sv = subprocess.run([DRIFTD, "replay", "-q", "-c", cfg, "--kafka-topic", topic,
                         "--save-state", seed], capture_output=True, text=True, timeout=120)
    before_gen, before = snapshots(cfg, group)[0]
    im = subprocess.run([DRIFTD, "state", "import", "-c", cfg, seed], capture_output=True,
                        text=True, timeout=60)
    after_gen, after_doc = snapshots(cfg, group)[0]
    check(sv.returncode == 0 and im.returncode == 0 and "replaces the seed" in im.stdout and
          after_gen > before_gen and after_doc["partitions"] == before["partitions"] and
          after_doc["seed"] == json.load(open(seed))["seed"],
          "state import of a replay's seed keeps every partition's own state",
          sv.stderr[-300:] + im.stdout + im.stderr)
    newest_gen = after_gen
    partition_state(doc, topic, 0)["ks-f2"]["monitor"]["ref_n"] = 5000
    bad = os.path.join(tmp, "bad-state.json")
    with open(bad, "w") as f:
        json.dump(doc, f)
    im = subprocess.run([DRIFTD, "state", "import", "-c", cfg, bad], capture_output=True,
                        text=True, timeout=60)
    check(im.returncode == 1 and f"does not fit this configuration: {topic}[0]: monitor ks-f2" in im.stderr
          and snapshots(cfg, group)[0][0] == newest_gen,
          "state import of a tampered document is refused, nothing written", im.stderr)


def test_group_moved_on(broker, tmp):
    """A's snapshot covers the first records; while A is stopped, B (same group, its own
    state) reads on and commits. When A comes back it resumes at the group's commit, not at
    its snapshot: nothing is counted twice across the group."""
    topic, group = "moved", "g-moved"
    broker.create_topic(topic, 1)
    evs = events(3000, None, 8)
    broker.produce(topic, evs[:1000], partition=0)
    mon = "  - {name: ph, field: /input/f0, detector: page_hinkley}\n"
    a_cfg, b_cfg = os.path.join(tmp, "ma.yaml"), os.path.join(tmp, "mb.yaml")
    config(a_cfg, broker.bootstrap, topic, group, mon, snapshot="300ms")
    config(b_cfg, broker.bootstrap, topic, group, mon, snapshot="300ms")
    a_trace, b_trace = os.path.join(tmp, "ma.trace"), os.path.join(tmp, "mb.trace")
    a_err = os.path.join(tmp, "ma.err")
    a = start(a_cfg, a_trace, os.path.join(tmp, "ma.out"), a_err)
    wait_for(lambda: len(trace_lines(a_trace)) >= 1000, 60, "A reads the first records")
    stop(a)
    broker.produce(topic, evs[1000:2000], partition=0)
    b = start(b_cfg, b_trace, os.path.join(tmp, "mb.out"), os.path.join(tmp, "mb.err"))
    wait_for(lambda: len(trace_lines(b_trace)) >= 1000, 60, "B reads the next records")
    stop(b)
    broker.produce(topic, evs[2000:], partition=0)
    before = len(trace_lines(a_trace))
    a = start(a_cfg, a_trace, os.path.join(tmp, "ma.out"), a_err)
    wait_for(lambda: any(t["kafka.offset"] == 2999 for t in trace_lines(a_trace)[before:]), 60,
             "A reads the rest")
    stop(a)
    after = [t["kafka.offset"] for t in trace_lines(a_trace)[before:]]
    e = open(a_err).read()
    check(after and min(after) == 2000 and "the group committed 2000, past the state's 1000" in e,
          f"a member back after the group moved on resumes at the group's commit "
          f"(first offset {min(after, default=None)})", e[-800:])


def test_group_split(broker, tmp):
    topic, n = "split", 8000
    broker.create_topic(topic, 4)
    procs, traces, errs = [], [], []
    for k in range(2):
        cfg, trace = os.path.join(tmp, f"s{k}.yaml"), os.path.join(tmp, f"s{k}.trace")
        config(cfg, broker.bootstrap, topic, "g-split",
               "  - {name: ph, field: /input/f0, detector: page_hinkley}\n")
        errs.append(os.path.join(tmp, f"s{k}.err"))
        procs.append(start(cfg, trace, os.path.join(tmp, f"s{k}.out"), errs[-1]))
        traces.append(trace)
    # Produce once both members hold partitions, so the split is the group's, not a race.
    assigned = lambda: all("assigned 2 partitions" in open(e).read() for e in errs)
    check(wait_for(assigned, 60, "both instances assigned"), "the group gave each instance 2 "
          "of the 4 partitions", " / ".join(open(e).read()[-300:] for e in errs))
    broker.produce(topic, events(n, None, 3))
    union = lambda: {(t["kafka.partition"], t["kafka.offset"])
                     for tr in traces for t in trace_lines(tr)}
    done = wait_for(lambda: len(union()) >= n, 90, "both instances to finish")
    for p in procs:
        stop(p)
    parts = [{t["kafka.partition"] for t in trace_lines(tr)} for tr in traces]
    check(done, f"two instances in one group processed all {n} records", str(len(union())))
    check(all(parts) and len(parts[0] | parts[1]) == 4,
          f"the partitions were split between the instances ({sorted(parts[0])} / "
          f"{sorted(parts[1])})")


def test_kill_loop(broker, tmp):
    """100 times: start, let it read (snapshots every 20 ms, records arriving), kill -9 at a
    random moment. Every start restores a usable state, and in the end each partition's state
    has counted every one of its records exactly once."""
    topic, group, parts = "killloop", "g-killloop", 2
    broker.create_topic(topic, parts)
    cfg = os.path.join(tmp, "kl.yaml")
    mons = "".join(f"  - {{name: ph{k}, field: /input/f{k % 3}, detector: page_hinkley}}\n"
                   f"  - {{name: ks{k}, field: /input/f{k % 3}, detector: ks, "
                   f"reference: {{size: 500}}, window: {{size: 200}}}}\n" for k in range(10))
    config(cfg, broker.bootstrap, topic, group, mons, snapshot="20ms")
    # Static membership: a restart takes its partitions back at once instead of waiting out
    # the killed member's session.
    with open(cfg) as f:
        text = f.read().replace("heartbeat.interval.ms: 1000}",
                                "heartbeat.interval.ms: 1000, group.instance.id: kill-loop}")
    with open(cfg, "w") as f:
        f.write(text)
    stop_flag = threading.Event()
    sent = {p: 0 for p in range(parts)}

    def paced():
        rng = random.Random(9)
        while not stop_flag.is_set():
            for p in range(parts):
                batch = [("k", json.dumps({"model": {"id": "m1"}, "input": {
                    f"f{k}": round(rng.gauss(0, 1), 6) for k in range(3)}}))
                    for _ in range(200)]
                broker.produce(topic, batch, partition=p)
                sent[p] += len(batch)
            time.sleep(0.02)
    producer = threading.Thread(target=paced)
    producer.start()
    rng = random.Random(4)
    err = os.path.join(tmp, "kl.err")
    bad_starts = []
    for i in range(100):
        open(err, "w").close()
        proc = subprocess.Popen([DRIFTD, "run", "-c", cfg], stdout=subprocess.DEVNULL,
                                stderr=open(err, "w"))
        wait_for(lambda: "assigned" in open(err).read(), 30, "assignment")
        time.sleep(rng.uniform(0, 0.3))
        proc.kill()
        proc.wait()
        e = open(err).read()
        if ("unusable" in e or "state: cannot" in e or "does not load" in e or
                "assigned" not in e):
            bad_starts.append((i, e[-600:]))
    stop_flag.set()
    producer.join()
    check(not bad_starts, "100 kill -9 during reading and snapshotting: every start restored "
          "a usable state", str(bad_starts[:2]))
    total = sum(sent.values())
    trace = os.path.join(tmp, "kl.trace")
    proc = start(cfg, trace, os.path.join(tmp, "kl.out"), err)
    done = wait_for(lambda: broker.committed_offsets(group, topic) ==
                    {p: sent[p] for p in range(parts)}, 120, "the rest, committed")
    rc, _ = stop(proc)
    gen, doc = snapshots(cfg, group)[0]
    counted = {o["partition"]: o["state"]["monitors"]["ph0"]["monitor"]["matched"]
               for o in doc["partitions"]}
    check(done and rc == 0 and counted == sent,
          f"after 100 crashes each partition's state counted its records exactly once "
          f"({counted} of {sent}, {total} in all)", open(err).read()[-800:])


def main():
    with tempfile.TemporaryDirectory() as tmp, Broker(tmp) as broker:
        for t in (test_alerts, test_time_range, test_formats, test_held_halves, test_kill9,
                  test_restore,
                  test_group_moved_on, test_group_split, test_kill_loop):
            try:
                t(broker, tmp)
            except Exception as e:  # a harness failure is a test failure, not a crash
                check(False, t.__name__, repr(e))
    return summary()


if __name__ == "__main__":
    sys.exit(main())
