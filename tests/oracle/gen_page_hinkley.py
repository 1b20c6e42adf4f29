#!/usr/bin/env python3
"""Oracle for detectors/page_hinkley.c: River's river.drift.PageHinkley (river==0.26.1).

Writes tests/detectors/data/page_hinkley.json: "streams" (named value lists) and "cases", each
with River's parameters, the name of its stream, and every 0-based index at which River's
drift_detected was True after update(). Two cases also carry River's statistic after every step
(the quantity driftd reports as the score), read from River's private attributes.

Deterministic: fixed seeds, Python's own random module, values rounded to 6 decimals (exact
doubles, written with repr so they read back bit-identical).

    /tmp/oracle-venv/bin/python tests/oracle/gen_page_hinkley.py [OUT.json]
"""

import json
import math
import pathlib
import random
import sys

import river
from river.drift import PageHinkley

assert river.__version__ == "0.26.1", river.__version__

OUT = pathlib.Path(__file__).resolve().parent.parent / "detectors" / "data" / "page_hinkley.json"

DEFAULTS = dict(min_instances=30, delta=0.005, threshold=50.0, alpha=1 - 0.0001, mode="both")


def score(ph, mode):
    """driftd's score: the relevant cumulative deviation of River's current state."""
    if ph._x_mean.n == 0:
        return 0.0
    up = ph._sum_increase - ph._min_increase
    down = ph._max_decrease - ph._sum_decrease
    return {"up": up, "down": down, "both": max(up, down)}[mode]


def run(values, params, with_scores=False):
    ph = PageHinkley(**params)
    drifts, scores = [], []
    for i, x in enumerate(values):
        ph.update(x)
        if ph.drift_detected:
            drifts.append(i)
        if with_scores:
            scores.append(float(score(ph, params["mode"])))
    return drifts, scores


def gauss_segments(seed, segments):
    """segments: list of (n, mean, sd)."""
    rng = random.Random(seed)
    out = []
    for n, mu, sd in segments:
        out += [round(rng.gauss(mu, sd), 6) for _ in range(n)]
    return out


def ramp(seed, n, start, end, sd):
    rng = random.Random(seed)
    return [round(start + (end - start) * i / (n - 1) + rng.gauss(0, sd), 6) for i in range(n)]


def main():
    rng = random.Random(12345)
    published = rng.choices([0, 1], k=1000) + rng.choices(range(4, 8), k=1000)

    shift_up = gauss_segments(1, [(800, 0.0, 1.0), (800, 1.5, 1.0)])
    shift_down = gauss_segments(2, [(800, 5.0, 1.0), (800, 3.0, 1.0)])
    multi = gauss_segments(
        3, [(300, 0.0, 1.0), (300, 2.0, 1.0), (300, -1.0, 1.0), (300, 3.0, 0.5), (300, 0.0, 2.0)]
    )
    slow_up = ramp(4, 3000, 0.0, 3.0, 1.0)
    slow_down = ramp(5, 3000, 10.0, 8.0, 0.5)
    big = gauss_segments(6, [(500, 1e6, 10.0), (500, 1e6 + 15.0, 10.0)])
    flat = [2.5] * 500
    noise = gauss_segments(7, [(2000, 0.0, 1.0)])

    streams = {
        "published": published,
        "shift_up": shift_up,
        "shift_down": shift_down,
        "multi": multi,
        "slow_up": slow_up,
        "slow_down": slow_down,
        "big": big,
        "flat": flat,
        "noise": noise,
    }

    cases = [
        ("published", "published", {}),
        ("shift_up", "shift_up", {}),
        ("shift_down", "shift_down", {}),
        ("shift_up_mode_up", "shift_up", {"mode": "up"}),
        ("shift_up_mode_down", "shift_up", {"mode": "down"}),
        ("shift_down_mode_down", "shift_down", {"mode": "down"}),
        ("shift_down_mode_up", "shift_down", {"mode": "up"}),
        ("multi_small_threshold", "multi", {"threshold": 5.0, "min_instances": 10}),
        ("multi_small_threshold_up", "multi", {"threshold": 5.0, "min_instances": 10, "mode": "up"}),
        ("multi_small_threshold_down", "multi", {"threshold": 3.0, "mode": "down", "delta": 0.1}),
        ("multi_alpha", "multi", {"threshold": 8.0, "alpha": 0.99, "min_instances": 20}),
        ("slow_ramp_up", "slow_up", {}),
        ("slow_ramp_up_small", "slow_up", {"threshold": 10.0, "delta": 0.05}),
        ("slow_ramp_down", "slow_down", {"threshold": 20.0}),
        ("large_offset", "big", {"threshold": 100.0}),
        ("flat", "flat", {"threshold": 0.0, "min_instances": 1}),
        ("noise_tiny_threshold", "noise", {"threshold": 2.0, "min_instances": 5, "delta": 0.0}),
        ("published_min1", "published", {"threshold": 1.0, "min_instances": 1}),
    ]

    out = []
    for name, stream, overrides in cases:
        values = streams[stream]
        params = dict(DEFAULTS, **overrides)
        with_scores = name in ("published", "multi_small_threshold")
        drifts, scores = run(values, params, with_scores)
        case = {
            "name": name,
            "params": params,
            "stream": stream,
            "drifts": drifts,
        }
        if with_scores:
            assert all(math.isfinite(s) for s in scores)
            case["scores"] = scores
        out.append(case)

    by_name = {c["name"]: c for c in out}
    # The number documented by River and quoted in docs/reference: a regression guard on the oracle.
    assert by_name["published"]["drifts"] == [1006], by_name["published"]["drifts"]
    assert len(by_name["multi_small_threshold"]["drifts"]) >= 3

    out_path = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else OUT
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with open(out_path, "w") as f:
        json.dump({"generator": "tests/oracle/gen_page_hinkley.py", "river": river.__version__,
                   "streams": streams, "cases": out}, f, separators=(",", ":"))
        f.write("\n")
    for c in out:
        print(f"{c['name']:28s} n={len(streams[c['stream']]):5d} drifts={len(c['drifts'])} "
              f"{c['drifts'][:8]}")


if __name__ == "__main__":
    main()
