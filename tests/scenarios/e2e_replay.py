#!/usr/bin/env python3
"""End-to-end replay test: driftd's alerts on generated streams must be exactly what scipy
(ks_2samp per window) and River (PageHinkley per value) say for the same values, on a stream
with one shifted feature (only that feature's monitors fire, at the right event.index) and on
a clean stream (nothing fires). Garbage lines are mixed in: they count in event.index, are
reported with file:line on stderr, and change nothing else.

usage: e2e_replay.py PATH/TO/driftd
"""
import json
import math
import os
import random
import subprocess
import sys
import tempfile

from river.drift import PageHinkley
from scipy.stats import ks_2samp

REF, WIN, ALPHA = 1000, 500, 0.001
# River's defaults (delta 0.005, threshold 50) fire on unit-variance noise within a few
# hundred values; these keep the clean stream quiet while a 2-sigma shift is found quickly.
PH_DELTA, PH_THRESHOLD = 0.5, 300
FEATURES = ["f0", "f1", "f2", "f3", "f4"]
SHIFTED = "f2"

CONFIG = """
limits: {max_record_bytes: 4096}
monitors:
"""
for f in FEATURES:
    CONFIG += f"""  - name: ks-{f}
    match: {{model: m1}}
    field: /input/{f}
    detector: ks
    params: {{alpha: {ALPHA}}}
    reference: {{size: {REF}}}
    window: {{size: {WIN}}}
"""
for f in ("f0", SHIFTED):
    CONFIG += f"""  - name: ph-{f}
    match: {{model: m1}}
    field: /input/{f}
    detector: page_hinkley
    params: {{delta: {PH_DELTA}, threshold: {PH_THRESHOLD}}}
"""

GARBAGE = [
    "not json at all",
    "[1, 2, 3]",
    '{"model": {"id": "m1"}, "input": {"f2": NaN}}',
    '{"input": {"f2": 1.0}}',
    "",
    '{"model": {"id": "m1"}, "input": {"f0": 1.0, "f1": 1.0, "f2": 1.0, "f3": 1.0, "f4": 1.0}',
    "x" * 10000,
    '{"model": {"id": "m1"}, "input": {"f0": "\xff\xfe"}}',
    "[" * 5000 + "]" * 5000,
    '{"model": {"id": "m1"}, "ts": "yesterday", "input": {}}',
]
# A line that is valid but gives a wrong type to every feature: reaches the monitors, which
# count it as wrong_type and skip it.
WRONG_TYPE = '{"model": {"id": "m1"}, "input": {"f0": "a", "f1": "b", "f2": true, "f3": null, "f4": [1]}}'


def make_stream(seed, shift_at, n=6000):
    rng = random.Random(seed)
    lines, values = [], {f: [] for f in FEATURES}  # values: (event.index, x) per feature
    g = 0
    for i in range(n):
        # Garbage every 397 events, cycling through the kinds.
        if i % 397 == 5:
            lines.append(GARBAGE[g % len(GARBAGE)])
            g += 1
        if i % 1201 == 7:
            lines.append(WRONG_TYPE)
        ev = {}
        for f in FEATURES:
            x = rng.gauss(0.0, 1.0)
            if f == SHIFTED and shift_at is not None and i >= shift_at:
                x += 2.0
            ev[f] = round(x, 6)
        idx = len(lines)
        for f in FEATURES:
            values[f].append((idx, ev[f]))
        ts = 1795780800000 + i * 1000
        lines.append(json.dumps({"ts": ts, "model": {"id": "m1", "version": "1"},
                                 "input": ev, "output": {"score": 0.5}}))
    return lines, values


def expected_ks(vals):
    xs = [x for _, x in vals]
    ref = xs[:REF]
    out = []
    for start in range(REF, len(xs) - WIN + 1, WIN):
        win = xs[start:start + WIN]
        r = ks_2samp(ref, win)
        out.append((vals[start + WIN - 1][0], float(r.statistic), float(r.pvalue)))
    return out  # (event.index, D, p) per window


def expected_ph(vals):
    ph = PageHinkley(delta=PH_DELTA, threshold=PH_THRESHOLD)
    hits = []
    for idx, x in vals:
        ph.update(x)
        if ph.drift_detected:
            hits.append(idx)
    return hits


def firing_episodes(flags):
    """Given (index, drift) in order, the indices where an alert (for=1, resolve_after=1)
    fires: each drift verdict that follows a non-drift one (or the start)."""
    fired, prev = [], False
    for idx, d in flags:
        if d and not prev:
            fired.append(idx)
        prev = d
    return fired


def run(driftd, tmp, name, lines):
    path = os.path.join(tmp, name + ".jsonl")
    with open(path, "wb") as f:
        for ln in lines:
            f.write(ln.encode("utf-8", "surrogateescape") if isinstance(ln, str) else ln)
            f.write(b"\n")
    cfg = os.path.join(tmp, "driftd.yaml")
    trace = os.path.join(tmp, name + ".trace")
    p = subprocess.run([driftd, "replay", "-c", cfg, "--trace", trace, path],
                       capture_output=True, timeout=300)
    assert p.returncode == 0, f"replay exited {p.returncode}: {p.stderr.decode()}"
    alerts = [json.loads(l) for l in p.stdout.decode().splitlines()]
    with open(trace) as f:
        tr = [json.loads(l) for l in f]
    return alerts, tr, p.stderr.decode(), path


def check_stream(driftd, tmp, name, shift_at, seed):
    lines, values = make_stream(seed, shift_at)
    # The invalid-UTF-8 garbage line must really be invalid on disk.
    lines = [ln.encode("latin-1") if "\xff" in ln else ln for ln in lines]
    alerts, trace, err, path = run(driftd, tmp, name, lines)
    failures = []

    expect_fired = {}
    for f in FEATURES:
        ks = expected_ks(values[f])
        got = [t for t in trace if t["monitor"] == f"ks-{f}"]
        if len(got) != len(ks):
            failures.append(f"ks-{f}: {len(got)} verdicts, scipy windows {len(ks)}")
            continue
        for t, (idx, d, p) in zip(got, ks):
            if t["event.index"] != idx:
                failures.append(f"ks-{f}: verdict at {t['event.index']}, expected {idx}")
                break
            if abs(t["score"] - d) > 1e-14 or abs(t["p_value"] - p) > 1e-12 * max(p, 1e-300):
                failures.append(f"ks-{f}@{idx}: D={t['score']} p={t['p_value']} "
                                f"scipy D={d} p={p}")
                break
            if t["drift"] != (p < ALPHA):
                failures.append(f"ks-{f}@{idx}: drift={t['drift']} but scipy p={p}")
                break
        expect_fired[f"ks-{f}"] = firing_episodes([(i, p < ALPHA) for i, _, p in ks])
    for f in ("f0", SHIFTED):
        hits = expected_ph(values[f])
        got = [t["event.index"] for t in trace if t["monitor"] == f"ph-{f}" and t["drift"]]
        if got != hits:
            failures.append(f"ph-{f}: drift at {got[:10]}, River at {hits[:10]}")
        # River resets after a drift, so each detection is a new episode unless the next
        # verdict is another drift: compute from the per-value verdict stream.
        per_value = [(t["event.index"], t["drift"]) for t in trace if t["monitor"] == f"ph-{f}"]
        expect_fired[f"ph-{f}"] = firing_episodes(per_value)

    got_fired = {}
    for a in alerts:
        if a["status"] == "firing":
            got_fired.setdefault(a["rule"], []).append(a["output_fields"]["event.index"])
        for k in ("id", "fingerprint", "time", "rule", "priority", "source", "hostname",
                  "output", "tags", "output_fields"):
            if k not in a:
                failures.append(f"alert lacks {k}: {a}")
    for rule, idxs in expect_fired.items():
        if got_fired.get(rule, []) != idxs:
            failures.append(f"{rule}: fired at {got_fired.get(rule, [])}, expected {idxs}")
    for rule in got_fired:
        if rule not in expect_fired:
            failures.append(f"unexpected alert from {rule}")

    # Every garbage line is reported with its file:line (up to the per-reason limit).
    base = os.path.basename(path)
    garbage_lines = [i + 1 for i, ln in enumerate(lines)
                     if (ln if isinstance(ln, str) else ln.decode("latin-1")) in GARBAGE
                     or isinstance(ln, bytes)]
    first = garbage_lines[0]
    if f"{path}:{first}: record rejected" not in err:
        failures.append(f"stderr does not report {base}:{first}: {err[:500]}")
    if "wrong_type=" not in err:
        failures.append("summary does not count wrong_type values")
    return failures, expect_fired


def check_baseline(driftd, tmp):
    """A pinned reference: `driftd baseline` over a training log, then replay of another log
    with `reference: {size, file}`: windows start at the first record (no reference phase),
    verdicts equal scipy against the training values, alerts carry the file's SHA-256."""
    import hashlib
    failures = []
    cfg = os.path.join(tmp, "pinned.yaml")
    with open(cfg, "w") as f:
        f.write(CONFIG.replace(f"reference: {{size: {REF}}}",
                               f"reference: {{size: {REF}, file: base.json}}"))
    train, train_vals = make_stream(11, None)
    live, live_vals = make_stream(12, 1500, n=4000)
    paths = []
    for name, lines in (("train", train), ("live", live)):
        path = os.path.join(tmp, name + ".jsonl")
        with open(path, "wb") as f:
            for ln in lines:
                f.write(ln.encode("latin-1") if "\xff" in ln else ln.encode())
                f.write(b"\n")
        paths.append(path)
    # Without the file, check points at the missing baseline.
    p = subprocess.run([driftd, "check", "-c", cfg], capture_output=True, text=True)
    if p.returncode != 1 or "cannot read baseline" not in p.stderr:
        failures.append(f"check without baseline: rc={p.returncode} {p.stderr[:300]}")
    out = os.path.join(tmp, "base.json")
    p = subprocess.run([driftd, "baseline", "-c", cfg, "-o", out, paths[0]],
                       capture_output=True, text=True)
    if p.returncode != 0:
        return [f"baseline failed: {p.stderr}"]
    sha = hashlib.sha256(open(out, "rb").read()).hexdigest()
    if p.stdout.strip() != f"{sha}  {out}":
        failures.append(f"baseline printed {p.stdout!r}, file sha256 {sha}")
    doc = json.load(open(out))
    if doc["inputs"][0]["sha256"] != hashlib.sha256(open(paths[0], "rb").read()).hexdigest():
        failures.append("baseline records a wrong input sha256")
    trace = os.path.join(tmp, "pinned.trace")
    p = subprocess.run([driftd, "replay", "-c", cfg, "--trace", trace, paths[1]],
                       capture_output=True, text=True)
    if p.returncode != 0:
        return failures + [f"replay with baseline failed: {p.stderr}"]
    tr = [json.loads(l) for l in open(trace)]
    for f in FEATURES:
        ref = [x for _, x in train_vals[f][:REF]]
        xs = live_vals[f]
        got = [t for t in tr if t["monitor"] == f"ks-{f}"]
        want = []
        for start in range(0, len(xs) - WIN + 1, WIN):
            r = ks_2samp(ref, [x for _, x in xs[start:start + WIN]])
            want.append((xs[start + WIN - 1][0], float(r.pvalue)))
        if [(t["event.index"]) for t in got] != [i for i, _ in want]:
            failures.append(f"pinned ks-{f}: verdicts at {[t['event.index'] for t in got][:5]}"
                            f", want {[i for i, _ in want][:5]}")
            continue
        for t, (i, pv) in zip(got, want):
            if abs(t["p_value"] - pv) > 1e-12 * max(pv, 1e-300):
                failures.append(f"pinned ks-{f}@{i}: p {t['p_value']} vs scipy {pv}")
                break
    alerts = [json.loads(l) for l in p.stdout.splitlines()]
    ks_alerts = [a for a in alerts if a["rule"].startswith("ks-")]
    if not ks_alerts or {a["rule"] for a in ks_alerts} != {f"ks-{SHIFTED}"}:
        failures.append(f"pinned: ks alerts from {sorted({a['rule'] for a in ks_alerts})}")
    for a in ks_alerts:
        if a["output_fields"].get("reference.sha256") != sha:
            failures.append(f"pinned: alert lacks reference.sha256 {sha}: {a['output_fields']}")
            break
    return failures


def check_group(driftd, tmp):
    """Five KS monitors in one Benjamini-Hochberg group: per window round, the trace's
    p_adjusted equals scipy.stats.false_discovery_control over the round's p-values, and drift
    is p_adjusted <= alpha; the same with Bonferroni (min(1, p m))."""
    from scipy.stats import false_discovery_control
    failures = []
    lines, values = make_stream(21, 2000)
    path = os.path.join(tmp, "group.jsonl")
    with open(path, "wb") as f:
        for ln in lines:
            f.write(ln.encode("latin-1") if "\xff" in ln else ln.encode())
            f.write(b"\n")
    for corr in ("bh", "bonferroni"):
        cfg = os.path.join(tmp, f"group-{corr}.yaml")
        with open(cfg, "w") as f:
            f.write(f"groups: {{feat: {{correction: {corr}, alpha: 0.05}}}}\n")
            f.write(CONFIG.replace("    detector: ks\n", "    detector: ks\n    group: feat\n")
                    .replace(f"alpha: {ALPHA}", "alpha: 0.05"))
        trace = os.path.join(tmp, f"group-{corr}.trace")
        p = subprocess.run([driftd, "replay", "-c", cfg, "--trace", trace, path],
                           capture_output=True, text=True)
        if p.returncode != 0:
            return [f"{corr}: replay failed: {p.stderr}"]
        tr = [json.loads(l) for l in open(trace)]
        per = {f: [t for t in tr if t["monitor"] == f"ks-{f}"] for f in FEATURES}
        rounds = len(per[FEATURES[0]])
        if rounds == 0 or any(len(v) != rounds for v in per.values()):
            return [f"{corr}: uneven rounds {[len(v) for v in per.values()]}"]
        drifted = 0
        for r in range(rounds):
            ps = [per[f][r]["p_value"] for f in FEATURES]
            if corr == "bh":
                qs = false_discovery_control(ps, method="bh")
            else:
                qs = [min(1.0, x * len(ps)) for x in ps]
            for f, q in zip(FEATURES, qs):
                t = per[f][r]
                if abs(t["p_adjusted"] - q) > 1e-12 * q:
                    failures.append(f"{corr} round {r} {f}: {t['p_adjusted']} vs scipy {q}")
                if t["drift"] != (q <= 0.05):
                    failures.append(f"{corr} round {r} {f}: drift {t['drift']}, q {q}")
                drifted += t["drift"]
        if not drifted:
            failures.append(f"{corr}: the shifted feature never drifted")
        alerts = [json.loads(l) for l in p.stdout.splitlines()]
        for a in alerts:
            if a["rule"].startswith("ks-") and (a["output_fields"].get("group") != "feat"
                                               or "p_adjusted" not in a["output_fields"]):
                failures.append(f"{corr}: alert lacks group fields: {a['output_fields']}")
                break
    return failures


M64 = (1 << 64) - 1


def monitor_seed(name):
    """The pipeline's per-monitor seed: FNV-1a 64 of the monitor's name."""
    h = 1469598103934665603
    for b in name.encode():
        h = ((h ^ b) * 1099511628211) & M64
    return h


def chunk_ds(ref, win, name):
    """KS D of reference chunks against the rest, as lib/monitor.c chooses them: consecutive
    chunks, then random ones (partial Fisher-Yates with splitmix64) up to 32 in all."""
    n = len(ref)
    chunks = n // win
    out = []
    for r in range(max(chunks, 32)):
        if r < chunks:
            mask = [r * win <= i < (r + 1) * win for i in range(n)]
        else:
            st = monitor_seed(name) ^ r
            idx = list(range(n))
            mask = [False] * n
            for i in range(win):
                st = (st + 0x9e3779b97f4a7c15) & M64
                z = st
                z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M64
                z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M64
                z ^= z >> 31
                j = i + z % (n - i)
                idx[i], idx[j] = idx[j], idx[i]
                mask[idx[i]] = True
        rest = [x for x, m in zip(ref, mask) if not m]
        chunk = [x for x, m in zip(ref, mask) if m]
        out.append(float(ks_2samp(rest, chunk).statistic))
    return out


def check_calibrate_min_effect(driftd, tmp):
    """calibrate: k: the trace's threshold is mean + k std (ddof 0) of scipy's KS D of each
    reference chunk (one window) against the rest of the reference, and drift is D > it.
    min_effect: drift needs p < alpha and D >= min_effect."""
    import statistics
    failures = []
    lines, values = make_stream(31, 2500)
    path = os.path.join(tmp, "cal.jsonl")
    with open(path, "wb") as f:
        for ln in lines:
            f.write(ln.encode("latin-1") if "\xff" in ln else ln.encode())
            f.write(b"\n")
    # alpha 0.5 makes many null windows "significant" with D well below the floor.
    k, floor = 2.5, 0.1
    cfg = os.path.join(tmp, "cal.yaml")
    with open(cfg, "w") as f:
        f.write(f"""monitors:
  - {{name: cal, field: /input/{SHIFTED}, detector: ks, params: {{calibrate: {k}}},
     reference: {{size: {REF}}}, window: {{size: {WIN}}}}}
  - {{name: eff-{SHIFTED}, field: /input/{SHIFTED}, detector: ks,
     params: {{alpha: 0.5, min_effect: {floor}}}, reference: {{size: {REF}}}, window: {{size: {WIN}}}}}
  - {{name: eff-f0, field: /input/f0, detector: ks,
     params: {{alpha: 0.5, min_effect: {floor}}}, reference: {{size: {REF}}}, window: {{size: {WIN}}}}}
""")
    trace = os.path.join(tmp, "cal.trace")
    p = subprocess.run([driftd, "replay", "-c", cfg, "--trace", trace, path],
                       capture_output=True, text=True)
    if p.returncode != 0:
        return [f"replay failed: {p.stderr}"]
    tr = [json.loads(l) for l in open(trace)]
    xs = [x for _, x in values[SHIFTED]]
    ref = xs[:REF]
    ds = chunk_ds(ref, WIN, "cal")
    thr = statistics.fmean(ds) + k * statistics.pstdev(ds)
    cal = [t for t in tr if t["monitor"] == "cal"]
    if not cal:
        failures.append("calibrate: no verdicts")
    for t in cal:
        if abs(t["threshold"] - thr) > 1e-11 * thr:
            failures.append(f"calibrate: threshold {t['threshold']} vs oracle {thr}")
            break
        if t["drift"] != (t["score"] > thr):
            failures.append(f"calibrate: drift {t['drift']} with D {t['score']} thr {thr}")
            break
    if not any(t["drift"] for t in cal):
        failures.append("calibrate: the shift was never found")
    suppressed = drifted = 0
    for feat in (SHIFTED, "f0"):
        fx = [x for _, x in values[feat]]
        eff = [t for t in tr if t["monitor"] == f"eff-{feat}"]
        for t, start in zip(eff, range(REF, len(fx) - WIN + 1, WIN)):
            r = ks_2samp(fx[:REF], fx[start:start + WIN])
            want = bool(r.pvalue < 0.5 and r.statistic >= floor)
            suppressed += bool(r.pvalue < 0.5 and r.statistic < floor)
            drifted += want
            if t["drift"] != want:
                failures.append(f"min_effect {feat}: drift {t['drift']}, scipy p {r.pvalue} "
                                f"D {r.statistic}")
                break
    if not drifted:
        failures.append("min_effect: the shift was never found")
    # The stream must exercise the floor: some windows significant but below it.
    if suppressed == 0:
        failures.append("min_effect: no window was significant yet below the floor")
    return failures


def check_slow_ramp(driftd, tmp):
    """Boiling frog: a slow ramp on one feature. A `cumulative` KS monitor (CUSUM of the
    standardised window D against the fixed reference) must fire on the ramp and stay quiet on
    the clean stream; its per-window sums equal an oracle built from scipy's D."""
    import statistics
    ref_n, win, k, h = 2000, 250, 1.0, 10.0  # the defaults
    failures = []
    cfg = os.path.join(tmp, "ramp.yaml")
    with open(cfg, "w") as f:
        f.write(f"""monitors:
  - {{name: cum, field: /input/{SHIFTED}, detector: ks, cumulative: {{}},
     reference: {{size: {ref_n}}}, window: {{size: {win}}}}}
""")
    for name, ramp in (("ramp", True), ("flat", False)):
        rng = random.Random(41)
        xs, lines = [], []
        for i in range(12000):
            x = rng.gauss(0.0, 1.0) + (max(0, i - ref_n) / 10000.0 if ramp else 0.0)
            xs.append(round(x, 6))
            lines.append(json.dumps({"model": {"id": "m1"}, "input": {SHIFTED: xs[-1]}}))
        path = os.path.join(tmp, name + ".jsonl")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        trace = os.path.join(tmp, name + ".trace")
        p = subprocess.run([driftd, "replay", "-c", cfg, "--trace", trace, path],
                           capture_output=True, text=True)
        if p.returncode != 0:
            return [f"{name}: replay failed: {p.stderr}"]
        tr = [json.loads(l) for l in open(trace)]
        ref = xs[:ref_n]
        ds = chunk_ds(ref, win, "cum")
        mu, sd = statistics.fmean(ds), statistics.pstdev(ds)
        s, want = 0.0, []
        for start in range(ref_n, len(xs) - win + 1, win):
            d = float(ks_2samp(ref, xs[start:start + win]).statistic)
            s = max(0.0, s + (d - mu) / sd - k)
            want.append((start + win - 1, s, s > h))
        if len(tr) != len(want):
            failures.append(f"{name}: {len(tr)} verdicts, want {len(want)}")
            continue
        for t, (idx, sw, dw) in zip(tr, want):
            if t["event.index"] != idx or abs(t["score"] - sw) > 1e-9 * max(1.0, sw) \
                    or t["drift"] != dw:
                failures.append(f"{name}@{idx}: S {t['score']} drift {t['drift']}, "
                                f"oracle S {sw} drift {dw}")
                break
        fired = [json.loads(l) for l in p.stdout.splitlines()]
        if ramp and not any(a["status"] == "firing" for a in fired):
            failures.append("ramp: the cumulative monitor never fired")
        if not ramp and fired:
            failures.append(f"flat: false alarm at {fired[0]['output_fields']['event.index']}")
    return failures


def check_window_policies(driftd, tmp):
    """Time windows (tumbling and sliding), sliding count windows and a sliding reference, each
    against scipy's ks_2samp over the windows the policy defines."""
    failures = []
    lines, values = make_stream(51, 3000, n=5000)
    path = os.path.join(tmp, "pol.jsonl")
    with open(path, "wb") as f:
        for ln in lines:
            f.write(ln.encode("latin-1") if "\xff" in ln else ln.encode())
            f.write(b"\n")
    ts = {}
    for i, ln in enumerate(lines):
        try:
            ts[i] = json.loads(ln)["ts"]
        except Exception:
            pass
    cfg = os.path.join(tmp, "pol.yaml")
    mk = lambda name, ref, win: (f"  - {{name: {name}, field: /input/{SHIFTED}, detector: ks, "
                                 f"reference: {ref}, window: {win}}}\n")
    with open(cfg, "w") as f:
        f.write("monitors:\n")
        f.write(mk("time", "{size: 1000}", "{duration: 500s}"))
        f.write(mk("timeslide", "{size: 1000}", "{duration: 500s, step: 250s}"))
        f.write(mk("slide", "{size: 1000}", "{size: 500, step: 250}"))
        f.write(mk("refslide", "{size: 1000, sliding: true}", "{size: 500}"))
    trace = os.path.join(tmp, "pol.trace")
    p = subprocess.run([driftd, "replay", "-c", cfg, "--trace", trace, path],
                       capture_output=True, text=True)
    if p.returncode != 0:
        return [f"replay failed: {p.stderr}"]
    tr = [json.loads(l) for l in open(trace)]
    vals = values[SHIFTED]  # (event.index, x)
    ref = [x for _, x in vals[:1000]]
    post = vals[1000:]
    want = {"time": [], "timeslide": [], "slide": [], "refslide": []}
    # tumbling by time: buckets of 500 s; the first record of the next bucket closes one
    cur, bucket = [], None
    for idx, x in post:
        b = ts[idx] // 500000
        if bucket is not None and b > bucket and cur:
            want["time"].append((idx, cur))
            cur = []
        bucket = b if bucket is None or b > bucket else bucket
        cur.append(x)
    # sliding by time: at each 250 s boundary, the values of the last 500 s
    seen, start = [], None
    for idx, x in post:
        b = ts[idx] // 250000 * 250000
        if start is None:
            start = b
        if b > start:
            w = [v for t, v in seen if t >= b - 500000]
            if w:
                want["timeslide"].append((idx, w))
            start = b
        seen.append((ts[idx], x))
    # sliding by count: the last 500 values, every 250 once 500 are there
    xs = [x for _, x in post]
    for k in range(500, len(xs) + 1, 250):
        want["slide"].append((post[k - 1][0], xs[k - 500:k]))
    # sliding reference: each window against the 1000 values before it
    allx = [x for _, x in vals]
    for k in range(1000, len(allx) - 499, 500):
        want["refslide"].append((vals[k + 499][0], allx[k:k + 500], allx[k - 1000:k]))
    for name, exp in want.items():
        got = [t for t in tr if t["monitor"] == name]
        if len(got) != len(exp) or not exp:
            failures.append(f"{name}: {len(got)} verdicts, oracle {len(exp)}")
            continue
        for t, e in zip(got, exp):
            r = ks_2samp(e[2] if name == "refslide" else ref, e[1])
            if t["event.index"] != e[0] or abs(t["p_value"] - r.pvalue) > 1e-12 * max(
                    r.pvalue, 1e-300):
                failures.append(f"{name}: verdict at {t['event.index']} p {t['p_value']}, "
                                f"oracle at {e[0]} p {r.pvalue}")
                break
    return failures


def check_telemetry_gap(driftd, tmp):
    """A model that stops logging raises driftd.telemetry_gap once its silence passes
    telemetry.gap (in the records' event time, in replay), and resolves when it logs again;
    a model that keeps logging does not."""
    failures = []
    lines = []
    t0 = 1795780800000
    for i in range(4000):
        lines.append(json.dumps({"ts": t0 + i * 1000, "model": {"id": "m1"}, "input": {"x": 1}}))
        if not 2000 <= i < 3000:  # m2 is silent for 1000 s
            lines.append(json.dumps({"ts": t0 + i * 1000, "model": {"id": "m2"},
                                     "input": {"x": 1}}))
    path = os.path.join(tmp, "gap.jsonl")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    cfg = os.path.join(tmp, "gap.yaml")
    with open(cfg, "w") as f:
        f.write("telemetry: {gap: 60s}\nmonitors:\n"
                "  - {name: x, field: /input/x, detector: page_hinkley}\n")
    p = subprocess.run([driftd, "replay", "-c", cfg, path], capture_output=True, text=True)
    alerts = [json.loads(l) for l in p.stdout.splitlines()]
    gaps = [a for a in alerts if a["rule"] == "driftd.telemetry_gap"]
    if p.returncode != 0:
        return [f"replay failed: {p.stderr}"]
    if [a["status"] for a in gaps] != ["firing", "resolved"]:
        return [f"gap alerts {[(a['status'], a['output_fields']) for a in gaps]}"]
    fire, res = gaps
    # m2's last record is at t0 + 1999 s; the first record more than 60 s later is at 2060 s
    if fire["output_fields"]["model.id"] != "m2" or fire["time"] != "2026-11-27T12:34:20.000Z":
        failures.append(f"firing: {fire['time']} {fire['output_fields']}")
    if res["time"] != "2026-11-27T12:50:00.000Z" or res["fingerprint"] != fire["fingerprint"]:
        failures.append(f"resolved: {res['time']} {res['fingerprint']}")
    if "self" not in fire["tags"] or "threat:telemetry_gap" not in fire["tags"]:
        failures.append(f"tags {fire['tags']}")
    return failures


def main():
    driftd = sys.argv[1]
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "driftd.yaml"), "w") as f:
            f.write(CONFIG)
        fl, fired = check_stream(driftd, tmp, "shifted", 3000, 7)
        failures += [f"shifted: {x}" for x in fl]
        # The shift must actually be found, and only on the shifted feature.
        if not fired.get(f"ks-{SHIFTED}") or fired[f"ks-{SHIFTED}"][0] < 3000:
            failures.append(f"shifted: ks-{SHIFTED} expected to fire after the shift: {fired}")
        others = {k: v for k, v in fired.items() if SHIFTED not in k and v}
        if others:
            failures.append(f"shifted: unshifted features fired: {others}")
        fl, fired = check_stream(driftd, tmp, "clean", None, 7)
        failures += [f"clean: {x}" for x in fl]
        if any(fired.values()):
            failures.append(f"clean: oracles predict alerts on the clean stream: {fired}")
        failures += [f"baseline: {x}" for x in check_baseline(driftd, tmp)]
        failures += [f"group: {x}" for x in check_group(driftd, tmp)]
        failures += [f"calibrate: {x}" for x in check_calibrate_min_effect(driftd, tmp)]
        failures += [f"slow ramp: {x}" for x in check_slow_ramp(driftd, tmp)]
        failures += [f"policies: {x}" for x in check_window_policies(driftd, tmp)]
        failures += [f"telemetry: {x}" for x in check_telemetry_gap(driftd, tmp)]
    for f in failures:
        print("FAIL", f)
    print(f"{0 if failures else 8} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
