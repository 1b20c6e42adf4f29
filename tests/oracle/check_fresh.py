#!/usr/bin/env python3
"""Regenerate every committed oracle file (tests/detectors/data/NAME.json from
tests/oracle/gen_NAME.py) into a temporary directory with the pinned scipy/River and compare
with the committed copy: numbers to 1e-15 relative (the same library on another CPU may differ
in the last bit), everything else exactly. Fails when a data file is stale or hand-edited."""
import json
import math
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "detectors", "data")


def same(a, b, path):
    if isinstance(a, bool) or isinstance(b, bool):
        if a is not b:
            raise AssertionError(f"{path}: {a!r} != {b!r}")
        return
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if a == b or (math.isnan(a) and math.isnan(b)):
            return
        if abs(a - b) <= 1e-15 * max(abs(a), abs(b)):
            return
        raise AssertionError(f"{path}: {a!r} != {b!r}")
    if type(a) is not type(b):
        raise AssertionError(f"{path}: type {type(a).__name__} != {type(b).__name__}")
    if isinstance(a, dict):
        if a.keys() != b.keys():
            raise AssertionError(f"{path}: keys differ: {sorted(a.keys() ^ b.keys())}")
        for k in a:
            same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        if len(a) != len(b):
            raise AssertionError(f"{path}: length {len(a)} != {len(b)}")
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{path}[{i}]")
    elif a != b:
        raise AssertionError(f"{path}: {a!r} != {b!r}")


def main():
    gens = sorted(f for f in os.listdir(HERE) if f.startswith("gen_") and f.endswith(".py"))
    if not gens:
        print("no oracle generators found", file=sys.stderr)
        return 1
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for g in gens:
            name = g[4:-3]
            out = os.path.join(tmp, name + ".json")
            subprocess.run([sys.executable, os.path.join(HERE, g), out], check=True)
            with open(out) as f:
                new = json.load(f)
            with open(os.path.join(DATA, name + ".json")) as f:
                old = json.load(f)
            try:
                same(new, old, name)
                print(f"{name}: committed oracle data is current")
            except AssertionError as e:
                print(f"{name}: STALE: {e}", file=sys.stderr)
                failed += 1
    print(f"{len(gens) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
