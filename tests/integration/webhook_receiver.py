"""A real webhook receiver on 127.0.0.1 for driftd's tests and benchmarks (stdlib only).

It verifies the Standard Webhooks signature of every attempt (constant-time compare against
each `v1,` signature in the header, timestamp within 5 minutes), answers as told (down, any
status, Retry-After, slow), and records every attempt:

    r = Receiver(secret="whsec_...")          # or secret=None: no signature expected
    r.start()                                 # r.port; r.url("/hook")
    r.plan.append(Reply(429, {"Retry-After": "2"}))   # answers for the next requests, in order
    r.rule = lambda att: Reply(400) if ... else None  # then this (None: 200)
    r.stop()                                  # down: connections refused; start() again: up
    r.attempts                                # [Attempt], in arrival order
    r.delivered()                             # {webhook-id: times answered 2xx}

HTTP/1.1 with keep-alive, as real receivers; stop() also closes kept-alive connections so
"down" means down. TLS when given a certificate and key.
"""

import base64
import hashlib
import hmac
import http.server
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field


@dataclass
class Reply:
    status: int = 200
    headers: dict = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (a slow receiver)


@dataclass
class Attempt:
    id: str
    timestamp: str
    signature: str
    sig_ok: bool
    ts_ok: bool
    body: bytes
    headers: dict
    t_arrived: float  # time.monotonic()
    t_answered: float = 0.0
    status: int = 0
    answered: bool = False  # the response went out without an error


def sign(key: bytes, msg_id: str, ts: str, body: bytes) -> str:
    mac = hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


class Receiver:
    def __init__(self, secret=None, port=0, certfile=None, keyfile=None):
        self.key = base64.b64decode(secret[len("whsec_"):]) if secret else None
        self.port = port
        self.certfile, self.keyfile = certfile, keyfile
        self.attempts = []
        self.plan = []
        self.rule = None
        self.lock = threading.Lock()
        self.server = None
        self.conns = set()

    def url(self, path="/hook"):
        scheme = "https" if self.certfile else "http"
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def start(self):
        rcv = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                # Headers and body go out in two writes: without this, Nagle holds the
                # second until the client's delayed ACK (40 ms per request).
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                with rcv.lock:
                    rcv.conns.add(self.connection)

            def finish(self):
                with rcv.lock:
                    rcv.conns.discard(self.connection)
                try:
                    super().finish()
                except OSError:
                    pass

            def log_message(self, *args):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                msg_id = self.headers.get("webhook-id", "")
                ts = self.headers.get("webhook-timestamp", "")
                sig = self.headers.get("webhook-signature", "")
                if rcv.key is None:
                    sig_ok = sig == ""
                else:
                    want = sign(rcv.key, msg_id, ts, body)
                    sig_ok = any(hmac.compare_digest(want, s) for s in sig.split(" "))
                try:
                    ts_ok = abs(int(ts) - time.time()) <= 300
                except ValueError:
                    ts_ok = False
                att = Attempt(msg_id, ts, sig, sig_ok, ts_ok, body,
                              {k.lower(): v for k, v in self.headers.items()}, time.monotonic())
                with rcv.lock:
                    rcv.attempts.append(att)
                    reply = rcv.plan.pop(0) if rcv.plan else None
                    rule = rcv.rule
                if reply is None and rule is not None:
                    reply = rule(att)
                if reply is None:
                    reply = Reply()
                if reply.delay:
                    time.sleep(reply.delay)
                att.status = reply.status
                out = b"{}"
                try:
                    self.send_response(reply.status)
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(out)))
                    self.end_headers()
                    self.wfile.write(out)
                    self.wfile.flush()
                    att.answered = True
                except OSError:
                    pass
                att.t_answered = time.monotonic()

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", self.port), Handler)
        if self.certfile:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(self.certfile, self.keyfile)
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.server is None:
            return
        self.server.shutdown()
        self.server.server_close()
        with self.lock:
            for c in list(self.conns):
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self.server = None

    def delivered(self):
        """webhook-id -> how many attempts were answered 2xx."""
        out = {}
        with self.lock:
            for a in self.attempts:
                if a.answered and 200 <= a.status < 300:
                    out[a.id] = out.get(a.id, 0) + 1
        return out


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p
