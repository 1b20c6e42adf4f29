#!/usr/bin/env python3
"""Oracle for the ks detector: scipy.stats.ks_2samp, scipy.stats.kstwo.sf and
scipy.special.smirnov values written to tests/detectors/data/ks.json.

Run with the pinned oracle venv (tests/oracle/requirements.txt):
    python tests/oracle/gen_ks.py [OUTPUT]
The output is deterministic (seeded generator, sorted keys). A sample is stored either as a
list of numbers or as {"start": a, "step": b, "count": c}, meaning a + i * b for i < c computed
in float64 (the test rebuilds it with the same two roundings); p = null stands for NaN.
"""
import json
import os
import sys
import warnings

# scipy's Durbin (matrix power) and Pomeranz (convolution) branches go through OpenBLAS and
# numpy's SIMD loops, whose kernels are picked per CPU and round differently (seen: 3e-14
# relative between SkylakeX and Haswell kernels). Pin the most generic ones so that
# check_fresh.py can regenerate this file on any x86-64 machine. Must precede `import numpy`.
os.environ["OPENBLAS_CORETYPE"] = "Prescott"
os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["NPY_DISABLE_CPU_FEATURES"] = "X86_V3 X86_V4 AVX512_ICL AVX512_SPR"

import numpy as np  # noqa: E402
import scipy  # noqa: E402
from scipy import special, stats  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "..", "detectors", "data", "ks.json")


def kolmogn_branch(n, x):
    """Which branch of scipy.stats._ksstats._kolmogn(n, x, cdf=False) kstwo.sf(x, n) takes
    (labels only: they pick the test tolerance)."""
    if x <= 0.5 / n or x >= 1.0:
        return "trivial"
    t = n * x
    if t <= 1.0:
        return "trivial" if t <= 0.5 else "ruben_gambino"
    if t >= n - 1:
        return "ruben_gambino"
    if x >= 0.5:
        return "smirnov"
    nxsq = t * x
    if n <= 140:
        if nxsq <= 0.754693:
            return "durbin"
        if nxsq <= 4:
            return "pomeranz"
        return "smirnov"
    if nxsq >= 370.0:
        return "trivial"
    if nxsq >= 2.2:
        return "smirnov"
    if n <= 100000 and n * x**1.5 <= 1.4:
        return "durbin"
    return "pelz_good"


def slow_smirnov(n, x):
    """smirnov's sum takes O(n) double-double terms with big powers: about a second per point
    for n = 10^6 in a Debug build. Keep few of those."""
    return n >= 100000 and 2.0 / n < x < 0.1 and n <= 1000000


def expand(spec):
    if isinstance(spec, dict):
        return spec["start"] + np.arange(spec["count"], dtype=np.float64) * spec["step"]
    return np.asarray(spec, dtype=np.float64)


def prog(start, step, count):
    return {"start": float(start), "step": float(step), "count": int(count)}


def as_json_sample(a):
    if isinstance(a, dict):
        return a
    return [float(v) for v in np.asarray(a, dtype=np.float64)]


def fnum(v):
    v = float(v)
    return None if np.isnan(v) else v


def ks_case(name, x, y, method="auto"):
    xs, ys = expand(x), expand(y)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = stats.ks_2samp(xs, ys, alternative="two-sided", method=method)
    m, n = len(xs), len(ys)
    msgs = " ".join(str(w.message) for w in caught)
    failed = "unsuccessful" in msgs or "not possible" in msgs
    attempted = method == "exact" or (method == "auto" and max(m, n) <= 10000)
    exact = attempted and not failed
    d = float(res.statistic)
    if exact:
        branch = "exact"
    else:
        en = round(m * n / (m + n))  # Python's round is half-even like np.round
        branch = kolmogn_branch(en, d) if en >= 1 else "nan"
    return {
        "name": name,
        "x": as_json_sample(x),
        "y": as_json_sample(y),
        "method": method,
        "D": d,
        "p": fnum(res.pvalue),
        "path": "exact" if exact else "asymp",
        "branch": branch,
    }


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUT
    rng = np.random.default_rng(20260515)
    cases = []

    def rnd(size, loc=0.0, scale=1.0, dec=4):
        return np.round(rng.normal(loc, scale, size), dec)

    # The published values (detectors.md).
    cases.append(ks_case("published_1", [1.01, 2.01], [1, 2, 3]))
    cases.append(ks_case("published_2", [0.99, 1.99], [1, 2, 3]))
    cases.append(ks_case("published_3", [1.01, 2.01], [1, 2, 3, 4]))
    cases.append(ks_case("published_4", np.linspace(1, 100, 100), np.linspace(1, 100, 110) + 20.1))
    a = [2] * 3 + [3] * 4 + [5] * 5 + [6] * 4
    cases.append(ks_case("published_5", a, [v + 1 for v in a]))

    # Tiny samples.
    cases.append(ks_case("one_vs_one_equal", [1.5], [1.5]))
    cases.append(ks_case("one_vs_one", [1.0], [2.0]))
    cases.append(ks_case("one_vs_one_asymp_nan", [1.0], [2.0], "asymp"))
    cases.append(ks_case("one_vs_five_inside", [3.0], [1, 2, 3, 4, 5]))
    cases.append(ks_case("one_vs_five_below", [0.0], [1, 2, 3, 4, 5]))
    cases.append(ks_case("five_vs_one", [1, 2, 3, 4, 5], [2.5]))
    cases.append(ks_case("two_vs_three", [0.5, 0.7], [0.1, 0.6, 0.9]))
    # D = 1/n with m == n: scipy's exact value is 1 + 2^-52 and it falls back to asymp.
    cases.append(ks_case("equal_h1_fallback", [1, 2, 3, 4, 5], [1, 2, 3, 4, 5.5]))
    cases.append(ks_case("equal_h1_fallback_30", np.arange(30.0), np.r_[np.arange(29.0), 40]))

    # Identical samples, p = 1, and D = 0 with ties.
    s = rnd(200)
    cases.append(ks_case("identical", s, rng.permutation(s)))
    cases.append(ks_case("identical_unequal", np.repeat([1.0, 2.0, 3.0], 4),
                         np.repeat([1.0, 2.0, 3.0], 6)))

    # Equal sizes (exact: alternating series).
    for n, shift in [(5, 0.5), (20, 0.0), (20, 1.0), (100, 0.2), (100, 0.0), (1000, 0.1),
                     (1000, 0.0), (4000, 0.05), (10000, 0.03)]:
        cases.append(ks_case(f"equal_{n}_shift_{shift}", rnd(n), rnd(n, shift)))
    # Unequal sizes (exact: lattice paths).
    for m, n, shift in [(7, 13, 0.8), (13, 7, 0.8), (50, 80, 0.5), (80, 50, 0.0), (300, 200, 0.3),
                        (200, 300, 0.0), (997, 1009, 0.1), (2000, 1500, 0.15),
                        (3000, 2999, 0.05), (5000, 4000, 0.0), (10000, 9999, 0.04)]:
        cases.append(ks_case(f"unequal_{m}_{n}_shift_{shift}", rnd(m), rnd(n, shift)))
    # Scale change, heavy tails.
    cases.append(ks_case("scale_400_600", rnd(400), rnd(600, 0.0, 1.6)))
    cases.append(ks_case("cauchy_500_700", np.round(rng.standard_cauchy(500), 3),
                         np.round(rng.standard_cauchy(700), 3)))

    # Ties: within and across samples.
    cases.append(ks_case("ties_poisson_300_300", rng.poisson(3, 300).astype(float),
                         rng.poisson(3.4, 300).astype(float)))
    cases.append(ks_case("ties_poisson_250_400", rng.poisson(5, 250).astype(float),
                         rng.poisson(5, 400).astype(float)))
    cases.append(ks_case("ties_two_values", rng.integers(0, 2, 60).astype(float),
                         rng.integers(0, 2, 90).astype(float)))
    cases.append(ks_case("ties_single_value", [7.0] * 10, [7.0] * 3 + [8.0] * 12))
    cases.append(ks_case("ties_round1_1000_800", rnd(1000, dec=1), rnd(800, 0.1, dec=1)))

    # p near 0: disjoint samples (D = 1) and large shifts.
    cases.append(ks_case("disjoint_equal_500", np.arange(500.0), np.arange(500.0) + 1000))
    cases.append(ks_case("disjoint_equal_60", np.arange(60.0), np.arange(60.0) + 100))
    cases.append(ks_case("disjoint_unequal_400_300", np.arange(400.0), np.arange(300.0) + 1000))
    cases.append(ks_case("disjoint_unequal_40_30", np.arange(40.0), np.arange(30.0) - 100))
    cases.append(ks_case("shift_equal_700", rnd(700), rnd(700, 2.0)))
    cases.append(ks_case("shift_unequal_700_600", rnd(700), rnd(600, 2.2)))
    cases.append(ks_case("shift_unequal_1200_1100", rnd(1200), rnd(1100, 3.0)))

    # Explicit methods on small samples.
    cases.append(ks_case("exact_method_unequal", rnd(30), rnd(45, 0.7), "exact"))
    cases.append(ks_case("exact_method_equal", rnd(64), rnd(64, 0.4), "exact"))
    cases.append(ks_case("asymp_method_published_4", np.linspace(1, 100, 100),
                         np.linspace(1, 100, 110) + 20.1, "asymp"))

    # Asymptotic path under method=auto: max(m, n) > 10000.
    cases.append(ks_case("asymp_auto_12000_11000_null", rnd(12000, dec=3), rnd(11000, dec=3)))
    cases.append(ks_case("asymp_auto_12000_11000_prog", prog(0, 1, 12000), prog(300.5, 1, 11000)))
    cases.append(ks_case("asymp_auto_10001_10001_prog", prog(0, 1, 10001), prog(50.25, 1, 10001)))
    cases.append(ks_case("asymp_auto_20000_15000_prog", prog(0, 0.5, 20000),
                         prog(1500.25, 0.75, 15000)))
    cases.append(ks_case("asymp_auto_15000_10001_far", prog(0, 1, 15000), prog(9000.5, 1, 10001)))
    # method=exact with lcm(m, n) >= 2^31: scipy switches to asymp.
    cases.append(ks_case("exact_lcm_too_big", prog(0, 1, 50000), prog(120.5, 1, 49999), "exact"))

    # method=asymp on arithmetic samples chosen to walk _kolmogn's branches: with m == n == 2k
    # the effective n is k and D = s / (2k) for a shift of s.
    for k in [1, 3, 10, 20, 70, 140]:
        nn = 2 * k
        for s in sorted({1, 2, 3, max(1, nn // 8), max(1, nn // 5), max(1, nn // 3),
                         nn // 2, nn - 2, nn - 1, nn}):
            if 1 <= s <= nn:
                cases.append(ks_case(f"asymp_prog_{nn}_shift_{s}", prog(0, 1, nn),
                                     prog(s - 0.5, 1, nn), "asymp"))
    for nn, shifts in [(300, [1, 2, 5, 9, 14, 20, 25, 40, 150, 299]),
                       (1000, [1, 3, 10, 19, 25, 40, 60, 66, 70, 100, 400, 700, 900]),
                       (4000, [5, 30, 80, 130, 200, 3000])]:
        for s in shifts:
            cases.append(ks_case(f"asymp_prog_{nn}_shift_{s}", prog(0, 1, nn),
                                 prog(s - 0.5, 1, nn), "asymp"))
    for m, n in [(37, 91), (500, 333), (2500, 900)]:
        cases.append(ks_case(f"asymp_random_{m}_{n}", rnd(m), rnd(n, 0.25), "asymp"))

    # kstwo.sf(x, n) directly.
    kstwo_pts = []
    ns = [1, 2, 3, 4, 5, 7, 10, 20, 33, 50, 100, 139, 140, 141, 200, 500, 1000, 5000, 20000,
          100000, 100001, 400000, 1000001, 3000000]
    for n in ns:
        xs = {0.5 / n, 0.5 / n * (1 + 1e-12), 0.75 / n, 1.0 / n, 1.5 / n, 2.0 / n,
              (n - 1.0) / n, 0.5, 0.6, 0.9, 0.999, 1.0, 1e-9}
        for nxsq in [0.05, 0.3, 0.7, 0.754, 0.76, 1.0, 1.5, 2.0, 2.19, 2.21, 3.0, 4.0, 4.1,
                     6.0, 10.0, 17.9, 18.1, 50.0, 100.0, 369.0, 371.0, 700.0]:
            xs.add(float(np.sqrt(nxsq / n)))
        if n > 140:
            xs.add(float((1.4 / n) ** (2 / 3)))
            xs.add(float((1.4 / n) ** (2 / 3) * 1.01))
        for x in sorted(xs):
            if not (0 < x <= 1):
                continue
            if n >= 100000 and kolmogn_branch(n, x) == "durbin" and n * x * x > 0.3:
                continue  # a 100-wide matrix power: slow in a Debug build, covered elsewhere
            if slow_smirnov(n, x) and (n > 100001 or x not in (np.sqrt(2.21 / n),
                                                                np.sqrt(50.0 / n))):
                continue
            kstwo_pts.append({"n": n, "x": x, "sf": float(stats.kstwo.sf(x, n)),
                              "branch": kolmogn_branch(n, x)})

    # scipy.special.smirnov(n, x) directly.
    smirnov_pts = []
    for n in [1, 2, 3, 5, 9, 10, 11, 30, 100, 141, 1000, 10000, 100000, 1000000, 1000001]:
        for x in sorted({1e-6, 0.5 / n, 1.0 / n, 1.5 / n, 0.01, 0.05, 0.1, 0.2, 0.3, 0.5,
                         0.7, 0.9, (n - 1.0) / n, 1.0 - 0.5 / n, 1.0, 0.0,
                         float(np.sqrt(1.0 / n)), float(np.sqrt(5.0 / n)),
                         float(np.sqrt(50.0 / n)), float(np.sqrt(300.0 / n))}):
            if 0 <= x <= 1 and not (slow_smirnov(n, x) and (n > 100000 or x != np.sqrt(50.0 / n))):
                smirnov_pts.append({"n": n, "x": x, "sf": float(special.smirnov(n, x))})

    doc = {
        "generator": "tests/oracle/gen_ks.py",
        "versions": {"numpy": np.__version__, "scipy": scipy.__version__},
        "cases": cases,
        "kstwo": kstwo_pts,
        "smirnov": smirnov_pts,
    }
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        json.dump(doc, f, sort_keys=True, separators=(",", ":"), allow_nan=False)
        f.write("\n")


if __name__ == "__main__":
    main()
