#!/usr/bin/env python3
"""Oracle for detectors/kswin.c and detectors/pyrandom.c: River's river.drift.KSWIN
(river==0.26.1, scipy==1.17.1) and CPython's random module.

Writes tests/detectors/data/kswin.json:
  "streams": named value lists (tests/oracle/streamgen.py);
  "cases": River's parameters, the stream's name, and every 0-based index at which River's
    drift_detected was True after update(); a few cases also carry, per step, the KS statistic
    and p-value River's call to scipy.stats.ks_2samp returned (null before the window fills);
  "random": for several seeds, Python's random.Random(seed): the first getrandbits(32) outputs
    and then successive sample(range(n), k) draws, covering both of sample()'s strategies.
KSWIN has no warning level.

    /tmp/oracle-venv/bin/python tests/oracle/gen_kswin.py [OUT.json]
"""

import math
import pathlib
import random
import sys
import types

import river
import river.drift.kswin as kswin_module
import scipy
from river.drift import KSWIN

import streamgen

assert river.__version__ == "0.26.1", river.__version__
assert scipy.__version__ == "1.17.1", scipy.__version__
assert sys.version_info[:2] == (3, 11), sys.version

OUT = pathlib.Path(__file__).resolve().parent.parent / "detectors" / "data" / "kswin.json"

DEFAULTS = dict(alpha=0.005, window_size=100, stat_size=30)

# River calls scipy.stats.ks_2samp through its module's `stats`; record what it returns.
_real_stats = kswin_module.stats
_calls = []


def _recording_ks_2samp(*args, **kwargs):
    res = _real_stats.ks_2samp(*args, **kwargs)
    _calls.append((float(res[0]), float(res[1])))
    return res


kswin_module.stats = types.SimpleNamespace(ks_2samp=_recording_ks_2samp)


def run(values, params, with_stats):
    det = KSWIN(**params)
    drifts, ds, ps = [], [], []
    for i, x in enumerate(values):
        _calls.clear()
        det.update(x)
        if det.drift_detected:
            drifts.append(i)
        assert len(_calls) <= 1
        if with_stats:
            ds.append(_calls[0][0] if _calls else None)
            ps.append(_calls[0][1] if _calls else None)
    return drifts, ds, ps


def random_vectors():
    """Python's generator and sampler for the C port (pyrandom.c)."""
    out = []
    draws = [
        (0, [(70, 30), (70, 30)]),
        (42, [(70, 30), (970, 30), (5, 5)]),
        (1, [(25, 5), (15, 5), (21, 21), (22, 1)]),
        (2**32 - 1, [(1000, 100), (300, 100)]),
        (2**32, [(200, 50), (600, 50)]),
        (2**53 - 1, [(10, 3), (100000, 7)]),
        (0x1E3779B97F4A7C15, [(50, 25), (1000000, 10)]),
        (12345, [(1, 1), (2, 1), (3, 2), (64, 6), (85, 6)]),
    ]
    for seed, sizes in draws:
        rng = random.Random(seed)
        first = [rng.getrandbits(32) for _ in range(8)]
        samples = []
        for n, k in sizes:
            samples.append({"n": n, "k": k, "picks": rng.sample(range(n), k)})
        out.append({"seed": seed, "u32": first, "samples": samples})
    return out


def main():
    streams = streamgen.standard_streams()
    cases = [
        ("published", "published", {"alpha": 0.0001, "seed": 42}),
        ("published_default_alpha", "published", {"seed": 42}),
        ("shift_up", "shift_up", {"seed": 1}),
        ("shift_down", "shift_down", {"seed": 2}),
        ("multi", "multi", {"seed": 3}),
        ("var_up", "var_up", {"seed": 4}),
        ("var_down", "var_down", {"seed": 5}),
        ("slow_up", "slow_up", {"seed": 6}),
        ("big", "big", {"seed": 7}),
        ("flat", "flat", {"seed": 8}),
        ("noise_alpha_0.05", "noise", {"alpha": 0.05, "seed": 9}),
        ("errors", "errors", {"alpha": 0.05, "seed": 10}),
        ("spikes", "spikes", {"alpha": 0.02, "seed": 11}),
        ("steps", "steps", {"seed": 12}),
        ("seed_0", "multi", {"seed": 0}),
        ("seed_2p32", "multi", {"seed": 2**32}),
        ("seed_big", "noise", {"alpha": 0.05, "seed": 2**53 - 1}),
        # sample()'s set branch: 970 candidates > 21 + 4^ceil(log4(90))
        ("window_1000_set_branch", "slow_up", {"window_size": 1000, "stat_size": 30,
                                               "alpha": 0.01, "seed": 13}),
        ("window_60_k_equals_n", "multi", {"window_size": 60, "stat_size": 30, "seed": 14}),
        ("window_30_stat_5_set", "steps", {"window_size": 30, "stat_size": 5, "alpha": 0.01,
                                          "seed": 15}),
        ("window_20_stat_5_pool", "big", {"window_size": 20, "stat_size": 5, "alpha": 0.01,
                                         "seed": 16}),
        ("window_200_stat_50", "slow_down", {"window_size": 200, "stat_size": 50,
                                              "alpha": 0.01, "seed": 17}),
        ("window_400_stat_120", "var_up", {"window_size": 400, "stat_size": 120, "seed": 18}),
        ("alpha_1", "noise", {"alpha": 1.0, "seed": 19, "window_size": 50, "stat_size": 20}),
    ]
    with_stats = {"published", "multi", "window_1000_set_branch", "steps"}

    out = []
    for name, stream, overrides in cases:
        params = dict(DEFAULTS, **overrides)
        drifts, ds, ps = run(streams[stream], params, name in with_stats)
        case = {"name": name, "params": params, "stream": stream, "drifts": drifts}
        if name in with_stats:
            assert all(d is None or math.isfinite(d) for d in ds)
            case["d"] = ds
            case["p"] = ps
        out.append(case)

    by_name = {c["name"]: c for c in out}
    # The number in River's docstring: a regression guard on the oracle itself.
    assert by_name["published"]["drifts"] == [1016], by_name["published"]["drifts"]
    assert sum(len(c["drifts"]) >= 3 for c in out) >= 5

    used = {c["stream"] for c in out}
    streamgen.write(OUT, {"generator": "tests/oracle/gen_kswin.py", "river": river.__version__,
                          "scipy": scipy.__version__,
                          "streams": {k: v for k, v in streams.items() if k in used},
                          "cases": out, "random": random_vectors()}, out)


if __name__ == "__main__":
    main()
