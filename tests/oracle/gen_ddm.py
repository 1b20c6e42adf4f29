#!/usr/bin/env python3
"""Oracle for detectors/ddm.c: River's river.drift.binary.DDM (river==0.26.1).

Writes tests/detectors/data/ddm.json: "streams" (named 0/1 error streams, see errstreams.py) and
"cases", each with River's parameters, its stream, and every 0-based index at which River's
drift_detected and warning_detected were True after update(). Two cases also carry driftd's
score and threshold after every step, computed from River's state: score = p + s and threshold =
p_min + drift_threshold * s_min (null, i.e. unbounded, before the warm start is over).

    /tmp/oracle-venv/bin/python tests/oracle/gen_ddm.py [OUT.json]
"""

import math

from river.drift.binary import DDM

import errstreams

DEFAULTS = dict(warm_start=30, warning_threshold=2.0, drift_threshold=3.0)


def score(d):
    p = d._p.get()
    s = math.sqrt(p * (1 - p) / d._p.n)
    limit = math.inf if d._p_min is None else d._p_min + d.drift_threshold * d._s_min
    return p + s, limit


def guard(by_name):
    # River's docstring example: first warning 1084, drift 1334, warning again 1492.
    c = by_name["published"]
    assert c["drifts"][0] == 1334, c["drifts"]
    assert c["warnings"][0] == 1084, c["warnings"][:3]
    assert [w for w in c["warnings"] if w > 1334][0] == 1492
    assert sum(len(c["drifts"]) for c in by_name.values()) > 60


CASES = [
    ("published", "published", {}),
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
    ("multi_sensitive", "multi", {"warm_start": 10, "warning_threshold": 1.0, "drift_threshold": 1.5}),
    ("stationary_sensitive", "stationary", {"warm_start": 5, "warning_threshold": 1.5, "drift_threshold": 2.0}),
    ("gradual_up_slow_start", "gradual_up", {"warm_start": 300, "drift_threshold": 2.5}),
    ("jump_up_strict", "jump_up", {"warning_threshold": 3.0, "drift_threshold": 4.5}),
    ("bursts_no_warm_start", "bursts", {"warm_start": 0}),
    ("published_warn_above_drift", "published", {"warning_threshold": 2.5, "drift_threshold": 2.2}),
]

if __name__ == "__main__":
    errstreams.write("ddm", DDM, DEFAULTS, CASES, score, {"published", "multi_sensitive"}, guard)
