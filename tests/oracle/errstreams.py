"""Shared by the oracles of the 0/1 error-stream detectors (gen_ddm.py, gen_eddm.py,
gen_hddm_a.py, gen_hddm_w.py): the streams and the driver that records River's flags.

Every stream is a list of 0/1 error indicators drawn with Python's own random module from fixed
seeds, so the generators are deterministic. Not a generator itself (check_fresh.py runs only
gen_*.py).
"""

import json
import math
import pathlib
import random
import sys

import river

assert river.__version__ == "0.26.1", river.__version__

DATA = pathlib.Path(__file__).resolve().parent.parent / "detectors" / "data"


def bernoulli(seed, segments):
    """segments: list of (n, p): n values with error rate p."""
    rng = random.Random(seed)
    out = []
    for n, p in segments:
        out += [1 if rng.random() < p else 0 for _ in range(n)]
    return out


def ramp(seed, n, p0, p1):
    """Error rate moving linearly from p0 to p1 over n values (gradual drift)."""
    rng = random.Random(seed)
    return [1 if rng.random() < p0 + (p1 - p0) * i / (n - 1) else 0 for i in range(n)]


def streams():
    rng = random.Random(42)
    # The stream of River's docstring examples for the four detectors.
    published = rng.choices([0, 1], k=1000) + rng.choices([0, 1], k=1000, weights=[0.3, 0.7])
    return {
        "published": published,
        "jump_up": bernoulli(1, [(1500, 0.1), (1500, 0.4)]),
        "jump_up_small": bernoulli(2, [(2000, 0.2), (2000, 0.3)]),
        "jump_down": bernoulli(3, [(1500, 0.45), (1500, 0.1)]),
        "gradual_up": ramp(4, 4000, 0.05, 0.6),
        "gradual_down": ramp(5, 4000, 0.6, 0.05),
        "multi": bernoulli(
            6, [(600, 0.1), (600, 0.5), (600, 0.15), (600, 0.6), (600, 0.2), (600, 0.8), (600, 0.3)]
        ),
        "multi_down": bernoulli(7, [(800, 0.7), (800, 0.4), (800, 0.2), (800, 0.05)]),
        "rare_errors": bernoulli(8, [(4000, 0.01), (2000, 0.05)]),
        "stationary": bernoulli(9, [(20000, 0.2)]),
        # No errors for a long stretch first: DDM's s_min is 0 and HDDM_W's moving averages decay
        # into subnormals and reach exactly 0 before errors come back.
        "silent_then_errors": [0] * 300 + bernoulli(10, [(200, 0.3)]) + [0] * 16000
        + bernoulli(11, [(600, 0.5)]),
        "all_errors_then_none": [1] * 400 + [0] * 400 + [1] * 100,
        "alternating": [i % 2 for i in range(1000)] + [1, 1, 0] * 300,
        "bursts": sum(([0] * 80 + [1] * 8 for _ in range(30)), []) + bernoulli(12, [(600, 0.6)]),
    }


def run(cls, params, values, score=None):
    """River's flags after every update: the 0-based indices where drift_detected and
    warning_detected were True, and optionally score(detector) after every step."""
    det = cls(**params)
    drifts, warnings, scores = [], [], []
    for i, x in enumerate(values):
        det.update(x)
        if det.drift_detected:
            drifts.append(i)
        if det.warning_detected:
            warnings.append(i)
        if score is not None:
            scores.append(score(det))
    return drifts, warnings, scores


def finite_or_none(v):
    """JSON has no infinity: an unbounded threshold is written as null."""
    v = float(v)
    if math.isinf(v) and v > 0:
        return None
    assert math.isfinite(v), v
    return v


def write(name, cls, defaults, cases, score, scored, guard=None):
    """cases: (case name, stream name, parameter overrides). scored: case names that also
    record (score, threshold) after every step. guard(by_name) asserts published numbers."""
    all_streams = streams()
    used = sorted({s for _, s, _ in cases})
    out = []
    for case_name, stream, overrides in cases:
        params = dict(defaults, **overrides)
        with_scores = case_name in scored
        drifts, warnings, scores = run(cls, params, all_streams[stream],
                                       score if with_scores else None)
        case = {"name": case_name, "params": params, "stream": stream, "drifts": drifts,
                "warnings": warnings}
        if with_scores:
            case["scores"] = [finite_or_none(s) for s, _ in scores]
            case["thresholds"] = [finite_or_none(t) for _, t in scores]
        out.append(case)
    by_name = {c["name"]: c for c in out}
    assert set(scored) <= set(by_name)
    if guard:
        guard(by_name)

    out_path = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else DATA / f"{name}.json"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with open(out_path, "w") as f:
        json.dump({"generator": f"tests/oracle/gen_{name}.py", "river": river.__version__,
                   "streams": {s: all_streams[s] for s in used}, "cases": out}, f,
                  separators=(",", ":"), allow_nan=False)
        f.write("\n")
    for c in out:
        print(f"{c['name']:30s} n={len(all_streams[c['stream']]):5d} drifts={len(c['drifts']):3d} "
              f"warnings={len(c['warnings']):5d} {c['drifts'][:6]}")
