#!/usr/bin/env python3
"""`make bench`: generate the reference workload (1M native events of about 430 bytes, 12
monitors), then print events/s and ns/event for decode alone and for the whole replay
pipeline, peak RSS, and detector figures next to River and scipy run in the same invocation.
Figures are printed, never asserted.

usage: run.py BUILD_DIR"""
import os
import re
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def figures(out):
    """'name value unit ...' lines -> {name: (value, unit, rest)}"""
    res = {}
    for line in out.splitlines():
        m = re.match(r"^(\S+) ([0-9.eE+-]+) (\S+)(.*)$", line)
        if m:
            res[m.group(1)] = (float(m.group(2)), m.group(3), m.group(4).strip())
    return res


def timed(cmd, **kw):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    dt = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        sys.exit(f"{cmd[0]} failed ({p.returncode}): {p.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return p, dt, cpu, after.ru_maxrss  # maxrss: KiB, largest child so far


def main():
    build = os.path.abspath(sys.argv[1])
    n = int(os.environ.get("DRIFTD_BENCH_EVENTS", "1000000"))
    work = os.path.join(build, "bench")
    os.makedirs(work, exist_ok=True)
    data = os.path.join(work, f"workload-{n}.jsonl")
    if not os.path.exists(data):
        print(f"generating {n} events -> {data}", file=sys.stderr)
        subprocess.run([sys.executable, os.path.join(HERE, "gen_workload.py"), str(n), data],
                       check=True)
    size = os.path.getsize(data)
    print(f"workload: {n} events, {size / n:.0f} bytes/event, 12 monitors "
          f"(bench/workload.yaml); machine: {os.cpu_count()} cores")
    print()

    # Decode alone (simdjson) and the jansson peer, one process each.
    p, _, _, _ = timed([os.path.join(build, "bench", "bench_decode"), data])
    dec = figures(p.stdout)
    print(p.stdout.rstrip())

    # Whole pipeline: driftd replay, single thread. Best of 3 runs.
    driftd = os.path.join(build, "daemon", "driftd")
    cfg = os.path.join(HERE, "workload.yaml")
    best = None
    for _ in range(3):
        p, dt, cpu, rss = timed([driftd, "replay", "-q", "-c", cfg, data])
        best = dt if best is None or dt < best else best
    print(f"pipeline_events_per_s {n / best:.0f} ev/s")
    print(f"pipeline_ns_per_event {best / n * 1e9:.1f} ns")
    print(f"pipeline_peak_rss {rss / 1024:.1f} MiB (largest child process so far)")
    print(f"pipeline_goal 1000000 ev/s per core -> {n / best / 1e6:.2f}x of goal")
    print()

    p, _, _, _ = timed([os.path.join(build, "bench", "bench_detectors")])
    det = figures(p.stdout)
    p, _, _, _ = timed([sys.executable, os.path.join(HERE, "peers.py")])
    peer = figures(p.stdout)
    print("per-detector cost (driftd, and the peer on the same kind of data where one exists)")
    print(f"{'figure':<34} {'driftd':>14} {'peer':>14} {'ratio':>8}  peer")
    for key in sorted(det, key=lambda k: (k.split(".")[0], k)):
        v, unit, _ = det[key]
        row = f"{key:<34} {v:>11.1f} {unit:<2}"
        if key in peer:
            pv, punit, prest = peer[key]
            row += f" {pv:>11.1f} {punit:<2} {pv / v if v else float('inf'):>7.1f}x  {prest}"
        print(row)
    if "decode_events_per_s" in dec and "jansson_events_per_s" in dec:
        print(f"ratio decode simdjson vs jansson: "
              f"{dec['decode_events_per_s'][0] / dec['jansson_events_per_s'][0]:.1f}x")
    print("goals: O(1) streaming detectors < 50 ns per update and >= 50x River; "
          "pipeline >= 1M events/s per core")
    print()

    # State snapshots: size and time per 1000 monitors, restore time, cost of the interval.
    p, _, _, _ = timed([os.path.join(build, "bench", "bench_state"),
                        os.path.join(work, "state-bench")])
    print(p.stdout.rstrip())
    print()

    # State per partition: the reference workload spread over 6 partitions, throughput with
    # a shard per partition and with durable snapshots of every partition.
    p, _, _, _ = timed([os.path.join(build, "bench", "bench_partitions"), data,
                        os.path.join(HERE, "workload.yaml"), os.path.join(work, "state-bench"),
                        "6"])
    print(p.stdout.rstrip())
    print()

    # Alert delivery: spool cost per alert and alerts/s through the webhook sink.
    p = subprocess.run([sys.executable, os.path.join(HERE, "bench_webhook.py"), build],
                       capture_output=True, text=True)
    print(p.stdout.rstrip() if p.returncode == 0 else
          f"webhook: failed ({p.stderr.strip().splitlines()[-1] if p.stderr else '?'})")
    print()

    # Security monitors: detection delay and false alarms per attack scenario.
    p = subprocess.run([sys.executable, os.path.join(HERE, "bench_security.py"), build],
                       capture_output=True, text=True)
    print(p.stdout.rstrip() if p.returncode == 0 else
          f"security: failed ({p.stderr.strip().splitlines()[-1] if p.stderr else '?'})")
    print()

    # Consumption from a real broker, next to kcat (needs Java; skipped with a note if the
    # broker cannot start here).
    kn = min(n, int(os.environ.get("DRIFTD_BENCH_KAFKA_EVENTS", "200000")))
    kdata = os.path.join(work, f"workload-kafka-{kn}.jsonl")
    if not os.path.exists(kdata):
        with open(data, "rb") as src, open(kdata, "wb") as dst:
            for i, line in enumerate(src):
                if i >= kn:
                    break
                dst.write(line)
    p = subprocess.run([sys.executable, os.path.join(HERE, "kafka_bench.py"), build, kdata],
                       capture_output=True, text=True)
    if p.returncode == 0:
        print(p.stdout.rstrip())
    else:
        print(f"kafka: skipped ({p.stderr.strip().splitlines()[-1] if p.stderr else '?'})")


if __name__ == "__main__":
    main()
