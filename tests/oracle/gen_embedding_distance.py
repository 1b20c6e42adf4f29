#!/usr/bin/env python3
"""Oracle for detectors/embedding_distance.c, written independently of it.

Means:     math.fsum(column) / n: the exact sum rounded once, divided by n (what the C
           accumulator must give bit for bit).
Distances: from those float64 means, in exact rational arithmetic up to the final square
           roots and divisions (60 digits), rounded to float64 at the end:
           euclidean ||a - b||; cosine 1 - a.b / (|a| |b|), defined as 0 when both means are
           zero and 1 when one is (for cos > 0 as (|a|^2 |b|^2 - (a.b)^2) / (|a| |b| (|a| |b| +
           a.b)), whose numerator is exact). numpy / scipy (float64) must agree to 1e-9 where the
           distance is not tiny: a check of the definitions, not of the digits.
Drift:     distance > threshold.

Writes tests/detectors/data/embedding_distance.json deterministically (fixed seeds; most vectors
rounded to 6 decimals, the extreme ones exact; floats written with repr).

    /tmp/oracle-venv/bin/python tests/oracle/gen_embedding_distance.py [OUT.json]
"""

import decimal
import json
import math
import os
import pathlib
import sys
from fractions import Fraction

os.environ["OPENBLAS_CORETYPE"] = "Prescott"
os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["NPY_DISABLE_CPU_FEATURES"] = "X86_V3 X86_V4 AVX512_ICL AVX512_SPR"

import numpy as np  # noqa: E402
from scipy.spatial import distance as spd  # noqa: E402

assert np.__version__ == "2.4.6", np.__version__

OUT = (pathlib.Path(__file__).resolve().parent.parent / "detectors" / "data" /
       "embedding_distance.json")

DEFAULTS = dict(metric="euclidean", threshold=0.2)
CTX = decimal.Context(prec=60)


def fmean(rows):
    n = len(rows)
    return [math.fsum(r[j] for r in rows) / n for j in range(len(rows[0]))]


def dec(q):
    """A Fraction as a 60-digit Decimal."""
    return CTX.divide(decimal.Decimal(q.numerator), decimal.Decimal(q.denominator))


def dist_exact(a, b, metric):
    """Exact rational arithmetic on the float64 means; only the final square roots and
    divisions round (to 60 digits)."""
    A = [Fraction(x) for x in a]
    B = [Fraction(y) for y in b]
    if metric == "euclidean":
        return float(CTX.sqrt(dec(sum((x - y) ** 2 for x, y in zip(A, B)))))
    aa = sum(x * x for x in A)
    bb = sum(y * y for y in B)
    if aa == 0 or bb == 0:
        return 0.0 if aa == bb else 1.0
    dot = sum(x * y for x, y in zip(A, B))
    root = CTX.sqrt(dec(aa * bb))
    if dot <= 0:
        return float(CTX.add(1, CTX.divide(dec(-dot), root)))
    # 1 - dot / root = (aa bb - dot^2) / (root (root + dot)), the numerator exact
    num = aa * bb - dot * dot
    return float(CTX.divide(dec(num), CTX.multiply(root, CTX.add(root, dec(dot)))))


def dist_numpy(a, b, metric):
    a, b = np.asarray(a), np.asarray(b)
    if metric == "euclidean":
        return float(np.linalg.norm(a - b))
    return float(spd.cosine(a, b))


def r6(a):
    return [[round(float(v), 6) for v in row] for row in a]


def main():
    decimal.getcontext().prec = 60
    g = np.random.default_rng(20241003)
    cases = []

    def case(name, ref, windows, params=None):
        params = dict(DEFAULTS, **(params or {}))
        ref_mean = fmean(ref)
        out = []
        for w in windows:
            win_mean = fmean(w)
            d = dist_exact(ref_mean, win_mean, params["metric"])
            plain = all(abs(x) < 1e150 for x in ref_mean + win_mean) and any(ref_mean) and any(
                win_mean)
            if d > 1e-6 and plain:
                dn = dist_numpy(ref_mean, win_mean, params["metric"])
                assert abs(dn - d) <= 1e-9 * d, (name, dn, d)
            out.append(dict(vectors=w, mean=win_mean, distance=d,
                            drift=bool(d > params["threshold"])))
        cases.append(dict(name=name, params=params, reference=ref, reference_mean=ref_mean,
                          windows=out))

    ref = r6(g.normal(0.0, 1.0, (300, 8)))
    wins = [r6(g.normal(0.0, 1.0, (200, 8))), r6(g.normal(0.3, 1.0, (200, 8))),
            list(reversed(ref))]
    case("gauss_d8_euclidean", ref, wins)
    case("gauss_d8_cosine", ref, wins, {"metric": "cosine", "threshold": 0.05})

    # embeddings-like: unit vectors around a common direction; a rotated window
    base = g.normal(0.0, 1.0, 384)
    e = base + g.normal(0.0, 3.0, (25, 384))
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    f = base + 0.5 * np.roll(base, 1) + g.normal(0.0, 3.0, (25, 384))
    f /= np.linalg.norm(f, axis=1, keepdims=True)
    case("unit_d384_cosine", r6(e), [r6(f)], {"metric": "cosine", "threshold": 0.02})
    case("unit_d384_euclidean", r6(e), [r6(f)], {"threshold": 0.3})

    # nearly aligned means: 1 - cos ~ 1e-12, where the naive formula would cancel
    a = g.normal(0.0, 1.0, (50, 6))
    b = a * 1.001 + 1e-6 * g.normal(0.0, 1.0, (50, 6))
    case("nearly_aligned_cosine", [list(map(float, r)) for r in a],
         [[list(map(float, r)) for r in b]], {"metric": "cosine", "threshold": 1e-9})

    # zero means (vectors and their negatives): cosine 1 for one zero mean, 0 for two
    z = r6(g.normal(0.0, 1.0, (20, 3)))
    zero = z + [[-v for v in row] for row in z]
    case("zero_mean_cosine", zero, [r6(g.normal(1.0, 1.0, (10, 3))), list(reversed(zero))],
         {"metric": "cosine", "threshold": 0.5})

    # cancellation: the exact column sums are tiny next to the elements
    canc = []
    for i in range(42):
        big = [1e16, 1.0 + 1e-3 * i, -1e16][i % 3]
        canc.append([big, 1.0 + i, -big * 3.0e-8 + 1e-3, big * 0.5 + 0.25])
    canc.append([3.0, 1.0, 2.0, 1.0])
    case("cancellation_exact_sums", canc, [canc[::-1][:21], canc[:3]], {"threshold": 1e15})

    # magnitudes at the ends of the range: subnormals and near-DBL_MAX / n
    tiny = [[5e-324 * (i + 1), -1e-310 * i, 2.5e-320] for i in range(12)]
    case("subnormal", tiny, [[[1e-309, 0.0, 2.5e-320]] * 5], {"threshold": 0.0})
    huge = [[1.5e306 * (1 + 0.01 * i), -1e306, 1.0] for i in range(60)]
    case("huge_euclidean", huge, [[[1.4e306, 1e306, 1.0]] * 7], {"threshold": 1e306})
    case("huge_cosine", huge, [[[1.4e306, 1e306, 1.0]] * 7], {"metric": "cosine"})

    case("single_vectors", [[1.0, 2.0]], [[[2.0, 4.0]], [[-1.0, 0.5]]], {"metric": "cosine"})
    case("one_dimension", [[float(i)] for i in range(10)], [[[4.5]], [[4.75], [4.75]]],
         {"threshold": 0.25})

    by = {c["name"]: c for c in cases}
    assert by["gauss_d8_euclidean"]["windows"][2]["distance"] == 0.0
    assert by["gauss_d8_euclidean"]["windows"][1]["drift"]
    assert by["zero_mean_cosine"]["windows"][0]["distance"] == 1.0
    assert by["zero_mean_cosine"]["windows"][1]["distance"] == 0.0
    assert by["one_dimension"]["windows"][0]["distance"] == 0.0
    assert 0 < by["nearly_aligned_cosine"]["windows"][0]["distance"] < 1e-9
    # exact sums differ from naive ones here
    canc_naive = [sum(r[j] for r in canc) / len(canc) for j in range(4)]
    assert canc_naive != by["cancellation_exact_sums"]["reference_mean"]

    out_path = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else OUT
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with open(out_path, "w") as f:
        json.dump({"generator": "tests/oracle/gen_embedding_distance.py",
                   "numpy": np.__version__, "cases": cases}, f, separators=(",", ":"))
        f.write("\n")
    for c in cases:
        for i, w in enumerate(c["windows"]):
            print(f"{c['name']:26s} w{i} {c['params']['metric']:9s} "
                  f"distance={w['distance']:.17g} drift={w['drift']}")


if __name__ == "__main__":
    main()
