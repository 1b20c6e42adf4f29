"""A real Apache Kafka broker for integration tests, driven from Python.

    import sys, pathlib
    sys.path.insert(0, str(pathlib.Path(__file__).parent / "kafka"))
    from harness import Broker

    with tempfile.TemporaryDirectory() as tmp, Broker(tmp) as broker:
        broker.create_topic("inference-logs", 3)
        broker.produce("inference-logs", [b'{"model": {"id": "m"}}'], headers={"h": "v"})
        records = broker.consume_all("inference-logs", timeout=30)

The broker itself is started and stopped by broker.sh beside this file (official jars from
Maven, single-node KRaft on 127.0.0.1). The client side is confluent-kafka (pinned in
tests/oracle/requirements.txt; its wheel bundles its own librdkafka, independent of the
Debian librdkafka that driftd links).

Every call is bounded in time and raises on failure (TimeoutError, KafkaHarnessError).
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

BROKER_SH = Path(__file__).resolve().parent / "broker.sh"

class KafkaHarnessError(RuntimeError):
    pass


@dataclass(frozen=True)
class Record:
    """One consumed record. Header values are bytes (None for a null header value)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]]
    timestamp: int

    def header(self, name: str) -> bytes | None:
        for k, v in self.headers:
            if k == name:
                return v
        return None


def _to_bytes(x):
    if x is None or isinstance(x, bytes):
        return x
    if isinstance(x, str):
        return x.encode()
    raise TypeError(f"expected str or bytes, got {type(x).__name__}")


def _norm_headers(h):
    if h is None:
        return None
    items = h.items() if isinstance(h, Mapping) else h
    return [(str(k), _to_bytes(v)) for k, v in items]


class Broker:
    """Context manager: starts a broker in `tmpdir` on enter, stops it on exit.

    `bootstrap` is "127.0.0.1:PORT". `start()` / `stop()` may also be called directly, e.g. to
    restart the broker on the same ports with its data for fault tests.
    """

    def __init__(self, tmpdir: str | os.PathLike, start_timeout: float = 120.0,
                 stop_timeout: float = 30.0, env: Mapping[str, str] | None = None):
        self.dir = Path(tmpdir).resolve() / "kafka"
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.bootstrap: str | None = None
        self.start_seconds: float | None = None
        self.fetch_seconds: float | None = None
        self._admin: AdminClient | None = None
        self._env = dict(os.environ)
        self._env.update(env or {})
        self._env["DRIFTD_KAFKA_START_TIMEOUT"] = str(int(start_timeout))
        self._env["DRIFTD_KAFKA_STOP_TIMEOUT"] = str(int(stop_timeout))
        # The broker stops by itself when this process is gone (killed test, ctest timeout).
        self._env["DRIFTD_KAFKA_PARENT_PID"] = str(os.getpid())

    # -- lifecycle -----------------------------------------------------------------------------

    def _run(self, args: list[str], timeout: float) -> str:
        try:
            p = subprocess.run(["bash", str(BROKER_SH), *args], env=self._env, text=True,
                               stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise TimeoutError(f"broker.sh {' '.join(args)} took over {timeout:.0f}s") from e
        if p.returncode != 0:
            raise KafkaHarnessError(f"broker.sh {' '.join(args)} failed "
                                    f"(exit {p.returncode}):\n{p.stderr.strip()}")
        return p.stdout

    def start(self) -> str:
        self.dir.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        # Fetching the jars (cold Maven cache) is not part of the start timeout.
        # (a concurrent fetch may hold the lock for up to one fetch timeout first)
        self._run(["fetch"], timeout=2 * float(self._env.get("DRIFTD_KAFKA_FETCH_TIMEOUT", 600)) + 30)
        t1 = time.monotonic()
        out = self._run(["start", str(self.dir)], timeout=self.start_timeout + 180)
        self.bootstrap = out.strip().splitlines()[-1]
        self.start_seconds = time.monotonic() - t1
        self.fetch_seconds = t1 - t0
        self._admin = AdminClient(self._conf())
        return self.bootstrap

    def stop(self) -> None:
        # Close our admin client first: left open, it logs reconnect errors once the broker is gone.
        self._admin = None
        if self.dir.exists():
            self._run(["stop", str(self.dir)], timeout=self.stop_timeout + 30)

    def __enter__(self) -> "Broker":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join((self.dir / "broker.log").read_text(errors="replace")
                             .splitlines()[-lines:])
        except OSError:
            return ""

    # -- clients -------------------------------------------------------------------------------

    def _conf(self, **extra) -> dict:
        if not self.bootstrap:
            raise KafkaHarnessError("broker not started")
        conf = {"bootstrap.servers": self.bootstrap, "broker.address.family": "v4"}
        conf.update(extra)
        return conf

    def producer(self, **conf) -> Producer:
        return Producer(self._conf(**{"acks": "all", "enable.idempotence": True,
                                      "linger.ms": 5, **conf}))

    def consumer(self, group: str | None = None, **conf) -> Consumer:
        return Consumer(self._conf(**{"group.id": group or f"harness-{uuid.uuid4().hex[:8]}",
                                      "auto.offset.reset": "earliest",
                                      "enable.auto.commit": False,
                                      "allow.auto.create.topics": False, **conf}))

    # -- topics --------------------------------------------------------------------------------

    def create_topic(self, name: str, partitions: int = 1, timeout: float = 30.0,
                     config: Mapping[str, str] | None = None) -> None:
        """Create a topic (replication factor 1) and wait until every partition has a leader."""
        fut = self._admin.create_topics(
            [NewTopic(name, num_partitions=partitions, replication_factor=1,
                      config=dict(config or {}))],
            operation_timeout=timeout, request_timeout=timeout)[name]
        try:
            fut.result(timeout=timeout)
        except KafkaException as e:
            raise KafkaHarnessError(f"create topic {name}: {e}") from e
        deadline = time.monotonic() + timeout
        while True:
            md = self._admin.list_topics(topic=name, timeout=max(1.0, deadline - time.monotonic()))
            t = md.topics.get(name)
            if (t is not None and t.error is None and len(t.partitions) == partitions
                    and all(p.leader >= 0 and p.error is None for p in t.partitions.values())):
                return
            if time.monotonic() >= deadline:
                raise TimeoutError(f"topic {name}: partitions without leader after {timeout}s")
            time.sleep(0.1)

    def partitions(self, topic: str, timeout: float = 10.0) -> list[int]:
        md = self._admin.list_topics(topic=topic, timeout=timeout)
        t = md.topics.get(topic)
        if t is None or t.error is not None:
            raise KafkaHarnessError(f"topic {topic}: {t.error if t else 'unknown'}")
        return sorted(t.partitions)

    def topics(self, timeout: float = 10.0) -> list[str]:
        return sorted(t for t in self._admin.list_topics(timeout=timeout).topics
                      if not t.startswith("__"))

    def watermarks(self, topic: str, timeout: float = 10.0) -> dict[int, tuple[int, int]]:
        """{partition: (low, high)}"""
        c = self.consumer()
        try:
            return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout)
                    for p in self.partitions(topic, timeout)}
        finally:
            c.close()

    # -- produce / consume ---------------------------------------------------------------------

    def produce(self, topic: str, records: Iterable, partition: int | None = None,
                headers=None, timeout: float = 60.0) -> list[tuple[int, int]]:
        """Produce records and wait for every delivery report; returns [(partition, offset)].

        Each record is a value (str or bytes) or a (key, value) tuple. `headers` is a mapping
        or a list of (name, value) pairs applied to every record, or a callable
        (index, record) -> headers for per-record headers. `partition` pins every record to one
        partition; otherwise the key (or librdkafka's partitioner) decides.
        Raises KafkaHarnessError on any delivery failure, TimeoutError when reports are missing.
        """
        p = self.producer(**{"message.timeout.ms": int(timeout * 1000)})
        results: list = []
        errors: list[str] = []

        def report(i):
            def cb(err, msg):
                if err is not None:
                    errors.append(f"record {i}: {err}")
                else:
                    results[i] = (msg.partition(), msg.offset())
            return cb

        deadline = time.monotonic() + timeout
        for i, rec in enumerate(records):
            key, value = rec if isinstance(rec, tuple) else (None, rec)
            h = headers(i, rec) if callable(headers) else headers
            kw = {"key": _to_bytes(key), "value": _to_bytes(value),
                  "headers": _norm_headers(h), "on_delivery": report(i)}
            if partition is not None:
                kw["partition"] = partition
            results.append(None)
            while True:
                try:
                    p.produce(topic, **kw)
                    break
                except BufferError:  # local queue full: serve delivery reports, then retry
                    p.poll(0.1)
                    if time.monotonic() >= deadline:
                        raise TimeoutError(f"produce to {topic}: queue full for {timeout}s")
            p.poll(0)
        remaining = p.flush(max(0.0, deadline - time.monotonic()))
        if errors:
            raise KafkaHarnessError(f"produce to {topic}: {len(errors)} failed; "
                                    f"first: {errors[0]}")
        if remaining or any(r is None for r in results):
            raise TimeoutError(f"produce to {topic}: {remaining} records undelivered "
                               f"after {timeout}s")
        return results

    def consume_all(self, topic: str, timeout: float = 30.0) -> list[Record]:
        """Every record now in `topic` (all partitions, from the start up to the high watermarks
        read at the call), in partition then offset order. No consumer group is joined or
        committed. TimeoutError when the end is not reached within `timeout`."""
        deadline = time.monotonic() + timeout
        marks = self.watermarks(topic, timeout)
        todo = {p: high for p, (low, high) in marks.items() if high > low}
        out: list[Record] = []
        if not todo:
            return out
        c = self.consumer(**{"enable.partition.eof": True})
        try:
            c.assign([TopicPartition(topic, p, marks[p][0]) for p in todo])
            while todo:
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"consume {topic}: {len(out)} records after {timeout}s; "
                                       f"partitions not at their end: {sorted(todo)}")
                for m in c.consume(num_messages=500, timeout=0.5):
                    err = m.error()
                    if err is not None and err.code() != KafkaError._PARTITION_EOF:
                        raise KafkaHarnessError(f"consume {topic}: {err}")
                    if err is None:
                        out.append(Record(m.topic(), m.partition(), m.offset(), m.key(),
                                          m.value(), list(m.headers() or []), m.timestamp()[1]))
                    # Done with a partition at its last record, or at the end-of-partition event
                    # (whose offset is the end, past any transaction markers).
                    end = m.offset() + 1 if err is None else m.offset()
                    if m.partition() in todo and end >= todo[m.partition()]:
                        del todo[m.partition()]
                        c.pause([TopicPartition(topic, m.partition())])
        finally:
            c.close()
        keep = {p: high for p, (low, high) in marks.items()}
        out = [r for r in out if r.offset < keep[r.partition]]
        out.sort(key=lambda r: (r.partition, r.offset))
        return out

    def committed_offsets(self, group: str, topic: str, timeout: float = 10.0) -> dict[int, int | None]:
        """{partition: committed offset (the next one to read), or None when none committed}."""
        c = self.consumer(group)
        try:
            tps = c.committed([TopicPartition(topic, p) for p in self.partitions(topic, timeout)],
                              timeout=timeout)
        finally:
            c.close()
        out = {}
        for tp in tps:
            if tp.error is not None:
                raise KafkaHarnessError(f"committed offsets {group}/{topic}: {tp.error}")
            out[tp.partition] = tp.offset if tp.offset >= 0 else None
        return out
