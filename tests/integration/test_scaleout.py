#!/usr/bin/env python3
"""State per partition and scale-out, against a real Apache Kafka broker (tests/integration/kafka):
1. three `driftd run` instances in one group over a topic of 6 partitions, with the state topic
   (state.kafka_topic) as second tier. Once every partition's reference is learnt and committed,
   one instance is killed with SIGKILL; the other two take its partitions over, restore their
   state from the state topic (not relearnt: windows stay aligned to the reference, as scipy
   says an uninterrupted monitor would close them), and the shift injected afterwards is found
   in every partition at the offset scipy's ks_2samp gives. Every offset is processed exactly
   once across the group, and each partition's final state has counted exactly its records.
2. the state topic cannot be read when partitions are assigned (fault injection): they wait,
   paused, and go on from the topic's state once it can be read;
3. one instance, a broker outage longer than the session timeout: the group is lost and
   rejoined, partitions resume where their state stops; nothing is counted twice.
usage: test_scaleout.py PATH/TO/driftd
"""
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scipy.stats import ks_2samp

sys.path.insert(0, str(Path(__file__).resolve().parent / "kafka"))
from harness import Broker  # noqa: E402
from tap import check, stop, summary, trace_lines, wait_for  # noqa: E402

DRIFTD = sys.argv[1]
REF, WIN, ALPHA = 300, 200, 0.001


def values(part, n, shift_at):
    rng = random.Random(1000 + part)
    return [round(rng.gauss(0, 1) + (1.5 if i >= shift_at else 0), 6) for i in range(n)]


def records(part, xs, start, end):
    return [(f"k{part}-{i}", json.dumps({"ts": 1795780800000 + i * 100, "model": {"id": "m1"},
                                         "input": {"f2": xs[i]}}))
            for i in range(start, end)]


def config(path, brokers, topic, group, state_topic=None):
    st = f", kafka_topic: {state_topic}" if state_topic else ""
    with open(path, "w") as f:
        f.write(f"""source:
  kafka:
    brokers: "{brokers}"
    topics: [{topic}]
    group: {group}
    properties: {{session.timeout.ms: 6000, heartbeat.interval.ms: 1000}}
state: {{dir: "{path}.state", snapshot_interval: 300ms{st}}}
monitors:
  - {{name: ks-f2, field: /input/f2, detector: ks, params: {{alpha: {ALPHA}}},
     reference: {{size: {REF}}}, window: {{size: {WIN}}}}}
  - {{name: ph-f2, field: /input/f2, detector: page_hinkley}}
""")


def start(cfg, tag, tmp, env=None):
    trace = os.path.join(tmp, f"{tag}.trace")
    err = os.path.join(tmp, f"{tag}.err")
    out = os.path.join(tmp, f"{tag}.out")
    p = subprocess.Popen([DRIFTD, "run", "-c", cfg, "--trace", trace],
                         stdout=open(out, "a"), stderr=open(err, "a"),
                         env=dict(os.environ, **(env or {})))
    return p, trace, err, out  # (process, trace, stderr, stdout)


def ks_verdicts(xs):
    """Where an uninterrupted monitor closes its windows, and where it first finds the shift."""
    closes, first = [], None
    for s in range(REF, len(xs) - WIN + 1, WIN):
        closes.append(s + WIN - 1)
        if first is None and ks_2samp(xs[:REF], xs[s:s + WIN]).pvalue < ALPHA:
            first = s + WIN - 1
    return closes, first


def state_records(broker, state_topic, group):
    """The latest state-topic record of each partition of the group: {partition: value}."""
    latest = {}
    for r in broker.consume_all(state_topic, timeout=30):
        key = r.key.decode() if r.key else ""
        if key.startswith(group + "/") and r.value:
            latest[int(key.rsplit("/", 1)[1])] = json.loads(r.value)
    return latest


def test_three_instances(broker, tmp):
    topic, group, state_topic, parts = "scale", "g-scale", "driftd-state", 6
    n1, n = 1000, 2000
    broker.create_topic(topic, parts)
    xs = {p: values(p, n, n1 + 100) for p in range(parts)}
    cfgs, procs = [], []
    for k in range(3):
        cfg = os.path.join(tmp, f"i{k}.yaml")
        config(cfg, broker.bootstrap, topic, group, state_topic)
        cfgs.append(cfg)
        procs.append(start(cfg, f"i{k}", tmp))
    errs = [p[2] for p in procs]
    check(wait_for(lambda: all("assigned 2 partitions" in open(e).read() for e in errs), 90,
                   "three members with two partitions each"),
          "the group gave each of the 3 instances 2 of the 6 partitions",
          " / ".join(open(e).read()[-300:] for e in errs))
    for p in range(parts):
        broker.produce(topic, records(p, xs[p], 0, n1), partition=p)
    # Phase 1 read, every reference learnt, and committed (which follows the state topic's ack).
    committed = lambda: broker.committed_offsets(group, topic)
    check(wait_for(lambda: all(committed().get(p) == n1 for p in range(parts)), 90,
                   "phase 1 committed"),
          f"phase 1 ({n1} records per partition) processed and committed", str(committed()))
    owned = {p: k for k in range(3) for p in {t["kafka.partition"]
                                              for t in trace_lines(procs[k][1])}}
    victim = 0
    moved = sorted(p for p, k in owned.items() if k == victim)
    check(len(moved) == 2, f"instance {victim} held partitions {moved}")
    latest = state_records(broker, state_topic, group)
    check(all(latest.get(p, {}).get("next") == n1 for p in range(parts)),
          "the state topic holds every partition's state at the committed offset",
          str({p: v.get("next") for p, v in latest.items()}))
    procs[victim][0].kill()  # SIGKILL: no revoke, no last snapshot
    procs[victim][0].wait()

    for p in range(parts):
        broker.produce(topic, records(p, xs[p], n1, n), partition=p)
    union = lambda: [(t["kafka.partition"], t["kafka.offset"]) for k in range(3)
                     for t in trace_lines(procs[k][1]) if t["monitor"] == "ph-f2"]
    done = wait_for(lambda: len(set(union())) >= parts * n, 120, "every offset")
    rcs = [stop(procs[k][0], 20)[0] for k in range(3) if k != victim]
    seen = union()
    check(done and len(set(seen)) == parts * n,
          f"all {parts * n} records processed across the group", f"{len(set(seen))}")
    check(len(seen) == len(set(seen)),
          f"each processed exactly once ({len(seen) - len(set(seen))} processed twice)")
    check(rcs == [0, 0], f"the survivors stop cleanly ({rcs})")
    logs = "".join(open(errs[k]).read() for k in range(3) if k != victim)
    for p in moved:
        check(f"{topic}[{p}] resumes at offset {n1} (the state snapshot's, the state topic)"
              in logs, f"partition {p} of the killed instance resumed at {n1} with the state "
              "restored from the state topic", logs[-1500:])
    # Windows stay aligned to the reference learnt before the kill, and the shift is found
    # where an uninterrupted monitor finds it: in every partition, moved or not.
    verdicts = {}
    for k in range(3):
        for t in trace_lines(procs[k][1]):
            if t["monitor"] == "ks-f2":
                verdicts.setdefault(t["kafka.partition"], []).append(t)
    for p in range(parts):
        closes, first = ks_verdicts(xs[p])
        got = sorted(t["kafka.offset"] for t in verdicts.get(p, []))
        got_first = min((t["kafka.offset"] for t in verdicts.get(p, []) if t["drift"]),
                        default=None)
        check(got == closes and first is not None and got_first == first,
              f"partition {p}{' (moved)' if p in moved else ''}: windows at the uninterrupted "
              f"offsets, shift found at {got_first} (scipy: {first})",
              f"{got[:6]}... vs {closes[:6]}...")
    alerts = [json.loads(ln) for k in range(3) if k != victim for ln in open(procs[k][3])
              if ln.strip()]
    firing = [a for a in alerts if a["rule"] == "ks-f2" and a["status"] == "firing"]
    check(len(firing) >= 1 and all(a["fingerprint"] == firing[0]["fingerprint"] for a in firing)
          and len(firing) <= 2,
          f"alerts continue after the kill: {len(firing)} firing ks-f2 notifications from the "
          "2 survivors, one fingerprint (one per instance at most)", json.dumps(firing)[:600])
    latest = state_records(broker, state_topic, group)
    counted = {p: latest.get(p, {}).get("state", {}).get("monitors", {}).get("ph-f2", {})
               .get("monitor", {}).get("matched") for p in range(parts)}
    check(all(counted[p] == n for p in range(parts)) and
          all(latest[p]["next"] == n for p in range(parts)),
          f"each partition's final state counted exactly its {n} records", str(counted))


def test_unreadable_state_topic(broker, tmp):
    """Host X reads the first half and stops; host Y (no local state) takes over while the
    state topic cannot be read (fault injection: its first two reads fail, as a real broker
    cannot fail only one topic's reads while the group goes on). Y's partitions stay paused
    until the read succeeds, then go on from X's state: nothing read twice, windows aligned."""
    topic, group, state_topic, parts, n1, n = "paused", "g-paused", "driftd-state-p", 2, 1000, 2000
    broker.create_topic(topic, parts)
    xs = {p: values(p + 20, n, n1 + 100) for p in range(parts)}
    cx, cy = os.path.join(tmp, "px.yaml"), os.path.join(tmp, "py.yaml")
    config(cx, broker.bootstrap, topic, group, state_topic)
    config(cy, broker.bootstrap, topic, group, state_topic)
    x = start(cx, "px", tmp)
    for p in range(parts):
        broker.produce(topic, records(p, xs[p], 0, n1), partition=p)
    check(wait_for(lambda: all(broker.committed_offsets(group, topic).get(p) == n1
                               for p in range(parts)), 60, "X read the first half"),
          "host X read the first half, committed")
    stop(x[0], 20)
    for p in range(parts):
        broker.produce(topic, records(p, xs[p], n1, n), partition=p)
    y = start(cy, "py", tmp, env={"DRIFTD_FAULT_STATE_TOPIC_READS": "2"})
    done = wait_for(lambda: len({(t["kafka.partition"], t["kafka.offset"])
                                 for t in trace_lines(y[1]) if t["monitor"] == "ph-f2"})
                    >= parts * (n - n1), 90, "Y to finish")
    rc, _ = stop(y[0], 20)
    e = open(y[2]).read()
    offs = [(t["kafka.partition"], t["kafka.offset"]) for t in trace_lines(y[1])
            if t["monitor"] == "ph-f2"]
    check(done and rc == 0 and "(paused) until it can be read" in e and
          f"{parts} partitions restored and resumed" in e,
          "while the state topic could not be read the partitions waited, paused; then "
          "they were restored and resumed", e[-1500:])
    check(offs and min(o for _, o in offs) == n1 and len(offs) == len(set(offs)),
          f"Y read from {n1} on, each record once ({len(offs)} verdicts, first offset "
          f"{min((o for _, o in offs), default=None)})")
    for p in range(parts):
        closes, first = ks_verdicts(xs[p])
        got = sorted(t["kafka.offset"] for t in trace_lines(y[1])
                     if t["monitor"] == "ks-f2" and t["kafka.partition"] == p)
        check(got == [c for c in closes if c >= n1],
              f"partition {p}: Y's windows continue X's (state from the topic, not fresh)",
              f"{got[:5]} vs {[c for c in closes if c >= n1][:5]}")


def test_outage(broker, tmp):
    """Broker down longer than the session timeout: the member is dropped and rejoins."""
    topic, group, parts, n1, n = "outage", "g-outage", 2, 500, 1000
    broker.create_topic(topic, parts)
    xs = {p: values(p + 10, n, n) for p in range(parts)}
    cfg = os.path.join(tmp, "o.yaml")
    config(cfg, broker.bootstrap, topic, group)
    proc, trace, err, out = start(cfg, "o", tmp)
    for p in range(parts):
        broker.produce(topic, records(p, xs[p], 0, n1), partition=p)
    check(wait_for(lambda: all(broker.committed_offsets(group, topic).get(p) == n1
                               for p in range(parts)), 60, "phase 1 committed"),
          "before the outage: phase 1 processed and committed")
    broker.stop()
    time.sleep(15)  # > session.timeout.ms (6 s): the group forgets the member
    broker.start()
    for p in range(parts):
        broker.produce(topic, records(p, xs[p], n1, n), partition=p)
    ph = lambda: [(t["kafka.partition"], t["kafka.offset"]) for t in trace_lines(trace)
                  if t["monitor"] == "ph-f2"]
    done = wait_for(lambda: len(set(ph())) >= parts * n, 120, "after the outage")
    rc, _ = stop(proc, 20)
    seen = ph()
    check(done and len(set(seen)) == parts * n and len(seen) == len(set(seen)),
          f"after a {15} s outage every record was processed once "
          f"({len(seen)} verdicts, {len(set(seen))} distinct)", open(err).read()[-1500:])
    gens = sorted((Path(f"{cfg}.state") / "state" / group).glob("state-*.snap"))
    doc = json.loads(gens[-1].read_bytes()[64:])
    counted = {o["partition"]: o["state"]["monitors"]["ph-f2"]["monitor"]["matched"]
               for o in doc["partitions"]}
    check(rc == 0 and counted == {p: n for p in range(parts)},
          f"the final state counted each partition's {n} records once ({counted})")


def main():
    with tempfile.TemporaryDirectory() as tmp, Broker(tmp) as broker:
        for t in (test_three_instances, test_unreadable_state_topic, test_outage):
            try:
                t(broker, tmp)
            except Exception as e:  # a harness failure is a test failure, not a crash
                import traceback
                traceback.print_exc()
                check(False, t.__name__, repr(e))
    return summary()


if __name__ == "__main__":
    sys.exit(main())
