"""More real servers on 127.0.0.1 for the network tests (docs/network.md).

- :class:`AuthGitHTTPServer`: the project's smart-HTTP server (:class:`GitHTTPServer`)
  behind HTTP Basic auth; it records the Authorization header of every request.
- :class:`HttpBackendServer`: git's own ``git http-backend`` (smart HTTP, protocol v2) run
  as a CGI per request by a small Python front end, optionally behind Basic auth.
- :class:`StaticHTTPServer`: a plain file server: a "dumb" HTTP Git server once
  :func:`update_server_info` has written ``info/refs`` and ``objects/info/packs``.
- :class:`TLSGitHTTPServer` and :func:`make_private_ca`: the smart server over HTTPS with a
  certificate from a CA made for the test by the ``openssl`` command.

Every server runs in a daemon thread and stops when its ``with`` block ends.
"""

from __future__ import annotations

import base64
import functools
import os
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from wsgiref.simple_server import make_server

import pytest
from dulwich.web import WSGIRequestHandlerLogger

from tests.gitserver import HOST, GitHTTPServer, _ThreadingServer

REALM = (("WWW-Authenticate", 'Basic realm="hxpm-test"'), ("Content-Type", "text/plain"))


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class AuthGitHTTPServer(GitHTTPServer):
    """:class:`GitHTTPServer` that answers 401 unless the request carries ``user:password``."""

    def __init__(self, root: Path, *, user: str, password: str) -> None:
        super().__init__(root)
        self.expected = basic(user, password)
        self.auth_seen: list[str | None] = []

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        got = environ.get("HTTP_AUTHORIZATION")
        self.auth_seen.append(got)
        if got != self.expected:
            start_response("401 Unauthorized", list(REALM))  # wsgiref appends to the list
            return [b"authentication required\n"]
        return super()._wsgi(environ, start_response)


class _Threaded:
    """Start/stop a ``ThreadingHTTPServer`` in a thread, over HTTPS when ``ca`` is set."""

    _server: ThreadingHTTPServer
    ca: PrivateCA | None = None

    def _start(self, handler: Any) -> None:
        self._server = ThreadingHTTPServer((HOST, 0), handler)
        self._server.daemon_threads = True
        if self.ca is not None:
            self._server.socket = _tls_context(self.ca).wrap_socket(
                self._server.socket, server_side=True
            )
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url_for(self, name: str) -> str:
        scheme = "https" if self.ca is not None else "http"
        return f"{scheme}://{HOST}:{self.port}/{name}"

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class StaticHTTPServer(_Threaded):
    """Serves the files under ``root`` as they are: a dumb HTTP Git server (or HTTPS)."""

    def __init__(self, root: Path, ca: PrivateCA | None = None) -> None:
        self.root = Path(root)
        self.ca = ca

    def __enter__(self) -> Self:
        self._start(functools.partial(_QuietFiles, directory=str(self.root)))
        return self


def update_server_info(bare: Path) -> None:
    """Write what dumb clients read (``info/refs``, ``objects/info/packs``), with git."""
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed (needed for update-server-info)")
    subprocess.run(
        [git, "--git-dir", str(bare), "update-server-info"],
        check=True,
        capture_output=True,
        timeout=30,
    )


class HttpBackendServer(_Threaded):
    """``git http-backend`` over every repository under ``root`` (skips without git)."""

    def __init__(self, root: Path, *, user: str | None = None, password: str = "") -> None:
        self.root = Path(root)
        self.expected = basic(user, password) if user is not None else None
        self.auth_seen: list[str | None] = []

    def __enter__(self) -> Self:
        git = shutil.which("git")
        if git is None:
            pytest.skip("git is not installed (needed for git http-backend)")
        self._start(functools.partial(_CGIHandler, self, git))
        return self


class _CGIHandler(BaseHTTPRequestHandler):
    """Runs one ``git http-backend`` per request, as a web server's CGI gateway would."""

    def __init__(self, owner: HttpBackendServer, git: str, *args: Any) -> None:
        self.owner, self.git = owner, git
        super().__init__(*args)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._backend()

    def do_POST(self) -> None:
        self._backend()

    def _backend(self) -> None:
        got = self.headers.get("Authorization")
        self.owner.auth_seen.append(got)
        if self.owner.expected is not None and got != self.owner.expected:
            self.send_response(401)
            for name, value in REALM:
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path, _, query = self.path.partition("?")
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        env = {
            "PATH": os.environ.get("PATH", ""),
            "GIT_PROJECT_ROOT": str(self.owner.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": HOST,
            "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
        }
        done = subprocess.run(
            [self.git, "http-backend"],
            check=False,
            input=body,
            env=env,
            capture_output=True,
            timeout=30,
        )
        head, _, payload = done.stdout.partition(b"\r\n\r\n")
        status, headers = 200, []
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


# --- TLS ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PrivateCA:
    ca_pem: Path  # the CA certificate clients must trust
    cert_pem: Path  # the server certificate (SAN IP:127.0.0.1), signed by the CA
    key_pem: Path


def make_private_ca(folder: Path) -> PrivateCA:
    """A CA and a server certificate for 127.0.0.1, made with the openssl command."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is not installed: cannot make a private CA")
    folder.mkdir(parents=True, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], cwd=folder, check=True, capture_output=True, timeout=60)

    run(
        "req",
        "-x509",
        *ec,
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=hxpm test CA",
    )
    run("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    (folder / "ext.cnf").write_text(
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
        "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n"
    )
    run(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    )
    return PrivateCA(folder / "ca.pem", folder / "server.pem", folder / "server.key")


class TLSGitHTTPServer(GitHTTPServer):
    """:class:`GitHTTPServer` over HTTPS with ``ca``'s server certificate."""

    def __init__(self, root: Path, ca: PrivateCA) -> None:
        super().__init__(root)
        self.ca = ca

    def url_for(self, repo_name: str) -> str:
        return f"https://{HOST}:{self.port}/{repo_name}"

    def __enter__(self) -> Self:
        context = _tls_context(self.ca)
        self._server = make_server(
            HOST,
            0,
            self._wsgi,
            server_class=_ThreadingServer,
            handler_class=WSGIRequestHandlerLogger,
        )
        # A failed handshake raises in accept(); socketserver drops that connection.
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self


def _tls_context(ca: PrivateCA) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(ca.cert_pem, ca.key_pem)
    return context
