#!/usr/bin/env python3
"""Write the reference workload: N native driftd events (JSONL, about 430 bytes each).

Each event has ts (RFC 3339, 1 ms apart), model id/version/sha256, request_id, client id,
ten numeric features /input/f0../input/f9 (normal, fixed per-feature mean and std), one
categorical /input/country, and /output/score, /output/label (a logistic score of the
features). From event N/2 on, /input/f3 is shifted by +1 std, so an end-to-end bench sees
exactly one drifting feature. Output is deterministic for a given N and seed.

usage: gen_workload.py OUT.jsonl [N] [--seed SEED]   (N and OUT may come in either order)
"""
import argparse
import hashlib
import math
import random
import sys
from datetime import datetime, timedelta, timezone

COUNTRIES = ["FR", "DE", "US", "GB", "ES", "IT", "NL", "PL", "BR", "JP", "IN", "CA"]
WEIGHTS = [18, 16, 20, 10, 8, 7, 5, 4, 4, 3, 3, 2]
START = datetime(2026, 11, 27, tzinfo=timezone.utc)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("args", nargs="+", metavar="OUT.jsonl [N]",
                    help="path to write and number of events (1000000), in either order")
    ap.add_argument("--seed", type=int, default=20261127, help="random seed")
    a = ap.parse_args()
    nums = [x for x in a.args if x.isdigit()]
    paths = [x for x in a.args if not x.isdigit()]
    if len(paths) != 1 or len(nums) > 1:
        ap.error("want one output path and at most one event count")
    a.out = paths[0]
    a.n = int(nums[0]) if nums else 1_000_000

    rng = random.Random(a.seed)
    mu = [round(rng.uniform(-5, 50), 2) for _ in range(10)]
    sd = [round(rng.uniform(0.5, 10), 2) for _ in range(10)]
    w = [rng.uniform(-1, 1) / s for s in sd]
    sha = hashlib.sha256(b"fraud-scorer 3.2.0 %d" % a.seed).hexdigest()
    head = '"model":{"id":"fraud-scorer","version":"3.2.0","sha256":"%s"},' % sha
    shift_from = a.n // 2
    total = 0
    with open(a.out, "w", encoding="ascii", newline="\n") as f:
        for i in range(a.n):
            ts = START + timedelta(milliseconds=i)
            x = [rng.gauss(mu[k], sd[k]) for k in range(10)]
            if i >= shift_from:
                x[3] += sd[3]
            z = sum(w[k] * (x[k] - mu[k]) for k in range(10))
            score = 1.0 / (1.0 + math.exp(-2.0 * z))
            country = rng.choices(COUNTRIES, WEIGHTS)[0]
            feats = ",".join('"f%d":%.4f' % (k, x[k]) for k in range(10))
            line = (
                '{"ts":"%s.%03dZ",' % (ts.strftime("%Y-%m-%dT%H:%M:%S"), ts.microsecond // 1000)
                + head
                + '"request_id":"req-%08d","client":{"id":"tenant-%03d"},' % (i, rng.randrange(1000))
                + '"input":{%s,"country":"%s"},' % (feats, country)
                + '"output":{"score":%.6f,"label":"%s"},' % (score, "fraud" if score > 0.5 else "legit")
                + '"latency_ms":%.2f}\n' % rng.uniform(1, 40)
            )
            total += len(line)
            f.write(line)
    if a.n:
        print(
            "gen_workload: %d events, %d bytes, %.1f bytes/event, f3 shifted by +%.2f from event %d"
            % (a.n, total, total / a.n, sd[3], shift_from),
            file=sys.stderr,
        )


if __name__ == "__main__":
    main()
