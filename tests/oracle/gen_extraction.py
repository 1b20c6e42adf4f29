#!/usr/bin/env python3
"""Oracle for the Shapiro-Wilk W in detectors/secutil.c (used by detectors/extraction.c, PRADA):
scipy.stats.shapiro on samples of several sizes and shapes (normal, uniform, exponential,
bimodal, with ties, tiny n 3..6 where AS R94 has special cases, up to n 5000). The C test
compares W to 5e-9 relative: the same algorithm (AS R94), but scipy's swilk takes the normal
quantiles from AS 241 PPND7 (about 7 digits) where the C code uses GSL's full-precision
quantile, and scipy accumulates a correlation where the C code sums a (x_(n+1-i) - x_(i));
the largest difference seen is 8e-10.

Also one PRADA stream: a benign client (Gaussian queries) and an extraction-like client (seed
samples plus stepwise sign perturbations), with the W scipy gives for each full window of
minimum distances, so the C test can check the detector's own distances and W, not only the
helper.

    /tmp/oracle-venv/bin/python tests/oracle/gen_extraction.py [OUT.json]
"""

import json
import pathlib
import sys

import numpy as np
import scipy
from scipy import stats

OUT = pathlib.Path(__file__).resolve().parent.parent / "detectors" / "data" / "extraction.json"


def samples():
    rng = np.random.default_rng(20261127)
    out = []
    for n in (3, 4, 5, 6, 7, 11, 20, 50, 100, 500):
        out.append(("normal", rng.normal(size=n)))
        out.append(("uniform", rng.uniform(size=n)))
        out.append(("exponential", rng.exponential(size=n)))
    out.append(("normal", rng.normal(size=5000)))  # the largest n AS R94 covers
    for n in (8, 50, 200):
        out.append(("bimodal", np.concatenate([rng.normal(0, 1, n // 2), rng.normal(6, 1, n - n // 2)])))
        out.append(("ties", np.round(rng.normal(size=n), 1)))
    out.append(("shifted", rng.normal(1e6, 1, 60)))
    return out


def prada(queries, history, window, every):
    hist, ds, ws = [], [], []
    for q in queries:
        if hist:
            h = np.array(hist[-history:])
            ds.append(float(np.sqrt(((h - q) ** 2).sum(axis=1)).min()))
            if len(ds) >= window and len(ds) % every == 0:
                ws.append(float(stats.shapiro(ds[-window:]).statistic))
        hist.append(q)
    return ws


def attack(rng, n, dim):
    out = []
    while len(out) < n:
        x = rng.normal(size=dim)
        out.append(x.copy())
        for _ in range(6):
            x = x + 0.1 * np.sign(rng.normal(size=dim))
            out.append(x.copy())
    return np.array(out[:n])


def main():
    out = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else OUT
    cases = []
    for kind, x in samples():
        w = float(stats.shapiro(x).statistic)
        cases.append({"kind": kind, "x": [float(v) for v in x], "w": w})
    rng = np.random.default_rng(7)
    dim, history, window, every = 8, 64, 50, 5
    benign = rng.normal(size=(300, dim))
    bad = attack(rng, 300, dim)
    streams = {
        "params": {"history": history, "window": window, "every": every},
        "benign": {"queries": benign.tolist(), "w": prada(benign, history, window, every)},
        "attack": {"queries": bad.tolist(), "w": prada(bad, history, window, every)},
    }
    out.write_text(json.dumps({"scipy": scipy.__version__,
                               "cases": cases, "prada": streams}) + "\n")


if __name__ == "__main__":
    main()
