#!/usr/bin/env python3
"""Oracle for detectors/mmd.c: an independent numpy implementation of the same definition.

Sample:    the kept vectors of N are those at positions k * N // S, k < S = min(N, max_samples).
Bandwidth: 2 sigma^2 = the lower median of ||x_i - x_j||^2 over reference pairs i < j (checked
           here to equal alibi-detect's sigma_median index on the full m x m distance matrix);
           0 falls back to the lower median of the positive ones, then to 1.
Kernel:    K = exp(-D / (2 sigma^2)) with a zero diagonal over the pooled sample (reference first).
MMD^2:     K_xx.sum() / (m (m-1)) + K_yy.sum() / (n (n-1)) - 2 K_xy.sum() / (m n).
p-value:   (1 + #{permuted >= observed}) / (1 + B), the B splits drawn by the same splitmix64
           partial Fisher-Yates as the C code (implemented again below), so p must match exactly.

Every reduction is exact (math.fsum) and exp is the C library's (math.exp), so the oracle values
are as accurate as float64 allows and do not depend on numpy's SIMD kernels; numpy does the
element-wise work. For each case the generator asserts that no permuted statistic lies within
1e-9 (relative to the kernel scale) of the observed one, so that rounding differences between
this and the C code cannot flip a comparison.

Writes tests/detectors/data/mmd.json deterministically (fixed seeds, vectors rounded to 6
decimals, floats written with repr).

    /tmp/oracle-venv/bin/python tests/oracle/gen_mmd.py [OUT.json]
"""

import json
import math
import os
import pathlib
import sys

os.environ["OPENBLAS_CORETYPE"] = "Prescott"
os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["NPY_DISABLE_CPU_FEATURES"] = "X86_V3 X86_V4 AVX512_ICL AVX512_SPR"

import numpy as np  # noqa: E402

assert np.__version__ == "2.4.6", np.__version__

OUT = pathlib.Path(__file__).resolve().parent.parent / "detectors" / "data" / "mmd.json"

DEFAULTS = dict(alpha=0.05, n_permutations=100, max_samples=500)
M64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def mix64(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


class SplitMix:
    def __init__(self, seed, window_index):
        self.s = mix64((seed + GOLDEN * (window_index + 1)) & M64)

    def below(self, bound):
        reject = ((1 << 64) - bound) % bound
        while True:
            self.s = (self.s + GOLDEN) & M64
            u = mix64(self.s)
            if u >= reject:
                return u % bound


def subsample(vectors, n_total, cap):
    s = min(n_total, cap)
    idx = [k * n_total // s for k in range(s)]
    return np.asarray([vectors[i] for i in idx if i < len(vectors)], dtype=np.float64)


def sqdist_matrix(z):
    t = len(z)
    d = np.zeros((t, t))
    for i in range(t):
        diff2 = (z[i + 1:] - z[i]) ** 2
        for j in range(i + 1, t):
            d[i, j] = d[j, i] = math.fsum(diff2[j - i - 1])
    return d


def bandwidth(dxx):
    m = len(dxx)
    pairs = np.sort(dxx[np.triu_indices(m, 1)])
    p = len(pairs)
    med = float(pairs[(p - 1) // 2])
    # alibi-detect's sigma_median on x_ref against itself: sort the whole m x m matrix (the m
    # zeros of the diagonal first) and take index m + (m*m - m) // 2 - 1
    n_median = m + (m * m - m) // 2 - 1
    assert np.sort(dxx.reshape(-1))[n_median] == med
    if med == 0:
        pos = pairs[pairs > 0]
        med = float(pos[(len(pos) - 1) // 2]) if len(pos) else 1.0
    return med


def block_sum(k, rows, cols):
    return math.fsum(k[np.ix_(rows, cols)].reshape(-1))


def mmd2(k, xi, yi):
    m, n = len(xi), len(yi)
    return (block_sum(k, xi, xi) / (m * (m - 1)) + block_sum(k, yi, yi) / (n * (n - 1))
            - 2 * block_sum(k, xi, yi) / (m * n))


def mmd_oracle(ref, win, n_ref, n_win, params, seed, window_index):
    x = subsample(ref, n_ref, params["max_samples"])
    y = subsample(win, n_win, params["max_samples"])
    m, n = len(x), len(y)
    z = np.concatenate([x, y])
    d = sqdist_matrix(z)
    two_sigma2 = bandwidth(d[:m, :m])
    k = np.vectorize(lambda v: math.exp(-(v / two_sigma2)))(d)
    np.fill_diagonal(k, 0.0)
    t = m + n
    observed = mmd2(k, list(range(m)), list(range(m, t)))
    rng = SplitMix(seed, window_index)
    permuted, same_split = [], []
    for _ in range(params["n_permutations"]):
        perm = list(range(t))
        for i in range(m):
            j = i + rng.below(t - i)
            perm[i], perm[j] = perm[j], perm[i]
        xi = sorted(perm[:m])
        permuted.append(mmd2(k, xi, sorted(perm[m:])))
        # with m == n the mirror image of the observed split has the same statistic, and
        # both implementations compute it with the same operations
        same_split.append(xi == list(range(m)) or (m == n and xi == list(range(m, t))))
    permuted = np.asarray(permuted)
    # a permutation that reproduces the observed split gives the observed value in both
    # implementations (the same sums); any other must be clearly apart
    others = permuted[~np.asarray(same_split)]
    scale = max(abs(observed), float(np.abs(permuted).max()), 1e-300)
    margin = float(np.abs(others - observed).min()) / scale if len(others) else 1.0
    assert margin > 1e-9, f"near tie: {margin}"
    at_least = int((permuted >= observed).sum())
    p = (1 + at_least) / (1 + params["n_permutations"])
    return dict(m=m, n=n, two_sigma2=two_sigma2, mmd2=observed, at_least=at_least, p=p,
                drift=bool(p < params["alpha"]), margin=margin)


def r6(a):
    return [[round(float(v), 6) for v in row] for row in a]


def main():
    g = np.random.default_rng(20240917)
    cases = []

    def case(name, ref, windows, params=None, seed=1, n_ref=None, n_win=None):
        params = dict(DEFAULTS, **(params or {}))
        n_ref = n_ref or len(ref)
        n_win = n_win or max(len(w) for w in windows)
        out = []
        for wi, w in enumerate(windows):
            res = mmd_oracle(ref, w, n_ref, n_win, params, seed, wi)
            out.append(dict(vectors=w, **res))
        # the seed as a decimal string: JSON readers may not take integers >= 2^63
        cases.append(dict(name=name, params=params, seed=str(seed), reference_size=n_ref,
                          window_size=n_win, reference=ref, windows=out))

    ref = r6(g.normal(0.0, 1.0, (120, 4)))
    case("null_d4", ref, [r6(g.normal(0.0, 1.0, (80, 4)))])
    case("shift_d4", ref, [r6(g.normal(0.4, 1.0, (80, 4)))])
    case("three_windows_seed", ref,
         [r6(g.normal(0.0, 1.0, (60, 4))), r6(g.normal(0.15, 1.0, (60, 4))),
          r6(g.normal(0.0, 1.3, (60, 4)))], seed=0xDEADBEEFCAFEF00D)
    ref8 = r6(g.normal(0.0, 1.0, (150, 8)))
    case("shift_d8_window_larger", ref8[:60], [r6(g.normal(0.25, 1.0, (140, 8)))])
    case("null_d8_reference_larger", ref8, [r6(g.normal(0.0, 1.0, (50, 8)))],
         params={"n_permutations": 400})
    big = r6(g.normal(0.0, 1.0, (700, 3)))
    case("subsampled_both", big, [r6(g.normal(0.1, 1.0, (450, 3)))],
         params={"max_samples": 90}, seed=42)
    case("subsampled_window", ref8[:100], [r6(g.normal(0.0, 1.1, (300, 8)))],
         params={"max_samples": 130})
    # more than half of the reference pairs coincide: the median of the positive distances
    dup = [[1.0, 2.0, 3.0]] * 40 + r6(g.normal(0.0, 1.0, (12, 3)))
    case("duplicates_median_zero", dup, [r6(g.normal(0.5, 1.0, (30, 3)))])
    # a constant reference: bandwidth 1
    case("constant_reference", [[0.5, -0.5]] * 20, [r6(g.normal(0.0, 0.3, (25, 2)))])
    # 64 dimensions, embeddings-like (unit norm)
    e = g.normal(0.0, 1.0, (90, 64))
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    f = g.normal(0.0, 1.0, (70, 64)) + 0.08 * np.eye(64)[3]
    f /= np.linalg.norm(f, axis=1, keepdims=True)
    case("unit_d64", r6(e), [r6(f)], params={"alpha": 0.01})
    # one dimension far from zero
    case("offset_d1", r6(1e6 + g.normal(0.0, 3.0, (70, 1))),
         [r6(1e6 + g.normal(1.0, 3.0, (70, 1)))], params={"n_permutations": 50})
    case("minimal_sizes", r6(g.normal(0.0, 1.0, (3, 2))), [r6(g.normal(2.0, 1.0, (3, 2)))],
         params={"n_permutations": 30})

    by = {c["name"]: c for c in cases}
    assert by["shift_d4"]["windows"][0]["drift"]
    assert not by["null_d4"]["windows"][0]["drift"]
    assert by["subsampled_both"]["windows"][0]["m"] == 90

    out_path = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else OUT
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with open(out_path, "w") as f:
        json.dump({"generator": "tests/oracle/gen_mmd.py", "numpy": np.__version__,
                   "cases": cases}, f, separators=(",", ":"))
        f.write("\n")
    for c in cases:
        for i, w in enumerate(c["windows"]):
            print(f"{c['name']:26s} w{i} m={w['m']:3d} n={w['n']:3d} "
                  f"2s2={w['two_sigma2']:.6g} mmd2={w['mmd2']:.6g} p={w['p']:.4f} "
                  f"drift={w['drift']} margin={w['margin']:.2g}")


if __name__ == "__main__":
    main()
