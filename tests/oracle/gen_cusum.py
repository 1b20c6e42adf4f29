#!/usr/bin/env python3
"""Oracle for detectors/cusum.c: the two-sided tabular CUSUM chart, written here with numpy
(River 0.26.1 has no CUSUM), independently of the C code.

Definition (the one River's development branch adopts, see detectors/cusum.c): after a start or
a reset, the first min_instances values fix mu = mean and sigma = std(ddof=1) (0 for one
value); from value min_instances on (inclusive), with d = x - mu, k = slack sigma,
h = threshold sigma:
    S+ = max(0, S+ + d - k),  S- = max(0, S- - d - k),
and drift when S+ > h (up), S- > h (down) or either (both). The value after a drift starts a
new warm-up.

numpy computes mu and sigma two-pass with pairwise summation; the C code uses Welford's
recurrence, so they agree to a few ulps, not bit for bit. To make the index comparison
meaningful the generator checks that no decision in any case is closer than 1e-9 (relative)
to its threshold, and that no sigma is rounding noise; the C test compares indices exactly and
the recorded per-step scores and thresholds to 1e-9 relative.

Writes tests/detectors/data/cusum.json ("streams", "cases" with "drifts", and for some cases
per-step "score" and "threshold", null during the warm-up).

    /tmp/oracle-venv/bin/python tests/oracle/gen_cusum.py [OUT.json]
"""

import math
import pathlib

import numpy as np

import streamgen

OUT = pathlib.Path(__file__).resolve().parent.parent / "detectors" / "data" / "cusum.json"

DEFAULTS = dict(min_instances=30, slack=0.5, threshold=5.0, mode="both")
MARGIN = 1e-9


def reference(warm):
    w = np.asarray(warm, dtype=np.float64)
    mu = float(np.mean(w))
    sigma = float(np.std(w, ddof=1)) if len(w) > 1 else 0.0
    # sigma must be exactly 0 (constant warm-up) or clearly above rounding noise
    assert sigma == 0.0 or sigma > 1e-9 * abs(mu), (mu, sigma)
    return mu, sigma


def robust(stat, limit):
    if stat == limit == 0.0:
        return True
    return abs(stat - limit) > MARGIN * max(abs(stat), abs(limit))


def run(values, p):
    m, mode = p["min_instances"], p["mode"]
    x = np.asarray(values, dtype=np.float64)
    drifts, scores, limits = [], [], []
    start = 0
    while start < len(x):
        # warm-up values before the first charted one
        end_warm = min(start + m - 1, len(x))
        scores += [None] * (end_warm - start)
        limits += [None] * (end_warm - start)
        if end_warm >= len(x):
            break
        mu, sigma = reference(x[start:start + m])
        k, h = p["slack"] * sigma, p["threshold"] * sigma
        sp = sm = 0.0
        i = end_warm
        while i < len(x):
            d = float(x[i]) - mu
            sp = max(0.0, sp + d - k)
            sm = max(0.0, sm - d - k)
            up, down = sp > h, sm > h
            checks = {"up": [(sp, h)], "down": [(sm, h)], "both": [(sp, h), (sm, h)]}[mode]
            assert all(robust(s, h) for s, _ in checks), (i, sp, sm, h)
            scores.append({"up": sp, "down": sm, "both": max(sp, sm)}[mode])
            limits.append(h)
            if {"up": up, "down": down, "both": up or down}[mode]:
                drifts.append(i)
                break
            i += 1
        start = i + 1
    assert len(scores) == len(x)
    return drifts, scores, limits


def main():
    streams = streamgen.standard_streams()
    streams["warm_const_then_shift"] = [4.0] * 40 + [4.5] * 20 + [4.0] * 40
    cases = [
        ("published", "published", {}),
        ("shift_up", "shift_up", {}),
        ("shift_down", "shift_down", {}),
        ("shift_up_mode_up", "shift_up", {"mode": "up"}),
        ("shift_up_mode_down", "shift_up", {"mode": "down"}),
        ("shift_down_mode_down", "shift_down", {"mode": "down"}),
        ("multi", "multi", {}),
        ("multi_threshold_8", "multi", {"threshold": 8.0}),
        ("var_up", "var_up", {}),
        ("var_down", "var_down", {}),
        ("slow_up", "slow_up", {"threshold": 10.0}),
        ("slow_down", "slow_down", {"threshold": 10.0, "mode": "down"}),
        ("big", "big", {}),
        ("flat", "flat", {}),
        ("noise", "noise", {}),
        ("noise_threshold_12", "noise", {"threshold": 12.0}),
        ("errors", "errors", {"min_instances": 100}),
        ("spikes", "spikes", {}),
        ("steps", "steps", {}),
        ("warm_const", "warm_const_then_shift", {}),
        ("min_instances_1", "multi", {"min_instances": 1}),
        ("min_instances_2", "shift_up", {"min_instances": 2}),
        ("min_instances_200", "multi", {"min_instances": 200, "threshold": 6.0}),
        ("slack_0", "noise", {"slack": 0.0, "threshold": 20.0}),
        ("slack_1.5_threshold_2", "multi", {"slack": 1.5, "threshold": 2.0}),
        ("small_threshold_up", "slow_up", {"threshold": 0.5, "mode": "up"}),
    ]
    with_scores = {"published", "multi", "min_instances_1", "warm_const"}

    out = []
    for name, stream, overrides in cases:
        params = dict(DEFAULTS, **overrides)
        drifts, scores, limits = run(streams[stream], params)
        case = {"name": name, "params": params, "stream": stream, "drifts": drifts}
        if name in with_scores:
            assert all(s is None or math.isfinite(s) for s in scores)
            case["score"] = scores
            case["threshold"] = limits
        out.append(case)

    assert sum(len(c["drifts"]) >= 3 for c in out) >= 5
    used = {c["stream"] for c in out}
    streamgen.write(OUT, {"generator": "tests/oracle/gen_cusum.py", "numpy": np.__version__,
                          "streams": {k: v for k, v in streams.items() if k in used},
                          "cases": out}, out)


if __name__ == "__main__":
    main()
