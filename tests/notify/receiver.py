"""A local HTTP receiver for notification tests: records every POST body; answers ``status`` (200 by default)."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    """Bodies received (parsed JSON when it is JSON), the status to answer, an optional delay per request."""

    def __init__(self) -> None:
        self.bodies: list[Any] = []
        self.status = 200
        self.delay_s = 0.0
        self.port = 0
        self.got = threading.Event()


@contextlib.contextmanager
def receiver() -> Iterator[Receiver]:
    """Serve on 127.0.0.1 (ephemeral port) in a thread for the duration."""
    rec = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if rec.delay_s:
                threading.Event().wait(rec.delay_s)
            try:
                rec.bodies.append(json.loads(body))
            except ValueError:
                rec.bodies.append(body.decode("utf-8", "replace"))
            rec.got.set()
            self.send_response(rec.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    rec.port = srv.server_address[1]
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield rec
    finally:
        srv.shutdown()
        srv.server_close()
