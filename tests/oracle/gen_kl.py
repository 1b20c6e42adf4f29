#!/usr/bin/env python3
"""Oracle for detectors/kl.c: scipy.stats.entropy(p_ref, p_cur) (Evidently's kl_div call) over
the histogram of binned_oracle.py (numpy edges and counts).

Score: D(ref || cur) = entropy(pk=p_ref, qk=p_cur) of the empty-bin policy's proportions (scipy
normalises both), natural log. Drift when score >= threshold.

Besides the scenario x binning x out_of_range x empty_bin grid this checks, without storing
anything, that the score equals sum(rel_entr(p, q)) of the normalised proportions, and that it
equals Evidently's _kl_div arithmetic (zero proportions replaced by 0.0001, then entropy) on
the cases where Evidently's adaptive epsilon does not kick in.

Writes tests/detectors/data/kl.json deterministically.

    /tmp/oracle-venv/bin/python tests/oracle/gen_kl.py [OUT.json]
"""

import pathlib
import sys

import numpy as np
import scipy
from scipy.special import rel_entr
from scipy.stats import entropy

import binned_oracle as bo

assert scipy.__version__ == "1.17.1", scipy.__version__

OUT = pathlib.Path(__file__).resolve().parent.parent / "detectors" / "data" / "kl.json"

DEFAULTS = dict(threshold=0.1, bins=10, binning="quantile", out_of_range="clamp",
                empty_bin="epsilon", epsilon=0.0001)
EMPTIES = ("epsilon", "laplace")


def score(pr, pc, params):
    return entropy(pr, pc)


def evidently_kl(rc, cc, n_ref, n_cur):
    """Evidently's get_binned_data(feel_zeroes=True) + stats.entropy, given the counts."""
    ref = np.asarray(rc) / n_ref
    cur = np.asarray(cc) / n_cur
    for a in (ref, cur):
        lo = min(a[a != 0])
        np.place(a, a == 0, lo / 10**6 if lo <= 0.0001 else 0.0001)
    return entropy(ref, cur)


def checks(name, params, ref, cur, pr, pc, s):
    p, q = bo.normalised(pr), bo.normalised(pc)
    by_hand = np.sum(rel_entr(p, q))
    assert abs(by_hand - s) <= 1e-12 * abs(s) or by_hand == s, (name, by_hand, s)
    if params["empty_bin"] == "epsilon" and params["epsilon"] == 0.0001:
        nonzero = [x for x in list(pr) + list(pc) if x != 0.0001]
        if min(nonzero) > 0.0001:
            rc = np.where(pr == 0.0001, 0, pr * len(ref))
            cc = np.where(pc == 0.0001, 0, pc * len(cur))
            ev = evidently_kl(np.round(rc), np.round(cc), len(ref), len(cur))
            assert abs(ev - s) <= 1e-12 * abs(s) or ev == s, (name, ev, s)


def main():
    extra = [
        ("ties_laplace_bins20", "ties_ref", "ties_cur", {"empty_bin": "laplace", "bins": 20}),
        ("bins_2", "normal_ref", "normal_cur", {"bins": 2}),
        ("bins_3_uniform_bin", "normal_ref", "normal_cur",
         {"bins": 3, "binning": "uniform", "out_of_range": "bin"}),
        ("bins_1000", "many_ref", "many_cur", {"bins": 1000, "threshold": 2.0}),
        ("bins_1000_bin_laplace", "many_ref", "many_cur",
         {"bins": 1000, "out_of_range": "bin", "empty_bin": "laplace"}),
        ("epsilon_small", "normal_ref", "narrow_cur", {"epsilon": 1e-9}),
        ("epsilon_1", "normal_ref", "narrow_cur", {"epsilon": 1.0}),
        ("threshold_zero", "normal_ref", "normal_same", {"threshold": 0.0}),
        ("threshold_high", "normal_ref", "normal_cur", {"threshold": 5.0}),
    ]
    smp, cases = bo.build(score, EMPTIES, DEFAULTS, extra, checks)
    by = {c["name"]: c for c in cases}
    assert by["identical_quantile_clamp_epsilon"]["score"] == 0.0
    assert by["shifted_normal"]["drift"]
    out = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else OUT
    bo.write(out, "tests/oracle/gen_kl.py",
             {"numpy": np.__version__, "scipy": scipy.__version__}, smp, cases)


if __name__ == "__main__":
    main()
