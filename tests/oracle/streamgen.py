"""Deterministic test streams shared by the streaming-detector oracles (gen_adwin.py,
gen_kswin.py, gen_cusum.py, gen_ewma.py, gen_shewhart.py).

Python's own random module with fixed seeds; values rounded to 6 decimals, so each is an exact
double written with repr and read back bit-identical. Every stream is a list of floats (or
ints for the integer-valued ones)."""

import json
import pathlib
import random
import sys


def published():
    """The stream of River's docstrings: 0/1 for 1000 values, then 4..7."""
    rng = random.Random(12345)
    return rng.choices([0, 1], k=1000) + rng.choices(range(4, 8), k=1000)


def gauss_segments(seed, segments):
    """segments: list of (n, mean, sd)."""
    rng = random.Random(seed)
    out = []
    for n, mu, sd in segments:
        out += [round(rng.gauss(mu, sd), 6) for _ in range(n)]
    return out


def ramp(seed, n, start, end, sd):
    rng = random.Random(seed)
    return [round(start + (end - start) * i / (n - 1) + rng.gauss(0, sd), 6) for i in range(n)]


def bernoulli_segments(seed, segments):
    """segments: list of (n, p): 0/1 error indicators with rate p."""
    rng = random.Random(seed)
    out = []
    for n, p in segments:
        out += [1 if rng.random() < p else 0 for _ in range(n)]
    return out


def spikes(seed, n, sd, every, height):
    """Gaussian noise with an outlier of +/- height roughly every `every` values."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        x = rng.gauss(0.0, sd)
        if rng.random() < 1.0 / every:
            x += height if rng.random() < 0.5 else -height
        out.append(round(x, 6))
    return out


def standard_streams():
    """The common set: level shifts up and down, variance changes, ramps, several drifts in
    one stream, a large offset, a constant stream, stationary noise, 0/1 error rates,
    outliers, and integer steps."""
    return {
        "published": published(),
        "shift_up": gauss_segments(1, [(800, 0.0, 1.0), (800, 1.5, 1.0)]),
        "shift_down": gauss_segments(2, [(800, 5.0, 1.0), (800, 3.0, 1.0)]),
        "multi": gauss_segments(
            3,
            [(300, 0.0, 1.0), (300, 2.0, 1.0), (300, -1.0, 1.0), (300, 3.0, 0.5),
             (300, 0.0, 2.0)],
        ),
        "var_up": gauss_segments(8, [(1000, 0.0, 1.0), (1000, 0.0, 4.0)]),
        "var_down": gauss_segments(9, [(1000, 10.0, 3.0), (1000, 10.0, 0.3)]),
        "slow_up": ramp(4, 3000, 0.0, 3.0, 1.0),
        "slow_down": ramp(5, 3000, 10.0, 8.0, 0.5),
        "big": gauss_segments(6, [(500, 1e6, 10.0), (500, 1e6 + 15.0, 10.0)]),
        "flat": [2.5] * 400 + [2.75] * 100,
        "noise": gauss_segments(7, [(3000, 0.0, 1.0)]),
        "errors": bernoulli_segments(10, [(1500, 0.1), (1000, 0.3), (1000, 0.05)]),
        "spikes": spikes(11, 2000, 1.0, 150, 6.0),
        "steps": [v for lvl in (3, 7, 2, 9) for v in [lvl] * 250],
    }


def write(out_default, doc, cases):
    """Write the oracle file (path from argv[1], else out_default) and a summary."""
    out_path = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else out_default
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with open(out_path, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    for c in cases:
        print(f"{c['name']:32s} drifts={len(c['drifts']):3d} {c['drifts'][:8]}")
