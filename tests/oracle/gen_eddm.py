#!/usr/bin/env python3
"""Oracle for detectors/eddm.c: River's river.drift.binary.EDDM (river==0.26.1).

Writes tests/detectors/data/eddm.json: "streams" (named 0/1 error streams, see errstreams.py) and
"cases", each with River's parameters, its stream, and every 0-based index at which River's
drift_detected and warning_detected were True after update(). Two cases also carry driftd's
score and threshold after every step, computed from River's state: score = (m + 2 s) / max(m + 2 s)
over the distances between errors (1 until a maximum exists), threshold = beta.

    /tmp/oracle-venv/bin/python tests/oracle/gen_eddm.py [OUT.json]
"""

from river.drift.binary import EDDM

import errstreams

DEFAULTS = dict(warm_start=30, alpha=0.95, beta=0.9)


def score(d):
    if d._p2s_prime_max < 0:
        return 1.0, d.beta
    var = d._error_distances
    p2s = var.mean.get() + 2 * var.get() ** 0.5
    return p2s / d._p2s_prime_max, d.beta


def guard(by_name):
    # River's docstring example (alpha 0.8, beta 0.75): first warning 1059, first drift 1278.
    c = by_name["published_doc"]
    assert c["drifts"][0] == 1278, c["drifts"]
    assert c["warnings"][0] == 1059, c["warnings"][:3]
    assert sum(len(c["drifts"]) for c in by_name.values()) > 60


CASES = [
    ("published", "published", {}),
    ("published_doc", "published", {"alpha": 0.8, "beta": 0.75}),
    ("jump_up", "jump_up", {}),
    ("jump_up_small", "jump_up_small", {}),
    ("jump_down", "jump_down", {}),
    ("gradual_up", "gradual_up", {}),
    ("gradual_down", "gradual_down", {}),
    ("multi", "multi", {}),
    ("multi_down", "multi_down", {}),
    ("rare_errors", "rare_errors", {}),
    ("stationary", "stationary", {}),
    ("silent_then_errors", "silent_then_errors", {}),
    ("all_errors_then_none", "all_errors_then_none", {}),
    ("alternating", "alternating", {}),
    ("bursts", "bursts", {}),
    ("multi_strict", "multi", {"alpha": 0.8, "beta": 0.7}),
    ("multi_warm_start_5", "multi", {"warm_start": 5}),
    ("rare_errors_warm_start_0", "rare_errors", {"warm_start": 0, "alpha": 0.9, "beta": 0.85}),
    ("jump_up_alpha_eq_beta", "jump_up", {"alpha": 0.85, "beta": 0.85}),
    ("gradual_up_warm_start_100", "gradual_up", {"warm_start": 100, "alpha": 0.97, "beta": 0.93}),
]

if __name__ == "__main__":
    errstreams.write("eddm", EDDM, DEFAULTS, CASES, score, {"published", "multi_warm_start_5"}, guard)
