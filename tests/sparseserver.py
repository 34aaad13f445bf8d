"""A static file server on 127.0.0.1 that speaks ETag / If-None-Match, counts requests and
can be told to lie (for the sparse index tests).

Python's SimpleHTTPRequestHandler sends no ETag, so this handler does: a strong ETag from
the file's SHA-256, and 304 when ``If-None-Match`` matches. ``requests`` records
``(path, status)`` for every request, so tests assert "only the files needed" and "304".
Lies, per path: ``override`` serves other bytes, ``huge`` declares and streams 10 GiB,
``endless`` streams without a Content-Length, ``stall`` never answers.
"""

from __future__ import annotations

import hashlib
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Self

from tests.netservers import _Threaded

TEN_GIB = 10 * 1024**3


class SparseHTTPServer(_Threaded):
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.requests: list[tuple[str, int]] = []
        self.override: dict[str, bytes] = {}
        self.huge: set[str] = set()
        self.endless: set[str] = set()
        self.stall: set[str] = set()
        self.stopping = threading.Event()
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"sparse+{self.url_for('')}"

    def __enter__(self) -> Self:
        server = self

        class Handler(_Handler):
            owner = server

        self._start(Handler)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        super().__exit__(*exc)

    def record(self, path: str, status: int) -> None:
        with self._lock:
            self.requests.append((path, status))

    def take(self) -> list[tuple[str, int]]:
        """The requests so far (and forget them)."""
        with self._lock:
            out, self.requests = self.requests, []
        return out


class _Handler(BaseHTTPRequestHandler):
    owner: SparseHTTPServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        srv = self.owner
        path = self.path.lstrip("/")
        if path in srv.stall:
            srv.record(path, 0)
            srv.stopping.wait(60)  # never answer (until the test ends)
            return
        if path in srv.huge or path in srv.endless:
            return self._stream_forever(path, declared=path in srv.huge)
        data = srv.override.get(path)
        target = srv.root / path
        if data is None and ".." not in path.split("/") and target.is_file():
            data = target.read_bytes()
        if data is None:
            srv.record(path, 404)
            return self._send(404, b"not found\n", {})
        etag = '"' + hashlib.sha256(data).hexdigest()[:20] + '"'
        if self.headers.get("If-None-Match") == etag:
            srv.record(path, 304)
            return self._send(304, b"", {"ETag": etag})
        srv.record(path, 200)
        self._send(200, data, {"ETag": etag})

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if status != 304:
            self.wfile.write(body)

    def _stream_forever(self, path: str, *, declared: bool) -> None:
        self.owner.record(path, 200)
        self.send_response(200)
        if declared:
            self.send_header("Content-Length", str(TEN_GIB))
        self.send_header("Connection", "close")
        self.end_headers()
        chunk = b"{" * 65536
        try:
            while not self.owner.stopping.is_set():
                self.wfile.write(chunk)
        except OSError:
            pass  # the client hung up: what the test expects
