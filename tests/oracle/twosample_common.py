"""Shared pieces of the two-sample oracle generators (gen_anderson.py, gen_cvm.py,
gen_mannwhitney.py, gen_wasserstein.py, gen_energy.py): compact, exactly reproducible samples.

A sample in the JSON is one of
  [v, ...]                                 the values themselves
  {"start": a, "step": b, "count": c}      a + i * b for i < c (numpy rounds the product, then
                                           the sum; the C side does the same)
  {"mix": seed, "count": c, "offset": o, "scale": s, "levels": L}
                                           o + s * u_i with u_i = (z_i >> 11) * 2^-53 from
                                           splitmix64(seed + i), floor(u_i * L) / L when L > 0
                                           (ties); the same float operations in C.
"""
import os

# scipy's lstsq (polyfit) and numpy's dot products go through OpenBLAS, whose kernels are picked
# per CPU and round differently; pin the generic ones so that check_fresh.py reproduces the
# files on any x86-64 machine. Must precede `import numpy`.
os.environ["OPENBLAS_CORETYPE"] = "Prescott"
os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["NPY_DISABLE_CPU_FEATURES"] = "X86_V3 X86_V4 AVX512_ICL AVX512_SPR"

import json  # noqa: E402

import numpy as np  # noqa: E402

MASK = (1 << 64) - 1


def splitmix(x):
    z = (x + 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def prog(start, step, count):
    return {"start": float(start), "step": float(step), "count": int(count)}


def mix(seed, count, offset=0.0, scale=1.0, levels=0):
    return {"mix": int(seed), "count": int(count), "offset": float(offset),
            "scale": float(scale), "levels": int(levels)}


def expand(spec):
    if isinstance(spec, dict) and "mix" in spec:
        out = np.empty(spec["count"], dtype=np.float64)
        for i in range(spec["count"]):
            u = float(splitmix(spec["mix"] + i) >> 11) * 2.0 ** -53
            if spec["levels"] > 0:
                u = float(np.floor(u * spec["levels"])) / spec["levels"]
            out[i] = spec["offset"] + spec["scale"] * u
        return out
    if isinstance(spec, dict):
        return spec["start"] + np.arange(spec["count"], dtype=np.float64) * spec["step"]
    return np.asarray(spec, dtype=np.float64)


def as_json_sample(a):
    if isinstance(a, dict):
        return a
    return [float(v) for v in np.asarray(a, dtype=np.float64)]


def fnum(v):
    v = float(v)
    return None if np.isnan(v) else v


def rng_samples(seed):
    """A normal sampler rounded to `dec` decimals: short JSON, ties only where asked for."""
    rng = np.random.default_rng(seed)

    def rnd(size, loc=0.0, scale=1.0, dec=4):
        return np.round(rng.normal(loc, scale, size), dec)

    return rng, rnd


def write(doc, out):
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        json.dump(doc, f, sort_keys=True, separators=(",", ":"), allow_nan=False)
        f.write("\n")


def distance_pairs(seed):
    """(name, x, y) pairs for the distance detectors (wasserstein, energy)."""
    rng, rnd = rng_samples(seed)
    pairs = [
        # scipy's documented examples (unweighted ones)
        ("doc_0_1_3_vs_5_6_8", [0.0, 1.0, 3.0], [5.0, 6.0, 8.0]),
        ("doc_0_vs_2", [0.0], [2.0]),
        ("one_vs_one_equal", [1.5], [1.5]),
        ("one_vs_many", [0.0], [1.0, 2.0, 3.0, 4.0]),
        ("many_vs_one", [1.0, 2.0, 3.0, 4.0], [10.0]),
        ("identical", [1.0, 2.0, 3.0, 4.0], [4.0, 3.0, 2.0, 1.0]),
        ("constant_same", [3.0] * 10, [3.0] * 7),
        ("constant_ref_moved", [3.0] * 10, [3.0] * 5 + [3.5] * 2),
        ("near_constant_ref", [1.0] * 20 + [1.0005], [1.0] * 10 + [1.01]),
        ("signed_zeros", [-0.0, 0.0, 1.0, -1.0], [0.0, -0.0, 2.0]),
        ("magnitudes", [1e-300, -1e10, 5e-324, 1.0, 1e12], [2e-300, 0.5, -1e11, 7e-310]),
    ]
    for m, n in [(10, 10), (25, 40), (100, 100), (500, 300), (2000, 2000)]:
        for d in [0.0, 0.1, 1.0]:
            pairs.append((f"normal_{m}_{n}_{d}", rnd(m), rnd(n, d)))
    pairs.append(("scale_400_600", rnd(400), rnd(600, 0.0, 1.5)))
    pairs.append(("cauchy_300_500", np.round(rng.standard_cauchy(300), 3),
                  np.round(rng.standard_cauchy(500), 3)))
    pairs.append(("poisson_300_300", rng.poisson(3, 300).astype(float),
                  rng.poisson(3.4, 300).astype(float)))
    pairs.append(("binary_60_90", rng.integers(0, 2, 60).astype(float),
                  rng.integers(0, 2, 90).astype(float)))
    pairs.append(("round1_800_700", rnd(800, dec=1), rnd(700, 0.05, dec=1)))
    pairs.append(("big_offset", rnd(300, 1e6), rnd(200, 1e6 + 0.5)))
    pairs.append(("mix_20000_10000", mix(31, 20000, -5, 10), mix(32, 10000, -4.9, 10)))
    pairs.append(("mix_levels", mix(33, 5000, 0, 1, 17), mix(34, 3000, 0.02, 1, 17)))
    pairs.append(("prog_disjoint", prog(0, 0.5, 3000), prog(5000, 0.25, 2000)))
    return pairs
