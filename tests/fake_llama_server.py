"""A stand-in for the xllamacpp child of gkextract.localserver, for tests.

Speaks the same protocol: prints the ready line with its address once it listens on
127.0.0.1 (a free port), answers /health and /props (``total_slots`` = argv[1]), and
exits when its stdin closes.

    python tests/fake_llama_server.py SLOTS
"""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from gkextract.localserver import READY_MARK


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = {"/health": {"status": "ok"}, "/props": {"total_slots": int(sys.argv[1])}}.get(self.path)
        self.send_response(200 if body else 404)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps(body or {}).encode())

    def log_message(self, *args: object) -> None:
        pass


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(READY_MARK + f"http://127.0.0.1:{server.server_address[1]}", flush=True)
    sys.stdin.read()
    server.shutdown()
