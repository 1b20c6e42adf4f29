#!/usr/bin/env python3
"""Oracle for detectors/adwin.c: River's river.drift.ADWIN (river==0.26.1).

Writes tests/detectors/data/adwin.json: "streams" (named value lists, tests/oracle/streamgen.py)
and "cases", each with River's parameters, the name of its stream, and every 0-based index at
which River's drift_detected was True after update(). ADWIN has no warning level.

    /tmp/oracle-venv/bin/python tests/oracle/gen_adwin.py [OUT.json]
"""

import pathlib

import river
from river.drift import ADWIN

import streamgen

assert river.__version__ == "0.26.1", river.__version__

OUT = pathlib.Path(__file__).resolve().parent.parent / "detectors" / "data" / "adwin.json"

DEFAULTS = dict(delta=0.002, clock=32, max_buckets=5, min_window_length=5, grace_period=10)


def run(values, params):
    det = ADWIN(**params)
    drifts = []
    for i, x in enumerate(values):
        det.update(x)
        if det.drift_detected:
            drifts.append(i)
    return drifts


def main():
    streams = streamgen.standard_streams()
    cases = [
        ("published", "published", {}),
        ("shift_up", "shift_up", {}),
        ("shift_down", "shift_down", {}),
        ("multi", "multi", {}),
        ("var_up", "var_up", {}),
        ("var_down", "var_down", {}),
        ("slow_up", "slow_up", {}),
        ("slow_down", "slow_down", {}),
        ("big", "big", {}),
        ("flat", "flat", {}),
        ("noise", "noise", {}),
        ("errors", "errors", {}),
        ("spikes", "spikes", {}),
        ("steps", "steps", {}),
        ("multi_delta_0.1", "multi", {"delta": 0.1}),
        ("noise_delta_0.5", "noise", {"delta": 0.5}),
        ("noise_delta_1_clock_1", "noise", {"delta": 1.0, "clock": 1}),
        ("multi_clock_1", "multi", {"clock": 1}),
        ("multi_clock_7", "multi", {"clock": 7}),
        ("errors_clock_5_delta_0.05", "errors", {"clock": 5, "delta": 0.05}),
        ("multi_max_buckets_1", "multi", {"max_buckets": 1, "clock": 3}),
        ("multi_max_buckets_2", "multi", {"max_buckets": 2}),
        ("slow_up_max_buckets_12", "slow_up", {"max_buckets": 12, "clock": 16}),
        ("shift_up_mwl_1_grace_0", "shift_up", {"min_window_length": 1, "grace_period": 0,
                                                "clock": 1}),
        ("multi_mwl_40", "multi", {"min_window_length": 40}),
        ("published_grace_300", "published", {"grace_period": 300, "clock": 10}),
        ("spikes_delta_0.2_clock_2", "spikes", {"delta": 0.2, "clock": 2}),
        ("var_up_all", "var_up", {"delta": 0.05, "clock": 4, "max_buckets": 3,
                                  "min_window_length": 10, "grace_period": 50}),
    ]

    out = []
    for name, stream, overrides in cases:
        params = dict(DEFAULTS, **overrides)
        out.append({"name": name, "params": params, "stream": stream,
                    "drifts": run(streams[stream], params)})

    by_name = {c["name"]: c for c in out}
    # The number in River's docstring: a regression guard on the oracle itself.
    assert by_name["published"]["drifts"] == [1023], by_name["published"]["drifts"]
    assert sum(len(c["drifts"]) >= 3 for c in out) >= 5

    used = {c["stream"] for c in out}
    streamgen.write(OUT, {"generator": "tests/oracle/gen_adwin.py", "river": river.__version__,
                          "streams": {k: v for k, v in streams.items() if k in used},
                          "cases": out}, out)


if __name__ == "__main__":
    main()
