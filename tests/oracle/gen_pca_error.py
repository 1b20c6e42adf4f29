#!/usr/bin/env python3
"""Oracle for detectors/pca_error.c: an independent numpy implementation of the same definition.

Sample:  the reference vectors at positions k * N // S, k < S = min(N, max_samples).
PCA:     mu = mean, C = np.cov(sample, rowvar=False) (divisor m - 1), numpy.linalg.eigh, sorted
         by decreasing eigenvalue; k = min(n_components, dim), or with n_components = 0 the
         scikit-learn rule searchsorted(cumsum(ratio), explained_variance, "right") + 1 with
         ratio = max(lambda, 0) / sum(max(lambda, 0)); k = dim means every error is 0.
Error:   e(x) = ||z - V V^T z||, z = x - mu (invariant to the signs of the eigenvectors and, with a
         gap after eigenvalue k, to the solver); ref_err = mean over the sample, window error =
         mean over the window; score = window error / ref_err; drift when score > threshold.

The generator asserts for every case a relative gap of at least 1e-6 between eigenvalues k and
k + 1 and a margin of 1e-9 between the cumulative ratios and explained_variance, so that GSL and
LAPACK must keep the same subspace.

Writes tests/detectors/data/pca_error.json deterministically (fixed seeds, vectors rounded to 6
decimals, floats written with repr; OpenBLAS and numpy SIMD kernels pinned as in gen_ks.py).

    /tmp/oracle-venv/bin/python tests/oracle/gen_pca_error.py [OUT.json]
"""

import json
import os
import pathlib
import sys

os.environ["OPENBLAS_CORETYPE"] = "Prescott"
os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["NPY_DISABLE_CPU_FEATURES"] = "X86_V3 X86_V4 AVX512_ICL AVX512_SPR"

import numpy as np  # noqa: E402

assert np.__version__ == "2.4.6", np.__version__

OUT = pathlib.Path(__file__).resolve().parent.parent / "detectors" / "data" / "pca_error.json"

DEFAULTS = dict(threshold=1.5, n_components=0, explained_variance=0.65, max_samples=1000)


def subsample(vectors, cap):
    n = len(vectors)
    s = min(n, cap)
    return np.asarray([vectors[k * n // s] for k in range(s)], dtype=np.float64)


def fit(sample, params):
    mu = sample.mean(axis=0)
    cov = np.atleast_2d(np.cov(sample, rowvar=False))
    lam, vec = np.linalg.eigh(cov)
    order = np.argsort(lam)[::-1]
    lam, vec = lam[order], vec[:, order]
    d = len(lam)
    if params["n_components"] > 0:
        k = min(params["n_components"], d)
    else:
        pos = np.maximum(lam, 0.0)
        ratio_cum = np.cumsum(pos / pos.sum())
        f = params["explained_variance"]
        k = min(int(np.searchsorted(ratio_cum, f, side="right")) + 1, d)
        assert np.abs(ratio_cum - f).min() > 1e-9, "cumulative ratio too close to the fraction"
    if 0 < k < d:
        gap = (lam[k - 1] - lam[k]) / lam[0]
        assert gap > 1e-6, f"eigenvalues {k} and {k + 1} too close: {gap}"
    return mu, vec[:, :k], k, lam


def errors(x, mu, v):
    if v.shape[1] == len(mu):
        return np.zeros(len(x))
    z = np.asarray(x, dtype=np.float64) - mu
    r = z - (z @ v) @ v.T
    return np.sqrt((r * r).sum(axis=1))


def r6(a):
    return [[round(float(v), 6) for v in row] for row in a]


def main():
    g = np.random.default_rng(20241105)
    cases = []

    def case(name, ref, windows, params=None):
        params = dict(DEFAULTS, **(params or {}))
        sample = subsample(ref, params["max_samples"])
        mu, v, k, lam = fit(sample, params)
        ref_err = float(errors(sample, mu, v).mean())
        out = []
        for w in windows:
            win_err = float(errors(w, mu, v).mean())
            if ref_err > 0:
                score = win_err / ref_err
            else:
                score = 0.0 if win_err == 0 else float("inf")
            out.append(dict(vectors=w, error=win_err, score=score,
                            drift=bool(score > params["threshold"])))
        cases.append(dict(name=name, params=params, reference=ref, k=k, ref_err=ref_err,
                          eigenvalues=[float(x) for x in lam[:k + 1]], windows=out))

    def lowrank(n, d, r, noise, mix, shift=0.0):
        z = g.normal(0.0, 1.0, (n, r)) * np.linspace(3.0, 1.0, r)
        return z @ mix + noise * g.normal(0.0, 1.0, (n, d)) + shift

    mix8 = g.normal(0.0, 1.0, (3, 8))
    ref = r6(lowrank(300, 8, 3, 0.3, mix8))
    case("lowrank_d8", ref, [r6(lowrank(150, 8, 3, 0.3, mix8)),
                              r6(lowrank(150, 8, 3, 0.3, mix8, shift=np.eye(8)[5] * 8.0)),
                              r6(lowrank(150, 8, 3, 0.9, mix8))])
    case("lowrank_d8_k2", ref, [r6(lowrank(100, 8, 3, 0.3, mix8))], {"n_components": 2})
    case("lowrank_d8_var97", ref, [r6(lowrank(100, 8, 3, 0.3, mix8))],
         {"explained_variance": 0.97, "threshold": 1.2})
    mix32 = g.normal(0.0, 1.0, (6, 32))
    big = r6(lowrank(500, 32, 6, 0.5, mix32))
    case("subsampled_d32", big, [r6(lowrank(200, 32, 6, 0.5, mix32)),
                                 r6(lowrank(200, 32, 6, 0.5, mix32[::-1]))],
         {"max_samples": 170})
    mix64 = g.normal(0.0, 1.0, (10, 64)) / 8
    e = lowrank(120, 64, 10, 0.05, mix64)
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    f = lowrank(80, 64, 10, 0.05, mix64) + 0.1 * g.normal(0.0, 1.0, 64)
    f /= np.linalg.norm(f, axis=1, keepdims=True)
    case("unit_d64", r6(e), [r6(f)], {"n_components": 5})
    iso = r6(g.normal(0.0, 1.0, (200, 5)) * np.array([5.0, 4.0, 3.0, 2.0, 1.0]))
    case("axis_scaled_d5", iso, [r6(g.normal(0.0, 1.0, (100, 5)) * np.array([5, 4, 3, 2, 1.0]))],
         {"explained_variance": 0.5})
    # every component kept: exact reconstruction, errors 0, score 0
    case("all_components", iso, [r6(g.normal(0.0, 1.0, (20, 5)))], {"n_components": 9})
    case("offset_d3", r6(1e5 + lowrank(60, 3, 2, 0.2, g.normal(0.0, 1.0, (2, 3)))),
         [r6(1e5 + g.normal(0.0, 1.0, (40, 3)))], {"n_components": 1})
    case("three_vectors", [[0.0, 1.0, 2.0], [1.0, 1.0, 0.0], [2.0, 0.0, 1.5]],
         [[[0.5, 1.0, 1.0], [1.0, 2.0, 3.0]]], {"n_components": 1})

    by = {c["name"]: c for c in cases}
    assert not by["lowrank_d8"]["windows"][0]["drift"]
    assert by["lowrank_d8"]["windows"][1]["drift"]
    assert by["all_components"]["windows"][0]["score"] == 0.0
    assert by["subsampled_d32"]["windows"][1]["drift"]

    out_path = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else OUT
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with open(out_path, "w") as fh:
        json.dump({"generator": "tests/oracle/gen_pca_error.py", "numpy": np.__version__,
                   "cases": cases}, fh, separators=(",", ":"))
        fh.write("\n")
    for c in cases:
        for i, w in enumerate(c["windows"]):
            print(f"{c['name']:18s} w{i} k={c['k']:2d} ref_err={c['ref_err']:.6g} "
                  f"err={w['error']:.6g} score={w['score']:.6g} drift={w['drift']}")


if __name__ == "__main__":
    main()
