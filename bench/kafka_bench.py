#!/usr/bin/env python3
"""Consumption from a real broker (tests/integration/kafka): the reference workload produced
into a 1-partition topic, then read back by kcat (the floor for any librdkafka consumer) and by
driftd through its Kafka path with the 12 monitors (`replay --kafka-topic`: the same fetch and
pipeline as `run`, without the group join), best of 2 each. Prints "name value unit" lines.

usage: kafka_bench.py BUILD_DIR WORKLOAD.jsonl"""
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration", "kafka"))
from harness import Broker  # noqa: E402


def best_of(n, cmd):
    best = None
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        dt = time.perf_counter() - t0
        best = dt if best is None or dt < best else best
    return best


def main():
    build, data = sys.argv[1], sys.argv[2]
    with open(data, "rb") as f:
        lines = f.read().splitlines()
    n = len(lines)
    with tempfile.TemporaryDirectory() as tmp, Broker(tmp) as b:
        b.create_topic("bench", 1)
        t0 = time.perf_counter()
        b.produce("bench", lines, partition=0, timeout=600)
        print(f"kafka_produce_events_per_s {n / (time.perf_counter() - t0):.0f} ev/s "
              f"(confluent-kafka producer, {n} events)", flush=True)
        kcat = best_of(2, ["kcat", "-C", "-b", b.bootstrap, "-t", "bench", "-o", "beginning",
                           "-e", "-q"])
        cfg = os.path.join(tmp, "bench.yaml")
        with open(os.path.join(HERE, "workload.yaml")) as f:
            body = f.read()
        with open(cfg, "w") as f:
            f.write(f'source:\n  kafka: {{brokers: "{b.bootstrap}", topics: [bench]}}\n' + body)
        driftd = best_of(2, [os.path.join(build, "daemon", "driftd"), "replay", "-q", "-c",
                             cfg, "--kafka-topic", "bench"])
        print(f"kcat_events_per_s {n / kcat:.0f} ev/s (kcat -C -e, output discarded)")
        print(f"driftd_kafka_events_per_s {n / driftd:.0f} ev/s (replay --kafka-topic, "
              f"12 monitors)")
        print(f"driftd_vs_kcat {kcat / driftd:.2f} x (1.0 = as fast as kcat)")


if __name__ == "__main__":
    main()
