"""A healthy, fast logging-callback collector for bench.py's `sy-cb-ok` target.

It answers every POST at once, as the real collectors do when they take a batch:
Langfuse's batch ingestion (a body `{"batch": [...]}`) with 207
`{"successes":[],"errors":[]}`, OTLP/HTTP JSON (a body `{"resourceSpans": [...]}`)
with 200 `{}`, and counts what arrived: Langfuse `generation-create` events (one per
request) and OTLP spans (one per request), with the distinct call ids of each, so
bench.py can check that every request's report arrived. `GET /count` answers the
counts as JSON. The port it listens on is printed first (`listening on PORT`).

Usage: python3 bench/collector.py   (listens on 127.0.0.1, a free port)
"""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
COUNTS = {"callouts": 0, "langfuse_generations": 0, "otlp_spans": 0, "unreadable": 0}
IDS: dict[str, set[str]] = {"langfuse": set(), "otlp": set()}


def count(body: dict) -> None:
    """Adds one batch's events to the counts."""
    if "batch" in body:
        gens = [e.get("body", {}) for e in body["batch"] if e.get("type") == "generation-create"]
        with LOCK:
            COUNTS["langfuse_generations"] += len(gens)
            IDS["langfuse"].update(str(g.get("id")) for g in gens)
        return
    spans = [s for rs in body.get("resourceSpans", []) for ss in rs.get("scopeSpans", [])
             for s in ss.get("spans", [])]
    with LOCK:
        COUNTS["otlp_spans"] += len(spans)
        IDS["otlp"].update(str(s.get("spanId")) for s in spans)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # no access log
        pass

    def answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        with LOCK:
            COUNTS["callouts"] += 1
        try:
            body = json.loads(raw)
        except ValueError:
            with LOCK:
                COUNTS["unreadable"] += 1
            self.answer(400, b'{"error":"unreadable"}')
            return
        count(body)
        if "batch" in body:
            self.answer(207, b'{"successes":[],"errors":[]}')
        else:
            self.answer(200, b"{}")

    def do_GET(self) -> None:
        with LOCK:
            out = {**COUNTS, "langfuse_ids": len(IDS["langfuse"]), "otlp_ids": len(IDS["otlp"])}
        self.answer(200, json.dumps(out).encode())


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(f"listening on {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
