#!/usr/bin/env python3
"""driftd's Debian package under real systemd 252: boots a Debian 12 VM under QEMU (software
emulation; KVM with DRIFTD_VM_KVM=1), installs the .deb built from this tree with
dpkg, and runs tests/vm/guest.sh there (install, READY before active, STATUS summary, dynamic
user and read-only /, metrics, reload with a good and a bad configuration, the watchdog
killing and systemd restarting a service whose consume loop hangs (tests/vm/hang.c, preloaded,
hangs that one thread while the others run on), clean stop). The bad reload's self-alert must reach a real webhook
receiver on the host, bound to 127.0.0.1 only and reached through QEMU's user networking;
its Standard Webhooks signature is verified with the secret the unit received through
LoadCredential=. The host also scrapes the service's metrics through a QEMU hostfwd bound to
127.0.0.1 only.

The image (kernel, busybox initramfs, minbase root) is built once by build_image.sh into
~/.cache/driftd-vm (DRIFTD_VM_CACHE overrides); each run boots it with -snapshot, so it stays
pristine.

usage: test_vm.py SRC_DIR WORK_DIR
"""

import base64
import http.server
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

SRC = Path(sys.argv[1]).resolve()
WORK = Path(sys.argv[2]).resolve()
sys.path.insert(0, str(SRC / "tests" / "integration"))
from webhook_receiver import Receiver  # noqa: E402

CACHE = Path(os.environ.get("DRIFTD_VM_CACHE", Path.home() / ".cache" / "driftd-vm"))
passed = failed = 0


def check(cond, what, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print(f"ok - {what}", flush=True)
    else:
        failed += 1
        print(f"FAIL - {what}" + (f": {detail}" if detail else ""), flush=True)


def kvm_usable():
    """Only when asked (DRIFTD_VM_KVM=1): on the machines this was written on /dev/kvm exists
    but a guest under it never gets going (reference/reliability.md), and a probe that starts
    an empty machine succeeds all the same."""
    return os.environ.get("DRIFTD_VM_KVM") == "1" and os.access("/dev/kvm", os.R_OK | os.W_OK)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Scraper:
    """Scrapes the guest's metrics through QEMU's hostfwd (bound to the host's 127.0.0.1) until
    it gets a valid exposition, and tells the guest so on GET /scraped of a small server of its
    own (the guest waits for it: no timing between the two sides)."""

    def __init__(self, port):
        self.url = f"http://127.0.0.1:{port}/metrics"
        self.text = None
        self.done = threading.Event()
        me = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                ok = self.path == "/scraped" and me.text is not None
                self.send_response(200 if ok else 404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while not self.done.is_set() and self.text is None:
            try:
                with urllib.request.urlopen(self.url, timeout=5) as r:
                    body = r.read().decode()
                if r.status == 200 and "driftd_build_info{" in body:
                    self.text = body
            except OSError:
                pass
            self.done.wait(0.5)

    def stop(self):
        self.done.set()
        self.server.shutdown()


def main():
    WORK.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    subprocess.run(["sh", str(SRC / "tests" / "vm" / "build_image.sh"), str(CACHE)], check=True)
    print(f"# image ready in {time.monotonic() - t0:.0f} s ({CACHE})", flush=True)
    deb = subprocess.run(["sh", str(SRC / "packaging" / "build-deb.sh"), str(WORK / "deb"), "2"],
                         check=True, capture_output=True, text=True).stdout.split()[-1]
    print(f"# package: {deb}", flush=True)

    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    recv = Receiver(secret=secret)  # binds 127.0.0.1 only
    recv.start()
    disk = WORK / "t"
    shutil.rmtree(disk, ignore_errors=True)
    disk.mkdir()
    shutil.copy(deb, disk / "driftd.deb")
    shutil.copy(SRC / "tests" / "vm" / "guest.sh", disk / "guest.sh")
    # Fault injection for the watchdog check: hangs the consume loop's thread only.
    subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-o", str(disk / "hang.so"),
                    str(SRC / "tests" / "vm" / "hang.c"), "-ldl"], check=True)
    scraper = Scraper(free_port())
    mport = int(scraper.url.split(":")[2].split("/")[0])
    (disk / "env").write_text(f"RPORT={recv.port}\nSECRET={secret}\nCPORT={scraper.port}\n")
    timg = WORK / "t.img"
    timg.unlink(missing_ok=True)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-d", str(disk), str(timg), "64M"], check=True)

    kvm = kvm_usable()
    results, console = WORK / "results.log", WORK / "console.log"
    for f in (results, console):
        f.unlink(missing_ok=True)
    cmd = ["qemu-system-x86_64", "-accel", "kvm" if kvm else "tcg", "-m", "1024",
           "-smp", "2", "-display", "none", "-no-reboot",
           "-kernel", str(CACHE / "vmlinuz"), "-initrd", str(CACHE / "initrd.img"),
           "-append", "console=ttyS0 root=/dev/vda rw panic=-1 systemd.show_status=0",
           "-drive", f"file={CACHE / 'root.img'},if=virtio,format=raw,snapshot=on",
           "-drive", f"file={timg},if=virtio,format=raw,readonly=on",
           "-netdev", f"user,id=n0,hostfwd=tcp:127.0.0.1:{mport}-:9464",
           "-device", "virtio-net-pci,netdev=n0",
           "-serial", f"file:{console}", "-serial", f"file:{results}"]
    print(f"# qemu ({'KVM' if kvm else 'software emulation'}): {' '.join(cmd)}", flush=True)
    t0 = time.monotonic()
    try:
        q = subprocess.run(cmd, timeout=900, capture_output=True, text=True)
        rc = q.returncode
    except subprocess.TimeoutExpired:
        rc = None
    took = time.monotonic() - t0
    out = results.read_text(errors="replace") if results.exists() else ""
    print(f"# VM run: {took:.0f} s, qemu exit {rc}", flush=True)
    for line in out.splitlines():
        line = line.rstrip("\r")
        if line.startswith("ok - "):
            check(True, "vm: " + line[5:])
        elif line.startswith("FAIL - "):
            check(False, "vm: " + line[7:])
        elif line.startswith("#"):
            print(line, flush=True)
    check("END" in out, "the guest ran every check and powered off",
          (console.read_text(errors="replace")[-3000:] if console.exists() else "no console"))

    # The refused reload's self-alert, on the host, signed with the credential's secret.
    alerts = [a for a in recv.attempts if a.sig_ok and a.ts_ok]
    bodies = [json.loads(a.body) for a in alerts]
    rf = [b for b in bodies if b.get("rule") == "driftd.reload_failed"]
    check(rf and rf[0].get("status") == "firing" and "self" in rf[0].get("tags", []),
          "the host receiver (127.0.0.1 only) got driftd.reload_failed from the VM, signed",
          f"{len(recv.attempts)} attempts: {[a.body[:200] for a in recv.attempts]}")
    check(all(a.sig_ok for a in recv.attempts), "every delivery carried a valid signature")
    scraper.stop()
    text = scraper.text or ""
    try:
        from prometheus_client.parser import text_string_to_metric_families
        fams = {f.name for f in text_string_to_metric_families(text)}
    except ImportError:  # system python: the exposition is checked line by line instead
        fams = {ln.split()[2] for ln in text.splitlines() if ln.startswith("# TYPE ")}
    check("driftd_build_info" in fams and "driftd_reloads" in fams | {n[:-6] for n in fams},
          "the host scraped the service in the VM through hostfwd on 127.0.0.1",
          text[:300])
    recv.stop()
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
