#!/usr/bin/env python3
"""Security monitors: detection delay and false alarms per labelled attack scenario
(tests/scenarios/security_scenarios.py over tests/scenarios/security.yaml), then false alarms
on extra clean baselines drawn with other seeds. Printed, never asserted (the e2e_security
test asserts). Delay is in events after the attack's start (and seconds at the scenario's
10 events/s); a false alarm is any firing alert that is not the attack's own monitor (or an
`also` monitor) after the start.

usage: bench_security.py BUILD_DIR [EXTRA_CLEAN_SEEDS]"""
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SCEN = os.path.join(HERE, "..", "tests", "scenarios")
sys.path.insert(0, SCEN)
import security_scenarios as sc  # noqa: E402


def main():
    build = os.path.abspath(sys.argv[1])
    seeds = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    driftd = os.path.join(build, "daemon", "driftd")
    config = os.path.join(SCEN, "security.yaml")
    print(f"security scenarios: {sc.N} events each, attack from event {sc.START}, "
          f"10 monitors (tests/scenarios/security.yaml); llm_*: OpenAI chat logs through "
          f"replay --format openai-chat (tests/scenarios/llm.yaml)")
    print(f"{'scenario':20} {'monitor':12} {'detected':>8} {'delay ev':>9} {'delay s':>8} "
          f"{'false alarms':>12}  also fired")
    total_fa = 0
    with tempfile.TemporaryDirectory() as tmp:
        labels = sc.write(tmp)
        labels.update(sc.write_llm(os.path.join(tmp, "llm")))
        t0 = time.perf_counter()
        for name, lab in labels.items():
            fmt = lab.get("format")
            firing = sc.replay(driftd, os.path.join(SCEN, "llm.yaml") if fmt else config,
                               lab["file"], fmt)
            detected, delay, fa, _ = sc.evaluate(lab, firing)
            also = sorted({a["rule"] for a in firing if a["rule"] in lab["also"]})
            total_fa += len(fa)
            print(f"{name:20} {lab['monitor'] or '-':12} "
                  f"{('yes' if detected else 'NO') if lab['monitor'] else '-':>8} "
                  f"{'-' if delay is None else delay:>9} "
                  f"{'-' if delay is None else f'{delay / 10:.1f}':>8} {len(fa):>12}  "
                  f"{', '.join(also)}")
        dt = time.perf_counter() - t0
        # every stream's events before its attack are clean too
        clean_events = sum(sc.N if lab["monitor"] is None else sc.START
                           for lab in labels.values())
        extra = 0
        for s in range(1, seeds + 1):
            d = os.path.join(tmp, f"seed{s}")
            lab = sc.write(d, seed=f"-{s}")["clean"]
            firing = sc.replay(driftd, config, lab["file"])
            extra += len(firing)
            clean_events += sc.N
        total_fa += extra
    print(f"false alarms on clean traffic: {total_fa} in {clean_events} clean events "
          f"({seeds} extra clean baselines: {extra})")
    print(f"replay of the {len(labels)} scenarios: {dt:.1f} s")


if __name__ == "__main__":
    main()
