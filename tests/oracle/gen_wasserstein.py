#!/usr/bin/env python3
"""Oracle data for the wasserstein detector: Evidently's normalised Wasserstein distance,
scipy.stats.wasserstein_distance(reference, window) / max(np.std(reference), 0.001) with
scipy 1.17.1 and numpy's population std (ddof 0). Writes tests/detectors/data/wasserstein.json
(or argv[1]). Each case: x, y (samples, see twosample_common.py), distance, std, score."""
import os
import sys

from twosample_common import as_json_sample, distance_pairs, expand, write

import numpy as np  # noqa: E402
import scipy  # noqa: E402
from scipy import stats  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "..", "detectors", "data", "wasserstein.json")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUT
    cases = []
    for name, x, y in distance_pairs(20260519):
        xs, ys = expand(x), expand(y)
        dist = float(stats.wasserstein_distance(xs, ys))
        sd = float(np.std(xs))
        cases.append({"name": name, "x": as_json_sample(x), "y": as_json_sample(y),
                      "distance": dist, "std": sd, "score": dist / max(sd, 0.001)})
    write({"generator": "tests/oracle/gen_wasserstein.py",
           "versions": {"numpy": np.__version__, "scipy": scipy.__version__},
           "cases": cases}, out)


if __name__ == "__main__":
    main()
