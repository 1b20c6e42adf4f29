#!/usr/bin/env python3
"""Oracle for detectors/ewma.c: the EWMA control chart with exact time-varying limits, written
here with numpy (River 0.26.1 has no EWMA chart), independently of the C code.

Definition (detectors/ewma.c): after a start or a reset, the first min_instances values fix
mu = mean and sigma = std(ddof=1) (0 for one value); z starts at mu; from value min_instances
on (inclusive), the i-th charted value (i = 1, 2, ...) gives
    z = alpha x + (1 - alpha) z   (computed as z + alpha (x - z), exact while x == z),
    limit_i = threshold sigma sqrt(alpha / (2 - alpha) (1 - (1 - alpha)^(2 i))),
and drift when z - mu > limit_i (up), mu - z > limit_i (down) or either (both). The value after
a drift starts a new warm-up. The limits are computed here vectorised with numpy.

mu and sigma come from numpy (two-pass, pairwise sums), the C code uses Welford's recurrence:
they agree to a few ulps. The generator checks that no decision is closer than 1e-9 (relative)
to its limit and that no sigma is rounding noise; the C test compares indices exactly and the
recorded per-step scores and limits to 1e-9 relative.

Writes tests/detectors/data/ewma.json ("streams", "cases" with "drifts", and for some cases
per-step "score" and "threshold", null during the warm-up).

    /tmp/oracle-venv/bin/python tests/oracle/gen_ewma.py [OUT.json]
"""

import math
import pathlib

import numpy as np

import streamgen

OUT = pathlib.Path(__file__).resolve().parent.parent / "detectors" / "data" / "ewma.json"

DEFAULTS = dict(alpha=0.1, threshold=3.0, min_instances=30, mode="both")
MARGIN = 1e-9


def reference(warm):
    w = np.asarray(warm, dtype=np.float64)
    mu = float(np.mean(w))
    sigma = float(np.std(w, ddof=1)) if len(w) > 1 else 0.0
    assert sigma == 0.0 or sigma > 1e-9 * abs(mu), (mu, sigma)
    return mu, sigma


def robust(stat, limit):
    if stat == limit == 0.0:
        return True
    return abs(stat - limit) > MARGIN * max(abs(stat), abs(limit))


def run(values, p):
    m, a, mode = p["min_instances"], p["alpha"], p["mode"]
    x = np.asarray(values, dtype=np.float64)
    drifts, scores, limits = [], [], []
    start = 0
    while start < len(x):
        end_warm = min(start + m - 1, len(x))
        scores += [None] * (end_warm - start)
        limits += [None] * (end_warm - start)
        if end_warm >= len(x):
            break
        mu, sigma = reference(x[start:start + m])
        seg = x[end_warm:]
        i = np.arange(1, len(seg) + 1, dtype=np.float64)
        lim = p["threshold"] * sigma * np.sqrt(a / (2 - a) * (1 - np.power(1 - a, 2 * i)))
        z = mu
        j = 0
        while j < len(seg):
            z = z + a * (float(seg[j]) - z)
            dev, limit = z - mu, float(lim[j])
            assert robust(abs(dev), limit), (end_warm + j, dev, limit)
            scores.append({"up": dev, "down": -dev, "both": abs(dev)}[mode])
            limits.append(limit)
            if {"up": dev > limit, "down": -dev > limit, "both": abs(dev) > limit}[mode]:
                drifts.append(end_warm + j)
                break
            j += 1
        start = end_warm + j + 1
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
        ("multi_alpha_0.3", "multi", {"alpha": 0.3}),
        ("var_up", "var_up", {}),
        ("var_down", "var_down", {}),
        ("slow_up", "slow_up", {}),
        ("slow_down", "slow_down", {"mode": "down", "alpha": 0.05}),
        ("big", "big", {}),
        ("flat", "flat", {}),
        ("noise", "noise", {}),
        ("noise_threshold_2", "noise", {"threshold": 2.0}),
        ("errors", "errors", {"min_instances": 100, "alpha": 0.02}),
        ("spikes", "spikes", {}),
        ("steps", "steps", {}),
        ("warm_const", "warm_const_then_shift", {}),
        ("alpha_1", "spikes", {"alpha": 1.0, "threshold": 3.0}),
        ("alpha_0.001", "slow_up", {"alpha": 0.001, "threshold": 2.0}),
        ("min_instances_1", "multi", {"min_instances": 1}),
        ("min_instances_2", "shift_up", {"min_instances": 2}),
        ("min_instances_300", "slow_up", {"min_instances": 300}),
        ("threshold_1_up", "noise", {"threshold": 1.0, "mode": "up", "alpha": 0.5}),
    ]
    with_scores = {"published", "multi", "alpha_0.001", "warm_const"}

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
    streamgen.write(OUT, {"generator": "tests/oracle/gen_ewma.py", "numpy": np.__version__,
                          "streams": {k: v for k, v in streams.items() if k in used},
                          "cases": out}, out)


if __name__ == "__main__":
    main()
