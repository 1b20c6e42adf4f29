"""What the integration test scripts share: TAP-like check lines with a tally, polling with a
deadline, driftd trace files, and stopping a driftd the way systemd does."""
import json
import os
import signal
import subprocess
import time

_tally = {"passed": 0, "failed": 0}


def check(cond, what, detail=""):
    """One "ok - ..." or "FAIL - ...: detail" line, counted for summary()."""
    if cond:
        _tally["passed"] += 1
        print(f"ok - {what}", flush=True)
    else:
        _tally["failed"] += 1
        print(f"FAIL - {what}" + (f": {detail}" if detail else ""), flush=True)


def summary():
    """Print the tally; the script's exit status (1 when anything failed)."""
    print(f"{_tally['passed']} passed, {_tally['failed']} failed")
    return 1 if _tally["failed"] else 0


def wait_for(pred, timeout, what, every=0.2, ignore=()):
    """Poll pred until it is true or timeout seconds passed (exceptions of the types in
    ignore count as not yet); says what timed out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if pred():
                return True
        except ignore:
            pass
        time.sleep(every)
    print(f"# timed out waiting for {what}", flush=True)
    return False


def trace_lines(path):
    """The complete lines of a driftd --trace file written so far, parsed."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(ln) for ln in f if ln.endswith("\n")]


def stop(proc, timeout=15):
    """SIGTERM, then SIGKILL after timeout seconds: (exit status or None, seconds taken)."""
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        rc = None
    return rc, time.monotonic() - t0
