#!/usr/bin/env python3
"""Smoke test of the real-Kafka harness: start a broker from the official jars, create a
3-partition topic, produce 1000 records with headers, read them all back, commit as a group.

Run by ctest as integration_kafka_smoke with the oracle venv's python (confluent-kafka).
Prints one line per check and a closing `N passed, N failed`; exits 1 on any failure.
"""

import json
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "kafka"))

from harness import Broker, TopicPartition  # noqa: E402

TOPIC = "inference-logs"
PARTITIONS = 3
N = 1000

passed = 0
failed = 0


def check(cond, what, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print(f"ok - {what}", flush=True)
    else:
        failed += 1
        print(f"FAIL - {what}" + (f": {detail}" if detail else ""), flush=True)


def event(i):
    return json.dumps({"ts": 1_700_000_000_000 + i, "model": {"id": f"model-{i % 7}"},
                       "request_id": f"r-{i}", "input": {"amount": i * 0.5},
                       "output": {"score": (i % 100) / 100}}, separators=(",", ":"))


def headers(i, rec):
    return [("request-id", f"r-{i}"), ("content-type", "application/json"),
            ("seq", str(i).encode())]


def run(broker):
    print(f"# broker {broker.bootstrap}: jars ready in {broker.fetch_seconds:.1f}s, "
          f"started in {broker.start_seconds:.1f}s", flush=True)

    t = time.monotonic()
    broker.create_topic(TOPIC, PARTITIONS)
    check(broker.partitions(TOPIC) == list(range(PARTITIONS)),
          f"topic {TOPIC} has {PARTITIONS} partitions with leaders")
    # A client that asks for an unknown topic (librdkafka producers do by default) must not
    # create it: auto.create.topics.enable=false.
    p = broker.producer(**{"allow.auto.create.topics": True})
    p.list_topics(topic="no-such-topic", timeout=5)
    del p
    check(broker.topics() == [TOPIC], "topic listed; an unknown topic is not auto-created",
          str(broker.topics()))
    print(f"# create_topic {time.monotonic() - t:.2f}s", flush=True)

    # Keyed by model id, so each model's records stay in order within one partition.
    records = [(f"model-{i % 7}", event(i)) for i in range(N)]
    t = time.monotonic()
    reports = broker.produce(TOPIC, records, headers=headers)
    print(f"# produce {N} {time.monotonic() - t:.2f}s", flush=True)
    check(len(reports) == N and all(o >= 0 for _, o in reports),
          f"{N} delivery reports with offsets")
    used = sorted({p for p, _ in reports})
    check(used == list(range(PARTITIONS)), "keys spread over every partition", str(used))

    t = time.monotonic()
    got = broker.consume_all(TOPIC, timeout=60)
    print(f"# consume_all {len(got)} {time.monotonic() - t:.2f}s", flush=True)
    check(len(got) == N, f"{N} records consumed back", f"got {len(got)}")
    by_seq = {}
    bad_headers = 0
    for r in got:
        seq = int(r.header("seq") or -1)
        by_seq[seq] = r
        if (r.header("request-id") != f"r-{seq}".encode()
                or r.header("content-type") != b"application/json"
                or [k for k, _ in r.headers] != ["request-id", "content-type", "seq"]):
            bad_headers += 1
    check(sorted(by_seq) == list(range(N)), "every record exactly once")
    check(bad_headers == 0, "headers intact and in order", f"{bad_headers} records differ")
    check(all(by_seq[i].value == event(i).encode() and by_seq[i].key == f"model-{i % 7}".encode()
              for i in by_seq if 0 <= i < N), "keys and values byte-identical")
    check(all((r.partition, r.offset) == reports[int(r.header("seq"))] for r in got),
          "consumed (partition, offset) match the delivery reports")
    order_ok = True
    for p in range(PARTITIONS):
        seqs = [int(r.header("seq")) for r in got if r.partition == p]
        offs = [r.offset for r in got if r.partition == p]
        order_ok &= seqs == sorted(seqs) and offs == list(range(len(offs)))
    check(order_ok, "per-partition order kept, offsets contiguous from 0")

    # An explicit partition.
    reports = broker.produce(TOPIC, [f"pinned-{i}" for i in range(10)], partition=2,
                             headers={"pinned": "yes"})
    check({p for p, _ in reports} == {2}, "partition= pins records to partition 2")
    marks = broker.watermarks(TOPIC)
    check(sum(h - lo for lo, h in marks.values()) == N + 10, "watermarks count every record",
          str(marks))

    # A consumer group commits; committed_offsets reads it back.
    group = "smoke-group"
    check(all(v is None for v in broker.committed_offsets(group, TOPIC).values()),
          "no committed offsets before the group consumed")
    c = broker.consumer(group)
    seen = 0
    try:
        c.subscribe([TOPIC])
        deadline = time.monotonic() + 60
        while seen < N + 10 and time.monotonic() < deadline:
            for m in c.consume(num_messages=500, timeout=0.5):
                if m.error() is None:
                    seen += 1
        c.commit(asynchronous=False)
    finally:
        c.close()
    check(seen == N + 10, f"group consumer saw {N + 10} records", f"saw {seen}")
    committed = broker.committed_offsets(group, TOPIC)
    check(committed == {p: h for p, (_, h) in marks.items()},
          "committed offsets equal the high watermarks", f"{committed} vs {marks}")
    # TopicPartition re-exported for tests that drive consumers by hand.
    check(TopicPartition(TOPIC, 0).partition == 0, "harness re-exports TopicPartition")


def main():
    global failed
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="driftd-kafka-smoke-") as tmp:
        broker = Broker(tmp)
        try:
            with broker:
                run(broker)
                t = time.monotonic()
        except Exception:
            failed += 1
            print("FAIL - harness raised:", flush=True)
            traceback.print_exc(file=sys.stdout)
            tail = broker.log_tail()
            if tail:
                print("# last lines of the broker log:\n" + tail, flush=True)
        else:
            print(f"# broker stopped in {time.monotonic() - t:.2f}s", flush=True)
    print(f"# total {time.monotonic() - t0:.1f}s", flush=True)
    print(f"{passed} passed, {failed} failed", flush=True)
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
