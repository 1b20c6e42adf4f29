"""ctest integration_state_topic: the state topic (daemon/state_topic.c) against a real broker.

Starts a broker (kafka/harness.py) and runs the C test binary with its bootstrap address. The
binary asks for broker restarts on its stdout ("@@broker stop" / "@@broker start"); this
driver does them and answers "ok" on its stdin. Everything else the binary prints is passed on.
"""

import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "kafka"))
from harness import Broker  # noqa: E402


def main() -> int:
    if len(sys.argv) != 2:
        print(f"usage: {sys.argv[0]} TEST_BINARY", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp, Broker(tmp) as b:
        print(f"broker {b.bootstrap} started in {b.start_seconds:.1f}s", flush=True)
        p = subprocess.Popen([sys.argv[1], b.bootstrap], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, bufsize=1)
        try:
            for line in p.stdout:
                if line.startswith("@@broker "):
                    what = line.split()[1]
                    t0 = time.monotonic()
                    if what == "stop":
                        b.stop()
                    elif what == "start":
                        b.start()
                    else:
                        raise RuntimeError(f"unknown request {line!r}")
                    print(f"broker {what}: {time.monotonic() - t0:.1f}s", flush=True)
                    p.stdin.write("ok\n")
                    p.stdin.flush()
                else:
                    print(line, end="", flush=True)
            rc = p.wait(timeout=60)
        except BaseException:
            p.kill()
            print(b.log_tail(), file=sys.stderr)
            raise
        if rc != 0:
            print("broker log tail:\n" + b.log_tail(), file=sys.stderr)
        return rc


if __name__ == "__main__":
    sys.exit(main())
