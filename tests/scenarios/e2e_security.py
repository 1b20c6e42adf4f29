#!/usr/bin/env python3
"""End to end: every labelled attack stream of security_scenarios.py replayed through
`driftd replay -c security.yaml`. For each attack the monitor meant for it fires at or
shortly after the attack's start (within the scenario's max_delay) with the expected tags and
evidence in output_fields; no other monitor fires on it, and nothing fires on the clean
stream (nor before any attack starts). Prints the scenario table. Also checks
`driftd report --json` over one stream (coverage, alerts by threat, evidence).

usage: e2e_security.py PATH/TO/driftd
"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import security_scenarios as sc  # noqa: E402

# Evidence an analyst needs, per monitor: output_fields keys the first alert must carry.
EVIDENCE = {
    "identity": ["model.sha256", "model.expected_sha256", "identity.reason"],
    "leak": ["canary.leaks", "client.id", "request_id"],
    "rate": ["client.id", "client.share", "statistic"],
    "extraction": ["client.id", "prada.w", "statistic", "client.class_entropy",
                   "client.low_confidence_share"],
    "probing": ["client.id", "client.near_duplicate_share"],
    "backdoor": ["input.value", "output.class", "rate.reference", "rate.window"],
    "confidence": ["confidence.reference_mean", "confidence.window_mean", "p_value"],
    "feedback": ["feedback.source", "disagreement.reference", "disagreement.window"],
    "amount-slow": ["score", "threshold"],
    "refusals": ["score", "p_value"],
    "tool-calls": ["score", "p_value"],
    "llm-leak": ["canary.index", "client.id"],
}
# What the evidence must say for the attacks of security_scenarios.py.
NAMED = {
    "unknown_model_hash": ("model.sha256", sc.SHA_SHADOW),
    "flooding_client": ("client.id", "flood-bot"),
    "extraction_client": ("client.id", "thief"),
    "probing_client": ("client.id", "prober"),
    "trigger_flip": ("input.value", "xx-trigger"),
    "label_flip": ("feedback.source", "annotator-c"),
    "exfil_image": ("exfil.host", "collect.attacker.example"),
}


def main():
    driftd = sys.argv[1]
    config = os.path.join(HERE, "security.yaml")
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        labels = sc.write(tmp)
        labels.update(sc.write_llm(os.path.join(tmp, "llm")))
        print(f"{'scenario':20} {'monitor':12} {'start':>6} {'delay':>6} {'false alarms':>12}")
        for name, lab in labels.items():
            fmt = lab.get("format")
            firing = sc.replay(driftd, os.path.join(HERE, "llm.yaml") if fmt else config,
                               lab["file"], fmt)
            detected, delay, fa, problems = sc.evaluate(lab, firing)
            first = next((a for a in firing if a["rule"] == lab["monitor"]
                          and a["output_fields"]["event.index"] >= (lab["start"] or 0)), None)
            if first:
                f = first["output_fields"]
                missing = [k for k in EVIDENCE[lab["monitor"]] if k not in f]
                if missing:
                    problems.append(f"evidence missing: {missing}")
                if name in NAMED and f.get(NAMED[name][0]) != NAMED[name][1]:
                    problems.append(f"{NAMED[name][0]} is {f.get(NAMED[name][0])!r}, "
                                    f"want {NAMED[name][1]!r}")
                if "security" not in first["tags"] and lab["monitor"] not in (
                        "amount-slow", "refusals", "tool-calls"):
                    problems.append("no 'security' tag")
                if lab["monitor"] == "refusals" and "threat:data_poisoning" in first["tags"]:
                    problems.append("a monitor's own threat tag must replace the generic one")
                if name == "canary_leak":
                    if first["priority"] != "Critical":
                        problems.append(f"canary leak priority {first['priority']}")
                    if sc.CANARY in str(first):
                        problems.append("the alert repeats the canary token")
            print(f"{name:20} {lab['monitor'] or '-':12} {lab['start'] or '-':>6} "
                  f"{'-' if delay is None else delay:>6} {len(fa):>12}")
            for p in problems:
                failures.append(f"{name}: {p}")
        # `driftd report --json`: coverage and alerts by threat for the audit
        rep = subprocess.run([driftd, "report", "--json", "-c", config,
                              labels["flooding_client"]["file"]],
                             capture_output=True, text=True)
        if rep.returncode != 0:
            failures.append(f"report: exit {rep.returncode}: {rep.stderr[-500:]}")
        else:
            doc = json.loads(rep.stdout)
            m = {x["id"]: x for x in doc["models"]}.get("assistant")
            if not m:
                failures.append("report: no model 'assistant'")
            else:
                if m["events"] != sc.N:
                    failures.append(f"report: {m['events']} events, want {sc.N}")
                if len(m["monitors"]) != 10:
                    failures.append(f"report: {len(m['monitors'])} monitors, want 10")
                if m["alerts_by_threat"] != {"abuse": 1, "model_extraction": 1}:
                    failures.append(f"report: alerts by threat {m['alerts_by_threat']}")
                if m["alerts"][0]["evidence"].get("client.id") != "flood-bot":
                    failures.append("report: evidence does not name flood-bot")
    for f in failures:
        print("FAIL", f, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
