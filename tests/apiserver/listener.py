"""The HTTP/1.1 listener on 127.0.0.1: turns each request into a ``Request``, hands it to
the server's ``handle`` and writes the ``Response`` (JSON bodies, or a dropped connection
for injected faults)."""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.apiserver.messages import Request, Response

Handle = Callable[[Request], Response]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class _Handler(BaseHTTPRequestHandler):
    handle_request: Handle
    protocol_version = "HTTP/1.1"
    # Headers and body are written separately; with Nagle's algorithm on, the body waits
    # for the client's delayed ACK (~40 ms per response on Linux). Real servers set it too.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        req = Request(
            self.command, split.path, parse_qs(split.query, keep_blank_values=True), headers, body
        )
        resp = type(self).handle_request(req)
        if resp.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if resp.encoded is not None:
            payload = resp.encoded
        elif isinstance(resp.body, (dict, list)):
            payload = json.dumps(resp.body, separators=(",", ":")).encode()
        else:
            payload = str(resp.body).encode()
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-cache, private")
        for key, value in resp.headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve


def listen(handle: Handle, port: int = 0) -> ThreadingHTTPServer:
    """A listener on 127.0.0.1:``port`` (0: a free port) that answers with ``handle``;
    the caller runs ``serve_forever`` and ``shutdown``."""
    handler = type("Handler", (_Handler,), {"handle_request": staticmethod(handle)})
    return _Server(("127.0.0.1", port), handler)
