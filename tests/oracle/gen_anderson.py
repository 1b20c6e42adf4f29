#!/usr/bin/env python3
"""Oracle data for the anderson detector: scipy.stats.anderson_ksamp (scipy 1.17.1) on
[reference, window] for each variant, and on k > 2 samples for the k-sample helper
(detectors/ranktest.c). Writes tests/detectors/data/anderson.json (or argv[1]).

Each case: x, y (samples, see twosample_common.py), variant, statistic, p, capped (+1 when p
is capped at 0.25, -1 when floored at 0.001, from scipy's warning). ksamp: samples (a list),
variant, statistic, p."""
import os
import sys
import warnings

from twosample_common import as_json_sample, expand, mix, prog, rng_samples, write

import numpy as np  # noqa: E402  (twosample_common pins the BLAS kernels first)
import scipy  # noqa: E402
from scipy import stats  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "..", "detectors", "data", "anderson.json")

VARIANTS = ["midrank", "right", "continuous"]

# Scholz & Stephens (1987), Table 4: smoothness of four laboratories' paper (the example in
# scipy's tests), statistic 4.449 (right) / 4.480 (midrank).
LABS = [[38.7, 41.5, 43.8, 44.5, 45.5, 46.0, 47.7, 58.0],
        [39.2, 39.3, 39.7, 41.4, 41.8, 42.9, 43.3, 45.8],
        [34.0, 35.0, 39.0, 40.0, 43.0, 43.0, 44.0, 45.0],
        [34.0, 34.8, 34.8, 35.4, 37.2, 37.8, 41.2, 42.8]]


def run(samples, variant):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = stats.anderson_ksamp([expand(s) for s in samples], variant=variant)
    msgs = " ".join(str(w.message) for w in caught)
    capped = 1 if "capped" in msgs else (-1 if "floored" in msgs else 0)
    return float(res.statistic), float(res.pvalue), capped


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUT
    rng, rnd = rng_samples(20260516)
    pairs = []

    def add(name, x, y, variants=VARIANTS):
        pairs.append((name, x, y, variants))

    # The four-lab data, taken two at a time.
    for i in range(4):
        for j in range(i + 1, 4):
            add(f"labs_{i}_{j}", LABS[i], LABS[j])
    # Tiny samples (N = 4 is the smallest scipy's variance takes).
    add("tiny_2_2", [1.0, 2.0], [3.0, 4.0])
    add("tiny_1_3", [2.5], [1.0, 2.0, 3.0])
    add("tiny_3_1", [1.0, 2.0, 3.0], [10.0])
    add("tiny_2_3_ties", [1.0, 1.0], [1.0, 2.0, 2.0])
    add("tiny_two_values", [0.0, 0.0, 1.0], [1.0, 1.0, 1.0, 0.0])
    # Identical and permuted samples: p capped at 0.25.
    s = rnd(300)
    add("identical_300", s, rng.permutation(s))
    add("identical_ties", np.repeat([1.0, 2.0, 3.0], 5), np.repeat([1.0, 2.0, 3.0], 7))
    # Same distribution, various sizes.
    for m, n in [(10, 10), (25, 40), (100, 100), (500, 300), (2000, 2000)]:
        add(f"null_{m}_{n}", rnd(m), rnd(n))
    # Shifts from slight (interpolated p) to large (p floored at 0.001).
    for m, n, d in [(50, 50, 0.3), (50, 50, 0.5), (100, 80, 0.35), (200, 200, 0.25),
                    (200, 200, 0.3), (300, 250, 0.2), (400, 400, 0.18), (1000, 1000, 0.1),
                    (1000, 500, 2.0), (60, 40, 5.0)]:
        add(f"shift_{m}_{n}_{d}", rnd(m), rnd(n, d))
    # Scale change, heavy tails.
    add("scale_400_600", rnd(400), rnd(600, 0.0, 1.3))
    add("cauchy_300_500", np.round(rng.standard_cauchy(300), 3),
        np.round(rng.standard_cauchy(500), 3))
    # Ties within and across the samples.
    add("poisson_300_300", rng.poisson(3, 300).astype(float), rng.poisson(3.3, 300).astype(float))
    add("poisson_200_500", rng.poisson(5, 200).astype(float), rng.poisson(5, 500).astype(float))
    add("binary_60_90", rng.integers(0, 2, 60).astype(float), rng.integers(0, 2, 90).astype(float))
    add("round1_800_700", rnd(800, dec=1), rnd(700, 0.05, dec=1))
    add("mix_levels", mix(11, 3000, 0, 1, 40), mix(12, 2500, 0.01, 1, 40))
    # Larger samples from compact generators.
    add("mix_5000_4000", mix(1, 5000), mix(2, 4000, 0.02))
    add("mix_20000_10000_null", mix(3, 20000), mix(4, 10000))
    add("prog_10000_10000", prog(0, 1, 10000), prog(25.5, 1, 10000))
    add("prog_disjoint", prog(0, 1, 3000), prog(5000, 1, 2000))
    # Signed zeros and extreme magnitudes.
    add("signed_zeros", [-0.0, 0.0, 1.0, -1.0, 0.0], [0.0, -0.0, 2.0, 0.0])
    add("magnitudes", [1e-300, -1e300, 5e-324, 1.0, 1e300], [2e-300, 0.5, -1e299, 7e-310])

    cases = []
    for name, x, y, variants in pairs:
        for v in variants:
            st, p, capped = run([x, y], v)
            cases.append({"name": name, "x": as_json_sample(x), "y": as_json_sample(y),
                          "variant": v, "statistic": st, "p": p, "capped": capped})

    ksamp = []
    groups = [("labs", LABS),
              ("three_normal", [rnd(30), rnd(45, 0.2), rnd(25, 0.6)]),
              ("five_poisson", [rng.poisson(4, n).astype(float) for n in (20, 30, 40, 25, 35)]),
              ("three_null", [rnd(200), rnd(150), rnd(100)]),
              ("k9", [rnd(12, 0.1 * i) for i in range(9)])]
    for name, samples in groups:
        for v in VARIANTS:
            st, p, capped = run(samples, v)
            ksamp.append({"name": name, "samples": [as_json_sample(s) for s in samples],
                          "variant": v, "statistic": st, "p": p, "capped": capped})

    write({"generator": "tests/oracle/gen_anderson.py",
           "versions": {"numpy": np.__version__, "scipy": scipy.__version__},
           "cases": cases, "ksamp": ksamp}, out)


if __name__ == "__main__":
    main()
