#!/usr/bin/env python3
"""Oracle data for the cvm detector: scipy.stats.cramervonmises_2samp (scipy 1.17.1) on
(reference, window) with method auto / exact / asymptotic, and 1 - the limiting CDF
(scipy.stats._hypotests._cdf_cvm_inf) at points reaching far into the tail. Writes
tests/detectors/data/cvm.json (or argv[1]).

Each case: x, y (samples, see twosample_common.py), method, T, p, path ("exact" or "asymp":
which distribution scipy used). inf_sf: x, sf."""
import os
import sys

from twosample_common import as_json_sample, expand, fnum, mix, prog, rng_samples, write

import numpy as np  # noqa: E402
import scipy  # noqa: E402
from scipy import stats  # noqa: E402
from scipy.stats._hypotests import _cdf_cvm_inf  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "..", "detectors", "data", "cvm.json")


def case(name, x, y, method="auto"):
    xs, ys = expand(x), expand(y)
    res = stats.cramervonmises_2samp(xs, ys, method=method)
    m, n = len(xs), len(ys)
    exact = method == "exact" or (method == "auto" and max(m, n) <= 20)
    return {"name": name, "x": as_json_sample(x), "y": as_json_sample(y), "method": method,
            "T": float(res.statistic), "p": fnum(res.pvalue),
            "path": "exact" if exact else "asymp"}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUT
    rng, rnd = rng_samples(20260517)
    cases = []
    # The example quoted in detectors.md (scipy's documentation).
    px = [7.6, 8.4, 8.6, 8.7, 9.3, 9.9, 10.1, 10.6, 11.2]
    py = [5.2, 5.7, 5.9, 6.5, 6.8, 8.2, 9.1, 9.8, 10.8, 11.3, 11.5, 12.3, 12.5, 13.4, 14.6]
    for mth in ["auto", "exact", "asymptotic"]:
        cases.append(case(f"published_{mth}", px, py, mth))

    # Exact path: every size pattern up to 20, null and shifted, with and without ties.
    for m, n in [(2, 2), (2, 3), (3, 2), (2, 20), (20, 2), (3, 7), (5, 5), (6, 9), (7, 13),
                 (10, 10), (11, 17), (13, 20), (17, 19), (19, 20), (20, 19), (20, 20),
                 (12, 18), (16, 20), (8, 12)]:
        for d in [0.0, 0.8, 3.0]:
            cases.append(case(f"exact_{m}_{n}_{d}", rnd(m), rnd(n, d)))
    cases.append(case("exact_ties_10_12", rng.integers(0, 4, 10).astype(float),
                      rng.integers(0, 4, 12).astype(float)))
    cases.append(case("exact_ties_20_20", rng.integers(0, 3, 20).astype(float),
                      rng.integers(1, 4, 20).astype(float)))
    cases.append(case("exact_all_equal", [1.0] * 6, [1.0] * 9))
    cases.append(case("exact_identical", [1.0, 2.0, 3.0, 4.0], [4.0, 3.0, 2.0, 1.0]))
    cases.append(case("exact_disjoint_20", np.arange(20.0), np.arange(20.0) + 50))
    cases.append(case("exact_interleaved", np.arange(0, 30, 2.0), np.arange(1, 31, 2.0)))
    # method exact beyond 20 (driftd allows up to 30).
    for m, n, d in [(25, 21, 0.5), (30, 30, 0.0), (30, 29, 1.0), (21, 30, 0.3)]:
        cases.append(case(f"exact_forced_{m}_{n}_{d}", rnd(m), rnd(n, d), "exact"))
    # method asymptotic on small samples.
    for m, n, d in [(2, 2, 0.0), (5, 7, 1.0), (9, 15, 0.0), (20, 20, 2.0)]:
        cases.append(case(f"asymp_small_{m}_{n}_{d}", rnd(m), rnd(n, d), "asymptotic"))

    # Asymptotic path (auto, > 20): null, slight to large shifts (far tail, p clipped at 0),
    # ties, scale changes, big samples.
    for m, n in [(21, 21), (21, 40), (50, 30), (100, 100), (300, 500), (1000, 1000)]:
        cases.append(case(f"null_{m}_{n}", rnd(m), rnd(n)))
    for m, n, d in [(100, 100, 0.3), (100, 100, 0.6), (200, 200, 0.5), (200, 150, 0.7),
                    (300, 300, 0.6), (300, 300, 0.7), (400, 400, 0.7), (500, 500, 0.6),
                    (500, 500, 0.7), (800, 700, 0.5), (1000, 1000, 0.4), (1000, 1000, 0.5),
                    (100, 100, 1.5), (60, 60, 3.0), (1000, 900, 1.0)]:
        cases.append(case(f"shift_{m}_{n}_{d}", rnd(m), rnd(n, d)))
    cases.append(case("scale_400_600", rnd(400), rnd(600, 0, 1.5)))
    cases.append(case("poisson_300_300", rng.poisson(3, 300).astype(float),
                      rng.poisson(3.3, 300).astype(float)))
    cases.append(case("binary_60_90", rng.integers(0, 2, 60).astype(float),
                      rng.integers(0, 2, 90).astype(float)))
    cases.append(case("constant_40_30", [3.0] * 40, [3.0] * 30))
    cases.append(case("mix_5000_4000", mix(5, 5000), mix(6, 4000, 0.015)))
    cases.append(case("mix_levels", mix(7, 3000, 0, 1, 25), mix(8, 2000, 0, 1, 25)))
    cases.append(case("prog_20000_15000", prog(0, 1, 20000), prog(100.5, 1, 15000)))
    cases.append(case("signed_zeros", [-0.0, 0.0, 1.0, -1.0, 0.0] * 5, [0.0, -0.0, 2.0] * 8))

    # 1 - limiting CDF: from the x < 0.003 shortcut through the body into the far tail.
    inf_pts = []
    for x in [0.002, 0.00299, 0.003, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.461,
              0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 2.75, 3.0, 3.25, 3.5, 3.75,
              4.0, 4.5, 5.0, 5.5, 6.0, 7.0, 8.0]:
        inf_pts.append({"x": x, "sf": float(max(0.0, 1.0 - float(_cdf_cvm_inf(x))))})

    write({"generator": "tests/oracle/gen_cvm.py",
           "versions": {"numpy": np.__version__, "scipy": scipy.__version__},
           "cases": cases, "inf_sf": inf_pts}, out)


if __name__ == "__main__":
    main()
