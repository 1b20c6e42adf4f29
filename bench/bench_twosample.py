#!/usr/bin/env python3
"""scipy's time for the evaluations bench_twosample.c measures, on the same data: milliseconds
per call of the scipy function the detector reproduces (the best of a few repetitions).
usage: bench_twosample.py (with the oracle venv's python)"""
import time
import warnings

import numpy as np
from scipy import stats


def val(i):
    z = (i + np.uint64(1)) * np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * 2.0 ** -53


def wasserstein(x, y):
    return stats.wasserstein_distance(x, y) / max(np.std(x), 0.001)


FUNCS = {
    "ks": lambda x, y: stats.ks_2samp(x, y).pvalue,
    "anderson": lambda x, y: stats.anderson_ksamp([x, y], variant="midrank").pvalue,
    "cvm": lambda x, y: stats.cramervonmises_2samp(x, y).pvalue,
    "mannwhitney": lambda x, y: stats.mannwhitneyu(x, y).pvalue,
    "wasserstein": wasserstein,
    "energy": stats.energy_distance,
}


def main():
    warnings.simplefilter("ignore")
    with np.errstate(over="ignore"):
        for name, f in FUNCS.items():
            sizes = [(1000, 1000), (10000, 10000), (100000, 100000)]
            if name == "mannwhitney":
                sizes.append((10000, 8))
            for m, n in sizes:
                x = val(np.arange(m, dtype=np.uint64))
                y = val(np.arange(m, m + n, dtype=np.uint64)) + 0.01
                reps = 3 if m * n > 1e9 else 10
                best = float("inf")
                for _ in range(reps):
                    t0 = time.perf_counter()
                    r = f(x, y)
                    best = min(best, time.perf_counter() - t0)
                print(f"{name:12s} {m:7d} x {n:<7d} scipy {best * 1e3:10.3f} ms   result {r:.6g}")


if __name__ == "__main__":
    main()
