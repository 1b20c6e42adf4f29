#!/usr/bin/env python3
"""Oracle for detectors/psi.c: an independent numpy implementation of the same definition.

Edges and counts: binned_oracle.py (numpy's quantile, linspace and histogram_bin_edges; clamp:
         np.histogram over [-inf, *inner edges, +inf], bins closed on the left, so a value equal
         to an edge counts in the bin above it; bin: underflow, np.histogram over the reference
         range, overflow); ties collapse (an edge is kept only if above the previous kept one).
Empty:   "epsilon": a zero proportion is replaced by epsilon (Evidently's rule, no renormalising);
         "laplace": p = (count + 0.5) / (n + 0.5 * B).
PSI:     sum((p_cur - p_ref) * ln(p_cur / p_ref)); drift when psi >= threshold.

The first 29 cases (quantile and uniform binning, clamp) predate the shared binning helper and
are unchanged; the cases after them were added with the doane/sturges binnings and the
out_of_range policy (regenerated deliberately, the earlier cases and samples are identical).

Writes tests/detectors/data/psi.json ("samples": named value lists; "cases": params, the names of
the reference and current samples, expected edges, counts, psi and drift) deterministically (fixed seeds, values rounded to 6 decimals,
floats written with repr so they read back bit-identical).

    /tmp/oracle-venv/bin/python tests/oracle/gen_psi.py [OUT.json]
"""

import json
import pathlib
import sys

import numpy as np

import binned_oracle as bo

assert np.__version__ == "2.4.6", np.__version__

OUT = pathlib.Path(__file__).resolve().parent.parent / "detectors" / "data" / "psi.json"

DEFAULTS = dict(threshold=0.1, bins=10, binning="quantile", empty_bin="epsilon", epsilon=0.0001)
# Added with the shared binning helper; the original cases keep DEFAULTS (clamp implied).
NEW_DEFAULTS = dict(DEFAULTS, out_of_range="clamp")


def psi_oracle(ref, cur, threshold, bins, binning, empty_bin, epsilon, out_of_range="clamp"):
    edges, rc, cc = bo.histogram(ref, cur, binning, bins, out_of_range)
    pr = bo.proportions(rc, len(ref), empty_bin, epsilon)
    pc = bo.proportions(cc, len(cur), empty_bin, epsilon)
    psi = float(np.sum((pc - pr) * np.log(pc / pr)))
    return {
        "edges": edges,
        "ref_counts": [int(x) for x in rc],
        "cur_counts": [int(x) for x in cc],
        "psi": psi,
        "drift": bool(psi >= threshold),
    }


def r6(a):
    return [round(float(x), 6) for x in a]


def main():
    g = np.random.default_rng(20240611)
    samples = {}
    samples["normal_ref"] = r6(g.normal(0.0, 1.0, 1000))
    samples["normal_cur"] = r6(g.normal(0.5, 1.0, 500))
    samples["normal_same"] = r6(g.normal(0.0, 1.0, 700))
    samples["normal_ref_reversed"] = list(reversed(samples["normal_ref"]))
    samples["ties_ref"] = [float(x) for x in g.choice(5, 2000, p=[0.5, 0.2, 0.15, 0.1, 0.05])]
    samples["ties_cur"] = [float(x) for x in g.choice(5, 800, p=[0.3, 0.3, 0.2, 0.1, 0.1])]
    samples["unif_ref"] = r6(g.uniform(0.0, 1.0, 500))
    samples["unif_cur"] = r6(g.uniform(-0.5, 1.5, 500))
    samples["const_ref"] = [3.0] * 200
    samples["const_cur"] = [2.0] * 20 + [3.0] * 150 + [4.0] * 30
    samples["narrow_cur"] = r6(g.normal(3.0, 0.1, 300))
    samples["int_ref"] = [float(v) for v in range(11) for _ in range(10)]
    samples["int_cur"] = [float(x) for x in g.integers(0, 11, 400)] + [1.0, 2.0, 9.0, 10.0]
    samples["many_ref"] = r6(g.normal(0.0, 1.0, 300))
    samples["many_cur"] = r6(g.normal(0.1, 1.2, 300))
    samples["big_ref"] = r6(1e9 + g.normal(0.0, 50.0, 600))
    samples["big_cur"] = r6(1e9 + g.normal(20.0, 50.0, 400))
    samples["logn_ref"] = r6(g.lognormal(0.0, 1.0, 1500))
    samples["logn_cur"] = r6(g.lognormal(0.2, 1.1, 900))
    samples["one_ref"] = [5.0]
    samples["one_cur"] = [4.0, 5.0, 5.0, 6.0]
    samples["two_ref"] = [1.0, 2.0]
    samples["two_cur"] = [0.5, 1.0, 1.2, 1.5, 2.0, 2.5]

    cases = [
        ("shifted_normal", "normal_ref", "normal_cur", {}),
        ("shifted_normal_uniform", "normal_ref", "normal_cur", {"binning": "uniform"}),
        ("shifted_normal_laplace", "normal_ref", "normal_cur", {"empty_bin": "laplace"}),
        ("identical", "normal_ref", "normal_ref_reversed", {}),
        ("identical_laplace", "normal_ref", "normal_ref_reversed", {"empty_bin": "laplace"}),
        ("same_distribution", "normal_ref", "normal_same", {"threshold": 0.25}),
        ("heavy_ties", "ties_ref", "ties_cur", {}),
        ("heavy_ties_laplace", "ties_ref", "ties_cur", {"empty_bin": "laplace", "bins": 20}),
        ("heavy_ties_uniform", "ties_ref", "ties_cur", {"binning": "uniform", "bins": 4}),
        ("out_of_range_uniform", "unif_ref", "unif_cur", {"binning": "uniform"}),
        ("out_of_range_quantile", "unif_ref", "unif_cur", {}),
        ("constant_reference", "const_ref", "const_cur", {}),
        ("constant_reference_uniform", "const_ref", "const_cur", {"binning": "uniform"}),
        ("constant_reference_laplace", "const_ref", "const_cur", {"empty_bin": "laplace"}),
        ("empty_current_bins", "normal_ref", "narrow_cur", {}),
        ("empty_current_bins_eps", "normal_ref", "narrow_cur", {"epsilon": 0.001, "bins": 15}),
        ("empty_current_bins_laplace", "normal_ref", "narrow_cur", {"empty_bin": "laplace"}),
        ("values_on_edges_uniform", "int_ref", "int_cur", {"binning": "uniform"}),
        ("values_on_edges_quantile", "int_ref", "int_cur", {"bins": 5}),
        ("bins_2", "normal_ref", "normal_cur", {"bins": 2}),
        ("bins_3_uniform", "normal_ref", "normal_cur", {"bins": 3, "binning": "uniform"}),
        ("bins_1000", "many_ref", "many_cur", {"bins": 1000, "threshold": 2.0}),
        ("bins_1000_laplace", "many_ref", "many_cur", {"bins": 1000, "empty_bin": "laplace"}),
        ("single_reference_value", "one_ref", "one_cur", {}),
        ("two_reference_values", "two_ref", "two_cur", {}),
        ("large_offset", "big_ref", "big_cur", {"bins": 12}),
        ("large_offset_uniform", "big_ref", "big_cur", {"binning": "uniform", "bins": 7}),
        ("lognormal_20", "logn_ref", "logn_cur", {"bins": 20, "threshold": 0.05}),
        ("threshold_zero", "normal_ref", "normal_cur", {"threshold": 0.0}),
    ]

    new_scenarios = [
        ("shift", "normal_ref", "normal_cur"),
        ("ties", "ties_ref", "ties_cur"),
        ("out_of_range", "unif_ref", "unif_cur"),
        ("constant_ref", "const_ref", "const_cur"),
        ("on_edges", "int_ref", "int_cur"),
        ("lognormal", "logn_ref", "logn_cur"),
        ("one_ref_value", "one_ref", "one_cur"),
        ("two_ref_values", "two_ref", "two_cur"),
    ]
    new_cases = []
    for scen, ref, cur in new_scenarios:
        for b in bo.BINNINGS:
            for o in bo.OUT_OF_RANGE:
                for e in ("epsilon", "laplace"):
                    if o == "clamp" and b in ("quantile", "uniform"):
                        continue  # the original cases cover these
                    new_cases.append((f"{scen}_{b}_{o}_{e}", ref, cur,
                                      {"binning": b, "out_of_range": o, "empty_bin": e}))

    out = []
    for name, ref, cur, overrides in cases + new_cases:
        params = dict(DEFAULTS if len(out) < len(cases) else NEW_DEFAULTS, **overrides)
        res = psi_oracle(samples[ref], samples[cur], **params)
        out.append(dict(name=name, params=params, ref=ref, cur=cur, **res))

    by = {c["name"]: c for c in out}
    assert by["identical"]["psi"] == 0.0
    assert len(by["constant_reference"]["edges"]) == 1
    assert len(by["heavy_ties"]["edges"]) < 9
    assert by["shifted_normal"]["drift"]

    out_path = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else OUT
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with open(out_path, "w") as f:
        json.dump({"generator": "tests/oracle/gen_psi.py", "numpy": np.__version__,
                   "samples": samples, "cases": out}, f, separators=(",", ":"))
        f.write("\n")
    for c in out:
        print(f"{c['name']:28s} bins={len(c['edges']) + 1:4d} psi={c['psi']:.6g} "
              f"drift={c['drift']}")


if __name__ == "__main__":
    main()
