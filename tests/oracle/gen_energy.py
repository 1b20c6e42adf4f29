#!/usr/bin/env python3
"""Oracle data for the energy detector: scipy.stats.energy_distance(reference, window) of
scipy 1.17.1. Writes tests/detectors/data/energy.json (or argv[1]). Each case: x, y (samples,
see twosample_common.py), distance."""
import os
import sys

from twosample_common import as_json_sample, distance_pairs, expand, write

import numpy as np  # noqa: E402
import scipy  # noqa: E402
from scipy import stats  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "..", "detectors", "data", "energy.json")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUT
    cases = []
    for name, x, y in distance_pairs(20260520):
        dist = float(stats.energy_distance(expand(x), expand(y)))
        cases.append({"name": name, "x": as_json_sample(x), "y": as_json_sample(y),
                      "distance": dist})
    write({"generator": "tests/oracle/gen_energy.py",
           "versions": {"numpy": np.__version__, "scipy": scipy.__version__},
           "cases": cases}, out)


if __name__ == "__main__":
    main()
