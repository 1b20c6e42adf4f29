#!/usr/bin/env python3
"""Oracle for detectors/hddm_a.c: River's river.drift.binary.HDDMA (river==0.26.1).

Writes tests/detectors/data/hddm_a.json: "streams" (named 0/1 error streams, see errstreams.py)
and "cases", each with River's parameters, its stream, and every 0-based index at which River's
drift_detected and warning_detected were True after update(). Two cases also carry driftd's
score and threshold after every step, computed from River's state: the difference between the
global mean and the cut-point mean (z - x_min for increases, x_max - z for decreases) and
the Hoeffding bound at drift_confidence it is compared with (null when that side has no cut
point yet); the two-sided test reports the side with the larger difference minus bound.

    /tmp/oracle-venv/bin/python tests/oracle/gen_hddm_a.py [OUT.json]
"""

import math

from river.drift.binary import HDDMA

import errstreams

DEFAULTS = dict(drift_confidence=0.001, warning_confidence=0.005, two_sided_test=False)


def side(z, cut, sign, confidence):
    if cut.n == z.n:
        return 0.0, math.inf
    m = (z.n - cut.n) / cut.n * (1.0 / z.n)
    eps = math.sqrt(m / 2 * math.log(2.0 / confidence))
    return sign * (z.get() - cut.get()), eps


def score(d):
    inc = side(d._z, d._x_min, 1, d.drift_confidence)
    if not d.two_sided_test:
        return inc
    dec = side(d._z, d._x_max, -1, d.drift_confidence)
    return dec if dec[0] - dec[1] > inc[0] - inc[1] else inc


def guard(by_name):
    # River's docstring example: first warning 451, first drift 1206.
    c = by_name["published"]
    assert c["drifts"][0] == 1206, c["drifts"]
    assert c["warnings"][0] == 451, c["warnings"][:3]
    assert sum(len(c["drifts"]) for c in by_name.values()) > 60


TWO = {"two_sided_test": True}
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
    ("published_two_sided", "published", TWO),
    ("jump_down_two_sided", "jump_down", TWO),
    ("gradual_down_two_sided", "gradual_down", TWO),
    ("multi_two_sided", "multi", TWO),
    ("multi_down_two_sided", "multi_down", TWO),
    ("all_errors_then_none_two_sided", "all_errors_then_none", TWO),
    ("bursts_two_sided", "bursts", TWO),
    ("multi_loose", "multi", {"drift_confidence": 0.05, "warning_confidence": 0.2}),
    ("stationary_loose_two_sided", "stationary",
     {"drift_confidence": 0.1, "warning_confidence": 0.3, "two_sided_test": True}),
    ("jump_up_strict", "jump_up", {"drift_confidence": 1e-6, "warning_confidence": 1e-4}),
    ("multi_down_warn_below_drift", "multi_down",
     {"drift_confidence": 0.01, "warning_confidence": 0.001, "two_sided_test": True}),
]

if __name__ == "__main__":
    errstreams.write("hddm_a", HDDMA, DEFAULTS, CASES, score, {"published", "multi_two_sided"},
                     guard)
