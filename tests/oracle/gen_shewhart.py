#!/usr/bin/env python3
"""Oracle for detectors/shewhart.c: the Shewhart individuals chart, written here with numpy
(River 0.26.1 has no Shewhart chart), independently of the C code.

Definition (the one River's development branch adopts, see detectors/shewhart.c): after a start
or a reset, the first min_instances values fix the center line mu = mean and sigma =
std(ddof=1) (0 for one value); from value min_instances on (inclusive), with d = x - mu, drift
when d > k sigma (up), -d > k sigma (down) or either (both). The value after a drift starts a
new warm-up. Each segment is tested vectorised with numpy.

mu and sigma come from numpy (two-pass, pairwise sums), the C code uses Welford's recurrence:
they agree to a few ulps. The generator checks that no decision is closer than 1e-9 (relative)
to its limit and that no sigma is rounding noise; the C test compares indices exactly and the
recorded per-step scores and limits to 1e-9 relative.

Writes tests/detectors/data/shewhart.json ("streams", "cases" with "drifts", and for some cases
per-step "score" and "threshold", null during the warm-up).

    /tmp/oracle-venv/bin/python tests/oracle/gen_shewhart.py [OUT.json]
"""

import math
import pathlib

import numpy as np

import streamgen

OUT = pathlib.Path(__file__).resolve().parent.parent / "detectors" / "data" / "shewhart.json"

DEFAULTS = dict(k=3.0, min_instances=30, mode="both")
MARGIN = 1e-9


def reference(warm):
    w = np.asarray(warm, dtype=np.float64)
    mu = float(np.mean(w))
    sigma = float(np.std(w, ddof=1)) if len(w) > 1 else 0.0
    assert sigma == 0.0 or sigma > 1e-9 * abs(mu), (mu, sigma)
    return mu, sigma


def run(values, p):
    m, mode = p["min_instances"], p["mode"]
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
        limit = p["k"] * sigma
        d = x[end_warm:] - mu
        stat = {"up": d, "down": -d, "both": np.abs(d)}[mode]
        # every decision is far from its limit (or an exact 0 against 0)
        close = np.abs(stat - limit) <= MARGIN * np.maximum(np.abs(stat), limit)
        assert not np.any(close & ~((stat == 0) & (limit == 0))), (start, mu, sigma)
        hits = np.flatnonzero(stat > limit)
        stop = int(hits[0]) if len(hits) else len(d) - 1
        scores += [float(s) for s in stat[:stop + 1]]
        limits += [limit] * (stop + 1)
        if len(hits):
            drifts.append(end_warm + stop)
        start = end_warm + stop + 1
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
        ("multi_k_2", "multi", {"k": 2.0}),
        ("var_up", "var_up", {}),
        ("var_down", "var_down", {}),
        ("slow_up", "slow_up", {}),
        ("big", "big", {}),
        ("flat", "flat", {}),
        ("noise", "noise", {}),
        ("noise_k_4", "noise", {"k": 4.0}),
        ("errors", "errors", {"min_instances": 100}),
        ("spikes", "spikes", {}),
        ("spikes_k_3.5_up", "spikes", {"k": 3.5, "mode": "up"}),
        ("spikes_k_3.5_down", "spikes", {"k": 3.5, "mode": "down"}),
        ("steps", "steps", {}),
        ("warm_const", "warm_const_then_shift", {}),
        ("min_instances_1", "multi", {"min_instances": 1}),
        ("min_instances_2", "shift_up", {"min_instances": 2}),
        ("min_instances_500", "var_up", {"min_instances": 500}),
        ("k_0.5", "noise", {"k": 0.5}),
    ]
    with_scores = {"published", "multi", "spikes_k_3.5_down", "warm_const"}

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
    streamgen.write(OUT, {"generator": "tests/oracle/gen_shewhart.py", "numpy": np.__version__,
                          "streams": {k: v for k, v in streams.items() if k in used},
                          "cases": out}, out)


if __name__ == "__main__":
    main()
