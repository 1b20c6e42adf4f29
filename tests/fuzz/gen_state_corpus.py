#!/usr/bin/env python3
"""Seed corpus for fuzz_state: state documents of fuzz_state.c's configuration, saved by
`driftd replay --save-state` at several points of a stream (in the reference, mid-window,
after a shift), plus a few edited copies.

usage: gen_state_corpus.py PATH/TO/driftd OUTDIR"""
import json
import os
import random
import re
import subprocess
import sys
import tempfile
from pathlib import Path

driftd, out = sys.argv[1], Path(sys.argv[2])
src = (Path(__file__).parent / "fuzz_state.c").read_text()
body = src.split("static const char config[] =", 1)[1].split(";", 1)[0]
config = "".join(json.loads(s) for s in re.findall(r'"(?:[^"\\]|\\.)*"', body))
rng = random.Random(3)
out.mkdir(parents=True, exist_ok=True)
with tempfile.TemporaryDirectory() as tmp:
    cfg = os.path.join(tmp, "c.yaml")
    Path(cfg).write_text(config)
    for n in (25, 70, 133, 260):
        lines = []
        for i in range(n):
            s = 2.0 if i > 180 else 0.0
            lines.append(json.dumps({"model": {"id": "m"}, "input": {
                "x": rng.gauss(s, 1), "c": rng.choice("abc" if i < 180 else "abcde"),
                "v": [rng.gauss(s, 1), rng.gauss(0, 1)]}}))
        st = os.path.join(tmp, "s.json")
        subprocess.run([driftd, "replay", "-q", "-c", cfg, "--save-state", st, "-"],
                       input="\n".join(lines) + "\n", text=True, check=True,
                       capture_output=True)
        # A replay saves its state as the seed of a state document: the target loads both
        # that shard document alone and whole state documents (format 2: partitions with
        # their offsets and state, and the seed).
        whole = json.loads(Path(st).read_text())
        doc = whole["seed"]
        (out / f"saved-{n}").write_text(json.dumps(doc, sort_keys=True))
        (out / f"document-{n}").write_text(json.dumps(whole, sort_keys=True))
        parts = dict(whole, partitions=[
            {"topic": "logs", "partition": k, "next": n + k, "state": doc} for k in range(3)])
        (out / f"partitions-{n}").write_text(json.dumps(parts, sort_keys=True))
        if n == 133:
            m = doc["monitors"]
            m["ks"]["monitor"]["ref_n"] = 61
            (out / "edited-ref-n").write_text(json.dumps(doc, sort_keys=True))
            m["ks"]["monitor"]["ref_n"] = 60
            m["slide"]["monitor"]["ref_ring"]["x"].append(1.0)
            (out / "edited-ring").write_text(json.dumps(doc, sort_keys=True))
            m["emb"]["monitor"]["detector"]["data"] = "AAAA"
            (out / "edited-detector").write_text(json.dumps(doc, sort_keys=True))
        if n == 260:
            # A full window of values with a count of 0: once overflowed win_vals.
            m = doc["monitors"]["slide"]["monitor"]
            m["win_vals"], m["win_n"] = [0.5] * 20, 0
            (out / "edited-win-vals").write_text(json.dumps(doc, sort_keys=True))
