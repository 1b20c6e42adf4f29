#!/usr/bin/env python3
"""Peers run side by side with driftd's benchmarks: River's PageHinkley (per update) and
scipy's ks_2samp (per window), on the same kind of data as bench_detectors.c. Prints
"name value unit" lines."""
import random
import time

import numpy as np
from river.drift import PageHinkley
from scipy.stats import ks_2samp


def river_ph(n=1_000_000):
    rng = random.Random(1)
    xs = [rng.random() for _ in range(n)]
    ph = PageHinkley()
    t0 = time.perf_counter()
    d = 0
    for x in xs:
        ph.update(x)
        d += ph.drift_detected
    dt = time.perf_counter() - t0
    print(f"river_page_hinkley_update {dt / n * 1e9:.2f} ns (drifts {d})")


def scipy_ks(ref_n, win_n, reps, shift=0.0):
    rng = np.random.default_rng(1)
    ref = rng.random(ref_n)
    t = 0.0
    for _ in range(reps):
        win = rng.random(win_n) + shift
        t0 = time.perf_counter()
        ks_2samp(ref, win)
        t += time.perf_counter() - t0
    tag = "_shifted" if shift else ""
    print(f"scipy_ks_2samp_{ref_n}x{win_n}{tag} {t / reps * 1e6:.1f} us")


if __name__ == "__main__":
    river_ph()
    scipy_ks(5000, 5000, 50)
    scipy_ks(5000, 5000, 20, 0.3)
    scipy_ks(5000, 1000, 20)
