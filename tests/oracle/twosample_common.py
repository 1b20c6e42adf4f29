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
