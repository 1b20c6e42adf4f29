#!/usr/bin/env python3
"""Oracle for detectors/js.c: scipy.spatial.distance.jensenshannon over the histogram of
binned_oracle.py (numpy edges and counts).

Score: jensenshannon(p_ref, p_cur, base=None or 2) of the empty-bin policy's proportions (scipy
normalises them itself): the distance, sqrt of the divergence. Drift when score >= threshold.

Besides the scenario x binning x out_of_range x empty_bin grid this checks, without storing
anything, that with empty_bin none, binning doane, out_of_range bin and base 2 the score equals
NannyML's continuous jensen_shannon (histogram over the Doane edges plus one "leftover" bin for
the window mass outside them), and that the score matches the divergence written out by hand.

Writes tests/detectors/data/js.json deterministically.

    /tmp/oracle-venv/bin/python tests/oracle/gen_js.py [OUT.json]
"""

import pathlib
import sys

import numpy as np
import scipy
from scipy.spatial.distance import jensenshannon
from scipy.special import rel_entr

import binned_oracle as bo

assert scipy.__version__ == "1.17.1", scipy.__version__

OUT = pathlib.Path(__file__).resolve().parent.parent / "detectors" / "data" / "js.json"

DEFAULTS = dict(threshold=0.1, base="e", bins=10, binning="quantile", out_of_range="clamp",
                empty_bin="none", epsilon=0.0001)
EMPTIES = ("none", "epsilon", "laplace")


def score(pr, pc, params):
    d = jensenshannon(pr, pc, base=None if params["base"] == "e" else 2)
    assert not np.isnan(d)
    return d


def nannyml_js(ref, cur):
    """NannyML's JensenShannonDistance for continuous data, written out."""
    ref = np.asarray(ref, dtype=np.float64)
    cur = np.asarray(cur, dtype=np.float64)
    edges = np.histogram_bin_edges(ref, bins="doane")
    p_ref = np.histogram(ref, bins=edges)[0] / len(ref)
    p_cur = np.histogram(cur, bins=edges)[0] / len(cur)
    leftover = 1 - np.sum(p_cur)
    if leftover > 0:
        p_cur = np.append(p_cur, leftover)
        p_ref = np.append(p_ref, 0)
    return jensenshannon(p_ref, p_cur, base=2)


def checks(name, params, ref, cur, pr, pc, s):
    p, q = bo.normalised(pr), bo.normalised(pc)
    m = (p + q) / 2
    by_hand = np.sqrt((np.sum(rel_entr(p, m)) + np.sum(rel_entr(q, m))) / 2
                      / (1.0 if params["base"] == "e" else np.log(2)))
    assert abs(by_hand - s) <= 1e-12 * max(s, 1e-300) or by_hand == s, (name, by_hand, s)
    if (params["binning"], params["out_of_range"], params["empty_bin"], params["base"]) == \
            ("doane", "bin", "none", "2"):
        nm = nannyml_js(ref, cur)
        # NannyML's leftover is 1 - sum of rounded proportions: equal up to rounding.
        assert abs(nm - s) <= 1e-7, (name, nm, s)


def main():
    extra = [
        ("shifted_normal_base2", "normal_ref", "normal_cur", {"base": "2"}),
        ("identical_base2", "normal_ref", "normal_ref_reversed", {"base": "2"}),
        ("all_above_base2_bin", "unif_ref", "above_cur", {"base": "2", "out_of_range": "bin"}),
        ("ties_laplace_bins20", "ties_ref", "ties_cur", {"empty_bin": "laplace", "bins": 20}),
        ("bins_2", "normal_ref", "normal_cur", {"bins": 2}),
        ("bins_3_uniform_bin", "normal_ref", "normal_cur",
         {"bins": 3, "binning": "uniform", "out_of_range": "bin"}),
        ("bins_1000", "many_ref", "many_cur", {"bins": 1000, "threshold": 0.5}),
        ("bins_1000_bin_eps", "many_ref", "many_cur",
         {"bins": 1000, "out_of_range": "bin", "empty_bin": "epsilon", "epsilon": 0.01}),
        ("epsilon_1", "normal_ref", "narrow_cur", {"empty_bin": "epsilon", "epsilon": 1.0}),
        ("threshold_zero", "normal_ref", "normal_same", {"threshold": 0.0}),
        ("threshold_high", "normal_ref", "normal_cur", {"threshold": 0.5}),
    ]
    for scen, ref, cur in bo.SCENARIOS:
        extra.append((f"{scen}_nannyml", ref, cur, {"base": "2", "binning": "doane",
                                                    "out_of_range": "bin", "empty_bin": "none"}))
    smp, cases = bo.build(score, EMPTIES, DEFAULTS, extra, checks)
    by = {c["name"]: c for c in cases}
    assert by["identical_quantile_clamp_none"]["score"] == 0.0
    assert by["shifted_normal"]["drift"]
    assert abs(by["all_above_base2_bin"]["score"] - 1.0) < 1e-15
    out = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else OUT
    bo.write(out, "tests/oracle/gen_js.py",
             {"numpy": np.__version__, "scipy": scipy.__version__}, smp, cases)


if __name__ == "__main__":
    main()
