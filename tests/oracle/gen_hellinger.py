#!/usr/bin/env python3
"""Oracle for detectors/hellinger.c: the Hellinger distance over the histogram of
binned_oracle.py (numpy edges and counts).

Score: with p, q the empty-bin policy's proportions each divided by its sum,
H = scipy.spatial.distance.euclidean(sqrt p, sqrt q) / sqrt 2 (whylogs' expression), in [0, 1].
Drift when score >= threshold.

Besides the scenario x binning x out_of_range x empty_bin grid this checks, without storing
anything, that H agrees with sqrt(1 - sum sqrt(p q)) (Evidently's form, which loses digits for
close histograms) to 1e-7, and that with empty_bin none, binning doane and out_of_range bin it
equals NannyML's continuous hellinger (Doane edges plus one "leftover" bin).

Writes tests/detectors/data/hellinger.json deterministically.

    /tmp/oracle-venv/bin/python tests/oracle/gen_hellinger.py [OUT.json]
"""

import pathlib
import sys

import numpy as np
import scipy
from scipy.spatial.distance import euclidean

import binned_oracle as bo

assert scipy.__version__ == "1.17.1", scipy.__version__

OUT = pathlib.Path(__file__).resolve().parent.parent / "detectors" / "data" / "hellinger.json"

DEFAULTS = dict(threshold=0.1, bins=10, binning="quantile", out_of_range="clamp",
                empty_bin="none", epsilon=0.0001)
EMPTIES = ("none", "epsilon", "laplace")


def score(pr, pc, params):
    p, q = bo.normalised(pr), bo.normalised(pc)
    return euclidean(np.sqrt(p), np.sqrt(q)) / np.sqrt(2)


def nannyml_hellinger(ref, cur):
    """NannyML's HellingerDistance for continuous data, written out."""
    ref = np.asarray(ref, dtype=np.float64)
    cur = np.asarray(cur, dtype=np.float64)
    edges = np.histogram_bin_edges(ref, bins="doane")
    p_ref = np.histogram(ref, bins=edges)[0] / len(ref)
    p_cur = np.histogram(cur, bins=edges)[0] / len(cur)
    leftover = 1 - np.sum(p_cur)
    if leftover > 0:
        p_cur = np.append(p_cur, leftover)
        p_ref = np.append(p_ref, 0)
    return np.sqrt(np.sum((np.sqrt(p_ref) - np.sqrt(p_cur)) ** 2)) / np.sqrt(2)


def checks(name, params, ref, cur, pr, pc, s):
    p, q = bo.normalised(pr), bo.normalised(pc)
    bc = np.sqrt(1 - np.clip(np.sum(np.sqrt(p * q)), 0, 1))
    assert abs(bc - s) <= 1e-7, (name, bc, s)
    if (params["binning"], params["out_of_range"], params["empty_bin"]) == \
            ("doane", "bin", "none"):
        nm = nannyml_hellinger(ref, cur)
        assert abs(nm - s) <= 1e-7, (name, nm, s)


def main():
    extra = [
        ("ties_laplace_bins20", "ties_ref", "ties_cur", {"empty_bin": "laplace", "bins": 20}),
        ("bins_2", "normal_ref", "normal_cur", {"bins": 2}),
        ("bins_3_uniform_bin", "normal_ref", "normal_cur",
         {"bins": 3, "binning": "uniform", "out_of_range": "bin"}),
        ("bins_1000", "many_ref", "many_cur", {"bins": 1000, "threshold": 0.5}),
        ("bins_1000_bin_eps", "many_ref", "many_cur",
         {"bins": 1000, "out_of_range": "bin", "empty_bin": "epsilon", "epsilon": 0.01}),
        ("epsilon_1", "normal_ref", "narrow_cur", {"empty_bin": "epsilon", "epsilon": 1.0}),
        ("whylogs_drift_band", "normal_ref", "normal_cur", {"threshold": 0.4}),
        ("whylogs_drift_band_above", "unif_ref", "above_cur", {"threshold": 0.4}),
        ("threshold_zero", "normal_ref", "normal_same", {"threshold": 0.0}),
    ]
    smp, cases = bo.build(score, EMPTIES, DEFAULTS, extra, checks)
    by = {c["name"]: c for c in cases}
    assert by["identical_quantile_clamp_none"]["score"] == 0.0
    assert by["shifted_normal"]["drift"]
    assert by["all_above_quantile_bin_none"]["score"] == 1.0
    out = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else OUT
    bo.write(out, "tests/oracle/gen_hellinger.py",
             {"numpy": np.__version__, "scipy": scipy.__version__}, smp, cases)


if __name__ == "__main__":
    main()
