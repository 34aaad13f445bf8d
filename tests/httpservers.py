"""Real HTTP servers on 127.0.0.1 for the plain-HTTP client tests (hxpm.http).

- :class:`AssetServer`: serves files from memory with ETag/Last-Modified, ``Range`` +
  ``If-Range`` (206), ``If-None-Match`` (304), and faults switched on by the test: answer
  the next requests with given statuses (and ``Retry-After``), cut the connection once a
  given byte offset is reached, redirect one path to another URL. It logs every request's
  path and the headers hxpm's policy is about, and the most requests it had in flight.
- :class:`ForwardProxy`: a small HTTP proxy: absolute-URI GETs are forwarded, CONNECT is
  tunnelled; it logs each request line and its ``Proxy-Authorization``.

Both run in daemon threads, listen on 127.0.0.1 only, and stop when their ``with`` ends.
"""

from __future__ import annotations

import hashlib
import http.client
import select
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import urlsplit

from tests.netservers import PrivateCA

HOST = "127.0.0.1"
LOGGED = ("Range", "If-Range", "If-None-Match", "Authorization", "User-Agent")


@dataclass
class Asset:
    data: bytes
    etag: str | None = '"v1"'
    last_modified: str | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass
class Logged:
    path: str
    headers: dict[str, str]
    status: int = 0


@dataclass
class _State:
    assets: dict[str, Asset] = field(default_factory=dict)
    redirects: dict[str, tuple[int, str]] = field(default_factory=dict)
    fail_next: list[tuple[int, str | None]] = field(default_factory=list)
    drop_at: dict[str, int] = field(default_factory=dict)  # path -> cut at this file offset
    delay_s: float = 0.0  # before each body: lets parallel requests overlap visibly
    log: list[Logged] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Threaded:
    _server: ThreadingHTTPServer
    scheme = "http"

    def _start(self, handler: Any, ca: PrivateCA | None = None) -> None:
        self._server = ThreadingHTTPServer((HOST, 0), handler)
        self._server.daemon_threads = True
        if ca is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(ca.cert_pem, ca.key_pem)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            self.scheme = "https"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, path: str = "") -> str:
        return f"{self.scheme}://{HOST}:{self.port}/{path.lstrip('/')}"

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class AssetServer(_Threaded):
    """Files from memory with validators, ranges and switchable faults (module docstring)."""

    def __init__(self, ca: PrivateCA | None = None) -> None:
        self.state = _State()
        self._ca = ca

    def __enter__(self) -> Self:
        state = self.state

        class Handler(_AssetHandler):
            pass

        Handler.state = state
        self._start(Handler, self._ca)
        return self

    def add(self, path: str, data: bytes, **kw: Any) -> Asset:
        asset = Asset(data, **kw)
        self.state.assets[path.lstrip("/")] = asset
        return asset

    @property
    def log(self) -> list[Logged]:
        return self.state.log

    def requests_for(self, path: str) -> list[Logged]:
        return [entry for entry in self.state.log if entry.path == path.lstrip("/")]


class _AssetHandler(BaseHTTPRequestHandler):
    state: _State
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        s = self.state
        path = self.path.lstrip("/")
        entry = Logged(path, {k: v for k in LOGGED if (v := self.headers.get(k)) is not None})
        with s.lock:
            s.log.append(entry)
            s.in_flight += 1
            s.max_in_flight = max(s.max_in_flight, s.in_flight)
        try:
            self._answer(path, entry)
        finally:
            with s.lock:
                s.in_flight -= 1

    def _answer(self, path: str, entry: Logged) -> None:
        s = self.state
        with s.lock:
            fault = s.fail_next.pop(0) if s.fail_next else None
        if fault is not None:
            status, retry_after = fault
            extra = {"Retry-After": retry_after} if retry_after is not None else {}
            return self._empty(entry, status, extra)
        if path in s.redirects:
            status, location = s.redirects[path]
            return self._empty(entry, status, {"Location": location})
        asset = s.assets.get(path)
        if asset is None:
            return self._empty(entry, 404, {})
        if asset.etag is not None and self.headers.get("If-None-Match") == asset.etag:
            return self._empty(entry, 304, {"ETag": asset.etag})
        start = self._range_start(asset)
        entry.status = 206 if start else 200
        self.send_response(entry.status)
        for name, value in (("ETag", asset.etag), ("Last-Modified", asset.last_modified)):
            if value is not None:
                self.send_header(name, value)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(len(asset.data) - start))
        if start:
            self.send_header(
                "Content-Range", f"bytes {start}-{len(asset.data) - 1}/{len(asset.data)}"
            )
        self.end_headers()
        if s.delay_s:
            time.sleep(s.delay_s)
        cut = s.drop_at.get(path)
        end = len(asset.data) if cut is None else max(start, min(cut, len(asset.data)))
        self.wfile.write(asset.data[start:end])
        self.wfile.flush()
        if end < len(asset.data):
            self.close_connection = True  # fewer bytes than declared: the client sees a cut
            self.connection.shutdown(socket.SHUT_RDWR)

    def _range_start(self, asset: Asset) -> int:
        """Where to start: the Range's first byte if If-Range still names this version."""
        wanted = self.headers.get("Range", "")
        if not wanted.startswith("bytes=") or not wanted.endswith("-"):
            return 0
        if_range = self.headers.get("If-Range")
        if if_range is not None and if_range not in (asset.etag, asset.last_modified):
            return 0  # the file changed since the client's part: send all of it
        first = wanted[len("bytes=") : -1]
        return int(first) if first.isdigit() and int(first) < len(asset.data) else 0

    def _empty(self, entry: Logged, status: int, headers: dict[str, str]) -> None:
        entry.status = status
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()


class ForwardProxy(_Threaded):
    """An HTTP proxy that forwards GETs and tunnels CONNECT, logging each request."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str | None]] = []  # (request line, Proxy-Authorization)

    def __enter__(self) -> Self:
        seen = self.seen

        class Handler(_ProxyHandler):
            pass

        Handler.seen = seen
        self._start(Handler)
        return self


class _ProxyHandler(BaseHTTPRequestHandler):
    seen: list[tuple[str, str | None]]

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.seen.append((self.requestline, self.headers.get("Proxy-Authorization")))
        target = urlsplit(self.path)
        upstream = http.client.HTTPConnection(target.hostname or "", target.port or 80, timeout=10)
        headers = {
            k: v
            for k, v in self.headers.items()
            if k.lower() not in ("proxy-authorization", "proxy-connection", "connection")
        }
        upstream.request("GET", target.path or "/", headers=headers)
        resp = upstream.getresponse()
        body = resp.read()
        self.send_response(resp.status)
        for name, value in resp.getheaders():
            if name.lower() not in ("connection", "transfer-encoding", "content-length"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        upstream.close()

    def do_CONNECT(self) -> None:
        self.seen.append((self.requestline, self.headers.get("Proxy-Authorization")))
        host, _, port = self.path.rpartition(":")
        upstream = socket.create_connection((host, int(port)), timeout=10)
        self.send_response(200, "Connection established")
        self.end_headers()
        self.wfile.flush()
        _pipe(self.connection, upstream)
        self.close_connection = True


def _pipe(a: socket.socket, b: socket.socket) -> None:
    """Copy bytes both ways until either side closes (at most 30 s)."""
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([a, b], [], [], 0.5)
            for sock in ready:
                data = sock.recv(65536)
                if not data:
                    return
                (b if sock is a else a).sendall(data)
    except OSError:
        return
    finally:
        b.close()
