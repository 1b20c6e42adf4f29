#!/usr/bin/env python3
"""Oracle for the categorical detectors (detectors/chi2.c, ztest.c, tvd.c, new_category.c over
the category table of detectors/categories.c), written independently from the C.

Categories: a bool is (0, False/True), a number (1, float value) with -0.0 == 0.0 and 1 == 1.0,
a string (2, its UTF-8 bytes); types never mix. Reference categories are ranked by count
descending, ties by (type, value), strings bytewise on their first max_length bytes, then by
full length (the generator refuses data whose ranking would need the C side's hash tie-break).
The first max_categories are kept; the rest form the "other" column; window values that are not
reference categories form the "unseen" column. The table is kept..., other, unseen.

chi2:          scipy.stats.chi2_contingency(2 x C table, correction) after dropping the columns
               that are empty in both rows (scipy refuses zero expected counts).
ztest:         Evidently's proportions_diff_z_stat_ind arithmetic for the share of the top-ranked
               reference category; p = 2 * scipy.stats.norm.sf(|z|); z = 0, p = 1 when every
               value is that category. For two categories the p-value is also checked against
               Evidently's choice (first category in sort order).
tvd:           0.5 * np.sum(np.abs(ref / n_ref - win / n_win)) over the whole table.
new_category:  unseen / n_win, drift when above the threshold.

Samples are lists of [value, count] pairs (the tests feed them interleaved); cases name a
detector, its params, the samples, and hold the expected table, kept categories and verdict.
Writes tests/detectors/data/categorical.json deterministically (fixed seeds; floats written with
repr so they read back bit-identical).

    /tmp/oracle-venv/bin/python tests/oracle/gen_categorical.py [OUT.json]
"""

import json
import math
import pathlib
import sys
from collections import Counter

import numpy as np
import scipy
from scipy.stats import chi2_contingency, norm

assert scipy.__version__ == "1.17.1", scipy.__version__
assert np.__version__ == "2.4.6", np.__version__

OUT = pathlib.Path(__file__).resolve().parent.parent / "detectors" / "data" / "categorical.json"

COMMON = dict(max_categories=64, max_length=64)
DEFAULTS = {
    "chi2": dict(alpha=0.05, correction=True, **COMMON),
    "ztest": dict(alpha=0.05, **COMMON),
    "tvd": dict(threshold=0.1, **COMMON),
    "new_category": dict(threshold=0.01, **COMMON),
}


# Window shifts of the 4 x 25000 and 2 x 50000 references: p from 1e-2 down to the smallest
# normal doubles, subnormals and underflow (scipy gives 0 below about 1e-311 here).
EXT = [632, 4427, 6198, 6831, 7021, 7060, 7100, 7130, 7160, 20000]
EXT_BIN = [474, 5376, 6135, 18974]


def ident(v):
    if isinstance(v, bool):
        return (0, v)
    if isinstance(v, (int, float)):
        x = float(v)
        assert math.isfinite(x)
        return (1, 0.0 if x == 0 else x)
    assert isinstance(v, str)
    return (2, v.encode("utf-8"))


def order_key(k, max_length):
    tag, val = k
    if tag == 2:
        return (tag, val[:max_length], len(val))
    return (tag, val)


def table(ref, cur, max_categories, max_length):
    """Columns kept..., other, unseen; returns (kept idents, ref row, window row)."""
    cnt = Counter()
    for v, c in ref:
        cnt[ident(v)] += c
    ranked = sorted(cnt.items(), key=lambda kv: (-kv[1], order_key(kv[0], max_length)))
    for (a, ca), (b, cb) in zip(ranked, ranked[1:]):
        assert (ca, order_key(a, max_length)) != (cb, order_key(b, max_length)), (a, b)
    kept = ranked[:max_categories]
    others = {k for k, _ in ranked[max_categories:]}
    col = {k: i for i, (k, _) in enumerate(kept)}
    nk = len(kept)
    ref_row = [c for _, c in kept] + [sum(c for _, c in ranked[max_categories:]), 0]
    win_row = [0] * (nk + 2)
    for v, c in cur:
        k = ident(v)
        win_row[col.get(k, nk if k in others else nk + 1)] += c
    return [k for k, _ in kept], ref_row, win_row


def z_share(c1, n1, c2, n2):
    """Evidently's z statistic for shares c1/n1 and c2/n2, in its arithmetic."""
    p1 = float(c1) / n1
    p2 = float(c2) / n2
    P = float(p1 * n1 + p2 * n2) / (n1 + n2)
    return (p1 - p2) / np.sqrt(P * (1 - P) * (1.0 / n1 + 1.0 / n2))


def evaluate(det, p, ref, cur):
    kept, rr, wr = table(ref, cur, p["max_categories"], p["max_length"])
    n1, n2 = sum(rr), sum(wr)
    out = dict(kept=[encode_ident(k) for k in kept], ref_row=rr, win_row=wr)
    if det == "chi2":
        cols = [j for j in range(len(rr)) if rr[j] or wr[j]]
        obs = np.array([[rr[j] for j in cols], [wr[j] for j in cols]], dtype=np.int64)
        res = chi2_contingency(obs, correction=p["correction"])
        out.update(score=float(res.statistic), p=float(res.pvalue), df=int(res.dof),
                   drift=bool(res.pvalue < p["alpha"]))
    elif det == "ztest":
        c1, c2 = rr[0], wr[0]
        if c1 == n1 and c2 == n2:
            z, pv = 0.0, 1.0
        else:
            z = float(z_share(c1, n1, c2, n2))
            pv = float(2 * norm.sf(abs(z)))
            if len(kept) == 2 and rr[-2] == 0 and wr[-1] == 0 and wr[-2] == 0:
                # Evidently tests the first category in sort order (as "not that category"):
                # for two categories the same |z|.
                first = 0 if order_key(kept[0], 64) < order_key(kept[1], 64) else 1
                ze = float(z_share(n1 - rr[first], n1, n2 - wr[first], n2))
                pe = float(2 * norm.sf(abs(ze)))
                assert abs(pe - pv) <= 1e-12 * pv, (pe, pv)
        out.update(score=z, p=pv, drift=bool(pv < p["alpha"]))
    elif det == "tvd":
        pr = np.array(rr, dtype=np.float64) / n1
        pw = np.array(wr, dtype=np.float64) / n2
        d = float(0.5 * np.sum(np.abs(pr - pw)))
        out.update(score=d, p=None, drift=bool(d >= p["threshold"]))
    elif det == "new_category":
        s = wr[-1] / n2
        out.update(score=s, p=None, drift=bool(s > p["threshold"]))
    return out


def encode_ident(k):
    """A kept category for the JSON: [type, value], strings as their bytes in hex."""
    tag, val = k
    if tag == 0:
        return [3, bool(val)]  # enum driftd_value_type: BOOL = 3
    if tag == 1:
        return [1, val]  # NUMBER = 1
    return [2, val.hex()]  # STRING = 2


def pairs(names, counts):
    return [[n, int(c)] for n, c in zip(names, counts) if c > 0]


def multinomial(g, names, probs, n):
    return pairs(names, g.multinomial(n, probs))


def main():
    g = np.random.default_rng(20240612)
    S = {}

    # scipy/driftd published check (docs): homogeneity on the 2 x 6 table.
    S["pub_ref"] = pairs([1, 2, 3, 4, 5, 6], [16, 18, 16, 14, 12, 12])
    S["pub_cur"] = pairs([1, 2, 3, 4, 5, 6], [16, 16, 16, 16, 16, 8])

    # Random multinomials over K named categories, reference vs. a perturbed window.
    for k, n_ref, n_cur, shift in [(3, 300, 200, 0.0), (5, 1000, 500, 0.3), (10, 2000, 1000, 0.1),
                                   (30, 5000, 3000, 0.05), (100, 20000, 5000, 0.02),
                                   (300, 30000, 10000, 0.0), (1500, 60000, 30000, 0.01)]:
        names = [f"cat{i:04d}" for i in range(k)]
        pr = g.dirichlet(np.full(k, 2.0))
        pc = pr * np.exp(shift * g.normal(0, 3, k))
        pc /= pc.sum()
        S[f"k{k}_ref"] = multinomial(g, names, pr, n_ref)
        S[f"k{k}_cur"] = multinomial(g, names, pc, n_cur)
        S[f"k{k}_same"] = multinomial(g, names, pr, n_cur)

    # Unseen categories in the window, and reference categories vanishing from it.
    names = [f"v{i}" for i in range(8)]
    S["u_ref"] = multinomial(g, names, np.full(8, 1 / 8), 800)
    S["u_cur_new"] = S["u_ref"][:6] + [["brand-new", 40], ["other-new", 3], ["v8", 1]]
    S["u_cur_vanish"] = [p for p in S["u_ref"] if p[0] in ("v0", "v1", "v2")]
    S["u_cur_only_new"] = [["x", 5], ["y", 7]]

    # Two categories (df = 1, Yates), including cells within 0.5 of their expectation.
    S["b_ref"] = pairs(["yes", "no"], [60, 40])
    S["b_cur"] = pairs(["yes", "no"], [45, 55])
    S["b_near"] = pairs(["yes", "no"], [61, 40])  # |E - O| < 0.5 in every cell
    S["b_small_ref"] = pairs(["a", "b"], [3, 1])
    S["b_small_cur"] = pairs(["a", "b"], [1, 4])
    S["bool_ref"] = pairs([True, False], [700, 300])
    S["bool_cur"] = pairs([True, False], [640, 360])
    S["bool_cur_flip"] = pairs([False, True], [900, 100])
    S["num01_ref"] = pairs([0, 1], [250, 750])
    S["num01_cur"] = pairs([0.0, 1.0, -0.0], [100, 200, 200])
    S["tie_ref"] = pairs(["b", "a"], [50, 50])  # tested category: "a" (tie, smaller)
    S["tie_cur"] = pairs(["a", "b"], [30, 70])

    # A constant reference: one column (df = 0) or, with unseen values, two (df = 1).
    S["const_ref"] = [["a", 100]]
    S["const_cur"] = [["a", 37]]
    S["const_cur_new"] = [["a", 30], ["zzz", 7]]
    S["const_cur_allnew"] = [["q", 12]]

    # Types never mix; numbers are values (1 == 1.0, -0 == 0); bools apart from 0/1.
    S["mix_ref"] = [["1", 30], [1, 20], [1.0, 15], [True, 25], ["true", 10], [0.0, 12],
                    [-0.0, 6], [False, 9], ["", 4], [2.5, 11], [-7.25, 3], [1e300, 2],
                    [5e-324, 2], ["ünïcödé", 8], ["Z", 8], ["a", 8], ["é", 5]]
    S["mix_cur"] = [["1", 10], [1.0, 60], [True, 5], ["true", 20], [0, 20], ["", 9],
                    [2.5, 1], [3.5, 4], ["ünïcödé", 2], ["False", 6], [False, 1], ["Z", 3]]

    # Ties everywhere (counts equal): kept by (type, value) order under small bounds.
    S["ties_ref"] = [[s, 10] for s in ["m", "b", "k", "a", "z", "c"]] + [[3, 10], [False, 10]]
    S["ties_cur"] = [[s, 9] for s in ["a", "b", "c", "z"]] + [[3, 4], ["n", 6], [False, 30]]

    # Overflow beyond max_categories: long tail in the reference; the window hits the tail
    # (other, not unseen) and new values.
    names = [f"t{i:03d}" for i in range(200)]
    tail = np.array([1.0 / (i + 1) ** 1.1 for i in range(200)])
    S["tail_ref"] = multinomial(g, names, tail / tail.sum(), 4000)
    S["tail_cur"] = multinomial(g, names, tail[::-1] / tail.sum(), 1500) + [["fresh", 30]]

    # Long strings under max_length 8: shared prefixes, different lengths and tails.
    S["long_ref"] = [["prefix__one", 40], ["prefix__two", 30], ["prefix__", 20],
                     ["prefix__one_longer", 10], ["short", 25], ["prefix__onf", 5]]
    S["long_cur"] = [["prefix__one", 10], ["prefix__two", 60], ["prefix__", 20],
                     ["prefix__one_longer", 2], ["prefix__onX", 9], ["short", 1]]

    # Strong drift with many values: p-values deep in the tail, down to the smallest normal
    # double, and beyond it (scipy then underflows to 0).
    n = 25000
    S["ext_ref"] = pairs(["a", "b", "c", "d"], [n] * 4)
    for d in EXT:
        S[f"ext_cur_{d}"] = pairs(["a", "b", "c", "d"], [n + d, n, n - d // 2, n - d // 2])
    n = 50000
    S["ext_bin_ref"] = pairs(["a", "b"], [n, n])
    for d in EXT_BIN:
        S[f"ext_bin_cur_{d}"] = pairs(["a", "b"], [n + d, n - d])

    C = []

    def case(name, det, ref, cur, **params):
        C.append((name, det, ref, cur, params))

    case("published_homogeneity", "chi2", "pub_ref", "pub_cur")
    for det in DEFAULTS:
        case(f"published_{det}", det, "pub_ref", "pub_cur")
    for k in [3, 5, 10, 30, 100, 300, 1500]:
        for det in DEFAULTS:
            case(f"k{k}_shift_{det}", det, f"k{k}_ref", f"k{k}_cur")
            case(f"k{k}_same_{det}", det, f"k{k}_ref", f"k{k}_same")
    case("k100_all_kept_chi2", "chi2", "k100_ref", "k100_cur", max_categories=100)
    case("k300_kept_256_chi2", "chi2", "k300_ref", "k300_cur", max_categories=256)
    case("k1500_kept_2000_chi2", "chi2", "k1500_ref", "k1500_cur", max_categories=2000)
    case("k1500_kept_2000_tvd", "tvd", "k1500_ref", "k1500_cur", max_categories=2000)
    case("k30_kept_5_chi2", "chi2", "k30_ref", "k30_cur", max_categories=5)
    case("k30_kept_1_chi2", "chi2", "k30_ref", "k30_cur", max_categories=1)
    case("k30_kept_1_ztest", "ztest", "k30_ref", "k30_cur", max_categories=1)
    for cur in ["u_cur_new", "u_cur_vanish", "u_cur_only_new"]:
        tag = cur[6:]
        for det in DEFAULTS:
            case(f"{tag}_{det}", det, "u_ref", cur)
        case(f"{tag}_kept_3_chi2", "chi2", "u_ref", cur, max_categories=3)
        case(f"{tag}_kept_3_new_category", "new_category", "u_ref", cur, max_categories=3)
    case("new_threshold_0", "new_category", "u_ref", "u_cur_new", threshold=0.0)
    case("new_threshold_0_none", "new_category", "u_ref", "u_cur_vanish", threshold=0.0)
    case("new_threshold_at_share", "new_category", "const_ref", "const_cur_new",
         threshold=7 / 37)
    for det in DEFAULTS:
        case(f"binary_{det}", det, "b_ref", "b_cur")
        case(f"binary_near_{det}", det, "b_ref", "b_near")
        case(f"binary_small_{det}", det, "b_small_ref", "b_small_cur")
        case(f"bool_{det}", det, "bool_ref", "bool_cur")
        case(f"bool_flip_{det}", det, "bool_ref", "bool_cur_flip")
        case(f"num01_{det}", det, "num01_ref", "num01_cur")
        case(f"tie_{det}", det, "tie_ref", "tie_cur")
        case(f"const_{det}", det, "const_ref", "const_cur")
        case(f"const_new_{det}", det, "const_ref", "const_cur_new")
        case(f"const_allnew_{det}", det, "const_ref", "const_cur_allnew")
        case(f"mixed_types_{det}", det, "mix_ref", "mix_cur")
        case(f"tail_{det}", det, "tail_ref", "tail_cur")
        case(f"tail_kept_10_{det}", det, "tail_ref", "tail_cur", max_categories=10)
        case(f"long_{det}", det, "long_ref", "long_cur", max_length=8)
        case(f"ties_kept_3_{det}", det, "ties_ref", "ties_cur", max_categories=3)
    for corr in [True, False]:
        tag = "yates" if corr else "no_yates"
        case(f"binary_{tag}", "chi2", "b_ref", "b_cur", correction=corr)
        case(f"binary_near_{tag}", "chi2", "b_ref", "b_near", correction=corr)
        case(f"binary_small_{tag}", "chi2", "b_small_ref", "b_small_cur", correction=corr)
        case(f"const_new_{tag}", "chi2", "const_ref", "const_cur_new", correction=corr)
        for d in EXT_BIN:
            case(f"ext_bin_{d}_{tag}", "chi2", "ext_bin_ref", f"ext_bin_cur_{d}",
                 correction=corr)
        case(f"bool_{tag}", "chi2", "bool_ref", "bool_cur", correction=corr)
    case("mixed_types_kept_4_chi2", "chi2", "mix_ref", "mix_cur", max_categories=4)
    case("mixed_types_kept_9_tvd", "tvd", "mix_ref", "mix_cur", max_categories=9)
    case("ties_kept_1_ztest", "ztest", "ties_ref", "ties_cur", max_categories=1)
    case("ties_kept_5_chi2", "chi2", "ties_ref", "ties_cur", max_categories=5)
    case("long_kept_2_chi2", "chi2", "long_ref", "long_cur", max_length=8, max_categories=2)
    case("long_full_chi2", "chi2", "long_ref", "long_cur", max_length=64)
    for d in EXT:
        for det in ["chi2", "ztest", "tvd"]:
            case(f"ext_{d}_{det}", det, "ext_ref", f"ext_cur_{d}")
    for d in EXT_BIN:
        case(f"ext_bin_{d}_ztest", "ztest", "ext_bin_ref", f"ext_bin_cur_{d}")
    case("alpha_small_chi2", "chi2", "k10_ref", "k10_cur", alpha=1e-6)
    case("alpha_large_ztest", "ztest", "b_ref", "b_near", alpha=0.99)
    case("threshold_0_tvd", "tvd", "k10_ref", "k10_same", threshold=0.0)
    case("threshold_1_tvd", "tvd", "u_ref", "u_cur_only_new", threshold=1.0)

    out = []
    names_seen = set()
    for name, det, ref, cur, overrides in C:
        assert name not in names_seen, name
        names_seen.add(name)
        params = dict(DEFAULTS[det], **overrides)
        res = evaluate(det, params, S[ref], S[cur])
        out.append(dict(name=name, detector=det, params=params, ref=ref, cur=cur, **res))

    by = {c["name"]: c for c in out}
    pub = by["published_homogeneity"]
    assert abs(pub["score"] - 1.6224089635854342) <= 1e-15 * 1.7, pub["score"]
    assert abs(pub["p"] - 0.8985262394026607) <= 1e-15, pub["p"]
    assert pub["df"] == 5
    assert by["const_chi2"]["df"] == 0 and by["const_chi2"]["p"] == 1.0
    assert by["const_new_chi2"]["df"] == 1
    assert by["binary_near_no_yates"]["score"] > by["binary_near_yates"]["score"] == 0.0
    # the bound on kept categories does not change what counts as new
    assert by["tail_new_category"]["score"] == by["tail_kept_10_new_category"]["score"]
    assert by["tail_kept_10_new_category"]["ref_row"][-2] > 0
    assert 1e-304 > by["ext_7060_chi2"]["p"] > 2.2250738585072014e-308  # near the smallest normal
    assert 0 < by["ext_7130_chi2"]["p"] < 1e-310  # subnormal
    assert by["ext_7160_chi2"]["p"] == 0.0 and by["ext_20000_ztest"]["p"] == 0.0
    assert by["ties_kept_1_ztest"]["kept"] == [[3, False]]
    assert not by["new_threshold_at_share"]["drift"]

    out_path = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else OUT
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with open(out_path, "w") as f:
        json.dump({"generator": "tests/oracle/gen_categorical.py", "scipy": scipy.__version__,
                   "numpy": np.__version__, "samples": S, "cases": out},
                  f, separators=(",", ":"), ensure_ascii=False)
        f.write("\n")
    for c in out:
        print(f"{c['name']:32s} {c['detector']:12s} cols={len(c['ref_row']):4d} "
              f"score={c['score']:.6g} p={c['p'] if c['p'] is None else format(c['p'], '.6g')} "
              f"drift={c['drift']}")


if __name__ == "__main__":
    main()
