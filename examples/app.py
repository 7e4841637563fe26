#!/usr/bin/env python3
"""An example web app for `dynobench run --procfile examples/Procfile` (Python stdlib only).

Routes:
  GET  /           200 "ok" (the health check)
  GET  /work       transforms a generated JSON document of orders (?n=ORDERS, default 400)
  POST /transform  transforms the JSON orders in the request body ({"orders": [...]})

It listens on 0.0.0.0:$PORT. With --fork it runs $WEB_CONCURRENCY worker processes (forked
from a master that shares the listening socket with them, as Gunicorn and Puma's cluster
mode do); SIGTERM stops the master and its workers.
"""

import hashlib
import json
import os
import random
import signal
import socket
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def orders(n, seed=7):
    """A deterministic document of n orders."""
    rng = random.Random(seed)
    skus = [f"SKU-{i:04d}" for i in range(200)]
    return [
        {
            "id": i,
            "customer": f"c{rng.randrange(n // 4 + 1)}",
            "lines": [
                {"sku": rng.choice(skus), "qty": rng.randrange(1, 5), "price": round(rng.uniform(1, 99), 2)}
                for _ in range(rng.randrange(1, 6))
            ],
        }
        for i in range(n)
    ]


def transform(doc):
    """Totals per customer and per SKU, the top customers, and a digest of the result."""
    per_customer, per_sku = {}, {}
    for o in doc:
        total = 0.0
        for line in o["lines"]:
            amount = line["qty"] * line["price"]
            total += amount
            per_sku[line["sku"]] = per_sku.get(line["sku"], 0) + line["qty"]
        per_customer[o["customer"]] = per_customer.get(o["customer"], 0.0) + total
    top = sorted(per_customer.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    out = {
        "orders": len(doc),
        "customers": len(per_customer),
        "skus": len(per_sku),
        "top": [{"customer": c, "total": round(t, 2)} for c, t in top],
    }
    text = json.dumps(out, sort_keys=True)
    out["digest"] = hashlib.sha256(text.encode()).hexdigest()[:16]
    return out


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        # Headers and body go out in two writes: without this, Nagle holds the body until the
        # client's delayed ACK (40 ms) on a kept-alive connection.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *args):
        pass

    def send_json(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        path, _, query = self.path.partition("?")
        if path == "/":
            self.send_json(200, {"ok": True, "pid": os.getpid()})
        elif path == "/work":
            params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
            try:
                n = int(params.get("n", "400"))
                assert 0 < n <= 100_000
            except (ValueError, AssertionError):
                return self.send_json(400, {"error": "n must be an integer in 1..100000"})
            # Build and serialize the document as a client would send it, then parse it back.
            doc = json.loads(json.dumps(orders(n)))
            self.send_json(200, transform(doc))
        else:
            self.send_json(404, {"error": f"no route {path}"})

    def do_POST(self):
        if self.path.partition("?")[0] != "/transform":
            return self.send_json(404, {"error": "POST /transform only"})
        length = int(self.headers.get("Content-Length") or 0)
        try:
            doc = json.loads(self.rfile.read(length) or b"{}")
            self.send_json(200, transform(doc["orders"]))
        except (ValueError, KeyError, TypeError) as e:
            self.send_json(400, {"error": f"expected {{\"orders\": [...]}}: {e}"})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def serve(sock):
    server = Server(sock.getsockname(), Handler, bind_and_activate=False)
    server.socket.close()
    server.socket = sock
    server.serve_forever()


def main():
    port = int(os.environ.get("PORT", "5000"))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("0.0.0.0", port))
    sock.listen(128)
    if "--fork" not in sys.argv[1:]:
        print(f"listening on port {port} (1 process)", flush=True)
        return serve(sock)
    workers = max(1, int(os.environ.get("WEB_CONCURRENCY", "2")))
    children = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
            serve(sock)
            os._exit(0)
        children.append(pid)
    print(f"listening on port {port} ({workers} forked workers: {children})", flush=True)

    def stop(*_):
        for c in children:
            try:
                os.kill(c, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.time() + 5
        while children and time.time() < deadline:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid in children:
                children.remove(pid)
            elif pid == 0:
                time.sleep(0.01)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # A worker that dies is replaced, as a master process does.
    while True:
        pid, status = os.wait()
        if pid in children:
            children.remove(pid)
            print(f"worker {pid} ended ({status}); starting another", file=sys.stderr, flush=True)
            new = os.fork()
            if new == 0:
                signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
                serve(sock)
                os._exit(0)
            children.append(new)


if __name__ == "__main__":
    main()
