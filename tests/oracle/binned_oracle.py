"""Shared numpy reference for the binned detectors (psi, js, kl, hellinger): bin edges, counts and
proportions as detectors/binning.c defines them, written with numpy's own functions and not with
the C's algorithm (no binary search, no hand-written quantile or linspace).

Edges (F_0..F_K from the reference):
  quantile: np.quantile(ref, np.arange(K + 1) / K)      (numpy's default method="linear")
  uniform:  np.linspace(ref.min(), ref.max(), K + 1)
  doane, sturges: np.histogram_bin_edges(ref, bins="doane" / "sturges")
Kept edges: clamp keeps F_1..F_{K-1}, bin keeps F_0..F_K; an edge is kept only if it is above
the previous kept one (ties collapse).
Counts: clamp: np.histogram over [-inf, *kept, +inf]; bin: [#(x < F_0)] + np.histogram over the
kept edges (or [c, c] for a single edge) + [#(x > F_K)].
Proportions: epsilon: count / n with zeros replaced by epsilon; laplace: (count + 0.5) /
(n + 0.5 B); none: count / n.

Used by gen_psi.py, gen_js.py, gen_kl.py and gen_hellinger.py (not itself a generator).
"""

import numpy as np

assert np.__version__ == "2.4.6", np.__version__

BINNINGS = ("quantile", "uniform", "doane", "sturges")
OUT_OF_RANGE = ("clamp", "bin")


def full_edges(ref, binning, bins):
    ref = np.asarray(ref, dtype=np.float64)
    if binning == "quantile":
        return np.quantile(ref, np.arange(0, bins + 1) / bins)
    if binning == "uniform":
        return np.linspace(ref.min(), ref.max(), bins + 1)
    return np.histogram_bin_edges(ref, bins=binning)


def collapse(values):
    kept = []
    for e in values:
        if not kept or e > kept[-1]:
            kept.append(float(e))
    return kept


def histogram(ref, cur, binning, bins, out_of_range):
    """(kept edges, reference counts, window counts)."""
    ref = np.asarray(ref, dtype=np.float64)
    cur = np.asarray(cur, dtype=np.float64)
    f = full_edges(ref, binning, bins)
    if out_of_range == "clamp":
        edges = collapse(f[1:-1])
        full = np.concatenate(([-np.inf], edges, [np.inf]))
        return edges, np.histogram(ref, full)[0], np.histogram(cur, full)[0]
    edges = collapse(f)
    regular = edges if len(edges) > 1 else [edges[0], edges[0]]

    def counts(x):
        inside = np.histogram(x, regular)[0]
        return np.concatenate(([np.sum(x < edges[0])], inside, [np.sum(x > edges[-1])]))

    rc, cc = counts(ref), counts(cur)
    assert rc[0] == 0 and rc[-1] == 0
    return edges, rc, cc


def proportions(counts, n, empty_bin, epsilon):
    counts = np.asarray(counts)
    if empty_bin == "laplace":
        return (counts + 0.5) / (n + 0.5 * len(counts))
    p = counts / n
    if empty_bin == "epsilon":
        p[counts == 0] = epsilon
    return p


def normalised(p):
    return p / np.sum(p)


def r6(a):
    return [round(float(x), 6) for x in a]


def samples():
    """Named value lists shared by the js, kl and hellinger oracles (fixed seed)."""
    g = np.random.default_rng(20260521)
    s = {}
    s["normal_ref"] = r6(g.normal(0.0, 1.0, 1000))
    s["normal_cur"] = r6(g.normal(0.5, 1.0, 500))
    s["normal_same"] = r6(g.normal(0.0, 1.0, 700))
    s["normal_ref_reversed"] = list(reversed(s["normal_ref"]))
    s["ties_ref"] = [float(x) for x in g.choice(5, 2000, p=[0.5, 0.2, 0.15, 0.1, 0.05])]
    s["ties_cur"] = [float(x) for x in g.choice(5, 800, p=[0.3, 0.3, 0.2, 0.1, 0.1])]
    s["unif_ref"] = r6(g.uniform(0.0, 1.0, 500))
    s["unif_cur"] = r6(g.uniform(-0.5, 1.5, 500))
    s["above_cur"] = r6(g.uniform(2.0, 3.0, 200))
    s["const_ref"] = [3.0] * 200
    s["const_cur"] = [2.0] * 20 + [3.0] * 150 + [3.25] * 10 + [4.0] * 30
    s["narrow_cur"] = r6(g.normal(0.0, 0.05, 300))
    s["int_ref"] = [float(v) for v in range(11) for _ in range(10)]
    s["int_cur"] = [float(x) for x in g.integers(0, 11, 400)] + [1.0, 2.0, 9.0, 10.0, 11.0]
    s["big_ref"] = r6(1e9 + g.normal(0.0, 50.0, 600))
    s["big_cur"] = r6(1e9 + g.normal(20.0, 50.0, 400))
    s["logn_ref"] = r6(g.lognormal(0.0, 1.0, 1500))
    s["logn_cur"] = r6(g.lognormal(0.2, 1.1, 900))
    s["expo_ref"] = r6(g.exponential(1.0, 2000))
    s["expo_cur"] = r6(np.concatenate((g.exponential(1.0, 550), g.uniform(20.0, 40.0, 50))))
    s["pow2_ref"] = r6(g.normal(10.0, 2.0, 1024))
    s["pow2_cur"] = r6(g.normal(10.5, 2.5, 256))
    s["tiny_ref"] = [float(x) for x in -1e-9 + 1e-12 * np.round(g.normal(0.0, 1000.0, 400))]
    s["tiny_cur"] = [float(x) for x in -1e-9 + 1e-12 * np.round(g.normal(300.0, 1000.0, 300))]
    s["one_ref"] = [5.0]
    s["one_cur"] = [4.0, 5.0, 5.0, 6.0]
    s["two_ref"] = [1.0, 2.0]
    s["two_cur"] = [0.5, 1.0, 1.2, 1.5, 2.0, 2.5]
    s["three_ref"] = [1.0, 2.0, 10.0]
    s["three_cur"] = [0.0, 1.0, 1.5, 2.0, 3.0, 9.0, 10.0, 11.0]
    s["many_ref"] = r6(g.normal(0.0, 1.0, 300))
    s["many_cur"] = r6(g.normal(0.1, 1.2, 300))
    return s


# (name, reference sample, current sample): every one is run under every binning,
# out-of-range and empty-bin policy.
SCENARIOS = [
    ("shift", "normal_ref", "normal_cur"),
    ("identical", "normal_ref", "normal_ref_reversed"),
    ("same_dist", "normal_ref", "normal_same"),
    ("ties", "ties_ref", "ties_cur"),
    ("out_of_range", "unif_ref", "unif_cur"),
    ("all_above", "unif_ref", "above_cur"),
    ("constant_ref", "const_ref", "const_cur"),
    ("empty_cur_bins", "normal_ref", "narrow_cur"),
    ("on_edges", "int_ref", "int_cur"),
    ("large_offset", "big_ref", "big_cur"),
    ("lognormal", "logn_ref", "logn_cur"),
    ("outliers", "expo_ref", "expo_cur"),
    ("pow2_reference", "pow2_ref", "pow2_cur"),
    ("tiny_scale", "tiny_ref", "tiny_cur"),
    ("one_ref_value", "one_ref", "one_cur"),
    ("two_ref_values", "two_ref", "two_cur"),
    ("three_ref_values", "three_ref", "three_cur"),
]


def build(score_fn, empties, defaults, extra_cases, checks=None):
    """All scenario x binning x out_of_range x empty_bin cases plus extra_cases
    [(name, ref, cur, overrides)], each with edges, counts, score and drift.
    score_fn(pr, pc, params) gets the policy proportions (not renormalised)."""
    smp = samples()
    todo = [("shifted_normal", "normal_ref", "normal_cur", {}),
            ("shifted_normal_uniform", "normal_ref", "normal_cur", {"binning": "uniform"})]
    for scen, ref, cur in SCENARIOS:
        for b in BINNINGS:
            for o in OUT_OF_RANGE:
                for e in empties:
                    todo.append((f"{scen}_{b}_{o}_{e}", ref, cur,
                                 {"binning": b, "out_of_range": o, "empty_bin": e}))
    todo += extra_cases
    out = []
    for name, ref, cur, overrides in todo:
        params = dict(defaults, **overrides)
        edges, rc, cc = histogram(smp[ref], smp[cur], params["binning"], params["bins"],
                                  params["out_of_range"])
        pr = proportions(rc, len(smp[ref]), params["empty_bin"], params["epsilon"])
        pc = proportions(cc, len(smp[cur]), params["empty_bin"], params["epsilon"])
        score = float(score_fn(pr, pc, params))
        assert np.isfinite(score), name
        if checks:
            checks(name, params, smp[ref], smp[cur], pr, pc, score)
        out.append(dict(name=name, params=params, ref=ref, cur=cur, edges=edges,
                        ref_counts=[int(x) for x in rc], cur_counts=[int(x) for x in cc],
                        score=score, drift=bool(score >= params["threshold"])))
    names = [c["name"] for c in out]
    assert len(names) == len(set(names))
    return smp, out


def write(path, generator, versions, smp, cases, summary_key="score"):
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        json.dump(dict(generator=generator, **versions, samples=smp, cases=cases), f,
                  separators=(",", ":"))
        f.write("\n")
    for c in cases:
        print(f"{c['name']:40s} bins={len(c['ref_counts']):4d} {summary_key}={c[summary_key]:.6g} "
              f"drift={c['drift']}")
