#!/usr/bin/env python3
"""Oracle data for the mannwhitney detector: scipy.stats.mannwhitneyu(reference, window,
alternative="two-sided", method="auto") of scipy 1.17.1, plus exact p-values with method="exact"
for the distribution routine. Writes tests/detectors/data/mannwhitney.json (or argv[1]).

Each case: x, y (samples, see twosample_common.py), U1 (scipy's statistic), p, path ("exact" or
"asymp": which method auto chose). exact: m, n, u, p from method="exact" on samples without
ties built to give that u."""
import os
import sys

from twosample_common import as_json_sample, expand, fnum, mix, prog, rng_samples, write

import numpy as np  # noqa: E402
import scipy  # noqa: E402
from scipy import stats  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "..", "detectors", "data", "mannwhitney.json")


def case(name, x, y):
    xs, ys = expand(x), expand(y)
    res = stats.mannwhitneyu(xs, ys, alternative="two-sided", method="auto")
    m, n = len(xs), len(ys)
    ties = len(np.unique(np.concatenate([xs, ys]))) < m + n
    exact = not (m > 8 and n > 8) and not ties
    return {"name": name, "x": as_json_sample(x), "y": as_json_sample(y),
            "U1": float(res.statistic), "p": fnum(res.pvalue),
            "path": "exact" if exact else "asymp"}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUT
    rng, rnd = rng_samples(20260518)
    cases = []
    # scipy's documented example: males vs females, U = 17, p = 1/9 (exact).
    cases.append(case("published_ages", [19, 22, 16, 29, 24], [20, 11, 17, 12]))

    # Exact path: one side at most 8, no ties (rnd with 6 decimals: ties unlikely, checked).
    for m, n in [(1, 1), (1, 2), (2, 1), (1, 10), (3, 3), (2, 9), (5, 5), (8, 8), (8, 9),
                 (9, 8), (4, 40), (40, 4), (7, 100), (8, 300), (8, 1000), (1000, 8),
                 (6, 2500), (3, 3000), (8, 3000)]:
        for d in [0.0, 0.7, 3.0]:
            cases.append(case(f"exact_{m}_{n}_{d}", rnd(m, 0, 1, 6), rnd(n, d, 1, 6)))
    cases.append(case("exact_disjoint_8_50", np.arange(8.0) + 100, np.arange(50.0)))
    cases.append(case("exact_interleaved_8_8", np.arange(0, 16, 2.0), np.arange(1, 17, 2.0)))
    # Small with ties: asymptotic under auto.
    cases.append(case("ties_small_5_6", [1.0, 2.0, 2.0, 3.0, 4.0], [2.0, 3.0, 5.0, 6.0, 6.0, 7.0]))
    cases.append(case("ties_across_1_1", [1.0], [1.0]))
    cases.append(case("ties_all_equal", [3.0] * 7, [3.0] * 5))
    cases.append(case("ties_8_20", rng.integers(0, 5, 8).astype(float),
                      rng.integers(0, 5, 20).astype(float)))

    # Asymptotic path: both sides above 8.
    for m, n in [(9, 9), (10, 30), (50, 50), (200, 300), (1000, 1000)]:
        for d in [0.0, 0.3, 1.5]:
            cases.append(case(f"asymp_{m}_{n}_{d}", rnd(m), rnd(n, d)))
    cases.append(case("asymp_far_tail_2000", rnd(2000), rnd(2000, 4.0)))
    cases.append(case("asymp_disjoint_5000", prog(0, 1, 5000), prog(10000, 1, 4000)))
    cases.append(case("poisson_300_300", rng.poisson(3, 300).astype(float),
                      rng.poisson(3.4, 300).astype(float)))
    cases.append(case("binary_60_90", rng.integers(0, 2, 60).astype(float),
                      rng.integers(0, 2, 90).astype(float)))
    cases.append(case("round1_800_700", rnd(800, dec=1), rnd(700, 0.1, dec=1)))
    cases.append(case("mix_20000_10000", mix(21, 20000), mix(22, 10000, 0.01)))
    cases.append(case("mix_levels", mix(23, 4000, 0, 1, 30), mix(24, 3000, 0, 1, 30)))
    cases.append(case("signed_zeros", [-0.0, 0.0, 1.0, -1.0, 0.0] * 3, [0.0, -0.0, 2.0] * 4))

    # The exact distribution on its own: every u for small sizes, some for larger ones.
    exact = []
    for m, n, us in [(1, 1, None), (2, 3, None), (4, 4, None), (3, 8, None), (8, 8, None),
                     (5, 12, [30, 40, 50, 60]), (8, 40, [160, 200, 250, 300, 320]),
                     (8, 2000, [8000, 9000, 12000, 15999, 16000]), (7, 5000, [17500, 20000, 30000])]:
        for u in (us if us is not None else range(m * n + 1)):
            # x above exactly u of the pairs: a tie-free arrangement with that statistic
            y = np.arange(n, dtype=float)
            x, left = [], u
            for _ in range(m):
                k = min(left, n)
                x.append(k - 0.5 if k > 0 else -0.5)
                left -= k
            if left:
                continue
            res = stats.mannwhitneyu(np.array(x), y, method="exact")
            assert float(res.statistic) == u
            exact.append({"m": m, "n": n, "u": u, "p": float(res.pvalue)})

    write({"generator": "tests/oracle/gen_mannwhitney.py",
           "versions": {"numpy": np.__version__, "scipy": scipy.__version__},
           "cases": cases, "exact": exact}, out)


if __name__ == "__main__":
    main()
