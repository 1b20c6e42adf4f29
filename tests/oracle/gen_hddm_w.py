#!/usr/bin/env python3
"""Oracle for detectors/hddm_w.c: River's river.drift.binary.HDDMW (river==0.26.1).

Writes tests/detectors/data/hddm_w.json: "streams" (named 0/1 error streams, see errstreams.py)
and "cases", each with River's parameters, its stream, and every 0-based index at which River's
drift_detected and warning_detected were True after update(). Two cases also carry driftd's
score and threshold after every step, computed from River's state: the difference between the
weighted means after and before the cut point (s2 - s1 for increases, s1 - s2 for decreases)
and the McDiarmid bound at drift_confidence it is compared with (null while either sample is
empty); the two-sided test reports the side with the larger difference minus bound.

    /tmp/oracle-venv/bin/python tests/oracle/gen_hddm_w.py [OUT.json]
"""

import math

from river.drift.binary import HDDMW

import errstreams

DEFAULTS = dict(drift_confidence=0.001, warning_confidence=0.005, lambda_val=0.05,
                two_sided_test=False)


def side(before, after, confidence):
    if not (before.is_init and after.is_init):
        return 0.0, math.inf
    bound = math.sqrt((before.ibc + after.ibc) * math.log(1 / confidence) / 2)
    return after.ewma - before.ewma, bound


def score(d):
    inc = side(d._s1_incr, d._s2_incr, d.drift_confidence)
    if not d.two_sided_test:
        return inc
    dec = side(d._s2_decr, d._s1_decr, d.drift_confidence)
    return dec if dec[0] - dec[1] > inc[0] - inc[1] else inc


def guard(by_name):
    # River's docstring example: first warning 451, first drift 1077.
    c = by_name["published"]
    assert c["drifts"][0] == 1077, c["drifts"]
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
    ("silent_then_errors_two_sided", "silent_then_errors", TWO),
    ("all_errors_then_none_two_sided", "all_errors_then_none", TWO),
    ("multi_lambda_0.2", "multi", {"lambda_val": 0.2}),
    ("multi_lambda_0.01", "multi", {"lambda_val": 0.01}),
    # (1 - 0.0523) ** 2 is not (1 - 0.0523) * (1 - 0.0523): libm's pow, as in River.
    ("jump_up_lambda_0.0523", "jump_up", {"lambda_val": 0.0523, "two_sided_test": True}),
    ("stationary_lambda_0.3_loose_two_sided", "stationary",
     {"lambda_val": 0.3, "drift_confidence": 0.05, "warning_confidence": 0.1,
      "two_sided_test": True}),
    ("multi_loose_two_sided", "multi",
     {"drift_confidence": 0.05, "warning_confidence": 0.2, "lambda_val": 0.1,
      "two_sided_test": True}),
    ("jump_up_strict", "jump_up", {"drift_confidence": 1e-6, "warning_confidence": 1e-4}),
    ("bursts_lambda_0.5_loose", "bursts",
     {"lambda_val": 0.5, "drift_confidence": 0.05, "warning_confidence": 0.2}),
    ("rare_errors_lambda_0.123_loose", "rare_errors",
     {"lambda_val": 0.123, "drift_confidence": 0.05, "warning_confidence": 0.2}),
    ("multi_lambda_1", "multi", {"lambda_val": 1.0, "drift_confidence": 0.5,
                                 "warning_confidence": 0.7}),
]

if __name__ == "__main__":
    errstreams.write("hddm_w", HDDMW, DEFAULTS, CASES, score,
                     {"published", "multi_two_sided", "jump_up_lambda_0.0523"},
                     guard)
