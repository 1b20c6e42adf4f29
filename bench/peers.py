#!/usr/bin/env python3
"""Peers run side by side with bench_detectors.c, on the same kind of data: River's detectors
(ns per update) and the scipy functions driftd's two-sample and categorical detectors
reproduce (time per evaluation, reference = window = 1k / 10k / 100k). Prints lines with the
same keys as bench_detectors ("NAME.update 123 ns (peer)") for bench/run.py to pair up."""
import random
import time
import warnings

import numpy as np
from river import drift
from river.drift import binary
from scipy import stats

RIVER = {
    "page_hinkley": (drift.PageHinkley, False),
    "adwin": (drift.ADWIN, False),
    "kswin": (lambda: drift.KSWIN(seed=1), False),
    "ddm": (binary.DDM, True),
    "eddm": (binary.EDDM, True),
    "hddm_a": (binary.HDDM_A if hasattr(binary, "HDDM_A") else binary.HDDMA, True),
    "hddm_w": (binary.HDDM_W if hasattr(binary, "HDDM_W") else binary.HDDMW, True),
}

SCIPY = {
    "ks": lambda x, y: stats.ks_2samp(x, y).pvalue,
    "anderson": lambda x, y: stats.anderson_ksamp([x, y], variant="midrank").pvalue,
    "cvm": lambda x, y: stats.cramervonmises_2samp(x, y).pvalue,
    "mannwhitney": lambda x, y: stats.mannwhitneyu(x, y).pvalue,
    "wasserstein": lambda x, y: stats.wasserstein_distance(x, y) / max(np.std(x), 0.001),
    "energy": stats.energy_distance,
}


def river(name, make, binary_stream):
    rng = random.Random(1)
    n = 20000 if name == "kswin" else 300000
    xs = [(rng.random() < 0.1) if binary_stream else rng.random() for _ in range(n)]
    d = make()
    t0 = time.perf_counter()
    for x in xs:
        d.update(x)
        _ = d.drift_detected
    dt = time.perf_counter() - t0
    print(f"{name}.update {dt / n * 1e9:.1f} ns (River {d.__class__.__name__})", flush=True)


def scipy_eval(name, f, n):
    rng = np.random.default_rng(1)
    x = rng.random(n)
    reps = 5 if n <= 10000 else 1
    best = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(reps):
            y = rng.random(n)
            t0 = time.perf_counter()
            f(x, y)
            dt = time.perf_counter() - t0
            best = dt if best is None or dt < best else best
    print(f"{name}.evaluate_{n} {best * 1e6:.1f} us (scipy)", flush=True)


def chi2(n):
    rng = np.random.default_rng(1)
    cats = 20
    a = np.bincount(rng.integers(0, cats, n), minlength=cats)
    t0 = time.perf_counter()
    for _ in range(20):
        b = np.bincount(rng.integers(0, cats, n), minlength=cats)
        stats.chi2_contingency(np.vstack([a, b]))
    print(f"chi2.evaluate_{n} {(time.perf_counter() - t0) / 20 * 1e6:.1f} us "
          f"(scipy chi2_contingency on counts, counting excluded)", flush=True)


if __name__ == "__main__":
    for name, (make, b) in RIVER.items():
        river(name, make, b)
    for n in (1000, 10000, 100000):
        for name, f in SCIPY.items():
            if name == "mannwhitney" and n > 10000:
                continue  # scipy's exact/asymptotic choice makes 100k impractically slow
            scipy_eval(name, f, n)
        chi2(n)
